/*
 * agent: the key agent.  Derived Fernet keys are kept in the calling
 * user's kernel keyring (keyrings(7), through libkeyutils) with a
 * timeout, so that repeated enccache calls pay PBKDF2 once.  An
 * ec_key_source (kdf.h) over it is what the CLI hands ec_cache_open().
 *
 * The keyring is the user keyring (@u, user-keyring(7)): one per uid,
 * shared by every process of the uid (every shell, ssh login and cron
 * job), kept while any process of the uid runs.  A session keyring
 * would be private to one login but is missing or replaced in cron, ssh
 * and su, and is new in every shell started without a login manager.
 *
 * Each key is a "user" key whose payload is the derived key (32 bytes,
 * never the password), permissions possessor and user only (no group,
 * no other), and whose description is
 *
 *	enccache:v1:<salt fingerprint>:<64 hex>
 *
 * the hex being BLAKE2b-256 keyed with a random per-user secret of the
 * salt, key name, password and iteration count (each length-prefixed).
 * The secret is itself a user key, "enccache:v1:secret" (32 random
 * bytes and the last expiry it must outlive), so a description says
 * nothing of a password to anyone who lacks the secret, and changes with
 * the salt, the name, the password or the iterations: a changed secrets
 * file or salt never finds an old key.  The fingerprint (in every
 * envelope's cleartext anyway) lets `forget` drop one salt's keys
 * without the secrets.
 *
 * Another process of the same uid can read the secret and the keys
 * (keyctl read), as it can read the secrets file: the agent protects
 * against other users and against keys reaching disk or core dumps, not
 * against the same uid (nor root).
 *
 * Prints nothing.  Without libkeyutils at build time every call that
 * needs the kernel returns -ENOSYS.
 */
#ifndef EC_AGENT_H
#define EC_AGENT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kdf.h"

#define EC_AGENT_TIMEOUT_DEFAULT (15u * 60)	/* seconds */
#define EC_AGENT_PREFIX "enccache:v1:"
#define EC_AGENT_SECRET_DESC EC_AGENT_PREFIX "secret"
#define EC_AGENT_SECRETBYTES 32
#define EC_AGENT_DESC_MAX 128	/* room for a description and its NUL */

struct ec_agent {
	unsigned timeout_s;	/* of the keys stored */
	int32_t secret_id;	/* the secret's key serial, or 0 */
	uint8_t *secret;	/* ec_secure_alloc'd, or NULL before one
				   was found or made */
	uint64_t secret_expiry;	/* as stored with it (unix seconds) */
	pthread_mutex_t lock;	/* the three above, after open */
	struct ec_key_source source;
};

/*
 * Reach the keyring and find the per-user secret, if there is one (none
 * is made before the first store).  timeout_s: how long stored keys live
 * (at least 1).  0, or -errno when the keyring cannot be used (-ENOSYS
 * without libkeyutils or kernel support, -EPERM/-EACCES where a sandbox
 * refuses keyctl): a is then unusable and needs no close.
 */
int ec_agent_open(struct ec_agent *a, unsigned timeout_s)
	__attribute__((warn_unused_result));

/* Wipe and free the secret's copy; the keyring keeps its keys. */
void ec_agent_close(struct ec_agent *a);

/* The key source over a (lookup and store below), valid until close. */
const struct ec_key_source *ec_agent_source(struct ec_agent *a);

/*
 * The description of in's key under secret, as above, into out.  No
 * I/O.
 */
void ec_agent_describe(const uint8_t secret[EC_AGENT_SECRETBYTES],
		       const struct ec_key_input *in,
		       char out[EC_AGENT_DESC_MAX]);

/* The key of in into key: 0, -ENOKEY when the agent has none (or no
 * secret yet), -EBADMSG for a payload that is not a key, -errno. */
int ec_agent_lookup(struct ec_agent *a, const struct ec_key_input *in,
		    uint8_t key[EC_KEYBYTES]) __attribute__((warn_unused_result));

/* Keep key (derived from in) for a's timeout, making the secret first
 * when there is none.  0 or -errno. */
int ec_agent_store(struct ec_agent *a, const struct ec_key_input *in,
		   const uint8_t key[EC_KEYBYTES])
	__attribute__((warn_unused_result));

/*
 * Drop the keys the agent keeps for the salt whose fingerprint is
 * fingerprint (ec_kdf_fingerprint()), or, when it is NULL, every key of
 * the agent and the secret.  *dropped (may be NULL) gets how many keys
 * went (the secret not counted).  0 or -errno (-ENOSYS...).
 */
int ec_agent_forget(const char *fingerprint, size_t *dropped)
	__attribute__((warn_unused_result));

#endif
