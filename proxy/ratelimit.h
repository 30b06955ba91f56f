/*
 * ratelimit — per-tenant message and recipient rates (hostile-inputs
 * DK-07: a replayed or compromised tenant is slowed before we sign for
 * it; PR-07 for the recipient reply).
 *
 * One process-wide table keyed by tenant name, shared by every worker
 * thread under one mutex.  It is not part of the config snapshot, so a
 * reload keeps the counts; the limits are read from the tenant of the
 * transaction's snapshot at each check.  Windows are fixed: a tenant's
 * window starts with its first counted event and its counts restart
 * when window_s has passed (a burst of at most twice the limit can
 * straddle a window end).  Time is CLOCK_MONOTONIC.
 */
#ifndef SIGNET_RATELIMIT_H
#define SIGNET_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

struct config_tenant;

/* Tenants tracked at once; windows that have passed are reused first,
 * and past this a new tenant is not limited (and logged), never
 * refused, so the table cannot be used to refuse other tenants. */
#define RATELIMIT_TENANTS_MAX	65536
#define RATELIMIT_NAME_MAX	64	/* config: tenant names, 64 at most */

enum ratelimit_kind {
	RATELIMIT_MESSAGES,	/* counted at MAIL */
	RATELIMIT_RECIPIENTS	/* counted at RCPT */
};

enum ratelimit_result {
	RATELIMIT_OK,		/* counted */
	RATELIMIT_OVER,		/* over the limit: not counted */
	RATELIMIT_UNTRACKED	/* no limit set, or the table is full */
};

/*
 * Count one event of kind for tenant t, if its limit allows.  On
 * RATELIMIT_OVER, reply gets the reply line without CRLF:
 * "450 4.7.1 Error: too much mail from <tenant>" (messages) or
 * "450 4.7.1 Error: too many recipients from <tenant>" (Postfix's
 * wording for its rate limits).
 */
enum ratelimit_result ratelimit_check(const struct config_tenant *t,
		    enum ratelimit_kind, char *reply, size_t replylen);

/*
 * The same with the limit, window and time given (now: seconds on any
 * clock that does not go back): for tests.
 */
enum ratelimit_result ratelimit_take(const char *name, enum ratelimit_kind,
		    uint64_t limit, uint64_t window_s, uint64_t now);

/* Forget every count (tests; the table itself stays). */
void		 ratelimit_clear(void);

#endif
