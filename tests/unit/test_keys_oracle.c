/*
 * test_keys_oracle — the rotation oracle's bulk engine (design/rotation.md
 * §e "Oracle test", issue 5): sign one message per simulated minute with
 * the real signer (the key store's signing set, store_load_signing_keys,
 * dkim_signer and keys_sign, as signetd does) and verify each one with
 * our verifier at a random time up to max_transit later, against a model
 * resolver that caches answers by TTL and negative TTL.
 *
 * With SIGNET_ORACLE_PLAN=FILE it runs the timeline that
 * tests/rotation/test_oracle.py recorded while driving `signetctl rotate`
 * against a real Knot primary and secondary:
 *
 *	domain D
 *	param NAME VALUE	start, end, step, transit, reload, neg, seed
 *	set T DIR		from T, the signing set of key store DIR
 *	dns T SERVER NAME TTL VALUE	from T, what SERVER answers for NAME;
 *				VALUE "-": no TXT, "!": more than one
 *
 * Without it, the engine checks itself on hand-made timelines: a correct
 * make-before-break passes, and three broken ones (activation before the
 * negative TTL ran out, a record withdrawn while mail is in transit, a
 * key signing before its record exists) are caught.
 *
 * The model resolver: the answer used at verification time v was fetched
 * at a random moment q in [v - C, v] (C the largest TTL or negative TTL
 * of the timeline) from a random server; if what that server answered at
 * q would have expired by v, the resolver asks again at v.  The proxy
 * signing at t may still hold the set of any moment in [t - reload, t].
 * Verification times spread over [t, t + max_transit] on a log scale, so
 * the first minutes after signing (where caches bite) are well covered.
 *
 * The span is cut into lanes of whole steps run on SIGNET_ORACLE_THREADS
 * threads (default 2), each with its own random stream.  One signature
 * of a message, chosen at random, is judged first, and all of them when
 * it does not pass: Ed25519 is most of the cost.
 */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "keys/signer.h"
#include "keys/store.h"
#include "proxy/msg/buf.h"
#include "proxy/msg/dkim.h"
#include "proxy/msg/hash.h"
#include "proxy/msg/hdr.h"
#include "proxy/msg/verify.h"
#include "tests/unit/t.h"

#define PLAN_LINE_MAX	8192	/* one plan line: an RSA-4096 record fits */
#define SETS_MAX	8192	/* signing-set changes in one timeline */
#define SET_KEYS_MAX	8	/* selectors signing at once */
#define SERVERS_MAX	8	/* authoritative servers in the model */
#define NAMES_MAX	64	/* key names in the model */
#define HIST_MAX	16384	/* DNS changes per (server, name) */
#define FAIL_SHOWN	8	/* failing messages described in full */
#define DOMAIN_LEN	254
#define ERR_LEN		512
/* Lanes the span is split into (SIGNET_ORACLE_THREADS, default 2). */
#define LANES_DEF	2
#define LANES_MAX	16

struct set_key {
	char		 selector[64];
	const struct keys_key *key;
	struct buf	*record;	/* keys_dns_record(): what DNS must hold */
};

struct sigset {
	int64_t		 from;
	size_t		 n;
	struct set_key	 k[SET_KEYS_MAX];
	struct store_keyset *ks;	/* owns the keys (NULL: borrowed) */
};

struct dns_val {
	int64_t		 from;
	uint32_t	 ttl;
	int		 kind;		/* 0 record, 1 none, 2 several */
	char		*value;
};

struct hist {
	char		 name[DOMAIN_LEN + 64];
	int		 server;
	size_t		 n;
	struct dns_val	*v;
};

struct oracle {
	char		 domain[DOMAIN_LEN];
	int64_t		 start, end, step, transit, reload;
	uint32_t	 neg;
	uint64_t	 rng;
	struct sigset	*sets;
	size_t		 nsets;
	struct hist	 h[SERVERS_MAX * NAMES_MAX];
	size_t		 nh;
	int		 nservers;
	uint32_t	 cache_max;
	/* results */
	uint64_t	 messages, signatures, unsigned_minutes;
	uint64_t	 failed_messages, known_bad, sig_fail, sig_pass;
	uint64_t	 cache_hits, keys_seen;
	int		 quiet;
};

static uint64_t
rnd(struct oracle *o)
{
	/* xorshift64*: reproducible from the printed seed */
	o->rng ^= o->rng >> 12;
	o->rng ^= o->rng << 25;
	o->rng ^= o->rng >> 27;
	return o->rng * 2685821657736338717ULL;
}

static int64_t
rnd_upto(struct oracle *o, int64_t max)
{
	if (max <= 0)
		return 0;
	return (int64_t)(rnd(o) % (uint64_t)(max + 1));
}

static struct hist *
hist_get(struct oracle *o, int server, const char *name, int add)
{
	size_t	 i;

	for (i = 0; i < o->nh; i++)
		if (o->h[i].server == server &&
		    strcasecmp(o->h[i].name, name) == 0)
			return &o->h[i];
	if (!add || o->nh == sizeof(o->h) / sizeof(o->h[0]) ||
	    strlen(name) >= sizeof(o->h[0].name))
		return NULL;
	memset(&o->h[o->nh], 0, sizeof(o->h[0]));
	snprintf(o->h[o->nh].name, sizeof(o->h[0].name), "%s", name);
	o->h[o->nh].server = server;
	if (server + 1 > o->nservers)
		o->nservers = server + 1;
	return &o->h[o->nh++];
}

static int
hist_add(struct oracle *o, int server, const char *name, int64_t from,
    uint32_t ttl, const char *value)
{
	struct hist	*h;
	struct dns_val	*v;

	if (server < 0 || server >= SERVERS_MAX ||
	    (h = hist_get(o, server, name, 1)) == NULL)
		return -1;
	if (h->n > 0 && h->v[h->n - 1].from > from)
		return -1;	/* the plan is in time order */
	if (h->n == HIST_MAX)
		return -1;
	if (h->v == NULL && (h->v = calloc(HIST_MAX, sizeof(*h->v))) == NULL)
		return -1;
	v = &h->v[h->n];
	v->from = from;
	v->ttl = ttl;
	if (strcmp(value, "-") == 0)
		v->kind = 1;
	else if (strcmp(value, "!") == 0)
		v->kind = 2;
	else if ((v->value = strdup(value)) == NULL)
		return -1;
	h->n++;
	if (v->kind == 0 && ttl > o->cache_max)
		o->cache_max = ttl;
	return 0;
}

/* What server answers for name at time t; NULL: nothing there yet. */
static const struct dns_val *
hist_at(const struct oracle *o, int server, const char *name, int64_t t)
{
	const struct hist	*h = NULL;
	size_t			 i, lo, hi;

	for (i = 0; i < o->nh; i++)
		if (o->h[i].server == server &&
		    strcasecmp(o->h[i].name, name) == 0) {
			h = &o->h[i];
			break;
		}
	if (h == NULL || h->n == 0 || h->v[0].from > t)
		return NULL;
	lo = 0;
	hi = h->n;		/* h->v[lo].from <= t < h->v[hi].from */
	while (hi - lo > 1) {
		i = lo + (hi - lo) / 2;
		if (h->v[i].from <= t)
			lo = i;
		else
			hi = i;
	}
	return &h->v[lo];
}

/* The model resolver: what a verifier at time v gets for name. */
static enum verify_dns
resolve(struct oracle *o, const char *name, int64_t v, const char **txt)
{
	const struct dns_val	*d;
	int64_t			 q;
	uint32_t		 life;
	int			 server;

	server = o->nservers > 0 ? (int)(rnd(o) % (uint64_t)o->nservers) : 0;
	q = v - rnd_upto(o, o->cache_max);
	d = hist_at(o, server, name, q);
	life = d == NULL || d->kind != 0 ? o->neg : d->ttl;
	if (v - q > (int64_t)life)
		d = hist_at(o, server, name, v);	/* expired: ask again */
	else if (q != v)
		o->cache_hits++;
	if (d == NULL || d->kind == 1)
		return VERIFY_DNS_NXDOMAIN;
	if (d->kind == 2)
		return VERIFY_DNS_ERROR;	/* undefined (RFC 6376 3.6.2.2) */
	*txt = d->value;
	return VERIFY_DNS_OK;
}

/*
 * When the message is verified: up to max_transit after signing, most of
 * it soon (a random scale halving up to eleven times, so minutes after
 * signing are as well covered as the last day of the transit window).
 */
static int64_t
transit_delay(struct oracle *o)
{
	unsigned	 k = (unsigned)(rnd(o) % 12);

	return rnd_upto(o, o->transit >> k);
}

/* The set a proxy may hold at t: the one current at t - lag. */
static const struct sigset *
set_at(const struct oracle *o, int64_t t)
{
	size_t	 lo, hi, i;

	if (o->nsets == 0 || o->sets[0].from > t)
		return NULL;
	lo = 0;
	hi = o->nsets;
	while (hi - lo > 1) {
		i = lo + (hi - lo) / 2;
		if (o->sets[i].from <= t)
			lo = i;
		else
			hi = i;
	}
	return &o->sets[lo];
}

static int
set_finish(struct sigset *s)
{
	size_t	 i;

	for (i = 0; i < s->n; i++) {
		if ((s->k[i].record = buf_new(PLAN_LINE_MAX)) == NULL ||
		    keys_dns_record(s->k[i].key, s->k[i].record) == -1)
			return -1;
	}
	return 0;
}

static int
set_from_store(struct oracle *o, int64_t from, const char *dir)
{
	struct sigset	*s;
	struct store	*st;
	char		 err[ERR_LEN];
	size_t		 i;

	if (o->nsets == SETS_MAX)
		return -1;
	if (o->nsets > 0 && o->sets[o->nsets - 1].from > from)
		return -1;
	s = &o->sets[o->nsets];
	memset(s, 0, sizeof(*s));
	s->from = from;
	if (strcmp(dir, "-") != 0) {
		if ((st = store_open(dir, 0, err, sizeof(err))) == NULL) {
			printf("# %s\n", err);
			return -1;
		}
		s->ks = store_load_signing_keys(st, o->domain, err,
		    sizeof(err));
		store_close(st);
		if (s->ks == NULL) {
			printf("# %s: %s\n", dir, err);
			return -1;
		}
		if (store_keyset_failures(s->ks) > 0)
			printf("# %s: %s\n", dir, err);
		for (i = 0; i < store_keyset_count(s->ks) &&
		    s->n < SET_KEYS_MAX; i++) {
			snprintf(s->k[s->n].selector,
			    sizeof(s->k[0].selector), "%s",
			    store_keyset_selector(s->ks, i));
			s->k[s->n].key = store_keyset_key(s->ks, i);
			s->n++;
		}
	}
	o->nsets++;
	return set_finish(s);
}

static void
oracle_free(struct oracle *o)
{
	size_t	 i, j;

	for (i = 0; i < o->nsets; i++) {
		for (j = 0; j < o->sets[i].n; j++)
			buf_free(o->sets[i].k[j].record);
		store_keyset_free(o->sets[i].ks);
	}
	free(o->sets);
	for (i = 0; i < o->nh; i++) {
		for (j = 0; j < o->h[i].n; j++)
			free(o->h[i].v[j].value);
		free(o->h[i].v);
	}
	memset(o, 0, sizeof(*o));
}

static int
oracle_init(struct oracle *o)
{
	memset(o, 0, sizeof(*o));
	if ((o->sets = calloc(SETS_MAX, sizeof(*o->sets))) == NULL)
		return -1;
	o->step = 60;
	o->neg = 60;
	o->rng = 0x9e3779b97f4a7c15ULL;
	return 0;
}

static int
sign_fn(void *ctx, const uint8_t digest[HASH_SHA256_LEN], uint8_t *sig,
    size_t *siglen)
{
	const struct keys_key	*k = ctx;

	return keys_sign(k, keys_alg(k), digest, sig, siglen);
}

/* The message of minute t, CRLF, with the header and body split. */
static void
make_message(struct oracle *o, int64_t t, struct buf *hdr, struct buf *body)
{
	char		 date[64];
	time_t		 tt = (time_t)t;
	struct tm	 tm;

	gmtime_r(&tt, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	buf_reset(hdr);
	buf_reset(body);
	buf_printf(hdr, "From: Oracle <oracle@%s>\r\n"
	    "To: someone@example.net\r\n"
	    "Subject: minute %" PRId64 "\r\n"
	    "Date: %s\r\n"
	    "Message-ID: <%" PRId64 ".oracle@%s>\r\n\r\n",
	    o->domain, t, date, t, o->domain);
	buf_printf(body, "Signed at %" PRId64 ".\r\n\r\n -- the oracle\r\n", t);
}

/* Sign with every key of s; sigs receives the DKIM-Signature fields. */
static int
sign_message(struct oracle *o, const struct sigset *s, int64_t t,
    const struct buf *hdr, const struct buf *body, struct buf *sigs)
{
	struct hdr_list		*hl = NULL;
	struct hash_body	*hb = NULL;
	struct dkim_signer	*sg = NULL;
	struct dkim_params	 p;
	size_t			 i;
	int			 rc = -1;

	buf_reset(sigs);
	if (hdr_parse(buf_data(hdr), buf_len(hdr) - 2, NULL, &hl, NULL) !=
	    HDR_OK || (hb = hash_body_new()) == NULL ||
	    (sg = dkim_signer_new(hb)) == NULL)
		goto done;
	for (i = 0; i < s->n; i++) {
		memset(&p, 0, sizeof(p));
		p.alg = keys_alg(s->k[i].key) == KEYS_ALG_ED25519_SHA256 ?
		    DKIM_ALG_ED25519_SHA256 : DKIM_ALG_RSA_SHA256;
		p.hcanon = CANON_RELAXED;
		p.bcanon = CANON_RELAXED;
		p.domain = o->domain;
		p.selector = s->k[i].selector;
		p.time = t;
		p.sign = dkim_default_sign;
		p.nsign = dkim_default_nsign;
		p.oversign = dkim_default_oversign;
		p.noversign = dkim_default_noversign;
		p.sign_fn = sign_fn;
		p.sign_ctx = (void *)(uintptr_t)s->k[i].key;
		if (dkim_signer_add(sg, hl, &p) == -1)
			goto done;
	}
	if (hash_body_update(hb, buf_data(body), buf_len(body)) == -1 ||
	    hash_body_final(hb) == -1 || dkim_signer_finish(sg, hl, sigs) == -1)
		goto done;
	rc = 0;
done:
	dkim_signer_free(sg);
	hash_body_free(hb);
	hdr_free(hl);
	return rc;
}

/*
 * Verify at time v; *npass gets the passing signatures.  why receives a
 * line per signature for the failure report.  only >= 0: look up and
 * judge that signature alone (the others stay "no key answer" and are
 * not counted): Ed25519 verification is most of the engine's time, and
 * one passing signature settles a message.
 */
static int
verify_message(struct oracle *o, int64_t v, const struct buf *full,
    size_t hdrlen, const struct buf *body, long only, size_t *npass,
    struct buf *why)
{
	struct hdr_list		*hl = NULL;
	struct hash_body	*hb = NULL;
	struct verify		*vf = NULL;
	struct buf		*name = NULL;
	const char		*txt;
	enum verify_dns		 a;
	size_t			 i;
	int			 rc = -1;

	*npass = 0;
	buf_reset(why);
	if (hdr_parse(buf_data(full), hdrlen, NULL, &hl, NULL) != HDR_OK ||
	    (hb = hash_body_new()) == NULL ||
	    (vf = verify_new(hl, v, hb)) == NULL ||
	    (name = buf_new(VERIFY_KEY_TXT_MAX)) == NULL)
		goto done;
	for (i = 0; i < verify_count(vf); i++) {
		buf_reset(name);
		if (only >= 0 && (size_t)only != i)
			continue;
		if (verify_key_name(vf, i, name) == -1)
			continue;
		txt = NULL;
		a = resolve(o, buf_cstr(name), v, &txt);
		if (verify_answer(vf, i, a, (const uint8_t *)txt,
		    txt != NULL ? strlen(txt) : 0) == -1)
			goto done;
	}
	if (hash_body_update(hb, buf_data(body), buf_len(body)) == -1 ||
	    hash_body_final(hb) == -1 || verify_finish(vf) == -1)
		goto done;
	for (i = 0; i < verify_count(vf); i++) {
		size_t		 sl;
		const uint8_t	*sp = verify_selector(vf, i, &sl);

		if (only >= 0 && (size_t)only != i)
			continue;
		if (verify_result(vf, i) == VERIFY_PASS) {
			(*npass)++;
			o->sig_pass++;
		} else
			o->sig_fail++;
		buf_printf(why, " s=%.*s:%s(%s)", (int)sl, (const char *)sp,
		    verify_result_name(verify_result(vf, i)),
		    verify_reason(vf, i));
	}
	rc = 0;
done:
	buf_free(name);
	verify_free(vf);
	hash_body_free(hb);
	hdr_free(hl);
	return rc;
}

/*
 * At signing time every server must already hold exactly the key's
 * record: otherwise the signature is known to fail somewhere.
 */
static size_t
known_bad(const struct oracle *o, const struct sigset *s, int64_t t)
{
	const struct dns_val	*d;
	char			 name[DOMAIN_LEN + 80];
	size_t			 i, bad = 0;
	int			 srv;

	for (i = 0; i < s->n; i++) {
		snprintf(name, sizeof(name), "%s._domainkey.%s",
		    s->k[i].selector, o->domain);
		for (srv = 0; srv < o->nservers; srv++) {
			d = hist_at(o, srv, name, t);
			if (d == NULL || d->kind != 0 ||
			    strcmp(d->value, buf_cstr(s->k[i].record)) != 0) {
				bad++;
				break;
			}
		}
	}
	return bad;
}

static int
oracle_run(struct oracle *o)
{
	struct buf		*hdr, *body, *sigs, *full, *why;
	const struct sigset	*s, *prev = NULL;
	int64_t			 t, v, lagged;
	size_t			 npass, shown = 0, kb;
	long			 first;
	int			 rc = -1, rc2;

	hdr = buf_new(0);
	body = buf_new(0);
	sigs = buf_new(0);
	full = buf_new(0);
	why = buf_new(0);
	if (hdr == NULL || body == NULL || sigs == NULL || full == NULL ||
	    why == NULL)
		goto done;
	if (o->cache_max < o->neg)
		o->cache_max = o->neg;
	for (t = o->start; t < o->end; t += o->step) {
		lagged = t - rnd_upto(o, o->reload);
		s = set_at(o, lagged >= o->start ? lagged : t);
		if (s == NULL || s->n == 0) {
			o->unsigned_minutes++;	/* signetd answers 451 */
			continue;
		}
		if (s != prev) {
			o->keys_seen++;
			prev = s;
		}
		make_message(o, t, hdr, body);
		if (sign_message(o, s, t, hdr, body, sigs) == -1) {
			printf("# signing failed at %" PRId64 "\n", t);
			goto done;
		}
		o->messages++;
		o->signatures += s->n;
		if ((kb = known_bad(o, s, t)) > 0) {
			o->known_bad += kb;
			if (shown++ < FAIL_SHOWN && !o->quiet)
				printf("# t=%" PRId64 ": a signature whose record "
				    "is not on every server\n", t);
		}
		buf_reset(full);
		buf_append(full, buf_data(sigs), buf_len(sigs));
		buf_append(full, buf_data(hdr), buf_len(hdr));
		v = t + transit_delay(o);
		/* one signature at random; all of them if it does not pass */
		first = (long)(rnd(o) % s->n);
		if (verify_message(o, v, full, buf_len(full) - 2, body, first,
		    &npass, why) == 0 && npass == 0 && s->n > 1) {
			o->sig_fail--;	/* counted again below */
			rc2 = verify_message(o, v, full, buf_len(full) - 2,
			    body, -1, &npass, why);
		} else
			rc2 = 0;
		if (rc2 == -1) {
			printf("# verification failed to run at %" PRId64 "\n",
			    t);
			goto done;
		}
		if (npass == 0) {
			o->failed_messages++;
			if (shown++ < FAIL_SHOWN && !o->quiet)
				printf("# t=%" PRId64 " verified at %" PRId64
				    ":%s\n", t, v, buf_cstr(why));
		}
	}
	rc = 0;
done:
	buf_free(hdr);
	buf_free(body);
	buf_free(sigs);
	buf_free(full);
	buf_free(why);
	return rc;
}

static void *
lane_main(void *arg)
{
	struct oracle	*o = arg;

	return oracle_run(o) == 0 ? o : NULL;
}

/*
 * The span split into lanes of whole steps, each on a thread with its own
 * random stream and counters over a shallow copy of o (the sets and the
 * DNS history are only read).  The counters are summed into o.
 */
static int
oracle_run_lanes(struct oracle *o, int nlanes)
{
	struct oracle	*lanes;
	pthread_t	 th[LANES_MAX];
	int64_t		 span;
	void		*res;
	int		 i, started = 0, rc = 0;

	if (nlanes < 1 || nlanes > LANES_MAX)
		nlanes = LANES_DEF;
	span = (o->end - o->start) / nlanes / o->step * o->step;
	if (span <= 0)
		nlanes = 1;
	if ((lanes = calloc((size_t)nlanes, sizeof(*lanes))) == NULL)
		return -1;
	for (i = 0; i < nlanes; i++) {
		lanes[i] = *o;
		lanes[i].start = o->start + i * span;
		lanes[i].end = i == nlanes - 1 ? o->end : o->start +
		    (i + 1) * span;
		lanes[i].rng = (o->rng ^ (0x9e3779b97f4a7c15ULL *
		    (uint64_t)(i + 1))) | 1;
	}
	for (i = 0; i < nlanes; i++) {
		if (pthread_create(&th[i], NULL, lane_main, &lanes[i]) != 0) {
			rc = -1;
			break;
		}
		started++;
	}
	for (i = 0; i < started; i++) {
		if (pthread_join(th[i], &res) != 0 || res == NULL)
			rc = -1;
		o->messages += lanes[i].messages;
		o->signatures += lanes[i].signatures;
		o->unsigned_minutes += lanes[i].unsigned_minutes;
		o->failed_messages += lanes[i].failed_messages;
		o->known_bad += lanes[i].known_bad;
		o->sig_fail += lanes[i].sig_fail;
		o->sig_pass += lanes[i].sig_pass;
		o->cache_hits += lanes[i].cache_hits;
		o->keys_seen += lanes[i].keys_seen;
	}
	free(lanes);
	return rc;
}

/* A plan number: decimal, non-negative, nothing after it. */
static int
plan_num(const char *s, long long *out)
{
	char	*end;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoll(s, &end, 10);
	return errno != 0 || *end != '\0' ? -1 : 0;
}

static int
plan_param(struct oracle *o, const char *name, const char *value)
{
	long long		 n;

	if (plan_num(value, &n) == -1)
		return -1;
	if (strcmp(name, "start") == 0)
		o->start = n;
	else if (strcmp(name, "end") == 0)
		o->end = n;
	else if (strcmp(name, "step") == 0 && n > 0)
		o->step = n;
	else if (strcmp(name, "transit") == 0)
		o->transit = n;
	else if (strcmp(name, "reload") == 0)
		o->reload = n;
	else if (strcmp(name, "neg") == 0 && n <= UINT32_MAX)
		o->neg = (uint32_t)n;
	else if (strcmp(name, "seed") == 0)
		o->rng = (uint64_t)n | 1;
	else
		return -1;
	return 0;
}

static int
plan_load(struct oracle *o, const char *path)
{
	FILE		*f;
	char		*line, *w[5], *save, *rest;
	size_t		 lineno = 0, len;
	long long	 t, srv, ttl;
	int		 i, rc = -1;

	if ((f = fopen(path, "r")) == NULL ||
	    (line = malloc(PLAN_LINE_MAX)) == NULL) {
		printf("# %s: %s\n", path, strerror(errno));
		if (f != NULL)
			fclose(f);
		return -1;
	}
	while (fgets(line, PLAN_LINE_MAX, f) != NULL) {
		lineno++;
		len = strlen(line);
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		/* "dns" lines keep the rest (the record has spaces) */
		memset(w, 0, sizeof(w));
		rest = NULL;
		save = line;
		for (i = 0; i < 5; i++) {
			w[i] = strsep(&save, " ");
			if (save == NULL)
				break;
		}
		rest = save;
		if (w[0] == NULL)
			goto bad;
		if (strcmp(w[0], "domain") == 0 && w[1] != NULL &&
		    strlen(w[1]) < sizeof(o->domain))
			snprintf(o->domain, sizeof(o->domain), "%s", w[1]);
		else if (strcmp(w[0], "param") == 0 && w[1] != NULL &&
		    w[2] != NULL) {
			if (plan_param(o, w[1], w[2]) == -1)
				goto bad;
		} else if (strcmp(w[0], "set") == 0 && w[1] != NULL &&
		    w[2] != NULL) {
			if (plan_num(w[1], &t) == -1 ||
			    set_from_store(o, t, w[2]) == -1)
				goto bad;
		} else if (strcmp(w[0], "dns") == 0 && w[4] != NULL &&
		    rest != NULL) {
			if (plan_num(w[1], &t) == -1 ||
			    plan_num(w[2], &srv) == -1 || srv >= SERVERS_MAX ||
			    plan_num(w[4], &ttl) == -1 || ttl > UINT32_MAX ||
			    hist_add(o, (int)srv, w[3], t, (uint32_t)ttl,
			    rest) == -1)
				goto bad;
		} else
			goto bad;
	}
	rc = 0;
	goto done;
bad:
	printf("# %s:%zu: bad plan line\n", path, lineno);
done:
	free(line);
	fclose(f);
	return rc;
}

static void
report(const struct oracle *o, const char *what)
{
	printf("# oracle %s: messages=%" PRIu64 " signatures=%" PRIu64
	    " failed_messages=%" PRIu64 " known_bad=%" PRIu64
	    " sig_pass=%" PRIu64 " sig_fail=%" PRIu64 " sets=%zu"
	    " set_changes=%" PRIu64 " unsigned_minutes=%" PRIu64
	    " cache_hits=%" PRIu64 "\n", what, o->messages, o->signatures,
	    o->failed_messages, o->known_bad, o->sig_pass, o->sig_fail,
	    o->nsets, o->keys_seen, o->unsigned_minutes, o->cache_hits);
}

static int
run_plan(const char *path)
{
	struct oracle	 o;
	int		 ok;

	if (oracle_init(&o) == -1) {
		T_OK(0, "out of memory");
		return t_failed;
	}
	ok = plan_load(&o, path) == 0 && o.domain[0] != '\0' &&
	    o.end > o.start && o.nsets > 0;
	T_OK(ok, "plan %s loads", path);
	if (ok) {
		printf("# seed %" PRIu64 "\n", o.rng);
		ok = oracle_run_lanes(&o, getenv("SIGNET_ORACLE_THREADS") !=
		    NULL ? atoi(getenv("SIGNET_ORACLE_THREADS")) : LANES_DEF) ==
		    0;
		T_OK(ok, "the oracle ran to the end");
		report(&o, "plan");
		T_OK(o.messages > 0, "messages were signed");
		T_OK(o.failed_messages == 0, "every message has at least one "
		    "passing signature at its verification time");
		T_OK(o.known_bad == 0, "no signature was emitted with a "
		    "record missing from a server at signing time");
	}
	oracle_free(&o);
	return t_failed;
}

/* -- the self-check: hand-made timelines ------------------------------ */

#define ST_T0		1767225600	/* 2026-01-01T00:00:00Z */
#define ST_TTL		3600
#define ST_NEG		1800
#define ST_SKEW		120
#define ST_DAY		86400

static char	st_dir[PATH_MAX];
static struct keys_key *st_k1, *st_k2;

static int
selfcheck_keys(void)
{
	char	 path[PATH_MAX + 16], err[ERR_LEN];

	snprintf(st_dir, sizeof(st_dir), "%s/signet-oracle-XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(st_dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/k1.pem", st_dir);
	if (keys_generate(KEYS_ALG_ED25519_SHA256, 0, path, &st_k1, err,
	    sizeof(err)) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/k2.pem", st_dir);
	if (keys_generate(KEYS_ALG_ED25519_SHA256, 0, path, &st_k2, err,
	    sizeof(err)) == -1)
		return -1;
	return 0;
}

static void
selfcheck_cleanup(void)
{
	char	 path[PATH_MAX + 16];

	keys_free(st_k1);
	keys_free(st_k2);
	snprintf(path, sizeof(path), "%s/k1.pem", st_dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/k2.pem", st_dir);
	unlink(path);
	rmdir(st_dir);
}

/* A set of explicit keys; copies of the self-check keys. */
static int
selfcheck_set(struct oracle *o, int64_t from, const char *sel1,
    const struct keys_key *k1, const char *sel2, const struct keys_key *k2)
{
	struct sigset	*s = &o->sets[o->nsets++];

	memset(s, 0, sizeof(*s));
	s->from = from;
	if (sel1 != NULL) {
		snprintf(s->k[s->n].selector, sizeof(s->k[0].selector), "%s",
		    sel1);
		s->k[s->n++].key = k1;
	}
	if (sel2 != NULL) {
		snprintf(s->k[s->n].selector, sizeof(s->k[0].selector), "%s",
		    sel2);
		s->k[s->n++].key = k2;
	}
	return set_finish(s);
}

static const char *
rec(const struct keys_key *k)
{
	static char	 out[2][PLAN_LINE_MAX];
	static int	 which;
	struct buf	*b = buf_new(PLAN_LINE_MAX);

	which = !which;
	out[which][0] = '\0';
	if (b != NULL && keys_dns_record(k, b) == 0)
		snprintf(out[which], sizeof(out[0]), "%s", buf_cstr(b));
	buf_free(b);
	return out[which];
}

enum broken {
	ST_GOOD,
	ST_EARLY_ACTIVATION,	/* s2 signs before the negative TTL ran out */
	ST_EARLY_WITHDRAWAL,	/* s1's record goes while mail is in transit */
	ST_UNPUBLISHED,		/* s2 signs before its record exists */
};

/*
 * Two servers; s1 (k1) signs from the start, s2 (k2) is published at
 * T0 + 6 h (the second server a quarter hour later), takes over once
 * READY, and s1's record stays for the whole transit time.
 */
static void
selfcheck_case(enum broken b, const char *what)
{
	struct oracle	 o;
	const char	*s1 = "s1._domainkey.example.test";
	const char	*s2 = "s2._domainkey.example.test";
	int64_t		 pub = ST_T0 + 6 * 3600, vis = pub + 900;
	int64_t		 ready = vis + ST_NEG + ST_SKEW, switch_at;
	int		 srv, ok;

	if (oracle_init(&o) == -1) {
		T_OK(0, "out of memory");
		return;
	}
	o.quiet = 1;
	snprintf(o.domain, sizeof(o.domain), "example.test");
	o.start = ST_T0;
	o.end = ST_T0 + ST_DAY;
	/* the early-activation window is short: look at it closely */
	o.step = b == ST_EARLY_ACTIVATION ? 10 : 60;
	o.transit = ST_DAY;
	o.reload = 60;
	o.neg = ST_NEG;
	o.rng = 12345;
	switch_at = b == ST_EARLY_ACTIVATION ? vis + 60 :
	    b == ST_UNPUBLISHED ? pub - 1800 : ready + o.reload;
	ok = selfcheck_set(&o, ST_T0, "s1", st_k1, NULL, NULL) == 0 &&
	    selfcheck_set(&o, switch_at, "s2", st_k2, NULL, NULL) == 0;
	for (srv = 0; srv < 2 && ok; srv++) {
		ok = hist_add(&o, srv, s1, ST_T0 - ST_DAY, ST_TTL,
		    rec(st_k1)) == 0 &&
		    hist_add(&o, srv, s2, ST_T0 - ST_DAY, 0, "-") == 0 &&
		    hist_add(&o, srv, s2, srv == 0 ? pub : vis, ST_TTL,
		    rec(st_k2)) == 0;
		if (ok && b == ST_EARLY_WITHDRAWAL)
			ok = hist_add(&o, srv, s1, switch_at + 3600, 0,
			    "-") == 0;
		else if (ok)
			ok = hist_add(&o, srv, s1, switch_at + o.transit +
			    o.reload + ST_SKEW, 0, "-") == 0;
	}
	T_OK(ok, "%s: timeline built", what);
	if (ok && oracle_run(&o) == 0) {
		report(&o, what);
		switch (b) {
		case ST_GOOD:
			T_OK(o.messages == 1440 && o.failed_messages == 0 &&
			    o.known_bad == 0 && o.sig_pass == 1440,
			    "%s: every message passes", what);
			T_OK(o.cache_hits > 0, "%s: the resolver answered "
			    "from its cache", what);
			break;
		case ST_EARLY_ACTIVATION:
			T_OK(o.failed_messages > 0 && o.known_bad == 0,
			    "%s: a cached NXDOMAIN fails some messages",
			    what);
			break;
		case ST_EARLY_WITHDRAWAL:
			T_OK(o.failed_messages > 0 && o.known_bad == 0,
			    "%s: mail in transit fails", what);
			break;
		case ST_UNPUBLISHED:
			T_OK(o.known_bad > 0 && o.failed_messages > 0,
			    "%s: known to fail at signing time", what);
			break;
		}
	} else
		T_OK(0, "%s: the oracle ran", what);
	oracle_free(&o);
}

static int
remove_entry(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* The same set loaded through a real key store. */
static void
selfcheck_store(void)
{
	struct oracle	 o;
	char		 dir[PATH_MAX + 16], err[ERR_LEN], id[KEYS_ID_LEN + 1];
	struct store	*st;
	int		 ok;

	snprintf(dir, sizeof(dir), "%s/store", st_dir);
	if (oracle_init(&o) == -1) {
		T_OK(0, "out of memory");
		return;
	}
	o.quiet = 1;
	snprintf(o.domain, sizeof(o.domain), "example.test");
	ok = (st = store_open(dir, 1, err, sizeof(err))) != NULL &&
	    store_add_key(st, o.domain, st_k1, "s1", ST_T0, STORE_CREATE, id,
	    err, sizeof(err)) == STORE_OK &&
	    store_set_selector(st, o.domain, "s1", id, STORE_ACTIVE, ST_T0, 0,
	    err, sizeof(err)) == STORE_OK;
	store_close(st);
	T_OK(ok, "a key store with s1 ACTIVE (%s)", ok ? "" : err);
	ok = ok && set_from_store(&o, ST_T0, dir) == 0;
	T_OK(ok && o.sets[0].n == 1 &&
	    strcmp(o.sets[0].k[0].selector, "s1") == 0 &&
	    keys_same(o.sets[0].k[0].key, st_k1),
	    "set_from_store loads the signing set");
	if (ok) {
		o.start = ST_T0;
		o.end = ST_T0 + 3600;
		o.transit = 3600;
		ok = hist_add(&o, 0, "s1._domainkey.example.test", ST_T0,
		    ST_TTL, rec(st_k1)) == 0 && oracle_run_lanes(&o, 2) == 0;
		T_OK(ok && o.messages == 60 && o.failed_messages == 0,
		    "store keys sign and verify");
	}
	oracle_free(&o);
	if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
		printf("# could not remove %s\n", dir);
}

int
main(void)
{
	const char	*plan = getenv("SIGNET_ORACLE_PLAN");

	if (plan != NULL && plan[0] != '\0')
		return run_plan(plan) == 0 ? 0 : 1;
	if (!T_OK(selfcheck_keys() == 0, "self-check keys generated"))
		return 1;
	selfcheck_case(ST_GOOD, "make before break");
	selfcheck_case(ST_EARLY_ACTIVATION, "activation before READY");
	selfcheck_case(ST_EARLY_WITHDRAWAL, "record withdrawn in transit");
	selfcheck_case(ST_UNPUBLISHED, "signing before publishing");
	selfcheck_store();
	selfcheck_cleanup();
	return t_failed == 0 ? 0 : 1;
}
