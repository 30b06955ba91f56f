/*
 * addr — the From mailbox parser (RFC 5322 3.2 and 3.4, with the UTF-8
 * extensions of RFC 6532 3.2) and domain normalization (RFC 5890-5891
 * via libidn2, UTS #46 non-transitional).
 *
 * The signing domain comes from here, so the grammar is the strict one:
 * one function per ABNF production, no obsolete forms except periods in
 * display names (obs-phrase, 4.1: common in real mail and harmless, since
 * display names are never searched for addresses), and one extension: a
 * domain may end with one dot (the absolute form), which normalization
 * removes (TN-02).  RFC 2047 encoded
 * words in a display name are read as single opaque tokens, so an "@" or
 * "<" inside one can never be taken for an address (DK-04).
 *
 * The parser is a recursive-descent matcher over (ptr, len): a
 * production returns 1 and advances the position, or returns 0 and
 * leaves the position where it was.  Only comments nest, and their depth
 * is bounded.
 */
#include <idn2.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/msg/addr.h"
#include "proxy/msg/buf.h"

/* Comments nest (RFC 5322 3.2.2) but nothing legitimate goes deep; the
 * bound keeps recursion off the end of the stack on "((((...". */
#define ADDR_COMMENT_DEPTH	32
/* An encoded-word is at most 75 characters (RFC 2047 2). */
#define ADDR_EWORD_MAX		75
/* A host name is at most 253 octets in text form (RFC 1035 2.3.4, less
 * the root's dot) and a label at most 63. */
#define ADDR_HOST_MAX		253
#define ADDR_LABEL_MAX		63
/* UTF-8 input: up to 4 octets per character of a 253-octet name, and
 * the one trailing dot we accept. */
#define ADDR_DOMAIN_IN_MAX	(4 * ADDR_HOST_MAX + 1)

struct addr_p {
	const uint8_t	*s;
	size_t		 len;
	size_t		 pos;
	int		 depth;
	int		 lax;		/* addr-spec may lack "@" domain */
	int		 unqualified;	/* lax mode accepted such a one */
	/* The last addr-spec matched: local-part and domain text. */
	size_t		 lp_start, lp_end, dom_start, dom_end;
	int		 dom_literal;
	/* The spans of the last mailbox matched. */
	size_t		 mb_lp_start, mb_lp_end, mb_dom_start, mb_dom_end;
	int		 mb_dom_literal;
	size_t		 mailboxes;
	int		 groups;
};

/* Character classes (RFC 5322 3.2.3-3.4.1, RFC 5234 B.1), ASCII only;
 * the 8-bit extensions are the utf8_non_ascii production. */

static int
is_wsp(uint8_t c)
{
	return c == ' ' || c == '\t';
}

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
is_atext(uint8_t c)
{
	return is_alpha(c) || is_digit(c) || (c != '\0' &&
	    strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* qtext = %d33 / %d35-91 / %d93-126 */
static int
is_qtext(uint8_t c)
{
	return c == 33 || (c >= 35 && c <= 91) || (c >= 93 && c <= 126);
}

/* ctext = %d33-39 / %d42-91 / %d93-126 */
static int
is_ctext(uint8_t c)
{
	return (c >= 33 && c <= 39) || (c >= 42 && c <= 91) ||
	    (c >= 93 && c <= 126);
}

/* dtext = %d33-90 / %d94-126 */
static int
is_dtext(uint8_t c)
{
	return (c >= 33 && c <= 90) || (c >= 94 && c <= 126);
}

static int
is_vchar(uint8_t c)
{
	return c >= 0x21 && c <= 0x7e;
}

/* RFC 2047 2: token octets are CHAR except SPACE, CTLs and especials. */
static int
is_ew_token(uint8_t c)
{
	return c > 0x20 && c < 0x7f &&
	    strchr("()<>@,;:\\\"/[]?.=", c) == NULL;
}

/* RFC 2047 2: encoded-text is printable ASCII other than "?" and SP. */
static int
is_ew_text(uint8_t c)
{
	return c > 0x20 && c < 0x7f && c != '?';
}

static int
is_utf8_tail(uint8_t c)
{
	return c >= 0x80 && c <= 0xbf;
}

static int
at(const struct addr_p *p, uint8_t c)
{
	return p->pos < p->len && p->s[p->pos] == c;
}

static int
peek_is(const struct addr_p *p, int (*cls)(uint8_t))
{
	return p->pos < p->len && cls(p->s[p->pos]);
}

/*
 * UTF8-non-ascii = UTF8-2 / UTF8-3 / UTF8-4 (RFC 6532 3.1, RFC 3629 4):
 * well-formed sequences only, no overlongs or surrogates.
 */
static int
utf8_non_ascii(struct addr_p *p)
{
	const uint8_t	*s = p->s + p->pos;
	size_t		 n = p->len - p->pos, need, i;
	uint8_t		 lo = 0x80, hi = 0xbf;

	if (n == 0)
		return 0;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 4;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n < need || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < need; i++)
		if (!is_utf8_tail(s[i]))
			return 0;
	p->pos += need;
	return 1;
}

/* One octet of a class, or a UTF-8 character where RFC 6532 allows one. */
static int
class_or_utf8(struct addr_p *p, int (*cls)(uint8_t))
{
	if (peek_is(p, cls)) {
		p->pos++;
		return 1;
	}
	return utf8_non_ascii(p);
}

/* CRLF */
static int
crlf(struct addr_p *p)
{
	if (p->len - p->pos >= 2 && p->s[p->pos] == '\r' &&
	    p->s[p->pos + 1] == '\n') {
		p->pos += 2;
		return 1;
	}
	return 0;
}

/* FWS = ([*WSP CRLF] 1*WSP) */
static int
fws(struct addr_p *p)
{
	size_t	start = p->pos, afterwsp;

	while (peek_is(p, is_wsp))
		p->pos++;
	afterwsp = p->pos;
	if (crlf(p)) {
		if (peek_is(p, is_wsp)) {
			while (peek_is(p, is_wsp))
				p->pos++;
			return 1;
		}
		p->pos = afterwsp;
	}
	return p->pos > start;
}

/*
 * *([FWS] elem), the body of comments, quoted strings, domain literals
 * and CFWS: a final FWS not followed by elem is left unread.
 */
static void
fws_star(struct addr_p *p, int (*elem)(struct addr_p *))
{
	size_t	save;

	for (;;) {
		save = p->pos;
		fws(p);
		if (!elem(p)) {
			p->pos = save;
			return;
		}
	}
}

/*
 * elem *(sep elem), as in dot-atom-text and mailbox-list: a sep not
 * followed by elem is left unread.  0 if there is no first elem.
 */
static int
sep_list(struct addr_p *p, int (*elem)(struct addr_p *), uint8_t sep)
{
	size_t	save;

	if (!elem(p))
		return 0;
	for (;;) {
		save = p->pos;
		if (!at(p, sep))
			return 1;
		p->pos++;
		if (!elem(p)) {
			p->pos = save;
			return 1;
		}
	}
}

/* quoted-pair = ("\" (VCHAR / WSP)) */
static int
quoted_pair(struct addr_p *p)
{
	if (p->len - p->pos >= 2 && p->s[p->pos] == '\\' &&
	    (is_vchar(p->s[p->pos + 1]) || is_wsp(p->s[p->pos + 1]))) {
		p->pos += 2;
		return 1;
	}
	return 0;
}

static int	comment(struct addr_p *);

/* ccontent = ctext / quoted-pair / comment */
static int
ccontent(struct addr_p *p)
{
	return class_or_utf8(p, is_ctext) || quoted_pair(p) || comment(p);
}

/* comment = "(" *([FWS] ccontent) [FWS] ")" */
static int
comment(struct addr_p *p)
{
	size_t	start = p->pos;

	if (!at(p, '(') || p->depth >= ADDR_COMMENT_DEPTH)
		return 0;
	p->depth++;
	p->pos++;
	fws_star(p, ccontent);
	fws(p);
	p->depth--;
	if (!at(p, ')')) {
		p->pos = start;
		return 0;
	}
	p->pos++;
	return 1;
}

/* CFWS = (1*([FWS] comment) [FWS]) / FWS */
static int
cfws(struct addr_p *p)
{
	size_t	start = p->pos;

	fws_star(p, comment);
	fws(p);
	return p->pos > start;
}

/* 1*atext */
static int
atext_run(struct addr_p *p)
{
	size_t	start = p->pos;

	while (class_or_utf8(p, is_atext))
		continue;
	return p->pos > start;
}

/* atom = [CFWS] 1*atext [CFWS] */
static int
atom(struct addr_p *p)
{
	size_t	start = p->pos;

	cfws(p);
	if (!atext_run(p)) {
		p->pos = start;
		return 0;
	}
	cfws(p);
	return 1;
}

/* dot-atom-text = 1*atext *("." 1*atext) */
static int
dot_atom_text(struct addr_p *p)
{
	return sep_list(p, atext_run, '.');
}

/* dot-atom = [CFWS] dot-atom-text [CFWS]; *ts, *te get the text. */
static int
dot_atom(struct addr_p *p, size_t *ts, size_t *te)
{
	size_t	start = p->pos;

	cfws(p);
	*ts = p->pos;
	if (!dot_atom_text(p)) {
		p->pos = start;
		return 0;
	}
	*te = p->pos;
	cfws(p);
	return 1;
}

/* qcontent = qtext / quoted-pair */
static int
qcontent(struct addr_p *p)
{
	return class_or_utf8(p, is_qtext) || quoted_pair(p);
}

/*
 * quoted-string = [CFWS] DQUOTE *([FWS] qcontent) [FWS] DQUOTE [CFWS];
 * *ts, *te get the text from one DQUOTE to the other, both included.
 */
static int
quoted_string(struct addr_p *p, size_t *ts, size_t *te)
{
	size_t	start = p->pos;

	cfws(p);
	*ts = p->pos;
	if (!at(p, '"'))
		goto fail;
	p->pos++;
	fws_star(p, qcontent);
	fws(p);
	if (!at(p, '"'))
		goto fail;
	p->pos++;
	*te = p->pos;
	cfws(p);
	return 1;
 fail:
	p->pos = start;
	return 0;
}

/* word = atom / quoted-string */
static int
word(struct addr_p *p)
{
	size_t	ts, te;

	return atom(p) || quoted_string(p, &ts, &te);
}

/* 1*<RFC 2047 token octet> */
static int
ew_token(struct addr_p *p)
{
	size_t	start = p->pos;

	while (peek_is(p, is_ew_token))
		p->pos++;
	return p->pos > start;
}

/*
 * [CFWS] encoded-word [CFWS], where encoded-word = "=?" charset "?"
 * encoding "?" encoded-text "?=" (RFC 2047 2) and must stand alone as a
 * word (RFC 2047 5(3)): if atext follows, it was an atom after all.
 */
static int
encoded_word(struct addr_p *p)
{
	size_t	start = p->pos, ew;

	cfws(p);
	ew = p->pos;
	if (p->len - p->pos < 2 || p->s[p->pos] != '=' ||
	    p->s[p->pos + 1] != '?')
		goto fail;
	p->pos += 2;
	if (!ew_token(p) || !at(p, '?'))
		goto fail;
	p->pos++;
	if (!ew_token(p) || !at(p, '?'))
		goto fail;
	p->pos++;
	if (!peek_is(p, is_ew_text))
		goto fail;
	while (peek_is(p, is_ew_text))
		p->pos++;
	if (p->len - p->pos < 2 || p->s[p->pos] != '?' ||
	    p->s[p->pos + 1] != '=')
		goto fail;
	p->pos += 2;
	if (p->pos - ew > ADDR_EWORD_MAX || peek_is(p, is_atext))
		goto fail;
	cfws(p);
	return 1;
 fail:
	p->pos = start;
	return 0;
}

/* phrase = 1*(encoded-word / word) *(encoded-word / word / "." / CFWS),
 * the second part from obs-phrase (RFC 5322 4.1) for "John Q. Public". */
static int
phrase(struct addr_p *p)
{
	if (!encoded_word(p) && !word(p))
		return 0;
	for (;;) {
		if (encoded_word(p) || word(p))
			continue;
		if (at(p, '.')) {
			p->pos++;
			continue;
		}
		if (cfws(p))
			continue;
		break;
	}
	return 1;
}

/* display-name = phrase */
static int
display_name(struct addr_p *p)
{
	return phrase(p);
}

/* local-part = dot-atom / quoted-string */
static int
local_part(struct addr_p *p)
{
	return dot_atom(p, &p->lp_start, &p->lp_end) ||
	    quoted_string(p, &p->lp_start, &p->lp_end);
}

/* dtext, or UTF-8 (RFC 6532 3.2) */
static int
dtext(struct addr_p *p)
{
	return class_or_utf8(p, is_dtext);
}

/* domain-literal = [CFWS] "[" *([FWS] dtext) [FWS] "]" [CFWS] */
static int
domain_literal(struct addr_p *p)
{
	size_t	start = p->pos;

	cfws(p);
	p->dom_start = p->pos;
	if (!at(p, '['))
		goto fail;
	p->pos++;
	fws_star(p, dtext);
	fws(p);
	if (!at(p, ']'))
		goto fail;
	p->pos++;
	p->dom_end = p->pos;
	cfws(p);
	return 1;
 fail:
	p->pos = start;
	return 0;
}

/*
 * [CFWS] dot-atom-text ["."] [CFWS]: a dot-atom domain that may be
 * written in absolute form with one final dot (RFC 1034 3.1), which
 * TN-02 asks us to accept and normalize away rather than refuse.
 */
static int
dot_atom_domain(struct addr_p *p)
{
	size_t	start = p->pos;

	cfws(p);
	p->dom_start = p->pos;
	if (!dot_atom_text(p)) {
		p->pos = start;
		return 0;
	}
	if (at(p, '.'))
		p->pos++;
	p->dom_end = p->pos;
	cfws(p);
	return 1;
}

/* domain = dot-atom / domain-literal, the dot-atom as above. */
static int
domain(struct addr_p *p)
{
	p->dom_literal = 0;
	if (dot_atom_domain(p))
		return 1;
	if (domain_literal(p)) {
		p->dom_literal = 1;
		return 1;
	}
	return 0;
}

/*
 * addr-spec = local-part "@" domain.  In lax mode a bare local-part also
 * matches and is noted, so "bob" can be told apart from plain garbage.
 */
static int
addr_spec(struct addr_p *p)
{
	size_t	start = p->pos;

	if (!local_part(p))
		return 0;
	if (at(p, '@')) {
		p->pos++;
		if (domain(p))
			return 1;
	} else if (p->lax) {
		p->dom_start = p->dom_end = p->pos;
		p->dom_literal = 0;
		p->unqualified = 1;
		return 1;
	}
	p->pos = start;
	return 0;
}

/* angle-addr = [CFWS] "<" addr-spec ">" [CFWS] */
static int
angle_addr(struct addr_p *p)
{
	size_t	start = p->pos;

	cfws(p);
	if (!at(p, '<'))
		goto fail;
	p->pos++;
	if (!addr_spec(p) || !at(p, '>'))
		goto fail;
	p->pos++;
	cfws(p);
	return 1;
 fail:
	p->pos = start;
	return 0;
}

/* name-addr = [display-name] angle-addr */
static int
name_addr(struct addr_p *p)
{
	size_t	start = p->pos;

	if (angle_addr(p))
		return 1;
	if (display_name(p) && angle_addr(p))
		return 1;
	p->pos = start;
	return 0;
}

/* mailbox = name-addr / addr-spec */
static int
mailbox(struct addr_p *p)
{
	if (!name_addr(p) && !addr_spec(p))
		return 0;
	p->mb_lp_start = p->lp_start;
	p->mb_lp_end = p->lp_end;
	p->mb_dom_start = p->dom_start;
	p->mb_dom_end = p->dom_end;
	p->mb_dom_literal = p->dom_literal;
	p->mailboxes++;
	return 1;
}

/* mailbox-list = mailbox *("," mailbox) */
static int
mailbox_list(struct addr_p *p)
{
	return sep_list(p, mailbox, ',');
}

/* group-list = mailbox-list / CFWS */
static int
group_list(struct addr_p *p)
{
	return mailbox_list(p) || cfws(p);
}

/* group = display-name ":" [group-list] ";" [CFWS] */
static int
group(struct addr_p *p)
{
	size_t	start = p->pos;

	if (!display_name(p) || !at(p, ':'))
		goto fail;
	p->pos++;
	group_list(p);
	if (!at(p, ';'))
		goto fail;
	p->pos++;
	cfws(p);
	p->groups++;
	return 1;
 fail:
	p->pos = start;
	return 0;
}

/* address = mailbox / group */
static int
address(struct addr_p *p)
{
	return mailbox(p) || group(p);
}

/* address-list = address *("," address), which must cover the value. */
static int
address_list(struct addr_p *p)
{
	if (!address(p))
		return 0;
	while (at(p, ',')) {
		p->pos++;
		if (!address(p))
			return 0;
	}
	return p->pos == p->len;
}

static void
addr_p_init(struct addr_p *p, const uint8_t *s, size_t len, int lax)
{
	memset(p, 0, sizeof(*p));
	p->s = s;
	p->len = len;
	p->lax = lax;
}

/* Append s[start, end) without the CRLFs of folding (RFC 5322 3.2.2). */
static int
append_unfolded(struct buf *b, const uint8_t *s, size_t start, size_t end)
{
	size_t	i, run = start;

	for (i = start; i + 1 < end; i++) {
		if (s[i] == '\r' && s[i + 1] == '\n') {
			if (buf_append(b, s + run, i - run) == -1)
				return -1;
			run = i + 2;
			i++;
		}
	}
	return buf_append(b, s + run, end - run);
}

/* LDH host name label rules (RFC 1123 2.1, RFC 5890 2.3.1). */
static int
is_ldh(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || is_digit(c) || c == '-';
}

/* The A-label form must be a host name: LDH labels of 1-63 octets not
 * starting or ending with "-", at most 253 octets, and a last label that
 * is not all digits (RFC 3696 2), so "1.2.3.4" is refused. */
static int
host_name_ok(const char *h)
{
	size_t	i, lab = 0, n = strlen(h);
	int	alldigits = 1;

	if (n == 0 || n > ADDR_HOST_MAX)
		return 0;
	for (i = 0; i <= n; i++) {
		if (i == n || h[i] == '.') {
			if (lab == 0 || lab > ADDR_LABEL_MAX ||
			    h[i - 1] == '-' || h[i - lab] == '-')
				return 0;
			if (i == n && alldigits)
				return 0;
			lab = 0;
			alldigits = 1;
			continue;
		}
		if (!is_ldh((uint8_t)h[i]))
			return 0;
		if (!is_digit((uint8_t)h[i]))
			alldigits = 0;
		lab++;
	}
	return 1;
}

static enum addr_err
addr_domain(const uint8_t *s, size_t len, struct buf *out)
{
	char		 in[ADDR_DOMAIN_IN_MAX + 1];
	char		*ace = NULL;
	size_t		 i;
	int		 rc;
	enum addr_err	 err = ADDR_ERR_DOMAIN;

	if (len == 0 || len > ADDR_DOMAIN_IN_MAX)
		goto done;
	for (i = 0; i < len; i++) {
		/* A NUL would end the string libidn2 sees. */
		if (s[i] == '\0')
			goto done;
		in[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ?
		    s[i] - 'A' + 'a' : s[i]);
	}
	if (in[len - 1] == '.')
		len--;
	in[len] = '\0';
	rc = idn2_to_ascii_8z(in, &ace, IDN2_NONTRANSITIONAL);
	if (rc == IDN2_MALLOC) {
		err = ADDR_ERR_NOMEM;
		goto done;
	}
	if (rc != IDN2_OK || !host_name_ok(ace))
		goto done;
	if (buf_append_str(out, ace) == -1) {
		err = ADDR_ERR_NOMEM;
		goto done;
	}
	err = ADDR_OK;
 done:
	idn2_free(ace);
	return err;
}

int
addr_normalize_domain(const uint8_t *s, size_t len, struct buf *out)
{
	size_t	mark = buf_len(out);

	if (addr_domain(s, len, out) != ADDR_OK) {
		buf_truncate(out, mark);
		return -1;
	}
	return 0;
}

enum addr_err
addr_parse_mailbox(const uint8_t *s, size_t len, struct buf *spec,
    struct buf *dom)
{
	struct addr_p	 p;
	size_t		 smark = 0, dmark = buf_len(dom);
	enum addr_err	 err;

	if (spec != NULL)
		smark = buf_len(spec);
	addr_p_init(&p, s, len, 0);
	cfws(&p);
	if (p.pos == len)
		return ADDR_ERR_EMPTY;
	p.pos = 0;
	if (!address_list(&p)) {
		addr_p_init(&p, s, len, 1);
		if (address_list(&p) && p.unqualified)
			return ADDR_ERR_NO_DOMAIN;
		return ADDR_ERR_SYNTAX;
	}
	if (p.groups > 0)
		return ADDR_ERR_GROUP;
	if (p.mailboxes != 1)
		return ADDR_ERR_MULTIPLE;
	if (p.mb_dom_literal)
		return ADDR_ERR_DOMAIN;
	if ((err = addr_domain(s + p.mb_dom_start,
	    p.mb_dom_end - p.mb_dom_start, dom)) != ADDR_OK)
		goto fail;
	if (spec != NULL && (append_unfolded(spec, s, p.mb_lp_start,
	    p.mb_lp_end) == -1 || buf_append_byte(spec, '@') == -1 ||
	    append_unfolded(spec, s, p.mb_dom_start, p.mb_dom_end) == -1)) {
		err = ADDR_ERR_NOMEM;
		goto fail;
	}
	return ADDR_OK;
 fail:
	buf_truncate(dom, dmark);
	if (spec != NULL)
		buf_truncate(spec, smark);
	return err;
}

const char *
addr_strerror(enum addr_err e)
{
	switch (e) {
	case ADDR_OK:
		return "ok";
	case ADDR_ERR_SYNTAX:
		return "not a mailbox";
	case ADDR_ERR_EMPTY:
		return "empty address";
	case ADDR_ERR_GROUP:
		return "group syntax instead of a mailbox";
	case ADDR_ERR_MULTIPLE:
		return "more than one mailbox";
	case ADDR_ERR_NO_DOMAIN:
		return "address has no domain";
	case ADDR_ERR_DOMAIN:
		return "domain is not a valid host name";
	case ADDR_ERR_NOMEM:
		return "out of memory";
	}
	return "unknown address error";
}
