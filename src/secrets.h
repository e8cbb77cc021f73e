/*
 * secrets: the secrets file, a JSON object mapping key names to passwords.
 *
 * The file is read with read(2) straight into guarded memory and parsed by
 * a small strict parser of our own, so passwords never pass through stdio
 * or a general JSON library's heap buffers.
 */
#ifndef EC_SECRETS_H
#define EC_SECRETS_H

#include <stddef.h>

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

/* Parse buf (len bytes) as above.  Does no I/O.  Names and passwords keep
 * the order of the file. */
int ec_secrets_parse(const char *buf, size_t len, struct ec_secrets *out)
	__attribute__((warn_unused_result));

/* Wipe the passwords and free everything; s is empty after. */
void ec_secrets_release(struct ec_secrets *s);

#endif
