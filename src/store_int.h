/*
 * store_int: what the files of the store module share.  Internal: only
 * src/store*.c include it (everything else uses store.h).
 *
 *   store.c        ids and paths, reads, the atomic save, renames
 *   store_list.c   listing a directory, walking every entry
 *   store_stat.c   stat of an entry or a directory (O_PATH parents,
 *                  retried on ESTALE)
 *   store_tidy.c   temp files (walked, swept, removed) and removing an
 *                  entry only while it is the version that was judged
 */
#ifndef EC_STORE_INT_H
#define EC_STORE_INT_H

#include <dirent.h>
#include <limits.h>
#include <stdbool.h>

#include "store.h"

#define EC_STORE_MAX_DEPTH 128	/* deeper trees are not walked */
#define EC_STORE_TMP_NAME_SIZE (sizeof(EC_STORE_TMP_PREFIX) + EC_STORE_TMP_HEX)

/* Open the directory reldir (checked, "" = the cache dir) without
 * following any symlink; a new fd (close it) or -errno. */
int ec_store_open_dir(const struct ec_store *s, const char *reldir);

/* Check path (an id when is_entry, else any relative path), open its
 * parent directory without following symlinks, and name its leaf in name
 * (with the suffix when is_entry).  The parent's fd or -EC_EID/-errno. */
int ec_store_open_parent(const struct ec_store *s, const char *path,
			 bool is_entry, char name[NAME_MAX + 1]);

/* The name of path's last component leaf in its directory into name:
 * its entry file's (leaf + suffix; -ENAMETOOLONG when it won't fit,
 * -EC_EID when that is a temp file's name) when is_entry, else leaf
 * itself.  0 or -errno.  Does no I/O. */
int ec_store_leaf_name(const struct ec_store *s, const char *leaf,
		       bool is_entry, char name[NAME_MAX + 1]);

/* id's envelope's path from the cache dir (id checked; its parent
 * directories, then leaf + suffix) into path.  0 or -EC_EID/-errno. */
int ec_store_entry_path(const struct ec_store *s, const char *id,
			char path[PATH_MAX]);

/* path (relative to the cache dir) opened in one openat2(2) with flags
 * (O_NOFOLLOW and O_CLOEXEC added), following no symlink on the way
 * (RESOLVE_NO_SYMLINKS: as a walk with O_NOFOLLOW at each level, without
 * opening each level; a symlink on the way is ELOOP).  The fd, or
 * -errno; -ENOSYS from the first time the kernel had no openat2 on.
 * With O_PATH | O_NOFOLLOW a symlinked leaf is opened itself. */
int ec_store_openat2(const struct ec_store *s, const char *path, int flags);

/* A name read from a directory, with its d_type, for sorting (qsort,
 * bsearch with ec_store_dname_cmp); name malloc'd. */
struct ec_store_dname {
	char *name;
	unsigned char type;
};
int ec_store_dname_cmp(const void *a, const void *b);

/* Open the directory reldir (as ec_store_open_dir) as a stream: *out
 * (closedir it), or -errno. */
int ec_store_open_stream(const struct ec_store *s, const char *reldir,
			 DIR **out);

/* A fresh temp name of the new form into buf; 0 or -errno. */
int ec_store_temp_name(char buf[EC_STORE_TMP_NAME_SIZE]);

/* The same for an entry id whose parents are made 0700 when missing, as
 * ec_store_write() makes them (store_stream.c). */
int ec_store_open_parent_mk(const struct ec_store *s, const char *id,
			    char name[NAME_MAX + 1]);

#endif
