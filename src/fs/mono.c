/*
 * mono: the monotonic clock and waits by it (see mono.h).
 */
#include "config.h"

#include <errno.h>
#include <time.h>

#include "mono.h"

int64_t ec_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int ec_mono_cond_init(pthread_cond_t *cv)
{
	pthread_condattr_t ca;
	int err;

	if (pthread_condattr_init(&ca) != 0)
		return -ENOMEM;
	err = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (!err)
		err = pthread_cond_init(cv, &ca);
	pthread_condattr_destroy(&ca);
	return err ? -ENOMEM : 0;
}

int ec_mono_lock_init(pthread_mutex_t *mu, pthread_cond_t *cv)
{
	if (pthread_mutex_init(mu, NULL) != 0)
		return -ENOMEM;
	if (ec_mono_cond_init(cv) != 0) {
		pthread_mutex_destroy(mu);
		return -ENOMEM;
	}
	return 0;
}

int ec_mono_wait(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t due_us)
{
	struct timespec ts;

	if (due_us == INT64_MAX) {
		(void)pthread_cond_wait(cv, mu);
		return 0;
	}
	ts.tv_sec = due_us / 1000000;
	ts.tv_nsec = due_us % 1000000 * 1000;
	return pthread_cond_timedwait(cv, mu, &ts) == ETIMEDOUT ? ETIMEDOUT
								: 0;
}
