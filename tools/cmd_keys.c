/*
 * signetctl keys init|import|list — the key store from the command line
 * (DESIGN.md contracts, keys/store.h for the layout).
 *
 *   keys init DOMAIN     new keys for the domain's selectors, ACTIVE at
 *                        once (the operator publishes DNS by hand), and
 *                        the zone-file records to publish.  A domain
 *                        with arc enabled also gets its ARC key (RSA,
 *                        RFC 8617 4.1.3) under arc.selector.  A domain
 *                        that already signs is left alone unless --force;
 *                        keys it replaces become DRAINING.
 *   keys import DOMAIN SELECTOR FILE
 *                        an existing key (OpenDKIM PKCS#1 .private,
 *                        dkimpy/rspamd base64 Ed25519 seed, PKCS#8) as
 *                        that selector's ACTIVE key, rewritten as PKCS#8
 *                        0600 under its id.  FILE is only read.  A FILE
 *                        readable by others, owned by someone else or
 *                        reached through a symlink is imported with a
 *                        warning: the user is migrating away from it,
 *                        and the store's copy is safe.
 *   keys list            one row per key of every domain: selector,
 *                        algorithm, id, state, age, and the key's next
 *                        rotation step with its earliest time (from the
 *                        configuration's rotation: settings; "-" when
 *                        the domain does not rotate or the key is done).
 *
 * Settings come from the flags, then from the configuration's domains:
 * entry (when the file exists and names the domain), then the defaults
 * (s1,s2; rsa 2048; keystore /var/lib/signet/keys).  Writers take the
 * domain's lock without waiting: a busy store is reported, not waited on.
 */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "keys/rotate.h"
#include "keys/signer.h"
#include "keys/store.h"
#include "proxy/msg/buf.h"
#include "tools/ctl.h"
#include "tools/ctlenv.h"
#include "tools/rotenv.h"

#define ERR_LEN			512
#define KEYS_INIT_SELECTORS_MAX	16
/* An ARC key for an Ed25519 domain: RSA of this size (RFC 8301). */
#define KEYS_ARC_BITS_DEF	2048

static const char usage_line[] =
    "keys init DOMAIN [--selectors s1,s2] [--algorithm rsa|ed25519] "
    "[--bits N] [--keystore DIR] [--force] | "
    "keys import DOMAIN SELECTOR FILE [--keystore DIR] [--force] | "
    "keys list [--keystore DIR]";

struct opts {
	const char	*keystore;
	const char	*selectors;
	const char	*algorithm;
	const char	*bits;
	int		 force;
};


static int
parse_opts(int argc, char **argv, struct opts *o, int *first)
{
	static const struct option longopts[] = {
		{ "keystore",	required_argument,	NULL, 'k' },
		{ "selectors",	required_argument,	NULL, 's' },
		{ "algorithm",	required_argument,	NULL, 'a' },
		{ "bits",	required_argument,	NULL, 'b' },
		{ "force",	no_argument,		NULL, 'f' },
		{ NULL,		0,			NULL, 0 },
	};
	int	ch;

	memset(o, 0, sizeof(*o));
	/*
	 * Options may follow the operands ("keys init example.com --force"):
	 * optind 0 makes glibc start afresh in its default, permuting mode
	 * instead of signetctl's "+" mode.
	 */
	optind = 0;
	while ((ch = getopt_long(argc, argv, "k:s:a:b:f", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'k':
			o->keystore = optarg;
			break;
		case 's':
			o->selectors = optarg;
			break;
		case 'a':
			o->algorithm = optarg;
			break;
		case 'b':
			o->bits = optarg;
			break;
		case 'f':
			o->force = 1;
			break;
		default:
			return -1;
		}
	}
	*first = optind;
	return 0;
}


/* DOMAIN as the store names it: lower case, A-labels, no final dot. */
static int
domain_arg(const char *arg, char out[CONFIG_DOMAIN_MAX + 1])
{
	if (config_domain_normalize(arg, strlen(arg), out) == -1 ||
	    store_domain_valid(out) == -1) {
		ctl_err("not a domain name: %s", arg);
		return -1;
	}
	return 0;
}

static int
selector_arg(const char *arg, size_t len, char *out, size_t outlen)
{
	size_t	i;

	if (len == 0 || len >= outlen) {
		ctl_err("not a selector: %.*s", (int)len, arg);
		return -1;
	}
	for (i = 0; i < len; i++)
		out[i] = (char)tolower((unsigned char)arg[i]);
	out[len] = '\0';
	if (store_selector_valid(out) == -1) {
		ctl_err("not a selector: %s (letters, digits, '-' and dots)",
		    out);
		return -1;
	}
	return 0;
}

static int
write_out(struct buf *b)
{
	if (fwrite(buf_data(b), 1, buf_len(b), stdout) != buf_len(b) ||
	    fflush(stdout) != 0) {
		ctl_err("write error");
		return -1;
	}
	return 0;
}

static const char *
utc(time_t t, char out[32])
{
	struct tm	tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "%lld", (long long)t);
	return out;
}

/* The records of the given keys, for the operator's zone file. */
static int
print_records(struct store *st, const char *domain, char (*sels)[64],
    char (*ids)[KEYS_ID_LEN + 1], size_t n, unsigned ttl, time_t now)
{
	struct buf	*out;
	struct keys_key	*k;
	char		 path[4096], err[ERR_LEN], when[32];
	size_t		 i;
	int		 rc = -1;

	if ((out = buf_new(0)) == NULL) {
		ctl_err("out of memory");
		return -1;
	}
	if (buf_printf(out, "; %s: DKIM keys made active %s; publish these "
	    "records\n", domain, utc(now, when)) == -1)
		goto done;
	for (i = 0; i < n; i++) {
		if (store_key_file(st, domain, ids[i], path, sizeof(path)) ==
		    -1 || (k = keys_load(path, err, sizeof(err))) == NULL) {
			ctl_err("%s", err);
			goto done;
		}
		if (keys_zone_record(k, sels[i], domain, ttl, out) == -1) {
			keys_free(k);
			ctl_err("out of memory");
			goto done;
		}
		keys_free(k);
	}
	rc = write_out(out);
done:
	buf_free(out);
	return rc;
}

/*
 * "s1: <id>, s2: <id>" for the selectors whose key signs now (READY or
 * ACTIVE) into b; how many, or -1 when memory is short.
 */
static int
describe_signing(const struct store_domain *d, struct buf *b)
{
	const struct store_key	*k;
	size_t			 i;
	int			 n = 0;

	for (i = 0; i < store_domain_nselectors(d); i++) {
		k = store_domain_selector_key(d, store_domain_selector(d, i));
		if (k == NULL || (store_key_state(k) != STORE_ACTIVE &&
		    store_key_state(k) != STORE_READY))
			continue;
		if (buf_printf(b, "%s%s: %s", n++ ? ", " : "",
		    store_domain_selector(d, i), store_key_id(k)) == -1)
			return -1;
	}
	return n;
}

/*
 * The old key of a selector, if any, leaves the signing set: DRAINING
 * (rotation.md §b) while its record may still be cached.
 */
static int
retire(struct store_txn *t, const char *selector, const char *keep,
    time_t now, char *err, size_t errlen)
{
	const struct store_key	*old;
	char			 id[KEYS_ID_LEN + 1];

	old = store_domain_selector_key(store_txn_domain(t), selector);
	if (old == NULL || (keep != NULL && strcmp(store_key_id(old), keep) ==
	    0))
		return 0;
	if (store_key_state(old) >= STORE_DRAINING)
		return 0;
	memcpy(id, store_key_id(old), sizeof(id));
	return store_txn_set_state(t, id, STORE_DRAINING, now, err, errlen);
}

static int
begin(struct store *st, const char *domain, struct store_txn **t)
{
	char	err[ERR_LEN];

	switch (store_begin(st, domain, STORE_CREATE | STORE_NOWAIT, t, err,
	    sizeof(err))) {
	case STORE_OK:
		return 0;
	case STORE_BUSY:
		ctl_err("%s; try again when it is done", err);
		return -1;
	case STORE_FAIL:
		break;
	}
	ctl_err("%s", err);
	return -1;
}

/* ------------------------------------------------------------------ */

/* Selectors from --selectors "s1,s2", else config, else s1,s2. */
static int
init_selectors(const struct opts *o, const struct config_domain *cd,
    char (*sels)[64], size_t *n)
{
	const char	*p, *end;
	size_t		 i, j, len;

	*n = 0;
	if (o->selectors == NULL && cd != NULL && cd->nselectors > 0) {
		for (i = 0; i < cd->nselectors && i < KEYS_INIT_SELECTORS_MAX;
		    i++)
			if (selector_arg(cd->selectors[i],
			    strlen(cd->selectors[i]), sels[(*n)++], 64) == -1)
				return -1;
		return 0;
	}
	p = o->selectors != NULL ? o->selectors : "s1,s2";
	for (;;) {
		end = strchr(p, ',');
		len = end != NULL ? (size_t)(end - p) : strlen(p);
		if (*n == KEYS_INIT_SELECTORS_MAX) {
			ctl_err("at most %d selectors",
			    KEYS_INIT_SELECTORS_MAX);
			return -1;
		}
		if (selector_arg(p, len, sels[*n], 64) == -1)
			return -1;
		for (j = 0; j < *n; j++) {
			if (strcmp(sels[j], sels[*n]) == 0) {
				ctl_err("selector %s named twice", sels[j]);
				return -1;
			}
		}
		(*n)++;
		if (end == NULL)
			return 0;
		p = end + 1;
	}
}

/* Algorithm and size: flags, else the domain's, else signing's defaults. */
static int
init_alg(const struct opts *o, const struct config *cfg,
    const struct config_domain *cd, enum keys_alg *alg, unsigned *bits)
{
	enum config_alg	 calg = CONFIG_ALG_RSA;
	unsigned	 cbits = 0;
	char		*end;
	long		 v;

	if (cd != NULL) {
		calg = cd->algorithm;
		cbits = cd->bits;
	} else if (cfg != NULL) {
		calg = cfg->signing.algorithm;
		cbits = cfg->signing.bits;
	}
	*alg = calg == CONFIG_ALG_ED25519 ? KEYS_ALG_ED25519_SHA256 :
	    KEYS_ALG_RSA_SHA256;
	*bits = cbits != 0 ? cbits : KEYS_RSA_BITS_GEN_MIN;
	if (o->algorithm != NULL && keys_alg_parse(o->algorithm, alg) == -1) {
		ctl_err("--algorithm must be rsa or ed25519, not %s",
		    o->algorithm);
		return -1;
	}
	if (o->bits != NULL) {
		if (*alg != KEYS_ALG_RSA_SHA256) {
			ctl_err("--bits is only for rsa");
			return -1;
		}
		v = strtol(o->bits, &end, 10);
		if (*end != '\0' || (v != 2048 && v != 3072 && v != 4096)) {
			ctl_err("--bits must be 2048, 3072 or 4096 (RFC 8301), "
			    "not %s", o->bits);
			return -1;
		}
		*bits = (unsigned)v;
	}
	if (*alg == KEYS_ALG_ED25519_SHA256)
		*bits = 0;
	return 0;
}

static int
cmd_init(struct ctl *ctl, const struct opts *o, int argc, char **argv)
{
	const struct config_domain	*cd = NULL;
	struct ctlenv			 e;
	struct store			*st = NULL;
	struct store_txn		*t = NULL;
	struct buf			*have = NULL;
	char				 domain[CONFIG_DOMAIN_MAX + 1];
	char				 sels[KEYS_INIT_SELECTORS_MAX][64];
	char				 ids[KEYS_INIT_SELECTORS_MAX]
					    [KEYS_ID_LEN + 1];
	char				 err[ERR_LEN];
	enum keys_alg			 alg;
	enum keys_alg			 algs[KEYS_INIT_SELECTORS_MAX];
	unsigned			 bits;
	unsigned			 bitsv[KEYS_INIT_SELECTORS_MAX];
	size_t				 n, i;
	time_t				 now = time(NULL);
	int				 ret = CTL_FAIL, rc;

	if (argc != 1) {
		ctl_err("usage: signetctl keys init DOMAIN [--selectors s1,s2] "
		    "[--algorithm rsa|ed25519] [--bits N] [--keystore DIR] "
		    "[--force]");
		return CTL_USAGE;
	}
	if (domain_arg(argv[0], domain) == -1)
		return CTL_USAGE;
	if (ctlenv_open(ctl, o->keystore, &e) == -1)
		return CTL_FAIL;
	if (e.cfg != NULL && (cd = config_domain(e.cfg, domain)) != NULL &&
	    strcmp(cd->name, domain) != 0)
		cd = NULL;
	if (e.cfg != NULL && cd == NULL)
		ctl_err("warning: %s is not under domains: in %s; signetd will "
		    "not sign for it until it is", domain, ctl->config_path);
	if (init_selectors(o, cd, sels, &n) == -1 ||
	    init_alg(o, e.cfg, cd, &alg, &bits) == -1) {
		ret = CTL_USAGE;
		goto done;
	}
	for (i = 0; i < n; i++) {
		algs[i] = alg;
		bitsv[i] = bits;
	}
	/* The domain's ARC key, unless --selectors names the keys. */
	if (o->selectors == NULL && cd != NULL && cd->arc.enabled &&
	    n < KEYS_INIT_SELECTORS_MAX) {
		if (selector_arg(cd->arc.selector, strlen(cd->arc.selector),
		    sels[n], 64) == -1) {
			ret = CTL_USAGE;
			goto done;
		}
		algs[n] = KEYS_ALG_RSA_SHA256;
		bitsv[n] = alg == KEYS_ALG_RSA_SHA256 ? bits :
		    KEYS_ARC_BITS_DEF;
		n++;
	}
	if ((st = store_open(e.keystore, 1, err, sizeof(err))) == NULL) {
		ctl_err("%s", err);
		goto done;
	}
	if (begin(st, domain, &t) == -1)
		goto done;
	if ((have = buf_new(0)) == NULL ||
	    (rc = describe_signing(store_txn_domain(t), have)) == -1) {
		ctl_err("out of memory");
		goto done;
	}
	if (rc > 0 && !o->force) {
		ctl_err("%s already has active keys (%s); --force replaces "
		    "them", domain, buf_cstr(have));
		goto done;
	}
	for (i = 0; i < n; i++) {
		if (store_txn_generate(t, algs[i], bitsv[i], sels[i], now,
		    ids[i], err, sizeof(err)) == -1 ||
		    retire(t, sels[i], NULL, now, err, sizeof(err)) == -1 ||
		    store_txn_set_state(t, ids[i], STORE_ACTIVE, now, err,
		    sizeof(err)) == -1 ||
		    store_txn_set_selector(t, sels[i], ids[i], err,
		    sizeof(err)) == -1) {
			ctl_err("%s", err);
			goto done;
		}
	}
	rc = store_commit(t, now, err, sizeof(err));
	t = NULL;
	if (rc == -1) {
		ctl_err("%s", err);
		goto done;
	}
	ret = print_records(st, domain, sels, ids, n, e.ttl, now) == 0 ?
	    CTL_OK : CTL_FAIL;
done:
	store_abort(t);
	buf_free(have);
	store_close(st);
	ctlenv_close(&e);
	return ret;
}

static int
cmd_import(struct ctl *ctl, const struct opts *o, int argc, char **argv)
{
	const struct store_key	*have;
	struct ctlenv		 e;
	struct store		*st = NULL;
	struct store_txn	*t = NULL;
	struct keys_key		*key = NULL;
	char			 domain[CONFIG_DOMAIN_MAX + 1], sel[1][64];
	char			 id[1][KEYS_ID_LEN + 1];
	char			 err[ERR_LEN] = "", warn[ERR_LEN] = "";
	time_t			 now = time(NULL);
	int			 ret = CTL_FAIL, rc;

	if (argc != 3 || o->selectors != NULL || o->algorithm != NULL ||
	    o->bits != NULL) {
		ctl_err("usage: signetctl keys import DOMAIN SELECTOR FILE "
		    "[--keystore DIR] [--force]");
		return CTL_USAGE;
	}
	if (domain_arg(argv[0], domain) == -1 ||
	    selector_arg(argv[1], strlen(argv[1]), sel[0], sizeof(sel[0])) ==
	    -1)
		return CTL_USAGE;
	if (ctlenv_open(ctl, o->keystore, &e) == -1)
		return CTL_FAIL;
	if ((key = keys_load_import(argv[2], warn, sizeof(warn), err,
	    sizeof(err))) == NULL) {
		ctl_err("%s", err);
		goto done;
	}
	if (warn[0] != '\0')
		ctl_err("warning: %s; the store keeps its own 0600 copy, so "
		    "remove the original or run: chmod 600 %s", warn, argv[2]);
	if (keys_id(key, id[0]) == -1) {
		ctl_err("cannot compute the key id");
		goto done;
	}
	if ((st = store_open(e.keystore, 1, err, sizeof(err))) == NULL) {
		ctl_err("%s", err);
		goto done;
	}
	if (begin(st, domain, &t) == -1)
		goto done;
	have = store_domain_selector_key(store_txn_domain(t), sel[0]);
	if (have != NULL && strcmp(store_key_id(have), id[0]) == 0 &&
	    store_key_state(have) == STORE_ACTIVE) {
		/* Already done: importing twice changes nothing. */
		store_abort(t);
		t = NULL;
		ret = print_records(st, domain, sel, id, 1, e.ttl, now) == 0 ?
		    CTL_OK : CTL_FAIL;
		goto done;
	}
	if (have != NULL && (store_key_state(have) == STORE_ACTIVE ||
	    store_key_state(have) == STORE_READY) && !o->force) {
		ctl_err("%s: selector %s already has active key %s; --force "
		    "replaces it", domain, sel[0], store_key_id(have));
		goto done;
	}
	if (store_txn_add_key(t, key, sel[0], now, id[0], err,
	    sizeof(err)) == -1 ||
	    retire(t, sel[0], id[0], now, err, sizeof(err)) == -1 ||
	    store_txn_set_state(t, id[0], STORE_ACTIVE, now, err,
	    sizeof(err)) == -1 ||
	    store_txn_set_selector(t, sel[0], id[0], err, sizeof(err)) == -1) {
		ctl_err("%s", err);
		goto done;
	}
	rc = store_commit(t, now, err, sizeof(err));
	t = NULL;
	if (rc == -1) {
		ctl_err("%s", err);
		goto done;
	}
	ret = print_records(st, domain, sel, id, 1, e.ttl, now) == 0 ?
	    CTL_OK : CTL_FAIL;
done:
	store_abort(t);
	keys_free(key);
	store_close(st);
	ctlenv_close(&e);
	return ret;
}

/* 3d4h, 5h12m, 7m, 30s: the two largest units that matter. */
static void
age(time_t secs, char out[32])
{
	long long	s = secs < 0 ? 0 : (long long)secs;

	if (s >= 86400)
		snprintf(out, 32, "%lldd%lldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(out, 32, "%lldh%lldm", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(out, 32, "%lldm", s / 60);
	else
		snprintf(out, 32, "%llds", s);
}

#define NEXT_LEN	48

/*
 * "ready 2026-01-02T03:04Z", "publish now" or "-": what rotate_key_next()
 * says of key id, planned with the role the key rotates in.
 */
static void
next_step(const struct config *cfg, struct store *st,
    const struct store_domain *d, const struct store_key *k, time_t now,
    char out[NEXT_LEN])
{
	const struct config_domain	*cd;
	struct rotenv			*re;
	struct rotate_view		*v = NULL;
	const struct rotate_params	*p;
	const char			*roles[4];
	enum rotate_act			 act;
	struct tm			 tm;
	char				 err[ERR_LEN], when[24];
	time_t				 at;
	size_t				 i, j;

	snprintf(out, NEXT_LEN, "-");
	if (cfg == NULL || (cd = config_domain(cfg, store_domain_name(d))) ==
	    NULL || strcmp(cd->name, store_domain_name(d)) != 0 ||
	    (v = malloc(sizeof(*v))) == NULL) {
		free(v);
		return;
	}
	rotenv_roles(cd, roles);
	for (j = 0; roles[j] != NULL; j++) {
		/* dry run: no backend opened; none configured: no rotation */
		if ((re = rotenv_new_role(cfg, cd, roles[j], st, 1, err,
		    sizeof(err))) == NULL)
			break;
		p = rotenv_env(re)->params;
		if (strcmp(rotate_key_role(k, p), roles[j]) != 0 ||
		    rotate_view_load_role(v, d, p) == -1) {
			rotenv_free(re);
			continue;
		}
		for (i = 0; i < v->nkeys; i++) {
			if (strcmp(v->keys[i].id, store_key_id(k)) != 0)
				continue;
			rotate_key_next(v, p, i, now, &act, &at);
			if (act == ROTATE_NONE)
				break;
			if (at <= now)
				snprintf(when, sizeof(when), "now");
			else if (gmtime_r(&at, &tm) == NULL ||
			    strftime(when, sizeof(when), "%Y-%m-%dT%H:%MZ",
			    &tm) == 0)
				snprintf(when, sizeof(when), "%lld",
				    (long long)at);
			snprintf(out, NEXT_LEN, "%s %s", rotate_act_name(act),
			    when);
			break;
		}
		rotenv_free(re);
		break;
	}
	free(v);
}

static int
list_domain(const struct config *cfg, struct store *st, const char *domain,
    time_t now, struct buf *b)
{
	struct store_domain	*d;
	const struct store_key	*k;
	char			 err[ERR_LEN], alg[24], when[32];
	char			 next[NEXT_LEN];
	size_t			 i;

	if ((d = store_domain_load(st, domain, err, sizeof(err))) == NULL) {
		ctl_err("%s", err);
		return -1;
	}
	for (i = 0; i < store_domain_nkeys(d); i++) {
		k = store_domain_key(d, i);
		if (store_key_alg(k) == KEYS_ALG_RSA_SHA256)
			snprintf(alg, sizeof(alg), "rsa-%u", store_key_bits(k));
		else
			snprintf(alg, sizeof(alg), "%s",
			    keys_alg_k(store_key_alg(k)));
		age(now - store_key_entered(k, STORE_GENERATED), when);
		next_step(cfg, st, d, k, now, next);
		if (buf_printf(b, "%-24s %-12s %-9s %-16s %-11s %-7s %s\n",
		    domain, store_key_selector(k), alg, store_key_id(k),
		    store_state_name(store_key_state(k)), when, next) == -1) {
			store_domain_free(d);
			ctl_err("out of memory");
			return -1;
		}
	}
	store_domain_free(d);
	return 0;
}

static int
cmd_list(struct ctl *ctl, const struct opts *o, int argc)
{
	struct ctlenv	  e;
	struct store	 *st = NULL;
	struct buf	 *b = NULL;
	char		**names = NULL, err[ERR_LEN];
	size_t		  i;
	time_t		  now = time(NULL);
	int		  ret = CTL_FAIL, failed = 0;

	if (argc != 0 || o->selectors != NULL || o->algorithm != NULL ||
	    o->bits != NULL || o->force) {
		ctl_err("usage: signetctl keys list [--keystore DIR]");
		return CTL_USAGE;
	}
	if (ctlenv_open(ctl, o->keystore, &e) == -1)
		return CTL_FAIL;
	if ((st = store_open(e.keystore, 0, err, sizeof(err))) == NULL) {
		ctl_err("%s", err);
		goto done;
	}
	if ((names = store_domains(st, err, sizeof(err))) == NULL) {
		ctl_err("%s", err);
		goto done;
	}
	if ((b = buf_new(0)) == NULL || buf_printf(b, "%-24s %-12s %-9s %-16s "
	    "%-11s %-7s %s\n", "DOMAIN", "SELECTOR", "ALGORITHM", "ID", "STATE",
	    "AGE", "NEXT") == -1) {
		ctl_err("out of memory");
		goto done;
	}
	/* One broken journal does not hide the other domains. */
	for (i = 0; names[i] != NULL; i++)
		if (list_domain(e.cfg, st, names[i], now, b) == -1)
			failed = 1;
	if (write_out(b) == -1)
		goto done;
	ret = failed ? CTL_FAIL : CTL_OK;
done:
	buf_free(b);
	store_domains_free(names);
	store_close(st);
	ctlenv_close(&e);
	return ret;
}

static void
help(void)
{
	printf("usage:\n"
	    "  signetctl keys init DOMAIN [--selectors s1,s2] "
	    "[--algorithm rsa|ed25519]\n"
	    "                  [--bits 2048|3072|4096] [--keystore DIR] "
	    "[--force]\n"
	    "    New ACTIVE keys for the selectors; prints the TXT records "
	    "to publish.\n"
	    "    --force replaces a domain's active keys (they become "
	    "DRAINING).\n"
	    "  signetctl keys import DOMAIN SELECTOR FILE [--keystore DIR] "
	    "[--force]\n"
	    "    FILE: PKCS#1 or PKCS#8 PEM (OpenDKIM), or a base64 Ed25519 "
	    "seed (dkimpy,\n"
	    "    rspamd).  Stored as PKCS#8 0600; FILE is not changed.  A "
	    "FILE others can\n"
	    "    read is imported with a warning.\n"
	    "  signetctl keys list [--keystore DIR]\n"
	    "Defaults: the configuration's domains: entry, else s1,s2 rsa "
	    "2048;\n"
	    "keystore: the configuration's, else %s.\n", STORE_DEFAULT_PATH);
}

static int
run(struct ctl *ctl, int argc, char **argv)
{
	struct opts	 o;
	const char	*sub;
	int		 first;

	if (argc < 2) {
		ctl_err("usage: signetctl %s", usage_line);
		return CTL_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		help();
		return CTL_OK;
	}
	sub = argv[1];
	if (parse_opts(argc - 1, argv + 1, &o, &first) == -1) {
		ctl_err("usage: signetctl %s", usage_line);
		return CTL_USAGE;
	}
	argc -= 1 + first;
	argv += 1 + first;
	if (strcmp(sub, "init") == 0)
		return cmd_init(ctl, &o, argc, argv);
	if (strcmp(sub, "import") == 0)
		return cmd_import(ctl, &o, argc, argv);
	if (strcmp(sub, "list") == 0)
		return cmd_list(ctl, &o, argc);
	ctl_err("unknown keys subcommand: %s", sub);
	return CTL_USAGE;
}

const struct ctl_cmd ctl_cmd_keys = {
	"keys",
	usage_line,
	run,
};
