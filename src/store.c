/*
 * store: the backing cache directory.
 *
 * Every path is walked from the cache directory's fd one component at a
 * time with O_NOFOLLOW|O_DIRECTORY, so no symlink below the cache directory
 * is ever followed.  Saves go through a temp file and rename(2), or, for a
 * new entry where the file system allows it, an unnamed file linked in.
 * Reading an entry whole is store_read.c's; stat, listing, tidying and
 * streams have their files too.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "error.h"
#include "store.h"
#include "store_int.h"

int ec_store_open(struct ec_store *s, const char *dir, const char *suffix)
{
	struct stat st;

	s->dirfd = -1;
	s->suffix = NULL;
	s->suffix_len = 0;
	if (!suffix)
		suffix = EC_SUFFIX_DEFAULT;
	/* An empty suffix would make our temp files look like entries, and a
	 * '/' in it would make ids ambiguous. */
	if (!*suffix || strchr(suffix, '/'))
		return -EINVAL;
	s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0)
		return -errno;
	if (fstat(s->dirfd, &st) < 0) {
		int err = -errno;

		close(s->dirfd);
		s->dirfd = -1;
		return err;
	}
	s->suffix = strdup(suffix);
	if (!s->suffix) {
		close(s->dirfd);
		s->dirfd = -1;
		return -ENOMEM;
	}
	s->suffix_len = strlen(suffix);
	return 0;
}

void ec_store_release(struct ec_store *s)
{
	if (s->dirfd >= 0)
		close(s->dirfd);
	s->dirfd = -1;
	free(s->suffix);
	s->suffix = NULL;
	s->suffix_len = 0;
}

/* Checks a '/'-separated relative path; empty allowed when allow_empty. */
static int check_rel(const char *p, bool allow_empty)
{
	const char *c = p;

	if (!*p)
		return allow_empty ? 0 : -EC_EID;
	if (*p == '/')
		return -EC_EID;
	for (;;) {
		const char *end = strchrnul(c, '/');
		size_t n = (size_t)(end - c);

		if (n == 0 || (n == 1 && c[0] == '.') ||
		    (n == 2 && c[0] == '.' && c[1] == '.'))
			return -EC_EID;
		if (!*end)
			return 0;
		c = end + 1;
	}
}

int ec_store_check_id(const char *id)
{
	return check_rel(id, false);
}

int ec_store_check_dir(const char *reldir)
{
	return check_rel(reldir, true);
}

/*
 * Open the directory reldir (a checked relative path, "" = root) below the
 * cache dir, creating missing components 0700 when create is set.  Returns
 * a new fd (close it) or -errno.  A symlink component gives -ELOOP or
 * -ENOTDIR, never a traversal.
 */
static int open_dir(const struct ec_store *s, const char *reldir, bool create)
{
	char comp[NAME_MAX + 1];
	const char *c = reldir;
	int fd = -1;

	/* The first component is opened from s->dirfd itself (one openat
	 * per level, not one more for the root: a cost of every load and
	 * save); the root alone is a new open file description, not a
	 * dup: readdir() on a dup would move the shared offset of
	 * s->dirfd. */
	if (!*c) {
		fd = openat(s->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		return fd < 0 ? -errno : fd;
	}
	while (*c) {
		const char *end = strchrnul(c, '/');
		size_t n = (size_t)(end - c);
		int at = fd >= 0 ? fd : s->dirfd, next;

		if (n > NAME_MAX) {
			if (fd >= 0)
				close(fd);
			return -ENAMETOOLONG;
		}
		memcpy(comp, c, n);
		comp[n] = '\0';
		next = openat(at, comp,
			      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT && create) {
			if (mkdirat(at, comp, 0700) < 0 && errno != EEXIST) {
				int err = -errno;

				if (fd >= 0)
					close(fd);
				return err;
			}
			next = openat(at, comp, O_RDONLY | O_DIRECTORY |
				      O_NOFOLLOW | O_CLOEXEC);
		}
		if (next < 0) {
			int err = -errno;

			if (fd >= 0)
				close(fd);
			return err;
		}
		if (fd >= 0)
			close(fd);
		fd = next;
		c = *end ? end + 1 : end;
	}
	return fd;
}

/*
 * Split a checked path into its parent directory (copied into parent,
 * which has room for strlen(path) + 1) and its last component.
 */
static const char *split(const char *path, char *parent)
{
	const char *slash = strrchr(path, '/');

	if (!slash) {
		parent[0] = '\0';
		return path;
	}
	memcpy(parent, path, (size_t)(slash - path));
	parent[slash - path] = '\0';
	return slash + 1;
}

bool ec_store_is_temp_name(const char *name)
{
	size_t plen = sizeof(EC_STORE_TMP_PREFIX) - 1, n = 0;
	const char *p;

	if (strncmp(name, EC_STORE_TMP_PREFIX, plen) != 0)
		return false;
	for (p = name + plen; *p; p++, n++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return n == EC_STORE_TMP_HEX || n == EC_STORE_TMP_HEX_OLD;
}

/* leaf + suffix into buf[NAME_MAX + 1]; -ENAMETOOLONG when it won't fit,
 * -EC_EID when it would be a temp file's name. */
static int entry_name(const struct ec_store *s, const char *leaf, char *buf)
{
	size_t n = strlen(leaf);

	if (n + s->suffix_len > NAME_MAX)
		return -ENAMETOOLONG;
	memcpy(buf, leaf, n);
	memcpy(buf + n, s->suffix, s->suffix_len + 1);
	return ec_store_is_temp_name(buf) ? -EC_EID : 0;
}

/* store_int.h; entry_name when is_entry */
int ec_store_leaf_name(const struct ec_store *s, const char *leaf,
		       bool is_entry, char name[NAME_MAX + 1])
{
	if (is_entry)
		return entry_name(s, leaf, name);
	if (strlen(leaf) > NAME_MAX)
		return -ENAMETOOLONG;
	strcpy(name, leaf);
	return 0;
}

/*
 * Check path (an id, or a non-root directory), open its parent directory
 * and name its entry file (with suffix, when is_entry) or its leaf.
 * Returns the parent fd, or -EC_EID / -errno.
 */
static int open_parent(const struct ec_store *s, const char *path,
		       bool is_entry, bool create, char name[NAME_MAX + 1])
{
	char *parent;
	const char *leaf;
	int fd, err;

	err = ec_store_check_id(path);
	if (err)
		return err;
	parent = malloc(strlen(path) + 1);
	if (!parent)
		return -ENOMEM;
	leaf = split(path, parent);
	err = ec_store_leaf_name(s, leaf, is_entry, name);
	fd = err ? err : open_dir(s, parent, create);
	free(parent);
	return fd;
}

int ec_store_open_dir(const struct ec_store *s, const char *reldir)
{
	return open_dir(s, reldir, false);
}

int ec_store_open_parent(const struct ec_store *s, const char *path,
			 bool is_entry, char name[NAME_MAX + 1])
{
	return open_parent(s, path, is_entry, false, name);
}

/* store_int.h */
int ec_store_entry_path(const struct ec_store *s, const char *id,
			char path[PATH_MAX])
{
	const char *leaf = strrchr(id, '/');
	size_t dir = leaf ? (size_t)(leaf + 1 - id) : 0;
	int err = ec_store_check_id(id);

	if (err)
		return err;
	if (dir >= PATH_MAX - NAME_MAX - 1)
		return -ENAMETOOLONG;
	memcpy(path, id, dir);
	return ec_store_leaf_name(s, id + dir, true, path + dir);
}

int ec_store_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int ec_store_pread_all(int fd, void *buf, size_t n, uint64_t off,
		       size_t *got)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = pread(fd, (char *)buf + done, n - done,
				  (off_t)(off + done));

		if (r < 0) {
			if (errno == EINTR)
				continue;
			*got = done;
			return -errno;
		}
		if (r == 0)
			break;
		done += (size_t)r;
	}
	*got = done;
	return 0;
}

/* A fresh temp name: EC_STORE_TMP_PREFIX + EC_STORE_TMP_HEX random hex
 * chars, into buf[TMP_NAME_SIZE]. */
#define TMP_NAME_SIZE EC_STORE_TMP_NAME_SIZE
int ec_store_temp_name(char buf[TMP_NAME_SIZE])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char r[EC_STORE_TMP_HEX / 2];
	size_t got = 0, i, plen = sizeof(EC_STORE_TMP_PREFIX) - 1;

	while (got < sizeof(r)) {
		ssize_t n = getrandom(r + got, sizeof(r) - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)n;
	}
	memcpy(buf, EC_STORE_TMP_PREFIX, plen);
	for (i = 0; i < sizeof(r); i++) {
		buf[plen + 2 * i] = hex[r[i] >> 4];
		buf[plen + 2 * i + 1] = hex[r[i] & 0x0f];
	}
	buf[plen + 2 * sizeof(r)] = '\0';
	return 0;
}

/* fill() for ec_store_write: the buffer as it is. */
struct whole {
	const void *buf;
	size_t len;
};

static int write_whole(void *ctx, int fd)
{
	const struct whole *w = ctx;

	return ec_store_write_all(fd, w->buf, w->len);
}

/* fd's mode made exactly 0600, if the umask changed it.  -errno. */
static int fix_mode(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && (st.st_mode & 07777) == 0600)
		return 0;
	return fchmod(fd, 0600) < 0 ? -errno : 0;
}

/*
 * Link the unnamed file fd (O_TMPFILE) as name in dfd: through its
 * /proc/self/fd link, which needs no privilege, or AT_EMPTY_PATH, which
 * needs CAP_DAC_READ_SEARCH (where /proc is not mounted).  -errno.
 */
static int link_unnamed(int fd, int dfd, const char *name)
{
	char path[32];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, path, dfd, name, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	if (errno != ENOENT)
		return -errno;
	return linkat(fd, "", dfd, name, AT_EMPTY_PATH) == 0 ? 0 : -errno;
}

/*
 * A new entry (nothing at its name) saved as an unnamed file linked in
 * once complete: atomic like the temp file and rename(2), one directory
 * change instead of two, no name to sweep after a crash, and four inotify
 * events for the daemon's watch instead of six (the unnamed file's are
 * named "#INODE", which no entry's name can be).  1 when
 * this way does not apply (an entry or directory at the name; O_TMPFILE
 * or the link refused: network and FUSE file systems): the caller saves
 * through a temp file.  Else 0 or -errno, as ec_store_write.
 */
static int write_linked(const struct ec_store *s, const char *id,
			const void *buf, size_t len, unsigned flags,
			struct stat *out)
{
	char name[NAME_MAX + 1], tmp[EC_STORE_TMP_NAME_SIZE];
	struct stat st;
	int dfd, fd, err, tries;

	dfd = ec_store_open_parent_mk(s, id, name);
	if (dfd < 0)
		return dfd;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ||
	    errno != ENOENT) {
		close(dfd);
		return 1;
	}
	fd = openat(dfd, ".", O_WRONLY | O_TMPFILE | O_CLOEXEC, 0600);
	if (fd < 0) {
		close(dfd);
		return 1;
	}
	/* The umask can only remove bits; make sure it is exactly 0600.
	 * Only when it did: a chmod is an inotify event (IN_ATTRIB) that
	 * wakes the daemon's watch, a stat is none. */
	err = fix_mode(fd);
	if (!err)
		err = ec_store_write_all(fd, buf, len);
	if (!err && (flags & EC_STORE_DURABLE) && fsync(fd) < 0)
		err = -errno;
	if (!err) {
		err = link_unnamed(fd, dfd, name);
		/* (Linked: its ctime is final.) */
		if (!err && out && fstat(fd, out) < 0)
			out->st_ino = 0;
		if (err == -EEXIST && !(flags & EC_STORE_NOREPLACE)) {
			/* Another writer's entry came meanwhile: the last
			 * save wins, as with rename(2) over it. */
			for (tries = 0; tries < 16; tries++) {
				err = ec_store_temp_name(tmp);
				if (!err)
					err = link_unnamed(fd, dfd, tmp);
				if (err != -EEXIST)
					break;
			}
			if (!err && renameat(dfd, tmp, dfd, name) < 0) {
				err = -errno;
				unlinkat(dfd, tmp, 0);
			}
		} else if (err && err != -EEXIST && err != -ENOSPC &&
			   err != -EDQUOT && err != -EIO) {
			err = 1;	/* no link here: the temp file way */
		}
	}
	if (close(fd) < 0 && !err)
		err = -errno;
	if (!err && (flags & EC_STORE_DURABLE) && fsync(dfd) < 0)
		err = -errno;
	close(dfd);
	return err;
}

int ec_store_write_st(const struct ec_store *s, const char *id,
		      const void *buf, size_t len, unsigned flags,
		      struct stat *st)
{
	struct whole w = { buf, len };
	int err;

	if (st)
		st->st_ino = 0;
	err = write_linked(s, id, buf, len, flags, st);
	if (err <= 0)
		return err;
	return ec_store_write_with(s, id, flags, write_whole, &w);
}

int ec_store_write(const struct ec_store *s, const char *id,
		   const void *buf, size_t len, unsigned flags)
{
	return ec_store_write_st(s, id, buf, len, flags, NULL);
}

int ec_store_remove(const struct ec_store *s, const char *id)
{
	char name[NAME_MAX + 1];
	int dfd, err;

	dfd = open_parent(s, id, true, false, name);
	if (dfd < 0)
		return dfd;
	err = unlinkat(dfd, name, 0) < 0 ? -errno : 0;
	close(dfd);
	return err;
}

int ec_store_sync(const struct ec_store *s, const char *id)
{
	char name[NAME_MAX + 1];
	int dfd, fd, err = 0;

	dfd = open_parent(s, id, true, false, name);
	if (dfd < 0)
		return dfd;
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		err = -errno;
	else if (fsync(fd) < 0)
		err = -errno;
	if (fd >= 0)
		close(fd);
	if (!err && fsync(dfd) < 0)
		err = -errno;
	close(dfd);
	return err;
}

int ec_store_sync_dir(const struct ec_store *s, const char *reldir)
{
	int fd, err;

	err = ec_store_check_dir(reldir);
	if (err)
		return err;
	fd = open_dir(s, reldir, false);
	if (fd < 0)
		return fd;
	err = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return err;
}

int ec_store_mkdir(const struct ec_store *s, const char *reldir)
{
	char name[NAME_MAX + 1], ename[NAME_MAX + 1];
	struct stat st;
	int dfd, err = 0;

	dfd = open_parent(s, reldir, false, true, name);
	if (dfd < 0)
		return dfd;
	/* An entry of that name is a file in the mount: EEXIST, as POSIX. */
	if (entry_name(s, name, ename) == 0 &&
	    fstatat(dfd, ename, &st, AT_SYMLINK_NOFOLLOW) == 0)
		err = -EEXIST;
	else if (mkdirat(dfd, name, 0700) < 0)
		err = -errno;
	close(dfd);
	return err;
}

int ec_store_rmdir(const struct ec_store *s, const char *reldir)
{
	char name[NAME_MAX + 1];
	int dfd, err;

	dfd = open_parent(s, reldir, false, false, name);
	if (dfd < 0)
		return dfd;
	err = unlinkat(dfd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
	close(dfd);
	return err;
}

static int rename_at(const struct ec_store *s, const char *from,
		     const char *to, bool is_entry, unsigned flags)
{
	char fname[NAME_MAX + 1], tname[NAME_MAX + 1], other[NAME_MAX + 1];
	struct stat st;
	int fdfd = -1, tdfd = -1, err;

	fdfd = open_parent(s, from, is_entry, false, fname);
	if (fdfd < 0)
		return fdfd;
	tdfd = open_parent(s, to, is_entry, false, tname);
	if (tdfd < 0) {
		err = tdfd;
		goto out;
	}
	/* In the mount a directory and an entry share one name space:
	 * renaming an entry onto a directory, or a directory onto an entry,
	 * is what POSIX forbids between a file and a directory. */
	if (is_entry) {
		const char *leaf = strrchr(to, '/');

		leaf = leaf ? leaf + 1 : to;
		if (fstatat(tdfd, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(st.st_mode)) {
			err = -EISDIR;
			goto out;
		}
	} else if (entry_name(s, tname, other) == 0 &&
		   fstatat(tdfd, other, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		err = (flags & RENAME_NOREPLACE) ? -EEXIST : -ENOTDIR;
		goto out;
	}
	err = renameat2(fdfd, fname, tdfd, tname, flags) < 0 ? -errno : 0;
out:
	if (tdfd >= 0)
		close(tdfd);
	close(fdfd);
	return err;
}

int ec_store_rename_entry(const struct ec_store *s, const char *from_id,
			  const char *to_id, unsigned flags)
{
	return rename_at(s, from_id, to_id, true, flags);
}

int ec_store_rename_dir(const struct ec_store *s, const char *from_dir,
			const char *to_dir, unsigned flags)
{
	return rename_at(s, from_dir, to_dir, false, flags);
}

int ec_store_statvfs(const struct ec_store *s, struct statvfs *st)
{
	return fstatvfs(s->dirfd, st) < 0 ? -errno : 0;
}

/* For store_stream.c: id's parent, made as ec_store_write makes it. */
int ec_store_open_parent_mk(const struct ec_store *s, const char *id,
			    char name[NAME_MAX + 1])
{
	return open_parent(s, id, true, true, name);
}
