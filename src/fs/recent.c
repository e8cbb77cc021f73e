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

void ec_recent_free(struct ec_recent *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < EC_RECENT_SLOTS; i++)
		drop(&r->v[i]);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

void ec_recent_put(struct ec_recent *r, const struct ec_fsmeta_key *k,
		   uint64_t d, uint8_t *content, size_t len, int64_t now)
{
	struct slot *s;
	size_t i;

	if (!content || len > EC_RECENT_ENTRY_MAX) {
		ec_secure_free(content);
		return;
	}
	pthread_mutex_lock(&r->mu);
	/* Old ones go as the table turns round; young ones are replaced
	 * oldest first, which is the next slot. */
	for (i = 0; i < EC_RECENT_SLOTS; i++)
		if (r->v[i].content && now - r->v[i].at > EC_RECENT_US)
			drop(&r->v[i]);
	s = &r->v[r->next];
	r->next = (r->next + 1) % EC_RECENT_SLOTS;
	drop(s);
	s->k = *k;
	s->d = d;
	s->at = now;
	s->content = content;
	s->len = len;
	pthread_mutex_unlock(&r->mu);
}

bool ec_recent_take(struct ec_recent *r, const struct ec_fsmeta_key *k,
		    uint64_t d, int64_t now, uint8_t **content, size_t *len)
{
	bool got = false;
	size_t i;

	pthread_mutex_lock(&r->mu);
	for (i = 0; i < EC_RECENT_SLOTS && !got; i++) {
		struct slot *s = &r->v[i];

		if (!s->content || s->d != d || !ec_fsmeta_key_equal(&s->k, k))
			continue;
		if (now - s->at <= EC_RECENT_US) {
			*content = s->content;
			*len = s->len;
			s->content = NULL;
			s->len = 0;
			got = true;
		} else {
			drop(s);
		}
	}
	pthread_mutex_unlock(&r->mu);
	return got;
}
