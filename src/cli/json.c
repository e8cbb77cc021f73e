/* json: JSON strings and a small writer for enccache's --json output. */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void ec_buf_add_json(struct ec_buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t left;

	if (!s) {
		ec_buf_adds(b, "null");
		return;
	}
	left = strlen(s);
	ec_buf_addc(b, '"');
	while (left > 0) {
		size_t n;

		switch (*p) {
		case '"':  ec_buf_adds(b, "\\\""); n = 1; break;
		case '\\': ec_buf_adds(b, "\\\\"); n = 1; break;
		case '\b': ec_buf_adds(b, "\\b"); n = 1; break;
		case '\f': ec_buf_adds(b, "\\f"); n = 1; break;
		case '\n': ec_buf_adds(b, "\\n"); n = 1; break;
		case '\r': ec_buf_adds(b, "\\r"); n = 1; break;
		case '\t': ec_buf_adds(b, "\\t"); n = 1; break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				ec_buf_addf(b, "\\u%04x", *p);
				n = 1;
			} else if ((n = ec_view_utf8_len(p, left)) == 0) {
				ec_buf_adds(b, "\\ufffd");
				n = 1;
			} else {
				ec_buf_add(b, p, n);
			}
			break;
		}
		p += n;
		left -= n;
	}
	ec_buf_addc(b, '"');
}

void ec_jw_init(struct ec_jw *w, struct ec_buf *b)
{
	memset(w, 0, sizeof(*w));
	w->b = b;
}

/* What comes before a value or a key at the current depth. */
static void sep(struct ec_jw *w)
{
	unsigned d = w->depth;

	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (d == 0)
		return;
	if (w->lines[d])
		ec_buf_adds(w->b, w->items[d] ? ",\n " : "\n ");
	else if (w->items[d])
		ec_buf_adds(w->b, ", ");
	w->items[d] = true;
}

void ec_jw_open(struct ec_jw *w, char c)
{
	sep(w);
	ec_buf_addc(w->b, c);
	if (++w->depth >= EC_JW_DEPTH)
		abort();	/* deeper than any output of ours: a bug */
	w->kind[w->depth] = c;
	w->items[w->depth] = false;
	w->lines[w->depth] = false;
}

void ec_jw_open_lines(struct ec_jw *w)
{
	ec_jw_open(w, '[');
	w->lines[w->depth] = true;
}

void ec_jw_close(struct ec_jw *w)
{
	unsigned d = w->depth;

	if (w->lines[d] && w->items[d])
		ec_buf_addc(w->b, '\n');
	ec_buf_addc(w->b, w->kind[d] == '{' ? '}' : ']');
	w->depth--;
}

void ec_jw_key(struct ec_jw *w, const char *name)
{
	sep(w);
	ec_buf_add_json(w->b, name);
	ec_buf_adds(w->b, ": ");
	w->after_key = true;
}

void ec_jw_str(struct ec_jw *w, const char *s)
{
	sep(w);
	ec_buf_add_json(w->b, s);
}

void ec_jw_uint(struct ec_jw *w, uint64_t v)
{
	sep(w);
	ec_buf_addf(w->b, "%" PRIu64, v);
}

void ec_jw_bool(struct ec_jw *w, bool v)
{
	sep(w);
	ec_buf_adds(w->b, v ? "true" : "false");
}

void ec_jw_null(struct ec_jw *w)
{
	sep(w);
	ec_buf_adds(w->b, "null");
}

void ec_jw_time(struct ec_jw *w, int64_t us)
{
	char iso[EC_TIME_ISO_MAX];

	if (us == EC_TIME_NONE || us == EC_TIME_NEVER) {
		ec_jw_null(w);
		return;
	}
	ec_time_format_iso(us, iso);
	ec_jw_str(w, iso);
}

void ec_buf_add_label(struct ec_buf *b, const char *s)
{
	ec_buf_addc(b, '"');
	for (; *s; s++) {
		if (*s == '\\')
			ec_buf_adds(b, "\\\\");
		else if (*s == '"')
			ec_buf_adds(b, "\\\"");
		else if (*s == '\n')
			ec_buf_adds(b, "\\n");
		else
			ec_buf_addc(b, *s);
	}
	ec_buf_addc(b, '"');
}
