/*
 * dnscheck — is the record we published visible, byte for byte, on every
 * authoritative server?  (rotation.md §d "Proving propagation", KY-06,
 * KY-07, KY-08.)
 *
 * Every address of every authoritative server is asked directly, with
 * RD=0 and EDNS0 (4096 octets), over TCP when the UDP answer is
 * truncated or lost.  A server shows the record only if its answer has
 * AA set, holds exactly one TXT record at the name, and that record's
 * strings, joined, equal the expected value octet for octet; optionally
 * the zone's SOA serial must be at least a given one.  A name holding two
 * TXT records is not visible (RFC 6376 3.6.2.2 leaves it undefined).
 *
 * Replies are parsed by libldns after a size check; every count and
 * length is bounded by a named limit below.  The parser is pure: it
 * reads (ptr, len) and reports, and is fuzzed (tests/fuzz/fuzz_keys_txt).
 *
 * The transport (dnscheck_exchange) is shared with publish.c, which reads
 * the primary's current record through it before a compare-and-swap.
 */
#ifndef SIGNET_KEYS_DNSCHECK_H
#define SIGNET_KEYS_DNSCHECK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct buf;
struct keys_key;

/* RFC 6891 6.2.5: the UDP payload size we advertise and accept. */
#define DNSCHECK_UDP_MAX	4096
/* RFC 1035 4.2.2: a TCP message carries a two-octet length. */
#define DNSCHECK_MSG_MAX	65535
/* RFC 1035 3.3.14: a <character-string> holds at most 255 octets. */
#define DNSCHECK_STRING_MAX	255
/* TXT records kept from one answer; more is an error, not a truncation. */
#define DNSCHECK_TXT_MAX	32
/* RFC 1035 3.1: a name in text form, without the final dot. */
#define DNSCHECK_NAME_MAX	253
/* Name servers and addresses followed for one zone. */
#define DNSCHECK_NS_MAX		16
#define DNSCHECK_ADDR_MAX	64
/* Per attempt; a query makes at most two (UDP, then TCP). */
#define DNSCHECK_TIMEOUT_MS	3000
#define DNSCHECK_PORT		53
/* Room for "name [address]:port" and for a one-line detail. */
#define DNSCHECK_SERVER_LEN	(DNSCHECK_NAME_MAX + 72)
#define DNSCHECK_DETAIL_LEN	160
/* A key record: RSA-4096 is about 800 octets (rotation.md §d). */
#define DNSCHECK_RECORD_MAX	4096

/*
 * One DNS exchange with one address: the query goes over UDP first
 * unless tcp_only, and over TCP when the UDP reply is truncated or does
 * not come within timeout_ms.  The reply must carry the query's id and
 * QR=1; anything else on the socket is ignored.  reply receives the
 * message (up to DNSCHECK_MSG_MAX octets).  0 ok, -1 with err set.
 */
int	dnscheck_exchange(const struct sockaddr *, socklen_t,
	    const uint8_t *query, size_t qlen, int tcp_only, int timeout_ms,
	    struct buf *reply, char *err, size_t errlen);

/*
 * "host:port", "[v6]:port", a bare host (default_port), or an IPv6
 * literal without brackets.  host receives the name or literal.
 * 0 ok, -1 malformed.
 */
int	dnscheck_parse_hostport(const char *, char *host, size_t hostlen,
	    uint16_t *port, uint16_t default_port);

/*
 * A host name as we publish and query it (RFC 1035 2.3.1 with RFC 2181
 * 11 allowing '_'): dot-separated labels of 1..63 letters, digits, '-'
 * or '_', at most DNSCHECK_NAME_MAX octets, no final dot.  1 valid.
 */
int	dnscheck_name_valid(const char *);

/* "NOERROR", "REFUSED", ... for a DNS RCODE (RFC 1035 4.1.1, 2136 2.2). */
const char	*dnscheck_rcode_name(int);

/* RFC 1982 serial order: <0, 0 or >0; the undefined case counts as <0. */
int	dnscheck_serial_cmp(uint32_t a, uint32_t b);

/*
 * A parsed reply to a TXT or SOA query.  dnscheck_answer_parse() checks
 * the header and question against qname/qtype and collects, from the
 * answer section, the TXT records owned by qname (each as its joined
 * value and its raw RDATA), whether qname is a CNAME, and the SOA serial
 * of an SOA answer.
 */
enum dnscheck_parse {
	DNSCHECK_PARSE_OK,
	DNSCHECK_PARSE_BAD,		/* malformed, or not our question */
	DNSCHECK_PARSE_TOO_BIG,		/* over a limit above */
};

struct dnscheck_answer;

enum dnscheck_parse dnscheck_answer_parse(const uint8_t *, size_t,
			    const char *qname, uint16_t qtype,
			    struct dnscheck_answer **);
void		 dnscheck_answer_free(struct dnscheck_answer *);
int		 dnscheck_answer_rcode(const struct dnscheck_answer *);
int		 dnscheck_answer_aa(const struct dnscheck_answer *);
int		 dnscheck_answer_tc(const struct dnscheck_answer *);
int		 dnscheck_answer_cname(const struct dnscheck_answer *);
size_t		 dnscheck_answer_ntxt(const struct dnscheck_answer *);
/* Record i's strings joined (the value a DKIM verifier reads). */
const uint8_t	*dnscheck_answer_txt(const struct dnscheck_answer *,
		    size_t i, size_t *len);
/* Record i's TTL as served. */
uint32_t	 dnscheck_answer_ttl(const struct dnscheck_answer *, size_t i);
/* Record i's RDATA: length-prefixed strings, as on the wire. */
const uint8_t	*dnscheck_answer_rdata(const struct dnscheck_answer *,
		    size_t i, size_t *len);
/* 0 and *serial set when the answer holds the zone's SOA; -1 otherwise. */
int		 dnscheck_answer_serial(const struct dnscheck_answer *,
		    uint32_t *serial);

/*
 * Build a query for (qname, qtype) with RD=0 (rd: 1 for a recursive
 * resolver) and EDNS0 DNSCHECK_UDP_MAX; id is random.  0 ok, -1 error.
 */
int	dnscheck_query_build(const char *qname, uint16_t qtype, int rd,
	    struct buf *out);

/* A server as configured: host is an IP literal or a name. */
struct dnscheck_server {
	const char	*host;
	uint16_t	 port;		/* 0: 53 */
};

/* Where to look. */
struct dnscheck_cfg {
	const char			*zone;	/* holds the name */
	/*
	 * Every authoritative server; a host name stands for every one of
	 * its addresses.  NULL (n = 0): the zone's NS set.
	 */
	const struct dnscheck_server	*servers;
	size_t				 nservers;
	/*
	 * For the NS set: the server asked for the NS names and their
	 * addresses (recursion desired).  host NULL: the name servers of
	 * /etc/resolv.conf.
	 */
	struct dnscheck_server		 seed;
	uint16_t			 ns_port;	/* 0: 53 */
	int				 timeout_ms;	/* 0: default */
};

struct dnscheck_want {
	const char	*fqdn;
	const uint8_t	*value;		/* NULL: the name must hold no TXT */
	size_t		 len;
	int		 check_serial;
	uint32_t	 min_serial;	/* when check_serial */
};

enum dnscheck_status {
	DNSCHECK_MATCH,
	DNSCHECK_MISMATCH,	/* something else is there */
	DNSCHECK_MISSING,	/* no TXT at the name */
	DNSCHECK_ERROR,		/* no usable answer */
};

struct dnscheck_report;

/*
 * Ask every server.  NULL only when no server could be determined at all
 * (err says why); a server that cannot be reached is a row with
 * DNSCHECK_ERROR.
 */
struct dnscheck_report	*dnscheck_run(const struct dnscheck_cfg *,
			    const struct dnscheck_want *, char *err,
			    size_t errlen);
/*
 * Is key's published record, its keys_dns_record() value at
 * selector._domainkey.domain, visible on every server of cfg?
 * dnscheck_run() for it; signetctl check and signetd's self-check both
 * ask exactly this.  NULL with err set as dnscheck_run().
 */
struct dnscheck_report	*dnscheck_key(const struct dnscheck_cfg *,
			    const char *domain, const char *selector,
			    const struct keys_key *, char *err,
			    size_t errlen);
void			 dnscheck_report_free(struct dnscheck_report *);
size_t			 dnscheck_report_count(const struct dnscheck_report *);
/* 1 when there is at least one row and every row is DNSCHECK_MATCH. */
int			 dnscheck_report_visible(const struct dnscheck_report *);
enum dnscheck_status	 dnscheck_report_status(const struct dnscheck_report *,
			    size_t i);
/* "ns1.example.com 192.0.2.1:53", or the configured "host:port". */
const char		*dnscheck_report_server(const struct dnscheck_report *,
			    size_t i);
/* Why it is not a match; "" for a match. */
const char		*dnscheck_report_detail(const struct dnscheck_report *,
			    size_t i);
const char		*dnscheck_status_name(enum dnscheck_status);

/*
 * One-server verdict on a parsed TXT answer (and, when want asks for
 * it, the SOA answer); the core of dnscheck_run, exported for tests.
 */
enum dnscheck_status	 dnscheck_judge(const struct dnscheck_answer *txt,
			    const struct dnscheck_answer *soa,
			    const struct dnscheck_want *, char *detail,
			    size_t detaillen);

#endif
