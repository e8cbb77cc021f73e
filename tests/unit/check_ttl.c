/*
 * Unit tests for ttl: ISO-8601 parsing and formatting, TTL parsing, expiry.
 *
 * The ISO table's answers come from Python 3.11.7's datetime.fromisoformat()
 * (the C implementation, quirks included), naive text taken as UTC, as
 * microseconds since the epoch.  The format table's answers are Python's
 * isoformat() of the same instants.  The TTL table follows FORMAT.md.
 */
#include "config.h"

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "error.h"
#include "ttl.h"
#include "unit.h"

#define SEC INT64_C(1000000)
#define DAY (86400 * SEC)
#define SENTINEL INT64_C(0x5a5a5a5a5a5a5a5a)

/* 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z */
#define US_MIN INT64_C(-62135596800000000)
#define US_MAX INT64_C(253402300799999999)

/* For hot loops: ck_assert() marks a point (a write) on every success. */
#define CHECK(cond, ...)					\
	do {							\
		if (!(cond))					\
			ck_abort_msg(__VA_ARGS__);		\
	} while (0)

/* --- ISO-8601 parsing: known answers from Python 3.11 -------------------- */

static const struct {
	const char *text;
	bool ok;
	int64_t us;
} iso_cases[] = {
	{ "2026-02-07", true, INT64_C(1770422400000000) },
	{ "20260207", true, INT64_C(1770422400000000) },
	{ "1970-01-01", true, INT64_C(0) },
	{ "1969-12-31", true, INT64_C(-86400000000) },
	{ "0001-01-01", true, INT64_C(-62135596800000000) },
	{ "9999-12-31", true, INT64_C(253402214400000000) },
	{ "2000-02-29", true, INT64_C(951782400000000) },
	{ "2024-02-29", true, INT64_C(1709164800000000) },
	{ "1900-02-28", true, INT64_C(-2203977600000000) },
	{ "2026-02-07T12:00:00+00:00", true, INT64_C(1770465600000000) },
	{ "2026-11-21T23:47:39.814634+00:00", true, INT64_C(1795304859814634) },
	{ "2026-02-07T12:00:00Z", true, INT64_C(1770465600000000) },
	{ "2026-02-07T12:00:00", true, INT64_C(1770465600000000) },
	{ "2026-02-07 12:00:00", true, INT64_C(1770465600000000) },
	{ "20260207T120000", true, INT64_C(1770465600000000) },
	{ "20260207T12", true, INT64_C(1770465600000000) },
	{ "2026-02-07T12", true, INT64_C(1770465600000000) },
	{ "2026-02-07T1234", true, INT64_C(1770467640000000) },
	{ "2026-02-07T12:34", true, INT64_C(1770467640000000) },
	{ "2026-02-07T123456", true, INT64_C(1770467696000000) },
	{ "2026-02-07T12:34:56", true, INT64_C(1770467696000000) },
	{ "2026-W06-6", true, INT64_C(1770422400000000) },
	{ "2026W066", true, INT64_C(1770422400000000) },
	{ "2026-W06", true, INT64_C(1769990400000000) },
	{ "2026W06", true, INT64_C(1769990400000000) },
	{ "2026W067", true, INT64_C(1770508800000000) },
	{ "2026-W01-1", true, INT64_C(1766966400000000) },
	{ "2020-W53-7", true, INT64_C(1609632000000000) },
	{ "2026-W53", true, INT64_C(1798416000000000) },
	{ "2015-W53-1", true, INT64_C(1451260800000000) },
	{ "2009-W53", true, INT64_C(1261958400000000) },
	{ "0001-W01-1", true, INT64_C(-62135596800000000) },
	{ "9999-W52-5", true, INT64_C(253402214400000000) },
	{ "9999-W52-6", false, 0 },
	{ "2026-W00", false, 0 },
	{ "2026-W06-0", false, 0 },
	{ "2026-W06-8", false, 0 },
	{ "2026-W066", false, 0 },
	{ "2026W06-6", false, 0 },
	{ "2026-W0612", false, 0 },
	{ "2026W0612", false, 0 },
	{ "2026-W06-6T12", true, INT64_C(1770465600000000) },
	{ "2026W066T12:00", true, INT64_C(1770465600000000) },
	{ "2026W0661200", true, INT64_C(1770033600000000) },
	{ "2026-W06T12", true, INT64_C(1770033600000000) },
	{ "2026-W06-612", false, 0 },
	{ "2026-W06-12:00", true, INT64_C(1770033600000000) },
	{ "0000-W01-1", false, 0 },
	{ "2026-02-07x12:00", true, INT64_C(1770465600000000) },
	{ "2026-02-07-12:00", true, INT64_C(1770465600000000) },
	{ "2026-02-07512:00", true, INT64_C(1770465600000000) },
	{ "2026-02-07Z12:00", true, INT64_C(1770465600000000) },
	{ "2026-02-07+12:00", true, INT64_C(1770465600000000) },
	{ "2026-02-07\01112:00", true, INT64_C(1770465600000000) },
	{ "2026-02-07\303\25112:00", true, INT64_C(1770465600000000) },
	{ "2026-02-07\346\231\20212:00", true, INT64_C(1770465600000000) },
	{ "2026-02-07\360\237\220\21512:00", true, INT64_C(1770465600000000) },
	{ "20260207\303\25112:00", true, INT64_C(1770465600000000) },
	{ "2026W06\303\25112:00", true, INT64_C(1770033600000000) },
	{ "2026-02-07\303\251", false, 0 },
	{ "2026-02-07T", false, 0 },
	{ "2026-02-07 ", false, 0 },
	{ "2026-02-0712:00", false, 0 },
	{ "2026-02-07TT12:00", false, 0 },
	{ "2026-02-07\303\251\303\25112:00", false, 0 },
	{ "2026-02-07T12:34:56.1", true, INT64_C(1770467696100000) },
	{ "2026-02-07T12:34:56,5", true, INT64_C(1770467696500000) },
	{ "2026-02-07T12:34:56.123", true, INT64_C(1770467696123000) },
	{ "2026-02-07T12:34:56.123456", true, INT64_C(1770467696123456) },
	{ "2026-02-07T12:34:56.1234567", true, INT64_C(1770467696123456) },
	{ "2026-02-07T12:34:56.123456789123Z",
	  true, INT64_C(1770467696123456) },
	{ "2026-02-07T12:34:56.000001", true, INT64_C(1770467696000001) },
	{ "2026-02-07T12:34:56.9999999", true, INT64_C(1770467696999999) },
	{ "2026-02-07T12:34:56.", false, 0 },
	{ "2026-02-07T12:34:56.+00:00", true, INT64_C(1770467696000000) },
	{ "2026-02-07T12:34:56.123abc", false, 0 },
	{ "2026-02-07T12:34:56.123456abc", false, 0 },
	{ "2026-02-07T12:34:56.1234567a+00:00",
	  true, INT64_C(1770467696123456) },
	{ "2026-02-07T12.5", true, INT64_C(1770465600500000) },
	{ "2026-02-07T12:34.5", true, INT64_C(1770467640500000) },
	{ "2026-02-07T1234.5", true, INT64_C(1770467640500000) },
	{ "2026-02-07T123456.5", true, INT64_C(1770467696500000) },
	{ "2026-02-07T12:34:56:78", true, INT64_C(1770467696780000) },
	{ "2026-02-07T12345678", true, INT64_C(1770467696780000) },
	{ "2026-02-07T12:34:56.1 ", false, 0 },
	{ "2026-02-07T1", false, 0 },
	{ "2026-02-07T1:00", false, 0 },
	{ "2026-02-07T12:3", false, 0 },
	{ "2026-02-07T12:34:5", false, 0 },
	{ "2026-02-07T12:3456", false, 0 },
	{ "2026-02-07T1234:56", false, 0 },
	{ "2026-02-07T12::34", false, 0 },
	{ "2026-02-07T12:34:", false, 0 },
	{ "2026-02-07T12:34:56:", false, 0 },
	{ "2026-02-07T12345", false, 0 },
	{ "2026-02-07T12345+01:00", true, INT64_C(1770464040000000) },
	{ "2026-02-07T12:34:56X+00:00", true, INT64_C(1770467696000000) },
	{ "2026-02-07T12:34:56X", false, 0 },
	{ "2026-02-07T12:34:5a", false, 0 },
	{ "2026-02-07Ta1", false, 0 },
	{ "2026-02-07TZ", false, 0 },
	{ "2026-02-07T+05", false, 0 },
	{ "2026-02-07T12:34:56 ", false, 0 },
	{ "2026-02-07T12:34:56\012", false, 0 },
	{ "2026-02-07\01212:34", true, INT64_C(1770467640000000) },
	{ "2026-02-07T12:34:56\303\251+00:00", false, 0 },
	{ "2026-02-07T23:59:59.999999", true, INT64_C(1770508799999999) },
	{ "2026-02-07T24:00", false, 0 },
	{ "2026-02-07T24:00:00", false, 0 },
	{ "2026-02-07T25:00", false, 0 },
	{ "2026-02-07T12:60", false, 0 },
	{ "2026-02-07T12:00:60", false, 0 },
	{ "2026-02-29", false, 0 },
	{ "2026-13-01", false, 0 },
	{ "2026-00-10", false, 0 },
	{ "2026-01-00", false, 0 },
	{ "2026-04-31", false, 0 },
	{ "2026-01-32", false, 0 },
	{ "1900-02-29", false, 0 },
	{ "0000-01-01", false, 0 },
	{ "0000-12-31T23:59:59Z", false, 0 },
	{ "10000-01-01", false, 0 },
	{ "2026-2-07", false, 0 },
	{ "2026-02-7", false, 0 },
	{ "2026-0207", false, 0 },
	{ "202602-07", false, 0 },
	{ "+2026-02-07", false, 0 },
	{ "-2026-02-07", false, 0 },
	{ " 2026-02-07", false, 0 },
	{ "2026", false, 0 },
	{ "2026-02", false, 0 },
	{ "202602", false, 0 },
	{ "2026-02-0", false, 0 },
	{ "", false, 0 },
	{ "x", false, 0 },
	{ "now", false, 0 },
	{ "2026-02-07T12:00:00\302\240", false, 0 },
	{ "2026-02-07T12:34+0530", true, INT64_C(1770447840000000) },
	{ "2026-02-07T12:34+05:30", true, INT64_C(1770447840000000) },
	{ "2026-02-07T12:34+05", true, INT64_C(1770449640000000) },
	{ "2026-02-07T12:34-05", true, INT64_C(1770485640000000) },
	{ "2026-02-07T12:34-05:30", true, INT64_C(1770487440000000) },
	{ "2026-02-07T12:34+05:30:15", true, INT64_C(1770447825000000) },
	{ "2026-02-07T12:34+053015", true, INT64_C(1770447825000000) },
	{ "2026-02-07T12:34+05:30:15.25", true, INT64_C(1770447824750000) },
	{ "2026-02-07T12:34+053015.25", true, INT64_C(1770447824750000) },
	{ "2026-02-07T12:34+053015,25", true, INT64_C(1770447824750000) },
	{ "2026-02-07T12:34:56.123456-12:34:56.123456",
	  true, INT64_C(1770512992246912) },
	{ "2026-02-07T12:00+00:99", true, INT64_C(1770459660000000) },
	{ "2026-02-07T12:00+23:99:99", false, 0 },
	{ "2026-02-07T12:00:00+24:00", false, 0 },
	{ "2026-02-07T12:00:00-24:00", false, 0 },
	{ "2026-02-07T12:00:00+23:59:59.999999",
	  true, INT64_C(1770379200000001) },
	{ "2026-02-07T12:00:00-23:59:59.999999",
	  true, INT64_C(1770551999999999) },
	{ "2026-02-07T12:00+00:00:00.5", true, INT64_C(1770465600000000) },
	{ "2026-02-07T12:00:00-00:00:00.000001",
	  true, INT64_C(1770465600000000) },
	{ "2026-02-07T12:00:00+00:00:01.5", true, INT64_C(1770465598500000) },
	{ "2026-02-07T12:00:00-00:00", true, INT64_C(1770465600000000) },
	{ "2026-02-07T12:00:00+00:00:00.1234567",
	  true, INT64_C(1770465600000000) },
	{ "2026-02-07T12:00:00+00:00:00.123456x", false, 0 },
	{ "2026-02-07T12:34+05:3", false, 0 },
	{ "2026-02-07T12:34+", false, 0 },
	{ "2026-02-07T12:34+0", false, 0 },
	{ "2026-02-07T12:34+053", false, 0 },
	{ "2026-02-07T12:34+05:30Z", false, 0 },
	{ "2026-02-07T12:34Z+05", false, 0 },
	{ "2026-02-07T12+05:30-01", false, 0 },
	{ "2026-02-07T12:00:00+01:00x", false, 0 },
	{ "2026-02-07T12:00:00+01:00:00x", false, 0 },
	{ "2026-02-07T12:34Z ", false, 0 },
	{ "2026-02-07T12:34:56Z0", false, 0 },
	{ "2026-02-07T12:34:56ZZ", false, 0 },
	{ "2026-02-07T12:34z", false, 0 },
	{ "2026-02-07T12-", false, 0 },
	{ "2026-02-07T12-1", false, 0 },
	{ "2026-02-07T12-123", false, 0 },
	{ "2026-02-07T12-12345", false, 0 },
	{ "2026-02-07T12Z", true, INT64_C(1770465600000000) },
	{ "2026-02-07T12:34:56+", false, 0 },
	{ "2026-02-07T12:34:56.1+", false, 0 },
	{ "2026-02-07T12:00+01:00\303\251", false, 0 },
	{ "0001-01-01T00:00+01:00", true, INT64_C(-62135600400000000) },
	{ "9999-12-31T23:59:59.999999-01:00",
	  true, INT64_C(253402304399999999) },
	{ "0001-01-01T00:00:00+23:59:59.999999",
	  true, INT64_C(-62135683199999999) },
	{ "9999-12-31T23:59:59.999999-23:59:59.999999",
	  true, INT64_C(253402387199999998) },
};

START_TEST(test_iso_table)
{
	const char *text = iso_cases[_i].text;
	int64_t us = SENTINEL;
	int rc = ec_time_parse_iso(text, &us);

	if (iso_cases[_i].ok) {
		ck_assert_msg(rc == 0, "'%s': rc %d", text, rc);
		ck_assert_msg(us == iso_cases[_i].us, "'%s': %lld, want %lld",
			      text, (long long)us,
			      (long long)iso_cases[_i].us);
	} else {
		ck_assert_msg(rc == -EC_ETIME, "'%s': rc %d", text, rc);
		ck_assert_msg(us == SENTINEL, "'%s': output written", text);
	}
}
END_TEST

/* Valid UTF-8 only: a lone, truncated, overlong or surrogate separator. */
START_TEST(test_iso_bad_utf8_separator)
{
	static const char *const bad[] = {
		"2026-02-07\20012:00",		/* continuation byte */
		"2026-02-07\30312:00",		/* lead, alone */
		"2026-02-07\300\24112:00",	/* overlong 'a' */
		"2026-02-07\340\200\24112:00",	/* overlong, 3 bytes */
		"2026-02-07\355\240\20012:00",	/* U+D800 */
		"2026-02-07\360\200\200\24112:00",	/* overlong, 4 */
		"2026-02-07\364\220\200\20012:00",	/* above U+10FFFF */
		"2026-02-07\370\210\200\200\20012:00",	/* 5 bytes */
		"2026-02-07\346\23112:00",	/* 3-byte lead, 2 bytes */
		"2026-02-07\303",		/* truncated at the end */
	};
	int64_t us = SENTINEL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(ec_time_parse_iso(bad[i], &us) == -EC_ETIME,
			      "case %zu", i);
	ck_assert(us == SENTINEL);
	/* the largest code point still separates */
	ck_assert_int_eq(ec_time_parse_iso("2026-02-07\364\217\277\27712:00",
					   &us), 0);
	ck_assert(us == INT64_C(1770465600000000));
}
END_TEST

static bool leap(int y)
{
	return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

static int month_days(int y, int m)
{
	static const int n[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	return m == 2 && leap(y) ? 29 : n[m - 1];
}

/* Writes n decimal digits of v at p (snprintf is too slow for 3.6M days). */
static char *put_digits(char *p, int v, int n)
{
	for (int i = n - 1; i >= 0; i--, v /= 10)
		p[i] = (char)('0' + v % 10);
	return p + n;
}

/* YYYY-MM-DD, or YYYYMMDD when sep is 0, then the rest of tail */
static void put_date(char *p, int y, int m, int d, char sep,
		     const char *tail)
{
	p = put_digits(p, y, 4);
	if (sep)
		*p++ = sep;
	p = put_digits(p, m, 2);
	if (sep)
		*p++ = sep;
	p = put_digits(p, d, 2);
	strcpy(p, tail);
}

/*
 * Every day of years 1..9999, walked one at a time from 0001-01-01 (a
 * Monday): the parse of YYYY-MM-DD and YYYYMMDD, the formatted text, the
 * day after each month's end rejected, and ISO week 1 and 53 of each year.
 */
START_TEST(test_iso_every_day)
{
	char text[40], want[64], out[EC_TIME_ISO_MAX];
	int y = 1, m = 1, d = 1, wday = 0;	/* Monday = 0 */
	int64_t us = US_MIN, got;

	for (;;) {
		put_date(text, y, m, d, '-', "");
		CHECK(ec_time_parse_iso(text, &got) == 0, "%s", text);
		CHECK(got == us, "%s: %lld", text, (long long)got);
		put_date(text, y, m, d, 0, "");
		CHECK(ec_time_parse_iso(text, &got) == 0 && got == us, "%s",
		      text);
		ec_time_format_iso(us, out);
		put_date(want, y, m, d, '-', "T00:00:00+00:00");
		CHECK(strcmp(out, want) == 0, "%s, want %s", out, want);
		if (m == 1 && d == 4) {
			/* week 1 starts on the Monday on or before Jan 4 */
			snprintf(text, sizeof(text), "%04d-W01-1", y);
			CHECK(ec_time_parse_iso(text, &got) == 0 &&
			      got == us - wday * DAY, "%s", text);
		}
		if (m == 12 && d == 31) {
			/* 53 weeks when Jan 1 or Dec 31 is a Thursday */
			int jan1 = ((wday - (leap(y) ? 365 : 364)) % 7 + 7) % 7;
			bool w53 = jan1 == 3 || wday == 3;

			snprintf(text, sizeof(text), "%04d-W53", y);
			CHECK((ec_time_parse_iso(text, &got) == 0) == w53,
			      "%s", text);
			if (y == 9999)
				break;
		}
		if (d == month_days(y, m)) {
			put_date(text, y, m, d + 1, '-', "");
			CHECK(ec_time_parse_iso(text, &got) == -EC_ETIME,
			      "%s", text);
			d = 1;
			if (++m == 13) {
				m = 1;
				y++;
			}
		} else {
			d++;
		}
		us += DAY;
		wday = (wday + 1) % 7;
	}
	ck_assert(us == US_MAX - DAY + 1);
}
END_TEST

/* --- formatting ---------------------------------------------------------- */

static const struct {
	int64_t us;
	const char *iso;
} fmt_cases[] = {
	{ INT64_C(0), "1970-01-01T00:00:00+00:00" },
	{ INT64_C(1), "1970-01-01T00:00:00.000001+00:00" },
	{ INT64_C(-1), "1969-12-31T23:59:59.999999+00:00" },
	{ INT64_C(999999), "1970-01-01T00:00:00.999999+00:00" },
	{ INT64_C(-999999), "1969-12-31T23:59:59.000001+00:00" },
	{ INT64_C(1000000), "1970-01-01T00:00:01+00:00" },
	{ INT64_C(-1000000), "1969-12-31T23:59:59+00:00" },
	{ INT64_C(1770422400000000), "2026-02-07T00:00:00+00:00" },
	{ INT64_C(1795391259814634), "2026-11-22T23:47:39.814634+00:00" },
	{ INT64_C(1795304859814634), "2026-11-21T23:47:39.814634+00:00" },
	{ INT64_C(1770465600500000), "2026-02-07T12:00:00.500000+00:00" },
	{ INT64_C(1770465600000010), "2026-02-07T12:00:00.000010+00:00" },
	{ INT64_C(-62135596800000000), "0001-01-01T00:00:00+00:00" },
	{ INT64_C(253402300799999999), "9999-12-31T23:59:59.999999+00:00" },
	{ INT64_C(951825600000000), "2000-02-29T12:00:00+00:00" },
	{ INT64_C(-2203891200000001), "1900-02-28T23:59:59.999999+00:00" },
	{ INT64_C(-86400000000), "1969-12-31T00:00:00+00:00" },
	{ INT64_C(978307200000000), "2001-01-01T00:00:00+00:00" },
	{ INT64_C(64092211200000000), "4001-01-01T00:00:00+00:00" },
	{ INT64_C(951782400000000), "2000-02-29T00:00:00+00:00" },
};

START_TEST(test_format_table)
{
	char out[EC_TIME_ISO_MAX], want[EC_TIME_ISO_MAX];
	const char *iso = fmt_cases[_i].iso;
	size_t n = strlen(iso) - strlen("+00:00");

	ec_time_format_iso(fmt_cases[_i].us, out);
	ck_assert_str_eq(out, iso);
	memcpy(want, iso, n);
	strcpy(want + n, "Z");
	ec_time_format_iso_z(fmt_cases[_i].us, out);
	ck_assert_str_eq(out, want);
}
END_TEST

/* Outside years 1..9999 (Python raises) the year grows or takes a sign. */
START_TEST(test_format_extremes)
{
	char out[EC_TIME_ISO_MAX];

	ec_time_format_iso(INT64_MAX, out);
	ck_assert_str_eq(out, "294247-01-10T04:00:54.775807+00:00");
	ec_time_format_iso_z(INT64_MIN, out);
	ck_assert_str_eq(out, "-290308-12-21T19:59:05.224192Z");
	ec_time_format_iso(INT64_MIN, out);
	ck_assert_str_eq(out, "-290308-12-21T19:59:05.224192+00:00");
	ec_time_format_iso(US_MIN - 1, out);
	ck_assert_str_eq(out, "0000-12-31T23:59:59.999999+00:00");
	ec_time_format_iso(US_MAX + 1, out);
	ck_assert_str_eq(out, "10000-01-01T00:00:00+00:00");
	ec_time_format_iso(US_MIN - 367 * DAY, out);	/* year 0 is leap */
	ck_assert_str_eq(out, "-0001-12-31T00:00:00+00:00");
}
END_TEST

/* format -> parse is the identity over years 1..9999, both suffixes. */
START_TEST(test_format_roundtrip)
{
	uint64_t x = 0x9e3779b97f4a7c15u;
	uint64_t span = (uint64_t)(US_MAX - US_MIN) + 1;
	char out[EC_TIME_ISO_MAX];
	int64_t us, got;

	for (int i = 0; i < 200000; i++) {
		x = x * 6364136223846793005u + 1442695040888963407u;
		us = US_MIN + (int64_t)(x % span);
		if (i % 4 == 0)		/* also whole seconds */
			us -= ((us % SEC) + SEC) % SEC;
		if (i == 0)
			us = US_MIN;
		if (i == 1)
			us = US_MAX;
		ec_time_format_iso(us, out);
		CHECK(ec_time_parse_iso(out, &got) == 0 && got == us, "%s",
		      out);
		CHECK((strchr(out, '.') != NULL) == (us % SEC != 0), "%s",
		      out);
		ec_time_format_iso_z(us, out);
		CHECK(ec_time_parse_iso(out, &got) == 0 && got == us, "%s",
		      out);
	}
}
END_TEST

/* --- TTL parsing --------------------------------------------------------- */

static const struct {
	const char *text;
	int rc;
	enum ec_ttl_kind kind;
	int64_t us;
} ttl_cases[] = {
	{ "inf", 0, EC_TTL_INFINITE, INT64_C(0) },
	{ "INF", 0, EC_TTL_INFINITE, INT64_C(0) },
	{ "Inf", 0, EC_TTL_INFINITE, INT64_C(0) },
	{ "infinite", 0, EC_TTL_INFINITE, INT64_C(0) },
	{ "INFINITE", 0, EC_TTL_INFINITE, INT64_C(0) },
	{ "forever", 0, EC_TTL_INFINITE, INT64_C(0) },
	{ "Forever", 0, EC_TTL_INFINITE, INT64_C(0) },
	{ "none", 0, EC_TTL_INFINITE, INT64_C(0) },
	{ "None", 0, EC_TTL_INFINITE, INT64_C(0) },
	{ "NONE", 0, EC_TTL_INFINITE, INT64_C(0) },
	{ " inf ", 0, EC_TTL_INFINITE, INT64_C(0) },
	{ "\011forever\012", 0, EC_TTL_INFINITE, INT64_C(0) },
	{ "infinity", -EC_ETTL, 0, 0 },
	{ "never", -EC_ETTL, 0, 0 },
	{ "null", -EC_ETTL, 0, 0 },
	{ "in f", -EC_ETTL, 0, 0 },
	{ "0", 0, EC_TTL_ZERO, INT64_C(0) },
	{ " 0 ", 0, EC_TTL_ZERO, INT64_C(0) },
	{ "\0120\011", 0, EC_TTL_ZERO, INT64_C(0) },
	{ "00", -EC_ETTL, 0, 0 },
	{ "0s", 0, EC_TTL_DURATION, INT64_C(0) },
	{ "0 d", 0, EC_TTL_DURATION, INT64_C(0) },
	{ "-0", -EC_ETTL, 0, 0 },
	{ "+0", -EC_ETTL, 0, 0 },
	{ "0.0", -EC_ETTL, 0, 0 },
	{ "5 days", 0, EC_TTL_DURATION, INT64_C(432000000000) },
	{ "5days", 0, EC_TTL_DURATION, INT64_C(432000000000) },
	{ "5 Days", 0, EC_TTL_DURATION, INT64_C(432000000000) },
	{ "5d", 0, EC_TTL_DURATION, INT64_C(432000000000) },
	{ "1 day", 0, EC_TTL_DURATION, INT64_C(86400000000) },
	{ "3d 2h 30m", 0, EC_TTL_DURATION, INT64_C(268200000000) },
	{ "3d2h30m", 0, EC_TTL_DURATION, INT64_C(268200000000) },
	{ "1h", 0, EC_TTL_DURATION, INT64_C(3600000000) },
	{ "2 hours", 0, EC_TTL_DURATION, INT64_C(7200000000) },
	{ "1 HOUR", 0, EC_TTL_DURATION, INT64_C(3600000000) },
	{ "90m", 0, EC_TTL_DURATION, INT64_C(5400000000) },
	{ "1 min", 0, EC_TTL_DURATION, INT64_C(60000000) },
	{ "2 mins", 0, EC_TTL_DURATION, INT64_C(120000000) },
	{ "1 minute", 0, EC_TTL_DURATION, INT64_C(60000000) },
	{ "10 minutes", 0, EC_TTL_DURATION, INT64_C(600000000) },
	{ "30s", 0, EC_TTL_DURATION, INT64_C(30000000) },
	{ "1 sec", 0, EC_TTL_DURATION, INT64_C(1000000) },
	{ "2 secs", 0, EC_TTL_DURATION, INT64_C(2000000) },
	{ "1 second", 0, EC_TTL_DURATION, INT64_C(1000000) },
	{ "45 seconds", 0, EC_TTL_DURATION, INT64_C(45000000) },
	{ "1d 1d", 0, EC_TTL_DURATION, INT64_C(172800000000) },
	{ "007d", 0, EC_TTL_DURATION, INT64_C(604800000000) },
	{ " 5 days ", 0, EC_TTL_DURATION, INT64_C(432000000000) },
	{ "5 \011 days", 0, EC_TTL_DURATION, INT64_C(432000000000) },
	{ "1d\0122h", 0, EC_TTL_DURATION, INT64_C(93600000000) },
	{ "1 d 2 h 3 m 4 s", 0, EC_TTL_DURATION, INT64_C(93784000000) },
	{ "1s1m1h1d", 0, EC_TTL_DURATION, INT64_C(90061000000) },
	{ "106751991d", 0, EC_TTL_DURATION, INT64_C(9223372022400000000) },
	{ "106751992d", -EC_ETTL, 0, 0 },
	{ "2562047788h", 0, EC_TTL_DURATION, INT64_C(9223372036800000000) },
	{ "2562047789h", -EC_ETTL, 0, 0 },
	{ "9223372036854s", 0, EC_TTL_DURATION, INT64_C(9223372036854000000) },
	{ "9223372036855s", -EC_ETTL, 0, 0 },
	{ "9223372036854775807s", -EC_ETTL, 0, 0 },
	{ "9223372036854775808s", -EC_ETTL, 0, 0 },
	{ "99999999999999999999d", -EC_ETTL, 0, 0 },
	{ "106751991d 4h", 0, EC_TTL_DURATION, INT64_C(9223372036800000000) },
	{ "106751991d 5h", -EC_ETTL, 0, 0 },
	{ "", -EC_ETTL, 0, 0 },
	{ " ", -EC_ETTL, 0, 0 },
	{ "\011\012", -EC_ETTL, 0, 0 },
	{ "5", -EC_ETTL, 0, 0 },
	{ "5 weeks", -EC_ETTL, 0, 0 },
	{ "5w", -EC_ETTL, 0, 0 },
	{ "-1d", -EC_ETTL, 0, 0 },
	{ "+1d", -EC_ETTL, 0, 0 },
	{ "1.5h", -EC_ETTL, 0, 0 },
	{ "1,5h", -EC_ETTL, 0, 0 },
	{ "d", -EC_ETTL, 0, 0 },
	{ "days", -EC_ETTL, 0, 0 },
	{ "5 days ago", -EC_ETTL, 0, 0 },
	{ "5 ms", -EC_ETTL, 0, 0 },
	{ "5 dayss", -EC_ETTL, 0, 0 },
	{ "1d,2h", -EC_ETTL, 0, 0 },
	{ "1d-2h", -EC_ETTL, 0, 0 },
	{ "1 hr", -EC_ETTL, 0, 0 },
	{ "5 mon", -EC_ETTL, 0, 0 },
	{ "h5", -EC_ETTL, 0, 0 },
	{ "5 d x", -EC_ETTL, 0, 0 },
	{ "x5d", -EC_ETTL, 0, 0 },
	{ "1\303\251d", -EC_ETTL, 0, 0 },
	{ "5\302\240d", -EC_ETTL, 0, 0 },
	{ "2026-02-07", 0, EC_TTL_ABSOLUTE, INT64_C(1770422400000000) },
	{ "2026-02-07T12:00:00+00:00",
	  0, EC_TTL_ABSOLUTE, INT64_C(1770465600000000) },
	{ " 2026-02-07T12:00:00Z ",
	  0, EC_TTL_ABSOLUTE, INT64_C(1770465600000000) },
	{ "20260207", 0, EC_TTL_ABSOLUTE, INT64_C(1770422400000000) },
	{ "2026-W06-6", 0, EC_TTL_ABSOLUTE, INT64_C(1770422400000000) },
	{ "2026-02-07T12:00:00+05:30",
	  0, EC_TTL_ABSOLUTE, INT64_C(1770445800000000) },
	{ "2026-02-30", -EC_ETTL, 0, 0 },
	{ "2026-02-07T25:00", -EC_ETTL, 0, 0 },
};

START_TEST(test_ttl_table)
{
	const char *text = ttl_cases[_i].text;
	struct ec_ttl t = { EC_TTL_ZERO, SENTINEL };
	int rc = ec_ttl_parse(text, &t);

	ck_assert_msg(rc == ttl_cases[_i].rc, "'%s': rc %d", text, rc);
	if (rc == 0) {
		ck_assert_msg(t.kind == ttl_cases[_i].kind, "'%s': kind %d",
			      text, (int)t.kind);
		ck_assert_msg(t.us == ttl_cases[_i].us, "'%s': %lld", text,
			      (long long)t.us);
	} else {
		ck_assert_msg(t.kind == EC_TTL_ZERO && t.us == SENTINEL,
			      "'%s': output written", text);
	}
}
END_TEST

START_TEST(test_ttl_default)
{
	struct ec_ttl t = ec_ttl_default(), p;

	ck_assert_int_eq(t.kind, EC_TTL_DURATION);
	ck_assert(t.us == 5 * DAY);
	ck_assert_int_eq(ec_ttl_parse("5 days", &p), 0);
	ck_assert_int_eq(p.kind, t.kind);
	ck_assert(p.us == t.us);
}
END_TEST

/* --- expiry and freshness ------------------------------------------------ */

#define T0 INT64_C(1770465600000000)	/* 2026-02-07T12:00:00Z */

static const struct ec_ttl inf = { EC_TTL_INFINITE, 0 };
static const struct ec_ttl zero = { EC_TTL_ZERO, 0 };
static const struct ec_ttl hour = { EC_TTL_DURATION, 3600 * SEC };
static const struct ec_ttl nodur = { EC_TTL_DURATION, 0 };
static const struct ec_ttl until = { EC_TTL_ABSOLUTE, T0 + DAY };

START_TEST(test_expiry_infinite)
{
	ck_assert(ec_ttl_expiry(&inf, T0, EC_TIME_NONE) == EC_TIME_NEVER);
	ck_assert(ec_ttl_expiry(&inf, EC_TIME_NONE, EC_TIME_NONE) ==
		  EC_TIME_NEVER);
	ck_assert(ec_ttl_is_fresh(&inf, EC_TIME_NONE, EC_TIME_NONE,
				  INT64_MAX));
	ck_assert(ec_ttl_is_fresh(&inf, T0, EC_TIME_NONE, INT64_MIN));
	/* oldest_valid still applies */
	ck_assert(ec_ttl_expiry(&inf, T0, T0) == EC_TIME_NEVER);
	ck_assert(ec_ttl_expiry(&inf, T0 - 1, T0) == EC_TIME_NONE);
	ck_assert(ec_ttl_is_fresh(&inf, T0, T0, T0 + 1000 * DAY));
	ck_assert(!ec_ttl_is_fresh(&inf, T0 - 1, T0, T0));
	/* ... to entries that have a created_at: one without stays valid
	 * (the module compares only a created_at it has) */
	ck_assert(ec_ttl_expiry(&inf, EC_TIME_NONE, T0) == EC_TIME_NEVER);
	ck_assert(ec_ttl_is_fresh(&inf, EC_TIME_NONE, T0, T0));
}
END_TEST

START_TEST(test_expiry_zero)
{
	ck_assert(ec_ttl_expiry(&zero, T0, EC_TIME_NONE) == EC_TIME_NONE);
	ck_assert(ec_ttl_expiry(&zero, T0, T0) == EC_TIME_NONE);
	ck_assert(!ec_ttl_is_fresh(&zero, T0, EC_TIME_NONE, T0));
	ck_assert(!ec_ttl_is_fresh(&zero, T0, EC_TIME_NONE, T0 - DAY));
	/* stale even at the earliest representable now */
	ck_assert(!ec_ttl_is_fresh(&zero, T0, EC_TIME_NONE, INT64_MIN));
	ck_assert(!ec_ttl_is_fresh(&zero, EC_TIME_NONE, EC_TIME_NONE,
				   INT64_MIN));
}
END_TEST

START_TEST(test_expiry_duration)
{
	int64_t e = T0 + 3600 * SEC;

	ck_assert(ec_ttl_expiry(&hour, T0, EC_TIME_NONE) == e);
	ck_assert(ec_ttl_is_fresh(&hour, T0, EC_TIME_NONE, T0));
	ck_assert(ec_ttl_is_fresh(&hour, T0, EC_TIME_NONE, e));
	ck_assert(!ec_ttl_is_fresh(&hour, T0, EC_TIME_NONE, e + 1));
	/* created in the future: fresh now, as Python compares */
	ck_assert(ec_ttl_is_fresh(&hour, T0 + DAY, EC_TIME_NONE, T0));
	/* "0s": fresh only at the instant of creation */
	ck_assert(ec_ttl_expiry(&nodur, T0, EC_TIME_NONE) == T0);
	ck_assert(ec_ttl_is_fresh(&nodur, T0, EC_TIME_NONE, T0));
	ck_assert(!ec_ttl_is_fresh(&nodur, T0, EC_TIME_NONE, T0 + 1));
	/* no created_at: stale under any finite duration */
	ck_assert(ec_ttl_expiry(&hour, EC_TIME_NONE, EC_TIME_NONE) ==
		  EC_TIME_NONE);
	ck_assert(!ec_ttl_is_fresh(&hour, EC_TIME_NONE, EC_TIME_NONE,
				   INT64_MIN));
	/* oldest_valid boundaries */
	ck_assert(ec_ttl_expiry(&hour, T0, T0) == e);
	ck_assert(ec_ttl_is_fresh(&hour, T0, T0, e));
	ck_assert(ec_ttl_expiry(&hour, T0 - 1, T0) == EC_TIME_NONE);
	ck_assert(!ec_ttl_is_fresh(&hour, T0 - 1, T0, T0));
	ck_assert(ec_ttl_expiry(&hour, EC_TIME_NONE, T0) == EC_TIME_NONE);
}
END_TEST

START_TEST(test_expiry_absolute_missing)
{
	/* an absolute expiry never looks at created_at: one that is
	 * missing is valid until the expiry, oldest_valid set or not */
	ck_assert(ec_ttl_expiry(&until, EC_TIME_NONE, EC_TIME_NONE) ==
		  T0 + DAY);
	ck_assert(ec_ttl_expiry(&until, EC_TIME_NONE, T0) == T0 + DAY);
	ck_assert(ec_ttl_is_fresh(&until, EC_TIME_NONE, T0, T0 + DAY));
	ck_assert(!ec_ttl_is_fresh(&until, EC_TIME_NONE, T0, T0 + DAY + 1));
	ck_assert(ec_ttl_expiry(&until, T0 - 1, T0) == EC_TIME_NONE);
}
END_TEST

START_TEST(test_reads_created)
{
	/* where an unparseable created_at makes an entry invalid */
	ck_assert(ec_ttl_reads_created(&hour, EC_TIME_NONE));
	ck_assert(ec_ttl_reads_created(&nodur, EC_TIME_NONE));
	ck_assert(ec_ttl_reads_created(&inf, T0));
	ck_assert(ec_ttl_reads_created(&until, T0));
	ck_assert(ec_ttl_reads_created(&hour, T0));
	ck_assert(!ec_ttl_reads_created(&inf, EC_TIME_NONE));
	ck_assert(!ec_ttl_reads_created(&until, EC_TIME_NONE));
	ck_assert(!ec_ttl_reads_created(&zero, EC_TIME_NONE));
}
END_TEST

START_TEST(test_expiry_saturates)
{
	struct ec_ttl big = { EC_TTL_DURATION, INT64_MAX };
	struct ec_ttl back = { EC_TTL_DURATION, -100 };

	ck_assert(ec_ttl_expiry(&hour, INT64_MAX - 3600 * SEC,
				EC_TIME_NONE) == INT64_MAX);
	ck_assert(ec_ttl_expiry(&hour, INT64_MAX - 3600 * SEC + 1,
				EC_TIME_NONE) == INT64_MAX);
	ck_assert(ec_ttl_expiry(&hour, INT64_MAX - 3600 * SEC - 1,
				EC_TIME_NONE) == INT64_MAX - 1);
	ck_assert(ec_ttl_expiry(&big, T0, EC_TIME_NONE) == EC_TIME_NEVER);
	ck_assert(ec_ttl_expiry(&big, 1, EC_TIME_NONE) == EC_TIME_NEVER);
	ck_assert(ec_ttl_expiry(&big, 0, EC_TIME_NONE) == INT64_MAX);
	ck_assert(ec_ttl_expiry(&big, -1, EC_TIME_NONE) == INT64_MAX - 1);
	ck_assert(ec_ttl_is_fresh(&big, T0, EC_TIME_NONE, INT64_MAX));
	/* a hand-made negative duration saturates downwards */
	ck_assert(ec_ttl_expiry(&back, INT64_MIN + 50, EC_TIME_NONE) ==
		  INT64_MIN);
	ck_assert(ec_ttl_expiry(&back, INT64_MIN + 101, EC_TIME_NONE) ==
		  INT64_MIN + 1);
	ck_assert(ec_ttl_expiry(&back, T0, EC_TIME_NONE) == T0 - 100);
}
END_TEST

START_TEST(test_expiry_absolute)
{
	int64_t e = T0 + DAY;

	ck_assert(ec_ttl_expiry(&until, T0, EC_TIME_NONE) == e);
	/* created_at does not matter without oldest_valid */
	ck_assert(ec_ttl_expiry(&until, EC_TIME_NONE, EC_TIME_NONE) == e);
	ck_assert(ec_ttl_expiry(&until, e + DAY, EC_TIME_NONE) == e);
	ck_assert(ec_ttl_is_fresh(&until, EC_TIME_NONE, EC_TIME_NONE, e));
	ck_assert(!ec_ttl_is_fresh(&until, EC_TIME_NONE, EC_TIME_NONE,
				   e + 1));
	ck_assert(ec_ttl_expiry(&until, T0, T0) == e);
	ck_assert(ec_ttl_is_fresh(&until, T0, T0, e));
	ck_assert(ec_ttl_expiry(&until, T0 - 1, T0) == EC_TIME_NONE);
}
END_TEST

/* From text, as cli and fs use it: created_at and TTL both parsed. */
START_TEST(test_expiry_from_text)
{
	struct ec_ttl t;
	int64_t created, oldest, now;

	ck_assert_int_eq(ec_time_parse_iso("2026-11-21T23:47:39.814634+00:00",
					   &created), 0);
	ck_assert_int_eq(ec_ttl_parse("3d 2h 30m", &t), 0);
	ck_assert_int_eq(ec_time_parse_iso("2026-11-25T02:17:39.814634Z",
					   &now), 0);
	ck_assert(ec_ttl_is_fresh(&t, created, EC_TIME_NONE, now));
	ck_assert(!ec_ttl_is_fresh(&t, created, EC_TIME_NONE, now + 1));
	ck_assert_int_eq(ec_time_parse_iso("2026-11-21T23:47:39.814635",
					   &oldest), 0);
	ck_assert(!ec_ttl_is_fresh(&t, created, oldest, now));
	ck_assert_int_eq(ec_ttl_parse(" 2026-11-22T00:00:00+01:00 ", &t), 0);
	ck_assert_int_eq(t.kind, EC_TTL_ABSOLUTE);
	ck_assert_int_eq(ec_time_parse_iso("2026-11-21T23:00:00Z", &now), 0);
	ck_assert(ec_ttl_is_fresh(&t, created, EC_TIME_NONE, now));
	ck_assert(!ec_ttl_is_fresh(&t, created, EC_TIME_NONE, now + 1));
}
END_TEST

/* A kind outside the enum is a caller's bug: abort, not an answer. */
START_TEST(test_expiry_bad_kind)
{
	struct ec_ttl t = { (enum ec_ttl_kind)42, 0 };

	(void)ec_ttl_expiry(&t, T0, EC_TIME_NONE);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *ttl_suite(bool can_fork)
{
	Suite *s = suite_create("ttl");
	TCase *tc;

	tc = tcase_create("iso_parse");
	tcase_set_timeout(tc, 120);	/* every day of 9999 years */
	tcase_add_loop_test(tc, test_iso_table, 0, N(iso_cases));
	tcase_add_test(tc, test_iso_bad_utf8_separator);
	tcase_add_test(tc, test_iso_every_day);
	suite_add_tcase(s, tc);

	tc = tcase_create("iso_format");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_format_table, 0, N(fmt_cases));
	tcase_add_test(tc, test_format_extremes);
	tcase_add_test(tc, test_format_roundtrip);
	suite_add_tcase(s, tc);

	tc = tcase_create("ttl_parse");
	tcase_add_loop_test(tc, test_ttl_table, 0, N(ttl_cases));
	tcase_add_test(tc, test_ttl_default);
	suite_add_tcase(s, tc);

	tc = tcase_create("expiry");
	tcase_add_test(tc, test_expiry_infinite);
	tcase_add_test(tc, test_expiry_zero);
	tcase_add_test(tc, test_expiry_duration);
	tcase_add_test(tc, test_expiry_saturates);
	tcase_add_test(tc, test_expiry_absolute);
	tcase_add_test(tc, test_expiry_absolute_missing);
	tcase_add_test(tc, test_reads_created);
	tcase_add_test(tc, test_expiry_from_text);
	if (can_fork)		/* an abort would end a CK_FORK=no run */
		tcase_add_test_raise_signal(tc, test_expiry_bad_kind,
					    SIGABRT);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ec_test_run(ttl_suite(ec_test_forking()));
}
