/*
 * arcd — the ARC job of one message in signetd: our forged-claim
 * removal, asynchronous key lookups, chain validation and sealing
 * (RFC 8617 5.1, 5.2; RFC 8601 5; hostile-inputs AR-01, AR-02).
 *
 * Invariants:
 * - Every Authentication-Results field claiming our authserv-id is gone
 *   from the header list before the chain is read, so the AAR holds only
 *   what we computed plus the results of configured trusted ids, and cv=
 *   is always our own validation (AR-01).
 * - Lookups never block: datagrams on non-blocking sockets, one per
 *   resolver, connect()ed so the kernel drops answers from anyone else;
 *   an answer must carry the query's id and question, and only the
 *   CNAME chain the answer itself holds is followed.  Until
 *   the body is complete a lost query is retried a few times; from then
 *   on everything still missing gets resolver.timeout, after which it is
 *   a DNS error.
 * - A result that hangs on a DNS error is not sealed: the caller answers
 *   4xx so the client retries, rather than ending the chain with cv=fail
 *   over our own hiccup (arc_temporary).
 * - The done callback runs from its own event, once; arcd_free cancels
 *   everything, so a session that goes away never hears from us.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <ldns/ldns.h>

#include "config/config.h"
#include "keys/dnscheck.h"
#include "keys/signer.h"
#include "proxy/arcd.h"
#include "proxy/log.h"
#include "proxy/metrics.h"
#include "proxy/msg/arc.h"
#include "proxy/msg/buf.h"
#include "proxy/msg/hash.h"
#include "proxy/msg/hdr.h"
#include "proxy/msg/verify.h"

/* Distinct key records of one message: every DKIM and ARC signature. */
#define ARCD_QUERIES_MAX	(VERIFY_SIGS_MAX + ARC_KEYS_MAX)
#define ARCD_TYPE_TXT		16	/* RFC 1035 3.2.2 */
#define ARCD_RCODE_NXDOMAIN	3	/* RFC 1035 4.1.1 */
/* Sends per query before the body ends, and the floor between them. */
#define ARCD_TRIES_MAX		3
#define ARCD_RETRY_MIN_MS	100
/*
 * Trusted Authentication-Results copied into our AAR: beyond this the
 * rest is left out, so a client cannot make the AAR a line no MTA takes
 * (RFC 5322 2.1.1: 998 octets) or the header section explode.
 */
#define ARCD_TRUSTED_MAX	2048
#define ARCD_RESULTS_MAX	(8 * 1024)
#define ARCD_PROP_MAX		200	/* header.d= / header.s= shown */
#define ARCD_AR_MAX		HDR_FIELDS_MAX
#define ARCD_LOCALHOST		0x7f000001	/* 127.0.0.1 */
/* CNAMEs followed inside one answer (RFC 1034 3.6.2 chains). */
#define ARCD_CNAME_MAX		8
#define ARCD_DNS_HEADER		12	/* RFC 1035 4.1.1 */
/* A query: header, a name of at most 255 octets, EDNS0 OPT (RFC 6891). */
#define ARCD_QUERY_MAX		512

struct arcd_query {
	char			 name[DNSCHECK_NAME_MAX + 1];
	uint8_t			 id[2];
	int			 done;
	unsigned		 tries;
	enum verify_dns		 ans;
	struct buf		*txt;
};

struct arcd {
	struct event_base		*base;
	const struct config_resolver	*res;
	const struct config_signing	*signing;
	const struct config_arc		*cfg;
	const char			*domain;
	const struct keys_key		*key;
	const char			*selector;	/* the key's s= */
	char				 sid[32];
	struct hdr_list			*hl;
	struct hash_body		*hb;
	struct arc			*arc;
	struct verify			*v;
	struct buf			*trusted;
	struct buf			*set;
	int64_t				 now;
	/* Name servers: the configured ones, or 127.0.0.1:53. */
	struct sockaddr_storage		 ns[CONFIG_RESOLVER_NS_MAX];
	socklen_t			 nslen[CONFIG_RESOLVER_NS_MAX];
	size_t				 nns;
	int				 fd[CONFIG_RESOLVER_NS_MAX];
	struct event			*rd[CONFIG_RESOLVER_NS_MAX];
	struct event			*tick;
	struct event			*deadline;
	struct event			*done_ev;
	struct arcd_query		*q;
	size_t				 nq;
	size_t				 pending;
	size_t				 vq[VERIFY_SIGS_MAX];	/* sig -> q */
	size_t				 aq[ARC_KEYS_MAX];	/* key -> q */
	int				 finishing;
	enum arcd_outcome		 outcome;
	arcd_done_fn			 done;
	void				*arg;
	struct timeval			 retry;
};

static int
arcd_sign_fn(void *ctx, const uint8_t digest[HASH_SHA256_LEN], uint8_t *sig,
    size_t *siglen)
{
	return keys_sign(ctx, KEYS_ALG_RSA_SHA256, digest, sig, siglen);
}

int
arcd_remove_ours(struct hdr_list *hl, const struct config_arc *cfg,
    const char *sid)
{
	size_t	*idx, n, i;
	int	 rc = -1;

	if ((idx = calloc(ARCD_AR_MAX, sizeof(*idx))) == NULL)
		return -1;
	if (arc_ar_ours(hl, cfg->authserv_id, idx, ARCD_AR_MAX, &n) == -1)
		goto done;
	/* From the bottom, so the indices above stay right. */
	for (i = n < ARCD_AR_MAX ? n : ARCD_AR_MAX; i > 0; i--)
		if (hdr_remove(hl, idx[i - 1]) == -1)
			goto done;
	if (n > 0)
		log_event(LOG_INFO, sid, "arc_ar_removed",
		    "count=%zu authserv_id=%s", n, cfg->authserv_id);
	rc = 0;
done:
	free(idx);
	return rc;
}

/* RFC 8601 5: delete what claims to be us; keep what trusted ids said. */
static int
arcd_headers(struct arcd *j)
{
	const uint8_t	*v;
	size_t		 i, t, len, before;
	struct buf	*id = NULL;
	int		 rc = -1;

	if (arcd_remove_ours(j->hl, j->cfg, j->sid) == -1 ||
	    (id = buf_new(0)) == NULL)
		goto done;
	for (i = 0; i < hdr_count(j->hl); i++) {
		if (!hdr_name_is(j->hl, i, "authentication-results"))
			continue;
		v = hdr_value(j->hl, i, &len);
		buf_reset(id);
		if (arc_ar_authserv_id(v, len, id) == -1 ||
		    buf_cstr(id) == NULL)
			continue;
		for (t = 0; t < j->cfg->ntrusted_authserv_ids; t++)
			if (strcasecmp(buf_cstr(id),
			    j->cfg->trusted_authserv_ids[t]) == 0)
				break;
		if (t == j->cfg->ntrusted_authserv_ids)
			continue;
		before = buf_len(j->trusted);
		if (arc_ar_results(v, len, j->trusted) == -1) {
			/* Too long or not RFC 8601: left out. */
			buf_truncate(j->trusted, before);
			log_event(LOG_INFO, j->sid, "arc_ar_skipped",
			    "authserv_id=%s", buf_cstr(id));
		}
	}
	rc = 0;
done:
	buf_free(id);
	return rc;
}

struct arcd *
arcd_new(struct event_base *base, const struct config_resolver *res,
    const struct config_signing *signing, const char *domain,
    const struct config_arc *cfg, const struct keys_key *key,
    const char *selector,
    const char *sid, struct hdr_list *hl, struct hash_body *hb)
{
	struct arcd		*j;
	struct sockaddr_in	*sin;
	size_t			 i;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	for (i = 0; i < CONFIG_RESOLVER_NS_MAX; i++)
		j->fd[i] = -1;
	j->base = base;
	j->res = res;
	j->signing = signing;
	j->cfg = cfg;
	j->domain = domain;
	j->key = key;
	j->selector = selector;
	snprintf(j->sid, sizeof(j->sid), "%s", sid != NULL ? sid : "-");
	j->hl = hl;
	j->hb = hb;
	j->now = (int64_t)time(NULL);
	for (i = 0; i < res->nnameservers; i++) {
		memcpy(&j->ns[i], &res->nameservers[i].sa,
		    res->nameservers[i].salen);
		j->nslen[i] = res->nameservers[i].salen;
	}
	j->nns = res->nnameservers;
	if (j->nns == 0) {
		sin = (struct sockaddr_in *)&j->ns[0];
		sin->sin_family = AF_INET;
		sin->sin_port = htons(53);
		sin->sin_addr.s_addr = htonl(ARCD_LOCALHOST);
		j->nslen[0] = sizeof(*sin);
		j->nns = 1;
	}
	if ((j->trusted = buf_new(ARCD_TRUSTED_MAX)) == NULL ||
	    (j->set = buf_new(0)) == NULL ||
	    (j->q = calloc(ARCD_QUERIES_MAX, sizeof(*j->q))) == NULL ||
	    arcd_headers(j) == -1 ||
	    (j->arc = arc_new(hl, j->now, hb)) == NULL) {
		arcd_free(j);
		return NULL;
	}
	return j;
}

/* The query for name, shared by every signature naming it. */
static int
arcd_query_add(struct arcd *j, struct buf *name, size_t *out)
{
	const char	*n = buf_cstr(name);
	size_t		 i;

	if (n == NULL)
		return -1;
	for (i = 0; i < j->nq; i++)
		if (strcasecmp(j->q[i].name, n) == 0) {
			*out = i;
			return 0;
		}
	if (j->nq == ARCD_QUERIES_MAX)
		return -1;
	i = j->nq++;
	*out = i;
	j->q[i].ans = VERIFY_DNS_ERROR;
	/* A name DNS cannot hold has no key record: nothing to ask. */
	if (strlen(n) > DNSCHECK_NAME_MAX || !dnscheck_name_valid(n)) {
		j->q[i].done = 1;
		j->q[i].ans = VERIFY_DNS_NXDOMAIN;
		return 0;
	}
	snprintf(j->q[i].name, sizeof(j->q[i].name), "%s", n);
	j->pending++;
	return 0;
}

static void	arcd_read_cb(evutil_socket_t, short, void *);
static void	arcd_tick_cb(evutil_socket_t, short, void *);
static void	arcd_deadline_cb(evutil_socket_t, short, void *);
static void	arcd_done_cb(evutil_socket_t, short, void *);

static int
arcd_socket(struct arcd *j, size_t k)
{
	int	fd;

	if (j->fd[k] != -1)
		return 0;
	fd = socket(j->ns[k].ss_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&j->ns[k], j->nslen[k]) == -1 ||
	    (j->rd[k] = event_new(j->base, fd, EV_READ | EV_PERSIST,
	    arcd_read_cb, j)) == NULL || event_add(j->rd[k], NULL) == -1) {
		if (j->rd[k] != NULL)
			event_free(j->rd[k]);
		j->rd[k] = NULL;
		close(fd);
		return -1;
	}
	j->fd[k] = fd;
	return 0;
}

/*
 * One datagram for query q, to the next resolver in turn.  Retries keep
 * the first id, so a slow answer to an earlier try still counts.
 */
static void
arcd_send(struct arcd *j, struct arcd_query *q)
{
	struct buf	*pkt;
	uint8_t		 w[ARCD_QUERY_MAX];
	size_t		 k = q->tries % j->nns, len;

	if ((pkt = buf_new(ARCD_QUERY_MAX)) == NULL)
		return;
	if (dnscheck_query_build(q->name, ARCD_TYPE_TXT, 1, pkt) == 0 &&
	    (len = buf_len(pkt)) >= 2 && arcd_socket(j, k) == 0) {
		memcpy(w, buf_data(pkt), len);
		if (q->tries == 0)
			memcpy(q->id, w, 2);
		else
			memcpy(w, q->id, 2);
		/* A lost datagram is what the retries are for. */
		(void)send(j->fd[k], w, len, 0);
	}
	q->tries++;
	buf_free(pkt);
}

int
arcd_start(struct arcd *j)
{
	struct buf	*name;
	uint64_t	 ms;
	size_t		 i;
	int		 rc = -1;

	if ((j->v = verify_new(j->hl, j->now, j->hb)) == NULL ||
	    (name = buf_new(VERIFY_KEY_TXT_MAX)) == NULL)
		return -1;
	for (i = 0; i < verify_count(j->v) && i < VERIFY_SIGS_MAX; i++) {
		j->vq[i] = SIZE_MAX;
		buf_reset(name);
		if (verify_key_name(j->v, i, name) == -1)
			continue;
		if (arcd_query_add(j, name, &j->vq[i]) == -1)
			goto done;
	}
	for (i = 0; i < arc_key_count(j->arc) && i < ARC_KEYS_MAX; i++) {
		j->aq[i] = SIZE_MAX;
		buf_reset(name);
		if (arc_key_name(j->arc, i, name) == -1)
			continue;
		if (arcd_query_add(j, name, &j->aq[i]) == -1)
			goto done;
	}
	ms = j->res->timeout_ms / ARCD_TRIES_MAX;
	if (ms < ARCD_RETRY_MIN_MS)
		ms = ARCD_RETRY_MIN_MS;
	j->retry.tv_sec = (time_t)(ms / 1000);
	j->retry.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	if ((j->tick = evtimer_new(j->base, arcd_tick_cb, j)) == NULL ||
	    (j->deadline = evtimer_new(j->base, arcd_deadline_cb, j)) ==
	    NULL || (j->done_ev = evtimer_new(j->base, arcd_done_cb, j)) ==
	    NULL)
		goto done;
	for (i = 0; i < j->nq; i++)
		if (!j->q[i].done)
			arcd_send(j, &j->q[i]);
	if (j->pending > 0 && evtimer_add(j->tick, &j->retry) == -1)
		goto done;
	rc = 0;
done:
	buf_free(name);
	return rc;
}

static void
arcd_resend(struct arcd *j, int force)
{
	size_t	i;
	int	any = 0;

	for (i = 0; i < j->nq; i++) {
		if (j->q[i].done || (!force && j->q[i].tries >=
		    ARCD_TRIES_MAX * j->nns))
			continue;
		arcd_send(j, &j->q[i]);
		any = 1;
	}
	if (any)
		evtimer_add(j->tick, &j->retry);
}

static void
arcd_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	arcd_resend(arg, 0);
}

/* rr's owner is name and its type t (class IN). */
static int
arcd_rr_is(const ldns_rr *rr, const ldns_rdf *name, ldns_rr_type t)
{
	return ldns_rr_get_type(rr) == t &&
	    ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN &&
	    ldns_dname_compare(ldns_rr_owner(rr), name) == 0;
}

/* A TXT record's strings joined (RFC 6376 3.6.2.2) into out. */
static int
arcd_txt(const ldns_rr *rr, struct buf *out)
{
	const ldns_rdf	*f;
	const uint8_t	*d;
	size_t		 i;

	for (i = 0; i < ldns_rr_rd_count(rr); i++) {
		f = ldns_rr_rdf(rr, i);
		d = ldns_rdf_data(f);
		if (ldns_rdf_size(f) < 1 || (size_t)d[0] + 1 >
		    ldns_rdf_size(f) || buf_append(out, d + 1, d[0]) == -1)
			return -1;
	}
	return 0;
}

int
arcd_dns_answer(const uint8_t *p, size_t n, const char *qname,
    const uint8_t id[2], struct buf *txt)
{
	ldns_pkt		*pkt = NULL;
	ldns_rdf		*want = NULL, *cur;
	const ldns_rr_list	*an;
	const ldns_rr		*q, *rr;
	size_t			 i, hop;
	int			 rc = -1, more;

	if (n < ARCD_DNS_HEADER || n > DNSCHECK_UDP_MAX ||
	    memcmp(p, id, 2) != 0 ||
	    ldns_wire2pkt(&pkt, p, n) != LDNS_STATUS_OK ||
	    ldns_str2rdf_dname(&want, qname) != LDNS_STATUS_OK)
		goto done;
	/* Ours: a reply to our one question. */
	if (!ldns_pkt_qr(pkt) || ldns_pkt_qdcount(pkt) != 1 ||
	    (q = ldns_rr_list_rr(ldns_pkt_question(pkt), 0)) == NULL ||
	    !arcd_rr_is(q, want, LDNS_RR_TYPE_TXT))
		goto done;
	rc = VERIFY_DNS_ERROR;
	if (ldns_pkt_tc(pkt))
		goto done;
	if (ldns_pkt_get_rcode(pkt) == LDNS_RCODE_NXDOMAIN) {
		rc = VERIFY_DNS_NXDOMAIN;
		goto done;
	}
	if (ldns_pkt_get_rcode(pkt) != LDNS_RCODE_NOERROR)
		goto done;
	an = ldns_pkt_answer(pkt);
	/* The resolver put the CNAME chain, if any, in the answer. */
	cur = want;
	for (hop = 0, more = 1; more && hop < ARCD_CNAME_MAX; hop++) {
		more = 0;
		for (i = 0; i < ldns_rr_list_rr_count(an); i++) {
			rr = ldns_rr_list_rr(an, i);
			if (arcd_rr_is(rr, cur, LDNS_RR_TYPE_CNAME) &&
			    ldns_rr_rd_count(rr) == 1 &&
			    ldns_rdf_get_type(ldns_rr_rdf(rr, 0)) ==
			    LDNS_RDF_TYPE_DNAME) {
				cur = ldns_rr_rdf(rr, 0);
				more = 1;
				break;
			}
		}
	}
	rc = VERIFY_DNS_NXDOMAIN;
	for (i = 0; i < ldns_rr_list_rr_count(an); i++) {
		rr = ldns_rr_list_rr(an, i);
		if (!arcd_rr_is(rr, cur, LDNS_RR_TYPE_TXT))
			continue;
		/* RFC 6376 3.6.2.2 leaves several undefined: the first. */
		buf_reset(txt);
		rc = arcd_txt(rr, txt) == 0 ? VERIFY_DNS_OK : VERIFY_DNS_ERROR;
		break;
	}
done:
	ldns_rdf_deep_free(want);
	ldns_pkt_free(pkt);
	return rc;
}

/* The answer to a query we sent, or nothing (not ours, malformed). */
static void
arcd_answer(struct arcd *j, const uint8_t *p, size_t n)
{
	struct arcd_query	*q;
	size_t			 i;
	int			 rc;

	for (i = 0; i < j->nq; i++) {
		q = &j->q[i];
		if (q->done || q->tries == 0)
			continue;
		if (q->txt == NULL &&
		    (q->txt = buf_new(VERIFY_KEY_TXT_MAX)) == NULL)
			return;
		if ((rc = arcd_dns_answer(p, n, q->name, q->id, q->txt)) == -1)
			continue;
		q->ans = (enum verify_dns)rc;
		q->done = 1;
		j->pending--;
		if (j->pending == 0) {
			evtimer_del(j->tick);
			if (j->finishing)
				event_active(j->done_ev, EV_TIMEOUT, 0);
		}
		return;
	}
}

static void
arcd_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct arcd	*j = arg;
	uint8_t		 pkt[DNSCHECK_UDP_MAX];
	ssize_t		 n;
	int		 i;

	(void)what;
	/* Bounded: a flood of datagrams cannot hold the loop. */
	for (i = 0; i < ARCD_QUERIES_MAX; i++) {
		n = recv(fd, pkt, sizeof(pkt), MSG_TRUNC);
		if (n == -1)
			return;
		/* Cut by our buffer: the sender went past EDNS0's size. */
		if ((size_t)n > sizeof(pkt))
			continue;
		arcd_answer(j, pkt, (size_t)n);
	}
}

static void
arcd_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct arcd	*j = arg;

	(void)fd;
	(void)what;
	log_event(LOG_WARNING, j->sid, "arc_dns_timeout", "missing=%zu",
	    j->pending);
	arcd_done_cb(-1, 0, j);
}

/* A-R property value (RFC 8601 2.2 pvalue): plain tokens only. */
static int
arcd_prop(struct buf *out, const char *prop, const uint8_t *v, size_t len)
{
	size_t	i;

	if (len == 0 || len > ARCD_PROP_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (v[i] <= 0x20 || v[i] >= 0x7f || v[i] == ';' ||
		    v[i] == '(' || v[i] == ')' || v[i] == '"' || v[i] == '\\')
			return 0;
	return buf_printf(out, " %s=%.*s", prop, (int)len, (const char *)v);
}

/* Our results (RFC 8601 2.7.1, RFC 8617 4.1.1), then the trusted ones. */
static int
arcd_results(const struct arcd *j, struct buf *out)
{
	const uint8_t	*p;
	size_t		 i, len, n = verify_count(j->v);

	if (n > VERIFY_SIGS_MAX)
		n = VERIFY_SIGS_MAX;
	for (i = 0; i < n; i++) {
		if (buf_printf(out, "%sdkim=%s", i > 0 ? "; " : "",
		    verify_result_name(verify_result(j->v, i))) == -1)
			return -1;
		p = verify_domain(j->v, i, &len);
		if (arcd_prop(out, "header.d", p, len) == -1)
			return -1;
		p = verify_selector(j->v, i, &len);
		if (arcd_prop(out, "header.s", p, len) == -1)
			return -1;
	}
	if (n == 0 && buf_append_str(out, "dkim=none") == -1)
		return -1;
	if (buf_printf(out, "; arc=%s", arc_cv_name(arc_result(j->arc))) == -1)
		return -1;
	if (buf_len(j->trusted) > 0 && (buf_append_str(out, "; ") == -1 ||
	    buf_append(out, buf_data(j->trusted), buf_len(j->trusted)) == -1))
		return -1;
	return 0;
}

/* Every answer in (or given up on): validate and seal. */
static enum arcd_outcome
arcd_conclude(struct arcd *j)
{
	struct arc_seal_params	 p;
	struct arcd_query	*q;
	struct log_line		*l;
	struct buf		*results = NULL;
	size_t			 i;
	enum arcd_outcome	 o = ARCD_ERROR;

	for (i = 0; i < verify_count(j->v) && i < VERIFY_SIGS_MAX; i++) {
		if (j->vq[i] == SIZE_MAX)
			continue;
		q = &j->q[j->vq[i]];
		if (verify_answer(j->v, i, q->ans, q->ans == VERIFY_DNS_OK ?
		    buf_data(q->txt) : NULL, q->ans == VERIFY_DNS_OK ?
		    buf_len(q->txt) : 0) == -1)
			return ARCD_ERROR;
	}
	for (i = 0; i < arc_key_count(j->arc) && i < ARC_KEYS_MAX; i++) {
		if (j->aq[i] == SIZE_MAX)
			continue;
		q = &j->q[j->aq[i]];
		if (arc_answer(j->arc, i, q->ans, q->ans == VERIFY_DNS_OK ?
		    buf_data(q->txt) : NULL, q->ans == VERIFY_DNS_OK ?
		    buf_len(q->txt) : 0) == -1)
			return ARCD_ERROR;
	}
	if (verify_finish(j->v) == -1 || arc_finish(j->arc) == -1)
		return ARCD_ERROR;
	if (arc_temporary(j->arc)) {
		log_event(LOG_WARNING, j->sid, "arc_tempfail", "reason=\"%s\"",
		    arc_reason(j->arc));
		return ARCD_TEMPFAIL;
	}
	if (arc_next_instance(j->arc) == 0) {
		l = log_begin(LOG_INFO, j->sid, "arc_not_extended");
		log_kv(l, "d", "%s", j->domain);
		log_kv(l, "sets", "%zu", arc_set_count(j->arc));
		log_kv_esc(l, "reason", arc_reason(j->arc),
		    strlen(arc_reason(j->arc)));
		log_end(l);
		return ARCD_NOT_EXTENDED;
	}
	if ((results = buf_new(ARCD_RESULTS_MAX)) == NULL ||
	    arcd_results(j, results) == -1 || buf_cstr(results) == NULL)
		goto done;
	memset(&p, 0, sizeof(p));
	p.domain = j->domain;
	p.selector = j->selector;
	p.authserv_id = j->cfg->authserv_id;
	p.results = buf_cstr(results);
	p.time = j->now;
	p.sign = (const char *const *)j->signing->headers;
	p.nsign = j->signing->nheaders;
	p.oversign = (const char *const *)j->signing->oversign;
	p.noversign = j->signing->noversign;
	if (p.nsign == 0) {
		p.sign = dkim_default_sign;
		p.nsign = dkim_default_nsign;
		p.oversign = dkim_default_oversign;
		p.noversign = dkim_default_noversign;
	}
	p.sign_fn = arcd_sign_fn;
	p.sign_ctx = (void *)(uintptr_t)j->key;
	if (arc_seal(j->arc, j->hl, &p, j->set) == -1) {
		log_event(LOG_ERR, j->sid, "arc_seal_failed", "d=%s s=%s",
		    j->domain, j->selector);
		goto done;
	}
	l = log_begin(LOG_INFO, j->sid, "arc_sealed");
	log_kv(l, "i", "%u", arc_next_instance(j->arc));
	log_kv(l, "cv", "%s", arc_cv_name(arc_result(j->arc)));
	log_kv(l, "d", "%s", j->domain);
	log_kv(l, "s", "%s", j->selector);
	if (arc_result(j->arc) == ARC_CV_FAIL)
		log_kv_esc(l, "reason", arc_reason(j->arc),
		    strlen(arc_reason(j->arc)));
	log_end(l);
	o = ARCD_SEALED;
done:
	buf_free(results);
	return o;
}

static void
arcd_count(const struct arcd *j)
{
	enum metrics_arc	 m = METRICS_ARC_ERROR;

	switch (j->outcome) {
	case ARCD_SEALED:
		m = arc_result(j->arc) == ARC_CV_PASS ? METRICS_ARC_SEALED_PASS :
		    arc_result(j->arc) == ARC_CV_FAIL ? METRICS_ARC_SEALED_FAIL :
		    METRICS_ARC_SEALED_NONE;
		break;
	case ARCD_NOT_EXTENDED:
		m = METRICS_ARC_NOT_EXTENDED;
		break;
	case ARCD_TEMPFAIL:
		m = METRICS_ARC_TEMPFAIL;
		break;
	case ARCD_ERROR:
		break;
	}
	metrics_arc(m);
}

static void
arcd_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct arcd	*j = arg;
	arcd_done_fn	 fn;
	size_t		 i;

	(void)fd;
	(void)what;
	if (j->done == NULL)
		return;
	evtimer_del(j->tick);
	evtimer_del(j->deadline);
	evtimer_del(j->done_ev);
	for (i = 0; i < CONFIG_RESOLVER_NS_MAX; i++)
		if (j->rd[i] != NULL)
			event_del(j->rd[i]);
	j->outcome = arcd_conclude(j);
	j->finishing = 0;
	arcd_count(j);
	fn = j->done;
	j->done = NULL;
	fn(j->arg, j->outcome);
}

void
arcd_finish(struct arcd *j, arcd_done_fn fn, void *arg)
{
	struct timeval	 tv;
	uint64_t	 ms = j->res->timeout_ms;

	j->done = fn;
	j->arg = arg;
	j->finishing = 1;
	if (j->pending == 0) {
		event_active(j->done_ev, EV_TIMEOUT, 0);
		return;
	}
	/* The body is in: everything missing gets a fresh round. */
	arcd_resend(j, 1);
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	if (evtimer_add(j->deadline, &tv) == -1)
		event_active(j->done_ev, EV_TIMEOUT, 0);
}

const struct buf *
arcd_set(const struct arcd *j)
{
	return j->set;
}

void
arcd_free(struct arcd *j)
{
	size_t	i;

	if (j == NULL)
		return;
	for (i = 0; i < CONFIG_RESOLVER_NS_MAX; i++) {
		if (j->rd[i] != NULL)
			event_free(j->rd[i]);
		if (j->fd[i] != -1)
			close(j->fd[i]);
	}
	if (j->tick != NULL)
		event_free(j->tick);
	if (j->deadline != NULL)
		event_free(j->deadline);
	if (j->done_ev != NULL)
		event_free(j->done_ev);
	for (i = 0; j->q != NULL && i < j->nq; i++)
		buf_free(j->q[i].txt);
	free(j->q);
	verify_free(j->v);
	arc_free(j->arc);
	buf_free(j->trusted);
	buf_free(j->set);
	free(j);
}
