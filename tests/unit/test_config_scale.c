/*
 * test_config_scale — a hosting-size configuration: 10,000 tenants in
 * tenants_dir (one file each), 10,000 domains, one network and one user
 * per tenant.  Loading must stay well under 2 s (a SIGHUP reload must not
 * stall), and the per-message lookups must stay O(1)/O(log n): a million
 * ownership and address lookups answer correctly within the budget (a
 * linear scan over 10,000 tenants would take minutes).
 *
 * Budgets are checked against this process's CPU time, so other jobs on
 * a shared machine cannot fail the test; wall time is printed as well.
 * Sanitizer builds run several times slower: the budget there is scaled.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "proxy/msg/buf.h"
#include "tests/unit/t.h"

#define TENANTS		10000
#define LOAD_BUDGET_MS	2000	/* the requirement for a 10k-tenant load */
#define LOOKUPS		1000000
#define LOOKUP_BUDGET_MS 2000
#define SANITIZER_SLOWDOWN 8	/* ASan+UBSan versus -O2 */

/* Defined only when AddressSanitizer's runtime is linked in. */
extern void	__asan_init(void) __attribute__((weak));

#define PW	"$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"

static char	tmpdir[] = "/tmp/signet-config-scale-XXXXXX";

static double
now_ms(clockid_t clock)
{
	struct timespec	ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static void
write_file(const char *path, const char *text)
{
	FILE	*f;

	if ((f = fopen(path, "w")) == NULL || fputs(text, f) == EOF ||
	    fclose(f) != 0) {
		printf("Bail out! cannot write %s\n", path);
		exit(1);
	}
}

/* Tenant i: 10.(i / 256).(i % 256).0/24, user u<i>, d<i>.test. */
static void
generate(char *mainpath, size_t mainlen)
{
	struct buf	*main;
	char		 dir[256], path[512], text[1024];
	int		 i;

	snprintf(dir, sizeof(dir), "%s/tenants.d", tmpdir);
	if (mkdir(dir, 0700) == -1 || (main = buf_new(0)) == NULL) {
		printf("Bail out! setup\n");
		exit(1);
	}
	buf_printf(main, "listen: [{ address: \"127.0.0.1:2525\" }]\n"
	    "upstream: { address: \"file:/tmp/out\" }\n"
	    "keystore: /k\nspool: /s\ntenants_dir: %s\ndomains:\n", dir);
	for (i = 0; i < TENANTS; i++) {
		buf_printf(main, "  d%05d.test: { subdomains: %s }\n", i,
		    i % 2 ? "true" : "false");
		snprintf(path, sizeof(path), "%s/t%05d.yaml", dir, i);
		snprintf(text, sizeof(text),
		    "name: t%05d\n"
		    "networks: [10.%d.%d.0/24]\n"
		    "users: [{ name: u%05d, password: \"" PW "\" }]\n"
		    "domains: [d%05d.test, \"*.d%05d.test\"]\n",
		    i, i / 256, i % 256, i, i, i);
		write_file(path, text);
	}
	snprintf(mainpath, mainlen, "%s/signet.yaml", tmpdir);
	write_file(mainpath, buf_cstr(main));
	buf_free(main);
}

int
main(void)
{
	const struct config		*cfg;
	const struct config_tenant	*t;
	const struct config_user	*u;
	struct sockaddr_in		 sin;
	struct buf			*errs;
	char				 path[512], name[64], cmd[600];
	double				 w0, c0, load_ms, load_cpu;
	double				 lookup_ms, lookup_cpu, scale;
	int				 i, bad;

	if (mkdtemp(tmpdir) == NULL) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	scale = __asan_init != NULL ? SANITIZER_SLOWDOWN : 1;
	generate(path, sizeof(path));
	errs = buf_new(1 << 20);
	w0 = now_ms(CLOCK_MONOTONIC);
	c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
	cfg = config_load(path, errs);
	load_cpu = now_ms(CLOCK_PROCESS_CPUTIME_ID) - c0;
	load_ms = now_ms(CLOCK_MONOTONIC) - w0;
	if (!T_OK(cfg != NULL, "10,000-tenant configuration loads")) {
		t_diag_bytes("errors", buf_data(errs), buf_len(errs));
		return t_done();
	}
	printf("# loaded %d tenants and %d domains: %.0f ms CPU, %.0f ms "
	    "wall\n", TENANTS, TENANTS, load_cpu, load_ms);
	T_OK(load_cpu < LOAD_BUDGET_MS * scale, "load takes under %.0f ms "
	    "(%.0f ms CPU)", LOAD_BUDGET_MS * scale, load_cpu);
	T_EQ_INT(cfg->ntenants, TENANTS, "every tenant file loaded");
	T_EQ_INT(cfg->ndomains, TENANTS, "every domain loaded");

	/* Every tenant is reachable by each identity it has. */
	bad = 0;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	for (i = 0; i < TENANTS; i++) {
		snprintf(name, sizeof(name), "t%05d", i);
		sin.sin_addr.s_addr = htonl(0x0a000000U |
		    (uint32_t)(i / 256) << 16 | (uint32_t)(i % 256) << 8 | 7);
		t = config_tenant_for_addr(cfg, (struct sockaddr *)&sin);
		if (t == NULL || strcmp(t->name, name) != 0)
			bad++;
		snprintf(path, sizeof(path), "D%05d.test.", i);
		if (config_domain_owner(cfg, path) != t)
			bad++;
		snprintf(path, sizeof(path), "mail.d%05d.test", i);
		if (config_domain_owner(cfg, path) != t)
			bad++;
		snprintf(path, sizeof(path), "u%05d", i);
		if (config_tenant_for_user(cfg, path, &u) != t || u == NULL)
			bad++;
		if (config_tenant_by_name(cfg, name) != t)
			bad++;
	}
	T_EQ_INT(bad, 0, "address, domain, user and name lookups all agree");
	T_OK(config_domain_owner(cfg, "d10000.test") == NULL &&
	    config_domain_owner(cfg, "d00001.test.evil") == NULL,
	    "names outside the table have no owner");

	w0 = now_ms(CLOCK_MONOTONIC);
	c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
	bad = 0;
	for (i = 0; i < LOOKUPS; i++) {
		int	k = (int)(((unsigned)i * 7919U) % TENANTS);

		snprintf(path, sizeof(path), "x.d%05d.test", k);
		sin.sin_addr.s_addr = htonl(0x0a000000U |
		    (uint32_t)(k / 256) << 16 | (uint32_t)(k % 256) << 8 | 1);
		if (config_domain_owner(cfg, path) !=
		    config_tenant_for_addr(cfg, (struct sockaddr *)&sin))
			bad++;
	}
	lookup_cpu = now_ms(CLOCK_PROCESS_CPUTIME_ID) - c0;
	lookup_ms = now_ms(CLOCK_MONOTONIC) - w0;
	printf("# %d owner + address lookups: %.0f ms CPU, %.0f ms wall\n",
	    LOOKUPS, lookup_cpu, lookup_ms);
	T_EQ_INT(bad, 0, "a million lookups agree");
	T_OK(lookup_cpu < LOOKUP_BUDGET_MS * scale, "a million lookups under "
	    "%.0f ms (%.0f ms CPU)", LOOKUP_BUDGET_MS * scale, lookup_cpu);

	config_free(cfg);
	buf_free(errs);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", tmpdir);
	return t_done();
}
