/*
 * startup: what both front ends do before ec_cache_open(): read the salt
 * (from text or from a file), read and check the secrets file, check the
 * key name asked for, and word what went wrong.  enccache and enccachefs
 * call these so that they read the same bytes and say the same thing.
 *
 * The TTL rules file too (ec_startup_read_rules()).
 *
 * Prints nothing, keeps no globals.  Uses libc, error, secrets and
 * ttlrules only (never cache, so that cache may use
 * ec_startup_errtext()).
 *
 * Typical use:
 *
 *	struct ec_startup st;
 *
 *	ec_startup_init(&st);
 *	st.salt_text = ...; st.salt_file = ...; st.secrets_file = ...;
 *	st.key = ...;
 *	if (ec_startup_read_salt(&st) < 0 ||
 *	    ec_startup_read_secrets(&st, for_write) < 0)
 *		goto fail;		// ec_startup_message() says why
 *	co.salt = st.salt; co.salt_len = st.salt_len; co.default_key = st.key;
 *	err = ec_cache_open(&co, &st.secrets, &cache);	// releases secrets
 *	if (err < 0) {
 *		ec_startup_open_failed(&st, dir, err);
 *		goto fail;
 *	}
 *	...
 *	fail: complain("%s", message); ec_startup_release(&st);
 */
#ifndef EC_STARTUP_H
#define EC_STARTUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/stat.h>

#include "secrets.h"
#include "ttlrules.h"

#define EC_STARTUP_SALT_MAX (1u << 20)	/* a larger salt file is refused */
#define EC_STARTUP_ERRTEXT_MAX 256	/* room for any ec_startup_errtext() */

/*
 * ec_strerror(err) as our messages use it: the first letter lower-cased
 * unless the second is upper-case too (an acronym: "JSON ...").  Written
 * into buf (size bytes, truncated, always NUL-terminated when size > 0);
 * returns buf.  No I/O.
 */
char *ec_startup_errtext(int err, char *buf, size_t size);

/* snprintf() that returns the length of the whole text as a size_t (0,
 * and "" when size > 0, on an encoding error): how the messages here are
 * made.  No I/O. */
size_t ec_startup_format(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * The salt: the bytes of text (without its NUL) when text is not NULL,
 * else the exact bytes of the file at path file (NULs included, empty is
 * fine), at most EC_STARTUP_SALT_MAX bytes (-EC_ETOOBIG beyond).  -EINVAL
 * when both or neither are given; -errno from open/read (-ENOENT,
 * -EISDIR...); -ENOMEM.  On success *salt is malloc'd (free(); the salt is
 * not a secret), *len bytes followed by a NUL that *len does not count;
 * on failure *salt is NULL and *len 0.
 */
int ec_startup_salt(const char *text, const char *file, uint8_t **salt,
		    size_t *len) __attribute__((warn_unused_result));

/*
 * Read the TTL rules file at path (at most EC_STARTUP_SALT_MAX bytes) and
 * parse it with ec_ttl_rules_parse() into *rules (initialised here;
 * release it with ec_ttl_rules_release(), also after a failure).  On
 * failure the one-line message, snprintf-style into msg (size bytes), is
 * "cannot read ttl rules file 'PATH': <why>" or "PATH:LINE: <why>", and
 * the code is returned: -errno, -EC_ETOOBIG, -EINVAL (a bad line),
 * -ENOMEM.  The path is quoted as given: escape it for a terminal.
 */
int ec_startup_read_rules(const char *path, struct ec_ttl_rules *rules,
			  char *msg, size_t size)
	__attribute__((warn_unused_result));

/* Whether s holds a secret named name.  No I/O. */
bool ec_startup_has_key(const struct ec_secrets *s, const char *name);

/*
 * Check the key name asked for against the secrets, as ec_cache_open()
 * and ec_cache_save() will use them: -EC_EKEY when key is not NULL and
 * names no secret; when key is NULL and for_write is set, -ENOKEY unless a
 * default key can be chosen (exactly one secret, or one named "default");
 * else 0.  No I/O.
 */
int ec_startup_check_key(const struct ec_secrets *s, const char *key,
			 bool for_write) __attribute__((warn_unused_result));

/* The step that failed, for ec_startup_message(). */
enum ec_startup_step {
	EC_STARTUP_OK,
	EC_STARTUP_SALT,	/* "cannot read salt file '%s': %s" */
	EC_STARTUP_SECRETS,	/* "cannot use secrets file '%s': %s" */
	EC_STARTUP_KEY,		/* "unknown key name '%s': not in secrets
				   file '%s'" */
	EC_STARTUP_NO_DEFAULT,	/* "no --key given and secrets file '%s' has
				   no 'default' key" */
	EC_STARTUP_CACHE_DIR,	/* "cannot open cache directory '%s': %s" */
	EC_STARTUP_EXTPASS,	/* "extpass command '%s' ...": failed, timed
				   out, printed no secrets */
};

#define EC_STARTUP_EXTPASS_TIMEOUT_MS 60000	/* default wait for it */

struct ec_startup {
	/* Inputs, set by the caller after ec_startup_init().  Borrowed:
	 * they must stay valid until ec_startup_release(), since messages
	 * quote them. */
	const char *salt_text;	/* the salt is these bytes, or ... */
	const char *salt_file;	/* ... the bytes of this file */
	const char *secrets_file;	/* a file, "-" (standard input),
					   /dev/fd/N (ec_secrets_read_path) */
	const char *extpass;	/* or: a command that prints the secrets
				   JSON (ec_secrets_read_command) */
	int extpass_timeout_ms;	/* 0: EC_STARTUP_EXTPASS_TIMEOUT_MS */
	const char *key;	/* the key name asked for; NULL: default */
	const char *key_option;	/* the option in EC_STARTUP_NO_DEFAULT's
				   message; NULL: "--key" */

	/* Results.  salt: malloc'd, owned; ec_startup_release() frees it.
	 * secrets: pass &st.secrets to ec_cache_open(), which wipes and
	 * releases it; otherwise ec_startup_release() does. */
	uint8_t *salt;
	size_t salt_len;
	struct ec_secrets secrets;

	/* The failed step and its code (0 for KEY/NO_DEFAULT), for
	 * ec_startup_message().  dir is borrowed like the inputs. */
	enum ec_startup_step failed;
	int err;
	const char *dir;
	struct stat secrets_st;	/* what was read or refused (0: nothing) */
	struct ec_secrets_cmd cmd;	/* how the extpass command ended */
};

/* Empty inputs and results; no allocation. */
void ec_startup_init(struct ec_startup *st);

/* Wipe and free the secrets, free the salt; st is as after init, but the
 * inputs are kept. */
void ec_startup_release(struct ec_startup *st);

/*
 * ec_startup_salt() of st->salt_text / st->salt_file into st->salt and
 * st->salt_len.  On failure, the code, with st->failed = EC_STARTUP_SALT.
 */
int ec_startup_read_salt(struct ec_startup *st)
	__attribute__((warn_unused_result));

/*
 * The secrets into st->secrets: from the command st->extpass when set
 * (ec_secrets_read_command(), its output must be the secrets JSON), else
 * from st->secrets_file (ec_secrets_read_path(): refuses a loose or
 * malformed file; a descriptor or pipe is read as it is); then
 * ec_startup_check_key(st->key, for_write).  On failure st->secrets is
 * empty and the code is returned, with st->failed = EC_STARTUP_SECRETS or
 * EC_STARTUP_EXTPASS (the reader's code), EC_STARTUP_KEY (-EC_EKEY) or
 * EC_STARTUP_NO_DEFAULT (-ENOKEY).  -EINVAL (EC_STARTUP_SECRETS) when
 * neither source is set.
 */
int ec_startup_read_secrets(struct ec_startup *st, bool for_write)
	__attribute__((warn_unused_result));

/*
 * Record that opening the cache directory dir failed with err, e.g. the
 * return of ec_cache_open(): -EC_EKEY (the default key named no secret)
 * becomes EC_STARTUP_KEY, anything else EC_STARTUP_CACHE_DIR.  dir is
 * borrowed until ec_startup_release().  Returns err.
 */
int ec_startup_open_failed(struct ec_startup *st, const char *dir, int err);

/*
 * The one-line message for the failed step (see enum ec_startup_step;
 * the key of EC_STARTUP_KEY is st->key, or "default"), without a program
 * name or newline.  Like snprintf: writes at most size bytes into buf
 * (NUL-terminated when size > 0; buf may be NULL when size is 0) and
 * returns the length of the whole message, so a caller can size a buffer.
 * "" when nothing failed.  Quoted paths and names are as given: the
 * caller escapes control characters for a terminal or a log.  No I/O.
 */
size_t ec_startup_message(const struct ec_startup *st, char *buf,
			  size_t size);

#endif
