/*
 * Fuzz target for proxy/proxyproto (PROXY protocol v1/v2 headers).
 *
 * Input: byte 0 picks the accepted versions (low two bits) and a cut
 * point; the rest is what a balancer sends before SMTP.  Checked: a
 * verdict is reached within the documented bounds, a header is judged
 * the same whatever arrives after it, a prefix of a complete header needs
 * more, and the addresses returned are well-formed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <netinet/in.h>

#include "proxy/proxyproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_addr(const struct sockaddr_storage *ss, socklen_t len)
{
	if (ss->ss_family == AF_INET && len == sizeof(struct sockaddr_in))
		return;
	if (ss->ss_family == AF_INET6 && len == sizeof(struct sockaddr_in6))
		return;
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxyproto_result	 r, r2;
	enum proxyproto_status		 st, st2;
	const uint8_t			*p;
	size_t				 n, cut;
	int				 accept;

	if (size == 0)
		return 0;
	accept = data[0] & 3;
	p = data + 1;
	n = size - 1;
	st = proxyproto_parse(p, n, accept, &r);
	if (st == PROXYPROTO_NEED_MORE && n >= PROXYPROTO_MAX)
		abort();
	if (st == PROXYPROTO_DONE) {
		if (r.used == 0 || r.used > n)
			abort();
		if (r.version == 1 && (r.used > PROXYPROTO_V1_MAX ||
		    !(accept & PROXYPROTO_ACCEPT_V1)))
			abort();
		if (r.version == 2 && (r.used > PROXYPROTO_MAX ||
		    !(accept & PROXYPROTO_ACCEPT_V2)))
			abort();
		if (r.version != 1 && r.version != 2)
			abort();
		if (!r.local) {
			check_addr(&r.src, r.srclen);
			check_addr(&r.dst, r.dstlen);
			if (r.src.ss_family != r.dst.ss_family)
				abort();
		}
		/* The header alone gives the same answer. */
		st2 = proxyproto_parse(p, r.used, accept, &r2);
		if (st2 != PROXYPROTO_DONE || r2.used != r.used ||
		    r2.local != r.local || r2.version != r.version)
			abort();
	}
	/* A prefix never contradicts the whole. */
	cut = n == 0 ? 0 : (data[0] >> 2) % n;
	st2 = proxyproto_parse(p, cut, accept, &r2);
	switch (st2) {
	case PROXYPROTO_DONE:
		if (st != PROXYPROTO_DONE || r2.used != r.used)
			abort();
		break;
	case PROXYPROTO_BAD:
		if (st != PROXYPROTO_BAD)
			abort();
		break;
	case PROXYPROTO_NEED_MORE:
		if (st == PROXYPROTO_DONE && cut >= r.used)
			abort();
		break;
	}
	return 0;
}
