/*
 * conf: the daemon's options (-o ...), and every check that needs no key,
 * done before anything is mounted: each failure is one line on stderr.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "error.h"
#include "fsmeta.h"
#include "startup.h"
#include "store.h"
#include "ttl.h"

#define PROG "enccachefs"


#define EC_OPT(t, p) { t, offsetof(struct ec_conf, p), 1 }

const struct fuse_opt ec_conf_opts[] = {
	EC_OPT("secrets=%s", secrets),
	EC_OPT("salt=%s", salt),
	EC_OPT("salt_file=%s", salt_file),
	EC_OPT("ttl=%s", ttl),
	EC_OPT("oldest_valid=%s", oldest_valid),
	EC_OPT("ttl_rules=%s", ttl_rules),
	EC_OPT("key=%s", key),
	EC_OPT("suffix=%s", suffix),
	EC_OPT("view=%s", view),
	EC_OPT("cache_timeout=%s", cache_timeout),
	EC_OPT("net_timeout=%s", net_timeout),
	EC_OPT("meta_cache=%s", meta_cache),
	EC_OPT("readahead=%s", readahead),
	EC_OPT("extpass=%s", extpass),
	EC_OPT("extpass_timeout=%s", extpass_timeout),
	EC_OPT("uid=%s", uid),
	EC_OPT("gid=%s", gid),
	EC_OPT("strict_perms", strict_perms),
	EC_OPT("set_times", set_times),
	EC_OPT("no_key_check", no_key_check),
	FUSE_OPT_KEY("ro", EC_CONF_KEY_RO),
	FUSE_OPT_KEY("sync", EC_CONF_KEY_SYNC),
	FUSE_OPT_KEY("fsname=", EC_CONF_KEY_FSNAME),
	FUSE_OPT_KEY("subtype=", EC_CONF_KEY_SUBTYPE),
	FUSE_OPT_KEY("allow_other", EC_CONF_KEY_SHARED),
	FUSE_OPT_KEY("allow_root", EC_CONF_KEY_SHARED),
	FUSE_OPT_END
};

int ec_conf_proc(void *data, const char *arg, int key,
		     struct fuse_args *outargs)
{
	struct ec_conf *c = data;

	(void)outargs;
	switch (key) {
	case EC_CONF_KEY_RO:
		c->ro = 1;
		return 1;	/* the kernel mounts read-only too */
	case EC_CONF_KEY_SYNC:
		/* Ours: the kernel's would fsync after every write(2), each
		 * a whole save here.  We make every save durable instead. */
		c->sync = 1;
		return 0;
	case EC_CONF_KEY_FSNAME:
		/* libfuse's too (the mount's source): kept, and noted */
		free(c->fsname);
		c->fsname = strdup(arg + strlen("fsname="));
		return c->fsname ? 1 : -1;
	case EC_CONF_KEY_SHARED:
		c->shared = 1;
		return 1;	/* libfuse's */
	case EC_CONF_KEY_SUBTYPE:
		free(c->subtype);
		c->subtype = strdup(arg + strlen("subtype="));
		return c->subtype ? 1 : -1;
	case FUSE_OPT_KEY_NONOPT:
		/* Both are ours, so that we word the errors about them. */
		c->nonopts++;
		if (!c->cachedir) {
			c->cachedir = strdup(arg);
			return c->cachedir ? 0 : -1;
		}
		if (!c->mountpoint) {
			c->mountpoint = strdup(arg);
			return c->mountpoint ? 0 : -1;
		}
		return 0;	/* too many: check_conf says so */
	default:
		return 1;
	}
}

void ec_conf_usage(const char *prog)
{
	printf(
"usage: %s [-f] [-d] [-o OPTION[,OPTION...]] CACHEDIR MOUNTPOINT\n"
"\n"
"Mount a cache directory of encrypted envelopes as plain files.\n"
"\n"
"enccachefs options:\n"
"    -o secrets=FILE        secrets file: JSON object of key names to\n"
"                           passwords, mode 0600; - or /dev/fd/N read\n"
"                           standard input or a pipe (default:\n"
"                           $ENCCACHE_SECRETS)\n"
"    -o extpass=COMMAND     or: run COMMAND (with /bin/sh) and read the\n"
"                           secrets JSON from its standard output\n"
"    -o extpass_timeout=SECS  how long COMMAND may take (default: %d)\n"
"    -o salt=TEXT           the salt, as the UTF-8 bytes of TEXT\n"
"    -o salt_file=FILE      the salt, as the exact bytes of FILE\n"
"                           (one of salt= and salt_file= is required;\n"
"                           default: $ENCCACHE_SALT_FILE)\n"
"    -o ttl=DURATION        time to live: '5 days', '3d 2h', '0', 'inf',\n"
"                           or an ISO-8601 expiry time (default: 5 days)\n"
"    -o oldest_valid=ISO    entries created before this time are stale\n"
"    -o ttl_rules=FILE      per-id TTLs, read at start: lines 'PATTERN TTL\n"
"                           [oldest_valid=ISO]', the first match wins,\n"
"                           ttl= for the rest (see enccachefs(1))\n"
"    -o key=NAME            key name for new entries (default: 'default',\n"
"                           or the only key)\n"
"    -o suffix=TEXT         envelope file suffix (default: .enc.json)\n"
"    -o view=VIEW           auto, raw, json or xml (default: auto)\n"
"    -o ro                  read-only mount\n"
"    -o sync                make every change durable (fsync the envelope\n"
"                           and its directory) before it returns\n"
"    -o cache_timeout=SECS  how long the kernel may cache names and\n"
"                           attributes, kept exact by inotify (default:\n"
"                           60 on local file systems; not used on\n"
"                           network ones, see net_timeout=)\n"
"    -o net_timeout=SECS    on a network or FUSE backing file system\n"
"                           (NFS, CephFS, GlusterFS...), how long the\n"
"                           kernel may cache names and attributes; a\n"
"                           change made on another machine shows after\n"
"                           at most this long (default: 1; 0: never\n"
"                           cached); given, any backing directory is\n"
"                           taken as shared\n"
"    -o meta_cache=N        metadata cache size in entries (default: as\n"
"                           many as fit in 1/32 of memory, up to %u MiB)\n"
"    -o readahead=KIB       how far ahead the kernel reads a file being\n"
"                           read in order (default: %u; 0: the kernel's\n"
"                           128); set through /sys/class/bdi, so as root\n"
"    -o uid=USER,gid=GROUP  show the tree as owned by USER and GROUP\n"
"                           (names or numbers; default: ours)\n"
"    -o strict_perms        chmod and chown that would change a mode or\n"
"                           owner fail with EPERM (default: ignored)\n"
"    -o set_times           utimensat(2) with an explicit time sets\n"
"                           created_at (default: ignored; touch without\n"
"                           a time still refreshes)\n"
"    -o no_key_check        mount even when no entry opens with a key\n"
"                           or the salt matches none\n"
"\n", prog, EC_STARTUP_EXTPASS_TIMEOUT_MS / 1000,
       EC_FSMETA_MAX_BYTES >> 20, EC_CONF_READAHEAD_KB);
}

/* One line on stderr: "enccachefs: <message>". */
void ec_conf_complain(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Our messages are lower-case; strerror()'s start with a capital. */
const char *ec_conf_errtext(int err)
{
	/* Start-up is single-threaded, and each message uses one. */
	static char text[EC_STARTUP_ERRTEXT_MAX];

	return ec_startup_errtext(err, text, sizeof(text));
}

/* Undo mountinfo's octal escapes (\040 for a space...) in place. */
static void unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
				      (s[3] - '0'));
			s += 3;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

/* Whether something is mounted on the directory real (a realpath); the
 * type and source of the last such mount into type/source (size bytes
 * each, "" when unknown), and its device, "MAJOR:MINOR", into dev
 * (EC_CONF_DEVLEN bytes) unless NULL. */
static bool mount_of(const char *real, char *type, char *source,
		     size_t size, char *dev)
{
	char line[8192];
	bool found = false;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	type[0] = source[0] = '\0';
	if (dev)
		dev[0] = '\0';

	if (!f) {
		/* No /proc: compare devices with the parent instead. */
		char parent[PATH_MAX];
		struct stat a, b;

		if (snprintf(parent, sizeof(parent), "%s/..", real) >=
		    (int)sizeof(parent) || stat(real, &a) < 0 ||
		    stat(parent, &b) < 0)
			return false;
		return a.st_dev != b.st_dev && strcmp(real, "/") != 0;
	}
	while (fgets(line, sizeof(line), f)) {
		char *save = NULL, *field = strtok_r(line, " ", &save);
		const char *maj_min = NULL;
		int i;

		for (i = 1; field && i < 5; i++) {
			field = strtok_r(NULL, " ", &save);
			if (i == 2)
				maj_min = field;
		}
		if (!field)
			continue;
		unescape(field);
		if (strcmp(field, real) != 0)
			continue;
		found = true;
		if (dev)
			snprintf(dev, EC_CONF_DEVLEN, "%s", maj_min);
		/* ... optional fields, "-", then the type and the source */
		while ((field = strtok_r(NULL, " ", &save)) &&
		       strcmp(field, "-") != 0)
			;
		field = field ? strtok_r(NULL, " ", &save) : NULL;
		snprintf(type, size, "%s", field ? field : "");
		field = field ? strtok_r(NULL, " ", &save) : NULL;
		snprintf(source, size, "%s", field ? field : "");
		unescape(source);
	}
	fclose(f);
	return found;
}

static bool is_mounted(const char *real, char *type, char *source,
		       size_t size)
{
	return mount_of(real, type, source, size, NULL);
}

int ec_conf_mount_dev(const char *real, char dev[EC_CONF_DEVLEN])
{
	char type[PATH_MAX], source[PATH_MAX];

	if (!mount_of(real, type, source, sizeof(type), dev) || !dev[0])
		return -ENOENT;
	return 0;
}

static bool parse_double(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return *s && !*end && !errno && isfinite(*out) && *out >= 0;
}

static bool parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end || errno || v == 0 || v > SIZE_MAX / 2)
		return false;
	*out = (size_t)v;
	return true;
}


void ec_conf_setup_release(struct ec_conf_setup *s)
{
	free(s->mountpoint);
	free(s->cachedir);
	free(s->salt);
	ec_ttl_rules_release(&s->rules);
}

/* A user or group: a name, or a number. */
static bool parse_id(const char *text, bool group, unsigned long *out)
{
	char *end;

	if (*text >= '0' && *text <= '9') {
		errno = 0;
		*out = strtoul(text, &end, 10);
		return !*end && !errno && *out < (unsigned long)UINT32_MAX;
	}
	if (group) {
		struct group *g = getgrnam(text);

		if (g)
			*out = g->gr_gid;
		return g != NULL;
	} else {
		struct passwd *pw = getpwnam(text);

		if (pw)
			*out = pw->pw_uid;
		return pw != NULL;
	}
}

/* uid= and gid=: who the tree is shown as owned by; 0 or -1. */
static int check_owner(const struct ec_conf *c, struct ec_conf_setup *s)
{
	unsigned long v;

	s->uid = getuid();
	s->gid = getgid();
	if (c->uid) {
		if (!parse_id(c->uid, false, &v)) {
			ec_conf_complain("invalid uid '%s': no such user", c->uid);
			return -1;
		}
		s->uid = (uid_t)v;
	}
	if (c->gid) {
		if (!parse_id(c->gid, true, &v)) {
			ec_conf_complain("invalid gid '%s': no such group", c->gid);
			return -1;
		}
		s->gid = (gid_t)v;
	}
	return 0;
}

/* ttl_rules=FILE into s->rules (read once, at start); 0, or -1 after
 * complaining ("FILE:LINE: what is wrong"). */
static int read_rules(const char *path, struct ec_conf_setup *s)
{
	char msg[EC_STARTUP_ERRTEXT_MAX + EC_TTL_RULES_MSG_MAX + PATH_MAX];

	if (ec_startup_read_rules(path, &s->rules, msg, sizeof(msg)) != 0) {
		ec_conf_complain("%s", msg);
		return -1;
	}
	s->co.rules = &s->rules;
	return 0;
}

/* The options' values; 0, or -1 after complaining. */
static int check_options(const struct ec_conf *c, struct ec_conf_setup *s)
{
	double secs = 0;
	int err;

	if (!c->cachedir || !c->mountpoint) {
		ec_conf_complain("missing %s: usage: " PROG " [options] CACHEDIR "
			 "MOUNTPOINT (see --help)",
			 c->cachedir ? "MOUNTPOINT" : "CACHEDIR");
		return -1;
	}
	if (c->nonopts > 2) {
		ec_conf_complain("too many arguments: usage: " PROG " [options] "
			 "CACHEDIR MOUNTPOINT");
		return -1;
	}
	if (c->secrets && c->extpass) {
		ec_conf_complain("options secrets= and extpass= cannot be used "
			 "together");
		return -1;
	}
	s->secrets = c->secrets;
	if (!c->secrets && !c->extpass)
		s->secrets = getenv("ENCCACHE_SECRETS");
	if (!s->secrets && !c->extpass) {
		ec_conf_complain("missing option -o secrets=FILE or "
			 "-o extpass=COMMAND (or ENCCACHE_SECRETS)");
		return -1;
	}
	if (c->salt && c->salt_file) {
		ec_conf_complain("options salt= and salt_file= cannot be used "
			 "together");
		return -1;
	}
	if (!c->salt && !c->salt_file && !getenv("ENCCACHE_SALT_FILE")) {
		ec_conf_complain("missing option -o salt=TEXT or -o salt_file=FILE "
			 "(or ENCCACHE_SALT_FILE)");
		return -1;
	}
	if (c->extpass_timeout &&
	    (!parse_double(c->extpass_timeout, &secs) || secs < 0.001 ||
	     secs > 86400)) {
		ec_conf_complain("invalid extpass_timeout '%s': not a number of "
			 "seconds (up to 86400)", c->extpass_timeout);
		return -1;
	}
	if (c->extpass_timeout)
		s->extpass_timeout_ms = (int)(secs * 1000);
	if (check_owner(c, s) != 0)
		return -1;
	if (c->ttl) {
		err = ec_ttl_parse(c->ttl, &s->co.ttl);
		if (err) {
			ec_conf_complain("invalid ttl '%s': %s", c->ttl, ec_conf_errtext(err));
			return -1;
		}
	}
	if (c->oldest_valid) {
		err = ec_time_parse_iso(c->oldest_valid,
					&s->co.oldest_valid_us);
		if (err) {
			ec_conf_complain("invalid oldest_valid '%s': %s",
				 c->oldest_valid, ec_conf_errtext(err));
			return -1;
		}
	}
	if (c->ttl_rules && read_rules(c->ttl_rules, s) != 0)
		return -1;
	s->view = EC_VIEW_AUTO;
	if (c->view && ec_view_parse(c->view, &s->view) != 0) {
		ec_conf_complain("invalid view '%s': use auto, raw, json or xml",
			 c->view);
		return -1;
	}
	if (c->suffix && (!*c->suffix || strchr(c->suffix, '/'))) {
		ec_conf_complain("invalid suffix '%s': must be non-empty, without '/'",
			 c->suffix);
		return -1;
	}
	if (c->key && !*c->key) {
		ec_conf_complain("invalid key name: empty");
		return -1;
	}
	if (c->cache_timeout && !parse_double(c->cache_timeout, &s->timeout)) {
		ec_conf_complain("invalid cache_timeout '%s': not a number of seconds",
			 c->cache_timeout);
		return -1;
	}
	if (c->net_timeout && (!parse_double(c->net_timeout,
					      &s->net_timeout) ||
			       s->net_timeout > 60)) {
		ec_conf_complain("invalid net_timeout '%s': not a number of "
				 "seconds (up to 60)", c->net_timeout);
		return -1;
	}
	s->readahead_kb = EC_CONF_READAHEAD_KB;
	if (c->readahead) {
		char *end;
		unsigned long kb;

		errno = 0;
		kb = strtoul(c->readahead, &end, 10);
		if (*c->readahead < '0' || *c->readahead > '9' || *end ||
		    errno || kb > EC_CONF_READAHEAD_MAX_KB) {
			ec_conf_complain("invalid readahead '%s': not a number "
					 "of KiB (up to %u)", c->readahead,
					 EC_CONF_READAHEAD_MAX_KB);
			return -1;
		}
		s->readahead_kb = (unsigned)kb;
		s->readahead_given = true;
	}
	if (c->meta_cache && !parse_size(c->meta_cache, &s->meta_max)) {
		ec_conf_complain("invalid meta_cache '%s': not a positive count",
			 c->meta_cache);
		return -1;
	}
	return 0;
}

/* The cache directory and the mount point; 0, or -1 after complaining. */
static int check_paths(const struct ec_conf *c, struct ec_conf_setup *s)
{
	char type[PATH_MAX], source[PATH_MAX], want[NAME_MAX + 8];
	struct ec_store probe;
	struct stat st;
	size_t cl;
	int err;

	err = ec_store_open(&probe, c->cachedir, c->suffix);
	if (err) {
		ec_conf_complain("cannot open cache directory '%s': %s", c->cachedir,
			 ec_conf_errtext(err));
		return -1;
	}
	ec_store_release(&probe);
	s->cachedir = realpath(c->cachedir, NULL);
	s->mountpoint = realpath(c->mountpoint, NULL);
	if (!s->mountpoint || stat(s->mountpoint, &st) < 0) {
		ec_conf_complain("bad mount point '%s': %s", c->mountpoint,
			 ec_conf_errtext(-errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		ec_conf_complain("bad mount point '%s': %s", c->mountpoint,
			 ec_conf_errtext(-ENOTDIR));
		return -1;
	}
	if (!s->cachedir) {
		ec_conf_complain("cannot open cache directory '%s': %s", c->cachedir,
			 ec_conf_errtext(-errno));
		return -1;
	}
	if (is_mounted(s->mountpoint, type, source, sizeof(type))) {
		/* This very mount (mount -a run again, with a source that
		 * mount(8) does not recognise: a given fsname=): nothing to
		 * do, as for mount(8). */
		snprintf(want, sizeof(want), "fuse.%s",
			 c->subtype ? c->subtype : PROG);
		if (strcmp(type, want) == 0 &&
		    strcmp(source, c->fsname ? c->fsname : s->cachedir) == 0) {
			fprintf(stderr, PROG ": '%s' is already mounted there "
				"from '%s'\n", c->mountpoint, source);
			s->already = true;
			return -1;
		}
		ec_conf_complain("mount point '%s' is busy: something is already "
			 "mounted there", c->mountpoint);
		return -1;
	}
	cl = strlen(s->cachedir);
	if (strncmp(s->mountpoint, s->cachedir, cl) == 0 &&
	    (s->mountpoint[cl] == '/' || !s->mountpoint[cl] || cl == 1)) {
		ec_conf_complain("mount point '%s' is inside the cache "
				 "directory '%s'", c->mountpoint, c->cachedir);
		return -1;
	}
	return 0;
}

/* The salt, from text or a file; 0, or -1 after complaining. */
static int read_salt(const struct ec_conf *c, struct ec_conf_setup *s)
{
	struct ec_startup st;
	char msg[PATH_MAX + 2 * EC_STARTUP_ERRTEXT_MAX];
	int err;

	ec_startup_init(&st);
	st.salt_text = c->salt;
	st.salt_file = c->salt_file;
	if (!c->salt && !c->salt_file)
		st.salt_file = getenv("ENCCACHE_SALT_FILE");
	err = ec_startup_read_salt(&st);
	if (err) {
		ec_startup_message(&st, msg, sizeof(msg));
		ec_conf_complain("%s", msg);
	} else {
		s->salt = st.salt;	/* ours now */
		s->co.salt_len = st.salt_len;
		st.salt = NULL;
	}
	ec_startup_release(&st);
	return err ? -1 : 0;
}

int ec_conf_check(const struct ec_conf *c, struct ec_conf_setup *s)
{
	memset(s, 0, sizeof(*s));
	s->co.ttl = ec_ttl_default();
	s->co.oldest_valid_us = EC_TIME_NONE;
	s->timeout = -1;
	s->net_timeout = -1;
	if (check_options(c, s) != 0 || check_paths(c, s) != 0 ||
	    read_salt(c, s) != 0)
		return -1;
	s->co.dir = s->cachedir;
	s->co.durable = c->sync;
	s->co.suffix = c->suffix;
	s->co.salt = s->salt;
	s->co.default_key = c->key;
	return 0;
}

/* Append s to b (cap bytes) with fuse_opt's escapes for ',' and '\\'. */
static size_t add_escaped(char *b, size_t at, const char *s)
{
	for (; *s; s++) {
		if (*s == ',' || *s == '\\')
			b[at++] = '\\';
		b[at++] = *s;
	}
	b[at] = '\0';
	return at;
}

/*
 * The kernel checks permissions against the owner and modes shown
 * (default_permissions) where that decides anything: when others may
 * use the mount (allow_other, allow_root), or the owner shown is not
 * who mounts it.  Else FUSE lets in only the mounting user's processes,
 * which own every file (0600) and directory (0700): every check passes
 * but executing a file, which the kernel refuses without the option too
 * (no x bit), as ecfs_access does access(2)'s X_OK, and chown(2)'s rule,
 * which ecfs_setattr applies.  Without the option the kernel does not
 * fetch a directory's attributes again for its check after every
 * create, rename or removal in it (fuse_dir_changed): one GETATTR less
 * for each file created.
 */
static bool kernel_checks(const struct ec_conf *c,
			  const struct ec_conf_setup *s)
{
	return c->shared || s->uid != getuid() || s->gid != getgid();
}

int ec_conf_fuse_opts(const struct ec_conf *c, const struct ec_conf_setup *s,
		      char **out)
{
	size_t n = 2 * strlen(s->cachedir) + 80, at;
	const char *sep = "";
	char *b = malloc(n);

	*out = NULL;
	if (!b)
		return -ENOMEM;
	at = (size_t)snprintf(b, n, "-o");
	if (kernel_checks(c, s)) {
		at += (size_t)snprintf(b + at, n - at, "default_permissions");
		sep = ",";
	}
	if (!c->fsname) {
		at += (size_t)snprintf(b + at, n - at, "%sfsname=", sep);
		at = add_escaped(b, at, s->cachedir);
		sep = ",";
	}
	if (!c->subtype) {
		at += (size_t)snprintf(b + at, n - at, "%ssubtype=" PROG, sep);
		sep = ",";
	}
	if (!*sep) {
		free(b);	/* nothing to add */
		return 0;
	}
	*out = b;
	return 0;
}

void ec_conf_release(struct ec_conf *c)
{
	free(c->secrets);
	free(c->salt);
	free(c->salt_file);
	free(c->ttl);
	free(c->oldest_valid);
	free(c->ttl_rules);
	free(c->key);
	free(c->suffix);
	free(c->view);
	free(c->cache_timeout);
	free(c->net_timeout);
	free(c->meta_cache);
	free(c->readahead);
	free(c->extpass);
	free(c->extpass_timeout);
	free(c->fsname);
	free(c->subtype);
	free(c->uid);
	free(c->gid);
	free(c->cachedir);
	free(c->mountpoint);
	memset(c, 0, sizeof(*c));
}
