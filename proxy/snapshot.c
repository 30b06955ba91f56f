/*
 * snapshot — configuration plus loaded signing keys, published as one
 * immutable, reference-counted object (promise 6, KY-01, KY-04, KY-05).
 *
 * Ownership: a snapshot owns its key sets and its store handle; the
 * configuration sits in a separately counted holder so that a key-store
 * change can publish a new snapshot sharing the old configuration.  The
 * current pointer is swapped under a mutex and every reference count is
 * atomic, so workers take and drop references without blocking each
 * other for long.  The listeners' TLS contexts belong to the
 * configuration (tls.h): a reload whose certificate cannot be loaded
 * builds no snapshot.  Keys are freed (and wiped, by keys_free) only when the
 * last transaction signing with them has dropped its reference.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "keys/signer.h"
#include "keys/store.h"
#include "proxy/log.h"
#include "proxy/msg/buf.h"
#include "proxy/snapshot.h"
#include "proxy/tls.h"
#include "proxy/upstream_tls.h"

#define SNAP_ERR_MAX	512

struct cfg_holder {
	const struct config	*cfg;
	struct tls_set		*tls;
	atomic_uint		 refs;
};

struct snap_keys {
	char			*domain;
	struct store_keyset	*set;
	int			 check_alg;	/* a configured domain */
	enum keys_alg		 alg;		/* its algorithm (KY-01) */
};

struct snapshot {
	atomic_uint		 refs;
	struct cfg_holder	*ch;
	struct store		*store;
	uint64_t		 fingerprint;
	uint64_t		 generation;
	struct snap_keys	*keys;
	size_t			 nkeys;
};

static pthread_mutex_t	 snap_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct snapshot	*snap_cur;

static void
cfg_holder_unref(struct cfg_holder *ch)
{
	if (ch == NULL || atomic_fetch_sub(&ch->refs, 1) != 1)
		return;
	tls_set_free(ch->tls);
	utls_forget(ch->cfg);
	config_free(ch->cfg);
	free(ch);
}

static void
snapshot_free(struct snapshot *s)
{
	size_t	 i;

	for (i = 0; i < s->nkeys; i++) {
		store_keyset_free(s->keys[i].set);
		free(s->keys[i].domain);
	}
	free(s->keys);
	store_close(s->store);
	cfg_holder_unref(s->ch);
	free(s);
}

static int
snap_keys_cmp(const void *a, const void *b)
{
	return strcmp(((const struct snap_keys *)a)->domain,
	    ((const struct snap_keys *)b)->domain);
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * The key sets of domain among the first n (sorted) entries: O(log n), so
 * an ESP's 10,000 domains cost nothing per message.
 */
static const struct snap_keys *
snapshot_find(const struct snapshot *s, size_t n, const char *domain)
{
	struct snap_keys	 k;

	/* bsearch's base must not be NULL, even for no elements. */
	if (n == 0)
		return NULL;
	memset(&k, 0, sizeof(k));
	k.domain = (char *)(uintptr_t)domain;
	return bsearch(&k, s->keys, n, sizeof(*s->keys), snap_keys_cmp);
}

static void
snap_log_failure(const char *domain, const char *selector, const char *err)
{
	struct log_line	*l = log_begin(LOG_ERR, NULL, "key_load_failed");

	log_kv(l, "domain", "%s", domain);
	if (selector != NULL)
		log_kv(l, "s", "%s", selector);
	log_kv_esc(l, "detail", err, strlen(err));
	log_end(l);
}

/*
 * Key j of a domain's set, loaded now if this is its first use; a key
 * that fails is logged by the one caller whose load failed and is
 * missing from then on (its mail signs with the other selector, or gets
 * 451 when none is left, KY-01).
 */
static const struct keys_key *
snap_key(const struct snap_keys *k, size_t j)
{
	const struct keys_key	*key;
	char			 err[SNAP_ERR_MAX];

	if ((key = store_keyset_key_err(k->set, j, err, sizeof(err))) ==
	    NULL && err[0] != '\0')
		snap_log_failure(k->domain, store_keyset_selector(k->set, j),
		    err);
	return key;
}

/*
 * Up to keys_eager_max keys in all: load and check every one now, so a
 * bad key shows at startup and reload (KY-01, KY-05) as it always has.
 * More stay on disk until first use: an ESP's 20,000 RSA keys would take
 * 20 s to load and check.
 */
static int
snapshot_load_eager(struct snapshot *s, const struct config *cfg,
    struct buf *refuse)
{
	char	err[SNAP_ERR_MAX];
	size_t	i, n = 0;

	for (i = 0; i < s->nkeys; i++)
		n += store_keyset_count(s->keys[i].set);
	if (n > cfg->keys_eager_max) {
		log_event(LOG_INFO, NULL, "keys_lazy", "keys=%zu eager_max=%llu",
		    n, (unsigned long long)cfg->keys_eager_max);
		return 0;
	}
	for (i = 0; i < s->nkeys; i++) {
		err[0] = '\0';
		if (store_keyset_load_all(s->keys[i].set, err, sizeof(err)) == 0)
			continue;
		/* KY-01/KY-02: strict builds refuse the configuration. */
		if (refuse != NULL) {
			buf_printf(refuse, "key store, domain %s: %s",
			    s->keys[i].domain, err);
			return -2;
		}
		snap_log_failure(s->keys[i].domain, NULL, err);
	}
	return 0;
}

/*
 * Read one domain's READY/ACTIVE keys from its journal (the keys
 * themselves: snapshot_load_eager or first use).  A domain the store does not know
 * yet simply has no keys (its mail gets 451, TN-04).
 */
static int
snapshot_load_domain(struct snapshot *s, const char *domain, int want_alg,
    enum config_alg alg, const char *arc_selector, int extra_ed25519,
    struct buf *refuse)
{
	struct store_keyset	*set;
	struct snap_keys	*nk;
	char			 err[SNAP_ERR_MAX];
	size_t			 i;
	enum keys_alg		 ka;

	err[0] = '\0';
	set = store_load_signing_keys_lazy(s->store, domain, err, sizeof(err));
	if (set == NULL) {
		log_event(LOG_WARNING, NULL, "keys_unavailable", "domain=%s",
		    domain);
		return 0;
	}
	if (store_keyset_failures(set) > 0 && refuse != NULL) {
		/* KY-01/KY-02: at start-up and on SIGHUP a configured key that
		 * is missing, damaged, too weak or unsafely stored refuses the
		 * whole configuration (the old one stays on reload), so the
		 * operator hears of it before mail goes out with fewer keys.
		 * The detail names the file and the reason, never content. */
		buf_printf(refuse, "key store, domain %s: %s", domain, err);
		store_keyset_free(set);
		return -2;
	}
	if (store_keyset_failures(set) > 0)
		snap_log_failure(domain, NULL, err);
	ka = alg == CONFIG_ALG_ED25519 ? KEYS_ALG_ED25519_SHA256 :
	    KEYS_ALG_RSA_SHA256;
	for (i = 0; want_alg && i < store_keyset_count(set); i++) {
		/* The ARC key is RSA whatever the DKIM keys are, and an
		 * extra Ed25519 key sits beside RSA ones. */
		if ((arc_selector != NULL && strcmp(arc_selector,
		    store_keyset_selector(set, i)) == 0) ||
		    strcmp(store_keyset_role(set, i), STORE_ROLE_DKIM) != 0)
			continue;
		/* extra_ed25519 signs with the domain's Ed25519 keys too. */
		if (store_keyset_alg(set, i) != ka && !(extra_ed25519 &&
		    store_keyset_alg(set, i) == KEYS_ALG_ED25519_SHA256))
			log_event(LOG_ERR, NULL, "key_algorithm_mismatch",
			    "domain=%s s=%s detail=\"key not used\"", domain,
			    store_keyset_selector(set, i));
	}
	nk = reallocarray(s->keys, s->nkeys + 1, sizeof(*s->keys));
	if (nk == NULL) {
		store_keyset_free(set);
		return -1;
	}
	s->keys = nk;
	if ((s->keys[s->nkeys].domain = strdup(domain)) == NULL) {
		store_keyset_free(set);
		return -1;
	}
	s->keys[s->nkeys].check_alg = want_alg;
	s->keys[s->nkeys].alg = ka;
	s->keys[s->nkeys++].set = set;
	s->generation += store_keyset_generation(set);
	return 0;
}

/*
 * Every configured domain, then the tenants' extra signing domains that
 * are not configured ones, each once (an ESP domain named by 10,000
 * tenants is loaded once); the result is sorted by domain.
 */
static int
snapshot_load_all(struct snapshot *s, const struct config *cfg,
    struct buf *refuse)
{
	const char	**extra = NULL;
	size_t		 i, j, n = 0, nconf;
	int		 rc, rv = -1;

	for (i = 0; i < cfg->ndomains; i++)
		if ((rc = snapshot_load_domain(s, cfg->domains[i].name, 1,
		    cfg->domains[i].algorithm, cfg->domains[i].arc.enabled ?
		    cfg->domains[i].arc.selector : NULL,
		    cfg->domains[i].extra_ed25519, refuse)) != 0)
			return rc;
	if (s->nkeys > 0)
		qsort(s->keys, s->nkeys, sizeof(*s->keys), snap_keys_cmp);
	nconf = s->nkeys;
	for (i = 0; i < cfg->ntenants; i++)
		n += cfg->tenants[i].nextra_signatures;
	if (n > 0 && (extra = calloc(n, sizeof(*extra))) == NULL)
		return -1;
	n = 0;
	for (i = 0; i < cfg->ntenants; i++)
		for (j = 0; j < cfg->tenants[i].nextra_signatures; j++)
			extra[n++] = cfg->tenants[i].extra_signatures[j].domain;
	if (n > 0)
		qsort(extra, n, sizeof(*extra), str_cmp);
	for (i = 0; i < n; i++) {
		if ((i > 0 && strcmp(extra[i], extra[i - 1]) == 0) ||
		    snapshot_find(s, nconf, extra[i]) != NULL)
			continue;
		if ((rv = snapshot_load_domain(s, extra[i], 0, CONFIG_ALG_RSA,
		    NULL, 0, refuse)) != 0)
			goto done;
	}
	if (s->nkeys > nconf)
		qsort(s->keys, s->nkeys, sizeof(*s->keys), snap_keys_cmp);
	rv = snapshot_load_eager(s, cfg, refuse);
done:
	free(extra);
	return rv;
}

/*
 * strict: refuse the snapshot when a configured key fails to load (start-up
 * and SIGHUP).  The key store poll is not strict: signetctl changes the
 * store under a running daemon, and a key it broke is logged and skipped
 * there, its domain's mail getting 451 if no key is left.
 */
static struct snapshot *
snapshot_make(struct cfg_holder *ch, int strict, struct buf *err)
{
	const struct config	*cfg = ch->cfg;
	struct snapshot		*s;
	char			 e[SNAP_ERR_MAX];
	int			 rc;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		if (err != NULL)
			buf_append_str(err, "out of memory");
		return NULL;
	}
	atomic_init(&s->refs, 1);
	atomic_fetch_add(&ch->refs, 1);
	s->ch = ch;
	e[0] = '\0';
	if ((s->store = store_open(cfg->keystore, 0, e, sizeof(e))) == NULL) {
		if (err != NULL)
			buf_printf(err, "key store %s: %s", cfg->keystore, e);
		goto fail;
	}
	/* Take the fingerprint first: a change during loading is seen. */
	if (store_fingerprint(s->store, &s->fingerprint) == -1)
		s->fingerprint = 0;
	if ((rc = snapshot_load_all(s, cfg, strict ? err : NULL)) != 0) {
		if (rc == -1 && err != NULL)
			buf_append_str(err, "out of memory loading keys");
		goto fail;
	}
	return s;
fail:
	snapshot_free(s);
	return NULL;
}

/* A holder owning cfg, one reference; cfg is freed on failure. */
static struct cfg_holder *
cfg_holder_new(const struct config *cfg)
{
	struct cfg_holder	*ch;

	if ((ch = calloc(1, sizeof(*ch))) == NULL) {
		config_free(cfg);
		return NULL;
	}
	ch->cfg = cfg;
	atomic_init(&ch->refs, 1);
	return ch;
}

struct snapshot *
snapshot_build(const struct config *cfg, struct buf *err)
{
	struct cfg_holder	*ch;
	struct snapshot		*s;

	if ((ch = cfg_holder_new(cfg)) == NULL)
		return NULL;
	/* Upstream CA and AUTH secret: read once per configuration. */
	if ((ch->tls = tls_set_new(cfg, err)) == NULL ||
	    utls_prepare(cfg, err) == -1) {
		cfg_holder_unref(ch);
		return NULL;
	}
	s = snapshot_make(ch, 1, err);
	cfg_holder_unref(ch);
	return s;
}

struct snapshot *
snapshot_build_keys(const struct config *cfg, struct buf *err)
{
	struct cfg_holder	*ch;
	struct snapshot		*s;

	if ((ch = cfg_holder_new(cfg)) == NULL)
		return NULL;
	s = snapshot_make(ch, 0, err);
	cfg_holder_unref(ch);
	return s;
}

struct snapshot *
snapshot_rebuild_keys(struct snapshot *prev, struct buf *err)
{
	return snapshot_make(prev->ch, 0, err);
}

void
snapshot_publish(struct snapshot *s)
{
	struct snapshot	*old;

	pthread_mutex_lock(&snap_mtx);
	old = snap_cur;
	snap_cur = s;
	pthread_mutex_unlock(&snap_mtx);
	snapshot_unref(old);
}

struct snapshot *
snapshot_current(void)
{
	struct snapshot	*s;

	pthread_mutex_lock(&snap_mtx);
	s = snap_cur;
	if (s != NULL)
		atomic_fetch_add(&s->refs, 1);
	pthread_mutex_unlock(&snap_mtx);
	return s;
}

struct snapshot *
snapshot_ref(struct snapshot *s)
{
	if (s != NULL)
		atomic_fetch_add(&s->refs, 1);
	return s;
}

void
snapshot_unref(struct snapshot *s)
{
	if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	snapshot_free(s);
}

void
snapshot_shutdown(void)
{
	snapshot_publish(NULL);
}

const struct config *
snapshot_config(const struct snapshot *s)
{
	return s->ch->cfg;
}

const struct tls_set *
snapshot_tls(const struct snapshot *s)
{
	return s->ch->tls;
}

const struct keys_key *
snapshot_key(const struct snapshot *s, const char *domain,
    const char *selector)
{
	const struct snap_keys	*k;
	size_t			 j;

	if ((k = snapshot_find(s, s->nkeys, domain)) != NULL) {
		for (j = 0; j < store_keyset_count(k->set); j++) {
			if (strcmp(store_keyset_selector(k->set, j),
			    selector) != 0)
				continue;
			/* A key of the wrong type never signs (KY-01). */
			if (k->check_alg && store_keyset_alg(k->set, j) !=
			    k->alg)
				return NULL;
			return snap_key(k, j);
		}
	}
	return NULL;
}

/*
 * A single-signature role's key (rotation.md: the ARC seal and the extra
 * Ed25519 signature): the newest of that role, which rotation hands over
 * make-before-break under dated selector names; else a key made by hand
 * (keys init/import) under the plain selector name.
 */
const struct keys_key *
snapshot_role_key(const struct snapshot *s, const char *domain,
    const char *role, const char *plain, enum keys_alg alg,
    const char **selector)
{
	const struct snap_keys	*k;
	const struct keys_key	*key = NULL;
	size_t			 j;

	if ((k = snapshot_find(s, s->nkeys, domain)) == NULL)
		return NULL;
	if (store_keyset_current(k->set, role, &j) == 0) {
		if (store_keyset_alg(k->set, j) == alg)
			key = snap_key(k, j);
		*selector = store_keyset_selector(k->set, j);
	} else {
		for (j = 0; plain != NULL && j < store_keyset_count(k->set);
		    j++) {
			if (strcmp(store_keyset_selector(k->set, j),
			    plain) == 0) {
				if (store_keyset_alg(k->set, j) == alg)
					key = snap_key(k, j);
				*selector = store_keyset_selector(k->set, j);
				break;
			}
		}
	}
	return key;
}

const struct keys_key *
snapshot_arc_key(const struct snapshot *s, const struct config_domain *d,
    const char **selector)
{
	if (!d->arc.enabled)
		return NULL;
	/* RFC 8617 4.1.2, 4.1.3: ARC is rsa-sha256 only. */
	return snapshot_role_key(s, d->name, STORE_ROLE_ARC, d->arc.selector,
	    KEYS_ALG_RSA_SHA256, selector);
}

size_t
snapshot_nkeys(const struct snapshot *s)
{
	size_t	 i, n = 0;

	for (i = 0; i < s->nkeys; i++)
		n += store_keyset_count(s->keys[i].set);
	return n;
}

const struct keys_key *
snapshot_key_at(const struct snapshot *s, size_t i, const char **domain,
    const char **selector)
{
	const struct snap_keys	*k;
	size_t			 j;

	for (j = 0; j < s->nkeys; j++) {
		k = &s->keys[j];
		if (i >= store_keyset_count(k->set)) {
			i -= store_keyset_count(k->set);
			continue;
		}
		*domain = k->domain;
		*selector = store_keyset_selector(k->set, i);
		return snap_key(k, i);
	}
	return NULL;
}

const struct keys_key *
snapshot_extra_ed25519(const struct snapshot *s, const char *domain,
    const char *const *skip, size_t nskip, size_t n, const char **selector)
{
	const struct snap_keys	*k;
	const struct keys_key	*key;
	const char		*sel;
	size_t			 i, j;

	if ((k = snapshot_find(s, s->nkeys, domain)) == NULL)
		return NULL;
	for (i = 0; i < store_keyset_count(k->set); i++) {
		sel = store_keyset_selector(k->set, i);
		if (store_keyset_alg(k->set, i) != KEYS_ALG_ED25519_SHA256)
			continue;
		for (j = 0; j < nskip; j++)
			if (strcmp(skip[j], sel) == 0)
				break;
		/* A key that failed to load is not there (KY-01). */
		if (j < nskip || (key = snap_key(k, i)) == NULL || n-- > 0)
			continue;
		*selector = sel;
		return key;
	}
	return NULL;
}

uint64_t
snapshot_store_generation(const struct snapshot *s)
{
	return s->generation;
}

int
snapshot_store_changed(const struct snapshot *s)
{
	uint64_t	 fp;

	if (store_fingerprint(s->store, &fp) == -1)
		return 0;
	return fp != s->fingerprint;
}
