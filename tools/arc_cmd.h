/*
 * arc_cmd — the ARC modes of signetctl: `sign --arc` and `verify --arc`.
 *
 * cmd_sign.c and cmd_verify.c hand over when they see --arc.  Both take
 * the subcommand's argc/argv as signetctl passed them (argv[0] is the
 * subcommand) and rescan all options themselves; they return the
 * signetctl exit codes of ctl.h.
 */
#ifndef SIGNET_ARC_CMD_H
#define SIGNET_ARC_CMD_H

/*
 * sign --arc --key DOMAIN:SELECTOR:FILE --authserv-id ID
 *     [--dns-file FILE] [--time UNIX] [--headers LIST] < in > out
 */
int	arc_cmd_sign(int argc, char **argv);
/* verify --arc [--dns-file FILE] [--time UNIX] < msg */
int	arc_cmd_verify(int argc, char **argv);

#endif
