/*
 * enccache: libenccache's errors, memory, secrets, the cache handle and
 * the helpers that need no cache.  A front end over libcore, like the
 * CLI: it prints nothing and keeps no globals.  The entry functions are
 * in entries.c; the contract is enccache.h.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cache.h"
#include "error.h"
#include "libint.h"
#include "secure.h"
#include "view.h"

const char *enccache_version(void)
{
	return PACKAGE_VERSION;
}

/* ---- errors ----------------------------------------------------------- */

static const char *const messages[] = {
	[-ENCCACHE_ESTALE - 5001] = "entry is stale",
	[-ENCCACHE_ESALT - 5001] = "salt mismatch",
	[-ENCCACHE_EKEY - 5001] = "key name not among the secrets",
	[-ENCCACHE_EAUTH - 5001] =
		"token failed authentication (tampered, or the wrong password)",
	[-ENCCACHE_ECORRUPT - 5001] =
		"not a valid envelope (corrupt, truncated or half-written)",
	[-ENCCACHE_ETTL - 5001] =
		"not a TTL (e.g. '5 days', 'inf', '0', or an ISO-8601 time)",
	[-ENCCACHE_ETIME - 5001] = "not an ISO-8601 date-time",
	[-ENCCACHE_EID - 5001] =
		"invalid cache id (empty, absolute, or with an empty, '.' or '..' part)",
	[-ENCCACHE_ESECRETS - 5001] =
		"not a set of key names to password strings (none, or a name repeated)",
	[-ENCCACHE_ELOOSE - 5001] =
		"permissions too open (group or others have access, or not our file)",
	[-ENCCACHE_EUTF8 - 5001] = "not valid UTF-8",
	[-ENCCACHE_EJSON - 5001] = "not JSON a plist can hold",
	[-ENCCACHE_ENOTPLIST - 5001] = "not a binary plist",
	[-ENCCACHE_ETOOBIG - 5001] = "too large",
	[-ENCCACHE_ECALLBACK - 5001] = "the callback failed",
};

const char *enccache_strerror(int err)
{
	const char *s;

	if (err >= 0)
		return "success";
	if (err <= ENCCACHE_ESTALE && err >= ENCCACHE_ECALLBACK)
		return messages[-err - 5001];
	if (err < -4095)
		return "unknown error";
	/* strerror() may use a static buffer; the descriptions are
	 * constant strings. */
	s = strerrordesc_np(-err);
	return s ? s : "unknown error";
}

int ec_lib_code(int err)
{
	if (err >= 0)
		return err;
	switch (-err) {
	case EC_ESALT:
		return ENCCACHE_ESALT;
	case EC_EKEY:
		return ENCCACHE_EKEY;
	case EC_EHMAC:
		return ENCCACHE_EAUTH;
	case EC_EBASE64:
	case EC_EVERSION:
	case EC_ELENGTH:
	case EC_EPADDING:
	case EC_EJSON:
	case EC_EFIELD:
	case EC_EPLIST:
		return ENCCACHE_ECORRUPT;
	case EC_ETOOBIG:
		return ENCCACHE_ETOOBIG;
	case EC_ETIME:
		return ENCCACHE_ETIME;
	case EC_ETTL:
		return ENCCACHE_ETTL;
	case EC_ELOOSE:
		return ENCCACHE_ELOOSE;
	case EC_ESECRETS:
		return ENCCACHE_ESECRETS;
	case EC_EID:
		return ENCCACHE_EID;
	case EC_EUTF8:
		return ENCCACHE_EUTF8;
	default:
		/* An errno value; libcore has no other codes. */
		return -err >= EC_ERR_BASE ? -EIO : err;
	}
}

/* ---- memory ----------------------------------------------------------- */

void enccache_free(void *p)
{
	ec_secure_free(p);
}

char *ec_lib_secure_dup(const void *p, size_t n)
{
	char *q;

	if (n == SIZE_MAX)
		return NULL;
	q = ec_secure_alloc(n + 1);
	if (!q)
		return NULL;
	if (n)
		memcpy(q, p, n);
	q[n] = '\0';
	return q;
}

int enccache_buf_append(enccache_buf *b, const void *data, size_t len)
{
	if (!b || (!data && len))
		return -EINVAL;
	return ec_sbuf_append(&b->b, data, len);
}

/* ---- secrets ---------------------------------------------------------- */

int enccache_secrets_new(enccache_secrets **out)
{
	enccache_secrets *s;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (ec_secure_init() < 0)
		return -EIO;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	*out = s;
	return 0;
}

static const struct ec_secret *find_secret(const struct ec_secrets *s,
					   const char *name)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->v[i].name, name) == 0)
			return &s->v[i];
	return NULL;
}

/* Append a copy of name and password (pwlen bytes) to s. */
static int secrets_push(struct ec_secrets *s, const char *name,
			const char *password, size_t pwlen)
{
	struct ec_secret *v, *e;

	v = realloc(s->v, (s->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	s->v = v;
	e = &v[s->n];
	e->name = strdup(name);
	e->password = ec_lib_secure_dup(password, pwlen);
	e->pwlen = pwlen;
	if (!e->name || !e->password) {
		free(e->name);
		ec_secure_free(e->password);
		return -ENOMEM;
	}
	s->n++;
	return 0;
}

int enccache_secrets_add(enccache_secrets *s, const char *name,
			 const char *password)
{
	if (!s || !name || !password)
		return -EINVAL;
	/* UTF-8 as Python's str.encode() makes it: shortest forms, no
	 * surrogates. */
	if (!ec_view_is_utf8(name, strlen(name)) ||
	    !ec_view_is_utf8(password, strlen(password)))
		return ENCCACHE_EUTF8;
	if (find_secret(&s->s, name))
		return ENCCACHE_ESECRETS;
	return secrets_push(&s->s, name, password, strlen(password));
}

int enccache_secrets_read_file(const char *path, enccache_secrets **out)
{
	enccache_secrets *s;
	int err;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!path)
		return -EINVAL;
	err = enccache_secrets_new(&s);
	if (err)
		return err;
	err = ec_secrets_read_file(path, &s->s);
	if (err) {
		free(s);
		return ec_lib_code(err);
	}
	*out = s;
	return 0;
}

void enccache_secrets_free(enccache_secrets *s)
{
	if (!s)
		return;
	ec_secrets_release(&s->s);
	free(s);
}

/* ---- the cache -------------------------------------------------------- */

/* mkdir -p dir, each created directory 0700 (the module's mode). */
static int make_dirs(const char *dir)
{
	char *p = strdup(dir), *slash;
	int err = 0;

	if (!p)
		return -ENOMEM;
	for (slash = strchr(p + 1, '/');; slash = strchr(slash + 1, '/')) {
		if (slash)
			*slash = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST) {
			err = -errno;
			break;
		}
		if (!slash)
			break;
		*slash = '/';
		while (slash[1] == '/')
			slash++;
	}
	free(p);
	return err;
}

int enccache_open(const char *dir, const enccache_secrets *secrets,
		  const void *salt, size_t salt_len, const char *ttl,
		  const char *suffix, enccache **out)
{
	struct ec_cache_options o = {
		.dir = dir, .suffix = suffix, .salt = salt,
		.salt_len = salt_len, .oldest_valid_us = EC_TIME_NONE,
	};
	struct ec_secrets copy = { NULL, 0 };
	struct stat st;
	enccache *c = NULL;
	size_t i;
	int err;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!dir || !*dir || !secrets || (!salt && salt_len))
		return -EINVAL;
	if (secrets->s.n == 0)
		return ENCCACHE_ESECRETS;
	o.ttl = ec_ttl_default();
	if (ttl && ec_ttl_parse(ttl, &o.ttl) < 0)
		return ENCCACHE_ETTL;
	if (suffix && (!*suffix || strchr(suffix, '/')))
		return -EINVAL;
	if (stat(dir, &st) < 0) {
		if (errno != ENOENT)
			return -errno;
		err = make_dirs(dir);
		if (err)
			return err;
	}
	for (i = 0; i < secrets->s.n; i++) {
		const struct ec_secret *e = &secrets->s.v[i];

		err = secrets_push(&copy, e->name, e->password, e->pwlen);
		if (err) {
			ec_secrets_release(&copy);
			return err;
		}
	}
	c = calloc(1, sizeof(*c));
	if (c)
		c->names = calloc(copy.n, sizeof(*c->names));
	for (i = 0; c && c->names && i < copy.n; i++) {
		c->names[i] = strdup(copy.v[i].name);
		if (!c->names[i])
			break;
		c->nnames++;
	}
	if (!c || c->nnames < copy.n) {
		ec_secrets_release(&copy);
		enccache_close(c);
		return -ENOMEM;
	}
	c->ttl = o.ttl;
	/* Wipes and releases the copy on every path. */
	err = ec_cache_open(&o, &copy, &c->cache);
	if (err) {
		enccache_close(c);
		return ec_lib_code(err);
	}
	*out = c;
	return 0;
}

void enccache_close(enccache *c)
{
	size_t i;

	if (!c)
		return;
	ec_cache_free(c->cache);
	for (i = 0; i < c->nnames; i++)
		free(c->names[i]);
	free(c->names);
	free(c);
}

bool ec_lib_has_key(const enccache *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nnames; i++)
		if (strcmp(c->names[i], name) == 0)
			return true;
	return false;
}

int enccache_set_durable(enccache *c, int durable)
{
	if (!c)
		return -EINVAL;
	c->durable = durable != 0;
	return 0;
}

int ec_lib_rule_parse(const enccache *c, const char *ttl,
		      const char *oldest_valid, struct ec_lib_rule *r)
{
	r->ttl = c->ttl;
	r->oldest_us = EC_TIME_NONE;
	if (ttl && ec_ttl_parse(ttl, &r->ttl) < 0)
		return ENCCACHE_ETTL;
	if (oldest_valid && ec_time_parse_iso(oldest_valid, &r->oldest_us) < 0)
		return ENCCACHE_ETIME;
	return 0;
}

const char *enccache_state_name(int state)
{
	switch (state) {
	case ENCCACHE_VALID:
		return ec_state_name(EC_STATE_VALID);
	case ENCCACHE_STALE:
		return ec_state_name(EC_STATE_STALE);
	case ENCCACHE_SALT_MISMATCH:
		return ec_state_name(EC_STATE_SALT_MISMATCH);
	case ENCCACHE_UNKNOWN_KEY:
		return ec_state_name(EC_STATE_UNKNOWN_KEY);
	case ENCCACHE_CORRUPT:
		return ec_state_name(EC_STATE_CORRUPT);
	case ENCCACHE_TAMPERED:
		return ec_state_name(EC_STATE_TAMPERED);
	default:
		return "?";
	}
}

/* ---- helpers ---------------------------------------------------------- */

int enccache_get_hashed_filename(const char *text, unsigned length,
				 const char *prefix, char **out)
{
	char *name = NULL;
	int err;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!text)
		return -EINVAL;
	err = ec_hashed_filename(text, length ? length : 32, prefix, &name);
	if (err)
		return ec_lib_code(err);
	*out = ec_lib_secure_dup(name, strlen(name));
	free(name);
	return *out ? 0 : -ENOMEM;
}

int enccache_json_to_plist(const char *json, size_t len, uint8_t **plist,
			   size_t *plist_len)
{
	int err;

	if (!plist || !plist_len)
		return -EINVAL;
	*plist = NULL;
	*plist_len = 0;
	if (!json && len)
		return -EINVAL;
	/* JSON is UTF-8 (RFC 8259 8.1); the parser below would take other
	 * bytes into strings. */
	if (json && !ec_view_is_utf8(json, len))
		return ENCCACHE_EJSON;
	err = ec_view_parse_content(EC_VIEW_JSON, true, (const uint8_t *)json,
				    len, plist, plist_len);
	if (err == -EINVAL)
		return ENCCACHE_EJSON;
	return ec_lib_code(err);
}

int enccache_plist_to_json(const void *plist, size_t len, char **json,
			   size_t *json_len)
{
	uint8_t *out = NULL;
	size_t outlen = 0;
	bool is_bplist = false;
	int err;

	if (!json || !json_len)
		return -EINVAL;
	*json = NULL;
	*json_len = 0;
	if (!plist)
		return len ? -EINVAL : ENCCACHE_ENOTPLIST;
	err = ec_view_render(EC_VIEW_JSON, plist, len, &out, &outlen,
			     &is_bplist);
	if (err)
		return ec_lib_code(err);
	/* A plist that JSON cannot carry is rendered as its raw bytes, which
	 * start with the bplist magic; JSON text never does. */
	if (!is_bplist || (outlen >= 6 && memcmp(out, "bplist", 6) == 0)) {
		ec_secure_free(out);
		return ENCCACHE_ENOTPLIST;
	}
	*json = ec_lib_secure_dup(out, outlen);
	ec_secure_free(out);
	if (!*json)
		return -ENOMEM;
	*json_len = outlen;
	return 0;
}
