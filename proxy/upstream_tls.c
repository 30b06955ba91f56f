/*
 * upstream_tls — the TLS client context and AUTH secret for the upstream
 * connection (RFC 3207 client side, RFC 4954, RFC 4616; hostile-inputs
 * TL-08).
 *
 * One entry per configuration, in a small list under a mutex: built by
 * utls_prepare() when a snapshot is built (so a reload reads the CA file
 * and the secret again and a broken one is refused before it serves),
 * found by configuration pointer for each upstream connection, dropped
 * by utls_forget() with the configuration.  An SSL made from the context
 * holds its own reference to it, so a connection may outlive a reload.
 *
 * Certificate checks: the context never aborts the handshake itself
 * (SSL_VERIFY_NONE); the chain and the expected name (SSL_set1_host, or
 * the address for an IP literal) are still verified by OpenSSL and the
 * relay reads the outcome with utls_verified() and decides by policy
 * (required: refuse; opportunistic: log verified=no and go on).
 *
 * The secret is one line of auth.secret_file, in sodium_malloc memory,
 * wiped when the entry goes; AUTH lines are built in sodium_malloc
 * scratch memory and wiped after they were handed to the connection.
 */
#include <sys/stat.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#include "config/config.h"
#include "proxy/io.h"
#include "proxy/log.h"
#include "proxy/msg/buf.h"
#include "proxy/upstream_tls.h"

#define UTLS_HOST_MAX	256	/* RFC 1035 2.3.4: 255 octets and a NUL */
/* The user name is a config string (CONFIG_STRING_MAX is far below). */
#define UTLS_USER_MAX	1024
/* "AUTH PLAIN " + base64 of "\0user\0secret" + CRLF, with room. */
#define UTLS_LINE_MAX	(16 + sodium_base64_ENCODED_LEN(UTLS_USER_MAX + \
			    UTLS_SECRET_MAX + 2, \
			    sodium_base64_VARIANT_ORIGINAL))

struct utls {
	struct utls		*next;
	const struct config	*cfg;
	SSL_CTX			*ctx;		/* NULL: no TLS configured */
	char			 host[UTLS_HOST_MAX];	/* name to check */
	int			 host_is_ip;
	const char		*user;		/* cfg's string, or NULL */
	uint8_t			*secret;	/* sodium_malloc, or NULL */
	size_t			 secret_len;
};

static pthread_mutex_t	 utls_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct utls	*utls_list;

/* Empty the OpenSSL error queue into err, keeping the last reason. */
static void
utls_errf(struct buf *err, const char *what)
{
	unsigned long	 e, last = 0;
	const char	*reason = NULL;

	while ((e = ERR_get_error()) != 0)
		last = e;
	if (last != 0)
		reason = ERR_reason_error_string(last);
	if (err == NULL)
		return;
	if (reason != NULL)
		buf_printf(err, "upstream: %s (openssl: %s)", what, reason);
	else
		buf_printf(err, "upstream: %s", what);
}

static void
utls_free(struct utls *u)
{
	if (u == NULL)
		return;
	SSL_CTX_free(u->ctx);
	if (u->secret != NULL)
		sodium_free(u->secret);	/* wipes */
	free(u);
}

/*
 * One line from path: a final LF or CRLF is dropped; anything else that
 * is not a printable octet (CR, LF, NUL inside) is an error, since it
 * could not be the password the operator meant.
 */
static int
utls_read_secret(struct utls *u, const char *path, struct buf *err)
{
	struct stat	 st;
	uint8_t		*b = NULL;
	size_t		 n = 0, i;
	ssize_t		 r;
	int		 fd, ret = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (err != NULL)
			buf_printf(err, "upstream: auth.secret_file %s: %s",
			    path, strerror(errno));
		return -1;
	}
	/* Like ssh with its keys, say so when anyone may read it. */
	if (fstat(fd, &st) == 0 && (st.st_mode & S_IROTH))
		log_event(LOG_WARNING, NULL, "upstream_secret_file_readable",
		    "detail=\"readable by others\"");
	/* Room for the longest secret, CRLF, and one octet to see more. */
	if ((b = sodium_malloc(UTLS_SECRET_MAX + 3)) == NULL) {
		if (err != NULL)
			buf_append_str(err, "upstream: out of memory");
		goto done;
	}
	while (n < UTLS_SECRET_MAX + 3) {
		r = read(fd, b + n, UTLS_SECRET_MAX + 3 - n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			if (err != NULL)
				buf_printf(err, "upstream: auth.secret_file "
				    "%s: %s", path, strerror(errno));
			goto done;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > 0 && b[n - 1] == '\n')
		n--;
	if (n > 0 && b[n - 1] == '\r')
		n--;
	for (i = 0; i < n; i++)
		if (b[i] < 0x20 || b[i] == 0x7f)
			break;
	if (n == 0 || n > UTLS_SECRET_MAX || i < n) {
		if (err != NULL)
			buf_printf(err, "upstream: auth.secret_file %s: "
			    "expected one line of 1 to %d printable octets",
			    path, UTLS_SECRET_MAX);
		goto done;
	}
	u->secret = b;
	u->secret_len = n;
	b = NULL;
	ret = 0;
done:
	if (b != NULL)
		sodium_free(b);
	close(fd);
	return ret;
}

static int
utls_make_ctx(struct utls *u, const struct config_upstream *up,
    struct buf *err)
{
	if ((u->ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		utls_errf(err, "cannot create the TLS context");
		return -1;
	}
	/* TLS 1.2 at least (RFC 8996 deprecates 1.0 and 1.1). */
	if (SSL_CTX_set_min_proto_version(u->ctx, TLS1_2_VERSION) != 1) {
		utls_errf(err, "cannot set the TLS minimum version");
		return -1;
	}
	SSL_CTX_set_options(u->ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_verify(u->ctx, SSL_VERIFY_NONE, NULL);
	if (up->ca_file != NULL) {
		if (SSL_CTX_load_verify_locations(u->ctx, up->ca_file,
		    NULL) != 1) {
			if (err != NULL)
				buf_printf(err, "upstream: ca_file %s: ",
				    up->ca_file);
			utls_errf(err, "cannot load the CA certificates");
			return -1;
		}
	} else if (SSL_CTX_set_default_verify_paths(u->ctx) != 1) {
		utls_errf(err, "cannot load the system trust store");
		return -1;
	}
	return 0;
}

int
utls_prepare(const struct config *cfg, struct buf *err)
{
	const struct config_upstream	*up = &cfg->upstream;
	struct utls			*u;
	const char			*name;
	struct in6_addr			 a6;
	struct in_addr			 a4;

	/* sodium_malloc needs it; idempotent and thread-safe. */
	if (sodium_init() < 0 || (u = calloc(1, sizeof(*u))) == NULL) {
		if (err != NULL)
			buf_append_str(err, "upstream: out of memory");
		return -1;
	}
	u->cfg = cfg;
	if (!up->is_file) {
		name = up->servername != NULL ? up->servername :
		    up->address.host;
		if (name == NULL || strlen(name) >= sizeof(u->host)) {
			if (err != NULL)
				buf_append_str(err, "upstream: server name "
				    "too long");
			goto fail;
		}
		snprintf(u->host, sizeof(u->host), "%s", name);
		u->host_is_ip = inet_pton(AF_INET, name, &a4) == 1 ||
		    inet_pton(AF_INET6, name, &a6) == 1;
		if ((up->starttls != CONFIG_TLS_OFF || up->implicit_tls) &&
		    utls_make_ctx(u, up, err) == -1)
			goto fail;
		if (up->auth_user != NULL) {
			if (strlen(up->auth_user) > UTLS_USER_MAX) {
				if (err != NULL)
					buf_append_str(err, "upstream: "
					    "auth.user too long");
				goto fail;
			}
			u->user = up->auth_user;
			if (utls_read_secret(u, up->auth_secret_file,
			    err) == -1)
				goto fail;
		}
	}
	pthread_mutex_lock(&utls_mtx);
	u->next = utls_list;
	utls_list = u;
	pthread_mutex_unlock(&utls_mtx);
	return 0;
fail:
	utls_free(u);
	return -1;
}

void
utls_forget(const struct config *cfg)
{
	struct utls	**pp, *u = NULL;

	pthread_mutex_lock(&utls_mtx);
	for (pp = &utls_list; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->cfg == cfg) {
			u = *pp;
			*pp = u->next;
			break;
		}
	}
	pthread_mutex_unlock(&utls_mtx);
	utls_free(u);
}

const struct utls *
utls_find(const struct config *cfg)
{
	struct utls	*u;

	pthread_mutex_lock(&utls_mtx);
	for (u = utls_list; u != NULL; u = u->next)
		if (u->cfg == cfg)
			break;
	pthread_mutex_unlock(&utls_mtx);
	return u;
}

SSL *
utls_ssl_new(const struct utls *u, const char *sid)
{
	SSL	*ssl;
	int	 ok;

	if (u->ctx == NULL)
		return NULL;
	if ((ssl = SSL_new(u->ctx)) == NULL) {
		ERR_clear_error();
		log_event(LOG_ERR, sid, "upstream_tls_setup_failed",
		    "what=SSL_new");
		return NULL;
	}
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (u->host_is_ip)
		/* RFC 6066 3: no SNI for an address; check the address. */
		ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
		    u->host) == 1;
	else
		ok = SSL_set_tlsext_host_name(ssl, u->host) == 1 &&
		    SSL_set1_host(ssl, u->host) == 1;
	if (!ok) {
		ERR_clear_error();
		log_event(LOG_ERR, sid, "upstream_tls_setup_failed",
		    "what=servername");
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
}

int
utls_verified(const SSL *ssl, const char **why)
{
	long	 rv;

	if (SSL_get0_peer_certificate(ssl) == NULL) {
		*why = "no certificate";
		return 0;
	}
	if ((rv = SSL_get_verify_result(ssl)) != X509_V_OK) {
		*why = X509_verify_cert_error_string(rv);
		return 0;
	}
	*why = "";
	return 1;
}

int
utls_auth_write(const struct utls *u, enum utls_auth_step step,
    struct io *io)
{
	uint8_t		*raw = NULL;
	char		*line = NULL;
	size_t		 ulen, rlen = 0, off;
	int		 ret = -1;

	if (u == NULL || u->user == NULL || u->secret == NULL)
		return -1;
	ulen = strlen(u->user);
	if ((raw = sodium_malloc(UTLS_USER_MAX + UTLS_SECRET_MAX + 2)) ==
	    NULL || (line = sodium_malloc(UTLS_LINE_MAX)) == NULL)
		goto done;
	switch (step) {
	case UTLS_AUTH_PLAIN:
		/* RFC 4616 2: empty authzid, NUL, authcid, NUL, passwd. */
		raw[0] = '\0';
		memcpy(raw + 1, u->user, ulen);
		raw[1 + ulen] = '\0';
		memcpy(raw + 2 + ulen, u->secret, u->secret_len);
		rlen = 2 + ulen + u->secret_len;
		memcpy(line, "AUTH PLAIN ", 11);
		off = 11;
		break;
	case UTLS_AUTH_LOGIN_USER:
		memcpy(raw, u->user, ulen);
		rlen = ulen;
		off = 0;
		break;
	case UTLS_AUTH_LOGIN_SECRET:
		memcpy(raw, u->secret, u->secret_len);
		rlen = u->secret_len;
		off = 0;
		break;
	default:
		goto done;
	}
	sodium_bin2base64(line + off, UTLS_LINE_MAX - off - 2, raw, rlen,
	    sodium_base64_VARIANT_ORIGINAL);
	off += strlen(line + off);
	memcpy(line + off, "\r\n", 2);
	ret = io_write(io, line, off + 2);
done:
	if (line != NULL)
		sodium_free(line);
	if (raw != NULL)
		sodium_free(raw);
	return ret;
}
