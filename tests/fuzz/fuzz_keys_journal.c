/*
 * fuzz_keys_journal — the key store's journal parser (keys/store.c):
 * state.yaml is meant to be written by signet only, but an operator can
 * edit it and signetd reads it every few seconds, so any bytes must give
 * either a snapshot whose accessors are safe or a FILE:LINE:COL error.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "keys/store.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_domain	*d;
	const struct store_key	*k;
	char			 err[512];
	size_t			 i;
	int			 s;

	d = store_domain_parse(data, size, "state.yaml", "fuzz.example", err,
	    sizeof(err));
	if (d == NULL) {
		if (strncmp(err, "state.yaml:", 11) != 0)
			__builtin_trap();
		return 0;
	}
	for (i = 0; i < store_domain_nselectors(d); i++) {
		k = store_domain_selector_key(d, store_domain_selector(d, i));
		/* The parser guarantees every selector names its own key. */
		if (k == NULL || strcmp(store_key_selector(k),
		    store_domain_selector(d, i)) != 0)
			__builtin_trap();
	}
	for (i = 0; i < store_domain_nkeys(d); i++) {
		k = store_domain_key(d, i);
		if (store_domain_find_key(d, store_key_id(k)) != k ||
		    store_key_entered(k, store_key_state(k)) == 0)
			__builtin_trap();
		for (s = 0; s < STORE_NSTATES; s++)
			(void)store_key_entered(k, (enum store_state)s);
		(void)store_key_attr(k, "ttl");
	}
	(void)store_domain_attr(d, "note");
	store_domain_free(d);
	return 0;
}
