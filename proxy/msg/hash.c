/*
 * hash — SHA-256 body-hash sinks for DKIM (RFC 6376 3.7 "bh=") and a
 * one-shot digest for header hashes.
 *
 * One canonicalization machine runs per algorithm in use; its output
 * feeds every slot of that algorithm, each slot stopping at its own l=
 * limit.  The machines and digests are owned by the struct hash_body.
 * Every OpenSSL return is checked; a failure poisons the whole object,
 * so a caller can never read a digest of a partial body.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "proxy/msg/canon.h"
#include "proxy/msg/hash.h"

#define HASH_ALGS	2	/* CANON_SIMPLE, CANON_RELAXED */

struct hash_body;

struct hash_slot {
	enum canon_alg	 alg;
	int64_t		 limit;		/* -1: whole body */
	EVP_MD_CTX	*md;
	uint64_t	 fed;		/* canonical octets hashed so far */
	uint8_t		 digest[HASH_SHA256_LEN];
};

struct hash_stream {
	struct hash_body	*hb;
	enum canon_alg		 alg;
	struct canon_body	*canon;		/* NULL: alg not in use */
	uint64_t		 total;		/* canonical octets seen */
};

struct hash_body {
	struct hash_slot	 slot[HASH_BODY_SLOTS_MAX];
	int			 nslots;
	struct hash_stream	 stream[HASH_ALGS];
	int			 started;
	int			 finished;
	int			 failed;
};

struct hash_body *
hash_body_new(void)
{
	struct hash_body	*hb;
	int			 a;

	if ((hb = calloc(1, sizeof(*hb))) == NULL)
		return NULL;
	for (a = 0; a < HASH_ALGS; a++) {
		hb->stream[a].hb = hb;
		hb->stream[a].alg = (enum canon_alg)a;
	}
	return hb;
}

void
hash_body_free(struct hash_body *hb)
{
	int	i;

	if (hb == NULL)
		return;
	for (i = 0; i < hb->nslots; i++)
		EVP_MD_CTX_free(hb->slot[i].md);
	for (i = 0; i < HASH_ALGS; i++)
		canon_body_free(hb->stream[i].canon);
	free(hb);
}

/* The canonical body of one algorithm, fanned out to its slots. */
static int
hash_sink(void *ctx, const uint8_t *p, size_t n)
{
	struct hash_stream	*st = ctx;
	struct hash_body	*hb = st->hb;
	struct hash_slot	*s;
	uint64_t		 room;
	size_t			 take;
	int			 i;

	for (i = 0; i < hb->nslots; i++) {
		s = &hb->slot[i];
		if (s->alg != st->alg)
			continue;
		take = n;
		if (s->limit >= 0) {
			room = (uint64_t)s->limit - s->fed;
			if (room < take)
				take = (size_t)room;
		}
		if (take == 0)
			continue;
		if (EVP_DigestUpdate(s->md, p, take) != 1) {
			ERR_clear_error();
			return -1;
		}
		s->fed += take;
	}
	if (n > UINT64_MAX - st->total)
		return -1;
	st->total += n;
	return 0;
}

int
hash_body_want(struct hash_body *hb, enum canon_alg alg, int64_t limit)
{
	struct hash_stream	*st;
	struct hash_slot	*s;
	int			 i;

	if (hb->started || hb->failed || limit < -1 ||
	    (alg != CANON_SIMPLE && alg != CANON_RELAXED))
		return -1;
	for (i = 0; i < hb->nslots; i++)
		if (hb->slot[i].alg == alg && hb->slot[i].limit == limit)
			return i;
	if (hb->nslots == HASH_BODY_SLOTS_MAX)
		return -1;
	st = &hb->stream[alg];
	if (st->canon == NULL &&
	    (st->canon = canon_body_new(alg, hash_sink, st)) == NULL)
		return -1;
	s = &hb->slot[hb->nslots];
	if ((s->md = EVP_MD_CTX_new()) == NULL)
		goto fail;
	if (EVP_DigestInit_ex(s->md, EVP_sha256(), NULL) != 1)
		goto fail;
	s->alg = alg;
	s->limit = limit;
	s->fed = 0;
	return hb->nslots++;
 fail:
	ERR_clear_error();
	EVP_MD_CTX_free(s->md);
	s->md = NULL;
	return -1;
}

int
hash_body_update(struct hash_body *hb, const uint8_t *p, size_t n)
{
	int	a;

	if (hb->failed || hb->finished)
		return -1;
	hb->started = 1;
	for (a = 0; a < HASH_ALGS; a++) {
		if (hb->stream[a].canon == NULL)
			continue;
		if (canon_body_update(hb->stream[a].canon, p, n) == -1) {
			hb->failed = 1;
			return -1;
		}
	}
	return 0;
}

int
hash_body_final(struct hash_body *hb)
{
	struct hash_slot	*s;
	unsigned int		 len;
	int			 a, i;

	if (hb->failed || hb->finished)
		return -1;
	hb->started = 1;
	for (a = 0; a < HASH_ALGS; a++) {
		if (hb->stream[a].canon == NULL)
			continue;
		if (canon_body_final(hb->stream[a].canon) == -1)
			goto fail;
	}
	for (i = 0; i < hb->nslots; i++) {
		s = &hb->slot[i];
		if (EVP_DigestFinal_ex(s->md, s->digest, &len) != 1 ||
		    len != HASH_SHA256_LEN) {
			ERR_clear_error();
			goto fail;
		}
	}
	hb->finished = 1;
	return 0;
 fail:
	hb->failed = 1;
	return -1;
}

int
hash_body_result(const struct hash_body *hb, int slot,
    uint8_t out[HASH_SHA256_LEN], uint64_t *canon_len)
{
	const struct hash_slot	*s;

	if (!hb->finished || slot < 0 || slot >= hb->nslots)
		return -1;
	s = &hb->slot[slot];
	memcpy(out, s->digest, HASH_SHA256_LEN);
	if (canon_len != NULL)
		*canon_len = hb->stream[s->alg].total;
	return 0;
}

int
hash_sha256(const void *p, size_t n, uint8_t out[HASH_SHA256_LEN])
{
	unsigned int	len;

	if (EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) != 1 ||
	    len != HASH_SHA256_LEN) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}
