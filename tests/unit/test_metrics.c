/*
 * metrics: the /metrics page a Prometheus server scrapes and the
 * /healthz answer a load balancer polls.  Checked: every sample belongs
 * to a family announced by HELP and TYPE lines, counters count what was
 * reported (also from several threads at once), label values are
 * escaped, histogram buckets are cumulative, the label-set cap turns
 * extra label sets into the overflow counter, key ages follow the
 * snapshot, and health follows the serving state.
 */
#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "proxy/metrics.h"
#include "proxy/msg/buf.h"
#include "tests/unit/t.h"

#define THREADS		4
#define PER_THREAD	20000

static struct buf *
render(time_t now)
{
	struct buf	*b;

	if ((b = buf_new(METRICS_PAGE_MAX)) == NULL ||
	    metrics_render(b, now) == -1 || buf_cstr(b) == NULL) {
		printf("Bail out! cannot render\n");
		exit(1);
	}
	return b;
}

static int
has_line(struct buf *b, const char *line)
{
	const char	*page = buf_cstr(b);
	size_t		 n = strlen(line);
	const char	*p;

	for (p = page; (p = strstr(p, line)) != NULL; p++)
		if ((p == page || p[-1] == '\n') && p[n] == '\n')
			return 1;
	return 0;
}

static size_t
count_prefix(struct buf *b, const char *prefix)
{
	const char	*p = buf_cstr(b);
	size_t		 n = 0, len = strlen(prefix);

	while (p != NULL && *p != '\0') {
		if (strncmp(p, prefix, len) == 0)
			n++;
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	return n;
}

/*
 * Exposition format 0.0.4: each sample's family (name less _bucket,
 * _sum, _count for histograms) has "# HELP" and "# TYPE" before it;
 * every line ends in LF; names use [a-zA-Z_:][a-zA-Z0-9_:]*.
 */
static void
check_format(struct buf *b, const char *what)
{
	const char	*page = buf_cstr(b), *p, *eol;
	char		 typed[64][64], fam[128], name[160];
	size_t		 ntyped = 0, i, n;
	int		 ok = 1, found;

	for (p = page; *p != '\0'; p = eol + 1) {
		if ((eol = strchr(p, '\n')) == NULL) {
			ok = 0;
			break;
		}
		if (strncmp(p, "# TYPE ", 7) == 0) {
			n = strcspn(p + 7, " ");
			if (ntyped < 64 && n < 64) {
				memcpy(typed[ntyped], p + 7, n);
				typed[ntyped++][n] = '\0';
			}
			continue;
		}
		if (strncmp(p, "# HELP ", 7) == 0)
			continue;
		n = strspn(p, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:");
		if (n == 0 || n >= sizeof(fam) || (p[n] != '{' && p[n] != ' ')) {
			ok = 0;
			printf("# bad sample line: %.*s\n", (int)(eol - p), p);
			continue;
		}
		memcpy(fam, p, n);
		fam[n] = '\0';
		found = 0;
		for (i = 0; i < ntyped && !found; i++) {
			size_t tl = strlen(typed[i]);

			found = strcmp(fam, typed[i]) == 0 ||
			    (strncmp(fam, typed[i], tl) == 0 &&
			    (strcmp(fam + tl, "_bucket") == 0 ||
			    strcmp(fam + tl, "_sum") == 0 ||
			    strcmp(fam + tl, "_count") == 0));
		}
		if (!found) {
			ok = 0;
			printf("# sample without TYPE: %s\n", fam);
		}
	}
	T_OK(ok, "%s: every sample follows its TYPE line", what);
	for (i = 0; i < ntyped; i++) {
		snprintf(name, sizeof(name), "# HELP %s ", typed[i]);
		T_OK(strstr(page, name) != NULL, "%s: HELP for %s", what,
		    typed[i]);
	}
}

static void *
worker(void *arg)
{
	char	 dom[32];
	int	 i, id = *(int *)arg;

	for (i = 0; i < PER_THREAD; i++) {
		snprintf(dom, sizeof(dom), "d%d.example", i % 50);
		metrics_signature(dom, "s1", "rsa-sha256");
		metrics_message(METRICS_ACCEPTED);
		metrics_refusal(id % 2 ? "bare_lf" : "too_big");
		metrics_connection_open();
		metrics_connection_close();
	}
	return NULL;
}

static void
test_threads(void)
{
	pthread_t	 th[THREADS];
	int		 ids[THREADS], i;
	struct buf	*b;
	char		 line[128];

	T_EQ_INT(metrics_init(), 0, "threads: init");
	for (i = 0; i < THREADS; i++) {
		ids[i] = i;
		pthread_create(&th[i], NULL, worker, &ids[i]);
	}
	for (i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	b = render(0);
	snprintf(line, sizeof(line),
	    "signet_messages_total{outcome=\"accepted\"} %d",
	    THREADS * PER_THREAD);
	T_OK(has_line(b, line), "threads: %s", line);
	snprintf(line, sizeof(line), "signet_signatures_total{domain="
	    "\"d7.example\",selector=\"s1\",algorithm=\"rsa-sha256\"} %d",
	    THREADS * PER_THREAD / 50);
	T_OK(has_line(b, line), "threads: %s", line);
	T_EQ_INT(count_prefix(b, "signet_signatures_total{"), 50,
	    "threads: one label set per domain");
	snprintf(line, sizeof(line),
	    "signet_refusals_total{reason=\"bare_lf\"} %d",
	    THREADS / 2 * PER_THREAD);
	T_OK(has_line(b, line), "threads: %s", line);
	snprintf(line, sizeof(line), "signet_connections_total %d",
	    THREADS * PER_THREAD);
	T_OK(has_line(b, line), "threads: %s", line);
	T_OK(has_line(b, "signet_connections 0"), "threads: none open");
	buf_free(b);
	metrics_shutdown();
}

static void
test_overflow(void)
{
	struct buf	*b;
	char		 dom[64], line[160];
	int		 i;

	T_EQ_INT(metrics_init(), 0, "overflow: init");
	for (i = 0; i < METRICS_LABELSETS_MAX + 7; i++) {
		snprintf(dom, sizeof(dom), "tenant%d.example", i);
		metrics_signature(dom, "s2", "ed25519-sha256");
	}
	/* A label set admitted before the table filled keeps counting. */
	metrics_signature("tenant0.example", "s2", "ed25519-sha256");
	b = render(0);
	T_EQ_INT(count_prefix(b, "signet_signatures_total{"),
	    METRICS_LABELSETS_MAX, "overflow: label sets capped");
	T_OK(has_line(b, "signet_metrics_label_overflow_total{metric="
	    "\"signet_signatures_total\"} 7"), "overflow: 7 counted");
	T_OK(has_line(b, "signet_metrics_label_overflow_total{metric="
	    "\"signet_refusals_total\"} 0"), "overflow: other tables untouched");
	T_OK(has_line(b, "signet_signatures_total{domain=\"tenant0.example\","
	    "selector=\"s2\",algorithm=\"ed25519-sha256\"} 2"),
	    "overflow: existing label set still counts");
	snprintf(line, sizeof(line), "signet_signatures_total{domain="
	    "\"tenant%d.example\",", METRICS_LABELSETS_MAX);
	T_OK(strstr(buf_cstr(b), line) == NULL,
	    "overflow: the first label set over the cap is absent");
	check_format(b, "overflow");
	buf_free(b);
	metrics_shutdown();
}

/*
 * Key ages come from the key-store journal: a store with one domain whose
 * s1 key became ACTIVE at a known time and whose s2 key is only
 * GENERATED (no age: it does not sign).
 */
static void
test_key_ages(void)
{
	static const char journal[] =
	    "version: 1\n"
	    "domain: example.com\n"
	    "generation: 3\n"
	    "last_write: 2025-01-02T03:04:05Z\n"
	    "selectors:\n"
	    "  s1: 0123456789abcdef\n"
	    "  s2: fedcba9876543210\n"
	    "keys:\n"
	    "  - id: 0123456789abcdef\n"
	    "    algorithm: rsa\n"
	    "    bits: 2048\n"
	    "    selector: s1\n"
	    "    state: ACTIVE\n"
	    "    entered:\n"
	    "      GENERATED: 2025-01-01T00:00:00Z\n"
	    "      ACTIVE: 2025-01-02T03:04:05Z\n"
	    "    attrs: {}\n"
	    "  - id: fedcba9876543210\n"
	    "    algorithm: rsa\n"
	    "    bits: 2048\n"
	    "    selector: s2\n"
	    "    state: GENERATED\n"
	    "    entered:\n"
	    "      GENERATED: 2025-01-02T03:04:05Z\n"
	    "    attrs: {}\n"
	    "attrs: {}\n";
	const time_t		 active = 1735787045;	/* 2025-01-02T03:04:05Z */
	char			 dir[] = "/tmp/signet-metrics-XXXXXX";
	char			 path[256], yaml[1024], line[160];
	const struct config	*cfg;
	struct buf		*errs, *b;
	FILE			*f;

	if (mkdtemp(dir) == NULL) {
		printf("Bail out! mkdtemp\n");
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/example.com", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/example.com/keys", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/example.com/state.yaml", dir);
	if ((f = fopen(path, "w")) == NULL) {
		printf("Bail out! cannot write %s\n", path);
		exit(1);
	}
	fputs(journal, f);
	fclose(f);
	snprintf(yaml, sizeof(yaml), "listen:\n  - address: 127.0.0.1:2525\n"
	    "upstream:\n  address: file:/tmp\nkeystore: %s\nspool: /tmp\n"
	    "domains:\n  example.com: {}\n  nokeys.example: {}\n", dir);
	errs = buf_new(4096);
	cfg = config_load_mem(yaml, strlen(yaml), "test.yaml", errs);
	if (!T_OK(cfg != NULL, "key ages: config loads")) {
		printf("# %s\n", buf_cstr(errs));
		goto done;
	}
	T_EQ_INT(metrics_init(), 0, "key ages: init");
	T_EQ_INT(metrics_load_key_ages(cfg), 0, "key ages: store read");
	b = render(active + 86400);
	snprintf(line, sizeof(line), "signet_key_age_seconds{domain="
	    "\"example.com\",selector=\"s1\"} 86400");
	T_OK(has_line(b, line), "key ages: %s", line);
	T_EQ_INT(count_prefix(b, "signet_key_age_seconds{"), 1,
	    "key ages: a key that does not sign has no age");
	buf_free(b);
	metrics_shutdown();
	config_free(cfg);
done:
	buf_free(errs);
	snprintf(path, sizeof(path), "%s/example.com/state.yaml", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/example.com/keys", dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/example.com", dir);
	rmdir(path);
	rmdir(dir);
}

/* A free loopback port: bind port 0, read it back, let it go. */
static int
free_port(void)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 fd, port = -1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

/* One HTTP/1.0 exchange, running the server's loop until it closes. */
static void
http_get(struct event_base *base, int port, const char *req, char *resp,
    size_t resplen)
{
	struct sockaddr_in	 sin;
	size_t			 got = 0;
	ssize_t			 n;
	int			 fd, rounds;

	resp[0] = '\0';
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		close(fd);
		return;
	}
	for (rounds = 0; rounds < 2000 && got + 1 < resplen; rounds++) {
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		n = recv(fd, resp + got, resplen - 1 - got, MSG_DONTWAIT);
		if (n == 0)
			break;
		if (n > 0)
			got += (size_t)n;
		else
			usleep(1000);
	}
	resp[got] = '\0';
	close(fd);
}

static void
test_http(void)
{
	struct event_base	*base;
	struct metrics_server	*srv, *dup;
	struct buf		*err;
	char			 resp[65536];
	int			 port;

	base = event_base_new();
	err = buf_new(512);
	port = free_port();
	srv = metrics_server_new(base, "127.0.0.1", (uint16_t)port, err);
	if (!T_OK(srv != NULL, "http: listening")) {
		printf("# %s\n", buf_cstr(err));
		goto done;
	}
	dup = metrics_server_new(base, "127.0.0.1", (uint16_t)port, err);
	T_OK(dup == NULL && strstr(buf_cstr(err), "metrics listener "
	    "127.0.0.1:") != NULL, "http: a taken port is a clear error");
	metrics_server_free(dup);

	http_get(base, port, "GET /healthz HTTP/1.0\r\n\r\n", resp,
	    sizeof(resp));
	T_OK(strncmp(resp, "HTTP/1.0 200 ", 13) == 0 ||
	    strncmp(resp, "HTTP/1.1 200 ", 13) == 0, "http: /healthz 200");
	T_OK(strstr(resp, "\r\n\r\nok\n") != NULL, "http: /healthz body");
	http_get(base, port, "GET /metrics HTTP/1.0\r\n\r\n", resp,
	    sizeof(resp));
	T_OK(strstr(resp, " 200 ") != NULL, "http: /metrics 200");
	T_OK(strstr(resp, "Content-Type: text/plain; version=0.0.4; "
	    "charset=utf-8\r\n") != NULL, "http: exposition content type");
	T_OK(strstr(resp, "\nsignet_messages_total{outcome=\"accepted\"} 2\n")
	    != NULL, "http: page served");
	http_get(base, port, "GET /other HTTP/1.0\r\n\r\n", resp,
	    sizeof(resp));
	T_OK(strstr(resp, " 404 ") != NULL, "http: unknown path 404");
	http_get(base, port, "POST /metrics HTTP/1.0\r\n"
	    "Content-Length: 0\r\n\r\n", resp, sizeof(resp));
	T_OK(strncmp(resp, "HTTP/1.", 7) == 0 && strstr(resp, " 200 ") == NULL,
	    "http: POST refused");
	metrics_server_free(srv);
done:
	buf_free(err);
	event_base_free(base);
}

int
main(void)
{
	static const struct {
		const char	*domain;
		const char	*selector;
		const char	*want;
	} labels[] = {
		{ "example.com", "s1", "signet_signatures_total{domain="
		    "\"example.com\",selector=\"s1\",algorithm=\"rsa-sha256\"} 1" },
		{ "xn--bcher-kva.example", "s2", "signet_signatures_total{"
		    "domain=\"xn--bcher-kva.example\",selector=\"s2\","
		    "algorithm=\"rsa-sha256\"} 1" },
		{ "q\"uote.example", "s1", "signet_signatures_total{domain="
		    "\"q\\\"uote.example\",selector=\"s1\","
		    "algorithm=\"rsa-sha256\"} 1" },
		{ "back\\slash.example", "s1", "signet_signatures_total{domain="
		    "\"back\\\\slash.example\",selector=\"s1\","
		    "algorithm=\"rsa-sha256\"} 1" },
		{ "new\nline.example", "s\n1", "signet_signatures_total{domain="
		    "\"new\\nline.example\",selector=\"s\\n1\","
		    "algorithm=\"rsa-sha256\"} 1" },
		{ "b\xc3\xbc" "cher.example", "s1", "signet_signatures_total{"
		    "domain=\"b??cher.example\",selector=\"s1\","
		    "algorithm=\"rsa-sha256\"} 1" },
	};
	static const struct {
		uint64_t	 usec;
	} lat[] = { { 100 }, { 500 }, { 501 }, { 20000 }, { 3000000 } };
	static const char *const hist_want[] = {
		"signet_signing_duration_seconds_bucket{le=\"0.0005\"} 2",
		"signet_signing_duration_seconds_bucket{le=\"0.001\"} 3",
		"signet_signing_duration_seconds_bucket{le=\"0.01\"} 3",
		"signet_signing_duration_seconds_bucket{le=\"0.025\"} 4",
		"signet_signing_duration_seconds_bucket{le=\"2.5\"} 4",
		"signet_signing_duration_seconds_bucket{le=\"+Inf\"} 5",
		"signet_signing_duration_seconds_sum 3.021101",
		"signet_signing_duration_seconds_count 5",
	};
	static const int replies[] = { 250, 250, 221, 451, 421, 550, 554, 554,
	    0, 199, 600 };
	static const char *const reply_want[] = {
		"signet_upstream_replies_total{class=\"2xx\"} 3",
		"signet_upstream_replies_total{class=\"4xx\"} 2",
		"signet_upstream_replies_total{class=\"5xx\"} 3",
		"signet_upstream_replies_total{class=\"none\"} 3",
	};
	struct metrics_key	 keys1[] = {
		{ "example.com", "s1", 1000000 },
		{ "example.com", "s2", 1000500 },
	};
	struct metrics_key	 keys2[] = { { "example.net", "s1", 1000900 } };
	struct buf		*b, *h;
	size_t			 i;

	/* Before init: nothing counted, nothing rendered, no crash. */
	metrics_message(METRICS_ACCEPTED);
	metrics_signature("example.com", "s1", "rsa-sha256");
	b = render(0);
	T_EQ_INT(buf_len(b), 0, "before init: empty page");
	buf_free(b);
	h = buf_new(1024);
	T_EQ_INT(metrics_health(h), 503, "before init: unhealthy");
	buf_free(h);

	T_EQ_INT(metrics_init(), 0, "init");
	metrics_message(METRICS_ACCEPTED);
	metrics_message(METRICS_ACCEPTED);
	metrics_message(METRICS_REJECTED_5XX);
	metrics_message(METRICS_TEMPFAIL_4XX);
	metrics_message(METRICS_CLIENT_LOST);
	metrics_message(METRICS_CLIENT_LOST);
	metrics_message(METRICS_CLIENT_LOST);
	for (i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
		metrics_signature(labels[i].domain, labels[i].selector,
		    "rsa-sha256");
	metrics_refusal("bare_lf");
	metrics_refusal("from_not_owned");
	metrics_refusal("from_not_owned");
	for (i = 0; i < sizeof(lat) / sizeof(lat[0]); i++)
		metrics_sign_latency(lat[i].usec);
	for (i = 0; i < sizeof(replies) / sizeof(replies[0]); i++)
		metrics_upstream_reply(replies[i]);
	metrics_connection_open();
	metrics_connection_open();
	metrics_connection_open();
	metrics_connection_close();
	metrics_tls_handshake(1);
	metrics_tls_handshake(0);
	metrics_tls_handshake(0);
	metrics_dns_match("example.com", "s1", 1);
	metrics_dns_match("example.com", "s2", 1);
	metrics_dns_match("example.com", "s2", 0);
	metrics_dns_checked(41, 1767225600);
	metrics_set_store_generation(42);
	T_EQ_INT(metrics_set_keys(keys1, 2), 0, "set keys");

	b = render(1001000);
	check_format(b, "page");
	T_OK(has_line(b, "# TYPE signet_messages_total counter"),
	    "messages: counter");
	T_OK(has_line(b, "# TYPE signet_signing_duration_seconds histogram"),
	    "latency: histogram");
	T_OK(has_line(b, "# TYPE signet_connections gauge"),
	    "connections: gauge");
	T_OK(has_line(b, "signet_messages_total{outcome=\"accepted\"} 2"),
	    "messages: accepted");
	T_OK(has_line(b, "signet_messages_total{outcome=\"rejected_5xx\"} 1"),
	    "messages: rejected");
	T_OK(has_line(b, "signet_messages_total{outcome=\"tempfail_4xx\"} 1"),
	    "messages: tempfail");
	T_OK(has_line(b, "signet_messages_total{outcome=\"client_lost\"} 3"),
	    "messages: client lost");
	for (i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
		T_OK(has_line(b, labels[i].want), "label: %s", labels[i].want);
	T_OK(has_line(b, "signet_refusals_total{reason=\"from_not_owned\"} 2"),
	    "refusals: from_not_owned");
	T_OK(has_line(b, "signet_refusals_total{reason=\"bare_lf\"} 1"),
	    "refusals: bare_lf");
	for (i = 0; i < sizeof(hist_want) / sizeof(hist_want[0]); i++)
		T_OK(has_line(b, hist_want[i]), "histogram: %s", hist_want[i]);
	for (i = 0; i < sizeof(reply_want) / sizeof(reply_want[0]); i++)
		T_OK(has_line(b, reply_want[i]), "replies: %s", reply_want[i]);
	T_OK(has_line(b, "signet_connections 2"), "connections: open");
	T_OK(has_line(b, "signet_connections_total 3"), "connections: total");
	T_OK(has_line(b, "signet_tls_handshakes_total{result=\"ok\"} 1"),
	    "tls: ok");
	T_OK(has_line(b, "signet_tls_handshakes_total{result=\"failed\"} 2"),
	    "tls: failed");
	T_OK(has_line(b, "signet_dns_match{domain=\"example.com\","
	    "selector=\"s2\"} 0"), "dns: last value wins");
	T_OK(has_line(b, "signet_dns_match{domain=\"example.com\","
	    "selector=\"s1\"} 1"), "dns: match");
	T_OK(has_line(b, "signet_store_generation 42"), "store generation");
	T_OK(has_line(b, "signet_dns_check_store_generation 41"),
	    "dns check: generation");
	T_OK(has_line(b, "signet_dns_check_timestamp_seconds 1767225600"),
	    "dns check: time");
	T_OK(has_line(b, "signet_key_age_seconds{domain=\"example.com\","
	    "selector=\"s1\"} 1000"), "key age s1");
	T_OK(has_line(b, "signet_key_age_seconds{domain=\"example.com\","
	    "selector=\"s2\"} 500"), "key age s2");
	buf_free(b);

	T_EQ_INT(metrics_set_keys(keys2, 1), 0, "replace keys");
	b = render(1001000);
	T_EQ_INT(count_prefix(b, "signet_key_age_seconds{"), 1,
	    "key ages: old snapshot's keys gone");
	T_OK(has_line(b, "signet_key_age_seconds{domain=\"example.net\","
	    "selector=\"s1\"} 100"), "key age after replace");
	buf_free(b);

	/* A page over its buffer limit is an error, never a cut page. */
	b = buf_new(256);
	T_EQ_INT(metrics_render(b, 0), -1, "render: over the limit fails");
	buf_free(b);

	h = buf_new(1024);
	T_EQ_INT(metrics_health(h), 503, "health: no snapshot yet");
	T_OK(has_line(h, "unavailable: no snapshot serving"),
	    "health: says why");
	buf_free(h);
	metrics_set_serving(1);
	h = buf_new(1024);
	T_EQ_INT(metrics_health(h), 200, "health: serving");
	T_EQ_STR(buf_cstr(h), "ok\n", "health: ok body");
	buf_free(h);
	metrics_set_reload_failed(1);
	h = buf_new(1024);
	T_EQ_INT(metrics_health(h), 200, "health: old snapshot still serves");
	T_EQ_STR(buf_cstr(h), "ok\nlast reload failed\n",
	    "health: reports the failed reload");
	buf_free(h);
	b = render(0);
	T_OK(has_line(b, "signet_last_reload_failed 1"), "reload failed gauge");
	T_OK(has_line(b, "signet_serving 1"), "serving gauge");
	buf_free(b);
	metrics_set_serving(0);
	h = buf_new(1024);
	T_EQ_INT(metrics_health(h), 503, "health: draining");
	buf_free(h);

	metrics_set_serving(1);
	test_http();
	metrics_shutdown();

	test_threads();
	test_overflow();
	test_key_ages();
	return t_done();
}
