/*
 * cli: the enccache command, in git's builtin/ shape: main.c dispatches
 * from one commands[] table to one file per command (or small group), over
 * shared helpers:
 *
 *   buf.c       a heap text buffer (never secrets), printable text
 *   json.c      JSON strings and a small writer
 *   table.c     aligned text tables
 *   output.c    one-line errors, writing stdout, the summary line
 *   progress.c  the progress line on a terminal
 *   options.c   the option table, parsing and checking argv
 *   open.c      opening the cache, ids from argv and stdin (and the
 *               prologue and epilogue of a batch over them), scanning
 *
 * The contract (commands, options, output, exit codes) is man/enccache.1.
 * Every error is reported once, as one line on stderr starting with
 * "enccache: ", where it is decided.  A command that writes one document
 * builds it in memory and writes it at the end, so nothing reaches stdout
 * on an error; streams (export, get --output-dir) say on stderr where
 * they stopped.  libcore does the work (cache.h, scan.h, archive.h...).
 */
#ifndef EC_CLI_H
#define EC_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "cache.h"
#include "scan.h"
#include "ttl.h"
#include "view.h"

enum {
	EXIT_INVALID = 1,	/* entry missing, stale or not valid; fsck
				   found damage */
	EXIT_USAGE = 2,		/* bad option, argument or input */
	EXIT_CONFIG = 3,	/* secrets, salt, directory, key name */
	EXIT_IO = 4,		/* reading or writing failed */
};

/* The worse of two exit statuses (the higher). */
static inline int ec_worse(int a, int b)
{
	return a > b ? a : b;
}

/* ---- buf.c: heap text (never holds secrets) ---------------------------- */

struct ec_buf {
	char *p;		/* NUL-terminated once anything was added */
	size_t len;
	size_t cap;
};

/* Out of memory: one line on stderr, exit EXIT_IO. */
void ec_oom(void) __attribute__((noreturn));
void *ec_xrealloc(void *p, size_t n);
char *ec_xstrdup(const char *s);	/* NULL gives NULL */

void ec_buf_add(struct ec_buf *b, const void *data, size_t n);
void ec_buf_adds(struct ec_buf *b, const char *s);
void ec_buf_addc(struct ec_buf *b, char c);
void ec_buf_addf(struct ec_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void ec_buf_release(struct ec_buf *b);
/* Text for a terminal line: control characters become \xNN. */
void ec_buf_add_printable(struct ec_buf *b, const char *s);

/* ---- json.c: JSON output ---------------------------------------------- */

/* A JSON string literal for s (bytes that are not UTF-8 become U+FFFD,
 * so the output is always valid JSON); NULL gives null. */
void ec_buf_add_json(struct ec_buf *b, const char *s);

/* A Prometheus label value in quotes (text exposition format: backslash,
 * double quote and newline escaped). */
void ec_buf_add_label(struct ec_buf *b, const char *s);

/*
 * A small JSON writer with Python's default separators (", " and ": "):
 * ec_jw_open('{' or '['), ec_jw_key() before each member, a value, ...,
 * ec_jw_close().  An array opened with ec_jw_open_lines() puts each
 * element on its own line, as `ls --json` does.
 */
#define EC_JW_DEPTH 8
struct ec_jw {
	struct ec_buf *b;
	unsigned depth;
	bool items[EC_JW_DEPTH];	/* a value was written at this depth */
	bool lines[EC_JW_DEPTH];
	char kind[EC_JW_DEPTH];		/* '{' or '[' */
	bool after_key;
};

void ec_jw_init(struct ec_jw *w, struct ec_buf *b);
void ec_jw_open(struct ec_jw *w, char c);
void ec_jw_open_lines(struct ec_jw *w);
void ec_jw_close(struct ec_jw *w);
void ec_jw_key(struct ec_jw *w, const char *name);
void ec_jw_str(struct ec_jw *w, const char *s);
void ec_jw_uint(struct ec_jw *w, uint64_t v);
void ec_jw_bool(struct ec_jw *w, bool v);
void ec_jw_null(struct ec_jw *w);
void ec_jw_time(struct ec_jw *w, int64_t us);	/* ISO, or null for
						   EC_TIME_NONE/NEVER */

/* ---- table.c: aligned columns ----------------------------------------- */

struct ec_table {
	size_t ncols;
	const char *const *titles;	/* borrowed; NULL: no header row */
	unsigned right;			/* bit per column: right-aligned */
	char **cells;			/* nrows * ncols, printable */
	size_t nrows, cap;
};

void ec_table_init(struct ec_table *t, size_t ncols,
		   const char *const *titles);
/* A row of ncols cells (NULL or "" shows "-"), copied printable. */
void ec_table_add(struct ec_table *t, const char *const *cells);
/* Columns joined by two spaces, each as wide as its widest cell (code
 * points), no padding after the last; right-aligned columns pad data
 * cells on the left (the header stays left). */
void ec_table_render(const struct ec_table *t, struct ec_buf *out);
void ec_table_release(struct ec_table *t);

/* ---- output.c ---------------------------------------------------------- */

/* ec_startup_errtext() for one message at a time (static storage). */
const char *ec_errtext(int err);
/* One line on stderr: "enccache: <message>", control chars escaped. */
void ec_complain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Write to stdout; 0, or EXIT_IO after reporting. */
int ec_flush_stdout(const void *data, size_t len);

struct ec_opts;
/* The summary line of a long run on stderr ("prune: removed ..."),
 * unless --quiet or --json. */
void ec_summary(const struct ec_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- progress.c -------------------------------------------------------- */

struct ec_progress {
	const char *what;	/* "fsck", "export"... */
	const char *unit;	/* "entries" */
	size_t total;		/* 0: not known */
	size_t done;
	int64_t start_us, next_us;
	bool on;		/* stderr is a terminal and not --quiet */
	bool shown;		/* a line is on the terminal now */
};

/* Start counting; the line appears after half a second of work, is
 * redrawn a few times a second (count, rate, ETA) and is erased by
 * ec_progress_end().  Nothing at all unless stderr is a terminal. */
void ec_progress_start(struct ec_progress *p, const struct ec_opts *o,
		       const char *what, size_t total);
void ec_progress_tick(struct ec_progress *p, size_t done);
void ec_progress_end(struct ec_progress *p);

/* ---- options.c --------------------------------------------------------- */

enum cmd_opt {			/* options that belong to some commands */
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
	CO_STDIN = 1u << 10,
	CO_NULL = 1u << 11,
	CO_FROM_DIR = 1u << 12,
	CO_OUTPUT_DIR = 1u << 13,
	CO_DRY_RUN = 1u << 14,
	CO_UNOPENABLE = 1u << 15,
	CO_MAX_SIZE = 1u << 16,
	CO_FORMAT = 1u << 17,
	CO_MOUNT = 1u << 18,
	CO_PROMETHEUS = 1u << 19,
	CO_NEW_SALT = 1u << 24,		/* rekey's */
	CO_NEW_SALT_FILE = 1u << 25,
	CO_NEW_SECRETS = 1u << 26,
	CO_MAP = 1u << 27,
};

struct ec_opts {
	/* global */
	const char *secrets;
	const char *extpass;
	const char *salt;
	const char *salt_file;
	const char *dir;
	const char *suffix;
	const char *ttl_text;
	const char *oldest_text;
	const char *ttl_rules;	/* --ttl-rules FILE (read by ec_cli_open) */
	const char *jobs_text;
	bool sync;
	bool quiet;
	bool verbose;		/* -v: debug lines (the key agent's) */
	bool no_agent;
	const char *agent_timeout_text;
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
	bool stdin_ids;
	bool null_ids;
	const char *from_dir;
	const char *output_dir;
	bool dry_run;
	bool unopenable;
	const char *max_size_text;
	const char *format_text;
	const char *mount;
	bool prometheus;
	const char *new_salt;		/* rekey */
	const char *new_salt_file;
	const char *new_secrets;
	const char *map_last;		/* the last --map; all of them: */
#define EC_CLI_MAPS_MAX 64
	const char *maps[EC_CLI_MAPS_MAX];	/* "old=new" each (argv's) */
	size_t nmaps;			/* given (more than kept: refused) */
	unsigned used;		/* CO_* seen */
	const char *cmd_name;	/* the command word */
	const char *stdin_use;	/* what the command reads from stdin
				   ("the entry"), or NULL */
	/* parsed */
	struct ec_ttl ttl;
	int64_t oldest_us;
	unsigned length;
	enum ec_view view;
	int64_t created_us;
	unsigned jobs;		/* 0: every core */
	uint64_t max_size;	/* UINT64_MAX: none */
	unsigned agent_timeout_s;	/* 0: no key agent (--no-agent) */
};

struct ec_command {
	const char *name;
	int min_args;
	int max_args;		/* -1: any number */
	const char *arg_word;	/* "an ID", "a TEXT", "a FILE" */
	bool id_args;		/* the arguments are cache ids: checked */
	unsigned allowed;	/* CO_* */
	int (*run)(struct ec_opts *o, int argc, char **args);
};

/* Parse argv into o.  0 with *cmd_index at the command word, or an exit
 * code (-1 for a clean exit after --help/--version). */
int ec_options_parse(int argc, char **argv, struct ec_opts *o,
		     int *cmd_index);
/* Check every option and argument before anything touches the cache;
 * 0 or an exit code (reported). */
int ec_options_check(struct ec_opts *o, const struct ec_command *cmd,
		     int argc, char **args);
/* "2G", "512M", "100k", "1234" (powers of 1024, an optional "B" or
 * "iB") -> bytes; -EINVAL. */
int ec_options_size(const char *text, uint64_t *out);
/* The value of ENCCACHE_* when value is NULL. */
const char *ec_env_or(const char *value, const char *name);

extern const char ec_usage_text[];

/* ---- open.c ------------------------------------------------------------ */

/* Everything the commands with keys need; 0 or an exit code (reported). */
int ec_cli_open(const struct ec_opts *o, bool for_put, struct ec_cache **out);
/* The cache directory the options name (for messages). */
const char *ec_cli_dir(const struct ec_opts *o);
struct ec_startup;
/* Report the failed start-up step st, worded as enccachefs words it. */
void ec_cli_complain_startup(const struct ec_startup *st);
/* Why e is not valid at now (ec_entry_reason_text()), malloc'd. */
char *ec_cli_reason(const struct ec_cache *c, const struct ec_entry *e,
		    int64_t now);
/* Why a load of an entry (ec_cache_load()'s err and e) is not a valid
 * entry at now: "no such entry", the error, or the reason; NULL when it
 * is valid.  malloc'd. */
char *ec_cli_why(const struct ec_cache *c, int err, const struct ec_entry *e,
		 int64_t now);
/* The expiry to show: EC_TIME_NEVER, an instant, or EC_TIME_NONE when
 * there is none (always stale, or not authenticated). */
int64_t ec_cli_expiry(const struct ec_entry *e, enum ec_state state);
/* The states fsck and stats count: the core's six (enum ec_state, the
 * same numbers) and EC_CLI_UNREADABLE, corrupt because the file could
 * not be read (a plain errno as its reason); ec_cli_state_word() names
 * them ("unreadable"). */
#define EC_CLI_NSTATES 7
#define EC_CLI_UNREADABLE 6
unsigned ec_cli_state_slot(enum ec_state state, int reason);
const char *ec_cli_state_word(unsigned slot);

struct ec_idlist {
	char **ids;		/* malloc'd */
	size_t n, cap;
};

/* The ids of argv and, with --stdin/-0, of stdin (newline- or NUL-
 * separated; empty ones skipped), each checked.  0 or an exit code. */
int ec_cli_ids(struct ec_opts *o, int argc, char **args,
	       struct ec_idlist *out);
void ec_idlist_add(struct ec_idlist *l, const char *id);
void ec_idlist_release(struct ec_idlist *l);

/* A command over a batch of ids, one JSON line each (rm, exists). */
struct ec_cli_batch {
	struct ec_idlist ids;
	struct ec_cache *c;
	struct ec_buf out;	/* the JSON lines */
	struct ec_jw w;		/* writes them into out */
};
/* The ids (ec_cli_ids()), the cache opened, w started on an empty out
 * for the lines.  0, or an exit code (reported) with nothing left to
 * release. */
int ec_cli_batch_begin(struct ec_opts *o, int argc, char **args,
		       struct ec_cli_batch *b);
/* Close the lines and, with --json, write them to stdout; then release
 * everything b holds.  0 or an exit code. */
int ec_cli_batch_end(const struct ec_opts *o, struct ec_cli_batch *b);

/* ec_scan_list() with its error reported ("cannot list ..."); 0 or an
 * exit code. */
int ec_cli_list(const struct ec_opts *o, const struct ec_cache *c,
		struct ec_scan_ids *ids);
/* ec_scan_load() of ids with o's --jobs, flags and now; cb as there. */
int ec_cli_load(const struct ec_opts *o, const struct ec_cache *c,
		const char *const *ids, size_t n, unsigned flags, int64_t now,
		int (*cb)(void *ctx, size_t i, int err, struct ec_entry *e),
		void *ctx);
/*
 * Every envelope of the cache, loaded with flags at now on --jobs threads
 * and handed to cb as ec_cache_list() hands them (sorted; one that
 * vanished meanwhile skipped; one that cannot be read a corrupt entry
 * whose reason is the errno), with a progress line named what (NULL:
 * none).  A non-zero return of cb stops the scan and is returned.  0, an
 * exit code of cb, or EXIT_IO after "cannot list ...".
 */
int ec_cli_scan(const struct ec_opts *o, const struct ec_cache *c,
		unsigned flags, int64_t now, const char *what,
		int (*cb)(void *ctx, const char *id, struct ec_entry *e),
		void *ctx);
/* ec_store_walk_temps() with its error reported; 0 or an exit code. */
int ec_cli_walk_temps(const struct ec_opts *o, const struct ec_cache *c,
		      int (*cb)(void *ctx, const char *path,
				const struct stat *st),
		      void *ctx);
/* st's mtime in microseconds since 1970. */
int64_t ec_cli_mtime_us(const struct stat *st);
/* Temp files of interrupted saves older than this are our leftovers
 * (as the mount sweeps them). */
#define EC_CLI_TEMP_AGE_US (5LL * 60 * 1000000)

/* ---- agent.c: the key agent (agent.h) --------------------------------- */

/* --agent-timeout / ENCCACHE_AGENT_TIMEOUT, --no-agent / ENCCACHE_NO_AGENT
 * into o->agent_timeout_s; 0 or EXIT_USAGE (reported). */
int ec_cli_agent_check(struct ec_opts *o);
/* The key source ec_cli_open() gives the cache: the key agent when it is
 * wanted and reachable, else none (keys are derived); with -v one line
 * per key says where it came from.  Valid until exit. */
const struct ec_key_source *ec_cli_key_source(const struct ec_opts *o);
/* -v: "enccache: <message>" on stderr. */
void ec_verbose(const struct ec_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- the commands ------------------------------------------------------ */

int ec_cmd_put(struct ec_opts *o, int argc, char **args);
int ec_cmd_get(struct ec_opts *o, int argc, char **args);
int ec_cmd_exists(struct ec_opts *o, int argc, char **args);
int ec_cmd_ls(struct ec_opts *o, int argc, char **args);
int ec_cmd_rm(struct ec_opts *o, int argc, char **args);
int ec_cmd_hash(struct ec_opts *o, int argc, char **args);
int ec_cmd_inspect(struct ec_opts *o, int argc, char **args);
int ec_cmd_prune(struct ec_opts *o, int argc, char **args);
int ec_cmd_fsck(struct ec_opts *o, int argc, char **args);
int ec_cmd_stats(struct ec_opts *o, int argc, char **args);
int ec_stats_mount(const struct ec_opts *o);	/* stats --mount */
int ec_cmd_export(struct ec_opts *o, int argc, char **args);
int ec_cmd_import(struct ec_opts *o, int argc, char **args);
int ec_cmd_forget(struct ec_opts *o, int argc, char **args);
int ec_cmd_rekey(struct ec_opts *o, int argc, char **args);

#endif
