/*
 * kdf: PBKDF2-HMAC-SHA256 keys and the keyring.  No files, JSON, clock or
 * logging.  The keyring derives its keys in parallel threads, since each
 * costs 480,000 rounds.
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
 * (32 bytes of message, padded for a total length of 96 bytes), done with
 * OpenSSL's SHA256_Transform (SHA-NI or AVX2 where the CPU has them).
 * Checked against the RFC 7914 / Python vectors and the golden files.
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

int ec_kdf_derive(const char *password, size_t pwlen,
		  const uint8_t *salt, size_t saltlen, unsigned iterations,
		  uint8_t key[EC_KEYBYTES])
{
	static const uint8_t one[4] = { 0, 0, 0, 1 };
	SHA256_CTX ipad, opad, c;
	uint8_t u[SHA256_DIGEST_LENGTH], block[SHA_BLOCK];
	SHA_LONG t[SHA_WORDS];
	unsigned r;
	int i;

	if (iterations == 0 || iterations > INT_MAX || pwlen > INT_MAX ||
	    saltlen > INT_MAX)
		return -EINVAL;
	if ((password == NULL && pwlen > 0) || (salt == NULL && saltlen > 0))
		return -EINVAL;
	hmac_states((const uint8_t *)password, pwlen, &ipad, &opad);
	/* U_1 = HMAC(P, S || INT(1)): the salt may be any length. */
	c = ipad;
	if (saltlen)
		SHA256_Update(&c, salt, saltlen);
	SHA256_Update(&c, one, sizeof(one));
	SHA256_Final(u, &c);
	c = opad;
	SHA256_Update(&c, u, sizeof(u));
	SHA256_Final(u, &c);
	memcpy(block, u, sizeof(u));
	pad_block(block);
	for (i = 0; i < SHA_WORDS; i++)
		t[i] = (uint32_t)u[4 * i] << 24 | (uint32_t)u[4 * i + 1] << 16 |
		       (uint32_t)u[4 * i + 2] << 8 | u[4 * i + 3];
	/* U_r = HMAC(P, U_{r-1}); T = U_1 ^ ... ^ U_c. */
	for (r = 1; r < iterations; r++) {
		round_block(&c, &ipad, block);
		put_state(block, c.h);
		round_block(&c, &opad, block);
		put_state(block, c.h);
		for (i = 0; i < SHA_WORDS; i++)
			t[i] ^= c.h[i];
	}
	put_state(key, t);
	ec_secure_wipe(&ipad, sizeof(ipad));
	ec_secure_wipe(&opad, sizeof(opad));
	ec_secure_wipe(&c, sizeof(c));
	ec_secure_wipe(u, sizeof(u));
	ec_secure_wipe(block, sizeof(block));
	ec_secure_wipe(t, sizeof(t));
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

/* One derivation: inputs borrowed from the secrets, output into a key. */
struct derive_job {
	const struct ec_secret *secret;
	uint8_t *key;
	int rc;
};

/* Shared by the workers; next is the only field they write. */
struct derive_ctx {
	struct derive_job *jobs;
	size_t n;
	atomic_size_t next;
	const uint8_t *salt;
	size_t saltlen;
	unsigned iterations;
};

/* Take jobs until none is left.  Each job is done by exactly one worker. */
static void *derive_worker(void *arg)
{
	struct derive_ctx *ctx = arg;
	size_t i;

	while ((i = atomic_fetch_add(&ctx->next, 1)) < ctx->n) {
		struct derive_job *j = &ctx->jobs[i];

		j->rc = ec_kdf_derive(j->secret->password, j->secret->pwlen,
				      ctx->salt, ctx->saltlen,
				      ctx->iterations, j->key);
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
 * Run every job: the calling thread works too, with at most ncpu - 1
 * helper threads, so at most ncpu derivations run at a time.  A helper
 * that cannot be started only makes it slower, never wrong.
 */
static void derive_all(struct derive_ctx *ctx)
{
	pthread_t *tids = NULL;
	size_t nhelpers, started = 0, i;

	nhelpers = online_cpus();
	if (nhelpers > ctx->n)
		nhelpers = ctx->n;
	nhelpers--;		/* the caller is one of the workers */
	if (nhelpers > 0)
		tids = calloc(nhelpers, sizeof(*tids));
	if (tids != NULL) {
		for (; started < nhelpers; started++)
			if (pthread_create(&tids[started], NULL, derive_worker,
					   ctx) != 0)
				break;
	}
	derive_worker(ctx);
	for (i = 0; i < started; i++)
		if (pthread_join(tids[i], NULL) != 0)
			abort();	/* a joinable thread we made: a bug */
	free(tids);
}

int ec_keyring_derive(struct ec_keyring *kr, struct ec_secrets *secrets,
		      const uint8_t *salt, size_t saltlen, unsigned iterations)
{
	struct derive_ctx ctx;
	struct derive_job *jobs = NULL;
	size_t i, n = secrets->n;
	int rc;

	memset(kr, 0, sizeof(*kr));
	if (n == 0 || iterations == 0 || (salt == NULL && saltlen > 0)) {
		rc = -EINVAL;
		goto out;
	}
	kr->keys = calloc(n, sizeof(*kr->keys));
	jobs = calloc(n, sizeof(*jobs));
	if (kr->keys == NULL || jobs == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	kr->n = n;
	for (i = 0; i < n; i++) {
		kr->keys[i].key = ec_secure_alloc(EC_KEYBYTES);
		if (kr->keys[i].key == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		jobs[i].secret = &secrets->v[i];
		jobs[i].key = kr->keys[i].key;
		jobs[i].rc = -EIO;
	}

	memset(&ctx, 0, sizeof(ctx));
	ctx.jobs = jobs;
	ctx.n = n;
	atomic_init(&ctx.next, 0);
	ctx.salt = salt;
	ctx.saltlen = saltlen;
	ctx.iterations = iterations;
	derive_all(&ctx);

	for (i = 0; i < n; i++) {
		if (jobs[i].rc < 0) {
			rc = jobs[i].rc;
			goto out;
		}
	}
	/* The names move from the secrets into the keyring; keys are now
	 * read-only (failing to make them so costs nothing but hardening). */
	for (i = 0; i < n; i++) {
		kr->keys[i].name = secrets->v[i].name;
		secrets->v[i].name = NULL;
		if (ec_secure_readonly(kr->keys[i].key) != 0)
			continue;	/* usable all the same */
	}
	ec_kdf_fingerprint(salt, saltlen, kr->fingerprint);
	rc = 0;
out:
	free(jobs);
	ec_secrets_release(secrets);	/* wipes the passwords */
	if (rc < 0)
		ec_keyring_release(kr);
	return rc;
}

const struct ec_key *ec_keyring_find(const struct ec_keyring *kr,
				     const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < kr->n; i++)
		if (strcmp(kr->keys[i].name, name) == 0)
			return &kr->keys[i];
	return NULL;
}

int ec_keyring_lock(const struct ec_keyring *kr)
{
	size_t i;

	for (i = 0; i < kr->n; i++)
		if (sodium_mlock(kr->keys[i].key, EC_KEYBYTES) != 0)
			return errno ? -errno : -ENOMEM;
	return 0;
}

void ec_keyring_release(struct ec_keyring *kr)
{
	size_t i;

	if (kr->keys != NULL) {
		for (i = 0; i < kr->n; i++) {
			free(kr->keys[i].name);
			ec_secure_free(kr->keys[i].key);	/* wipes */
		}
		free(kr->keys);
	}
	memset(kr, 0, sizeof(*kr));
}
