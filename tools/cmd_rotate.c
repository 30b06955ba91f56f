/*
 * signetctl rotate [--dry-run] [--now UNIX] — advance every configured
 * domain's key rotation by the steps that are due (design/rotation.md,
 * keys/rotate.h).  Safe under cron: idempotent and resumable; one run at
 * a time per key store: a second run started meanwhile waits for the
 * first (up to ROTATE_WAIT_S), then does whatever is still due; if the
 * first is still running by then it says so on one line and exits 0,
 * since nothing went wrong (issue text, rotation.md §e; KY-09's test
 * accepts a run that waits).
 *
 * Each domain's DKIM keys rotate, then its ARC keys (arc: enabled) and
 * its extra Ed25519 keys (extra_ed25519), each on its own (rotenv.h).
 *
 * Prints one line per step taken ("DOMAIN SELECTOR KEY-ID STATE"), and
 * when each domain's next step is due.  Exit 0 when no step failed; 1
 * with the reason on stderr otherwise (that domain's journal is as it
 * was before the failed step, and the next run continues from there).
 * A failed publish is retried with backoff (keys/rotate.h); once it has
 * failed too often or too long, every run prints "ALERT: ..." on stderr
 * and exits 1 until it goes through, so cron mails it.
 *
 * --now drives a simulated clock (tests); SIGNET_CRASH_AT=k aborts right
 * after the k-th journal commit of the run (crash tests, rotation.md §e).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "keys/rotate.h"
#include "keys/store.h"
#include "proxy/msg/buf.h"
#include "tools/ctl.h"
#include "tools/ctlenv.h"
#include "tools/rotenv.h"

#define ERR_LEN		512
/* How long a second run waits for the lock before leaving it be. */
#define ROTATE_WAIT_S	60
#define ROTATE_POLL_NS	100000000L	/* 100 ms */

static const char usage_line[] = "rotate [--dry-run] [--now UNIX]";

/*
 * The rotation lock, waiting for a run that holds it (cron overlap).
 * SIGNET_ROTATE_WAIT=seconds shortens the wait for tests.
 */
static enum store_status
cmd_rotate_lock(struct store *st, int *fd, char *err, size_t errlen)
{
	struct timespec		 t0, t1, nap = { 0, ROTATE_POLL_NS };
	enum store_status	 r;
	const char		*e;
	long			 limit = ROTATE_WAIT_S;
	int			 waited = 0;

	if ((e = getenv("SIGNET_ROTATE_WAIT")) != NULL && *e >= '0' &&
	    *e <= '9')
		limit = strtol(e, NULL, 10);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if ((r = rotate_lock(st, 0, fd, err, errlen)) != STORE_BUSY)
			break;
		waited = 1;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (t1.tv_sec - t0.tv_sec >= limit)
			return STORE_BUSY;
		nanosleep(&nap, NULL);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (r == STORE_OK && waited)
		printf("waited %.1f s for another signetctl rotate\n",
		    (double)(t1.tv_sec - t0.tv_sec) +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return r;
}

static int
run(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dry-run",	no_argument,		NULL, 'n' },
		{ "now",	required_argument,	NULL, 't' },
		{ NULL,		0,			NULL, 0 },
	};
	const struct config	*cfg = NULL;
	struct store		*st = NULL;
	struct rotenv		*re;
	struct rotate_env	*env;
	char			 err[ERR_LEN];
	unsigned long		 crash_at, commits = 0;
	time_t			 now = time(NULL);
	const char		*roles[4];
	size_t			 i, j, failed = 0;
	int			 ch, dry_run = 0, lockfd = -1;
	int			 ret = CTL_FAIL;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			dry_run = 1;
			break;
		case 't':
			if (rotenv_parse_now(optarg, &now) == -1) {
				ctl_err("--now: not a UNIX time: %s", optarg);
				return CTL_USAGE;
			}
			break;
		default:
			ctl_err("usage: signetctl %s", usage_line);
			return CTL_USAGE;
		}
	}
	if (optind != argc) {
		ctl_err("usage: signetctl %s", usage_line);
		return CTL_USAGE;
	}
	if (rotenv_crash_at(&crash_at) == -1) {
		ctl_err("SIGNET_CRASH_AT: not a number");
		return CTL_USAGE;
	}
	if ((cfg = ctlenv_config(ctl)) == NULL)
		goto done;
	if ((st = store_open(cfg->keystore, 1, err, sizeof(err))) == NULL) {
		ctl_err("%s", err);
		goto done;
	}
	switch (cmd_rotate_lock(st, &lockfd, err, sizeof(err))) {
	case STORE_OK:
		break;
	case STORE_BUSY:
		ctl_err("another signetctl rotate is still running; nothing "
		    "done");
		ret = CTL_OK;
		goto done;
	default:
		ctl_err("%s", err);
		goto done;
	}
	for (i = 0; i < cfg->ndomains; i++) {
		rotenv_roles(&cfg->domains[i], roles);
		for (j = 0; roles[j] != NULL; j++) {
			if ((re = rotenv_new_role(cfg, &cfg->domains[i],
			    roles[j], st, dry_run, err, sizeof(err))) == NULL) {
				ctl_err("%s", err);
				failed++;
				break;
			}
			env = rotenv_env(re);
			env->crash_after = crash_at;
			env->commits = commits;
			if (rotate_domain(env, cfg->domains[i].name, now, err,
			    sizeof(err)) != ROTATE_OK) {
				ctl_err("%s", err);
				failed++;
			}
			commits = env->commits;
			rotenv_free(re);
		}
	}
	if (fflush(stdout) != 0) {
		ctl_err("write error");
		goto done;
	}
	if (failed == 0)
		ret = CTL_OK;
done:
	rotate_unlock(lockfd);
	store_close(st);
	config_free(cfg);
	return ret;
}

const struct ctl_cmd ctl_cmd_rotate = {
	"rotate",
	usage_line,
	run,
};
