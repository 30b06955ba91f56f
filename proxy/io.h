/*
 * io — one client or upstream connection: a bufferevent with bounded
 * buffers and deadlines.
 *
 * Reading stops at IO_READ_HWM buffered input octets and while more than
 * IO_OUTPUT_MAX reply octets are unsent, so a peer that writes without
 * reading gets TCP backpressure instead of our memory (PR-03).  Owners
 * may also hold reading themselves (one command at a time while the
 * upstream thinks).  Deadlines are libevent timers covering a whole
 * request, not socket timeouts that restart on every byte (PR-02); in
 * rate mode each received octet buys 1/rate seconds, never more than the
 * request timeout from now (Postfix smtpd_min_data_rate).
 *
 * The owner gets callbacks and frees the io; callbacks never free it.
 */
#ifndef SIGNET_IO_H
#define SIGNET_IO_H

#include <stddef.h>

struct event_base;
struct evbuffer;
struct io;
struct ssl_st;

#define IO_READ_HWM	(64 * 1024)	/* PR-03: read high-water mark */
/* PR-03: unsent output octets before we stop reading */
#define IO_OUTPUT_MAX	(64 * 1024)

enum io_event {
	IO_EV_EOF,		/* peer closed */
	IO_EV_ERROR,		/* socket error (errno saved in io_errno) */
	IO_EV_TIMEOUT,		/* the deadline passed */
	IO_EV_CONNECTED,	/* outgoing connect finished */
	IO_EV_FLUSHED,		/* io_close_after_flush: all output written */
	IO_EV_WRITABLE,		/* io_want_writable: output below half of
				 * IO_OUTPUT_MAX, write more */
	IO_EV_TLS_READY		/* io_start_tls: the handshake finished */
};

enum io_tls_role {
	IO_TLS_ACCEPT,		/* we are the TLS server */
	IO_TLS_CONNECT,		/* we are the TLS client */
	IO_TLS_ACCEPT_BUFFERED	/* server, and buffered input is the
				 * client's first TLS bytes, not plaintext
				 * (implicit TLS behind a PROXY header) */
};

/* Reasons to stop reading; reading resumes when none is left. */
#define IO_HOLD_OWNER	0x01
#define IO_HOLD_OUTPUT	0x02
#define IO_HOLD_CLOSING	0x04

struct io_cb {
	void	(*on_read)(void *arg, struct evbuffer *in);
	void	(*on_event)(void *arg, enum io_event);
};

/* Takes ownership of fd (closed by io_free). */
struct io	*io_new(struct event_base *, int fd, const struct io_cb *,
		    void *arg);
/* Outgoing TCP connection to host:port; IO_EV_CONNECTED or IO_EV_ERROR. */
struct io	*io_connect(struct event_base *, const char *host, int port,
		    const struct io_cb *, void *arg);
void		 io_free(struct io *);

int		 io_write(struct io *, const void *, size_t);
int		 io_printf(struct io *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
size_t		 io_output_pending(const struct io *);
size_t		 io_input_pending(const struct io *);
struct evbuffer	*io_input(struct io *);

void		 io_hold(struct io *, int reason);
/* Resuming with input already buffered calls on_read from the loop. */
void		 io_release(struct io *, int reason);

/* Deadline timeout seconds from now (0 cancels); leaves rate mode. */
void		 io_deadline(struct io *, double timeout);
/* Rate mode: the deadline starts budget seconds from now and grows by
 * n / rate seconds per n received octets, never past timeout from now. */
void		 io_deadline_rate(struct io *, double budget, double timeout,
		    double rate);

/* Ask for one IO_EV_WRITABLE once pending output is low (streaming). */
void		 io_want_writable(struct io *);

/* Stop reading, write what is pending, then report IO_EV_FLUSHED. */
void		 io_close_after_flush(struct io *);
int		 io_errno(const struct io *);
/* The peer's numeric address ("127.0.0.1") and port. */
const char	*io_peer_addr(const struct io *);
int		 io_peer_port(const struct io *);
/*
 * 1 when, while reading was held, the peer closed its side or the
 * connection failed, and no unread input is left: a reply written now
 * may never be read (PR-11).  The owner still hears IO_EV_EOF or
 * IO_EV_ERROR once it releases the hold.
 */
int		 io_peer_closed(const struct io *);
/* Message content follows (on) or commands again (off): the size of
 * the reads to start with on a plain socket. */
void		 io_read_bulk(struct io *, int on);
/* Replace the peer address (PROXY protocol: the client behind the
 * balancer); addr is a numeric address, cut to fit. */
void		 io_set_peer(struct io *, const char *addr, int port);

/*
 * Start TLS on the connection; takes ownership of ssl (freed by io_free,
 * or here on failure).  Input already buffered in plaintext is discarded
 * first and its length stored in *discarded (TL-01, TL-08: bytes that
 * arrived before the handshake were never protected); with
 * IO_TLS_ACCEPT_BUFFERED it is kept and read as the handshake.  Output already
 * queued (the "220 Ready to start TLS" reply) is sent in plaintext ahead
 * of the handshake.  The outcome is IO_EV_TLS_READY, or IO_EV_ERROR /
 * IO_EV_EOF with io_tls_error() saying why; the owner sets the
 * handshake deadline with io_deadline.  Reading follows the owner's
 * holds once the handshake is done.
 */
int		 io_start_tls(struct io *, struct ssl_st *,
		    enum io_tls_role, size_t *discarded);
/* The connection's TLS object once io_start_tls was called, else NULL. */
struct ssl_st	*io_tls(const struct io *);
/* The last TLS failure, printable, or "" (for logs). */
const char	*io_tls_error(const struct io *);

/* Hand the io to another owner (an idle upstream connection parked
 * between sessions); a pending IO_EV_WRITABLE request is dropped. */
void		 io_set_cb(struct io *, const struct io_cb *, void *arg);

#endif
