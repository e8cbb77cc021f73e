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

/*
 * Editors save by renaming the file to a backup and writing a new one
 * (vim's 'backupcopy=auto'): the new file takes the place of the entry
 * that was renamed away.  So when an entry is renamed to a free name,
 * what it was is remembered for a few seconds (EC_REPLACE_AWAY_US), and a
 * file created under its old name in that time becomes an overwrite of
 * it: stored as the entry stored writes, saved with its key name and
 * comment.  (A file renamed over an entry is not remembered: that is a
 * temp file, whose name is free again.)  The table is struct ecfs's
 * recent[], under fs->lock.
 */
#define EC_REPLACE_AWAY_US (5 * 1000000LL)

/* What a valid entry was, for a file that takes its place. */
struct ec_replace_info {
	bool valid;		/* a valid entry was there */
	bool bplist;		/* its data is a binary plist */
	char *key;		/* malloc'd */
	char *comment;		/* malloc'd, or NULL */
};

/* The entry id as it is now (I/O; no lock held).  info->valid false
 * when it is not a valid entry.  -ENOMEM. */
int ec_replace_info_of(struct ecfs *fs, const char *id,
		       struct ec_replace_info *info)
	__attribute__((warn_unused_result));
void ec_replace_info_release(struct ec_replace_info *info);

/* fs->lock held.  The entry info left name under directory parent by
 * rename (info is taken over); a name that got another entry forgets
 * what left it. */
void ec_replace_away(struct ecfs *fs, fuse_ino_t parent, const char *name,
		     struct ec_replace_info *info);
void ec_replace_forget(struct ecfs *fs, fuse_ino_t parent, const char *name);

/* fs->lock held.  n, a new file being created as name under parent,
 * takes the place of what left that name lately: true, and *bplist says
 * how its content is to be stored (ec_handle_set_view(..., true, *bplist)).
 * ec_replace_attach() does the same for info (taken over) directly: a
 * file being created renamed over a valid entry. */
bool ec_replace_claim(struct ecfs *fs, fuse_ino_t parent, const char *name,
		      const struct node *n, bool *bplist);
void ec_replace_attach(struct ecfs *fs, const struct node *n,
		       struct ec_replace_info *info);

/* fs->lock held.  For the first save of n (a file being created): the key
 * name and comment of the entry it replaces, malloc'd copies into *key
 * and *comment (each NULL when there is none).  -ENOMEM. */
int ec_replace_for_save(struct ecfs *fs, const struct node *n, char **key,
			char **comment) __attribute__((warn_unused_result));

/* Free the table (at exit). */
void ec_replace_release(struct ecfs *fs);

#endif
