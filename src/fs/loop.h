/*
 * loop: the daemon's request loop on a local store (see loop.c): one
 * thread at a time reads and runs requests; a handler about to be slow
 * hands the reading to another thread first.
 */
#ifndef EC_FS_LOOP_H
#define EC_FS_LOOP_H

#include "fs.h"

/* Threads at most, the one reading included (libfuse's default). */
#define EC_LOOP_MAX_THREADS 10

/*
 * Run se's requests until it ends (unmounted, or a signal's
 * fuse_session_exit()); at most max threads.  0, or -errno when reading
 * the device failed.  Call from the main thread, with the signal handlers
 * set: the other threads block signals, as libfuse's do.
 */
int ec_loop_run(struct fuse_session *se, unsigned max);

/* ec_loop_slow(): see fs.h */

#endif
