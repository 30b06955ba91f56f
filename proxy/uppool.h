/*
 * uppool — idle upstream connections kept between client sessions, one
 * cache per worker thread (its event base), like Postfix's
 * smtp_connection_cache_*: an application that sends one message per
 * connection no longer costs a TCP handshake, a greeting, EHLO, TLS and
 * AUTH towards the upstream for each message.
 *
 * A connection is parked only when nothing is open or outstanding on it
 * (the relay's ready state); it keeps its io, the EHLO capabilities, its
 * TLS and AUTH state.  It is handed out again only for a configuration
 * whose upstream identity (uppool_key) is the one it was made for.
 * While parked, any input (an idle-timeout 421, garbage) or EOF closes
 * it, so no reply is ever read as the answer to a later command.  The
 * cache is thread-local: no locks, nothing crosses threads.
 */
#ifndef SIGNET_UPPOOL_H
#define SIGNET_UPPOOL_H

#include "proxy/smtp_reply.h"

struct buf;
struct config_upstream;
struct event_base;
struct io;

/* What a connection carries between its owners. */
struct uppool_conn {
	struct io		*io;
	struct buf		*key;		/* uppool_key() it was made for */
	struct smtp_caps	 caps;		/* from the last EHLO */
	int			 tls_on;
	int			 tls_verified;
	int			 no_tls;	/* opportunistic fallback */
	double			 born;		/* uppool_now() at connect */
	unsigned int		 uses;		/* times taken from the cache */
};

/*
 * The identity of an upstream connection: address, port and every TLS
 * and AUTH setting; two configurations with equal keys may share a
 * connection.  NULL when out of memory (the connection is not cached).
 */
struct buf	*uppool_key(const struct config_upstream *);
/* Monotonic seconds, for uppool_conn.born. */
double		 uppool_now(void);

/*
 * Park c (sid for the log).  0: the cache owns c->io and c->key from
 * now on.  -1: refused (full, too old, draining, input pending); the
 * caller still owns both and closes the connection as before.
 */
int		 uppool_put(struct event_base *, const struct uppool_conn *,
		    const char *sid);
/*
 * A parked connection made for key, most recently parked first.  0 and
 * *c filled: the caller owns c->io and c->key and must re-home the io
 * (io_set_cb) before returning to the loop.  -1: none.
 */
int		 uppool_take(struct event_base *, const struct buf *key,
		    struct uppool_conn *c);
/* Draining: QUIT every parked connection and park no more. */
void		 uppool_drain(void);
/* The worker is leaving its loop: free everything the cache holds. */
void		 uppool_shutdown(void);

#endif
