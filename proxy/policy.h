/*
 * policy — who may sign for which domain (DESIGN.md promise 4).
 *
 * A client's tenant is fixed once per session: by a pinned client
 * certificate, else by its network (AUTH users attach here later).  A tenant may use a
 * domain as envelope sender or From domain only if it owns it: an exact
 * claim, or a "*.parent" claim covering it at a label boundary (TN-02,
 * TN-03).  The decision never looks at local parts (TN-01).  Pure
 * functions over an immutable config.
 */
#ifndef SIGNET_POLICY_H
#define SIGNET_POLICY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct config;
struct config_tenant;

enum policy_verdict {
	POLICY_OK = 0,
	POLICY_NO_TENANT,	/* client not allowed to relay (TN-01) */
	POLICY_NOT_OWNED,	/* domain belongs to someone else or nobody */
	POLICY_BAD_DOMAIN,	/* not a valid domain name */
	POLICY_NULL_SENDER	/* <> not allowed for this tenant */
};

/* The tenant whose networks hold the client's address, or NULL. */
const struct config_tenant *policy_tenant_for_client(const struct config *,
		    const struct sockaddr *);

/* The tenant pinning this client certificate (SHA-256 of its DER), or
 * NULL; the certificate need not chain to any CA (tls.h). */
const struct config_tenant *policy_tenant_for_cert(const struct config *,
		    const uint8_t fp[32]);

/* May tenant sign mail whose From domain is domain (already normalized)? */
enum policy_verdict policy_from_domain(const struct config *,
		    const struct config_tenant *, const char *domain,
		    size_t len);

/*
 * MAIL FROM: may tenant use this reverse-path?  addr is the address
 * without angle brackets (empty for the null sender).
 */
enum policy_verdict policy_envelope_sender(const struct config *,
		    const struct config_tenant *, const char *addr,
		    size_t len);

#endif
