/*
 * put: standard input as one entry, or every file below a directory as
 * entries named by their paths (put --from-dir DIR [PREFIX]).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "error.h"
#include "secure.h"

#define READ_CHUNK (64u << 10)

/* Read all of fd into guarded memory (any size). */
static int read_all(int fd, struct ec_sbuf *b)
{
	for (;;) {
		ssize_t n;

		if (b->cap - b->len < READ_CHUNK) {
			int rc;

			if (b->len > SIZE_MAX - READ_CHUNK)
				return -ENOMEM;
			/* grows by doubling */
			rc = ec_sbuf_reserve(b, b->len + READ_CHUNK);
			if (rc < 0)
				return rc;
		}
		n = read(fd, b->p + b->len, b->cap - b->len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return 0;
		b->len += (size_t)n;
	}
}

/* The exit status for a failed save. */
static int save_status(int rc)
{
	if (rc == -EC_EKEY)
		return EXIT_CONFIG;
	if (rc == -EC_EID || rc == -EC_ETIME || rc == -EC_EUTF8)
		return EXIT_USAGE;
	return EXIT_IO;
}

/* Convert (--view) and save one entry's data; 0 or an exit code. */
static int save_one(const struct ec_opts *o, const struct ec_cache *c,
		    const char *id, const uint8_t *in, size_t inlen,
		    const char *what)
{
	struct ec_save_options so;
	uint8_t *conv = NULL;
	const uint8_t *data = in;
	size_t len = inlen;
	int rc;

	if (o->view != EC_VIEW_RAW) {
		rc = ec_view_parse_content(o->view, false, in, inlen, &conv,
					   &len);
		if (rc < 0) {
			ec_complain("cannot put '%s': %s is not %s (%s)", id,
				    what, o->view == EC_VIEW_XML ?
				    "an XML plist" : "JSON a plist can hold",
				    ec_errtext(rc));
			return EXIT_USAGE;
		}
		data = conv;
	}
	memset(&so, 0, sizeof(so));
	so.key = o->key;
	so.comment = o->comment;
	so.validasof = o->validasof;
	so.created_us = o->created_us;
	so.durable = o->sync;
	so.noreplace = false;
	rc = ec_cache_save(c, id, data, len, &so);
	ec_secure_free(conv);
	if (rc < 0) {
		ec_complain("cannot put '%s': %s", id, ec_errtext(rc));
		return save_status(rc);
	}
	return 0;
}

/* The --json acknowledgement of the saves. */
struct saved {
	struct ec_buf json;
	struct ec_jw w;
	size_t n;
	uint64_t bytes;
};

static void saved_init(struct saved *s)
{
	memset(s, 0, sizeof(*s));
	ec_jw_init(&s->w, &s->json);
	ec_jw_open_lines(&s->w);
}

static void saved_add(struct saved *s, const char *id, size_t size)
{
	ec_jw_open(&s->w, '{');
	ec_jw_key(&s->w, "id");
	ec_jw_str(&s->w, id);
	ec_jw_key(&s->w, "size");
	ec_jw_uint(&s->w, size);
	ec_jw_close(&s->w);
	s->n++;
	s->bytes += size;
}

/* --json: what was saved (a single put that failed prints nothing). */
static int saved_flush(const struct ec_opts *o, struct saved *s, int ret)
{
	ec_jw_close(&s->w);
	ec_buf_addc(&s->json, '\n');
	if (o->json && (o->from_dir || !ret))
		ret = ec_worse(ret, ec_flush_stdout(s->json.p, s->json.len));
	ec_buf_release(&s->json);
	return ret;
}

static int put_stdin(struct ec_opts *o, const struct ec_cache *c,
		     const char *id, struct saved *sv)
{
	struct ec_sbuf in = EC_SBUF_INIT;
	int rc, ret;

	rc = read_all(STDIN_FILENO, &in);
	if (rc < 0) {
		ec_complain("cannot read standard input: %s", ec_errtext(rc));
		ec_sbuf_release(&in);
		return EXIT_IO;
	}
	ret = save_one(o, c, id, in.p, in.len, "standard input");
	if (!ret)
		saved_add(sv, id, in.len);
	ec_sbuf_release(&in);
	return ret;
}

/* ---- put --from-dir ---------------------------------------------------- */

struct tree {
	struct ec_opts *o;
	const struct ec_cache *c;
	struct saved *sv;
	struct ec_progress p;
	bool stop;		/* a save failed with an I/O error */
};

/* The file name of path below the directory open on dfd: saved as id. */
static int put_file(struct tree *t, int dfd, const char *name,
		    const char *path, const char *id)
{
	struct ec_sbuf in = EC_SBUF_INIT;
	int fd, rc, ret;

	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
		    O_CLOEXEC);
	if (fd < 0) {
		ec_complain("cannot read '%s': %s", path,
			    ec_errtext(-errno));
		return EXIT_IO;
	}
	rc = read_all(fd, &in);
	close(fd);
	if (rc < 0) {
		ec_complain("cannot read '%s': %s", path, ec_errtext(rc));
		ret = EXIT_IO;
	} else {
		ret = save_one(t->o, t->c, id, in.p, in.len, "the file");
		if (!ret)
			saved_add(t->sv, id, in.len);
		/* a full disk fails every later save too: stop at the first */
		t->stop = ret == EXIT_IO;
	}
	ec_sbuf_release(&in);
	return ret;
}

static int walk(struct tree *t, int dfd, const char *path, const char *id);

/* One name of a directory: a file becomes an entry, a directory is
 * walked, anything else is skipped with a warning. */
static int walk_name(struct tree *t, int dfd, const char *path,
		     const char *id, const char *name)
{
	char *p = NULL, *i = NULL;
	struct stat st;
	int sub, ret = 0;

	if (asprintf(&p, "%s/%s", path, name) < 0 ||
	    asprintf(&i, "%s%s%s", id, *id ? "/" : "", name) < 0)
		ec_oom();
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		ec_complain("cannot read '%s': %s", p, ec_errtext(-errno));
		ret = EXIT_IO;
	} else if (S_ISREG(st.st_mode)) {
		ret = put_file(t, dfd, name, p, i);
		ec_progress_tick(&t->p, t->sv->n);
	} else if (S_ISDIR(st.st_mode)) {
		sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			     O_CLOEXEC);
		ret = sub < 0 ? EXIT_IO : walk(t, sub, p, i);
		if (sub < 0)
			ec_complain("cannot read '%s': %s", p,
				    ec_errtext(-errno));
	} else {
		ec_complain("skipping '%s': not a regular file or directory",
			    p);
	}
	free(p);
	free(i);
	return ret;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Walk the directory open on dfd (closed here) in name order, until a
 * save fails with an I/O error. */
static int walk(struct tree *t, int dfd, const char *path, const char *id)
{
	DIR *d = fdopendir(dfd);
	char **names = NULL;
	size_t n = 0, i;
	struct dirent *de;
	int ret = 0;

	if (!d) {
		ec_complain("cannot read '%s': %s", path, ec_errtext(-errno));
		close(dfd);
		return EXIT_IO;
	}
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		names = ec_xrealloc(names, (n + 1) * sizeof(*names));
		names[n++] = ec_xstrdup(de->d_name);
	}
	if (n)
		qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; i < n && !t->stop; i++)
		ret = ec_worse(ret, walk_name(t, dirfd(d), path, id, names[i]));
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return ret;
}

static int put_tree(struct ec_opts *o, const struct ec_cache *c,
		    const char *prefix, struct saved *sv)
{
	struct tree t = { o, c, sv, { 0 }, false };
	int dfd, ret;

	dfd = open(o->from_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		ec_complain("cannot read directory '%s': %s", o->from_dir,
			    ec_errtext(-errno));
		return EXIT_USAGE;
	}
	ec_progress_start(&t.p, o, "put", 0);
	ret = walk(&t, dfd, o->from_dir, prefix);
	ec_progress_end(&t.p);
	ec_summary(o, "put: saved %zu entries (%llu bytes of data) from "
		   "'%s'%s", sv->n, (unsigned long long)sv->bytes,
		   o->from_dir, ret ? "; see the errors above" : "");
	return ret;
}

int ec_cmd_put(struct ec_opts *o, int argc, char **args)
{
	struct ec_cache *c = NULL;
	struct saved sv;
	int ret;

	saved_init(&sv);
	if (!o->from_dir)
		o->stdin_use = "the entry";
	ret = ec_cli_open(o, true, &c);
	if (!ret && o->from_dir)
		ret = put_tree(o, c, argc ? args[0] : "", &sv);
	else if (!ret)
		ret = put_stdin(o, c, args[0], &sv);
	ret = saved_flush(o, &sv, ret);
	ec_cache_free(c);
	return ret;
}
