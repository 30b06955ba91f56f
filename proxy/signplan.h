/*
 * signplan — how signetd signs one message, as pure decisions over a
 * snapshot: which signatures (the From domain's entry and selectors,
 * the extra Ed25519 key, the tenant's extra signatures), with which
 * DKIM parameters (canonicalization, x=, the tenant's or the global
 * header lists), after which submission edits (RFC 6409 8).
 *
 * signetd's session and `signetctl sign --config` both call these, so
 * the offline signer signs exactly as the daemon does.  Nothing here
 * logs, replies or keeps state; keys stay owned by the snapshot.
 */
#ifndef SIGNET_SIGNPLAN_H
#define SIGNET_SIGNPLAN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config/config.h"
#include "keys/signer.h"

struct dkim_params;
struct hdr_list;
struct snapshot;

#define SIGNPLAN_SELECTOR_MAX	64	/* selector text, NUL included */
#define SIGNPLAN_SIGS_MAX	8	/* selectors + extra signatures */

/* One signature to make; key belongs to the snapshot it came from. */
struct signplan_sig {
	const struct keys_key	*key;
	enum keys_alg		 alg;
	char			 domain[CONFIG_DOMAIN_MAX + 1];
	char			 selector[SIGNPLAN_SELECTOR_MAX];
};

/* Told about each wanted domain/selector that has no loaded key. */
typedef void	(*signplan_missing_fn)(void *arg, const char *domain,
		    const char *selector);

/*
 * The signatures for mail whose From domain is from_domain (normalized),
 * in the order they go on top of the message, at most max: the
 * selectors of the domains: entry that signs it (config_domain()), the
 * entry's extra Ed25519 key, then tenant t's extra signatures (t may be
 * NULL: none).  Returns how many, 0 when the From domain has no entry
 * or none of its own selectors has a key (signetd's 451, TN-04).
 * missing (may be NULL) hears of every selector skipped for want of a
 * key (KY-01).
 */
size_t		 signplan_choose(const struct snapshot *,
		    const struct config_tenant *t, const char *from_domain,
		    struct signplan_sig *sigs, size_t max,
		    signplan_missing_fn missing, void *arg);

/*
 * signetd's checks of who wrote the message, in its order: at most
 * max_received Received fields, exactly one From with one mailbox
 * (DK-03, DK-04), a Sender with one mailbox, and both domains owned by
 * tenant t (TN-02; t NULL: not checked).  Fills from_domain (normalized)
 * and returns NULL when the message may be signed; otherwise returns
 * the log event's name and writes the reply to give into reply.
 */
const char	*signplan_check_authors(const struct config *,
		    const struct config_tenant *t, const struct hdr_list *,
		    char from_domain[CONFIG_DOMAIN_MAX + 1], char *reply,
		    size_t replylen);

/*
 * p for signature g made at time now: the configured canonicalization
 * and expiration, tenant t's header and oversign lists when it has its
 * own, else the global ones, else the built-in defaults (dkim.h).  p
 * points into cfg, t and g, which must outlive its use.
 */
void		 signplan_params(const struct config *cfg,
		    const struct config_tenant *t,
		    struct signplan_sig *g, int64_t now,
		    struct dkim_params *p);

/*
 * RFC 6409 8 (DK-15): remove Bcc, Resent-Bcc, Return-Path and
 * Content-Length; append Date (now, UTC) and Message-ID (now, random
 * octets, @from_domain) when missing.  0, or -1 out of memory.
 */
int		 signplan_submission_edits(struct hdr_list *,
		    const char *from_domain, time_t now);

#endif
