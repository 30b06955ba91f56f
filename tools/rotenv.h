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

/* Names of the extra Ed25519 keys: ed25519-<yyyymmdd>. */
#define ROTENV_ED25519_PREFIX	"ed25519"
/* RFC 8301 3.2: ARC keys are RSA, at least 1024 bits; 2048 by default. */
#define ROTENV_ARC_BITS		2048

/*
 * Everything for rotating cfg's domain d: parameters, publish backend
 * (not opened for a dry run), dnscheck servers.  NULL with err set.
 */
struct rotenv	*rotenv_new(const struct config *,
		    const struct config_domain *, struct store *, int dry_run,
		    char *err, size_t errlen);
/*
 * The same for one role of the domain's keys (store.h): STORE_ROLE_DKIM
 * (as rotenv_new), STORE_ROLE_ARC (RSA, generational names with the
 * domain's arc.selector as prefix) or STORE_ROLE_ED25519 (the extra
 * Ed25519 signature, generational names with ROTENV_ED25519_PREFIX).
 */
struct rotenv	*rotenv_new_role(const struct config *,
		    const struct config_domain *, const char *role,
		    struct store *, int dry_run, char *err, size_t errlen);
/*
 * The roles a domain's keys rotate in, NULL-terminated: DKIM, then ARC
 * when arc is enabled, then Ed25519 with extra_ed25519 on an RSA domain.
 */
size_t		 rotenv_roles(const struct config_domain *,
		    const char *roles[4]);
void		 rotenv_free(struct rotenv *);
struct rotate_env *rotenv_env(struct rotenv *);

/* --now UNIX (a decimal number of seconds after 1970): 0 / -1. */
int		 rotenv_parse_now(const char *, time_t *);
/* SIGNET_CRASH_AT=k: 0 when unset; -1 when malformed. */
int		 rotenv_crash_at(unsigned long *);

#endif
