/*
 * Decoding control requests (include/ctl.h): bytes from a socket peer,
 * untrusted.  One table entry per op names the function that validates
 * that op's keys; nothing else reads the JSON.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "ctl.h"

typedef int	ctl_check_fn(json_t *, struct ctl_req *, char *, size_t);

static ctl_check_fn	ctl_v_plain, ctl_v_stop;

static const struct {
	const char	*name;
	enum ctl_op	 op;
	ctl_check_fn	*check;
} ctl_ops[] = {
	{ "status",	CTL_STATUS,	ctl_v_plain },
	{ "stop",	CTL_STOP,	ctl_v_stop },
	{ "reboot",	CTL_REBOOT,	ctl_v_plain },
	{ "stats",	CTL_STATS,	ctl_v_plain },
	{ "info",	CTL_INFO,	ctl_v_plain },
};
#define CTL_NOPS	(sizeof(ctl_ops) / sizeof(ctl_ops[0]))

const char *
ctl_op_name(enum ctl_op op)
{
	size_t i;

	for (i = 0; i < CTL_NOPS; i++)
		if (ctl_ops[i].op == op)
			return ctl_ops[i].name;
	return "?";
}

/*
 * Peer text for a reason: at most max bytes of s, every byte outside
 * printable ASCII as \xNN, so a reason stays one line of plain text.
 */
static const char *
ctl_quote(char *dst, size_t dstlen, const char *s, size_t max)
{
	size_t i, o = 0;

	for (i = 0; s[i] != '\0' && i < max && o + 5 < dstlen; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f)
			dst[o++] = (char)c;
		else
			o += (size_t)snprintf(dst + o, dstlen - o, "\\x%02x", c);
	}
	dst[o] = '\0';
	return dst;
}

/* Every key but "op" must be one of allowed (NULL-terminated). */
static int
ctl_keys(json_t *o, const char *const *allowed, char *err, size_t errlen)
{
	char q[4 * 64 + 1];
	const char *k;
	json_t *v;
	size_t i;

	json_object_foreach(o, k, v) {
		if (strcmp(k, "op") == 0)
			continue;
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(k, allowed[i]) == 0)
				break;
		if (allowed[i] == NULL) {
			snprintf(err, errlen, "%s: unknown key",
			    ctl_quote(q, sizeof(q), k, 64));
			return -EINVAL;
		}
	}
	return 0;
}

static int
ctl_v_plain(json_t *o, struct ctl_req *r, char *err, size_t errlen)
{
	static const char *const none[] = { NULL };

	(void)r;
	return ctl_keys(o, none, err, errlen);
}

static int
ctl_v_stop(json_t *o, struct ctl_req *r, char *err, size_t errlen)
{
	static const char *const keys[] = { "force", NULL };
	json_t *f;

	if (ctl_keys(o, keys, err, errlen) < 0)
		return -EINVAL;
	f = json_object_get(o, "force");
	if (f != NULL && !json_is_boolean(f)) {
		snprintf(err, errlen, "force: expected a boolean");
		return -EINVAL;
	}
	r->cr_force = f != NULL && json_is_true(f);
	return 0;
}

int
ctl_decode(const char *buf, size_t len, struct ctl_req *out, char *err,
    size_t errlen)
{
	char q[4 * 100 + 1];
	json_error_t je;
	json_t *o, *op;
	size_t i;
	int rc = -EINVAL;

	memset(out, 0, sizeof(*out));
	if (len > CTL_MSG_MAX) {
		snprintf(err, errlen, "request longer than %d bytes",
		    CTL_MSG_MAX);
		return -EINVAL;
	}
	o = json_loadb(buf, len, JSON_REJECT_DUPLICATES,
	    &je);
	if (o == NULL) {
		snprintf(err, errlen, "not JSON: %s",
		    ctl_quote(q, sizeof(q), je.text, 100));
		return -EINVAL;
	}
	if (!json_is_object(o)) {
		snprintf(err, errlen, "expected a JSON object");
		goto out;
	}
	op = json_object_get(o, "op");
	if (op == NULL || !json_is_string(op)) {
		snprintf(err, errlen, "op: %s", op == NULL ? "missing" :
		    "expected a string");
		goto out;
	}
	for (i = 0; i < CTL_NOPS; i++)
		if (strcmp(json_string_value(op), ctl_ops[i].name) == 0)
			break;
	if (i == CTL_NOPS) {
		snprintf(err, errlen, "op: \"%s\" is not an operation "
		    "(status, stop, reboot, stats, info)",
		    ctl_quote(q, sizeof(q), json_string_value(op), 32));
		goto out;
	}
	out->cr_op = ctl_ops[i].op;
	rc = ctl_ops[i].check(o, out, err, errlen);
out:
	json_decref(o);
	return rc;
}
