/*
 * open: what the commands that use the cache share: opening it (the
 * start-up steps of enccachefs, worded the same), the ids a command is
 * given, and going over many entries on every core.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "error.h"
#include "startup.h"
#include "store.h"

void ec_cli_complain_startup(const struct ec_startup *st)
{
	size_t n = ec_startup_message(st, NULL, 0);
	char *msg = malloc(n + 1);

	if (!msg)
		ec_oom();
	ec_startup_message(st, msg, n + 1);
	ec_complain("%s", msg);
	free(msg);
}

/* --ttl-rules FILE into *rules; 0, or -1 after the one-line message
 * ("FILE:LINE: what is wrong"). */
static int read_rules(const char *path, struct ec_ttl_rules *rules)
{
	char msg[EC_STARTUP_ERRTEXT_MAX + EC_TTL_RULES_MSG_MAX + 4096];
	int err = ec_startup_read_rules(path, rules, msg, sizeof(msg));

	if (err == -ENOMEM)
		ec_oom();
	if (err)
		ec_complain("%s", msg);
	return err ? -1 : 0;
}

const char *ec_cli_dir(const struct ec_opts *o)
{
	return ec_env_or(o->dir, "ENCCACHE_DIR");
}

/* The inputs are all there; 0 or EXIT_CONFIG (reported). */
static int check_inputs(const struct ec_opts *o, const struct ec_startup *st,
			const char *dir)
{
	if (!dir) {
		ec_complain("no cache directory: use --dir or set "
			    "ENCCACHE_DIR");
		return EXIT_CONFIG;
	}
	if (o->extpass && o->secrets) {
		ec_complain("options --secrets and --extpass cannot be used "
			    "together");
		return EXIT_CONFIG;
	}
	if (!st->secrets_file && !st->extpass) {
		ec_complain("no secrets file: use --secrets, --extpass or set "
			    "ENCCACHE_SECRETS");
		return EXIT_CONFIG;
	}
	if (o->stdin_use && st->secrets_file &&
	    ec_secrets_fd_of(st->secrets_file) == 0) {
		ec_complain("cannot read secrets from standard input: %s "
			    "reads %s from it (use --secrets /dev/fd/N or "
			    "--extpass)", o->cmd_name, o->stdin_use);
		return EXIT_CONFIG;
	}
	if (!st->salt_text && !st->salt_file) {
		ec_complain("no salt: use --salt, --salt-file or set "
			    "ENCCACHE_SALT_FILE");
		return EXIT_CONFIG;
	}
	return 0;
}

int ec_cli_open(const struct ec_opts *o, bool for_put, struct ec_cache **out)
{
	struct ec_startup st;
	struct ec_cache_options co;
	struct ec_ttl_rules rules;
	const char *dir = ec_cli_dir(o);
	struct stat st_dir;
	int rc, ret;

	ec_startup_init(&st);
	ec_ttl_rules_init(&rules);
	st.extpass = o->extpass;
	st.secrets_file = o->extpass ? NULL :
		ec_env_or(o->secrets, "ENCCACHE_SECRETS");
	st.salt_text = o->salt;
	st.salt_file = o->salt ? NULL : ec_env_or(o->salt_file,
						  "ENCCACHE_SALT_FILE");
	st.key = o->key;
	ret = check_inputs(o, &st, dir);
	if (ret)
		goto out;
	ret = EXIT_CONFIG;
	rc = stat(dir, &st_dir) < 0 ? -errno :
		!S_ISDIR(st_dir.st_mode) ? -ENOTDIR : 0;
	if (rc < 0) {
		ec_startup_open_failed(&st, dir, rc);
		ec_cli_complain_startup(&st);
		goto out;
	}
	if (o->ttl_rules && read_rules(o->ttl_rules, &rules) < 0)
		goto out;
	if (ec_startup_read_salt(&st) == -ENOMEM)
		ec_oom();
	if (st.failed || ec_startup_read_secrets(&st, for_put) < 0) {
		ec_cli_complain_startup(&st);
		goto out;
	}
	memset(&co, 0, sizeof(co));
	co.dir = dir;
	co.suffix = o->suffix;
	co.salt = st.salt;
	co.salt_len = st.salt_len;
	co.ttl = o->ttl;
	co.rules = &rules;
	co.oldest_valid_us = o->oldest_us;
	co.default_key = o->key;
	co.iterations = 0;
	co.durable = o->sync;
	co.lazy_keys = true;	/* a command derives only the keys it uses */
	co.key_source = ec_cli_key_source(o);
	rc = ec_cache_open(&co, &st.secrets, out);	/* releases secrets */
	if (rc < 0) {
		ec_startup_open_failed(&st, dir, rc);
		ec_cli_complain_startup(&st);
		goto out;
	}
	ret = 0;
out:
	ec_ttl_rules_release(&rules);	/* the cache keeps its own copy */
	ec_startup_release(&st);
	return ret;
}

char *ec_cli_reason(const struct ec_cache *c, const struct ec_entry *e,
		    int64_t now)
{
	size_t n = ec_entry_reason_text(c, e, now, NULL, 0);
	char *p = malloc(n + 1);

	if (!p)
		ec_oom();
	ec_entry_reason_text(c, e, now, p, n + 1);
	return p;
}

int64_t ec_cli_expiry(const struct ec_entry *e, enum ec_state state)
{
	if (state != EC_STATE_VALID && state != EC_STATE_STALE)
		return EC_TIME_NONE;
	return e->expires_us;
}

char *ec_cli_why(const struct ec_cache *c, int err, const struct ec_entry *e,
		 int64_t now)
{
	if (err)
		return ec_xstrdup(err == -ENOENT ? "no such entry" :
				  ec_errtext(err));
	if (ec_entry_verdict(c, e, now, NULL) == EC_STATE_VALID)
		return NULL;
	return ec_cli_reason(c, e, now);
}

unsigned ec_cli_state_slot(enum ec_state state, int reason)
{
	int r = reason < 0 ? -reason : reason;

	/* corrupt because reading failed (EACCES, EIO...): a plain errno,
	 * not one of the codes that describe content */
	if (state == EC_STATE_CORRUPT && r != 0 && r < EC_ERR_BASE &&
	    r != EBADMSG)
		return EC_CLI_UNREADABLE;
	return (unsigned)state;
}

const char *ec_cli_state_word(unsigned slot)
{
	return slot == EC_CLI_UNREADABLE ? "unreadable" :
	       ec_state_name((enum ec_state)slot);
}

/* ---- ids --------------------------------------------------------------- */

void ec_idlist_add(struct ec_idlist *l, const char *id)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->ids = ec_xrealloc(l->ids, l->cap * sizeof(*l->ids));
	}
	l->ids[l->n++] = ec_xstrdup(id);
}

void ec_idlist_release(struct ec_idlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->ids[i]);
	free(l->ids);
	memset(l, 0, sizeof(*l));
}

/* All of stdin into *b (ids are not secrets: plain heap). */
static int slurp_stdin(struct ec_buf *b)
{
	char chunk[16384];

	for (;;) {
		ssize_t n = read(STDIN_FILENO, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		ec_buf_add(b, chunk, (size_t)n);
	}
}

static int add_checked(struct ec_idlist *l, const char *id)
{
	int rc = ec_store_check_id(id);

	if (rc < 0) {
		ec_complain("invalid id '%s': %s", id, ec_errtext(rc));
		return EXIT_USAGE;
	}
	ec_idlist_add(l, id);
	return 0;
}

int ec_cli_ids(struct ec_opts *o, int argc, char **args,
	       struct ec_idlist *out)
{
	struct ec_buf in = { 0 };
	char sep = o->null_ids ? '\0' : '\n';
	size_t i, start = 0;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < (size_t)argc; i++)
		ec_idlist_add(out, args[i]);	/* checked with the options */
	if (!o->stdin_ids)
		return 0;
	o->stdin_use = "the ids";	/* so no secrets are read from it */
	rc = slurp_stdin(&in);
	if (rc < 0) {
		ec_complain("cannot read standard input: %s", ec_errtext(rc));
		ec_buf_release(&in);
		ec_idlist_release(out);
		return EXIT_IO;
	}
	rc = 0;
	for (i = 0; i <= in.len && !rc; i++) {
		if (i < in.len && in.p[i] != sep)
			continue;
		if (i > start && memchr(in.p + start, '\0', i - start)) {
			ec_complain("invalid id on standard input: it holds a "
				    "NUL byte (use -0 for NUL-separated ids)");
			rc = EXIT_USAGE;
		} else if (i > start) {
			if (i < in.len)
				in.p[i] = '\0';
			rc = add_checked(out, in.p + start);
		}
		start = i + 1;
	}
	ec_buf_release(&in);
	if (rc)
		ec_idlist_release(out);
	return rc;
}

int ec_cli_batch_begin(struct ec_opts *o, int argc, char **args,
		       struct ec_cli_batch *b)
{
	int ret;

	memset(b, 0, sizeof(*b));
	ret = ec_cli_ids(o, argc, args, &b->ids);
	if (ret)
		return ret;
	ret = ec_cli_open(o, false, &b->c);
	if (ret) {
		ec_cache_free(b->c);
		b->c = NULL;
		ec_idlist_release(&b->ids);
		return ret;
	}
	ec_jw_init(&b->w, &b->out);
	ec_jw_open_lines(&b->w);
	return 0;
}

int ec_cli_batch_end(const struct ec_opts *o, struct ec_cli_batch *b)
{
	int ret;

	ec_jw_close(&b->w);
	ec_buf_addc(&b->out, '\n');
	ret = o->json ? ec_flush_stdout(b->out.p, b->out.len) : 0;
	ec_buf_release(&b->out);
	ec_cache_free(b->c);
	b->c = NULL;
	ec_idlist_release(&b->ids);
	return ret;
}

/* ---- many entries ------------------------------------------------------ */

int ec_cli_list(const struct ec_opts *o, const struct ec_cache *c,
		struct ec_scan_ids *ids)
{
	int rc = ec_scan_list(c, ids);

	if (rc < 0) {
		ec_complain("cannot list '%s': %s", ec_cli_dir(o),
			    ec_errtext(rc));
		return EXIT_IO;
	}
	return 0;
}

int ec_cli_load(const struct ec_opts *o, const struct ec_cache *c,
		const char *const *ids, size_t n, unsigned flags, int64_t now,
		int (*cb)(void *ctx, size_t i, int err, struct ec_entry *e),
		void *ctx)
{
	struct ec_scan_options so = { flags, now, o->jobs };

	return ec_scan_load(c, ids, n, &so, cb, ctx);
}

struct scan_shim {
	const struct ec_scan_ids *ids;
	int (*cb)(void *ctx, const char *id, struct ec_entry *e);
	void *ctx;
	struct ec_progress *progress;
};

/* As ec_cache_list() reports them: a file that vanished since the walk
 * is skipped, one that cannot be read is a corrupt entry. */
static int shim(void *ctx, size_t i, int err, struct ec_entry *e)
{
	struct scan_shim *s = ctx;
	struct ec_entry bad;
	int rc;

	ec_progress_tick(s->progress, i + 1);
	if (err == -ENOENT)
		return 0;
	if (err) {
		memset(&bad, 0, sizeof(bad));
		bad.created_us = bad.expires_us = EC_TIME_NONE;
		bad.state = EC_STATE_CORRUPT;
		bad.reason = err;
		bad.st = s->ids->st[i];
		e = &bad;
	}
	rc = s->cb(s->ctx, s->ids->ids[i], e);
	return rc;
}

int ec_cli_scan(const struct ec_opts *o, const struct ec_cache *c,
		unsigned flags, int64_t now, const char *what,
		int (*cb)(void *ctx, const char *id, struct ec_entry *e),
		void *ctx)
{
	struct ec_scan_ids ids;
	struct ec_progress p;
	struct scan_shim s = { &ids, cb, ctx, &p };
	int rc;

	rc = ec_cli_list(o, c, &ids);
	if (rc)
		return rc;
	ec_progress_start(&p, o, what ? what : "", ids.n);
	if (!what)
		p.on = false;
	rc = ec_cli_load(o, c, (const char *const *)ids.ids, ids.n, flags, now,
			 shim, &s);
	ec_progress_end(&p);
	ec_scan_ids_release(&ids);
	if (rc < 0) {
		ec_complain("cannot list '%s': %s", ec_cli_dir(o),
			    ec_errtext(rc));
		return EXIT_IO;
	}
	return rc;
}

int ec_cli_walk_temps(const struct ec_opts *o, const struct ec_cache *c,
		      int (*cb)(void *ctx, const char *path,
				const struct stat *st),
		      void *ctx)
{
	int rc = ec_store_walk_temps(ec_cache_store(c), cb, ctx);

	if (rc < 0) {
		ec_complain("cannot list '%s': %s", ec_cli_dir(o),
			    ec_errtext(rc));
		return EXIT_IO;
	}
	return rc;
}

int64_t ec_cli_mtime_us(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000 +
	       st->st_mtim.tv_nsec / 1000;
}
