/*
 * fuzz_keys_keyfile — private key file parsing (keys/signer.c): format
 * detection, the base64 seed line of dkimpy and rspamd, and OpenSSL's
 * PEM decoding behind it.  A key that loads must describe and sign; an
 * error must be one line that never quotes the input.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "keys/signer.h"
#include "proxy/msg/buf.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t	 digest[KEYS_SHA256_LEN];
	struct keys_key		*k;
	struct buf		*b;
	uint8_t			 sig[KEYS_SIG_MAX];
	char			 err[512] = "", id[KEYS_ID_LEN + 1];
	size_t			 siglen = sizeof(sig);

	if ((k = keys_load_mem(data, size, err, sizeof(err))) == NULL) {
		if (err[0] == '\0' || strchr(err, '\n') != NULL)
			__builtin_trap();
		return 0;
	}
	if ((b = buf_new(0)) == NULL)
		__builtin_trap();
	if (keys_dns_record(k, b) == -1 || keys_id(k, id) == -1 ||
	    keys_zone_record(k, "s1", "example.com", 3600, b) == -1 ||
	    keys_sign(k, keys_alg(k), digest, sig, &siglen) == -1 ||
	    siglen != keys_sig_max(k))
		__builtin_trap();
	buf_free(b);
	keys_free(k);
	return 0;
}
