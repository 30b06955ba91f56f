/*
 * ctl — what every signetctl subcommand shares.
 *
 * Each subcommand lives in tools/cmd_<name>.c and defines one
 * `const struct ctl_cmd ctl_cmd_<name>`; signetctl.c finds it through a
 * weak reference, so a command exists exactly when its file is built.
 * Exit codes (DESIGN.md): 0 ok, 1 failure, 2 usage; errors go to stderr
 * as one line through ctl_err().
 */
#ifndef SIGNET_CTL_H
#define SIGNET_CTL_H

#define CTL_OK		0
#define CTL_FAIL	1
#define CTL_USAGE	2

struct ctl {
	const char	*config_path;	/* -c FILE, default CTL_CONFIG */
	int		 config_given;	/* -c was on the command line */
};

#define CTL_CONFIG	"/etc/signet/signet.yaml"

struct ctl_cmd {
	const char	*name;
	const char	*usage;		/* one line, after "signetctl " */
	int		(*run)(struct ctl *, int argc, char **argv);
};

/* "signetctl: <message>\n" on stderr. */
void	ctl_err(const char *, ...) __attribute__((format(printf, 1, 2)));

#endif
