/*
 * ops: the FUSE low-level handlers, gathered into one struct
 * fuse_lowlevel_ops in main.c.  ops_read.c holds the read side,
 * ops_dir.c the directory listings, ops_write.c the write side, xattr.c
 * the extended attributes.
 */
#ifndef EC_FS_OPS_H
#define EC_FS_OPS_H

#include "fs.h"

void ecfs_init(void *userdata, struct fuse_conn_info *conn);
void ecfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void ecfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void ecfs_forget_multi(fuse_req_t req, size_t count,
		       struct fuse_forget_data *forgets);
void ecfs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void ecfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void ecfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	       struct fuse_file_info *fi);
void ecfs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
/* Whether ino is a node: 0 and *is_dir, or -ENOENT (takes fs->lock). */
int ecfs_node_kind(struct ecfs *fs, fuse_ino_t ino, bool *is_dir);
void ecfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		  struct fuse_file_info *fi);
void ecfs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		      struct fuse_file_info *fi);
void ecfs_releasedir(fuse_req_t req, fuse_ino_t ino,
		     struct fuse_file_info *fi);
void ecfs_statfs(fuse_req_t req, fuse_ino_t ino);
void ecfs_access(fuse_req_t req, fuse_ino_t ino, int mask);

void ecfs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		off_t off, struct fuse_file_info *fi);
void ecfs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void ecfs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void ecfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		struct fuse_file_info *fi);
void ecfs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
		   struct fuse_file_info *fi);
void ecfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		  int to_set, struct fuse_file_info *fi);
void ecfs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		 mode_t mode, struct fuse_file_info *fi);
void ecfs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		mode_t mode, dev_t rdev);
void ecfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		mode_t mode);
void ecfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void ecfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void ecfs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		  const char *name);
void ecfs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		 fuse_ino_t newparent, const char *newname,
		 unsigned int flags);
void ecfs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
	       const char *newname);
void ecfs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset,
		    off_t length, struct fuse_file_info *fi);

void ecfs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		   size_t size);
void ecfs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void ecfs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		   const char *value, size_t size, int flags);
void ecfs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

/* The id of name under directory parent into id[PATH_MAX] (fs->lock is
 * taken and released): -ENOENT, -ENOTDIR, -ENAMETOOLONG. */
int ec_ops_child_id(struct ecfs *fs, fuse_ino_t parent, const char *name,
		    char *id) __attribute__((warn_unused_result));
/* With -o sync, make a change of names in id's directory durable. */
int ec_ops_sync_parent(struct ecfs *fs, const char *id)
	__attribute__((warn_unused_result));

/* Stop the listings' helper threads and wait for them, and free the
 * directory streams never released (a RELEASEDIR still queued at the
 * unmount never comes): after the loop, before the state they use
 * goes. */
void ecfs_readdir_quiesce(void);
/* Release the files never released (see ec_handle_track), as a release
 * would, saving what they hold unsaved: after the loop, before the state
 * they use goes. */
void ecfs_release_unreleased(struct ecfs *fs);

/* Reply with n's entry, which counted one more kernel lookup; undone if
 * the reply failed (interrupted request). */
void ecfs_reply_entry_node(fuse_req_t req, struct ecfs *fs, struct node *n,
			   const struct fuse_entry_param *e);
/* Reply with the entry of directory id, name under parent, whose stat
 * is st, as of now; its timeouts only if nothing changed outside since
 * gen (fs->gen before st was taken).  0, or -ENOMEM (not replied). */
int ec_ops_reply_dir(fuse_req_t req, struct ecfs *fs, fuse_ino_t parent,
		     const char *name, const char *id, const struct stat *st,
		     int64_t now, uint64_t gen)
	__attribute__((warn_unused_result));

/*
 * created_at := t for n (utimens, setxattr user.enccache.created_at): the
 * envelope's cleartext is rewritten now, or, while n is being written
 * (pending, or unsaved changes), t is kept for the next save, which
 * would overwrite it (`cp -p`, `touch` of a new file).
 */
int ec_meta_set_created(struct ecfs *fs, struct node *n, int64_t t)
	__attribute__((warn_unused_result));
/* t for ec_meta_set_created: nothing changes, but a file being created
 * is saved at its next close (its created_at: then). */
#define EC_TIME_NOW_IF_PENDING (INT64_MIN + 1)

#endif
