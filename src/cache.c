/*
 * cache: the core API.  Wires keys, store, envelope, fernet and ttl
 * together, as gocryptfs' mount.go does for its front end.
 */
#include "config.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "cache.h"
#include "cache_int.h"
#include "error.h"
#include "fernet.h"
#include "secure.h"
#include "startup.h"


int64_t ec_clock_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

const char *ec_state_name(enum ec_state s)
{
	switch (s) {
	case EC_STATE_VALID:
		return "valid";
	case EC_STATE_STALE:
		return "stale";
	case EC_STATE_SALT_MISMATCH:
		return "salt-mismatch";
	case EC_STATE_UNKNOWN_KEY:
		return "unknown-key";
	case EC_STATE_CORRUPT:
		return "corrupt";
	case EC_STATE_TAMPERED:
		return "tampered";
	}
	abort();
}

int ec_cache_open(const struct ec_cache_options *o, struct ec_secrets *secrets,
		  struct ec_cache **out)
{
	struct ec_cache *c;
	const char *dk = NULL;
	int err;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c) {
		ec_secrets_release(secrets);
		return -ENOMEM;
	}
	c->store.dirfd = -1;
	ec_ttl_rules_init(&c->rules);
	err = ec_ttl_rules_copy(&c->rules, o->rules);
	if (err) {
		ec_secrets_release(secrets);
		goto fail;
	}
	err = ec_secure_init();
	if (err) {
		ec_secrets_release(secrets);
		goto fail;
	}
	/* Open the store first: a missing directory should not cost the
	 * seconds of key derivation before it is reported. */
	err = ec_store_open(&c->store, o->dir, o->suffix);
	if (err) {
		ec_secrets_release(secrets);
		goto fail;
	}
	err = ec_keyring_prepare(&c->keys, secrets, o->salt, o->salt_len,
				 o->iterations ? o->iterations :
				 EC_KDF_ITERATIONS, o->key_source);
	if (!err && !o->lazy_keys)
		err = ec_keyring_derive_all(&c->keys);
	if (err)
		goto fail;
	c->ttl = o->ttl;
	c->oldest_us = o->oldest_valid_us;
	c->durable = o->durable;
	if (o->default_key) {
		if (!ec_keyring_has(&c->keys, o->default_key)) {
			err = -EC_EKEY;
			goto fail;
		}
		dk = o->default_key;
	} else if (ec_keyring_has(&c->keys, "default")) {
		dk = "default";
	} else if (c->keys.n == 1) {
		dk = c->keys.keys[0].name;
	}
	if (dk) {
		c->default_key = strdup(dk);
		if (!c->default_key) {
			err = -ENOMEM;
			goto fail;
		}
	}
	*out = c;
	return 0;
fail:
	ec_cache_free(c);
	return err;
}

void ec_cache_free(struct ec_cache *c)
{
	if (!c)
		return;
	ec_keyring_release(&c->keys);
	ec_store_release(&c->store);
	ec_ttl_rules_release(&c->rules);
	free(c->default_key);
	free(c);
}

int ec_cache_lock_keys(const struct ec_cache *c)
{
	return ec_keyring_lock(&c->keys);
}

const struct ec_store *ec_cache_store(const struct ec_cache *c)
{
	return &c->store;
}

const char *ec_cache_fingerprint(const struct ec_cache *c)
{
	return c->keys.fingerprint;
}

const char *ec_cache_default_key(const struct ec_cache *c)
{
	return c->default_key;
}

const struct ec_ttl *ec_cache_ttl(const struct ec_cache *c)
{
	return &c->ttl;
}

size_t ec_cache_key_count(const struct ec_cache *c)
{
	return c->keys.n;
}

int64_t ec_cache_oldest_valid(const struct ec_cache *c)
{
	return c->oldest_us;
}

void ec_entry_release(struct ec_entry *e)
{
	ec_envelope_release(&e->env);
	free(e->validasof);
	e->validasof = NULL;
	ec_secure_free(e->data);
	e->data = NULL;
	e->len = 0;
}

void ec_entry_init(struct ec_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->created_us = EC_TIME_NONE;
	e->expires_us = EC_TIME_NONE;
}

void ec_entry_set_state(struct ec_entry *e, enum ec_state s, int reason)
{
	e->state = s;
	e->reason = reason;
}

/* The checks before the token: salt fingerprint, key name, created_at.
 * The key to open the token with, or NULL with e's state set. */
const struct ec_key *ec_cache_check_head(const struct ec_cache *c,
					 struct ec_entry *e)
{
	const struct ec_key *k;
	const struct ec_ttl *ttl;
	int64_t oldest;

	/* A missing fingerprint is accepted (FORMAT.md, validity rule 1). */
	if (e->env.salt_sha256 &&
	    strcmp(e->env.salt_sha256, c->keys.fingerprint) != 0) {
		ec_entry_set_state(e, EC_STATE_SALT_MISMATCH, -EC_ESALT);
		return NULL;
	}
	k = ec_keyring_find(&c->keys, e->env.key);
	if (!k) {
		ec_entry_set_state(e, EC_STATE_UNKNOWN_KEY, -EC_EKEY);
		return NULL;
	}
	/* FORMAT.md, Validity: an unparseable created_at makes the entry
	 * not valid only where the module reads it; elsewhere it counts as
	 * missing (ec_ttl_expiry() then decides as for a missing one). */
	if (e->env.created_at &&
	    ec_time_parse_iso(e->env.created_at, &e->created_us) != 0) {
		e->created_us = EC_TIME_NONE;
		ec_cache_rule_ttl(c, e->rule, &ttl, &oldest);
		if (ec_ttl_reads_created(ttl, oldest)) {
			ec_entry_set_state(e, EC_STATE_CORRUPT, -EC_ETIME);
			return NULL;
		}
	}
	return k;
}

/* After the token opened: the payload (ptlen bytes at pt, taken over),
 * then freshness at now, and the data kept as flags ask. */
void ec_cache_finish(const struct ec_cache *c, struct ec_entry *e,
		     uint8_t *pt, size_t ptlen, unsigned flags, int64_t now)
{
	const struct ec_ttl *ttl;
	int64_t oldest;
	int err;

	err = ec_payload_take(pt, ptlen, &e->data, &e->len, &e->validasof);
	if (err) {
		ec_entry_set_state(e, EC_STATE_CORRUPT, err);
		return;
	}
	ec_cache_rule_ttl(c, e->rule, &ttl, &oldest);
	e->expires_us = ec_ttl_expiry(ttl, e->created_us, oldest);
	if (now > e->expires_us)
		ec_entry_set_state(e, EC_STATE_STALE, 0);
	else
		ec_entry_set_state(e, EC_STATE_VALID, 0);
	if (!(flags & EC_LOAD_DATA) ||
	    (e->state == EC_STATE_STALE && !(flags & EC_LOAD_STALE_OK))) {
		/* Keep the size, drop the plaintext. */
		ec_secure_free(e->data);
		e->data = NULL;
	}
}

/* Classify buf into e (already initialised).  Does no I/O. */
static void classify(const struct ec_cache *c, const char *buf, size_t len,
		     unsigned flags, int64_t now, struct ec_entry *e)
{
	const struct ec_key *k;
	uint8_t *pt = NULL;
	size_t ptlen = 0;
	int err;

	e->tag = ec_envelope_tag(buf, len);
	err = ec_envelope_parse(buf, len, &e->env);
	if (err) {
		ec_entry_set_state(e, EC_STATE_CORRUPT, err);
		return;
	}
	k = ec_cache_check_head(c, e);
	if (!k)
		return;
	/* Authenticate (and decrypt) always, so that the state is exact
	 * even for stale entries and when no data was asked for. */
	err = ec_fernet_open(k->key, e->env.encrypted, e->env.encrypted_len,
			     &pt, &ptlen, NULL);
	if (err) {
		ec_entry_set_state(e, err == -EC_EHMAC ? EC_STATE_TAMPERED :
			  EC_STATE_CORRUPT, err);
		return;
	}
	ec_cache_finish(c, e, pt, ptlen, flags, now);
}

void ec_cache_classify(const struct ec_cache *c, const char *buf, size_t len,
		       unsigned flags, int64_t now, struct ec_entry *e)
{
	ec_entry_init(e);
	classify(c, buf, len, flags, now, e);
}

void ec_cache_classify_id(const struct ec_cache *c, const char *id,
			  const char *buf, size_t len, unsigned flags,
			  int64_t now, struct ec_entry *e)
{
	ec_entry_init(e);
	e->rule = ec_cache_rule_for(c, id);
	classify(c, buf, len, flags, now, e);
}

int ec_cache_load(const struct ec_cache *c, const char *id, unsigned flags,
		  int64_t now, struct ec_entry *e)
{
	char *buf = NULL;
	size_t len = 0;
	int fd = -1, err;

	ec_entry_init(e);
	e->rule = ec_cache_rule_for(c, id);
	err = ec_store_open_entry(&c->store, id, &fd, &e->st);
	if (err)
		return err;
	if ((size_t)e->st.st_size >= EC_STREAM_MIN) {
		/* Big: read in one pass, the plaintext held once. */
		err = ec_cache_load_stream(c, fd, flags, now, e);
		close(fd);
		return err;
	}
	err = ec_store_read_fd(fd, EC_STREAM_MIN * 2, &e->st, &buf, &len);
	close(fd);
	if (err == -EC_ETOOBIG || err == -EAGAIN) {
		/* Grew past the small size while read, or changed each time
		 * it was read: being rewritten. */
		ec_entry_set_state(e, EC_STATE_CORRUPT, -EC_EJSON);
		return 0;
	}
	if (err)
		return err;
	classify(c, buf, len, flags, now, e);
	free(buf);
	return 0;
}

/* Write env for id; all fields ready.  Serialises, then saves atomically. */
/* r: NULL, or its tag and st filled (see struct ec_save_result). */
static int write_envelope(const struct ec_cache *c, const char *id,
			  const struct ec_envelope *env, bool durable,
			  bool noreplace, struct ec_save_result *r)
{
	char *out = NULL;
	size_t outlen = 0;
	unsigned flags = 0;
	int err;

	err = ec_envelope_serialize(env, &out, &outlen);
	if (err)
		return err;
	if (durable || c->durable)
		flags |= EC_STORE_DURABLE;
	if (noreplace)
		flags |= EC_STORE_NOREPLACE;
	err = ec_store_write_st(&c->store, id, out, outlen, flags,
				r ? &r->st : NULL);
	if (!err && r)
		r->tag = ec_envelope_tag(out, outlen);
	free(out);
	return err;
}

static unsigned store_flags(const struct ec_cache *c,
			    const struct ec_save_options *o)
{
	return (o->durable || c->durable ? EC_STORE_DURABLE : 0) |
	       (o->noreplace ? EC_STORE_NOREPLACE : 0);
}

/* Whether the streamed payload's frame can hold this validasof. */
static bool stream_frame_ok(size_t len, const char *validasof)
{
	uint8_t pre[EC_PAYLOAD_FRAME_MAX], post[EC_PAYLOAD_FRAME_MAX];
	size_t a, b;

	return ec_payload_frame(len, validasof, pre, &a, post, &b) == 0;
}

int ec_cache_save(const struct ec_cache *c, const char *id,
		  const uint8_t *data, size_t len,
		  const struct ec_save_options *o)
{
	static const struct ec_save_options defaults = {
		.created_us = EC_TIME_NONE,
	};
	char created[EC_TIME_ISO_MAX];
	struct ec_envelope env = { 0 };
	uint8_t iv[EC_FERNET_IVBYTES];
	const struct ec_key *k;
	const char *keyname;
	uint8_t *payload = NULL;
	size_t plen = 0;
	char *token = NULL;
	size_t toklen = 0;
	int64_t created_us;
	int64_t probe;
	int err;

	if (!o)
		o = &defaults;
	err = ec_store_check_id(id);
	if (err)
		return err;
	keyname = o->key ? o->key : c->default_key;
	k = keyname ? ec_keyring_find(&c->keys, keyname) : NULL;
	if (!k)
		return -EC_EKEY;
	if (o->validasof && ec_time_parse_iso(o->validasof, &probe) != 0)
		return -EC_ETIME;
	created_us = o->created_us == EC_TIME_NONE ? ec_clock_now_us() :
		o->created_us;
	ec_time_format_iso(created_us, created);
	env.key = (char *)k->name;
	env.salt_sha256 = (char *)c->keys.fingerprint;
	env.created_at = created;
	env.comment = (char *)o->comment;
	if (len >= EC_STREAM_MIN && stream_frame_ok(len, o->validasof)) {
		/* Big: sealed in a stream into the temp file. */
		if (!data)
			return -EINVAL;
		err = ec_cache_save_stream(c, id, &env, k, created_us, data,
					   len, o->validasof,
					   store_flags(c, o),
					   o->result ? &o->result->tag : NULL);
		if (!err && o->result) {
			o->result->created_us = created_us;
			o->result->key = k->name;
			o->result->streamed = true;
			o->result->st.st_ino = 0;
		}
		return err;
	}

	err = ec_payload_pack(data, len, o->validasof, &payload, &plen);
	if (err)
		goto out;
	randombytes_buf(iv, sizeof(iv));
	err = ec_fernet_seal(k->key, payload, plen,
			     created_us < 0 ? 0 : (uint64_t)(created_us / 1000000),
			     iv, &token, &toklen);
	if (err)
		goto out;
	env.encrypted = token;
	env.encrypted_len = toklen;
	err = write_envelope(c, id, &env, o->durable, o->noreplace,
			     o->result);
	if (!err && o->result) {
		o->result->created_us = created_us;
		o->result->key = k->name;
		o->result->streamed = false;
	}
out:
	free(token);
	ec_secure_free(payload);
	return err;
}

int ec_cache_set_meta(const struct ec_cache *c, const char *id,
		      unsigned which, const char *comment, int64_t created_us)
{
	char created[EC_TIME_ISO_MAX];
	struct ec_envelope env;
	struct ec_entry e;
	int err;

	/* Only an envelope that authenticates is rewritten: we must not
	 * re-bless a tampered file by touching it. */
	err = ec_cache_load(c, id, 0, EC_TIME_NONE + 1, &e);
	if (err)
		return err;
	if (e.state != EC_STATE_VALID && e.state != EC_STATE_STALE) {
		err = e.reason ? e.reason : -EBADMSG;
		goto out;
	}
	env = e.env;
	if (which & EC_META_COMMENT)
		env.comment = (char *)comment;
	if (which & EC_META_CREATED) {
		ec_time_format_iso(created_us, created);
		env.created_at = created;
	}
	err = write_envelope(c, id, &env, false, false, NULL);
out:
	ec_entry_release(&e);
	return err;
}

int ec_cache_remove(const struct ec_cache *c, const char *id)
{
	return ec_store_remove(&c->store, id);
}

struct list_ctx {
	const struct ec_cache *c;
	unsigned flags;
	int64_t now;
	int (*cb)(void *ctx, const char *id, struct ec_entry *e);
	void *ctx;
};

static int list_one(void *ctx, const char *id, const struct stat *st)
{
	struct list_ctx *l = ctx;
	struct ec_entry e;
	int err;

	err = ec_cache_load(l->c, id, l->flags, l->now, &e);
	if (err == -ENOENT)
		return 0;	/* removed since it was listed */
	if (err) {
		/* Report, don't stop: one bad file never fails a listing. */
		ec_entry_init(&e);
		e.st = *st;
		e.rule = ec_cache_rule_for(l->c, id);
		ec_entry_set_state(&e, EC_STATE_CORRUPT, err);
	}
	err = l->cb(l->ctx, id, &e);
	ec_entry_release(&e);
	return err;
}

int ec_cache_list(const struct ec_cache *c, unsigned flags, int64_t now,
		  int (*cb)(void *ctx, const char *id, struct ec_entry *e),
		  void *ctx)
{
	struct list_ctx l = { c, flags, now, cb, ctx };

	return ec_store_walk(&c->store, list_one, &l);
}

/* Python's str.lower() on the prefix, then [^a-z0-9_-]+ -> '-'.  Of all
 * non-ASCII characters only KELVIN SIGN lowers to an ASCII letter ('k');
 * U+0130 lowers to 'i' + COMBINING DOT, i.e. "i-".  Everything else
 * non-ASCII is outside the class. */
static char *fold_prefix(const char *p)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t n = strlen(p), o = 0;
	char *out = malloc(2 * n + 1);
	bool dash = false;

	if (!out)
		return NULL;
	while (*s) {
		char ch = 0;
		bool then_dash = false;

		if (*s < 0x80) {
			ch = (char)*s;
			if (ch >= 'A' && ch <= 'Z')
				ch = (char)(ch - 'A' + 'a');
			if (!((ch >= 'a' && ch <= 'z') ||
			      (ch >= '0' && ch <= '9') || ch == '_' ||
			      ch == '-'))
				ch = 0;
			s++;
		} else {
			if (s[0] == 0xe2 && s[1] == 0x84 && s[2] == 0xaa) {
				ch = 'k';	/* U+212A */
				s += 3;
			} else if (s[0] == 0xc4 && s[1] == 0xb0) {
				ch = 'i';	/* U+0130 */
				then_dash = true;
				s += 2;
			} else {
				s++;
				while ((*s & 0xc0) == 0x80)
					s++;
			}
		}
		if (ch) {
			out[o++] = ch;
			dash = false;
		}
		if (!ch || then_dash) {
			if (!dash)
				out[o++] = '-';
			dash = true;
		}
	}
	out[o] = '\0';
	return out;
}

int ec_hashed_filename(const char *text, unsigned length, const char *prefix,
		       char **out)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	char hex[2 * crypto_hash_sha256_BYTES + 1];
	char *folded = NULL, *start, *end, *res;

	*out = NULL;
	if (length < 8 || length > 64)
		return -EINVAL;
	crypto_hash_sha256(h, (const unsigned char *)text, strlen(text));
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	hex[length] = '\0';
	if (!prefix) {
		*out = strdup(hex);
		return *out ? 0 : -ENOMEM;
	}
	folded = fold_prefix(prefix);
	if (!folded)
		return -ENOMEM;
	start = folded;
	while (*start == '-')
		start++;
	end = start + strlen(start);
	while (end > start && end[-1] == '-')
		*--end = '\0';
	if (!*start) {
		free(folded);
		return -EINVAL;
	}
	res = malloc(strlen(start) + 1 + length + 1);
	if (res) {
		strcpy(res, start);
		strcat(res, "-");
		strcat(res, hex);
	}
	free(folded);
	*out = res;
	return res ? 0 : -ENOMEM;
}

int ec_inspect_file(const char *path, struct ec_envelope *env,
		    struct stat *st, uint64_t *token_ts, bool *has_ts)
{
	unsigned char raw[9];
	size_t rawlen = 0, len = 0;
	char *buf = NULL;
	int err;

	memset(env, 0, sizeof(*env));
	*has_ts = false;
	err = ec_store_read_file(path, EC_ENVELOPE_MAX, &buf, &len, st);
	if (err)
		return err;
	err = ec_envelope_parse(buf, len, env);
	if (err)
		goto out;
	/* 12 base64 chars are the version byte and the 8-byte timestamp. */
	if (env->encrypted_len >= 12 &&
	    sodium_base642bin(raw, sizeof(raw), env->encrypted, 12, NULL,
			      &rawlen, NULL,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0 &&
	    rawlen == 9 && raw[0] == 0x80) {
		uint64_t ts = 0;
		int i;

		for (i = 1; i < 9; i++)
			ts = ts << 8 | raw[i];
		*token_ts = ts;
		*has_ts = true;
	}
out:
	free(buf);
	return err;
}
