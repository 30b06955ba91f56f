/*
 * upstream_tls — what the relay needs to protect and authenticate its
 * connection to the upstream: the TLS client context built from
 * config.upstream (trust store, minimum version) and the AUTH secret
 * read from upstream.auth.secret_file.
 *
 * One utls object belongs to one configuration: snapshot_build() calls
 * utls_prepare() for a new configuration (so a reload reads the CA file
 * and the secret again, and a broken one fails the reload), and the
 * configuration's last reference calls utls_forget().  The relay finds
 * the object of the configuration it serves with utls_find(); it stays
 * valid while that configuration does.  All functions are thread-safe.
 *
 * The secret lives in sodium_malloc memory, is wiped when forgotten and
 * never reaches a log.
 */
#ifndef SIGNET_UPSTREAM_TLS_H
#define SIGNET_UPSTREAM_TLS_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct config;
struct io;
struct ssl_st;
struct utls;

/* Longest secret read from auth.secret_file (one line). */
#define UTLS_SECRET_MAX	1024

/*
 * Build and register the upstream TLS state of cfg.  0, or -1 with a
 * one-line reason appended to err (may be NULL).  A file: upstream, or
 * an upstream without TLS and AUTH, registers an empty object.
 */
int		 utls_prepare(const struct config *, struct buf *err);
/* Drop (and wipe) what utls_prepare built for cfg; no-op if none. */
void		 utls_forget(const struct config *);
/* The object registered for cfg, or NULL. */
const struct utls *utls_find(const struct config *);

/*
 * A client SSL for one connection: SNI (unless the name is an IP
 * literal) and the expected host name or address, checked into the
 * verification result.  NULL on failure (logged under sid).
 */
struct ssl_st	*utls_ssl_new(const struct utls *, const char *sid);
/*
 * After the handshake: 1 if the chain verified against the configured
 * trust store and the name matched, else 0 with *why a short static
 * reason for the log.
 */
int		 utls_verified(const struct ssl_st *, const char **why);

enum utls_auth_step {
	UTLS_AUTH_PLAIN,	/* "AUTH PLAIN <b64 \0user\0secret>" RFC 4616 */
	UTLS_AUTH_LOGIN_USER,	/* "<b64 user>", answering LOGIN's 334 */
	UTLS_AUTH_LOGIN_SECRET	/* "<b64 secret>", answering the next 334 */
};

/*
 * Write one AUTH line (with CRLF) to io.  It is built in sodium_malloc
 * memory and wiped at once; only the io's own output buffer holds the
 * copy until it is sent.  -1 if there is no secret or the write failed.
 */
int		 utls_auth_write(const struct utls *, enum utls_auth_step,
		    struct io *);

#endif
