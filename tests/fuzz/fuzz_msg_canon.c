/*
 * libFuzzer target: DKIM canonicalization (proxy/msg/canon).
 *
 * The first input octet picks the algorithm and seeds the chunking; the
 * rest is a body.  The streaming machine, fed in pseudo-random chunks,
 * must produce exactly what a direct whole-buffer reading of RFC 6376
 * 3.4.3/3.4.4 below produces.  The same octets, if hdr accepts them as
 * one header field (only such fields reach the canonicalizer), must
 * canonicalize (relaxed) to a form that canonicalizes to itself.
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
is_wsp(uint8_t c)
{
	return c == ' ' || c == '\t';
}

/* Simple: drop every CRLF at the end, then end with one CRLF. */
static void
ref_simple(const uint8_t *p, size_t n, struct buf *out)
{
	while (n >= 2 && p[n - 2] == '\r' && p[n - 1] == '\n')
		n -= 2;
	check(buf_append(out, p, n) == 0 && buf_append(out, "\r\n", 2) == 0);
}

/*
 * Relaxed: split at CRLF; in each line WSP runs become SP and trailing
 * WSP goes; every line gets its CRLF (an unterminated last one too);
 * then trailing empty lines go.
 */
static void
ref_relaxed(const uint8_t *p, size_t n, struct buf *out)
{
	size_t	i = 0, ls, le, k, len;
	int	wsp;

	while (i < n) {
		ls = i;
		for (le = ls; le < n && !(p[le] == '\r' && le + 1 < n &&
		    p[le + 1] == '\n'); le++)
			continue;
		wsp = 0;
		for (k = ls; k < le; k++) {
			if (is_wsp(p[k])) {
				wsp = 1;
				continue;
			}
			if (wsp)
				check(buf_append_byte(out, ' ') == 0);
			wsp = 0;
			check(buf_append_byte(out, p[k]) == 0);
		}
		check(buf_append(out, "\r\n", 2) == 0);
		i = le < n ? le + 2 : n;
	}
	len = buf_len(out);
	while (len >= 2 && buf_data(out)[len - 2] == '\r' &&
	    buf_data(out)[len - 1] == '\n')
		len -= 2;
	buf_truncate(out, len);
	if (len > 0)
		check(buf_append(out, "\r\n", 2) == 0);
}

static int
buf_sink(void *ctx, const uint8_t *p, size_t n)
{
	check(n > 0);
	return buf_append(ctx, p, n);
}

static void
check_body(enum canon_alg alg, uint32_t seed, const uint8_t *p, size_t n)
{
	struct buf		*got = buf_new(0), *want = buf_new(0);
	struct canon_body	*cb;
	size_t			 off, take;

	check(got != NULL && want != NULL);
	check((cb = canon_body_new(alg, buf_sink, got)) != NULL);
	for (off = 0; off < n; off += take) {
		seed = seed * 1103515245 + 12345;
		take = 1 + (seed >> 16) % 17;
		if (take > n - off)
			take = n - off;
		check(canon_body_update(cb, p + off, take) == 0);
	}
	check(canon_body_final(cb) == 0);
	canon_body_free(cb);
	if (alg == CANON_SIMPLE)
		ref_simple(p, n, want);
	else
		ref_relaxed(p, n, want);
	check(buf_len(got) == buf_len(want) && (buf_len(got) == 0 ||
	    memcmp(buf_data(got), buf_data(want), buf_len(got)) == 0));
	buf_free(got);
	buf_free(want);
}

static void
check_header(const uint8_t *p, size_t n)
{
	struct buf	*once = buf_new(0), *twice = buf_new(0);
	struct hdr_list	*l = NULL;

	check(once != NULL && twice != NULL);
	if (hdr_parse(p, n, NULL, &l, NULL) == HDR_OK && hdr_count(l) == 1) {
		check(canon_header(CANON_RELAXED, p, n, once) == 0);
		check(canon_header(CANON_RELAXED, buf_data(once),
		    buf_len(once), twice) == 0);
		check(buf_len(once) == buf_len(twice) && memcmp(buf_data(once),
		    buf_data(twice), buf_len(once)) == 0);
	}
	hdr_free(l);
	buf_free(once);
	buf_free(twice);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	check_body((data[0] & 1) ? CANON_RELAXED : CANON_SIMPLE, data[0] >> 1,
	    data + 1, size - 1);
	check_header(data + 1, size - 1);
	return 0;
}
