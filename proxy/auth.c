/*
 * auth — SMTP AUTH server side: SASL PLAIN (RFC 4616) and LOGIN decoding,
 * argon2id verification on a thread pool, failures per client address
 * (RFC 4954; hostile-inputs.md TL-05, TL-07).
 *
 * Invariants:
 * - Decoded octets live in sodium_malloc memory and are wiped when the
 *   exchange ends or is reset; the password never reaches a log or a
 *   reply.
 * - A user name has 1..AUTH_USER_MAX octets and no control octet (no NUL,
 *   CR or LF: TL-07, OpenSMTPD c1ab227c).  PLAIN's authorization identity
 *   is empty or equal to the authentication identity: nobody acts as
 *   somebody else.
 * - Pool requests are owned by the pool from auth_verify until their
 *   completion event has run on the caller's base (or auth_pool_stop);
 *   callers hold only the id.
 */
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <sodium.h>

#include "proxy/auth.h"

/* RFC 4616 2: authzid NUL authcid NUL passwd, each bounded here. */
#define AUTH_MSG_MAX		(2 * AUTH_USER_MAX + 2 + AUTH_PASS_MAX)
#define AUTH_THREADS_DEF	2	/* each verify holds 64 MiB (below) */
#define AUTH_THREADS_MAX	16
#define AUTH_QUEUE_MAX		256	/* waiting verifications; then 454 */
#define AUTH_FAIL_SLOTS		4096	/* addresses remembered (power of 2) */
#define AUTH_FAIL_PROBE		8	/* slots tried per address */

/* RFC 4954 4 replies; texts as Postfix sends them (TL-07). */
#define R_BAD_B64	"501 5.5.2 Cannot decode response"
#define R_CANCEL	"501 5.0.0 Authentication cancelled"
#define R_FAILED	"535 5.7.8 Error: authentication failed"
#define R_AUTHZ		"535 5.7.8 Error: authorization identity not permitted"
#define R_MECH		"504 5.5.4 Error: unsupported authentication mechanism"
#define R_NOMEM		"454 4.7.0 Temporary authentication failure"
/* RFC 4954 4: "334" SP base64 challenge; LOGIN's are "Username:" and
 * "Password:" by convention (draft-murchison-sasl-login-00). */
#define R_PLAIN_GO	"334 "
#define R_LOGIN_USER	"334 VXNlcm5hbWU6"
#define R_LOGIN_PASS	"334 UGFzc3dvcmQ6"

enum sasl_state {
	SASL_IDLE,
	SASL_PLAIN,		/* PLAIN without initial response: 334 sent */
	SASL_LOGIN_USER,
	SASL_LOGIN_PASS,
	SASL_DONE
};

struct auth_sasl {
	enum sasl_state	 st;
	const char	*mech;
	char		 user[AUTH_USER_MAX + 1];
	uint8_t		*pw;		/* sodium_malloc, AUTH_PASS_MAX */
	size_t		 pwlen;
	uint8_t		*dec;		/* sodium_malloc, AUTH_MSG_MAX */
};

/* Base64. */

static int
b64_val(uint8_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
auth_b64_decode(const uint8_t *in, size_t len, uint8_t *out, size_t outmax,
    size_t *outlen)
{
	size_t		 i, o = 0, pad = 0;
	uint32_t	 v;
	int		 d[4], k;

	*outlen = 0;
	if (len % 4 != 0)
		return -1;
	for (i = 0; i < len; i += 4) {
		for (k = 0; k < 4; k++) {
			if (in[i + k] == '=' && i + 4 == len && k >= 2) {
				d[k] = 0;
				pad++;
				continue;
			}
			/* "=" only at the end; nothing after it. */
			if (pad > 0 || (d[k] = b64_val(in[i + k])) < 0)
				return -1;
		}
		v = (uint32_t)d[0] << 18 | (uint32_t)d[1] << 12 |
		    (uint32_t)d[2] << 6 | (uint32_t)d[3];
		/* Unused bits must be zero (RFC 4648 3.5, canonical). */
		if ((pad == 1 && (v & 0xff) != 0) ||
		    (pad == 2 && (v & 0xffff) != 0))
			return -1;
		if (o + 3 - pad > outmax)
			return -1;
		out[o++] = (uint8_t)(v >> 16);
		if (pad < 2)
			out[o++] = (uint8_t)(v >> 8);
		if (pad < 1)
			out[o++] = (uint8_t)v;
	}
	*outlen = o;
	return 0;
}

/* SASL exchanges. */

struct auth_sasl *
auth_sasl_new(void)
{
	struct auth_sasl	*a;

	/* sodium_malloc needs it; idempotent and thread-safe. */
	if (sodium_init() < 0 || (a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	a->pw = sodium_malloc(AUTH_PASS_MAX);
	a->dec = sodium_malloc(AUTH_MSG_MAX);
	if (a->pw == NULL || a->dec == NULL) {
		auth_sasl_free(a);
		return NULL;
	}
	return a;
}

void
auth_sasl_reset(struct auth_sasl *a)
{
	if (a == NULL)
		return;
	sodium_memzero(a->pw, AUTH_PASS_MAX);
	sodium_memzero(a->dec, AUTH_MSG_MAX);
	sodium_memzero(a->user, sizeof(a->user));
	a->pwlen = 0;
	a->st = SASL_IDLE;
	a->mech = NULL;
}

void
auth_sasl_free(struct auth_sasl *a)
{
	if (a == NULL)
		return;
	sodium_free(a->pw);
	sodium_free(a->dec);
	sodium_memzero(a->user, sizeof(a->user));
	free(a);
}

/* A name octet: anything but controls (TL-07: no NUL, CR, LF). */
static int
is_name_octet(uint8_t c)
{
	return c >= 0x20 && c != 0x7f;
}

static int
set_user(struct auth_sasl *a, const uint8_t *p, size_t n)
{
	size_t	 i;

	if (n == 0 || n > AUTH_USER_MAX)
		return -1;
	for (i = 0; i < n; i++)
		if (!is_name_octet(p[i]))
			return -1;
	memcpy(a->user, p, n);
	a->user[n] = '\0';
	return 0;
}

static int
set_password(struct auth_sasl *a, const uint8_t *p, size_t n)
{
	if (n == 0 || n > AUTH_PASS_MAX || memchr(p, '\0', n) != NULL)
		return -1;
	memcpy(a->pw, p, n);
	a->pwlen = n;
	return 0;
}

static enum auth_step
sasl_fail(struct auth_sasl *a, enum auth_step st, const char *line,
    const char **reply)
{
	auth_sasl_reset(a);
	*reply = line;
	return st;
}

/*
 * One base64 response into a->dec.  "*" cancels (RFC 4954 4), "=" is the
 * empty response.  0 ok, else the step to return (reply set).
 */
static int
sasl_decode(struct auth_sasl *a, const uint8_t *p, size_t n, size_t *dlen,
    enum auth_step *st, const char **reply)
{
	*dlen = 0;
	if (n == 1 && p[0] == '*') {
		*st = sasl_fail(a, AUTH_STEP_FAIL, R_CANCEL, reply);
		return -1;
	}
	if (n == 1 && p[0] == '=')
		return 0;
	/* Longer than any message we accept: a failed login, not bad
	 * syntax, so the octets are not even decoded. */
	if (n / 4 * 3 > AUTH_MSG_MAX + 2) {
		*st = sasl_fail(a, AUTH_STEP_REFUSED, R_FAILED, reply);
		return -1;
	}
	if (auth_b64_decode(p, n, a->dec, AUTH_MSG_MAX, dlen) == -1) {
		if (n % 4 == 0 && n / 4 * 3 > AUTH_MSG_MAX) {
			*st = sasl_fail(a, AUTH_STEP_REFUSED, R_FAILED, reply);
			return -1;
		}
		*st = sasl_fail(a, AUTH_STEP_FAIL, R_BAD_B64, reply);
		return -1;
	}
	return 0;
}

/* RFC 4616 2: message = [authzid] UTF8NUL authcid UTF8NUL passwd */
static enum auth_step
sasl_plain(struct auth_sasl *a, const uint8_t *p, size_t n,
    const char **reply)
{
	const uint8_t	*z, *c, *w, *nul1, *nul2;
	size_t		 zl, cl, wl;

	if ((nul1 = memchr(p, '\0', n)) == NULL ||
	    (nul2 = memchr(nul1 + 1, '\0', n - (size_t)(nul1 + 1 - p))) ==
	    NULL)
		return sasl_fail(a, AUTH_STEP_REFUSED, R_FAILED, reply);
	z = p;
	zl = (size_t)(nul1 - p);
	c = nul1 + 1;
	cl = (size_t)(nul2 - c);
	w = nul2 + 1;
	wl = n - (size_t)(w - p);
	if (set_user(a, c, cl) == -1 || set_password(a, w, wl) == -1)
		return sasl_fail(a, AUTH_STEP_REFUSED, R_FAILED, reply);
	/* TL-07: acting for another identity is never permitted. */
	if (zl != 0 && (zl != cl || memcmp(z, c, cl) != 0))
		return sasl_fail(a, AUTH_STEP_REFUSED, R_AUTHZ, reply);
	sodium_memzero(a->dec, AUTH_MSG_MAX);
	a->st = SASL_DONE;
	*reply = NULL;
	return AUTH_STEP_DONE;
}

enum auth_step
auth_sasl_start(struct auth_sasl *a, const uint8_t *mech, size_t mlen,
    const uint8_t *resp, size_t rlen, const char **reply)
{
	enum auth_step	 st;
	size_t		 n;

	auth_sasl_reset(a);
	if (mlen == 5 && memcmp(mech, "PLAIN", 5) == 0)
		a->mech = "PLAIN";
	else if (mlen == 5 && memcmp(mech, "LOGIN", 5) == 0)
		a->mech = "LOGIN";
	else
		return sasl_fail(a, AUTH_STEP_FAIL, R_MECH, reply);
	if (resp == NULL) {
		a->st = a->mech[0] == 'P' ? SASL_PLAIN : SASL_LOGIN_USER;
		*reply = a->st == SASL_PLAIN ? R_PLAIN_GO : R_LOGIN_USER;
		return AUTH_STEP_CHALLENGE;
	}
	if (sasl_decode(a, resp, rlen, &n, &st, reply) == -1)
		return st;
	if (a->mech[0] == 'P')
		return sasl_plain(a, a->dec, n, reply);
	/* LOGIN with an initial response: it is the user name. */
	a->st = SASL_LOGIN_USER;
	return auth_sasl_next(a, resp, rlen, reply);
}

enum auth_step
auth_sasl_next(struct auth_sasl *a, const uint8_t *line, size_t len,
    const char **reply)
{
	enum auth_step	 st;
	size_t		 n;

	if (a->st != SASL_PLAIN && a->st != SASL_LOGIN_USER &&
	    a->st != SASL_LOGIN_PASS)
		return sasl_fail(a, AUTH_STEP_FAIL, R_CANCEL, reply);
	if (sasl_decode(a, line, len, &n, &st, reply) == -1)
		return st;
	switch (a->st) {
	case SASL_PLAIN:
		return sasl_plain(a, a->dec, n, reply);
	case SASL_LOGIN_USER:
		if (set_user(a, a->dec, n) == -1)
			return sasl_fail(a, AUTH_STEP_REFUSED, R_FAILED,
			    reply);
		sodium_memzero(a->dec, AUTH_MSG_MAX);
		a->st = SASL_LOGIN_PASS;
		*reply = R_LOGIN_PASS;
		return AUTH_STEP_CHALLENGE;
	case SASL_LOGIN_PASS:
		if (set_password(a, a->dec, n) == -1)
			return sasl_fail(a, AUTH_STEP_REFUSED, R_FAILED,
			    reply);
		sodium_memzero(a->dec, AUTH_MSG_MAX);
		a->st = SASL_DONE;
		*reply = NULL;
		return AUTH_STEP_DONE;
	case SASL_IDLE:
	case SASL_DONE:
		break;
	}
	return sasl_fail(a, AUTH_STEP_FAIL, R_CANCEL, reply);
}

const char *
auth_sasl_user(const struct auth_sasl *a)
{
	return a->st == SASL_DONE ? a->user : "";
}

const uint8_t *
auth_sasl_password(const struct auth_sasl *a, size_t *len)
{
	*len = a->st == SASL_DONE ? a->pwlen : 0;
	return a->pw;
}

const char *
auth_sasl_mech(const struct auth_sasl *a)
{
	return a->mech != NULL ? a->mech : "-";
}

/* The verifier pool. */

struct auth_req {
	uint64_t	 id;
	struct auth_req	*qnext;		/* the queue */
	struct auth_req	*prev, *next;	/* every live request */
	struct event	*ev;		/* on the caller's base */
	char		*hash;		/* NULL: unknown user */
	uint8_t		*pw;		/* sodium_malloc */
	size_t		 pwlen;
	auth_done_fn	 fn;
	void		*arg;
	int		 ok;
	int		 cancelled;
};

static struct {
	pthread_mutex_t	 mtx;
	pthread_cond_t	 cv;
	pthread_t	 th[AUTH_THREADS_MAX];
	unsigned int	 nth;
	int		 running;
	int		 stopping;
	struct auth_req	*qhead, *qtail;
	size_t		 qlen;
	struct auth_req	*live;
	uint64_t	 next_id;
	char		 dummy[crypto_pwhash_STRBYTES];
} pool = { .mtx = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static void
req_free(struct auth_req *r)
{
	if (r == NULL)
		return;
	if (r->ev != NULL)
		event_free(r->ev);
	sodium_free(r->pw);
	free(r->hash);
	free(r);
}

static void *
pool_main(void *arg)
{
	struct auth_req	*r;
	const char	*h;
	int		 ok;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&pool.mtx);
		while (!pool.stopping && pool.qhead == NULL)
			pthread_cond_wait(&pool.cv, &pool.mtx);
		if (pool.stopping) {
			pthread_mutex_unlock(&pool.mtx);
			return NULL;
		}
		r = pool.qhead;
		pool.qhead = r->qnext;
		if (pool.qhead == NULL)
			pool.qtail = NULL;
		pool.qlen--;
		pthread_mutex_unlock(&pool.mtx);
		/* Unknown users cost as much as known ones (TL-05). */
		h = r->hash != NULL ? r->hash : pool.dummy;
		ok = crypto_pwhash_str_verify(h, (const char *)r->pw,
		    r->pwlen) == 0 && r->hash != NULL;
		sodium_memzero(r->pw, r->pwlen);
		r->ok = ok;
		/* From here on the request belongs to the caller's base. */
		event_active(r->ev, EV_TIMEOUT, 0);
	}
}

int
auth_pool_start(unsigned int nthreads)
{
	uint8_t		 rnd[32];
	unsigned int	 i;

	if (pool.running)
		return 0;
	if (sodium_init() < 0)
		return -1;
	randombytes_buf(rnd, sizeof(rnd));
	/* Same cost as `signetctl passwd` makes (tools/cmd_passwd.c). */
	if (crypto_pwhash_str(pool.dummy, (const char *)rnd, sizeof(rnd),
	    crypto_pwhash_OPSLIMIT_INTERACTIVE,
	    crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
		return -1;
	sodium_memzero(rnd, sizeof(rnd));
	if (nthreads == 0)
		nthreads = AUTH_THREADS_DEF;
	if (nthreads > AUTH_THREADS_MAX)
		nthreads = AUTH_THREADS_MAX;
	pool.stopping = 0;
	for (i = 0; i < nthreads; i++) {
		if (pthread_create(&pool.th[i], NULL, pool_main, NULL) != 0)
			break;
		pool.nth++;
	}
	if (pool.nth == 0)
		return -1;
	pool.running = 1;
	return 0;
}

void
auth_pool_stop(void)
{
	struct auth_req	*r, *next;
	unsigned int	 i;

	if (!pool.running)
		return;
	pthread_mutex_lock(&pool.mtx);
	pool.stopping = 1;
	pthread_cond_broadcast(&pool.cv);
	pthread_mutex_unlock(&pool.mtx);
	for (i = 0; i < pool.nth; i++)
		pthread_join(pool.th[i], NULL);
	pool.nth = 0;
	for (r = pool.live; r != NULL; r = next) {
		next = r->next;
		req_free(r);
	}
	pool.live = NULL;
	pool.qhead = pool.qtail = NULL;
	pool.qlen = 0;
	pool.running = 0;
}

/* On the caller's base: hand the result over unless cancelled. */
static void
req_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct auth_req	*r = arg;
	int		 cancelled;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&pool.mtx);
	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		pool.live = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	cancelled = r->cancelled;
	pthread_mutex_unlock(&pool.mtx);
	if (!cancelled)
		r->fn(r->arg, r->id, r->ok);
	req_free(r);
}

uint64_t
auth_verify(struct event_base *base, const char *hash, const uint8_t *pw,
    size_t pwlen, auth_done_fn fn, void *arg)
{
	struct auth_req	*r;
	uint64_t	 id = 0;

	if (!pool.running || pwlen == 0 || pwlen > AUTH_PASS_MAX)
		return 0;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return 0;
	r->ev = event_new(base, -1, 0, req_done_cb, r);
	r->pw = sodium_malloc(pwlen);
	if (r->ev == NULL || r->pw == NULL ||
	    (hash != NULL && (r->hash = strdup(hash)) == NULL)) {
		req_free(r);
		return 0;
	}
	memcpy(r->pw, pw, pwlen);
	r->pwlen = pwlen;
	r->fn = fn;
	r->arg = arg;
	pthread_mutex_lock(&pool.mtx);
	if (pool.qlen < AUTH_QUEUE_MAX && !pool.stopping) {
		id = r->id = ++pool.next_id;
		if (pool.qtail != NULL)
			pool.qtail->qnext = r;
		else
			pool.qhead = r;
		pool.qtail = r;
		pool.qlen++;
		r->next = pool.live;
		if (pool.live != NULL)
			pool.live->prev = r;
		pool.live = r;
		pthread_cond_signal(&pool.cv);
	}
	pthread_mutex_unlock(&pool.mtx);
	if (id == 0)
		req_free(r);
	return id;
}

void
auth_verify_cancel(uint64_t id)
{
	struct auth_req	*r;

	if (id == 0)
		return;
	pthread_mutex_lock(&pool.mtx);
	for (r = pool.live; r != NULL; r = r->next) {
		if (r->id == id) {
			r->cancelled = 1;
			break;
		}
	}
	pthread_mutex_unlock(&pool.mtx);
}

/* Failures per client address. */

struct fail_ent {
	int		 family;	/* 0: free */
	uint8_t		 addr[16];
	unsigned int	 count;
	time_t		 first;
};

static struct {
	pthread_mutex_t	 mtx;
	struct fail_ent	 ent[AUTH_FAIL_SLOTS];
} fails = { .mtx = PTHREAD_MUTEX_INITIALIZER };

static time_t
mono_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* The address as a key; an IPv4-mapped IPv6 address counts as IPv4. */
static int
fail_key(const struct sockaddr *sa, int *family, uint8_t addr[16])
{
	const struct sockaddr_in6	*s6;

	memset(addr, 0, 16);
	if (sa->sa_family == AF_INET) {
		*family = AF_INET;
		memcpy(addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family != AF_INET6)
		return -1;
	s6 = (const struct sockaddr_in6 *)sa;
	if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		*family = AF_INET;
		memcpy(addr, &s6->sin6_addr.s6_addr[12], 4);
	} else {
		*family = AF_INET6;
		memcpy(addr, &s6->sin6_addr, 16);
	}
	return 0;
}

static size_t
fail_hash(int family, const uint8_t addr[16])
{
	uint32_t	 h = 2166136261u;	/* FNV-1a */
	size_t		 i;

	h = (h ^ (uint32_t)family) * 16777619u;
	for (i = 0; i < 16; i++)
		h = (h ^ addr[i]) * 16777619u;
	return h & (AUTH_FAIL_SLOTS - 1);
}

/* The entry for the address, or (add) a slot for it; under fails.mtx. */
static struct fail_ent *
fail_find(int family, const uint8_t addr[16], time_t now, int add)
{
	struct fail_ent	*e, *victim = NULL;
	size_t		 h = fail_hash(family, addr), i;

	for (i = 0; i < AUTH_FAIL_PROBE; i++) {
		e = &fails.ent[(h + i) & (AUTH_FAIL_SLOTS - 1)];
		if (e->family == family && memcmp(e->addr, addr, 16) == 0) {
			if (now - e->first >= AUTH_FAIL_WINDOW_S) {
				e->count = 0;
				e->first = now;
			}
			return e;
		}
		if (e->family == 0 || now - e->first >= AUTH_FAIL_WINDOW_S) {
			if (victim == NULL || victim->family != 0)
				victim = e;
		} else if (victim == NULL || (victim->family != 0 &&
		    now - victim->first < AUTH_FAIL_WINDOW_S &&
		    e->first < victim->first))
			victim = e;
	}
	if (!add)
		return NULL;
	victim->family = family;
	memcpy(victim->addr, addr, 16);
	victim->count = 0;
	victim->first = now;
	return victim;
}

unsigned int
auth_failures_get(const struct sockaddr *sa)
{
	struct fail_ent	*e;
	uint8_t		 a[16];
	unsigned int	 n = 0;
	int		 fam;

	if (fail_key(sa, &fam, a) == -1)
		return 0;
	pthread_mutex_lock(&fails.mtx);
	if ((e = fail_find(fam, a, mono_now(), 0)) != NULL)
		n = e->count;
	pthread_mutex_unlock(&fails.mtx);
	return n;
}

unsigned int
auth_failures_add(const struct sockaddr *sa)
{
	struct fail_ent	*e;
	uint8_t		 a[16];
	unsigned int	 n;
	int		 fam;

	if (fail_key(sa, &fam, a) == -1)
		return 0;
	pthread_mutex_lock(&fails.mtx);
	e = fail_find(fam, a, mono_now(), 1);
	n = ++e->count;
	pthread_mutex_unlock(&fails.mtx);
	return n;
}

uint64_t
auth_fail_delay_ms(uint64_t base_ms, unsigned int n)
{
	uint64_t	 d = base_ms;

	while (n > 1 && d < AUTH_DELAY_MAX_MS) {
		d *= 2;
		n--;
	}
	return d < AUTH_DELAY_MAX_MS ? d : AUTH_DELAY_MAX_MS;
}
