/*
 * store_tidy: taking things away from the backing directory safely.
 * Temp files that killed writers left (walked, swept, removed one by
 * one), and entries removed only while they are still the version a
 * caller judged, so that a prune never deletes what a writer just saved.
 *
 * Like store.c, every path is opened from the cache dir's fd one
 * component at a time with O_NOFOLLOW: nothing outside is touched.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "store.h"
#include "store_int.h"

/* ---- walking temp files ----------------------------------------------- */

static int read_names(DIR *d, struct ec_store_dname **v, size_t *n)
{
	size_t cap = 0;

	*v = NULL;
	*n = 0;
	for (;;) {
		struct dirent *de;

		errno = 0;
		de = readdir(d);
		if (!de)
			break;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		/* Symlinks, FIFOs, sockets, devices: never touched.  Regular
		 * files that are not temps need no second look. */
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN &&
		    !(de->d_type == DT_REG && ec_store_is_temp_name(de->d_name)))
			continue;
		if (*n == cap) {
			struct ec_store_dname *w;

			cap = cap ? 2 * cap : 32;
			w = realloc(*v, cap * sizeof(**v));
			if (!w)
				return -ENOMEM;
			*v = w;
		}
		(*v)[*n].name = strdup(de->d_name);
		if (!(*v)[*n].name)
			return -ENOMEM;
		(*v)[*n].type = de->d_type;
		++*n;
	}
	if (errno)
		return -errno;
	if (*n)
		qsort(*v, *n, sizeof(**v), ec_store_dname_cmp);
	return 0;
}

struct twalk {
	int (*cb)(void *ctx, const char *path, const struct stat *st);
	void *ctx;
};

static int walk_one(const struct twalk *w, int dfd, const char *rel,
		    const char *nm, unsigned depth);

/*
 * Walk the directory open on dfd (taken over: closed here), whose path
 * below the cache dir is rel ("" = the cache dir), and its subdirectories
 * up to EC_STORE_MAX_DEPTH.  0, the callback's non-zero value, -ENOMEM,
 * or -errno when the cache dir itself cannot be read; a subdirectory that
 * cannot be read is skipped.
 */
static int walk_dir(const struct twalk *w, int dfd, const char *rel,
		    unsigned depth)
{
	struct ec_store_dname *v = NULL;
	size_t n = 0, i;
	DIR *d = fdopendir(dfd);
	int err;

	if (!d) {
		err = -errno;
		close(dfd);
		return depth > 0 ? 0 : err;	/* a subdirectory: skipped */
	}
	err = read_names(d, &v, &n);
	if (err && err != -ENOMEM && depth > 0)
		err = 0;		/* unreadable subdirectory: skipped */
	else
		for (i = 0; i < n && !err; i++)
			err = walk_one(w, dirfd(d), rel, v[i].name, depth);
	for (i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	closedir(d);
	return err;
}

/* One name nm of the directory open on dfd (path rel). */
static int walk_one(const struct twalk *w, int dfd, const char *rel,
		    const char *nm, unsigned depth)
{
	struct stat st;
	char *full;
	int sub, err = 0;

	if (fstatat(dfd, nm, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;	/* gone meanwhile */
	if (!S_ISDIR(st.st_mode) &&
	    !(S_ISREG(st.st_mode) && ec_store_is_temp_name(nm)))
		return 0;
	if (S_ISDIR(st.st_mode) && depth >= EC_STORE_MAX_DEPTH)
		return 0;
	full = malloc(strlen(rel) + 1 + strlen(nm) + 1);
	if (!full)
		return -ENOMEM;
	sprintf(full, "%s%s%s", rel, *rel ? "/" : "", nm);
	if (S_ISREG(st.st_mode)) {
		err = w->cb(w->ctx, full, &st);
	} else {
		/* O_NOFOLLOW: a directory swapped for a symlink since the
		 * fstatat gives ELOOP/ENOTDIR, never a way out. */
		sub = openat(dfd, nm, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			     O_NONBLOCK | O_CLOEXEC);
		if (sub >= 0)
			err = walk_dir(w, sub, full, depth + 1);
	}
	free(full);
	return err;
}

int ec_store_walk_temps(const struct ec_store *s,
			int (*cb)(void *ctx, const char *path,
				  const struct stat *st),
			void *ctx)
{
	struct twalk w = { cb, ctx };
	int fd = ec_store_open_dir(s, "");

	if (fd < 0)
		return fd;
	return walk_dir(&w, fd, "", 0);
}

/* ---- removing temp files ---------------------------------------------- */

static int64_t mtime_us(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000 +
	       st->st_mtim.tv_nsec / 1000;
}

static bool same_mtime(const struct stat *a, const struct stat *b)
{
	return a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

int ec_store_remove_temp(const struct ec_store *s, const char *path,
			 const struct stat *seen)
{
	char name[NAME_MAX + 1];
	const char *leaf = strrchr(path, '/');
	struct stat st;
	int dfd, err;

	if (!ec_store_is_temp_name(leaf ? leaf + 1 : path))
		return -EINVAL;
	dfd = ec_store_open_parent(s, path, false, name);
	if (dfd < 0)
		return dfd;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		err = -errno;
	else if (!S_ISREG(st.st_mode) || st.st_dev != seen->st_dev ||
		 st.st_ino != seen->st_ino || !same_mtime(&st, seen))
		err = -ESTALE;
	else
		err = unlinkat(dfd, name, 0) < 0 ? -errno : 0;
	close(dfd);
	return err;
}

struct sweep {
	const struct ec_store *s;
	int64_t cutoff_us;
	size_t removed;
};

static int sweep_one(void *ctx, const char *path, const struct stat *st)
{
	struct sweep *sw = ctx;

	if (mtime_us(st) < sw->cutoff_us &&
	    ec_store_remove_temp(sw->s, path, st) == 0)
		sw->removed++;
	return 0;
}

int ec_store_sweep_temps(const struct ec_store *s, int64_t now_us,
			 int64_t min_age_us, size_t *removed)
{
	struct sweep sw = { s, 0, 0 };
	int err;

	if (removed)
		*removed = 0;
	if (min_age_us < 0)
		return -EINVAL;
	/* older than min_age_us: mtime < now - min_age (saturating) */
	sw.cutoff_us = now_us < INT64_MIN + min_age_us ? INT64_MIN :
		       now_us - min_age_us;
	err = ec_store_walk_temps(s, sweep_one, &sw);
	if (removed)
		*removed = sw.removed;
	return err;
}

/* ---- removing an entry that was judged -------------------------------- */

/* Whether st is still the version seen: same file, size and mtime, and
 * (before any rename of ours, which changes it) the same ctime. */
static bool same_version(const struct stat *st, const struct stat *seen,
			 bool ctime_too)
{
	if (!S_ISREG(st->st_mode) || st->st_dev != seen->st_dev ||
	    st->st_ino != seen->st_ino || st->st_size != seen->st_size ||
	    !same_mtime(st, seen))
		return false;
	return !ctime_too ||
	       (st->st_ctim.tv_sec == seen->st_ctim.tv_sec &&
		st->st_ctim.tv_nsec == seen->st_ctim.tv_nsec);
}

int ec_store_remove_version(const struct ec_store *s, const char *id,
			    const struct stat *seen)
{
	char name[NAME_MAX + 1], tmp[EC_STORE_TMP_NAME_SIZE];
	struct stat st;
	int dfd, err;

	dfd = ec_store_open_parent(s, id, true, name);
	if (dfd < 0)
		return dfd;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		err = -errno;
		goto out;
	}
	if (!same_version(&st, seen, true)) {
		err = -ESTALE;
		goto out;
	}
	/* Out of the way first: from here on, a writer that opens id (the
	 * Python module writes in place) makes a new file, and a writer
	 * that opened it before has already changed its size and mtime
	 * (opening with O_TRUNC does), which the second look sees. */
	err = ec_store_temp_name(tmp);
	if (err)
		goto out;
	if (renameat2(dfd, name, dfd, tmp, RENAME_NOREPLACE) < 0) {
		err = -errno;
		goto out;
	}
	if (fstatat(dfd, tmp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    same_version(&st, seen, false) && unlinkat(dfd, tmp, 0) == 0) {
		err = 0;
		goto out;
	}
	err = -ESTALE;
	/* Changed after all: put it back, unless a new envelope has taken
	 * the name meanwhile (then the newer one stays, and ours is a temp
	 * file that the next sweep removes). */
	(void)renameat2(dfd, tmp, dfd, name, RENAME_NOREPLACE);
out:
	close(dfd);
	return err;
}
