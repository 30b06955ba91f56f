/*
 * Unit tests for proxy/msg/hdr: strict header-section splitting (the
 * hostile-inputs rows DK-08, DK-09, DK-10, SM-02, SM-05), accessors in
 * DKIM's bottom-up order, submission edits (Date/Message-ID in, Bcc out)
 * and refolding of over-long lines (DK-11).
 */
#include <stdlib.h>
#include <string.h>

#include "proxy/msg/buf.h"
#include "proxy/msg/canon.h"
#include "proxy/msg/hdr.h"
#include "tests/unit/t.h"

#define LEN(s)	(sizeof(s) - 1)
#define ANY	((size_t)-1)

struct pcase {
	const char		*name;
	const char		*in;
	size_t			 inlen;
	struct hdr_limits	 lim;
	enum hdr_err		 err;
	size_t			 erroff;	/* ANY: not checked */
	size_t			 nfields;	/* when err == HDR_OK */
};

static const struct pcase pcases[] = {
#define OK(n, i, nf)		{ n, i, LEN(i), { 0, 0, 0 }, HDR_OK, 0, nf }
#define ERR(n, i, e, off)	{ n, i, LEN(i), { 0, 0, 0 }, e, off, 0 }
#define LIM(n, i, l, e, off, nf) { n, i, LEN(i), l, e, off, nf }
	OK("empty section", "", 0),
	OK("one field", "A: b\r\n", 1),
	OK("two fields", "From: a@b\r\nTo: c@d\r\n", 2),
	OK("WSP before the colon (RFC 6376 3.4.5)", "B : Y\t\r\n\tZ  \r\n", 1),
	OK("value on the next line", "Subject:\r\n value\r\n", 1),
	OK("empty value", "X:\r\n", 1),
	OK("no space after the colon", "X:y\r\n", 1),
	OK("UTF-8 value (RFC 6532)", "Subject: caf\xc3\xa9\r\n", 1),
	OK("tabs and trailing WSP", "X:\ta\t \r\n\tb \r\n", 1),
	OK("every ftext octet in a name",
	    "!\"#$%&'()*+,-./0123456789;<=>?@AZ[\\]^_`az{|}~: v\r\n", 1),
	/* DK-08 */
	ERR("first line starts with SP", " A: b\r\n", HDR_ERR_SYNTAX, 0),
	ERR("first line starts with TAB", "\tA: b\r\n", HDR_ERR_SYNTAX, 0),
	ERR("line without a colon", "A: b\r\nNoColon\r\n", HDR_ERR_SYNTAX, 13),
	ERR("space inside the name", "A b: c\r\n", HDR_ERR_SYNTAX, 2),
	ERR("empty name", ": v\r\n", HDR_ERR_SYNTAX, 0),
	ERR("empty line inside", "A: b\r\n\r\nC: d\r\n", HDR_ERR_SYNTAX, 6),
	ERR("UTF-8 BOM before the first field", "\xef\xbb\xbf" "From: a\r\n",
	    HDR_ERR_SYNTAX, 0),
	ERR("8-bit octet in a name", "Fr\xc3\xb6m: a\r\n", HDR_ERR_SYNTAX, 2),
	ERR("unterminated last line", "A: b\r\nC: d", HDR_ERR_SYNTAX, 10),
	/* DK-09 */
	ERR("whitespace-only continuation", "A: b\r\n \r\n",
	    HDR_ERR_WSP_LINE, 6),
	ERR("whitespace-only continuation, tabs",
	    "A: b\r\n\t \t\r\nC: d\r\n", HDR_ERR_WSP_LINE, 6),
	/* SM-05 */
	ERR("NUL in a value", "A: b\0c\r\n", HDR_ERR_NUL, 4),
	ERR("NUL in a name", "A\0: b\r\n", HDR_ERR_NUL, 1),
	ERR("control octet in a name", "Sub\x01ject: x\r\n", HDR_ERR_CTRL, 3),
	ERR("ESC in Subject", "Subject: \x1b[31m\r\n", HDR_ERR_CTRL, 9),
	ERR("DEL in a value", "A: b\x7f\r\n", HDR_ERR_CTRL, 4),
	ERR("form feed in a value", "A: \x0c\r\n", HDR_ERR_CTRL, 3),
	/* SM-02 */
	ERR("bare CR inside a value", "A: b\rc\r\n", HDR_ERR_BARE_CR_LF, 4),
	ERR("bare LF inside a value", "A: b\nc\r\n", HDR_ERR_BARE_CR_LF, 4),
	ERR("CR CR LF", "Subject: a\r\r\nX-Y: z\r\n", HDR_ERR_BARE_CR_LF,
	    10),
	ERR("LF line ending", "A: b\n", HDR_ERR_BARE_CR_LF, 4),
	ERR("CR at the very end", "A: b\r", HDR_ERR_BARE_CR_LF, 4),
	/* DK-10 with small limits; the defaults are tested below. */
	LIM("field at the field limit", "A: 12345\r\n", ((struct hdr_limits){
	    10, 0, 0 }), HDR_OK, 0, 1),
	LIM("field over the field limit", "A: 123456\r\n",
	    ((struct hdr_limits){ 10, 0, 0 }), HDR_ERR_FIELD_SIZE, 10, 0),
	LIM("folded field over the field limit", "A: 1\r\n 2\r\n 3\r\n",
	    ((struct hdr_limits){ 10, 0, 0 }), HDR_ERR_FIELD_SIZE, 10, 0),
	LIM("section at the section limit", "A: 1\r\nB: 2\r\n",
	    ((struct hdr_limits){ 0, 12, 0 }), HDR_OK, 0, 2),
	LIM("section over the section limit", "A: 1\r\nB: 23\r\n",
	    ((struct hdr_limits){ 0, 12, 0 }), HDR_ERR_SECTION_SIZE, 12, 0),
	LIM("fields at the count limit", "A:\r\nB:\r\n",
	    ((struct hdr_limits){ 0, 0, 2 }), HDR_OK, 0, 2),
	LIM("fields over the count limit", "A:\r\nB:\r\nC:\r\n",
	    ((struct hdr_limits){ 0, 0, 2 }), HDR_ERR_TOO_MANY, 8, 0),
#undef OK
#undef ERR
#undef LIM
};

static void
test_parse(void)
{
	const struct pcase	*c;
	struct hdr_list		*l;
	struct buf		*b;
	enum hdr_err		 e;
	size_t			 i, off;

	for (i = 0; i < sizeof(pcases) / sizeof(pcases[0]); i++) {
		c = &pcases[i];
		off = ANY;
		l = (struct hdr_list *)&off;
		e = hdr_parse((const uint8_t *)c->in, c->inlen, &c->lim, &l,
		    &off);
		T_OK(e == c->err, "%s: %s (got %s)", c->name,
		    hdr_strerror(c->err), hdr_strerror(e));
		if (c->err != HDR_OK) {
			T_OK(l == NULL, "%s: no list on error", c->name);
			if (c->erroff != ANY)
				T_EQ_INT(off, c->erroff, "error offset");
			continue;
		}
		if (l == NULL)
			continue;
		T_EQ_INT(hdr_count(l), c->nfields, "field count");
		b = buf_new(0);
		T_OK(hdr_serialize(l, b) == 0, "%s: serialize", c->name);
		T_EQ_MEM(buf_data(b), buf_len(b), c->in, c->inlen,
		    "serialize reproduces the input");
		buf_free(b);
		hdr_free(l);
	}
}

/* The production limits (DK-10): one over each gives its error. */
static void
test_default_limits(void)
{
	struct buf	*in = buf_new(0);
	struct hdr_list	*l = NULL;
	enum hdr_err	 e;
	size_t		 i, off;

	/* One field of exactly HDR_FIELD_MAX octets, folded every 78. */
	buf_append_str(in, "X-Big: y\r\n");
	while (HDR_FIELD_MAX - buf_len(in) > 2 * 78)
		buf_printf(in, " %075d\r\n", 0);
	buf_append_byte(in, ' ');
	while (buf_len(in) < HDR_FIELD_MAX - 2)
		buf_append_byte(in, 'y');
	buf_append(in, "\r\n", 2);
	e = hdr_parse(buf_data(in), buf_len(in), NULL, &l, NULL);
	T_EQ_INT(e, HDR_OK, "field of HDR_FIELD_MAX octets parses");
	hdr_free(l);
	buf_truncate(in, buf_len(in) - 2);
	buf_append(in, "z\r\n", 3);
	e = hdr_parse(buf_data(in), buf_len(in), NULL, &l, &off);
	T_EQ_INT(e, HDR_ERR_FIELD_SIZE, "field one octet over HDR_FIELD_MAX");
	T_EQ_INT(off, HDR_FIELD_MAX, "field size error offset");

	buf_reset(in);
	for (i = 0; i < HDR_FIELDS_MAX; i++)
		buf_append_str(in, "X-N: 1\r\n");
	e = hdr_parse(buf_data(in), buf_len(in), NULL, &l, NULL);
	T_EQ_INT(e, HDR_OK, "HDR_FIELDS_MAX fields parse");
	T_EQ_INT(hdr_count(l), HDR_FIELDS_MAX, "all fields kept");
	hdr_free(l);
	buf_append_str(in, "X-N: 1\r\n");
	e = hdr_parse(buf_data(in), buf_len(in), NULL, &l, &off);
	T_EQ_INT(e, HDR_ERR_TOO_MANY, "one field over HDR_FIELDS_MAX");
	T_EQ_INT(off, HDR_FIELDS_MAX * 8, "too-many error offset");

	/* A 2 MiB folded bomb: refused on length before anything else. */
	buf_reset(in);
	buf_append_str(in, "X-Bomb: a");
	while (buf_len(in) < 2 * 1024 * 1024)
		buf_append_str(in, "\r\n b");
	buf_append(in, "\r\n", 2);
	e = hdr_parse(buf_data(in), buf_len(in), NULL, &l, &off);
	T_EQ_INT(e, HDR_ERR_SECTION_SIZE, "2 MiB header bomb");
	T_EQ_INT(off, HDR_SECTION_MAX, "section size error offset");
	buf_free(in);
}

static const char sample[] =
    "From: Joe <joe@x.test>\r\n"
    "to: a@b\r\n"
    "Subject : hi\r\n there\r\n"
    "To: c@d\r\n"
    "X-Empty:\r\n";

static struct hdr_list *
parse_or_die(const char *s, size_t len)
{
	struct hdr_list	*l;

	if (hdr_parse((const uint8_t *)s, len, NULL, &l, NULL) != HDR_OK) {
		printf("Bail out! fixture does not parse\n");
		exit(1);
	}
	return l;
}

static void
test_accessors(void)
{
	static const struct {
		const char	*name;
		size_t		 n;
		long		 want;
	} bottom[] = {
		{ "to", 0, 3 }, { "TO", 1, 1 }, { "to", 2, -1 },
		{ "from", 0, 0 }, { "cc", 0, -1 }, { "subject", 0, 2 },
		{ "x-empty", 0, 4 }, { "x-emp", 0, -1 },
	};
	struct hdr_list	*l = parse_or_die(sample, LEN(sample));
	const uint8_t	*p;
	size_t		 n, i;

	T_EQ_INT(hdr_count(l), 5, "sample has 5 fields");
	p = hdr_name(l, 2, &n);
	T_EQ_MEM(p, n, "Subject", 7, "name excludes WSP before the colon");
	p = hdr_value(l, 2, &n);
	T_EQ_MEM(p, n, " hi\r\n there", 11, "value keeps folding");
	p = hdr_raw(l, 2, &n);
	T_EQ_MEM(p, n, "Subject : hi\r\n there\r\n", 22, "raw field");
	p = hdr_value(l, 4, &n);
	T_OK(p != NULL && n == 0, "empty value has length 0");
	T_OK(hdr_raw(l, 5, &n) == NULL && hdr_name(l, 5, &n) == NULL &&
	    hdr_value(l, 5, &n) == NULL, "accessors refuse an index past "
	    "the end");
	T_OK(hdr_name_is(l, 1, "TO") && hdr_name_is(l, 3, "to") &&
	    !hdr_name_is(l, 1, "t") && !hdr_name_is(l, 1, "tox") &&
	    !hdr_name_is(l, 9, "to"), "hdr_name_is ignores case only");
	T_EQ_INT(hdr_count_name(l, "To"), 2, "two To fields");
	T_EQ_INT(hdr_count_name(l, "Cc"), 0, "no Cc field");
	T_EQ_INT(hdr_find(l, "TO"), 1, "first To");
	T_EQ_INT(hdr_find(l, "bcc"), -1, "no Bcc");
	for (i = 0; i < sizeof(bottom) / sizeof(bottom[0]); i++)
		T_EQ_INT(hdr_find_from_bottom(l, bottom[i].name, bottom[i].n),
		    bottom[i].want, bottom[i].name);
	T_EQ_INT(hdr_longest_line(l, 2), 12, "longest line of a folded field");
	T_EQ_INT(hdr_longest_line(l, 4), 8, "longest line of X-Empty");
	T_OK(!hdr_has_8bit(l), "sample is 7-bit");
	hdr_free(l);
	hdr_free(NULL);
}

/* What a submission agent does before signing (DK-15). */
static void
test_edits(void)
{
	static const char	 date[] =
	    "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n";
	static const char	 msgid[] = "Message-ID: <1@x.test>\r\n";
	static const char	 in[] =
	    "From: a@x.test\r\nBcc: secret@y.test\r\nSubject: s\r\n";
	static const char	 want[] =
	    "Message-ID: <1@x.test>\r\nFrom: a@x.test\r\nSubject: s\r\n"
	    "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n";
	static const struct {
		const char	*name;
		const char	*f;
		size_t		 len;
	} bad[] = {
		{ "no CRLF", "Date: x", 7 },
		{ "two fields", "A: b\r\nC: d\r\n", 12 },
		{ "no field", "", 0 },
		{ "leading WSP", " A: b\r\n", 7 },
		{ "whitespace-only fold", "A: b\r\n \r\n", 9 },
		{ "bare LF", "A: b\n", 5 },
	};
	struct hdr_list	*l = parse_or_die(in, LEN(in)), *e;
	struct buf	*b = buf_new(0);
	size_t		 i;
	long		 bcc;

	bcc = hdr_find(l, "bcc");
	T_OK(bcc >= 0 && hdr_remove(l, (size_t)bcc) == 0, "remove Bcc");
	T_OK(hdr_insert(l, hdr_count(l), date, LEN(date)) == 0,
	    "append Date");
	T_OK(hdr_insert(l, 0, msgid, LEN(msgid)) == 0, "prepend Message-ID");
	T_OK(hdr_serialize(l, b) == 0, "serialize after edits");
	T_EQ_MEM(buf_data(b), buf_len(b), want, LEN(want), "edited section");
	T_EQ_INT(hdr_find(l, "Date"), 3, "inserted field is found");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		T_OK(hdr_insert(l, 0, bad[i].f, bad[i].len) == -1,
		    "insert refuses %s", bad[i].name);
	T_OK(hdr_insert(l, hdr_count(l) + 1, date, LEN(date)) == -1,
	    "insert refuses a position past the end");
	T_OK(hdr_remove(l, hdr_count(l)) == -1,
	    "remove refuses an index past the end");
	T_EQ_INT(hdr_count(l), 4, "failed edits change nothing");
	T_OK(hdr_insert(l, 1, "X-U: \xc3\xa9\r\n", 9) == 0 &&
	    hdr_has_8bit(l), "an 8-bit field makes the section 8-bit");
	hdr_free(l);

	e = hdr_new();
	T_OK(e != NULL && hdr_count(e) == 0, "new list is empty");
	T_OK(hdr_insert(e, 0, date, LEN(date)) == 0 && hdr_count(e) == 1,
	    "insert into an empty list");
	hdr_free(e);
	buf_free(b);
}

struct rcase {
	const char	*name;
	const char	*in;
	size_t		 max;
	const char	*want;	/* NULL: no fold point, field unchanged */
};

static const struct rcase rcases[] = {
	{ "short field untouched", "Subject: a b\r\n", 78,
	    "Subject: a b\r\n" },
	{ "one fold", "Subject: aaa bbb ccc\r\n", 12,
	    "Subject: aaa\r\n bbb ccc\r\n" },
	{ "several folds on a line", "X: aa bb cc dd\r\n", 5,
	    "X: aa\r\n bb\r\n cc\r\n dd\r\n" },
	{ "fold before a WSP run", "X: aaa   bbb\r\n", 7,
	    "X: aaa\r\n   bbb\r\n" },
	{ "fold a continuation line", "X: a\r\n bbbbbbbb cccc\r\n", 10,
	    "X: a\r\n bbbbbbbb\r\n cccc\r\n" },
	{ "tab as fold point", "X: aaaa\tbbbb\r\n", 8,
	    "X: aaaa\r\n\tbbbb\r\n" },
	{ "WSP before the colon", "B : Y Z\r\n", 5, "B : Y\r\n Z\r\n" },
	{ "never right after the colon", "B : Y Z\r\n", 3, NULL },
	{ "no WSP at all", "Subject: xxxxxxxxxxxxxxxxxxxx\r\n", 10, NULL },
	{ "only trailing WSP", "X: aaaa    \r\n", 6, NULL },
	{ "max of zero", "X: a b\r\n", 0, NULL },
};

/* The relaxed canonical form of field 0 of l. */
static void
relaxed_of(const struct hdr_list *l, struct buf *out)
{
	const uint8_t	*p;
	size_t		 n;

	buf_reset(out);
	p = hdr_raw(l, 0, &n);
	if (canon_header(CANON_RELAXED, p, n, out) == -1)
		abort();
}

static void
test_refold(void)
{
	const struct rcase	*c;
	struct hdr_list		*l, *again;
	struct buf		*before = buf_new(0), *after = buf_new(0);
	struct buf		*in = buf_new(0), *b = buf_new(0);
	const uint8_t		*p;
	enum hdr_err		 e;
	size_t			 i, n;
	int			 rc;

	for (i = 0; i < sizeof(rcases) / sizeof(rcases[0]); i++) {
		c = &rcases[i];
		l = parse_or_die(c->in, strlen(c->in));
		relaxed_of(l, before);
		rc = hdr_refold(l, 0, c->max);
		p = hdr_raw(l, 0, &n);
		if (c->want == NULL) {
			T_OK(rc == -1, "refold %s: no fold point", c->name);
			T_EQ_MEM(p, n, c->in, strlen(c->in),
			    "failed refold leaves the field unchanged");
		} else {
			T_OK(rc == 0, "refold %s: ok", c->name);
			T_EQ_MEM(p, n, c->want, strlen(c->want), c->name);
			relaxed_of(l, after);
			T_EQ_MEM(buf_data(after), buf_len(after),
			    buf_data(before), buf_len(before),
			    "refold keeps the relaxed form");
		}
		hdr_free(l);
	}
	T_OK(hdr_refold(l = parse_or_die("A: b\r\n", 6), 1, 78) == -1,
	    "refold refuses an index past the end");
	hdr_free(l);

	/* DK-11: a 1103-octet References field, as in gromox #360. */
	buf_append_str(in, "From: a@x.test\r\nReferences:");
	for (i = 0; buf_len(in) < 16 + 1103; i++)
		buf_printf(in, " <%zu.%zu@mail.example.test>", i, i * 7919);
	buf_append(in, "\r\n", 2);
	l = parse_or_die((const char *)buf_data(in), buf_len(in));
	T_OK(hdr_longest_line(l, 1) > HDR_LINE_MAX,
	    "References line is over 998 octets");
	buf_reset(b);
	p = hdr_raw(l, 1, &n);
	buf_append(b, p, n);
	T_OK(hdr_refold(l, 1, 78) == 0, "References refolds at 78");
	T_OK(hdr_longest_line(l, 1) <= 78, "no line over 78 after refold");
	buf_reset(after);
	p = hdr_raw(l, 1, &n);
	canon_header(CANON_RELAXED, p, n, after);
	buf_reset(before);
	canon_header(CANON_RELAXED, buf_data(b), buf_len(b), before);
	T_EQ_MEM(buf_data(after), buf_len(after), buf_data(before),
	    buf_len(before), "refolded References has the same relaxed form");
	buf_reset(b);
	hdr_serialize(l, b);
	e = hdr_parse(buf_data(b), buf_len(b), NULL, &again, NULL);
	T_EQ_INT(e, HDR_OK, "refolded section parses again");
	T_EQ_INT(hdr_count(again), 2, "still two fields");
	hdr_free(again);
	hdr_free(l);
	buf_free(before);
	buf_free(after);
	buf_free(in);
	buf_free(b);
}

static void
test_strerror(void)
{
	enum hdr_err	e, f;
	int		distinct = 1;

	for (e = HDR_OK; e <= HDR_ERR_NOMEM; e++)
		for (f = e + 1; f <= HDR_ERR_NOMEM; f++)
			if (strcmp(hdr_strerror(e), hdr_strerror(f)) == 0)
				distinct = 0;
	T_OK(distinct, "every hdr error has its own message");
	T_EQ_STR(hdr_strerror(HDR_ERR_CTRL), "control character in header",
	    "SM-05 wording");
}

/* DK-13: malformed UTF-8 in a header is found; well-formed passes. */
static void
test_utf8(void)
{
	static const struct {
		const char	*name;
		const char	*f;
		int		 ok;
	} cases[] = {
		{ "ASCII", "Subject: plain\r\n", 1 },
		{ "2-octet", "Subject: caf\xc3\xa9\r\n", 1 },
		{ "3-octet", "Subject: \xe2\x82\xac\r\n", 1 },
		{ "4-octet", "Subject: \xf0\x9f\x8c\x8d\r\n", 1 },
		{ "lone continuation", "Subject: \x80\r\n", 0 },
		{ "truncated sequence", "Subject: caf\xc3(\r\n", 0 },
		{ "sequence cut by CRLF", "Subject: \xe2\x82\r\n", 0 },
		{ "overlong /", "Subject: \xc0\xaf\r\n", 0 },
		{ "overlong 3-octet", "Subject: \xe0\x80\xaf\r\n", 0 },
		{ "surrogate", "Subject: \xed\xa0\x80\r\n", 0 },
		{ "above U+10FFFF", "Subject: \xf4\x90\x80\x80\r\n", 0 },
		{ "F5 lead", "Subject: \xf5\x80\x80\x80\r\n", 0 },
		{ "Latin-1", "Subject: caf\xe9\r\n", 0 },
	};
	struct hdr_list	*l;
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		l = parse_or_die(cases[i].f, strlen(cases[i].f));
		T_OK(hdr_utf8_valid(l) == cases[i].ok, "UTF-8 %s",
		    cases[i].name);
		hdr_free(l);
	}
}

/* DK-08: WSP before the colon parses (RFC 6376 3.4.5) but is flagged. */
static void
test_wsp_before_colon(void)
{
	struct hdr_list	*l;

	l = parse_or_die("From: a@b.example\r\nSubject: x\r\n", 31);
	T_OK(!hdr_has_wsp_before_colon(l), "ordinary fields are not flagged");
	hdr_free(l);
	l = parse_or_die("From: a@b.example\r\nB : Y\r\n", 26);
	T_OK(hdr_has_wsp_before_colon(l), "\"B : Y\" is flagged");
	hdr_free(l);
	l = parse_or_die("From\t: a@b.example\r\n", 20);
	T_OK(hdr_has_wsp_before_colon(l), "TAB before the colon is flagged");
	hdr_free(l);
}

int
main(void)
{
	test_parse();
	test_default_limits();
	test_accessors();
	test_edits();
	test_refold();
	test_strerror();
	test_utf8();
	test_wsp_before_colon();
	return t_done();
}
