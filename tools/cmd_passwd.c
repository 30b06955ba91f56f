/*
 * signetctl passwd — read a password on stdin (one line, no echo when
 * stdin is a terminal) and print its argon2id string for a tenant's
 * users: entry (DESIGN.md contract; RFC 9106).
 *
 * Cost: libsodium's "interactive" limits (2 passes, 64 MiB).  signetd
 * verifies a password at every AUTH, on its verifier threads, so the cost
 * is paid per login: interactive keeps that near 50 ms while still
 * making each offline guess cost 64 MiB of memory.
 *
 * The password is read straight into sodium_malloc memory (no stdio
 * buffer keeps a copy), never printed, and wiped before exit.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "tools/ctl.h"

#define PASSWD_MAX	1024	/* proxy/auth.h AUTH_PASS_MAX */

/* One line from fd 0 into pw; its length, or -1 (too long, read error). */
static long
read_line(uint8_t *pw, size_t max)
{
	size_t	 n = 0;
	ssize_t	 r;
	uint8_t	 c;

	for (;;) {
		r = read(STDIN_FILENO, &c, 1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r == 0 || c == '\n')
			break;
		if (n == max)
			return -1;
		pw[n++] = c;
	}
	if (n > 0 && pw[n - 1] == '\r')
		n--;
	return (long)n;
}

static int
run(struct ctl *ctl, int argc, char **argv)
{
	struct termios	 old, noecho;
	char		 out[crypto_pwhash_STRBYTES];
	uint8_t		*pw = NULL;
	long		 n;
	int		 tty, rv = CTL_FAIL;

	(void)ctl;
	(void)argv;
	if (argc != 1) {
		ctl_err("usage: signetctl passwd < password");
		return CTL_USAGE;
	}
	if (sodium_init() < 0 || (pw = sodium_malloc(PASSWD_MAX)) == NULL) {
		ctl_err("passwd: libsodium unavailable");
		return CTL_FAIL;
	}
	tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
	if (tty) {
		noecho = old;
		noecho.c_lflag &= ~(tcflag_t)ECHO;
		fputs("Password: ", stderr);
		fflush(stderr);
		if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &noecho) == -1)
			tty = 0;
	}
	n = read_line(pw, PASSWD_MAX);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (n == -1) {
		ctl_err("passwd: cannot read a password of at most %d octets",
		    PASSWD_MAX);
		goto done;
	}
	if (n == 0) {
		ctl_err("passwd: empty password");
		goto done;
	}
	if (memchr(pw, '\0', (size_t)n) != NULL) {
		ctl_err("passwd: NUL in password");
		goto done;
	}
	if (crypto_pwhash_str(out, (const char *)pw, (unsigned long long)n,
	    crypto_pwhash_OPSLIMIT_INTERACTIVE,
	    crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
		ctl_err("passwd: out of memory hashing the password");
		goto done;
	}
	printf("%s\n", out);
	rv = fflush(stdout) == 0 ? CTL_OK : CTL_FAIL;
done:
	sodium_free(pw);
	return rv;
}

const struct ctl_cmd ctl_cmd_passwd = {
	"passwd",
	"passwd < password",
	run,
};
