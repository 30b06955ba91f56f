/*
 * signer — the only holder of private keys (DESIGN.md promise 7).
 *
 * A struct keys_key is loaded from a file (or memory), checked, and from
 * then on can only sign SHA-256 digests and describe its public half.
 * No function here hands out private key bytes.
 *
 * Formats read: RSA as PKCS#1 ("BEGIN RSA PRIVATE KEY") or PKCS#8
 * ("BEGIN PRIVATE KEY") PEM; Ed25519 as PKCS#8 PEM or as the one-line
 * base64 seed of dkimpy and rspamd (32 bytes, or rspamd's 64-byte
 * seed || public key).  Files written: PKCS#8 PEM, mode 0600.
 *
 * Thread safety: a loaded key is immutable.  keys_sign() and every
 * accessor may run concurrently from any number of threads on the same
 * key; keys_free() must not race with them (the caller's snapshot
 * reference count guarantees that).
 */
#ifndef SIGNET_KEYS_SIGNER_H
#define SIGNET_KEYS_SIGNER_H

#include <stddef.h>
#include <stdint.h>

struct buf;

enum keys_alg {
	KEYS_ALG_RSA_SHA256,
	KEYS_ALG_ED25519_SHA256,
};

/* RFC 8301 3.2: signers MUST use RSA keys of at least 1024 bits. */
#define KEYS_RSA_BITS_MIN	1024
/* RFC 8301 3.2: verifiers must handle up to 4096; larger may not verify. */
#define KEYS_RSA_BITS_MAX	4096
/* RFC 8301 3.2: signers SHOULD use at least 2048 bits; keygen's floor. */
#define KEYS_RSA_BITS_GEN_MIN	2048
#define KEYS_ED25519_BITS	256
#define KEYS_SHA256_LEN		32
/* Largest signature: RSA-4096. */
#define KEYS_SIG_MAX		(KEYS_RSA_BITS_MAX / 8)
#define KEYS_ID_LEN		16	/* hex digits, DESIGN.md key store */

struct keys_key;

/*
 * Load a private key file.  Refused: a symlink as the last component, a
 * file that is not regular, mode bits for group or others, an owner
 * other than the effective uid or root, a directory writable by others,
 * an empty or unparseable file, an encrypted key, a key type other than
 * RSA or Ed25519, RSA outside KEYS_RSA_BITS_MIN..MAX.  err receives one
 * line naming the path (never the file's content).  The file is read
 * into wiped, guarded memory (sodium_malloc) and checked by signing a
 * probe digest and verifying it.
 */
struct keys_key	*keys_load(const char *path, char *err, size_t errlen);
/* The same formats from memory, without file checks. */
struct keys_key	*keys_load_mem(const void *data, size_t len, char *err,
		    size_t errlen);
/*
 * For `signetctl keys import`: like keys_load, but problems with the
 * file's mode, owner, symlink or directory are not fatal; they are
 * described in warn (empty when none), because the key is about to be
 * copied into the store with safe permissions.
 */
struct keys_key	*keys_load_import(const char *path, char *warn,
		    size_t warnlen, char *err, size_t errlen);
void		 keys_free(struct keys_key *);

enum keys_alg	 keys_alg(const struct keys_key *);
/* Modulus size for RSA; KEYS_ED25519_BITS for Ed25519. */
unsigned	 keys_bits(const struct keys_key *);
/* Capacity keys_sign() needs for this key's signature. */
size_t		 keys_sig_max(const struct keys_key *);

/*
 * Sign a SHA-256 digest.  RSA: RSASSA-PKCS1-v1_5 with the SHA-256
 * DigestInfo (RFC 8017 8.2; the digest is not hashed again).  Ed25519:
 * PureEdDSA over the 32 digest bytes (RFC 8463 3).  siglen: capacity in,
 * length out.  -1 if alg is not the key's, the capacity is short, or the
 * crypto library fails.  Thread-safe (see above).
 */
int		 keys_sign(const struct keys_key *, enum keys_alg,
		    const uint8_t digest[KEYS_SHA256_LEN], uint8_t *sig,
		    size_t *siglen);

/*
 * The p= value: base64 of the DER SubjectPublicKeyInfo (RSA, RFC 6376
 * 3.6.1) or of the raw 32-byte public key (Ed25519, RFC 8463 4.2).
 * Appended to out.
 */
int		 keys_public_b64(const struct keys_key *, struct buf *out);
/* DER SubjectPublicKeyInfo, for both algorithms (RFC 5280, RFC 8410). */
int		 keys_public_der(const struct keys_key *, struct buf *out);
/* "v=DKIM1; k=rsa; p=..." or "v=DKIM1; k=ed25519; p=...", appended. */
int		 keys_dns_record(const struct keys_key *, struct buf *out);
/*
 * A zone-file line for selector._domainkey.domain. with the record
 * split into quoted strings of at most KEYS_TXT_STRING_MAX octets:
 *   s1._domainkey.example.com. 3600 IN TXT ( "v=DKIM1; k=rsa; " "p=..." )
 * Appended to out, with a final newline.
 */
#define KEYS_TXT_STRING_MAX	255	/* RFC 1035 3.3.14 character-string */
int		 keys_zone_record(const struct keys_key *, const char *selector,
		    const char *domain, unsigned ttl, struct buf *out);
/* First KEYS_ID_LEN hex digits of SHA-256 over keys_public_der(). */
int		 keys_id(const struct keys_key *, char out[KEYS_ID_LEN + 1]);
/* 1 if both keys have the same public key, else 0. */
int		 keys_same(const struct keys_key *, const struct keys_key *);

/*
 * Generate a key: RSA of 2048, 3072 or 4096 bits through OpenSSL, or
 * Ed25519 from libsodium's RNG (bits 0 or 256).  Written to path as
 * PKCS#8 PEM through keys_write_file().  *out (if out is not NULL)
 * receives the key as loaded back from path.
 */
int		 keys_generate(enum keys_alg, unsigned bits, const char *path,
		    struct keys_key **out, char *err, size_t errlen);
/*
 * Write the key as PKCS#8 PEM to a new file: O_CREAT|O_EXCL|O_NOFOLLOW,
 * mode 0600 whatever the umask, fsynced with its directory.  An existing
 * path is refused.  On failure nothing is left at path.
 */
int		 keys_write_file(const struct keys_key *, const char *path,
		    char *err, size_t errlen);

/* "rsa" / "ed25519" (the k= tag) and "rsa-sha256" / "ed25519-sha256". */
const char	*keys_alg_k(enum keys_alg);
const char	*keys_alg_a(enum keys_alg);
/* Parse "rsa" or "ed25519" (the names of config and CLI).  0 / -1. */
int		 keys_alg_parse(const char *, enum keys_alg *);

#endif
