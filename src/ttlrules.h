/*
 * ttlrules: per-id TTL rules (enccache --ttl-rules, enccachefs -o
 * ttl_rules=).  Pure: no I/O, no clock; the caller reads the file and
 * hands over its text (ec_startup_read_rules() does, for both front
 * ends).
 *
 * The text, one rule a line:
 *
 *	# comment
 *	PATTERN  TTL  [oldest_valid=TIME|none]  [# comment]
 *
 * PATTERN is the first field (white space in it escaped as `\ `); it is
 * matched against the whole cache id: `*` is any run of characters but
 * `/`, `?` one character but `/`, `[abc]`, `[a-z]`, `[!a-z]` (or `[^...]`)
 * one character of a class (never `/`), `**` any run including `/`, and
 * `**` followed by `/` at the start of a component (a/ then `**`, or a
 * leading `**` + `/`) also matches no component at all: a/, `**`, /b
 * written as one pattern matches a/b and a/x/y/b.  `\` takes the next
 * character literally.  TTL is what ec_ttl_parse() reads ("2h", "3d 12h",
 * "inf", "0", an ISO-8601 instant), spaces allowed.  oldest_valid= is an
 * ISO-8601 time without spaces (use `T`), or `none`; without it the
 * global oldest_valid applies.  The first rule whose pattern matches an
 * id gives its TTL; an id no rule matches gets the global TTL.
 */
#ifndef EC_TTLRULES_H
#define EC_TTLRULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ttl.h"

#define EC_TTL_PATTERN_MAX 1024	/* longest pattern, in bytes */
#define EC_TTL_RULES_MSG_MAX 256	/* room for any error text below */

struct ec_ttl_rule {
	char *pattern;		/* malloc'd, as written (escapes kept) */
	struct ec_ttl ttl;
	bool has_oldest;	/* false: the global oldest_valid applies */
	int64_t oldest_us;	/* with has_oldest; EC_TIME_NONE: "none" */
	unsigned line;		/* where it was written, from 1 */
};

struct ec_ttl_rules {
	struct ec_ttl_rule *v;	/* malloc'd array of n */
	size_t n;
};

/* Where and why a text was refused. */
struct ec_ttl_rules_error {
	unsigned line;		/* from 1 */
	char msg[EC_TTL_RULES_MSG_MAX];	/* "bad ttl 'x': ...", no line */
};

void ec_ttl_rules_init(struct ec_ttl_rules *r);
void ec_ttl_rules_release(struct ec_ttl_rules *r);

/*
 * Parse text[0..len) (NULs refused) into *out (initialised here; release
 * it with ec_ttl_rules_release(), also after a failure).  -EINVAL with
 * *err saying which line is wrong and how: a bad pattern, a missing or
 * bad TTL, a bad time, an unknown field, a NUL byte.  -ENOMEM.  No I/O.
 */
int ec_ttl_rules_parse(const char *text, size_t len, struct ec_ttl_rules *out,
		       struct ec_ttl_rules_error *err)
	__attribute__((warn_unused_result));

/* A deep copy of src (NULL: none) into *dst (initialised here). -ENOMEM
 * with *dst empty. */
int ec_ttl_rules_copy(struct ec_ttl_rules *dst, const struct ec_ttl_rules *src)
	__attribute__((warn_unused_result));

/*
 * Whether pattern (valid: ec_ttl_pattern_check() said so) matches the
 * whole of id.  Time linear in strlen(id) * strlen(pattern), whatever the
 * stars.  No I/O.
 */
bool ec_ttl_pattern_match(const char *pattern, const char *id);

/* NULL when pattern is a valid pattern, else why not ("unterminated
 * '['", ...; static text). */
const char *ec_ttl_pattern_check(const char *pattern);

/* The first rule of r (may be NULL) whose pattern matches id, or NULL.
 * Borrowed from r. */
const struct ec_ttl_rule *ec_ttl_rules_match(const struct ec_ttl_rules *r,
					     const char *id);

#endif
