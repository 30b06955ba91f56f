/*
 * test_uppool — the idle upstream connection cache over socketpairs:
 * the identity key tells every TLS/AUTH/address setting apart, a parked
 * connection is handed out only for its own key and only once, one that
 * is too old, used too often or has unread input is refused, the cache
 * stops at its bound, a peer's unsolicited reply or EOF closes a parked
 * connection, draining says QUIT, and shutdown frees everything (the
 * ASan run checks for leaks).
 */
#include <sys/socket.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "config/config.h"
#include "proxy/io.h"
#include "proxy/log.h"
#include "proxy/msg/buf.h"
#include "proxy/uppool.h"
#include "t.h"
#include "t_loop.h"

#define RUN_UNTIL(cond)	T_RUN_UNTIL(base, cond)

static struct event_base	*base;

static void
nop_read(void *arg, struct evbuffer *in)
{
	(void)arg;
	(void)in;
}

static void
nop_event(void *arg, enum io_event ev)
{
	(void)arg;
	(void)ev;
}

static const struct io_cb nop_cb = { nop_read, nop_event };

/* 1 once the peer end sees EOF (the cache closed its side). */
static int
peer_closed(int fd)
{
	char	 b[64];
	ssize_t	 n;

	n = recv(fd, b, sizeof(b), MSG_DONTWAIT);
	return n == 0 || (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static struct uppool_conn
conn(const struct config_upstream *up, int *peer)
{
	struct uppool_conn	 c;
	int			 fd[2];

	memset(&c, 0, sizeof(c));
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fd) == -1)
		return c;
	*peer = fd[1];
	c.io = io_new(base, fd[0], &nop_cb, NULL);
	c.key = uppool_key(up);
	c.born = uppool_now();
	c.caps.ext = 0x5;
	c.tls_on = 1;
	return c;
}

static void
conn_free(struct uppool_conn *c)
{
	io_free(c->io);
	buf_free(c->key);
	c->io = NULL;
	c->key = NULL;
}

static int
key_differs(const struct config_upstream *a, const struct config_upstream *b)
{
	struct buf	*ka = uppool_key(a), *kb = uppool_key(b);
	int		 r;

	r = ka != NULL && kb != NULL && (buf_len(ka) != buf_len(kb) ||
	    memcmp(buf_data(ka), buf_data(kb), buf_len(ka)) != 0);
	buf_free(ka);
	buf_free(kb);
	return r;
}

static void
test_keys(const struct config_upstream *up)
{
	struct config_upstream	 o;
	char			 host[] = "127.0.0.1";

	o = *up;
	o.address.host = host;		/* equal text, other pointer */
	T_OK(!key_differs(up, &o), "key: equal values, equal keys");
#define DIFF(field, val, name) do {					\
	o = *up;							\
	o.field = val;							\
	T_OK(key_differs(up, &o), "key: " name " differs");		\
} while (0)
	DIFF(address.host, "127.0.0.2", "host");
	DIFF(address.port, 2526, "port");
	DIFF(starttls, CONFIG_TLS_REQUIRED, "starttls");
	DIFF(implicit_tls, 1, "implicit_tls");
	DIFF(verify, 0, "verify");
	DIFF(ca_file, "/etc/other.pem", "ca_file");
	DIFF(ca_file, NULL, "ca_file unset");
	DIFF(servername, "mx.test", "servername");
	DIFF(auth_user, "other", "auth_user");
	DIFF(auth_user, NULL, "auth_user unset");
	DIFF(auth_secret_file, "/etc/other.secret", "auth_secret_file");
#undef DIFF
	/* Lengths are part of the key: no field can run into the next. */
	o = *up;
	o.servername = NULL;
	o.auth_user = "x";
	{
		struct config_upstream	 p = *up;

		p.servername = "x";
		p.auth_user = NULL;
		T_OK(key_differs(&o, &p), "key: values cannot shift fields");
	}
	o = *up;
	o.connect_timeout_ms = 1;
	T_OK(!key_differs(up, &o), "key: timeouts are not identity");
}

int
main(void)
{
	struct config_upstream	 up, other;
	struct uppool_conn	 c, got, many[40];
	struct buf		*key, *okey;
	char			 rb[16];
	int			 peer, p2, peers[40], i, n;
	ssize_t			 r;

	log_init("test_uppool", 1, LOG_ERR);
	base = event_base_new();
	T_OK(base != NULL, "event base");
	memset(&up, 0, sizeof(up));
	up.address.host = "127.0.0.1";
	up.address.port = 2525;
	up.starttls = CONFIG_TLS_OPPORTUNISTIC;
	up.verify = 1;
	up.ca_file = "/etc/ca.pem";
	up.auth_user = "signet";
	up.auth_secret_file = "/etc/signet.secret";
	other = up;
	other.address.port = 2526;
	test_keys(&up);
	key = uppool_key(&up);
	okey = uppool_key(&other);

	/* Park and take back: same io and state, once, for its key only. */
	c = conn(&up, &peer);
	T_OK(c.io != NULL && c.key != NULL, "connection");
	T_EQ_INT(uppool_take(base, key, &got), -1, "empty cache");
	T_EQ_INT(uppool_put(base, &c, "s1"), 0, "parked");
	T_EQ_INT(uppool_take(base, okey, &got), -1, "other identity: none");
	T_EQ_INT(uppool_take(base, key, &got), 0, "taken");
	T_OK(got.io == c.io && got.caps.ext == 0x5 && got.tls_on == 1,
	    "state travels with the connection");
	T_EQ_INT(got.uses, 1, "use counted");
	T_EQ_INT(uppool_take(base, key, &got), -1, "taken only once");
	io_set_cb(got.io, &nop_cb, NULL);

	/* Refusals: the caller keeps the connection. */
	got.uses = 100;
	T_EQ_INT(uppool_put(base, &got, "s1"), -1, "used too often");
	got.uses = 1;
	got.born = uppool_now() - 301;
	T_EQ_INT(uppool_put(base, &got, "s1"), -1, "too old");
	got.born = uppool_now();
	T_EQ_INT(write(peer, "x", 1), 1, "peer writes");
	RUN_UNTIL(io_input_pending(got.io) > 0);
	T_EQ_INT(uppool_put(base, &got, "s1"), -1, "unread input");
	conn_free(&got);
	close(peer);

	/* An idle-timeout 421 while parked closes it; so does EOF. */
	c = conn(&up, &peer);
	T_EQ_INT(uppool_put(base, &c, "s2"), 0, "parked again");
	r = write(peer, "421 4.4.2 bye\r\n", 15);
	T_EQ_INT(r, 15, "peer says 421");
	RUN_UNTIL(peer_closed(peer));
	T_OK(peer_closed(peer), "closed on unsolicited input");
	T_EQ_INT(uppool_take(base, key, &got), -1, "nothing to take");
	close(peer);
	c = conn(&up, &peer);
	T_EQ_INT(uppool_put(base, &c, "s3"), 0, "parked for EOF");
	shutdown(peer, SHUT_WR);
	RUN_UNTIL(peer_closed(peer));
	T_OK(peer_closed(peer), "closed on EOF");
	T_EQ_INT(uppool_take(base, key, &got), -1, "EOF: nothing to take");
	close(peer);

	/* The bound, newest first. */
	for (i = 0, n = 0; i < 40; i++) {
		many[i] = conn(&up, &peers[i]);
		if (uppool_put(base, &many[i], "s4") == 0)
			n++;
		else
			conn_free(&many[i]);
	}
	T_EQ_INT(n, 32, "at most 32 parked");
	T_EQ_INT(uppool_take(base, key, &got), 0, "take from a full cache");
	T_OK(got.io == many[31].io, "most recently parked first");
	T_EQ_INT(uppool_put(base, &got, "s4"), 0, "room for one again");

	/* Draining: every parked connection says QUIT, none is handed out. */
	T_EQ_INT(uppool_take(base, key, &got), 0, "make room");
	conn_free(&got);
	c = conn(&other, &p2);
	T_EQ_INT(uppool_put(base, &c, "s5"), 0, "other identity parked");
	uppool_drain();
	T_EQ_INT(uppool_take(base, okey, &got), -1, "draining: none");
	c = conn(&up, &peer);
	T_EQ_INT(uppool_put(base, &c, "s6"), -1, "draining: not parked");
	conn_free(&c);
	close(peer);
	memset(rb, 0, sizeof(rb));
	RUN_UNTIL(recv(p2, rb, sizeof(rb) - 1, MSG_PEEK | MSG_DONTWAIT) >= 6);
	T_EQ_STR(rb, "QUIT\r\n", "QUIT sent while draining");
	uppool_shutdown();
	for (i = 0; i < 40; i++)
		close(peers[i]);
	close(p2);
	buf_free(key);
	buf_free(okey);
	event_base_free(base);
	return t_done();
}
