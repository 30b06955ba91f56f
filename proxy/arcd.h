/*
 * arcd — ARC sealing inside signetd (RFC 8617 5.1, 5.2): one job per
 * message of a domain with arc enabled.
 *
 *	j = arcd_new(...);	// header done: our A-R removed, chain read
 *	... the DKIM signer registers its body hashes ...
 *	arcd_start(j);		// DKIM signatures collected, lookups sent
 *	... body fed to hb, hash_body_final(hb) ...
 *	arcd_finish(j, done, arg);	// later: done(arg, outcome)
 *	arcd_set(j)		// ARCD_SEALED: AS, AMS, AAR to prepend
 *
 * Key records are fetched without blocking the worker's event loop: one
 * UDP socket per configured resolver and job, EDNS0 queries built by
 * keys/dnscheck, answers read by arcd_dns_answer, retried while the
 * body arrives and bounded by resolver.timeout once it has.  The header list and the
 * hash_body belong to the caller and must outlive the job; the config
 * strings and the key come from the caller's snapshot, held to the end
 * of the transaction.
 */
#ifndef SIGNET_ARCD_H
#define SIGNET_ARCD_H

#include <stddef.h>
#include <stdint.h>

struct config_arc;
struct config_resolver;
struct config_signing;
struct event_base;
struct hash_body;
struct hdr_list;
struct keys_key;
struct buf;
struct arcd;

enum arcd_outcome {
	ARCD_SEALED,		/* arcd_set() holds the new set */
	ARCD_NOT_EXTENDED,	/* newest seal says cv=fail, or 50 sets */
	ARCD_TEMPFAIL,		/* the chain result hangs on a failed lookup */
	ARCD_ERROR		/* memory or signing */
};

typedef void	(*arcd_done_fn)(void *arg, enum arcd_outcome);

/*
 * Delete the Authentication-Results claiming our authserv-id from hl
 * (RFC 8601 5, hostile-inputs AR-01), keep the results of the trusted
 * authserv-ids for the AAR, and read the ARC chain.  Before any other
 * user of hb registers a body hash.  NULL: memory.
 */
struct arcd	*arcd_new(struct event_base *, const struct config_resolver *,
		    const struct config_signing *, const char *domain,
		    const struct config_arc *, const struct keys_key *,
		    const char *selector, const char *sid, struct hdr_list *hl,
		    struct hash_body *hb);
/*
 * Only the deletion of arcd_new, for a domain whose ARC key is missing:
 * its mail goes out unsealed, but still nobody speaks for us.  0 or -1.
 */
int		 arcd_remove_ours(struct hdr_list *, const struct config_arc *,
		    const char *sid);
/* Collect the DKIM-Signatures and send every key query.  0 or -1. */
int		 arcd_start(struct arcd *);
/*
 * After hash_body_final: wait at most resolver.timeout for the missing
 * answers, validate, seal.  done is called once, from the event loop,
 * never from inside this call; not at all after arcd_free.
 */
void		 arcd_finish(struct arcd *, arcd_done_fn, void *arg);
/* The ARC set, top first, each field ending CRLF (ARCD_SEALED). */
const struct buf *arcd_set(const struct arcd *);
void		 arcd_free(struct arcd *);

/*
 * One datagram from the resolver, read as the answer to the TXT query
 * for qname with this id: -1 when it is not that (wrong id, not a
 * reply, another question, malformed); else the enum verify_dns for the
 * record, its strings joined into txt when VERIFY_DNS_OK.  CNAMEs in
 * the answer section are followed; a truncated reply is an error.
 * Pure, for tests and fuzzing.
 */
int		 arcd_dns_answer(const uint8_t *, size_t, const char *qname,
		    const uint8_t id[2], struct buf *txt);

#endif
