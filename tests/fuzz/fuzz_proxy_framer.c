/*
 * Fuzz target for proxy/framer (hostile-inputs SM-01..SM-05, SM-08).
 *
 * Input: byte 0 picks a split point, byte 1 a size limit (its low bit:
 * header lines exempt from the 998 rule, DK-11); the rest is the DATA
 * stream.  Checks: (1) framing in two pieces gives the same end,
 * mark and offset as framing whole; (2) differential: the content of a
 * good message, re-stuffed by the writer and framed again, ends exactly
 * at the end of the writer's output and comes back identical; (3) the
 * writer never emits a bare CR, LF or NUL, whatever it is given; (4) BDAT
 * mode passes every octet of a good chunk through unchanged, and two
 * chunks give the same result as one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/framer.h"
#include "proxy/msg/buf.h"

struct run {
	struct buf	*content;
	int		 ended;
	size_t		 end;
	enum framer_bad	 bad;
	uint64_t	 off;
};

/* An empty buf has no data pointer; memcmp() must not see it. */
static int
same_bytes(const uint8_t *a, const uint8_t *b, size_t n)
{
	return n == 0 || memcmp(a, b, n) == 0;
}

static int
collect(void *arg, const uint8_t *p, size_t n)
{
	return buf_append(arg, p, n);
}

static int	long_hdr;

static void
frame(const uint8_t *p, size_t n, size_t cut, uint64_t max, struct run *r)
{
	struct framer		*f;
	enum framer_status	 st;
	size_t			 used, pos = 0;

	r->content = buf_new(0);
	f = framer_new(max, collect, r->content);
	if (f == NULL || r->content == NULL)
		abort();
	framer_long_header_lines(f, long_hdr);
	framer_start_data(f);
	if (cut > n)
		cut = n;
	st = framer_feed(f, p, cut, &used);
	pos = used;
	if (st == FRAMER_MORE) {
		if (used != cut)
			abort();
		st = framer_feed(f, p + pos, n - pos, &used);
		pos += used;
	}
	r->ended = st == FRAMER_END;
	r->end = pos;
	if (!r->ended && pos != n)
		abort();
	r->bad = framer_bad(f, &r->off);
	/* Only a CR that ended a read can have reached the sink before
	 * the next octet proved it bare. */
	if (r->bad != FRAMER_GOOD && buf_len(r->content) > r->off +
	    (r->bad == FRAMER_BARE_CR))
		abort();
	framer_free(f);
}

static void
check_wire(const uint8_t *p, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\0')
			abort();
		if (p[i] == '\r' && (i + 1 >= n || p[i + 1] != '\n'))
			abort();
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			abort();
	}
}

/* Write content through the writer in two pieces; -1 if refused. */
static int
restuff(const uint8_t *p, size_t n, size_t cut, struct buf *wire)
{
	struct framer_writer	*w = framer_writer_new(collect, wire);
	int			 rc;

	if (w == NULL)
		abort();
	if (cut > n)
		cut = n;
	rc = 0;
	if (n > 0) {
		rc = framer_writer_put(w, p, cut);
		if (rc == 0)
			rc = framer_writer_put(w, p + cut, n - cut);
	}
	if (rc == 0)
		rc = framer_writer_end(w);
	framer_writer_free(w);
	check_wire(buf_data(wire), buf_len(wire));
	return rc;
}

static void
bdat(const uint8_t *p, size_t n, size_t cut)
{
	struct buf	*content = buf_new(0), *content2 = buf_new(0);
	struct framer	*f = framer_new(0, collect, content);
	struct framer	*f2 = framer_new(0, collect, content2);
	enum framer_bad	 bad, bad2;
	uint64_t	 off, off2;
	size_t		 used;

	if (cut > n)
		cut = n;
	framer_long_header_lines(f, long_hdr);
	framer_long_header_lines(f2, long_hdr);
	framer_start_bdat(f);
	framer_bdat_chunk(f, n, 1);
	if (framer_feed(f, p, n, &used) != FRAMER_END || used != n)
		abort();
	bad = framer_bad(f, &off);
	if (bad == FRAMER_GOOD && (buf_len(content) != n ||
	    !same_bytes(buf_data(content), p, n)))
		abort();
	/* The same octets as two chunks, the second one LAST. */
	framer_start_bdat(f2);
	framer_bdat_chunk(f2, cut, 0);
	if (framer_feed(f2, p, n, &used) != FRAMER_CHUNK || used != cut)
		abort();
	framer_bdat_chunk(f2, n - cut, 1);
	if (framer_feed(f2, p + cut, n - cut, &used) != FRAMER_END ||
	    used != n - cut)
		abort();
	bad2 = framer_bad(f2, &off2);
	if (bad != bad2 || off != off2 ||
	    framer_line_open(f) != framer_line_open(f2))
		abort();
	if (bad == FRAMER_GOOD && (buf_len(content2) != n ||
	    !same_bytes(buf_data(content2), p, n)))
		abort();
	framer_free(f);
	framer_free(f2);
	buf_free(content);
	buf_free(content2);
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run	 whole, split, again;
	struct buf	*wire;
	const uint8_t	*p;
	size_t		 n, cut;
	uint64_t	 max;

	if (size < 2)
		return 0;
	cut = data[0];
	max = data[1] < 128 ? 0 : (uint64_t)(data[1] - 127) * 16;
	long_hdr = data[1] & 1;
	p = data + 2;
	n = size - 2;

	frame(p, n, n, max, &whole);
	frame(p, n, cut, max, &split);
	if (whole.ended != split.ended || whole.end != split.end ||
	    whole.bad != split.bad || whole.off != split.off)
		abort();
	if (whole.bad == FRAMER_GOOD && (buf_len(whole.content) !=
	    buf_len(split.content) || !same_bytes(buf_data(whole.content),
	    buf_data(split.content), buf_len(whole.content))))
		abort();

	wire = buf_new(0);
	if (restuff(buf_data(whole.content), buf_len(whole.content), cut,
	    wire) == 0) {
		frame(buf_data(wire), buf_len(wire), cut, 0, &again);
		if (!again.ended || again.end != buf_len(wire))
			abort();
		if (whole.ended && whole.bad == FRAMER_GOOD &&
		    (buf_len(again.content) != buf_len(whole.content) ||
		    !same_bytes(buf_data(again.content),
		    buf_data(whole.content), buf_len(whole.content))))
			abort();
		buf_free(again.content);
	} else if (whole.ended && whole.bad == FRAMER_GOOD)
		abort();	/* good content must always be writable */
	buf_free(wire);

	/* The writer on raw input: refuses or emits a safe wire. */
	wire = buf_new(0);
	restuff(p, n, cut, wire);
	buf_free(wire);

	bdat(p, n, cut);
	buf_free(whole.content);
	buf_free(split.content);
	return 0;
}
