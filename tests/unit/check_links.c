/* Unit tests for src/fs/links.h: pushed links are found from the head in
 * reverse order, each owner recovered from its link; removing the head,
 * the middle or the tail keeps the rest linked both ways, and removing
 * the last empties the list. */
#include "config.h"

#include <check.h>
#include <stddef.h>

#include "links.h"
#include "unit.h"

struct item {
	int value;
	struct ec_link link;
};

/* The values from the head, as a number (digits, head first); checks the
 * back links on the way. */
static int walk(struct ec_link *head)
{
	struct ec_link *l, *prev = NULL;
	int v = 0;

	for (l = head; l; prev = l, l = l->next) {
		ck_assert_ptr_eq(l->prev, prev);
		v = v * 10 + EC_LINK_OWNER(l, struct item, link)->value;
	}
	return v;
}

START_TEST(test_push_remove)
{
	struct item it[4] = { { 1, { 0 } }, { 2, { 0 } }, { 3, { 0 } },
			      { 4, { 0 } } };
	struct ec_link *head = NULL;
	int i;

	ck_assert_int_eq(walk(head), 0);
	for (i = 0; i < 4; i++)
		ec_link_push(&head, &it[i].link);
	ck_assert_int_eq(walk(head), 4321);
	ck_assert_ptr_eq(EC_LINK_OWNER(head, struct item, link), &it[3]);
	ec_link_remove(&head, &it[2].link);	/* the middle */
	ck_assert_int_eq(walk(head), 421);
	ck_assert_ptr_null(it[2].link.prev);
	ck_assert_ptr_null(it[2].link.next);
	ec_link_remove(&head, &it[3].link);	/* the head */
	ck_assert_int_eq(walk(head), 21);
	ec_link_remove(&head, &it[0].link);	/* the tail */
	ck_assert_int_eq(walk(head), 2);
	ec_link_push(&head, &it[2].link);	/* pushed again */
	ck_assert_int_eq(walk(head), 32);
	ec_link_remove(&head, &it[1].link);
	ec_link_remove(&head, &it[2].link);
	ck_assert_ptr_null(head);
}
END_TEST

static Suite *links_suite(void)
{
	Suite *s = suite_create("links");
	TCase *tc = tcase_create("links");

	tcase_add_test(tc, test_push_remove);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ec_test_run(links_suite());
}
