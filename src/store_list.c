/*
 * store_list: listing a directory of the cache (entries and
 * subdirectories, temp files left out, sorted) and walking every entry
 * below the cache directory, no symlink followed (see store.c).
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

#include "error.h"
#include "store.h"
#include "store_int.h"

/* Whether sorted v[0..n) holds a directory (or unknown type) named key. */
static bool has_dir(const struct ec_store_dname *v, size_t n, const char *key)
{
	struct ec_store_dname k = { (char *)key, 0 };
	const struct ec_store_dname *hit = bsearch(&k, v, n, sizeof(*v), ec_store_dname_cmp);

	return hit && (hit->type == DT_DIR || hit->type == DT_UNKNOWN);
}

int ec_store_list_dir(const struct ec_store *s, const char *reldir,
		      int (*cb)(void *ctx, const struct ec_store_item *it),
		      void *ctx)
{
	struct ec_store_dname *v = NULL;
	size_t n = 0, cap = 0, i;
	DIR *d = NULL;
	int err;

	err = ec_store_check_dir(reldir);
	if (err)
		return err;
	err = ec_store_open_stream(s, reldir, &d);
	if (err)
		return err;
	/* Collect first: sorted output, and a dir hides an entry of its name. */
	for (;;) {
		struct dirent *de;

		errno = 0;
		de = readdir(d);
		if (!de) {
			err = -errno;
			if (err)
				goto out;
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (de->d_type != DT_DIR && de->d_type != DT_REG &&
		    de->d_type != DT_UNKNOWN)
			continue;
		if (n == cap) {
			struct ec_store_dname *w;

			cap = cap ? cap * 2 : 64;
			w = realloc(v, cap * sizeof(*v));
			if (!w) {
				err = -ENOMEM;
				goto out;
			}
			v = w;
		}
		v[n].name = strdup(de->d_name);
		if (!v[n].name) {
			err = -ENOMEM;
			goto out;
		}
		v[n].type = de->d_type;
		n++;
	}
	if (n)
		qsort(v, n, sizeof(*v), ec_store_dname_cmp);
	for (i = 0; i < n; i++) {
		char stripped[NAME_MAX + 1];
		struct ec_store_item it;
		const char *nm = v[i].name;
		size_t len = strlen(nm);

		if (fstatat(dirfd(d), nm, &it.st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;	/* gone meanwhile */
		if (S_ISDIR(it.st.st_mode)) {
			it.name = nm;
			it.is_dir = true;
		} else if (S_ISREG(it.st.st_mode) && len > s->suffix_len &&
			   !ec_store_is_temp_name(nm) &&
			   !strcmp(nm + len - s->suffix_len, s->suffix)) {
			memcpy(stripped, nm, len - s->suffix_len);
			stripped[len - s->suffix_len] = '\0';
			if (!strcmp(stripped, ".") || !strcmp(stripped, "..") ||
			    has_dir(v, n, stripped))
				continue;
			it.name = stripped;
			it.is_dir = false;
		} else {
			continue;
		}
		err = cb(ctx, &it);
		if (err)
			goto out;
	}
	err = 0;
out:
	for (i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	closedir(d);
	return err;
}

struct walk {
	const struct ec_store *s;
	int (*cb)(void *ctx, const char *id, const struct stat *st);
	void *ctx;
	char *path;		/* the directory being listed, "" = root */
	unsigned depth;
};

static int walk_item(void *ctx, const struct ec_store_item *it)
{
	struct walk *w = ctx;
	size_t plen = strlen(w->path);
	char *full = malloc(plen + 1 + strlen(it->name) + 1);
	int err;

	if (!full)
		return -ENOMEM;
	sprintf(full, "%s%s%s", w->path, plen ? "/" : "", it->name);
	if (!it->is_dir) {
		err = w->cb(w->ctx, full, &it->st);
	} else if (w->depth >= EC_STORE_MAX_DEPTH) {
		err = 0;
	} else {
		struct walk sub = *w;
		sub.path = full;
		sub.depth++;
		err = ec_store_list_dir(w->s, full, walk_item, &sub);
		/* An unreadable or vanished subdirectory is skipped; errors
		 * from the callback (positive or ENOMEM) stop the walk. */
		if (err == -EACCES || err == -ENOENT || err == -ELOOP ||
		    err == -ENOTDIR)
			err = 0;
	}
	free(full);
	return err;
}

int ec_store_walk(const struct ec_store *s,
		  int (*cb)(void *ctx, const char *id, const struct stat *st),
		  void *ctx)
{
	struct walk w = { s, cb, ctx, (char *)"", 0 };

	return ec_store_list_dir(s, "", walk_item, &w);
}
