/*
 * signplan: the DKIM parameters signetd and `signetctl sign --config`
 * sign with (canonicalization, x=, whose header lists) and the RFC 6409
 * submission edits (DK-15), table-driven over one configuration.
 */
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "proxy/msg/buf.h"
#include "proxy/msg/canon.h"
#include "proxy/msg/dkim.h"
#include "proxy/msg/hdr.h"
#include "proxy/signplan.h"
#include "tests/unit/t.h"

static const char yaml[] =
	"listen:\n"
	"  - address: 127.0.0.1:2525\n"
	"upstream:\n"
	"  address: file:/tmp\n"
	"keystore: /tmp\n"
	"spool: /tmp\n"
	"signing:\n"
	"  canonicalization: simple/relaxed\n"
	"  expiration: 2d\n"
	"  headers: [from, to, subject]\n"
	"  oversign: [from]\n"
	"domains:\n"
	"  a.test: {}\n"
	"  b.test: {}\n"
	"tenants:\n"
	"  - name: own\n"
	"    networks: [127.0.0.1/32]\n"
	"    domains: [a.test]\n"
	"    signing:\n"
	"      headers: [from, date]\n"
	"      oversign: [date]\n"
	"  - name: plain\n"
	"    networks: [127.0.0.2/32]\n"
	"    domains: [b.test]\n";

/* The lists as "a:b|c" (sign list, then oversign list). */
static void
lists(const struct dkim_params *p, char *out, size_t len)
{
	size_t	i, n = 0;

	out[0] = '\0';
	for (i = 0; i < p->nsign && n < len; i++)
		n += (size_t)snprintf(out + n, len - n, "%s%s", i ? ":" : "",
		    p->sign[i]);
	for (i = 0; i < p->noversign && n < len; i++)
		n += (size_t)snprintf(out + n, len - n, "%s%s", i ? ":" : "|",
		    p->oversign[i]);
}

static void
test_params(const struct config *cfg)
{
	static const struct {
		const char	*tenant;	/* NULL: none chosen */
		const char	*want;
	} cases[] = {
		{ "own", "from:date|date" },		/* its own lists */
		{ "plain", "from:to:subject|from" },	/* the global ones */
		{ NULL, "from:to:subject|from" },
	};
	struct signplan_sig	 g;
	struct dkim_params	 p;
	char			 got[256], name[64];
	size_t			 i;

	memset(&g, 0, sizeof(g));
	snprintf(g.domain, sizeof(g.domain), "a.test");
	snprintf(g.selector, sizeof(g.selector), "s1");
	g.alg = KEYS_ALG_ED25519_SHA256;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		signplan_params(cfg, cases[i].tenant != NULL ?
		    config_tenant_by_name(cfg, cases[i].tenant) : NULL, &g,
		    1000, &p);
		lists(&p, got, sizeof(got));
		snprintf(name, sizeof(name), "lists, tenant %s",
		    cases[i].tenant != NULL ? cases[i].tenant : "none");
		T_EQ_STR(got, cases[i].want, name);
	}
	T_EQ_INT(p.hcanon, CANON_SIMPLE, "c= header from signing:");
	T_EQ_INT(p.bcanon, CANON_RELAXED, "c= body from signing:");
	T_EQ_INT(p.expiration, 2 * 86400, "x= from signing.expiration");
	T_EQ_INT(p.time, 1000, "t= is the time given");
	T_EQ_INT(p.alg, DKIM_ALG_ED25519_SHA256, "a= follows the key");
	T_EQ_STR(p.domain, "a.test", "d=");
	T_EQ_STR(p.selector, "s1", "s=");
	T_OK(p.sign_fn != NULL && p.sign_ctx == &g, "signs with g's key");
}

static void
test_defaults(void)
{
	static const char bare[] =
		"listen:\n"
		"  - address: 127.0.0.1:2525\n"
		"upstream:\n"
		"  address: file:/tmp\n"
		"keystore: /tmp\n"
		"spool: /tmp\n"
		"domains:\n"
		"  a.test: {}\n";
	const struct config	*cfg;
	struct signplan_sig	 g;
	struct dkim_params	 p;

	if ((cfg = config_load_mem(bare, strlen(bare), "bare", NULL)) ==
	    NULL) {
		T_OK(0, "bare config loads");
		return;
	}
	memset(&g, 0, sizeof(g));
	signplan_params(cfg, NULL, &g, 0, &p);
	T_OK(p.sign == dkim_default_sign && p.nsign == dkim_default_nsign &&
	    p.oversign == dkim_default_oversign, "no lists: dkim.h defaults");
	T_EQ_INT(p.alg, DKIM_ALG_RSA_SHA256, "RSA key: rsa-sha256");
	config_free(cfg);
}

static struct hdr_list *
parse(const char *h)
{
	struct hdr_list	*hl = NULL;

	if (hdr_parse((const uint8_t *)h, strlen(h), NULL, &hl, NULL) !=
	    HDR_OK)
		return NULL;
	return hl;
}

static const char *
value(const struct hdr_list *hl, const char *name, char *out, size_t len)
{
	const uint8_t	*v;
	size_t		 n;
	long		 i;

	if ((i = hdr_find(hl, name)) == -1)
		return NULL;
	v = hdr_value(hl, (size_t)i, &n);
	snprintf(out, len, "%.*s", (int)n, (const char *)v);
	return out;
}

static void
test_edits(void)
{
	struct hdr_list	*hl;
	const char	*v;
	char		 buf[256], want[64];

	hl = parse("From: a@a.test\r\nBcc: x@y.test\r\nReturn-Path: <z>\r\n"
	    "Resent-Bcc: q@y.test\r\nContent-Length: 12\r\nBCC: w@y.test\r\n");
	if (!T_OK(hl != NULL, "headers parse"))
		return;
	T_EQ_INT(signplan_submission_edits(hl, "a.test", 86400 * 365), 0,
	    "edits succeed");
	T_EQ_INT(hdr_count_name(hl, "bcc") + hdr_count_name(hl, "resent-bcc") +
	    hdr_count_name(hl, "return-path") +
	    hdr_count_name(hl, "content-length"), 0, "RFC 6409 8: all dropped");
	T_OK(hdr_name_is(hl, 0, "from") && hdr_name_is(hl, 1, "date") &&
	    hdr_name_is(hl, 2, "message-id") && hdr_count(hl) == 3,
	    "Date and Message-ID appended below the existing fields");
	v = value(hl, "date", buf, sizeof(buf));
	T_EQ_STR(v != NULL ? v : "", " Fri, 01 Jan 1971 00:00:00 +0000",
	    "Date: the time given, UTC");
	v = value(hl, "message-id", buf, sizeof(buf));
	snprintf(want, sizeof(want), " <%d.", 86400 * 365);
	T_OK(v != NULL && strncmp(v, want, strlen(want)) == 0 &&
	    strlen(v) == strlen(want) + 16 + strlen("@a.test>") &&
	    strcmp(v + strlen(v) - strlen("@a.test>"), "@a.test>") == 0,
	    "Message-ID: <time.16 hex@From domain>");
	hdr_free(hl);

	hl = parse("Date: Mon, 02 Jan 2023 10:00:00 +0000\r\n"
	    "Message-ID: <keep@a.test>\r\nFrom: a@a.test\r\n");
	if (!T_OK(hl != NULL, "headers parse"))
		return;
	T_EQ_INT(signplan_submission_edits(hl, "a.test", 5), 0, "edits");
	T_EQ_INT(hdr_count(hl), 3, "present Date and Message-ID kept alone");
	v = value(hl, "message-id", buf, sizeof(buf));
	T_EQ_STR(v != NULL ? v : "", " <keep@a.test>", "Message-ID unchanged");
	hdr_free(hl);
}

int
main(void)
{
	const struct config	*cfg;
	struct buf		*errs = buf_new(0);

	cfg = config_load_mem(yaml, strlen(yaml), "signplan", errs);
	if (cfg == NULL) {
		printf("Bail out! config: %s\n", buf_cstr(errs));
		return 1;
	}
	test_params(cfg);
	test_defaults();
	test_edits();
	config_free(cfg);
	buf_free(errs);
	return t_done();
}
