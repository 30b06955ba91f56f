/*
 * signetctl revoke DOMAIN SELECTOR [--compromised] [--now UNIX]
 * [--dry-run] — take the key at SELECTOR out of service now
 * (design/rotation.md §b, keys/rotate.h).
 *
 *   plain          the key is retired at once: with dual selectors it
 *                  leaves the signing set as soon as I5 allows (the
 *                  other slot keeps signing) and its slot rotates; with
 *                  generational names a successor is made and the key
 *                  drains once the successor is ACTIVE.
 *   --compromised  COMPROMISED: out of the signing set at once and its
 *                  record replaced by "v=DKIM1; p=" without waiting out
 *                  mail in transit; then REVOKED.
 *
 * Then the domain's due rotation steps run, as `signetctl rotate` would.
 * Waits for a running rotation to finish rather than skipping.
 */
#include <getopt.h>
#include <stdio.h>
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

static const char usage_line[] =
    "revoke DOMAIN SELECTOR [--compromised] [--dry-run] [--now UNIX]";

/*
 * The role of the key at selector (an ARC or Ed25519 key rotates in its
 * own role, rotenv.h); DKIM when the store does not know the selector.
 */
static const char *
selector_role(struct store *st, const struct config_domain *d,
    const char *selector)
{
	static const char *const roles[] = { STORE_ROLE_ARC,
	    STORE_ROLE_ED25519 };
	struct store_domain	*sd;
	const struct store_key	*k;
	struct rotate_params	 p;
	const char		*role = STORE_ROLE_DKIM;
	char			 err[ERR_LEN];
	size_t			 i;

	if ((sd = store_domain_load(st, d->name, err, sizeof(err))) == NULL)
		return role;
	memset(&p, 0, sizeof(p));
	p.arc_selector = d->arc.enabled ? d->arc.selector : NULL;
	if ((k = store_domain_selector_key(sd, selector)) != NULL)
		for (i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
			if (strcmp(rotate_key_role(k, &p), roles[i]) == 0)
				role = roles[i];
	store_domain_free(sd);
	return role;
}

static int
run(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "compromised", no_argument,		NULL, 'c' },
		{ "dry-run",	no_argument,		NULL, 'n' },
		{ "now",	required_argument,	NULL, 't' },
		{ NULL,		0,			NULL, 0 },
	};
	const struct config		*cfg = NULL;
	const struct config_domain	*d;
	struct store			*st = NULL;
	struct rotenv			*re = NULL;
	struct rotate_env		*env;
	char				 err[ERR_LEN];
	char				 name[CONFIG_DOMAIN_MAX + 1];
	unsigned long			 crash_at;
	time_t				 now = time(NULL);
	int				 ch, compromised = 0, dry_run = 0;
	int				 lockfd = -1, ret = CTL_FAIL;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			compromised = 1;
			break;
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
	if (argc - optind != 2) {
		ctl_err("usage: signetctl %s", usage_line);
		return CTL_USAGE;
	}
	if (config_domain_normalize(argv[optind], strlen(argv[optind]),
	    name) == -1 || store_selector_valid(argv[optind + 1]) == -1) {
		ctl_err("usage: signetctl %s", usage_line);
		return CTL_USAGE;
	}
	if (rotenv_crash_at(&crash_at) == -1) {
		ctl_err("SIGNET_CRASH_AT: not a number");
		return CTL_USAGE;
	}
	if ((cfg = ctlenv_config(ctl)) == NULL)
		goto done;
	if ((d = config_domain(cfg, name)) == NULL ||
	    strcmp(d->name, name) != 0) {
		ctl_err("%s: not a domains: entry of %s", name,
		    ctl->config_path);
		goto done;
	}
	if ((st = store_open(cfg->keystore, 0, err, sizeof(err))) == NULL ||
	    rotate_lock(st, 1, &lockfd, err, sizeof(err)) != STORE_OK ||
	    (re = rotenv_new_role(cfg, d, selector_role(st, d,
	    argv[optind + 1]), st, dry_run, err, sizeof(err))) == NULL) {
		ctl_err("%s", err);
		goto done;
	}
	env = rotenv_env(re);
	env->crash_after = crash_at;
	if (rotate_revoke(env, name, argv[optind + 1], compromised, now, err,
	    sizeof(err)) != ROTATE_OK) {
		ctl_err("%s", err);
		goto done;
	}
	if (fflush(stdout) != 0) {
		ctl_err("write error");
		goto done;
	}
	ret = CTL_OK;
done:
	rotenv_free(re);
	rotate_unlock(lockfd);
	store_close(st);
	config_free(cfg);
	return ret;
}

const struct ctl_cmd ctl_cmd_revoke = {
	"revoke",
	usage_line,
	run,
};
