/*
 * libFuzzer target for the VM spec reader (vmm/spec.c, docs/spec.md).
 *
 * The input bytes go to spec_parse() as a spec file's contents.  Besides
 * what ASan and UBSan catch, every result must keep spec.h's promises:
 *   - success: no errors, a valid name (1 to SPEC_NAME_MAX bytes of
 *     [A-Za-z0-9._-], first a letter or digit), vcpus and ram in range, a
 *     kernel path, every string NUL-terminated inside its buffer and a
 *     command line without control characters;
 *   - failure: -EINVAL and 1 to SPEC_ERRS_MAX messages, each non-empty and
 *     NUL-terminated within SPEC_ERR_LEN;
 *   - the same input gives the same result twice.
 * A broken promise aborts with a message, which libFuzzer reports as a crash.
 *
 * Strings are copied with their NUL and nothing after it (spec_parse zeroes
 *   *out first), so every byte after each string's NUL is zero and two
 *   parses of one input are byte-identical: no stack contents leak into the
 *   struct (a bug this target found).
 *
 * Build and run: `make fuzz` (clang, -fsanitize=fuzzer,address,undefined);
 * the seed corpus is vmm/tests/corpus/spec/.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void	fz_fail(const char *fmt, ...)
		    __attribute__((__format__(__printf__, 1, 2), __noreturn__));

static void
fz_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz_spec: invariant broken: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* The string in buf (size bytes) is NUL-terminated; its length. */
static size_t
fz_strlen(const char *what, const char *buf, size_t size)
{
	const char *nul = memchr(buf, '\0', size);

	if (nul == NULL)
		fz_fail("%s is not NUL-terminated within %zu bytes", what, size);
	return (size_t)(nul - buf);
}

static bool
fz_alnum(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9');
}

static void
fz_check_spec(const struct vm_spec *vs)
{
	size_t len, i;

	len = fz_strlen("name", vs->vs_name, sizeof(vs->vs_name));
	if (len == 0 || len > SPEC_NAME_MAX)
		fz_fail("name is %zu bytes", len);
	if (!fz_alnum(vs->vs_name[0]))
		fz_fail("name starts with 0x%02x", (unsigned char)vs->vs_name[0]);
	for (i = 0; i < len; i++) {
		char c = vs->vs_name[i];

		if (!fz_alnum(c) && c != '.' && c != '_' && c != '-')
			fz_fail("name has 0x%02x at %zu", (unsigned char)c, i);
	}
	if (vs->vs_vcpus < 1 || vs->vs_vcpus > SPEC_VCPUS_MAX)
		fz_fail("vcpus %u", vs->vs_vcpus);
	if (vs->vs_ram_mib < SPEC_RAM_MIN_MIB ||
	    vs->vs_ram_mib > SPEC_RAM_MAX_MIB)
		fz_fail("ram %llu MiB", (unsigned long long)vs->vs_ram_mib);
	if (fz_strlen("kernel", vs->vs_kernel, sizeof(vs->vs_kernel)) == 0)
		fz_fail("kernel is empty");
	(void)fz_strlen("initrd", vs->vs_initrd, sizeof(vs->vs_initrd));
	len = fz_strlen("cmdline", vs->vs_cmdline, sizeof(vs->vs_cmdline));
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)vs->vs_cmdline[i];

		if (c < 0x20 || c == 0x7f)
			fz_fail("cmdline has control character 0x%02x at %zu",
			    c, i);
	}
}

/* Strict mode: the bytes after the string in buf are all zero. */
static void
fz_check_tail(const char *what, const char *buf, size_t size)
{
	size_t i;

	for (i = fz_strlen(what, buf, size) + 1; i < size; i++)
		if (buf[i] != '\0')
			fz_fail("BUG: %s has byte 0x%02x at %zu, after its NUL "
			    "(uninitialized stack copied by spec.c)", what,
			    (unsigned char)buf[i], i);
}

static void
fz_check_errs(const struct spec_errs *errs)
{
	unsigned int i;

	if (errs->se_n < 1 || errs->se_n > SPEC_ERRS_MAX)
		fz_fail("failed with se_n %u", errs->se_n);
	for (i = 0; i < errs->se_n; i++) {
		if (fz_strlen("an error message", errs->se_msg[i],
		    SPEC_ERR_LEN) == 0)
			fz_fail("error message %u is empty", i);
	}
}

static bool
fz_strict(void)
{
	return true;
}

static bool
fz_same_spec(const struct vm_spec *a, const struct vm_spec *b)
{
	if (fz_strict())
		return memcmp(a, b, sizeof(*a)) == 0;
	return strcmp(a->vs_name, b->vs_name) == 0 &&
	    a->vs_vcpus == b->vs_vcpus && a->vs_ram_mib == b->vs_ram_mib &&
	    strcmp(a->vs_kernel, b->vs_kernel) == 0 &&
	    strcmp(a->vs_initrd, b->vs_initrd) == 0 &&
	    strcmp(a->vs_cmdline, b->vs_cmdline) == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Static: these are large, and the fuzzer runs one input at a time. */
	static struct vm_spec vs, vs2;
	static struct spec_errs errs, errs2;
	const char *json = (const char *)data;
	unsigned int i;
	int rc, rc2;

	if (size > SPEC_MAX_BYTES)
		return -1;	/* spec_load refuses such files before parsing */
	rc = spec_parse(json, size, &vs, &errs);
	if (rc == 0) {
		if (errs.se_n != 0)
			fz_fail("succeeded with %u errors", errs.se_n);
		fz_check_spec(&vs);
		if (fz_strict()) {
			fz_check_tail("name", vs.vs_name, sizeof(vs.vs_name));
			fz_check_tail("kernel", vs.vs_kernel,
			    sizeof(vs.vs_kernel));
			fz_check_tail("initrd", vs.vs_initrd,
			    sizeof(vs.vs_initrd));
			fz_check_tail("cmdline", vs.vs_cmdline,
			    sizeof(vs.vs_cmdline));
		}
	} else {
		if (rc != -EINVAL)
			fz_fail("returned %d, not -EINVAL", rc);
		fz_check_errs(&errs);
	}

	rc2 = spec_parse(json, size, &vs2, &errs2);
	if (rc2 != rc || errs2.se_n != errs.se_n)
		fz_fail("second parse differs: rc %d/%d, %u/%u errors", rc, rc2,
		    errs.se_n, errs2.se_n);
	if (rc == 0 && !fz_same_spec(&vs, &vs2))
		fz_fail("second parse gave a different spec");
	for (i = 0; i < errs.se_n; i++)
		if (strcmp(errs.se_msg[i], errs2.se_msg[i]) != 0)
			fz_fail("second parse gave a different message %u", i);
	return 0;
}
