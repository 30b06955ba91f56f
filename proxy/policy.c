/*
 * policy — tenant ownership decisions over a config snapshot.
 *
 * Ownership is config_domain_owner(): the exact claim wins, then the
 * longest wildcard parent; a domain claimed by nobody is owned by nobody,
 * so "victim.test.tenant.test"-style look-alikes fall out of the label
 * comparison done there (TN-02).  The tenant pointer compared here comes
 * from the same config, so pointer equality is identity.
 */
#include <string.h>

#include "config/config.h"
#include "proxy/policy.h"

const struct config_tenant *
policy_tenant_for_client(const struct config *cfg, const struct sockaddr *sa)
{
	if (sa == NULL)
		return NULL;
	return config_tenant_for_addr(cfg, sa);
}

const struct config_tenant *
policy_tenant_for_cert(const struct config *cfg, const uint8_t fp[32])
{
	return config_tenant_for_cert(cfg, fp);
}

enum policy_verdict
policy_from_domain(const struct config *cfg, const struct config_tenant *t,
    const char *domain, size_t len)
{
	char	 norm[CONFIG_DOMAIN_MAX + 1];

	if (t == NULL)
		return POLICY_NO_TENANT;
	if (config_domain_normalize(domain, len, norm) == -1)
		return POLICY_BAD_DOMAIN;
	if (config_domain_owner(cfg, norm) != t)
		return POLICY_NOT_OWNED;
	return POLICY_OK;
}

enum policy_verdict
policy_envelope_sender(const struct config *cfg,
    const struct config_tenant *t, const char *addr, size_t len)
{
	const char	*at;

	if (t == NULL)
		return POLICY_NO_TENANT;
	if (len == 0)
		return t->allow_null_sender ? POLICY_OK : POLICY_NULL_SENDER;
	/* The domain follows the last '@'; a quoted local part may hold '@'. */
	at = memrchr(addr, '@', len);
	if (at == NULL || at + 1 == addr + len)
		return POLICY_BAD_DOMAIN;
	return policy_from_domain(cfg, t, at + 1,
	    (size_t)(addr + len - (at + 1)));
}
