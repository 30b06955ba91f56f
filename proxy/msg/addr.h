/*
 * addr — the From mailbox that decides the signing domain (RFC 5322 3.4).
 *
 * Strict: exactly one mailbox (name-addr or addr-spec), no group syntax,
 * no obsolete forms (periods in display names excepted); display names,
 * comments and RFC 2047 encoded words are never searched for addresses.
 * UTF-8 is accepted where RFC 6532 allows it.  A domain may be written
 * with one final dot.  The domain comes back lower-cased, that dot
 * removed, in IDNA A-label form (UTS #46 non-transitional).
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
 * On ADDR_OK, addr_spec (may be NULL) gets local@domain as written
 * (CFWS and folding CRLFs left out) appended, and domain the normalized
 * domain; on error neither buffer changes.
 */
enum addr_err	 addr_parse_mailbox(const uint8_t *, size_t,
		    struct buf *addr_spec, struct buf *domain);
const char	*addr_strerror(enum addr_err);
/* Append a domain name normalized as above (lower case, no trailing
 * dot, A-labels); -1, buffer unchanged, if it is not a valid host name
 * (LDH labels, at most 253 octets, last label not all digits). */
int		 addr_normalize_domain(const uint8_t *, size_t, struct buf *);

#endif
