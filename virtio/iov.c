/*
 * iovec copies for the request parsers (iov.h).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "iov.h"

/* Walk [off, off + len) of the iovecs, copying to or from buf. */
static bool
viov_copy(const struct iovec *iov, unsigned int n, size_t off, uint8_t *buf,
    size_t len, bool to_iov)
{
	unsigned int i;

	for (i = 0; i < n && len > 0; i++) {
		size_t l = iov[i].iov_len, take;
		uint8_t *p;

		if (off >= l) {
			off -= l;
			continue;
		}
		take = l - off < len ? l - off : len;
		p = (uint8_t *)iov[i].iov_base + off;
		if (to_iov)
			memcpy(p, buf, take);
		else
			memcpy(buf, p, take);
		buf += take;
		len -= take;
		off = 0;
	}
	return len == 0;
}

bool
viov_copy_from(const struct iovec *iov, unsigned int n, size_t off, void *dst,
    size_t len)
{
	return viov_copy(iov, n, off, dst, len, false);
}

bool
viov_copy_to(const struct iovec *iov, unsigned int n, size_t off,
    const void *src, size_t len)
{
	/* Only read through buf when copying into the iovecs. */
	return viov_copy(iov, n, off, (uint8_t *)(uintptr_t)src, len, true);
}

int
viov_slice(struct iovec *dst, unsigned int *ndst, unsigned int cap,
    const struct iovec *iov, unsigned int n, size_t skip, size_t want)
{
	unsigned int i;

	for (i = 0; i < n && want > 0; i++) {
		size_t l = iov[i].iov_len;
		uint8_t *b = iov[i].iov_base;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		b += skip;
		l -= skip;
		skip = 0;
		if (l > want)
			l = want;
		if (*ndst == cap)
			return -E2BIG;
		dst[*ndst].iov_base = b;
		dst[*ndst].iov_len = l;
		(*ndst)++;
		want -= l;
	}
	return 0;
}
