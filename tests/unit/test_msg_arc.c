/*
 * ARC (proxy/msg/arc.h): chain validation, sealing, and the
 * Authentication-Results helpers.
 *
 * Run with no arguments it checks itself (TAP):
 *  - the A-R helpers on tables of field values (AR-01: our authserv-id
 *    found in every spelling, including a field over 4 KB);
 *  - seal and validate round trips with a key made here: i=1 cv=none,
 *    i=2 cv=pass, tampering with body, signed fields, AAR and seal;
 *  - hostile structure (AR-02): each case must come out fail, with the
 *    next instance right, and never crash (also run under ASan);
 *  - a chain of ARC_SETS_MAX sets takes no further seal, and a chain
 *    whose newest seal says cv=fail takes none either;
 *  - mail-auth arc/001.txt passes; arc/002.txt (Ed25519 ARC) fails with
 *    "unsupported algorithm", because RFC 8617 defines rsa-sha256 only.
 *
 * Case modes, used by tests/conformance/test_arc_suite.py to run the
 * ValiMail arc_test_suite unmodified (the message comes on stdin, CRLF):
 *
 *	test_msg_arc --verify DNSFILE
 *		prints "cv=RESULT reason", then per set
 *		"i=N ams=RESULT (reason) as=RESULT (reason) cv=CV"
 *	test_msg_arc --seal DNSFILE KEYFILE DOMAIN SELECTOR SRVID TIME HDRS
 *		validates, gathers the results of the Authentication-Results
 *		fields of SRVID into the AAR (as the suite defines srv-id),
 *		seals, and prints "cv=RESULT" and the new fields, if any.
 *
 * The msg library never holds keys, so the signing callback here uses
 * OpenSSL directly on test keys.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "proxy/msg/arc.h"
#include "proxy/msg/buf.h"
#include "proxy/msg/dnsfile.h"
#include "proxy/msg/hash.h"
#include "proxy/msg/hdr.h"
#include "proxy/msg/verify.h"
#include "tests/unit/t.h"

#define CASE_INPUT_MAX	(64 * 1024 * 1024)
#define TEST_TIME	1700000000

struct tkey {
	EVP_PKEY	*pk;
	char		 dns[2048];	/* "name v=DKIM1; k=rsa; p=" */
};

static int
tkey_sign(void *ctx, const uint8_t digest[HASH_SHA256_LEN], uint8_t *sig,
    size_t *siglen)
{
	EVP_PKEY_CTX	*pc;
	int		 rc = -1;

	if ((pc = EVP_PKEY_CTX_new(ctx, NULL)) == NULL)
		return -1;
	if (EVP_PKEY_sign_init(pc) > 0 &&
	    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) > 0 &&
	    EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) > 0 &&
	    EVP_PKEY_sign(pc, sig, siglen, digest, HASH_SHA256_LEN) > 0)
		rc = 0;
	EVP_PKEY_CTX_free(pc);
	return rc;
}

/* The DNS line for a key: "NAME v=DKIM1; k=rsa; p=BASE64\n". */
static void
tkey_record(struct tkey *k, const char *name)
{
	unsigned char	*der = NULL;
	char		 b64[1024];
	int		 n;

	n = i2d_PUBKEY(k->pk, &der);
	if (n <= 0 || sodium_base64_ENCODED_LEN(n,
	    sodium_base64_VARIANT_ORIGINAL) > sizeof(b64)) {
		printf("Bail out! cannot encode the public key\n");
		exit(1);
	}
	sodium_bin2base64(b64, sizeof(b64), der, (size_t)n,
	    sodium_base64_VARIANT_ORIGINAL);
	OPENSSL_free(der);
	snprintf(k->dns, sizeof(k->dns), "%s v=DKIM1; k=rsa; p=%s\n", name,
	    b64);
}

static void
tkey_gen(struct tkey *k, const char *name)
{
	if ((k->pk = EVP_RSA_gen(2048)) == NULL) {
		printf("Bail out! cannot make an RSA key\n");
		exit(1);
	}
	tkey_record(k, name);
}

/* A message split at its empty line; a message without one is header. */
struct msg {
	struct hdr_list	*hl;
	const uint8_t	*body;
	size_t		 bodylen;
};

static int
msg_parse(const uint8_t *p, size_t len, struct msg *m)
{
	const uint8_t	*sep;
	size_t		 hlen;

	m->hl = NULL;
	if (len == 0) {
		hlen = 0;
		m->body = p;
	} else if (len >= 2 && p[0] == '\r' && p[1] == '\n') {
		hlen = 0;
		m->body = p + 2;
	} else if ((sep = memmem(p, len, "\r\n\r\n", 4)) != NULL) {
		hlen = (size_t)(sep - p) + 2;
		m->body = sep + 4;
	} else {
		hlen = len;
		m->body = p + len;
	}
	m->bodylen = len - (size_t)(m->body - p);
	return hdr_parse(p, hlen, NULL, &m->hl, NULL) == HDR_OK ? 0 : -1;
}

/*
 * Validate the message with keys from df and, when sp is not NULL,
 * seal it.  report: "cv=RESULT reason" and one line per set; sealed:
 * the new set (nothing when none may be added).  Returns the chain
 * result, or -1 when the message does not parse or memory is short.
 */
static int
process(const uint8_t *p, size_t len, const struct dnsfile *df,
    const struct arc_seal_params *sp, unsigned *next, struct buf *report,
    struct buf *sealed)
{
	struct msg		 m;
	struct hash_body	*hb = NULL;
	struct arc		*a = NULL;
	struct buf		*name = NULL;
	const uint8_t		*txt;
	enum verify_dns		 st;
	size_t			 k, tlen, i;
	int			 rc = -1;

	if (msg_parse(p, len, &m) == -1)
		goto done;
	if ((hb = hash_body_new()) == NULL ||
	    (a = arc_new(m.hl, TEST_TIME, hb)) == NULL ||
	    (name = buf_new(1024)) == NULL)
		goto done;
	for (k = 0; k < arc_key_count(a); k++) {
		buf_reset(name);
		if (arc_key_name(a, k, name) == -1)
			continue;
		st = dnsfile_lookup(df, buf_data(name), buf_len(name), &txt,
		    &tlen);
		if (arc_answer(a, k, st, txt, tlen) == -1)
			goto done;
	}
	if (hash_body_update(hb, m.body, m.bodylen) == -1 ||
	    hash_body_final(hb) == -1 || arc_finish(a) == -1)
		goto done;
	if (next != NULL)
		*next = arc_next_instance(a);
	if (report != NULL) {
		buf_printf(report, "cv=%s %s\n", arc_cv_name(arc_result(a)),
		    arc_reason(a));
		for (i = 1; i <= arc_set_count(a); i++)
			buf_printf(report,
			    "i=%zu ams=%s (%s) as=%s (%s) cv=%s\n", i,
			    verify_result_name(arc_ams_result(a, i)),
			    arc_ams_reason(a, i),
			    verify_result_name(arc_as_result(a, i)),
			    arc_as_reason(a, i),
			    arc_cv_name(arc_set_cv(a, i)));
	}
	if (sp != NULL && arc_seal(a, m.hl, sp, sealed) == -1)
		goto done;
	rc = (int)arc_result(a);
done:
	buf_free(name);
	arc_free(a);
	hash_body_free(hb);
	hdr_free(m.hl);
	return rc;
}

static struct dnsfile *
dns_from(const char *text)
{
	char		 err[256];
	struct dnsfile	*df;

	if ((df = dnsfile_parse((const uint8_t *)text, strlen(text), err,
	    sizeof(err))) == NULL) {
		printf("Bail out! dns: %s\n", err);
		exit(1);
	}
	return df;
}

static const char base_msg[] =
    "Received: from client.example (client.example [192.0.2.1])\r\n"
    "\tby mx.example.com; Tue, 14 Nov 2023 22:13:20 +0000\r\n"
    "From: Alice <alice@example.com>\r\n"
    "To: bob@example.org\r\n"
    "Subject: quarterly numbers\r\n"
    "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
    "Message-ID: <1@example.com>\r\n"
    "MIME-Version: 1.0\r\n"
    "\r\n"
    "Hello Bob,\r\n"
    "  the numbers are in.\r\n";

struct sealer {
	struct tkey		*key;
	struct arc_seal_params	 p;
	struct dnsfile		*df;
};

/* Seal msg into out (new set + msg); the chain result, or -1. */
static int
seal(struct sealer *s, const struct buf *msg, struct buf *out,
    unsigned *next)
{
	struct buf	*set = buf_new(0);
	int		 r;

	buf_reset(out);
	r = process(buf_data(msg), buf_len(msg), s->df, &s->p, next, NULL,
	    set);
	if (r != -1 && (buf_append(out, buf_data(set), buf_len(set)) == -1 ||
	    buf_append(out, buf_data(msg), buf_len(msg)) == -1))
		r = -1;
	buf_free(set);
	return r;
}

static int
check(struct sealer *s, const struct buf *msg, struct buf *report)
{
	if (report != NULL)
		buf_reset(report);
	return process(buf_data(msg), buf_len(msg), s->df, NULL, NULL,
	    report, NULL);
}

/* Replace the first occurrence of from by to in m. */
static void
edit(struct buf *m, const char *from, const char *to)
{
	const uint8_t	*at;
	struct buf	*n = buf_new(0);
	size_t		 off;

	at = memmem(buf_data(m), buf_len(m), from, strlen(from));
	if (at == NULL) {
		printf("Bail out! edit: %s not found\n", from);
		exit(1);
	}
	off = (size_t)(at - buf_data(m));
	buf_append(n, buf_data(m), off);
	buf_append_str(n, to);
	buf_append(n, at + strlen(from), buf_len(m) - off - strlen(from));
	buf_reset(m);
	buf_append(m, buf_data(n), buf_len(n));
	buf_free(n);
}

/* Does b hold s, once folds ("\r\n" and WSP) are read as one space? */
static int
has(const struct buf *b, const char *s)
{
	struct buf	*u = buf_new(0);
	const uint8_t	*p = buf_data(b);
	size_t		 i, n = buf_len(b);
	int		 r;

	for (i = 0; i < n; i++) {
		if (i + 2 < n && p[i] == '\r' && p[i + 1] == '\n' &&
		    (p[i + 2] == ' ' || p[i + 2] == '\t')) {
			buf_append_byte(u, ' ');
			i += 2;
		} else
			buf_append_byte(u, p[i]);
	}
	r = memmem(buf_data(u), buf_len(u), s, strlen(s)) != NULL;
	buf_free(u);
	return r;
}

/* Does b hold s once folds are taken out entirely (inside h=)? */
static int
has_unfolded(const struct buf *b, const char *s)
{
	struct buf	*u = buf_new(0);
	const uint8_t	*p = buf_data(b);
	size_t		 i, n = buf_len(b);
	int		 r;

	for (i = 0; i < n; i++) {
		if (i + 2 < n && p[i] == '\r' && p[i + 1] == '\n' &&
		    (p[i + 2] == ' ' || p[i + 2] == '\t'))
			i += 2;
		else
			buf_append_byte(u, p[i]);
	}
	r = memmem(buf_data(u), buf_len(u), s, strlen(s)) != NULL;
	buf_free(u);
	return r;
}

/* Every physical line of the new set within limit octets. */
static int
lines_within(const struct buf *b, size_t limit)
{
	const uint8_t	*p = buf_data(b), *e;
	size_t		 len = buf_len(b);

	while (len > 0) {
		if ((e = memmem(p, len, "\r\n", 2)) == NULL)
			return 0;
		if ((size_t)(e - p) > limit)
			return 0;
		len -= (size_t)(e - p) + 2;
		p = e + 2;
	}
	return 1;
}

static void
test_ar_helpers(void)
{
	static const struct {
		const char	*value;
		int		 rc;
		const char	*id;
		const char	*results;
	} cases[] = {
		{ " example.com; dkim=pass header.d=example.com", 0,
		    "example.com", "dkim=pass header.d=example.com" },
		{ " lists.example.org; arc=none;\r\n  spf=pass "
		    "smtp.mfrom=jqd@d1.example;\r\n\tdkim=pass (1024-bit key) "
		    "header.i=@d1.example;\r\n  dmarc=pass      ", 0,
		    "lists.example.org", "arc=none; spf=pass "
		    "smtp.mfrom=jqd@d1.example; dkim=pass (1024-bit key) "
		    "header.i=@d1.example; dmarc=pass" },
		{ " (our MX) mx.example.com 1; none", 0, "mx.example.com",
		    "" },
		{ " \"mx.example.com\"; spf=fail smtp.mailfrom=x", 0,
		    "mx.example.com", "spf=fail smtp.mailfrom=x" },
		{ " mx.example.com; dkim=pass (a;b) header.b=\"x;y\"; "
		    "arc=fail", 0, "mx.example.com",
		    "dkim=pass (a;b) header.b=\"x;y\"; arc=fail" },
		{ " mx.example.com", 0, "mx.example.com", "" },
		{ " ; dkim=pass", -1, "", "" },
		{ "", -1, "", "" },
		{ " (unterminated comment mx.example.com; x=y", -1, "", "" },
		{ " \"\"; dkim=pass", -1, "", "" },
	};
	struct buf	*b = buf_new(0);
	size_t		 i;
	int		 rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_reset(b);
		rc = arc_ar_authserv_id((const uint8_t *)cases[i].value,
		    strlen(cases[i].value), b);
		T_EQ_INT(rc, cases[i].rc, "A-R authserv-id parse");
		if (rc == 0)
			T_EQ_MEM(buf_data(b), buf_len(b), cases[i].id,
			    strlen(cases[i].id), "A-R authserv-id");
		buf_reset(b);
		rc = arc_ar_results((const uint8_t *)cases[i].value,
		    strlen(cases[i].value), b);
		T_EQ_INT(rc, cases[i].rc, "A-R results parse");
		if (rc == 0)
			T_EQ_MEM(buf_data(b), buf_len(b), cases[i].results,
			    strlen(cases[i].results), "A-R results");
	}
	buf_free(b);
}

/* AR-01: every field claiming our authserv-id, however written. */
static void
test_ar_ours(void)
{
	struct buf	*h = buf_new(0);
	struct msg	 m;
	size_t		 idx[8], n, i;

	buf_append_str(h,
	    "Authentication-Results: mx.example.com; arc=pass\r\n"
	    "Authentication-Results: other.example; dkim=pass\r\n"
	    "Authentication-Results: MX.Example.COM; dkim=pass\r\n"
	    "Authentication-Results: (forged) \"mx.example.com\";\r\n"
	    " dkim=pass\r\n"
	    "Authentication-Results: mx.example.com.evil; arc=pass\r\n"
	    "X-Authentication-Results: mx.example.com; arc=pass\r\n"
	    "Authentication-Results: mx.example.com;");
	/* OpenDKIM #434: a claim over 4 KB must not escape. */
	for (i = 0; i < 300; i++)
		buf_append_str(h, "\r\n dkim=pass header.d=x.example;");
	buf_append_str(h, " arc=pass\r\nFrom: a@example.com\r\n\r\n");
	T_OK(msg_parse(buf_data(h), buf_len(h), &m) == 0, "A-R message");
	T_OK(arc_ar_ours(m.hl, "mx.example.com", idx, 8, &n) == 0,
	    "arc_ar_ours");
	T_EQ_INT(n, 4, "four fields claim mx.example.com");
	T_OK(n == 4 && idx[0] == 0 && idx[1] == 2 && idx[2] == 3 &&
	    idx[3] == 6, "their indices, top first");
	T_OK(arc_ar_ours(m.hl, "mx.example.com", idx, 1, &n) == 0 && n == 4,
	    "the count exceeds the room given");
	T_OK(arc_ar_ours(m.hl, "bad id;", idx, 8, &n) == -1,
	    "an authserv-id that is not a token is refused");
	hdr_free(m.hl);
	buf_free(h);
}

/* Seal, seal again, validate, tamper (RFC 8617 5.1, 5.2). */
static void
test_round_trip(struct sealer *s)
{
	static const struct {
		const char	*from, *to, *why;
	} tamper[] = {
		{ "the numbers are in.", "the numbers are out.",
		    "body hash mismatch" },
		{ "Subject: quarterly numbers", "Subject: quarterly Numbers",
		    "signature did not verify" },
		{ "i=1; mx.example.com; dkim=pass",
		    "i=1; mx.example.com; dkim=fail", "ARC-Seal i=1" },
		{ "cv=none;", "cv=pass;", "cv= is not none" },
	};
	struct buf	*m0 = buf_new(0), *m1 = buf_new(0), *m2 = buf_new(0),
			*t = buf_new(0), *rep = buf_new(0), *h = buf_new(0);
	struct msg	 m;
	unsigned	 next;
	size_t		 i;

	buf_append_str(m0, base_msg);
	T_EQ_INT(check(s, m0, rep), ARC_CV_NONE, "no ARC fields: none");
	T_EQ_INT(seal(s, m0, m1, &next), ARC_CV_NONE, "first seal");
	T_EQ_INT(next, 1, "first seal is i=1");
	T_OK(has(m1, "ARC-Seal: a=rsa-sha256; b=") &&
	    has(m1, "cv=none; d=example.com; i=1; s=arc; t=1700000000\r\n"
	    "ARC-Message-Signature: a=rsa-sha256;"), "AS tags standardized");
	/* h= is DKIM's default selection, oversigning included. */
	T_OK(msg_parse(buf_data(m0), buf_len(m0), &m) == 0 &&
	    dkim_select_headers(m.hl, dkim_default_sign, dkim_default_nsign,
	    dkim_default_oversign, dkim_default_noversign, h) == 0, "h=");
	hdr_free(m.hl);
	T_OK(has(m1, "; c=relaxed/relaxed; d=example.com; h="),
	    "AMS relaxed/relaxed");
	buf_printf(t, "h=%s;i=1; s=arc;", (const char *)buf_cstr(h));
	T_OK(has_unfolded(m1, (const char *)buf_cstr(t)),
	    "AMS h= is DKIM's default selection");
	T_OK(has(m1, "\r\nARC-Authentication-Results: i=1; mx.example.com; "
	    "dkim=pass header.d=example.com;"), "AAR instance and id");
	T_OK(memcmp(buf_data(m1), "ARC-Seal:", 9) == 0, "AS on top");
	T_OK(lines_within(m1, HDR_LINE_MAX), "lines within 998 octets");
	T_EQ_INT(check(s, m1, rep), ARC_CV_PASS, "i=1 validates");
	T_OK(has(rep, "i=1 ams=pass (signature verified) as=pass"),
	    "per-set report");
	T_EQ_INT(seal(s, m1, m2, &next), ARC_CV_PASS, "second seal");
	T_EQ_INT(next, 2, "second seal is i=2");
	T_OK(has(m2, "cv=pass; d=example.com; i=2;"), "i=2 says cv=pass");
	T_EQ_INT(check(s, m2, rep), ARC_CV_PASS, "i=2 validates");
	for (i = 0; i < sizeof(tamper) / sizeof(tamper[0]); i++) {
		buf_reset(t);
		buf_append(t, buf_data(m1), buf_len(m1));
		edit(t, tamper[i].from, tamper[i].to);
		T_EQ_INT(check(s, t, rep), ARC_CV_FAIL, tamper[i].to);
		T_OK(has(rep, tamper[i].why), "reason: %s", tamper[i].why);
	}
	/* The seal of an altered i=2 chain fails even if the AMS holds. */
	buf_reset(t);
	buf_append(t, buf_data(m2), buf_len(m2));
	edit(t, "i=1; mx.example.com; dkim=pass", "i=1; mx.example.com; "
	    "dkim=PASS");
	T_EQ_INT(check(s, t, rep), ARC_CV_FAIL, "altered AAR i=1 under i=2");
	buf_free(h);
	buf_free(rep);
	buf_free(t);
	buf_free(m2);
	buf_free(m1);
	buf_free(m0);
}

/*
 * AR-02: malformed or oversized ARC input.  Each prefix is put on top
 * of base_msg (after "%SET%" is replaced by a valid i=1 set, when the
 * case wants one).  All must fail; next is the instance a seal gets.
 */
static void
test_hostile(struct sealer *s, const struct buf *set1)
{
	static const struct {
		const char	*name;
		const char	*prefix;
		unsigned	 next;
		const char	*reason;
	} cases[] = {
		{ "ARC-Seal: x", "ARC-Seal: x\r\n", 1, "malformed" },
		{ "tag without =", "ARC-Seal: i=1; a=rsa-sha256; cv=none; "
		    "d=example.com; s=arc; b\r\n", 1, "malformed" },
		{ "AMS without i=", "ARC-Message-Signature: a=rsa-sha256\r\n",
		    1, "missing or bad i=" },
		{ "i=0", "ARC-Seal: i=0; a=rsa-sha256; cv=none; b=AAAA; "
		    "d=example.com; s=arc\r\n", 1, "missing or bad i=" },
		{ "i=51", "ARC-Seal: i=51; a=rsa-sha256; cv=none; b=AAAA; "
		    "d=example.com; s=arc\r\n", 1, "missing or bad i=" },
		{ "i=007", "ARC-Authentication-Results: i=007; x; none\r\n", 1,
		    "ARC-Authentication-Results: missing or bad i=" },
		{ "AAR without i=", "ARC-Authentication-Results: "
		    "mx.example.com; i=1; none\r\n", 1, "missing or bad i=" },
		{ "AAR without ;", "ARC-Authentication-Results: i=1 "
		    "mx.example.com\r\n", 1, "missing or bad i=" },
		{ "set without AMS", "ARC-Seal: i=1; a=rsa-sha256; cv=none; "
		    "b=AAAA; d=example.com; s=arc\r\n"
		    "ARC-Authentication-Results: i=1; x; none\r\n", 2,
		    "lacks its ARC-Message-Signature" },
		{ "duplicate AAR", "ARC-Authentication-Results: i=1; x; "
		    "none\r\n%SET%", 2,
		    "duplicate ARC-Authentication-Results" },
		{ "missing instance 2", "ARC-Seal: i=3; a=rsa-sha256; "
		    "cv=pass; b=AAAA; d=example.com; s=arc\r\n%SET%", 4,
		    "ARC set i=2 lacks" },
		{ "i=1 says cv=pass", "%SET%", 2, "cv= is not none" },
		{ "newest says cv=fail", "ARC-Seal: i=2; a=rsa-sha256; "
		    "cv=fail; b=AAAA; d=example.com; s=arc\r\n"
		    "ARC-Message-Signature: i=2; a=rsa-sha256; b=AAAA; "
		    "bh=AAAA; d=example.com; h=from; s=arc\r\n"
		    "ARC-Authentication-Results: i=2; x; none\r\n%SET%", 0,
		    "says cv=fail" },
		{ "unknown cv", "ARC-Seal: i=2; a=rsa-sha256; cv=maybe; "
		    "b=AAAA; d=example.com; s=arc\r\n"
		    "ARC-Message-Signature: i=2; a=rsa-sha256; b=AAAA; "
		    "bh=AAAA; d=example.com; h=from; s=arc\r\n"
		    "ARC-Authentication-Results: i=2; x; none\r\n%SET%", 3,
		    "bad cv=" },
		{ "huge b=", "%HUGE%%SET%", 3, "signature did not verify" },
		{ "sha1", "%SHA1%", 2, "unsupported algorithm" },
		{ "AS with h=", "%ASH%", 2, "h= not allowed" },
		{ "AMS signing the AS", "%AMSH%", 2, "lists ARC-Seal" },
	};
	struct buf	*m = buf_new(0), *rep = buf_new(0);
	struct buf	*huge = buf_new(0), *v = buf_new(0);
	unsigned	 next;
	size_t		 i, k;

	/* A 4096-bit-sized b= for an i=2 set whose AAR and AMS are set1's. */
	buf_append_str(huge, "ARC-Seal: i=2; a=rsa-sha256; cv=pass; "
	    "d=example.com; s=arc; b=");
	for (k = 0; k < 684; k++)
		buf_append_str(huge, k % 60 == 59 ? "Q\r\n " : "Q");
	buf_append_str(huge, "\r\n");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_reset(m);
		buf_append_str(m, cases[i].prefix);
		if (strstr(cases[i].prefix, "%HUGE%") != NULL) {
			edit(m, "%HUGE%", (const char *)buf_cstr(huge));
			buf_reset(v);
			buf_append(v, buf_data(set1), buf_len(set1));
			edit(v, "ARC-Seal:", "X-Old-Seal:");
			edit(v, "i=1; s=arc", "i=2; s=arc");
			edit(v, "i=1; s=arc", "i=2; s=arc");
			edit(v, "i=1; mx.example.com", "i=2; mx.example.com");
			buf_append(m, buf_data(v), buf_len(v));
		}
		if (strstr(cases[i].prefix, "%SET%") != NULL) {
			buf_reset(v);
			buf_append(v, buf_data(set1), buf_len(set1));
			if (strcmp(cases[i].name, "i=1 says cv=pass") == 0)
				edit(v, "cv=none", "cv=pass");
			edit(m, "%SET%", (const char *)buf_cstr(v));
		}
		if (strstr(cases[i].prefix, "%SHA1%") != NULL) {
			buf_reset(m);
			buf_append(m, buf_data(set1), buf_len(set1));
			edit(m, "Seal: a=rsa-sha256", "Seal: a=rsa-sha1");
		}
		if (strstr(cases[i].prefix, "%ASH%") != NULL) {
			buf_reset(m);
			buf_append(m, buf_data(set1), buf_len(set1));
			edit(m, "cv=none;", "cv=none; h=from;");
		}
		if (strstr(cases[i].prefix, "%AMSH%") != NULL) {
			buf_reset(m);
			buf_append(m, buf_data(set1), buf_len(set1));
			edit(m, "h=from:", "h=arc-seal:from:");
		}
		buf_append_str(m, base_msg);
		buf_reset(rep);
		next = 99;
		T_EQ_INT(process(buf_data(m), buf_len(m), s->df, NULL, &next,
		    rep, NULL), ARC_CV_FAIL, cases[i].name);
		T_EQ_INT(next, cases[i].next, "next instance");
		if (!T_OK(has(rep, cases[i].reason), "reason has \"%s\"",
		    cases[i].reason))
			t_diag_bytes("report", buf_data(rep), buf_len(rep));
	}
	/* Hundreds of ARC fields. */
	buf_reset(m);
	for (k = 0; k < 400; k++)
		buf_append_str(m, "ARC-Seal: i=1; cv=none\r\n");
	buf_append_str(m, base_msg);
	buf_reset(rep);
	T_EQ_INT(process(buf_data(m), buf_len(m), s->df, NULL, &next, rep,
	    NULL), ARC_CV_FAIL, "400 ARC fields");
	T_OK(has(rep, "more than 150 ARC fields"), "reason: too many");
	buf_free(v);
	buf_free(huge);
	buf_free(rep);
	buf_free(m);
}

/* A failed chain is sealed once with cv=fail, then never again. */
static void
test_fail_sealed_once(struct sealer *s, const struct buf *set1)
{
	struct buf	*m = buf_new(0), *m1 = buf_new(0), *m2 = buf_new(0),
			*rep = buf_new(0);
	unsigned	 next;

	buf_append(m, buf_data(set1), buf_len(set1));
	buf_append_str(m, base_msg);
	edit(m, "the numbers are in.", "the numbers are in!");
	T_EQ_INT(seal(s, m, m1, &next), ARC_CV_FAIL, "broken i=1 chain");
	T_EQ_INT(next, 2, "sealed as i=2");
	T_OK(has(m1, "cv=fail; d=example.com; i=2;"), "with cv=fail");
	T_EQ_INT(check(s, m1, rep), ARC_CV_FAIL, "the result fails");
	T_OK(has(rep, "newest ARC-Seal (i=2) says cv=fail"), "because of it");
	T_EQ_INT(seal(s, m1, m2, &next), ARC_CV_FAIL, "sealing it again");
	T_EQ_INT(next, 0, "no instance left");
	T_EQ_INT(buf_len(m2), buf_len(m1), "nothing added");
	buf_free(rep);
	buf_free(m2);
	buf_free(m1);
	buf_free(m);
}

/*
 * Hundreds of signed fields: h= is folded after ':' so no line passes
 * 998 octets (RFC 5322 2.1.1), and the folded AMS still verifies.
 */
static void
test_long_h(struct sealer *s)
{
	struct buf	*m = buf_new(0), *m1 = buf_new(0);
	size_t		 i;

	for (i = 0; i < 300; i++)
		buf_printf(m, "To: user%zu@example.org\r\n", i);
	buf_append_str(m, base_msg);
	T_EQ_INT(seal(s, m, m1, NULL), ARC_CV_NONE, "300 To fields sealed");
	T_OK(lines_within(m1, HDR_LINE_MAX), "no line over 998 octets");
	T_OK(has(m1, "h=from:to:to:to:to:"), "h= lists every To");
	T_EQ_INT(check(s, m1, NULL), ARC_CV_PASS, "and validates");
	buf_free(m1);
	buf_free(m);
}

/*
 * Key questions and answers, as signetd will drive them: one question
 * per distinct key, answers before or after the body, and what each
 * kind of answer does to the chain.
 */
static void
test_keys(struct sealer *s)
{
	static const struct {
		const char	*name;
		enum verify_dns	 dns;
		const char	*txt;		/* NULL: the real key */
		int		 late;		/* answer after body */
		enum arc_cv	 cv;
		int		 temporary;
		const char	*reason;
	} cases[] = {
		{ "answer before the body", VERIFY_DNS_OK, NULL, 0,
		    ARC_CV_PASS, 0, "2 ARC sets verified" },
		{ "answer after the body", VERIFY_DNS_OK, NULL, 1,
		    ARC_CV_PASS, 0, "2 ARC sets verified" },
		{ "DNS failure", VERIFY_DNS_ERROR, "", 0, ARC_CV_FAIL, 1,
		    "key lookup failed" },
		{ "no such key", VERIFY_DNS_NXDOMAIN, "", 0, ARC_CV_FAIL, 0,
		    "no key" },
		{ "revoked key", VERIFY_DNS_OK, "v=DKIM1; k=rsa; p=", 0,
		    ARC_CV_FAIL, 0, "key revoked" },
		{ "ed25519 key", VERIFY_DNS_OK, "v=DKIM1; k=ed25519; "
		    "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", 0,
		    ARC_CV_FAIL, 0, "key type is not rsa" },
		{ "not a tag-list", VERIFY_DNS_OK, "v=DKIM1; k=rsa; junk", 0,
		    ARC_CV_FAIL, 0, "malformed key record" },
		{ "not for email", VERIFY_DNS_OK, "v=DKIM1; s=tlsrpt; p=AAAA",
		    0, ARC_CV_FAIL, 0, "key not for email" },
	};
	struct buf		*m0 = buf_new(0), *m1 = buf_new(0),
				*m2 = buf_new(0), *name = buf_new(0);
	struct msg		 m;
	struct hash_body	*hb;
	struct arc		*a;
	const uint8_t		*txt;
	size_t			 i, tlen;

	buf_append_str(m0, base_msg);
	seal(s, m0, m1, NULL);
	seal(s, m1, m2, NULL);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		msg_parse(buf_data(m2), buf_len(m2), &m);
		hb = hash_body_new();
		a = arc_new(m.hl, TEST_TIME, hb);
		T_EQ_INT(arc_key_count(a), 1, "one question for four "
		    "signatures with one key");
		buf_reset(name);
		T_OK(arc_key_name(a, 0, name) == 0 && buf_len(name) == 26 &&
		    memcmp(buf_data(name), "arc._domainkey.example.com",
		    26) == 0, "the question: arc._domainkey.example.com");
		txt = (const uint8_t *)cases[i].txt;
		tlen = txt != NULL ? strlen(cases[i].txt) : 0;
		if (txt == NULL)
			dnsfile_lookup(s->df, buf_data(name), buf_len(name),
			    &txt, &tlen);
		if (!cases[i].late)
			arc_answer(a, 0, cases[i].dns, txt, tlen);
		hash_body_update(hb, m.body, m.bodylen);
		hash_body_final(hb);
		if (cases[i].late)
			arc_answer(a, 0, cases[i].dns, txt, tlen);
		T_OK(arc_finish(a) == 0, "%s: finish", cases[i].name);
		T_EQ_INT(arc_result(a), cases[i].cv, cases[i].name);
		T_EQ_INT(arc_temporary(a), cases[i].temporary, "temporary");
		T_OK(strstr(arc_reason(a), cases[i].reason) != NULL,
		    "reason: %s", cases[i].reason);
		arc_free(a);
		hash_body_free(hb);
		hdr_free(m.hl);
	}
	/* Never answered: a temporary failure, not a pass. */
	msg_parse(buf_data(m2), buf_len(m2), &m);
	hb = hash_body_new();
	a = arc_new(m.hl, TEST_TIME, hb);
	hash_body_update(hb, m.body, m.bodylen);
	hash_body_final(hb);
	T_OK(arc_finish(a) == 0 && arc_result(a) == ARC_CV_FAIL &&
	    arc_temporary(a) && strstr(arc_reason(a), "no key answer") != NULL,
	    "no answer: temporary fail");
	arc_free(a);
	hash_body_free(hb);
	hdr_free(m.hl);
	buf_free(name);
	buf_free(m2);
	buf_free(m1);
	buf_free(m0);
}

/*
 * DKIM-Signatures with many l= values take every body hash slot a
 * verify may have; made after arc_new, they cannot take the seal's.
 */
static void
test_body_slots(struct sealer *s)
{
	struct buf		*m = buf_new(0), *out = buf_new(0);
	struct msg		 mm;
	struct hash_body	*hb = hash_body_new();
	struct arc		*a;
	struct verify		*v;
	size_t			 i;

	for (i = 0; i < 2 * HASH_BODY_SLOTS_MAX; i++)
		buf_printf(m, "DKIM-Signature: v=1; a=rsa-sha256; "
		    "d=example.com; s=x; h=from; l=%zu; bh=47DEQpj8HBSa+/TImW+5"
		    "JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA\r\n", i);
	buf_append_str(m, base_msg);
	msg_parse(buf_data(m), buf_len(m), &mm);
	a = arc_new(mm.hl, TEST_TIME, hb);
	v = verify_new(mm.hl, TEST_TIME, hb);
	T_OK(a != NULL && v != NULL, "ARC first, then DKIM");
	hash_body_update(hb, mm.body, mm.bodylen);
	hash_body_final(hb);
	T_OK(arc_finish(a) == 0 && verify_finish(v) == 0, "finished");
	T_OK(arc_seal(a, mm.hl, &s->p, out) == 0 && buf_len(out) > 0,
	    "the seal still has its body hash");
	verify_free(v);
	arc_free(a);
	hash_body_free(hb);
	hdr_free(mm.hl);
	buf_free(out);
	buf_free(m);
}

/* RFC 8617 4.2.1: 50 sets, each validated, and then no more. */
static void
test_fifty(struct sealer *s)
{
	struct buf	*m = buf_new(0), *n = buf_new(0), *tmp;
	unsigned	 next = 0, i;
	int		 ok = 1;

	buf_append_str(m, base_msg);
	for (i = 1; i <= ARC_SETS_MAX && ok; i++) {
		if (seal(s, m, n, &next) != (i == 1 ? ARC_CV_NONE :
		    ARC_CV_PASS) || next != i)
			ok = 0;
		tmp = m;
		m = n;
		n = tmp;
	}
	T_OK(ok, "50 seals, each over a passing chain");
	T_EQ_INT(check(s, m, NULL), ARC_CV_PASS, "50 sets validate");
	T_EQ_INT(seal(s, m, n, &next), ARC_CV_PASS, "a 51st seal");
	T_EQ_INT(next, 0, "is not added");
	T_EQ_INT(buf_len(n), buf_len(m), "message unchanged");
	buf_free(n);
	buf_free(m);
}

static void
test_seal_params(struct sealer *s)
{
	static const struct {
		const char	*name;
		const char	*domain, *selector, *id, *results, *headers;
	} bad[] = {
		{ "bad d=", "exa mple.com", "arc", "mx", NULL, NULL },
		{ "bad s=", "example.com", "a;rc", "mx", NULL, NULL },
		{ "bad authserv-id", "example.com", "arc", "mx;x", NULL, NULL },
		{ "CRLF in results", "example.com", "arc", "mx",
		    "dkim=pass\r\nX-Evil: 1", NULL },
		{ "h= with arc-seal", "example.com", "arc", "mx", NULL,
		    "from:arc-seal" },
		{ "h= with A-R", "example.com", "arc", "mx", NULL,
		    "from:authentication-results" },
		{ "empty h=", "example.com", "arc", "mx", NULL, "" },
	};
	struct arc_seal_params	 p;
	struct buf		*m = buf_new(0), *out = buf_new(0);
	size_t			 i;

	buf_append_str(m, base_msg);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = s->p;
		p.domain = bad[i].domain;
		p.selector = bad[i].selector;
		p.authserv_id = bad[i].id;
		p.results = bad[i].results;
		p.headers = bad[i].headers;
		buf_reset(out);
		T_EQ_INT(process(buf_data(m), buf_len(m), s->df, &p, NULL,
		    NULL, out), -1, bad[i].name);
		T_EQ_INT(buf_len(out), 0, "nothing written");
	}
	p = s->p;
	p.results = NULL;
	p.headers = "From:Subject";
	buf_reset(out);
	T_OK(process(buf_data(m), buf_len(m), s->df, &p, NULL, NULL,
	    out) == 0, "explicit h=, no results");
	T_OK(has(out, "h=from:subject;"), "h= lower-cased");
	T_OK(has(out, "i=1; mx.example.com; none\r\n"), "AAR says none");
	buf_free(out);
	buf_free(m);
}

/* mail-auth resources: DNS lines, an empty line, the message (LF). */
static void
test_mail_auth(void)
{
	static const struct {
		const char	*file;
		enum arc_cv	 cv;
		const char	*reason;
	} cases[] = {
		{ "arc/001.txt", ARC_CV_PASS, "1 ARC sets verified" },
		{ "arc/002.txt", ARC_CV_FAIL, "unsupported algorithm" },
	};
	struct dnsfile	*df;
	struct buf	*m = buf_new(0), *rep = buf_new(0);
	char		 path[1024], err[256], *text, *sep;
	size_t		 len, i, k;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(path, sizeof(path),
		    "%s/conformance/mail-auth-resources/%s", t_shared(),
		    cases[i].file);
		text = t_read_file(path, &len);
		if ((sep = strstr(text, "\n\n")) == NULL ||
		    (df = dnsfile_parse((const uint8_t *)text,
		    (size_t)(sep - text) + 1, err, sizeof(err))) == NULL) {
			T_OK(0, "%s: dns part", cases[i].file);
			free(text);
			continue;
		}
		buf_reset(m);
		for (k = (size_t)(sep - text) + 2; k < len; k++) {
			if (text[k] == '\n' && (k == 0 || text[k - 1] != '\r'))
				buf_append_byte(m, '\r');
			buf_append_byte(m, (uint8_t)text[k]);
		}
		buf_reset(rep);
		T_EQ_INT(process(buf_data(m), buf_len(m), df, NULL, NULL, rep,
		    NULL), cases[i].cv, cases[i].file);
		if (!T_OK(has(rep, cases[i].reason), "reason: %s",
		    cases[i].reason))
			t_diag_bytes("report", buf_data(rep), buf_len(rep));
		dnsfile_free(df);
		free(text);
	}
	buf_free(rep);
	buf_free(m);
}

static void
self_check(void)
{
	struct tkey	 key;
	struct sealer	 s;
	struct buf	*m0 = buf_new(0), *m1 = buf_new(0), *set1;
	const uint8_t	*top;

	tkey_gen(&key, "arc._domainkey.example.com");
	memset(&s, 0, sizeof(s));
	s.key = &key;
	s.df = dns_from(key.dns);
	s.p.domain = "example.com";
	s.p.selector = "arc";
	s.p.authserv_id = "mx.example.com";
	s.p.results = "dkim=pass header.d=example.com; arc=none";
	s.p.time = TEST_TIME;
	s.p.sign_fn = tkey_sign;
	s.p.sign_ctx = key.pk;

	test_ar_helpers();
	test_ar_ours();
	test_round_trip(&s);
	/* A valid i=1 set on its own, for the hostile cases. */
	buf_append_str(m0, base_msg);
	seal(&s, m0, m1, NULL);
	top = memmem(buf_data(m1), buf_len(m1), "\r\nReceived:", 11);
	set1 = buf_new(0);
	if (top != NULL)
		buf_append(set1, buf_data(m1), (size_t)(top - buf_data(m1)) +
		    2);
	test_hostile(&s, set1);
	test_fail_sealed_once(&s, set1);
	test_keys(&s);
	test_body_slots(&s);
	test_fifty(&s);
	test_long_h(&s);
	test_seal_params(&s);
	test_mail_auth();
	buf_free(set1);
	buf_free(m1);
	buf_free(m0);
	dnsfile_free(s.df);
	EVP_PKEY_free(key.pk);
}

static int
read_stdin(struct buf *in)
{
	uint8_t	chunk[65536];
	ssize_t	r;

	while ((r = read(STDIN_FILENO, chunk, sizeof(chunk))) > 0)
		if (buf_append(in, chunk, (size_t)r) == -1)
			return -1;
	return r == 0 ? 0 : -1;
}

/* The results of every A-R field of srvid, top down, as one string. */
static int
gather_results(const struct buf *msg, const char *srvid, struct buf *out)
{
	struct msg	 m;
	const uint8_t	*v;
	size_t		 idx[64], n, i, vlen;
	int		 rc = -1;

	if (msg_parse(buf_data(msg), buf_len(msg), &m) == -1 ||
	    arc_ar_ours(m.hl, srvid, idx, 64, &n) == -1 || n > 64)
		goto done;
	for (i = 0; i < n; i++) {
		v = hdr_value(m.hl, idx[i], &vlen);
		if (arc_ar_results(v, vlen, out) == -1)
			goto done;
	}
	rc = 0;
done:
	hdr_free(m.hl);
	return rc;
}

static int
case_mode(char **argv)
{
	struct dnsfile		*df = NULL;
	struct buf		*in = NULL, *out = NULL, *results = NULL;
	struct arc_seal_params	 p;
	EVP_PKEY		*pk = NULL;
	FILE			*f;
	char			 err[256];
	int			 seal_mode, r, rc = 1;

	seal_mode = strcmp(argv[1], "--seal") == 0;
	if ((df = dnsfile_load(argv[2], err, sizeof(err))) == NULL) {
		fprintf(stderr, "test_msg_arc: %s: %s\n", argv[2], err);
		goto done;
	}
	if ((in = buf_new(CASE_INPUT_MAX)) == NULL ||
	    (out = buf_new(0)) == NULL || (results = buf_new(0)) == NULL ||
	    read_stdin(in) == -1)
		goto done;
	memset(&p, 0, sizeof(p));
	if (seal_mode) {
		if ((f = fopen(argv[3], "r")) == NULL ||
		    (pk = PEM_read_PrivateKey(f, NULL, NULL, NULL)) == NULL) {
			fprintf(stderr, "test_msg_arc: cannot load %s\n",
			    argv[3]);
			if (f != NULL)
				fclose(f);
			goto done;
		}
		fclose(f);
		if (gather_results(in, argv[6], results) == -1 ||
		    buf_cstr(results) == NULL)
			goto done;
		p.domain = argv[4];
		p.selector = argv[5];
		p.authserv_id = argv[6];
		p.time = strtoll(argv[7], NULL, 10);
		p.headers = argv[8];
		p.results = (const char *)buf_cstr(results);
		p.sign_fn = tkey_sign;
		p.sign_ctx = pk;
	}
	r = process(buf_data(in), buf_len(in), df, seal_mode ? &p : NULL,
	    NULL, out, out);
	if (r == -1) {
		fprintf(stderr, "test_msg_arc: message does not parse or "
		    "sealing failed\n");
		goto done;
	}
	if (fwrite(buf_data(out), 1, buf_len(out), stdout) != buf_len(out))
		goto done;
	rc = 0;
done:
	EVP_PKEY_free(pk);
	buf_free(results);
	buf_free(out);
	buf_free(in);
	dnsfile_free(df);
	return rc;
}

int
main(int argc, char *argv[])
{
	if ((argc == 3 && strcmp(argv[1], "--verify") == 0) ||
	    (argc == 9 && strcmp(argv[1], "--seal") == 0))
		return case_mode(argv);
	if (argc != 1) {
		fprintf(stderr, "usage: test_msg_arc [--verify DNSFILE | "
		    "--seal DNSFILE KEYFILE DOMAIN SELECTOR SRVID TIME "
		    "HEADERS] < message\n");
		return 2;
	}
	if (sodium_init() < 0) {
		printf("Bail out! sodium_init\n");
		return 1;
	}
	self_check();
	return t_done();
}
