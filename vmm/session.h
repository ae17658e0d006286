/*
 * A VMM session: one vmm_run, over every boot of the VM (a reset rebuilds
 * the VM in place).  What the control socket reports on.  Private to vmm/.
 */
#ifndef VMM_SESSION_H
#define VMM_SESSION_H

#include <time.h>

struct vm;
struct vm_spec;

struct vmm_session {
	const struct vm_spec	*ss_spec;
	struct vm		*ss_vm;		/* the running VM; NULL between boots */
	struct timespec		 ss_started;	/* CLOCK_MONOTONIC */
	unsigned int		 ss_boots;
};

/* control.c: the control socket (include/ctl.h) */
struct ctlsrv;
struct pollfd;

#define CTLSRV_CLIENTS	4
#define CTLSRV_NFDS	(1 + CTLSRV_CLIENTS)

int	ctlsrv_open(const char *path, struct ctlsrv **out, char *err,
	    size_t errlen);
void	ctlsrv_pollfds(struct ctlsrv *, struct pollfd *p);
void	ctlsrv_handle(struct ctlsrv *, const struct pollfd *p,
	    struct vmm_session *);
void	ctlsrv_close(struct ctlsrv *);

#endif /* VMM_SESSION_H */
