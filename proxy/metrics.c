/*
 * metrics — lock-free counters and their Prometheus text rendering
 * (exposition format 0.0.4), served with evhttp.
 *
 * Invariants: every counter is a C11 atomic bumped with relaxed order
 * (a scrape needs no consistency between counters).  Labelled metrics
 * use an insert-only open-addressing table whose slots are published
 * with compare-and-swap, so a worker finds or adds its label set without
 * a lock; an entry is immutable once published except for its value,
 * and entries are freed only by metrics_shutdown(), after every thread
 * that counts has stopped.  Each table holds at most
 * METRICS_LABELSETS_MAX entries in twice as many slots, so a probe
 * always ends.  The key-age list changes only when a snapshot is
 * published and is guarded by a mutex that workers never take.
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "keys/store.h"
#include "proxy/metrics.h"
#include "proxy/msg/buf.h"

/* Slots per table: a power of two at least twice the entry cap. */
#define LTAB_SLOTS		32768
/* Values per label set: domain, selector, algorithm. */
#define LTAB_VALUES_MAX		3
#define LTAB_KEY_MAX		(LTAB_VALUES_MAX * (METRICS_LABEL_MAX + 1))
/* A scrape is one short GET; slow or idle clients are cut off. */
#define METRICS_HTTP_TIMEOUT_S	10
#define METRICS_HTTP_HEADERS_MAX 8192
#define METRICS_HTTP_BODY_MAX	1024

#define CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

_Static_assert(LTAB_SLOTS >= 2 * METRICS_LABELSETS_MAX,
    "label table must stay at most half full");
_Static_assert((LTAB_SLOTS & (LTAB_SLOTS - 1)) == 0,
    "label table size must be a power of two");

struct lentry {
	atomic_uint_fast64_t	 value;
	size_t			 keylen;
	char			 key[];		/* values, each NUL-ended */
};

struct ltab {
	const char		*name;		/* metric, for overflow */
	size_t			 nlabels;
	const char		*labels[LTAB_VALUES_MAX];
	_Atomic(struct lentry *) *slots;
	atomic_size_t		 count;
	atomic_uint_fast64_t	 overflow;
};

struct kage {
	char	*domain;
	char	*selector;
	time_t	 since;
};

/* Signing latency buckets, seconds (upper bounds, as rendered). */
static const struct {
	uint64_t	 usec;
	const char	*le;
} buckets[] = {
	{ 500, "0.0005" }, { 1000, "0.001" }, { 2500, "0.0025" },
	{ 5000, "0.005" }, { 10000, "0.01" }, { 25000, "0.025" },
	{ 50000, "0.05" }, { 100000, "0.1" }, { 250000, "0.25" },
	{ 500000, "0.5" }, { 1000000, "1" }, { 2500000, "2.5" },
};
#define NBUCKETS	(sizeof(buckets) / sizeof(buckets[0]))

static const char *const outcome_names[METRICS_OUTCOME_COUNT] = {
	"accepted", "rejected_5xx", "tempfail_4xx", "client_lost"
};
static const char *const arc_names[METRICS_ARC_COUNT] = {
	"sealed_none", "sealed_pass", "sealed_fail", "not_extended",
	"tempfail", "error"
};
static const char *const reply_names[METRICS_REPLY_COUNT] = {
	"2xx", "4xx", "5xx", "none"
};

struct metrics {
	atomic_uint_fast64_t	 messages[METRICS_OUTCOME_COUNT];
	atomic_uint_fast64_t	 replies[METRICS_REPLY_COUNT];
	atomic_uint_fast64_t	 arc[METRICS_ARC_COUNT];
	/* Per bucket, not cumulative; the last one is above every bound. */
	atomic_uint_fast64_t	 hist[NBUCKETS + 1];
	atomic_uint_fast64_t	 sign_usec;
	atomic_long		 conn_current;
	atomic_uint_fast64_t	 conn_total;
	atomic_uint_fast64_t	 tls_ok;
	atomic_uint_fast64_t	 tls_failed;
	atomic_uint_fast64_t	 up_new;	/* upstream connections */
	atomic_uint_fast64_t	 up_reused;
	atomic_int		 serving;
	atomic_int		 reload_failed;
	atomic_uint_fast64_t	 generation;
	/* The last DNS self-check round (selfcheck.c): what and when. */
	atomic_uint_fast64_t	 dns_generation;
	atomic_int_fast64_t	 dns_checked_at;
	struct ltab		 sigs;
	struct ltab		 refusals;
	struct ltab		 dns;
	pthread_mutex_t		 keys_mtx;
	struct kage		*keys;
	size_t			 nkeys;
};

struct metrics_server {
	struct evhttp	*http;
};

/* A page being rendered; the first failed append sticks. */
struct page {
	struct buf	*b;
	int		 err;
};

static struct metrics	*mx;

static int
ltab_init(struct ltab *t, const char *name, size_t nlabels, const char *l0,
    const char *l1, const char *l2)
{
	t->name = name;
	t->nlabels = nlabels;
	t->labels[0] = l0;
	t->labels[1] = l1;
	t->labels[2] = l2;
	atomic_init(&t->count, 0);
	atomic_init(&t->overflow, 0);
	t->slots = calloc(LTAB_SLOTS, sizeof(*t->slots));
	return t->slots == NULL ? -1 : 0;
}

static void
ltab_free(struct ltab *t)
{
	size_t	 i;

	if (t->slots == NULL)
		return;
	for (i = 0; i < LTAB_SLOTS; i++)
		free(atomic_load(&t->slots[i]));
	free(t->slots);
	t->slots = NULL;
}

static uint64_t
fnv1a(const char *p, size_t n)
{
	uint64_t	 h = 14695981039346656037ULL;
	size_t		 i;

	for (i = 0; i < n; i++) {
		h ^= (uint8_t)p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* Join the values (each cut to METRICS_LABEL_MAX) into key. */
static size_t
ltab_key(const struct ltab *t, const char *const *vals, char *key)
{
	size_t	 i, n, len = 0;

	for (i = 0; i < t->nlabels; i++) {
		n = vals[i] == NULL ? 0 : strnlen(vals[i], METRICS_LABEL_MAX);
		if (n > 0)
			memcpy(key + len, vals[i], n);
		len += n;
		key[len++] = '\0';
	}
	return len;
}

/* The entry for this label set, added if new; NULL when the table is full. */
static struct lentry *
ltab_get(struct ltab *t, const char *const *vals)
{
	char		 key[LTAB_KEY_MAX];
	struct lentry	*e, *fresh = NULL, *expected;
	size_t		 keylen, i, probe;

	keylen = ltab_key(t, vals, key);
	i = (size_t)fnv1a(key, keylen) & (LTAB_SLOTS - 1);
	for (probe = 0; probe < LTAB_SLOTS; probe++) {
		e = atomic_load(&t->slots[i]);
		if (e == NULL) {
			if (fresh == NULL) {
				if (atomic_fetch_add(&t->count, 1) >=
				    METRICS_LABELSETS_MAX) {
					atomic_fetch_sub(&t->count, 1);
					return NULL;
				}
				if ((fresh = malloc(sizeof(*fresh) +
				    keylen)) == NULL) {
					atomic_fetch_sub(&t->count, 1);
					return NULL;
				}
				atomic_init(&fresh->value, 0);
				fresh->keylen = keylen;
				memcpy(fresh->key, key, keylen);
			}
			expected = NULL;
			if (atomic_compare_exchange_strong(&t->slots[i],
			    &expected, fresh))
				return fresh;
			e = expected;
		}
		if (e->keylen == keylen && memcmp(e->key, key, keylen) == 0) {
			if (fresh != NULL) {
				free(fresh);
				atomic_fetch_sub(&t->count, 1);
			}
			return e;
		}
		i = (i + 1) & (LTAB_SLOTS - 1);
	}
	/* Broken invariant: the table is never more than half full. */
	abort();
}

static void
ltab_add(struct ltab *t, const char *const *vals)
{
	struct lentry	*e;

	if ((e = ltab_get(t, vals)) == NULL)
		atomic_fetch_add_explicit(&t->overflow, 1,
		    memory_order_relaxed);
	else
		atomic_fetch_add_explicit(&e->value, 1, memory_order_relaxed);
}

static void
ltab_set(struct ltab *t, const char *const *vals, uint64_t v)
{
	struct lentry	*e;

	if ((e = ltab_get(t, vals)) == NULL)
		atomic_fetch_add_explicit(&t->overflow, 1,
		    memory_order_relaxed);
	else
		atomic_store_explicit(&e->value, v, memory_order_relaxed);
}

static void
keys_clear(struct kage *k, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		free(k[i].domain);
		free(k[i].selector);
	}
	free(k);
}

int
metrics_init(void)
{
	struct metrics	*m;

	if (mx != NULL)
		return 0;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return -1;
	if (pthread_mutex_init(&m->keys_mtx, NULL) != 0) {
		free(m);
		return -1;
	}
	if (ltab_init(&m->sigs, "signet_signatures_total", 3, "domain",
	    "selector", "algorithm") == -1 ||
	    ltab_init(&m->refusals, "signet_refusals_total", 1, "reason",
	    NULL, NULL) == -1 ||
	    ltab_init(&m->dns, "signet_dns_match", 2, "domain", "selector",
	    NULL) == -1)
		goto fail;
	mx = m;
	return 0;
fail:
	ltab_free(&m->dns);
	ltab_free(&m->refusals);
	ltab_free(&m->sigs);
	pthread_mutex_destroy(&m->keys_mtx);
	free(m);
	return -1;
}

void
metrics_shutdown(void)
{
	struct metrics	*m = mx;

	if (m == NULL)
		return;
	mx = NULL;
	keys_clear(m->keys, m->nkeys);
	ltab_free(&m->dns);
	ltab_free(&m->refusals);
	ltab_free(&m->sigs);
	pthread_mutex_destroy(&m->keys_mtx);
	free(m);
}

static void
bump(atomic_uint_fast64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

void
metrics_message(enum metrics_outcome o)
{
	if (mx != NULL && o < METRICS_OUTCOME_COUNT)
		bump(&mx->messages[o]);
}

void
metrics_signature(const char *domain, const char *selector,
    const char *algorithm)
{
	const char	*vals[3] = { domain, selector, algorithm };

	if (mx != NULL)
		ltab_add(&mx->sigs, vals);
}

void
metrics_refusal(const char *reason)
{
	const char	*vals[1] = { reason };

	if (mx != NULL)
		ltab_add(&mx->refusals, vals);
}

void
metrics_arc(enum metrics_arc a)
{
	if (mx != NULL && a < METRICS_ARC_COUNT)
		bump(&mx->arc[a]);
}

void
metrics_upstream_reply(int code)
{
	enum metrics_reply_class	 c;

	if (mx == NULL)
		return;
	if (code >= 200 && code <= 299)
		c = METRICS_REPLY_2XX;
	else if (code >= 400 && code <= 499)
		c = METRICS_REPLY_4XX;
	else if (code >= 500 && code <= 599)
		c = METRICS_REPLY_5XX;
	else
		c = METRICS_REPLY_NONE;
	bump(&mx->replies[c]);
}

void
metrics_sign_latency(uint64_t usec)
{
	size_t	 i;

	if (mx == NULL)
		return;
	for (i = 0; i < NBUCKETS && usec > buckets[i].usec; i++)
		continue;
	bump(&mx->hist[i]);
	atomic_fetch_add_explicit(&mx->sign_usec, usec, memory_order_relaxed);
}

void
metrics_connection_open(void)
{
	if (mx == NULL)
		return;
	atomic_fetch_add_explicit(&mx->conn_current, 1, memory_order_relaxed);
	bump(&mx->conn_total);
}

void
metrics_connection_close(void)
{
	if (mx != NULL)
		atomic_fetch_sub_explicit(&mx->conn_current, 1,
		    memory_order_relaxed);
}

void
metrics_tls_handshake(int ok)
{
	if (mx != NULL)
		bump(ok ? &mx->tls_ok : &mx->tls_failed);
}

void
metrics_upstream_connection(int reused)
{
	if (mx != NULL)
		bump(reused ? &mx->up_reused : &mx->up_new);
}

void
metrics_dns_match(const char *domain, const char *selector, int match)
{
	const char	*vals[2] = { domain, selector };

	if (mx != NULL)
		ltab_set(&mx->dns, vals, match ? 1 : 0);
}

void
metrics_dns_checked(uint64_t generation, time_t at)
{
	if (mx == NULL)
		return;
	atomic_store(&mx->dns_generation, generation);
	atomic_store(&mx->dns_checked_at, (int_fast64_t)at);
}

void
metrics_set_serving(int serving)
{
	if (mx != NULL)
		atomic_store(&mx->serving, serving ? 1 : 0);
}

void
metrics_set_reload_failed(int failed)
{
	if (mx != NULL)
		atomic_store(&mx->reload_failed, failed ? 1 : 0);
}

void
metrics_set_store_generation(uint64_t gen)
{
	if (mx != NULL)
		atomic_store(&mx->generation, gen);
}

/* Append one key to a list being built; 0 ok, -1 out of memory. */
static int
keys_append(struct kage **k, size_t *n, size_t *cap, const char *domain,
    const char *selector, time_t since)
{
	struct kage	*nk;
	size_t		 ncap;

	if (*n == *cap) {
		ncap = *cap == 0 ? 16 : *cap * 2;
		if ((nk = reallocarray(*k, ncap, sizeof(*nk))) == NULL)
			return -1;
		*k = nk;
		*cap = ncap;
	}
	nk = &(*k)[*n];
	nk->domain = strndup(domain, METRICS_LABEL_MAX);
	nk->selector = strndup(selector, METRICS_LABEL_MAX);
	nk->since = since;
	(*n)++;
	return nk->domain == NULL || nk->selector == NULL ? -1 : 0;
}

/* Swap in a new key list; takes ownership of k. */
static void
keys_publish(struct kage *k, size_t n)
{
	struct kage	*old;
	size_t		 oldn;

	pthread_mutex_lock(&mx->keys_mtx);
	old = mx->keys;
	oldn = mx->nkeys;
	mx->keys = k;
	mx->nkeys = n;
	pthread_mutex_unlock(&mx->keys_mtx);
	keys_clear(old, oldn);
}

int
metrics_set_keys(const struct metrics_key *keys, size_t n)
{
	struct kage	*k = NULL;
	size_t		 i, nk = 0, cap = 0;

	if (mx == NULL)
		return 0;
	for (i = 0; i < n; i++) {
		if (keys_append(&k, &nk, &cap, keys[i].domain,
		    keys[i].selector, keys[i].since) == -1) {
			keys_clear(k, nk);
			return -1;
		}
	}
	keys_publish(k, nk);
	return 0;
}

int
metrics_load_key_ages(const struct config *cfg)
{
	struct store		*st;
	struct store_domain	*dom;
	const struct store_key	*key;
	const char		*sel;
	struct kage		*k = NULL;
	size_t			 i, j, nk = 0, cap = 0;
	time_t			 since;
	char			 err[256];
	int			 rv = -1;

	if (mx == NULL)
		return 0;
	if ((st = store_open(cfg->keystore, 0, err, sizeof(err))) == NULL)
		return -1;
	for (i = 0; i < cfg->ndomains; i++) {
		/* A domain without a journal yet has no key to age. */
		if ((dom = store_domain_load(st, cfg->domains[i].name, err,
		    sizeof(err))) == NULL)
			continue;
		for (j = 0; j < store_domain_nselectors(dom); j++) {
			sel = store_domain_selector(dom, j);
			if ((key = store_domain_selector_key(dom, sel)) == NULL)
				continue;
			if ((since = store_key_entered(key, STORE_ACTIVE)) == 0 &&
			    (since = store_key_entered(key, STORE_READY)) == 0)
				continue;
			if (keys_append(&k, &nk, &cap, cfg->domains[i].name,
			    sel, since) == -1) {
				store_domain_free(dom);
				goto done;
			}
		}
		store_domain_free(dom);
	}
	keys_publish(k, nk);
	k = NULL;
	nk = 0;
	rv = 0;
done:
	keys_clear(k, nk);
	store_close(st);
	return rv;
}

static void
page_printf(struct page *pg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
page_printf(struct page *pg, const char *fmt, ...)
{
	va_list	 ap;

	if (pg->err)
		return;
	va_start(ap, fmt);
	if (buf_vprintf(pg->b, fmt, ap) == -1)
		pg->err = 1;
	va_end(ap);
}

static int
is_label_plain(uint8_t c)
{
	return c >= 0x20 && c <= 0x7e && c != '\\' && c != '"';
}

/*
 * A label value: the format escapes backslash, double quote and newline;
 * other bytes outside printable ASCII would make the page invalid UTF-8
 * or unreadable, so they become '?'.
 */
static void
page_label(struct page *pg, const char *s, size_t n)
{
	size_t	 i;
	uint8_t	 c;

	for (i = 0; i < n && !pg->err; i++) {
		c = (uint8_t)s[i];
		if (is_label_plain(c))
			pg->err = buf_append_byte(pg->b, c) == -1;
		else if (c == '\\')
			pg->err = buf_append_str(pg->b, "\\\\") == -1;
		else if (c == '"')
			pg->err = buf_append_str(pg->b, "\\\"") == -1;
		else if (c == '\n')
			pg->err = buf_append_str(pg->b, "\\n") == -1;
		else
			pg->err = buf_append_byte(pg->b, '?') == -1;
	}
}

static void
page_head(struct page *pg, const char *name, const char *type,
    const char *help)
{
	page_printf(pg, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
	    type);
}

static void
page_ltab(struct page *pg, const struct ltab *t)
{
	const struct lentry	*e;
	const char		*v;
	size_t			 i, j, n;

	for (i = 0; i < LTAB_SLOTS && !pg->err; i++) {
		if ((e = atomic_load(&t->slots[i])) == NULL)
			continue;
		page_printf(pg, "%s{", t->name);
		v = e->key;
		for (j = 0; j < t->nlabels; j++) {
			n = strlen(v);
			page_printf(pg, "%s%s=\"", j > 0 ? "," : "",
			    t->labels[j]);
			page_label(pg, v, n);
			page_printf(pg, "\"");
			v += n + 1;
		}
		page_printf(pg, "} %llu\n", (unsigned long long)
		    atomic_load_explicit(&e->value, memory_order_relaxed));
	}
}

static unsigned long long
load(atomic_uint_fast64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

static void
page_histogram(struct page *pg, struct metrics *m)
{
	const char		*name = "signet_signing_duration_seconds";
	unsigned long long	 cum = 0, usec;
	size_t			 i;

	page_head(pg, name, "histogram",
	    "Time to sign one message, all its signatures.");
	for (i = 0; i < NBUCKETS; i++) {
		cum += load(&m->hist[i]);
		page_printf(pg, "%s_bucket{le=\"%s\"} %llu\n", name,
		    buckets[i].le, cum);
	}
	cum += load(&m->hist[NBUCKETS]);
	page_printf(pg, "%s_bucket{le=\"+Inf\"} %llu\n", name, cum);
	usec = load(&m->sign_usec);
	page_printf(pg, "%s_sum %llu.%06llu\n", name, usec / 1000000,
	    usec % 1000000);
	page_printf(pg, "%s_count %llu\n", name, cum);
}

static void
page_keys(struct page *pg, struct metrics *m, time_t now)
{
	size_t	 i;

	page_head(pg, "signet_key_age_seconds", "gauge",
	    "Seconds since the serving key of domain/selector became active.");
	pthread_mutex_lock(&m->keys_mtx);
	for (i = 0; i < m->nkeys && !pg->err; i++) {
		page_printf(pg, "signet_key_age_seconds{domain=\"");
		page_label(pg, m->keys[i].domain, strlen(m->keys[i].domain));
		page_printf(pg, "\",selector=\"");
		page_label(pg, m->keys[i].selector,
		    strlen(m->keys[i].selector));
		page_printf(pg, "\"} %lld\n", now > m->keys[i].since ?
		    (long long)(now - m->keys[i].since) : 0LL);
	}
	pthread_mutex_unlock(&m->keys_mtx);
}

int
metrics_render(struct buf *out, time_t now)
{
	struct metrics	*m = mx;
	struct page	 pg = { out, 0 };
	size_t		 i;

	if (m == NULL)
		return 0;
	page_head(&pg, "signet_messages_total", "counter",
	    "Finished transactions by outcome.");
	for (i = 0; i < METRICS_OUTCOME_COUNT; i++)
		page_printf(&pg, "signet_messages_total{outcome=\"%s\"} %llu\n",
		    outcome_names[i], load(&m->messages[i]));
	page_head(&pg, "signet_signatures_total", "counter",
	    "DKIM signatures emitted.");
	page_ltab(&pg, &m->sigs);
	page_head(&pg, "signet_refusals_total", "counter",
	    "Refused commands and messages by log event.");
	page_ltab(&pg, &m->refusals);
	page_head(&pg, "signet_arc_total", "counter",
	    "Messages of ARC domains by what became of their chain.");
	for (i = 0; i < METRICS_ARC_COUNT; i++)
		page_printf(&pg, "signet_arc_total{result=\"%s\"} %llu\n",
		    arc_names[i], load(&m->arc[i]));
	page_head(&pg, "signet_upstream_replies_total", "counter",
	    "Final upstream replies by class.");
	for (i = 0; i < METRICS_REPLY_COUNT; i++)
		page_printf(&pg,
		    "signet_upstream_replies_total{class=\"%s\"} %llu\n",
		    reply_names[i], load(&m->replies[i]));
	page_histogram(&pg, m);
	page_head(&pg, "signet_connections", "gauge", "Open client connections.");
	page_printf(&pg, "signet_connections %ld\n",
	    atomic_load(&m->conn_current));
	page_head(&pg, "signet_connections_total", "counter",
	    "Accepted client connections.");
	page_printf(&pg, "signet_connections_total %llu\n",
	    load(&m->conn_total));
	page_head(&pg, "signet_tls_handshakes_total", "counter",
	    "Client TLS handshakes by result.");
	page_printf(&pg, "signet_tls_handshakes_total{result=\"ok\"} %llu\n"
	    "signet_tls_handshakes_total{result=\"failed\"} %llu\n",
	    load(&m->tls_ok), load(&m->tls_failed));
	page_head(&pg, "signet_upstream_connections_total", "counter",
	    "Upstream connections by how a transaction got one.");
	page_printf(&pg,
	    "signet_upstream_connections_total{how=\"new\"} %llu\n"
	    "signet_upstream_connections_total{how=\"reused\"} %llu\n",
	    load(&m->up_new), load(&m->up_reused));
	page_keys(&pg, m, now);
	page_head(&pg, "signet_dns_match", "gauge",
	    "1 if the published TXT record equals the key, else 0.");
	page_ltab(&pg, &m->dns);
	page_head(&pg, "signet_dns_check_store_generation", "gauge",
	    "Key-store generation the last DNS self-check compared.");
	page_printf(&pg, "signet_dns_check_store_generation %llu\n",
	    load(&m->dns_generation));
	page_head(&pg, "signet_dns_check_timestamp_seconds", "gauge",
	    "When the last DNS self-check round ended; 0: never.");
	page_printf(&pg, "signet_dns_check_timestamp_seconds %lld\n",
	    (long long)atomic_load(&m->dns_checked_at));
	page_head(&pg, "signet_store_generation", "gauge",
	    "Key-store generation of the serving snapshot.");
	page_printf(&pg, "signet_store_generation %llu\n",
	    load(&m->generation));
	page_head(&pg, "signet_serving", "gauge",
	    "1 while a snapshot is loaded and connections are accepted.");
	page_printf(&pg, "signet_serving %d\n", atomic_load(&m->serving));
	page_head(&pg, "signet_last_reload_failed", "gauge",
	    "1 if the last reload was refused; the old snapshot serves.");
	page_printf(&pg, "signet_last_reload_failed %d\n",
	    atomic_load(&m->reload_failed));
	page_head(&pg, "signet_metrics_label_overflow_total", "counter",
	    "Updates dropped because a label table was full.");
	page_printf(&pg, "signet_metrics_label_overflow_total{metric=\"%s\"} "
	    "%llu\n", m->sigs.name, load(&m->sigs.overflow));
	page_printf(&pg, "signet_metrics_label_overflow_total{metric=\"%s\"} "
	    "%llu\n", m->refusals.name, load(&m->refusals.overflow));
	page_printf(&pg, "signet_metrics_label_overflow_total{metric=\"%s\"} "
	    "%llu\n", m->dns.name, load(&m->dns.overflow));
	return pg.err ? -1 : 0;
}

int
metrics_health(struct buf *out)
{
	struct page	 pg = { out, 0 };
	int		 code = 503;

	if (mx == NULL || !atomic_load(&mx->serving))
		page_printf(&pg, "unavailable: no snapshot serving\n");
	else {
		code = 200;
		page_printf(&pg, "ok\n");
	}
	if (mx != NULL && atomic_load(&mx->reload_failed))
		page_printf(&pg, "last reload failed\n");
	return code;
}

static void
send_page(struct evhttp_request *req, int code, const char *reason,
    const struct buf *b)
{
	struct evbuffer	*body;

	if ((body = evbuffer_new()) == NULL ||
	    evbuffer_add(body, buf_data(b), buf_len(b)) == -1 ||
	    evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", CONTENT_TYPE) == -1) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		if (body != NULL)
			evbuffer_free(body);
		return;
	}
	evhttp_send_reply(req, code, reason, body);
	evbuffer_free(body);
}

static void
metrics_cb(struct evhttp_request *req, void *arg)
{
	struct buf	*b;

	(void)arg;
	if ((b = buf_new(METRICS_PAGE_MAX)) == NULL ||
	    metrics_render(b, time(NULL)) == -1)
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
	else
		send_page(req, HTTP_OK, "OK", b);
	buf_free(b);
}

static void
health_cb(struct evhttp_request *req, void *arg)
{
	struct buf	*b;
	int		 code;

	(void)arg;
	if ((b = buf_new(METRICS_HTTP_BODY_MAX)) == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	code = metrics_health(b);
	send_page(req, code, code == 200 ? "OK" : "Service Unavailable", b);
	buf_free(b);
}

static void
notfound_cb(struct evhttp_request *req, void *arg)
{
	(void)arg;
	evhttp_send_error(req, HTTP_NOTFOUND, NULL);
}

static void
set_err(struct buf *err, const char *what, const char *host, uint16_t port)
{
	if (err != NULL)
		buf_printf(err, "metrics listener %s:%u: %s", host,
		    (unsigned)port, what);
}

struct metrics_server *
metrics_server_new(struct event_base *base, const char *host, uint16_t port,
    struct buf *err)
{
	struct metrics_server	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		set_err(err, "out of memory", host, port);
		return NULL;
	}
	if ((s->http = evhttp_new(base)) == NULL) {
		set_err(err, "evhttp_new failed", host, port);
		goto fail;
	}
	evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET);
	evhttp_set_timeout(s->http, METRICS_HTTP_TIMEOUT_S);
	evhttp_set_max_headers_size(s->http, METRICS_HTTP_HEADERS_MAX);
	evhttp_set_max_body_size(s->http, METRICS_HTTP_BODY_MAX);
	if (evhttp_set_cb(s->http, "/metrics", metrics_cb, NULL) != 0 ||
	    evhttp_set_cb(s->http, "/healthz", health_cb, NULL) != 0) {
		set_err(err, "evhttp_set_cb failed", host, port);
		goto fail;
	}
	evhttp_set_gencb(s->http, notfound_cb, NULL);
	if (evhttp_bind_socket_with_handle(s->http, host, port) == NULL) {
		set_err(err, strerror(errno), host, port);
		goto fail;
	}
	return s;
fail:
	metrics_server_free(s);
	return NULL;
}

void
metrics_server_free(struct metrics_server *s)
{
	if (s == NULL)
		return;
	if (s->http != NULL)
		evhttp_free(s->http);
	free(s);
}
