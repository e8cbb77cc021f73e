/*
 * stats --mount: what a running enccachefs counted, read from the JSON of
 * the user.enccache.stats attribute of its root (fsstats.h), printed as
 * a table, the JSON itself, or Prometheus counters.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "cli.h"
#include "fsstats.h"

#define XATTR_MAX (1u << 20)

/* The attribute's text into *out (malloc'd), *len; 0 or an exit code. */
static int read_attr(const char *mnt, char **out, size_t *len)
{
	ssize_t n = 0;
	char *p = NULL;
	int tries;

	*out = NULL;
	for (tries = 0; tries < 8; tries++) {
		n = getxattr(mnt, EC_FSSTATS_XATTR, NULL, 0);
		if (n >= 0 && (size_t)n <= XATTR_MAX) {
			p = ec_xrealloc(p, (size_t)n + 1);
			n = getxattr(mnt, EC_FSSTATS_XATTR, p, (size_t)n);
		}
		if (n >= 0 || errno != ERANGE)
			break;	/* ERANGE: it grew meanwhile, again */
	}
	if (n < 0 && (errno == ENODATA || errno == ENOTSUP)) {
		ec_complain("no statistics on '%s': it has no %s attribute "
			    "(not an enccachefs mount, or one too old to "
			    "count)", mnt, EC_FSSTATS_XATTR);
		free(p);
		return EXIT_CONFIG;
	}
	if (n < 0) {
		ec_complain("cannot read statistics of '%s': %s", mnt,
			    ec_errtext(-errno));
		free(p);
		return errno == ENOENT || errno == ENOTDIR ? EXIT_CONFIG :
		       EXIT_IO;
	}
	p[n] = '\0';
	*out = p;
	*len = (size_t)n;
	return 0;
}

/* "hidden.stale" for the table, counter i. */
static void counter_name(enum ec_fsstat i, char *buf, size_t size)
{
	const char *g = ec_fsstats_group(i);

	snprintf(buf, size, "%s%s%s", g ? g : "", g ? "." : "",
		 ec_fsstats_name(i));
}

static void mount_text(const struct ec_fsstats *s, struct ec_buf *out)
{
	static const char *const titles[] = { "COUNTER", "VALUE" };
	struct ec_table t;
	int i;

	ec_table_init(&t, 2, titles);
	t.right = 0x2;
	for (i = 0; i < EC_FSSTAT_N; i++) {
		char name[64], v[32] = "";
		const char *cells[2] = { name, v };

		counter_name((enum ec_fsstat)i, name, sizeof(name));
		if (s->has[i])
			snprintf(v, sizeof(v), "%llu",
				 (unsigned long long)s->v[i]);
		ec_table_add(&t, cells);
	}
	ec_table_render(&t, out);
	ec_table_release(&t);
}

/* The Prometheus counter of each statistic; the hidden ones share one,
 * with a reason label. */
#define SINCE " since the mount started"
static const struct {
	const char *name;
	const char *help;
} prom[EC_FSSTAT_N] = {
	[EC_FSSTAT_LOOKUPS] = { "enccachefs_lookups_total",
				"Names looked up" SINCE },
	[EC_FSSTAT_HITS] = { "enccachefs_hits_total",
			     "Metadata cache hits" SINCE },
	[EC_FSSTAT_MISSES] = { "enccachefs_misses_total",
			       "Metadata cache misses (envelopes read)" SINCE },
	[EC_FSSTAT_HIDDEN_STALE] = { "enccachefs_hidden_total",
				     "Envelopes hidden" SINCE ", by reason" },
	[EC_FSSTAT_HIDDEN_SALT_MISMATCH] = { "enccachefs_hidden_total", NULL },
	[EC_FSSTAT_HIDDEN_UNKNOWN_KEY] = { "enccachefs_hidden_total", NULL },
	[EC_FSSTAT_HIDDEN_CORRUPT] = { "enccachefs_hidden_total", NULL },
	[EC_FSSTAT_HIDDEN_TAMPERED] = { "enccachefs_hidden_total", NULL },
	[EC_FSSTAT_DECRYPTIONS] = { "enccachefs_decryptions_total",
				    "Tokens decrypted" SINCE },
	[EC_FSSTAT_SAVES] = { "enccachefs_saves_total",
			      "Entries saved" SINCE },
	[EC_FSSTAT_FAILED_SAVES] = { "enccachefs_failed_saves_total",
				     "Saves that failed" SINCE },
	[EC_FSSTAT_BYTES_READ] = { "enccachefs_read_bytes_total",
				   "Bytes read from entries" SINCE },
	[EC_FSSTAT_BYTES_WRITTEN] = { "enccachefs_written_bytes_total",
				      "Bytes written to entries" SINCE },
	[EC_FSSTAT_ENVELOPE_READS] = { "enccachefs_envelope_reads_total",
				       "Envelopes read from the cache "
				       "directory" SINCE },
	[EC_FSSTAT_PREFILLED] = { "enccachefs_prefilled_total",
				  "Opens that stored their content in the "
				  "page cache" SINCE },
	[EC_FSSTAT_LISTINGS_KEPT] = { "enccachefs_listings_kept_total",
				      "Directory opens that used the "
				      "listing the kernel kept" SINCE },
};

static void mount_prometheus(const char *mnt, const struct ec_fsstats *s,
			     struct ec_buf *out)
{
	const char *last = NULL;
	int i;

	for (i = 0; i < EC_FSSTAT_N; i++) {
		enum ec_fsstat k = (enum ec_fsstat)i;
		const char *name = prom[k].name;

		if (!s->has[k])
			continue;
		if (!last || strcmp(last, name) != 0)
			ec_buf_addf(out, "# HELP %s %s.\n# TYPE %s counter\n",
				    name,
				    ec_fsstats_group(k) ?
				    prom[EC_FSSTAT_HIDDEN_STALE].help :
				    prom[k].help, name);
		last = name;
		ec_buf_addf(out, "%s{mount=", name);
		ec_buf_add_label(out, mnt);
		if (ec_fsstats_group(k)) {
			ec_buf_adds(out, ",reason=");
			ec_buf_add_label(out, ec_fsstats_name(k));
		}
		ec_buf_addf(out, "} %llu\n", (unsigned long long)s->v[k]);
	}
}

int ec_stats_mount(const struct ec_opts *o)
{
	struct ec_buf out = { 0 };
	struct ec_fsstats s;
	char *text = NULL;
	size_t len = 0;
	int rc, ret;

	ret = read_attr(o->mount, &text, &len);
	if (ret)
		return ret;
	rc = ec_fsstats_parse(text, len, &s);
	free(text);
	if (rc < 0) {
		ec_complain("cannot read statistics of '%s': %s in its %s "
			    "attribute", o->mount, ec_errtext(rc),
			    EC_FSSTATS_XATTR);
		return EXIT_IO;
	}
	if (o->json) {
		ec_buf_adds(&out, s.json);
		ec_buf_addc(&out, '\n');
	} else if (o->prometheus) {
		mount_prometheus(o->mount, &s, &out);
	} else {
		mount_text(&s, &out);
	}
	ret = ec_flush_stdout(out.p, out.len);
	ec_buf_release(&out);
	ec_fsstats_release(&s);
	return ret;
}
