/*
 * Unit tests for proxy/framer: where DATA ends (SM-01, SM-02, the
 * smtpsmug sequences), dot-unstuffing (SM-08), content checks (SM-05,
 * DK-11, PR-08), BDAT chunks, and the re-stuffing writer (SM-03).
 * Every input is also fed one octet at a time and split at every
 * position; the results must be identical.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/framer.h"
#include "proxy/msg/buf.h"
#include "tests/unit/t.h"

#define NO_END	((size_t)-1)

struct outcome {
	struct buf	*content;
	size_t		 end;		/* octets taken through the end */
	enum framer_bad	 bad;
	uint64_t	 bad_off;
	int		 has8bit;
	int		 sink_calls;
};

struct sink_ctx {
	struct buf	*b;
	int		 fail_after;	/* fail on this call (0: never) */
	int		 calls;
};

static int
sink(void *arg, const uint8_t *p, size_t n)
{
	struct sink_ctx	*s = arg;

	s->calls++;
	if (s->fail_after != 0 && s->calls >= s->fail_after)
		return -1;
	return buf_append(s->b, p, n);
}

/*
 * Frame in (DATA mode) fed as pieces: cuts[] are the piece boundaries.
 */
static void
frame_pieces(const uint8_t *in, size_t len, const size_t *cuts, size_t ncut,
    uint64_t max, int fail_after, struct outcome *o)
{
	struct sink_ctx		 s = { buf_new(0), fail_after, 0 };
	struct framer		*f = framer_new(max, sink, &s);
	enum framer_status	 st = FRAMER_MORE;
	size_t			 pos = 0, i, stop, used;

	o->end = NO_END;
	for (i = 0; i <= ncut && st != FRAMER_END; i++) {
		stop = i < ncut ? cuts[i] : len;
		st = framer_feed(f, in + pos, stop - pos, &used);
		pos += used;
	}
	if (st == FRAMER_END)
		o->end = pos;
	o->content = s.b;
	o->bad = framer_bad(f, &o->bad_off);
	o->has8bit = framer_has_8bit(f);
	o->sink_calls = s.calls;
	framer_free(f);
}

/* Equal byte strings; an empty buf has no data pointer for memcmp(). */
static int
eq_bytes(const void *a, size_t an, const void *b, size_t bn)
{
	return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

/*
 * Content is compared only for good messages: of a bad one the sink gets
 * some prefix before the mark, which depends on where reads ended, and
 * the caller discards it.
 */
static int
same(const struct outcome *a, const struct outcome *b)
{
	if (a->end != b->end || a->bad != b->bad || a->bad_off != b->bad_off)
		return 0;
	if (a->bad != FRAMER_GOOD)
		return 1;
	return a->has8bit == b->has8bit &&
	    eq_bytes(buf_data(a->content), buf_len(a->content),
	    buf_data(b->content), buf_len(b->content));
}

/*
 * Frame whole, one octet at a time and split at every position: all
 * results must equal the whole one, which is returned in o.
 */
static int
frame_all_splits(const uint8_t *in, size_t len, uint64_t max, int fail_after,
    struct outcome *o)
{
	struct outcome	 other;
	size_t		*cuts, i;
	int		 ok = 1;

	frame_pieces(in, len, NULL, 0, max, fail_after, o);
	if (fail_after != 0)
		return 1;	/* sink call counts depend on the splits */
	cuts = malloc((len + 1) * sizeof(*cuts));
	for (i = 0; i < len; i++)
		cuts[i] = i + 1;
	frame_pieces(in, len, cuts, len, max, 0, &other);
	ok = ok && same(o, &other);
	buf_free(other.content);
	for (i = 0; i <= len; i++) {
		cuts[0] = i;
		frame_pieces(in, len, cuts, 1, max, 0, &other);
		ok = ok && same(o, &other);
		buf_free(other.content);
	}
	free(cuts);
	return ok;
}

struct data_case {
	const char	*name;
	const char	*in;
	size_t		 inlen;		/* 0: strlen(in) */
	const char	*content;	/* expected content if good */
	size_t		 end;		/* expected octets through the end */
	enum framer_bad	 bad;
	long		 bad_off;	/* -1: not checked */
};

#define S(x)	x, sizeof(x) - 1

static void
test_data_table(void)
{
	static const struct data_case cases[] = {
		{ "empty message", S(".\r\n"), "", 3, FRAMER_GOOD, -1 },
		{ "one line", S("a\r\n.\r\n"), "a\r\n", 6, FRAMER_GOOD, -1 },
		{ "pipelined commands after the end are not taken",
		    S("a\r\n.\r\nMAIL FROM:<x@y>\r\n"), "a\r\n", 6,
		    FRAMER_GOOD, -1 },
		{ "SM-08 stuffed lines . .. ...x .\\t",
		    S("..\r\n...\r\n....x\r\n..\t\r\n.\r\n"),
		    ".\r\n..\r\n...x\r\n.\t\r\n", 24, FRAMER_GOOD, -1 },
		{ "one leading dot removed, not more",
		    S(".x\r\n..y\r\n.\r\n"), "x\r\n.y\r\n", 12, FRAMER_GOOD,
		    -1 },
		{ "dot then tab", S(".\t\r\n.\r\n"), "\t\r\n", 7,
		    FRAMER_GOOD, -1 },
		{ "dot not at line start is content",
		    S("a.b\r\n.\r\n"), "a.b\r\n", 8, FRAMER_GOOD, -1 },
		{ "empty lines", S("\r\n\r\n.\r\n"), "\r\n\r\n", 7,
		    FRAMER_GOOD, -1 },
		{ "trailing spaces after dot are not the end",
		    S(". \r\n.\r\n"), " \r\n", 7, FRAMER_GOOD, -1 },
		{ "8-bit content", S("caf\xc3\xa9\r\n.\r\n"),
		    "caf\xc3\xa9\r\n", 10, FRAMER_GOOD, -1 },
		{ "control octets other than NUL/CR/LF pass",
		    S("a\x1b[31m\x0c\x7f\r\n.\r\n"), "a\x1b[31m\x0c\x7f\r\n",
		    13, FRAMER_GOOD, -1 },
		{ "bare LF in a header", S("A: b\nC: d\r\n\r\nx\r\n.\r\n"),
		    NULL, 19, FRAMER_BARE_LF, 4 },
		{ "bare CR in a header (SM-02 \\r\\r\\n)",
		    S("Subject: a\r\r\nX-Y: z\r\n\r\n.\r\n"), NULL, 26,
		    FRAMER_BARE_CR, 10 },
		{ "lone CR inside a value", S("A: b\rc\r\n.\r\n"), NULL, 11,
		    FRAMER_BARE_CR, 4 },
		{ "bare LF at the very start", S("\n.\r\n\r\n.\r\n"), NULL, 9,
		    FRAMER_BARE_LF, 0 },
		{ "NUL in body (SM-05)", S("a\r\nb\0c\r\n.\r\n"), NULL, 11,
		    FRAMER_NUL, 4 },
		{ "NUL before the end", S("a\r\n\0.\r\n\r\n.\r\n"), NULL, 12,
		    FRAMER_NUL, 3 },
		{ "dot CR then not LF", S(".\rx\r\n.\r\n"), NULL, 8,
		    FRAMER_BARE_CR, 1 },
		{ "dot CR CR LF", S(".\r\r\n.\r\n"), NULL, 7,
		    FRAMER_BARE_CR, 1 },
		{ "no end yet", S("a\r\n.\r"), NULL, NO_END, FRAMER_GOOD, -1 },
		{ "LF dot LF is not the end", S("a\n.\n"), NULL, NO_END,
		    FRAMER_BARE_LF, 1 },
	};
	struct outcome	o;
	size_t		i, len;
	int		ok;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		len = cases[i].inlen;
		ok = frame_all_splits((const uint8_t *)cases[i].in, len, 0, 0,
		    &o);
		T_OK(ok, "%s: same result for every split", cases[i].name);
		T_EQ_INT(o.end, cases[i].end, cases[i].name);
		T_EQ_INT(o.bad, cases[i].bad, cases[i].name);
		if (cases[i].bad_off >= 0)
			T_EQ_INT(o.bad_off, cases[i].bad_off, cases[i].name);
		if (cases[i].content != NULL)
			T_EQ_MEM(buf_data(o.content), buf_len(o.content),
			    cases[i].content, strlen(cases[i].content),
			    cases[i].name);
		if (cases[i].bad != FRAMER_GOOD)
			T_OK(buf_len(o.content) <= o.bad_off,
			    "%s: no content after the bad mark",
			    cases[i].name);
		buf_free(o.content);
	}
}

/*
 * SM-01/SM-02: the nine smtpsmug sequences (and nullafter), each followed
 * by a smuggled transaction and the real end.  Exactly one end, at the
 * real one; the message is bad; nothing of the smuggled part reaches the
 * sink.
 */
static void
test_smuggling(void)
{
	static const struct {
		const char	*name;
		const char	*seq;
		size_t		 seqlen;
		enum framer_bad	 bad;
		size_t		 bad_at;	/* offset within seq */
	} seqs[] = {
		{ "lflf", S("\n.\n"), FRAMER_BARE_LF, 0 },
		{ "crcr", S("\r.\r"), FRAMER_BARE_CR, 0 },
		{ "crlf", S("\r.\n"), FRAMER_BARE_CR, 0 },
		{ "lfcr", S("\n.\r"), FRAMER_BARE_LF, 0 },
		{ "lfcrlf", S("\n.\r\n"), FRAMER_BARE_LF, 0 },
		{ "crlflf", S("\r\n.\n"), FRAMER_BARE_LF, 3 },
		{ "crcrlf", S("\r.\r\n"), FRAMER_BARE_CR, 0 },
		{ "crlfcr", S("\r\n.\r"), FRAMER_BARE_CR, 3 },
		{ "nullbefore", S("\r\n\0.\r\n"), FRAMER_NUL, 2 },
		{ "nullafter", S("\r\n.\0\r\n"), FRAMER_NUL, 3 },
	};
	static const char head[] = "From: a@tenant.test\r\nTo: b@test\r\n"
	    "Subject: smuggle\r\n\r\nbody";
	static const char smuggled[] = "MAIL FROM:<x@evil.test>\r\n"
	    "RCPT TO:<victim@test>\r\nDATA\r\nFrom: x@evil.test\r\n\r\n"
	    "second message\r\n";
	static const char real_end[] = "\r\n.\r\n";
	static const char after[] = "QUIT\r\n";
	struct buf	*in;
	struct outcome	 o;
	size_t		 i, hlen = sizeof(head) - 1, want_end;
	int		 ok;

	for (i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
		in = buf_new(0);
		buf_append(in, head, hlen);
		buf_append(in, seqs[i].seq, seqs[i].seqlen);
		buf_append_str(in, smuggled);
		buf_append_str(in, real_end);
		want_end = buf_len(in);
		buf_append_str(in, after);
		ok = frame_all_splits(buf_data(in), buf_len(in), 0, 0, &o);
		T_OK(ok, "smtpsmug %s: same result for every split",
		    seqs[i].name);
		T_EQ_INT(o.end, want_end, "smtpsmug: one end, the real one");
		T_EQ_INT(o.bad, seqs[i].bad, "smtpsmug: message marked bad");
		T_EQ_INT(o.bad_off, hlen + seqs[i].bad_at,
		    "smtpsmug: bad mark at the sequence");
		T_OK(buf_len(o.content) <= hlen + seqs[i].bad_at &&
		    (buf_len(o.content) == 0 || memmem(buf_data(o.content),
		    buf_len(o.content), "victim", 6) == NULL),
		    "smtpsmug %s: smuggled part not in content",
		    seqs[i].name);
		buf_free(o.content);
		buf_free(in);
	}
}

/* DK-11: 998 content octets per line at most; a stuffing dot is not
 * content. */
static void
test_line_length(void)
{
	static const struct {
		const char	*name;
		size_t		 len;
		int		 stuffed;
		enum framer_bad	 bad;
	} cases[] = {
		{ "998 octets", 998, 0, FRAMER_GOOD },
		{ "999 octets", 999, 0, FRAMER_LINE_TOO_LONG },
		{ "5000 octets", 5000, 0, FRAMER_LINE_TOO_LONG },
		{ "998 octets after a stuffing dot", 998, 1, FRAMER_GOOD },
		{ "999 octets after a stuffing dot", 999, 1,
		    FRAMER_LINE_TOO_LONG },
	};
	struct buf	*in;
	struct outcome	 o;
	size_t		 i, j;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		in = buf_new(0);
		buf_append_str(in, "short\r\n");
		if (cases[i].stuffed)
			buf_append_str(in, "..");
		for (j = cases[i].stuffed; j < cases[i].len; j++)
			buf_append_byte(in, 'x');
		buf_append_str(in, "\r\nlast\r\n.\r\n");
		frame_pieces(buf_data(in), buf_len(in), NULL, 0, 0, 0, &o);
		T_EQ_INT(o.bad, cases[i].bad, cases[i].name);
		T_EQ_INT(o.end, buf_len(in), "line length: end still found");
		if (cases[i].bad != FRAMER_GOOD)
			T_EQ_INT(o.bad_off, 7 + 998 + cases[i].stuffed,
			    "line length: mark at octet 999");
		buf_free(o.content);
		buf_free(in);
	}
	/* The same, split everywhere (a shorter table keeps this quick). */
	in = buf_new(0);
	for (j = 0; j < 999; j++)
		buf_append_byte(in, 'y');
	buf_append_str(in, "\r\n.\r\n");
	T_OK(frame_all_splits(buf_data(in), buf_len(in), 0, 0, &o) &&
	    o.bad == FRAMER_LINE_TOO_LONG && o.bad_off == 998,
	    "999-octet line: same mark for every split");
	buf_free(o.content);
	buf_free(in);
}

/*
 * DK-11 with framer_long_header_lines(): header lines may be long (the
 * caller refolds them), body lines may not; the first empty line ends
 * the header section, also when a CRLF is split across feeds.
 */
static void
test_long_header_lines(void)
{
	static const struct {
		const char	*name;
		size_t		 hdr, body;
		enum framer_bad	 bad;
	} cases[] = {
		{ "5000-octet header line", 5000, 10, FRAMER_GOOD },
		{ "999-octet body line", 20, 999, FRAMER_LINE_TOO_LONG },
		{ "both long", 5000, 5000, FRAMER_LINE_TOO_LONG },
	};
	struct sink_ctx		 sc;
	struct framer		*f;
	struct buf		*in;
	enum framer_status	 st;
	size_t			 i, j, k, used, pos;
	enum framer_bad		 bad;
	uint64_t		 off;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		in = buf_new(0);
		buf_append_str(in, "References: ");
		for (j = 12; j < cases[i].hdr; j++)
			buf_append_byte(in, j % 40 == 0 ? ' ' : 'r');
		buf_append_str(in, "\r\n\r\n");
		for (j = 0; j < cases[i].body; j++)
			buf_append_byte(in, 'b');
		buf_append_str(in, "\r\n.\r\n");
		/* Whole, and cut right inside the empty line's CRLF. */
		for (k = 0; k < 2; k++) {
			sc.b = buf_new(0);
			sc.fail_after = 0;
			sc.calls = 0;
			f = framer_new(0, sink, &sc);
			framer_long_header_lines(f, 1);
			framer_start_data(f);
			pos = 0;
			if (k == 1) {
				framer_feed(f, buf_data(in),
				    cases[i].hdr + 3, &used);
				pos = used;
			}
			st = framer_feed(f, buf_data(in) + pos,
			    buf_len(in) - pos, &used);
			bad = framer_bad(f, &off);
			T_EQ_INT(st, FRAMER_END, cases[i].name);
			T_EQ_INT(bad, cases[i].bad, cases[i].name);
			if (bad != FRAMER_GOOD)
				T_EQ_INT(off, cases[i].hdr + 4 + 998,
				    "long header: mark in the body line");
			framer_free(f);
			buf_free(sc.b);
		}
		buf_free(in);
	}
	/* Off (the default): a long header line is marked as before. */
	sc.b = buf_new(0);
	sc.fail_after = 0;
	f = framer_new(0, sink, &sc);
	in = buf_new(0);
	buf_append_str(in, "X: ");
	for (j = 0; j < 1000; j++)
		buf_append_byte(in, 'x');
	buf_append_str(in, "\r\n\r\nb\r\n.\r\n");
	framer_feed(f, buf_data(in), buf_len(in), &used);
	T_EQ_INT(framer_bad(f, NULL), FRAMER_LINE_TOO_LONG,
	    "long header line without the option");
	framer_free(f);
	buf_free(sc.b);
	buf_free(in);
}

/* PR-08: content over the limit; the sink failing. */
static void
test_limits(void)
{
	static const char	msg[] = "0123456789\r\nabc\r\n.\r\n";
	struct outcome		o;
	int			ok;

	ok = frame_all_splits((const uint8_t *)msg, sizeof(msg) - 1, 17, 0,
	    &o);
	T_OK(ok && o.bad == FRAMER_GOOD && buf_len(o.content) == 17,
	    "content exactly at the limit is good");
	buf_free(o.content);
	ok = frame_all_splits((const uint8_t *)msg, sizeof(msg) - 1, 16, 0,
	    &o);
	T_OK(ok, "too big: same result for every split");
	T_EQ_INT(o.bad, FRAMER_TOO_BIG, "one octet over the limit");
	T_EQ_INT(o.bad_off, 16, "too big: mark at the first octet over");
	T_EQ_INT(o.end, sizeof(msg) - 1, "too big: end still found");
	T_OK(buf_len(o.content) <= 16, "too big: never more than the limit");
	buf_free(o.content);

	/* Two problems: the one at the smaller offset is reported. */
	ok = frame_all_splits((const uint8_t *)"0123456789ABCDEFGH\0\r\n.\r\n",
	    24, 16, 0, &o);
	T_OK(ok && o.bad == FRAMER_TOO_BIG && o.bad_off == 16,
	    "limit before a NUL: too big, for every split");
	buf_free(o.content);
	ok = frame_all_splits((const uint8_t *)"01234\0" "6789ABCDEFGH\r\n.\r\n",
	    23, 16, 0, &o);
	T_OK(ok && o.bad == FRAMER_NUL && o.bad_off == 5,
	    "NUL before the limit: NUL, for every split");
	buf_free(o.content);
	/* One octet with two problems: the CR at offset 16 is past the
	 * limit and bare.  Found by the fuzzer: a read ending right after
	 * the CR used to report the limit, a whole read the bare CR. */
	ok = frame_all_splits((const uint8_t *)"0123456789ABCDEF\r\0x\r\n.\r\n",
	    24, 16, 0, &o);
	T_OK(ok && o.bad == FRAMER_BARE_CR && o.bad_off == 16,
	    "bare CR at the limit: bare CR, for every split");
	buf_free(o.content);
	ok = frame_all_splits((const uint8_t *)"0123456789ABCDEF\n\r\n.\r\n",
	    22, 16, 0, &o);
	T_OK(ok && o.bad == FRAMER_BARE_LF && o.bad_off == 16,
	    "bare LF at the limit: bare LF, for every split");
	buf_free(o.content);

	frame_pieces((const uint8_t *)msg, sizeof(msg) - 1, NULL, 0, 0, 1,
	    &o);
	T_EQ_INT(o.bad, FRAMER_SINK_FAILED, "sink failure marks the message");
	T_EQ_INT(o.end, sizeof(msg) - 1, "sink failure: end still found");
	T_EQ_INT(o.sink_calls, 1, "sink not called after it failed");
	buf_free(o.content);
}

static void
test_after_end(void)
{
	struct sink_ctx		 s = { buf_new(0), 0, 0 };
	struct framer		*f = framer_new(0, sink, &s);
	enum framer_status	 st;
	size_t			 used;

	st = framer_feed(f, (const uint8_t *)"x\r\n.\r\nRSET\r\n", 12, &used);
	T_EQ_INT(st, FRAMER_END, "end found");
	T_EQ_INT(used, 6, "end found at its octet");
	st = framer_feed(f, (const uint8_t *)"RSET\r\n", 6, &used);
	T_EQ_INT(st, FRAMER_END, "after the end: END again");
	T_EQ_INT(used, 0, "after the end: nothing taken");
	T_EQ_INT(framer_wire_bytes(f), 6, "wire bytes");
	T_EQ_INT(framer_content_bytes(f), 3, "content bytes");
	framer_start_data(f);
	st = framer_feed(f, (const uint8_t *)".\r\n", 3, &used);
	T_EQ_INT(st, FRAMER_END, "restart: a new message");
	T_EQ_INT(framer_bad(f, NULL), FRAMER_GOOD, "restart clears the mark");
	framer_free(f);
	buf_free(s.b);
}

/* BDAT: chunks of declared sizes, no stuffing, checks across chunks. */
struct bdat_case {
	const char	*name;
	struct {
		const char	*p;
		size_t		 n;
	} chunks[4];			/* the last one is LAST */
	const char	*content;
	enum framer_bad	 bad;
	long		 bad_off;
};

static void
run_bdat(const struct bdat_case *c, size_t split, struct outcome *o)
{
	struct sink_ctx		 s = { buf_new(0), 0, 0 };
	struct framer		*f = framer_new(0, sink, &s);
	enum framer_status	 st = FRAMER_MORE;
	struct buf		*in = buf_new(0);
	size_t			 i, n, pos, used, piece;
	int			 last;

	framer_start_bdat(f);
	for (i = 0; i < 4 && c->chunks[i].p != NULL; i++) {
		n = c->chunks[i].n;
		last = i == 3 || c->chunks[i + 1].p == NULL;
		buf_reset(in);
		buf_append(in, c->chunks[i].p, n);
		buf_append_str(in, "NEXT\r\n");	/* the next command */
		framer_bdat_chunk(f, n, last);
		pos = 0;
		do {
			piece = split == 0 ? buf_len(in) - pos : split;
			if (piece > buf_len(in) - pos)
				piece = buf_len(in) - pos;
			st = framer_feed(f, buf_data(in) + pos, piece, &used);
			pos += used;
		} while (st == FRAMER_MORE && pos < buf_len(in));
		if (pos != n || st != (last ? FRAMER_END : FRAMER_CHUNK))
			o->end = NO_END;
	}
	o->content = s.b;
	o->bad = framer_bad(f, &o->bad_off);
	o->has8bit = framer_has_8bit(f);
	framer_free(f);
	buf_free(in);
}

static void
test_bdat(void)
{
	static const struct bdat_case cases[] = {
		{ "one chunk", { { S("a\r\nb\r\n") } }, "a\r\nb\r\n",
		    FRAMER_GOOD, -1 },
		{ "dots are not stuffing", { { S(".\r\n..\r\n") } },
		    ".\r\n..\r\n", FRAMER_GOOD, -1 },
		{ "CRLF split across chunks",
		    { { S("a\r") }, { S("\nb\r\n") } }, "a\r\nb\r\n",
		    FRAMER_GOOD, -1 },
		{ "empty LAST chunk", { { S("a\r\n") }, { S("") } }, "a\r\n",
		    FRAMER_GOOD, -1 },
		{ "no final CRLF is allowed", { { S("a\r\nb") } }, "a\r\nb",
		    FRAMER_GOOD, -1 },
		{ "bare CR across chunks", { { S("a\r") }, { S("b\r\n") } },
		    NULL, FRAMER_BARE_CR, 1 },
		{ "bare LF", { { S("a\r\n") }, { S("b\nc\r\n") } }, NULL,
		    FRAMER_BARE_LF, 4 },
		{ "CR as the last octet", { { S("a\r\n") }, { S("b\r") } },
		    NULL, FRAMER_BARE_CR, 4 },
		{ "CR before an empty LAST chunk",
		    { { S("a\r") }, { S("") } }, NULL, FRAMER_BARE_CR, 1 },
		{ "NUL", { { S("a\0b\r\n") } }, NULL, FRAMER_NUL, 1 },
	};
	struct outcome	o;
	size_t		i, split;
	int		ok;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ok = 1;
		for (split = 0; split <= 3; split++) {
			o.end = 0;
			run_bdat(&cases[i], split, &o);
			ok = ok && o.end == 0 && o.bad == cases[i].bad &&
			    (cases[i].bad_off < 0 ||
			    o.bad_off == (uint64_t)cases[i].bad_off) &&
			    (cases[i].content == NULL ||
			    eq_bytes(buf_data(o.content), buf_len(o.content),
			    cases[i].content, strlen(cases[i].content)));
			buf_free(o.content);
		}
		T_OK(ok, "BDAT %s (whole, 1, 2 and 3-octet pieces)",
		    cases[i].name);
	}
}

/* Every CR is followed by LF, every LF preceded by CR, no NUL. */
static int
wire_safe(const uint8_t *p, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\0')
			return 0;
		if (p[i] == '\r' && (i + 1 >= n || p[i + 1] != '\n'))
			return 0;
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			return 0;
	}
	return 1;
}

static int
collect(void *arg, const uint8_t *p, size_t n)
{
	return buf_append(arg, p, n);
}

/* Write content through the writer, split at cut (or whole). */
static int
write_content(const char *c, size_t n, size_t cut, struct buf *wire)
{
	struct framer_writer	*w = framer_writer_new(collect, wire);
	int			 rc;

	if (cut > n)
		cut = n;
	rc = framer_writer_put(w, (const uint8_t *)c, cut);
	if (rc == 0)
		rc = framer_writer_put(w, (const uint8_t *)c + cut, n - cut);
	if (rc == 0)
		rc = framer_writer_end(w);
	framer_writer_free(w);
	return rc;
}

static void
test_writer(void)
{
	static const struct {
		const char	*name;
		const char	*content;
		size_t		 len;
		const char	*wire;		/* NULL: refused */
	} cases[] = {
		{ "empty", S(""), ".\r\n" },
		{ "one line", S("a\r\n"), "a\r\n.\r\n" },
		{ "SM-08 lines stuffed", S(".\r\n..\r\n...x\r\n.\t\r\n"),
		    "..\r\n...\r\n....x\r\n..\t\r\n.\r\n" },
		{ "content that looks like the end",
		    S("x\r\n.\r\nMAIL FROM:<a@b>\r\n"),
		    "x\r\n..\r\nMAIL FROM:<a@b>\r\n.\r\n" },
		{ "no final CRLF gets one", S("abc"), "abc\r\n.\r\n" },
		{ "dot without final CRLF", S("."), "..\r\n.\r\n" },
		{ "bare LF refused", S("a\nb\r\n"), NULL },
		{ "bare CR refused", S("a\rb\r\n"), NULL },
		{ "CR CR LF refused", S("a\r\r\n"), NULL },
		{ "NUL refused", S("a\0b\r\n"), NULL },
		{ "CR at the very end refused", S("a\r"), NULL },
		{ "LF dot LF refused", S("a\n.\n"), NULL },
		{ "CRLF then a bare LF refused", S("a\r\n\nb"), NULL },
		{ "CR CR refused", S("a\r\r"), NULL },
	};
	struct buf	*wire;
	struct outcome	 o;
	size_t		 i, cut;
	int		 ok, rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ok = 1;
		for (cut = 0; cut <= cases[i].len; cut++) {
			wire = buf_new(0);
			rc = write_content(cases[i].content, cases[i].len,
			    cut, wire);
			ok = ok && wire_safe(buf_data(wire), buf_len(wire));
			if (cases[i].wire == NULL)
				ok = ok && rc == -1;
			else
				ok = ok && rc == 0 &&
				    eq_bytes(buf_data(wire), buf_len(wire),
				    cases[i].wire, strlen(cases[i].wire));
			buf_free(wire);
		}
		T_OK(ok, "writer: %s (every split)", cases[i].name);
		if (cases[i].wire == NULL)
			continue;
		/* Round trip: frame(write(content)) == content (+ CRLF). */
		wire = buf_new(0);
		write_content(cases[i].content, cases[i].len, 0, wire);
		frame_pieces(buf_data(wire), buf_len(wire), NULL, 0, 0, 0, &o);
		T_OK(o.end == buf_len(wire) && o.bad == FRAMER_GOOD &&
		    buf_len(o.content) >= cases[i].len &&
		    eq_bytes(buf_data(o.content), cases[i].len,
		    cases[i].content, cases[i].len), "writer: %s frames back",
		    cases[i].name);
		buf_free(o.content);
		buf_free(wire);
	}
}

/* BDAT towards the upstream: the same checks, nothing added. */
static void
test_writer_raw(void)
{
	static const struct {
		const char	*name;
		const char	*content;
		size_t		 len;
		int		 ok;
	} cases[] = {
		{ "empty", S(""), 1 },
		{ "dot lines kept as they are", S(".\r\n..\r\n.x\r\n"), 1 },
		{ "no final CRLF refused (size already sent)", S("abc"), 0 },
		{ "bare LF refused", S("a\nb\r\n"), 0 },
		{ "bare CR refused", S("a\rb\r\n"), 0 },
		{ "NUL refused", S("a\0b\r\n"), 0 },
	};
	struct framer_writer	*w;
	struct buf		*wire;
	size_t			 i, cut;
	int			 ok, rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ok = 1;
		for (cut = 0; cut <= cases[i].len; cut++) {
			wire = buf_new(0);
			w = framer_writer_new(collect, wire);
			framer_writer_reset_raw(w);
			rc = framer_writer_put(w,
			    (const uint8_t *)cases[i].content, cut);
			if (rc == 0)
				rc = framer_writer_put(w, (const uint8_t *)
				    cases[i].content + cut, cases[i].len - cut);
			if (rc == 0)
				rc = framer_writer_end(w);
			ok = ok && wire_safe(buf_data(wire), buf_len(wire));
			if (cases[i].ok)
				ok = ok && rc == 0 && eq_bytes(buf_data(wire),
				    buf_len(wire), cases[i].content,
				    cases[i].len);
			else
				ok = ok && rc == -1;
			/* The next message starts stuffed again. */
			framer_writer_reset(w);
			buf_reset(wire);
			ok = ok && framer_writer_put(w, (const uint8_t *)
			    ".\r\n", 3) == 0 && framer_writer_end(w) == 0 &&
			    eq_bytes(buf_data(wire), buf_len(wire),
			    "..\r\n.\r\n", 7);
			framer_writer_free(w);
			buf_free(wire);
		}
		T_OK(ok, "raw writer: %s (every split)", cases[i].name);
	}
}

static int
failing_out(void *arg, const uint8_t *p, size_t n)
{
	(void)arg;
	(void)p;
	(void)n;
	return -1;
}

static void
test_writer_sticky(void)
{
	struct framer_writer	*w = framer_writer_new(failing_out, NULL);
	struct buf		*wire = buf_new(0);
	int			 rc;

	rc = framer_writer_put(w, (const uint8_t *)"a\r\n", 3);
	T_EQ_INT(rc, -1, "writer: output failure reported");
	rc = framer_writer_end(w);
	T_EQ_INT(rc, -1, "writer: failure is sticky");
	framer_writer_free(w);
	w = framer_writer_new(collect, wire);
	rc = framer_writer_put(w, (const uint8_t *)"a\nb", 3);
	T_EQ_INT(rc, -1, "writer: bare LF refused");
	rc = framer_writer_put(w, (const uint8_t *)"c\r\n", 3);
	T_EQ_INT(rc, -1, "writer: refused until reset");
	T_EQ_INT(buf_len(wire), 0, "writer: nothing of a bad line emitted");
	framer_writer_reset(w);
	rc = framer_writer_put(w, (const uint8_t *)"c\r\n", 3);
	T_EQ_INT(rc, 0, "writer: usable after reset");
	rc = framer_writer_end(w);
	T_EQ_INT(rc, 0, "writer: end after reset");
	T_EQ_MEM(buf_data(wire), buf_len(wire), "c\r\n.\r\n", 6,
	    "writer: output after reset");
	framer_writer_free(w);
	buf_free(wire);
}

/* A 100 KiB message through the framer in 4 KiB reads. */
static void
test_large(void)
{
	struct buf	*in = buf_new(0), *want = buf_new(0);
	struct outcome	 o;
	size_t		*cuts, n, i;

	for (i = 0; buf_len(in) < 100 * 1024; i++) {
		if (i % 7 == 0) {
			buf_append_str(in, "..dotted line\r\n");
			buf_append_str(want, ".dotted line\r\n");
		} else {
			buf_printf(in, "line %zu of a long body text\r\n", i);
			buf_printf(want, "line %zu of a long body text\r\n", i);
		}
	}
	buf_append_str(in, ".\r\n");
	n = buf_len(in) / 4096;
	cuts = malloc((n + 1) * sizeof(*cuts));
	for (i = 0; i < n; i++)
		cuts[i] = (i + 1) * 4096;
	frame_pieces(buf_data(in), buf_len(in), cuts, n, 0, 0, &o);
	T_EQ_INT(o.end, buf_len(in), "100 KiB: end found");
	T_EQ_INT(o.bad, FRAMER_GOOD, "100 KiB: good");
	T_EQ_MEM(buf_data(o.content), buf_len(o.content), buf_data(want),
	    buf_len(want), "100 KiB: content unstuffed");
	free(cuts);
	buf_free(o.content);
	buf_free(in);
	buf_free(want);
}

static void
test_names(void)
{
	T_EQ_STR(framer_bad_reply(FRAMER_BARE_LF),
	    "550 5.5.2 Error: bare <LF> received", "reply for bare LF");
	T_EQ_STR(framer_bad_reply(FRAMER_BARE_CR),
	    "550 5.5.2 Error: bare <CR> received", "reply for bare CR");
	T_EQ_STR(framer_bad_reply(FRAMER_NUL),
	    "554 5.6.0 Error: message contains NUL octets", "reply for NUL");
	T_EQ_STR(framer_bad_reply(FRAMER_LINE_TOO_LONG),
	    "554 5.6.0 Error: line longer than 998 octets (RFC 5322 2.1.1)",
	    "reply for a long line");
	T_EQ_STR(framer_bad_reply(FRAMER_TOO_BIG),
	    "552 5.3.4 Error: message too big", "reply for too big");
	T_OK(framer_bad_reply(FRAMER_GOOD) == NULL, "no reply when good");
	T_EQ_STR(framer_bad_name(FRAMER_BARE_LF), "bare_lf", "log token");
}

static void
test_context(void)
{
	struct sink_ctx	 s = { buf_new(0), 0, 0 };
	struct framer	*f = framer_new(0, sink, &s);
	const uint8_t	*ctx;
	size_t		 used, len;
	static const char in[] = "Subject: hi\r\nbody\n.\nMAIL FROM:<x@y>"
	    "\r\n.\r\n";

	framer_feed(f, (const uint8_t *)in, sizeof(in) - 1, &used);
	ctx = framer_bad_context(f, &len);
	T_OK(len > 0 && len <= FRAMER_CTX_MAX && memmem(ctx, len, "\n.\n",
	    3) != NULL, "context around the bad mark for the log");
	framer_free(f);
	buf_free(s.b);
}

int
main(void)
{
	test_data_table();
	test_smuggling();
	test_line_length();
	test_long_header_lines();
	test_limits();
	test_after_end();
	test_bdat();
	test_writer();
	test_writer_raw();
	test_writer_sticky();
	test_large();
	test_names();
	test_context();
	return t_done();
}
