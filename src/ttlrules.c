/*
 * ttlrules: per-id TTL rules, parsed from text and matched against ids.
 * Pure: no I/O, no clock.  The format is in ttlrules.h.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "ttl.h"
#include "ttlrules.h"

/* ------------------------------------------------------------------ */
/* Patterns                                                            */

enum tk {
	T_CHAR,		/* c */
	T_ANY,		/* ? : one character but '/' */
	T_CLASS,	/* [...] : one character of the class, never '/' */
	T_STAR,		/* * : any run without '/' */
	T_DSTAR,	/* ** : any run */
	T_DSTAR_SLASH,	/* ** then '/', at a component's start: "" or any
			   run that ends with '/'; always followed by ... */
	T_DSTAR_MID,	/* ... its state inside such a run (no epsilon) */
};

struct token {
	enum tk kind;
	char c;
	const char *cls;	/* T_CLASS: the text after '[' */
};

/* The end of the class whose text starts at p (after '['): the ']'
 * that closes it, or NULL. */
static const char *class_end(const char *p)
{
	if (*p == '!' || *p == '^')
		p++;
	if (*p == ']')
		p++;			/* a leading ']' is literal */
	for (; *p; p++) {
		if (*p == '\\') {
			if (!p[1])
				return NULL;
			p++;
		} else if (*p == ']') {
			return p;
		}
	}
	return NULL;
}

/* Whether c is in the class whose text starts at p (after '['). */
static bool class_has(const char *p, char c)
{
	bool neg = false, in = false, first = true;
	unsigned char lo, hi;

	if (*p == '!' || *p == '^') {
		neg = true;
		p++;
	}
	while (*p && (first || *p != ']')) {
		first = false;
		if (*p == '\\' && p[1])
			p++;
		lo = (unsigned char)*p++;
		hi = lo;
		if (p[0] == '-' && p[1] && p[1] != ']') {
			p++;
			if (*p == '\\' && p[1])
				p++;
			hi = (unsigned char)*p++;
		}
		if ((unsigned char)c >= lo && (unsigned char)c <= hi)
			in = true;
	}
	return c != '/' && in != neg;
}

const char *ec_ttl_pattern_check(const char *pattern)
{
	const char *p;

	if (!*pattern)
		return "empty pattern";
	if (strlen(pattern) > EC_TTL_PATTERN_MAX)
		return "longer than 1024 bytes";
	if (*pattern == '/')
		return "starts with '/' (ids are relative)";
	for (p = pattern; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return "has a control character";
		if (*p == '\\') {
			if (!p[1])
				return "ends with '\\'";
			p++;
		} else if (*p == '[') {
			p = class_end(p + 1);
			if (!p)
				return "unterminated '['";
		} else if (p[0] == '*' && p[1] == '*' && p[2] == '*') {
			return "'***' (use '*' or '**')";
		}
	}
	return NULL;
}

/* pattern (valid) as tokens into t (room for strlen(pattern)); count. */
static size_t compile(const char *pattern, struct token *t)
{
	const char *p = pattern;
	size_t n = 0;

	while (*p) {
		struct token *k = &t[n++];

		if (*p == '\\') {
			k->kind = T_CHAR;
			k->c = p[1];
			p += 2;
		} else if (*p == '?') {
			k->kind = T_ANY;
			p++;
		} else if (*p == '[') {
			k->kind = T_CLASS;
			k->cls = p + 1;
			p = class_end(p + 1) + 1;
		} else if (p[0] == '*' && p[1] == '*') {
			bool start = p == pattern || p[-1] == '/';

			if (start && p[2] == '/') {
				k->kind = T_DSTAR_SLASH;
				t[n++].kind = T_DSTAR_MID;
				p += 3;
			} else {
				k->kind = T_DSTAR;
				p += 2;
			}
		} else if (*p == '*') {
			k->kind = T_STAR;
			p++;
		} else {
			k->kind = T_CHAR;
			k->c = *p++;
		}
	}
	return n;
}

/* The states reached from set without reading a character (stars may
 * match nothing; **-slash skips its inside state); every such move goes
 * forward, so one pass does. */
static void closure(const struct token *t, size_t n, bool *set)
{
	for (size_t i = 0; i < n; i++) {
		if (!set[i])
			continue;
		if (t[i].kind == T_STAR || t[i].kind == T_DSTAR)
			set[i + 1] = true;
		else if (t[i].kind == T_DSTAR_SLASH)
			set[i + 2] = true;
	}
}

#define SMALL 128	/* patterns up to this long are matched without malloc */

bool ec_ttl_pattern_match(const char *pattern, const char *id)
{
	struct token small_t[SMALL];
	bool small_s[2 * (SMALL + 1)];
	size_t plen = strlen(pattern), n, i;
	struct token *t = small_t;
	bool *cur = small_s, *next, *tmp, ok = false;

	/* A pattern's tokens never outnumber its bytes; two state sets of
	 * n + 1.  On the stack for the usual short pattern. */
	if (plen > SMALL) {
		t = malloc(plen * sizeof(*t) + 2 * (plen + 1) * sizeof(bool));
		if (!t)
			return false;
		cur = (bool *)(void *)(t + plen);
	}
	next = cur + plen + 1;
	n = compile(pattern, t);
	memset(cur, 0, (n + 1) * sizeof(bool));
	cur[0] = true;
	closure(t, n, cur);
	for (; *id; id++) {
		char c = *id;
		bool any = false;

		memset(next, 0, (n + 1) * sizeof(bool));
		for (i = 0; i < n; i++) {
			if (!cur[i])
				continue;
			switch (t[i].kind) {
			case T_CHAR:
				next[i + 1] |= t[i].c == c;
				break;
			case T_ANY:
				next[i + 1] |= c != '/';
				break;
			case T_CLASS:
				next[i + 1] |= class_has(t[i].cls, c);
				break;
			case T_STAR:
				next[i] |= c != '/';
				break;
			case T_DSTAR:
				next[i] = true;
				break;
			case T_DSTAR_SLASH:	/* i + 1 is its inside */
				next[i + 1] = true;
				next[i + 2] |= c == '/';
				break;
			case T_DSTAR_MID:
				next[i] = true;
				next[i + 1] |= c == '/';
				break;
			}
		}
		closure(t, n, next);
		for (i = 0; i <= n; i++)
			any |= next[i];
		tmp = cur;
		cur = next;
		next = tmp;
		if (!any)
			break;
	}
	ok = !*id && cur[n];
	if (t != small_t)
		free(t);
	return ok;
}

const struct ec_ttl_rule *ec_ttl_rules_match(const struct ec_ttl_rules *r,
					     const char *id)
{
	if (!r)
		return NULL;
	for (size_t i = 0; i < r->n; i++)
		if (ec_ttl_pattern_match(r->v[i].pattern, id))
			return &r->v[i];
	return NULL;
}

/* ------------------------------------------------------------------ */
/* The text                                                            */

void ec_ttl_rules_init(struct ec_ttl_rules *r)
{
	r->v = NULL;
	r->n = 0;
}

void ec_ttl_rules_release(struct ec_ttl_rules *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i].pattern);
	free(r->v);
	ec_ttl_rules_init(r);
}

int ec_ttl_rules_copy(struct ec_ttl_rules *dst, const struct ec_ttl_rules *src)
{
	ec_ttl_rules_init(dst);
	if (!src || src->n == 0)
		return 0;
	dst->v = calloc(src->n, sizeof(*dst->v));
	if (!dst->v)
		return -ENOMEM;
	for (size_t i = 0; i < src->n; i++) {
		dst->v[i] = src->v[i];
		dst->v[i].pattern = strdup(src->v[i].pattern);
		dst->n = i + 1;
		if (!dst->v[i].pattern) {
			ec_ttl_rules_release(dst);
			return -ENOMEM;
		}
	}
	return 0;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

__attribute__((format(printf, 3, 4)))
static int refuse(struct ec_ttl_rules_error *err, unsigned line,
		  const char *fmt, ...)
{
	va_list ap;

	err->line = line;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* The words of a line after its pattern: s[0..n), split at blanks, up to
 * a word that starts with '#'. */
struct words {
	const char *w[64];
	size_t len[64];
	size_t n;
};

static bool split_words(const char *s, size_t n, struct words *w)
{
	size_t p = 0, q;

	w->n = 0;
	for (;;) {
		while (p < n && is_blank(s[p]))
			p++;
		if (p == n || s[p] == '#')
			return true;
		for (q = p; q < n && !is_blank(s[q]); q++)
			;
		if (w->n == sizeof(w->w) / sizeof(w->w[0]))
			return false;
		w->w[w->n] = s + p;
		w->len[w->n++] = q - p;
		p = q;
	}
}

/* A short copy of s[0..n) for a message. */
static const char *shown(const char *s, size_t n, char *buf, size_t size)
{
	snprintf(buf, size, "%.*s%s", (int)(n < size - 4 ? n : size - 4), s,
		 n < size - 4 ? "" : "...");
	return buf;
}

/* The fields of a rule (oldest_valid=...), words[from..). */
static int parse_fields(const struct words *w, size_t from,
			struct ec_ttl_rule *r, unsigned line,
			struct ec_ttl_rules_error *err)
{
	char text[128], b[64];

	for (size_t i = from; i < w->n; i++) {
		const char *eq = memchr(w->w[i], '=', w->len[i]);
		size_t name = eq ? (size_t)(eq - w->w[i]) : 0;
		size_t vlen = eq ? w->len[i] - name - 1 : 0;

		if (!eq)
			return refuse(err, line, "unexpected '%s' after the "
				      "fields (the ttl comes before them)",
				      shown(w->w[i], w->len[i], b, sizeof(b)));
		if (name != 12 || memcmp(w->w[i], "oldest_valid", 12) != 0)
			return refuse(err, line, "unknown field '%s' (the one "
				      "field is oldest_valid=)",
				      shown(w->w[i], name, b, sizeof(b)));
		if (r->has_oldest)
			return refuse(err, line, "oldest_valid= given twice");
		if (vlen >= sizeof(text))
			return refuse(err, line, "bad oldest_valid '%s': %s",
				      shown(eq + 1, vlen, b, sizeof(b)),
				      ec_strerror(-EC_ETIME));
		memcpy(text, eq + 1, vlen);
		text[vlen] = '\0';
		r->has_oldest = true;
		r->oldest_us = EC_TIME_NONE;
		if (strcmp(text, "none") != 0 &&
		    ec_time_parse_iso(text, &r->oldest_us) != 0)
			return refuse(err, line, "bad oldest_valid '%s': %s",
				      shown(text, vlen, b, sizeof(b)),
				      ec_strerror(-EC_ETIME));
	}
	return 0;
}

/* The TTL: words[0..nttl) joined by one space. */
static int parse_ttl_words(const struct words *w, size_t nttl,
			   struct ec_ttl_rule *r, unsigned line,
			   struct ec_ttl_rules_error *err)
{
	char text[256], b[96];
	size_t at = 0;

	for (size_t i = 0; i < nttl; i++) {
		if (at + w->len[i] + 2 > sizeof(text))
			return refuse(err, line, "bad ttl: too long");
		if (i)
			text[at++] = ' ';
		memcpy(text + at, w->w[i], w->len[i]);
		at += w->len[i];
	}
	text[at] = '\0';
	if (ec_ttl_parse(text, &r->ttl) != 0)
		return refuse(err, line, "bad ttl '%s': %s",
			      shown(text, at, b, sizeof(b)),
			      ec_strerror(-EC_ETTL));
	return 0;
}

/* One line s[0..n) (no newline) into r, or 1 when it holds no rule. */
static int parse_line(const char *s, size_t n, unsigned line,
		      struct ec_ttl_rule *r, struct ec_ttl_rules_error *err)
{
	char pat[EC_TTL_PATTERN_MAX + 1], b[96];
	struct words w;
	const char *why;
	size_t p = 0, q, plen, nttl;
	int rc;

	while (p < n && is_blank(s[p]))
		p++;
	if (p == n || s[p] == '#')
		return 1;
	for (q = p; q < n && !is_blank(s[q]); q++)
		if (s[q] == '\\' && q + 1 < n)
			q++;
	plen = q - p;
	if (plen > EC_TTL_PATTERN_MAX)
		return refuse(err, line, "bad pattern '%s': longer than 1024 "
			      "bytes", shown(s + p, plen, b, sizeof(b)));
	memcpy(pat, s + p, plen);
	pat[plen] = '\0';
	why = ec_ttl_pattern_check(pat);
	if (why)
		return refuse(err, line, "bad pattern '%s': %s",
			      shown(pat, plen, b, sizeof(b)), why);
	if (!split_words(s + q, n - q, &w))
		return refuse(err, line, "too many words");
	for (nttl = 0; nttl < w.n && !memchr(w.w[nttl], '=', w.len[nttl]);
	     nttl++)
		;
	if (nttl == 0)
		return refuse(err, line, "pattern '%s' has no ttl",
			      shown(pat, plen, b, sizeof(b)));
	memset(r, 0, sizeof(*r));
	r->oldest_us = EC_TIME_NONE;
	r->line = line;
	rc = parse_ttl_words(&w, nttl, r, line, err);
	if (!rc)
		rc = parse_fields(&w, nttl, r, line, err);
	if (rc)
		return rc;
	r->pattern = strdup(pat);
	return r->pattern ? 0 : -ENOMEM;
}

int ec_ttl_rules_parse(const char *text, size_t len, struct ec_ttl_rules *out,
		       struct ec_ttl_rules_error *err)
{
	size_t p = 0, cap = 0;
	unsigned line = 0;
	int rc;

	ec_ttl_rules_init(out);
	err->line = 0;
	err->msg[0] = '\0';
	while (p < len) {
		const char *nl = memchr(text + p, '\n', len - p);
		size_t e = nl ? (size_t)(nl - text) : len;
		struct ec_ttl_rule r;

		line++;
		if (memchr(text + p, '\0', e - p))
			return refuse(err, line, "has a NUL byte");
		rc = parse_line(text + p, e - p, line, &r, err);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			if (out->n == cap) {
				struct ec_ttl_rule *v;

				cap = cap ? 2 * cap : 8;
				v = realloc(out->v, cap * sizeof(*v));
				if (!v) {
					free(r.pattern);
					return -ENOMEM;
				}
				out->v = v;
			}
			out->v[out->n++] = r;
		}
		p = e + 1;
	}
	return 0;
}
