/* Helpers shared by the unit test runners; see unit.h. */
#include "config.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"

void *ec_test_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, r;

	ck_assert_msg(f != NULL, "cannot open '%s'", path);
	for (;;) {
		if (n + 1 >= cap) {	/* room for the NUL too */
			cap = cap ? cap * 2 : 4096;
			buf = realloc(buf, cap);
			ck_assert_ptr_nonnull(buf);
		}
		r = fread(buf + n, 1, cap - n - 1, f);
		if (r == 0)
			break;
		n += r;
	}
	ck_assert_msg(!ferror(f), "cannot read '%s'", path);
	fclose(f);
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return buf;
}

void ec_test_hex(const char *hex, uint8_t *out, size_t n)
{
	unsigned int v;
	size_t i;

	ck_assert_uint_eq(strlen(hex), 2 * n);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

uint8_t *ec_test_hex_dup(const char *hex, size_t *len)
{
	size_t n = strlen(hex) / 2;
	uint8_t *p = malloc(n ? n : 1);

	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(strlen(hex) % 2, 0);
	ec_test_hex(hex, p, n);
	*len = n;
	return p;
}

/* mkdir -p of an absolute path; other runners may make it at once. */
static void mkdir_p(const char *path)
{
	char *p = strdup(path), *slash;

	ck_assert_ptr_nonnull(p);
	for (slash = strchr(p + 1, '/');; slash = strchr(slash + 1, '/')) {
		if (slash != NULL)
			*slash = '\0';
		ck_assert_msg(mkdir(p, 0700) == 0 || errno == EEXIST,
			      "cannot create '%s': %s", p, strerror(errno));
		if (slash == NULL)
			break;
		*slash = '/';
	}
	free(p);
}

char *ec_test_tmpdir(const char *name)
{
	size_t n = strlen(EC_TEST_TMP) + strlen(name) + sizeof("//-XXXXXX");
	char *dir = malloc(n);

	ck_assert_ptr_nonnull(dir);
	mkdir_p(EC_TEST_TMP);
	snprintf(dir, n, "%s/%s-XXXXXX", EC_TEST_TMP, name);
	ck_assert_msg(mkdtemp(dir) != NULL, "cannot create '%s': %s", dir,
		      strerror(errno));
	return dir;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if ((flag == FTW_DP ? rmdir(path) : unlink(path)) < 0) {
		ck_abort_msg("cannot remove '%s': %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

void ec_test_rm_rf(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0 && errno == ENOENT)
		return;
	ck_assert_int_eq(nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

void ec_test_tmpdir_free(char **dir)
{
	ec_test_rm_rf(*dir);
	free(*dir);
	*dir = NULL;
}

const char *ec_test_path(const char *dir, const char *rel)
{
	static char buf[4][PATH_MAX];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, rel);
	return buf[k];
}

void ec_test_write(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	ck_assert_msg(f != NULL, "cannot create '%s'", path);
	ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

bool ec_test_forking(void)
{
	SRunner *sr = srunner_create(NULL);
	bool forking = srunner_fork_status(sr) == CK_FORK;

	srunner_free(sr);
	return forking;
}

int ec_test_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
