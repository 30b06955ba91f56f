/*
 * dnscheck — prove that a TXT record is visible, byte for byte, on every
 * authoritative server (rotation.md §d, hostile-inputs.md KY-06..08).
 *
 * Invariants: a reply is at most DNSCHECK_MSG_MAX octets before libldns
 * sees it; counts of records kept from it are bounded (DNSCHECK_TXT_MAX,
 * DNSCHECK_NS_MAX, DNSCHECK_ADDR_MAX); a verdict of MATCH needs AA, one
 * TXT record and equal octets, never "close enough".  Nothing here
 * caches: every run asks every address afresh.
 *
 * Ownership: a dnscheck_answer owns its buffers; a dnscheck_report owns
 * its rows.  Both are freed by their _free function (NULL is a no-op).
 *
 * RFCs: 1035 (messages, 3.3.14 TXT, 4.2 transports), 1982 (serials),
 * 6891 (EDNS0), 7766 (TCP), 6376 3.6.2.2 (TXT strings are joined).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ldns/ldns.h>
#include <sodium.h>

#include "keys/dnscheck.h"
#include "keys/signer.h"
#include "proxy/msg/buf.h"

#define DNS_HEADER_LEN		12	/* RFC 1035 4.1.1 */
#define DNS_FLAG_QR		0x80	/* first flags octet */
#define DNS_FLAG_TC		0x02
/* resolv(5): at most three name servers are read. */
#define RESOLV_NS_MAX		3
#define RESOLV_CONF		"/etc/resolv.conf"
#define RESOLV_LINE_MAX		1024

struct dnscheck_answer {
	int		 rcode;
	int		 aa;
	int		 tc;
	int		 cname;
	size_t		 ntxt;
	struct buf	*txt[DNSCHECK_TXT_MAX];
	struct buf	*rdata[DNSCHECK_TXT_MAX];
	uint32_t	 ttl[DNSCHECK_TXT_MAX];
	int		 has_serial;
	uint32_t	 serial;
	/* NS answers: the server names; A/AAAA answers: the addresses. */
	size_t		 nns;
	char		 ns[DNSCHECK_NS_MAX][DNSCHECK_NAME_MAX + 1];
	size_t		 naddr;
	struct sockaddr_storage addr[DNSCHECK_ADDR_MAX];
};

struct row {
	char			 server[DNSCHECK_SERVER_LEN];
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	enum dnscheck_status	 status;
	char			 detail[DNSCHECK_DETAIL_LEN];
};

struct dnscheck_report {
	size_t		 nrows;
	struct row	 rows[DNSCHECK_ADDR_MAX];
};

/* snprintf for messages that may be cut: a cut detail is still useful. */
static void __attribute__((format(printf, 3, 4)))
say(char *out, size_t outlen, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(out, outlen, fmt, ap);
	va_end(ap);
}

static int
deadline_left(const struct timespec *end)
{
	struct timespec	now;
	long long	ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(end->tv_sec - now.tv_sec) * 1000 +
	    (end->tv_nsec - now.tv_nsec) / 1000000;
	if (ms < 0)
		return 0;
	return ms > 60000 ? 60000 : (int)ms;
}

static void
deadline_set(struct timespec *end, int timeout_ms)
{
	clock_gettime(CLOCK_MONOTONIC, end);
	end->tv_sec += timeout_ms / 1000;
	end->tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (end->tv_nsec >= 1000000000) {
		end->tv_sec++;
		end->tv_nsec -= 1000000000;
	}
}

/* Wait for ev on fd until the deadline: 1 ready, 0 timed out, -1 error. */
static int
wait_fd(int fd, short ev, const struct timespec *end)
{
	struct pollfd	pfd;
	int		n;

	for (;;) {
		pfd.fd = fd;
		pfd.events = ev;
		pfd.revents = 0;
		n = poll(&pfd, 1, deadline_left(end));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		return 1;
	}
}

static void
addr_text(const struct sockaddr *sa, char *out, size_t outlen)
{
	char		host[INET6_ADDRSTRLEN];
	uint16_t	port;

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		port = ntohs(s6->sin6_port);
		snprintf(out, outlen, "[%s]:%u", host, port);
	} else {
		const struct sockaddr_in *s4 = (const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		port = ntohs(s4->sin_port);
		snprintf(out, outlen, "%s:%u", host, port);
	}
}

/* A reply that answers our query: long enough, same id, QR set. */
static int
reply_matches(const uint8_t *r, size_t rlen, const uint8_t *q)
{
	return rlen >= DNS_HEADER_LEN && r[0] == q[0] && r[1] == q[1] &&
	    (r[2] & DNS_FLAG_QR) != 0;
}

/* 1 reply, 0 timed out, -1 error (err set). */
static int
exchange_udp(const struct sockaddr *sa, socklen_t salen, const uint8_t *q,
    size_t qlen, int timeout_ms, struct buf *reply, char *err, size_t errlen)
{
	struct timespec	end;
	uint8_t		pkt[DNSCHECK_UDP_MAX];
	ssize_t		n;
	int		fd = -1, ret = -1, w;

	if ((fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		goto done;
	}
	/* Connected, so the kernel drops datagrams from other sources. */
	if (connect(fd, sa, salen) == -1 || send(fd, q, qlen, 0) == -1) {
		snprintf(err, errlen, "udp: %s", strerror(errno));
		goto done;
	}
	deadline_set(&end, timeout_ms);
	for (;;) {
		if ((w = wait_fd(fd, POLLIN, &end)) <= 0) {
			if (w == 0)
				ret = 0;
			else
				snprintf(err, errlen, "poll: %s",
				    strerror(errno));
			goto done;
		}
		n = recv(fd, pkt, sizeof(pkt), MSG_TRUNC);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n == -1) {
			snprintf(err, errlen, "udp: %s", strerror(errno));
			goto done;
		}
		if ((size_t)n > sizeof(pkt)) {
			snprintf(err, errlen, "udp reply over %d octets",
			    DNSCHECK_UDP_MAX);
			goto done;
		}
		if (!reply_matches(pkt, (size_t)n, q))
			continue;
		buf_reset(reply);
		if (buf_append(reply, pkt, (size_t)n) == -1) {
			snprintf(err, errlen, "out of memory");
			goto done;
		}
		ret = 1;
		goto done;
	}
done:
	if (fd != -1)
		close(fd);
	return ret;
}

/* Read exactly n octets before the deadline. */
static int
read_full(int fd, uint8_t *p, size_t n, const struct timespec *end,
    char *err, size_t errlen)
{
	ssize_t	r;
	int	w;

	while (n > 0) {
		if ((w = wait_fd(fd, POLLIN, end)) <= 0) {
			snprintf(err, errlen, "tcp: %s",
			    w == 0 ? "timed out" : strerror(errno));
			return -1;
		}
		r = read(fd, p, n);
		if (r == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0) {
			snprintf(err, errlen, "tcp: %s",
			    r == 0 ? "connection closed" : strerror(errno));
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int
write_full(int fd, const uint8_t *p, size_t n, const struct timespec *end,
    char *err, size_t errlen)
{
	ssize_t	r;
	int	w;

	while (n > 0) {
		if ((w = wait_fd(fd, POLLOUT, end)) <= 0) {
			snprintf(err, errlen, "tcp: %s",
			    w == 0 ? "timed out" : strerror(errno));
			return -1;
		}
		r = send(fd, p, n, MSG_NOSIGNAL);
		if (r == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r == -1) {
			snprintf(err, errlen, "tcp: %s", strerror(errno));
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* RFC 7766 / RFC 1035 4.2.2: two-octet length, then the message. */
static int
exchange_tcp(const struct sockaddr *sa, socklen_t salen, const uint8_t *q,
    size_t qlen, int timeout_ms, struct buf *reply, char *err, size_t errlen)
{
	struct timespec	 end;
	uint8_t		 hdr[2];
	uint8_t		*msg = NULL;
	size_t		 mlen;
	socklen_t	 elen;
	int		 fd = -1, ret = -1, w, soerr;

	deadline_set(&end, timeout_ms);
	if ((fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		goto done;
	}
	if (connect(fd, sa, salen) == -1) {
		if (errno != EINPROGRESS) {
			snprintf(err, errlen, "tcp: %s", strerror(errno));
			goto done;
		}
		if ((w = wait_fd(fd, POLLOUT, &end)) <= 0) {
			snprintf(err, errlen, "tcp connect: %s",
			    w == 0 ? "timed out" : strerror(errno));
			goto done;
		}
		elen = sizeof(soerr);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) == -1 ||
		    soerr != 0) {
			snprintf(err, errlen, "tcp: %s", strerror(soerr));
			goto done;
		}
	}
	hdr[0] = (uint8_t)(qlen >> 8);
	hdr[1] = (uint8_t)qlen;
	if (write_full(fd, hdr, 2, &end, err, errlen) == -1 ||
	    write_full(fd, q, qlen, &end, err, errlen) == -1)
		goto done;
	for (;;) {
		if (read_full(fd, hdr, 2, &end, err, errlen) == -1)
			goto done;
		mlen = (size_t)hdr[0] << 8 | hdr[1];
		free(msg);
		if ((msg = malloc(mlen == 0 ? 1 : mlen)) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto done;
		}
		if (read_full(fd, msg, mlen, &end, err, errlen) == -1)
			goto done;
		if (reply_matches(msg, mlen, q))
			break;
	}
	buf_reset(reply);
	if (buf_append(reply, msg, mlen) == -1) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	ret = 0;
done:
	free(msg);
	if (fd != -1)
		close(fd);
	return ret;
}

int
dnscheck_exchange(const struct sockaddr *sa, socklen_t salen,
    const uint8_t *q, size_t qlen, int tcp_only, int timeout_ms,
    struct buf *reply, char *err, size_t errlen)
{
	const uint8_t	*r;
	int		 got;

	if (qlen < DNS_HEADER_LEN || qlen > DNSCHECK_MSG_MAX) {
		snprintf(err, errlen, "query of %zu octets", qlen);
		return -1;
	}
	if (timeout_ms <= 0)
		timeout_ms = DNSCHECK_TIMEOUT_MS;
	if (!tcp_only) {
		got = exchange_udp(sa, salen, q, qlen, timeout_ms, reply, err,
		    errlen);
		if (got == -1)
			return -1;
		if (got == 1) {
			r = buf_data(reply);
			if ((r[2] & DNS_FLAG_TC) == 0)
				return 0;
		}
		/* Truncated or lost: the same question over TCP. */
	}
	return exchange_tcp(sa, salen, q, qlen, timeout_ms, reply, err,
	    errlen);
}

/* RFC 3986 host for our purposes: name or literal, at most a name long. */
int
dnscheck_parse_hostport(const char *s, char *host, size_t hostlen,
    uint16_t *port, uint16_t default_port)
{
	const char	*colon, *end;
	char		*ep;
	unsigned long	 p;
	size_t		 hl;

	*port = default_port;
	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL)
			return -1;
		hl = (size_t)(end - s - 1);
		if (hl == 0 || hl >= hostlen)
			return -1;
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		if (end[1] == '\0')
			return 0;
		if (end[1] != ':')
			return -1;
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		/* Two colons without brackets: a bare IPv6 literal. */
		if (colon != NULL && strchr(s, ':') != colon)
			colon = NULL;
		hl = colon != NULL ? (size_t)(colon - s) : strlen(s);
		if (hl == 0 || hl >= hostlen)
			return -1;
		memcpy(host, s, hl);
		host[hl] = '\0';
		if (colon == NULL)
			return 0;
	}
	if (colon[1] < '0' || colon[1] > '9')
		return -1;
	errno = 0;
	p = strtoul(colon + 1, &ep, 10);
	if (errno != 0 || *ep != '\0' || p == 0 || p > 65535)
		return -1;
	*port = (uint16_t)p;
	return 0;
}

int
dnscheck_serial_cmp(uint32_t a, uint32_t b)
{
	uint32_t	d = a - b;

	if (d == 0)
		return 0;
	/* RFC 1982 3.2: a > b when the distance forward is below 2^31. */
	if (d < UINT32_C(0x80000000))
		return 1;
	return -1;
}

static int
is_label_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int
dnscheck_name_valid(const char *s)
{
	size_t	total = 0, label = 0;

	for (; *s != '\0'; s++, total++) {
		if (*s == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		/* RFC 1035 2.3.4: labels of 63 octets or less. */
		if (!is_label_char((unsigned char)*s) || ++label > 63)
			return 0;
	}
	return label > 0 && total <= DNSCHECK_NAME_MAX;
}

const char *
dnscheck_status_name(enum dnscheck_status s)
{
	switch (s) {
	case DNSCHECK_MATCH:
		return "match";
	case DNSCHECK_MISMATCH:
		return "mismatch";
	case DNSCHECK_MISSING:
		return "missing";
	case DNSCHECK_ERROR:
		return "error";
	}
	return "error";
}

static const char *const rcode_names[] = {
	"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
	"YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE",
};

const char *
dnscheck_rcode_name(int rcode)
{
	if (rcode >= 0 &&
	    (size_t)rcode < sizeof(rcode_names) / sizeof(rcode_names[0]))
		return rcode_names[rcode];
	return "RCODE?";
}

void
dnscheck_answer_free(struct dnscheck_answer *a)
{
	size_t	i;

	if (a == NULL)
		return;
	for (i = 0; i < a->ntxt; i++) {
		buf_free(a->txt[i]);
		buf_free(a->rdata[i]);
	}
	free(a);
}

/*
 * TXT RDATA (RFC 1035 3.3.14): one or more <character-string>s, each a
 * length octet and that many octets.  libldns has split them into rdfs.
 */
static enum dnscheck_parse
parse_txt(struct dnscheck_answer *a, const ldns_rr *rr)
{
	const ldns_rdf	*rdf;
	const uint8_t	*d;
	size_t		 i, n;
	struct buf	*txt, *rdata;

	if (a->ntxt == DNSCHECK_TXT_MAX)
		return DNSCHECK_PARSE_TOO_BIG;
	if ((txt = buf_new(DNSCHECK_MSG_MAX)) == NULL ||
	    (rdata = buf_new(DNSCHECK_MSG_MAX)) == NULL) {
		buf_free(txt);
		return DNSCHECK_PARSE_BAD;
	}
	a->txt[a->ntxt] = txt;
	a->rdata[a->ntxt] = rdata;
	a->ttl[a->ntxt] = ldns_rr_ttl(rr);
	a->ntxt++;
	n = ldns_rr_rd_count(rr);
	if (n == 0)
		return DNSCHECK_PARSE_BAD;
	for (i = 0; i < n; i++) {
		rdf = ldns_rr_rdf(rr, i);
		d = ldns_rdf_data(rdf);
		if (ldns_rdf_get_type(rdf) != LDNS_RDF_TYPE_STR ||
		    ldns_rdf_size(rdf) < 1 ||
		    ldns_rdf_size(rdf) != (size_t)d[0] + 1)
			return DNSCHECK_PARSE_BAD;
		if (buf_append(txt, d + 1, d[0]) == -1 ||
		    buf_append(rdata, d, ldns_rdf_size(rdf)) == -1)
			return DNSCHECK_PARSE_TOO_BIG;
	}
	return DNSCHECK_PARSE_OK;
}

static enum dnscheck_parse
parse_ns(struct dnscheck_answer *a, const ldns_rr *rr)
{
	char	*s;
	size_t	 n;

	if (ldns_rr_rd_count(rr) != 1 ||
	    ldns_rdf_get_type(ldns_rr_rdf(rr, 0)) != LDNS_RDF_TYPE_DNAME)
		return DNSCHECK_PARSE_BAD;
	if (a->nns == DNSCHECK_NS_MAX)
		return DNSCHECK_PARSE_TOO_BIG;
	if ((s = ldns_rdf2str(ldns_rr_rdf(rr, 0))) == NULL)
		return DNSCHECK_PARSE_BAD;
	n = strlen(s);
	if (n > 1 && s[n - 1] == '.')
		s[--n] = '\0';
	if (n == 0 || n > DNSCHECK_NAME_MAX) {
		free(s);
		return DNSCHECK_PARSE_BAD;
	}
	memcpy(a->ns[a->nns++], s, n + 1);
	free(s);
	return DNSCHECK_PARSE_OK;
}

static enum dnscheck_parse
parse_addr(struct dnscheck_answer *a, const ldns_rr *rr, int family)
{
	const ldns_rdf		*rdf;
	struct sockaddr_in	*s4;
	struct sockaddr_in6	*s6;

	if (ldns_rr_rd_count(rr) != 1)
		return DNSCHECK_PARSE_BAD;
	if (a->naddr == DNSCHECK_ADDR_MAX)
		return DNSCHECK_PARSE_TOO_BIG;
	rdf = ldns_rr_rdf(rr, 0);
	memset(&a->addr[a->naddr], 0, sizeof(a->addr[0]));
	if (family == AF_INET) {
		if (ldns_rdf_size(rdf) != 4)
			return DNSCHECK_PARSE_BAD;
		s4 = (struct sockaddr_in *)&a->addr[a->naddr];
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, ldns_rdf_data(rdf), 4);
	} else {
		if (ldns_rdf_size(rdf) != 16)
			return DNSCHECK_PARSE_BAD;
		s6 = (struct sockaddr_in6 *)&a->addr[a->naddr];
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, ldns_rdf_data(rdf), 16);
	}
	a->naddr++;
	return DNSCHECK_PARSE_OK;
}

static enum dnscheck_parse
parse_soa(struct dnscheck_answer *a, const ldns_rr *rr)
{
	const ldns_rdf	*rdf;

	/* RFC 1035 3.3.13: MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM */
	if (ldns_rr_rd_count(rr) != 7)
		return DNSCHECK_PARSE_BAD;
	rdf = ldns_rr_rdf(rr, 2);
	if (ldns_rdf_size(rdf) != 4)
		return DNSCHECK_PARSE_BAD;
	a->serial = ldns_rdf2native_int32(rdf);
	a->has_serial = 1;
	return DNSCHECK_PARSE_OK;
}

/* One answer-section record owned by the question's name. */
static enum dnscheck_parse
parse_rr(struct dnscheck_answer *a, const ldns_rr *rr, uint16_t qtype)
{
	ldns_rr_type	t = ldns_rr_get_type(rr);

	if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN)
		return DNSCHECK_PARSE_OK;
	if (t == LDNS_RR_TYPE_CNAME) {
		a->cname = 1;
		return DNSCHECK_PARSE_OK;
	}
	if (t != (ldns_rr_type)qtype)
		return DNSCHECK_PARSE_OK;
	switch (t) {
	case LDNS_RR_TYPE_TXT:
		return parse_txt(a, rr);
	case LDNS_RR_TYPE_NS:
		return parse_ns(a, rr);
	case LDNS_RR_TYPE_A:
		return parse_addr(a, rr, AF_INET);
	case LDNS_RR_TYPE_AAAA:
		return parse_addr(a, rr, AF_INET6);
	case LDNS_RR_TYPE_SOA:
		return a->has_serial ? DNSCHECK_PARSE_BAD : parse_soa(a, rr);
	default:
		return DNSCHECK_PARSE_OK;
	}
}

enum dnscheck_parse
dnscheck_answer_parse(const uint8_t *p, size_t len, const char *qname,
    uint16_t qtype, struct dnscheck_answer **out)
{
	struct dnscheck_answer	*a = NULL;
	ldns_pkt		*pkt = NULL;
	ldns_rdf		*want = NULL;
	const ldns_rr_list	*qs, *an;
	const ldns_rr		*rr;
	enum dnscheck_parse	 ret = DNSCHECK_PARSE_BAD;
	size_t			 i;

	*out = NULL;
	if (len > DNSCHECK_MSG_MAX) {
		ret = DNSCHECK_PARSE_TOO_BIG;
		goto done;
	}
	if (len < DNS_HEADER_LEN || (p[2] & DNS_FLAG_QR) == 0)
		goto done;
	if ((want = ldns_dname_new_frm_str(qname)) == NULL)
		goto done;
	if (ldns_wire2pkt(&pkt, p, len) != LDNS_STATUS_OK)
		goto done;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		goto done;
	a->rcode = ldns_pkt_get_rcode(pkt);
	a->aa = ldns_pkt_aa(pkt);
	a->tc = ldns_pkt_tc(pkt);
	qs = ldns_pkt_question(pkt);
	/* Error replies may omit the question (RFC 1035 4.1.2 is silent). */
	if (ldns_rr_list_rr_count(qs) == 0 && a->rcode != LDNS_RCODE_NOERROR) {
		ret = DNSCHECK_PARSE_OK;
		goto done;
	}
	if (ldns_rr_list_rr_count(qs) != 1)
		goto done;
	rr = ldns_rr_list_rr(qs, 0);
	if (ldns_dname_compare(ldns_rr_owner(rr), want) != 0 ||
	    ldns_rr_get_type(rr) != (ldns_rr_type)qtype)
		goto done;
	an = ldns_pkt_answer(pkt);
	for (i = 0; i < ldns_rr_list_rr_count(an); i++) {
		rr = ldns_rr_list_rr(an, i);
		if (ldns_dname_compare(ldns_rr_owner(rr), want) != 0)
			continue;
		if ((ret = parse_rr(a, rr, qtype)) != DNSCHECK_PARSE_OK)
			goto done;
	}
	ret = DNSCHECK_PARSE_OK;
done:
	if (ret == DNSCHECK_PARSE_OK)
		*out = a;
	else
		dnscheck_answer_free(a);
	ldns_pkt_free(pkt);
	ldns_rdf_deep_free(want);
	return ret;
}

int
dnscheck_answer_rcode(const struct dnscheck_answer *a)
{
	return a->rcode;
}

int
dnscheck_answer_aa(const struct dnscheck_answer *a)
{
	return a->aa;
}

int
dnscheck_answer_tc(const struct dnscheck_answer *a)
{
	return a->tc;
}

int
dnscheck_answer_cname(const struct dnscheck_answer *a)
{
	return a->cname;
}

size_t
dnscheck_answer_ntxt(const struct dnscheck_answer *a)
{
	return a->ntxt;
}

const uint8_t *
dnscheck_answer_txt(const struct dnscheck_answer *a, size_t i, size_t *len)
{
	if (i >= a->ntxt) {
		*len = 0;
		return NULL;
	}
	*len = buf_len(a->txt[i]);
	return buf_data(a->txt[i]);
}

uint32_t
dnscheck_answer_ttl(const struct dnscheck_answer *a, size_t i)
{
	return i < a->ntxt ? a->ttl[i] : 0;
}

const uint8_t *
dnscheck_answer_rdata(const struct dnscheck_answer *a, size_t i, size_t *len)
{
	if (i >= a->ntxt) {
		*len = 0;
		return NULL;
	}
	*len = buf_len(a->rdata[i]);
	return buf_data(a->rdata[i]);
}

int
dnscheck_answer_serial(const struct dnscheck_answer *a, uint32_t *serial)
{
	if (!a->has_serial)
		return -1;
	*serial = a->serial;
	return 0;
}

int
dnscheck_query_build(const char *qname, uint16_t qtype, int rd,
    struct buf *out)
{
	ldns_rdf	*name;
	ldns_pkt	*pkt = NULL;
	uint8_t		*wire = NULL;
	size_t		 wlen;
	uint16_t	 id;
	int		 ret = -1;

	if ((name = ldns_dname_new_frm_str(qname)) == NULL)
		goto done;
	/* The packet takes ownership of the name. */
	if ((pkt = ldns_pkt_query_new(name, qtype, LDNS_RR_CLASS_IN,
	    rd ? LDNS_RD : 0)) == NULL) {
		ldns_rdf_deep_free(name);
		goto done;
	}
	/* RFC 5452 9.2: an unpredictable id. */
	randombytes_buf(&id, sizeof(id));
	ldns_pkt_set_id(pkt, id);
	ldns_pkt_set_edns_udp_size(pkt, DNSCHECK_UDP_MAX);
	if (ldns_pkt2wire(&wire, pkt, &wlen) != LDNS_STATUS_OK)
		goto done;
	buf_reset(out);
	if (buf_append(out, wire, wlen) == -1)
		goto done;
	ret = 0;
done:
	free(wire);
	ldns_pkt_free(pkt);
	return ret;
}

static void
first_difference(const uint8_t *got, size_t glen, const uint8_t *want,
    size_t wlen, char *detail, size_t detaillen)
{
	size_t	i;

	for (i = 0; i < glen && i < wlen && got[i] == want[i]; i++)
		continue;
	snprintf(detail, detaillen,
	    "TXT differs: %zu octets served, %zu expected, first difference "
	    "at octet %zu", glen, wlen, i);
}

enum dnscheck_status
dnscheck_judge(const struct dnscheck_answer *txt,
    const struct dnscheck_answer *soa, const struct dnscheck_want *want,
    char *detail, size_t detaillen)
{
	const uint8_t	*v;
	size_t		 vlen;
	uint32_t	 serial;

	detail[0] = '\0';
	if (txt->rcode != LDNS_RCODE_NOERROR &&
	    txt->rcode != LDNS_RCODE_NXDOMAIN) {
		snprintf(detail, detaillen, "server answered %s",
		    dnscheck_rcode_name(txt->rcode));
		return DNSCHECK_ERROR;
	}
	if (!txt->aa) {
		snprintf(detail, detaillen, "answer not authoritative (AA=0)");
		return DNSCHECK_ERROR;
	}
	if (txt->tc) {
		snprintf(detail, detaillen, "answer truncated");
		return DNSCHECK_ERROR;
	}
	if (txt->cname) {
		snprintf(detail, detaillen, "the name is a CNAME");
		return DNSCHECK_MISMATCH;
	}
	if (txt->ntxt > 1) {
		snprintf(detail, detaillen, "%zu TXT records at the name",
		    txt->ntxt);
		return DNSCHECK_MISMATCH;
	}
	if (want->value == NULL && txt->ntxt == 1) {
		snprintf(detail, detaillen, "a TXT record is still present");
		return DNSCHECK_MISMATCH;
	}
	if (want->value != NULL && txt->ntxt == 0) {
		snprintf(detail, detaillen, "%s",
		    txt->rcode == LDNS_RCODE_NXDOMAIN ? "no such name" :
		    "no TXT record at the name");
		return DNSCHECK_MISSING;
	}
	if (want->value != NULL) {
		v = dnscheck_answer_txt(txt, 0, &vlen);
		if (vlen != want->len || memcmp(v, want->value, vlen) != 0) {
			first_difference(v, vlen, want->value, want->len,
			    detail, detaillen);
			return DNSCHECK_MISMATCH;
		}
	}
	if (!want->check_serial)
		return DNSCHECK_MATCH;
	if (soa == NULL || soa->rcode != LDNS_RCODE_NOERROR || !soa->aa ||
	    dnscheck_answer_serial(soa, &serial) == -1) {
		snprintf(detail, detaillen, "no authoritative SOA answer");
		return DNSCHECK_ERROR;
	}
	if (dnscheck_serial_cmp(serial, want->min_serial) < 0) {
		snprintf(detail, detaillen, "SOA serial %u is below %u",
		    serial, want->min_serial);
		return DNSCHECK_MISMATCH;
	}
	return DNSCHECK_MATCH;
}

/* Ask addr one question; *out is NULL with err set on failure. */
static int
ask(const struct sockaddr *sa, socklen_t salen, const char *qname,
    uint16_t qtype, int rd, int timeout_ms, struct dnscheck_answer **out,
    char *err, size_t errlen)
{
	struct buf		*q = NULL, *r = NULL;
	enum dnscheck_parse	 pr;
	int			 ret = -1;

	*out = NULL;
	if ((q = buf_new(DNSCHECK_MSG_MAX)) == NULL ||
	    (r = buf_new(DNSCHECK_MSG_MAX)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	if (dnscheck_query_build(qname, qtype, rd, q) == -1) {
		snprintf(err, errlen, "cannot build a query for %s", qname);
		goto done;
	}
	if (dnscheck_exchange(sa, salen, buf_data(q), buf_len(q), 0,
	    timeout_ms, r, err, errlen) == -1)
		goto done;
	pr = dnscheck_answer_parse(buf_data(r), buf_len(r), qname, qtype,
	    out);
	if (pr != DNSCHECK_PARSE_OK) {
		snprintf(err, errlen, "%s reply",
		    pr == DNSCHECK_PARSE_TOO_BIG ? "oversized" : "malformed");
		goto done;
	}
	ret = 0;
done:
	buf_free(q);
	buf_free(r);
	return ret;
}

static void
check_row(struct row *row, const struct dnscheck_cfg *cfg,
    const struct dnscheck_want *want)
{
	struct dnscheck_answer	*txt = NULL, *soa = NULL;
	const struct sockaddr	*sa = (const struct sockaddr *)&row->ss;

	if (ask(sa, row->sslen, want->fqdn, LDNS_RR_TYPE_TXT, 0,
	    cfg->timeout_ms, &txt, row->detail, sizeof(row->detail)) == -1) {
		row->status = DNSCHECK_ERROR;
		goto done;
	}
	if (want->check_serial && ask(sa, row->sslen, cfg->zone,
	    LDNS_RR_TYPE_SOA, 0, cfg->timeout_ms, &soa, row->detail,
	    sizeof(row->detail)) == -1) {
		row->status = DNSCHECK_ERROR;
		goto done;
	}
	row->status = dnscheck_judge(txt, soa, want, row->detail,
	    sizeof(row->detail));
done:
	dnscheck_answer_free(soa);
	dnscheck_answer_free(txt);
}

static struct row *
row_add(struct dnscheck_report *r)
{
	struct row	*row;

	if (r->nrows == DNSCHECK_ADDR_MAX)
		return NULL;
	row = &r->rows[r->nrows++];
	memset(row, 0, sizeof(*row));
	row->status = DNSCHECK_ERROR;
	return row;
}

static void
set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons(port);
}

static socklen_t
ss_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in);
}

/* Rows for a configured server: one per address of its host. */
static int
add_configured(struct dnscheck_report *r, const struct dnscheck_server *srv,
    char *err, size_t errlen)
{
	struct addrinfo	 hints, *res = NULL, *ai;
	struct row	*row;
	char		 at[64];
	uint16_t	 port;
	int		 gai, numeric;

	port = srv->port != 0 ? srv->port : DNSCHECK_PORT;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICHOST;
	numeric = getaddrinfo(srv->host, NULL, &hints, &res) == 0;
	if (!numeric) {
		hints.ai_flags = 0;
		if ((gai = getaddrinfo(srv->host, NULL, &hints, &res)) != 0) {
			if ((row = row_add(r)) == NULL)
				goto full;
			say(row->server, sizeof(row->server), "%s:%u",
			    srv->host, port);
			say(row->detail, sizeof(row->detail),
			    "cannot resolve %s: %s", srv->host,
			    gai_strerror(gai));
			return 0;
		}
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(row->ss))
			continue;
		if ((row = row_add(r)) == NULL)
			goto full;
		memcpy(&row->ss, ai->ai_addr, ai->ai_addrlen);
		set_port(&row->ss, port);
		row->sslen = ss_len(&row->ss);
		addr_text((struct sockaddr *)&row->ss, at, sizeof(at));
		if (numeric)
			say(row->server, sizeof(row->server), "%s", at);
		else
			say(row->server, sizeof(row->server), "%s %s",
			    srv->host, at);
	}
	freeaddrinfo(res);
	return 0;
full:
	freeaddrinfo(res);
	snprintf(err, errlen, "more than %d server addresses",
	    DNSCHECK_ADDR_MAX);
	return -1;
}

/* resolv.conf's name servers, as the seeds for NS-set discovery. */
static size_t
resolv_seeds(struct sockaddr_storage *out, size_t max)
{
	FILE		*f;
	char		 line[RESOLV_LINE_MAX], addr[INET6_ADDRSTRLEN + 1];
	struct in_addr	 a4;
	struct in6_addr	 a6;
	size_t		 n = 0;

	if ((f = fopen(RESOLV_CONF, "re")) == NULL)
		return 0;
	while (n < max && fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "nameserver %46s", addr) != 1)
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		if (inet_pton(AF_INET, addr, &a4) == 1) {
			out[n].ss_family = AF_INET;
			((struct sockaddr_in *)&out[n])->sin_addr = a4;
		} else if (inet_pton(AF_INET6, addr, &a6) == 1) {
			out[n].ss_family = AF_INET6;
			((struct sockaddr_in6 *)&out[n])->sin6_addr = a6;
		} else
			continue;
		set_port(&out[n], DNSCHECK_PORT);
		n++;
	}
	fclose(f);
	return n;
}

/* Ask the seeds in turn until one answers with NOERROR. */
static int
ask_seeds(const struct sockaddr_storage *seeds, size_t nseeds,
    const char *qname, uint16_t qtype, int timeout_ms,
    struct dnscheck_answer **out, char *err, size_t errlen)
{
	size_t	i;

	*out = NULL;
	snprintf(err, errlen, "no name server to ask");
	for (i = 0; i < nseeds; i++) {
		if (ask((const struct sockaddr *)&seeds[i], ss_len(&seeds[i]),
		    qname, qtype, 1, timeout_ms, out, err, errlen) == -1)
			continue;
		if ((*out)->rcode == LDNS_RCODE_NOERROR)
			return 0;
		snprintf(err, errlen, "%s for %s", dnscheck_rcode_name((*out)->rcode),
		    qname);
		dnscheck_answer_free(*out);
		*out = NULL;
	}
	return -1;
}

static int
add_ns_set(struct dnscheck_report *r, const struct dnscheck_cfg *cfg,
    char *err, size_t errlen)
{
	struct sockaddr_storage	 seeds[RESOLV_NS_MAX];
	struct dnscheck_answer	*ns = NULL, *addrs;
	struct row		*row;
	char			 at[64], why[DNSCHECK_DETAIL_LEN];
	struct addrinfo		 hints, *res = NULL;
	uint16_t		 port, qt;
	size_t			 nseeds, i, j, before;
	int			 ret = -1, k;
	static const uint16_t	 types[] = { LDNS_RR_TYPE_A,
				    LDNS_RR_TYPE_AAAA };

	if (cfg->seed.host != NULL) {
		memset(&hints, 0, sizeof(hints));
		hints.ai_socktype = SOCK_DGRAM;
		if (getaddrinfo(cfg->seed.host, NULL, &hints, &res) != 0 ||
		    res->ai_addrlen > sizeof(seeds[0])) {
			say(err, errlen, "cannot resolve %s", cfg->seed.host);
			goto done;
		}
		memset(&seeds[0], 0, sizeof(seeds[0]));
		memcpy(&seeds[0], res->ai_addr, res->ai_addrlen);
		set_port(&seeds[0], cfg->seed.port != 0 ? cfg->seed.port :
		    DNSCHECK_PORT);
		nseeds = 1;
	} else
		nseeds = resolv_seeds(seeds, RESOLV_NS_MAX);
	if (ask_seeds(seeds, nseeds, cfg->zone, LDNS_RR_TYPE_NS,
	    cfg->timeout_ms, &ns, why, sizeof(why)) == -1 || ns->nns == 0) {
		snprintf(err, errlen, "no NS set for %s: %s", cfg->zone,
		    ns != NULL ? "empty answer" : why);
		goto done;
	}
	port = cfg->ns_port != 0 ? cfg->ns_port : DNSCHECK_PORT;
	for (i = 0; i < ns->nns; i++) {
		before = r->nrows;
		why[0] = '\0';
		for (k = 0; k < 2; k++) {
			qt = types[k];
			if (ask_seeds(seeds, nseeds, ns->ns[i], qt,
			    cfg->timeout_ms, &addrs, why, sizeof(why)) == -1)
				continue;
			for (j = 0; j < addrs->naddr; j++) {
				if ((row = row_add(r)) == NULL) {
					dnscheck_answer_free(addrs);
					snprintf(err, errlen,
					    "more than %d server addresses",
					    DNSCHECK_ADDR_MAX);
					goto done;
				}
				row->ss = addrs->addr[j];
				set_port(&row->ss, port);
				row->sslen = ss_len(&row->ss);
				addr_text((struct sockaddr *)&row->ss, at,
				    sizeof(at));
				snprintf(row->server, sizeof(row->server),
				    "%s %s", ns->ns[i], at);
			}
			dnscheck_answer_free(addrs);
		}
		if (r->nrows == before) {
			/* A server we cannot reach cannot prove anything. */
			if ((row = row_add(r)) == NULL) {
				snprintf(err, errlen,
				    "more than %d server addresses",
				    DNSCHECK_ADDR_MAX);
				goto done;
			}
			snprintf(row->server, sizeof(row->server), "%s",
			    ns->ns[i]);
			snprintf(row->detail, sizeof(row->detail),
			    "no address for the name server%s%s",
			    why[0] != '\0' ? ": " : "", why);
		}
	}
	ret = 0;
done:
	if (res != NULL)
		freeaddrinfo(res);
	dnscheck_answer_free(ns);
	return ret;
}

struct dnscheck_report *
dnscheck_run(const struct dnscheck_cfg *cfg, const struct dnscheck_want *want,
    char *err, size_t errlen)
{
	struct dnscheck_report	*r;
	size_t			 i;

	if (sodium_init() == -1) {
		snprintf(err, errlen, "libsodium failed to initialize");
		return NULL;
	}
	if (!dnscheck_name_valid(want->fqdn) ||
	    !dnscheck_name_valid(cfg->zone)) {
		snprintf(err, errlen, "not a valid name");
		return NULL;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (cfg->nservers > 0) {
		for (i = 0; i < cfg->nservers; i++)
			if (add_configured(r, &cfg->servers[i], err,
			    errlen) == -1)
				goto fail;
	} else if (add_ns_set(r, cfg, err, errlen) == -1)
		goto fail;
	if (r->nrows == 0) {
		snprintf(err, errlen, "no authoritative server found");
		goto fail;
	}
	for (i = 0; i < r->nrows; i++)
		if (r->rows[i].sslen != 0)
			check_row(&r->rows[i], cfg, want);
	return r;
fail:
	free(r);
	return NULL;
}

struct dnscheck_report *
dnscheck_key(const struct dnscheck_cfg *cfg, const char *domain,
    const char *selector, const struct keys_key *key, char *err,
    size_t errlen)
{
	struct dnscheck_want	 want;
	struct dnscheck_report	*r;
	struct buf		*value;
	char			 fqdn[DNSCHECK_NAME_MAX + 2];
	int			 n;

	n = snprintf(fqdn, sizeof(fqdn), "%s._domainkey.%s", selector,
	    domain);
	if (n < 0 || (size_t)n >= sizeof(fqdn)) {
		snprintf(err, errlen, "not a valid name");
		return NULL;
	}
	if ((value = buf_new(DNSCHECK_RECORD_MAX)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (keys_dns_record(key, value) == -1) {
		snprintf(err, errlen, "cannot build the key's record");
		buf_free(value);
		return NULL;
	}
	memset(&want, 0, sizeof(want));
	want.fqdn = fqdn;
	want.value = buf_data(value);
	want.len = buf_len(value);
	r = dnscheck_run(cfg, &want, err, errlen);
	buf_free(value);
	return r;
}

void
dnscheck_report_free(struct dnscheck_report *r)
{
	free(r);
}

size_t
dnscheck_report_count(const struct dnscheck_report *r)
{
	return r->nrows;
}

int
dnscheck_report_visible(const struct dnscheck_report *r)
{
	size_t	i;

	if (r->nrows == 0)
		return 0;
	for (i = 0; i < r->nrows; i++)
		if (r->rows[i].status != DNSCHECK_MATCH)
			return 0;
	return 1;
}

enum dnscheck_status
dnscheck_report_status(const struct dnscheck_report *r, size_t i)
{
	return i < r->nrows ? r->rows[i].status : DNSCHECK_ERROR;
}

const char *
dnscheck_report_server(const struct dnscheck_report *r, size_t i)
{
	return i < r->nrows ? r->rows[i].server : "";
}

const char *
dnscheck_report_detail(const struct dnscheck_report *r, size_t i)
{
	return i < r->nrows ? r->rows[i].detail : "";
}
