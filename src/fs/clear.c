/*
 * clear: what rmdir(2) may take away with a directory that looks empty
 * through the mount (clear.h).  Two passes over the backing directory:
 * judge every name, then, only when nothing must stay, remove the stale
 * envelopes and our temp files, each only while it is still the file
 * judged.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clear.h"
#include "startup.h"

#define SHOW_MAX 5	/* files named in the log; the rest are counted */

struct victim {
	char *path;		/* id of an envelope, or path of a temp */
	bool temp;
	struct stat st;
};

struct judge {
	struct ecfs *fs;
	const char *dir;	/* the directory, for the log */
	int64_t now;
	struct victim *v;
	size_t n, cap;
	size_t shown;		/* names the mount shows: ENOTEMPTY as ever */
	size_t kept;		/* hidden names that must stay */
	char *why[SHOW_MAX];	/* the first ones: "'<path>' <why>" */
	int err;
};

/* A hidden name that must stay; the first SHOW_MAX are named in the log
 * (unless the directory holds what the mount shows: that says why). */
static void keep(struct judge *j, const char *path, const char *why)
{
	char shown[PATH_MAX];

	if (j->kept < SHOW_MAX) {
		ec_fs_printable(path, shown, sizeof(shown));
		if (asprintf(&j->why[j->kept], "'%s' %s", shown, why) < 0)
			j->why[j->kept] = NULL;
	}
	j->kept++;
}

static void report(struct judge *j)
{
	char dir[PATH_MAX];
	size_t i;

	ec_fs_printable(*j->dir ? j->dir : ".", dir, sizeof(dir));
	for (i = 0; i < j->kept && i < SHOW_MAX; i++)
		if (j->why[i])
			fuse_log(FUSE_LOG_WARNING, PROG ": cannot remove "
				 "directory '%s': %s\n", dir, j->why[i]);
	if (j->kept > SHOW_MAX)
		fuse_log(FUSE_LOG_WARNING, PROG ": cannot remove directory "
			 "'%s': and %zu more that must stay\n", dir,
			 j->kept - SHOW_MAX);
}

static int add_victim(struct judge *j, const struct ec_store_name *it,
		      bool temp)
{
	struct victim *w;

	if (j->n == j->cap) {
		size_t cap = j->cap ? 2 * j->cap : 16;

		w = realloc(j->v, cap * sizeof(*w));
		if (!w)
			return -ENOMEM;
		j->v = w;
		j->cap = cap;
	}
	w = &j->v[j->n];
	w->path = strdup(it->path);
	if (!w->path)
		return -ENOMEM;
	w->temp = temp;
	w->st = it->st;
	j->n++;
	return 0;
}

/* An envelope: stale ones go, anything else stays and is named. */
static int judge_entry(struct judge *j, const struct ec_store_name *it)
{
	char why[EC_REASON_MAX + 32];
	struct ec_entry e;
	enum ec_state state;
	int err;

	err = ec_cache_load(j->fs->cache, it->path, 0, j->now, &e);
	ecfs_count(&j->fs->stats, EC_FSSTAT_ENVELOPE_READS, 1);
	if (err == -ENOENT)
		return 0;	/* gone meanwhile */
	if (err) {
		char text[EC_STARTUP_ERRTEXT_MAX];

		snprintf(why, sizeof(why), "cannot be read (%s)",
			 ec_startup_errtext(err, text, sizeof(text)));
		keep(j, it->path, why);
		return 0;
	}
	state = ec_entry_verdict(j->fs->cache, &e, j->now, NULL);
	if (state == EC_STATE_STALE) {
		err = add_victim(j, it, false);
	} else if (state == EC_STATE_VALID) {
		j->shown++;
	} else {
		char text[EC_REASON_MAX];

		ec_entry_reason_text(j->fs->cache, &e, j->now, text,
				     sizeof(text));
		snprintf(why, sizeof(why), "is not ours to delete: %s", text);
		keep(j, it->path, why);
	}
	ec_entry_release(&e);
	return err;
}

static int judge_one(void *ctx, const struct ec_store_name *it)
{
	struct judge *j = ctx;

	switch (it->kind) {
	case EC_STORE_KIND_TEMP:
		j->err = add_victim(j, it, true);
		break;
	case EC_STORE_KIND_ENTRY:
		j->err = judge_entry(j, it);
		break;
	case EC_STORE_KIND_DIR:
		j->shown++;
		break;
	case EC_STORE_KIND_OTHER:
		keep(j, it->path, "is not an envelope");
		break;
	}
	/* Something the mount shows: ENOTEMPTY, nothing more to learn. */
	return j->err || j->shown ? 1 : 0;
}

int ec_clear_dir(struct ecfs *fs, const char *id)
{
	struct judge j;
	size_t i;
	int err;

	memset(&j, 0, sizeof(j));
	j.fs = fs;
	j.dir = id;
	j.now = ec_clock_now_us();
	err = ec_store_scan_dir(fs->store, id, judge_one, &j);
	if (err > 0)
		err = j.err;	/* stopped early */
	if (!err && !j.shown && j.kept)
		report(&j);
	if (!err && (j.shown || j.kept))
		err = -ENOTEMPTY;
	for (i = 0; !err && i < j.n; i++) {
		const struct victim *v = &j.v[i];

		err = v->temp ? ec_store_remove_temp(fs->store, v->path,
						     &v->st) :
			ec_store_remove_version(fs->store, v->path, &v->st);
		if (err == -ENOENT)
			err = 0;
		else if (err == -ESTALE)
			err = -ENOTEMPTY;	/* rewritten meanwhile */
	}
	for (i = 0; i < j.n; i++)
		free(j.v[i].path);
	free(j.v);
	for (i = 0; i < SHOW_MAX; i++)
		free(j.why[i]);
	return err;
}
