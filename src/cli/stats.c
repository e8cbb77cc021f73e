/*
 * stats: a cache directory's envelopes by state, their bytes, the ages of
 * the entries that authenticate and what expires soon, as a table, JSON
 * or Prometheus text.  stats --mount is stats_mount.c.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "store.h"

enum { AGE_1H, AGE_1D, AGE_7D, AGE_30D, AGE_OLDER, AGE_UNKNOWN, NAGES };

static const int64_t age_limit_s[] = { 3600, 86400, 604800, 2592000 };
static const char *const age_key[NAGES] = {
	"<1h", "1h-1d", "1d-7d", "7d-30d", ">=30d", "unknown",
};
static const char *const age_text[NAGES] = {
	"under 1 hour", "1 hour to 1 day", "1 day to 7 days",
	"7 days to 30 days", "30 days or more", "unknown",
};

struct dstats {
	const struct ec_cache *c;
	int64_t now;
	size_t n[EC_CLI_NSTATES];
	uint64_t file_bytes[EC_CLI_NSTATES];
	uint64_t data_bytes[EC_CLI_NSTATES];
	size_t total;
	uint64_t total_file, total_data;
	size_t ages[NAGES];
	double age_sum_s;
	size_t expiring_1h, expiring_1d;
	size_t temps;
};

static unsigned age_bucket(int64_t age_us)
{
	unsigned i;

	for (i = 0; i < AGE_OLDER; i++)
		if (age_us < age_limit_s[i] * 1000000)
			return i;
	return AGE_OLDER;
}

static int stats_cb(void *ctx, const char *id, struct ec_entry *e)
{
	struct dstats *d = ctx;
	int reason;
	enum ec_state st = ec_entry_verdict(d->c, e, d->now, &reason);
	unsigned slot = ec_cli_state_slot(st, reason);
	uint64_t size = e->st.st_size > 0 ? (uint64_t)e->st.st_size : 0;

	(void)id;
	d->n[slot]++;
	d->file_bytes[slot] += size;
	d->total++;
	d->total_file += size;
	if (st != EC_STATE_VALID && st != EC_STATE_STALE)
		return 0;
	d->data_bytes[slot] += e->len;
	d->total_data += e->len;
	if (e->created_us == EC_TIME_NONE) {
		d->ages[AGE_UNKNOWN]++;
	} else {
		int64_t age = d->now > e->created_us ? d->now - e->created_us :
			      0;

		d->ages[age_bucket(age)]++;
		d->age_sum_s += (double)age / 1e6;
	}
	if (st == EC_STATE_VALID && e->expires_us != EC_TIME_NEVER) {
		if (e->expires_us <= d->now + 3600 * 1000000LL)
			d->expiring_1h++;
		if (e->expires_us <= d->now + 86400 * 1000000LL)
			d->expiring_1d++;
	}
	return 0;
}

static int temp_cb(void *ctx, const char *path, const struct stat *st)
{
	struct dstats *d = ctx;

	(void)path;
	(void)st;
	d->temps++;
	return 0;
}

static void stats_text(const struct dstats *d, struct ec_buf *out)
{
	static const char *const t1[] = {
		"STATE", "ENTRIES", "FILE BYTES", "DATA BYTES",
	};
	static const char *const t2[] = { "AGE", "ENTRIES" };
	char a[32], b[32], c[32];
	struct ec_table t;
	unsigned s;

	ec_table_init(&t, 4, t1);
	t.right = 0xe;
	for (s = 0; s <= EC_CLI_NSTATES; s++) {
		bool total = s == EC_CLI_NSTATES;
		bool auth = total || s == EC_STATE_VALID || s == EC_STATE_STALE;
		const char *cells[4] = { total ? "total" :
					 ec_cli_state_word(s), a, b, c };

		snprintf(a, sizeof(a), "%zu", total ? d->total : d->n[s]);
		snprintf(b, sizeof(b), "%llu", (unsigned long long)
			 (total ? d->total_file : d->file_bytes[s]));
		snprintf(c, sizeof(c), "%llu", (unsigned long long)
			 (total ? d->total_data : d->data_bytes[s]));
		if (!auth)
			cells[3] = "-";
		ec_table_add(&t, cells);
	}
	ec_table_render(&t, out);
	ec_table_release(&t);
	ec_buf_addc(out, '\n');
	ec_table_init(&t, 2, t2);
	t.right = 0x2;
	for (s = 0; s < NAGES; s++) {
		const char *cells[2] = { age_text[s], a };

		snprintf(a, sizeof(a), "%zu", d->ages[s]);
		ec_table_add(&t, cells);
	}
	ec_table_render(&t, out);
	ec_table_release(&t);
	ec_buf_addf(out, "\nexpiring: %zu within an hour, %zu within a day "
		    "(of %zu valid)\ntemp files: %zu\n", d->expiring_1h,
		    d->expiring_1d, d->n[EC_STATE_VALID], d->temps);
}

static void stats_json(const struct ec_opts *o, const struct dstats *d,
		       struct ec_buf *out)
{
	struct ec_jw w;
	unsigned s;

	ec_jw_init(&w, out);
	ec_jw_open(&w, '{');
	ec_jw_key(&w, "dir");
	ec_jw_str(&w, ec_cli_dir(o));
	ec_jw_key(&w, "time");
	ec_jw_time(&w, d->now);
	ec_jw_key(&w, "envelopes");
	ec_jw_uint(&w, d->total);
	ec_jw_key(&w, "file_bytes");
	ec_jw_uint(&w, d->total_file);
	ec_jw_key(&w, "data_bytes");
	ec_jw_uint(&w, d->total_data);
	ec_jw_key(&w, "states");
	ec_jw_open(&w, '{');
	for (s = 0; s < EC_CLI_NSTATES; s++) {
		ec_jw_key(&w, ec_cli_state_word(s));
		ec_jw_open(&w, '{');
		ec_jw_key(&w, "entries");
		ec_jw_uint(&w, d->n[s]);
		ec_jw_key(&w, "file_bytes");
		ec_jw_uint(&w, d->file_bytes[s]);
		ec_jw_key(&w, "data_bytes");
		ec_jw_uint(&w, d->data_bytes[s]);
		ec_jw_close(&w);
	}
	ec_jw_close(&w);
	ec_jw_key(&w, "age");
	ec_jw_open(&w, '{');
	for (s = 0; s < NAGES; s++) {
		ec_jw_key(&w, age_key[s]);
		ec_jw_uint(&w, d->ages[s]);
	}
	ec_jw_close(&w);
	ec_jw_key(&w, "expiring");
	ec_jw_open(&w, '{');
	ec_jw_key(&w, "1h");
	ec_jw_uint(&w, d->expiring_1h);
	ec_jw_key(&w, "1d");
	ec_jw_uint(&w, d->expiring_1d);
	ec_jw_close(&w);
	ec_jw_key(&w, "temp_files");
	ec_jw_uint(&w, d->temps);
	ec_jw_close(&w);
	ec_buf_addc(out, '\n');
}

/* "# HELP name text\n# TYPE name type\n" */
static void prom_head(struct ec_buf *out, const char *name, const char *type,
		      const char *help)
{
	ec_buf_addf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
		    type);
}

/* name{dir="...",<label>="<value>"} (the label may be NULL) */
static void prom_sample(struct ec_buf *out, const char *name, const char *dir,
			const char *label, const char *value)
{
	ec_buf_addf(out, "%s{dir=", name);
	ec_buf_add_label(out, dir);
	if (label) {
		ec_buf_addf(out, ",%s=", label);
		ec_buf_add_label(out, value);
	}
	ec_buf_addc(out, '}');
}

static void prom_states(struct ec_buf *out, const char *dir, const char *name,
			const char *help, const uint64_t *v, const size_t *n)
{
	unsigned s;

	prom_head(out, name, "gauge", help);
	for (s = 0; s < EC_CLI_NSTATES; s++) {
		prom_sample(out, name, dir, "state", ec_cli_state_word(s));
		ec_buf_addf(out, " %llu\n", (unsigned long long)
			    (v ? v[s] : n[s]));
	}
}

static void stats_prometheus(const struct ec_opts *o, const struct dstats *d,
			     struct ec_buf *out)
{
	static const char *const le[] = { "3600", "86400", "604800", "2592000",
					  "+Inf" };
	const char *dir = ec_cli_dir(o);
	size_t cum = 0, known = 0;
	unsigned s;

	prom_states(out, dir, "enccache_entries",
		    "Envelope files in the cache directory, by state.", NULL,
		    d->n);
	prom_states(out, dir, "enccache_file_bytes",
		    "Bytes of the envelope files, by state.", d->file_bytes,
		    NULL);
	prom_states(out, dir, "enccache_data_bytes",
		    "Plaintext bytes of the entries that authenticate, by "
		    "state.", d->data_bytes, NULL);
	prom_head(out, "enccache_entry_age_seconds", "histogram",
		  "Age (now - created_at) of the entries that authenticate.");
	for (s = 0; s < AGE_UNKNOWN; s++)
		known += d->ages[s];
	for (s = 0; s < 5; s++) {
		cum += s < AGE_UNKNOWN ? d->ages[s] : 0;
		prom_sample(out, "enccache_entry_age_seconds_bucket", dir,
			    "le", le[s]);
		ec_buf_addf(out, " %zu\n", s == 4 ? known : cum);
	}
	prom_sample(out, "enccache_entry_age_seconds_sum", dir, NULL, NULL);
	ec_buf_addf(out, " %.3f\n", d->age_sum_s);
	prom_sample(out, "enccache_entry_age_seconds_count", dir, NULL, NULL);
	ec_buf_addf(out, " %zu\n", known);
	prom_head(out, "enccache_entries_expiring", "gauge",
		  "Valid entries that expire within the window.");
	prom_sample(out, "enccache_entries_expiring", dir, "within", "1h");
	ec_buf_addf(out, " %zu\n", d->expiring_1h);
	prom_sample(out, "enccache_entries_expiring", dir, "within", "1d");
	ec_buf_addf(out, " %zu\n", d->expiring_1d);
	prom_head(out, "enccache_temp_files", "gauge",
		  "Temp files of saves in progress or interrupted.");
	prom_sample(out, "enccache_temp_files", dir, NULL, NULL);
	ec_buf_addf(out, " %zu\n", d->temps);
}

int ec_cmd_stats(struct ec_opts *o, int argc, char **args)
{
	struct ec_cache *c = NULL;
	struct ec_buf out = { 0 };
	struct dstats d;
	int ret;

	(void)argc;
	(void)args;
	if (o->mount)
		return ec_stats_mount(o);
	memset(&d, 0, sizeof(d));
	ret = ec_cli_open(o, false, &c);
	if (ret)
		goto out;
	d.c = c;
	d.now = ec_clock_now_us();
	ret = ec_cli_scan(o, c, 0, d.now, "stats", stats_cb, &d);
	if (ret)
		goto out;
	ret = ec_cli_walk_temps(o, c, temp_cb, &d);
	if (ret)
		goto out;
	if (o->json)
		stats_json(o, &d, &out);
	else if (o->prometheus)
		stats_prometheus(o, &d, &out);
	else
		stats_text(&d, &out);
	ret = ec_flush_stdout(out.p, out.len);
out:
	ec_buf_release(&out);
	ec_cache_free(c);
	return ret;
}
