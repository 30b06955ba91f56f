/*
 * signetd — flags, configuration, listeners, workers, reload and drain.
 *
 * The main thread owns the listeners, the signals, the key-store poll
 * and the connection counters; each of N worker threads owns an event
 * base and the sessions handed to it (round robin, through a pipe).
 * Configuration and keys are served as one reference-counted snapshot
 * (snapshot.h): SIGHUP builds a new one and publishes it only if it
 * loads completely, so a broken file is refused with a log line and the
 * old snapshot keeps serving (KY-05).  The key store is polled every
 * second, so a rotation is picked up within a few seconds without a
 * signal.  SIGTERM stops accepting, lets open transactions finish up to
 * limits.drain_timeout_ms, then exits 0.
 *
 * Connection limits (PR-09): a per-IP cap answered with 421, a global cap
 * that pauses the listener, and a reserved descriptor so EMFILE turns
 * into a refused connection and a 100 ms back-off instead of a busy loop.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <getopt.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include "config/config.h"
#include "proxy/auth.h"
#include "proxy/log.h"
#include "proxy/metrics.h"
#include "proxy/msg/buf.h"
#include "proxy/selfcheck.h"
#include "proxy/session.h"
#include "proxy/snapshot.h"
#include "proxy/spool.h"
#include "proxy/uppool.h"

#define WORKERS_MAX	64	/* more threads than this is a config error */
#define STORE_POLL_S	1	/* key store poll: changes seen within 5 s */
#define EMFILE_BACKOFF_MS 100	/* PR-09 */
#define ERRBUF_MAX	8192

enum worker_msg_type {
	WORKER_CONN,
	WORKER_DRAIN,
	WORKER_ABORT
};

/* One accepted connection, owned by its worker once handed over. */
struct sess_node {
	struct session		*s;
	struct sess_node	*next, *prev;
	struct sockaddr_storage	 ss;	/* for the per-IP count */
};

struct worker_msg {
	enum worker_msg_type	 type;
	int			 fd;
	struct sess_node	*node;
};

struct worker {
	pthread_t		 thread;
	struct event_base	*base;
	struct event		*pipe_ev;
	int			 pipe_rd, pipe_wr;
	int			 draining;
	size_t			 nsessions;
	struct sess_node	*sessions;
};

struct ipcount {
	int		 family;
	uint8_t		 addr[16];
	size_t		 n;
};

static struct {
	const char		*config_path;
	int			 demo;
	struct event_base	*base;
	struct evconnlistener	**listeners;
	size_t			 nlisteners;
	struct metrics_server	*metrics;
	int			 listeners_paused;
	struct worker		*workers;
	unsigned int		 nworkers;
	unsigned int		 next_worker;
	struct event		*ev_resume;	/* wake main: a session ended */
	struct event		*ev_backoff;
	struct event		*ev_poll;
	struct event		*ev_drain_timeout;
	int			 draining;
	int			 reserve_fd;
	char			 host[256];	/* for 421 replies */
	time_t			 last_emfile_log;
	/* Guarded by mtx: touched by workers when sessions end. */
	pthread_mutex_t		 mtx;
	size_t			 nconn;
	struct ipcount		*ips;
	size_t			 nips, capips;
	uint64_t		 max_conn, max_per_ip;
	/*
	 * Main waits for sessions to end (listeners paused, or draining):
	 * only then does a worker wake it.  Waking it for every session
	 * cost the worker an eventfd write and main a wakeup, read and
	 * epoll_wait per connection.
	 */
	int			 wake_on_end;
} g = { .mtx = PTHREAD_MUTEX_INITIALIZER, .reserve_fd = -1 };

static void
usage(void)
{
	fprintf(stderr, "usage: signetd -c FILE [-f] [-t]\n"
	    "       signetd --demo [-f] [-t]\n");
	exit(2);
}

static void
sa_key(const struct sockaddr_storage *ss, int *family, uint8_t addr[16])
{
	memset(addr, 0, 16);
	*family = ss->ss_family;
	if (ss->ss_family == AF_INET)
		memcpy(addr, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	else if (ss->ss_family == AF_INET6)
		memcpy(addr, &((const struct sockaddr_in6 *)ss)->sin6_addr,
		    16);
}

static void
sa_name(const struct sockaddr_storage *ss, char *out, size_t len)
{
	const void	*a = &((const struct sockaddr_in *)ss)->sin_addr;

	if (ss->ss_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
	if (inet_ntop(ss->ss_family, a, out, (socklen_t)len) == NULL)
		snprintf(out, len, "unknown");
}

/*
 * Count one more connection from ss; -1 if over the per-IP cap.  A PROXY
 * listener's peer is the balancer, carrying everybody's connections: it
 * is counted but never capped.
 */
static int
conn_count_add(const struct sockaddr_storage *ss, int capped)
{
	struct ipcount	*ip = NULL, *n;
	uint8_t		 a[16];
	size_t		 i;
	int		 fam, rv = -1;

	sa_key(ss, &fam, a);
	pthread_mutex_lock(&g.mtx);
	for (i = 0; i < g.nips; i++)
		if (g.ips[i].family == fam && memcmp(g.ips[i].addr, a, 16) == 0)
			ip = &g.ips[i];
	if (capped && ip != NULL && g.max_per_ip > 0 && ip->n >= g.max_per_ip)
		goto done;
	if (ip == NULL) {
		if (g.nips == g.capips) {
			n = reallocarray(g.ips, g.capips ? g.capips * 2 : 64,
			    sizeof(*n));
			if (n == NULL)
				goto done;
			g.ips = n;
			g.capips = g.capips ? g.capips * 2 : 64;
		}
		ip = &g.ips[g.nips++];
		ip->family = fam;
		memcpy(ip->addr, a, 16);
		ip->n = 0;
	}
	ip->n++;
	g.nconn++;
	metrics_connection_open();
	rv = 0;
done:
	pthread_mutex_unlock(&g.mtx);
	return rv;
}

/*
 * Count one connection less; returns whether main wants to hear of it,
 * read with the count so main's recheck after raising the flag sees
 * every end it was not woken for.
 */
static int
conn_count_del(const struct sockaddr_storage *ss)
{
	uint8_t		 a[16];
	size_t		 i;
	int		 fam, wake;

	sa_key(ss, &fam, a);
	pthread_mutex_lock(&g.mtx);
	for (i = 0; i < g.nips; i++) {
		if (g.ips[i].family != fam || memcmp(g.ips[i].addr, a, 16))
			continue;
		if (--g.ips[i].n == 0)
			g.ips[i] = g.ips[--g.nips];
		break;
	}
	g.nconn--;
	wake = g.wake_on_end;
	pthread_mutex_unlock(&g.mtx);
	metrics_connection_close();
	return wake;
}

static size_t
conn_total(void)
{
	size_t	 n;

	pthread_mutex_lock(&g.mtx);
	n = g.nconn;
	pthread_mutex_unlock(&g.mtx);
	return n;
}

/*
 * Ask workers to report session ends (on) or not.  Sessions that ended
 * before the flag was up woke nobody, so the caller's condition is
 * checked again from the loop.
 */
static void
main_wait_ends(int on)
{
	pthread_mutex_lock(&g.mtx);
	g.wake_on_end = on || g.draining;
	pthread_mutex_unlock(&g.mtx);
	if (on)
		event_active(g.ev_resume, EV_TIMEOUT, 0);
}

/* Best effort: the socket is fresh, so a short reply fits its buffer. */
static void
refuse(int fd, const char *reply)
{
	ssize_t	 w;

	w = write(fd, reply, strlen(reply));
	(void)w;
	close(fd);
}

static void
listeners_enable(int on)
{
	size_t	 i;

	if (g.listeners_paused == !on)
		return;
	main_wait_ends(!on);
	for (i = 0; i < g.nlisteners; i++) {
		if (on)
			evconnlistener_enable(g.listeners[i]);
		else
			evconnlistener_disable(g.listeners[i]);
	}
	g.listeners_paused = !on;
}

/* Worker side. */

static void
worker_session_end(void *arg, void *tag)
{
	struct worker	*w = arg;
	struct sess_node *node = tag;
	int		 wake;

	if (node->prev != NULL)
		node->prev->next = node->next;
	else
		w->sessions = node->next;
	if (node->next != NULL)
		node->next->prev = node->prev;
	w->nsessions--;
	wake = conn_count_del(&node->ss);
	free(node);
	/* event_active is thread-safe once evthread is set up. */
	if (wake)
		event_active(g.ev_resume, EV_TIMEOUT, 0);
	if (w->draining && w->nsessions == 0)
		event_base_loopexit(w->base, NULL);
}

/* A PROXY client's real address: move the count there, capped. */
static int
worker_session_client(void *arg, void *tag, const struct sockaddr_storage *ss)
{
	struct sess_node	*node = tag;

	(void)arg;
	if (conn_count_add(ss, 1) == -1)
		return -1;
	conn_count_del(&node->ss);
	memcpy(&node->ss, ss, sizeof(node->ss));
	return 0;
}

static void
worker_pipe_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker		*w = arg;
	struct worker_msg	 m;
	struct session_owner	 owner;
	struct sess_node	*node, *next;
	ssize_t			 r;

	(void)what;
	for (;;) {
		r = read(fd, &m, sizeof(m));
		if (r != (ssize_t)sizeof(m))
			return;
		switch (m.type) {
		case WORKER_CONN:
			node = m.node;
			owner.on_end = worker_session_end;
			owner.on_client = worker_session_client;
			owner.arg = w;
			node->next = w->sessions;
			node->prev = NULL;
			if (w->sessions != NULL)
				w->sessions->prev = node;
			w->sessions = node;
			w->nsessions++;
			node->s = session_new(w->base, m.fd, &owner, node);
			if (node->s == NULL)
				worker_session_end(w, node);
			else if (w->draining)
				session_drain(node->s);
			break;
		case WORKER_DRAIN:
		case WORKER_ABORT:
			w->draining = 1;
			uppool_drain();
			for (node = w->sessions; node != NULL; node = next) {
				next = node->next;
				if (m.type == WORKER_DRAIN)
					session_drain(node->s);
				else
					session_abort(node->s);
			}
			if (w->nsessions == 0)
				event_base_loopexit(w->base, NULL);
			break;
		}
	}
}

static void *
worker_main(void *arg)
{
	struct worker	*w = arg;
	sigset_t	 set;

	/* Signals belong to the main thread's event base. */
	sigfillset(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	event_base_dispatch(w->base);
	/* Idle upstream connections are this thread's; its base goes next. */
	uppool_shutdown();
	return NULL;
}

/*
 * A worker's event base.  With the epoll changelist, enabling and
 * disabling a socket's events within one loop pass (a client held while
 * the upstream answers, released by the reply) reaches the kernel as
 * one epoll_ctl() or none, instead of one per change.  Sockets here are
 * never dup()ed, the case the changelist gets wrong.
 */
static struct event_base *
worker_base_new(void)
{
	struct event_config	*ec;
	struct event_base	*base;

	if ((ec = event_config_new()) == NULL)
		return NULL;
	event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(ec);
	event_config_free(ec);
	return base;
}

static int
worker_start(struct worker *w)
{
	int	 p[2];

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) == -1)
		return -1;
	w->pipe_rd = p[0];
	w->pipe_wr = p[1];
	if ((w->base = worker_base_new()) == NULL)
		return -1;
	w->pipe_ev = event_new(w->base, w->pipe_rd, EV_READ | EV_PERSIST,
	    worker_pipe_cb, w);
	if (w->pipe_ev == NULL || event_add(w->pipe_ev, NULL) == -1)
		return -1;
	if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
		return -1;
	return 0;
}

static void
worker_send(struct worker *w, const struct worker_msg *m)
{
	ssize_t	 r;

	/* The message is smaller than PIPE_BUF, so the write is atomic. */
	do
		r = write(w->pipe_wr, m, sizeof(*m));
	while (r == -1 && errno == EINTR);
	if (r != (ssize_t)sizeof(*m)) {
		log_event(LOG_CRIT, NULL, "worker_pipe_full", "errno=%d",
		    errno);
		abort();
	}
}

/* Main side. */

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct worker_msg	 m;
	struct sess_node	*node;
	struct worker		*w;
	char			 ip[INET6_ADDRSTRLEN], line[512];

	(void)l;
	if (g.draining) {
		refuse(fd, "421 4.3.2 Service shutting down\r\n");
		return;
	}
	if ((node = calloc(1, sizeof(*node))) == NULL) {
		refuse(fd, "421 4.3.0 Error: out of memory\r\n");
		return;
	}
	memcpy(&node->ss, sa, (size_t)salen < sizeof(node->ss) ?
	    (size_t)salen : sizeof(node->ss));
	/* arg is non-NULL on PROXY listeners (open_listeners). */
	if (conn_count_add(&node->ss, arg == NULL) == -1) {
		sa_name(&node->ss, ip, sizeof(ip));
		log_event(LOG_WARNING, NULL, "too_many_connections",
		    "client=%s limit=%llu", ip,
		    (unsigned long long)g.max_per_ip);
		snprintf(line, sizeof(line), "421 4.7.0 %s Error: too many "
		    "connections from %s\r\n", g.host, ip);
		refuse(fd, line);
		free(node);
		return;
	}
	w = &g.workers[g.next_worker++ % g.nworkers];
	m.type = WORKER_CONN;
	m.fd = fd;
	m.node = node;
	worker_send(w, &m);
	if (g.max_conn > 0 && conn_total() >= g.max_conn)
		listeners_enable(0);
}

static void
resume_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (g.draining) {
		if (conn_total() == 0)
			event_base_loopexit(g.base, NULL);
		return;
	}
	if (evtimer_pending(g.ev_backoff, NULL))
		return;
	if (g.max_conn == 0 || conn_total() < g.max_conn)
		listeners_enable(1);
}

static void
backoff_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (g.reserve_fd == -1)
		g.reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (gethostname(g.host, sizeof(g.host) - 1) == -1 || g.host[0] == '\0')
		snprintf(g.host, sizeof(g.host), "localhost");
	resume_cb(-1, 0, NULL);
}

static void
accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct timeval	 tv = { 0, EMFILE_BACKOFF_MS * 1000 };
	int		 err = EVUTIL_SOCKET_ERROR(), fd;
	time_t		 now = time(NULL);

	(void)arg;
	if (err != EMFILE && err != ENFILE && err != ENOBUFS &&
	    err != ENOMEM)
		return;
	if (now != g.last_emfile_log) {
		g.last_emfile_log = now;
		log_event(LOG_WARNING, NULL, "accept_failed", "errno=%d", err);
	}
	/* Free the reserve, take the waiting connection off the queue. */
	if (g.reserve_fd != -1) {
		close(g.reserve_fd);
		g.reserve_fd = -1;
		fd = accept(evconnlistener_get_fd(l), NULL, NULL);
		if (fd != -1)
			refuse(fd, "421 4.3.2 signet Error: too many open "
			    "files, try again later\r\n");
	}
	listeners_enable(0);
	evtimer_add(g.ev_backoff, &tv);
}

static void
log_errors(const char *event, struct buf *errs)
{
	const uint8_t	*p = buf_data(errs), *nl;
	size_t		 left = buf_len(errs);
	struct log_line	*l;

	while (left > 0) {
		nl = memchr(p, '\n', left);
		l = log_begin(LOG_ERR, NULL, event);
		log_kv_esc(l, "detail", p, nl ? (size_t)(nl - p) : left);
		log_end(l);
		if (nl == NULL)
			break;
		left -= (size_t)(nl - p) + 1;
		p = nl + 1;
	}
}

static const struct config *
load_config(struct buf *errs)
{
	if (g.demo)
		return config_default_demo(errs);
	return config_load(g.config_path, errs);
}

static int
same_listeners(const struct config *a, const struct config *b)
{
	size_t	 i;

	if (a->nlisteners != b->nlisteners)
		return 0;
	for (i = 0; i < a->nlisteners; i++) {
		if (a->listeners[i].address.port !=
		    b->listeners[i].address.port ||
		    strcmp(a->listeners[i].address.host,
		    b->listeners[i].address.host) != 0)
			return 0;
	}
	return 1;
}

/* What /metrics reports about the snapshot being published. */
static void
metrics_observe(struct snapshot *s)
{
	metrics_set_store_generation(snapshot_store_generation(s));
	if (metrics_load_key_ages(snapshot_config(s)) == -1)
		log_event(LOG_WARNING, NULL, "metrics_key_ages_failed",
		    "detail=\"key store unreadable\"");
}

static void
reload_cb(evutil_socket_t sig, short what, void *arg)
{
	struct buf		*errs;
	const struct config	*cfg;
	struct snapshot		*s, *old;

	(void)sig;
	(void)what;
	(void)arg;
	if ((errs = buf_new(ERRBUF_MAX)) == NULL)
		return;
	log_event(LOG_INFO, NULL, "reload", "stage=start");
	if ((cfg = load_config(errs)) == NULL) {
		log_errors("reload_failed", errs);
		log_event(LOG_ERR, NULL, "reload", "outcome=refused "
		    "detail=\"old configuration kept\"");
		metrics_set_reload_failed(1);
		goto done;
	}
	old = snapshot_current();
	if (old != NULL && !same_listeners(snapshot_config(old), cfg))
		log_event(LOG_WARNING, NULL, "reload", "restart_needed="
		    "listen detail=\"listener changes need a restart\"");
	snapshot_unref(old);
	if ((s = snapshot_build(cfg, errs)) == NULL) {
		log_errors("reload_failed", errs);
		log_event(LOG_ERR, NULL, "reload", "outcome=refused "
		    "detail=\"old configuration kept\"");
		metrics_set_reload_failed(1);
		goto done;
	}
	log_set_level(cfg->log_level);
	g.max_conn = cfg->limits.max_connections;
	g.max_per_ip = cfg->limits.max_connections_per_ip;
	snapshot_publish(s);
	log_event(LOG_INFO, NULL, "reload", "outcome=ok store_generation=%llu",
	    (unsigned long long)snapshot_store_generation(s));
	metrics_set_reload_failed(0);
	metrics_observe(s);
done:
	buf_free(errs);
}

static void
poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct snapshot	*cur, *s;
	struct buf	*errs;

	(void)fd;
	(void)what;
	(void)arg;
	if ((cur = snapshot_current()) == NULL)
		return;
	if (!snapshot_store_changed(cur)) {
		snapshot_unref(cur);
		return;
	}
	if ((errs = buf_new(ERRBUF_MAX)) == NULL) {
		snapshot_unref(cur);
		return;
	}
	if ((s = snapshot_rebuild_keys(cur, errs)) == NULL)
		log_errors("keys_reload_failed", errs);
	else {
		log_event(LOG_INFO, NULL, "keys_reload",
		    "store_generation=%llu",
		    (unsigned long long)snapshot_store_generation(s));
		metrics_observe(s);
		snapshot_publish(s);
	}
	snapshot_unref(cur);
	buf_free(errs);
}

static void
drain_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker_msg	 m = { .type = WORKER_ABORT, .fd = -1 };
	unsigned int		 i;

	(void)fd;
	(void)what;
	(void)arg;
	log_event(LOG_WARNING, NULL, "drain", "stage=timeout open=%zu",
	    conn_total());
	for (i = 0; i < g.nworkers; i++)
		worker_send(&g.workers[i], &m);
}

static void
term_cb(evutil_socket_t sig, short what, void *arg)
{
	struct worker_msg	 m = { .type = WORKER_DRAIN, .fd = -1 };
	struct snapshot		*s;
	struct timeval		 tv;
	uint64_t		 ms = 30000;
	unsigned int		 i;
	size_t			 j;

	(void)what;
	(void)arg;
	if (g.draining)
		return;
	g.draining = 1;
	main_wait_ends(1);
	metrics_set_serving(0);
	log_event(LOG_INFO, NULL, "drain", "stage=start signal=%d open=%zu",
	    (int)sig, conn_total());
	for (j = 0; j < g.nlisteners; j++)
		evconnlistener_disable(g.listeners[j]);
	if ((s = snapshot_current()) != NULL) {
		ms = snapshot_config(s)->limits.drain_timeout_ms;
		snapshot_unref(s);
	}
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(g.ev_drain_timeout, &tv);
	event_del(g.ev_poll);
	for (i = 0; i < g.nworkers; i++)
		worker_send(&g.workers[i], &m);
	/* Workers leave their loops when empty; resume_cb ends ours. */
	if (conn_total() == 0)
		event_base_loopexit(g.base, NULL);
}

/* The accept callback's argument on PROXY listeners. */
static const int	 proxy_listener = 1;

static int
open_listeners(const struct config *cfg)
{
	const struct config_hostport	*a;
	size_t				 i;

	g.listeners = calloc(cfg->nlisteners, sizeof(*g.listeners));
	if (g.listeners == NULL)
		return -1;
	for (i = 0; i < cfg->nlisteners; i++) {
		a = &cfg->listeners[i].address;
		g.listeners[i] = evconnlistener_new_bind(g.base, accept_cb,
		    cfg->listeners[i].proxy_protocol != CONFIG_PROXY_OFF ?
		    (void *)&proxy_listener : NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
		    LEV_OPT_CLOSE_ON_EXEC, 128,
		    (const struct sockaddr *)&a->sa, (int)a->salen);
		if (g.listeners[i] == NULL) {
			log_event(LOG_ERR, NULL, "listen_failed",
			    "port=%u errno=%d", a->port, errno);
			fprintf(stderr, "signetd: cannot listen on %s:%u: %s\n",
			    a->host, a->port, strerror(errno));
			return -1;
		}
		evconnlistener_set_error_cb(g.listeners[i], accept_error_cb);
		g.nlisteners++;
		log_event(LOG_INFO, NULL, "listening", "port=%u", a->port);
	}
	return 0;
}

/* The metrics listener, on the main event base (DESIGN.md "Metrics"). */
static int
open_metrics(const struct config *cfg)
{
	struct buf	*err;

	if (!cfg->has_metrics)
		return 0;
	if ((err = buf_new(ERRBUF_MAX)) == NULL)
		return -1;
	g.metrics = metrics_server_new(g.base, cfg->metrics_listen.host,
	    cfg->metrics_listen.port, err);
	if (g.metrics == NULL) {
		fprintf(stderr, "signetd: %s\n", buf_cstr(err) != NULL ?
		    buf_cstr(err) : "cannot start the metrics listener");
		buf_free(err);
		return -1;
	}
	buf_free(err);
	log_event(LOG_INFO, NULL, "listening", "port=%u what=metrics",
	    cfg->metrics_listen.port);
	return 0;
}

static int
drop_privileges(const char *user)
{
	struct passwd	*pw;

	if (user == NULL || getuid() != 0)
		return 0;
	if ((pw = getpwnam(user)) == NULL) {
		fprintf(stderr, "signetd: unknown user %s\n", user);
		return -1;
	}
	if (setgroups(1, &pw->pw_gid) == -1 || setgid(pw->pw_gid) == -1 ||
	    setuid(pw->pw_uid) == -1) {
		fprintf(stderr, "signetd: cannot become %s: %s\n", user,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Every message allocates and frees the same few hundred KiB (input
 * chunks, spool blocks, output): by default glibc hands freed memory at
 * the top of each thread's heap back to the kernel and faults it in
 * again for the next message, about 15 page faults per 100 KiB message.
 * Keep up to MAIN_MALLOC_KEEP free per heap instead; the spool's memory
 * budget (SPOOL_MEM_TOTAL_MAX) still bounds what messages hold at once.
 * Fixing the thresholds also stops glibc from raising its mmap threshold
 * after each large free, so big blocks stay mmap()ed and are returned.
 */
#define MAIN_MALLOC_KEEP	(8 * 1024 * 1024)
#define MAIN_MALLOC_MMAP	(1024 * 1024)

static void
main_malloc_tune(void)
{
	(void)mallopt(M_TRIM_THRESHOLD, MAIN_MALLOC_KEEP);
	(void)mallopt(M_MMAP_THRESHOLD, MAIN_MALLOC_MMAP);
}

int
main(int argc, char **argv)
{
	static const struct option	 longopts[] = {
		{ "demo", no_argument, NULL, 'D' },
		{ NULL, 0, NULL, 0 }
	};
	const struct config	*cfg;
	struct snapshot		*snap;
	struct buf		*errs;
	struct event		*ev_hup, *ev_term, *ev_int;
	struct selfcheck	*selfcheck;
	struct timeval		 poll_tv = { STORE_POLL_S, 0 };
	unsigned int		 i, ncpu;
	int			 ch, foreground = 0, test = 0, left;
	sigset_t		 ctlsigs;

	main_malloc_tune();
	while ((ch = getopt_long(argc, argv, "c:ft", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			g.config_path = optarg;
			break;
		case 'D':
			g.demo = 1;
			break;
		case 'f':
			foreground = 1;
			break;
		case 't':
			test = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || (g.config_path == NULL) == !g.demo)
		usage();
	if (test && !g.demo)
		return config_check(g.config_path, stdout, stderr) == 0 ? 0 : 1;

	/*
	 * The listeners accept before the signal events exist; a HUP or TERM
	 * in that window would take the default action and kill us.  Hold
	 * them until libevent's handlers are in place (below).
	 */
	sigemptyset(&ctlsigs);
	sigaddset(&ctlsigs, SIGHUP);
	sigaddset(&ctlsigs, SIGTERM);
	sigaddset(&ctlsigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &ctlsigs, NULL);

	log_init("signetd", 1, LOG_INFO);
	if ((errs = buf_new(ERRBUF_MAX)) == NULL)
		return 1;
	if ((cfg = load_config(errs)) == NULL) {
		fwrite(buf_data(errs), 1, buf_len(errs), stderr);
		return 1;
	}
	if (test) {
		printf("%s: ok\n", cfg->path);
		config_free(cfg);
		return 0;
	}
	if (!foreground && !cfg->log_stderr)
		log_init("signetd", 0, cfg->log_level);
	else
		log_set_level(cfg->log_level);
	if (evthread_use_pthreads() == -1) {
		fprintf(stderr, "signetd: libevent threads unavailable\n");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((snap = snapshot_build(cfg, errs)) == NULL) {
		fprintf(stderr, "signetd: %s\n", buf_cstr(errs) ? buf_cstr(errs) :
		    "cannot load keys");
		buf_free(errs);
		return 1;
	}
	buf_free(errs);
	snapshot_publish(snap);
	cfg = NULL;
	snap = snapshot_current();
	g.max_conn = snapshot_config(snap)->limits.max_connections;
	g.max_per_ip = snapshot_config(snap)->limits.max_connections_per_ip;
	g.reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (gethostname(g.host, sizeof(g.host) - 1) == -1 || g.host[0] == '\0')
		snprintf(g.host, sizeof(g.host), "localhost");

	if ((g.base = event_base_new()) == NULL)
		return 1;
	if (open_listeners(snapshot_config(snap)) == -1)
		return 1;
	if (metrics_init() == -1 || open_metrics(snapshot_config(snap)) == -1)
		return 1;
	metrics_observe(snap);
	metrics_set_serving(1);
	if (drop_privileges(snapshot_config(snap)->user) == -1)
		return 1;
	/* RS-02, as the service user: a safe spool, no crash leftovers. */
	if ((errs = buf_new(ERRBUF_MAX)) == NULL ||
	    (left = spool_dir_check(snapshot_config(snap)->spool, errs)) == -1) {
		fprintf(stderr, "signetd: %s\n", errs != NULL &&
		    buf_cstr(errs) != NULL ? buf_cstr(errs) : "spool check failed");
		buf_free(errs);
		return 1;
	}
	buf_free(errs);
	/* Detach before threads exist; relative paths stay valid (nochdir). */
	if (!foreground && daemon(1, 0) == -1) {
		fprintf(stderr, "signetd: daemon: %s\n", strerror(errno));
		return 1;
	}
	g.nworkers = snapshot_config(snap)->workers;
	if (g.nworkers == 0) {
		ncpu = (unsigned int)sysconf(_SC_NPROCESSORS_ONLN);
		g.nworkers = ncpu > 0 ? ncpu : 1;
	}
	if (g.nworkers > WORKERS_MAX)
		g.nworkers = WORKERS_MAX;
	snapshot_unref(snap);

	ev_hup = evsignal_new(g.base, SIGHUP, reload_cb, NULL);
	ev_term = evsignal_new(g.base, SIGTERM, term_cb, NULL);
	ev_int = evsignal_new(g.base, SIGINT, term_cb, NULL);
	g.ev_resume = event_new(g.base, -1, 0, resume_cb, NULL);
	g.ev_backoff = evtimer_new(g.base, backoff_cb, NULL);
	g.ev_poll = event_new(g.base, -1, EV_PERSIST, poll_cb, NULL);
	g.ev_drain_timeout = evtimer_new(g.base, drain_timeout_cb, NULL);
	if (g.ev_drain_timeout == NULL || ev_hup == NULL || ev_term == NULL ||
	    ev_int == NULL || g.ev_resume == NULL || g.ev_backoff == NULL ||
	    g.ev_poll == NULL ||
	    evsignal_add(ev_hup, NULL) == -1 ||
	    evsignal_add(ev_term, NULL) == -1 ||
	    evsignal_add(ev_int, NULL) == -1 ||
	    event_add(g.ev_poll, &poll_tv) == -1) {
		fprintf(stderr, "signetd: event setup failed\n");
		return 1;
	}
	if ((g.workers = calloc(g.nworkers, sizeof(*g.workers))) == NULL)
		return 1;
	if (auth_pool_start(0) == -1) {
		fprintf(stderr, "signetd: cannot start the AUTH verifiers\n");
		return 1;
	}
	/* Workers block every signal themselves; the main thread now takes
	 * the held ones through the event base. */
	pthread_sigmask(SIG_UNBLOCK, &ctlsigs, NULL);
	for (i = 0; i < g.nworkers; i++) {
		if (worker_start(&g.workers[i]) == -1) {
			fprintf(stderr, "signetd: cannot start worker: %s\n",
			    strerror(errno));
			return 1;
		}
	}
	log_event(LOG_INFO, NULL, "started", "workers=%u pid=%ld "
	    "spool_leftovers=%d", g.nworkers, (long)getpid(), left);
	/* KY-03: DNS self-check on its own thread (rotation.self_check). */
	if ((selfcheck = selfcheck_start()) == NULL)
		log_event(LOG_ERR, NULL, "dns_self_check_failed",
		    "detail=\"cannot start the thread\"");

	event_base_dispatch(g.base);
	selfcheck_stop(selfcheck);

	for (i = 0; i < g.nworkers; i++)
		pthread_join(g.workers[i].thread, NULL);
	/* Verifications still queued target the bases freed below. */
	auth_pool_stop();
	log_event(LOG_INFO, NULL, "drain", "stage=done");
	for (i = 0; i < g.nlisteners; i++)
		evconnlistener_free(g.listeners[i]);
	metrics_server_free(g.metrics);
	for (i = 0; i < g.nworkers; i++) {
		event_free(g.workers[i].pipe_ev);
		event_base_free(g.workers[i].base);
		close(g.workers[i].pipe_rd);
		close(g.workers[i].pipe_wr);
	}
	event_free(ev_hup);
	event_free(ev_term);
	event_free(ev_int);
	event_free(g.ev_resume);
	event_free(g.ev_backoff);
	event_free(g.ev_poll);
	event_free(g.ev_drain_timeout);
	event_base_free(g.base);
	metrics_shutdown();
	free(g.listeners);
	free(g.workers);
	free(g.ips);
	if (g.reserve_fd != -1)
		close(g.reserve_fd);
	snapshot_shutdown();
	return 0;
}
