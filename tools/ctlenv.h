/*
 * ctlenv — the configuration and key store a signetctl command runs
 * with: the config file when there is one, and a --keystore DIR that
 * overrides it, so key commands also work for users without a config
 * (make run's demo, hand-managed keys).
 */
#ifndef SIGNET_CTLENV_H
#define SIGNET_CTLENV_H

#include "tools/ctl.h"

struct config;

#define CTLENV_ZONE_TTL	3600	/* record TTL when no configuration says */

struct ctlenv {
	const struct config	*cfg;		/* NULL: none */
	const char		*keystore;
	unsigned		 ttl;
};

/*
 * -c FILE must load; the default file is optional, and a broken default
 * file is ignored with a warning when --keystore makes it unnecessary.
 * keystore (may be NULL) is the --keystore argument.  0, or -1 after
 * reporting.
 */
int	ctlenv_open(struct ctl *, const char *keystore, struct ctlenv *);
void	ctlenv_close(struct ctlenv *);

/*
 * For commands that cannot run without a configuration (rotate, revoke,
 * check): the loaded config (free with config_free), or NULL after one
 * line naming the first error.
 */
const struct config *ctlenv_config(struct ctl *);

#endif
