/*
 * libFuzzer target: the RFC 6376 3.2 tag-list parser and the h= and
 * base64 readers that run on its values (proxy/msg/dkim).  Besides the
 * sanitizers, it checks that every reported name, value and span lies
 * inside the input and that a value lies inside its span.
 */
#include <stdint.h>
#include <stdlib.h>

#include "proxy/msg/buf.h"
#include "proxy/msg/dkim.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
inside(const uint8_t *base, size_t len, const uint8_t *p, size_t n)
{
	if (p < base || p > base + len || n > (size_t)(base + len - p))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dkim_tags	*tl;
	struct buf		*b;
	const uint8_t		*p, *name, *nm;
	char			 cname[2] = { 0, 0 };
	size_t			 i, n, nl, off, span, pos;

	if (dkim_tags_parse(data, size, &tl, NULL) != DKIM_TAGS_OK) {
		if (tl != NULL)
			abort();
		return 0;
	}
	if ((b = buf_new(0)) == NULL)
		abort();
	for (i = 0; i < dkim_tags_count(tl); i++) {
		name = dkim_tags_name(tl, i, &nl);
		inside(data, size, name, nl);
		p = dkim_tags_value(tl, i, &n);
		inside(data, size, p, n);
		if (nl == 1) {
			cname[0] = (char)name[0];
			if (dkim_tags_span(tl, cname, &off, &span) != 0)
				abort();
			if (off > size || span > size - off ||
			    p < data + off || p + n > data + off + span)
				abort();
		}
		buf_reset(b);
		(void)dkim_base64_decode(p, n, b);
		pos = 0;
		while (dkim_hnames_next(p, n, &pos, &nm, &nl) == 1)
			inside(p, n, nm, nl);
	}
	buf_free(b);
	dkim_tags_free(tl);
	return 0;
}
