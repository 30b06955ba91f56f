/*
 * signetctl dns [DOMAIN] — the zone-file records DNS should hold for the
 * key store: for every selector of every domain (or of DOMAIN), the
 * record of its newest key that is being or has been published
 * (PUBLISHING through DRAINING, rotation.md §b), TXT split into strings
 * of at most 255 octets (publish_rr_render).  For operators who publish
 * by hand and for diffing against a zone.  TTL: rotation.ttl.  Like the
 * keys commands, --keystore DIR works without a configuration file.
 *
 * Reads the store without its lock (journals are replaced atomically)
 * and loads each chosen key only to print its public half.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "keys/publish.h"
#include "keys/signer.h"
#include "keys/store.h"
#include "proxy/msg/buf.h"
#include "tools/ctl.h"
#include "tools/ctlenv.h"

#define ERR_LEN		512
#define USAGE		"dns [DOMAIN] [--keystore DIR]"
#define FQDN_MAX	(CONFIG_DOMAIN_MAX + 1)

static int
published_state(enum store_state s)
{
	return s >= STORE_PUBLISHING && s <= STORE_DRAINING;
}

/* The key of selector that DNS should show: the newest published one. */
static const struct store_key *
pick(const struct store_domain *d, const char *selector)
{
	const struct store_key	*k, *best = NULL;
	size_t			 i;

	for (i = 0; i < store_domain_nkeys(d); i++) {
		k = store_domain_key(d, i);
		if (strcmp(store_key_selector(k), selector) != 0 ||
		    !published_state(store_key_state(k)))
			continue;
		/* Later in the journal wins a tie: it was added later. */
		if (best == NULL || store_key_entered(k, STORE_GENERATED) >=
		    store_key_entered(best, STORE_GENERATED))
			best = k;
	}
	return best;
}

/* Print the domain's records; -1 after reporting a failure. */
static int
print_domain(struct store *st, unsigned ttl, const char *domain,
    struct buf *out)
{
	struct store_domain	*d;
	const struct store_key	*k;
	struct keys_key		*key;
	struct buf		*value = NULL;
	char			 err[ERR_LEN], path[PATH_MAX], fqdn[FQDN_MAX + 64];
	const char		*sel;
	size_t			 i, j;
	int			 ret = -1, dup;

	if ((d = store_domain_load(st, domain, err, sizeof(err))) == NULL) {
		ctl_err("%s", err);
		return -1;
	}
	if ((value = buf_new(PUBLISH_VALUE_MAX)) == NULL) {
		ctl_err("out of memory");
		goto done;
	}
	for (i = 0; i < store_domain_nkeys(d); i++) {
		sel = store_key_selector(store_domain_key(d, i));
		/* Each selector once, at its first key. */
		for (dup = 0, j = 0; j < i && !dup; j++)
			dup = strcmp(store_key_selector(store_domain_key(d, j)),
			    sel) == 0;
		if (dup || (k = pick(d, sel)) == NULL)
			continue;
		if (store_key_file(st, domain, store_key_id(k), path,
		    sizeof(path)) == -1 ||
		    (key = keys_load(path, err, sizeof(err))) == NULL) {
			ctl_err("%s %s: cannot load key %s", domain, sel,
			    store_key_id(k));
			goto done;
		}
		buf_reset(value);
		if (keys_dns_record(key, value) == -1) {
			keys_free(key);
			ctl_err("%s %s: cannot form the record", domain, sel);
			goto done;
		}
		keys_free(key);
		snprintf(fqdn, sizeof(fqdn), "%s._domainkey.%s", sel, domain);
		if (publish_rr_render(out, fqdn, ttl,
		    buf_data(value), buf_len(value)) == -1) {
			ctl_err("%s: cannot render the record", fqdn);
			goto done;
		}
	}
	ret = 0;
done:
	buf_free(value);
	store_domain_free(d);
	return ret;
}

static int
run(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "keystore",	required_argument,	NULL, 'k' },
		{ NULL,		0,			NULL, 0 },
	};
	struct ctlenv		 e;
	struct store		*st = NULL;
	struct buf		*out = NULL;
	char			**domains = NULL;
	const char		*keystore = NULL;
	char			 err[ERR_LEN], one[CONFIG_DOMAIN_MAX + 1];
	size_t			 i;
	int			 ch, ret = CTL_FAIL;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (ch != 'k') {
			ctl_err("usage: signetctl %s", USAGE);
			return CTL_USAGE;
		}
		keystore = optarg;
	}
	argc -= optind;
	argv += optind;
	if (argc > 1) {
		ctl_err("usage: signetctl %s", USAGE);
		return CTL_USAGE;
	}
	if (argc == 1 && config_domain_normalize(argv[0], strlen(argv[0]),
	    one) == -1) {
		ctl_err("not a domain name: %s", argv[0]);
		return CTL_USAGE;
	}
	if (ctlenv_open(ctl, keystore, &e) == -1)
		return CTL_FAIL;
	if ((out = buf_new(0)) == NULL) {
		ctl_err("out of memory");
		goto done;
	}
	if ((st = store_open(e.keystore, 0, err, sizeof(err))) == NULL) {
		ctl_err("%s", err);
		goto done;
	}
	if (argc == 1) {
		if (print_domain(st, e.ttl, one, out) == -1)
			goto done;
	} else {
		if ((domains = store_domains(st, err, sizeof(err))) == NULL) {
			ctl_err("%s", err);
			goto done;
		}
		for (i = 0; domains[i] != NULL; i++)
			if (print_domain(st, e.ttl, domains[i], out) == -1)
				goto done;
	}
	if (fwrite(buf_data(out), 1, buf_len(out), stdout) != buf_len(out) ||
	    fflush(stdout) != 0) {
		ctl_err("write error");
		goto done;
	}
	ret = CTL_OK;
done:
	store_domains_free(domains);
	store_close(st);
	ctlenv_close(&e);
	buf_free(out);
	return ret;
}

const struct ctl_cmd ctl_cmd_dns = {
	"dns",
	USAGE,
	run,
};
