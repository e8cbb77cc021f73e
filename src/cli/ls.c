/* ls: the valid entries (--all: every envelope) as a table or JSON. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "probe.h"

struct row {
	char *id;
	enum ec_state state;
	char *reason;		/* NULL when valid */
	char *key;
	char *created_at;
	int64_t expires_us;	/* ec_cli_expiry() */
	const struct ec_ttl_rule *rule;	/* the id's TTL rule (borrowed from
					   the cache), NULL: --ttl's */
	bool has_size;
	size_t size;
	char *comment;
	char *validasof;
};

struct listing {
	const struct ec_opts *o;
	const struct ec_cache *c;
	int64_t now;
	struct row *rows;
	size_t n, cap;
};

static int list_cb(void *ctx, const char *id, struct ec_entry *e)
{
	struct listing *l = ctx;
	enum ec_state state = ec_entry_verdict(l->c, e, l->now, NULL);
	struct row *r;

	if (state != EC_STATE_VALID && !l->o->all)
		return 0;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->rows = ec_xrealloc(l->rows, l->cap * sizeof(*l->rows));
	}
	r = &l->rows[l->n++];
	memset(r, 0, sizeof(*r));
	r->id = ec_xstrdup(id);
	r->state = state;
	if (state != EC_STATE_VALID)
		r->reason = ec_cli_reason(l->c, e, l->now);
	r->key = ec_xstrdup(e->env.key);
	r->created_at = ec_xstrdup(e->env.created_at);
	r->expires_us = ec_cli_expiry(e, state);
	r->rule = ec_cache_rule_for(l->c, id);
	/* Authenticated entries carry their size even when the plaintext
	 * was not kept. */
	r->has_size = state == EC_STATE_VALID || state == EC_STATE_STALE;
	r->size = e->len;
	r->comment = ec_xstrdup(e->env.comment);
	r->validasof = ec_xstrdup(e->validasof);
	return 0;
}

static void rows_free(struct listing *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		struct row *r = &l->rows[i];

		free(r->id);
		free(r->reason);
		free(r->key);
		free(r->created_at);
		free(r->comment);
		free(r->validasof);
	}
	free(l->rows);
}

static void ls_json(const struct listing *l, struct ec_buf *out)
{
	struct ec_jw w;
	size_t i;

	ec_jw_init(&w, out);
	ec_jw_open_lines(&w);
	for (i = 0; i < l->n; i++) {
		const struct row *r = &l->rows[i];

		ec_jw_open(&w, '{');
		ec_jw_key(&w, "id");
		ec_jw_str(&w, r->id);
		ec_jw_key(&w, "state");
		ec_jw_str(&w, ec_state_name(r->state));
		ec_jw_key(&w, "reason");
		ec_jw_str(&w, r->reason);
		ec_jw_key(&w, "key");
		ec_jw_str(&w, r->key);
		ec_jw_key(&w, "created_at");
		ec_jw_str(&w, r->created_at);
		ec_jw_key(&w, "expires_at");
		ec_jw_time(&w, r->expires_us);
		ec_jw_key(&w, "rule");
		ec_jw_str(&w, r->rule ? r->rule->pattern : NULL);
		ec_jw_key(&w, "rule_line");
		if (r->rule)
			ec_jw_uint(&w, r->rule->line);
		else
			ec_jw_null(&w);
		ec_jw_key(&w, "size");
		if (r->has_size)
			ec_jw_uint(&w, r->size);
		else
			ec_jw_null(&w);
		ec_jw_key(&w, "comment");
		ec_jw_str(&w, r->comment);
		ec_jw_key(&w, "validasof");
		ec_jw_str(&w, r->validasof);
		ec_jw_close(&w);
	}
	ec_jw_close(&w);
	ec_buf_addc(out, '\n');
}

static void format_expiry(int64_t us, char out[EC_TIME_ISO_MAX])
{
	if (us == EC_TIME_NEVER)
		snprintf(out, EC_TIME_ISO_MAX, "never");
	else if (us == EC_TIME_NONE)
		snprintf(out, EC_TIME_ISO_MAX, "-");
	else
		ec_time_format_iso(us, out);
}

static void ls_table(const struct listing *l, struct ec_buf *out)
{
	/* With --ttl-rules, a RULE column after EXPIRES: the pattern of
	 * the rule that applied, "-" for --ttl's. */
	static const char *const narrow[] = {
		"ID", "CREATED", "EXPIRES", "KEY", "SIZE", "COMMENT",
	};
	static const char *const wide[] = {
		"ID", "STATE", "CREATED", "EXPIRES", "KEY", "SIZE", "COMMENT",
		"REASON",
	};
	static const char *const narrow_rules[] = {
		"ID", "CREATED", "EXPIRES", "RULE", "KEY", "SIZE", "COMMENT",
	};
	static const char *const wide_rules[] = {
		"ID", "STATE", "CREATED", "EXPIRES", "RULE", "KEY", "SIZE",
		"COMMENT", "REASON",
	};
	bool all = l->o->all, rules = ec_cache_rules(l->c)->n > 0;
	struct ec_table t;
	size_t i;

	ec_table_init(&t, (all ? 8 : 6) + rules, rules ?
		      (all ? wide_rules : narrow_rules) : all ? wide : narrow);
	t.right = 1u << ((all ? 5 : 4) + rules);	/* SIZE */
	for (i = 0; i < l->n; i++) {
		const struct row *r = &l->rows[i];
		char iso[EC_TIME_ISO_MAX], size[32] = "";
		const char *cells[9];
		size_t k = 0;

		format_expiry(r->expires_us, iso);
		if (r->has_size)
			snprintf(size, sizeof(size), "%zu", r->size);
		cells[k++] = r->id;
		if (all)
			cells[k++] = ec_state_name(r->state);
		cells[k++] = r->created_at;
		cells[k++] = iso;
		if (rules)
			cells[k++] = r->rule ? r->rule->pattern : "-";
		cells[k++] = r->key;
		cells[k++] = size;
		cells[k++] = r->comment;
		if (all)
			cells[k++] = r->reason;
		ec_table_add(&t, cells);
	}
	ec_table_render(&t, out);
	ec_table_release(&t);
}

/* The verdict of the probe (probe.h); 0 or EXIT_CONFIG (reported). */
static int check_keys(const struct ec_cache *c, int64_t now)
{
	char msg[EC_REASON_MAX];
	struct ec_probe p;
	int rc;

	rc = ec_probe_cache(c, now, &p);
	if (rc == 0 && ec_probe_verdict(c, &p, msg, sizeof(msg), NULL) < 0) {
		ec_complain("%s", msg);
		rc = EXIT_CONFIG;
	} else {
		rc = 0;		/* nothing held against listing it */
	}
	ec_probe_release(&p);
	return rc;
}

int ec_cmd_ls(struct ec_opts *o, int argc, char **args)
{
	struct listing l = { o, NULL, 0, NULL, 0, 0 };
	struct ec_cache *c = NULL;
	struct ec_buf out = { 0 };
	int ret;

	(void)argc;
	(void)args;
	ret = ec_cli_open(o, false, &c);
	if (ret)
		goto out;
	l.c = c;
	l.now = ec_clock_now_us();
	/* A wrong password or salt would list nothing: say so instead (as
	 * enccachefs refuses to mount); --all shows every envelope's
	 * state. */
	if (!o->all) {
		ret = check_keys(c, l.now);
		if (ret)
			goto out;
	}
	/* Without EC_LOAD_DATA tokens are still authenticated and sizes
	 * known, but no plaintext is kept; --json also shows validasof,
	 * which is unpacked with the data. */
	ret = ec_cli_scan(o, c, o->json ? EC_LOAD_DATA : 0, l.now, NULL,
			  list_cb, &l);
	if (ret)
		goto out;
	if (o->json)
		ls_json(&l, &out);
	else
		ls_table(&l, &out);
	ret = ec_flush_stdout(out.p, out.len);
out:
	ec_buf_release(&out);
	rows_free(&l);
	ec_cache_free(c);
	return ret;
}
