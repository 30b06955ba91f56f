/*
 * Unit tests for proxy/ratelimit (hostile-inputs DK-07, PR-07): limits
 * per tenant and kind, the window restarting, the replies, and exact
 * counting when worker threads race on one tenant.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "proxy/ratelimit.h"
#include "tests/unit/t.h"

static void
test_limit_and_window(void)
{
	uint64_t	t0 = 1000;
	int		i, ok = 1;

	for (i = 0; i < 3; i++)
		ok = ok && ratelimit_take("a", RATELIMIT_MESSAGES, 3, 60, t0) ==
		    RATELIMIT_OK;
	T_OK(ok, "three messages within the limit of 3");
	T_EQ_INT(ratelimit_take("a", RATELIMIT_MESSAGES, 3, 60, t0 + 1),
	    RATELIMIT_OVER, "the fourth is over");
	T_EQ_INT(ratelimit_take("a", RATELIMIT_MESSAGES, 3, 60, t0 + 59),
	    RATELIMIT_OVER, "still over at the end of the window");
	T_EQ_INT(ratelimit_take("a", RATELIMIT_RECIPIENTS, 2, 60, t0 + 2),
	    RATELIMIT_OK, "recipients are counted apart");
	T_EQ_INT(ratelimit_take("b", RATELIMIT_MESSAGES, 3, 60, t0 + 2),
	    RATELIMIT_OK, "another tenant has its own count");
	T_EQ_INT(ratelimit_take("a", RATELIMIT_MESSAGES, 3, 60, t0 + 60),
	    RATELIMIT_OK, "the window passed: counted again");
	T_EQ_INT(ratelimit_take("a", RATELIMIT_RECIPIENTS, 2, 60, t0 + 60),
	    RATELIMIT_OK, "the new window restarts recipients too");
	T_EQ_INT(ratelimit_take("a", RATELIMIT_RECIPIENTS, 2, 60, t0 + 61),
	    RATELIMIT_OK, "second recipient of the new window");
	T_EQ_INT(ratelimit_take("a", RATELIMIT_RECIPIENTS, 2, 60, t0 + 61),
	    RATELIMIT_OVER, "third recipient is over");
	T_EQ_INT(ratelimit_take("a", RATELIMIT_MESSAGES, 5, 60, t0 + 61),
	    RATELIMIT_OK, "a reload that raises the limit applies at once");
	T_EQ_INT(ratelimit_take("a", RATELIMIT_MESSAGES, 0, 60, t0 + 61),
	    RATELIMIT_UNTRACKED, "limit 0: off");
	ratelimit_clear();
	T_EQ_INT(ratelimit_take("a", RATELIMIT_RECIPIENTS, 2, 60, t0 + 62),
	    RATELIMIT_OK, "cleared");
}

static void
test_replies(void)
{
	struct config_tenant	t;
	char			line[128];
	int			i;

	memset(&t, 0, sizeof(t));
	t.name = "acme";
	t.rate_messages = 1;
	t.rate_recipients = 1;
	t.rate_window_s = 3600;
	ratelimit_clear();
	T_EQ_INT(ratelimit_check(&t, RATELIMIT_MESSAGES, line, sizeof(line)),
	    RATELIMIT_OK, "first message");
	line[0] = '\0';
	T_EQ_INT(ratelimit_check(&t, RATELIMIT_MESSAGES, line, sizeof(line)),
	    RATELIMIT_OVER, "second message over");
	T_EQ_STR(line, "450 4.7.1 Error: too much mail from acme",
	    "message reply (DK-07)");
	for (i = 0; i < 2; i++)
		ratelimit_check(&t, RATELIMIT_RECIPIENTS, line, sizeof(line));
	T_EQ_STR(line, "450 4.7.1 Error: too many recipients from acme",
	    "recipient reply (PR-07)");
	t.rate_messages = 0;
	T_EQ_INT(ratelimit_check(&t, RATELIMIT_MESSAGES, line, sizeof(line)),
	    RATELIMIT_UNTRACKED, "no limit configured");
}

#define RACE_THREADS	4
#define RACE_TRIES	5000
#define RACE_LIMIT	7777

static void *
race(void *arg)
{
	int	*won = arg;
	int	 i;

	for (i = 0; i < RACE_TRIES; i++)
		if (ratelimit_take("race", RATELIMIT_RECIPIENTS, RACE_LIMIT,
		    3600, 5) == RATELIMIT_OK)
			(*won)++;
	return NULL;
}

static void
test_threads(void)
{
	pthread_t	th[RACE_THREADS];
	int		won[RACE_THREADS] = { 0 };
	int		i, total = 0;

	for (i = 0; i < RACE_THREADS; i++)
		pthread_create(&th[i], NULL, race, &won[i]);
	for (i = 0; i < RACE_THREADS; i++) {
		pthread_join(th[i], NULL);
		total += won[i];
	}
	T_EQ_INT(total, RACE_LIMIT, "racing workers: exactly the limit "
	    "is counted");
}

static void
test_many_tenants(void)
{
	char	name[32];
	int	i, ok = 1;

	/* Far more tenants than buckets: chains work, each is its own. */
	for (i = 0; i < 10000; i++) {
		snprintf(name, sizeof(name), "t%d", i);
		ok = ok && ratelimit_take(name, RATELIMIT_MESSAGES, 1, 60, 7) ==
		    RATELIMIT_OK;
	}
	T_OK(ok, "10000 tenants each get their first message");
	for (i = 0; i < 10000; i++) {
		snprintf(name, sizeof(name), "t%d", i);
		ok = ok && ratelimit_take(name, RATELIMIT_MESSAGES, 1, 60, 8) ==
		    RATELIMIT_OVER;
	}
	T_OK(ok, "and each is then over its own limit");
}

int
main(void)
{
	test_limit_and_window();
	test_replies();
	test_threads();
	test_many_tenants();
	return t_done();
}
