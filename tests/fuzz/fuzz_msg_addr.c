/*
 * libFuzzer target: the From mailbox parser and domain normalization
 * (proxy/msg/addr).  Beyond the sanitizers it checks that an accepted
 * mailbox yields a normalized domain that normalizes to itself, and that
 * the addr-spec it reports parses again to the same domain; and that
 * nothing is written on failure.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/msg/addr.h"
#include "proxy/msg/buf.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(int ok)
{
	if (!ok)
		abort();
}

static int
same(const struct buf *a, const struct buf *b)
{
	return buf_len(a) == buf_len(b) && (buf_len(a) == 0 ||
	    memcmp(buf_data(a), buf_data(b), buf_len(a)) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf	*spec = buf_new(0), *dom = buf_new(0);
	struct buf	*dom2 = buf_new(0), *norm = buf_new(0);
	enum addr_err	 e;

	check(spec != NULL && dom != NULL && dom2 != NULL && norm != NULL);
	e = addr_parse_mailbox(data, size, spec, dom);
	check(addr_strerror(e) != NULL);
	if (e != ADDR_OK) {
		check(buf_len(spec) == 0 && buf_len(dom) == 0);
	} else {
		check(buf_len(dom) > 0 && memchr(buf_data(spec), '@',
		    buf_len(spec)) != NULL);
		check(addr_normalize_domain(buf_data(dom), buf_len(dom),
		    norm) == 0 && same(norm, dom));
		check(addr_parse_mailbox(buf_data(spec), buf_len(spec), NULL,
		    dom2) == ADDR_OK && same(dom2, dom));
	}

	buf_reset(norm);
	buf_reset(dom2);
	if (addr_normalize_domain(data, size, norm) == 0) {
		check(addr_normalize_domain(buf_data(norm), buf_len(norm),
		    dom2) == 0 && same(norm, dom2));
	} else
		check(buf_len(norm) == 0);

	buf_free(spec);
	buf_free(dom);
	buf_free(dom2);
	buf_free(norm);
	return 0;
}
