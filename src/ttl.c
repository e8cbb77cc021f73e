/*
 * ttl: ISO-8601 times and TTL rules.  Pure functions: no I/O, no clock,
 * no locale, no TZ; all calendar arithmetic is done here on integers.
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "ttl.h"

#define US_PER_SEC INT64_C(1000000)
#define US_PER_MIN (60 * US_PER_SEC)
#define US_PER_HOUR (3600 * US_PER_SEC)
#define US_PER_DAY (86400 * US_PER_SEC)

/* Days from 1970-01-01 to 0001-01-01 and to 9999-12-31. */
#define DAYS_MIN INT64_C(-719162)
#define DAYS_MAX INT64_C(2932896)

/* ------------------------------------------------------------------ */
/* Proleptic Gregorian calendar                                        */

static bool is_leap(int64_t y)
{
	return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

static int days_in_month(int64_t y, int m)
{
	static const int dim[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if (a % b != 0 && (a < 0) != (b < 0))
		q--;
	return q;
}

/*
 * Days since 1970-01-01 of y-m-d (m 1..12, d 1..31).  Counts in 400-year
 * cycles of 146097 days, with years starting on March 1 so that the leap
 * day is the last day of its year.
 */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	if (m <= 2)
		y--;
	era = floor_div(y, 400);
	yoe = y - era * 400;			/* 0..399 */
	/* day of the year from March 1, 0..365 */
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;	/* 0..146096 */
	/* 719468 days from 0000-03-01 to 1970-01-01 */
	return era * 146097 + doe - 719468;
}

/* Inverse of days_from_civil(). */
static void civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
	int64_t z = days + 719468;
	int64_t era = floor_div(z, 146097);
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;	/* 0 = March */

	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* Day of the week, Monday = 0 (1970-01-01 was a Thursday). */
static int weekday(int64_t days)
{
	return (int)(days - 7 * floor_div(days + 3, 7) + 3);
}

/*
 * Day number of ISO week date year-Wweek-wday, as Python 3.11 checks it:
 * week 53 only in years starting on a Thursday, or leap years starting on
 * a Wednesday; the result must still lie in years 1..9999.
 */
static bool days_from_isoweek(int year, int week, int wday, int64_t *days)
{
	int64_t jan1, jan4, day;

	if (year < 1 || wday < 1 || wday > 7 || week < 1 || week > 53)
		return false;
	jan1 = days_from_civil(year, 1, 1);
	if (week == 53 && weekday(jan1) != 3 &&
	    !(weekday(jan1) == 2 && is_leap(year)))
		return false;
	jan4 = jan1 + 3;
	day = jan4 - weekday(jan4) + (week - 1) * 7 + (wday - 1);
	if (day < DAYS_MIN || day > DAYS_MAX)
		return false;
	*days = day;
	return true;
}

/* ------------------------------------------------------------------ */
/* Parsing, after CPython 3.11's C datetime.fromisoformat()            */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* n digits at s as a number; false unless all n are digits */
static bool get_digits(const char *s, size_t n, int *value)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*value = v;
	return true;
}

/* Length of the valid UTF-8 character at s[0..n), or 0. */
static size_t utf8_char_len(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;

	if (n == 0)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;		/* overlong */
	else if (s[0] == 0xed)
		hi = 0x9f;		/* surrogates */
	else if (s[0] == 0xf0)
		lo = 0x90;		/* overlong */
	else if (s[0] == 0xf4)
		hi = 0x8f;		/* above U+10FFFF */
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/*
 * Where the date ends and the one-character separator starts, by the rules
 * of 3.11: YYYY-MM-DD and YYYY-Www-D end at 10, YYYYMMDD, YYYY-Www and
 * YYYYWwwD at 8, YYYYWww at 7.  With a week date the separator may itself
 * be a digit or `-`, so the choice looks ahead.  -1 when there is none.
 */
static ptrdiff_t date_end(const char *s, size_t n)
{
	size_t i;

	if (n == 7)
		return 7;
	if (s[4] == '-') {
		if (s[5] != 'W')
			return 10;
		if (n > 8 && s[8] == '-') {
			if (n == 9)
				return -1;
			return n > 10 && is_digit(s[10]) ? 8 : 10;
		}
		return 8;
	}
	if (s[4] != 'W')
		return 8;
	for (i = 7; i < n && is_digit(s[i]); i++)
		;
	if (i < 9)
		return (ptrdiff_t)i;
	return i % 2 == 0 ? 7 : 8;
}

/* The date in s[0..n): days since 1970-01-01, or false. */
static bool parse_date(const char *s, size_t n, int64_t *days)
{
	int year, month, day, week, wday = 1;
	bool dash = s[4] == '-';	/* n >= 7 */
	size_t p = 4 + dash;

	if (!get_digits(s, 4, &year))
		return false;
	if (s[p] == 'W') {
		if (p + 3 > n || !get_digits(s + p + 1, 2, &week))
			return false;
		p += 3;
		if (p < n) {
			if (dash && s[p++] != '-')
				return false;
			if (p >= n || !get_digits(s + p, 1, &wday))
				return false;
		}
		return days_from_isoweek(year, week, wday, days);
	}
	if (p + 2 > n || !get_digits(s + p, 2, &month))
		return false;
	p += 2;
	if (dash && (p >= n || s[p++] != '-'))
		return false;
	if (p + 2 > n || !get_digits(s + p, 2, &day))
		return false;
	if (year < 1 || month < 1 || month > 12 || day < 1 ||
	    day > days_in_month(year, month))
		return false;
	*days = days_from_civil(year, month, day);
	return true;
}

struct hms {
	int h, m, s, us;
	bool clean;		/* the text ended exactly at its end */
};

/*
 * HH[[:]MM[[:]SS]][{.,}fraction] in s[0..e), as 3.11 reads it, quirks
 * included: after SS a third `:` (HH:MM:SS:ff) or nothing (HHMMSSff) also
 * starts the fraction, which is read to 6 digits with further digits
 * skipped, and a stray last character only clears `clean` (3.11 ignores
 * it before an offset).  No range checks.  False when malformed.
 */
static bool parse_hms(const char *s, size_t e, struct hms *t)
{
	int *field[3] = { &t->h, &t->m, &t->s };
	bool colon = false;
	size_t p = 0, q, n;

	t->h = t->m = t->s = t->us = 0;
	for (int i = 0; i < 3; i++) {
		if (p + 2 > e || !get_digits(s + p, 2, field[i]))
			return false;
		q = p + 2;		/* the character after the digits */
		if (i == 0)
			colon = q < e && s[q] == ':';
		if (q + 1 >= e) {
			t->clean = q == e;
			return true;
		}
		if (colon && s[q] == ':') {
			p = q + 1;
		} else if (s[q] == '.' || s[q] == ',') {
			p = q + 1;
			break;
		} else if (!colon) {
			p = q;
		} else {
			return false;
		}
	}
	n = e - p < 6 ? e - p : 6;	/* e - p >= 1 here */
	if (!get_digits(s + p, n, &t->us))
		return false;
	for (size_t i = n; i < 6; i++)
		t->us *= 10;
	for (p += n; p < e && is_digit(s[p]); p++)
		;
	t->clean = p == e;
	return true;
}

/* A time and optional offset in s[0..n): microseconds to add to the date. */
static bool parse_time(const char *s, size_t n, int64_t *us)
{
	struct hms t, z;
	int64_t off = 0;
	size_t tz;

	if (n == 0)
		return false;
	for (tz = 0; tz < n; tz++)
		if (s[tz] == 'Z' || s[tz] == '+' || s[tz] == '-')
			break;
	if (!parse_hms(s, tz, &t))
		return false;
	if (tz == n) {
		if (!t.clean)
			return false;
	} else if (s[tz] == 'Z') {
		if (tz + 1 != n)
			return false;
	} else {
		if (!parse_hms(s + tz + 1, n - tz - 1, &z) || !z.clean)
			return false;
		off = z.h * INT64_C(3600) + z.m * 60 + z.s;
		/* 3.11 takes a whole-second offset of 0 as UTC, fraction
		 * or not */
		if (off != 0)
			off = off * US_PER_SEC + z.us;
		if (s[tz] == '-')
			off = -off;
		if (off <= -US_PER_DAY || off >= US_PER_DAY)
			return false;
	}
	if (t.h > 23 || t.m > 59 || t.s > 59)
		return false;
	*us = t.h * US_PER_HOUR + t.m * US_PER_MIN + t.s * US_PER_SEC + t.us -
	      off;
	return true;
}

/* The ISO-8601 text s[0..n) (no NUL inside) as an instant. */
static bool parse_iso(const char *s, size_t n, int64_t *us)
{
	int64_t days, tod = 0;
	ptrdiff_t end;
	size_t sep;

	if (n < 7)
		return false;
	end = date_end(s, n);
	if (end < 0 || (size_t)end > n || !parse_date(s, (size_t)end, &days))
		return false;
	if ((size_t)end < n) {
		/* any one character separates, as in 3.11 */
		sep = utf8_char_len((const unsigned char *)s + end,
				    n - (size_t)end);
		if (sep == 0 || !parse_time(s + end + sep,
					    n - (size_t)end - sep, &tod))
			return false;
	}
	*us = days * US_PER_DAY + tod;
	return true;
}

int ec_time_parse_iso(const char *text, int64_t *us)
{
	int64_t v;

	if (!parse_iso(text, strlen(text), &v))
		return -EC_ETIME;
	*us = v;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Formatting                                                          */

/* v (>= 0) in decimal, at least `width` digits, at p; returns the end */
static char *put_uint(char *p, uint64_t v, int width)
{
	char digits[20];
	int n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (width-- > n)
		*p++ = '0';
	while (n > 0)
		*p++ = digits[--n];
	return p;
}

static void format_iso(int64_t us, char out[EC_TIME_ISO_MAX],
		       const char *suffix)
{
	int64_t days = us / US_PER_DAY, tod = us % US_PER_DAY, y, sec;
	int m, d, frac;
	char *p = out;

	if (tod < 0) {
		tod += US_PER_DAY;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	sec = tod / US_PER_SEC;
	frac = (int)(tod % US_PER_SEC);
	/* Outside 1..9999, where Python raises, the year takes the digits
	 * it needs, with a sign when negative (|y| < 300000: fits). */
	if (y < 0)
		*p++ = '-';
	p = put_uint(p, (uint64_t)(y < 0 ? -y : y), 4);
	*p++ = '-';
	p = put_uint(p, (uint64_t)m, 2);
	*p++ = '-';
	p = put_uint(p, (uint64_t)d, 2);
	*p++ = 'T';
	p = put_uint(p, (uint64_t)(sec / 3600), 2);
	*p++ = ':';
	p = put_uint(p, (uint64_t)(sec / 60 % 60), 2);
	*p++ = ':';
	p = put_uint(p, (uint64_t)(sec % 60), 2);
	if (frac != 0) {
		*p++ = '.';
		p = put_uint(p, (uint64_t)frac, 6);
	}
	strcpy(p, suffix);
}

void ec_time_format_iso(int64_t us, char out[EC_TIME_ISO_MAX])
{
	format_iso(us, out, "+00:00");
}

void ec_time_format_iso_z(int64_t us, char out[EC_TIME_ISO_MAX])
{
	format_iso(us, out, "Z");
}

/* ------------------------------------------------------------------ */
/* TTL                                                                 */

static bool is_space(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* s[0..n) equals the lower-case word w, ignoring case */
static bool word_is(const char *s, size_t n, const char *w)
{
	if (strlen(w) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(s[i]) != w[i])
			return false;
	return true;
}

/* Microseconds per unit named s[0..n), or 0. */
static int64_t unit_us(const char *s, size_t n)
{
	static const struct {
		const char *name;
		int64_t us;
	} units[] = {
		{ "d", US_PER_DAY }, { "day", US_PER_DAY },
		{ "days", US_PER_DAY },
		{ "h", US_PER_HOUR }, { "hour", US_PER_HOUR },
		{ "hours", US_PER_HOUR },
		{ "m", US_PER_MIN }, { "min", US_PER_MIN },
		{ "mins", US_PER_MIN }, { "minute", US_PER_MIN },
		{ "minutes", US_PER_MIN },
		{ "s", US_PER_SEC }, { "sec", US_PER_SEC },
		{ "secs", US_PER_SEC }, { "second", US_PER_SEC },
		{ "seconds", US_PER_SEC },
	};

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (word_is(s, n, units[i].name))
			return units[i].us;
	return 0;
}

/* "<int>[ ]<unit>" tokens in s[0..n) (n > 0, no outer space), summed. */
static bool parse_duration(const char *s, size_t n, int64_t *us)
{
	int64_t total = 0, count, per;
	size_t p = 0, u;

	while (p < n) {
		if (!is_digit(s[p]))
			return false;
		for (count = 0; p < n && is_digit(s[p]); p++) {
			if (count > (INT64_MAX - (s[p] - '0')) / 10)
				return false;
			count = count * 10 + (s[p] - '0');
		}
		while (p < n && is_space(s[p]))
			p++;
		for (u = p; p < n && is_alpha(s[p]); p++)
			;
		per = unit_us(s + u, p - u);
		if (per == 0 || count > INT64_MAX / per ||
		    total > INT64_MAX - count * per)
			return false;
		total += count * per;
		while (p < n && is_space(s[p]))
			p++;
	}
	*us = total;
	return true;
}

int ec_ttl_parse(const char *text, struct ec_ttl *ttl)
{
	const char *s = text;
	size_t n = strlen(text);
	int64_t v;

	while (n > 0 && is_space(s[0])) {
		s++;
		n--;
	}
	while (n > 0 && is_space(s[n - 1]))
		n--;
	if (n == 0)
		return -EC_ETTL;
	if (parse_iso(s, n, &v)) {
		ttl->kind = EC_TTL_ABSOLUTE;
		ttl->us = v;
	} else if (word_is(s, n, "inf") || word_is(s, n, "infinite") ||
		   word_is(s, n, "forever") || word_is(s, n, "none")) {
		ttl->kind = EC_TTL_INFINITE;
		ttl->us = 0;
	} else if (n == 1 && s[0] == '0') {
		ttl->kind = EC_TTL_ZERO;
		ttl->us = 0;
	} else if (parse_duration(s, n, &v)) {
		ttl->kind = EC_TTL_DURATION;
		ttl->us = v;
	} else {
		return -EC_ETTL;
	}
	return 0;
}

struct ec_ttl ec_ttl_default(void)
{
	struct ec_ttl ttl = { EC_TTL_DURATION, 5 * US_PER_DAY };

	return ttl;
}

static int64_t add_saturating(int64_t a, int64_t b)
{
	if (b > 0 && a > INT64_MAX - b)
		return INT64_MAX;
	if (b < 0 && a < INT64_MIN - b)
		return INT64_MIN;
	return a + b;
}

int64_t ec_ttl_expiry(const struct ec_ttl *ttl, int64_t created_us,
		      int64_t oldest_us)
{
	if (oldest_us != EC_TIME_NONE && created_us != EC_TIME_NONE &&
	    created_us < oldest_us)
		return EC_TIME_NONE;
	switch (ttl->kind) {
	case EC_TTL_INFINITE:
		return EC_TIME_NEVER;
	case EC_TTL_ZERO:
		return EC_TIME_NONE;
	case EC_TTL_DURATION:
		if (created_us == EC_TIME_NONE)
			return EC_TIME_NONE;
		return add_saturating(created_us, ttl->us);
	case EC_TTL_ABSOLUTE:
		return ttl->us;
	}
	abort();		/* not a kind: a caller's bug */
}

bool ec_ttl_is_fresh(const struct ec_ttl *ttl, int64_t created_us,
		     int64_t oldest_us, int64_t now_us)
{
	int64_t expiry = ec_ttl_expiry(ttl, created_us, oldest_us);

	return expiry != EC_TIME_NONE && now_us <= expiry;
}

bool ec_ttl_reads_created(const struct ec_ttl *ttl, int64_t oldest_us)
{
	return ttl->kind == EC_TTL_DURATION || oldest_us != EC_TIME_NONE;
}
