/*
 * Unit tests for proxy/msg/dnsfile: the record formats of the
 * conformance DNS files (plain values, NXDOMAIN, ~~error~~, quoted
 * strings, comments), name matching, and the load errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/msg/dnsfile.h"
#include "proxy/msg/verify.h"
#include "tests/unit/t.h"

static const char file[] =
    "# comment\n"
    "#\n"
    "\n"
    "s1._domainkey.example.com v=DKIM1; k=rsa; p=AAAA\n"
    "S2._DomainKey.Example.COM.   v=DKIM1; p=BB  \r\n"
    "  indented._domainkey.example.com\tk=ed25519; p=CC\n"
    "gone._domainkey.example.com NXDOMAIN\n"
    "slow._domainkey.example.com ~~Query timed out~~\n"
    "split._domainkey.example.com \"v=DKIM1; \" \"p=D\\\"D\\059\"\n"
    "empty._domainkey.example.com \"\"\n"
    /* The zone-file lines signetctl keys init / dns print. */
    "z1._domainkey.example.com. 3600 IN TXT ( \"v=DKIM1; k=rsa; \" "
    "\"p=EE\" \"FF\" )\n"
    "z2._domainkey.example.com TXT \"v=DKIM1; p=GG\"\n"
    "z3._domainkey.example.com 300 in txt (\"p=HH\")\n";

static void
test_lookups(void)
{
	static const struct {
		const char	*name;
		enum verify_dns	 dns;
		const char	*txt;
	} cases[] = {
		{ "s1._domainkey.example.com", VERIFY_DNS_OK,
		    "v=DKIM1; k=rsa; p=AAAA" },
		{ "S1._DOMAINKEY.EXAMPLE.COM.", VERIFY_DNS_OK,
		    "v=DKIM1; k=rsa; p=AAAA" },
		{ "s2._domainkey.example.com", VERIFY_DNS_OK,
		    "v=DKIM1; p=BB" },
		{ "indented._domainkey.example.com", VERIFY_DNS_OK,
		    "k=ed25519; p=CC" },
		{ "gone._domainkey.example.com", VERIFY_DNS_NXDOMAIN, NULL },
		{ "slow._domainkey.example.com", VERIFY_DNS_ERROR, NULL },
		{ "split._domainkey.example.com", VERIFY_DNS_OK,
		    "v=DKIM1; p=D\"D;" },
		{ "empty._domainkey.example.com", VERIFY_DNS_OK, "" },
		{ "z1._domainkey.example.com", VERIFY_DNS_OK,
		    "v=DKIM1; k=rsa; p=EEFF" },
		{ "z2._domainkey.example.com", VERIFY_DNS_OK, "v=DKIM1; p=GG" },
		{ "z3._domainkey.example.com", VERIFY_DNS_OK, "p=HH" },
		{ "unlisted._domainkey.example.com", VERIFY_DNS_NXDOMAIN,
		    NULL },
		{ "# comment", VERIFY_DNS_NXDOMAIN, NULL },
	};
	struct dnsfile	*df;
	const uint8_t	*txt;
	char		 err[128];
	size_t		 i, len;
	enum verify_dns	 r;

	df = dnsfile_parse((const uint8_t *)file, strlen(file), err,
	    sizeof(err));
	T_OK(df != NULL, "the sample file loads");
	if (df == NULL)
		return;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = dnsfile_lookup(df, (const uint8_t *)cases[i].name,
		    strlen(cases[i].name), &txt, &len);
		T_EQ_INT(r, cases[i].dns, cases[i].name);
		if (cases[i].txt != NULL)
			T_EQ_MEM(txt, len, cases[i].txt, strlen(cases[i].txt),
			    cases[i].name);
	}
	dnsfile_free(df);
}

static void
test_errors(void)
{
	static const struct {
		const char	*in;
		const char	*err;
	} cases[] = {
		{ "a.example v=1\nb.example\n", "2: name without a value" },
		{ "a.example v=1\nA.EXAMPLE. v=2\n", "2: name listed twice" },
		{ "a.example \"unterminated\n", "1: malformed quoted string" },
		{ "a.example \"x\" y\n", "1: malformed quoted string" },
		{ "a.example \"\\25\"\n", "1: malformed quoted string" },
		{ "a.example \"\\999\"\n", "1: malformed quoted string" },
		{ "a.example 60 IN TXT ( \"p=x\"\n", "1: unbalanced parentheses" },
	};
	struct dnsfile	*df;
	char		 err[128];
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		df = dnsfile_parse((const uint8_t *)cases[i].in,
		    strlen(cases[i].in), err, sizeof(err));
		T_OK(df == NULL, "refused: %s", cases[i].err);
		T_EQ_STR(err, cases[i].err, "error names the line");
		dnsfile_free(df);
	}
	df = dnsfile_load("/nonexistent/dns.txt", err, sizeof(err));
	T_OK(df == NULL && strstr(err, "/nonexistent/dns.txt") != NULL,
	    "a missing file is named in the error");
}

static void
test_conformance_files(void)
{
	static const char *const files[] = {
		"rfc8463/dns.txt", "rfc6376/appendix-c-dns.txt",
		"mail-dkim-corpus/FAKE_DNS.dat",
	};
	struct dnsfile	*df;
	char		 path[1024], err[128];
	size_t		 i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/conformance/%s", t_shared(),
		    files[i]);
		df = dnsfile_load(path, err, sizeof(err));
		T_OK(df != NULL, "%s loads", files[i]);
		dnsfile_free(df);
	}
}

int
main(void)
{
	test_lookups();
	test_errors();
	test_conformance_files();
	return t_done();
}
