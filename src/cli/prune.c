/*
 * prune: remove what is merely stale (the core's verdict decides, as for
 * the mount), our temp files that killed writers left (older than five
 * minutes), with --unopenable the envelopes no key of ours opens, and
 * with --max-size the oldest valid entries until the envelopes fit.
 *
 * Never anything else: files without the suffix, files that do not parse
 * as an envelope (a half-written one among them), files that cannot be
 * read, symlinks (the store never follows one) are left alone.  Each
 * removal is of the version judged: an entry rewritten meanwhile stays
 * (ec_store_remove_version()).  --dry-run lists and removes nothing.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "store.h"

struct cand {			/* what prune removes, or would */
	char *id;		/* the entry, or the temp file's path */
	const char *state;	/* a state name, or "temp" */
	bool temp;
	uint64_t size;
	char *reason;
	struct stat st;		/* as judged */
};

struct keep {			/* a valid entry: the size cap may take it */
	char *id;
	int64_t created_us;
	uint64_t size;
	struct stat st;
};

struct prune {
	const struct ec_opts *o;
	const struct ec_cache *c;
	int64_t now;
	struct cand *cand;
	size_t ncand, capcand;
	struct keep *valid;
	size_t nvalid, capvalid;
	size_t kept;		/* envelopes left */
	uint64_t kept_bytes;
	size_t removed_entries, removed_temps, changed;
	uint64_t removed_bytes;
	bool over;		/* still over --max-size */
};

static uint64_t file_size(const struct stat *st)
{
	return st->st_size > 0 ? (uint64_t)st->st_size : 0;
}

static void add_cand(struct prune *p, const char *id, const char *state,
		     bool temp, const struct stat *st, char *reason)
{
	struct cand *k;

	if (p->ncand == p->capcand) {
		p->capcand = p->capcand ? 2 * p->capcand : 32;
		p->cand = ec_xrealloc(p->cand, p->capcand * sizeof(*p->cand));
	}
	k = &p->cand[p->ncand++];
	k->id = ec_xstrdup(id);
	k->state = state;
	k->temp = temp;
	k->size = file_size(st);
	k->reason = reason;
	k->st = *st;
}

/* An envelope that parsed, but that no key of ours opens. */
static bool unopenable(enum ec_state st, int reason, const struct ec_entry *e)
{
	if (st == EC_STATE_SALT_MISMATCH || st == EC_STATE_UNKNOWN_KEY ||
	    st == EC_STATE_TAMPERED)
		return true;
	return st == EC_STATE_CORRUPT && e->env.key && e->env.encrypted &&
	       ec_cli_state_slot(st, reason) != EC_CLI_UNREADABLE;
}

static int prune_cb(void *ctx, const char *id, struct ec_entry *e)
{
	struct prune *p = ctx;
	int reason;
	enum ec_state st = ec_entry_verdict(p->c, e, p->now, &reason);
	struct keep *k;

	if (st == EC_STATE_STALE ||
	    (p->o->unopenable && unopenable(st, reason, e))) {
		add_cand(p, id, ec_state_name(st), false, &e->st,
			 ec_cli_reason(p->c, e, p->now));
		return 0;
	}
	p->kept++;
	p->kept_bytes += file_size(&e->st);
	if (st != EC_STATE_VALID)
		return 0;
	if (p->nvalid == p->capvalid) {
		p->capvalid = p->capvalid ? 2 * p->capvalid : 64;
		p->valid = ec_xrealloc(p->valid,
				       p->capvalid * sizeof(*p->valid));
	}
	k = &p->valid[p->nvalid++];
	k->id = ec_xstrdup(id);
	k->created_us = e->created_us;
	k->size = file_size(&e->st);
	k->st = e->st;
	return 0;
}

static int temp_cb(void *ctx, const char *path, const struct stat *st)
{
	struct prune *p = ctx;
	int64_t mtime = ec_cli_mtime_us(st);
	char *why = NULL;

	if (mtime >= p->now - EC_CLI_TEMP_AGE_US)
		return 0;	/* a save may still be writing it */
	if (asprintf(&why, "temp file of an interrupted save, %lld minutes "
		     "old", (long long)((p->now - mtime) / 60000000)) < 0)
		ec_oom();
	add_cand(p, path, "temp", true, st, why);
	return 0;
}

/* Oldest first (no created_at counts as oldest), then by id. */
static int cmp_age(const void *a, const void *b)
{
	const struct keep *x = a, *y = b;

	if (x->created_us != y->created_us)
		return x->created_us < y->created_us ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* --max-size: the oldest valid entries, until the envelopes left fit. */
static void size_cap(struct prune *p)
{
	uint64_t cap = p->o->max_size;
	size_t i;

	if (cap == UINT64_MAX || p->kept_bytes <= cap)
		return;
	if (p->nvalid)
		qsort(p->valid, p->nvalid, sizeof(*p->valid), cmp_age);
	for (i = 0; i < p->nvalid && p->kept_bytes > cap; i++) {
		struct keep *k = &p->valid[i];
		char iso[EC_TIME_ISO_MAX], *why = NULL;

		if (k->created_us == EC_TIME_NONE)
			snprintf(iso, sizeof(iso), "no created_at");
		else
			ec_time_format_iso(k->created_us, iso);
		if (asprintf(&why, "over --max-size, oldest first (created "
			     "%s)", iso) < 0)
			ec_oom();
		add_cand(p, k->id, "valid", false, &k->st, why);
		p->kept--;
		p->kept_bytes -= k->size;
	}
	p->over = p->kept_bytes > cap;
}

/* Remove every candidate (the version judged); 0 or EXIT_IO. */
static int remove_all(struct prune *p)
{
	const struct ec_store *s = ec_cache_store(p->c);
	int ret = 0;
	size_t i;

	for (i = 0; i < p->ncand; i++) {
		struct cand *k = &p->cand[i];
		int rc = k->temp ? ec_store_remove_temp(s, k->id, &k->st) :
			 ec_store_remove_version(s, k->id, &k->st);

		if (rc == -ESTALE || rc == -ENOENT) {
			/* rewritten or removed by someone else meanwhile */
			k->state = NULL;
			p->changed++;
		} else if (rc < 0) {
			ec_complain("cannot remove '%s': %s", k->id,
				    ec_errtext(rc));
			k->state = NULL;
			ret = EXIT_IO;
		}
	}
	return ret;
}

static void count(struct prune *p)
{
	size_t i;

	for (i = 0; i < p->ncand; i++) {
		const struct cand *k = &p->cand[i];

		if (!k->state)
			continue;
		if (k->temp)
			p->removed_temps++;
		else
			p->removed_entries++;
		p->removed_bytes += k->size;
	}
}

static void prune_text(const struct prune *p, struct ec_buf *out)
{
	static const char *const titles[] = { "ID", "STATE", "SIZE", "REASON" };
	struct ec_table t;
	size_t i;

	ec_table_init(&t, 4, titles);
	t.right = 0x4;
	for (i = 0; i < p->ncand; i++) {
		const struct cand *k = &p->cand[i];
		char size[32];
		const char *cells[4] = { k->id, k->state, size, k->reason };

		if (!k->state)
			continue;
		snprintf(size, sizeof(size), "%llu",
			 (unsigned long long)k->size);
		ec_table_add(&t, cells);
	}
	if (t.nrows)
		ec_table_render(&t, out);
	ec_table_release(&t);
}

static void prune_json(const struct prune *p, struct ec_buf *out)
{
	struct ec_jw w;
	size_t i;

	ec_jw_init(&w, out);
	ec_jw_open(&w, '{');
	ec_jw_key(&w, "dry_run");
	ec_jw_bool(&w, p->o->dry_run);
	ec_jw_key(&w, "removed");
	ec_jw_open_lines(&w);
	for (i = 0; i < p->ncand; i++) {
		const struct cand *k = &p->cand[i];

		if (!k->state)
			continue;
		ec_jw_open(&w, '{');
		ec_jw_key(&w, "id");
		ec_jw_str(&w, k->id);
		ec_jw_key(&w, "state");
		ec_jw_str(&w, k->state);
		ec_jw_key(&w, "size");
		ec_jw_uint(&w, k->size);
		ec_jw_key(&w, "reason");
		ec_jw_str(&w, k->reason);
		ec_jw_close(&w);
	}
	ec_jw_close(&w);
	ec_jw_key(&w, "entries_removed");
	ec_jw_uint(&w, p->removed_entries);
	ec_jw_key(&w, "temp_files_removed");
	ec_jw_uint(&w, p->removed_temps);
	ec_jw_key(&w, "bytes_removed");
	ec_jw_uint(&w, p->removed_bytes);
	ec_jw_key(&w, "entries_kept");
	ec_jw_uint(&w, p->kept);
	ec_jw_key(&w, "bytes_kept");
	ec_jw_uint(&w, p->kept_bytes);
	ec_jw_key(&w, "changed_meanwhile");
	ec_jw_uint(&w, p->changed);
	ec_jw_key(&w, "max_size");
	if (p->o->max_size == UINT64_MAX)
		ec_jw_null(&w);
	else
		ec_jw_uint(&w, p->o->max_size);
	ec_jw_key(&w, "over_max_size");
	ec_jw_bool(&w, p->over);
	ec_jw_close(&w);
	ec_buf_addc(out, '\n');
}

static void summarize(const struct prune *p)
{
	if (p->over)
		ec_complain("the envelopes left (%llu bytes) stay over "
			    "--max-size %s: the rest is not valid for our "
			    "keys (see --unopenable)",
			    (unsigned long long)p->kept_bytes,
			    p->o->max_size_text);
	ec_summary(p->o, "prune: %s %zu entr%s (%llu bytes) and %zu temp "
		   "file%s; %zu entr%s kept (%llu bytes)%s",
		   p->o->dry_run ? "would remove" : "removed",
		   p->removed_entries, p->removed_entries == 1 ? "y" : "ies",
		   (unsigned long long)p->removed_bytes, p->removed_temps,
		   p->removed_temps == 1 ? "" : "s", p->kept,
		   p->kept == 1 ? "y" : "ies",
		   (unsigned long long)p->kept_bytes,
		   p->changed ? "; some changed meanwhile and were kept" : "");
}

static void prune_free(struct prune *p)
{
	size_t i;

	for (i = 0; i < p->ncand; i++) {
		free(p->cand[i].id);
		free(p->cand[i].reason);
	}
	for (i = 0; i < p->nvalid; i++)
		free(p->valid[i].id);
	free(p->cand);
	free(p->valid);
}

int ec_cmd_prune(struct ec_opts *o, int argc, char **args)
{
	struct ec_cache *c = NULL;
	struct ec_buf out = { 0 };
	struct prune p;
	int ret;

	(void)argc;
	(void)args;
	memset(&p, 0, sizeof(p));
	p.o = o;
	ret = ec_cli_open(o, false, &c);
	if (ret)
		goto out;
	p.c = c;
	p.now = ec_clock_now_us();
	ret = ec_cli_scan(o, c, 0, p.now, "prune", prune_cb, &p);
	if (ret)
		goto out;
	ret = ec_cli_walk_temps(o, c, temp_cb, &p);
	if (ret)
		goto out;
	size_cap(&p);
	if (!o->dry_run)
		ret = remove_all(&p);
	count(&p);
	if (o->json)
		prune_json(&p, &out);
	else
		prune_text(&p, &out);
	ret = ec_worse(ret, ec_flush_stdout(out.p, out.len));
	summarize(&p);
out:
	prune_free(&p);
	ec_buf_release(&out);
	ec_cache_free(c);
	return ret;
}
