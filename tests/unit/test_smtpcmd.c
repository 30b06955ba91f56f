/*
 * Unit tests for proxy/smtp_cmd: every verb, the RFC 5321 path grammar
 * and its limits, ESMTP parameters (hostile-inputs PR-01, PR-05, PR-06,
 * PR-10, DK-13) with the exact reply for each error, xtext, and the
 * canonical re-serialisation the relay sends upstream.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/msg/buf.h"
#include "proxy/smtp_cmd.h"
#include "tests/unit/t.h"

/* What we advertise in the tests unless a case says otherwise. */
#define EXT_STD	(SMTP_EXT_SIZE | SMTP_EXT_8BITMIME | SMTP_EXT_SMTPUTF8 | \
		    SMTP_EXT_DSN | SMTP_EXT_AUTH | SMTP_EXT_PIPELINING)

#define R_SENDER	"501 5.1.7 Bad sender address syntax"
#define R_RCPT		"501 5.1.3 Bad recipient address syntax"
#define R_UTF8		"553 5.6.7 Must declare SMTPUTF8 to send unicode " \
			    "address"
#define R_SIZE		"501 5.5.4 Bad message size syntax"
#define R_SIZE_BIG	"552 5.3.4 Message size exceeds fixed limit"
#define R_UNKNOWN	"500 5.5.2 Error: command not recognized"
#define R_EHLO		"501 5.5.4 Syntax: EHLO hostname"

struct cmd_case {
	const char		*line;
	size_t			 len;		/* 0: strlen(line) */
	unsigned int		 ext;		/* 0: EXT_STD */
	unsigned int		 flags;
	enum smtp_verb		 verb;
	enum smtp_cmd_err	 err;
	const char		*reply;		/* for an error */
	const char		*addr;		/* MAIL/RCPT, when OK */
	const char		*ser;		/* MAIL/RCPT, when OK */
};

#define OK	SMTP_CMD_OK
#define V(x)	SMTP_VERB_##x
#define E(x)	SMTP_CMD_ERR_##x

static const struct cmd_case cmd_cases[] = {
	/* EHLO / HELO (PR-01) */
	{ "EHLO mail.example.com", 0, 0, 0, V(EHLO), OK },
	{ "ehlo mail.example.com", 0, 0, 0, V(EHLO), OK },
	{ "EHLO localhost", 0, 0, 0, V(EHLO), OK },
	{ "EHLO 1.example", 0, 0, 0, V(EHLO), OK },
	{ "EHLO [192.0.2.1]", 0, 0, 0, V(EHLO), OK },
	{ "EHLO [IPv6:2001:db8::1]", 0, 0, 0, V(EHLO), OK },
	{ "EHLO [IPv6:::ffff:192.0.2.1]", 0, 0, 0, V(EHLO), OK },
	{ "EHLO [IPv6:zz::1]", 0, 0, 0, V(EHLO), E(SYNTAX), R_EHLO },
	{ "EHLO [IPv6:1:2:3:4:5:6:7:8:9]", 0, 0, 0, V(EHLO), E(SYNTAX),
	    R_EHLO },
	{ "EHLO [256.1.1.1]", 0, 0, 0, V(EHLO), E(SYNTAX), R_EHLO },
	{ "EHLO [1.2.3]", 0, 0, 0, V(EHLO), E(SYNTAX), R_EHLO },
	{ "EHLO [192.0.2.1", 0, 0, 0, V(EHLO), E(SYNTAX), R_EHLO },
	{ "EHLO", 0, 0, 0, V(EHLO), E(SYNTAX), R_EHLO },
	{ "EHLO ", 0, 0, 0, V(EHLO), E(SYNTAX), R_EHLO },
	{ "EHLO a_b.example", 0, 0, 0, V(EHLO), E(SYNTAX), R_EHLO },
	{ "EHLO -a.example", 0, 0, 0, V(EHLO), E(SYNTAX), R_EHLO },
	{ "EHLO a-.example", 0, 0, 0, V(EHLO), E(SYNTAX), R_EHLO },
	{ "EHLO a..example", 0, 0, 0, V(EHLO), E(SYNTAX), R_EHLO },
	{ "EHLO example.", 0, 0, 0, V(EHLO), E(SYNTAX), R_EHLO },
	{ "EHLO a b", 0, 0, 0, V(EHLO), E(SYNTAX), R_EHLO },
	{ "EHLO a%n%s\x1b[31m", 0, 0, 0, V(EHLO), E(SYNTAX), R_EHLO },
	{ "EHLO caf\xc3\xa9.example", 0, 0, 0, V(EHLO), E(SYNTAX), R_EHLO },
	{ "HELO x.example", 0, 0, 0, V(HELO), OK },
	{ "HELO", 0, 0, 0, V(HELO), E(SYNTAX),
	    "501 5.5.4 Syntax: HELO hostname" },

	/* MAIL FROM paths (PR-06) */
	{ "MAIL FROM:<a@example.com>", 0, 0, 0, V(MAIL), OK, NULL,
	    "a@example.com", "MAIL FROM:<a@example.com>" },
	{ "mail from:<a@example.com>", 0, 0, 0, V(MAIL), OK, NULL,
	    "a@example.com", "MAIL FROM:<a@example.com>" },
	{ "MAIL FROM: <a@example.com>", 0, 0, 0, V(MAIL), OK, NULL,
	    "a@example.com", "MAIL FROM:<a@example.com>" },
	{ "MAIL FROM:<a@example.com>   ", 0, 0, 0, V(MAIL), OK, NULL,
	    "a@example.com", "MAIL FROM:<a@example.com>" },
	{ "MAIL FROM:<>", 0, 0, 0, V(MAIL), OK, NULL, "", "MAIL FROM:<>" },
	{ "MAIL FROM:a@example.com", 0, 0, 0, V(MAIL), E(SENDER), R_SENDER },
	{ "MAIL FROM:<a@example.com", 0, 0, 0, V(MAIL), E(SENDER),
	    R_SENDER },
	{ "MAIL FROM:<a@example.com>x", 0, 0, 0, V(MAIL), E(SENDER),
	    R_SENDER },
	{ "MAIL FROM:<<a@example.com>>", 0, 0, 0, V(MAIL), E(SENDER),
	    R_SENDER },
	{ "MAIL FROM:<a(comment)@example.com>", 0, 0, 0, V(MAIL),
	    E(SENDER), R_SENDER },
	{ "MAIL FROM:<a@example.com(comment)>", 0, 0, 0, V(MAIL),
	    E(SENDER), R_SENDER },
	{ "MAIL FROM:<@a,@b:u@c.example>", 0, 0, 0, V(MAIL), OK, NULL,
	    "u@c.example", "MAIL FROM:<u@c.example>" },
	{ "MAIL FROM:<@a.example:u@c.example>", 0, 0, 0, V(MAIL), OK, NULL,
	    "u@c.example", "MAIL FROM:<u@c.example>" },
	{ "MAIL FROM:<@a,u@c.example>", 0, 0, 0, V(MAIL), E(SENDER),
	    R_SENDER },
	{ "MAIL FROM:<@a,:u@c.example>", 0, 0, 0, V(MAIL), E(SENDER),
	    R_SENDER },
	{ "MAIL FROM:<@:u@c.example>", 0, 0, 0, V(MAIL), E(SENDER),
	    R_SENDER },
	{ "MAIL FROM:<a%b@example.com>", 0, 0, 0, V(MAIL), OK, NULL,
	    "a%b@example.com", "MAIL FROM:<a%b@example.com>" },
	{ "MAIL FROM:<a!b@example.com>", 0, 0, 0, V(MAIL), OK, NULL,
	    "a!b@example.com", "MAIL FROM:<a!b@example.com>" },
	{ "MAIL FROM:<user@remote@local.example>", 0, 0, 0, V(MAIL),
	    E(SENDER), R_SENDER },
	{ "MAIL FROM:<\"a@b\"@example.com>", 0, 0, 0, V(MAIL), OK, NULL,
	    "\"a@b\"@example.com", "MAIL FROM:<\"a@b\"@example.com>" },
	{ "MAIL FROM:<\"a b\"@example.com>", 0, 0, 0, V(MAIL), OK, NULL,
	    "\"a b\"@example.com", "MAIL FROM:<\"a b\"@example.com>" },
	{ "MAIL FROM:<\"a\\\"b\\\\\"@example.com>", 0, 0, 0, V(MAIL), OK,
	    NULL, "\"a\\\"b\\\\\"@example.com",
	    "MAIL FROM:<\"a\\\"b\\\\\"@example.com>" },
	{ "MAIL FROM:<\"\"@example.com>", 0, 0, 0, V(MAIL), OK, NULL,
	    "\"\"@example.com", "MAIL FROM:<\"\"@example.com>" },
	{ "MAIL FROM:<\"open@example.com>", 0, 0, 0, V(MAIL), E(SENDER),
	    R_SENDER },
	{ "MAIL FROM:<\"a\tb\"@example.com>", 0, 0, 0, V(MAIL), E(SENDER),
	    R_SENDER },
	{ "MAIL FROM:<a..b@example.com>", 0, 0, 0, V(MAIL), E(SENDER),
	    R_SENDER },
	{ "MAIL FROM:<.a@example.com>", 0, 0, 0, V(MAIL), E(SENDER),
	    R_SENDER },
	{ "MAIL FROM:<a.@example.com>", 0, 0, 0, V(MAIL), E(SENDER),
	    R_SENDER },
	{ "MAIL FROM:<a@b..example>", 0, 0, 0, V(MAIL), E(SENDER),
	    R_SENDER },
	{ "MAIL FROM:<a@>", 0, 0, 0, V(MAIL), E(SENDER), R_SENDER },
	{ "MAIL FROM:<@example.com>", 0, 0, 0, V(MAIL), E(SENDER),
	    R_SENDER },
	{ "MAIL FROM:<a>", 0, 0, 0, V(MAIL), E(SENDER), R_SENDER },
	{ "MAIL FROM:<a@[192.0.2.1]>", 0, 0, 0, V(MAIL), OK, NULL,
	    "a@[192.0.2.1]", "MAIL FROM:<a@[192.0.2.1]>" },
	{ "MAIL FROM:<a@[IPv6:::1]>", 0, 0, 0, V(MAIL), OK, NULL,
	    "a@[IPv6:::1]", "MAIL FROM:<a@[IPv6:::1]>" },
	{ "MAIL FROM:<a@[x-tag:stuff]>", 0, 0, 0, V(MAIL), OK, NULL,
	    "a@[x-tag:stuff]", "MAIL FROM:<a@[x-tag:stuff]>" },
	{ "MAIL FROM:<a@[IPv6:nonsense]>", 0, 0, 0, V(MAIL), E(SENDER),
	    R_SENDER },
	{ "MAIL FROM:<a@[1.2.3.4.5]>", 0, 0, 0, V(MAIL), E(SENDER),
	    R_SENDER },
	{ "MAIL FROM", 0, 0, 0, V(MAIL), E(SYNTAX),
	    "501 5.5.4 Syntax: MAIL FROM:<address>" },
	{ "MAIL FROM:", 0, 0, 0, V(MAIL), E(SYNTAX),
	    "501 5.5.4 Syntax: MAIL FROM:<address>" },
	{ "MAIL TO:<a@example.com>", 0, 0, 0, V(MAIL), E(SYNTAX),
	    "501 5.5.4 Syntax: MAIL FROM:<address>" },
	{ "MAIL  FROM:<a@example.com>", 0, 0, 0, V(MAIL), E(SYNTAX),
	    "501 5.5.4 Syntax: MAIL FROM:<address>" },
	{ "MAIL", 0, 0, 0, V(MAIL), E(SYNTAX),
	    "501 5.5.4 Syntax: MAIL FROM:<address>" },

	/* MAIL parameters (PR-06, PR-08) */
	{ "MAIL FROM:<a@b.example> SIZE=1000", 0, 0, 0, V(MAIL), OK, NULL,
	    "a@b.example", "MAIL FROM:<a@b.example> SIZE=1000" },
	{ "MAIL FROM:<a@b.example> size=0", 0, 0, 0, V(MAIL), OK, NULL,
	    "a@b.example", "MAIL FROM:<a@b.example> SIZE=0" },
	{ "MAIL FROM:<a@b.example> SIZE=007", 0, 0, 0, V(MAIL), OK, NULL,
	    "a@b.example", "MAIL FROM:<a@b.example> SIZE=7" },
	{ "MAIL FROM:<a@b.example> SIZE=abc", 0, 0, 0, V(MAIL), E(SIZE),
	    R_SIZE },
	{ "MAIL FROM:<a@b.example> SIZE=12a", 0, 0, 0, V(MAIL), E(SIZE),
	    R_SIZE },
	{ "MAIL FROM:<a@b.example> SIZE=-1", 0, 0, 0, V(MAIL), E(SIZE),
	    R_SIZE },
	{ "MAIL FROM:<a@b.example> SIZE=", 0, 0, 0, V(MAIL), E(SIZE),
	    R_SIZE },
	{ "MAIL FROM:<a@b.example> SIZE", 0, 0, 0, V(MAIL), E(SIZE),
	    R_SIZE },
	{ "MAIL FROM:<a@b.example> SIZE=99999999999999999999", 0, 0, 0,
	    V(MAIL), E(SIZE_BIG), R_SIZE_BIG },
	{ "MAIL FROM:<a@b.example> SIZE=18446744073709551616", 0, 0, 0,
	    V(MAIL), E(SIZE_BIG), R_SIZE_BIG },
	{ "MAIL FROM:<a@b.example> SIZE=18446744073709551615", 0, 0, 0,
	    V(MAIL), OK, NULL, "a@b.example",
	    "MAIL FROM:<a@b.example> SIZE=18446744073709551615" },
	{ "MAIL FROM:<a@b.example> SIZE=123456789012345678901", 0, 0, 0,
	    V(MAIL), E(SIZE), R_SIZE },
	{ "MAIL FROM:<a@b.example> SIZE=1 SIZE=2", 0, 0, 0, V(MAIL),
	    E(PARAM_DUP), "501 5.5.4 Duplicate SIZE parameter" },
	{ "MAIL FROM:<a@b.example> SIZE=1 size=1", 0, 0, 0, V(MAIL),
	    E(PARAM_DUP), "501 5.5.4 Duplicate SIZE parameter" },
	{ "MAIL FROM:<a@b.example> BODY=8BITMIME", 0, 0, 0, V(MAIL), OK,
	    NULL, "a@b.example", "MAIL FROM:<a@b.example> BODY=8BITMIME" },
	{ "MAIL FROM:<a@b.example> body=7bit", 0, 0, 0, V(MAIL), OK, NULL,
	    "a@b.example", "MAIL FROM:<a@b.example> BODY=7BIT" },
	{ "MAIL FROM:<a@b.example> BODY=FOO", 0, 0, 0, V(MAIL), E(PARAM),
	    "555 5.5.4 Unsupported option: BODY=FOO" },
	{ "MAIL FROM:<a@b.example> BODY=", 0, 0, 0, V(MAIL), E(PARAM),
	    "555 5.5.4 Unsupported option: BODY=" },
	{ "MAIL FROM:<a@b.example> BODY=BINARYMIME", 0, 0, 0, V(MAIL),
	    E(PARAM), "555 5.5.4 Unsupported option: BODY=BINARYMIME" },
	{ "MAIL FROM:<a@b.example> BODY=BINARYMIME", 0,
	    EXT_STD | SMTP_EXT_BINARYMIME | SMTP_EXT_CHUNKING, 0, V(MAIL), OK,
	    NULL, "a@b.example", "MAIL FROM:<a@b.example> BODY=BINARYMIME" },
	{ "MAIL FROM:<a@b.example> FOO=bar", 0, 0, 0, V(MAIL), E(PARAM),
	    "555 5.5.4 Unsupported option: FOO=bar" },
	{ "MAIL FROM:<a@b.example> XYZ", 0, 0, 0, V(MAIL), E(PARAM),
	    "555 5.5.4 Unsupported option: XYZ" },
	{ "MAIL FROM:<a@b.example> =x", 0, 0, 0, V(MAIL), E(PARAM),
	    "555 5.5.4 Unsupported option: =x" },
	{ "MAIL FROM:<a@b.example> X\x01Y=1", 0, 0, 0, V(MAIL), E(PARAM),
	    "555 5.5.4 Unsupported option: X?Y=1" },
	{ "MAIL FROM:<a@b.example> (comment)", 0, 0, 0, V(MAIL), E(PARAM),
	    "555 5.5.4 Unsupported option: (comment)" },
	{ "MAIL FROM:<a@b.example> NOTIFY=NEVER", 0, 0, 0, V(MAIL),
	    E(PARAM), "555 5.5.4 Unsupported option: NOTIFY=NEVER" },
	{ "MAIL FROM:<a@b.example> SIZE=10", 0, SMTP_EXT_8BITMIME, 0,
	    V(MAIL), E(PARAM), "555 5.5.4 Unsupported option: SIZE=10" },
	{ "MAIL FROM:<a@b.example> RET=FULL", 0, SMTP_EXT_SIZE, 0, V(MAIL),
	    E(PARAM), "555 5.5.4 Unsupported option: RET=FULL" },
	{ "MAIL FROM:<a@b.example> SMTPUTF8", 0, 0, 0, V(MAIL), OK, NULL,
	    "a@b.example", "MAIL FROM:<a@b.example> SMTPUTF8" },
	{ "MAIL FROM:<a@b.example> SMTPUTF8=yes", 0, 0, 0, V(MAIL),
	    E(PARAM_VALUE), "501 5.5.4 Bad SMTPUTF8 parameter syntax" },
	{ "MAIL FROM:<a@b.example> RET=hdrs", 0, 0, 0, V(MAIL), OK, NULL,
	    "a@b.example", "MAIL FROM:<a@b.example> RET=HDRS" },
	{ "MAIL FROM:<a@b.example> RET=ALL", 0, 0, 0, V(MAIL),
	    E(PARAM_VALUE), "501 5.5.4 Bad RET parameter syntax" },
	{ "MAIL FROM:<a@b.example> ENVID=abc+2Bdef", 0, 0, 0, V(MAIL), OK,
	    NULL, "a@b.example",
	    "MAIL FROM:<a@b.example> ENVID=abc+2Bdef" },
	{ "MAIL FROM:<a@b.example> ENVID=a+2", 0, 0, 0, V(MAIL),
	    E(PARAM_VALUE), "501 5.5.4 Bad ENVID parameter syntax" },
	{ "MAIL FROM:<a@b.example> ENVID=a+2b", 0, 0, 0, V(MAIL),
	    E(PARAM_VALUE), "501 5.5.4 Bad ENVID parameter syntax" },
	{ "MAIL FROM:<a@b.example> ENVID=", 0, 0, 0, V(MAIL),
	    E(PARAM_VALUE), "501 5.5.4 Bad ENVID parameter syntax" },
	{ "MAIL FROM:<a@b.example> ENVID=a+0Ab", 0, 0, 0, V(MAIL),
	    E(PARAM_VALUE), "501 5.5.4 Bad ENVID parameter syntax" },
	{ "MAIL FROM:<a@b.example> AUTH=<>", 0, 0, 0, V(MAIL), OK, NULL,
	    "a@b.example", "MAIL FROM:<a@b.example> AUTH=<>" },
	{ "MAIL FROM:<a@b.example> AUTH=u+40b.example", 0, 0, 0, V(MAIL),
	    OK, NULL, "a@b.example",
	    "MAIL FROM:<a@b.example> AUTH=u@b.example" },
	{ "MAIL FROM:<a@b.example> AUTH=junk+ZZ", 0, 0, 0, V(MAIL),
	    E(PARAM_VALUE), "501 5.5.4 Bad AUTH parameter syntax" },
	{ "MAIL FROM:<a@b.example> AUTH=a+0Db", 0, 0, 0, V(MAIL),
	    E(PARAM_VALUE), "501 5.5.4 Bad AUTH parameter syntax" },
	{ "MAIL FROM:<a@b.example> BODY=8BITMIME SIZE=10 SMTPUTF8 "
	    "RET=HDRS ENVID=x AUTH=<>", 0, 0, 0, V(MAIL), OK, NULL,
	    "a@b.example", "MAIL FROM:<a@b.example> SIZE=10 BODY=8BITMIME "
	    "SMTPUTF8 RET=HDRS ENVID=x AUTH=<>" },
	{ "MAIL FROM:<a@b.example>  SIZE=10   BODY=7BIT", 0, 0, 0, V(MAIL),
	    OK, NULL, "a@b.example",
	    "MAIL FROM:<a@b.example> SIZE=10 BODY=7BIT" },

	/* UTF-8 (DK-13) */
	{ "MAIL FROM:<j\xc3\xb6rg@example.com>", 0, 0, 0, V(MAIL), E(UTF8),
	    R_UTF8 },
	{ "MAIL FROM:<j\xc3\xb6rg@example.com> SMTPUTF8", 0, 0, 0, V(MAIL),
	    OK, NULL, "j\xc3\xb6rg@example.com",
	    "MAIL FROM:<j\xc3\xb6rg@example.com> SMTPUTF8" },
	{ "MAIL FROM:<a@b\xc3\xbc" "cher.example>", 0, 0, 0, V(MAIL),
	    E(UTF8), R_UTF8 },
	{ "MAIL FROM:<a@b\xc3\xbc" "cher.example> SMTPUTF8", 0, 0, 0,
	    V(MAIL), OK, NULL, "a@b\xc3\xbc" "cher.example",
	    "MAIL FROM:<a@b\xc3\xbc" "cher.example> SMTPUTF8" },
	{ "MAIL FROM:<\"j\xc3\xb6rg\"@example.com> SMTPUTF8", 0, 0, 0,
	    V(MAIL), OK, NULL, "\"j\xc3\xb6rg\"@example.com",
	    "MAIL FROM:<\"j\xc3\xb6rg\"@example.com> SMTPUTF8" },
	{ "MAIL FROM:<\xe2\x82\xac\xf0\x9f\x98\x80@example.com> SMTPUTF8",
	    0, 0, 0, V(MAIL), OK, NULL,
	    "\xe2\x82\xac\xf0\x9f\x98\x80@example.com",
	    "MAIL FROM:<\xe2\x82\xac\xf0\x9f\x98\x80@example.com> SMTPUTF8" },
	{ "MAIL FROM:<j\xc3(rg@example.com> SMTPUTF8", 0, 0, 0, V(MAIL),
	    E(SENDER), R_SENDER },
	{ "MAIL FROM:<\xc0\xafx@example.com> SMTPUTF8", 0, 0, 0, V(MAIL),
	    E(SENDER), R_SENDER },
	{ "MAIL FROM:<\xed\xa0\x80x@example.com> SMTPUTF8", 0, 0, 0,
	    V(MAIL), E(SENDER), R_SENDER },
	{ "MAIL FROM:<\xf4\x90\x80\x80x@example.com> SMTPUTF8", 0, 0, 0,
	    V(MAIL), E(SENDER), R_SENDER },
	{ "MAIL FROM:<x\xff@example.com> SMTPUTF8", 0, 0, 0, V(MAIL),
	    E(SENDER), R_SENDER },
	{ "MAIL FROM:<j\xc3\xb6rg@example.com> SMTPUTF8", 0,
	    SMTP_EXT_SIZE | SMTP_EXT_8BITMIME, 0, V(MAIL), E(PARAM),
	    "555 5.5.4 Unsupported option: SMTPUTF8" },
	{ "RCPT TO:<j\xc3\xb6rg@example.com>", 0, 0, 0, V(RCPT), E(UTF8),
	    R_UTF8 },
	{ "RCPT TO:<j\xc3\xb6rg@example.com>", 0, 0, SMTP_CMD_TXN_UTF8,
	    V(RCPT), OK, NULL, "j\xc3\xb6rg@example.com",
	    "RCPT TO:<j\xc3\xb6rg@example.com>" },

	/* RCPT */
	{ "RCPT TO:<b@example.com>", 0, 0, 0, V(RCPT), OK, NULL,
	    "b@example.com", "RCPT TO:<b@example.com>" },
	{ "rcpt to: <b@example.com>", 0, 0, 0, V(RCPT), OK, NULL,
	    "b@example.com", "RCPT TO:<b@example.com>" },
	{ "RCPT TO:<Postmaster>", 0, 0, 0, V(RCPT), OK, NULL, "Postmaster",
	    "RCPT TO:<Postmaster>" },
	{ "RCPT TO:<postmaster>", 0, 0, 0, V(RCPT), OK, NULL, "postmaster",
	    "RCPT TO:<postmaster>" },
	{ "RCPT TO:<Postmaster@example.com>", 0, 0, 0, V(RCPT), OK, NULL,
	    "Postmaster@example.com", "RCPT TO:<Postmaster@example.com>" },
	{ "RCPT TO:<postmaster> NOTIFY=NEVER", 0, 0, 0, V(RCPT), OK, NULL,
	    "postmaster", "RCPT TO:<postmaster> NOTIFY=NEVER" },
	{ "RCPT TO:<>", 0, 0, 0, V(RCPT), E(RCPT), R_RCPT },
	{ "RCPT TO:b@example.com", 0, 0, 0, V(RCPT), E(RCPT), R_RCPT },
	{ "RCPT TO:<b@example.com> <c@example.com>", 0, 0, 0, V(RCPT),
	    E(PARAM), "555 5.5.4 Unsupported option: <c@example.com>" },
	{ "RCPT TO:<@a,@b:u@c.example>", 0, 0, 0, V(RCPT), OK, NULL,
	    "u@c.example", "RCPT TO:<u@c.example>" },
	{ "RCPT TO:<b@example.com> NOTIFY=SUCCESS,FAILURE "
	    "ORCPT=rfc822;b+40example.com", 0, 0, 0, V(RCPT), OK, NULL,
	    "b@example.com", "RCPT TO:<b@example.com> NOTIFY=SUCCESS,FAILURE "
	    "ORCPT=rfc822;b@example.com" },
	{ "RCPT TO:<b@example.com> notify=delay,failure", 0, 0, 0, V(RCPT),
	    OK, NULL, "b@example.com",
	    "RCPT TO:<b@example.com> NOTIFY=FAILURE,DELAY" },
	{ "RCPT TO:<b@example.com> NOTIFY=NEVER,SUCCESS", 0, 0, 0, V(RCPT),
	    E(PARAM_VALUE), "501 5.5.4 Bad NOTIFY parameter syntax" },
	{ "RCPT TO:<b@example.com> NOTIFY=DELAY,DELAY", 0, 0, 0, V(RCPT),
	    E(PARAM_VALUE), "501 5.5.4 Bad NOTIFY parameter syntax" },
	{ "RCPT TO:<b@example.com> NOTIFY=BOGUS", 0, 0, 0, V(RCPT),
	    E(PARAM_VALUE), "501 5.5.4 Bad NOTIFY parameter syntax" },
	{ "RCPT TO:<b@example.com> NOTIFY=SUCCESS,", 0, 0, 0, V(RCPT),
	    E(PARAM_VALUE), "501 5.5.4 Bad NOTIFY parameter syntax" },
	{ "RCPT TO:<b@example.com> NOTIFY=", 0, 0, 0, V(RCPT),
	    E(PARAM_VALUE), "501 5.5.4 Bad NOTIFY parameter syntax" },
	{ "RCPT TO:<b@example.com> ORCPT=rfc822", 0, 0, 0, V(RCPT),
	    E(PARAM_VALUE), "501 5.5.4 Bad ORCPT parameter syntax" },
	{ "RCPT TO:<b@example.com> ORCPT=;b@example.com", 0, 0, 0, V(RCPT),
	    E(PARAM_VALUE), "501 5.5.4 Bad ORCPT parameter syntax" },
	{ "RCPT TO:<b@example.com> ORCPT=rfc822;", 0, 0, 0, V(RCPT),
	    E(PARAM_VALUE), "501 5.5.4 Bad ORCPT parameter syntax" },
	{ "RCPT TO:<b@example.com> ORCPT=rfc822;b+0D+0Ax@example.com", 0, 0,
	    0, V(RCPT), E(PARAM_VALUE), "501 5.5.4 Bad ORCPT parameter syntax" },
	{ "RCPT TO:<b@example.com> NOTIFY=NEVER NOTIFY=NEVER", 0, 0, 0,
	    V(RCPT), E(PARAM_DUP), "501 5.5.4 Duplicate NOTIFY parameter" },
	{ "RCPT TO:<b@example.com> SIZE=10", 0, 0, 0, V(RCPT), E(PARAM),
	    "555 5.5.4 Unsupported option: SIZE=10" },
	{ "RCPT TO:<b@example.com> NOTIFY=NEVER", 0, SMTP_EXT_SIZE, 0,
	    V(RCPT), E(PARAM), "555 5.5.4 Unsupported option: NOTIFY=NEVER" },
	{ "RCPT TO:", 0, 0, 0, V(RCPT), E(SYNTAX),
	    "501 5.5.4 Syntax: RCPT TO:<address>" },
	{ "RCPT FROM:<b@example.com>", 0, 0, 0, V(RCPT), E(SYNTAX),
	    "501 5.5.4 Syntax: RCPT TO:<address>" },

	/* Bytes the line reader refuses first, still handled (SM-04) */
	{ "MAIL FROM:<a@b\0c.example>", 25, 0, 0, V(MAIL), E(SENDER),
	    R_SENDER },
	{ "RCPT TO:<a@ok.test>\0<b@evil.test>", 33, 0, 0, V(RCPT), E(RCPT),
	    R_RCPT },
	{ "RCPT TO:<a@ok.test>\nRCPT TO:<b@evil.test>", 0, 0, 0, V(RCPT),
	    E(RCPT), R_RCPT },
	{ "EHLO a\rb", 0, 0, 0, V(EHLO), E(SYNTAX), R_EHLO },
	{ "DATA\n", 0, 0, 0, V(UNKNOWN), E(UNKNOWN), R_UNKNOWN },
	{ "DATA \n", 0, 0, 0, V(DATA), E(SYNTAX), "501 5.5.4 Syntax: DATA" },

	/* Other verbs */
	{ "DATA", 0, 0, 0, V(DATA), OK },
	{ "data", 0, 0, 0, V(DATA), OK },
	{ "DATA x", 0, 0, 0, V(DATA), E(SYNTAX), "501 5.5.4 Syntax: DATA" },
	{ "RSET", 0, 0, 0, V(RSET), OK },
	{ "RSET now", 0, 0, 0, V(RSET), E(SYNTAX), "501 5.5.4 Syntax: RSET" },
	{ "QUIT", 0, 0, 0, V(QUIT), OK },
	{ "STARTTLS", 0, 0, 0, V(STARTTLS), OK },
	{ "STARTTLS x", 0, 0, 0, V(STARTTLS), E(SYNTAX),
	    "501 5.5.4 Syntax: STARTTLS" },
	{ "NOOP", 0, 0, 0, V(NOOP), OK },
	{ "NOOP anything at all", 0, 0, 0, V(NOOP), OK },
	{ "HELP", 0, 0, 0, V(HELP), OK },
	{ "VRFY root", 0, 0, 0, V(VRFY), OK },
	{ "VRFY", 0, 0, 0, V(VRFY), OK },
	{ "EXPN staff", 0, 0, 0, V(EXPN), OK },
	{ "ETRN example.com", 0, 0, 0, V(ETRN), OK },
	{ "TURN", 0, 0, 0, V(TURN), OK },
	{ "XCLIENT ADDR=192.0.2.1 NAME=spoof", 0, 0, 0, V(XCLIENT), OK },
	{ "XFORWARD ADDR=192.0.2.1", 0, 0, 0, V(XFORWARD), OK },
	{ "AUTH PLAIN", 0, 0, 0, V(AUTH), OK },
	{ "AUTH plain dGVzdAB0ZXN0AHB3", 0, 0, 0, V(AUTH), OK },
	{ "AUTH PLAIN =", 0, 0, 0, V(AUTH), OK },
	{ "AUTH CRAM-MD5", 0, 0, 0, V(AUTH), OK },
	{ "AUTH", 0, 0, 0, V(AUTH), E(SYNTAX),
	    "501 5.5.4 Syntax: AUTH mechanism" },
	{ "AUTH PLAIN a b", 0, 0, 0, V(AUTH), E(SYNTAX),
	    "501 5.5.4 Syntax: AUTH mechanism" },
	{ "AUTH PL@IN", 0, 0, 0, V(AUTH), E(SYNTAX),
	    "501 5.5.4 Syntax: AUTH mechanism" },
	{ "AUTH ABCDEFGHIJKLMNOPQRSTU", 0, 0, 0, V(AUTH), E(SYNTAX),
	    "501 5.5.4 Syntax: AUTH mechanism" },
	{ "BDAT 100", 0, 0, 0, V(BDAT), OK },
	{ "BDAT 0 LAST", 0, 0, 0, V(BDAT), OK },
	{ "bdat 40 last", 0, 0, 0, V(BDAT), OK },
	{ "BDAT", 0, 0, 0, V(BDAT), E(SYNTAX),
	    "501 5.5.4 Syntax: BDAT size [LAST]" },
	{ "BDAT x", 0, 0, 0, V(BDAT), E(SYNTAX),
	    "501 5.5.4 Syntax: BDAT size [LAST]" },
	{ "BDAT 10 MORE", 0, 0, 0, V(BDAT), E(SYNTAX),
	    "501 5.5.4 Syntax: BDAT size [LAST]" },
	{ "BDAT 99999999999999999999", 0, 0, 0, V(BDAT), E(SYNTAX),
	    "501 5.5.4 Syntax: BDAT size [LAST]" },

	/* Unknown commands */
	{ "FOO", 0, 0, 0, V(UNKNOWN), E(UNKNOWN), R_UNKNOWN },
	{ "", 0, 0, 0, V(UNKNOWN), E(UNKNOWN), R_UNKNOWN },
	{ "MAILFROM:<a@b.example>", 0, 0, 0, V(UNKNOWN), E(UNKNOWN),
	    R_UNKNOWN },
	{ "MAIL\tFROM:<a@b.example>", 0, 0, 0, V(UNKNOWN), E(UNKNOWN),
	    R_UNKNOWN },
	{ " MAIL FROM:<a@b.example>", 0, 0, 0, V(UNKNOWN), E(UNKNOWN),
	    R_UNKNOWN },
	{ "GET / HTTP/1.1", 0, 0, 0, V(UNKNOWN), E(UNKNOWN), R_UNKNOWN },
	{ "EHLOX a.example", 0, 0, 0, V(UNKNOWN), E(UNKNOWN), R_UNKNOWN },
};

/* Equal byte strings; an empty buf has no data pointer for memcmp(). */
static int
eq_bytes(const void *a, size_t an, const void *b, size_t bn)
{
	return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

/* The line made printable for a test name. */
static const char *
printable(const char *p, size_t n)
{
	static char	name[72];
	size_t		i;

	for (i = 0; i < n && i < sizeof(name) - 1; i++)
		name[i] = p[i] >= 32 && p[i] < 127 ? p[i] : '?';
	name[i] = '\0';
	return name;
}

static void
check_reply(const struct smtp_cmd *cmd, enum smtp_cmd_err err,
    const char *want, const char *name)
{
	struct buf	*b = buf_new(0), *w = buf_new(0);

	smtp_cmd_reply(cmd, err, b);
	buf_append_str(w, want);
	buf_append_str(w, "\r\n");
	T_EQ_MEM(buf_data(b), buf_len(b), buf_data(w), buf_len(w), name);
	buf_free(b);
	buf_free(w);
}

static void
test_table(void)
{
	struct smtp_cmd		*cmd = smtp_cmd_new(), *again = smtp_cmd_new();
	const struct cmd_case	*c;
	enum smtp_cmd_err	 err;
	struct buf		*ser, *ser2;
	const uint8_t		*a;
	size_t			 i, len, alen;
	char			 name[128];

	for (i = 0; i < sizeof(cmd_cases) / sizeof(cmd_cases[0]); i++) {
		c = &cmd_cases[i];
		len = c->len != 0 ? c->len : strlen(c->line);
		snprintf(name, sizeof(name), "%s", printable(c->line, len));
		err = smtp_cmd_parse(cmd, (const uint8_t *)c->line, len,
		    c->ext != 0 ? c->ext : EXT_STD, c->flags);
		T_OK(err == c->err && smtp_cmd_verb(cmd) == c->verb,
		    "%s: %s, verb %s", name, smtp_cmd_strerror(err),
		    smtp_verb_name(smtp_cmd_verb(cmd)));
		if (c->reply != NULL)
			check_reply(cmd, err, c->reply, c->reply);
		if (c->addr == NULL)
			continue;
		a = smtp_cmd_addr(cmd, &alen);
		T_EQ_MEM(a, alen, c->addr, strlen(c->addr), "address");
		ser = buf_new(0);
		smtp_cmd_serialize(cmd, EXT_STD | SMTP_EXT_BINARYMIME, ser);
		T_OK(buf_len(ser) >= 2 && memcmp(buf_data(ser) + buf_len(ser) -
		    2, "\r\n", 2) == 0, "serialised line ends CRLF");
		T_EQ_MEM(buf_data(ser), buf_len(ser) - 2, c->ser,
		    strlen(c->ser), "canonical form for upstream");
		/* The canonical form parses to the same canonical form. */
		err = smtp_cmd_parse(again, buf_data(ser), buf_len(ser) - 2,
		    EXT_STD | SMTP_EXT_BINARYMIME, c->flags);
		ser2 = buf_new(0);
		smtp_cmd_serialize(again, EXT_STD | SMTP_EXT_BINARYMIME, ser2);
		T_OK(err == SMTP_CMD_OK && eq_bytes(buf_data(ser),
		    buf_len(ser), buf_data(ser2), buf_len(ser2)),
		    "canonical form is stable");
		buf_free(ser);
		buf_free(ser2);
	}
	smtp_cmd_free(cmd);
	smtp_cmd_free(again);
}

/* Path limits (RFC 5321 4.5.3.1): built to the octet. */
static void
test_limits(void)
{
	static const struct {
		const char		*name;
		const char		*verb;
		size_t			 local, domain;	/* octets */
		enum smtp_cmd_err	 err;
	} cases[] = {
		{ "local part 64", "MAIL FROM:", 64, 20, SMTP_CMD_OK },
		{ "local part 65", "MAIL FROM:", 65, 20, SMTP_CMD_ERR_SENDER },
		{ "local part 65 (RCPT)", "RCPT TO:", 65, 20,
		    SMTP_CMD_ERR_RCPT },
		{ "path of 256 octets", "MAIL FROM:", 2, 251, SMTP_CMD_OK },
		{ "path of 257 octets", "MAIL FROM:", 2, 252,
		    SMTP_CMD_ERR_SENDER },
		{ "domain of 256 octets", "RCPT TO:", 1, 256,
		    SMTP_CMD_ERR_RCPT },
	};
	struct smtp_cmd		*cmd = smtp_cmd_new();
	struct buf		*line;
	size_t			 i, j, left, lab;
	enum smtp_cmd_err	 err;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		line = buf_new(0);
		buf_append_str(line, cases[i].verb);
		buf_append_byte(line, '<');
		for (j = 0; j < cases[i].local; j++)
			buf_append_byte(line, 'l');
		buf_append_byte(line, '@');
		/* Labels of up to 63 octets joined by dots. */
		for (left = cases[i].domain; left > 0; left -= lab) {
			lab = left > 63 ? 62 : left;
			for (j = 0; j < lab; j++)
				buf_append_byte(line, 'd');
			if (left > lab) {
				buf_append_byte(line, '.');
				lab++;
			}
		}
		buf_append_byte(line, '>');
		err = smtp_cmd_parse(cmd, buf_data(line), buf_len(line),
		    EXT_STD, 0);
		T_EQ_INT(err, cases[i].err, cases[i].name);
		buf_free(line);
	}

	/* EHLO: 255 octets at most; labels 63. */
	line = buf_new(0);
	buf_append_str(line, "EHLO ");
	for (j = 0; j < 4; j++) {
		buf_append_str(line, j > 0 ? "." : "");
		for (i = 0; i < 63; i++)
			buf_append_byte(line, 'h');
	}
	err = smtp_cmd_parse(cmd, buf_data(line), buf_len(line), EXT_STD, 0);
	T_EQ_INT(err, SMTP_CMD_OK, "EHLO name of 255 octets");
	buf_append_str(line, ".h");
	err = smtp_cmd_parse(cmd, buf_data(line), buf_len(line), EXT_STD, 0);
	T_EQ_INT(err, SMTP_CMD_ERR_SYNTAX, "EHLO name of 257 octets");
	buf_reset(line);
	buf_append_str(line, "EHLO ");
	for (i = 0; i < 64; i++)
		buf_append_byte(line, 'h');
	err = smtp_cmd_parse(cmd, buf_data(line), buf_len(line), EXT_STD, 0);
	T_EQ_INT(err, SMTP_CMD_ERR_SYNTAX, "EHLO label of 64 octets");

	/* PR-01: a 100 KB EHLO argument. */
	buf_reset(line);
	buf_append_str(line, "EHLO ");
	for (i = 0; i < 100 * 1024; i++)
		buf_append_byte(line, 'a');
	err = smtp_cmd_parse(cmd, buf_data(line), buf_len(line), EXT_STD, 0);
	T_EQ_INT(err, SMTP_CMD_ERR_TOO_LONG, "EHLO of 100 KB");
	check_reply(cmd, err, "500 5.5.2 Error: command line too long",
	    "reply to an overlong line");
	/* An unsupported option is quoted, but cut. */
	buf_reset(line);
	buf_append_str(line, "MAIL FROM:<a@b.example> X=");
	for (i = 0; i < 500; i++)
		buf_append_byte(line, 'v');
	err = smtp_cmd_parse(cmd, buf_data(line), buf_len(line), EXT_STD, 0);
	T_EQ_INT(err, SMTP_CMD_ERR_PARAM, "long unknown option");
	buf_reset(line);
	smtp_cmd_reply(cmd, err, line);
	T_OK(buf_len(line) < 120 && memmem(buf_data(line), buf_len(line),
	    "...\r\n", 5) != NULL, "long option cut in the reply");
	buf_free(line);
	smtp_cmd_free(cmd);
}

/* Decoded fields: what the session and relay read. */
static void
test_fields(void)
{
	struct smtp_cmd	*cmd = smtp_cmd_new(), *copy = smtp_cmd_new();
	const uint8_t	*p;
	const char	*type;
	uint64_t	 size = 0;
	size_t		 len;
	static const char mail[] = "MAIL FROM:<@r.example:u@d.example> "
	    "SIZE=4096 BODY=8BITMIME RET=FULL ENVID=QQ+2B+3Dx "
	    "AUTH=u+2Bx+40d.example";
	static const char rcpt[] = "RCPT TO:<b@c.example> "
	    "NOTIFY=FAILURE,DELAY ORCPT=rfc822;b+2Bz+40c.example";
	static const char auth[] = "AUTH login dXNlcg==";

	smtp_cmd_parse(cmd, (const uint8_t *)mail, sizeof(mail) - 1,
	    EXT_STD, 0);
	smtp_cmd_copy(copy, cmd);
	smtp_cmd_parse(cmd, (const uint8_t *)"QUIT", 4, EXT_STD, 0);
	T_OK(smtp_cmd_size(copy, &size) == 1 && size == 4096, "SIZE value");
	T_EQ_INT(smtp_cmd_body(copy), SMTP_BODY_8BITMIME, "BODY value");
	T_EQ_INT(smtp_cmd_ret(copy), SMTP_RET_FULL, "RET value");
	T_EQ_INT(smtp_cmd_smtputf8(copy), 0, "no SMTPUTF8");
	T_EQ_INT(smtp_cmd_had_route(copy), 1, "source route noticed");
	p = smtp_cmd_envid(copy, &len);
	T_EQ_MEM(p, len, "QQ+=x", 5, "ENVID decoded");
	p = smtp_cmd_auth_param(copy, &len);
	T_EQ_MEM(p, len, "u+x@d.example", 13, "AUTH= decoded");
	p = smtp_cmd_addr_local(copy, &len);
	T_EQ_MEM(p, len, "u", 1, "local part");
	p = smtp_cmd_addr_domain(copy, &len);
	T_EQ_MEM(p, len, "d.example", 9, "domain");
	T_EQ_INT(smtp_cmd_verb(cmd), SMTP_VERB_QUIT,
	    "the original is reused, the copy stays");

	smtp_cmd_parse(cmd, (const uint8_t *)rcpt, sizeof(rcpt) - 1,
	    EXT_STD, 0);
	T_EQ_INT(smtp_cmd_notify(cmd), SMTP_NOTIFY_FAILURE |
	    SMTP_NOTIFY_DELAY, "NOTIFY bits");
	p = smtp_cmd_orcpt(cmd, &type, &len);
	T_EQ_MEM(p, len, "b+z@c.example", 13, "ORCPT decoded");
	T_EQ_STR(type, "rfc822", "ORCPT type");
	T_OK(smtp_cmd_envid(cmd, &len) == NULL, "no ENVID on RCPT");
	T_OK(smtp_cmd_size(cmd, &size) == 0, "no SIZE on RCPT");

	smtp_cmd_parse(cmd, (const uint8_t *)"RCPT TO:<Postmaster>", 20,
	    EXT_STD, 0);
	p = smtp_cmd_addr_domain(cmd, &len);
	T_EQ_INT(len, 0, "Postmaster has no domain");

	smtp_cmd_parse(cmd, (const uint8_t *)auth, sizeof(auth) - 1,
	    EXT_STD, 0);
	p = smtp_cmd_arg(cmd, &len);
	T_EQ_MEM(p, len, "LOGIN", 5, "AUTH mechanism upper-cased");
	p = smtp_cmd_auth_response(cmd, &len);
	T_EQ_MEM(p, len, "dXNlcg==", 8, "AUTH initial response");
	smtp_cmd_parse(cmd, (const uint8_t *)"AUTH PLAIN", 10, EXT_STD, 0);
	T_OK(smtp_cmd_auth_response(cmd, &len) == NULL,
	    "AUTH without an initial response");

	smtp_cmd_parse(cmd, (const uint8_t *)"EHLO [192.0.2.7]", 16,
	    EXT_STD, 0);
	p = smtp_cmd_arg(cmd, &len);
	T_EQ_MEM(p, len, "[192.0.2.7]", 11, "EHLO argument");
	smtp_cmd_parse(cmd, (const uint8_t *)"VRFY root", 9, EXT_STD, 0);
	p = smtp_cmd_arg(cmd, &len);
	T_EQ_MEM(p, len, "root", 4, "VRFY argument kept for the log");

	smtp_cmd_parse(cmd, (const uint8_t *)"BDAT 1234 LAST", 14,
	    EXT_STD, 0);
	T_OK(smtp_cmd_bdat_size(cmd) == 1234 && smtp_cmd_bdat_last(cmd),
	    "BDAT size and LAST");
	smtp_cmd_parse(cmd, (const uint8_t *)"BDAT 0", 6, EXT_STD, 0);
	T_OK(smtp_cmd_bdat_size(cmd) == 0 && !smtp_cmd_bdat_last(cmd),
	    "BDAT 0, not LAST");
	smtp_cmd_free(cmd);
	smtp_cmd_free(copy);
}

/* Parameters go upstream only if the upstream offers their extension. */
static void
test_serialize_ext(void)
{
	static const char mail[] = "MAIL FROM:<a@b.example> SIZE=10 "
	    "BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=e AUTH=<>";
	static const char rcpt[] = "RCPT TO:<c@d.example> NOTIFY=NEVER "
	    "ORCPT=rfc822;c+40d.example";
	static const struct {
		const char	*line;
		unsigned int	 ext;
		const char	*want;
	} cases[] = {
		{ mail, 0, "MAIL FROM:<a@b.example>\r\n" },
		{ mail, SMTP_EXT_SIZE, "MAIL FROM:<a@b.example> SIZE=10\r\n" },
		{ mail, SMTP_EXT_8BITMIME | SMTP_EXT_SMTPUTF8,
		    "MAIL FROM:<a@b.example> BODY=8BITMIME SMTPUTF8\r\n" },
		{ mail, SMTP_EXT_DSN,
		    "MAIL FROM:<a@b.example> RET=HDRS ENVID=e\r\n" },
		{ mail, SMTP_EXT_AUTH, "MAIL FROM:<a@b.example> AUTH=<>\r\n" },
		{ rcpt, 0, "RCPT TO:<c@d.example>\r\n" },
		{ rcpt, SMTP_EXT_DSN, "RCPT TO:<c@d.example> NOTIFY=NEVER "
		    "ORCPT=rfc822;c@d.example\r\n" },
	};
	struct smtp_cmd	*cmd = smtp_cmd_new();
	struct buf	*out, *small;
	size_t		 i;
	int		 rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		smtp_cmd_parse(cmd, (const uint8_t *)cases[i].line,
		    strlen(cases[i].line), EXT_STD, 0);
		out = buf_new(0);
		smtp_cmd_serialize(cmd, cases[i].ext, out);
		T_EQ_MEM(buf_data(out), buf_len(out), cases[i].want,
		    strlen(cases[i].want), printable(cases[i].want,
		    strlen(cases[i].want) - 2));
		buf_free(out);
	}
	small = buf_new(10);
	smtp_cmd_parse(cmd, (const uint8_t *)mail, sizeof(mail) - 1,
	    EXT_STD, 0);
	rc = smtp_cmd_serialize(cmd, EXT_STD, small);
	T_OK(rc == -1 && buf_len(small) == 0,
	    "serialise into a full buffer fails and leaves it unchanged");
	smtp_cmd_parse(cmd, (const uint8_t *)"DATA", 4, EXT_STD, 0);
	rc = smtp_cmd_serialize(cmd, EXT_STD, small);
	T_EQ_INT(rc, -1, "only MAIL and RCPT are serialised");
	buf_free(small);
	smtp_cmd_free(cmd);
}

static void
test_xtext(void)
{
	static const struct {
		const char	*enc;
		const char	*dec;	/* NULL: bad */
	} cases[] = {
		{ "", "" },
		{ "abc", "abc" },
		{ "a+2Bb", "a+b" },
		{ "+3D+2B+20", "=+ " },
		{ "+41", "A" },
		{ "a+2", NULL },
		{ "a+", NULL },
		{ "a+2b", NULL },
		{ "a+GG", NULL },
		{ "a=b", NULL },
		{ "a b", NULL },
	};
	struct buf	*b = buf_new(0), *e = buf_new(0), *d = buf_new(0);
	uint8_t		 all[256];
	size_t		 i;
	int		 rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_reset(b);
		rc = smtp_xtext_decode((const uint8_t *)cases[i].enc,
		    strlen(cases[i].enc), b);
		if (cases[i].dec == NULL)
			T_OK(rc == -1 && buf_len(b) == 0, "xtext %s refused",
			    cases[i].enc);
		else
			T_OK(rc == 0 && eq_bytes(buf_data(b), buf_len(b),
			    cases[i].dec, strlen(cases[i].dec)),
			    "xtext %s decoded", cases[i].enc);
	}
	for (i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	smtp_xtext_encode(all, sizeof(all), e);
	rc = smtp_xtext_decode(buf_data(e), buf_len(e), d);
	T_OK(rc == 0, "xtext of every octet decodes");
	T_EQ_MEM(buf_data(d), buf_len(d), all, sizeof(all),
	    "xtext round trip of every octet");
	for (i = 0; i < buf_len(e); i++)
		if (buf_data(e)[i] < 33 || buf_data(e)[i] > 126 ||
		    buf_data(e)[i] == '=')
			break;
	T_EQ_INT(i, buf_len(e), "xtext output is printable, without '='");
	buf_free(b);
	buf_free(e);
	buf_free(d);
}

static void
test_names(void)
{
	T_EQ_STR(smtp_verb_name(SMTP_VERB_STARTTLS), "STARTTLS", "verb name");
	T_EQ_STR(smtp_verb_name(SMTP_VERB_UNKNOWN), "unknown",
	    "unknown verb name");
	T_EQ_STR(smtp_cmd_strerror(SMTP_CMD_ERR_SENDER), "bad_sender",
	    "log token");
}

int
main(void)
{
	test_table();
	test_limits();
	test_fields();
	test_serialize_ext();
	test_xtext();
	test_names();
	return t_done();
}
