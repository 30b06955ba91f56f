/*
 * Conformance: the public DKIM vectors, byte for byte.
 *
 *  - RFC 8463 A.3: unsigned.eml signed with the Ed25519 and RSA keys of
 *    A.1 at t=1528637909, i=@football.example.com, q=dns/txt; bh=, b=,
 *    the signed data and its SHA-256 must equal expected.yaml.
 *  - RFC 6376 A.2 (the corrected copy): the unsigned field taken from
 *    appendix-a2-signed.verifying.eml, filled in by dkim_sign_field with
 *    the Appendix C key, must give the same b=.
 *  - Both signed files, and what we produced, verify against the DNS
 *    files; the as-printed A.2 does not (its body hash is wrong).
 *
 * The msg library never holds keys, so the signing callbacks here load
 * the conformance keys with OpenSSL and libsodium themselves.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <sodium.h>

#include "proxy/msg/buf.h"
#include "proxy/msg/canon.h"
#include "proxy/msg/dkim.h"
#include "proxy/msg/dnsfile.h"
#include "proxy/msg/hash.h"
#include "proxy/msg/hdr.h"
#include "proxy/msg/verify.h"
#include "tests/unit/t.h"

#define RFC8463_TIME	1528637909

static char *
shared_file(const char *rel, size_t *len)
{
	char	path[1024];

	snprintf(path, sizeof(path), "%s/conformance/%s", t_shared(), rel);
	return t_read_file(path, len);
}

/* A message split at the first empty line; headers parsed. */
struct msg {
	char		*text;
	size_t		 len;
	struct hdr_list	*hl;
	const uint8_t	*body;
	size_t		 bodylen;
};

static int
msg_split(struct msg *m)
{
	const char	*sep;
	size_t		 hlen;

	if ((sep = memmem(m->text, m->len, "\r\n\r\n", 4)) == NULL)
		return -1;
	hlen = (size_t)(sep - m->text) + 2;
	m->body = (const uint8_t *)sep + 4;
	m->bodylen = m->len - hlen - 2;
	return hdr_parse((const uint8_t *)m->text, hlen, NULL, &m->hl,
	    NULL) == HDR_OK ? 0 : -1;
}

static void
msg_load(struct msg *m, const char *rel)
{
	m->text = shared_file(rel, &m->len);
	if (msg_split(m) == -1) {
		printf("Bail out! %s does not parse\n", rel);
		exit(1);
	}
}

static void
msg_free(struct msg *m)
{
	hdr_free(m->hl);
	free(m->text);
}

/*
 * expected.yaml reader for the one shape that file has: the n-th
 * `key: "..."` after the start, JSON escapes decoded.
 */
static int
yaml_string(const char *y, const char *key, int nth, struct buf *out)
{
	char		 pat[64];
	const char	*p = y;

	snprintf(pat, sizeof(pat), "%s: \"", key);
	for (;;) {
		if ((p = strstr(p, pat)) == NULL)
			return -1;
		if (p == y || p[-1] == ' ' || p[-1] == '\n') {
			if (nth-- == 0)
				break;
		}
		p++;
	}
	for (p += strlen(pat); *p != '"' && *p != '\0'; p++) {
		if (*p == '\\') {
			p++;
			if (*p == 'r')
				buf_append_byte(out, '\r');
			else if (*p == 'n')
				buf_append_byte(out, '\n');
			else
				buf_append_byte(out, (uint8_t)*p);
		} else
			buf_append_byte(out, (uint8_t)*p);
	}
	return *p == '"' ? 0 : -1;
}

/* Signing callbacks over the conformance keys. */
struct edkey {
	uint8_t	pk[crypto_sign_PUBLICKEYBYTES];
	uint8_t	sk[crypto_sign_SECRETKEYBYTES];
	uint8_t	digest[HASH_SHA256_LEN];
};

static int
ed_sign(void *ctx, const uint8_t digest[HASH_SHA256_LEN], uint8_t *sig,
    size_t *siglen)
{
	struct edkey		*k = ctx;
	unsigned long long	 n;

	if (*siglen < crypto_sign_BYTES ||
	    crypto_sign_detached(sig, &n, digest, HASH_SHA256_LEN, k->sk) != 0)
		return -1;
	memcpy(k->digest, digest, HASH_SHA256_LEN);
	*siglen = (size_t)n;
	return 0;
}

struct rsakey {
	EVP_PKEY	*pkey;
	uint8_t		 digest[HASH_SHA256_LEN];
};

static int
rsa_sign(void *ctx, const uint8_t digest[HASH_SHA256_LEN], uint8_t *sig,
    size_t *siglen)
{
	struct rsakey	*k = ctx;
	EVP_PKEY_CTX	*pc;
	int		 rc = -1;

	if ((pc = EVP_PKEY_CTX_new(k->pkey, NULL)) == NULL)
		return -1;
	if (EVP_PKEY_sign_init(pc) > 0 &&
	    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) > 0 &&
	    EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) > 0 &&
	    EVP_PKEY_sign(pc, sig, siglen, digest, HASH_SHA256_LEN) > 0)
		rc = 0;
	EVP_PKEY_CTX_free(pc);
	memcpy(k->digest, digest, HASH_SHA256_LEN);
	return rc;
}

static EVP_PKEY *
load_rsa(const char *rel)
{
	char		*pem;
	size_t		 len;
	BIO		*bio;
	EVP_PKEY	*k;

	pem = shared_file(rel, &len);
	bio = BIO_new_mem_buf(pem, (int)len);
	k = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) :
	    NULL;
	BIO_free(bio);
	free(pem);
	if (k == NULL) {
		printf("Bail out! cannot load %s\n", rel);
		exit(1);
	}
	return k;
}

static void
load_ed(struct edkey *k)
{
	char	*b64;
	uint8_t	 seed[crypto_sign_SEEDBYTES];
	size_t	 len, n;

	b64 = shared_file("rfc8463/ed25519-brisbane.seed.b64", &len);
	while (len > 0 && (b64[len - 1] == '\n' || b64[len - 1] == '\r'))
		len--;
	if (sodium_base642bin(seed, sizeof(seed), b64, len, NULL, &n, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || n != sizeof(seed) ||
	    crypto_sign_seed_keypair(k->pk, k->sk, seed) != 0) {
		printf("Bail out! bad ed25519 seed\n");
		exit(1);
	}
	sodium_memzero(seed, sizeof(seed));
	free(b64);
}

/* Whitespace (and folding) removed: how b= and bh= are compared. */
static void
squeeze(const uint8_t *p, size_t len, struct buf *out)
{
	size_t	i;

	for (i = 0; i < len; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
			buf_append_byte(out, p[i]);
}

static void
hex(const uint8_t *p, size_t len, char *out)
{
	size_t	i;

	for (i = 0; i < len; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
}

/* The tags of one raw DKIM-Signature field (value after the colon). */
static struct dkim_tags *
field_tags(const uint8_t *f, size_t len, size_t *vstart)
{
	struct dkim_tags	*tl = NULL;
	size_t			 c = 0;

	while (c < len && f[c] != ':')
		c++;
	*vstart = c + 1;
	if (dkim_tags_parse(f + c + 1, len - c - 3, &tl, NULL) != DKIM_TAGS_OK)
		return NULL;
	return tl;
}

/* Verify a message against a DNS file; "result reason" per signature. */
static void
verify_msg(const uint8_t *text, size_t len, const char *dnsrel, int64_t now,
    struct buf *out)
{
	struct msg		 m = { NULL, 0, NULL, NULL, 0 };
	struct dnsfile		*df;
	struct hash_body	*hb = hash_body_new();
	struct verify		*v;
	struct buf		*name;
	const uint8_t		*txt;
	enum verify_dns		 st;
	char			 path[1024], err[256];
	size_t			 i, tlen;

	m.text = malloc(len);
	memcpy(m.text, text, len);
	m.len = len;
	snprintf(path, sizeof(path), "%s/conformance/%s", t_shared(), dnsrel);
	if ((df = dnsfile_load(path, err, sizeof(err))) == NULL ||
	    msg_split(&m) == -1) {
		buf_append_str(out, "setup failed");
		goto done;
	}
	v = verify_new(m.hl, now, hb);
	hash_body_update(hb, m.body, m.bodylen);
	hash_body_final(hb);
	for (i = 0; i < verify_count(v); i++) {
		name = buf_new(0);
		if (verify_key_name(v, i, name) == 0) {
			st = dnsfile_lookup(df, buf_data(name), buf_len(name),
			    &txt, &tlen);
			verify_answer(v, i, st, txt, tlen);
		}
		buf_free(name);
	}
	verify_finish(v);
	for (i = 0; i < verify_count(v); i++)
		buf_printf(out, "%s%s %s", i > 0 ? "; " : "",
		    verify_result_name(verify_result(v, i)),
		    verify_reason(v, i));
	verify_free(v);
done:
	dnsfile_free(df);
	hash_body_free(hb);
	msg_free(&m);
}

static void
test_rfc8463(void)
{
	const char *const	 sign[] = { "from", "to", "subject", "date",
				    "message-id" };
	const char *const	 over[] = { "from", "subject", "date" };
	struct edkey		 ed;
	struct rsakey		 rsa = { NULL, { 0 } };
	struct dkim_params	 p[2];
	struct msg		 m;
	struct hash_body	*hb;
	struct dkim_signer	*s;
	struct dkim_tags	*tl;
	struct buf		*out, *want, *got, *data, *field, *signedmsg;
	const uint8_t		*f, *v;
	char			*yaml, dhex[2 * HASH_SHA256_LEN + 1];
	size_t			 ylen, flen, n, vstart, off, slen, k;
	const uint8_t		*digests[2];
	static const char *const which[2] = { "ed25519", "rsa" };
	static const char *const bh_names[2] = {
		"RFC 8463 A.3 ed25519 (on top): bh=",
		"RFC 8463 A.3 rsa: bh=",
	};

	load_ed(&ed);
	rsa.pkey = load_rsa("rfc8463/rsa-test.pem");
	yaml = shared_file("rfc8463/expected.yaml", &ylen);
	msg_load(&m, "rfc8463/unsigned.eml");

	memset(p, 0, sizeof(p));
	for (k = 0; k < 2; k++) {
		p[k].hcanon = p[k].bcanon = CANON_RELAXED;
		p[k].domain = "football.example.com";
		p[k].identity = "@football.example.com";
		p[k].query_dns = 1;
		p[k].time = RFC8463_TIME;
		p[k].sign = sign;
		p[k].nsign = 5;
		p[k].oversign = over;
		p[k].noversign = 3;
	}
	p[0].alg = DKIM_ALG_ED25519_SHA256;
	p[0].selector = "brisbane";
	p[0].sign_fn = ed_sign;
	p[0].sign_ctx = &ed;
	p[1].alg = DKIM_ALG_RSA_SHA256;
	p[1].selector = "test";
	p[1].sign_fn = rsa_sign;
	p[1].sign_ctx = &rsa;
	digests[0] = ed.digest;
	digests[1] = rsa.digest;

	hb = hash_body_new();
	s = dkim_signer_new(hb);
	T_OK(dkim_signer_add(s, m.hl, &p[0]) == 0 &&
	    dkim_signer_add(s, m.hl, &p[1]) == 0, "RFC 8463: two signatures");
	hash_body_update(hb, m.body, m.bodylen);
	hash_body_final(hb);
	out = buf_new(0);
	T_OK(dkim_signer_finish(s, m.hl, out) == 0, "RFC 8463: signed");

	f = buf_data(out);
	for (k = 0; k < 2; k++) {
		v = memmem(f + 1, buf_len(out) - (size_t)(f + 1 -
		    buf_data(out)), "\r\nDKIM-Signature:", 17);
		flen = v != NULL ? (size_t)(v + 2 - f) :
		    buf_len(out) - (size_t)(f - buf_data(out));
		if ((tl = field_tags(f, flen, &vstart)) == NULL) {
			T_OK(0, "RFC 8463 %s: field parses", which[k]);
			break;
		}
		want = buf_new(0);
		got = buf_new(0);
		yaml_string(yaml, "bh", (int)k, want);
		v = dkim_tags_get(tl, "bh", &n);
		squeeze(v, n, got);
		T_EQ_STR(buf_cstr(got), buf_cstr(want), bh_names[k]);
		buf_reset(want);
		buf_reset(got);
		yaml_string(yaml, "b", (int)k, want);
		v = dkim_tags_get(tl, "b", &n);
		squeeze(v, n, got);
		T_EQ_STR(buf_cstr(got), buf_cstr(want),
		    "RFC 8463 A.3: b= byte for byte");
		buf_reset(want);
		yaml_string(yaml, "signed_data_sha256_hex", (int)k, want);
		hex(digests[k], HASH_SHA256_LEN, dhex);
		T_EQ_STR(dhex, buf_cstr(want),
		    "RFC 8463 A.3: SHA-256 of the signed data");

		/* The signed data, rebuilt as a verifier would. */
		buf_reset(want);
		yaml_string(yaml, "signed_data", (int)k, want);
		dkim_tags_span(tl, "b", &off, &slen);
		field = buf_new(0);
		buf_append(field, f, vstart + off);
		buf_append(field, f + vstart + off + slen,
		    flen - vstart - off - slen);
		data = buf_new(0);
		v = dkim_tags_get(tl, "h", &n);
		dkim_header_data(m.hl, CANON_RELAXED, v, n, buf_data(field),
		    buf_len(field), data);
		T_EQ_MEM(buf_data(data), buf_len(data), buf_data(want),
		    buf_len(want), "RFC 8463 A.3: signed_data byte for byte");
		buf_free(data);
		buf_free(field);
		buf_free(got);
		buf_free(want);
		dkim_tags_free(tl);
		f += flen;
	}

	/* Ours, and the RFC's own file, verify with the A.2 records. */
	signedmsg = buf_new(0);
	buf_append(signedmsg, buf_data(out), buf_len(out));
	buf_append(signedmsg, m.text, m.len);
	got = buf_new(0);
	verify_msg(buf_data(signedmsg), buf_len(signedmsg), "rfc8463/dns.txt",
	    RFC8463_TIME, got);
	T_EQ_STR(buf_cstr(got), "pass signature verified; "
	    "pass signature verified", "RFC 8463: our output verifies");
	buf_free(got);
	buf_free(signedmsg);
	{
		size_t	 len;
		char	*text = shared_file("rfc8463/signed.eml", &len);

		got = buf_new(0);
		verify_msg((const uint8_t *)text, len, "rfc8463/dns.txt",
		    RFC8463_TIME, got);
		T_EQ_STR(buf_cstr(got), "pass signature verified; "
		    "pass signature verified", "RFC 8463: signed.eml verifies");
		buf_free(got);
		free(text);
	}

	buf_free(out);
	dkim_signer_free(s);
	hash_body_free(hb);
	msg_free(&m);
	free(yaml);
	EVP_PKEY_free(rsa.pkey);
	sodium_memzero(&ed, sizeof(ed));
}

static void
test_rfc6376(void)
{
	struct rsakey		 rsa = { NULL, { 0 } };
	struct msg		 m;
	struct dkim_tags	*tl;
	struct buf		*unsig, *out, *want, *got;
	const uint8_t		*raw, *v;
	size_t			 rawlen, vstart, off, slen, n, len;
	long			 idx;
	char			*text;

	rsa.pkey = load_rsa("rfc6376/appendix-c-rsa-private.pem");
	msg_load(&m, "rfc6376/appendix-a2-signed.verifying.eml");
	idx = hdr_find(m.hl, "dkim-signature");
	T_OK(idx >= 0, "RFC 6376 A.2: has a DKIM-Signature");
	if (idx < 0)
		goto done;
	raw = hdr_raw(m.hl, (size_t)idx, &rawlen);
	tl = field_tags(raw, rawlen, &vstart);
	dkim_tags_span(tl, "b", &off, &slen);
	unsig = buf_new(0);
	buf_append(unsig, raw, vstart + off);
	buf_append(unsig, raw + vstart + off + slen,
	    rawlen - vstart - off - slen);
	want = buf_new(0);
	v = dkim_tags_get(tl, "b", &n);
	squeeze(v, n, want);

	out = buf_new(0);
	T_OK(dkim_sign_field(m.hl, buf_data(unsig), buf_len(unsig), rsa_sign,
	    &rsa, out) == 0, "RFC 6376 A.2: unsigned field fills in");
	dkim_tags_free(tl);
	tl = field_tags(buf_data(out), buf_len(out), &vstart);
	got = buf_new(0);
	if (tl != NULL) {
		v = dkim_tags_get(tl, "b", &n);
		squeeze(v, n, got);
	}
	T_EQ_STR(buf_cstr(got), buf_cstr(want),
	    "RFC 6376 A.2 (corrected): b= byte for byte");
	dkim_tags_free(tl);
	buf_free(got);
	buf_free(want);
	buf_free(out);
	buf_free(unsig);

	got = buf_new(0);
	verify_msg((const uint8_t *)m.text, m.len, "rfc6376/appendix-c-dns.txt",
	    0, got);
	T_EQ_STR(buf_cstr(got), "pass signature verified",
	    "RFC 6376 A.2 (corrected) verifies with the Appendix C key");
	buf_free(got);

	text = shared_file("rfc6376/appendix-a2-signed.as-printed.eml", &len);
	got = buf_new(0);
	verify_msg((const uint8_t *)text, len, "rfc6376/appendix-c-dns.txt", 0,
	    got);
	T_EQ_STR(buf_cstr(got), "fail body hash mismatch",
	    "RFC 6376 A.2 as printed fails on its body hash");
	buf_free(got);
	free(text);
done:
	msg_free(&m);
	EVP_PKEY_free(rsa.pkey);
}

int
main(void)
{
	if (sodium_init() < 0) {
		printf("Bail out! sodium_init\n");
		return 1;
	}
	test_rfc8463();
	test_rfc6376();
	return t_done();
}
