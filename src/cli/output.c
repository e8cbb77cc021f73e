/* output: one-line errors, writing standard output, summary lines. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"
#include "startup.h"

const char *ec_errtext(int err)
{
	static char text[EC_STARTUP_ERRTEXT_MAX];

	return ec_startup_errtext(err, text, sizeof(text));
}

/* "<prefix><message>\n" on stderr, the message printable. */
static void say(const char *prefix, const char *fmt, va_list ap)
{
	struct ec_buf line = { 0 };
	char *msg = NULL;

	if (vasprintf(&msg, fmt, ap) < 0)
		ec_oom();
	ec_buf_adds(&line, prefix);
	ec_buf_add_printable(&line, msg);
	ec_buf_addc(&line, '\n');
	(void)ec_store_write_all(STDERR_FILENO, line.p, line.len);
	free(msg);
	ec_buf_release(&line);
}

void ec_complain(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say("enccache: ", fmt, ap);
	va_end(ap);
}

int ec_flush_stdout(const void *data, size_t len)
{
	int rc = ec_store_write_all(STDOUT_FILENO, data, len);

	if (rc < 0) {
		ec_complain("cannot write to standard output: %s",
			    ec_errtext(rc));
		return EXIT_IO;
	}
	return 0;
}

void ec_summary(const struct ec_opts *o, const char *fmt, ...)
{
	va_list ap;

	if (o->quiet || o->json)
		return;
	va_start(ap, fmt);
	say("", fmt, ap);
	va_end(ap);
}
