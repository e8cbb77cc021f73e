/*
 * envelope: the JSON envelope file and the inner binary-plist payload.
 * No files, no FUSE.  Parsing uses json-c and libplist; writing produces
 * exactly the bytes of Python's json.dump (ensure_ascii, ", " and ": ").
 */
#ifndef EC_ENVELOPE_H
#define EC_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#define EC_ENVELOPE_MAX (512u << 20)	/* larger files are refused */

struct ec_envelope {
	char *key;		/* required */
	char *salt_sha256;	/* NULL when absent (or JSON null) */
	char *created_at;	/* NULL when absent or JSON null; as stored */
	char *encrypted;	/* required: the Fernet token */
	size_t encrypted_len;
	char *comment;		/* NULL when absent (or JSON null) */
};
/* All strings are malloc'd and owned by the envelope. */

/*
 * Parse len bytes (need not be NUL-terminated).  Any key order; unknown
 * fields ignored; JSON white space around the object is fine; of duplicate
 * keys the last wins (json-c's rule, and Python's).  -EC_ETOOBIG over
 * EC_ENVELOPE_MAX, -EC_EJSON when not one complete JSON object in UTF-8
 * (a half-written file is this; so is trailing garbage, and nesting deeper
 * than json-c's default limit of 32 levels), -EC_EFIELD when key/encrypted
 * are missing or null, or a field is not a string or holds a NUL.
 * env need not be initialised; on error it is left empty.
 */
int ec_envelope_parse(const char *buf, size_t len, struct ec_envelope *env)
	__attribute__((warn_unused_result));

/*
 * Serialise as Python's json.dump(obj, f) does, in the key order key,
 * salt_sha256, created_at, encrypted, comment (absent fields skipped).
 * The strings are read up to their NUL (encrypted_len is not consulted).
 * *out is malloc'd (free()), not NUL-terminated counted by *outlen (a NUL
 * follows for convenience).  -EC_EUTF8 when a string is not UTF-8,
 * -EINVAL when key or encrypted is NULL.
 */
int ec_envelope_serialize(const struct ec_envelope *env, char **out,
			  size_t *outlen) __attribute__((warn_unused_result));

void ec_envelope_release(struct ec_envelope *env);

/*
 * Inner payload: bplist dict {data: <bytes>, validasof_datetime?: <str>}.
 * pack: *out is ec_secure_alloc'd.  validasof may be NULL, data too when
 * len is 0 (-EINVAL otherwise).  -EC_EUTF8 when validasof is not UTF-8,
 * -EC_ETOOBIG when len is over EC_ENVELOPE_MAX.
 */
int ec_payload_pack(const uint8_t *data, size_t len, const char *validasof,
		    uint8_t **out, size_t *outlen)
	__attribute__((warn_unused_result));

/*
 * unpack: *data is ec_secure_alloc'd (ec_secure_free), *validasof malloc'd
 * or NULL (a plist date is converted to ISO text).  -EC_EPLIST when pt is
 * not a binary plist dict holding a data node `data`, or validasof_datetime
 * is neither a UTF-8 string nor a date libplist 2.2 can give (1933..2069).
 * -EC_ETOOBIG over EC_ENVELOPE_MAX.  libplist copies the plaintext into its
 * own heap nodes; the `data` node is wiped before being freed.
 */
int ec_payload_unpack(const uint8_t *pt, size_t ptlen, uint8_t **data,
		      size_t *len, char **validasof)
	__attribute__((warn_unused_result));

/*
 * The payload of a big entry without copying its data.  frame: the
 * bytes that go before and after len bytes of data to make the payload
 * of ec_payload_pack() (a valid bplist00 dict, keys sorted), into
 * pre[EC_PAYLOAD_FRAME_MAX] and post[EC_PAYLOAD_FRAME_MAX]; -EC_EUTF8 /
 * -EAGAIN when validasof is not plain ASCII (use ec_payload_pack then).
 * locate: where the data of payload pt lies in it (*off, *len) and its
 * validasof (malloc'd or NULL), for a payload of that simple shape;
 * -EAGAIN for any other shape (ec_payload_unpack() then decides),
 * -EC_EPLIST when it is not a bplist at all.  No I/O, no copies of data.
 */
#define EC_PAYLOAD_FRAME_MAX 160

/*
 * The payload pt (ec_secure_alloc'd, ptlen bytes) taken over and turned
 * into the entry's data: in place when ec_payload_locate() knows its
 * shape (the frame dropped with ec_secure_drop_front() and the rest
 * wiped; no second copy), *data then standing for the block,
 * else through ec_payload_unpack() (pt freed).  Codes as unpack.
 */
int ec_payload_take(uint8_t *pt, size_t ptlen, uint8_t **data, size_t *len,
		    char **validasof) __attribute__((warn_unused_result));

/*
 * A 64-bit tag of one version of an envelope: BLAKE2b of its bytes, or,
 * for a big one read in a stream, of its JSON without the token plus the
 * token's last EC_TAG_TAIL characters (they encode its MAC).  Two
 * versions that differ get different tags.  No I/O.
 */
#define EC_TAG_TAIL 64
uint64_t ec_envelope_tag(const void *buf, size_t len);
int ec_payload_frame(size_t len, const char *validasof, uint8_t *pre,
		     size_t *prelen, uint8_t *post, size_t *postlen)
	__attribute__((warn_unused_result));
int ec_payload_locate(const uint8_t *pt, size_t ptlen, size_t *off,
		      size_t *len, char **validasof)
	__attribute__((warn_unused_result));

/*
 * The envelope's JSON around its token, for writing a big one in a
 * stream: *head is everything before the token's first character and
 * *tail everything after its last (both malloc'd; free()), exactly as
 * ec_envelope_serialize() would write them.  env->encrypted is ignored.
 */
int ec_envelope_serialize_split(const struct ec_envelope *env, char **head,
				size_t *headlen, char **tail,
				size_t *taillen)
	__attribute__((warn_unused_result));

#endif
