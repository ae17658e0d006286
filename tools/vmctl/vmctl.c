/*
 * vmctl: the one command Hull's users touch.  For now: `run` (a VM in the
 * foreground, its serial console on this terminal) and `validate`.
 * Exit statuses are enum vmm_status (docs/statuses.md).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spec.h"
#include "trace.h"
#include "vmm.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: vmctl run [--no-reboot] SPEC.json   run a VM in the foreground\n"
	    "       vmctl validate SPEC.json            check a spec, run nothing\n"
	    "\n"
	    "On the console, Ctrl-] stops the VM.  Exit status: 0 the guest "
	    "powered off,\n1 VMM or host error, 2 bad spec or usage, 3 guest "
	    "crashed, 4 guest reset\nwith --no-reboot, 5 stopped by a signal or "
	    "Ctrl-].\n");
}

static int
load_spec(const char *path, struct vm_spec *spec)
{
	struct spec_errs errs;
	unsigned int i;

	if (spec_load(path, spec, &errs) == 0)
		return 0;
	/* File-level errors already start with the file's name. */
	for (i = 0; i < errs.se_n; i++)
		if (strncmp(errs.se_msg[i], path, strlen(path)) == 0)
			fprintf(stderr, "vmctl: %s\n", errs.se_msg[i]);
		else
			fprintf(stderr, "vmctl: %s: %s\n", path, errs.se_msg[i]);
	return -1;
}

static int
cmd_run(int argc, char **argv)
{
	struct vmm_opts o = {
		.vo_console_in = STDIN_FILENO,
		.vo_console_out = STDOUT_FILENO,
		.vo_raw_tty = true,
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
	if (load_spec(argv[i], spec) < 0) {
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
	rc = load_spec(argv[1], spec) < 0 ? VMM_ST_BADSPEC : 0;
	if (rc == 0)
		printf("%s: valid\n", argv[1]);
	free(spec);
	return rc;
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return VMM_ST_BADSPEC;
	}
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(argv[1], "validate") == 0)
		return cmd_validate(argc - 1, argv + 1);
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "vmctl: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return VMM_ST_BADSPEC;
}
