/*
 * libFuzzer target: a whole message through DKIM verification
 * (proxy/msg/verify with hdr, canon, hash and dkim underneath).  Every
 * key question gets a fixed answer: the RFC 8463 Ed25519 or RSA record
 * depending on a=, so seeds signed with those keys reach the crypto.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/msg/buf.h"
#include "proxy/msg/hash.h"
#include "proxy/msg/hdr.h"
#include "proxy/msg/verify.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char ed_key[] = "v=DKIM1; k=ed25519; "
    "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
static const char rsa_key[] = "v=DKIM1; k=rsa; "
    "p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08"
    "a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+y"
    "z1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w"
    "3QIDAQAB";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hdr_list		*hl = NULL;
	struct hash_body	*hb;
	struct verify		*v;
	struct buf		*name;
	const uint8_t		*sep, *a;
	const char		*key;
	size_t			 i, hlen, body, alen;

	if ((sep = memmem(data, size, "\r\n\r\n", 4)) != NULL) {
		hlen = (size_t)(sep - data) + 2;
		body = hlen + 2;
	} else
		hlen = body = size;
	if (hdr_parse(data, hlen, NULL, &hl, NULL) != HDR_OK)
		return 0;
	if ((hb = hash_body_new()) == NULL || (name = buf_new(0)) == NULL)
		abort();
	if ((v = verify_new(hl, 1528637909, hb)) == NULL)
		abort();
	for (i = 0; i < verify_count(v); i++) {
		buf_reset(name);
		if (verify_key_name(v, i, name) == -1)
			continue;
		a = verify_algorithm(v, i, &alen);
		key = memmem(a, alen, "ed25519", 7) != NULL ? ed_key : rsa_key;
		if (i % 7 == 6)
			verify_answer(v, i, VERIFY_DNS_ERROR, NULL, 0);
		else
			verify_answer(v, i, VERIFY_DNS_OK,
			    (const uint8_t *)key, strlen(key));
	}
	if (hash_body_update(hb, data + body, size - body) == -1 ||
	    hash_body_final(hb) == -1 || verify_finish(v) == -1)
		abort();
	for (i = 0; i < verify_count(v); i++)
		if (verify_result(v, i) == VERIFY_NONE ||
		    verify_reason(v, i) == NULL)
			abort();
	verify_free(v);
	buf_free(name);
	hash_body_free(hb);
	hdr_free(hl);
	return 0;
}
