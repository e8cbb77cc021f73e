/* table: aligned text columns, as `enccache ls` prints them. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"

void ec_table_init(struct ec_table *t, size_t ncols,
		   const char *const *titles)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	t->titles = titles;
}

void ec_table_add(struct ec_table *t, const char *const *cells)
{
	size_t i;

	if (t->nrows == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 16;
		t->cells = ec_xrealloc(t->cells,
				       t->cap * t->ncols * sizeof(*t->cells));
	}
	for (i = 0; i < t->ncols; i++) {
		struct ec_buf b = { 0 };

		ec_buf_add_printable(&b, cells[i] && *cells[i] ? cells[i] :
				     "-");
		t->cells[t->nrows * t->ncols + i] = b.p;
	}
	t->nrows++;
}

/* Display width: UTF-8 code points (continuation bytes do not count). */
static size_t text_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

static void pad(struct ec_buf *out, size_t from, size_t to)
{
	for (; from < to; from++)
		ec_buf_addc(out, ' ');
}

void ec_table_render(const struct ec_table *t, struct ec_buf *out)
{
	size_t *width = calloc(t->ncols, sizeof(*width));
	size_t r, i, first = t->titles ? 0 : 1;

	if (!width)
		ec_oom();
	for (i = 0; i < t->ncols; i++)
		width[i] = t->titles ? text_width(t->titles[i]) : 0;
	for (r = 0; r < t->nrows * t->ncols; r++) {
		size_t w = text_width(t->cells[r]);

		if (w > width[r % t->ncols])
			width[r % t->ncols] = w;
	}
	for (r = first; r <= t->nrows; r++) {
		for (i = 0; i < t->ncols; i++) {
			const char *v = r == 0 ? t->titles[i] :
					t->cells[(r - 1) * t->ncols + i];
			size_t w = text_width(v);
			bool last = i + 1 == t->ncols;

			if ((t->right & (1u << i)) && r > 0) {
				pad(out, w, width[i]);
				ec_buf_adds(out, v);
			} else {
				ec_buf_adds(out, v);
				if (!last)
					pad(out, w, width[i]);
			}
			if (!last)
				ec_buf_adds(out, "  ");
		}
		ec_buf_addc(out, '\n');
	}
	free(width);
}

void ec_table_release(struct ec_table *t)
{
	size_t i;

	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}
