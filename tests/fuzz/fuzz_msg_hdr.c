/*
 * libFuzzer target: the strict header-section parser (proxy/msg/hdr).
 * Beyond the sanitizers it checks what signing relies on: a section that
 * parses serializes back to exactly the input; every accessor stays in
 * its field; refolding keeps each field's relaxed canonical form and
 * brings every line under the limit, or fails and changes nothing; and
 * removing then re-inserting a field restores the section.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/msg/buf.h"
#include "proxy/msg/canon.h"
#include "proxy/msg/hdr.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(int ok)
{
	if (!ok)
		abort();
}

static int
same(const struct buf *b, const void *p, size_t n)
{
	return buf_len(b) == n && (n == 0 || memcmp(buf_data(b), p, n) == 0);
}

static void
check_fields(const struct hdr_list *l)
{
	const uint8_t	*raw, *name, *val;
	char		 cname[HDR_LINE_MAX + 1];
	size_t		 i, rl, nl, vl;

	for (i = 0; i < hdr_count(l); i++) {
		raw = hdr_raw(l, i, &rl);
		name = hdr_name(l, i, &nl);
		val = hdr_value(l, i, &vl);
		check(raw != NULL && name == raw && nl > 0 && nl < rl);
		check(val > raw && val + vl + 2 == raw + rl);
		check(raw[rl - 2] == '\r' && raw[rl - 1] == '\n');
		check(val[-1] == ':');
		if (nl <= HDR_LINE_MAX) {
			memcpy(cname, name, nl);
			cname[nl] = '\0';
			check(hdr_name_is(l, i, cname));
			check(hdr_find(l, cname) >= 0 &&
			    (size_t)hdr_find(l, cname) <= i);
			check(hdr_find_from_bottom(l, cname, 0) >= (long)i);
			check(hdr_count_name(l, cname) >= 1);
		}
		check(hdr_longest_line(l, i) < rl);
	}
	check(hdr_raw(l, hdr_count(l), &rl) == NULL);
}

static void
check_refold(struct hdr_list *l, size_t max)
{
	struct buf	*before = buf_new(0), *after = buf_new(0);
	struct buf	*old = buf_new(0), *all = buf_new(0);
	struct hdr_list	*again = NULL;
	struct hdr_limits lim = { SIZE_MAX / 4, SIZE_MAX / 4, SIZE_MAX / 4 };
	const uint8_t	*raw;
	size_t		 i, rl;

	check(before != NULL && after != NULL && old != NULL && all != NULL);
	for (i = 0; i < hdr_count(l); i++) {
		raw = hdr_raw(l, i, &rl);
		buf_reset(old);
		buf_reset(before);
		check(buf_append(old, raw, rl) == 0);
		check(canon_header(CANON_RELAXED, raw, rl, before) == 0);
		if (hdr_refold(l, i, max) == -1) {
			raw = hdr_raw(l, i, &rl);
			check(same(old, raw, rl));
			continue;
		}
		check(hdr_longest_line(l, i) <= max);
		raw = hdr_raw(l, i, &rl);
		buf_reset(after);
		check(canon_header(CANON_RELAXED, raw, rl, after) == 0);
		check(same(after, buf_data(before), buf_len(before)));
	}
	check(hdr_serialize(l, all) == 0);
	check(hdr_parse(buf_data(all), buf_len(all), &lim, &again, NULL) ==
	    HDR_OK);
	check(hdr_count(again) == hdr_count(l));
	hdr_free(again);
	buf_free(before);
	buf_free(after);
	buf_free(old);
	buf_free(all);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hdr_list	*l = NULL;
	struct buf	*b;
	const uint8_t	*raw;
	uint8_t		*copy;
	enum hdr_err	 e;
	size_t		 off = SIZE_MAX, rl;

	e = hdr_parse(data, size, NULL, &l, &off);
	if (e != HDR_OK) {
		check(l == NULL && off <= size);
		check(hdr_strerror(e) != NULL);
		return 0;
	}
	check(l != NULL);
	check((hdr_count(l) == 0) == (size == 0));
	check_fields(l);

	b = buf_new(0);
	check(b != NULL && hdr_serialize(l, b) == 0 && same(b, data, size));

	if (hdr_count(l) > 0) {
		/* Take field 0 out and put it back. */
		raw = hdr_raw(l, 0, &rl);
		check((copy = malloc(rl)) != NULL);
		memcpy(copy, raw, rl);
		check(hdr_remove(l, 0) == 0);
		check(hdr_insert(l, 0, copy, rl) == 0);
		free(copy);
		buf_reset(b);
		check(hdr_serialize(l, b) == 0 && same(b, data, size));
	}

	/* A limit derived from the input, so the fuzzer explores it. */
	check_refold(l, size == 0 ? 1 : 1 + data[0] % 100);
	buf_free(b);
	hdr_free(l);
	return 0;
}
