/* Unit tests for src/watch.c: adding watches safely, events and their
 * flags, reference counts, removal, the file-system check. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "watch.h"
#include "unit.h"

#define MAXEV 256

struct seen {
	int wd;
	unsigned what;
	char name[64];
};

static char *root;
static int dirfd_;
static struct ec_watch *w;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct seen seen[MAXEV];
static size_t nseen;
static int dup_in_batch;

static void on_events(void *ctx, const struct ec_watch_event *ev, size_t n)
{
	size_t i, j;

	(void)ctx;
	pthread_mutex_lock(&lock);
	for (i = 0; i < n; i++) {
		for (j = 0; j < i; j++)
			if (ev[j].wd == ev[i].wd &&
			    strcmp(ev[j].name, ev[i].name) == 0)
				dup_in_batch++;
		if (nseen < MAXEV) {
			seen[nseen].wd = ev[i].wd;
			seen[nseen].what = ev[i].what;
			snprintf(seen[nseen].name, sizeof(seen[nseen].name),
				 "%s", ev[i].name);
			nseen++;
		}
	}
	pthread_mutex_unlock(&lock);
}

static void reset(void)
{
	pthread_mutex_lock(&lock);
	nseen = 0;
	dup_in_batch = 0;
	pthread_mutex_unlock(&lock);
}

/* Wait up to 2 s for an event on (wd, name) carrying all bits of what. */
static bool wait_for(int wd, const char *name, unsigned what)
{
	int tries;

	for (tries = 0; tries < 200; tries++) {
		size_t i;
		bool hit = false;

		pthread_mutex_lock(&lock);
		for (i = 0; i < nseen; i++)
			if (seen[i].wd == wd &&
			    strcmp(seen[i].name, name) == 0 &&
			    (seen[i].what & what) == what)
				hit = true;
		pthread_mutex_unlock(&lock);
		if (hit)
			return true;
		usleep(10000);
	}
	return false;
}

static size_t count_wd(int wd)
{
	size_t i, n = 0;

	pthread_mutex_lock(&lock);
	for (i = 0; i < nseen; i++)
		n += seen[i].wd == wd;
	pthread_mutex_unlock(&lock);
	return n;
}

static const char *at(const char *rel)
{
	static char buf[4][PATH_MAX];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", root, rel);
	return buf[k];
}

static void touch(const char *rel)
{
	int fd = open(at(rel), O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "x", 1), 1);
	close(fd);
}

static void setup(void)
{
	root = ec_test_tmpdir("ec-watch");
	ck_assert_int_eq(mkdir(at("a"), 0700), 0);
	ck_assert_int_eq(mkdir(at("a/b"), 0700), 0);
	touch("file");
	ck_assert_int_eq(symlink("a", at("link")), 0);
	dirfd_ = open(root, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(dirfd_, 0);
	ck_assert_int_eq(ec_watch_open(dirfd_, on_events, NULL, &w), 0);
	ck_assert_int_eq(ec_watch_start(w), 0);
	reset();
}

static void teardown(void)
{
	ec_watch_free(w);
	w = NULL;
	close(dirfd_);
	ec_test_rm_rf(root);
	free(root);
	root = NULL;
}

/* --- adding -------------------------------------------------------------- */

START_TEST(test_add_root_and_nested)
{
	int wd0, wd1;

	ck_assert_int_eq(ec_watch_add(w, "", &wd0), 0);
	ck_assert_int_ge(wd0, 0);
	ck_assert_int_eq(ec_watch_add(w, "a/b", &wd1), 0);
	ck_assert_int_ge(wd1, 0);
	ck_assert_int_ne(wd0, wd1);
}
END_TEST

START_TEST(test_add_refuses)
{
	int wd = 123;

	ck_assert_int_eq(ec_watch_add(w, "nope", &wd), -ENOENT);
	ck_assert_int_eq(wd, -1);
	ck_assert_int_eq(ec_watch_add(w, "file", &wd), -ENOTDIR);
	/* A symlink is never followed, in any component. */
	ck_assert_int_eq(ec_watch_add(w, "link", &wd), -ENOTDIR);
	ck_assert_int_eq(ec_watch_add(w, "link/b", &wd), -ENOTDIR);
	ck_assert_int_eq(ec_watch_add(w, "a/../a", &wd), -EINVAL);
	ck_assert_int_eq(ec_watch_add(w, "./a", &wd), -EINVAL);
}
END_TEST

START_TEST(test_same_dir_same_wd)
{
	int wd0, wd1;

	ck_assert_int_eq(ec_watch_add(w, "a", &wd0), 0);
	ck_assert_int_eq(ec_watch_add(w, "a/", &wd1), 0);
	ck_assert_int_eq(wd0, wd1);
}
END_TEST

/* --- events --------------------------------------------------------------- */

START_TEST(test_file_events)
{
	int wd;

	ck_assert_int_eq(ec_watch_add(w, "a", &wd), 0);
	touch("a/x.enc.json");
	ck_assert(wait_for(wd, "x.enc.json", EC_WATCH_CHANGED));
	reset();
	ck_assert_int_eq(chmod(at("a/x.enc.json"), 0644), 0);
	ck_assert(wait_for(wd, "x.enc.json", EC_WATCH_CHANGED));
	reset();
	ck_assert_int_eq(rename(at("a/x.enc.json"), at("a/y.enc.json")), 0);
	ck_assert(wait_for(wd, "x.enc.json", EC_WATCH_CHANGED));
	ck_assert(wait_for(wd, "y.enc.json", EC_WATCH_CHANGED));
	reset();
	ck_assert_int_eq(unlink(at("a/y.enc.json")), 0);
	ck_assert(wait_for(wd, "y.enc.json", EC_WATCH_CHANGED));
}
END_TEST

START_TEST(test_dir_events)
{
	int wd;

	ck_assert_int_eq(ec_watch_add(w, "a", &wd), 0);
	ck_assert_int_eq(mkdir(at("a/sub"), 0700), 0);
	ck_assert(wait_for(wd, "sub", EC_WATCH_CHANGED | EC_WATCH_ISDIR));
}
END_TEST

START_TEST(test_self_and_gone)
{
	int wd;

	ck_assert_int_eq(ec_watch_add(w, "a/b", &wd), 0);
	ck_assert_int_eq(rmdir(at("a/b")), 0);
	ck_assert(wait_for(wd, "", EC_WATCH_SELF));
	ck_assert(wait_for(wd, "", EC_WATCH_GONE));
	/* Removing a gone watch is harmless. */
	ec_watch_remove(w, wd);
}
END_TEST

START_TEST(test_batches_merge)
{
	int wd, i;

	ck_assert_int_eq(ec_watch_add(w, "", &wd), 0);
	for (i = 0; i < 100; i++)
		touch("busy");
	ck_assert(wait_for(wd, "busy", EC_WATCH_CHANGED));
	usleep(100000);
	pthread_mutex_lock(&lock);
	ck_assert_int_eq(dup_in_batch, 0);
	pthread_mutex_unlock(&lock);
}
END_TEST

/* --- removing ------------------------------------------------------------- */

START_TEST(test_refcount)
{
	int wd0, wd1;

	ck_assert_int_eq(ec_watch_add(w, "a", &wd0), 0);
	ck_assert_int_eq(ec_watch_add(w, "a", &wd1), 0);
	ec_watch_remove(w, wd0);	/* one reference left */
	touch("a/one");
	ck_assert(wait_for(wd0, "one", EC_WATCH_CHANGED));
	ec_watch_remove(w, wd1);	/* the last: the watch ends */
	ck_assert(wait_for(wd0, "", EC_WATCH_GONE));
	reset();
	touch("a/two");
	usleep(200000);
	ck_assert_uint_eq(count_wd(wd0), 0);
	ec_watch_remove(w, wd0);	/* unknown now: ignored */
	ec_watch_remove(w, -1);
}
END_TEST

START_TEST(test_free_unstarted_and_null)
{
	struct ec_watch *x;

	ec_watch_free(NULL);
	ck_assert_int_eq(ec_watch_open(dirfd_, on_events, NULL, &x), 0);
	ec_watch_free(x);
}
END_TEST

/* --- settled ------------------------------------------------------------- */

/* Whether (wd, name) was handed to the callback already (no waiting). */
static bool seen_now(int wd, const char *name)
{
	size_t i;
	bool hit = false;

	pthread_mutex_lock(&lock);
	for (i = 0; i < nseen; i++)
		hit |= seen[i].wd == wd && strcmp(seen[i].name, name) == 0;
	pthread_mutex_unlock(&lock);
	return hit;
}

/* Once settled says so, every change made before it asked has been seen:
 * the promise ops_dir.c keeps listings on.  Also while the thread waits
 * out a burst (its 3 ms gathering), when the next events sit queued. */
START_TEST(test_settled)
{
	struct ec_watch *x;
	char name[32];
	int wd, i, spins;

	ck_assert_int_eq(ec_watch_open(dirfd_, on_events, NULL, &x), 0);
	ck_assert(!ec_watch_settled(x));	/* no thread: nothing handles */
	ec_watch_free(x);

	ck_assert_int_eq(ec_watch_add(w, "a", &wd), 0);
	for (i = 0; i < 300; i++) {
		reset();	/* seen[] holds MAXEV events */
		snprintf(name, sizeof(name), "a/s%d.enc.json", i);
		touch(name);
		for (spins = 0; !ec_watch_settled(w); spins++) {
			ck_assert_int_lt(spins, 5000000);
			sched_yield();
		}
		ck_assert_msg(seen_now(wd, name + 2),
			      "settled before the event for %s was handled",
			      name);
	}
}
END_TEST

/* --- file systems --------------------------------------------------------- */

START_TEST(test_reliable)
{
	ck_assert(ec_watch_reliable(dirfd_));	/* the build dir: local */
	ck_assert(!ec_watch_reliable(-1));
}
END_TEST

static Suite *watch_suite(void)
{
	Suite *s = suite_create("watch");
	TCase *tc;

	tc = tcase_create("add");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_add_root_and_nested);
	tcase_add_test(tc, test_add_refuses);
	tcase_add_test(tc, test_same_dir_same_wd);
	suite_add_tcase(s, tc);

	tc = tcase_create("events");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_file_events);
	tcase_add_test(tc, test_dir_events);
	tcase_add_test(tc, test_self_and_gone);
	tcase_add_test(tc, test_batches_merge);
	tcase_add_test(tc, test_settled);
	suite_add_tcase(s, tc);

	tc = tcase_create("remove");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_refcount);
	tcase_add_test(tc, test_free_unstarted_and_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("reliable");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_reliable);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ec_test_run(watch_suite());
}
