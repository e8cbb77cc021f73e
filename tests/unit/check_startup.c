/* Unit tests for src/startup.c: salt from text or file, key-name checks,
 * the secrets step, error text and the messages of failed steps. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "secrets.h"
#include "startup.h"
#include "unit.h"

static char *tmpdir;

static void setup_dir(void)
{
	tmpdir = ec_test_tmpdir("check_startup");
}

static void teardown_dir(void)
{
	ec_test_rm_rf(tmpdir);
	free(tmpdir);
	tmpdir = NULL;
}

/* A path in the temp dir (one of four rotating buffers). */
static const char *path_of(const char *name)
{
	static char buf[4][PATH_MAX];
	static int k;

	k = (k + 1) % 4;
	ck_assert_int_lt(snprintf(buf[k], sizeof(buf[k]), "%s/%s", tmpdir,
				  name), (int)sizeof(buf[k]));
	return buf[k];
}

/* Write a file in the temp dir with exactly this mode; its path. */
static const char *write_file(const char *name, const void *data, size_t len,
			      mode_t mode)
{
	const char *path = path_of(name);
	const char *p = data;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		ck_assert_int_gt(n, 0);
		p += n;
		len -= (size_t)n;
	}
	ck_assert_int_eq(fchmod(fd, mode), 0);
	ck_assert_int_eq(close(fd), 0);
	return path;
}

/* The message of st's failed step, malloc'd; checks the snprintf
 * contract on the way. */
static char *message(const struct ec_startup *st)
{
	size_t n = ec_startup_message(st, NULL, 0);
	char *m = malloc(n + 1);

	ck_assert_ptr_nonnull(m);
	memset(m, 'X', n + 1);
	ck_assert_uint_eq(ec_startup_message(st, m, n + 1), n);
	ck_assert_uint_eq(strlen(m), n);
	return m;
}

static void expect_message(const struct ec_startup *st, const char *want)
{
	char *m = message(st);

	ck_assert_str_eq(m, want);
	free(m);
}

/* --- error text ---------------------------------------------------------- */

START_TEST(test_errtext)
{
	char buf[EC_STARTUP_ERRTEXT_MAX], small[5];
	int e;

	ck_assert_ptr_eq(ec_startup_errtext(-ENOENT, buf, sizeof(buf)), buf);
	ck_assert_str_eq(buf, "no such file or directory");
	ck_assert_str_eq(ec_startup_errtext(ENOENT, buf, sizeof(buf)),
			 "no such file or directory");
	ck_assert_str_eq(ec_startup_errtext(-EISDIR, buf, sizeof(buf)),
			 "is a directory");
	ck_assert_str_eq(ec_startup_errtext(0, buf, sizeof(buf)), "success");
	/* our own texts are already lower-case, or start with an acronym */
	ck_assert_str_eq(ec_startup_errtext(-EC_ETOOBIG, buf, sizeof(buf)),
			 "too large");
	ck_assert_str_eq(ec_startup_errtext(-EC_ESECRETS, buf, sizeof(buf)),
			 "not a JSON object of key names to password strings");
	ck_assert_str_eq(ec_startup_errtext(-EC_ETIME, buf, sizeof(buf)),
			 "not an ISO-8601 date-time");
	/* every errno: the first letter lower-cased unless an acronym */
	for (e = 1; e < 134; e++) {
		char m[EC_STARTUP_ERRTEXT_MAX];

		/* a copy: strerror() may reuse its buffer */
		snprintf(m, sizeof(m), "%s", ec_strerror(e));
		ec_startup_errtext(-e, buf, sizeof(buf));
		ck_assert_msg(strcmp(buf + 1, m + 1) == 0, "%d: %s", e, buf);
		if (m[0] >= 'A' && m[0] <= 'Z' && !(m[1] >= 'A' && m[1] <= 'Z'))
			ck_assert_int_eq(buf[0], m[0] - 'A' + 'a');
		else
			ck_assert_int_eq(buf[0], m[0]);
	}
#ifdef EDOTDOT
	if (strncmp(ec_strerror(EDOTDOT), "RFS", 3) == 0)
		ck_assert_str_eq(ec_startup_errtext(-EDOTDOT, buf, sizeof(buf)),
				 ec_strerror(EDOTDOT));	/* acronym kept */
#endif
	/* truncated, always terminated; size 0 writes nothing */
	ck_assert_str_eq(ec_startup_errtext(-ENOENT, small, sizeof(small)),
			 "no s");
	ck_assert_str_eq(ec_startup_errtext(-ENOENT, small, 1), "");
	small[0] = 'Z';
	ec_startup_errtext(-ENOENT, small, 0);
	ck_assert_int_eq(small[0], 'Z');
}
END_TEST

/* --- salt ---------------------------------------------------------------- */

START_TEST(test_salt_text)
{
	uint8_t *salt = (uint8_t *)1;
	size_t len = 99;

	ck_assert_int_eq(ec_startup_salt("s\xc3\xa4lz", NULL, &salt, &len), 0);
	ck_assert_uint_eq(len, 5);
	ck_assert_mem_eq(salt, "s\xc3\xa4lz", 6);	/* and a NUL */
	free(salt);
	/* an empty text is an empty salt, still a buffer */
	ck_assert_int_eq(ec_startup_salt("", NULL, &salt, &len), 0);
	ck_assert_uint_eq(len, 0);
	ck_assert_ptr_nonnull(salt);
	ck_assert_int_eq(salt[0], '\0');
	free(salt);
}
END_TEST

START_TEST(test_salt_file)
{
	static const uint8_t bytes[] = { 0, 0xff, 'p', 'y', 0, '\n', 0 };
	uint8_t *salt = (uint8_t *)1;
	size_t len = 99;
	const char *p;

	p = write_file("salt", bytes, sizeof(bytes), 0644);
	ck_assert_int_eq(ec_startup_salt(NULL, p, &salt, &len), 0);
	ck_assert_uint_eq(len, sizeof(bytes));
	ck_assert_mem_eq(salt, bytes, sizeof(bytes));
	ck_assert_int_eq(salt[len], '\0');
	free(salt);
	/* an empty file: an empty salt */
	p = write_file("empty", "", 0, 0600);
	ck_assert_int_eq(ec_startup_salt(NULL, p, &salt, &len), 0);
	ck_assert_uint_eq(len, 0);
	ck_assert_ptr_nonnull(salt);
	free(salt);
	/* the text wins only when given alone */
	ck_assert_int_eq(ec_startup_salt("t", p, &salt, &len), -EINVAL);
	ck_assert_ptr_null(salt);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(ec_startup_salt(NULL, NULL, &salt, &len), -EINVAL);
}
END_TEST

START_TEST(test_salt_file_limits)
{
	uint8_t *big = malloc(EC_STARTUP_SALT_MAX + 1);
	uint8_t *salt = (uint8_t *)1;
	size_t len = 99;
	const char *p;

	ck_assert_ptr_nonnull(big);
	memset(big, 'z', EC_STARTUP_SALT_MAX + 1);
	big[7] = 0;
	p = write_file("max", big, EC_STARTUP_SALT_MAX, 0600);
	ck_assert_int_eq(ec_startup_salt(NULL, p, &salt, &len), 0);
	ck_assert_uint_eq(len, EC_STARTUP_SALT_MAX);
	ck_assert_mem_eq(salt, big, EC_STARTUP_SALT_MAX);
	free(salt);
	p = write_file("toobig", big, EC_STARTUP_SALT_MAX + 1, 0600);
	ck_assert_int_eq(ec_startup_salt(NULL, p, &salt, &len), -EC_ETOOBIG);
	ck_assert_ptr_null(salt);
	ck_assert_uint_eq(len, 0);
	free(big);
	ck_assert_int_eq(ec_startup_salt(NULL, path_of("missing"), &salt,
					 &len), -ENOENT);
	ck_assert_ptr_null(salt);
	ck_assert_int_eq(ec_startup_salt(NULL, tmpdir, &salt, &len), -EISDIR);
	ck_assert_ptr_null(salt);
	/* a device reads as what it gives: /dev/null is an empty salt */
	ck_assert_int_eq(ec_startup_salt(NULL, "/dev/null", &salt, &len), 0);
	ck_assert_uint_eq(len, 0);
	free(salt);
}
END_TEST

START_TEST(test_read_salt_step)
{
	struct ec_startup st;
	char *want;

	ec_startup_init(&st);
	st.salt_text = "abc";
	ck_assert_int_eq(ec_startup_read_salt(&st), 0);
	ck_assert_uint_eq(st.salt_len, 3);
	ck_assert_mem_eq(st.salt, "abc", 3);
	ck_assert_int_eq(st.failed, EC_STARTUP_OK);
	expect_message(&st, "");
	ec_startup_release(&st);
	ck_assert_ptr_null(st.salt);
	ck_assert_str_eq(st.salt_text, "abc");	/* inputs kept */

	ec_startup_init(&st);
	st.salt_file = path_of("nosalt");
	ck_assert_int_eq(ec_startup_read_salt(&st), -ENOENT);
	ck_assert_int_eq(st.failed, EC_STARTUP_SALT);
	ck_assert_int_eq(st.err, -ENOENT);
	ck_assert_int_ne(asprintf(&want, "cannot read salt file '%s': no such "
				  "file or directory", st.salt_file), -1);
	expect_message(&st, want);
	free(want);
	ec_startup_release(&st);
}
END_TEST

/* --- key names ------------------------------------------------------------ */

static void parse(const char *json, struct ec_secrets *s)
{
	ck_assert_int_eq(ec_secrets_parse(json, strlen(json), s), 0);
}

START_TEST(test_check_key)
{
	struct ec_secrets s;

	parse("{\"a\": \"1\", \"b\": \"2\"}", &s);
	ck_assert(ec_startup_has_key(&s, "a"));
	ck_assert(ec_startup_has_key(&s, "b"));
	ck_assert(!ec_startup_has_key(&s, "c"));
	ck_assert(!ec_startup_has_key(&s, "A"));
	ck_assert_int_eq(ec_startup_check_key(&s, "a", false), 0);
	ck_assert_int_eq(ec_startup_check_key(&s, "b", true), 0);
	ck_assert_int_eq(ec_startup_check_key(&s, "c", false), -EC_EKEY);
	ck_assert_int_eq(ec_startup_check_key(&s, "c", true), -EC_EKEY);
	ck_assert_int_eq(ec_startup_check_key(&s, "default", true), -EC_EKEY);
	/* no key: reading needs none, writing needs a default */
	ck_assert_int_eq(ec_startup_check_key(&s, NULL, false), 0);
	ck_assert_int_eq(ec_startup_check_key(&s, NULL, true), -ENOKEY);
	ec_secrets_release(&s);

	parse("{\"only\": \"1\"}", &s);		/* the one secret */
	ck_assert_int_eq(ec_startup_check_key(&s, NULL, true), 0);
	ck_assert_int_eq(ec_startup_check_key(&s, "other", true), -EC_EKEY);
	ec_secrets_release(&s);

	parse("{\"x\": \"1\", \"default\": \"2\"}", &s);
	ck_assert_int_eq(ec_startup_check_key(&s, NULL, true), 0);
	ec_secrets_release(&s);
}
END_TEST

/* --- the secrets step and its messages ---------------------------------- */

#define TWO "{\"a\": \"pw-a\", \"b\": \"pw-b\"}"

START_TEST(test_read_secrets_step)
{
	struct ec_startup st;
	char *want;

	ec_startup_init(&st);
	st.secrets_file = write_file("two.json", TWO, strlen(TWO), 0600);
	ck_assert_int_eq(ec_startup_read_secrets(&st, false), 0);
	ck_assert_uint_eq(st.secrets.n, 2);
	ck_assert_str_eq(st.secrets.v[0].name, "a");
	ck_assert_str_eq(st.secrets.v[1].password, "pw-b");
	expect_message(&st, "");
	st.key = "b";
	ck_assert_int_eq(ec_startup_read_secrets(&st, true), 0); /* again */
	ck_assert_uint_eq(st.secrets.n, 2);
	ec_startup_release(&st);
	ck_assert_uint_eq(st.secrets.n, 0);
	ck_assert_ptr_null(st.secrets.v);

	/* unknown key: the secrets are dropped at once */
	ec_startup_init(&st);
	st.secrets_file = path_of("two.json");
	st.key = "nosuch";
	ck_assert_int_eq(ec_startup_read_secrets(&st, false), -EC_EKEY);
	ck_assert_int_eq(st.failed, EC_STARTUP_KEY);
	ck_assert_uint_eq(st.secrets.n, 0);
	ck_assert_int_ne(asprintf(&want, "unknown key name 'nosuch': not in "
				  "secrets file '%s'", st.secrets_file), -1);
	expect_message(&st, want);
	free(want);
	ec_startup_release(&st);

	/* writing without a key and no default */
	ec_startup_init(&st);
	st.secrets_file = path_of("two.json");
	ck_assert_int_eq(ec_startup_read_secrets(&st, true), -ENOKEY);
	ck_assert_int_eq(st.failed, EC_STARTUP_NO_DEFAULT);
	ck_assert_uint_eq(st.secrets.n, 0);
	ck_assert_int_ne(asprintf(&want, "no --key given and secrets file "
				  "'%s' has no 'default' key",
				  st.secrets_file), -1);
	expect_message(&st, want);
	free(want);
	st.key_option = "-o key=";	/* the daemon's spelling */
	ck_assert_int_ne(asprintf(&want, "no -o key= given and secrets file "
				  "'%s' has no 'default' key",
				  st.secrets_file), -1);
	expect_message(&st, want);
	free(want);
	ec_startup_release(&st);
}
END_TEST

START_TEST(test_read_secrets_refused)
{
	static const struct {
		const char *name, *text;
		mode_t mode;
		const char *why;
	} cases[] = {
		{ "loose.json", TWO, 0644, "permissions 0644 are too open "
		  "(group or others have access; chmod 600 it)" },
		{ "loose2.json", TWO, 0604, "permissions 0604 are too open "
		  "(group or others have access; chmod 600 it)" },
		{ "bad.json", "{\"a\": ", 0600, "not a JSON object of key "
		  "names to password strings" },
		{ "missing.json", NULL, 0, "no such file or directory" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ec_startup st;
		char *want;

		ec_startup_init(&st);
		if (cases[i].text)
			st.secrets_file = write_file(cases[i].name,
						     cases[i].text,
						     strlen(cases[i].text),
						     cases[i].mode);
		else
			st.secrets_file = path_of(cases[i].name);
		ck_assert_int_lt(ec_startup_read_secrets(&st, false), 0);
		ck_assert_int_eq(st.failed, EC_STARTUP_SECRETS);
		ck_assert_uint_eq(st.secrets.n, 0);
		ck_assert_int_ne(asprintf(&want, "cannot use secrets file "
					  "'%s': %s", st.secrets_file,
					  cases[i].why), -1);
		expect_message(&st, want);
		free(want);
		ec_startup_release(&st);
	}
}
END_TEST

/* Another user's file: its owner is named.  Needs root to chown. */
START_TEST(test_read_secrets_owner)
{
	struct ec_startup st;
	char *want;

	if (geteuid() != 0)
		return;
	ec_startup_init(&st);
	st.secrets_file = write_file("theirs.json", TWO, strlen(TWO), 0600);
	ck_assert_int_eq(chown(st.secrets_file, 4321, (gid_t)-1), 0);
	ck_assert_int_eq(ec_startup_read_secrets(&st, false), -EC_ELOOSE);
	ck_assert_int_ne(asprintf(&want, "cannot use secrets file '%s': "
				  "owned by uid 4321, not by you or root",
				  st.secrets_file), -1);
	expect_message(&st, want);
	free(want);
	ec_startup_release(&st);
}
END_TEST

/* Standard input and /dev/fd/N: pipes are read as they are. */
START_TEST(test_read_secrets_fd)
{
	struct ec_startup st;
	char path[32], *want;
	int p[2], saved;

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(write(p[1], TWO, strlen(TWO)), (ssize_t)strlen(TWO));
	ck_assert_int_eq(close(p[1]), 0);
	snprintf(path, sizeof(path), "/dev/fd/%d", p[0]);
	ec_startup_init(&st);
	st.secrets_file = path;
	ck_assert_int_eq(ec_startup_read_secrets(&st, false), 0);
	ck_assert_uint_eq(st.secrets.n, 2);
	ec_startup_release(&st);
	ck_assert_int_eq(close(p[0]), 0);

	/* "-": standard input (replaced for the test, then restored) */
	saved = dup(0);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(write(p[1], "{\"a\": ", 6), 6);
	ck_assert_int_eq(close(p[1]), 0);
	ck_assert_int_eq(dup2(p[0], 0), 0);
	ck_assert_int_eq(close(p[0]), 0);
	ec_startup_init(&st);
	st.secrets_file = "-";
	ck_assert_int_eq(ec_startup_read_secrets(&st, false), -EC_ESECRETS);
	expect_message(&st, "cannot read secrets from standard input: not a "
		       "JSON object of key names to password strings");
	ec_startup_release(&st);
	ck_assert_int_eq(dup2(saved, 0), 0);
	ck_assert_int_eq(close(saved), 0);

	/* a FIFO by name is still refused, and told how to do it */
	ck_assert_int_eq(mkfifo(path_of("fifo"), 0600), 0);
	ec_startup_init(&st);
	st.secrets_file = path_of("fifo");
	ck_assert_int_eq(ec_startup_read_secrets(&st, false), -EINVAL);
	ck_assert_int_ne(asprintf(&want, "cannot use secrets file '%s': not "
				  "a regular file (for a pipe, use /dev/fd/N "
				  "or -)", st.secrets_file), -1);
	expect_message(&st, want);
	free(want);
	ec_startup_release(&st);
}
END_TEST

START_TEST(test_read_secrets_extpass)
{
	static const struct {
		const char *cmd;
		int err;
		const char *msg;	/* after "extpass command '<cmd>' " */
	} cases[] = {
		{ "exit 3", -ECANCELED, "failed with exit status 3" },
		{ "kill -TERM $$", -ECANCELED, "was killed by signal 15" },
		{ "echo '{}'", -EC_ESECRETS, "printed no secrets: not a JSON "
		  "object of key names to password strings" },
		{ "sleep 10", -ETIMEDOUT, "timed out after 1 s" },
	};
	struct ec_startup st;
	size_t i;

	ec_startup_init(&st);
	st.extpass = "printf '%s' '" TWO "'";
	st.secrets_file = "/ignored/when/extpass/is/set";
	st.key = "b";
	ck_assert_int_eq(ec_startup_read_secrets(&st, true), 0);
	ck_assert_uint_eq(st.secrets.n, 2);
	ec_startup_release(&st);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *want;

		ec_startup_init(&st);
		st.extpass = cases[i].cmd;
		st.extpass_timeout_ms = 1000;
		ck_assert_int_eq(ec_startup_read_secrets(&st, false),
				 cases[i].err);
		ck_assert_int_eq(st.failed, EC_STARTUP_EXTPASS);
		ck_assert_uint_eq(st.secrets.n, 0);
		ck_assert_int_ne(asprintf(&want, "extpass command '%s' %s",
					  cases[i].cmd, cases[i].msg), -1);
		expect_message(&st, want);
		free(want);
		ec_startup_release(&st);
	}
}
END_TEST

START_TEST(test_open_failed)
{
	struct ec_startup st;
	char buf[16];
	size_t n;

	ec_startup_init(&st);
	st.secrets_file = "/etc/ec/secrets.json";
	/* ec_cache_open(): the default key names no secret */
	ck_assert_int_eq(ec_startup_open_failed(&st, "/c", -EC_EKEY),
			 -EC_EKEY);
	ck_assert_int_eq(st.failed, EC_STARTUP_KEY);
	expect_message(&st, "unknown key name 'default': not in secrets file "
		       "'/etc/ec/secrets.json'");
	st.key = "k1";
	expect_message(&st, "unknown key name 'k1': not in secrets file "
		       "'/etc/ec/secrets.json'");
	/* anything else is about the directory */
	ck_assert_int_eq(ec_startup_open_failed(&st, "/no/dir", -ENOENT),
			 -ENOENT);
	ck_assert_int_eq(st.failed, EC_STARTUP_CACHE_DIR);
	expect_message(&st, "cannot open cache directory '/no/dir': no such "
		       "file or directory");
	ec_startup_open_failed(&st, "/f", -ENOTDIR);
	expect_message(&st, "cannot open cache directory '/f': not a "
		       "directory");
	ec_startup_open_failed(&st, "/c", -EINVAL);
	expect_message(&st, "cannot open cache directory '/c': invalid "
		       "argument");
	/* snprintf contract: truncated, terminated, full length returned */
	ec_startup_open_failed(&st, "/no/dir", -ENOENT);
	n = ec_startup_message(&st, buf, sizeof(buf));
	ck_assert_uint_eq(n, strlen("cannot open cache directory '/no/dir': "
				    "no such file or directory"));
	ck_assert_str_eq(buf, "cannot open cac");	/* 15 + NUL */
	ec_startup_release(&st);
	expect_message(&st, "");
}
END_TEST

static Suite *startup_suite(void)
{
	Suite *s = suite_create("startup");
	TCase *tc;

	tc = tcase_create("errtext");
	tcase_add_test(tc, test_errtext);
	suite_add_tcase(s, tc);

	tc = tcase_create("salt");
	tcase_add_checked_fixture(tc, setup_dir, teardown_dir);
	tcase_add_test(tc, test_salt_text);
	tcase_add_test(tc, test_salt_file);
	tcase_add_test(tc, test_salt_file_limits);
	tcase_add_test(tc, test_read_salt_step);
	suite_add_tcase(s, tc);

	tc = tcase_create("keys");
	tcase_add_test(tc, test_check_key);
	suite_add_tcase(s, tc);

	tc = tcase_create("secrets");
	tcase_add_checked_fixture(tc, setup_dir, teardown_dir);
	tcase_add_test(tc, test_read_secrets_step);
	tcase_add_test(tc, test_read_secrets_refused);
	tcase_add_test(tc, test_read_secrets_owner);
	tcase_add_test(tc, test_read_secrets_fd);
	tcase_add_test(tc, test_read_secrets_extpass);
	tcase_add_test(tc, test_open_failed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ec_test_run(startup_suite());
}
