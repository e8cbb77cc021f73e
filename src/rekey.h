/*
 * rekey: move a cache's entries to new keys (a new salt, new passwords,
 * new key names), one entry at a time, each with the atomic save, so a
 * run can be killed at any point and run again.  Part of the cache
 * module (cache_rekey.c); prints nothing, keeps no globals.
 *
 * Two caches over the same directory: `from`, opened with the keys the
 * entries have now, and `to`, with the keys they get.  Open both with a
 * TTL that never expires and no oldest_valid, so that every entry whose
 * token authenticates opens, stale or not: rekey keeps created_at, so a
 * stale entry stays stale under the new keys, and one that is fresh
 * stays fresh for exactly as long.
 *
 * What an entry keeps: its data bytes exactly (a binary plist or not,
 * they are the payload's `data`), validasof, comment and created_at as
 * stored (the same text, or absent when it was); it gets `to`'s salt
 * fingerprint, its new key name and a new token.  Envelope members other
 * than FORMAT.md's five are not kept (Python's save does not keep them
 * either).
 */
#ifndef EC_REKEY_H
#define EC_REKEY_H

#include <stddef.h>

#include "cache.h"

/* A key name of `from` and the key name of `to` its entries move to. */
struct ec_rekey_map {
	const char *from;
	const char *to;
};

/* Why ec_rekey_new() refused a plan (the name in *bad). */
enum ec_rekey_problem {
	EC_REKEY_PLAN_OK,
	EC_REKEY_MAP_FROM,	/* a map's from is no key of `from` */
	EC_REKEY_MAP_TO,	/* a map's to is no key of `to` */
	EC_REKEY_MAP_TWICE,	/* a name is mapped twice */
	EC_REKEY_MAP_CHAIN,	/* a name is mapped to and mapped from */
	EC_REKEY_NO_NEW_KEY,	/* a key of `from`, not mapped, is no key of
				   `to` */
};

struct ec_rekey;

/*
 * The plan: each key name of `from` goes to the name map[0..nmap) gives
 * it, else to itself, which must be a key of `to`.  Every key of both
 * caches is derived (once) here.  A key whose target has the same name,
 * the same salt and the same derived key is "unchanged": its entries are
 * not rewritten.  Map chains (a=b with b=c) are refused, so that a run
 * done twice moves nothing twice.  Both caches are borrowed until
 * ec_rekey_free(), which also removes the spare temp files the saves
 * kept (ec_rekey_entry()).  0 with *out (free with ec_rekey_free());
 * -EC_EKEY (or -EINVAL for TWICE and CHAIN) with *problem and *bad (a
 * name from map or from the keys, borrowed) set; -ENOMEM.
 */
int ec_rekey_new(const struct ec_cache *from, const struct ec_cache *to,
		 const struct ec_rekey_map *map, size_t nmap,
		 struct ec_rekey **out, enum ec_rekey_problem *problem,
		 const char **bad) __attribute__((warn_unused_result));
void ec_rekey_free(struct ec_rekey *r);

/* Derive (or fetch from its key source) every key of c now, in parallel,
 * for a cache opened with lazy_keys: rekey needs them all, and deriving
 * the old ones while the new ones are derived halves the wait.
 * 0 or -errno. */
int ec_rekey_derive(struct ec_cache *c) __attribute__((warn_unused_result));

/* How many keys of `from` have new keys (are not unchanged). */
size_t ec_rekey_changed_keys(const struct ec_rekey *r);

enum ec_rekey_outcome {
	EC_REKEY_REKEYED,	/* saved under the new keys (or would be) */
	EC_REKEY_UNCHANGED,	/* its key is unchanged: nothing to do */
	EC_REKEY_ALREADY,	/* opens with the new keys already (an
				   earlier, interrupted run did it) */
	EC_REKEY_LEFT,		/* neither key set opens it (e says why):
				   left as it is */
	EC_REKEY_GONE,		/* removed meanwhile */
	EC_REKEY_BUSY,		/* changed by another writer under each of
				   EC_REKEY_TRIES attempts: left as the
				   writer left it */
	EC_REKEY_FAILED,	/* the save failed (*err, e.g. -ENOSPC): the
				   old envelope stays */
};
#define EC_REKEY_TRIES 3

enum {
	EC_REKEY_DRY_RUN = 1u << 0,	/* decide, write nothing */
};

/*
 * Rekey id.  It is loaded with `from`'s keys; when they open it, its
 * payload is sealed with its new key and saved through a temp file that
 * is renamed over the envelope only if the envelope is still the version
 * read (same file, size, mtime and ctime; for one under EC_STREAM_MIN the
 * same bytes too): a newer save by another writer (the mount, Python,
 * another enccache) is never overwritten with older content; the entry
 * is read again and retried.  A small entry's save allocates and frees
 * no inode (ec_store_replace_spare(): the old envelope's inode is kept,
 * at a temp name, and becomes the next save's temp file), so at most one
 * temp file a thread exists until ec_rekey_free().  A big entry
 * (EC_STREAM_MIN and over) is read and written in a stream, its
 * plaintext held once.  When `from`'s keys do not open it, `to`'s are
 * tried (ALREADY).
 *
 * e gets the entry as loaded, without its data: by `from` (by `to` for
 * ALREADY); for LEFT its state and reason say why (an unreadable file is
 * CORRUPT with the errno).  Release it with ec_entry_release() after a 0
 * return.  *err: the save's code for FAILED, else 0.  Returns 0, or
 * -EC_EID / -ENOMEM.  Thread-safe: several entries may be rekeyed at once.
 */
int ec_rekey_entry(const struct ec_rekey *r, const char *id, unsigned flags,
		   struct ec_entry *e, enum ec_rekey_outcome *outcome,
		   int *err) __attribute__((warn_unused_result));

#endif
