/*
 * recent: the content of entry versions decrypted lately to learn their
 * metadata (a lookup, a listing), kept a moment for the read that nearly
 * always follows (`find | xargs cat`, `cat *`), so that a cold read
 * decrypts each version once instead of twice.  Bounded in count, bytes
 * and age; the plaintext is in guarded memory and wiped when it goes (at
 * the latest EC_RECENT_US after it came).  Thread-safe (one mutex).
 */
#ifndef EC_FS_RECENT_H
#define EC_FS_RECENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fsmeta.h"

/* Small contents are kept in one guarded arena (taken while any is kept,
 * given back when none is; 256 KiB, doubled while full of young ones up
 * to EC_RECENT_BYTES), at most EC_RECENT_SLOTS of them: 16,384 entries
 * of 1 KiB, so that `find | xargs cat` (which may list the whole tree
 * before cat opens the first) finds them; with 8 MiB a fresh mount's
 * read of 10k such entries decrypted 1,808 of them twice. */
#define EC_RECENT_SLOTS 16384u
#define EC_RECENT_ENTRY_MAX (64u << 10)	/* a small content */
#define EC_RECENT_BYTES ((size_t)16 << 20)	/* small ones kept at most */
#define EC_RECENT_US 2000000		/* kept at most this long */

/* One big content (a big entry's plaintext, decrypted at its lookup to
 * learn its size) may be kept too, alone of its size: the open that
 * follows then takes it instead of decrypting it all again, and the
 * daemon's peak memory stays that of one copy. */

struct ec_recent;

int ec_recent_new(struct ec_recent **out) __attribute__((warn_unused_result));
/* Wipe and free everything; NULL is a no-op. */
void ec_recent_free(struct ec_recent *r);

/* Keep content (ec_secure_alloc'd, taken over: freed here when not kept)
 * for version k (digest d), at now. */
void ec_recent_put(struct ec_recent *r, const struct ec_fsmeta_key *k,
		   uint64_t d, uint8_t *content, size_t len, int64_t now);

/* Take version (k, d)'s content when it is kept and young: true, and
 * *content (ec_secure_free) and *len are the caller's. */
bool ec_recent_take(struct ec_recent *r, const struct ec_fsmeta_key *k,
		    uint64_t d, int64_t now, uint8_t **content, size_t *len);
/* The same for the big one alone, and *read_at, the instant given when it
 * was put (its read began then or later).  The big one is kept
 * EC_RECENT_US from when it came (its decryption may have taken a while
 * since that instant). */
bool ec_recent_take_big(struct ec_recent *r, const struct ec_fsmeta_key *k,
			uint64_t d, int64_t now, uint8_t **content,
			size_t *len, int64_t *read_at);

/* Wipe and free the big one now if it is version k's, whatever its
 * digest: nothing will take it (a writer truncates that version). */
void ec_recent_drop_big(struct ec_recent *r, const struct ec_fsmeta_key *k);

#endif
