/*
 * replace: a file renamed over an entry takes that entry's place as an
 * overwrite of it would (replace.c).  Tools that save by writing a temp
 * file and renaming it over the original (sed -i, `jq ... > t && mv t e`,
 * rsync, Python's os.replace) must not lose the entry's key name and
 * comment, nor turn a binary-plist entry into raw bytes.
 */
#ifndef EC_FS_REPLACE_H
#define EC_FS_REPLACE_H

#include <stdbool.h>

#include "fs.h"

/*
 * Before entry from is renamed over the shown entry to (fs->ns held
 * exclusively, nothing else): from's envelope is rewritten, when that is
 * needed, so that it carries to's key name and comment (its own created_at
 * and validasof stay), and its content is stored the way an overwrite of
 * to stores what is written: under view=auto, into an entry shown as JSON
 * (a binary plist) only JSON goes, and an entry shown raw gets from's
 * content as the mount shows it.  *rewritten tells whether from changed;
 * what the mount shows of it did not.  -EINVAL (nothing changed) when
 * from's content cannot be stored so, e.g. text that is not JSON renamed
 * over a binary-plist entry; -errno from the save.  0 and nothing done
 * when either envelope is not there or from is not valid.
 */
int ec_replace_prepare(struct ecfs *fs, const char *from, const char *to,
		       bool *rewritten) __attribute__((warn_unused_result));

#endif
