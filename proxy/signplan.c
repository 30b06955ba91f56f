/*
 * signplan — the signing decisions signetd makes for one message (see
 * signplan.h), shared by the session and `signetctl sign --config`.
 *
 * Invariants: the first signatures are the From domain's entry's own
 * selectors, so "no signature" means exactly "no key of the From
 * domain" whatever extras a tenant adds; a selector without a loaded
 * key is skipped, never signed with another key (KY-01).  Date and
 * Message-ID are appended below the existing fields, where a submission
 * agent adds them (RFC 6409 8.2, 8.3).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "config/config.h"
#include "keys/signer.h"
#include "keys/store.h"
#include "proxy/msg/addr.h"
#include "proxy/msg/buf.h"
#include "proxy/msg/canon.h"
#include "proxy/msg/dkim.h"
#include "proxy/msg/hash.h"
#include "proxy/msg/hdr.h"
#include "proxy/policy.h"
#include "proxy/signplan.h"
#include "proxy/snapshot.h"

#define SIGNPLAN_FIELD_MAX	1024	/* our Date or Message-ID field */
#define SIGNPLAN_MSGID_RANDOM	8	/* random octets in a Message-ID */

struct signplan_list {
	struct signplan_sig	*sigs;
	size_t			 n, max;
};

static void
signplan_add_key(struct signplan_list *l, const struct keys_key *k,
    const char *domain, const char *sel)
{
	struct signplan_sig	*g;

	if (l->n == l->max)
		return;
	g = &l->sigs[l->n++];
	g->key = k;
	g->alg = keys_alg(k);
	snprintf(g->domain, sizeof(g->domain), "%s", domain);
	snprintf(g->selector, sizeof(g->selector), "%s", sel);
}

static void
signplan_add_sig(struct signplan_list *l, const struct snapshot *snap,
    const char *domain, const char *sel, signplan_missing_fn missing,
    void *arg)
{
	const struct keys_key	*k;

	if ((k = snapshot_key(snap, domain, sel)) == NULL) {
		if (missing != NULL)
			missing(arg, domain, sel);
		return;
	}
	signplan_add_key(l, k, domain, sel);
}

size_t
signplan_choose(const struct snapshot *snap, const struct config_tenant *t,
    const char *from_domain, struct signplan_sig *sigs, size_t max,
    signplan_missing_fn missing, void *arg)
{
	const struct config_domain	*d;
	const struct keys_key		*k;
	const char			*sel;
	struct signplan_list		 l = { sigs, 0, max };
	size_t				 i;

	if ((d = config_domain(snapshot_config(snap), from_domain)) == NULL)
		return 0;
	for (i = 0; i < d->nselectors; i++)
		signplan_add_sig(&l, snap, d->name, d->selectors[i], missing,
		    arg);
	if (l.n == 0)
		return 0;
	/*
	 * RFC 8463: Ed25519 next to RSA; verifiers skip what they lack.  The
	 * rotated key of the ed25519 role when rotation manages it, else
	 * every Ed25519 key imported by hand under a selector of its own.
	 */
	if (d->extra_ed25519 && (k = snapshot_role_key(snap, d->name,
	    STORE_ROLE_ED25519, NULL, KEYS_ALG_ED25519_SHA256, &sel)) != NULL)
		signplan_add_key(&l, k, d->name, sel);
	else
		for (i = 0; d->extra_ed25519 && (k = snapshot_extra_ed25519(
		    snap, d->name, d->selectors, d->nselectors, i, &sel)) !=
		    NULL; i++)
			signplan_add_key(&l, k, d->name, sel);
	for (i = 0; t != NULL && i < t->nextra_signatures; i++)
		signplan_add_sig(&l, snap, t->extra_signatures[i].domain,
		    t->extra_signatures[i].selector, missing, arg);
	return l.n;
}

static enum canon_alg
signplan_canon(enum config_canon c)
{
	return c == CONFIG_CANON_SIMPLE ? CANON_SIMPLE : CANON_RELAXED;
}

static int
signplan_sign_fn(void *ctx, const uint8_t digest[HASH_SHA256_LEN],
    uint8_t *sig, size_t *siglen)
{
	const struct signplan_sig	*g = ctx;

	return keys_sign(g->key, g->alg, digest, sig, siglen);
}

void
signplan_params(const struct config *cfg, const struct config_tenant *t,
    struct signplan_sig *g, int64_t now, struct dkim_params *p)
{
	const struct config_signing	*sg;

	memset(p, 0, sizeof(*p));
	p->alg = g->alg == KEYS_ALG_ED25519_SHA256 ?
	    DKIM_ALG_ED25519_SHA256 : DKIM_ALG_RSA_SHA256;
	p->hcanon = signplan_canon(cfg->signing.canon_header);
	p->bcanon = signplan_canon(cfg->signing.canon_body);
	p->domain = g->domain;
	p->selector = g->selector;
	p->time = now;
	p->expiration = cfg->signing.expiration_s;
	sg = t != NULL && t->signing.nheaders > 0 ? &t->signing :
	    &cfg->signing;
	p->sign = (const char *const *)sg->headers;
	p->nsign = sg->nheaders;
	p->oversign = (const char *const *)sg->oversign;
	p->noversign = sg->noversign;
	if (p->nsign == 0) {
		p->sign = dkim_default_sign;
		p->nsign = dkim_default_nsign;
		p->oversign = dkim_default_oversign;
		p->noversign = dkim_default_noversign;
	}
	p->sign_fn = signplan_sign_fn;
	p->sign_ctx = g;
}

/* The field's one mailbox's domain (normalized, addr.h); -1 if none. */
static int
signplan_field_domain(const struct hdr_list *hl, long i, char *out)
{
	const uint8_t	*v;
	size_t		 n;
	struct buf	*dom;
	int		 rv = -1;

	if ((dom = buf_new(CONFIG_DOMAIN_MAX)) == NULL)
		return -1;
	v = hdr_value(hl, (size_t)i, &n);
	if (addr_parse_mailbox(v, n, NULL, dom) == ADDR_OK &&
	    buf_len(dom) > 0 && buf_len(dom) <= CONFIG_DOMAIN_MAX) {
		memcpy(out, buf_data(dom), buf_len(dom));
		out[buf_len(dom)] = '\0';
		rv = 0;
	}
	buf_free(dom);
	return rv;
}

/* May tenant t (NULL: anybody) send as domain?  Else the 550 in reply. */
static int
signplan_owned(const struct config *cfg, const struct config_tenant *t,
    const char *domain, char *reply, size_t replylen)
{
	if (t == NULL || policy_from_domain(cfg, t, domain,
	    strlen(domain)) == POLICY_OK)
		return 1;
	snprintf(reply, replylen, "550 5.7.1 Error: %s may not send as %s",
	    t->name, domain);
	return 0;
}

const char *
signplan_check_authors(const struct config *cfg,
    const struct config_tenant *t, const struct hdr_list *hl,
    char from_domain[CONFIG_DOMAIN_MAX + 1], char *reply, size_t replylen)
{
	char	 sender[CONFIG_DOMAIN_MAX + 1];
	long	 fi;

	if (hdr_count_name(hl, "received") >= cfg->limits.max_received) {
		snprintf(reply, replylen, "554 5.4.0 Error: too many hops");
		return "too_many_hops";
	}
	if (hdr_count_name(hl, "from") > 1) {
		snprintf(reply, replylen, "554 5.6.0 Error: message has more "
		    "than one From header");
		return "multiple_from";
	}
	fi = hdr_find(hl, "from");
	if (fi == -1 || signplan_field_domain(hl, fi, from_domain) == -1) {
		snprintf(reply, replylen, "554 5.6.0 Error: message needs "
		    "exactly one From address");
		return "bad_from";
	}
	if (!signplan_owned(cfg, t, from_domain, reply, replylen))
		return "from_not_owned";
	if ((fi = hdr_find(hl, "sender")) == -1)
		return NULL;
	if (signplan_field_domain(hl, fi, sender) == -1) {
		snprintf(reply, replylen, "554 5.6.0 Error: malformed Sender "
		    "header");
		return "bad_sender";
	}
	if (!signplan_owned(cfg, t, sender, reply, replylen))
		return "from_not_owned";
	return NULL;
}

int
signplan_submission_edits(struct hdr_list *hl, const char *from_domain,
    time_t now)
{
	static const char *const drop[] = { "bcc", "resent-bcc",
	    "return-path", "content-length" };
	struct buf	*f = NULL;
	struct tm	 tm;
	char		 date[64];
	uint8_t		 rnd[SIGNPLAN_MSGID_RANDOM];
	size_t		 i, j;
	int		 rv = -1;

	for (j = 0; j < sizeof(drop) / sizeof(drop[0]); j++) {
		for (i = hdr_count(hl); i > 0; i--)
			if (hdr_name_is(hl, i - 1, drop[j]) &&
			    hdr_remove(hl, i - 1) == -1)
				goto done;
	}
	if ((f = buf_new(SIGNPLAN_FIELD_MAX)) == NULL)
		goto done;
	if (hdr_find(hl, "date") == -1) {
		gmtime_r(&now, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000",
		    &tm);
		buf_printf(f, "Date: %s\r\n", date);
		if (hdr_insert(hl, hdr_count(hl), buf_data(f),
		    buf_len(f)) == -1)
			goto done;
	}
	if (hdr_find(hl, "message-id") == -1) {
		randombytes_buf(rnd, sizeof(rnd));
		buf_reset(f);
		buf_printf(f, "Message-ID: <%lld.%02x%02x%02x%02x%02x%02x%02x"
		    "%02x@%s>\r\n", (long long)now, rnd[0], rnd[1], rnd[2],
		    rnd[3], rnd[4], rnd[5], rnd[6], rnd[7], from_domain);
		if (hdr_insert(hl, hdr_count(hl), buf_data(f),
		    buf_len(f)) == -1)
			goto done;
	}
	rv = 0;
done:
	buf_free(f);
	return rv;
}
