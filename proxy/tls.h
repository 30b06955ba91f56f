/*
 * tls — the server side of TLS on client listeners: one OpenSSL context
 * per listener that has starttls: (or implicit_tls:), built from the
 * configuration and owned by its snapshot, so a reload with a new
 * certificate serves it to new connections while older ones keep the
 * context they started with (SSL objects hold a reference to it).
 *
 * Contexts allow TLS 1.2 and 1.3 only, ECDHE key exchange with AEAD
 * ciphers, the server's cipher order, no compression and no
 * renegotiation (hostile-inputs.md TL-03).  A client certificate is
 * requested, never required, when the listener has client_ca or any
 * tenant pins certificates; its identity is the SHA-256 fingerprint of
 * the DER leaf (tenants[].certificates), which need not chain to
 * client_ca: pinning the exact certificate is the stronger statement.
 */
#ifndef SIGNET_TLS_H
#define SIGNET_TLS_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct config;
struct ssl_ctx_st;
struct ssl_st;
struct tls_set;

#define TLS_FP_LEN	32	/* SHA-256, as CONFIG_CERT_FP_LEN */
/* "sha256:" and 32 "XX" groups joined by ":" plus NUL. */
#define TLS_FP_TEXT	(7 + 3 * TLS_FP_LEN)

/*
 * The contexts of every TLS listener of cfg (cfg must outlive the set).
 * NULL on failure with one line in err naming the listener and the file
 * that could not be used, e.g. an unreadable certificate or a key that
 * does not match it.
 */
struct tls_set	*tls_set_new(const struct config *cfg, struct buf *err);
void		 tls_set_free(struct tls_set *);
/* Listener i's context, or NULL when it has no TLS.  Not a reference:
 * take one (SSL_CTX_up_ref) to keep it past the set's snapshot. */
struct ssl_ctx_st *tls_set_ctx(const struct tls_set *, size_t i);

/* A reference to ctx for a connection that outlives its snapshot;
 * tls_ctx_release(NULL) is a no-op. */
void		 tls_ctx_hold(struct ssl_ctx_st *);
void		 tls_ctx_release(struct ssl_ctx_st *);

/* A server-side connection object on ctx, or NULL (out of memory). */
struct ssl_st	*tls_server_new(struct ssl_ctx_st *ctx);

/* The peer certificate's fingerprint: 0, or -1 when it sent none. */
int		 tls_peer_fingerprint(struct ssl_st *, uint8_t fp[TLS_FP_LEN]);
/* fp as "sha256:AA:BB:..." (upper-case hex, the form tenants use). */
void		 tls_fingerprint_text(const uint8_t fp[TLS_FP_LEN],
		    char out[TLS_FP_TEXT]);
/* 1 if the peer certificate chained to the listener's client_ca. */
int		 tls_peer_verified(struct ssl_st *);
/* Protocol ("TLSv1.3") and cipher name of an established connection. */
const char	*tls_version(struct ssl_st *);
const char	*tls_cipher(struct ssl_st *);

#endif
