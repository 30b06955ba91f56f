/*
 * smtp_reply — parse the upstream's replies, format ours.
 *
 * RFC 5321 4.2 (reply lines: code, "-" or SP, text, CRLF; 4.2.1 the
 * second digit is 0..5), 4.5.3.1.5 (512-octet reply lines); RFC 3463 and
 * RFC 2034 (enhanced status codes); RFC 1869/5321 4.1.1.1 (the EHLO
 * keyword list); hostile-inputs UP-06.
 *
 * The parser takes bytes split anywhere and holds at most one partial
 * line, so its memory is fixed.  A line ends only at CR LF; a bare CR or
 * LF, a line without a valid code, a code that differs from the first
 * line's, a line over SMTP_REPLY_LINE_MAX or more than
 * SMTP_REPLY_LINES_MAX lines make the reply malformed.  Stored text is
 * printable ASCII only ('?' for any other octet), so everything built
 * from it is safe to send and to log.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include "proxy/msg/buf.h"
#include "proxy/smtp_reply.h"

#define ENH_MAX		11	/* "x.yyy.zzz" (RFC 3463 2: 1*3 digits) */

enum reply_state {
	RS_PARSING,
	RS_DONE,
	RS_MALFORMED
};

struct smtp_reply {
	enum reply_state	 st;
	const char		*err;
	uint8_t			 line[SMTP_REPLY_LINE_MAX];
	size_t			 linelen;	/* raw octets, CR included */
	int			 code;
	size_t			 nlines;
	size_t			 toff[SMTP_REPLY_LINES_MAX];
	size_t			 tlen[SMTP_REPLY_LINES_MAX];
	uint8_t			 text[SMTP_REPLY_LINES_MAX *
				    SMTP_REPLY_LINE_MAX];
	size_t			 textlen;
	char			 enh[ENH_MAX + 1];
};

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int
is_print(int c)
{
	return c >= 32 && c <= 126;
}

static int
to_upper(int c)
{
	return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

struct smtp_reply *
smtp_reply_new(void)
{
	struct smtp_reply	*r;

	if ((r = malloc(sizeof(*r))) == NULL)
		return NULL;
	smtp_reply_reset(r);
	return r;
}

void
smtp_reply_free(struct smtp_reply *r)
{
	free(r);
}

void
smtp_reply_reset(struct smtp_reply *r)
{
	r->st = RS_PARSING;
	r->err = NULL;
	r->linelen = 0;
	r->code = 0;
	r->nlines = 0;
	r->textlen = 0;
	r->enh[0] = '\0';
}

static enum smtp_reply_status
malformed(struct smtp_reply *r, const char *why)
{
	r->st = RS_MALFORMED;
	r->err = why;
	return SMTP_REPLY_MALFORMED;
}

/*
 * Reply-code = %x32-35 %x30-35 %x30-39 (RFC 5321 4.2); -1 if not one.
 */
static int
parse_code(const uint8_t *p)
{
	if (p[0] < '2' || p[0] > '5' || p[1] < '0' || p[1] > '5' ||
	    !is_digit(p[2]))
		return -1;
	return (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
}

/*
 * status-code = class "." subject "." detail; class = "2"/"4"/"5";
 * subject, detail = 1*3digit (RFC 3463 2), then SP or the end.  Returns
 * the octets it takes, including the SP, or 0.
 */
static size_t
parse_enhanced(const uint8_t *p, size_t n, int cls)
{
	size_t	i = 0, d, part;

	if (n < 5 || p[0] != '0' + cls || p[1] != '.')
		return 0;
	i = 2;
	for (part = 0; part < 2; part++) {
		for (d = 0; i < n && is_digit(p[i]) && d < 3; d++)
			i++;
		if (d == 0 || (i < n && is_digit(p[i])))
			return 0;
		if (part == 0) {
			if (i >= n || p[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < n && p[i] != ' ')
		return 0;
	return i < n ? i + 1 : i;
}

/*
 * One complete line, CR LF removed: Reply-code ( "-" / SP / end ) text.
 * Returns 1 if it was the last line of the reply, 0 if more follow.
 */
static int
take_line(struct smtp_reply *r, const uint8_t *p, size_t n)
{
	size_t	i, skip, enhlen;
	int	code, last;

	if (n < 3 || (code = parse_code(p)) == -1) {
		malformed(r, "bad_code");
		return -1;
	}
	if (n > 3 && p[3] != ' ' && p[3] != '-') {
		malformed(r, "bad_separator");
		return -1;
	}
	if (r->nlines > 0 && code != r->code) {
		malformed(r, "code_mismatch");
		return -1;
	}
	if (r->nlines == SMTP_REPLY_LINES_MAX) {
		malformed(r, "too_many_lines");
		return -1;
	}
	last = n == 3 || p[3] == ' ';
	r->code = code;
	p += n > 3 ? 4 : 3;
	n -= n > 3 ? 4 : 3;
	skip = 0;
	if (r->nlines == 0 && (enhlen = parse_enhanced(p, n, code / 100)) > 0) {
		/* Keep "x.y.z" without the SP that may follow it. */
		skip = enhlen;
		if (p[enhlen - 1] == ' ')
			enhlen--;
		memcpy(r->enh, p, enhlen);
		r->enh[enhlen] = '\0';
	} else if (r->enh[0] != '\0' && n >= strlen(r->enh) &&
	    memcmp(p, r->enh, strlen(r->enh)) == 0 &&
	    (n == strlen(r->enh) || p[strlen(r->enh)] == ' '))
		skip = n == strlen(r->enh) ? n : strlen(r->enh) + 1;
	r->toff[r->nlines] = r->textlen;
	r->tlen[r->nlines] = n - skip;
	for (i = skip; i < n; i++)
		r->text[r->textlen++] = is_print(p[i]) ? p[i] : '?';
	r->nlines++;
	return last;
}

enum smtp_reply_status
smtp_reply_feed(struct smtp_reply *r, const uint8_t *buf, size_t n,
    size_t *used)
{
	const uint8_t	*p = buf, *end = buf + n, *lf, *cr, *e;
	size_t		 k;
	int		 last;

	*used = 0;
	if (r->st == RS_DONE)
		return SMTP_REPLY_DONE;
	if (r->st == RS_MALFORMED)
		return SMTP_REPLY_MALFORMED;
	while (p < end) {
		lf = memchr(p, '\n', (size_t)(end - p));
		e = lf != NULL ? lf : end;
		k = (size_t)(e - p);
		/* A held CR must be followed by LF at once. */
		if (r->linelen > 0 && r->line[r->linelen - 1] == '\r' &&
		    (k > 0 || lf == NULL)) {
			*used = (size_t)(p - buf);
			return malformed(r, "bare_cr");
		}
		cr = memchr(p, '\r', k);
		if (cr != NULL && cr != e - 1) {
			*used = (size_t)(cr - buf);
			return malformed(r, "bare_cr");
		}
		if (k > SMTP_REPLY_LINE_MAX - 1 - r->linelen) {
			*used = (size_t)(p - buf);
			return malformed(r, "line_too_long");
		}
		if (k > 0)
			memcpy(r->line + r->linelen, p, k);
		r->linelen += k;
		p = e;
		if (lf == NULL)
			break;
		p++;
		if (r->linelen == 0 || r->line[r->linelen - 1] != '\r') {
			*used = (size_t)(lf - buf);
			return malformed(r, "bare_lf");
		}
		last = take_line(r, r->line, r->linelen - 1);
		r->linelen = 0;
		if (last == -1) {
			*used = (size_t)(lf - buf);
			return SMTP_REPLY_MALFORMED;
		}
		if (last) {
			r->st = RS_DONE;
			*used = (size_t)(p - buf);
			return SMTP_REPLY_DONE;
		}
	}
	*used = n;
	return SMTP_REPLY_NEED_MORE;
}

const char *
smtp_reply_error(const struct smtp_reply *r)
{
	return r->err != NULL ? r->err : "none";
}

int
smtp_reply_code(const struct smtp_reply *r)
{
	return r->code;
}

int
smtp_reply_class(const struct smtp_reply *r)
{
	return r->code / 100;
}

size_t
smtp_reply_lines(const struct smtp_reply *r)
{
	return r->st == RS_DONE ? r->nlines : 0;
}

const char *
smtp_reply_enhanced(const struct smtp_reply *r)
{
	return r->enh[0] != '\0' ? r->enh : NULL;
}

const uint8_t *
smtp_reply_text(const struct smtp_reply *r, size_t i, size_t *len)
{
	if (i >= r->nlines) {
		*len = 0;
		return r->text;
	}
	*len = r->tlen[i];
	return r->text + r->toff[i];
}

/*
 * One reply line: code, separator, "enh " if any, text made printable,
 * cut so the line stays within SMTP_REPLY_LINE_MAX with its CRLF.
 */
static int
put_line(struct buf *out, int code, int more, const char *enh,
    const uint8_t *text, size_t n)
{
	char	head[4 + ENH_MAX + 2];
	size_t	hlen, i, room;
	uint8_t	c;

	if (code < 200 || code > 599)
		return -1;
	if (enh != NULL && enh[0] != '\0' && strlen(enh) <= ENH_MAX)
		hlen = (size_t)snprintf(head, sizeof(head), "%03d%c%s ", code,
		    more ? '-' : ' ', enh);
	else
		hlen = (size_t)snprintf(head, sizeof(head), "%03d%c", code,
		    more ? '-' : ' ');
	if (buf_append(out, head, hlen) == -1)
		return -1;
	room = SMTP_REPLY_LINE_MAX - 2 - hlen;
	if (n > room)
		n = room;
	for (i = 0; i < n; i++) {
		c = is_print(text[i]) ? text[i] : '?';
		if (buf_append_byte(out, c) == -1)
			return -1;
	}
	return buf_append(out, "\r\n", 2);
}

int
smtp_reply_put(struct buf *out, int code, const char *enh, const char *text)
{
	return put_line(out, code, 0, enh, (const uint8_t *)text,
	    strlen(text));
}

int
smtp_reply_printf(struct buf *out, int code, const char *enh,
    const char *fmt, ...)
{
	char	text[SMTP_REPLY_LINE_MAX];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	return smtp_reply_put(out, code, enh, text);
}

int
smtp_reply_multi(struct buf *out, int code, const char *enh,
    const char *const *lines, size_t n)
{
	size_t	i, mark = buf_len(out);

	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (put_line(out, code, i + 1 < n, enh,
		    (const uint8_t *)lines[i], strlen(lines[i])) == -1) {
			buf_truncate(out, mark);
			return -1;
		}
	}
	return 0;
}

int
smtp_reply_rebuild(const struct smtp_reply *r, const char *dflt_enh,
    struct buf *out)
{
	const char	*enh = smtp_reply_enhanced(r);
	size_t		 i, mark = buf_len(out);

	if (r->st != RS_DONE)
		return -1;
	/* A default enhanced code is used only if its class fits. */
	if (enh == NULL && dflt_enh != NULL &&
	    dflt_enh[0] == '0' + smtp_reply_class(r))
		enh = dflt_enh;
	for (i = 0; i < r->nlines; i++) {
		if (put_line(out, r->code, i + 1 < r->nlines, enh,
		    r->text + r->toff[i], r->tlen[i]) == -1) {
			buf_truncate(out, mark);
			return -1;
		}
	}
	return 0;
}

static int
word_is(const uint8_t *p, size_t n, const char *w)
{
	size_t	i;

	if (strlen(w) != n)
		return 0;
	for (i = 0; i < n; i++)
		if (to_upper(p[i]) != w[i])
			return 0;
	return 1;
}

/* The next space-separated word of [*p, end); 0 when none is left. */
static size_t
next_word(const uint8_t **p, const uint8_t *end, const uint8_t **w)
{
	while (*p < end && (**p == ' ' || **p == '='))
		(*p)++;
	*w = *p;
	while (*p < end && **p != ' ' && **p != '=')
		(*p)++;
	return (size_t)(*p - *w);
}

static uint64_t
parse_u64(const uint8_t *p, size_t n)
{
	uint64_t	v = 0;
	size_t		i;

	if (n == 0 || n > 20)
		return 0;
	for (i = 0; i < n; i++) {
		if (!is_digit(p[i]) ||
		    v > (UINT64_MAX - (uint64_t)(p[i] - '0')) / 10)
			return 0;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	return v;
}

static const struct {
	const char	*word;
	unsigned int	 bit;
} ext_words[] = {
	{ "SIZE", SMTP_EXT_SIZE },
	{ "8BITMIME", SMTP_EXT_8BITMIME },
	{ "SMTPUTF8", SMTP_EXT_SMTPUTF8 },
	{ "DSN", SMTP_EXT_DSN },
	{ "AUTH", SMTP_EXT_AUTH },
	{ "CHUNKING", SMTP_EXT_CHUNKING },
	{ "BINARYMIME", SMTP_EXT_BINARYMIME },
	{ "PIPELINING", SMTP_EXT_PIPELINING },
	{ "STARTTLS", SMTP_EXT_STARTTLS },
	{ "ENHANCEDSTATUSCODES", SMTP_EXT_ENHANCED },
	{ "XFORWARD", SMTP_EXT_XFORWARD },
}, auth_words[] = {
	{ "PLAIN", SMTP_AUTH_PLAIN },
	{ "LOGIN", SMTP_AUTH_LOGIN },
	{ "CRAM-MD5", SMTP_AUTH_CRAM_MD5 },
	{ "XOAUTH2", SMTP_AUTH_XOAUTH2 },
}, xfwd_words[] = {
	{ "NAME", SMTP_XFWD_NAME },
	{ "ADDR", SMTP_XFWD_ADDR },
	{ "PORT", SMTP_XFWD_PORT },
	{ "PROTO", SMTP_XFWD_PROTO },
	{ "HELO", SMTP_XFWD_HELO },
	{ "IDENT", SMTP_XFWD_IDENT },
	{ "SOURCE", SMTP_XFWD_SOURCE },
};

/* "AUTH PLAIN LOGIN", "AUTH=PLAIN" (old form), "XFORWARD NAME ADDR". */
static unsigned int
word_bits(const uint8_t *p, const uint8_t *end, int auth)
{
	const uint8_t	*w;
	size_t		 n, i, count;
	unsigned int	 bits = 0, bit;

	count = auth ? sizeof(auth_words) / sizeof(auth_words[0]) :
	    sizeof(xfwd_words) / sizeof(xfwd_words[0]);
	while ((n = next_word(&p, end, &w)) > 0) {
		bit = auth ? SMTP_AUTH_OTHER : 0;
		for (i = 0; i < count; i++)
			if (word_is(w, n, auth ? auth_words[i].word :
			    xfwd_words[i].word))
				bit = auth ? auth_words[i].bit :
				    xfwd_words[i].bit;
		bits |= bit;
	}
	return bits;
}

int
smtp_reply_ehlo_caps(const struct smtp_reply *r, struct smtp_caps *caps)
{
	const uint8_t	*p, *end, *w;
	size_t		 i, j, n, len;

	memset(caps, 0, sizeof(*caps));
	if (r->st != RS_DONE || smtp_reply_class(r) != 2)
		return -1;
	for (i = 1; i < r->nlines; i++) {
		p = smtp_reply_text(r, i, &len);
		end = p + len;
		if ((n = next_word(&p, end, &w)) == 0)
			continue;
		for (j = 0; j < sizeof(ext_words) / sizeof(ext_words[0]); j++)
			if (word_is(w, n, ext_words[j].word))
				caps->ext |= ext_words[j].bit;
		if (word_is(w, n, "SIZE")) {
			n = next_word(&p, end, &w);
			caps->size_max = parse_u64(w, n);
		} else if (word_is(w, n, "AUTH"))
			caps->auth |= word_bits(p, end, 1);
		else if (word_is(w, n, "XFORWARD"))
			caps->xforward |= word_bits(p, end, 0);
	}
	return 0;
}
