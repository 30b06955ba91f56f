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
snapshot_has_domain(const struct snapshot *s, const char *domain)
{
	size_t	 i;

	for (i = 0; i < s->nkeys; i++)
		if (strcmp(s->keys[i].domain, domain) == 0)
			return 1;
	return 0;
}

/*
 * Load one domain's READY/ACTIVE keys.  A domain the store does not know
 * yet simply has no keys (its mail gets 451, TN-04).
 */
static int
snapshot_load_domain(struct snapshot *s, const char *domain, int want_alg,
    enum config_alg alg, const char *arc_selector, struct buf *refuse)
{
	struct store_keyset	*set;
	struct snap_keys	*nk;
	char			 err[SNAP_ERR_MAX];
	size_t			 i;
	enum keys_alg		 ka;

	if (snapshot_has_domain(s, domain))
		return 0;
	err[0] = '\0';
	set = store_load_signing_keys(s->store, domain, err, sizeof(err));
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
	if (store_keyset_failures(set) > 0) {
		struct log_line	*l = log_begin(LOG_ERR, NULL, "key_load_failed");

		log_kv(l, "domain", "%s", domain);
		log_kv_esc(l, "detail", err, strlen(err));
		log_end(l);
	}
	ka = alg == CONFIG_ALG_ED25519 ? KEYS_ALG_ED25519_SHA256 :
	    KEYS_ALG_RSA_SHA256;
	for (i = 0; want_alg && i < store_keyset_count(set); i++) {
		/* The ARC key is RSA whatever the DKIM keys are, and an
		 * extra Ed25519 key sits beside RSA ones. */
		if ((arc_selector != NULL && strcmp(arc_selector,
		    store_keyset_selector(set, i)) == 0) ||
		    strcmp(store_keyset_role(set, i), STORE_ROLE_DKIM) != 0)
			continue;
		if (keys_alg(store_keyset_key(set, i)) != ka)
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

/* Every configured domain, then the tenants' extra signing domains. */
static int
snapshot_load_all(struct snapshot *s, const struct config *cfg,
    struct buf *refuse)
{
	size_t	 i, j;
	int	 rc;

	for (i = 0; i < cfg->ndomains; i++)
		if ((rc = snapshot_load_domain(s, cfg->domains[i].name, 1,
		    cfg->domains[i].algorithm, cfg->domains[i].arc.enabled ?
		    cfg->domains[i].arc.selector : NULL, refuse)) != 0)
			return rc;
	for (i = 0; i < cfg->ntenants; i++)
		for (j = 0; j < cfg->tenants[i].nextra_signatures; j++)
			if ((rc = snapshot_load_domain(s,
			    cfg->tenants[i].extra_signatures[j].domain, 0,
			    CONFIG_ALG_RSA, NULL, refuse)) != 0)
				return rc;
	return 0;
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

struct snapshot *
snapshot_build(const struct config *cfg, struct buf *err)
{
	struct cfg_holder	*ch;
	struct snapshot		*s;

	if ((ch = calloc(1, sizeof(*ch))) == NULL) {
		config_free(cfg);
		return NULL;
	}
	ch->cfg = cfg;
	atomic_init(&ch->refs, 1);
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
	const struct keys_key	*key;
	size_t			 i, j;

	for (i = 0; i < s->nkeys; i++) {
		k = &s->keys[i];
		if (strcmp(k->domain, domain) != 0)
			continue;
		for (j = 0; j < store_keyset_count(k->set); j++) {
			if (strcmp(store_keyset_selector(k->set, j),
			    selector) != 0)
				continue;
			key = store_keyset_key(k->set, j);
			/* A key of the wrong type never signs (KY-01). */
			if (k->check_alg && keys_alg(key) != k->alg)
				return NULL;
			return key;
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
	size_t			 i, j;

	for (i = 0; key == NULL && i < s->nkeys; i++) {
		k = &s->keys[i];
		if (strcmp(k->domain, domain) != 0)
			continue;
		if (store_keyset_current(k->set, role, &j) == 0) {
			key = store_keyset_key(k->set, j);
			*selector = store_keyset_selector(k->set, j);
			break;
		}
		for (j = 0; plain != NULL && j < store_keyset_count(k->set);
		    j++) {
			if (strcmp(store_keyset_selector(k->set, j),
			    plain) == 0) {
				key = store_keyset_key(k->set, j);
				*selector = store_keyset_selector(k->set, j);
				break;
			}
		}
	}
	return key != NULL && keys_alg(key) == alg ? key : NULL;
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
		return store_keyset_key(k->set, i);
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
