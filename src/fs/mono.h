/*
 * mono: the monotonic clock in microseconds, and condition variables
 * that wait by it, for the daemon's timed threads (recent's and
 * inoread's reapers, inval's waits).  No state.
 */
#ifndef EC_FS_MONO_H
#define EC_FS_MONO_H

#include <pthread.h>
#include <stdint.h>

/* CLOCK_MONOTONIC, in microseconds. */
int64_t ec_mono_us(void);

/* Initialise cv to wait by CLOCK_MONOTONIC.  0 or -ENOMEM. */
int ec_mono_cond_init(pthread_cond_t *cv)
	__attribute__((warn_unused_result));

/* Initialise mu, and cv as above: both or neither.  0 or -ENOMEM. */
int ec_mono_lock_init(pthread_mutex_t *mu, pthread_cond_t *cv)
	__attribute__((warn_unused_result));

/* Wait on cv (mu held) until signalled or the monotonic instant due_us
 * (INT64_MAX: no bound).  ETIMEDOUT when due_us passed, else 0. */
int ec_mono_wait(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t due_us);

#endif
