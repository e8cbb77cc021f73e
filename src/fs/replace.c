/*
 * replace: rename(2) over an entry as an overwrite of it (replace.h).
 * The renamed envelope is rewritten under its own name first, then the
 * rename is the one atomic step that replaces the entry: a reader (the
 * Python module) sees the old entry or the new one, never a mix.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "replace.h"
#include "secure.h"
#include "ttl.h"

/* Same text, NULL being its own value. */
static bool same_text(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/*
 * The data that an overwrite of an entry whose data is (is_bplist) or is
 * not a binary plist would store for content shown (rendered) as text:
 * the view's rule for writes over an existing entry, as
 * ec_handle_set_view() applies it.  *out ec_secure_alloc'd.
 */
static int store_as(const struct ecfs *fs, bool is_bplist, const uint8_t *text,
		    size_t len, uint8_t **out, size_t *outlen)
{
	enum ec_view v = fs->view;

	if (v == EC_VIEW_AUTO && !is_bplist)
		v = EC_VIEW_RAW;
	return ec_view_parse_content(v, is_bplist, text, len, out, outlen);
}

int ec_replace_prepare(struct ecfs *fs, const char *from, const char *to,
		       bool *rewritten)
{
	struct ec_save_options o = { .created_us = EC_TIME_NONE };
	struct ec_entry src, dst;
	uint8_t *shown = NULL, *data = NULL;
	size_t shownlen = 0, dlen = 0;
	int64_t now = ec_clock_now_us();
	bool have_src = false, have_dst = false, bp;
	int err;

	*rewritten = false;
	err = ec_cache_load(fs->cache, to, EC_LOAD_DATA, now, &dst);
	if (err)
		return 0;	/* gone meanwhile: a plain rename */
	have_dst = true;
	err = ec_cache_load(fs->cache, from, EC_LOAD_DATA, now, &src);
	if (err) {
		err = 0;
		goto out;
	}
	have_src = true;
	if (ec_entry_verdict(fs->cache, &dst, now, NULL) != EC_STATE_VALID ||
	    ec_entry_verdict(fs->cache, &src, now, NULL) != EC_STATE_VALID)
		goto out;	/* a hidden target counts as absent */
	/* What the mount shows of from, stored as into to. */
	err = ec_view_render(fs->view, src.data, src.len, &shown, &shownlen,
			     NULL);
	if (err)
		goto out;
	bp = dst.len >= 8 && ec_view_is_bplist(dst.data, dst.len);
	err = store_as(fs, bp, shown, shownlen, &data, &dlen);
	if (err)
		goto out;
	if (dlen == src.len && (dlen == 0 ||
				memcmp(data, src.data, dlen) == 0) &&
	    same_text(src.env.key, dst.env.key) &&
	    same_text(src.env.comment, dst.env.comment))
		goto out;	/* nothing to change: the rename does it */
	o.key = dst.env.key;
	o.comment = dst.env.comment;
	o.validasof = src.validasof;
	o.created_us = src.created_us;
	o.durable = fs->sync;
	err = ec_cache_save(fs->cache, from, data, dlen, &o);
	*rewritten = err == 0;
out:
	ec_secure_free(data);
	ec_secure_free(shown);
	if (have_src)
		ec_entry_release(&src);
	if (have_dst)
		ec_entry_release(&dst);
	return err;
}
