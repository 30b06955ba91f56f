/*
 * fuzz_config_yaml — bytes -> YAML loader -> validated config (hostile-
 * inputs.md fuzz target 7).  Any input must end in either a config whose
 * lookups work or a non-empty error list; never a crash, leak or hang.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <netinet/in.h>

#include "config/config.h"
#include "proxy/msg/buf.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	const struct config	*cfg;
	struct sockaddr_in	 sin;
	struct buf		*errs;
	size_t			 i;

	if ((errs = buf_new(1 << 16)) == NULL)
		return 0;
	cfg = config_load_mem(data, len, "fuzz.yaml", errs);
	if (cfg == NULL && buf_len(errs) == 0)
		__builtin_trap();
	if (cfg != NULL) {
		/* Every configured name must find its own entry again. */
		for (i = 0; i < cfg->ndomains; i++)
			if (config_domain(cfg, cfg->domains[i].name) !=
			    &cfg->domains[i])
				__builtin_trap();
		for (i = 0; i < cfg->ntenants; i++)
			if (config_tenant_by_name(cfg, cfg->tenants[i].name) !=
			    &cfg->tenants[i])
				__builtin_trap();
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(0x7f000001);
		(void)config_tenant_for_addr(cfg, (struct sockaddr *)&sin);
		(void)config_domain_owner(cfg, "a.example.com");
	}
	config_free(cfg);
	buf_free(errs);
	return 0;
}
