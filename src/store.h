/*
 * store: the backing cache directory.  Maps cache ids to envelope files,
 * lists them, reads them, and saves them atomically.  No crypto, no JSON.
 *
 * Every path is resolved from the directory fd taken at open, one
 * component at a time with O_NOFOLLOW: a symlink anywhere below the cache
 * directory is never followed, so reads and writes cannot leave it.
 */
#ifndef EC_STORE_H
#define EC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#define EC_SUFFIX_DEFAULT ".enc.json"

/*
 * Temp files of the atomic save: EC_STORE_TMP_PREFIX and then exactly
 * EC_STORE_TMP_HEX lower-case hex digits (16 random bytes, so that
 * writers on several machines sharing one cache over network storage
 * never pick the same name), e.g.
 * ".ec-tmp-00112233445566778899aabbccddeeff".  Older versions wrote
 * exactly EC_STORE_TMP_HEX_OLD digits (".ec-tmp-0123456789ab"); both
 * forms are temp files, nothing else is: not ".ec-tmp-zz", not
 * "x.ec-tmp-...", not upper-case hex, not other lengths.  Temp files are
 * never listed, and are swept when old (ec_store_sweep_temps()); an id
 * whose envelope file name would be one (possible only with a suffix of
 * hex digits) is refused with -EC_EID by every function that takes an id.
 */
#define EC_STORE_TMP_PREFIX ".ec-tmp-"
#define EC_STORE_TMP_HEX 32
#define EC_STORE_TMP_HEX_OLD 12

struct ec_store {
	int dirfd;
	char *suffix;		/* malloc'd */
	size_t suffix_len;
};

/* Open dir (must exist and be a directory).  -errno on failure. */
int ec_store_open(struct ec_store *s, const char *dir, const char *suffix)
	__attribute__((warn_unused_result));
void ec_store_release(struct ec_store *s);

/* Whether name (one file name, no '/') is a temp file name as above. */
bool ec_store_is_temp_name(const char *name);

/* 0 when id is a valid cache id: relative, non-empty, no empty, `.` or
 * `..` component, no NUL; -EC_EID otherwise.  Trailing `/` is invalid. */
int ec_store_check_id(const char *id) __attribute__((warn_unused_result));

/* Same for a directory path relative to the cache dir; "" is the root. */
int ec_store_check_dir(const char *reldir) __attribute__((warn_unused_result));

/*
 * Read the envelope of id into *buf (malloc'd, NUL-terminated; free()),
 * at most max bytes (-EC_ETOOBIG beyond), with the file's fstat in *st
 * (may be NULL).  -ENOENT when absent, -ELOOP for a symlink, -EISDIR /
 * -EINVAL for a non-regular file.
 */
int ec_store_read(const struct ec_store *s, const char *id, size_t max,
		  char **buf, size_t *len, struct stat *st)
	__attribute__((warn_unused_result));

/* Read any regular file by path (not below the cache dir; for inspecting
 * a single envelope), as ec_store_read does. */
int ec_store_read_file(const char *path, size_t max, char **buf, size_t *len,
		       struct stat *st) __attribute__((warn_unused_result));

/* lstat of id's envelope (not following links). */
int ec_store_stat_entry(const struct ec_store *s, const char *id,
			struct stat *st) __attribute__((warn_unused_result));

/*
 * lstat of id's envelope in one system call, by its whole path from the
 * cache dir: unlike ec_store_stat_entry, a symlink among its parent
 * directories is followed.  Only for telling whether the file is still a
 * version known by its stat (device, inode, size, times): a match is the
 * same inode, however it was reached; on a mismatch or an error, ask
 * ec_store_stat_entry or read it.
 */
int ec_store_stat_known(const struct ec_store *s, const char *id,
			struct stat *st) __attribute__((warn_unused_result));

/* lstat of a directory below the cache dir ("" = root). -ENOTDIR if not one. */
int ec_store_stat_dir(const struct ec_store *s, const char *reldir,
		      struct stat *st) __attribute__((warn_unused_result));

enum {
	EC_STORE_DURABLE = 1u << 0,	/* fsync the file, then the directory */
	EC_STORE_NOREPLACE = 1u << 1,	/* -EEXIST when the entry exists */
};

/*
 * Save buf as id's envelope atomically: parent directories are created
 * 0700 (each one), a temp file with a fresh random name (the new form
 * above) is created in the same directory (O_CREAT|O_EXCL|O_NOFOLLOW,
 * 0600), written, closed and renamed over the target.  The temp file is
 * removed on any failure, so the old envelope stays intact.  -EISDIR when
 * a directory is in the way.
 */
int ec_store_write(const struct ec_store *s, const char *id,
		   const void *buf, size_t len, unsigned flags)
	__attribute__((warn_unused_result));
/* ec_store_write(), and *st: the new envelope's stat when it was linked
 * in whole as an unnamed file (the stat of exactly the version written,
 * whatever came at the name since), else st_ino 0. */
int ec_store_write_st(const struct ec_store *s, const char *id,
		      const void *buf, size_t len, unsigned flags,
		      struct stat *st) __attribute__((warn_unused_result));

/*
 * Remove the temp files that killed writers left behind: every regular
 * file below the cache dir, at any depth (up to the depth ec_store_walk
 * goes), whose name ec_store_is_temp_name() accepts and whose mtime is
 * more than min_age_us microseconds before now_us (e.g. the clock and 5
 * minutes: a live writer's temp is younger).  Symlinks are never
 * followed, neither to a file nor to a directory, so nothing outside the
 * cache dir is touched; subdirectories that cannot be opened or read are
 * skipped, as are files that cannot be removed.  *removed (may be NULL)
 * gets the number removed.  0, -EINVAL for a negative min_age_us, or
 * -errno when the cache dir itself cannot be read (-ENOMEM...).
 * No printing.
 */
int ec_store_sweep_temps(const struct ec_store *s, int64_t now_us,
			 int64_t min_age_us, size_t *removed)
	__attribute__((warn_unused_result));

/*
 * Call cb for every temp file below the cache dir that ec_store_sweep_temps
 * would consider (regular files with a temp name, any age), with its path
 * relative to the cache dir (e.g. "a/.ec-tmp-<hex>") and its lstat, each
 * directory's names in strcmp order.  Symlinks are never followed;
 * unreadable subdirectories are skipped.  cb returns non-zero to stop
 * (returned).  0, or -errno when the cache dir itself cannot be read.
 */
int ec_store_walk_temps(const struct ec_store *s,
			int (*cb)(void *ctx, const char *path,
				  const struct stat *st),
			void *ctx) __attribute__((warn_unused_result));

/*
 * Remove the temp file at path (as ec_store_walk_temps() gave it) if it is
 * still the file seen (same device, inode and mtime).  -ESTALE when it
 * changed (left alone), -EINVAL when path does not name a temp file,
 * -ENOENT, -errno.
 */
int ec_store_remove_temp(const struct ec_store *s, const char *path,
			 const struct stat *seen)
	__attribute__((warn_unused_result));

/*
 * Remove id's envelope only while it is still the version seen (the stat
 * of the file when it was judged: device, inode, size, mtime, ctime).  It
 * is renamed to a fresh temp name in its directory first, so a writer that
 * opens id from then on makes a new file, looked at again, then unlinked.
 * When it changed meanwhile it is left (renamed back, unless a new
 * envelope has taken its name; then it stays a temp file for the next
 * sweep) and -ESTALE is returned.  -ENOENT, -EC_EID, -errno otherwise.
 */
int ec_store_remove_version(const struct ec_store *s, const char *id,
			    const struct stat *seen)
	__attribute__((warn_unused_result));

/* Remove id's envelope. */
int ec_store_remove(const struct ec_store *s, const char *id)
	__attribute__((warn_unused_result));

/* fsync id's envelope and its directory. */
int ec_store_sync(const struct ec_store *s, const char *id)
	__attribute__((warn_unused_result));

/* fsync the directory reldir ("" = the cache dir itself): makes the
 * creation, removal and renaming of names in it durable.  -ENOTDIR,
 * -EC_EID, -errno. */
int ec_store_sync_dir(const struct ec_store *s, const char *reldir)
	__attribute__((warn_unused_result));

/* mkdir -p of reldir with mode 0700 for each created component. */
int ec_store_mkdir(const struct ec_store *s, const char *reldir)
	__attribute__((warn_unused_result));
/* rmdir reldir (-ENOTEMPTY when it holds anything, listed or not). */
int ec_store_rmdir(const struct ec_store *s, const char *reldir)
	__attribute__((warn_unused_result));

/* Rename an entry (from_id -> to_id) or a directory; flags: RENAME_*. */
int ec_store_rename_entry(const struct ec_store *s, const char *from_id,
			  const char *to_id, unsigned flags)
	__attribute__((warn_unused_result));
int ec_store_rename_dir(const struct ec_store *s, const char *from_dir,
			const char *to_dir, unsigned flags)
	__attribute__((warn_unused_result));

int ec_store_statvfs(const struct ec_store *s, struct statvfs *st)
	__attribute__((warn_unused_result));

/* One listed item: an entry (name = file name without the suffix) or a
 * directory.  Borrowed: valid during the callback only. */
struct ec_store_item {
	const char *name;
	bool is_dir;
	struct stat st;		/* lstat of the backing file or directory */
};

/*
 * Call cb for every directory and entry directly in reldir, skipping
 * symlinks, other file types, names without the suffix and temp files
 * (of both forms, whatever the suffix).
 * Where a directory and an entry share a name, only the directory is
 * listed.  cb returns 0 to go on, non-zero to stop (returned).
 */
int ec_store_list_dir(const struct ec_store *s, const char *reldir,
		      int (*cb)(void *ctx, const struct ec_store_item *it),
		      void *ctx) __attribute__((warn_unused_result));

/*
 * Call cb for every entry below the cache dir, recursively, with its id,
 * each directory's names in strcmp order.  Unreadable subdirectories are
 * skipped.  cb as above.
 */
int ec_store_walk(const struct ec_store *s,
		  int (*cb)(void *ctx, const char *id, const struct stat *st),
		  void *ctx) __attribute__((warn_unused_result));

/* ---- store_stream.c: big envelopes in pieces ---------------------------- */

/*
 * Open id's envelope for reading (no symlink followed; a FIFO does not
 * block): *fd (close it) and its fstat.  -ENOENT, -ELOOP, -EISDIR,
 * -EINVAL (not a regular file), -EC_EID.
 */
int ec_store_open_entry(const struct ec_store *s, const char *id, int *fd,
			struct stat *st) __attribute__((warn_unused_result));

/* The whole regular file open on fd (its fstat st), at most max bytes
 * (-EC_ETOOBIG beyond), as ec_store_read() reads it: *st is updated to
 * the version read when the file was rewritten in place meanwhile, and
 * -EAGAIN means it was each time it was read (it is being rewritten). */
int ec_store_read_fd(int fd, size_t max, struct stat *st, char **buf,
		     size_t *len) __attribute__((warn_unused_result));

/* Whether two stats show the same version of one file: device, inode,
 * size, mtime and ctime. */
bool ec_store_same_file(const struct stat *a, const struct stat *b);

/* Write all len bytes of buf to fd (retrying short writes and EINTR):
 * 0 or -errno. */
int ec_store_write_all(int fd, const void *buf, size_t len);
/* Read up to n bytes of fd from offset off into buf (retrying short reads
 * and EINTR) until n or the end of the file: *got the bytes read (fewer
 * than n only at the end); 0 or -errno. */
int ec_store_pread_all(int fd, void *buf, size_t n, uint64_t off,
		       size_t *got) __attribute__((warn_unused_result));

/*
 * ec_store_write() with the content written by fill(ctx, fd) into the
 * temp file (fill returns 0 or a negative code, which is returned and
 * leaves the old envelope as it was).
 */
int ec_store_write_with(const struct ec_store *s, const char *id,
			unsigned flags, int (*fill)(void *ctx, int fd),
			void *ctx) __attribute__((warn_unused_result));

/*
 * ec_store_write_with() over the envelope only while it is still the
 * version the caller read (compare-before-rename: rekey must not put an
 * old entry's content over a newer save).  Once the temp file is
 * complete, right before the rename, check(ctx, fd, st) is called with
 * the envelope as it is then, open read-only (no symlink followed), and
 * its fstat; fd is -1 and st NULL when there is none.  A non-zero return
 * (e.g. -ESTALE; -ENOENT for a removed one) is returned, the temp file
 * removed and the envelope left as it is.  Parent directories are not
 * made: -ENOENT when id's directory is gone.  A writer that gets in
 * between the check and the rename is not seen: the window is one
 * fstat, not the whole save.  fill and ctx as ec_store_write_with().
 */
int ec_store_replace_with(const struct ec_store *s, const char *id,
			  unsigned flags, int (*fill)(void *ctx, int fd),
			  int (*check)(void *ctx, int fd,
				       const struct stat *st),
			  void *ctx) __attribute__((warn_unused_result));

/*
 * A spare temp file for a run of ec_store_replace_spare() calls: one
 * caller (one thread) at a time.  ec_store_spare_free() removes the file
 * it holds.  A process killed meanwhile leaves that file, a temp file
 * (with an old envelope's mtime, so the next sweep takes it).
 */
struct ec_store_spare;
int ec_store_spare_new(struct ec_store_spare **out)
	__attribute__((warn_unused_result));
void ec_store_spare_free(struct ec_store_spare *sp);

/*
 * ec_store_replace_with() that allocates and frees no inode: the temp
 * file is put in place with RENAME_EXCHANGE, which leaves the old
 * envelope, whole, at the temp name; it is kept in sp and written over
 * by the next call (the temp file of that one; moved to its directory
 * when needed) if, then, nobody else has it open (a write lease is
 * granted) and no other name links it; else it is removed.  Readers see
 * the old or the new envelope, as with rename(2); a reader that opened
 * the old one reads it whole.  A writer whose file took the name between
 * check() and the exchange is seen after it: its file is exchanged back
 * and -ESTALE returned.  Only on local file systems (ext2/3/4, XFS,
 * Btrfs, tmpfs, F2FS), where a lease sees every reader; elsewhere, or
 * where RENAME_EXCHANGE or leases are refused, it is
 * ec_store_replace_with().  Why: on ext4 without a journal, allocating
 * an inode skips one by one every inode its group freed in the last
 * minutes, so many saves, each freeing the old envelope's inode and
 * allocating a temp file's, take quadratic time.
 */
int ec_store_replace_spare(const struct ec_store *s, const char *id,
			   unsigned flags, int (*fill)(void *ctx, int fd),
			   int (*check)(void *ctx, int fd,
					const struct stat *st),
			   void *ctx, struct ec_store_spare *sp)
	__attribute__((warn_unused_result));

/* ---- store_dir.c: all that a directory holds ---------------------------- */

enum ec_store_kind {
	EC_STORE_KIND_ENTRY,	/* a regular file with the suffix */
	EC_STORE_KIND_TEMP,	/* a temp file of ours (either form) */
	EC_STORE_KIND_DIR,	/* a directory */
	EC_STORE_KIND_OTHER,	/* anything else: a file without the suffix,
				   a symlink, a FIFO, a device... */
};

/* One name in a directory.  Borrowed: valid during the callback only. */
struct ec_store_name {
	const char *name;	/* the file name, as it is */
	const char *path;	/* below the cache dir: the id of an entry,
				   else the path of the name (for
				   ec_store_remove_temp()) */
	enum ec_store_kind kind;
	struct stat st;		/* its lstat */
};

/*
 * Call cb for every name directly in reldir ("" = the cache dir), in
 * readdir order, whatever it is (nothing skipped, nothing followed).  cb
 * returns 0 to go on, non-zero to stop (returned).  -errno when reldir
 * cannot be opened or read (-ENOTDIR, -ENOENT...), -ENAMETOOLONG.
 */
int ec_store_scan_dir(const struct ec_store *s, const char *reldir,
		      int (*cb)(void *ctx, const struct ec_store_name *it),
		      void *ctx) __attribute__((warn_unused_result));

#endif
