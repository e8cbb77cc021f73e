/* Unit tests for src/fs/mono.c: the clock does not go back, a wait by
 * it (on a lock and condvar from ec_mono_lock_init) ends at its instant
 * and not before, at once for an instant past, and on a signal with 0. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>

#include "mono.h"
#include "unit.h"

START_TEST(test_clock)
{
	int64_t a = ec_mono_us(), b;
	int i;

	ck_assert(a > 0);
	for (i = 0; i < 1000; i++) {
		b = ec_mono_us();
		ck_assert(b >= a);
		a = b;
	}
}
END_TEST

START_TEST(test_wait_until)
{
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int64_t start, due;

	ck_assert_int_eq(ec_mono_lock_init(&mu, &cv), 0);
	pthread_mutex_lock(&mu);
	ck_assert_int_eq(ec_mono_wait(&cv, &mu, ec_mono_us() - 1000000),
			 ETIMEDOUT);
	/* Not before its instant (a wakeup without a signal may end it
	 * early, as pthread_cond_timedwait says, hence the loop). */
	start = ec_mono_us();
	due = start + 30000;
	while (ec_mono_wait(&cv, &mu, due) != ETIMEDOUT)
		ck_assert(ec_mono_us() < due);
	ck_assert(ec_mono_us() >= due);
	pthread_mutex_unlock(&mu);
	pthread_cond_destroy(&cv);
	pthread_mutex_destroy(&mu);
}
END_TEST

struct ping {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int state;	/* 0: waiting to start, 1: the waiter waits, 2: signalled */
};

static void *signaller(void *arg)
{
	struct ping *p = arg;

	pthread_mutex_lock(&p->mu);
	while (p->state != 1)
		(void)ec_mono_wait(&p->cv, &p->mu, INT64_MAX);
	p->state = 2;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Untimed (INT64_MAX) and timed waits both end with 0 on a signal. */
START_TEST(test_signalled)
{
	struct ping p = { .mu = PTHREAD_MUTEX_INITIALIZER };
	int64_t far = ec_mono_us() + (int64_t)3600 * 1000000;
	pthread_t t;
	int round;

	ck_assert_int_eq(ec_mono_cond_init(&p.cv), 0);
	for (round = 0; round < 2; round++) {
		p.state = 0;
		ck_assert_int_eq(pthread_create(&t, NULL, signaller, &p), 0);
		pthread_mutex_lock(&p.mu);
		p.state = 1;
		pthread_cond_broadcast(&p.cv);
		while (p.state != 2)
			ck_assert_int_eq(ec_mono_wait(&p.cv, &p.mu, round ?
						      far : INT64_MAX), 0);
		pthread_mutex_unlock(&p.mu);
		pthread_join(t, NULL);
	}
	pthread_cond_destroy(&p.cv);
}
END_TEST

static Suite *mono_suite(void)
{
	Suite *s = suite_create("mono");
	TCase *tc = tcase_create("mono");

	tcase_add_test(tc, test_clock);
	tcase_add_test(tc, test_wait_until);
	tcase_add_test(tc, test_signalled);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ec_test_run(mono_suite());
}
