/*
 * main: enccache's entry point.  Parses the options (options.c), picks
 * the command from commands[], checks its arguments and runs it.
 */
#include "config.h"

#include <signal.h>
#include <string.h>

#include "cli.h"
#include "secure.h"

#define ANY (-1)

static const struct ec_command commands[] = {
	{ "put", 1, 1, "an ID", true, CO_KEY | CO_COMMENT | CO_VALIDASOF |
	  CO_VIEW | CO_CREATED | CO_FROM_DIR | CO_JSON, ec_cmd_put },
	{ "get", 1, ANY, "an ID", true, CO_STALE_OK | CO_VIEW | CO_STDIN |
	  CO_NULL | CO_OUTPUT_DIR | CO_JSON, ec_cmd_get },
	{ "exists", 1, ANY, "an ID", true, CO_STALE_OK | CO_STDIN | CO_NULL |
	  CO_JSON, ec_cmd_exists },
	{ "ls", 0, 0, NULL, false, CO_ALL | CO_JSON, ec_cmd_ls },
	{ "rm", 1, ANY, "an ID", true, CO_STDIN | CO_NULL | CO_JSON,
	  ec_cmd_rm },
	{ "hash", 1, 1, "a TEXT", false, CO_LENGTH | CO_PREFIX | CO_JSON,
	  ec_cmd_hash },
	{ "inspect", 1, 1, "a FILE", false, CO_JSON, ec_cmd_inspect },
	{ "prune", 0, 0, NULL, false, CO_DRY_RUN | CO_UNOPENABLE |
	  CO_MAX_SIZE | CO_JSON, ec_cmd_prune },
	{ "fsck", 0, 0, NULL, false, CO_JSON, ec_cmd_fsck },
	{ "stats", 0, 0, NULL, false, CO_MOUNT | CO_PROMETHEUS | CO_JSON,
	  ec_cmd_stats },
	{ "export", 0, ANY, NULL, true, CO_FORMAT | CO_STALE_OK | CO_STDIN |
	  CO_NULL | CO_JSON, ec_cmd_export },
	{ "import", 0, 1, NULL, false, CO_FORMAT | CO_KEY | CO_JSON,
	  ec_cmd_import },
	{ "forget", 0, 0, NULL, false, CO_ALL | CO_JSON, ec_cmd_forget },
	{ "rekey", 0, 0, NULL, false, CO_NEW_SALT | CO_NEW_SALT_FILE |
	  CO_NEW_SECRETS | CO_MAP | CO_DRY_RUN | CO_JSON, ec_cmd_rekey },
};

static const struct ec_command *find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(name, commands[i].name) == 0)
			return &commands[i];
	return NULL;
}

/* The number of arguments; 0 or EXIT_USAGE (reported). */
static int check_nargs(const struct ec_opts *o, const struct ec_command *cmd,
		       int nargs, char **args)
{
	int min = cmd->min_args;

	/* ids from stdin, or files from a directory, need no argument */
	if (o->used & (CO_STDIN | CO_FROM_DIR))
		min = 0;
	if (nargs < min) {
		ec_complain("'%s' needs %s (see 'enccache --help')", cmd->name,
			    cmd->arg_word);
		return EXIT_USAGE;
	}
	if (cmd->max_args != ANY && nargs > cmd->max_args) {
		ec_complain("too many arguments for '%s': '%s'", cmd->name,
			    args[cmd->max_args]);
		return EXIT_USAGE;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const struct ec_command *cmd;
	struct ec_opts o;
	int rc, ci = 0, nargs;

	/* A closed pipe is a write error (exit 4), not a silent death. */
	signal(SIGPIPE, SIG_IGN);
	memset(&o, 0, sizeof(o));
	rc = ec_options_parse(argc, argv, &o, &ci);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (ci >= argc) {
		ec_complain("no command given (see 'enccache --help')");
		return EXIT_USAGE;
	}
	cmd = find(argv[ci]);
	if (!cmd) {
		ec_complain("unknown command '%s' (see 'enccache --help')",
			    argv[ci]);
		return EXIT_USAGE;
	}
	o.cmd_name = cmd->name;
	nargs = argc - ci - 1;
	rc = check_nargs(&o, cmd, nargs, argv + ci + 1);
	if (!rc)
		rc = ec_options_check(&o, cmd, nargs, argv + ci + 1);
	if (rc)
		return rc;
	if (ec_secure_init() < 0) {
		ec_complain("cannot initialise libsodium");
		return EXIT_IO;
	}
	return cmd->run(&o, nargs, argv + ci + 1);
}
