/*
 * smtp_cmd — one client command line -> a parsed command (RFC 5321 4.1).
 *
 * A pure parser over (ptr, len) without the final CRLF: no I/O, no
 * allocation after smtp_cmd_new().  The result keeps copies of what it
 * needs (bounded by the limits below), so it stays valid after the line
 * buffer is reused.  MAIL and RCPT parameters are decoded into fields so
 * the relay re-serialises them (smtp_cmd_serialize()); the client's text
 * is never forwarded.  Every syntax error maps to one exact reply
 * (smtp_cmd_reply(); hostile-inputs PR-01, PR-05, PR-06, PR-10, DK-13).
 */
#ifndef SIGNET_SMTP_CMD_H
#define SIGNET_SMTP_CMD_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct smtp_cmd;

#define SMTP_PATH_MAX		256	/* RFC 5321 4.5.3.1.3, with "<>" */
#define SMTP_LOCAL_MAX		64	/* RFC 5321 4.5.3.1.1 */
#define SMTP_DOMAIN_MAX		255	/* RFC 5321 4.5.3.1.2 */
#define SMTP_ENVID_MAX		100	/* RFC 3461 4.4, decoded octets */
#define SMTP_ORCPT_MAX		500	/* RFC 3461 4.2, decoded octets */
#define SMTP_AUTH_PARAM_MAX	500	/* RFC 4954 5, MAIL AUTH=, decoded */
#define SMTP_CMD_ARG_MAX	12288	/* RFC 4954 4: AUTH initial response */

/*
 * Service extensions, as bits.  The same bits say which extensions we
 * advertised (smtp_cmd_parse(): parameters of others are refused with
 * 555) and which the upstream offers (smtp_cmd_serialize(), and
 * struct smtp_caps in smtp_reply.h).
 */
#define SMTP_EXT_SIZE		0x0001	/* RFC 1870 */
#define SMTP_EXT_8BITMIME	0x0002	/* RFC 6152 */
#define SMTP_EXT_SMTPUTF8	0x0004	/* RFC 6531 */
#define SMTP_EXT_DSN		0x0008	/* RFC 3461: RET ENVID NOTIFY ORCPT */
#define SMTP_EXT_AUTH		0x0010	/* RFC 4954: AUTH=, and AUTH */
#define SMTP_EXT_CHUNKING	0x0020	/* RFC 3030: BDAT */
#define SMTP_EXT_BINARYMIME	0x0040	/* RFC 3030: BODY=BINARYMIME */
#define SMTP_EXT_PIPELINING	0x0080	/* RFC 2920 */
#define SMTP_EXT_STARTTLS	0x0100	/* RFC 3207 */
#define SMTP_EXT_ENHANCED	0x0200	/* RFC 2034 ENHANCEDSTATUSCODES */
#define SMTP_EXT_XFORWARD	0x0400	/* Postfix XFORWARD_README */
#define SMTP_EXT_ALL		0x07ff

/* smtp_cmd_parse() flags. */
#define SMTP_CMD_TXN_UTF8	0x01	/* RCPT: this transaction's MAIL
					 * declared SMTPUTF8 */

enum smtp_verb {
	SMTP_VERB_UNKNOWN = 0,
	SMTP_VERB_EHLO,
	SMTP_VERB_HELO,
	SMTP_VERB_MAIL,
	SMTP_VERB_RCPT,
	SMTP_VERB_DATA,
	SMTP_VERB_BDAT,
	SMTP_VERB_RSET,
	SMTP_VERB_NOOP,
	SMTP_VERB_QUIT,
	SMTP_VERB_VRFY,
	SMTP_VERB_EXPN,
	SMTP_VERB_HELP,
	SMTP_VERB_STARTTLS,
	SMTP_VERB_AUTH,
	SMTP_VERB_ETRN,
	SMTP_VERB_TURN,
	SMTP_VERB_XCLIENT,
	SMTP_VERB_XFORWARD,
	SMTP_VERB_COUNT
};

/* The reply for each error is given after it (smtp_cmd_reply()). */
enum smtp_cmd_err {
	SMTP_CMD_OK = 0,
	SMTP_CMD_ERR_UNKNOWN,	/* 500 5.5.2 Error: command not recognized */
	SMTP_CMD_ERR_TOO_LONG,	/* 500 5.5.2 Error: command line too long */
	SMTP_CMD_ERR_SYNTAX,	/* 501 5.5.4 Syntax: <usage of the verb>,
				 * e.g. "Syntax: EHLO hostname" */
	SMTP_CMD_ERR_SENDER,	/* 501 5.1.7 Bad sender address syntax */
	SMTP_CMD_ERR_RCPT,	/* 501 5.1.3 Bad recipient address syntax */
	SMTP_CMD_ERR_UTF8,	/* 553 5.6.7 Must declare SMTPUTF8 to send
				 * unicode address */
	SMTP_CMD_ERR_PARAM,	/* 555 5.5.4 Unsupported option: X
				 * (unknown parameter or BODY value) */
	SMTP_CMD_ERR_PARAM_DUP,	/* 501 5.5.4 Duplicate X parameter */
	SMTP_CMD_ERR_PARAM_VALUE, /* 501 5.5.4 Bad X parameter syntax */
	SMTP_CMD_ERR_SIZE,	/* 501 5.5.4 Bad message size syntax */
	SMTP_CMD_ERR_SIZE_BIG	/* 552 5.3.4 Message size exceeds fixed
				 * limit (SIZE does not fit 64 bits) */
};

enum smtp_body {
	SMTP_BODY_NONE = 0,	/* no BODY= given */
	SMTP_BODY_7BIT,
	SMTP_BODY_8BITMIME,
	SMTP_BODY_BINARYMIME
};

enum smtp_ret {
	SMTP_RET_NONE = 0,
	SMTP_RET_FULL,
	SMTP_RET_HDRS
};

/* NOTIFY= as bits; NEVER excludes the others (RFC 3461 4.1). */
#define SMTP_NOTIFY_NEVER	0x01
#define SMTP_NOTIFY_SUCCESS	0x02
#define SMTP_NOTIFY_FAILURE	0x04
#define SMTP_NOTIFY_DELAY	0x08

/* NULL only when memory is short. */
struct smtp_cmd	*smtp_cmd_new(void);
void		 smtp_cmd_free(struct smtp_cmd *);
/* Copy src into dst (for a transaction that outlives the next line). */
void		 smtp_cmd_copy(struct smtp_cmd *dst,
		    const struct smtp_cmd *src);

/*
 * Parse one line (without CRLF).  ext: the SMTP_EXT_* bits we advertised;
 * a MAIL/RCPT parameter of any other extension is SMTP_CMD_ERR_PARAM.
 * flags: SMTP_CMD_*.  On any result the verb is set (UNKNOWN if not
 * recognised), so the caller can answer in the verb's state; the other
 * accessors are meaningful only after SMTP_CMD_OK.  VRFY, EXPN, HELP,
 * NOOP, ETRN, TURN, XCLIENT and XFORWARD parse OK whatever follows them
 * (we refuse or ignore them, PR-10).  CR, LF and NUL are never part of a
 * verb, address or parameter (the line reader refuses them first, SM-04).
 */
enum smtp_cmd_err smtp_cmd_parse(struct smtp_cmd *, const uint8_t *,
		    size_t, unsigned int ext, unsigned int flags);

/*
 * Append the reply line for err, with CRLF, to out.  A quoted option name
 * is the client's text made printable ('?' for other octets) and cut.
 * -1 if out is full.
 */
int		 smtp_cmd_reply(const struct smtp_cmd *, enum smtp_cmd_err,
		    struct buf *out);
/* A stable token for logs: "unknown_command", "bad_sender", ... */
const char	*smtp_cmd_strerror(enum smtp_cmd_err);
/* "MAIL", "RCPT", ...; "unknown" for SMTP_VERB_UNKNOWN. */
const char	*smtp_verb_name(enum smtp_verb);

enum smtp_verb	 smtp_cmd_verb(const struct smtp_cmd *);

/*
 * The argument after the verb and one SP, unparsed: the EHLO/HELO domain
 * or address literal, the AUTH mechanism (upper-cased), the VRFY/EXPN/
 * HELP/NOOP/ETRN/XCLIENT/XFORWARD text.  Empty if none.
 */
const uint8_t	*smtp_cmd_arg(const struct smtp_cmd *, size_t *len);
/* AUTH: the initial response after the mechanism; NULL if none given
 * ("=" is returned as given: the empty response of RFC 4954 4). */
const uint8_t	*smtp_cmd_auth_response(const struct smtp_cmd *, size_t *len);

/*
 * MAIL/RCPT: the mailbox as "local@domain", written as received but
 * without "<>" and without a source route (RFC 5321 4.1.1.3); length 0
 * for the null reverse-path "<>".  RCPT TO:<Postmaster> gives
 * "Postmaster" with an empty domain.
 */
const uint8_t	*smtp_cmd_addr(const struct smtp_cmd *, size_t *len);
const uint8_t	*smtp_cmd_addr_local(const struct smtp_cmd *, size_t *len);
const uint8_t	*smtp_cmd_addr_domain(const struct smtp_cmd *, size_t *len);
/* The address contains octets >= 0x80 (valid UTF-8, RFC 6531). */
int		 smtp_cmd_addr_utf8(const struct smtp_cmd *);
/* A source route was given and dropped. */
int		 smtp_cmd_had_route(const struct smtp_cmd *);

/* MAIL SIZE=: 1 and *size if given, else 0. */
int		 smtp_cmd_size(const struct smtp_cmd *, uint64_t *size);
enum smtp_body	 smtp_cmd_body(const struct smtp_cmd *);
/* Change MAIL's BODY= (DK-12: 8-bit content the client did not declare). */
void		 smtp_cmd_set_body(struct smtp_cmd *, enum smtp_body);
/* MAIL SMTPUTF8 given. */
int		 smtp_cmd_smtputf8(const struct smtp_cmd *);
enum smtp_ret	 smtp_cmd_ret(const struct smtp_cmd *);
/* MAIL ENVID= decoded (xtext), NULL if not given. */
const uint8_t	*smtp_cmd_envid(const struct smtp_cmd *, size_t *len);
/* MAIL AUTH= decoded (xtext; "<>" stays "<>"), NULL if not given. */
const uint8_t	*smtp_cmd_auth_param(const struct smtp_cmd *, size_t *len);
/* RCPT NOTIFY= bits, 0 if not given. */
unsigned int	 smtp_cmd_notify(const struct smtp_cmd *);
/* RCPT ORCPT=: addr-type (e.g. "rfc822") and the decoded address;
 * NULL if not given. */
const uint8_t	*smtp_cmd_orcpt(const struct smtp_cmd *, const char **type,
		    size_t *len);
/* BDAT chunk size and LAST. */
uint64_t	 smtp_cmd_bdat_size(const struct smtp_cmd *);
int		 smtp_cmd_bdat_last(const struct smtp_cmd *);

/*
 * Append the MAIL or RCPT command for the upstream, in canonical form,
 * with CRLF: "MAIL FROM:<addr> SIZE=n BODY=8BITMIME SMTPUTF8 RET=FULL
 * ENVID=xtext AUTH=xtext" / "RCPT TO:<addr> NOTIFY=... ORCPT=type;xtext".
 * Only parameters whose extension is in ext (the upstream's) are written.
 * -1 if the command is not MAIL/RCPT or out is full.
 */
int		 smtp_cmd_serialize(const struct smtp_cmd *, unsigned int ext,
		    struct buf *out);

/* xtext (RFC 3461 4): decode; -1 on bad syntax or if out is full. */
int		 smtp_xtext_decode(const uint8_t *, size_t, struct buf *out);
/* Encode: '+', '=', and octets outside 33..126 become "+XX". */
int		 smtp_xtext_encode(const uint8_t *, size_t, struct buf *out);

#endif
