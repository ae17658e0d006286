/*
 * The pool registry: a pool's name to its file, as a symlink per pool
 * under the root vmctl keeps its VMs in, so a spec can say "tank/web".
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vol_impl.h"

int
vol_registry_path(const char *root, const char *pool, char *path, size_t pathlen,
    char *err, size_t errlen)
{
	char link[PATH_MAX];
	ssize_t n;

	if (!vol_name_ok(pool))
		return vol_err(err, errlen, -EINVAL, "pool \"%s\": not a valid name", pool);
	if (root == NULL || root[0] == '\0')
		root = getenv("HULL_ROOT");
	if (root == NULL || root[0] == '\0')
		root = VOL_DEFAULT_ROOT;
	if ((size_t)snprintf(link, sizeof(link), "%s/pools/%s", root, pool) >= sizeof(link))
		return vol_err(err, errlen, -ENAMETOOLONG, "%s: path too long", root);
	n = readlink(link, path, pathlen);
	if (n < 0 && errno == ENOENT)
		return vol_err(err, errlen, -ENOENT, "pool \"%s\": no such pool (vmctl "
		    "volume pool-list)", pool);
	if (n < 0)
		return vol_err(err, errlen, -errno, "%s: %s", link, strerror(errno));
	if ((size_t)n >= pathlen)
		return vol_err(err, errlen, -ENAMETOOLONG, "%s: target too long", link);
	path[n] = '\0';
	return 0;
}
