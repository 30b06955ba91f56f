/*
 * metrics — Prometheus counters and the /metrics, /healthz endpoint
 * (DESIGN.md "Metrics"; Prometheus text exposition format 0.0.4).
 *
 * The counters are process-wide.  Worker threads bump them with C11
 * atomics and never take a lock; labelled counters (signatures by
 * domain/selector/algorithm, refusals by reason, DNS match by selector)
 * live in bounded tables of METRICS_LABELSETS_MAX label sets each, so an
 * ESP with many domains cannot grow memory without limit: a label set
 * that finds its table full is counted in
 * signet_metrics_label_overflow_total{metric="..."} instead.
 *
 * Gauges describing the serving snapshot (key ages, store generation,
 * health) are set by the main thread when it publishes a snapshot; the
 * HTTP server runs on the main thread's event base, on its own loopback
 * listener, and serves only GET.
 *
 * Every call is a no-op before metrics_init() and after
 * metrics_shutdown(), so code paths shared with tools need no checks.
 */
#ifndef SIGNET_METRICS_H
#define SIGNET_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct buf;
struct config;
struct event_base;
struct metrics_server;

/* Distinct label sets per labelled metric (ESPs: thousands of domains). */
#define METRICS_LABELSETS_MAX	10000
/* Octets of one rendered /metrics page. */
#define METRICS_PAGE_MAX	(32 * 1024 * 1024)
/* Label values longer than this are cut (a domain is at most 253). */
#define METRICS_LABEL_MAX	255

enum metrics_outcome {
	METRICS_ACCEPTED,	/* the upstream's 2xx reached the client */
	METRICS_REJECTED_5XX,	/* refused for good, by us or the upstream */
	METRICS_TEMPFAIL_4XX,	/* the client will retry */
	METRICS_CLIENT_LOST,	/* the client went away mid-transaction */
	METRICS_OUTCOME_COUNT
};

enum metrics_reply_class {
	METRICS_REPLY_2XX,
	METRICS_REPLY_4XX,
	METRICS_REPLY_5XX,
	METRICS_REPLY_NONE,	/* no reply: timeout, reset, protocol error */
	METRICS_REPLY_COUNT
};

/* What became of a message of an ARC domain (signet_arc_total). */
enum metrics_arc {
	METRICS_ARC_SEALED_NONE,	/* sealed, no chain before: cv=none */
	METRICS_ARC_SEALED_PASS,
	METRICS_ARC_SEALED_FAIL,
	METRICS_ARC_NOT_EXTENDED,	/* newest seal cv=fail, or 50 sets */
	METRICS_ARC_TEMPFAIL,		/* key lookup failed: 451 4.4.3 */
	METRICS_ARC_ERROR,
	METRICS_ARC_COUNT
};

/* One selector's key for signet_key_age_seconds. */
struct metrics_key {
	const char	*domain;
	const char	*selector;
	time_t		 since;		/* when the key became active */
};

/* 0 ok, -1 out of memory.  Call once, before worker threads start. */
int		 metrics_init(void);
/* After every thread that counts has stopped. */
void		 metrics_shutdown(void);

/* A finished transaction (one per DATA/BDAT end, or client loss). */
void		 metrics_message(enum metrics_outcome);
/* One DKIM signature emitted; algorithm as in a=, e.g. "rsa-sha256". */
void		 metrics_signature(const char *domain, const char *selector,
		    const char *algorithm);
/* A refusal, by its log event token (bare_lf, from_not_owned, ...). */
void		 metrics_refusal(const char *reason);
/* A final reply from the upstream, by its code (0: none came). */
void		 metrics_upstream_reply(int code);
void		 metrics_arc(enum metrics_arc);
/* Time spent signing one message (all its signatures), microseconds. */
void		 metrics_sign_latency(uint64_t usec);
void		 metrics_connection_open(void);
void		 metrics_connection_close(void);
void		 metrics_tls_handshake(int ok);
/* An upstream connection opened (0) or taken from the idle cache (1). */
void		 metrics_upstream_connection(int reused);
/* Whether the published TXT of domain/selector equals our key. */
void		 metrics_dns_match(const char *domain, const char *selector,
		    int match);

/* A DNS self-check round over store generation ended at time at. */
void		 metrics_dns_checked(uint64_t generation, time_t at);

/* Snapshot state, from the main thread. */
void		 metrics_set_serving(int serving);
void		 metrics_set_reload_failed(int failed);
void		 metrics_set_store_generation(uint64_t);
/* Replace the key-age table; copies keys.  0 ok, -1 out of memory. */
int		 metrics_set_keys(const struct metrics_key *keys, size_t n);

/*
 * Key ages for every configured domain from the key-store journals: each
 * selector's key, aged from when it became ACTIVE (READY if not yet).
 * Reads one journal per domain, so call it when a snapshot is published,
 * never per message.  0 ok, -1 store unreadable or out of memory (the
 * previous list stays).
 */
int		 metrics_load_key_ages(const struct config *);

/* The /metrics page at time now.  0 ok, -1 page over the buffer limit. */
int		 metrics_render(struct buf *out, time_t now);
/* The /healthz reply: 200 or 503, and the body into out. */
int		 metrics_health(struct buf *out);

/*
 * The HTTP listener on host:port (an IP literal).  NULL on failure with
 * a one-line reason in err (may be NULL).
 */
struct metrics_server *metrics_server_new(struct event_base *,
		    const char *host, uint16_t port, struct buf *err);
void		 metrics_server_free(struct metrics_server *);

#endif
