/*
 * signer — load, check, generate and write DKIM private keys, and sign
 * SHA-256 digests with them (RFC 6376 3.3, RFC 8301, RFC 8463).
 *
 * Invariants: a struct keys_key never changes after keys_load*() or
 * keys_generate() returns it, so signing needs no lock.  Ed25519 secret
 * keys live in slots of shared sodium_malloc regions (sk_store), read-only
 * except while a slot is written or wiped.  RSA keys live in an EVP_PKEY (OpenSSL clears the
 * private numbers on free); every serialized copy we make — the file as
 * read, PEM and DER encodings — is in sodium_malloc memory or an OpenSSL
 * "secmem" BIO, and is wiped before it is freed.  Error messages name
 * files and describe problems; they never quote key bytes.
 *
 * Ownership: the caller owns what keys_load*() and keys_generate()
 * return and releases it with keys_free().
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "keys/signer.h"
#include "proxy/msg/buf.h"
#include "proxy/msg/errmsg.h"

/*
 * Largest key file read.  An RSA-4096 PEM is about 3.3 KB; the margin is
 * for text some tools put before the PEM block (OpenSSL's "Bag
 * Attributes").
 */
#define KEYS_FILE_MAX		65536
#define KEYS_FILE_SMALL		8192	/* an RSA-4096 PKCS#8 PEM is ~3.3 KiB */

#define ED25519_SEED_LEN	crypto_sign_SEEDBYTES		/* 32 */
#define ED25519_PK_LEN		crypto_sign_PUBLICKEYBYTES	/* 32 */
#define ED25519_SK_LEN		crypto_sign_SECRETKEYBYTES	/* 64 */
#define ED25519_SIG_LEN		crypto_sign_BYTES		/* 64 */

/*
 * RFC 8410 7: PKCS#8 OneAsymmetricKey for Ed25519 is this fixed prefix
 * followed by the 32-byte seed; the SubjectPublicKeyInfo (RFC 8410 4)
 * is its prefix followed by the 32-byte public key.
 */
static const uint8_t ed25519_pkcs8_prefix[] = {
	0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
	0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
};
static const uint8_t ed25519_spki_prefix[] = {
	0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65,
	0x70, 0x03, 0x21, 0x00,
};
#define ED25519_PKCS8_LEN	(sizeof(ed25519_pkcs8_prefix) + \
				    ED25519_SEED_LEN)

/* Any 32 bytes do as the digest of the load-time sign+verify probe. */
static const uint8_t probe_digest[KEYS_SHA256_LEN] = {
	's', 'i', 'g', 'n', 'e', 't', ' ', 'k', 'e', 'y', ' ', 'p', 'r',
	'o', 'b', 'e', 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
};

struct keys_key {
	enum keys_alg	 alg;
	unsigned	 bits;
	EVP_PKEY	*pkey;			/* RSA */
	unsigned char	*sk;			/* Ed25519, sodium_malloc */
	uint8_t		 pk[ED25519_PK_LEN];	/* Ed25519 */
	uint8_t		*spki;			/* DER public key */
	size_t		 spkilen;
};

/* What keys_load* checks about the file beyond its content. */
enum file_checks {
	FILE_STRICT,		/* every problem is an error */
	FILE_WARN,		/* mode, owner, symlink, dir: warnings */
};

/* Append "; " and a message to a one-line warning. */
static void
warnf(char *warn, size_t warnlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
warnf(char *warn, size_t warnlen, const char *fmt, ...)
{
	va_list	ap;
	size_t	used;

	if (warn == NULL || warnlen == 0)
		return;
	used = strnlen(warn, warnlen);
	if (used > 0 && used + 2 < warnlen) {
		memcpy(warn + used, "; ", 3);
		used += 2;
	}
	if (used + 1 >= warnlen)
		return;
	va_start(ap, fmt);
	vsnprintf(warn + used, warnlen - used, fmt, ap);
	va_end(ap);
}

/*
 * The one place the OpenSSL error queue is drained: the message, then
 * the reason of the last queued error.  Only reason strings are used;
 * the queue's free-form data could in principle echo input.
 */
static void
ossl_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
ossl_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list		 ap;
	unsigned long	 e, last = 0;
	const char	*reason;
	size_t		 used;

	while ((e = ERR_get_error()) != 0)
		last = e;
	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	if (last == 0 || (reason = ERR_reason_error_string(last)) == NULL)
		return;
	used = strlen(err);
	if (used + 3 < errlen)
		snprintf(err + used, errlen - used, " (openssl: %s)", reason);
}

static int
sodium_ready(char *err, size_t errlen)
{
	if (sodium_init() < 0) {
		errmsg_set(err, errlen, "libsodium failed to initialize");
		return -1;
	}
	return 0;
}

/*
 * Ed25519 secret keys share sodium_malloc regions of SK_SLAB_SLOTS keys.
 * One region per key costs three kernel mappings and a dozen system
 * calls: an ESP's 20,000 keys, held twice while a reload builds the new
 * set, would pass Linux's default 65,530 mappings per process and spend
 * seconds in set-up (every mprotect or munmap is a TLB shoot-down on a
 * multi-threaded process).  Regions keep sodium_malloc's guard pages and
 * locking and every slot is wiped when freed; they are not toggled
 * read-only per key, for the same reason.  Slots change under sk_mtx.
 */
#define SK_SLAB_SLOTS	512

struct sk_slab {
	struct sk_slab	*next;
	unsigned char	*mem;		/* SK_SLAB_SLOTS * ED25519_SK_LEN */
	size_t		 nused;
	uint8_t		 used[SK_SLAB_SLOTS];
};

static pthread_mutex_t	 sk_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct sk_slab	*sk_slabs;

/* A read-only copy of sk in a shared region; NULL when memory is short. */
static unsigned char *
sk_store(const unsigned char *sk)
{
	struct sk_slab	*sl;
	unsigned char	*slot = NULL;
	size_t		 i;

	pthread_mutex_lock(&sk_mtx);
	for (sl = sk_slabs; sl != NULL; sl = sl->next)
		if (sl->nused < SK_SLAB_SLOTS)
			break;
	if (sl == NULL) {
		if ((sl = calloc(1, sizeof(*sl))) == NULL)
			goto done;
		sl->mem = sodium_malloc(SK_SLAB_SLOTS * ED25519_SK_LEN);
		if (sl->mem == NULL) {
			free(sl);
			goto done;
		}
		sodium_memzero(sl->mem, SK_SLAB_SLOTS * ED25519_SK_LEN);
		sl->next = sk_slabs;
		sk_slabs = sl;
	}
	for (i = 0; sl->used[i]; i++)
		continue;
	slot = sl->mem + i * ED25519_SK_LEN;
	memcpy(slot, sk, ED25519_SK_LEN);
	sl->used[i] = 1;
	sl->nused++;
done:
	pthread_mutex_unlock(&sk_mtx);
	return slot;
}

/* Wipe and free a slot of sk_store; the last slot frees its region. */
static void
sk_release(unsigned char *slot)
{
	struct sk_slab	*sl, **pp;
	size_t		 span = SK_SLAB_SLOTS * ED25519_SK_LEN, i;

	pthread_mutex_lock(&sk_mtx);
	for (pp = &sk_slabs; (sl = *pp) != NULL; pp = &sl->next)
		if (slot >= sl->mem && slot < sl->mem + span)
			break;
	if (sl == NULL)
		abort();	/* not ours: a double free or a stray pointer */
	i = (size_t)(slot - sl->mem) / ED25519_SK_LEN;
	sodium_memzero(slot, ED25519_SK_LEN);
	sl->used[i] = 0;
	if (--sl->nused == 0) {
		*pp = sl->next;
		sodium_free(sl->mem);
		free(sl);
	}
	pthread_mutex_unlock(&sk_mtx);
}

void
keys_free(struct keys_key *k)
{
	if (k == NULL)
		return;
	if (k->sk != NULL)
		sk_release(k->sk);
	EVP_PKEY_free(k->pkey);
	free(k->spki);
	free(k);
}

static int
rsa_sign(EVP_PKEY *pkey, const uint8_t *digest, uint8_t *sig, size_t *siglen)
{
	EVP_PKEY_CTX	*ctx;
	int		 rc = -1;

	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL)
		goto done;
	if (EVP_PKEY_sign_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) <= 0 ||
	    EVP_PKEY_sign(ctx, sig, siglen, digest, KEYS_SHA256_LEN) <= 0)
		goto done;
	rc = 0;
done:
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

static int
rsa_verify(EVP_PKEY *pkey, const uint8_t *digest, const uint8_t *sig,
    size_t siglen)
{
	EVP_PKEY_CTX	*ctx;
	int		 rc = -1;

	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL)
		goto done;
	if (EVP_PKEY_verify_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) <= 0 ||
	    EVP_PKEY_verify(ctx, sig, siglen, digest, KEYS_SHA256_LEN) != 1)
		goto done;
	rc = 0;
done:
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

int
keys_sign(const struct keys_key *k, enum keys_alg alg,
    const uint8_t digest[KEYS_SHA256_LEN], uint8_t *sig, size_t *siglen)
{
	unsigned long long	edlen;

	if (k == NULL || alg != k->alg || *siglen < keys_sig_max(k))
		return -1;
	if (k->alg == KEYS_ALG_ED25519_SHA256) {
		if (crypto_sign_detached(sig, &edlen, digest, KEYS_SHA256_LEN,
		    k->sk) != 0)
			return -1;
		*siglen = (size_t)edlen;
		return 0;
	}
	if (rsa_sign(k->pkey, digest, sig, siglen) == -1) {
		/* The queue is per thread; leave nothing for other modules. */
		ERR_clear_error();
		return -1;
	}
	return 0;
}

/*
 * Sign and verify a fixed digest: a key whose numbers do not fit
 * together (a damaged file) must fail here, not in every receiver.
 */
static int
probe(const struct keys_key *k)
{
	uint8_t	sig[KEYS_SIG_MAX];
	size_t	siglen = sizeof(sig);

	if (keys_sign(k, k->alg, probe_digest, sig, &siglen) == -1)
		return -1;
	if (k->alg == KEYS_ALG_ED25519_SHA256)
		return crypto_sign_verify_detached(sig, probe_digest,
		    KEYS_SHA256_LEN, k->pk) == 0 ? 0 : -1;
	if (rsa_verify(k->pkey, probe_digest, sig, siglen) == -1) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}

/*
 * Takes ownership of sk (sodium_malloc, ED25519_SK_LEN: seed || pk); the
 * key keeps a copy in sk_store's memory and sk is freed (wiped).
 */
static struct keys_key	*key_from_sk(const unsigned char *, const char *,
			    char *, size_t);

static struct keys_key *
key_from_ed25519(unsigned char *sk, const char *name, char *err,
    size_t errlen)
{
	struct keys_key	*k;

	k = key_from_sk(sk, name, err, errlen);
	sodium_free(sk);
	return k;
}

/* A key holding a copy of sk (seed || pk); the caller wipes sk. */
static struct keys_key *
key_from_sk(const unsigned char *sk, const char *name, char *err,
    size_t errlen)
{
	struct keys_key	*k;

	if ((k = calloc(1, sizeof(*k))) == NULL) {
		errmsg_set(err, errlen, "%s: out of memory", name);
		return NULL;
	}
	k->alg = KEYS_ALG_ED25519_SHA256;
	k->bits = KEYS_ED25519_BITS;
	memcpy(k->pk, sk + ED25519_SEED_LEN, ED25519_PK_LEN);
	if ((k->sk = sk_store(sk)) == NULL) {
		errmsg_set(err, errlen, "%s: out of memory", name);
		goto fail;
	}
	k->spkilen = sizeof(ed25519_spki_prefix) + ED25519_PK_LEN;
	if ((k->spki = malloc(k->spkilen)) == NULL) {
		errmsg_set(err, errlen, "%s: out of memory", name);
		goto fail;
	}
	memcpy(k->spki, ed25519_spki_prefix, sizeof(ed25519_spki_prefix));
	memcpy(k->spki + sizeof(ed25519_spki_prefix), k->pk, ED25519_PK_LEN);
	/*
	 * No signing probe: every sk here comes from libsodium's own key
	 * derivation (seed_keypair, keypair), so its halves fit by
	 * construction, and a sign-and-verify per key is most of the time an
	 * ESP's 20,000-key store takes to load.
	 */
	return k;
fail:
	keys_free(k);
	return NULL;
}

static struct keys_key *
key_from_seed(const uint8_t *seed, const char *name, char *err,
    size_t errlen)
{
	unsigned char	 sk[ED25519_SK_LEN];	/* wiped below */
	uint8_t		 pk[ED25519_PK_LEN];
	struct keys_key	*k = NULL;

	/* On the stack, not sodium_malloc: see sk_store on the cost. */
	if (crypto_sign_seed_keypair(pk, sk, seed) != 0)
		errmsg_set(err, errlen, "%s: Ed25519 key setup failed", name);
	else
		k = key_from_sk(sk, name, err, errlen);
	sodium_memzero(sk, sizeof(sk));
	return k;
}

/* Takes ownership of pkey. */
static struct keys_key *
key_from_rsa(EVP_PKEY *pkey, const char *name, char *err, size_t errlen)
{
	struct keys_key	*k;
	unsigned char	*p;
	int		 n, bits;

	if ((k = calloc(1, sizeof(*k))) == NULL) {
		EVP_PKEY_free(pkey);
		errmsg_set(err, errlen, "%s: out of memory", name);
		return NULL;
	}
	k->alg = KEYS_ALG_RSA_SHA256;
	k->pkey = pkey;
	bits = EVP_PKEY_get_bits(pkey);
	if (bits < KEYS_RSA_BITS_MIN) {
		errmsg_set(err, errlen, "%s: RSA key of %d bits is below the %d-bit "
		    "minimum of RFC 8301 3.2", name, bits, KEYS_RSA_BITS_MIN);
		goto fail;
	}
	if (bits > KEYS_RSA_BITS_MAX) {
		errmsg_set(err, errlen, "%s: RSA key of %d bits is above %d, the "
		    "largest size verifiers must support (RFC 8301 3.2)", name,
		    bits, KEYS_RSA_BITS_MAX);
		goto fail;
	}
	k->bits = (unsigned)bits;
	if ((n = i2d_PUBKEY(pkey, NULL)) <= 0) {
		ossl_errf(err, errlen, "%s: cannot encode the public key",
		    name);
		goto fail;
	}
	if ((k->spki = malloc((size_t)n)) == NULL) {
		errmsg_set(err, errlen, "%s: out of memory", name);
		goto fail;
	}
	p = k->spki;
	if (i2d_PUBKEY(pkey, &p) != n) {
		ossl_errf(err, errlen, "%s: cannot encode the public key",
		    name);
		goto fail;
	}
	k->spkilen = (size_t)n;
	if (probe(k) == -1) {
		errmsg_set(err, errlen, "%s: RSA key fails its signing probe (the "
		    "key's numbers do not fit together)", name);
		goto fail;
	}
	return k;
fail:
	keys_free(k);
	return NULL;
}

/* Encrypted keys would need a passphrase at every start; refuse them. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

static int
contains(const void *data, size_t len, const char *needle)
{
	return memmem(data, len, needle, strlen(needle)) != NULL;
}

/*
 * The one unencrypted PKCS#8 form of an Ed25519 key (RFC 8410 7): a fixed
 * 16-octet prefix and the 32-octet seed.  Decoded here without OpenSSL,
 * whose decoder set-up costs about a millisecond per key: a store of
 * 20,000 keys must load in well under 2 s.  Anything else (other
 * algorithms, attributes, the public key included) goes to OpenSSL.
 * 1 and *k set (NULL on error) when handled, 0 to fall through.
 */
static int
parse_pem_ed25519(const uint8_t *data, size_t len, const char *name,
    char *err, size_t errlen, struct keys_key **k)
{
	static const char	 head[] = "-----BEGIN PRIVATE KEY-----";
	static const char	 tail[] = "-----END PRIVATE KEY-----";
	static const uint8_t	 prefix[] = { 0x30, 0x2e, 0x02, 0x01, 0x00,
	    0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20 };
	uint8_t			 der[sizeof(prefix) + ED25519_SEED_LEN];
	const uint8_t		*b, *e;
	size_t			 derlen = 0, hl = sizeof(head) - 1;
	size_t			 tl = sizeof(tail) - 1;

	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		len--;
	if (len < hl + tl || memcmp(data, head, hl) != 0 ||
	    memcmp(data + len - tl, tail, tl) != 0)
		return 0;
	b = data + hl;
	e = data + len - tl;
	if (sodium_base642bin(der, sizeof(der),
	    (const char *)b, (size_t)(e - b), "\r\n", &derlen, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    derlen != sizeof(prefix) + ED25519_SEED_LEN ||
	    memcmp(der, prefix, sizeof(prefix)) != 0) {
		sodium_memzero(der, sizeof(der));
		return 0;
	}
	*k = key_from_seed(der + sizeof(prefix), name, err, errlen);
	sodium_memzero(der, sizeof(der));
	return 1;
}

/*
 * The unencrypted RSA key files of signetctl, OpenSSL and opendkim-genkey:
 * one PKCS#8 "PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY" block (RFC 7468).
 * Decoded here to DER and handed to the typed DER decoder: OpenSSL's PEM
 * reader tries every decoder it has (about 0.5 ms a key, 10 s for an
 * ESP's 20,000 keys) where a decoder told the structure and the key
 * type takes a fifth of that.  Only
 * a result that is an RSA key and uses every octet is taken; anything
 * else falls through to the PEM reader, whose refusals and messages
 * stay the only ones.  1 and *k set (NULL on error) when handled, 0 to
 * fall through.
 */
static int
parse_pem_rsa(const uint8_t *data, size_t len, const char *name,
    char *err, size_t errlen, struct keys_key **k)
{
	static const struct {
		const char	*head, *tail, *structure;
	} kinds[] = {
		{ "-----BEGIN PRIVATE KEY-----", "-----END PRIVATE KEY-----",
		    "PrivateKeyInfo" },
		{ "-----BEGIN RSA PRIVATE KEY-----",
		    "-----END RSA PRIVATE KEY-----", "type-specific" },
	};
	OSSL_DECODER_CTX *dctx = NULL;
	uint8_t		 der[KEYS_FILE_SMALL];	/* wiped below */
	const uint8_t	*b, *e, *p;
	EVP_PKEY	*pkey = NULL;
	size_t		 i, derlen = 0, left;
	int		 handled = 0;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		b = memmem(data, len, kinds[i].head, strlen(kinds[i].head));
		if (b == NULL)
			continue;
		b += strlen(kinds[i].head);
		e = memmem(b, len - (size_t)(b - data), kinds[i].tail,
		    strlen(kinds[i].tail));
		if (e == NULL)
			return 0;
		break;
	}
	/* One block only: with several, the PEM reader's choice stands. */
	if (i == sizeof(kinds) / sizeof(kinds[0]) ||
	    memmem(data, len, "-----BEGIN", 10) !=
	    (const void *)(b - strlen(kinds[i].head)) ||
	    memmem(e, len - (size_t)(e - data), "-----BEGIN", 10) != NULL)
		return 0;
	if (sodium_base642bin(der, sizeof(der), (const char *)b,
	    (size_t)(e - b), "\r\n", &derlen, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || derlen == 0)
		goto done;
	p = der;
	left = derlen;
	dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, "DER", kinds[i].structure,
	    "RSA", EVP_PKEY_KEYPAIR, NULL, NULL);
	if (dctx == NULL || OSSL_DECODER_from_data(dctx, &p, &left) != 1 ||
	    pkey == NULL || left != 0 ||
	    EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA)
		goto done;
	*k = key_from_rsa(pkey, name, err, errlen);
	pkey = NULL;
	handled = 1;
done:
	OSSL_DECODER_CTX_free(dctx);
	EVP_PKEY_free(pkey);
	ERR_clear_error();
	sodium_memzero(der, sizeof(der));
	return handled;
}

static struct keys_key *
parse_pem(const uint8_t *data, size_t len, const char *name, char *err,
    size_t errlen)
{
	BIO		*bio = NULL;
	EVP_PKEY	*pkey = NULL;
	struct keys_key	*k = NULL;
	unsigned char	*seed = NULL;
	size_t		 seedlen = ED25519_SEED_LEN;
	int		 id;

	/* PKCS#8 EncryptedPrivateKeyInfo, or RFC 1421 headers (PKCS#1). */
	if (contains(data, len, "-----BEGIN ENCRYPTED") ||
	    contains(data, len, "Proc-Type: 4,ENCRYPTED")) {
		errmsg_set(err, errlen, "%s: encrypted private keys are not "
		    "supported; decrypt with: openssl pkey -in %s -out NEWFILE",
		    name, name);
		goto done;
	}
	if (parse_pem_ed25519(data, len, name, err, errlen, &k) == 1 ||
	    parse_pem_rsa(data, len, name, err, errlen, &k) == 1)
		goto done;
	if ((bio = BIO_new_mem_buf(data, (int)len)) == NULL) {
		ossl_errf(err, errlen, "%s: out of memory", name);
		goto done;
	}
	pkey = PEM_read_bio_PrivateKey_ex(bio, NULL, no_passphrase, NULL,
	    NULL, NULL);
	if (pkey == NULL) {
		ossl_errf(err, errlen, "%s: not a valid PEM private key "
		    "(empty, truncated or damaged)", name);
		goto done;
	}
	switch ((id = EVP_PKEY_get_base_id(pkey))) {
	case EVP_PKEY_RSA:
		k = key_from_rsa(pkey, name, err, errlen);
		pkey = NULL;
		break;
	case EVP_PKEY_ED25519:
		if ((seed = sodium_malloc(ED25519_SEED_LEN)) == NULL) {
			errmsg_set(err, errlen, "%s: out of memory", name);
			goto done;
		}
		if (EVP_PKEY_get_raw_private_key(pkey, seed, &seedlen) != 1 ||
		    seedlen != ED25519_SEED_LEN) {
			ossl_errf(err, errlen, "%s: cannot read the Ed25519 "
			    "key", name);
			goto done;
		}
		k = key_from_seed(seed, name, err, errlen);
		break;
	default:
		errmsg_set(err, errlen, "%s: unsupported key type %s; DKIM keys are "
		    "RSA or Ed25519", name,
		    id == NID_undef ? "unknown" : OBJ_nid2sn(id));
		break;
	}
done:
	if (seed != NULL)
		sodium_free(seed);
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	ERR_clear_error();
	return k;
}

static int
is_base64_char(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=';
}

/*
 * dkimpy and rspamd: one line of base64, an optional line end.  32 bytes
 * are the seed; rspamd also writes 64 (seed || public key), whose public
 * half must then match the seed's.
 */
static struct keys_key *
parse_seed_line(const uint8_t *data, size_t len, const char *name,
    char *err, size_t errlen)
{
	unsigned char	*raw = NULL;
	struct keys_key	*k = NULL;
	uint8_t		 pk[ED25519_PK_LEN];
	size_t		 i, rawlen = 0;
	const char	*end = NULL;

	if (len > 0 && data[len - 1] == '\n')
		len--;
	if (len > 0 && data[len - 1] == '\r')
		len--;
	for (i = 0; i < len; i++) {
		if (!is_base64_char(data[i])) {
			errmsg_set(err, errlen, "%s: not a PEM private key nor a "
			    "base64 Ed25519 seed", name);
			return NULL;
		}
	}
	if (len == 0) {
		errmsg_set(err, errlen, "%s: empty key file", name);
		return NULL;
	}
	if ((raw = sodium_malloc(ED25519_SK_LEN)) == NULL) {
		errmsg_set(err, errlen, "%s: out of memory", name);
		return NULL;
	}
	if (sodium_base642bin(raw, ED25519_SK_LEN, (const char *)data, len,
	    NULL, &rawlen, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != (const char *)data + len ||
	    (rawlen != ED25519_SEED_LEN && rawlen != ED25519_SK_LEN)) {
		errmsg_set(err, errlen, "%s: not a base64 Ed25519 seed (32 or 64 "
		    "bytes of standard base64)", name);
		goto done;
	}
	if (rawlen == ED25519_SK_LEN) {
		if (crypto_sign_ed25519_sk_to_pk(pk, raw) != 0 ||
		    (k = key_from_seed(raw, name, err, errlen)) == NULL)
			goto done;
		if (sodium_memcmp(pk, k->pk, ED25519_PK_LEN) != 0) {
			errmsg_set(err, errlen, "%s: the 64-byte Ed25519 key's "
			    "public half does not match its seed", name);
			keys_free(k);
			k = NULL;
		}
		goto done;
	}
	k = key_from_seed(raw, name, err, errlen);
done:
	sodium_free(raw);
	return k;
}

static struct keys_key *
parse_key(const uint8_t *data, size_t len, const char *name, char *err,
    size_t errlen)
{
	if (sodium_ready(err, errlen) == -1)
		return NULL;
	if (len == 0) {
		errmsg_set(err, errlen, "%s: empty key file", name);
		return NULL;
	}
	if (len > KEYS_FILE_MAX) {
		errmsg_set(err, errlen, "%s: %zu bytes is too large for a key "
		    "(at most %d)", name, len, KEYS_FILE_MAX);
		return NULL;
	}
	if (contains(data, len, "-----BEGIN"))
		return parse_pem(data, len, name, err, errlen);
	return parse_seed_line(data, len, name, err, errlen);
}

struct keys_key *
keys_load_mem(const void *data, size_t len, char *err, size_t errlen)
{
	return parse_key(data, len, "key", err, errlen);
}

/* The directory part of path ("." when there is none). */
static int
dir_of(const char *path, char *dir, size_t dirlen)
{
	const char	*slash;
	size_t		 n;

	if ((slash = strrchr(path, '/')) == NULL) {
		snprintf(dir, dirlen, ".");
		return 0;
	}
	n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= dirlen)
		return -1;
	memcpy(dir, path, n);
	dir[n] = '\0';
	return 0;
}

/*
 * KY-02: who could have written or read this key.  A problem is an error
 * under FILE_STRICT and a warning under FILE_WARN.  Returns -1 on error.
 */
static int
check_file(const char *path, const struct stat *st, enum file_checks how,
    char *warn, size_t warnlen, char *err, size_t errlen)
{
	char		dir[PATH_MAX];
	struct stat	dst;
	uid_t		me = geteuid();

	if (st->st_uid != me && st->st_uid != 0) {
		if (how == FILE_STRICT) {
			errmsg_set(err, errlen, "%s: owned by uid %u, not by uid %u "
			    "(this process) or root; run: chown %u %s", path,
			    (unsigned)st->st_uid, (unsigned)me, (unsigned)me,
			    path);
			return -1;
		}
		warnf(warn, warnlen, "%s is owned by uid %u", path,
		    (unsigned)st->st_uid);
	}
	if ((st->st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		if (how == FILE_STRICT) {
			errmsg_set(err, errlen, "%s: mode %04o lets group or others "
			    "read or write the private key; run: chmod 600 %s",
			    path, (unsigned)(st->st_mode & 07777), path);
			return -1;
		}
		warnf(warn, warnlen, "%s has mode %04o (readable or writable "
		    "by group or others)", path,
		    (unsigned)(st->st_mode & 07777));
	}
	if (dir_of(path, dir, sizeof(dir)) == -1) {
		errmsg_set(err, errlen, "%s: path too long", path);
		return -1;
	}
	if (stat(dir, &dst) == -1) {
		errmsg_set(err, errlen, "%s: %s: %s", path, dir, strerror(errno));
		return -1;
	}
	/* A sticky directory (/tmp) lets only the owner replace the file;
	 * otherwise a group member can replace it as well as anyone. */
	if ((dst.st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
	    (dst.st_mode & S_ISVTX) == 0) {
		if (how == FILE_STRICT) {
			errmsg_set(err, errlen, "%s: directory %s is writable by "
			    "group or others, who could replace the key; run: "
			    "chmod go-w %s", path, dir, dir);
			return -1;
		}
		warnf(warn, warnlen, "directory %s is writable by group or "
		    "others", dir);
	}
	return 0;
}

static struct keys_key *
load_path(const char *path, enum file_checks how, char *warn, size_t warnlen,
    char *err, size_t errlen)
{
	struct stat	 st;
	struct keys_key	*k = NULL;
	uint8_t		*data = NULL;
	uint8_t		 small[KEYS_FILE_SMALL];	/* wiped below */
	size_t		 got = 0;
	ssize_t		 n;
	int		 fd;

	if (warn != NULL && warnlen > 0)
		warn[0] = '\0';
	if (sodium_ready(err, errlen) == -1)
		return NULL;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK);
	if (fd == -1 && errno == ELOOP && how == FILE_WARN) {
		warnf(warn, warnlen, "%s is a symbolic link", path);
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	}
	if (fd == -1) {
		if (errno == ELOOP)
			errmsg_set(err, errlen, "%s: is a symbolic link; refusing to "
			    "follow it (name the key file itself)", path);
		else
			errmsg_set(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		errmsg_set(err, errlen, "%s: %s", path, strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		errmsg_set(err, errlen, "%s: not a regular file", path);
		goto done;
	}
	if (check_file(path, &st, how, warn, warnlen, err, errlen) == -1)
		goto done;
	if (st.st_size == 0) {
		errmsg_set(err, errlen, "%s: empty key file", path);
		goto done;
	}
	if (st.st_size > KEYS_FILE_MAX) {
		errmsg_set(err, errlen, "%s: %lld bytes is too large for a key file "
		    "(at most %d)", path, (long long)st.st_size, KEYS_FILE_MAX);
		goto done;
	}
	/* Every DKIM key file fits small; see sk_store on the cost of
	 * sodium_malloc per key. */
	if (st.st_size <= KEYS_FILE_SMALL)
		data = small;
	else if ((data = sodium_malloc((size_t)st.st_size)) == NULL) {
		errmsg_set(err, errlen, "%s: out of memory", path);
		goto done;
	}
	while (got < (size_t)st.st_size) {
		n = read(fd, data + got, (size_t)st.st_size - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			errmsg_set(err, errlen, "%s: %s", path, strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	k = parse_key(data, got, path, err, errlen);
done:
	if (data == small)
		sodium_memzero(small, sizeof(small));
	else if (data != NULL)
		sodium_free(data);
	close(fd);
	return k;
}

struct keys_key *
keys_load(const char *path, char *err, size_t errlen)
{
	return load_path(path, FILE_STRICT, NULL, 0, err, errlen);
}

struct keys_key *
keys_load_import(const char *path, char *warn, size_t warnlen, char *err,
    size_t errlen)
{
	return load_path(path, FILE_WARN, warn, warnlen, err, errlen);
}

enum keys_alg
keys_alg(const struct keys_key *k)
{
	return k->alg;
}

unsigned
keys_bits(const struct keys_key *k)
{
	return k->bits;
}

size_t
keys_sig_max(const struct keys_key *k)
{
	if (k->alg == KEYS_ALG_ED25519_SHA256)
		return ED25519_SIG_LEN;
	return (size_t)EVP_PKEY_get_size(k->pkey);
}

static int
append_b64(struct buf *out, const uint8_t *p, size_t n)
{
	size_t	 cap = sodium_base64_ENCODED_LEN(n,
		    sodium_base64_VARIANT_ORIGINAL);
	char	*b64;
	int	 rc;

	if ((b64 = malloc(cap)) == NULL)
		return -1;
	sodium_bin2base64(b64, cap, p, n, sodium_base64_VARIANT_ORIGINAL);
	rc = buf_append_str(out, b64);
	free(b64);
	return rc;
}

int
keys_public_b64(const struct keys_key *k, struct buf *out)
{
	if (k->alg == KEYS_ALG_ED25519_SHA256)
		return append_b64(out, k->pk, sizeof(k->pk));
	return append_b64(out, k->spki, k->spkilen);
}

int
keys_public_der(const struct keys_key *k, struct buf *out)
{
	return buf_append(out, k->spki, k->spkilen);
}

int
keys_dns_record(const struct keys_key *k, struct buf *out)
{
	if (buf_printf(out, "v=DKIM1; k=%s; p=", keys_alg_k(k->alg)) == -1)
		return -1;
	return keys_public_b64(k, out);
}

int
keys_zone_record(const struct keys_key *k, const char *selector,
    const char *domain, unsigned ttl, struct buf *out)
{
	struct buf	*rec;
	const uint8_t	*p;
	size_t		 len, off, head, take;
	int		 rc = -1;

	if ((rec = buf_new(0)) == NULL)
		return -1;
	if (buf_printf(rec, "v=DKIM1; k=%s; ", keys_alg_k(k->alg)) == -1)
		goto done;
	/* The tags before p= make the first string, as operators expect. */
	head = buf_len(rec);
	if (buf_append_str(rec, "p=") == -1 || keys_public_b64(k, rec) == -1)
		goto done;
	if (buf_printf(out, "%s._domainkey.%s%s %u IN TXT (", selector, domain,
	    domain[0] != '\0' && domain[strlen(domain) - 1] == '.' ? "" : ".",
	    ttl) == -1)
		goto done;
	p = buf_data(rec);
	len = buf_len(rec);
	for (off = 0; off < len; off += take) {
		take = off == 0 ? head : len - off;
		if (take > KEYS_TXT_STRING_MAX)
			take = KEYS_TXT_STRING_MAX;
		if (buf_append_str(out, " \"") == -1 ||
		    buf_append(out, p + off, take) == -1 ||
		    buf_append_byte(out, '"') == -1)
			goto done;
	}
	if (buf_append_str(out, " )\n") == -1)
		goto done;
	rc = 0;
done:
	buf_free(rec);
	return rc;
}

int
keys_id(const struct keys_key *k, char out[KEYS_ID_LEN + 1])
{
	static const char	 hex[] = "0123456789abcdef";
	uint8_t			 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen = 0;
	size_t			 i;

	if (EVP_Digest(k->spki, k->spkilen, md, &mdlen, EVP_sha256(),
	    NULL) != 1 || mdlen < KEYS_ID_LEN / 2) {
		ERR_clear_error();
		return -1;
	}
	for (i = 0; i < KEYS_ID_LEN / 2; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xf];
	}
	out[KEYS_ID_LEN] = '\0';
	return 0;
}

int
keys_same(const struct keys_key *a, const struct keys_key *b)
{
	return a->alg == b->alg && a->spkilen == b->spkilen &&
	    memcmp(a->spki, b->spki, a->spkilen) == 0;
}

const char *
keys_alg_k(enum keys_alg alg)
{
	return alg == KEYS_ALG_ED25519_SHA256 ? "ed25519" : "rsa";
}

const char *
keys_alg_a(enum keys_alg alg)
{
	return alg == KEYS_ALG_ED25519_SHA256 ? "ed25519-sha256" :
	    "rsa-sha256";
}

int
keys_alg_parse(const char *s, enum keys_alg *alg)
{
	if (strcmp(s, "rsa") == 0)
		*alg = KEYS_ALG_RSA_SHA256;
	else if (strcmp(s, "ed25519") == 0)
		*alg = KEYS_ALG_ED25519_SHA256;
	else
		return -1;
	return 0;
}

/*
 * PKCS#8 PEM of an Ed25519 key into *pem (sodium_malloc, caller frees):
 * RFC 7468 "PRIVATE KEY" around the base64 of RFC 8410's structure.
 */
static int
ed25519_pkcs8(const struct keys_key *k, unsigned char **pem, size_t *pemlen)
{
	static const char	 begin[] = "-----BEGIN PRIVATE KEY-----\n";
	static const char	 end[] = "\n-----END PRIVATE KEY-----\n";
	const size_t		 b64cap = sodium_base64_ENCODED_LEN(
				    ED25519_PKCS8_LEN,
				    sodium_base64_VARIANT_ORIGINAL);
	unsigned char		*der, *out;
	size_t			 b64len;

	*pem = NULL;
	if ((der = sodium_malloc(ED25519_PKCS8_LEN)) == NULL)
		return -1;
	if ((out = sodium_malloc(sizeof(begin) + b64cap + sizeof(end))) ==
	    NULL) {
		sodium_free(der);
		return -1;
	}
	memcpy(der, ed25519_pkcs8_prefix, sizeof(ed25519_pkcs8_prefix));
	memcpy(der + sizeof(ed25519_pkcs8_prefix), k->sk, ED25519_SEED_LEN);
	memcpy(out, begin, sizeof(begin) - 1);
	/* 48 bytes encode to 64 characters: one PEM line (RFC 7468 2). */
	sodium_bin2base64((char *)out + sizeof(begin) - 1, b64cap, der,
	    ED25519_PKCS8_LEN, sodium_base64_VARIANT_ORIGINAL);
	b64len = strlen((char *)out + sizeof(begin) - 1);
	memcpy(out + sizeof(begin) - 1 + b64len, end, sizeof(end) - 1);
	*pemlen = sizeof(begin) - 1 + b64len + sizeof(end) - 1;
	*pem = out;
	sodium_free(der);
	return 0;
}

static int
write_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t	w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
fsync_dir_of(const char *path)
{
	char	dir[PATH_MAX];
	int	fd, rc;

	if (dir_of(path, dir, sizeof(dir)) == -1)
		return -1;
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int
keys_write_file(const struct keys_key *k, const char *path, char *err,
    size_t errlen)
{
	BIO		*bio = NULL;
	unsigned char	*pem = NULL;
	char		*data;
	long		 len;
	size_t		 pemlen = 0;
	int		 fd = -1, rc = -1, created = 0;

	if (k->alg == KEYS_ALG_ED25519_SHA256) {
		if (ed25519_pkcs8(k, &pem, &pemlen) == -1) {
			errmsg_set(err, errlen, "%s: out of memory", path);
			goto done;
		}
		data = (char *)pem;
		len = (long)pemlen;
	} else {
		/* secmem: OpenSSL wipes the buffer when the BIO is freed. */
		if ((bio = BIO_new(BIO_s_secmem())) == NULL ||
		    PEM_write_bio_PKCS8PrivateKey(bio, k->pkey, NULL, NULL, 0,
		    NULL, NULL) != 1 ||
		    (len = BIO_get_mem_data(bio, &data)) <= 0) {
			ossl_errf(err, errlen, "%s: cannot encode the key",
			    path);
			goto done;
		}
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC |
	    O_NOCTTY, S_IRUSR | S_IWUSR);
	if (fd == -1) {
		if (errno == EEXIST)
			errmsg_set(err, errlen, "%s: already exists; refusing to "
			    "overwrite it", path);
		else
			errmsg_set(err, errlen, "%s: %s", path, strerror(errno));
		goto done;
	}
	created = 1;
	/* A umask can only remove bits; make the mode exactly 0600. */
	if (fchmod(fd, S_IRUSR | S_IWUSR) == -1 ||
	    write_all(fd, (const uint8_t *)data, (size_t)len) == -1 ||
	    fsync(fd) == -1) {
		errmsg_set(err, errlen, "%s: %s", path, strerror(errno));
		goto done;
	}
	if (close(fd) == -1) {
		fd = -1;
		errmsg_set(err, errlen, "%s: %s", path, strerror(errno));
		goto done;
	}
	fd = -1;
	if (fsync_dir_of(path) == -1) {
		errmsg_set(err, errlen, "%s: cannot sync its directory: %s", path,
		    strerror(errno));
		goto done;
	}
	rc = 0;
done:
	if (fd != -1)
		close(fd);
	if (rc == -1 && created)
		unlink(path);
	if (pem != NULL)
		sodium_free(pem);
	BIO_free(bio);
	return rc;
}

static struct keys_key *
generate(enum keys_alg alg, unsigned bits, char *err, size_t errlen)
{
	EVP_PKEY	*pkey;
	unsigned char	*sk;
	uint8_t		 pk[ED25519_PK_LEN];

	if (alg == KEYS_ALG_ED25519_SHA256) {
		if (bits != 0 && bits != KEYS_ED25519_BITS) {
			errmsg_set(err, errlen, "Ed25519 keys have %d bits, not %u",
			    KEYS_ED25519_BITS, bits);
			return NULL;
		}
		if ((sk = sodium_malloc(ED25519_SK_LEN)) == NULL) {
			errmsg_set(err, errlen, "out of memory");
			return NULL;
		}
		if (crypto_sign_keypair(pk, sk) != 0) {
			sodium_free(sk);
			errmsg_set(err, errlen, "Ed25519 key generation failed");
			return NULL;
		}
		return key_from_ed25519(sk, "new key", err, errlen);
	}
	if (bits != 2048 && bits != 3072 && bits != 4096) {
		errmsg_set(err, errlen, "RSA keys are generated with 2048, 3072 or "
		    "4096 bits (RFC 8301 3.2), not %u", bits);
		return NULL;
	}
	if ((pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits)) ==
	    NULL) {
		ossl_errf(err, errlen, "RSA key generation failed");
		return NULL;
	}
	return key_from_rsa(pkey, "new key", err, errlen);
}

int
keys_generate(enum keys_alg alg, unsigned bits, const char *path,
    struct keys_key **out, char *err, size_t errlen)
{
	struct keys_key	*k = NULL, *back = NULL;
	int		 rc = -1;

	if (out != NULL)
		*out = NULL;
	if (sodium_ready(err, errlen) == -1)
		return -1;
	if ((k = generate(alg, bits, err, errlen)) == NULL)
		goto done;
	if (keys_write_file(k, path, err, errlen) == -1)
		goto done;
	/* Read it back as signet will: the file must pass every check. */
	if ((back = keys_load(path, err, errlen)) == NULL) {
		unlink(path);
		goto done;
	}
	if (!keys_same(k, back)) {
		errmsg_set(err, errlen, "%s: the written key reads back differently",
		    path);
		unlink(path);
		goto done;
	}
	if (out != NULL) {
		*out = back;
		back = NULL;
	}
	rc = 0;
done:
	keys_free(back);
	keys_free(k);
	return rc;
}
