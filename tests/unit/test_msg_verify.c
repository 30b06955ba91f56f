/*
 * Unit tests for proxy/msg/verify: what a verifier must decide for each
 * key record, signature tag and tampering (RFC 6376 6.1, RFC 8301,
 * RFC 8463), through the ask/answer interface the daemon uses.
 * Messages are signed here with proxy/msg/dkim and test-local keys (a
 * fixed Ed25519 seed, the RFC 8463 RSA key, a generated 512-bit RSA key).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "proxy/msg/buf.h"
#include "proxy/msg/canon.h"
#include "proxy/msg/dkim.h"
#include "proxy/msg/hash.h"
#include "proxy/msg/hdr.h"
#include "proxy/msg/verify.h"
#include "tests/unit/t.h"

static uint8_t	ed_pk[crypto_sign_PUBLICKEYBYTES];
static uint8_t	ed_sk[crypto_sign_SECRETKEYBYTES];
static char	ed_p[64];		/* base64 of ed_pk */

static int
ed_sign(void *ctx, const uint8_t digest[HASH_SHA256_LEN], uint8_t *sig,
    size_t *siglen)
{
	unsigned long long	n;

	(void)ctx;
	if (crypto_sign_detached(sig, &n, digest, HASH_SHA256_LEN, ed_sk) != 0)
		return -1;
	*siglen = (size_t)n;
	return 0;
}

static int
rsa_sign(void *ctx, const uint8_t digest[HASH_SHA256_LEN], uint8_t *sig,
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

static const char base_hdrs[] =
    "From: Joe <joe@example.com>\r\n"
    "Subject: Is dinner ready?\r\n"
    "Date: Fri, 11 Jul 2003 21:00:37 -0700\r\n";
static const char base_body[] = "Hi.\r\n\r\nWe lost the game.\r\n";

/* Sign base_hdrs + base_body; returns the whole signed message. */
static struct buf *
signed_msg(const struct dkim_params *p)
{
	struct hdr_list		*hl = NULL;
	struct hash_body	*hb = hash_body_new();
	struct dkim_signer	*s = dkim_signer_new(hb);
	struct buf		*out = buf_new(0);

	if (hdr_parse((const uint8_t *)base_hdrs, strlen(base_hdrs), NULL,
	    &hl, NULL) != HDR_OK || dkim_signer_add(s, hl, p) == -1 ||
	    hash_body_update(hb, (const uint8_t *)base_body,
	    strlen(base_body)) == -1 || hash_body_final(hb) == -1 ||
	    dkim_signer_finish(s, hl, out) == -1) {
		printf("Bail out! cannot sign the test message\n");
		exit(1);
	}
	buf_append_str(out, base_hdrs);
	buf_append_str(out, "\r\n");
	buf_append_str(out, base_body);
	dkim_signer_free(s);
	hash_body_free(hb);
	hdr_free(hl);
	return out;
}

/* The answer a test gives to every key question. */
struct answer {
	int		 given;		/* 0: never answer */
	enum verify_dns	 dns;
	const char	*txt;
};

/*
 * Verify text; returns the result of signature `which` and its reason
 * in *reason; *count gets the number of signatures.
 */
static enum verify_result
run(const uint8_t *text, size_t len, const struct answer *a, int64_t now,
    size_t which, const char **reason, size_t *count, struct buf *keyname)
{
	static char		 why[128];
	struct hdr_list		*hl = NULL;
	struct hash_body	*hb = hash_body_new();
	struct verify		*v;
	struct buf		*name;
	const uint8_t		*sep;
	enum verify_result	 r = VERIFY_NONE;
	size_t			 i, hlen;

	*reason = "setup";
	*count = 0;
	if ((sep = memmem(text, len, "\r\n\r\n", 4)) == NULL)
		goto done;
	hlen = (size_t)(sep - text) + 2;
	if (hdr_parse(text, hlen, NULL, &hl, NULL) != HDR_OK)
		goto done;
	if ((v = verify_new(hl, now, hb)) == NULL)
		goto done;
	for (i = 0; i < verify_count(v); i++) {
		name = buf_new(0);
		if (verify_key_name(v, i, name) == 0 && a->given)
			verify_answer(v, i, a->dns, (const uint8_t *)a->txt,
			    a->txt != NULL ? strlen(a->txt) : 0);
		if (i == which && keyname != NULL)
			buf_append(keyname, buf_data(name), buf_len(name));
		buf_free(name);
	}
	hash_body_update(hb, text + hlen + 2, len - hlen - 2);
	hash_body_final(hb);
	verify_finish(v);
	*count = verify_count(v);
	r = verify_result(v, which);
	snprintf(why, sizeof(why), "%s", verify_reason(v, which));
	*reason = why;
	verify_free(v);
done:
	hash_body_free(hb);
	hdr_free(hl);
	return r;
}

static struct dkim_params
ed_params(void)
{
	static const char *const	sign[] = { "from", "subject", "date" };
	static const char *const	over[] = { "from", "subject", "to" };
	struct dkim_params		p = {
		.alg = DKIM_ALG_ED25519_SHA256, .hcanon = CANON_RELAXED,
		.bcanon = CANON_RELAXED, .domain = "example.com",
		.selector = "ed", .time = 1000, .expiration = 100,
		.sign = sign, .nsign = 3, .oversign = over, .noversign = 3,
		.sign_fn = ed_sign,
	};

	return p;
}

static void
check(const char *what, enum verify_result got, const char *why,
    enum verify_result want, const char *want_why)
{
	T_OK(got == want && (want_why == NULL || strcmp(why, want_why) == 0),
	    "%s: %s %s", what, verify_result_name(got), why);
	if (got != want)
		printf("#   want %s %s\n", verify_result_name(want),
		    want_why != NULL ? want_why : "");
	else if (want_why != NULL && strcmp(why, want_why) != 0)
		printf("#   want reason \"%s\"\n", want_why);
}

/* Verify m with answer a at now and check signature 0. */
static void
expect(const char *what, const struct buf *m, const struct answer *a,
    int64_t now, enum verify_result want, const char *want_why)
{
	enum verify_result	 r;
	const char		*why;
	size_t			 n;

	r = run(buf_data(m), buf_len(m), a, now, 0, &why, &n, NULL);
	check(what, r, why, want, want_why);
}

static void
test_key_records(void)
{
	struct dkim_params	 p = ed_params();
	struct buf		*m = signed_msg(&p), *kn = buf_new(0);
	uint8_t			 other_pk[32], other_sk[64];
	char			 rec[40][256], other[64];
	const char		*why;
	enum verify_result	 r;
	size_t			 i, n, nrec = 0;
	struct {
		struct answer		 a;
		enum verify_result	 want;
		const char		*why;
		const char		*name;
	} cases[40];

	crypto_sign_keypair(other_pk, other_sk);
	sodium_bin2base64(other, sizeof(other), other_pk, sizeof(other_pk),
	    sodium_base64_VARIANT_ORIGINAL);
#define REC(fmt, key, res, reason, label) do {				\
	snprintf(rec[nrec], sizeof(rec[nrec]), fmt, key);		\
	cases[nrec].a.given = 1;					\
	cases[nrec].a.dns = VERIFY_DNS_OK;				\
	cases[nrec].a.txt = rec[nrec];					\
	cases[nrec].want = res;						\
	cases[nrec].why = reason;					\
	cases[nrec].name = label;					\
	nrec++;								\
} while (0)
	REC("v=DKIM1; k=ed25519; p=%s", ed_p, VERIFY_PASS,
	    "signature verified", "plain record");
	REC("k=ed25519; p=%s", ed_p, VERIFY_PASS, NULL, "no v=");
	REC("v=DKIM1; k=ed25519; h=sha256; s=email; t=y; n=hi; p=%s ", ed_p,
	    VERIFY_PASS, NULL, "h=, s=, t=y, n= and a trailing space");
	REC("v=DKIM1; k=ed25519; s=*; t=y:s; p=%s", ed_p, VERIFY_PASS, NULL,
	    "t=s with no i= (i is @d)");
	REC("v=DKIM1; k=ed25519; xfuture=1; p=%s", ed_p, VERIFY_PASS, NULL,
	    "unknown tags ignored");
	REC("v=DKIM1; k=ed25519; p=%s", other, VERIFY_FAIL,
	    "signature did not verify", "another key");
	REC("v=DKIM1; k=ed25519; p=%s", "", VERIFY_PERMERROR, "key revoked",
	    "empty p= is revoked");
	REC("k=ed25519; v=DKIM1; p=%s", ed_p, VERIFY_PERMERROR,
	    "key record v= is not DKIM1", "v= not first");
	REC("v=DKIM2; k=ed25519; p=%s", ed_p, VERIFY_PERMERROR,
	    "key record v= is not DKIM1", "v=DKIM2");
	REC("v=DKIM1; k=rsa; p=%s", ed_p, VERIFY_PERMERROR,
	    "key type does not match a=", "k=rsa for ed25519-sha256");
	REC("v=DKIM1; p=%s", ed_p, VERIFY_PERMERROR,
	    "key type does not match a=", "k= defaults to rsa");
	REC("v=DKIM1; k=dsa; p=%s", ed_p, VERIFY_PERMERROR,
	    "unsupported key type", "k=dsa");
	REC("v=DKIM1; k=ed25519; h=sha1; p=%s", ed_p, VERIFY_PERMERROR,
	    "key h= excludes sha256", "h=sha1");
	REC("v=DKIM1; k=ed25519; s=chat; p=%s", ed_p, VERIFY_PERMERROR,
	    "key not for email (s=)", "s=chat");
	REC("v=DKIM1; k=ed25519; k=ed25519; p=%s", ed_p, VERIFY_PERMERROR,
	    "malformed key record", "duplicate tag");
	REC("v=DKIM1; k=ed25519; t; p=%s", ed_p, VERIFY_PERMERROR,
	    "malformed key record", "tag without '='");
	REC("%s", "\"\"", VERIFY_PERMERROR, "malformed key record",
	    "a quoted empty string");
	REC("v=DKIM1; k=ed25519%s", "", VERIFY_PERMERROR,
	    "key record has no p=", "no p=");
	REC("v=DKIM1; k=ed25519; p=%s",
	    "MCowBQYDK2VwAyEA3SUqa9UbfciWkk7tlcJ9P1VD5pXAasg0JUn/OgjVbKE=",
	    VERIFY_PERMERROR, "ed25519 key is not 32 octets",
	    "SubjectPublicKeyInfo where a raw key belongs");
	REC("v=DKIM1; k=ed25519; p=%s", "a*b=", VERIFY_PERMERROR,
	    "malformed key p=", "p= not base64");
#undef REC
	cases[nrec] = (typeof(cases[0])){ { 1, VERIFY_DNS_NXDOMAIN, NULL },
	    VERIFY_PERMERROR, "no key", "NXDOMAIN" };
	nrec++;
	cases[nrec] = (typeof(cases[0])){ { 1, VERIFY_DNS_ERROR, NULL },
	    VERIFY_TEMPERROR, "key lookup failed", "DNS failure" };
	nrec++;
	cases[nrec] = (typeof(cases[0])){ { 0, VERIFY_DNS_OK, NULL },
	    VERIFY_TEMPERROR, "no key answer", "never answered" };
	nrec++;

	for (i = 0; i < nrec; i++) {
		buf_reset(kn);
		r = run(buf_data(m), buf_len(m), &cases[i].a, 1050, 0, &why,
		    &n, kn);
		check(cases[i].name, r, why, cases[i].want, cases[i].why);
	}
	T_EQ_STR(buf_cstr(kn), "ed._domainkey.example.com",
	    "the key name asked for is s._domainkey.d");
	buf_free(kn);
	buf_free(m);
}

/* Replace the first occurrence of from with to in b. */
static int
edit(struct buf *b, const char *from, const char *to)
{
	const uint8_t	*p;
	struct buf	*n;
	size_t		 off;

	if (from[0] == '\0') {
		n = buf_new(0);
		buf_append_str(n, to);
		buf_append(n, buf_data(b), buf_len(b));
	} else {
		if ((p = memmem(buf_data(b), buf_len(b), from,
		    strlen(from))) == NULL)
			return -1;
		off = (size_t)(p - buf_data(b));
		n = buf_new(0);
		buf_append(n, buf_data(b), off);
		buf_append_str(n, to);
		buf_append(n, p + strlen(from), buf_len(b) - off -
		    strlen(from));
	}
	buf_reset(b);
	buf_append(b, buf_data(n), buf_len(n));
	buf_free(n);
	return 0;
}

static void
test_tampering_and_tags(void)
{
	static const struct {
		const char		*name;
		const char		*from, *to;	/* edit */
		int64_t			 now;
		enum verify_result	 want;
		const char		*why;
	} cases[] = {
		{ "untouched", "", "", 1050, VERIFY_PASS,
		    "signature verified" },
		{ "body changed", "the game", "the match", 1050, VERIFY_FAIL,
		    "body hash mismatch" },
		{ "body line appended", "game.\r\n", "game.\r\nP.S.\r\n", 1050,
		    VERIFY_FAIL, "body hash mismatch" },
		{ "relaxed: trailing blank lines", "game.\r\n",
		    "game.\r\n\r\n\r\n", 1050, VERIFY_PASS, NULL },
		{ "Subject changed", "dinner ready", "lunch ready", 1050,
		    VERIFY_FAIL, "signature did not verify" },
		{ "second From prepended (oversigned)", "From: Joe",
		    "From: Eve <eve@example.org>\r\nFrom: Joe", 1050,
		    VERIFY_FAIL, "signature did not verify" },
		{ "To added where none was (oversigned)", "Subject:",
		    "To: x@example.net\r\nSubject:", 1050, VERIFY_FAIL,
		    "signature did not verify" },
		{ "unsigned field added", "Subject:", "X-Note: hi\r\nSubject:",
		    1050, VERIFY_PASS, NULL },
		{ "relaxed: field name case and spacing", "Subject: Is",
		    "SUBJECT:    Is", 1050, VERIFY_PASS, NULL },
		{ "rsa-sha1 refused", "a=ed25519-sha256", "a=rsa-sha1", 1050,
		    VERIFY_FAIL, "rsa-sha1 not accepted (RFC 8301)" },
		{ "unknown a=", "a=ed25519-sha256", "a=hmac-sha256", 1050,
		    VERIFY_PERMERROR, "unsupported algorithm" },
		{ "no v=", "v=1; ", "", 1050, VERIFY_PERMERROR, "missing v=" },
		{ "v=2", "v=1;", "v=2;", 1050, VERIFY_PERMERROR,
		    "unsupported v=" },
		{ "unknown c=", "c=relaxed/relaxed", "c=future/relaxed", 1050,
		    VERIFY_PERMERROR, "unsupported canonicalization" },
		{ "unknown body c=", "c=relaxed/relaxed", "c=relaxed/future",
		    1050, VERIFY_PERMERROR, "unsupported canonicalization" },
		{ "q=http only", "s=ed;", "q=http; s=ed;", 1050,
		    VERIFY_PERMERROR, "unsupported query method" },
		{ "q= list with dns/txt", "s=ed;", "q=http:dns/txt; s=ed;",
		    1050, VERIFY_FAIL, "signature did not verify" },
		{ "h= syntax", "h=from : ", "h=from :: ", 1050,
		    VERIFY_PERMERROR, "malformed h=" },
		{ "expired", "", "", 1101, VERIFY_PERMERROR,
		    "signature expired" },
		{ "expiry is inclusive", "", "", 1100, VERIFY_PASS, NULL },
		{ "x= before t=", "x=1100", "x=999", 500, VERIFY_PERMERROR,
		    "x= before t=" },
		{ "t= not a number", "t=1000", "t=10e2", 1050,
		    VERIFY_PERMERROR, "malformed t=" },
		{ "x= too long", "x=1100", "x=1234567890123456789", 1050,
		    VERIFY_PERMERROR, "malformed x=" },
		{ "l= not a number", "s=ed;", "l=-1; s=ed;", 1050,
		    VERIFY_PERMERROR, "malformed l=" },
		{ "duplicate tag", "s=ed;", "s=ed; s=ed;", 1050,
		    VERIFY_PERMERROR, "duplicate tag" },
		{ "not a tag-list", "v=1;", "v=1;;", 1050, VERIFY_PERMERROR,
		    "malformed tag-list" },
		{ "missing bh=", " bh=", " xh=", 1050, VERIFY_PERMERROR,
		    "missing bh=" },
		{ "bh= not base64", "bh=", "bh=*", 1050, VERIFY_PERMERROR,
		    "malformed bh=" },
		{ "bh= too short", "bh=", "bh=AAAA", 1050, VERIFY_PERMERROR,
		    "malformed bh=" },
		{ "d= with a space", "d=example.com", "d=exa mple.com", 1050,
		    VERIFY_PERMERROR, "malformed d=" },
		{ "d= with a slash", "d=example.com", "d=example/com", 1050,
		    VERIFY_PERMERROR, "malformed d=" },
		{ "i= outside d=", "s=ed;", "i=@example.net; s=ed;", 1050,
		    VERIFY_PERMERROR, "i= domain not within d=" },
		{ "i= a mere suffix of d=", "s=ed;",
		    "i=@badexample.com; s=ed;", 1050, VERIFY_PERMERROR,
		    "i= domain not within d=" },
		{ "i= without @", "s=ed;", "i=example.com; s=ed;", 1050,
		    VERIFY_PERMERROR, "malformed i=" },
		{ "i= quoted-printable, in a subdomain", "s=ed;",
		    "i=joe=40mail.example.com; s=ed;", 1050, VERIFY_FAIL,
		    "signature did not verify" },
	};
	struct answer		 a = { 1, VERIFY_DNS_OK, NULL };
	struct dkim_params	 p = ed_params();
	struct buf		*base = signed_msg(&p), *m;
	char			 rec[128];
	const char		*why;
	enum verify_result	 r;
	size_t			 i, n;

	snprintf(rec, sizeof(rec), "v=DKIM1; k=ed25519; p=%s", ed_p);
	a.txt = rec;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		m = buf_new(0);
		buf_append(m, buf_data(base), buf_len(base));
		if (cases[i].from[0] != '\0' &&
		    edit(m, cases[i].from, cases[i].to) == -1) {
			T_OK(0, "%s: edit applies", cases[i].name);
			buf_free(m);
			continue;
		}
		r = run(buf_data(m), buf_len(m), &a, cases[i].now, 0, &why, &n,
		    NULL);
		check(cases[i].name, r, why, cases[i].want, cases[i].why);
		buf_free(m);
	}
	buf_free(base);
}

static void
test_simple_canon(void)
{
	struct answer		 a = { 1, VERIFY_DNS_OK, NULL };
	struct dkim_params	 p = ed_params();
	struct buf		*m;
	char			 rec[128];

	snprintf(rec, sizeof(rec), "v=DKIM1; k=ed25519; p=%s", ed_p);
	a.txt = rec;
	p.hcanon = p.bcanon = CANON_SIMPLE;
	m = signed_msg(&p);
	expect("simple/simple verifies", m, &a, 1050, VERIFY_PASS,
	    NULL);
	edit(m, "Subject: Is", "Subject:  Is");
	expect("simple: a header space matters", m, &a, 1050, VERIFY_FAIL,
	    "signature did not verify");
	buf_free(m);
	m = signed_msg(&p);
	edit(m, "game.\r\n", "game. \r\n");
	expect("simple: a body space matters", m, &a, 1050, VERIFY_FAIL,
	    "body hash mismatch");
	buf_free(m);
}

/* l= is honoured: content after the signed length is not covered. */
static void
test_body_length(void)
{
	static const char	 hdrs[] = "From: joe@example.com\r\n";
	static const char	 body[] = "hello\r\n";
	struct hash_body	*hb;
	struct hdr_list		*hl = NULL;
	struct answer		 a = { 1, VERIFY_DNS_OK, NULL };
	struct buf		*field, *m;
	uint8_t			 bh[HASH_SHA256_LEN];
	char			 bh64[64], rec[128];
	int			 slot;

	snprintf(rec, sizeof(rec), "v=DKIM1; k=ed25519; p=%s", ed_p);
	a.txt = rec;
	hb = hash_body_new();
	slot = hash_body_want(hb, CANON_SIMPLE, 7);
	hash_body_update(hb, (const uint8_t *)body, strlen(body));
	hash_body_final(hb);
	hash_body_result(hb, slot, bh, NULL);
	hash_body_free(hb);
	sodium_bin2base64(bh64, sizeof(bh64), bh, sizeof(bh),
	    sodium_base64_VARIANT_ORIGINAL);
	field = buf_new(0);
	buf_printf(field, "DKIM-Signature: v=1; a=ed25519-sha256; "
	    "d=example.com; s=ed; l=7;\r\n h=from; bh=%s; b=\r\n", bh64);
	hdr_parse((const uint8_t *)hdrs, strlen(hdrs), NULL, &hl, NULL);
	m = buf_new(0);
	T_OK(dkim_sign_field(hl, buf_data(field), buf_len(field), ed_sign,
	    NULL, m) == 0, "l= signature made");
	buf_printf(m, "%s\r\n%s", hdrs, body);
	expect("l=7 over the whole body", m, &a, 0, VERIFY_PASS,
	    NULL);
	buf_append_str(m, "appended by someone else\r\n");
	expect("l=7 with content appended: l= honoured", m, &a, 0, VERIFY_PASS,
	    NULL);
	edit(m, "l=7", "l=9");
	expect("l= longer than the signed body: mismatch", m, &a, 0,
	    VERIFY_FAIL, "body hash mismatch");
	edit(m, "l=9", "l=99");
	expect("l= past the end of the body", m, &a, 0, VERIFY_PERMERROR,
	    "l= exceeds the body");
	buf_free(m);

	buf_reset(field);
	buf_printf(field, "DKIM-Signature: v=1; a=ed25519-sha256; "
	    "d=example.com; s=ed;\r\n h=subject; bh=%s; b=\r\n", bh64);
	m = buf_new(0);
	T_OK(dkim_sign_field(hl, buf_data(field), buf_len(field), ed_sign,
	    NULL, m) == 0, "signature without From made");
	buf_printf(m, "%s\r\n%s", hdrs, body);
	expect("h= without From", m, &a, 0, VERIFY_PERMERROR,
	    "h= does not sign From");
	buf_free(m);
	buf_free(field);
	hdr_free(hl);
}

static EVP_PKEY *
load_rsa_test_key(void)
{
	char		 path[1024];
	FILE		*f;
	EVP_PKEY	*k;

	snprintf(path, sizeof(path), "%s/conformance/rfc8463/rsa-test.pem",
	    t_shared());
	if ((f = fopen(path, "r")) == NULL) {
		printf("Bail out! cannot open %s\n", path);
		exit(1);
	}
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (k == NULL) {
		printf("Bail out! cannot read %s\n", path);
		exit(1);
	}
	return k;
}

/* p= for k: SubjectPublicKeyInfo (spki) or bare RSAPublicKey. */
static void
rsa_p(EVP_PKEY *k, int spki, char *out, size_t outlen)
{
	unsigned char	*der = NULL;
	int		 n;

	n = spki ? i2d_PUBKEY(k, &der) : i2d_PublicKey(k, &der);
	if (n <= 0) {
		printf("Bail out! cannot encode an RSA public key\n");
		exit(1);
	}
	sodium_bin2base64(out, outlen, der, (size_t)n,
	    sodium_base64_VARIANT_ORIGINAL);
	OPENSSL_free(der);
}

static void
test_rsa(void)
{
	struct dkim_params	 p = ed_params();
	struct answer		 a = { 1, VERIFY_DNS_OK, NULL };
	EVP_PKEY		*k1024 = load_rsa_test_key(), *k512;
	struct buf		*m;
	char			 pv[1024], rec[1100];

	p.alg = DKIM_ALG_RSA_SHA256;
	p.sign_fn = rsa_sign;
	p.sign_ctx = k1024;
	m = signed_msg(&p);
	a.txt = rec;
	rsa_p(k1024, 1, pv, sizeof(pv));
	snprintf(rec, sizeof(rec), "v=DKIM1; k=rsa; p=%s", pv);
	expect("rsa-sha256, SubjectPublicKeyInfo p=", m, &a, 1050, VERIFY_PASS,
	    NULL);
	rsa_p(k1024, 0, pv, sizeof(pv));
	snprintf(rec, sizeof(rec), "v=DKIM1; p=%s", pv);
	expect("rsa-sha256, bare RSAPublicKey p=, k= defaulted", m, &a, 1050,
	    VERIFY_PASS, NULL);
	snprintf(rec, sizeof(rec), "v=DKIM1; k=rsa; p=%s", "AAAA");
	expect("RSA p= that is no key", m, &a, 1050, VERIFY_PERMERROR,
	    "malformed RSA key");
	buf_free(m);

	k512 = EVP_RSA_gen(512);
	T_OK(k512 != NULL, "a 512-bit test key");
	if (k512 != NULL) {
		p.sign_ctx = k512;
		m = signed_msg(&p);
		rsa_p(k512, 1, pv, sizeof(pv));
		snprintf(rec, sizeof(rec), "v=DKIM1; k=rsa; p=%s", pv);
		expect("512-bit RSA key refused", m, &a, 1050, VERIFY_FAIL,
	    "RSA key under 1024 bits (RFC 8301)");
		buf_free(m);
		EVP_PKEY_free(k512);
	}
	EVP_PKEY_free(k1024);
}

static void
test_counts(void)
{
	struct answer		 a = { 1, VERIFY_DNS_NXDOMAIN, NULL };
	struct dkim_params	 p = ed_params();
	struct buf		*m = signed_msg(&p), *many = buf_new(0);
	const char		*why;
	size_t			 i, n;
	enum verify_result	 r;
	static const char	 plain[] = "From: a@example.com\r\n\r\nhi\r\n";

	r = run((const uint8_t *)plain, strlen(plain), &a, 0, 0, &why, &n,
	    NULL);
	T_EQ_INT(n, 0, "no DKIM-Signature: no signatures");
	for (i = 0; i < VERIFY_SIGS_MAX; i++)
		buf_append_str(many, "DKIM-Signature: v=1\r\n");
	buf_append(many, buf_data(m), buf_len(m));
	r = run(buf_data(many), buf_len(many), &a, 1050, VERIFY_SIGS_MAX,
	    &why, &n, NULL);
	T_EQ_INT(n, VERIFY_SIGS_MAX + 1, "every signature is counted");
	check("the one past the limit", r, why, VERIFY_PERMERROR,
	    "too many signatures");
	r = run(buf_data(many), buf_len(many), &a, 1050, 0, &why, &n, NULL);
	check("a signature missing tags", r, why, VERIFY_PERMERROR,
	    "missing a=");
	buf_free(many);
	buf_free(m);
}

int
main(void)
{
	uint8_t	seed[crypto_sign_SEEDBYTES];

	if (sodium_init() < 0)
		return 1;
	memset(seed, 0x42, sizeof(seed));
	crypto_sign_seed_keypair(ed_pk, ed_sk, seed);
	sodium_bin2base64(ed_p, sizeof(ed_p), ed_pk, sizeof(ed_pk),
	    sodium_base64_VARIANT_ORIGINAL);
	test_key_records();
	test_tampering_and_tags();
	test_simple_canon();
	test_body_length();
	test_rsa();
	test_counts();
	return t_done();
}
