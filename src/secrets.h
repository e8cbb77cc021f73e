/*
 * secrets: the secrets JSON, an object mapping key names to passwords,
 * from a file, a descriptor or a command.
 *
 * It is read with read(2) straight into guarded memory and parsed by a
 * small strict parser of our own, so passwords never pass through stdio
 * or a general JSON library's heap buffers.
 */
#ifndef EC_SECRETS_H
#define EC_SECRETS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#define EC_SECRETS_MAX (1u << 20)	/* a larger secrets file is refused */

struct ec_secret {
	char *name;		/* malloc'd, UTF-8, NUL-terminated */
	char *password;		/* ec_secure_alloc'd, UTF-8, NUL-terminated */
	size_t pwlen;		/* bytes, without the NUL */
};

struct ec_secrets {
	struct ec_secret *v;
	size_t n;
};

/*
 * Read path.  Refuses (-EC_ELOOSE) a file that group or others may read or
 * write, or that is owned by another user than us or root, as ssh does for
 * keys; -EC_ESECRETS when it is not a JSON object of strings, has no
 * entry, or repeats a name (after unescaping), or a string holds a NUL;
 * -EC_EUTF8 for invalid UTF-8 or a lone surrogate escape; -EINVAL when
 * path is not a regular file; -EC_ETOOBIG over EC_SECRETS_MAX; -errno else
 * (-ENOENT, -ELOOP for a symlink, ...).  *out need not be initialised; it
 * is empty on failure.
 */
int ec_secrets_read_file(const char *path, struct ec_secrets *out)
	__attribute__((warn_unused_result));

/*
 * The same from any source path: besides a file, "-", "/dev/stdin",
 * "/dev/fd/N" and "/proc/self/fd/N" name a descriptor that is read as it
 * is (from its current offset, not closed, not opened again), so that a
 * pipe (`<(...)`, `3< file`) works where opening /dev/fd/N with
 * O_NOFOLLOW would not.  *st (may be NULL) gets the fstat of what was
 * read or refused (all zero when nothing was opened), for messages that
 * say why (the mode of a loose file, its owner).
 */
int ec_secrets_read_path(const char *path, struct ec_secrets *out,
			 struct stat *st) __attribute__((warn_unused_result));

/* The descriptor that path names as above, or -1 when it names none.
 * No I/O. */
int ec_secrets_fd_of(const char *path);

/*
 * Read descriptor fd to its end.  A pipe, FIFO, socket or terminal is
 * read without permission checks (nobody else can reach an anonymous
 * pipe's contents); a regular file gets those of ec_secrets_read_file();
 * anything else is -EINVAL.  *st (may be NULL): its fstat.
 */
int ec_secrets_read_fd(int fd, struct ec_secrets *out, struct stat *st)
	__attribute__((warn_unused_result));

/* How a secrets command ended, for messages. */
struct ec_secrets_cmd {
	int exit_status;	/* its exit status, -1 when it did not exit */
	int signal;		/* the signal that ended it, or 0 */
	bool timed_out;		/* killed at the deadline */
};

/*
 * Run cmd with /bin/sh -c (standard input and error inherited, so that a
 * prompt works) and parse what it prints on standard output, read with
 * read(2) into guarded memory, as the secrets JSON.  Waits at most
 * timeout_ms for the command to print everything and exit: then it is
 * killed and -ETIMEDOUT returned.  -ECANCELED when it exits with a
 * status other than 0 or dies of a signal (*st says which; may be NULL);
 * -errno when it cannot be started; else as ec_secrets_parse().
 */
int ec_secrets_read_command(const char *cmd, int timeout_ms,
			    struct ec_secrets *out, struct ec_secrets_cmd *st)
	__attribute__((warn_unused_result));

/* Parse buf (len bytes) as above.  Does no I/O.  Names and passwords keep
 * the order of the file. */
int ec_secrets_parse(const char *buf, size_t len, struct ec_secrets *out)
	__attribute__((warn_unused_result));

/* Wipe the passwords and free everything; s is empty after. */
void ec_secrets_release(struct ec_secrets *s);

#endif
