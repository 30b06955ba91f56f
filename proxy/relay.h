/*
 * relay — the upstream side of one client session: an SMTP client state
 * machine towards upstream.address, or the file:DIR sink.
 *
 * The transaction opens at the client's MAIL, so every MAIL/RCPT reply
 * the client sees is the upstream's own (UP-05).  After the session has
 * signed, relay_data() sends DATA, our new header fields, the header
 * section and the spooled body re-stuffed (SM-03), and "."; or, to an
 * upstream that offers CHUNKING, the same octets unstuffed as one
 * "BDAT n LAST" chunk (RFC 3030).  Each call
 * ends in exactly one callback with a reply ready for the client: the
 * upstream's reply rebuilt by us (UP-06), or our own 451 when anything
 * failed or timed out (promise 1: never 2xx unless the upstream said so).
 *
 * Towards the upstream, STARTTLS or implicit TLS and AUTH as configured
 * (upstream_tls.h); when the TLS the configuration requires is missing
 * the operation's answer is 451 4.7.5 (TL-08).
 *
 * The file sink writes DIR/<time>.<random>.eml through a temp file,
 * fsync and rename, then answers 250 with the file name as queue id.
 */
#ifndef SIGNET_RELAY_H
#define SIGNET_RELAY_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct config;
struct event_base;
struct relay;
struct smtp_cmd;
struct spool;

struct relay_reply {
	int		 code;		/* 200..599 */
	const uint8_t	*text;		/* the reply for the client, CRLF */
	size_t		 len;
	const char	*queue_id;	/* final reply: upstream's id or NULL */
};

typedef void	(*relay_cb)(void *arg, const struct relay_reply *);

struct relay_client {
	const char	*addr;		/* client IP, for XFORWARD */
	int		 port;
	const char	*helo;		/* its HELO/EHLO name, may be NULL */
};

/* cfg must outlive the relay (the session holds its snapshot). */
struct relay	*relay_new(struct event_base *, const struct config *,
		    const char *sid, relay_cb, void *arg);
/* Sends QUIT when idle and connected; no callback after this. */
void		 relay_free(struct relay *);
/* The configuration for the next transaction (after a reload). */
void		 relay_set_config(struct relay *, const struct config *);
void		 relay_set_client(struct relay *, const struct relay_client *);

/* Start a transaction (connecting first if needed).  One callback. */
void		 relay_mail(struct relay *, const struct smtp_cmd *);
void		 relay_rcpt(struct relay *, const struct smtp_cmd *);
/*
 * The message: head is every header field (ours first) with CRLFs and
 * no empty line; body is the spooled body (rewound here).  Both must
 * stay alive until the callback, which carries the final reply.
 */
void		 relay_data(struct relay *, const struct buf *head,
		    struct spool *body);
/*
 * The content has 8-bit octets that the client's MAIL did not declare:
 * before DATA the upstream transaction is reset and reopened with
 * BODY=8BITMIME and the same recipients (DK-12).  Call before
 * relay_data().
 */
void		 relay_declare_8bit(struct relay *);
/* Abandon the transaction (RSET upstream); no callback. */
void		 relay_rset(struct relay *);
/* Upstream SMTP_EXT_* bits (valid once relay_mail has succeeded). */
unsigned int	 relay_upstream_ext(const struct relay *);
/* 1 when the relay is the file sink. */
int		 relay_is_file(const struct relay *);

#endif
