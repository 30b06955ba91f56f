/*
 * uppool — the per-worker cache of idle upstream connections (see
 * uppool.h for what may be parked and when it is handed out).
 *
 * Invariants: every entry's io calls back here and nowhere else; an
 * entry is either parked (counted in nparked, reading, its deadline the
 * idle limit) or quitting (QUIT sent, waiting up to UPPOOL_QUIT_S for
 * the 221 or EOF); the cache belongs to the thread that made it and is
 * only touched from that thread's event base.  A parked connection that
 * says anything is closed at once: SMTP replies only answer commands,
 * so unsolicited input is an idle-timeout 421 or garbage, and keeping
 * the connection would hand that reply to the next transaction.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "config/config.h"
#include "proxy/io.h"
#include "proxy/log.h"
#include "proxy/msg/buf.h"
#include "proxy/uppool.h"

/*
 * Postfix's smtp_connection_cache_time_limit is 2 s; signetd's clients
 * are local applications that send in bursts, and an upstream idle
 * timeout (Postfix smtpd_timeout, 300 s) is far longer than this.
 */
#define UPPOOL_IDLE_S		5.0
/* Postfix smtp_connection_reuse_time_limit: a connection's total age. */
#define UPPOOL_AGE_S		300.0
/* Times one connection is handed out (Postfix
 * smtp_connection_reuse_count_limit; it spreads load after a restart). */
#define UPPOOL_USES_MAX		100
/* Parked per worker: beyond it the connection gets its QUIT. */
#define UPPOOL_PARKED_MAX	32
/* How long a QUIT waits for the upstream's 221. */
#define UPPOOL_QUIT_S		2.0
/* One identity: address, servername and three paths, length-prefixed. */
#define UPPOOL_KEY_MAX		(5 * 4096 + 256)
#define UPPOOL_SID_MAX		32

struct uppool;

struct uppool_entry {
	struct uppool		*pool;
	struct uppool_entry	*next, *prev;
	struct uppool_conn	 c;
	int			 quitting;
	char			 sid[UPPOOL_SID_MAX];
};

struct uppool {
	struct event_base	*base;
	struct uppool_entry	*head;		/* most recently parked first */
	size_t			 nparked;
	int			 draining;
};

static __thread struct uppool	*uppool_self;

static void	uppool_read_cb(void *, struct evbuffer *);
static void	uppool_event_cb(void *, enum io_event);

static const struct io_cb uppool_io_cb = { uppool_read_cb, uppool_event_cb };

double
uppool_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A string as a netstring ("len:bytes,"), NULL as "-": unambiguous. */
static int
uppool_key_str(struct buf *b, const char *s)
{
	if (s == NULL)
		return buf_append_str(b, "-");
	return buf_printf(b, "%zu:%s,", strlen(s), s);
}

struct buf *
uppool_key(const struct config_upstream *up)
{
	struct buf	*b;

	if ((b = buf_new(UPPOOL_KEY_MAX)) == NULL)
		return NULL;
	if (uppool_key_str(b, up->address.host) == -1 ||
	    buf_printf(b, "%u/%d/%d/%d/", (unsigned int)up->address.port,
	    (int)up->starttls, up->implicit_tls, up->verify) == -1 ||
	    uppool_key_str(b, up->ca_file) == -1 ||
	    uppool_key_str(b, up->servername) == -1 ||
	    uppool_key_str(b, up->auth_user) == -1 ||
	    uppool_key_str(b, up->auth_secret_file) == -1) {
		buf_free(b);
		return NULL;
	}
	return b;
}

static int
uppool_key_eq(const struct buf *a, const struct buf *b)
{
	return buf_len(a) == buf_len(b) &&
	    memcmp(buf_data(a), buf_data(b), buf_len(a)) == 0;
}

static struct uppool *
uppool_get(struct event_base *base)
{
	if (uppool_self == NULL) {
		if ((uppool_self = calloc(1, sizeof(*uppool_self))) == NULL)
			return NULL;
		uppool_self->base = base;
	}
	/* A cache serves the one event base of its thread. */
	return uppool_self->base == base ? uppool_self : NULL;
}

static void
uppool_unlink(struct uppool_entry *e)
{
	struct uppool	*p = e->pool;

	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		p->head = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	e->next = e->prev = NULL;
	if (!e->quitting)
		p->nparked--;
}

/* Close and forget e; from an io callback, return at once after. */
static void
uppool_close(struct uppool_entry *e)
{
	uppool_unlink(e);
	io_free(e->c.io);
	buf_free(e->c.key);
	free(e);
}

/* Say goodbye; the entry goes once the 221, EOF or the deadline comes. */
static void
uppool_quit(struct uppool_entry *e)
{
	if (e->quitting)
		return;
	e->quitting = 1;
	e->pool->nparked--;
	if (io_write(e->c.io, "QUIT\r\n", 6) == -1) {
		uppool_close(e);
		return;
	}
	io_deadline(e->c.io, UPPOOL_QUIT_S);
}

static void
uppool_read_cb(void *arg, struct evbuffer *in)
{
	struct uppool_entry	*e = arg;

	if (evbuffer_get_length(in) == 0)
		return;
	if (!e->quitting)
		log_event(LOG_INFO, e->sid, "upstream_idle_closed",
		    "reason=unsolicited_input bytes=%zu",
		    evbuffer_get_length(in));
	uppool_close(e);
}

static void
uppool_event_cb(void *arg, enum io_event ev)
{
	struct uppool_entry	*e = arg;

	switch (ev) {
	case IO_EV_TIMEOUT:
		if (!e->quitting) {
			uppool_quit(e);
			return;
		}
		uppool_close(e);
		return;
	case IO_EV_EOF:
	case IO_EV_ERROR:
		if (!e->quitting)
			log_event(LOG_INFO, e->sid, "upstream_idle_closed",
			    "reason=%s", ev == IO_EV_EOF ? "eof" : "error");
		uppool_close(e);
		return;
	default:
		return;
	}
}

int
uppool_put(struct event_base *base, const struct uppool_conn *c,
    const char *sid)
{
	struct uppool		*p;
	struct uppool_entry	*e;
	double			 left;

	if (c->io == NULL || c->key == NULL || c->uses >= UPPOOL_USES_MAX ||
	    (left = c->born + UPPOOL_AGE_S - uppool_now()) <= 0 ||
	    io_output_pending(c->io) > 0 || io_input_pending(c->io) > 0)
		return -1;
	if ((p = uppool_get(base)) == NULL || p->draining ||
	    p->nparked >= UPPOOL_PARKED_MAX)
		return -1;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return -1;
	e->pool = p;
	e->c = *c;
	snprintf(e->sid, sizeof(e->sid), "%s", sid);
	e->next = p->head;
	if (p->head != NULL)
		p->head->prev = e;
	p->head = e;
	p->nparked++;
	io_set_cb(e->c.io, &uppool_io_cb, e);
	io_deadline(e->c.io, left < UPPOOL_IDLE_S ? left : UPPOOL_IDLE_S);
	log_event(LOG_DEBUG, sid, "upstream_parked", "uses=%u parked=%zu",
	    c->uses, p->nparked);
	return 0;
}

int
uppool_take(struct event_base *base, const struct buf *key,
    struct uppool_conn *c)
{
	struct uppool		*p;
	struct uppool_entry	*e, *next;
	double			 now = uppool_now();

	if (key == NULL || uppool_self == NULL ||
	    (p = uppool_get(base)) == NULL)
		return -1;
	for (e = p->head; e != NULL; e = next) {
		next = e->next;
		if (e->quitting || !uppool_key_eq(e->c.key, key))
			continue;
		if (e->c.born + UPPOOL_AGE_S <= now ||
		    io_input_pending(e->c.io) > 0) {
			uppool_quit(e);
			continue;
		}
		*c = e->c;
		c->uses++;
		/* The caller owns io and key now; only the entry goes. */
		e->c.io = NULL;
		e->c.key = NULL;
		uppool_unlink(e);
		free(e);
		io_deadline(c->io, 0);
		return 0;
	}
	return -1;
}

void
uppool_drain(void)
{
	struct uppool		*p = uppool_self;
	struct uppool_entry	*e, *next;

	if (p == NULL)
		return;
	p->draining = 1;
	for (e = p->head; e != NULL; e = next) {
		next = e->next;
		uppool_quit(e);
	}
}

void
uppool_shutdown(void)
{
	struct uppool	*p = uppool_self;

	if (p == NULL)
		return;
	while (p->head != NULL)
		uppool_close(p->head);
	free(p);
	uppool_self = NULL;
}
