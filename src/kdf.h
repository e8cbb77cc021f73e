/*
 * kdf: PBKDF2 key derivation and the keyring of derived Fernet keys.
 * No files, JSON, clock or logging.
 */
#ifndef EC_KDF_H
#define EC_KDF_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "secrets.h"

#define EC_KDF_ITERATIONS 480000u
#define EC_KEYBYTES 32		/* Fernet key: 16 signing + 16 encryption */
#define EC_FINGERPRINT_LEN 16	/* hex chars of SHA-256(salt) */

/* PBKDF2-HMAC-SHA256(password, salt, iterations) -> key[EC_KEYBYTES].
 * -EINVAL when iterations is 0 or a length or count exceeds INT_MAX;
 * -EIO when OpenSSL fails.  NULL with length 0 is the empty string. */
int ec_kdf_derive(const char *password, size_t pwlen,
		  const uint8_t *salt, size_t saltlen, unsigned iterations,
		  uint8_t key[EC_KEYBYTES]) __attribute__((warn_unused_result));

/* Whether derivations use the CPU's SHA extensions: on (where the CPU
 * has them; the default) or off (OpenSSL's block function), for tests and
 * measurements; both give the same keys.  Returns the previous setting. */
int ec_kdf_simd(int on);

/* First 16 lowercase hex chars of SHA-256(salt), NUL-terminated. */
void ec_kdf_fingerprint(const uint8_t *salt, size_t saltlen,
			char out[EC_FINGERPRINT_LEN + 1]);

/*
 * What a key is derived from, handed to a key source (the CLI's key
 * agent, agent.h).  Borrowed for the call.
 */
struct ec_key_input {
	const char *name;
	const char *password;	/* pwlen bytes, guarded memory */
	size_t pwlen;
	const uint8_t *salt;
	size_t saltlen;
	unsigned iterations;
};

/*
 * Two keys at once, as two ec_kdf_derive() calls would make them (same
 * errors: nothing is derived when either input is refused), on one core:
 * with the CPU's SHA extensions the two run interleaved, which takes
 * about 1.7 times one instead of 2.  The keyring pairs keys this way
 * when it has more to derive than CPUs.
 */
int ec_kdf_derive_two(const struct ec_key_input *a, uint8_t ka[EC_KEYBYTES],
		      const struct ec_key_input *b, uint8_t kb[EC_KEYBYTES])
	__attribute__((warn_unused_result));

/*
 * Where a derived key may be found before PBKDF2 runs, and kept after.
 * lookup: 0 with key filled when it has the key of in, anything else
 * when not (the key is then derived).  store (may be NULL): keep key,
 * just derived from in; failures are the source's business.  Both may be
 * called from several threads at once, each for another key name.
 */
struct ec_key_source {
	int (*lookup)(void *ctx, const struct ec_key_input *in,
		      uint8_t key[EC_KEYBYTES]);
	void (*store)(void *ctx, const struct ec_key_input *in,
		      const uint8_t key[EC_KEYBYTES]);
	void *ctx;
};

struct ec_key {
	char *name;	/* malloc'd */
	uint8_t *key;	/* ec_secure_alloc'd, EC_KEYBYTES; read-only (mprotect)
			 * once derived; use it only from ec_keyring_find() */
	/* Until the key is derived: its password (ec_secure_alloc'd, wiped
	 * and freed once the key is there) and the lock that makes the
	 * first use derive it once. */
	char *password;
	size_t pwlen;
	atomic_int ready;
	pthread_mutex_t lock;
};

struct ec_keyring {
	struct ec_key *keys;
	size_t n;
	char fingerprint[EC_FINGERPRINT_LEN + 1];
	uint8_t *salt;		/* malloc'd copy (not a secret) */
	size_t saltlen;
	unsigned iterations;
	const struct ec_key_source *source;	/* borrowed, or NULL */
	atomic_uint derived;	/* keys that ran PBKDF2 */
	atomic_uint fetched;	/* keys the source had */
};

/*
 * Take the secrets over without deriving anything: each key is derived
 * (or fetched from source, when not NULL; borrowed until release) at its
 * first ec_keyring_find(), so a command pays PBKDF2 only for the keys it
 * uses.  The names and passwords move from *secrets into kr (the
 * passwords stay in guarded memory until their key is derived, then are
 * wiped); *secrets is released on every return path.  kr need not be
 * initialised; it is empty on failure.  -EINVAL for no secret, 0
 * iterations, a NULL salt with saltlen > 0, or a length over INT_MAX;
 * -ENOMEM.
 */
int ec_keyring_prepare(struct ec_keyring *kr, struct ec_secrets *secrets,
		       const uint8_t *salt, size_t saltlen,
		       unsigned iterations,
		       const struct ec_key_source *source)
	__attribute__((warn_unused_result));

/*
 * Derive every key not derived yet, in parallel: the calling thread and
 * helper threads, at most as many threads as there are online CPUs (a
 * single key starts no thread); with more keys than CPUs each thread
 * takes them two at a time (ec_kdf_derive_two).  0 (it cannot fail after
 * ec_keyring_prepare() succeeded).
 */
int ec_keyring_derive_all(struct ec_keyring *kr)
	__attribute__((warn_unused_result));

/*
 * ec_keyring_prepare() without a source, then ec_keyring_derive_all():
 * every key derived now (what the daemon does at mount).  On success kr
 * holds the keys, in the order of the secrets.
 */
int ec_keyring_derive(struct ec_keyring *kr, struct ec_secrets *secrets,
		      const uint8_t *salt, size_t saltlen, unsigned iterations)
	__attribute__((warn_unused_result));

/* The key named name, derived (or fetched) now if it was not yet; NULL
 * when there is none.  Thread-safe.  Valid until ec_keyring_release(). */
const struct ec_key *ec_keyring_find(const struct ec_keyring *kr,
				     const char *name);

/* Whether kr has a key named name (deriving nothing). */
bool ec_keyring_has(const struct ec_keyring *kr, const char *name);

/* How many keys ran PBKDF2 and how many came from the source so far. */
void ec_keyring_counts(const struct ec_keyring *kr, unsigned *derived,
		       unsigned *fetched);

/*
 * Lock the derived keys' pages in memory again.  Memory locks are not
 * inherited across fork(2), so a process that daemonizes after deriving
 * calls this in the child.  0, or -errno from mlock (e.g. -ENOMEM over
 * RLIMIT_MEMLOCK); the keys stay usable either way.
 */
int ec_keyring_lock(const struct ec_keyring *kr)
	__attribute__((warn_unused_result));

/* Wipe and free every key; kr is empty after. */
void ec_keyring_release(struct ec_keyring *kr);

#endif
