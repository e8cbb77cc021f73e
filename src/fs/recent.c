/*
 * recent: contents kept a moment after a metadata load (see recent.h).
 * A small table searched whole: there are at most EC_RECENT_SLOTS.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "recent.h"
#include "secure.h"

struct slot {
	struct ec_fsmeta_key k;
	uint64_t d;
	int64_t at;
	uint8_t *content;	/* NULL: free */
	size_t len;
};

struct ec_recent {
	pthread_mutex_t mu;
	struct slot v[EC_RECENT_SLOTS];
	size_t next;		/* where the next one goes */
	size_t bytes;		/* of the small ones kept */
	struct slot big;	/* one big content, or none */
};

int ec_recent_new(struct ec_recent **out)
{
	struct ec_recent *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (!r)
		return -ENOMEM;
	if (pthread_mutex_init(&r->mu, NULL) != 0) {
		free(r);
		return -ENOMEM;
	}
	*out = r;
	return 0;
}

static void drop(struct slot *s)
{
	ec_secure_free(s->content);
	s->content = NULL;
	s->len = 0;
}

/* A small slot goes: its bytes are counted off. */
static void drop_small(struct ec_recent *r, struct slot *s)
{
	if (s->content)
		r->bytes -= s->len;
	drop(s);
}

void ec_recent_free(struct ec_recent *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < EC_RECENT_SLOTS; i++)
		drop(&r->v[i]);
	drop(&r->big);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

void ec_recent_put(struct ec_recent *r, const struct ec_fsmeta_key *k,
		   uint64_t d, uint8_t *content, size_t len, int64_t now)
{
	struct slot *s;
	size_t i;

	if (!content)
		return;
	pthread_mutex_lock(&r->mu);
	/* Old ones go as the table turns round; young ones are replaced
	 * oldest first, which is the next slot. */
	for (i = 0; i < EC_RECENT_SLOTS; i++)
		if (r->v[i].content && now - r->v[i].at > EC_RECENT_US)
			drop_small(r, &r->v[i]);
	if (len > EC_RECENT_ENTRY_MAX) {
		s = &r->big;	/* the one big one: the last wins */
		drop(s);
	} else {
		for (i = 0; r->bytes + len > EC_RECENT_BYTES &&
			    i < EC_RECENT_SLOTS; i++)
			drop_small(r, &r->v[(r->next + i) % EC_RECENT_SLOTS]);
		s = &r->v[r->next];
		r->next = (r->next + 1) % EC_RECENT_SLOTS;
		drop_small(r, s);
		r->bytes += len;
	}
	s->k = *k;
	s->d = d;
	s->at = now;
	s->content = content;
	s->len = len;
	pthread_mutex_unlock(&r->mu);
}

/* Take s's content when it is (k, d)'s and young; drop it when old. */
static bool take(struct slot *s, const struct ec_fsmeta_key *k, uint64_t d,
		 int64_t now, uint8_t **content, size_t *len)
{
	if (!s->content || s->d != d || !ec_fsmeta_key_equal(&s->k, k))
		return false;
	if (now - s->at > EC_RECENT_US) {
		drop(s);
		return false;
	}
	*content = s->content;
	*len = s->len;
	s->content = NULL;
	s->len = 0;
	return true;
}

bool ec_recent_take(struct ec_recent *r, const struct ec_fsmeta_key *k,
		    uint64_t d, int64_t now, uint8_t **content, size_t *len)
{
	bool got;
	size_t i;

	pthread_mutex_lock(&r->mu);
	got = take(&r->big, k, d, now, content, len);
	for (i = 0; i < EC_RECENT_SLOTS && !got; i++) {
		size_t had = r->v[i].content ? r->v[i].len : 0;

		got = take(&r->v[i], k, d, now, content, len);
		if (had && !r->v[i].content)
			r->bytes -= had;
	}
	pthread_mutex_unlock(&r->mu);
	return got;
}
