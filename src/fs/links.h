/*
 * links: an intrusive doubly linked list, for what the kernel holds open
 * (file handles, handle.c; directory streams, ops_dir.c) so that what it
 * never releases can be found at the unmount.  The caller locks.
 */
#ifndef EC_FS_LINKS_H
#define EC_FS_LINKS_H

#include <stddef.h>

struct ec_link {
	struct ec_link *prev, *next;
};

/* The struct of type that holds link l as its member. */
#define EC_LINK_OWNER(l, type, member) \
	((type *)(void *)((char *)(l) - offsetof(type, member)))

static inline void ec_link_push(struct ec_link **head, struct ec_link *l)
{
	l->prev = NULL;
	l->next = *head;
	if (*head)
		(*head)->prev = l;
	*head = l;
}

static inline void ec_link_remove(struct ec_link **head, struct ec_link *l)
{
	if (l->prev)
		l->prev->next = l->next;
	else
		*head = l->next;
	if (l->next)
		l->next->prev = l->prev;
	l->prev = l->next = NULL;
}

#endif
