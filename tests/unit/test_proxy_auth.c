/*
 * test_proxy_auth — SASL PLAIN/LOGIN decoding (RFC 4616, RFC 4954;
 * hostile-inputs.md TL-07), strict base64, the failure delay and the
 * per-address failure table (TL-05).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "proxy/auth.h"
#include "tests/unit/t.h"

struct b64_case {
	const char	*in;
	const char	*out;		/* NULL: invalid */
	size_t		 outlen;
};

static const struct b64_case b64_cases[] = {
	{ "", "", 0 },
	{ "YQ==", "a", 1 },
	{ "YWI=", "ab", 2 },
	{ "YWJj", "abc", 3 },
	{ "AGFsaWNlAHB3", "\0alice\0pw", 9 },
	{ "YQ", NULL, 0 },		/* padding required */
	{ "YQ=", NULL, 0 },
	{ "Y===", NULL, 0 },
	{ "YQ==YQ==", NULL, 0 },	/* "=" only at the end */
	{ "YR==", NULL, 0 },		/* non-zero unused bits */
	{ "YW I", NULL, 0 },
	{ "YW\r\nJj", NULL, 0 },
	{ "YWJ*", NULL, 0 },
	{ "=AAA", NULL, 0 },
};

static void
test_b64(void)
{
	uint8_t		 out[64];
	size_t		 i, n;
	int		 rc;

	for (i = 0; i < sizeof(b64_cases) / sizeof(b64_cases[0]); i++) {
		rc = auth_b64_decode((const uint8_t *)b64_cases[i].in,
		    strlen(b64_cases[i].in), out, sizeof(out), &n);
		if (b64_cases[i].out == NULL)
			T_EQ_INT(rc, -1, b64_cases[i].in);
		else
			T_EQ_MEM(out, rc == 0 ? n : 0, b64_cases[i].out,
			    b64_cases[i].outlen, b64_cases[i].in);
	}
	T_EQ_INT(auth_b64_decode((const uint8_t *)"YWJj", 4, out, 2, &n), -1,
	    "output bound");
}

struct sasl_case {
	const char	*name;
	const char	*mech;
	const char	*ir;		/* NULL: none */
	const char	*lines[3];
	enum auth_step	 want;
	const char	*reply;		/* prefix; NULL for DONE */
	const char	*user;
	const char	*pw;
};

static const struct sasl_case sasl_cases[] = {
	{ "plain ir", "PLAIN", "AGFsaWNlAHNlY3JldA==", { NULL },
	    AUTH_STEP_DONE, NULL, "alice", "secret" },
	{ "plain authzid = authcid", "PLAIN", "YWxpY2UAYWxpY2UAcHc=", { NULL },
	    AUTH_STEP_DONE, NULL, "alice", "pw" },
	{ "plain challenge", "PLAIN", NULL, { "AGFsaWNlAHNlY3JldA==" },
	    AUTH_STEP_DONE, NULL, "alice", "secret" },
	{ "login", "LOGIN", NULL, { "YWxpY2U=", "c2VjcmV0" },
	    AUTH_STEP_DONE, NULL, "alice", "secret" },
	{ "login ir", "LOGIN", "YWxpY2U=", { "c2VjcmV0" },
	    AUTH_STEP_DONE, NULL, "alice", "secret" },
	{ "plain other authzid", "PLAIN", "Ym9iAGFsaWNlAHB3", { NULL },
	    AUTH_STEP_REFUSED, "535 5.7.8 Error: authorization identity", NULL,
	    NULL },
	{ "plain cr in user", "PLAIN", "AGFsDWljZQBwdw==", { NULL },
	    AUTH_STEP_REFUSED, "535 5.7.8", NULL, NULL },
	{ "plain lf in user", "PLAIN", "AGFsCmljZQBwdw==", { NULL },
	    AUTH_STEP_REFUSED, "535 5.7.8", NULL, NULL },
	{ "plain nul in user", "PLAIN", "AGFsAGljZQBwdw==", { NULL },
	    AUTH_STEP_REFUSED, "535 5.7.8", NULL, NULL },
	{ "plain no password", "PLAIN", "AGFsaWNlAA==", { NULL },
	    AUTH_STEP_REFUSED, "535 5.7.8", NULL, NULL },
	{ "plain one nul", "PLAIN", "AGFsaWNl", { NULL },
	    AUTH_STEP_REFUSED, "535 5.7.8", NULL, NULL },
	{ "plain empty user", "PLAIN", "AABwdw==", { NULL },
	    AUTH_STEP_REFUSED, "535 5.7.8", NULL, NULL },
	{ "plain bad base64", "PLAIN", "!!", { NULL },
	    AUTH_STEP_FAIL, "501 5.5.2 Cannot decode response", NULL, NULL },
	{ "plain cancel", "PLAIN", NULL, { "*" },
	    AUTH_STEP_FAIL, "501 5.0.0 Authentication cancelled", NULL, NULL },
	{ "login cancel at password", "LOGIN", NULL, { "YWxpY2U=", "*" },
	    AUTH_STEP_FAIL, "501 5.0.0", NULL, NULL },
	{ "plain empty response", "PLAIN", "=", { NULL },
	    AUTH_STEP_REFUSED, "535 5.7.8", NULL, NULL },
	{ "unknown mechanism", "CRAM-MD5", NULL, { NULL },
	    AUTH_STEP_FAIL, "504 5.5.4", NULL, NULL },
};

static void
test_sasl(void)
{
	const struct sasl_case	*c;
	struct auth_sasl	*a;
	enum auth_step		 st;
	const char		*reply;
	const uint8_t		*pw;
	size_t			 i, j, pwlen;

	if ((a = auth_sasl_new()) == NULL) {
		printf("Bail out! auth_sasl_new\n");
		exit(1);
	}
	for (i = 0; i < sizeof(sasl_cases) / sizeof(sasl_cases[0]); i++) {
		c = &sasl_cases[i];
		st = auth_sasl_start(a, (const uint8_t *)c->mech,
		    strlen(c->mech), (const uint8_t *)c->ir,
		    c->ir != NULL ? strlen(c->ir) : 0, &reply);
		for (j = 0; j < 3 && c->lines[j] != NULL &&
		    st == AUTH_STEP_CHALLENGE; j++)
			st = auth_sasl_next(a, (const uint8_t *)c->lines[j],
			    strlen(c->lines[j]), &reply);
		T_EQ_INT(st, c->want, c->name);
		if (c->want == AUTH_STEP_DONE) {
			T_EQ_STR(auth_sasl_user(a), c->user, c->name);
			pw = auth_sasl_password(a, &pwlen);
			T_EQ_MEM(pw, pwlen, c->pw, strlen(c->pw), c->name);
		} else
			T_OK(reply != NULL && strncmp(reply, c->reply,
			    strlen(c->reply)) == 0, "%s: reply %s", c->name,
			    reply != NULL ? reply : "(null)");
		auth_sasl_reset(a);
		T_EQ_STR(auth_sasl_user(a), "", "reset forgets the user");
	}
	/* Challenges: PLAIN's is empty, LOGIN's ask Username:, Password:. */
	auth_sasl_start(a, (const uint8_t *)"PLAIN", 5, NULL, 0, &reply);
	T_EQ_STR(reply, "334 ", "PLAIN challenge");
	auth_sasl_start(a, (const uint8_t *)"LOGIN", 5, NULL, 0, &reply);
	T_EQ_STR(reply, "334 VXNlcm5hbWU6", "LOGIN asks Username:");
	auth_sasl_next(a, (const uint8_t *)"YWxpY2U=", 8, &reply);
	T_EQ_STR(reply, "334 UGFzc3dvcmQ6", "LOGIN asks Password:");
	auth_sasl_free(a);
}

static void
test_delay(void)
{
	T_EQ_INT(auth_fail_delay_ms(1000, 1), 1000, "first failure");
	T_EQ_INT(auth_fail_delay_ms(1000, 2), 2000, "second doubles");
	T_EQ_INT(auth_fail_delay_ms(1000, 3), 4000, "third doubles");
	T_EQ_INT(auth_fail_delay_ms(1000, 50), AUTH_DELAY_MAX_MS, "capped");
	T_EQ_INT(auth_fail_delay_ms(0, 5), 0, "no delay configured");
}

static void
test_failures(void)
{
	struct sockaddr_in	 a, b;
	struct sockaddr_in6	 m;
	unsigned int		 i;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.7", &a.sin_addr);
	b = a;
	inet_pton(AF_INET, "192.0.2.8", &b.sin_addr);
	memset(&m, 0, sizeof(m));
	m.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:192.0.2.7", &m.sin6_addr);
	T_EQ_INT(auth_failures_get((struct sockaddr *)&a), 0, "fresh address");
	for (i = 1; i <= 3; i++)
		T_EQ_INT(auth_failures_add((struct sockaddr *)&a), i,
		    "counted per address");
	T_EQ_INT(auth_failures_get((struct sockaddr *)&m), 3,
	    "IPv4-mapped counts as IPv4");
	T_EQ_INT(auth_failures_get((struct sockaddr *)&b), 0,
	    "other addresses unaffected");
	/* Many addresses: the table forgets the oldest, never crashes. */
	for (i = 0; i < 20000; i++) {
		b.sin_addr.s_addr = htonl(0x0a000000u + i);
		auth_failures_add((struct sockaddr *)&b);
	}
	T_OK(auth_failures_get((struct sockaddr *)&b) == 1, "newest kept");
}

int
main(void)
{
	test_b64();
	test_sasl();
	test_delay();
	test_failures();
	printf("1..%d\n", t_count);
	return t_failed ? 1 : 0;
}
