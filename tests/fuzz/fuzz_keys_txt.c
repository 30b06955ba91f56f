/*
 * fuzz_keys_txt — the DNS answer parser signetctl rotate and check trust
 * (hostile-inputs.md fuzz target 8, KY-07): dnscheck_answer_parse() and
 * the verdict built on it, plus the TXT splitting and zone-file quoting
 * of publish.c on the same bytes.
 *
 * Input: one octet choosing the question type, then a DNS message that
 * is taken as the reply to "s1._domainkey.example.test".
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "keys/dnscheck.h"
#include "keys/publish.h"
#include "proxy/msg/buf.h"

#define QNAME	"s1._domainkey.example.test"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t	 types[] = { 16, 6, 2, 1, 28 };	/* TXT SOA NS A AAAA */
	struct dnscheck_answer	*a = NULL;
	struct dnscheck_want	 want;
	struct buf		*b;
	const uint8_t		*v;
	char			 detail[DNSCHECK_DETAIL_LEN];
	size_t			 i, len;
	uint32_t		 serial;
	uint16_t		 qtype;

	if (size < 1)
		return 0;
	qtype = types[data[0] % (sizeof(types) / sizeof(types[0]))];
	data++;
	size--;
	if (dnscheck_answer_parse(data, size, QNAME, qtype, &a) ==
	    DNSCHECK_PARSE_OK) {
		for (i = 0; i < dnscheck_answer_ntxt(a); i++) {
			v = dnscheck_answer_txt(a, i, &len);
			if (len > 0 && v == NULL)
				__builtin_trap();
			(void)dnscheck_answer_rdata(a, i, &len);
		}
		(void)dnscheck_answer_serial(a, &serial);
		memset(&want, 0, sizeof(want));
		want.fqdn = QNAME;
		want.value = data;
		want.len = size > 64 ? 64 : size;
		want.check_serial = 1;
		(void)dnscheck_judge(a, a, &want, detail, sizeof(detail));
		if (memchr(detail, '\0', sizeof(detail)) == NULL)
			__builtin_trap();
		dnscheck_answer_free(a);
	}
	if ((b = buf_new(0)) != NULL) {
		(void)publish_txt_rdata(b, data, size);
		if (buf_len(b) != size + publish_txt_nstrings(size))
			__builtin_trap();
		buf_reset(b);
		(void)publish_txt_render(b, data, size);
		buf_free(b);
	}
	return 0;
}
