/*
 * test_keys_dns — keys/publish and keys/dnscheck.
 *
 * With no arguments: table-driven unit checks as TAP (TXT splitting and
 * zone-file text, zone rendering, hook JSON, serial arithmetic, UPDATE
 * reply classes, reply parsing and verdicts, secret files, hook checks,
 * and the exec and zonefile backends against local scripts).
 *
 * With arguments it is the driver the Python tests use against Knot:
 *   test_keys_dns publish OPTIONS   -> "RESULT drift=N REASON", exit
 *                                      0 done, 75 retry, 1 permanent
 *   test_keys_dns check OPTIONS     -> "SERVER<TAB>STATUS<TAB>DETAIL"
 *                                      per address, exit 0 if visible
 *   test_keys_dns render OPTIONS    -> the zone-file line
 *   test_keys_dns store-add KEYSTORE DOMAIN SELECTOR BITS STATE
 *                                   -> a new RSA key in the key store,
 *                                      mapped to SELECTOR, in STATE;
 *                                      prints its id (for signetctl
 *                                      dns and check tests)
 */
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ldns/ldns.h>
#include <openssl/sha.h>

#include "keys/dnscheck.h"
#include "keys/publish.h"
#include "keys/signer.h"
#include "keys/store.h"
#include "proxy/msg/buf.h"
#include "tests/unit/t.h"

#define EXIT_USAGE	2

/* ---- TXT splitting --------------------------------------------------- */

static void
test_txt_split(void)
{
	static const struct {
		size_t	len;
		size_t	nstrings;
		size_t	last;	/* length of the last string */
	} cases[] = {
		{ 0, 1, 0 },
		{ 1, 1, 1 },
		{ 254, 1, 254 },
		{ 255, 1, 255 },
		{ 256, 2, 1 },
		{ 410, 2, 155 },	/* knsupdate's split, rotation.md §d */
		{ 510, 2, 255 },
		{ 511, 3, 1 },
		{ 736, 3, 226 },	/* RSA-4096 p= alone */
		{ 800, 4, 35 },
	};
	uint8_t		 v[1024];
	struct buf	*b, *joined;
	const uint8_t	*d;
	size_t		 i, off, n, k, lastlen;
	int		 ok;

	for (i = 0; i < sizeof(v); i++)
		v[i] = (uint8_t)('A' + i % 26);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		T_EQ_INT(publish_txt_nstrings(cases[i].len),
		    cases[i].nstrings, "nstrings for a value of that length");
		b = buf_new(0);
		joined = buf_new(0);
		T_OK(publish_txt_rdata(b, v, cases[i].len) == 0,
		    "rdata for %zu octets", cases[i].len);
		d = buf_data(b);
		ok = 1;
		lastlen = 0;
		for (off = 0, k = 0; off < buf_len(b); k++) {
			n = d[off];
			if (n > 255 || off + 1 + n > buf_len(b) ||
			    (off + 1 + n < buf_len(b) && n != 255))
				ok = 0;
			buf_append(joined, d + off + 1, n);
			lastlen = n;
			off += 1 + n;
		}
		T_OK(ok && k == cases[i].nstrings &&
		    lastlen == cases[i].last,
		    "%zu octets: %zu strings, full ones of 255, last %zu",
		    cases[i].len, cases[i].nstrings, cases[i].last);
		T_EQ_MEM(buf_data(joined), buf_len(joined), v, cases[i].len,
		    "strings join back to the value");
		buf_free(joined);
		buf_free(b);
	}
}

static void
test_txt_render(void)
{
	static const struct {
		const char	*in;
		size_t		 len;
		const char	*want;
	} cases[] = {
		{ "v=DKIM1; p=", 11, "\"v=DKIM1; p=\"" },
		{ "", 0, "\"\"" },
		{ "a\"b\\c", 5, "\"a\\\"b\\\\c\"" },
		{ "\x01\x7f\xff", 3, "\"\\001\\127\\255\"" },
		{ "tab\there", 8, "\"tab\\009here\"" },
	};
	struct buf	*b, *want;
	char		 big[300];
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		b = buf_new(0);
		T_OK(publish_txt_render(b, (const uint8_t *)cases[i].in,
		    cases[i].len) == 0, "render case %zu", i);
		T_EQ_MEM(buf_data(b), buf_len(b), cases[i].want,
		    strlen(cases[i].want), cases[i].want);
		buf_free(b);
	}
	/* 300 octets: one quoted string of 255, a space, one of 45. */
	memset(big, 'x', sizeof(big));
	b = buf_new(0);
	want = buf_new(0);
	buf_append_byte(want, '"');
	buf_append(want, big, 255);
	buf_append_str(want, "\" \"");
	buf_append(want, big, 45);
	buf_append_byte(want, '"');
	T_OK(publish_txt_render(b, (const uint8_t *)big, sizeof(big)) == 0,
	    "render 300 octets");
	T_EQ_MEM(buf_data(b), buf_len(b), buf_data(want), buf_len(want),
	    "300 octets become two quoted strings");
	buf_free(want);
	buf_free(b);
}

static void
test_rr_render(void)
{
	static const struct {
		const char	*name;
		uint32_t	 ttl;
		const char	*value;
		const char	*want;	/* NULL: refused */
	} cases[] = {
		{ "s1._domainkey.example.com", 300, "v=DKIM1; p=",
		  "s1._domainkey.example.com. 300 IN TXT \"v=DKIM1; p=\"\n" },
		{ "S2._DomainKey.Example.COM", 3600, "k=ed25519",
		  "S2._DomainKey.Example.COM. 3600 IN TXT \"k=ed25519\"\n" },
		{ "bad name", 300, "x", NULL },
		{ "a..b", 300, "x", NULL },
		{ "trailing.dot.", 300, "x", NULL },
		{ "", 300, "x", NULL },
		{ "x.example.com", PUBLISH_TTL_MAX + 1, "x", NULL },
		{ "semi;colon.example", 300, "x", NULL },
	};
	struct buf	*b;
	size_t		 i;
	int		 r;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		b = buf_new(0);
		r = publish_rr_render(b, cases[i].name, cases[i].ttl,
		    (const uint8_t *)cases[i].value, strlen(cases[i].value));
		if (cases[i].want == NULL)
			T_OK(r == -1, "refused: \"%s\" ttl %u", cases[i].name,
			    cases[i].ttl);
		else
			T_EQ_MEM(buf_data(b), buf_len(b), cases[i].want,
			    strlen(cases[i].want), cases[i].want);
		buf_free(b);
	}
	/* A label of 63 octets is fine, 64 is not (RFC 1035 2.3.4). */
	{
		char	name[80];

		memset(name, 'a', 64);
		memcpy(name + 64, ".example", 9);
		T_OK(!dnscheck_name_valid(name), "64-octet label refused");
		T_OK(dnscheck_name_valid(name + 1), "63-octet label taken");
	}
}

static void
test_zone_render(void)
{
	static const char tmpl[] =
	    "$TTL 300\n"
	    "@ SOA ns1 hostmaster @SERIAL@ 3600 600 86400 300\n"
	    "@ NS ns1\n";
	static const char want_zone[] =
	    "$TTL 300\n"
	    "@ SOA ns1 hostmaster 2024010102 3600 600 86400 300\n"
	    "@ NS ns1\n"
	    "a._domainkey.example.test. 60 IN TXT \"first\"\n"
	    "s2._domainkey.example.test. 300 IN TXT \"second\"\n";
	static const char want_frag[] =
	    "a._domainkey.example.test. 60 IN TXT \"first\"\n"
	    "s2._domainkey.example.test. 300 IN TXT \"second\"\n";
	struct publish_rec	recs[3];
	struct buf		*b;

	memset(recs, 0, sizeof(recs));
	recs[0].fqdn = "s2._domainkey.example.test";
	recs[0].ttl = 300;
	recs[0].value = (const uint8_t *)"second";
	recs[0].len = 6;
	recs[1].fqdn = "gone._domainkey.example.test";	/* absent */
	recs[1].ttl = 300;
	recs[2].fqdn = "a._domainkey.example.test";
	recs[2].ttl = 60;
	recs[2].value = (const uint8_t *)"first";
	recs[2].len = 5;

	b = buf_new(0);
	T_OK(publish_zone_render(b, tmpl, strlen(tmpl), 2024010102, recs,
	    3) == 0, "zone renders");
	T_EQ_MEM(buf_data(b), buf_len(b), want_zone, strlen(want_zone),
	    "template + serial + sorted records, absent ones left out");
	buf_reset(b);
	T_OK(publish_zone_render(b, NULL, 0, 7, recs, 3) == 0,
	    "fragment renders");
	T_EQ_MEM(buf_data(b), buf_len(b), want_frag, strlen(want_frag),
	    "fragment: records only");
	buf_reset(b);
	T_OK(publish_zone_render(b, "no token\n", 9, 1, recs, 3) == -1,
	    "template without the serial token refused");
	T_OK(publish_zone_render(b, "@SERIAL@ @SERIAL@\n", 18, 1, recs,
	    3) == -1, "template with two serial tokens refused");
	buf_free(b);
}

/* ---- hook JSON and the desired-state id ------------------------------ */

static void
hex_sha256_prefix(const void *p, size_t n, char out[PUBLISH_STATE_ID_LEN + 1])
{
	unsigned char	md[SHA256_DIGEST_LENGTH];
	size_t		i;

	SHA256(p, n, md);
	for (i = 0; i < PUBLISH_STATE_ID_LEN / 2; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void
test_hook_json(void)
{
	struct publish_rec	 rec;
	struct buf		*b, *want;
	char			 id[PUBLISH_STATE_ID_LEN + 1];
	char			 id2[PUBLISH_STATE_ID_LEN + 1];
	char			 expect[PUBLISH_STATE_ID_LEN + 1];
	char			 value[300];
	static const char	 pre[] = "s1._domainkey.example.test\n300\nv";

	memset(&rec, 0, sizeof(rec));
	rec.fqdn = "s1._domainkey.example.test";
	rec.ttl = 300;
	rec.value = (const uint8_t *)"v=DKIM1; p=\"q\"";
	rec.len = strlen((const char *)rec.value);
	b = buf_new(0);
	want = buf_new(0);

	T_OK(publish_state_id(&rec, id) == 0, "state id computed");
	buf_append_str(want, pre);
	buf_append(want, rec.value, rec.len);
	hex_sha256_prefix(buf_data(want), buf_len(want), expect);
	T_EQ_STR(id, expect, "state id: SHA-256 of name, TTL and value");
	buf_reset(want);
	buf_printf(want, "{\"action\":\"publish\",\"zone\":\"example.test\","
	    "\"fqdn\":\"s1._domainkey.example.test\",\"ttl\":300,"
	    "\"records\":[\"v=DKIM1; p=\\\"q\\\"\"],\"state\":\"%s\"}\n",
	    expect);
	T_OK(publish_hook_json(b, "publish", "example.test", &rec) == 0,
	    "publish JSON");
	T_EQ_MEM(buf_data(b), buf_len(b), buf_data(want), buf_len(want),
	    "publish JSON text");

	/* 300 octets: two record strings. */
	memset(value, 'k', sizeof(value));
	rec.value = (const uint8_t *)value;
	rec.len = sizeof(value);
	buf_reset(b);
	T_OK(publish_hook_json(b, "publish", "example.test", &rec) == 0,
	    "long JSON");
	T_OK(memmem(buf_data(b), buf_len(b), "\",\"", 3) != NULL &&
	    buf_len(b) > 300, "long value: two strings in records");

	rec.value = NULL;
	rec.len = 0;
	buf_reset(b);
	buf_reset(want);
	T_OK(publish_state_id(&rec, id2) == 0 && strcmp(id, id2) != 0,
	    "withdraw has another state id");
	buf_printf(want, "{\"action\":\"withdraw\",\"zone\":\"example.test\","
	    "\"fqdn\":\"s1._domainkey.example.test\",\"ttl\":300,"
	    "\"records\":[],\"state\":\"%s\"}\n", id2);
	T_OK(publish_hook_json(b, "withdraw", "example.test", &rec) == 0,
	    "withdraw JSON");
	T_EQ_MEM(buf_data(b), buf_len(b), buf_data(want), buf_len(want),
	    "withdraw JSON text: no records");

	rec.value = (const uint8_t *)"ctl\001";
	rec.len = 4;
	buf_reset(b);
	T_OK(publish_hook_json(b, "publish", "example.test", &rec) == 0 &&
	    memmem(buf_data(b), buf_len(b), "ctl\\u0001", 9) != NULL,
	    "control octets escaped as \\u00XX");
	rec.value = (const uint8_t *)"\xc3\xa9";
	rec.len = 2;
	T_OK(publish_hook_json(b, "publish", "example.test", &rec) == -1,
	    "non-ASCII value refused for hooks");
	buf_free(want);
	buf_free(b);
}

/* ---- serials ----------------------------------------------------------- */

static void
test_serials(void)
{
	static const struct {
		uint32_t	a, b;
		int		sign;
	} cmp[] = {
		{ 1, 1, 0 },
		{ 2, 1, 1 },
		{ 1, 2, -1 },
		{ 0, 0xffffffffu, 1 },		/* wraps: 0 follows 2^32-1 */
		{ 0xffffffffu, 0, -1 },
		{ 0x7fffffffu, 0, 1 },
		{ 0x80000000u, 0, -1 },		/* RFC 1982: undefined */
		{ 0, 0x80000000u, -1 },
	};
	static const struct {
		uint32_t	prev;
		uint64_t	now;
		uint32_t	want;
	} next[] = {
		{ 0, 1700000000, 1700000000 },
		{ 1700000000, 1700000000, 1700000001 },
		{ 1700000005, 1700000000, 1700000006 },
		{ 2024010101, 1700000000, 2024010102 },	/* date serial */
		{ 0xffffffffu, 5, 5 },
		{ 0xffffffffu, 0xffffffffu, 0 },
	};
	size_t	i;
	int	s;

	for (i = 0; i < sizeof(cmp) / sizeof(cmp[0]); i++) {
		s = dnscheck_serial_cmp(cmp[i].a, cmp[i].b);
		T_EQ_INT(s > 0 ? 1 : s < 0 ? -1 : 0, cmp[i].sign,
		    "RFC 1982 order");
	}
	for (i = 0; i < sizeof(next) / sizeof(next[0]); i++) {
		T_EQ_INT(publish_serial_next(next[i].prev, next[i].now),
		    next[i].want, "next serial");
		T_OK(dnscheck_serial_cmp(publish_serial_next(next[i].prev,
		    next[i].now), next[i].prev) > 0,
		    "next serial is after %u", next[i].prev);
	}
}

/* ---- UPDATE reply classes -------------------------------------------- */

static void
test_classify(void)
{
	static const struct {
		int			rcode, tsig;
		enum publish_reply	want;
	} cases[] = {
		{ LDNS_RCODE_NOERROR, 0, PUBLISH_REPLY_DONE },
		{ LDNS_RCODE_YXRRSET, 0, PUBLISH_REPLY_RECONCILE },
		{ LDNS_RCODE_NXRRSET, 0, PUBLISH_REPLY_RECONCILE },
		{ LDNS_RCODE_SERVFAIL, 0, PUBLISH_REPLY_RETRY },
		{ LDNS_RCODE_REFUSED, 0, PUBLISH_REPLY_PERMANENT },
		{ LDNS_RCODE_NOTAUTH, 0, PUBLISH_REPLY_PERMANENT },
		{ LDNS_RCODE_NOTZONE, 0, PUBLISH_REPLY_PERMANENT },
		{ LDNS_RCODE_FORMERR, 0, PUBLISH_REPLY_PERMANENT },
		{ LDNS_RCODE_NOTIMPL, 0, PUBLISH_REPLY_PERMANENT },
		{ LDNS_RCODE_NOTAUTH, 16, PUBLISH_REPLY_PERMANENT },	/* BADSIG */
		{ LDNS_RCODE_NOTAUTH, 17, PUBLISH_REPLY_PERMANENT },	/* BADKEY */
		{ LDNS_RCODE_NOTAUTH, 18, PUBLISH_REPLY_RETRY },	/* BADTIME */
		{ LDNS_RCODE_NOERROR, 18, PUBLISH_REPLY_RETRY },
		{ LDNS_RCODE_NOTAUTH, 22, PUBLISH_REPLY_PERMANENT },	/* BADTRUNC */
	};
	char	reason[PUBLISH_REASON_LEN];
	size_t	i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		reason[0] = '\0';
		T_EQ_INT(publish_classify(cases[i].rcode, cases[i].tsig,
		    reason, sizeof(reason)), cases[i].want, "reply class");
		T_OK(reason[0] != '\0', "with a reason: %s", reason);
	}
}

/* ---- host:port and names --------------------------------------------- */

static void
test_hostport(void)
{
	static const struct {
		const char	*in;
		const char	*host;	/* NULL: refused */
		uint16_t	 port;
	} cases[] = {
		{ "127.0.0.1:5353", "127.0.0.1", 5353 },
		{ "127.0.0.1", "127.0.0.1", 53 },
		{ "[::1]:5300", "::1", 5300 },
		{ "[::1]", "::1", 53 },
		{ "::1", "::1", 53 },
		{ "ns1.example.com:54", "ns1.example.com", 54 },
		{ "host:0", NULL, 0 },
		{ "host:65536", NULL, 0 },
		{ "host:", NULL, 0 },
		{ "host:5x", NULL, 0 },
		{ ":53", NULL, 0 },
		{ "[::1", NULL, 0 },
		{ "[::1]x", NULL, 0 },
	};
	char		host[DNSCHECK_NAME_MAX + 1];
	uint16_t	port;
	size_t		i;
	int		r;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = dnscheck_parse_hostport(cases[i].in, host, sizeof(host),
		    &port, 53);
		if (cases[i].host == NULL) {
			T_OK(r == -1, "refused: %s", cases[i].in);
			continue;
		}
		T_OK(r == 0 && strcmp(host, cases[i].host) == 0 &&
		    port == cases[i].port, "%s -> %s port %u", cases[i].in,
		    cases[i].host, cases[i].port);
	}
}

/* ---- reply parsing and verdicts -------------------------------------- */

#define QNAME	"s1._domainkey.example.test"

/* A reply built with libldns from presentation-format records. */
static struct buf *
reply(const char *qname, ldns_rr_type qtype, int aa, int tc, int rcode,
    const char *const *answers)
{
	ldns_pkt	*pkt;
	ldns_rr		*rr;
	uint8_t		*wire = NULL;
	size_t		 wlen, i;
	struct buf	*b;

	pkt = ldns_pkt_query_new(ldns_dname_new_frm_str(qname), qtype,
	    LDNS_RR_CLASS_IN, 0);
	ldns_pkt_set_qr(pkt, 1);
	ldns_pkt_set_aa(pkt, aa);
	ldns_pkt_set_tc(pkt, tc);
	ldns_pkt_set_rcode(pkt, (uint8_t)rcode);
	for (i = 0; answers != NULL && answers[i] != NULL; i++) {
		if (ldns_rr_new_frm_str(&rr, answers[i], 300, NULL, NULL) !=
		    LDNS_STATUS_OK) {
			printf("Bail out! bad test record %s\n", answers[i]);
			exit(1);
		}
		ldns_pkt_push_rr(pkt, LDNS_SECTION_ANSWER, rr);
	}
	ldns_pkt2wire(&wire, pkt, &wlen);
	b = buf_new(0);
	buf_append(b, wire, wlen);
	free(wire);
	ldns_pkt_free(pkt);
	return b;
}

static void
test_parse(void)
{
	static const char *const one_split[] = {
		QNAME ". 300 IN TXT \"v=DKIM1; \" \"p=abc\"", NULL };
	static const char *const two[] = {
		QNAME ". 300 IN TXT \"v=DKIM1; p=abc\"",
		QNAME ". 300 IN TXT \"v=DKIM1; p=old\"", NULL };
	static const char *const other_owner[] = {
		"other.example.test. 300 IN TXT \"x\"", NULL };
	static const char *const cname[] = {
		QNAME ". 300 IN CNAME s1.keys.example.net.", NULL };
	static const char *const soa[] = {
		"example.test. 300 IN SOA ns1.example.test. h.example.test. "
		"2024010105 3600 600 86400 300", NULL };
	static const char *const ns[] = {
		"example.test. 300 IN NS ns1.example.test.",
		"example.test. 300 IN NS ns2.example.test.", NULL };
	struct dnscheck_answer	*a;
	struct buf		*b;
	const uint8_t		*v;
	size_t			 len;
	uint32_t		 serial;
	char			*many[DNSCHECK_TXT_MAX + 2];
	size_t			 i;
	enum dnscheck_parse	 pr;

	b = reply(QNAME, LDNS_RR_TYPE_TXT, 1, 0, 0, one_split);
	pr = dnscheck_answer_parse(buf_data(b), buf_len(b), QNAME,
	    LDNS_RR_TYPE_TXT, &a);
	T_EQ_INT(pr, DNSCHECK_PARSE_OK, "split TXT parses");
	v = dnscheck_answer_txt(a, 0, &len);
	T_OK(dnscheck_answer_ntxt(a) == 1 && dnscheck_answer_aa(a),
	    "one record, AA");
	T_EQ_MEM(v, len, "v=DKIM1; p=abc", 14, "strings joined");
	v = dnscheck_answer_rdata(a, 0, &len);
	T_EQ_MEM(v, len, "\x09v=DKIM1; \x05p=abc", 16,
	    "raw RDATA keeps the split");
	T_EQ_INT(dnscheck_answer_ttl(a, 0), 300, "TTL kept");
	dnscheck_answer_free(a);
	buf_free(b);

	b = reply("S1._DOMAINKEY.example.TEST", LDNS_RR_TYPE_TXT, 1, 0, 0,
	    two);
	pr = dnscheck_answer_parse(buf_data(b), buf_len(b), QNAME,
	    LDNS_RR_TYPE_TXT, &a);
	T_EQ_INT(pr, DNSCHECK_PARSE_OK,
	    "question matched without regard to case");
	T_EQ_INT(dnscheck_answer_ntxt(a), 2, "two TXT records seen");
	dnscheck_answer_free(a);
	buf_free(b);

	b = reply(QNAME, LDNS_RR_TYPE_TXT, 1, 0, 0, other_owner);
	T_OK(dnscheck_answer_parse(buf_data(b), buf_len(b), QNAME,
	    LDNS_RR_TYPE_TXT, &a) == DNSCHECK_PARSE_OK &&
	    dnscheck_answer_ntxt(a) == 0, "records of other names ignored");
	dnscheck_answer_free(a);
	buf_free(b);

	b = reply(QNAME, LDNS_RR_TYPE_TXT, 1, 0, 0, cname);
	T_OK(dnscheck_answer_parse(buf_data(b), buf_len(b), QNAME,
	    LDNS_RR_TYPE_TXT, &a) == DNSCHECK_PARSE_OK &&
	    dnscheck_answer_cname(a), "CNAME noticed");
	dnscheck_answer_free(a);
	buf_free(b);

	b = reply("example.test", LDNS_RR_TYPE_SOA, 1, 0, 0, soa);
	T_OK(dnscheck_answer_parse(buf_data(b), buf_len(b), "example.test",
	    LDNS_RR_TYPE_SOA, &a) == DNSCHECK_PARSE_OK &&
	    dnscheck_answer_serial(a, &serial) == 0 && serial == 2024010105,
	    "SOA serial read");
	dnscheck_answer_free(a);
	buf_free(b);

	b = reply("example.test", LDNS_RR_TYPE_NS, 1, 0, 0, ns);
	pr = dnscheck_answer_parse(buf_data(b), buf_len(b),
	    "example.test", LDNS_RR_TYPE_NS, &a);
	T_EQ_INT(pr, DNSCHECK_PARSE_OK,
	    "NS answer parses");
	dnscheck_answer_free(a);
	buf_free(b);

	b = reply("other.example.test", LDNS_RR_TYPE_TXT, 1, 0, 0, NULL);
	pr = dnscheck_answer_parse(buf_data(b), buf_len(b), QNAME,
	    LDNS_RR_TYPE_TXT, &a);
	T_EQ_INT(pr, DNSCHECK_PARSE_BAD,
	    "a reply to another question is refused");
	buf_free(b);

	b = reply(QNAME, LDNS_RR_TYPE_TXT, 1, 0, 0, one_split);
	pr = dnscheck_answer_parse(buf_data(b), buf_len(b) - 3, QNAME,
	    LDNS_RR_TYPE_TXT, &a);
	T_EQ_INT(pr, DNSCHECK_PARSE_BAD,
	    "a cut reply is refused");
	pr = dnscheck_answer_parse(buf_data(b), 5, QNAME,
	    LDNS_RR_TYPE_TXT, &a);
	T_EQ_INT(pr, DNSCHECK_PARSE_BAD,
	    "a reply shorter than a header is refused");
	buf_free(b);

	for (i = 0; i < DNSCHECK_TXT_MAX + 1; i++) {
		many[i] = malloc(128);
		snprintf(many[i], 128, "%s. 300 IN TXT \"r%zu\"", QNAME, i);
	}
	many[i] = NULL;
	b = reply(QNAME, LDNS_RR_TYPE_TXT, 1, 0, 0,
	    (const char *const *)many);
	pr = dnscheck_answer_parse(buf_data(b), buf_len(b), QNAME,
	    LDNS_RR_TYPE_TXT, &a);
	T_EQ_INT(pr, DNSCHECK_PARSE_TOO_BIG,
	    "more TXT records than DNSCHECK_TXT_MAX: over the limit");
	buf_free(b);
	for (i = 0; i < DNSCHECK_TXT_MAX + 1; i++)
		free(many[i]);
}

static void
test_judge(void)
{
	static const char *const good[] = {
		QNAME ". 300 IN TXT \"v=DKIM1; \" \"p=abc\"", NULL };
	static const char *const cut[] = {
		QNAME ". 300 IN TXT \"v=DKIM1; \" \"p=ab\"", NULL };
	static const char *const two[] = {
		QNAME ". 300 IN TXT \"v=DKIM1; p=abc\"",
		QNAME ". 300 IN TXT \"v=DKIM1; p=old\"", NULL };
	static const char *const cname[] = {
		QNAME ". 300 IN CNAME s1.keys.example.net.", NULL };
	static const char *const soa_new[] = {
		"example.test. 300 IN SOA ns1.example.test. h.example.test. "
		"10 3600 600 86400 300", NULL };
	static const char *const soa_old[] = {
		"example.test. 300 IN SOA ns1.example.test. h.example.test. "
		"9 3600 600 86400 300", NULL };
	static const struct {
		const char		*name;
		const char *const	*answers;
		int			 aa, tc, rcode;
		const char		*want;	/* NULL: absent */
		int			 check_serial;
		const char *const	*soa;
		enum dnscheck_status	 status;
	} cases[] = {
		{ "exact match", good, 1, 0, 0, "v=DKIM1; p=abc", 0, NULL,
		  DNSCHECK_MATCH },
		{ "truncated record", cut, 1, 0, 0, "v=DKIM1; p=abc", 0, NULL,
		  DNSCHECK_MISMATCH },
		{ "two TXT records", two, 1, 0, 0, "v=DKIM1; p=abc", 0, NULL,
		  DNSCHECK_MISMATCH },
		{ "no record", NULL, 1, 0, 0, "v=DKIM1; p=abc", 0, NULL,
		  DNSCHECK_MISSING },
		{ "NXDOMAIN", NULL, 1, 0, 3, "v=DKIM1; p=abc", 0, NULL,
		  DNSCHECK_MISSING },
		{ "not authoritative", good, 0, 0, 0, "v=DKIM1; p=abc", 0,
		  NULL, DNSCHECK_ERROR },
		{ "truncated reply", good, 1, 1, 0, "v=DKIM1; p=abc", 0, NULL,
		  DNSCHECK_ERROR },
		{ "REFUSED", NULL, 0, 0, 5, "v=DKIM1; p=abc", 0, NULL,
		  DNSCHECK_ERROR },
		{ "CNAME", cname, 1, 0, 0, "v=DKIM1; p=abc", 0, NULL,
		  DNSCHECK_MISMATCH },
		{ "absent wanted, none there", NULL, 1, 0, 0, NULL, 0, NULL,
		  DNSCHECK_MATCH },
		{ "absent wanted, record there", good, 1, 0, 0, NULL, 0, NULL,
		  DNSCHECK_MISMATCH },
		{ "serial at least ours", good, 1, 0, 0, "v=DKIM1; p=abc", 1,
		  soa_new, DNSCHECK_MATCH },
		{ "serial below ours", good, 1, 0, 0, "v=DKIM1; p=abc", 1,
		  soa_old, DNSCHECK_MISMATCH },
		{ "serial wanted, no SOA", good, 1, 0, 0, "v=DKIM1; p=abc", 1,
		  NULL, DNSCHECK_ERROR },
	};
	struct dnscheck_answer	*txt, *soa;
	struct dnscheck_want	 want;
	struct buf		*b;
	char			 detail[DNSCHECK_DETAIL_LEN];
	size_t			 i;
	enum dnscheck_status	 st;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		b = reply(QNAME, LDNS_RR_TYPE_TXT, cases[i].aa, cases[i].tc,
		    cases[i].rcode, cases[i].answers);
		txt = soa = NULL;
		dnscheck_answer_parse(buf_data(b), buf_len(b), QNAME,
		    LDNS_RR_TYPE_TXT, &txt);
		buf_free(b);
		if (cases[i].soa != NULL) {
			b = reply("example.test", LDNS_RR_TYPE_SOA, 1, 0, 0,
			    cases[i].soa);
			dnscheck_answer_parse(buf_data(b), buf_len(b),
			    "example.test", LDNS_RR_TYPE_SOA, &soa);
			buf_free(b);
		}
		memset(&want, 0, sizeof(want));
		want.fqdn = QNAME;
		want.value = (const uint8_t *)cases[i].want;
		want.len = cases[i].want != NULL ? strlen(cases[i].want) : 0;
		want.check_serial = cases[i].check_serial;
		want.min_serial = 10;
		st = txt == NULL ? DNSCHECK_ERROR : dnscheck_judge(txt, soa,
		    &want, detail, sizeof(detail));
		T_OK(st == cases[i].status, "%s: %s (%s)", cases[i].name,
		    dnscheck_status_name(st), txt != NULL ? detail : "");
		dnscheck_answer_free(soa);
		dnscheck_answer_free(txt);
	}
}

/* ---- configuration: secrets and hooks ---------------------------------- */

static char	tmpdir[] = "/tmp/signet-test-dns-XXXXXX";

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE	*f;

	unlink(path);
	if ((f = fopen(path, "w")) == NULL) {
		printf("Bail out! cannot write %s\n", path);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

static void
test_secrets(void)
{
	static const struct {
		const char	*text;
		mode_t		 mode;
		int		 ok;
	} cases[] = {
		{ "c2lnbmV0LXRlc3Qtc2VjcmV0LTMyLW9jdGV0cyEhIQ==\n", 0600, 1 },
		{ "key:\n  - id: signet\n    algorithm: hmac-sha256\n"
		  "    secret: c2lnbmV0LXRlc3Qtc2VjcmV0\n", 0600, 1 },
		{ "key \"signet\" {\n\talgorithm hmac-sha256;\n"
		  "\tsecret \"c2lnbmV0LXRlc3Qtc2VjcmV0\";\n};\n", 0640, 1 },
		{ "c2lnbmV0LXRlc3Qtc2VjcmV0\n", 0644, 0 },	/* world */
		{ "not base64 at all!\n", 0600, 0 },
		{ "", 0600, 0 },
		{ "c2lnbmV0 trailing words\n", 0600, 0 },
		{ "key:\n  - id: secretive\n    algorithm: hmac-sha512\n"
		  "    secret: c2lnbmV0LXRlc3Qtc2VjcmV0\n", 0600, 1 },
	};
	struct publish_cfg	 cfg;
	struct publish		*p;
	char			 path[256], err[256];
	size_t			 i;

	snprintf(path, sizeof(path), "%s/tsig.key", tmpdir);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_file(path, cases[i].text, cases[i].mode);
		memset(&cfg, 0, sizeof(cfg));
		cfg.backend = PUBLISH_RFC2136;
		cfg.zone = "example.test";
		cfg.server_host = "127.0.0.1";
		cfg.server_port = 53;
		cfg.tsig_name = "signet";
		cfg.tsig_secret_file = path;
		err[0] = '\0';
		p = publish_new(&cfg, err, sizeof(err));
		T_OK((p != NULL) == cases[i].ok, "secret file case %zu: %s",
		    i, p != NULL ? "accepted" : err);
		T_OK(strstr(err, "c2lnbmV0") == NULL,
		    "no secret in the message");
		publish_free(p);
	}
	unlink(path);
}

static void
test_hook_checks(void)
{
	struct publish_cfg	 cfg;
	struct publish		*p;
	char			 path[256], err[256];
	static const struct {
		const char	*path;	/* NULL: the temp hook */
		mode_t		 mode;
		int		 ok;
	} cases[] = {
		{ NULL, 0755, 1 },
		{ NULL, 0775, 0 },	/* group writable */
		{ NULL, 0757, 0 },	/* world writable */
		{ NULL, 0644, 0 },	/* not executable */
		{ "relative/hook", 0755, 0 },
		{ "/nonexistent/hook", 0755, 0 },
	};
	size_t	i;

	if (geteuid() != 0) {
		printf("ok %d - hook checks # SKIP needs root\n", ++t_count);
		return;
	}
	snprintf(path, sizeof(path), "%s/hook", tmpdir);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_file(path, "#!/bin/sh\nexit 0\n", cases[i].mode);
		memset(&cfg, 0, sizeof(cfg));
		cfg.backend = PUBLISH_EXEC;
		cfg.zone = "example.test";
		cfg.hook = cases[i].path != NULL ? cases[i].path : path;
		p = publish_new(&cfg, err, sizeof(err));
		T_OK((p != NULL) == cases[i].ok, "hook case %zu: %s", i,
		    p != NULL ? "accepted" : err);
		publish_free(p);
	}
	/* A directory others can write to makes the hook replaceable. */
	chmod(tmpdir, 0777);
	write_file(path, "#!/bin/sh\nexit 0\n", 0755);
	cfg.hook = path;
	p = publish_new(&cfg, err, sizeof(err));
	T_OK(p == NULL, "hook in a world-writable directory refused");
	publish_free(p);
	chmod(tmpdir, 0700);
	unlink(path);
}

/* ---- exec backend with local scripts ---------------------------------- */

static void
test_exec_backend(void)
{
	static const struct {
		const char		*script;
		int			 timeout_ms;
		enum publish_result	 want;
	} cases[] = {
		{ "cat > \"$0.in\"; echo \"$1\" > \"$0.arg\"; exit 0", 0,
		  PUBLISH_DONE },
		{ "cat >/dev/null; echo 'provider busy' >&2; exit 75", 0,
		  PUBLISH_RETRY },
		{ "echo 'bad credentials'; exit 3", 0, PUBLISH_PERMANENT },
		{ "exec sleep 5", 300, PUBLISH_RETRY },
	};
	struct publish_cfg	 cfg;
	struct publish_outcome	 out;
	struct publish_rec	 rec;
	struct publish		*p;
	struct buf		*want;
	char			 path[256], in[300], script[512], err[256];
	char			*got;
	size_t			 i, glen;
	enum publish_result	 r;

	if (geteuid() != 0) {
		printf("ok %d - exec backend # SKIP needs root\n", ++t_count);
		return;
	}
	snprintf(path, sizeof(path), "%s/hook", tmpdir);
	snprintf(in, sizeof(in), "%s/hook.in", tmpdir);
	memset(&rec, 0, sizeof(rec));
	rec.fqdn = "s1._domainkey.example.test";
	rec.ttl = 300;
	rec.value = (const uint8_t *)"v=DKIM1; p=abc";
	rec.len = 14;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(script, sizeof(script), "#!/bin/sh\n%s\n",
		    cases[i].script);
		write_file(path, script, 0755);
		memset(&cfg, 0, sizeof(cfg));
		cfg.backend = PUBLISH_EXEC;
		cfg.zone = "example.test";
		cfg.hook = path;
		cfg.exec_timeout_ms = cases[i].timeout_ms;
		if ((p = publish_new(&cfg, err, sizeof(err))) == NULL) {
			T_OK(0, "hook accepted: %s", err);
			continue;
		}
		r = publish_set(p, &rec, &out);
		T_OK(r == cases[i].want, "hook case %zu: %s: %s", i,
		    publish_result_name(r), out.reason);
		publish_free(p);
	}
	/* What the first hook read on stdin. */
	got = t_read_file(in, &glen);
	want = buf_new(0);
	buf_append_str(want, "{\"action\":\"publish\",\"zone\":"
	    "\"example.test\",\"fqdn\":\"s1._domainkey.example.test\","
	    "\"ttl\":300,\"records\":[\"v=DKIM1; p=abc\"],\"state\":\"");
	T_OK(glen > buf_len(want) &&
	    memcmp(got, buf_data(want), buf_len(want)) == 0,
	    "the hook read the JSON on stdin");
	free(got);
	snprintf(in, sizeof(in), "%s/hook.arg", tmpdir);
	got = t_read_file(in, &glen);
	T_EQ_MEM(got, glen, "publish\n", 8, "the hook got the action");
	free(got);
	buf_free(want);
	snprintf(in, sizeof(in), "%s/hook.in", tmpdir);
	unlink(in);
	snprintf(in, sizeof(in), "%s/hook.arg", tmpdir);
	unlink(in);
	unlink(path);
}

/* ---- zonefile backend with local commands ----------------------------- */

static uint32_t
state_serial(const char *zonefile)
{
	char		 path[300], *text, *s;
	size_t		 len;
	uint32_t	 serial = 0;

	snprintf(path, sizeof(path), "%s.state", zonefile);
	text = t_read_file(path, &len);
	if ((s = strstr(text, "\nserial ")) != NULL)
		serial = (uint32_t)strtoul(s + 8, NULL, 10);
	free(text);
	return serial;
}

static void
test_zonefile_backend(void)
{
	static const char tmpl_text[] =
	    "$ORIGIN example.test.\n$TTL 300\n"
	    "@ SOA ns1 hostmaster @SERIAL@ 3600 600 86400 300\n@ NS ns1\n";
	struct publish_cfg	 cfg;
	struct publish_outcome	 out;
	struct publish_rec	 rec;
	struct publish		*p;
	char			 zone[256], tmpl[256], err[256], want[512];
	char			*text;
	size_t			 len;
	uint32_t		 s1, s2, s3;

	snprintf(zone, sizeof(zone), "%s/example.test.zone", tmpdir);
	snprintf(tmpl, sizeof(tmpl), "%s/example.test.in", tmpdir);
	write_file(tmpl, tmpl_text, 0644);
	memset(&cfg, 0, sizeof(cfg));
	cfg.backend = PUBLISH_ZONEFILE;
	cfg.zone = "example.test";
	cfg.zonefile = zone;
	cfg.zonefile_template = tmpl;
	cfg.reload_command = "true";
	if ((p = publish_new(&cfg, err, sizeof(err))) == NULL) {
		T_OK(0, "zonefile backend: %s", err);
		return;
	}
	memset(&rec, 0, sizeof(rec));
	rec.fqdn = "s1._domainkey.example.test";
	rec.ttl = 300;
	rec.value = (const uint8_t *)"v=DKIM1; p=one";
	rec.len = 14;
	rec.prev = PUBLISH_PREV_ABSENT;
	T_OK(publish_set(p, &rec, &out) == PUBLISH_DONE && !out.drift,
	    "zonefile publish: %s", out.reason);
	s1 = state_serial(zone);
	text = t_read_file(zone, &len);
	snprintf(want, sizeof(want), "$ORIGIN example.test.\n$TTL 300\n"
	    "@ SOA ns1 hostmaster %u 3600 600 86400 300\n@ NS ns1\n"
	    "s1._domainkey.example.test. 300 IN TXT \"v=DKIM1; p=one\"\n", s1);
	T_EQ_MEM(text, len, want, strlen(want),
	    "zone file: template, persisted serial, record");
	free(text);

	T_OK(publish_set(p, &rec, &out) == PUBLISH_DONE, "same again");
	T_EQ_INT(state_serial(zone), s1, "no change: serial kept");

	rec.prev = PUBLISH_PREV_VALUE;
	rec.prev_value = rec.value;
	rec.prev_len = rec.len;
	rec.value = (const uint8_t *)"v=DKIM1; p=two";
	T_OK(publish_set(p, &rec, &out) == PUBLISH_DONE && !out.drift,
	    "zonefile replace: %s", out.reason);
	s2 = state_serial(zone);
	T_OK(dnscheck_serial_cmp(s2, s1) > 0, "serial raised on change");

	rec.prev_value = (const uint8_t *)"v=DKIM1; p=zzz";
	rec.value = NULL;
	rec.len = 0;
	T_OK(publish_set(p, &rec, &out) == PUBLISH_DONE && out.drift,
	    "withdraw with a wrong prev: done, drift noticed");
	s3 = state_serial(zone);
	T_OK(dnscheck_serial_cmp(s3, s2) > 0, "serial raised on withdraw");
	text = t_read_file(zone, &len);
	T_OK(strstr(text, "_domainkey") == NULL, "record gone from the zone");
	free(text);
	publish_free(p);

	cfg.reload_command = "echo 'zone not loaded' >&2; exit 1";
	p = publish_new(&cfg, err, sizeof(err));
	rec.value = (const uint8_t *)"v=DKIM1; p=three";
	rec.len = 16;
	rec.prev = PUBLISH_PREV_UNKNOWN;
	T_OK(p != NULL && publish_set(p, &rec, &out) == PUBLISH_RETRY &&
	    strstr(out.reason, "zone not loaded") != NULL,
	    "failing reload: retry, with its message: %s", out.reason);
	T_OK(dnscheck_serial_cmp(state_serial(zone), s3) > 0,
	    "serial persisted before the reload ran");
	publish_free(p);

	write_file(tmpl, "no token here\n", 0644);
	p = publish_new(&cfg, err, sizeof(err));
	T_OK(p == NULL, "template without %s refused",
	    PUBLISH_SERIAL_TOKEN);
	publish_free(p);

	unlink(tmpl);
	unlink(zone);
	snprintf(want, sizeof(want), "%s.state", zone);
	unlink(want);
}

static int
unit_tests(void)
{
	if (mkdtemp(tmpdir) == NULL) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	test_txt_split();
	test_txt_render();
	test_rr_render();
	test_zone_render();
	test_hook_json();
	test_serials();
	test_classify();
	test_hostport();
	test_parse();
	test_judge();
	test_secrets();
	test_hook_checks();
	test_exec_backend();
	test_zonefile_backend();
	rmdir(tmpdir);
	return t_done();
}

/* ---- the driver for tests/rotation ----------------------------------- */

struct opts {
	struct publish_cfg	 pub;
	struct dnscheck_cfg	 chk;
	struct dnscheck_server	 servers[DNSCHECK_NS_MAX];
	char			 hosts[DNSCHECK_NS_MAX][DNSCHECK_NAME_MAX + 1];
	char			 seed_host[DNSCHECK_NAME_MAX + 1];
	char			 pub_host[DNSCHECK_NAME_MAX + 1];
	const char		*name;
	uint32_t		 ttl;
	uint8_t			*value;
	size_t			 len;
	int			 have_value;
	int			 absent;
	enum publish_prev	 prev;
	uint8_t			*prev_value;
	size_t			 prev_len;
	int			 check_serial;
	uint32_t		 min_serial;
	int			 status;
};

static uint8_t *
load_value(const char *path, size_t *len)
{
	char	*p = t_read_file(path, len);

	/* One final newline is an editor's, not the record's. */
	if (*len > 0 && p[*len - 1] == '\n')
		(*len)--;
	if (*len > 0 && p[*len - 1] == '\r')
		(*len)--;
	return (uint8_t *)p;
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "backend", required_argument, NULL, 'b' },
		{ "zone", required_argument, NULL, 'z' },
		{ "server", required_argument, NULL, 's' },
		{ "tsig-name", required_argument, NULL, 'k' },
		{ "tsig-alg", required_argument, NULL, 'a' },
		{ "tsig-file", required_argument, NULL, 'K' },
		{ "timeout-ms", required_argument, NULL, 'T' },
		{ "zonefile", required_argument, NULL, 'f' },
		{ "template", required_argument, NULL, 'F' },
		{ "reload", required_argument, NULL, 'r' },
		{ "hook", required_argument, NULL, 'H' },
		{ "name", required_argument, NULL, 'n' },
		{ "ttl", required_argument, NULL, 't' },
		{ "value", required_argument, NULL, 'v' },
		{ "value-file", required_argument, NULL, 'V' },
		{ "absent", no_argument, NULL, 'A' },
		{ "prev-absent", no_argument, NULL, 'p' },
		{ "prev-value", required_argument, NULL, 'q' },
		{ "prev-file", required_argument, NULL, 'Q' },
		{ "seed", required_argument, NULL, 'S' },
		{ "ns-port", required_argument, NULL, 'P' },
		{ "min-serial", required_argument, NULL, 'm' },
		{ "status", no_argument, NULL, 'X' },
		{ NULL, 0, NULL, 0 },
	};
	uint16_t	port;
	int		ch;

	memset(o, 0, sizeof(*o));
	o->ttl = 300;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'b':
			if (strcmp(optarg, "rfc2136") == 0)
				o->pub.backend = PUBLISH_RFC2136;
			else if (strcmp(optarg, "zonefile") == 0)
				o->pub.backend = PUBLISH_ZONEFILE;
			else if (strcmp(optarg, "exec") == 0)
				o->pub.backend = PUBLISH_EXEC;
			else
				return -1;
			break;
		case 'z':
			o->pub.zone = o->chk.zone = optarg;
			break;
		case 's':
			/* publish: the primary; check: one more server. */
			if (o->chk.nservers == DNSCHECK_NS_MAX ||
			    dnscheck_parse_hostport(optarg,
			    o->hosts[o->chk.nservers], DNSCHECK_NAME_MAX + 1,
			    &port, 53) == -1)
				return -1;
			o->servers[o->chk.nservers].host =
			    o->hosts[o->chk.nservers];
			o->servers[o->chk.nservers].port = port;
			if (o->chk.nservers == 0) {
				o->pub.server_host = o->hosts[0];
				o->pub.server_port = port;
			}
			o->chk.nservers++;
			break;
		case 'k':
			o->pub.tsig_name = optarg;
			break;
		case 'a':
			if (strcmp(optarg, "hmac-sha256") == 0)
				o->pub.tsig_alg = PUBLISH_TSIG_HMAC_SHA256;
			else if (strcmp(optarg, "hmac-sha512") == 0)
				o->pub.tsig_alg = PUBLISH_TSIG_HMAC_SHA512;
			else
				return -1;
			break;
		case 'K':
			o->pub.tsig_secret_file = optarg;
			break;
		case 'T':
			o->pub.timeout_ms = o->chk.timeout_ms = atoi(optarg);
			o->pub.exec_timeout_ms = o->pub.timeout_ms;
			break;
		case 'f':
			o->pub.zonefile = optarg;
			break;
		case 'F':
			o->pub.zonefile_template = optarg;
			break;
		case 'r':
			o->pub.reload_command = optarg;
			break;
		case 'H':
			o->pub.hook = optarg;
			break;
		case 'n':
			o->name = optarg;
			break;
		case 't':
			o->ttl = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'v':
			free(o->value);
			o->len = strlen(optarg);
			o->value = malloc(o->len + 1);
			memcpy(o->value, optarg, o->len + 1);
			o->have_value = 1;
			break;
		case 'V':
			free(o->value);
			o->value = load_value(optarg, &o->len);
			o->have_value = 1;
			break;
		case 'A':
			o->absent = 1;
			break;
		case 'p':
			o->prev = PUBLISH_PREV_ABSENT;
			break;
		case 'q':
			free(o->prev_value);
			o->prev_len = strlen(optarg);
			o->prev_value = malloc(o->prev_len + 1);
			memcpy(o->prev_value, optarg, o->prev_len + 1);
			o->prev = PUBLISH_PREV_VALUE;
			break;
		case 'Q':
			free(o->prev_value);
			o->prev_value = load_value(optarg, &o->prev_len);
			o->prev = PUBLISH_PREV_VALUE;
			break;
		case 'S':
			if (dnscheck_parse_hostport(optarg, o->seed_host,
			    sizeof(o->seed_host), &port, 53) == -1)
				return -1;
			o->chk.seed.host = o->seed_host;
			o->chk.seed.port = port;
			break;
		case 'P':
			o->chk.ns_port = (uint16_t)atoi(optarg);
			break;
		case 'm':
			o->check_serial = 1;
			o->min_serial = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'X':
			o->status = 1;
			break;
		default:
			return -1;
		}
	}
	if (o->name == NULL || o->have_value == o->absent)
		return -1;
	o->chk.servers = o->chk.nservers > 0 ? o->servers : NULL;
	return 0;
}

static int
cmd_publish(struct opts *o)
{
	struct publish		*p;
	struct publish_rec	 rec;
	struct publish_outcome	 out;
	char			 err[512];
	enum publish_result	 r;

	if ((p = publish_new(&o->pub, err, sizeof(err))) == NULL) {
		fprintf(stderr, "test_keys_dns: %s\n", err);
		return EXIT_USAGE;
	}
	memset(&rec, 0, sizeof(rec));
	rec.fqdn = o->name;
	rec.ttl = o->ttl;
	rec.value = o->absent ? NULL : o->value;
	rec.len = o->absent ? 0 : o->len;
	rec.prev = o->prev;
	rec.prev_value = o->prev_value;
	rec.prev_len = o->prev_len;
	r = o->status ? publish_status(p, &rec, &out) :
	    publish_set(p, &rec, &out);
	printf("%s drift=%d %s\n", publish_result_name(r), out.drift,
	    out.reason);
	publish_free(p);
	return r == PUBLISH_DONE ? 0 : r == PUBLISH_RETRY ?
	    PUBLISH_EXIT_RETRY : 1;
}

static int
cmd_check(struct opts *o)
{
	struct dnscheck_report	*r;
	struct dnscheck_want	 want;
	char			 err[512];
	size_t			 i;
	int			 visible;

	memset(&want, 0, sizeof(want));
	want.fqdn = o->name;
	want.value = o->absent ? NULL : o->value;
	want.len = o->absent ? 0 : o->len;
	want.check_serial = o->check_serial;
	want.min_serial = o->min_serial;
	if ((r = dnscheck_run(&o->chk, &want, err, sizeof(err))) == NULL) {
		fprintf(stderr, "test_keys_dns: %s\n", err);
		return EXIT_USAGE;
	}
	for (i = 0; i < dnscheck_report_count(r); i++)
		printf("%s\t%s\t%s\n", dnscheck_report_server(r, i),
		    dnscheck_status_name(dnscheck_report_status(r, i)),
		    dnscheck_report_detail(r, i));
	visible = dnscheck_report_visible(r);
	printf("%s\n", visible ? "visible" : "not visible");
	dnscheck_report_free(r);
	return visible ? 0 : 1;
}

static int
cmd_render(struct opts *o)
{
	struct buf	*b = buf_new(0);
	int		 ret = 1;

	if (publish_rr_render(b, o->name, o->ttl, o->value, o->len) == 0) {
		fwrite(buf_data(b), 1, buf_len(b), stdout);
		ret = 0;
	}
	buf_free(b);
	return ret;
}

static int
cmd_store_add(int argc, char **argv)
{
	struct store		*st;
	struct store_txn	*txn = NULL;
	enum store_state	 state;
	char			 id[KEYS_ID_LEN + 1], err[512];
	time_t			 now = time(NULL);
	int			 ret = 1;

	if (argc != 7 || store_state_parse(argv[6], &state) == -1) {
		fprintf(stderr, "usage: test_keys_dns store-add KEYSTORE "
		    "DOMAIN SELECTOR BITS STATE\n");
		return EXIT_USAGE;
	}
	if ((st = store_open(argv[2], 1, err, sizeof(err))) == NULL) {
		fprintf(stderr, "test_keys_dns: %s\n", err);
		return 1;
	}
	if (store_begin(st, argv[3], STORE_CREATE, &txn, err,
	    sizeof(err)) != STORE_OK ||
	    store_txn_generate(txn, KEYS_ALG_RSA_SHA256,
	    (unsigned)atoi(argv[5]), argv[4], now, id, err, sizeof(err)) == -1 ||
	    store_txn_set_state(txn, id, state, now, err, sizeof(err)) == -1 ||
	    store_txn_set_selector(txn, argv[4], id, err, sizeof(err)) == -1) {
		fprintf(stderr, "test_keys_dns: %s\n", err);
		if (txn != NULL)
			store_abort(txn);
		goto done;
	}
	if (store_commit(txn, now, err, sizeof(err)) == -1) {
		fprintf(stderr, "test_keys_dns: %s\n", err);
		goto done;
	}
	printf("%s\n", id);
	ret = 0;
done:
	store_close(st);
	return ret;
}

int
main(int argc, char **argv)
{
	struct opts	o;
	int		ret;

	if (argc < 2)
		return unit_tests();
	if (strcmp(argv[1], "store-add") == 0)
		return cmd_store_add(argc, argv);
	if (parse_opts(argc - 1, argv + 1, &o) == -1) {
		fprintf(stderr, "usage: test_keys_dns publish|check|render "
		    "--name FQDN (--value V | --value-file F | --absent) "
		    "...\n");
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "publish") == 0)
		ret = cmd_publish(&o);
	else if (strcmp(argv[1], "check") == 0)
		ret = cmd_check(&o);
	else if (strcmp(argv[1], "render") == 0)
		ret = cmd_render(&o);
	else
		ret = EXIT_USAGE;
	free(o.value);
	free(o.prev_value);
	return ret;
}
