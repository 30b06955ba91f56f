/*
 * proxyproto: PROXY protocol v1/v2 headers as HAProxy sends them, every
 * truncation of each (always need-more), and the headers a listener must
 * refuse (bad signatures, wrong version, oversized v2 length, bad
 * addresses, the version a listener did not ask for).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "proxy/proxyproto.h"
#include "tests/unit/t.h"

#define ANY	(PROXYPROTO_ACCEPT_V1 | PROXYPROTO_ACCEPT_V2)
#define V1	PROXYPROTO_ACCEPT_V1
#define V2	PROXYPROTO_ACCEPT_V2
#define B(s)	s, sizeof(s) - 1
#define SIG	"\r\n\r\n\0\r\nQUIT\n"
#define SMTP	"EHLO client.example\r\n"

struct good {
	const char	*name;
	const char	*data;
	size_t		 len;
	size_t		 hdrlen;	/* header octets; the rest is SMTP */
	int		 accept;
	int		 version;
	int		 local;
	const char	*src;
	int		 sport;
	const char	*dst;
	int		 dport;
};

static const struct good goods[] = {
	{ "v1 TCP4", B("PROXY TCP4 192.0.2.1 198.51.100.2 12345 25\r\n" SMTP),
	    44, ANY, 1, 0, "192.0.2.1", 12345, "198.51.100.2", 25 },
	{ "v1 TCP4 only v1", B("PROXY TCP4 10.0.0.1 10.0.0.2 0 65535\r\n"),
	    38, V1, 1, 0, "10.0.0.1", 0, "10.0.0.2", 65535 },
	{ "v1 TCP6", B("PROXY TCP6 2001:db8::1 2001:db8::2 40000 587\r\n"
	    SMTP), 46, ANY, 1, 0, "2001:db8::1", 40000, "2001:db8::2", 587 },
	{ "v1 TCP6 mapped", B("PROXY TCP6 ::ffff:192.0.2.9 ::1 1 2\r\n"), 37,
	    V1, 1, 0, "::ffff:192.0.2.9", 1, "::1", 2 },
	{ "v1 UNKNOWN", B("PROXY UNKNOWN\r\n" SMTP), 15, ANY, 1, 1, NULL, 0,
	    NULL, 0 },
	{ "v1 UNKNOWN with addresses ignored",
	    B("PROXY UNKNOWN ffff:f...f:ffff whatever\r\n"), 40, ANY, 1, 1,
	    NULL, 0, NULL, 0 },
	{ "v1 longest line (107)",
	    B("PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"), 107,
	    ANY, 1, 1, NULL, 0, NULL, 0 },
	{ "v2 PROXY TCP4", B(SIG "\x21\x11\x00\x0c"
	    "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\x30\x39" "\x00\x19" SMTP),
	    28, ANY, 2, 0, "192.0.2.1", 12345, "198.51.100.2", 25 },
	{ "v2 PROXY TCP4 only v2", B(SIG "\x21\x11\x00\x0c"
	    "\x7f\x00\x00\x01" "\x7f\x00\x00\x02" "\x00\x01" "\xff\xff"),
	    28, V2, 2, 0, "127.0.0.1", 1, "127.0.0.2", 65535 },
	{ "v2 PROXY TCP6", B(SIG "\x21\x21\x00\x24"
	    "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01"
	    "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x02"
	    "\x9c\x40" "\x02\x4b" SMTP), 52, ANY, 2, 0, "2001:db8::1", 40000,
	    "2001:db8::2", 587 },
	{ "v2 TCP4 with TLVs skipped", B(SIG "\x21\x11\x00\x1f"
	    "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\x30\x39" "\x00\x19"
	    "\x01\x00\x02h2" "\x02\x00\x08mx.test." "\x04\x00\x00" SMTP),
	    47, ANY, 2, 0, "192.0.2.1", 12345, "198.51.100.2", 25 },
	{ "v2 LOCAL", B(SIG "\x20\x00\x00\x00" SMTP), 16, ANY, 2, 1, NULL, 0,
	    NULL, 0 },
	{ "v2 LOCAL with a block ignored", B(SIG "\x20\x11\x00\x0c"
	    "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\x30\x39" "\x00\x19"), 28,
	    ANY, 2, 1, NULL, 0, NULL, 0 },
	{ "v2 PROXY UNSPEC", B(SIG "\x21\x00\x00\x00"), 16, ANY, 2, 1, NULL,
	    0, NULL, 0 },
	{ "v2 PROXY UNIX", B(SIG "\x21\x31\x00\x04" "/a\0\0"), 20, ANY, 2, 1,
	    NULL, 0, NULL, 0 },
};

static const struct {
	const char	*name;
	const char	*data;
	size_t		 len;
	int		 accept;
} bads[] = {
	{ "plain SMTP instead", B("EHLO client.example\r\n"), ANY },
	{ "lower-case proxy", B("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), ANY },
	{ "PROXY without space", B("PROXY\r\n"), ANY },
	{ "v1 on a v2 listener", B("PROXY UNKNOWN\r\n"), V2 },
	{ "v2 on a v1 listener", B(SIG "\x20\x00\x00\x00"), V1 },
	{ "v1 bad protocol", B("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n"), ANY },
	{ "v1 TCP4 with IPv6", B("PROXY TCP4 ::1 ::1 1 2\r\n"), ANY },
	{ "v1 TCP6 with IPv4", B("PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n"), ANY },
	{ "v1 bad octet", B("PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n"), ANY },
	{ "v1 port too big", B("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n"),
	    ANY },
	{ "v1 port leading zero", B("PROXY TCP4 1.2.3.4 5.6.7.8 025 2\r\n"),
	    ANY },
	{ "v1 port six digits", B("PROXY TCP4 1.2.3.4 5.6.7.8 000001 2\r\n"),
	    ANY },
	{ "v1 missing port", B("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"), ANY },
	{ "v1 extra field", B("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"), ANY },
	{ "v1 double space", B("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n"), ANY },
	{ "v1 trailing space", B("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n"), ANY },
	{ "v1 bare LF", B("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"), ANY },
	{ "v1 CR without LF", B("PROXY UNKNOWN\rx\n"), ANY },
	{ "v1 UNKNOWNX", B("PROXY UNKNOWNX\r\n"), ANY },
	{ "v1 control byte", B("PROXY UNKNOWN \x01\r\n"), ANY },
	{ "v1 NUL byte", B("PROXY UNKNOWN \0\r\n"), ANY },
	{ "v1 no CRLF within 107", B("PROXY UNKNOWN "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 655351\r\n"), ANY },
	{ "v2 bad signature", B("\r\n\r\n\0\r\nQUIX\n\x21\x11\x00\x00"), ANY },
	{ "v2 version 1", B(SIG "\x11\x11\x00\x0c"), ANY },
	{ "v2 version 3", B(SIG "\x31\x11\x00\x0c"), ANY },
	{ "v2 command 2", B(SIG "\x22\x11\x00\x0c"), ANY },
	{ "v2 family 4", B(SIG "\x21\x41\x00\x00"), ANY },
	{ "v2 transport 3", B(SIG "\x21\x13\x00\x0c"), ANY },
	{ "v2 oversized length", B(SIG "\x21\x11\xff\xff"), ANY },
	{ "v2 length just over the limit", B(SIG "\x21\x11\x04\x01"), ANY },
	{ "v2 TCP4 block too short", B(SIG "\x21\x11\x00\x08"
	    "\xc0\x00\x02\x01" "\xc6\x33\x64\x02"), ANY },
	{ "v2 TCP6 block too short", B(SIG "\x21\x21\x00\x0c"
	    "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\x30\x39" "\x00\x19"), ANY },
	{ "v2 DGRAM", B(SIG "\x21\x12\x00\x0c"
	    "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\x30\x39" "\x00\x19"), ANY },
	{ "v2 TCP4 UNSPEC transport", B(SIG "\x21\x10\x00\x0c"
	    "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\x30\x39" "\x00\x19"), ANY },
	{ "v2 TLV overruns block", B(SIG "\x21\x11\x00\x11"
	    "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\x30\x39" "\x00\x19"
	    "\x01\x00\x05h2"), ANY },
	{ "v2 TLV header cut", B(SIG "\x21\x11\x00\x0e"
	    "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\x30\x39" "\x00\x19"
	    "\x01\x00"), ANY },
};

static void
addr_text(const struct sockaddr_storage *ss, char *out, size_t outlen,
    int *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, out, outlen);
		*port = ntohs(sin->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, out, outlen);
		*port = ntohs(sin6->sin6_port);
	} else {
		snprintf(out, outlen, "family %d", ss->ss_family);
		*port = -1;
	}
}

static void
check_good(const struct good *g)
{
	struct proxyproto_result	 r;
	enum proxyproto_status		 st;
	char				 name[160], text[INET6_ADDRSTRLEN + 16];
	size_t				 cut;
	int				 port, prefixes_ok = 1;

	st = proxyproto_parse(g->data, g->len, g->accept, &r);
	snprintf(name, sizeof(name), "%s: done", g->name);
	if (!T_EQ_INT(st, PROXYPROTO_DONE, name))
		return;
	snprintf(name, sizeof(name), "%s: used", g->name);
	T_EQ_INT(r.used, g->hdrlen, name);
	snprintf(name, sizeof(name), "%s: version", g->name);
	T_EQ_INT(r.version, g->version, name);
	snprintf(name, sizeof(name), "%s: local", g->name);
	T_EQ_INT(r.local, g->local, name);
	if (!g->local) {
		addr_text(&r.src, text, sizeof(text), &port);
		snprintf(name, sizeof(name), "%s: source address", g->name);
		T_EQ_STR(text, g->src, name);
		snprintf(name, sizeof(name), "%s: source port", g->name);
		T_EQ_INT(port, g->sport, name);
		snprintf(name, sizeof(name), "%s: source length", g->name);
		T_EQ_INT(r.srclen, r.src.ss_family == AF_INET ?
		    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6),
		    name);
		addr_text(&r.dst, text, sizeof(text), &port);
		snprintf(name, sizeof(name), "%s: destination address",
		    g->name);
		T_EQ_STR(text, g->dst, name);
		snprintf(name, sizeof(name), "%s: destination port", g->name);
		T_EQ_INT(port, g->dport, name);
	}
	for (cut = 0; cut < g->hdrlen; cut++) {
		st = proxyproto_parse(g->data, cut, g->accept, &r);
		if (st != PROXYPROTO_NEED_MORE) {
			printf("# cut at %zu: status %d\n", cut, st);
			prefixes_ok = 0;
		}
	}
	snprintf(name, sizeof(name), "%s: every truncation needs more",
	    g->name);
	T_OK(prefixes_ok, "%s", name);
}

int
main(void)
{
	struct proxyproto_result	 r;
	char				 name[160];
	uint8_t				 big[PROXYPROTO_MAX + 1];
	size_t				 i;

	for (i = 0; i < sizeof(goods) / sizeof(goods[0]); i++)
		check_good(&goods[i]);
	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		snprintf(name, sizeof(name), "bad: %s", bads[i].name);
		T_EQ_INT(proxyproto_parse(bads[i].data, bads[i].len,
		    bads[i].accept, &r), PROXYPROTO_BAD, name);
	}

	/* A v1 line never needs more than 107 octets to be judged. */
	memset(big, 'a', sizeof(big));
	memcpy(big, "PROXY UNKNOWN ", 14);
	T_EQ_INT(proxyproto_parse(big, PROXYPROTO_V1_MAX - 1, ANY, &r),
	    PROXYPROTO_BAD, "v1 without CR by octet 106 is bad");
	T_EQ_INT(proxyproto_parse(big, PROXYPROTO_V1_MAX - 2, ANY, &r),
	    PROXYPROTO_NEED_MORE, "v1 105 octets without CR needs more");

	/* The largest v2 header accepted: a block of TLVs up to the limit. */
	memset(big, 0, sizeof(big));
	memcpy(big, SIG "\x21\x11", 14);
	big[14] = PROXYPROTO_V2_LEN_MAX >> 8;
	big[15] = PROXYPROTO_V2_LEN_MAX & 0xff;
	big[16] = 192;
	big[28] = 0xee;		/* one TLV filling the rest of the block */
	big[29] = (PROXYPROTO_V2_LEN_MAX - 12 - 3) >> 8;
	big[30] = (PROXYPROTO_V2_LEN_MAX - 12 - 3) & 0xff;
	T_EQ_INT(proxyproto_parse(big, PROXYPROTO_MAX - 1, ANY, &r),
	    PROXYPROTO_NEED_MORE, "v2 at the length limit: one short");
	T_EQ_INT(proxyproto_parse(big, PROXYPROTO_MAX, ANY, &r),
	    PROXYPROTO_DONE, "v2 at the length limit: done");
	T_EQ_INT(r.used, PROXYPROTO_MAX, "v2 at the length limit: used");

	T_EQ_INT(proxyproto_parse("", 0, ANY, &r), PROXYPROTO_NEED_MORE,
	    "nothing yet needs more");
	return t_done();
}
