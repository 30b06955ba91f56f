/*
 * Unit tests for proxy/msg/dkim: h= selection with n+1 oversigning
 * (hostile-inputs DK-02, DK-05), and the shape of the DKIM-Signature we
 * emit: fixed tag order, t= and x= from the caller's clock, never l=
 * (DK-01), no line over 78 octets, b= carrying exactly what the signing
 * callback returned over the digest a verifier will recompute.  Real
 * keys and byte-for-byte vectors are in test_msg_conformance.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/msg/buf.h"
#include "proxy/msg/canon.h"
#include "proxy/msg/dkim.h"
#include "proxy/msg/hash.h"
#include "proxy/msg/hdr.h"
#include "tests/unit/t.h"

static struct hdr_list *
headers(const char *text)
{
	struct hdr_list	*hl = NULL;

	if (hdr_parse((const uint8_t *)text, strlen(text), NULL, &hl,
	    NULL) != HDR_OK) {
		printf("Bail out! test headers do not parse\n");
		exit(1);
	}
	return hl;
}

#define L(...)	((const char *const[]){ __VA_ARGS__ })
#define N(...)	(sizeof((const char *const[]){ __VA_ARGS__ }) / \
		    sizeof(const char *))

static const char rfc8463_hdrs[] =
    "From: Joe SixPack <joe@football.example.com>\r\n"
    "To: Suzie Q <suzie@shopping.example.net>\r\n"
    "Subject: Is dinner ready?\r\n"
    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
    "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n";

static const char two_to_hdrs[] =
    "Received: from a by b; Fri, 11 Jul 2003 21:01:54 -0700\r\n"
    "From: a@example.com\r\n"
    "To: b@example.net\r\n"
    "To: c@example.net\r\n"
    "Subject: hi\r\n"
    "DKIM-Signature: v=1; d=other.example\r\n"
    "ARC-Seal: i=1\r\n"
    "List-Id: <l.example.com>\r\n"
    "List-Unsubscribe: <mailto:u@example.com>\r\n"
    "list-id: <again.example.com>\r\n"
    "MIME-Version: 1.0\r\n";

static void
test_select(void)
{
	/* Not static: the lists are block-scope compound literals. */
	const struct {
		const char		*name;
		const char		*hdrs;
		const char *const	*sign;
		size_t			 nsign;
		const char *const	*over;
		size_t			 nover;
		const char		*want;
	} cases[] = {
		{ "RFC 8463 A.3 lists", rfc8463_hdrs,
		    L("from", "to", "subject", "date", "message-id"),
		    N("from", "to", "subject", "date", "message-id"),
		    L("from", "subject", "date"), N("from", "subject", "date"),
		    "from:to:subject:date:message-id:from:subject:date" },
		{ "two To, to oversigned: listed three times", two_to_hdrs,
		    L("from", "to"), N("from", "to"), L("to"), N("to"),
		    "from:to:to:to" },
		{ "absent cc oversigned: listed once", two_to_hdrs,
		    L("from", "cc"), N("from", "cc"), L("cc"), N("cc"),
		    "from:cc" },
		{ "absent cc only signed: not listed", two_to_hdrs,
		    L("from", "cc", "subject"), N("from", "cc", "subject"),
		    L("subject"), N("subject"), "from:subject:subject" },
		{ "never trace fields or other signatures", two_to_hdrs,
		    L("received", "from", "dkim-signature", "arc-seal",
		    "return-path", "authentication-results", "delivered-to"),
		    N("received", "from", "dkim-signature", "arc-seal",
		    "return-path", "authentication-results", "delivered-to"),
		    L("received", "dkim-signature"),
		    N("received", "dkim-signature"), "from" },
		{ "From added up front when no list names it", two_to_hdrs,
		    L("subject"), N("subject"), L("subject"), N("subject"),
		    "from:subject:subject" },
		{ "absent From not oversigned: still listed once",
		    "Subject: x\r\n", L("from", "subject"),
		    N("from", "subject"), L("subject"), N("subject"),
		    "from:subject:subject" },
		{ "absent From, no lists: listed once", "Subject: x\r\n",
		    L("subject"), N("subject"), NULL, 0, "from:subject" },
		{ "oversign-only names are signed too", rfc8463_hdrs,
		    L("from"), N("from"), L("date", "cc"), N("date", "cc"),
		    "from:date:date:cc" },
		{ "list-* prefix, each name per instance", two_to_hdrs,
		    L("from", "list-*"), N("from", "list-*"), NULL, 0,
		    "from:list-id:list-id:list-unsubscribe" },
		{ "list-* oversigned: one more per present name",
		    two_to_hdrs, L("from"), N("from"), L("list-*"),
		    N("list-*"),
		    "from:list-id:list-id:list-unsubscribe:list-id:"
		    "list-unsubscribe" },
		{ "config names in upper case come out lower", two_to_hdrs,
		    L("FROM", "Mime-Version"), N("FROM", "Mime-Version"),
		    L("MIME-VERSION"), N("MIME-VERSION"),
		    "from:mime-version:mime-version" },
		{ "duplicates in a list count once", two_to_hdrs,
		    L("from", "subject", "Subject"),
		    N("from", "subject", "Subject"), L("from", "from"),
		    N("from", "from"), "from:subject:from" },
	};
	struct hdr_list	*hl;
	struct buf	*b;
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		hl = headers(cases[i].hdrs);
		b = buf_new(0);
		T_OK(dkim_select_headers(hl, cases[i].sign, cases[i].nsign,
		    cases[i].over, cases[i].nover, b) == 0, "%s: selects",
		    cases[i].name);
		T_EQ_STR(buf_cstr(b), cases[i].want, cases[i].name);
		buf_free(b);
		hdr_free(hl);
	}

	hl = headers(two_to_hdrs);
	b = buf_new(0);
	T_OK(dkim_select_headers(hl, dkim_default_sign, dkim_default_nsign,
	    dkim_default_oversign, dkim_default_noversign, b) == 0,
	    "defaults select");
	T_EQ_STR(buf_cstr(b), "from:to:to:subject:mime-version:list-id:"
	    "list-id:list-unsubscribe:from:to:cc:subject:date:reply-to:"
	    "mime-version:content-type:content-transfer-encoding",
	    "defaults: n+1 for visible and MIME fields");
	buf_free(b);

	b = buf_new(0);
	T_OK(dkim_select_headers(hl, L("from", "bad name"),
	    N("from", "bad name"), NULL, 0, b) == -1,
	    "a name with a space is refused");
	T_OK(dkim_select_headers(hl, L("from", "x:y"), N("from", "x:y"),
	    NULL, 0, b) == -1, "a name with a colon is refused");
	T_OK(dkim_select_headers(hl, L("*"), N("*"), NULL, 0, b) == -1,
	    "a bare '*' is refused");
	buf_free(b);
	hdr_free(hl);
}

/*
 * A stand-in signer: remembers the digest and returns 200 octets made
 * from it, so b= can be checked without a key.
 */
struct fake {
	uint8_t	digest[HASH_SHA256_LEN];
	int	calls;
};

static int
fake_sign(void *ctx, const uint8_t digest[HASH_SHA256_LEN], uint8_t *sig,
    size_t *siglen)
{
	struct fake	*f = ctx;
	size_t		 i;

	if (*siglen < 200)
		return -1;
	memcpy(f->digest, digest, HASH_SHA256_LEN);
	f->calls++;
	for (i = 0; i < 200; i++)
		sig[i] = (uint8_t)(digest[i % HASH_SHA256_LEN] ^ i);
	*siglen = 200;
	return 0;
}

static int
failing_sign(void *ctx, const uint8_t digest[HASH_SHA256_LEN], uint8_t *sig,
    size_t *siglen)
{
	(void)ctx;
	(void)digest;
	(void)sig;
	(void)siglen;
	return -1;
}

/* Sign hdrs+body with the given params; the fields go to out. */
static int
sign_msg(const char *hdrs, const char *body, const struct dkim_params *p,
    size_t np, struct buf *out)
{
	struct hdr_list		*hl = headers(hdrs);
	struct hash_body	*hb = hash_body_new();
	struct dkim_signer	*s = dkim_signer_new(hb);
	size_t			 i;
	int			 rc = -1;

	for (i = 0; i < np; i++)
		if (dkim_signer_add(s, hl, &p[i]) == -1)
			goto done;
	if (hash_body_update(hb, (const uint8_t *)body, strlen(body)) == -1 ||
	    hash_body_final(hb) == -1 ||
	    dkim_signer_finish(s, hl, out) == -1)
		goto done;
	rc = 0;
done:
	dkim_signer_free(s);
	hash_body_free(hb);
	hdr_free(hl);
	return rc;
}

static size_t
longest_line(const uint8_t *p, size_t len)
{
	size_t	i, start = 0, max = 0;

	for (i = 0; i + 1 < len; i++) {
		if (p[i] == '\r' && p[i + 1] == '\n') {
			if (i - start > max)
				max = i - start;
			start = i + 2;
		}
	}
	return max;
}

/* Tag names in order, joined by ' ' (the field value of one field). */
static void
tag_order(const uint8_t *field, size_t len, struct buf *names,
    struct dkim_tags **tlp)
{
	const uint8_t	*n;
	size_t		 i, nl, colon = 0;

	while (colon < len && field[colon] != ':')
		colon++;
	*tlp = NULL;
	if (dkim_tags_parse(field + colon + 1, len - colon - 3, tlp, NULL) !=
	    DKIM_TAGS_OK)
		return;
	for (i = 0; i < dkim_tags_count(*tlp); i++) {
		n = dkim_tags_name(*tlp, i, &nl);
		if (i > 0)
			buf_append_byte(names, ' ');
		buf_append(names, n, nl);
	}
}

static void
test_signature_shape(void)
{
	static const char	 hdrs[] =
	    "From: a@example.com\r\nTo: b@example.net\r\nSubject: s\r\n";
	struct fake		 f = { { 0 }, 0 };
	struct dkim_params	 p = {
		.alg = DKIM_ALG_RSA_SHA256, .hcanon = CANON_RELAXED,
		.bcanon = CANON_RELAXED, .domain = "example.com",
		.selector = "s1", .time = 1700000000, .expiration = 432000,
		.sign = dkim_default_sign, .nsign = dkim_default_nsign,
		.oversign = dkim_default_oversign,
		.noversign = dkim_default_noversign, .sign_fn = fake_sign,
		.sign_ctx = &f,
	};
	struct dkim_tags	*tl;
	struct hdr_list		*hl;
	struct buf		*out = buf_new(0), *names = buf_new(0), *b;
	struct buf		*data;
	const uint8_t		*v;
	uint8_t			 digest[HASH_SHA256_LEN];
	size_t			 n, off, len;
	uint8_t			 want[200];
	size_t			 i;

	T_OK(sign_msg(hdrs, "", &p, 1, out) == 0, "sign with defaults");
	T_EQ_INT(f.calls, 1, "callback called once");
	T_OK(buf_len(out) > 17 && memcmp(buf_data(out), "DKIM-Signature: ",
	    16) == 0, "field starts DKIM-Signature:");
	T_OK(longest_line(buf_data(out), buf_len(out)) <= DKIM_LINE_MAX,
	    "no line over 78 octets (longest %zu)",
	    longest_line(buf_data(out), buf_len(out)));
	tag_order(buf_data(out), buf_len(out), names, &tl);
	T_EQ_STR(buf_cstr(names), "v a c d s t x h bh b",
	    "fixed tag order, no i=/q= unless asked");
	if (tl == NULL)
		goto done;
	T_OK(dkim_tags_find(tl, "l") < 0, "never l= (DK-01)");
	v = dkim_tags_get(tl, "t", &n);
	T_EQ_MEM(v, n, "1700000000", 10, "t= is the caller's clock");
	v = dkim_tags_get(tl, "x", &n);
	T_EQ_MEM(v, n, "1700432000", 10, "x= is t + expiration");
	v = dkim_tags_get(tl, "c", &n);
	T_EQ_MEM(v, n, "relaxed/relaxed", 15, "c= as asked");
	v = dkim_tags_get(tl, "bh", &n);
	T_EQ_MEM(v, n, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", 44,
	    "bh= of the empty body, relaxed (RFC 6376 3.4.4)");
	v = dkim_tags_get(tl, "h", &n);
	b = buf_new(0);
	for (i = 0; i < n; i++)
		if (v[i] != ' ' && v[i] != '\r' && v[i] != '\n')
			buf_append_byte(b, v[i]);
	T_EQ_STR(buf_cstr(b), "from:to:subject:from:to:cc:subject:date:"
	    "reply-to:mime-version:content-type:content-transfer-encoding",
	    "h= is the default selection");
	buf_free(b);

	b = buf_new(0);
	v = dkim_tags_get(tl, "b", &n);
	T_OK(dkim_base64_decode(v, n, b) == 0, "b= is base64 with FWS");
	for (i = 0; i < 200; i++)
		want[i] = (uint8_t)(f.digest[i % HASH_SHA256_LEN] ^ i);
	T_EQ_MEM(buf_data(b), buf_len(b), want, sizeof(want),
	    "b= holds the callback's signature");
	buf_free(b);

	/* A verifier deletes b='s value and hashes: same digest. */
	T_OK(dkim_tags_span(tl, "b", &off, &len) == 0, "b= span");
	b = buf_new(0);
	buf_append(b, buf_data(out), 15 + off);
	buf_append(b, buf_data(out) + 15 + off + len,
	    buf_len(out) - 15 - off - len);
	hl = headers(hdrs);
	data = buf_new(0);
	v = dkim_tags_get(tl, "h", &n);
	T_OK(dkim_header_data(hl, CANON_RELAXED, v, n, buf_data(b),
	    buf_len(b), data) == 0, "header data rebuilt");
	hash_sha256(buf_data(data), buf_len(data), digest);
	T_EQ_MEM(digest, sizeof(digest), f.digest, sizeof(f.digest),
	    "the digest signed is the one a verifier computes");
	T_OK(buf_len(data) > 0 && buf_data(data)[buf_len(data) - 1] == '=',
	    "header data ends with the empty b= (no CRLF)");
	buf_free(data);
	hdr_free(hl);
	buf_free(b);
	dkim_tags_free(tl);
done:
	buf_free(names);
	buf_free(out);
}

static void
test_options_and_order(void)
{
	static const char	 hdrs[] = "From: a@mail.example.com\r\n";
	struct fake		 f1 = { { 0 }, 0 }, f2 = { { 0 }, 0 };
	struct dkim_params	 p[2] = { {
		.alg = DKIM_ALG_ED25519_SHA256, .hcanon = CANON_SIMPLE,
		.bcanon = CANON_SIMPLE, .domain = "example.com",
		.selector = "ed1", .identity = "@mail.example.com",
		.query_dns = 1, .time = 5, .sign = L("from"),
		.nsign = 1, .sign_fn = fake_sign, .sign_ctx = &f1,
	}, {
		.alg = DKIM_ALG_RSA_SHA256, .hcanon = CANON_RELAXED,
		.bcanon = CANON_SIMPLE, .domain = "esp.example",
		.selector = "esp1", .time = 5, .sign = L("from"), .nsign = 1,
		.sign_fn = fake_sign, .sign_ctx = &f2,
	} };
	struct dkim_tags	*tl;
	struct buf		*out = buf_new(0), *names;
	const uint8_t		*second;
	const char		*v;
	size_t			 n;

	T_OK(sign_msg(hdrs, "body\r\n", p, 2, out) == 0, "two signatures");
	second = memmem(buf_data(out) + 1, buf_len(out) - 1,
	    "\r\nDKIM-Signature:", 17);
	T_OK(second != NULL, "second field follows the first");
	if (second == NULL)
		goto done;
	names = buf_new(0);
	tag_order(buf_data(out), (size_t)(second + 2 - buf_data(out)), names,
	    &tl);
	T_EQ_STR(buf_cstr(names), "v a c d i q s t h bh b",
	    "i= and q= in their places, no x= when expiration is 0");
	if (tl != NULL) {
		v = (const char *)dkim_tags_get(tl, "a", &n);
		T_EQ_MEM(v, n, "ed25519-sha256", 14, "first on top is ed25519");
		dkim_tags_free(tl);
	}
	buf_free(names);
	names = buf_new(0);
	tag_order(second + 2, buf_len(out) - (size_t)(second + 2 -
	    buf_data(out)), names, &tl);
	if (tl != NULL) {
		v = (const char *)dkim_tags_get(tl, "d", &n);
		T_EQ_MEM(v, n, "esp.example", 11,
		    "second is the extra signature");
		v = (const char *)dkim_tags_get(tl, "c", &n);
		T_EQ_MEM(v, n, "relaxed/simple", 14, "its own c=");
		dkim_tags_free(tl);
	}
	buf_free(names);
done:
	buf_free(out);
}

static void
test_refusals(void)
{
	static const char	 hdrs[] = "From: a@example.com\r\n";
	static const struct {
		const char	*name;
		const char	*domain, *selector, *identity;
	} bad[] = {
		{ "d= with a space", "exa mple.com", "s", NULL },
		{ "d= with a semicolon", "a;b", "s", NULL },
		{ "empty s=", "example.com", "", NULL },
		{ "i= outside d=", "example.com", "s", "@example.net" },
		{ "i= a suffix but not a subdomain", "example.com", "s",
		    "@badexample.com" },
		{ "i= with a semicolon", "example.com", "s",
		    "a;b@example.com" },
	};
	struct dkim_params	 p = {
		.alg = DKIM_ALG_RSA_SHA256, .sign = L("from"), .nsign = 1,
		.sign_fn = fake_sign, .time = 1,
	};
	struct fake		 f = { { 0 }, 0 };
	struct buf		*out = buf_new(0);
	size_t			 i;

	p.sign_ctx = &f;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p.domain = bad[i].domain;
		p.selector = bad[i].selector;
		p.identity = bad[i].identity;
		T_OK(sign_msg(hdrs, "", &p, 1, out) == -1, "%s refused",
		    bad[i].name);
	}
	p.domain = "example.com";
	p.selector = "s";
	p.identity = "user@sub.example.com";
	T_OK(sign_msg(hdrs, "", &p, 1, out) == 0, "i= in a subdomain is fine");
	p.identity = NULL;
	p.sign_fn = failing_sign;
	buf_reset(out);
	T_OK(sign_msg(hdrs, "", &p, 1, out) == -1,
	    "a failing callback fails the signature");
	T_EQ_INT(buf_len(out), 0, "and nothing is emitted");
	buf_free(out);
}

static void
test_folding_long_lists(void)
{
	struct buf		*hdrs = buf_new(0), *out = buf_new(0);
	struct fake		 f = { { 0 }, 0 };
	struct dkim_params	 p = {
		.alg = DKIM_ALG_RSA_SHA256, .hcanon = CANON_RELAXED,
		.bcanon = CANON_RELAXED,
		.domain = "a-rather-long-subdomain.mail.example.com",
		.selector = "selector-2024-11-rotation-b", .time = 1,
		.expiration = 1, .sign = L("from", "list-*"), .nsign = 2,
		.oversign = L("list-*"), .noversign = 1,
		.sign_fn = fake_sign, .sign_ctx = &f,
	};
	size_t			 i;

	buf_append_str(hdrs, "From: a@example.com\r\n");
	for (i = 0; i < 40; i++)
		buf_printf(hdrs, "List-Extension-Field-%02zu: x\r\n", i);
	T_OK(sign_msg(buf_cstr(hdrs), "", &p, 1, out) == 0,
	    "81-name h= signs");
	T_OK(longest_line(buf_data(out), buf_len(out)) <= DKIM_LINE_MAX,
	    "long h= folds under 78 (longest %zu)",
	    longest_line(buf_data(out), buf_len(out)));
	buf_free(out);
	buf_free(hdrs);
}

static void
test_sign_field(void)
{
	static const char	 hdrs[] = "From: a@example.com\r\nTo: b\r\n";
	static const char	 field[] =
	    "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=x;\r\n"
	    "      c=simple/simple; h=From : To; bh=AAAA; b=;\r\n";
	static const char	 nob[] =
	    "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=x;\r\n"
	    "      h=From; bh=AAAA; b=xx;\r\n";
	struct fake		 f = { { 0 }, 0 };
	struct hdr_list		*hl = headers(hdrs);
	struct buf		*out = buf_new(0), *data = buf_new(0);
	const uint8_t		*bpos;
	uint8_t			 digest[HASH_SHA256_LEN];

	T_OK(dkim_sign_field(hl, (const uint8_t *)field, strlen(field),
	    fake_sign, &f, out) == 0, "caller-formatted field signs");
	bpos = memmem(buf_data(out), buf_len(out), "; b=", 4);
	T_OK(bpos != NULL && buf_len(out) > strlen(field) &&
	    memcmp(buf_data(out), field, (size_t)(bpos + 4 -
	    buf_data(out))) == 0, "bytes before b= unchanged");
	T_OK(memcmp(buf_data(out) + buf_len(out) - 3, ";\r\n", 3) == 0,
	    "bytes after the value unchanged");
	dkim_header_data(hl, CANON_SIMPLE, (const uint8_t *)"From : To", 9,
	    (const uint8_t *)field, strlen(field), data);
	T_EQ_MEM(buf_data(data), buf_len(data),
	    "From: a@example.com\r\nTo: b\r\n"
	    "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=x;\r\n"
	    "      c=simple/simple; h=From : To; bh=AAAA; b=;",
	    strlen(hdrs) + strlen(field) - 2,
	    "simple header data: fields as sent, then the field w/o CRLF");
	hash_sha256(buf_data(data), buf_len(data), digest);
	T_EQ_MEM(f.digest, sizeof(f.digest), digest, sizeof(digest),
	    "callback got the SHA-256 of that data");
	buf_reset(out);
	T_OK(dkim_sign_field(hl, (const uint8_t *)nob, strlen(nob), fake_sign,
	    &f, out) == -1, "a field whose b= is not empty is refused");
	buf_free(data);
	buf_free(out);
	hdr_free(hl);
}

static void
test_header_data_bottom_up(void)
{
	static const char	 hdrs[] =
	    "Subject: one\r\nFrom: x@example.com\r\nSubject:  two \r\n";
	static const char	 sig[] = "DKIM-Signature: b=\r\n";
	struct hdr_list		*hl = headers(hdrs);
	struct buf		*data = buf_new(0);

	T_OK(dkim_header_data(hl, CANON_RELAXED,
	    (const uint8_t *)"subject:from:subject:subject", 28,
	    (const uint8_t *)sig, strlen(sig), data) == 0, "header data");
	T_EQ_STR(buf_cstr(data), "subject:two\r\nfrom:x@example.com\r\n"
	    "subject:one\r\ndkim-signature:b=",
	    "instances from the bottom up; a missing one adds nothing");
	buf_free(data);
	hdr_free(hl);
}

int
main(void)
{
	test_select();
	test_signature_shape();
	test_options_and_order();
	test_refusals();
	test_folding_long_lists();
	test_sign_field();
	test_header_data_bottom_up();
	return t_done();
}
