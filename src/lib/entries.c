/*
 * entries: libenccache's entry functions (save, load, load_entry,
 * decode, exists, remove, list, execute_cached) over libcore's cache.
 *
 * The core classifies an envelope by the TTL its cache was opened with;
 * here every call may name its own TTL and oldest_valid, as the module's
 * functions do, so each authenticated entry is judged again by the
 * call's rule (judge()).  Plaintext stays in guarded memory from the
 * core's decryption to the caller.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "error.h"
#include "libint.h"
#include "secure.h"
#include "store.h"
#include "view.h"

/*
 * What e is under r at now, as a public code: 0 (valid), ENCCACHE_ESTALE,
 * ENCCACHE_ESALT, ENCCACHE_EKEY, ENCCACHE_EAUTH, ENCCACHE_ECORRUPT,
 * ENCCACHE_ETOOBIG or the -errno that kept it from being read.
 * *expires (may be NULL) gets the entry's last valid instant when it
 * authenticated, EC_TIME_NONE otherwise.  No I/O.
 */
static int judge(const struct ec_lib_rule *r, const struct ec_entry *e,
		 int64_t now, int64_t *expires)
{
	int64_t exp = EC_TIME_NONE;
	int code;

	switch (e->state) {
	case EC_STATE_VALID:
	case EC_STATE_STALE:
		exp = ec_ttl_expiry(&r->ttl, e->created_us, r->oldest_us);
		code = exp != EC_TIME_NONE && now <= exp ? 0 : ENCCACHE_ESTALE;
		break;
	case EC_STATE_SALT_MISMATCH:
		code = ENCCACHE_ESALT;
		break;
	case EC_STATE_UNKNOWN_KEY:
		code = ENCCACHE_EKEY;
		break;
	case EC_STATE_TAMPERED:
		code = ENCCACHE_EAUTH;
		break;
	default:
		/* An unparsable created_at makes the envelope corrupt, not
		 * the caller's text. */
		code = e->reason == -EC_ETIME ? ENCCACHE_ECORRUPT :
			ec_lib_code(e->reason);
		if (code == 0)
			code = ENCCACHE_ECORRUPT;
		break;
	}
	if (expires)
		*expires = exp;
	return code;
}

static int state_of(int code)
{
	switch (code) {
	case 0:
		return ENCCACHE_VALID;
	case ENCCACHE_ESTALE:
		return ENCCACHE_STALE;
	case ENCCACHE_ESALT:
		return ENCCACHE_SALT_MISMATCH;
	case ENCCACHE_EKEY:
		return ENCCACHE_UNKNOWN_KEY;
	case ENCCACHE_EAUTH:
		return ENCCACHE_TAMPERED;
	default:
		return ENCCACHE_CORRUPT;
	}
}

/*
 * Load id's envelope (or classify buf, len bytes, when id is NULL) with
 * its data, and judge it by r.  0: e holds a valid entry (release it);
 * on any error e needs no release.
 */
static int load_judged(const enccache *c, const char *id, const void *buf,
		       size_t len, const struct ec_lib_rule *r,
		       struct ec_entry *e, int64_t *expires)
{
	const unsigned flags = EC_LOAD_DATA | EC_LOAD_STALE_OK;
	int64_t now = ec_clock_now_us();
	int err;

	if (id) {
		err = ec_cache_load(c->cache, id, flags, now, e);
		if (err)
			return ec_lib_code(err);
	} else {
		ec_cache_classify(c->cache, buf, len, flags, now, e);
	}
	err = judge(r, e, now, expires);
	if (!err && !e->data) {
		/* An empty entry: still hand out a buffer. */
		e->data = ec_secure_alloc(1);
		if (!e->data)
			err = -ENOMEM;
	}
	if (err)
		ec_entry_release(e);
	return err;
}

int enccache_save(const enccache *c, const char *key_name, const void *data,
		  size_t len, const char *id, const char *comment,
		  const char *validasof)
{
	struct ec_save_options o = {
		.key = key_name, .comment = comment, .validasof = validasof,
		.created_us = EC_TIME_NONE,
	};

	if (!c || !id || (!data && len))
		return -EINVAL;
	o.durable = c->durable;
	return ec_lib_code(ec_cache_save(c->cache, id, data, len, &o));
}

int enccache_load(const enccache *c, const char *id, const char *ttl,
		  const char *oldest_valid, uint8_t **data, size_t *len)
{
	struct ec_lib_rule r;
	struct ec_entry e;
	int err;

	if (data)
		*data = NULL;
	if (len)
		*len = 0;
	if (!c || !id || !data || !len)
		return -EINVAL;
	err = ec_lib_rule_parse(c, ttl, oldest_valid, &r);
	if (!err)
		err = load_judged(c, id, NULL, 0, &r, &e, NULL);
	if (err)
		return err;
	*data = e.data;
	*len = e.len;
	e.data = NULL;
	ec_entry_release(&e);
	return 0;
}

/* An enccache_entry and what its const pointers point into. */
struct entry_box {
	struct enccache_entry pub;	/* first: the box is freed through it */
	struct ec_envelope env;
	char *validasof;
};

/* Move a valid e into a new public entry. */
static int make_entry(struct ec_entry *e, int64_t expires,
		      struct enccache_entry **out)
{
	struct entry_box *b = calloc(1, sizeof(*b));

	if (!b) {
		ec_entry_release(e);
		return -ENOMEM;
	}
	b->env = e->env;
	memset(&e->env, 0, sizeof(e->env));
	b->validasof = e->validasof;
	e->validasof = NULL;
	b->pub.data = e->data;
	b->pub.len = e->len;
	e->data = NULL;
	b->pub.key = b->env.key;
	b->pub.created_at = b->env.created_at;
	b->pub.comment = b->env.comment;
	b->pub.validasof = b->validasof;
	b->pub.created_at_us = e->created_us;
	b->pub.expires_at_us = expires;
	ec_entry_release(e);
	*out = &b->pub;
	return 0;
}

/* load_entry (id set) and decode (buf set): both as one. */
static int entry_common(const enccache *c, const char *id, const void *buf,
			size_t len, const char *ttl, const char *oldest_valid,
			struct enccache_entry **out)
{
	struct ec_lib_rule r;
	struct ec_entry e;
	int64_t expires;
	int err;

	err = ec_lib_rule_parse(c, ttl, oldest_valid, &r);
	if (!err)
		err = load_judged(c, id, buf, len, &r, &e, &expires);
	if (err)
		return err;
	return make_entry(&e, expires, out);
}

int enccache_load_entry(const enccache *c, const char *id, const char *ttl,
			const char *oldest_valid, struct enccache_entry **out)
{
	if (out)
		*out = NULL;
	if (!c || !id || !out)
		return -EINVAL;
	return entry_common(c, id, NULL, 0, ttl, oldest_valid, out);
}

int enccache_decode(const enccache *c, const void *envelope, size_t len,
		    const char *ttl, const char *oldest_valid,
		    struct enccache_entry **out)
{
	if (out)
		*out = NULL;
	if (!c || !out || (!envelope && len))
		return -EINVAL;
	return entry_common(c, NULL, envelope ? envelope : "", len, ttl,
			    oldest_valid, out);
}

void enccache_entry_free(struct enccache_entry *e)
{
	struct entry_box *b = (struct entry_box *)e;

	if (!b)
		return;
	ec_secure_free(b->pub.data);
	ec_envelope_release(&b->env);
	free(b->validasof);
	free(b);
}

int enccache_exists(const enccache *c, const char *id)
{
	struct stat st;
	int err;

	if (!c || !id)
		return -EINVAL;
	err = ec_store_stat_entry(ec_cache_store(c->cache), id, &st);
	switch (err) {
	case 0:
		return 1;
	case -ENOENT:
	case -ENOTDIR:
	case -ELOOP:	/* a symlink: never followed, so no envelope */
	case -EINVAL:	/* not a regular file */
		return 0;
	default:
		return ec_lib_code(err);
	}
}

int enccache_remove(const enccache *c, const char *id)
{
	if (!c || !id)
		return -EINVAL;
	return ec_lib_code(ec_cache_remove(c->cache, id));
}

/* ---- listing ----------------------------------------------------------- */

struct list_ctx {
	const struct ec_lib_rule *r;
	int64_t now;
	enccache_list_callback *cb;
	void *arg;
};

static int list_one(void *ctx, const char *id, struct ec_entry *e)
{
	struct list_ctx *l = ctx;
	struct enccache_item it = {
		.id = id, .key = e->env.key, .created_at = e->env.created_at,
		.comment = e->env.comment, .created_at_us = e->created_us,
	};

	it.error = judge(l->r, e, l->now, &it.expires_at_us);
	it.state = state_of(it.error);
	if (e->state == EC_STATE_VALID || e->state == EC_STATE_STALE)
		it.size = e->len;
	return l->cb(l->arg, &it);
}

int enccache_list(const enccache *c, const char *ttl,
		  const char *oldest_valid, enccache_list_callback *cb,
		  void *arg)
{
	struct ec_lib_rule r;
	struct list_ctx l;
	int err;

	if (!c || !cb)
		return -EINVAL;
	err = ec_lib_rule_parse(c, ttl, oldest_valid, &r);
	if (err)
		return err;
	l.r = &r;
	l.now = ec_clock_now_us();
	l.cb = cb;
	l.arg = arg;
	err = ec_cache_list(c->cache, 0, l.now, list_one, &l);
	/* The callback's own value comes back as it is. */
	return err < 0 && -err >= EC_ERR_BASE ? ec_lib_code(err) : err;
}

/* ---- execute_cached ------------------------------------------------------ */

/* The data execute_cached() returns for stored data d (n bytes): under
 * ENCCACHE_JSON the plist as JSON, else a guarded copy.  *out NULL means
 * the caller asked for nothing. */
static int hand_out(unsigned flags, const uint8_t *d, size_t n,
		    uint8_t **out, size_t *outlen)
{
	char *json;
	int err;

	if (!out)
		return 0;
	if (flags & ENCCACHE_JSON) {
		err = enccache_plist_to_json(d, n, &json, outlen);
		*out = (uint8_t *)json;
		return err;
	}
	*out = (uint8_t *)ec_lib_secure_dup(d, n);
	*outlen = n;
	return *out ? 0 : -ENOMEM;
}

/* Call cb and save its result as id; hand out what was stored. */
static int compute(const enccache *c, const char *key_name,
		   enccache_callback *cb, void *arg, const char *id,
		   unsigned flags, uint8_t **data, size_t *len)
{
	struct enccache_buf out = { EC_SBUF_INIT };
	uint8_t *plist = NULL;
	const uint8_t *store;
	size_t plen = 0, slen;
	int err;

	err = cb(arg, &out);
	if (err > 0)
		err = ENCCACHE_ECALLBACK;
	if (err)
		goto done;
	store = out.b.p ? out.b.p : (const uint8_t *)"";
	slen = out.b.len;
	if (flags & ENCCACHE_JSON) {
		err = enccache_json_to_plist((const char *)store, slen, &plist,
					     &plen);
		if (err)
			goto done;
		store = plist;
		slen = plen;
	}
	err = enccache_save(c, key_name, store, slen, id, NULL, NULL);
	if (!err)
		err = hand_out(flags, store, slen, data, len);
done:
	ec_secure_free(plist);
	ec_sbuf_release(&out.b);
	return err;
}

int enccache_execute_cached(const enccache *c, const char *key_name,
			    enccache_callback *cb, void *arg, const char *id,
			    unsigned flags, const char *ttl,
			    const char *oldest_valid, uint8_t **data,
			    size_t *len)
{
	const char *key;
	struct ec_lib_rule r;
	struct ec_entry e;
	int err;

	if (data)
		*data = NULL;
	if (len)
		*len = 0;
	if (!c || !cb || !id || !data != !len ||
	    (flags & ~(unsigned)(ENCCACHE_RERUN | ENCCACHE_JSON)))
		return -EINVAL;
	err = ec_lib_rule_parse(c, ttl, oldest_valid, &r);
	if (err)
		return err;
	err = ec_store_check_id(id);
	if (err)
		return ec_lib_code(err);
	/* Refuse a save that cannot happen before computing anything. */
	key = key_name ? key_name : ec_cache_default_key(c->cache);
	if (!key || !ec_lib_has_key(c, key))
		return ENCCACHE_EKEY;
	if (!(flags & ENCCACHE_RERUN)) {
		err = load_judged(c, id, NULL, 0, &r, &e, NULL);
		if (!err) {
			err = hand_out(flags, e.data, e.len, data, len);
			ec_entry_release(&e);
			return err ? err : ENCCACHE_HIT;
		}
		/* The module recomputes a missing or stale entry and one
		 * written with another salt; anything else is an error. */
		if (err != -ENOENT && err != ENCCACHE_ESTALE &&
		    err != ENCCACHE_ESALT)
			return err;
	}
	err = compute(c, key, cb, arg, id, flags, data, len);
	return err ? err : ENCCACHE_COMPUTED;
}
