/*
 * test_proxy_arcdns — arcd_dns_answer, the reading of a resolver's
 * answer to one key query (RFC 1035 4.1, RFC 6376 3.6.2.2, RFC 1034
 * 3.6.2): replies are built with libldns from zone-file lines, so each
 * case states what a resolver sent and what signetd must make of it.
 */
#include <stdint.h>
#include <string.h>

#include <ldns/ldns.h>

#include "proxy/arcd.h"
#include "proxy/msg/buf.h"
#include "proxy/msg/verify.h"
#include "tests/unit/t.h"

#define QNAME	"s1._domainkey.example.test"
#define ID	0x1234
#define NO	(-1)	/* not an answer to our query */

struct dns_case {
	const char	*name;
	const char	*qname;		/* the question in the reply */
	uint16_t	 id;
	int		 qr;
	int		 tc;
	ldns_pkt_rcode	 rcode;
	const char	*answer[4];	/* zone-file lines */
	int		 want;
	const char	*txt;		/* the joined record when OK */
};

static const struct dns_case cases[] = {
	{ "one record", QNAME, ID, 1, 0, LDNS_RCODE_NOERROR,
	    { QNAME ". 300 IN TXT \"v=DKIM1; p=QUJD\"" }, VERIFY_DNS_OK,
	    "v=DKIM1; p=QUJD" },
	{ "strings joined", QNAME, ID, 1, 0, LDNS_RCODE_NOERROR,
	    { QNAME ". 300 IN TXT \"v=DKIM1; \" \"p=QU\" \"JD\"" },
	    VERIFY_DNS_OK, "v=DKIM1; p=QUJD" },
	{ "question case ignored", "S1._DomainKey.Example.TEST", ID, 1, 0,
	    LDNS_RCODE_NOERROR, { QNAME ". 300 IN TXT \"k\"" },
	    VERIFY_DNS_OK, "k" },
	{ "CNAME chain followed", QNAME, ID, 1, 0, LDNS_RCODE_NOERROR,
	    { QNAME ". 300 IN CNAME a.example.net.",
	      "a.example.net. 300 IN CNAME b.example.org.",
	      "b.example.org. 300 IN TXT \"target\"" },
	    VERIFY_DNS_OK, "target" },
	{ "TXT of another name ignored", QNAME, ID, 1, 0,
	    LDNS_RCODE_NOERROR, { "x.example.test. 300 IN TXT \"no\"" },
	    VERIFY_DNS_NXDOMAIN, NULL },
	{ "CNAME loop ends", QNAME, ID, 1, 0, LDNS_RCODE_NOERROR,
	    { QNAME ". 300 IN CNAME a.example.net.",
	      "a.example.net. 300 IN CNAME " QNAME "." },
	    VERIFY_DNS_NXDOMAIN, NULL },
	{ "two records: the first", QNAME, ID, 1, 0, LDNS_RCODE_NOERROR,
	    { QNAME ". 300 IN TXT \"first\"", QNAME ". 300 IN TXT \"second\"" },
	    VERIFY_DNS_OK, "first" },
	{ "no data", QNAME, ID, 1, 0, LDNS_RCODE_NOERROR, { NULL },
	    VERIFY_DNS_NXDOMAIN, NULL },
	{ "NXDOMAIN", QNAME, ID, 1, 0, LDNS_RCODE_NXDOMAIN, { NULL },
	    VERIFY_DNS_NXDOMAIN, NULL },
	{ "SERVFAIL is temporary", QNAME, ID, 1, 0, LDNS_RCODE_SERVFAIL,
	    { NULL }, VERIFY_DNS_ERROR, NULL },
	{ "REFUSED is temporary", QNAME, ID, 1, 0, LDNS_RCODE_REFUSED,
	    { NULL }, VERIFY_DNS_ERROR, NULL },
	{ "truncated is temporary", QNAME, ID, 1, 1, LDNS_RCODE_NOERROR,
	    { QNAME ". 300 IN TXT \"part\"" }, VERIFY_DNS_ERROR, NULL },
	{ "wrong id ignored", QNAME, ID + 1, 1, 0, LDNS_RCODE_NOERROR,
	    { QNAME ". 300 IN TXT \"spoof\"" }, NO, NULL },
	{ "a query is no answer", QNAME, ID, 0, 0, LDNS_RCODE_NOERROR,
	    { QNAME ". 300 IN TXT \"spoof\"" }, NO, NULL },
	{ "another question ignored", "s2._domainkey.example.test", ID, 1, 0,
	    LDNS_RCODE_NOERROR, { QNAME ". 300 IN TXT \"spoof\"" }, NO,
	    NULL },
};

static ldns_pkt *
build(const struct dns_case *c)
{
	ldns_pkt	*pkt = NULL;
	ldns_rr		*rr;
	size_t		 i;

	if (ldns_pkt_query_new_frm_str(&pkt, c->qname, LDNS_RR_TYPE_TXT,
	    LDNS_RR_CLASS_IN, LDNS_RD) != LDNS_STATUS_OK)
		return NULL;
	ldns_pkt_set_id(pkt, c->id);
	ldns_pkt_set_qr(pkt, c->qr);
	ldns_pkt_set_tc(pkt, c->tc);
	ldns_pkt_set_rcode(pkt, (uint8_t)c->rcode);
	for (i = 0; i < 4 && c->answer[i] != NULL; i++) {
		rr = NULL;
		if (ldns_rr_new_frm_str(&rr, c->answer[i], 0, NULL, NULL) !=
		    LDNS_STATUS_OK ||
		    !ldns_pkt_push_rr(pkt, LDNS_SECTION_ANSWER, rr)) {
			ldns_rr_free(rr);
			ldns_pkt_free(pkt);
			return NULL;
		}
	}
	return pkt;
}

static void
test_cases(void)
{
	const struct dns_case	*c;
	const uint8_t		 id[2] = { ID >> 8, ID & 0xff };
	ldns_pkt		*pkt;
	uint8_t			*wire;
	size_t			 i, len;
	struct buf		*txt;
	int			 rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c = &cases[i];
		wire = NULL;
		if ((pkt = build(c)) == NULL ||
		    ldns_pkt2wire(&wire, pkt, &len) != LDNS_STATUS_OK) {
			T_OK(0, "%s: reply built", c->name);
			ldns_pkt_free(pkt);
			continue;
		}
		txt = buf_new(VERIFY_KEY_TXT_MAX);
		rc = arcd_dns_answer(wire, len, QNAME, id, txt);
		T_EQ_INT(rc, c->want, c->name);
		if (c->txt != NULL)
			T_OK(rc == VERIFY_DNS_OK &&
			    buf_len(txt) == strlen(c->txt) &&
			    memcmp(buf_data(txt), c->txt, buf_len(txt)) == 0,
			    "%s: record", c->name);
		/* Every shorter prefix is malformed: never an answer. */
		T_OK(arcd_dns_answer(wire, len > 12 ? 12 : len, QNAME, id,
		    txt) == NO, "%s: cut to its header", c->name);
		buf_free(txt);
		LDNS_FREE(wire);
		ldns_pkt_free(pkt);
	}
}

int
main(void)
{
	test_cases();
	return t_done();
}
