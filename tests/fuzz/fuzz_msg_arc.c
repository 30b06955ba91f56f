/*
 * libFuzzer target: a whole message through ARC (proxy/msg/arc): the
 * ARC field parser, the chain state, the signatures, and a seal over
 * whatever came in; plus the Authentication-Results readers on every
 * A-R field.  Key questions get the arc_test_suite key (the RFC 8463
 * RSA key), except every fifth, which gets a DNS error, so seeds from
 * the suite reach the crypto.  The seal is made with a fixed fake
 * signature; what it writes must parse back as header fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/msg/arc.h"
#include "proxy/msg/buf.h"
#include "proxy/msg/hash.h"
#include "proxy/msg/hdr.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char rsa_key[] = "v=DKIM1; k=rsa; "
    "p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08"
    "a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+y"
    "z1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w"
    "3QIDAQAB";

#define FAKE_SIG_LEN	128	/* a 1024-bit RSA signature */

static int
fake_sign(void *ctx, const uint8_t digest[HASH_SHA256_LEN], uint8_t *sig,
    size_t *siglen)
{
	(void)ctx;
	if (*siglen < FAKE_SIG_LEN)
		return -1;
	memset(sig, 0xa5, FAKE_SIG_LEN);
	memcpy(sig, digest, HASH_SHA256_LEN);
	*siglen = FAKE_SIG_LEN;
	return 0;
}

static void
check_ar(const struct hdr_list *hl, struct buf *scratch)
{
	const uint8_t	*v;
	size_t		 i, len, idx[4], n;

	for (i = 0; i < hdr_count(hl); i++) {
		if (!hdr_name_is(hl, i, "authentication-results"))
			continue;
		v = hdr_value(hl, i, &len);
		buf_reset(scratch);
		(void)arc_ar_authserv_id(v, len, scratch);
		buf_reset(scratch);
		(void)arc_ar_results(v, len, scratch);
	}
	if (arc_ar_ours(hl, "mx.example.com", idx, 4, &n) == -1)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hdr_list		*hl = NULL, *back = NULL;
	struct hash_body	*hb;
	struct arc		*a;
	struct buf		*name, *out;
	struct arc_seal_params	 p;
	const uint8_t		*sep;
	size_t			 i, k, hlen, body;

	if ((sep = memmem(data, size, "\r\n\r\n", 4)) != NULL) {
		hlen = (size_t)(sep - data) + 2;
		body = hlen + 2;
	} else
		hlen = body = size;
	if (hdr_parse(data, hlen, NULL, &hl, NULL) != HDR_OK)
		return 0;
	if ((hb = hash_body_new()) == NULL || (name = buf_new(0)) == NULL ||
	    (out = buf_new(0)) == NULL || (a = arc_new(hl, 12345, hb)) == NULL)
		abort();
	check_ar(hl, out);
	for (k = 0; k < arc_key_count(a); k++) {
		buf_reset(name);
		if (arc_key_name(a, k, name) == -1)
			abort();
		if (k % 5 == 4)
			arc_answer(a, k, VERIFY_DNS_ERROR, NULL, 0);
		else if (arc_answer(a, k, VERIFY_DNS_OK,
		    (const uint8_t *)rsa_key, strlen(rsa_key)) == -1)
			abort();
	}
	if (hash_body_update(hb, data + body, size - body) == -1 ||
	    hash_body_final(hb) == -1 || arc_finish(a) == -1)
		abort();
	if (arc_reason(a) == NULL || arc_next_instance(a) > ARC_SETS_MAX)
		abort();
	for (i = 1; i <= arc_set_count(a); i++)
		if (arc_ams_result(a, i) == VERIFY_NONE ||
		    arc_as_result(a, i) == VERIFY_NONE)
			abort();
	if (arc_result(a) == ARC_CV_PASS && arc_set_count(a) == 0)
		abort();
	memset(&p, 0, sizeof(p));
	p.domain = "example.org";
	p.selector = "dummy";
	p.authserv_id = "mx.example.com";
	p.results = "dkim=pass header.d=example.org; arc=pass";
	p.time = 12346;
	p.sign_fn = fake_sign;
	buf_reset(out);
	if (arc_seal(a, hl, &p, out) == 0 && buf_len(out) > 0) {
		/* What we add must be three well-formed fields. */
		if (hdr_parse(buf_data(out), buf_len(out), NULL, &back,
		    NULL) != HDR_OK || hdr_count(back) != 3)
			abort();
		for (i = 0; i < 3; i++)
			if (hdr_longest_line(back, i) > HDR_LINE_MAX)
				abort();
		hdr_free(back);
	}
	arc_free(a);
	buf_free(out);
	buf_free(name);
	hash_body_free(hb);
	hdr_free(hl);
	return 0;
}
