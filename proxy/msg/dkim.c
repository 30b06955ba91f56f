/*
 * dkim — tag lists (RFC 6376 3.2), h= selection with n+1 oversigning
 * (hostile-inputs DK-02), the header hash input (3.7), and the
 * DKIM-Signature builder (3.5, RFC 8463).
 *
 * The tag-list parser is pure: one function per ABNF production, working
 * on (ptr, len), results pointing into the input.  The builder writes
 * tags in one fixed order, v a c d [i] [q] s t [x] h bh b, never l=
 * (DK-01), and folds only where the grammar has whitespace: after "; ",
 * and between h= names written "from : to", so relaxed canonicalization
 * sees exactly the single spaces we hash.  b= is hashed empty and then
 * wrapped into the field as FWS-separated base64.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proxy/msg/buf.h"
#include "proxy/msg/canon.h"
#include "proxy/msg/dkim.h"
#include "proxy/msg/hash.h"
#include "proxy/msg/hdr.h"

struct dkim_tag {
	const uint8_t	*name;
	size_t		 namelen;
	const uint8_t	*value;
	size_t		 valuelen;
	size_t		 spanoff;	/* after '=' up to ';' or the end */
	size_t		 spanlen;
};

struct dkim_tags {
	size_t		 n;
	struct dkim_tag	 tag[DKIM_TAGS_MAX];
};

/* Character classes, RFC 6376 2.2 and 3.2, RFC 5322 2.2. */
static int
is_alpha(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static int
is_alnumpunc(uint8_t c)
{
	return is_alpha(c) || is_digit(c) || c == '_';
}

static int
is_wsp(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static int
is_valchar(uint8_t c)
{
	return (c >= 0x21 && c <= 0x3a) || (c >= 0x3c && c <= 0x7e);
}

static int
is_ftext(uint8_t c)
{
	return (c >= 33 && c <= 57) || (c >= 59 && c <= 126);
}

static int
is_base64char(uint8_t c)
{
	return is_alpha(c) || is_digit(c) || c == '+' || c == '/';
}

/* FWS = [*WSP CRLF] 1*WSP (RFC 6376 2.8): its length at pos, or 0. */
static size_t
parse_fws(const uint8_t *p, size_t len, size_t pos)
{
	size_t	a = pos, b;

	while (a < len && is_wsp(p[a]))
		a++;
	if (a + 1 < len && p[a] == '\r' && p[a + 1] == '\n') {
		b = a + 2;
		while (b < len && is_wsp(p[b]))
			b++;
		if (b > a + 2)
			return b - pos;
	}
	return a - pos;
}

/* tag-name = ALPHA *ALNUMPUNC */
static size_t
parse_tag_name(const uint8_t *p, size_t len, size_t pos)
{
	size_t	i = pos;

	if (i >= len || !is_alpha(p[i]))
		return 0;
	for (i++; i < len && is_alnumpunc(p[i]); i++)
		;
	return i - pos;
}

/* tval = 1*VALCHAR */
static size_t
parse_tval(const uint8_t *p, size_t len, size_t pos)
{
	size_t	i;

	for (i = pos; i < len && is_valchar(p[i]); i++)
		;
	return i - pos;
}

/* tag-value = [ tval *( 1*(WSP / FWS) tval ) ] */
static size_t
parse_tag_value(const uint8_t *p, size_t len, size_t pos)
{
	size_t	end, i, n, t;

	if ((t = parse_tval(p, len, pos)) == 0)
		return 0;
	end = pos + t;
	for (;;) {
		i = end;
		while ((n = parse_fws(p, len, i)) > 0)
			i += n;
		if (i == end || (t = parse_tval(p, len, i)) == 0)
			break;
		end = i + t;
	}
	return end - pos;
}

/* tag-spec = [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS] */
static enum dkim_tags_err
parse_tag_spec(const uint8_t *p, size_t len, size_t *pos,
    struct dkim_tag *t)
{
	size_t	i = *pos, n;

	i += parse_fws(p, len, i);
	if ((n = parse_tag_name(p, len, i)) == 0) {
		*pos = i;
		return DKIM_TAGS_SYNTAX;
	}
	t->name = p + i;
	t->namelen = n;
	i += n;
	i += parse_fws(p, len, i);
	if (i >= len || p[i] != '=') {
		*pos = i;
		return DKIM_TAGS_SYNTAX;
	}
	i++;
	t->spanoff = i;
	i += parse_fws(p, len, i);
	n = parse_tag_value(p, len, i);
	t->value = p + i;
	t->valuelen = n;
	i += n;
	i += parse_fws(p, len, i);
	t->spanlen = i - t->spanoff;
	*pos = i;
	return DKIM_TAGS_OK;
}

static int
tag_name_eq(const struct dkim_tag *t, const uint8_t *name, size_t len)
{
	return t->namelen == len && memcmp(t->name, name, len) == 0;
}

/* tag-list = tag-spec *( ";" tag-spec ) [ ";" ] */
enum dkim_tags_err
dkim_tags_parse(const uint8_t *p, size_t len, struct dkim_tags **out,
    size_t *erroff)
{
	struct dkim_tags	*tl = NULL;
	struct dkim_tag		 t;
	enum dkim_tags_err	 err;
	size_t			 pos = 0, i;

	*out = NULL;
	if ((tl = calloc(1, sizeof(*tl))) == NULL) {
		err = DKIM_TAGS_NOMEM;
		goto fail;
	}
	for (;;) {
		if ((err = parse_tag_spec(p, len, &pos, &t)) != DKIM_TAGS_OK)
			goto fail;
		for (i = 0; i < tl->n; i++) {
			if (tag_name_eq(&tl->tag[i], t.name, t.namelen)) {
				err = DKIM_TAGS_DUPLICATE;
				pos = (size_t)(t.name - p);
				goto fail;
			}
		}
		if (tl->n == DKIM_TAGS_MAX) {
			err = DKIM_TAGS_TOO_MANY;
			goto fail;
		}
		tl->tag[tl->n++] = t;
		if (pos == len)
			break;
		if (p[pos] != ';') {
			err = DKIM_TAGS_SYNTAX;
			goto fail;
		}
		pos++;
		/*
		 * The ABNF puts FWS only inside tag-spec, but key records
		 * and headers in the wild end "...; " and verifiers take them.
		 */
		if (pos + parse_fws(p, len, pos) == len)
			break;
	}
	*out = tl;
	return DKIM_TAGS_OK;
fail:
	if (erroff != NULL)
		*erroff = pos;
	free(tl);
	return err;
}

const char *
dkim_tags_strerror(enum dkim_tags_err e)
{
	switch (e) {
	case DKIM_TAGS_OK:
		return "ok";
	case DKIM_TAGS_SYNTAX:
		return "tag-list syntax error";
	case DKIM_TAGS_DUPLICATE:
		return "duplicate tag";
	case DKIM_TAGS_TOO_MANY:
		return "too many tags";
	case DKIM_TAGS_NOMEM:
		return "out of memory";
	}
	return "unknown error";
}

void
dkim_tags_free(struct dkim_tags *tl)
{
	free(tl);
}

size_t
dkim_tags_count(const struct dkim_tags *tl)
{
	return tl->n;
}

const uint8_t *
dkim_tags_name(const struct dkim_tags *tl, size_t i, size_t *len)
{
	*len = tl->tag[i].namelen;
	return tl->tag[i].name;
}

const uint8_t *
dkim_tags_value(const struct dkim_tags *tl, size_t i, size_t *len)
{
	*len = tl->tag[i].valuelen;
	return tl->tag[i].value;
}

long
dkim_tags_find(const struct dkim_tags *tl, const char *name)
{
	size_t	i, n = strlen(name);

	for (i = 0; i < tl->n; i++)
		if (tag_name_eq(&tl->tag[i], (const uint8_t *)name, n))
			return (long)i;
	return -1;
}

const uint8_t *
dkim_tags_get(const struct dkim_tags *tl, const char *name, size_t *len)
{
	long	i;

	if ((i = dkim_tags_find(tl, name)) < 0)
		return NULL;
	return dkim_tags_value(tl, (size_t)i, len);
}

int
dkim_tags_span(const struct dkim_tags *tl, const char *name, size_t *off,
    size_t *len)
{
	long	i;

	if ((i = dkim_tags_find(tl, name)) < 0)
		return -1;
	*off = tl->tag[i].spanoff;
	*len = tl->tag[i].spanlen;
	return 0;
}

/*
 * base64string = ALPHADIGITPS *([FWS] ALPHADIGITPS) [ [FWS] "=" [ [FWS]
 * "=" ] ] (RFC 6376 2.4): whitespace is dropped, then strict decoding.
 */
int
dkim_base64_decode(const uint8_t *p, size_t len, struct buf *out)
{
	struct buf	*clean = NULL;
	uint8_t		*bin = NULL;
	size_t		 i, binlen, pad = 0;
	int		 rc = -1;

	if ((clean = buf_new(len + 1)) == NULL)
		goto done;
	for (i = 0; i < len; i++) {
		if (is_wsp(p[i]) || p[i] == '\r' || p[i] == '\n')
			continue;
		if (p[i] == '=')
			pad++;
		else if (!is_base64char(p[i]) || pad > 0)
			goto done;
		if (buf_append_byte(clean, p[i]) == -1)
			goto done;
	}
	if (pad > 2 || buf_len(clean) % 4 != 0)
		goto done;
	binlen = buf_len(clean) / 4 * 3;
	if ((bin = malloc(binlen + 1)) == NULL)
		goto done;
	if (sodium_base642bin(bin, binlen + 1, (const char *)buf_data(clean),
	    buf_len(clean), NULL, &binlen, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0)
		goto done;
	if (buf_append(out, bin, binlen) == -1)
		goto done;
	rc = 0;
done:
	free(bin);
	buf_free(clean);
	return rc;
}

/* sig-h-tag value: hdr-name *( [FWS] ":" [FWS] hdr-name ) */
int
dkim_hnames_next(const uint8_t *p, size_t len, size_t *pos,
    const uint8_t **name, size_t *namelen)
{
	size_t	i = *pos, start;

	if (i > 0) {
		i += parse_fws(p, len, i);
		if (i == len) {
			*pos = i;
			return 0;
		}
		if (p[i] != ':')
			return -1;
		i++;
	}
	i += parse_fws(p, len, i);
	for (start = i; i < len && is_ftext(p[i]); i++)
		;
	if (i == start)
		return -1;
	*name = p + start;
	*namelen = i - start;
	*pos = i;
	return 1;
}

/* Trace fields and other signatures change or multiply in transit. */
static const char *const never_sign[] = {
	"dkim-signature", "received", "return-path",
	"authentication-results", "delivered-to",
};

int
dkim_header_signable(const char *name)
{
	size_t	i;

	if (strncasecmp(name, "arc-", 4) == 0)
		return 0;
	for (i = 0; i < sizeof(never_sign) / sizeof(never_sign[0]); i++)
		if (strcasecmp(name, never_sign[i]) == 0)
			return 0;
	return 1;
}

const char *const dkim_default_sign[] = {
	"from", "to", "cc", "subject", "date", "message-id", "reply-to",
	"in-reply-to", "references", "mime-version", "content-type",
	"content-transfer-encoding", "list-*",
};
const size_t dkim_default_nsign =
    sizeof(dkim_default_sign) / sizeof(dkim_default_sign[0]);

const char *const dkim_default_oversign[] = {
	"from", "to", "cc", "subject", "date", "reply-to", "mime-version",
	"content-type", "content-transfer-encoding",
};
const size_t dkim_default_noversign =
    sizeof(dkim_default_oversign) / sizeof(dkim_default_oversign[0]);

/* A configured name: field-name characters, optionally a final '*'. */
static int
valid_pattern(const char *s)
{
	size_t	i, n = strlen(s);

	if (n == 0 || (n == 1 && s[0] == '*'))
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] == '*' && i == n - 1)
			break;
		if (s[i] == '*' || !is_ftext((uint8_t)s[i]))
			return 0;
	}
	return 1;
}

static int
pattern_is_prefix(const char *pat)
{
	size_t	n = strlen(pat);

	return n > 0 && pat[n - 1] == '*';
}

static int
name_matches(const uint8_t *name, size_t len, const char *pat)
{
	size_t	n = strlen(pat);

	if (pattern_is_prefix(pat))
		return len >= n - 1 && strncasecmp((const char *)name, pat,
		    n - 1) == 0;
	return len == n && strncasecmp((const char *)name, pat, n) == 0;
}

static int
in_list(const char *const *list, size_t n, const char *name)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcasecmp(list[i], name) == 0)
			return 1;
	return 0;
}

/* Append one name, lower-cased, with a ':' separator. */
static int
emit_name(struct buf *out, const uint8_t *name, size_t len)
{
	size_t	i;

	if (buf_len(out) > 0 && buf_append_byte(out, ':') == -1)
		return -1;
	for (i = 0; i < len; i++) {
		uint8_t c = name[i];

		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c - 'A' + 'a');
		if (buf_append_byte(out, c) == -1)
			return -1;
	}
	return 0;
}

/* Has this exact field name (case-insensitive) been seen before index i? */
static int
name_seen_before(const struct hdr_list *hl, size_t i)
{
	const uint8_t	*a, *b;
	size_t		 j, alen, blen;

	a = hdr_name(hl, i, &alen);
	for (j = 0; j < i; j++) {
		b = hdr_name(hl, j, &blen);
		if (alen == blen && strncasecmp((const char *)a,
		    (const char *)b, alen) == 0)
			return 1;
	}
	return 0;
}

/*
 * Pass 1 for one pattern: a plain name once per instance; a prefix
 * pattern once per instance of each matching name, names in order of
 * first appearance.  extra: one more per distinct name (pass 2), and a
 * plain name that is absent still once.
 */
static int
emit_pattern(const struct hdr_list *hl, const char *pat, int extra,
    struct buf *out)
{
	const uint8_t	*name;
	size_t		 i, j, len, n = hdr_count(hl), count;
	char		 cname[HDR_LINE_MAX + 1];

	if (!pattern_is_prefix(pat)) {
		count = hdr_count_name(hl, pat);
		if (extra)
			count = 1;
		for (j = 0; j < count; j++)
			if (emit_name(out, (const uint8_t *)pat,
			    strlen(pat)) == -1)
				return -1;
		return 0;
	}
	for (i = 0; i < n; i++) {
		name = hdr_name(hl, i, &len);
		if (!name_matches(name, len, pat) || name_seen_before(hl, i))
			continue;
		if (len > HDR_LINE_MAX)
			continue;
		memcpy(cname, name, len);
		cname[len] = '\0';
		if (!dkim_header_signable(cname))
			continue;
		count = extra ? 1 : hdr_count_name(hl, cname);
		for (j = 0; j < count; j++)
			if (emit_name(out, name, len) == -1)
				return -1;
	}
	return 0;
}

int
dkim_select_headers(const struct hdr_list *hl, const char *const *sign,
    size_t nsign, const char *const *oversign, size_t noversign,
    struct buf *out)
{
	size_t	i, nfrom;
	int	from_over, from_listed;

	for (i = 0; i < nsign; i++)
		if (!valid_pattern(sign[i]))
			return -1;
	for (i = 0; i < noversign; i++)
		if (!valid_pattern(oversign[i]))
			return -1;
	from_over = in_list(oversign, noversign, "from");
	from_listed = from_over || in_list(sign, nsign, "from");
	nfrom = hdr_count_name(hl, "from");
	/*
	 * From is always signed: listed as usual when a list names it,
	 * otherwise once per instance up front; an absent From not covered
	 * by oversigning is listed once so that none can be added.
	 */
	if (!from_listed && nfrom > 0 &&
	    emit_pattern(hl, "from", 0, out) == -1)
		return -1;
	if (!from_over && nfrom == 0 &&
	    emit_name(out, (const uint8_t *)"from", 4) == -1)
		return -1;
	for (i = 0; i < nsign; i++) {
		if (in_list(sign, i, sign[i]) ||
		    !dkim_header_signable(sign[i]))
			continue;
		if (emit_pattern(hl, sign[i], 0, out) == -1)
			return -1;
	}
	for (i = 0; i < noversign; i++) {
		if (in_list(sign, nsign, oversign[i]) ||
		    in_list(oversign, i, oversign[i]) ||
		    !dkim_header_signable(oversign[i]))
			continue;
		if (emit_pattern(hl, oversign[i], 0, out) == -1)
			return -1;
	}
	for (i = 0; i < noversign; i++) {
		if (in_list(oversign, i, oversign[i]) ||
		    !dkim_header_signable(oversign[i]))
			continue;
		if (emit_pattern(hl, oversign[i], 1, out) == -1)
			return -1;
	}
	return 0;
}

static int
hname_eq(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	return alen == blen && strncasecmp((const char *)a, (const char *)b,
	    alen) == 0;
}

int
dkim_header_data(const struct hdr_list *hl, enum canon_alg c,
    const uint8_t *h, size_t hlen, const uint8_t *sigfield, size_t siglen,
    struct buf *out)
{
	const uint8_t	*names[DKIM_HNAMES_MAX], *raw;
	size_t		 lens[DKIM_HNAMES_MAX], n = 0, pos = 0, i, j, k, rawlen;
	long		 idx;
	char		 cname[HDR_LINE_MAX + 1];
	int		 r;

	while ((r = dkim_hnames_next(h, hlen, &pos, &names[n],
	    &lens[n])) == 1) {
		if (lens[n] > HDR_LINE_MAX || ++n == DKIM_HNAMES_MAX)
			return -1;
	}
	if (r == -1)
		return -1;
	for (i = 0; i < n; i++) {
		for (j = 0, k = 0; j < i; j++)
			if (hname_eq(names[i], lens[i], names[j], lens[j]))
				k++;
		memcpy(cname, names[i], lens[i]);
		cname[lens[i]] = '\0';
		/* An instance that does not exist contributes nothing. */
		if ((idx = hdr_find_from_bottom(hl, cname, k)) < 0)
			continue;
		raw = hdr_raw(hl, (size_t)idx, &rawlen);
		if (canon_header(c, raw, rawlen, out) == -1)
			return -1;
	}
	if (canon_header(c, sigfield, siglen, out) == -1)
		return -1;
	n = buf_len(out);
	if (n >= 2 && buf_data(out)[n - 2] == '\r' &&
	    buf_data(out)[n - 1] == '\n')
		buf_truncate(out, n - 2);
	return 0;
}

const char *
dkim_alg_name(enum dkim_alg a)
{
	return a == DKIM_ALG_ED25519_SHA256 ? "ed25519-sha256" : "rsa-sha256";
}

/* Sign the header data and append the base64 signature to b64. */
static int
sign_data(const struct buf *data, dkim_sign_fn fn, void *ctx,
    struct buf *b64)
{
	uint8_t	 digest[HASH_SHA256_LEN], sig[DKIM_SIG_MAX];
	char	 enc[sodium_base64_ENCODED_LEN(DKIM_SIG_MAX,
		    sodium_base64_VARIANT_ORIGINAL)];
	size_t	 siglen = sizeof(sig);

	if (hash_sha256(buf_data(data), buf_len(data), digest) == -1)
		return -1;
	if (fn(ctx, digest, sig, &siglen) == -1 || siglen == 0 ||
	    siglen > sizeof(sig))
		return -1;
	sodium_bin2base64(enc, sizeof(enc), sig, siglen,
	    sodium_base64_VARIANT_ORIGINAL);
	return buf_append_str(b64, enc);
}

/*
 * Where the b= value goes in a caller-formatted field: the offset just
 * after "b=" in the raw field.  The value must be empty.
 */
static int
field_b_offset(const uint8_t *f, size_t len, struct dkim_tags **tags,
    size_t *vstart, size_t *boff)
{
	size_t	i, off, slen;

	for (i = 0; i < len && f[i] != ':'; i++)
		;
	if (i == len || len < i + 3 || f[len - 2] != '\r' ||
	    f[len - 1] != '\n')
		return -1;
	*vstart = i + 1;
	if (dkim_tags_parse(f + *vstart, len - 2 - *vstart, tags, NULL) !=
	    DKIM_TAGS_OK)
		return -1;
	if (dkim_tags_span(*tags, "b", &off, &slen) == -1 ||
	    dkim_tags_get(*tags, "b", &slen) == NULL || slen != 0)
		return -1;
	*boff = *vstart + off;
	return 0;
}

/* c= value -> header and body algorithms (3.5: default simple/simple). */
static int
parse_c(const uint8_t *v, size_t len, enum canon_alg *hc, enum canon_alg *bc)
{
	size_t	i;

	*hc = *bc = CANON_SIMPLE;
	if (v == NULL)
		return 0;
	for (i = 0; i < len && v[i] != '/'; i++)
		;
	if (canon_parse_alg((const char *)v, i, hc) == -1)
		return -1;
	if (i < len && canon_parse_alg((const char *)v + i + 1,
	    len - i - 1, bc) == -1)
		return -1;
	return 0;
}

int
dkim_sign_field(const struct hdr_list *hl, const uint8_t *field, size_t len,
    dkim_sign_fn fn, void *ctx, struct buf *out)
{
	struct dkim_tags	*tags = NULL;
	struct buf		*data = NULL, *b64 = NULL;
	const uint8_t		*h, *c;
	size_t			 vstart, boff, hlen, clen = 0;
	enum canon_alg		 hc, bc;
	int			 rc = -1;

	if (field_b_offset(field, len, &tags, &vstart, &boff) == -1)
		goto done;
	c = dkim_tags_get(tags, "c", &clen);
	if ((h = dkim_tags_get(tags, "h", &hlen)) == NULL ||
	    parse_c(c, clen, &hc, &bc) == -1)
		goto done;
	if ((data = buf_new(HDR_SECTION_MAX + DKIM_FIELD_MAX)) == NULL ||
	    (b64 = buf_new(DKIM_FIELD_MAX)) == NULL)
		goto done;
	if (dkim_header_data(hl, hc, h, hlen, field, len, data) == -1 ||
	    sign_data(data, fn, ctx, b64) == -1)
		goto done;
	if (buf_append(out, field, boff) == -1 ||
	    buf_append(out, buf_data(b64), buf_len(b64)) == -1 ||
	    buf_append(out, field + boff, len - boff) == -1)
		goto done;
	rc = 0;
done:
	buf_free(b64);
	buf_free(data);
	dkim_tags_free(tags);
	return rc;
}

/* The builder's view of one signature. */
struct dkim_sig {
	enum dkim_alg	 alg;
	enum canon_alg	 hcanon, bcanon;
	struct buf	*d, *s, *i;	/* i may be NULL */
	int		 query_dns;
	int64_t		 t;
	uint64_t	 expiration;
	struct buf	*h;		/* "from:to:..." */
	int		 slot;
	dkim_sign_fn	 fn;
	void		*ctx;
};

#define DKIM_SIGNER_MAX	8	/* signatures per message: s1, s2, extras */

struct dkim_signer {
	struct hash_body	*hb;
	size_t			 n;
	struct dkim_sig		 sig[DKIM_SIGNER_MAX];
};

struct dkim_signer *
dkim_signer_new(struct hash_body *hb)
{
	struct dkim_signer	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->hb = hb;
	return s;
}

static void
sig_clear(struct dkim_sig *g)
{
	buf_free(g->h);
	buf_free(g->i);
	buf_free(g->s);
	buf_free(g->d);
	memset(g, 0, sizeof(*g));
}

void
dkim_signer_free(struct dkim_signer *s)
{
	size_t	i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n; i++)
		sig_clear(&s->sig[i]);
	free(s);
}

/* d= and s=: letters, digits, '-', '_', '.' (domain-name, selector). */
static int
valid_dname(const char *v)
{
	size_t	i, n = strlen(v);

	if (n == 0 || n > 253)
		return 0;
	for (i = 0; i < n; i++) {
		uint8_t c = (uint8_t)v[i];

		if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '_' &&
		    c != '.')
			return 0;
	}
	return 1;
}

/* i= as we emit it: VALCHARs with an '@', its domain d= or below. */
static int
valid_identity(const char *v, const char *d)
{
	const char	*at;
	size_t		 i, n = strlen(v), dl = strlen(d), al;

	for (i = 0; i < n; i++)
		if (!is_valchar((uint8_t)v[i]) || v[i] == '=')
			return 0;
	if ((at = strrchr(v, '@')) == NULL)
		return 0;
	at++;
	al = strlen(at);
	if (al == dl)
		return strcasecmp(at, d) == 0;
	return al > dl && at[al - dl - 1] == '.' &&
	    strcasecmp(at + al - dl, d) == 0;
}

static struct buf *
dup_str(const char *s)
{
	struct buf	*b;

	if ((b = buf_new(0)) == NULL)
		return NULL;
	if (buf_append_str(b, s) == -1) {
		buf_free(b);
		return NULL;
	}
	return b;
}

int
dkim_signer_add(struct dkim_signer *s, const struct hdr_list *hl,
    const struct dkim_params *p)
{
	struct dkim_sig	*g;

	if (s->n == DKIM_SIGNER_MAX || p->sign_fn == NULL ||
	    p->domain == NULL || p->selector == NULL || p->time < 0 ||
	    !valid_dname(p->domain) || !valid_dname(p->selector) ||
	    (p->identity != NULL && !valid_identity(p->identity, p->domain)))
		return -1;
	g = &s->sig[s->n];
	g->alg = p->alg;
	g->hcanon = p->hcanon;
	g->bcanon = p->bcanon;
	g->query_dns = p->query_dns;
	g->t = p->time;
	g->expiration = p->expiration;
	g->fn = p->sign_fn;
	g->ctx = p->sign_ctx;
	if ((g->d = dup_str(p->domain)) == NULL ||
	    (g->s = dup_str(p->selector)) == NULL ||
	    (p->identity != NULL && (g->i = dup_str(p->identity)) == NULL) ||
	    (g->h = buf_new(DKIM_FIELD_MAX)) == NULL)
		goto fail;
	if (dkim_select_headers(hl, p->sign, p->nsign, p->oversign,
	    p->noversign, g->h) == -1)
		goto fail;
	if ((g->slot = hash_body_want(s->hb, p->bcanon, -1)) < 0)
		goto fail;
	s->n++;
	return 0;
fail:
	sig_clear(g);
	return -1;
}

/* Line-length bookkeeping while writing a field. */
struct fold {
	struct buf	*b;
	size_t		 col;
};

/* Write a word, preceded by one space or by a fold if it would not fit. */
static int
fold_word(struct fold *f, const char *w, size_t n)
{
	if (f->col + 1 + n > DKIM_LINE_MAX) {
		if (buf_append(f->b, "\r\n ", 3) == -1)
			return -1;
		f->col = 1;
	} else {
		if (buf_append_byte(f->b, ' ') == -1)
			return -1;
		f->col++;
	}
	if (buf_append(f->b, w, n) == -1)
		return -1;
	f->col += n;
	return 0;
}

static int
fold_tag(struct fold *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
fold_tag(struct fold *f, const char *fmt, ...)
{
	char	 word[512];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(word, sizeof(word), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(word))
		return -1;
	return fold_word(f, word, (size_t)n);
}

/* h= as "h=from : to : subject;" with a fold point after each " :". */
static int
fold_h(struct fold *f, const struct buf *h)
{
	const uint8_t	*p = buf_data(h), *name;
	size_t		 len = buf_len(h), pos = 0, nlen;
	char		 word[HDR_LINE_MAX + 8];
	int		 r, first = 1;

	while ((r = dkim_hnames_next(p, len, &pos, &name, &nlen)) == 1) {
		if (nlen > HDR_LINE_MAX)
			return -1;
		snprintf(word, sizeof(word), "%s%.*s%s", first ? "h=" : "",
		    (int)nlen, (const char *)name, pos == len ? ";" : " :");
		if (fold_word(f, word, strlen(word)) == -1)
			return -1;
		first = 0;
	}
	return r == -1 || first ? -1 : 0;
}

/* The field up to and including "b=" (the form that is hashed). */
static int
build_unsigned(const struct dkim_sig *g, const uint8_t bh[HASH_SHA256_LEN],
    struct fold *f)
{
	char	bh64[sodium_base64_ENCODED_LEN(HASH_SHA256_LEN,
		    sodium_base64_VARIANT_ORIGINAL)];

	sodium_bin2base64(bh64, sizeof(bh64), bh, HASH_SHA256_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
	if (buf_append_str(f->b, "DKIM-Signature:") == -1)
		return -1;
	f->col = strlen("DKIM-Signature:");
	if (fold_tag(f, "v=1;") == -1 ||
	    fold_tag(f, "a=%s;", dkim_alg_name(g->alg)) == -1 ||
	    fold_tag(f, "c=%s/%s;", canon_alg_name(g->hcanon),
	    canon_alg_name(g->bcanon)) == -1 ||
	    fold_tag(f, "d=%s;", buf_cstr(g->d)) == -1)
		return -1;
	if (g->i != NULL && fold_tag(f, "i=%s;", buf_cstr(g->i)) == -1)
		return -1;
	if (g->query_dns && fold_tag(f, "q=dns/txt;") == -1)
		return -1;
	if (fold_tag(f, "s=%s;", buf_cstr(g->s)) == -1 ||
	    fold_tag(f, "t=%lld;", (long long)g->t) == -1)
		return -1;
	if (g->expiration > 0 && fold_tag(f, "x=%llu;",
	    (unsigned long long)g->t + g->expiration) == -1)
		return -1;
	if (fold_h(f, g->h) == -1 || fold_tag(f, "bh=%s;", bh64) == -1 ||
	    fold_tag(f, "b=") == -1)
		return -1;
	return 0;
}

/* Wrap base64 after "b=": fill each line to DKIM_LINE_MAX. */
static int
fold_b64(struct fold *f, const struct buf *b64)
{
	const uint8_t	*p = buf_data(b64);
	size_t		 len = buf_len(b64), room, n;

	while (len > 0) {
		if (f->col >= DKIM_LINE_MAX) {
			if (buf_append(f->b, "\r\n ", 3) == -1)
				return -1;
			f->col = 1;
		}
		room = DKIM_LINE_MAX - f->col;
		n = len < room ? len : room;
		if (buf_append(f->b, p, n) == -1)
			return -1;
		f->col += n;
		p += n;
		len -= n;
	}
	return 0;
}

static int
finish_one(const struct dkim_signer *s, const struct dkim_sig *g,
    const struct hdr_list *hl, struct buf *out)
{
	struct buf	*field = NULL, *data = NULL, *b64 = NULL;
	struct fold	 f;
	uint8_t		 bh[HASH_SHA256_LEN];
	uint64_t	 clen;
	size_t		 unsigned_len;
	int		 rc = -1;

	if (hash_body_result(s->hb, g->slot, bh, &clen) == -1)
		goto done;
	if ((field = buf_new(DKIM_FIELD_MAX)) == NULL ||
	    (data = buf_new(HDR_SECTION_MAX + DKIM_FIELD_MAX)) == NULL ||
	    (b64 = buf_new(DKIM_FIELD_MAX)) == NULL)
		goto done;
	f.b = field;
	f.col = 0;
	if (build_unsigned(g, bh, &f) == -1)
		goto done;
	unsigned_len = buf_len(field);
	if (buf_append(field, "\r\n", 2) == -1 ||
	    dkim_header_data(hl, g->hcanon, buf_data(g->h), buf_len(g->h),
	    buf_data(field), buf_len(field), data) == -1)
		goto done;
	buf_truncate(field, unsigned_len);
	if (sign_data(data, g->fn, g->ctx, b64) == -1 ||
	    fold_b64(&f, b64) == -1 || buf_append(field, "\r\n", 2) == -1)
		goto done;
	if (buf_append(out, buf_data(field), buf_len(field)) == -1)
		goto done;
	rc = 0;
done:
	buf_free(b64);
	buf_free(data);
	buf_free(field);
	return rc;
}

int
dkim_signer_finish(struct dkim_signer *s, const struct hdr_list *hl,
    struct buf *out)
{
	size_t	i;

	for (i = 0; i < s->n; i++)
		if (finish_one(s, &s->sig[i], hl, out) == -1)
			return -1;
	return 0;
}

static int
is_dnamechar(uint8_t c)
{
	return is_alpha(c) || is_digit(c) || c == '-' || c == '_' || c == '.';
}

int
dkim_value_is_dname(const uint8_t *p, size_t len)
{
	size_t	i;

	if (len == 0 || len > DKIM_NAME_MAX || p[0] == '.' ||
	    p[len - 1] == '.')
		return 0;
	for (i = 0; i < len; i++)
		if (!is_dnamechar(p[i]))
			return 0;
	return 1;
}

int
dkim_value_is(const uint8_t *p, size_t len, const char *s)
{
	return len == strlen(s) && strncasecmp((const char *)p, s, len) == 0;
}

int
dkim_value_number(const uint8_t *p, size_t len, int64_t *out)
{
	int64_t	v = 0;
	size_t	i;

	if (len == 0 || len > DKIM_NUM_DIGITS)
		return -1;
	for (i = 0; i < len; i++) {
		if (!is_digit(p[i]))
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return 0;
}
