/*
 * VM spec reader: JSON (RFC 8259, parsed by libjansson) into struct vm_spec.
 * The format is described in docs/spec.md.
 *
 * This is the only code in Hull that reads JSON specs.  It is built around
 * one table per JSON object (spec_top_keys below): a row names a key, the
 * JSON types it accepts and the function that validates and stores it.
 * Adding a key is one row and one spec_v_*() function.  The walker checks
 * types, unknown keys and missing required keys so that the validators only
 * see a value of a type they asked for.
 *
 * Every problem is reported, not only the first one, as "path: message",
 * where path is a JSON path such as "vcpus" (later "nics[0].mac").
 */

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "spec.h"

/* JSON types a key accepts, as a mask. */
#define SPEC_T_OBJECT	0x01
#define SPEC_T_ARRAY	0x02
#define SPEC_T_STRING	0x04
#define SPEC_T_INTEGER	0x08
#define SPEC_T_REAL	0x10
#define SPEC_T_BOOL	0x20
#define SPEC_T_NULL	0x40

/* Key flags. */
#define SPEC_K_REQUIRED	0x01

#define SPEC_PATH_LEN	128	/* a JSON path in a message; longer is cut */
#define SPEC_QUOTE_LEN	48	/* user text quoted in a message; longer is cut */

#define SPEC_VCPUS_DEFAULT	1
#define SPEC_RAM_DEFAULT_MIB	256

/*
 * Validates one value, already known to be of a type the row accepts, and
 * stores it in dst (the struct the table describes).  Reports problems with
 * spec_err() and returns 0 or -EINVAL.
 */
struct spec_ctx;
typedef int	spec_check_fn(struct spec_ctx *, const char *path, json_t *,
		    void *dst);

struct spec_key {
	const char	*sk_key;
	unsigned int	 sk_types;	/* SPEC_T_* accepted */
	unsigned int	 sk_flags;	/* SPEC_K_* */
	spec_check_fn	*sk_check;
};

struct spec_ctx {
	struct spec_errs	*sc_errs;
};

static spec_check_fn	spec_v_name, spec_v_vcpus, spec_v_ram, spec_v_kernel,
			spec_v_initrd, spec_v_cmdline, spec_v_disks;
static spec_check_fn	spec_v_disk_path, spec_v_disk_volume, spec_v_disk_readonly,
			spec_v_disk_serial, spec_v_disk_cache;
static spec_check_fn	spec_v_nics, spec_v_nic_tap, spec_v_nic_bridge,
			spec_v_nic_mac, spec_v_nic_mtu, spec_v_nic_queues,
			spec_v_nic_vhost, spec_v_nic_offloads,
			spec_v_nic_rate_limit;
static spec_check_fn	spec_v_rate_bytes, spec_v_rate_packets;
static spec_check_fn	spec_v_autoboot, spec_v_metadata, spec_v_jail,
			spec_v_limits;
static spec_check_fn	spec_v_cpu_cap, spec_v_disk_iops, spec_v_disk_bps;

/* The top-level object; dst is a struct vm_spec. */
static const struct spec_key spec_top_keys[] = {
	{ "name",	SPEC_T_STRING,			SPEC_K_REQUIRED, spec_v_name },
	{ "vcpus",	SPEC_T_INTEGER,			0, spec_v_vcpus },
	{ "ram",	SPEC_T_INTEGER | SPEC_T_STRING,	0, spec_v_ram },
	{ "kernel",	SPEC_T_STRING,			SPEC_K_REQUIRED, spec_v_kernel },
	{ "initrd",	SPEC_T_STRING,			0, spec_v_initrd },
	{ "cmdline",	SPEC_T_STRING,			0, spec_v_cmdline },
	{ "disks",	SPEC_T_ARRAY,			0, spec_v_disks },
	{ "nics",	SPEC_T_ARRAY,			0, spec_v_nics },
	{ "autoboot",	SPEC_T_BOOL,			0, spec_v_autoboot },
	{ "metadata",	SPEC_T_OBJECT,			0, spec_v_metadata },
	{ "jail",	SPEC_T_BOOL,			0, spec_v_jail },
	{ "limits",	SPEC_T_OBJECT,			0, spec_v_limits },
};
#define SPEC_NTOP_KEYS	(sizeof(spec_top_keys) / sizeof(spec_top_keys[0]))

/* One element of "disks"; dst is a struct disk_spec. */
static const struct spec_key spec_disk_keys[] = {
	{ "path",	SPEC_T_STRING,	0, spec_v_disk_path },
	{ "volume",	SPEC_T_STRING,	0, spec_v_disk_volume },
	{ "readonly",	SPEC_T_BOOL,	0, spec_v_disk_readonly },
	{ "serial",	SPEC_T_STRING,	0, spec_v_disk_serial },
	{ "cache",	SPEC_T_STRING,	0, spec_v_disk_cache },
};
#define SPEC_NDISK_KEYS	(sizeof(spec_disk_keys) / sizeof(spec_disk_keys[0]))

/* One element of "nics"; dst is a struct nic_spec. */
static const struct spec_key spec_nic_keys[] = {
	{ "tap",	SPEC_T_STRING,	0, spec_v_nic_tap },
	{ "bridge",	SPEC_T_STRING,	0, spec_v_nic_bridge },
	{ "mac",	SPEC_T_STRING,	0, spec_v_nic_mac },
	{ "mtu",	SPEC_T_INTEGER,	0, spec_v_nic_mtu },
	{ "queues",	SPEC_T_INTEGER,	0, spec_v_nic_queues },
	{ "vhost",	SPEC_T_BOOL,	0, spec_v_nic_vhost },
	{ "offloads",	SPEC_T_BOOL,	0, spec_v_nic_offloads },
	{ "rate_limit",	SPEC_T_OBJECT,	0, spec_v_nic_rate_limit },
};
#define SPEC_NNIC_KEYS	(sizeof(spec_nic_keys) / sizeof(spec_nic_keys[0]))

/* A NIC's "rate_limit"; dst is a struct nic_spec. */
static const struct spec_key spec_rate_keys[] = {
	{ "bytes_per_sec",	SPEC_T_INTEGER,	0, spec_v_rate_bytes },
	{ "packets_per_sec",	SPEC_T_INTEGER,	0, spec_v_rate_packets },
};
#define SPEC_NRATE_KEYS	(sizeof(spec_rate_keys) / sizeof(spec_rate_keys[0]))

/* "limits"; dst is a struct limits_spec. */
static const struct spec_key spec_limits_keys[] = {
	{ "cpu_cap",	SPEC_T_INTEGER,	0, spec_v_cpu_cap },
	{ "disk_iops",	SPEC_T_INTEGER,	0, spec_v_disk_iops },
	{ "disk_bps",	SPEC_T_INTEGER,	0, spec_v_disk_bps },
};
#define SPEC_NLIMITS_KEYS \
	(sizeof(spec_limits_keys) / sizeof(spec_limits_keys[0]))

static void	spec_err(struct spec_ctx *, const char *fmt, ...)
		    __attribute__((__format__(__printf__, 2, 3)));

/*
 * Record one error.  When the table is full the last slot is replaced by
 * "too many errors", so a caller always sees that some were dropped.
 */
static void
spec_err(struct spec_ctx *ctx, const char *fmt, ...)
{
	struct spec_errs *errs = ctx->sc_errs;
	va_list ap;

	if (errs->se_n == SPEC_ERRS_MAX) {
		snprintf(errs->se_msg[SPEC_ERRS_MAX - 1], SPEC_ERR_LEN,
		    "too many errors");
		return;
	}
	va_start(ap, fmt);
	vsnprintf(errs->se_msg[errs->se_n], SPEC_ERR_LEN, fmt, ap);
	va_end(ap);
	errs->se_n++;
}

/*
 * Copy len bytes of user text s into buf for a message: printable ASCII as
 * is, '"' and '\' escaped, anything else as \xNN, cut with "..." when long.
 */
static const char *
spec_quote(char *buf, size_t size, const char *s, size_t len)
{
	size_t i, o = 0;
	unsigned char c;

	for (i = 0; i < len; i++) {
		if (o + 8 >= size) {
			memcpy(buf + o, "...", 4);
			return buf;
		}
		c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c >= 0x20 && c < 0x7f)
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
	}
	buf[o] = '\0';
	return buf;
}

static const char *
spec_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a real number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "an unknown type";
}

static unsigned int
spec_type_bit(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return SPEC_T_OBJECT;
	case JSON_ARRAY:
		return SPEC_T_ARRAY;
	case JSON_STRING:
		return SPEC_T_STRING;
	case JSON_INTEGER:
		return SPEC_T_INTEGER;
	case JSON_REAL:
		return SPEC_T_REAL;
	case JSON_TRUE:
	case JSON_FALSE:
		return SPEC_T_BOOL;
	case JSON_NULL:
		return SPEC_T_NULL;
	}
	return 0;
}

/* "an integer or a string" for a SPEC_T_* mask. */
static const char *
spec_types_expected(char *buf, size_t size, unsigned int types)
{
	static const struct {
		unsigned int	 bit;
		const char	*name;
	} names[] = {
		{ SPEC_T_INTEGER, "an integer" },
		{ SPEC_T_REAL, "a number" },
		{ SPEC_T_STRING, "a string" },
		{ SPEC_T_BOOL, "a boolean" },
		{ SPEC_T_NULL, "null" },
		{ SPEC_T_ARRAY, "an array" },
		{ SPEC_T_OBJECT, "an object" },
	};
	size_t i, o = 0;
	unsigned int left = types;

	buf[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if ((types & names[i].bit) == 0)
			continue;
		left &= ~names[i].bit;
		if (o > 0 && o < size)
			o += (size_t)snprintf(buf + o, size - o, "%s",
			    left == 0 ? " or " : ", ");
		if (o < size)
			o += (size_t)snprintf(buf + o, size - o, "%s",
			    names[i].name);
	}
	return buf;
}

/* Edit distance, for "did you mean"; keys are short, so this is cheap. */
static size_t
spec_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, prev, cur, tmp;
	size_t row[32];

	if (la >= sizeof(row) / sizeof(row[0]) ||
	    lb >= sizeof(row) / sizeof(row[0]))
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			cur = prev + (a[i - 1] != b[j - 1]);
			if (row[j] + 1 < cur)
				cur = row[j] + 1;
			if (row[j - 1] + 1 < cur)
				cur = row[j - 1] + 1;
			tmp = row[j];
			row[j] = cur;
			prev = tmp;
		}
	}
	return row[lb];
}

/*
 * Check obj against a key table: report unknown keys, values of the wrong
 * type and missing required keys, and run each row's validator on the rest.
 * prefix is the JSON path of obj ("" at the top).  Returns 0 or -EINVAL.
 */
static int
spec_walk(struct spec_ctx *ctx, const char *prefix, json_t *obj,
    const struct spec_key *tab, size_t ntab, void *dst)
{
	char path[SPEC_PATH_LEN], q[SPEC_QUOTE_LEN], types[64];
	const char *key, *best;
	json_t *v;
	size_t i, d, bestd;
	int rc = 0;

	json_object_foreach(obj, key, v) {
		spec_quote(q, sizeof(q), key, strlen(key));
		snprintf(path, sizeof(path), "%s%s%s", prefix,
		    prefix[0] != '\0' ? "." : "", q);
		for (i = 0; i < ntab; i++)
			if (strcmp(key, tab[i].sk_key) == 0)
				break;
		if (i == ntab) {
			best = NULL;
			bestd = 3;	/* suggest only near misses */
			for (i = 0; i < ntab; i++) {
				d = spec_distance(key, tab[i].sk_key);
				if (d < bestd) {
					bestd = d;
					best = tab[i].sk_key;
				}
			}
			if (best != NULL)
				spec_err(ctx, "%s: unknown key (did you mean "
				    "\"%s\"?)", path, best);
			else
				spec_err(ctx, "%s: unknown key", path);
			rc = -EINVAL;
			continue;
		}
		if ((spec_type_bit(v) & tab[i].sk_types) == 0) {
			spec_err(ctx, "%s: expected %s, got %s", path,
			    spec_types_expected(types, sizeof(types),
			    tab[i].sk_types), spec_type_name(v));
			rc = -EINVAL;
			continue;
		}
		if (tab[i].sk_check(ctx, path, v, dst) != 0)
			rc = -EINVAL;
	}
	for (i = 0; i < ntab; i++) {
		if ((tab[i].sk_flags & SPEC_K_REQUIRED) == 0 ||
		    json_object_get(obj, tab[i].sk_key) != NULL)
			continue;
		spec_err(ctx, "%s%s%s: missing (required)", prefix,
		    prefix[0] != '\0' ? "." : "", tab[i].sk_key);
		rc = -EINVAL;
	}
	return rc;
}

/*
 * Common checks for a string to be stored in a buffer of max + 1 bytes:
 * no NUL byte (JSON allows \u0000), not empty unless allowed, at most max
 * bytes.  Returns 0 or -EINVAL.
 */
static int
spec_string(struct spec_ctx *ctx, const char *path, json_t *v, size_t max,
    bool empty_ok, char *out)
{
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);

	if (memchr(s, '\0', len) != NULL) {
		spec_err(ctx, "%s: contains a NUL byte", path);
		return -EINVAL;
	}
	if (len == 0 && !empty_ok) {
		spec_err(ctx, "%s: must not be empty", path);
		return -EINVAL;
	}
	if (len > max) {
		spec_err(ctx, "%s: is %zu bytes long (at most %zu)", path, len,
		    max);
		return -EINVAL;
	}
	memcpy(out, s, len + 1);
	return 0;
}

static bool
spec_name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

static int
spec_v_name(struct spec_ctx *ctx, const char *path, json_t *v, void *dst)
{
	struct vm_spec *vs = dst;
	char name[SPEC_NAME_MAX + 1], q[SPEC_QUOTE_LEN];
	size_t i;

	if (spec_string(ctx, path, v, SPEC_NAME_MAX, false, name) != 0)
		return -EINVAL;
	for (i = 0; name[i] != '\0'; i++) {
		if (!spec_name_char(name[i])) {
			spec_err(ctx, "%s: \"%s\" has a character other than "
			    "A-Z a-z 0-9 . _ - at byte %zu", path,
			    spec_quote(q, sizeof(q), name, strlen(name)), i);
			return -EINVAL;
		}
	}
	if (name[0] == '.' || name[0] == '_' || name[0] == '-') {
		spec_err(ctx, "%s: \"%s\" must start with a letter or a digit",
		    path, spec_quote(q, sizeof(q), name, strlen(name)));
		return -EINVAL;
	}
	memcpy(vs->vs_name, name, strlen(name) + 1);
	return 0;
}

static int
spec_v_vcpus(struct spec_ctx *ctx, const char *path, json_t *v, void *dst)
{
	struct vm_spec *vs = dst;
	json_int_t n = json_integer_value(v);

	if (n < 1 || n > SPEC_VCPUS_MAX) {
		spec_err(ctx, "%s: %" JSON_INTEGER_FORMAT " is out of range "
		    "(1 to %d)", path, n, SPEC_VCPUS_MAX);
		return -EINVAL;
	}
	vs->vs_vcpus = (unsigned int)n;
	return 0;
}

/*
 * Parse a RAM size string: decimal digits, then a unit, M/MiB, G/GiB or
 * T/TiB, all powers of 1024.  Stores MiB in *mib, saturated at UINT64_MAX.
 * Returns 0, or -EINVAL if s is not of that form.
 */
static int
spec_ram_string(const char *s, size_t len, uint64_t *mib)
{
	static const struct {
		const char	*unit;
		unsigned int	 shift;	/* log2 of MiB per unit */
	} units[] = {
		{ "M", 0 }, { "MiB", 0 },
		{ "G", 10 }, { "GiB", 10 },
		{ "T", 20 }, { "TiB", 20 },
	};
	uint64_t n = 0;
	size_t i = 0, u;

	while (i < len && s[i] >= '0' && s[i] <= '9') {
		if (n > (UINT64_MAX - 9) / 10)
			n = UINT64_MAX;	/* saturate: out of range anyway */
		else
			n = n * 10 + (uint64_t)(s[i] - '0');
		i++;
	}
	if (i == 0)
		return -EINVAL;
	for (u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		if (len - i == strlen(units[u].unit) &&
		    memcmp(s + i, units[u].unit, len - i) == 0)
			break;
	}
	if (u == sizeof(units) / sizeof(units[0]))
		return -EINVAL;
	if (n > (UINT64_MAX >> units[u].shift))
		*mib = UINT64_MAX;
	else
		*mib = n << units[u].shift;
	return 0;
}

static int
spec_v_ram(struct spec_ctx *ctx, const char *path, json_t *v, void *dst)
{
	struct vm_spec *vs = dst;
	char q[SPEC_QUOTE_LEN];
	json_int_t n;
	uint64_t mib;

	if (json_is_integer(v)) {
		n = json_integer_value(v);
		if (n < SPEC_RAM_MIN_MIB || n > SPEC_RAM_MAX_MIB) {
			spec_err(ctx, "%s: %" JSON_INTEGER_FORMAT " is out of "
			    "range (%d to %d MiB)", path, n, SPEC_RAM_MIN_MIB,
			    SPEC_RAM_MAX_MIB);
			return -EINVAL;
		}
		vs->vs_ram_mib = (uint64_t)n;
		return 0;
	}
	spec_quote(q, sizeof(q), json_string_value(v), json_string_length(v));
	if (spec_ram_string(json_string_value(v), json_string_length(v),
	    &mib) != 0) {
		spec_err(ctx, "%s: \"%s\" is not a size (an integer in MiB, or "
		    "a string such as \"512M\" or \"2G\"; units M, MiB, G, GiB, "
		    "T, TiB)", path, q);
		return -EINVAL;
	}
	if (mib < SPEC_RAM_MIN_MIB || mib > SPEC_RAM_MAX_MIB) {
		spec_err(ctx, "%s: \"%s\" is out of range (%d to %d MiB)", path,
		    q, SPEC_RAM_MIN_MIB, SPEC_RAM_MAX_MIB);
		return -EINVAL;
	}
	vs->vs_ram_mib = mib;
	return 0;
}

static int
spec_v_kernel(struct spec_ctx *ctx, const char *path, json_t *v, void *dst)
{
	struct vm_spec *vs = dst;

	return spec_string(ctx, path, v, SPEC_PATH_MAX, false, vs->vs_kernel);
}

static int
spec_v_initrd(struct spec_ctx *ctx, const char *path, json_t *v, void *dst)
{
	struct vm_spec *vs = dst;

	return spec_string(ctx, path, v, SPEC_PATH_MAX, false, vs->vs_initrd);
}

/*
 * The command line goes to the guest as one line of text; a control
 * character (a newline above all) is almost always a quoting mistake.
 */
static int
spec_v_cmdline(struct spec_ctx *ctx, const char *path, json_t *v, void *dst)
{
	struct vm_spec *vs = dst;
	char cmdline[SPEC_CMDLINE_MAX + 1];
	unsigned char c;
	size_t i;

	if (spec_string(ctx, path, v, SPEC_CMDLINE_MAX, true, cmdline) != 0)
		return -EINVAL;
	for (i = 0; cmdline[i] != '\0'; i++) {
		c = (unsigned char)cmdline[i];
		if (c == '\n') {
			spec_err(ctx, "%s: contains a newline at byte %zu",
			    path, i);
			return -EINVAL;
		}
		if (c < 0x20 || c == 0x7f) {
			spec_err(ctx, "%s: contains control character 0x%02x "
			    "at byte %zu", path, c, i);
			return -EINVAL;
		}
	}
	memcpy(vs->vs_cmdline, cmdline, strlen(cmdline) + 1);
	return 0;
}

/* A per-element check run after the element's keys; NULL for none. */
typedef int	spec_elem_fn(struct spec_ctx *, const char *path, void *elem);

/*
 * An array of at most max objects, each walked against tab into
 * base[i * stride]; noun names them in the length error ("disks").
 * Sets *count to the array's length.  Returns 0 or -EINVAL.
 */
static int
spec_array(struct spec_ctx *ctx, const char *path, json_t *v, const char *noun,
    size_t max, const struct spec_key *tab, size_t ntab, void *base,
    size_t stride, spec_elem_fn *post, unsigned int *count)
{
	char epath[SPEC_PATH_LEN];
	size_t i, n = json_array_size(v);
	json_t *e;
	int rc = 0;

	if (n > max) {
		spec_err(ctx, "%s: %zu %s, at most %zu", path, n, noun, max);
		return -EINVAL;
	}
	json_array_foreach(v, i, e) {
		void *elem = (uint8_t *)base + i * stride;

		snprintf(epath, sizeof(epath), "%s[%zu]", path, i);
		if (!json_is_object(e)) {
			spec_err(ctx, "%s: expected an object, got %s", epath,
			    spec_type_name(e));
			rc = -EINVAL;
			continue;
		}
		if (spec_walk(ctx, epath, e, tab, ntab, elem) != 0)
			rc = -EINVAL;
		else if (post != NULL && post(ctx, epath, elem) != 0)
			rc = -EINVAL;
	}
	*count = (unsigned int)n;
	return rc;
}

/* A disk is a file ("path") or a volume ("volume"), one of the two. */
static int
spec_disk_post(struct spec_ctx *ctx, const char *path, void *elem)
{
	const struct disk_spec *d = elem;

	if (d->ds_path[0] == '\0' && d->ds_volume[0] == '\0') {
		spec_err(ctx, "%s.path: missing (required, or give \"volume\")", path);
		return -EINVAL;
	}
	if (d->ds_path[0] != '\0' && d->ds_volume[0] != '\0') {
		spec_err(ctx, "%s: \"path\" and \"volume\" both given (a disk is "
		    "one or the other)", path);
		return -EINVAL;
	}
	return 0;
}

static int
spec_v_disks(struct spec_ctx *ctx, const char *path, json_t *v, void *dst)
{
	struct vm_spec *vs = dst;

	return spec_array(ctx, path, v, "disks", SPEC_DISKS_MAX, spec_disk_keys,
	    SPEC_NDISK_KEYS, vs->vs_disks, sizeof(vs->vs_disks[0]),
	    spec_disk_post, &vs->vs_ndisks);
}

static int
spec_v_disk_path(struct spec_ctx *ctx, const char *path, json_t *v, void *dst)
{
	struct disk_spec *ds = dst;

	return spec_string(ctx, path, v, SPEC_PATH_MAX, false, ds->ds_path);
}

/* "pool/vol": two names of [A-Za-z0-9_.:-] (include/vol.h), one slash. */
static int
spec_v_disk_volume(struct spec_ctx *ctx, const char *path, json_t *v, void *dst)
{
	struct disk_spec *ds = dst;
	const char *s = json_string_value(v), *slash;
	size_t i;
	int rc;

	if ((rc = spec_string(ctx, path, v, SPEC_PATH_MAX, false, ds->ds_volume)) < 0)
		return rc;
	slash = strchr(s, '/');
	if (slash == NULL || slash == s || slash[1] == '\0' ||
	    strchr(slash + 1, '/') != NULL || strchr(s, '@') != NULL ||
	    slash - s > 63 || strlen(slash + 1) > 63 || s[0] == '.' ||
	    s[0] == '-' || slash[1] == '.' || slash[1] == '-') {
		spec_err(ctx, "%s: not a volume name (pool/volume)", path);
		return -EINVAL;
	}
	for (i = 0; s[i] != '\0'; i++)
		if (!isalnum((unsigned char)s[i]) && strchr("_.:-/", s[i]) == NULL) {
			spec_err(ctx, "%s: not a volume name (pool/volume)", path);
			return -EINVAL;
		}
	return 0;
}

static int
spec_v_disk_readonly(struct spec_ctx *ctx, const char *path, json_t *v,
    void *dst)
{
	struct disk_spec *ds = dst;

	(void)ctx;
	(void)path;
	ds->ds_readonly = json_is_true(v);
	return 0;
}

/* The serial reaches the guest as a device ID: printable ASCII only. */
static int
spec_v_disk_serial(struct spec_ctx *ctx, const char *path, json_t *v,
    void *dst)
{
	struct disk_spec *ds = dst;
	char serial[SPEC_SERIAL_MAX + 1];
	size_t i;

	if (spec_string(ctx, path, v, SPEC_SERIAL_MAX, false, serial) != 0)
		return -EINVAL;
	for (i = 0; serial[i] != '\0'; i++)
		if (serial[i] < 0x20 || serial[i] > 0x7e) {
			spec_err(ctx, "%s: byte %zu is not printable ASCII",
			    path, i);
			return -EINVAL;
		}
	memcpy(ds->ds_serial, serial, strlen(serial) + 1);
	return 0;
}

static int
spec_v_disk_cache(struct spec_ctx *ctx, const char *path, json_t *v,
    void *dst)
{
	struct disk_spec *ds = dst;
	const char *s = json_string_value(v);
	char q[SPEC_QUOTE_LEN];

	if (strcmp(s, "none") == 0 && json_string_length(v) == 4)
		ds->ds_cache = SPEC_CACHE_NONE;
	else if (strcmp(s, "writeback") == 0 && json_string_length(v) == 9)
		ds->ds_cache = SPEC_CACHE_WRITEBACK;
	else {
		spec_err(ctx, "%s: \"%s\" is not a cache mode (\"none\" or "
		    "\"writeback\")", path, spec_quote(q, sizeof(q), s,
		    json_string_length(v)));
		return -EINVAL;
	}
	return 0;
}

/* A NIC connects somewhere: to a named tap, a bridge, or both. */
static int
spec_nic_post(struct spec_ctx *ctx, const char *path, void *elem)
{
	const struct nic_spec *ns = elem;

	if (ns->ns_tap[0] == '\0' && ns->ns_bridge[0] == '\0') {
		spec_err(ctx, "%s: needs \"tap\" or \"bridge\"", path);
		return -EINVAL;
	}
	/* The kernel would move the packets past the device's buckets. */
	if (ns->ns_vhost && (ns->ns_rate_bps != 0 || ns->ns_rate_pps != 0)) {
		spec_err(ctx, "%s.rate_limit: not with \"vhost\": true (vhost-net "
		    "moves the packets in the kernel, where Hull cannot limit "
		    "them)", path);
		return -EINVAL;
	}
	return 0;
}

static int
spec_v_nics(struct spec_ctx *ctx, const char *path, json_t *v, void *dst)
{
	struct vm_spec *vs = dst;

	return spec_array(ctx, path, v, "nics", SPEC_NICS_MAX, spec_nic_keys,
	    SPEC_NNIC_KEYS, vs->vs_nics, sizeof(vs->vs_nics[0]), spec_nic_post,
	    &vs->vs_nnics);
}

/* An interface name as the kernel takes it (dev_valid_name). */
static int
spec_ifname(struct spec_ctx *ctx, const char *path, json_t *v, char *out)
{
	char name[SPEC_IFNAME_MAX + 1], q[SPEC_QUOTE_LEN];
	size_t i;

	if (spec_string(ctx, path, v, SPEC_IFNAME_MAX, false, name) != 0)
		return -EINVAL;
	for (i = 0; name[i] != '\0'; i++)
		if (name[i] <= ' ' || name[i] == '/' || name[i] == ':' ||
		    name[i] > '~')
			break;
	if (name[i] != '\0' || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0) {
		spec_err(ctx, "%s: \"%s\" is not an interface name", path,
		    spec_quote(q, sizeof(q), name, strlen(name)));
		return -EINVAL;
	}
	memcpy(out, name, strlen(name) + 1);
	return 0;
}

static int
spec_v_nic_tap(struct spec_ctx *ctx, const char *path, json_t *v, void *dst)
{
	return spec_ifname(ctx, path, v, ((struct nic_spec *)dst)->ns_tap);
}

static int
spec_v_nic_bridge(struct spec_ctx *ctx, const char *path, json_t *v,
    void *dst)
{
	return spec_ifname(ctx, path, v, ((struct nic_spec *)dst)->ns_bridge);
}

static int
spec_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "02:00:5e:10:00:01": six hex pairs, a unicast address, not all zero. */
static int
spec_v_nic_mac(struct spec_ctx *ctx, const char *path, json_t *v, void *dst)
{
	struct nic_spec *ns = dst;
	const char *s = json_string_value(v);
	uint8_t mac[6];
	unsigned int i;

	if (json_string_length(v) != 17)
		goto bad;
	for (i = 0; i < 6; i++) {
		int hi = spec_hexval(s[3 * i]), lo = spec_hexval(s[3 * i + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			goto bad;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	if (mac[0] & 1) {
		spec_err(ctx, "%s: %s is a multicast address", path, s);
		return -EINVAL;
	}
	if ((mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]) == 0) {
		spec_err(ctx, "%s: the all-zero address is not usable", path);
		return -EINVAL;
	}
	memcpy(ns->ns_mac, mac, 6);
	ns->ns_has_mac = true;
	return 0;
bad:
	spec_err(ctx, "%s: not a MAC address", path);
	return -EINVAL;
}

static int
spec_int_range(struct spec_ctx *ctx, const char *path, json_t *v,
    json_int_t lo, json_int_t hi, unsigned int *out)
{
	json_int_t n = json_integer_value(v);

	if (n < lo || n > hi) {
		spec_err(ctx, "%s: %lld is out of range (%lld to %lld)", path,
		    (long long)n, (long long)lo, (long long)hi);
		return -EINVAL;
	}
	*out = (unsigned int)n;
	return 0;
}

static int
spec_v_nic_mtu(struct spec_ctx *ctx, const char *path, json_t *v, void *dst)
{
	return spec_int_range(ctx, path, v, SPEC_MTU_MIN, SPEC_MTU_MAX,
	    &((struct nic_spec *)dst)->ns_mtu);
}

static int
spec_v_nic_queues(struct spec_ctx *ctx, const char *path, json_t *v,
    void *dst)
{
	return spec_int_range(ctx, path, v, 1, SPEC_NIC_QUEUES_MAX,
	    &((struct nic_spec *)dst)->ns_queues);
}

static int
spec_v_nic_vhost(struct spec_ctx *ctx, const char *path, json_t *v,
    void *dst)
{
	(void)ctx;
	(void)path;
	((struct nic_spec *)dst)->ns_vhost = json_is_true(v);
	return 0;
}

static int
spec_v_nic_offloads(struct spec_ctx *ctx, const char *path, json_t *v,
    void *dst)
{
	(void)ctx;
	(void)path;
	((struct nic_spec *)dst)->ns_no_offloads = json_is_false(v);
	return 0;
}

/* An integer from 0 (no limit) to max, as a rate or a cap. */
static int
spec_u64_range(struct spec_ctx *ctx, const char *path, json_t *v,
    uint64_t max, const char *unit, uint64_t *out)
{
	json_int_t n = json_integer_value(v);

	if (n < 0 || (uint64_t)n > max) {
		spec_err(ctx, "%s: %lld is out of range (0 to %llu %s; 0: no "
		    "limit)", path, (long long)n, (unsigned long long)max,
		    unit);
		return -EINVAL;
	}
	*out = (uint64_t)n;
	return 0;
}

/*
 * "rate_limit": {"bytes_per_sec": N, "packets_per_sec": N}, either or
 * both; the device's token buckets (docs/net.md).
 */
static int
spec_v_nic_rate_limit(struct spec_ctx *ctx, const char *path, json_t *v,
    void *dst)
{
	return spec_walk(ctx, path, v, spec_rate_keys, SPEC_NRATE_KEYS, dst);
}

static int
spec_v_rate_bytes(struct spec_ctx *ctx, const char *path, json_t *v,
    void *dst)
{
	return spec_u64_range(ctx, path, v, SPEC_RATE_BYTES_MAX, "bytes/s",
	    &((struct nic_spec *)dst)->ns_rate_bps);
}

static int
spec_v_rate_packets(struct spec_ctx *ctx, const char *path, json_t *v,
    void *dst)
{
	return spec_u64_range(ctx, path, v, SPEC_RATE_OPS_MAX, "packets/s",
	    &((struct nic_spec *)dst)->ns_rate_pps);
}

static int
spec_v_jail(struct spec_ctx *ctx, const char *path, json_t *v, void *dst)
{
	(void)ctx;
	(void)path;
	((struct vm_spec *)dst)->vs_jail = json_is_true(v);
	return 0;
}

/* "limits": {"cpu_cap": %, "disk_iops": N, "disk_bps": N}, all optional. */
static int
spec_v_limits(struct spec_ctx *ctx, const char *path, json_t *v, void *dst)
{
	return spec_walk(ctx, path, v, spec_limits_keys, SPEC_NLIMITS_KEYS,
	    &((struct vm_spec *)dst)->vs_limits);
}

/* Percent of one CPU, as vmadm's cpu_cap: 100 is one whole CPU. */
static int
spec_v_cpu_cap(struct spec_ctx *ctx, const char *path, json_t *v, void *dst)
{
	uint64_t cap;

	if (spec_u64_range(ctx, path, v, SPEC_CPU_CAP_MAX, "percent of one CPU",
	    &cap) != 0)
		return -EINVAL;
	((struct limits_spec *)dst)->ls_cpu_cap = (unsigned int)cap;
	return 0;
}

static int
spec_v_disk_iops(struct spec_ctx *ctx, const char *path, json_t *v,
    void *dst)
{
	return spec_u64_range(ctx, path, v, SPEC_RATE_OPS_MAX, "requests/s",
	    &((struct limits_spec *)dst)->ls_disk_iops);
}

static int
spec_v_disk_bps(struct spec_ctx *ctx, const char *path, json_t *v,
    void *dst)
{
	return spec_u64_range(ctx, path, v, SPEC_RATE_BYTES_MAX, "bytes/s",
	    &((struct limits_spec *)dst)->ls_disk_bps);
}

static int
spec_v_autoboot(struct spec_ctx *ctx, const char *path, json_t *v, void *dst)
{
	(void)ctx;
	(void)path;
	((struct vm_spec *)dst)->vs_autoboot = json_is_true(v);
	return 0;
}

/*
 * "metadata": {"key": "value", ...}: at most SPEC_META_MAX entries, keys
 * of 1..64 bytes from A-Z a-z 0-9 . _ -, values strings of at most 1024
 * bytes without NUL.  Kept for the guest (a later issue hands it over).
 */
static int
spec_v_metadata(struct spec_ctx *ctx, const char *path, json_t *v, void *dst)
{
	struct vm_spec *vs = dst;
	char sub[SPEC_PATH_LEN], q[SPEC_QUOTE_LEN];
	const char *k;
	json_t *val;
	size_t i, klen;
	int rc = 0;

	if (json_object_size(v) > SPEC_META_MAX) {
		spec_err(ctx, "%s: has %zu entries (at most %d)", path,
		    json_object_size(v), SPEC_META_MAX);
		return -EINVAL;
	}
	json_object_foreach(v, k, val) {
		struct spec_meta *m = &vs->vs_meta[vs->vs_nmeta];

		klen = strlen(k);
		for (i = 0; i < klen; i++)
			if (!spec_name_char(k[i]))
				break;
		/* A key that is not a plain name is quoted in the path. */
		snprintf(sub, sizeof(sub), klen > 0 && i == klen ? "%s.%s" :
		    "%s.\"%s\"", path, spec_quote(q, sizeof(q), k, klen));
		if (klen == 0 || klen > SPEC_META_KEY_MAX || i < klen) {
			spec_err(ctx, "%s: a key must be 1 to %d bytes of "
			    "A-Z a-z 0-9 . _ -", sub, SPEC_META_KEY_MAX);
			rc = -EINVAL;
			continue;
		}
		if (!json_is_string(val)) {
			spec_err(ctx, "%s: expected a string, got %s", sub,
			    spec_type_name(val));
			rc = -EINVAL;
			continue;
		}
		if (spec_string(ctx, sub, val, SPEC_META_VAL_MAX, true,
		    m->sm_val) != 0) {
			rc = -EINVAL;
			continue;
		}
		memcpy(m->sm_key, k, klen + 1);
		vs->vs_nmeta++;
	}
	return rc;
}

/* Two disks on one file would corrupt it: refuse the second. */
static int
spec_check_disks(struct spec_ctx *ctx, const struct vm_spec *vs)
{
	unsigned int i, j;
	int rc = 0;

	for (i = 0; i < vs->vs_ndisks; i++) {
		const struct disk_spec *d = &vs->vs_disks[i];

		for (j = 0; j < i; j++) {
			const struct disk_spec *e = &vs->vs_disks[j];

			if (d->ds_path[0] != '\0' &&
			    strcmp(d->ds_path, e->ds_path) == 0) {
				spec_err(ctx, "disks[%u].path: the same file as "
				    "disks[%u]", i, j);
				rc = -EINVAL;
				break;
			}
			if (d->ds_volume[0] != '\0' &&
			    strcmp(d->ds_volume, e->ds_volume) == 0) {
				spec_err(ctx, "disks[%u].volume: the same volume "
				    "as disks[%u]", i, j);
				rc = -EINVAL;
				break;
			}
		}
	}
	return rc;
}

static bool
spec_blank(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' &&
		    s[i] != '\r')
			return false;
	return true;
}

/*
 * Make path absolute against dir (itself absolute) when it is relative.
 * Reports an error and returns -EINVAL if the result does not fit.
 */
static int
spec_resolve(struct spec_ctx *ctx, const char *key, const char *dir,
    char *path)
{
	char buf[SPEC_PATH_MAX + 1], q[SPEC_QUOTE_LEN];
	int n;

	if (path[0] == '\0' || path[0] == '/')
		return 0;
	n = snprintf(buf, sizeof(buf), "%s%s%s", dir,
	    dir[strlen(dir) - 1] == '/' ? "" : "/", path);
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		spec_err(ctx, "%s: \"%s\" resolved against the spec's "
		    "directory is longer than %d bytes", key,
		    spec_quote(q, sizeof(q), path, strlen(path)), SPEC_PATH_MAX);
		return -EINVAL;
	}
	memcpy(path, buf, (size_t)n + 1);
	return 0;
}

/*
 * spec_parse with name used to prefix file-level errors and, if dir is not
 * NULL, relative kernel/initrd paths resolved against dir.
 */
static int
spec_parse_in(const char *json, size_t len, const char *name, const char *dir,
    struct vm_spec *out, struct spec_errs *errs)
{
	struct spec_ctx ctx = { .sc_errs = errs };
	char key[32];
	json_error_t jerr;
	unsigned int i;
	json_t *root;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(errs, 0, sizeof(*errs));

	if (spec_blank(json, len)) {
		spec_err(&ctx, "%s: empty spec (expected a JSON object)", name);
		return -EINVAL;
	}
	/*
	 * JSON_ALLOW_NUL: jansson's own message about \u0000 names one of its
	 * flags; spec_string() rejects NUL bytes with a better one.
	 */
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY |
	    JSON_ALLOW_NUL, &jerr);
	if (root == NULL) {
		spec_err(&ctx, "%s:%d:%d: %s: %s", name, jerr.line, jerr.column,
		    json_error_code(&jerr) == json_error_duplicate_key ?
		    "JSON error" : "JSON syntax error", jerr.text);
		return -EINVAL;
	}
	if (!json_is_object(root)) {
		spec_err(&ctx, "top level: expected an object, got %s",
		    spec_type_name(root));
		json_decref(root);
		return -EINVAL;
	}

	out->vs_vcpus = SPEC_VCPUS_DEFAULT;
	out->vs_ram_mib = SPEC_RAM_DEFAULT_MIB;
	out->vs_jail = true;
	rc = spec_walk(&ctx, "", root, spec_top_keys, SPEC_NTOP_KEYS, out);
	json_decref(root);

	/* Each disk's device enforces the disk limits on its own. */
	for (i = 0; i < out->vs_ndisks; i++) {
		out->vs_disks[i].ds_iops = out->vs_limits.ls_disk_iops;
		out->vs_disks[i].ds_bps = out->vs_limits.ls_disk_bps;
	}

	if (rc == 0 && dir != NULL) {
		if (spec_resolve(&ctx, "kernel", dir, out->vs_kernel) != 0)
			rc = -EINVAL;
		if (spec_resolve(&ctx, "initrd", dir, out->vs_initrd) != 0)
			rc = -EINVAL;
		for (i = 0; i < out->vs_ndisks; i++) {
			if (out->vs_disks[i].ds_volume[0] != '\0')
				continue;	/* vmm_run finds its pool */
			snprintf(key, sizeof(key), "disks[%u].path", i);
			if (spec_resolve(&ctx, key, dir,
			    out->vs_disks[i].ds_path) != 0)
				rc = -EINVAL;
		}
	}
	if (rc == 0)
		rc = spec_check_disks(&ctx, out);
	if (rc != 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

int
spec_parse(const char *json, size_t len, struct vm_spec *out,
    struct spec_errs *errs)
{
	return spec_parse_in(json, len, "<spec>", NULL, out, errs);
}

/*
 * The absolute directory holding the file at path, in a malloc'd string.
 * Not canonicalized: symlinks and ".." stay as the user wrote them.
 */
static char *
spec_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *cwd, *dir;
	int n;

	if (path[0] == '/')
		return strndup(path, slash == path ? 1 : (size_t)(slash - path));
	if ((cwd = getcwd(NULL, 0)) == NULL)
		return NULL;
	if (slash == NULL)
		return cwd;
	n = asprintf(&dir, "%s/%.*s", strcmp(cwd, "/") == 0 ? "" : cwd,
	    (int)(slash - path), path);
	free(cwd);
	return n < 0 ? NULL : dir;
}

/*
 * Read the whole regular file at path into a malloc'd buffer.  Returns 0, or
 * -errno (-EFBIG when over SPEC_MAX_BYTES), with *why set when strerror()
 * would not say it well.
 */
static int
spec_read(const char *path, char **bufp, size_t *lenp, const char **why)
{
	struct stat st;
	char *buf;
	size_t len = 0;
	ssize_t n;
	int fd, rc;

	*why = NULL;
	/* O_NONBLOCK: opening a FIFO must not hang before fstat refuses it. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) == -1)
		return -errno;
	if (fstat(fd, &st) == -1) {
		rc = -errno;
		goto err_close_fd;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = -EISDIR;
		goto err_close_fd;
	}
	if (!S_ISREG(st.st_mode)) {
		*why = "not a regular file";
		rc = -EINVAL;
		goto err_close_fd;
	}
	if (st.st_size > SPEC_MAX_BYTES) {
		rc = -EFBIG;
		goto err_close_fd;
	}
	/* One byte more than allowed, to see a file that grew meanwhile. */
	if ((buf = malloc(SPEC_MAX_BYTES + 1)) == NULL) {
		rc = -ENOMEM;
		goto err_close_fd;
	}
	while (len < SPEC_MAX_BYTES + 1) {
		n = read(fd, buf + len, SPEC_MAX_BYTES + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			rc = -errno;
			goto err_free_buf;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > SPEC_MAX_BYTES) {
		rc = -EFBIG;
		goto err_free_buf;
	}
	close(fd);
	*bufp = buf;
	*lenp = len;
	return 0;

err_free_buf:
	free(buf);
err_close_fd:
	close(fd);
	return rc;
}

int
spec_load(const char *path, struct vm_spec *out, struct spec_errs *errs)
{
	struct spec_ctx ctx = { .sc_errs = errs };
	const char *why;
	char *buf = NULL, *dir;
	size_t len = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(errs, 0, sizeof(*errs));

	if ((rc = spec_read(path, &buf, &len, &why)) != 0) {
		if (rc == -EFBIG)
			spec_err(&ctx, "%s: larger than %d bytes", path,
			    SPEC_MAX_BYTES);
		else
			spec_err(&ctx, "%s: %s", path, why != NULL ? why :
			    strerror(-rc));
		return rc;
	}
	if ((dir = spec_dirname(path)) == NULL) {
		rc = -errno;
		spec_err(&ctx, "%s: cannot name its directory: %s", path,
		    strerror(-rc));
		goto err_free_buf;
	}
	rc = spec_parse_in(buf, len, path, dir, out, errs);
	free(dir);
err_free_buf:
	free(buf);
	return rc;
}
