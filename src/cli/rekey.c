/*
 * rekey: re-encrypt every entry under a new salt (--new-salt,
 * --new-salt-file), new passwords (--new-secrets) and/or new key names
 * (--map OLD=NEW), keeping its data, created_at, comment and validasof
 * (rekey.h).  The old and the new keys are derived once, at the same
 * time; the entries are then rekeyed on every core (scan.h's loaders do
 * the whole work of an entry), each with the atomic save over the version
 * read.  Stale entries are rekeyed too: they keep created_at, so they stay
 * exactly as stale.  A run that was killed is run again: what it rekeyed
 * opens with the new keys and is skipped.  Envelopes neither key set
 * opens are named, left alone, and make the exit status 1; a failed save
 * (a full disk) leaves the old envelope and makes it 4.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "error.h"
#include "rekey.h"
#include "startup.h"

#define NOT_REACHED 0xff	/* an outcome slot never filled */

struct res {
	unsigned char outcome;	/* enum ec_rekey_outcome, or NOT_REACHED */
	bool stale;		/* stale under --ttl (counted only) */
	int err;		/* FAILED: the save's code */
	char *reason;		/* LEFT: why, malloc'd */
};

struct run {
	const struct ec_opts *o;
	const struct ec_cache *from;
	const struct ec_rekey *plan;
	unsigned flags;		/* EC_REKEY_* */
	struct ec_ttl ttl;	/* the user's, for the stale count */
	int64_t oldest_us;
	int64_t now;
	struct ec_scan_ids ids;
	struct res *res;
	struct ec_progress progress;
	atomic_bool stop;	/* a save failed for the whole disk */
	size_t stopped_at;	/* the entry that stopped it */
	size_t count[EC_REKEY_FAILED + 1];
	size_t stale, not_reached;
};

/* ---- options and keys -------------------------------------------------- */

/* --map OLD=NEW into map[]; 0 or EXIT_USAGE. */
static int parse_maps(const struct ec_opts *o, struct ec_rekey_map *map,
		      char **copies)
{
	size_t i;

	if (o->nmaps > EC_CLI_MAPS_MAX) {
		ec_complain("too many --map options: %zu (at most %d)",
			    o->nmaps, EC_CLI_MAPS_MAX);
		return EXIT_USAGE;
	}
	for (i = 0; i < o->nmaps; i++) {
		char *eq;

		copies[i] = ec_xstrdup(o->maps[i]);
		eq = strchr(copies[i], '=');
		if (!eq || eq == copies[i] || !eq[1]) {
			ec_complain("invalid --map '%s': must be OLD=NEW, two "
				    "key names", o->maps[i]);
			return EXIT_USAGE;
		}
		*eq = '\0';
		map[i].from = copies[i];
		map[i].to = eq + 1;
	}
	return 0;
}

static int check_rekey_options(const struct ec_opts *o)
{
	if (!o->new_salt && !o->new_salt_file && !o->new_secrets &&
	    !o->nmaps) {
		ec_complain("rekey needs --new-salt, --new-salt-file, "
			    "--new-secrets or --map");
		return EXIT_USAGE;
	}
	if (o->new_salt && o->new_salt_file) {
		ec_complain("--new-salt and --new-salt-file cannot be used "
			    "together");
		return EXIT_USAGE;
	}
	if (!o->new_secrets && !o->extpass &&
	    ec_secrets_fd_of(ec_env_or(o->secrets, "ENCCACHE_SECRETS") ?
			     ec_env_or(o->secrets, "ENCCACHE_SECRETS") :
			     "") >= 0) {
		ec_complain("rekey reads the secrets twice (old and new): "
			    "give --new-secrets when --secrets is a "
			    "descriptor");
		return EXIT_USAGE;
	}
	return 0;
}

/* The new cache: opened (its keys derived) in a thread of its own while
 * the old keys are derived, so that both derivations run at once. */
struct new_cache {
	struct ec_startup st;
	struct ec_cache_options co;
	struct ec_cache *c;
	int rc;
	bool ready;		/* its inputs were read */
};

/* The new salt and secrets (the old ones where no new ones are given);
 * 0, or EXIT_CONFIG (reported).  When the old inputs are missing too,
 * nothing is read: the old cache's open says what is missing. */
static int read_new(const struct ec_opts *o, struct new_cache *n)
{
	struct ec_startup *st = &n->st;

	ec_startup_init(st);
	if (o->new_salt_file) {
		st->salt_file = o->new_salt_file;
	} else if (o->new_salt) {
		st->salt_text = o->new_salt;
	} else {
		st->salt_text = o->salt;
		st->salt_file = o->salt ? NULL :
			ec_env_or(o->salt_file, "ENCCACHE_SALT_FILE");
	}
	if (o->new_secrets) {
		st->secrets_file = o->new_secrets;
	} else {
		st->extpass = o->extpass;
		st->secrets_file = o->extpass ? NULL :
			ec_env_or(o->secrets, "ENCCACHE_SECRETS");
	}
	if ((!st->salt_text && !st->salt_file) ||
	    (!st->extpass && !st->secrets_file) || !ec_cli_dir(o))
		return 0;
	if (ec_startup_read_salt(st) == -ENOMEM)
		ec_oom();
	if (st->failed || ec_startup_read_secrets(st, false) < 0) {
		ec_cli_complain_startup(st);
		return EXIT_CONFIG;
	}
	memset(&n->co, 0, sizeof(n->co));
	n->co.dir = ec_cli_dir(o);
	n->co.suffix = o->suffix;
	n->co.salt = st->salt;
	n->co.salt_len = st->salt_len;
	n->co.ttl.kind = EC_TTL_INFINITE;
	n->co.oldest_valid_us = EC_TIME_NONE;
	n->co.durable = o->sync;
	n->ready = true;
	return 0;
}

static void *open_new(void *arg)
{
	struct new_cache *n = arg;

	n->rc = ec_cache_open(&n->co, &n->st.secrets, &n->c);
	return NULL;
}

/* Both caches open; 0 or an exit code (reported). */
static int open_both(struct ec_opts *o, struct new_cache *n,
		     struct ec_cache **from)
{
	pthread_t tid;
	bool threaded = false;
	int ret;

	ret = read_new(o, n);
	if (ret)
		return ret;
	/* Every authenticating entry opens, whatever its age (rekey.h). */
	o->ttl.kind = EC_TTL_INFINITE;
	o->ttl.us = 0;
	o->oldest_us = EC_TIME_NONE;
	ret = ec_cli_open(o, false, from);	/* keys derived at first use */
	if (ret)
		return ret;
	if (!n->ready)
		abort();	/* the old cache opened without them: a bug */
	threaded = pthread_create(&tid, NULL, open_new, n) == 0;
	ret = ec_rekey_derive(*from);	/* meanwhile: the old keys */
	if (!threaded)
		open_new(n);
	else if (pthread_join(tid, NULL) != 0)
		abort();	/* a joinable thread we made: a bug */
	if (ret == -ENOMEM)
		ec_oom();
	if (n->rc < 0) {
		ec_startup_open_failed(&n->st, n->co.dir, n->rc);
		ec_cli_complain_startup(&n->st);
		return EXIT_CONFIG;
	}
	return 0;
}

/* The plan; 0 or EXIT_CONFIG / EXIT_USAGE (reported). */
static int make_plan(const struct ec_opts *o, const struct ec_cache *from,
		     const struct ec_cache *to, const struct ec_rekey_map *map,
		     struct ec_rekey **plan)
{
	enum ec_rekey_problem why;
	const char *bad;
	int rc = ec_rekey_new(from, to, map, o->nmaps, plan, &why, &bad);

	if (rc == -ENOMEM)
		ec_oom();
	switch (why) {
	case EC_REKEY_PLAN_OK:
		return 0;
	case EC_REKEY_MAP_FROM:
		ec_complain("unknown key name '%s' in --map: not in the "
			    "secrets", bad);
		return EXIT_CONFIG;
	case EC_REKEY_MAP_TO:
		ec_complain("unknown key name '%s' in --map: not in the new "
			    "secrets", bad);
		return EXIT_CONFIG;
	case EC_REKEY_MAP_TWICE:
		ec_complain("invalid --map: '%s' is mapped twice", bad);
		return EXIT_USAGE;
	case EC_REKEY_MAP_CHAIN:
		ec_complain("invalid --map: '%s' is mapped to and from (a run "
			    "done twice would move its entries twice)", bad);
		return EXIT_USAGE;
	case EC_REKEY_NO_NEW_KEY:
		ec_complain("key '%s' has no new key: add it to the new "
			    "secrets or give --map '%s=NEW'", bad, bad);
		return EXIT_CONFIG;
	}
	abort();
}

/* ---- the entries ------------------------------------------------------- */

/* A write error that every later save would meet too. */
static bool whole_disk(int err)
{
	return err == -ENOSPC || err == -EDQUOT || err == -EROFS ||
	       err == -EIO;
}

/* scan's load hook: the whole work of entry i, in a loading thread. */
static int work(void *ctx, size_t i, const char *id, struct ec_entry *e)
{
	struct run *r = ctx;
	struct res *s = &r->res[i];
	enum ec_rekey_outcome out;
	int err = 0, rc;

	(void)e;
	if (atomic_load(&r->stop))
		return -ECANCELED;	/* e untouched: not released */
	rc = ec_rekey_entry(r->plan, id, r->flags, e, &out, &err);
	if (rc == -ENOMEM)
		ec_oom();
	if (rc < 0) {		/* an id the walk gave: not one */
		char why[EC_STARTUP_ERRTEXT_MAX];

		s->outcome = EC_REKEY_LEFT;
		/* not ec_errtext(): its buffer is shared by all threads */
		s->reason = ec_xstrdup(ec_startup_errtext(rc, why,
							  sizeof(why)));
		return -ECANCELED;
	}
	s->outcome = (unsigned char)out;
	s->err = err;
	if (out == EC_REKEY_LEFT)
		s->reason = ec_cli_reason(r->from, e, r->now);
	if (out == EC_REKEY_REKEYED || out == EC_REKEY_UNCHANGED ||
	    out == EC_REKEY_ALREADY)
		s->stale = !ec_ttl_is_fresh(&r->ttl, e->created_us,
					    r->oldest_us, r->now);
	if (out == EC_REKEY_FAILED && whole_disk(err))
		atomic_store(&r->stop, true);
	return 0;
}

/* In id order, in the calling thread: progress, and where to stop. */
static int handed(void *ctx, size_t i, int err, struct ec_entry *e)
{
	struct run *r = ctx;

	(void)err;
	(void)e;
	ec_progress_tick(&r->progress, i + 1);
	if (r->res[i].outcome == EC_REKEY_FAILED && whole_disk(r->res[i].err)) {
		r->stopped_at = i;
		return 1;
	}
	return 0;
}

static void tally(struct run *r)
{
	size_t i;

	for (i = 0; i < r->ids.n; i++) {
		const struct res *s = &r->res[i];

		if (s->outcome == NOT_REACHED)
			r->not_reached++;
		else
			r->count[s->outcome]++;
		r->stale += s->stale;
	}
}

/* ---- output ------------------------------------------------------------ */

/* A problem entry's state word and reason (static or s's). */
static const char *word_of(const struct res *s)
{
	switch (s->outcome) {
	case EC_REKEY_LEFT:
		return "left";
	case EC_REKEY_BUSY:
		return "changed";
	case EC_REKEY_FAILED:
		return "failed";
	}
	return NULL;
}

static const char *reason_of(const struct res *s, char *buf, size_t size)
{
	if (s->outcome == EC_REKEY_LEFT)
		return s->reason;
	if (s->outcome == EC_REKEY_BUSY) {
		ec_startup_format(buf, size, "changed by another writer "
				  "during each of %d attempts: left as it "
				  "wrote it", EC_REKEY_TRIES);
		return buf;
	}
	ec_startup_format(buf, size, "cannot save it: %s (the old envelope "
			  "stays)", ec_errtext(s->err));
	return buf;
}

static void rekey_text(const struct run *r, struct ec_buf *out)
{
	static const char *const titles[] = { "STATE", "ID", "REASON" };
	struct ec_table t;
	char buf[EC_STARTUP_ERRTEXT_MAX + 64];
	size_t i;

	ec_table_init(&t, 3, titles);
	for (i = 0; i < r->ids.n; i++) {
		const struct res *s = &r->res[i];
		const char *cells[3];

		if (s->outcome == NOT_REACHED || !word_of(s))
			continue;
		cells[0] = word_of(s);
		cells[1] = r->ids.ids[i];
		cells[2] = reason_of(s, buf, sizeof(buf));
		ec_table_add(&t, cells);
	}
	if (t.nrows)
		ec_table_render(&t, out);
	ec_table_release(&t);
}

static void rekey_json(const struct run *r, struct ec_buf *out, bool ok)
{
	static const char *const names[] = {
		[EC_REKEY_REKEYED] = "rekeyed",
		[EC_REKEY_UNCHANGED] = "unchanged",
		[EC_REKEY_ALREADY] = "already_rekeyed",
		[EC_REKEY_LEFT] = "left",
		[EC_REKEY_GONE] = "removed_meanwhile",
		[EC_REKEY_BUSY] = "changed_meanwhile",
		[EC_REKEY_FAILED] = "failed",
	};
	char buf[EC_STARTUP_ERRTEXT_MAX + 64];
	struct ec_jw w;
	size_t i;

	ec_jw_init(&w, out);
	ec_jw_open(&w, '{');
	ec_jw_key(&w, "dir");
	ec_jw_str(&w, ec_cli_dir(r->o));
	ec_jw_key(&w, "dry_run");
	ec_jw_bool(&w, r->o->dry_run);
	ec_jw_key(&w, "ok");
	ec_jw_bool(&w, ok);
	ec_jw_key(&w, "envelopes");
	ec_jw_uint(&w, r->ids.n);
	for (i = 0; i <= EC_REKEY_FAILED; i++) {
		ec_jw_key(&w, names[i]);
		ec_jw_uint(&w, r->count[i]);
	}
	ec_jw_key(&w, "not_reached");
	ec_jw_uint(&w, r->not_reached);
	ec_jw_key(&w, "stale");
	ec_jw_uint(&w, r->stale);
	ec_jw_key(&w, "problems");
	ec_jw_open_lines(&w);
	for (i = 0; i < r->ids.n; i++) {
		const struct res *s = &r->res[i];

		if (s->outcome == NOT_REACHED || !word_of(s))
			continue;
		ec_jw_open(&w, '{');
		ec_jw_key(&w, "id");
		ec_jw_str(&w, r->ids.ids[i]);
		ec_jw_key(&w, "state");
		ec_jw_str(&w, word_of(s));
		ec_jw_key(&w, "reason");
		ec_jw_str(&w, reason_of(s, buf, sizeof(buf)));
		ec_jw_close(&w);
	}
	ec_jw_close(&w);
	ec_jw_close(&w);
	ec_buf_addc(out, '\n');
}

static void summarize(const struct run *r)
{
	const size_t *n = r->count;
	struct ec_buf b = { 0 };

	ec_buf_addf(&b, "rekey: %zu envelope%s: %zu %s", r->ids.n,
		    r->ids.n == 1 ? "" : "s", n[EC_REKEY_REKEYED],
		    r->o->dry_run ? "to rekey" : "rekeyed");
	ec_buf_addf(&b, ", %zu unchanged, %zu already rekeyed, %zu left "
		    "(no key opens them)", n[EC_REKEY_UNCHANGED],
		    n[EC_REKEY_ALREADY], n[EC_REKEY_LEFT]);
	if (n[EC_REKEY_BUSY])
		ec_buf_addf(&b, ", %zu changed meanwhile", n[EC_REKEY_BUSY]);
	if (n[EC_REKEY_GONE])
		ec_buf_addf(&b, ", %zu removed meanwhile", n[EC_REKEY_GONE]);
	if (n[EC_REKEY_FAILED])
		ec_buf_addf(&b, ", %zu failed", n[EC_REKEY_FAILED]);
	if (r->not_reached)
		ec_buf_addf(&b, ", %zu not reached", r->not_reached);
	if (r->stale)
		ec_buf_addf(&b, "; %zu of them stale (created_at kept, so "
			    "they stay stale)", r->stale);
	ec_summary(r->o, "%s", b.p);
	ec_buf_release(&b);
}

/* ---- the command ------------------------------------------------------- */

static int run_all(struct run *r)
{
	struct ec_scan_options so = { 0, r->now, r->o->jobs };
	size_t i;
	int rc;

	r->res = ec_xrealloc(NULL, (r->ids.n ? r->ids.n : 1) *
			     sizeof(*r->res));
	for (i = 0; i < r->ids.n; i++)
		r->res[i] = (struct res){ .outcome = NOT_REACHED };
	ec_progress_start(&r->progress, r->o, "rekey", r->ids.n);
	rc = ec_scan_work(r->from, (const char *const *)r->ids.ids, r->ids.n,
			  &so, work, r, handed, r);
	ec_progress_end(&r->progress);
	if (rc == -ENOMEM)
		ec_oom();
	tally(r);
	if (rc == 1) {
		const struct res *s = &r->res[r->stopped_at];

		ec_complain("cannot rekey '%s': %s (stopped there, %zu "
			    "entries rekeyed before it, each complete; the old "
			    "envelopes stay: run rekey again when there is "
			    "room)", r->ids.ids[r->stopped_at],
			    ec_errtext(s->err), r->count[EC_REKEY_REKEYED]);
		return 1;
	}
	return 0;
}

int ec_cmd_rekey(struct ec_opts *o, int argc, char **args)
{
	struct ec_rekey_map *map = NULL;
	char **copies = NULL;
	struct new_cache n;
	struct ec_cache *from = NULL;
	struct ec_rekey *plan = NULL;
	struct ec_buf out = { 0 };
	struct run r;
	size_t i;
	bool ok;
	int ret, stopped;

	(void)argc;
	(void)args;
	memset(&r, 0, sizeof(r));
	memset(&n, 0, sizeof(n));
	ec_startup_init(&n.st);
	r.o = o;
	r.ttl = o->ttl;
	r.oldest_us = o->oldest_us;
	atomic_init(&r.stop, false);
	map = ec_xrealloc(NULL, (o->nmaps + 1) * sizeof(*map));
	copies = ec_xrealloc(NULL, (o->nmaps + 1) * sizeof(*copies));
	memset(copies, 0, (o->nmaps + 1) * sizeof(*copies));
	ret = check_rekey_options(o);
	if (!ret)
		ret = parse_maps(o, map, copies);
	if (!ret)
		ret = open_both(o, &n, &from);
	if (!ret)
		ret = make_plan(o, from, n.c, map, &plan);
	if (ret)
		goto out;
	r.from = from;
	r.plan = plan;
	r.flags = o->dry_run ? EC_REKEY_DRY_RUN : 0;
	r.now = ec_clock_now_us();
	ret = ec_cli_list(o, from, &r.ids);
	if (ret)
		goto out;
	stopped = run_all(&r);
	ok = !r.count[EC_REKEY_LEFT] && !r.count[EC_REKEY_BUSY] &&
	     !r.count[EC_REKEY_FAILED] && !r.not_reached;
	if (o->json)
		rekey_json(&r, &out, ok);
	else
		rekey_text(&r, &out);
	ret = ec_flush_stdout(out.p, out.len);
	if (!stopped)	/* else its error line said how far it got */
		summarize(&r);
	if (r.count[EC_REKEY_FAILED])
		ret = ec_worse(ret, EXIT_IO);
	else if (!ok)
		ret = ec_worse(ret, EXIT_INVALID);
out:
	if (r.res)
		for (i = 0; i < r.ids.n; i++)
			free(r.res[i].reason);
	free(r.res);
	ec_scan_ids_release(&r.ids);
	ec_buf_release(&out);
	ec_rekey_free(plan);
	ec_cache_free(n.c);
	ec_startup_release(&n.st);
	ec_cache_free(from);
	for (i = 0; i < o->nmaps; i++)
		free(copies[i]);
	free(copies);
	free(map);
	return ret;
}
