/*
 * conf: the daemon's options and their checks (conf.c).
 */
#ifndef EC_FS_CONF_H
#define EC_FS_CONF_H

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache.h"
#include "view.h"

/* What -o and the two arguments said (strings strdup'd by fuse_opt). */
struct ec_conf {
	char *secrets;
	char *salt;
	char *salt_file;
	char *ttl;
	char *oldest_valid;
	char *ttl_rules;	/* -o ttl_rules=FILE */
	char *key;
	char *suffix;
	char *view;
	char *cache_timeout;
	char *net_timeout;
	char *meta_cache;
	char *readahead;
	char *extpass;
	char *extpass_timeout;
	char *uid;
	char *gid;
	char *cachedir;
	char *mountpoint;
	int ro;
	int shared;		/* allow_other or allow_root (libfuse's) */
	int sync;
	int strict_perms;	/* chmod/chown that change something: EPERM */
	int set_times;		/* utimensat with a time sets created_at */
	int no_key_check;	/* mount even when no entry opens */
	char *fsname;		/* -o fsname= / subtype= when given (kept */
	char *subtype;		/* for libfuse too, which uses them) */
	int nonopts;
};

enum { EC_CONF_KEY_RO, EC_CONF_KEY_SYNC, EC_CONF_KEY_FSNAME,
       EC_CONF_KEY_SUBTYPE, EC_CONF_KEY_SHARED };

/* The option table and its processing function for fuse_opt_parse(). */
extern const struct fuse_opt ec_conf_opts[];
int ec_conf_proc(void *data, const char *arg, int key,
		 struct fuse_args *outargs);
void ec_conf_release(struct ec_conf *c);

/* Checked settings, ready for ec_cache_open. */
struct ec_conf_setup {
	struct ec_cache_options co;
	enum ec_view view;
	double timeout;		/* < 0: not given */
	double net_timeout;	/* < 0: not given */
	size_t meta_max;
	unsigned readahead_kb;	/* 0: the kernel's */
	bool readahead_given;
	char *mountpoint;	/* realpath, malloc'd */
	char *cachedir;		/* realpath, malloc'd */
	uint8_t *salt;		/* malloc'd */
	const char *secrets;	/* secrets= or $ENCCACHE_SECRETS (borrowed),
				   NULL with extpass= */
	int extpass_timeout_ms;	/* 0: the default */
	uid_t uid;		/* the owner shown: uid= or ours */
	gid_t gid;
	bool already;		/* this mount is there already (said so):
				   ec_conf_check() fails, exit 0 */
	struct ec_ttl_rules rules;	/* ttl_rules=, read at start (co.rules
					   points here) */
};

/* Validate everything that needs no key into *s (release it with
 * ec_conf_setup_release(), also after a failure); 0, or -1 after
 * complaining. */
int ec_conf_check(const struct ec_conf *c, struct ec_conf_setup *s);
void ec_conf_setup_release(struct ec_conf_setup *s);

/*
 * The libfuse options we add: default_permissions where it matters
 * (see conf.c), and unless given,
 * fsname=<the cache directory> (so that df, findmnt and mount -a see the
 * source that fstab names) and subtype=enccachefs.  *out malloc'd
 * ("-o..."), or NULL when there is none to add; -ENOMEM.
 */
int ec_conf_fuse_opts(const struct ec_conf *c, const struct ec_conf_setup *s,
		      char **out) __attribute__((warn_unused_result));

void ec_conf_usage(const char *prog);
/* One line on stderr: "enccachefs: <message>". */
void ec_conf_complain(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
/* ec_strerror(err) lower-cased, as our messages are. */
const char *ec_conf_errtext(int err);

/* readahead=: the kernel reads a sequentially read file this far ahead
 * (KiB): 1 MiB, what one FUSE request carries (max_pages 256), is 8
 * times fewer READ round trips than the kernel's 128 KiB for FUSE. */
#define EC_CONF_READAHEAD_KB 1024u
#define EC_CONF_READAHEAD_MAX_KB 65536u

/* "MAJOR:MINOR" and its NUL */
#define EC_CONF_DEVLEN 24
/* The device of the last mount on the directory real (a realpath) from
 * /proc/self/mountinfo; -ENOENT when none shows there. */
int ec_conf_mount_dev(const char *real, char dev[EC_CONF_DEVLEN]);

#endif
