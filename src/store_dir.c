/*
 * store_dir: everything that one backing directory holds, listed or not,
 * for a caller that must know before it removes the directory (rmdir
 * through the mount, where a directory that looks empty may still hold
 * envelopes that are not shown, temp files and other people's files).
 *
 * Like store.c, the directory is opened from the cache dir's fd one
 * component at a time with O_NOFOLLOW, and nothing is followed.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "store_int.h"

/* What name (lstat st) in a directory is. */
static enum ec_store_kind kind_of(const struct ec_store *s, const char *name,
				  const struct stat *st, size_t *stem)
{
	size_t n = strlen(name);

	if (S_ISDIR(st->st_mode))
		return EC_STORE_KIND_DIR;
	if (!S_ISREG(st->st_mode))
		return EC_STORE_KIND_OTHER;
	if (ec_store_is_temp_name(name))
		return EC_STORE_KIND_TEMP;
	if (n > s->suffix_len &&
	    strcmp(name + n - s->suffix_len, s->suffix) == 0) {
		*stem = n - s->suffix_len;
		return EC_STORE_KIND_ENTRY;
	}
	return EC_STORE_KIND_OTHER;
}

int ec_store_dname_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ec_store_dname *)a)->name,
		      ((const struct ec_store_dname *)b)->name);
}

int ec_store_open_stream(const struct ec_store *s, const char *reldir,
			 DIR **out)
{
	int fd, err;

	fd = ec_store_open_dir(s, reldir);
	if (fd < 0)
		return fd;
	*out = fdopendir(fd);
	if (!*out) {
		err = -errno;
		close(fd);
		return err;
	}
	return 0;
}

int ec_store_scan_dir(const struct ec_store *s, const char *reldir,
		      int (*cb)(void *ctx, const struct ec_store_name *it),
		      void *ctx)
{
	struct ec_store_name it;
	char id[PATH_MAX];
	DIR *d;
	int err = 0;

	err = ec_store_open_stream(s, reldir, &d);
	if (err)
		return err;
	for (;;) {
		struct dirent *de;
		size_t stem = 0;
		int n;

		errno = 0;
		de = readdir(d);
		if (!de) {
			err = errno ? -errno : 0;
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		memset(&it, 0, sizeof(it));
		if (fstatat(dirfd(d), de->d_name, &it.st,
			    AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;	/* removed meanwhile */
			err = -errno;
			break;
		}
		it.name = de->d_name;
		it.kind = kind_of(s, de->d_name, &it.st, &stem);
		n = snprintf(id, sizeof(id), "%s%s%.*s", reldir,
			     *reldir ? "/" : "",
			     (int)(it.kind == EC_STORE_KIND_ENTRY ? stem :
				   strlen(de->d_name)), de->d_name);
		if (n < 0 || (size_t)n >= sizeof(id)) {
			err = -ENAMETOOLONG;
			break;
		}
		it.path = id;
		err = cb(ctx, &it);
		if (err)
			break;
	}
	closedir(d);
	return err;
}
