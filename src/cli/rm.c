/* rm: remove entries, each failure on its own line. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "cli.h"
#include "error.h"

/* Remove one entry; 0 or an exit code, with *why the error (or NULL). */
static int rm_one(const struct ec_cache *c, const char *id, const char **why)
{
	int rc = ec_cache_remove(c, id);

	*why = NULL;
	if (rc == -ENOENT) {
		ec_complain("cannot remove '%s': no such entry", id);
		*why = "no such entry";
		return EXIT_INVALID;
	}
	if (rc < 0) {
		*why = ec_errtext(rc);
		ec_complain("cannot remove '%s': %s", id, *why);
		if (rc == -EC_EID)
			return EXIT_USAGE;
		if (rc == -ENOTDIR || rc == -ELOOP || rc == -EISDIR)
			return EXIT_INVALID;	/* no entry there */
		return EXIT_IO;
	}
	return 0;
}

int ec_cmd_rm(struct ec_opts *o, int argc, char **args)
{
	struct ec_cli_batch b;
	size_t i;
	int ret;

	ret = ec_cli_batch_begin(o, argc, args, &b);
	if (ret)
		return ret;
	for (i = 0; i < b.ids.n; i++) {
		const char *why;
		int rc = rm_one(b.c, b.ids.ids[i], &why);

		ret = ec_worse(ret, rc);
		ec_jw_open(&b.w, '{');
		ec_jw_key(&b.w, "id");
		ec_jw_str(&b.w, b.ids.ids[i]);
		ec_jw_key(&b.w, "removed");
		ec_jw_bool(&b.w, rc == 0);
		ec_jw_key(&b.w, "error");
		ec_jw_str(&b.w, why);
		ec_jw_close(&b.w);
	}
	return ec_worse(ret, ec_cli_batch_end(o, &b));
}
