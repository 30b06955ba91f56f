/*
 * ratelimit — per-tenant fixed-window counters shared by the workers
 * (hostile-inputs DK-07, PR-07).
 *
 * A chained hash table of RATELIMIT_BUCKETS buckets under one mutex; a
 * check is a hash, a short chain walk and two compares, so the lock is
 * held for well under a microsecond.  Entries are never freed while the
 * process runs (a tenant removed by a reload costs one entry); when
 * RATELIMIT_TENANTS_MAX are in use, an entry whose window has passed is
 * taken over, and if there is none the new tenant goes unlimited rather
 * than refused.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "proxy/log.h"
#include "proxy/ratelimit.h"

#define RATELIMIT_BUCKETS	4096	/* power of two */

struct rl_entry {
	struct rl_entry	*next;
	char		 name[RATELIMIT_NAME_MAX + 1];
	uint64_t	 start;		/* window start, seconds */
	uint64_t	 window;	/* its length when last used */
	uint64_t	 count[2];	/* by enum ratelimit_kind */
};

static pthread_mutex_t	 rl_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct rl_entry	*rl_buckets[RATELIMIT_BUCKETS];
static size_t		 rl_entries;
static int		 rl_full_logged;

/* FNV-1a: names are short and chosen by the operator, not the client. */
static size_t
rl_hash(const char *s)
{
	uint32_t	h = 2166136261u;

	for (; *s != '\0'; s++) {
		h ^= (uint8_t)*s;
		h *= 16777619u;
	}
	return h & (RATELIMIT_BUCKETS - 1);
}

static int
rl_expired(const struct rl_entry *e, uint64_t now)
{
	return now < e->start || now - e->start >= e->window;
}

/* An entry whose window has passed, unlinked from its chain; NULL. */
static struct rl_entry *
rl_reclaim(uint64_t now)
{
	struct rl_entry	**pp, *e;
	size_t		  b;

	for (b = 0; b < RATELIMIT_BUCKETS; b++) {
		for (pp = &rl_buckets[b]; (e = *pp) != NULL; pp = &e->next) {
			if (rl_expired(e, now)) {
				*pp = e->next;
				return e;
			}
		}
	}
	return NULL;
}

/* The entry for name, created if needed; NULL when none can be had. */
static struct rl_entry *
rl_lookup(const char *name, uint64_t now, uint64_t window)
{
	struct rl_entry	*e;
	size_t		 b = rl_hash(name);

	for (e = rl_buckets[b]; e != NULL; e = e->next)
		if (strcmp(e->name, name) == 0)
			return e;
	if (rl_entries < RATELIMIT_TENANTS_MAX) {
		if ((e = calloc(1, sizeof(*e))) == NULL)
			return NULL;
		rl_entries++;
	} else if ((e = rl_reclaim(now)) == NULL)
		return NULL;
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->start = now;
	e->window = window;
	e->next = rl_buckets[b];
	rl_buckets[b] = e;
	return e;
}

enum ratelimit_result
ratelimit_take(const char *name, enum ratelimit_kind kind, uint64_t limit,
    uint64_t window_s, uint64_t now)
{
	struct rl_entry		*e;
	enum ratelimit_result	 r;
	int			 full = 0;

	if (limit == 0 || window_s == 0 || strlen(name) > RATELIMIT_NAME_MAX)
		return RATELIMIT_UNTRACKED;
	pthread_mutex_lock(&rl_mtx);
	if ((e = rl_lookup(name, now, window_s)) == NULL) {
		full = !rl_full_logged;
		rl_full_logged = 1;
		r = RATELIMIT_UNTRACKED;
	} else {
		/* A reload may have changed the window: the new one counts. */
		e->window = window_s;
		if (rl_expired(e, now)) {
			e->start = now;
			e->count[RATELIMIT_MESSAGES] = 0;
			e->count[RATELIMIT_RECIPIENTS] = 0;
		}
		if (e->count[kind] >= limit)
			r = RATELIMIT_OVER;
		else {
			e->count[kind]++;
			r = RATELIMIT_OK;
		}
	}
	pthread_mutex_unlock(&rl_mtx);
	if (full)
		log_event(LOG_WARNING, NULL, "rate_table_full",
		    "tenants=%d tenant=%s", RATELIMIT_TENANTS_MAX, name);
	return r;
}

enum ratelimit_result
ratelimit_check(const struct config_tenant *t, enum ratelimit_kind kind,
    char *reply, size_t replylen)
{
	struct timespec		 ts;
	enum ratelimit_result	 r;
	uint64_t		 limit;

	limit = kind == RATELIMIT_MESSAGES ? t->rate_messages :
	    t->rate_recipients;
	if (limit == 0)
		return RATELIMIT_UNTRACKED;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	r = ratelimit_take(t->name, kind, limit, t->rate_window_s,
	    (uint64_t)ts.tv_sec);
	if (r == RATELIMIT_OVER)
		snprintf(reply, replylen, "450 4.7.1 Error: too %s from %s",
		    kind == RATELIMIT_MESSAGES ? "much mail" :
		    "many recipients", t->name);
	return r;
}

void
ratelimit_clear(void)
{
	struct rl_entry	*e;
	size_t		 b;

	pthread_mutex_lock(&rl_mtx);
	for (b = 0; b < RATELIMIT_BUCKETS; b++)
		for (e = rl_buckets[b]; e != NULL; e = e->next) {
			e->count[RATELIMIT_MESSAGES] = 0;
			e->count[RATELIMIT_RECIPIENTS] = 0;
		}
	pthread_mutex_unlock(&rl_mtx);
}
