/*
 * signetctl sign --arc / verify --arc: RFC 8617 sealing and chain
 * validation for one message, stdin to stdout.
 *
 * sign --arc, in this order (hostile-inputs AR-01, AR-02):
 *  1. every Authentication-Results field claiming --authserv-id is
 *     deleted (RFC 8601 5), so nothing the client wrote speaks for us;
 *  2. the DKIM signatures and the ARC chain are validated with keys
 *     from --dns-file or live DNS (libldns, /etc/resolv.conf);
 *  3. one ARC set is added whose AAR holds only what step 2 found
 *     ("dkim=... header.d=... header.s=...; arc=none|pass|fail") and
 *     whose cv= is our own chain result; none is added when the newest
 *     seal already says cv=fail or 50 sets exist (a note on stderr).
 * A chain that fails only because a key lookup failed is not sealed
 * (exit 1): sealing it cv=fail would end it for good over our hiccup.
 *
 * verify --arc prints the chain result, then each set's AMS and AS:
 *
 *	arc RESULT REASON
 *	i=N ams d=DOMAIN s=SELECTOR RESULT REASON
 *	i=N as d=DOMAIN s=SELECTOR cv=CV RESULT REASON
 *
 * and exits 0 only when the chain passes.  Keys are loaded and used
 * only through keys/signer.h; ARC is rsa-sha256 only (RFC 8617).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keys/signer.h"
#include "proxy/msg/addr.h"
#include "proxy/msg/arc.h"
#include "proxy/msg/buf.h"
#include "proxy/msg/hash.h"
#include "proxy/msg/hdr.h"
#include "proxy/msg/verify.h"
#include "tools/arc_cmd.h"
#include "tools/ctl.h"
#include "tools/dnslookup.h"
#include "tools/msgfile.h"

#define ARC_CMD_OUT_MAX		200	/* tag octets shown (RS-04) */
/* Authentication-Results fields we may delete: all a section holds. */
#define ARC_CMD_AR_MAX		HDR_FIELDS_MAX
#define ARC_CMD_RESULTS_MAX	(64 * 1024)	/* our AAR results */
#define ARC_CMD_HELPED		(-1)	/* parse_opts printed help */

struct arc_opts {
	const char	*cmd;		/* "sign" or "verify" */
	const char	*key_arg;
	const char	*authserv_id;
	const char	*dnsfile;
	const char	*headers;
	int64_t		 time;
};

/* One message in memory, parsed. */
struct message {
	struct buf		*raw;
	struct hdr_list		*hl;
	size_t			 bodyoff;
	struct hash_body	*hb;
	struct verify		*v;
	struct arc		*a;
};

static void
sign_help(FILE *f)
{
	fprintf(f,
"usage: signetctl sign --arc --key DOMAIN:SELECTOR:FILE --authserv-id ID\n"
"           [--dns-file FILE] [--time UNIX] [--headers LIST] < in > out\n"
"  Deletes Authentication-Results fields claiming ID, validates the DKIM\n"
"  signatures and the ARC chain, and adds one ARC set sealed with the\n"
"  key (RSA; cv= from our own validation).  No set is added when the\n"
"  newest seal says cv=fail or 50 sets exist.\n"
"  --dns-file  key records as \"name TXT-value\" lines instead of DNS\n"
"  --time      t= and the clock for x= (default: now)\n"
"  --headers   comma-separated field names for the AMS h= instead of\n"
"              the DKIM default list\n");
}

static void
verify_help(FILE *f)
{
	fprintf(f,
"usage: signetctl verify --arc [--dns-file FILE] [--time UNIX] < msg\n"
"  The ARC chain result (RFC 8617 5.2), then each set's AMS and AS.\n"
"  Exit 0 only if the chain passes.\n");
}

static int
parse_time(const char *arg, int64_t *out)
{
	char			*end;
	unsigned long long	 t;

	errno = 0;
	t = strtoull(arg, &end, 10);
	if (arg[0] < '0' || arg[0] > '9' || errno != 0 || *end != '\0' ||
	    t > INT64_MAX / 2)
		return -1;
	*out = (int64_t)t;
	return 0;
}

/*
 * Rescan the subcommand's options: CTL_OK to go on, ARC_CMD_HELPED
 * after --help, else the exit code to return.
 */
static int
parse_opts(int argc, char **argv, int sign, struct arc_opts *o)
{
	static const struct option longopts[] = {
		{ "arc", no_argument, NULL, 'a' },
		{ "key", required_argument, NULL, 'k' },
		{ "authserv-id", required_argument, NULL, 'A' },
		{ "dns-file", required_argument, NULL, 'D' },
		{ "time", required_argument, NULL, 't' },
		{ "headers", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	void	(*help)(FILE *) = sign ? sign_help : verify_help;
	int	 ch;

	memset(o, 0, sizeof(*o));
	o->cmd = sign ? "sign" : "verify";
	o->time = (int64_t)time(NULL);
	optind = 0;	/* glibc: rescan from the start, state reset */
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			break;
		case 'k':
		case 'A':
		case 'H':
			if (!sign)
				goto usage;
			if (ch == 'k') {
				if (o->key_arg != NULL) {
					ctl_err("sign: --arc takes one --key");
					return CTL_USAGE;
				}
				o->key_arg = optarg;
			} else if (ch == 'A')
				o->authserv_id = optarg;
			else
				o->headers = optarg;
			break;
		case 'D':
			o->dnsfile = optarg;
			break;
		case 't':
			if (parse_time(optarg, &o->time) == -1) {
				ctl_err("%s: --time wants seconds since 1970",
				    o->cmd);
				return CTL_USAGE;
			}
			break;
		case 'h':
			help(stdout);
			return ARC_CMD_HELPED;
		default:
			goto usage;
		}
	}
	if (optind < argc) {
		ctl_err("%s: unexpected argument: %s", o->cmd, argv[optind]);
		return CTL_USAGE;
	}
	if (sign && (o->key_arg == NULL || o->authserv_id == NULL)) {
		ctl_err("sign: --arc needs --key DOMAIN:SELECTOR:FILE and "
		    "--authserv-id ID");
		return CTL_USAGE;
	}
	return CTL_OK;
usage:
	help(stderr);
	return CTL_USAGE;
}

static void
message_free(struct message *m)
{
	arc_free(m->a);
	verify_free(m->v);
	hash_body_free(m->hb);
	hdr_free(m->hl);
	buf_free(m->raw);
}

static int
message_read(struct message *m, const struct arc_opts *o)
{
	enum hdr_err	he;
	size_t		hdrlen, erroff;

	memset(m, 0, sizeof(*m));
	if ((m->raw = buf_new(MSGFILE_MAX)) == NULL) {
		ctl_err("%s: out of memory", o->cmd);
		return -1;
	}
	if (msgfile_read(stdin, m->raw) == -1) {
		ctl_err("%s: reading the message: %s", o->cmd,
		    strerror(errno));
		return -1;
	}
	msgfile_split(m->raw, &hdrlen, &m->bodyoff);
	if ((he = hdr_parse(buf_data(m->raw), hdrlen, NULL, &m->hl,
	    &erroff)) != HDR_OK) {
		ctl_err("%s: malformed header section at octet %zu: %s",
		    o->cmd, erroff, hdr_strerror(he));
		return -1;
	}
	return 0;
}

/* RFC 8601 5: delete the Authentication-Results claiming our id. */
static int
delete_ours(struct message *m, const struct arc_opts *o)
{
	size_t	*idx, n, i;

	if ((idx = calloc(ARC_CMD_AR_MAX, sizeof(*idx))) == NULL ||
	    arc_ar_ours(m->hl, o->authserv_id, idx, ARC_CMD_AR_MAX,
	    &n) == -1) {
		free(idx);
		ctl_err("sign: --authserv-id must be a token (RFC 8601 2.2)");
		return -1;
	}
	/* From the bottom, so the indices above stay right. */
	for (i = n < ARC_CMD_AR_MAX ? n : ARC_CMD_AR_MAX; i > 0; i--)
		if (hdr_remove(m->hl, idx[i - 1]) == -1) {
			free(idx);
			ctl_err("sign: out of memory");
			return -1;
		}
	free(idx);
	if (n > 0)
		fprintf(stderr, "signetctl: sign: removed %zu "
		    "Authentication-Results claiming %s\n", n, o->authserv_id);
	return 0;
}

/* DKIM (when dkim) and ARC validation, keys asked for and answered. */
static int
validate(struct message *m, const struct arc_opts *o, int dkim)
{
	struct dnslookup	*l;
	struct buf		*name = NULL;
	const uint8_t		*txt, *body = (const uint8_t *)"";
	enum verify_dns		 ans;
	size_t			 i, tlen, bodylen = 0;
	int			 rc = -1;

	/* It has said why it failed; past it, only memory can. */
	if ((l = dnslookup_open(o->cmd, o->dnsfile)) == NULL)
		return -1;
	/* ARC first: its body hash slots must not be crowded out. */
	if ((m->hb = hash_body_new()) == NULL ||
	    (m->a = arc_new(m->hl, o->time, m->hb)) == NULL ||
	    (dkim && (m->v = verify_new(m->hl, o->time, m->hb)) == NULL) ||
	    (name = buf_new(VERIFY_KEY_TXT_MAX)) == NULL)
		goto done;
	for (i = 0; m->v != NULL && i < verify_count(m->v); i++) {
		buf_reset(name);
		if (verify_key_name(m->v, i, name) == -1)
			continue;
		ans = dnslookup_txt(l, name, &txt, &tlen);
		if (verify_answer(m->v, i, ans, txt, tlen) == -1)
			goto done;
	}
	for (i = 0; i < arc_key_count(m->a); i++) {
		buf_reset(name);
		if (arc_key_name(m->a, i, name) == -1)
			continue;
		ans = dnslookup_txt(l, name, &txt, &tlen);
		if (arc_answer(m->a, i, ans, txt, tlen) == -1)
			goto done;
	}
	if (buf_len(m->raw) > m->bodyoff) {
		body = buf_data(m->raw) + m->bodyoff;
		bodylen = buf_len(m->raw) - m->bodyoff;
	}
	if (hash_body_update(m->hb, body, bodylen) == -1 ||
	    hash_body_final(m->hb) == -1 ||
	    (m->v != NULL && verify_finish(m->v) == -1) ||
	    arc_finish(m->a) == -1)
		goto done;
	rc = 0;
done:
	if (rc == -1)
		ctl_err("%s: validation failed (out of memory?)", o->cmd);
	buf_free(name);
	dnslookup_close(l);
	return rc;
}

/*
 * An A-R property value: the tag as written when it is a plain token of
 * at most ARC_CMD_OUT_MAX octets (a hostile d= must not make our AAR a
 * line over 998 octets); otherwise the property is left out.
 */
static int
append_prop(struct buf *out, const char *prop, const uint8_t *v, size_t len)
{
	size_t	i;

	if (len > ARC_CMD_OUT_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (v[i] <= 0x20 || v[i] >= 0x7f || v[i] == ';' ||
		    v[i] == '(' || v[i] == ')' || v[i] == '"' || v[i] == '\\')
			return 0;
	if (len == 0)
		return 0;
	return buf_printf(out, " %s=%.*s", prop, (int)len, (const char *)v);
}

/* Our results (RFC 8601 2.7.1, RFC 8617 4.1.1): DKIM, then arc=. */
static int
our_results(const struct message *m, struct buf *out)
{
	const uint8_t	*p;
	size_t		 i, len;

	for (i = 0; i < verify_count(m->v); i++) {
		if (buf_printf(out, "%sdkim=%s", i > 0 ? "; " : "",
		    verify_result_name(verify_result(m->v, i))) == -1)
			return -1;
		p = verify_domain(m->v, i, &len);
		if (append_prop(out, "header.d", p, len) == -1)
			return -1;
		p = verify_selector(m->v, i, &len);
		if (append_prop(out, "header.s", p, len) == -1)
			return -1;
	}
	if (verify_count(m->v) == 0 && buf_append_str(out, "dkim=none") == -1)
		return -1;
	return buf_printf(out, "; arc=%s", arc_cv_name(arc_result(m->a)));
}

/* --headers a,b,c -> "a:b:c" for the AMS h=. */
static char *
headers_list(const char *arg)
{
	char	*h, *p;

	if ((h = strdup(arg)) == NULL)
		return NULL;
	for (p = h; *p != '\0'; p++)
		if (*p == ',')
			*p = ':';
	return h;
}

static int
key_sign(void *ctx, const uint8_t digest[HASH_SHA256_LEN], uint8_t *sig,
    size_t *siglen)
{
	return keys_sign(ctx, KEYS_ALG_RSA_SHA256, digest, sig, siglen);
}

/* DOMAIN:SELECTOR:FILE; the file name may itself hold colons. */
static struct keys_key *
load_key(const char *arg, struct buf *domain, char **selector)
{
	struct keys_key	*k;
	const char	*c1, *c2;
	char		 err[256];

	if ((c1 = strchr(arg, ':')) == NULL ||
	    (c2 = strchr(c1 + 1, ':')) == NULL || c1 == arg ||
	    c2 == c1 + 1 || c2[1] == '\0') {
		ctl_err("sign: --key wants DOMAIN:SELECTOR:FILE");
		return NULL;
	}
	if (addr_normalize_domain((const uint8_t *)arg, (size_t)(c1 - arg),
	    domain) == -1 || buf_cstr(domain) == NULL) {
		ctl_err("sign: --key: bad domain");
		return NULL;
	}
	if ((*selector = strndup(c1 + 1, (size_t)(c2 - c1 - 1))) == NULL) {
		ctl_err("sign: out of memory");
		return NULL;
	}
	if ((k = keys_load(c2 + 1, err, sizeof(err))) == NULL) {
		ctl_err("sign: %s", err);
		return NULL;
	}
	if (keys_alg(k) != KEYS_ALG_RSA_SHA256) {
		ctl_err("sign: ARC seals are rsa-sha256 only (RFC 8617 4.1.3)");
		keys_free(k);
		return NULL;
	}
	return k;
}

static int
write_all(const struct buf *b)
{
	return fwrite(buf_data(b), 1, buf_len(b), stdout) == buf_len(b) ?
	    0 : -1;
}

int
arc_cmd_sign(int argc, char **argv)
{
	struct arc_opts		 o;
	struct message		 m;
	struct arc_seal_params	 p;
	struct keys_key		*key = NULL;
	struct buf		*domain = NULL, *results = NULL, *out = NULL;
	char			*selector = NULL, *hlist = NULL;
	int			 rc;

	memset(&m, 0, sizeof(m));
	if ((rc = parse_opts(argc, argv, 1, &o)) != CTL_OK)
		return rc == ARC_CMD_HELPED ? CTL_OK : rc;
	rc = CTL_FAIL;
	if ((domain = buf_new(0)) == NULL ||
	    (results = buf_new(ARC_CMD_RESULTS_MAX)) == NULL ||
	    (out = buf_new(0)) == NULL) {
		ctl_err("sign: out of memory");
		goto done;
	}
	if ((key = load_key(o.key_arg, domain, &selector)) == NULL)
		goto done;
	if (o.headers != NULL && (hlist = headers_list(o.headers)) == NULL) {
		ctl_err("sign: out of memory");
		goto done;
	}
	if (message_read(&m, &o) == -1 || delete_ours(&m, &o) == -1 ||
	    validate(&m, &o, 1) == -1)
		goto done;
	if (arc_temporary(m.a)) {
		ctl_err("sign: not sealing: %s (temporary; try again)",
		    arc_reason(m.a));
		goto done;
	}
	if (arc_next_instance(m.a) == 0)
		fprintf(stderr, "signetctl: sign: no ARC set added: %s\n",
		    arc_reason(m.a));
	memset(&p, 0, sizeof(p));
	p.domain = (const char *)buf_cstr(domain);
	p.selector = selector;
	p.authserv_id = o.authserv_id;
	p.time = o.time;
	p.headers = hlist;
	p.sign_fn = key_sign;
	p.sign_ctx = key;
	if (our_results(&m, results) == -1 || buf_cstr(results) == NULL) {
		ctl_err("sign: out of memory");
		goto done;
	}
	p.results = (const char *)buf_cstr(results);
	if (arc_seal(m.a, m.hl, &p, out) == -1) {
		ctl_err("sign: sealing failed (bad selector or --headers?)");
		goto done;
	}
	if (hdr_serialize(m.hl, out) == -1 || buf_append(out, "\r\n", 2) ==
	    -1 || (buf_len(m.raw) > m.bodyoff && buf_append(out,
	    buf_data(m.raw) + m.bodyoff, buf_len(m.raw) - m.bodyoff) == -1)) {
		ctl_err("sign: out of memory");
		goto done;
	}
	if (write_all(out) == -1 || fflush(stdout) == EOF) {
		ctl_err("sign: writing the message: %s", strerror(errno));
		goto done;
	}
	rc = CTL_OK;
done:
	message_free(&m);
	keys_free(key);
	free(hlist);
	free(selector);
	buf_free(out);
	buf_free(results);
	buf_free(domain);
	return rc;
}

static void
print_field(struct buf *line, const char *name, const uint8_t *v,
    size_t len)
{
	buf_printf(line, " %s=", name);
	buf_append_escaped(line, v, len, ARC_CMD_OUT_MAX);
}

int
arc_cmd_verify(int argc, char **argv)
{
	struct arc_opts	 o;
	struct message	 m;
	struct buf	*line = NULL;
	const uint8_t	*d, *s;
	size_t		 i, dlen, slen;
	int		 rc;

	memset(&m, 0, sizeof(m));
	if ((rc = parse_opts(argc, argv, 0, &o)) != CTL_OK)
		return rc == ARC_CMD_HELPED ? CTL_OK : rc;
	rc = CTL_FAIL;
	if ((line = buf_new(0)) == NULL) {
		ctl_err("verify: out of memory");
		goto done;
	}
	if (message_read(&m, &o) == -1 || validate(&m, &o, 0) == -1)
		goto done;
	buf_printf(line, "arc %s %s\n", arc_cv_name(arc_result(m.a)),
	    arc_reason(m.a));
	for (i = 1; i <= arc_set_count(m.a); i++) {
		buf_printf(line, "i=%zu ams", i);
		d = arc_ams_domain(m.a, i, &dlen);
		s = arc_ams_selector(m.a, i, &slen);
		print_field(line, "d", d, dlen);
		print_field(line, "s", s, slen);
		buf_printf(line, " %s %s\ni=%zu as",
		    verify_result_name(arc_ams_result(m.a, i)),
		    arc_ams_reason(m.a, i), i);
		d = arc_as_domain(m.a, i, &dlen);
		s = arc_as_selector(m.a, i, &slen);
		print_field(line, "d", d, dlen);
		print_field(line, "s", s, slen);
		buf_printf(line, " cv=%s %s %s\n",
		    arc_cv_name(arc_set_cv(m.a, i)),
		    verify_result_name(arc_as_result(m.a, i)),
		    arc_as_reason(m.a, i));
	}
	if (write_all(line) == -1 || fflush(stdout) == EOF) {
		ctl_err("verify: writing: %s", strerror(errno));
		goto done;
	}
	rc = arc_result(m.a) == ARC_CV_PASS ? CTL_OK : CTL_FAIL;
done:
	message_free(&m);
	buf_free(line);
	return rc;
}
