/*
 * dnsfile — a file of DKIM key records answering verify's key questions
 * (the format is described in dnsfile.h).
 *
 * The whole file is parsed at load; each record owns a copy of its name
 * (normalized: lower case, no trailing dot) and of its value.  Lookups
 * are linear: these files hold tens of records, not thousands.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/msg/buf.h"
#include "proxy/msg/dnsfile.h"
#include "proxy/msg/errmsg.h"
#include "proxy/msg/verify.h"

struct dnsrec {
	struct buf	*name;
	struct buf	*value;
	enum verify_dns	 status;
};

struct dnsfile {
	size_t		 n, cap;
	struct dnsrec	*rec;
};

static int
is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static int
is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* Lower case, one trailing dot dropped. */
static int
append_name(struct buf *b, const uint8_t *p, size_t len)
{
	size_t	i;

	if (len > 0 && p[len - 1] == '.')
		len--;
	for (i = 0; i < len; i++) {
		uint8_t c = p[i];

		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c - 'A' + 'a');
		if (buf_append_byte(b, c) == -1)
			return -1;
	}
	return 0;
}

/* One <character-string> (RFC 1035 5.1): "..." with \X and \DDD. */
static int
parse_qstring(const uint8_t *p, size_t len, size_t *pos, struct buf *out)
{
	size_t	i = *pos + 1;
	int	v;

	for (; i < len && p[i] != '"'; i++) {
		if (p[i] != '\\') {
			if (buf_append_byte(out, p[i]) == -1)
				return -1;
			continue;
		}
		if (++i == len)
			return -1;
		if (is_digit(p[i])) {
			if (i + 2 >= len || !is_digit(p[i + 1]) ||
			    !is_digit(p[i + 2]))
				return -1;
			v = (p[i] - '0') * 100 + (p[i + 1] - '0') * 10 +
			    (p[i + 2] - '0');
			if (v > 255)
				return -1;
			if (buf_append_byte(out, (uint8_t)v) == -1)
				return -1;
			i += 2;
		} else if (buf_append_byte(out, p[i]) == -1)
			return -1;
	}
	if (i == len)
		return -1;
	*pos = i + 1;
	return 0;
}

/* 1*( <character-string> *WSP ), joined. */
static int
parse_qstrings(const uint8_t *p, size_t len, struct buf *out)
{
	size_t	pos = 0;

	while (pos < len) {
		if (p[pos] != '"' || parse_qstring(p, len, &pos, out) == -1)
			return -1;
		while (pos < len && is_space(p[pos]))
			pos++;
	}
	return 0;
}

static int
parse_value(struct dnsrec *r, const uint8_t *p, size_t len)
{
	if (len == 8 && memcmp(p, "NXDOMAIN", 8) == 0) {
		r->status = VERIFY_DNS_NXDOMAIN;
		return 0;
	}
	if (len >= 4 && memcmp(p, "~~", 2) == 0 &&
	    memcmp(p + len - 2, "~~", 2) == 0) {
		r->status = VERIFY_DNS_ERROR;
		return 0;
	}
	r->status = VERIFY_DNS_OK;
	if (p[0] == '"')
		return parse_qstrings(p, len, r->value);
	return buf_append(r->value, p, len);
}

/* Case-insensitive: is p[*i..] the word w followed by space or the end? */
static int
skip_word(const uint8_t *p, size_t len, size_t *i, const char *w)
{
	size_t	n = strlen(w), k;

	if (len - *i < n || (len - *i > n && !is_space(p[*i + n])))
		return 0;
	for (k = 0; k < n; k++)
		if ((p[*i + k] | 0x20) != (w[k] | 0x20))
			return 0;
	for (*i += n; *i < len && is_space(p[*i]); (*i)++)
		;
	return 1;
}

/*
 * The zone-file form signetctl prints (keys init, dns): "[TTL] [IN] TXT
 * ( "..." "..." )" after the owner.  Taken only when the TXT keyword is
 * there, so a bare value is never mistaken for it.  Narrows [*start,
 * *end) to the quoted strings; -1 if the parentheses do not pair.
 */
static int
strip_rr_syntax(const uint8_t *p, size_t *start, size_t *end)
{
	size_t	i = *start, e = *end;

	if (i < e && is_digit(p[i])) {
		while (i < e && is_digit(p[i]))
			i++;
		if (i == e || !is_space(p[i]))
			return 0;
		while (i < e && is_space(p[i]))
			i++;
	}
	skip_word(p, e, &i, "IN");
	if (!skip_word(p, e, &i, "TXT"))
		return 0;
	if (i < e && p[i] == '(') {
		while (e > i && is_space(p[e - 1]))
			e--;
		if (e == i || p[e - 1] != ')')
			return -1;
		for (i++, e--; i < e && is_space(p[i]); i++)
			;
		while (e > i && is_space(p[e - 1]))
			e--;
	}
	*start = i;
	*end = e;
	return 0;
}

static struct dnsrec *
find(const struct dnsfile *df, const uint8_t *name, size_t len)
{
	size_t	i;

	for (i = 0; i < df->n; i++)
		if (buf_len(df->rec[i].name) == len &&
		    memcmp(buf_data(df->rec[i].name), name, len) == 0)
			return &df->rec[i];
	return NULL;
}

static int
grow(struct dnsfile *df)
{
	struct dnsrec	*nrec;
	size_t		 ncap;

	if (df->n < df->cap)
		return 0;
	ncap = df->cap == 0 ? 16 : df->cap * 2;
	if ((nrec = reallocarray(df->rec, ncap, sizeof(*nrec))) == NULL)
		return -1;
	df->rec = nrec;
	df->cap = ncap;
	return 0;
}

/* One non-comment line; -1 with err set. */
static int
parse_line(struct dnsfile *df, const uint8_t *p, size_t len, size_t lineno,
    char *err, size_t errlen)
{
	struct dnsrec	 r = { NULL, NULL, VERIFY_DNS_OK };
	size_t		 i;

	if (df->n == DNSFILE_RECORDS_MAX) {
		errmsg_set(err, errlen, "%zu: too many records", lineno);
		return -1;
	}
	if (grow(df) == -1 || (r.name = buf_new(0)) == NULL ||
	    (r.value = buf_new(0)) == NULL) {
		errmsg_set(err, errlen, "out of memory");
		goto done;
	}
	for (i = 0; i < len && !is_space(p[i]); i++)
		;
	if (append_name(r.name, p, i) == -1) {
		errmsg_set(err, errlen, "out of memory");
		goto done;
	}
	while (i < len && is_space(p[i]))
		i++;
	if (strip_rr_syntax(p, &i, &len) == -1) {
		errmsg_set(err, errlen, "%zu: unbalanced parentheses", lineno);
		goto done;
	}
	if (i == len) {
		errmsg_set(err, errlen, "%zu: name without a value", lineno);
		goto done;
	}
	if (parse_value(&r, p + i, len - i) == -1) {
		errmsg_set(err, errlen, "%zu: malformed quoted string", lineno);
		goto done;
	}
	/* Several TXT records at one name give undefined results (3.6.2.2). */
	if (find(df, buf_data(r.name), buf_len(r.name)) != NULL) {
		errmsg_set(err, errlen, "%zu: name listed twice", lineno);
		goto done;
	}
	df->rec[df->n++] = r;
	return 0;
done:
	buf_free(r.value);
	buf_free(r.name);
	return -1;
}

struct dnsfile *
dnsfile_parse(const uint8_t *p, size_t len, char *err, size_t errlen)
{
	struct dnsfile	*df;
	size_t		 pos = 0, eol, end, start, lineno = 0;

	if ((df = calloc(1, sizeof(*df))) == NULL) {
		errmsg_set(err, errlen, "out of memory");
		return NULL;
	}
	while (pos < len) {
		lineno++;
		for (eol = pos; eol < len && p[eol] != '\n'; eol++)
			;
		for (start = pos; start < eol && is_space(p[start]); start++)
			;
		for (end = eol; end > start && is_space(p[end - 1]); end--)
			;
		pos = eol + 1;
		if (start == end || p[start] == '#')
			continue;
		if (memchr(p + start, '\0', end - start) != NULL) {
			errmsg_set(err, errlen, "%zu: NUL byte", lineno);
			goto fail;
		}
		if (parse_line(df, p + start, end - start, lineno, err,
		    errlen) == -1)
			goto fail;
	}
	return df;
fail:
	dnsfile_free(df);
	return NULL;
}

struct dnsfile *
dnsfile_load(const char *path, char *err, size_t errlen)
{
	struct dnsfile	*df = NULL;
	struct buf	*b = NULL;
	FILE		*f;
	uint8_t		 chunk[8192];
	size_t		 n;

	if ((f = fopen(path, "rb")) == NULL) {
		errmsg_set(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if ((b = buf_new(DNSFILE_SIZE_MAX)) == NULL) {
		errmsg_set(err, errlen, "out of memory");
		goto done;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (buf_append(b, chunk, n) == -1) {
			errmsg_set(err, errlen, "%s: larger than %d octets", path,
			    DNSFILE_SIZE_MAX);
			goto done;
		}
	}
	if (ferror(f)) {
		errmsg_set(err, errlen, "%s: read error", path);
		goto done;
	}
	df = dnsfile_parse(buf_data(b), buf_len(b), err, errlen);
done:
	buf_free(b);
	fclose(f);
	return df;
}

void
dnsfile_free(struct dnsfile *df)
{
	size_t	i;

	if (df == NULL)
		return;
	for (i = 0; i < df->n; i++) {
		buf_free(df->rec[i].value);
		buf_free(df->rec[i].name);
	}
	free(df->rec);
	free(df);
}

enum verify_dns
dnsfile_lookup(const struct dnsfile *df, const uint8_t *name, size_t len,
    const uint8_t **txt, size_t *txtlen)
{
	struct dnsrec	*r;
	struct buf	*norm;

	*txt = NULL;
	*txtlen = 0;
	if ((norm = buf_new(0)) == NULL)
		return VERIFY_DNS_ERROR;
	if (append_name(norm, name, len) == -1) {
		buf_free(norm);
		return VERIFY_DNS_ERROR;
	}
	r = find(df, buf_data(norm), buf_len(norm));
	buf_free(norm);
	if (r == NULL)
		return VERIFY_DNS_NXDOMAIN;
	if (r->status == VERIFY_DNS_OK) {
		*txt = buf_data(r->value);
		*txtlen = buf_len(r->value);
	}
	return r->status;
}
