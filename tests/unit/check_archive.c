/* Unit tests for src/archive.c, src/archive_read.c (export records as tar
 * and JSON lines, round trips, malformed and truncated input) and
 * src/fsstats.c (the mount's counters as JSON). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive.h"
#include "error.h"
#include "fsstats.h"
#include "secure.h"
#include "ttl.h"
#include "unit.h"

/* The records of the round trips: binary and empty data, UTF-8 text, a
 * long id (pax path), an id that is not UTF-8 (tar only), no metadata. */
static char long_id[400];

struct rec {
	const char *id, *key, *created, *comment, *validasof;
	const char *data;
	size_t len;
};

static const struct rec recs[] = {
	{ "a/bin", "default", "2026-01-02T03:04:05.678901+00:00",
	  "Zürich \"q\" \\ \n tab\t €😀", "2026-01-01T00:00:00+00:00",
	  "\0\1\2\377\376binary\0", 13 },
	{ "a/empty", "k2", "2026-01-02T03:04:05+00:00", NULL, NULL, "", 0 },
	{ "bare", NULL, NULL, NULL, NULL, "x", 1 },
	{ NULL /* long_id */, "default", "2025-12-31T23:59:59+00:00", "c",
	  NULL, "long", 4 },
};
#define NRECS (sizeof(recs) / sizeof(*recs))

static char *dupn(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void make(const struct rec *w, struct ec_record *r)
{
	memset(r, 0, sizeof(*r));
	r->id = strdup(w->id ? w->id : long_id);
	r->key = dupn(w->key);
	r->created_at = dupn(w->created);
	r->comment = dupn(w->comment);
	r->validasof = dupn(w->validasof);
	r->len = w->len;
	r->data = ec_secure_alloc(w->len);
	ck_assert_ptr_nonnull(r->data);
	memcpy(r->data, w->data, w->len);
}

static void same_str(const char *got, const char *want)
{
	if (!want)
		ck_assert_ptr_null(got);
	else
		ck_assert_str_eq(got, want);
}

static void expect(const struct ec_record *r, const struct rec *w)
{
	ck_assert_str_eq(r->id, w->id ? w->id : long_id);
	same_str(r->key, w->key);
	same_str(r->created_at, w->created);
	same_str(r->comment, w->comment);
	same_str(r->validasof, w->validasof);
	ck_assert_uint_eq(r->len, w->len);
	ck_assert(w->len == 0 || memcmp(r->data, w->data, w->len) == 0);
}

/* A file of buf[0..n), opened for reading (closed by the caller). */
static int spill(const void *buf, size_t n)
{
	char *dir = ec_test_tmpdir("ec-archive");
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/in", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, buf, n), (ssize_t)n);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	unlink(path);
	ec_test_rm_rf(dir);
	free(dir);
	return fd;
}

static void build(enum ec_archive_format f, struct ec_sbuf *out)
{
	struct ec_record r;
	size_t i;

	memset(long_id, 'x', sizeof(long_id) - 1);
	memcpy(long_id + 150, "/dir/", 5);
	for (i = 0; i < NRECS; i++) {
		make(&recs[i], &r);
		if (f == EC_ARCHIVE_TAR)
			ck_assert_int_eq(ec_archive_put_tar(out, &r,
							    1767323045678901LL),
					 0);
		else
			ck_assert_int_eq(ec_archive_put_jsonl(out, &r), 0);
		ec_record_release(&r);
	}
	if (f == EC_ARCHIVE_TAR)
		ck_assert_int_eq(ec_archive_put_tar_end(out), 0);
}

/* Read all of buf[0..n) as f; the records must be recs[]. */
static void read_back(const void *buf, size_t n, enum ec_archive_format f)
{
	struct ec_archive_reader *ar;
	struct ec_record r;
	int fd = spill(buf, n);
	size_t i;

	ck_assert_int_eq(ec_archive_reader_new(fd, f, &ar), 0);
	for (i = 0; i < NRECS; i++) {
		ck_assert_int_eq(ec_archive_next(ar, &r), 1);
		expect(&r, &recs[i]);
		ec_record_release(&r);
	}
	ck_assert_int_eq(ec_archive_next(ar, &r), 0);
	ck_assert_int_ne(ec_archive_reader_format(ar), EC_ARCHIVE_AUTO);
	ec_archive_reader_free(ar);
	close(fd);
}

START_TEST(test_round_trip)
{
	struct ec_sbuf tar = EC_SBUF_INIT, jl = EC_SBUF_INIT;

	build(EC_ARCHIVE_TAR, &tar);
	ck_assert_uint_eq(tar.len % 512, 0);
	read_back(tar.p, tar.len, EC_ARCHIVE_TAR);
	read_back(tar.p, tar.len, EC_ARCHIVE_AUTO);
	build(EC_ARCHIVE_JSONL, &jl);
	ck_assert_int_eq(jl.p[jl.len - 1], '\n');
	read_back(jl.p, jl.len, EC_ARCHIVE_JSONL);
	read_back(jl.p, jl.len, EC_ARCHIVE_AUTO);
	ec_sbuf_release(&tar);
	ec_sbuf_release(&jl);
}
END_TEST

START_TEST(test_jsonl_form)
{
	struct ec_sbuf out = EC_SBUF_INIT;
	struct ec_record r;
	static const char want[] =
		"{\"id\": \"a/b\", \"key\": \"default\", \"created_at\": null, "
		"\"comment\": \"x/y\", \"validasof\": null, \"size\": 3, "
		"\"data\": \"AAEC\"}\n";

	memset(&r, 0, sizeof(r));
	r.id = strdup("a/b");
	r.key = strdup("default");
	r.comment = strdup("x/y");
	r.len = 3;
	r.data = ec_secure_alloc(3);
	memcpy(r.data, "\0\1\2", 3);
	ck_assert_int_eq(ec_archive_put_jsonl(&out, &r), 0);
	ck_assert_uint_eq(out.len, strlen(want));
	ck_assert(memcmp(out.p, want, out.len) == 0);
	/* JSON cannot carry an id that is not UTF-8 */
	free(r.id);
	r.id = strdup("a/\377");
	out.len = 0;
	ck_assert_int_eq(ec_archive_put_jsonl(&out, &r), -EC_EUTF8);
	ck_assert_int_eq(ec_archive_put_tar(&out, &r, EC_TIME_NONE), 0);
	ec_record_release(&r);
	ec_sbuf_release(&out);
}
END_TEST

/* Reading text: the return of the first next() that is not 1. */
static int first_bad(const char *text, size_t n, enum ec_archive_format f,
		     size_t *good, size_t *pos)
{
	struct ec_archive_reader *ar;
	struct ec_record r;
	int fd = spill(text, n), rc;

	*good = 0;
	ck_assert_int_eq(ec_archive_reader_new(fd, f, &ar), 0);
	while ((rc = ec_archive_next(ar, &r)) == 1) {
		ec_record_release(&r);
		++*good;
	}
	if (rc == 2)
		ec_record_release(&r);
	if (rc == -EC_EARCHIVE)
		ck_assert_str_ne(ec_archive_error(ar), "");
	*pos = ec_archive_position(ar);
	ec_archive_reader_free(ar);
	close(fd);
	return rc;
}

START_TEST(test_jsonl_bad)
{
	static const char *bad[] = {
		"[1]\n",
		"{\"id\": \"a\"}\n",
		"{\"data\": \"AA==\"}\n",
		"{\"id\": 5, \"data\": \"\"}\n",
		"{\"id\": \"a\", \"data\": \"A\"}\n",
		"{\"id\": \"a\", \"data\": \"AB==\"}\n",	/* not canonical */
		"{\"id\": \"a\", \"data\": \"AA==\", \"size\": 2}\n",
		"{\"id\": \"a\", \"data\": \"\", \"key\": 1}\n",
		"{\"id\": \"a\", \"data\": \"\"} x\n",
		"{\"id\": \"a\xff\", \"data\": \"\"}\n",
		"{\"id\": \"a\", \"data\": \"\"",		/* cut short */
	};
	static const char two[] =
		"{\"id\": \"a\", \"data\": \"\", \"comment\": null}\n\n"
		"  \n{\"id\": \"b\", \"data\": \"eA==\", \"size\": 1}\n{\n";
	size_t i, good, pos;

	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		ck_assert_msg(first_bad(bad[i], strlen(bad[i]),
					EC_ARCHIVE_JSONL, &good, &pos) ==
			      -EC_EARCHIVE, "%s", bad[i]);
		ck_assert_uint_eq(good, 0);
		ck_assert_uint_eq(pos, 1);
	}
	/* blank lines are fine; the position is the line number */
	ck_assert_int_eq(first_bad(two, strlen(two), EC_ARCHIVE_AUTO, &good,
				   &pos), -EC_EARCHIVE);
	ck_assert_uint_eq(good, 2);
	ck_assert_uint_eq(pos, 5);
	/* empty input: no records */
	ck_assert_int_eq(first_bad("", 0, EC_ARCHIVE_AUTO, &good, &pos), 0);
	ck_assert_int_eq(first_bad(" \n", 2, EC_ARCHIVE_JSONL, &good, &pos), 0);
	/* neither form */
	ck_assert_int_eq(first_bad("hello", 5, EC_ARCHIVE_AUTO, &good, &pos),
			 -EC_EARCHIVE);
}
END_TEST

START_TEST(test_tar_cut_short)
{
	struct ec_sbuf tar = EC_SBUF_INIT;
	size_t cut, good, pos;

	build(EC_ARCHIVE_TAR, &tar);
	/* Cut anywhere before the end marker: the records before the cut
	 * come out whole, then an error; never a shorter entry. */
	for (cut = 1; cut < tar.len - 1024; cut += 97) {
		ck_assert_int_eq(first_bad((const char *)tar.p, cut,
					   EC_ARCHIVE_TAR, &good, &pos),
				 -EC_EARCHIVE);
		ck_assert_uint_lt(good, NRECS);
	}
	/* without the end marker */
	ck_assert_int_eq(first_bad((const char *)tar.p, tar.len - 1024,
				   EC_ARCHIVE_TAR, &good, &pos), -EC_EARCHIVE);
	ck_assert_uint_eq(good, NRECS);
	/* a damaged header */
	tar.p[100] ^= 1;
	ck_assert_int_eq(first_bad((const char *)tar.p, tar.len,
				   EC_ARCHIVE_TAR, &good, &pos), -EC_EARCHIVE);
	ck_assert_uint_eq(good, 0);
	ec_sbuf_release(&tar);
}
END_TEST

/* A ustar header of type t named name with size bytes of data. */
static void hdr(uint8_t *b, const char *name, char t, unsigned size)
{
	unsigned sum = 0, i;

	memset(b, 0, 512);
	memcpy(b, name, strlen(name));
	memcpy(b + 100, "0000600", 7);
	snprintf((char *)b + 124, 12, "%011o", size);
	memcpy(b + 136, "00000000000", 11);
	b[156] = (uint8_t)t;
	memcpy(b + 257, "ustar", 6);
	memcpy(b + 263, "00", 2);
	memset(b + 148, ' ', 8);
	for (i = 0; i < 512; i++)
		sum += b[i];
	snprintf((char *)b + 148, 8, "%06o", sum);
}

START_TEST(test_tar_members)
{
	uint8_t t[512 * 16];
	struct ec_archive_reader *ar;
	struct ec_record r;
	size_t n = 0;
	int fd;

	memset(t, 0, sizeof(t));
	hdr(t + n, "./", '5', 0);			/* skipped */
	n += 512;
	hdr(t + n, "./dir/", '5', 0);			/* skipped */
	n += 512;
	hdr(t + n, "./dir/file", '0', 3);		/* an entry */
	memcpy(t + n + 512, "abc", 3);
	n += 1024;
	hdr(t + n, "./dir/link", '2', 0);		/* not an entry */
	n += 512;
	hdr(t + n, "././L", 'L', 8);			/* GNU long name */
	memcpy(t + n + 512, "long/nm", 8);
	n += 1024;
	hdr(t + n, "short", '0', 0);
	n += 512;
	hdr(t + n, "PaxHeaders/big", 'x', 10);		/* size from pax */
	memcpy(t + n + 512, "10 size=3\n", 10);
	n += 1024;
	hdr(t + n, "big", '0', 0);
	memcpy(t + n + 512, "xyz", 3);
	n += 1024;
	n += 1024;					/* the end */
	fd = spill(t, n);
	ck_assert_int_eq(ec_archive_reader_new(fd, EC_ARCHIVE_AUTO, &ar), 0);
	ck_assert_int_eq(ec_archive_next(ar, &r), 1);
	ck_assert_str_eq(r.id, "dir/file");
	ck_assert_uint_eq(r.len, 3);
	ck_assert_ptr_null(r.key);
	ec_record_release(&r);
	ck_assert_int_eq(ec_archive_next(ar, &r), 2);
	ck_assert_str_eq(r.id, "dir/link");
	ec_record_release(&r);
	ck_assert_int_eq(ec_archive_next(ar, &r), 1);
	ck_assert_str_eq(r.id, "long/nm");
	ck_assert_uint_eq(r.len, 0);
	ec_record_release(&r);
	ck_assert_int_eq(ec_archive_next(ar, &r), 1);
	ck_assert_str_eq(r.id, "big");
	ck_assert_uint_eq(r.len, 3);
	ck_assert(memcmp(r.data, "xyz", 3) == 0);
	ec_record_release(&r);
	ck_assert_int_eq(ec_archive_next(ar, &r), 0);
	ec_archive_reader_free(ar);
	close(fd);
}
END_TEST

/* --- fsstats ----------------------------------------------------------- */

START_TEST(test_fsstats)
{
	static const char text[] =
		"{\"lookups\": 10, \"hits\": 7, \"misses\": 3, \"new\": [1],"
		" \"hidden\": {\"stale\": 1, \"salt-mismatch\": 0, "
		"\"tampered\": 2, \"other\": 9}, \"bytes_read\": "
		"18446744073709551615}";
	struct ec_fsstats s, back;
	char *out;
	size_t len;

	ck_assert_int_eq(ec_fsstats_parse(text, strlen(text), &s), 0);
	ck_assert(s.has[EC_FSSTAT_LOOKUPS] && s.v[EC_FSSTAT_LOOKUPS] == 10);
	ck_assert(s.has[EC_FSSTAT_HIDDEN_TAMPERED]);
	ck_assert_uint_eq(s.v[EC_FSSTAT_HIDDEN_TAMPERED], 2);
	ck_assert(!s.has[EC_FSSTAT_HIDDEN_CORRUPT]);
	ck_assert(!s.has[EC_FSSTAT_SAVES]);
	ck_assert(s.v[EC_FSSTAT_BYTES_READ] == UINT64_MAX);
	ck_assert_ptr_nonnull(strstr(s.json, "\"new\""));	/* kept */
	ck_assert_str_eq(ec_fsstats_name(EC_FSSTAT_HIDDEN_SALT_MISMATCH),
			 "salt-mismatch");
	ck_assert_str_eq(ec_fsstats_group(EC_FSSTAT_HIDDEN_STALE), "hidden");
	ck_assert_ptr_null(ec_fsstats_group(EC_FSSTAT_SAVES));
	/* format writes every counter; parse reads it back */
	ck_assert_int_eq(ec_fsstats_format(&s, &out, &len), 0);
	ck_assert_uint_eq(strlen(out), len);
	ck_assert_int_eq(ec_fsstats_parse(out, len, &back), 0);
	ck_assert(memcmp(back.v, s.v, sizeof(s.v)) == 0);
	ck_assert(back.has[EC_FSSTAT_SAVES]);
	ck_assert(strncmp(out, "{\"lookups\": 10, \"hits\": 7, \"misses\": 3, "
			  "\"hidden\": {\"stale\": 1, ", 61) == 0);
	free(out);
	ec_fsstats_release(&back);
	ec_fsstats_release(&s);
	/* wrong types and not JSON */
	ck_assert_int_eq(ec_fsstats_parse("{\"hits\": -1}", 12, &s),
			 -EC_EFIELD);
	ck_assert_int_eq(ec_fsstats_parse("{\"hits\": \"1\"}", 13, &s),
			 -EC_EFIELD);
	ck_assert_int_eq(ec_fsstats_parse("{\"hidden\": 1}", 13, &s),
			 -EC_EFIELD);
	ck_assert_int_eq(ec_fsstats_parse("[]", 2, &s), -EC_EJSON);
	ck_assert_int_eq(ec_fsstats_parse("{", 1, &s), -EC_EJSON);
	ck_assert_int_eq(ec_fsstats_parse("{} {}", 5, &s), -EC_EJSON);
	ck_assert_int_eq(ec_fsstats_parse("{}\n", 3, &s), 0);
	ec_fsstats_release(&s);
}
END_TEST

static Suite *archive_suite(void)
{
	Suite *s = suite_create("archive");
	TCase *tc = tcase_create("archive");

	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_jsonl_form);
	tcase_add_test(tc, test_jsonl_bad);
	tcase_add_test(tc, test_tar_cut_short);
	tcase_add_test(tc, test_tar_members);
	suite_add_tcase(s, tc);
	tc = tcase_create("fsstats");
	tcase_add_test(tc, test_fsstats);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (ec_secure_init() < 0)
		return 99;
	return ec_test_run(archive_suite());
}
