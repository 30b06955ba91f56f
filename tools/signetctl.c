/*
 * signetctl — the admin tool: dispatches to the subcommands in
 * tools/cmd_*.c.  A subcommand is present when its file is; the table
 * below names every command the contract (DESIGN.md) defines.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tools/ctl.h"

extern const struct ctl_cmd ctl_cmd_keygen __attribute__((weak));
extern const struct ctl_cmd ctl_cmd_sign __attribute__((weak));
extern const struct ctl_cmd ctl_cmd_verify __attribute__((weak));
extern const struct ctl_cmd ctl_cmd_dns __attribute__((weak));
extern const struct ctl_cmd ctl_cmd_keys __attribute__((weak));
extern const struct ctl_cmd ctl_cmd_rotate __attribute__((weak));
extern const struct ctl_cmd ctl_cmd_check __attribute__((weak));
extern const struct ctl_cmd ctl_cmd_revoke __attribute__((weak));
extern const struct ctl_cmd ctl_cmd_config __attribute__((weak));
extern const struct ctl_cmd ctl_cmd_passwd __attribute__((weak));

static const struct ctl_cmd *const cmds[] = {
	&ctl_cmd_keygen, &ctl_cmd_sign, &ctl_cmd_verify, &ctl_cmd_dns,
	&ctl_cmd_keys, &ctl_cmd_rotate, &ctl_cmd_check, &ctl_cmd_revoke,
	&ctl_cmd_config, &ctl_cmd_passwd,
};

void
ctl_err(const char *fmt, ...)
{
	va_list	ap;

	fputs("signetctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
usage(FILE *f)
{
	size_t	i;

	fprintf(f, "usage: signetctl [-c FILE] SUBCOMMAND [ARGS]\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (cmds[i] != NULL)
			fprintf(f, "  signetctl %s\n", cmds[i]->usage);
}

int
main(int argc, char **argv)
{
	struct ctl	 ctl = { CTL_CONFIG, 0 };
	size_t		 i;
	int		 ch;

	/* Options before the subcommand only; the subcommand parses the rest. */
	while ((ch = getopt(argc, argv, "+c:h")) != -1) {
		switch (ch) {
		case 'c':
			ctl.config_path = optarg;
			ctl.config_given = 1;
			break;
		case 'h':
			usage(stdout);
			return CTL_OK;
		default:
			usage(stderr);
			return CTL_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		usage(stderr);
		return CTL_USAGE;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (cmds[i] != NULL && strcmp(cmds[i]->name, argv[0]) == 0) {
			/* 0, not 1: glibc then forgets the "+" (stop at the
			 * first operand) mode used above, so subcommands may
			 * put options after their operands. */
			optind = 0;
			return cmds[i]->run(&ctl, argc, argv);
		}
	}
	ctl_err("unknown subcommand: %s", argv[0]);
	usage(stderr);
	return CTL_USAGE;
}
