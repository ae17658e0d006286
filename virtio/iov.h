/*
 * Copying between a host buffer and a descriptor chain's iovecs, and
 * slicing a chain's iovecs, for the request parsers (blk_req.c,
 * net_req.c): a header may span descriptors.
 */
#ifndef VMM_VIRTIO_IOV_H
#define VMM_VIRTIO_IOV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

/*
 * Copy len bytes starting off bytes into iov[0..n) to dst, or from src into
 * the same place.  false (and a partial copy) if the iovecs are too short.
 */
bool	viov_copy_from(const struct iovec *iov, unsigned int n, size_t off,
	    void *dst, size_t len);
bool	viov_copy_to(const struct iovec *iov, unsigned int n, size_t off,
	    const void *src, size_t len);

/*
 * Append iov[0..n) minus skip bytes at the front, at most want bytes, to
 * dst[*ndst..cap), dropping empty pieces.  0, or -E2BIG when dst is full
 * (*ndst pieces were appended).
 */
int	viov_slice(struct iovec *dst, unsigned int *ndst, unsigned int cap,
	    const struct iovec *iov, unsigned int n, size_t skip, size_t want);

#endif /* VMM_VIRTIO_IOV_H */
