/*
 * secrets: read and parse the secrets JSON, an object of key names to
 * passwords, from a file, a descriptor (a pipe, standard input) or a
 * command's standard output.  The bytes go with read(2) into guarded
 * memory; a small strict parser copies each password straight into its
 * own guarded block; the read buffer is wiped.  Passwords never touch
 * stdio or ordinary heap memory.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "secrets.h"
#include "secure.h"

/* Parser state over the input; no I/O. */
struct parser {
	const unsigned char *s;
	size_t len;
	size_t pos;
};

static void skip_ws(struct parser *ps)
{
	while (ps->pos < ps->len) {
		unsigned char c = ps->s[ps->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		ps->pos++;
	}
}

/* Consume c (after whitespace); 0 or -EC_ESECRETS. */
static int expect(struct parser *ps, unsigned char c)
{
	skip_ws(ps);
	if (ps->pos >= ps->len || ps->s[ps->pos] != c)
		return -EC_ESECRETS;
	ps->pos++;
	return 0;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;		/* no overlongs */
		else if (c == 0xed)
			hi = 0x9f;		/* no surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;		/* no overlongs */
		else if (c == 0xf4)
			hi = 0x8f;		/* nothing over U+10FFFF */
	} else {
		return 0;
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/* Four hex digits at s (n bytes left) -> *v; 0 or -EC_ESECRETS. */
static int hex4(const unsigned char *s, size_t n, unsigned *v)
{
	size_t i;

	if (n < 4)
		return -EC_ESECRETS;
	*v = 0;
	for (i = 0; i < 4; i++) {
		unsigned char c = s[i];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -EC_ESECRETS;
		*v = *v << 4 | d;
	}
	return 0;
}

/* Store code point cp as UTF-8 at dst (when not NULL); its length. */
static size_t put_utf8(unsigned char *dst, unsigned cp)
{
	unsigned char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = 0xc0 | cp >> 6;
		b[1] = 0x80 | (cp & 0x3f);
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = 0xe0 | cp >> 12;
		b[1] = 0x80 | (cp >> 6 & 0x3f);
		b[2] = 0x80 | (cp & 0x3f);
		n = 3;
	} else {
		b[0] = 0xf0 | cp >> 18;
		b[1] = 0x80 | (cp >> 12 & 0x3f);
		b[2] = 0x80 | (cp >> 6 & 0x3f);
		b[3] = 0x80 | (cp & 0x3f);
		n = 4;
	}
	if (dst != NULL)
		memcpy(dst, b, n);
	ec_secure_wipe(b, sizeof(b));	/* part of a password */
	return n;
}

/*
 * Decode the JSON string starting at ps->pos (its opening quote).  With
 * dst NULL, only validate and count; otherwise write the decoded bytes to
 * dst (room for the count from a first pass).  *outlen: decoded length.
 * ps->pos moves past the closing quote only when dst is not NULL, so the
 * caller runs a counting pass, allocates, then a writing pass.
 * Errors: -EC_ESECRETS (syntax, control character, NUL), -EC_EUTF8.
 */
static int decode_string(struct parser *ps, unsigned char *dst,
			 size_t *outlen)
{
	const unsigned char *s = ps->s;
	size_t i = ps->pos, n = 0, k;
	unsigned cp, lo;
	int rc;

	if (i >= ps->len || s[i] != '"')
		return -EC_ESECRETS;
	i++;
	for (;;) {
		if (i >= ps->len)
			return -EC_ESECRETS;	/* unterminated */
		if (s[i] == '"')
			break;
		if (s[i] < 0x20)
			return -EC_ESECRETS;	/* raw control char or NUL */
		if (s[i] != '\\') {
			k = utf8_seq(s + i, ps->len - i);
			if (k == 0)
				return -EC_EUTF8;
			if (dst != NULL)
				memcpy(dst + n, s + i, k);
			i += k;
			n += k;
			continue;
		}
		if (++i >= ps->len)
			return -EC_ESECRETS;
		switch (s[i]) {
		case '"':  cp = '"'; break;
		case '\\': cp = '\\'; break;
		case '/':  cp = '/'; break;
		case 'b':  cp = '\b'; break;
		case 'f':  cp = '\f'; break;
		case 'n':  cp = '\n'; break;
		case 'r':  cp = '\r'; break;
		case 't':  cp = '\t'; break;
		case 'u':
			rc = hex4(s + i + 1, ps->len - i - 1, &cp);
			if (rc < 0)
				return rc;
			i += 4;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return -EC_EUTF8;	/* lone low surrogate */
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (ps->len - i < 7 || s[i + 1] != '\\' ||
				    s[i + 2] != 'u')
					return -EC_EUTF8;
				rc = hex4(s + i + 3, ps->len - i - 3, &lo);
				if (rc < 0)
					return rc;
				if (lo < 0xdc00 || lo > 0xdfff)
					return -EC_EUTF8;
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				     (lo - 0xdc00);
				i += 6;
			}
			if (cp == 0)
				return -EC_ESECRETS;	/* NUL: C strings */
			break;
		default:
			return -EC_ESECRETS;
		}
		i++;
		n += put_utf8(dst != NULL ? dst + n : NULL, cp);
	}
	if (dst != NULL)
		ps->pos = i + 1;
	*outlen = n;
	return 0;
}

/* Parse a string into a new NUL-terminated buffer: guarded memory when
 * secret, else malloc. */
static int parse_string(struct parser *ps, int secret, char **out,
			size_t *outlen)
{
	size_t n, n2;
	char *p;
	int rc;

	skip_ws(ps);
	rc = decode_string(ps, NULL, &n);
	if (rc < 0)
		return rc;
	p = secret ? ec_secure_alloc(n + 1) : malloc(n + 1);
	if (p == NULL)
		return -ENOMEM;
	rc = decode_string(ps, (unsigned char *)p, &n2);
	if (rc < 0 || n2 != n)
		abort();	/* the second pass must repeat the first */
	p[n] = '\0';
	*out = p;
	*outlen = n;
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* -EC_ESECRETS when two entries share a name.  O(n log n). */
static int check_duplicates(const struct ec_secrets *s)
{
	char **names;
	size_t i;
	int rc = 0;

	names = malloc(s->n * sizeof(*names));
	if (names == NULL)
		return -ENOMEM;
	for (i = 0; i < s->n; i++)
		names[i] = s->v[i].name;
	qsort(names, s->n, sizeof(*names), cmp_names);
	for (i = 1; i < s->n; i++) {
		if (strcmp(names[i - 1], names[i]) == 0) {
			rc = -EC_ESECRETS;
			break;
		}
	}
	free(names);
	return rc;
}

int ec_secrets_parse(const char *buf, size_t len, struct ec_secrets *out)
{
	struct parser ps = { (const unsigned char *)buf, len, 0 };
	struct ec_secrets s = { NULL, 0 };
	size_t cap = 0, namelen;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = expect(&ps, '{');
	if (rc < 0)
		goto out;
	for (;;) {
		struct ec_secret *e;

		if (s.n == cap) {
			struct ec_secret *nv;
			size_t ncap = cap ? 2 * cap : 4;

			if (ncap > SIZE_MAX / sizeof(*nv)) {
				rc = -ENOMEM;
				goto out;
			}
			nv = realloc(s.v, ncap * sizeof(*nv));
			if (nv == NULL) {
				rc = -ENOMEM;
				goto out;
			}
			s.v = nv;
			cap = ncap;
		}
		/* A string is required here: no empty object, no trailing
		 * comma. */
		e = &s.v[s.n];
		memset(e, 0, sizeof(*e));
		rc = parse_string(&ps, 0, &e->name, &namelen);
		if (rc < 0)
			goto out;
		s.n++;
		rc = expect(&ps, ':');
		if (rc < 0)
			goto out;
		rc = parse_string(&ps, 1, &e->password, &e->pwlen);
		if (rc < 0)
			goto out;
		skip_ws(&ps);
		if (ps.pos < ps.len && ps.s[ps.pos] == ',') {
			ps.pos++;
			continue;
		}
		rc = expect(&ps, '}');
		if (rc < 0)
			goto out;
		break;
	}
	skip_ws(&ps);
	if (ps.pos != ps.len) {
		rc = -EC_ESECRETS;	/* trailing garbage */
		goto out;
	}
	rc = check_duplicates(&s);
	if (rc < 0)
		goto out;
	*out = s;
	s.v = NULL;
	s.n = 0;
out:
	ec_secrets_release(&s);
	return rc;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until fd can be read, at most until deadline (CLOCK_MONOTONIC
 * ms): 0, -ETIMEDOUT, -errno. */
static int wait_readable(int fd, int64_t deadline)
{
	for (;;) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		int64_t left = deadline - now_ms();
		int rc;

		if (left <= 0)
			return -ETIMEDOUT;
		rc = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (rc > 0)
			return 0;
		if (rc == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

/*
 * Read fd to its end into b (about hint bytes are expected; the size of
 * a file can change under us), refusing more than EC_SECRETS_MAX bytes.
 * With deadline >= 0 (CLOCK_MONOTONIC ms), give up then: -ETIMEDOUT.
 */
static int read_all(int fd, size_t hint, int64_t deadline, struct ec_sbuf *b)
{
	ssize_t r;
	int rc;

	rc = ec_sbuf_reserve(b, hint + 1);	/* + 1: to see EOF at once */
	if (rc < 0)
		return rc;
	for (;;) {
		if (b->len == b->cap) {
			if (b->len > EC_SECRETS_MAX)
				return -EC_ETOOBIG;
			rc = ec_sbuf_reserve(b, b->len + 1);
			if (rc < 0)
				return rc;
		}
		if (deadline >= 0) {
			rc = wait_readable(fd, deadline);
			if (rc < 0)
				return rc;
		}
		r = read(fd, b->p + b->len, b->cap - b->len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			break;
		b->len += (size_t)r;
	}
	if (b->len > EC_SECRETS_MAX)
		return -EC_ETOOBIG;
	return 0;
}

/* A regular file's checks: only we (or root) own it, and nobody else
 * may read or write it. */
static int check_file(const struct stat *st)
{
	if ((st->st_mode & 077) != 0 ||
	    (st->st_uid != geteuid() && st->st_uid != 0))
		return -EC_ELOOSE;
	if (st->st_size < 0)
		return -EINVAL;
	if ((uintmax_t)st->st_size > EC_SECRETS_MAX)
		return -EC_ETOOBIG;
	return 0;
}

/* Read fd (fstat'ed into *st) to its end and parse what it holds. */
static int read_parse(int fd, const struct stat *st, struct ec_secrets *out)
{
	struct ec_sbuf b = EC_SBUF_INIT;
	int rc;

	rc = read_all(fd, S_ISREG(st->st_mode) ? (size_t)st->st_size : 0, -1,
		      &b);
	if (rc == 0)
		rc = ec_secrets_parse((const char *)b.p, b.len, out);
	ec_sbuf_release(&b);	/* wipes the bytes read */
	return rc;
}

int ec_secrets_read_fd(int fd, struct ec_secrets *out, struct stat *st)
{
	struct stat own;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!st)
		st = &own;
	memset(st, 0, sizeof(*st));
	if (fstat(fd, st) < 0)
		return -errno;
	/* A pipe, socket or terminal has no permissions worth checking:
	 * only its two ends exist.  A file behind the descriptor has. */
	if (S_ISREG(st->st_mode)) {
		rc = check_file(st);
		if (rc < 0)
			return rc;
	} else if (!S_ISFIFO(st->st_mode) && !S_ISSOCK(st->st_mode) &&
		   !S_ISCHR(st->st_mode)) {
		return -EINVAL;
	}
	return read_parse(fd, st, out);
}

int ec_secrets_fd_of(const char *path)
{
	static const char *const prefixes[] = { "/dev/fd/", "/proc/self/fd/" };
	size_t i;

	if (strcmp(path, "-") == 0 || strcmp(path, "/dev/stdin") == 0)
		return 0;
	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t n = strlen(prefixes[i]);
		const char *d = path + n;
		long v = 0;

		if (strncmp(path, prefixes[i], n) != 0 || !*d)
			continue;
		for (; *d >= '0' && *d <= '9' && v <= INT32_MAX; d++)
			v = v * 10 + (*d - '0');
		if (*d || v > INT32_MAX)
			return -1;
		return (int)v;
	}
	return -1;
}

int ec_secrets_read_path(const char *path, struct ec_secrets *out,
			 struct stat *st)
{
	struct stat own;
	int fd, rc;

	memset(out, 0, sizeof(*out));
	if (!st)
		st = &own;
	memset(st, 0, sizeof(*st));
	fd = ec_secrets_fd_of(path);
	if (fd >= 0)
		return ec_secrets_read_fd(fd, out, st);
	/* O_NONBLOCK: a FIFO must not hang us before fstat refuses it.  It
	 * has no effect on the regular file we accept. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY |
		  O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, st) < 0) {
		rc = -errno;
	} else if (!S_ISREG(st->st_mode)) {
		rc = -EINVAL;
	} else {
		rc = check_file(st);
		if (rc == 0)
			rc = read_parse(fd, st, out);
	}
	close(fd);
	return rc;
}

int ec_secrets_read_file(const char *path, struct ec_secrets *out)
{
	return ec_secrets_read_path(path, out, NULL);
}

/* ---- secrets from a command ------------------------------------------ */

/* Start /bin/sh -c cmd with its standard output on a new pipe, whose
 * reading end is *rfd.  The child's pid, or -errno. */
static pid_t spawn_shell(const char *cmd, int *rfd)
{
	posix_spawn_file_actions_t fa;
	char *argv[] = { (char *)"sh", (char *)"-c", (char *)cmd, NULL };
	int p[2], rc;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	rc = posix_spawn_file_actions_init(&fa);
	if (rc == 0) {
		/* dup2 clears FD_CLOEXEC on the copy (1 only). */
		rc = posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);
		if (rc == 0)
			rc = posix_spawn(&pid, "/bin/sh", &fa, NULL, argv,
					 environ);
		posix_spawn_file_actions_destroy(&fa);
	}
	close(p[1]);
	if (rc != 0) {
		close(p[0]);
		return -rc;
	}
	*rfd = p[0];
	return pid;
}

/* Wait for pid until deadline (CLOCK_MONOTONIC ms), killing it then. */
static int reap(pid_t pid, int64_t deadline, struct ec_secrets_cmd *st)
{
	int status = 0;
	pid_t r;

	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r == 0 && now_ms() >= deadline && !st->timed_out) {
			st->timed_out = true;
			kill(pid, SIGKILL);
		}
		if (r == 0) {
			struct timespec nap = { 0, 10 * 1000000 };

			nanosleep(&nap, NULL);
		}
	}
	if (WIFEXITED(status))
		st->exit_status = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		st->signal = WTERMSIG(status);
	return 0;
}

int ec_secrets_read_command(const char *cmd, int timeout_ms,
			    struct ec_secrets *out, struct ec_secrets_cmd *st)
{
	struct ec_sbuf b = EC_SBUF_INIT;
	struct ec_secrets_cmd own;
	int64_t deadline;
	int rfd = -1, rc, wrc;
	pid_t pid;

	memset(out, 0, sizeof(*out));
	if (!st)
		st = &own;
	memset(st, 0, sizeof(*st));
	st->exit_status = -1;
	deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	pid = spawn_shell(cmd, &rfd);
	if (pid < 0)
		return (int)pid;
	rc = read_all(rfd, 0, deadline, &b);
	close(rfd);
	if (rc < 0) {
		/* Stop it now: nothing it prints later is read. */
		st->timed_out = rc == -ETIMEDOUT;
		kill(pid, SIGKILL);
	}
	wrc = reap(pid, deadline, st);
	if (st->timed_out)
		rc = -ETIMEDOUT;
	else if (rc == 0 && wrc < 0)
		rc = wrc;
	else if (rc == 0 && (st->signal || st->exit_status != 0))
		rc = -ECANCELED;
	if (rc == 0)
		rc = ec_secrets_parse((const char *)b.p, b.len, out);
	ec_sbuf_release(&b);	/* wipes what the command printed */
	return rc;
}

void ec_secrets_release(struct ec_secrets *s)
{
	size_t i;

	if (s->v != NULL) {
		for (i = 0; i < s->n; i++) {
			free(s->v[i].name);
			if (s->v[i].password != NULL)
				ec_secure_wipe(s->v[i].password,
					       s->v[i].pwlen);
			ec_secure_free(s->v[i].password);
		}
		free(s->v);
	}
	s->v = NULL;
	s->n = 0;
}
