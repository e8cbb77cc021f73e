/*
 * export: chosen entries (ids, globs, or every valid one) as plaintext
 * with their metadata on stdout, a pax tar archive or JSON lines
 * (archive.h).  The stream is written as it is made, from guarded
 * memory; an error stops it with one line saying where.
 */
#include "config.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive.h"
#include "cli.h"
#include "error.h"
#include "secure.h"

#define FLUSH_AT (1u << 20)

struct export {
	const struct ec_opts *o;
	const struct ec_cache *c;
	const struct ec_idlist *ids;
	const bool *named;	/* per id: asked for by name (not a glob) */
	enum ec_archive_format format;
	int64_t now;
	struct ec_sbuf out;	/* plaintext: guarded */
	struct ec_progress p;
	size_t done, skipped;
	uint64_t bytes;
	int ret;
};

static bool is_glob(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

/* What to export: every listed id matching an argument (an id, or a
 * glob where '*' also matches '/'), or every id when there is none.
 * Named ids that do not exist are reported; 0 or an exit code. */
static int select_ids(const struct ec_opts *o, const struct ec_cache *c,
		      const struct ec_idlist *args, struct ec_idlist *out,
		      bool **named)
{
	struct ec_scan_ids all;
	bool *used = calloc(args->n ? args->n : 1, sizeof(*used));
	size_t i, j;
	int ret;

	memset(out, 0, sizeof(*out));
	*named = NULL;
	if (!used)
		ec_oom();
	ret = ec_cli_list(o, c, &all);
	if (ret) {
		free(used);
		return ret;
	}
	for (i = 0; i < all.n; i++) {
		bool take = args->n == 0, by_name = false;

		for (j = 0; j < args->n; j++) {
			bool glob = is_glob(args->ids[j]);

			if (glob ? fnmatch(args->ids[j], all.ids[i], 0) == 0 :
			    strcmp(args->ids[j], all.ids[i]) == 0) {
				take = used[j] = true;
				by_name = by_name || !glob;
			}
		}
		if (!take)
			continue;
		ec_idlist_add(out, all.ids[i]);
		*named = ec_xrealloc(*named, out->n * sizeof(**named));
		(*named)[out->n - 1] = by_name;
	}
	for (j = 0; j < args->n; j++)
		if (!used[j]) {
			ec_complain("cannot export '%s': %s", args->ids[j],
				    is_glob(args->ids[j]) ?
				    "no entry matches" : "no such entry");
			ret = EXIT_INVALID;
		}
	free(used);
	ec_scan_ids_release(&all);
	return ret;
}

static int flush(struct export *x)
{
	int rc = ec_store_write_all(STDOUT_FILENO, x->out.p, x->out.len);

	if (ec_sbuf_resize(&x->out, 0) < 0)	/* wipes; keeps the room */
		ec_oom();
	if (rc < 0) {
		ec_complain("cannot write to standard output: %s (after %zu "
			    "entries)", ec_errtext(rc), x->done);
		return EXIT_IO;
	}
	return 0;
}

/* One loaded entry into the stream, when it is valid (or stale with
 * --stale-ok); the others are skipped, and reported when named. */
static int export_cb(void *ctx, size_t i, int err, struct ec_entry *e)
{
	struct export *x = ctx;
	const char *id = x->ids->ids[i];
	enum ec_state st = err ? EC_STATE_CORRUPT :
			   ec_entry_verdict(x->c, e, x->now, NULL);
	struct ec_record r;
	int rc;

	ec_progress_tick(&x->p, i + 1);
	if (err || !(st == EC_STATE_VALID ||
		     (st == EC_STATE_STALE && x->o->stale_ok)) ||
	    (e->len && !e->data)) {
		char *why = ec_cli_why(x->c, err, e, x->now);

		if (x->named[i]) {
			ec_complain("cannot export '%s': %s", id,
				    why ? why : "data not available");
			x->ret = ec_worse(x->ret, EXIT_INVALID);
		}
		x->skipped++;
		free(why);
		return 0;
	}
	memset(&r, 0, sizeof(r));
	r.id = (char *)id;
	r.key = e->env.key;
	r.created_at = e->env.created_at;
	r.comment = e->env.comment;
	r.validasof = e->validasof;
	r.data = e->data;
	r.len = e->len;
	rc = x->format == EC_ARCHIVE_TAR ?
	     ec_archive_put_tar(&x->out, &r, e->created_us) :
	     ec_archive_put_jsonl(&x->out, &r);
	if (rc == -EC_EUTF8) {
		ec_complain("cannot export '%s': its id or metadata is not "
			    "UTF-8, which JSON cannot hold (use --format tar)",
			    id);
		x->ret = ec_worse(x->ret, EXIT_INVALID);
		return 0;
	}
	if (rc < 0)
		ec_oom();
	x->done++;
	x->bytes += e->len;
	return x->out.len >= FLUSH_AT ? flush(x) : 0;
}

static int export_run(struct export *x)
{
	int rc;

	ec_progress_start(&x->p, x->o, "export", x->ids->n);
	rc = ec_cli_load(x->o, x->c, (const char *const *)x->ids->ids,
			 x->ids->n, EC_LOAD_DATA |
			 (x->o->stale_ok ? EC_LOAD_STALE_OK : 0), x->now,
			 export_cb, x);
	ec_progress_end(&x->p);
	if (rc < 0)
		ec_oom();
	if (rc)
		return rc;
	if (x->format == EC_ARCHIVE_TAR && ec_archive_put_tar_end(&x->out) < 0)
		ec_oom();
	return flush(x);
}

int ec_cmd_export(struct ec_opts *o, int argc, char **args)
{
	struct export x = { .o = o, .out = EC_SBUF_INIT };
	struct ec_idlist asked, ids = { 0 };
	struct ec_cache *c = NULL;
	bool *named = NULL;
	int ret, rc;

	x.format = EC_ARCHIVE_TAR;
	if (o->json && o->format_text && !strcmp(o->format_text, "tar")) {
		ec_complain("--json and --format tar cannot be used together");
		return EXIT_USAGE;
	}
	if (o->json || (o->format_text && !strcmp(o->format_text, "jsonl")))
		x.format = EC_ARCHIVE_JSONL;
	if (x.format == EC_ARCHIVE_TAR && isatty(STDOUT_FILENO)) {
		ec_complain("refusing to write a tar archive to a terminal "
			    "(redirect standard output, or use --format "
			    "jsonl)");
		return EXIT_USAGE;
	}
	ret = ec_cli_ids(o, argc, args, &asked);
	if (ret)
		return ret;
	ret = ec_cli_open(o, false, &c);
	if (!ret)
		ret = select_ids(o, c, &asked, &ids, &named);
	if (c && ret != EXIT_IO) {
		x.c = c;
		x.ids = &ids;
		x.named = named;
		x.now = ec_clock_now_us();
		x.ret = ret;
		rc = export_run(&x);
		ret = ec_worse(x.ret, rc);
		if (rc == EXIT_IO)
			;	/* the one line said where it stopped */
		else if (x.skipped)
			ec_summary(o, "export: %zu entries (%llu bytes of "
				   "data); skipped %zu not valid (see "
				   "'enccache ls --all')", x.done,
				   (unsigned long long)x.bytes, x.skipped);
		else
			ec_summary(o, "export: %zu entries (%llu bytes of "
				   "data)", x.done,
				   (unsigned long long)x.bytes);
	}
	ec_sbuf_release(&x.out);
	free(named);
	ec_idlist_release(&ids);
	ec_idlist_release(&asked);
	ec_cache_free(c);
	return ret;
}
