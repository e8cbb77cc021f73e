/*
 * cache_rules: the TTL-rule plumbing of the cache module: which rule
 * (ttl_rules=, --ttl-rules) judges an id, its TTL and oldest_valid, an
 * entry's expiry and verdict, and the words that explain a verdict.
 * Does no I/O.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "cache.h"
#include "cache_int.h"
#include "error.h"
#include "startup.h"

const struct ec_ttl_rules *ec_cache_rules(const struct ec_cache *c)
{
	return &c->rules;
}

const struct ec_ttl_rule *ec_cache_rule_for(const struct ec_cache *c,
					    const char *id)
{
	return id ? ec_ttl_rules_match(&c->rules, id) : NULL;
}

void ec_cache_rule_ttl(const struct ec_cache *c,
		       const struct ec_ttl_rule *rule,
		       const struct ec_ttl **ttl, int64_t *oldest_us)
{
	*ttl = rule ? &rule->ttl : &c->ttl;
	*oldest_us = rule && rule->has_oldest ? rule->oldest_us :
		     c->oldest_us;
}

int64_t ec_cache_expiry(const struct ec_cache *c, const char *id,
			int64_t created_us)
{
	const struct ec_ttl *ttl;
	int64_t oldest;

	ec_cache_rule_ttl(c, ec_cache_rule_for(c, id), &ttl, &oldest);
	return ec_ttl_expiry(ttl, created_us, oldest);
}

enum ec_state ec_entry_verdict(const struct ec_cache *c,
			       const struct ec_entry *e, int64_t now,
			       int *reason)
{
	enum ec_state state = e->state;
	int why = e->reason;

	(void)c;	/* the expiry was computed under its rule at load */
	if (state == EC_STATE_VALID &&
	    (e->expires_us == EC_TIME_NONE || now > e->expires_us))
		state = EC_STATE_STALE;
	if (state == EC_STATE_VALID || state == EC_STATE_STALE)
		why = 0;
	if (reason)
		*reason = why;
	return state;
}

/* Text into a caller's buffer, snprintf-style: len counts every byte,
 * the buffer keeps what fits. */
struct text {
	char *buf;
	size_t size;
	size_t len;
};

static void text_add(struct text *t, const char *s)
{
	size_t n = strlen(s);

	if (t->size > 0 && t->len < t->size - 1) {
		size_t room = t->size - 1 - t->len;

		memcpy(t->buf + t->len, s, n < room ? n : room);
	}
	t->len += n;
	if (t->size > 0)
		t->buf[t->len < t->size - 1 ? t->len : t->size - 1] = '\0';
}

/* 'key' and then after, when the envelope names a key. */
static void text_key(struct text *t, const char *key, const char *after)
{
	if (!key)
		return;
	text_add(t, "'");
	text_add(t, key);
	text_add(t, after);
}

/* The words after "stale" for an authenticated entry past its expiry. */
static void add_stale(struct text *t, const struct ec_cache *c,
		      const struct ec_entry *e)
{
	const struct ec_ttl *ttl;
	char iso[EC_TIME_ISO_MAX];
	int64_t expiry, oldest;

	ec_cache_rule_ttl(c, e->rule, &ttl, &oldest);
	if (oldest != EC_TIME_NONE && e->created_us != EC_TIME_NONE &&
	    e->created_us < oldest) {
		ec_time_format_iso(oldest, iso);
		if (e->rule && e->rule->has_oldest) {
			text_add(t, "stale (created before oldest_valid ");
			text_add(t, iso);
			text_add(t, " of rule '");
			text_add(t, e->rule->pattern);
			text_add(t, "')");
		} else {
			text_add(t, "stale (created before --oldest-valid ");
			text_add(t, iso);
			text_add(t, ")");
		}
		return;
	}
	expiry = ec_ttl_expiry(ttl, e->created_us, oldest);
	if (expiry != EC_TIME_NONE && expiry != EC_TIME_NEVER) {
		ec_time_format_iso(expiry, iso);
		text_add(t, "stale (expired ");
		text_add(t, iso);
		text_add(t, ")");
	} else if (ttl->kind == EC_TTL_ZERO) {
		text_add(t, "stale (ttl 0)");
	} else if (e->created_us == EC_TIME_NONE) {
		text_add(t, "stale (no created_at)");
	} else {
		text_add(t, "stale");
	}
}

size_t ec_entry_reason_text(const struct ec_cache *c,
			    const struct ec_entry *e, int64_t now, char *buf,
			    size_t size)
{
	char why[EC_STARTUP_ERRTEXT_MAX];
	struct text t = { buf, size, 0 };
	enum ec_state state;
	int reason;

	if (size > 0)
		buf[0] = '\0';
	state = ec_entry_verdict(c, e, now, &reason);
	switch (state) {
	case EC_STATE_VALID:
		break;
	case EC_STATE_STALE:
		add_stale(&t, c, e);
		break;
	case EC_STATE_SALT_MISMATCH:
		text_add(&t, "salt mismatch");
		break;
	case EC_STATE_UNKNOWN_KEY:
		text_add(&t, "unknown key name ");
		text_key(&t, e->env.key, "'");
		break;
	case EC_STATE_TAMPERED:
		/* The HMAC cannot tell a wrong password from a changed
		 * file; the first is by far the more common. */
		text_add(&t, "does not open with key ");
		text_key(&t, e->env.key, "' ");
		text_add(&t, "(the wrong password, or tampered with)");
		break;
	case EC_STATE_CORRUPT:
		text_add(&t, "corrupt");
		if (reason == -EC_ETIME) {
			text_add(&t, ": created_at is ");
			text_add(&t, ec_strerror(reason));
		} else if (reason) {
			text_add(&t, ": ");
			text_add(&t, ec_startup_errtext(reason, why,
							 sizeof(why)));
		}
		break;
	}
	return t.len;
}
