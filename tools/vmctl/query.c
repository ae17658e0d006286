/*
 * list, get, info, stats: reading a VM's files and asking its VMM.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "vmctl.h"

#define LOG_TAIL_LINES	10

/* The fields `list -o` knows, in the default order. */
static const char *const list_fields[] = { "name", "state", "pid", "vcpus",
    "ram", "uptime", "autoboot", NULL };

static json_t *
spec_record(const struct store *st, const char *name)
{
	char p[PATH_MAX];

	if (store_path(st, name, "spec.json", p, sizeof(p)) < 0)
		return NULL;
	return json_load_file(p, 0, NULL);
}

/* The state of one VM as a JSON object: what list and get show. */
static json_t *
vm_row(const struct store *st, const char *name)
{
	struct vm_status vs;
	json_t *spec, *row;

	if (store_status(st, name, &vs) < 0)
		return NULL;
	spec = spec_record(st, name);
	row = json_pack("{s:s, s:s}", "name", name, "state",
	    store_state_name(vs.vs_state));
	if (vs.vs_state != VMS_STOPPED)
		json_object_set_new(row, "pid", json_integer(vs.vs_pid));
	if (vs.vs_state == VMS_RUNNING)
		json_object_set_new(row, "uptime_s",
		    json_integer((json_int_t)(time(NULL) - vs.vs_since)));
	if (json_is_object(spec)) {
		json_object_set(row, "vcpus", json_object_get(spec, "vcpus"));
		json_object_set(row, "ram_mib", json_object_get(spec, "ram"));
		json_object_set(row, "autoboot",
		    json_object_get(spec, "autoboot"));
	}
	if (vs.vs_has_exit)
		json_object_set_new(row, "last_exit", json_pack("{s:i, s:s, "
		    "s:I}", "status", vs.vs_exit_status, "reason",
		    vs.vs_exit_reason, "time", (json_int_t)vs.vs_exit_time));
	json_decref(spec);
	return row;
}

static void
print_uptime(json_t *v, int width)
{
	long long s = json_integer_value(v);
	char buf[32];

	if (!json_is_integer(v))
		snprintf(buf, sizeof(buf), "-");
	else if (s >= 86400)
		snprintf(buf, sizeof(buf), "%lldd%lldh", s / 86400,
		    s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, sizeof(buf), "%lldh%lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, sizeof(buf), "%lldm%llds", s / 60, s % 60);
	printf("%-*s", width, buf);
}

/* A column's width in the table; the last column is not padded. */
static int
field_width(const char *f, bool last)
{
	if (last)
		return 0;
	return strcmp(f, "name") == 0 ? 20 : strcmp(f, "state") == 0 ? 9 : 8;
}

static void
print_field(json_t *row, const char *f, bool last)
{
	int w = field_width(f, last);
	json_t *v;

	if (strcmp(f, "uptime") == 0) {
		print_uptime(json_object_get(row, "uptime_s"), w);
		if (!last)
			printf(" ");
		return;
	}
	v = json_object_get(row, strcmp(f, "ram") == 0 ? "ram_mib" : f);
	if (json_is_string(v))
		printf("%-*s", w, json_string_value(v));
	else if (json_is_integer(v))
		printf("%-*lld", w, (long long)json_integer_value(v));
	else if (json_is_boolean(v))
		printf("%-*s", w, json_is_true(v) ? "yes" : "no");
	else
		printf("%-*s", w, "-");
	if (!last)
		printf(" ");
}

int
cmd_list(struct store *st, int argc, char **argv)
{
	char (*names)[STORE_NAME_MAX + 1] = NULL;
	const char *fields[16];
	bool json = false;
	char *ofields = NULL, *tok, *save = NULL;
	int i, n, nf = 0;
	json_t *all;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-j") == 0) {
			json = true;
		} else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
			ofields = argv[++i];
		} else {
			fprintf(stderr, "usage: vmctl list [-j] [-o FIELD,...] "
			    "(fields: name state pid vcpus ram uptime "
			    "autoboot)\n");
			return VMCTL_USAGE;
		}
	}
	if (ofields != NULL) {
		for (tok = strtok_r(ofields, ",", &save); tok != NULL;
		    tok = strtok_r(NULL, ",", &save)) {
			size_t k;

			for (k = 0; list_fields[k] != NULL; k++)
				if (strcmp(tok, list_fields[k]) == 0)
					break;
			if (list_fields[k] == NULL || nf == 16) {
				fprintf(stderr, "vmctl list: -o %s: not a field "
				    "(name state pid vcpus ram uptime "
				    "autoboot)\n", tok);
				return VMCTL_USAGE;
			}
			fields[nf++] = list_fields[k];
		}
		if (nf == 0) {
			fprintf(stderr, "vmctl list: -o: no fields given\n");
			return VMCTL_USAGE;
		}
	} else {
		for (nf = 0; list_fields[nf] != NULL; nf++)
			fields[nf] = list_fields[nf];
	}
	n = store_list(st, &names);
	if (n < 0) {
		fprintf(stderr, "vmctl: %s: %s\n", st->st_root, strerror(-n));
		return VMCTL_FAIL;
	}
	all = json_array();
	for (i = 0; i < n; i++) {
		json_t *row = vm_row(st, names[i]);

		if (row != NULL)
			json_array_append_new(all, row);
	}
	free(names);
	if (json) {
		char *s = json_dumps(all, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		printf("%s\n", s != NULL ? s : "[]");
		free(s);
	} else {
		size_t k;

		for (i = 0; i < nf; i++) {
			char up[16];

			for (k = 0; fields[i][k] != '\0' && k < sizeof(up) - 1;
			    k++)
				up[k] = (char)(fields[i][k] - 'a' + 'A');
			up[k] = '\0';
			printf("%-*s%s", field_width(fields[i], i == nf - 1), up,
			    i == nf - 1 ? "" : " ");
		}
		printf("\n");
		for (k = 0; k < json_array_size(all); k++) {
			for (i = 0; i < nf; i++)
				print_field(json_array_get(all, k), fields[i],
				    i == nf - 1);
			printf("\n");
		}
	}
	json_decref(all);
	return VMCTL_OK;
}

static int
one_name(int argc, char **argv, const char *usage, const struct store *st)
{
	char err[128];

	if (argc != 2) {
		fprintf(stderr, "usage: %s\n", usage);
		return VMCTL_USAGE;
	}
	if (vm_name_check(argv[1], err, sizeof(err)) < 0) {
		fprintf(stderr, "vmctl: %s\n", err);
		return VMCTL_USAGE;
	}
	if (!store_exists(st, argv[1])) {
		fprintf(stderr, "vmctl: %s: no such VM\n", argv[1]);
		return VMCTL_FAIL;
	}
	return VMCTL_OK;
}

static void
print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	printf("%s\n", s != NULL ? s : "null");
	free(s);
}

int
cmd_get(struct store *st, int argc, char **argv)
{
	json_t *row;
	int rc = one_name(argc, argv, "vmctl get NAME", st);

	if (rc != VMCTL_OK)
		return rc;
	row = vm_row(st, argv[1]);
	if (row == NULL)
		return VMCTL_FAIL;
	json_object_set_new(row, "spec", spec_record(st, argv[1]));
	print_json(row);
	json_decref(row);
	return VMCTL_OK;
}

/* The last lines of the VMM's log, for a VM that failed. */
static json_t *
log_tail(const struct store *st, const char *name)
{
	char p[PATH_MAX], *buf, *s, *line, *save = NULL;
	json_t *lines = json_array(), *out = json_array();
	size_t i, n;
	FILE *f;
	long sz;

	if (store_path(st, name, "vmm.log", p, sizeof(p)) < 0 ||
	    (f = fopen(p, "re")) == NULL)
		return lines;
	/* The tail of a log that may be long: the last 16 KiB do. */
	fseek(f, 0, SEEK_END);
	sz = ftell(f);
	fseek(f, sz > 16384 ? sz - 16384 : 0, SEEK_SET);
	buf = calloc(1, 16385);
	if (buf != NULL && fread(buf, 1, 16384, f) > 0)
		for (s = buf; (line = strtok_r(s, "\n", &save)) != NULL;
		    s = NULL)
			json_array_append_new(lines, json_string(line));
	fclose(f);
	free(buf);
	n = json_array_size(lines);
	for (i = n > LOG_TAIL_LINES ? n - LOG_TAIL_LINES : 0; i < n; i++)
		json_array_append(out, json_array_get(lines, i));
	json_decref(lines);
	return out;
}

/* The running VM's jail, as its keeper recorded it (vmm/sbx.c). */
static json_t *
jail_info(const struct store *st, const char *name)
{
	char p[PATH_MAX], line[PATH_MAX + 16], key[16], val[PATH_MAX];
	json_t *j, *veths;
	FILE *f;

	if (store_path(st, name, "jail.rec", p, sizeof(p)) < 0 ||
	    (f = fopen(p, "re")) == NULL)
		return NULL;
	j = json_object();
	veths = json_array();
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%15s %4095s", key, val) != 2)
			continue;
		if (strcmp(key, "veth") == 0)
			json_array_append_new(veths, json_string(val));
		else if (strcmp(key, "pid") == 0)
			json_object_set_new(j, "keeper", json_integer(atoll(val)));
		else if (strcmp(key, "vmm") == 0 || strcmp(key, "uid") == 0)
			json_object_set_new(j, key, json_integer(atoll(val)));
		else if (strcmp(key, "root") == 0 || strcmp(key, "cgroup") == 0)
			json_object_set_new(j, key, json_string(val));
	}
	fclose(f);
	json_object_set_new(j, "veths", veths);
	return j;
}

/*
 * The jailed VMM reports thread ids of its own pid namespace; its NSpid
 * lines (proc(5)) give each one's id on the host, which is what ps, top and
 * /proc here know.  ns_tid keeps the VMM's own number.
 */
static void
host_tids(json_t *threads, long long vmm)
{
	char p[64], line[128];
	long long host, ns;
	struct dirent *de;
	size_t i;
	json_t *t;
	FILE *f;
	DIR *d;

	snprintf(p, sizeof(p), "/proc/%lld/task", vmm);
	if ((d = opendir(p)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		snprintf(p, sizeof(p), "/proc/%lld/task/%.20s/status", vmm,
		    de->d_name);
		if (de->d_name[0] == '.' || (f = fopen(p, "re")) == NULL)
			continue;
		host = ns = -1;
		while (fgets(line, sizeof(line), f) != NULL)
			if (sscanf(line, "NSpid: %lld %lld", &host, &ns) == 2)
				break;
		fclose(f);
		json_array_foreach(threads, i, t)
			if (ns > 0 && json_integer_value(json_object_get(t,
			    "tid")) == ns && json_object_get(t, "ns_tid") == NULL) {
				json_object_set_new(t, "ns_tid", json_integer(ns));
				json_object_set_new(t, "tid", json_integer(host));
			}
	}
	closedir(d);
}

int
cmd_info(struct store *st, int argc, char **argv)
{
	char err[300];
	json_t *row, *ans;
	void *a;
	int rc = one_name(argc, argv, "vmctl info NAME", st);

	if (rc != VMCTL_OK)
		return rc;
	row = vm_row(st, argv[1]);
	if (row == NULL)
		return VMCTL_FAIL;
	if (strcmp(json_string_value(json_object_get(row, "state")),
	    "running") == 0) {
		if (vm_call(st, argv[1], "{\"op\":\"info\"}", &a, err,
		    sizeof(err)) == 0) {
			const char *k;
			json_t *v;

			ans = a;
			json_object_del(ans, "ok");
			json_object_foreach(ans, k, v)
				if (json_object_get(row, k) == NULL)
					json_object_set(row, k, v);
			json_decref(ans);
		} else {
			json_object_set_new(row, "control_error",
			    json_string(err));
		}
		if ((ans = jail_info(st, argv[1])) != NULL) {
			host_tids(json_object_get(row, "vcpu_threads"),
			    json_integer_value(json_object_get(ans, "vmm")));
			json_object_set_new(row, "jail", ans);
		}
	}
	/* A dead VMM says nothing: its log is what is left. */
	json_object_set_new(row, "log_tail", log_tail(st, argv[1]));
	print_json(row);
	json_decref(row);
	return VMCTL_OK;
}

int
cmd_stats(struct store *st, int argc, char **argv)
{
	char err[300];
	void *a;
	int rc = one_name(argc, argv, "vmctl stats NAME", st);

	if (rc != VMCTL_OK)
		return rc;
	if (vm_call(st, argv[1], "{\"op\":\"stats\"}", &a, err,
	    sizeof(err)) < 0) {
		fprintf(stderr, "vmctl: %s\n", err);
		return VMCTL_FAIL;
	}
	json_object_del(a, "ok");
	print_json(a);
	json_decref(a);
	return VMCTL_OK;
}
