/*
 * session — the client-facing SMTP state machine (RFC 5321 4.1, 4.3.2;
 * RFC 2920; RFC 3207 STARTTLS, RFC 8314 implicit TLS; hostile-inputs.md
 * A, B, D, E (TL-01 to TL-04), G, H).
 *
 * States are enum session_state; session_enter() is the only place that
 * changes state, logs the change and performs the entry action (greeting,
 * 354, deadlines, holding input while the upstream works).  Commands go
 * through session_cmds[] {verb, allowed states, handler}; a verb outside
 * its states gets its 503 and the state is unchanged (PR-05).  libevent
 * callbacks only feed bytes and upstream answers into this machine.
 *
 * Invariants:
 * - Commands are processed strictly one at a time: while the upstream
 *   answers (SESSION_WAIT) input is held, so pipelined commands of the
 *   next transaction wait for this one's final reply (SM-07).
 * - Command lines end with CRLF and hold no other CR, LF or NUL (SM-04);
 *   DATA ends only at CR LF . CR LF (framer.h, SM-01/SM-02).
 * - The client hears 2xx to its "." only when the upstream said 2xx to
 *   ours (promise 1): that reply comes from relay.c verbatim in meaning.
 * - What is hashed is what is spooled and sent: the header section kept
 *   here (after our submission edits, DK-15) and the body bytes exactly
 *   as the framer gave them.
 * - A transaction uses the snapshot current at its MAIL to its end
 *   (promise 6); the tenant is found again in that snapshot.
 * - The session frees itself only from its deferred teardown event, never
 *   inside an io or relay callback.
 * - STARTTLS: plaintext that followed the command is discarded, never
 *   executed (TL-01), and everything learnt before the handshake (EHLO
 *   name, transaction) is forgotten (TL-02).  A connection that started
 *   TLS never reads cleartext again: a TLS close or error ends it (TL-04).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <sodium.h>

#include "config/config.h"
#include "keys/signer.h"
#include "keys/store.h"
#include "proxy/arcd.h"
#include "proxy/auth.h"
#include "proxy/framer.h"
#include "proxy/io.h"
#include "proxy/log.h"
#include "proxy/metrics.h"
#include "proxy/msg/addr.h"
#include "proxy/msg/buf.h"
#include "proxy/msg/canon.h"
#include "proxy/msg/dkim.h"
#include "proxy/msg/hash.h"
#include "proxy/msg/hdr.h"
#include "proxy/policy.h"
#include "proxy/proxyproto.h"
#include "proxy/ratelimit.h"
#include "proxy/relay.h"
#include "proxy/session.h"
#include "proxy/signplan.h"
#include "proxy/smtp_cmd.h"
#include "proxy/smtp_reply.h"
#include "proxy/snapshot.h"
#include "proxy/spool.h"
#include "proxy/tls.h"

#define SESSION_HOST_MAX	256
#define SESSION_HELO_MAX	255	/* RFC 5321 4.5.3.1.2 domain length */
#define SESSION_SIGS_MAX	SIGNPLAN_SIGS_MAX
#define SESSION_REPLY_MAX	(SMTP_REPLY_LINE_MAX * 16)
#define SESSION_HEAD_EXTRA	(64 * 1024)	/* our fields: Received, sigs */
#define SESSION_TRACE_MAX	64	/* HELO octets kept in Received */
#define SESSION_PIPE_LOG	100	/* escaped octets logged (SM-06, PR-03) */
#define SESSION_ABORT_FLUSH_S	1.0	/* last reply after the drain timeout */
#define SESSION_FOLD_SHOULD	78	/* RFC 5322 2.1.1 line length SHOULD */
#define SESSION_AUTH_CMD	32	/* "AUTH LOGIN " ahead of a response */
/*
 * Memory part of the spool for a message announced (MAIL SIZE=) larger
 * than spool_memory_max: it spills anyway, and keeping the full memory
 * part as well would multiply memory by the number of big uploads
 * (promise 5, RS-03).
 */
#define SESSION_SPILL_MEM	(64 * 1024)
/* What we advertise (EHLO); BDAT after HELO is refused (PR-10). */
#define SESSION_EXT	(SMTP_EXT_SIZE | SMTP_EXT_8BITMIME | \
			 SMTP_EXT_SMTPUTF8 | SMTP_EXT_PIPELINING | \
			 SMTP_EXT_ENHANCED | SMTP_EXT_CHUNKING)

enum session_state {
	SESSION_GREETING,	/* connected, greeting delayed */
	SESSION_HELO,		/* greeted; HELO/EHLO first */
	SESSION_READY,		/* no transaction */
	SESSION_MAIL,		/* MAIL accepted, no recipient yet */
	SESSION_RCPT,		/* a recipient accepted */
	SESSION_DATA,		/* reading message content */
	SESSION_WAIT,		/* the upstream has our command; input held */
	SESSION_AUTH,		/* SASL exchange: a response line is due */
	SESSION_CLOSING,	/* last reply being flushed */
	SESSION_TLS,		/* TLS handshake; input held */
	SESSION_STATE_COUNT
};

static const char *const session_state_names[] = {
	"greeting", "helo", "ready", "mail", "rcpt", "data", "wait", "auth",
	"closing", "tls"
};

/* What the session waits for in SESSION_WAIT. */
enum session_wait {
	WAIT_NONE,
	WAIT_MAIL,
	WAIT_RCPT,
	WAIT_ARC,	/* our ARC job: key lookups, then the seal */
	WAIT_FINAL,
	WAIT_AUTH		/* the verifier pool has the password */
};

struct session {
	struct io		*io;
	struct relay		*relay;
	struct snapshot		*snap;
	const struct config	*cfg;
	const struct config_tenant *tenant;
	struct session_owner	 owner;
	void			*tag;
	struct sockaddr_storage	 peer;
	socklen_t		 peerlen;
	int			 proxy_accept;	/* PROXY header awaited */
	struct event_base	*base;
	/* SMTP AUTH (auth.h): the listener's setting and the identity. */
	enum config_auth	 auth_mode;
	int			 listen_loopback;
	struct auth_sasl	*sasl;
	uint64_t		 auth_id;	/* verification in flight */
	unsigned int		 auth_fails;	/* in this session (TL-05) */
	int			 discard_auth;	/* the overlong line is AUTH */
	char			 auth_user[AUTH_USER_MAX + 1];	/* "": none */
	char			 auth_try[AUTH_USER_MAX + 1];
	char			 sid[24];
	char			 host[SESSION_HOST_MAX];
	char			 helo[SESSION_HELO_MAX + 1];
	enum session_state	 state;
	enum session_wait	 wait;
	int			 esmtp;
	int			 discarding;	/* inside an overlong line */
	int			 draining;
	int			 client_gone;
	int			 torn_down;
	uint64_t		 errors;
	uint64_t		 junk;
	struct event		*greet_ev;
	struct event		*delay_ev;
	struct event		*free_ev;
	struct buf		*line;
	struct buf		*reply;
	struct buf		*delayed;	/* a reply held by the error delay */
	struct smtp_cmd		*cmd;
	struct smtp_cmd		*mail;
	/* The transaction. */
	size_t			 nrcpt;
	int			 smtputf8;
	uint64_t		 messages;
	struct framer		*framer;
	struct spool		*spool;
	size_t			 spool_mem;	/* its memory part */
	struct buf		*hdr;		/* header section as received */
	int			 in_header;
	int			 bol, bol_cr;
	int			 bdat;		/* the message came by BDAT */
	uint64_t		 bdat_size;	/* the chunk being read */
	uint64_t		 bdat_skip;	/* refused chunk left to drop */
	struct hdr_list		*hl;
	struct hash_body	*hb;
	struct dkim_signer	*signer;
	struct arcd		*arc;		/* NULL: no ARC for this domain */
	struct signplan_sig	 sigs[SESSION_SIGS_MAX];
	size_t			 nsigs;
	struct buf		*head;		/* what relay_data sends */
	int			 vcode;		/* refusal decided mid-DATA */
	struct buf		*verdict;
	char			 from_domain[CONFIG_DOMAIN_MAX + 1];
	char			 d_domain[CONFIG_DOMAIN_MAX + 1];
	/* TLS: the listener's context (a reference), the client certificate. */
	struct ssl_ctx_st	*tls_ctx;
	int			 implicit_tls;
	int			 has_cert;
	uint8_t			 cert_fp[TLS_FP_LEN];
};

typedef void	(*session_handler)(struct session *);

#define ST(x)	(1u << (x))
#define ST_CMD	(ST(SESSION_HELO) | ST(SESSION_READY) | ST(SESSION_MAIL) | \
		 ST(SESSION_RCPT))
#define ST_TXN	(ST(SESSION_MAIL) | ST(SESSION_RCPT))
#define ST_HELOED	(ST(SESSION_READY) | ST(SESSION_MAIL) | \
			 ST(SESSION_RCPT))

static void	session_enter(struct session *, enum session_state);
static void	session_process(struct session *);
static void	session_teardown(struct session *);
static void	session_read_cb(void *, struct evbuffer *);
static void	session_event_cb(void *, enum io_event);
static void	session_relay_cb(void *, const struct relay_reply *);
static int	session_content(void *, const uint8_t *, size_t);
static void	session_arc_done(void *, enum arcd_outcome);
static void	session_eod_refuse(struct session *, const char *);
static void	session_send_message(struct session *);
static void	session_end_of_data(struct session *);

static void	cmd_helo(struct session *);
static void	cmd_ehlo(struct session *);
static void	cmd_mail(struct session *);
static void	cmd_rcpt(struct session *);
static void	cmd_data(struct session *);
static void	cmd_bdat(struct session *);
static void	cmd_rset(struct session *);
static void	cmd_noop(struct session *);
static void	cmd_quit(struct session *);
static void	cmd_vrfy(struct session *);
static void	cmd_not_impl(struct session *);
static void	cmd_xclient(struct session *);
static void	cmd_starttls(struct session *);
static void	session_tls_start(struct session *, struct ssl_st *,
		    enum io_tls_role);
static void	cmd_auth(struct session *);
static int	session_auth_overlong(struct session *);

static const struct session_cmd {
	enum smtp_verb	 verb;
	unsigned int	 states;	/* where the verb is allowed */
	session_handler	 fn;
	int		 junk;		/* counts toward the junk limit */
	const char	*refused;	/* reply outside those states */
} session_cmds[] = {
	{ SMTP_VERB_EHLO, ST_CMD, cmd_ehlo, 0, NULL },
	{ SMTP_VERB_HELO, ST_CMD, cmd_helo, 0, NULL },
	{ SMTP_VERB_MAIL, ST(SESSION_READY), cmd_mail, 0,
	    "503 5.5.1 Error: nested MAIL command" },
	{ SMTP_VERB_RCPT, ST_TXN, cmd_rcpt, 0,
	    "503 5.5.1 Error: need MAIL command" },
	{ SMTP_VERB_DATA, ST_TXN, cmd_data, 0,
	    "503 5.5.1 Error: need RCPT command" },
	{ SMTP_VERB_BDAT, ST_CMD, cmd_bdat, 0, NULL },
	{ SMTP_VERB_RSET, ST_CMD, cmd_rset, 1, NULL },
	{ SMTP_VERB_NOOP, ST_CMD, cmd_noop, 1, NULL },
	{ SMTP_VERB_QUIT, ST_CMD, cmd_quit, 0, NULL },
	{ SMTP_VERB_VRFY, ST_CMD, cmd_vrfy, 1, NULL },
	{ SMTP_VERB_EXPN, ST_CMD, cmd_vrfy, 1, NULL },
	{ SMTP_VERB_HELP, ST_CMD, cmd_not_impl, 1, NULL },
	{ SMTP_VERB_STARTTLS, ST_CMD, cmd_starttls, 0, NULL },
	{ SMTP_VERB_AUTH, ST_HELOED, cmd_auth, 0, NULL },
	{ SMTP_VERB_ETRN, ST_CMD, cmd_not_impl, 0, NULL },
	{ SMTP_VERB_TURN, ST_CMD, cmd_not_impl, 0, NULL },
	{ SMTP_VERB_XCLIENT, ST_CMD, cmd_xclient, 0, NULL },
	{ SMTP_VERB_XFORWARD, ST_CMD, cmd_xclient, 0, NULL },
};

static const struct io_cb session_io_cb = { session_read_cb,
    session_event_cb };

static double
ms(uint64_t v)
{
	return (double)v / 1000.0;
}

/* The host name, looked up once per worker thread, not per connection. */
static void
session_hostname(char *out, size_t len)
{
	static __thread char	 name[sizeof(((struct session *)0)->host)];

	if (name[0] == '\0' && (gethostname(name, sizeof(name) - 1) == -1 ||
	    name[0] == '\0'))
		snprintf(name, sizeof(name), "localhost");
	snprintf(out, len, "%s", name);
}

/* Replies. */

static void
session_write(struct session *s, const uint8_t *p, size_t n)
{
	if (s->state == SESSION_CLOSING || s->client_gone)
		return;
	if (io_write(s->io, p, n) == -1)
		s->client_gone = 1;
}

/* Close after this reply; nothing else is read. */
static void
session_close(struct session *s, const char *line)
{
	if (line != NULL) {
		buf_reset(s->reply);
		buf_printf(s->reply, "%s\r\n", line);
		session_write(s, buf_data(s->reply), buf_len(s->reply));
	}
	session_enter(s, SESSION_CLOSING);
}

/*
 * Send the reply in s->reply.  Errors are counted (PR-04, Postfix's
 * scheme): past the soft limit every reply waits error_delay_ms on a
 * timer with input held; at the hard limit the session ends with 421.
 * Junk commands past their limit were counted before their reply.
 */
static void
session_send(struct session *s, int counts)
{
	const struct config_limits	*lim = &s->cfg->limits;
	struct timeval			 tv;
	char				 line[SMTP_REPLY_LINE_MAX];

	if (counts)
		s->errors++;
	if (lim->hard_error_limit > 0 && s->errors >= lim->hard_error_limit) {
		session_write(s, buf_data(s->reply), buf_len(s->reply));
		log_event(LOG_WARNING, s->sid, "too_many_errors",
		    "errors=%llu junk=%llu", (unsigned long long)s->errors,
		    (unsigned long long)s->junk);
		snprintf(line, sizeof(line), "421 4.7.0 %s Error: too many "
		    "errors", s->host);
		session_close(s, line);
		return;
	}
	if (lim->soft_error_limit > 0 && s->errors > lim->soft_error_limit &&
	    lim->error_delay_ms > 0) {
		buf_reset(s->delayed);
		buf_append(s->delayed, buf_data(s->reply), buf_len(s->reply));
		io_hold(s->io, IO_HOLD_OWNER);
		tv.tv_sec = (time_t)(lim->error_delay_ms / 1000);
		tv.tv_usec = (suseconds_t)(lim->error_delay_ms % 1000) * 1000;
		evtimer_add(s->delay_ev, &tv);
		return;
	}
	session_write(s, buf_data(s->reply), buf_len(s->reply));
}

static void
session_reply(struct session *s, int code, const char *enh, const char *text)
{
	buf_reset(s->reply);
	smtp_reply_put(s->reply, code, enh, text);
	session_send(s, code >= 400);
}

/* A whole reply line of ours ("503 5.5.1 Error: ..."). */
static void
session_reply_line(struct session *s, const char *line)
{
	buf_reset(s->reply);
	buf_printf(s->reply, "%s\r\n", line);
	session_send(s, line[0] >= '4');
}

static void
session_delay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session	*s = arg;

	(void)fd;
	(void)what;
	session_write(s, buf_data(s->delayed), buf_len(s->delayed));
	buf_reset(s->delayed);
	if (s->state != SESSION_WAIT && s->state != SESSION_CLOSING)
		io_release(s->io, IO_HOLD_OWNER);
}

static int
session_delaying(const struct session *s)
{
	return evtimer_pending(s->delay_ev, NULL);
}

/* Protocol synchronization failures (SM-06, PR-03): log, 554, close. */
static void
session_sync_error(struct session *s, const char *where)
{
	struct evbuffer		*in = io_input(s->io);
	struct log_line		*l;
	uint8_t			 peek[SESSION_PIPE_LOG];
	ev_ssize_t		 n;

	n = evbuffer_copyout(in, peek, sizeof(peek));
	l = log_begin(LOG_WARNING, s->sid, "ill_pipelining");
	log_kv(l, "where", "%s", where);
	log_kv_esc(l, "detail", peek, n > 0 ? (size_t)n : 0);
	log_end(l);
	session_close(s, "554 5.5.0 Error: SMTP protocol synchronization");
}

/* Transactions. */

static void
session_txn_reset(struct session *s)
{
	framer_free(s->framer);
	s->framer = NULL;
	if (s->spool != NULL)
		spool_reset(s->spool);
	buf_free(s->hdr);
	s->hdr = NULL;
	hdr_free(s->hl);
	s->hl = NULL;
	dkim_signer_free(s->signer);
	s->signer = NULL;
	arcd_free(s->arc);
	s->arc = NULL;
	hash_body_free(s->hb);
	s->hb = NULL;
	buf_free(s->head);
	s->head = NULL;
	buf_free(s->verdict);
	s->verdict = NULL;
	s->vcode = 0;
	s->bdat = 0;
	s->nrcpt = 0;
	s->nsigs = 0;
	s->smtputf8 = 0;
	s->from_domain[0] = '\0';
	s->d_domain[0] = '\0';
}

/* Take the current snapshot for a new transaction (promise 6). */
static void
session_refresh_snapshot(struct session *s)
{
	struct snapshot	*cur;

	if ((cur = snapshot_current()) == NULL || cur == s->snap) {
		snapshot_unref(cur);
		return;
	}
	relay_set_config(s->relay, snapshot_config(cur));
	snapshot_unref(s->snap);
	s->snap = cur;
	s->cfg = snapshot_config(cur);
}

/* The state machine. */

static void
session_greet(struct session *s)
{
	buf_reset(s->reply);
	smtp_reply_printf(s->reply, 220, NULL, "%s ESMTP signet", s->host);
	session_write(s, buf_data(s->reply), buf_len(s->reply));
}

static void
session_enter(struct session *s, enum session_state st)
{
	const struct config_limits	*lim = &s->cfg->limits;
	enum session_state		 old = s->state;
	struct timeval			 tv;
	char				 line[SMTP_REPLY_LINE_MAX];

	if (old == SESSION_CLOSING)
		return;
	s->state = st;
	if (old != st)
		log_event(LOG_DEBUG, s->sid, "state", "from=%s to=%s",
		    session_state_names[old], session_state_names[st]);
	switch (st) {
	case SESSION_GREETING:
		io_deadline(s->io, ms(lim->idle_timeout_ms));
		/* A balancer's PROXY header comes before our greeting. */
		if (s->proxy_accept != 0)
			return;
		/* Implicit TLS (RFC 8314 3.3): the handshake comes first. */
		if (s->implicit_tls && io_tls(s->io) == NULL) {
			session_tls_start(s, tls_server_new(s->tls_ctx),
			    IO_TLS_ACCEPT_BUFFERED);
			return;
		}
		if (lim->greeting_delay_ms > 0) {
			tv.tv_sec = (time_t)(lim->greeting_delay_ms / 1000);
			tv.tv_usec = (suseconds_t)(lim->greeting_delay_ms %
			    1000) * 1000;
			evtimer_add(s->greet_ev, &tv);
			return;
		}
		session_greet(s);
		session_enter(s, SESSION_HELO);
		break;
	case SESSION_READY:
		session_txn_reset(s);
		if (s->draining) {
			snprintf(line, sizeof(line), "421 4.3.2 %s Error: "
			    "service shutting down", s->host);
			session_close(s, line);
			return;
		}
		/* FALLTHROUGH */
	case SESSION_HELO:
	case SESSION_MAIL:
	case SESSION_RCPT:
	case SESSION_AUTH:
		io_deadline(s->io, ms(lim->idle_timeout_ms));
		io_read_bulk(s->io, 0);
		if (!session_delaying(s))
			io_release(s->io, IO_HOLD_OWNER);
		break;
	case SESSION_DATA:
		if (!s->bdat) {
			buf_reset(s->reply);
			smtp_reply_put(s->reply, 354, NULL,
			    "End data with <CR><LF>.<CR><LF>");
			session_write(s, buf_data(s->reply),
			    buf_len(s->reply));
			framer_start_data(s->framer);
		}
		io_deadline_rate(s->io, ms(lim->data_timeout_ms),
		    ms(lim->data_timeout_ms), (double)lim->min_data_rate);
		io_read_bulk(s->io, 1);
		io_release(s->io, IO_HOLD_OWNER);
		break;
	case SESSION_WAIT:
		io_hold(s->io, IO_HOLD_OWNER);
		io_deadline(s->io, 0);
		break;
	case SESSION_CLOSING:
		io_deadline(s->io, ms(lim->idle_timeout_ms));
		io_close_after_flush(s->io);
		break;
	case SESSION_TLS:
		/* TL-03: a stalled handshake has its own bound. */
		io_deadline(s->io, ms(lim->tls_handshake_timeout_ms));
		break;
	case SESSION_STATE_COUNT:
		abort();
	}
}

static void
session_wait(struct session *s, enum session_wait w)
{
	s->wait = w;
	session_enter(s, SESSION_WAIT);
}

static void
session_greet_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session	*s = arg;

	(void)fd;
	(void)what;
	/* An early talker sent input before our greeting (PR-03). */
	if (io_input_pending(s->io) > 0) {
		session_sync_error(s, "greeting");
		return;
	}
	session_greet(s);
	session_enter(s, SESSION_HELO);
}

/* Commands. */

static void
session_set_helo(struct session *s)
{
	const uint8_t	*a;
	size_t		 n;

	a = smtp_cmd_arg(s->cmd, &n);
	if (n > SESSION_HELO_MAX)
		n = SESSION_HELO_MAX;
	memcpy(s->helo, a, n);
	s->helo[n] = '\0';
}

static void
session_client_info(struct session *s)
{
	struct relay_client	 c;

	c.addr = io_peer_addr(s->io);
	c.port = io_peer_port(s->io);
	c.helo = s->helo;
	relay_set_client(s->relay, &c);
}

/* SMTP AUTH (RFC 4954; TL-05, TL-06, TL-07): the exchange is auth.c's. */

static int
session_is_loopback(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in	*a4 = (const void *)ss;
	const struct sockaddr_in6	*a6 = (const void *)ss;

	if (ss->ss_family == AF_INET)
		return (ntohl(a4->sin_addr.s_addr) >> 24) == 127;
	if (ss->ss_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr);
	return 0;
}

static void
session_auth_listener(struct session *s, const struct config_listener *ls)
{
	s->auth_mode = ls != NULL ? ls->auth : CONFIG_AUTH_OFF;
	s->listen_loopback = ls != NULL &&
	    session_is_loopback(&ls->address.sa);
}

/* Passwords only under TLS, or on a listener bound to loopback (TL-06). */
static int
session_auth_offered(const struct session *s)
{
	return s->auth_mode != CONFIG_AUTH_OFF &&
	    (io_tls(s->io) != NULL || s->listen_loopback);
}

/*
 * The tenant the client acts for: its AUTH user's, which wins over its
 * network and is fixed for the session; else, unless the listener wants
 * AUTH, its network's (promise 4).
 */
static const struct config_tenant *
session_identity(struct session *s)
{
	if (s->auth_user[0] != '\0')
		return config_tenant_for_user(s->cfg, s->auth_user, NULL);
	if (s->auth_mode == CONFIG_AUTH_REQUIRED)
		return NULL;
	return policy_tenant_for_client(s->cfg,
	    (const struct sockaddr *)&s->peer);
}

/*
 * A failed login: counted for the client's address across workers, the
 * 535 held back longer for each failure from that address; the session
 * ends at limits.auth_failures (TL-05).
 */
static void
session_auth_failed(struct session *s, const char *reply)
{
	const struct config_limits	*lim = &s->cfg->limits;
	struct log_line			*l;
	struct timeval			 tv;
	uint64_t			 d;
	unsigned int			 n;

	n = auth_failures_add((const struct sockaddr *)&s->peer);
	s->auth_fails++;
	s->errors++;
	l = log_begin(LOG_WARNING, s->sid, "auth_failed");
	log_kv_esc(l, "user", s->auth_try, strlen(s->auth_try));
	log_kv(l, "client", "%s", io_peer_addr(s->io));
	log_kv(l, "mech", "%s", auth_sasl_mech(s->sasl));
	log_kv(l, "failures", "%u", n);
	log_end(l);
	metrics_refusal("auth_failed");
	s->auth_try[0] = '\0';
	auth_sasl_reset(s->sasl);
	if (s->auth_fails >= lim->auth_failures) {
		session_close(s, "421 4.7.0 Error: too many authentication "
		    "failures");
		return;
	}
	d = auth_fail_delay_ms(lim->error_delay_ms, n);
	buf_reset(s->delayed);
	buf_printf(s->delayed, "%s\r\n", reply);
	if (d == 0) {
		session_write(s, buf_data(s->delayed), buf_len(s->delayed));
		buf_reset(s->delayed);
	} else {
		io_hold(s->io, IO_HOLD_OWNER);
		tv.tv_sec = (time_t)(d / 1000);
		tv.tv_usec = (suseconds_t)(d % 1000) * 1000;
		evtimer_add(s->delay_ev, &tv);
	}
	session_enter(s, SESSION_READY);
}

/* The verifier's answer, on this worker's thread (auth_verify). */
static void
session_auth_done(void *arg, uint64_t id, int ok)
{
	struct session	*s = arg;
	struct log_line	*l;

	if (id != s->auth_id || s->state != SESSION_WAIT ||
	    s->wait != WAIT_AUTH)
		return;
	s->auth_id = 0;
	s->wait = WAIT_NONE;
	if (!ok) {
		session_auth_failed(s, "535 5.7.8 Error: authentication "
		    "failed");
		return;
	}
	memcpy(s->auth_user, s->auth_try, sizeof(s->auth_user));
	s->auth_try[0] = '\0';
	s->tenant = config_tenant_for_user(s->cfg, s->auth_user, NULL);
	l = log_begin(LOG_INFO, s->sid, "auth");
	log_kv_esc(l, "user", s->auth_user, strlen(s->auth_user));
	log_kv(l, "tenant", "%s", s->tenant != NULL ? s->tenant->name : "-");
	log_kv(l, "mech", "%s", auth_sasl_mech(s->sasl));
	log_end(l);
	auth_sasl_reset(s->sasl);
	session_reply(s, 235, "2.7.0", "Authentication successful");
	session_enter(s, SESSION_READY);
}

static void
session_auth_step(struct session *s, enum auth_step st, const char *reply)
{
	const struct config_user	*u = NULL;
	const uint8_t			*pw;
	size_t				 pwlen;

	switch (st) {
	case AUTH_STEP_CHALLENGE:
		buf_reset(s->reply);
		buf_printf(s->reply, "%s\r\n", reply);
		session_write(s, buf_data(s->reply), buf_len(s->reply));
		session_enter(s, SESSION_AUTH);
		return;
	case AUTH_STEP_FAIL:
		session_reply_line(s, reply);
		session_enter(s, SESSION_READY);
		return;
	case AUTH_STEP_REFUSED:
		session_auth_failed(s, reply);
		return;
	case AUTH_STEP_DONE:
		break;
	}
	snprintf(s->auth_try, sizeof(s->auth_try), "%s",
	    auth_sasl_user(s->sasl));
	(void)config_tenant_for_user(s->cfg, s->auth_try, &u);
	pw = auth_sasl_password(s->sasl, &pwlen);
	s->auth_id = auth_verify(s->base, u != NULL ? u->password : NULL, pw,
	    pwlen, session_auth_done, s);
	if (s->auth_id == 0) {
		auth_sasl_reset(s->sasl);
		log_event(LOG_ERR, s->sid, "auth_unavailable", "client=%s",
		    io_peer_addr(s->io));
		session_reply_line(s, "454 4.7.0 Temporary authentication "
		    "failure");
		session_enter(s, SESSION_READY);
		return;
	}
	session_wait(s, WAIT_AUTH);
}

/* One response line of the exchange (CRLF included). */
static void
session_auth_line(struct session *s, const uint8_t *p, size_t n)
{
	enum auth_step	 st;
	const char	*reply;

	if (n < 2 || p[n - 2] != '\r' || memchr(p, '\0', n) != NULL) {
		auth_sasl_reset(s->sasl);
		session_reply_line(s, "501 5.5.2 Cannot decode response");
		session_enter(s, SESSION_READY);
		return;
	}
	st = auth_sasl_next(s->sasl, p, n - 2, &reply);
	session_auth_step(s, st, reply);
}

static void
cmd_auth(struct session *s)
{
	const uint8_t	*mech, *resp;
	size_t		 mlen, rlen;
	enum auth_step	 st;
	const char	*reply;

	if (s->auth_mode == CONFIG_AUTH_OFF) {
		cmd_not_impl(s);
		return;
	}
	if (!session_auth_offered(s)) {
		session_reply_line(s, "538 5.7.11 Encryption required for "
		    "requested authentication mechanism");
		return;
	}
	if (s->auth_user[0] != '\0') {
		session_reply_line(s, "503 5.5.1 Error: already "
		    "authenticated");
		return;
	}
	if (s->state == SESSION_MAIL || s->state == SESSION_RCPT) {
		session_reply_line(s, "503 5.5.1 Error: MAIL transaction in "
		    "progress");
		return;
	}
	/* TL-05: an address past its failures is not even checked. */
	if (auth_failures_get((const struct sockaddr *)&s->peer) >=
	    s->cfg->limits.auth_failures) {
		log_event(LOG_WARNING, s->sid, "auth_throttled", "client=%s",
		    io_peer_addr(s->io));
		metrics_refusal("auth_throttled");
		session_reply_line(s, "454 4.7.0 Temporary authentication "
		    "failure");
		return;
	}
	if (s->sasl == NULL && (s->sasl = auth_sasl_new()) == NULL) {
		session_reply_line(s, "454 4.7.0 Temporary authentication "
		    "failure");
		return;
	}
	session_refresh_snapshot(s);
	mech = smtp_cmd_arg(s->cmd, &mlen);
	resp = smtp_cmd_auth_response(s->cmd, &rlen);
	st = auth_sasl_start(s->sasl, mech, mlen, resp, rlen, &reply);
	session_auth_step(s, st, reply);
}

static void
cmd_ehlo(struct session *s)
{
	char		 size[32];
	const char	*lines[12];
	size_t		 n = 0;

	if (s->state == SESSION_MAIL || s->state == SESSION_RCPT)
		relay_rset(s->relay);
	session_set_helo(s);
	session_client_info(s);
	s->esmtp = 1;
	snprintf(size, sizeof(size), "SIZE %llu",
	    (unsigned long long)s->cfg->limits.max_message_size);
	lines[n++] = s->host;
	lines[n++] = "PIPELINING";
	lines[n++] = size;
	lines[n++] = "8BITMIME";
	lines[n++] = "SMTPUTF8";
	if (s->tls_ctx != NULL && io_tls(s->io) == NULL)
		lines[n++] = "STARTTLS";
	lines[n++] = "CHUNKING";
	lines[n++] = "ENHANCEDSTATUSCODES";
	if (session_auth_offered(s))
		lines[n++] = "AUTH PLAIN LOGIN";
	buf_reset(s->reply);
	smtp_reply_multi(s->reply, 250, NULL, lines, n);
	session_send(s, 0);
	session_enter(s, SESSION_READY);
}

static void
cmd_helo(struct session *s)
{
	if (s->state == SESSION_MAIL || s->state == SESSION_RCPT)
		relay_rset(s->relay);
	session_set_helo(s);
	session_client_info(s);
	s->esmtp = 0;
	buf_reset(s->reply);
	smtp_reply_put(s->reply, 250, NULL, s->host);
	session_send(s, 0);
	session_enter(s, SESSION_READY);
}

/* DK-07: 1 (and answered) when the tenant is over its rate of kind. */
static int
session_rate_over(struct session *s, enum ratelimit_kind kind)
{
	char	 line[SMTP_REPLY_LINE_MAX];

	if (ratelimit_check(s->tenant, kind, line, sizeof(line)) !=
	    RATELIMIT_OVER)
		return 0;
	log_event(LOG_WARNING, s->sid, "rate_limited", "tenant=%s kind=%s",
	    s->tenant->name, kind == RATELIMIT_MESSAGES ? "messages" :
	    "recipients");
	metrics_refusal(kind == RATELIMIT_MESSAGES ? "rate_messages" :
	    "rate_recipients");
	session_reply_line(s, line);
	return 1;
}

static void
cmd_mail(struct session *s)
{
	const struct config_tenant	*t;
	const uint8_t	*addr;
	size_t		 n;
	uint64_t	 size;
	char		 line[SMTP_REPLY_LINE_MAX];
	struct log_line	*l;

	session_refresh_snapshot(s);
	s->tenant = session_identity(s);
	/* A pinned client certificate names its tenant (tls.h), unless
	 * AUTH already named one. */
	if (s->auth_user[0] == '\0' && s->has_cert &&
	    (t = policy_tenant_for_cert(s->cfg, s->cert_fp)) != NULL)
		s->tenant = t;
	if (s->tenant == NULL) {
		log_event(LOG_INFO, s->sid, "relay_denied", "client=%s",
		    io_peer_addr(s->io));
		metrics_refusal("relay_denied");
		session_reply(s, 530, "5.7.0", "Authentication required");
		return;
	}
	if (smtp_cmd_size(s->cmd, &size) &&
	    size > s->cfg->limits.max_message_size) {
		session_reply_line(s, "552 5.3.4 Message size exceeds fixed "
		    "limit");
		return;
	}
	addr = smtp_cmd_addr(s->cmd, &n);
	if (policy_envelope_sender(s->cfg, s->tenant, (const char *)addr, n)
	    != POLICY_OK) {
		l = log_begin(LOG_WARNING, s->sid, "sender_not_owned");
		log_kv(l, "tenant", "%s", s->tenant->name);
		log_kv_esc(l, "from", addr, n);
		log_end(l);
		metrics_refusal("sender_not_owned");
		buf_reset(s->reply);
		buf_append_str(s->reply, "553 5.7.1 <");
		/* The address is the parser's: printable, bounded. */
		buf_append_escaped(s->reply, addr, n, SMTP_PATH_MAX);
		buf_printf(s->reply, ">: Sender address rejected: not owned "
		    "by %s\r\n", s->tenant->name);
		session_send(s, 1);
		return;
	}
	if (session_rate_over(s, RATELIMIT_MESSAGES))
		return;
	if (!relay_is_file(s->relay) && s->cfg->spool != NULL &&
	    spool_space_check(s->cfg->spool, s->cfg->limits.max_message_size)
	    == SPOOL_SPACE_SHORT) {
		log_event(LOG_ERR, s->sid, "spool_space_short", "tenant=%s",
		    s->tenant->name);
		snprintf(line, sizeof(line), "%s", SPOOL_REPLY_SPACE);
		session_reply_line(s, line);
		return;
	}
	smtp_cmd_copy(s->mail, s->cmd);
	s->smtputf8 = smtp_cmd_smtputf8(s->cmd);
	session_wait(s, WAIT_MAIL);
	relay_mail(s->relay, s->cmd);
}

static void
cmd_rcpt(struct session *s)
{
	if (s->bdat) {
		session_reply_line(s, "503 5.5.1 Error: BDAT in progress");
		return;
	}
	if (s->nrcpt >= s->cfg->limits.max_recipients) {
		/* 452 lets the client send the rest later (RFC 5321 4.5.3.1.8). */
		buf_reset(s->reply);
		smtp_reply_put(s->reply, 452, "4.5.3",
		    "Error: too many recipients");
		session_send(s, s->nrcpt >= 2 * s->cfg->limits.max_recipients);
		return;
	}
	if (session_rate_over(s, RATELIMIT_RECIPIENTS))
		return;
	session_wait(s, WAIT_RCPT);
	relay_rcpt(s->relay, s->cmd);
}

static int
session_data_setup(struct session *s)
{
	const struct config_limits	*lim = &s->cfg->limits;

	size_t				 mem = (size_t)s->cfg->spool_memory_max;
	uint64_t			 size;

	if (smtp_cmd_size(s->mail, &size) && size > mem &&
	    mem > SESSION_SPILL_MEM)
		mem = SESSION_SPILL_MEM;
	if (s->spool != NULL && s->spool_mem != mem) {
		spool_free(s->spool);
		s->spool = NULL;
	}
	if (s->spool == NULL && (s->spool = spool_new(s->cfg->spool,
	    mem)) == NULL)
		return -1;
	s->spool_mem = mem;
	spool_reset(s->spool);
	s->framer = framer_new(lim->max_message_size, session_content, s);
	if (s->framer != NULL)
		framer_long_header_lines(s->framer, 1);
	s->hdr = buf_new(lim->header_size_max + 2);
	s->hb = hash_body_new();
	s->verdict = buf_new(SMTP_REPLY_LINE_MAX);
	if (s->framer == NULL || s->hdr == NULL || s->hb == NULL ||
	    s->verdict == NULL)
		return -1;
	s->in_header = 1;
	s->bol = 1;
	s->bol_cr = 0;
	return 0;
}

static void
cmd_data(struct session *s)
{
	int	 pending = io_input_pending(s->io) > 0;

	if (s->bdat) {
		session_reply_line(s, "503 5.5.1 Error: BDAT and DATA cannot "
		    "be mixed");
		return;
	}
	if (s->nrcpt == 0) {
		session_reply_line(s, "554 5.5.1 Error: no valid recipients");
		if (pending)
			session_sync_error(s, "DATA");
		return;
	}
	if (session_data_setup(s) == -1) {
		log_event(LOG_ERR, s->sid, "out_of_memory", "stage=DATA");
		session_reply_line(s, "451 4.3.0 Error: internal error");
		relay_rset(s->relay);
		session_enter(s, SESSION_READY);
		return;
	}
	if (pending) {
		relay_rset(s->relay);
		buf_reset(s->reply);
		smtp_reply_put(s->reply, 354, NULL,
		    "End data with <CR><LF>.<CR><LF>");
		session_write(s, buf_data(s->reply), buf_len(s->reply));
		session_sync_error(s, "DATA");
		return;
	}
	session_enter(s, SESSION_DATA);
}

/*
 * A BDAT chunk that is refused is still read by its count and dropped
 * (RFC 3030 2): its octets are never taken as commands.
 */
static void
session_bdat_skip(struct session *s, const char *line)
{
	s->bdat_skip = smtp_cmd_bdat_size(s->cmd);
	session_reply_line(s, line);
}

/* What the framer said about the input it took (DATA or BDAT). */
static void
session_data_status(struct session *s, enum framer_status st)
{
	char	 text[64];

	if (st == FRAMER_END) {
		session_end_of_data(s);
		return;
	}
	if (st != FRAMER_CHUNK)
		return;
	/* Postfix's wording; problems in the content are told at LAST. */
	snprintf(text, sizeof(text), "Ok: %llu octets received",
	    (unsigned long long)s->bdat_size);
	session_reply(s, 250, "2.0.0", text);
	session_enter(s, SESSION_RCPT);
}

/*
 * BDAT n [LAST] (RFC 3030): the chunk is read by count, without
 * stuffing and without looking for an end; every chunk but the last is
 * answered here, the last by the upstream's final reply.
 */
static void
cmd_bdat(struct session *s)
{
	static const uint8_t	 none;
	size_t			 used;

	if (!s->esmtp) {
		/* Not advertised after HELO: the chunk cannot be told
		 * apart from commands, so close (PR-10). */
		relay_rset(s->relay);
		log_event(LOG_INFO, s->sid, "bdat_refused", "client=%s",
		    io_peer_addr(s->io));
		session_close(s, "521 5.5.1 Error: command not implemented");
		return;
	}
	if (s->state != SESSION_MAIL && s->state != SESSION_RCPT) {
		session_bdat_skip(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (s->nrcpt == 0) {
		session_bdat_skip(s, "554 5.5.1 Error: no valid recipients");
		return;
	}
	if (!s->bdat) {
		if (session_data_setup(s) == -1) {
			log_event(LOG_ERR, s->sid, "out_of_memory",
			    "stage=BDAT");
			relay_rset(s->relay);
			session_bdat_skip(s, "451 4.3.0 Error: internal error");
			session_enter(s, SESSION_READY);
			return;
		}
		framer_start_bdat(s->framer);
		s->bdat = 1;
	}
	s->bdat_size = smtp_cmd_bdat_size(s->cmd);
	framer_bdat_chunk(s->framer, s->bdat_size, smtp_cmd_bdat_last(s->cmd));
	session_enter(s, SESSION_DATA);
	/* An empty chunk has no input to wait for. */
	if (s->bdat_size == 0)
		session_data_status(s, framer_feed(s->framer, &none, 0,
		    &used));
}

static void
cmd_rset(struct session *s)
{
	if (s->state == SESSION_MAIL || s->state == SESSION_RCPT)
		relay_rset(s->relay);
	session_reply(s, 250, "2.0.0", "Ok");
	if (s->state != SESSION_HELO && s->state != SESSION_CLOSING)
		session_enter(s, SESSION_READY);
}

static void
cmd_noop(struct session *s)
{
	session_reply(s, 250, "2.0.0", "Ok");
}

static void
cmd_quit(struct session *s)
{
	char	 line[SMTP_REPLY_LINE_MAX];

	if (s->state == SESSION_MAIL || s->state == SESSION_RCPT)
		relay_rset(s->relay);
	snprintf(line, sizeof(line), "221 2.0.0 Bye");
	session_close(s, line);
}

static void
cmd_vrfy(struct session *s)
{
	/*
	 * RFC 5321 3.5.3: 252 when the address is not verified but mail
	 * to it is accepted.  It says nothing about the address, so it
	 * leaks no more than 502 would (PR-10), and clients that probe
	 * with VRFY before sending keep working.
	 */
	if (smtp_cmd_verb(s->cmd) == SMTP_VERB_VRFY)
		session_reply_line(s, "252 2.5.2 Cannot VRFY user, but will "
		    "accept message and attempt delivery");
	else
		session_reply_line(s, "502 5.5.1 EXPN command is disabled");
}

static void
cmd_not_impl(struct session *s)
{
	session_reply_line(s, "502 5.5.1 Error: command not implemented");
}

static void
cmd_xclient(struct session *s)
{
	session_reply_line(s, "550 5.7.0 Error: insufficient authorization");
}

/*
 * Hand the connection to TLS (takes ownership of ssl, NULL: out of
 * memory).  After STARTTLS (IO_TLS_ACCEPT), plaintext already buffered
 * behind the command was never protected: it is dropped unread and
 * logged (TL-01, CVE-2011-0411).  On an implicit-TLS listener
 * (IO_TLS_ACCEPT_BUFFERED) bytes behind a PROXY header are the
 * ClientHello and go to the handshake.
 */
static void
session_tls_start(struct session *s, struct ssl_st *ssl,
    enum io_tls_role role)
{
	struct log_line	*l;
	uint8_t		 peek[SESSION_PIPE_LOG];
	ev_ssize_t	 n;
	size_t		 dropped = 0;

	n = evbuffer_copyout(io_input(s->io), peek, sizeof(peek));
	/* Held from here: no command runs until the handshake is done. */
	io_hold(s->io, IO_HOLD_OWNER);
	if (ssl == NULL || io_start_tls(s->io, ssl, role, &dropped) == -1) {
		log_event(LOG_ERR, s->sid, "tls_failed", "stage=start "
		    "client=%s", io_peer_addr(s->io));
		metrics_tls_handshake(0);
		s->client_gone = 1;
		session_teardown(s);
		return;
	}
	if (dropped > 0) {
		l = log_begin(LOG_WARNING, s->sid, "starttls_injection");
		log_kv(l, "bytes", "%zu", dropped);
		log_kv_esc(l, "detail", peek, n > 0 ? (size_t)n : 0);
		log_end(l);
		metrics_refusal("starttls_injection");
	}
	session_enter(s, SESSION_TLS);
}

/* TL-03 replies are Postfix's. */
static void
cmd_starttls(struct session *s)
{
	struct ssl_st	*ssl;

	if (io_tls(s->io) != NULL) {
		session_reply_line(s, "554 5.5.1 Error: TLS already active");
		return;
	}
	if (s->tls_ctx == NULL) {
		session_reply_line(s, "502 5.5.1 Error: command not "
		    "implemented");
		return;
	}
	if ((ssl = tls_server_new(s->tls_ctx)) == NULL) {
		log_event(LOG_ERR, s->sid, "tls_failed", "stage=setup");
		session_reply_line(s, "454 4.7.0 TLS not available due to "
		    "local problem");
		return;
	}
	/* A transaction begun in plaintext ends here (TL-02). */
	if (s->state == SESSION_MAIL || s->state == SESSION_RCPT)
		relay_rset(s->relay);
	/* Not delayed by the error count: the handshake follows at once. */
	buf_reset(s->reply);
	smtp_reply_put(s->reply, 220, "2.0.0", "Ready to start TLS");
	session_write(s, buf_data(s->reply), buf_len(s->reply));
	session_tls_start(s, ssl, IO_TLS_ACCEPT);
}

/*
 * The handshake finished.  RFC 3207 4.2: the client starts again with
 * EHLO and nothing it said in plaintext counts (TL-02).  A client
 * certificate pinned by a tenant becomes the session's identity.
 */
static void
session_tls_ready(struct session *s)
{
	struct ssl_st			*ssl = io_tls(s->io);
	const struct config_tenant	*t;
	struct log_line			*l;
	char				 fp[TLS_FP_TEXT];
	char				 line[SMTP_REPLY_LINE_MAX];

	metrics_tls_handshake(1);
	s->has_cert = tls_peer_fingerprint(ssl, s->cert_fp) == 0;
	if (s->has_cert &&
	    (t = policy_tenant_for_cert(s->cfg, s->cert_fp)) != NULL)
		s->tenant = t;
	l = log_begin(LOG_INFO, s->sid, "tls");
	log_kv(l, "version", "%s", tls_version(ssl));
	log_kv(l, "cipher", "%s", tls_cipher(ssl));
	if (s->has_cert) {
		tls_fingerprint_text(s->cert_fp, fp);
		log_kv(l, "client_cert", "%s", fp);
		log_kv(l, "verified", "%s", tls_peer_verified(ssl) ? "yes" :
		    "no");
	}
	log_kv(l, "tenant", "%s", s->tenant != NULL ? s->tenant->name : "-");
	log_end(l);
	s->helo[0] = '\0';
	s->esmtp = 0;
	/* Nothing said in plaintext counts, a SASL exchange included. */
	s->auth_user[0] = '\0';
	s->auth_try[0] = '\0';
	auth_sasl_reset(s->sasl);
	session_txn_reset(s);
	if (s->implicit_tls) {
		session_enter(s, SESSION_GREETING);
		return;
	}
	if (s->draining) {
		snprintf(line, sizeof(line), "421 4.3.2 %s Error: service "
		    "shutting down", s->host);
		session_close(s, line);
		return;
	}
	session_enter(s, SESSION_HELO);
}

/* Handshake failure, stall or garbage: log and close, no reply. */
static void
session_tls_failed(struct session *s, const char *reason)
{
	struct log_line	*l;
	const char	*e = io_tls_error(s->io);

	metrics_tls_handshake(0);
	l = log_begin(LOG_INFO, s->sid, "tls_failed");
	log_kv(l, "reason", "%s", reason);
	log_kv(l, "client", "%s", io_peer_addr(s->io));
	if (e[0] != '\0')
		log_kv_esc(l, "detail", e, strlen(e));
	log_end(l);
	s->client_gone = 1;
	session_teardown(s);
}

static const struct session_cmd *
session_lookup(enum smtp_verb v)
{
	size_t	 i;

	for (i = 0; i < sizeof(session_cmds) / sizeof(session_cmds[0]); i++)
		if (session_cmds[i].verb == v)
			return &session_cmds[i];
	return NULL;
}

/* One complete command line (CRLF included, n >= 2). */
static void
session_command(struct session *s, const uint8_t *p, size_t n)
{
	const struct config_limits	*lim = &s->cfg->limits;
	const struct session_cmd	*c;
	enum smtp_cmd_err		 err;
	enum smtp_verb			 verb;
	struct log_line			*l;
	size_t				 i;

	for (i = 0; i + 2 < n; i++) {
		if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0')
			break;
	}
	if (i + 2 != n || p[n - 2] != '\r') {
		l = log_begin(LOG_WARNING, s->sid, "bad_command_bytes");
		log_kv_esc(l, "detail", p, n);
		log_end(l);
		s->errors++;
		session_close(s, "500 5.5.2 Error: bare <CR>, <LF> or NUL in "
		    "command");
		return;
	}
	/* MAIL AUTH= (RFC 4954 5) is sent by clients that saw AUTH. */
	err = smtp_cmd_parse(s->cmd, p, n - 2, SESSION_EXT |
	    (session_auth_offered(s) ? SMTP_EXT_AUTH : 0),
	    s->smtputf8 ? SMTP_CMD_TXN_UTF8 : 0);
	verb = smtp_cmd_verb(s->cmd);
	c = session_lookup(verb);
	if (c != NULL && c->junk && ++s->junk > lim->junk_command_limit)
		s->errors++;
	/* PR-03: a client that did not say EHLO may not pipeline. */
	if (!s->esmtp && verb != SMTP_VERB_EHLO &&
	    io_input_pending(s->io) > 0) {
		session_sync_error(s, "HELO");
		return;
	}
	if (c != NULL && !(c->states & ST(s->state))) {
		if (s->state == SESSION_HELO)
			session_reply_line(s, "503 5.5.1 Error: send "
			    "HELO/EHLO first");
		else
			session_reply_line(s, c->refused);
		return;
	}
	if (err != SMTP_CMD_OK && verb == SMTP_VERB_BDAT && s->esmtp) {
		/* No count to skip by: what follows cannot be read. */
		relay_rset(s->relay);
		buf_reset(s->reply);
		if (smtp_cmd_reply(s->cmd, err, s->reply) == -1)
			smtp_reply_put(s->reply, 501, "5.5.4",
			    "Syntax: BDAT size [LAST]");
		s->errors++;
		session_write(s, buf_data(s->reply), buf_len(s->reply));
		session_enter(s, SESSION_CLOSING);
		return;
	}
	if (err == SMTP_CMD_ERR_TOO_LONG && verb == SMTP_VERB_AUTH) {
		s->discard_auth = 1;
		session_auth_overlong(s);
		return;
	}
	if (err != SMTP_CMD_OK) {
		buf_reset(s->reply);
		if (smtp_cmd_reply(s->cmd, err, s->reply) == -1)
			smtp_reply_put(s->reply, 500, "5.5.2",
			    "Error: command not recognized");
		l = log_begin(LOG_INFO, s->sid, "bad_command");
		log_kv(l, "error", "%s", smtp_cmd_strerror(err));
		log_kv_esc(l, "detail", p, n - 2);
		log_end(l);
		session_send(s, 1);
		return;
	}
	if (c == NULL) {
		session_reply_line(s, "500 5.5.2 Error: command not "
		    "recognized");
		return;
	}
	c->fn(s);
}

/*
 * AUTH lines may be longer than commands: RFC 4954 4 allows 12288 octets
 * (limits.auth_line_max).  Decided on the line's first octets, so an
 * overlong AUTH line is answered as one (TL-07).
 */
static size_t
session_line_max(struct session *s, struct evbuffer *in)
{
	size_t		 cmd = (size_t)s->cfg->limits.command_line_max;
	size_t		 auth = (size_t)s->cfg->limits.auth_line_max + 2;
	uint8_t		 head[5];

	s->discard_auth = 0;
	if (s->state == SESSION_AUTH) {
		s->discard_auth = 1;
		return auth;
	}
	if (s->auth_mode == CONFIG_AUTH_OFF ||
	    evbuffer_copyout(in, head, sizeof(head)) != sizeof(head) ||
	    evutil_ascii_strncasecmp((const char *)head, "AUTH ", 5) != 0)
		return cmd;
	s->discard_auth = 1;
	auth += SESSION_AUTH_CMD;
	return auth > cmd ? auth : cmd;
}

/* An overlong line was dropped: 1 if it was AUTH's and is answered. */
static int
session_auth_overlong(struct session *s)
{
	if (!s->discard_auth)
		return 0;
	s->discard_auth = 0;
	auth_sasl_reset(s->sasl);
	session_reply_line(s, "500 5.5.6 Authentication exchange line is too "
	    "long");
	if (s->state == SESSION_AUTH)
		session_enter(s, SESSION_READY);
	return 1;
}

/*
 * One line from the input: 1 and the line in s->line, 0 when more input
 * is needed.  Lines over the limit are discarded through their LF and
 * answered here (PR-01).
 */
static int
session_getline(struct session *s, struct evbuffer *in)
{
	struct evbuffer_ptr	 pos;
	size_t			 max = (size_t)s->cfg->limits.command_line_max;
	size_t			 len;

	for (;;) {
		pos = evbuffer_search(in, "\n", 1, NULL);
		if (s->discarding) {
			if (pos.pos < 0) {
				evbuffer_drain(in, evbuffer_get_length(in));
				return 0;
			}
			evbuffer_drain(in, (size_t)pos.pos + 1);
			s->discarding = 0;
			log_event(LOG_INFO, s->sid, "line_too_long",
			    "client=%s", io_peer_addr(s->io));
			if (session_auth_overlong(s))
				return 0;
			session_reply_line(s, "500 5.5.2 Error: command line "
			    "too long");
			return 0;
		}
		max = session_line_max(s, in);
		if (pos.pos < 0) {
			if (evbuffer_get_length(in) < max)
				return 0;
			s->discarding = 1;
			continue;
		}
		len = (size_t)pos.pos + 1;
		if (len > max) {
			s->discarding = 1;
			continue;
		}
		buf_reset(s->line);
		if (buf_append(s->line, evbuffer_pullup(in, (ev_ssize_t)len),
		    len) == -1)
			return 0;
		evbuffer_drain(in, len);
		return 1;
	}
}

/* DATA content. */

static void
session_refuse(struct session *s, const char *event, const char *line)
{
	if (s->vcode != 0)
		return;
	s->vcode = (line[0] - '0') * 100 + (line[1] - '0') * 10 +
	    (line[2] - '0');
	buf_reset(s->verdict);
	buf_printf(s->verdict, "%s\r\n", line);
	log_event(LOG_WARNING, s->sid, event, "tenant=%s code=%d",
	    s->tenant != NULL ? s->tenant->name : "-", s->vcode);
	metrics_refusal(event);
}

static void
session_key_missing(void *arg, const char *domain, const char *sel)
{
	struct session	*s = arg;

	log_event(LOG_WARNING, s->sid, "signing_key_missing", "d=%s s=%s",
	    domain, sel);
}

/* Decide the signatures: the From domain's selectors, then extras. */
static int
session_choose_keys(struct session *s)
{
	const struct config_domain	*d;

	if ((d = config_domain(s->cfg, s->from_domain)) != NULL)
		snprintf(s->d_domain, sizeof(s->d_domain), "%s", d->name);
	s->nsigs = signplan_choose(s->snap, s->tenant, s->from_domain,
	    s->sigs, SESSION_SIGS_MAX, session_key_missing, s);
	return s->nsigs == 0 ? -1 : 0;
}

static const char *
session_hdr_reply(enum hdr_err e)
{
	switch (e) {
	case HDR_ERR_NUL:
		return "554 5.6.0 Error: message contains NUL octets";
	case HDR_ERR_CTRL:
		return "554 5.6.0 Error: control character in header";
	case HDR_ERR_BARE_CR_LF:
		return "550 5.5.2 Error: bare <LF> received";
	case HDR_ERR_FIELD_SIZE:
	case HDR_ERR_SECTION_SIZE:
	case HDR_ERR_TOO_MANY:
		return "552 5.3.4 Error: message header size exceeds limit";
	case HDR_ERR_NOMEM:
		return "451 4.3.0 Error: internal error";
	default:
		return "554 5.6.0 Error: malformed header section";
	}
}

/*
 * A domain with arc enabled gets an ARC job; without its key the mail
 * still goes out DKIM-signed, unsealed, forged claims of our
 * authserv-id deleted all the same, and the gap is logged.
 */
static int
session_arc_begin(struct session *s)
{
	const struct config_domain	*d;
	const struct keys_key		*k;
	const char			*sel = NULL;

	if ((d = config_domain(s->cfg, s->d_domain)) == NULL ||
	    !d->arc.enabled)
		return 0;
	if ((k = snapshot_arc_key(s->snap, d, &sel)) == NULL) {
		log_event(LOG_WARNING, s->sid, "arc_key_missing", "d=%s s=%s",
		    d->name, d->arc.selector);
		return arcd_remove_ours(s->hl, &d->arc, s->sid);
	}
	s->arc = arcd_new(event_get_base(s->free_ev), &s->cfg->resolver,
	    &s->cfg->signing, d->name, &d->arc, k, sel, s->sid, s->hl, s->hb);
	return s->arc == NULL ? -1 : 0;
}

/*
 * DK-11: a header line over 998 octets would be broken by the next hop
 * after signing.  Refold it at existing whitespace (invisible to relaxed
 * canonicalization and to readers), at 78 octets where every piece
 * allows it (RFC 5322 2.1.1 SHOULD), else at 998; a line with no fold
 * point is refused.  -1: refused.
 */
static int
session_refold(struct session *s)
{
	struct log_line	*l;
	const uint8_t	*name;
	size_t		 i, n, before;

	for (i = 0; i < hdr_count(s->hl); i++) {
		if ((before = hdr_longest_line(s->hl, i)) <= HDR_LINE_MAX)
			continue;
		name = hdr_name(s->hl, i, &n);
		l = log_begin(LOG_INFO, s->sid, "header_refolded");
		log_kv_esc(l, "field", name, n);
		log_kv(l, "longest", "%zu", before);
		if (hdr_refold(s->hl, i, SESSION_FOLD_SHOULD) == -1 &&
		    hdr_refold(s->hl, i, HDR_LINE_MAX) == -1) {
			log_kv(l, "result", "no_fold_point");
			log_end(l);
			session_refuse(s, "header_line_too_long",
			    framer_bad_reply(FRAMER_LINE_TOO_LONG));
			return -1;
		}
		log_kv(l, "result", "ok");
		log_end(l);
	}
	return 0;
}

/*
 * The header section is complete: check it (DK-03, DK-04, DK-08, DK-10,
 * DK-13, DK-16, TN-02, TN-03), make the submission edits and add the
 * signatures before any body octet is hashed.
 */
static void
session_header_done(struct session *s)
{
	const struct config_limits	*lim = &s->cfg->limits;
	struct hdr_limits		 hl;
	struct dkim_params		 p;
	enum hdr_err			 e;
	size_t				 off, i;
	const char			*ev;
	char				 line[SMTP_REPLY_LINE_MAX];

	s->in_header = 0;
	if (s->vcode != 0)
		return;
	memset(&hl, 0, sizeof(hl));
	hl.field_max = (size_t)lim->header_field_max;
	hl.section_max = (size_t)lim->header_size_max;
	hl.fields_max = (size_t)lim->header_fields_max;
	e = hdr_parse(buf_data(s->hdr), buf_len(s->hdr), &hl, &s->hl, &off);
	if (e != HDR_OK) {
		session_refuse(s, "bad_header", session_hdr_reply(e));
		return;
	}
	/* DK-08: "From : x" is obsolete syntax that parsers read apart. */
	if (hdr_has_wsp_before_colon(s->hl)) {
		session_refuse(s, "bad_header", session_hdr_reply(HDR_ERR_SYNTAX));
		return;
	}
	if (session_refold(s) == -1)
		return;
	if ((ev = signplan_check_authors(s->cfg, s->tenant, s->hl,
	    s->from_domain, line, sizeof(line))) != NULL) {
		session_refuse(s, ev, line);
		return;
	}
	if (hdr_has_8bit(s->hl) && (!s->smtputf8 ||
	    !(relay_upstream_ext(s->relay) & SMTP_EXT_SMTPUTF8))) {
		session_refuse(s, "utf8_header", "554 5.6.7 Error: UTF-8 "
		    "header needs SMTPUTF8 on both hops");
		return;
	}
	if (!hdr_utf8_valid(s->hl)) {
		session_refuse(s, "bad_utf8", "554 5.6.0 Error: malformed "
		    "UTF-8 in header");
		return;
	}
	if (hdr_count_name(s->hl, "dkim-signature") > 0)
		log_event(LOG_INFO, s->sid, "existing_signature", "count=%zu",
		    hdr_count_name(s->hl, "dkim-signature"));
	if (signplan_submission_edits(s->hl, s->from_domain, time(NULL)) ==
	    -1) {
		session_refuse(s, "out_of_memory",
		    "451 4.3.0 Error: internal error");
		return;
	}
	if (session_choose_keys(s) == -1) {
		if (s->tenant->unsigned_mail == CONFIG_UNSIGNED_ALLOW) {
			log_event(LOG_WARNING, s->sid, "unsigned",
			    "tenant=%s domain=%s", s->tenant->name,
			    s->from_domain);
			return;
		}
		snprintf(line, sizeof(line), "451 4.3.0 Error: no signing "
		    "key for %s yet", s->from_domain);
		session_refuse(s, "no_signing_key", line);
		return;
	}
	/* ARC first: its body hashes must not be crowded out (arc.h). */
	if (session_arc_begin(s) == -1 ||
	    (s->signer = dkim_signer_new(s->hb)) == NULL) {
		session_refuse(s, "out_of_memory",
		    "451 4.3.0 Error: internal error");
		return;
	}
	for (i = 0; i < s->nsigs; i++) {
		signplan_params(s->cfg, s->tenant, &s->sigs[i],
		    (int64_t)time(NULL), &p);
		if (dkim_signer_add(s->signer, s->hl, &p) == -1) {
			session_refuse(s, "sign_failed",
			    "451 4.3.0 Error: internal error");
			return;
		}
	}
	if (s->arc != NULL && arcd_start(s->arc) == -1)
		session_refuse(s, "out_of_memory",
		    "451 4.3.0 Error: internal error");
}

static void
session_body(struct session *s, const uint8_t *p, size_t n)
{
	if (s->vcode != 0 || n == 0)
		return;
	if (s->signer != NULL && hash_body_update(s->hb, p, n) == -1) {
		session_refuse(s, "hash_failed",
		    "451 4.3.0 Error: internal error");
		return;
	}
	spool_write(s->spool, p, n);
}

/* Framer sink: split header section from body as content streams in. */
static int
session_content(void *arg, const uint8_t *p, size_t n)
{
	struct session	*s = arg;
	size_t		 i;

	if (s->vcode != 0)
		return 0;
	if (!s->in_header) {
		session_body(s, p, n);
		return 0;
	}
	for (i = 0; i < n; i++) {
		if (s->bol_cr && p[i] == '\n')
			break;
		s->bol_cr = s->bol && p[i] == '\r';
		s->bol = p[i] == '\n';
	}
	if (i == n) {
		if (buf_append(s->hdr, p, n) == -1)
			session_refuse(s, "header_too_large", "552 5.3.4 "
			    "Error: message header size exceeds limit");
		return 0;
	}
	/* p[i] ends the empty line; the header keeps its last CRLF only. */
	if (buf_append(s->hdr, p, i + 1) == -1) {
		session_refuse(s, "header_too_large", "552 5.3.4 Error: "
		    "message header size exceeds limit");
		return 0;
	}
	buf_truncate(s->hdr, buf_len(s->hdr) - 2);
	session_header_done(s);
	session_body(s, p + i + 1, n - i - 1);
	return 0;
}

static void
session_received(struct session *s, struct buf *out)
{
	struct tm	 tm;
	time_t		 now = time(NULL);
	char		 date[64];

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	buf_append_str(out, "Received: from ");
	buf_append_escaped(out, s->helo, strlen(s->helo), SESSION_TRACE_MAX);
	buf_printf(out, " (%s)\r\n", io_peer_addr(s->io));
	/* RFC 3848: ESMTPS; the comment says how, as Postfix writes it. */
	if (io_tls(s->io) != NULL)
		buf_printf(out, "\t(using %s with cipher %s)\r\n",
		    tls_version(io_tls(s->io)), tls_cipher(io_tls(s->io)));
	/* RFC 3848: ESMTP, plus S under TLS, plus A once authenticated. */
	buf_printf(out, "\tby %s (signet) with %s%s%s id %s;\r\n\t%s\r\n",
	    s->host, !s->esmtp ? "SMTP" : "ESMTP",
	    s->esmtp && io_tls(s->io) != NULL ? "S" : "",
	    s->esmtp && s->auth_user[0] != '\0' ? "A" : "", s->sid, date);
}

static void
session_log_message(struct session *s, int code, const char *outcome,
    const char *qid)
{
	struct log_line	*l;
	const uint8_t	*v;
	size_t		 n;
	long		 i;

	metrics_message(code < 300 ? METRICS_ACCEPTED : code < 500 ?
	    METRICS_TEMPFAIL_4XX : METRICS_REJECTED_5XX);
	l = log_begin(LOG_INFO, s->sid, "message");
	log_kv(l, "tenant", "%s", s->tenant != NULL ? s->tenant->name : "-");
	log_kv(l, "outcome", "%s", outcome);
	log_kv(l, "code", "%d", code);
	if (qid != NULL)
		log_kv_esc(l, "queue_id", qid, strlen(qid));
	if (s->from_domain[0] != '\0')
		log_kv(l, "from_domain", "%s", s->from_domain);
	if (s->nsigs > 0)
		log_kv(l, "d", "%s", s->sigs[0].domain);
	log_kv(l, "signatures", "%zu", s->nsigs);
	log_kv(l, "rcpts", "%zu", s->nrcpt);
	if (s->framer != NULL)
		log_kv(l, "size", "%llu", (unsigned long long)
		    framer_content_bytes(s->framer));
	if (s->hl != NULL && (i = hdr_find(s->hl, "message-id")) != -1) {
		v = hdr_value(s->hl, (size_t)i, &n);
		log_kv_esc(l, "message_id", v, n);
	}
	log_end(l);
}

/* Signatures made for this message and the time they took (metrics). */
static void
session_count_signatures(struct session *s, const struct timespec *t0)
{
	struct timespec	 t1;
	int64_t		 us;
	size_t		 i;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	us = (int64_t)(t1.tv_sec - t0->tv_sec) * 1000000 +
	    (t1.tv_nsec - t0->tv_nsec) / 1000;
	metrics_sign_latency(us > 0 ? (uint64_t)us : 0);
	for (i = 0; i < s->nsigs; i++)
		metrics_signature(s->sigs[i].domain, s->sigs[i].selector,
		    s->sigs[i].alg == KEYS_ALG_ED25519_SHA256 ?
		    "ed25519-sha256" : "rsa-sha256");
}

/* The strict end of data arrived: refuse, or sign and relay. */
static void
session_end_of_data(struct session *s)
{
	enum framer_bad	 bad;
	uint64_t	 off;
	const uint8_t	*ctx;
	size_t		 n;
	struct log_line	*l;
	char		 line[SMTP_REPLY_LINE_MAX];

	io_deadline(s->io, 0);
	s->messages++;
	if ((bad = framer_bad(s->framer, &off)) != FRAMER_GOOD) {
		ctx = framer_bad_context(s->framer, &n);
		l = log_begin(bad == FRAMER_TOO_BIG ? LOG_INFO : LOG_WARNING,
		    s->sid, framer_bad_name(bad));
		log_kv(l, "offset", "%llu", (unsigned long long)off);
		log_kv_esc(l, "detail", ctx, n);
		log_end(l);
		metrics_refusal(framer_bad_name(bad));
		snprintf(line, sizeof(line), "%s", framer_bad_reply(bad));
		if (bad == FRAMER_SINK_FAILED)
			snprintf(line, sizeof(line), "%s", SPOOL_REPLY_WRITE);
		goto refuse;
	}
	/* BDAT may end inside a line; DATA relaying and canonicalization
	 * both end it with CRLF, so that CRLF is spooled and hashed too
	 * (DK-14: what is signed is what is sent). */
	if (s->bdat && framer_line_open(s->framer))
		session_content(s, (const uint8_t *)"\r\n", 2);
	if (s->in_header)
		session_header_done(s);
	if (s->vcode != 0) {
		snprintf(line, sizeof(line), "%.*s",
		    (int)buf_len(s->verdict) - 2, buf_data(s->verdict));
		goto refuse;
	}
	if (spool_failed(s->spool)) {
		log_event(LOG_ERR, s->sid, "spool_write_failed", "errno=%d",
		    spool_errno(s->spool));
		snprintf(line, sizeof(line), "%s", SPOOL_REPLY_WRITE);
		goto refuse;
	}
	if (framer_has_8bit(s->framer) &&
	    !(relay_upstream_ext(s->relay) & SMTP_EXT_8BITMIME)) {
		snprintf(line, sizeof(line), "554 5.6.3 Error: 8-bit content "
		    "but the next hop does not accept 8BITMIME");
		goto refuse;
	}
	/* DK-12: MAIL went upstream before the body showed 8-bit octets
	 * the client did not declare; the relay reopens with BODY=8BITMIME
	 * so no hop downgrades (and breaks) what we sign. */
	if (framer_has_8bit(s->framer) &&
	    smtp_cmd_body(s->mail) != SMTP_BODY_8BITMIME &&
	    smtp_cmd_body(s->mail) != SMTP_BODY_BINARYMIME)
		relay_declare_8bit(s->relay);
	if (s->arc != NULL) {
		/* The seal needs the body hashes; DKIM shares them. */
		snprintf(line, sizeof(line), "451 4.3.0 Error: internal error");
		if (hash_body_final(s->hb) == -1)
			goto refuse;
		session_wait(s, WAIT_ARC);
		arcd_finish(s->arc, session_arc_done, s);
		return;
	}
	session_send_message(s);
	return;
refuse:
	session_eod_refuse(s, line);
}

/*
 * The ARC job is done.  A chain whose result hangs on a failed key
 * lookup is not sealed cv=fail over our own trouble: 451 4.4.3 and the
 * client retries, nothing went upstream.
 */
static void
session_arc_done(void *arg, enum arcd_outcome o)
{
	struct session	*s = arg;

	s->wait = WAIT_NONE;
	switch (o) {
	case ARCD_TEMPFAIL:
		metrics_refusal("arc_tempfail");
		session_eod_refuse(s, "451 4.4.3 Error: ARC key lookup failed, "
		    "try again later");
		return;
	case ARCD_ERROR:
		session_eod_refuse(s, "451 4.3.0 Error: internal error");
		return;
	case ARCD_SEALED:
	case ARCD_NOT_EXTENDED:
		break;
	}
	session_send_message(s);
}

static void
session_eod_refuse(struct session *s, const char *line)
{
	relay_rset(s->relay);
	session_log_message(s, atoi(line), "refused", NULL);
	buf_reset(s->reply);
	buf_printf(s->reply, "%s\r\n", line);
	session_write(s, buf_data(s->reply), buf_len(s->reply));
	session_enter(s, SESSION_READY);
}

/*
 * Our fields on top, newest first: Received, the ARC set, the
 * DKIM-Signatures; then the header section they cover, and the body.
 */
static void
session_send_message(struct session *s)
{
	struct timespec	 t0;

	if ((s->head = buf_new(buf_len(s->hdr) + SESSION_HEAD_EXTRA)) ==
	    NULL)
		goto refuse;
	session_received(s, s->head);
	if (s->arc != NULL && buf_append(s->head, buf_data(arcd_set(s->arc)),
	    buf_len(arcd_set(s->arc))) == -1)
		goto refuse;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (s->signer != NULL && ((s->arc == NULL &&
	    hash_body_final(s->hb) == -1) ||
	    dkim_signer_finish(s->signer, s->hl, s->head) == -1)) {
		log_event(LOG_ERR, s->sid, "sign_failed", "d=%s", s->d_domain);
		goto refuse;
	}
	if (s->signer != NULL)
		session_count_signatures(s, &t0);
	if (hdr_serialize(s->hl, s->head) == -1)
		goto refuse;
	session_wait(s, WAIT_FINAL);
	relay_data(s->relay, s->head, s->spool);
	return;
refuse:
	session_eod_refuse(s, "451 4.3.0 Error: internal error");
}

/* PR-11: the client left after its "." and before our final reply. */
static void
session_log_lost_after_eod(struct session *s, const struct relay_reply *r)
{
	struct log_line		*l;

	l = log_begin(LOG_WARNING, s->sid, "client_lost_after_eod");
	log_kv(l, "outcome", "%s", r->code < 300 ? "accepted" : "refused");
	if (r->queue_id != NULL)
		log_kv_esc(l, "queue_id", r->queue_id, strlen(r->queue_id));
	log_end(l);
}

/* The relay's answer to MAIL, RCPT or the message. */
static void
session_relay_cb(void *arg, const struct relay_reply *r)
{
	struct session		*s = arg;
	enum session_wait	 w = s->wait;

	s->wait = WAIT_NONE;
	if (s->state != SESSION_WAIT)
		return;
	buf_reset(s->reply);
	buf_append(s->reply, r->text, r->len);
	switch (w) {
	case WAIT_MAIL:
		session_send(s, r->code >= 400);
		session_enter(s, r->code < 300 ? SESSION_MAIL : SESSION_READY);
		break;
	case WAIT_RCPT:
		if (r->code < 300)
			s->nrcpt++;
		session_send(s, r->code >= 500);
		session_enter(s, s->nrcpt > 0 ? SESSION_RCPT : SESSION_MAIL);
		break;
	case WAIT_FINAL:
		session_log_message(s, r->code, r->code < 300 ? "accepted" :
		    "refused_upstream", r->queue_id);
		if (s->client_gone) {
			session_log_lost_after_eod(s, r);
			session_teardown(s);
			return;
		}
		/* PR-11: written anyway (a client that only shut down its
		 * sending side still reads it), and the possible duplicate
		 * is logged with its queue id. */
		if (io_peer_closed(s->io))
			session_log_lost_after_eod(s, r);
		session_write(s, r->text, r->len);
		if (r->code < 300) {
			s->errors = 0;
			s->junk = 0;
		}
		session_enter(s, SESSION_READY);
		break;
	case WAIT_AUTH:
		/* Not the relay's turn: keep waiting for the verifier. */
		s->wait = WAIT_AUTH;
		return;
	case WAIT_ARC:
	case WAIT_NONE:
		break;
	}
	if (s->state != SESSION_CLOSING && s->state != SESSION_WAIT &&
	    !session_delaying(s))
		io_release(s->io, IO_HOLD_OWNER);
}

/* Input. */

static void
session_data_input(struct session *s, struct evbuffer *in)
{
	struct evbuffer_iovec	 v;
	enum framer_status	 st;
	size_t			 used;

	while (s->state == SESSION_DATA &&
	    evbuffer_peek(in, -1, NULL, &v, 1) > 0 && v.iov_len > 0) {
		st = framer_feed(s->framer, v.iov_base, v.iov_len, &used);
		evbuffer_drain(in, used);
		if (st != FRAMER_MORE) {
			session_data_status(s, st);
			return;
		}
	}
}

/*
 * The PROXY protocol header on a listener that asks for one: the source
 * it names replaces the peer address for policy (the balancer's own
 * address never owns a tenant's domains).  A bad header closes the
 * connection without a greeting.  0: need more, 1: done, -1: closing.
 */
static int
session_proxy_input(struct session *s, struct evbuffer *in)
{
	struct proxyproto_result	 r;
	struct log_line			*l;
	const uint8_t			*p;
	size_t				 n;
	char				 addr[INET6_ADDRSTRLEN];

	n = evbuffer_get_length(in);
	if (n > PROXYPROTO_MAX)
		n = PROXYPROTO_MAX;
	if ((p = evbuffer_pullup(in, (ev_ssize_t)n)) == NULL) {
		session_close(s, "421 4.3.0 Error: out of memory");
		return -1;
	}
	switch (proxyproto_parse(p, n, s->proxy_accept, &r)) {
	case PROXYPROTO_NEED_MORE:
		return 0;
	case PROXYPROTO_BAD:
		l = log_begin(LOG_WARNING, s->sid, "proxy_header_bad");
		log_kv_esc(l, "detail", p, n < SESSION_PIPE_LOG ? n :
		    SESSION_PIPE_LOG);
		log_end(l);
		metrics_refusal("proxy_header_bad");
		session_close(s, NULL);
		return -1;
	case PROXYPROTO_DONE:
		break;
	}
	evbuffer_drain(in, r.used);
	s->proxy_accept = 0;
	if (!r.local) {
		memcpy(&s->peer, &r.src, r.srclen);
		s->peerlen = r.srclen;
		s->tenant = policy_tenant_for_client(s->cfg,
		    (const struct sockaddr *)&s->peer);
		/* The per-IP cap applies to the client, not the balancer. */
		if (s->owner.on_client != NULL &&
		    s->owner.on_client(s->owner.arg, s->tag, &s->peer) == -1) {
			log_event(LOG_WARNING, s->sid, "too_many_connections",
			    "client=%s via=proxy", io_peer_addr(s->io));
			metrics_refusal("too_many_connections");
			session_close(s, "421 4.7.0 Error: too many connections "
			    "from your address");
			return -1;
		}
	}
	l = log_begin(LOG_INFO, s->sid, "proxy");
	log_kv(l, "version", "%d", r.version);
	if (!r.local && inet_ntop(r.src.ss_family, r.src.ss_family == AF_INET ?
	    (const void *)&((struct sockaddr_in *)&r.src)->sin_addr :
	    (const void *)&((struct sockaddr_in6 *)&r.src)->sin6_addr, addr,
	    sizeof(addr)) != NULL) {
		log_kv(l, "client", "%s", addr);
		/* Received, XFORWARD and later log lines name the client. */
		io_set_peer(s->io, addr, ntohs(r.src.ss_family == AF_INET ?
		    ((struct sockaddr_in *)&r.src)->sin_port :
		    ((struct sockaddr_in6 *)&r.src)->sin6_port));
	}
	log_kv(l, "tenant", "%s", s->tenant != NULL ? s->tenant->name : "-");
	log_end(l);
	session_enter(s, SESSION_GREETING);
	return 1;
}

/* Is local (from getsockname) an address the listener la accepts on? */
static int
session_listener_is(const struct sockaddr_storage *la,
    const struct sockaddr_storage *local)
{
	const struct sockaddr_in	*a4 = (const void *)la;
	const struct sockaddr_in	*l4 = (const void *)local;
	const struct sockaddr_in6	*a6 = (const void *)la;
	const struct sockaddr_in6	*l6 = (const void *)local;

	if (la->ss_family != local->ss_family)
		return 0;
	if (la->ss_family == AF_INET)
		return a4->sin_port == l4->sin_port &&
		    (a4->sin_addr.s_addr == htonl(INADDR_ANY) ||
		    a4->sin_addr.s_addr == l4->sin_addr.s_addr);
	if (la->ss_family == AF_INET6)
		return a6->sin6_port == l6->sin6_port &&
		    (IN6_IS_ADDR_UNSPECIFIED(&a6->sin6_addr) ||
		    IN6_ARE_ADDR_EQUAL(&a6->sin6_addr, &l6->sin6_addr));
	return 0;
}

/* The configured listener that accepted fd, or NULL. */
static const struct config_listener *
session_listener(const struct config *cfg, int fd)
{
	struct sockaddr_storage		 ss;
	socklen_t			 len = sizeof(ss);
	size_t				 i;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return NULL;
	for (i = 0; i < cfg->nlisteners; i++)
		if (session_listener_is(&cfg->listeners[i].address.sa, &ss))
			return &cfg->listeners[i];
	return NULL;
}

/* Which PROXY versions the listener ls expects, if any. */
static int
session_proxy_wanted(const struct config_listener *ls)
{
	if (ls != NULL) {
		switch (ls->proxy_protocol) {
		case CONFIG_PROXY_OFF:
			return 0;
		case CONFIG_PROXY_V1:
			return PROXYPROTO_ACCEPT_V1;
		case CONFIG_PROXY_V2:
			return PROXYPROTO_ACCEPT_V2;
		case CONFIG_PROXY_ANY:
			return PROXYPROTO_ACCEPT_V1 | PROXYPROTO_ACCEPT_V2;
		}
	}
	return 0;
}

/* The accepting listener's TLS context (a reference) and mode. */
static void
session_tls_listener(struct session *s, const struct config_listener *ls)
{
	if (ls == NULL)
		return;
	s->implicit_tls = ls->implicit_tls;
	s->tls_ctx = tls_set_ctx(snapshot_tls(s->snap),
	    (size_t)(ls - s->cfg->listeners));
	if (s->tls_ctx != NULL)
		tls_ctx_hold(s->tls_ctx);
}

static void
session_process(struct session *s)
{
	struct evbuffer	*in = io_input(s->io);
	size_t		 n;

	while (evbuffer_get_length(in) > 0 && !session_delaying(s)) {
		if (s->bdat_skip > 0) {
			n = evbuffer_get_length(in);
			if (n > s->bdat_skip)
				n = (size_t)s->bdat_skip;
			evbuffer_drain(in, n);
			s->bdat_skip -= n;
			continue;
		}
		switch (s->state) {
		case SESSION_GREETING:
			if (s->proxy_accept != 0) {
				if (session_proxy_input(s, in) != 1)
					return;
				break;
			}
			session_sync_error(s, "greeting");
			return;
		case SESSION_DATA:
			session_data_input(s, in);
			break;
		case SESSION_AUTH:
			if (!session_getline(s, in))
				return;
			session_auth_line(s, buf_data(s->line),
			    buf_len(s->line));
			break;
		case SESSION_HELO:
		case SESSION_READY:
		case SESSION_MAIL:
		case SESSION_RCPT:
			if (!session_getline(s, in))
				return;
			session_command(s, buf_data(s->line),
			    buf_len(s->line));
			if (s->state == SESSION_HELO ||
			    s->state == SESSION_READY ||
			    s->state == SESSION_MAIL ||
			    s->state == SESSION_RCPT)
				io_deadline(s->io,
				    ms(s->cfg->limits.idle_timeout_ms));
			break;
		case SESSION_WAIT:
		case SESSION_CLOSING:
		case SESSION_TLS:
		case SESSION_STATE_COUNT:
			return;
		}
	}
}

static void
session_read_cb(void *arg, struct evbuffer *in)
{
	struct session	*s = arg;

	(void)in;
	session_process(s);
}

static void
session_event_cb(void *arg, enum io_event ev)
{
	struct session	*s = arg;
	char		 line[SMTP_REPLY_LINE_MAX];

	if (s->state == SESSION_TLS && (ev == IO_EV_TIMEOUT ||
	    ev == IO_EV_EOF || ev == IO_EV_ERROR)) {
		session_tls_failed(s, ev == IO_EV_TIMEOUT ? "timeout" :
		    ev == IO_EV_EOF ? "eof" : "error");
		return;
	}
	switch (ev) {
	case IO_EV_TIMEOUT:
		if (s->state == SESSION_CLOSING) {
			session_teardown(s);
			return;
		}
		log_event(LOG_INFO, s->sid, "timeout", "stage=%s client=%s",
		    session_state_names[s->state], io_peer_addr(s->io));
		if (s->state == SESSION_MAIL || s->state == SESSION_RCPT ||
		    s->state == SESSION_DATA)
			relay_rset(s->relay);
		snprintf(line, sizeof(line), "421 4.4.2 %s Error: timeout "
		    "exceeded", s->host);
		session_close(s, line);
		return;
	case IO_EV_EOF:
	case IO_EV_ERROR:
		s->client_gone = 1;
		if (s->state == SESSION_DATA) {
			log_event(LOG_INFO, s->sid, "client_lost",
			    "stage=DATA bytes=%llu", (unsigned long long)
			    framer_wire_bytes(s->framer));
			metrics_message(METRICS_CLIENT_LOST);
			/* TL-04: nothing after a TLS close is read. */
			if (io_tls(s->io) != NULL)
				log_event(LOG_INFO, s->sid, "tls_closed",
				    "stage=DATA");
		}
		/* After "." the upstream's answer is still logged. */
		if (s->state == SESSION_WAIT && s->wait == WAIT_FINAL)
			return;
		session_teardown(s);
		return;
	case IO_EV_FLUSHED:
		session_teardown(s);
		return;
	case IO_EV_TLS_READY:
		session_tls_ready(s);
		return;
	case IO_EV_CONNECTED:
	case IO_EV_WRITABLE:
		return;
	}
}

/* Lifetime. */

static void
session_free_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session	*s = arg;
	struct session_owner owner = s->owner;
	void		*tag = s->tag;

	(void)fd;
	(void)what;
	log_event(LOG_INFO, s->sid, "disconnect", "messages=%llu errors=%llu",
	    (unsigned long long)s->messages, (unsigned long long)s->errors);
	relay_free(s->relay);
	auth_verify_cancel(s->auth_id);
	auth_sasl_free(s->sasl);
	session_txn_reset(s);
	spool_free(s->spool);
	io_free(s->io);
	smtp_cmd_free(s->mail);
	smtp_cmd_free(s->cmd);
	buf_free(s->delayed);
	buf_free(s->reply);
	buf_free(s->line);
	if (s->greet_ev != NULL)
		event_free(s->greet_ev);
	if (s->delay_ev != NULL)
		event_free(s->delay_ev);
	event_free(s->free_ev);
	tls_ctx_release(s->tls_ctx);
	snapshot_unref(s->snap);
	free(s);
	owner.on_end(owner.arg, tag);
}

static void
session_teardown(struct session *s)
{
	if (s->torn_down)
		return;
	s->torn_down = 1;
	io_hold(s->io, IO_HOLD_CLOSING);
	io_deadline(s->io, 0);
	event_active(s->free_ev, EV_TIMEOUT, 0);
}

struct session *
session_new(struct event_base *base, int fd, const struct session_owner *o,
    void *tag)
{
	struct session			*s;
	const struct config_listener	*ls;
	struct log_line			*l;
	uint8_t				 rnd[6];

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		close(fd);
		return NULL;
	}
	s->owner = *o;
	s->tag = tag;
	s->base = base;
	s->peerlen = sizeof(s->peer);
	if (getpeername(fd, (struct sockaddr *)&s->peer, &s->peerlen) == -1)
		s->peerlen = 0;
	randombytes_buf(rnd, sizeof(rnd));
	snprintf(s->sid, sizeof(s->sid), "%02x%02x%02x%02x%02x%02x", rnd[0],
	    rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
	session_hostname(s->host, sizeof(s->host));
	s->snap = snapshot_current();
	s->free_ev = event_new(base, -1, 0, session_free_cb, s);
	if (s->snap == NULL || s->free_ev == NULL)
		goto fail;
	s->cfg = snapshot_config(s->snap);
	ls = session_listener(s->cfg, fd);
	s->proxy_accept = session_proxy_wanted(ls);
	session_auth_listener(s, ls);
	session_tls_listener(s, ls);
	if ((s->io = io_new(base, fd, &session_io_cb, s)) == NULL) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	s->relay = relay_new(base, s->cfg, s->sid, session_relay_cb, s);
	s->greet_ev = evtimer_new(base, session_greet_cb, s);
	s->delay_ev = evtimer_new(base, session_delay_cb, s);
	s->line = buf_new((size_t)(s->cfg->limits.command_line_max >
	    s->cfg->limits.auth_line_max + SESSION_AUTH_CMD ?
	    s->cfg->limits.command_line_max :
	    s->cfg->limits.auth_line_max + SESSION_AUTH_CMD));
	s->reply = buf_new(SESSION_REPLY_MAX);
	s->delayed = buf_new(SESSION_REPLY_MAX);
	s->cmd = smtp_cmd_new();
	s->mail = smtp_cmd_new();
	if (s->relay == NULL || s->greet_ev == NULL || s->delay_ev == NULL ||
	    s->line == NULL || s->reply == NULL || s->delayed == NULL ||
	    s->cmd == NULL || s->mail == NULL)
		goto fail;
	s->tenant = policy_tenant_for_client(s->cfg,
	    (const struct sockaddr *)&s->peer);
	l = log_begin(LOG_INFO, s->sid, "connect");
	log_kv(l, "client", "%s", io_peer_addr(s->io));
	log_kv(l, "port", "%d", io_peer_port(s->io));
	log_kv(l, "tenant", "%s", s->tenant != NULL ? s->tenant->name : "-");
	log_end(l);
	s->state = SESSION_GREETING;
	session_enter(s, SESSION_GREETING);
	return s;
fail:
	if (fd != -1)
		close(fd);
	relay_free(s->relay);
	io_free(s->io);
	smtp_cmd_free(s->mail);
	smtp_cmd_free(s->cmd);
	buf_free(s->delayed);
	buf_free(s->reply);
	buf_free(s->line);
	if (s->greet_ev != NULL)
		event_free(s->greet_ev);
	if (s->delay_ev != NULL)
		event_free(s->delay_ev);
	if (s->free_ev != NULL)
		event_free(s->free_ev);
	tls_ctx_release(s->tls_ctx);
	snapshot_unref(s->snap);
	free(s);
	return NULL;
}

void
session_drain(struct session *s)
{
	char	 line[SMTP_REPLY_LINE_MAX];

	s->draining = 1;
	if (s->state == SESSION_HELO || s->state == SESSION_READY ||
	    s->state == SESSION_GREETING || s->state == SESSION_AUTH) {
		snprintf(line, sizeof(line), "421 4.3.2 %s Error: service "
		    "shutting down", s->host);
		session_close(s, line);
	}
}

void
session_abort(struct session *s)
{
	char	 line[SMTP_REPLY_LINE_MAX];

	if (s->state == SESSION_CLOSING) {
		session_teardown(s);
		return;
	}
	if (s->state == SESSION_WAIT && s->wait == WAIT_FINAL)
		log_event(LOG_WARNING, s->sid, "drain_abort_after_eod",
		    "possible_duplicate=yes");
	relay_rset(s->relay);
	snprintf(line, sizeof(line), "421 4.3.2 %s Error: service shutting "
	    "down", s->host);
	session_close(s, line);
	/* The process is exiting: a client that does not read gets 1 s. */
	io_deadline(s->io, SESSION_ABORT_FLUSH_S);
}
