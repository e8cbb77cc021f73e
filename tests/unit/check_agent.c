/*
 * Unit tests for the key agent (agent.h) and the lazy keyring (kdf.h):
 * the description scheme, deriving on first use through a key source,
 * and a round trip through the kernel keyring.  Without a usable kernel
 * keyring (no keyctl in a sandbox, no libkeyutils) the keyring cases are
 * skipped: the others run, and the runner exits 77 saying so.
 */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <sodium.h>
#ifdef HAVE_KEYUTILS
#include <keyutils.h>
#endif

#include "agent.h"
#include "kdf.h"
#include "secrets.h"
#include "secure.h"
#include "unit.h"

static const uint8_t secret_a[EC_AGENT_SECRETBYTES] = { 1, 2, 3 };
static const uint8_t secret_b[EC_AGENT_SECRETBYTES] = { 1, 2, 4 };

static struct ec_key_input input(const char *name, const char *pw,
				 const char *salt, unsigned iterations)
{
	struct ec_key_input in = { name, pw, strlen(pw),
				   (const uint8_t *)salt, strlen(salt),
				   iterations };
	return in;
}

static void describe(const uint8_t *secret, struct ec_key_input in,
		     char out[EC_AGENT_DESC_MAX])
{
	ec_agent_describe(secret, &in, out);
}

/* --- the description ----------------------------------------------------- */

START_TEST(test_describe_form)
{
	char d[EC_AGENT_DESC_MAX], fp[EC_FINGERPRINT_LEN + 1], again[128];
	size_t i, np = strlen(EC_AGENT_PREFIX);

	describe(secret_a, input("default", "hunter2", "salt", 480000), d);
	ec_kdf_fingerprint((const uint8_t *)"salt", 4, fp);
	ck_assert_uint_eq(strlen(d), np + EC_FINGERPRINT_LEN + 1 + 64);
	ck_assert(strncmp(d, EC_AGENT_PREFIX, np) == 0);
	ck_assert(strncmp(d + np, fp, EC_FINGERPRINT_LEN) == 0);
	ck_assert_int_eq(d[np + EC_FINGERPRINT_LEN], ':');
	for (i = np + EC_FINGERPRINT_LEN + 1; d[i]; i++)
		ck_assert(strchr("0123456789abcdef", d[i]) != NULL);
	/* no trace of the password or the key name */
	ck_assert_ptr_null(strstr(d, "hunter2"));
	ck_assert_ptr_null(strstr(d, "default"));
	/* the same inputs, the same description */
	describe(secret_a, input("default", "hunter2", "salt", 480000), again);
	ck_assert_str_eq(d, again);
	ck_assert_str_ne(d, EC_AGENT_SECRET_DESC);
}
END_TEST

START_TEST(test_describe_changes)
{
	char base[EC_AGENT_DESC_MAX], d[EC_AGENT_DESC_MAX];

	describe(secret_a, input("k", "pw", "salt", 1000), base);
	describe(secret_a, input("k", "pw2", "salt", 1000), d);
	ck_assert_str_ne(base, d);		/* password */
	describe(secret_a, input("k", "pw", "salt2", 1000), d);
	ck_assert_str_ne(base, d);		/* salt */
	describe(secret_a, input("k2", "pw", "salt", 1000), d);
	ck_assert_str_ne(base, d);		/* key name */
	describe(secret_a, input("k", "pw", "salt", 1001), d);
	ck_assert_str_ne(base, d);		/* iterations */
	describe(secret_b, input("k", "pw", "salt", 1000), d);
	ck_assert_str_ne(base, d);		/* the per-user secret */
	/* lengths are part of the input: moving a byte across a border
	 * changes the description */
	describe(secret_a, input("ab", "c", "salt", 1000), base);
	describe(secret_a, input("a", "bc", "salt", 1000), d);
	ck_assert_str_ne(base, d);
	describe(secret_a, input("a", "", "bsalt", 1000), base);
	describe(secret_a, input("ab", "", "salt", 1000), d);
	ck_assert_str_ne(base, d);
}
END_TEST

/* --- the lazy keyring over a key source ---------------------------------- */

/* A source that has the key of one password ("cached") and counts. */
struct fake {
	atomic_int lookups, stores;
	uint8_t key[EC_KEYBYTES];
};

static int fake_lookup(void *ctx, const struct ec_key_input *in,
		       uint8_t key[EC_KEYBYTES])
{
	struct fake *f = ctx;

	atomic_fetch_add(&f->lookups, 1);
	if (in->pwlen != 6 || memcmp(in->password, "cached", 6) != 0)
		return -ENOKEY;
	memcpy(key, f->key, EC_KEYBYTES);
	return 0;
}

static void fake_store(void *ctx, const struct ec_key_input *in,
		       const uint8_t key[EC_KEYBYTES])
{
	struct fake *f = ctx;
	uint8_t want[EC_KEYBYTES];

	/* what is stored is the key PBKDF2 gives, never the password */
	ck_assert_int_eq(ec_kdf_derive(in->password, in->pwlen, in->salt,
				       in->saltlen, in->iterations, want), 0);
	ck_assert_mem_eq(key, want, EC_KEYBYTES);
	atomic_fetch_add(&f->stores, 1);
}

START_TEST(test_lazy_first_use)
{
	static const char json[] =
		"{\"a\": \"pwa\", \"b\": \"cached\", \"c\": \"pwc\"}";
	struct fake f = { 0 };
	struct ec_key_source src = { fake_lookup, fake_store, &f };
	struct ec_secrets s;
	struct ec_keyring kr;
	const struct ec_key *k;
	uint8_t want[EC_KEYBYTES];
	unsigned derived, fetched;

	memset(f.key, 0x5a, sizeof(f.key));
	ck_assert_int_eq(ec_secrets_parse(json, strlen(json), &s), 0);
	ck_assert_int_eq(ec_keyring_prepare(&kr, &s, (const uint8_t *)"salt",
					    4, 1000, &src), 0);
	ck_assert_ptr_null(s.v);		/* secrets taken over */
	ec_keyring_counts(&kr, &derived, &fetched);
	ck_assert_uint_eq(derived + fetched, 0);	/* nothing yet */
	ck_assert(ec_keyring_has(&kr, "a"));
	ck_assert(!ec_keyring_has(&kr, "z"));
	ck_assert_int_eq(atomic_load(&f.lookups), 0);

	k = ec_keyring_find(&kr, "a");
	ck_assert_ptr_nonnull(k);
	ck_assert_int_eq(ec_kdf_derive("pwa", 3, (const uint8_t *)"salt", 4,
				       1000, want), 0);
	ck_assert_mem_eq(k->key, want, EC_KEYBYTES);
	ck_assert_ptr_null(k->password);	/* wiped once derived */
	ck_assert_ptr_eq(ec_keyring_find(&kr, "a"), k);	/* once only */
	ck_assert_int_eq(atomic_load(&f.lookups), 1);
	ck_assert_int_eq(atomic_load(&f.stores), 1);

	k = ec_keyring_find(&kr, "b");		/* the source has it */
	ck_assert_mem_eq(k->key, f.key, EC_KEYBYTES);
	ck_assert_int_eq(atomic_load(&f.stores), 1);
	ec_keyring_counts(&kr, &derived, &fetched);
	ck_assert_uint_eq(derived, 1);
	ck_assert_uint_eq(fetched, 1);
	ck_assert_ptr_nonnull(kr.keys[2].password);	/* "c": not used */

	ck_assert_int_eq(ec_keyring_derive_all(&kr), 0);	/* only "c" */
	ec_keyring_counts(&kr, &derived, &fetched);
	ck_assert_uint_eq(derived, 2);
	ck_assert_int_eq(atomic_load(&f.lookups), 3);
	ck_assert_ptr_null(kr.keys[2].password);
	ck_assert_ptr_null(ec_keyring_find(&kr, "z"));
	ec_keyring_release(&kr);
}
END_TEST

/* Threads that want the same key at once: one derivation. */
static struct ec_keyring shared_kr;

static void *find_a(void *arg)
{
	(void)arg;
	return (void *)ec_keyring_find(&shared_kr, "a");
}

START_TEST(test_lazy_threads)
{
	struct fake f = { 0 };
	struct ec_key_source src = { fake_lookup, fake_store, &f };
	struct ec_secrets s;
	pthread_t t[4];
	void *r[4];
	int i;

	ck_assert_int_eq(ec_secrets_parse("{\"a\": \"x\"}", 10, &s), 0);
	ck_assert_int_eq(ec_keyring_prepare(&shared_kr, &s,
					    (const uint8_t *)"s", 1, 20000,
					    &src), 0);
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, find_a, NULL),
				 0);
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(pthread_join(t[i], &r[i]), 0);
		ck_assert_ptr_eq(r[i], &shared_kr.keys[0]);
	}
	ck_assert_int_eq(atomic_load(&f.lookups), 1);
	ck_assert_int_eq(atomic_load(&f.stores), 1);
	ec_keyring_release(&shared_kr);
}
END_TEST

/* --- the kernel keyring -------------------------------------------------- */

/* A salt of our own, so that a run never meets a user's real keys. */
static char test_salt[40];

static int keyring_usable(char *why, size_t n)
{
	struct ec_agent a;
	int rc = ec_agent_open(&a, 60);

	if (rc == 0) {
		ec_agent_close(&a);
		return 1;
	}
	snprintf(why, n, "%s", strerror(-rc));
	return 0;
}

#ifdef HAVE_KEYUTILS
START_TEST(test_round_trip)
{
	struct ec_agent a;
	struct ec_key_input in = input("default", "pw-round", test_salt,
				       1000);
	struct ec_key_input other = input("default", "pw-other", test_salt,
					  1000);
	uint8_t key[EC_KEYBYTES], got[EC_KEYBYTES];
	char desc[EC_AGENT_DESC_MAX], fp[EC_FINGERPRINT_LEN + 1];
	char *d = NULL;
	unsigned perm;
	size_t dropped;
	long id;

	ck_assert_int_eq(ec_agent_open(&a, 60), 0);
	ck_assert_int_eq(ec_kdf_derive(in.password, in.pwlen, in.salt,
				       in.saltlen, in.iterations, key), 0);
	ck_assert_int_eq(ec_agent_store(&a, &in, key), 0);
	ck_assert_ptr_nonnull(a.secret);
	ck_assert_int_eq(ec_agent_lookup(&a, &in, got), 0);
	ck_assert_mem_eq(got, key, EC_KEYBYTES);
	ck_assert_int_eq(ec_agent_lookup(&a, &other, got), -ENOKEY);

	/* the key in the kernel: payload the derived key, owner-only */
	ec_agent_describe(a.secret, &in, desc);
	id = keyctl_search(KEY_SPEC_USER_KEYRING, "user", desc, 0);
	ck_assert_int_gt(id, 0);
	ck_assert_int_eq(keyctl_read((key_serial_t)id, (char *)got,
				     sizeof(got)), EC_KEYBYTES);
	ck_assert_mem_eq(got, key, EC_KEYBYTES);
	ck_assert_int_ge(keyctl_describe_alloc((key_serial_t)id, &d), 0);
	ck_assert_int_eq(sscanf(strchr(strchr(strchr(d, ';') + 1, ';') + 1,
				       ';') + 1, "%x", &perm), 1);
	ck_assert_uint_eq(perm & 0xffff, 0);	/* no group, no other */
	free(d);

	/* a new process finds it through the secret in the keyring */
	ec_agent_close(&a);
	ck_assert_int_eq(ec_agent_open(&a, 60), 0);
	ck_assert_int_eq(ec_agent_lookup(&a, &in, got), 0);
	ck_assert_mem_eq(got, key, EC_KEYBYTES);

	/* forget drops this salt's keys */
	ec_kdf_fingerprint(in.salt, in.saltlen, fp);
	ck_assert_int_eq(ec_agent_forget(fp, &dropped), 0);
	ck_assert_uint_eq(dropped, 1);
	ck_assert_int_eq(ec_agent_lookup(&a, &in, got), -ENOKEY);
	ck_assert_int_eq(ec_agent_forget(fp, &dropped), 0);
	ck_assert_uint_eq(dropped, 0);
	ec_agent_close(&a);
}
END_TEST

START_TEST(test_expiry)
{
	struct ec_agent a;
	struct ec_key_input in = input("exp", "pw-exp", test_salt, 1000);
	uint8_t key[EC_KEYBYTES], got[EC_KEYBYTES];

	memset(key, 7, sizeof(key));
	ck_assert_int_eq(ec_agent_open(&a, 1), 0);
	ck_assert_int_eq(ec_agent_store(&a, &in, key), 0);
	ck_assert_int_eq(ec_agent_lookup(&a, &in, got), 0);
	sleep(2);
	/* an expired key not collected yet is no key, and is stored anew */
	ck_assert_int_eq(ec_agent_lookup(&a, &in, got), -ENOKEY);
	ck_assert_int_eq(ec_agent_store(&a, &in, key), 0);
	ck_assert_int_eq(ec_agent_lookup(&a, &in, got), 0);
	ck_assert_mem_eq(got, key, EC_KEYBYTES);
	ec_agent_close(&a);
	/* and the agent opens beside it (an expired secret is none) */
	ck_assert_int_eq(ec_agent_open(&a, 1), 0);
	ec_agent_close(&a);
}
END_TEST
#endif

int main(void)
{
	Suite *s = suite_create("agent");
	TCase *tc;
	char why[256] = "built without libkeyutils";
	int usable, rc;

	if (ec_secure_init() != 0)
		return 99;
	snprintf(test_salt, sizeof(test_salt), "check_agent-%ld-%u",
		 (long)getpid(), randombytes_random());
	tc = tcase_create("describe");
	tcase_add_test(tc, test_describe_form);
	tcase_add_test(tc, test_describe_changes);
	suite_add_tcase(s, tc);
	tc = tcase_create("lazy");
	tcase_add_test(tc, test_lazy_first_use);
	tcase_add_test(tc, test_lazy_threads);
	suite_add_tcase(s, tc);
	usable = keyring_usable(why, sizeof(why));
#ifdef HAVE_KEYUTILS
	if (usable) {
		tc = tcase_create("keyring");
		tcase_set_timeout(tc, 20);
		tcase_add_test(tc, test_round_trip);
		tcase_add_test(tc, test_expiry);
		suite_add_tcase(s, tc);
	}
#endif
	rc = ec_test_run(s);
	if (rc == EXIT_SUCCESS && !usable) {
		printf("check_agent: kernel keyring unavailable (%s): the "
		       "keyring cases were skipped\n", why);
		return 77;
	}
	return rc;
}
