/*
 * libFuzzer target for the control socket's request decoder
 * (vmm/ctl_proto.c, include/ctl.h, docs/control.md): bytes from a socket
 * peer, one request line.
 *
 * The input is the line without its newline, as the server hands it to
 * ctl_decode(), in a heap buffer of exactly its size (no NUL after it), so
 * ASan sees any read past the end.  Besides what ASan and UBSan catch,
 * every result must keep ctl.h's promises, checked against a plain model
 * of the protocol written here (fz_model, on jansson's own parse):
 *   - the return value is 0 or -EINVAL, and 0 exactly when the model says
 *     the request is valid: a JSON object of at most CTL_MSG_MAX bytes,
 *     "op" a string naming an operation, no other key but "force" for
 *     "stop", and "force" a boolean;
 *   - on success the op and force are the model's, and ctl_op_name()
 *     gives the op's name back;
 *   - on failure the reason is non-empty, one line, and NUL-terminated
 *     within errlen;
 *   - a small error buffer (errlen 1 and 16, heap buffers of exactly that
 *     size) gives the same result, its reason a prefix of the full one;
 *   - the same input gives the same result twice.
 * A broken promise aborts with a message, which libFuzzer reports as a crash.
 *
 * Build and run: `make fuzz` (clang, -fsanitize=fuzzer,address,undefined);
 * the seed corpus is vmm/tests/corpus/ctl/.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void	fz_fail(const char *fmt, ...)
		    __attribute__((__format__(__printf__, 1, 2), __noreturn__));

#define FZ_ERRLEN	256

static void
fz_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz_ctl: invariant broken: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static const struct {
	const char	*name;
	enum ctl_op	 op;
} fz_ops[] = {
	{ "status", CTL_STATUS }, { "stop", CTL_STOP },
	{ "reboot", CTL_REBOOT }, { "stats", CTL_STATS },
	{ "info", CTL_INFO },
};

/* The protocol, the obvious way: true and *want for a valid request. */
static bool
fz_model(const uint8_t *data, size_t size, struct ctl_req *want)
{
	json_t *o, *op, *v;
	const char *k;
	bool ok = false;
	size_t i;

	memset(want, 0, sizeof(*want));
	if (size > CTL_MSG_MAX)
		return false;
	o = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(o))
		goto out;
	op = json_object_get(o, "op");
	if (!json_is_string(op))
		goto out;
	for (i = 0; i < sizeof(fz_ops) / sizeof(fz_ops[0]); i++)
		if (strcmp(json_string_value(op), fz_ops[i].name) == 0)
			break;
	if (i == sizeof(fz_ops) / sizeof(fz_ops[0]))
		goto out;
	want->cr_op = fz_ops[i].op;
	json_object_foreach(o, k, v) {
		if (strcmp(k, "op") == 0)
			continue;
		if (want->cr_op != CTL_STOP || strcmp(k, "force") != 0 ||
		    !json_is_boolean(v))
			goto out;
		want->cr_force = json_is_true(v);
	}
	ok = true;
out:
	json_decref(o);
	return ok;
}

/* Decode with an error buffer of exactly errlen bytes on the heap. */
static int
fz_decode(const uint8_t *buf, size_t size, struct ctl_req *r, char *errout,
    size_t errlen)
{
	char *err = malloc(errlen);
	int rc;

	if (err == NULL)
		abort();
	memset(err, 'X', errlen);
	memset(r, 0xa5, sizeof(*r));
	rc = ctl_decode((const char *)buf, size, r, err, errlen);
	if (rc < 0) {
		if (memchr(err, '\0', errlen) == NULL)
			fz_fail("errlen %zu: reason not NUL-terminated", errlen);
		memcpy(errout, err, strlen(err) + 1);
	} else {
		errout[0] = '\0';
	}
	free(err);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t small[] = { 1, 16 };
	char err[FZ_ERRLEN], err2[FZ_ERRLEN], errs[FZ_ERRLEN];
	struct ctl_req r, r2, rs, want;
	uint8_t *buf;
	bool valid;
	size_t i;
	int rc, rc2, rcs;

	/* Exactly size bytes: a read past the request is an ASan report. */
	buf = malloc(size ? size : 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);

	rc = fz_decode(buf, size, &r, err, sizeof(err));
	valid = fz_model(buf, size, &want);
	if (rc != 0 && rc != -EINVAL)
		fz_fail("returned %d", rc);
	if ((rc == 0) != valid)
		fz_fail("returned %d (%s), the model says %s", rc,
		    rc ? err : "ok", valid ? "valid" : "invalid");
	if (rc == 0) {
		if (r.cr_op != want.cr_op || r.cr_force != want.cr_force)
			fz_fail("decoded op %d force %d, want op %d force %d",
			    (int)r.cr_op, r.cr_force, (int)want.cr_op,
			    want.cr_force);
		if (strcmp(ctl_op_name(r.cr_op), fz_ops[r.cr_op].name) != 0 ||
		    fz_ops[r.cr_op].op != r.cr_op)
			fz_fail("op %d is named %s", (int)r.cr_op,
			    ctl_op_name(r.cr_op));
		if (r.cr_force && r.cr_op != CTL_STOP)
			fz_fail("force set for op %s", ctl_op_name(r.cr_op));
	} else {
		if (err[0] == '\0')
			fz_fail("failed without a reason");
		if (strchr(err, '\n') != NULL)
			fz_fail("reason of more than one line: %s", err);
	}

	rc2 = fz_decode(buf, size, &r2, err2, sizeof(err2));
	if (rc2 != rc || memcmp(&r, &r2, sizeof(r)) != 0 ||
	    strcmp(err, err2) != 0)
		fz_fail("second decode differs: %d/%d \"%s\"/\"%s\"", rc, rc2,
		    err, err2);

	for (i = 0; i < sizeof(small) / sizeof(small[0]); i++) {
		rcs = fz_decode(buf, size, &rs, errs, small[i]);
		if (rcs != rc || memcmp(&r, &rs, sizeof(r)) != 0)
			fz_fail("errlen %zu changes the result: %d/%d",
			    small[i], rc, rcs);
		if (rc < 0 && strncmp(err, errs, strlen(errs)) != 0)
			fz_fail("errlen %zu: \"%s\" is not a prefix of \"%s\"",
			    small[i], errs, err);
	}
	free(buf);
	return 0;
}
