/* hash: get_hashed_filename(); inspect: an envelope's cleartext.  Neither
 * needs secrets. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

int ec_cmd_hash(struct ec_opts *o, int argc, char **args)
{
	struct ec_buf out = { 0 };
	char *name = NULL;
	int rc, ret;

	(void)argc;
	rc = ec_hashed_filename(args[0], o->length, o->prefix, &name);
	if (rc < 0) {
		if (rc == -EINVAL && o->prefix)
			ec_complain("invalid --prefix '%s': nothing is left of "
				    "it after folding to [a-z0-9_-]", o->prefix);
		else
			ec_complain("cannot hash '%s': %s", args[0],
				    ec_errtext(rc));
		return rc == -EINVAL ? EXIT_USAGE : EXIT_IO;
	}
	if (o->json) {
		struct ec_jw w;

		ec_jw_init(&w, &out);
		ec_jw_open(&w, '{');
		ec_jw_key(&w, "text");
		ec_jw_str(&w, args[0]);
		ec_jw_key(&w, "name");
		ec_jw_str(&w, name);
		ec_jw_close(&w);
	} else {
		ec_buf_adds(&out, name);
	}
	ec_buf_addc(&out, '\n');
	ret = ec_flush_stdout(out.p, out.len);
	ec_buf_release(&out);
	free(name);
	return ret;
}

struct inspected {
	const char *file;
	struct ec_envelope env;
	struct stat st;
	uint64_t ts;
	bool has_ts;
};

static void add_field(struct ec_buf *out, const char *name, const char *value)
{
	ec_buf_adds(out, name);
	ec_buf_adds(out, ": ");
	if (value)
		ec_buf_add_printable(out, value);
	else
		ec_buf_adds(out, "(none)");
	ec_buf_addc(out, '\n');
}

/* The token's own time, when its seconds fit an ISO-8601 text. */
static bool ts_iso(const struct inspected *in, char iso[EC_TIME_ISO_MAX])
{
	if (!in->has_ts || in->ts > (uint64_t)(INT64_MAX / 1000000))
		return false;
	ec_time_format_iso((int64_t)in->ts * 1000000, iso);
	return true;
}

static void inspect_text(const struct inspected *in, struct ec_buf *out)
{
	char iso[EC_TIME_ISO_MAX];

	add_field(out, "file", in->file);
	ec_buf_addf(out, "file_size: %jd\n", (intmax_t)in->st.st_size);
	add_field(out, "key", in->env.key);
	add_field(out, "salt_sha256", in->env.salt_sha256);
	add_field(out, "created_at", in->env.created_at);
	add_field(out, "comment", in->env.comment);
	ec_buf_addf(out, "token_length: %zu\n", in->env.encrypted_len);
	if (ts_iso(in, iso))
		ec_buf_addf(out, "token_timestamp: %s (%" PRIu64 ")\n", iso,
			    in->ts);
	else if (in->has_ts)
		ec_buf_addf(out, "token_timestamp: %" PRIu64 "\n", in->ts);
	else
		ec_buf_adds(out, "token_timestamp: (unreadable)\n");
}

static void inspect_json(const struct inspected *in, struct ec_buf *out)
{
	char iso[EC_TIME_ISO_MAX];
	struct ec_jw w;

	ec_jw_init(&w, out);
	ec_jw_open(&w, '{');
	ec_jw_key(&w, "file");
	ec_jw_str(&w, in->file);
	ec_jw_key(&w, "file_size");
	ec_jw_uint(&w, (uint64_t)in->st.st_size);
	ec_jw_key(&w, "key");
	ec_jw_str(&w, in->env.key);
	ec_jw_key(&w, "salt_sha256");
	ec_jw_str(&w, in->env.salt_sha256);
	ec_jw_key(&w, "created_at");
	ec_jw_str(&w, in->env.created_at);
	ec_jw_key(&w, "comment");
	ec_jw_str(&w, in->env.comment);
	ec_jw_key(&w, "token_length");
	ec_jw_uint(&w, in->env.encrypted_len);
	ec_jw_key(&w, "token_timestamp");
	ec_jw_str(&w, ts_iso(in, iso) ? iso : NULL);
	ec_jw_key(&w, "token_seconds");
	if (in->has_ts)
		ec_jw_uint(&w, in->ts);
	else
		ec_jw_null(&w);
	ec_jw_close(&w);
	ec_buf_addc(out, '\n');
}

int ec_cmd_inspect(struct ec_opts *o, int argc, char **args)
{
	struct inspected in;
	struct ec_buf out = { 0 };
	int rc, ret;

	(void)argc;
	memset(&in, 0, sizeof(in));
	in.file = args[0];
	rc = ec_inspect_file(args[0], &in.env, &in.st, &in.ts, &in.has_ts);
	if (rc < 0) {
		ec_complain("cannot inspect '%s': %s", args[0], ec_errtext(rc));
		return EXIT_INVALID;
	}
	if (o->json)
		inspect_json(&in, &out);
	else
		inspect_text(&in, &out);
	ret = ec_flush_stdout(out.p, out.len);
	ec_buf_release(&out);
	ec_envelope_release(&in.env);
	return ret;
}
