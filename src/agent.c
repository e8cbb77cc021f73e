/*
 * agent: derived keys in the user's kernel keyring (see agent.h).
 * Calls libkeyutils, libsodium, kdf (the fingerprint) and secure.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#ifdef HAVE_KEYUTILS
#include <keyutils.h>
#endif

#include "agent.h"
#include "secure.h"

/* The secret's payload: the secret, then the expiry it must outlive
 * (little-endian unix seconds), so that a later key with a longer
 * timeout extends it and a shorter one never cuts it. */
#define SECRET_PAYLOAD (EC_AGENT_SECRETBYTES + 8)

static void put_u64(crypto_generichash_state *st, uint64_t v)
{
	uint8_t b[8];
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	crypto_generichash_update(st, b, sizeof(b));
}

/* A length, then the bytes: no two inputs hash the same stream. */
static void put_bytes(crypto_generichash_state *st, const void *p, size_t n)
{
	put_u64(st, n);
	if (n)
		crypto_generichash_update(st, p, n);
}

void ec_agent_describe(const uint8_t secret[EC_AGENT_SECRETBYTES],
		       const struct ec_key_input *in,
		       char out[EC_AGENT_DESC_MAX])
{
	static const char tag[] = "enccache key agent v1";
	crypto_generichash_state st;
	uint8_t mac[32];
	char fp[EC_FINGERPRINT_LEN + 1];
	size_t n;

	crypto_generichash_init(&st, secret, EC_AGENT_SECRETBYTES,
				sizeof(mac));
	put_bytes(&st, tag, sizeof(tag) - 1);
	put_u64(&st, in->iterations);
	put_bytes(&st, in->salt, in->saltlen);
	put_bytes(&st, in->name, strlen(in->name));
	put_bytes(&st, in->password, in->pwlen);
	crypto_generichash_final(&st, mac, sizeof(mac));
	ec_secure_wipe(&st, sizeof(st));	/* it absorbed the password */
	ec_kdf_fingerprint(in->salt, in->saltlen, fp);
	n = (size_t)snprintf(out, EC_AGENT_DESC_MAX, "%s%s:", EC_AGENT_PREFIX,
			     fp);
	sodium_bin2hex(out + n, EC_AGENT_DESC_MAX - n, mac, sizeof(mac));
	ec_secure_wipe(mac, sizeof(mac));
}

const struct ec_key_source *ec_agent_source(struct ec_agent *a)
{
	return &a->source;
}

#ifdef HAVE_KEYUTILS

static int agent_lookup_cb(void *ctx, const struct ec_key_input *in,
			   uint8_t key[EC_KEYBYTES])
{
	return ec_agent_lookup(ctx, in, key);
}

static void agent_store_cb(void *ctx, const struct ec_key_input *in,
			   const uint8_t key[EC_KEYBYTES])
{
	if (ec_agent_store(ctx, in, key) < 0)
		return;		/* derived again next time: no harm */
}

/* Possessor and user only; no group, no other (and no link for the
 * user: only a possessor links a key elsewhere). */
#define KEY_PERM (KEY_POS_VIEW | KEY_POS_READ | KEY_POS_WRITE | \
		  KEY_POS_SEARCH | KEY_POS_LINK | KEY_POS_SETATTR | \
		  KEY_USR_VIEW | KEY_USR_READ | KEY_USR_SEARCH | \
		  KEY_USR_SETATTR)

static uint64_t now_s(void)
{
	struct timespec ts;

	/* key expiry is wall-clock time in the kernel too */
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec;
}

/* The key described desc in the user keyring: its serial, -ENOKEY (also
 * for one that expired or was revoked and is not collected yet), -errno. */
static int32_t find(const char *desc)
{
	long id = keyctl_search(KEY_SPEC_USER_KEYRING, "user", desc, 0);

	if (id >= 0)
		return (int32_t)id;
	return errno == EKEYEXPIRED || errno == EKEYREVOKED ? -ENOKEY :
		-errno;
}

/* Timeout first (a key never lingers without one), then permissions. */
static int settle(int32_t id, unsigned timeout_s)
{
	if (keyctl_set_timeout(id, timeout_s) < 0 ||
	    keyctl_setperm(id, KEY_PERM) < 0) {
		int err = -errno;

		keyctl_invalidate(id);
		return err;
	}
	return 0;
}

static void put_expiry(uint8_t *payload, uint64_t until)
{
	int i;

	for (i = 0; i < 8; i++)
		payload[EC_AGENT_SECRETBYTES + i] = (uint8_t)(until >> (8 * i));
}

/* Read the secret into a (a->lock held or a not shared yet): 0,
 * -ENOKEY when there is none, -errno. */
static int load_secret(struct ec_agent *a)
{
	uint8_t *p = ec_secure_alloc(SECRET_PAYLOAD);
	int32_t id = find(EC_AGENT_SECRET_DESC);
	uint64_t until = 0;
	long n;
	int i;

	if (!p)
		return -ENOMEM;
	if (id < 0) {
		ec_secure_free(p);
		return id;
	}
	n = keyctl_read(id, (char *)p, SECRET_PAYLOAD);
	if (n != SECRET_PAYLOAD) {
		int err = n < 0 ? -errno : -EBADMSG;

		ec_secure_free(p);
		return err == -EKEYEXPIRED || err == -EKEYREVOKED ?
			-ENOKEY : err;
	}
	for (i = 0; i < 8; i++)
		until |= (uint64_t)p[EC_AGENT_SECRETBYTES + i] << (8 * i);
	ec_secure_free(a->secret);
	a->secret = p;
	a->secret_id = id;
	a->secret_expiry = until;
	return 0;
}

/* Make the secret, or make it outlive until (a->lock held). */
static int keep_secret(struct ec_agent *a, uint64_t until)
{
	uint8_t *p;
	int32_t id;
	int err = 0;

	if (a->secret && until <= a->secret_expiry)
		return 0;
	p = ec_secure_alloc(SECRET_PAYLOAD);
	if (!p)
		return -ENOMEM;
	if (a->secret)
		memcpy(p, a->secret, EC_AGENT_SECRETBYTES);
	else
		randombytes_buf(p, EC_AGENT_SECRETBYTES);
	put_expiry(p, until);
	if (a->secret && keyctl_update(a->secret_id, p, SECRET_PAYLOAD) == 0) {
		id = a->secret_id;
	} else {
		if (a->secret)	/* it expired under us: a new one */
			randombytes_buf(p, EC_AGENT_SECRETBYTES);
		id = add_key("user", EC_AGENT_SECRET_DESC, p, SECRET_PAYLOAD,
			     KEY_SPEC_USER_KEYRING);
		if (id < 0) {
			err = -errno;
			goto out;
		}
	}
	err = settle(id, a->timeout_s);
	if (err)
		goto out;
	ec_secure_free(a->secret);
	a->secret = p;
	a->secret_id = id;
	a->secret_expiry = until;
	p = NULL;
out:
	ec_secure_free(p);
	return err;
}

int ec_agent_open(struct ec_agent *a, unsigned timeout_s)
{
	int err;

	memset(a, 0, sizeof(*a));
	a->timeout_s = timeout_s ? timeout_s : 1;
	err = load_secret(a);
	if (err && err != -ENOKEY)
		return err;
	if (pthread_mutex_init(&a->lock, NULL) != 0) {
		ec_secure_free(a->secret);
		return -ENOMEM;
	}
	a->source.lookup = agent_lookup_cb;
	a->source.store = agent_store_cb;
	a->source.ctx = a;
	return 0;
}

void ec_agent_close(struct ec_agent *a)
{
	ec_secure_free(a->secret);
	a->secret = NULL;
	pthread_mutex_destroy(&a->lock);
}

int ec_agent_lookup(struct ec_agent *a, const struct ec_key_input *in,
		    uint8_t key[EC_KEYBYTES])
{
	char desc[EC_AGENT_DESC_MAX];
	int32_t id;
	long n;

	pthread_mutex_lock(&a->lock);
	if (!a->secret) {
		pthread_mutex_unlock(&a->lock);
		return -ENOKEY;
	}
	ec_agent_describe(a->secret, in, desc);
	pthread_mutex_unlock(&a->lock);
	id = find(desc);
	if (id < 0)
		return id;
	n = keyctl_read(id, (char *)key, EC_KEYBYTES);
	if (n == EC_KEYBYTES)
		return 0;
	ec_secure_wipe(key, EC_KEYBYTES);
	return n < 0 ? -errno : -EBADMSG;
}

int ec_agent_store(struct ec_agent *a, const struct ec_key_input *in,
		   const uint8_t key[EC_KEYBYTES])
{
	char desc[EC_AGENT_DESC_MAX];
	int32_t id;
	int err;

	pthread_mutex_lock(&a->lock);
	if (!a->secret && load_secret(a) == -ENOMEM) {
		err = -ENOMEM;
		goto out;
	}
	err = keep_secret(a, now_s() + a->timeout_s);
	if (err)
		goto out;
	ec_agent_describe(a->secret, in, desc);
	id = add_key("user", desc, key, EC_KEYBYTES, KEY_SPEC_USER_KEYRING);
	err = id < 0 ? -errno : settle(id, a->timeout_s);
out:
	pthread_mutex_unlock(&a->lock);
	return err;
}

/* Whether the description d (of a key of ours) is one to drop. */
static bool to_drop(const char *d, const char *fingerprint)
{
	size_t np = strlen(EC_AGENT_PREFIX);

	if (strncmp(d, EC_AGENT_PREFIX, np) != 0)
		return false;
	if (!fingerprint)
		return true;
	return strncmp(d + np, fingerprint, EC_FINGERPRINT_LEN) == 0 &&
	       d[np + EC_FINGERPRINT_LEN] == ':';
}

int ec_agent_forget(const char *fingerprint, size_t *dropped)
{
	void *buf = NULL;
	int32_t *ids;
	size_t i, n, count = 0;
	long len;

	if (dropped)
		*dropped = 0;
	len = keyctl_read_alloc(KEY_SPEC_USER_KEYRING, &buf);
	if (len < 0)
		return -errno;
	ids = buf;
	n = (size_t)len / sizeof(*ids);
	for (i = 0; i < n; i++) {
		char *d = NULL, *desc;
		int semis = 0;

		if (keyctl_describe_alloc(ids[i], &d) < 0)
			continue;	/* expired or not ours to see */
		/* "type;uid;gid;perm;description" */
		for (desc = d; *desc && semis < 4; desc++)
			if (*desc == ';')
				semis++;
		if (semis == 4 && strncmp(d, "user;", 5) == 0 &&
		    to_drop(desc, fingerprint) &&
		    (keyctl_invalidate(ids[i]) == 0 ||
		     keyctl_unlink(ids[i], KEY_SPEC_USER_KEYRING) >= 0) &&
		    strcmp(desc, EC_AGENT_SECRET_DESC) != 0)
			count++;
		free(d);
	}
	free(buf);
	if (dropped)
		*dropped = count;
	return 0;
}

#else	/* no libkeyutils: the agent is never there */

int ec_agent_open(struct ec_agent *a, unsigned timeout_s)
{
	memset(a, 0, sizeof(*a));
	(void)timeout_s;
	return -ENOSYS;
}

void ec_agent_close(struct ec_agent *a)
{
	(void)a;
}

int ec_agent_lookup(struct ec_agent *a, const struct ec_key_input *in,
		    uint8_t key[EC_KEYBYTES])
{
	(void)a, (void)in, (void)key;
	return -ENOSYS;
}

int ec_agent_store(struct ec_agent *a, const struct ec_key_input *in,
		   const uint8_t key[EC_KEYBYTES])
{
	(void)a, (void)in, (void)key;
	return -ENOSYS;
}

int ec_agent_forget(const char *fingerprint, size_t *dropped)
{
	(void)fingerprint;
	if (dropped)
		*dropped = 0;
	return -ENOSYS;
}

#endif
