/*
 * import: the entries of an export (tar or JSON lines, from a file or
 * stdin) saved into the cache, each with the atomic save, keeping key
 * name (or --key), comment, created_at and validasof.  A malformed
 * archive stops the import at that point (the entries before it are
 * saved, complete); so does an I/O error such as a full disk.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "archive.h"
#include "cli.h"
#include "error.h"
#include "store.h"

struct import {
	const struct ec_opts *o;
	const struct ec_cache *c;
	const char *name;		/* the file, or "standard input" */
	struct ec_progress p;
	size_t saved, failed, skipped;
	uint64_t bytes;
	bool stop;			/* the input or the disk failed: the
					   one line said so, no summary */
};

/* The exit status and message of a failed save of r. */
static int save_failed(struct import *im, const struct ec_record *r,
		       const char *key, int rc)
{
	if (rc == -EC_EKEY && key) {
		ec_complain("cannot import '%s': unknown key name '%s' (not "
			    "in the secrets file; use --key)", r->id, key);
		return EXIT_CONFIG;
	}
	if (rc == -EC_EKEY) {
		ec_complain("cannot import '%s': it names no key and the "
			    "secrets file has no default one (use --key)",
			    r->id);
		return EXIT_CONFIG;
	}
	if (rc == -EC_ETIME || rc == -EC_EUTF8 || rc == -EC_EID) {
		ec_complain("cannot import '%s': %s%s", r->id,
			    rc == -EC_ETIME ? "validasof is " : "",
			    ec_errtext(rc));
		return EXIT_USAGE;
	}
	ec_complain("cannot import '%s': %s (%zu entries saved before it, "
		    "each complete)", r->id, ec_errtext(rc), im->saved);
	im->stop = true;	/* a full disk fails every later save too */
	return EXIT_IO;
}

/* Save one record; 0 or an exit code (reported). */
static int import_one(struct import *im, const struct ec_record *r)
{
	struct ec_save_options so;
	int64_t created = EC_TIME_NONE;
	int rc;

	rc = ec_store_check_id(r->id);
	if (rc < 0) {
		ec_complain("cannot import '%s': %s", r->id, ec_errtext(rc));
		return EXIT_USAGE;
	}
	if (r->created_at &&
	    (rc = ec_time_parse_iso(r->created_at, &created)) < 0) {
		ec_complain("cannot import '%s': created_at '%s' is %s", r->id,
			    r->created_at, ec_errtext(rc));
		return EXIT_USAGE;
	}
	memset(&so, 0, sizeof(so));
	so.key = im->o->key ? im->o->key : r->key;
	so.comment = r->comment;
	so.validasof = r->validasof;
	so.created_us = created;	/* absent: now */
	so.durable = im->o->sync;
	rc = ec_cache_save(im->c, r->id, r->data, r->len, &so);
	if (rc < 0)
		return save_failed(im, r, so.key, rc);
	im->saved++;
	im->bytes += r->len;
	return 0;
}

/* A reader error, worded with where it happened; an exit code. */
static int read_failed(struct import *im, struct ec_archive_reader *ar,
		       int rc)
{
	size_t pos = ec_archive_position(ar);
	const char *unit = ec_archive_reader_format(ar) == EC_ARCHIVE_TAR ?
			   "member" : "line";

	im->stop = true;
	if (rc != -EC_EARCHIVE && rc != -EC_ETOOBIG) {
		ec_complain("cannot read '%s': %s (%zu entries saved before "
			    "it, each complete)", im->name, ec_errtext(rc),
			    im->saved);
		return EXIT_IO;
	}
	im->stop = true;
	if (pos == 0 && rc == -EC_EARCHIVE)
		ec_complain("cannot import '%s': %s", im->name,
			    ec_archive_error(ar));
	else
		ec_complain("cannot import '%s': %s %zu: %s (%zu entries saved "
			    "before it, each complete)", im->name, unit, pos,
			    rc == -EC_ETOOBIG ? "too large" :
			    ec_archive_error(ar), im->saved);
	return EXIT_USAGE;
}

static int import_run(struct import *im, int fd, enum ec_archive_format f)
{
	struct ec_archive_reader *ar = NULL;
	struct ec_record r;
	int ret = 0, rc;

	if (ec_archive_reader_new(fd, f, &ar) < 0)
		ec_oom();
	ec_progress_start(&im->p, im->o, "import", 0);
	while (!im->stop && (rc = ec_archive_next(ar, &r)) != 0) {
		if (rc < 0) {
			ret = ec_worse(ret, read_failed(im, ar, rc));
			break;
		}
		if (rc == 2) {
			ec_complain("skipping '%s': not a regular file",
				    r.id);
			im->skipped++;
		} else if ((rc = import_one(im, &r)) != 0) {
			im->failed++;
			ret = ec_worse(ret, rc);
		}
		ec_record_release(&r);
		ec_progress_tick(&im->p, im->saved);
	}
	ec_progress_end(&im->p);
	ec_archive_reader_free(ar);
	return ret;
}

static int import_json(const struct import *im, int ret)
{
	struct ec_buf out = { 0 };
	struct ec_jw w;

	ec_jw_init(&w, &out);
	ec_jw_open(&w, '{');
	ec_jw_key(&w, "source");
	ec_jw_str(&w, im->name);
	ec_jw_key(&w, "ok");
	ec_jw_bool(&w, ret == 0);
	ec_jw_key(&w, "saved");
	ec_jw_uint(&w, im->saved);
	ec_jw_key(&w, "bytes");
	ec_jw_uint(&w, im->bytes);
	ec_jw_key(&w, "failed");
	ec_jw_uint(&w, im->failed);
	ec_jw_key(&w, "skipped");
	ec_jw_uint(&w, im->skipped);
	ec_jw_close(&w);
	ec_buf_addc(&out, '\n');
	ret = ec_worse(ret, ec_flush_stdout(out.p, out.len));
	ec_buf_release(&out);
	return ret;
}

int ec_cmd_import(struct ec_opts *o, int argc, char **args)
{
	struct import im = { .o = o, .name = "standard input" };
	enum ec_archive_format f = EC_ARCHIVE_AUTO;
	struct ec_cache *c = NULL;
	int fd = STDIN_FILENO, ret;

	if (o->format_text && ec_archive_format_parse(o->format_text, 1,
						      &f) < 0)
		return EXIT_USAGE;	/* checked with the options */
	if (argc == 1 && strcmp(args[0], "-") != 0) {
		im.name = args[0];
		fd = open(args[0], O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			ec_complain("cannot read '%s': %s", args[0],
				    ec_errtext(-errno));
			return EXIT_USAGE;
		}
	}
	if (fd == STDIN_FILENO)
		o->stdin_use = "the archive";
	/* --key is checked at open; a record's own key at its save */
	ret = ec_cli_open(o, false, &c);
	if (!ret) {
		im.c = c;
		ret = import_run(&im, fd, f);
		if (o->json)
			ret = import_json(&im, ret);
		if (!im.stop)
			ec_summary(o, "import: saved %zu entries (%llu bytes "
				   "of data) from '%s'%s", im.saved,
				   (unsigned long long)im.bytes, im.name,
				   im.failed ? "; see the errors above" : "");
	}
	if (fd != STDIN_FILENO)
		close(fd);
	ec_cache_free(c);
	return ret;
}
