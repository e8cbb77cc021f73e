/*
 * nodes: the node and name tables, and the lifecycle transitions that only
 * move nodes (see nodes.h, lifecycle.h).  No I/O, no locks: fs->lock is
 * held by every caller.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nodes.h"
#include "secure.h"
#include "ttl.h"

static size_t hash_ino(fuse_ino_t ino)
{
	uint64_t h = ino * 0x9e3779b97f4a7c15ull;

	return (size_t)(h ^ (h >> 32));
}

static size_t hash_name(fuse_ino_t parent, const char *name)
{
	uint64_t h = 1469598103934665603ull ^ parent;

	for (; *name; name++) {
		h ^= (unsigned char)*name;
		h *= 1099511628211ull;
	}
	return (size_t)(h ^ (h >> 32));
}

/* The two chained tables differ only in the hash and the link field. */
struct table_kind {
	size_t (*hash)(const struct node *n);
	struct node **(*link)(struct node *n);
};

static size_t hash_by_ino(const struct node *n)
{
	return hash_ino(n->ino);
}

static size_t hash_by_name(const struct node *n)
{
	return hash_name(n->parent->ino, n->name);
}

static struct node **link_ino(struct node *n)
{
	return &n->ino_next;
}

static struct node **link_name(struct node *n)
{
	return &n->name_next;
}

static const struct table_kind by_ino = { hash_by_ino, link_ino };
static const struct table_kind by_name = { hash_by_name, link_name };

/* Double a chained table when it holds more items than buckets.  Out of
 * memory, the chains just stay longer. */
static void grow(const struct table_kind *k, struct node ***tab,
		 size_t *buckets, size_t items)
{
	size_t nb = *buckets * 2, i;
	struct node **t;

	if (items / 2 <= *buckets)	/* chains of two on average */
		return;
	t = calloc(nb, sizeof(*t));
	if (!t)
		return;
	for (i = 0; i < *buckets; i++) {
		while ((*tab)[i]) {
			struct node *n = (*tab)[i];
			size_t h = k->hash(n) & (nb - 1);

			(*tab)[i] = *k->link(n);
			*k->link(n) = t[h];
			t[h] = n;
		}
	}
	free(*tab);
	*tab = t;
	*buckets = nb;
}

static void insert(const struct table_kind *k, struct node **tab,
		   size_t buckets, struct node *n)
{
	size_t h = k->hash(n) & (buckets - 1);

	*k->link(n) = tab[h];
	tab[h] = n;
}

static void unlink_from(const struct table_kind *k, struct node **tab,
			size_t buckets, struct node *n)
{
	struct node **pp = &tab[k->hash(n) & (buckets - 1)];

	while (*pp != n)
		pp = k->link(*pp);
	*pp = *k->link(n);
}

/* ---- Remembered inode numbers (nodes.h: st_ino) ---- */

static uint64_t memo_hash(const char *name)
{
	uint64_t h = 1469598103934665603ull;

	for (; *name; name++) {
		h ^= (unsigned char)*name;
		h *= 1099511628211ull;
	}
	return h;
}

/* The set of (parent, name hash): its EC_INO_MEMO_WAYS slots. */
static struct ec_ino_memo *memo_set(const struct ec_nodes *t, uint64_t parent,
				    uint64_t nh)
{
	uint64_t h = (nh ^ parent) * 0x9e3779b97f4a7c15ull;

	return t->memo + (size_t)(h >> 32) % EC_INO_MEMO_SETS *
			 EC_INO_MEMO_WAYS;
}

static bool memo_is(const struct ec_ino_memo *m, uint64_t parent, uint64_t nh,
		    const struct ec_fsmeta_key *k)
{
	return m->ino && m->parent == parent && m->name_hash == nh &&
	       m->dev == k->dev && m->bino == k->ino;
}

/* Slot i of set s is dropped: the younger ones move up. */
static void memo_drop(struct ec_ino_memo *s, size_t i)
{
	memmove(s + i, s + i + 1, (EC_INO_MEMO_WAYS - 1 - i) * sizeof(*s));
	memset(s + EC_INO_MEMO_WAYS - 1, 0, sizeof(*s));
}

/* Remember that n's name showed the file of key k as n->shown_ino.  Lock
 * held; without memory (ENOMEM) the number is just not kept. */
static void memo_keep(struct ec_nodes *t, const struct node *n,
		      const struct ec_fsmeta_key *k)
{
	uint64_t nh = memo_hash(n->name);
	struct ec_ino_memo *s;
	size_t i;

	if (!n->parent || !k->ino)
		return;		/* the root, or no backing file yet */
	if (!t->memo) {
		t->memo = calloc((size_t)EC_INO_MEMO_SETS * EC_INO_MEMO_WAYS,
				 sizeof(*t->memo));
		if (!t->memo)
			return;
	}
	s = memo_set(t, n->parent->shown_ino, nh);
	for (i = 0; i < EC_INO_MEMO_WAYS; i++)
		if (!s[i].ino || memo_is(&s[i], n->parent->shown_ino, nh, k))
			break;
	if (i < EC_INO_MEMO_WAYS && s[i].ino)
		memo_drop(s, i);	/* the same file: kept as the youngest */
	else if (i == EC_INO_MEMO_WAYS)
		memo_drop(s, 0);	/* full: the oldest goes */
	for (i = 0; s[i].ino; i++)
		;
	s[i].parent = n->parent->shown_ino;
	s[i].name_hash = nh;
	s[i].dev = k->dev;
	s[i].bino = k->ino;
	s[i].ino = n->shown_ino;
}

void ec_node_identify(struct ec_nodes *t, struct node *n)
{
	uint64_t nh;
	struct ec_ino_memo *s;
	size_t i;

	if (!t->memo || !n->parent)
		return;
	nh = memo_hash(n->name);
	s = memo_set(t, n->parent->shown_ino, nh);
	for (i = 0; i < EC_INO_MEMO_WAYS; i++) {
		if (memo_is(&s[i], n->parent->shown_ino, nh, &n->key)) {
			n->shown_ino = s[i].ino;
			memo_drop(s, i);	/* n holds it now */
			return;
		}
	}
}

int ec_nodes_init(struct ec_nodes *t)
{
	memset(t, 0, sizeof(*t));
	t->next_ino = FUSE_ROOT_ID + 1;
	t->ino_buckets = t->name_buckets = 1024;
	t->by_ino = calloc(t->ino_buckets, sizeof(*t->by_ino));
	t->by_name = calloc(t->name_buckets, sizeof(*t->by_name));
	if (!t->by_ino || !t->by_name) {
		free(t->by_ino);
		free(t->by_name);
		return -ENOMEM;
	}
	t->root.ino = t->root.shown_ino = FUSE_ROOT_ID;
	t->root.is_dir = true;
	t->root.nlookup = 1;
	t->root.wd = -1;
	t->root.name = (char *)"";
	t->root.next_created_us = EC_TIME_NONE;
	return 0;
}

/* Where a node's first name is: right behind it, in the same block (a
 * name given by a rename is malloc'd). */
static char *inline_name(struct node *n)
{
	return (char *)(n + 1);
}

void ec_node_next_free(struct node *n)
{
	if (!n->next)
		return;
	free(n->next->comment);
	free(n->next->validasof);
	free(n->next);
	n->next = NULL;
}

static void node_free(struct node *n)
{
	ec_secure_free(n->saved);
	ec_node_next_free(n);
	if (n->name != inline_name(n))
		free(n->name);
	free(n);
}

void ec_nodes_release(struct ec_nodes *t)
{
	size_t i;

	for (i = 0; t->by_ino && i < t->ino_buckets; i++) {
		while (t->by_ino[i]) {
			struct node *n = t->by_ino[i];

			t->by_ino[i] = n->ino_next;
			node_free(n);
		}
	}
	free(t->by_ino);
	free(t->by_name);
	free(t->memo);
	t->by_ino = t->by_name = NULL;
	t->memo = NULL;
}

struct node *ec_node_get(struct ec_nodes *t, fuse_ino_t ino)
{
	struct node *n;

	if (ino == FUSE_ROOT_ID)
		return &t->root;
	n = t->by_ino[hash_ino(ino) & (t->ino_buckets - 1)];
	while (n && n->ino != ino)
		n = n->ino_next;
	return n;
}

int ec_node_get_file(struct ec_nodes *t, fuse_ino_t ino, struct node **out)
{
	*out = ec_node_get(t, ino);
	if (!*out)
		return -ENOENT;
	return (*out)->is_dir ? -EISDIR : 0;
}

struct node *ec_node_child(struct ec_nodes *t, struct node *p,
			   const char *name)
{
	struct node *n;

	n = t->by_name[hash_name(p->ino, name) & (t->name_buckets - 1)];
	while (n && (n->parent != p || strcmp(n->name, name) != 0))
		n = n->name_next;
	return n;
}

/* unhash: ec_node_unhash, which leaves n's number to its name when keep
 * (nodes.h: st_ino). */
static void unhash(struct ec_nodes *t, struct node *n, bool keep)
{
	n->writer_due = false;	/* the writer's retry cannot find it now */
	n->own_saved = false;	/* the name's entry may be another's */
	if (!n->hashed)
		return;
	if (keep && !n->pending && !n->unlinked)
		memo_keep(t, n, &n->key);
	unlink_from(&by_name, t->by_name, t->name_buckets, n);
	n->hashed = false;
	t->nhashed--;
}

void ec_node_unhash(struct ec_nodes *t, struct node *n)
{
	unhash(t, n, true);
}

static void hash_in(struct ec_nodes *t, struct node *n)
{
	insert(&by_name, t->by_name, t->name_buckets, n);
	n->hashed = true;
	t->nhashed++;
	grow(&by_name, &t->by_name, &t->name_buckets, t->nhashed);
}

void ec_node_wd_link(struct ec_nodes *t, struct node *n)
{
	struct node **b = &t->by_wd[(unsigned)n->wd % EC_NODES_WD_BUCKETS];

	n->wd_next = *b;
	*b = n;
}

void ec_node_wd_unlink(struct ec_nodes *t, struct node *n)
{
	struct node **pp = &t->by_wd[(unsigned)n->wd % EC_NODES_WD_BUCKETS];

	while (*pp && *pp != n)
		pp = &(*pp)->wd_next;
	if (*pp)
		*pp = n->wd_next;
	n->wd_next = NULL;
}

struct node *ec_node_by_wd(struct ec_nodes *t, int wd)
{
	return wd < 0 ? NULL : t->by_wd[(unsigned)wd % EC_NODES_WD_BUCKETS];
}

struct node *ec_node_new(struct ec_nodes *t, struct node *p, const char *name,
			 bool is_dir)
{
	size_t len = strlen(name) + 1;
	struct node *n;

	if (len > SIZE_MAX - sizeof(*n))
		return NULL;
	n = calloc(1, sizeof(*n) + len);
	if (!n)
		return NULL;
	n->name = memcpy(inline_name(n), name, len);
	n->ino = n->shown_ino = t->next_ino++;
	n->parent = p;
	n->is_dir = is_dir;
	n->wd = -1;
	n->next_created_us = EC_TIME_NONE;
	p->nchildren++;
	insert(&by_ino, t->by_ino, t->ino_buckets, n);
	t->nnodes++;
	grow(&by_ino, &t->by_ino, &t->ino_buckets, t->nnodes);
	hash_in(t, n);
	return n;
}

void ec_node_put(struct ec_nodes *t, struct node *n)
{
	while (n && n != &t->root && n->nlookup == 0 &&
	       n->nchildren == 0 && n->nopen == 0 && !n->writer_due) {
		struct node *p = n->parent;

		ec_node_unhash(t, n);
		unlink_from(&by_ino, t->by_ino, t->ino_buckets, n);
		t->nnodes--;
		if (n->wd >= 0) {
			ec_node_wd_unlink(t, n);
			if (t->watch)
				ec_watch_remove(t->watch, n->wd);
		}
		node_free(n);
		p->nchildren--;
		n = p;
	}
}

int ec_node_move(struct ec_nodes *t, struct node *n, struct node *np,
		 const char *name)
{
	struct node *op = n->parent;
	char *nm = strdup(name);

	unhash(t, n, false);	/* its number goes with it */
	if (!nm)
		return -ENOMEM;
	if (n->name != inline_name(n))
		free(n->name);
	n->name = nm;
	np->nchildren++;
	n->parent = np;
	hash_in(t, n);
	op->nchildren--;
	ec_node_put(t, op);
	return 0;
}

int ec_node_path(const struct node *n, char *buf, size_t size)
{
	size_t pos = size - 1;

	buf[pos] = '\0';
	for (; n->parent; n = n->parent) {
		size_t len = strlen(n->name);

		if (len + 1 > pos)
			return -ENAMETOOLONG;
		pos -= len;
		memcpy(buf + pos, n->name, len);
		if (n->parent->parent)
			buf[--pos] = '/';
	}
	memmove(buf, buf + pos, size - pos);
	return 0;
}

int ec_path_join(const char *dir, const char *name, char *buf, size_t size)
{
	size_t dl = strlen(dir), nl = strlen(name);

	if (dl + 1 + nl + 1 > size)
		return -ENAMETOOLONG;
	memmove(buf, dir, dl);
	if (dl)
		buf[dl++] = '/';
	memcpy(buf + dl, name, nl + 1);
	return 0;
}

int ec_node_child_path(const struct node *p, const char *name, char *buf,
		       size_t size)
{
	int err = ec_node_path(p, buf, size);

	return err ? err : ec_path_join(buf, name, buf, size);
}

/* ---- lifecycle transitions ----------------------------------------- */

bool ec_node_live_pending(const struct node *n)
{
	return !n->is_dir && n->pending && !n->unlinked && n->nopen > 0;
}

bool ec_node_holds_name(const struct node *n)
{
	return !n->is_dir && (n->nwriters || n->pending || n->nlive);
}

bool ec_node_has_pending_child(const struct ec_nodes *t,
			       const struct node *p)
{
	size_t b;

	/* A walk of the name table: rmdir is rare, and a count kept per
	 * directory would have to follow every create, save and move. */
	for (b = 0; b < t->name_buckets; b++) {
		const struct node *n;

		for (n = t->by_name[b]; n; n = n->name_next)
			if (n->parent == p && ec_node_live_pending(n))
				return true;
	}
	return false;
}

void ec_node_unlinked(struct ec_nodes *t, struct node *n)
{
	if (!n->is_dir)
		n->unlinked = true;
	ec_node_unhash(t, n);
}

bool ec_node_saved(struct ec_nodes *t, struct node *n, bool ok,
		   const struct ec_fsmeta_key *key,
		   const struct ec_fsmeta_info *info)
{
	bool was_pending = n->pending;

	n->pending = false;
	ec_node_next_free(n);
	n->saves++;
	/* Readers through the page cache hold n's old version, whose size
	 * the kernel bounds their reads with: they keep n, and the name
	 * gets a new node.  (A pending node has none: it was never shown
	 * through the page cache.) */
	if (!ok || (n->ncached && !was_pending)) {
		/* The old version's file is gone (renamed over); the name's
		 * next node shows the file saved, as the same file. */
		unhash(t, n, false);
		if (ok)
			memo_keep(t, n, key);
		return false;
	}
	n->key = *key;
	n->info = *info;
	n->reversioned = true;
	n->pages_old = !was_pending;
	n->pages_full = false;
	n->settled = false;
	return true;
}

bool ec_node_open_reader(struct node *n)
{
	n->nopen++;
	if (n->nwriters || n->pending || n->nlive || n->writer_due) {
		n->nlive++;
		return false;
	}
	n->ncached++;
	return true;
}

void ec_node_close_reader(struct node *n, bool cached, bool live)
{
	n->nopen--;
	if (cached)
		n->ncached--;
	if (live)
		n->nlive--;
	if (!n->nlive)
		ec_node_keep_saved(n, NULL, 0);
}

void ec_node_keep_saved(struct node *n, uint8_t *content, size_t len)
{
	ec_secure_free(n->saved);
	n->saved = content;
	n->saved_len = content ? len : 0;
}
