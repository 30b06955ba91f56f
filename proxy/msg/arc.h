/*
 * arc — Authenticated Received Chain (RFC 8617): parsing of the ARC
 * header fields, chain validation (5.2) and sealing (5.1).
 *
 * Like verify.h, the library never does DNS and never sees a key.  It
 * asks for key records and the caller answers, so signetd can look them
 * up asynchronously; sealing hands SHA-256 digests to a dkim_sign_fn.
 *
 *	a = arc_new(headers, now, hb);	// structure checked here
 *	for each k < arc_key_count(a):
 *		arc_key_name(a, k, name);	// s._domainkey.d
 *		arc_answer(a, k, VERIFY_DNS_OK, txt, txtlen);
 *	... feed the body to hb, hash_body_final(hb) ...
 *	arc_finish(a);				// ARC_CV_NONE/PASS/FAIL
 *	if (arc_next_instance(a) > 0)
 *		arc_seal(a, headers, &params, out);	// AS, AMS, AAR
 *
 * Only rsa-sha256 exists for ARC (RFC 8617 4.1.2, 4.1.3); an ARC
 * signature with any other a= (rsa-sha1, or the ed25519-sha256 that
 * some implementations experiment with) fails with "unsupported
 * algorithm".  An AMS without c= uses RFC 6376's default simple/simple,
 * which RFC 8617 4.1.2 inherits.  The header list and the hash_body
 * belong to the caller and must outlive the struct arc; the list must
 * not change until arc_finish.  The ARC fields themselves are copied,
 * so afterwards the caller may edit the list before arc_seal.
 */
#ifndef SIGNET_ARC_H
#define SIGNET_ARC_H

#include <stddef.h>
#include <stdint.h>

#include "proxy/msg/dkim.h"
#include "proxy/msg/verify.h"

struct buf;
struct hash_body;
struct hdr_list;
struct arc;

#define ARC_SETS_MAX	50	/* RFC 8617 4.2.1: i= is 1 to 50 */
/* ARC fields looked at: three per set; more is a broken chain (AR-02). */
#define ARC_FIELDS_MAX	(3 * ARC_SETS_MAX)
/* Distinct key records: one AMS and one AS per set at most. */
#define ARC_KEYS_MAX	(2 * ARC_SETS_MAX)

enum arc_cv {
	ARC_CV_NONE = 0,	/* no ARC fields at all */
	ARC_CV_PASS,
	ARC_CV_FAIL
};

/* "none", "pass", "fail": the cv= values and the arc= result words. */
const char	*arc_cv_name(enum arc_cv);

/*
 * Collect and check the ARC fields of the list (structure, instance
 * numbers, cv= sequence, each signature's tags) and register the body
 * hashes needed (the newest AMS, relaxed for a seal, older AMSs) with
 * hb, which must not have been fed yet.  A hash_body has a fixed number
 * of slots, so call this before verify_new() on the same one: hostile
 * DKIM-Signatures cannot then crowd out the slot a seal needs (if they
 * could, arc_seal fails).  now: the clock for an AMS x=.  NULL only for
 * memory shortage.
 */
struct arc	*arc_new(const struct hdr_list *, int64_t now,
		    struct hash_body *hb);
void		 arc_free(struct arc *);

/* Key records wanted (0 when the structure already decided). */
size_t		 arc_key_count(const struct arc *);
/* The DNS name to query for key k: "selector._domainkey.domain". */
int		 arc_key_name(const struct arc *, size_t k, struct buf *);
/* The answer for key k; txt may be NULL unless VERIFY_DNS_OK. */
int		 arc_answer(struct arc *, size_t k, enum verify_dns,
		    const uint8_t *txt, size_t len);
/* After hash_body_final: verify the signatures and decide the chain. */
int		 arc_finish(struct arc *);

/* The chain validation status (RFC 8617 5.2) and why, in a few words. */
enum arc_cv	 arc_result(const struct arc *);
const char	*arc_reason(const struct arc *);
/* 1 when a fail came only from a DNS error: the caller may retry. */
int		 arc_temporary(const struct arc *);

/*
 * Sets found: the highest instance when the structure is sound, else
 * 0.  Per set (i from 1): the results of its AMS and its AS, the reason,
 * d= and s= as written ("" if missing), and the cv= it claims.
 */
size_t		 arc_set_count(const struct arc *);
enum verify_result arc_ams_result(const struct arc *, size_t i);
const char	*arc_ams_reason(const struct arc *, size_t i);
enum verify_result arc_as_result(const struct arc *, size_t i);
const char	*arc_as_reason(const struct arc *, size_t i);
const uint8_t	*arc_ams_domain(const struct arc *, size_t i, size_t *len);
const uint8_t	*arc_ams_selector(const struct arc *, size_t i,
		    size_t *len);
const uint8_t	*arc_as_domain(const struct arc *, size_t i, size_t *len);
const uint8_t	*arc_as_selector(const struct arc *, size_t i,
		    size_t *len);
enum arc_cv	 arc_set_cv(const struct arc *, size_t i);

/*
 * The instance a seal would get, or 0 when none may be added: the
 * newest ARC-Seal already says cv=fail, or ARC_SETS_MAX sets exist
 * (arc_test_suite no_additional_sig, hostile-inputs AR-02).  For a
 * broken chain it is one above the highest readable instance.
 */
unsigned	 arc_next_instance(const struct arc *);

struct arc_seal_params {
	const char		*domain;	/* d= */
	const char		*selector;	/* s= */
	const char		*authserv_id;	/* in the AAR */
	/*
	 * The AAR results after the authserv-id, resinfo separated by
	 * ';' ("dkim=pass header.d=example.com; arc=pass"); NULL or ""
	 * writes "none".  Printable text: no CR, LF or other controls.
	 */
	const char		*results;
	int64_t			 time;		/* t= */
	/*
	 * AMS h=: an explicit "from:to:subject" list, or NULL to choose
	 * with dkim_select_headers() from the lists below.  Names that
	 * dkim_header_signable() refuses (arc-*, trace fields) are
	 * refused in an explicit list.
	 */
	const char		*headers;
	const char *const	*sign;
	size_t			 nsign;
	const char *const	*oversign;
	size_t			 noversign;
	dkim_sign_fn		 sign_fn;	/* RSA: rsa-sha256 only */
	void			*sign_ctx;
};

/*
 * After arc_finish: append the next ARC set to out, top first:
 * ARC-Seal, ARC-Message-Signature, ARC-Authentication-Results, each
 * ending CRLF, for the message whose header section is hl (the fields
 * the caller will send, Authentication-Results claiming our authserv-id
 * already removed; see arc_ar_ours).  cv= is arc_result(); a failed
 * chain's seal covers only the new set (RFC 8617 5.1.1, hostile-inputs
 * AR-02).  Appends nothing and returns 0 when arc_next_instance() is 0.
 * Tags are written in the "standardized" order of the ARC test suite
 * (AMS: a b bh c d h i s t; AS: a b cv d i s t), folded only at the
 * spaces between tags; the AMS b= is never folded, because the seal
 * covers the AMS as written.
 */
int		 arc_seal(const struct arc *, const struct hdr_list *,
		    const struct arc_seal_params *, struct buf *out);

/*
 * Authentication-Results (RFC 8601).  arc_ar_ours: the indices, top
 * first, of the fields whose authserv-id equals id (compared
 * case-insensitively), at most max of them in idx; *n is how many
 * there are in all.  RFC 8601 5 and hostile-inputs AR-01: the caller
 * deletes them before validating and sealing, so nobody upstream can
 * speak for us.  -1 when id is not a token (RFC 8601 2.2).
 */
int		 arc_ar_ours(const struct hdr_list *, const char *id,
		    size_t *idx, size_t max, size_t *n);
/*
 * The authserv-id of one A-R field value (after the colon), unquoted,
 * appended to out; -1 when the value does not start with one.
 */
int		 arc_ar_authserv_id(const uint8_t *, size_t,
		    struct buf *out);
/*
 * The results of one A-R field value, each resinfo trimmed and its
 * whitespace runs made single spaces, appended to out joined by "; "
 * (a "; " first when out is not empty): what RFC 8617 4.1.1 lets a
 * sealer copy into its AAR.  "none" adds nothing.  -1 on a value that
 * does not start with an authserv-id.
 */
int		 arc_ar_results(const uint8_t *, size_t, struct buf *out);

#endif
