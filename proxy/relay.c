/*
 * relay — upstream SMTP client state machine and the file sink
 * (RFC 5321 3.3, 4.1; hostile-inputs UP-01..UP-07, SM-03).
 *
 * One command is outstanding at a time; every upstream reply is parsed
 * by the strict bounded parser (smtp_reply.h) and dispatched through
 * relay_reply_table by state.  A reply in a state that expects none, a
 * malformed reply or an unexpected class aborts the connection and the
 * session's outstanding operation gets our 451 (UP-06).  Each state has a
 * deadline from config.upstream (connect, greeting, command, after ".").
 * Content goes out only through the re-stuffing framer writer, which
 * refuses bare CR/LF/NUL before emitting them (SM-03), and is streamed
 * from the spool under the output watermark so a big message never sits
 * in memory.
 *
 * A connection lost before our final "." (UP-03), or found dead when the
 * message is ready (UP-07), is replaced once: MAIL and the RCPTs the
 * upstream accepted are replayed, each must be accepted again, then DATA.
 * After our "." nothing is retried: the outcome is unknown, the client
 * gets 451 and the log says possible_duplicate=yes.
 *
 * A session that ends with its connection idle parks it in the worker's
 * cache (uppool.h) instead of QUIT; the next session's MAIL takes it when
 * the upstream identity matches.  Every MAIL is preceded by XFORWARD
 * for this session's client, and a cached connection that fails before
 * answering MAIL is replaced by a fresh one, unseen by the client.
 *
 * Invariant: the session hears exactly one callback per operation it
 * started; after relay_free() it hears nothing.
 */
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/ssl.h>
#include <sodium.h>

#include "config/config.h"
#include "proxy/framer.h"
#include "proxy/io.h"
#include "proxy/log.h"
#include "proxy/metrics.h"
#include "proxy/msg/buf.h"
#include "proxy/relay.h"
#include "proxy/smtp_cmd.h"
#include "proxy/smtp_reply.h"
#include "proxy/spool.h"
#include "proxy/upstream_tls.h"
#include "proxy/uppool.h"

#define RELAY_CMD_MAX	4096	/* one command we send (MAIL with params) */
#define RELAY_REPLY_MAX	(SMTP_REPLY_LINE_MAX * SMTP_REPLY_LINES_MAX)
#define RELAY_HOST_MAX	256
#define RELAY_QID_MAX	64	/* queue id kept for logs */
/* Accepted RCPT lines kept for a retry: a bound on memory, not on
 * recipients; a longer list just forgoes the retry (UP-03). */
#define RELAY_REPLAY_MAX	(256 * 1024)
#define RELAY_SLICE	(16 * 1024)	/* content per step, < IO_OUTPUT_MAX */

/* TL-08: our answer whenever the TLS the configuration asks for fails. */
#define RELAY_TLS_UNAVAILABLE	"451 4.7.5 Error: upstream TLS unavailable"
/* Upstream AUTH failed: our configuration's problem, so temporary. */
#define RELAY_AUTH_FAILED	"451 4.7.0 Error: upstream authentication " \
				"failed"

enum relay_state {
	RELAY_IDLE,		/* no connection */
	RELAY_CONNECT,
	RELAY_GREETING,
	RELAY_EHLO,
	RELAY_HELO,
	RELAY_XFORWARD,
	RELAY_READY,		/* connected, no transaction */
	RELAY_MAIL,
	RELAY_TXN,		/* transaction open, nothing outstanding */
	RELAY_RCPT,
	RELAY_DATA,		/* DATA sent, waiting for 354 */
	RELAY_SEND,		/* streaming content */
	RELAY_DOT,		/* "." sent, waiting for the final reply */
	RELAY_NOOP,		/* keepalive while the client uploads */
	RELAY_RSET,
	RELAY_QUIT,
	RELAY_REPLAY,		/* retry: one recorded RCPT sent */
	RELAY_STARTTLS,		/* STARTTLS sent, waiting for 220 */
	RELAY_HANDSHAKE,	/* TLS handshake (STARTTLS or implicit) */
	RELAY_AUTH,		/* AUTH sent, waiting for 235 */
	RELAY_AUTH_LOGIN,	/* "AUTH LOGIN" sent, waiting for 334 */
	RELAY_AUTH_USER		/* LOGIN user name sent, waiting for 334 */
};

static const char *const relay_state_names[] = {
	"idle", "connect", "greeting", "ehlo", "helo", "xforward", "ready",
	"mail", "txn", "rcpt", "data", "send", "dot", "noop", "rset", "quit",
	"replay", "starttls", "handshake", "auth", "auth_login", "auth_user"
};

enum relay_op {
	RELAY_OP_NONE,
	RELAY_OP_MAIL,
	RELAY_OP_RCPT,
	RELAY_OP_DATA,
	RELAY_OP_REPLAY		/* retry: MAIL, recorded RCPTs, DATA */
};

struct relay {
	struct event_base	*base;
	const struct config	*cfg;
	char			 sid[32];
	relay_cb		 cb;
	void			*cb_arg;
	enum relay_state	 state;
	struct io		*io;
	struct smtp_reply	*reply;
	struct smtp_caps	 caps;
	struct buf		*out;		/* command or client reply */
	struct framer_writer	*writer;
	struct event		*noop_timer;
	struct event		*defer;		/* file sink: async answers */
	/* The operation the session waits for, and its argument. */
	enum relay_op		 op;		/* started, not yet answered */
	enum relay_op		 pending;	/* waiting for the connection */
	struct smtp_cmd		*mail;
	struct smtp_cmd		*rcpt;
	const struct buf	*head;
	struct spool		*body;
	const uint8_t		*chunk;		/* spool chunk not yet sent */
	size_t			 chunk_len;
	/*
	 * UP-03/UP-07: the accepted RCPT lines of this transaction, as
	 * sent, so a connection lost before our final "." can be replaced
	 * once; replay_ok is 0 when they could not all be kept.
	 */
	struct buf		*rcpts;
	size_t			 replay_off;
	unsigned int		 replay_ext;	/* caps the lines were made for */
	int			 replay_ok;
	int			 replaying;
	int			 retried;
	/* Upstream TLS and AUTH (upstream_tls.h), per connection. */
	const struct utls	*utls;
	int			 tls_on;	/* handshake done */
	int			 tls_verified;
	int			 no_tls;	/* TLS failed: plaintext */
	int			 tls_fallback;	/* next connection: no_tls */
	int			 mail_sent;	/* MAIL went with XFORWARD */
	/*
	 * DK-12: the transaction open upstream was started by a MAIL
	 * without the BODY=8BITMIME its content needs (eightbit), and is
	 * being reset to reopen it (reopening: RSET sent; reopened: since
	 * then).
	 */
	int			 eightbit;
	int			 reopening;
	int			 reopened;
	int			 bdat;		/* content goes as BDAT LAST */
	/*
	 * The connection's identity (uppool_key of the configuration it
	 * was made for), age and reuse count, for the idle cache; reused
	 * is set while a cached connection has not yet answered MAIL.
	 */
	struct buf		*conn_key;
	double			 conn_born;
	unsigned int		 conn_uses;
	unsigned int		 conn_gen;	/* bumped per connection */
	int			 reused;
	struct relay_client	 client;
	char			 helo[RELAY_HOST_MAX];
	char			 qid[RELAY_QID_MAX];
	/* File sink answer waiting for the deferred event. */
	int			 defer_code;
	char			 defer_text[SMTP_REPLY_LINE_MAX];
};

static void	relay_enter(struct relay *, enum relay_state);
static void	on_replay(struct relay *);
static void	relay_write_bdat(struct relay *);
static void	relay_read_cb(void *, struct evbuffer *);
static void	relay_event_cb(void *, enum io_event);

static const struct io_cb relay_io_cb = { relay_read_cb, relay_event_cb };

static const char *
relay_hostname(void)
{
	static __thread char	 name[RELAY_HOST_MAX];

	if (name[0] == '\0' && (gethostname(name, sizeof(name) - 1) == -1 ||
	    name[0] == '\0'))
		snprintf(name, sizeof(name), "localhost");
	return name;
}

static double
ms_to_s(uint64_t ms)
{
	return (double)ms / 1000.0;
}

/* Hand the session its one answer for the current operation. */
static void
relay_answer(struct relay *r, int code, const uint8_t *text, size_t len,
    const char *qid)
{
	struct relay_reply	 rep;

	if (r->op == RELAY_OP_NONE)
		return;
	r->op = RELAY_OP_NONE;
	rep.code = code;
	rep.text = text;
	rep.len = len;
	rep.queue_id = qid;
	r->cb(r->cb_arg, &rep);
}

static void
relay_answer_str(struct relay *r, const char *line)
{
	struct buf	*b;
	int		 code;

	/* Our own reply: the upstream gave none for this message. */
	if (r->op == RELAY_OP_DATA)
		metrics_upstream_reply(0);
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if ((b = buf_new(SMTP_REPLY_LINE_MAX)) == NULL ||
	    buf_printf(b, "%s\r\n", line) == -1) {
		buf_free(b);
		line = "451 4.3.0 Error: internal error\r\n";
		relay_answer(r, 451, (const uint8_t *)line, strlen(line),
		    NULL);
		return;
	}
	relay_answer(r, code, buf_data(b), buf_len(b), NULL);
	buf_free(b);
}

/*
 * The connection is unusable: drop it, and tell the session (if it
 * waits) with our own reply.  why goes to the log.
 */
static void
relay_fail(struct relay *r, int level, const char *event, const char *line)
{
	struct log_line	*l;

	l = log_begin(level, r->sid, event);
	log_kv(l, "state", "%s", relay_state_names[r->state]);
	if (r->io != NULL && io_errno(r->io) != 0)
		log_kv(l, "errno", "%d", io_errno(r->io));
	log_kv(l, "reply", "\"%.3s\"", line);
	log_end(l);
	r->pending = RELAY_OP_NONE;
	r->replaying = 0;
	relay_enter(r, RELAY_IDLE);
	relay_answer_str(r, line);
}

static void
relay_send(struct relay *r)
{
	if (io_write(r->io, buf_data(r->out), buf_len(r->out)) == -1)
		relay_fail(r, LOG_ERR, "upstream_write_failed",
		    "451 4.3.0 Error: internal error");
}

static void
relay_send_str(struct relay *r, const char *s)
{
	buf_reset(r->out);
	if (buf_append_str(r->out, s) == -1) {
		relay_fail(r, LOG_ERR, "upstream_write_failed",
		    "451 4.3.0 Error: internal error");
		return;
	}
	relay_send(r);
}

/* The upstream's reply, rebuilt by us, to the session. */
static void
relay_pass_reply(struct relay *r, const char *qid)
{
	static const char *const dflt[] = { NULL, NULL, "2.0.0", "3.0.0",
	    "4.0.0", "5.0.0" };
	int	 cls = smtp_reply_class(r->reply);

	buf_reset(r->out);
	if (smtp_reply_rebuild(r->reply, dflt[cls], r->out) == -1) {
		relay_fail(r, LOG_ERR, "upstream_reply_too_big",
		    "451 4.3.0 Error: upstream protocol error");
		return;
	}
	if (r->op == RELAY_OP_DATA)
		metrics_upstream_reply(smtp_reply_code(r->reply));
	relay_answer(r, smtp_reply_code(r->reply), buf_data(r->out),
	    buf_len(r->out), qid);
}

static void
relay_log_reply(struct relay *r, const char *event)
{
	struct log_line	*l;
	const uint8_t	*t;
	size_t		 n;

	l = log_begin(LOG_INFO, r->sid, event);
	log_kv(l, "code", "%d", smtp_reply_code(r->reply));
	t = smtp_reply_text(r->reply, 0, &n);
	log_kv_esc(l, "text", t, n);
	log_end(l);
}

/*
 * The upstream refused to open a session (greeting, EHLO or HELO): log
 * its reply under event, drop it, and tell our client to retry.
 */
static void
relay_unavailable(struct relay *r, const char *event)
{
	relay_log_reply(r, event);
	relay_fail(r, LOG_ERR, "upstream_unavailable",
	    "451 4.3.0 Error: upstream unavailable, try again later");
}

static void
relay_protocol_error(struct relay *r)
{
	const uint8_t	*t;
	size_t		 n;
	struct log_line	*l;

	l = log_begin(LOG_WARNING, r->sid, "upstream_protocol_error");
	log_kv(l, "state", "%s", relay_state_names[r->state]);
	log_kv(l, "code", "%d", smtp_reply_code(r->reply));
	t = smtp_reply_text(r->reply, 0, &n);
	log_kv_esc(l, "text", t, n);
	log_end(l);
	if (r->state == RELAY_DOT)
		log_event(LOG_WARNING, r->sid, "upstream_ambiguous_after_eod",
		    "possible_duplicate=yes");
	relay_fail(r, LOG_INFO, "upstream_abort",
	    "451 4.3.0 Error: upstream protocol error");
}

/*
 * Upstream TLS and AUTH (upstream_tls.h; RFC 3207, RFC 4954, TL-08).
 *
 * After each EHLO: STARTTLS when the configuration wants TLS and the
 * upstream offers it, then EHLO again and forget the plaintext
 * capabilities (RFC 3207 4.2); then AUTH if configured; then XFORWARD.
 * starttls: required and implicit_tls refuse a missing STARTTLS, a
 * failed handshake and, with verify, an unverified certificate, with
 * RELAY_TLS_UNAVAILABLE.  starttls: opportunistic encrypts whatever
 * certificate the upstream shows (logged verified=no, like Postfix's
 * "may": whoever can forge a certificate can also strip STARTTLS), goes
 * on in plaintext when STARTTLS is not offered or refused, and after a
 * failed handshake reconnects once without TLS.  The AUTH secret goes
 * only over verified TLS (or TLS with verify: false), or to a loopback
 * upstream.
 */

static const struct config_upstream *
relay_up(const struct relay *r)
{
	return &r->cfg->upstream;
}

/* TLS failures that end the connection are fatal in these modes. */
static int
relay_tls_mandatory(const struct relay *r)
{
	return relay_up(r)->implicit_tls ||
	    relay_up(r)->starttls == CONFIG_TLS_REQUIRED;
}

static int
relay_peer_loopback(const struct relay *r)
{
	struct in_addr	 a4;
	struct in6_addr	 a6;
	const char	*p = io_peer_addr(r->io);

	if (inet_pton(AF_INET, p, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, p, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return 0;
}

static void
relay_tls_log(struct relay *r, int level, const char *event,
    const char *reason, const char *detail)
{
	struct log_line	*l;

	l = log_begin(level, r->sid, event);
	log_kv(l, "reason", "%s", reason);
	if (detail != NULL && detail[0] != '\0')
		log_kv_esc(l, "detail", detail, strlen(detail));
	log_end(l);
}

/* The TLS the configuration requires is not there: 451 4.7.5 (TL-08). */
static void
relay_tls_fail(struct relay *r, const char *reason, const char *detail)
{
	relay_tls_log(r, LOG_ERR, "upstream_tls_failed", reason, detail);
	relay_fail(r, LOG_INFO, "upstream_abort", RELAY_TLS_UNAVAILABLE);
}

/*
 * The connection is lost during the handshake.  Opportunistic mode tries
 * once more in plaintext on a new connection, as Postfix does; the
 * operation the session waits for stays pending.
 */
static void
relay_tls_lost(struct relay *r, const char *reason, const char *detail)
{
	if (relay_tls_mandatory(r) || r->no_tls ||
	    r->pending == RELAY_OP_NONE) {
		relay_tls_fail(r, reason, detail);
		return;
	}
	relay_tls_log(r, LOG_WARNING, "upstream_tls_failed", reason, detail);
	log_event(LOG_WARNING, r->sid, "upstream_tls_fallback",
	    "action=reconnect_plaintext");
	r->tls_fallback = 1;
	relay_enter(r, RELAY_IDLE);
	relay_enter(r, RELAY_CONNECT);
}

/* Entry action of RELAY_HANDSHAKE. */
static void
relay_start_handshake(struct relay *r, double timeout_s)
{
	struct ssl_st	*ssl;
	size_t		 discarded = 0;

	ssl = r->utls != NULL ? utls_ssl_new(r->utls, r->sid) : NULL;
	if (ssl == NULL) {
		relay_tls_fail(r, "local", "no TLS context");
		return;
	}
	if (io_start_tls(r->io, ssl, IO_TLS_CONNECT, &discarded) == -1) {
		relay_tls_fail(r, "local", "cannot start TLS");
		return;
	}
	/*
	 * TL-08: octets after the upstream's 220 came in plaintext and
	 * would be read as if protected (response injection): abort.
	 */
	if (discarded > 0) {
		log_event(LOG_WARNING, r->sid, "upstream_starttls_injection",
		    "bytes=%zu", discarded);
		relay_tls_fail(r, "injection", NULL);
		return;
	}
	io_deadline(r->io, timeout_s);
}

static void
relay_tls_ready(struct relay *r)
{
	struct ssl_st	*ssl = io_tls(r->io);
	const char	*why = "";
	struct log_line	*l;

	r->tls_verified = utls_verified(ssl, &why);
	l = log_begin(LOG_INFO, r->sid, "upstream_tls");
	log_kv(l, "version", "%s", SSL_get_version(ssl));
	log_kv(l, "cipher", "%s", SSL_get_cipher_name(ssl));
	log_kv(l, "verified", "%s", r->tls_verified ? "yes" : "no");
	if (!r->tls_verified)
		log_kv_esc(l, "reason", why, strlen(why));
	log_end(l);
	if (!r->tls_verified && relay_up(r)->verify &&
	    relay_tls_mandatory(r)) {
		relay_tls_fail(r, "verify", why);
		return;
	}
	r->tls_on = 1;
	memset(&r->caps, 0, sizeof(r->caps));
	relay_enter(r, relay_up(r)->implicit_tls ? RELAY_GREETING :
	    RELAY_EHLO);
}

static void
relay_auth_fail(struct relay *r, const char *reason)
{
	struct log_line	*l;
	const uint8_t	*t;
	size_t		 n;

	l = log_begin(LOG_ERR, r->sid, "upstream_auth_failed");
	log_kv(l, "reason", "%s", reason);
	if (r->reply != NULL && smtp_reply_code(r->reply) != 0) {
		log_kv(l, "code", "%d", smtp_reply_code(r->reply));
		t = smtp_reply_text(r->reply, 0, &n);
		log_kv_esc(l, "text", t, n);
	}
	log_end(l);
	relay_fail(r, LOG_INFO, "upstream_abort", RELAY_AUTH_FAILED);
}

/* Connected, in TLS if configured: ready for MAIL. */
static void
relay_after_auth(struct relay *r)
{
	relay_enter(r, RELAY_READY);
}

/*
 * Postfix forgets XFORWARD attributes at the end of each transaction
 * (XFORWARD_README), and a cached connection serves another client
 * next: every MAIL is preceded by XFORWARD with this session's client.
 */
static void
relay_begin_mail(struct relay *r)
{
	if (r->caps.xforward != 0 && r->client.addr != NULL)
		relay_enter(r, RELAY_XFORWARD);
	else
		relay_enter(r, RELAY_MAIL);
}

/*
 * A cached connection failed before answering MAIL (the upstream closed
 * it, timed it out or said 421 while it sat idle): nothing of this
 * transaction reached it, so connect afresh and send MAIL there; the
 * client never hears of it.  1 if that started.
 */
static int
relay_reuse_failed(struct relay *r, const char *why)
{
	if (!r->reused || r->op != RELAY_OP_MAIL || r->replaying ||
	    (r->state != RELAY_XFORWARD && r->state != RELAY_MAIL))
		return 0;
	log_event(LOG_INFO, r->sid, "upstream_reuse_failed",
	    "why=%s state=%s uses=%u", why, relay_state_names[r->state],
	    r->conn_uses);
	relay_enter(r, RELAY_IDLE);
	r->pending = RELAY_OP_MAIL;
	relay_enter(r, RELAY_CONNECT);
	return 1;
}

static void
relay_after_tls(struct relay *r)
{
	if (relay_up(r)->auth_user == NULL) {
		relay_after_auth(r);
		return;
	}
	/*
	 * Never the secret to a peer we did not authenticate: in clear
	 * only when the configuration says starttls: off to a loopback
	 * upstream (config.c refuses it for any other), over TLS only
	 * with a verified certificate unless verify is off.
	 */
	if (r->tls_on ? relay_up(r)->verify && !r->tls_verified :
	    relay_up(r)->starttls != CONFIG_TLS_OFF ||
	    !relay_peer_loopback(r)) {
		relay_tls_fail(r, "auth_needs_tls", r->tls_on ?
		    "certificate not verified" : "no TLS");
		return;
	}
	if (r->caps.auth & SMTP_AUTH_PLAIN)
		relay_enter(r, RELAY_AUTH);
	else if (r->caps.auth & SMTP_AUTH_LOGIN)
		relay_enter(r, RELAY_AUTH_LOGIN);
	else
		relay_auth_fail(r, "no_mechanism");
}

static void
relay_after_ehlo(struct relay *r)
{
	const struct config_upstream	*up = relay_up(r);

	if (!r->tls_on && !up->implicit_tls && up->starttls !=
	    CONFIG_TLS_OFF && !r->no_tls) {
		if ((r->caps.ext & SMTP_EXT_STARTTLS) && r->utls != NULL) {
			relay_enter(r, RELAY_STARTTLS);
			return;
		}
		if (up->starttls == CONFIG_TLS_REQUIRED) {
			relay_tls_fail(r, "not_offered", NULL);
			return;
		}
		log_event(LOG_INFO, r->sid, "upstream_plaintext",
		    "reason=not_offered");
	}
	relay_after_tls(r);
}

static void
on_starttls(struct relay *r)
{
	if (smtp_reply_code(r->reply) == 220) {
		relay_enter(r, RELAY_HANDSHAKE);
		return;
	}
	relay_log_reply(r, "upstream_starttls_refused");
	if (relay_tls_mandatory(r)) {
		relay_tls_fail(r, "refused", NULL);
		return;
	}
	/* RFC 3207 4: after a refusal the session goes on in plaintext. */
	relay_after_tls(r);
}

static void
on_auth(struct relay *r)
{
	if (smtp_reply_class(r->reply) != 2) {
		relay_auth_fail(r, "refused");
		return;
	}
	log_event(LOG_INFO, r->sid, "upstream_auth", "outcome=ok");
	relay_after_auth(r);
}

static void
on_auth_login(struct relay *r)
{
	if (smtp_reply_code(r->reply) != 334) {
		relay_auth_fail(r, "refused");
		return;
	}
	relay_enter(r, RELAY_AUTH_USER);
}

static void
on_auth_user(struct relay *r)
{
	if (smtp_reply_code(r->reply) != 334) {
		relay_auth_fail(r, "refused");
		return;
	}
	/* The password answers the second 334; 235 comes in RELAY_AUTH. */
	relay_enter(r, RELAY_AUTH);
}

/* Entry action of RELAY_AUTH and RELAY_AUTH_USER: one secret line. */
static void
relay_write_auth(struct relay *r, enum utls_auth_step step)
{
	if (utls_auth_write(r->utls, step, r->io) == -1)
		relay_fail(r, LOG_ERR, "upstream_write_failed",
		    "451 4.3.0 Error: internal error");
}

/* Reply handlers, one per state that expects a reply. */

static void
on_greeting(struct relay *r)
{
	if (smtp_reply_class(r->reply) != 2) {
		relay_unavailable(r, "upstream_greeting_refused");
		return;
	}
	relay_enter(r, RELAY_EHLO);
}

static void
on_ehlo(struct relay *r)
{
	switch (smtp_reply_class(r->reply)) {
	case 2:
		memset(&r->caps, 0, sizeof(r->caps));
		smtp_reply_ehlo_caps(r->reply, &r->caps);
		relay_after_ehlo(r);
		break;
	case 5:
		relay_enter(r, RELAY_HELO);
		break;
	default:
		relay_unavailable(r, "upstream_ehlo_refused");
	}
}

static void
on_helo(struct relay *r)
{
	if (smtp_reply_class(r->reply) != 2) {
		relay_unavailable(r, "upstream_helo_refused");
		return;
	}
	memset(&r->caps, 0, sizeof(r->caps));
	/* No extensions: TLS or AUTH, if configured, fail here. */
	relay_after_ehlo(r);
}

static void
on_xforward(struct relay *r)
{
	if (smtp_reply_code(r->reply) == 421 &&
	    relay_reuse_failed(r, "421"))
		return;
	/* XFORWARD only enriches the upstream's logs; refusal is harmless. */
	if (smtp_reply_class(r->reply) != 2)
		relay_log_reply(r, "upstream_xforward_refused");
	relay_enter(r, RELAY_MAIL);
}

static void
on_mail(struct relay *r)
{
	int	 cls = smtp_reply_class(r->reply);

	if (r->replaying) {
		on_replay(r);
		return;
	}
	if (smtp_reply_code(r->reply) == 421 && relay_reuse_failed(r, "421"))
		return;
	r->reused = 0;
	if (cls == 2)
		r->replay_ext = r->caps.ext;
	if (cls == 3) {
		relay_protocol_error(r);
		return;
	}
	relay_enter(r, cls == 2 ? RELAY_TXN : RELAY_READY);
	relay_pass_reply(r, NULL);
}

static void
on_rcpt(struct relay *r)
{
	int	 cls = smtp_reply_class(r->reply);

	if (cls == 3) {
		relay_protocol_error(r);
		return;
	}
	if (cls == 2 && r->replay_ok && smtp_cmd_serialize(r->rcpt,
	    r->replay_ext, r->rcpts) == -1)
		r->replay_ok = 0;
	relay_enter(r, RELAY_TXN);
	relay_pass_reply(r, NULL);
}

/*
 * The retry's MAIL or one replayed RCPT was answered.  Only the same
 * verdict the client already heard (2xx) lets the retry go on; anything
 * else means the recipients the client believes accepted are not, so
 * the client must retry the whole message (UP-07).
 */
static void
on_replay(struct relay *r)
{
	if (smtp_reply_class(r->reply) != 2) {
		relay_log_reply(r, "upstream_retry_refused");
		relay_fail(r, LOG_WARNING, "upstream_retry_failed",
		    r->reopened ? "451 4.4.2 Error: upstream refused the "
		    "transaction reopened with BODY=8BITMIME" :
		    "451 4.4.2 Error: upstream connection lost");
		return;
	}
	if (r->replay_off == buf_len(r->rcpts)) {
		r->replaying = 0;
		relay_enter(r, RELAY_DATA);
		return;
	}
	relay_enter(r, RELAY_REPLAY);
}

/* Send the next recorded RCPT line. */
static void
relay_write_replay(struct relay *r)
{
	const uint8_t	*p, *e;
	size_t		 n;

	p = buf_data(r->rcpts) + r->replay_off;
	if ((e = memmem(p, buf_len(r->rcpts) - r->replay_off, "\r\n",
	    2)) == NULL) {
		/* Broken invariant: every recorded line ends CRLF. */
		log_event(LOG_CRIT, r->sid, "replay_corrupt", "off=%zu",
		    r->replay_off);
		abort();
	}
	n = (size_t)(e - p) + 2;
	r->replay_off += n;
	if (io_write(r->io, p, n) == -1)
		relay_fail(r, LOG_ERR, "upstream_write_failed",
		    "451 4.3.0 Error: internal error");
}

/*
 * The connection was lost before our final "." (UP-03), or found dead
 * when the message was ready (UP-07): nothing can have been accepted,
 * so reconnect once and replay MAIL, the accepted RCPTs and DATA.
 * 1 if the retry started (the session keeps waiting for DATA's answer).
 */
static int
relay_retry(struct relay *r, const char *why)
{
	if (r->op != RELAY_OP_DATA || r->retried || !r->replay_ok ||
	    r->cfg->upstream.is_file)
		return 0;
	log_event(LOG_WARNING, r->sid, "upstream_retry", "why=%s state=%s",
	    why, relay_state_names[r->state]);
	r->retried = 1;
	r->replaying = 1;
	r->replay_off = 0;
	r->reopening = 0;
	r->eightbit = 0;	/* the replayed MAIL declares it */
	relay_enter(r, RELAY_IDLE);
	r->pending = RELAY_OP_REPLAY;
	relay_enter(r, RELAY_CONNECT);
	return 1;
}

static void
on_data(struct relay *r)
{
	int	 cls = smtp_reply_class(r->reply);

	if (smtp_reply_code(r->reply) == 354) {
		relay_enter(r, RELAY_SEND);
		return;
	}
	if (cls == 2 || cls == 3) {
		relay_protocol_error(r);
		return;
	}
	relay_enter(r, RELAY_RSET);
	relay_pass_reply(r, NULL);
}

/* "250 2.0.0 Ok: queued as 4Xy..." (Postfix) -> "4Xy...". */
static void
relay_find_qid(struct relay *r)
{
	static const char	 tag[] = "queued as ";
	const uint8_t		*t, *p, *e;
	size_t			 n, i;

	r->qid[0] = '\0';
	t = smtp_reply_text(r->reply, smtp_reply_lines(r->reply) - 1, &n);
	if (t == NULL || (p = memmem(t, n, tag, sizeof(tag) - 1)) == NULL)
		return;
	p += sizeof(tag) - 1;
	e = t + n;
	for (i = 0; p < e && i < sizeof(r->qid) - 1; p++) {
		if (*p == ' ' || *p == ';' || *p == ',')
			break;
		if ((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= 'a' && *p <= 'z') || *p == '.' || *p == '-' ||
		    *p == '_')
			r->qid[i++] = (char)*p;
	}
	r->qid[i] = '\0';
}

static void
on_dot(struct relay *r)
{
	int	 cls = smtp_reply_class(r->reply);

	if (cls == 3) {
		relay_protocol_error(r);
		return;
	}
	relay_find_qid(r);
	relay_enter(r, RELAY_READY);
	relay_pass_reply(r, r->qid[0] ? r->qid : NULL);
}

/* A reply while we still stream content (UP-06). */
static void
on_send(struct relay *r)
{
	int	 cls = smtp_reply_class(r->reply);

	if (cls != 4 && cls != 5) {
		relay_protocol_error(r);
		return;
	}
	/* The upstream gave up on the message; the stream is now unusable. */
	relay_log_reply(r, "upstream_refused_during_data");
	relay_pass_reply(r, NULL);
	relay_enter(r, RELAY_IDLE);
}

static void
on_noop(struct relay *r)
{
	if (smtp_reply_class(r->reply) != 2) {
		relay_log_reply(r, "upstream_noop_refused");
		relay_enter(r, RELAY_IDLE);
		return;
	}
	relay_enter(r, RELAY_TXN);
}

static void
on_rset(struct relay *r)
{
	if (r->reopening) {
		r->reopening = 0;
		if (smtp_reply_class(r->reply) != 2) {
			relay_log_reply(r, "upstream_rset_refused");
			relay_fail(r, LOG_WARNING, "upstream_reopen_failed",
			    "451 4.4.2 Error: upstream refused RSET");
			return;
		}
		/* MAIL (now with BODY=8BITMIME), the RCPTs, then DATA. */
		r->reopened = 1;
		r->replaying = 1;
		r->replay_off = 0;
		relay_begin_mail(r);
		return;
	}
	if (smtp_reply_class(r->reply) != 2) {
		relay_log_reply(r, "upstream_rset_refused");
		relay_enter(r, RELAY_IDLE);
		return;
	}
	relay_enter(r, RELAY_READY);
}

static void
on_quit(struct relay *r)
{
	relay_enter(r, RELAY_IDLE);
}

static const struct {
	enum relay_state	 state;
	void			(*fn)(struct relay *);
} relay_reply_table[] = {
	{ RELAY_GREETING,	on_greeting },
	{ RELAY_EHLO,		on_ehlo },
	{ RELAY_HELO,		on_helo },
	{ RELAY_XFORWARD,	on_xforward },
	{ RELAY_MAIL,		on_mail },
	{ RELAY_RCPT,		on_rcpt },
	{ RELAY_DATA,		on_data },
	{ RELAY_SEND,		on_send },
	{ RELAY_DOT,		on_dot },
	{ RELAY_NOOP,		on_noop },
	{ RELAY_RSET,		on_rset },
	{ RELAY_QUIT,		on_quit },
	{ RELAY_REPLAY,		on_replay },
	{ RELAY_STARTTLS,	on_starttls },
	{ RELAY_AUTH,		on_auth },
	{ RELAY_AUTH_LOGIN,	on_auth_login },
	{ RELAY_AUTH_USER,	on_auth_user },
};

static void
relay_dispatch(struct relay *r)
{
	size_t	 i;

	for (i = 0; i < sizeof(relay_reply_table) /
	    sizeof(relay_reply_table[0]); i++) {
		if (relay_reply_table[i].state == r->state) {
			relay_reply_table[i].fn(r);
			return;
		}
	}
	relay_protocol_error(r);
}

static void
relay_read_cb(void *arg, struct evbuffer *in)
{
	struct relay		*r = arg;
	struct evbuffer_iovec	 v;
	enum smtp_reply_status	 st;
	size_t			 used;
	unsigned int		 gen = r->conn_gen;

	/* A handler may replace the connection: in is gone with it. */
	while (r->io != NULL && r->conn_gen == gen &&
	    evbuffer_peek(in, -1, NULL, &v, 1) > 0 && v.iov_len > 0) {
		st = smtp_reply_feed(r->reply, v.iov_base, v.iov_len, &used);
		evbuffer_drain(in, used);
		if (st == SMTP_REPLY_NEED_MORE)
			continue;
		if (st == SMTP_REPLY_MALFORMED) {
			log_event(LOG_WARNING, r->sid, "upstream_bad_reply",
			    "state=%s error=%s", relay_state_names[r->state],
			    smtp_reply_error(r->reply));
			if (r->state == RELAY_DOT)
				log_event(LOG_WARNING, r->sid,
				    "upstream_ambiguous_after_eod",
				    "possible_duplicate=yes");
			relay_fail(r, LOG_INFO, "upstream_abort",
			    "451 4.3.0 Error: upstream protocol error");
			return;
		}
		relay_dispatch(r);
		if (r->reply != NULL)
			smtp_reply_reset(r->reply);
	}
}

/*
 * Stream the content under the output watermark, in slices: a spool
 * chunk may be the whole memory part (up to spool_memory_max), and
 * copying it into the output buffer at once would double what each
 * message holds in memory (promise 5).
 */
static void
relay_pump(struct relay *r)
{
	size_t	 k;
	int	 rv;

	while (io_output_pending(r->io) <= IO_OUTPUT_MAX) {
		if (r->chunk_len == 0) {
			rv = spool_read(r->body, &r->chunk, &r->chunk_len);
			if (rv == -1) {
				relay_fail(r, LOG_ERR, "spool_read_failed",
				    "451 4.3.0 Error: spool read error");
				return;
			}
			if (rv == 0) {
				if (framer_writer_end(r->writer) == -1)
					goto unsafe;
				relay_enter(r, RELAY_DOT);
				return;
			}
		}
		k = r->chunk_len < RELAY_SLICE ? r->chunk_len : RELAY_SLICE;
		if (framer_writer_put(r->writer, r->chunk, k) == -1)
			goto unsafe;
		r->chunk += k;
		r->chunk_len -= k;
	}
	io_want_writable(r->io);
	return;
unsafe:
	relay_fail(r, LOG_CRIT, "unsafe_outbound_byte",
	    "451 4.3.0 Error: internal error");
}

static void
relay_event_cb(void *arg, enum io_event ev)
{
	struct relay	*r = arg;

	switch (ev) {
	case IO_EV_CONNECTED:
		relay_enter(r, relay_up(r)->implicit_tls ? RELAY_HANDSHAKE :
		    RELAY_GREETING);
		return;
	case IO_EV_WRITABLE:
		if (r->state == RELAY_SEND)
			relay_pump(r);
		return;
	case IO_EV_TLS_READY:
		if (r->state == RELAY_HANDSHAKE)
			relay_tls_ready(r);
		return;
	case IO_EV_FLUSHED:
		return;
	case IO_EV_TIMEOUT:
		if (relay_reuse_failed(r, "timeout"))
			return;
		switch (r->state) {
		case RELAY_HANDSHAKE:
			relay_tls_lost(r, "timeout", NULL);
			return;
		case RELAY_CONNECT:
		case RELAY_GREETING:
			relay_fail(r, LOG_ERR, "upstream_unavailable",
			    "451 4.4.1 Error: upstream unavailable, try "
			    "again later");
			return;
		case RELAY_DOT:
			log_event(LOG_WARNING, r->sid,
			    "upstream_timeout_after_eod",
			    "possible_duplicate=yes");
			relay_fail(r, LOG_INFO, "upstream_abort",
			    "451 4.4.2 Error: upstream timeout, delivery "
			    "status unknown");
			return;
		default:
			relay_fail(r, LOG_WARNING, "upstream_timeout",
			    "451 4.4.2 Error: upstream timeout");
			return;
		}
	case IO_EV_EOF:
	case IO_EV_ERROR:
		if (relay_reuse_failed(r, ev == IO_EV_EOF ? "eof" : "error"))
			return;
		switch (r->state) {
		case RELAY_HANDSHAKE:
			relay_tls_lost(r, "handshake", io_tls_error(r->io));
			return;
		case RELAY_CONNECT:
			relay_fail(r, LOG_ERR, "upstream_unavailable",
			    "451 4.4.1 Error: upstream unavailable, try "
			    "again later");
			return;
		case RELAY_DOT:
			log_event(LOG_WARNING, r->sid,
			    "upstream_lost_after_eod",
			    "possible_duplicate=yes");
			relay_fail(r, LOG_INFO, "upstream_abort",
			    "451 4.4.2 Error: upstream connection lost, "
			    "delivery status unknown");
			return;
		case RELAY_DATA:
		case RELAY_SEND:
			if (relay_retry(r, "lost"))
				return;
			relay_fail(r, LOG_WARNING, "upstream_lost",
			    "451 4.4.2 Error: upstream connection lost");
			return;
		default:
			relay_fail(r, LOG_WARNING, "upstream_lost",
			    "451 4.4.2 Error: upstream connection lost");
			return;
		}
	}
}

static int
relay_writer_out(void *arg, const uint8_t *p, size_t n)
{
	struct relay	*r = arg;

	return io_write(r->io, p, n);
}

static void
relay_write_xforward(struct relay *r)
{
	buf_reset(r->out);
	buf_append_str(r->out, "XFORWARD");
	if (r->caps.xforward & SMTP_XFWD_NAME)
		buf_append_str(r->out, " NAME=[UNAVAILABLE]");
	if (r->caps.xforward & SMTP_XFWD_ADDR)
		buf_printf(r->out, " ADDR=%s", r->client.addr);
	if (r->caps.xforward & SMTP_XFWD_PORT)
		buf_printf(r->out, " PORT=%d", r->client.port);
	if ((r->caps.xforward & SMTP_XFWD_HELO) && r->helo[0] != '\0') {
		buf_append_str(r->out, " HELO=");
		smtp_xtext_encode((const uint8_t *)r->helo, strlen(r->helo),
		    r->out);
	}
	if (r->caps.xforward & SMTP_XFWD_PROTO)
		buf_append_str(r->out, " PROTO=ESMTP");
	if (buf_append_str(r->out, "\r\n") == -1) {
		relay_fail(r, LOG_ERR, "upstream_write_failed",
		    "451 4.3.0 Error: internal error");
		return;
	}
	relay_send(r);
}

static void
relay_write_cmd(struct relay *r, const struct smtp_cmd *c)
{
	buf_reset(r->out);
	if (smtp_cmd_serialize(c, r->caps.ext, r->out) == -1) {
		relay_fail(r, LOG_ERR, "upstream_write_failed",
		    "451 4.3.0 Error: internal error");
		return;
	}
	relay_send(r);
}

/*
 * DK-12: the body has 8-bit octets that MAIL, sent before the body was
 * seen, did not declare.  A hop that believes the message 7-bit may
 * convert it to quoted-printable and break every signature, so reset
 * the transaction and reopen it with BODY=8BITMIME and the accepted
 * recipients (the UP-03 replay) before DATA.  1 if that started.
 */
static int
relay_reopen_8bit(struct relay *r)
{
	if (!r->eightbit)
		return 0;
	r->eightbit = 0;
	if (!(r->caps.ext & SMTP_EXT_8BITMIME))
		return 0;
	if (!r->replay_ok) {
		/* More recipients than RELAY_REPLAY_MAX kept. */
		log_event(LOG_WARNING, r->sid, "body_8bit_undeclared",
		    "reopened=no reason=recipients_not_kept");
		return 0;
	}
	log_event(LOG_INFO, r->sid, "body_8bit_undeclared", "reopened=yes");
	r->reopening = 1;
	relay_enter(r, RELAY_RSET);
	return 1;
}

/*
 * RFC 3030 towards an upstream that offers CHUNKING, unless
 * upstream.chunking is off: "BDAT n LAST" and the message as it is,
 * without dot-stuffing and without waiting for a
 * 354; the one reply after the last octet is the final reply
 * (RELAY_DOT), and a connection lost before that is retried as with
 * DATA (UP-03).  n counts our head, the empty line and the spooled
 * body, which always ends with CRLF (DATA's last line, or the CRLF
 * added to a BDAT message that lacked one); the raw writer refuses to
 * end anywhere else, so the count can never be wrong on the wire.
 */
static void
relay_write_bdat(struct relay *r)
{
	uint64_t	 n;

	n = (uint64_t)buf_len(r->head) + 2 + spool_size(r->body);
	buf_reset(r->out);
	if (buf_printf(r->out, "BDAT %llu LAST\r\n",
	    (unsigned long long)n) == -1) {
		relay_fail(r, LOG_ERR, "upstream_write_failed",
		    "451 4.3.0 Error: internal error");
		return;
	}
	relay_send(r);
	if (r->state != RELAY_DATA)
		return;
	r->bdat = 1;
	relay_enter(r, RELAY_SEND);
}

/* Start the operation the session asked for while we were busy. */
static void
relay_run_pending(struct relay *r)
{
	enum relay_op	 op = r->pending;

	r->pending = RELAY_OP_NONE;
	switch (op) {
	case RELAY_OP_MAIL:
		relay_begin_mail(r);
		break;
	case RELAY_OP_RCPT:
		relay_enter(r, RELAY_RCPT);
		break;
	case RELAY_OP_DATA:
		if (!relay_reopen_8bit(r))
			relay_enter(r, RELAY_DATA);
		break;
	case RELAY_OP_REPLAY:
		/* Lines made for other capabilities may not parse the same. */
		if (r->caps.ext != r->replay_ext) {
			relay_fail(r, LOG_WARNING, "upstream_retry_failed",
			    "451 4.4.2 Error: upstream connection lost");
			break;
		}
		relay_begin_mail(r);
		break;
	case RELAY_OP_NONE:
		break;
	}
}

static void
relay_noop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relay	*r = arg;

	(void)fd;
	(void)what;
	if (r->state == RELAY_TXN && r->pending == RELAY_OP_NONE)
		relay_enter(r, RELAY_NOOP);
}

static void
relay_enter(struct relay *r, enum relay_state st)
{
	const struct config_upstream	*up = &r->cfg->upstream;
	struct timeval			 tv;
	enum relay_state		 old = r->state;

	r->state = st;
	log_event(LOG_DEBUG, r->sid, "upstream_state", "from=%s to=%s",
	    relay_state_names[old], relay_state_names[st]);
	if (st != RELAY_TXN)
		evtimer_del(r->noop_timer);
	switch (st) {
	case RELAY_IDLE:
		io_free(r->io);
		r->io = NULL;
		r->mail_sent = 0;
		buf_free(r->conn_key);
		r->conn_key = NULL;
		r->reused = 0;
		if (r->reply != NULL)
			smtp_reply_reset(r->reply);
		break;
	case RELAY_CONNECT:
		r->utls = utls_find(r->cfg);
		r->tls_on = 0;
		r->tls_verified = 0;
		r->no_tls = r->tls_fallback;
		r->tls_fallback = 0;
		buf_free(r->conn_key);
		r->conn_key = uppool_key(up);
		r->conn_born = uppool_now();
		r->conn_uses = 0;
		r->conn_gen++;
		r->reused = 0;
		metrics_upstream_connection(0);
		r->io = io_connect(r->base, up->address.host,
		    up->address.port, &relay_io_cb, r);
		if (r->io == NULL) {
			log_event(LOG_ERR, NULL, "upstream_connect_failed",
			    "port=%u errno=%d", up->address.port, errno);
			r->state = RELAY_IDLE;
			r->pending = RELAY_OP_NONE;
			relay_answer_str(r, "451 4.4.1 Error: upstream "
			    "unavailable, try again later");
			return;
		}
		io_deadline(r->io, ms_to_s(up->connect_timeout_ms));
		break;
	case RELAY_GREETING:
		smtp_reply_reset(r->reply);
		io_deadline(r->io, ms_to_s(up->greeting_timeout_ms));
		break;
	case RELAY_EHLO:
		io_deadline(r->io, ms_to_s(up->command_timeout_ms));
		buf_reset(r->out);
		buf_printf(r->out, "EHLO %s\r\n", relay_hostname());
		relay_send(r);
		break;
	case RELAY_HELO:
		io_deadline(r->io, ms_to_s(up->command_timeout_ms));
		buf_reset(r->out);
		buf_printf(r->out, "HELO %s\r\n", relay_hostname());
		relay_send(r);
		break;
	case RELAY_XFORWARD:
		io_deadline(r->io, ms_to_s(up->command_timeout_ms));
		relay_write_xforward(r);
		/*
		 * RFC 2920: with PIPELINING the first MAIL goes in the same
		 * write, saving a round trip per connection; its reply is
		 * read in RELAY_MAIL after XFORWARD's, in order.
		 */
		if (r->state == RELAY_XFORWARD &&
		    (r->caps.ext & SMTP_EXT_PIPELINING)) {
			relay_write_cmd(r, r->mail);
			r->mail_sent = r->state == RELAY_XFORWARD;
		}
		break;
	case RELAY_READY:
		io_deadline(r->io, 0);
		relay_run_pending(r);
		break;
	case RELAY_TXN:
		io_deadline(r->io, 0);
		if (up->noop_interval_ms > 0) {
			tv.tv_sec = (time_t)(up->noop_interval_ms / 1000);
			tv.tv_usec = (suseconds_t)(up->noop_interval_ms %
			    1000) * 1000;
			evtimer_add(r->noop_timer, &tv);
		}
		relay_run_pending(r);
		break;
	case RELAY_MAIL:
		io_deadline(r->io, ms_to_s(up->command_timeout_ms));
		if (r->mail_sent)
			r->mail_sent = 0;
		else
			relay_write_cmd(r, r->mail);
		break;
	case RELAY_RCPT:
		io_deadline(r->io, ms_to_s(up->command_timeout_ms));
		relay_write_cmd(r, r->rcpt);
		break;
	case RELAY_DATA:
		io_deadline(r->io, ms_to_s(up->command_timeout_ms));
		r->bdat = 0;
		/*
		 * Chosen per message from the current configuration, not
		 * per connection: a cached connection keeps only what the
		 * upstream offered, so a reload to "off" applies at once.
		 */
		if ((r->caps.ext & SMTP_EXT_CHUNKING) &&
		    up->chunking == CONFIG_CHUNKING_AUTO)
			relay_write_bdat(r);
		else
			relay_send_str(r, "DATA\r\n");
		break;
	case RELAY_SEND:
		io_deadline(r->io, ms_to_s(up->command_timeout_ms));
		if (r->bdat)
			framer_writer_reset_raw(r->writer);
		else
			framer_writer_reset(r->writer);
		if (framer_writer_put(r->writer, buf_data(r->head),
		    buf_len(r->head)) == -1 ||
		    framer_writer_put(r->writer, (const uint8_t *)"\r\n",
		    2) == -1) {
			relay_fail(r, LOG_CRIT, "unsafe_outbound_byte",
			    "451 4.3.0 Error: internal error");
			return;
		}
		r->chunk = NULL;
		r->chunk_len = 0;
		if (spool_rewind(r->body) == -1) {
			relay_fail(r, LOG_ERR, "spool_read_failed",
			    "451 4.3.0 Error: spool read error");
			return;
		}
		relay_pump(r);
		break;
	case RELAY_DOT:
		io_deadline(r->io, ms_to_s(up->final_timeout_ms));
		break;
	case RELAY_NOOP:
		io_deadline(r->io, ms_to_s(up->command_timeout_ms));
		relay_send_str(r, "NOOP\r\n");
		break;
	case RELAY_RSET:
		io_deadline(r->io, ms_to_s(up->command_timeout_ms));
		relay_send_str(r, "RSET\r\n");
		break;
	case RELAY_QUIT:
		io_deadline(r->io, ms_to_s(up->command_timeout_ms));
		relay_send_str(r, "QUIT\r\n");
		break;
	case RELAY_REPLAY:
		io_deadline(r->io, ms_to_s(up->command_timeout_ms));
		relay_write_replay(r);
		break;
	case RELAY_STARTTLS:
		io_deadline(r->io, ms_to_s(up->command_timeout_ms));
		relay_send_str(r, "STARTTLS\r\n");
		break;
	case RELAY_HANDSHAKE:
		/* Implicit TLS: the handshake stands in for the greeting. */
		relay_start_handshake(r, ms_to_s(old == RELAY_CONNECT ?
		    up->greeting_timeout_ms : up->command_timeout_ms));
		break;
	case RELAY_AUTH:
		io_deadline(r->io, ms_to_s(up->command_timeout_ms));
		relay_write_auth(r, old == RELAY_AUTH_USER ?
		    UTLS_AUTH_LOGIN_SECRET : UTLS_AUTH_PLAIN);
		break;
	case RELAY_AUTH_LOGIN:
		io_deadline(r->io, ms_to_s(up->command_timeout_ms));
		relay_send_str(r, "AUTH LOGIN\r\n");
		break;
	case RELAY_AUTH_USER:
		io_deadline(r->io, ms_to_s(up->command_timeout_ms));
		relay_write_auth(r, UTLS_AUTH_LOGIN_USER);
		break;
	}
}

/* The file sink. */

static void
relay_defer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relay	*r = arg;

	(void)fd;
	(void)what;
	relay_answer(r, r->defer_code, (const uint8_t *)r->defer_text,
	    strlen(r->defer_text), r->qid[0] ? r->qid : NULL);
}

static void
relay_defer(struct relay *r, int code, const char *text)
{
	r->defer_code = code;
	snprintf(r->defer_text, sizeof(r->defer_text), "%s", text);
	event_active(r->defer, EV_TIMEOUT, 0);
}

static int
write_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t	 w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* DIR/<time>.<random>.eml via a dot-file, fsync, rename, dir fsync. */
static int
relay_file_write(struct relay *r)
{
	const char	*dir = r->cfg->upstream.file_dir;
	char		 name[64], tmp[PATH_MAX], path[PATH_MAX];
	uint8_t		 rnd[8];
	const uint8_t	*p;
	size_t		 n;
	int		 fd = -1, dfd = -1, rv, ret = -1;

	randombytes_buf(rnd, sizeof(rnd));
	snprintf(name, sizeof(name), "%lld.%02x%02x%02x%02x%02x%02x%02x%02x",
	    (long long)time(NULL), rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
	    rnd[5], rnd[6], rnd[7]);
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name) >=
	    sizeof(tmp) || (size_t)snprintf(path, sizeof(path), "%s/%s.eml",
	    dir, name) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0640);
	if (fd == -1)
		goto done;
	if (write_all(fd, buf_data(r->head), buf_len(r->head)) == -1 ||
	    write_all(fd, (const uint8_t *)"\r\n", 2) == -1 ||
	    spool_rewind(r->body) == -1)
		goto done;
	while ((rv = spool_read(r->body, &p, &n)) == 1)
		if (write_all(fd, p, n) == -1)
			goto done;
	if (rv == -1 || fsync(fd) == -1 || close(fd) == -1) {
		fd = -1;
		goto done;
	}
	fd = -1;
	if (rename(tmp, path) == -1)
		goto done;
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fsync(dfd) == -1)
		goto done;
	snprintf(r->qid, sizeof(r->qid), "%s", name);
	ret = 0;
done:
	if (ret == -1) {
		rv = errno;
		unlink(tmp);
		errno = rv;
	}
	if (fd != -1)
		close(fd);
	if (dfd != -1)
		close(dfd);
	return ret;
}

/* Public interface. */

struct relay *
relay_new(struct event_base *base, const struct config *cfg,
    const char *sid, relay_cb cb, void *arg)
{
	struct relay	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->base = base;
	r->cfg = cfg;
	snprintf(r->sid, sizeof(r->sid), "%s", sid);
	r->cb = cb;
	r->cb_arg = arg;
	r->state = RELAY_IDLE;
	r->reply = smtp_reply_new();
	r->out = buf_new(RELAY_REPLY_MAX + RELAY_CMD_MAX);
	r->writer = framer_writer_new(relay_writer_out, r);
	r->noop_timer = evtimer_new(base, relay_noop_cb, r);
	r->defer = event_new(base, -1, 0, relay_defer_cb, r);
	r->mail = smtp_cmd_new();
	r->rcpt = smtp_cmd_new();
	r->rcpts = buf_new(RELAY_REPLAY_MAX);
	if (r->reply == NULL || r->out == NULL || r->writer == NULL ||
	    r->noop_timer == NULL || r->defer == NULL || r->mail == NULL ||
	    r->rcpt == NULL || r->rcpts == NULL) {
		relay_free(r);
		return NULL;
	}
	return r;
}

/*
 * The idle cache (uppool.h).  Only a connection with nothing open or
 * outstanding is parked, so the next owner starts from a clean slate.
 */
static int
relay_park(struct relay *r)
{
	struct uppool_conn	 c;

	if (r->io == NULL || r->state != RELAY_READY ||
	    r->op != RELAY_OP_NONE || r->pending != RELAY_OP_NONE ||
	    r->cfg->upstream.is_file || !r->cfg->upstream.connection_cache)
		return -1;
	memset(&c, 0, sizeof(c));
	c.io = r->io;
	c.key = r->conn_key;
	c.caps = r->caps;
	c.tls_on = r->tls_on;
	c.tls_verified = r->tls_verified;
	c.no_tls = r->no_tls;
	c.born = r->conn_born;
	c.uses = r->conn_uses;
	return uppool_put(r->base, &c, r->sid);
}

/* A cached connection for the current configuration, now in READY. */
static int
relay_unpark(struct relay *r)
{
	struct uppool_conn	 c;
	struct buf		*key;

	if (!r->cfg->upstream.connection_cache ||
	    (key = uppool_key(&r->cfg->upstream)) == NULL)
		return -1;
	if (uppool_take(r->base, key, &c) == -1) {
		buf_free(key);
		return -1;
	}
	buf_free(key);
	io_set_cb(c.io, &relay_io_cb, r);
	r->io = c.io;
	buf_free(r->conn_key);
	r->conn_key = c.key;
	r->caps = c.caps;
	r->tls_on = c.tls_on;
	r->tls_verified = c.tls_verified;
	r->no_tls = c.no_tls;
	r->conn_born = c.born;
	r->conn_uses = c.uses;
	r->conn_gen++;
	r->utls = utls_find(r->cfg);
	r->mail_sent = 0;
	r->reused = 1;
	smtp_reply_reset(r->reply);
	metrics_upstream_connection(1);
	log_event(LOG_DEBUG, r->sid, "upstream_reused", "uses=%u",
	    r->conn_uses);
	return 0;
}

void
relay_free(struct relay *r)
{
	if (r == NULL)
		return;
	if (relay_park(r) == 0) {
		r->io = NULL;
		r->conn_key = NULL;
	}
	/* A polite QUIT costs the upstream nothing; we do not wait for it. */
	if (r->io != NULL && (r->state == RELAY_READY ||
	    r->state == RELAY_TXN))
		io_write(r->io, "QUIT\r\n", 6);
	io_free(r->io);
	buf_free(r->conn_key);
	buf_free(r->rcpts);
	smtp_cmd_free(r->rcpt);
	smtp_cmd_free(r->mail);
	if (r->defer != NULL)
		event_free(r->defer);
	if (r->noop_timer != NULL)
		event_free(r->noop_timer);
	framer_writer_free(r->writer);
	buf_free(r->out);
	smtp_reply_free(r->reply);
	free(r);
}

void
relay_set_config(struct relay *r, const struct config *cfg)
{
	struct buf	*key;

	r->cfg = cfg;
	/* The TLS state lives as long as its configuration does. */
	r->utls = utls_find(cfg);
	/*
	 * An idle connection made for another upstream identity (address,
	 * TLS, AUTH) must not carry this configuration's mail: close it,
	 * the next MAIL connects afresh.
	 */
	if (r->io != NULL && r->state == RELAY_READY) {
		key = uppool_key(&cfg->upstream);
		if (key == NULL || r->conn_key == NULL ||
		    buf_len(key) != buf_len(r->conn_key) ||
		    memcmp(buf_data(key), buf_data(r->conn_key),
		    buf_len(key)) != 0) {
			log_event(LOG_INFO, r->sid, "upstream_config_changed",
			    "action=reconnect");
			relay_enter(r, RELAY_IDLE);
		}
		buf_free(key);
	}
}

void
relay_set_client(struct relay *r, const struct relay_client *c)
{
	r->client = *c;
	r->helo[0] = '\0';
	if (c->helo != NULL)
		snprintf(r->helo, sizeof(r->helo), "%s", c->helo);
	r->client.helo = r->helo;
}

int
relay_is_file(const struct relay *r)
{
	return r->cfg->upstream.is_file;
}

unsigned int
relay_upstream_ext(const struct relay *r)
{
	if (r->cfg->upstream.is_file)
		return SMTP_EXT_ALL;
	return r->caps.ext;
}

/* Run op now if the connection is free, else when it becomes free. */
static void
relay_start(struct relay *r, enum relay_op op)
{
	r->op = op;
	r->pending = op;
	switch (r->state) {
	case RELAY_IDLE:
		if (op == RELAY_OP_MAIL && !r->tls_fallback &&
		    relay_unpark(r) == 0)
			relay_enter(r, RELAY_READY);
		else
			relay_enter(r, RELAY_CONNECT);
		break;
	case RELAY_READY:
	case RELAY_TXN:
		relay_run_pending(r);
		break;
	default:
		/* Busy with NOOP, RSET or the handshake: run on READY/TXN. */
		break;
	}
}

void
relay_mail(struct relay *r, const struct smtp_cmd *c)
{
	smtp_cmd_copy(r->mail, c);
	buf_reset(r->rcpts);
	r->replay_ok = 1;
	r->replaying = 0;
	r->retried = 0;
	r->eightbit = 0;
	r->reopening = 0;
	r->reopened = 0;
	if (r->cfg->upstream.is_file) {
		r->op = RELAY_OP_MAIL;
		relay_defer(r, 250, "250 2.1.0 Ok\r\n");
		return;
	}
	relay_start(r, RELAY_OP_MAIL);
}

void
relay_rcpt(struct relay *r, const struct smtp_cmd *c)
{
	smtp_cmd_copy(r->rcpt, c);
	if (r->cfg->upstream.is_file) {
		r->op = RELAY_OP_RCPT;
		relay_defer(r, 250, "250 2.1.5 Ok\r\n");
		return;
	}
	if (r->state == RELAY_IDLE) {
		/* The connection died since MAIL: the transaction is gone. */
		r->op = RELAY_OP_RCPT;
		relay_answer_str(r, "451 4.4.2 Error: upstream connection "
		    "lost");
		return;
	}
	relay_start(r, RELAY_OP_RCPT);
}

void
relay_data(struct relay *r, const struct buf *head, struct spool *body)
{
	char	 line[SMTP_REPLY_LINE_MAX];

	r->head = head;
	r->body = body;
	r->qid[0] = '\0';
	if (r->cfg->upstream.is_file) {
		r->op = RELAY_OP_DATA;
		if (relay_file_write(r) == -1) {
			log_event(LOG_ERR, r->sid, "sink_write_failed",
			    "errno=%d", errno);
			metrics_upstream_reply(0);
			relay_defer(r, 451, "451 4.3.0 Error: queue file "
			    "write error\r\n");
			return;
		}
		snprintf(line, sizeof(line), "250 2.0.0 Ok: queued as %s\r\n",
		    r->qid);
		metrics_upstream_reply(250);
		relay_defer(r, 250, line);
		return;
	}
	if (r->state == RELAY_IDLE) {
		r->op = RELAY_OP_DATA;
		if (!relay_retry(r, "idle_dead"))
			relay_answer_str(r, "451 4.4.2 Error: upstream "
			    "connection lost");
		return;
	}
	relay_start(r, RELAY_OP_DATA);
}

void
relay_declare_8bit(struct relay *r)
{
	if (smtp_cmd_body(r->mail) == SMTP_BODY_8BITMIME)
		return;
	/* Every MAIL from now on declares it, a retry's replay too; */
	smtp_cmd_set_body(r->mail, SMTP_BODY_8BITMIME);
	/* the one already open upstream without it is reopened. */
	r->eightbit = r->state != RELAY_IDLE && r->state != RELAY_CONNECT;
}

void
relay_rset(struct relay *r)
{
	r->op = RELAY_OP_NONE;
	r->pending = RELAY_OP_NONE;
	if (r->cfg->upstream.is_file) {
		event_del(r->defer);
		return;
	}
	switch (r->state) {
	case RELAY_TXN:
		relay_enter(r, RELAY_RSET);
		break;
	case RELAY_READY:
	case RELAY_IDLE:
		break;
	default:
		/* Mid-command: the answer would be stale; start afresh. */
		relay_enter(r, RELAY_IDLE);
		break;
	}
}
