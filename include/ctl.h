/*
 * The control socket of a running VM: a unix stream socket in the VM's
 * directory (docs/control.md).  A client writes one request, a JSON object
 * on one line of at most CTL_MSG_MAX bytes; the VMM answers with one JSON
 * object on one line and reads the next request.
 *
 *	{"op": "status"}
 *	{"op": "stop"}			ACPI power button
 *	{"op": "stop", "force": true}	end the VM now
 *	{"op": "reboot"}		reset the VM (rebuilt in place)
 *	{"op": "stats"}
 *	{"op": "info"}
 *
 * Answers: {"ok": true, ...} or {"ok": false, "error": "..."}.
 */
#ifndef VMM_CTL_H
#define VMM_CTL_H

#include <stdbool.h>
#include <stddef.h>

#define CTL_MSG_MAX	4096	/* a request line, newline included */

enum ctl_op {
	CTL_STATUS,
	CTL_STOP,
	CTL_REBOOT,
	CTL_STATS,
	CTL_INFO,
};

struct ctl_req {
	enum ctl_op	cr_op;
	bool		cr_force;	/* stop: at once, not the power button */
};

/*
 * Decode one request (len bytes, no newline needed, not NUL-terminated).
 * Returns 0 and fills *out, or -EINVAL with a one-line reason in err:
 * not JSON, not an object, no "op", an unknown op, a key the op does not
 * take, a value of the wrong type, more than CTL_MSG_MAX bytes.
 */
int	ctl_decode(const char *buf, size_t len, struct ctl_req *out, char *err,
	    size_t errlen);

/* The name of an op as the protocol spells it. */
const char	*ctl_op_name(enum ctl_op);

#endif /* VMM_CTL_H */
