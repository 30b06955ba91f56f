/*
 * hash — SHA-256 sinks for DKIM body hashes and header hashes.
 *
 * One struct hash_body takes the body once and feeds every
 * canonicalization in use (simple, relaxed, and for verification any l=
 * limit), so two signatures with different c= hash the body in one pass.
 * Each canonicalization runs once however many slots use it.
 */
#ifndef SIGNET_HASH_H
#define SIGNET_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "proxy/msg/canon.h"

#define HASH_SHA256_LEN	32
/* Body hashes per message: a verifier may bound the signatures it
 * evaluates (RFC 6376 6.1); signing needs at most one per c= body. */
#define HASH_BODY_SLOTS_MAX	16

struct hash_body;

struct hash_body *hash_body_new(void);
void		 hash_body_free(struct hash_body *);
/*
 * Ask for a body hash under alg, limited to the first limit canonical
 * octets (-1 for the whole body).  Returns a slot number >= 0, or -1.
 * Identical requests share a slot.  Only before the first update; at
 * most HASH_BODY_SLOTS_MAX distinct slots.
 */
int		 hash_body_want(struct hash_body *, enum canon_alg,
		    int64_t limit);
int		 hash_body_update(struct hash_body *, const uint8_t *, size_t);
int		 hash_body_final(struct hash_body *);
/* After final: the digest of a slot, and how many canonical octets the
 * whole body had under that slot's alg (to check an l= against). */
int		 hash_body_result(const struct hash_body *, int slot,
		    uint8_t out[HASH_SHA256_LEN], uint64_t *canon_len);

/* One-shot SHA-256. */
int		 hash_sha256(const void *, size_t,
		    uint8_t out[HASH_SHA256_LEN]);

#endif
