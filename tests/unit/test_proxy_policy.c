/*
 * policy: which client may sign as which domain (TN-01, TN-02, TN-03),
 * table-driven over a configuration with two tenants, a wildcard claim
 * and look-alike domains.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "proxy/msg/buf.h"
#include "proxy/policy.h"
#include "tests/unit/t.h"

static const char yaml[] =
	"listen:\n"
	"  - address: 127.0.0.1:2525\n"
	"upstream:\n"
	"  address: file:/tmp\n"
	"keystore: /tmp\n"
	"spool: /tmp\n"
	"domains:\n"
	"  tenant.test: {}\n"
	"  sub.tenant.test: {}\n"
	"  victim.test: {}\n"
	"tenants:\n"
	"  - name: a\n"
	"    networks: [127.0.0.0/8]\n"
	"    domains: [tenant.test, \"*.tenant.test\"]\n"
	"  - name: b\n"
	"    networks: [127.0.0.2/32]\n"
	"    domains: [victim.test]\n"
	"    allow_null_sender: true\n";

static void
sa4(struct sockaddr_in *sin, const char *ip)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, ip, &sin->sin_addr);
}

int
main(void)
{
	static const struct {
		const char		*client;
		const char		*tenant;	/* NULL: none */
	} clients[] = {
		{ "127.0.0.1", "a" },
		{ "127.0.0.2", "b" },		/* longest prefix wins */
		{ "10.0.0.1", NULL },
	};
	static const struct {
		const char		*tenant;
		const char		*domain;
		enum policy_verdict	 want;
	} from[] = {
		{ "a", "tenant.test", POLICY_OK },
		{ "a", "TENANT.TEST", POLICY_OK },
		{ "a", "tenant.test.", POLICY_OK },
		{ "a", "mail.tenant.test", POLICY_OK },
		{ "a", "victim.test", POLICY_NOT_OWNED },
		{ "a", "victim.test.tenant.test", POLICY_OK },
		{ "a", "tenant.test.victim.test", POLICY_NOT_OWNED },
		{ "a", "evil-tenant.test", POLICY_NOT_OWNED },
		{ "a", "xtenant.test", POLICY_NOT_OWNED },
		{ "a", "nobody.test", POLICY_NOT_OWNED },
		{ "a", "bad..name", POLICY_BAD_DOMAIN },
		{ "b", "victim.test", POLICY_OK },
		{ "b", "tenant.test", POLICY_NOT_OWNED },
		{ NULL, "tenant.test", POLICY_NO_TENANT },
	};
	static const struct {
		const char		*tenant;
		const char		*addr;
		enum policy_verdict	 want;
	} senders[] = {
		{ "a", "bob@tenant.test", POLICY_OK },
		{ "a", "\"x@victim.test\"@tenant.test", POLICY_OK },
		{ "a", "bob@victim.test", POLICY_NOT_OWNED },
		{ "a", "", POLICY_NULL_SENDER },
		{ "b", "", POLICY_OK },
		{ "a", "bob", POLICY_BAD_DOMAIN },
		{ "a", "bob@", POLICY_BAD_DOMAIN },
	};
	const struct config		*cfg;
	const struct config_tenant	*t;
	struct sockaddr_in		 sin;
	struct buf			*errs;
	size_t				 i;
	char				 name[128];

	errs = buf_new(4096);
	cfg = config_load_mem(yaml, sizeof(yaml) - 1, "policy.yaml", errs);
	if (!T_OK(cfg != NULL, "test configuration loads")) {
		printf("# %s\n", buf_cstr(errs));
		return t_done();
	}
	for (i = 0; i < sizeof(clients) / sizeof(clients[0]); i++) {
		sa4(&sin, clients[i].client);
		t = policy_tenant_for_client(cfg, (struct sockaddr *)&sin);
		if (clients[i].tenant == NULL)
			T_OK(t == NULL, "client %s: no tenant", clients[i].client);
		else
			T_OK(t != NULL && strcmp(t->name, clients[i].tenant) == 0,
			    "client %s: tenant %s", clients[i].client,
			    clients[i].tenant);
	}
	for (i = 0; i < sizeof(from) / sizeof(from[0]); i++) {
		t = from[i].tenant ? config_tenant_by_name(cfg, from[i].tenant) :
		    NULL;
		snprintf(name, sizeof(name), "tenant %s, From domain %s",
		    from[i].tenant ? from[i].tenant : "-", from[i].domain);
		T_EQ_INT(policy_from_domain(cfg, t, from[i].domain,
		    strlen(from[i].domain)), from[i].want, name);
	}
	for (i = 0; i < sizeof(senders) / sizeof(senders[0]); i++) {
		t = config_tenant_by_name(cfg, senders[i].tenant);
		snprintf(name, sizeof(name), "tenant %s, MAIL FROM:<%s>",
		    senders[i].tenant, senders[i].addr);
		T_EQ_INT(policy_envelope_sender(cfg, t, senders[i].addr,
		    strlen(senders[i].addr)), senders[i].want, name);
	}
	config_free(cfg);
	buf_free(errs);
	return t_done();
}
