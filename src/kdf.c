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

#include <openssl/evp.h>
#include <sodium.h>

#include "kdf.h"
#include "secrets.h"
#include "secure.h"

int ec_kdf_derive(const char *password, size_t pwlen,
		  const uint8_t *salt, size_t saltlen, unsigned iterations,
		  uint8_t key[EC_KEYBYTES])
{
	static const char empty[1];

	if (iterations == 0 || iterations > INT_MAX || pwlen > INT_MAX ||
	    saltlen > INT_MAX)
		return -EINVAL;
	if ((password == NULL && pwlen > 0) || (salt == NULL && saltlen > 0))
		return -EINVAL;
	if (password == NULL)
		password = empty;
	if (salt == NULL)
		salt = (const uint8_t *)empty;
	if (PKCS5_PBKDF2_HMAC(password, (int)pwlen, salt, (int)saltlen,
			      (int)iterations, EVP_sha256(), EC_KEYBYTES,
			      key) != 1) {
		ec_secure_wipe(key, EC_KEYBYTES);
		return -EIO;
	}
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
		(void)sodium_mprotect_readonly(kr->keys[i].key);
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
