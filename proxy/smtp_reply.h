/*
 * smtp_reply — SMTP replies: the bounded, incremental parser for the
 * upstream's replies, the formatter for ours, and the EHLO capability
 * list (RFC 5321 4.2, RFC 2034 enhanced status codes).
 *
 * Parsing is strict (hostile-inputs UP-06): every line is three digits,
 * then ' ' or '-', then text, then CRLF, at most SMTP_REPLY_LINE_MAX
 * octets; every line has the same code; at most SMTP_REPLY_LINES_MAX
 * lines.  Anything else is malformed and the caller aborts the upstream
 * transaction.  Text is stored with non-printable octets replaced by '?',
 * so a reply relayed to the client is rebuilt from the parsed form
 * (smtp_reply_rebuild()), never copied byte for byte.
 */
#ifndef SIGNET_SMTP_REPLY_H
#define SIGNET_SMTP_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include "proxy/smtp_cmd.h"

struct buf;
struct smtp_reply;

#define SMTP_REPLY_LINE_MAX	512	/* RFC 5321 4.5.3.1.5, with CRLF */
#define SMTP_REPLY_LINES_MAX	64	/* lines per reply; msmtp keeps 50 */

enum smtp_reply_status {
	SMTP_REPLY_NEED_MORE,	/* every byte taken; feed more */
	SMTP_REPLY_DONE,	/* a whole reply; *used tells where it ended */
	SMTP_REPLY_MALFORMED	/* protocol error: abort the upstream */
};

/* NULL only when memory is short. */
struct smtp_reply *smtp_reply_new(void);
void		 smtp_reply_free(struct smtp_reply *);
/* Forget the reply (and any partial line) to parse the next one. */
void		 smtp_reply_reset(struct smtp_reply *);

/*
 * Feed bytes as they arrive, split anywhere.  *used receives how many
 * were taken: all of them for NEED_MORE (a partial line is kept inside,
 * bounded by SMTP_REPLY_LINE_MAX), up to and including the final CRLF
 * for DONE (the rest is the next reply: call smtp_reply_reset() and feed
 * it), and up to the offending octet for MALFORMED.  After DONE or
 * MALFORMED, further feeding without a reset returns the same status and
 * takes nothing.
 */
enum smtp_reply_status smtp_reply_feed(struct smtp_reply *, const uint8_t *,
		    size_t, size_t *used);
/* Why the reply was malformed, for the log ("line_too_long", ...). */
const char	*smtp_reply_error(const struct smtp_reply *);

/* After DONE: the code (200..599), its class (2..5), the line count. */
int		 smtp_reply_code(const struct smtp_reply *);
int		 smtp_reply_class(const struct smtp_reply *);
size_t		 smtp_reply_lines(const struct smtp_reply *);
/*
 * The enhanced status code "x.y.z" of the first line if its class equals
 * the reply's class, else NULL.  It is removed from the text of every
 * line that starts with it.
 */
const char	*smtp_reply_enhanced(const struct smtp_reply *);
/* Text of line i (no code, separator, enhanced code or CRLF). */
const uint8_t	*smtp_reply_text(const struct smtp_reply *, size_t i,
		    size_t *len);

/*
 * Append our rendering of a parsed reply: the same code, the enhanced
 * code when there was one (or dflt_enh if not NULL and there was none),
 * the sanitized text of every line.
 */
int		 smtp_reply_rebuild(const struct smtp_reply *,
		    const char *dflt_enh, struct buf *out);

/*
 * Our replies.  code 200..599; enh "x.y.z" or NULL; text is ours but is
 * still made printable and cut to fit one line.  Append with CRLF.
 */
int		 smtp_reply_put(struct buf *out, int code, const char *enh,
		    const char *text);
int		 smtp_reply_printf(struct buf *out, int code, const char *enh,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Multi-line: lines[0..n-1], "code-" on all but the last. n >= 1. */
int		 smtp_reply_multi(struct buf *out, int code, const char *enh,
		    const char *const *lines, size_t n);

/*
 * The upstream's EHLO capabilities.  Plain values; zero means "not
 * offered".
 */
#define SMTP_AUTH_PLAIN		0x01
#define SMTP_AUTH_LOGIN		0x02
#define SMTP_AUTH_CRAM_MD5	0x04
#define SMTP_AUTH_XOAUTH2	0x08
#define SMTP_AUTH_OTHER		0x10

#define SMTP_XFWD_NAME		0x01	/* XFORWARD attribute names */
#define SMTP_XFWD_ADDR		0x02
#define SMTP_XFWD_PORT		0x04
#define SMTP_XFWD_PROTO		0x08
#define SMTP_XFWD_HELO		0x10
#define SMTP_XFWD_IDENT		0x20
#define SMTP_XFWD_SOURCE	0x40

struct smtp_caps {
	unsigned int	ext;		/* SMTP_EXT_* bits */
	uint64_t	size_max;	/* SIZE n; 0 if none or no number */
	unsigned int	auth;		/* SMTP_AUTH_* mechanisms */
	unsigned int	xforward;	/* SMTP_XFWD_* attributes */
};

/*
 * Fill caps from a parsed 250 reply to EHLO (the first line is the
 * greeting and is skipped).  Unknown keywords are ignored.  -1 if the
 * reply is not a 2xx.
 */
int		 smtp_reply_ehlo_caps(const struct smtp_reply *,
		    struct smtp_caps *);

#endif
