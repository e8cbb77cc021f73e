/*
 * fetch_prices: fetch-or-compute with libenccache, the C version of the
 * Python module's README example:
 *
 *	cache = EncryptedCache({"api": ...}, salt=b"my-application-salt")
 *	result = cache.execute_cached("api", fetch_from_api,
 *				      "prices/latest", ttl="1 day")
 *
 * The first run calls fetch_from_api() and saves its result, encrypted;
 * runs within a day print the cached copy.  The entry is stored as a
 * binary plist, as the module stores it, so the Python program above gets
 * {"price": 42.0, "currency": "EUR"} back from the same directory.
 *
 * Build and run (the secrets file is a JSON object such as
 * {"api": "my-secret-password"}, readable by you only):
 *
 *	cc -o fetch_prices fetch_prices.c $(pkg-config --cflags --libs enccache)
 *	./fetch_prices ~/.cache/prices secrets.json
 *	./fetch_prices ~/.cache/prices secrets.json 2026-02-07
 *
 * With a date, the cache id is get_hashed_filename() of the call, as the
 * module's README names one: "prices-<32 hex digits>".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <enccache.h>

/* The expensive part.  A real program would ask a web API here. */
static int fetch_from_api(void *arg, enccache_buf *out)
{
	const char *date = arg;
	char json[128];
	int n;

	n = snprintf(json, sizeof(json),
		     "{\"price\": 42.0, \"currency\": \"EUR\"%s%s%s}",
		     date ? ", \"date\": \"" : "", date ? date : "",
		     date ? "\"" : "");
	if (n < 0 || (size_t)n >= sizeof(json))
		return ENCCACHE_ECALLBACK;
	return enccache_buf_append(out, json, (size_t)n);
}

int main(int argc, char **argv)
{
	static const char salt[] = "my-application-salt";
	enccache_secrets *secrets = NULL;
	enccache *cache = NULL;
	const char *date = argc > 3 ? argv[3] : NULL;
	char *id = NULL, call[96];
	uint8_t *result = NULL;
	size_t len = 0;
	int err, rc = 1;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: fetch_prices CACHE_DIR SECRETS_FILE "
			"[DATE]\n");
		return 2;
	}
	err = enccache_secrets_read_file(argv[2], &secrets);
	if (err < 0) {
		fprintf(stderr, "fetch_prices: cannot use secrets file '%s': "
			"%s\n", argv[2], enccache_strerror(err));
		return 1;
	}
	/* The keys are derived here, once; the passwords can go. */
	err = enccache_open(argv[1], secrets, salt, strlen(salt), NULL, NULL,
			    &cache);
	enccache_secrets_free(secrets);
	if (err < 0) {
		fprintf(stderr, "fetch_prices: cannot open cache '%s': %s\n",
			argv[1], enccache_strerror(err));
		return 1;
	}
	if (date) {
		if (!*date || strlen(date) > 32 ||
		    date[strspn(date, "0123456789-")]) {
			fprintf(stderr, "fetch_prices: bad date '%s': "
				"expected YYYY-MM-DD\n", date);
			goto out;
		}
		snprintf(call, sizeof(call), "get_prices(date=%s)", date);
		err = enccache_get_hashed_filename(call, 0, "prices", &id);
		if (err < 0) {
			fprintf(stderr, "fetch_prices: bad date '%s': %s\n",
				date, enccache_strerror(err));
			goto out;
		}
	}
	err = enccache_execute_cached(cache, "api", fetch_from_api,
				      (void *)date,
				      id ? id : "prices/latest", ENCCACHE_JSON,
				      "1 day", NULL, &result, &len);
	if (err < 0) {
		fprintf(stderr, "fetch_prices: cannot get '%s': %s\n",
			id ? id : "prices/latest", enccache_strerror(err));
		goto out;
	}
	printf("%s %s: %.*s", err == ENCCACHE_HIT ? "cached" : "computed",
	       id ? id : "prices/latest", (int)len, (const char *)result);
	rc = 0;
out:
	enccache_free(result);
	enccache_free(id);
	enccache_close(cache);
	return rc;
}
