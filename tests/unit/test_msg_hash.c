/*
 * Unit tests for proxy/msg/hash: SHA-256 known answers, DKIM body hashes
 * of the RFC examples, slots shared between identical requests, l=
 * limits and misuse refused.  Speed is measured by make bench, not here.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proxy/msg/buf.h"
#include "proxy/msg/canon.h"
#include "proxy/msg/hash.h"
#include "tests/unit/t.h"

#define LEN(s)	(sizeof(s) - 1)

static void
b64(const uint8_t d[HASH_SHA256_LEN], char out[64])
{
	sodium_bin2base64(out, 64, d, HASH_SHA256_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
}

static void
hex(const uint8_t d[HASH_SHA256_LEN], char out[2 * HASH_SHA256_LEN + 1])
{
	sodium_bin2hex(out, 2 * HASH_SHA256_LEN + 1, d, HASH_SHA256_LEN);
}

/* FIPS 180-2 appendix B and the SHA-256 of nothing. */
static void
test_sha256(void)
{
	static const struct {
		const char	*in;
		const char	*hex;
	} cases[] = {
		{ "", "e3b0c44298fc1c149afbf4c8996fb924"
		    "27ae41e4649b934ca495991b7852b855" },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223"
		    "b00361a396177a9cb410ff61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		    "248d6a61d20638b8e5c026930c3e6039"
		    "a33ce45964ff2167f6ecedd419db06c1" },
	};
	uint8_t	d[HASH_SHA256_LEN];
	char	h[2 * HASH_SHA256_LEN + 1];
	size_t	i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		T_OK(hash_sha256(cases[i].in, strlen(cases[i].in), d) == 0,
		    "sha256(\"%.8s\")", cases[i].in);
		hex(d, h);
		T_EQ_STR(h, cases[i].hex, "sha256 known answer");
	}
}

/* Hash a body under one (alg, limit) in the given chunk size. */
static int
body_hash(enum canon_alg alg, int64_t limit, const void *p, size_t n,
    size_t chunk, uint8_t d[HASH_SHA256_LEN], uint64_t *clen)
{
	struct hash_body	*hb;
	const uint8_t		*s = p;
	size_t			 off, take;
	int			 slot, rc = -1;

	if ((hb = hash_body_new()) == NULL)
		return -1;
	if ((slot = hash_body_want(hb, alg, limit)) < 0)
		goto done;
	for (off = 0; off < n; off += take) {
		take = n - off < chunk ? n - off : chunk;
		if (hash_body_update(hb, s + off, take) == -1)
			goto done;
	}
	if (hash_body_final(hb) == -1 ||
	    hash_body_result(hb, slot, d, clen) == -1)
		goto done;
	rc = 0;
 done:
	hash_body_free(hb);
	return rc;
}

/*
 * Body hashes given by the conformance data: RFC 6376 A.2 (simple, as
 * corrected in ../shared/conformance/rfc6376/README.md, and the printed
 * two-space body), RFC 8463 A.3 (relaxed).
 */
static void
test_known_bodies(void)
{
	static const struct {
		const char	*name;
		enum canon_alg	 alg;
		const char	*body;
		const char	*bh;
	} cases[] = {
		{ "rfc6376 A.2 simple (verifying copy)", CANON_SIMPLE,
		    "Hi.\r\n\r\nWe lost the game. Are you hungry yet?\r\n\r\n"
		    "Joe.\r\n",
		    "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=" },
		{ "rfc6376 A.2 simple (as printed, two spaces)", CANON_SIMPLE,
		    "Hi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\n"
		    "Joe.\r\n",
		    "4bLNXImK9drULnmePzZNEBleUanJCX5PIsDIFoH4KTQ=" },
		{ "rfc8463 A.3 relaxed", CANON_RELAXED,
		    "Hi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\n"
		    "Joe.\r\n\r\n",
		    "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=" },
	};
	static const size_t	 chunks[] = { 1, 2, 3, 7, 64, 1 << 20 };
	uint8_t			 d[HASH_SHA256_LEN];
	char			 s[64];
	size_t			 i, k;
	int			 ok;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ok = 1;
		for (k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
			if (body_hash(cases[i].alg, -1, cases[i].body,
			    strlen(cases[i].body), chunks[k], d, NULL) == -1) {
				ok = 0;
				break;
			}
			b64(d, s);
			if (strcmp(s, cases[i].bh) != 0)
				ok = 0;
		}
		T_OK(ok, "%s: bh= in every chunk size", cases[i].name);
	}
}

/*
 * Several slots over one body: the two algorithms, and l= limits (the
 * hash of the first l canonical octets, RFC 6376 3.5 "l=").
 */
static void
test_slots(void)
{
	static const char	 body[] = "a  b\r\n\r\nc\t\r\n\r\n\r\n";
	static const char	 simple[] = "a  b\r\n\r\nc\t\r\n";
	static const char	 relaxed[] = "a b\r\n\r\nc\r\n";
	static const struct {
		enum canon_alg	 alg;
		int64_t		 limit;
		const char	*canon;		/* full canonical body */
		size_t		 hashed;	/* octets of it hashed */
	} want[] = {
		{ CANON_SIMPLE, -1, simple, LEN(simple) },
		{ CANON_RELAXED, -1, relaxed, LEN(relaxed) },
		{ CANON_RELAXED, 0, relaxed, 0 },
		{ CANON_RELAXED, 4, relaxed, 4 },
		{ CANON_SIMPLE, 6, simple, 6 },
		{ CANON_SIMPLE, 1000, simple, LEN(simple) },
	};
	struct hash_body	*hb = hash_body_new();
	int			 slot[sizeof(want) / sizeof(want[0])];
	uint8_t			 d[HASH_SHA256_LEN], w[HASH_SHA256_LEN];
	uint64_t		 clen;
	size_t			 i;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		slot[i] = hash_body_want(hb, want[i].alg, want[i].limit);
	T_OK(slot[0] >= 0 && slot[1] >= 0 && slot[0] != slot[1],
	    "simple and relaxed get their own slots");
	T_EQ_INT(hash_body_want(hb, CANON_RELAXED, -1), slot[1],
	    "an identical request shares its slot");
	T_EQ_INT(hash_body_want(hb, CANON_RELAXED, -2), -1,
	    "a limit below -1 is refused");
	T_OK(hash_body_result(hb, slot[0], d, &clen) == -1,
	    "no result before final");
	for (i = 0; i < LEN(body); i++)
		if (hash_body_update(hb, (const uint8_t *)body + i, 1) == -1)
			break;
	T_EQ_INT(i, LEN(body), "body fed one octet at a time");
	T_EQ_INT(hash_body_want(hb, CANON_SIMPLE, 3), -1,
	    "no new slot after the first update");
	T_OK(hash_body_final(hb) == 0, "final");
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		T_OK(hash_body_result(hb, slot[i], d, &clen) == 0,
		    "result of slot %d", slot[i]);
		hash_sha256(want[i].canon, want[i].hashed, w);
		T_EQ_MEM(d, sizeof(d), w, sizeof(w),
		    "slot digest is the SHA-256 of its canonical prefix");
		T_EQ_INT(clen, strlen(want[i].canon),
		    "canonical length is the whole body's");
	}
	T_OK(hash_body_result(hb, -1, d, NULL) == -1 &&
	    hash_body_result(hb, 99, d, NULL) == -1, "unknown slots refused");
	T_OK(hash_body_update(hb, (const uint8_t *)"x", 1) == -1,
	    "no update after final");
	T_OK(hash_body_final(hb) == -1, "no second final");
	hash_body_free(hb);
	hash_body_free(NULL);
}

static void
test_slot_limit(void)
{
	struct hash_body	*hb = hash_body_new();
	int			 i, ok = 1;

	for (i = 0; i < HASH_BODY_SLOTS_MAX; i++)
		if (hash_body_want(hb, CANON_RELAXED, i) != i)
			ok = 0;
	T_OK(ok, "HASH_BODY_SLOTS_MAX distinct slots");
	T_EQ_INT(hash_body_want(hb, CANON_SIMPLE, -1), -1,
	    "one slot more is refused");
	T_EQ_INT(hash_body_want(hb, CANON_RELAXED, 3), 3,
	    "an existing slot is still found");
	hash_body_free(hb);

	hb = hash_body_new();
	T_OK(hash_body_update(hb, (const uint8_t *)"abc\r\n", 5) == 0 &&
	    hash_body_final(hb) == 0, "no slots: the body is simply dropped");
	hash_body_free(hb);
}

int
main(void)
{
	test_sha256();
	test_known_bodies();
	test_slots();
	test_slot_limit();
	return t_done();
}
