/*
 * vmctl: the one command Hull's users touch (docs/vmctl.md).  `run` keeps a
 * VM in the foreground with its console on this terminal; the other verbs
 * manage VMs recorded under a root directory (store.h) and running in the
 * background.  `run` exits with an enum vmm_status, the others with
 * VMCTL_* (docs/statuses.md).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spec.h"
#include "trace.h"
#include "vmctl.h"
#include "vmm.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: vmctl [--root DIR] VERB ...\n"
	    "  run [--no-reboot] SPEC.json   run a VM in the foreground\n"
	    "  validate SPEC.json            check a spec, run nothing\n"
	    "  create SPEC.json              record a VM (prints its name)\n"
	    "  start NAME                    start it in the background\n"
	    "  stop [-t SECONDS] [-F] NAME   ACPI shutdown, forced after -t "
	    "(60)\n"
	    "  reboot NAME                   reset the VM\n"
	    "  delete [-F] NAME              remove a stopped VM (-F: stop "
	    "it first)\n"
	    "  list [-j] [-o FIELD,...]      the VMs, as a table or JSON\n"
	    "  get NAME                      spec and state as JSON\n"
	    "  info NAME                     pid, threads, devices, log "
	    "tail\n"
	    "  stats NAME                    counters of a running VM\n"
	    "  console NAME                  attach to the serial console\n"
	    "  autoboot                      start every VM with autoboot\n"
	    "  volume COMMAND ...            pools and volumes (vmctl volume "
	    "help)\n"
	    "The root is --root, else $HULL_ROOT, else /var/lib/hull.\n"
	    "\n"
	    "On the console, Ctrl-] stops the VM.  Exit status: 0 the guest "
	    "powered off,\n1 VMM or host error, 2 bad spec or usage, 3 guest "
	    "crashed, 4 guest reset\nwith --no-reboot, 5 stopped by a signal or "
	    "Ctrl-].\n");
}

static int
cmd_run(int argc, char **argv)
{
	struct vmm_opts o = {
		.vo_console_in = STDIN_FILENO,
		.vo_console_out = STDOUT_FILENO,
		.vo_raw_tty = true,
		.vo_ready_fd = -1,
	};
	struct vm_spec *spec;
	char err[600];
	int i, st;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--no-reboot") == 0)
			o.vo_no_reboot = true;
		else {
			fprintf(stderr, "vmctl run: unknown option %s\n", argv[i]);
			usage(stderr);
			return VMM_ST_BADSPEC;
		}
	}
	if (i != argc - 1) {
		usage(stderr);
		return VMM_ST_BADSPEC;
	}
	/* struct vm_spec is large (paths); keep it off the stack. */
	spec = calloc(1, sizeof(*spec));
	if (spec == NULL) {
		fprintf(stderr, "vmctl: out of memory\n");
		return VMM_ST_ERROR;
	}
	trace_point("main");
	if (load_spec_verbose(argv[i], spec) < 0) {
		free(spec);
		return VMM_ST_BADSPEC;
	}
	trace_point("spec");
	st = vmm_run(spec, &o, err, sizeof(err));
	/* The guest's last line may lack a newline: start our own. */
	if (st != VMM_ST_POWEROFF)
		fprintf(stderr, "%svmctl: %s: %s\n", isatty(STDOUT_FILENO) ?
		    "\r\n" : "", spec->vs_name, err[0] ? err : "stopped");
	free(spec);
	return st;
}

static int
cmd_validate(int argc, char **argv)
{
	struct vm_spec *spec;
	int rc;

	if (argc != 2) {
		usage(stderr);
		return VMM_ST_BADSPEC;
	}
	spec = calloc(1, sizeof(*spec));
	if (spec == NULL)
		return VMM_ST_ERROR;
	rc = load_spec_verbose(argv[1], spec) < 0 ? VMM_ST_BADSPEC : 0;
	if (rc == 0)
		printf("%s: valid\n", argv[1]);
	free(spec);
	return rc;
}

static const struct {
	const char	*name;
	int		(*fn)(struct store *, int, char **);
} verbs[] = {
	{ "create", cmd_create }, { "start", cmd_start }, { "stop", cmd_stop },
	{ "reboot", cmd_reboot }, { "delete", cmd_delete },
	{ "list", cmd_list }, { "get", cmd_get }, { "info", cmd_info },
	{ "stats", cmd_stats }, { "console", cmd_console },
	{ "autoboot", cmd_autoboot }, { "volume", cmd_volume },
};

int
main(int argc, char **argv)
{
	const char *root = NULL;
	struct store st;
	char err[PATH_MAX + 64];
	size_t i;

	if (argc >= 3 && strcmp(argv[1], "--root") == 0) {
		root = argv[2];
		argc -= 2;
		argv += 2;
		/* The VMM finds volume pools under the same root (vol.h). */
		setenv("HULL_ROOT", root, 1);
	}
	if (argc < 2) {
		usage(stderr);
		return VMM_ST_BADSPEC;
	}
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(argv[1], "validate") == 0)
		return cmd_validate(argc - 1, argv + 1);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(argv[1], verbs[i].name) != 0)
			continue;
		if (store_open(&st, root, err, sizeof(err)) < 0) {
			fprintf(stderr, "vmctl: %s\n", err);
			return VMCTL_FAIL;
		}
		return verbs[i].fn(&st, argc - 1, argv + 1);
	}
	fprintf(stderr, "vmctl: %s: unknown verb\n", argv[1]);
	usage(stderr);
	return VMM_ST_BADSPEC;
}
