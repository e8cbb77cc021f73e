/*
 * fsstats: what a running enccachefs counted since it started, as the
 * JSON text of the user.enccache.stats extended attribute on the mount
 * root (so `getfattr -n user.enccache.stats MOUNT` shows it too):
 *
 *   {"lookups": N, "hits": N, "misses": N,
 *    "hidden": {"stale": N, "salt-mismatch": N, "unknown-key": N,
 *               "corrupt": N, "tampered": N},
 *    "decryptions": N, "saves": N, "failed_saves": N,
 *    "bytes_read": N, "bytes_written": N, "envelope_reads": N,
 *    "prefilled": N, "listings_kept": N}
 *
 * N: non-negative integers.  Readers accept the members in any order,
 * missing ones (an older daemon) and extra ones (a newer daemon).  The
 * daemon can write the text with ec_fsstats_format(); enccache stats
 * --mount reads it with ec_fsstats_parse().  No I/O, no globals.
 */
#ifndef EC_FSSTATS_H
#define EC_FSSTATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ec_fsstat {
	EC_FSSTAT_LOOKUPS,
	EC_FSSTAT_HITS,
	EC_FSSTAT_MISSES,
	EC_FSSTAT_HIDDEN_STALE,
	EC_FSSTAT_HIDDEN_SALT_MISMATCH,
	EC_FSSTAT_HIDDEN_UNKNOWN_KEY,
	EC_FSSTAT_HIDDEN_CORRUPT,
	EC_FSSTAT_HIDDEN_TAMPERED,
	EC_FSSTAT_DECRYPTIONS,
	EC_FSSTAT_SAVES,
	EC_FSSTAT_FAILED_SAVES,
	EC_FSSTAT_BYTES_READ,
	EC_FSSTAT_BYTES_WRITTEN,
	EC_FSSTAT_ENVELOPE_READS,	/* envelopes read from the cache dir */
	EC_FSSTAT_PREFILLED,	/* opens that stored their content in the
				   kernel's page cache (bytes_read too) */
	EC_FSSTAT_LISTINGS_KEPT,	/* opendirs that let the kernel use
					   the listing it kept */
	EC_FSSTAT_N
};

#define EC_FSSTATS_XATTR "user.enccache.stats"

struct ec_fsstats {
	uint64_t v[EC_FSSTAT_N];
	bool has[EC_FSSTAT_N];	/* present in the text parsed */
	char *json;		/* the text parsed (extra members kept),
				   without surrounding white space;
				   malloc'd or NULL */
};

/* Where counter i lives: its member name, and the object it is in
 * ("hidden", or NULL for the top level).  E.g. "salt-mismatch" in
 * "hidden".  Static strings. */
const char *ec_fsstats_name(enum ec_fsstat i);
const char *ec_fsstats_group(enum ec_fsstat i);

/*
 * Parse len bytes of the attribute's text into *s (initialised here;
 * release with ec_fsstats_release()).  -EC_EJSON when it is not one JSON
 * object, -EC_EFIELD when a known member is not a non-negative integer
 * (or "hidden" not an object), -ENOMEM.
 */
int ec_fsstats_parse(const char *text, size_t len, struct ec_fsstats *s)
	__attribute__((warn_unused_result));
void ec_fsstats_release(struct ec_fsstats *s);

/* The text for s->v (every counter, in the order above, has[] ignored):
 * *out malloc'd and NUL-terminated, *len its length.  -ENOMEM. */
int ec_fsstats_format(const struct ec_fsstats *s, char **out, size_t *len)
	__attribute__((warn_unused_result));

#endif
