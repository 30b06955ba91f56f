/*
 * ctlenv — configuration and key store for signetctl commands (see
 * ctlenv.h).  The config, when loaded, is owned by the ctlenv and freed
 * by ctlenv_close().
 */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "keys/store.h"
#include "proxy/msg/buf.h"
#include "tools/ctlenv.h"

int
ctlenv_open(struct ctl *ctl, const char *keystore, struct ctlenv *e)
{
	struct buf	*errs;

	memset(e, 0, sizeof(*e));
	e->keystore = STORE_DEFAULT_PATH;
	e->ttl = CTLENV_ZONE_TTL;
	if (!ctl->config_given && access(ctl->config_path, F_OK) == -1) {
		if (keystore != NULL)
			e->keystore = keystore;
		return 0;
	}
	if ((errs = buf_new(0)) == NULL) {
		ctl_err("out of memory");
		return -1;
	}
	e->cfg = config_load(ctl->config_path, errs);
	if (e->cfg == NULL && (ctl->config_given || keystore == NULL)) {
		ctl_err("%s: configuration not valid (see: signetctl config "
		    "check %s)", ctl->config_path, ctl->config_path);
		buf_free(errs);
		return -1;
	}
	if (e->cfg == NULL)
		ctl_err("warning: %s is not valid; using --keystore without it",
		    ctl->config_path);
	buf_free(errs);
	if (e->cfg != NULL) {
		e->keystore = e->cfg->keystore;
		if (e->cfg->rotation.ttl_s > 0 &&
		    e->cfg->rotation.ttl_s <= UINT32_MAX)
			e->ttl = (unsigned)e->cfg->rotation.ttl_s;
	}
	if (keystore != NULL)
		e->keystore = keystore;
	return 0;
}

const struct config *
ctlenv_config(struct ctl *ctl)
{
	const struct config	*cfg;
	struct buf		*errs;
	const char		*first, *nl;

	if ((errs = buf_new(0)) == NULL) {
		ctl_err("out of memory");
		return NULL;
	}
	if ((cfg = config_load(ctl->config_path, errs)) == NULL) {
		first = buf_cstr(errs);
		if (first == NULL || *first == '\0')
			ctl_err("%s: configuration not valid", ctl->config_path);
		else {
			nl = strchr(first, '\n');
			ctl_err("%.*s (all errors: signetctl config check %s)",
			    (int)(nl != NULL ? nl - first : (long)strlen(first)),
			    first, ctl->config_path);
		}
	}
	buf_free(errs);
	return cfg;
}

void
ctlenv_close(struct ctlenv *e)
{
	config_free(e->cfg);
	e->cfg = NULL;
}
