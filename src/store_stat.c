/*
 * store_stat: stat of an entry or a directory of the store, through
 * O_PATH parents (no directory opened for reading), with retries on
 * ESTALE (a network file system's name replaced by another client).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "store_int.h"

/*
 * The parent directory of path (checked here), for a stat of its entry
 * file (is_entry) or leaf in name: s->dirfd itself for the root, else
 * opened O_PATH component by component with O_NOFOLLOW, as open_dir does
 * but without opening any directory for reading: on FUSE and network
 * file systems that open is a round trip to the server each time (two,
 * with its release), a stat through a cached name is not.  A new fd, or
 * s->dirfd (compare before closing), or -errno.
 */
static int stat_parent(const struct ec_store *s, const char *path,
		       bool is_entry, char name[NAME_MAX + 1])
{
	const char *leaf = strrchr(path, '/'), *c = path;
	char comp[NAME_MAX + 1];
	int fd = s->dirfd, err;

	err = ec_store_check_id(path);
	if (err)
		return err;
	leaf = leaf ? leaf + 1 : path;
	err = ec_store_leaf_name(s, leaf, is_entry, name);
	if (err)
		return err;
	while (c < leaf) {
		size_t n = strcspn(c, "/");
		int next;

		if (n > NAME_MAX) {
			err = -ENAMETOOLONG;
			break;
		}
		memcpy(comp, c, n);
		comp[n] = '\0';
		next = openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW |
			      O_CLOEXEC);
		if (next < 0) {
			err = -errno;
			break;
		}
		if (fd != s->dirfd)
			close(fd);
		fd = next;
		c += n + 1;
	}
	if (err && fd != s->dirfd)
		close(fd);
	return err ? err : fd;
}

/*
 * The stat in one openat2(2) of the whole path with O_PATH (which opens
 * nothing on FUSE or a network file system: no server's open is called)
 * and an fstat: three system calls where the walk takes two more per
 * level, and a missing name (a lookup before every create) costs one.
 * 0, -ENOENT (no such name: the walk would find the same), or 1: take
 * the walk, for its errno (a symlinked directory is ELOOP here, ENOTDIR
 * there) and its retries on ESTALE.
 */
static int stat_fast(const struct ec_store *s, const char *path,
		     bool is_entry, struct stat *st)
{
	char full[PATH_MAX];
	int fd, err;

	if (is_entry) {
		if (ec_store_entry_path(s, path, full) != 0)
			return 1;
	} else {
		if (ec_store_check_id(path) != 0 || strlen(path) >= sizeof(full))
			return 1;
		strcpy(full, path);
	}
	fd = ec_store_openat2(s, full, O_PATH);
	if (fd == -ENOENT)
		return -ENOENT;
	if (fd < 0)
		return 1;
	err = fstat(fd, st) < 0 ? 1 : 0;
	close(fd);
	return err;
}

static int stat_at(const struct ec_store *s, const char *path, bool is_entry,
		   struct stat *st)
{
	char name[NAME_MAX + 1];
	int dfd, err = stat_fast(s, path, is_entry, st), tries;

	if (err <= 0)
		return err;
	dfd = stat_parent(s, path, is_entry, name);
	if (dfd < 0)
		return dfd;
	/* ESTALE: on a network file system, another client renamed a new
	 * file over the name between our client's lookup and its stat (the
	 * kernel tries once more itself); a few more tries get the new one
	 * while renames follow each other fast. */
	for (tries = 0; tries < 8; tries++) {
		err = fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
		if (err != -ESTALE)
			break;
	}
	if (dfd != s->dirfd)
		close(dfd);
	return err;
}

int ec_store_stat_entry(const struct ec_store *s, const char *id,
			struct stat *st)
{
	int err = stat_at(s, id, true, st);

	if (!err && !S_ISREG(st->st_mode))
		err = S_ISLNK(st->st_mode) ? -ELOOP : -EINVAL;
	return err;
}

int ec_store_stat_known(const struct ec_store *s, const char *id,
			struct stat *st)
{
	char path[PATH_MAX];
	int err = ec_store_entry_path(s, id, path), tries;

	if (err)
		return err;
	/* ESTALE: as in stat_at */
	for (tries = 0; tries < 8; tries++) {
		err = fstatat(s->dirfd, path, st, AT_SYMLINK_NOFOLLOW) < 0 ?
			-errno : 0;
		if (err != -ESTALE)
			break;
	}
	if (!err && !S_ISREG(st->st_mode))
		err = S_ISLNK(st->st_mode) ? -ELOOP : -EINVAL;
	return err;
}

int ec_store_stat_dir(const struct ec_store *s, const char *reldir,
		      struct stat *st)
{
	int err = ec_store_check_dir(reldir);

	if (err)
		return err;
	if (!*reldir)
		err = fstat(s->dirfd, st) < 0 ? -errno : 0;
	else
		err = stat_at(s, reldir, false, st);
	if (!err && !S_ISDIR(st->st_mode))
		err = -ENOTDIR;
	return err;
}
