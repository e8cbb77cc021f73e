/*
 * libFuzzer harness over every parser that sees untrusted bytes: the
 * envelope (JSON), the Fernet token, the inner bplist payload, the views
 * (bplist -> JSON/XML and JSON/XML -> bplist), TTL and time text, and the
 * secrets file; and libenccache's public entry points that take untrusted
 * bytes: enccache_decode (an envelope, with a TTL text), the JSON <-> plist
 * conversions and get_hashed_filename.  The first byte picks the target:
 * 0xF0..0xF3 the libenccache ones, any other its value modulo 7.
 *
 *   ./configure CC=clang --enable-fuzzing && make tests/fuzz/fuzz_envelope
 *   tests/fuzz/fuzz_envelope -max_total_time=600 corpus/
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "enccache.h"

#include "envelope.h"
#include "fernet.h"
#include "secrets.h"
#include "secure.h"
#include "ttl.h"
#include "view.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static uint8_t key[EC_KEYBYTES];
static enccache *lib_cache;	/* keys "default" and "other", salt "salt" */

/* A cache for enccache_decode (real PBKDF2, once), in a temp dir that
 * decode never touches. */
static void lib_init(void)
{
	char dir[] = "/tmp/fuzz-enccache-XXXXXX";
	enccache_secrets *s;

	if (!mkdtemp(dir) || enccache_secrets_new(&s) != 0 ||
	    enccache_secrets_add(s, "default", "fuzz") != 0 ||
	    enccache_secrets_add(s, "other", "fuzz2") != 0 ||
	    enccache_open(dir, s, "salt", 4, "inf", NULL, &lib_cache) != 0)
		abort();
	enccache_secrets_free(s);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (ec_secure_init() != 0)
		abort();
	if (ec_kdf_derive("fuzz", 4, (const uint8_t *)"salt", 4, 1, key) != 0)
		abort();
	lib_init();
	return 0;
}

static void fuzz_envelope(const char *p, size_t n)
{
	struct ec_envelope env, again;
	char *out;
	size_t outlen;

	if (ec_envelope_parse(p, n, &env) != 0)
		return;
	/* What parses must serialise and parse back to the same fields. */
	if (ec_envelope_serialize(&env, &out, &outlen) == 0) {
		if (ec_envelope_parse(out, outlen, &again) != 0 ||
		    strcmp(again.key, env.key) != 0 ||
		    strcmp(again.encrypted, env.encrypted) != 0 ||
		    !again.comment != !env.comment ||
		    (env.comment && strcmp(again.comment, env.comment)))
			abort();
		ec_envelope_release(&again);
		free(out);
	}
	ec_envelope_release(&env);
}

static void fuzz_token(const char *p, size_t n)
{
	uint8_t *pt;
	size_t ptlen;

	if (ec_fernet_open(key, p, n, &pt, &ptlen, NULL) == 0)
		ec_secure_free(pt);
}

static void fuzz_payload(const uint8_t *p, size_t n)
{
	uint8_t *d;
	size_t len;
	char *va;

	if (ec_payload_unpack(p, n, &d, &len, &va) == 0) {
		ec_secure_free(d);
		free(va);
	}
}

static void fuzz_render(const uint8_t *p, size_t n)
{
	static const enum ec_view views[] = { EC_VIEW_JSON, EC_VIEW_XML };
	size_t i;

	for (i = 0; i < 2; i++) {
		uint8_t *out, *back;
		size_t outlen, backlen;
		bool is_bplist;

		if (ec_view_render(views[i], p, n, &out, &outlen,
				   &is_bplist) != 0)
			continue;
		/* A rendered bplist must parse back (the write path). */
		if (is_bplist && i == 0 &&
		    ec_view_parse_content(EC_VIEW_JSON, true, out, outlen,
					  &back, &backlen) == 0)
			ec_secure_free(back);
		ec_secure_free(out);
	}
}

static void fuzz_parse_content(const uint8_t *p, size_t n)
{
	static const enum ec_view views[] = { EC_VIEW_JSON, EC_VIEW_XML,
					      EC_VIEW_AUTO };
	size_t i;

	for (i = 0; i < 3; i++) {
		uint8_t *out;
		size_t outlen;

		if (ec_view_parse_content(views[i], false, p, n, &out,
					  &outlen) == 0)
			ec_secure_free(out);
	}
}

static void fuzz_text(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);
	struct ec_ttl ttl;
	int64_t us;

	if (!s)
		return;
	memcpy(s, p, n);
	s[n] = '\0';
	if (ec_time_parse_iso(s, &us) == 0) {
		char out[EC_TIME_ISO_MAX];

		ec_time_format_iso(us, out);
	}
	(void)ec_ttl_parse(s, &ttl);
	free(s);
}

static void fuzz_secrets(const char *p, size_t n)
{
	struct ec_secrets s;

	if (ec_secrets_parse(p, n, &s) == 0)
		ec_secrets_release(&s);
}

/* TTL text up to the first newline, the envelope after it; without a
 * newline, the whole input is the envelope (default TTL). */
static void fuzz_lib_decode(const char *p, size_t n)
{
	const char *nl = memchr(p, '\n', n);
	struct enccache_entry *e;
	char *ttl = NULL;

	if (nl) {
		ttl = strndup(p, (size_t)(nl - p));
		if (!ttl)
			return;
		n -= (size_t)(nl + 1 - p);
		p = nl + 1;
	}
	if (enccache_decode(lib_cache, p, n, ttl, NULL, &e) == 0) {
		if (!e->data || !e->key)
			abort();
		enccache_entry_free(e);
	}
	free(ttl);
}

/* JSON -> plist -> JSON -> plist -> JSON: lossless, so both JSON texts
 * are equal (the object is; the plists' layouts may differ). */
static void fuzz_lib_json(const char *p, size_t n)
{
	uint8_t *pl, *again;
	size_t plen, alen, jlen, j2len;
	char *json, *json2;
	int err;

	if (enccache_json_to_plist(p, n, &pl, &plen) != 0)
		return;
	err = enccache_plist_to_json(pl, plen, &json, &jlen);
	if (err == 0) {
		if (json[jlen] != '\0' ||
		    enccache_json_to_plist(json, jlen, &again, &alen) != 0 ||
		    enccache_plist_to_json(again, alen, &json2, &j2len) != 0 ||
		    j2len != jlen || memcmp(json, json2, jlen) != 0)
			abort();
		enccache_free(json2);
		enccache_free(again);
		enccache_free(json);
	} else if (err != ENCCACHE_ENOTPLIST) {	/* a date JSON cannot carry */
		abort();
	}
	enccache_free(pl);
}

static void fuzz_lib_plist(const uint8_t *p, size_t n)
{
	size_t jlen;
	char *json;

	if (enccache_plist_to_json(p, n, &json, &jlen) == 0)
		enccache_free(json);
}

/* Text up to the first NUL, the prefix after it (none without a NUL). */
static void fuzz_lib_hashed(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 2), *prefix = NULL, *out;
	size_t len;

	if (!s)
		return;
	memcpy(s, p, n);
	s[n] = s[n + 1] = '\0';
	len = strlen(s);
	if (len < n)
		prefix = s + len + 1;
	if (enccache_get_hashed_filename(s, n % 65, prefix, &out) == 0) {
		if (strlen(out) < 8)
			abort();
		enccache_free(out);
	}
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data + 1;
	size_t n;

	if (size < 1)
		return 0;
	n = size - 1;
	switch (data[0]) {
	case 0xF0:
		fuzz_lib_decode((const char *)p, n);
		return 0;
	case 0xF1:
		fuzz_lib_json((const char *)p, n);
		return 0;
	case 0xF2:
		fuzz_lib_plist(p, n);
		return 0;
	case 0xF3:
		fuzz_lib_hashed(p, n);
		return 0;
	}
	switch (data[0] % 7) {
	case 0:
		fuzz_envelope((const char *)p, n);
		break;
	case 1:
		fuzz_token((const char *)p, n);
		break;
	case 2:
		fuzz_payload(p, n);
		break;
	case 3:
		fuzz_render(p, n);
		break;
	case 4:
		fuzz_parse_content(p, n);
		break;
	case 5:
		fuzz_text(p, n);
		break;
	case 6:
		fuzz_secrets((const char *)p, n);
		break;
	}
	return 0;
}
