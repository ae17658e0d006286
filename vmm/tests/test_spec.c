/*
 * Tests for the VM spec reader (vmm/spec.c, docs/spec.md).
 *
 * The golden corpus in vmm/tests/specs/ holds pass-*.json files that must
 * load and fail-*.json files that must not, each with a fail-*.err sibling
 * holding the exact messages expected, one a line, in order.  The corpus is
 * found from the repository root, or from $HULL_SRCDIR if set.  The corpus
 * is loaded from inside its directory, so messages that carry the file name
 * carry just "fail-x.json".
 */

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "spec.h"

#define TSPEC_CORPUS	"vmm/tests/specs"
#define TSPEC_EXAMPLES	"docs/examples"
#define TSPEC_FAIL_MIN	30	/* the corpus must keep at least this many */

static struct vm_spec	tspec_vs;
static struct spec_errs	tspec_errs;
static int		tspec_home = -1;	/* the directory tests start in */

/* $HULL_SRCDIR/sub, or sub relative to the current directory. */
static void
tspec_srcpath(char *buf, size_t size, const char *sub)
{
	const char *src = getenv("HULL_SRCDIR");

	if (src == NULL || src[0] == '\0')
		src = ".";
	assert_true((size_t)snprintf(buf, size, "%s/%s", src, sub) < size);
}

/* Read a whole small text file into a malloc'd, NUL-terminated buffer. */
static char *
tspec_slurp(const char *path)
{
	FILE *f;
	char *buf;
	long n;

	f = fopen(path, "r");
	if (f == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void
tspec_dump(const char *what, const struct spec_errs *errs)
{
	unsigned int i;

	fprintf(stderr, "%s: %u error(s)\n", what, errs->se_n);
	for (i = 0; i < errs->se_n; i++)
		fprintf(stderr, "  [%u] %s\n", i, errs->se_msg[i]);
}

static int
tspec_is_zero(const void *p, size_t len)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (c[i] != 0)
			return 0;
	return 1;
}

static int
tspec_group_setup(void **state)
{
	(void)state;
	tspec_home = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return tspec_home >= 0 ? 0 : -1;
}

static int
tspec_group_teardown(void **state)
{
	(void)state;
	close(tspec_home);
	return 0;
}

/* Tests may chdir; a failing one must not move the next one. */
static int
tspec_teardown(void **state)
{
	(void)state;
	return fchdir(tspec_home);
}

/* Enter the corpus directory (tspec_teardown comes back). */
static void
tspec_enter_corpus(void)
{
	char dir[PATH_MAX];

	tspec_srcpath(dir, sizeof(dir), TSPEC_CORPUS);
	if (chdir(dir) == -1)
		fail_msg("%s: %s (run from the repository root or set "
		    "HULL_SRCDIR)", dir, strerror(errno));
}

/* Every pass-*.json loads without a message. */
static void
test_corpus_pass(void **state)
{
	glob_t g;
	size_t i;
	int rc;

	(void)state;
	tspec_enter_corpus();
	assert_int_equal(glob("pass-*.json", 0, NULL, &g), 0);
	assert_true(g.gl_pathc >= 5);
	for (i = 0; i < g.gl_pathc; i++) {
		rc = spec_load(g.gl_pathv[i], &tspec_vs, &tspec_errs);
		if (rc != 0 || tspec_errs.se_n != 0) {
			tspec_dump(g.gl_pathv[i], &tspec_errs);
			fail_msg("%s: rc %d", g.gl_pathv[i], rc);
		}
		assert_true(tspec_vs.vs_name[0] != '\0');
		assert_true(tspec_vs.vs_kernel[0] == '/');
	}
	globfree(&g);
}

/*
 * Every fail-*.json fails with exactly the messages of its .err, and
 * leaves the spec zeroed.
 */
static void
test_corpus_fail(void **state)
{
	char errpath[PATH_MAX], *want, *line, *save;
	unsigned int n;
	glob_t g;
	size_t i, len;
	int bad = 0, rc;

	(void)state;
	tspec_enter_corpus();
	assert_int_equal(glob("fail-*.json", 0, NULL, &g), 0);
	if (g.gl_pathc < TSPEC_FAIL_MIN)
		fail_msg("only %zu fail cases", g.gl_pathc);
	for (i = 0; i < g.gl_pathc; i++) {
		len = strlen(g.gl_pathv[i]) - strlen(".json");
		snprintf(errpath, sizeof(errpath), "%.*s.err", (int)len,
		    g.gl_pathv[i]);
		want = tspec_slurp(errpath);

		memset(&tspec_vs, 0xa5, sizeof(tspec_vs));
		rc = spec_load(g.gl_pathv[i], &tspec_vs, &tspec_errs);
		if (rc != -EINVAL) {
			print_error("%s: rc %d, want -EINVAL\n", g.gl_pathv[i],
			    rc);
			bad++;
		}
		if (!tspec_is_zero(&tspec_vs, sizeof(tspec_vs))) {
			print_error("%s: spec not zeroed\n", g.gl_pathv[i]);
			bad++;
		}

		n = 0;
		for (line = strtok_r(want, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save), n++) {
			if (n >= tspec_errs.se_n ||
			    strcmp(line, tspec_errs.se_msg[n]) != 0) {
				print_error("%s: message %u: want \"%s\"\n",
				    g.gl_pathv[i], n, line);
				tspec_dump(g.gl_pathv[i], &tspec_errs);
				bad++;
				break;
			}
		}
		if (line == NULL && n != tspec_errs.se_n) {
			print_error("%s: %u messages, want %u\n",
			    g.gl_pathv[i], tspec_errs.se_n, n);
			tspec_dump(g.gl_pathv[i], &tspec_errs);
			bad++;
		}
		free(want);
	}
	globfree(&g);
	assert_int_equal(bad, 0);
}

/* Every .err has its .json (a renamed case must not go silently unrun). */
static void
test_corpus_orphans(void **state)
{
	char json[PATH_MAX];
	glob_t g;
	size_t i, len;

	(void)state;
	tspec_enter_corpus();
	assert_int_equal(glob("*.err", 0, NULL, &g), 0);
	for (i = 0; i < g.gl_pathc; i++) {
		len = strlen(g.gl_pathv[i]) - strlen(".err");
		snprintf(json, sizeof(json), "%.*s.json", (int)len,
		    g.gl_pathv[i]);
		if (access(json, F_OK) != 0)
			fail_msg("%s has no %s", g.gl_pathv[i], json);
		if (strncmp(g.gl_pathv[i], "fail-", 5) != 0)
			fail_msg("%s: only fail cases have .err", g.gl_pathv[i]);
	}
	globfree(&g);
}

/* The parsed fields of some pass cases, defaults included. */
static void
test_corpus_fields(void **state)
{
	static const struct {
		const char	*file;
		uint64_t	 mib;
	} ram[] = {
		{ "pass-ram-512M.json", 512 },
		{ "pass-ram-1024MiB.json", 1024 },
		{ "pass-ram-2G.json", 2048 },
		{ "pass-ram-2GiB.json", 2048 },
		{ "pass-ram-1T.json", 1024 * 1024 },
		{ "pass-ram-1TiB.json", 1024 * 1024 },
		{ "pass-ram-16M.json", 16 },
		{ "pass-ram-0016M.json", 16 },
		{ "pass-limits-high.json", SPEC_RAM_MAX_MIB },
		{ "pass-limits-low.json", SPEC_RAM_MIN_MIB },
	};
	char cwd[PATH_MAX], want[PATH_MAX + 64];
	size_t i;

	(void)state;
	tspec_enter_corpus();
	assert_non_null(getcwd(cwd, sizeof(cwd)));

	assert_int_equal(spec_load("pass-minimal.json", &tspec_vs,
	    &tspec_errs), 0);
	assert_string_equal(tspec_vs.vs_name, "vm1");
	assert_int_equal(tspec_vs.vs_vcpus, 1);
	assert_int_equal(tspec_vs.vs_ram_mib, 256);
	snprintf(want, sizeof(want), "%s/vmlinuz", cwd);
	assert_string_equal(tspec_vs.vs_kernel, want);
	assert_string_equal(tspec_vs.vs_initrd, "");
	assert_string_equal(tspec_vs.vs_cmdline, "");

	assert_int_equal(spec_load("pass-full.json", &tspec_vs,
	    &tspec_errs), 0);
	assert_string_equal(tspec_vs.vs_name, "web-01.example_vm");
	assert_int_equal(tspec_vs.vs_vcpus, 4);
	assert_int_equal(tspec_vs.vs_ram_mib, 2048);
	snprintf(want, sizeof(want), "%s/vmlinuz", cwd);
	assert_string_equal(tspec_vs.vs_kernel, want);
	snprintf(want, sizeof(want), "%s/initrd.img", cwd);
	assert_string_equal(tspec_vs.vs_initrd, want);
	assert_string_equal(tspec_vs.vs_cmdline,
	    "console=ttyS0 root=/dev/vda rw quiet");

	assert_int_equal(spec_load("pass-absolute-paths.json", &tspec_vs,
	    &tspec_errs), 0);
	assert_string_equal(tspec_vs.vs_kernel, "/boot/vmlinuz-6.1.0-18-amd64");
	assert_string_equal(tspec_vs.vs_initrd,
	    "/boot/initrd.img-6.1.0-18-amd64");

	assert_int_equal(spec_load("pass-limits-high.json", &tspec_vs,
	    &tspec_errs), 0);
	assert_int_equal(strlen(tspec_vs.vs_name), SPEC_NAME_MAX);
	assert_int_equal(tspec_vs.vs_vcpus, SPEC_VCPUS_MAX);
	assert_int_equal(strlen(tspec_vs.vs_cmdline), SPEC_CMDLINE_MAX);

	assert_int_equal(spec_load("pass-utf8-cmdline.json", &tspec_vs,
	    &tspec_errs), 0);
	assert_string_equal(tspec_vs.vs_cmdline,
	    "console=ttyS0 hostname=caf\xc3\xa9");

	assert_int_equal(spec_load("pass-nics.json", &tspec_vs,
	    &tspec_errs), 0);
	assert_int_equal(tspec_vs.vs_nnics, 3);
	assert_string_equal(tspec_vs.vs_nics[0].ns_bridge, "br0");
	assert_false(tspec_vs.vs_nics[0].ns_has_mac);
	assert_int_equal(tspec_vs.vs_nics[0].ns_mtu, 0);
	assert_int_equal(tspec_vs.vs_nics[0].ns_queues, 0);
	assert_false(tspec_vs.vs_nics[0].ns_vhost);
	assert_false(tspec_vs.vs_nics[0].ns_no_offloads);
	assert_string_equal(tspec_vs.vs_nics[1].ns_tap, "web1-1");
	assert_true(tspec_vs.vs_nics[1].ns_has_mac);
	assert_memory_equal(tspec_vs.vs_nics[1].ns_mac,
	    "\x02\x00\x5e\x10\x00\x01", 6);
	assert_int_equal(tspec_vs.vs_nics[1].ns_mtu, 9000);
	assert_int_equal(tspec_vs.vs_nics[1].ns_queues, 2);
	assert_true(tspec_vs.vs_nics[1].ns_vhost);
	assert_false(tspec_vs.vs_nics[1].ns_no_offloads);
	assert_string_equal(tspec_vs.vs_nics[2].ns_tap, "web1-2");
	assert_string_equal(tspec_vs.vs_nics[2].ns_bridge, "br1");
	assert_true(tspec_vs.vs_nics[2].ns_no_offloads);

	for (i = 0; i < sizeof(ram) / sizeof(ram[0]); i++) {
		if (spec_load(ram[i].file, &tspec_vs, &tspec_errs) != 0) {
			tspec_dump(ram[i].file, &tspec_errs);
			fail();
		}
		if (tspec_vs.vs_ram_mib != ram[i].mib)
			fail_msg("%s: ram %ju, want %ju", ram[i].file,
			    (uintmax_t)tspec_vs.vs_ram_mib,
			    (uintmax_t)ram[i].mib);
	}
}

/* Every passing spec survives spec_to_json and back unchanged. */
static void
test_json_round_trip(void **state)
{
	static struct vm_spec again;
	struct dirent *de;
	char *text;
	DIR *d;
	int n = 0;

	(void)state;
	tspec_enter_corpus();
	d = opendir(".");
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		json_t *j;

		if (strncmp(de->d_name, "pass-", 5) != 0)
			continue;
		assert_int_equal(spec_load(de->d_name, &tspec_vs, &tspec_errs),
		    0);
		j = spec_to_json(&tspec_vs);
		assert_non_null(j);
		text = json_dumps(j, JSON_COMPACT);
		json_decref(j);
		assert_non_null(text);
		if (spec_parse(text, strlen(text), &again, &tspec_errs) != 0) {
			tspec_dump(de->d_name, &tspec_errs);
			fail_msg("%s: %s", de->d_name, text);
		}
		if (memcmp(&again, &tspec_vs, sizeof(again)) != 0)
			fail_msg("%s: differs after a round trip: %s",
			    de->d_name, text);
		free(text);
		n++;
	}
	closedir(d);
	assert_true(n >= 10);
}

/* spec_parse from memory: no path resolution, "<spec>" as the name. */
static void
test_parse_memory(void **state)
{
	static const char ok[] = "{\"name\":\"a\",\"kernel\":\"k/vmlinuz\","
	    "\"initrd\":\"i.img\"}";
	static const char bad[] = "{\"name\":\"a\",\n\"kernel\":}";
	/* Not NUL-terminated: the closing brace is past len. */
	static const char cut[] = "{\"name\":\"a\",\"kernel\":\"k\"}";

	(void)state;
	assert_int_equal(spec_parse(ok, strlen(ok), &tspec_vs, &tspec_errs), 0);
	assert_int_equal(tspec_errs.se_n, 0);
	assert_string_equal(tspec_vs.vs_kernel, "k/vmlinuz");
	assert_string_equal(tspec_vs.vs_initrd, "i.img");

	assert_int_equal(spec_parse(bad, strlen(bad), &tspec_vs, &tspec_errs),
	    -EINVAL);
	assert_int_equal(tspec_errs.se_n, 1);
	assert_string_equal(tspec_errs.se_msg[0],
	    "<spec>:2:10: JSON syntax error: unexpected token near '}'");
	assert_true(tspec_is_zero(&tspec_vs, sizeof(tspec_vs)));

	assert_int_equal(spec_parse(cut, strlen(cut) - 1, &tspec_vs,
	    &tspec_errs), -EINVAL);
	assert_int_equal(tspec_errs.se_n, 1);
	assert_string_equal(tspec_errs.se_msg[0],
	    "<spec>:1:24: JSON syntax error: '}' expected near end of file");

	assert_int_equal(spec_parse("", 0, &tspec_vs, &tspec_errs), -EINVAL);
	assert_int_equal(tspec_errs.se_n, 1);
	assert_string_equal(tspec_errs.se_msg[0],
	    "<spec>: empty spec (expected a JSON object)");

	/* A failed parse after a good one leaves nothing of the good one. */
	assert_int_equal(spec_parse(ok, strlen(ok), &tspec_vs, &tspec_errs), 0);
	assert_int_equal(spec_parse("{\"name\":\"a\"}", 12, &tspec_vs,
	    &tspec_errs), -EINVAL);
	assert_true(tspec_is_zero(&tspec_vs, sizeof(tspec_vs)));
	assert_int_equal(tspec_errs.se_n, 1);
}

/* A raw NUL byte in the input is a syntax error, not a cut string. */
static void
test_parse_raw_nul(void **state)
{
	static const char in[] = "{\"name\":\"a\0b\",\"kernel\":\"k\"}";

	(void)state;
	assert_int_equal(spec_parse(in, sizeof(in) - 1, &tspec_vs,
	    &tspec_errs), -EINVAL);
	assert_int_equal(tspec_errs.se_n, 1);
	assert_non_null(strstr(tspec_errs.se_msg[0], "JSON syntax error"));
}

static void
test_load_missing(void **state)
{
	char path[PATH_MAX], want[PATH_MAX + 64];

	(void)state;
	tspec_srcpath(path, sizeof(path), TSPEC_CORPUS "/no-such-spec.json");
	memset(&tspec_vs, 0xa5, sizeof(tspec_vs));
	assert_int_equal(spec_load(path, &tspec_vs, &tspec_errs), -ENOENT);
	assert_int_equal(tspec_errs.se_n, 1);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	assert_string_equal(tspec_errs.se_msg[0], want);
	assert_true(tspec_is_zero(&tspec_vs, sizeof(tspec_vs)));
}

static void
test_load_directory(void **state)
{
	char path[PATH_MAX], want[PATH_MAX + 64];

	(void)state;
	tspec_srcpath(path, sizeof(path), TSPEC_CORPUS);
	memset(&tspec_vs, 0xa5, sizeof(tspec_vs));
	assert_int_equal(spec_load(path, &tspec_vs, &tspec_errs), -EISDIR);
	assert_int_equal(tspec_errs.se_n, 1);
	snprintf(want, sizeof(want), "%s: Is a directory", path);
	assert_string_equal(tspec_errs.se_msg[0], want);
	assert_true(tspec_is_zero(&tspec_vs, sizeof(tspec_vs)));
}

static void
test_load_not_regular(void **state)
{
	(void)state;
	assert_int_equal(spec_load("/dev/null", &tspec_vs, &tspec_errs),
	    -EINVAL);
	assert_int_equal(tspec_errs.se_n, 1);
	assert_string_equal(tspec_errs.se_msg[0],
	    "/dev/null: not a regular file");
}

/* A scratch directory under $TMPDIR, for tests that write specs. */
static void
tspec_mkdtemp(char *buf, size_t size)
{
	const char *tmp = getenv("TMPDIR");

	if (tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	snprintf(buf, size, "%s/test_spec.XXXXXX", tmp);
	assert_non_null(mkdtemp(buf));
}

static void
tspec_write(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void
test_load_too_big(void **state)
{
	char dir[PATH_MAX], path[PATH_MAX + 32], want[PATH_MAX + 64];
	char *big;
	size_t len = SPEC_MAX_BYTES + 1;

	(void)state;
	tspec_mkdtemp(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/big.json", dir);
	big = malloc(len);
	assert_non_null(big);
	memset(big, ' ', len);
	big[0] = '{';
	big[len - 1] = '}';
	tspec_write(path, big, len);
	free(big);

	assert_int_equal(spec_load(path, &tspec_vs, &tspec_errs), -EFBIG);
	assert_int_equal(tspec_errs.se_n, 1);
	snprintf(want, sizeof(want), "%s: larger than %d bytes", path,
	    SPEC_MAX_BYTES);
	assert_string_equal(tspec_errs.se_msg[0], want);

	/* Exactly SPEC_MAX_BYTES is read (and here fails on its content). */
	assert_int_equal(truncate(path, SPEC_MAX_BYTES), 0);
	assert_int_equal(spec_load(path, &tspec_vs, &tspec_errs), -EINVAL);
	assert_int_equal(tspec_errs.se_n, 1);
	assert_non_null(strstr(tspec_errs.se_msg[0], "JSON syntax error"));

	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

/*
 * Relative kernel/initrd paths are resolved against the spec's directory,
 * whether the spec path is absolute, relative with a directory, or bare.
 */
static void
test_load_relative_paths(void **state)
{
	static const char spec[] = "{\"name\":\"r\",\"kernel\":\"boot/vmlinuz\","
	    "\"initrd\":\"../initrd.img\"}";
	char dir[PATH_MAX], path[PATH_MAX + 32], want[PATH_MAX + 64];
	char *base;

	(void)state;
	tspec_mkdtemp(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/vm.json", dir);
	tspec_write(path, spec, sizeof(spec) - 1);

	/* Absolute spec path. */
	assert_int_equal(spec_load(path, &tspec_vs, &tspec_errs), 0);
	snprintf(want, sizeof(want), "%s/boot/vmlinuz", dir);
	assert_string_equal(tspec_vs.vs_kernel, want);
	snprintf(want, sizeof(want), "%s/../initrd.img", dir);
	assert_string_equal(tspec_vs.vs_initrd, want);

	/* Relative spec path with a directory part, from the parent. */
	base = strrchr(dir, '/');
	assert_non_null(base);
	*base = '\0';
	assert_int_equal(chdir(dir[0] != '\0' ? dir : "/"), 0);
	*base = '/';
	snprintf(path, sizeof(path), "%s/vm.json", base + 1);
	assert_int_equal(spec_load(path, &tspec_vs, &tspec_errs), 0);
	snprintf(want, sizeof(want), "%s/boot/vmlinuz", dir);
	assert_string_equal(tspec_vs.vs_kernel, want);

	/* Bare file name, from the spec's own directory. */
	assert_int_equal(chdir(dir), 0);
	assert_int_equal(spec_load("vm.json", &tspec_vs, &tspec_errs), 0);
	assert_string_equal(tspec_vs.vs_kernel, want);

	/* spec_parse takes paths as given. */
	assert_int_equal(spec_parse(spec, sizeof(spec) - 1, &tspec_vs,
	    &tspec_errs), 0);
	assert_string_equal(tspec_vs.vs_kernel, "boot/vmlinuz");

	snprintf(path, sizeof(path), "%s/vm.json", dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

/* A relative kernel path that fits alone but not once resolved. */
static void
test_load_resolved_too_long(void **state)
{
	char dir[PATH_MAX], path[PATH_MAX + 32], *spec, want[SPEC_ERR_LEN];
	size_t klen;
	int n;

	(void)state;
	tspec_mkdtemp(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/vm.json", dir);
	klen = SPEC_PATH_MAX - 1;
	spec = malloc(klen + 64);
	assert_non_null(spec);
	n = snprintf(spec, klen + 64, "{\"name\":\"r\",\"kernel\":\"%0*d\"}",
	    (int)klen, 0);
	tspec_write(path, spec, (size_t)n);
	free(spec);

	memset(&tspec_vs, 0xa5, sizeof(tspec_vs));
	assert_int_equal(spec_load(path, &tspec_vs, &tspec_errs), -EINVAL);
	assert_int_equal(tspec_errs.se_n, 1);
	/* Quoted user text is cut to 40 bytes and "...". */
	snprintf(want, sizeof(want), "kernel: \"%040d...\" resolved against "
	    "the spec's directory is longer than %d bytes", 0, SPEC_PATH_MAX);
	assert_string_equal(tspec_errs.se_msg[0], want);
	assert_true(tspec_is_zero(&tspec_vs, sizeof(tspec_vs)));

	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

/*
 * "jail", "limits" and nics[].rate_limit: defaults, values, the disk
 * limits copied to every disk, and the canonical JSON of them.
 */
static void
test_limits(void **state)
{
	static const char min[] = "{\"name\":\"a\",\"kernel\":\"k\","
	    "\"disks\":[{\"path\":\"d\"}],\"nics\":[{\"tap\":\"t\"}]}";
	const struct vm_spec *vs = &tspec_vs;
	json_t *j, *l, *r;

	(void)state;
	/* Absent: jailed, no limits. */
	assert_int_equal(spec_parse(min, strlen(min), &tspec_vs, &tspec_errs),
	    0);
	assert_true(vs->vs_jail);
	assert_int_equal(vs->vs_limits.ls_cpu_cap, 0);
	assert_int_equal(vs->vs_limits.ls_disk_iops, 0);
	assert_int_equal(vs->vs_limits.ls_disk_bps, 0);
	assert_int_equal(vs->vs_disks[0].ds_iops, 0);
	assert_int_equal(vs->vs_disks[0].ds_bps, 0);
	assert_int_equal(vs->vs_nics[0].ns_rate_bps, 0);
	assert_int_equal(vs->vs_nics[0].ns_rate_pps, 0);
	/* The record says so: a later default must not change the VM. */
	j = spec_to_json(vs);
	assert_non_null(j);
	assert_true(json_is_true(json_object_get(j, "jail")));
	l = json_object_get(j, "limits");
	assert_int_equal(json_object_size(l), 3);
	assert_int_equal(json_integer_value(json_object_get(l, "cpu_cap")), 0);
	r = json_object_get(json_array_get(json_object_get(j, "nics"), 0),
	    "rate_limit");
	assert_int_equal(json_object_size(r), 2);
	assert_int_equal(json_integer_value(json_object_get(r,
	    "bytes_per_sec")), 0);
	/* The disks' copies of the limits are not written per disk. */
	assert_int_equal(json_object_size(json_array_get(json_object_get(j,
	    "disks"), 0)), 3);
	json_decref(j);

	tspec_enter_corpus();
	assert_int_equal(spec_load("pass-rate-limits.json", &tspec_vs,
	    &tspec_errs), 0);
	assert_false(vs->vs_jail);
	assert_int_equal(vs->vs_limits.ls_cpu_cap, 150);
	assert_int_equal(vs->vs_limits.ls_disk_iops, 200);
	assert_int_equal(vs->vs_limits.ls_disk_bps, SPEC_RATE_BYTES_MAX);
	assert_int_equal(vs->vs_ndisks, 2);
	assert_int_equal(vs->vs_disks[0].ds_iops, 200);
	assert_int_equal(vs->vs_disks[1].ds_iops, 200);
	assert_int_equal(vs->vs_disks[1].ds_bps, SPEC_RATE_BYTES_MAX);
	assert_int_equal(vs->vs_nics[0].ns_rate_bps, 2000000);
	assert_int_equal(vs->vs_nics[0].ns_rate_pps, 10000);
	assert_int_equal(vs->vs_nics[1].ns_rate_bps, 0);
	assert_int_equal(vs->vs_nics[1].ns_rate_pps, 1);
	assert_int_equal(vs->vs_nics[2].ns_rate_bps, 0);
	assert_int_equal(vs->vs_nics[2].ns_rate_pps, 0);
	assert_true(vs->vs_nics[3].ns_vhost);	/* 0: no limit, so allowed */

	assert_int_equal(spec_load("pass-limits-edges.json", &tspec_vs,
	    &tspec_errs), 0);
	assert_true(vs->vs_jail);
	assert_int_equal(vs->vs_limits.ls_cpu_cap, SPEC_CPU_CAP_MAX);
	assert_int_equal(vs->vs_limits.ls_disk_iops, SPEC_RATE_OPS_MAX);
	assert_int_equal(vs->vs_disks[0].ds_bps, 1);
	assert_int_equal(vs->vs_nics[0].ns_rate_bps, SPEC_RATE_BYTES_MAX);
	assert_int_equal(vs->vs_nics[0].ns_rate_pps, SPEC_RATE_OPS_MAX);
}

/* The examples in docs/examples/ are valid specs. */
static void
test_doc_examples(void **state)
{
	char pat[PATH_MAX];
	glob_t g;
	size_t i;

	(void)state;
	tspec_srcpath(pat, sizeof(pat), TSPEC_EXAMPLES "/*.json");
	if (glob(pat, 0, NULL, &g) != 0)
		skip();
	for (i = 0; i < g.gl_pathc; i++) {
		if (spec_load(g.gl_pathv[i], &tspec_vs, &tspec_errs) != 0) {
			tspec_dump(g.gl_pathv[i], &tspec_errs);
			fail_msg("%s does not load", g.gl_pathv[i]);
		}
	}
	globfree(&g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_corpus_pass, tspec_teardown),
		cmocka_unit_test_teardown(test_corpus_fail, tspec_teardown),
		cmocka_unit_test_teardown(test_corpus_orphans, tspec_teardown),
		cmocka_unit_test_teardown(test_corpus_fields, tspec_teardown),
		cmocka_unit_test_teardown(test_json_round_trip, tspec_teardown),
		cmocka_unit_test_teardown(test_parse_memory, tspec_teardown),
		cmocka_unit_test_teardown(test_parse_raw_nul, tspec_teardown),
		cmocka_unit_test_teardown(test_load_missing, tspec_teardown),
		cmocka_unit_test_teardown(test_load_directory, tspec_teardown),
		cmocka_unit_test_teardown(test_load_not_regular, tspec_teardown),
		cmocka_unit_test_teardown(test_load_too_big, tspec_teardown),
		cmocka_unit_test_teardown(test_load_relative_paths, tspec_teardown),
		cmocka_unit_test_teardown(test_load_resolved_too_long, tspec_teardown),
		cmocka_unit_test_teardown(test_doc_examples, tspec_teardown),
		cmocka_unit_test_teardown(test_limits, tspec_teardown),
	};

	return cmocka_run_group_tests(tests, tspec_group_setup,
	    tspec_group_teardown);
}
