/*
 * verify — DKIM signature verification: RFC 6376 6.1 (signature and key
 * checks, header and body hashes), RFC 8301 (rsa-sha1 refused, RSA keys
 * of at least 1024 bits), RFC 8463 (ed25519-sha256).
 *
 * Each signature moves NONE -> decided.  It can be decided early: by its
 * own tags (verify_new), by its key record (verify_answer), and at the
 * latest by the hashes (verify_finish).  Reasons are static strings, so
 * results need no allocation.  The hdr_list and the hash_body are the
 * caller's; keys parsed from answers are freed with the verify.  l= is
 * honoured because we verify others' signatures (we never emit it).
 * The key record parser and the signature check (verify_key_*) serve
 * arc.c as well, so DKIM and ARC judge a key record alike.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "proxy/msg/buf.h"
#include "proxy/msg/canon.h"
#include "proxy/msg/dkim.h"
#include "proxy/msg/hash.h"
#include "proxy/msg/hdr.h"
#include "proxy/msg/verify.h"

#define ED25519_KEY_LEN	32	/* RFC 8463 4: raw public key */
#define ED25519_SIG_LEN	64	/* RFC 8032 5.1.6 */

enum vsig_alg {
	VSIG_RSA_SHA256,
	VSIG_ED25519_SHA256
};

struct vsig {
	const uint8_t		*raw;		/* the field, in the hdr_list */
	size_t			 rawlen;
	size_t			 vstart;	/* offset of the value in raw */
	struct dkim_tags	*tags;
	enum verify_result	 result;
	const char		*reason;
	enum vsig_alg		 alg;
	enum canon_alg		 hcanon, bcanon;
	int64_t			 l;		/* -1: whole body */
	int			 slot;
	const uint8_t		*h;
	size_t			 hlen;
	struct buf		*bh, *b;	/* decoded */
	struct buf		*idomain;	/* the domain of i= */
	struct verify_key	*key;
};

struct verify_key {
	enum verify_keytype	 type;
	EVP_PKEY		*rsa;
	uint8_t			 ed[ED25519_KEY_LEN];
};

struct verify {
	const struct hdr_list	*hl;
	struct hash_body	*hb;
	int64_t			 now;
	size_t			 n;	/* signatures seen */
	struct vsig		 sig[VERIFY_SIGS_MAX];
};

static int
is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static int
is_hexdig(uint8_t c)
{
	return is_digit(c) || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

static int
is_wsp_or_eol(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Letters, digits, '-', '_' and '.': d= domains and s= selectors. */
/* Does a colon-separated list (with FWS) hold word, case-insensitive? */
static int
list_has(const uint8_t *p, size_t len, const char *word)
{
	size_t	i = 0, s, e;

	while (i <= len) {
		while (i < len && is_wsp_or_eol(p[i]))
			i++;
		for (s = i; i < len && p[i] != ':'; i++)
			;
		for (e = i; e > s && is_wsp_or_eol(p[e - 1]); e--)
			;
		if (dkim_value_is(p + s, e - s, word))
			return 1;
		i++;
	}
	return 0;
}

static int
hexval(uint8_t c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return c - 'A' + 10;
}

/* dkim-quoted-printable (RFC 6376 2.11): "=" 2HEXDIG, FWS ignored. */
static int
decode_qp(const uint8_t *p, size_t len, struct buf *out)
{
	size_t	i;

	for (i = 0; i < len; i++) {
		if (is_wsp_or_eol(p[i]))
			continue;
		if (p[i] == '=') {
			if (i + 2 >= len || !is_hexdig(p[i + 1]) ||
			    !is_hexdig(p[i + 2]))
				return -1;
			if (buf_append_byte(out, (uint8_t)(hexval(p[i + 1]) *
			    16 + hexval(p[i + 2]))) == -1)
				return -1;
			i += 2;
			continue;
		}
		if (buf_append_byte(out, p[i]) == -1)
			return -1;
	}
	return 0;
}

static void
decide(struct vsig *s, enum verify_result r, const char *reason)
{
	s->result = r;
	s->reason = reason;
}

/* i= decoded; its domain must be d= or a subdomain of it (6.1.1). */
static int
check_identity(struct vsig *s, const uint8_t *d, size_t dlen)
{
	struct buf	*id = NULL;
	const uint8_t	*v, *at;
	size_t		 vlen, alen;
	int		 rc = -1;

	if ((v = dkim_tags_get(s->tags, "i", &vlen)) == NULL) {
		if ((s->idomain = buf_new(DKIM_NAME_MAX)) == NULL ||
		    buf_append(s->idomain, d, dlen) == -1)
			return -1;
		return 0;
	}
	if ((id = buf_new(DKIM_NAME_MAX * 2)) == NULL)
		return -1;
	if (decode_qp(v, vlen, id) == -1 ||
	    (at = memrchr(buf_data(id), '@', buf_len(id))) == NULL) {
		decide(s, VERIFY_PERMERROR, "malformed i=");
		rc = 0;
		goto done;
	}
	at++;
	alen = buf_len(id) - (size_t)(at - buf_data(id));
	if (!(alen == dlen || (alen > dlen && at[alen - dlen - 1] == '.')) ||
	    strncasecmp((const char *)at + alen - dlen, (const char *)d,
	    dlen) != 0) {
		decide(s, VERIFY_PERMERROR, "i= domain not within d=");
		rc = 0;
		goto done;
	}
	if ((s->idomain = buf_new(DKIM_NAME_MAX)) == NULL ||
	    buf_append(s->idomain, at, alen) == -1)
		goto done;
	rc = 0;
done:
	buf_free(id);
	return rc;
}

static const char *const required_tags[][2] = {
	{ "a", "missing a=" }, { "b", "missing b=" },
	{ "bh", "missing bh=" }, { "d", "missing d=" },
	{ "h", "missing h=" }, { "s", "missing s=" },
};

/*
 * Check the signature's own tags (6.1.1); -1 only for memory shortage,
 * otherwise decided or ready for a key.
 */
static int
check_sig_tags(struct verify *v, struct vsig *s)
{
	const uint8_t	*p, *name, *d;
	size_t		 len, pos, nlen, dlen, i, nh = 0;
	int64_t		 t = -1, x;
	int		 r, from = 0;

	if ((p = dkim_tags_get(s->tags, "v", &len)) == NULL) {
		decide(s, VERIFY_PERMERROR, "missing v=");
		return 0;
	}
	if (!dkim_value_is(p, len, "1")) {
		decide(s, VERIFY_PERMERROR, "unsupported v=");
		return 0;
	}
	for (i = 0; i < sizeof(required_tags) / sizeof(required_tags[0]); i++) {
		if (dkim_tags_find(s->tags, required_tags[i][0]) < 0) {
			decide(s, VERIFY_PERMERROR, required_tags[i][1]);
			return 0;
		}
	}
	p = dkim_tags_get(s->tags, "a", &len);
	if (dkim_value_is(p, len, "rsa-sha256"))
		s->alg = VSIG_RSA_SHA256;
	else if (dkim_value_is(p, len, "ed25519-sha256"))
		s->alg = VSIG_ED25519_SHA256;
	else if (dkim_value_is(p, len, "rsa-sha1")) {
		decide(s, VERIFY_FAIL, "rsa-sha1 not accepted (RFC 8301)");
		return 0;
	} else {
		decide(s, VERIFY_PERMERROR, "unsupported algorithm");
		return 0;
	}
	s->hcanon = s->bcanon = CANON_SIMPLE;
	if ((p = dkim_tags_get(s->tags, "c", &len)) != NULL) {
		for (i = 0; i < len && p[i] != '/'; i++)
			;
		if (canon_parse_alg((const char *)p, i, &s->hcanon) == -1 ||
		    (i < len && canon_parse_alg((const char *)p + i + 1,
		    len - i - 1, &s->bcanon) == -1)) {
			decide(s, VERIFY_PERMERROR,
			    "unsupported canonicalization");
			return 0;
		}
	}
	if ((p = dkim_tags_get(s->tags, "q", &len)) != NULL &&
	    !list_has(p, len, "dns/txt")) {
		decide(s, VERIFY_PERMERROR, "unsupported query method");
		return 0;
	}
	d = dkim_tags_get(s->tags, "d", &dlen);
	if (!dkim_value_is_dname(d, dlen)) {
		decide(s, VERIFY_PERMERROR, "malformed d=");
		return 0;
	}
	p = dkim_tags_get(s->tags, "s", &len);
	if (!dkim_value_is_dname(p, len)) {
		decide(s, VERIFY_PERMERROR, "malformed s=");
		return 0;
	}
	s->h = dkim_tags_get(s->tags, "h", &s->hlen);
	pos = 0;
	while ((r = dkim_hnames_next(s->h, s->hlen, &pos, &name,
	    &nlen)) == 1) {
		if (++nh > DKIM_HNAMES_MAX - 1)
			break;
		if (dkim_value_is(name, nlen, "from"))
			from = 1;
	}
	if (r != 0) {
		decide(s, VERIFY_PERMERROR, r == -1 ? "malformed h=" :
		    "h= lists too many fields");
		return 0;
	}
	if (!from) {
		decide(s, VERIFY_PERMERROR, "h= does not sign From");
		return 0;
	}
	if (check_identity(s, d, dlen) == -1)
		return -1;
	if (s->result != VERIFY_NONE)
		return 0;
	s->l = -1;
	if ((p = dkim_tags_get(s->tags, "l", &len)) != NULL &&
	    dkim_value_number(p, len, &s->l) == -1) {
		decide(s, VERIFY_PERMERROR, "malformed l=");
		return 0;
	}
	if ((p = dkim_tags_get(s->tags, "t", &len)) != NULL &&
	    dkim_value_number(p, len, &t) == -1) {
		decide(s, VERIFY_PERMERROR, "malformed t=");
		return 0;
	}
	if ((p = dkim_tags_get(s->tags, "x", &len)) != NULL) {
		if (dkim_value_number(p, len, &x) == -1) {
			decide(s, VERIFY_PERMERROR, "malformed x=");
			return 0;
		}
		if (t >= 0 && x < t) {
			decide(s, VERIFY_PERMERROR, "x= before t=");
			return 0;
		}
		if (x < v->now) {
			decide(s, VERIFY_PERMERROR, "signature expired");
			return 0;
		}
	}
	if ((s->bh = buf_new(DKIM_SIG_MAX)) == NULL ||
	    (s->b = buf_new(DKIM_SIG_MAX)) == NULL)
		return -1;
	p = dkim_tags_get(s->tags, "bh", &len);
	if (dkim_base64_decode(p, len, s->bh) == -1 ||
	    buf_len(s->bh) != HASH_SHA256_LEN) {
		decide(s, VERIFY_PERMERROR, "malformed bh=");
		return 0;
	}
	p = dkim_tags_get(s->tags, "b", &len);
	if (dkim_base64_decode(p, len, s->b) == -1 || buf_len(s->b) == 0) {
		decide(s, VERIFY_PERMERROR, "malformed b=");
		return 0;
	}
	/* The hash_body has a fixed number of distinct (c=, l=) pairs. */
	if ((s->slot = hash_body_want(v->hb, s->bcanon, s->l)) < 0)
		decide(s, VERIFY_PERMERROR, "too many body hash variants");
	return 0;
}

static int
add_sig(struct verify *v, size_t field)
{
	struct vsig		*s;
	enum dkim_tags_err	 e;
	size_t			 i;

	if (v->n++ >= VERIFY_SIGS_MAX)
		return 0;
	s = &v->sig[v->n - 1];
	s->raw = hdr_raw(v->hl, field, &s->rawlen);
	for (i = 0; i < s->rawlen && s->raw[i] != ':'; i++)
		;
	if (i == s->rawlen || s->rawlen < i + 3) {
		decide(s, VERIFY_PERMERROR, "malformed field");
		return 0;
	}
	s->vstart = i + 1;
	e = dkim_tags_parse(s->raw + s->vstart, s->rawlen - 2 - s->vstart,
	    &s->tags, NULL);
	switch (e) {
	case DKIM_TAGS_OK:
		break;
	case DKIM_TAGS_NOMEM:
		return -1;
	case DKIM_TAGS_DUPLICATE:
		decide(s, VERIFY_PERMERROR, "duplicate tag");
		return 0;
	default:
		decide(s, VERIFY_PERMERROR, "malformed tag-list");
		return 0;
	}
	return check_sig_tags(v, s);
}

struct verify *
verify_new(const struct hdr_list *hl, int64_t now, struct hash_body *hb)
{
	struct verify	*v;
	size_t		 i;

	if ((v = calloc(1, sizeof(*v))) == NULL)
		return NULL;
	v->hl = hl;
	v->hb = hb;
	v->now = now;
	for (i = 0; i < hdr_count(hl); i++) {
		if (!hdr_name_is(hl, i, "dkim-signature"))
			continue;
		if (add_sig(v, i) == -1) {
			verify_free(v);
			return NULL;
		}
	}
	return v;
}

void
verify_free(struct verify *v)
{
	size_t	i;

	if (v == NULL)
		return;
	for (i = 0; i < v->n && i < VERIFY_SIGS_MAX; i++) {
		verify_key_free(v->sig[i].key);
		buf_free(v->sig[i].idomain);
		buf_free(v->sig[i].b);
		buf_free(v->sig[i].bh);
		dkim_tags_free(v->sig[i].tags);
	}
	free(v);
}

size_t
verify_count(const struct verify *v)
{
	return v->n;
}

int
verify_key_name(const struct verify *v, size_t i, struct buf *out)
{
	const struct vsig	*s;
	const uint8_t		*d, *sel;
	size_t			 dlen, slen;

	if (i >= v->n || i >= VERIFY_SIGS_MAX)
		return -1;
	s = &v->sig[i];
	if (s->result != VERIFY_NONE || s->key != NULL)
		return -1;
	d = dkim_tags_get(s->tags, "d", &dlen);
	sel = dkim_tags_get(s->tags, "s", &slen);
	if (buf_append(out, sel, slen) == -1 ||
	    buf_append_str(out, "._domainkey.") == -1 ||
	    buf_append(out, d, dlen) == -1)
		return -1;
	return 0;
}

/* p= of k=rsa: SubjectPublicKeyInfo DER, or a bare RSAPublicKey. */
static EVP_PKEY *
rsa_key(const struct buf *der)
{
	const unsigned char	*p;
	EVP_PKEY		*k;

	p = buf_data(der);
	k = d2i_PUBKEY(NULL, &p, (long)buf_len(der));
	if (k == NULL || p != buf_data(der) + buf_len(der)) {
		EVP_PKEY_free(k);
		p = buf_data(der);
		k = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)buf_len(der));
		if (k != NULL && p != buf_data(der) + buf_len(der)) {
			EVP_PKEY_free(k);
			k = NULL;
		}
	}
	ERR_clear_error();
	if (k != NULL && EVP_PKEY_get_id(k) != EVP_PKEY_RSA) {
		EVP_PKEY_free(k);
		k = NULL;
	}
	return k;
}

/*
 * k= against what the caller can use (RFC 6376 3.6.1, RFC 8463 4); NULL
 * when it fits, else the reason.
 */
static const char *
key_type_refused(const struct dkim_tags *kt, const struct verify_keyreq *req,
    enum verify_keytype *type)
{
	const uint8_t	*p;
	size_t		 len;

	*type = VERIFY_KEY_RSA;
	if ((p = dkim_tags_get(kt, "k", &len)) != NULL) {
		if (dkim_value_is(p, len, "ed25519"))
			*type = VERIFY_KEY_ED25519;
		else if (!dkim_value_is(p, len, "rsa"))
			return req->rsa_only ? "key type is not rsa" :
			    "unsupported key type";
	}
	if (*type != req->type)
		return req->rsa_only ? "key type is not rsa" :
		    "key type does not match a=";
	return NULL;
}

/* Key record checks (RFC 6376 3.6.1, 6.1.2); -1 for memory only. */
static int
check_key(const struct dkim_tags *kt, const struct verify_keyreq *req,
    struct verify_key *k, enum verify_result *r, const char **reason)
{
	struct buf	*pk = NULL;
	const uint8_t	*p;
	size_t		 len;
	long		 vi;
	int		 rc = -1;

	*r = VERIFY_PERMERROR;
	if ((vi = dkim_tags_find(kt, "v")) > 0 || (vi == 0 &&
	    (p = dkim_tags_get(kt, "v", &len)) != NULL &&
	    !(len == 5 && memcmp(p, "DKIM1", 5) == 0))) {
		*reason = "key record v= is not DKIM1";
		return 0;
	}
	if ((p = dkim_tags_get(kt, "h", &len)) != NULL &&
	    !list_has(p, len, "sha256")) {
		*reason = "key h= excludes sha256";
		return 0;
	}
	if ((*reason = key_type_refused(kt, req, &k->type)) != NULL)
		return 0;
	if ((p = dkim_tags_get(kt, "s", &len)) != NULL &&
	    !list_has(p, len, "*") && !list_has(p, len, "email")) {
		*reason = "key not for email (s=)";
		return 0;
	}
	if (req->subdomain && (p = dkim_tags_get(kt, "t", &len)) != NULL &&
	    list_has(p, len, "s")) {
		*reason = "key t=s but i= is a subdomain of d=";
		return 0;
	}
	if ((p = dkim_tags_get(kt, "p", &len)) == NULL) {
		*reason = "key record has no p=";
		return 0;
	}
	if (len == 0) {
		*reason = "key revoked";
		return 0;
	}
	if ((pk = buf_new(VERIFY_KEY_TXT_MAX)) == NULL)
		goto done;
	rc = 0;
	if (dkim_base64_decode(p, len, pk) == -1)
		*reason = "malformed key p=";
	else if (k->type == VERIFY_KEY_ED25519) {
		if (buf_len(pk) != ED25519_KEY_LEN)
			*reason = "ed25519 key is not 32 octets";
		else
			memcpy(k->ed, buf_data(pk), ED25519_KEY_LEN);
	} else if ((k->rsa = rsa_key(pk)) == NULL)
		*reason = "malformed RSA key";
	else if (EVP_PKEY_get_bits(k->rsa) < VERIFY_RSA_MIN_BITS) {
		*r = VERIFY_FAIL;
		*reason = "RSA key under 1024 bits (RFC 8301)";
	}
done:
	buf_free(pk);
	return rc;
}

void
verify_key_free(struct verify_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->rsa);
	free(k);
}

int
verify_key_parse(const uint8_t *txt, size_t len,
    const struct verify_keyreq *req, struct verify_key **out,
    enum verify_result *r, const char **reason)
{
	struct dkim_tags	*kt = NULL;
	struct verify_key	*k = NULL;
	enum dkim_tags_err	 e;
	int			 rc = -1;

	*out = NULL;
	*r = VERIFY_PERMERROR;
	*reason = NULL;
	if (len > VERIFY_KEY_TXT_MAX) {
		*reason = "key record too large";
		return 0;
	}
	e = dkim_tags_parse(txt, len, &kt, NULL);
	if (e == DKIM_TAGS_NOMEM)
		return -1;
	if (e != DKIM_TAGS_OK) {
		*reason = "malformed key record";
		return 0;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL ||
	    check_key(kt, req, k, r, reason) == -1)
		goto done;
	if (*reason == NULL) {
		*r = VERIFY_NONE;
		*out = k;
		k = NULL;
	}
	rc = 0;
done:
	verify_key_free(k);
	dkim_tags_free(kt);
	return rc;
}

/* RSASSA-PKCS1-v1_5 over the digest: 1 good, 0 bad, -1 error. */
static int
rsa_verify(EVP_PKEY *k, const uint8_t *digest, const uint8_t *sig,
    size_t siglen)
{
	EVP_PKEY_CTX	*ctx;
	int		 r, rc = -1;

	if ((ctx = EVP_PKEY_CTX_new(k, NULL)) == NULL)
		goto done;
	if (EVP_PKEY_verify_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) <= 0)
		goto done;
	r = EVP_PKEY_verify(ctx, sig, siglen, digest, HASH_SHA256_LEN);
	rc = r == 1 ? 1 : 0;
done:
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

int
verify_key_check(const struct verify_key *k, const uint8_t *digest,
    const uint8_t *sig, size_t siglen)
{
	if (k->type == VERIFY_KEY_ED25519)
		return siglen == ED25519_SIG_LEN &&
		    crypto_sign_verify_detached(sig, digest, HASH_SHA256_LEN,
		    k->ed) == 0;
	return rsa_verify(k->rsa, digest, sig, siglen);
}

/* The signature's view of its key record. */
static int
check_answer(struct vsig *s, const uint8_t *txt, size_t len)
{
	struct verify_keyreq	 req;
	enum verify_result	 r;
	const char		*reason;
	const uint8_t		*d;
	size_t			 dlen;

	d = dkim_tags_get(s->tags, "d", &dlen);
	req.type = s->alg == VSIG_ED25519_SHA256 ? VERIFY_KEY_ED25519 :
	    VERIFY_KEY_RSA;
	req.rsa_only = 0;
	req.subdomain = buf_len(s->idomain) != dlen ||
	    strncasecmp((const char *)buf_data(s->idomain), (const char *)d,
	    dlen) != 0;
	if (verify_key_parse(txt, len, &req, &s->key, &r, &reason) == -1)
		return -1;
	if (s->key == NULL)
		decide(s, r, reason);
	return 0;
}

int
verify_answer(struct verify *v, size_t i, enum verify_dns dns,
    const uint8_t *txt, size_t len)
{
	struct vsig		*s;

	if (i >= v->n || i >= VERIFY_SIGS_MAX)
		return -1;
	s = &v->sig[i];
	if (s->result != VERIFY_NONE || s->key != NULL)
		return 0;
	switch (dns) {
	case VERIFY_DNS_NXDOMAIN:
		decide(s, VERIFY_PERMERROR, "no key");
		return 0;
	case VERIFY_DNS_ERROR:
		decide(s, VERIFY_TEMPERROR, "key lookup failed");
		return 0;
	case VERIFY_DNS_OK:
		break;
	}
	return check_answer(s, txt, len);
}

/* The body hash, then the header signature (6.1.3). */
static int
check_hashes(struct verify *v, struct vsig *s)
{
	struct buf	*field = NULL, *data = NULL;
	uint8_t		 bh[HASH_SHA256_LEN], digest[HASH_SHA256_LEN];
	uint64_t	 clen;
	size_t		 off, slen;
	int		 ok, rc = -1;

	if (hash_body_result(v->hb, s->slot, bh, &clen) == -1)
		return -1;
	if (s->l >= 0 && (uint64_t)s->l > clen) {
		decide(s, VERIFY_PERMERROR, "l= exceeds the body");
		return 0;
	}
	if (sodium_memcmp(bh, buf_data(s->bh), HASH_SHA256_LEN) != 0) {
		decide(s, VERIFY_FAIL, "body hash mismatch");
		return 0;
	}
	if (dkim_tags_span(s->tags, "b", &off, &slen) == -1)
		return -1;
	off += s->vstart;
	if ((field = buf_new(s->rawlen)) == NULL ||
	    (data = buf_new(HDR_SECTION_MAX + s->rawlen)) == NULL)
		goto done;
	if (buf_append(field, s->raw, off) == -1 ||
	    buf_append(field, s->raw + off + slen, s->rawlen - off - slen) ==
	    -1)
		goto done;
	if (dkim_header_data(v->hl, s->hcanon, s->h, s->hlen, buf_data(field),
	    buf_len(field), data) == -1 ||
	    hash_sha256(buf_data(data), buf_len(data), digest) == -1)
		goto done;
	if ((ok = verify_key_check(s->key, digest, buf_data(s->b),
	    buf_len(s->b))) == -1)
		goto done;
	if (ok)
		decide(s, VERIFY_PASS, "signature verified");
	else
		decide(s, VERIFY_FAIL, "signature did not verify");
	rc = 0;
done:
	buf_free(data);
	buf_free(field);
	return rc;
}

int
verify_finish(struct verify *v)
{
	struct vsig	*s;
	size_t		 i;

	for (i = 0; i < v->n && i < VERIFY_SIGS_MAX; i++) {
		s = &v->sig[i];
		if (s->result != VERIFY_NONE)
			continue;
		if (s->key == NULL) {
			decide(s, VERIFY_TEMPERROR, "no key answer");
			continue;
		}
		if (check_hashes(v, s) == -1)
			return -1;
	}
	return 0;
}

enum verify_result
verify_result(const struct verify *v, size_t i)
{
	if (i >= v->n)
		return VERIFY_NONE;
	if (i >= VERIFY_SIGS_MAX)
		return VERIFY_PERMERROR;
	return v->sig[i].result;
}

const char *
verify_result_name(enum verify_result r)
{
	switch (r) {
	case VERIFY_NONE:
		return "none";
	case VERIFY_PASS:
		return "pass";
	case VERIFY_FAIL:
		return "fail";
	case VERIFY_PERMERROR:
		return "permerror";
	case VERIFY_TEMPERROR:
		return "temperror";
	}
	return "none";
}

const char *
verify_reason(const struct verify *v, size_t i)
{
	if (i >= v->n)
		return "no such signature";
	if (i >= VERIFY_SIGS_MAX)
		return "too many signatures";
	if (v->sig[i].reason == NULL)
		return "not evaluated";
	return v->sig[i].reason;
}

static const uint8_t *
sig_tag(const struct verify *v, size_t i, const char *name, size_t *len)
{
	const uint8_t	*p;

	*len = 0;
	if (i >= v->n || i >= VERIFY_SIGS_MAX || v->sig[i].tags == NULL ||
	    (p = dkim_tags_get(v->sig[i].tags, name, len)) == NULL)
		return (const uint8_t *)"";
	return p;
}

const uint8_t *
verify_domain(const struct verify *v, size_t i, size_t *len)
{
	return sig_tag(v, i, "d", len);
}

const uint8_t *
verify_selector(const struct verify *v, size_t i, size_t *len)
{
	return sig_tag(v, i, "s", len);
}

const uint8_t *
verify_algorithm(const struct verify *v, size_t i, size_t *len)
{
	return sig_tag(v, i, "a", len);
}
