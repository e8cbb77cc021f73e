/*
 * get: one entry's data on stdout; several as files below --output-dir
 * or as JSON.  exists: whether entries are valid, as an exit status.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "error.h"
#include "secure.h"

/* The bytes get writes for an entry: its data, or its rendering. */
struct got {
	const uint8_t *p;
	size_t len;
	uint8_t *owned;		/* ec_secure_alloc'd rendering, or NULL */
};

/*
 * Judge a load of id (err, e) at now: 0 with *g set when get may write
 * it, else an exit code after the one line saying why.
 */
static int judge(const struct ec_opts *o, const struct ec_cache *c,
		 const char *id, int err, const struct ec_entry *e,
		 int64_t now, struct got *g)
{
	enum ec_state state;
	char *why;
	int rc;

	memset(g, 0, sizeof(*g));
	if (err == -ENOENT) {
		ec_complain("cannot get '%s': no such entry", id);
		return EXIT_INVALID;
	}
	if (err) {
		ec_complain("cannot get '%s': %s", id, ec_errtext(err));
		return err == -EC_EID ? EXIT_USAGE : EXIT_INVALID;
	}
	state = ec_entry_verdict(c, e, now, NULL);
	if (state != EC_STATE_VALID &&
	    !(state == EC_STATE_STALE && o->stale_ok)) {
		why = ec_cli_reason(c, e, now);
		ec_complain("cannot get '%s': %s", id, why);
		free(why);
		return EXIT_INVALID;
	}
	if (e->len > 0 && !e->data) {
		/* the core did not decrypt it: a stale entry without
		 * EC_LOAD_STALE_OK support */
		ec_complain("cannot get '%s': data not available", id);
		return EXIT_INVALID;
	}
	g->p = e->data;
	g->len = e->len;
	if (o->view == EC_VIEW_RAW)
		return 0;
	rc = ec_view_render(o->view, e->data, e->len, &g->owned, &g->len,
			    NULL);
	if (rc < 0) {
		ec_complain("cannot get '%s': cannot render as %s: %s", id,
			    o->view_text, ec_errtext(rc));
		return EXIT_INVALID;
	}
	g->p = g->owned;
	return 0;
}

static unsigned load_flags(const struct ec_opts *o)
{
	return EC_LOAD_DATA | (o->stale_ok ? EC_LOAD_STALE_OK : 0);
}

/* The one-id form: exactly what get always did. */
static int get_one(const struct ec_opts *o, const struct ec_cache *c,
		   const char *id)
{
	int64_t now = ec_clock_now_us();
	struct ec_entry e;
	struct got g;
	int err, ret;

	err = ec_cache_load(c, id, load_flags(o), now, &e);
	ret = judge(o, c, id, err, err ? NULL : &e, now, &g);
	if (!ret)
		ret = ec_flush_stdout(g.p, g.len);
	ec_secure_free(g.owned);
	if (!err)
		ec_entry_release(&e);
	return ret;
}

/* ---- get --output-dir -------------------------------------------------- */

/* Open (making it 0700 when missing) each directory of id's parent below
 * the directory open on dfd; the parent's fd (dfd is closed) or -errno.
 * Symlinks are not followed. */
static int open_parents(int dfd, const char *id, const char **leaf)
{
	const char *c = id, *slash;
	char comp[NAME_MAX + 1];

	while ((slash = strchr(c, '/')) != NULL) {
		size_t n = (size_t)(slash - c);
		int next;

		if (n > NAME_MAX) {
			close(dfd);
			return -ENAMETOOLONG;
		}
		memcpy(comp, c, n);
		comp[n] = '\0';
		if (mkdirat(dfd, comp, 0700) < 0 && errno != EEXIST) {
			next = -errno;
			close(dfd);
			return next;
		}
		next = openat(dfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			      O_CLOEXEC);
		close(dfd);
		if (next < 0)
			return -errno;
		dfd = next;
		c = slash + 1;
	}
	*leaf = c;
	return dfd;
}

/* data as the file <dir>/<id>, mode 0600, through a temp file renamed
 * over it.  0 or -errno. */
static int write_file(int dirfd_, const char *id, const uint8_t *data,
		      size_t len)
{
	char tmp[NAME_MAX + 1];
	unsigned char r[8];
	const char *leaf = id;
	int dfd, fd, err;

	dfd = dup(dirfd_);
	if (dfd < 0)
		return -errno;
	dfd = open_parents(dfd, id, &leaf);
	if (dfd < 0)
		return dfd;
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		close(dfd);
		return -EIO;
	}
	snprintf(tmp, sizeof(tmp), ".enccache-get-%02x%02x%02x%02x%02x%02x"
		 "%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		close(dfd);
		return err;
	}
	err = ec_store_write_all(fd, data, len);
	if (close(fd) < 0 && !err)
		err = -errno;
	if (!err && renameat(dfd, tmp, dfd, leaf) < 0)
		err = -errno;
	if (err)
		unlinkat(dfd, tmp, 0);
	close(dfd);
	return err;
}

struct many {
	const struct ec_opts *o;
	const struct ec_cache *c;
	const struct ec_idlist *ids;
	int64_t now;
	int outfd;		/* --output-dir, or -1 */
	bool first;		/* --json: no element written yet */
	size_t written;
	int ret;
};

/* One --json element: the metadata, then the bytes as base64 (built in
 * guarded memory and written right away). */
static int json_element(struct many *m, const char *id, int err,
			const struct ec_entry *e, const struct got *g)
{
	struct ec_sbuf b64 = EC_SBUF_INIT;
	struct ec_buf meta = { 0 };
	enum ec_state st = err ? EC_STATE_CORRUPT :
			   ec_entry_verdict(m->c, e, m->now, NULL);
	char *why = ec_cli_why(m->c, err, e, m->now);
	int rc;

	ec_buf_adds(&meta, m->first ? "[\n {\"id\": " : ",\n {\"id\": ");
	m->first = false;
	ec_buf_add_json(&meta, id);
	ec_buf_adds(&meta, ", \"state\": ");
	ec_buf_add_json(&meta, err ? NULL : ec_state_name(st));
	ec_buf_adds(&meta, ", \"reason\": ");
	ec_buf_add_json(&meta, why);
	free(why);
	ec_buf_addf(&meta, ", \"key\": ");
	ec_buf_add_json(&meta, err ? NULL : e->env.key);
	ec_buf_adds(&meta, ", \"created_at\": ");
	ec_buf_add_json(&meta, err ? NULL : e->env.created_at);
	ec_buf_adds(&meta, ", \"comment\": ");
	ec_buf_add_json(&meta, err ? NULL : e->env.comment);
	ec_buf_adds(&meta, ", \"validasof\": ");
	ec_buf_add_json(&meta, err ? NULL : e->validasof);
	ec_buf_adds(&meta, ", \"data\": ");
	rc = g ? ec_view_b64_encode(&b64, g->p, g->len) : 0;
	if (rc < 0)
		ec_oom();
	rc = ec_flush_stdout(meta.p, meta.len);
	if (!rc && g) {
		rc = ec_flush_stdout("\"", 1);
		if (!rc && b64.len)
			rc = ec_flush_stdout(b64.p, b64.len);
		if (!rc)
			rc = ec_flush_stdout("\"}", 2);
	} else if (!rc) {
		rc = ec_flush_stdout("null}", 5);
	}
	ec_sbuf_release(&b64);
	ec_buf_release(&meta);
	return rc;
}

static int many_cb(void *ctx, size_t i, int err, struct ec_entry *e)
{
	struct many *m = ctx;
	const char *id = m->ids->ids[i];
	struct got g;
	int ret = judge(m->o, m->c, id, err, e, m->now, &g), rc;

	if (m->o->json) {
		rc = json_element(m, id, err, e, ret ? NULL : &g);
	} else if (!ret) {
		rc = write_file(m->outfd, id, g.p, g.len);
		if (rc < 0) {
			ec_complain("cannot write '%s/%s': %s",
				    m->o->output_dir, id, ec_errtext(rc));
			rc = EXIT_IO;
		}
	} else {
		rc = 0;
	}
	if (!ret && !rc)
		m->written++;
	ec_secure_free(g.owned);
	m->ret = ec_worse(m->ret, ec_worse(ret, rc));
	/* stdout gone, or a full disk: stop */
	return rc == EXIT_IO ? EXIT_IO : 0;
}

static int get_many(const struct ec_opts *o, const struct ec_cache *c,
		    const struct ec_idlist *ids)
{
	struct many m = { o, c, ids, ec_clock_now_us(), -1, true, 0, 0 };
	int rc;

	if (o->output_dir) {
		if (mkdir(o->output_dir, 0700) < 0 && errno != EEXIST) {
			ec_complain("cannot create '%s': %s", o->output_dir,
				    ec_errtext(-errno));
			return EXIT_IO;
		}
		m.outfd = open(o->output_dir, O_RDONLY | O_DIRECTORY |
			       O_CLOEXEC);
		if (m.outfd < 0) {
			ec_complain("cannot open '%s': %s", o->output_dir,
				    ec_errtext(-errno));
			return EXIT_IO;
		}
	}
	rc = ec_cli_load(o, c, (const char *const *)ids->ids, ids->n,
			 load_flags(o), m.now, many_cb, &m);
	if (rc < 0)
		ec_oom();
	if (o->json && rc != EXIT_IO)
		m.ret = ec_worse(m.ret, ec_flush_stdout(m.first ? "[]\n" :
							"\n]\n", 3));
	if (m.outfd >= 0)
		close(m.outfd);
	if (o->output_dir)
		ec_summary(o, "get: wrote %zu of %zu entries to '%s'",
			   m.written, ids->n, o->output_dir);
	return ec_worse(m.ret, rc);
}

int ec_cmd_get(struct ec_opts *o, int argc, char **args)
{
	struct ec_cache *c = NULL;
	struct ec_idlist ids;
	int ret;

	ret = ec_cli_ids(o, argc, args, &ids);
	if (ret)
		return ret;
	if ((ids.n != 1 || o->stdin_ids) && !o->output_dir && !o->json) {
		ec_complain("'get' of several ids needs --output-dir DIR or "
			    "--json");
		ec_idlist_release(&ids);
		return EXIT_USAGE;
	}
	ret = ec_cli_open(o, false, &c);
	if (!ret && !o->output_dir && !o->json)
		ret = get_one(o, c, ids.ids[0]);
	else if (!ret)
		ret = get_many(o, c, &ids);
	ec_cache_free(c);
	ec_idlist_release(&ids);
	return ret;
}

/* ---- exists ------------------------------------------------------------ */

struct exist {
	const struct ec_opts *o;
	const struct ec_cache *c;
	const struct ec_idlist *ids;
	int64_t now;
	struct ec_jw *w;
	bool all;
};

static int exists_cb(void *ctx, size_t i, int err, struct ec_entry *e)
{
	struct exist *x = ctx;
	enum ec_state st = err ? EC_STATE_CORRUPT :
			   ec_entry_verdict(x->c, e, x->now, NULL);
	bool yes = !err && (st == EC_STATE_VALID ||
			    (st == EC_STATE_STALE && x->o->stale_ok));
	char *why;

	x->all = x->all && yes;
	if (!x->o->json)
		return 0;
	why = ec_cli_why(x->c, err, e, x->now);
	ec_jw_open(x->w, '{');
	ec_jw_key(x->w, "id");
	ec_jw_str(x->w, x->ids->ids[i]);
	ec_jw_key(x->w, "exists");
	ec_jw_bool(x->w, yes);
	ec_jw_key(x->w, "state");
	ec_jw_str(x->w, err ? NULL : ec_state_name(st));
	ec_jw_key(x->w, "reason");
	ec_jw_str(x->w, why);
	ec_jw_close(x->w);
	free(why);
	return 0;
}

int ec_cmd_exists(struct ec_opts *o, int argc, char **args)
{
	struct ec_cli_batch b;
	struct exist x;
	int ret;

	ret = ec_cli_batch_begin(o, argc, args, &b);
	if (ret)
		return ret;
	memset(&x, 0, sizeof(x));
	x.o = o;
	x.c = b.c;
	x.ids = &b.ids;
	x.now = ec_clock_now_us();
	x.w = &b.w;
	x.all = true;
	if (ec_cli_load(o, b.c, (const char *const *)b.ids.ids, b.ids.n, 0,
			x.now, exists_cb, &x) < 0)
		ec_oom();
	ret = ec_cli_batch_end(o, &b);
	if (!ret && !x.all)
		ret = EXIT_INVALID;
	return ret;
}
