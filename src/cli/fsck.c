/*
 * fsck: read, authenticate (HMAC) and unpack every envelope on every
 * core; count them by state and name each one that is neither valid nor
 * stale, with its reason.  Exit 1 when one is corrupt, tampered or
 * unreadable (not for salt-mismatch or unknown-key: those are envelopes
 * for other keys, as a shared cache holds them).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "store.h"

struct bad {
	char *id;
	unsigned slot;
	char *reason;
};

struct fsck {
	const struct ec_cache *c;
	int64_t now;
	size_t count[EC_CLI_NSTATES];
	size_t total;
	struct bad *bad;
	size_t nbad, capbad;
	size_t temps, old_temps;
};

static int fsck_cb(void *ctx, const char *id, struct ec_entry *e)
{
	struct fsck *f = ctx;
	int reason;
	enum ec_state st = ec_entry_verdict(f->c, e, f->now, &reason);
	unsigned slot = ec_cli_state_slot(st, reason);
	struct bad *b;

	f->count[slot]++;
	f->total++;
	if (st == EC_STATE_VALID || st == EC_STATE_STALE)
		return 0;
	if (f->nbad == f->capbad) {
		f->capbad = f->capbad ? 2 * f->capbad : 16;
		f->bad = ec_xrealloc(f->bad, f->capbad * sizeof(*f->bad));
	}
	b = &f->bad[f->nbad++];
	b->id = ec_xstrdup(id);
	b->slot = slot;
	b->reason = ec_cli_reason(f->c, e, f->now);
	return 0;
}

static int temp_cb(void *ctx, const char *path, const struct stat *st)
{
	struct fsck *f = ctx;
	int64_t mtime = ec_cli_mtime_us(st);

	(void)path;
	f->temps++;
	if (mtime < f->now - EC_CLI_TEMP_AGE_US)
		f->old_temps++;
	return 0;
}

/* Whether anything is damaged: corrupt, tampered, unreadable. */
static bool damaged(const struct fsck *f)
{
	return f->count[EC_STATE_CORRUPT] || f->count[EC_STATE_TAMPERED] ||
	       f->count[EC_CLI_UNREADABLE];
}

static void fsck_text(const struct fsck *f, struct ec_buf *out)
{
	static const char *const titles[] = { "STATE", "ID", "REASON" };
	struct ec_table t;
	unsigned s;
	size_t i;

	if (f->nbad) {
		ec_table_init(&t, 3, titles);
		for (i = 0; i < f->nbad; i++) {
			const char *cells[3] = {
				ec_cli_state_word(f->bad[i].slot),
				f->bad[i].id, f->bad[i].reason,
			};

			ec_table_add(&t, cells);
		}
		ec_table_render(&t, out);
		ec_table_release(&t);
	}
	ec_buf_addf(out, "fsck: %zu envelope%s:", f->total,
		    f->total == 1 ? "" : "s");
	for (s = 0; s < EC_CLI_NSTATES; s++)
		ec_buf_addf(out, "%s %zu %s", s ? "," : "", f->count[s],
			    ec_cli_state_word(s));
	ec_buf_addf(out, "; %zu temp file%s (%zu older than 5 minutes)\n",
		    f->temps, f->temps == 1 ? "" : "s", f->old_temps);
	ec_buf_adds(out, damaged(f) ? "fsck: damage found\n" : "fsck: ok\n");
}

static void fsck_json(const struct ec_opts *o, const struct fsck *f,
		      struct ec_buf *out)
{
	struct ec_jw w;
	unsigned s;
	size_t i;

	ec_jw_init(&w, out);
	ec_jw_open(&w, '{');
	ec_jw_key(&w, "dir");
	ec_jw_str(&w, ec_cli_dir(o));
	ec_jw_key(&w, "ok");
	ec_jw_bool(&w, !damaged(f));
	ec_jw_key(&w, "envelopes");
	ec_jw_uint(&w, f->total);
	ec_jw_key(&w, "states");
	ec_jw_open(&w, '{');
	for (s = 0; s < EC_CLI_NSTATES; s++) {
		ec_jw_key(&w, ec_cli_state_word(s));
		ec_jw_uint(&w, f->count[s]);
	}
	ec_jw_close(&w);
	ec_jw_key(&w, "temp_files");
	ec_jw_uint(&w, f->temps);
	ec_jw_key(&w, "old_temp_files");
	ec_jw_uint(&w, f->old_temps);
	ec_jw_key(&w, "bad");
	ec_jw_open_lines(&w);
	for (i = 0; i < f->nbad; i++) {
		ec_jw_open(&w, '{');
		ec_jw_key(&w, "id");
		ec_jw_str(&w, f->bad[i].id);
		ec_jw_key(&w, "state");
		ec_jw_str(&w, ec_cli_state_word(f->bad[i].slot));
		ec_jw_key(&w, "reason");
		ec_jw_str(&w, f->bad[i].reason);
		ec_jw_close(&w);
	}
	ec_jw_close(&w);
	ec_jw_close(&w);
	ec_buf_addc(out, '\n');
}

int ec_cmd_fsck(struct ec_opts *o, int argc, char **args)
{
	struct ec_cache *c = NULL;
	struct ec_buf out = { 0 };
	struct fsck f;
	size_t i;
	int ret;

	(void)argc;
	(void)args;
	memset(&f, 0, sizeof(f));
	ret = ec_cli_open(o, false, &c);
	if (ret)
		goto out;
	f.c = c;
	f.now = ec_clock_now_us();
	/* No EC_LOAD_DATA: every token is still authenticated, decrypted
	 * and its payload unpacked; only the plaintext is not kept. */
	ret = ec_cli_scan(o, c, 0, f.now, "fsck", fsck_cb, &f);
	if (ret)
		goto out;
	ret = ec_cli_walk_temps(o, c, temp_cb, &f);
	if (ret)
		goto out;
	if (o->json)
		fsck_json(o, &f, &out);
	else
		fsck_text(&f, &out);
	ret = ec_flush_stdout(out.p, out.len);
	if (!ret && damaged(&f))
		ret = EXIT_INVALID;
out:
	for (i = 0; i < f.nbad; i++) {
		free(f.bad[i].id);
		free(f.bad[i].reason);
	}
	free(f.bad);
	ec_buf_release(&out);
	ec_cache_free(c);
	return ret;
}
