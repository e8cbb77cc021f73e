/*
 * startup: salt, secrets and key-name checks shared by enccache and
 * enccachefs, and the words for their failures.  Prints nothing.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "startup.h"

char *ec_startup_errtext(int err, char *buf, size_t size)
{
	if (size == 0)
		return buf;
	snprintf(buf, size, "%s", ec_strerror(err));
	if (buf[0] >= 'A' && buf[0] <= 'Z' &&
	    !(buf[1] >= 'A' && buf[1] <= 'Z'))
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}

/* Read all of the file at path, at most EC_STARTUP_SALT_MAX bytes. */
static int read_salt_file(const char *path, uint8_t **out, size_t *outlen)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* One byte more than the limit tells "too big" from "exactly". */
	buf = malloc(EC_STARTUP_SALT_MAX + 1);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, EC_STARTUP_SALT_MAX + 1 - len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > EC_STARTUP_SALT_MAX) {
			err = -EC_ETOOBIG;
			goto out;
		}
	}
	/* Give back only what the salt needs (plus its NUL). */
	{
		uint8_t *small = realloc(buf, len + 1);

		if (small)
			buf = small;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return err;
}

int ec_startup_salt(const char *text, const char *file, uint8_t **salt,
		    size_t *len)
{
	*salt = NULL;
	*len = 0;
	if ((text == NULL) == (file == NULL))
		return -EINVAL;
	if (file)
		return read_salt_file(file, salt, len);
	*len = strlen(text);
	*salt = malloc(*len + 1);
	if (!*salt) {
		*len = 0;
		return -ENOMEM;
	}
	memcpy(*salt, text, *len + 1);
	return 0;
}

int ec_startup_read_rules(const char *path, struct ec_ttl_rules *rules,
			  char *msg, size_t size)
{
	struct ec_ttl_rules_error why;
	char text[EC_STARTUP_ERRTEXT_MAX];
	uint8_t *buf = NULL;
	size_t len = 0;
	int err;

	ec_ttl_rules_init(rules);
	if (size > 0)
		msg[0] = '\0';
	err = read_salt_file(path, &buf, &len);
	if (err) {
		ec_startup_format(msg, size, "cannot read ttl rules file "
				  "'%s': %s", path,
				  ec_startup_errtext(err, text,
						     sizeof(text)));
		return err;
	}
	err = ec_ttl_rules_parse((const char *)buf, len, rules, &why);
	free(buf);
	if (err == -EINVAL)
		ec_startup_format(msg, size, "%s:%u: %s", path, why.line,
				  why.msg);
	else if (err)
		ec_startup_format(msg, size, "cannot read ttl rules file "
				  "'%s': %s", path,
				  ec_startup_errtext(err, text,
						     sizeof(text)));
	return err;
}

bool ec_startup_has_key(const struct ec_secrets *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->v[i].name, name) == 0)
			return true;
	return false;
}

int ec_startup_check_key(const struct ec_secrets *s, const char *key,
			 bool for_write)
{
	if (key)
		return ec_startup_has_key(s, key) ? 0 : -EC_EKEY;
	if (for_write && s->n != 1 && !ec_startup_has_key(s, "default"))
		return -ENOKEY;
	return 0;
}

void ec_startup_init(struct ec_startup *st)
{
	memset(st, 0, sizeof(*st));
}

void ec_startup_release(struct ec_startup *st)
{
	ec_secrets_release(&st->secrets);
	free(st->salt);
	st->salt = NULL;
	st->salt_len = 0;
	st->failed = EC_STARTUP_OK;
	st->err = 0;
	st->dir = NULL;
}

static int fail(struct ec_startup *st, enum ec_startup_step step, int err)
{
	st->failed = step;
	st->err = err;
	return err;
}

int ec_startup_read_salt(struct ec_startup *st)
{
	int err;

	free(st->salt);
	err = ec_startup_salt(st->salt_text, st->salt_file, &st->salt,
			      &st->salt_len);
	return err ? fail(st, EC_STARTUP_SALT, err) : 0;
}

int ec_startup_read_secrets(struct ec_startup *st, bool for_write)
{
	int err;

	ec_secrets_release(&st->secrets);
	memset(&st->secrets_st, 0, sizeof(st->secrets_st));
	memset(&st->cmd, 0, sizeof(st->cmd));
	if (st->extpass) {
		err = ec_secrets_read_command(st->extpass,
					      st->extpass_timeout_ms > 0 ?
					      st->extpass_timeout_ms :
					      EC_STARTUP_EXTPASS_TIMEOUT_MS,
					      &st->secrets, &st->cmd);
		if (err)
			return fail(st, EC_STARTUP_EXTPASS, err);
	} else {
		err = st->secrets_file ?
			ec_secrets_read_path(st->secrets_file, &st->secrets,
					     &st->secrets_st) : -EINVAL;
		if (err)
			return fail(st, EC_STARTUP_SECRETS, err);
	}
	err = ec_startup_check_key(&st->secrets, st->key, for_write);
	if (err) {
		ec_secrets_release(&st->secrets);
		return fail(st, err == -EC_EKEY ? EC_STARTUP_KEY :
			    EC_STARTUP_NO_DEFAULT, err);
	}
	return 0;
}

int ec_startup_open_failed(struct ec_startup *st, const char *dir, int err)
{
	st->dir = dir;
	return fail(st, err == -EC_EKEY ? EC_STARTUP_KEY :
		    EC_STARTUP_CACHE_DIR, err);
}

/* "(null)" never reaches a message: an input the step needed but the
 * caller did not set shows as empty quotes. */
static const char *str(const char *s)
{
	return s ? s : "";
}

size_t ec_startup_format(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0) {
		if (size)
			buf[0] = '\0';
		return 0;
	}
	return (size_t)n;
}

/* Why a secrets source was refused, as ssh words a loose key file: the
 * mode or owner that is wrong. */
static size_t secrets_message(const struct ec_startup *st, const char *why,
			      char *buf, size_t size)
{
	const struct stat *fs = &st->secrets_st;
	const char *path = str(st->secrets_file);
	int fd = ec_secrets_fd_of(path);

	if (st->err == -EC_ELOOSE && (fs->st_mode & 077))
		return ec_startup_format(buf, size, "cannot use secrets file '%s': "
			      "permissions %04o are too open (group or "
			      "others have access; chmod 600 it)", path,
			      (unsigned)(fs->st_mode & 07777));
	if (st->err == -EC_ELOOSE && fs->st_mode)
		return ec_startup_format(buf, size, "cannot use secrets file '%s': "
			      "owned by uid %lu, not by you or root", path,
			      (unsigned long)fs->st_uid);
	if (st->err == -EINVAL && fs->st_mode && !S_ISREG(fs->st_mode))
		why = fd >= 0 ? "not a pipe, terminal or regular file" :
			"not a regular file (for a pipe, use /dev/fd/N "
			"or -)";
	if (fd == 0 && (!strcmp(path, "-") || !strcmp(path, "/dev/stdin")))
		return ec_startup_format(buf, size, "cannot read secrets from standard "
			      "input: %s", why);
	return ec_startup_format(buf, size, "cannot use secrets file '%s': %s", path,
		      why);
}

static size_t extpass_message(const struct ec_startup *st, const char *why,
			      char *buf, size_t size)
{
	const char *cmd = str(st->extpass);

	if (st->err == -ETIMEDOUT)
		return ec_startup_format(buf, size, "extpass command '%s' timed out "
			      "after %d s", cmd, (st->extpass_timeout_ms > 0 ?
			      st->extpass_timeout_ms :
			      EC_STARTUP_EXTPASS_TIMEOUT_MS) / 1000);
	if (st->err == -ECANCELED && st->cmd.signal)
		return ec_startup_format(buf, size, "extpass command '%s' was killed by "
			      "signal %d", cmd, st->cmd.signal);
	if (st->err == -ECANCELED)
		return ec_startup_format(buf, size, "extpass command '%s' failed with "
			      "exit status %d", cmd, st->cmd.exit_status);
	if (st->cmd.exit_status == 0 || st->err == -EC_ETOOBIG)
		return ec_startup_format(buf, size, "extpass command '%s' printed no "
			      "secrets: %s", cmd, why);
	return ec_startup_format(buf, size, "cannot run extpass command '%s': %s", cmd,
		      why);
}

size_t ec_startup_message(const struct ec_startup *st, char *buf,
			  size_t size)
{
	char why[EC_STARTUP_ERRTEXT_MAX];

	ec_startup_errtext(st->err, why, sizeof(why));
	switch (st->failed) {
	case EC_STARTUP_OK:
		break;
	case EC_STARTUP_SALT:
		return ec_startup_format(buf, size, "cannot read salt file '%s': %s",
			      str(st->salt_file), why);
	case EC_STARTUP_SECRETS:
		return secrets_message(st, why, buf, size);
	case EC_STARTUP_EXTPASS:
		return extpass_message(st, why, buf, size);
	case EC_STARTUP_KEY:
		return ec_startup_format(buf, size, "unknown key name '%s': not in "
			      "secrets file '%s'",
			      st->key ? st->key : "default",
			      str(st->secrets_file));
	case EC_STARTUP_NO_DEFAULT:
		return ec_startup_format(buf, size, "no %s given and secrets file '%s' "
			      "has no 'default' key",
			      st->key_option ? st->key_option : "--key",
			      str(st->secrets_file));
	case EC_STARTUP_CACHE_DIR:
		return ec_startup_format(buf, size, "cannot open cache directory '%s': "
			      "%s", str(st->dir), why);
	}
	return ec_startup_format(buf, size, "%s", "");
}
