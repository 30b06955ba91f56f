/*
 * Unit tests for the RFC 6376 3.2 tag-list parser in proxy/msg/dkim:
 * accepted forms with the values a verifier reads, rejected forms, the
 * b= span that 3.7 deletes, FWS inside base64, and h= name walking.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/msg/buf.h"
#include "proxy/msg/dkim.h"
#include "tests/unit/t.h"

/* want: "name=value|name=value" as the parser should report them. */
static const struct {
	const char		*in;
	enum dkim_tags_err	 err;
	const char		*want;
} cases[] = {
	{ "v=1", DKIM_TAGS_OK, "v=1" },
	{ "v=1;", DKIM_TAGS_OK, "v=1" },
	{ "v=1; ", DKIM_TAGS_OK, "v=1" },
	{ " v = 1 ; a=rsa-sha256", DKIM_TAGS_OK, "v=1|a=rsa-sha256" },
	{ "v=1;\r\n\ta=rsa-sha256;\r\n d=example.com", DKIM_TAGS_OK,
	    "v=1|a=rsa-sha256|d=example.com" },
	{ "b=", DKIM_TAGS_OK, "b=" },
	{ "b= ;c=x", DKIM_TAGS_OK, "b=|c=x" },
	{ "b=abc def\r\n ghi", DKIM_TAGS_OK, "b=abc def\r\n ghi" },
	{ "h=from : to :\r\n subject", DKIM_TAGS_OK,
	    "h=from : to :\r\n subject" },
	{ "x_1=y", DKIM_TAGS_OK, "x_1=y" },
	{ "n=a=b", DKIM_TAGS_OK, "n=a=b" },
	{ "z=!~", DKIM_TAGS_OK, "z=!~" },
	{ "v=DKIM1; s=email:web:fine; x1 = extra ; t = y:n:extra; p=AB== ; ",
	    DKIM_TAGS_OK,
	    "v=DKIM1|s=email:web:fine|x1=extra|t=y:n:extra|p=AB==" },
	{ "", DKIM_TAGS_SYNTAX, NULL },
	{ " ", DKIM_TAGS_SYNTAX, NULL },
	{ ";", DKIM_TAGS_SYNTAX, NULL },
	{ "v=1;;a=b", DKIM_TAGS_SYNTAX, NULL },
	{ "=1", DKIM_TAGS_SYNTAX, NULL },
	{ "1v=1", DKIM_TAGS_SYNTAX, NULL },
	{ "_v=1", DKIM_TAGS_SYNTAX, NULL },
	{ "v-x=1", DKIM_TAGS_SYNTAX, NULL },
	{ "v", DKIM_TAGS_SYNTAX, NULL },
	{ "v 1", DKIM_TAGS_SYNTAX, NULL },
	{ "t; p=x", DKIM_TAGS_SYNTAX, NULL },
	{ "\"\"", DKIM_TAGS_SYNTAX, NULL },
	{ "v=1\r\na=b", DKIM_TAGS_SYNTAX, NULL },
	{ "v=1;\r\n", DKIM_TAGS_SYNTAX, NULL },
	{ "v=1; \r\n\r\n a=b", DKIM_TAGS_SYNTAX, NULL },
	{ "v=\xc3\xa9", DKIM_TAGS_SYNTAX, NULL },
	{ "v=a\x01", DKIM_TAGS_SYNTAX, NULL },
	{ "v=1;v=1", DKIM_TAGS_DUPLICATE, NULL },
	{ "a=1; b=2; a=3", DKIM_TAGS_DUPLICATE, NULL },
	{ "V=1; v=1", DKIM_TAGS_OK, "V=1|v=1" },
};

/* A printable test name for an input that may hold CR, LF or TAB. */
static const char *
label(const char *in)
{
	static char	out[256];
	size_t		i, o = 0;

	for (i = 0; in[i] != '\0' && o + 5 < sizeof(out); i++) {
		unsigned char c = (unsigned char)in[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, sizeof(out) - o,
			    "\\x%02x", c);
	}
	out[o] = '\0';
	return out;
}

static void
render(const struct dkim_tags *tl, struct buf *b)
{
	const uint8_t	*p;
	size_t		 i, n;

	for (i = 0; i < dkim_tags_count(tl); i++) {
		if (i > 0)
			buf_append_byte(b, '|');
		p = dkim_tags_name(tl, i, &n);
		buf_append(b, p, n);
		buf_append_byte(b, '=');
		p = dkim_tags_value(tl, i, &n);
		buf_append(b, p, n);
	}
}

static void
test_grammar(void)
{
	struct dkim_tags	*tl;
	struct buf		*b;
	enum dkim_tags_err	 e;
	size_t			 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		e = dkim_tags_parse((const uint8_t *)cases[i].in,
		    strlen(cases[i].in), &tl, NULL);
		T_EQ_INT(e, cases[i].err, label(cases[i].in));
		if (cases[i].want == NULL) {
			T_OK(tl == NULL, "no result on error: %zu", i);
			continue;
		}
		if (tl == NULL)
			continue;
		b = buf_new(0);
		render(tl, b);
		T_EQ_STR(buf_cstr(b), cases[i].want, label(cases[i].want));
		buf_free(b);
		dkim_tags_free(tl);
	}
}

static void
test_lookup_and_span(void)
{
	static const char	 in[] =
	    " v=1; b=AbC\r\n  dEf= ;bh=x; B=up";
	struct dkim_tags	*tl;
	enum dkim_tags_err	 e;
	const uint8_t		*v;
	size_t			 n, off, len;

	e = dkim_tags_parse((const uint8_t *)in, strlen(in), &tl, NULL);
	T_EQ_INT(e, DKIM_TAGS_OK, "span input parses");
	if (tl == NULL)
		return;
	v = dkim_tags_get(tl, "b", &n);
	T_EQ_MEM(v, n, "AbC\r\n  dEf=", 11, "value keeps inner FWS");
	T_OK(dkim_tags_span(tl, "b", &off, &len) == 0, "b has a span");
	T_EQ_MEM(in + off, len, "AbC\r\n  dEf= ", 12,
	    "span runs from '=' to ';' with the whitespace");
	v = dkim_tags_get(tl, "B", &n);
	T_EQ_MEM(v, n, "up", 2, "names are case-sensitive");
	T_OK(dkim_tags_get(tl, "q", &n) == NULL, "absent tag is NULL");
	T_EQ_INT(dkim_tags_find(tl, "bh"), 2, "find gives the index");
	dkim_tags_free(tl);
}

static void
test_too_many(void)
{
	struct dkim_tags	*tl;
	enum dkim_tags_err	 e;
	struct buf		*b = buf_new(0);
	size_t			 i;

	for (i = 0; i <= DKIM_TAGS_MAX; i++)
		buf_printf(b, "t%zu=x;", i);
	e = dkim_tags_parse(buf_data(b), buf_len(b), &tl, NULL);
	T_EQ_INT(e, DKIM_TAGS_TOO_MANY, "more than DKIM_TAGS_MAX tags refused");
	buf_free(b);
}

static void
test_base64(void)
{
	static const struct {
		const char	*in;
		int		 rc;
		const char	*want;
	} b64[] = {
		{ "aGVsbG8=", 0, "hello" },
		{ "aGVs\r\n bG8=", 0, "hello" },
		{ "aGVs bG8 =", 0, "hello" },
		{ "", 0, "" },
		{ "aGVsbG8", -1, NULL },
		{ "aGVsbG8=x", -1, NULL },
		{ "aGV*bG8=", -1, NULL },
		{ "a===", -1, NULL },
	};
	struct buf	*b;
	size_t		 i;
	int		 rc;

	for (i = 0; i < sizeof(b64) / sizeof(b64[0]); i++) {
		b = buf_new(0);
		rc = dkim_base64_decode((const uint8_t *)b64[i].in,
		    strlen(b64[i].in), b);
		T_EQ_INT(rc, b64[i].rc, label(b64[i].in));
		if (rc == 0)
			T_EQ_MEM(buf_data(b), buf_len(b), b64[i].want,
			    strlen(b64[i].want), "decoded bytes");
		buf_free(b);
	}
}

static void
test_hnames(void)
{
	static const struct {
		const char	*in;
		const char	*want;	/* names joined by '|', NULL: error */
	} hn[] = {
		{ "from", "from" },
		{ "from:to", "from|to" },
		{ "From : To :\r\n Subject", "From|To|Subject" },
		{ "from::to", NULL },
		{ "from:", NULL },
		{ ":from", NULL },
		{ "from to", NULL },
	};
	const uint8_t	*name;
	struct buf	*b;
	size_t		 i, pos, n;
	int		 r;

	for (i = 0; i < sizeof(hn) / sizeof(hn[0]); i++) {
		b = buf_new(0);
		pos = 0;
		while ((r = dkim_hnames_next((const uint8_t *)hn[i].in,
		    strlen(hn[i].in), &pos, &name, &n)) == 1) {
			if (buf_len(b) > 0)
				buf_append_byte(b, '|');
			buf_append(b, name, n);
		}
		if (hn[i].want == NULL)
			T_EQ_INT(r, -1, label(hn[i].in));
		else
			T_EQ_STR(buf_cstr(b), hn[i].want, label(hn[i].in));
		buf_free(b);
	}
}

int
main(void)
{
	test_grammar();
	test_lookup_and_span();
	test_too_many();
	test_base64();
	test_hnames();
	return t_done();
}
