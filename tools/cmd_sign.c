/*
 * signetctl sign — DKIM-sign a message from stdin to stdout, one
 * signature per --key in order (the first on top), with the header
 * lists and n+1 oversigning signetd uses by default (hostile-inputs
 * DK-02, DK-05) and t=/x= always (DK-07).
 *
 * The message is refused (one line, exit 1) when signing it would be
 * unsafe or ambiguous: no From, more than one From, a From without a
 * domain (DK-03, DK-04), a NUL octet or bare CR (SM-02, SM-05), a header
 * line over 998 octets (DK-11), a malformed header section (DK-08).
 * Keys are loaded and used only through keys/signer.h.
 *
 * --config FILE instead signs as signetd with FILE would (sign_config.c).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "keys/signer.h"
#include "proxy/msg/addr.h"
#include "proxy/msg/buf.h"
#include "proxy/msg/canon.h"
#include "proxy/msg/dkim.h"
#include "proxy/msg/hash.h"
#include "proxy/msg/hdr.h"
#include "tools/arc_cmd.h"
#include "tools/ctl.h"
#include "tools/msgfile.h"
#include "tools/sign_config.h"

#define SIGN_KEYS_MAX		8	/* --key options: s1, s2 and extras */
#define SIGN_HEADERS_MAX	64	/* names in --headers */
#define SIGN_EXPIRATION		(5 * 86400)	/* DESIGN.md example: 5d */

struct sign_key {
	char			*domain;	/* normalized */
	char			*selector;
	struct keys_key		*key;
};

struct sign_opts {
	struct sign_key	 keys[SIGN_KEYS_MAX];
	size_t		 nkeys;
	enum canon_alg	 hcanon, bcanon;
	int64_t		 time;
	uint64_t	 expiration;
	char		*headers_arg;
	const char	*sign[SIGN_HEADERS_MAX];
	size_t		 nsign;
	const char	*oversign[SIGN_HEADERS_MAX];
	size_t		 noversign;
};

static void
sign_help(FILE *f)
{
	fprintf(f,
"usage: signetctl sign --key DOMAIN:SELECTOR:FILE [--key ...]\n"
"           [--canon relaxed/relaxed] [--headers LIST] [--time UNIX]\n"
"           [--expiration SECONDS[smhd]] < in.eml > out.eml\n"
"       signetctl sign --config FILE [--client ADDR] [--time UNIX]\n"
"           < in.eml > out.eml\n"
"       signetctl sign --arc --key DOMAIN:SELECTOR:FILE --authserv-id ID\n"
"           [--dns-file FILE] [--time UNIX] < in.eml > out.eml\n"
"  One DKIM-Signature per --key, in order; the first ends up on top.\n"
"  Input may use LF or CRLF line ends; output is CRLF throughout.\n"
"  --canon     header/body canonicalization (default relaxed/relaxed)\n"
"  --headers   comma-separated field names to sign instead of the\n"
"              default list; default oversigned names in it stay\n"
"              oversigned (listed once more than present)\n"
"  --time      t= and an added Date (default: now)\n"
"  --expiration x= is t= plus this (default 5d; 0: no x=)\n"
"  --arc       add an ARC set instead (RFC 8617; sign --arc --help)\n"
"  Refused: no From, several From fields, a From without a domain, a\n"
"  NUL octet or bare CR, a header line over 998 octets.\n"
"  --config    sign as signetd with FILE would: the domains: entry of\n"
"              the From domain (or a parent with subdomains: true), its\n"
"              selectors' keys from the key store FILE names (a missing\n"
"              one is skipped with a warning), FILE's canonicalization,\n"
"              expiration and header lists; Date and Message-ID added\n"
"              when missing, Bcc removed; signetd's refusals, its reply\n"
"              on one line.  No ARC set and no Received field.\n"
"  --client    with --config: the tenant whose networks: hold ADDR must\n"
"              own the From domain; its header lists and extra\n"
"              signatures apply.  Without it, domains: alone decides\n"
"              and the global header lists apply.\n");
}

static int
key_sign(void *ctx, const uint8_t digest[HASH_SHA256_LEN], uint8_t *sig,
    size_t *siglen)
{
	const struct keys_key	*k = ctx;

	return keys_sign(k, keys_alg(k), digest, sig, siglen);
}

/* DOMAIN:SELECTOR:FILE; the file name may itself hold colons. */
static int
parse_key_arg(struct sign_opts *o, const char *arg)
{
	struct sign_key	*k;
	struct buf	*dom = NULL;
	const char	*c1, *c2;
	char		 err[256];
	int		 rc = CTL_USAGE;

	if (o->nkeys == SIGN_KEYS_MAX) {
		ctl_err("sign: at most %d --key options", SIGN_KEYS_MAX);
		return CTL_USAGE;
	}
	if ((c1 = strchr(arg, ':')) == NULL ||
	    (c2 = strchr(c1 + 1, ':')) == NULL || c1 == arg ||
	    c2 == c1 + 1 || c2[1] == '\0') {
		ctl_err("sign: --key wants DOMAIN:SELECTOR:FILE");
		return CTL_USAGE;
	}
	k = &o->keys[o->nkeys];
	if ((dom = buf_new(0)) == NULL ||
	    addr_normalize_domain((const uint8_t *)arg, (size_t)(c1 - arg),
	    dom) == -1 || buf_cstr(dom) == NULL) {
		ctl_err("sign: --key: bad domain");
		goto done;
	}
	if ((k->domain = strdup(buf_cstr(dom))) == NULL ||
	    (k->selector = strndup(c1 + 1, (size_t)(c2 - c1 - 1))) == NULL) {
		ctl_err("sign: out of memory");
		rc = CTL_FAIL;
		goto done;
	}
	o->nkeys++;
	if ((k->key = keys_load(c2 + 1, err, sizeof(err))) == NULL) {
		ctl_err("sign: %s", err);
		rc = CTL_FAIL;
		goto done;
	}
	rc = CTL_OK;
done:
	buf_free(dom);
	return rc;
}

static int
parse_canon(struct sign_opts *o, const char *arg)
{
	const char	*slash = strchr(arg, '/');
	size_t		 hlen = slash != NULL ? (size_t)(slash - arg) :
			    strlen(arg);

	o->bcanon = CANON_SIMPLE;	/* RFC 6376 3.5: "relaxed" alone */
	if (canon_parse_alg(arg, hlen, &o->hcanon) == -1 ||
	    (slash != NULL && canon_parse_alg(slash + 1, strlen(slash + 1),
	    &o->bcanon) == -1)) {
		ctl_err("sign: --canon wants simple|relaxed[/simple|relaxed]");
		return -1;
	}
	return 0;
}

static int
parse_uint(const char *arg, uint64_t max, uint64_t *out)
{
	char			*end;
	unsigned long long	 v;

	if (arg[0] < '0' || arg[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return -1;
	*out = v;
	return 0;
}

/* SECONDS with an optional s, m, h or d suffix. */
static int
parse_duration(const char *arg, uint64_t *out)
{
	char		 num[32];
	size_t		 n = strlen(arg);
	uint64_t	 mul = 1, v;

	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, arg, n + 1);
	switch (num[n - 1]) {
	case 'd':
		mul = 86400;
		break;
	case 'h':
		mul = 3600;
		break;
	case 'm':
		mul = 60;
		break;
	case 's':
		break;
	default:
		n++;
		break;
	}
	num[n - 1] = '\0';
	if (parse_uint(num, UINT32_MAX, &v) == -1)
		return -1;
	*out = v * mul;
	return 0;
}

/*
 * --headers: the sign list; the default oversign names that appear in
 * it stay oversigned.
 */
static int
parse_headers(struct sign_opts *o, const char *arg)
{
	char	*p, *name;
	size_t	 i;

	free(o->headers_arg);
	if ((o->headers_arg = strdup(arg)) == NULL)
		return -1;
	o->nsign = o->noversign = 0;
	for (p = o->headers_arg; (name = strsep(&p, ",")) != NULL;) {
		name += strspn(name, " \t");
		name[strcspn(name, " \t")] = '\0';
		if (*name == '\0')
			continue;
		if (o->nsign == SIGN_HEADERS_MAX)
			return -1;
		o->sign[o->nsign++] = name;
		for (i = 0; i < dkim_default_noversign; i++)
			if (strcasecmp(name, dkim_default_oversign[i]) == 0)
				o->oversign[o->noversign++] = name;
	}
	return o->nsign > 0 ? 0 : -1;
}

static void
opts_free(struct sign_opts *o)
{
	size_t	i;

	for (i = 0; i < o->nkeys; i++) {
		keys_free(o->keys[i].key);
		free(o->keys[i].selector);
		free(o->keys[i].domain);
	}
	free(o->headers_arg);
}

/* What makes the message unsafe to sign; NULL when it is fine. */
static const char *
check_message(const struct buf *m, size_t hdrlen, struct hdr_list **hlp)
{
	static char	 why[128];
	const uint8_t	*p = buf_data(m), *v;
	struct buf	*dom;
	enum hdr_err	 he;
	enum addr_err	 ae;
	size_t		 i, len = buf_len(m), vlen, erroff;
	long		 from;

	if (memchr(p, '\0', len) != NULL)
		return "message contains a NUL octet";
	for (i = 0; i < len; i++)
		if (p[i] == '\r' && (i + 1 == len || p[i + 1] != '\n'))
			return "message contains a bare CR";
	if ((he = hdr_parse(p, hdrlen, NULL, hlp, &erroff)) != HDR_OK) {
		snprintf(why, sizeof(why), "malformed header section at "
		    "octet %zu: %s", erroff, hdr_strerror(he));
		return why;
	}
	for (i = 0; i < hdr_count(*hlp); i++)
		if (hdr_longest_line(*hlp, i) > HDR_LINE_MAX)
			return "header line over 998 octets (RFC 5322 2.1.1)";
	if (hdr_count_name(*hlp, "from") == 0)
		return "no From header field";
	if (hdr_count_name(*hlp, "from") > 1)
		return "more than one From header field";
	from = hdr_find(*hlp, "from");
	v = hdr_value(*hlp, (size_t)from, &vlen);
	if ((dom = buf_new(0)) == NULL)
		return "out of memory";
	ae = addr_parse_mailbox(v, vlen, NULL, dom);
	buf_free(dom);
	if (ae == ADDR_ERR_NO_DOMAIN)
		return "From address has no domain";
	if (ae != ADDR_OK) {
		snprintf(why, sizeof(why), "From: %s", addr_strerror(ae));
		return why;
	}
	return NULL;
}

static int
sign_message(const struct sign_opts *o)
{
	struct buf		*m = NULL, *out = NULL;
	struct hdr_list		*hl = NULL;
	struct hash_body	*hb = NULL;
	struct dkim_signer	*s = NULL;
	struct dkim_params	 p;
	const char		*why;
	size_t			 hdrlen, bodyoff, i;
	int			 rc = CTL_FAIL;

	if ((m = buf_new(MSGFILE_MAX)) == NULL ||
	    (out = buf_new(0)) == NULL) {
		ctl_err("sign: out of memory");
		goto done;
	}
	if (msgfile_read(stdin, m) == -1) {
		ctl_err("sign: reading the message: %s", strerror(errno));
		goto done;
	}
	msgfile_split(m, &hdrlen, &bodyoff);
	if ((why = check_message(m, hdrlen, &hl)) != NULL) {
		ctl_err("sign: refused: %s", why);
		goto done;
	}
	if ((hb = hash_body_new()) == NULL ||
	    (s = dkim_signer_new(hb)) == NULL) {
		ctl_err("sign: out of memory");
		goto done;
	}
	for (i = 0; i < o->nkeys; i++) {
		memset(&p, 0, sizeof(p));
		p.alg = keys_alg(o->keys[i].key) == KEYS_ALG_ED25519_SHA256 ?
		    DKIM_ALG_ED25519_SHA256 : DKIM_ALG_RSA_SHA256;
		p.hcanon = o->hcanon;
		p.bcanon = o->bcanon;
		p.domain = o->keys[i].domain;
		p.selector = o->keys[i].selector;
		p.time = o->time;
		p.expiration = o->expiration;
		p.sign = o->sign;
		p.nsign = o->nsign;
		p.oversign = o->oversign;
		p.noversign = o->noversign;
		p.sign_fn = key_sign;
		p.sign_ctx = o->keys[i].key;
		if (dkim_signer_add(s, hl, &p) == -1) {
			ctl_err("sign: cannot sign as %s/%s (bad domain or "
			    "selector?)", o->keys[i].domain,
			    o->keys[i].selector);
			goto done;
		}
	}
	if (hash_body_update(hb, buf_data(m) + bodyoff,
	    buf_len(m) - bodyoff) == -1 || hash_body_final(hb) == -1 ||
	    dkim_signer_finish(s, hl, out) == -1) {
		ctl_err("sign: signing failed");
		goto done;
	}
	if (fwrite(buf_data(out), 1, buf_len(out), stdout) != buf_len(out) ||
	    fwrite(buf_data(m), 1, buf_len(m), stdout) != buf_len(m) ||
	    fflush(stdout) == EOF) {
		ctl_err("sign: writing the message: %s", strerror(errno));
		goto done;
	}
	rc = CTL_OK;
done:
	dkim_signer_free(s);
	hash_body_free(hb);
	hdr_free(hl);
	buf_free(out);
	buf_free(m);
	return rc;
}

static int
sign_run(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "canon", required_argument, NULL, 'c' },
		{ "headers", required_argument, NULL, 'H' },
		{ "time", required_argument, NULL, 't' },
		{ "expiration", required_argument, NULL, 'x' },
		{ "config", required_argument, NULL, 'C' },
		{ "client", required_argument, NULL, 'l' },
		{ "arc", no_argument, NULL, 'a' },
		{ "authserv-id", required_argument, NULL, 'A' },
		{ "dns-file", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sign_opts	 o;
	uint64_t		 t;
	const char		*config = NULL, *client = NULL;
	int			 ch, rc = CTL_USAGE, arc = 0, keyopts = 0;
	int			 help = 0;

	(void)ctl;
	memset(&o, 0, sizeof(o));
	o.hcanon = o.bcanon = CANON_RELAXED;
	o.time = (int64_t)time(NULL);
	o.expiration = SIGN_EXPIRATION;
	memcpy(o.sign, dkim_default_sign,
	    dkim_default_nsign * sizeof(o.sign[0]));
	o.nsign = dkim_default_nsign;
	memcpy(o.oversign, dkim_default_oversign,
	    dkim_default_noversign * sizeof(o.oversign[0]));
	o.noversign = dkim_default_noversign;

	/* Options first: --arc and --config decide before any key loads. */
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (ch == 'a')
			arc = 1;
		else if (ch == 'C')
			config = optarg;
		else if (ch == 'l')
			client = optarg;
		else if (ch == 'k' || ch == 'c' || ch == 'H' || ch == 'x')
			keyopts = 1;
		else if (ch == 'h')
			help = 1;
		else if (ch == '?') {
			sign_help(stderr);
			return CTL_USAGE;
		}
	}
	/* --help after --arc is the ARC help, which arc_cmd_sign prints. */
	if (arc)
		return arc_cmd_sign(argc, argv);
	if (help) {
		sign_help(stdout);
		return CTL_OK;
	}
	if (optind < argc) {
		ctl_err("sign: unexpected argument: %s", argv[optind]);
		return CTL_USAGE;
	}
	if (config != NULL && keyopts) {
		ctl_err("sign: --config takes keys, --canon, --headers and "
		    "--expiration from the configuration");
		return CTL_USAGE;
	}
	if (config == NULL && client != NULL) {
		ctl_err("sign: --client needs --config");
		return CTL_USAGE;
	}
	optind = 0;	/* glibc: rescan from the start, state reset */
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'k':
			if ((rc = parse_key_arg(&o, optarg)) != CTL_OK)
				goto done;
			break;
		case 'c':
			if (parse_canon(&o, optarg) == -1)
				goto usage;
			break;
		case 'H':
			if (parse_headers(&o, optarg) == -1) {
				ctl_err("sign: --headers wants a comma-"
				    "separated list of field names");
				goto usage;
			}
			break;
		case 't':
			if (parse_uint(optarg, INT64_MAX / 2, &t) == -1) {
				ctl_err("sign: --time wants seconds since "
				    "1970");
				goto usage;
			}
			o.time = (int64_t)t;
			break;
		case 'x':
			if (parse_duration(optarg, &o.expiration) == -1) {
				ctl_err("sign: --expiration wants SECONDS "
				    "with an optional s, m, h or d");
				goto usage;
			}
			break;
		default:
			break;
		}
	}
	if (config != NULL) {
		rc = sign_config_run(config, client, o.time);
		goto done;
	}
	if (o.nkeys == 0) {
		ctl_err("sign: at least one --key DOMAIN:SELECTOR:FILE");
		goto usage;
	}
	rc = sign_message(&o);
	goto done;
usage:
	rc = CTL_USAGE;
done:
	opts_free(&o);
	return rc;
}

const struct ctl_cmd ctl_cmd_sign = {
	"sign",
	"sign --key DOMAIN:SELECTOR:FILE [--key ...] [--canon C] "
	    "[--headers LIST] [--time UNIX] < in > out | "
	    "sign --config FILE [--client ADDR] [--time UNIX] < in > out | "
	    "sign --arc --key DOMAIN:SELECTOR:FILE "
	    "--authserv-id ID [--dns-file FILE] [--time UNIX] < in > out",
	sign_run,
};
