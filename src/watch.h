/*
 * watch: inotify on directories below the cache directory, so the mount
 * learns about envelopes that another process adds, rewrites or removes.
 * No crypto, no FUSE.  One thread reads the events and hands them, in
 * batches, to a callback.
 *
 * Lock order: the callback runs without any lock of this module held, so
 * it may take its own locks and call ec_watch_add()/ec_watch_remove();
 * those may be called with the caller's locks held.
 */
#ifndef EC_WATCH_H
#define EC_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What happened (bits of ec_watch_event.what). */
enum {
	EC_WATCH_CHANGED = 1u << 0,	/* name was created, written,
					   removed, renamed, or had its
					   attributes changed */
	EC_WATCH_ISDIR = 1u << 1,	/* name is (or was) a directory */
	EC_WATCH_SELF = 1u << 2,	/* the watched directory itself was
					   removed or renamed (name is "") */
	EC_WATCH_GONE = 1u << 3,	/* the watch is gone (directory removed,
					   unmounted); wd is no longer valid */
	EC_WATCH_OVERFLOW = 1u << 4,	/* events were lost: wd is -1, assume
					   that everything changed */
};

struct ec_watch_event {
	int wd;			/* as returned by ec_watch_add(), or -1 */
	unsigned what;		/* EC_WATCH_* bits, merged within a batch */
	const char *name;	/* file name in the directory, or "" */
};

/*
 * Called from the watch thread with n events (n >= 1), each (wd, name)
 * pair at most once per batch.  ev and the names are borrowed for the
 * duration of the call.
 */
typedef void (*ec_watch_fn)(void *ctx, const struct ec_watch_event *ev,
			    size_t n);

struct ec_watch;

/*
 * Set up inotify for the directory tree under dirfd (borrowed: must stay
 * open until ec_watch_free()).  No thread is started yet, so this may be
 * called before fork().  *out: free with ec_watch_free().  -errno.
 */
int ec_watch_open(int dirfd, ec_watch_fn fn, void *ctx,
		  struct ec_watch **out) __attribute__((warn_unused_result));

/* Start the reader thread (call it after any fork).  -errno. */
int ec_watch_start(struct ec_watch *w) __attribute__((warn_unused_result));

/*
 * Whether every event queued before the call has been handed to the
 * callback and the callback has returned: true only when the queue is
 * empty and the thread is not between a read and its callback's end (the
 * thread runs, too).  So a caller that sees true, then looks at what its
 * callback changes, sees every change the kernel had queued an event for
 * before this call.  One poll(2); no lock.
 */
bool ec_watch_settled(struct ec_watch *w);

/*
 * Watch reldir ("" = the cache dir itself), opened one component at a time
 * from dirfd without following symlinks.  *wd gets the watch descriptor;
 * watching the same directory twice gives the same wd and counts a
 * reference.  -ENOTDIR, -ELOOP, -ENOSPC (inotify watch limit), -errno.
 */
int ec_watch_add(struct ec_watch *w, const char *reldir, int *wd)
	__attribute__((warn_unused_result));

/* Drop one reference to wd; the watch ends with the last one.  Unknown or
 * gone wds are ignored. */
void ec_watch_remove(struct ec_watch *w, int wd);

/*
 * Whether inotify sees every change of the file system holding dirfd:
 * false for network and FUSE file systems (nfs, cifs/smb, 9p, ceph, afs,
 * fuse, ...), where other hosts' changes raise no event.  No side effects.
 */
bool ec_watch_reliable(int dirfd);

/* Stop the thread (waits for a running callback to return), remove every
 * watch, free w.  NULL is a no-op. */
void ec_watch_free(struct ec_watch *w);

#endif
