/*
 * signetctl check — compare live DNS with the key store.  For every key
 * whose record must be visible now (VISIBLE, READY, ACTIVE, DRAINING;
 * rotation.md §b and the drift row of §e), ask every authoritative
 * server (rotation.dns.authoritative, else the zone's NS set found
 * through /etc/resolv.conf) with dnscheck: AA, exactly one TXT record,
 * byte-identical to the key's record.  One line per key and server:
 *
 *   DOMAIN SELECTOR KEY-ID SERVER STATUS [DETAIL]
 *
 * Exit 0 when every line is "match", 1 otherwise (or on any error).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "keys/dnscheck.h"
#include "keys/signer.h"
#include "keys/store.h"
#include "tools/ctl.h"
#include "tools/ctlenv.h"

#define ERR_LEN		512

static int
visible_state(enum store_state s)
{
	return s >= STORE_VISIBLE && s <= STORE_DRAINING;
}

/* Check one key; *failed counts lines that are not a match. */
static int
check_key(struct store *st, const struct config *cfg,
    const struct dnscheck_server *servers, const char *domain,
    const struct store_key *k, size_t *nlines, size_t *failed)
{
	struct dnscheck_cfg	 dc;
	struct dnscheck_report	*r = NULL;
	struct keys_key		*key = NULL;
	char			 err[ERR_LEN], path[PATH_MAX];
	const char		*sel = store_key_selector(k);
	const char		*id = store_key_id(k);
	size_t			 i;
	int			 ret = -1;

	if (store_key_file(st, domain, id, path, sizeof(path)) == -1 ||
	    (key = keys_load(path, err, sizeof(err))) == NULL) {
		ctl_err("%s %s: cannot load key %s", domain, sel, id);
		goto done;
	}
	memset(&dc, 0, sizeof(dc));
	dc.zone = config_zone(cfg, domain);
	dc.servers = servers;
	dc.nservers = cfg->rotation.nauthoritative;
	if ((r = dnscheck_key(&dc, domain, sel, key, err,
	    sizeof(err))) == NULL) {
		printf("%s %s %s - error %s\n", domain, sel, id, err);
		(*nlines)++;
		(*failed)++;
		ret = 0;
		goto done;
	}
	for (i = 0; i < dnscheck_report_count(r); i++) {
		printf("%s %s %s %s %s%s%s\n", domain, sel, id,
		    dnscheck_report_server(r, i),
		    dnscheck_status_name(dnscheck_report_status(r, i)),
		    dnscheck_report_detail(r, i)[0] != '\0' ? " " : "",
		    dnscheck_report_detail(r, i));
		(*nlines)++;
		if (dnscheck_report_status(r, i) != DNSCHECK_MATCH)
			(*failed)++;
	}
	ret = 0;
done:
	dnscheck_report_free(r);
	keys_free(key);
	return ret;
}

static int
check_domain(struct store *st, const struct config *cfg,
    const struct dnscheck_server *servers, const char *domain,
    size_t *nlines, size_t *failed)
{
	struct store_domain	*d;
	const struct store_key	*k;
	char			 err[ERR_LEN];
	size_t			 i;
	int			 ret = 0;

	if ((d = store_domain_load(st, domain, err, sizeof(err))) == NULL) {
		ctl_err("%s", err);
		return -1;
	}
	for (i = 0; i < store_domain_nkeys(d) && ret == 0; i++) {
		k = store_domain_key(d, i);
		if (visible_state(store_key_state(k)))
			ret = check_key(st, cfg, servers, domain, k, nlines,
			    failed);
	}
	store_domain_free(d);
	return ret;
}

static int
run(struct ctl *ctl, int argc, char **argv)
{
	const struct config	*cfg = NULL;
	struct store		*st = NULL;
	struct dnscheck_server	*servers = NULL;
	char			**domains = NULL;
	char			 err[ERR_LEN];
	size_t			 i, nlines = 0, failed = 0;
	int			 ret = CTL_FAIL;

	(void)argv;
	if (argc != 1) {
		ctl_err("usage: signetctl check");
		return CTL_USAGE;
	}
	if ((cfg = ctlenv_config(ctl)) == NULL)
		goto done;
	if (cfg->rotation.nauthoritative > 0) {
		if ((servers = calloc(cfg->rotation.nauthoritative,
		    sizeof(*servers))) == NULL) {
			ctl_err("out of memory");
			goto done;
		}
		for (i = 0; i < cfg->rotation.nauthoritative; i++) {
			servers[i].host = cfg->rotation.authoritative[i].host;
			servers[i].port = cfg->rotation.authoritative[i].port;
		}
	}
	if ((st = store_open(cfg->keystore, 0, err, sizeof(err))) == NULL ||
	    (domains = store_domains(st, err, sizeof(err))) == NULL) {
		ctl_err("%s", err);
		goto done;
	}
	for (i = 0; domains[i] != NULL; i++)
		if (check_domain(st, cfg, servers, domains[i], &nlines,
		    &failed) == -1)
			goto done;
	if (fflush(stdout) != 0) {
		ctl_err("write error");
		goto done;
	}
	if (failed > 0) {
		ctl_err("%zu of %zu checks do not match the key store", failed,
		    nlines);
		goto done;
	}
	ret = CTL_OK;
done:
	store_domains_free(domains);
	store_close(st);
	free(servers);
	config_free(cfg);
	return ret;
}

const struct ctl_cmd ctl_cmd_check = {
	"check",
	"check",
	run,
};
