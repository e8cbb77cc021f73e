/*
 * unit: helpers shared by the Check runners in tests/unit/.
 *
 * Test code only (built into tests/unit/libunit.la, never into libcore).
 * Every helper fails the current test through ck_assert on any error, so
 * callers need not check.  Test data is not secret: plain malloc/free.
 * Files go only below EC_TEST_TMP, "$(abs_top_builddir)/tests/tmp"
 * (Makefile.am passes it in; `make clean` removes it).
 */
#ifndef EC_UNIT_H
#define EC_UNIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <check.h>

#ifndef EC_TEST_TMP
#error "EC_TEST_TMP: build with UNIT_CFLAGS (see Makefile.am)"
#endif

/* The whole file at path, with a NUL after its *len bytes (len may be
 * NULL); free() it. */
void *ec_test_slurp(const char *path, size_t *len);

/* Hex text of exactly 2 * n digits -> n bytes at out. */
void ec_test_hex(const char *hex, uint8_t *out, size_t n);

/* Hex text (an even number of digits) -> malloc'd bytes, *len of them;
 * free() it. */
uint8_t *ec_test_hex_dup(const char *hex, size_t *len);

/* A new directory EC_TEST_TMP/<name>-XXXXXX (mode 0700; EC_TEST_TMP is
 * made first when missing); its path, free() it. */
char *ec_test_tmpdir(const char *name);

/* Remove path and everything below it, symlinks not followed; a missing
 * path is fine (rm -rf). */
void ec_test_rm_rf(const char *path);

/* ec_test_rm_rf(*dir), then free(*dir) and *dir = NULL: the teardown of
 * ec_test_tmpdir(). */
void ec_test_tmpdir_free(char **dir);

/* "dir/rel" in one of four static buffers, taken in turn (so up to four
 * may be used in one call); valid until the fourth call after. */
const char *ec_test_path(const char *dir, const char *rel);

/* A file at path (created or truncated) holding the len bytes at buf. */
void ec_test_write(const char *path, const void *buf, size_t len);

/* Whether tests run in forked children: CK_FORK=no in the environment
 * turns that off, as Check reads it (so an abort ends the whole run). */
bool ec_test_forking(void);

/* The body of a runner's main(): run every test of s (output as
 * CK_VERBOSITY says; forking as CK_FORK says) and free it.  EXIT_SUCCESS
 * when none failed, EXIT_FAILURE otherwise. */
int ec_test_run(Suite *s);

#endif
