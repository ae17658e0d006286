/*
 * Start-up trace points (include/trace.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "trace.h"

bool
trace_enabled(void)
{
	static int on = -1;

	if (on < 0)
		on = getenv("HULL_TRACE") != NULL;
	return on;
}

void
trace_point(const char *what)
{
	struct timespec ts;

	if (!trace_enabled())
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	fprintf(stderr, "hull-trace: %s %lld\n", what,
	    (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
}
