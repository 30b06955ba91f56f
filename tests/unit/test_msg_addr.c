/*
 * Unit tests for proxy/msg/addr: the From mailbox that decides the
 * signing domain (hostile-inputs DK-04 and TN-02).  Every case names the
 * domain a user of the proxy would see signed, or the error that makes
 * the proxy refuse the message.
 */
#include <stdlib.h>
#include <string.h>

#include "proxy/msg/addr.h"
#include "proxy/msg/buf.h"
#include "tests/unit/t.h"

#define LEN(s)	(sizeof(s) - 1)
#define L63	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

struct mcase {
	const char	*name;
	const char	*in;
	size_t		 inlen;
	enum addr_err	 err;
	const char	*domain;	/* when err == ADDR_OK */
	const char	*spec;		/* when err == ADDR_OK */
};

static const struct mcase mcases[] = {
#define M(n, i, d, s)	{ n, i, LEN(i), ADDR_OK, d, s }
#define E(n, i, e)	{ n, i, LEN(i), e, NULL, NULL }
	M("bare addr-spec", " a@good.test", "good.test", "a@good.test"),
	M("name-addr", " Joe <joe@Good.Test>", "good.test", "joe@Good.Test"),
	M("angle-addr alone", "<a@good.test>", "good.test", "a@good.test"),
	M("CFWS around @", " a (x) @ (y) good.test ", "good.test",
	    "a@good.test"),
	/* DK-04: display names, comments, encoded words are opaque. */
	M("quoted display name with @", " \"x@evil.test\" <a@good.test>",
	    "good.test", "a@good.test"),
	M("encoded word with @", " =?utf-8?q?a@evil?= <a@good.test>",
	    "good.test", "a@good.test"),
	M("encoded word with an angle-addr inside",
	    " =?utf-8?q?<a@evil.test>?= <a@good.test>", "good.test",
	    "a@good.test"),
	M("two encoded words and an atom",
	    " =?utf-8?b?Sm9l?= =?iso-8859-1?q?M=FCller?= Jr <a@good.test>",
	    "good.test", "a@good.test"),
	M("address in a trailing comment", " a@good.test (b@evil.test)",
	    "good.test", "a@good.test"),
	M("address in a leading comment", " (b@evil.test) a@good.test",
	    "good.test", "a@good.test"),
	M("nested comments", " (a (b@evil.test (c)) d) a@good.test",
	    "good.test", "a@good.test"),
	M("comment in a display name", " Joe (b@evil.test) <a@good.test>",
	    "good.test", "a@good.test"),
	M("quoted pairs", " \"Joe \\\"Q\\\" \\\\ Public\" <a@good.test>",
	    "good.test", "a@good.test"),
	M("periods in a display name", " Joe Q. Public <a@good.test>",
	    "good.test", "a@good.test"),
	M("folded value", "\r\n Joe\r\n\t<a@good.test>\r\n ", "good.test",
	    "a@good.test"),
	M("quoted local-part", " \"a b\"@good.test", "good.test",
	    "\"a b\"@good.test"),
	M("folded quoted local-part", " \"a\r\n b\"@good.test", "good.test",
	    "\"a b\"@good.test"),
	M("dot-atom local-part", " first.last+tag@mail.good.test",
	    "mail.good.test", "first.last+tag@mail.good.test"),
	/* TN-02 normalization. */
	M("upper case and trailing dot", " A@GOOD.TEST.", "good.test",
	    "A@GOOD.TEST."),
	M("U-label domain", " a@b\xc3\xbc" "cher.example",
	    "xn--bcher-kva.example", "a@b\xc3\xbc" "cher.example"),
	M("upper-case U-label, trailing dot", " a@B\xc3\x9c" "CHER.Example.",
	    "xn--bcher-kva.example", "a@B\xc3\x9c" "CHER.Example."),
	M("A-label domain", " a@XN--BCHER-KVA.example",
	    "xn--bcher-kva.example", "a@XN--BCHER-KVA.example"),
	M("UTF-8 local-part and name (RFC 6532)",
	    " J\xc3\xb6rg <j\xc3\xb6rg@good.test>", "good.test",
	    "j\xc3\xb6rg@good.test"),
	M("single-label domain (policy decides)", " a@localhost.",
	    "localhost", "a@localhost."),
	M("63-octet label", " a@" L63 ".test", L63 ".test", "a@" L63 ".test"),
	/* DK-04 refusals, each with its own cause. */
	E("no value", "", ADDR_ERR_EMPTY),
	E("only WSP", " \t ", ADDR_ERR_EMPTY),
	E("only a comment", " (nobody)", ADDR_ERR_EMPTY),
	E("only folding", "\r\n ", ADDR_ERR_EMPTY),
	E("undisclosed group", " undisclosed:;", ADDR_ERR_GROUP),
	E("empty group with CFWS", " undisclosed-recipients: ;",
	    ADDR_ERR_GROUP),
	E("group with members", " list: a@good.test, b@good.test;",
	    ADDR_ERR_GROUP),
	E("mailbox then group", " a@good.test, g:;", ADDR_ERR_GROUP),
	E("two mailboxes", " a@tenant.test, b@victim.test",
	    ADDR_ERR_MULTIPLE),
	E("two name-addrs", " A <a@tenant.test>, B <b@victim.test>",
	    ADDR_ERR_MULTIPLE),
	E("unqualified", " bob", ADDR_ERR_NO_DOMAIN),
	E("unqualified in angles", " Bob <bob>", ADDR_ERR_NO_DOMAIN),
	E("address only in a comment", " (a@evil.test) bob",
	    ADDR_ERR_NO_DOMAIN),
	E("domain literal", " a@[192.0.2.1]", ADDR_ERR_DOMAIN),
	E("numeric domain", " a@1.2.3.4", ADDR_ERR_DOMAIN),
	E("underscore in domain", " a@good_test.example", ADDR_ERR_DOMAIN),
	E("leading hyphen", " a@-bad.test", ADDR_ERR_DOMAIN),
	E("trailing hyphen", " a@bad-.test", ADDR_ERR_DOMAIN),
	E("bad punycode", " a@xn--zz.test", ADDR_ERR_DOMAIN),
	E("64-octet label", " a@a" L63 ".test", ADDR_ERR_DOMAIN),
	E("display name only", " Bob Smith", ADDR_ERR_SYNTAX),
	E("two @", " a@b@good.test", ADDR_ERR_SYNTAX),
	E("empty domain", " a@", ADDR_ERR_SYNTAX),
	E("empty local-part", " @good.test", ADDR_ERR_SYNTAX),
	E("two trailing dots", " a@good.test..", ADDR_ERR_SYNTAX),
	E("obsolete local-part a..b", " a..b@good.test", ADDR_ERR_SYNTAX),
	E("local-part ends with a dot", " a.@good.test", ADDR_ERR_SYNTAX),
	E("unclosed angle", " <a@good.test", ADDR_ERR_SYNTAX),
	E("stray angle", " a@good.test>", ADDR_ERR_SYNTAX),
	E("unclosed quote", " \"x <a@good.test>", ADDR_ERR_SYNTAX),
	E("unclosed comment", " (x a@good.test", ADDR_ERR_SYNTAX),
	E("trailing comma", " a@good.test,", ADDR_ERR_SYNTAX),
	E("source route (obs-route)", " <@relay.test:a@good.test>",
	    ADDR_ERR_SYNTAX),
	E("malformed UTF-8", " a@good.test\x80", ADDR_ERR_SYNTAX),
	E("overlong UTF-8", " \xc0\xaf <a@good.test>", ADDR_ERR_SYNTAX),
	E("UTF-16 surrogate in UTF-8", " \xed\xa0\x80 <a@good.test>",
	    ADDR_ERR_SYNTAX),
	E("NUL", " a@good.test\0", ADDR_ERR_SYNTAX),
	E("encoded word glued to text", " x=?utf-8?q?a@evil?= <a@good.test>",
	    ADDR_ERR_SYNTAX),
#undef M
#undef E
};

static void
test_mailbox(void)
{
	const struct mcase	*c;
	struct buf		*spec = buf_new(0), *dom = buf_new(0);
	enum addr_err		 e;
	size_t			 i;

	for (i = 0; i < sizeof(mcases) / sizeof(mcases[0]); i++) {
		c = &mcases[i];
		buf_reset(spec);
		buf_reset(dom);
		e = addr_parse_mailbox((const uint8_t *)c->in, c->inlen, spec,
		    dom);
		T_OK(e == c->err, "%s: %s (got %s)", c->name,
		    addr_strerror(c->err), addr_strerror(e));
		if (c->err != ADDR_OK) {
			T_OK(buf_len(spec) == 0 && buf_len(dom) == 0,
			    "%s: nothing written on error", c->name);
			continue;
		}
		T_EQ_STR(buf_cstr(dom), c->domain, "signing domain");
		T_EQ_STR(buf_cstr(spec), c->spec, "addr-spec as written");
	}
	buf_free(spec);
	buf_free(dom);
}

/* Comments nest, up to a bound that keeps recursion short. */
static void
test_comment_depth(void)
{
	static const struct {
		size_t		 depth;
		enum addr_err	 err;
	} cases[] = {
		{ 1, ADDR_OK }, { 32, ADDR_OK }, { 33, ADDR_ERR_SYNTAX },
		{ 100000, ADDR_ERR_SYNTAX },
	};
	struct buf	*in = buf_new(0), *dom = buf_new(0);
	enum addr_err	 e;
	size_t		 i, k;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_reset(in);
		buf_reset(dom);
		for (k = 0; k < cases[i].depth; k++)
			buf_append_byte(in, '(');
		for (k = 0; k < cases[i].depth; k++)
			buf_append_byte(in, ')');
		buf_append_str(in, " a@good.test");
		e = addr_parse_mailbox(buf_data(in), buf_len(in), NULL, dom);
		T_EQ_INT(e, cases[i].err, "comments nested deep");
	}
	buf_free(in);
	buf_free(dom);
}

static void
test_normalize(void)
{
	static const struct {
		const char	*in;
		const char	*want;	/* NULL: refused */
	} cases[] = {
		{ "Example.COM.", "example.com" },
		{ "example.com", "example.com" },
		{ "b\xc3\xbc" "cher.example", "xn--bcher-kva.example" },
		{ "fa\xc3\x9f.de", "xn--fa-hia.de" },
		{ "xn--bcher-kva.example", "xn--bcher-kva.example" },
		{ "", NULL },
		{ ".", NULL },
		{ "a..b", NULL },
		{ "ex.test..", NULL },
		{ ".ex.test", NULL },
		{ "a_b.test", NULL },
		{ "a b.test", NULL },
		{ "ex.123", NULL },
		{ "1.2.3.4", NULL },
		{ "ab--cd.test", NULL },
		{ "b\xc3\xbc" "cher\xff.example", NULL },
	};
	struct buf	*b = buf_new(0), *small = buf_new(4), *out = buf_new(0);
	size_t		 i;
	int		 rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_reset(b);
		rc = addr_normalize_domain((const uint8_t *)cases[i].in,
		    strlen(cases[i].in), b);
		if (cases[i].want == NULL) {
			T_OK(rc == -1 && buf_len(b) == 0, "refuse \"%s\"",
			    cases[i].in);
		} else {
			T_OK(rc == 0, "normalize \"%s\"", cases[i].in);
			T_EQ_STR(buf_cstr(b), cases[i].want, cases[i].in);
		}
	}

	/* 253 octets is the most a name may have; 254 is refused. */
	buf_reset(b);
	for (i = 0; i < 5; i++)
		buf_append_str(b, L63 ".");
	buf_truncate(b, 253);
	T_OK(addr_normalize_domain(buf_data(b), buf_len(b), small) == -1,
	    "output over the buffer's limit is refused");
	T_EQ_INT(buf_len(small), 0, "and leaves the buffer unchanged");
	T_OK(addr_normalize_domain(buf_data(b), 253, out) == 0,
	    "253-octet name accepted");
	buf_append_byte(b, 'a');
	buf_reset(out);
	T_OK(addr_normalize_domain(buf_data(b), 254, out) == -1,
	    "254-octet name refused");
	buf_free(out);
	buf_free(b);
	buf_free(small);
}

static void
test_strerror(void)
{
	enum addr_err	e, f;
	int		distinct = 1;

	for (e = ADDR_OK; e <= ADDR_ERR_NOMEM; e++)
		for (f = e + 1; f <= ADDR_ERR_NOMEM; f++)
			if (strcmp(addr_strerror(e), addr_strerror(f)) == 0)
				distinct = 0;
	T_OK(distinct, "every addr error has its own message");
}

int
main(void)
{
	test_mailbox();
	test_comment_depth();
	test_normalize();
	test_strerror();
	return t_done();
}
