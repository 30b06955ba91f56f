/*
 * rotenv — configuration to rotation environment (tools/rotenv.h).
 *
 * The zone of a domain's records is the domain's zone:, else
 * rotation.dns.zone, else the domain itself (config.h).  The servers
 * that must show a record are rotation.dns.authoritative, else the
 * zone's NS set (found through /etc/resolv.conf).  N, the negative TTL,
 * is read from the first authoritative server, else the rfc2136 primary.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "keys/dnscheck.h"
#include "keys/publish.h"
#include "keys/rotate.h"
#include "keys/store.h"
#include "tools/rotenv.h"

struct rotenv {
	struct rotate_env	 env;
	struct rotate_params	 params;
	struct dnscheck_cfg	 dns;
	struct dnscheck_server	*servers;
	struct publish		*pub;
};

static const char *
zone_of(const struct config *cfg, const struct config_domain *d)
{
	if (d->zone != NULL)
		return d->zone;
	if (cfg->rotation.zone != NULL)
		return cfg->rotation.zone;
	return d->name;
}

static int
publish_cfg(const struct config *cfg, const struct config_domain *d,
    struct publish_cfg *pc, char *err, size_t errlen)
{
	const struct config_rotation	*r = &cfg->rotation;

	memset(pc, 0, sizeof(*pc));
	pc->zone = zone_of(cfg, d);
	switch (r->backend) {
	case CONFIG_DNS_RFC2136:
		pc->backend = PUBLISH_RFC2136;
		pc->server_host = r->server.host;
		pc->server_port = r->server.port;
		pc->tsig_name = r->tsig_name;
		pc->tsig_secret_file = r->tsig_secret_file;
		switch (r->tsig_algorithm) {
		case CONFIG_TSIG_HMAC_SHA256:
			pc->tsig_alg = PUBLISH_TSIG_HMAC_SHA256;
			break;
		case CONFIG_TSIG_HMAC_SHA512:
			pc->tsig_alg = PUBLISH_TSIG_HMAC_SHA512;
			break;
		default:
			snprintf(err, errlen, "rotation.dns.tsig.algorithm: "
			    "hmac-sha384 cannot sign updates here (libldns); "
			    "use hmac-sha256 or hmac-sha512");
			return -1;
		}
		return 0;
	case CONFIG_DNS_ZONEFILE:
		pc->backend = PUBLISH_ZONEFILE;
		pc->zonefile = r->zonefile_path;
		pc->reload_command = r->zonefile_reload_command;
		return 0;
	case CONFIG_DNS_EXEC:
		pc->backend = PUBLISH_EXEC;
		pc->hook = r->exec_hook;
		return 0;
	default:
		snprintf(err, errlen, "%s: rotation.dns.backend is none: keys "
		    "are published by hand (signetctl keys init, dns)",
		    d->name);
		return -1;
	}
}

size_t
rotenv_roles(const struct config_domain *d, const char *roles[4])
{
	size_t	n = 0;

	roles[n++] = STORE_ROLE_DKIM;
	if (d->arc.enabled && d->arc.selector != NULL)
		roles[n++] = STORE_ROLE_ARC;
	if (d->extra_ed25519 && d->algorithm != CONFIG_ALG_ED25519)
		roles[n++] = STORE_ROLE_ED25519;
	roles[n] = NULL;
	return n;
}

struct rotenv *
rotenv_new(const struct config *cfg, const struct config_domain *d,
    struct store *st, int dry_run, char *err, size_t errlen)
{
	return rotenv_new_role(cfg, d, STORE_ROLE_DKIM, st, dry_run, err,
	    errlen);
}

struct rotenv *
rotenv_new_role(const struct config *cfg, const struct config_domain *d,
    const char *role, struct store *st, int dry_run, char *err,
    size_t errlen)
{
	const struct config_rotation	*r = &cfg->rotation;
	struct rotenv			*e;
	struct publish_cfg		 pc;
	struct stat			 sb;
	size_t				 i;
	int				 dkim = strcmp(role, STORE_ROLE_DKIM) == 0;

	if ((e = calloc(1, sizeof(*e))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	e->params.strategy = r->strategy == CONFIG_STRATEGY_GENERATIONAL ?
	    ROTATE_GENERATIONAL : ROTATE_DUAL;
	e->params.role = role;
	e->params.arc_selector = d->arc.enabled ? d->arc.selector : NULL;
	e->params.disclose_dir = r->disclose_dir;
	/* found missing only at a key's end, it would fail that step */
	if (r->disclose_dir != NULL && (stat(r->disclose_dir, &sb) == -1 ||
	    !S_ISDIR(sb.st_mode))) {
		snprintf(err, errlen, "rotation.disclose: %s: not a directory",
		    r->disclose_dir);
		goto fail;
	}
	e->params.period_s = r->period_s;
	e->params.max_transit_s = r->max_transit_s;
	e->params.reload_bound_s = r->reload_bound_s;
	e->params.skew_s = r->skew_s;
	e->params.ttl_s = r->ttl_s;
	if (dkim && (d->nselectors < 1 || (e->params.strategy ==
	    ROTATE_DUAL && d->nselectors != ROTATE_SLOTS))) {
		snprintf(err, errlen, "%s: dual-selector rotation needs "
		    "exactly two selectors", d->name);
		goto fail;
	}
	if (dkim) {
		e->params.selectors[0] = d->selectors[0];
		e->params.selectors[1] = d->nselectors > 1 ?
		    d->selectors[1] : d->selectors[0];
	} else {
		/*
		 * rotation.md §b: one signature of its kind per message, so
		 * I1-I3 with make before break, which one fixed name cannot
		 * give: generational names.
		 */
		e->params.strategy = ROTATE_GENERATIONAL;
		e->params.selectors[0] = e->params.selectors[1] =
		    strcmp(role, STORE_ROLE_ARC) == 0 ? d->arc.selector :
		    ROTENV_ED25519_PREFIX;
	}
	if (publish_cfg(cfg, d, &pc, err, errlen) == -1)
		goto fail;
	if (!dry_run && (e->pub = publish_new(&pc, err, errlen)) == NULL)
		goto fail;
	e->dns.zone = pc.zone;
	if (r->nauthoritative > 0) {
		if ((e->servers = calloc(r->nauthoritative,
		    sizeof(*e->servers))) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		for (i = 0; i < r->nauthoritative; i++) {
			e->servers[i].host = r->authoritative[i].host;
			e->servers[i].port = r->authoritative[i].port;
		}
		e->dns.servers = e->servers;
		e->dns.nservers = r->nauthoritative;
		e->env.soa_host = r->authoritative[0].host;
		e->env.soa_port = r->authoritative[0].port;
	} else if (r->backend == CONFIG_DNS_RFC2136) {
		e->env.soa_host = r->server.host;
		e->env.soa_port = r->server.port;
	}
	e->env.st = st;
	e->env.pub = e->pub;
	e->env.dns = &e->dns;
	e->env.params = &e->params;
	e->env.alg = d->algorithm == CONFIG_ALG_ED25519 ?
	    KEYS_ALG_ED25519_SHA256 : KEYS_ALG_RSA_SHA256;
	e->env.bits = d->algorithm == CONFIG_ALG_ED25519 ? 0 : d->bits;
	if (strcmp(role, STORE_ROLE_ARC) == 0) {
		/* RFC 8617 defines only rsa-sha256 for ARC */
		e->env.alg = KEYS_ALG_RSA_SHA256;
		e->env.bits = d->algorithm == CONFIG_ALG_ED25519 ||
		    d->bits == 0 ? ROTENV_ARC_BITS : d->bits;
	} else if (strcmp(role, STORE_ROLE_ED25519) == 0) {
		e->env.alg = KEYS_ALG_ED25519_SHA256;
		e->env.bits = 0;
	}
	e->env.dry_run = dry_run;
	e->env.out = stdout;
	return e;
fail:
	rotenv_free(e);
	return NULL;
}

void
rotenv_free(struct rotenv *e)
{
	if (e == NULL)
		return;
	publish_free(e->pub);
	free(e->servers);
	free(e);
}

struct rotate_env *
rotenv_env(struct rotenv *e)
{
	return &e->env;
}

int
rotenv_parse_now(const char *s, time_t *out)
{
	char		*end;
	long long	 v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v <= 0)
		return -1;
	*out = (time_t)v;
	return 0;
}

int
rotenv_crash_at(unsigned long *out)
{
	const char	*s = getenv("SIGNET_CRASH_AT");
	char		*end;

	*out = 0;
	if (s == NULL || *s == '\0')
		return 0;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno != 0 || *end != '\0' ? -1 : 0;
}
