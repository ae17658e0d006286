/*
 * vmctl's verbs (docs/vmctl.md).  Each cmd_* takes its argv (argv[0] is the
 * verb), prints its own messages, and returns the exit status:
 * 0 done, 1 failed, 2 bad usage or a bad spec (docs/statuses.md).
 */
#ifndef VMCTL_H
#define VMCTL_H

#include <stddef.h>

#include "store.h"

#define VMCTL_OK	0
#define VMCTL_FAIL	1
#define VMCTL_USAGE	2

struct vm_spec;

/* lifecycle.c */
/* spec_load, printing every error as "vmctl: FILE: path: message"; 0 or -1. */
int	load_spec_verbose(const char *path, struct vm_spec *spec);
int	cmd_create(struct store *, int argc, char **argv);
int	cmd_start(struct store *, int argc, char **argv);
int	cmd_stop(struct store *, int argc, char **argv);
int	cmd_reboot(struct store *, int argc, char **argv);
int	cmd_delete(struct store *, int argc, char **argv);
int	cmd_autoboot(struct store *, int argc, char **argv);

/* query.c */
int	cmd_list(struct store *, int argc, char **argv);
int	cmd_get(struct store *, int argc, char **argv);
int	cmd_info(struct store *, int argc, char **argv);
int	cmd_stats(struct store *, int argc, char **argv);

/* volume.c: pools and volumes (docs/volumes.md) */
int	cmd_volume(struct store *, int argc, char **argv);

/* attach.c */
int	cmd_console(struct store *, int argc, char **argv);

/*
 * client.c: connect to the VM's socket (e.g. "control.sock") through its
 * directory, so a long root does not hit the 108-byte socket path limit.
 * The fd, or -errno with err filled.
 */
int	vm_connect(const struct store *, const char *name, const char *sock,
	    char *err, size_t errlen);

/*
 * One control request (a JSON line, without the newline) and its answer
 * (a json_t *, returned as void * to keep jansson out of this header).
 * 0, or -errno with err ("vm1: not running", or the VMM's error).
 */
int	vm_call(const struct store *, const char *name, const char *req,
	    void **ans, char *err, size_t errlen);

/* A VM name as `create` accepts (the spec's name rules). */
int	vm_name_check(const char *name, char *err, size_t errlen);

#endif /* VMCTL_H */
