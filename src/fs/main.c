/*
 * main: the enccachefs daemon's wiring.  Options are checked (conf.c) and
 * the keys derived before anything is mounted or the process detaches,
 * so every start-up error is one line on stderr; then the session, the
 * watch and notifier threads, and the FUSE loop.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "conf.h"
#include "fs.h"
#include "ops.h"
#include "probe.h"
#include "replace.h"
#include "secrets.h"
#include "startup.h"
#include "secure.h"

#define TIMEOUT_DEFAULT 60.0	/* seconds the kernel may cache a name */
/* On a backing store shared between hosts (no inotify for their
 * changes): how long a name or its attributes may be cached. */
#define NET_TIMEOUT_DEFAULT 1.0
/* A temp file of ours this old was left by a killed writer: a save takes
 * milliseconds (seconds for the largest entries). */
#define TEMP_AGE_US (5 * 60 * 1000000LL)

static const struct fuse_lowlevel_ops ecfs_ops = {
	.init = ecfs_init,
	.lookup = ecfs_lookup,
	.forget = ecfs_forget,
	.forget_multi = ecfs_forget_multi,
	.getattr = ecfs_getattr,
	.setattr = ecfs_setattr,
	.mknod = ecfs_mknod,
	.mkdir = ecfs_mkdir,
	.unlink = ecfs_unlink,
	.rmdir = ecfs_rmdir,
	.symlink = ecfs_symlink,
	.rename = ecfs_rename,
	.link = ecfs_link,
	.open = ecfs_open,
	.read = ecfs_read,
	.write = ecfs_write,
	.flush = ecfs_flush,
	.release = ecfs_release,
	.fsync = ecfs_fsync,
	.fsyncdir = ecfs_fsyncdir,
	.opendir = ecfs_opendir,
	.readdir = ecfs_readdir,
	.readdirplus = ecfs_readdirplus,
	.releasedir = ecfs_releasedir,
	.statfs = ecfs_statfs,
	.access = ecfs_access,
	.setxattr = ecfs_setxattr,
	.getxattr = ecfs_getxattr,
	.listxattr = ecfs_listxattr,
	.removexattr = ecfs_removexattr,
	.create = ecfs_create,
	.fallocate = ecfs_fallocate,
};

/*
 * fuse_session_loop_mt() of FUSE_USE_VERSION 31 leaks its loop config in
 * libfuse 3.12 to 3.14 (valgrind: "definitely lost").  The 3.2 entry
 * point takes the version-1 config, which is our struct fuse_loop_config,
 * and frees what it makes; libfuse exports it from 3.2 on.
 */
#if FUSE_USE_VERSION < 32
int fuse_session_loop_mt_32(struct fuse_session *se,
			    struct fuse_loop_config *config);
#endif

static int loop_mt(struct fuse_session *se,
		   const struct fuse_cmdline_opts *cmd)
{
#if FUSE_USE_VERSION < 32
	/* UINT_MAX (not given) would be logged as invalid: use libfuse's
	 * documented default of 10. */
	struct fuse_loop_config lc = {
		.clone_fd = cmd->clone_fd,
		.max_idle_threads = cmd->max_idle_threads == UINT_MAX ? 10 :
			cmd->max_idle_threads,
	};

	return fuse_session_loop_mt_32(se, &lc);
#elif FUSE_USE_VERSION < FUSE_MAKE_VERSION(3, 12)
	struct fuse_loop_config lc = {
		.clone_fd = cmd->clone_fd,
		.max_idle_threads = cmd->max_idle_threads,
	};

	return fuse_session_loop_mt(se, &lc);
#else
	struct fuse_loop_config *lc = fuse_loop_cfg_create();
	int err;

	if (!lc)
		return -ENOMEM;
	fuse_loop_cfg_set_clone_fd(lc, (unsigned)cmd->clone_fd);
	fuse_loop_cfg_set_idle_threads(lc, cmd->max_idle_threads);
	fuse_loop_cfg_set_max_threads(lc, cmd->max_threads);
	err = fuse_session_loop_mt(se, lc);
	fuse_loop_cfg_destroy(lc);
	return err;
#endif
}

__attribute__((format(printf, 2, 0)))
static void log_syslog(enum fuse_log_level level, const char *fmt,
		       va_list ap)
{
	vsyslog((int)level, fmt, ap);
}

static int fs_init(struct ecfs *fs, const struct ec_conf *c,
		   const struct ec_conf_setup *s)
{
	pthread_rwlockattr_t ra;
	int err;

	memset(fs, 0, sizeof(*fs));
	fs->view = s->view;
	fs->ro = c->ro;
	fs->sync = c->sync;
	fs->uid = s->uid;
	fs->gid = s->gid;
	fs->strict_perms = c->strict_perms;
	fs->set_times = c->set_times;
	pthread_mutex_init(&fs->lock, NULL);
	pthread_cond_init(&fs->published, NULL);
	/* Renames must not wait behind a stream of saves. */
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra,
			PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&fs->ns, &ra);
	pthread_rwlockattr_destroy(&ra);
	fs->readahead_kb = s->readahead_kb;
	err = ec_nodes_init(&fs->nodes);
	if (!err)
		err = ec_fsmeta_new(s->meta_max, &fs->meta);
	if (!err)
		err = ec_recent_new(&fs->contents);
	return err;
}

static void fs_release(struct ecfs *fs)
{
	ec_inoread_free(fs->inoread);	/* unpins nodes */
	fs->inoread = NULL;
	ec_replace_release(fs);
	ec_watch_free(fs->watch);
	fs->watch = NULL;
	ec_nodes_release(&fs->nodes);
	ec_fsmeta_free(fs->meta);
	ec_recent_free(fs->contents);
	ec_cache_free(fs->cache);
	pthread_rwlock_destroy(&fs->ns);
	pthread_cond_destroy(&fs->published);
	pthread_mutex_destroy(&fs->lock);
}

/* Derive the keys and open the cache; 0, or -1 after complaining. */
static int open_cache(struct ecfs *fs, const struct ec_conf *c,
		      struct ec_conf_setup *s)
{
	char msg[2 * PATH_MAX + EC_STARTUP_ERRTEXT_MAX];
	struct ec_startup st;
	int err;

	ec_startup_init(&st);
	st.secrets_file = s->secrets;
	st.extpass = c->extpass;
	st.extpass_timeout_ms = s->extpass_timeout_ms;
	st.key = c->key;
	st.key_option = "key=";
	err = ec_startup_read_secrets(&st, false);
	if (!err) {
		/* Wipes and releases the secrets. */
		err = ec_cache_open(&s->co, &st.secrets, &fs->cache);
		if (err)
			ec_startup_open_failed(&st, c->cachedir, err);
	}
	if (err) {
		ec_startup_message(&st, msg, sizeof(msg));
		ec_conf_complain("%s", msg);
	}
	ec_startup_release(&st);
	if (err)
		return -1;
	fs->store = ec_cache_store(fs->cache);
	/* cache_timeout= given: inotify keeps it exact (on a network file
	 * system, for this host's changes only, as the user chose).  With
	 * net_timeout= given, any backing store is taken as shared. */
	fs->net = s->timeout < 0 && (s->net_timeout >= 0 ||
				     !ec_watch_reliable(fs->store->dirfd));
	if (s->timeout >= 0)
		fs->timeout = s->timeout;
	else if (!fs->net)
		fs->timeout = TIMEOUT_DEFAULT;
	else
		fs->timeout = s->net_timeout >= 0 ? s->net_timeout :
			NET_TIMEOUT_DEFAULT;
	if (fs->net)
		fuse_log(FUSE_LOG_NOTICE, PROG ": '%s' is shared (%s): names "
			 "and attributes are cached %g s at most, without "
			 "inotify\n", s->cachedir, s->net_timeout >= 0 ?
			 "net_timeout=" : "a network or FUSE file system",
			 fs->timeout);
	return 0;
}

/* Refuse a cache that none of the keys (or not the salt) opens: a wrong
 * password would show empty directories.  0, or -1 after complaining. */
static int check_keys(struct ecfs *fs, const struct ec_conf *c)
{
	char msg[EC_REASON_MAX];
	struct ec_probe p;
	int err;

	if (c->no_key_check)
		return 0;
	err = ec_probe_cache(fs->cache, ec_clock_now_us(), &p);
	if (err) {
		/* Mounting shows what can be read; the walk found nothing
		 * to hold against it. */
		ec_conf_complain("warning: cannot check the keys against "
				 "'%s': %s", c->cachedir, ec_conf_errtext(err));
		ec_probe_release(&p);
		return 0;
	}
	err = ec_probe_verdict(fs->cache, &p, msg, sizeof(msg), NULL);
	ec_probe_release(&p);
	if (!err)
		return 0;
	ec_conf_complain("%s; -o no_key_check mounts anyway", msg);
	return -1;
}

/* Remove the temp files (.ec-tmp-*) that writers killed mid-save left
 * behind: never listed, never read, they would stay for good. */
static void sweep_temps(struct ecfs *fs)
{
	size_t removed = 0;
	int err;

	err = ec_store_sweep_temps(fs->store, ec_clock_now_us(), TEMP_AGE_US,
				   &removed);
	if (err)
		fuse_log(FUSE_LOG_WARNING, PROG ": cannot look for old temp "
			 "files: %s\n", ec_strerror(err));
	else if (removed)
		fuse_log(FUSE_LOG_NOTICE, PROG ": removed %zu temp file%s "
			 "left by killed writers\n", removed,
			 removed == 1 ? "" : "s");
}

/* The root's attributes and the inotify watches (not started yet). */
static int open_watch(struct ecfs *fs, const struct ec_conf *c)
{
	struct node *root = &fs->nodes.root;
	struct stat rst;
	int err;

	if (ec_store_stat_dir(fs->store, "", &rst) == 0)
		ec_fsmeta_key_of(&root->key, &rst);
	err = ec_watch_open(fs->store->dirfd, ec_inval_on_watch, fs,
			    &fs->watch);
	fs->nodes.watch = fs->watch;
	if (!err && fs->timeout > 0 && !fs->net) {
		err = ec_watch_add(fs->watch, "", &root->wd);
		if (!err)
			ec_node_wd_link(&fs->nodes, root);
	}
	if (err) {
		ec_conf_complain("cannot watch cache directory '%s': %s",
				 c->cachedir, ec_conf_errtext(err));
		return -1;
	}
	return 0;
}

/*
 * readahead=: the kernel's read-ahead for this mount, its bdi's
 * read_ahead_kb (FUSE's INIT can only lower it, from the kernel's 128
 * KiB; writing sysfs needs root).  Done after mounting and before the
 * loop answers INIT, where ecfs_init() asks for the same, so that the
 * kernel's min() of the two keeps it.  Failing is no error: reads are
 * then asked in 128 KiB pieces, as for every FUSE file system.
 */
static void set_readahead(const struct ec_conf_setup *s)
{
	char dev[EC_CONF_DEVLEN], path[sizeof(dev) + 48], val[16];
	int fd, n, err;
	ssize_t w;

	if (!s->readahead_kb)
		return;
	err = ec_conf_mount_dev(s->mountpoint, dev);
	if (!err) {
		snprintf(path, sizeof(path), "/sys/class/bdi/%s/read_ahead_kb",
			 dev);
		n = snprintf(val, sizeof(val), "%u\n", s->readahead_kb);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0) {
			err = -errno;
		} else {
			w = write(fd, val, (size_t)n);
			err = w < 0 ? -errno : w != n ? -EIO : 0;
			close(fd);
		}
	}
	if (err)
		fuse_log(s->readahead_given ? FUSE_LOG_WARNING :
			 FUSE_LOG_DEBUG, PROG ": cannot set readahead=%u "
			 "(left to the kernel): %s\n", s->readahead_kb,
			 ec_strerror(err));
}

/* After the fork: the threads, then the loop until unmounted. */
static int run(struct ecfs *fs, struct fuse_session *se,
	       const struct fuse_cmdline_opts *cmd)
{
	int err;

	if (!cmd->foreground) {
		openlog(PROG, LOG_PID, LOG_DAEMON);
		fuse_set_log_func(log_syslog);
		/* Memory locks are not inherited across fork(2). */
		err = ec_cache_lock_keys(fs->cache);
		if (err)
			fuse_log(FUSE_LOG_WARNING, PROG ": cannot lock the "
				 "keys in memory: %s\n", ec_strerror(err));
	}
	err = ec_notifier_start(fs->notifier);
	if (err) {
		fuse_log(FUSE_LOG_ERR, PROG ": cannot start the notifier "
			 "thread: %s\n", ec_strerror(err));
		return 1;
	}
	err = ec_watch_start(fs->watch);
	if (err) {
		fuse_log(FUSE_LOG_ERR, PROG ": cannot start the watch thread: "
			 "%s\n", ec_strerror(err));
		return 1;
	}
	fs->notify_wait_ms = cmd->singlethread ? EC_NOTIFY_WAIT_MS_SINGLE :
		EC_NOTIFY_WAIT_MS;
	/* Not on a shared store either: another machine's rewrite reaches
	 * a node's inode there by paths not proven to keep the kernel's
	 * size and pages of one version (mount_gluster once read a
	 * shorter version's bytes over a longer one's page). */
	fs->push = !cmd->singlethread && !fs->net;
	if (cmd->singlethread)
		err = fuse_session_loop(se);
	else
		err = loop_mt(se, cmd);
	return err < 0 ? 1 : 0;	/* > 0: stopped by a signal */
}

/* --help and --version; true when one was given (and answered). */
static bool info_only(const char *prog, const struct fuse_cmdline_opts *cmd)
{
	if (cmd->show_help) {
		ec_conf_usage(prog);
		printf("FUSE options:\n");
		fuse_cmdline_help();
		fuse_lowlevel_help();
		return true;
	}
	if (cmd->show_version) {
		printf(PROG " version %s\n", PACKAGE_VERSION);
		printf("FUSE library version %s\n", fuse_pkgversion());
		fflush(stdout);	/* fusermount3 --version writes next */
		fuse_lowlevel_version();
		return true;
	}
	return false;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts cmd;
	struct ec_conf c;
	struct ec_conf_setup s;
	struct ecfs fs;
	struct fuse_session *se = NULL;
	char *fuse_opts = NULL;
	bool mounted = false, handlers = false;
	int ret = 1;

	memset(&c, 0, sizeof(c));
	memset(&s, 0, sizeof(s));
	memset(&cmd, 0, sizeof(cmd));
	memset(&fs, 0, sizeof(fs));
	/* Keys and plaintext stay out of core dumps and ptrace. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/* Whatever we create in the cache is ours alone (the store sets
	 * 0600 on envelopes; directories are made 0700). */
	umask(077);
	if (ec_secure_init() != 0) {
		ec_conf_complain("cannot initialise libsodium");
		goto out;
	}
	if (fuse_opt_parse(&args, &c, ec_conf_opts, ec_conf_proc) != 0 ||
	    fuse_parse_cmdline(&args, &cmd) != 0)
		goto out;
	if (info_only(argv[0], &cmd)) {
		ret = 0;
		goto out;
	}
	if (ec_conf_check(&c, &s) != 0) {
		if (s.already)
			ret = 0;
		goto out;
	}
	if (ec_conf_fuse_opts(&c, &s, &fuse_opts) != 0 ||
	    (fuse_opts && fuse_opt_add_arg(&args, fuse_opts) != 0) ||
	    fs_init(&fs, &c, &s) != 0) {
		ec_conf_complain("out of memory");
		goto out;
	}
	/* Unknown FUSE options are reported here, before keys are made. */
	se = fuse_session_new(&args, &ecfs_ops, sizeof(ecfs_ops), &fs);
	if (!se)
		goto out;
	fs.se = se;
	fs.notifier = ec_notifier_new(se);
	if (!fs.notifier) {
		ec_conf_complain("out of memory");
		goto out;
	}
	if (open_cache(&fs, &c, &s) != 0 || check_keys(&fs, &c) != 0 ||
	    open_watch(&fs, &c) != 0)
		goto out;
	if (!fs.ro)
		sweep_temps(&fs);
	/* Zero-message opens (inoread.h) need what keeps a node one
	 * version: nothing saved through the mount, and every outside
	 * change told by inotify.  Asked for at INIT (ecfs_init). */
	else if (!fs.net && fs.watch && fs.timeout > 0 &&
		 ec_inoread_new(&fs, &fs.inoread) != 0)
		fuse_log(FUSE_LOG_WARNING, PROG ": every open asks the "
			 "daemon: %s\n", "cannot start a thread");
	if (fuse_set_signal_handlers(se) != 0)
		goto out;
	handlers = true;
	if (fuse_session_mount(se, s.mountpoint) != 0)
		goto out;
	mounted = true;
	set_readahead(&s);
	if (fuse_daemonize(cmd.foreground) != 0)
		goto out;
	ret = run(&fs, se, &cmd);
out:
	/* Unmount first: that fails any request still pending, so a
	 * notification the watch thread is sending cannot wait for one;
	 * then stop the thread before the session goes away. */
	if (mounted)
		fuse_session_unmount(se);
	ecfs_readdir_quiesce();
	ec_watch_free(fs.watch);
	fs.watch = fs.nodes.watch = NULL;
	ec_notifier_free(fs.notifier);
	fs.notifier = NULL;
	/* (No kernel to tell any more: the notifier has stopped.) */
	ecfs_release_unreleased(&fs);
	if (handlers)
		fuse_remove_signal_handlers(se);
	if (se)
		fuse_session_destroy(se);
	fs_release(&fs);
	ec_conf_setup_release(&s);
	free(cmd.mountpoint);
	free(fuse_opts);
	ec_conf_release(&c);
	fuse_opt_free_args(&args);
	return ret;
}
