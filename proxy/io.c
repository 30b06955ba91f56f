/*
 * io — bufferevent wrapper: watermarks, holds, deadlines (PR-02, PR-03).
 *
 * Invariants: EV_READ is enabled exactly when no hold reason is set; the
 * input buffer never grows past IO_READ_HWM through our reads (libevent
 * stops reading at the high-water mark); the deadline timer is the only
 * clock on a connection.  Callbacks run from the owning event base; the
 * owner may call io_free from inside one, as long as it returns at once
 * (every callback here touches the io only before calling out).
 *
 * TLS (STARTTLS on either side, or at once on implicit-TLS ports) wraps
 * the socket bufferevent in an OpenSSL filter bufferevent; from then on
 * io->bev is the filter and the socket one belongs to it.  Plaintext
 * input still buffered at that moment is thrown away, never handed to
 * the owner as if it had come through TLS (CVE-2011-0411, TL-01).
 *
 * Output on a plain socket is written straight from the loop: io_write
 * queues into io->pend and activates the flush event, which runs later
 * in the same loop pass and hands everything queued by then (a reply,
 * several pipelined replies, a command, 64 KiB of content) to one
 * writev().  Going through the bufferevent instead costs two epoll_ctl()
 * and one more epoll_wait() per reply (EPOLLOUT on, write, EPOLLOUT
 * off): 26 of the 40 epoll_ctl() calls of a 4 KiB message.  What the
 * socket does not take moves to the bufferevent's output, which writes it
 * when the socket is writable and reports errors as before; pend is
 * used only while that output is empty, so octets keep their order.
 * Once the bufferevent is no longer the one made over the socket (a
 * TLS layer in between), pend is not used: bytes would bypass it.
 *
 * Input on a plain socket is read here too, by a persistent read event
 * (io->rev), not by the bufferevent: libevent's reader asks FIONREAD
 * before every read and reads at most 4 KiB, so a 100 KiB message cost
 * 37 ioctl()+readv() pairs.  io->rev reads straight into the
 * bufferevent's input buffer, as much as the high-water mark allows, in
 * reservations that grow while reads fill them (bulk DATA) and shrink
 * back for command traffic, so an idle connection keeps a small chunk.
 * An owner hold does not remove the event (two epoll_ctl() per upstream
 * round trip): while held, arriving input is still read, up to the mark,
 * and handed over on release; end of file or an error met while held is
 * left in the socket and read again once released, so the owner hears
 * of it in the same order as before.  Closing holds remove the event.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/util.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "proxy/io.h"

/* Numeric host plus NUL; INET6_ADDRSTRLEN already counts the NUL. */
#define IO_ADDR_MAX	INET6_ADDRSTRLEN
/* One OpenSSL error string (ERR_error_string_n wants at least 256). */
#define IO_TLS_ERR_MAX	256
/* How often a closing TLS connection looks at its socket buffer. */
#define IO_FLUSH_POLL_US	10000
/*
 * Read reservations: from IO_RSIZE_MIN (a command line or two) doubling
 * to IO_RSIZE_MAX while reads fill them.  IO_RSIZE_SLACK leaves room for
 * libevent's chain header so a reservation is one power-of-two block.
 */
#define IO_RSIZE_MIN	4096
#define IO_RSIZE_MAX	(64 * 1024)
#define IO_RSIZE_SLACK	128

struct io {
	struct bufferevent	*bev;
	struct bufferevent	*sock;	/* the socket bufferevent made here */
	struct evbuffer		*pend;	/* output not yet handed to bev */
	struct event		*flush;	/* writes pend from the loop */
	int			 flush_armed;
	struct event		*timer;
	struct event		*kick;
	struct event		*wkick;
	struct io_cb		 cb;
	void			*arg;
	int			 hold;
	int			 closing;
	int			 want_writable;
	int			 err;
	int			 rate_mode;
	double			 deadline;	/* monotonic seconds */
	double			 timeout;
	double			 rate;
	size_t			 in_seen;	/* input length after on_read */
	char			 peer[IO_ADDR_MAX];
	int			 peer_port;
	SSL			*ssl;		/* owned by the filter bev */
	struct bufferevent	*raw;		/* the socket under TLS */
	int			 handshaking;
	char			 tls_err[IO_TLS_ERR_MAX];
	/* Plain-socket reading (see the top of the file). */
	struct event		*rev;
	struct evbuffer_cb_entry *in_cb;	/* resumes a full buffer */
	int			 rev_mode;	/* rev reads, not the bev */
	int			 rev_added;
	int			 rev_parked;	/* EOF/error seen while held */
	int			 rev_full;	/* input at IO_READ_HWM */
	int			 rev_dead;	/* reported EOF/error */
	size_t			 rsize;		/* next reservation */
};

static void	io_flush_check(struct io *);
static void	io_rev_update(struct io *);

static double
io_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
io_arm(struct io *io)
{
	struct timeval	 tv;
	double		 left;

	left = io->deadline - io_now();
	if (left < 0)
		left = 0;
	tv.tv_sec = (time_t)left;
	tv.tv_usec = (suseconds_t)((left - (double)tv.tv_sec) * 1e6);
	evtimer_add(io->timer, &tv);
}

static void
io_apply_hold(struct io *io)
{
	if (io->rev_mode) {
		if (io->hold == 0)
			io->rev_parked = 0;
		io_rev_update(io);
		return;
	}
	if (io->hold == 0)
		bufferevent_enable(io->bev, EV_READ);
	else
		bufferevent_disable(io->bev, EV_READ);
}

static void
io_check_output(struct io *io)
{
	if (io_output_pending(io) > IO_OUTPUT_MAX) {
		io->hold |= IO_HOLD_OUTPUT;
		io_apply_hold(io);
	}
}

/* on_read may free the io, so nothing touches it afterwards. */
static void
io_deliver(struct io *io, struct evbuffer *in)
{
	io->in_seen = 0;
	io->cb.on_read(io->arg, in);
}

/* New input is in `in`: credit the rate deadline, deliver unless held. */
static void
io_got_input(struct io *io, struct evbuffer *in)
{
	double		 now, cap;
	size_t		 len;

	len = evbuffer_get_length(in);
	if (io->rate_mode && evtimer_pending(io->timer, NULL) &&
	    len > io->in_seen) {
		/* Credit only what arrived since the last callback. */
		now = io_now();
		io->deadline += (double)(len - io->in_seen) / io->rate;
		cap = now + io->timeout;
		if (io->deadline > cap)
			io->deadline = cap;
		io_arm(io);
	}
	io->in_seen = len;
	if (io->hold != 0)
		return;
	io_deliver(io, in);
}

static void
io_read_cb(struct bufferevent *bev, void *arg)
{
	io_got_input(arg, bufferevent_get_input(bev));
}

/* Whether io->rev should be in the event loop now, and make it so. */
static void
io_rev_update(struct io *io)
{
	int	 want;

	want = !io->rev_dead && !io->rev_full && !io->rev_parked &&
	    !(io->hold & IO_HOLD_CLOSING);
	if (want && !io->rev_added) {
		if (event_add(io->rev, NULL) == 0)
			io->rev_added = 1;
	} else if (!want && io->rev_added) {
		event_del(io->rev);
		io->rev_added = 0;
	}
}

/* The owner drained a full input buffer: read again. */
static void
io_in_cb(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg)
{
	struct io	*io = arg;

	if (info->n_deleted == 0 || evbuffer_get_length(b) >= IO_READ_HWM)
		return;
	evbuffer_cb_clear_flags(b, io->in_cb, EVBUFFER_CB_ENABLED);
	io->rev_full = 0;
	io_rev_update(io);
}

/* EOF or a socket error on a plain socket; n is read()'s result. */
static void
io_rev_end(struct io *io, ssize_t n)
{
	if (io->hold != 0) {
		/* Still in the socket: read again, and report, on release. */
		io->rev_parked = 1;
		io_rev_update(io);
		return;
	}
	io->err = n < 0 ? errno : 0;
	io->rev_dead = 1;
	io_rev_update(io);
	io->closing = 0;
	bufferevent_disable(io->bev, EV_READ | EV_WRITE);
	io->cb.on_event(io->arg, n == 0 ? IO_EV_EOF : IO_EV_ERROR);
}

/* Cut the vectors of a reservation to max octets in all. */
static void
io_iov_trim(struct evbuffer_iovec *v, int nv, size_t max)
{
	int	 i;

	for (i = 0; i < nv; i++) {
		if (v[i].iov_len > max)
			v[i].iov_len = max;
		max -= v[i].iov_len;
	}
}

/*
 * Read at most want octets from fd into in: read()'s result, with errno
 * set (ENOMEM when in cannot take them).  The socket bufferevent keeps
 * its input's end frozen but while its own reader adds to it; so do we.
 */
static ssize_t
io_rev_read(struct evbuffer *in, evutil_socket_t fd, size_t want)
{
	struct evbuffer_iovec	 v[2];
	ssize_t			 n;
	int			 nv, saved;

	evbuffer_unfreeze(in, 0);
	n = -1;
	if ((nv = evbuffer_reserve_space(in, (ev_ssize_t)want, v, 2)) <= 0)
		errno = ENOMEM;
	else {
		/* The reservation may be larger than asked: never past it. */
		io_iov_trim(v, nv, want);
		n = readv(fd, (struct iovec *)(void *)v, nv);
		if (n > 0) {
			io_iov_trim(v, nv, (size_t)n);
			if (evbuffer_commit_space(in, v, nv) == -1) {
				errno = ENOMEM;
				n = -1;
			}
		}
	}
	saved = errno;
	evbuffer_freeze(in, 0);
	errno = saved;
	return n;
}

static void
io_rev_cb(evutil_socket_t fd, short what, void *arg)
{
	struct io		*io = arg;
	struct evbuffer		*in = bufferevent_get_input(io->sock);
	size_t			 len, room, want;
	ssize_t			 n;

	(void)what;
	len = evbuffer_get_length(in);
	room = len < IO_READ_HWM ? IO_READ_HWM - len : 0;
	if (room == 0) {
		/* PR-03: stop until the owner drains below the mark. */
		io->rev_full = 1;
		evbuffer_cb_set_flags(in, io->in_cb, EVBUFFER_CB_ENABLED);
		io_rev_update(io);
		return;
	}
	want = io->rsize - IO_RSIZE_SLACK;
	if (want > room)
		want = room;
	n = io_rev_read(in, fd, want);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return;
	if (n <= 0) {
		io_rev_end(io, n);
		return;
	}
	if ((size_t)n == want && io->rsize < IO_RSIZE_MAX)
		io->rsize *= 2;
	else if ((size_t)n < want / 4 && io->rsize > IO_RSIZE_MIN)
		io->rsize /= 2;
	io_got_input(io, in);
}

/* Read a plain socket with io->rev from now on (see the top). */
static int
io_rev_start(struct io *io)
{
	struct evbuffer	*in = bufferevent_get_input(io->sock);

	io->rev = event_new(bufferevent_get_base(io->sock),
	    bufferevent_getfd(io->sock), EV_READ | EV_PERSIST, io_rev_cb, io);
	if (io->rev == NULL)
		return -1;
	if ((io->in_cb = evbuffer_add_cb(in, io_in_cb, io)) == NULL)
		return -1;
	evbuffer_cb_clear_flags(in, io->in_cb, EVBUFFER_CB_ENABLED);
	bufferevent_disable(io->sock, EV_READ);
	bufferevent_setwatermark(io->sock, EV_READ, 0, 0);
	io->rsize = IO_RSIZE_MIN;
	io->rev_mode = 1;
	io_rev_update(io);
	return 0;
}

/* Hand reading back to the bufferevent (TLS is starting). */
static void
io_rev_stop(struct io *io)
{
	if (!io->rev_mode)
		return;
	io->rev_dead = 1;
	io_rev_update(io);
	io->rev_mode = 0;
	if (io->in_cb != NULL) {
		evbuffer_remove_cb_entry(bufferevent_get_input(io->sock),
		    io->in_cb);
		io->in_cb = NULL;
	}
	bufferevent_setwatermark(io->sock, EV_READ, 0, IO_READ_HWM);
}

/* After a write, from the loop; on_event may free the io. */
static void
io_wrote(struct io *io)
{
	size_t		 left;

	left = io_output_pending(io);
	if ((io->hold & IO_HOLD_OUTPUT) && left <= IO_OUTPUT_MAX / 2)
		io_release(io, IO_HOLD_OUTPUT);
	/* Under TLS the socket buffer drains without telling us. */
	if (io->closing && (left == 0 || (io->raw != NULL &&
	    evbuffer_get_length(bufferevent_get_output(io->bev)) == 0))) {
		io_flush_check(io);
		return;
	}
	if (io->want_writable && left <= IO_OUTPUT_MAX / 2) {
		io->want_writable = 0;
		io->cb.on_event(io->arg, IO_EV_WRITABLE);
	}
}

/* Keep the first queued OpenSSL error for the owner's log line. */
static void
io_note_tls_error(struct io *io)
{
	unsigned long	 e;

	if ((e = bufferevent_get_openssl_error(io->bev)) == 0)
		return;
	ERR_error_string_n(e, io->tls_err, sizeof(io->tls_err));
	while (bufferevent_get_openssl_error(io->bev) != 0)
		continue;
}

static void
io_write_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	io_wrote(arg);
}

/*
 * Write pend to the socket now.  Whatever is left (EAGAIN, or an error
 * the bufferevent will meet again and report through io_event_cb) goes
 * to the bufferevent's output, behind nothing since pend is only used
 * while that output is empty.
 */
static void
io_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct io	*io = arg;
	size_t		 before;

	(void)fd;
	(void)what;
	io->flush_armed = 0;
	before = evbuffer_get_length(io->pend);
	if (before == 0)
		return;
	(void)evbuffer_write(io->pend, bufferevent_getfd(io->sock));
	if (evbuffer_get_length(io->pend) > 0 &&
	    evbuffer_add_buffer(bufferevent_get_output(io->sock),
	    io->pend) == -1) {
		/* Cannot queue the rest: the stream would have a hole. */
		io->err = ENOMEM;
		io->closing = 0;
		bufferevent_disable(io->bev, EV_READ | EV_WRITE);
		io->cb.on_event(io->arg, IO_EV_ERROR);
		return;
	}
	io_wrote(io);
}

/* Where new output goes: pend while it may, else the bufferevent. */
static struct evbuffer *
io_outbuf(struct io *io)
{
	if (io->bev != io->sock ||
	    evbuffer_get_length(bufferevent_get_output(io->bev)) > 0)
		return bufferevent_get_output(io->bev);
	if (!io->flush_armed) {
		io->flush_armed = 1;
		event_active(io->flush, EV_TIMEOUT, 0);
	}
	return io->pend;
}

static void
io_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct io	*io = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		if (!io->handshaking && io->bev == io->sock && !io->rev_mode &&
		    io_rev_start(io) == -1) {
			io->err = ENOMEM;
			bufferevent_disable(io->bev, EV_READ | EV_WRITE);
			io->cb.on_event(io->arg, IO_EV_ERROR);
			return;
		}
		io_apply_hold(io);
		if (io->handshaking) {
			io->handshaking = 0;
			io->cb.on_event(io->arg, IO_EV_TLS_READY);
			return;
		}
		io->cb.on_event(io->arg, IO_EV_CONNECTED);
		return;
	}
	/* On a plain EOF errno is left over from an earlier call. */
	io->err = (what & BEV_EVENT_ERROR) ? EVUTIL_SOCKET_ERROR() : 0;
	if (io->rev_mode) {
		io->rev_dead = 1;
		io_rev_update(io);
	}
	if (io->ssl != NULL)
		io_note_tls_error(io);
	io->closing = 0;
	bufferevent_disable(io->bev, EV_READ | EV_WRITE);
	io->cb.on_event(io->arg, (what & BEV_EVENT_EOF) ? IO_EV_EOF :
	    IO_EV_ERROR);
}

static void
io_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct io	*io = arg;

	(void)fd;
	(void)what;
	/* In rate mode reads may have moved the deadline after arming. */
	if (io->deadline > io_now()) {
		io_arm(io);
		return;
	}
	io->cb.on_event(io->arg, IO_EV_TIMEOUT);
}

/*
 * Under TLS the filter hands its output to the socket bufferevent, whose
 * write callback belongs to the filter; the last reply before a close
 * is only gone once that buffer is empty too, so look again shortly.
 */
static void
io_flush_check(struct io *io)
{
	struct timeval	 tv = { 0, IO_FLUSH_POLL_US };

	if (io_output_pending(io) == 0) {
		io->closing = 0;
		io->cb.on_event(io->arg, IO_EV_FLUSHED);
		return;
	}
	if (io->raw != NULL &&
	    evbuffer_get_length(bufferevent_get_output(io->bev)) == 0)
		event_add(io->kick, &tv);
}

static void
io_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct io	*io = arg;
	struct evbuffer	*in = bufferevent_get_input(io->bev);

	(void)fd;
	(void)what;
	if (io->closing) {
		io_flush_check(io);
		return;
	}
	if (io->hold == 0 && evbuffer_get_length(in) > 0)
		io_deliver(io, in);
}

static void
io_wkick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct io	*io = arg;

	(void)fd;
	(void)what;
	if (io->want_writable && io_output_pending(io) <= IO_OUTPUT_MAX / 2) {
		io->want_writable = 0;
		io->cb.on_event(io->arg, IO_EV_WRITABLE);
	}
}

static void
io_name(const struct sockaddr_storage *ss, char *out, int *port)
{
	const struct sockaddr_in	*s4;
	const struct sockaddr_in6	*s6;

	out[0] = '\0';
	*port = 0;
	if (ss->ss_family == AF_INET) {
		s4 = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &s4->sin_addr, out, IO_ADDR_MAX);
		*port = ntohs(s4->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		s6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, out, IO_ADDR_MAX);
		*port = ntohs(s6->sin6_port);
	}
}

static struct io *
io_alloc(struct event_base *base, int fd, const struct io_cb *cb, void *arg)
{
	struct io	*io;

	if ((io = calloc(1, sizeof(*io))) == NULL)
		return NULL;
	io->cb = *cb;
	io->arg = arg;
	io->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	io->sock = io->bev;
	io->pend = evbuffer_new();
	io->flush = event_new(base, -1, 0, io_flush_cb, io);
	io->timer = evtimer_new(base, io_timer_cb, io);
	io->kick = event_new(base, -1, 0, io_kick_cb, io);
	io->wkick = event_new(base, -1, 0, io_wkick_cb, io);
	if (io->bev == NULL || io->timer == NULL || io->kick == NULL ||
	    io->wkick == NULL || io->pend == NULL || io->flush == NULL) {
		if (io->bev == NULL && fd != -1)
			close(fd);
		io_free(io);
		return NULL;
	}
	bufferevent_setcb(io->bev, io_read_cb, io_write_cb, io_event_cb, io);
	bufferevent_setwatermark(io->bev, EV_READ, 0, IO_READ_HWM);
	bufferevent_setwatermark(io->bev, EV_WRITE, IO_OUTPUT_MAX / 2, 0);
	return io;
}

struct io *
io_new(struct event_base *base, int fd, const struct io_cb *cb, void *arg)
{
	struct io		*io;
	struct sockaddr_storage	 ss;
	socklen_t		 sl;

	if (evutil_make_socket_nonblocking(fd) == -1) {
		close(fd);
		return NULL;
	}
	if ((io = io_alloc(base, fd, cb, arg)) == NULL)
		return NULL;
	sl = sizeof(ss);
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
		io_name(&ss, io->peer, &io->peer_port);
	if (bufferevent_enable(io->bev, EV_WRITE) == -1 ||
	    io_rev_start(io) == -1) {
		io_free(io);
		return NULL;
	}
	return io;
}

struct io *
io_connect(struct event_base *base, const char *host, int port,
    const struct io_cb *cb, void *arg)
{
	struct io		*io = NULL;
	struct addrinfo		 hints, *res = NULL;
	char			 serv[16];

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(serv, sizeof(serv), "%d", port);
	/*
	 * Upstreams are configured as addresses (usually loopback); a host
	 * name is resolved once per connection with the system resolver.
	 */
	if (getaddrinfo(host, serv, &hints, &res) != 0 || res == NULL) {
		errno = EHOSTUNREACH;
		goto fail;
	}
	if ((io = io_alloc(base, -1, cb, arg)) == NULL)
		goto fail;
	io_name((const struct sockaddr_storage *)(void *)res->ai_addr,
	    io->peer, &io->peer_port);
	bufferevent_enable(io->bev, EV_WRITE);
	if (bufferevent_socket_connect(io->bev, res->ai_addr,
	    (int)res->ai_addrlen) == -1) {
		io->err = errno;
		goto fail;
	}
	freeaddrinfo(res);
	return io;
fail:
	if (res != NULL)
		freeaddrinfo(res);
	io_free(io);
	return NULL;
}

void
io_free(struct io *io)
{
	if (io == NULL)
		return;
	if (io->rev != NULL)
		event_free(io->rev);
	if (io->kick != NULL)
		event_free(io->kick);
	if (io->wkick != NULL)
		event_free(io->wkick);
	if (io->flush != NULL)
		event_free(io->flush);
	if (io->pend != NULL)
		evbuffer_free(io->pend);
	if (io->timer != NULL)
		event_free(io->timer);
	if (io->bev != NULL)
		bufferevent_free(io->bev);
	free(io);
}

int
io_write(struct io *io, const void *p, size_t n)
{
	if (evbuffer_add(io_outbuf(io), p, n) == -1)
		return -1;
	io_check_output(io);
	return 0;
}

int
io_printf(struct io *io, const char *fmt, ...)
{
	va_list	 ap;
	int	 r;

	va_start(ap, fmt);
	r = evbuffer_add_vprintf(io_outbuf(io), fmt, ap);
	va_end(ap);
	if (r < 0)
		return -1;
	io_check_output(io);
	return 0;
}

size_t
io_output_pending(const struct io *io)
{
	size_t	 n;

	n = evbuffer_get_length(io->pend) +
	    evbuffer_get_length(bufferevent_get_output(io->bev));
	if (io->raw != NULL)
		n += evbuffer_get_length(bufferevent_get_output(io->raw));
	return n;
}

size_t
io_input_pending(const struct io *io)
{
	return evbuffer_get_length(bufferevent_get_input(io->bev));
}

struct evbuffer *
io_input(struct io *io)
{
	return bufferevent_get_input(io->bev);
}

void
io_hold(struct io *io, int reason)
{
	io->hold |= reason;
	io_apply_hold(io);
}

void
io_release(struct io *io, int reason)
{
	io->hold &= ~reason;
	io_apply_hold(io);
	if (io->hold == 0 && io_input_pending(io) > 0)
		event_active(io->kick, EV_TIMEOUT, 0);
}

void
io_deadline(struct io *io, double timeout)
{
	io->rate_mode = 0;
	if (timeout <= 0) {
		evtimer_del(io->timer);
		return;
	}
	io->timeout = timeout;
	io->deadline = io_now() + timeout;
	io_arm(io);
}

void
io_deadline_rate(struct io *io, double budget, double timeout, double rate)
{
	io->rate_mode = rate > 0;
	io->rate = rate;
	io->timeout = timeout;
	io->deadline = io_now() + budget;
	io_arm(io);
}

void
io_want_writable(struct io *io)
{
	io->want_writable = 1;
	if (io_output_pending(io) <= IO_OUTPUT_MAX / 2)
		event_active(io->wkick, EV_TIMEOUT, 0);
}

void
io_close_after_flush(struct io *io)
{
	io->hold |= IO_HOLD_CLOSING;
	io_apply_hold(io);
	io->closing = 1;
	bufferevent_enable(io->bev, EV_WRITE);
	if (io_output_pending(io) == 0) {
		/* Report from the loop, never from inside the caller. */
		event_active(io->kick, EV_TIMEOUT, 0);
	}
}

int
io_errno(const struct io *io)
{
	return io->err;
}

const char *
io_peer_addr(const struct io *io)
{
	return io->peer;
}

int
io_peer_port(const struct io *io)
{
	return io->peer_port;
}

int
io_peer_closed(const struct io *io)
{
	return io->rev_parked && io_input_pending(io) == 0;
}

/*
 * A 4 KiB message read in 4 KiB reservations took two reads and two
 * trips through epoll; message content starts at the largest size and
 * still shrinks when the client sends little at a time.
 */
void
io_read_bulk(struct io *io, int on)
{
	io->rsize = on ? IO_RSIZE_MAX : IO_RSIZE_MIN;
}

void
io_set_peer(struct io *io, const char *addr, int port)
{
	snprintf(io->peer, sizeof(io->peer), "%s", addr);
	io->peer_port = port;
}

int
io_start_tls(struct io *io, SSL *ssl, enum io_tls_role role,
    size_t *discarded)
{
	struct bufferevent	*tls;
	struct evbuffer		*in;

	*discarded = 0;
	if (io->ssl != NULL) {
		SSL_free(ssl);
		errno = EINVAL;
		return -1;
	}
	io_rev_stop(io);
	in = bufferevent_get_input(io->bev);
	if (role != IO_TLS_ACCEPT_BUFFERED) {
		*discarded = evbuffer_get_length(in);
		evbuffer_drain(in, *discarded);
	}
	io->in_seen = 0;
	/* Replies still queued for the fast path ("220 Ready to start
	 * TLS") go out in plaintext ahead of the handshake. */
	if (evbuffer_add_buffer(bufferevent_get_output(io->bev),
	    io->pend) == -1) {
		SSL_free(ssl);
		return -1;
	}
	tls = bufferevent_openssl_filter_new(bufferevent_get_base(io->bev),
	    io->bev, ssl, role == IO_TLS_CONNECT ?
	    BUFFEREVENT_SSL_CONNECTING : BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE);
	if (tls == NULL) {
		SSL_free(ssl);
		return -1;
	}
	/*
	 * A peer that drops TCP without close_notify is an EOF, not an
	 * error: the session answers it the same way and a truncation
	 * attack gains nothing, since only a complete "." ends a message.
	 */
	bufferevent_openssl_set_allow_dirty_shutdown(tls, 1);
	io->raw = io->bev;
	io->bev = tls;
	io->ssl = ssl;
	io->handshaking = 1;
	io->tls_err[0] = '\0';
	bufferevent_setcb(tls, io_read_cb, io_write_cb, io_event_cb, io);
	bufferevent_setwatermark(tls, EV_READ, 0, IO_READ_HWM);
	bufferevent_setwatermark(tls, EV_WRITE, IO_OUTPUT_MAX / 2, 0);
	/* The handshake needs both directions whatever the owner holds. */
	if (bufferevent_enable(tls, EV_READ | EV_WRITE) == -1)
		return -1;
	/* Kept bytes wait for no socket event: hand them over now. */
	if (evbuffer_get_length(in) > 0)
		bufferevent_trigger(io->raw, EV_READ,
		    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
	return 0;
}

SSL *
io_tls(const struct io *io)
{
	return io->ssl;
}

const char *
io_tls_error(const struct io *io)
{
	return io->tls_err;
}

void
io_set_cb(struct io *io, const struct io_cb *cb, void *arg)
{
	io->cb = *cb;
	io->arg = arg;
	io->want_writable = 0;
}
