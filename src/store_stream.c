/*
 * store_stream: envelope files read and written in pieces, for entries
 * too big to hold in memory more than once (cache_stream.c), and the one
 * atomic save that ec_store_write() uses too.  The same rules as store.c:
 * ids checked, no symlink followed, saves through a temp file renamed
 * over the envelope.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "store.h"
#include "store_int.h"

int ec_store_open_entry(const struct ec_store *s, const char *id, int *fd,
			struct stat *st)
{
	char name[NAME_MAX + 1];
	int dfd, f, err = 0;

	*fd = -1;
	dfd = ec_store_open_parent(s, id, true, name);
	if (dfd < 0)
		return dfd;
	/* O_NONBLOCK: a FIFO planted in the cache must not hang us. */
	f = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (f < 0)
		err = -errno;
	else if (fstat(f, st) < 0)
		err = -errno;
	else if (!S_ISREG(st->st_mode))
		err = S_ISDIR(st->st_mode) ? -EISDIR : -EINVAL;
	if (err && f >= 0)
		close(f);
	else if (!err)
		*fd = f;
	close(dfd);
	return err;
}

/* The envelope name holds now, for check(): opened without following a
 * symlink (-1 and st NULL when there is none), then closed. */
static int check_target(int dfd, const char *name,
			int (*check)(void *ctx, int fd, const struct stat *st),
			void *ctx)
{
	struct stat st;
	int fd, err;

	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? check(ctx, -1, NULL) : -errno;
	err = fstat(fd, &st) < 0 ? -errno : check(ctx, fd, &st);
	close(fd);
	return err;
}

/* The atomic save; with check, only over the version check accepts, in
 * a directory that must exist. */
static int save_with(const struct ec_store *s, const char *id, unsigned flags,
		     int (*fill)(void *ctx, int fd),
		     int (*check)(void *ctx, int fd, const struct stat *st),
		     void *ctx)
{
	char name[NAME_MAX + 1], tmp[EC_STORE_TMP_NAME_SIZE];
	struct stat st;
	int dfd, fd = -1, err, tries;
	bool made = false;

	dfd = check ? ec_store_open_parent(s, id, true, name) :
		ec_store_open_parent_mk(s, id, name);
	if (dfd < 0)
		return dfd;
	/* A directory of the same name as the entry's file would make
	 * rename(2) fail late; say so early (with check, check() sees it:
	 * it is not the version read). */
	if (!check && fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode)) {
		err = -EISDIR;
		goto out;
	}
	for (tries = 0; tries < 16; tries++) {
		err = ec_store_temp_name(tmp);
		if (err)
			goto out;
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
			    O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	made = true;
	/* The umask can only remove bits; make sure it is exactly 0600. */
	err = fchmod(fd, 0600) < 0 ? -errno : fill(ctx, fd);
	if (!err && (flags & EC_STORE_DURABLE) && fsync(fd) < 0)
		err = -errno;
	if (close(fd) < 0 && !err)
		err = -errno;
	fd = -1;
	if (!err && check)
		err = check_target(dfd, name, check, ctx);
	if (err)
		goto out;
	if (flags & EC_STORE_NOREPLACE)
		err = renameat2(dfd, tmp, dfd, name, RENAME_NOREPLACE);
	else
		err = renameat(dfd, tmp, dfd, name);
	if (err < 0) {
		err = -errno;
		goto out;
	}
	made = false;
	if ((flags & EC_STORE_DURABLE) && fsync(dfd) < 0)
		err = -errno;
out:
	if (fd >= 0)
		close(fd);
	if (made)
		unlinkat(dfd, tmp, 0);
	close(dfd);
	return err;
}

int ec_store_write_with(const struct ec_store *s, const char *id,
			unsigned flags, int (*fill)(void *ctx, int fd),
			void *ctx)
{
	return save_with(s, id, flags, fill, NULL, ctx);
}

int ec_store_replace_with(const struct ec_store *s, const char *id,
			  unsigned flags, int (*fill)(void *ctx, int fd),
			  int (*check)(void *ctx, int fd,
				       const struct stat *st),
			  void *ctx)
{
	if (!check)
		abort();	/* that is ec_store_write_with(): a bug */
	return save_with(s, id, flags, fill, check, ctx);
}
