/*
 * proxyproto — PROXY protocol v1/v2 header parser (HAProxy's "The PROXY
 * protocol" specification, sections 2.1 and 2.2).
 *
 * Invariants: the parser is pure (no allocation, no state between calls)
 * and never reads past len.  A proper prefix of a valid header is always
 * PROXYPROTO_NEED_MORE, and a verdict is reached within PROXYPROTO_V1_MAX
 * octets for v1 and PROXYPROTO_MAX for v2, so the caller's buffer is
 * bounded.  v1 addresses must match the protocol named (TCP4 dotted quad,
 * TCP6 RFC 4291 text), ports are decimal 0-65535 without leading zeros.
 * v2 TLVs are walked only to check that they fill the block exactly;
 * their contents are ignored.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "proxy/proxyproto.h"

#define V1_PREFIX	"PROXY "
#define V1_PREFIX_LEN	(sizeof(V1_PREFIX) - 1)
#define V1_PROTO_MAX	7	/* "UNKNOWN", spec 2.1 */
#define V1_ADDR_MAX	45	/* INET6_ADDRSTRLEN - 1 */
#define V1_PORT_DIGITS	5	/* 65535 */

/* Spec 2.2: the 12-octet v2 signature. */
static const uint8_t v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};
#define V2_SIG_LEN	sizeof(v2_sig)
#define V2_VERSION	0x2
#define V2_CMD_LOCAL	0x0
#define V2_CMD_PROXY	0x1
#define V2_AF_UNSPEC	0x0
#define V2_AF_INET	0x1
#define V2_AF_INET6	0x2
#define V2_AF_UNIX	0x3
#define V2_TP_UNSPEC	0x0
#define V2_TP_STREAM	0x1
#define V2_TP_DGRAM	0x2
#define V2_INET_LEN	12	/* 4 + 4 + 2 + 2 */
#define V2_INET6_LEN	36	/* 16 + 16 + 2 + 2 */
#define V2_TLV_HDR	3	/* type, 16-bit length */

/* A cursor over one v1 line, CRLF excluded. */
struct v1_cur {
	const uint8_t	*p;
	size_t		 len;
	size_t		 pos;
};

static int
is_v1_char(uint8_t c)
{
	return c >= 0x20 && c <= 0x7e;
}

static int
is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static int
is_proto_char(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || is_digit(c);
}

static int
is_addr_char(uint8_t c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F') || c == ':' || c == '.';
}

static int
v1_sp(struct v1_cur *c)
{
	if (c->pos >= c->len || c->p[c->pos] != ' ')
		return -1;
	c->pos++;
	return 0;
}

/* src-port / dst-port: 1*5DIGIT, no leading zero, at most 65535. */
static int
v1_port(struct v1_cur *c, uint16_t *port)
{
	size_t		start = c->pos;
	uint32_t	v = 0;

	while (c->pos < c->len && is_digit(c->p[c->pos]) &&
	    c->pos - start < V1_PORT_DIGITS) {
		v = v * 10 + (uint32_t)(c->p[c->pos] - '0');
		c->pos++;
	}
	if (c->pos == start || v > UINT16_MAX)
		return -1;
	if (c->p[start] == '0' && c->pos - start > 1)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* src-addr / dst-addr in the family named by the protocol token. */
static int
v1_address(struct v1_cur *c, int family, struct sockaddr_storage *ss,
    socklen_t *sslen)
{
	char	 text[V1_ADDR_MAX + 1];
	size_t	 start = c->pos, n;

	while (c->pos < c->len && is_addr_char(c->p[c->pos]))
		c->pos++;
	n = c->pos - start;
	if (n == 0 || n > V1_ADDR_MAX)
		return -1;
	memcpy(text, c->p + start, n);
	text[n] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in	*sin = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, text, &sin->sin_addr) != 1)
			return -1;
		sin->sin_family = AF_INET;
		*sslen = sizeof(*sin);
	} else {
		struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, text, &sin6->sin6_addr) != 1)
			return -1;
		sin6->sin6_family = AF_INET6;
		*sslen = sizeof(*sin6);
	}
	return 0;
}

static void
set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

/*
 * proto = "TCP4" / "TCP6" / "UNKNOWN".  *family gets AF_INET, AF_INET6,
 * or AF_UNSPEC for UNKNOWN.
 */
static int
v1_proto(struct v1_cur *c, int *family)
{
	size_t	 start = c->pos, n;

	while (c->pos < c->len && is_proto_char(c->p[c->pos]) &&
	    c->pos - start < V1_PROTO_MAX)
		c->pos++;
	n = c->pos - start;
	if (n == 4 && memcmp(c->p + start, "TCP4", 4) == 0)
		*family = AF_INET;
	else if (n == 4 && memcmp(c->p + start, "TCP6", 4) == 0)
		*family = AF_INET6;
	else if (n == 7 && memcmp(c->p + start, "UNKNOWN", 7) == 0)
		*family = AF_UNSPEC;
	else
		return -1;
	return 0;
}

/*
 * The line without its CRLF: "PROXY" SP proto [SP src SP dst SP sport
 * SP dport].  Spec 2.1: after UNKNOWN the rest of the line is ignored.
 */
static int
v1_line(const uint8_t *p, size_t len, struct proxyproto_result *res)
{
	struct v1_cur	 c = { p, len, V1_PREFIX_LEN };
	uint16_t	 sport, dport;
	int		 family;

	if (v1_proto(&c, &family) == -1)
		return -1;
	if (family == AF_UNSPEC) {
		if (c.pos < c.len && c.p[c.pos] != ' ')
			return -1;
		res->local = 1;
		return 0;
	}
	if (v1_sp(&c) == -1 ||
	    v1_address(&c, family, &res->src, &res->srclen) == -1 ||
	    v1_sp(&c) == -1 ||
	    v1_address(&c, family, &res->dst, &res->dstlen) == -1 ||
	    v1_sp(&c) == -1 || v1_port(&c, &sport) == -1 ||
	    v1_sp(&c) == -1 || v1_port(&c, &dport) == -1 || c.pos != c.len)
		return -1;
	set_port(&res->src, sport);
	set_port(&res->dst, dport);
	return 0;
}

static enum proxyproto_status
v1_header(const uint8_t *p, size_t len, struct proxyproto_result *res)
{
	size_t	 n, i;

	n = len < V1_PREFIX_LEN ? len : V1_PREFIX_LEN;
	if (memcmp(p, V1_PREFIX, n) != 0)
		return PROXYPROTO_BAD;
	for (i = 0; i < len && i < PROXYPROTO_V1_MAX; i++) {
		if (p[i] == '\r')
			break;
		if (!is_v1_char(p[i]))
			return PROXYPROTO_BAD;
	}
	/* The CRLF must end within the limit: CR at index V1_MAX - 2. */
	if (i > PROXYPROTO_V1_MAX - 2)
		return PROXYPROTO_BAD;
	if (i + 1 >= len)
		return PROXYPROTO_NEED_MORE;
	if (p[i + 1] != '\n')
		return PROXYPROTO_BAD;
	if (v1_line(p, i, res) == -1)
		return PROXYPROTO_BAD;
	res->version = 1;
	res->used = i + 2;
	return PROXYPROTO_DONE;
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The TLV vectors after the addresses must fill the block exactly. */
static int
v2_tlvs(const uint8_t *p, size_t len)
{
	size_t	 pos = 0, vlen;

	while (pos < len) {
		if (len - pos < V2_TLV_HDR)
			return -1;
		vlen = get16(p + pos + 1);
		pos += V2_TLV_HDR;
		if (len - pos < vlen)
			return -1;
		pos += vlen;
	}
	return 0;
}

static int
v2_inet(const uint8_t *p, size_t len, struct proxyproto_result *res)
{
	struct sockaddr_in	*src = (struct sockaddr_in *)&res->src;
	struct sockaddr_in	*dst = (struct sockaddr_in *)&res->dst;

	if (len < V2_INET_LEN)
		return -1;
	memset(&res->src, 0, sizeof(res->src));
	memset(&res->dst, 0, sizeof(res->dst));
	src->sin_family = AF_INET;
	dst->sin_family = AF_INET;
	memcpy(&src->sin_addr, p, 4);
	memcpy(&dst->sin_addr, p + 4, 4);
	/* Both ports are already in network order on the wire. */
	memcpy(&src->sin_port, p + 8, 2);
	memcpy(&dst->sin_port, p + 10, 2);
	res->srclen = sizeof(*src);
	res->dstlen = sizeof(*dst);
	return v2_tlvs(p + V2_INET_LEN, len - V2_INET_LEN);
}

static int
v2_inet6(const uint8_t *p, size_t len, struct proxyproto_result *res)
{
	struct sockaddr_in6	*src = (struct sockaddr_in6 *)&res->src;
	struct sockaddr_in6	*dst = (struct sockaddr_in6 *)&res->dst;

	if (len < V2_INET6_LEN)
		return -1;
	memset(&res->src, 0, sizeof(res->src));
	memset(&res->dst, 0, sizeof(res->dst));
	src->sin6_family = AF_INET6;
	dst->sin6_family = AF_INET6;
	memcpy(&src->sin6_addr, p, 16);
	memcpy(&dst->sin6_addr, p + 16, 16);
	memcpy(&src->sin6_port, p + 32, 2);
	memcpy(&dst->sin6_port, p + 34, 2);
	res->srclen = sizeof(*src);
	res->dstlen = sizeof(*dst);
	return v2_tlvs(p + V2_INET6_LEN, len - V2_INET6_LEN);
}

/*
 * Spec 2.2: version/command, family/transport, then the block.  LOCAL
 * (health checks from the balancer) and families we cannot use keep the
 * connection's own addresses; a PROXY command for a TCP client must be
 * STREAM, since this is an SMTP listener.
 */
static int
v2_block(uint8_t cmd, uint8_t af, uint8_t tp, const uint8_t *p, size_t len,
    struct proxyproto_result *res)
{
	if (cmd == V2_CMD_LOCAL || af == V2_AF_UNSPEC || af == V2_AF_UNIX) {
		res->local = 1;
		return 0;
	}
	if (tp != V2_TP_STREAM)
		return -1;
	if (af == V2_AF_INET)
		return v2_inet(p, len, res);
	return v2_inet6(p, len, res);
}

static enum proxyproto_status
v2_header(const uint8_t *p, size_t len, struct proxyproto_result *res)
{
	uint8_t	 ver, cmd, af, tp;
	size_t	 n, blen;

	n = len < V2_SIG_LEN ? len : V2_SIG_LEN;
	if (memcmp(p, v2_sig, n) != 0)
		return PROXYPROTO_BAD;
	if (len > V2_SIG_LEN) {
		ver = p[12] >> 4;
		cmd = p[12] & 0x0f;
		if (ver != V2_VERSION ||
		    (cmd != V2_CMD_LOCAL && cmd != V2_CMD_PROXY))
			return PROXYPROTO_BAD;
	}
	if (len > V2_SIG_LEN + 1) {
		af = p[13] >> 4;
		tp = p[13] & 0x0f;
		if (af > V2_AF_UNIX || tp > V2_TP_DGRAM)
			return PROXYPROTO_BAD;
	}
	if (len < PROXYPROTO_V2_HDR)
		return PROXYPROTO_NEED_MORE;
	blen = get16(p + 14);
	if (blen > PROXYPROTO_V2_LEN_MAX)
		return PROXYPROTO_BAD;
	if (len - PROXYPROTO_V2_HDR < blen)
		return PROXYPROTO_NEED_MORE;
	if (v2_block(p[12] & 0x0f, p[13] >> 4, p[13] & 0x0f,
	    p + PROXYPROTO_V2_HDR, blen, res) == -1)
		return PROXYPROTO_BAD;
	res->version = 2;
	res->used = PROXYPROTO_V2_HDR + blen;
	return PROXYPROTO_DONE;
}

enum proxyproto_status
proxyproto_parse(const void *data, size_t len, int accept,
    struct proxyproto_result *res)
{
	const uint8_t	*p = data;

	if (len == 0)
		return PROXYPROTO_NEED_MORE;
	memset(res, 0, sizeof(*res));
	if (p[0] == V1_PREFIX[0] && (accept & PROXYPROTO_ACCEPT_V1))
		return v1_header(p, len, res);
	if (p[0] == v2_sig[0] && (accept & PROXYPROTO_ACCEPT_V2))
		return v2_header(p, len, res);
	return PROXYPROTO_BAD;
}
