/*
 * selfcheck — the periodic comparison of our signing keys with what the
 * authoritative servers publish (KY-03), on a thread of its own so that
 * DNS timeouts never stall a session.  See selfcheck.h.
 *
 * The thread sleeps on a condition variable (CLOCK_MONOTONIC), so stop
 * wakes it at once; a round in progress stops after the key it is
 * checking, which takes at most two SELFCHECK_TIMEOUT_MS attempts (UDP,
 * TCP) per server.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "config/config.h"
#include "keys/dnscheck.h"
#include "keys/signer.h"
#include "proxy/log.h"
#include "proxy/metrics.h"
#include "proxy/selfcheck.h"
#include "proxy/snapshot.h"

/*
 * How often the thread looks at the configuration while the check is
 * off, so a reload that turns it on is seen within this many seconds.
 */
#define SELFCHECK_IDLE_S	5
/* Per DNS attempt: shorter than dnscheck's default, a round must end. */
#define SELFCHECK_TIMEOUT_MS	2000
#define SELFCHECK_ERR_LEN	256

struct selfcheck {
	pthread_t	 thread;
	pthread_mutex_t	 mtx;
	pthread_cond_t	 cv;
	/* Set under mtx; also read between keys, so a round ends early. */
	atomic_int	 stop;
};

/* One key: 1 shown by every server, 0 not (logged), -1 no answer. */
static int
selfcheck_key(const struct config *cfg, const struct dnscheck_server *srv,
    const char *domain, const char *selector, const struct keys_key *key,
    uint64_t generation)
{
	struct dnscheck_cfg	 dc;
	struct dnscheck_report	*r;
	struct log_line		*l;
	char			 err[SELFCHECK_ERR_LEN], id[KEYS_ID_LEN + 1];
	size_t			 i;
	int			 match;

	if (keys_id(key, id) == -1)
		return -1;
	memset(&dc, 0, sizeof(dc));
	dc.zone = config_zone(cfg, domain);
	dc.servers = srv;
	dc.nservers = cfg->rotation.nauthoritative;
	dc.timeout_ms = SELFCHECK_TIMEOUT_MS;
	err[0] = '\0';
	r = dnscheck_key(&dc, domain, selector, key, err, sizeof(err));
	if (r == NULL) {
		l = log_begin(LOG_ERR, NULL, "dns_self_check_failed");
		log_kv(l, "domain", "%s", domain);
		log_kv(l, "selector", "%s", selector);
		log_kv_esc(l, "detail", err, strlen(err));
		log_end(l);
		metrics_dns_match(domain, selector, 0);
		return -1;
	}
	match = dnscheck_report_visible(r);
	for (i = 0; !match && i < dnscheck_report_count(r); i++) {
		if (dnscheck_report_status(r, i) == DNSCHECK_MATCH)
			continue;
		l = log_begin(LOG_ERR, NULL, "dns_mismatch");
		log_kv(l, "domain", "%s", domain);
		log_kv(l, "selector", "%s", selector);
		log_kv(l, "key", "%s", id);
		log_kv(l, "store_generation", "%llu",
		    (unsigned long long)generation);
		log_kv_esc(l, "server", dnscheck_report_server(r, i),
		    strlen(dnscheck_report_server(r, i)));
		log_kv(l, "status", "%s",
		    dnscheck_status_name(dnscheck_report_status(r, i)));
		log_kv_esc(l, "detail", dnscheck_report_detail(r, i),
		    strlen(dnscheck_report_detail(r, i)));
		log_end(l);
	}
	dnscheck_report_free(r);
	metrics_dns_match(domain, selector, match);
	return match;
}

/*
 * One round over the snapshot's signing keys.  The snapshot stays
 * referenced for the round, so keys a reload retired meanwhile are
 * freed only when it ends.
 */
static void
selfcheck_round(struct selfcheck *sc, struct snapshot *s)
{
	const struct config	*cfg = snapshot_config(s);
	struct dnscheck_server	*srv = NULL;
	const struct keys_key	*key;
	const char		*domain, *selector;
	size_t			 i, n, bad = 0;
	int			 rc;

	if (cfg->rotation.nauthoritative > 0) {
		if ((srv = calloc(cfg->rotation.nauthoritative,
		    sizeof(*srv))) == NULL)
			return;
		for (i = 0; i < cfg->rotation.nauthoritative; i++) {
			srv[i].host = cfg->rotation.authoritative[i].host;
			srv[i].port = cfg->rotation.authoritative[i].port;
		}
	}
	n = snapshot_nkeys(s);
	log_event(LOG_INFO, NULL, "dns_self_check", "stage=start keys=%zu "
	    "store_generation=%llu", n,
	    (unsigned long long)snapshot_store_generation(s));
	for (i = 0; i < n && !atomic_load(&sc->stop); i++) {
		if ((key = snapshot_key_at(s, i, &domain, &selector)) == NULL)
			continue;
		rc = selfcheck_key(cfg, srv, domain, selector, key,
		    snapshot_store_generation(s));
		if (rc != 1)
			bad++;
	}
	free(srv);
	metrics_dns_checked(snapshot_store_generation(s), time(NULL));
	log_event(bad > 0 ? LOG_WARNING : LOG_INFO, NULL, "dns_self_check",
	    "stage=done keys=%zu mismatches=%zu store_generation=%llu", n, bad,
	    (unsigned long long)snapshot_store_generation(s));
}

static uint64_t
selfcheck_interval(void)
{
	struct snapshot	*s;
	uint64_t	 v = 0;

	if ((s = snapshot_current()) != NULL) {
		v = snapshot_config(s)->rotation.self_check_s;
		snapshot_unref(s);
	}
	return v;
}

static void *
selfcheck_main(void *arg)
{
	struct selfcheck	*sc = arg;
	struct snapshot		*s;
	struct timespec		 now, until;
	time_t			 next = 0;
	uint64_t		 iv;

	pthread_mutex_lock(&sc->mtx);
	while (!sc->stop) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		iv = selfcheck_interval();
		/* a shorter interval after a reload counts from now */
		if (iv > 0 && next > now.tv_sec + (time_t)iv)
			next = now.tv_sec + (time_t)iv;
		if (iv > 0 && now.tv_sec >= next) {
			pthread_mutex_unlock(&sc->mtx);
			if ((s = snapshot_current()) != NULL) {
				selfcheck_round(sc, s);
				snapshot_unref(s);
			}
			pthread_mutex_lock(&sc->mtx);
			clock_gettime(CLOCK_MONOTONIC, &now);
			next = now.tv_sec + (time_t)iv;
			continue;
		}
		until = now;
		if (iv == 0 || next - now.tv_sec > SELFCHECK_IDLE_S)
			until.tv_sec += SELFCHECK_IDLE_S;
		else
			until.tv_sec = next;
		while (!sc->stop && pthread_cond_timedwait(&sc->cv, &sc->mtx,
		    &until) == 0)
			;
	}
	pthread_mutex_unlock(&sc->mtx);
	return NULL;
}

struct selfcheck *
selfcheck_start(void)
{
	struct selfcheck	*sc;
	pthread_condattr_t	 ca;
	sigset_t		 all, old;
	int			 rc;

	if ((sc = calloc(1, sizeof(*sc))) == NULL)
		return NULL;
	if (pthread_condattr_init(&ca) != 0) {
		free(sc);
		return NULL;
	}
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (pthread_mutex_init(&sc->mtx, NULL) != 0) {
		pthread_condattr_destroy(&ca);
		free(sc);
		return NULL;
	}
	if (pthread_cond_init(&sc->cv, &ca) != 0) {
		pthread_condattr_destroy(&ca);
		pthread_mutex_destroy(&sc->mtx);
		free(sc);
		return NULL;
	}
	pthread_condattr_destroy(&ca);
	/* The thread inherits a mask with every signal blocked. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&sc->thread, NULL, selfcheck_main, sc);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		pthread_cond_destroy(&sc->cv);
		pthread_mutex_destroy(&sc->mtx);
		free(sc);
		return NULL;
	}
	return sc;
}

void
selfcheck_stop(struct selfcheck *sc)
{
	if (sc == NULL)
		return;
	pthread_mutex_lock(&sc->mtx);
	sc->stop = 1;
	pthread_cond_signal(&sc->cv);
	pthread_mutex_unlock(&sc->mtx);
	pthread_join(sc->thread, NULL);
	pthread_cond_destroy(&sc->cv);
	pthread_mutex_destroy(&sc->mtx);
	free(sc);
}
