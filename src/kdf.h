/*
 * kdf: PBKDF2 key derivation and the keyring of derived Fernet keys.
 * No files, JSON, clock or logging.
 */
#ifndef EC_KDF_H
#define EC_KDF_H

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

/* First 16 lowercase hex chars of SHA-256(salt), NUL-terminated. */
void ec_kdf_fingerprint(const uint8_t *salt, size_t saltlen,
			char out[EC_FINGERPRINT_LEN + 1]);

struct ec_key {
	char *name;	/* malloc'd */
	uint8_t *key;	/* ec_secure_alloc'd, EC_KEYBYTES; read-only (mprotect)
			 * once derived */
};

struct ec_keyring {
	struct ec_key *keys;
	size_t n;
	char fingerprint[EC_FINGERPRINT_LEN + 1];
};

/*
 * Derive one key per secret, in parallel: the calling thread and helper
 * threads, at most as many derivations at a time as there are online
 * CPUs (a single secret starts no thread).  The passwords in *secrets are
 * wiped and *secrets released on every return path.  On success kr holds
 * the keys, in the order of the secrets, the names moved over from the
 * secrets.  kr need not be initialised; it is empty on failure.  -EINVAL
 * for no secret, 0 iterations or a NULL salt with saltlen > 0; -ENOMEM.
 */
int ec_keyring_derive(struct ec_keyring *kr, struct ec_secrets *secrets,
		      const uint8_t *salt, size_t saltlen, unsigned iterations)
	__attribute__((warn_unused_result));

/* The key named name, or NULL.  Valid until ec_keyring_release(). */
const struct ec_key *ec_keyring_find(const struct ec_keyring *kr,
				     const char *name);

/*
 * Lock the keys' pages in memory again.  Memory locks are not inherited
 * across fork(2), so a process that daemonizes after deriving calls this
 * in the child.  0, or -errno from mlock (e.g. -ENOMEM over
 * RLIMIT_MEMLOCK); the keys stay usable either way.
 */
int ec_keyring_lock(const struct ec_keyring *kr)
	__attribute__((warn_unused_result));

/* Wipe and free every key; kr is empty after. */
void ec_keyring_release(struct ec_keyring *kr);

#endif
