/*
 * cli: the enccache command.  Parses argv, reads the secrets file, opens
 * the cache through the core API and prints.  The contract (options,
 * output, exit codes) is man/enccache.1.
 *
 * Every error is reported once, as one line on stderr, where it is
 * decided; nothing is written to stdout on an error, since all output is
 * built in memory first and written at the end.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"
#include "error.h"
#include "probe.h"
#include "secure.h"
#include "startup.h"
#include "store.h"
#include "ttl.h"
#include "view.h"

enum {
	EXIT_INVALID = 1,	/* entry missing, stale or not valid */
	EXIT_USAGE = 2,
	EXIT_CONFIG = 3,
	EXIT_IO = 4,
};

#define READ_CHUNK (64u << 10)

/* ---- plain heap text buffer (never holds secrets) --------------------- */

struct buf {
	char *p;
	size_t len;
	size_t cap;
};

static void oom(void)
{
	static const char msg[] = "enccache: out of memory\n";

	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
		/* nothing more we can do */
	}
	exit(EXIT_IO);
}

static void buf_add(struct buf *b, const void *data, size_t n)
{
	if (b->cap - b->len <= n) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap - b->len <= n) {
			if (cap > SIZE_MAX / 2)
				oom();
			cap *= 2;
		}
		p = realloc(b->p, cap);
		if (!p)
			oom();
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void buf_addc(struct buf *b, char c)
{
	buf_add(b, &c, 1);
}

__attribute__((format(printf, 2, 3)))
static void buf_addf(struct buf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		buf_add(b, small, (size_t)n);
		return;
	}
	{
		char *big = malloc((size_t)n + 1);

		if (!big)
			oom();
		va_start(ap, fmt);
		vsnprintf(big, (size_t)n + 1, fmt, ap);
		va_end(ap);
		buf_add(b, big, (size_t)n);
		free(big);
	}
}

static void buf_release(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* Text for a terminal line: control characters become \xNN, so a name or
 * comment can never break a line or send escape sequences. */
static void buf_add_printable(struct buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f)
			buf_addf(b, "\\x%02x", c);
		else
			buf_addc(b, (char)c);
	}
}

/* ---- JSON string escaping -------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when invalid. */
static size_t utf8_seq(const unsigned char *s)
{
	uint32_t cp;
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)	/* also stops at the NUL */
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

static bool is_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t n = utf8_seq(p);

		if (n == 0)
			return false;
		p += n;
	}
	return true;
}

/* A JSON string literal for s; bytes that are not UTF-8 become U+FFFD,
 * so the output is always valid JSON.  NULL gives null. */
static void buf_add_json(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (!s) {
		buf_adds(b, "null");
		return;
	}
	buf_addc(b, '"');
	while (*p) {
		size_t n;

		switch (*p) {
		case '"':  buf_adds(b, "\\\""); p++; continue;
		case '\\': buf_adds(b, "\\\\"); p++; continue;
		case '\b': buf_adds(b, "\\b"); p++; continue;
		case '\f': buf_adds(b, "\\f"); p++; continue;
		case '\n': buf_adds(b, "\\n"); p++; continue;
		case '\r': buf_adds(b, "\\r"); p++; continue;
		case '\t': buf_adds(b, "\\t"); p++; continue;
		default: break;
		}
		if (*p < 0x20 || *p == 0x7f) {
			buf_addf(b, "\\u%04x", *p);
			p++;
			continue;
		}
		n = utf8_seq(p);
		if (n == 0) {
			buf_adds(b, "\\ufffd");
			p++;
			continue;
		}
		buf_add(b, p, n);
		p += n;
	}
	buf_addc(b, '"');
}

/* ---- output ---------------------------------------------------------- */

/* Write all of data to fd, through EINTR and short writes.  0 or -errno. */
static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* ec_startup_errtext() for one message at a time. */
static const char *errtext(int err)
{
	static char text[EC_STARTUP_ERRTEXT_MAX];

	return ec_startup_errtext(err, text, sizeof(text));
}

/* One line on stderr: "enccache: <message>".  Control characters in the
 * message (from ids or file names) are escaped. */
__attribute__((format(printf, 1, 2)))
static void complain(const char *fmt, ...)
{
	struct buf msg = { 0 }, line = { 0 };
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	msg.p = malloc((size_t)n + 1);
	if (!msg.p)
		oom();
	va_start(ap, fmt);
	vsnprintf(msg.p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	buf_adds(&line, "enccache: ");
	buf_add_printable(&line, msg.p);
	buf_addc(&line, '\n');
	(void)write_all(STDERR_FILENO, line.p, line.len);
	free(msg.p);
	buf_release(&line);
}

/* Write out to stdout; 0, or EXIT_IO after reporting. */
static int flush_stdout(const void *data, size_t len)
{
	int rc = write_all(STDOUT_FILENO, data, len);

	if (rc < 0) {
		complain("cannot write to standard output: %s", errtext(rc));
		return EXIT_IO;
	}
	return 0;
}

/* ---- options --------------------------------------------------------- */

enum cmd_opt {			/* options that belong to one command */
	CO_KEY = 1u << 0,
	CO_COMMENT = 1u << 1,
	CO_VALIDASOF = 1u << 2,
	CO_STALE_OK = 1u << 3,
	CO_ALL = 1u << 4,
	CO_JSON = 1u << 5,
	CO_LENGTH = 1u << 6,
	CO_PREFIX = 1u << 7,
	CO_VIEW = 1u << 8,
	CO_CREATED = 1u << 9,
};

struct opts {
	const char *secrets;
	const char *extpass;
	const char *salt;
	const char *salt_file;
	const char *dir;
	const char *suffix;
	const char *ttl_text;
	const char *oldest_text;
	bool sync;
	/* per command */
	const char *key;
	const char *comment;
	const char *validasof;
	bool stale_ok;
	bool all;
	bool json;
	const char *length_text;
	const char *prefix;
	const char *view_text;
	const char *created_text;
	unsigned used;		/* CO_* seen */
	/* parsed */
	struct ec_ttl ttl;
	int64_t oldest_us;
	unsigned length;
	enum ec_view view;
	int64_t created_us;
};

struct command {
	const char *name;
	int nargs;
	bool needs_keys;	/* and the cache directory */
	unsigned allowed;	/* CO_* */
	int (*run)(const struct opts *o, char **args);
};

enum {
	OPT_SECRETS = 256, OPT_SALT, OPT_SALT_FILE, OPT_DIR, OPT_SUFFIX,
	OPT_TTL, OPT_OLDEST, OPT_SYNC, OPT_KEY, OPT_COMMENT, OPT_VALIDASOF,
	OPT_STALE_OK, OPT_ALL, OPT_JSON, OPT_LENGTH, OPT_PREFIX, OPT_VIEW,
	OPT_CREATED, OPT_EXTPASS,
};

static const struct option long_options[] = {
	{ "secrets", required_argument, NULL, OPT_SECRETS },
	{ "extpass", required_argument, NULL, OPT_EXTPASS },
	{ "salt", required_argument, NULL, OPT_SALT },
	{ "salt-file", required_argument, NULL, OPT_SALT_FILE },
	{ "dir", required_argument, NULL, OPT_DIR },
	{ "suffix", required_argument, NULL, OPT_SUFFIX },
	{ "ttl", required_argument, NULL, OPT_TTL },
	{ "oldest-valid", required_argument, NULL, OPT_OLDEST },
	{ "sync", no_argument, NULL, OPT_SYNC },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "comment", required_argument, NULL, OPT_COMMENT },
	{ "validasof", required_argument, NULL, OPT_VALIDASOF },
	{ "stale-ok", no_argument, NULL, OPT_STALE_OK },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "length", required_argument, NULL, OPT_LENGTH },
	{ "prefix", required_argument, NULL, OPT_PREFIX },
	{ "view", required_argument, NULL, OPT_VIEW },
	{ "created-at", required_argument, NULL, OPT_CREATED },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static const char *const co_names[] = {
	"--key", "--comment", "--validasof", "--stale-ok", "--all", "--json",
	"--length", "--prefix", "--view", "--created-at",
};

static const char usage_text[] =
"usage: enccache [OPTIONS] COMMAND [ARGS]\n"
"\n"
"Read and write an encrypted cache directory of the Python encrypted_cache\n"
"module.\n"
"\n"
"Commands:\n"
"  put ID [--key NAME] [--comment TEXT] [--validasof ISO] [--view VIEW]\n"
"         [--created-at ISO]\n"
"                      store standard input as the entry ID; --view json\n"
"                       stores a JSON document as a binary plist (what\n"
"                       execute_cached stores), --view xml an XML plist\n"
"  get ID [--stale-ok] [--view VIEW]\n"
"                      write the entry's data to standard output; --view\n"
"                       json|xml|auto renders binary plists as text\n"
"  ls [--all] [--json]  list valid entries (--all: every envelope)\n"
"  rm ID                remove the entry ID\n"
"  hash TEXT [--length N] [--prefix P]\n"
"                      print get_hashed_filename(TEXT) (no secrets needed)\n"
"  inspect FILE         print an envelope's cleartext metadata (no secrets)\n"
"\n"
"Options:\n"
"  --secrets FILE       JSON object of key names to passwords (mode 0600);\n"
"                       - or /dev/fd/N read standard input or a pipe\n"
"  --extpass COMMAND    run COMMAND (with /bin/sh) and read the secrets\n"
"                       JSON from its standard output\n"
"  --salt TEXT          the salt, as the UTF-8 bytes of TEXT\n"
"  --salt-file FILE     the salt, as the exact bytes of FILE\n"
"  --dir CACHEDIR       the cache directory\n"
"  --suffix SUF         envelope file suffix (default .enc.json)\n"
"  --ttl TTL            'inf', '0', a duration ('5 days', '3d 2h 30m') or\n"
"                       an ISO-8601 expiry time (default '5 days')\n"
"  --oldest-valid ISO   entries created before ISO are stale\n"
"  --sync               fsync each saved entry and its directory\n"
"  -h, --help           show this help and exit\n"
"  -V, --version        show the version and exit\n"
"\n"
"Exit status:\n"
"  0  success\n"
"  1  entry missing, stale or not valid\n"
"  2  usage error (bad option, argument, TTL, time, id or length)\n"
"  3  configuration error (secrets file, salt, cache directory, key name)\n"
"  4  I/O error (the old entry is left intact)\n"
"\n"
"Environment:\n"
"  ENCCACHE_SECRETS     default for --secrets\n"
"  ENCCACHE_SALT_FILE   default for --salt-file (when no --salt is given)\n"
"  ENCCACHE_DIR         default for --dir\n";

static const char *env_or(const char *value, const char *name)
{
	const char *e;

	if (value)
		return value;
	e = getenv(name);
	return e && *e ? e : NULL;
}

/* Strict decimal, 8..64. */
static int parse_length(const char *text, unsigned *out)
{
	unsigned v = 0;
	const char *p;

	if (!*text)
		return -EINVAL;
	for (p = text; *p; p++) {
		if (*p < '0' || *p > '9' || v > 1000)
			return -EINVAL;
		v = v * 10 + (unsigned)(*p - '0');
	}
	if (v < 8 || v > 64)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Parse argv.  0 with *cmd_index at the command word, or an exit code
 * (-1 for a clean exit after --help/--version). */
static int parse_args(int argc, char **argv, struct opts *o, int *cmd_index)
{
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hV", long_options,
				NULL)) != -1) {
		switch (c) {
		case OPT_SECRETS: o->secrets = optarg; break;
		case OPT_EXTPASS: o->extpass = optarg; break;
		case OPT_SALT: o->salt = optarg; break;
		case OPT_SALT_FILE: o->salt_file = optarg; break;
		case OPT_DIR: o->dir = optarg; break;
		case OPT_SUFFIX: o->suffix = optarg; break;
		case OPT_TTL: o->ttl_text = optarg; break;
		case OPT_OLDEST: o->oldest_text = optarg; break;
		case OPT_SYNC: o->sync = true; break;
		case OPT_KEY: o->key = optarg; o->used |= CO_KEY; break;
		case OPT_COMMENT:
			o->comment = optarg;
			o->used |= CO_COMMENT;
			break;
		case OPT_VALIDASOF:
			o->validasof = optarg;
			o->used |= CO_VALIDASOF;
			break;
		case OPT_STALE_OK:
			o->stale_ok = true;
			o->used |= CO_STALE_OK;
			break;
		case OPT_ALL: o->all = true; o->used |= CO_ALL; break;
		case OPT_JSON: o->json = true; o->used |= CO_JSON; break;
		case OPT_LENGTH:
			o->length_text = optarg;
			o->used |= CO_LENGTH;
			break;
		case OPT_PREFIX:
			o->prefix = optarg;
			o->used |= CO_PREFIX;
			break;
		case OPT_VIEW:
			o->view_text = optarg;
			o->used |= CO_VIEW;
			break;
		case OPT_CREATED:
			o->created_text = optarg;
			o->used |= CO_CREATED;
			break;
		case 'h':
			if (flush_stdout(usage_text, sizeof(usage_text) - 1))
				return EXIT_IO;
			return -1;
		case 'V': {
			static const char v[] =
				"enccache " PACKAGE_VERSION "\n";

			if (flush_stdout(v, sizeof(v) - 1))
				return EXIT_IO;
			return -1;
		}
		case ':':
			complain("option '%s' needs an argument",
				 argv[optind - 1]);
			return EXIT_USAGE;
		default:
			if (optopt && strncmp(argv[optind - 1], "--", 2) == 0 &&
			    strchr(argv[optind - 1], '='))
				complain("option '%.*s' takes no argument",
					 (int)(strchr(argv[optind - 1], '=') -
					       argv[optind - 1]),
					 argv[optind - 1]);
			else if (optopt > 0 && optopt < 128)
				complain("unknown option '-%c' (see 'enccache "
					 "--help')", optopt);
			else
				complain("unknown option '%s' (see 'enccache "
					 "--help')", argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	*cmd_index = optind;
	return 0;
}

/* Check every text argument before anything touches the cache. */
static int validate(struct opts *o, const struct command *cmd, char **args)
{
	unsigned bad = o->used & ~cmd->allowed;
	int rc;

	if (bad) {
		unsigned i;

		for (i = 0; !(bad & (1u << i)); i++)
			;
		complain("option '%s' does not apply to '%s'", co_names[i],
			 cmd->name);
		return EXIT_USAGE;
	}
	if (o->salt && o->salt_file) {
		complain("--salt and --salt-file cannot be used together");
		return EXIT_USAGE;
	}
	o->ttl = ec_ttl_default();
	if (o->ttl_text) {
		rc = ec_ttl_parse(o->ttl_text, &o->ttl);
		if (rc < 0) {
			complain("invalid --ttl '%s': %s", o->ttl_text,
				 errtext(rc));
			return EXIT_USAGE;
		}
	}
	o->oldest_us = EC_TIME_NONE;
	if (o->oldest_text) {
		rc = ec_time_parse_iso(o->oldest_text, &o->oldest_us);
		if (rc < 0) {
			complain("invalid --oldest-valid '%s': %s",
				 o->oldest_text, errtext(rc));
			return EXIT_USAGE;
		}
	}
	if (o->validasof) {
		int64_t us;

		rc = ec_time_parse_iso(o->validasof, &us);
		if (rc < 0) {
			complain("invalid --validasof '%s': %s", o->validasof,
				 errtext(rc));
			return EXIT_USAGE;
		}
	}
	o->view = EC_VIEW_RAW;
	if (o->view_text && ec_view_parse(o->view_text, &o->view) < 0) {
		complain("invalid --view '%s': must be raw, json, xml or auto",
			 o->view_text);
		return EXIT_USAGE;
	}
	o->created_us = EC_TIME_NONE;
	if (o->created_text) {
		rc = ec_time_parse_iso(o->created_text, &o->created_us);
		if (rc < 0) {
			complain("invalid --created-at '%s': %s",
				 o->created_text, errtext(rc));
			return EXIT_USAGE;
		}
	}
	if (o->suffix && (!*o->suffix || strchr(o->suffix, '/'))) {
		complain("invalid --suffix '%s': must be non-empty, "
			 "without '/'", o->suffix);
		return EXIT_USAGE;
	}
	o->length = 32;
	if (o->length_text && parse_length(o->length_text, &o->length) < 0) {
		complain("invalid --length '%s': must be a number from 8 to 64",
			 o->length_text);
		return EXIT_USAGE;
	}
	if (o->comment && !is_utf8(o->comment)) {
		complain("invalid --comment: %s", errtext(-EC_EUTF8));
		return EXIT_USAGE;
	}
	if (o->key && !*o->key) {
		complain("invalid --key '': must not be empty");
		return EXIT_USAGE;
	}
	if (cmd->needs_keys && cmd->nargs == 1) {
		rc = ec_store_check_id(args[0]);
		if (rc < 0) {
			complain("invalid id '%s': %s", args[0], errtext(rc));
			return EXIT_USAGE;
		}
	}
	return 0;
}

/* ---- opening the cache ----------------------------------------------- */

/* Report the failed start-up step, worded as enccachefs words it. */
static void complain_startup(const struct ec_startup *st)
{
	size_t n = ec_startup_message(st, NULL, 0);
	char *msg = malloc(n + 1);

	if (!msg)
		oom();
	ec_startup_message(st, msg, n + 1);
	complain("%s", msg);
	free(msg);
}

/* Everything the commands with keys need; 0 or an exit code (reported). */
static int open_cache(const struct opts *o, bool for_put,
		      struct ec_cache **out)
{
	struct ec_startup st;
	struct ec_cache_options co;
	const char *dir;
	struct stat st_dir;
	int rc, ret = EXIT_CONFIG;

	ec_startup_init(&st);
	st.extpass = o->extpass;
	st.secrets_file = o->extpass ? NULL :
		env_or(o->secrets, "ENCCACHE_SECRETS");
	st.salt_text = o->salt;
	st.salt_file = o->salt ? NULL : env_or(o->salt_file,
					       "ENCCACHE_SALT_FILE");
	st.key = o->key;
	dir = env_or(o->dir, "ENCCACHE_DIR");
	if (!dir) {
		complain("no cache directory: use --dir or set ENCCACHE_DIR");
		goto out;
	}
	if (o->extpass && o->secrets) {
		complain("options --secrets and --extpass cannot be used "
			 "together");
		goto out;
	}
	if (!st.secrets_file && !st.extpass) {
		complain("no secrets file: use --secrets, --extpass or set "
			 "ENCCACHE_SECRETS");
		goto out;
	}
	if (for_put && st.secrets_file &&
	    ec_secrets_fd_of(st.secrets_file) == 0) {
		complain("cannot read secrets from standard input: put reads "
			 "the entry from it (use --secrets /dev/fd/N or "
			 "--extpass)");
		goto out;
	}
	if (!st.salt_text && !st.salt_file) {
		complain("no salt: use --salt, --salt-file or set "
			 "ENCCACHE_SALT_FILE");
		goto out;
	}
	rc = stat(dir, &st_dir) < 0 ? -errno :
		!S_ISDIR(st_dir.st_mode) ? -ENOTDIR : 0;
	if (rc < 0) {
		ec_startup_open_failed(&st, dir, rc);
		complain_startup(&st);
		goto out;
	}
	if (ec_startup_read_salt(&st) == -ENOMEM)
		oom();
	if (st.failed || ec_startup_read_secrets(&st, for_put) < 0) {
		complain_startup(&st);
		goto out;
	}

	memset(&co, 0, sizeof(co));
	co.dir = dir;
	co.suffix = o->suffix;
	co.salt = st.salt;
	co.salt_len = st.salt_len;
	co.ttl = o->ttl;
	co.oldest_valid_us = o->oldest_us;
	co.default_key = o->key;
	co.iterations = 0;
	co.durable = o->sync;
	rc = ec_cache_open(&co, &st.secrets, out);	/* releases secrets */
	if (rc < 0) {
		ec_startup_open_failed(&st, dir, rc);
		complain_startup(&st);
		goto out;
	}
	ret = 0;
out:
	ec_startup_release(&st);
	return ret;
}

/* ---- states and reasons ---------------------------------------------- */

/* Why e is not valid at now (ec_entry_reason_text()), malloc'd. */
static char *reason_text(const struct ec_cache *c, const struct ec_entry *e,
			 int64_t now)
{
	size_t n = ec_entry_reason_text(c, e, now, NULL, 0);
	char *p = malloc(n + 1);

	if (!p)
		oom();
	ec_entry_reason_text(c, e, now, p, n + 1);
	return p;
}

/* The expiry to show: EC_TIME_NEVER, an instant, or EC_TIME_NONE when
 * there is none (always stale, or the envelope was not authenticated). */
static int64_t shown_expiry(const struct opts *o, const struct ec_entry *e,
			    enum ec_state state)
{
	if (state != EC_STATE_VALID && state != EC_STATE_STALE)
		return EC_TIME_NONE;
	return ec_ttl_expiry(&o->ttl, e->created_us, o->oldest_us);
}

/* ---- commands -------------------------------------------------------- */

/* Read all of stdin into guarded memory (any size). */
static int read_stdin(struct ec_sbuf *b)
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
		n = read(STDIN_FILENO, b->p + b->len, b->cap - b->len);
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

static int cmd_put(const struct opts *o, char **args)
{
	struct ec_sbuf in = EC_SBUF_INIT;
	struct ec_cache *c = NULL;
	struct ec_save_options so;
	uint8_t *conv = NULL;
	const uint8_t *data;
	size_t len;
	int rc, ret;

	ret = open_cache(o, true, &c);
	if (ret)
		goto out;
	rc = read_stdin(&in);
	if (rc < 0) {
		complain("cannot read standard input: %s", errtext(rc));
		ret = EXIT_IO;
		goto out;
	}
	data = in.p;
	len = in.len;
	if (o->view != EC_VIEW_RAW) {
		rc = ec_view_parse_content(o->view, false, in.p, in.len, &conv,
					   &len);
		if (rc < 0) {
			complain("cannot put '%s': standard input is not %s "
				 "(%s)", args[0], o->view == EC_VIEW_XML ?
				 "an XML plist" : "JSON a plist can hold",
				 errtext(rc));
			ret = EXIT_USAGE;
			goto out;
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
	rc = ec_cache_save(c, args[0], data, len, &so);
	if (rc < 0) {
		complain("cannot put '%s': %s", args[0], errtext(rc));
		if (rc == -EC_EKEY)
			ret = EXIT_CONFIG;
		else if (rc == -EC_EID || rc == -EC_ETIME || rc == -EC_EUTF8)
			ret = EXIT_USAGE;
		else
			ret = EXIT_IO;
		goto out;
	}
	ret = 0;
out:
	ec_secure_free(conv);
	ec_sbuf_release(&in);
	ec_cache_free(c);
	return ret;
}

static int cmd_get(const struct opts *o, char **args)
{
	struct ec_cache *c = NULL;
	struct ec_entry e;
	enum ec_state state;
	bool loaded = false;
	unsigned flags = EC_LOAD_DATA;
	int64_t now;
	int rc, ret;

	ret = open_cache(o, false, &c);
	if (ret)
		goto out;
	if (o->stale_ok)
		flags |= EC_LOAD_STALE_OK;
	now = ec_clock_now_us();
	rc = ec_cache_load(c, args[0], flags, now, &e);
	if (rc < 0) {
		if (rc == -ENOENT)
			complain("cannot get '%s': no such entry", args[0]);
		else
			complain("cannot get '%s': %s", args[0], errtext(rc));
		ret = rc == -EC_EID ? EXIT_USAGE : EXIT_INVALID;
		goto out;
	}
	loaded = true;
	state = ec_entry_verdict(c, &e, now, NULL);
	if (state == EC_STATE_VALID ||
	    (state == EC_STATE_STALE && o->stale_ok)) {
		if (e.len > 0 && !e.data) {
			/* the core did not decrypt it: a stale entry
			 * without EC_LOAD_STALE_OK support */
			complain("cannot get '%s': data not available",
				 args[0]);
			ret = EXIT_INVALID;
			goto out;
		}
		if (o->view == EC_VIEW_RAW) {
			ret = flush_stdout(e.data, e.len);
		} else {
			uint8_t *text;
			size_t tlen;

			rc = ec_view_render(o->view, e.data, e.len, &text,
					    &tlen, NULL);
			if (rc < 0) {
				complain("cannot get '%s': cannot render as "
					 "%s: %s", args[0], o->view_text,
					 errtext(rc));
				ret = EXIT_INVALID;
				goto out;
			}
			ret = flush_stdout(text, tlen);
			ec_secure_free(text);
		}
		goto out;
	} else {
		char *why = reason_text(c, &e, now);

		complain("cannot get '%s': %s", args[0], why);
		free(why);
		ret = EXIT_INVALID;
	}
out:
	if (loaded)
		ec_entry_release(&e);
	ec_cache_free(c);
	return ret;
}

static int cmd_rm(const struct opts *o, char **args)
{
	struct ec_cache *c = NULL;
	int rc, ret;

	ret = open_cache(o, false, &c);
	if (ret)
		goto out;
	rc = ec_cache_remove(c, args[0]);
	if (rc == -ENOENT) {
		complain("cannot remove '%s': no such entry", args[0]);
		ret = EXIT_INVALID;
	} else if (rc < 0) {
		complain("cannot remove '%s': %s", args[0], errtext(rc));
		if (rc == -EC_EID)
			ret = EXIT_USAGE;
		else if (rc == -ENOTDIR || rc == -ELOOP || rc == -EISDIR)
			ret = EXIT_INVALID;	/* no entry there */
		else
			ret = EXIT_IO;
	}
out:
	ec_cache_free(c);
	return ret;
}

struct row {
	char *id;
	enum ec_state state;
	char *reason;		/* NULL when valid */
	char *key;
	char *created_at;
	int64_t expires_us;	/* shown_expiry() */
	bool has_size;
	size_t size;
	char *comment;
	char *validasof;
};

struct listing {
	const struct opts *o;
	const struct ec_cache *c;
	int64_t now;
	struct row *rows;
	size_t n, cap;
};

static char *xstrdup_or_null(const char *s)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		oom();
	return d;
}

static int list_cb(void *ctx, const char *id, struct ec_entry *e)
{
	struct listing *l = ctx;
	enum ec_state state = ec_entry_verdict(l->c, e, l->now, NULL);
	struct row *r;

	if (state != EC_STATE_VALID && !l->o->all)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct row *rows = realloc(l->rows, cap * sizeof(*rows));

		if (!rows)
			oom();
		l->rows = rows;
		l->cap = cap;
	}
	r = &l->rows[l->n++];
	memset(r, 0, sizeof(*r));
	r->id = xstrdup_or_null(id);
	r->state = state;
	if (state != EC_STATE_VALID)
		r->reason = reason_text(l->c, e, l->now);
	r->key = xstrdup_or_null(e->env.key);
	r->created_at = xstrdup_or_null(e->env.created_at);
	r->expires_us = shown_expiry(l->o, e, state);
	/* Authenticated entries carry their size even when the plaintext
	 * was not kept. */
	r->has_size = state == EC_STATE_VALID || state == EC_STATE_STALE;
	r->size = e->len;
	r->comment = xstrdup_or_null(e->env.comment);
	r->validasof = xstrdup_or_null(e->validasof);
	return 0;
}

static void rows_free(struct listing *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		struct row *r = &l->rows[i];

		free(r->id);
		free(r->reason);
		free(r->key);
		free(r->created_at);
		free(r->comment);
		free(r->validasof);
	}
	free(l->rows);
}

static void format_expiry(int64_t us, char out[EC_TIME_ISO_MAX])
{
	if (us == EC_TIME_NEVER)
		snprintf(out, EC_TIME_ISO_MAX, "never");
	else if (us == EC_TIME_NONE)
		snprintf(out, EC_TIME_ISO_MAX, "-");
	else
		ec_time_format_iso(us, out);
}

static void ls_json(const struct listing *l, struct buf *out)
{
	size_t i;

	buf_addc(out, '[');
	for (i = 0; i < l->n; i++) {
		const struct row *r = &l->rows[i];
		char iso[EC_TIME_ISO_MAX];

		buf_adds(out, i ? ",\n " : "\n ");
		buf_adds(out, "{\"id\": ");
		buf_add_json(out, r->id);
		buf_adds(out, ", \"state\": ");
		buf_add_json(out, ec_state_name(r->state));
		buf_adds(out, ", \"reason\": ");
		buf_add_json(out, r->reason);
		buf_adds(out, ", \"key\": ");
		buf_add_json(out, r->key);
		buf_adds(out, ", \"created_at\": ");
		buf_add_json(out, r->created_at);
		buf_adds(out, ", \"expires_at\": ");
		if (r->expires_us == EC_TIME_NEVER ||
		    r->expires_us == EC_TIME_NONE) {
			buf_adds(out, "null");
		} else {
			ec_time_format_iso(r->expires_us, iso);
			buf_add_json(out, iso);
		}
		buf_adds(out, ", \"size\": ");
		if (r->has_size)
			buf_addf(out, "%zu", r->size);
		else
			buf_adds(out, "null");
		buf_adds(out, ", \"comment\": ");
		buf_add_json(out, r->comment);
		buf_adds(out, ", \"validasof\": ");
		buf_add_json(out, r->validasof);
		buf_addc(out, '}');
	}
	buf_adds(out, l->n ? "\n]\n" : "]\n");
}

/* Display width: UTF-8 code points (continuation bytes do not count). */
static size_t text_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

enum { COL_ID, COL_STATE, COL_CREATED, COL_EXPIRES, COL_KEY, COL_SIZE,
       COL_COMMENT, COL_REASON, NCOLS };

static const char *const col_titles[NCOLS] = {
	"ID", "STATE", "CREATED", "EXPIRES", "KEY", "SIZE", "COMMENT",
	"REASON",
};

/* The cells of row r (printable, malloc'd in cells[]). */
static void row_cells(const struct row *r, char *cells[NCOLS])
{
	char iso[EC_TIME_ISO_MAX];
	struct buf b;
	int i;

	for (i = 0; i < NCOLS; i++) {
		const char *v = NULL;
		char size[32];

		memset(&b, 0, sizeof(b));
		switch (i) {
		case COL_ID: v = r->id; break;
		case COL_STATE: v = ec_state_name(r->state); break;
		case COL_CREATED: v = r->created_at; break;
		case COL_EXPIRES:
			format_expiry(r->expires_us, iso);
			v = iso;
			break;
		case COL_KEY: v = r->key; break;
		case COL_SIZE:
			if (r->has_size) {
				snprintf(size, sizeof(size), "%zu", r->size);
				v = size;
			}
			break;
		case COL_COMMENT: v = r->comment; break;
		case COL_REASON: v = r->reason; break;
		}
		buf_add_printable(&b, v && *v ? v : "-");
		cells[i] = b.p;
	}
}

static void ls_table(const struct listing *l, struct buf *out)
{
	size_t width[NCOLS];
	int cols[NCOLS], ncols = 0, i;
	char *(*cells)[NCOLS];
	size_t r;

	cols[ncols++] = COL_ID;
	if (l->o->all)
		cols[ncols++] = COL_STATE;
	cols[ncols++] = COL_CREATED;
	cols[ncols++] = COL_EXPIRES;
	cols[ncols++] = COL_KEY;
	cols[ncols++] = COL_SIZE;
	cols[ncols++] = COL_COMMENT;
	if (l->o->all)
		cols[ncols++] = COL_REASON;

	cells = calloc(l->n ? l->n : 1, sizeof(*cells));
	if (!cells)
		oom();
	for (i = 0; i < NCOLS; i++)
		width[i] = strlen(col_titles[i]);
	for (r = 0; r < l->n; r++) {
		row_cells(&l->rows[r], cells[r]);
		for (i = 0; i < NCOLS; i++) {
			size_t w = text_width(cells[r][i]);

			if (w > width[i])
				width[i] = w;
		}
	}
	for (r = 0; r <= l->n; r++) {
		for (i = 0; i < ncols; i++) {
			int col = cols[i];
			const char *v = r == 0 ? col_titles[col] :
					cells[r - 1][col];
			size_t w = text_width(v), pad;

			if (col == COL_SIZE && r > 0) {
				/* numbers right-aligned */
				for (pad = w; pad < width[col]; pad++)
					buf_addc(out, ' ');
				buf_adds(out, v);
			} else {
				buf_adds(out, v);
				if (i + 1 < ncols)
					for (pad = w; pad < width[col]; pad++)
						buf_addc(out, ' ');
			}
			if (i + 1 < ncols)
				buf_adds(out, "  ");
		}
		buf_addc(out, '\n');
	}
	for (r = 0; r < l->n; r++)
		for (i = 0; i < NCOLS; i++)
			free(cells[r][i]);
	free(cells);
}

/* The verdict of the probe (probe.h); 0 or EXIT_CONFIG (reported). */
static int check_keys(const struct ec_cache *c, int64_t now)
{
	char msg[EC_REASON_MAX];
	struct ec_probe p;
	int rc;

	rc = ec_probe_cache(c, now, &p);
	if (rc == 0 && ec_probe_verdict(c, &p, msg, sizeof(msg), NULL) < 0) {
		complain("%s", msg);
		rc = EXIT_CONFIG;
	} else {
		rc = 0;		/* nothing held against listing it */
	}
	ec_probe_release(&p);
	return rc;
}

static int cmd_ls(const struct opts *o, char **args)
{
	struct listing l = { o, NULL, 0, NULL, 0, 0 };
	struct ec_cache *c = NULL;
	struct buf out = { 0 };
	int rc, ret;

	(void)args;
	ret = open_cache(o, false, &c);
	if (ret)
		goto out;
	l.c = c;
	l.now = ec_clock_now_us();
	/* A wrong password or salt would list nothing: say so instead (as
	 * enccachefs refuses to mount); --all shows every envelope's
	 * state. */
	if (!o->all) {
		ret = check_keys(c, l.now);
		if (ret)
			goto out;
	}
	/* Without EC_LOAD_DATA tokens are still authenticated and sizes
	 * known, but no plaintext is kept; --json also shows validasof,
	 * which is unpacked with the data. */
	rc = ec_cache_list(c, o->json ? EC_LOAD_DATA : 0, l.now, list_cb, &l);
	if (rc < 0) {
		complain("cannot list '%s': %s",
			 env_or(o->dir, "ENCCACHE_DIR"), errtext(rc));
		ret = EXIT_IO;
		goto out;
	}
	if (o->json)
		ls_json(&l, &out);
	else
		ls_table(&l, &out);
	ret = flush_stdout(out.p, out.len);
out:
	buf_release(&out);
	rows_free(&l);
	ec_cache_free(c);
	return ret;
}

static int cmd_hash(const struct opts *o, char **args)
{
	char *name = NULL;
	int rc, ret;

	rc = ec_hashed_filename(args[0], o->length, o->prefix, &name);
	if (rc < 0) {
		if (rc == -EINVAL && o->prefix)
			complain("invalid --prefix '%s': nothing is left of it "
				 "after folding to [a-z0-9_-]", o->prefix);
		else
			complain("cannot hash '%s': %s", args[0], errtext(rc));
		return rc == -EINVAL ? EXIT_USAGE : EXIT_IO;
	}
	{
		struct buf out = { 0 };

		buf_adds(&out, name);
		buf_addc(&out, '\n');
		ret = flush_stdout(out.p, out.len);
		buf_release(&out);
	}
	free(name);
	return ret;
}

static void add_field(struct buf *out, const char *name, const char *value)
{
	buf_adds(out, name);
	buf_adds(out, ": ");
	if (value)
		buf_add_printable(out, value);
	else
		buf_adds(out, "(none)");
	buf_addc(out, '\n');
}

static int cmd_inspect(const struct opts *o, char **args)
{
	struct ec_envelope env;
	struct stat st;
	struct buf out = { 0 };
	uint64_t ts = 0;
	bool has_ts = false;
	int rc, ret;

	(void)o;
	memset(&env, 0, sizeof(env));
	rc = ec_inspect_file(args[0], &env, &st, &ts, &has_ts);
	if (rc < 0) {
		complain("cannot inspect '%s': %s", args[0], errtext(rc));
		return EXIT_INVALID;
	}
	add_field(&out, "file", args[0]);
	buf_addf(&out, "file_size: %jd\n", (intmax_t)st.st_size);
	add_field(&out, "key", env.key);
	add_field(&out, "salt_sha256", env.salt_sha256);
	add_field(&out, "created_at", env.created_at);
	add_field(&out, "comment", env.comment);
	buf_addf(&out, "token_length: %zu\n", env.encrypted_len);
	if (has_ts && ts <= (uint64_t)(INT64_MAX / 1000000)) {
		char iso[EC_TIME_ISO_MAX];

		ec_time_format_iso((int64_t)ts * 1000000, iso);
		buf_addf(&out, "token_timestamp: %s (%" PRIu64 ")\n", iso,
			 ts);
	} else if (has_ts) {
		buf_addf(&out, "token_timestamp: %" PRIu64 "\n", ts);
	} else {
		buf_adds(&out, "token_timestamp: (unreadable)\n");
	}
	ret = flush_stdout(out.p, out.len);
	buf_release(&out);
	ec_envelope_release(&env);
	return ret;
}

static const struct command commands[] = {
	{ "put", 1, true, CO_KEY | CO_COMMENT | CO_VALIDASOF | CO_VIEW |
	  CO_CREATED, cmd_put },
	{ "get", 1, true, CO_STALE_OK | CO_VIEW, cmd_get },
	{ "ls", 0, true, CO_ALL | CO_JSON, cmd_ls },
	{ "rm", 1, true, 0, cmd_rm },
	{ "hash", 1, false, CO_LENGTH | CO_PREFIX, cmd_hash },
	{ "inspect", 1, false, 0, cmd_inspect },
};

int main(int argc, char **argv)
{
	struct opts o;
	const struct command *cmd = NULL;
	int rc, ci = 0, nargs;
	size_t i;

	/* A closed pipe is a write error (exit 4), not a silent death. */
	signal(SIGPIPE, SIG_IGN);
	memset(&o, 0, sizeof(o));
	rc = parse_args(argc, argv, &o, &ci);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (ci >= argc) {
		complain("no command given (see 'enccache --help')");
		return EXIT_USAGE;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[ci], commands[i].name) == 0)
			cmd = &commands[i];
	if (!cmd) {
		complain("unknown command '%s' (see 'enccache --help')",
			 argv[ci]);
		return EXIT_USAGE;
	}
	nargs = argc - ci - 1;
	if (nargs != cmd->nargs) {
		if (nargs < cmd->nargs)
			complain("'%s' needs %s (see 'enccache --help')",
				 cmd->name, cmd->name[0] == 'h' ? "a TEXT" :
				 cmd->name[0] == 'i' ? "a FILE" : "an ID");
		else
			complain("too many arguments for '%s': '%s'", cmd->name,
				 argv[ci + 1 + cmd->nargs]);
		return EXIT_USAGE;
	}
	rc = validate(&o, cmd, argv + ci + 1);
	if (rc)
		return rc;
	if (ec_secure_init() < 0) {
		complain("cannot initialise libsodium");
		return EXIT_IO;
	}
	return cmd->run(&o, argv + ci + 1);
}
