/* Unit tests for src/store.c: ids, atomic save, safe paths, listing. */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "store.h"
#include "unit.h"

static char *root;	/* a temp dir: root/cache is the store, root/out outside */
static char cdir[PATH_MAX];
static struct ec_store st;

static void setup(void)
{
	char out[PATH_MAX];

	root = ec_test_tmpdir("ec-store");
	snprintf(cdir, sizeof(cdir), "%s/cache", root);
	snprintf(out, sizeof(out), "%s/out", root);
	ck_assert_int_eq(mkdir(cdir, 0700), 0);
	ck_assert_int_eq(mkdir(out, 0700), 0);
	ck_assert_int_eq(ec_store_open(&st, cdir, NULL), 0);
}

static void teardown(void)
{
	ec_store_release(&st);
	ec_test_rm_rf(root);
	free(root);
	root = NULL;
}

/* path below the cache dir */
static const char *at(const char *rel)
{
	static char buf[4][PATH_MAX];
	static int k;

	k = (k + 1) % 4;
	ck_assert_int_lt(snprintf(buf[k], sizeof(buf[k]), "%s/%s", cdir, rel),
			 (int)sizeof(buf[k]));
	return buf[k];
}

static void put_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

static int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void expect_read(const char *id, const char *text)
{
	char *buf;
	size_t len;
	struct stat sb;

	ck_assert_int_eq(ec_store_read(&st, id, 1 << 20, &buf, &len, &sb), 0);
	ck_assert_uint_eq(len, strlen(text));
	ck_assert_mem_eq(buf, text, len);
	ck_assert_int_eq(buf[len], '\0');
	ck_assert(S_ISREG(sb.st_mode));
	free(buf);
}

START_TEST(test_ids)
{
	static const char *good[] = { "a", "a/b", "prices/latest", ".hidden",
				      "a/..b", "...", "a b/c", "x.enc.json" };
	static const char *bad[] = { "", "/a", "a/", "a//b", ".", "..", "a/..",
				     "../a", "a/./b", "a/../b", "/" };
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(*good); i++)
		ck_assert_msg(ec_store_check_id(good[i]) == 0, "%s", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		ck_assert_msg(ec_store_check_id(bad[i]) == -EC_EID, "%s",
			      bad[i]);
	ck_assert_int_eq(ec_store_check_dir(""), 0);
	ck_assert_int_eq(ec_store_check_dir("a/b"), 0);
	ck_assert_int_eq(ec_store_check_dir("a/../b"), -EC_EID);
}
END_TEST

START_TEST(test_open_errors)
{
	struct ec_store s2;

	ck_assert_int_eq(ec_store_open(&s2, "/nonexistent/dir", NULL), -ENOENT);
	put_file(at("file"), "x");
	ck_assert_int_eq(ec_store_open(&s2, at("file"), NULL), -ENOTDIR);
	ck_assert_int_eq(ec_store_open(&s2, cdir, ""), -EINVAL);
	ck_assert_int_eq(ec_store_open(&s2, cdir, "a/b"), -EINVAL);
	ck_assert_int_eq(ec_store_open(&s2, cdir, ".x"), 0);
	ck_assert_str_eq(s2.suffix, ".x");
	ec_store_release(&s2);
}
END_TEST

START_TEST(test_write_read)
{
	struct stat sb;
	mode_t old = umask(0);

	ck_assert_int_eq(ec_store_write(&st, "a/b/c", "hello", 5, 0), 0);
	umask(old);
	expect_read("a/b/c", "hello");
	/* every created directory is 0700, the file 0600 */
	ck_assert_int_eq(stat(at("a"), &sb), 0);
	ck_assert_int_eq(sb.st_mode & 07777, 0700);
	ck_assert_int_eq(stat(at("a/b"), &sb), 0);
	ck_assert_int_eq(sb.st_mode & 07777, 0700);
	ck_assert_int_eq(stat(at("a/b/c.enc.json"), &sb), 0);
	ck_assert_int_eq(sb.st_mode & 07777, 0600);
	/* overwrite, durable */
	ck_assert_int_eq(ec_store_write(&st, "a/b/c", "bye", 3,
					EC_STORE_DURABLE), 0);
	expect_read("a/b/c", "bye");
	ck_assert_int_eq(count_files(at("a/b")), 1);	/* no temp left */
	ck_assert_int_eq(ec_store_write(&st, "a/b/c", "x", 1,
					EC_STORE_NOREPLACE), -EEXIST);
	expect_read("a/b/c", "bye");
	ck_assert_int_eq(count_files(at("a/b")), 1);
	ck_assert_int_eq(ec_store_write(&st, "a/b/d", "", 0,
					EC_STORE_NOREPLACE), 0);
	expect_read("a/b/d", "");
	ck_assert_int_eq(ec_store_sync(&st, "a/b/d"), 0);
	ck_assert_int_eq(ec_store_sync(&st, "a/b/none"), -ENOENT);
	ck_assert_int_eq(ec_store_write(&st, "../x", "x", 1, 0), -EC_EID);
}
END_TEST

/* ec_store_write_all: every byte through a pipe read by another thread
 * (64 KiB at a time, so the writer waits), the errno of a failed write. */
struct drain {
	int fd;
	uint8_t *buf;
	size_t n;
};

static void *drain(void *arg)
{
	struct drain *d = arg;
	ssize_t r;

	while ((r = read(d->fd, d->buf + d->n, 65536)) > 0)
		d->n += (size_t)r;
	return NULL;
}

START_TEST(test_write_all)
{
	const size_t n = (size_t)3 << 20;
	uint8_t *src = malloc(n);
	struct drain d = { -1, malloc(n + 65536), 0 };
	pthread_t t;
	int p[2], fd;
	size_t i;

	ck_assert_ptr_nonnull(src);
	ck_assert_ptr_nonnull(d.buf);
	for (i = 0; i < n; i++)
		src[i] = (uint8_t)(i * 7 + i / 251);
	ck_assert_int_eq(pipe(p), 0);
	d.fd = p[0];
	ck_assert_int_eq(pthread_create(&t, NULL, drain, &d), 0);
	ck_assert_int_eq(ec_store_write_all(p[1], src, n), 0);
	close(p[1]);
	pthread_join(t, NULL);
	close(p[0]);
	ck_assert_uint_eq(d.n, n);
	ck_assert_mem_eq(d.buf, src, n);
	ck_assert_int_eq(ec_store_write_all(p[1], src, 1), -EBADF);
	fd = open("/dev/full", O_WRONLY);
	if (fd >= 0) {
		ck_assert_int_eq(ec_store_write_all(fd, src, 10), -ENOSPC);
		close(fd);
	}
	ck_assert_int_eq(ec_store_write_all(-1, src, 0), 0);	/* nothing */
	free(d.buf);
	free(src);
}
END_TEST

/* ec_store_pread_all: n bytes from an offset, fewer only at the end of
 * the file (none past it), and the errno of a failed read. */
START_TEST(test_pread_all)
{
	char path[] = "/tmp/check_store_pread.XXXXXX", buf[16];
	int fd = mkstemp(path);
	size_t got = 99;

	ck_assert_int_ge(fd, 0);
	unlink(path);
	ck_assert_int_eq(ec_store_write_all(fd, "0123456789", 10), 0);
	ck_assert_int_eq(ec_store_pread_all(fd, buf, 4, 3, &got), 0);
	ck_assert_uint_eq(got, 4);
	ck_assert_mem_eq(buf, "3456", 4);
	ck_assert_int_eq(ec_store_pread_all(fd, buf, sizeof(buf), 5, &got), 0);
	ck_assert_uint_eq(got, 5);
	ck_assert_mem_eq(buf, "56789", 5);
	ck_assert_int_eq(ec_store_pread_all(fd, buf, sizeof(buf), 20, &got), 0);
	ck_assert_uint_eq(got, 0);
	close(fd);
	ck_assert_int_eq(ec_store_pread_all(fd, buf, 4, 0, &got), -EBADF);
	ck_assert_uint_eq(got, 0);
}
END_TEST

START_TEST(test_write_dir_in_way)
{
	ck_assert_int_eq(mkdir(at("e.enc.json"), 0700), 0);
	ck_assert_int_eq(ec_store_write(&st, "e", "x", 1, 0), -EISDIR);
	ck_assert_int_eq(count_files(cdir), 1);
}
END_TEST

START_TEST(test_write_failure_keeps_old)
{
	struct rlimit rl, saved;
	char *big = malloc(65536);
	int err;

	memset(big, 'z', 65536);
	ck_assert_int_eq(ec_store_write(&st, "k", "old", 3, 0), 0);
	/* RLIMIT_FSIZE makes write(2) fail (EFBIG) like a full disk would. */
	signal(SIGXFSZ, SIG_IGN);
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &saved), 0);
	rl.rlim_cur = 4096;
	rl.rlim_max = saved.rlim_max;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	err = ec_store_write(&st, "k", big, 65536, 0);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &saved), 0);
	ck_assert_int_eq(err, -EFBIG);
	expect_read("k", "old");
	ck_assert_int_eq(count_files(cdir), 1);	/* temp file removed */
	/* A new entry that fails midway leaves nothing either. */
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	err = ec_store_write(&st, "n", big, 65536, 0);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &saved), 0);
	ck_assert_int_eq(err, -EFBIG);
	ck_assert_int_eq(count_files(cdir), 1);
	ck_assert_int_eq(ec_store_write(&st, "n", "new", 3,
					EC_STORE_NOREPLACE), 0);
	expect_read("n", "new");
	ck_assert_int_eq(count_files(cdir), 2);
	free(big);
}
END_TEST

START_TEST(test_read_errors)
{
	char *buf = (char *)1;
	size_t len = 1;
	char target[PATH_MAX];

	ck_assert_int_eq(ec_store_read(&st, "none", 100, &buf, &len, NULL),
			 -ENOENT);
	ck_assert_ptr_null(buf);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(ec_store_read(&st, "no/dir", 100, &buf, &len, NULL),
			 -ENOENT);
	/* symlinked entry pointing outside */
	snprintf(target, sizeof(target), "%s/out/secret.enc.json", root);
	put_file(target, "outside");
	ck_assert_int_eq(symlink(target, at("link.enc.json")), 0);
	ck_assert_int_eq(ec_store_read(&st, "link", 100, &buf, &len, NULL),
			 -ELOOP);
	/* symlinked directory component pointing outside */
	snprintf(target, sizeof(target), "%s/out", root);
	ck_assert_int_eq(symlink(target, at("ldir")), 0);
	/* O_DIRECTORY|O_NOFOLLOW on a symlink: ENOTDIR */
	ck_assert_int_eq(ec_store_read(&st, "ldir/secret", 100, &buf, &len,
				       NULL), -ENOTDIR);
	ck_assert_int_ne(ec_store_write(&st, "ldir/new", "x", 1, 0), 0);
	snprintf(target, sizeof(target), "%s/out", root);
	ck_assert_int_eq(count_files(target), 1);	/* nothing written */
	/* a FIFO must not block */
	ck_assert_int_eq(mkfifo(at("fifo.enc.json"), 0600), 0);
	ck_assert_int_eq(ec_store_read(&st, "fifo", 100, &buf, &len, NULL),
			 -EINVAL);
	ck_assert_int_eq(mkdir(at("dir.enc.json"), 0700), 0);
	ck_assert_int_eq(ec_store_read(&st, "dir", 100, &buf, &len, NULL),
			 -EISDIR);
	put_file(at("big.enc.json"), "0123456789");
	ck_assert_int_eq(ec_store_read(&st, "big", 9, &buf, &len, NULL),
			 -EC_ETOOBIG);
	ck_assert_int_eq(ec_store_read(&st, "big", 10, &buf, &len, NULL), 0);
	free(buf);
	ck_assert_int_eq(ec_store_read(&st, "", 10, &buf, &len, NULL),
			 -EC_EID);
}
END_TEST

START_TEST(test_stat)
{
	struct stat sb;

	ck_assert_int_eq(ec_store_write(&st, "d/e", "abc", 3, 0), 0);
	ck_assert_int_eq(ec_store_stat_entry(&st, "d/e", &sb), 0);
	ck_assert_int_eq(sb.st_size, 3);
	ck_assert_int_eq(ec_store_stat_entry(&st, "d/x", &sb), -ENOENT);
	ck_assert_int_eq(ec_store_stat_dir(&st, "d", &sb), 0);
	ck_assert(S_ISDIR(sb.st_mode));
	ck_assert_int_eq(ec_store_stat_dir(&st, "", &sb), 0);
	ck_assert_int_eq(ec_store_stat_dir(&st, "d/e.enc.json", &sb), -ENOTDIR);
	ck_assert_int_eq(symlink("/tmp", at("d/sl.enc.json")), 0);
	ck_assert_int_eq(ec_store_stat_entry(&st, "d/sl", &sb), -ELOOP);
	ck_assert_int_eq(symlink("/tmp", at("sd")), 0);
	ck_assert_int_eq(ec_store_stat_dir(&st, "sd", &sb), -ENOTDIR);
	/* Two levels down, then the same entry through a symlinked
	 * directory, which is never followed (d/e exists behind it). */
	ck_assert_int_eq(ec_store_write(&st, "d/f/g", "abcd", 4, 0), 0);
	ck_assert_int_eq(ec_store_stat_entry(&st, "d/f/g", &sb), 0);
	ck_assert_int_eq(sb.st_size, 4);
	ck_assert_int_eq(ec_store_stat_dir(&st, "d/f", &sb), 0);
	ck_assert(S_ISDIR(sb.st_mode));
	ck_assert_int_eq(ec_store_stat_entry(&st, "d/f/x", &sb), -ENOENT);
	ck_assert_int_eq(ec_store_stat_entry(&st, "no/such/x", &sb), -ENOENT);
	ck_assert_int_eq(symlink("d", at("ld")), 0);
	ck_assert_int_eq(ec_store_stat_entry(&st, "ld/e", &sb), -ENOTDIR);
	ck_assert_int_eq(ec_store_stat_entry(&st, "ld/f/g", &sb), -ENOTDIR);
	ck_assert_int_eq(ec_store_stat_dir(&st, "ld/f", &sb), -ENOTDIR);
	ck_assert_int_eq(symlink("f", at("d/lf")), 0);
	ck_assert_int_eq(ec_store_stat_entry(&st, "d/lf/g", &sb), -ENOTDIR);
}
END_TEST

/* A file rewritten in place between our fstat and our read (as the Python
 * module writes): every read that succeeds gives bytes and a stat of one
 * version, never one version's bytes with another's stat. */
struct rewriter {
	const char *path;
	atomic_bool stop;
	atomic_uint rounds;
};

static void *rewrite_loop(void *arg)
{
	struct rewriter *w = arg;
	char a[100], b[300];

	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	while (!w->stop) {
		bool big = w->rounds++ & 1;
		int fd = open(w->path, O_WRONLY | O_TRUNC);

		if (fd < 0)
			break;
		if (write(fd, big ? b : a, big ? sizeof(b) : sizeof(a)) < 0)
			w->stop = true;
		close(fd);
	}
	return NULL;
}

static bool past(struct timespec start, time_t secs)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec - start.tv_sec >= secs;
}

START_TEST(test_read_rewritten)
{
	struct rewriter w = { .path = NULL };
	unsigned reads = 0, i;
	pthread_t t;
	struct timespec start;

	clock_gettime(CLOCK_MONOTONIC, &start);
	ck_assert_int_eq(ec_store_write(&st, "hot", "x", 1, 0), 0);
	w.path = strdup(at("hot.enc.json"));
	ck_assert_int_eq(pthread_create(&t, NULL, rewrite_loop, &w), 0);
	/* 20,000 reads, and on until the writer has rewritten the file 200
	 * times (a loaded machine, or ASan, may starve it for a while: CI
	 * once saw 44); a writer still short after 30 s fails below. */
	for (i = 0; i < 20000 || (w.rounds < 200 && !past(start, 30)); i++) {
		struct stat sb;
		char *buf = NULL;
		size_t len = 0, j;
		int err = ec_store_read(&st, "hot", 1000, &buf, &len, &sb);

		if (err == -EAGAIN)
			continue;	/* rewritten each time it was read */
		ck_assert_int_eq(err, 0);
		ck_assert_uint_eq(len, (size_t)sb.st_size);
		for (j = 0; j < len; j++)
			ck_assert_int_eq(buf[j], len == 100 ? 'a' :
					 len == 300 ? 'b' : 'x');
		free(buf);
		reads++;
	}
	w.stop = true;
	pthread_join(t, NULL);
	free((char *)w.path);
	ck_assert_uint_gt(reads, 0);
	ck_assert_uint_ge(w.rounds, 200);
}
END_TEST

/* One fstatat by the whole path: the same file as stat_entry's, the same
 * refusals for the leaf; a symlinked parent is followed (documented). */
START_TEST(test_stat_known)
{
	struct stat a, b;

	ck_assert_int_eq(ec_store_write(&st, "d/e/f", "abcd", 4, 0), 0);
	ck_assert_int_eq(ec_store_write(&st, "top", "ab", 2, 0), 0);
	ck_assert_int_eq(ec_store_stat_entry(&st, "d/e/f", &a), 0);
	ck_assert_int_eq(ec_store_stat_known(&st, "d/e/f", &b), 0);
	ck_assert(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	ck_assert_int_eq(b.st_size, 4);
	ck_assert_int_eq(ec_store_stat_known(&st, "top", &b), 0);
	ck_assert_int_eq(b.st_size, 2);
	ck_assert_int_eq(ec_store_stat_known(&st, "d/x", &b), -ENOENT);
	ck_assert_int_eq(ec_store_stat_known(&st, "x/y", &b), -ENOENT);
	ck_assert_int_eq(ec_store_stat_known(&st, "d/e/f/g", &b), -ENOENT);
	ck_assert_int_eq(ec_store_stat_known(&st, "../d/e/f", &b), -EC_EID);
	ck_assert_int_eq(ec_store_stat_known(&st, "/d/e/f", &b), -EC_EID);
	ck_assert_int_eq(symlink(at("d/e/f.enc.json"), at("d/sl.enc.json")), 0);
	ck_assert_int_eq(ec_store_stat_known(&st, "d/sl", &b), -ELOOP);
	ck_assert_int_eq(mkdir(at("d/dir.enc.json"), 0700), 0);
	ck_assert_int_eq(ec_store_stat_known(&st, "d/dir", &b), -EINVAL);
	ck_assert_int_eq(symlink("d", at("ld")), 0);
	ck_assert_int_eq(ec_store_stat_entry(&st, "ld/e/f", &b), -ENOTDIR);
	ck_assert_int_eq(ec_store_stat_known(&st, "ld/e/f", &b), 0);
	ck_assert(a.st_ino == b.st_ino);
}
END_TEST

struct seen {
	char text[1024];
};

static int collect(void *ctx, const struct ec_store_item *it)
{
	struct seen *s = ctx;

	strcat(s->text, it->name);
	strcat(s->text, it->is_dir ? "/ " : " ");
	return 0;
}

static int stop_at_second(void *ctx, const struct ec_store_item *it)
{
	int *n = ctx;

	(void)it;
	return ++*n == 2 ? 42 : 0;
}

START_TEST(test_list_dir)
{
	struct seen s = { "" };
	int n = 0;

	put_file(at("b.enc.json"), "{}");
	put_file(at("a.enc.json"), "{}");
	put_file(at("notes.txt"), "x");			/* no suffix */
	put_file(at(".ec-tmp-0123456789ab"), "x");	/* our temp file */
	put_file(at(".enc.json"), "x");			/* empty id */
	put_file(at("..enc.json"), "x");		/* id "." */
	put_file(at("...enc.json"), "x");		/* id ".." */
	put_file(at("x.enc.json"), "x");		/* shadowed by dir x */
	ck_assert_int_eq(mkdir(at("x"), 0700), 0);
	ck_assert_int_eq(mkdir(at("c"), 0700), 0);
	ck_assert_int_eq(symlink("/tmp", at("l")), 0);
	ck_assert_int_eq(symlink("/etc/passwd", at("p.enc.json")), 0);
	ck_assert_int_eq(mkfifo(at("f.enc.json"), 0600), 0);
	ck_assert_int_eq(ec_store_list_dir(&st, "", collect, &s), 0);
	ck_assert_str_eq(s.text, "a b c/ x/ ");
	ck_assert_int_eq(ec_store_list_dir(&st, "", stop_at_second, &n), 42);
	ck_assert_int_eq(ec_store_list_dir(&st, "nodir", collect, &s),
			 -ENOENT);
	ck_assert_int_eq(ec_store_list_dir(&st, "l", collect, &s), -ENOTDIR);
}
END_TEST

static int walk_collect(void *ctx, const char *id, const struct stat *sb)
{
	struct seen *s = ctx;

	ck_assert(S_ISREG(sb->st_mode));
	strcat(s->text, id);
	strcat(s->text, " ");
	return 0;
}

START_TEST(test_walk)
{
	struct seen s = { "" };

	ck_assert_int_eq(ec_store_write(&st, "z", "1", 1, 0), 0);
	ck_assert_int_eq(ec_store_write(&st, "a/b/c", "1", 1, 0), 0);
	ck_assert_int_eq(ec_store_write(&st, "a/b2", "1", 1, 0), 0);
	ck_assert_int_eq(ec_store_write(&st, "m/n", "1", 1, 0), 0);
	ck_assert_int_eq(mkdir(at("empty"), 0700), 0);
	ck_assert_int_eq(ec_store_walk(&st, walk_collect, &s), 0);
	ck_assert_str_eq(s.text, "a/b/c a/b2 m/n z ");
}
END_TEST

START_TEST(test_dirs_and_renames)
{
	struct stat sb;

	ck_assert_int_eq(ec_store_mkdir(&st, "p/q"), 0);
	ck_assert_int_eq(stat(at("p"), &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0700);
	ck_assert_int_eq(stat(at("p/q"), &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0700);
	ck_assert_int_eq(ec_store_mkdir(&st, "p/q"), -EEXIST);
	ck_assert_int_eq(ec_store_write(&st, "p/e", "1", 1, 0), 0);
	ck_assert_int_eq(ec_store_mkdir(&st, "p/e"), -EEXIST);
	ck_assert_int_eq(ec_store_rmdir(&st, "p"), -ENOTEMPTY);
	/* entries */
	ck_assert_int_eq(ec_store_rename_entry(&st, "p/e", "p/f", 0), 0);
	expect_read("p/f", "1");
	ck_assert_int_eq(ec_store_rename_entry(&st, "p/e", "p/g", 0), -ENOENT);
	ck_assert_int_eq(ec_store_write(&st, "p/g", "2", 1, 0), 0);
	ck_assert_int_eq(ec_store_rename_entry(&st, "p/f", "p/g",
					       RENAME_NOREPLACE), -EEXIST);
	ck_assert_int_eq(ec_store_rename_entry(&st, "p/f", "p/g", 0), 0);
	expect_read("p/g", "1");
	ck_assert_int_eq(ec_store_rename_entry(&st, "p/g", "p/q", 0), -EISDIR);
	ck_assert_int_eq(ec_store_rename_entry(&st, "p/g", "nodir/g", 0),
			 -ENOENT);
	/* directories */
	ck_assert_int_eq(ec_store_rename_dir(&st, "p/q", "p/g", 0), -ENOTDIR);
	ck_assert_int_eq(ec_store_rename_dir(&st, "p/q", "p/g",
					     RENAME_NOREPLACE), -EEXIST);
	ck_assert_int_eq(ec_store_rename_dir(&st, "p/q", "r", 0), 0);
	ck_assert_int_eq(ec_store_stat_dir(&st, "r", &sb), 0);
	ck_assert_int_eq(ec_store_rmdir(&st, "r"), 0);
	ck_assert_int_eq(ec_store_rmdir(&st, "r"), -ENOENT);
	ck_assert_int_eq(ec_store_remove(&st, "p/g"), 0);
	ck_assert_int_eq(ec_store_remove(&st, "p/g"), -ENOENT);
	ck_assert_int_eq(ec_store_rmdir(&st, "p"), 0);
	ck_assert_int_eq(count_files(cdir), 0);
}
END_TEST

START_TEST(test_sync_dir)
{
	ck_assert_int_eq(ec_store_sync_dir(&st, ""), 0);
	ck_assert_int_eq(ec_store_mkdir(&st, "p/q"), 0);
	ck_assert_int_eq(ec_store_sync_dir(&st, "p/q"), 0);
	ck_assert_int_eq(ec_store_sync_dir(&st, "p/none"), -ENOENT);
	ck_assert_int_eq(ec_store_write(&st, "p/e", "1", 1, 0), 0);
	ck_assert_int_eq(ec_store_sync_dir(&st, "p/e.enc.json"), -ENOTDIR);
	ck_assert_int_eq(symlink("q", at("p/link")), 0);
	ck_assert_int_eq(ec_store_sync_dir(&st, "p/link"), -ENOTDIR);
	ck_assert_int_eq(ec_store_sync_dir(&st, "../out"), -EC_EID);
	ck_assert_int_eq(ec_store_sync_dir(&st, "p/"), -EC_EID);
}
END_TEST

START_TEST(test_statvfs)
{
	struct statvfs sv;

	ck_assert_int_eq(ec_store_statvfs(&st, &sv), 0);
	ck_assert_uint_gt(sv.f_bsize, 0);
}
END_TEST

/* --- temp files: names, sweeping old ones, never listed --------------- */

#define TMP12 EC_STORE_TMP_PREFIX "0123456789ab"
#define TMP32 EC_STORE_TMP_PREFIX "00112233445566778899aabbccddeeff"

START_TEST(test_temp_names)
{
	static const char *yes[] = {
		TMP12, TMP32, ".ec-tmp-000000000000", ".ec-tmp-ffffffffffff",
	};
	static const char *no[] = {
		".ec-tmp-", ".ec-tmp-zz", ".ec-tmp-0123456789a",
		".ec-tmp-0123456789abc", ".ec-tmp-0123456789AB",
		".ec-tmp-00112233445566778899aabbccddeef",
		".ec-tmp-00112233445566778899aabbccddeeff0",
		".ec-tmp-0123456789ag", "x.ec-tmp-0123456789ab",
		"ec-tmp-0123456789ab", ".EC-TMP-0123456789ab",
		".ec-tmp-0123456789ab.enc.json", ".ec-tmp-0123456789ab ",
		"a.enc.json", "",
	};
	size_t i;

	ck_assert_uint_eq(strlen(TMP12), 8 + EC_STORE_TMP_HEX_OLD);
	ck_assert_uint_eq(strlen(TMP32), 8 + EC_STORE_TMP_HEX);
	for (i = 0; i < sizeof(yes) / sizeof(*yes); i++)
		ck_assert_msg(ec_store_is_temp_name(yes[i]), "%s", yes[i]);
	for (i = 0; i < sizeof(no) / sizeof(*no); i++)
		ck_assert_msg(!ec_store_is_temp_name(no[i]), "%s", no[i]);
}
END_TEST

/* The names a save creates: a new-form temp, renamed (not created) to
 * the entry. */
/* Whether the cache dir's file system makes unnamed files (O_TMPFILE). */
static bool tmpfile_here(void)
{
	int fd = open(cdir, O_WRONLY | O_TMPFILE | O_CLOEXEC, 0600);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

START_TEST(test_write_temp_form)
{
	char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int fd, created = 0, linked = 0;
	bool unnamed = tmpfile_here();
	ssize_t n, off;

	fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_ge(inotify_add_watch(fd, cdir, IN_CREATE | IN_MOVED_TO),
			 0);
	ck_assert_int_eq(ec_store_write(&st, "e", "1", 1, 0), 0);
	ck_assert_int_eq(ec_store_write(&st, "e", "2", 1, EC_STORE_DURABLE),
			 0);
	n = read(fd, ev, sizeof(ev));
	ck_assert_int_gt(n, 0);
	for (off = 0; off < n;) {
		const struct inotify_event *e = (const void *)(ev + off);

		if ((e->mask & IN_CREATE) && strcmp(e->name, "e.enc.json") == 0) {
			linked++;	/* an unnamed file linked in */
		} else if (e->mask & IN_CREATE) {
			ck_assert_msg(ec_store_is_temp_name(e->name), "%s",
				      e->name);
			ck_assert_uint_eq(strlen(e->name), 8 + EC_STORE_TMP_HEX);
			created++;
		} else {
			ck_assert_str_eq(e->name, "e.enc.json");
		}
		off += (ssize_t)(sizeof(*e) + e->len);
	}
	/* The new entry: linked in whole where the file system makes
	 * unnamed files, else a temp file renamed; its overwrite: always a
	 * temp file renamed over it. */
	ck_assert_int_eq(linked, unnamed ? 1 : 0);
	ck_assert_int_eq(created, unnamed ? 1 : 2);
	close(fd);
	ck_assert_int_eq(count_files(cdir), 1);
	expect_read("e", "2");
}
END_TEST

/* A new entry linked in raises no IN_ATTRIB (a chmod) unless the umask
 * took bits off 0600: each event wakes the daemon's watch.  It is 0600
 * either way. */
START_TEST(test_write_linked_quiet)
{
	char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	const mode_t masks[] = { 022, 0277 };
	int fd, attribs;
	struct stat sb;
	ssize_t n, off;
	size_t i;

	if (!tmpfile_here())
		return;	/* the temp file way: chmod'ed before it is named */
	fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_ge(inotify_add_watch(fd, cdir, IN_ATTRIB | IN_CREATE), 0);
	for (i = 0; i < 2; i++) {
		mode_t old = umask(masks[i]);
		char id[32];

		snprintf(id, sizeof(id), "q%zu", i);
		ck_assert_int_eq(ec_store_write(&st, id, "1", 1, 0), 0);
		umask(old);
		snprintf(id, sizeof(id), "q%zu.enc.json", i);
		ck_assert_int_eq(stat(at(id), &sb), 0);
		ck_assert_uint_eq(sb.st_mode & 07777, 0600);
		attribs = 0;
		n = read(fd, ev, sizeof(ev));
		ck_assert_int_gt(n, 0);
		for (off = 0; off < n;) {
			const struct inotify_event *e = (const void *)(ev + off);

			attribs += (e->mask & IN_ATTRIB) != 0;
			off += (ssize_t)(sizeof(*e) + e->len);
		}
		ck_assert_int_eq(attribs, i == 0 ? 0 : 1);
	}
	close(fd);
}
END_TEST

/* A file at path with mtime sec (seconds since 1970). */
static void put_old(const char *path, time_t sec)
{
	struct timespec ts[2] = { { sec, 0 }, { sec, 0 } };

	put_file(path, "x");
	ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static bool exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0;
}

#define T_OLD ((time_t)1700000000)	/* 2023-11-14 */
#define AGE (5LL * 60 * 1000000)	/* 5 minutes */

START_TEST(test_sweep)
{
	int64_t now = (int64_t)T_OLD * 1000000 + 10 * 60 * 1000000LL;
	static const char *kept[] = {
		".ec-tmp-zz", "x.ec-tmp-0123456789ab", ".ec-tmp-0123456789AB",
		".ec-tmp-0123456789abc", ".ec-tmp-0123456789a", "e.enc.json",
		TMP12 ".enc.json", "sub/" TMP12 "x",
	};
	char out[PATH_MAX];
	size_t removed = 99, i;

	ck_assert_int_eq(mkdir(at("sub"), 0700), 0);
	ck_assert_int_eq(mkdir(at("sub/deeper"), 0700), 0);
	ck_assert_int_eq(mkdir(at(TMP32), 0700), 0);	/* a dir, not a temp */
	/* removed: old temps of both forms, at any depth */
	put_old(at(TMP12), T_OLD);
	put_old(at(TMP32 "/" TMP32), T_OLD);
	put_old(at("sub/" TMP32), T_OLD);
	put_old(at("sub/deeper/" TMP12), T_OLD);
	/* kept: a young temp (written 1 minute before now), other names */
	put_old(at("sub/" EC_STORE_TMP_PREFIX "aaaaaaaaaaaa"),
		T_OLD + 9 * 60);
	for (i = 0; i < sizeof(kept) / sizeof(*kept); i++)
		put_old(at(kept[i]), T_OLD);
	/* kept: a symlink named like a temp (the link and its target), a
	 * symlinked directory leading out with an old temp in it, a FIFO */
	snprintf(out, sizeof(out), "%s/out/" TMP12, root);
	put_old(out, T_OLD);
	ck_assert_int_eq(symlink(out, at("sub/" EC_STORE_TMP_PREFIX
					 "bbbbbbbbbbbb")), 0);
	snprintf(out, sizeof(out), "%s/out", root);
	ck_assert_int_eq(symlink(out, at("outlink")), 0);
	ck_assert_int_eq(mkfifo(at(EC_STORE_TMP_PREFIX "cccccccccccc"), 0600),
			 0);

	ck_assert_int_eq(ec_store_sweep_temps(&st, now, AGE, &removed), 0);
	ck_assert_uint_eq(removed, 4);
	ck_assert(!exists(at(TMP12)));
	ck_assert(!exists(at(TMP32 "/" TMP32)));
	ck_assert(!exists(at("sub/" TMP32)));
	ck_assert(!exists(at("sub/deeper/" TMP12)));
	ck_assert(exists(at(TMP32)));
	ck_assert(exists(at("sub/" EC_STORE_TMP_PREFIX "aaaaaaaaaaaa")));
	for (i = 0; i < sizeof(kept) / sizeof(*kept); i++)
		ck_assert_msg(exists(at(kept[i])), "%s", kept[i]);
	ck_assert(exists(at("sub/" EC_STORE_TMP_PREFIX "bbbbbbbbbbbb")));
	snprintf(out, sizeof(out), "%s/out/" TMP12, root);
	ck_assert(exists(out));
	ck_assert(exists(at(EC_STORE_TMP_PREFIX "cccccccccccc")));

	/* again: nothing left to do; NULL count is fine */
	ck_assert_int_eq(ec_store_sweep_temps(&st, now, AGE, &removed), 0);
	ck_assert_uint_eq(removed, 0);
	ck_assert_int_eq(ec_store_sweep_temps(&st, now, AGE, NULL), 0);
	/* a larger age keeps the young one, a zero age takes it */
	ck_assert_int_eq(ec_store_sweep_temps(&st, now, 0, &removed), 0);
	ck_assert_uint_eq(removed, 1);
	ck_assert(!exists(at("sub/" EC_STORE_TMP_PREFIX "aaaaaaaaaaaa")));
	ck_assert_int_eq(ec_store_sweep_temps(&st, now, -1, &removed),
			 -EINVAL);
	ck_assert_uint_eq(removed, 0);
}
END_TEST

/* Older than min_age means strictly: exactly min_age old is kept. */
START_TEST(test_sweep_boundary)
{
	int64_t mtime = (int64_t)T_OLD * 1000000;
	size_t removed = 99;

	put_old(at(TMP12), T_OLD);
	ck_assert_int_eq(ec_store_sweep_temps(&st, mtime + AGE, AGE,
					      &removed), 0);
	ck_assert_uint_eq(removed, 0);
	ck_assert(exists(at(TMP12)));
	ck_assert_int_eq(ec_store_sweep_temps(&st, mtime + AGE + 1, AGE,
					      &removed), 0);
	ck_assert_uint_eq(removed, 1);
	ck_assert(!exists(at(TMP12)));
	/* a "now" so early that now - age underflows removes nothing */
	put_old(at(TMP12), T_OLD);
	ck_assert_int_eq(ec_store_sweep_temps(&st, INT64_MIN + 5, AGE,
					      &removed), 0);
	ck_assert_uint_eq(removed, 0);
}
END_TEST

/* An unreadable subdirectory is skipped, not an error (root reads it
 * anyway, so only the return is checked then). */
START_TEST(test_sweep_unreadable)
{
	size_t removed = 99;

	ck_assert_int_eq(mkdir(at("locked"), 0700), 0);
	put_old(at("locked/" TMP12), T_OLD);
	put_old(at(TMP32), T_OLD);
	ck_assert_int_eq(chmod(at("locked"), 0), 0);
	ck_assert_int_eq(ec_store_sweep_temps(&st, INT64_MAX, AGE, &removed),
			 0);
	if (geteuid() != 0) {
		ck_assert_uint_eq(removed, 1);
		ck_assert_int_eq(chmod(at("locked"), 0700), 0);
		ck_assert(exists(at("locked/" TMP12)));
	} else {
		ck_assert_uint_eq(removed, 2);
		ck_assert_int_eq(chmod(at("locked"), 0700), 0);
	}
	ck_assert(!exists(at(TMP32)));
}
END_TEST

static int walk_collect_all(void *ctx, const char *id, const struct stat *sb)
{
	struct seen *s = ctx;

	(void)sb;
	strcat(s->text, id);
	strcat(s->text, " ");
	return 0;
}

/* Temp files of both forms are never listed, even when the suffix is
 * made of hex digits so that their names end with it; ids whose file
 * would look like a temp are refused. */
START_TEST(test_list_skips_temps)
{
	struct seen s = { "" };
	struct ec_store hex;
	char *buf;
	size_t len;

	put_file(at(TMP12), "x");
	put_file(at(TMP32), "x");
	put_file(at("e.enc.json"), "x");
	ck_assert_int_eq(mkdir(at("d"), 0700), 0);
	put_file(at("d/" TMP12), "x");
	put_file(at("d/" TMP32), "x");
	ck_assert_int_eq(ec_store_list_dir(&st, "", collect, &s), 0);
	ck_assert_str_eq(s.text, "d/ e ");
	s.text[0] = '\0';
	ck_assert_int_eq(ec_store_walk(&st, walk_collect_all, &s), 0);
	ck_assert_str_eq(s.text, "e ");

	ck_assert_int_eq(ec_store_open(&hex, cdir, "ab"), 0);
	put_file(at("xab"), "x");
	put_file(at("d/" EC_STORE_TMP_PREFIX "ffffffffffab"), "x");
	s.text[0] = '\0';
	ck_assert_int_eq(ec_store_list_dir(&hex, "", collect, &s), 0);
	ck_assert_str_eq(s.text, "d/ x ");
	s.text[0] = '\0';
	ck_assert_int_eq(ec_store_walk(&hex, walk_collect_all, &s), 0);
	ck_assert_str_eq(s.text, "x ");
	/* ".ec-tmp-0123456789" + "ab" is a temp name: not an id here */
	ck_assert_int_eq(ec_store_write(&hex, EC_STORE_TMP_PREFIX "0123456789",
					"1", 1, 0), -EC_EID);
	ck_assert_int_eq(ec_store_read(&hex, EC_STORE_TMP_PREFIX "0123456789",
				       100, &buf, &len, NULL), -EC_EID);
	ck_assert_int_eq(ec_store_remove(&hex, "d/" EC_STORE_TMP_PREFIX
					 "ffffffffff"), -EC_EID);
	ck_assert(exists(at("d/" EC_STORE_TMP_PREFIX "ffffffffffab")));
	/* one hex digit fewer is an ordinary id */
	ck_assert_int_eq(ec_store_write(&hex, EC_STORE_TMP_PREFIX "012345678",
					"1", 1, 0), 0);
	ec_store_release(&hex);
}
END_TEST

static Suite *store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc;

	tc = tcase_create("ids");
	tcase_add_test(tc, test_ids);
	suite_add_tcase(s, tc);

	tc = tcase_create("files");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_open_errors);
	tcase_add_test(tc, test_write_read);
	tcase_add_test(tc, test_write_all);
	tcase_add_test(tc, test_pread_all);
	tcase_add_test(tc, test_write_dir_in_way);
	tcase_add_test(tc, test_write_failure_keeps_old);
	tcase_add_test(tc, test_read_errors);
	tcase_add_test(tc, test_stat);
	tcase_add_test(tc, test_stat_known);
	tcase_add_test(tc, test_statvfs);
	suite_add_tcase(s, tc);

	tc = tcase_create("rewritten");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_read_rewritten);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("listing");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_list_dir);
	tcase_add_test(tc, test_walk);
	suite_add_tcase(s, tc);

	tc = tcase_create("temps");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_temp_names);
	tcase_add_test(tc, test_write_temp_form);
	tcase_add_test(tc, test_write_linked_quiet);
	tcase_add_test(tc, test_sweep);
	tcase_add_test(tc, test_sweep_boundary);
	tcase_add_test(tc, test_sweep_unreadable);
	tcase_add_test(tc, test_list_skips_temps);
	suite_add_tcase(s, tc);

	tc = tcase_create("dirs");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_dirs_and_renames);
	tcase_add_test(tc, test_sync_dir);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ec_test_run(store_suite());
}
