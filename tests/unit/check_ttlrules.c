/*
 * Unit tests for ttlrules (patterns, the rules text, its errors) and for
 * the cache judging each entry under its id's rule (load, verdict,
 * reason, big and small envelopes alike), and ec_startup_read_rules().
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"
#include "error.h"
#include "secrets.h"
#include "startup.h"
#include "ttlrules.h"
#include "unit_cache.h"

#define SEC INT64_C(1000000)
#define HOUR (3600 * SEC)
#define DAY (86400 * SEC)
#define T0 INT64_C(1770465600000000)	/* 2026-02-07T12:00:00Z */

/* --- patterns ------------------------------------------------------------ */

static const struct {
	const char *pat, *id;
	bool match;
} match_cases[] = {
	{ "a", "a", true },
	{ "a", "ab", false },
	{ "a", "b/a", false },
	{ "*", "abc", true },
	{ "*", "a/b", false },
	{ "*", "", true },
	{ "a/*", "a/b", true },
	{ "a/*", "a/b/c", false },
	{ "a/*", "a/", true },
	{ "*.json", "x.json", true },
	{ "*.json", "d/x.json", false },
	{ "**", "a/b/c", true },
	{ "**", "a", true },
	{ "**.json", "d/e/x.json", true },
	{ "a/**", "a/b", true },
	{ "a/**", "a/b/c", true },
	{ "a/**", "a", false },
	{ "a/**", "ab/c", false },
	{ "a/**/b", "a/b", true },
	{ "a/**/b", "a/x/b", true },
	{ "a/**/b", "a/x/y/b", true },
	{ "a/**/b", "a/xb", false },
	{ "a/**/b", "ab", false },
	{ "**/b", "b", true },
	{ "**/b", "x/y/b", true },
	{ "**/b", "xb", false },
	{ "x**/b", "xb", false },	/* not at a component's start */
	{ "x**/b", "x/b", true },
	{ "x**/b", "xy/z/b", true },
	{ "?", "a", true },
	{ "?", "/", false },
	{ "?", "", false },
	{ "a?c", "abc", true },
	{ "a?c", "a/c", false },
	{ "[abc]x", "bx", true },
	{ "[abc]x", "dx", false },
	{ "[a-c]", "b", true },
	{ "[a-c]", "d", false },
	{ "[!a-c]", "d", true },
	{ "[!a-c]", "a", false },
	{ "[^a-c]", "d", true },
	{ "[!a]", "/", false },		/* a class never matches '/' */
	{ "[]]", "]", true },
	{ "[]a]", "a", true },
	{ "[a-]", "-", true },
	{ "[\\]]", "]", true },
	{ "\\*", "*", true },
	{ "\\*", "a", false },
	{ "a\\ b", "a b", true },
	{ "\\[x", "[x", true },
	{ "prices/*/latest", "prices/eur/latest", true },
	{ "prices/*/latest", "prices/eur/x/latest", false },
	{ "*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false },
	{ "**a**a**a**a**a**b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", true },
};

START_TEST(test_pattern_match)
{
	for (size_t i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]);
	     i++) {
		ck_assert_msg(ec_ttl_pattern_check(match_cases[i].pat) == NULL,
			      "'%s' refused", match_cases[i].pat);
		ck_assert_msg(ec_ttl_pattern_match(match_cases[i].pat,
						   match_cases[i].id) ==
			      match_cases[i].match, "'%s' on '%s': %s expected",
			      match_cases[i].pat, match_cases[i].id,
			      match_cases[i].match ? "match" : "no match");
	}
}
END_TEST

START_TEST(test_pattern_long)
{
	char pat[600], id[600];

	/* Over the stack size of a pattern: matched from the heap. */
	memset(pat, 'a', 300);
	strcpy(pat + 300, "/**");
	memset(id, 'a', 300);
	strcpy(id + 300, "/x/y");
	ck_assert(ec_ttl_pattern_match(pat, id));
	id[0] = 'b';
	ck_assert(!ec_ttl_pattern_match(pat, id));
}
END_TEST

START_TEST(test_pattern_check)
{
	ck_assert_str_eq(ec_ttl_pattern_check(""), "empty pattern");
	ck_assert_str_eq(ec_ttl_pattern_check("/a"),
			 "starts with '/' (ids are relative)");
	ck_assert_str_eq(ec_ttl_pattern_check("a["), "unterminated '['");
	ck_assert_str_eq(ec_ttl_pattern_check("a[bc"), "unterminated '['");
	ck_assert_str_eq(ec_ttl_pattern_check("[]"), "unterminated '['");
	ck_assert_str_eq(ec_ttl_pattern_check("a\\"), "ends with '\\'");
	ck_assert_str_eq(ec_ttl_pattern_check("a***"),
			 "'***' (use '*' or '**')");
	ck_assert_str_eq(ec_ttl_pattern_check("a\x01"),
			 "has a control character");
	ck_assert_ptr_null(ec_ttl_pattern_check("a\\*\\*\\*"));
}
END_TEST

/* --- the text ------------------------------------------------------------ */

static const char good_text[] =
	"# rules for the test\n"
	"\n"
	"   \t\n"
	"prices/**     2h\n"
	"docs/*.json   3d 12h   # the comment\n"
	"old/**        inf oldest_valid=2026-01-01T00:00:00Z\n"
	"keep/**       5 days oldest_valid=none\r\n"
	"a\\ b         0\n"
	"until         2030-01-01T00:00:00+00:00\n"
	"#last         1h\n"
	"**            10m";

START_TEST(test_parse_good)
{
	struct ec_ttl_rules r;
	struct ec_ttl_rules_error err;
	const struct ec_ttl_rule *m;
	int64_t jan1;

	ck_assert_int_eq(ec_ttl_rules_parse(good_text, strlen(good_text), &r,
					    &err), 0);
	ck_assert_uint_eq(r.n, 7);
	ck_assert_str_eq(r.v[0].pattern, "prices/**");
	ck_assert_uint_eq(r.v[0].line, 4);
	ck_assert_int_eq(r.v[0].ttl.kind, EC_TTL_DURATION);
	ck_assert_int_eq(r.v[0].ttl.us, 2 * HOUR);
	ck_assert(!r.v[0].has_oldest);
	ck_assert_int_eq(r.v[1].ttl.us, 3 * DAY + 12 * HOUR);
	ck_assert_uint_eq(r.v[1].line, 5);
	ck_assert_int_eq(r.v[2].ttl.kind, EC_TTL_INFINITE);
	ck_assert(r.v[2].has_oldest);
	ck_assert_int_eq(ec_time_parse_iso("2026-01-01", &jan1), 0);
	ck_assert_int_eq(r.v[2].oldest_us, jan1);
	ck_assert(r.v[3].has_oldest);	/* none: no oldest_valid at all */
	ck_assert_int_eq(r.v[3].oldest_us, EC_TIME_NONE);
	ck_assert_int_eq(r.v[3].ttl.us, 5 * DAY);
	ck_assert_str_eq(r.v[4].pattern, "a\\ b");
	ck_assert_int_eq(r.v[4].ttl.kind, EC_TTL_ZERO);
	ck_assert_int_eq(r.v[5].ttl.kind, EC_TTL_ABSOLUTE);
	ck_assert_str_eq(r.v[6].pattern, "**");
	ck_assert_uint_eq(r.v[6].line, 11);

	/* first match wins */
	m = ec_ttl_rules_match(&r, "prices/eur/latest");
	ck_assert_ptr_eq(m, &r.v[0]);
	ck_assert_ptr_eq(ec_ttl_rules_match(&r, "docs/a.json"), &r.v[1]);
	ck_assert_ptr_eq(ec_ttl_rules_match(&r, "docs/x/a.json"), &r.v[6]);
	ck_assert_ptr_eq(ec_ttl_rules_match(&r, "a b"), &r.v[4]);
	ck_assert_ptr_eq(ec_ttl_rules_match(&r, "#last"), &r.v[6]);
	ck_assert_ptr_null(ec_ttl_rules_match(NULL, "x"));
	ec_ttl_rules_release(&r);
	ck_assert_uint_eq(r.n, 0);

	/* empty text, comments only: no rules, and nothing matches */
	ck_assert_int_eq(ec_ttl_rules_parse("", 0, &r, &err), 0);
	ck_assert_uint_eq(r.n, 0);
	ck_assert_ptr_null(ec_ttl_rules_match(&r, "x"));
	ec_ttl_rules_release(&r);
	ck_assert_int_eq(ec_ttl_rules_parse("# x\n\n", 5, &r, &err), 0);
	ck_assert_uint_eq(r.n, 0);
	ec_ttl_rules_release(&r);
}
END_TEST

static const struct {
	const char *text;
	unsigned line;
	const char *msg;
} bad_cases[] = {
	{ "a 1h\n[x 1h\n", 2, "bad pattern '[x': unterminated '['" },
	{ "/abs 1h", 1, "bad pattern '/abs': starts with '/' (ids are "
	  "relative)" },
	{ "a\\", 1, "bad pattern 'a\\': ends with '\\'" },
	{ "a*** 1h", 1, "bad pattern 'a***': '***' (use '*' or '**')" },
	{ "# c\n\nprices/**\n", 3, "pattern 'prices/**' has no ttl" },
	{ "x # 1h", 1, "pattern 'x' has no ttl" },
	{ "a 1h\nb 2 fortnights\n", 2, "bad ttl '2 fortnights': not a TTL "
	  "(e.g. '5 days', 'inf', '0', or an ISO-8601 time)" },
	{ "a -1h", 1, "bad ttl '-1h': not a TTL (e.g. '5 days', 'inf', '0', "
	  "or an ISO-8601 time)" },
	{ "a 1h oldest_valid=yesterday", 1, "bad oldest_valid 'yesterday': "
	  "not an ISO-8601 date-time" },
	{ "a 1h oldest_valid=", 1, "bad oldest_valid '': not an ISO-8601 "
	  "date-time" },
	{ "a 1h oldest_valid=2026-01-01 12:00", 1, "unexpected '12:00' after "
	  "the fields (the ttl comes before them)" },
	{ "a 1h ttl=2h", 1, "unknown field 'ttl' (the one field is "
	  "oldest_valid=)" },
	{ "a 1h oldest_valid=2026-01-01 oldest_valid=2026-01-02", 1,
	  "oldest_valid= given twice" },
};

START_TEST(test_parse_bad)
{
	struct ec_ttl_rules r;
	struct ec_ttl_rules_error err;

	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]);
	     i++) {
		ck_assert_int_eq(ec_ttl_rules_parse(bad_cases[i].text,
						    strlen(bad_cases[i].text),
						    &r, &err), -EINVAL);
		ck_assert_msg(err.line == bad_cases[i].line,
			      "'%s': line %u", bad_cases[i].text, err.line);
		ck_assert_str_eq(err.msg, bad_cases[i].msg);
		ec_ttl_rules_release(&r);
	}
	/* a NUL byte, and the line it is on */
	ck_assert_int_eq(ec_ttl_rules_parse("a 1h\nb\0 1h\n", 11, &r, &err),
			 -EINVAL);
	ck_assert_uint_eq(err.line, 2);
	ck_assert_str_eq(err.msg, "has a NUL byte");
	ec_ttl_rules_release(&r);
}
END_TEST

START_TEST(test_copy)
{
	struct ec_ttl_rules r, c;
	struct ec_ttl_rules_error err;

	ck_assert_int_eq(ec_ttl_rules_parse(good_text, strlen(good_text), &r,
					    &err), 0);
	ck_assert_int_eq(ec_ttl_rules_copy(&c, &r), 0);
	ec_ttl_rules_release(&r);
	ck_assert_uint_eq(c.n, 7);
	ck_assert_str_eq(c.v[1].pattern, "docs/*.json");
	ck_assert_uint_eq(c.v[1].line, 5);
	ck_assert_ptr_eq(ec_ttl_rules_match(&c, "prices/x"), &c.v[0]);
	ec_ttl_rules_release(&c);
	ck_assert_int_eq(ec_ttl_rules_copy(&c, NULL), 0);
	ck_assert_uint_eq(c.n, 0);
}
END_TEST

/* --- the cache under rules ------------------------------------------------ */

#define SECRETS "{\"default\": \"pw-default\"}"

static char *tmp;

static void mk_tmp(void)
{
	tmp = ec_test_tmpdir("ec-ttlrules");
}

static void rm_tmp(void)
{
	ec_test_tmpdir_free(&tmp);
}

/* A cache on tmp with a 5-day global TTL, oldest_valid oldest, and the
 * rules of text. */
static struct ec_cache *open_with(const char *text, int64_t oldest)
{
	struct ec_ttl_rules rules;
	struct ec_ttl_rules_error err;
	struct ec_cache *c;

	ck_assert_int_eq(ec_ttl_rules_parse(text, strlen(text), &rules,
					    &err), 0);
	c = ec_test_cache_rules(tmp, SECRETS, "s", ec_ttl_default(), oldest,
				&rules);
	ec_ttl_rules_release(&rules);	/* the cache has its own copy */
	return c;
}

static void save_at(struct ec_cache *c, const char *id, size_t len,
		    int64_t created)
{
	uint8_t *data = calloc(1, len ? len : 1);

	ck_assert_ptr_nonnull(data);
	ec_test_save(c, id, data, len, created);
	free(data);
}

/* Load id at load_now; check its verdict at now and reason text. */
static void expect(struct ec_cache *c, const char *id, int64_t load_now,
		   int64_t now, enum ec_state want, int64_t expires,
		   const char *pattern, const char *text)
{
	struct ec_entry e;
	char buf[EC_REASON_MAX];

	ck_assert_int_eq(ec_cache_load(c, id, 0, load_now, &e), 0);
	ck_assert_msg(ec_entry_verdict(c, &e, now, NULL) == want,
		      "%s: state %s", id,
		      ec_state_name(ec_entry_verdict(c, &e, now, NULL)));
	ck_assert_msg(e.expires_us == expires, "%s: expires %lld", id,
		      (long long)e.expires_us);
	ck_assert_int_eq(ec_cache_expiry(c, id, e.created_us), expires);
	if (pattern) {
		ck_assert_ptr_nonnull(e.rule);
		ck_assert_str_eq(e.rule->pattern, pattern);
	} else {
		ck_assert_ptr_null(e.rule);
	}
	ck_assert_ptr_eq(e.rule, ec_cache_rule_for(c, id));
	ec_entry_reason_text(c, &e, now, buf, sizeof(buf));
	ck_assert_str_eq(buf, text);
	ec_entry_release(&e);
}

START_TEST(test_cache_rules)
{
	struct ec_cache *c = open_with(
		"fast/**  2s\n"
		"hour/*   1h\n"
		"zero     0\n"
		"old/**   inf oldest_valid=2026-02-07T12:00:00Z\n"
		"free/**  inf oldest_valid=none\n",
		T0 - DAY);

	ck_assert_uint_eq(ec_cache_rules(c)->n, 5);
	save_at(c, "fast/a/b", 3, T0);
	save_at(c, "hour/x", 3, T0);
	save_at(c, "hour/x/y", 3, T0 - 2 * DAY);	/* '*' stops at '/' */
	save_at(c, "hour/old", 3, T0 - 2 * DAY);
	save_at(c, "zero", 3, T0);
	save_at(c, "old/new", 3, T0);
	save_at(c, "old/older", 3, T0 - 1);
	save_at(c, "free/x", 3, T0 - 2 * DAY);
	save_at(c, "other", 3, T0 + DAY);

	expect(c, "fast/a/b", T0, T0 + 2 * SEC, EC_STATE_VALID, T0 + 2 * SEC,
	       "fast/**", "");
	expect(c, "fast/a/b", T0, T0 + 2 * SEC + 1, EC_STATE_STALE,
	       T0 + 2 * SEC, "fast/**",
	       "stale (expired 2026-02-07T12:00:02+00:00)");
	/* loaded stale under its rule: stale whenever asked */
	expect(c, "fast/a/b", T0 + 3 * SEC, T0, EC_STATE_STALE, T0 + 2 * SEC,
	       "fast/**", "stale (expired 2026-02-07T12:00:02+00:00)");
	expect(c, "hour/x", T0, T0 + HOUR, EC_STATE_VALID, T0 + HOUR,
	       "hour/*", "");
	/* a rule without oldest_valid= keeps the global one (T0 - 1 day) */
	expect(c, "hour/old", T0, T0, EC_STATE_STALE, EC_TIME_NONE, "hour/*",
	       "stale (created before --oldest-valid "
	       "2026-02-06T12:00:00+00:00)");
	/* no rule: the global 5 days and --oldest-valid */
	expect(c, "hour/x/y", T0, T0, EC_STATE_STALE, EC_TIME_NONE, NULL,
	       "stale (created before --oldest-valid "
	       "2026-02-06T12:00:00+00:00)");
	expect(c, "other", T0, T0 + 6 * DAY, EC_STATE_VALID, T0 + 6 * DAY,
	       NULL, "");
	expect(c, "zero", T0, T0, EC_STATE_STALE, EC_TIME_NONE, "zero",
	       "stale (ttl 0)");
	/* a rule's oldest_valid replaces the global one */
	expect(c, "old/new", T0, T0 + 1000 * DAY, EC_STATE_VALID,
	       EC_TIME_NEVER, "old/**", "");
	expect(c, "old/older", T0, T0, EC_STATE_STALE, EC_TIME_NONE,
	       "old/**", "stale (created before oldest_valid "
	       "2026-02-07T12:00:00+00:00 of rule 'old/**')");
	/* oldest_valid=none: no oldest_valid at all */
	expect(c, "free/x", T0, T0 + 1000 * DAY, EC_STATE_VALID,
	       EC_TIME_NEVER, "free/**", "");
	ec_cache_free(c);
}
END_TEST

START_TEST(test_cache_rules_classify_and_big)
{
	struct ec_cache *c = open_with("big/**  1h\nsmall 2s\n", EC_TIME_NONE);
	struct ec_entry e;
	char path[PATH_MAX];
	char *env;
	size_t len;

	save_at(c, "small", 10, T0);
	/* a streamed envelope: judged under its rule too */
	save_at(c, "big/x", EC_STREAM_MIN + 10, T0);
	ck_assert_int_eq(ec_cache_load(c, "big/x", 0, T0, &e), 0);
	ck_assert_int_eq(e.state, EC_STATE_VALID);
	ck_assert_int_eq(e.expires_us, T0 + HOUR);
	ck_assert_ptr_eq(e.rule, &ec_cache_rules(c)->v[0]);
	ec_entry_release(&e);

	snprintf(path, sizeof(path), "%s/small.enc.json", tmp);
	env = ec_test_slurp(path, &len);
	ec_cache_classify_id(c, "small", env, len, 0, T0, &e);
	ck_assert_int_eq(e.expires_us, T0 + 2 * SEC);
	ck_assert_int_eq(ec_entry_verdict(c, &e, T0 + 3 * SEC, NULL),
			 EC_STATE_STALE);
	ec_entry_release(&e);
	/* without an id: the global TTL */
	ec_cache_classify(c, env, len, 0, T0, &e);
	ck_assert_ptr_null(e.rule);
	ck_assert_int_eq(e.expires_us, T0 + 5 * DAY);
	ec_entry_release(&e);
	ec_cache_classify_id(c, NULL, env, len, 0, T0, &e);
	ck_assert_int_eq(e.expires_us, T0 + 5 * DAY);
	ec_entry_release(&e);
	free(env);
	ec_cache_free(c);
}
END_TEST

/* An unparseable created_at is read only where the rule reads it. */
START_TEST(test_cache_rules_bad_created)
{
	struct ec_cache *c = open_with("forever inf\n", EC_TIME_NONE);
	struct ec_entry e;
	char path[PATH_MAX];
	char *env, *p;
	size_t len;
	FILE *f;

	save_at(c, "forever", 3, T0);
	save_at(c, "dur", 3, T0);
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s.enc.json", tmp,
			 i ? "dur" : "forever");
		env = ec_test_slurp(path, &len);
		p = strstr(env, "\"created_at\": \"") + 15;
		memcpy(p, "yesterday", 9);
		f = fopen(path, "wb");
		ck_assert_ptr_nonnull(f);
		ck_assert_uint_eq(fwrite(env, 1, len, f), len);
		ck_assert_int_eq(fclose(f), 0);
		free(env);
	}
	ck_assert_int_eq(ec_cache_load(c, "forever", 0, T0, &e), 0);
	ck_assert_int_eq(e.state, EC_STATE_VALID);
	ck_assert_int_eq(e.expires_us, EC_TIME_NEVER);
	ec_entry_release(&e);
	ck_assert_int_eq(ec_cache_load(c, "dur", 0, T0, &e), 0);
	ck_assert_int_eq(e.state, EC_STATE_CORRUPT);
	ck_assert_int_eq(e.reason, -EC_ETIME);
	ec_entry_release(&e);
	ec_cache_free(c);
}
END_TEST

/* --- the file ------------------------------------------------------------ */

static void write_file(const char *path, const char *text)
{
	ec_test_write(path, text, strlen(text));
}

START_TEST(test_startup_read_rules)
{
	struct ec_ttl_rules r;
	char path[PATH_MAX], msg[PATH_MAX + 300], want[PATH_MAX + 300];

	snprintf(path, sizeof(path), "%s/rules", tmp);
	write_file(path, "a/** 1h\n# c\nb 2h\n");
	ck_assert_int_eq(ec_startup_read_rules(path, &r, msg, sizeof(msg)),
			 0);
	ck_assert_uint_eq(r.n, 2);
	ck_assert_str_eq(msg, "");
	ec_ttl_rules_release(&r);

	write_file(path, "a/** 1h\n# c\nb oldest_valid=x\n");
	ck_assert_int_eq(ec_startup_read_rules(path, &r, msg, sizeof(msg)),
			 -EINVAL);
	snprintf(want, sizeof(want), "%s:3: pattern 'b' has no ttl", path);
	ck_assert_str_eq(msg, want);
	ec_ttl_rules_release(&r);

	write_file(path, "a/** 1h\nb 1x\n");
	ck_assert_int_eq(ec_startup_read_rules(path, &r, msg, sizeof(msg)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(msg, ":2: bad ttl '1x': "));
	ec_ttl_rules_release(&r);

	snprintf(path, sizeof(path), "%s/none", tmp);
	ck_assert_int_eq(ec_startup_read_rules(path, &r, msg, sizeof(msg)),
			 -ENOENT);
	snprintf(want, sizeof(want), "cannot read ttl rules file '%s': no "
		 "such file or directory", path);
	ck_assert_str_eq(msg, want);
	ck_assert_int_eq(ec_startup_read_rules(tmp, &r, msg, sizeof(msg)),
			 -EISDIR);
	ck_assert_ptr_nonnull(strstr(msg, ": is a directory"));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ttlrules");
	TCase *tc;

	tc = tcase_create("pattern");
	tcase_add_test(tc, test_pattern_match);
	tcase_add_test(tc, test_pattern_long);
	tcase_add_test(tc, test_pattern_check);
	suite_add_tcase(s, tc);

	tc = tcase_create("text");
	tcase_add_test(tc, test_parse_good);
	tcase_add_test(tc, test_parse_bad);
	tcase_add_test(tc, test_copy);
	suite_add_tcase(s, tc);

	tc = tcase_create("cache");
	tcase_add_checked_fixture(tc, mk_tmp, rm_tmp);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_cache_rules);
	tcase_add_test(tc, test_cache_rules_classify_and_big);
	tcase_add_test(tc, test_cache_rules_bad_created);
	tcase_add_test(tc, test_startup_read_rules);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ec_test_run(suite());
}
