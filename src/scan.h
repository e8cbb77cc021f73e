/*
 * scan: load many entries at once, on every core.  What enccache's ls,
 * fsck, prune, stats and export use to go over a whole cache: the ids
 * first (one walk, cheap), then the envelopes read, authenticated and
 * classified by worker threads, handed to the caller in id order.
 *
 * A load is ec_cache_load(), so states and reasons are the core's, the
 * same as the mount's.  Prints nothing, keeps no globals.
 */
#ifndef EC_SCAN_H
#define EC_SCAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "cache.h"

#define EC_SCAN_THREADS_MAX 64

/* The ids below a cache dir, in ec_cache_list()'s order (each
 * directory's names in strcmp order, recursively), with the lstat of
 * each envelope file as the walk saw it.  ids[i] and st[i]: malloc'd,
 * release with ec_scan_ids_release(). */
struct ec_scan_ids {
	char **ids;
	struct stat *st;
	size_t n;
	size_t cap;		/* room in ids and st */
};

/*
 * Every entry id below c's cache dir into *out (initialised here).  0,
 * or -errno (-ENOMEM, or the cache dir itself unreadable); unreadable
 * subdirectories are skipped as ec_store_walk() skips them.
 */
int ec_scan_list(const struct ec_cache *c, struct ec_scan_ids *out)
	__attribute__((warn_unused_result));
void ec_scan_ids_release(struct ec_scan_ids *ids);

struct ec_scan_options {
	unsigned flags;		/* EC_LOAD_* for every load */
	int64_t now;		/* the time every entry is judged at */
	unsigned threads;	/* loading threads, the calling one among
				   them; 0: the online CPUs (at most
				   EC_SCAN_THREADS_MAX) */
};

/*
 * Load ids[0..n) with ec_cache_load() on o->threads threads (the calling
 * one loads too while it would wait) and call cb in the calling thread
 * for each, in index order: err is the load's return
 * (0: e is the entry, borrowed for the callback and released after it;
 * otherwise e is NULL: -ENOENT, -EC_EID, -errno).  cb returns 0 to go
 * on; a non-zero return stops the scan and is returned.  At most a few
 * entries per thread are loaded ahead of the callback, so memory stays
 * bounded whatever n is.  Returns 0, cb's value, or -ENOMEM.
 */
int ec_scan_load(const struct ec_cache *c, const char *const *ids, size_t n,
		 const struct ec_scan_options *o,
		 int (*cb)(void *ctx, size_t i, int err, struct ec_entry *e),
		 void *ctx) __attribute__((warn_unused_result));

/*
 * ec_scan_load() with load(load_ctx, i, ids[i], e) doing the work of each
 * entry instead of ec_cache_load() (rekey: load, re-encrypt, save), in
 * the loading threads, several at once for different i.  It returns and
 * fills e as ec_cache_load() does: e is released after cb when it
 * returned 0, and not looked at otherwise.  o->flags and o->now are
 * unused.
 */
int ec_scan_work(const struct ec_cache *c, const char *const *ids, size_t n,
		 const struct ec_scan_options *o,
		 int (*load)(void *load_ctx, size_t i, const char *id,
			     struct ec_entry *e),
		 void *load_ctx,
		 int (*cb)(void *ctx, size_t i, int err, struct ec_entry *e),
		 void *ctx) __attribute__((warn_unused_result));

#endif
