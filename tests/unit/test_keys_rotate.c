/*
 * test_keys_rotate — the rotation planner (keys/rotate.h) on a simulated
 * clock against a model DNS, for both strategies (design/rotation.md §b,
 * §e "Oracle test").
 *
 * Each scenario runs a simulated year and more: every tick the planner's
 * due steps are taken (publishing through a model primary whose changes
 * reach every server P seconds later, with injected publish failures),
 * the invariants are checked after every step, and one message is
 * "signed" per tick with every signing set a proxy may still hold (sets
 * of the last R seconds).  At the end each message is judged against the
 * DNS history: a signature verifies for every resolver over [t, t + M]
 * only if every server held exactly its key over [t - max(TTL, N), t + M]
 * (a resolver may answer from a cache that old).  Promise 3: at least one
 * signature of every message verifies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys/rotate.h"
#include "keys/store.h"
#include "tests/unit/t.h"

#define TICK		300
#define SIM_DAYS	400
#define NAMES_MAX	512
#define HIST_MAX	256
#define SETS_MAX	4096
#define SIGS_MAX	4
#define T_START		1767225600	/* 2026-01-01T00:00:00Z */

/* The model DNS: each name's values in time, as the primary took them. */
struct name_hist {
	char	name[ROTATE_SELECTOR_MAX + 1];
	size_t	n;
	time_t	at[HIST_MAX];
	/* "-": the revoked record */
	char	val[HIST_MAX][KEYS_ID_LEN + 1];
};

struct sig {
	char	name[ROTATE_SELECTOR_MAX + 1];
	char	key[KEYS_ID_LEN + 1];
};

struct sigset {
	time_t		from;
	size_t		n;
	struct sig	s[SIGS_MAX];
};

struct world {
	struct name_hist	names[NAMES_MAX];
	size_t			nnames;
	struct sigset		sets[SETS_MAX];
	size_t			nsets;
	unsigned		keyno;
};

struct scenario {
	const char		*name;
	enum rotate_strategy	 strategy;
	uint64_t		 period_s, m, r, s, ttl, neg, p;
	/* publishes fail in [fail_from, fail_to) days after the start */
	int			 fail_from, fail_to;
	/* day on which s1's (or the current) key is found compromised */
	int			 compromise_day;
	/* rotation.disclose: GONE keys are DISCLOSED, not destroyed */
	int			 disclose;
};

static const struct scenario scenarios[] = {
	{ "dual 90d, defaults", ROTATE_DUAL, 90 * ROTATE_DAY,
	  5 * ROTATE_DAY, 60, 120, 3600, 600, 0, 0, 0, 0 },
	{ "dual 30d, slow propagation, publish outage", ROTATE_DUAL,
	  30 * ROTATE_DAY, 5 * ROTATE_DAY, 60, 120, 3600, 600,
	  2 * ROTATE_HOUR, 40, 44, 0 },
	{ "dual 7d: faster than a two-slot cycle", ROTATE_DUAL,
	  7 * ROTATE_DAY, 5 * ROTATE_DAY, 300, 299, 86400, 10800,
	  ROTATE_HOUR, 0, 0, 0 },
	{ "dual 30d, s1 compromised", ROTATE_DUAL, 30 * ROTATE_DAY,
	  88 * ROTATE_HOUR, 60, 120, 3600, 600, 600, 0, 0, 100 },
	{ "generational 30d", ROTATE_GENERATIONAL, 30 * ROTATE_DAY,
	  5 * ROTATE_DAY, 60, 120, 3600, 600, 1800, 0, 0, 0 },
	{ "generational 1d, long TTL, outage", ROTATE_GENERATIONAL,
	  ROTATE_DAY, 3 * ROTATE_DAY, 600, 60, 86400, 3600, ROTATE_HOUR,
	  10, 13, 0 },
	{ "generational 30d, disclosed", ROTATE_GENERATIONAL,
	  30 * ROTATE_DAY, 5 * ROTATE_DAY, 60, 120, 3600, 600, 1800, 0, 0,
	  0, 1 },
	{ "dual 30d, s1 compromised, disclosed", ROTATE_DUAL,
	  30 * ROTATE_DAY, 88 * ROTATE_HOUR, 60, 120, 3600, 600, 600, 0, 0,
	  100, 1 },
};

static struct name_hist *
name_get(struct world *w, const char *name)
{
	size_t	i;

	for (i = 0; i < w->nnames; i++)
		if (strcmp(w->names[i].name, name) == 0)
			return &w->names[i];
	if (w->nnames == NAMES_MAX)
		return NULL;
	snprintf(w->names[w->nnames].name, sizeof(w->names[0].name), "%s",
	    name);
	return &w->names[w->nnames++];
}

static const char *
name_now(const struct name_hist *h)
{
	return h->n == 0 ? "" : h->val[h->n - 1];
}

/* "Make it so": only a change of value is a new entry. */
static int
publish(struct world *w, const char *name, const char *val, time_t now)
{
	struct name_hist	*h;

	if ((h = name_get(w, name)) == NULL)
		return -1;
	if (strcmp(name_now(h), val) == 0)
		return 0;
	if (h->n == HIST_MAX)
		return -1;
	h->at[h->n] = now;
	snprintf(h->val[h->n], sizeof(h->val[0]), "%s", val);
	h->n++;
	return 0;
}

/* Every server shows val: the primary has it, and for P already. */
static int
visible(struct world *w, const char *name, const char *val, time_t now,
    uint64_t p)
{
	struct name_hist	*h = name_get(w, name);

	return h != NULL && h->n > 0 && strcmp(name_now(h), val) == 0 &&
	    now >= h->at[h->n - 1] + (time_t)p;
}

/* Every server held val over all of [from, to]. */
static int
held_over(const struct world *w, const char *name, const char *val,
    time_t from, time_t to, uint64_t p)
{
	const struct name_hist	*h = NULL;
	size_t			 i;

	for (i = 0; i < w->nnames; i++)
		if (strcmp(w->names[i].name, name) == 0)
			h = &w->names[i];
	if (h == NULL)
		return 0;
	for (i = 0; i < h->n; i++) {
		if (strcmp(h->val[i], val) != 0)
			continue;
		if (h->at[i] + (time_t)p <= from &&
		    (i + 1 == h->n || h->at[i + 1] > to))
			return 1;
	}
	return 0;
}

static void
record_set(struct world *w, const struct rotate_view *v, time_t now)
{
	struct sigset	 cur;
	size_t		 i;

	memset(&cur, 0, sizeof(cur));
	cur.from = now;
	for (i = 0; i < v->nkeys && cur.n < SIGS_MAX; i++) {
		if (!v->keys[i].mapped || (v->keys[i].state != STORE_READY &&
		    v->keys[i].state != STORE_ACTIVE))
			continue;
		snprintf(cur.s[cur.n].name, sizeof(cur.s[0].name), "%s",
		    v->keys[i].selector);
		snprintf(cur.s[cur.n].key, sizeof(cur.s[0].key), "%s",
		    v->keys[i].id);
		cur.n++;
	}
	if (w->nsets > 0) {
		const struct sigset *last = &w->sets[w->nsets - 1];

		if (last->n == cur.n && memcmp(last->s, cur.s,
		    cur.n * sizeof(cur.s[0])) == 0)
			return;
	}
	if (w->nsets < SETS_MAX)
		w->sets[w->nsets++] = cur;
}

/* Some signature of a message signed with set at t verifies until t+M. */
static int
message_ok(const struct world *w, const struct scenario *sc,
    const struct sigset *set, time_t t)
{
	uint64_t	cache = sc->ttl > sc->neg ? sc->ttl : sc->neg;
	size_t		i;

	for (i = 0; i < set->n; i++)
		if (held_over(w, set->s[i].name, set->s[i].key,
		    t - (time_t)cache, t + (time_t)sc->m, sc->p))
			return 1;
	return 0;
}

struct outcome {
	unsigned long	steps, violations, messages, stranded;
	unsigned long	unsigned_msgs, rotations;
	/* keys disclosed; of them, disclosed while DNS still served them */
	unsigned long	disclosed, disclosed_served;
	char		first[512];
};

static int
take_step(struct world *w, const struct scenario *sc,
    const struct rotate_params *p, struct rotate_view *v,
    const struct rotate_step *st, time_t now, int failing,
    struct outcome *o)
{
	struct rotate_key	*k = st->key != ROTATE_NOKEY ?
	    &v->keys[st->key] : NULL;
	char			 id[KEYS_ID_LEN + 1];

	switch (st->act) {
	case ROTATE_GENERATE:
		snprintf(id, sizeof(id), "%016x", ++w->keyno);
		return rotate_apply(v, p, st, now, sc->neg, id);
	case ROTATE_PUBLISH:
		if (failing)
			return 1;
		if (publish(w, k->selector, k->id, now) == -1)
			return -1;
		break;
	case ROTATE_CHECK:
		if (!visible(w, k->selector, k->id, now, sc->p)) {
			k->held = 1;
			return 0;
		}
		break;
	case ROTATE_WITHDRAW:
		if (failing)
			return 1;
		if (publish(w, k->selector, "-", now) == -1)
			return -1;
		if (!visible(w, k->selector, "-", now, sc->p)) {
			k->held = 1;
			return 0;
		}
		break;
	case ROTATE_DISCLOSE:
		/* I4: no server may still hand out the key's record */
		o->disclosed++;
		if (name_get(w, k->selector) == NULL)
			return -1;
		if (strcmp(name_now(name_get(w, k->selector)), k->id) == 0 ||
		    !visible(w, k->selector, name_now(name_get(w,
		    k->selector)), now, sc->p))
			o->disclosed_served++;
		break;
	default:
		break;
	}
	return rotate_apply(v, p, st, now, sc->neg, NULL);
}

static void
compromise(struct rotate_view *v, const char *sel, time_t now)
{
	size_t	i;

	for (i = 0; i < v->nkeys; i++)
		if (v->keys[i].mapped &&
		    strcmp(v->keys[i].selector, sel) == 0 &&
		    v->keys[i].state == STORE_ACTIVE) {
			v->keys[i].state = STORE_COMPROMISED;
			v->keys[i].entered[STORE_COMPROMISED] = now;
		}
}

static void
simulate(const struct scenario *sc, struct world *w, struct outcome *o)
{
	struct rotate_params	 p;
	struct rotate_view	*v;
	struct rotate_step	 st;
	char			 why[256];
	time_t			 now, t0 = T_START;
	size_t			 i, guard;
	int			 failing, r;

	memset(o, 0, sizeof(*o));
	memset(&p, 0, sizeof(p));
	p.strategy = sc->strategy;
	p.period_s = sc->period_s;
	p.max_transit_s = sc->m;
	p.reload_bound_s = sc->r;
	p.skew_s = sc->s;
	p.ttl_s = sc->ttl;
	p.selectors[0] = sc->strategy == ROTATE_DUAL ? "s1" : "gen";
	p.selectors[1] = "s2";
	p.disclose_dir = sc->disclose ? "/nonexistent" : NULL;
	if ((v = calloc(1, sizeof(*v))) == NULL)
		abort();
	for (now = t0; now < t0 + SIM_DAYS * ROTATE_DAY; now += TICK) {
		failing = now >= t0 + sc->fail_from * ROTATE_DAY &&
		    now < t0 + sc->fail_to * ROTATE_DAY;
		if (sc->compromise_day != 0 &&
		    now == t0 + sc->compromise_day * ROTATE_DAY)
			compromise(v, p.selectors[0], now);
		for (guard = 0; guard < 64; guard++) {
			rotate_plan(v, &p, now, &st);
			if (st.act == ROTATE_NONE)
				break;
			if (st.act == ROTATE_DRAIN)
				o->rotations++;
			if ((r = take_step(w, sc, &p, v, &st, now, failing,
			    o)) == 1)
				break;
			o->steps++;
			if (r == -1 || rotate_invariants(v, &p, why,
			    sizeof(why)) == -1) {
				if (o->violations++ == 0)
					snprintf(o->first, sizeof(o->first),
					    "%s at +%llds", r == -1 ?
					    "model overflow" : why,
					    (long long)(now - t0));
			}
		}
		for (i = 0; i < v->nkeys; i++)
			v->keys[i].held = 0;
		record_set(w, v, now);
	}
	free(v);
}

/* Judge one message per tick against every set a proxy may hold. */
static void
judge(const struct scenario *sc, const struct world *w, struct outcome *o)
{
	time_t	now, t0 = T_START, end = t0 + SIM_DAYS * ROTATE_DAY;
	size_t	i, j = 0;

	for (now = t0; now < end - (time_t)sc->m - 2 * ROTATE_DAY;
	    now += TICK) {
		while (j + 1 < w->nsets && w->sets[j + 1].from <= now)
			j++;
		if (w->sets[j].n == 0) {
			o->unsigned_msgs++;
			continue;
		}
		/* sets from (now - R, now], and the one in force at now - R */
		for (i = j + 1; i-- > 0;) {
			if (w->sets[i].n > 0) {
				o->messages++;
				if (!message_ok(w, sc, &w->sets[i], now))
					o->stranded++;
			}
			if (w->sets[i].from <= now - (time_t)sc->r)
				break;
		}
	}
}

static void
test_scenarios(void)
{
	struct world	*w;
	struct outcome	 o;
	size_t		 i;

	for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
		if ((w = calloc(1, sizeof(*w))) == NULL)
			abort();
		simulate(&scenarios[i], w, &o);
		judge(&scenarios[i], w, &o);
		T_OK(o.violations == 0, "%s: invariants hold at each of %lu "
		    "steps%s%s", scenarios[i].name, o.steps,
		    o.violations ? ": " : "", o.first);
		T_OK(o.rotations >= 2, "%s: keys rotated (%lu)",
		    scenarios[i].name, o.rotations);
		T_OK(o.messages > 0 && o.stranded == 0, "%s: every message "
		    "keeps a verifying signature (%lu of %lu stranded)",
		    scenarios[i].name, o.stranded, o.messages);
		if (scenarios[i].disclose)
			T_OK(o.disclosed >= 2 && o.disclosed_served == 0,
			    "%s: %lu keys disclosed, none while served (%lu)",
			    scenarios[i].name, o.disclosed,
			    o.disclosed_served);
		else
			T_OK(o.disclosed == 0, "%s: nothing disclosed",
			    scenarios[i].name);
		free(w);
	}
}

/* Exact timing: a step is due at its instant, not one second before. */
static void
test_timing(void)
{
	struct rotate_params	 p;
	struct rotate_view	*v;
	struct rotate_step	 st;
	time_t			 t0 = T_START, vis;
	const uint64_t		 n = 600;

	memset(&p, 0, sizeof(p));
	p.strategy = ROTATE_DUAL;
	p.period_s = 90 * ROTATE_DAY;
	p.max_transit_s = 88 * ROTATE_HOUR;
	p.reload_bound_s = 60;
	p.skew_s = 120;
	p.ttl_s = 3600;
	p.selectors[0] = "s1";
	p.selectors[1] = "s2";
	if ((v = calloc(1, sizeof(*v))) == NULL)
		abort();
	/* bring both slots to VISIBLE at t0 */
	for (;;) {
		rotate_plan(v, &p, t0, &st);
		if (st.act == ROTATE_NONE)
			break;
		rotate_apply(v, &p, &st, t0, n, st.act == ROTATE_GENERATE ?
		    (v->nkeys == 0 ? "aaaaaaaaaaaaaaaa" : "bbbbbbbbbbbbbbbb") :
		    NULL);
	}
	vis = t0;
	T_EQ_INT(v->keys[0].state, STORE_VISIBLE, "bootstrap reaches VISIBLE");
	T_EQ_INT(st.at, vis + 3600 + 120, "READY due at t_vis + max(TTL, N)"
	    " + S");
	rotate_plan(v, &p, vis + 3600 + 119, &st);
	T_EQ_INT(st.act, ROTATE_NONE, "not READY a second early");
	rotate_plan(v, &p, vis + 3600 + 120, &st);
	T_EQ_INT(st.act, ROTATE_READY, "READY on time");
	T_EQ_INT(v->keys[0].ready_wait_s, 3720, "journalled wait");
	/* N larger than the TTL wins (RFC 2308 negative caching) */
	{
		struct rotate_view	*w2 = calloc(1, sizeof(*w2));
		struct rotate_step	 c = { ROTATE_CHECK, 0, ROTATE_NOKEY,
					      "", 0 };

		if (w2 == NULL)
			abort();
		w2->nkeys = 1;
		w2->keys[0] = v->keys[0];
		w2->keys[0].state = STORE_PUBLISHED;
		rotate_apply(w2, &p, &c, vis, 7200, NULL);
		T_EQ_INT(w2->keys[0].ready_wait_s, 7200 + 120,
		    "wait uses N when N > TTL");
		free(w2);
	}
	free(v);
	/* rotation.md §e: dkim-rotate 0.4's 3500 s "hours" gave 85.6 h */
	T_EQ_INT(88 * ROTATE_HOUR, 316800, "88 h are 316800 s");
	T_EQ_INT(ROTATE_DAY, 86400, "a day is 86400 s");
	T_EQ_INT(ROTATE_STALE_S, 3 * 86400, "RFC 8767 stale bound, 3 days");
}

/* I5 by hand: s1 may leave only once s2 has been ACTIVE M + R + S. */
static void
test_i5_guard(void)
{
	struct rotate_params	 p;
	struct rotate_view	*v;
	struct rotate_step	 st;
	char			 why[256];
	time_t			 t0 = T_START, s2_active = T_START + 1000;
	const uint64_t		 guard = 5 * ROTATE_DAY + 60 + 120;
	size_t			 i;

	memset(&p, 0, sizeof(p));
	p.strategy = ROTATE_DUAL;
	p.period_s = 30 * ROTATE_DAY;
	p.max_transit_s = 5 * ROTATE_DAY;
	p.reload_bound_s = 60;
	p.skew_s = 120;
	p.ttl_s = 3600;
	p.selectors[0] = "s1";
	p.selectors[1] = "s2";
	if ((v = calloc(1, sizeof(*v))) == NULL)
		abort();
	v->nkeys = 2;
	for (i = 0; i < 2; i++) {
		snprintf(v->keys[i].id, sizeof(v->keys[i].id), "%016zx", i + 1);
		snprintf(v->keys[i].selector, sizeof(v->keys[i].selector),
		    "s%zu", i + 1);
		v->keys[i].state = STORE_ACTIVE;
		v->keys[i].mapped = 1;
		v->keys[i].entered[STORE_GENERATED] = t0 - 40 * ROTATE_DAY;
		v->keys[i].entered[STORE_ACTIVE] = t0 - 40 * ROTATE_DAY;
	}
	/* s2 is a fresh key: not due, while s1 is */
	v->keys[1].entered[STORE_GENERATED] = s2_active - 600;
	v->keys[1].entered[STORE_ACTIVE] = s2_active;
	rotate_plan(v, &p, s2_active + (time_t)guard - 1, &st);
	T_EQ_INT(st.act, ROTATE_NONE, "s1 held while s2 is young");
	T_EQ_INT(st.at, s2_active + (time_t)guard, "wakes at M + R + S");
	rotate_plan(v, &p, s2_active + (time_t)guard, &st);
	T_EQ_INT(st.act, ROTATE_DRAIN, "s1 drains on time");
	T_EQ_INT(st.key, 0, "and it is s1");
	/* a hand-made early drain is caught */
	v->keys[0].state = STORE_DRAINING;
	v->keys[0].entered[STORE_DRAINING] = s2_active + 10;
	T_EQ_INT(rotate_invariants(v, &p, why, sizeof(why)), -1,
	    "I5 violation detected");
	T_OK(strstr(why, "I5") != NULL, "reason names I5: %s", why);
	/* and both slots out at once */
	v->keys[0].entered[STORE_DRAINING] = s2_active + (time_t)guard;
	v->keys[1].state = STORE_DRAINING;
	v->keys[1].entered[STORE_DRAINING] = s2_active + (time_t)guard;
	T_EQ_INT(rotate_invariants(v, &p, why, sizeof(why)), -1,
	    "two slots out detected");
	free(v);
}

static void
test_gen_selector(void)
{
	static const struct {
		time_t		 now;
		const char	*taken;
		const char	*want;
	} cases[] = {
		{ 1767225600, NULL, "gen-20260101" },
		{ 1767225600 + 86399, NULL, "gen-20260101" },
		{ 1767225600 + 86400, NULL, "gen-20260102" },
		{ 1767225600, "gen-20260101", "gen-20260101-2" },
		{ 951782400, NULL, "gen-20000229" },
	};
	struct rotate_view	*v;
	char			 out[ROTATE_SELECTOR_MAX + 1];
	size_t			 i;

	if ((v = calloc(1, sizeof(*v))) == NULL)
		abort();
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(v, 0, sizeof(*v));
		if (cases[i].taken != NULL) {
			v->nkeys = 1;
			snprintf(v->keys[0].selector,
			    sizeof(v->keys[0].selector), "%s", cases[i].taken);
			v->keys[0].state = STORE_DESTROYED;
		}
		T_EQ_INT(rotate_gen_selector(v, "gen", cases[i].now, out,
		    sizeof(out)), 0, cases[i].want);
		T_EQ_STR(out, cases[i].want, cases[i].want);
	}
	free(v);
}

/*
 * Roles (store.h): one journal holding DKIM slots, the ARC key made by
 * `keys init` (no role attr), a generational ARC key and an Ed25519 key;
 * each rotation sees only its own.
 */
static const char roles_journal[] =
    "version: 1\n"
    "domain: example.com\n"
    "generation: 3\n"
    "last_write: 2026-01-02T00:00:00Z\n"
    "selectors:\n"
    "  s1: 0000000000000001\n"
    "  arc1: 0000000000000002\n"
    "  arc1-20260101: 0000000000000003\n"
    "  ed25519-20260101: 0000000000000004\n"
    "keys:\n"
    "  - id: 0000000000000001\n"
    "    algorithm: rsa\n    bits: 2048\n    selector: s1\n"
    "    state: ACTIVE\n"
    "    entered: { GENERATED: 2026-01-01T00:00:00Z, "
    "ACTIVE: 2026-01-01T00:00:00Z }\n"
    "    attrs: {}\n"
    "  - id: 0000000000000002\n"
    "    algorithm: rsa\n    bits: 2048\n    selector: arc1\n"
    "    state: ACTIVE\n"
    "    entered: { GENERATED: 2026-01-01T00:00:00Z, "
    "ACTIVE: 2026-01-01T00:00:00Z }\n"
    "    attrs: {}\n"
    "  - id: 0000000000000003\n"
    "    algorithm: rsa\n    bits: 2048\n    selector: arc1-20260101\n"
    "    state: READY\n"
    "    entered: { GENERATED: 2026-01-01T00:00:00Z, "
    "VISIBLE: 2026-01-01T00:00:00Z, READY: 2026-01-01T01:00:00Z }\n"
    "    attrs: { role: arc, ready_wait: \"3600\" }\n"
    "  - id: 0000000000000004\n"
    "    algorithm: ed25519\n    bits: 256\n"
    "    selector: ed25519-20260101\n"
    "    state: VISIBLE\n"
    "    entered: { GENERATED: 2026-01-01T00:00:00Z, "
    "VISIBLE: 2026-01-01T00:00:00Z }\n"
    "    attrs: { role: ed25519, ready_wait: \"3600\" }\n"
    "attrs: {}\n";

static void
test_roles(void)
{
	static const struct {
		const char	*role;
		const char	*arc_selector;
		size_t		 nkeys;
		const char	*first;
	} cases[] = {
		{ NULL, "arc1", 1, "s1" },
		{ STORE_ROLE_DKIM, "arc1", 1, "s1" },
		{ STORE_ROLE_ARC, "arc1", 2, "arc1" },
		{ STORE_ROLE_ED25519, "arc1", 1, "ed25519-20260101" },
		/* arc not configured: the keys-init ARC key is not claimed */
		{ STORE_ROLE_DKIM, NULL, 2, "s1" },
	};
	struct store_domain	*d;
	struct rotate_params	 p;
	struct rotate_view	*v;
	enum rotate_act		 act;
	char			 err[256];
	time_t			 at;
	size_t			 i;

	d = store_domain_parse(roles_journal, sizeof(roles_journal) - 1,
	    "roles.yaml", "example.com", err, sizeof(err));
	if (!T_OK(d != NULL, "roles journal parses: %s", d ? "" : err))
		return;
	if ((v = calloc(1, sizeof(*v))) == NULL)
		abort();
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&p, 0, sizeof(p));
		p.role = cases[i].role;
		p.arc_selector = cases[i].arc_selector;
		T_EQ_INT(rotate_view_load_role(v, d, &p), 0, "view loads");
		T_OK(v->nkeys == cases[i].nkeys, "%s (arc %s): %zu keys",
		    cases[i].role ? cases[i].role : "NULL",
		    cases[i].arc_selector ? cases[i].arc_selector : "off",
		    v->nkeys);
		T_EQ_STR(v->keys[0].selector, cases[i].first, "first key");
	}
	/* keys list's NEXT column: READY -> ACTIVE R later */
	memset(&p, 0, sizeof(p));
	p.strategy = ROTATE_GENERATIONAL;
	p.role = STORE_ROLE_ARC;
	p.arc_selector = "arc1";
	p.period_s = 30 * ROTATE_DAY;
	p.reload_bound_s = 60;
	p.selectors[0] = "arc1";
	rotate_view_load_role(v, d, &p);
	rotate_key_next(v, &p, 1, T_START, &act, &at);
	T_EQ_INT(act, ROTATE_ACTIVE, "READY key: next is active");
	T_EQ_INT(at, T_START + 3600 + 60, "at READY + R");
	rotate_key_next(v, &p, 0, T_START, &act, &at);
	T_EQ_INT(act, ROTATE_DRAIN, "ACTIVE key: next is drain");
	T_EQ_INT(at, T_START + 30 * ROTATE_DAY, "at GENERATED + period");
	p.role = STORE_ROLE_ED25519;
	rotate_view_load_role(v, d, &p);
	rotate_key_next(v, &p, 0, T_START, &act, &at);
	T_EQ_INT(act, ROTATE_READY, "VISIBLE key: next is ready");
	T_EQ_INT(at, T_START + 3600, "at VISIBLE + ready_wait");
	free(v);
	store_domain_free(d);
}

/* A GONE key: destroyed, or with rotation.disclose, disclosed. */
static void
test_disclose_plan(void)
{
	struct rotate_params	 p;
	struct rotate_view	*v;
	struct rotate_step	 st;
	char			 why[256];

	memset(&p, 0, sizeof(p));
	p.strategy = ROTATE_GENERATIONAL;
	p.period_s = 30 * ROTATE_DAY;
	p.selectors[0] = "gen";
	if ((v = calloc(1, sizeof(*v))) == NULL)
		abort();
	v->nkeys = 1;
	snprintf(v->keys[0].id, sizeof(v->keys[0].id), "00000000000000aa");
	snprintf(v->keys[0].selector, sizeof(v->keys[0].selector),
	    "gen-20260101");
	v->keys[0].state = STORE_GONE;
	v->keys[0].entered[STORE_GONE] = T_START;
	rotate_plan(v, &p, T_START, &st);
	T_EQ_INT(st.act, ROTATE_DESTROY, "default: destroyed");
	p.disclose_dir = "/srv/disclosed";
	rotate_plan(v, &p, T_START, &st);
	T_EQ_INT(st.act, ROTATE_DISCLOSE, "disclose: disclosed");
	T_EQ_INT(rotate_apply(v, &p, &st, T_START, 600, NULL), 0, "applies");
	T_EQ_INT(v->keys[0].state, STORE_DISCLOSED, "state DISCLOSED");
	T_EQ_INT(rotate_invariants(v, &p, why, sizeof(why)), 0, "I4 holds");
	/* I4: a key still mapped could be served again: never disclosed */
	v->keys[0].state = STORE_GONE;
	v->keys[0].mapped = 1;
	rotate_plan(v, &p, T_START, &st);
	T_OK(st.act != ROTATE_DISCLOSE, "mapped GONE key kept (%s)",
	    rotate_act_name(st.act));
	/* and disclosing before GONE is caught */
	v->keys[0].mapped = 0;
	v->keys[0].state = STORE_DISCLOSED;
	v->keys[0].entered[STORE_GONE] = 0;
	v->keys[0].entered[STORE_DISCLOSED] = T_START;
	T_EQ_INT(rotate_invariants(v, &p, why, sizeof(why)), -1,
	    "I4 violation detected");
	free(v);
}

int
main(void)
{
	test_roles();
	test_disclose_plan();
	test_timing();
	test_i5_guard();
	test_gen_selector();
	test_scenarios();
	return t_done();
}
