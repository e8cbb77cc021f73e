/*
 * probe: does the cache open with our keys and salt at all?  A wrong
 * password or salt does not fail any single load (each entry is merely
 * "tampered" or "salt mismatch"), so both front ends would show an empty
 * cache.  Before mounting (enccachefs) or listing (enccache ls) they ask
 * here instead, and refuse with one line that names the cause.
 *
 * The rule: the cache is refused when it holds envelopes and every one
 * that carries a salt fingerprint carries another than ours (and none
 * lacks one), or when, for one of our key names, it holds envelopes of
 * that key and none of them authenticates.  Envelopes of key names that
 * are not ours, corrupt and half-written ones say nothing either way.
 *
 * The cost: the envelopes' cleartext is read in walk order until every
 * one of our key names has opened one envelope (one verification per key
 * name); only when the first envelope of a key does not open are more of
 * that key tried, so that one tampered file never refuses a cache.  A
 * key name of ours that has no envelope would make the walk read every
 * envelope: it stops after EC_PROBE_LOOK_MAX envelopes instead, unless
 * something speaks against the cache by then (a key that has not opened
 * any of its envelopes, or no envelope with our salt), so a key whose
 * envelopes all come later in the walk is not checked.  Prints nothing,
 * keeps no globals.
 */
#ifndef EC_PROBE_H
#define EC_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache.h"

#define EC_PROBE_LOOK_MAX 4096	/* envelopes looked at, when all is well */

/* What the walk found, per key name met (ours or not). */
struct ec_probe_key {
	char *name;		/* malloc'd */
	bool ours;		/* one of the cache's secrets */
	bool opened;		/* an envelope of it authenticated */
	size_t failed;		/* envelopes of it that did not */
};

struct ec_probe {
	size_t envelopes;	/* envelope files parsed */
	size_t salt_ours;	/* with our fingerprint, or none at all */
	size_t salt_other;	/* with another fingerprint */
	char other_fp[17];	/* the first other fingerprint met, or "" */
	struct ec_probe_key *keys;
	size_t nkeys;
	bool complete;		/* every envelope was looked at (else the
				   walk stopped: see above) */
};

/*
 * Walk c's cache as above into *p (initialised here; release it with
 * ec_probe_release(), also after a failure).  now: for the verdicts of
 * the loads.  0, or -errno when the cache dir itself cannot be walked
 * (-ENOMEM...); unreadable files are skipped.
 */
int ec_probe_cache(const struct ec_cache *c, int64_t now, struct ec_probe *p)
	__attribute__((warn_unused_result));

void ec_probe_release(struct ec_probe *p);

/*
 * The verdict on *p: 0 when the cache may be used, -EC_ESALT when its
 * salt matches no entry, -EC_EHMAC when a key of ours opens none of its
 * entries.  The reason goes into buf as one line, snprintf-style (at
 * most size bytes, NUL-terminated when size > 0; *len, when len is not
 * NULL, gets the length of the whole text; "" for a usable cache):
 *   "salt does not match any entry (the 12 envelopes have salt
 *    fingerprint <16 hex>, ours is <16 hex>)"
 *   "password for key 'api' does not open any of its 12 entries"
 * c is the cache p was made of.  No I/O.
 */
int ec_probe_verdict(const struct ec_cache *c, const struct ec_probe *p,
		     char *buf, size_t size, size_t *len);

#endif
