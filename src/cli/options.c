/*
 * options: one table of every option (global, or a CO_* bit for the
 * commands it belongs to), getopt_long over it, and the checks of every
 * text argument before anything touches the cache.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "cli.h"
#include "error.h"
#include "store.h"

struct optdef {
	const char *name;	/* long name */
	bool has_arg;		/* a string option, else a flag */
	unsigned co;		/* CO_*, 0 for a global option */
	size_t off;		/* offsetof(struct ec_opts, field) */
	const char *shown;	/* how messages name it (NULL: --name) */
};

#define STR(n, f, co) { n, true, co, offsetof(struct ec_opts, f), NULL }
#define FLAG(n, f, co) { n, false, co, offsetof(struct ec_opts, f), NULL }

/* The order of the CO_* options is the order "does not apply" picks. */
static const struct optdef defs[] = {
	STR("secrets", secrets, 0),
	STR("extpass", extpass, 0),
	STR("salt", salt, 0),
	STR("salt-file", salt_file, 0),
	STR("dir", dir, 0),
	STR("suffix", suffix, 0),
	STR("ttl", ttl_text, 0),
	STR("oldest-valid", oldest_text, 0),
	STR("ttl-rules", ttl_rules, 0),
	FLAG("sync", sync, 0),
	FLAG("quiet", quiet, 0),
	STR("jobs", jobs_text, 0),
	FLAG("verbose", verbose, 0),
	FLAG("no-agent", no_agent, 0),
	STR("agent-timeout", agent_timeout_text, 0),
	STR("key", key, CO_KEY),
	STR("comment", comment, CO_COMMENT),
	STR("validasof", validasof, CO_VALIDASOF),
	FLAG("stale-ok", stale_ok, CO_STALE_OK),
	FLAG("all", all, CO_ALL),
	FLAG("json", json, CO_JSON),
	STR("length", length_text, CO_LENGTH),
	STR("prefix", prefix, CO_PREFIX),
	STR("view", view_text, CO_VIEW),
	STR("created-at", created_text, CO_CREATED),
	FLAG("stdin", stdin_ids, CO_STDIN),
	{ "null", false, CO_NULL, offsetof(struct ec_opts, null_ids), "-0" },
	STR("from-dir", from_dir, CO_FROM_DIR),
	STR("output-dir", output_dir, CO_OUTPUT_DIR),
	FLAG("dry-run", dry_run, CO_DRY_RUN),
	FLAG("unopenable", unopenable, CO_UNOPENABLE),
	STR("max-size", max_size_text, CO_MAX_SIZE),
	STR("format", format_text, CO_FORMAT),
	STR("mount", mount, CO_MOUNT),
	FLAG("prometheus", prometheus, CO_PROMETHEUS),
	STR("new-salt", new_salt, CO_NEW_SALT),
	STR("new-salt-file", new_salt_file, CO_NEW_SALT_FILE),
	STR("new-secrets", new_secrets, CO_NEW_SECRETS),
	STR("map", map_last, CO_MAP),
};
#define NDEFS (sizeof(defs) / sizeof(*defs))
#define OPT_BASE 256

static void set(struct ec_opts *o, const struct optdef *d, const char *arg)
{
	char *field = (char *)o + d->off;

	if (d->has_arg)
		*(const char **)(void *)field = arg;
	else
		*(bool *)(void *)field = true;
	o->used |= d->co;
	if (d->co == CO_MAP) {		/* --map may be given many times */
		if (o->nmaps < EC_CLI_MAPS_MAX)
			o->maps[o->nmaps] = arg;
		o->nmaps++;
	}
	if (d->co == CO_NULL) {		/* -0 reads the ids from stdin */
		o->stdin_ids = true;
		o->used |= CO_STDIN;
	}
}

static const struct optdef *def_named(const char *name)
{
	size_t i;

	for (i = 0; i < NDEFS; i++)
		if (!strcmp(defs[i].name, name))
			return &defs[i];
	abort();	/* a short option without a table row: a bug */
}

/* --help and --version; 0 or EXIT_IO. */
static int print_version(void)
{
	static const char v[] = "enccache " PACKAGE_VERSION "\n";

	return ec_flush_stdout(v, sizeof(v) - 1);
}

/* The message for an option getopt refused. */
static void complain_unknown(char **argv)
{
	const char *arg = argv[optind - 1];

	if (optopt && strncmp(arg, "--", 2) == 0 && strchr(arg, '='))
		ec_complain("option '%.*s' takes no argument",
			    (int)(strchr(arg, '=') - arg), arg);
	else if (optopt > 0 && optopt < 128)
		ec_complain("unknown option '-%c' (see 'enccache --help')",
			    optopt);
	else
		ec_complain("unknown option '%s' (see 'enccache --help')",
			    arg);
}

int ec_options_parse(int argc, char **argv, struct ec_opts *o,
		     int *cmd_index)
{
	struct option longs[NDEFS + 3];
	size_t i;
	int c;

	for (i = 0; i < NDEFS; i++) {
		longs[i].name = defs[i].name;
		longs[i].has_arg = defs[i].has_arg ? required_argument :
						     no_argument;
		longs[i].flag = NULL;
		longs[i].val = OPT_BASE + (int)i;
	}
	longs[i++] = (struct option){ "help", no_argument, NULL, 'h' };
	longs[i++] = (struct option){ "version", no_argument, NULL, 'V' };
	longs[i] = (struct option){ NULL, 0, NULL, 0 };

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hVq0v", longs, NULL)) != -1) {
		if (c >= OPT_BASE) {
			set(o, &defs[c - OPT_BASE], optarg);
			continue;
		}
		switch (c) {
		case 'q': set(o, def_named("quiet"), NULL); break;
		case 'v': set(o, def_named("verbose"), NULL); break;
		case '0': set(o, def_named("null"), NULL); break;
		case 'h':
			if (ec_flush_stdout(ec_usage_text,
					    strlen(ec_usage_text)))
				return EXIT_IO;
			return -1;
		case 'V':
			return print_version() ? EXIT_IO : -1;
		case ':':
			ec_complain("option '%s' needs an argument",
				    argv[optind - 1]);
			return EXIT_USAGE;
		default:
			complain_unknown(argv);
			return EXIT_USAGE;
		}
	}
	*cmd_index = optind;
	return 0;
}

const char *ec_env_or(const char *value, const char *name)
{
	const char *e;

	if (value)
		return value;
	e = getenv(name);
	return e && *e ? e : NULL;
}

/* Strict decimal in [lo, hi]. */
static int parse_uint(const char *text, unsigned lo, unsigned hi,
		      unsigned *out)
{
	unsigned v = 0;
	const char *p;

	if (!*text)
		return -EINVAL;
	for (p = text; *p; p++) {
		if (*p < '0' || *p > '9' || v > 100000)
			return -EINVAL;
		v = v * 10 + (unsigned)(*p - '0');
	}
	if (v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

int ec_options_size(const char *text, uint64_t *out)
{
	static const char units[] = "kmgt";
	uint64_t v = 0, mul = 1;
	const char *p = text, *u;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (*p && (u = strchr(units, *p | 0x20)) != NULL) {
		mul = 1ull << (10 * (u - units + 1));
		p++;
		if (*p == 'i')
			p++;
	}
	if (*p == 'B' || (*p == 'b' && mul == 1))
		p++;
	if (*p || (v && mul > UINT64_MAX / v))
		return -EINVAL;
	*out = v * mul;
	return 0;
}

/* --ttl, --oldest-valid, --validasof, --created-at: 0 or EXIT_USAGE. */
static int check_times(struct ec_opts *o)
{
	int64_t us;
	int rc;

	o->ttl = ec_ttl_default();
	if (o->ttl_text && (rc = ec_ttl_parse(o->ttl_text, &o->ttl)) < 0) {
		ec_complain("invalid --ttl '%s': %s", o->ttl_text,
			    ec_errtext(rc));
		return EXIT_USAGE;
	}
	o->oldest_us = EC_TIME_NONE;
	if (o->oldest_text &&
	    (rc = ec_time_parse_iso(o->oldest_text, &o->oldest_us)) < 0) {
		ec_complain("invalid --oldest-valid '%s': %s", o->oldest_text,
			    ec_errtext(rc));
		return EXIT_USAGE;
	}
	if (o->validasof && (rc = ec_time_parse_iso(o->validasof, &us)) < 0) {
		ec_complain("invalid --validasof '%s': %s", o->validasof,
			    ec_errtext(rc));
		return EXIT_USAGE;
	}
	o->view = EC_VIEW_RAW;
	if (o->view_text && ec_view_parse(o->view_text, &o->view) < 0) {
		ec_complain("invalid --view '%s': must be raw, json, xml or "
			    "auto", o->view_text);
		return EXIT_USAGE;
	}
	o->created_us = EC_TIME_NONE;
	if (o->created_text &&
	    (rc = ec_time_parse_iso(o->created_text, &o->created_us)) < 0) {
		ec_complain("invalid --created-at '%s': %s", o->created_text,
			    ec_errtext(rc));
		return EXIT_USAGE;
	}
	return 0;
}

/* The options that came with the manager commands; 0 or EXIT_USAGE. */
static int check_new_texts(struct ec_opts *o, const struct ec_command *cmd)
{
	enum ec_archive_format f;

	o->jobs = 0;
	if (o->jobs_text && parse_uint(o->jobs_text, 1, EC_SCAN_THREADS_MAX,
				       &o->jobs) < 0) {
		ec_complain("invalid --jobs '%s': must be a number from 1 to "
			    "%d", o->jobs_text, EC_SCAN_THREADS_MAX);
		return EXIT_USAGE;
	}
	o->max_size = UINT64_MAX;
	if (o->max_size_text &&
	    ec_options_size(o->max_size_text, &o->max_size) < 0) {
		ec_complain("invalid --max-size '%s': must be a size such as "
			    "2G, 500M or 100000", o->max_size_text);
		return EXIT_USAGE;
	}
	if (o->format_text &&
	    ec_archive_format_parse(o->format_text,
				    !strcmp(cmd->name, "import"), &f) < 0) {
		ec_complain("invalid --format '%s': must be tar or jsonl%s",
			    o->format_text, !strcmp(cmd->name, "import") ?
			    " (or auto)" : "");
		return EXIT_USAGE;
	}
	if (o->from_dir && !*o->from_dir) {
		ec_complain("invalid --from-dir '': must not be empty");
		return EXIT_USAGE;
	}
	if (o->prometheus && o->json) {
		ec_complain("--json and --prometheus cannot be used together");
		return EXIT_USAGE;
	}
	return 0;
}

/* The checks of the options that are texts; 0 or EXIT_USAGE. */
static int check_texts(struct ec_opts *o, const struct ec_command *cmd)
{
	if (o->suffix && (!*o->suffix || strchr(o->suffix, '/'))) {
		ec_complain("invalid --suffix '%s': must be non-empty, "
			    "without '/'", o->suffix);
		return EXIT_USAGE;
	}
	o->length = 32;
	if (o->length_text && parse_uint(o->length_text, 8, 64,
					 &o->length) < 0) {
		ec_complain("invalid --length '%s': must be a number from 8 to "
			    "64", o->length_text);
		return EXIT_USAGE;
	}
	if (o->comment && !ec_view_is_utf8(o->comment, strlen(o->comment))) {
		ec_complain("invalid --comment: %s", ec_errtext(-EC_EUTF8));
		return EXIT_USAGE;
	}
	if (o->key && !*o->key) {
		ec_complain("invalid --key '': must not be empty");
		return EXIT_USAGE;
	}
	return check_new_texts(o, cmd);
}

/* Each argument that is a cache id (put with --from-dir: a directory
 * path under which the files go); 0 or EXIT_USAGE. */
static int check_ids(const struct ec_opts *o, int argc, char **args)
{
	int i, rc;

	for (i = 0; i < argc; i++) {
		rc = o->from_dir ? ec_store_check_dir(args[i]) :
			ec_store_check_id(args[i]);
		if (rc < 0) {
			ec_complain("invalid id '%s': %s", args[i],
				    ec_errtext(rc));
			return EXIT_USAGE;
		}
	}
	return 0;
}

int ec_options_check(struct ec_opts *o, const struct ec_command *cmd,
		     int argc, char **args)
{
	unsigned bad = o->used & ~cmd->allowed;
	int rc;

	if (bad) {
		size_t i;

		for (i = 0; i < NDEFS; i++)
			if (defs[i].co & bad & -bad) {	/* the lowest bit */
				ec_complain("option '%s%s' does not apply to "
					    "'%s'", defs[i].shown ? "" : "--",
					    defs[i].shown ? defs[i].shown :
					    defs[i].name, cmd->name);
				break;
			}
		return EXIT_USAGE;
	}
	if (o->salt && o->salt_file) {
		ec_complain("--salt and --salt-file cannot be used together");
		return EXIT_USAGE;
	}
	rc = check_times(o);
	if (!rc)
		rc = ec_cli_agent_check(o);
	if (!rc)
		rc = check_texts(o, cmd);
	if (!rc && cmd->id_args)
		rc = check_ids(o, argc, args);
	return rc;
}
