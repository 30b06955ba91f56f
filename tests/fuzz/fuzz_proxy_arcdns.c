/*
 * fuzz_proxy_arcdns — the resolver answers signetd trusts for ARC and
 * DKIM key records (arcd_dns_answer; hostile-inputs KY-07, AR-02).
 *
 * Input: a DNS message, taken as the reply to the TXT query for
 * "s1._domainkey.example.test" with the message's own id, so the
 * parser gets past the id check.  Checks: no crash, a result in range,
 * a record only with VERIFY_DNS_OK and never over the UDP size.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "keys/dnscheck.h"
#include "proxy/arcd.h"
#include "proxy/msg/buf.h"
#include "proxy/msg/verify.h"

#define QNAME	"s1._domainkey.example.test"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf	*txt;
	int		 rc;

	if (size < 2 || (txt = buf_new(VERIFY_KEY_TXT_MAX)) == NULL)
		return 0;
	rc = arcd_dns_answer(data, size, QNAME, data, txt);
	if (rc < -1 || rc > VERIFY_DNS_ERROR)
		abort();
	if (rc == VERIFY_DNS_OK && buf_len(txt) > DNSCHECK_UDP_MAX)
		abort();
	buf_free(txt);
	return 0;
}
