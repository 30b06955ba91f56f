/*
 * rotenv — what `signetctl rotate` and `signetctl revoke` share: the
 * configuration turned into the rotation engine's environment for one
 * domain (keys/rotate.h), the simulated clock and the crash hook.
 */
#ifndef SIGNET_TOOLS_ROTENV_H
#define SIGNET_TOOLS_ROTENV_H

#include <stddef.h>
#include <time.h>

#include "config/config.h"
#include "keys/rotate.h"

struct rotenv;

/*
 * Everything for rotating cfg's domain d: parameters, publish backend
 * (not opened for a dry run), dnscheck servers.  NULL with err set.
 */
struct rotenv	*rotenv_new(const struct config *,
		    const struct config_domain *, struct store *, int dry_run,
		    char *err, size_t errlen);
void		 rotenv_free(struct rotenv *);
struct rotate_env *rotenv_env(struct rotenv *);

/* --now UNIX (a decimal number of seconds after 1970): 0 / -1. */
int		 rotenv_parse_now(const char *, time_t *);
/* SIGNET_CRASH_AT=k: 0 when unset; -1 when malformed. */
int		 rotenv_crash_at(unsigned long *);

#endif
