/*
 * progress: "fsck: 4100/10000 entries (41%), 2050/s, ETA 3s" on stderr,
 * redrawn in place, only when stderr is a terminal (never in a pipe, a
 * log or with --quiet), and only once a run has taken half a second.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define FIRST_US 500000		/* quiet for short runs */
#define EVERY_US 200000		/* redraws a second: 5 */

void ec_progress_start(struct ec_progress *p, const struct ec_opts *o,
		       const char *what, size_t total)
{
	memset(p, 0, sizeof(*p));
	p->what = what;
	p->unit = "entries";
	p->total = total;
	p->on = !o->quiet && isatty(STDERR_FILENO);
	p->start_us = ec_clock_now_us();
	p->next_us = p->start_us + FIRST_US;
}

static void draw(struct ec_progress *p, int64_t now)
{
	struct ec_buf line = { 0 };
	double secs = (double)(now - p->start_us) / 1e6;
	double rate = secs > 0 ? (double)p->done / secs : 0;

	ec_buf_addf(&line, "\r%s: ", p->what);
	if (p->total)
		ec_buf_addf(&line, "%zu/%zu %s (%zu%%)", p->done, p->total,
			    p->unit, p->done * 100 / p->total);
	else
		ec_buf_addf(&line, "%zu %s", p->done, p->unit);
	ec_buf_addf(&line, ", %.0f/s", rate);
	if (p->total && rate > 0 && p->done < p->total)
		ec_buf_addf(&line, ", ETA %.0fs",
			    (double)(p->total - p->done) / rate);
	ec_buf_adds(&line, "\033[K");
	(void)ec_store_write_all(STDERR_FILENO, line.p, line.len);
	ec_buf_release(&line);
	p->shown = true;
}

void ec_progress_tick(struct ec_progress *p, size_t done)
{
	int64_t now;

	p->done = done;
	if (!p->on)
		return;
	now = ec_clock_now_us();
	if (now < p->next_us)
		return;
	p->next_us = now + EVERY_US;
	draw(p, now);
}

void ec_progress_end(struct ec_progress *p)
{
	static const char erase[] = "\r\033[K";

	if (p->shown)
		(void)ec_store_write_all(STDERR_FILENO, erase,
					 sizeof(erase) - 1);
	p->shown = false;
	p->on = false;
}
