/* fsstats: the mount's counters <-> their JSON text, with json-c. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "fsstats.h"

static const struct {
	const char *group;
	const char *name;
} fields[EC_FSSTAT_N] = {
	[EC_FSSTAT_LOOKUPS] = { NULL, "lookups" },
	[EC_FSSTAT_HITS] = { NULL, "hits" },
	[EC_FSSTAT_MISSES] = { NULL, "misses" },
	[EC_FSSTAT_HIDDEN_STALE] = { "hidden", "stale" },
	[EC_FSSTAT_HIDDEN_SALT_MISMATCH] = { "hidden", "salt-mismatch" },
	[EC_FSSTAT_HIDDEN_UNKNOWN_KEY] = { "hidden", "unknown-key" },
	[EC_FSSTAT_HIDDEN_CORRUPT] = { "hidden", "corrupt" },
	[EC_FSSTAT_HIDDEN_TAMPERED] = { "hidden", "tampered" },
	[EC_FSSTAT_DECRYPTIONS] = { NULL, "decryptions" },
	[EC_FSSTAT_SAVES] = { NULL, "saves" },
	[EC_FSSTAT_FAILED_SAVES] = { NULL, "failed_saves" },
	[EC_FSSTAT_BYTES_READ] = { NULL, "bytes_read" },
	[EC_FSSTAT_BYTES_WRITTEN] = { NULL, "bytes_written" },
	[EC_FSSTAT_ENVELOPE_READS] = { NULL, "envelope_reads" },
	[EC_FSSTAT_PREFILLED] = { NULL, "prefilled" },
	[EC_FSSTAT_LISTINGS_KEPT] = { NULL, "listings_kept" },
};

const char *ec_fsstats_name(enum ec_fsstat i)
{
	return fields[i].name;
}

const char *ec_fsstats_group(enum ec_fsstat i)
{
	return fields[i].group;
}

void ec_fsstats_release(struct ec_fsstats *s)
{
	free(s->json);
	memset(s, 0, sizeof(*s));
}

/* Counter i from its object o (the top level or a group). */
static int get_one(struct json_object *o, enum ec_fsstat i,
		   struct ec_fsstats *s)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, fields[i].name, &v))
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return -EC_EFIELD;
	/* json-c keeps integers above INT64_MAX as unsigned */
	if (json_object_get_int64(v) < 0)
		return -EC_EFIELD;
	s->v[i] = json_object_get_uint64(v);
	s->has[i] = true;
	return 0;
}

int ec_fsstats_parse(const char *text, size_t len, struct ec_fsstats *s)
{
	struct json_tokener *tok;
	struct json_object *root = NULL, *group;
	size_t end, start;
	int i, err = -EC_EJSON;

	memset(s, 0, sizeof(*s));
	tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
			       JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, text, (int)len);
	end = root ? json_tokener_get_parse_end(tok) : 0;
	while (root && end < len && strchr(" \t\r\n", text[end]))
		end++;
	if (!root || json_tokener_get_error(tok) != json_tokener_success ||
	    end != len || !json_object_is_type(root, json_type_object))
		goto out;
	err = 0;
	for (i = 0; i < EC_FSSTAT_N && !err; i++) {
		group = root;
		if (fields[i].group &&
		    !json_object_object_get_ex(root, fields[i].group, &group))
			continue;
		if (!json_object_is_type(group, json_type_object))
			err = -EC_EFIELD;
		else
			err = get_one(group, (enum ec_fsstat)i, s);
	}
	if (err)
		goto out;
	/* the text as the daemon wrote it, without surrounding space */
	while (len > 0 && strchr(" \t\r\n", text[len - 1]))
		len--;
	start = 0;
	while (start < len && strchr(" \t\r\n", text[start]))
		start++;
	s->json = strndup(text + start, len - start);
	if (!s->json)
		err = -ENOMEM;
out:
	if (err)
		ec_fsstats_release(s);
	json_object_put(root);
	json_tokener_free(tok);
	return err;
}

int ec_fsstats_format(const struct ec_fsstats *s, char **out, size_t *len)
{
	char *p = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&p, &n);
	const char *open_group = NULL;
	int i;

	*out = NULL;
	*len = 0;
	if (!f)
		return -ENOMEM;
	fputc('{', f);
	for (i = 0; i < EC_FSSTAT_N; i++) {
		const char *g = fields[i].group;

		if (open_group && (!g || strcmp(g, open_group) != 0)) {
			fputc('}', f);
			open_group = NULL;
		}
		if (i > 0)
			fputs(", ", f);
		if (g && !open_group) {
			fprintf(f, "\"%s\": {", g);
			open_group = g;
		}
		fprintf(f, "\"%s\": %" PRIu64, fields[i].name, s->v[i]);
	}
	if (open_group)
		fputc('}', f);
	fputc('}', f);
	if (fclose(f) != 0) {
		free(p);
		return -ENOMEM;
	}
	*out = p;
	*len = n;
	return 0;
}
