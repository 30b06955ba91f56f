/*
 * rotate — the key rotation state machine of design/rotation.md §b, for
 * the two strategies of §c: fixed dual selectors (s1/s2 take turns) and
 * generational names (<prefix>-<yyyymmdd>, make before break).
 *
 * Two layers:
 *  - a pure planner: rotate_plan() reads a model of one domain's journal
 *    (struct rotate_view) and a time, and names the one step that is due
 *    next, or when the next one will be.  rotate_apply() is the same
 *    step on the model (dry runs, tests), rotate_invariants() checks
 *    I1-I5 on a model.  No I/O, no clock: the caller passes the time.
 *  - a driver: rotate_domain() runs the due steps against the key store,
 *    the DNS backend (publish) and the authoritative servers (dnscheck),
 *    one store transaction per step.  A step's intent is journalled
 *    before its side effect, and every side effect means "make it so",
 *    so a crash anywhere followed by a rerun ends where a clean run ends.
 *
 * Timing (rotation.md §b; M, R, S, TTL, N as there): a key is READY at
 * t_vis + max(TTL, N) + S and ACTIVE R after it entered the signing set;
 * a record is replaced no sooner than R after its key left the signing
 * set (dual) or R + M + S (generational, I2); a revoked key is GONE at
 * t_rev + TTL + ROTATE_STALE_S, and then DESTROYED (a generational name
 * is removed from the zone at that point).  signetd learns of every
 * change through the store's generation; the driver never waits for it,
 * it counts R.  After the due steps, every record that must be served is
 * checked on every authoritative server; drift is repaired and reported
 * as a failure (rotation.md §e).
 *
 * Single signatures (rotation.md §b "ARC cannot use I5"): ARC keys and
 * the extra Ed25519 keys rotate in their own role (params.role) with the
 * generational strategy, make before break, whatever the DKIM strategy.
 */
#ifndef SIGNET_KEYS_ROTATE_H
#define SIGNET_KEYS_ROTATE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "keys/dnscheck.h"
#include "keys/signer.h"
#include "keys/store.h"

struct publish;

#define ROTATE_MINUTE		60
#define ROTATE_HOUR		(60 * ROTATE_MINUTE)
#define ROTATE_DAY		(24 * ROTATE_HOUR)
/*
 * RFC 8767 5: a resolver may serve an expired answer for 1 to 3 days
 * ("max-stale-ttl"); a revoked key is GONE only after the longest.
 */
#define ROTATE_STALE_S		(3 * ROTATE_DAY)
/*
 * RFC 2308 5 suggests negative caching of 1 to 3 hours; used for N when
 * the zone's SOA cannot be read.
 */
#define ROTATE_NEG_TTL_MAX	(3 * ROTATE_HOUR)
/* Keys of one domain the planner holds (a 30-day rotation: 40 years). */
#define ROTATE_KEYS_MAX		512
/* Long enough for any selector the store accepts. */
#define ROTATE_SELECTOR_MAX	128
/* Selector slots of the dual-selector strategy. */
#define ROTATE_SLOTS		2
/* "v=DKIM1; p=": a revoked key (RFC 6376 3.6.1, empty p=). */
#define ROTATE_REVOKED_RECORD	"v=DKIM1; p="
/*
 * Key attributes in the journal: the READY wait max(TTL, N) + S fixed at
 * t_vis; "signetctl revoke asked to retire it"; "p=" is about to replace
 * its record.
 */
#define ROTATE_ATTR_WAIT	"ready_wait"
#define ROTATE_ATTR_RETIRE	"retire"
#define ROTATE_ATTR_WITHDRAW	"withdraw"
/*
 * Publish failures (domain attrs, one set per role: "<name>.<role>"):
 * how many in a row, the first one's time, when to retry, the last
 * reason.  A retry waits ROTATE_BACKOFF_BASE_S, doubling per failure up
 * to ROTATE_BACKOFF_MAX_S, so a broken DNS server is not hammered by
 * every cron run; after ROTATE_ALERT_FAILURES failures or
 * ROTATE_ALERT_AFTER_S since the first, each run says ALERT.
 */
#define ROTATE_ATTR_FAILURES	"publish_failures"
#define ROTATE_ATTR_FIRST_FAIL	"publish_first_failure"
#define ROTATE_ATTR_RETRY_AT	"publish_retry_at"
#define ROTATE_ATTR_LAST_ERROR	"publish_last_error"
/* a typical cron interval: the first retry is the next run */
#define ROTATE_BACKOFF_BASE_S	(5 * ROTATE_MINUTE)
/* well inside M: a stuck publish is retried several times a day */
#define ROTATE_BACKOFF_MAX_S	(4 * ROTATE_HOUR)
#define ROTATE_ALERT_FAILURES	3
#define ROTATE_ALERT_AFTER_S	ROTATE_HOUR

enum rotate_strategy {
	ROTATE_DUAL,
	ROTATE_GENERATIONAL,
};

struct rotate_params {
	enum rotate_strategy	 strategy;
	uint64_t		 period_s;
	uint64_t		 max_transit_s;		/* M */
	uint64_t		 reload_bound_s;	/* R */
	uint64_t		 skew_s;		/* S */
	uint64_t		 ttl_s;		/* TTL of our records */
	/*
	 * dual: the two slot selectors; generational: selectors[0] is the
	 * prefix of the generated names.
	 */
	const char		*selectors[ROTATE_SLOTS];
	/*
	 * Which of the domain's keys this rotation owns (store.h roles):
	 * NULL or STORE_ROLE_DKIM the domain's DKIM selectors; an ARC or
	 * Ed25519 role rotates generationally with selectors[0] as prefix.
	 * arc_selector: the domain's configured ARC selector, whose key
	 * (made by `keys init`, no role attr) belongs to the ARC role.
	 */
	const char		*role;
	const char		*arc_selector;
	/*
	 * rotation.disclose: a GONE key's private key is copied here and
	 * the key is DISCLOSED instead of DESTROYED (rotation.md §b 10).
	 */
	const char		*disclose_dir;
};

/* One key as the planner sees it (from the journal). */
struct rotate_key {
	char			 id[KEYS_ID_LEN + 1];
	char			 selector[ROTATE_SELECTOR_MAX + 1];
	enum store_state	 state;
	time_t			 entered[STORE_NSTATES]; /* 0: never */
	int			 mapped;	/* its selector maps to it */
	int			 retire;	/* ROTATE_ATTR_RETIRE */
	int			 withdraw;	/* ROTATE_ATTR_WITHDRAW */
	uint64_t		 ready_wait_s;	/* ROTATE_ATTR_WAIT */
	/* Not journalled: the driver found DNS not there yet this run. */
	int			 held;
};

struct rotate_view {
	size_t			 nkeys;
	struct rotate_key	 keys[ROTATE_KEYS_MAX];
};

enum rotate_act {
	ROTATE_NONE,		/* nothing due; step.at: when (0: never) */
	ROTATE_GENERATE,	/* a key for step.selector: GENERATED */
	ROTATE_PUBLISH_INTENT,	/* GENERATED -> PUBLISHING */
	ROTATE_PUBLISH,		/* backend makes the name hold the key */
	ROTATE_CHECK,		/* every server shows it: VISIBLE */
	ROTATE_READY,		/* READY, and its selector maps to it */
	ROTATE_ACTIVE,		/* R after it entered the signing set */
	ROTATE_DRAIN,		/* leaves the signing set */
	ROTATE_WITHDRAW_INTENT,	/* journal: "p=" will replace it */
	ROTATE_WITHDRAW,	/* "p=" published and visible: REVOKED */
	ROTATE_GONE,
	ROTATE_DESTROY,		/* the private key file is removed */
	ROTATE_DISCLOSE,	/* ... after its copy is published */
};

#define ROTATE_NOKEY	((size_t)-1)

struct rotate_step {
	enum rotate_act		 act;
	size_t			 key;	/* into the view, or NOKEY */
	/* PUBLISH, CHECK: the key whose record this one replaces. */
	size_t			 prev;
	char			 selector[ROTATE_SELECTOR_MAX + 1];
	time_t			 at;	/* NONE: next due, 0: none */
};

/* The model of a journal; -1 when it holds more than ROTATE_KEYS_MAX. */
int		 rotate_view_load(struct rotate_view *,
		    const struct store_domain *);
/* The same, only the keys of the params' role (rotate_key_role()). */
int		 rotate_view_load_role(struct rotate_view *,
		    const struct store_domain *, const struct rotate_params *);
/* STORE_ROLE_DKIM, _ARC or _ED25519 (or another attr value) of a key. */
const char	*rotate_key_role(const struct store_key *,
		    const struct rotate_params *);
/*
 * The next transition of view key i (keys list): act and when (0: none
 * planned; at <= now: due now).  Conditions on other keys (I5, a
 * successor's progress) are not modelled: it is the earliest time.
 */
void		 rotate_key_next(const struct rotate_view *,
		    const struct rotate_params *, size_t i, time_t now,
		    enum rotate_act *act, time_t *at);
/* The next due step at now (held keys are planned around). */
void		 rotate_plan(const struct rotate_view *,
		    const struct rotate_params *, time_t now,
		    struct rotate_step *);
/*
 * The step's effect on the model, as the driver journals it; CHECK and
 * WITHDRAW as if DNS showed the record, N given as neg_ttl_s.  id names
 * a GENERATE's new key.
 */
int		 rotate_apply(struct rotate_view *,
		    const struct rotate_params *, const struct rotate_step *,
		    time_t now, uint64_t neg_ttl_s, const char *id);
/* 0 when I1-I5 hold; else -1 and why gets one line. */
int		 rotate_invariants(const struct rotate_view *,
		    const struct rotate_params *, char *why, size_t whylen);
const char	*rotate_act_name(enum rotate_act);
/* <prefix>-<yyyymmdd> of now (UTC), with "-N" if the view has it. */
int		 rotate_gen_selector(const struct rotate_view *,
		    const char *prefix, time_t now, char *out, size_t outlen);

/* Everything the driver touches. */
struct rotate_env {
	struct store			*st;
	struct publish			*pub;	/* NULL: dry run */
	const struct dnscheck_cfg	*dns;	/* must show records */
	/* Asked for the zone's SOA (N); host NULL: N is assumed. */
	const char			*soa_host;
	uint16_t			 soa_port;
	const struct rotate_params	*params;
	enum keys_alg			 alg;
	unsigned			 bits;
	int				 dry_run;
	/* SIGNET_CRASH_AT: abort() after this many commits (0: never). */
	unsigned long			 crash_after;
	unsigned long			 commits;	/* in this run */
	FILE				*out;	/* one line per step */
};

enum rotate_result {
	ROTATE_OK,		/* every due step done, or waiting for DNS */
	ROTATE_FAILED,		/* a step failed; journal as before it */
	/*
	 * Publishing has failed ROTATE_ALERT_FAILURES times or for
	 * ROTATE_ALERT_AFTER_S: err holds the ALERT line.
	 */
	ROTATE_ALERT,
};

/*
 * Run every step of domain due at now.  A clock earlier than the
 * journal's last write is refused.  err: one line on ROTATE_FAILED.
 */
enum rotate_result rotate_domain(struct rotate_env *, const char *domain,
		    time_t now, char *err, size_t errlen);
/*
 * signetctl revoke: the selector's key leaves the signing set now
 * (COMPROMISED with compromised, which replaces its record at once;
 * else it is retired as soon as I5 allows), then rotate_domain().
 */
enum rotate_result rotate_revoke(struct rotate_env *, const char *domain,
		    const char *selector, int compromised, time_t now,
		    char *err, size_t errlen);

/*
 * One rotation run at a time per key store: flock on
 * <keystore>/.rotate.lock.  wait 0: STORE_BUSY when another run holds it.
 */
enum store_status rotate_lock(struct store *, int wait, int *fd, char *err,
		    size_t errlen);
void		 rotate_unlock(int fd);

#endif
