/*
 * tls — server contexts for client listeners (RFC 3207, RFC 8314 for
 * implicit TLS; hostile-inputs.md TL-01 to TL-04).
 *
 * A tls_set is built once per configuration, next to it in the snapshot
 * (snapshot.c), and is immutable afterwards: worker threads only call
 * SSL_new on its contexts, which OpenSSL allows concurrently.  Loading
 * happens before privileges are dropped at startup and as the service
 * user on reload; either way a file that cannot be used fails the whole
 * set, so a reload with a broken certificate is refused and the old set
 * keeps serving.
 *
 * Private keys are read by OpenSSL into the context and never copied
 * here; an encrypted key is refused (no passphrase prompt in a daemon).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "config/config.h"
#include "proxy/msg/buf.h"
#include "proxy/tls.h"

/*
 * TLS 1.2 ciphers: ECDHE with AEAD only (Mozilla "intermediate" without
 * finite-field DHE, which would need our own parameters).  TLS 1.3
 * keeps OpenSSL's suites, all of which are AEAD with (EC)DHE.
 */
#define TLS_CIPHERS_12	"ECDHE-ECDSA-AES128-GCM-SHA256:" \
			"ECDHE-RSA-AES128-GCM-SHA256:" \
			"ECDHE-ECDSA-AES256-GCM-SHA384:" \
			"ECDHE-RSA-AES256-GCM-SHA384:" \
			"ECDHE-ECDSA-CHACHA20-POLY1305:" \
			"ECDHE-RSA-CHACHA20-POLY1305"
#define TLS_GROUPS	"X25519:P-256:P-384"
/* Resumed sessions keep their client certificate; OpenSSL requires a
 * context id for that whenever certificates are requested. */
#define TLS_SID_CTX	"signet"
#define TLS_ERR_MAX	256	/* ERR_error_string_n wants at least 256 */

_Static_assert(TLS_FP_LEN == CONFIG_CERT_FP_LEN, "fingerprint sizes");

struct tls_set {
	SSL_CTX		**ctx;		/* one per listener, NULL: no TLS */
	size_t		  n;
};

/* The first queued OpenSSL error as text; the queue is emptied. */
static void
tls_drain_errors(char *out, size_t len)
{
	unsigned long	 e, first = 0;

	while ((e = ERR_get_error()) != 0)
		if (first == 0)
			first = e;
	if (first == 0) {
		snprintf(out, len, "unknown error");
		return;
	}
	ERR_error_string_n(first, out, len);
}

/* Never prompt: an encrypted key fails to load and the error says so. */
static int
tls_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/*
 * Accept any client certificate at the handshake: it is an identity
 * only if its fingerprint is pinned by a tenant, and a client that sent
 * a certificate it cannot prove must still be able to use its network
 * or (later) AUTH identity.  Whether it chained to client_ca is kept in
 * the SSL for the log (tls_peer_verified).
 */
static int
tls_verify_cb(int ok, X509_STORE_CTX *x)
{
	(void)ok;
	(void)x;
	return 1;
}

static int
tls_any_pinned(const struct config *cfg)
{
	size_t	 i;

	for (i = 0; i < cfg->ntenants; i++)
		if (cfg->tenants[i].ncertificates > 0)
			return 1;
	return 0;
}

static SSL_CTX *
tls_ctx_new(const struct config_listener *ls, int pinned, size_t idx,
    struct buf *err)
{
	const struct config_tls_files	*f = &ls->tls;
	STACK_OF(X509_NAME)		*cas;
	SSL_CTX				*ctx;
	const char			*what = "context";
	const char			*file = "";
	char				 e[TLS_ERR_MAX];

	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		goto fail;
	what = "settings";
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS_12) != 1 ||
	    SSL_CTX_set1_groups_list(ctx, TLS_GROUPS) != 1 ||
	    SSL_CTX_set_session_id_context(ctx,
	    (const unsigned char *)TLS_SID_CTX, sizeof(TLS_SID_CTX) - 1) != 1)
		goto fail;
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_default_passwd_cb(ctx, tls_no_passphrase);
	what = "cert";
	file = f->cert;
	if (SSL_CTX_use_certificate_chain_file(ctx, f->cert) != 1)
		goto fail;
	what = "key";
	file = f->key;
	if (SSL_CTX_use_PrivateKey_file(ctx, f->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		goto fail;
	if (f->client_ca != NULL) {
		what = "client_ca";
		file = f->client_ca;
		if (SSL_CTX_load_verify_locations(ctx, f->client_ca, NULL) !=
		    1 || (cas = SSL_load_client_CA_file(f->client_ca)) == NULL)
			goto fail;
		SSL_CTX_set_client_CA_list(ctx, cas);
	}
	if (f->client_ca != NULL || pinned)
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, tls_verify_cb);
	return ctx;
fail:
	tls_drain_errors(e, sizeof(e));
	if (err != NULL)
		buf_printf(err, "listen[%zu] starttls %s %s: %s", idx, what,
		    file, e);
	SSL_CTX_free(ctx);
	return NULL;
}

struct tls_set *
tls_set_new(const struct config *cfg, struct buf *err)
{
	struct tls_set	*set;
	size_t		 i;
	int		 pinned = tls_any_pinned(cfg);

	if ((set = calloc(1, sizeof(*set))) == NULL)
		goto nomem;
	if (cfg->nlisteners > 0 &&
	    (set->ctx = calloc(cfg->nlisteners, sizeof(*set->ctx))) == NULL)
		goto nomem;
	set->n = cfg->nlisteners;
	for (i = 0; i < cfg->nlisteners; i++) {
		if (!cfg->listeners[i].has_tls)
			continue;
		set->ctx[i] = tls_ctx_new(&cfg->listeners[i], pinned, i, err);
		if (set->ctx[i] == NULL) {
			tls_set_free(set);
			return NULL;
		}
	}
	return set;
nomem:
	if (err != NULL)
		buf_append_str(err, "out of memory loading TLS certificates");
	tls_set_free(set);
	return NULL;
}

void
tls_set_free(struct tls_set *set)
{
	size_t	 i;

	if (set == NULL)
		return;
	for (i = 0; i < set->n; i++)
		SSL_CTX_free(set->ctx[i]);
	free(set->ctx);
	free(set);
}

SSL_CTX *
tls_set_ctx(const struct tls_set *set, size_t i)
{
	if (set == NULL || i >= set->n)
		return NULL;
	return set->ctx[i];
}

void
tls_ctx_hold(SSL_CTX *ctx)
{
	/* Only fails on a broken lock: an invariant, not an input error. */
	if (SSL_CTX_up_ref(ctx) != 1)
		abort();
}

void
tls_ctx_release(SSL_CTX *ctx)
{
	SSL_CTX_free(ctx);
}

SSL *
tls_server_new(SSL_CTX *ctx)
{
	SSL	*ssl;

	if (ctx == NULL)
		return NULL;
	if ((ssl = SSL_new(ctx)) == NULL)
		ERR_clear_error();
	return ssl;
}

int
tls_peer_fingerprint(SSL *ssl, uint8_t fp[TLS_FP_LEN])
{
	X509		*x;
	unsigned int	 n = 0;

	if ((x = SSL_get0_peer_certificate(ssl)) == NULL)
		return -1;
	if (X509_digest(x, EVP_sha256(), fp, &n) != 1 || n != TLS_FP_LEN) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}

void
tls_fingerprint_text(const uint8_t fp[TLS_FP_LEN], char out[TLS_FP_TEXT])
{
	static const char	 hex[] = "0123456789ABCDEF";
	size_t			 i, o = 0;

	memcpy(out, "sha256:", 7);
	o = 7;
	for (i = 0; i < TLS_FP_LEN; i++) {
		if (i > 0)
			out[o++] = ':';
		out[o++] = hex[fp[i] >> 4];
		out[o++] = hex[fp[i] & 0x0f];
	}
	out[o] = '\0';
}

int
tls_peer_verified(SSL *ssl)
{
	return SSL_get0_peer_certificate(ssl) != NULL &&
	    SSL_get_verify_result(ssl) == X509_V_OK;
}

const char *
tls_version(SSL *ssl)
{
	return SSL_get_version(ssl);
}

const char *
tls_cipher(SSL *ssl)
{
	const char	*c = SSL_get_cipher_name(ssl);

	return c != NULL ? c : "none";
}
