/*
 * cache_rekey: rekey.h over the cache's parts.  An entry is loaded with
 * the old keys as any load is (a big one in a stream), its payload sealed
 * with the new key as a save seals it, and written with
 * ec_store_replace_spare() (a big one: ec_store_replace_with()), whose
 * check compares the envelope with the version loaded right before the
 * rename.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache_int.h"
#include "error.h"
#include "fernet.h"
#include "rekey.h"
#include "secure.h"

struct target {
	const char *from;	/* a key name of `from` (borrowed) */
	const struct ec_key *key;	/* its key in `to` */
	bool unchanged;
};

/* The spare temp files (store.h) of the saves not running now: a save
 * takes one (or a new one) and gives it back, so there are at most as
 * many as saves ran at once, each holding at most one file. */
struct spares {
	pthread_mutex_t lock;
	struct ec_store_spare **v;
	size_t n, size;
};

struct ec_rekey {
	const struct ec_cache *from, *to;
	struct target *t;
	size_t n;
	struct spares *spares;	/* changed by saves: r itself is const */
};

/* The name map gives name, or name itself. */
static const char *mapped(const struct ec_rekey_map *map, size_t nmap,
			  const char *name)
{
	size_t i;

	for (i = 0; i < nmap; i++)
		if (!strcmp(map[i].from, name))
			return map[i].to;
	return name;
}

/* The map itself: every name known, none twice, no chains. */
static int check_map(const struct ec_cache *from, const struct ec_cache *to,
		     const struct ec_rekey_map *map, size_t nmap,
		     enum ec_rekey_problem *problem, const char **bad)
{
	size_t i, j;

	for (i = 0; i < nmap; i++) {
		*bad = map[i].from;
		if (!ec_keyring_find(&from->keys, map[i].from)) {
			*problem = EC_REKEY_MAP_FROM;
			return -EC_EKEY;
		}
		for (j = 0; j < i; j++)
			if (!strcmp(map[j].from, map[i].from)) {
				*problem = EC_REKEY_MAP_TWICE;
				return -EINVAL;
			}
		*bad = map[i].to;
		if (!ec_keyring_find(&to->keys, map[i].to)) {
			*problem = EC_REKEY_MAP_TO;
			return -EC_EKEY;
		}
		for (j = 0; j < nmap; j++)
			if (!strcmp(map[j].from, map[i].to) &&
			    strcmp(map[j].from, map[j].to) != 0) {
				*problem = EC_REKEY_MAP_CHAIN;
				return -EINVAL;
			}
	}
	return 0;
}

int ec_rekey_new(const struct ec_cache *from, const struct ec_cache *to,
		 const struct ec_rekey_map *map, size_t nmap,
		 struct ec_rekey **out, enum ec_rekey_problem *problem,
		 const char **bad)
{
	bool same_salt = !strcmp(from->keys.fingerprint, to->keys.fingerprint);
	struct ec_rekey *r;
	size_t i;
	int err;

	*out = NULL;
	*problem = EC_REKEY_PLAN_OK;
	*bad = NULL;
	err = check_map(from, to, map, nmap, problem, bad);
	if (err)
		return err;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->from = from;
	r->to = to;
	r->n = from->keys.n;
	r->t = calloc(r->n ? r->n : 1, sizeof(*r->t));
	r->spares = calloc(1, sizeof(*r->spares));
	if (!r->t || !r->spares ||
	    pthread_mutex_init(&r->spares->lock, NULL) != 0) {
		free(r->spares);
		free(r->t);
		free(r);
		return -ENOMEM;
	}
	for (i = 0; i < r->n; i++) {
		struct target *t = &r->t[i];
		const char *name = from->keys.keys[i].name;
		const char *to_name = mapped(map, nmap, name);
		const struct ec_key *old = ec_keyring_find(&from->keys, name);

		t->from = name;
		t->key = ec_keyring_find(&to->keys, to_name);
		if (!t->key || !old) {
			*problem = EC_REKEY_NO_NEW_KEY;
			*bad = name;
			ec_rekey_free(r);
			return -EC_EKEY;
		}
		t->unchanged = same_salt && !strcmp(to_name, name) &&
			sodium_memcmp(old->key, t->key->key, EC_KEYBYTES) == 0;
	}
	*out = r;
	return 0;
}

void ec_rekey_free(struct ec_rekey *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->spares->n; i++)
		ec_store_spare_free(r->spares->v[i]);
	free(r->spares->v);
	pthread_mutex_destroy(&r->spares->lock);
	free(r->spares);
	free(r->t);
	free(r);
}

int ec_rekey_derive(struct ec_cache *c)
{
	return ec_keyring_derive_all(&c->keys);
}

size_t ec_rekey_changed_keys(const struct ec_rekey *r)
{
	size_t i, n = 0;

	for (i = 0; i < r->n; i++)
		n += !r->t[i].unchanged;
	return n;
}

static const struct target *target_of(const struct ec_rekey *r,
				      const char *name)
{
	size_t i;

	for (i = 0; name && i < r->n; i++)
		if (!strcmp(r->t[i].from, name))
			return &r->t[i];
	return NULL;
}

/* ---- the save over the version read ------------------------------------ */

struct seen {
	const struct ec_entry *e;	/* as loaded: st and tag */
	const char *buf;		/* the new envelope (small ones) */
	size_t len;
};

/* check() for ec_store_replace_with(): still the version loaded?  A small
 * one is read again and its tag compared too: timestamps are coarse, and
 * Python rewrites in place (same inode, maybe the same size). */
static int still_seen(void *ctx, int fd, const struct stat *st)
{
	const struct seen *s = ctx;
	struct stat cur;
	char *buf = NULL;
	size_t len = 0;
	int err;

	if (fd < 0)
		return -ENOENT;
	if (!ec_store_same_file(st, &s->e->st))
		return -ESTALE;
	if ((size_t)st->st_size >= EC_STREAM_MIN)
		return 0;
	cur = *st;
	err = ec_store_read_fd(fd, EC_STREAM_MIN, &cur, &buf, &len);
	if (!err && (!ec_store_same_file(&cur, &s->e->st) ||
		     ec_envelope_tag(buf, len) != s->e->tag))
		err = -ESTALE;
	free(buf);
	return err == -EC_ETOOBIG || err == -EAGAIN ? -ESTALE : err;
}

/* fill() for ec_store_replace_with(): the new envelope as it is. */
static int write_whole(void *ctx, int fd)
{
	const struct seen *w = ctx;

	return ec_store_write_all(fd, w->buf, w->len);
}

/* Whether the streamed payload's frame can hold this validasof. */
static bool frame_ok(size_t len, const char *validasof)
{
	uint8_t pre[EC_PAYLOAD_FRAME_MAX], post[EC_PAYLOAD_FRAME_MAX];
	size_t a, b;

	return ec_payload_frame(len, validasof, pre, &a, post, &b) == 0;
}

/* A spare from the pool, or a new one; NULL when out of memory. */
static struct ec_store_spare *take_spare(struct spares *p)
{
	struct ec_store_spare *sp = NULL;

	pthread_mutex_lock(&p->lock);
	if (p->n)
		sp = p->v[--p->n];
	pthread_mutex_unlock(&p->lock);
	if (!sp && ec_store_spare_new(&sp) < 0)
		return NULL;
	return sp;
}

static void give_back(struct spares *p, struct ec_store_spare *sp)
{
	bool kept = false;

	pthread_mutex_lock(&p->lock);
	if (p->n == p->size) {
		size_t size = p->size ? 2 * p->size : 4;
		struct ec_store_spare **v = realloc(p->v, size * sizeof(*v));

		if (v) {
			p->v = v;
			p->size = size;
		}
	}
	if (p->n < p->size) {
		p->v[p->n++] = sp;
		kept = true;
	}
	pthread_mutex_unlock(&p->lock);
	if (!kept)
		ec_store_spare_free(sp);
}

/* e (loaded by `from`, with its data) saved as id under t's key. */
static int save(const struct ec_rekey *r, const char *id,
		const struct ec_entry *e, const struct target *t)
{
	const struct ec_cache *to = r->to;
	unsigned flags = to->durable ? EC_STORE_DURABLE : 0;
	struct ec_envelope env = { 0 };
	struct seen seen = { .e = e };
	struct ec_store_spare *sp;
	uint8_t iv[EC_FERNET_IVBYTES];
	uint8_t *payload = NULL;
	size_t plen = 0, outlen = 0;
	char *token = NULL, *out = NULL;
	int64_t ts_us = e->created_us == EC_TIME_NONE ? ec_clock_now_us() :
		e->created_us;
	int err;

	env.key = t->key->name;
	env.salt_sha256 = (char *)to->keys.fingerprint;
	env.created_at = e->env.created_at;	/* the text as stored */
	env.comment = e->env.comment;
	if (e->len >= EC_STREAM_MIN && frame_ok(e->len, e->validasof))
		return ec_cache_save_stream_if(to, id, &env, t->key, ts_us,
					       e->data, e->len, e->validasof,
					       flags, still_seen, &seen, NULL);
	err = ec_payload_pack(e->data, e->len, e->validasof, &payload, &plen);
	if (err)
		goto out;
	randombytes_buf(iv, sizeof(iv));
	err = ec_fernet_seal(t->key->key, payload, plen,
			     ts_us < 0 ? 0 : (uint64_t)(ts_us / 1000000), iv,
			     &token, &env.encrypted_len);
	if (err)
		goto out;
	env.encrypted = token;
	err = ec_envelope_serialize(&env, &out, &outlen);
	if (err)
		goto out;
	seen.buf = out;
	seen.len = outlen;
	sp = take_spare(r->spares);
	if (!sp) {
		err = -ENOMEM;
		goto out;
	}
	err = ec_store_replace_spare(&to->store, id, flags, write_whole,
				     still_seen, &seen, sp);
	give_back(r->spares, sp);
out:
	free(out);
	free(token);
	ec_secure_free(payload);
	return err;
}

/* ---- one entry --------------------------------------------------------- */

static bool opened(const struct ec_entry *e)
{
	return e->state == EC_STATE_VALID || e->state == EC_STATE_STALE;
}

static void drop_data(struct ec_entry *e)
{
	ec_secure_free(e->data);
	e->data = NULL;
}

/* id loaded by c into e; a file that cannot be read is a corrupt entry
 * with the errno as its reason.  0, 1 when it is gone, -EC_EID/-ENOMEM. */
static int load(const struct ec_cache *c, const char *id, unsigned flags,
		struct ec_entry *e)
{
	int err = ec_cache_load(c, id, flags, ec_clock_now_us(), e);

	if (err == -ENOENT)
		return 1;
	if (err == -EC_EID || err == -ENOMEM)
		return err;
	if (err) {
		ec_entry_init(e);
		ec_entry_set_state(e, EC_STATE_CORRUPT, err);
	}
	return 0;
}

/* Not opened by `from`: by `to`?  e is replaced by `to`'s load then. */
static int try_new(const struct ec_rekey *r, const char *id,
		   struct ec_entry *e, enum ec_rekey_outcome *outcome)
{
	struct ec_entry n;
	int err = load(r->to, id, 0, &n);

	if (err < 0)
		return err;
	if (err == 1) {
		*outcome = EC_REKEY_GONE;
		return 0;
	}
	if (opened(&n)) {
		ec_entry_release(e);
		*e = n;
		*outcome = EC_REKEY_ALREADY;
		return 0;
	}
	ec_entry_release(&n);
	*outcome = EC_REKEY_LEFT;
	return 0;
}

int ec_rekey_entry(const struct ec_rekey *r, const char *id, unsigned flags,
		   struct ec_entry *e, enum ec_rekey_outcome *outcome,
		   int *err)
{
	bool dry = flags & EC_REKEY_DRY_RUN;
	unsigned lf = dry ? 0 : EC_LOAD_DATA | EC_LOAD_STALE_OK;
	int tries, rc;

	*err = 0;
	*outcome = EC_REKEY_BUSY;
	ec_entry_init(e);
	for (tries = 0; tries < EC_REKEY_TRIES; tries++) {
		const struct target *t;

		if (tries)
			ec_entry_release(e);
		rc = load(r->from, id, lf, e);
		if (rc < 0) {
			ec_entry_release(e);
			return rc;
		}
		if (rc == 1) {
			ec_entry_init(e);
			*outcome = EC_REKEY_GONE;
			return 0;
		}
		if (!opened(e)) {
			rc = try_new(r, id, e, outcome);
			if (rc)
				ec_entry_release(e);
			return rc;
		}
		t = target_of(r, e->env.key);
		if (!t)
			abort();	/* `from` opened it with a key: a bug */
		if (t->unchanged || dry) {
			drop_data(e);
			*outcome = t->unchanged ? EC_REKEY_UNCHANGED :
				EC_REKEY_REKEYED;
			return 0;
		}
		rc = save(r, id, e, t);
		drop_data(e);
		if (rc == -ESTALE)
			continue;	/* a newer version: look again */
		if (rc == -ENOENT) {
			*outcome = EC_REKEY_GONE;
		} else if (rc == -ENOMEM) {
			ec_entry_release(e);
			return rc;
		} else if (rc) {
			*outcome = EC_REKEY_FAILED;
			*err = rc;
		} else {
			*outcome = EC_REKEY_REKEYED;
		}
		return 0;
	}
	return 0;
}
