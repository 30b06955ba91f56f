/*
 * addr — the From mailbox that decides the signing domain (RFC 5322 3.4).
 *
 * Strict: exactly one mailbox (name-addr or addr-spec), no group syntax,
 * no obsolete forms; display names, comments and encoded words are never
 * searched for addresses.  The domain comes back lower-cased, one trailing
 * dot removed, in IDNA A-label form.
 */
#ifndef SIGNET_ADDR_H
#define SIGNET_ADDR_H

#include <stddef.h>
#include <stdint.h>

struct buf;

enum addr_err {
	ADDR_OK = 0,
	ADDR_ERR_SYNTAX,	/* not a mailbox-list at all */
	ADDR_ERR_EMPTY,		/* empty value */
	ADDR_ERR_GROUP,		/* group syntax (undisclosed:;) */
	ADDR_ERR_MULTIPLE,	/* more than one mailbox */
	ADDR_ERR_NO_DOMAIN,	/* unqualified: "bob" */
	ADDR_ERR_DOMAIN,	/* domain not a valid (IDNA) host name */
	ADDR_ERR_NOMEM
};

/*
 * value: the raw field value (after the colon, may contain folding).
 * addr_spec (may be NULL) receives local@domain as written; domain
 * receives the normalized domain.
 */
enum addr_err	 addr_parse_mailbox(const uint8_t *, size_t,
		    struct buf *addr_spec, struct buf *domain);
const char	*addr_strerror(enum addr_err);
/* Normalize a domain name as above (lower case, no trailing dot,
 * A-labels); -1 if it is not a valid host name. */
int		 addr_normalize_domain(const uint8_t *, size_t, struct buf *);

#endif
