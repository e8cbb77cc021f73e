/*
 * archive: entries as plaintext records in a stream, for export and
 * import.  Two forms:
 *
 *   tar    POSIX pax: one regular file member per entry, named by its id,
 *          mode 0600, mtime = created_at, holding the data; the metadata
 *          in the member's pax extended header as the mount's extended
 *          attribute names, SCHILY.xattr.user.enccache.key, .created_at
 *          (the envelope's text), .comment and .validasof (absent ones
 *          left out), so `tar -tvf` lists it and `tar --xattrs` keeps it.
 *   jsonl  one JSON object per line: {"id", "key", "created_at",
 *          "comment", "validasof" (strings, or null when absent), "size"
 *          (the data's length), "data" (standard base64, padded)}.
 *
 * Writers append to a guarded buffer (the data is plaintext); the reader
 * takes a file descriptor.  No printing, no keys, no cache.  json-c holds
 * a jsonl line's base64 text in ordinary heap while one line is decoded.
 */
#ifndef EC_ARCHIVE_H
#define EC_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "secure.h"

/* One entry's plaintext and metadata.  Strings malloc'd, data
 * ec_secure_alloc'd (may be NULL when len is 0); ec_record_release(). */
struct ec_record {
	char *id;
	char *key;		/* NULL: absent (the importer chooses) */
	char *created_at;	/* as the envelope had it; NULL: absent */
	char *comment;
	char *validasof;
	uint8_t *data;
	size_t len;
};

void ec_record_release(struct ec_record *r);

enum ec_archive_format {
	EC_ARCHIVE_AUTO,	/* reading: tell by the first bytes */
	EC_ARCHIVE_TAR,
	EC_ARCHIVE_JSONL,
};

/* "tar", "jsonl" (and "auto" when allow_auto) -> *f; -EINVAL otherwise. */
int ec_archive_format_parse(const char *name, int allow_auto,
			    enum ec_archive_format *f)
	__attribute__((warn_unused_result));

/*
 * Append r as a tar member (pax header + ustar header + data, padded to
 * 512-byte blocks) to out.  mtime_us: the member's time (created_at;
 * EC_TIME_NONE gives 0).  -EINVAL for an id a tar member cannot be named
 * by (empty, or with a NUL: impossible for a cache id), -ENOMEM.
 */
int ec_archive_put_tar(struct ec_sbuf *out, const struct ec_record *r,
		       int64_t mtime_us) __attribute__((warn_unused_result));

/* Append the end-of-archive marker (two zero blocks). */
int ec_archive_put_tar_end(struct ec_sbuf *out)
	__attribute__((warn_unused_result));

/*
 * Append r as one JSON line ('\n'-terminated) to out.  -EC_EUTF8 when id,
 * key, comment, created_at or validasof is not UTF-8 (JSON cannot carry
 * it; tar can), -ENOMEM.
 */
int ec_archive_put_jsonl(struct ec_sbuf *out, const struct ec_record *r)
	__attribute__((warn_unused_result));

struct ec_archive_reader;

/* Read records from fd (borrowed, not closed) in format f (AUTO: a '{'
 * first, after white space, or empty input means jsonl; a ustar header or
 * a zero block means tar).  *out: ec_archive_reader_free(). */
int ec_archive_reader_new(int fd, enum ec_archive_format f,
			  struct ec_archive_reader **out)
	__attribute__((warn_unused_result));
void ec_archive_reader_free(struct ec_archive_reader *ar);

/*
 * The next record into *r (initialised here; release it after a return
 * of 1 or 2):
 *   1  an entry (tar: a regular file member; its name without a leading
 *      "./"; metadata as above, absent ones NULL)
 *   2  a tar member that is not an entry (symlink, device, hard link...):
 *      only r->id is set; directories and "." are skipped silently
 *   0  the end (tar: the end-of-archive marker; jsonl: end of input)
 *  <0  -EC_EARCHIVE for malformed input (ec_archive_error() says what),
 *      -EC_ETOOBIG, -ENOMEM, -errno from read(2).  Records before it were
 *      complete; nothing after it is read.
 * A record's data is always complete: a stream cut short is an error,
 * never a shorter entry.
 */
int ec_archive_next(struct ec_archive_reader *ar, struct ec_record *r)
	__attribute__((warn_unused_result));

/* The format being read (after the first ec_archive_next(), never AUTO
 * then). */
enum ec_archive_format ec_archive_reader_format(
	const struct ec_archive_reader *ar);

/* What was wrong after -EC_EARCHIVE ("" otherwise), and where: the
 * 1-based line (jsonl) or member (tar) number of the last record read or
 * being read.  Borrowed, valid until the next call. */
const char *ec_archive_error(const struct ec_archive_reader *ar);
size_t ec_archive_position(const struct ec_archive_reader *ar);

#endif
