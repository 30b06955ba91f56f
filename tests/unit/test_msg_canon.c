/*
 * Unit tests for proxy/msg/canon: RFC 6376 3.4 header and body
 * canonicalization, the RFC's own examples, the DK-09/DK-14 corner
 * cases, and streaming: every body vector is also fed one octet at a
 * time and split at every position (and at every pair of positions for
 * short vectors), which must never change the output.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proxy/msg/buf.h"
#include "proxy/msg/canon.h"
#include "proxy/msg/hash.h"
#include "proxy/msg/hdr.h"
#include "tests/unit/t.h"

#define LEN(s)	(sizeof(s) - 1)

struct hcase {
	const char	*name;
	const char	*in;
	size_t		 inlen;
	const char	*relaxed;	/* NULL: relaxed must fail */
};

/*
 * The first two rows are RFC 6376 3.4.5, transcribed from
 * ../shared/conformance/rfc6376/canonicalization-examples.yaml.
 */
static const struct hcase hcases[] = {
#define H(n, i, r)	{ n, i, LEN(i), r }
	H("rfc6376 3.4.5 A", "A: X\r\n", "a:X\r\n"),
	H("rfc6376 3.4.5 B (WSP before colon, fold)",
	    "B : Y\t\r\n\tZ  \r\n", "b:Y Z\r\n"),
	H("value on the next line (DK-09)", "Subject:\r\n value\r\n",
	    "subject:value\r\n"),
	H("tabs and runs", "SUBJECT: \t a \t b \t \r\n", "subject:a b\r\n"),
	H("empty value", "X:\r\n", "x:\r\n"),
	H("value of WSP only", "X: \t \r\n", "x:\r\n"),
	H("several folds", "X:a\r\n b\r\n\tc\r\n", "x:a b c\r\n"),
	H("fold inside a run", "X: a \r\n \t b\r\n", "x:a b\r\n"),
	H("trailing fold WSP", "X: a\r\n  \tb  \t\r\n", "x:a b\r\n"),
	H("name case, tag list",
	    "DKIM-Signature: v=1;\r\n a=rsa-sha256; d=Example.COM\r\n",
	    "dkim-signature:v=1; a=rsa-sha256; d=Example.COM\r\n"),
	H("UTF-8 value kept as is", "Subject: caf\xc3\xa9  ol\xc3\xa9\r\n",
	    "subject:caf\xc3\xa9 ol\xc3\xa9\r\n"),
	H("colon in value", "X-A:b:c : d\r\n", "x-a:b:c : d\r\n"),
	H("no final CRLF", "X: a ", "x:a\r\n"),
	H("no colon", "NoColon\r\n", NULL),
#undef H
};

static void
test_header(void)
{
	struct buf	*b;
	size_t		 i;
	int		 rc;

	for (i = 0; i < sizeof(hcases) / sizeof(hcases[0]); i++) {
		b = buf_new(0);
		buf_append(b, "pre", 3);
		rc = canon_header(CANON_RELAXED, (const uint8_t *)hcases[i].in,
		    hcases[i].inlen, b);
		if (hcases[i].relaxed == NULL) {
			T_OK(rc == -1, "relaxed header %s: refused",
			    hcases[i].name);
			T_EQ_MEM(buf_data(b), buf_len(b), "pre", 3,
			    "refused header leaves the buffer as it was");
		} else {
			T_OK(rc == 0, "relaxed header %s: ok", hcases[i].name);
			T_EQ_MEM(buf_data(b) + 3, buf_len(b) - 3,
			    hcases[i].relaxed, strlen(hcases[i].relaxed),
			    hcases[i].name);
		}
		buf_reset(b);
		T_OK(canon_header(CANON_SIMPLE, (const uint8_t *)hcases[i].in,
		    hcases[i].inlen, b) == 0, "simple header %s: ok",
		    hcases[i].name);
		T_EQ_MEM(buf_data(b), buf_len(b), hcases[i].in, hcases[i].inlen,
		    "simple header is the input unchanged");
		buf_free(b);
	}
}

struct bcase {
	const char	*name;
	const char	*in;
	size_t		 inlen;
	const char	*simple;
	size_t		 simplelen;
	const char	*relaxed;
	size_t		 relaxedlen;
};

static const struct bcase bcases[] = {
#define B(n, i, s, r)	{ n, i, LEN(i), s, LEN(s), r, LEN(r) }
	/* RFC 6376 3.4.5, from canonicalization-examples.yaml. */
	B("rfc6376 3.4.5 body", " C \r\nD \t E\r\n\r\n\r\n",
	    " C \r\nD \t E\r\n", " C\r\nD E\r\n"),
	/* DK-14 and RFC 6376 3.4.3/3.4.4 corner cases. */
	B("empty body", "", "\r\n", ""),
	B("one CRLF", "\r\n", "\r\n", ""),
	B("two CRLFs (DK-14)", "\r\n\r\n", "\r\n", ""),
	B("only CRLFs", "\r\n\r\n\r\n", "\r\n", ""),
	B("WSP-only lines", " \r\n\t\r\n", " \r\n\t\r\n", ""),
	B("trailing WSP-only lines", "x\r\n \r\n\t\r\n",
	    "x\r\n \r\n\t\r\n", "x\r\n"),
	B("no final CRLF", "abc", "abc\r\n", "abc\r\n"),
	B("no final CRLF, trailing WSP", "abc \t", "abc \t\r\n", "abc\r\n"),
	B("WSP-only last line without CRLF", "a\r\n  ", "a\r\n  \r\n",
	    "a\r\n"),
	B("leading empty line kept", "\r\nabc\r\n", "\r\nabc\r\n",
	    "\r\nabc\r\n"),
	B("inner empty lines kept", "a\r\n\r\n\r\nb\r\n\r\n",
	    "a\r\n\r\n\r\nb\r\n", "a\r\n\r\n\r\nb\r\n"),
	B("inner WSP line becomes empty", "a\r\n \t \r\nb\r\n",
	    "a\r\n \t \r\nb\r\n", "a\r\n\r\nb\r\n"),
	B("leading WSP becomes one SP", "\t\t a  b \r\n",
	    "\t\t a  b \r\n", " a b\r\n"),
	B("single spaces untouched", "one two three\r\nfour five\r\n",
	    "one two three\r\nfour five\r\n",
	    "one two three\r\nfour five\r\n"),
	B("tab between words", "a\tb\r\n", "a\tb\r\n", "a b\r\n"),
	B("lone CR is an octet", "a\rb\r\n", "a\rb\r\n", "a\rb\r\n"),
	B("CR before CRLF", "a \r\r\n", "a \r\r\n", "a \r\r\n"),
	B("CR at the very end", "a\r", "a\r\r\n", "a\r\r\n"),
	B("CR after the last CRLF", "a\r\n\r", "a\r\n\r\r\n",
	    "a\r\n\r\r\n"),
	B("lone LF is an octet", "a\nb\r\n", "a\nb\r\n", "a\nb\r\n"),
	B("8-bit and controls", "\xc3\xa9\x0c \x01\r\n",
	    "\xc3\xa9\x0c \x01\r\n", "\xc3\xa9\x0c \x01\r\n"),
	B("dot lines", ".\r\n..\r\n", ".\r\n..\r\n", ".\r\n..\r\n"),
	/*
	 * Relaxed scans content 16 and 8 octets at a time: stops right at,
	 * before and after such a boundary, WSP runs longer than a block,
	 * and controls that look like stops but are content.
	 */
	B("WSP run longer than a block",
	    "a \t                  \t b\r\n",
	    "a \t                  \t b\r\n", "a b\r\n"),
	B("SP ending a block, content after",
	    "abcdefghijklmno pqrstuvwxyzABCDEF G\r\n",
	    "abcdefghijklmno pqrstuvwxyzABCDEF G\r\n",
	    "abcdefghijklmno pqrstuvwxyzABCDEF G\r\n"),
	B("SP ending a block, SP after",
	    "abcdefghijklmno  pqrstuvwxyzABCDE  G\r\n",
	    "abcdefghijklmno  pqrstuvwxyzABCDE  G\r\n",
	    "abcdefghijklmno pqrstuvwxyzABCDE G\r\n"),
	B("TAB and CRLF at block ends",
	    "abcdefghijklmno\tpqrstuvwxyzABCD\r\nEFGHIJKLMNOPQRS\t\r\n",
	    "abcdefghijklmno\tpqrstuvwxyzABCD\r\nEFGHIJKLMNOPQRS\t\r\n",
	    "abcdefghijklmno pqrstuvwxyzABCD\r\nEFGHIJKLMNOPQRS\r\n"),
	B("SP before a lone LF or control stays",
	    "one two three four \nfive \x01 six seven\r\n",
	    "one two three four \nfive \x01 six seven\r\n",
	    "one two three four \nfive \x01 six seven\r\n"),
	B("runs ending in SP, CRLF, or both",
	    "a\t b \r\nc \r\n d\t\te \r\n \r\n\tf\r\n",
	    "a\t b \r\nc \r\n d\t\te \r\n \r\n\tf\r\n",
	    "a b\r\nc\r\n d e\r\n\r\n f\r\n"),
#undef B
};

/* The sink under test: collects everything, counts calls. */
struct collect {
	struct buf	*b;
	size_t		 calls;
	size_t		 fail_after;	/* 0: never fail */
	size_t		 empty;		/* calls with no octets */
};

static int
collect_sink(void *ctx, const uint8_t *p, size_t n)
{
	struct collect	*c = ctx;

	c->calls++;
	if (c->fail_after != 0 && c->calls > c->fail_after)
		return -1;
	if (n == 0)
		c->empty++;
	return buf_append(c->b, p, n);
}

/*
 * Canonicalize in chunks ending at the given cut points (sorted, each at
 * most len); returns the output in out.
 */
static int
run_cuts(enum canon_alg alg, const char *in, size_t len, const size_t *cuts,
    size_t ncuts, struct buf *out)
{
	struct canon_body	*cb;
	struct collect		 c = { out, 0, 0, 0 };
	size_t			 k, prev = 0;
	int			 rc = -1;

	if ((cb = canon_body_new(alg, collect_sink, &c)) == NULL)
		return -1;
	for (k = 0; k < ncuts; k++) {
		if (canon_body_update(cb, (const uint8_t *)in + prev,
		    cuts[k] - prev) == -1)
			goto done;
		prev = cuts[k];
	}
	if (canon_body_update(cb, (const uint8_t *)in + prev, len - prev) ==
	    -1 || canon_body_final(cb) == -1)
		goto done;
	/* An empty span would be a wasted call into the digest. */
	rc = c.empty == 0 ? 0 : -1;
 done:
	canon_body_free(cb);
	return rc;
}

static int
same(const struct buf *b, const char *want, size_t wantlen)
{
	return buf_len(b) == wantlen &&
	    (wantlen == 0 || memcmp(buf_data(b), want, wantlen) == 0);
}

/* Every split of one vector; reports one line per (vector, alg, mode). */
static void
check_body(const struct bcase *bc, enum canon_alg alg)
{
	const char	*want = alg == CANON_SIMPLE ? bc->simple : bc->relaxed;
	size_t		 wantlen = alg == CANON_SIMPLE ? bc->simplelen :
			    bc->relaxedlen;
	struct buf	*b = buf_new(0);
	size_t		*cuts, i, j;
	int		 ok;

	if (b == NULL || (cuts = calloc(bc->inlen + 2, sizeof(*cuts))) == NULL)
		abort();
	T_OK(run_cuts(alg, bc->in, bc->inlen, NULL, 0, b) == 0,
	    "%s %s: whole", canon_alg_name(alg), bc->name);
	T_EQ_MEM(buf_data(b), buf_len(b), want, wantlen, bc->name);

	for (i = 0; i < bc->inlen; i++)
		cuts[i] = i;
	buf_reset(b);
	ok = run_cuts(alg, bc->in, bc->inlen, cuts, bc->inlen, b) == 0;
	T_OK(ok && same(b, want, wantlen),
	    "%s %s: one octet at a time", canon_alg_name(alg), bc->name);

	ok = 1;
	for (i = 0; i <= bc->inlen && ok; i++) {
		buf_reset(b);
		cuts[0] = i;
		ok = run_cuts(alg, bc->in, bc->inlen, cuts, 1, b) == 0 &&
		    same(b, want, wantlen);
	}
	T_OK(ok, "%s %s: split at every position", canon_alg_name(alg),
	    bc->name);
	if (!ok)
		t_diag_bytes("at split", bc->in, i - 1);

	ok = 1;
	for (i = 0; i <= bc->inlen && ok; i++) {
		for (j = i; j <= bc->inlen && ok; j++) {
			buf_reset(b);
			cuts[0] = i;
			cuts[1] = j;
			ok = run_cuts(alg, bc->in, bc->inlen, cuts, 2, b) ==
			    0 && same(b, want, wantlen);
		}
	}
	T_OK(ok, "%s %s: split at every pair of positions",
	    canon_alg_name(alg), bc->name);
	free(cuts);
	buf_free(b);
}

static void
test_body(void)
{
	size_t	i;

	for (i = 0; i < sizeof(bcases) / sizeof(bcases[0]); i++) {
		check_body(&bcases[i], CANON_SIMPLE);
		check_body(&bcases[i], CANON_RELAXED);
	}
}

/*
 * Long runs: more held CRLFs than any internal batch, WSP runs longer
 * than the staging buffer, a body larger than it.  The expected output
 * is built from the rules, not from the code.
 */
static void
test_body_long(void)
{
	/* 335 octets of words: longer than any span relaxed copies. */
	static const char	 long_line[] =
	    " Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed"
	    " do eiusmod tempor incididunt ut labore et dolore magna aliqua."
	    " Ut enim ad minim veniam, quis nostrud exercitation ullamco"
	    " laboris nisi ut aliquip ex ea commodo consequat. Duis aute"
	    " irure dolor in reprehenderit in voluptate velit esse cillum"
	    " dolore eu fugiat nulla pariatur.";
	static const char	*tails[] = { "a", "bc", "quick brown",
	    "fox jumps over", "the lazy dog." };
	struct buf	*in = buf_new(0), *want = buf_new(0), *got = buf_new(0);
	size_t		 i, cuts[3];

	/* 1000 empty lines, then text: all kept, in both algorithms. */
	for (i = 0; i < 1000; i++)
		buf_append(in, "\r\n", 2);
	buf_append(in, "x\r\n", 3);
	T_OK(run_cuts(CANON_SIMPLE, (const char *)buf_data(in), buf_len(in),
	    NULL, 0, got) == 0, "1000 empty lines then text: simple");
	T_EQ_MEM(buf_data(got), buf_len(got), buf_data(in), buf_len(in),
	    "simple keeps 1000 inner empty lines");
	buf_reset(got);
	cuts[0] = 999;
	T_OK(run_cuts(CANON_RELAXED, (const char *)buf_data(in), buf_len(in),
	    cuts, 1, got) == 0, "1000 empty lines then text: relaxed");
	T_EQ_MEM(buf_data(got), buf_len(got), buf_data(in), buf_len(in),
	    "relaxed keeps 1000 inner empty lines");

	/* 20000 WSP between two words, split inside the run. */
	buf_reset(in);
	buf_reset(got);
	buf_append(in, "a", 1);
	for (i = 0; i < 20000; i++)
		buf_append(in, i % 3 == 0 ? "\t" : " ", 1);
	buf_append(in, "b  \r\n\r\n", 7);
	cuts[0] = 5;
	cuts[1] = 10000;
	cuts[2] = 20001;
	T_OK(run_cuts(CANON_RELAXED, (const char *)buf_data(in), buf_len(in),
	    cuts, 3, got) == 0, "20000 WSP run: relaxed");
	T_EQ_MEM(buf_data(got), buf_len(got), "a b\r\n", 5,
	    "a 20000-octet WSP run becomes one SP");

	/* 100 KiB of lines with tabs: relaxed equals the per-line rule. */
	buf_reset(in);
	buf_reset(got);
	for (i = 0; i < 2000; i++) {
		buf_printf(in, "line %zu\twith  some text \r\n", i);
		buf_printf(want, "line %zu with some text\r\n", i);
	}
	buf_append(in, "\r\n \r\n", 5);
	cuts[0] = 4096;
	cuts[1] = 8193;
	cuts[2] = buf_len(in) - 3;
	T_OK(run_cuts(CANON_RELAXED, (const char *)buf_data(in), buf_len(in),
	    cuts, 3, got) == 0, "2000-line body: relaxed");
	T_EQ_MEM(buf_data(got), buf_len(got), buf_data(want), buf_len(want),
	    "2000-line body: relaxed output");

	/* Long clean spans between changed WSP, cut inside both. */
	buf_reset(in);
	buf_reset(want);
	buf_reset(got);
	for (i = 0; i < 300; i++) {
		buf_printf(in, "%zu%s  %s \r\n", i, long_line,
		    tails[i % (sizeof(tails) / sizeof(tails[0]))]);
		buf_printf(want, "%zu%s %s\r\n", i, long_line,
		    tails[i % (sizeof(tails) / sizeof(tails[0]))]);
	}
	cuts[0] = 333;
	cuts[1] = 4097;
	cuts[2] = buf_len(in) - 1;
	T_OK(run_cuts(CANON_RELAXED, (const char *)buf_data(in), buf_len(in),
	    cuts, 3, got) == 0, "long clean spans: relaxed");
	T_EQ_MEM(buf_data(got), buf_len(got), buf_data(want), buf_len(want),
	    "long clean spans: relaxed output");
	buf_free(in);
	buf_free(want);
	buf_free(got);
}

/* A simple body goes to the sink in few, long spans (the speed goal). */
static void
test_spans(void)
{
	struct buf		*in = buf_new(0), *out = buf_new(0);
	struct canon_body	*cb;
	struct collect		 c = { out, 0, 0, 0 };
	size_t			 i;

	for (i = 0; i < 2000; i++)
		buf_printf(in, "line %zu of a message body\r\n", i);
	cb = canon_body_new(CANON_SIMPLE, collect_sink, &c);
	T_OK(canon_body_update(cb, buf_data(in), buf_len(in)) == 0 &&
	    canon_body_final(cb) == 0, "simple: one large chunk");
	T_OK(c.calls <= 3, "simple: a large chunk takes at most 3 sink "
	    "calls (got %zu)", c.calls);
	canon_body_free(cb);

	buf_reset(out);
	c.calls = 0;
	cb = canon_body_new(CANON_RELAXED, collect_sink, &c);
	T_OK(canon_body_update(cb, buf_data(in), buf_len(in)) == 0 &&
	    canon_body_final(cb) == 0, "relaxed: one large chunk");
	T_OK(c.calls <= buf_len(in) / 4096 + 2, "relaxed: sink called per "
	    "staging buffer, not per line (got %zu for %zu octets)",
	    c.calls, buf_len(in));
	T_EQ_MEM(buf_data(out), buf_len(out), buf_data(in), buf_len(in),
	    "relaxed leaves a clean body unchanged");
	canon_body_free(cb);
	buf_free(in);
	buf_free(out);
}

/* A failing sink fails the machine, and it stays failed. */
static void
test_sink_failure(void)
{
	static const struct {
		enum canon_alg	 alg;
		const char	*in;
	} cases[] = {
		{ CANON_SIMPLE, "a\r\n\r\nb" },
		{ CANON_RELAXED, "a\r\n\r\nb" },
	};
	struct buf		*b = buf_new(0);
	struct canon_body	*cb;
	struct collect		 c;
	size_t			 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&c, 0, sizeof(c));
		c.b = b;
		c.fail_after = 1;
		cb = canon_body_new(cases[i].alg, collect_sink, &c);
		T_OK(canon_body_update(cb, (const uint8_t *)"x", 1) == 0,
		    "%s: first chunk reaches the sink",
		    canon_alg_name(cases[i].alg));
		T_OK(canon_body_update(cb, (const uint8_t *)cases[i].in,
		    strlen(cases[i].in)) == -1, "%s: sink failure reported",
		    canon_alg_name(cases[i].alg));
		T_OK(canon_body_update(cb, (const uint8_t *)"y", 1) == -1,
		    "%s: failed machine refuses more input",
		    canon_alg_name(cases[i].alg));
		T_OK(canon_body_final(cb) == -1, "%s: failed machine refuses "
		    "final", canon_alg_name(cases[i].alg));
		canon_body_free(cb);
	}
	canon_body_free(NULL);
	buf_free(b);
}

static void
test_alg_names(void)
{
	static const struct {
		const char	*s;
		int		 rc;
		enum canon_alg	 alg;
	} cases[] = {
		{ "simple", 0, CANON_SIMPLE },
		{ "relaxed", 0, CANON_RELAXED },
		{ "Relaxed", -1, 0 },
		{ "simpl", -1, 0 },
		{ "relaxedx", -1, 0 },
		{ "", -1, 0 },
	};
	enum canon_alg	alg;
	size_t		i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		alg = CANON_SIMPLE;
		T_OK(canon_parse_alg(cases[i].s, strlen(cases[i].s), &alg) ==
		    cases[i].rc && (cases[i].rc == -1 || alg == cases[i].alg),
		    "canon_parse_alg(\"%s\")", cases[i].s);
	}
	T_EQ_STR(canon_alg_name(CANON_SIMPLE), "simple", "name of simple");
	T_EQ_STR(canon_alg_name(CANON_RELAXED), "relaxed", "name of relaxed");
}

/*
 * RFC 6376 3.4.3/3.4.4: the SHA-256 of the empty body, as given in
 * ../shared/conformance/rfc6376/canonicalization-examples.yaml.
 */
static void
test_empty_body_hashes(void)
{
	static const struct {
		enum canon_alg	 alg;
		const char	*b64;
	} cases[] = {
		{ CANON_SIMPLE,
		    "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=" },
		{ CANON_RELAXED,
		    "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" },
	};
	struct hash_body	*hb;
	uint8_t			 d[HASH_SHA256_LEN];
	char			 b64[64];
	size_t			 i;
	int			 slot;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		hb = hash_body_new();
		slot = hash_body_want(hb, cases[i].alg, -1);
		T_OK(slot >= 0 && hash_body_final(hb) == 0 &&
		    hash_body_result(hb, slot, d, NULL) == 0,
		    "empty body hashed (%s)", canon_alg_name(cases[i].alg));
		sodium_bin2base64(b64, sizeof(b64), d, sizeof(d),
		    sodium_base64_VARIANT_ORIGINAL);
		T_EQ_STR(b64, cases[i].b64, "empty body hash");
		hash_body_free(hb);
	}
}

/*
 * RFC 8463 A.3 (../shared/conformance/rfc8463/): the relaxed header
 * canonicalization of the signed fields, split out of signed.eml by hdr,
 * must give expected.yaml's signed_data (transcribed below), and the
 * relaxed body hash its bh=.
 */
static void
test_rfc8463(void)
{
	static const char	 want_hdrs[] =
	    "from:Joe SixPack <joe@football.example.com>\r\n"
	    "to:Suzie Q <suzie@shopping.example.net>\r\n"
	    "subject:Is dinner ready?\r\n"
	    "date:Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
	    "message-id:<20030712040037.46341.5F8J@football.example.com>\r\n";
	static const char	 want_sig[] =
	    "dkim-signature:v=1; a=ed25519-sha256; c=relaxed/relaxed; "
	    "d=football.example.com; i=@football.example.com; q=dns/txt; "
	    "s=brisbane; t=1528637909; h=from : to : subject : date : "
	    "message-id : from : subject : date; "
	    "bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=\r\n";
	static const char	*names[] = { "from", "to", "subject", "date",
	    "message-id" };
	char			 path[1024];
	char			*msg, *sep, b64[64];
	size_t			 len, i, rawlen, cut;
	struct hdr_list		*l = NULL;
	struct buf		*b = buf_new(0), *sig = buf_new(0);
	struct hash_body	*hb = hash_body_new();
	const uint8_t		*raw;
	uint8_t			 d[HASH_SHA256_LEN];
	long			 idx;
	int			 slot;

	snprintf(path, sizeof(path), "%s/conformance/rfc8463/signed.eml",
	    t_shared());
	msg = t_read_file(path, &len);
	sep = strstr(msg, "\r\n\r\n");
	T_OK(sep != NULL, "rfc8463: message has a header/body separator");
	if (sep == NULL)
		goto done;
	T_OK(hdr_parse((const uint8_t *)msg, (size_t)(sep - msg) + 2, NULL,
	    &l, NULL) == HDR_OK, "rfc8463: header section parses");
	if (l == NULL)
		goto done;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		idx = hdr_find_from_bottom(l, names[i], 0);
		raw = hdr_raw(l, (size_t)idx, &rawlen);
		T_OK(idx >= 0 && canon_header(CANON_RELAXED, raw, rawlen,
		    b) == 0, "rfc8463: relaxed %s", names[i]);
	}
	T_EQ_MEM(buf_data(b), buf_len(b), want_hdrs, LEN(want_hdrs),
	    "rfc8463: relaxed signed header fields");

	/* The first DKIM-Signature with its b= value removed. */
	raw = hdr_raw(l, (size_t)hdr_find(l, "DKIM-Signature"), &rawlen);
	for (cut = rawlen; cut > 1; cut--)
		if (raw[cut - 2] == 'b' && raw[cut - 1] == '=')
			break;
	buf_append(sig, raw, cut);
	buf_append(sig, "\r\n", 2);
	buf_reset(b);
	T_OK(canon_header(CANON_RELAXED, buf_data(sig), buf_len(sig), b) == 0,
	    "rfc8463: relaxed DKIM-Signature");
	T_EQ_MEM(buf_data(b), buf_len(b), want_sig, LEN(want_sig),
	    "rfc8463: relaxed DKIM-Signature with b= emptied");

	slot = hash_body_want(hb, CANON_RELAXED, -1);
	T_OK(hash_body_update(hb, (const uint8_t *)sep + 4,
	    len - (size_t)(sep + 4 - msg)) == 0 && hash_body_final(hb) == 0 &&
	    hash_body_result(hb, slot, d, NULL) == 0, "rfc8463: body hashed");
	sodium_bin2base64(b64, sizeof(b64), d, sizeof(d),
	    sodium_base64_VARIANT_ORIGINAL);
	T_EQ_STR(b64, "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=",
	    "rfc8463: relaxed body hash equals bh=");
 done:
	hash_body_free(hb);
	hdr_free(l);
	buf_free(sig);
	buf_free(b);
	free(msg);
}

int
main(void)
{
	test_header();
	test_body();
	test_body_long();
	test_spans();
	test_sink_failure();
	test_alg_names();
	test_empty_body_hashes();
	test_rfc8463();
	return t_done();
}
