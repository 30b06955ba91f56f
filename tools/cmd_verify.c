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

#include "proxy/msg/buf.h"
#include "proxy/msg/hash.h"
#include "proxy/msg/hdr.h"
#include "proxy/msg/verify.h"
#include "tools/arc_cmd.h"
#include "tools/ctl.h"
#include "tools/dnslookup.h"
#include "tools/msgfile.h"

#define VERIFY_FIELD_OUT_MAX	200	/* octets of a tag shown (RS-04) */

static void
verify_help(FILE *f)
{
	fprintf(f,
"usage: signetctl verify [--arc] [--dns-file FILE] [--time UNIX] < msg\n"
"  One line per DKIM-Signature: d= s= a= result reason.\n"
"  Exit 0 only if every signature passes.\n"
"  --dns-file  key records as \"name TXT-value\" lines instead of DNS\n"
"              (NXDOMAIN for no such name, ~~text~~ for a DNS failure)\n"
"  --time      the clock for x= expiry (default: now)\n"
"  --arc       the ARC chain instead (RFC 8617; verify --arc --help)\n"
"  Input may use LF or CRLF line ends (LF is read as CRLF).\n");
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
answer_all(struct verify *v, struct dnslookup *l)
{
	struct buf	*name;
	const uint8_t	*t;
	enum verify_dns	 ans;
	size_t		 i, tlen;
	int		 rc = -1;

	if ((name = buf_new(VERIFY_KEY_TXT_MAX)) == NULL)
		return -1;
	for (i = 0; i < verify_count(v); i++) {
		buf_reset(name);
		if (verify_key_name(v, i, name) == -1)
			continue;
		ans = dnslookup_txt(l, name, &t, &tlen);
		if (verify_answer(v, i, ans, t, tlen) == -1)
			goto done;
	}
	rc = 0;
done:
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
	struct dnslookup	*l = NULL;
	enum hdr_err		 he;
	const uint8_t		*p;
	size_t			 hdrlen, bodyoff, i, len, erroff;
	int			 rc = CTL_FAIL, allpass = 1;

	if ((l = dnslookup_open("verify", dnsfile)) == NULL)
		goto done;
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
	if (answer_all(v, l) == -1 ||
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
	verify_free(v);
	hash_body_free(hb);
	hdr_free(hl);
	buf_free(line);
	buf_free(m);
	dnslookup_close(l);
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
	int			 ch, arc = 0, help = 0;

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
			help = 1;
			break;
		default:
			verify_help(stderr);
			return CTL_USAGE;
		}
	}
	/* --help after --arc is the ARC help, which arc_cmd_verify prints. */
	if (arc)
		return arc_cmd_verify(argc, argv);
	if (help) {
		verify_help(stdout);
		return CTL_OK;
	}
	if (optind < argc) {
		ctl_err("verify: unexpected argument: %s", argv[optind]);
		return CTL_USAGE;
	}
	return verify_message(dnsfile, now);
}

const struct ctl_cmd ctl_cmd_verify = {
	"verify",
	"verify [--arc] [--dns-file FILE] [--time UNIX] < msg",
	verify_run,
};
