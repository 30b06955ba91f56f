/*
 * auth — server-side SMTP AUTH (RFC 4954): the PLAIN (RFC 4616) and LOGIN
 * exchanges, argon2id verification off the event loops, and failure
 * counting per client address (hostile-inputs.md TL-05, TL-06, TL-07).
 *
 * Three parts:
 * - auth_sasl: one exchange, a pure state machine over (ptr, len) lines;
 *   it answers with the reply line to send and, when done, holds the user
 *   name and the password (the password in sodium_malloc memory, wiped by
 *   auth_sasl_free and auth_sasl_reset).
 * - auth_verify: crypto_pwhash_str_verify costs tens of milliseconds and
 *   megabytes, so it runs on a small pool of verifier threads; the result
 *   comes back to the caller's event base by event_active.  Requests carry
 *   ids: a caller that goes away cancels its id and the result is dropped.
 *   An unknown user is verified against a dummy hash so that the answer
 *   takes as long as for a known one.
 * - auth_failures: failures per client address, shared by every worker,
 *   forgotten after AUTH_FAIL_WINDOW_S (TL-05: throttle by source, never
 *   by target, so nobody can lock a tenant out).
 */
#ifndef SIGNET_AUTH_H
#define SIGNET_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct event_base;

#define AUTH_USER_MAX		255	/* config.c CONFIG_USER_NAME_MAX */
#define AUTH_PASS_MAX		1024	/* bounded; argon2 takes any length */
/* TL-05: failures from one address are remembered this long. */
#define AUTH_FAIL_WINDOW_S	600
/* TL-05: the delay before a 535 doubles per failure up to this. */
#define AUTH_DELAY_MAX_MS	8000

enum auth_step {
	AUTH_STEP_CHALLENGE,	/* send the reply, read one more line */
	AUTH_STEP_DONE,		/* user and password are ready to verify */
	AUTH_STEP_FAIL,		/* send the reply; the exchange is over */
	AUTH_STEP_REFUSED	/* like FAIL, and counts as a failed login */
};

struct auth_sasl;

struct auth_sasl	*auth_sasl_new(void);
void			 auth_sasl_free(struct auth_sasl *);
/* Forget user and password (wiped); ready for a new exchange. */
void			 auth_sasl_reset(struct auth_sasl *);

/*
 * Start an exchange: mech is the upper-cased mechanism name, resp the
 * initial response as sent (base64, or "=" for an empty one), NULL when
 * none was given.  *reply gets the whole reply line without CRLF
 * ("334 ...", "501 5.5.2 ...", ...); it is static or lives in the
 * exchange until the next call.
 */
enum auth_step		 auth_sasl_start(struct auth_sasl *, const uint8_t *mech,
			    size_t mlen, const uint8_t *resp, size_t rlen,
			    const char **reply);
/* The client's next line, without CRLF. */
enum auth_step		 auth_sasl_next(struct auth_sasl *, const uint8_t *line,
			    size_t len, const char **reply);
/* After AUTH_STEP_DONE (else ""): NUL-terminated, no CR, LF or controls. */
const char		*auth_sasl_user(const struct auth_sasl *);
const uint8_t		*auth_sasl_password(const struct auth_sasl *,
			    size_t *len);
/* The mechanism of the exchange ("PLAIN", "LOGIN"), for logs. */
const char		*auth_sasl_mech(const struct auth_sasl *);

/*
 * Strict base64 (RFC 4648 4, padding required, no white space) into out
 * (at most outmax octets).  0 and *outlen, or -1.
 */
int			 auth_b64_decode(const uint8_t *in, size_t len,
			    uint8_t *out, size_t outmax, size_t *outlen);

/*
 * The verifier pool.  auth_pool_start before any auth_verify (signetd's
 * main, once; nthreads 0 picks the default); auth_pool_stop after every
 * event base that may get a result has stopped running, before those
 * bases are freed: pending requests are dropped.
 */
int			 auth_pool_start(unsigned int nthreads);
void			 auth_pool_stop(void);

/* ok: 1 the password matches, 0 it does not (or the user is unknown). */
typedef void		(*auth_done_fn)(void *arg, uint64_t id, int ok);

/*
 * Queue a verification; hash is the user's "$argon2id$..." string or NULL
 * for an unknown user.  The password is copied.  fn runs later on base's
 * thread, unless auth_verify_cancel(id) ran first.  Returns the request
 * id, 0 when the queue is full or memory is short (answer 454).
 */
uint64_t		 auth_verify(struct event_base *, const char *hash,
			    const uint8_t *pw, size_t pwlen, auth_done_fn fn,
			    void *arg);
/* Drop the result of id (call from base's thread); unknown ids are fine. */
void			 auth_verify_cancel(uint64_t id);

/* Failures from sa's address within AUTH_FAIL_WINDOW_S. */
unsigned int		 auth_failures_get(const struct sockaddr *);
/* Count one more; returns the new count. */
unsigned int		 auth_failures_add(const struct sockaddr *);
/*
 * The delay before a 535 after the n-th failure from one address:
 * base_ms doubled per earlier failure, at most AUTH_DELAY_MAX_MS.
 */
uint64_t		 auth_fail_delay_ms(uint64_t base_ms, unsigned int n);

#endif
