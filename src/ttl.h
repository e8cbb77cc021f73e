/*
 * ttl: ISO-8601 times and TTL rules.  Pure functions: no I/O, no clock;
 * the caller passes `now`.  Times are microseconds since 1970-01-01 UTC.
 */
#ifndef EC_TTL_H
#define EC_TTL_H

#include <stdbool.h>
#include <stdint.h>

#define EC_TIME_NEVER INT64_MAX	/* expiry of an entry that never expires */
#define EC_TIME_NONE INT64_MIN	/* no time: a missing created_at, no
				   oldest_valid, or "always stale" expiry */
#define EC_TIME_ISO_MAX 40	/* buffer for ec_time_format_iso() */

/*
 * Parse text the way Python's datetime.fromisoformat() (3.11) reads it:
 * YYYY-MM-DD or YYYYMMDD (or a week date YYYY-Www[-D], YYYYWww[D]),
 * optionally any one (UTF-8) character and a time HH[:MM[:SS[.f+]]] (or
 * the basic HHMMSS forms, `,` as decimal mark, fraction truncated to
 * microseconds), optionally `Z` or an offset +HH[:MM[:SS[.ffffff]]].
 * Naive text is taken as UTC.  -EC_ETIME, *us untouched, when it is not
 * such a date-time or is out of range (years 1..9999, no 24:00).  Exactly
 * the texts 3.11 accepts, its quirks too (e.g. "12:34:56:78" has .78
 * seconds); an offset may move the instant just outside years 1..9999.
 */
int ec_time_parse_iso(const char *text, int64_t *us)
	__attribute__((warn_unused_result));

/* Format as Python's datetime.isoformat() of a UTC-aware datetime:
 * 2026-11-21T23:47:39.814634+00:00, the fraction only when non-zero.
 * Any int64 works: outside years 1..9999 (where Python raises) the year
 * has as many digits as it needs and a `-` when negative. */
void ec_time_format_iso(int64_t us, char out[EC_TIME_ISO_MAX]);

/* Same instant with a `Z` suffix (for plist dates in JSON views):
 * 2026-02-07T12:00:00Z, or with .ffffff when microseconds are non-zero. */
void ec_time_format_iso_z(int64_t us, char out[EC_TIME_ISO_MAX]);

enum ec_ttl_kind {
	EC_TTL_INFINITE,	/* never expires */
	EC_TTL_ZERO,		/* always stale */
	EC_TTL_DURATION,	/* us = duration after created_at */
	EC_TTL_ABSOLUTE,	/* us = expiry instant */
};

struct ec_ttl {
	enum ec_ttl_kind kind;
	int64_t us;
};

/*
 * Parse a TTL as FORMAT.md lists the forms: "inf"/"infinite"/"forever"/
 * "none" (any case, surrounding white space ignored), "0", ISO-8601
 * date-time text (tried first), or a duration ("5 days", "3d 2h 30m";
 * "0s" is a zero duration).  White space means ASCII white space.
 * -EC_ETTL otherwise, also when a duration overflows; *ttl untouched.
 */
int ec_ttl_parse(const char *text, struct ec_ttl *ttl)
	__attribute__((warn_unused_result));

/* The default TTL, "5 days". */
struct ec_ttl ec_ttl_default(void);

/*
 * The last instant at which an entry is valid (valid iff now <= expiry):
 * EC_TIME_NEVER when it never expires, EC_TIME_NONE when it is always
 * stale.  created_us and oldest_us may be EC_TIME_NONE (absent).  An entry
 * with no created_at is stale under a finite duration, and valid under a
 * TTL that never expires or an absolute expiry, oldest_us or not (the
 * module compares created_at with oldest_valid only when it has one);
 * created_us < oldest_us makes it stale.  Saturates, never overflows.
 */
int64_t ec_ttl_expiry(const struct ec_ttl *ttl, int64_t created_us,
		      int64_t oldest_us);

/* now <= ec_ttl_expiry(...), and never when that is EC_TIME_NONE */
bool ec_ttl_is_fresh(const struct ec_ttl *ttl, int64_t created_us,
		     int64_t oldest_us, int64_t now_us);

/*
 * Whether an entry's created_at is read under ttl and oldest_us, so that
 * one present but unparseable makes the entry not valid (the module
 * raises): under a duration, and whenever oldest_us is set.  Otherwise (a
 * TTL that never expires, an absolute expiry, "0") the module never
 * parses created_at, and an unparseable one counts as missing.
 */
bool ec_ttl_reads_created(const struct ec_ttl *ttl, int64_t oldest_us);

#endif
