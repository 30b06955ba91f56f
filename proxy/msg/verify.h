/*
 * verify — DKIM verification, RFC 6376 section 6 with RFC 8301 (no
 * rsa-sha1, RSA keys of at least 1024 bits) and RFC 8463 (Ed25519).
 *
 * The library never does DNS.  It asks and the caller answers, so the
 * daemon can look keys up asynchronously:
 *
 *	v = verify_new(headers, now, hb);	// collects the signatures
 *	... feed the body to hb, hash_body_final(hb) ...
 *	for each i < verify_count(v):
 *		if (verify_key_name(v, i, name) == 0)	// s._domainkey.d
 *			verify_answer(v, i, VERIFY_DNS_OK, txt, txtlen);
 *	verify_finish(v);
 *	verify_result(v, i), verify_reason(v, i) ...
 *
 * Answers may arrive before, during or after the body.  The header list
 * and the hash_body belong to the caller and must outlive the verify.
 */
#ifndef SIGNET_VERIFY_H
#define SIGNET_VERIFY_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct hash_body;
struct hdr_list;
struct verify;
struct verify_key;

#define VERIFY_SIGS_MAX		32	/* signatures evaluated per message */
#define VERIFY_RSA_MIN_BITS	1024	/* RFC 8301 3.2 */
#define VERIFY_KEY_TXT_MAX	(16 * 1024)	/* one key record (KY-07) */

enum verify_result {
	VERIFY_NONE = 0,	/* not evaluated (yet) */
	VERIFY_PASS,
	VERIFY_FAIL,
	VERIFY_PERMERROR,
	VERIFY_TEMPERROR
};

enum verify_dns {
	VERIFY_DNS_OK = 0,	/* txt holds the record, strings joined */
	VERIFY_DNS_NXDOMAIN,	/* no such name (or no TXT record) */
	VERIFY_DNS_ERROR	/* timeout, SERVFAIL, ...: try again later */
};

enum verify_keytype {
	VERIFY_KEY_RSA = 0,	/* k=rsa, the default */
	VERIFY_KEY_ED25519	/* RFC 8463 */
};

/* What the signature needs from its key record. */
struct verify_keyreq {
	enum verify_keytype	 type;		/* from a= */
	int			 rsa_only;	/* ARC: any other k= refused */
	int			 subdomain;	/* i= below d=: t=s refuses */
};

/*
 * A key record (RFC 6376 3.6.1, 6.1.2; RFC 8301 RSA sizes; RFC 8463).
 * 0 and *out set: a usable key, freed with verify_key_free.  0 and *out
 * NULL: unusable, *r and *reason (static) say why.  -1: memory.
 */
int		 verify_key_parse(const uint8_t *txt, size_t len,
		    const struct verify_keyreq *, struct verify_key **out,
		    enum verify_result *r, const char **reason);
void		 verify_key_free(struct verify_key *);
/* sig over a SHA-256 digest: 1 verified, 0 not, -1 error. */
int		 verify_key_check(const struct verify_key *,
		    const uint8_t *digest, const uint8_t *sig, size_t siglen);

/*
 * Collect the DKIM-Signature fields (top first, at most VERIFY_SIGS_MAX;
 * the rest are reported as permerror) and register their body hashes
 * with hb, which must not have been fed yet.  now: the clock for x=.
 */
struct verify	*verify_new(const struct hdr_list *, int64_t now,
		    struct hash_body *hb);
void		 verify_free(struct verify *);
size_t		 verify_count(const struct verify *);
/* The name to query for signature i; -1 when i needs no key (decided). */
int		 verify_key_name(const struct verify *, size_t i, struct buf *);
/* The DNS answer for signature i (txt may be NULL unless VERIFY_DNS_OK). */
int		 verify_answer(struct verify *, size_t i, enum verify_dns,
		    const uint8_t *txt, size_t len);
/* After hash_body_final: decide every signature. */
int		 verify_finish(struct verify *);

enum verify_result verify_result(const struct verify *, size_t i);
const char	*verify_result_name(enum verify_result);
/* Why, in a few words; never NULL. */
const char	*verify_reason(const struct verify *, size_t i);
/* d=, s= and a= as written in the signature (empty if missing). */
const uint8_t	*verify_domain(const struct verify *, size_t i, size_t *len);
const uint8_t	*verify_selector(const struct verify *, size_t i,
		    size_t *len);
const uint8_t	*verify_algorithm(const struct verify *, size_t i,
		    size_t *len);

#endif
