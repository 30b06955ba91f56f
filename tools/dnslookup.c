/*
 * dnslookup — the key record source shared by `signetctl verify` and
 * `sign --arc`/`verify --arc`: a dnsfile (proxy/msg/dnsfile.h) or live
 * DNS.  Live answers are NXDOMAIN for no such name or no TXT record,
 * a DNS error for anything else that is not NOERROR.  A live record's
 * character-strings are joined (RFC 6376 3.6.2.2) into a buffer the
 * lookup owns; dnsfile answers point into the loaded file.
 */
#include <stdlib.h>

#include <ldns/ldns.h>

#include "proxy/msg/buf.h"
#include "proxy/msg/dnsfile.h"
#include "proxy/msg/verify.h"
#include "tools/ctl.h"
#include "tools/dnslookup.h"

#define DNSLOOKUP_ERR_MAX	256	/* a dnsfile_load() message */

struct dnslookup {
	struct dnsfile	*df;
	ldns_resolver	*res;
	struct buf	*txt;
};

struct dnslookup *
dnslookup_open(const char *cmd, const char *dnsfile)
{
	struct dnslookup	*l;
	char			 err[DNSLOOKUP_ERR_MAX];

	if ((l = calloc(1, sizeof(*l))) == NULL ||
	    (l->txt = buf_new(VERIFY_KEY_TXT_MAX)) == NULL) {
		ctl_err("%s: out of memory", cmd);
		goto fail;
	}
	if (dnsfile != NULL) {
		if ((l->df = dnsfile_load(dnsfile, err, sizeof(err))) ==
		    NULL) {
			/* Parse errors start with a line number. */
			if (err[0] >= '0' && err[0] <= '9')
				ctl_err("%s: %s:%s", cmd, dnsfile, err);
			else
				ctl_err("%s: %s", cmd, err);
			goto fail;
		}
	} else if (ldns_resolver_new_frm_file(&l->res, NULL) !=
	    LDNS_STATUS_OK)
		l->res = NULL;
	return l;
fail:
	dnslookup_close(l);
	return NULL;
}

void
dnslookup_close(struct dnslookup *l)
{
	if (l == NULL)
		return;
	if (l->res != NULL)
		ldns_resolver_deep_free(l->res);
	dnsfile_free(l->df);
	buf_free(l->txt);
	free(l);
}

/* Live DNS: the TXT record at name, its strings joined, into l->txt. */
static enum verify_dns
live_lookup(struct dnslookup *l, const char *name)
{
	ldns_rdf		*dname = NULL;
	ldns_pkt		*pkt = NULL;
	ldns_rr_list		*rrs = NULL;
	ldns_rr			*rr;
	ldns_rdf		*rd;
	const uint8_t		*d;
	enum verify_dns		 ans = VERIFY_DNS_ERROR;
	size_t			 i, sz;

	if (l->res == NULL || name == NULL ||
	    (dname = ldns_dname_new_frm_str(name)) == NULL)
		goto done;
	if (ldns_resolver_query_status(&pkt, l->res, dname, LDNS_RR_TYPE_TXT,
	    LDNS_RR_CLASS_IN, LDNS_RD) != LDNS_STATUS_OK || pkt == NULL)
		goto done;
	if (ldns_pkt_get_rcode(pkt) == LDNS_RCODE_NXDOMAIN) {
		ans = VERIFY_DNS_NXDOMAIN;
		goto done;
	}
	if (ldns_pkt_get_rcode(pkt) != LDNS_RCODE_NOERROR)
		goto done;
	rrs = ldns_pkt_rr_list_by_type(pkt, LDNS_RR_TYPE_TXT,
	    LDNS_SECTION_ANSWER);
	if (rrs == NULL || ldns_rr_list_rr_count(rrs) == 0) {
		ans = VERIFY_DNS_NXDOMAIN;
		goto done;
	}
	/* Several records at one name are undefined (6376 3.6.2.2): first. */
	rr = ldns_rr_list_rr(rrs, 0);
	for (i = 0; i < ldns_rr_rd_count(rr); i++) {
		rd = ldns_rr_rdf(rr, i);
		d = ldns_rdf_data(rd);
		sz = ldns_rdf_size(rd);
		if (sz == 0 || (size_t)d[0] + 1 > sz ||
		    buf_append(l->txt, d + 1, d[0]) == -1)
			goto done;
	}
	ans = VERIFY_DNS_OK;
done:
	ldns_rr_list_deep_free(rrs);
	ldns_pkt_free(pkt);
	ldns_rdf_deep_free(dname);
	return ans;
}

enum verify_dns
dnslookup_txt(struct dnslookup *l, struct buf *name,
    const uint8_t **txt, size_t *len)
{
	enum verify_dns	ans;

	if (l->df != NULL)
		return dnsfile_lookup(l->df, buf_data(name), buf_len(name),
		    txt, len);
	buf_reset(l->txt);
	ans = live_lookup(l, buf_cstr(name));
	*txt = buf_data(l->txt);
	*len = buf_len(l->txt);
	return ans;
}
