/*
 * Start-up tracing for `make bench`: with HULL_TRACE set in the environment,
 * trace_point() prints "hull-trace: WHAT NS" (CLOCK_MONOTONIC) on stderr.
 * Without it, a trace point costs one branch.
 */
#ifndef VMM_TRACE_H
#define VMM_TRACE_H

#include <stdbool.h>

/* Whether HULL_TRACE is set (read once). */
bool	trace_enabled(void);
void	trace_point(const char *what);

#endif /* VMM_TRACE_H */
