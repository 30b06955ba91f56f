/*
 * proxyproto — PROXY protocol v1 and v2 header parser (HAProxy's
 * "The PROXY protocol", versions 1 and 2), so signetd behind a load
 * balancer sees the real client address for policy (DESIGN.md promise 4).
 *
 * A pure function over the bytes received so far: it says whether more
 * are needed, whether the header is bad (the connection must be closed
 * without a greeting), or how many octets the header used and which
 * addresses it carried.  Nothing is buffered here; the caller keeps the
 * octets and calls again with more.
 */
#ifndef SIGNET_PROXYPROTO_H
#define SIGNET_PROXYPROTO_H

#include <stddef.h>
#include <sys/socket.h>

/* Spec 2.1: the longest v1 line, "PROXY UNKNOWN" with two IPv6 ends. */
#define PROXYPROTO_V1_MAX	107
/* Spec 2.2: signature, version/command, family, length. */
#define PROXYPROTO_V2_HDR	16
/*
 * Spec 2.2 allows 65535 octets after the fixed part; addresses take at
 * most 216 and the TLVs HAProxy sends (ALPN, authority, SSL, unique id)
 * a few hundred more, so anything longer is refused before buffering.
 */
#define PROXYPROTO_V2_LEN_MAX	1024
/* The most octets a caller must be ready to hold before a verdict. */
#define PROXYPROTO_MAX		(PROXYPROTO_V2_HDR + PROXYPROTO_V2_LEN_MAX)

/* Versions a listener accepts (config proxy_protocol: v1 | v2 | any). */
#define PROXYPROTO_ACCEPT_V1	0x1
#define PROXYPROTO_ACCEPT_V2	0x2

enum proxyproto_status {
	PROXYPROTO_NEED_MORE,	/* a valid prefix: read more */
	PROXYPROTO_DONE,	/* a complete header; see the result */
	PROXYPROTO_BAD		/* not a header we accept: close */
};

struct proxyproto_result {
	size_t			 used;		/* header octets to consume */
	int			 version;	/* 1 or 2 */
	/*
	 * 1 when the header carries no addresses we use (v1 UNKNOWN, v2
	 * LOCAL, v2 UNSPEC or UNIX family): keep the connection's own.
	 */
	int			 local;
	struct sockaddr_storage	 src;		/* the client, when !local */
	socklen_t		 srclen;
	struct sockaddr_storage	 dst;		/* the address it reached */
	socklen_t		 dstlen;
};

/*
 * Parse the start of a connection.  accept is a set of
 * PROXYPROTO_ACCEPT_* bits.  On PROXYPROTO_DONE *res is filled; on the
 * other results it is unspecified.
 */
enum proxyproto_status proxyproto_parse(const void *data, size_t len,
		    int accept, struct proxyproto_result *res);

#endif
