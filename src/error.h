/*
 * error: the project's error codes.
 *
 * Every function in libcore returns 0 or a negative code.  Most codes are
 * negative errno values (-ENOENT, -ENOMEM, -EINVAL, -EIO, ...).  Where errno
 * has no word for a distinction the format needs (five ways a Fernet token
 * can be malformed, salt mismatch vs unknown key), we use the EC_E* codes
 * below, which start above any errno value.  ec_strerror() names both kinds;
 * ec_errno() maps ours back to the nearest errno for FUSE and exit paths.
 */
#ifndef EC_ERROR_H
#define EC_ERROR_H

enum {
	EC_ERR_BASE = 4096,
	EC_EBASE64 = EC_ERR_BASE, /* token is not url-safe base64 with padding */
	EC_EVERSION,	/* token version byte is not 0x80 */
	EC_ELENGTH,	/* token too short, or ciphertext not whole blocks */
	EC_EHMAC,	/* HMAC mismatch: tampered, or the wrong key */
	EC_EPADDING,	/* PKCS#7 padding invalid (after a good HMAC) */
	EC_EJSON,	/* envelope is not a JSON object */
	EC_EFIELD,	/* envelope lacks a required field, or has a wrong type */
	EC_EPLIST,	/* payload is not a binary plist dict with `data` */
	EC_ESALT,	/* envelope's salt fingerprint is not ours */
	EC_EKEY,	/* envelope's key name is not among our secrets */
	EC_ETOOBIG,	/* input over a size limit */
	EC_ETIME,	/* text is not an ISO-8601 date-time */
	EC_ETTL,	/* text is not a TTL */
	EC_ELOOSE,	/* secrets file is accessible by group or others */
	EC_ESECRETS,	/* secrets file is not a JSON object of strings */
	EC_EID,		/* cache id is empty, absolute, or has `..` */
	EC_EUTF8,	/* text is not valid UTF-8 */
	EC_EARCHIVE,	/* not a tar archive or JSON lines of entries */
	EC_ERR_END
};

/* Message for a code (sign ignored).  Static storage; never NULL. */
const char *ec_strerror(int err);

/* Nearest errno for a code (sign kept: -EC_EHMAC -> -EBADMSG). */
int ec_errno(int err);

#endif
