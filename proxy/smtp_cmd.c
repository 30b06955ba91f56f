/*
 * smtp_cmd — the client command parser.
 *
 * RFC 5321 4.1.1 (commands), 4.1.2 (path grammar), 4.1.3 (address
 * literals), 4.5.3.1 (size limits); RFC 1870 SIZE, RFC 6152 BODY, RFC 3030
 * BDAT and BINARYMIME, RFC 3461 DSN parameters and xtext, RFC 4954 AUTH,
 * RFC 6531 SMTPUTF8 (UTF-8 in atext, qtext and sub-domains).
 *
 * One function per ABNF production, each taking a cursor and moving it
 * only on success; character classes are positive predicates.  The
 * grammar is RFC 5321's with three tolerances that change no meaning:
 * spaces after "FROM:"/"TO:", several spaces between parameters, and
 * trailing spaces on the line.  Source routes are parsed and dropped
 * (4.1.1.3).  The result holds offsets into its own arrays, never
 * pointers, so smtp_cmd_copy() is a plain copy.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/msg/buf.h"
#include "proxy/smtp_cmd.h"

#define DETAIL_MAX	64	/* client text quoted in a reply */
#define ORCPT_TYPE_MAX	32	/* addr-type atom; "rfc822", "utf-8" */
#define SIZE_DIGITS_MAX	20	/* RFC 1870: size-value = 1*20DIGIT */
#define LABEL_MAX	63	/* RFC 1035 2.3.4, octets per label */
#define MECH_MAX	20	/* RFC 4422 3.1: sasl-mech = 1*20 chars */

struct smtp_cmd {
	enum smtp_verb	 verb;
	char		 detail[DETAIL_MAX + 4];	/* + "..." NUL */
	uint8_t		 arg[SMTP_CMD_ARG_MAX];
	size_t		 arglen;
	int		 has_resp;
	size_t		 resp_off, resp_len;
	uint8_t		 addr[SMTP_PATH_MAX];
	size_t		 addrlen, locallen;
	int		 addr_utf8, had_route;
	int		 has_size;
	uint64_t	 size;
	enum smtp_body	 body;
	int		 smtputf8;
	enum smtp_ret	 ret;
	int		 has_envid;
	uint8_t		 envid[SMTP_ENVID_MAX];
	size_t		 envidlen;
	int		 has_authp;
	uint8_t		 authp[SMTP_AUTH_PARAM_MAX];
	size_t		 authplen;
	unsigned int	 notify;
	int		 has_orcpt;
	char		 orcpt_type[ORCPT_TYPE_MAX + 1];
	uint8_t		 orcpt[SMTP_ORCPT_MAX];
	size_t		 orcptlen;
	uint64_t	 bdat_size;
	int		 bdat_last;
};

/* A position in the line; productions advance it only on success. */
struct cur {
	const uint8_t	*p;
	const uint8_t	*end;
};

static const struct verb_info {
	const char	*name;
	enum smtp_verb	 verb;
	const char	*usage;		/* for "501 5.5.4 Syntax: ..." */
} verbs[] = {
	{ "EHLO", SMTP_VERB_EHLO, "EHLO hostname" },
	{ "HELO", SMTP_VERB_HELO, "HELO hostname" },
	{ "MAIL", SMTP_VERB_MAIL, "MAIL FROM:<address>" },
	{ "RCPT", SMTP_VERB_RCPT, "RCPT TO:<address>" },
	{ "DATA", SMTP_VERB_DATA, "DATA" },
	{ "BDAT", SMTP_VERB_BDAT, "BDAT size [LAST]" },
	{ "RSET", SMTP_VERB_RSET, "RSET" },
	{ "NOOP", SMTP_VERB_NOOP, "NOOP" },
	{ "QUIT", SMTP_VERB_QUIT, "QUIT" },
	{ "VRFY", SMTP_VERB_VRFY, "VRFY address" },
	{ "EXPN", SMTP_VERB_EXPN, "EXPN mailing-list" },
	{ "HELP", SMTP_VERB_HELP, "HELP" },
	{ "STARTTLS", SMTP_VERB_STARTTLS, "STARTTLS" },
	{ "AUTH", SMTP_VERB_AUTH, "AUTH mechanism" },
	{ "ETRN", SMTP_VERB_ETRN, "ETRN domain" },
	{ "TURN", SMTP_VERB_TURN, "TURN" },
	{ "XCLIENT", SMTP_VERB_XCLIENT, "XCLIENT attribute=value" },
	{ "XFORWARD", SMTP_VERB_XFORWARD, "XFORWARD attribute=value" },
};

/* Character classes (RFC 5321 4.1.2, RFC 5234 B.1). */

static int
is_alpha(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int
is_let_dig(int c)
{
	return is_alpha(c) || is_digit(c);
}

static int
is_ldh(int c)
{
	return is_let_dig(c) || c == '-';
}

/* RFC 5322 3.2.3 atext, ASCII part. */
static int
is_atext(int c)
{
	return is_let_dig(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~",
	    c) != NULL);
}

/* RFC 5321 qtextSMTP: %d32-33 / %d35-91 / %d93-126. */
static int
is_qtext_smtp(int c)
{
	return c == 32 || c == 33 || (c >= 35 && c <= 91) ||
	    (c >= 93 && c <= 126);
}

/* The octet after a backslash in quoted-pairSMTP: %d32-126. */
static int
is_quoted_pair_char(int c)
{
	return c >= 32 && c <= 126;
}

/* RFC 5321 dcontent: %d33-90 / %d94-126. */
static int
is_dcontent(int c)
{
	return (c >= 33 && c <= 90) || (c >= 94 && c <= 126);
}

/* RFC 5321 esmtp-value: %d33-60 / %d62-126. */
static int
is_esmtp_value(int c)
{
	return (c >= 33 && c <= 60) || (c >= 62 && c <= 126);
}

/* RFC 3461 4: xchar, any printable ASCII but "+" and "=". */
static int
is_xchar(int c)
{
	return c >= 33 && c <= 126 && c != '+' && c != '=';
}

static int
is_upper_hex(int c)
{
	return is_digit(c) || (c >= 'A' && c <= 'F');
}

/* RFC 4422 3.1 sasl-mech characters (upper case after folding). */
static int
is_sasl_mech(int c)
{
	return is_let_dig(c) || c == '-' || c == '_';
}

/* Printable ASCII: what a NOOP/VRFY/... argument may hold. */
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

/*
 * Length of one well-formed non-ASCII UTF-8 character at p (RFC 3629 4:
 * no overlong forms, no surrogates, at most U+10FFFF), or 0.
 */
static size_t
utf8_char(const uint8_t *p, const uint8_t *end)
{
	size_t	n, i;
	uint8_t	lo = 0x80, hi = 0xbf;

	if (p >= end)
		return 0;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		if (p[0] == 0xe0)
			lo = 0xa0;
		else if (p[0] == 0xed)
			hi = 0x9f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		if (p[0] == 0xf0)
			lo = 0x90;
		else if (p[0] == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if ((size_t)(end - p) < n)
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

static int
at_end(const struct cur *c)
{
	return c->p >= c->end;
}

static int
peek(const struct cur *c)
{
	return c->p < c->end ? *c->p : -1;
}

/* Case-insensitive literal. */
static int
match_ci(struct cur *c, const char *lit)
{
	size_t	n = strlen(lit), i;

	if ((size_t)(c->end - c->p) < n)
		return -1;
	for (i = 0; i < n; i++)
		if (to_upper(c->p[i]) != to_upper((unsigned char)lit[i]))
			return -1;
	c->p += n;
	return 0;
}

static int
eq_ci(const uint8_t *p, size_t n, const char *lit)
{
	size_t	i;

	if (strlen(lit) != n)
		return 0;
	for (i = 0; i < n; i++)
		if (to_upper(p[i]) != to_upper((unsigned char)lit[i]))
			return 0;
	return 1;
}

/* Keep client text for a reply: printable, cut, '?' for the rest. */
static void
set_detail(struct smtp_cmd *cmd, const uint8_t *p, size_t n)
{
	size_t	i, k = n > DETAIL_MAX ? DETAIL_MAX : n;

	for (i = 0; i < k; i++)
		cmd->detail[i] = is_print(p[i]) ? (char)p[i] : '?';
	if (k < n) {
		memcpy(cmd->detail + k, "...", 3);
		k += 3;
	}
	cmd->detail[k] = '\0';
}

/*
 * Domain (RFC 5321 4.1.2):
 *   Domain     = sub-domain *("." sub-domain)
 *   sub-domain = Let-dig [Ldh-str]          ; =/ U-label (RFC 6531)
 * A label is ASCII letters, digits and inner hyphens, at most LABEL_MAX
 * octets, or (utf8) contains well-formed UTF-8 in place of letters.
 * *had_utf8 is set when it does.
 */
static int
parse_sub_domain(struct cur *c, int utf8, int *had_utf8)
{
	const uint8_t	*p = c->p, *start = c->p;
	size_t		 n;
	int		 last = -1, u = 0;

	while (p < c->end) {
		if (is_ldh(*p)) {
			if (p == start && *p == '-')
				return -1;
			last = *p++;
		} else if (utf8 && *p >= 0x80 &&
		    (n = utf8_char(p, c->end)) > 0) {
			p += n;
			last = 'a';
			u = 1;
		} else
			break;
	}
	if (p == start || last == '-')
		return -1;
	if (!u && (size_t)(p - start) > LABEL_MAX)
		return -1;
	if (u)
		*had_utf8 = 1;
	c->p = p;
	return 0;
}

static int
parse_domain(struct cur *c, int utf8, int *had_utf8)
{
	struct cur	t = *c;

	if (parse_sub_domain(&t, utf8, had_utf8) == -1)
		return -1;
	while (peek(&t) == '.') {
		t.p++;
		if (parse_sub_domain(&t, utf8, had_utf8) == -1)
			return -1;
	}
	*c = t;
	return 0;
}

/* Snum = 1*3DIGIT, representing a decimal integer value in 0..255. */
static int
parse_snum(struct cur *c)
{
	const uint8_t	*p = c->p;
	unsigned int	 v = 0;

	while (p < c->end && is_digit(*p) && p - c->p < 3)
		v = v * 10 + (unsigned int)(*p++ - '0');
	if (p == c->p || v > 255 || (p < c->end && is_digit(*p)))
		return -1;
	c->p = p;
	return 0;
}

/* IPv4-address-literal = Snum 3("." Snum) */
static int
parse_ipv4_literal(struct cur *c)
{
	struct cur	t = *c;
	int		i;

	if (parse_snum(&t) == -1)
		return -1;
	for (i = 0; i < 3; i++) {
		if (peek(&t) != '.')
			return -1;
		t.p++;
		if (parse_snum(&t) == -1)
			return -1;
	}
	*c = t;
	return 0;
}

/*
 * IPv6-address-literal = "IPv6:" IPv6-addr.  inet_pton() accepts exactly
 * the full, compressed and IPv4-embedded forms of RFC 5321 4.1.3.
 */
static int
parse_ipv6_literal(struct cur *c)
{
	struct cur	 t = *c;
	const uint8_t	*start;
	char		 text[INET6_ADDRSTRLEN + 1];
	uint8_t		 bin[16];
	size_t		 n;

	if (match_ci(&t, "IPv6:") == -1)
		return -1;
	start = t.p;
	while (t.p < t.end && (is_upper_hex(to_upper(*t.p)) || *t.p == ':' ||
	    *t.p == '.'))
		t.p++;
	n = (size_t)(t.p - start);
	if (n == 0 || n > INET6_ADDRSTRLEN)
		return -1;
	memcpy(text, start, n);
	text[n] = '\0';
	if (inet_pton(AF_INET6, text, bin) != 1)
		return -1;
	*c = t;
	return 0;
}

/* General-address-literal = Standardized-tag ":" 1*dcontent */
static int
parse_general_literal(struct cur *c)
{
	struct cur	 t = *c;
	const uint8_t	*start = t.p;

	while (t.p < t.end && is_ldh(*t.p))
		t.p++;
	/* "IPv6" is the one registered tag; it has its own grammar. */
	if (t.p == start || !is_let_dig(t.p[-1]) || peek(&t) != ':' ||
	    eq_ci(start, (size_t)(t.p - start), "IPv6"))
		return -1;
	t.p++;
	start = t.p;
	while (t.p < t.end && is_dcontent(*t.p))
		t.p++;
	if (t.p == start)
		return -1;
	*c = t;
	return 0;
}

/* address-literal = "[" ( IPv4 / IPv6 / General ) "]" */
static int
parse_address_literal(struct cur *c)
{
	struct cur	t = *c;

	if (peek(&t) != '[')
		return -1;
	t.p++;
	if (parse_ipv4_literal(&t) == -1 && parse_ipv6_literal(&t) == -1 &&
	    parse_general_literal(&t) == -1)
		return -1;
	if (peek(&t) != ']')
		return -1;
	t.p++;
	*c = t;
	return 0;
}

/* Atom = 1*atext   (atext =/ UTF8-non-ascii, RFC 6531) */
static int
parse_atom(struct cur *c, int *had_utf8)
{
	const uint8_t	*p = c->p;
	size_t		 n;

	while (p < c->end) {
		if (is_atext(*p))
			p++;
		else if (*p >= 0x80 && (n = utf8_char(p, c->end)) > 0) {
			p += n;
			*had_utf8 = 1;
		} else
			break;
	}
	if (p == c->p)
		return -1;
	c->p = p;
	return 0;
}

/* Dot-string = Atom *("." Atom) */
static int
parse_dot_string(struct cur *c, int *had_utf8)
{
	struct cur	t = *c;

	if (parse_atom(&t, had_utf8) == -1)
		return -1;
	while (peek(&t) == '.') {
		t.p++;
		if (parse_atom(&t, had_utf8) == -1)
			return -1;
	}
	*c = t;
	return 0;
}

/*
 * Quoted-string = DQUOTE *QcontentSMTP DQUOTE
 * QcontentSMTP  = qtextSMTP / quoted-pairSMTP   (qtextSMTP =/ UTF-8)
 */
static int
parse_quoted_string(struct cur *c, int *had_utf8)
{
	const uint8_t	*p = c->p;
	size_t		 n;

	if (p >= c->end || *p != '"')
		return -1;
	p++;
	while (p < c->end && *p != '"') {
		if (*p == '\\') {
			if (p + 1 >= c->end || !is_quoted_pair_char(p[1]))
				return -1;
			p += 2;
		} else if (is_qtext_smtp(*p))
			p++;
		else if (*p >= 0x80 && (n = utf8_char(p, c->end)) > 0) {
			p += n;
			*had_utf8 = 1;
		} else
			return -1;
	}
	if (p >= c->end)
		return -1;
	c->p = p + 1;
	return 0;
}

/* Local-part = Dot-string / Quoted-string */
static int
parse_local_part(struct cur *c, int *had_utf8)
{
	if (peek(c) == '"')
		return parse_quoted_string(c, had_utf8);
	return parse_dot_string(c, had_utf8);
}

/*
 * Mailbox = Local-part "@" ( Domain / address-literal )
 * Copied into cmd->addr with its limits checked.
 */
static int
parse_mailbox(struct cur *c, struct smtp_cmd *cmd)
{
	struct cur	 t = *c;
	const uint8_t	*start = t.p, *dom;
	size_t		 local, domain;
	int		 u = 0;

	if (parse_local_part(&t, &u) == -1)
		return -1;
	local = (size_t)(t.p - start);
	if (local > SMTP_LOCAL_MAX || peek(&t) != '@')
		return -1;
	t.p++;
	dom = t.p;
	if (peek(&t) == '[') {
		if (parse_address_literal(&t) == -1)
			return -1;
	} else if (parse_domain(&t, 1, &u) == -1)
		return -1;
	domain = (size_t)(t.p - dom);
	if (domain > SMTP_DOMAIN_MAX)
		return -1;
	memcpy(cmd->addr, start, (size_t)(t.p - start));
	cmd->addrlen = (size_t)(t.p - start);
	cmd->locallen = local;
	cmd->addr_utf8 = u;
	*c = t;
	return 0;
}

/* At-domain = "@" Domain;  A-d-l = At-domain *( "," At-domain ) */
static int
parse_adl(struct cur *c)
{
	struct cur	t = *c;
	int		u = 0;

	for (;;) {
		if (peek(&t) != '@')
			return -1;
		t.p++;
		if (parse_domain(&t, 1, &u) == -1)
			return -1;
		if (peek(&t) != ',')
			break;
		t.p++;
	}
	*c = t;
	return 0;
}

/*
 * Path = "<" [ A-d-l ":" ] Mailbox ">"; with null_ok, "<>" too
 * (Reverse-path).  The whole path is at most SMTP_PATH_MAX octets.
 */
static int
parse_path(struct cur *c, struct smtp_cmd *cmd, int null_ok)
{
	struct cur	 t = *c;
	const uint8_t	*start = t.p;

	if (peek(&t) != '<')
		return -1;
	t.p++;
	if (null_ok && peek(&t) == '>') {
		t.p++;
		*c = t;
		return 0;
	}
	if (peek(&t) == '@') {
		if (parse_adl(&t) == -1 || peek(&t) != ':')
			return -1;
		t.p++;
		cmd->had_route = 1;
	}
	if (parse_mailbox(&t, cmd) == -1 || peek(&t) != '>')
		return -1;
	t.p++;
	if ((size_t)(t.p - start) > SMTP_PATH_MAX)
		return -1;
	*c = t;
	return 0;
}

/* RCPT's special forms: "<Postmaster>" (no domain, RFC 5321 4.1.1.3). */
static int
parse_postmaster(struct cur *c, struct smtp_cmd *cmd)
{
	struct cur	t = *c;

	if (match_ci(&t, "<Postmaster>") == -1)
		return -1;
	memcpy(cmd->addr, c->p + 1, 10);
	cmd->addrlen = cmd->locallen = 10;
	*c = t;
	return 0;
}

static int
hex_value(int c)
{
	return is_digit(c) ? c - '0' : c - 'A' + 10;
}

/*
 * One xtext element at p[i] (RFC 3461 4): xchar, or hexchar = "+"
 * 2(%x30-39 / %x41-46).  Returns the octets it takes (1 or 3), 0 if bad.
 */
static size_t
xtext_element(const uint8_t *p, size_t n, size_t i, uint8_t *octet)
{
	if (is_xchar(p[i])) {
		*octet = p[i];
		return 1;
	}
	if (p[i] == '+' && i + 2 < n && is_upper_hex(p[i + 1]) &&
	    is_upper_hex(p[i + 2])) {
		*octet = (uint8_t)(hex_value(p[i + 1]) << 4 |
		    hex_value(p[i + 2]));
		return 3;
	}
	return 0;
}

/* xtext = *( xchar / hexchar ), decoded into out (at most max octets). */
static int
xtext_decode(const uint8_t *p, size_t n, uint8_t *out, size_t max,
    size_t *outlen)
{
	size_t	i = 0, k = 0, step;

	while (i < n) {
		if (k >= max || (step = xtext_element(p, n, i, &out[k])) == 0)
			return -1;
		k++;
		i += step;
	}
	*outlen = k;
	return 0;
}

int
smtp_xtext_decode(const uint8_t *p, size_t n, struct buf *out)
{
	size_t	i = 0, step, mark = buf_len(out);
	uint8_t	octet;

	while (i < n) {
		if ((step = xtext_element(p, n, i, &octet)) == 0 ||
		    buf_append_byte(out, octet) == -1) {
			buf_truncate(out, mark);
			return -1;
		}
		i += step;
	}
	return 0;
}

int
smtp_xtext_encode(const uint8_t *p, size_t n, struct buf *out)
{
	static const char	hex[] = "0123456789ABCDEF";
	size_t			i;
	uint8_t			e[3];

	for (i = 0; i < n; i++) {
		if (is_xchar(p[i])) {
			if (buf_append_byte(out, p[i]) == -1)
				return -1;
			continue;
		}
		e[0] = '+';
		e[1] = (uint8_t)hex[p[i] >> 4];
		e[2] = (uint8_t)hex[p[i] & 0x0f];
		if (buf_append(out, e, 3) == -1)
			return -1;
	}
	return 0;
}

/* size-value = 1*20DIGIT, as a uint64_t. */
static enum smtp_cmd_err
parse_size_value(const uint8_t *p, size_t n, uint64_t *out)
{
	uint64_t	v = 0;
	size_t		i;

	if (n == 0 || n > SIZE_DIGITS_MAX)
		return SMTP_CMD_ERR_SIZE;
	for (i = 0; i < n; i++)
		if (!is_digit(p[i]))
			return SMTP_CMD_ERR_SIZE;
	for (i = 0; i < n; i++) {
		if (v > (UINT64_MAX - (uint64_t)(p[i] - '0')) / 10)
			return SMTP_CMD_ERR_SIZE_BIG;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	*out = v;
	return SMTP_CMD_OK;
}

/* NOTIFY = "NEVER" / 1#( "SUCCESS" / "FAILURE" / "DELAY" ) */
static int
parse_notify(const uint8_t *p, size_t n, unsigned int *out)
{
	static const struct {
		const char	*name;
		unsigned int	 bit;
	} words[] = {
		{ "NEVER", SMTP_NOTIFY_NEVER },
		{ "SUCCESS", SMTP_NOTIFY_SUCCESS },
		{ "FAILURE", SMTP_NOTIFY_FAILURE },
		{ "DELAY", SMTP_NOTIFY_DELAY },
	};
	const uint8_t	*end = p + n, *comma;
	unsigned int	 bits = 0, bit;
	size_t		 i, len;

	for (;;) {
		comma = memchr(p, ',', (size_t)(end - p));
		len = (size_t)((comma != NULL ? comma : end) - p);
		bit = 0;
		for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (eq_ci(p, len, words[i].name))
				bit = words[i].bit;
		if (bit == 0 || (bits & bit) != 0)
			return -1;
		bits |= bit;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	if ((bits & SMTP_NOTIFY_NEVER) != 0 && bits != SMTP_NOTIFY_NEVER)
		return -1;
	*out = bits;
	return 0;
}

/* Decoded ENVID, AUTH= and ORCPT values: printable US-ASCII (RFC 3461
 * 4.2 and 4.4; RFC 6533 keeps UTF-8 addresses printable with \x{}). */
static int
all_print(const uint8_t *p, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (!is_print(p[i]))
			return 0;
	return 1;
}

/* ORCPT = addr-type ";" xtext;  addr-type = atom (RFC 3461 4.2). */
static int
parse_orcpt(struct smtp_cmd *cmd, const uint8_t *p, size_t n)
{
	const uint8_t	*semi = memchr(p, ';', n);
	size_t		 tlen, i;

	if (semi == NULL)
		return -1;
	tlen = (size_t)(semi - p);
	if (tlen == 0 || tlen > ORCPT_TYPE_MAX)
		return -1;
	for (i = 0; i < tlen; i++) {
		if (!is_atext(p[i]))
			return -1;
		cmd->orcpt_type[i] = (char)p[i];
	}
	cmd->orcpt_type[tlen] = '\0';
	if (xtext_decode(semi + 1, n - tlen - 1, cmd->orcpt, SMTP_ORCPT_MAX,
	    &cmd->orcptlen) == -1 || cmd->orcptlen == 0 ||
	    !all_print(cmd->orcpt, cmd->orcptlen))
		return -1;
	cmd->has_orcpt = 1;
	return 0;
}

/* The keywords we know, which verb takes them, and their extension. */
enum param_kw {
	KW_SIZE, KW_BODY, KW_SMTPUTF8, KW_RET, KW_ENVID, KW_AUTH,
	KW_NOTIFY, KW_ORCPT
};

static const struct param_info {
	const char	*name;
	enum param_kw	 kw;
	enum smtp_verb	 verb;
	unsigned int	 ext;
} params[] = {
	{ "SIZE", KW_SIZE, SMTP_VERB_MAIL, SMTP_EXT_SIZE },
	{ "BODY", KW_BODY, SMTP_VERB_MAIL, SMTP_EXT_8BITMIME },
	{ "SMTPUTF8", KW_SMTPUTF8, SMTP_VERB_MAIL, SMTP_EXT_SMTPUTF8 },
	{ "RET", KW_RET, SMTP_VERB_MAIL, SMTP_EXT_DSN },
	{ "ENVID", KW_ENVID, SMTP_VERB_MAIL, SMTP_EXT_DSN },
	{ "AUTH", KW_AUTH, SMTP_VERB_MAIL, SMTP_EXT_AUTH },
	{ "NOTIFY", KW_NOTIFY, SMTP_VERB_RCPT, SMTP_EXT_DSN },
	{ "ORCPT", KW_ORCPT, SMTP_VERB_RCPT, SMTP_EXT_DSN },
};

/* Apply one known parameter's value (val NULL: no "=value"). */
static enum smtp_cmd_err
apply_param(struct smtp_cmd *cmd, enum param_kw kw, const uint8_t *val,
    size_t vlen, unsigned int ext)
{
	switch (kw) {
	case KW_SIZE:
		if (val == NULL)
			return SMTP_CMD_ERR_SIZE;
		cmd->has_size = 1;
		return parse_size_value(val, vlen, &cmd->size);
	case KW_BODY:
		if (val != NULL && eq_ci(val, vlen, "7BIT"))
			cmd->body = SMTP_BODY_7BIT;
		else if (val != NULL && eq_ci(val, vlen, "8BITMIME"))
			cmd->body = SMTP_BODY_8BITMIME;
		else if (val != NULL && eq_ci(val, vlen, "BINARYMIME") &&
		    (ext & SMTP_EXT_BINARYMIME) != 0)
			cmd->body = SMTP_BODY_BINARYMIME;
		else
			return SMTP_CMD_ERR_PARAM;
		return SMTP_CMD_OK;
	case KW_SMTPUTF8:
		if (val != NULL)
			return SMTP_CMD_ERR_PARAM_VALUE;
		cmd->smtputf8 = 1;
		return SMTP_CMD_OK;
	case KW_RET:
		if (val != NULL && eq_ci(val, vlen, "FULL"))
			cmd->ret = SMTP_RET_FULL;
		else if (val != NULL && eq_ci(val, vlen, "HDRS"))
			cmd->ret = SMTP_RET_HDRS;
		else
			return SMTP_CMD_ERR_PARAM_VALUE;
		return SMTP_CMD_OK;
	case KW_ENVID:
		if (val == NULL || xtext_decode(val, vlen, cmd->envid,
		    SMTP_ENVID_MAX, &cmd->envidlen) == -1 ||
		    cmd->envidlen == 0 || !all_print(cmd->envid, cmd->envidlen))
			return SMTP_CMD_ERR_PARAM_VALUE;
		cmd->has_envid = 1;
		return SMTP_CMD_OK;
	case KW_AUTH:
		if (val == NULL || xtext_decode(val, vlen, cmd->authp,
		    SMTP_AUTH_PARAM_MAX, &cmd->authplen) == -1 ||
		    cmd->authplen == 0 || !all_print(cmd->authp, cmd->authplen))
			return SMTP_CMD_ERR_PARAM_VALUE;
		cmd->has_authp = 1;
		return SMTP_CMD_OK;
	case KW_NOTIFY:
		if (val == NULL || parse_notify(val, vlen, &cmd->notify) == -1)
			return SMTP_CMD_ERR_PARAM_VALUE;
		return SMTP_CMD_OK;
	case KW_ORCPT:
		if (val == NULL || parse_orcpt(cmd, val, vlen) == -1)
			return SMTP_CMD_ERR_PARAM_VALUE;
		return SMTP_CMD_OK;
	}
	return SMTP_CMD_ERR_PARAM;
}

/*
 * esmtp-param   = esmtp-keyword ["=" esmtp-value]
 * esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
 * esmtp-value   = 1*(%d33-60 / %d62-126)
 * seen: one bit per param_kw, for duplicates.  The reply quotes the
 * whole parameter when it is unsupported, else its keyword.
 */
static enum smtp_cmd_err
parse_esmtp_param(struct cur *c, struct smtp_cmd *cmd, unsigned int ext,
    unsigned int *seen)
{
	const uint8_t		*kw = c->p, *val = NULL, *p = c->p;
	const struct param_info	*pi = NULL;
	enum smtp_cmd_err	 err;
	size_t			 klen, vlen = 0, i;

	while (p < c->end && *p != ' ')
		p++;
	set_detail(cmd, kw, (size_t)(p - kw));
	for (klen = 0; kw + klen < p && kw[klen] != '='; klen++)
		if (!is_let_dig(kw[klen]) && (klen == 0 || kw[klen] != '-'))
			return SMTP_CMD_ERR_PARAM;
	if (klen == 0)
		return SMTP_CMD_ERR_PARAM;
	if (kw + klen < p) {
		val = kw + klen + 1;
		vlen = (size_t)(p - val);
	}
	for (i = 0; i < sizeof(params) / sizeof(params[0]); i++)
		if (eq_ci(kw, klen, params[i].name) &&
		    params[i].verb == cmd->verb && (params[i].ext & ext) != 0)
			pi = &params[i];
	if (pi == NULL)
		return SMTP_CMD_ERR_PARAM;
	c->p = p;
	for (i = 0; i < vlen && is_esmtp_value(val[i]); i++)
		;
	if ((*seen & (1u << pi->kw)) != 0)
		err = SMTP_CMD_ERR_PARAM_DUP;
	else if (val != NULL && (vlen == 0 || i < vlen))
		err = pi->kw == KW_SIZE ? SMTP_CMD_ERR_SIZE :
		    pi->kw == KW_BODY ? SMTP_CMD_ERR_PARAM :
		    SMTP_CMD_ERR_PARAM_VALUE;
	else
		err = apply_param(cmd, pi->kw, val, vlen, ext);
	*seen |= 1u << pi->kw;
	if (err == SMTP_CMD_ERR_PARAM_DUP || err == SMTP_CMD_ERR_PARAM_VALUE)
		set_detail(cmd, (const uint8_t *)pi->name, strlen(pi->name));
	return err;
}

/* Mail-parameters / Rcpt-parameters: params separated by spaces. */
static enum smtp_cmd_err
parse_params(struct cur *c, struct smtp_cmd *cmd, unsigned int ext)
{
	enum smtp_cmd_err	err;
	unsigned int		seen = 0;

	while (!at_end(c)) {
		if (peek(c) != ' ')
			return SMTP_CMD_ERR_SYNTAX;
		while (peek(c) == ' ')
			c->p++;
		err = parse_esmtp_param(c, cmd, ext, &seen);
		if (err != SMTP_CMD_OK)
			return err;
	}
	return SMTP_CMD_OK;
}

/*
 * "MAIL FROM:" Reverse-path [SP Mail-parameters]
 * "RCPT TO:" ( "<Postmaster@" Domain ">" / "<Postmaster>" /
 *     Forward-path ) [SP Rcpt-parameters]
 */
static enum smtp_cmd_err
parse_mail_rcpt(struct cur *c, struct smtp_cmd *cmd, unsigned int ext,
    unsigned int flags)
{
	int			mail = cmd->verb == SMTP_VERB_MAIL;
	enum smtp_cmd_err	err, bad = mail ? SMTP_CMD_ERR_SENDER :
				    SMTP_CMD_ERR_RCPT;

	if (match_ci(c, mail ? " FROM:" : " TO:") == -1)
		return SMTP_CMD_ERR_SYNTAX;
	while (peek(c) == ' ')
		c->p++;
	if (at_end(c))
		return SMTP_CMD_ERR_SYNTAX;
	if ((mail || parse_postmaster(c, cmd) == -1) &&
	    parse_path(c, cmd, mail) == -1)
		return bad;
	if (!at_end(c) && peek(c) != ' ')
		return bad;
	if ((err = parse_params(c, cmd, ext)) != SMTP_CMD_OK)
		return err;
	if (cmd->addr_utf8) {
		if (mail ? !cmd->smtputf8 : (flags & SMTP_CMD_TXN_UTF8) == 0)
			return SMTP_CMD_ERR_UTF8;
	}
	return SMTP_CMD_OK;
}

/* "EHLO" / "HELO" SP ( Domain / address-literal ), at most 255 octets. */
static enum smtp_cmd_err
parse_helo(struct cur *c, struct smtp_cmd *cmd)
{
	const uint8_t	*start;
	int		 u = 0;

	if (peek(c) != ' ')
		return SMTP_CMD_ERR_SYNTAX;
	c->p++;
	start = c->p;
	if (peek(c) == '[') {
		if (parse_address_literal(c) == -1)
			return SMTP_CMD_ERR_SYNTAX;
	} else if (parse_domain(c, 0, &u) == -1)
		return SMTP_CMD_ERR_SYNTAX;
	if (!at_end(c) || (size_t)(c->p - start) > SMTP_DOMAIN_MAX)
		return SMTP_CMD_ERR_SYNTAX;
	memcpy(cmd->arg, start, (size_t)(c->p - start));
	cmd->arglen = (size_t)(c->p - start);
	return SMTP_CMD_OK;
}

/* "AUTH" SP sasl-mech [SP initial-response] (RFC 4954 4). */
static enum smtp_cmd_err
parse_auth(struct cur *c, struct smtp_cmd *cmd)
{
	const uint8_t	*start;
	size_t		 n;

	if (peek(c) != ' ')
		return SMTP_CMD_ERR_SYNTAX;
	c->p++;
	start = c->p;
	while (c->p < c->end && is_sasl_mech(to_upper(*c->p)))
		cmd->arg[cmd->arglen++] = (uint8_t)to_upper(*c->p++);
	if (c->p == start || c->p - start > MECH_MAX)
		return SMTP_CMD_ERR_SYNTAX;
	if (at_end(c))
		return SMTP_CMD_OK;
	if (peek(c) != ' ')
		return SMTP_CMD_ERR_SYNTAX;
	c->p++;
	start = c->p;
	while (c->p < c->end && is_print(*c->p) && *c->p != ' ')
		c->p++;
	n = (size_t)(c->p - start);
	if (n == 0 || !at_end(c))
		return SMTP_CMD_ERR_SYNTAX;
	cmd->has_resp = 1;
	cmd->resp_off = cmd->arglen;
	cmd->resp_len = n;
	memcpy(cmd->arg + cmd->resp_off, start, n);
	return SMTP_CMD_OK;
}

/* "BDAT" SP chunk-size [ SP end-marker ] (RFC 3030 2). */
static enum smtp_cmd_err
parse_bdat(struct cur *c, struct smtp_cmd *cmd)
{
	const uint8_t	*start;

	if (peek(c) != ' ')
		return SMTP_CMD_ERR_SYNTAX;
	c->p++;
	start = c->p;
	while (c->p < c->end && is_digit(*c->p))
		c->p++;
	if (c->p == start || parse_size_value(start, (size_t)(c->p - start),
	    &cmd->bdat_size) != SMTP_CMD_OK)
		return SMTP_CMD_ERR_SYNTAX;
	if (at_end(c))
		return SMTP_CMD_OK;
	if (match_ci(c, " LAST") == -1 || !at_end(c))
		return SMTP_CMD_ERR_SYNTAX;
	cmd->bdat_last = 1;
	return SMTP_CMD_OK;
}

/*
 * Verbs we refuse or ignore whatever they say (PR-10): the text after the
 * first SP is kept as it is, for the log.
 */
static void
keep_text_arg(struct cur *c, struct smtp_cmd *cmd)
{
	if (at_end(c))
		return;
	c->p++;
	cmd->arglen = (size_t)(c->end - c->p);
	memcpy(cmd->arg, c->p, cmd->arglen);
}

static void
clear(struct smtp_cmd *cmd)
{
	cmd->verb = SMTP_VERB_UNKNOWN;
	cmd->detail[0] = '\0';
	cmd->arglen = 0;
	cmd->has_resp = 0;
	cmd->resp_off = cmd->resp_len = 0;
	cmd->addrlen = cmd->locallen = 0;
	cmd->addr_utf8 = cmd->had_route = 0;
	cmd->has_size = 0;
	cmd->size = 0;
	cmd->body = SMTP_BODY_NONE;
	cmd->smtputf8 = 0;
	cmd->ret = SMTP_RET_NONE;
	cmd->has_envid = 0;
	cmd->envidlen = 0;
	cmd->has_authp = 0;
	cmd->authplen = 0;
	cmd->notify = 0;
	cmd->has_orcpt = 0;
	cmd->orcpt_type[0] = '\0';
	cmd->orcptlen = 0;
	cmd->bdat_size = 0;
	cmd->bdat_last = 0;
}

struct smtp_cmd *
smtp_cmd_new(void)
{
	struct smtp_cmd	*cmd;

	if ((cmd = malloc(sizeof(*cmd))) == NULL)
		return NULL;
	clear(cmd);
	return cmd;
}

void
smtp_cmd_free(struct smtp_cmd *cmd)
{
	free(cmd);
}

void
smtp_cmd_copy(struct smtp_cmd *dst, const struct smtp_cmd *src)
{
	memcpy(dst, src, sizeof(*dst));
}

enum smtp_cmd_err
smtp_cmd_parse(struct smtp_cmd *cmd, const uint8_t *line, size_t len,
    unsigned int ext, unsigned int flags)
{
	struct cur	 c;
	const uint8_t	*vend;
	size_t		 i, vlen;

	clear(cmd);
	while (len > 0 && line[len - 1] == ' ')
		len--;
	c.p = line;
	c.end = line + len;
	vend = len > 0 ? memchr(line, ' ', len) : NULL;
	vlen = vend != NULL ? (size_t)(vend - line) : len;
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (eq_ci(line, vlen, verbs[i].name))
			cmd->verb = verbs[i].verb;
	if (cmd->verb == SMTP_VERB_UNKNOWN)
		return SMTP_CMD_ERR_UNKNOWN;
	if (len - vlen > SMTP_CMD_ARG_MAX)
		return SMTP_CMD_ERR_TOO_LONG;
	c.p += vlen;
	switch (cmd->verb) {
	case SMTP_VERB_EHLO:
	case SMTP_VERB_HELO:
		return parse_helo(&c, cmd);
	case SMTP_VERB_MAIL:
	case SMTP_VERB_RCPT:
		return parse_mail_rcpt(&c, cmd, ext, flags);
	case SMTP_VERB_AUTH:
		return parse_auth(&c, cmd);
	case SMTP_VERB_BDAT:
		return parse_bdat(&c, cmd);
	case SMTP_VERB_DATA:
	case SMTP_VERB_RSET:
	case SMTP_VERB_QUIT:
	case SMTP_VERB_STARTTLS:
		return at_end(&c) ? SMTP_CMD_OK : SMTP_CMD_ERR_SYNTAX;
	case SMTP_VERB_VRFY:
	case SMTP_VERB_EXPN:
	case SMTP_VERB_HELP:
	case SMTP_VERB_NOOP:
	case SMTP_VERB_ETRN:
	case SMTP_VERB_TURN:
	case SMTP_VERB_XCLIENT:
	case SMTP_VERB_XFORWARD:
		keep_text_arg(&c, cmd);
		return SMTP_CMD_OK;
	case SMTP_VERB_UNKNOWN:
	case SMTP_VERB_COUNT:
		break;
	}
	return SMTP_CMD_ERR_UNKNOWN;
}

static const struct verb_info *
verb_info(enum smtp_verb v)
{
	size_t	i;

	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (verbs[i].verb == v)
			return &verbs[i];
	return NULL;
}

int
smtp_cmd_reply(const struct smtp_cmd *cmd, enum smtp_cmd_err err,
    struct buf *out)
{
	const struct verb_info	*vi = verb_info(cmd->verb);

	switch (err) {
	case SMTP_CMD_OK:
		return buf_append_str(out, "250 2.0.0 Ok\r\n");
	case SMTP_CMD_ERR_UNKNOWN:
		return buf_append_str(out,
		    "500 5.5.2 Error: command not recognized\r\n");
	case SMTP_CMD_ERR_TOO_LONG:
		return buf_append_str(out,
		    "500 5.5.2 Error: command line too long\r\n");
	case SMTP_CMD_ERR_SYNTAX:
		return buf_printf(out, "501 5.5.4 Syntax: %s\r\n",
		    vi != NULL ? vi->usage : "command");
	case SMTP_CMD_ERR_SENDER:
		return buf_append_str(out,
		    "501 5.1.7 Bad sender address syntax\r\n");
	case SMTP_CMD_ERR_RCPT:
		return buf_append_str(out,
		    "501 5.1.3 Bad recipient address syntax\r\n");
	case SMTP_CMD_ERR_UTF8:
		return buf_append_str(out, "553 5.6.7 Must declare SMTPUTF8 "
		    "to send unicode address\r\n");
	case SMTP_CMD_ERR_PARAM:
		return buf_printf(out, "555 5.5.4 Unsupported option: %s\r\n",
		    cmd->detail);
	case SMTP_CMD_ERR_PARAM_DUP:
		return buf_printf(out, "501 5.5.4 Duplicate %s parameter\r\n",
		    cmd->detail);
	case SMTP_CMD_ERR_PARAM_VALUE:
		return buf_printf(out, "501 5.5.4 Bad %s parameter syntax\r\n",
		    cmd->detail);
	case SMTP_CMD_ERR_SIZE:
		return buf_append_str(out,
		    "501 5.5.4 Bad message size syntax\r\n");
	case SMTP_CMD_ERR_SIZE_BIG:
		return buf_append_str(out,
		    "552 5.3.4 Message size exceeds fixed limit\r\n");
	}
	return -1;
}

const char *
smtp_cmd_strerror(enum smtp_cmd_err err)
{
	switch (err) {
	case SMTP_CMD_OK:
		return "ok";
	case SMTP_CMD_ERR_UNKNOWN:
		return "unknown_command";
	case SMTP_CMD_ERR_TOO_LONG:
		return "line_too_long";
	case SMTP_CMD_ERR_SYNTAX:
		return "syntax";
	case SMTP_CMD_ERR_SENDER:
		return "bad_sender";
	case SMTP_CMD_ERR_RCPT:
		return "bad_recipient";
	case SMTP_CMD_ERR_UTF8:
		return "undeclared_utf8";
	case SMTP_CMD_ERR_PARAM:
		return "unsupported_param";
	case SMTP_CMD_ERR_PARAM_DUP:
		return "duplicate_param";
	case SMTP_CMD_ERR_PARAM_VALUE:
		return "bad_param_value";
	case SMTP_CMD_ERR_SIZE:
		return "bad_size";
	case SMTP_CMD_ERR_SIZE_BIG:
		return "size_too_big";
	}
	return "unknown";
}

const char *
smtp_verb_name(enum smtp_verb v)
{
	const struct verb_info	*vi = verb_info(v);

	return vi != NULL ? vi->name : "unknown";
}

enum smtp_verb
smtp_cmd_verb(const struct smtp_cmd *cmd)
{
	return cmd->verb;
}

const uint8_t *
smtp_cmd_arg(const struct smtp_cmd *cmd, size_t *len)
{
	*len = cmd->arglen;
	return cmd->arg;
}

const uint8_t *
smtp_cmd_auth_response(const struct smtp_cmd *cmd, size_t *len)
{
	if (!cmd->has_resp) {
		*len = 0;
		return NULL;
	}
	*len = cmd->resp_len;
	return cmd->arg + cmd->resp_off;
}

const uint8_t *
smtp_cmd_addr(const struct smtp_cmd *cmd, size_t *len)
{
	*len = cmd->addrlen;
	return cmd->addr;
}

const uint8_t *
smtp_cmd_addr_local(const struct smtp_cmd *cmd, size_t *len)
{
	*len = cmd->locallen;
	return cmd->addr;
}

const uint8_t *
smtp_cmd_addr_domain(const struct smtp_cmd *cmd, size_t *len)
{
	if (cmd->addrlen <= cmd->locallen) {
		*len = 0;
		return cmd->addr + cmd->addrlen;
	}
	*len = cmd->addrlen - cmd->locallen - 1;
	return cmd->addr + cmd->locallen + 1;
}

int
smtp_cmd_addr_utf8(const struct smtp_cmd *cmd)
{
	return cmd->addr_utf8;
}

int
smtp_cmd_had_route(const struct smtp_cmd *cmd)
{
	return cmd->had_route;
}

int
smtp_cmd_size(const struct smtp_cmd *cmd, uint64_t *size)
{
	if (!cmd->has_size)
		return 0;
	*size = cmd->size;
	return 1;
}

enum smtp_body
smtp_cmd_body(const struct smtp_cmd *cmd)
{
	return cmd->body;
}

void
smtp_cmd_set_body(struct smtp_cmd *cmd, enum smtp_body body)
{
	cmd->body = body;
}

int
smtp_cmd_smtputf8(const struct smtp_cmd *cmd)
{
	return cmd->smtputf8;
}

enum smtp_ret
smtp_cmd_ret(const struct smtp_cmd *cmd)
{
	return cmd->ret;
}

const uint8_t *
smtp_cmd_envid(const struct smtp_cmd *cmd, size_t *len)
{
	*len = cmd->envidlen;
	return cmd->has_envid ? cmd->envid : NULL;
}

const uint8_t *
smtp_cmd_auth_param(const struct smtp_cmd *cmd, size_t *len)
{
	*len = cmd->authplen;
	return cmd->has_authp ? cmd->authp : NULL;
}

unsigned int
smtp_cmd_notify(const struct smtp_cmd *cmd)
{
	return cmd->notify;
}

const uint8_t *
smtp_cmd_orcpt(const struct smtp_cmd *cmd, const char **type, size_t *len)
{
	*len = cmd->orcptlen;
	*type = cmd->orcpt_type;
	return cmd->has_orcpt ? cmd->orcpt : NULL;
}

uint64_t
smtp_cmd_bdat_size(const struct smtp_cmd *cmd)
{
	return cmd->bdat_size;
}

int
smtp_cmd_bdat_last(const struct smtp_cmd *cmd)
{
	return cmd->bdat_last;
}

static int
serialize_notify(unsigned int bits, struct buf *out)
{
	static const struct {
		unsigned int	 bit;
		const char	*name;
	} order[] = {
		{ SMTP_NOTIFY_NEVER, "NEVER" },
		{ SMTP_NOTIFY_SUCCESS, "SUCCESS" },
		{ SMTP_NOTIFY_FAILURE, "FAILURE" },
		{ SMTP_NOTIFY_DELAY, "DELAY" },
	};
	size_t		i;
	const char	*sep = " NOTIFY=";

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if ((bits & order[i].bit) == 0)
			continue;
		if (buf_append_str(out, sep) == -1 ||
		    buf_append_str(out, order[i].name) == -1)
			return -1;
		sep = ",";
	}
	return 0;
}

static int
serialize_mail(const struct smtp_cmd *cmd, unsigned int ext, struct buf *out)
{
	static const char	*bodies[] = { NULL, "7BIT", "8BITMIME",
				    "BINARYMIME" };

	if ((ext & SMTP_EXT_SIZE) != 0 && cmd->has_size &&
	    buf_printf(out, " SIZE=%llu", (unsigned long long)cmd->size) == -1)
		return -1;
	if (cmd->body != SMTP_BODY_NONE && ((ext & SMTP_EXT_8BITMIME) != 0 ||
	    ((ext & SMTP_EXT_BINARYMIME) != 0 &&
	    cmd->body == SMTP_BODY_BINARYMIME)) &&
	    buf_printf(out, " BODY=%s", bodies[cmd->body]) == -1)
		return -1;
	if ((ext & SMTP_EXT_SMTPUTF8) != 0 && cmd->smtputf8 &&
	    buf_append_str(out, " SMTPUTF8") == -1)
		return -1;
	if ((ext & SMTP_EXT_DSN) != 0) {
		if (cmd->ret != SMTP_RET_NONE &&
		    buf_append_str(out, cmd->ret == SMTP_RET_FULL ?
		    " RET=FULL" : " RET=HDRS") == -1)
			return -1;
		if (cmd->has_envid && (buf_append_str(out, " ENVID=") == -1 ||
		    smtp_xtext_encode(cmd->envid, cmd->envidlen, out) == -1))
			return -1;
	}
	if ((ext & SMTP_EXT_AUTH) != 0 && cmd->has_authp &&
	    (buf_append_str(out, " AUTH=") == -1 ||
	    smtp_xtext_encode(cmd->authp, cmd->authplen, out) == -1))
		return -1;
	return 0;
}

static int
serialize_rcpt(const struct smtp_cmd *cmd, unsigned int ext, struct buf *out)
{
	if ((ext & SMTP_EXT_DSN) == 0)
		return 0;
	if (cmd->notify != 0 && serialize_notify(cmd->notify, out) == -1)
		return -1;
	if (cmd->has_orcpt && (buf_printf(out, " ORCPT=%s;",
	    cmd->orcpt_type) == -1 ||
	    smtp_xtext_encode(cmd->orcpt, cmd->orcptlen, out) == -1))
		return -1;
	return 0;
}

int
smtp_cmd_serialize(const struct smtp_cmd *cmd, unsigned int ext,
    struct buf *out)
{
	size_t	mark = buf_len(out);
	int	rc;

	if (cmd->verb != SMTP_VERB_MAIL && cmd->verb != SMTP_VERB_RCPT)
		return -1;
	rc = buf_append_str(out, cmd->verb == SMTP_VERB_MAIL ?
	    "MAIL FROM:<" : "RCPT TO:<");
	if (rc == 0)
		rc = buf_append(out, cmd->addr, cmd->addrlen);
	if (rc == 0)
		rc = buf_append_byte(out, '>');
	if (rc == 0)
		rc = cmd->verb == SMTP_VERB_MAIL ?
		    serialize_mail(cmd, ext, out) :
		    serialize_rcpt(cmd, ext, out);
	if (rc == 0)
		rc = buf_append(out, "\r\n", 2);
	if (rc == -1)
		buf_truncate(out, mark);
	return rc;
}
