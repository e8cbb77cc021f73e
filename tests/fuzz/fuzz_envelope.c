/*
 * libFuzzer harness over every parser that sees untrusted bytes: the
 * envelope (JSON), the Fernet token, the inner bplist payload, the views
 * (bplist -> JSON/XML and JSON/XML -> bplist), TTL and time text, and the
 * secrets file.  The first byte picks the target.
 *
 *   ./configure CC=clang --enable-fuzzing && make tests/fuzz/fuzz_envelope
 *   tests/fuzz/fuzz_envelope -max_total_time=600 corpus/
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "fernet.h"
#include "secrets.h"
#include "secure.h"
#include "ttl.h"
#include "view.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static uint8_t key[EC_KEYBYTES];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (ec_secure_init() != 0)
		abort();
	if (ec_kdf_derive("fuzz", 4, (const uint8_t *)"salt", 4, 1, key) != 0)
		abort();
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data + 1;
	size_t n;

	if (size < 1)
		return 0;
	n = size - 1;
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
