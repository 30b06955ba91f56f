/*
 * signetctl config check [FILE] — load and validate a configuration as
 * signetd would (config_load), print "FILE: ok" or every error as
 * FILE:LINE:COL: message.  FILE defaults to -c (or the standard path).
 */
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "tools/ctl.h"

static int
run(struct ctl *ctl, int argc, char **argv)
{
	const char	*path;

	if (argc < 2 || strcmp(argv[1], "check") != 0 || argc > 3) {
		ctl_err("usage: signetctl config check [FILE]");
		return CTL_USAGE;
	}
	path = argc == 3 ? argv[2] : ctl->config_path;
	return config_check(path, stdout, stderr) == 0 ? CTL_OK : CTL_FAIL;
}

const struct ctl_cmd ctl_cmd_config = {
	"config",
	"config check [FILE]",
	run,
};
