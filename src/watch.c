/*
 * watch: inotify on directories below the cache directory.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "watch.h"

#define WATCH_MASK (IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | \
		    IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB | \
		    IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK)
#define NAME_EVENTS (IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | \
		     IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB)
#define WD_BUCKETS 256
#define BATCH_MAX 256		/* events handed to the callback at once */
#define READ_BUF (64 * 1024)
/* After a read that found events, the thread waits this long before it
 * reads again, so that a burst (a save through the mount makes one or two
 * events; cp -r makes thousands) is taken a window at a time: one wakeup,
 * one batch, each name once, instead of a wakeup per event.  A lone event
 * is still taken at once; one in a burst waits at most this. */
#define GATHER_MS 3

struct wdref {
	int wd;
	unsigned refs;
	struct wdref *next;
};

struct ec_watch {
	int dirfd;		/* borrowed */
	int ifd;		/* inotify */
	int stopfd;		/* eventfd: tells the thread to stop */
	ec_watch_fn fn;
	void *ctx;
	pthread_t thread;
	bool started;
	/* Atomics, for ec_watch_settled(): the thread is between taking
	 * events from the queue and the end of their callback; the thread
	 * has stopped (nothing handles events any more). */
	int reading;
	int stopped;
	pthread_mutex_t lock;	/* refs */
	struct wdref *refs[WD_BUCKETS];
};

static struct wdref **ref_slot(struct ec_watch *w, int wd)
{
	struct wdref **pp = &w->refs[(unsigned)wd % WD_BUCKETS];

	while (*pp && (*pp)->wd != wd)
		pp = &(*pp)->next;
	return pp;
}

/* The kernel dropped wd (IN_IGNORED): forget every reference to it. */
static void ref_drop_all(struct ec_watch *w, int wd)
{
	struct wdref **pp, *r;

	pthread_mutex_lock(&w->lock);
	pp = ref_slot(w, wd);
	r = *pp;
	if (r) {
		*pp = r->next;
		free(r);
	}
	pthread_mutex_unlock(&w->lock);
}

static unsigned translate(uint32_t mask, bool has_name)
{
	unsigned what = 0;

	if (mask & IN_Q_OVERFLOW)
		return EC_WATCH_OVERFLOW;
	if (mask & (IN_IGNORED | IN_UNMOUNT))
		what |= EC_WATCH_GONE;
	if (mask & (IN_DELETE_SELF | IN_MOVE_SELF))
		what |= EC_WATCH_SELF;
	if (has_name && (mask & NAME_EVENTS))
		what |= EC_WATCH_CHANGED;
	if (what && (mask & IN_ISDIR))
		what |= EC_WATCH_ISDIR;
	return what;
}

/* Add one event to the batch, merging it with an earlier one for the same
 * (wd, name); hands a full batch over first. */
static void batch_add(struct ec_watch *w, struct ec_watch_event *ev,
		      size_t *n, int wd, unsigned what, const char *name)
{
	size_t i;

	for (i = 0; i < *n; i++) {
		if (ev[i].wd == wd && strcmp(ev[i].name, name) == 0) {
			ev[i].what |= what;
			return;
		}
	}
	if (*n == BATCH_MAX) {
		w->fn(w->ctx, ev, *n);
		*n = 0;
	}
	ev[*n].wd = wd;
	ev[*n].what = what;
	ev[*n].name = name;
	(*n)++;
}

static void *watch_main(void *arg)
{
	struct ec_watch *w = arg;
	char buf[READ_BUF]
		__attribute__((aligned(__alignof__(struct inotify_event))));
	struct ec_watch_event ev[BATCH_MAX];

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = w->ifd, .events = POLLIN },
			{ .fd = w->stopfd, .events = POLLIN },
		};
		ssize_t len;
		size_t n = 0;
		char *q;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		__atomic_store_n(&w->reading, 1, __ATOMIC_SEQ_CST);
		len = read(w->ifd, buf, sizeof(buf));
		if (len < 0) {
			__atomic_store_n(&w->reading, 0, __ATOMIC_SEQ_CST);
			if (errno == EINTR || errno == EAGAIN)
				continue;
			break;
		}
		for (q = buf; q < buf + len;) {
			const struct inotify_event *ie = (const void *)q;
			const char *name = ie->len ? ie->name : "";
			unsigned what = translate(ie->mask, ie->len > 0);

			q += sizeof(*ie) + ie->len;
			if (!what)
				continue;
			if (what & EC_WATCH_GONE)
				ref_drop_all(w, ie->wd);
			batch_add(w, ev, &n, what & EC_WATCH_OVERFLOW ?
				  -1 : ie->wd, what, name);
		}
		if (n)
			w->fn(w->ctx, ev, n);
		__atomic_store_n(&w->reading, 0, __ATOMIC_SEQ_CST);
		if (len > 0 && (size_t)len < sizeof(buf) / 2 &&
		    poll(&p[1], 1, GATHER_MS) > 0)
			break;	/* told to stop while gathering */
	}
	__atomic_store_n(&w->stopped, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

bool ec_watch_settled(struct ec_watch *w)
{
	struct pollfd p = { .fd = w->ifd, .events = POLLIN };

	/* In this order: an event queued before the call is either still
	 * queued (poll sees it) or was taken by a read that the thread
	 * marked before it (reading), and is unmarked only after the
	 * callback for it returned. */
	if (!w->started || __atomic_load_n(&w->stopped, __ATOMIC_SEQ_CST))
		return false;
	if (poll(&p, 1, 0) != 0)
		return false;	/* queued, or poll failed */
	return __atomic_load_n(&w->reading, __ATOMIC_SEQ_CST) == 0;
}

int ec_watch_open(int dirfd, ec_watch_fn fn, void *ctx,
		  struct ec_watch **out)
{
	struct ec_watch *w;
	int err;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->dirfd = dirfd;
	w->fn = fn;
	w->ctx = ctx;
	w->stopfd = -1;
	w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->ifd < 0) {
		err = -errno;
		goto fail;
	}
	w->stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->stopfd < 0) {
		err = -errno;
		goto fail;
	}
	err = pthread_mutex_init(&w->lock, NULL);
	if (err) {
		err = -err;
		goto fail;
	}
	*out = w;
	return 0;
fail:
	if (w->stopfd >= 0)
		close(w->stopfd);
	if (w->ifd >= 0)
		close(w->ifd);
	free(w);
	return err;
}

int ec_watch_start(struct ec_watch *w)
{
	sigset_t all, old;
	int err;

	if (w->started)
		return 0;
	/* The thread takes no signals: they belong to the main loop. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = pthread_create(&w->thread, NULL, watch_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return -err;
	w->started = true;
	return 0;
}

/* Open reldir below dirfd as an O_PATH fd, refusing symlinks. */
static int open_dir(int dirfd, const char *reldir)
{
	char buf[PATH_MAX];
	char *comp, *save = NULL;
	int fd, nfd;

	if (strlen(reldir) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, reldir);
	fd = openat(dirfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (comp = strtok_r(buf, "/", &save); comp;
	     comp = strtok_r(NULL, "/", &save)) {
		if (strcmp(comp, ".") == 0 || strcmp(comp, "..") == 0) {
			close(fd);
			return -EINVAL;
		}
		nfd = openat(fd, comp,
			     O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0) {
			nfd = -errno;
			close(fd);
			return nfd;
		}
		close(fd);
		fd = nfd;
	}
	return fd;
}

int ec_watch_add(struct ec_watch *w, const char *reldir, int *wd)
{
	char proc[64];
	struct wdref **pp;
	int fd, id, err = 0;

	*wd = -1;
	fd = open_dir(w->dirfd, reldir);
	if (fd < 0)
		return fd;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	pthread_mutex_lock(&w->lock);
	id = inotify_add_watch(w->ifd, proc, WATCH_MASK);
	if (id < 0) {
		err = -errno;
		goto out;
	}
	pp = ref_slot(w, id);
	if (*pp) {
		(*pp)->refs++;
	} else {
		struct wdref *r = calloc(1, sizeof(*r));

		if (!r) {
			inotify_rm_watch(w->ifd, id);
			err = -ENOMEM;
			goto out;
		}
		r->wd = id;
		r->refs = 1;
		*pp = r;
	}
	*wd = id;
out:
	pthread_mutex_unlock(&w->lock);
	close(fd);
	return err;
}

void ec_watch_remove(struct ec_watch *w, int wd)
{
	struct wdref **pp, *r;

	if (wd < 0)
		return;
	pthread_mutex_lock(&w->lock);
	pp = ref_slot(w, wd);
	r = *pp;
	if (r && --r->refs == 0) {
		*pp = r->next;
		free(r);
		inotify_rm_watch(w->ifd, wd);
	}
	pthread_mutex_unlock(&w->lock);
}

bool ec_watch_reliable(int dirfd)
{
	/* f_type magic numbers of file systems shared between hosts. */
	static const unsigned long remote[] = {
		0x6969,		/* nfs */
		0x517b,		/* smb */
		0xff534d42,	/* cifs */
		0xfe534d42,	/* smb2 */
		0x01021997,	/* v9fs */
		0x00c36400,	/* ceph */
		0x5346414f,	/* afs */
		0x6b414653,	/* kafs */
		0x73757245,	/* coda */
		0x564c,		/* ncp */
		0x65735546,	/* fuse (sshfs, ...) */
		0x01161970,	/* gfs2 */
		0x7461636f,	/* ocfs2 */
		0x0bd00bd0,	/* lustre */
		0x47504653,	/* gpfs */
	};
	struct statfs sf;
	size_t i;

	if (fstatfs(dirfd, &sf) < 0)
		return false;
	for (i = 0; i < sizeof(remote) / sizeof(remote[0]); i++)
		if ((unsigned long)sf.f_type == remote[i])
			return false;
	return true;
}

void ec_watch_free(struct ec_watch *w)
{
	size_t i;

	if (!w)
		return;
	if (w->started) {
		uint64_t one = 1;

		if (write(w->stopfd, &one, sizeof(one)) != sizeof(one))
			abort();	/* an eventfd write cannot fail here */
		pthread_join(w->thread, NULL);
	}
	close(w->ifd);
	close(w->stopfd);
	for (i = 0; i < WD_BUCKETS; i++) {
		while (w->refs[i]) {
			struct wdref *r = w->refs[i];

			w->refs[i] = r->next;
			free(r);
		}
	}
	pthread_mutex_destroy(&w->lock);
	free(w);
}
