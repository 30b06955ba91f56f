/*
 * signetctl verify — check every DKIM-Signature of a message on stdin
 * (RFC 6376 6, RFC 8301, RFC 8463) and print one line per signature:
 *
 *	d=DOMAIN s=SELECTOR a=ALGORITHM RESULT REASON
 *
 * in header order (top first).  Exit 0 only if every signature passes;
 * 1 otherwise, and with "no signatures" when there is none.  Keys come
 * from --dns-file (dnsfile.h format) or from live DNS through libldns
 * and the system resolver (/etc/resolv.conf).  --time sets the clock
 * used for x= (default now), for replaying stored messages.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ldns/ldns.h>

#include "proxy/msg/buf.h"
#include "proxy/msg/dnsfile.h"
#include "proxy/msg/hash.h"
#include "proxy/msg/hdr.h"
#include "proxy/msg/verify.h"
#include "tools/arc_cmd.h"
#include "tools/ctl.h"
#include "tools/msgfile.h"

#define VERIFY_FIELD_OUT_MAX	200	/* octets of a tag shown (RS-04) */

static void
verify_help(FILE *f)
{
	fprintf(f,
"usage: signetctl verify [--dns-file FILE] [--time UNIX] < msg\n"
"  One line per DKIM-Signature: d= s= a= result reason.\n"
"  Exit 0 only if every signature passes.\n"
"  --dns-file  key records as \"name TXT-value\" lines instead of DNS\n"
"              (NXDOMAIN for no such name, ~~text~~ for a DNS failure)\n"
"  --time      the clock for x= expiry (default: now)\n"
"  Input may use LF or CRLF line ends (LF is read as CRLF).\n");
}

/* Live DNS: the TXT record at name, its strings joined. */
static enum verify_dns
live_lookup(ldns_resolver *res, struct buf *name, struct buf *txt)
{
	ldns_rdf		*dname = NULL;
	ldns_pkt		*pkt = NULL;
	ldns_rr_list		*rrs = NULL;
	ldns_rr			*rr;
	ldns_rdf		*rd;
	const uint8_t		*d;
	enum verify_dns		 ans = VERIFY_DNS_ERROR;
	size_t			 i, sz;

	if (res == NULL || buf_cstr(name) == NULL ||
	    (dname = ldns_dname_new_frm_str(buf_cstr(name))) == NULL)
		goto done;
	if (ldns_resolver_query_status(&pkt, res, dname, LDNS_RR_TYPE_TXT,
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
		if (sz == 0 || (size_t)d[0] + 1 > sz)
			goto done;
		if (buf_append(txt, d + 1, d[0]) == -1)
			goto done;
	}
	ans = VERIFY_DNS_OK;
done:
	ldns_rr_list_deep_free(rrs);
	ldns_pkt_free(pkt);
	ldns_rdf_deep_free(dname);
	return ans;
}

static void
print_tag(struct buf *line, const char *name, const uint8_t *v, size_t len)
{
	buf_printf(line, "%s=", name);
	buf_append_escaped(line, v, len, VERIFY_FIELD_OUT_MAX);
	buf_append_byte(line, ' ');
}

/* Ask for every key, from the file or from DNS. */
static int
answer_all(struct verify *v, const struct dnsfile *df, ldns_resolver *res)
{
	struct buf	*name = NULL, *txt = NULL;
	const uint8_t	*t;
	enum verify_dns	 ans;
	size_t		 i, tlen;
	int		 rc = -1;

	if ((name = buf_new(VERIFY_KEY_TXT_MAX)) == NULL ||
	    (txt = buf_new(VERIFY_KEY_TXT_MAX)) == NULL)
		goto done;
	for (i = 0; i < verify_count(v); i++) {
		buf_reset(name);
		buf_reset(txt);
		if (verify_key_name(v, i, name) == -1)
			continue;
		if (df != NULL)
			ans = dnsfile_lookup(df, buf_data(name), buf_len(name),
			    &t, &tlen);
		else {
			ans = live_lookup(res, name, txt);
			t = buf_data(txt);
			tlen = buf_len(txt);
		}
		if (verify_answer(v, i, ans, t, tlen) == -1)
			goto done;
	}
	rc = 0;
done:
	buf_free(txt);
	buf_free(name);
	return rc;
}

static int
verify_message(const char *dnsfile, int64_t now)
{
	struct buf		*m = NULL, *line = NULL;
	struct hdr_list		*hl = NULL;
	struct hash_body	*hb = NULL;
	struct verify		*v = NULL;
	struct dnsfile		*df = NULL;
	ldns_resolver		*res = NULL;
	enum hdr_err		 he;
	const uint8_t		*p;
	char			 err[256];
	size_t			 hdrlen, bodyoff, i, len, erroff;
	int			 rc = CTL_FAIL, allpass = 1;

	if (dnsfile != NULL &&
	    (df = dnsfile_load(dnsfile, err, sizeof(err))) == NULL) {
		/* Parse errors start with a line number, open errors not. */
		if (err[0] >= '0' && err[0] <= '9')
			ctl_err("verify: %s:%s", dnsfile, err);
		else
			ctl_err("verify: %s", err);
		goto done;
	}
	if ((m = buf_new(MSGFILE_MAX)) == NULL ||
	    (line = buf_new(0)) == NULL || (hb = hash_body_new()) == NULL) {
		ctl_err("verify: out of memory");
		goto done;
	}
	if (msgfile_read(stdin, m) == -1) {
		ctl_err("verify: reading the message: %s", strerror(errno));
		goto done;
	}
	msgfile_split(m, &hdrlen, &bodyoff);
	if ((he = hdr_parse(buf_data(m), hdrlen, NULL, &hl, &erroff)) !=
	    HDR_OK) {
		ctl_err("verify: malformed header section at octet %zu: %s",
		    erroff, hdr_strerror(he));
		goto done;
	}
	if ((v = verify_new(hl, now, hb)) == NULL) {
		ctl_err("verify: out of memory");
		goto done;
	}
	if (verify_count(v) == 0) {
		ctl_err("verify: no signatures");
		goto done;
	}
	if (df == NULL && ldns_resolver_new_frm_file(&res, NULL) !=
	    LDNS_STATUS_OK)
		res = NULL;
	if (answer_all(v, df, res) == -1 ||
	    hash_body_update(hb, buf_data(m) + bodyoff,
	    buf_len(m) - bodyoff) == -1 || hash_body_final(hb) == -1 ||
	    verify_finish(v) == -1) {
		ctl_err("verify: verification failed (out of memory?)");
		goto done;
	}
	for (i = 0; i < verify_count(v); i++) {
		buf_reset(line);
		p = verify_domain(v, i, &len);
		print_tag(line, "d", p, len);
		p = verify_selector(v, i, &len);
		print_tag(line, "s", p, len);
		p = verify_algorithm(v, i, &len);
		print_tag(line, "a", p, len);
		buf_printf(line, "%s %s\n",
		    verify_result_name(verify_result(v, i)),
		    verify_reason(v, i));
		fwrite(buf_data(line), 1, buf_len(line), stdout);
		if (verify_result(v, i) != VERIFY_PASS)
			allpass = 0;
	}
	if (fflush(stdout) == EOF) {
		ctl_err("verify: writing: %s", strerror(errno));
		goto done;
	}
	rc = allpass ? CTL_OK : CTL_FAIL;
done:
	if (res != NULL)
		ldns_resolver_deep_free(res);
	verify_free(v);
	hash_body_free(hb);
	hdr_free(hl);
	buf_free(line);
	buf_free(m);
	dnsfile_free(df);
	return rc;
}

static int
verify_run(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dns-file", required_argument, NULL, 'D' },
		{ "time", required_argument, NULL, 't' },
		{ "arc", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char		*dnsfile = NULL;
	char			*end;
	unsigned long long	 t;
	int64_t			 now = (int64_t)time(NULL);
	int			 ch, arc = 0;

	(void)ctl;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'D':
			dnsfile = optarg;
			break;
		case 't':
			errno = 0;
			t = strtoull(optarg, &end, 10);
			if (optarg[0] < '0' || optarg[0] > '9' || errno != 0 ||
			    *end != '\0' || t > INT64_MAX / 2) {
				ctl_err("verify: --time wants seconds since "
				    "1970");
				return CTL_USAGE;
			}
			now = (int64_t)t;
			break;
		case 'a':
			arc = 1;
			break;
		case 'h':
			verify_help(stdout);
			return CTL_OK;
		default:
			verify_help(stderr);
			return CTL_USAGE;
		}
	}
	if (arc)
		return arc_cmd_verify(argc, argv);
	if (optind < argc) {
		ctl_err("verify: unexpected argument: %s", argv[optind]);
		return CTL_USAGE;
	}
	return verify_message(dnsfile, now);
}

const struct ctl_cmd ctl_cmd_verify = {
	"verify",
	"verify [--dns-file FILE] [--time UNIX] < msg",
	verify_run,
};
