/*
 * hdr — strict RFC 5322 header section splitting (RFC 5322 2.2, 2.2.3,
 * 3.6.8; RFC 6532 3.2 for 8-bit octets) and submission-agent edits.
 *
 * A section is accepted only if every line ends CRLF and is either the
 * start of a field (field-name, optional WSP, ":") or a continuation line
 * that starts with WSP and carries something other than WSP.  Nothing is
 * repaired: a section that parsers could read two ways is refused (DK-08,
 * DK-09), as are NUL, bare CR or LF, and C0 controls (SM-02, SM-05), and
 * sections over the size limits (DK-10).
 *
 * Each field owns a malloc'd copy of its raw bytes (name through the final
 * CRLF), so serializing the list reproduces the input exactly and edits
 * never touch a caller's memory.
 */
#include <stdlib.h>
#include <string.h>

#include "proxy/msg/buf.h"
#include "proxy/msg/hdr.h"

struct hdr_field {
	uint8_t	*raw;
	size_t	 len;		/* raw octets, final CRLF included */
	size_t	 namelen;	/* field-name, WSP before the colon excluded */
	size_t	 colon;		/* offset of the colon in raw */
};

struct hdr_list {
	struct hdr_field	*f;
	size_t			 n;
	size_t			 cap;
};

/* WSP = SP / HTAB (RFC 5234 B.1). */
static int
is_wsp(uint8_t c)
{
	return c == ' ' || c == '\t';
}

/* ftext = %d33-57 / %d59-126 (RFC 5322 3.6.8). */
static int
is_ftext(uint8_t c)
{
	return (c >= 33 && c <= 57) || (c >= 59 && c <= 126);
}

/*
 * An octet allowed inside a header line: VCHAR and WSP (RFC 5322 2.2),
 * plus 8-bit octets (RFC 6532 3.2; whether they are welcome is decided
 * by the caller with hdr_has_8bit).
 */
static int
is_line_octet(uint8_t c)
{
	return c == '\t' || (c >= 0x20 && c <= 0x7e) || c >= 0x80;
}

/*
 * One physical line starting at off: on HDR_OK *eol is the offset of its
 * CR (the LF follows).  Otherwise *eol is the offending octet.
 */
static enum hdr_err
hdr_line(const uint8_t *p, size_t len, size_t off, size_t *eol)
{
	size_t	i;

	for (i = off; i < len; i++) {
		*eol = i;
		if (p[i] == '\r')
			return i + 1 < len && p[i + 1] == '\n' ?
			    HDR_OK : HDR_ERR_BARE_CR_LF;
		if (p[i] == '\n')
			return HDR_ERR_BARE_CR_LF;
		if (p[i] == '\0')
			return HDR_ERR_NUL;
		if (!is_line_octet(p[i]))
			return HDR_ERR_CTRL;
	}
	/* The section must end with a complete line. */
	*eol = len;
	return HDR_ERR_SYNTAX;
}

/*
 * field-name *WSP ":" at the start of line [off, eol) (RFC 5322 3.6.8,
 * WSP before the colon from obs-optional 4.5.8, which RFC 6376 3.4.5
 * relies on).  Returns 0 and the name length and colon offset, or -1
 * with *bad at the first octet that does not fit.
 */
static int
hdr_field_name(const uint8_t *p, size_t off, size_t eol, size_t *namelen,
    size_t *colon, size_t *bad)
{
	size_t	i = off;

	while (i < eol && is_ftext(p[i]))
		i++;
	*namelen = i - off;
	if (*namelen == 0) {
		*bad = i;
		return -1;
	}
	while (i < eol && is_wsp(p[i]))
		i++;
	if (i == eol || p[i] != ':') {
		*bad = i;
		return -1;
	}
	*colon = i - off;
	return 0;
}

/* A continuation line holding only WSP reads as an empty line to some
 * parsers and as folding to others (DK-09). */
static int
hdr_wsp_only(const uint8_t *p, size_t off, size_t eol)
{
	size_t	i;

	for (i = off; i < eol; i++)
		if (!is_wsp(p[i]))
			return 0;
	return 1;
}

struct hdr_list *
hdr_new(void)
{
	return calloc(1, sizeof(struct hdr_list));
}

void
hdr_free(struct hdr_list *l)
{
	size_t	i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		free(l->f[i].raw);
	free(l->f);
	free(l);
}

/* Insert a field whose raw bytes the list takes over. */
static int
hdr_put(struct hdr_list *l, size_t pos, uint8_t *raw, size_t len,
    size_t namelen, size_t colon)
{
	struct hdr_field	*nf;
	size_t			 ncap;

	if (pos > l->n)
		return -1;
	if (l->n == l->cap) {
		if (l->cap > SIZE_MAX / 2)
			return -1;
		ncap = l->cap == 0 ? 16 : l->cap * 2;
		/* reallocarray checks ncap * size for overflow. */
		if ((nf = reallocarray(l->f, ncap, sizeof(*nf))) == NULL)
			return -1;
		l->f = nf;
		l->cap = ncap;
	}
	memmove(&l->f[pos + 1], &l->f[pos], (l->n - pos) * sizeof(*l->f));
	l->f[pos].raw = raw;
	l->f[pos].len = len;
	l->f[pos].namelen = namelen;
	l->f[pos].colon = colon;
	l->n++;
	return 0;
}

static int
hdr_append_copy(struct hdr_list *l, const uint8_t *p, size_t len,
    size_t namelen, size_t colon)
{
	uint8_t	*raw;

	if ((raw = malloc(len)) == NULL)
		return -1;
	memcpy(raw, p, len);
	if (hdr_put(l, l->n, raw, len, namelen, colon) == -1) {
		free(raw);
		return -1;
	}
	return 0;
}

enum hdr_err
hdr_parse(const uint8_t *p, size_t len, const struct hdr_limits *lim,
    struct hdr_list **out, size_t *erroff)
{
	struct hdr_list	*l = NULL;
	enum hdr_err	 err = HDR_OK;
	size_t		 field_max, section_max, fields_max;
	size_t		 off, eol, start = 0, namelen = 0, colon = 0, bad = 0;
	int		 infield = 0;

	*out = NULL;
	field_max = lim != NULL && lim->field_max != 0 ?
	    lim->field_max : HDR_FIELD_MAX;
	section_max = lim != NULL && lim->section_max != 0 ?
	    lim->section_max : HDR_SECTION_MAX;
	fields_max = lim != NULL && lim->fields_max != 0 ?
	    lim->fields_max : HDR_FIELDS_MAX;

	if (len > section_max) {
		err = HDR_ERR_SECTION_SIZE;
		bad = section_max;
		goto done;
	}
	if ((l = hdr_new()) == NULL) {
		err = HDR_ERR_NOMEM;
		goto done;
	}
	for (off = 0; off < len; off = eol + 2) {
		if ((err = hdr_line(p, len, off, &eol)) != HDR_OK) {
			bad = eol;
			goto done;
		}
		if (off < eol && is_wsp(p[off])) {
			if (!infield) {
				err = HDR_ERR_SYNTAX;
				bad = off;
				goto done;
			}
			if (hdr_wsp_only(p, off, eol)) {
				err = HDR_ERR_WSP_LINE;
				bad = off;
				goto done;
			}
		} else {
			if (infield && hdr_append_copy(l, p + start,
			    off - start, namelen, colon) == -1) {
				err = HDR_ERR_NOMEM;
				goto done;
			}
			if (hdr_field_name(p, off, eol, &namelen, &colon,
			    &bad) == -1) {
				err = HDR_ERR_SYNTAX;
				goto done;
			}
			if (l->n >= fields_max) {
				err = HDR_ERR_TOO_MANY;
				bad = off;
				goto done;
			}
			start = off;
			infield = 1;
		}
		/* eol + 2 <= len here, so no overflow. */
		if (eol + 2 - start > field_max) {
			err = HDR_ERR_FIELD_SIZE;
			bad = start + field_max;
			goto done;
		}
	}
	if (infield && hdr_append_copy(l, p + start, len - start, namelen,
	    colon) == -1)
		err = HDR_ERR_NOMEM;
 done:
	if (err != HDR_OK) {
		hdr_free(l);
		l = NULL;
		if (erroff != NULL)
			*erroff = bad;
	}
	*out = l;
	return err;
}

const char *
hdr_strerror(enum hdr_err e)
{
	switch (e) {
	case HDR_OK:
		return "ok";
	case HDR_ERR_SYNTAX:
		return "malformed header section";
	case HDR_ERR_WSP_LINE:
		return "whitespace-only line in header section";
	case HDR_ERR_NUL:
		return "NUL octet in header section";
	case HDR_ERR_CTRL:
		return "control character in header";
	case HDR_ERR_BARE_CR_LF:
		return "bare CR or LF in header section";
	case HDR_ERR_FIELD_SIZE:
		return "header field exceeds size limit";
	case HDR_ERR_SECTION_SIZE:
		return "header section exceeds size limit";
	case HDR_ERR_TOO_MANY:
		return "too many header fields";
	case HDR_ERR_NOMEM:
		return "out of memory";
	}
	return "unknown header error";
}

size_t
hdr_count(const struct hdr_list *l)
{
	return l->n;
}

const uint8_t *
hdr_raw(const struct hdr_list *l, size_t i, size_t *len)
{
	if (i >= l->n)
		return NULL;
	*len = l->f[i].len;
	return l->f[i].raw;
}

const uint8_t *
hdr_name(const struct hdr_list *l, size_t i, size_t *len)
{
	if (i >= l->n)
		return NULL;
	*len = l->f[i].namelen;
	return l->f[i].raw;
}

const uint8_t *
hdr_value(const struct hdr_list *l, size_t i, size_t *len)
{
	const struct hdr_field	*f;

	if (i >= l->n)
		return NULL;
	f = &l->f[i];
	/* Every field ends CRLF, so len >= colon + 3. */
	*len = f->len - 2 - (f->colon + 1);
	return f->raw + f->colon + 1;
}

static uint8_t
hdr_lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

int
hdr_name_is(const struct hdr_list *l, size_t i, const char *name)
{
	size_t	k, n = strlen(name);

	if (i >= l->n || l->f[i].namelen != n)
		return 0;
	for (k = 0; k < n; k++)
		if (hdr_lower(l->f[i].raw[k]) != hdr_lower((uint8_t)name[k]))
			return 0;
	return 1;
}

size_t
hdr_count_name(const struct hdr_list *l, const char *name)
{
	size_t	i, c = 0;

	for (i = 0; i < l->n; i++)
		if (hdr_name_is(l, i, name))
			c++;
	return c;
}

long
hdr_find(const struct hdr_list *l, const char *name)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		if (hdr_name_is(l, i, name))
			return (long)i;
	return -1;
}

long
hdr_find_from_bottom(const struct hdr_list *l, const char *name, size_t n)
{
	size_t	i;

	for (i = l->n; i > 0; i--) {
		if (!hdr_name_is(l, i - 1, name))
			continue;
		if (n == 0)
			return (long)(i - 1);
		n--;
	}
	return -1;
}

size_t
hdr_longest_line(const struct hdr_list *l, size_t i)
{
	const struct hdr_field	*f;
	size_t			 k, start = 0, best = 0;

	if (i >= l->n)
		return 0;
	f = &l->f[i];
	for (k = 0; k + 1 < f->len; k++) {
		if (f->raw[k] == '\r' && f->raw[k + 1] == '\n') {
			if (k - start > best)
				best = k - start;
			start = k + 2;
		}
	}
	return best;
}

int
hdr_has_8bit(const struct hdr_list *l)
{
	size_t	i, k;

	for (i = 0; i < l->n; i++)
		for (k = 0; k < l->f[i].len; k++)
			if (l->f[i].raw[k] >= 0x80)
				return 1;
	return 0;
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629 section 4
 * table), or 0 if the octets there are not one. */
static size_t
utf8_seq(const uint8_t *p, size_t left)
{
	uint8_t	lo = 0x80, hi = 0xbf;
	size_t	need, k;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		need = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		need = 3;
		if (p[0] == 0xe0)
			lo = 0xa0;	/* no overlong forms */
		else if (p[0] == 0xed)
			hi = 0x9f;	/* no UTF-16 surrogates */
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		need = 4;
		if (p[0] == 0xf0)
			lo = 0x90;
		else if (p[0] == 0xf4)
			hi = 0x8f;	/* nothing above U+10FFFF */
	} else
		return 0;
	if (left < need || p[1] < lo || p[1] > hi)
		return 0;
	for (k = 2; k < need; k++)
		if (p[k] < 0x80 || p[k] > 0xbf)
			return 0;
	return need;
}

int
hdr_has_wsp_before_colon(const struct hdr_list *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		if (l->f[i].colon != l->f[i].namelen)
			return 1;
	return 0;
}

int
hdr_utf8_valid(const struct hdr_list *l)
{
	size_t	i, k, n;

	for (i = 0; i < l->n; i++)
		for (k = 0; k < l->f[i].len; k += n)
			if ((n = utf8_seq(l->f[i].raw + k, l->f[i].len - k))
			    == 0)
				return 0;
	return 1;
}

int
hdr_insert(struct hdr_list *l, size_t pos, const void *p, size_t len)
{
	struct hdr_list	*one = NULL;
	int		 rc = -1;

	if (pos > l->n)
		goto done;
	if (hdr_parse(p, len, NULL, &one, NULL) != HDR_OK || one->n != 1)
		goto done;
	if (hdr_put(l, pos, one->f[0].raw, one->f[0].len, one->f[0].namelen,
	    one->f[0].colon) == -1)
		goto done;
	/* The raw bytes now belong to l. */
	one->n = 0;
	rc = 0;
 done:
	hdr_free(one);
	return rc;
}

int
hdr_remove(struct hdr_list *l, size_t i)
{
	if (i >= l->n)
		return -1;
	free(l->f[i].raw);
	memmove(&l->f[i], &l->f[i + 1], (l->n - i - 1) * sizeof(*l->f));
	l->n--;
	return 0;
}

/*
 * The last fold point in line [cur, eol) that leaves at most max octets
 * before it, or 0 if there is none.  A fold point is the first WSP of a
 * run that has a non-WSP octet before it on this line (after from, so
 * never inside the name or right after the colon) and a non-WSP octet
 * after it: neither resulting line is then empty or whitespace-only,
 * which is what keeps the fold invisible (RFC 5322 2.2.3, DK-09).
 */
static size_t
hdr_fold_point(const uint8_t *raw, size_t from, size_t cur, size_t eol,
    size_t max)
{
	size_t	k, last, best = 0;

	for (last = eol; last > cur && is_wsp(raw[last - 1]); last--)
		continue;
	for (k = cur + 1; k < last && k - cur <= max; k++) {
		if (k - 1 >= from && is_wsp(raw[k]) && !is_wsp(raw[k - 1]))
			best = k;
	}
	return best;
}

int
hdr_refold(struct hdr_list *l, size_t i, size_t max)
{
	struct hdr_field	*f;
	struct buf		*b = NULL;
	uint8_t			*raw;
	size_t			 cur, eol, from, fp, nlen;
	int			 rc = -1;

	if (i >= l->n || max == 0)
		goto done;
	f = &l->f[i];
	if (hdr_longest_line(l, i) <= max)
		return 0;
	/* Each fold adds one CRLF before a distinct WSP octet. */
	if (f->len > SIZE_MAX / 3)
		goto done;
	if ((b = buf_new(f->len * 3)) == NULL)
		goto done;
	from = f->colon + 1;
	for (cur = 0; cur < f->len; cur = eol + 2) {
		eol = cur;
		while (!(f->raw[eol] == '\r' && f->raw[eol + 1] == '\n'))
			eol++;
		while (eol - cur > max) {
			if ((fp = hdr_fold_point(f->raw, from, cur, eol,
			    max)) == 0)
				goto done;
			if (buf_append(b, f->raw + cur, fp - cur) == -1 ||
			    buf_append(b, "\r\n", 2) == -1)
				goto done;
			cur = fp;
		}
		if (buf_append(b, f->raw + cur, eol + 2 - cur) == -1)
			goto done;
		from = 0;
	}
	if ((raw = buf_steal(b, &nlen)) == NULL)
		goto done;
	free(f->raw);
	f->raw = raw;
	f->len = nlen;
	rc = 0;
 done:
	buf_free(b);
	return rc;
}

int
hdr_serialize(const struct hdr_list *l, struct buf *out)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		if (buf_append(out, l->f[i].raw, l->f[i].len) == -1)
			return -1;
	return 0;
}
