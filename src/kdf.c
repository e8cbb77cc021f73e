/*
 * kdf: PBKDF2-HMAC-SHA256 keys and the keyring.  No files, JSON, clock or
 * logging.  The keyring derives each key at its first use (or all at once,
 * in parallel threads), since each costs 480,000 rounds.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* SHA256_Transform: deprecated in OpenSSL 3.0 but kept, and the only
 * public one-block compression (see ec_kdf_derive). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <sodium.h>

#include "kdf.h"
#include "kdf_int.h"
#include "secrets.h"
#include "secure.h"

/*
 * PBKDF2-HMAC-SHA256 for one 32-byte block (dkLen = hLen, so T_1 is the
 * key), written out rather than OpenSSL's PKCS5_PBKDF2_HMAC: that one
 * runs every round through the EVP_MAC machinery, and Debian's OpenSSL
 * 3.0 takes 0.14-0.24 s for 480,000 rounds here.  HMAC(P, m) is
 * SHA256(opad || SHA256(ipad || m)) with ipad/opad the key block XOR'd
 * with 0x36/0x5c: both padded blocks are compressed once, and every round
 * after the first is then exactly two compressions of one block each
 * (32 bytes of message, padded for a total length of 96 bytes): with the
 * CPU's SHA extensions by kdf_shani.c, elsewhere with OpenSSL's
 * SHA256_Transform (AVX2 or plain code).  Checked against the RFC 7914 /
 * Python vectors and the golden files, both ways.
 */
#define SHA_BLOCK 64
#define SHA_WORDS 8

/* Compress block into c starting from the state of from: the block
 * function touches only the chaining words h. */
static void round_block(SHA256_CTX *c, const SHA256_CTX *from,
			const uint8_t block[SHA_BLOCK])
{
	memcpy(c->h, from->h, sizeof(c->h));
	SHA256_Transform(c, block);
}

/* The big-endian bytes of a state, into the first 32 bytes of block. */
static void put_state(uint8_t *block, const SHA_LONG w[SHA_WORDS])
{
	int i;

	for (i = 0; i < SHA_WORDS; i++) {
		block[4 * i] = (uint8_t)(w[i] >> 24);
		block[4 * i + 1] = (uint8_t)(w[i] >> 16);
		block[4 * i + 2] = (uint8_t)(w[i] >> 8);
		block[4 * i + 3] = (uint8_t)w[i];
	}
}

/* A 32-byte message after a 64-byte key block: 96 bytes = 768 bits. */
static void pad_block(uint8_t block[SHA_BLOCK])
{
	memset(block + 32, 0, SHA_BLOCK - 32);
	block[32] = 0x80;
	block[SHA_BLOCK - 2] = 0x03;	/* 768 = 0x0300 */
}

/* ipad and opad states for key (hashed first when longer than a block). */
static void hmac_states(const uint8_t *key, size_t keylen, SHA256_CTX *ipad,
			SHA256_CTX *opad)
{
	uint8_t k[SHA_BLOCK], pad[SHA_BLOCK];
	size_t i;

	memset(k, 0, sizeof(k));
	if (keylen > SHA_BLOCK)
		SHA256(key, keylen, k);
	else if (keylen)
		memcpy(k, key, keylen);
	for (i = 0; i < SHA_BLOCK; i++)
		pad[i] = k[i] ^ 0x36;
	SHA256_Init(ipad);
	SHA256_Update(ipad, pad, SHA_BLOCK);
	for (i = 0; i < SHA_BLOCK; i++)
		pad[i] = k[i] ^ 0x5c;
	SHA256_Init(opad);
	SHA256_Update(opad, pad, SHA_BLOCK);
	ec_secure_wipe(k, sizeof(k));
	ec_secure_wipe(pad, sizeof(pad));
}

/* SHA extensions: found at the first derivation, switched off by tests
 * (ec_kdf_simd). */
static atomic_int shani = -1;	/* -1: not looked at yet */

static bool use_shani(void)
{
	int v = atomic_load(&shani);

	if (v < 0) {
		v = ec_kdf_shani_usable();
		atomic_store(&shani, v);
	}
	return v;
}

int ec_kdf_simd(int on)
{
	int was = use_shani();

	atomic_store(&shani, on && ec_kdf_shani_usable());
	return was;
}

static int check_args(const char *password, size_t pwlen,
		      const uint8_t *salt, size_t saltlen, unsigned iterations)
{
	if (iterations == 0 || iterations > INT_MAX || pwlen > INT_MAX ||
	    saltlen > INT_MAX)
		return -EINVAL;
	if ((password == NULL && pwlen > 0) || (salt == NULL && saltlen > 0))
		return -EINVAL;
	return 0;
}

/* A derivation's chain up to U_1 = HMAC(P, S || INT(1)) (the salt may be
 * any length): the HMAC states, U_1 as U and as T. */
static void chain_start(const char *password, size_t pwlen,
			const uint8_t *salt, size_t saltlen,
			struct ec_kdf_chain *ch)
{
	static const uint8_t one[4] = { 0, 0, 0, 1 };
	SHA256_CTX ipad, opad, c;
	uint8_t u[SHA256_DIGEST_LENGTH];
	int i;

	hmac_states((const uint8_t *)password, pwlen, &ipad, &opad);
	c = ipad;
	if (saltlen)
		SHA256_Update(&c, salt, saltlen);
	SHA256_Update(&c, one, sizeof(one));
	SHA256_Final(u, &c);
	c = opad;
	SHA256_Update(&c, u, sizeof(u));
	SHA256_Final(u, &c);
	memcpy(ch->ipad, ipad.h, sizeof(ch->ipad));
	memcpy(ch->opad, opad.h, sizeof(ch->opad));
	for (i = 0; i < SHA_WORDS; i++)
		ch->u[i] = (uint32_t)u[4 * i] << 24 |
			   (uint32_t)u[4 * i + 1] << 16 |
			   (uint32_t)u[4 * i + 2] << 8 | u[4 * i + 3];
	memcpy(ch->t, ch->u, sizeof(ch->t));
	ec_secure_wipe(&ipad, sizeof(ipad));
	ec_secure_wipe(&opad, sizeof(opad));
	ec_secure_wipe(&c, sizeof(c));
	ec_secure_wipe(u, sizeof(u));
}

/* U_r = HMAC(P, U_{r-1}), T = U_1 ^ ... ^ U_c, with SHA256_Transform. */
static void chain_rounds(struct ec_kdf_chain *ch, unsigned iterations)
{
	SHA256_CTX ipad, opad, c;
	uint8_t block[SHA_BLOCK];
	unsigned r;
	int i;

	memset(&ipad, 0, sizeof(ipad));
	memset(&opad, 0, sizeof(opad));
	memset(&c, 0, sizeof(c));
	memcpy(ipad.h, ch->ipad, sizeof(ipad.h));
	memcpy(opad.h, ch->opad, sizeof(opad.h));
	put_state(block, ch->u);
	pad_block(block);
	for (r = 1; r < iterations; r++) {
		round_block(&c, &ipad, block);
		put_state(block, c.h);
		round_block(&c, &opad, block);
		put_state(block, c.h);
		for (i = 0; i < SHA_WORDS; i++)
			ch->t[i] ^= c.h[i];
	}
	ec_secure_wipe(&ipad, sizeof(ipad));
	ec_secure_wipe(&opad, sizeof(opad));
	ec_secure_wipe(&c, sizeof(c));
	ec_secure_wipe(block, sizeof(block));
}

int ec_kdf_derive(const char *password, size_t pwlen,
		  const uint8_t *salt, size_t saltlen, unsigned iterations,
		  uint8_t key[EC_KEYBYTES])
{
	struct ec_kdf_chain ch;
	int err = check_args(password, pwlen, salt, saltlen, iterations);

	if (err)
		return err;
	chain_start(password, pwlen, salt, saltlen, &ch);
	if (use_shani())
		ec_kdf_shani_rounds(&ch, iterations);
	else
		chain_rounds(&ch, iterations);
	put_state(key, ch.t);
	ec_secure_wipe(&ch, sizeof(ch));
	return 0;
}

int ec_kdf_derive_two(const struct ec_key_input *a, uint8_t ka[EC_KEYBYTES],
		      const struct ec_key_input *b, uint8_t kb[EC_KEYBYTES])
{
	struct ec_kdf_chain ch[2];
	int err = check_args(a->password, a->pwlen, a->salt, a->saltlen,
			     a->iterations);

	if (!err)
		err = check_args(b->password, b->pwlen, b->salt, b->saltlen,
				 b->iterations);
	if (err)
		return err;
	if (!use_shani() || a->iterations != b->iterations) {
		/* One after the other gains nothing from pairing. */
		err = ec_kdf_derive(a->password, a->pwlen, a->salt,
				    a->saltlen, a->iterations, ka);
		if (!err)
			err = ec_kdf_derive(b->password, b->pwlen, b->salt,
					    b->saltlen, b->iterations, kb);
		return err;
	}
	chain_start(a->password, a->pwlen, a->salt, a->saltlen, &ch[0]);
	chain_start(b->password, b->pwlen, b->salt, b->saltlen, &ch[1]);
	ec_kdf_shani_rounds2(&ch[0], &ch[1], a->iterations);
	put_state(ka, ch[0].t);
	put_state(kb, ch[1].t);
	ec_secure_wipe(ch, sizeof(ch));
	return 0;
}

void ec_kdf_fingerprint(const uint8_t *salt, size_t saltlen,
			char out[EC_FINGERPRINT_LEN + 1])
{
	uint8_t h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, salt, saltlen);
	/* EC_FINGERPRINT_LEN hex chars = half as many bytes, plus the NUL */
	sodium_bin2hex(out, EC_FINGERPRINT_LEN + 1, h, EC_FINGERPRINT_LEN / 2);
}

/*
 * The keyring derives lazily: ec_keyring_prepare() keeps each password
 * (guarded) beside its key buffer, and the first ec_keyring_find() of a
 * name derives that key under the key's lock (or takes it from the
 * source), wipes the password and flags the key ready.  Later finds see
 * the flag (acquire) and take no lock.
 */

static struct ec_key_input input_of(const struct ec_keyring *kr,
				    const struct ec_key *k)
{
	struct ec_key_input in = { k->name, k->password, k->pwlen,
				   kr->salt, kr->saltlen, kr->iterations };

	return in;
}

/* k from the source, when it has it.  Under k->lock. */
static bool from_source(struct ec_keyring *kr, struct ec_key *k)
{
	const struct ec_key_source *src = kr->source;
	struct ec_key_input in = input_of(kr, k);

	if (!src || !src->lookup || src->lookup(src->ctx, &in, k->key) != 0)
		return false;
	atomic_fetch_add(&kr->fetched, 1);
	return true;
}

/* k is made (derived: by PBKDF2 just now): the source keeps it, the
 * password goes, the key turns read-only and ready.  Under k->lock. */
static void finish_key(struct ec_keyring *kr, struct ec_key *k, bool derived)
{
	const struct ec_key_source *src = kr->source;
	struct ec_key_input in = input_of(kr, k);

	if (derived) {
		atomic_fetch_add(&kr->derived, 1);
		if (src && src->store)
			src->store(src->ctx, &in, k->key);
	}
	ec_secure_wipe(k->password, k->pwlen);
	ec_secure_free(k->password);
	k->password = NULL;
	k->pwlen = 0;
	/* read-only from now on (failing costs nothing but hardening) */
	if (ec_secure_readonly(k->key) != 0)
		(void)0;
	atomic_store_explicit(&k->ready, 1, memory_order_release);
}

/* k by PBKDF2 alone.  Under k->lock. */
static void derive_key(struct ec_keyring *kr, struct ec_key *k)
{
	/* The inputs were checked by ec_keyring_prepare(): PBKDF2 cannot
	 * fail on them. */
	if (ec_kdf_derive(k->password, k->pwlen, kr->salt, kr->saltlen,
			  kr->iterations, k->key) != 0)
		abort();
	finish_key(kr, k, true);
}

/* k made ready from the source if it can be: false when it is ready,
 * true when PBKDF2 must make it.  Under k->lock. */
static bool needs_pbkdf2(struct ec_keyring *kr, struct ec_key *k)
{
	if (atomic_load_explicit(&k->ready, memory_order_relaxed))
		return false;
	if (!from_source(kr, k))
		return true;
	finish_key(kr, k, false);
	return false;
}

static void lock_key(struct ec_key *k)
{
	if (pthread_mutex_lock(&k->lock) != 0)
		abort();
}

static void unlock_key(struct ec_key *k)
{
	if (pthread_mutex_unlock(&k->lock) != 0)
		abort();
}

static void ensure(const struct ec_keyring *ckr, struct ec_key *k)
{
	/* The keyring's lazy state is its own: a const keyring is one whose
	 * keys do not change, which deriving on first use keeps true. */
	struct ec_keyring *kr = (struct ec_keyring *)ckr;

	if (atomic_load_explicit(&k->ready, memory_order_acquire))
		return;
	lock_key(k);
	if (needs_pbkdf2(kr, k))
		derive_key(kr, k);
	unlock_key(k);
}

/* Keys a and b (a before b in the keyring: every thread that holds two
 * took them in that order) made ready together: when PBKDF2 must make
 * both, they are derived at once (ec_kdf_derive_two). */
static void ensure_two(const struct ec_keyring *ckr, struct ec_key *a,
		       struct ec_key *b)
{
	struct ec_keyring *kr = (struct ec_keyring *)ckr;
	struct ec_key_input ia, ib;
	bool need_a, need_b;

	lock_key(a);
	lock_key(b);
	need_a = needs_pbkdf2(kr, a);
	need_b = needs_pbkdf2(kr, b);
	if (need_a && need_b) {
		ia = input_of(kr, a);
		ib = input_of(kr, b);
		if (ec_kdf_derive_two(&ia, a->key, &ib, b->key) != 0)
			abort();	/* checked by ec_keyring_prepare() */
		finish_key(kr, a, true);
		finish_key(kr, b, true);
	} else if (need_a) {
		derive_key(kr, a);
	} else if (need_b) {
		derive_key(kr, b);
	}
	unlock_key(b);
	unlock_key(a);
}

/* Shared by the workers of ec_keyring_derive_all(); next is the only
 * field they write. */
struct derive_ctx {
	const struct ec_keyring *kr;
	size_t step;		/* keys a worker takes at a time: 1 or 2 */
	atomic_size_t next;
};

/* Take keys until none is left; a key already made costs nothing. */
static void *derive_worker(void *arg)
{
	struct derive_ctx *ctx = arg;
	const struct ec_keyring *kr = ctx->kr;
	size_t i;

	while ((i = atomic_fetch_add(&ctx->next, ctx->step)) < kr->n) {
		if (ctx->step == 2 && i + 1 < kr->n)
			ensure_two(kr, &kr->keys[i], &kr->keys[i + 1]);
		else
			ensure(kr, &kr->keys[i]);
	}
	return NULL;
}

/* Online CPUs, at least 1. */
static size_t online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : (size_t)n;
}

/*
 * Run every key: the calling thread works too, with at most ncpu - 1
 * helper threads, so at most ncpu derivations run at a time.  A helper
 * that cannot be started only makes it slower, never wrong.
 */
int ec_keyring_derive_all(struct ec_keyring *kr)
{
	struct derive_ctx ctx;
	pthread_t *tids = NULL;
	size_t nhelpers, pending = 0, started = 0, i;

	for (i = 0; i < kr->n; i++)
		if (!atomic_load(&kr->keys[i].ready))
			pending++;
	ctx.kr = kr;
	atomic_init(&ctx.next, 0);
	nhelpers = online_cpus();
	/* More keys than CPUs: two a worker, each pair derived at once
	 * where that is faster (ec_kdf_derive_two).  4 keys on 2 CPUs took
	 * about 1.7 key-times instead of 2. */
	ctx.step = pending > nhelpers && use_shani() ? 2 : 1;
	if (nhelpers > pending)
		nhelpers = pending;
	if (nhelpers > 0)
		nhelpers--;	/* the caller is one of the workers */
	if (nhelpers > 0)
		tids = calloc(nhelpers, sizeof(*tids));
	if (tids != NULL) {
		for (; started < nhelpers; started++)
			if (pthread_create(&tids[started], NULL, derive_worker,
					   &ctx) != 0)
				break;
	}
	derive_worker(&ctx);
	for (i = 0; i < started; i++)
		if (pthread_join(tids[i], NULL) != 0)
			abort();	/* a joinable thread we made: a bug */
	free(tids);
	return 0;
}

int ec_keyring_prepare(struct ec_keyring *kr, struct ec_secrets *secrets,
		       const uint8_t *salt, size_t saltlen,
		       unsigned iterations,
		       const struct ec_key_source *source)
{
	size_t i, n = secrets->n;
	int rc;

	memset(kr, 0, sizeof(*kr));
	if (n == 0 || iterations == 0 || iterations > INT_MAX ||
	    saltlen > INT_MAX || (salt == NULL && saltlen > 0)) {
		rc = -EINVAL;
		goto out;
	}
	for (i = 0; i < n; i++)
		if (secrets->v[i].pwlen > INT_MAX) {
			rc = -EINVAL;
			goto out;
		}
	kr->salt = malloc(saltlen ? saltlen : 1);
	kr->keys = calloc(n, sizeof(*kr->keys));
	if (kr->keys == NULL || kr->salt == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if (saltlen)
		memcpy(kr->salt, salt, saltlen);
	kr->saltlen = saltlen;
	kr->iterations = iterations;
	kr->source = source;
	atomic_init(&kr->derived, 0);
	atomic_init(&kr->fetched, 0);
	for (i = 0; i < n; i++) {
		struct ec_key *k = &kr->keys[i];

		atomic_init(&k->ready, 0);
		if (pthread_mutex_init(&k->lock, NULL) != 0) {
			rc = -ENOMEM;
			goto out;
		}
		kr->n = i + 1;	/* release destroys the lock from now on */
		k->key = ec_secure_alloc(EC_KEYBYTES);
		if (k->key == NULL) {
			rc = -ENOMEM;
			goto out;
		}
	}
	/* The names and passwords move from the secrets into the keyring. */
	for (i = 0; i < n; i++) {
		kr->keys[i].name = secrets->v[i].name;
		kr->keys[i].password = secrets->v[i].password;
		kr->keys[i].pwlen = secrets->v[i].pwlen;
		secrets->v[i].name = NULL;
		secrets->v[i].password = NULL;
		secrets->v[i].pwlen = 0;
	}
	ec_kdf_fingerprint(salt, saltlen, kr->fingerprint);
	rc = 0;
out:
	ec_secrets_release(secrets);	/* wipes what was not moved */
	if (rc < 0)
		ec_keyring_release(kr);
	return rc;
}

int ec_keyring_derive(struct ec_keyring *kr, struct ec_secrets *secrets,
		      const uint8_t *salt, size_t saltlen, unsigned iterations)
{
	int rc = ec_keyring_prepare(kr, secrets, salt, saltlen, iterations,
				    NULL);

	if (rc < 0)
		return rc;
	return ec_keyring_derive_all(kr);
}

static struct ec_key *named(const struct ec_keyring *kr, const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < kr->n; i++)
		if (kr->keys[i].name && strcmp(kr->keys[i].name, name) == 0)
			return &kr->keys[i];
	return NULL;
}

const struct ec_key *ec_keyring_find(const struct ec_keyring *kr,
				     const char *name)
{
	struct ec_key *k = named(kr, name);

	if (k)
		ensure(kr, k);
	return k;
}

bool ec_keyring_has(const struct ec_keyring *kr, const char *name)
{
	return named(kr, name) != NULL;
}

void ec_keyring_counts(const struct ec_keyring *kr, unsigned *derived,
		       unsigned *fetched)
{
	if (derived)
		*derived = atomic_load(&kr->derived);
	if (fetched)
		*fetched = atomic_load(&kr->fetched);
}

int ec_keyring_lock(const struct ec_keyring *kr)
{
	size_t i;

	for (i = 0; i < kr->n; i++)
		if (atomic_load(&kr->keys[i].ready) &&
		    sodium_mlock(kr->keys[i].key, EC_KEYBYTES) != 0)
			return errno ? -errno : -ENOMEM;
	return 0;
}

void ec_keyring_release(struct ec_keyring *kr)
{
	size_t i;

	if (kr->keys != NULL) {
		for (i = 0; i < kr->n; i++) {
			struct ec_key *k = &kr->keys[i];

			free(k->name);
			ec_secure_free(k->key);	/* wipes */
			if (k->password)
				ec_secure_wipe(k->password, k->pwlen);
			ec_secure_free(k->password);
			pthread_mutex_destroy(&k->lock);
		}
		free(kr->keys);
	}
	free(kr->salt);
	memset(kr, 0, sizeof(*kr));
}
