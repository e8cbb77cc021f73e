/*
 * store_read: an entry's envelope read whole, of one version: opened in
 * one openat2(2) where the kernel has it (ec_store_openat2, shared with
 * store_stat.c), else walked from the cache directory as store.c walks,
 * and read to its end until the bytes and the stat agree (Python rewrites
 * in place).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

#include "error.h"
#include "store.h"
#include "store_int.h"

/* 0 until openat2(2) answered ENOSYS (Linux before 5.6, or a seccomp
 * filter that refuses it). */
static int no_openat2;

/* store_int.h */
int ec_store_openat2(const struct ec_store *s, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
		.resolve = RESOLVE_NO_SYMLINKS,
	};
	long fd;

	if (__atomic_load_n(&no_openat2, __ATOMIC_RELAXED))
		return -ENOSYS;
	fd = syscall(SYS_openat2, s->dirfd, path, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS)
		__atomic_store_n(&no_openat2, 1, __ATOMIC_RELAXED);
	return fd < 0 ? -errno : (int)fd;
}

/*
 * id's envelope opened for reading in one openat2(2) from the cache dir
 * (a load of an entry in a directory takes one system call instead of
 * three).  -1 on any failure: the caller then takes the long way, which
 * gives each failure its errno (a symlinked directory is ENOTDIR there,
 * where it is ELOOP here) and retries ESTALE.
 */
static int open_entry_fast(const struct ec_store *s, const char *id)
{
	char path[PATH_MAX];
	int fd;

	if (ec_store_entry_path(s, id, path) != 0)
		return -1;
	/* O_NONBLOCK: a FIFO planted in the cache must not hang us */
	fd = ec_store_openat2(s, path, O_RDONLY | O_NONBLOCK);
	return fd < 0 ? -1 : fd;
}

/* The file read to EOF into p (cap bytes, grown as needed; NUL after). */
static int read_all(int fd, size_t max, char **pp, size_t *cap, size_t *len)
{
	char *p = *pp;
	size_t n = 0;

	for (;;) {
		size_t got = 0;
		int err;

		if (n == *cap) {
			char *q;

			if (*cap > max)
				return -EC_ETOOBIG;
			q = realloc(p, *cap * 2 + 1);
			if (!q)
				return -ENOMEM;
			*pp = p = q;
			*cap *= 2;
		}
		err = ec_store_pread_all(fd, p + n, *cap - n, n, &got);
		if (err)
			return err;
		n += got;
		if (n < *cap)
			break;	/* the end of the file */
	}
	if (n > max)
		return -EC_ETOOBIG;
	p[n] = '\0';
	*len = n;
	return 0;
}

/* Tries at reading a file that changes meanwhile (read_fd). */
#define READ_TRIES 4

/*
 * Read the regular file open on fd (fstat in *sb) to its end into *buf
 * (malloc'd, NUL-terminated), at most max bytes.  The file may still grow
 * while we read (Python writes in place), so read to EOF, not to st_size;
 * and it may be rewritten in place between the fstat and the read, when
 * the bytes would be another version than *sb tells: so fstat again after
 * the read, and read again (*sb updated) until the two agree.  -EAGAIN
 * when they never did in READ_TRIES reads: it is being rewritten.
 */
static int read_fd(int fd, size_t max, struct stat *sb, char **buf,
		   size_t *len)
{
	struct stat after;
	size_t cap;
	char *p;
	int err = 0, tries;

	if (!S_ISREG(sb->st_mode))
		return S_ISDIR(sb->st_mode) ? -EISDIR : -EINVAL;
	if ((uint64_t)sb->st_size > max)
		return -EC_ETOOBIG;
	cap = (size_t)sb->st_size + 1;
	p = malloc(cap + 1);
	if (!p)
		return -ENOMEM;
	for (tries = 0; tries < READ_TRIES; tries++) {
		err = read_all(fd, max, &p, &cap, len);
		if (!err && fstat(fd, &after) < 0)
			err = -errno;
		if (err)
			break;
		if (ec_store_same_file(sb, &after) &&
		    (uint64_t)*len == (uint64_t)after.st_size) {
			*buf = p;
			return 0;
		}
		*sb = after;
		err = -EAGAIN;
	}
	free(p);
	*len = 0;
	return err;
}

bool ec_store_same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	       a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

int ec_store_read_file(const char *path, size_t max, char **buf, size_t *len,
		       struct stat *st)
{
	struct stat sb;
	int fd, err;

	*buf = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = fstat(fd, &sb) < 0 ? -errno : read_fd(fd, max, &sb, buf, len);
	if (!err && st)
		*st = sb;
	close(fd);
	return err;
}

int ec_store_read(const struct ec_store *s, const char *id, size_t max,
		  char **buf, size_t *len, struct stat *st)
{
	char name[NAME_MAX + 1];
	struct stat sb;
	int dfd = -1, fd = -1, err = 0, tries;

	*buf = NULL;
	*len = 0;
	fd = open_entry_fast(s, id);
	if (fd >= 0 && fstat(fd, &sb) == 0) {
		err = read_fd(fd, max, &sb, buf, len);
		if (!err && st)
			*st = sb;
		close(fd);
		return err;
	}
	if (fd >= 0)
		close(fd);	/* ESTALE: the long way retries */
	fd = -1;
	dfd = ec_store_open_parent(s, id, true, name);
	if (dfd < 0)
		return dfd;
	/* ESTALE: on a network file system, another client renamed a new
	 * file over the name between our client's lookup and its open or
	 * stat; a few more tries get the new one (see stat_at). */
	for (tries = 0; tries < 8; tries++) {
		/* O_NONBLOCK: a FIFO planted in the cache must not hang us. */
		fd = openat(dfd, name,
			    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		err = fd < 0 ? -errno : fstat(fd, &sb) < 0 ? -errno : 0;
		if (err != -ESTALE)
			break;
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	if (err)
		goto out;
	err = read_fd(fd, max, &sb, buf, len);
	if (err)
		goto out;
	if (st)
		*st = sb;
out:
	if (fd >= 0)
		close(fd);
	close(dfd);
	return err;
}

int ec_store_read_fd(int fd, size_t max, struct stat *st, char **buf,
		     size_t *len)
{
	*buf = NULL;
	*len = 0;
	return read_fd(fd, max, st, buf, len);
}
