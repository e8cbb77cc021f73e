/* buf: a plain heap text buffer for enccache's output (never secrets). */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

void ec_oom(void)
{
	static const char msg[] = "enccache: out of memory\n";

	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
		/* nothing more we can do */
	}
	exit(EXIT_IO);
}

void *ec_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q)
		ec_oom();
	return q;
}

char *ec_xstrdup(const char *s)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		ec_oom();
	return d;
}

void ec_buf_add(struct ec_buf *b, const void *data, size_t n)
{
	if (b->cap - b->len <= n) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap - b->len <= n) {
			if (cap > SIZE_MAX / 2)
				ec_oom();
			cap *= 2;
		}
		b->p = ec_xrealloc(b->p, cap);
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void ec_buf_adds(struct ec_buf *b, const char *s)
{
	ec_buf_add(b, s, strlen(s));
}

void ec_buf_addc(struct ec_buf *b, char c)
{
	ec_buf_add(b, &c, 1);
}

void ec_buf_addf(struct ec_buf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		ec_buf_add(b, small, (size_t)n);
		return;
	}
	{
		char *big = malloc((size_t)n + 1);

		if (!big)
			ec_oom();
		va_start(ap, fmt);
		vsnprintf(big, (size_t)n + 1, fmt, ap);
		va_end(ap);
		ec_buf_add(b, big, (size_t)n);
		free(big);
	}
}

void ec_buf_release(struct ec_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* Control characters become \xNN, so a name or comment can never break
 * a line or send escape sequences to a terminal. */
void ec_buf_add_printable(struct ec_buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f)
			ec_buf_addf(b, "\\x%02x", c);
		else
			ec_buf_addc(b, (char)c);
	}
}
