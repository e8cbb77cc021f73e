/*
 * probe: whether a cache opens with our keys and salt (see probe.h).
 * Reads envelopes through the store, parses their cleartext, and lets
 * the core classify the few it must verify.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "error.h"
#include "probe.h"
#include "startup.h"
#include "store.h"

/* Key names of others kept for counting; beyond, they are classified
 * again (which costs no crypto: their key is not found). */
#define FOREIGN_MAX 64

struct walk {
	const struct ec_cache *c;
	int64_t now;
	struct ec_probe *p;
	size_t ours_left;	/* our key names that have not opened yet */
	size_t foreign;		/* of p->keys, not ours */
	int err;
};

static struct ec_probe_key *find_key(struct ec_probe *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->nkeys; i++)
		if (strcmp(p->keys[i].name, name) == 0)
			return &p->keys[i];
	return NULL;
}

static struct ec_probe_key *add_key(struct ec_probe *p, const char *name,
				    bool ours)
{
	struct ec_probe_key *v, *k;

	v = realloc(p->keys, (p->nkeys + 1) * sizeof(*v));
	if (!v)
		return NULL;
	p->keys = v;
	k = &v[p->nkeys];
	memset(k, 0, sizeof(*k));
	k->name = strdup(name);
	if (!k->name)
		return NULL;
	k->ours = ours;
	p->nkeys++;
	return k;
}

/* Whether the token of an envelope in state s (reason r) authenticated:
 * payload errors come after the HMAC. */
static bool opened(enum ec_state s, int r)
{
	return s == EC_STATE_VALID || s == EC_STATE_STALE ||
	       (s == EC_STATE_CORRUPT &&
		(r == -EC_EPADDING || r == -EC_EPLIST));
}

/* Whether the key name still has something to tell. */
static bool wanted(struct walk *w, const char *name)
{
	struct ec_probe_key *k = find_key(w->p, name);

	return !k || (k->ours && !k->opened);
}

/* What e, classified, tells of its key name: the key's tally. */
static void tally(struct walk *w, const struct ec_entry *e, const char *name)
{
	struct ec_probe_key *k = find_key(w->p, name);

	if (!k && e->state == EC_STATE_UNKNOWN_KEY) {
		if (w->foreign < FOREIGN_MAX) {
			if (!add_key(w->p, name, false))
				w->err = -ENOMEM;
			w->foreign++;
		}
	} else if (e->state != EC_STATE_UNKNOWN_KEY) {
		if (!k)
			k = add_key(w->p, name, true);
		if (!k) {
			w->err = -ENOMEM;
		} else if (opened(e->state, e->reason)) {
			k->opened = true;
			if (w->ours_left)
				w->ours_left--;
		} else if (e->state == EC_STATE_TAMPERED) {
			k->failed++;
		}
	}
}

/*
 * Whether the walk can stop: every key name of ours opened an envelope
 * (then the salt is ours too); or EC_PROBE_LOOK_MAX envelopes were
 * looked at and nothing speaks against the cache so far (a key of ours
 * that has no envelope must not cost a walk of every file).
 */
static int done(const struct walk *w)
{
	const struct ec_probe *p = w->p;
	size_t i;

	if (w->err || w->ours_left == 0)
		return 1;
	if (p->envelopes < EC_PROBE_LOOK_MAX ||
	    (p->salt_ours == 0 && p->salt_other > 0))
		return 0;
	for (i = 0; i < p->nkeys; i++)
		if (p->keys[i].ours && !p->keys[i].opened &&
		    p->keys[i].failed)
			return 0;
	return 1;
}

/* Verify env's bytes with the core; update the key's tally. */
static int verify(struct walk *w, const char *buf, size_t len,
		  const char *name)
{
	struct ec_entry e;

	if (!wanted(w, name))
		return 0;	/* known: nothing to learn */
	ec_cache_classify(w->c, buf, len, 0, w->now, &e);
	tally(w, &e, name);
	ec_entry_release(&e);
	return 0;
}

/* A big envelope: through the core's stream (the plaintext held once,
 * never the envelope), and only when its key has something to tell. */
static int one_big(struct walk *w, const char *id)
{
	struct ec_entry e;

	if (ec_cache_load(w->c, id, 0, w->now, &e) != 0)
		return 0;	/* gone, unreadable: no evidence */
	if (e.state == EC_STATE_CORRUPT && !e.env.key) {
		ec_entry_release(&e);
		return 0;	/* corrupt or half-written */
	}
	w->p->envelopes++;
	if (e.state == EC_STATE_SALT_MISMATCH) {
		w->p->salt_other++;
		if (!w->p->other_fp[0] && e.env.salt_sha256)
			snprintf(w->p->other_fp, sizeof(w->p->other_fp), "%s",
				 e.env.salt_sha256);
	} else {
		w->p->salt_ours++;
		if (wanted(w, e.env.key))
			tally(w, &e, e.env.key);
	}
	ec_entry_release(&e);
	return done(w);
}

static int one(void *ctx, const char *id, const struct stat *st)
{
	struct walk *w = ctx;
	struct ec_probe *p = w->p;
	const char *fp = ec_cache_fingerprint(w->c);
	struct ec_envelope env;
	char *buf = NULL;
	size_t len = 0;

	if ((size_t)st->st_size >= EC_STREAM_MIN)
		return one_big(w, id);
	if (ec_store_read(ec_cache_store(w->c), id, EC_ENVELOPE_MAX, &buf,
			  &len, NULL) != 0)
		return 0;	/* gone, unreadable: no evidence */
	if (ec_envelope_parse(buf, len, &env) != 0) {
		free(buf);
		return 0;	/* corrupt or half-written */
	}
	p->envelopes++;
	if (env.salt_sha256 && strcmp(env.salt_sha256, fp) != 0) {
		p->salt_other++;
		if (!p->other_fp[0])
			snprintf(p->other_fp, sizeof(p->other_fp), "%s",
				 env.salt_sha256);
	} else {
		p->salt_ours++;
		verify(w, buf, len, env.key);
	}
	ec_envelope_release(&env);
	free(buf);
	return done(w);
}

int ec_probe_cache(const struct ec_cache *c, int64_t now, struct ec_probe *p)
{
	struct walk w = { c, now, p, ec_cache_key_count(c), 0, 0 };
	int err;

	memset(p, 0, sizeof(*p));
	err = ec_store_walk(ec_cache_store(c), one, &w);
	if (w.err)
		return w.err;
	if (err < 0)
		return err;
	p->complete = err == 0;
	return 0;
}

void ec_probe_release(struct ec_probe *p)
{
	size_t i;

	for (i = 0; i < p->nkeys; i++)
		free(p->keys[i].name);
	free(p->keys);
	memset(p, 0, sizeof(*p));
}

int ec_probe_verdict(const struct ec_cache *c, const struct ec_probe *p,
		     char *buf, size_t size, size_t *len)
{
	size_t i, n = 0;
	int err = 0;

	if (size)
		buf[0] = '\0';
	if (p->salt_ours == 0 && p->salt_other > 0) {
		err = -EC_ESALT;
		n = ec_startup_format(buf, size, "salt does not match any "
				      "entry (the %zu envelope%s ha%s salt "
				      "fingerprint %s, ours is %s)",
				      p->salt_other,
				      p->salt_other == 1 ? "" : "s",
				      p->salt_other == 1 ? "s" : "ve",
				      p->other_fp, ec_cache_fingerprint(c));
	}
	for (i = 0; !err && i < p->nkeys; i++) {
		const struct ec_probe_key *k = &p->keys[i];

		if (!k->ours || k->opened || !k->failed)
			continue;
		err = -EC_EHMAC;
		n = ec_startup_format(buf, size, "password for key '%s' does "
				      "not open any of its %zu entr%s",
				      k->name, k->failed,
				      k->failed == 1 ? "y" : "ies");
	}
	if (len)
		*len = n;
	return err;
}
