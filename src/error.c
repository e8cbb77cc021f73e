/* error: messages and errno mapping for the project's codes.  No I/O. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "error.h"

static const char *const messages[EC_ERR_END - EC_ERR_BASE] = {
	[EC_EBASE64 - EC_ERR_BASE] = "token is not valid base64",
	[EC_EVERSION - EC_ERR_BASE] = "token has an unknown version",
	[EC_ELENGTH - EC_ERR_BASE] = "token has an invalid length",
	[EC_EHMAC - EC_ERR_BASE] =
		"token failed authentication (tampered, or the wrong password)",
	[EC_EPADDING - EC_ERR_BASE] = "token has invalid padding",
	[EC_EJSON - EC_ERR_BASE] = "not a JSON envelope (corrupt or half-written)",
	[EC_EFIELD - EC_ERR_BASE] = "envelope lacks a field or has a wrong type",
	[EC_EPLIST - EC_ERR_BASE] = "payload is not a binary plist with data",
	[EC_ESALT - EC_ERR_BASE] = "salt mismatch",
	[EC_EKEY - EC_ERR_BASE] = "unknown key name",
	[EC_ETOOBIG - EC_ERR_BASE] = "too large",
	[EC_ETIME - EC_ERR_BASE] = "not an ISO-8601 date-time",
	[EC_ETTL - EC_ERR_BASE] = "not a TTL (e.g. '5 days', 'inf', '0', or an ISO-8601 time)",
	[EC_ELOOSE - EC_ERR_BASE] =
		"permissions too open (group or others have access, or not our file)",
	[EC_ESECRETS - EC_ERR_BASE] =
		"not a JSON object of key names to password strings",
	[EC_EID - EC_ERR_BASE] =
		"invalid cache id (empty, absolute, or with an empty, '.' or '..' part)",
	[EC_EUTF8 - EC_ERR_BASE] = "not valid UTF-8",
	[EC_EARCHIVE - EC_ERR_BASE] =
		"not a tar archive or JSON lines of entries",
};

const char *ec_strerror(int err)
{
	if (err < 0)
		err = -err;
	if (err >= EC_ERR_BASE && err < EC_ERR_END)
		return messages[err - EC_ERR_BASE];
	if (err == 0)
		return "success";
	return strerror(err);
}

static int errno_of(int err)
{
	switch (err) {
	case EC_EBASE64:
	case EC_EVERSION:
	case EC_ELENGTH:
	case EC_EHMAC:
	case EC_EPADDING:
	case EC_EJSON:
	case EC_EFIELD:
	case EC_EPLIST:
	case EC_EARCHIVE:
		return EBADMSG;
	case EC_ESALT:
	case EC_EKEY:
		return ENOKEY;
	case EC_ETOOBIG:
		return EFBIG;
	case EC_ELOOSE:
		return EPERM;
	case EC_EID:
	case EC_ETIME:
	case EC_ETTL:
	case EC_ESECRETS:
	case EC_EUTF8:
		return EINVAL;
	default:
		return err;
	}
}

int ec_errno(int err)
{
	return err < 0 ? -errno_of(-err) : errno_of(err);
}
