/* Unit tests for src/fs/inoread.c's slot policy: when a kept content
 * goes (soon after a read to its end, later after a partial one, never
 * while a read uses it), and which slot a new inode takes (a free one,
 * else the idle one due first, never a busy one); and the table's reaper
 * starts and stops.  The reads themselves: mount_readonly.sh. */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <string.h>

#include "inoread.h"
#include "unit.h"

START_TEST(test_due)
{
	struct ec_inoread_slot s;

	memset(&s, 0, sizeof(s));
	ck_assert(ec_inoread_due(&s) == INT64_MAX);	/* free */
	s.ino = 5;
	s.used_us = 1000;
	ck_assert(ec_inoread_due(&s) == 1000 + EC_INOREAD_IDLE_US);
	s.ended = true;
	ck_assert(ec_inoread_due(&s) == 1000 + EC_INOREAD_END_US);
	ck_assert(EC_INOREAD_END_US < EC_INOREAD_IDLE_US);
	s.users = 1;					/* busy */
	ck_assert(ec_inoread_due(&s) == INT64_MAX);
}
END_TEST

START_TEST(test_pick)
{
	struct ec_inoread_slot slots[4];
	bool evict = true;
	size_t i;

	memset(slots, 0, sizeof(slots));
	ck_assert_ptr_eq(ec_inoread_pick(slots, 4, &evict), &slots[0]);
	ck_assert(!evict);
	for (i = 0; i < 4; i++) {
		slots[i].ino = 10 + i;
		slots[i].used_us = 100 * (int64_t)i;
	}
	slots[3].ino = 0;
	ck_assert_ptr_eq(ec_inoread_pick(slots, 4, &evict), &slots[3]);
	ck_assert(!evict);
	slots[3].ino = 13;
	/* All idle, partly read: the least recently read goes. */
	ck_assert_ptr_eq(ec_inoread_pick(slots, 4, &evict), &slots[0]);
	ck_assert(evict);
	/* One read to its end goes before any partly read one. */
	slots[2].ended = true;
	ck_assert_ptr_eq(ec_inoread_pick(slots, 4, &evict), &slots[2]);
	ck_assert(evict);
	/* A slot in use never goes; none free or idle: NULL. */
	for (i = 0; i < 4; i++)
		slots[i].users = 1;
	ck_assert_ptr_null(ec_inoread_pick(slots, 4, &evict));
	ck_assert(!evict);
	slots[1].users = 0;
	ck_assert_ptr_eq(ec_inoread_pick(slots, 4, &evict), &slots[1]);
	ck_assert(evict);
}
END_TEST

START_TEST(test_new_free)
{
	struct ec_inoread *t = NULL;
	int i;

	/* The reaper starts and stops at once, again and again (nothing
	 * kept: the daemon's state is not touched). */
	for (i = 0; i < 50; i++) {
		ck_assert_int_eq(ec_inoread_new(NULL, &t), 0);
		ck_assert_ptr_nonnull(t);
		ec_inoread_forget(t, 42);	/* nothing kept: no-op */
		ec_inoread_free(t);
	}
	ec_inoread_free(NULL);
}
END_TEST

static Suite *inoread_suite(void)
{
	Suite *s = suite_create("inoread");
	TCase *tc = tcase_create("inoread");

	tcase_add_test(tc, test_due);
	tcase_add_test(tc, test_pick);
	tcase_add_test(tc, test_new_free);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ec_test_run(inoread_suite());
}
