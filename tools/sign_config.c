/*
 * sign_config — `signetctl sign --config FILE`: DKIM-sign a message from
 * stdin to stdout exactly as signetd with FILE would, so an operator can
 * see (and a test can compare) what the daemon puts on a message.
 *
 * The decisions are signetd's own code (signplan.h): the domains: entry
 * and selectors for the From domain, the keys loaded from the key store
 * as a snapshot does, canonicalization, expiration, header and oversign
 * lists, and the submission edits (Date and Message-ID when missing,
 * Bcc and friends removed).  The checks in front mirror signetd's DATA
 * refusals (framer.h, session.c) and print its reply line.  With
 * --client the tenant is found by network as signetd finds it and must
 * own the From (and Sender) domain; without it, any domain with a
 * domains: entry signs and the global header lists apply.
 *
 * Not applied: ARC sealing, the Received field, SMTPUTF8 negotiation
 * (8-bit header fields need only be valid UTF-8 here).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "config/config.h"
#include "proxy/framer.h"
#include "proxy/log.h"
#include "proxy/msg/buf.h"
#include "proxy/msg/dkim.h"
#include "proxy/msg/hash.h"
#include "proxy/msg/hdr.h"
#include "proxy/policy.h"
#include "proxy/signplan.h"
#include "proxy/snapshot.h"
#include "tools/ctl.h"
#include "tools/ctlenv.h"
#include "tools/msgfile.h"
#include "tools/sign_config.h"

#define SC_FOLD_SHOULD	78	/* RFC 5322 2.1.1 line length SHOULD */
#define SC_MISSING_MAX	512	/* "domain/selector, ..." on one line */
#define SC_WHY_MAX	(CONFIG_DOMAIN_MAX * 2 + 128)

struct sc_missing {
	char	 list[SC_MISSING_MAX];
	size_t	 n;
};

/* signplan_missing_fn: remember it; reported once the outcome is known. */
static void
sc_key_missing(void *arg, const char *domain, const char *sel)
{
	struct sc_missing	*m = arg;
	size_t			 len = strlen(m->list);

	snprintf(m->list + len, sizeof(m->list) - len, "%s%s/%s",
	    m->n > 0 ? ", " : "", domain, sel);
	m->n++;
}

/* --client: an IPv4 or IPv6 literal. */
static int
sc_parse_client(const char *arg, struct sockaddr_storage *ss)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, arg, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, arg, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		return 0;
	}
	return -1;
}

/* What the framer refuses before signetd looks at the header section. */
static const char *
sc_check_content(const struct config *cfg, const struct buf *m,
    size_t bodyoff)
{
	const uint8_t	*p = buf_data(m), *eol;
	size_t		 i, len = buf_len(m);

	if (cfg->limits.max_message_size != 0 &&
	    len > cfg->limits.max_message_size)
		return framer_bad_reply(FRAMER_TOO_BIG);
	if (memchr(p, '\0', len) != NULL)
		return framer_bad_reply(FRAMER_NUL);
	for (i = 0; i < len; i++)
		if (p[i] == '\r' && (i + 1 == len || p[i + 1] != '\n'))
			return framer_bad_reply(FRAMER_BARE_CR);
	/* Header lines are refolded instead (sc_refold). */
	for (i = bodyoff; i < len; i = (size_t)(eol - p) + 2) {
		if ((eol = memmem(p + i, len - i, "\r\n", 2)) == NULL)
			break;
		if ((size_t)(eol - (p + i)) > FRAMER_LINE_MAX)
			return framer_bad_reply(FRAMER_LINE_TOO_LONG);
	}
	return NULL;
}

/* DK-11 as signetd: refold long lines at 78, else 998; -1 if we can't. */
static int
sc_refold(struct hdr_list *hl)
{
	size_t	 i;

	for (i = 0; i < hdr_count(hl); i++)
		if (hdr_longest_line(hl, i) > HDR_LINE_MAX &&
		    hdr_refold(hl, i, SC_FOLD_SHOULD) == -1 &&
		    hdr_refold(hl, i, HDR_LINE_MAX) == -1)
			return -1;
	return 0;
}

/*
 * The header checks of signetd's session, in its order; fills
 * from_domain.  NULL when the message may be signed, else why not (in
 * signetd's words where it has a reply for it).
 */
static const char *
sc_check_header(const struct config *cfg, const struct config_tenant *t,
    struct hdr_list *hl, char *from_domain)
{
	static char	 why[SC_WHY_MAX];

	if (hdr_has_wsp_before_colon(hl))
		return "554 5.6.0 Error: malformed header section "
		    "(whitespace before a colon)";
	if (sc_refold(hl) == -1)
		return framer_bad_reply(FRAMER_LINE_TOO_LONG);
	if (signplan_check_authors(cfg, t, hl, from_domain, why,
	    sizeof(why)) != NULL)
		return why;
	if (!hdr_utf8_valid(hl))
		return "554 5.6.0 Error: malformed UTF-8 in header";
	if (config_domain(cfg, from_domain) == NULL) {
		snprintf(why, sizeof(why), "From domain %s has no domains: "
		    "entry (nor a parent with subdomains: true)",
		    from_domain);
		return why;
	}
	return NULL;
}

/* Sign m (header edited in hl) with sigs; write the result to stdout. */
static int
sc_sign(const struct config *cfg, const struct config_tenant *t,
    struct hdr_list *hl, const struct buf *m, size_t hdrlen,
    size_t bodyoff, struct signplan_sig *sigs, size_t nsigs, int64_t now)
{
	struct hash_body	*hb = NULL;
	struct dkim_signer	*s = NULL;
	struct buf		*out = NULL;
	struct dkim_params	 p;
	size_t			 i;
	int			 rc = CTL_FAIL;

	if ((out = buf_new(0)) == NULL || (hb = hash_body_new()) == NULL ||
	    (s = dkim_signer_new(hb)) == NULL) {
		ctl_err("sign: out of memory");
		goto done;
	}
	for (i = 0; i < nsigs; i++) {
		signplan_params(cfg, t, &sigs[i], now, &p);
		if (dkim_signer_add(s, hl, &p) == -1) {
			ctl_err("sign: cannot sign as %s/%s", sigs[i].domain,
			    sigs[i].selector);
			goto done;
		}
	}
	/* Our fields on top, then the edited header section, the empty
	 * line (when there was one) and the body, as signetd relays it. */
	if (hash_body_update(hb, buf_data(m) + bodyoff, buf_len(m) -
	    bodyoff) == -1 || hash_body_final(hb) == -1 ||
	    dkim_signer_finish(s, hl, out) == -1 ||
	    hdr_serialize(hl, out) == -1 ||
	    buf_append(out, buf_data(m) + hdrlen, buf_len(m) - hdrlen) ==
	    -1) {
		ctl_err("sign: signing failed");
		goto done;
	}
	if (fwrite(buf_data(out), 1, buf_len(out), stdout) != buf_len(out) ||
	    fflush(stdout) == EOF) {
		ctl_err("sign: writing the message: %s", strerror(errno));
		goto done;
	}
	rc = CTL_OK;
done:
	dkim_signer_free(s);
	hash_body_free(hb);
	buf_free(out);
	return rc;
}

int
sign_config_run(const char *path, const char *client, int64_t now)
{
	struct ctl			 c = { path, 1 };
	const struct config		*cfg;
	const struct config_tenant	*t = NULL;
	struct snapshot			*snap = NULL;
	struct buf			*m = NULL, *err = NULL;
	struct hdr_list			*hl = NULL;
	struct hdr_limits		 lim;
	struct sockaddr_storage		 ss;
	struct signplan_sig		 sigs[SIGNPLAN_SIGS_MAX];
	struct sc_missing		 missing;
	enum hdr_err			 he;
	const char			*why;
	char				 from[CONFIG_DOMAIN_MAX + 1];
	size_t				 hdrlen, bodyoff, nsigs, erroff;
	int				 rc = CTL_FAIL;

	if (client != NULL && sc_parse_client(client, &ss) == -1) {
		ctl_err("sign: --client wants an IPv4 or IPv6 address");
		return CTL_USAGE;
	}
	/* The key store's own log lines would repeat what we report. */
	log_init("signetctl", 1, LOG_CRIT);
	if ((cfg = ctlenv_config(&c)) == NULL)
		return CTL_FAIL;
	if ((err = buf_new(0)) == NULL ||
	    (m = buf_new(MSGFILE_MAX)) == NULL) {
		config_free(cfg);
		ctl_err("sign: out of memory");
		goto done;
	}
	/* snapshot_build_keys takes cfg; it lives as long as snap. */
	if ((snap = snapshot_build_keys(cfg, err)) == NULL) {
		ctl_err("sign: %s", buf_cstr(err) != NULL &&
		    buf_len(err) > 0 ? buf_cstr(err) : "out of memory");
		goto done;
	}
	cfg = snapshot_config(snap);
	if (client != NULL && (t = policy_tenant_for_client(cfg,
	    (const struct sockaddr *)&ss)) == NULL) {
		ctl_err("sign: refused: 530 5.7.0 Authentication required "
		    "(%s is in no tenant's networks:)", client);
		goto done;
	}
	if (msgfile_read(stdin, m) == -1) {
		ctl_err("sign: reading the message: %s", strerror(errno));
		goto done;
	}
	msgfile_split(m, &hdrlen, &bodyoff);
	if ((why = sc_check_content(cfg, m, bodyoff)) != NULL) {
		ctl_err("sign: refused: %s", why);
		goto done;
	}
	memset(&lim, 0, sizeof(lim));
	lim.field_max = (size_t)cfg->limits.header_field_max;
	lim.section_max = (size_t)cfg->limits.header_size_max;
	lim.fields_max = (size_t)cfg->limits.header_fields_max;
	if ((he = hdr_parse(buf_data(m), hdrlen, &lim, &hl, &erroff)) !=
	    HDR_OK) {
		ctl_err("sign: refused: malformed header section at octet "
		    "%zu: %s", erroff, hdr_strerror(he));
		goto done;
	}
	if ((why = sc_check_header(cfg, t, hl, from)) != NULL) {
		ctl_err("sign: refused: %s", why);
		goto done;
	}
	if (signplan_submission_edits(hl, from, (time_t)now) == -1) {
		ctl_err("sign: out of memory");
		goto done;
	}
	memset(&missing, 0, sizeof(missing));
	nsigs = signplan_choose(snap, t, from, sigs, SIGNPLAN_SIGS_MAX,
	    sc_key_missing, &missing);
	if (nsigs == 0) {
		ctl_err("sign: no usable signing key for %s in key store %s"
		    "%s%s%s", from, cfg->keystore, missing.n > 0 ? " (" : "",
		    missing.list, missing.n > 0 ? " missing or unreadable)" :
		    "");
		goto done;
	}
	if (missing.n > 0)
		ctl_err("sign: warning: no usable key for %s in key store %s; "
		    "signed without it", missing.list, cfg->keystore);
	rc = sc_sign(cfg, t, hl, m, hdrlen, bodyoff, sigs, nsigs, now);
done:
	hdr_free(hl);
	snapshot_unref(snap);
	buf_free(m);
	buf_free(err);
	return rc;
}
