/* Unit tests for src/fs/nodes.c: the node and name tables, and the file
 * lifecycle moves (fs.h): saves in place or not, live readers, unlinked
 * nodes, directories holding files being created. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodes.h"
#include "ttl.h"
#include "unit.h"

static struct ec_nodes t;

static void setup(void)
{
	ck_assert_int_eq(ec_nodes_init(&t), 0);
}

static void teardown(void)
{
	ec_nodes_release(&t);
}

/* A node the kernel has looked up once. */
static struct node *looked_up(struct node *p, const char *name, bool is_dir)
{
	struct node *n = ec_node_new(&t, p, name, is_dir);

	ck_assert_ptr_nonnull(n);
	n->nlookup = 1;
	return n;
}

static void forget(struct node *n)
{
	n->nlookup = 0;
	ec_node_put(&t, n);
}

static struct ec_fsmeta_key version(int64_t size)
{
	struct ec_fsmeta_key k = { 1, 42, size, 1000, 2000 };

	return k;
}

START_TEST(root_and_lookup)
{
	struct node *d, *e, *f;

	ck_assert_ptr_eq(ec_node_get(&t, FUSE_ROOT_ID), &t.root);
	d = looked_up(&t.root, "dir", true);
	e = looked_up(d, "entry", false);
	ck_assert_ptr_eq(ec_node_get(&t, d->ino), d);
	ck_assert_ptr_eq(ec_node_get(&t, e->ino), e);
	ck_assert_ptr_eq(ec_node_child(&t, &t.root, "dir"), d);
	ck_assert_ptr_eq(ec_node_child(&t, d, "entry"), e);
	ck_assert_ptr_null(ec_node_child(&t, &t.root, "entry"));
	ck_assert_ptr_null(ec_node_get(&t, e->ino + 1000));
	ck_assert_int_eq(ec_node_get_file(&t, e->ino, &f), 0);
	ck_assert_ptr_eq(f, e);
	ck_assert_int_eq(ec_node_get_file(&t, d->ino, &f), -EISDIR);
	ck_assert_int_eq(ec_node_get_file(&t, FUSE_ROOT_ID, &f), -EISDIR);
	ck_assert_int_eq(ec_node_get_file(&t, e->ino + 1000, &f), -ENOENT);
	ck_assert_uint_ne(d->ino, e->ino);
	ck_assert_uint_eq(t.nnodes, 2);
}
END_TEST

START_TEST(paths)
{
	char buf[64], small[6];
	struct node *d = looked_up(&t.root, "a", true);
	struct node *e = looked_up(d, "b c", false);

	ck_assert_int_eq(ec_node_path(&t.root, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(ec_node_path(e, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "a/b c");
	ck_assert_int_eq(ec_node_child_path(d, "x", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "a/x");
	ck_assert_int_eq(ec_node_child_path(&t.root, "x", buf, sizeof(buf)),
			 0);
	ck_assert_str_eq(buf, "x");
	ck_assert_int_eq(ec_node_path(e, small, sizeof(small)), -ENAMETOOLONG);
	ck_assert_int_eq(ec_path_join("a", "bcdef", small, sizeof(small)),
			 -ENAMETOOLONG);
}
END_TEST

/* Many nodes: the tables grow and still find every one. */
START_TEST(growth)
{
	struct node *v[5000];
	char name[16];
	int i;

	for (i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		v[i] = looked_up(&t.root, name, false);
	}
	ck_assert_uint_gt(t.ino_buckets, 1024);
	ck_assert_uint_gt(t.name_buckets, 1024);
	for (i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		ck_assert_ptr_eq(ec_node_get(&t, v[i]->ino), v[i]);
		ck_assert_ptr_eq(ec_node_child(&t, &t.root, name), v[i]);
	}
	for (i = 0; i < 5000; i += 2)
		forget(v[i]);
	ck_assert_uint_eq(t.nnodes, 2500);
	ck_assert_ptr_null(ec_node_child(&t, &t.root, "n0"));
	ck_assert_ptr_eq(ec_node_child(&t, &t.root, "n1"), v[1]);
}
END_TEST

/* A node lives while it is looked up, has children or is open; its
 * parent lives while it does. */
START_TEST(put_frees_upwards)
{
	struct node *d = looked_up(&t.root, "d", true);
	struct node *e = looked_up(d, "e", false);

	d->nlookup = 0;
	ec_node_put(&t, d);	/* child e keeps it */
	ck_assert_ptr_eq(ec_node_get(&t, d->ino), d);
	e->nopen = 1;
	e->nlookup = 0;
	ec_node_put(&t, e);	/* open: stays */
	ck_assert_uint_eq(t.nnodes, 2);
	e->nopen = 0;
	ec_node_put(&t, e);	/* frees e, then d */
	ck_assert_uint_eq(t.nnodes, 0);
	ck_assert_uint_eq(t.root.nchildren, 0);
}
END_TEST

/* An unhashed node is found by ino, not by name; a new node takes the
 * name. */
START_TEST(unhash_and_replace)
{
	struct node *a = looked_up(&t.root, "x", false), *b;

	ec_node_unhash(&t, a);
	ck_assert(!a->hashed);
	ck_assert_ptr_null(ec_node_child(&t, &t.root, "x"));
	ck_assert_ptr_eq(ec_node_get(&t, a->ino), a);
	b = looked_up(&t.root, "x", false);
	ck_assert_ptr_eq(ec_node_child(&t, &t.root, "x"), b);
	ec_node_unhash(&t, a);	/* twice: harmless */
	ck_assert_uint_eq(t.nhashed, 1);
}
END_TEST

START_TEST(move_follows)
{
	struct node *d1 = looked_up(&t.root, "d1", true);
	struct node *d2 = looked_up(&t.root, "d2", true);
	struct node *e = looked_up(d1, "e", false);
	char buf[64];

	ck_assert_int_eq(ec_node_move(&t, e, d2, "f"), 0);
	ck_assert_ptr_null(ec_node_child(&t, d1, "e"));
	ck_assert_ptr_eq(ec_node_child(&t, d2, "f"), e);
	ck_assert_int_eq(ec_node_path(e, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "d2/f");
	ck_assert_uint_eq(d1->nchildren, 0);
	ck_assert_uint_eq(d2->nchildren, 1);
}
END_TEST

/* B1: two writers on e; the first saves (the node takes the version in
 * place), the file is renamed: the second writer's node is at the new
 * name, so its save lands there. */
START_TEST(save_in_place_keeps_the_name)
{
	struct node *e = looked_up(&t.root, "e", false), *d;
	struct ec_fsmeta_key k1 = version(10), k2 = version(20);
	struct ec_fsmeta_info mi = { .state = EC_STATE_VALID, .size = 5 };
	char buf[64];

	e->key = k1;
	e->nopen = e->nwriters = 2;
	ck_assert(ec_node_saved(&t, e, true, &k2, &mi));
	ck_assert(e->hashed);
	ck_assert(ec_fsmeta_key_equal(&e->key, &k2));
	ck_assert_uint_eq(e->info.size, 5);
	ck_assert_uint_eq(e->saves, 1);
	ck_assert(e->pages_old);
	ck_assert(e->reversioned);	/* no open stores its pages */
	d = looked_up(&t.root, "dir", true);
	ck_assert_int_eq(ec_node_move(&t, e, d, "d"), 0);
	ck_assert_int_eq(ec_node_path(e, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "dir/d");
	ck_assert_ptr_null(ec_node_child(&t, &t.root, "e"));
}
END_TEST

/* Snapshots through the page cache hold the old version: the name gets
 * a new node instead; so does a save whose result is unknown. */
START_TEST(save_with_snapshots_gives_up_the_name)
{
	struct node *e = looked_up(&t.root, "e", false);
	struct ec_fsmeta_key k1 = version(10), k2 = version(20);
	struct ec_fsmeta_info mi = { .state = EC_STATE_VALID, .size = 5 };

	e->key = k1;
	e->ncached = 1;
	e->nopen = 2;
	e->nwriters = 1;
	ck_assert(!ec_node_saved(&t, e, true, &k2, &mi));
	ck_assert(!e->hashed);
	ck_assert(ec_fsmeta_key_equal(&e->key, &k1));
	ck_assert(!e->reversioned);
	e = looked_up(&t.root, "f", false);
	ck_assert(!ec_node_saved(&t, e, false, &k2, &mi));
	ck_assert(!e->hashed);
}
END_TEST

/* A pending node becomes the saved version in place, whatever reads it:
 * nothing can have cached other content for it. */
START_TEST(first_save_of_a_new_file)
{
	struct node *e = looked_up(&t.root, "e", false);
	struct ec_fsmeta_key k = version(20);
	struct ec_fsmeta_info mi = { .state = EC_STATE_VALID, .size = 5 };

	e->pending = true;
	e->next = calloc(1, sizeof(*e->next));
	ck_assert_ptr_nonnull(e->next);
	e->next->comment = strdup("c");
	e->nopen = 1;
	ck_assert(ec_node_saved(&t, e, true, &k, &mi));
	ck_assert(!e->pending);
	ck_assert_ptr_null(e->next);	/* and freed */
	ck_assert(!e->pages_old);
	/* The kernel's size is what the writer wrote, which the view may
	 * present otherwise: no pages stored ahead for it either. */
	ck_assert(e->reversioned);
}
END_TEST

/* Readers: snapshots while nothing writes; live while a writer is open,
 * the file is being created, or another live reader is open (minor). */
START_TEST(readers_snapshot_or_live)
{
	struct node *e = looked_up(&t.root, "e", false);

	ck_assert(ec_node_open_reader(e));	/* snapshot */
	ck_assert_uint_eq(e->ncached, 1);
	ec_node_close_reader(e, true, false);
	e->nwriters = 1;
	e->nopen = 1;
	ck_assert(!ec_node_open_reader(e));	/* live */
	ck_assert_uint_eq(e->nlive, 1);
	e->nwriters = 0;
	e->nopen--;
	ck_assert(!ec_node_open_reader(e));	/* live: joins the other */
	ck_assert_uint_eq(e->nlive, 2);
	ck_assert_uint_eq(e->ncached, 0);
	ec_node_close_reader(e, false, true);
	ec_node_close_reader(e, false, true);
	ck_assert_uint_eq(e->nopen, 0);
	e->pending = true;
	ck_assert(!ec_node_open_reader(e));
	ec_node_close_reader(e, false, true);
	ck_assert_uint_eq(e->nlive, 0);
}
END_TEST

/* A node made for a writer that snapshot readers turned away (ecfs_open):
 * its readers read live, it outlives the kernel's forget (revalidation
 * looks up and forgets before the lookup that opens), and it is freed as
 * any node once its name is given up. */
START_TEST(writer_due)
{
	struct node *e = looked_up(&t.root, "e", false);

	e->writer_due = true;
	ck_assert(!ec_node_open_reader(e));	/* live */
	ck_assert_uint_eq(e->ncached, 0);
	ec_node_close_reader(e, false, true);
	forget(e);
	ck_assert_ptr_eq(ec_node_child(&t, &t.root, "e"), e);	/* kept */
	ck_assert_uint_eq(t.nnodes, 1);
	ec_node_unhash(&t, e);
	ck_assert(!e->writer_due);
	ec_node_put(&t, e);
	ck_assert_uint_eq(t.nnodes, 0);
}
END_TEST

/* B2: a directory holding a file being created is not empty. */
START_TEST(pending_child_makes_a_directory_busy)
{
	struct node *d = looked_up(&t.root, "d", true);
	struct node *o = looked_up(&t.root, "o", true);
	struct node *f = looked_up(d, "f", false);

	ck_assert(!ec_node_has_pending_child(&t, d));
	f->pending = true;
	ck_assert(!ec_node_has_pending_child(&t, d));	/* not open: gone */
	f->nopen = 1;
	ck_assert(ec_node_has_pending_child(&t, d));
	ck_assert(!ec_node_has_pending_child(&t, o));
	ck_assert(!ec_node_has_pending_child(&t, &t.root));
	ec_node_unlinked(&t, f);
	ck_assert(!ec_node_has_pending_child(&t, d));
}
END_TEST

/* Unlinked: nothing saves it, the name is free, the node lives on for
 * its handles. */
START_TEST(unlinked)
{
	struct node *e = looked_up(&t.root, "e", false);
	struct node *d = looked_up(&t.root, "d", true);

	e->nopen = 1;
	ec_node_unlinked(&t, e);
	ck_assert(e->unlinked);
	ck_assert(!e->hashed);
	ck_assert_ptr_eq(ec_node_get(&t, e->ino), e);
	ck_assert(!ec_node_live_pending(e));
	ec_node_unlinked(&t, d);	/* a directory: only unhashed */
	ck_assert(!d->unlinked);
	ck_assert(!d->hashed);
}
END_TEST

START_TEST(watch_links)
{
	struct node *a = looked_up(&t.root, "a", true);
	struct node *b = looked_up(&t.root, "b", true);
	struct node *n;
	int found = 0;

	a->wd = 7;
	b->wd = 7 + EC_NODES_WD_BUCKETS;	/* same bucket */
	ec_node_wd_link(&t, a);
	ec_node_wd_link(&t, b);
	for (n = ec_node_by_wd(&t, 7); n; n = n->wd_next)
		found += n->wd == 7;
	ck_assert_int_eq(found, 1);
	ec_node_wd_unlink(&t, a);
	for (n = ec_node_by_wd(&t, 7); n; n = n->wd_next)
		ck_assert_ptr_ne(n, a);
	ck_assert_ptr_null(ec_node_by_wd(&t, -1));
	ec_node_wd_unlink(&t, b);
	a->wd = b->wd = -1;
}
END_TEST

/* ---- st_ino (nodes.h): the number a file shows outlives its node ---- */

/* A node for name under p with key k, as a lookup makes it. */
static struct node *found(struct node *p, const char *name,
			  struct ec_fsmeta_key k)
{
	struct node *n = looked_up(p, name, false);

	n->key = k;
	ec_node_identify(&t, n);
	return n;
}

/* Forgotten and looked up again: a new node id, the same st_ino, if and
 * only if the name's backing file is the same one (another version of
 * it, rewritten in place, too). */
START_TEST(ino_outlives_the_node)
{
	struct ec_fsmeta_key k = version(10), moved = version(10);
	struct node *d = looked_up(&t.root, "d", true);
	struct node *e = found(d, "e", k);
	uint64_t ino = e->ino, shown = e->shown_ino;

	ck_assert_uint_eq(shown, ino);	/* new: its node id */
	forget(e);
	e = found(d, "e", version(11));	/* same file, rewritten */
	ck_assert_uint_ne(e->ino, ino);
	ck_assert_uint_eq(e->shown_ino, shown);
	forget(e);
	moved.ino = 43;			/* another file renamed over it */
	e = found(d, "e", moved);
	ck_assert_uint_eq(e->shown_ino, e->ino);
	ck_assert_uint_ne(e->shown_ino, shown);
	forget(e);
	e = found(d, "e", k);		/* the first one back (mv back) */
	ck_assert_uint_eq(e->shown_ino, shown);
	forget(e);
	e = found(d, "e", moved);	/* and the other one */
	ck_assert_uint_ne(e->shown_ino, shown);
	ck_assert_uint_ne(e->shown_ino, e->ino);
}
END_TEST

/* The number stays with the name it was shown under, in its directory. */
START_TEST(ino_belongs_to_its_name)
{
	struct ec_fsmeta_key k = version(10);
	struct node *a = looked_up(&t.root, "a", true);
	struct node *b = looked_up(&t.root, "b", true);
	struct node *e = found(a, "e", k);
	uint64_t shown = e->shown_ino;

	forget(e);
	e = found(b, "e", k);		/* other directory */
	ck_assert_uint_ne(e->shown_ino, shown);
	e = found(a, "f", k);		/* other name */
	ck_assert_uint_ne(e->shown_ino, shown);
	e = found(a, "e", k);
	ck_assert_uint_eq(e->shown_ino, shown);
}
END_TEST

/* A name split off for a writer, or given up by a save beside snapshot
 * readers (fs.h), shows the same number through its new node: vim's
 * E949 check.  Renamed, the number goes with the node; unlinked, it is
 * nobody's. */
START_TEST(ino_through_splits)
{
	struct ec_fsmeta_key k = version(10), saved = version(20);
	struct node *e = found(&t.root, "e", k), *m, *r;
	struct ec_fsmeta_info mi = { 0 };
	uint64_t shown = e->shown_ino;

	ec_node_unhash(&t, e);		/* a writer beside snapshots */
	m = found(&t.root, "e", k);
	ck_assert_uint_eq(m->shown_ino, shown);
	m->ncached = 1;			/* a save beside snapshots */
	saved.ino = 77;			/* written to a temp file, renamed */
	ck_assert(!ec_node_saved(&t, m, true, &saved, &mi));
	ck_assert(!m->hashed);
	r = found(&t.root, "e", saved);
	ck_assert_uint_eq(r->shown_ino, shown);
	ck_assert_uint_ne(r->ino, m->ino);

	ck_assert_int_eq(ec_node_move(&t, r, &t.root, "g"), 0);
	ck_assert_uint_eq(r->shown_ino, shown);
	m = found(&t.root, "e", saved);	/* nothing left under "e" */
	ck_assert_uint_ne(m->shown_ino, shown);
	ec_node_unlinked(&t, r);
	m = found(&t.root, "g", saved);
	ck_assert_uint_ne(m->shown_ino, shown);
}
END_TEST

/* Memory is bounded: far more names than it keeps, forgotten in turn;
 * the one forgotten last always comes back with its number. */
START_TEST(ino_memory_is_bounded)
{
	enum { N = EC_INO_MEMO_SETS * EC_INO_MEMO_WAYS * 2 };
	struct ec_fsmeta_key k = version(10);
	char name[16];
	uint64_t shown = 0;
	size_t kept = 0;
	int i;

	for (i = 0; i < N; i++) {
		struct node *e;

		snprintf(name, sizeof(name), "n%d", i);
		k.ino = 1000 + (uint64_t)i;
		e = found(&t.root, name, k);
		shown = e->shown_ino;
		forget(e);
	}
	ck_assert_uint_eq(found(&t.root, name, k)->shown_ino, shown);
	for (i = 0; i < N; i++) {
		struct node *e;

		snprintf(name, sizeof(name), "n%d", i);
		k.ino = 1000 + (uint64_t)i;
		e = found(&t.root, name, k);
		kept += e->shown_ino != e->ino;
		forget(e);
	}
	ck_assert_uint_le(kept, (size_t)EC_INO_MEMO_SETS * EC_INO_MEMO_WAYS);
	ck_assert_uint_gt(kept, 0);
}
END_TEST

static Suite *nodes_suite(void)
{
	Suite *s = suite_create("nodes");
	TCase *tc = tcase_create("tables");
	TCase *lc = tcase_create("lifecycle");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, root_and_lookup);
	tcase_add_test(tc, paths);
	tcase_add_test(tc, growth);
	tcase_add_test(tc, put_frees_upwards);
	tcase_add_test(tc, unhash_and_replace);
	tcase_add_test(tc, move_follows);
	tcase_add_test(tc, watch_links);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(lc, setup, teardown);
	tcase_add_test(lc, save_in_place_keeps_the_name);
	tcase_add_test(lc, save_with_snapshots_gives_up_the_name);
	tcase_add_test(lc, first_save_of_a_new_file);
	tcase_add_test(lc, readers_snapshot_or_live);
	tcase_add_test(lc, writer_due);
	tcase_add_test(lc, pending_child_makes_a_directory_busy);
	tcase_add_test(lc, unlinked);
	tcase_add_test(lc, ino_outlives_the_node);
	tcase_add_test(lc, ino_belongs_to_its_name);
	tcase_add_test(lc, ino_through_splits);
	tcase_add_test(lc, ino_memory_is_bounded);
	suite_add_tcase(s, lc);
	return s;
}

int main(void)
{
	return ec_test_run(nodes_suite());
}
