/*
 * Unit tests for proxy/smtp_reply: the bounded upstream reply parser
 * (hostile-inputs UP-06: long lines, long replies, mixed codes, junk,
 * bare LF, escapes, enhanced codes), fed whole and split at every
 * position; our reply formatting; the EHLO capability list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/msg/buf.h"
#include "proxy/smtp_reply.h"
#include "tests/unit/t.h"

#define DONE	SMTP_REPLY_DONE
#define BAD	SMTP_REPLY_MALFORMED
#define MORE	SMTP_REPLY_NEED_MORE

struct result {
	enum smtp_reply_status	 st;
	size_t			 used;
	struct buf		*rebuilt;
	char			 err[32];
};

/* Feed in as pieces cut at cut (0 or len: whole); used is cumulative. */
static void
parse_split(const uint8_t *in, size_t len, size_t cut, struct result *res)
{
	struct smtp_reply	*r = smtp_reply_new();
	size_t			 used;

	res->rebuilt = buf_new(0);
	res->used = 0;
	res->st = smtp_reply_feed(r, in, cut, &used);
	res->used = used;
	if (res->st == MORE) {
		res->st = smtp_reply_feed(r, in + cut, len - cut, &used);
		res->used += used;
	}
	if (res->st == DONE)
		smtp_reply_rebuild(r, NULL, res->rebuilt);
	snprintf(res->err, sizeof(res->err), "%s", smtp_reply_error(r));
	smtp_reply_free(r);
}

/* Feed one octet at a time. */
static void
parse_bytes(const uint8_t *in, size_t len, struct result *res)
{
	struct smtp_reply	*r = smtp_reply_new();
	size_t			 used, i;

	res->rebuilt = buf_new(0);
	res->used = 0;
	res->st = MORE;
	for (i = 0; i < len && res->st == MORE; i++) {
		res->st = smtp_reply_feed(r, in + i, 1, &used);
		res->used += used;
	}
	if (res->st == DONE)
		smtp_reply_rebuild(r, NULL, res->rebuilt);
	snprintf(res->err, sizeof(res->err), "%s", smtp_reply_error(r));
	smtp_reply_free(r);
}

/* Equal byte strings; an empty buf has no data pointer for memcmp(). */
static int
eq_bytes(const void *a, size_t an, const void *b, size_t bn)
{
	return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

static int
same(const struct result *a, const struct result *b)
{
	return a->st == b->st && strcmp(a->err, b->err) == 0 &&
	    (a->st == BAD || a->used == b->used) &&
	    eq_bytes(buf_data(a->rebuilt), buf_len(a->rebuilt),
	    buf_data(b->rebuilt), buf_len(b->rebuilt));
}

/* Each line: ^[2-5][0-9][0-9][ -][ -~]*\r\n$, at most 512 octets. */
static int
well_formed(const uint8_t *p, size_t n)
{
	size_t	start = 0, i;

	while (start < n) {
		for (i = start; i + 1 < n && !(p[i] == '\r' &&
		    p[i + 1] == '\n'); i++)
			;
		if (i + 1 >= n || i + 2 - start > 512 || i - start < 4)
			return 0;
		if (p[start] < '2' || p[start] > '5' ||
		    p[start + 1] < '0' || p[start + 1] > '9' ||
		    p[start + 2] < '0' || p[start + 2] > '9' ||
		    (p[start + 3] != ' ' && p[start + 3] != '-'))
			return 0;
		for (i = start + 4; p[i] != '\r'; i++)
			if (p[i] < 32 || p[i] > 126)
				return 0;
		start = i + 2;
	}
	return 1;
}

struct reply_case {
	const char		*name;
	const char		*in;
	size_t			 len;
	enum smtp_reply_status	 st;
	const char		*rebuilt;	/* DONE */
	const char		*err;		/* BAD */
};

#define S(x)	x, sizeof(x) - 1

static void
test_table(void)
{
	static const struct reply_case cases[] = {
		{ "simple", S("250 OK\r\n"), DONE, "250 OK\r\n" },
		{ "enhanced code", S("250 2.1.0 Ok\r\n"), DONE,
		    "250 2.1.0 Ok\r\n" },
		{ "rejection", S("550 5.1.1 <x@y>: Recipient address "
		    "rejected\r\n"), DONE, "550 5.1.1 <x@y>: Recipient "
		    "address rejected\r\n" },
		{ "multi-line", S("250-mail.example\r\n250-PIPELINING\r\n"
		    "250 8BITMIME\r\n"), DONE, "250-mail.example\r\n"
		    "250-PIPELINING\r\n250 8BITMIME\r\n" },
		{ "enhanced code on every line", S("450-4.7.1 first\r\n"
		    "450 4.7.1 second\r\n"), DONE, "450-4.7.1 first\r\n"
		    "450 4.7.1 second\r\n" },
		{ "enhanced code on the first line only",
		    S("450-4.7.1 first\r\n450 second\r\n"), DONE,
		    "450-4.7.1 first\r\n450 4.7.1 second\r\n" },
		{ "code only", S("250\r\n"), DONE, "250 \r\n" },
		{ "empty texts", S("250-\r\n250 \r\n"), DONE,
		    "250-\r\n250 \r\n" },
		{ "enhanced code, no text", S("250 2.0.0\r\n"), DONE,
		    "250 2.0.0 \r\n" },
		{ "354", S("354 End data with <CR><LF>.<CR><LF>\r\n"), DONE,
		    "354 End data with <CR><LF>.<CR><LF>\r\n" },
		{ "enhanced code of another class is text",
		    S("250 5.1.1 odd\r\n"), DONE, "250 5.1.1 odd\r\n" },
		{ "not an enhanced code", S("250 2.0000.0 x\r\n"), DONE,
		    "250 2.0000.0 x\r\n" },
		{ "ANSI escapes censored", S("250 \x1b[31mred\x1b[0m\r\n"),
		    DONE, "250 ?[31mred?[0m\r\n" },
		{ "NUL and 8-bit censored", S("250 a\0b\xc3\xa9\r\n"), DONE,
		    "250 a?b??\r\n" },
		{ "tab censored", S("250 a\tb\r\n"), DONE, "250 a?b\r\n" },
		{ "pipelined replies: the first one only",
		    S("250 a\r\n251 b\r\n"), DONE, "250 a\r\n" },
		{ "250- then 550", S("250-first\r\n550 second\r\n"), BAD,
		    NULL, "code_mismatch" },
		{ "non-digits", S("2x0 OK\r\n"), BAD, NULL, "bad_code" },
		{ "letters", S("hello\r\n"), BAD, NULL, "bad_code" },
		{ "1-char line", S("2\r\n"), BAD, NULL, "bad_code" },
		{ "empty line", S("\r\n"), BAD, NULL, "bad_code" },
		{ "code 600", S("600 x\r\n"), BAD, NULL, "bad_code" },
		{ "code 190", S("190 x\r\n"), BAD, NULL, "bad_code" },
		{ "second digit 6", S("260 x\r\n"), BAD, NULL, "bad_code" },
		{ "bad separator", S("250x\r\n"), BAD, NULL, "bad_separator" },
		{ "bare LF", S("250 OK\n"), BAD, NULL, "bare_lf" },
		{ "bare LF in a multi-line reply", S("250-a\n250 b\r\n"), BAD,
		    NULL, "bare_lf" },
		{ "bare CR", S("250 O\rK\r\n"), BAD, NULL, "bare_cr" },
		{ "CR CR LF", S("250 OK\r\r\n"), BAD, NULL, "bare_cr" },
		{ "cut off before CRLF", S("250 OK"), MORE },
		{ "cut off after CR", S("250 OK\r"), MORE },
		{ "continuation, then nothing", S("250-a\r\n"), MORE },
	};
	struct result	whole, other;
	size_t		i, cut;
	int		ok;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		parse_split((const uint8_t *)cases[i].in, cases[i].len, 0,
		    &whole);
		T_EQ_INT(whole.st, cases[i].st, cases[i].name);
		if (cases[i].rebuilt != NULL) {
			T_EQ_MEM(buf_data(whole.rebuilt),
			    buf_len(whole.rebuilt), cases[i].rebuilt,
			    strlen(cases[i].rebuilt), "rebuilt reply");
			T_OK(well_formed(buf_data(whole.rebuilt),
			    buf_len(whole.rebuilt)), "rebuilt is well-formed");
		}
		if (cases[i].err != NULL)
			T_EQ_STR(whole.err, cases[i].err, "why malformed");
		ok = 1;
		for (cut = 0; cut <= cases[i].len; cut++) {
			parse_split((const uint8_t *)cases[i].in,
			    cases[i].len, cut, &other);
			ok = ok && same(&whole, &other);
			buf_free(other.rebuilt);
		}
		parse_bytes((const uint8_t *)cases[i].in, cases[i].len,
		    &other);
		ok = ok && same(&whole, &other);
		buf_free(other.rebuilt);
		T_OK(ok, "%s: same for every split and byte by byte",
		    cases[i].name);
		buf_free(whole.rebuilt);
	}
}

/* Generated replies at and over the limits. */
static void
test_limits(void)
{
	struct buf		*in = buf_new(0);
	struct smtp_reply	*r = smtp_reply_new();
	enum smtp_reply_status	 st;
	size_t			 i, used;

	/* A line of exactly 512 octets with its CRLF, then 513. */
	buf_append_str(in, "250 ");
	for (i = 0; i < 506; i++)
		buf_append_byte(in, 'x');
	buf_append_str(in, "\r\n");
	st = smtp_reply_feed(r, buf_data(in), buf_len(in), &used);
	T_OK(st == DONE && used == 512, "512-octet line accepted");
	smtp_reply_reset(r);
	buf_truncate(in, buf_len(in) - 2);
	buf_append_str(in, "x\r\n");
	st = smtp_reply_feed(r, buf_data(in), buf_len(in), &used);
	T_EQ_INT(st, BAD, "513-octet line refused");
	T_EQ_STR(smtp_reply_error(r), "line_too_long", "why: line too long");

	/* UP-06: a 5000-octet line, also dribbled. */
	smtp_reply_reset(r);
	buf_reset(in);
	buf_append_str(in, "250 ");
	for (i = 0; i < 5000; i++)
		buf_append_byte(in, 'y');
	buf_append_str(in, "\r\n");
	st = smtp_reply_feed(r, buf_data(in), buf_len(in), &used);
	T_EQ_INT(st, BAD, "5000-octet line refused");
	smtp_reply_reset(r);
	for (i = 0, st = MORE; i < buf_len(in) && st == MORE; i++)
		st = smtp_reply_feed(r, buf_data(in) + i, 1, &used);
	T_OK(st == BAD && i <= 512, "5000-octet line refused by octet 512");

	/* 64 lines accepted, 65 and 1000 refused. */
	smtp_reply_reset(r);
	buf_reset(in);
	for (i = 0; i < 63; i++)
		buf_printf(in, "250-line %zu\r\n", i);
	buf_append_str(in, "250 last\r\n");
	st = smtp_reply_feed(r, buf_data(in), buf_len(in), &used);
	T_OK(st == DONE && smtp_reply_lines(r) == 64, "64 lines accepted");
	smtp_reply_reset(r);
	buf_reset(in);
	for (i = 0; i < 999; i++)
		buf_printf(in, "250-line %zu\r\n", i);
	buf_append_str(in, "250 last\r\n");
	st = smtp_reply_feed(r, buf_data(in), buf_len(in), &used);
	T_EQ_INT(st, BAD, "1000-line reply refused");
	T_EQ_STR(smtp_reply_error(r), "too_many_lines", "why: too many lines");
	st = smtp_reply_feed(r, (const uint8_t *)"250 x\r\n", 7, &used);
	T_OK(st == BAD && used == 0, "malformed stays malformed until reset");
	smtp_reply_free(r);
	buf_free(in);
}

static void
test_accessors(void)
{
	struct smtp_reply	*r = smtp_reply_new();
	enum smtp_reply_status	 st;
	const uint8_t		*t;
	size_t			 used, len;
	struct buf		*b = buf_new(0);
	static const char	 in[] = "550-5.7.1 first line\r\n"
	    "550 5.7.1 second\r\n354 next\r\n";

	st = smtp_reply_feed(r, (const uint8_t *)in, sizeof(in) - 1, &used);
	T_EQ_INT(st, DONE, "reply complete");
	T_EQ_INT(used, 40, "used ends at the reply's last CRLF");
	T_EQ_INT(smtp_reply_code(r), 550, "code");
	T_EQ_INT(smtp_reply_class(r), 5, "class");
	T_EQ_INT(smtp_reply_lines(r), 2, "lines");
	T_EQ_STR(smtp_reply_enhanced(r), "5.7.1", "enhanced code");
	t = smtp_reply_text(r, 0, &len);
	T_EQ_MEM(t, len, "first line", 10, "text of line 0");
	t = smtp_reply_text(r, 1, &len);
	T_EQ_MEM(t, len, "second", 6, "text of line 1");
	st = smtp_reply_feed(r, (const uint8_t *)in + used, 10, &len);
	T_OK(st == DONE && len == 0, "DONE stays DONE until reset");
	smtp_reply_reset(r);
	st = smtp_reply_feed(r, (const uint8_t *)in + used,
	    sizeof(in) - 1 - used, &len);
	T_OK(st == DONE && smtp_reply_code(r) == 354 &&
	    smtp_reply_enhanced(r) == NULL, "the next reply after reset");

	/* A default enhanced code is added only when its class fits. */
	smtp_reply_reset(r);
	st = smtp_reply_feed(r, (const uint8_t *)"250 OK\r\n", 8, &used);
	smtp_reply_rebuild(r, "2.0.0", b);
	T_EQ_MEM(buf_data(b), buf_len(b), "250 2.0.0 OK\r\n", 14,
	    "default enhanced code added");
	buf_reset(b);
	smtp_reply_rebuild(r, "4.3.0", b);
	T_EQ_MEM(buf_data(b), buf_len(b), "250 OK\r\n", 8,
	    "default enhanced code of another class not added");
	smtp_reply_reset(r);
	st = smtp_reply_feed(r, (const uint8_t *)"250 OK", 6, &used);
	buf_reset(b);
	T_OK(st == MORE && smtp_reply_rebuild(r, NULL, b) == -1 &&
	    buf_len(b) == 0, "an incomplete reply is not rebuilt");
	buf_free(b);
	smtp_reply_free(r);
}

static void
test_format(void)
{
	struct buf		*b = buf_new(0);
	static const char	*lines[] = { "signet.example", "PIPELINING",
				    "8BITMIME" };
	char			 big[700];
	int			 rc;

	smtp_reply_put(b, 250, "2.0.0", "Ok");
	T_EQ_MEM(buf_data(b), buf_len(b), "250 2.0.0 Ok\r\n", 14,
	    "single line with enhanced code");
	buf_reset(b);
	smtp_reply_put(b, 220, NULL, "signet ESMTP");
	T_EQ_MEM(buf_data(b), buf_len(b), "220 signet ESMTP\r\n", 18,
	    "single line without enhanced code");
	buf_reset(b);
	smtp_reply_printf(b, 550, "5.7.1", "Error: %s may not send as %s",
	    "app", "victim.test");
	T_EQ_STR(buf_cstr(b), "550 5.7.1 Error: app may not send as "
	    "victim.test\r\n", "formatted reply");
	buf_reset(b);
	smtp_reply_multi(b, 250, NULL, lines, 3);
	T_EQ_STR(buf_cstr(b), "250-signet.example\r\n250-PIPELINING\r\n"
	    "250 8BITMIME\r\n", "multi-line reply");
	buf_reset(b);
	smtp_reply_printf(b, 501, "5.5.4", "bad %s", "x\r\n250 injected");
	T_EQ_STR(buf_cstr(b), "501 5.5.4 bad x??250 injected\r\n",
	    "CR LF in text cannot inject a line");
	T_OK(well_formed(buf_data(b), buf_len(b)), "it is one line");
	buf_reset(b);
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	smtp_reply_put(b, 250, "2.0.0", big);
	T_OK(buf_len(b) == 512 && well_formed(buf_data(b), buf_len(b)),
	    "long text cut to a 512-octet line");
	buf_reset(b);
	rc = smtp_reply_put(b, 600, NULL, "x");
	T_OK(rc == -1 && buf_len(b) == 0, "code 600 refused");
	rc = smtp_reply_multi(b, 250, NULL, lines, 0);
	T_EQ_INT(rc, -1, "multi-line needs a line");
	buf_free(b);
}

static void
test_ehlo(void)
{
	static const struct {
		const char	*name;
		const char	*in;
		unsigned int	 ext;
		uint64_t	 size;
		unsigned int	 auth, xfwd;
		int		 rc;
	} cases[] = {
		{ "Postfix", "250-mail.example.com\r\n250-PIPELINING\r\n"
		    "250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n"
		    "250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n"
		    "250-AUTH=PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n"
		    "250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n"
		    "250-CHUNKING\r\n250 XFORWARD NAME ADDR PROTO HELO "
		    "SOURCE PORT IDENT\r\n",
		    SMTP_EXT_PIPELINING | SMTP_EXT_SIZE | SMTP_EXT_STARTTLS |
		    SMTP_EXT_AUTH | SMTP_EXT_ENHANCED | SMTP_EXT_8BITMIME |
		    SMTP_EXT_DSN | SMTP_EXT_SMTPUTF8 | SMTP_EXT_CHUNKING |
		    SMTP_EXT_XFORWARD, 10240000,
		    SMTP_AUTH_PLAIN | SMTP_AUTH_LOGIN,
		    SMTP_XFWD_NAME | SMTP_XFWD_ADDR | SMTP_XFWD_PROTO |
		    SMTP_XFWD_HELO | SMTP_XFWD_SOURCE | SMTP_XFWD_PORT |
		    SMTP_XFWD_IDENT, 0 },
		{ "greeting line skipped", "250-PIPELINING\r\n250 8BITMIME\r\n",
		    SMTP_EXT_8BITMIME, 0, 0, 0, 0 },
		{ "one-line EHLO reply", "250 mail.example\r\n", 0, 0, 0, 0,
		    0 },
		{ "lower case, SIZE without number",
		    "250-x\r\n250-size\r\n250 8bitmime\r\n",
		    SMTP_EXT_SIZE | SMTP_EXT_8BITMIME, 0, 0, 0, 0 },
		{ "SIZE junk", "250-x\r\n250 SIZE 12ab\r\n", SMTP_EXT_SIZE, 0,
		    0, 0, 0 },
		{ "unknown mechanism", "250-x\r\n250 AUTH GSSAPI CRAM-MD5\r\n",
		    SMTP_EXT_AUTH, 0, SMTP_AUTH_OTHER | SMTP_AUTH_CRAM_MD5, 0,
		    0 },
		{ "unknown keywords ignored", "250-x\r\n250-X-FOO\r\n"
		    "250 BINARYMIME\r\n", SMTP_EXT_BINARYMIME, 0, 0, 0, 0 },
		{ "refusal", "502 5.5.2 Error: command not recognized\r\n", 0,
		    0, 0, 0, -1 },
	};
	struct smtp_reply	*r = smtp_reply_new();
	struct smtp_caps	 caps;
	size_t			 i, used;
	int			 rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		smtp_reply_reset(r);
		smtp_reply_feed(r, (const uint8_t *)cases[i].in,
		    strlen(cases[i].in), &used);
		rc = smtp_reply_ehlo_caps(r, &caps);
		T_OK(rc == cases[i].rc && caps.ext == cases[i].ext &&
		    caps.size_max == cases[i].size &&
		    caps.auth == cases[i].auth &&
		    caps.xforward == cases[i].xfwd, "EHLO caps: %s (ext %#x)",
		    cases[i].name, caps.ext);
	}
	smtp_reply_free(r);
}

int
main(void)
{
	test_table();
	test_limits();
	test_accessors();
	test_format();
	test_ehlo();
	return t_done();
}
