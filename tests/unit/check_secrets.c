/* Unit tests for secrets: the strict parser and the careful file reader. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "error.h"
#include "secrets.h"
#include "secure.h"
#include "unit.h"

/* --- helpers ------------------------------------------------------------- */

static char *tmpdir;
static char pathbuf[PATH_MAX];

static void setup_dir(void)
{
	tmpdir = ec_test_tmpdir("check_secrets");
}

static void teardown_dir(void)
{
	ec_test_rm_rf(tmpdir);
	free(tmpdir);
	tmpdir = NULL;
}

static const char *path_of(const char *name)
{
	snprintf(pathbuf, sizeof(pathbuf), "%s/%s", tmpdir, name);
	return pathbuf;
}

/* Write a file in the temp dir with exactly this mode; its path. */
static const char *write_file(const char *name, const char *data, size_t len,
			      mode_t mode)
{
	const char *path = path_of(name);
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	ck_assert_int_eq(close(fd), 0);
	return path;
}

static void check_entry(const struct ec_secrets *s, size_t i,
			const char *name, const char *pw, size_t pwlen)
{
	ck_assert_uint_lt(i, s->n);
	ck_assert_str_eq(s->v[i].name, name);
	ck_assert_uint_eq(s->v[i].pwlen, pwlen);
	ck_assert_mem_eq(s->v[i].password, pw, pwlen);
	ck_assert_int_eq(s->v[i].password[pwlen], '\0');
}

static void check_empty(const struct ec_secrets *s)
{
	ck_assert_ptr_null(s->v);
	ck_assert_uint_eq(s->n, 0);
}

#define GOLDEN_JSON \
	"{\"default\": \"golden-default-password\", " \
	"\"reports\": \"gold\xc3\xa9n-r\xc3\xa9ports\"}"

static void check_golden(const struct ec_secrets *s)
{
	ck_assert_uint_eq(s->n, 2);
	check_entry(s, 0, "default", "golden-default-password", 23);
	check_entry(s, 1, "reports", "gold\xc3\xa9n-r\xc3\xa9ports", 16);
}

/* --- parse: good --------------------------------------------------------- */

START_TEST(test_parse_golden)
{
	struct ec_secrets s;
	size_t len;
	char *buf;

	buf = ec_test_slurp(EC_GOLDEN "/secrets.json", &len);
	memset(&s, 0x5a, sizeof(s));	/* need not be initialised */
	ck_assert_int_eq(ec_secrets_parse(buf, len, &s), 0);
	check_golden(&s);
	ec_secrets_release(&s);
	check_empty(&s);
	ec_secrets_release(&s);		/* twice is fine */
	free(buf);

	ck_assert_int_eq(ec_secrets_parse(GOLDEN_JSON, strlen(GOLDEN_JSON),
					  &s), 0);
	check_golden(&s);
	ec_secrets_release(&s);
}
END_TEST

START_TEST(test_parse_escapes)
{
	static const char json[] =
		"{\"a\\u00e9\\n\": \"q\\\"\\\\\\/\\b\\f\\n\\r\\t"
		"\\u0041\\u00E9\\u20ac\\ud83d\\ude00\\uD83D\\uDE00\\u007fz\"}";
	static const char pw[] =
		"q\"\\/\b\f\n\r\tA\xc3\xa9\xe2\x82\xac"
		"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\x7fz";
	struct ec_secrets s;

	ck_assert_int_eq(ec_secrets_parse(json, strlen(json), &s), 0);
	ck_assert_uint_eq(s.n, 1);
	check_entry(&s, 0, "a\xc3\xa9\n", pw, sizeof(pw) - 1);
	ec_secrets_release(&s);
}
END_TEST

START_TEST(test_parse_utf8)
{
	/* raw UTF-8 of every length, including the edges of the ranges */
	static const char json[] =
		"{\"\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87\": "
		"\"p\xc3\xa4sw\xc3\xb6rd\xf0\x9f\x98\x80\", "
		"\"edges\": \"\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf"
		"\xee\x80\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"}";
	struct ec_secrets s;

	ck_assert_int_eq(ec_secrets_parse(json, strlen(json), &s), 0);
	ck_assert_uint_eq(s.n, 2);
	check_entry(&s, 0, "\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87",
		    "p\xc3\xa4sw\xc3\xb6rd\xf0\x9f\x98\x80", 13);
	check_entry(&s, 1, "edges",
		    "\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80"
		    "\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf", 24);
	ec_secrets_release(&s);
}
END_TEST

START_TEST(test_parse_whitespace)
{
	static const char json[] =
		" \t\r\n{ \n\"a\" \t: \r\"b\" ,\n \"c\":\"\","
		"\"\":\"x\"\n}\n\t ";
	struct ec_secrets s;

	ck_assert_int_eq(ec_secrets_parse(json, strlen(json), &s), 0);
	ck_assert_uint_eq(s.n, 3);
	check_entry(&s, 0, "a", "b", 1);
	check_entry(&s, 1, "c", "", 0);		/* empty password */
	check_entry(&s, 2, "", "x", 1);		/* empty name */
	ec_secrets_release(&s);
}
END_TEST

/* Many entries keep the file's order (the duplicate check sorts a copy). */
START_TEST(test_parse_order)
{
	char json[4096], name[16], pw[16];
	struct ec_secrets s;
	size_t off = 0;
	int i;

	json[off++] = '{';
	for (i = 0; i < 100; i++)
		off += (size_t)snprintf(json + off, sizeof(json) - off,
					"%s\"n%d\": \"p%d\"", i ? ", " : "",
					(i * 37) % 100, i);
	json[off++] = '}';
	ck_assert_int_eq(ec_secrets_parse(json, off, &s), 0);
	ck_assert_uint_eq(s.n, 100);
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "n%d", (i * 37) % 100);
		snprintf(pw, sizeof(pw), "p%d", i);
		check_entry(&s, (size_t)i, name, pw, strlen(pw));
	}
	ec_secrets_release(&s);
}
END_TEST

/* --- parse: bad ---------------------------------------------------------- */

struct bad {
	const char *json;
	size_t len;	/* 0: strlen */
	int want;
};

#define S (-EC_ESECRETS)
#define U (-EC_EUTF8)

static const struct bad bads[] = {
	/* not an object, or an empty one */
	{ "", 0, S }, { "   \n", 0, S }, { "{}", 0, S }, { "{ \n }", 0, S },
	{ "[]", 0, S }, { "\"a\"", 0, S }, { "null", 0, S }, { "{", 0, S },
	{ "[{\"a\": \"b\"}]", 0, S },
	/* values that are not strings */
	{ "{\"a\": 1}", 0, S }, { "{\"a\": null}", 0, S },
	{ "{\"a\": true}", 0, S }, { "{\"a\": {}}", 0, S },
	{ "{\"a\": [\"b\"]}", 0, S }, { "{\"a\": {\"b\": \"c\"}}", 0, S },
	{ "{\"a\": }", 0, S }, { "{\"a\"}", 0, S },
	/* syntax */
	{ "{\"a\": \"b\",}", 0, S }, { "{,\"a\": \"b\"}", 0, S },
	{ "{\"a\" \"b\"}", 0, S }, { "{\"a\": \"b\" \"c\": \"d\"}", 0, S },
	{ "{\"a\": \"b\";}", 0, S }, { "{\"a\":: \"b\"}", 0, S },
	{ "{a: \"b\"}", 0, S }, { "{'a': 'b'}", 0, S },
	{ "{\"a\": \"b\"", 0, S }, { "{\"a\": \"b", 0, S }, { "{\"a", 0, S },
	{ "{\"a\": \"b\"}}", 0, S }, { "{\"a\": \"b\"} x", 0, S },
	{ "{\"a\": \"b\"}{}", 0, S }, { "{\"a\": \"b\"},", 0, S },
	{ "\xef\xbb\xbf{\"a\": \"b\"}", 0, S },		/* BOM */
	{ "{\"a\":\v\"b\"}", 0, S },			/* not JSON space */
	/* duplicates, also when spelled differently */
	{ "{\"a\": \"b\", \"a\": \"c\"}", 0, S },
	{ "{\"a\": \"b\", \"x\": \"y\", \"a\": \"b\"}", 0, S },
	{ "{\"a\": \"b\", \"\\u0061\": \"c\"}", 0, S },
	{ "{\"\": \"b\", \"\": \"c\"}", 0, S },
	/* escapes */
	{ "{\"a\": \"\\x\"}", 0, S }, { "{\"a\": \"\\'\"}", 0, S },
	{ "{\"a\": \"\\U0041\"}", 0, S }, { "{\"a\": \"\\u12\"}", 0, S },
	{ "{\"a\": \"\\u12g4\"}", 0, S }, { "{\"a\": \"\\u", 0, S },
	{ "{\"a\": \"\\", 0, S },
	/* control characters and NUL */
	{ "{\"a\": \"b\tc\"}", 0, S }, { "{\"a\": \"b\nc\"}", 0, S },
	{ "{\"a\": \"\x1f\"}", 0, S }, { "{\"a\": \"\\u0000\"}", 0, S },
	{ "{\"a\\u0000\": \"b\"}", 0, S },
	{ "{\"a\": \"b\0c\"}", 12, S }, { "{\"a\": \"bc\"}\0", 12, S },
	/* lone or broken surrogates */
	{ "{\"a\": \"\\ud83d\"}", 0, U }, { "{\"a\": \"\\ude00\"}", 0, U },
	{ "{\"a\": \"\\ud83dx\"}", 0, U }, { "{\"a\": \"\\ud83d\\n\"}", 0, U },
	{ "{\"a\": \"\\ud83d\\u0041\"}", 0, U },
	{ "{\"a\": \"\\ud83d\\ud83d\"}", 0, U },
	{ "{\"a\": \"\\ude00\\ud83d\"}", 0, U },
	{ "{\"\\udbff\": \"b\"}", 0, U },
	{ "{\"a\": \"\\ud83d\\ude0\"}", 0, S },
	/* invalid UTF-8 */
	{ "{\"a\": \"\xff\"}", 0, U }, { "{\"a\": \"\x80\"}", 0, U },
	{ "{\"a\": \"\xc0\xaf\"}", 0, U },		/* overlong */
	{ "{\"a\": \"\xc1\xbf\"}", 0, U },
	{ "{\"a\": \"\xe0\x80\xaf\"}", 0, U },
	{ "{\"a\": \"\xf0\x80\x80\xaf\"}", 0, U },
	{ "{\"a\": \"\xed\xa0\x80\"}", 0, U },	/* encoded surrogate */
	{ "{\"a\": \"\xf4\x90\x80\x80\"}", 0, U },	/* > U+10FFFF */
	{ "{\"a\": \"\xf5\x80\x80\x80\"}", 0, U },
	{ "{\"a\": \"\xc3\"}", 0, U },		/* truncated */
	{ "{\"a\": \"\xe2\x82\"}", 0, U },
	{ "{\"a\": \"\xc3", 0, U },
	{ "{\"a\": \"\xe2\x82\x41\"}", 0, U },
	{ "{\"\xff\": \"b\"}", 0, U },
};

START_TEST(test_parse_bad)
{
	const struct bad *b = &bads[_i];
	size_t len = b->len ? b->len : strlen(b->json);
	struct ec_secrets s;
	int rc;

	memset(&s, 0x5a, sizeof(s));
	rc = ec_secrets_parse(b->json, len, &s);
	ck_assert_msg(rc == b->want, "case %d: got %d, want %d", _i, rc,
		      b->want);
	check_empty(&s);
}
END_TEST

/* --- read_file ----------------------------------------------------------- */

START_TEST(test_read_good)
{
	struct ec_secrets s;
	const char *p;

	p = write_file("s600", GOLDEN_JSON, strlen(GOLDEN_JSON), 0600);
	memset(&s, 0x5a, sizeof(s));
	ck_assert_int_eq(ec_secrets_read_file(p, &s), 0);
	check_golden(&s);
	ec_secrets_release(&s);

	p = write_file("s400", GOLDEN_JSON, strlen(GOLDEN_JSON), 0400);
	ck_assert_int_eq(ec_secrets_read_file(p, &s), 0);
	check_golden(&s);
	ec_secrets_release(&s);
}
END_TEST

static const mode_t loose_modes[] = { 0644, 0640, 0604, 0660, 0606, 0620,
				      0602, 0610, 0601, 0666, 0777 };

START_TEST(test_read_loose)
{
	struct ec_secrets s;
	const char *p;

	p = write_file("loose", GOLDEN_JSON, strlen(GOLDEN_JSON),
		       loose_modes[_i]);
	memset(&s, 0x5a, sizeof(s));
	ck_assert_int_eq(ec_secrets_read_file(p, &s), -EC_ELOOSE);
	check_empty(&s);
}
END_TEST

/* Another user's file is refused; root's is fine.  Needs root to chown. */
START_TEST(test_read_owner)
{
	struct ec_secrets s;
	const char *p;

	if (geteuid() != 0)
		return;
	p = write_file("owner", GOLDEN_JSON, strlen(GOLDEN_JSON), 0600);
	ck_assert_int_eq(chown(p, 12345, (gid_t)-1), 0);
	ck_assert_int_eq(ec_secrets_read_file(p, &s), -EC_ELOOSE);
	check_empty(&s);
	ck_assert_int_eq(chown(p, 0, (gid_t)-1), 0);
	ck_assert_int_eq(ec_secrets_read_file(p, &s), 0);
	ec_secrets_release(&s);
}
END_TEST

START_TEST(test_read_missing)
{
	struct ec_secrets s;

	memset(&s, 0x5a, sizeof(s));
	ck_assert_int_eq(ec_secrets_read_file(path_of("nope"), &s), -ENOENT);
	check_empty(&s);
}
END_TEST

START_TEST(test_read_symlink)
{
	struct ec_secrets s;
	char target[PATH_MAX];

	snprintf(target, sizeof(target), "%s",
		 write_file("real", GOLDEN_JSON, strlen(GOLDEN_JSON), 0600));
	ck_assert_int_eq(symlink(target, path_of("link")), 0);
	memset(&s, 0x5a, sizeof(s));
	ck_assert_int_eq(ec_secrets_read_file(path_of("link"), &s), -ELOOP);
	check_empty(&s);
}
END_TEST

START_TEST(test_read_not_regular)
{
	struct ec_secrets s;

	ck_assert_int_eq(mkdir(path_of("dir"), 0700), 0);
	ck_assert_int_eq(ec_secrets_read_file(path_of("dir"), &s), -EINVAL);
	check_empty(&s);
	/* a FIFO must be refused, not waited on */
	ck_assert_int_eq(mkfifo(path_of("fifo"), 0600), 0);
	ck_assert_int_eq(ec_secrets_read_file(path_of("fifo"), &s), -EINVAL);
	check_empty(&s);
	ck_assert_int_eq(ec_secrets_read_file("/dev/null", &s), -EINVAL);
	check_empty(&s);
}
END_TEST

START_TEST(test_read_size)
{
	struct ec_secrets s;
	const char *p;
	char *big;

	/* exactly the limit is read (a small object, then spaces) */
	big = malloc(EC_SECRETS_MAX);
	ck_assert_ptr_nonnull(big);
	memset(big, ' ', EC_SECRETS_MAX);
	memcpy(big, GOLDEN_JSON, strlen(GOLDEN_JSON));
	p = write_file("max", big, EC_SECRETS_MAX, 0600);
	ck_assert_int_eq(ec_secrets_read_file(p, &s), 0);
	check_golden(&s);
	ec_secrets_release(&s);
	free(big);

	/* one byte more is refused */
	p = write_file("over", "", 0, 0600);
	ck_assert_int_eq(truncate(p, (off_t)EC_SECRETS_MAX + 1), 0);
	ck_assert_int_eq(ec_secrets_read_file(p, &s), -EC_ETOOBIG);
	check_empty(&s);
}
END_TEST

START_TEST(test_read_malformed)
{
	struct ec_secrets s;
	const char *p;

	p = write_file("empty", "", 0, 0600);
	ck_assert_int_eq(ec_secrets_read_file(p, &s), -EC_ESECRETS);
	check_empty(&s);
	p = write_file("obj", "{}", 2, 0600);
	ck_assert_int_eq(ec_secrets_read_file(p, &s), -EC_ESECRETS);
	check_empty(&s);
	p = write_file("dup", "{\"a\":\"b\",\"a\":\"b\"}", 17, 0600);
	ck_assert_int_eq(ec_secrets_read_file(p, &s), -EC_ESECRETS);
	check_empty(&s);
	p = write_file("utf8", "{\"a\":\"\xff\"}", 9, 0600);
	ck_assert_int_eq(ec_secrets_read_file(p, &s), -EC_EUTF8);
	check_empty(&s);
}
END_TEST

/* --- descriptors and commands ------------------------------------------- */

/* A pipe holding text (written, then closed): its reading end. */
static int pipe_with(const char *text)
{
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(write(p[1], text, strlen(text)),
			 (ssize_t)strlen(text));
	ck_assert_int_eq(close(p[1]), 0);
	return p[0];
}

START_TEST(test_fd_of)
{
	ck_assert_int_eq(ec_secrets_fd_of("-"), 0);
	ck_assert_int_eq(ec_secrets_fd_of("/dev/stdin"), 0);
	ck_assert_int_eq(ec_secrets_fd_of("/dev/fd/0"), 0);
	ck_assert_int_eq(ec_secrets_fd_of("/dev/fd/63"), 63);
	ck_assert_int_eq(ec_secrets_fd_of("/proc/self/fd/7"), 7);
	ck_assert_int_eq(ec_secrets_fd_of("/dev/fd/"), -1);
	ck_assert_int_eq(ec_secrets_fd_of("/dev/fd/3x"), -1);
	ck_assert_int_eq(ec_secrets_fd_of("/dev/fd/99999999999"), -1);
	ck_assert_int_eq(ec_secrets_fd_of("/dev/fd"), -1);
	ck_assert_int_eq(ec_secrets_fd_of("secrets.json"), -1);
	ck_assert_int_eq(ec_secrets_fd_of("--"), -1);
}
END_TEST

START_TEST(test_read_pipe)
{
	struct ec_secrets s;
	struct stat st;
	char path[32];
	int fd;

	/* a pipe by its /dev/fd name (as `<(...)` gives it), not opened
	 * again: a symlink to "pipe:[...]" that O_NOFOLLOW would refuse */
	fd = pipe_with(GOLDEN_JSON);
	snprintf(path, sizeof(path), "/dev/fd/%d", fd);
	ck_assert_int_eq(ec_secrets_read_path(path, &s, &st), 0);
	ck_assert(S_ISFIFO(st.st_mode));
	check_golden(&s);
	ec_secrets_release(&s);
	ck_assert_int_eq(close(fd), 0);	/* still ours: not closed */

	fd = pipe_with("{\"k\": \"pw\"}");
	ck_assert_int_eq(ec_secrets_read_fd(fd, &s, NULL), 0);
	check_entry(&s, 0, "k", "pw", 2);
	ec_secrets_release(&s);
	ck_assert_int_eq(close(fd), 0);

	fd = pipe_with("not json");
	ck_assert_int_eq(ec_secrets_read_fd(fd, &s, NULL), -EC_ESECRETS);
	check_empty(&s);
	ck_assert_int_eq(close(fd), 0);
	ck_assert_int_eq(ec_secrets_read_fd(fd, &s, NULL), -EBADF);
}
END_TEST

START_TEST(test_read_fd_file)
{
	struct ec_secrets s;
	struct stat st;
	char path[32];
	const char *p;
	int fd;

	/* a regular file behind a descriptor keeps the file's checks */
	p = write_file("viafd", GOLDEN_JSON, strlen(GOLDEN_JSON), 0600);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ck_assert_int_eq(ec_secrets_read_path(path, &s, NULL), 0);
	check_golden(&s);
	ec_secrets_release(&s);
	ck_assert_int_eq(close(fd), 0);
	ck_assert_int_eq(chmod(p, 0640), 0);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ec_secrets_read_fd(fd, &s, &st), -EC_ELOOSE);
	ck_assert_uint_eq(st.st_mode & 07777, 0640);
	check_empty(&s);
	ck_assert_int_eq(close(fd), 0);
	/* and a path reports what it refused */
	ck_assert_int_eq(ec_secrets_read_path(p, &s, &st), -EC_ELOOSE);
	ck_assert_uint_eq(st.st_mode & 07777, 0640);
	ck_assert_int_eq(ec_secrets_read_path(path_of("nope"), &s, &st),
			 -ENOENT);
	ck_assert_uint_eq(st.st_mode, 0);
	/* a directory behind a descriptor is no source */
	fd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ec_secrets_read_fd(fd, &s, NULL), -EINVAL);
	ck_assert_int_eq(close(fd), 0);
}
END_TEST

START_TEST(test_read_command)
{
	struct ec_secrets_cmd st;
	struct ec_secrets s;

	ck_assert_int_eq(ec_secrets_read_command("printf '%s' '"
						 GOLDEN_JSON "'", 10000, &s,
						 &st), 0);
	ck_assert_int_eq(st.exit_status, 0);
	check_golden(&s);
	ec_secrets_release(&s);
	/* a pipeline: the shell runs it */
	ck_assert_int_eq(ec_secrets_read_command("echo '{\"a\": \"x\"}' | "
						 "cat", 10000, &s, NULL), 0);
	check_entry(&s, 0, "a", "x", 1);
	ec_secrets_release(&s);

	ck_assert_int_eq(ec_secrets_read_command("echo '{\"a\": \"x\"}'; "
						 "exit 3", 10000, &s, &st),
			 -ECANCELED);
	ck_assert_int_eq(st.exit_status, 3);
	ck_assert(!st.timed_out);
	check_empty(&s);
	ck_assert_int_eq(ec_secrets_read_command("kill -9 $$", 10000, &s,
						 &st), -ECANCELED);
	ck_assert_int_eq(st.signal, 9);
	ck_assert_int_eq(ec_secrets_read_command("echo nope", 10000, &s,
						 &st), -EC_ESECRETS);
	ck_assert_int_eq(st.exit_status, 0);
	ck_assert_int_eq(ec_secrets_read_command(": no output", 10000, &s,
						 &st), -EC_ESECRETS);
}
END_TEST

START_TEST(test_read_command_timeout)
{
	struct ec_secrets_cmd st;
	struct ec_secrets s;

	/* silent past the deadline, or printing and never exiting */
	ck_assert_int_eq(ec_secrets_read_command("sleep 20", 200, &s, &st),
			 -ETIMEDOUT);
	ck_assert(st.timed_out);
	check_empty(&s);
	ck_assert_int_eq(ec_secrets_read_command("echo '{\"a\": \"x\"}'; "
						 "exec sleep 20", 300, &s,
						 &st), -ETIMEDOUT);
	ck_assert(st.timed_out);
	check_empty(&s);
}
END_TEST

static Suite *secrets_suite(void)
{
	Suite *s = suite_create("secrets");
	TCase *tc;

	tc = tcase_create("parse_good");
	tcase_add_test(tc, test_parse_golden);
	tcase_add_test(tc, test_parse_escapes);
	tcase_add_test(tc, test_parse_utf8);
	tcase_add_test(tc, test_parse_whitespace);
	tcase_add_test(tc, test_parse_order);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse_bad");
	tcase_add_loop_test(tc, test_parse_bad, 0,
			    (int)(sizeof(bads) / sizeof(bads[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("read_file");
	tcase_add_checked_fixture(tc, setup_dir, teardown_dir);
	tcase_add_test(tc, test_read_good);
	tcase_add_loop_test(tc, test_read_loose, 0,
			    (int)(sizeof(loose_modes) /
				  sizeof(loose_modes[0])));
	tcase_add_test(tc, test_read_owner);
	tcase_add_test(tc, test_read_missing);
	tcase_add_test(tc, test_read_symlink);
	tcase_add_test(tc, test_read_not_regular);
	tcase_add_test(tc, test_read_size);
	tcase_add_test(tc, test_read_malformed);
	suite_add_tcase(s, tc);

	tc = tcase_create("read_sources");
	tcase_add_checked_fixture(tc, setup_dir, teardown_dir);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_fd_of);
	tcase_add_test(tc, test_read_pipe);
	tcase_add_test(tc, test_read_fd_file);
	tcase_add_test(tc, test_read_command);
	tcase_add_test(tc, test_read_command_timeout);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (ec_secure_init() < 0)
		return EXIT_FAILURE;
	return ec_test_run(secrets_suite());
}
