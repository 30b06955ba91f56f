/*
 * dkim — DKIM tag lists, h= selection, the header hash, and the
 * DKIM-Signature builder (RFC 6376 3.2, 3.5, 3.7, 5; RFC 8463).
 *
 * The signer never sees a key: it hands the SHA-256 header digest to a
 * caller-supplied dkim_sign_fn and inserts what comes back as b=.  The
 * body is hashed by a struct hash_body that the caller owns and feeds,
 * so signing and verifying one message share one pass over the body.
 */
#ifndef SIGNET_DKIM_H
#define SIGNET_DKIM_H

#include <stddef.h>
#include <stdint.h>

#include "proxy/msg/canon.h"
#include "proxy/msg/hash.h"

struct buf;
struct hdr_list;
struct hash_body;

#define DKIM_TAGS_MAX	64	/* tags in one tag-list; RFC 6376 defines 14 */
#define DKIM_HNAMES_MAX	512	/* names in one h= (the hash walk is n^2) */
#define DKIM_LINE_MAX	78	/* RFC 5322 2.1.1: SHOULD NOT exceed 78 */
#define DKIM_SIG_MAX	1024	/* signature octets: RSA up to 8192 bits */
#define DKIM_FIELD_MAX	(64 * 1024)	/* one DKIM-Signature we build */

/* RFC 6376 3.2 tag lists. */
enum dkim_tags_err {
	DKIM_TAGS_OK = 0,
	DKIM_TAGS_SYNTAX,	/* not a tag-list */
	DKIM_TAGS_DUPLICATE,	/* a tag name occurs twice (3.2: invalid) */
	DKIM_TAGS_TOO_MANY,	/* more than DKIM_TAGS_MAX tags */
	DKIM_TAGS_NOMEM
};

struct dkim_tags;

/*
 * Parse a tag-list.  Values point into the input, which must outlive the
 * result.  On error *out is NULL and *erroff (if not NULL) is the offset
 * where parsing stopped.  A final ';' may be followed by FWS only.
 */
enum dkim_tags_err dkim_tags_parse(const uint8_t *, size_t,
		    struct dkim_tags **out, size_t *erroff);
const char	*dkim_tags_strerror(enum dkim_tags_err);
void		 dkim_tags_free(struct dkim_tags *);
size_t		 dkim_tags_count(const struct dkim_tags *);
const uint8_t	*dkim_tags_name(const struct dkim_tags *, size_t i,
		    size_t *len);
/* The tag-value, without the FWS around it. */
const uint8_t	*dkim_tags_value(const struct dkim_tags *, size_t i,
		    size_t *len);
/* Index of the tag with that name (case-sensitive, 3.2), or -1. */
long		 dkim_tags_find(const struct dkim_tags *, const char *name);
/* Value of the named tag, or NULL when absent. */
const uint8_t	*dkim_tags_get(const struct dkim_tags *, const char *name,
		    size_t *len);
/*
 * Offset and length, in the parsed input, of everything between the
 * tag's '=' and its ';' (or the end): the value with its surrounding
 * whitespace, which 3.7 deletes from b= before hashing.
 */
int		 dkim_tags_span(const struct dkim_tags *, const char *name,
		    size_t *off, size_t *len);

/* Base64 with FWS in it (b=, bh=, p=) -> bytes; -1 on bad input. */
int		 dkim_base64_decode(const uint8_t *, size_t, struct buf *);

/* Tag values shared by DKIM and ARC verification. */
#define DKIM_NAME_MAX	255	/* RFC 1035 2.3.4: a domain name */
#define DKIM_NUM_DIGITS	18	/* t=, x=, l=, i=: what fits an int64_t */
/* A d= / s= style name: LDH, '_' and dots, not starting or ending with '.'. */
int		 dkim_value_is_dname(const uint8_t *, size_t);
/* 1*DIGIT of at most DKIM_NUM_DIGITS into *out; 0, or -1. */
int		 dkim_value_number(const uint8_t *, size_t, int64_t *out);
/* The value equals s, ignoring case. */
int		 dkim_value_is(const uint8_t *, size_t, const char *s);

/*
 * Walk an h= value: the next field name from *pos, 1 when one is found,
 * 0 at the end, -1 on a syntax error (sig-h-tag, RFC 6376 3.5).
 */
int		 dkim_hnames_next(const uint8_t *, size_t, size_t *pos,
		    const uint8_t **name, size_t *namelen);

/* 0 for fields a signer must never list (trace and other signatures). */
int		 dkim_header_signable(const char *name);

/*
 * The default lists (DESIGN.md signing.headers/oversign, hostile-inputs
 * DK-02 and DK-05).  A name ending in '*' matches every field name with
 * that prefix.
 */
extern const char *const dkim_default_sign[];
extern const size_t	 dkim_default_nsign;
extern const char *const dkim_default_oversign[];
extern const size_t	 dkim_default_noversign;

/*
 * h= selection.  Names come out lower-case, joined by ':' with no
 * whitespace, in this order: every name of sign (then those of oversign
 * missing from sign) once per present instance; then every oversign
 * name once more.  So a name in oversign present N times is listed N+1
 * times (an absent one once: nothing can be added), a name only in sign
 * is listed once per instance and not at all when absent.  From is
 * always listed, first if no list names it; unsignable names are
 * dropped.  -1 on a malformed name or memory shortage.
 */
int		 dkim_select_headers(const struct hdr_list *,
		    const char *const *sign, size_t nsign,
		    const char *const *oversign, size_t noversign,
		    struct buf *out);

/*
 * The bytes hashed for the header signature (3.7): the h= fields taken
 * from the bottom up and canonicalized, then sigfield (a raw
 * DKIM-Signature field ending CRLF, b= already empty) canonicalized
 * without its final CRLF.  Appended to out.
 */
int		 dkim_header_data(const struct hdr_list *, enum canon_alg,
		    const uint8_t *h, size_t hlen, const uint8_t *sigfield,
		    size_t siglen, struct buf *out);

/* Signing. */
enum dkim_alg {
	DKIM_ALG_RSA_SHA256 = 0,
	DKIM_ALG_ED25519_SHA256
};

const char	*dkim_alg_name(enum dkim_alg);

/*
 * Sign a SHA-256 digest: RSA PKCS#1 v1.5 over the digest, or Ed25519
 * over the 32 digest octets (RFC 8463 3).  *siglen is the capacity on
 * entry and the length on return.  0 or -1.
 */
typedef int	(*dkim_sign_fn)(void *ctx,
		    const uint8_t digest[HASH_SHA256_LEN], uint8_t *sig,
		    size_t *siglen);

struct dkim_params {
	enum dkim_alg		 alg;
	enum canon_alg		 hcanon;
	enum canon_alg		 bcanon;
	const char		*domain;	/* d= */
	const char		*selector;	/* s= */
	const char		*identity;	/* i=, NULL for none */
	int			 query_dns;	/* emit q=dns/txt */
	int64_t			 time;		/* t= */
	uint64_t		 expiration;	/* x= t + this; 0: no x= */
	const char *const	*sign;		/* h= selection lists */
	size_t			 nsign;
	const char *const	*oversign;
	size_t			 noversign;
	dkim_sign_fn		 sign_fn;
	void			*sign_ctx;	/* kept, not copied */
};

struct dkim_signer;

/* hb: the caller feeds it the body and finalizes it before finish. */
struct dkim_signer *dkim_signer_new(struct hash_body *hb);
void		 dkim_signer_free(struct dkim_signer *);
/*
 * Add one signature; strings are copied and h= is chosen now, so the
 * header list must not change before finish.  Only before the first
 * body update.  0 or -1.
 */
int		 dkim_signer_add(struct dkim_signer *, const struct hdr_list *,
		    const struct dkim_params *);
/*
 * After hash_body_final: append one DKIM-Signature field per add, in
 * the order added (the first belongs on top), each ending CRLF, folded
 * so no line passes DKIM_LINE_MAX where a fold point exists.
 */
int		 dkim_signer_finish(struct dkim_signer *,
		    const struct hdr_list *, struct buf *out);

/*
 * Lower level: field is a complete caller-formatted DKIM-Signature field
 * (ending CRLF) with an empty b= value and bh= filled in.  Its h= and c=
 * decide the hash; the signature is inserted right after "b=" and the
 * whole field appended to out.
 */
int		 dkim_sign_field(const struct hdr_list *, const uint8_t *field,
		    size_t len, dkim_sign_fn, void *ctx, struct buf *out);

#endif
