/*
 * Fuzz target for proxy/auth's SASL decoding (TL-07: decoders are a
 * classic remote-code-execution site).
 *
 * Input: byte 0 picks the mechanism (PLAIN or LOGIN) and whether the
 * first line is an initial response; the rest is split at LF into the
 * lines a client sends.  Checked: every step ends in a known state with a
 * reply line of RFC 5321 form, and a finished exchange hands out a user
 * name of 1..AUTH_USER_MAX octets without control octets and a password
 * of 1..AUTH_PASS_MAX octets without NUL.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_reply(const char *r)
{
	size_t	 n;

	if (r == NULL)
		abort();
	n = strlen(r);
	if (n < 4 || r[0] < '2' || r[0] > '5' || r[3] != ' ' || n > 512)
		abort();
}

static void
check_done(struct auth_sasl *a)
{
	const char	*u = auth_sasl_user(a);
	const uint8_t	*pw;
	size_t		 n = strlen(u), pwlen, i;

	if (n == 0 || n > AUTH_USER_MAX)
		abort();
	for (i = 0; i < n; i++)
		if ((uint8_t)u[i] < 0x20 || u[i] == 0x7f)
			abort();
	pw = auth_sasl_password(a, &pwlen);
	if (pwlen == 0 || pwlen > AUTH_PASS_MAX || memchr(pw, 0, pwlen))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct auth_sasl	*a;
	enum auth_step		 st;
	const uint8_t		*p, *nl;
	const char		*reply;
	size_t			 left, n;

	if (size == 0 || (a = auth_sasl_new()) == NULL)
		return 0;
	p = data + 1;
	left = size - 1;
	nl = memchr(p, '\n', left);
	n = nl != NULL ? (size_t)(nl - p) : left;
	st = auth_sasl_start(a, (const uint8_t *)(data[0] & 1 ? "LOGIN" :
	    "PLAIN"), 5, data[0] & 2 ? p : NULL, n, &reply);
	if (data[0] & 2) {
		left -= nl != NULL ? n + 1 : n;
		p += nl != NULL ? n + 1 : n;
	}
	while (st == AUTH_STEP_CHALLENGE) {
		check_reply(reply);
		nl = memchr(p, '\n', left);
		n = nl != NULL ? (size_t)(nl - p) : left;
		st = auth_sasl_next(a, p, n, &reply);
		left -= nl != NULL ? n + 1 : n;
		p += nl != NULL ? n + 1 : n;
		if (left == 0 && st == AUTH_STEP_CHALLENGE)
			break;
	}
	if (st == AUTH_STEP_DONE)
		check_done(a);
	else if (st != AUTH_STEP_CHALLENGE)
		check_reply(reply);
	auth_sasl_free(a);
	return 0;
}
