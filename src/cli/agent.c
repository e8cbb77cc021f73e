/*
 * agent: the key agent as enccache uses it (agent.h): its options, the
 * key source handed to the cache, -v's lines about keys, and `forget`.
 * The agent never fails a command: when the kernel keyring cannot be
 * used, keys are derived as without it (one -v line says why).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "cli.h"
#include "error.h"
#include "startup.h"

void ec_verbose(const struct ec_opts *o, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;

	if (!o->verbose)
		return;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		ec_oom();
	va_end(ap);
	ec_complain("%s", msg);
	free(msg);
}

/* ENCCACHE_NO_AGENT set to anything but "" or "0". */
static bool no_agent_env(void)
{
	const char *e = getenv("ENCCACHE_NO_AGENT");

	return e && *e && strcmp(e, "0") != 0;
}

int ec_cli_agent_check(struct ec_opts *o)
{
	const char *text = ec_env_or(o->agent_timeout_text,
				     "ENCCACHE_AGENT_TIMEOUT");
	const char *what = o->agent_timeout_text ? "--agent-timeout" :
		"ENCCACHE_AGENT_TIMEOUT";
	struct ec_ttl t;
	int64_t s;

	o->agent_timeout_s = EC_AGENT_TIMEOUT_DEFAULT;
	if (text) {
		if (ec_ttl_parse(text, &t) < 0 || t.kind != EC_TTL_DURATION ||
		    t.us <= 0 || t.us / 1000000 >= (int64_t)UINT32_MAX) {
			ec_complain("invalid %s '%s': must be a duration such "
				    "as 90s, 15m or 2h (--no-agent turns the "
				    "agent off)", what, text);
			return EXIT_USAGE;
		}
		s = (t.us + 999999) / 1000000;	/* whole seconds, rounded up */
		o->agent_timeout_s = (unsigned)s;
	}
	if (o->no_agent || no_agent_env())
		o->agent_timeout_s = 0;
	return 0;
}

/* The source handed to the cache: the agent's lookups and stores, with
 * -v's line for every key.  One per process (enccache opens one cache). */
static struct cli_source {
	const struct ec_opts *o;
	struct ec_agent agent;
	int agent_err;		/* 0: the agent is open */
	struct ec_key_source source;
} cs;

static int src_lookup(void *ctx, const struct ec_key_input *in,
		      uint8_t key[EC_KEYBYTES])
{
	struct cli_source *s = ctx;
	int rc;

	if (s->agent_err)
		return s->agent_err;
	rc = ec_agent_lookup(&s->agent, in, key);
	if (rc == 0)
		ec_verbose(s->o, "key '%s': from the key agent", in->name);
	return rc;
}

static void src_store(void *ctx, const struct ec_key_input *in,
		      const uint8_t key[EC_KEYBYTES])
{
	struct cli_source *s = ctx;
	char why[EC_STARTUP_ERRTEXT_MAX];
	int rc;

	if (!s->o->agent_timeout_s) {
		ec_verbose(s->o, "key '%s': derived (PBKDF2), not kept "
			   "(--no-agent)", in->name);
		return;
	}
	if (s->agent_err) {
		ec_verbose(s->o, "key '%s': derived (PBKDF2), not kept "
			   "(no key agent)", in->name);
		return;
	}
	rc = ec_agent_store(&s->agent, in, key);
	if (rc < 0)
		ec_verbose(s->o, "key '%s': derived (PBKDF2), not kept: "
			   "cannot store it in the key agent: %s", in->name,
			   ec_startup_errtext(rc, why, sizeof(why)));
	else
		ec_verbose(s->o, "key '%s': derived (PBKDF2), kept in the "
			   "key agent for %u s", in->name,
			   s->o->agent_timeout_s);
}

static void close_agent(void)
{
	if (!cs.agent_err)
		ec_agent_close(&cs.agent);	/* wipes the secret's copy */
	cs.agent_err = -ENOSYS;
}

const struct ec_key_source *ec_cli_key_source(const struct ec_opts *o)
{
	if (cs.o)
		return &cs.source;
	cs.o = o;
	cs.source.lookup = src_lookup;
	cs.source.store = src_store;
	cs.source.ctx = &cs;
	if (!o->agent_timeout_s) {
		cs.agent_err = -ENOSYS;
		ec_verbose(o, "key agent not used (--no-agent or "
			   "ENCCACHE_NO_AGENT)");
		return &cs.source;
	}
	cs.agent_err = ec_agent_open(&cs.agent, o->agent_timeout_s);
	if (cs.agent_err)
		ec_verbose(o, "key agent unavailable: %s (keys are derived "
			   "every time)", ec_errtext(cs.agent_err));
	else
		atexit(close_agent);
	return &cs.source;
}

/* ---- forget ------------------------------------------------------------ */

/* The fingerprint of the salt the options name, into fp; 0 or
 * EXIT_CONFIG (reported). */
static int salt_fingerprint(const struct ec_opts *o,
			    char fp[EC_FINGERPRINT_LEN + 1])
{
	struct ec_startup st;
	char msg[EC_STARTUP_ERRTEXT_MAX + 512];
	int rc = 0;

	ec_startup_init(&st);
	st.salt_text = o->salt;
	st.salt_file = o->salt ? NULL : ec_env_or(o->salt_file,
						  "ENCCACHE_SALT_FILE");
	if (!st.salt_text && !st.salt_file) {
		ec_complain("no salt: use --salt, --salt-file or set "
			    "ENCCACHE_SALT_FILE (or forget --all)");
		return EXIT_CONFIG;
	}
	if (ec_startup_read_salt(&st) == -ENOMEM)
		ec_oom();
	if (st.failed) {
		ec_startup_message(&st, msg, sizeof(msg));
		ec_complain("%s", msg);
		rc = EXIT_CONFIG;
	} else {
		ec_kdf_fingerprint(st.salt, st.salt_len, fp);
	}
	ec_startup_release(&st);
	return rc;
}

int ec_cmd_forget(struct ec_opts *o, int argc, char **args)
{
	char fp[EC_FINGERPRINT_LEN + 1];
	struct ec_buf out = { 0 };
	struct ec_jw w;
	size_t dropped = 0;
	int rc;

	(void)argc, (void)args;
	if (!o->all) {
		rc = salt_fingerprint(o, fp);
		if (rc)
			return rc;
	}
	rc = ec_agent_forget(o->all ? NULL : fp, &dropped);
	if (rc < 0)
		ec_verbose(o, "key agent unavailable: %s (nothing to forget)",
			   ec_errtext(rc));
	if (o->json) {
		ec_jw_init(&w, &out);
		ec_jw_open(&w, '{');
		ec_jw_key(&w, "dropped");
		ec_jw_uint(&w, dropped);
		ec_jw_key(&w, "agent");
		ec_jw_bool(&w, rc == 0);
		ec_jw_close(&w);
		ec_buf_addc(&out, '\n');
		rc = ec_flush_stdout(out.p, out.len);
		ec_buf_release(&out);
		return rc;
	}
	ec_summary(o, "forget: dropped %zu key%s%s", dropped,
		   dropped == 1 ? "" : "s",
		   o->all ? " (every cache's)" : "");
	return 0;
}
