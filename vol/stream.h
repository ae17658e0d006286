/*
 * The send stream's layout (docs/volume-format.md, "Streams"): a 512-byte
 * header, then records of a 40-byte header and a payload, each with its
 * own XXH3-128; the END record's payload is the XXH3-128 of everything
 * before it.  Shared by send.c and the receive fuzzer, which writes
 * streams whose checksums are right so it reaches the checks behind them.
 */
#ifndef VOL_STREAM_H
#define VOL_STREAM_H

#include <stdint.h>

#define VOL_STREAM_MAGIC	0x4d5254534c4c5548ull	/* "HULLSTRM" */
#define VOL_STREAM_VERSION	1u
#define VOL_SF_INCREMENTAL	0x1u

enum { VOL_REC_WRITE = 1, VOL_REC_FREE = 2, VOL_REC_END = 3 };

struct vol_stream_hdr {
	uint64_t	sh_magic;
	uint32_t	sh_version;
	uint32_t	sh_flags;
	uint64_t	sh_size;
	uint32_t	sh_bsize;
	uint8_t		sh_comp;
	uint8_t		sh_copies;
	uint8_t		sh_pad[2];
	uint64_t	sh_to_guid;
	uint64_t	sh_to_txg;
	uint64_t	sh_from_guid;
	uint64_t	sh_from_txg;
	char		sh_snap[64];
	char		sh_from[64];
	uint8_t		sh_pad2[304];
	uint8_t		sh_cksum[16];
};
_Static_assert(sizeof(struct vol_stream_hdr) == 512, "stream header is 512 bytes");

struct vol_rec_hdr {
	uint32_t	rh_type;
	uint32_t	rh_len;		/* payload bytes */
	uint64_t	rh_blkid;
	uint64_t	rh_count;	/* FREE: blocks */
	uint8_t		rh_cksum[16];	/* of the 24 bytes above and the payload */
};
_Static_assert(sizeof(struct vol_rec_hdr) == 40, "record header is 40 bytes");

#endif
