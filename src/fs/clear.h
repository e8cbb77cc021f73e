/*
 * clear: rmdir(2) of a directory that looks empty through the mount
 * (clear.c).  `rm -rf dir` must not fail with ENOTEMPTY because of
 * envelopes that are merely stale (hidden, of no use to anybody: the
 * module would overwrite them) or temp files that a killed writer left.
 */
#ifndef EC_FS_CLEAR_H
#define EC_FS_CLEAR_H

#include "fs.h"

/*
 * Empty the backing directory id (fs->ns held exclusively): when all it
 * holds is stale envelopes and our temp files, remove them (each only
 * while it is the file judged: one rewritten meanwhile stays) and return
 * 0, so that it can be removed.  Anything else stays, and nothing is
 * removed: envelopes that do not open with our keys or salt, corrupt or
 * half-written ones, valid ones, files that are not envelopes,
 * directories.  Then -ENOTEMPTY, after one warning line per hidden file
 * that must stay (the first five, then how many more) when the mount
 * shows nothing in the directory (otherwise that says why).  -errno when
 * the directory cannot be read.
 */
int ec_clear_dir(struct ecfs *fs, const char *id)
	__attribute__((warn_unused_result));

#endif
