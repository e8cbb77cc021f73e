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
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
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
 * symlink (-1 and st NULL when there is none), then closed.  *ino: its
 * inode (0 when there is none). */
static int check_target(int dfd, const char *name,
			int (*check)(void *ctx, int fd, const struct stat *st),
			void *ctx, ino_t *ino)
{
	struct stat st;
	int fd, err;

	*ino = 0;
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? check(ctx, -1, NULL) : -errno;
	err = fstat(fd, &st) < 0 ? -errno : check(ctx, fd, &st);
	if (!err)
		*ino = st.st_ino;
	close(fd);
	return err;
}

/* ---- the spare: an old envelope's inode, kept for the next save --------- */

/*
 * A save with a spare puts its temp file in place with RENAME_EXCHANGE,
 * so the old envelope is left at the temp name, whole, instead of being
 * freed; the next save writes its temp file into that inode.  No inode
 * is allocated or freed a save: on ext4 without a journal, allocating
 * one skips (and looks up, one by one) every inode of the group freed
 * in the last minutes, so a run of saves that each free one and
 * allocate one is quadratic.  The old inode is written again only under
 * a write lease (F_SETLEASE), which the kernel grants only while nobody
 * else has the file open: a reader that opened the old envelope before
 * the exchange reads it whole, and one that opens it later waits.
 */
struct ec_store_spare {
	int dfd;		/* its directory, -1 when there is no spare */
	int fd;			/* the file, open read-write */
	char *dir;		/* that directory below the cache dir */
	char name[EC_STORE_TMP_NAME_SIZE];
	bool judged;		/* whether the file system was looked at */
	bool no_exchange;	/* not here: rename over the envelope */
};

int ec_store_spare_new(struct ec_store_spare **out)
{
	struct ec_store_spare *sp = calloc(1, sizeof(*sp));

	*out = sp;
	if (!sp)
		return -ENOMEM;
	sp->dfd = -1;
	sp->fd = -1;
	return 0;
}

/* Forget the spare; its file removed when remove. */
static void spare_clear(struct ec_store_spare *sp, bool remove)
{
	if (sp->fd >= 0)
		close(sp->fd);
	if (sp->dfd >= 0 && remove)
		unlinkat(sp->dfd, sp->name, 0);
	if (sp->dfd >= 0)
		close(sp->dfd);
	free(sp->dir);
	sp->dir = NULL;
	sp->dfd = -1;
	sp->fd = -1;
}

void ec_store_spare_free(struct ec_store_spare *sp)
{
	if (!sp)
		return;
	spare_clear(sp, true);
	free(sp);
}

/* Whether dfd's file system is one where the spare is safe: a local one,
 * where a lease sees every reader (on a network or FUSE file system a
 * reader elsewhere holds no file of this kernel's open).  Does one
 * fstatfs. */
static bool local_fs(int dfd)
{
	struct statfs f;

	if (fstatfs(dfd, &f) < 0)
		return false;
	switch ((unsigned long)f.f_type) {
	case EXT4_SUPER_MAGIC:	/* ext2, ext3 and ext4 */
	case XFS_SUPER_MAGIC:
	case BTRFS_SUPER_MAGIC:
	case TMPFS_MAGIC:
	case F2FS_SUPER_MAGIC:
		return true;
	}
	return false;
}

/* The length of id's directory part (0 for one in the cache dir). */
static size_t dir_len(const char *id)
{
	const char *slash = strrchr(id, '/');

	return slash ? (size_t)(slash - id) : 0;
}

/*
 * The spare as the temp file of a save of id into dfd (moved there when
 * it is in another directory): its fd, under a write lease, with its
 * name in tmp; -1 when there is none or it cannot be written (then it is
 * removed).  The spare is empty afterwards either way.
 */
static int take_spare(struct ec_store_spare *sp, int dfd, const char *id,
		      char tmp[EC_STORE_TMP_NAME_SIZE])
{
	size_t n = dir_len(id);
	int fd = sp->fd;

	if (fd < 0)
		return -1;
	sp->fd = -1;
	memcpy(tmp, sp->name, EC_STORE_TMP_NAME_SIZE);
	if ((strlen(sp->dir) != n || memcmp(sp->dir, id, n) != 0) &&
	    renameat2(sp->dfd, tmp, dfd, tmp, RENAME_NOREPLACE) < 0) {
		close(fd);
		spare_clear(sp, true);
		return -1;
	}
	spare_clear(sp, false);
	/* An open by someone else meanwhile waits for our close; its lease
	 * break signal (SIGIO, which would end the process) goes nowhere:
	 * the lease set this process as the file's owner, F_SETOWN 0 none. */
	if (fcntl(fd, F_SETLEASE, F_WRLCK) < 0 ||
	    fcntl(fd, F_SETOWN, 0) < 0) {
		if (errno != EAGAIN)	/* no leases here at all */
			sp->no_exchange = true;
		close(fd);
		unlinkat(dfd, tmp, 0);
		return -1;
	}
	return fd;
}

/*
 * After the exchange of dfd/tmp with dfd/name: what is now at tmp should
 * be the envelope that check() accepted (inode ino), to keep as the
 * spare.  0 when it is kept, or removed when it cannot be kept (another
 * link to it, not ours to write, an error); -ESTALE when another
 * writer's file had taken the name between check() and the exchange: it
 * is put back (exchanged again; the new envelope is at tmp then, for the
 * caller to remove).
 */
static int put_aside(struct ec_store_spare *sp, int dfd, const char *id,
		     const char *name, const char *tmp, ino_t ino)
{
	struct stat st;
	int fd;

	fd = openat(dfd, tmp, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd >= 0 && fstat(fd, &st) < 0) {
		close(fd);
		fd = -1;
	}
	if (fd >= 0 && st.st_ino != ino) {
		close(fd);
		if (renameat2(dfd, tmp, dfd, name, RENAME_EXCHANGE) == 0)
			return -ESTALE;
		fd = -1;
	}
	if (fd >= 0 && S_ISREG(st.st_mode) && st.st_nlink == 1 &&
	    st.st_uid == geteuid()) {
		size_t n = dir_len(id);

		sp->dir = malloc(n + 1);
		sp->dfd = sp->dir ? dup(dfd) : -1;
		if (sp->dfd >= 0) {
			memcpy(sp->dir, id, n);
			sp->dir[n] = '\0';
			memcpy(sp->name, tmp, EC_STORE_TMP_NAME_SIZE);
			sp->fd = fd;
			return 0;
		}
		free(sp->dir);
		sp->dir = NULL;
	}
	if (fd >= 0)
		close(fd);
	unlinkat(dfd, tmp, 0);
	return 0;
}

/* The atomic save; with check, only over the version check accepts, in
 * a directory that must exist; with a spare (and check), the old
 * envelope's inode is kept in it and the one it held is written. */
static int save_with(const struct ec_store *s, const char *id, unsigned flags,
		     int (*fill)(void *ctx, int fd),
		     int (*check)(void *ctx, int fd, const struct stat *st),
		     void *ctx, struct ec_store_spare *sp)
{
	char name[NAME_MAX + 1], tmp[EC_STORE_TMP_NAME_SIZE];
	struct stat st;
	int dfd, fd = -1, err, tries;
	bool made = false, reused = false;
	ino_t ino = 0;

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
	if (sp && !sp->judged) {
		sp->judged = true;
		sp->no_exchange = !local_fs(dfd);
	}
	if (sp) {
		fd = take_spare(sp, dfd, id, tmp);
		reused = fd >= 0;
	}
	for (tries = 0; fd < 0 && tries < 16; tries++) {
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
	/* The umask can only remove bits; make sure it is exactly 0600
	 * (a spare has the old envelope's mode). */
	err = fchmod(fd, 0600) < 0 ? -errno : fill(ctx, fd);
	if (!err && reused) {
		/* Written over from the start: cut what is left of the old. */
		off_t end = lseek(fd, 0, SEEK_CUR);

		err = end < 0 || ftruncate(fd, end) < 0 ? -errno : 0;
	}
	if (!err && (flags & EC_STORE_DURABLE) && fsync(fd) < 0)
		err = -errno;
	if (close(fd) < 0 && !err)	/* the lease goes with it */
		err = -errno;
	fd = -1;
	if (!err && check)
		err = check_target(dfd, name, check, ctx, &ino);
	if (err)
		goto out;
	if (sp && check && ino && !sp->no_exchange) {
		err = renameat2(dfd, tmp, dfd, name, RENAME_EXCHANGE);
		if (err < 0 && errno == ENOENT) {
			/* the envelope went after check(), or the temp was
			 * swept: look again */
			err = -ESTALE;
			goto out;
		}
		if (err == 0) {
			err = put_aside(sp, dfd, id, name, tmp, ino);
			made = err != 0;
			goto synced;
		}
		if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) {
			err = -errno;
			goto out;
		}
		sp->no_exchange = true;	/* not here: rename over it */
	}
	if (flags & EC_STORE_NOREPLACE)
		err = renameat2(dfd, tmp, dfd, name, RENAME_NOREPLACE);
	else
		err = renameat(dfd, tmp, dfd, name);
	if (err < 0) {
		err = -errno;
		goto out;
	}
	made = false;
synced:
	if (!err && (flags & EC_STORE_DURABLE) && fsync(dfd) < 0)
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
	return save_with(s, id, flags, fill, NULL, ctx, NULL);
}

int ec_store_replace_with(const struct ec_store *s, const char *id,
			  unsigned flags, int (*fill)(void *ctx, int fd),
			  int (*check)(void *ctx, int fd,
				       const struct stat *st),
			  void *ctx)
{
	if (!check)
		abort();	/* that is ec_store_write_with(): a bug */
	return save_with(s, id, flags, fill, check, ctx, NULL);
}

int ec_store_replace_spare(const struct ec_store *s, const char *id,
			   unsigned flags, int (*fill)(void *ctx, int fd),
			   int (*check)(void *ctx, int fd,
					const struct stat *st),
			   void *ctx, struct ec_store_spare *sp)
{
	if (!check || !sp)
		abort();	/* ec_store_replace_with()'s bug */
	return save_with(s, id, flags, fill, check, ctx, sp);
}
