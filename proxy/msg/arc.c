/*
 * arc — ARC header fields, chain validation and sealing (RFC 8617 4,
 * 5.1, 5.2), and the Authentication-Results reading a sealer needs
 * (RFC 8601 2.2, 5).
 *
 * arc_new() is a total parser: every ARC field is copied and read with
 * bounded loops; anything structurally wrong (a tag-list that does not
 * parse, a bad or missing i=, a duplicate or missing member of a set,
 * more than ARC_FIELDS_MAX fields, a cv= out of sequence) decides the
 * chain as fail there, before any key is asked for.  Sets are indexed
 * by instance, so i= is checked to lie in 1..ARC_SETS_MAX before it is
 * used.  Each set's fields are canonicalized (relaxed) once and kept,
 * because every ARC-Seal hashes all the sets below it.
 *
 * Key records are deduplicated by name: one answer serves every
 * signature with the same d= and s=.  Signature results reuse
 * enum verify_result; reasons are static strings, except the chain's,
 * which names the instance.  Ownership: the struct arc owns its copies
 * of the ARC fields, the parsed tags (pointing into those copies) and
 * the keys; the header list and the hash_body are the caller's.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "proxy/msg/arc.h"
#include "proxy/msg/buf.h"
#include "proxy/msg/canon.h"
#include "proxy/msg/dkim.h"
#include "proxy/msg/hash.h"
#include "proxy/msg/hdr.h"
#include "proxy/msg/verify.h"

#define ARC_INST_DIGITS	2	/* RFC 8617 4.2.1: 1*2DIGIT */
#define ARC_REASON_MAX	128
/* Everything a seal or an AS hashes: the header section plus our set. */
#define ARC_DATA_MAX	(HDR_SECTION_MAX + 4 * DKIM_FIELD_MAX)

enum arc_kind {
	ARC_AAR = 0,
	ARC_AMS,
	ARC_AS
};

static const char *const arc_field_names[] = {
	"arc-authentication-results", "arc-message-signature", "arc-seal",
};
static const char *const arc_display_names[] = {
	"ARC-Authentication-Results", "ARC-Message-Signature", "ARC-Seal",
};

/* One ARC field as received, and for AMS and AS its signature state. */
struct arc_field {
	struct buf		*raw;		/* name ':' value CRLF */
	struct buf		*canon;		/* relaxed, CRLF */
	size_t			 vstart;	/* offset of the value */
	struct dkim_tags	*tags;		/* AMS, AS: into raw */
	enum verify_result	 result;
	const char		*reason;
	int			 key;		/* in keys, or -1 */
	/* AMS only. */
	enum canon_alg		 hcanon, bcanon;
	int64_t			 l;
	int			 slot;
	struct buf		*h;		/* h= names, ':' between */
	struct buf		*bh, *b;
	/* AS only. */
	enum arc_cv		 cv;
};

struct arc_set {
	struct arc_field	 f[3];		/* by enum arc_kind */
};

struct arc_key {
	struct buf		*name;
	struct verify_key	*key;
	int			 answered;
	enum verify_result	 result;	/* when the key is unusable */
	const char		*reason;
};

struct arc {
	const struct hdr_list	*hl;
	struct hash_body	*hb;
	int64_t			 now;
	enum arc_cv		 result;
	int			 decided;	/* by the structure */
	int			 temporary;
	char			 reason[ARC_REASON_MAX];
	unsigned		 maxinst;	/* highest readable i= */
	unsigned		 nsets;		/* maxinst, if sound */
	unsigned		 next;
	int			 seal_slot;
	/* Indexed by instance; set[0] is unused. */
	struct arc_set		 set[ARC_SETS_MAX + 1];
	size_t			 nkeys;
	struct arc_key		 key[ARC_KEYS_MAX];
};

/* Character classes: RFC 5234 B.1, RFC 2045 5.1, RFC 6376 3.1. */
static int
is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static int
is_wsp(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static int
is_fws_octet(uint8_t c)
{
	return is_wsp(c) || c == '\r' || c == '\n';
}

/* token: any CHAR except SPACE, CTLs and tspecials (RFC 2045 5.1). */
static int
is_token_char(uint8_t c)
{
	return c > 0x20 && c < 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* ftext = %d33-57 / %d59-126 (RFC 5322 3.6.8): field-name octets. */
static int
is_ftext(uint8_t c)
{
	return c >= 33 && c <= 126 && c != ':';
}

/* Letters, digits, '-', '_' and '.': d= domains and s= selectors. */
/* Results text we write into an AAR: printable, WSP, or UTF-8. */
static int
is_result_char(uint8_t c)
{
	return is_wsp(c) || (c >= 0x20 && c != 0x7f);
}

/* instance = 1*2DIGIT, 1 to ARC_SETS_MAX (RFC 8617 4.2.1); 0 if not. */
static unsigned
parse_instance(const uint8_t *p, size_t len)
{
	int64_t	v;

	if (len > ARC_INST_DIGITS || dkim_value_number(p, len, &v) == -1 ||
	    v < 1 || v > ARC_SETS_MAX)
		return 0;
	return (unsigned)v;
}

/* CFWS (RFC 5322 3.2.2): whitespace, folds and nested comments. */
static size_t
parse_cfws(const uint8_t *p, size_t len, size_t pos)
{
	size_t	i = pos, depth = 0;

	while (i < len) {
		if (depth == 0 && is_fws_octet(p[i]))
			i++;
		else if (p[i] == '(') {
			depth++;
			i++;
		} else if (depth > 0 && p[i] == ')') {
			depth--;
			i++;
		} else if (depth > 0 && p[i] == '\\' && i + 1 < len)
			i += 2;
		else if (depth > 0)
			i++;
		else
			break;
	}
	return i - pos;
}

/* quoted-string without its CFWS: the length, or 0 if there is none. */
static size_t
parse_quoted(const uint8_t *p, size_t len, size_t pos)
{
	size_t	i = pos;

	if (i >= len || p[i] != '"')
		return 0;
	for (i++; i < len && p[i] != '"'; i++)
		if (p[i] == '\\' && i + 1 < len)
			i++;
	return i < len ? i + 1 - pos : 0;
}

/* token = 1*<token chars> */
static size_t
parse_token(const uint8_t *p, size_t len, size_t pos)
{
	size_t	i;

	for (i = pos; i < len && is_token_char(p[i]); i++)
		;
	return i - pos;
}

/*
 * authserv-id = value = token / quoted-string (RFC 8601 2.2, RFC 2045
 * 5.1), after [CFWS].  The id, unquoted, goes to out (if not NULL);
 * *end is the offset after it.  -1 when there is none.
 */
static int
parse_authserv_id(const uint8_t *p, size_t len, size_t *end, struct buf *out)
{
	size_t	i, n, k;

	i = parse_cfws(p, len, 0);
	if ((n = parse_quoted(p, len, i)) > 0) {
		for (k = i + 1; out != NULL && k < i + n - 1; k++) {
			if (p[k] == '\\')
				k++;
			if (buf_append_byte(out, p[k]) == -1)
				return -1;
		}
		if (n == 2)
			return -1;
	} else if ((n = parse_token(p, len, i)) > 0) {
		if (out != NULL && buf_append(out, p + i, n) == -1)
			return -1;
	} else
		return -1;
	*end = i + n;
	return 0;
}

/*
 * The start of an AAR value: [CFWS] "i" [CFWS] "=" [CFWS] instance
 * [CFWS] ";" (RFC 8617 4.1.1).  The instance, or 0.
 */
static unsigned
parse_aar_instance(const uint8_t *p, size_t len)
{
	size_t		 i, s;
	unsigned	 inst;

	i = parse_cfws(p, len, 0);
	if (i >= len || p[i] != 'i')
		return 0;
	i++;
	i += parse_cfws(p, len, i);
	if (i >= len || p[i] != '=')
		return 0;
	i++;
	i += parse_cfws(p, len, i);
	for (s = i; i < len && is_digit(p[i]); i++)
		;
	if ((inst = parse_instance(p + s, i - s)) == 0)
		return 0;
	i += parse_cfws(p, len, i);
	return i < len && p[i] == ';' ? inst : 0;
}

const char *
arc_cv_name(enum arc_cv cv)
{
	switch (cv) {
	case ARC_CV_PASS:
		return "pass";
	case ARC_CV_FAIL:
		return "fail";
	case ARC_CV_NONE:
		break;
	}
	return "none";
}

static void
chain_fail(struct arc *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Decide the chain as fail, keeping the first reason given. */
static void
chain_fail(struct arc *a, const char *fmt, ...)
{
	va_list	ap;

	if (a->result == ARC_CV_FAIL)
		return;
	a->result = ARC_CV_FAIL;
	va_start(ap, fmt);
	vsnprintf(a->reason, sizeof(a->reason), fmt, ap);
	va_end(ap);
}

static void
decide(struct arc_field *f, enum verify_result r, const char *reason)
{
	f->result = r;
	f->reason = reason;
}

static void
field_clear(struct arc_field *f)
{
	buf_free(f->h);
	buf_free(f->b);
	buf_free(f->bh);
	dkim_tags_free(f->tags);
	buf_free(f->canon);
	buf_free(f->raw);
	memset(f, 0, sizeof(*f));
}

void
arc_free(struct arc *a)
{
	size_t	i, k;

	if (a == NULL)
		return;
	for (i = 0; i <= ARC_SETS_MAX; i++)
		for (k = 0; k < 3; k++)
			field_clear(&a->set[i].f[k]);
	for (i = 0; i < a->nkeys; i++) {
		verify_key_free(a->key[i].key);
		buf_free(a->key[i].name);
	}
	free(a);
}

/*
 * Read one ARC field: its instance and, for AMS and AS, its tag-list.
 * The field is stored under its instance unless that slot is taken.
 * -1 for memory shortage only.
 */
static int
add_field(struct arc *a, size_t idx, enum arc_kind kind)
{
	const char		*what = arc_display_names[kind];
	struct arc_field	 f;
	enum dkim_tags_err	 e;
	const uint8_t		*raw, *v;
	size_t			 rawlen, i, vlen;
	unsigned		 inst;

	memset(&f, 0, sizeof(f));
	f.key = -1;
	raw = hdr_raw(a->hl, idx, &rawlen);
	for (i = 0; i < rawlen && raw[i] != ':'; i++)
		;
	if (i == rawlen || rawlen < i + 3) {
		chain_fail(a, "malformed %s", what);
		return 0;
	}
	if ((f.raw = buf_new(rawlen)) == NULL ||
	    buf_append(f.raw, raw, rawlen) == -1)
		goto nomem;
	f.vstart = i + 1;
	v = buf_data(f.raw) + f.vstart;
	vlen = rawlen - 2 - f.vstart;
	if (kind == ARC_AAR)
		inst = parse_aar_instance(v, vlen);
	else {
		e = dkim_tags_parse(v, vlen, &f.tags, NULL);
		if (e == DKIM_TAGS_NOMEM)
			goto nomem;
		if (e != DKIM_TAGS_OK) {
			chain_fail(a, "%s: malformed tag-list", what);
			field_clear(&f);
			return 0;
		}
		v = dkim_tags_get(f.tags, "i", &vlen);
		inst = v != NULL ? parse_instance(v, vlen) : 0;
	}
	if (inst == 0) {
		chain_fail(a, "%s: missing or bad i=", what);
		field_clear(&f);
		return 0;
	}
	if (inst > a->maxinst)
		a->maxinst = inst;
	if (a->set[inst].f[kind].raw != NULL) {
		chain_fail(a, "duplicate %s i=%u", what, inst);
		field_clear(&f);
		return 0;
	}
	a->set[inst].f[kind] = f;
	return 0;
nomem:
	field_clear(&f);
	return -1;
}

static int
find_kind(const struct hdr_list *hl, size_t i, enum arc_kind *kind)
{
	int	k;

	for (k = 0; k < 3; k++) {
		if (hdr_name_is(hl, i, arc_field_names[k])) {
			*kind = (enum arc_kind)k;
			return 1;
		}
	}
	return 0;
}

/* cv= of an AS (RFC 8617 4.1.3); -1 when missing or unknown. */
static int
read_cv(const struct arc_field *f, enum arc_cv *cv)
{
	const uint8_t	*v;
	size_t		 len;

	if ((v = dkim_tags_get(f->tags, "cv", &len)) == NULL)
		return -1;
	if (dkim_value_is(v, len, "none"))
		*cv = ARC_CV_NONE;
	else if (dkim_value_is(v, len, "pass"))
		*cv = ARC_CV_PASS;
	else if (dkim_value_is(v, len, "fail"))
		*cv = ARC_CV_FAIL;
	else
		return -1;
	return 0;
}

/* RFC 8617 5.2 steps 2 to 4: complete sets, then the cv= sequence. */
static void
check_structure(struct arc *a)
{
	struct arc_field	*as;
	unsigned		 i;
	int			 k;

	for (i = 1; i <= a->maxinst; i++)
		for (k = 0; k < 3; k++)
			if (a->set[i].f[k].raw == NULL) {
				chain_fail(a, "ARC set i=%u lacks its %s", i,
				    arc_display_names[k]);
				return;
			}
	for (i = 1; i <= a->maxinst; i++) {
		as = &a->set[i].f[ARC_AS];
		if (read_cv(as, &as->cv) == -1) {
			chain_fail(a, "ARC-Seal i=%u: missing or bad cv=", i);
			return;
		}
	}
	if (a->set[a->maxinst].f[ARC_AS].cv == ARC_CV_FAIL) {
		chain_fail(a, "newest ARC-Seal (i=%u) says cv=fail",
		    a->maxinst);
		return;
	}
	for (i = 1; i <= a->maxinst; i++) {
		as = &a->set[i].f[ARC_AS];
		if (i == 1 && as->cv != ARC_CV_NONE) {
			chain_fail(a, "ARC-Seal i=%u: cv= is not none", i);
			return;
		}
		if (i > 1 && as->cv != ARC_CV_PASS) {
			chain_fail(a, "ARC-Seal i=%u: cv= is not pass", i);
			return;
		}
	}
}

/* The key slot for d= and s= of f (shared by name); -1 for memory. */
static int
want_key(struct arc *a, struct arc_field *f)
{
	struct buf	*name = NULL;
	const uint8_t	*d, *s;
	size_t		 dlen, slen, i;

	d = dkim_tags_get(f->tags, "d", &dlen);
	s = dkim_tags_get(f->tags, "s", &slen);
	if ((name = buf_new(2 * DKIM_NAME_MAX + 16)) == NULL ||
	    buf_append(name, s, slen) == -1 ||
	    buf_append_str(name, "._domainkey.") == -1 ||
	    buf_append(name, d, dlen) == -1) {
		buf_free(name);
		return -1;
	}
	for (i = 0; i < a->nkeys; i++) {
		if (buf_len(a->key[i].name) == buf_len(name) &&
		    strncasecmp((const char *)buf_data(a->key[i].name),
		    (const char *)buf_data(name), buf_len(name)) == 0) {
			f->key = (int)i;
			buf_free(name);
			return 0;
		}
	}
	/* Two signatures per set at most, so this cannot run out. */
	if (a->nkeys == ARC_KEYS_MAX)
		abort();
	a->key[a->nkeys].name = name;
	f->key = (int)a->nkeys++;
	return 0;
}

static const char *const ams_required[][2] = {
	{ "a", "missing a=" }, { "b", "missing b=" },
	{ "bh", "missing bh=" }, { "d", "missing d=" },
	{ "h", "missing h=" }, { "s", "missing s=" },
};

static const char *const as_required[][2] = {
	{ "a", "missing a=" }, { "b", "missing b=" },
	{ "d", "missing d=" }, { "s", "missing s=" },
};

/* a=, d=, s= and t=, common to AMS and AS; 1 if still undecided. */
static int
check_common(struct arc_field *f, const char *const req[][2], size_t nreq)
{
	const uint8_t	*p;
	size_t		 len, i;
	int64_t		 t;

	for (i = 0; i < nreq; i++) {
		if (dkim_tags_find(f->tags, req[i][0]) < 0) {
			decide(f, VERIFY_PERMERROR, req[i][1]);
			return 0;
		}
	}
	p = dkim_tags_get(f->tags, "a", &len);
	if (!dkim_value_is(p, len, "rsa-sha256")) {
		decide(f, VERIFY_PERMERROR, "unsupported algorithm");
		return 0;
	}
	p = dkim_tags_get(f->tags, "d", &len);
	if (!dkim_value_is_dname(p, len)) {
		decide(f, VERIFY_PERMERROR, "malformed d=");
		return 0;
	}
	p = dkim_tags_get(f->tags, "s", &len);
	if (!dkim_value_is_dname(p, len)) {
		decide(f, VERIFY_PERMERROR, "malformed s=");
		return 0;
	}
	if ((p = dkim_tags_get(f->tags, "t", &len)) != NULL &&
	    dkim_value_number(p, len, &t) == -1) {
		decide(f, VERIFY_PERMERROR, "malformed t=");
		return 0;
	}
	return 1;
}

static int
decode_b(struct arc_field *f)
{
	const uint8_t	*p;
	size_t		 len;

	if ((f->b = buf_new(DKIM_SIG_MAX)) == NULL)
		return -1;
	p = dkim_tags_get(f->tags, "b", &len);
	if (dkim_base64_decode(p, len, f->b) == -1 || buf_len(f->b) == 0)
		decide(f, VERIFY_PERMERROR, "malformed b=");
	return 0;
}

/*
 * h= names (RFC 6376 3.5 sig-h-tag: names between ':', FWS around
 * them) copied to out joined by ':'.  An empty name is skipped: it
 * selects no field, and the arc_test_suite (ams_fields_h_mis_hdr), like
 * dkimpy and Mail::DKIM, takes "from::to" as valid.  0, -1 when
 * malformed, 1 when ARC-Seal is listed; memory shortage counts as
 * malformed, since out is sized to the input.
 */
static int
h_names(const uint8_t *p, size_t len, struct buf *out)
{
	size_t	i, e, s, t, k, n = 0;

	for (i = 0; i <= len; i = e + 1) {
		for (e = i; e < len && p[e] != ':'; e++)
			;
		for (s = i, t = e; s < t && is_fws_octet(p[s]); s++)
			;
		while (t > s && is_fws_octet(p[t - 1]))
			t--;
		if (s == t)
			continue;
		for (k = s; k < t; k++)
			if (!is_ftext(p[k]))
				return -1;
		if (t - s > HDR_LINE_MAX || ++n >= DKIM_HNAMES_MAX)
			return -1;
		if (dkim_value_is(p + s, t - s, "arc-seal"))
			return 1;
		if ((buf_len(out) > 0 && buf_append_byte(out, ':') == -1) ||
		    buf_append(out, p + s, t - s) == -1)
			return -1;
	}
	return 0;
}

/* RFC 8617 4.1.2: the AMS is a DKIM-Signature without v=. */
static int
check_ams(struct arc *a, struct arc_field *f)
{
	const uint8_t	*p;
	size_t		 len, i;
	int64_t		 t = -1, x;
	int		 r;

	if (!check_common(f, ams_required,
	    sizeof(ams_required) / sizeof(ams_required[0])))
		return 0;
	f->hcanon = f->bcanon = CANON_SIMPLE;
	if ((p = dkim_tags_get(f->tags, "c", &len)) != NULL) {
		for (i = 0; i < len && p[i] != '/'; i++)
			;
		if (canon_parse_alg((const char *)p, i, &f->hcanon) == -1 ||
		    (i < len && canon_parse_alg((const char *)p + i + 1,
		    len - i - 1, &f->bcanon) == -1)) {
			decide(f, VERIFY_PERMERROR,
			    "unsupported canonicalization");
			return 0;
		}
	}
	p = dkim_tags_get(f->tags, "h", &len);
	if ((f->h = buf_new(len)) == NULL)
		return -1;
	if ((r = h_names(p, len, f->h)) != 0) {
		decide(f, VERIFY_PERMERROR, r == 1 ?
		    "h= lists ARC-Seal (RFC 8617 4.1.2)" : "malformed h=");
		return 0;
	}
	f->l = -1;
	if ((p = dkim_tags_get(f->tags, "l", &len)) != NULL &&
	    dkim_value_number(p, len, &f->l) == -1) {
		decide(f, VERIFY_PERMERROR, "malformed l=");
		return 0;
	}
	if ((p = dkim_tags_get(f->tags, "t", &len)) != NULL)
		(void)dkim_value_number(p, len, &t);
	if ((p = dkim_tags_get(f->tags, "x", &len)) != NULL) {
		if (dkim_value_number(p, len, &x) == -1) {
			decide(f, VERIFY_PERMERROR, "malformed x=");
			return 0;
		}
		if ((t >= 0 && x < t) || x < a->now) {
			decide(f, VERIFY_PERMERROR, "signature expired");
			return 0;
		}
	}
	if ((f->bh = buf_new(DKIM_SIG_MAX)) == NULL)
		return -1;
	p = dkim_tags_get(f->tags, "bh", &len);
	if (dkim_base64_decode(p, len, f->bh) == -1 ||
	    buf_len(f->bh) != HASH_SHA256_LEN) {
		decide(f, VERIFY_PERMERROR, "malformed bh=");
		return 0;
	}
	if (decode_b(f) == -1)
		return -1;
	if (f->result != VERIFY_NONE)
		return 0;
	if ((f->slot = hash_body_want(a->hb, f->bcanon, f->l)) < 0) {
		decide(f, VERIFY_PERMERROR, "too many body hash variants");
		return 0;
	}
	return want_key(a, f);
}

/* RFC 8617 4.1.3: a DKIM-like signature with cv= and without h=. */
static int
check_as(struct arc *a, struct arc_field *f)
{
	if (!check_common(f, as_required,
	    sizeof(as_required) / sizeof(as_required[0])))
		return 0;
	if (dkim_tags_find(f->tags, "h") >= 0) {
		decide(f, VERIFY_PERMERROR,
		    "h= not allowed in ARC-Seal (RFC 8617 4.1.3)");
		return 0;
	}
	if (decode_b(f) == -1)
		return -1;
	if (f->result != VERIFY_NONE)
		return 0;
	return want_key(a, f);
}

static int
canon_fields(struct arc *a)
{
	struct arc_field	*f;
	unsigned		 i;
	int			 k;

	for (i = 1; i <= a->nsets; i++) {
		for (k = 0; k < 3; k++) {
			f = &a->set[i].f[k];
			if ((f->canon = buf_new(buf_len(f->raw) + 2)) == NULL ||
			    canon_header(CANON_RELAXED, buf_data(f->raw),
			    buf_len(f->raw), f->canon) == -1)
				return -1;
		}
	}
	return 0;
}

/* Signatures of a sound chain: the newest AMS's body hash first. */
static int
check_signatures(struct arc *a)
{
	unsigned	i;

	if (check_ams(a, &a->set[a->nsets].f[ARC_AMS]) == -1)
		return -1;
	a->seal_slot = hash_body_want(a->hb, CANON_RELAXED, -1);
	for (i = a->nsets; i > 0; i--) {
		if (i < a->nsets &&
		    check_ams(a, &a->set[i].f[ARC_AMS]) == -1)
			return -1;
		if (check_as(a, &a->set[i].f[ARC_AS]) == -1)
			return -1;
	}
	return 0;
}

static void
set_next(struct arc *a)
{
	const struct arc_field	*as;
	enum arc_cv		 cv;

	a->next = a->maxinst + 1;
	as = &a->set[a->maxinst].f[ARC_AS];
	if (a->maxinst > 0 && as->tags != NULL && read_cv(as, &cv) == 0 &&
	    cv == ARC_CV_FAIL)
		a->next = 0;
	if (a->next > ARC_SETS_MAX)
		a->next = 0;
}

struct arc *
arc_new(const struct hdr_list *hl, int64_t now, struct hash_body *hb)
{
	struct arc	*a;
	enum arc_kind	 kind;
	size_t		 i, k, nfields = 0;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	a->hl = hl;
	a->hb = hb;
	a->now = now;
	a->seal_slot = -1;
	for (i = 0; i < hdr_count(hl); i++)
		if (find_kind(hl, i, &kind))
			nfields++;
	/* RFC 8617 5.2 step 1; the first fields still give the instance. */
	if (nfields > ARC_FIELDS_MAX)
		chain_fail(a, "more than %u ARC fields", ARC_FIELDS_MAX);
	for (i = 0, k = 0; i < hdr_count(hl) && k < ARC_FIELDS_MAX; i++) {
		if (!find_kind(hl, i, &kind))
			continue;
		k++;
		if (add_field(a, i, kind) == -1)
			goto fail;
	}
	if (nfields == 0) {
		a->decided = 1;
		a->next = 1;
		snprintf(a->reason, sizeof(a->reason), "no ARC sets");
		a->seal_slot = hash_body_want(hb, CANON_RELAXED, -1);
		return a;
	}
	if (a->result != ARC_CV_FAIL)
		check_structure(a);
	set_next(a);
	if (a->result == ARC_CV_FAIL) {
		a->decided = 1;
		if (a->next > 0)
			a->seal_slot = hash_body_want(hb, CANON_RELAXED, -1);
		return a;
	}
	a->nsets = a->maxinst;
	if (canon_fields(a) == -1 || check_signatures(a) == -1)
		goto fail;
	return a;
fail:
	arc_free(a);
	return NULL;
}

size_t
arc_key_count(const struct arc *a)
{
	return a->nkeys;
}

int
arc_key_name(const struct arc *a, size_t k, struct buf *out)
{
	if (k >= a->nkeys || a->key[k].answered)
		return -1;
	return buf_append(out, buf_data(a->key[k].name),
	    buf_len(a->key[k].name));
}

static void
key_unusable(struct arc_key *k, enum verify_result r, const char *reason)
{
	k->result = r;
	k->reason = reason;
}

/*
 * Key records as RFC 8617 4.1.2 and 4.1.3 use them: RSA only, and t=
 * not consulted, because t=s compares DKIM's i=, which ARC does not have.
 */
int
arc_answer(struct arc *a, size_t k, enum verify_dns dns, const uint8_t *txt,
    size_t len)
{
	static const struct verify_keyreq req = { VERIFY_KEY_RSA, 1, 0 };
	struct arc_key		*key;

	if (k >= a->nkeys)
		return -1;
	key = &a->key[k];
	if (key->answered)
		return 0;
	key->answered = 1;
	switch (dns) {
	case VERIFY_DNS_NXDOMAIN:
		key_unusable(key, VERIFY_PERMERROR, "no key");
		return 0;
	case VERIFY_DNS_ERROR:
		key_unusable(key, VERIFY_TEMPERROR, "key lookup failed");
		return 0;
	case VERIFY_DNS_OK:
		break;
	}
	if (txt == NULL) {
		key_unusable(key, VERIFY_PERMERROR, "malformed key record");
		return 0;
	}
	if (verify_key_parse(txt, len, &req, &key->key, &key->result,
	    &key->reason) == -1) {
		key->answered = 0;
		return -1;
	}
	return 0;
}

/* The field with its b= value (and the FWS around it) left out. */
static int
without_b(const struct arc_field *f, struct buf *out)
{
	size_t	off, slen;

	if (dkim_tags_span(f->tags, "b", &off, &slen) == -1)
		return -1;
	off += f->vstart;
	return buf_append(out, buf_data(f->raw), off) == -1 ||
	    buf_append(out, buf_data(f->raw) + off + slen,
	    buf_len(f->raw) - off - slen) == -1 ? -1 : 0;
}

/* Drop the CRLF that ends the last canonical field (RFC 6376 3.7). */
static void
chop_crlf(struct buf *b)
{
	size_t	n = buf_len(b);

	if (n >= 2 && buf_data(b)[n - 2] == '\r' && buf_data(b)[n - 1] == '\n')
		buf_truncate(b, n - 2);
}

/*
 * The key, or the reason it is missing; 1 when f can be checked.
 */
static int
usable_key(struct arc *a, struct arc_field *f)
{
	const struct arc_key	*k;

	if (f->result != VERIFY_NONE)
		return 0;
	k = &a->key[f->key];
	if (!k->answered) {
		decide(f, VERIFY_TEMPERROR, "no key answer");
		return 0;
	}
	if (k->key == NULL) {
		decide(f, k->result, k->reason);
		return 0;
	}
	return 1;
}

static void
decide_sig(struct arc_field *f, int ok)
{
	if (ok)
		decide(f, VERIFY_PASS, "signature verified");
	else
		decide(f, VERIFY_FAIL, "signature did not verify");
}

/* RFC 8617 5.2 step 5: the AMS like a DKIM-Signature (RFC 6376 6.1.3). */
static int
verify_ams(struct arc *a, struct arc_field *f)
{
	struct buf	*field = NULL, *data = NULL;
	uint8_t		 bh[HASH_SHA256_LEN], digest[HASH_SHA256_LEN];
	uint64_t	 clen;
	int		 ok, rc = -1;

	if (!usable_key(a, f))
		return 0;
	if (hash_body_result(a->hb, f->slot, bh, &clen) == -1)
		return -1;
	if (f->l >= 0 && (uint64_t)f->l > clen) {
		decide(f, VERIFY_PERMERROR, "l= exceeds the body");
		return 0;
	}
	if (sodium_memcmp(bh, buf_data(f->bh), HASH_SHA256_LEN) != 0) {
		decide(f, VERIFY_FAIL, "body hash mismatch");
		return 0;
	}
	if ((field = buf_new(buf_len(f->raw))) == NULL ||
	    (data = buf_new(ARC_DATA_MAX)) == NULL || without_b(f, field) == -1)
		goto done;
	/* An empty h= signs no field, only the AMS itself. */
	if (buf_len(f->h) == 0) {
		if (canon_header(f->hcanon, buf_data(field), buf_len(field),
		    data) == -1)
			goto done;
		chop_crlf(data);
	} else if (dkim_header_data(a->hl, f->hcanon, buf_data(f->h),
	    buf_len(f->h), buf_data(field), buf_len(field), data) == -1)
		goto done;
	if (hash_sha256(buf_data(data), buf_len(data), digest) == -1 ||
	    (ok = verify_key_check(a->key[f->key].key, digest,
	    buf_data(f->b), buf_len(f->b))) == -1)
		goto done;
	decide_sig(f, ok);
	rc = 0;
done:
	buf_free(data);
	buf_free(field);
	return rc;
}

/*
 * RFC 8617 5.1.1 and 5.2 step 7: an AS of instance i signs the sets 1
 * to i in order, each as AAR, AMS, AS, its own b= emptied.
 */
static int
verify_as(struct arc *a, unsigned inst)
{
	struct arc_field	*f = &a->set[inst].f[ARC_AS];
	struct buf		*field = NULL, *data = NULL;
	uint8_t			 digest[HASH_SHA256_LEN];
	unsigned		 i;
	int			 k, ok, rc = -1;

	if (!usable_key(a, f))
		return 0;
	if ((field = buf_new(buf_len(f->raw))) == NULL ||
	    (data = buf_new(ARC_DATA_MAX)) == NULL || without_b(f, field) == -1)
		goto done;
	for (i = 1; i <= inst; i++)
		for (k = 0; k < 3; k++) {
			if (i == inst && k == ARC_AS)
				break;
			if (buf_append(data, buf_data(a->set[i].f[k].canon),
			    buf_len(a->set[i].f[k].canon)) == -1)
				goto done;
		}
	if (canon_header(CANON_RELAXED, buf_data(field), buf_len(field),
	    data) == -1)
		goto done;
	chop_crlf(data);
	if (hash_sha256(buf_data(data), buf_len(data), digest) == -1 ||
	    (ok = verify_key_check(a->key[f->key].key, digest,
	    buf_data(f->b), buf_len(f->b))) == -1)
		goto done;
	decide_sig(f, ok);
	rc = 0;
done:
	buf_free(data);
	buf_free(field);
	return rc;
}

/* The chain fails with f's reason; temporary if f's was. */
static void
fail_with(struct arc *a, const struct arc_field *f, const char *what,
    unsigned inst)
{
	chain_fail(a, "%s i=%u: %s", what, inst, f->reason);
	a->temporary = f->result == VERIFY_TEMPERROR;
}

int
arc_finish(struct arc *a)
{
	struct arc_field	*ams;
	unsigned		 i;

	if (a->decided)
		return 0;
	for (i = 1; i <= a->nsets; i++)
		if (verify_ams(a, &a->set[i].f[ARC_AMS]) == -1 ||
		    verify_as(a, i) == -1)
			return -1;
	a->decided = 1;
	ams = &a->set[a->nsets].f[ARC_AMS];
	if (ams->result != VERIFY_PASS) {
		fail_with(a, ams, "ARC-Message-Signature", a->nsets);
		return 0;
	}
	for (i = a->nsets; i > 0; i--) {
		if (a->set[i].f[ARC_AS].result != VERIFY_PASS) {
			fail_with(a, &a->set[i].f[ARC_AS], "ARC-Seal", i);
			return 0;
		}
	}
	a->result = ARC_CV_PASS;
	snprintf(a->reason, sizeof(a->reason), "%u ARC sets verified",
	    a->nsets);
	return 0;
}

enum arc_cv
arc_result(const struct arc *a)
{
	return a->result;
}

const char *
arc_reason(const struct arc *a)
{
	return a->decided || a->result == ARC_CV_FAIL ? a->reason :
	    "not evaluated";
}

int
arc_temporary(const struct arc *a)
{
	return a->result == ARC_CV_FAIL && a->temporary;
}

size_t
arc_set_count(const struct arc *a)
{
	return a->nsets;
}

unsigned
arc_next_instance(const struct arc *a)
{
	return a->next;
}

static const struct arc_field *
set_field(const struct arc *a, size_t i, enum arc_kind kind)
{
	if (i < 1 || i > a->nsets)
		return NULL;
	return &a->set[i].f[kind];
}

enum verify_result
arc_ams_result(const struct arc *a, size_t i)
{
	const struct arc_field	*f = set_field(a, i, ARC_AMS);

	return f != NULL ? f->result : VERIFY_NONE;
}

const char *
arc_ams_reason(const struct arc *a, size_t i)
{
	const struct arc_field	*f = set_field(a, i, ARC_AMS);

	return f != NULL && f->reason != NULL ? f->reason : "not evaluated";
}

enum verify_result
arc_as_result(const struct arc *a, size_t i)
{
	const struct arc_field	*f = set_field(a, i, ARC_AS);

	return f != NULL ? f->result : VERIFY_NONE;
}

const char *
arc_as_reason(const struct arc *a, size_t i)
{
	const struct arc_field	*f = set_field(a, i, ARC_AS);

	return f != NULL && f->reason != NULL ? f->reason : "not evaluated";
}

static const uint8_t *
field_tag(const struct arc *a, size_t i, enum arc_kind kind,
    const char *name, size_t *len)
{
	const struct arc_field	*f = set_field(a, i, kind);
	const uint8_t		*p;

	*len = 0;
	if (f == NULL || f->tags == NULL ||
	    (p = dkim_tags_get(f->tags, name, len)) == NULL)
		return (const uint8_t *)"";
	return p;
}

const uint8_t *
arc_ams_domain(const struct arc *a, size_t i, size_t *len)
{
	return field_tag(a, i, ARC_AMS, "d", len);
}

const uint8_t *
arc_ams_selector(const struct arc *a, size_t i, size_t *len)
{
	return field_tag(a, i, ARC_AMS, "s", len);
}

const uint8_t *
arc_as_domain(const struct arc *a, size_t i, size_t *len)
{
	return field_tag(a, i, ARC_AS, "d", len);
}

const uint8_t *
arc_as_selector(const struct arc *a, size_t i, size_t *len)
{
	return field_tag(a, i, ARC_AS, "s", len);
}

enum arc_cv
arc_set_cv(const struct arc *a, size_t i)
{
	const struct arc_field	*f = set_field(a, i, ARC_AS);

	return f != NULL ? f->cv : ARC_CV_NONE;
}

/* Writing fields: words separated by one space, folded before 78. */
struct fold {
	struct buf	*b;
	size_t		 col;
	int		 force;		/* fold before next word */
};

enum fold_mode {
	FOLD_AS,	/* b= may break anywhere */
	FOLD_AMS	/* b= alone on its line, h= may break after ':' */
};

static int
fold_start(struct fold *f, const char *name)
{
	f->col = strlen(name) + 1;
	return buf_append_str(f->b, name) == -1 ||
	    buf_append_byte(f->b, ':') == -1 ? -1 : 0;
}

/* The space before a word, or a fold when the word would not fit. */
static int
fold_space(struct fold *f, size_t n)
{
	if (f->force || f->col + 1 + n > DKIM_LINE_MAX) {
		f->force = 0;
		f->col = 1;
		return buf_append(f->b, "\r\n ", 3);
	}
	f->col++;
	return buf_append_byte(f->b, ' ');
}

static int
fold_word(struct fold *f, const void *w, size_t n)
{
	if (fold_space(f, n) == -1 || buf_append(f->b, w, n) == -1)
		return -1;
	f->col += n;
	return 0;
}

/* A word that may break anywhere after its first two octets ("b="). */
static int
fold_split(struct fold *f, const char *w, size_t n)
{
	size_t	room, take;

	if (fold_space(f, 2) == -1 || buf_append(f->b, w, 2) == -1)
		return -1;
	f->col += 2;
	for (w += 2, n -= 2; n > 0; w += take, n -= take) {
		if (f->col >= DKIM_LINE_MAX) {
			if (buf_append(f->b, "\r\n ", 3) == -1)
				return -1;
			f->col = 1;
		}
		room = DKIM_LINE_MAX - f->col;
		take = n < room ? n : room;
		if (buf_append(f->b, w, take) == -1)
			return -1;
		f->col += take;
	}
	return 0;
}

static int
fold_end(struct fold *f)
{
	return buf_append(f->b, "\r\n", 2);
}

/*
 * An h= value that may break after each ':'.  Relaxed canonicalization
 * reads such a fold as "from: to"; that is fine because the AMS hash
 * covers the field laid out exactly so (see build_ams).
 */
static int
fold_hlist(struct fold *f, const char *w, size_t n)
{
	size_t	s, e;

	for (e = 0; e < n && w[e] != ':'; e++)
		;
	e = e < n ? e + 1 : n;
	if (fold_word(f, w, e) == -1)
		return -1;
	for (s = e; s < n; s = e) {
		for (e = s; e < n && w[e] != ':'; e++)
			;
		e = e < n ? e + 1 : n;
		if (f->col + e - s > DKIM_LINE_MAX) {
			if (buf_append(f->b, "\r\n ", 3) == -1)
				return -1;
			f->col = 1;
		}
		if (buf_append(f->b, w + s, e - s) == -1)
			return -1;
		f->col += e - s;
	}
	return 0;
}

/*
 * A one-line tag-list "a=x; b=y; ..." written word by word.  The AS b=
 * may break anywhere: it is removed before hashing, so its folds are
 * invisible to every hash.  The AMS b= is never broken (the AS covers
 * the AMS as written, and the arc_test_suite its standardized form) and
 * is followed by a fold, so what follows is laid out the same whether
 * b= is empty (hashing) or filled (writing).
 */
static int
fold_tags(struct fold *f, const struct buf *v, enum fold_mode mode)
{
	const char	*p = (const char *)buf_data(v);
	size_t		 n = buf_len(v), i = 0, s;
	int		 r, btag, htag;

	while (i < n) {
		for (s = i; i < n && p[i] != ' '; i++)
			;
		btag = i - s > 2 && p[s] == 'b' && p[s + 1] == '=';
		htag = i - s > 2 && p[s] == 'h' && p[s + 1] == '=';
		if (btag && mode == FOLD_AS)
			r = fold_split(f, p + s, i - s);
		else if (htag && mode == FOLD_AMS)
			r = fold_hlist(f, p + s, i - s);
		else
			r = fold_word(f, p + s, i - s);
		if (r == -1)
			return -1;
		if (btag && mode == FOLD_AMS)
			f->force = 1;
		while (i < n && p[i] == ' ')
			i++;
	}
	return 0;
}

/* Lower-cased copy of a d=/s= value; NULL if it is not a domain name. */
static char *
lower_dname(const char *s)
{
	char	*c;
	size_t	 i, n;

	if (s == NULL || !dkim_value_is_dname((const uint8_t *)s, strlen(s)) ||
	    (c = strdup(s)) == NULL)
		return NULL;
	for (i = 0, n = strlen(c); i < n; i++)
		if (c[i] >= 'A' && c[i] <= 'Z')
			c[i] = (char)(c[i] - 'A' + 'a');
	return c;
}

/* An explicit h= list: signable names, lower-cased, ':' between. */
static int
explicit_headers(const char *h, struct buf *out)
{
	const uint8_t	*name;
	char		 cname[HDR_LINE_MAX + 1];
	size_t		 pos = 0, nlen, i, n = 0;
	int		 r;

	while ((r = dkim_hnames_next((const uint8_t *)h, strlen(h), &pos,
	    &name, &nlen)) == 1) {
		if (nlen > HDR_LINE_MAX || ++n >= DKIM_HNAMES_MAX)
			return -1;
		for (i = 0; i < nlen; i++)
			cname[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ?
			    name[i] - 'A' + 'a' : name[i]);
		cname[nlen] = '\0';
		if (!dkim_header_signable(cname))
			return -1;
		if ((n > 1 && buf_append_byte(out, ':') == -1) ||
		    buf_append(out, cname, nlen) == -1)
			return -1;
	}
	return r == 0 && n > 0 ? 0 : -1;
}

/* Sign the SHA-256 of data; the base64 signature is appended to b64. */
static int
sign_data(const struct buf *data, const struct arc_seal_params *p,
    struct buf *b64)
{
	uint8_t	 digest[HASH_SHA256_LEN], sig[DKIM_SIG_MAX];
	char	 enc[sodium_base64_ENCODED_LEN(DKIM_SIG_MAX,
		    sodium_base64_VARIANT_ORIGINAL)];
	size_t	 siglen = sizeof(sig);

	if (hash_sha256(buf_data(data), buf_len(data), digest) == -1)
		return -1;
	if (p->sign_fn(p->sign_ctx, digest, sig, &siglen) == -1 ||
	    siglen == 0 || siglen > sizeof(sig))
		return -1;
	sodium_bin2base64(enc, sizeof(enc), sig, siglen,
	    sodium_base64_VARIANT_ORIGINAL);
	return buf_append_str(b64, enc);
}

/* The AAR: "i=N; authserv-id; results" with WSP runs made one space. */
static int
build_aar(unsigned inst, const struct arc_seal_params *p, struct buf *out)
{
	struct fold	 f = { out, 0, 0 };
	const char	*r = p->results != NULL ? p->results : "";
	char		 word[32];
	size_t		 i, s, n = strlen(r);

	for (i = 0; i < n; i++)
		if (!is_result_char((uint8_t)r[i]))
			return -1;
	snprintf(word, sizeof(word), "i=%u;", inst);
	if (fold_start(&f, "ARC-Authentication-Results") == -1 ||
	    fold_word(&f, word, strlen(word)) == -1 ||
	    fold_word(&f, p->authserv_id, strlen(p->authserv_id)) == -1 ||
	    buf_append_byte(out, ';') == -1)
		return -1;
	f.col++;
	for (i = 0; i < n && is_wsp((uint8_t)r[i]); i++)
		;
	if (i == n)
		return fold_word(&f, "none", 4) == -1 ? -1 : fold_end(&f);
	while (i < n) {
		for (s = i; i < n && !is_wsp((uint8_t)r[i]); i++)
			;
		if (fold_word(&f, r + s, i - s) == -1)
			return -1;
		while (i < n && is_wsp((uint8_t)r[i]))
			i++;
	}
	return fold_end(&f);
}

static int
valid_authserv_id(const char *s)
{
	size_t	n = strlen(s);

	return n > 0 && n <= DKIM_NAME_MAX && parse_token((const uint8_t *)s,
	    n, 0) == n;
}

struct seal_work {
	char		*d, *s;
	struct buf	*h, *bh64, *unsig, *data, *b64, *aar, *ams, *as;
};

static void
work_free(struct seal_work *w)
{
	buf_free(w->as);
	buf_free(w->ams);
	buf_free(w->aar);
	buf_free(w->b64);
	buf_free(w->data);
	buf_free(w->unsig);
	buf_free(w->bh64);
	buf_free(w->h);
	free(w->s);
	free(w->d);
}

/* The AMS value, one line, with b= holding sig (empty to hash it). */
static int
ams_value(const struct seal_work *w, unsigned inst, int64_t t,
    const char *sig, struct buf *out)
{
	buf_reset(out);
	return buf_printf(out, "a=rsa-sha256; b=%s; bh=%s; c=relaxed/relaxed; "
	    "d=%s; h=%s; i=%u; s=%s; t=%lld", sig,
	    (const char *)buf_cstr(w->bh64), w->d, buf_cstr(w->h), inst, w->s,
	    (long long)t);
}

static int
as_value(const struct seal_work *w, unsigned inst, enum arc_cv cv, int64_t t,
    const char *sig, struct buf *out)
{
	buf_reset(out);
	return buf_printf(out, "a=rsa-sha256; b=%s; cv=%s; d=%s; i=%u; s=%s; "
	    "t=%lld", sig, arc_cv_name(cv), w->d, inst, w->s, (long long)t);
}

/* The AMS field, b= holding sig, as fold_tags lays it out. */
static int
write_ams(const struct seal_work *w, unsigned inst, int64_t t,
    const char *sig, struct buf *value, struct buf *out)
{
	struct fold	f = { out, 0, 0 };

	buf_reset(out);
	if (ams_value(w, inst, t, sig, value) == -1 ||
	    fold_start(&f, "ARC-Message-Signature") == -1 ||
	    fold_tags(&f, value, FOLD_AMS) == -1)
		return -1;
	return fold_end(&f);
}

/*
 * The AMS (RFC 8617 4.1.2, 5.1): relaxed/relaxed, no l=, tags in the
 * standardized order.  Hashed with b= empty in the layout it is then
 * written in, so every fold the hash sees is one a verifier sees.
 */
static int
build_ams(const struct arc *a, const struct hdr_list *hl, unsigned inst,
    const struct arc_seal_params *p, struct seal_work *w)
{
	uint8_t		 bh[HASH_SHA256_LEN];
	char		 enc[sodium_base64_ENCODED_LEN(HASH_SHA256_LEN,
			    sodium_base64_VARIANT_ORIGINAL)];
	uint64_t	 clen;

	if (hash_body_result(a->hb, a->seal_slot, bh, &clen) == -1)
		return -1;
	sodium_bin2base64(enc, sizeof(enc), bh, sizeof(bh),
	    sodium_base64_VARIANT_ORIGINAL);
	if (buf_append_str(w->bh64, enc) == -1 ||
	    write_ams(w, inst, p->time, "", w->unsig, w->ams) == -1)
		return -1;
	buf_reset(w->data);
	if (dkim_header_data(hl, CANON_RELAXED, buf_data(w->h),
	    buf_len(w->h), buf_data(w->ams), buf_len(w->ams), w->data) == -1 ||
	    sign_data(w->data, p, w->b64) == -1)
		return -1;
	return write_ams(w, inst, p->time, buf_cstr(w->b64), w->unsig,
	    w->ams);
}

/*
 * The AS (RFC 8617 4.1.3, 5.1.1): over every set in instance order,
 * ours last, each AAR, AMS, AS; a failed chain's seal over ours only.
 */
static int
build_as(const struct arc *a, unsigned inst, enum arc_cv cv,
    const struct arc_seal_params *p, struct seal_work *w)
{
	struct fold	 f = { w->as, 0, 0 };
	const struct buf *c;
	unsigned	 i;
	int		 k;

	buf_reset(w->data);
	for (i = 1; cv == ARC_CV_PASS && i <= a->nsets; i++)
		for (k = 0; k < 3; k++) {
			c = a->set[i].f[k].canon;
			if (buf_append(w->data, buf_data(c), buf_len(c)) == -1)
				return -1;
		}
	if (canon_header(CANON_RELAXED, buf_data(w->aar), buf_len(w->aar),
	    w->data) == -1 ||
	    canon_header(CANON_RELAXED, buf_data(w->ams), buf_len(w->ams),
	    w->data) == -1 ||
	    as_value(w, inst, cv, p->time, "", w->unsig) == -1 ||
	    buf_printf(w->unsig, "\r\n") == -1)
		return -1;
	buf_reset(w->b64);
	if (buf_append_str(w->b64, "ARC-Seal: ") == -1 ||
	    buf_append(w->b64, buf_data(w->unsig), buf_len(w->unsig)) == -1 ||
	    canon_header(CANON_RELAXED, buf_data(w->b64), buf_len(w->b64),
	    w->data) == -1)
		return -1;
	chop_crlf(w->data);
	buf_reset(w->b64);
	if (sign_data(w->data, p, w->b64) == -1 ||
	    as_value(w, inst, cv, p->time, buf_cstr(w->b64), w->data) == -1 ||
	    fold_start(&f, "ARC-Seal") == -1 ||
	    fold_tags(&f, w->data, FOLD_AS) == -1)
		return -1;
	return fold_end(&f);
}

int
arc_seal(const struct arc *a, const struct hdr_list *hl,
    const struct arc_seal_params *p, struct buf *out)
{
	struct seal_work	 w;
	unsigned		 inst = a->next;
	int			 rc = -1;

	if (inst == 0)
		return 0;
	memset(&w, 0, sizeof(w));
	if (!a->decided || a->seal_slot < 0 || p->sign_fn == NULL ||
	    p->time < 0 || p->authserv_id == NULL ||
	    !valid_authserv_id(p->authserv_id))
		goto done;
	if ((w.d = lower_dname(p->domain)) == NULL ||
	    (w.s = lower_dname(p->selector)) == NULL)
		goto done;
	if ((w.h = buf_new(DKIM_FIELD_MAX)) == NULL ||
	    (w.bh64 = buf_new(DKIM_FIELD_MAX)) == NULL ||
	    (w.unsig = buf_new(ARC_DATA_MAX)) == NULL ||
	    (w.data = buf_new(ARC_DATA_MAX)) == NULL ||
	    (w.b64 = buf_new(DKIM_FIELD_MAX)) == NULL ||
	    (w.aar = buf_new(DKIM_FIELD_MAX)) == NULL ||
	    (w.ams = buf_new(DKIM_FIELD_MAX)) == NULL ||
	    (w.as = buf_new(DKIM_FIELD_MAX)) == NULL)
		goto done;
	if (p->headers != NULL) {
		if (explicit_headers(p->headers, w.h) == -1)
			goto done;
	} else if (p->nsign == 0) {
		if (dkim_select_headers(hl, dkim_default_sign,
		    dkim_default_nsign, dkim_default_oversign,
		    dkim_default_noversign, w.h) == -1)
			goto done;
	} else if (dkim_select_headers(hl, p->sign, p->nsign, p->oversign,
	    p->noversign, w.h) == -1)
		goto done;
	if (buf_cstr(w.h) == NULL || buf_len(w.h) == 0 ||
	    build_aar(inst, p, w.aar) == -1 ||
	    build_ams(a, hl, inst, p, &w) == -1 ||
	    build_as(a, inst, a->result, p, &w) == -1)
		goto done;
	if (buf_append(out, buf_data(w.as), buf_len(w.as)) == -1 ||
	    buf_append(out, buf_data(w.ams), buf_len(w.ams)) == -1 ||
	    buf_append(out, buf_data(w.aar), buf_len(w.aar)) == -1)
		goto done;
	rc = 0;
done:
	work_free(&w);
	return rc;
}

int
arc_ar_authserv_id(const uint8_t *v, size_t len, struct buf *out)
{
	size_t	end;

	return parse_authserv_id(v, len, &end, out);
}

int
arc_ar_ours(const struct hdr_list *hl, const char *authserv_id, size_t *idx,
    size_t max, size_t *n)
{
	struct buf	*id = NULL;
	const uint8_t	*v;
	size_t		 i, vlen, want = strlen(authserv_id);
	int		 rc = -1;

	*n = 0;
	if (!valid_authserv_id(authserv_id) ||
	    (id = buf_new(HDR_FIELD_MAX)) == NULL)
		goto done;
	for (i = 0; i < hdr_count(hl); i++) {
		if (!hdr_name_is(hl, i, "authentication-results"))
			continue;
		v = hdr_value(hl, i, &vlen);
		buf_reset(id);
		if (arc_ar_authserv_id(v, vlen, id) == -1 ||
		    buf_len(id) != want ||
		    strncasecmp((const char *)buf_data(id), authserv_id,
		    want) != 0)
			continue;
		if (*n < max)
			idx[*n] = i;
		(*n)++;
	}
	rc = 0;
done:
	buf_free(id);
	return rc;
}

/* One resinfo, its whitespace runs (folds included) made one space. */
static int
append_squeezed(struct buf *out, const uint8_t *p, size_t len)
{
	size_t	i = 0, s, e;

	while (i < len && is_fws_octet(p[i]))
		i++;
	for (e = len; e > i && is_fws_octet(p[e - 1]); e--)
		;
	while (i < e) {
		for (s = i; i < e && !is_fws_octet(p[i]); i++)
			;
		if (buf_append(out, p + s, i - s) == -1)
			return -1;
		if (i == e)
			break;
		while (is_fws_octet(p[i]))
			i++;
		if (buf_append_byte(out, ' ') == -1)
			return -1;
	}
	return 0;
}

/*
 * authres-payload = [CFWS] authserv-id [ CFWS authres-version ]
 *                   ( no-result / 1*resinfo ) [CFWS]     (RFC 8601 2.2)
 * Each resinfo starts with ';'; ';' inside comments and quoted strings
 * does not separate.
 */
int
arc_ar_results(const uint8_t *v, size_t len, struct buf *out)
{
	size_t	i, s, depth = 0, n;
	int	quoted = 0;

	if (parse_authserv_id(v, len, &i, NULL) == -1)
		return -1;
	n = parse_cfws(v, len, i);
	if (n > 0 && i + n < len && is_digit(v[i + n])) {
		for (i += n; i < len && is_digit(v[i]); i++)
			;
	}
	i += parse_cfws(v, len, i);
	if (i < len && v[i] != ';')
		return -1;
	while (i < len) {
		for (s = ++i; i < len; i++) {
			if (quoted) {
				if (v[i] == '\\' && i + 1 < len)
					i++;
				else if (v[i] == '"')
					quoted = 0;
			} else if (depth > 0) {
				if (v[i] == '\\' && i + 1 < len)
					i++;
				else if (v[i] == '(')
					depth++;
				else if (v[i] == ')')
					depth--;
			} else if (v[i] == '"')
				quoted = 1;
			else if (v[i] == '(')
				depth++;
			else if (v[i] == ';')
				break;
		}
		for (n = s; n < i && is_fws_octet(v[n]); n++)
			;
		if (n == i || (i - n >= 4 && dkim_value_is(v + n, 4, "none") &&
		    n + 4 + parse_cfws(v, i, n + 4) == i))
			continue;
		if (buf_len(out) > 0 && buf_append(out, "; ", 2) == -1)
			return -1;
		if (append_squeezed(out, v + s, i - s) == -1)
			return -1;
	}
	return 0;
}
