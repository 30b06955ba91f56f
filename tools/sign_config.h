/*
 * sign_config — `signetctl sign --config FILE`: sign a message from
 * stdin as signetd would with that configuration (see sign_config.c).
 */
#ifndef SIGNET_SIGN_CONFIG_H
#define SIGNET_SIGN_CONFIG_H

#include <stdint.h>

/*
 * client: an IP address whose tenant (networks:) must own the From
 * domain, or NULL to sign by domains: alone.  now: t= and the time of
 * an added Date.  Returns a CTL_* exit code after reporting.
 */
int	sign_config_run(const char *config, const char *client, int64_t now);

#endif
