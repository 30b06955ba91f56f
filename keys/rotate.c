/*
 * rotate — the rotation state machine (design/rotation.md §b, §c, §e;
 * hostile-inputs.md KY-06, KY-08, KY-09).
 *
 * Invariants (checked by rotate_invariants() before every transition the
 * driver makes, and by the unit tests at every simulated step):
 *  I1  a key signs (READY or ACTIVE, its selector mapped to it) only at
 *      t_vis + max(TTL, N) + S or later;
 *  I2  generational: a record is withdrawn no sooner than R + M + S after
 *      its key left the signing set;
 *  I3  generational: a key leaves the signing set only while another is
 *      ACTIVE;
 *  I4  a key is destroyed or disclosed only once GONE, and disclosed
 *      only when no selector names it (its record cannot come back);
 *  I5  dual: at most one slot is not ACTIVE, and a slot leaves ACTIVE
 *      only once the other has been ACTIVE for M + R + S.
 * A COMPROMISED key is exempt from I2, I3 and I5: it leaves at once.
 *
 * The driver makes one store transaction per step: lock, read the
 * journal, plan, do the side effect whose intent an earlier commit
 * journalled, journal the result, commit.  Selector -> key changes and
 * state changes that alter the signing set go in one commit, so signetd
 * (which polls the store) sees them atomically.  The domain's lock is
 * held across the step's side effect (one UPDATE, one round of queries),
 * so a `keys` command meanwhile reports the store busy rather than
 * racing the step.  SIGNET_CRASH_AT (rotate_env.crash_after) is the one
 * deliberate abort(): the crash tests' hook.
 *
 * A domain's keys rotate in roles (store.h): the DKIM selectors, and on
 * their own the ARC keys and the extra Ed25519 keys; the model of one
 * run holds only its role's keys.  A failed DNS step is journalled in a
 * commit of its own (the failure count, the first failure, the retry
 * time) and the following runs send no DNS traffic for that role until
 * the retry time: backoff, then ALERT (rotate.h ROTATE_BACKOFF_*).
 */
#include <sys/file.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "keys/dnscheck.h"
#include "keys/publish.h"
#include "keys/rotate.h"
#include "keys/signer.h"
#include "keys/store.h"
#include "proxy/msg/buf.h"
#include "proxy/msg/errmsg.h"

#define ROTATE_LOCK		".rotate.lock"
/* RFC 1035 3.1: selector._domainkey.domain in text form. */
#define FQDN_MAX		(DNSCHECK_NAME_MAX + 1)
#define TIME_LEN		21
#define ERR_LEN			512
/* Same-day names: <prefix>-<yyyymmdd>-2 .. -99. */
#define GEN_SUFFIX_MAX		99
#define RDF_SOA_MINIMUM		6	/* RFC 1035 3.3.13 */

static const char *const act_names[] = {
	"none", "generate", "publish-intent", "publish", "check", "ready",
	"active", "drain", "withdraw-intent", "withdraw", "gone", "destroy",
	"disclose",
};

const char *
rotate_act_name(enum rotate_act a)
{
	if ((size_t)a >= sizeof(act_names) / sizeof(act_names[0]))
		return "?";
	return act_names[a];
}

/* ------------------------------------------------------------------ */
/* The model.                                                          */

static int
parse_u64(const char *s, uint64_t *out)
{
	char			*end;
	unsigned long long	 v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

const char *
rotate_key_role(const struct store_key *k, const struct rotate_params *p)
{
	const char	*r = store_key_attr(k, STORE_ATTR_ROLE);

	if (r != NULL)
		return r;
	if (p != NULL && p->arc_selector != NULL &&
	    strcmp(store_key_selector(k), p->arc_selector) == 0)
		return STORE_ROLE_ARC;
	return STORE_ROLE_DKIM;
}

static const char *
params_role(const struct rotate_params *p)
{
	return p->role != NULL ? p->role : STORE_ROLE_DKIM;
}

int
rotate_view_load(struct rotate_view *v, const struct store_domain *d)
{
	return rotate_view_load_role(v, d, NULL);
}

int
rotate_view_load_role(struct rotate_view *v, const struct store_domain *d,
    const struct rotate_params *p)
{
	const struct store_key	*k, *m;
	struct rotate_key	*rk;
	size_t			 i;
	int			 s;

	memset(v, 0, sizeof(*v));
	for (i = 0; i < store_domain_nkeys(d); i++) {
		k = store_domain_key(d, i);
		/* the other roles' keys are another rotation's business */
		if (p != NULL && strcmp(rotate_key_role(k, p),
		    params_role(p)) != 0)
			continue;
		if (v->nkeys == ROTATE_KEYS_MAX)
			return -1;
		rk = &v->keys[v->nkeys++];
		if (strlen(store_key_selector(k)) > ROTATE_SELECTOR_MAX)
			return -1;
		memcpy(rk->id, store_key_id(k), sizeof(rk->id));
		snprintf(rk->selector, sizeof(rk->selector), "%s",
		    store_key_selector(k));
		rk->state = store_key_state(k);
		for (s = 0; s < STORE_NSTATES; s++)
			rk->entered[s] = store_key_entered(k, s);
		m = store_domain_selector_key(d, rk->selector);
		rk->mapped = m != NULL && strcmp(store_key_id(m), rk->id) == 0;
		rk->retire = store_key_attr(k, ROTATE_ATTR_RETIRE) != NULL;
		rk->withdraw = store_key_attr(k, ROTATE_ATTR_WITHDRAW) != NULL;
		if (parse_u64(store_key_attr(k, ROTATE_ATTR_WAIT),
		    &rk->ready_wait_s) == -1)
			rk->ready_wait_s = 0;
	}
	return 0;
}

static int
is_live(enum store_state s)
{
	return s >= STORE_GENERATED && s <= STORE_ACTIVE;
}

static int
is_signing(const struct rotate_key *k)
{
	return k->mapped && (k->state == STORE_READY ||
	    k->state == STORE_ACTIVE);
}

/* The slot's newest key that is not yet past ACTIVE, or NOKEY. */
static size_t
slot_live(const struct rotate_view *v, const char *sel)
{
	size_t	i, found = ROTATE_NOKEY;

	for (i = 0; i < v->nkeys; i++)
		if (strcmp(v->keys[i].selector, sel) == 0 &&
		    is_live(v->keys[i].state))
			found = i;
	return found;
}

/* The key whose record the slot's live key replaces, or NOKEY. */
static size_t
slot_old(const struct rotate_view *v, const char *sel)
{
	size_t	i, found = ROTATE_NOKEY;

	for (i = 0; i < v->nkeys; i++)
		if (strcmp(v->keys[i].selector, sel) == 0 &&
		    (v->keys[i].state == STORE_DRAINING ||
		    v->keys[i].state == STORE_COMPROMISED))
			found = i;
	return found;
}

static uint64_t
transit_guard(const struct rotate_params *p)
{
	return p->max_transit_s + p->reload_bound_s + p->skew_s;
}

/* Earliest pending wake-up after now. */
static void
wake(time_t *at, time_t t, time_t now)
{
	if (t > now && (*at == 0 || t < *at))
		*at = t;
}

static int
due(const struct rotate_key *k, const struct rotate_params *p, time_t now,
    time_t *at)
{
	time_t	t = k->entered[STORE_GENERATED] + (time_t)p->period_s;

	if (k->retire || now >= t)
		return 1;
	wake(at, t, now);
	return 0;
}

static void
set_step(struct rotate_step *st, enum rotate_act a, size_t key, size_t prev)
{
	st->act = a;
	st->key = key;
	st->prev = prev;
}

/*
 * Steps of a key that has a successor or none: withdrawal, GONE,
 * DESTROYED.  1 when a step was chosen.
 */
static int
plan_retired(const struct rotate_view *v, const struct rotate_params *p,
    size_t i, time_t now, struct rotate_step *st)
{
	const struct rotate_key	*k = &v->keys[i];
	size_t			 live;
	time_t			 t;

	switch (k->state) {
	case STORE_COMPROMISED:
		/* dual: a successor being published replaces the record */
		if (p->strategy == ROTATE_DUAL) {
			live = slot_live(v, k->selector);
			if (live != ROTATE_NOKEY &&
			    v->keys[live].state >= STORE_PUBLISHING)
				return 0;
		}
		set_step(st, k->withdraw ? ROTATE_WITHDRAW :
		    ROTATE_WITHDRAW_INTENT, i, ROTATE_NOKEY);
		return 1;
	case STORE_DRAINING:
		if (p->strategy == ROTATE_DUAL)
			return 0;
		/* I2: byte-identical until t_off + M + S */
		t = k->entered[STORE_DRAINING] + (time_t)transit_guard(p);
		if (now < t) {
			wake(&st->at, t, now);
			return 0;
		}
		set_step(st, k->withdraw ? ROTATE_WITHDRAW :
		    ROTATE_WITHDRAW_INTENT, i, ROTATE_NOKEY);
		return 1;
	case STORE_REVOKED:
		t = k->entered[STORE_REVOKED] + (time_t)(p->ttl_s +
		    ROTATE_STALE_S);
		if (now < t) {
			wake(&st->at, t, now);
			return 0;
		}
		set_step(st, ROTATE_GONE, i, ROTATE_NOKEY);
		return 1;
	case STORE_GONE:
		/* I4: a key its selector still names could be served again */
		if (k->mapped)
			return 0;
		set_step(st, p->disclose_dir != NULL ? ROTATE_DISCLOSE :
		    ROTATE_DESTROY, i, ROTATE_NOKEY);
		return 1;
	default:
		return 0;
	}
}

/* A live key on its way to ACTIVE.  prev: the record it replaces. */
static int
plan_live(const struct rotate_view *v, const struct rotate_params *p,
    size_t i, size_t prev, time_t now, struct rotate_step *st)
{
	const struct rotate_key	*k = &v->keys[i];
	time_t			 t;

	switch (k->state) {
	case STORE_GENERATED:
		/* the old record stays until no proxy signs with it */
		if (prev != ROTATE_NOKEY &&
		    v->keys[prev].state == STORE_DRAINING) {
			t = v->keys[prev].entered[STORE_DRAINING] +
			    (time_t)p->reload_bound_s;
			if (now < t) {
				wake(&st->at, t, now);
				return 0;
			}
		}
		set_step(st, ROTATE_PUBLISH_INTENT, i, prev);
		return 1;
	case STORE_PUBLISHING:
		set_step(st, ROTATE_PUBLISH, i, prev);
		return 1;
	case STORE_PUBLISHED:
		set_step(st, ROTATE_CHECK, i, prev);
		return 1;
	case STORE_VISIBLE:
		t = k->entered[STORE_VISIBLE] + (time_t)k->ready_wait_s;
		if (now < t) {
			wake(&st->at, t, now);
			return 0;
		}
		set_step(st, ROTATE_READY, i, prev);
		return 1;
	case STORE_READY:
		t = k->entered[STORE_READY] + (time_t)p->reload_bound_s;
		if (now < t) {
			wake(&st->at, t, now);
			return 0;
		}
		set_step(st, ROTATE_ACTIVE, i, prev);
		return 1;
	default:
		return 0;
	}
}

static int
plan_dual(const struct rotate_view *v, const struct rotate_params *p,
    time_t now, struct rotate_step *st)
{
	const struct rotate_key	*k, *o;
	size_t			 s, live, old, other;
	time_t			 t;

	for (s = 0; s < ROTATE_SLOTS; s++) {
		live = slot_live(v, p->selectors[s]);
		old = slot_old(v, p->selectors[s]);
		if (live == ROTATE_NOKEY) {
			/* a compromised record goes before a new one comes */
			if (old != ROTATE_NOKEY &&
			    v->keys[old].state == STORE_COMPROMISED)
				continue;
			set_step(st, ROTATE_GENERATE, ROTATE_NOKEY,
			    ROTATE_NOKEY);
			snprintf(st->selector, sizeof(st->selector), "%s",
			    p->selectors[s]);
			return 1;
		}
		k = &v->keys[live];
		if (k->held)
			continue;
		if (k->state != STORE_ACTIVE) {
			if (plan_live(v, p, live, old, now, st))
				return 1;
			continue;
		}
		if (!due(k, p, now, &st->at) || old != ROTATE_NOKEY)
			continue;
		/* I5: the other slot carries every message for M + R + S */
		other = slot_live(v, p->selectors[1 - s]);
		if (other == ROTATE_NOKEY ||
		    v->keys[other].state != STORE_ACTIVE)
			continue;
		o = &v->keys[other];
		t = o->entered[STORE_ACTIVE] + (time_t)transit_guard(p);
		if (now < t) {
			wake(&st->at, t, now);
			continue;
		}
		set_step(st, ROTATE_DRAIN, live, ROTATE_NOKEY);
		return 1;
	}
	return 0;
}

/* The ACTIVE key that entered ACTIVE last. */
static size_t
newest_active(const struct rotate_view *v)
{
	size_t	i, found = ROTATE_NOKEY;

	for (i = 0; i < v->nkeys; i++)
		if (v->keys[i].state == STORE_ACTIVE &&
		    (found == ROTATE_NOKEY ||
		    v->keys[i].entered[STORE_ACTIVE] >=
		    v->keys[found].entered[STORE_ACTIVE]))
			found = i;
	return found;
}

static int
plan_generational(const struct rotate_view *v, const struct rotate_params *p,
    time_t now, struct rotate_step *st)
{
	size_t	i, newest, pending = ROTATE_NOKEY;

	newest = newest_active(v);
	/* I3: the successor is ACTIVE, so the others may leave */
	for (i = 0; i < v->nkeys; i++)
		if (v->keys[i].state == STORE_ACTIVE && i != newest) {
			set_step(st, ROTATE_DRAIN, i, ROTATE_NOKEY);
			return 1;
		}
	for (i = 0; i < v->nkeys; i++)
		if (is_live(v->keys[i].state) &&
		    v->keys[i].state != STORE_ACTIVE)
			pending = i;
	if (pending != ROTATE_NOKEY) {
		if (v->keys[pending].held)
			return 0;
		return plan_live(v, p, pending, ROTATE_NOKEY, now, st);
	}
	if (newest != ROTATE_NOKEY && !due(&v->keys[newest], p, now, &st->at))
		return 0;
	if (rotate_gen_selector(v, p->selectors[0], now, st->selector,
	    sizeof(st->selector)) == -1)
		return 0;
	set_step(st, ROTATE_GENERATE, ROTATE_NOKEY, ROTATE_NOKEY);
	return 1;
}

void
rotate_plan(const struct rotate_view *v, const struct rotate_params *p,
    time_t now, struct rotate_step *st)
{
	size_t	i;

	memset(st, 0, sizeof(*st));
	st->key = st->prev = ROTATE_NOKEY;
	for (i = 0; i < v->nkeys; i++)
		if (!v->keys[i].held && plan_retired(v, p, i, now, st))
			return;
	if (p->strategy == ROTATE_DUAL) {
		if (plan_dual(v, p, now, st))
			return;
	} else if (plan_generational(v, p, now, st))
		return;
	st->act = ROTATE_NONE;
	st->key = st->prev = ROTATE_NOKEY;
}

void
rotate_key_next(const struct rotate_view *v, const struct rotate_params *p,
    size_t i, time_t now, enum rotate_act *act, time_t *at)
{
	const struct rotate_key	*k = &v->keys[i];
	size_t			 s, other;
	time_t			 t = now;

	*act = ROTATE_NONE;
	switch (k->state) {
	case STORE_GENERATED:
		*act = ROTATE_PUBLISH_INTENT;
		break;
	case STORE_PUBLISHING:
		*act = ROTATE_PUBLISH;
		break;
	case STORE_PUBLISHED:
		*act = ROTATE_CHECK;
		break;
	case STORE_VISIBLE:
		*act = ROTATE_READY;
		t = k->entered[STORE_VISIBLE] + (time_t)k->ready_wait_s;
		break;
	case STORE_READY:
		*act = ROTATE_ACTIVE;
		t = k->entered[STORE_READY] + (time_t)p->reload_bound_s;
		break;
	case STORE_ACTIVE:
		*act = ROTATE_DRAIN;
		if (!k->retire)
			t = k->entered[STORE_GENERATED] + (time_t)p->period_s;
		/* I5: not before the other slot has carried mail for M+R+S */
		for (s = 0; p->strategy == ROTATE_DUAL && s < ROTATE_SLOTS;
		    s++) {
			if (strcmp(p->selectors[s], k->selector) != 0)
				continue;
			other = slot_live(v, p->selectors[1 - s]);
			if (other != ROTATE_NOKEY &&
			    v->keys[other].state == STORE_ACTIVE &&
			    v->keys[other].entered[STORE_ACTIVE] +
			    (time_t)transit_guard(p) > t)
				t = v->keys[other].entered[STORE_ACTIVE] +
				    (time_t)transit_guard(p);
		}
		break;
	case STORE_DRAINING:
		/* dual: the successor's record replaces it after R */
		*act = ROTATE_WITHDRAW;
		t = k->entered[STORE_DRAINING] + (time_t)(p->strategy ==
		    ROTATE_DUAL ? p->reload_bound_s : transit_guard(p));
		break;
	case STORE_COMPROMISED:
		*act = ROTATE_WITHDRAW;
		break;
	case STORE_REVOKED:
		*act = ROTATE_GONE;
		t = k->entered[STORE_REVOKED] + (time_t)(p->ttl_s +
		    ROTATE_STALE_S);
		break;
	case STORE_GONE:
		if (!k->mapped)
			*act = p->disclose_dir != NULL ? ROTATE_DISCLOSE :
			    ROTATE_DESTROY;
		break;
	default:
		break;
	}
	*at = *act == ROTATE_NONE ? 0 : t;
}

int
rotate_gen_selector(const struct rotate_view *v, const char *prefix,
    time_t now, char *out, size_t outlen)
{
	struct tm	tm;
	size_t		i;
	int		n, taken;
	unsigned	suffix;

	if (gmtime_r(&now, &tm) == NULL)
		return -1;
	for (suffix = 1; suffix <= GEN_SUFFIX_MAX; suffix++) {
		if (suffix == 1)
			n = snprintf(out, outlen, "%s-%04d%02d%02d", prefix,
			    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
		else
			n = snprintf(out, outlen, "%s-%04d%02d%02d-%u", prefix,
			    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			    suffix);
		if (n < 0 || (size_t)n >= outlen)
			return -1;
		/* a name once used may still be cached: never reuse it */
		for (taken = 0, i = 0; i < v->nkeys && !taken; i++)
			taken = strcmp(v->keys[i].selector, out) == 0;
		if (!taken)
			return 0;
	}
	return -1;
}

static uint64_t
ready_wait(const struct rotate_params *p, uint64_t neg_ttl_s)
{
	return (p->ttl_s > neg_ttl_s ? p->ttl_s : neg_ttl_s) + p->skew_s;
}

static void
enter(struct rotate_key *k, enum store_state s, time_t now)
{
	k->state = s;
	k->entered[s] = now;
}

static void
unmap_selector(struct rotate_view *v, const char *sel)
{
	size_t	i;

	for (i = 0; i < v->nkeys; i++)
		if (strcmp(v->keys[i].selector, sel) == 0)
			v->keys[i].mapped = 0;
}

int
rotate_apply(struct rotate_view *v, const struct rotate_params *p,
    const struct rotate_step *st, time_t now, uint64_t neg_ttl_s,
    const char *id)
{
	struct rotate_key	*k = NULL;

	if (st->act == ROTATE_GENERATE) {
		if (v->nkeys >= ROTATE_KEYS_MAX)
			return -1;
		k = &v->keys[v->nkeys++];
		memset(k, 0, sizeof(*k));
		snprintf(k->id, sizeof(k->id), "%s", id);
		snprintf(k->selector, sizeof(k->selector), "%s", st->selector);
		enter(k, STORE_GENERATED, now);
		return 0;
	}
	if (st->key >= v->nkeys)
		return st->act == ROTATE_NONE ? 0 : -1;
	k = &v->keys[st->key];
	switch (st->act) {
	case ROTATE_PUBLISH_INTENT:
		enter(k, STORE_PUBLISHING, now);
		break;
	case ROTATE_PUBLISH:
		enter(k, STORE_PUBLISHED, now);
		break;
	case ROTATE_CHECK:
		enter(k, STORE_VISIBLE, now);
		k->ready_wait_s = ready_wait(p, neg_ttl_s);
		if (st->prev != ROTATE_NOKEY) {
			enter(&v->keys[st->prev], STORE_REVOKED, now);
			v->keys[st->prev].withdraw = 0;
		}
		break;
	case ROTATE_READY:
		unmap_selector(v, k->selector);
		k->mapped = 1;
		enter(k, STORE_READY, now);
		break;
	case ROTATE_ACTIVE:
		enter(k, STORE_ACTIVE, now);
		break;
	case ROTATE_DRAIN:
		enter(k, STORE_DRAINING, now);
		break;
	case ROTATE_WITHDRAW_INTENT:
		k->withdraw = 1;
		break;
	case ROTATE_WITHDRAW:
		enter(k, STORE_REVOKED, now);
		k->withdraw = 0;
		k->mapped = 0;
		break;
	case ROTATE_GONE:
		enter(k, STORE_GONE, now);
		break;
	case ROTATE_DESTROY:
		enter(k, STORE_DESTROYED, now);
		break;
	case ROTATE_DISCLOSE:
		enter(k, STORE_DISCLOSED, now);
		break;
	default:
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Invariants.                                                         */

static int
ever_active(const struct rotate_view *v, const char *sel)
{
	size_t	i;

	for (i = 0; i < v->nkeys; i++)
		if (strcmp(v->keys[i].selector, sel) == 0 &&
		    v->keys[i].entered[STORE_ACTIVE] != 0)
			return 1;
	return 0;
}

static int
check_i5(const struct rotate_view *v, const struct rotate_params *p,
    char *why, size_t whylen)
{
	const struct rotate_key	*k, *o;
	size_t			 s, i, live, other, out = 0;

	for (s = 0; s < ROTATE_SLOTS; s++) {
		live = slot_live(v, p->selectors[s]);
		if (!ever_active(v, p->selectors[s]) ||
		    (live != ROTATE_NOKEY &&
		    v->keys[live].state == STORE_ACTIVE))
			continue;
		/* a compromised slot may leave whatever the other does */
		if (slot_old(v, p->selectors[s]) != ROTATE_NOKEY &&
		    v->keys[slot_old(v, p->selectors[s])].state ==
		    STORE_COMPROMISED)
			continue;
		out++;
	}
	if (out > 1) {
		errmsg_set(why, whylen, "I5: both %s and %s are out of ACTIVE",
		    p->selectors[0], p->selectors[1]);
		return -1;
	}
	for (i = 0; i < v->nkeys; i++) {
		k = &v->keys[i];
		if (k->state != STORE_DRAINING)
			continue;
		for (s = 0; s < ROTATE_SLOTS; s++)
			if (strcmp(k->selector, p->selectors[s]) == 0)
				break;
		if (s == ROTATE_SLOTS)
			continue;
		other = slot_live(v, p->selectors[1 - s]);
		if (other == ROTATE_NOKEY ||
		    v->keys[other].state != STORE_ACTIVE) {
			errmsg_set(why, whylen, "I5: %s left ACTIVE while %s is not "
			    "ACTIVE", k->selector, p->selectors[1 - s]);
			return -1;
		}
		o = &v->keys[other];
		if (k->entered[STORE_DRAINING] < o->entered[STORE_ACTIVE] +
		    (time_t)transit_guard(p)) {
			errmsg_set(why, whylen, "I5: %s left ACTIVE before %s was "
			    "ACTIVE for M + R + S", k->selector, o->selector);
			return -1;
		}
	}
	return 0;
}

int
rotate_invariants(const struct rotate_view *v, const struct rotate_params *p,
    char *why, size_t whylen)
{
	const struct rotate_key	*k;
	size_t			 i, j;
	int			 ok;

	for (i = 0; i < v->nkeys; i++) {
		k = &v->keys[i];
		/* keys init / import: published by hand, never by us */
		if (is_signing(k) && k->entered[STORE_PUBLISHING] != 0 &&
		    (k->entered[STORE_VISIBLE] == 0 ||
		    k->ready_wait_s < p->ttl_s + p->skew_s ||
		    k->entered[STORE_READY] < k->entered[STORE_VISIBLE] +
		    (time_t)k->ready_wait_s)) {
			errmsg_set(why, whylen, "I1: %s (%s) signs before READY",
			    k->selector, k->id);
			return -1;
		}
		if ((k->state == STORE_DESTROYED ||
		    k->state == STORE_DISCLOSED) &&
		    (k->entered[STORE_GONE] == 0 ||
		    k->entered[k->state] < k->entered[STORE_GONE])) {
			errmsg_set(why, whylen, "I4: %s (%s) destroyed before GONE",
			    k->selector, k->id);
			return -1;
		}
		if (k->entered[STORE_COMPROMISED] != 0 ||
		    k->entered[STORE_DRAINING] == 0 ||
		    k->entered[STORE_REVOKED] == 0)
			continue;
		if (k->entered[STORE_REVOKED] < k->entered[STORE_DRAINING] +
		    (time_t)(p->strategy == ROTATE_DUAL ? p->reload_bound_s :
		    transit_guard(p))) {
			errmsg_set(why, whylen, "I2: the record of %s (%s) changed "
			    "too soon after it stopped signing", k->selector,
			    k->id);
			return -1;
		}
	}
	if (p->strategy == ROTATE_DUAL)
		return check_i5(v, p, why, whylen);
	for (i = 0; i < v->nkeys; i++) {
		k = &v->keys[i];
		if (k->state != STORE_DRAINING)
			continue;
		for (ok = 0, j = 0; j < v->nkeys && !ok; j++)
			ok = j != i && v->keys[j].state == STORE_ACTIVE &&
			    v->keys[j].mapped;
		if (!ok) {
			errmsg_set(why, whylen, "I3: %s (%s) left the signing set "
			    "with no successor ACTIVE", k->selector, k->id);
			return -1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* The driver.                                                         */

struct run {
	struct rotate_env	*env;
	const char		*domain;
	time_t			 now;
	uint64_t		 neg_ttl_s;
	int			 neg_known;
	char			 held[ROTATE_KEYS_MAX];
	/* publishing failed before and its retry time has not come */
	int			 backoff;
	/* the failed step touched DNS: counts towards backoff and ALERT */
	int			 dns_failed;
	struct rotate_view	*view;
	struct rotate_view	*next;	/* the view after the step */
};

/* How a step went. */
enum outcome {
	OUT_DONE,	/* committed */
	OUT_HELD,	/* DNS not there yet: plan around the key */
	OUT_FAILED,
};

static const char *const result_words[] = {
	NULL, "GENERATED", "PUBLISHING", "PUBLISHED", "VISIBLE", "READY",
	"ACTIVE", "DRAINING", "WITHDRAWING", "REVOKED", "GONE", "DESTROYED",
	"DISCLOSED",
};

static void
fmt_time(time_t t, char out[TIME_LEN])
{
	struct tm	tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, TIME_LEN, "%lld", (long long)t);
}

static int
fqdn_of(const char *domain, const char *sel, char *out, size_t outlen)
{
	int	n;

	n = snprintf(out, outlen, "%s._domainkey.%s", sel, domain);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* The key's "v=DKIM1; ..." record, from its file. */
static int
key_record(struct run *r, const char *id, struct buf *out, char *err,
    size_t errlen)
{
	struct keys_key	*k;
	char		 path[PATH_MAX];
	int		 rc;

	if (store_key_file(r->env->st, r->domain, id, path, sizeof(path)) ==
	    -1) {
		errmsg_set(err, errlen, "%s: key path too long", r->domain);
		return -1;
	}
	if ((k = keys_load(path, err, errlen)) == NULL)
		return -1;
	rc = keys_dns_record(k, out);
	keys_free(k);
	if (rc == -1)
		errmsg_set(err, errlen, "%s: cannot encode key %s", r->domain, id);
	return rc;
}

static uint32_t
soa_min(ldns_pkt *pkt, int *found)
{
	ldns_rr_list	*an = ldns_pkt_answer(pkt);
	ldns_rr		*rr;
	ldns_rdf	*f;
	uint32_t	 n;
	size_t		 i;

	for (i = 0; an != NULL && i < ldns_rr_list_rr_count(an); i++) {
		rr = ldns_rr_list_rr(an, i);
		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA ||
		    ldns_rr_rd_count(rr) <= RDF_SOA_MINIMUM)
			continue;
		f = ldns_rr_rdf(rr, RDF_SOA_MINIMUM);
		if (ldns_rdf_size(f) != 4)
			continue;
		n = ldns_rdf2native_int32(f);
		*found = 1;
		/* RFC 2308 5: min(SOA MINIMUM, SOA TTL) */
		return n < ldns_rr_ttl(rr) ? n : ldns_rr_ttl(rr);
	}
	return 0;
}

/* N of rotation.md §b, read once per run from the zone's SOA. */
static int
neg_ttl(struct run *r, char *err, size_t errlen)
{
	struct addrinfo	 hints, *ai = NULL;
	struct buf	*q = NULL, *reply = NULL;
	ldns_pkt	*pkt = NULL;
	char		 port[8];
	int		 found = 0, rc = -1;
	uint32_t	 n;

	if (r->neg_known)
		return 0;
	if (r->env->soa_host == NULL) {
		r->neg_ttl_s = ROTATE_NEG_TTL_MAX;
		r->neg_known = 1;
		return 0;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	hints.ai_socktype = SOCK_DGRAM;
	snprintf(port, sizeof(port), "%u", r->env->soa_port != 0 ?
	    r->env->soa_port : DNSCHECK_PORT);
	if (getaddrinfo(r->env->soa_host, port, &hints, &ai) != 0) {
		errmsg_set(err, errlen, "%s: not an IP address", r->env->soa_host);
		goto done;
	}
	if ((q = buf_new(DNSCHECK_MSG_MAX)) == NULL ||
	    (reply = buf_new(DNSCHECK_MSG_MAX)) == NULL ||
	    dnscheck_query_build(r->env->dns->zone, LDNS_RR_TYPE_SOA, 0, q) ==
	    -1) {
		errmsg_set(err, errlen, "out of memory");
		goto done;
	}
	if (dnscheck_exchange(ai->ai_addr, ai->ai_addrlen, buf_data(q),
	    buf_len(q), 0, r->env->dns->timeout_ms > 0 ?
	    r->env->dns->timeout_ms : DNSCHECK_TIMEOUT_MS, reply, err,
	    errlen) == -1)
		goto done;
	if (ldns_wire2pkt(&pkt, buf_data(reply), buf_len(reply)) !=
	    LDNS_STATUS_OK) {
		pkt = NULL;
		errmsg_set(err, errlen, "%s: malformed SOA answer", r->env->soa_host);
		goto done;
	}
	n = soa_min(pkt, &found);
	if (!found) {
		errmsg_set(err, errlen, "%s: no SOA for %s", r->env->soa_host,
		    r->env->dns->zone);
		goto done;
	}
	r->neg_ttl_s = n;
	r->neg_known = 1;
	rc = 0;
done:
	ldns_pkt_free(pkt);
	buf_free(reply);
	buf_free(q);
	if (ai != NULL)
		freeaddrinfo(ai);
	return rc;
}

/*
 * Is value (NULL: the revoked record) visible on every authoritative
 * server?  OUT_DONE yes, OUT_HELD not yet, OUT_FAILED no answer.
 */
static enum outcome
visible(struct run *r, const char *fqdn, const struct buf *value,
    const char *what, char *err, size_t errlen)
{
	struct dnscheck_want	 want;
	struct dnscheck_report	*rep;
	enum outcome		 o = OUT_HELD;
	size_t			 i;

	memset(&want, 0, sizeof(want));
	want.fqdn = fqdn;
	want.value = buf_data(value);
	want.len = buf_len(value);
	if ((rep = dnscheck_run(r->env->dns, &want, err, errlen)) == NULL)
		return OUT_FAILED;
	if (dnscheck_report_visible(rep)) {
		dnscheck_report_free(rep);
		return OUT_DONE;
	}
	for (i = 0; i < dnscheck_report_count(rep); i++) {
		if (dnscheck_report_status(rep, i) == DNSCHECK_MATCH)
			continue;
		if (dnscheck_report_status(rep, i) == DNSCHECK_ERROR) {
			errmsg_set(err, errlen, "%s: %s: %s", fqdn,
			    dnscheck_report_server(rep, i),
			    dnscheck_report_detail(rep, i));
			o = OUT_FAILED;
			break;
		}
		fprintf(r->env->out, "%s %s %s: %s %s%s%s\n",
		    r->domain, fqdn, what, dnscheck_report_server(rep, i),
		    dnscheck_status_name(dnscheck_report_status(rep, i)),
		    dnscheck_report_detail(rep, i)[0] != '\0' ? " " : "",
		    dnscheck_report_detail(rep, i));
	}
	dnscheck_report_free(rep);
	return o;
}

static enum outcome
do_publish(struct run *r, const char *fqdn, const struct buf *value,
    const struct buf *prev, enum publish_prev how, char *err, size_t errlen)
{
	struct publish_rec	rec;
	struct publish_outcome	out;

	memset(&rec, 0, sizeof(rec));
	rec.fqdn = fqdn;
	rec.ttl = (uint32_t)r->env->params->ttl_s;
	rec.value = buf_data(value);
	rec.len = buf_len(value);
	rec.prev = how;
	if (how == PUBLISH_PREV_VALUE) {
		rec.prev_value = buf_data(prev);
		rec.prev_len = buf_len(prev);
	}
	memset(&out, 0, sizeof(out));
	if (publish_set(r->env->pub, &rec, &out) != PUBLISH_DONE) {
		errmsg_set(err, errlen, "%s: publish failed (%s): %s", fqdn,
		    publish_result_name(out.result), out.reason);
		return OUT_FAILED;
	}
	if (out.drift)
		fprintf(r->env->out, "%s %s drift: the name held a record "
		    "we did not publish; replaced\n", r->domain, fqdn);
	return OUT_DONE;
}

/* PUBLISH, CHECK and WITHDRAW: the side effects. */
static enum outcome
dns_step(struct run *r, struct store_txn *t, const struct rotate_step *st,
    char *err, size_t errlen)
{
	const struct rotate_key	*k = &r->view->keys[st->key];
	const struct rotate_params *p = r->env->params;
	struct buf		*value = NULL, *prev = NULL;
	enum publish_prev	 how = PUBLISH_PREV_UNKNOWN;
	enum outcome		 o = OUT_FAILED;
	char			 fqdn[FQDN_MAX], wait[24], kerr[ERR_LEN];

	if ((value = buf_new(PUBLISH_VALUE_MAX)) == NULL ||
	    (prev = buf_new(PUBLISH_VALUE_MAX)) == NULL) {
		errmsg_set(err, errlen, "out of memory");
		goto done;
	}
	if (fqdn_of(r->domain, k->selector, fqdn, sizeof(fqdn)) == -1) {
		errmsg_set(err, errlen, "%s: selector name too long", r->domain);
		goto done;
	}
	if (st->act == ROTATE_WITHDRAW) {
		if (buf_append_str(value, ROTATE_REVOKED_RECORD) == -1)
			goto done;
		/* a lost key file: read what the primary holds instead */
		if (key_record(r, k->id, prev, kerr, sizeof(kerr)) == 0)
			how = PUBLISH_PREV_VALUE;
	} else {
		if (key_record(r, k->id, value, err, errlen) == -1)
			goto done;
		if (st->prev != ROTATE_NOKEY && key_record(r,
		    r->view->keys[st->prev].id, prev, kerr, sizeof(kerr)) == 0)
			how = PUBLISH_PREV_VALUE;
		else if (st->prev == ROTATE_NOKEY &&
		    p->strategy == ROTATE_GENERATIONAL)
			how = PUBLISH_PREV_ABSENT;
	}
	/*
	 * CHECK publishes again: a no-op when the primary holds our record,
	 * a repair when someone changed it since (rotation.md §e drift).
	 */
	if ((o = do_publish(r, fqdn, value, prev, how, err, errlen)) !=
	    OUT_DONE)
		goto done;
	if (st->act == ROTATE_PUBLISH) {
		if (store_txn_set_state(t, k->id, STORE_PUBLISHED, r->now, err,
		    errlen) == -1)
			o = OUT_FAILED;
		goto done;
	}
	if (neg_ttl(r, err, errlen) == -1) {
		o = OUT_FAILED;
		goto done;
	}
	if ((o = visible(r, fqdn, value, st->act == ROTATE_CHECK ?
	    "waiting for the new key" : "waiting for the revocation", err,
	    errlen)) != OUT_DONE)
		goto done;
	o = OUT_FAILED;
	if (st->act == ROTATE_WITHDRAW) {
		if (store_txn_set_state(t, k->id, STORE_REVOKED, r->now, err,
		    errlen) == -1 || store_txn_set_key_attr(t, k->id,
		    ROTATE_ATTR_WITHDRAW, NULL, err, errlen) == -1 ||
		    (k->mapped && store_txn_set_selector(t, k->selector, NULL,
		    err, errlen) == -1))
			goto done;
		o = OUT_DONE;
		goto done;
	}
	snprintf(wait, sizeof(wait), "%llu", (unsigned long long)
	    r->next->keys[st->key].ready_wait_s);
	if (store_txn_set_state(t, k->id, STORE_VISIBLE, r->now, err,
	    errlen) == -1 || store_txn_set_key_attr(t, k->id,
	    ROTATE_ATTR_WAIT, wait, err, errlen) == -1)
		goto done;
	if (st->prev != ROTATE_NOKEY && (store_txn_set_state(t,
	    r->view->keys[st->prev].id, STORE_REVOKED, r->now, err, errlen) ==
	    -1 || store_txn_set_key_attr(t, r->view->keys[st->prev].id,
	    ROTATE_ATTR_WITHDRAW, NULL, err, errlen) == -1))
		goto done;
	o = OUT_DONE;
done:
	buf_free(prev);
	buf_free(value);
	return o;
}

/*
 * A generational name is never used again: once its key is GONE the
 * revoked record goes too, so old names do not pile up (rotation.md §c).
 * GONE, journalled, is the intent; deleting twice is harmless.
 */
static int
remove_name(struct run *r, const char *sel, char *err, size_t errlen)
{
	struct publish_rec	rec;
	struct publish_outcome	out;
	char			fqdn[FQDN_MAX];

	if (fqdn_of(r->domain, sel, fqdn, sizeof(fqdn)) == -1) {
		errmsg_set(err, errlen, "%s: selector name too long", r->domain);
		return -1;
	}
	memset(&rec, 0, sizeof(rec));
	rec.fqdn = fqdn;
	rec.ttl = (uint32_t)r->env->params->ttl_s;
	rec.prev = PUBLISH_PREV_VALUE;
	rec.prev_value = (const uint8_t *)ROTATE_REVOKED_RECORD;
	rec.prev_len = strlen(ROTATE_REVOKED_RECORD);
	memset(&out, 0, sizeof(out));
	if (publish_set(r->env->pub, &rec, &out) != PUBLISH_DONE) {
		errmsg_set(err, errlen, "%s: removing the record failed (%s): %s",
		    fqdn, publish_result_name(out.result), out.reason);
		return -1;
	}
	return 0;
}

/* Journal one step into t (and do its side effect). */
static enum outcome
journal_step(struct run *r, struct store_txn *t, const struct rotate_step *st,
    char id[KEYS_ID_LEN + 1], char *err, size_t errlen)
{
	const struct rotate_key	*k;
	const char		*kid;
	int			 rc = -1;

	if (st->act == ROTATE_GENERATE) {
		if (store_txn_generate(t, r->env->alg, r->env->bits,
		    st->selector, r->now, id, err, errlen) == -1)
			return OUT_FAILED;
		/* a key of another role must never look like a DKIM slot's */
		if (strcmp(params_role(r->env->params), STORE_ROLE_DKIM) != 0 &&
		    store_txn_set_key_attr(t, id, STORE_ATTR_ROLE,
		    params_role(r->env->params), err, errlen) == -1)
			return OUT_FAILED;
		return OUT_DONE;
	}
	k = &r->view->keys[st->key];
	kid = k->id;
	switch (st->act) {
	case ROTATE_PUBLISH_INTENT:
		rc = store_txn_set_state(t, kid, STORE_PUBLISHING, r->now, err,
		    errlen);
		break;
	case ROTATE_PUBLISH:
	case ROTATE_CHECK:
	case ROTATE_WITHDRAW:
		return dns_step(r, t, st, err, errlen);
	case ROTATE_READY:
		/* one commit: the selector and the signing set change */
		rc = store_txn_set_selector(t, k->selector, kid, err, errlen);
		if (rc == 0)
			rc = store_txn_set_state(t, kid, STORE_READY, r->now,
			    err, errlen);
		break;
	case ROTATE_ACTIVE:
		rc = store_txn_set_state(t, kid, STORE_ACTIVE, r->now, err,
		    errlen);
		break;
	case ROTATE_DRAIN:
		rc = store_txn_set_state(t, kid, STORE_DRAINING, r->now, err,
		    errlen);
		break;
	case ROTATE_WITHDRAW_INTENT:
		rc = store_txn_set_key_attr(t, kid, ROTATE_ATTR_WITHDRAW, "1",
		    err, errlen);
		break;
	case ROTATE_GONE:
		rc = store_txn_set_state(t, kid, STORE_GONE, r->now, err,
		    errlen);
		break;
	case ROTATE_DESTROY:
		if (r->env->params->strategy == ROTATE_GENERATIONAL &&
		    remove_name(r, k->selector, err, errlen) == -1)
			break;
		rc = store_txn_destroy(t, kid, r->now, err, errlen);
		break;
	case ROTATE_DISCLOSE:
		/* the name goes first: a disclosed key is never served again */
		if (r->env->params->strategy == ROTATE_GENERATIONAL &&
		    remove_name(r, k->selector, err, errlen) == -1)
			break;
		rc = store_txn_disclose(t, kid, r->env->params->disclose_dir,
		    r->now, err, errlen);
		break;
	default:
		errmsg_set(err, errlen, "%s: no such step", r->domain);
		break;
	}
	return rc == 0 ? OUT_DONE : OUT_FAILED;
}

static void
print_step(struct run *r, const struct rotate_step *st, const char *id)
{
	const struct rotate_key	*k = st->key != ROTATE_NOKEY ?
	    &r->view->keys[st->key] : NULL;

	fprintf(r->env->out, "%s%s %s %s %s\n", r->env->dry_run ? "plan: " :
	    "", r->domain, k != NULL ? k->selector : st->selector,
	    k != NULL ? k->id : id, result_words[st->act]);
}

static void
print_next(struct run *r, time_t at)
{
	char	when[TIME_LEN];

	if (at == 0)
		return;
	fmt_time(at, when);
	fprintf(r->env->out, "%s next step at %s (%lld)\n", r->domain, when,
	    (long long)at);
}

/*
 * The step, checked against the invariants on the model first: a step
 * that would break one is a bug, and is refused rather than taken.
 */
static int
vet(struct run *r, const struct rotate_step *st, char *err, size_t errlen)
{
	char	why[ERR_LEN];

	memcpy(r->next, r->view, sizeof(*r->next));
	if (rotate_apply(r->next, r->env->params, st, r->now, r->neg_known ?
	    r->neg_ttl_s : ROTATE_NEG_TTL_MAX, "new") == -1) {
		errmsg_set(err, errlen, "%s: step %s does not apply", r->domain,
		    rotate_act_name(st->act));
		return -1;
	}
	if (rotate_invariants(r->next, r->env->params, why, sizeof(why)) ==
	    -1) {
		errmsg_set(err, errlen, "%s: refusing to %s: %s", r->domain,
		    rotate_act_name(st->act), why);
		return -1;
	}
	return 0;
}

static void
hold(struct run *r)
{
	size_t	i;

	for (i = 0; i < r->view->nkeys; i++)
		r->view->keys[i].held = r->held[i];
}

/* ------------------------------------------------------------------ */
/* Publish failures: backoff and alert.                                */

/* Steps whose side effect goes to the DNS backend or servers. */
static int
is_dns_act(const struct run *r, enum rotate_act a)
{
	return a == ROTATE_PUBLISH || a == ROTATE_CHECK ||
	    a == ROTATE_WITHDRAW || ((a == ROTATE_DESTROY ||
	    a == ROTATE_DISCLOSE) &&
	    r->env->params->strategy == ROTATE_GENERATIONAL);
}

enum fail_attr {
	FA_FAILURES,
	FA_FIRST,
	FA_RETRY_AT,
	FA_LAST_ERROR,
	FA_N,
};

#define FAIL_ATTR_MAX	64

/* "publish_failures" for the DKIM keys, "publish_failures.arc" etc. */
static const char *
fail_attr(const struct run *r, enum fail_attr a, char out[FAIL_ATTR_MAX])
{
	static const char *const base[FA_N] = { ROTATE_ATTR_FAILURES,
	    ROTATE_ATTR_FIRST_FAIL, ROTATE_ATTR_RETRY_AT,
	    ROTATE_ATTR_LAST_ERROR };
	const char	*role = params_role(r->env->params);

	if (strcmp(role, STORE_ROLE_DKIM) == 0)
		snprintf(out, FAIL_ATTR_MAX, "%s", base[a]);
	else
		snprintf(out, FAIL_ATTR_MAX, "%s.%s", base[a], role);
	return out;
}

static uint64_t
fail_u64(const struct run *r, const struct store_domain *d,
    enum fail_attr a)
{
	char		name[FAIL_ATTR_MAX];
	uint64_t	v;

	if (d == NULL || parse_u64(store_domain_attr(d, fail_attr(r, a,
	    name)), &v) == -1)
		return 0;
	return v;
}

/* ROTATE_BACKOFF_BASE_S doubled per failure after the first, capped. */
static uint64_t
backoff_s(uint64_t failures)
{
	uint64_t	b = ROTATE_BACKOFF_BASE_S;

	while (failures-- > 1 && b < ROTATE_BACKOFF_MAX_S)
		b *= 2;
	return b < ROTATE_BACKOFF_MAX_S ? b : ROTATE_BACKOFF_MAX_S;
}

/* err becomes the ALERT line when the failures have gone on too long. */
static int
alert(struct run *r, uint64_t failures, time_t first, time_t retry_at,
    const char *last, char *err, size_t errlen)
{
	char	since[TIME_LEN], next[TIME_LEN];

	if (failures < ROTATE_ALERT_FAILURES &&
	    r->now - first < (time_t)ROTATE_ALERT_AFTER_S)
		return 0;
	fmt_time(first, since);
	fmt_time(retry_at, next);
	errmsg_set(err, errlen, "ALERT: %s: publishing %s keys has failed %llu "
	    "times since %s; next try after %s; last error: %s", r->domain,
	    params_role(r->env->params), (unsigned long long)failures, since,
	    next, last);
	return 1;
}

/*
 * Journal a failed DNS step (its own commit: the step's transaction was
 * aborted, so the keys' states are as before it).
 */
static enum rotate_result
record_failure(struct run *r, char *err, size_t errlen)
{
	struct store_txn	*t = NULL;
	const struct store_domain *d;
	char			 last[ERR_LEN], e2[ERR_LEN], num[24];
	char			 name[FAIL_ATTR_MAX], when[TIME_LEN];
	uint64_t		 n;
	time_t			 first, retry_at;
	size_t			 i;

	/* printable ASCII: what the journal's attrs hold */
	snprintf(last, sizeof(last), "%s", err);
	for (i = 0; last[i] != '\0'; i++)
		if ((unsigned char)last[i] < 0x20 ||
		    (unsigned char)last[i] > 0x7e)
			last[i] = '?';
	if (store_begin(r->env->st, r->domain, 0, &t, e2, sizeof(e2)) !=
	    STORE_OK)
		return ROTATE_FAILED;
	d = store_txn_domain(t);
	n = fail_u64(r, d, FA_FAILURES) + 1;
	first = n > 1 && fail_u64(r, d, FA_FIRST) != 0 ?
	    (time_t)fail_u64(r, d, FA_FIRST) : r->now;
	retry_at = r->now + (time_t)backoff_s(n);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)n);
	if (store_txn_set_domain_attr(t, fail_attr(r, FA_FAILURES, name), num,
	    e2, sizeof(e2)) == -1)
		goto fail;
	snprintf(num, sizeof(num), "%lld", (long long)first);
	if (store_txn_set_domain_attr(t, fail_attr(r, FA_FIRST, name), num,
	    e2, sizeof(e2)) == -1)
		goto fail;
	snprintf(num, sizeof(num), "%lld", (long long)retry_at);
	if (store_txn_set_domain_attr(t, fail_attr(r, FA_RETRY_AT, name), num,
	    e2, sizeof(e2)) == -1 || store_txn_set_domain_attr(t,
	    fail_attr(r, FA_LAST_ERROR, name), last, e2, sizeof(e2)) == -1)
		goto fail;
	if (store_commit(t, r->now, e2, sizeof(e2)) == -1)
		return ROTATE_FAILED;
	if (alert(r, n, first, retry_at, last, err, errlen))
		return ROTATE_ALERT;
	fmt_time(retry_at, when);
	errmsg_set(err, errlen, "%s (failure %llu; next try after %s)", last,
	    (unsigned long long)n, when);
	return ROTATE_FAILED;
fail:
	store_abort(t);
	return ROTATE_FAILED;
}

/* A DNS step went through: the failure count starts over. */
static int
clear_failures(struct run *r, struct store_txn *t, char *err, size_t errlen)
{
	char	name[FAIL_ATTR_MAX];
	int	a;

	for (a = 0; a < FA_N; a++)
		if (store_domain_attr(store_txn_domain(t), fail_attr(r, a,
		    name)) != NULL && store_txn_set_domain_attr(t, name, NULL,
		    err, errlen) == -1)
			return -1;
	return 0;
}

/* Plan on the journal as read under the lock; one step per call. */
static enum outcome
one_step(struct run *r, int *idle, char *err, size_t errlen)
{
	struct store_txn	*t = NULL;
	const struct store_domain *d;
	struct rotate_step	 st;
	enum store_status	 s;
	enum outcome		 o = OUT_FAILED;
	char			 id[KEYS_ID_LEN + 1] = "-", when[TIME_LEN];

	*idle = 0;
	s = store_begin(r->env->st, r->domain, STORE_CREATE, &t, err, errlen);
	if (s != STORE_OK)
		return OUT_FAILED;
	d = store_txn_domain(t);
	if (store_domain_last_write(d) > r->now) {
		fmt_time(store_domain_last_write(d), when);
		errmsg_set(err, errlen, "%s: the clock reads earlier than the "
		    "journal's last write (%s); refusing to run", r->domain,
		    when);
		goto done;
	}
	if (rotate_view_load_role(r->view, d, r->env->params) == -1) {
		errmsg_set(err, errlen, "%s: more than %d keys", r->domain,
		    ROTATE_KEYS_MAX);
		goto done;
	}
	hold(r);
	rotate_plan(r->view, r->env->params, r->now, &st);
	if (st.act == ROTATE_NONE) {
		print_next(r, st.at);
		*idle = 1;
		o = OUT_DONE;
		goto done;
	}
	/* backing off: no DNS traffic; the other keys' steps go on */
	if (r->backoff && is_dns_act(r, st.act)) {
		r->held[st.key] = 1;
		o = OUT_HELD;
		goto done;
	}
	/* N is part of the wait a CHECK journals */
	if (st.act == ROTATE_CHECK && neg_ttl(r, err, errlen) == -1) {
		r->dns_failed = 1;
		goto done;
	}
	if (vet(r, &st, err, errlen) == -1)
		goto done;
	if ((o = journal_step(r, t, &st, id, err, errlen)) != OUT_DONE) {
		if (o == OUT_HELD)
			r->held[st.key] = 1;
		else if (is_dns_act(r, st.act))
			r->dns_failed = 1;
		goto done;
	}
	o = OUT_FAILED;
	if (is_dns_act(r, st.act) && clear_failures(r, t, err, errlen) == -1)
		goto done;
	if (store_commit(t, r->now, err, errlen) == -1) {
		t = NULL;
		goto done;
	}
	t = NULL;
	print_step(r, &st, id);
	fflush(r->env->out);
	if (++r->env->commits == r->env->crash_after)
		abort();
	o = OUT_DONE;
done:
	store_abort(t);
	return o;
}

/* Keys whose record every authoritative server must serve as it is. */
static int
served(const struct rotate_key *k, enum rotate_strategy s)
{
	if (k->held)
		return 0;
	if (k->state >= STORE_VISIBLE && k->state <= STORE_ACTIVE)
		return 1;
	/* dual: a successor may be replacing a DRAINING key's record */
	return k->state == STORE_DRAINING && s == ROTATE_GENERATIONAL;
}

/*
 * rotation.md §e drift: a record edited or deleted behind our back is
 * put back (compare-and-swap against what the primary holds) and
 * reported as a failure, so cron mails it; the next run checks again.
 */
static enum rotate_result
drift_check(struct run *r, char *err, size_t errlen)
{
	struct store_domain	*d;
	struct buf		*value = NULL;
	const struct rotate_key	*k;
	enum rotate_result	 rc = ROTATE_FAILED;
	enum outcome		 o;
	char			 fqdn[FQDN_MAX];
	size_t			 i, drifted = 0;

	if ((d = store_domain_load(r->env->st, r->domain, err, errlen)) ==
	    NULL)
		return ROTATE_FAILED;
	if (rotate_view_load_role(r->view, d, r->env->params) == -1 ||
	    (value = buf_new(PUBLISH_VALUE_MAX)) == NULL) {
		errmsg_set(err, errlen, "%s: cannot check for drift", r->domain);
		goto done;
	}
	hold(r);
	for (i = 0; i < r->view->nkeys; i++) {
		k = &r->view->keys[i];
		if (!served(k, r->env->params->strategy))
			continue;
		buf_reset(value);
		if (fqdn_of(r->domain, k->selector, fqdn, sizeof(fqdn)) == -1 ||
		    key_record(r, k->id, value, err, errlen) == -1)
			goto done;
		if ((o = visible(r, fqdn, value, "drift", err, errlen)) ==
		    OUT_FAILED)
			goto done;
		if (o == OUT_DONE)
			continue;
		if (do_publish(r, fqdn, value, NULL, PUBLISH_PREV_UNKNOWN, err,
		    errlen) != OUT_DONE)
			goto done;
		if (drifted++ == 0)
			errmsg_set(err, errlen, "%s: not every server serves the "
			    "record of %s (%s); re-published", fqdn,
			    k->selector, k->id);
	}
	if (drifted == 0)
		rc = ROTATE_OK;
done:
	buf_free(value);
	store_domain_free(d);
	return rc;
}

/* The plan with nothing done: the model stands in for the journal. */
static enum rotate_result
dry_run(struct run *r, char *err, size_t errlen)
{
	struct store_domain	*d;
	struct rotate_step	 st;
	size_t			 n;

	if ((d = store_domain_load(r->env->st, r->domain, err, errlen)) ==
	    NULL)
		return ROTATE_FAILED;
	if (rotate_view_load_role(r->view, d, r->env->params) == -1) {
		store_domain_free(d);
		errmsg_set(err, errlen, "%s: more than %d keys", r->domain,
		    ROTATE_KEYS_MAX);
		return ROTATE_FAILED;
	}
	if (store_domain_last_write(d) > r->now) {
		store_domain_free(d);
		errmsg_set(err, errlen, "%s: the clock reads earlier than the "
		    "journal's last write; refusing to run", r->domain);
		return ROTATE_FAILED;
	}
	store_domain_free(d);
	for (n = 0; n < ROTATE_KEYS_MAX; n++) {
		rotate_plan(r->view, r->env->params, r->now, &st);
		if (st.act == ROTATE_NONE) {
			print_next(r, st.at);
			break;
		}
		print_step(r, &st, "new");
		/* what DNS will show is not known without asking it */
		if (st.act == ROTATE_CHECK || st.act == ROTATE_WITHDRAW) {
			r->view->keys[st.key].held = 1;
			continue;
		}
		if (rotate_apply(r->view, r->env->params, &st, r->now,
		    ROTATE_NEG_TTL_MAX, "new") == -1)
			break;
	}
	return ROTATE_OK;
}

/*
 * Before the run: is a failed publish's retry time still ahead?  Then
 * the run does no DNS work (its other steps go on) and says so.
 */
static int
backoff_start(struct run *r)
{
	struct store_domain	*d;
	char			 err[ERR_LEN], when[TIME_LEN];
	uint64_t		 n;
	time_t			 retry_at;

	/* no journal yet (a new domain): no failures either */
	if ((d = store_domain_load(r->env->st, r->domain, err, sizeof(err))) ==
	    NULL)
		return 0;
	n = fail_u64(r, d, FA_FAILURES);
	retry_at = (time_t)fail_u64(r, d, FA_RETRY_AT);
	store_domain_free(d);
	if (n == 0 || r->now >= retry_at)
		return 0;
	r->backoff = 1;
	fmt_time(retry_at, when);
	fprintf(r->env->out, "%s publishing %s keys failed %llu times; backing "
	    "off until %s\n", r->domain, params_role(r->env->params),
	    (unsigned long long)n, when);
	return 0;
}

/* After a run that backed off: still worth an ALERT? */
static enum rotate_result
backoff_end(struct run *r, char *err, size_t errlen)
{
	struct store_domain	*d;
	char			 name[FAIL_ATTR_MAX];
	const char		*last;
	enum rotate_result	 rc = ROTATE_OK;

	if ((d = store_domain_load(r->env->st, r->domain, err, errlen)) ==
	    NULL)
		return ROTATE_FAILED;
	last = store_domain_attr(d, fail_attr(r, FA_LAST_ERROR, name));
	if (alert(r, fail_u64(r, d, FA_FAILURES),
	    (time_t)fail_u64(r, d, FA_FIRST), (time_t)fail_u64(r, d,
	    FA_RETRY_AT), last != NULL ? last : "-", err, errlen))
		rc = ROTATE_ALERT;
	store_domain_free(d);
	return rc;
}

enum rotate_result
rotate_domain(struct rotate_env *env, const char *domain, time_t now,
    char *err, size_t errlen)
{
	struct run		 r;
	enum rotate_result	 rc = ROTATE_FAILED;
	enum outcome		 o;
	size_t			 n;
	int			 idle = 0;

	memset(&r, 0, sizeof(r));
	r.env = env;
	r.domain = domain;
	r.now = now;
	if ((r.view = calloc(1, sizeof(*r.view))) == NULL ||
	    (r.next = calloc(1, sizeof(*r.next))) == NULL) {
		errmsg_set(err, errlen, "out of memory");
		goto done;
	}
	if (env->dry_run) {
		rc = dry_run(&r, err, errlen);
		goto done;
	}
	if (backoff_start(&r) == -1) {
		errmsg_set(err, errlen, "out of memory");
		goto done;
	}
	/* every step changes a state or removes a key: the loop ends */
	for (n = 0; n < 4 * ROTATE_KEYS_MAX * STORE_NSTATES && !idle; n++) {
		o = one_step(&r, &idle, err, errlen);
		if (o == OUT_FAILED) {
			if (r.dns_failed)
				rc = record_failure(&r, err, errlen);
			goto done;
		}
	}
	if (r.backoff)
		rc = backoff_end(&r, err, errlen);
	else
		rc = drift_check(&r, err, errlen);
done:
	free(r.next);
	free(r.view);
	return rc;
}

enum rotate_result
rotate_revoke(struct rotate_env *env, const char *domain,
    const char *selector, int compromised, time_t now, char *err,
    size_t errlen)
{
	struct store_txn	*t = NULL;
	const struct store_key	*k;
	enum store_state	 s;
	char			 id[KEYS_ID_LEN + 1];
	int			 rc;

	if (store_begin(env->st, domain, 0, &t, err, errlen) != STORE_OK)
		return ROTATE_FAILED;
	if (store_domain_last_write(store_txn_domain(t)) > now) {
		errmsg_set(err, errlen, "%s: the clock reads earlier than the "
		    "journal's last write; refusing to run", domain);
		goto fail;
	}
	k = store_domain_selector_key(store_txn_domain(t), selector);
	if (k == NULL) {
		errmsg_set(err, errlen, "%s: no key at selector %s", domain,
		    selector);
		goto fail;
	}
	snprintf(id, sizeof(id), "%s", store_key_id(k));
	s = store_key_state(k);
	if (s >= STORE_REVOKED && s != STORE_COMPROMISED) {
		errmsg_set(err, errlen, "%s: %s (%s) is already %s", domain,
		    selector, id, store_state_name(s));
		goto fail;
	}
	if (compromised)
		rc = s == STORE_COMPROMISED ? 0 : store_txn_set_state(t, id,
		    STORE_COMPROMISED, now, err, errlen);
	else if (s != STORE_ACTIVE && s != STORE_READY) {
		errmsg_set(err, errlen, "%s: %s (%s) is %s, not signing; use "
		    "--compromised to withdraw it at once", domain, selector,
		    id, store_state_name(s));
		goto fail;
	} else
		rc = store_txn_set_key_attr(t, id, ROTATE_ATTR_RETIRE, "1",
		    err, errlen);
	if (rc == -1)
		goto fail;
	if (env->dry_run) {
		store_abort(t);
		fprintf(env->out, "plan: %s %s %s %s\n", domain, selector, id,
		    compromised ? "COMPROMISED" : "RETIRING");
		return ROTATE_OK;
	}
	if (store_commit(t, now, err, errlen) == -1)
		return ROTATE_FAILED;
	fprintf(env->out, "%s %s %s %s\n", domain, selector, id,
	    compromised ? "COMPROMISED" : "RETIRING");
	fflush(env->out);
	if (++env->commits == env->crash_after)
		abort();
	return rotate_domain(env, domain, now, err, errlen);
fail:
	store_abort(t);
	return ROTATE_FAILED;
}

enum store_status
rotate_lock(struct store *st, int wait, int *fd, char *err, size_t errlen)
{
	char	path[PATH_MAX];
	int	n, r;

	*fd = -1;
	n = snprintf(path, sizeof(path), "%s/%s", store_path(st),
	    ROTATE_LOCK);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		errmsg_set(err, errlen, "%s: path too long", store_path(st));
		return STORE_FAIL;
	}
	if ((*fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0600)) == -1) {
		errmsg_set(err, errlen, "%s: %s", path, strerror(errno));
		return STORE_FAIL;
	}
	do {
		r = flock(*fd, LOCK_EX | (wait ? 0 : LOCK_NB));
	} while (r == -1 && errno == EINTR);
	if (r == 0)
		return STORE_OK;
	if (errno == EWOULDBLOCK)
		errmsg_set(err, errlen, "another rotation run holds %s", path);
	else
		errmsg_set(err, errlen, "%s: %s", path, strerror(errno));
	close(*fd);
	*fd = -1;
	return errno == EWOULDBLOCK ? STORE_BUSY : STORE_FAIL;
}

void
rotate_unlock(int fd)
{
	if (fd != -1)
		close(fd);
}
