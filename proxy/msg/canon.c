/*
 * canon — DKIM canonicalization (RFC 6376 3.4.1-3.4.4).
 *
 * Headers: one raw field at a time, simple (unchanged) or relaxed.
 *
 * Bodies stream through a small machine that keeps counters, never
 * copies of the message: line ends it has not emitted yet (they are
 * dropped if only empty lines follow), a pending WSP run (relaxed), and a
 * CR that may be the first half of a CRLF split across chunks.  Input
 * lines end CRLF; a lone CR or LF is an ordinary octet here, since the
 * proxy refuses such messages before they reach this module.
 *
 * Speed: output that equals the input is taken as spans of the caller's
 * chunk; only what canonicalization changes (a WSP run, trailing WSP,
 * line ends held across chunks) comes from constants.  Relaxed finds the
 * spans a block of octets at a time and does per-octet work only around
 * WSP and line ends.  Long spans reach the sink uncopied; short ones are
 * gathered into a fixed stage first, so that text changed on every line
 * still costs few sink calls.  The stage is emptied before each call
 * returns.  A simple body is one or two sink calls per chunk, and so is
 * a relaxed body that is already mostly canonical.
 */
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/msg/buf.h"
#include "proxy/msg/canon.h"

/* Held-back line ends go out from here, CANON_CRLF_BATCH per sink call. */
#define CANON_CRLF_BATCH	32
static const uint8_t	crlfs[2 * CANON_CRLF_BATCH + 1] =
    "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n"
    "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n";

/*
 * Relaxed output is mostly short spans between changed WSP and line ends,
 * and a sink call (a digest update) costs far more than copying a few
 * dozen octets, so spans up to CANON_COPY_MAX octets are gathered in a
 * stage of CANON_STAGE octets and reach the sink together; longer spans
 * go uncopied.  The stage is emptied before canon_body_update and
 * canon_body_final return, so between calls only counters are held.
 * Sizes measured with bench_sign -B: a stage of a few SHA-256 blocks
 * makes the sink's cost per octet that of one large update.
 */
#define CANON_STAGE	4096
#define CANON_COPY_MAX	256

struct canon_body {
	enum canon_alg	 alg;
	canon_sink	 sink;
	void		*ctx;
	uint64_t	 crlf_pending;	/* line ends not yet emitted */
	int		 cr_held;	/* last chunk ended with CR */
	int		 wsp_pending;	/* relaxed: WSP run not yet emitted */
	int		 any_content;	/* relaxed: anything emitted */
	int		 failed;	/* a sink call failed: stay failed */
	int		 done;		/* canon_body_final was called */
	size_t		 staged;	/* octets in stage */
	uint8_t		 stage[CANON_STAGE];
};

static int
is_wsp(uint8_t c)
{
	return c == ' ' || c == '\t';
}

int
canon_parse_alg(const char *s, size_t len, enum canon_alg *alg)
{
	if (len == 6 && memcmp(s, "simple", 6) == 0)
		*alg = CANON_SIMPLE;
	else if (len == 7 && memcmp(s, "relaxed", 7) == 0)
		*alg = CANON_RELAXED;
	else
		return -1;
	return 0;
}

const char *
canon_alg_name(enum canon_alg alg)
{
	return alg == CANON_RELAXED ? "relaxed" : "simple";
}

/*
 * Octets of whitespace at i in a field value: 1 for WSP, 2 for the CRLF of
 * a fold (RFC 5322 2.2.3: a CRLF followed by WSP), 0 for anything else.
 */
static size_t
fold_wsp(const uint8_t *p, size_t i, size_t end)
{
	if (is_wsp(p[i]))
		return 1;
	if (p[i] == '\r' && i + 2 < end && p[i + 1] == '\n' &&
	    is_wsp(p[i + 2]))
		return 2;
	return 0;
}

/*
 * RFC 6376 3.4.2: lower-case the name, unfold, turn WSP runs into one SP,
 * drop WSP at the end of the value and on both sides of the colon.
 * Folding CRLFs count as WSP, so unfolding and collapsing are one step.
 */
static int
canon_header_relaxed(const uint8_t *p, size_t len, struct buf *out)
{
	size_t	colon, nameend, i, end, run, w;
	int	wsp = 0;

	for (colon = 0; colon < len && p[colon] != ':'; colon++)
		continue;
	if (colon == len)
		return -1;
	for (nameend = colon; nameend > 0 && is_wsp(p[nameend - 1]);
	    nameend--)
		continue;
	for (i = 0; i < nameend; i++)
		if (buf_append_byte(out, p[i] >= 'A' && p[i] <= 'Z' ?
		    p[i] - 'A' + 'a' : p[i]) == -1)
			return -1;
	if (buf_append_byte(out, ':') == -1)
		return -1;
	end = len;
	if (end - colon >= 3 && p[end - 2] == '\r' && p[end - 1] == '\n')
		end -= 2;
	for (i = colon + 1; i < end && (w = fold_wsp(p, i, end)) > 0; i += w)
		continue;
	while (i < end) {
		if ((w = fold_wsp(p, i, end)) > 0) {
			wsp = 1;
			i += w;
			continue;
		}
		if (wsp && buf_append_byte(out, ' ') == -1)
			return -1;
		wsp = 0;
		/* A CR that does not fold is an ordinary octet. */
		run = i++;
		while (i < end && !is_wsp(p[i]) && p[i] != '\r')
			i++;
		if (buf_append(out, p + run, i - run) == -1)
			return -1;
	}
	return buf_append(out, "\r\n", 2);
}

int
canon_header(enum canon_alg alg, const uint8_t *p, size_t len,
    struct buf *out)
{
	size_t	mark = buf_len(out);
	int	rc;

	if (alg == CANON_SIMPLE)
		return buf_append(out, p, len);
	if ((rc = canon_header_relaxed(p, len, out)) == -1)
		buf_truncate(out, mark);
	return rc;
}

struct canon_body *
canon_body_new(enum canon_alg alg, canon_sink sink, void *ctx)
{
	struct canon_body	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->alg = alg;
	c->sink = sink;
	c->ctx = ctx;
	return c;
}

void
canon_body_free(struct canon_body *c)
{
	free(c);
}

/* Hands the staged octets to the sink. */
static int
flush(struct canon_body *c)
{
	size_t	n = c->staged;

	c->staged = 0;
	if (n == 0)
		return 0;
	if (c->sink(c->ctx, c->stage, n) == -1) {
		c->failed = 1;
		return -1;
	}
	return 0;
}

/*
 * Output, in order: short pieces are staged, long spans go to the sink
 * straight from the caller's chunk once the stage ahead of them is out.
 */
static int
emit(struct canon_body *c, const uint8_t *p, size_t n)
{
	if (n == 0)
		return 0;
	if (n <= CANON_COPY_MAX) {
		if (sizeof(c->stage) - c->staged < n && flush(c) == -1)
			return -1;
		memcpy(c->stage + c->staged, p, n);
		c->staged += n;
		return 0;
	}
	if (flush(c) == -1)
		return -1;
	if (c->sink(c->ctx, p, n) == -1) {
		c->failed = 1;
		return -1;
	}
	return 0;
}

/* Emit the line ends held back, now that content follows them. */
static int
emit_crlfs(struct canon_body *c)
{
	size_t	n;

	while (c->crlf_pending > 0) {
		n = c->crlf_pending > CANON_CRLF_BATCH ?
		    CANON_CRLF_BATCH : (size_t)c->crlf_pending;
		if (emit(c, crlfs, 2 * n) == -1)
			return -1;
		c->crlf_pending -= n;
	}
	return 0;
}

/*
 * Simple (RFC 6376 3.4.3): everything up to the last octet that is not
 * part of a trailing CRLF run goes out unchanged in one span; that run is
 * only counted.  CRLF pairs cannot overlap, so scanning them backwards
 * from the end finds the same pairs as reading forwards.
 */
static int
simple_update(struct canon_body *c, const uint8_t *p, size_t n)
{
	size_t	end, tail = 0;

	if (c->cr_held) {
		c->cr_held = 0;
		if (p[0] == '\n') {
			c->crlf_pending++;
			p++;
			n--;
		} else if (emit_crlfs(c) == -1 ||
		    emit(c, (const uint8_t *)"\r", 1) == -1)
			return -1;
	}
	end = n;
	if (end > 0 && p[end - 1] == '\r') {
		c->cr_held = 1;
		end--;
	}
	while (end >= 2 && p[end - 2] == '\r' && p[end - 1] == '\n') {
		end -= 2;
		tail++;
	}
	if (end > 0 && (emit_crlfs(c) == -1 || emit(c, p, end) == -1))
		return -1;
	c->crlf_pending += tail;
	return 0;
}

static int
simple_final(struct canon_body *c)
{
	/* A held CR had no LF after it: an ordinary octet.  Whatever the
	 * body held, simple output ends with exactly one CRLF. */
	if (c->cr_held && (emit_crlfs(c) == -1 ||
	    emit(c, (const uint8_t *)"\r", 1) == -1))
		return -1;
	c->cr_held = 0;
	c->crlf_pending = 0;
	return emit(c, crlfs, 2);
}

/* Relaxed: the held-back line ends and WSP, in canonical form. */
static int
relaxed_deferred(struct canon_body *c)
{
	if (emit_crlfs(c) == -1)
		return -1;
	if (c->wsp_pending && emit(c, (const uint8_t *)" ", 1) == -1)
		return -1;
	c->wsp_pending = 0;
	return 0;
}

/* An ordinary octet: not WSP, not CR (a CR may start a line end). */
static int
is_plain(uint8_t c)
{
	return c != ' ' && c != '\t' && c != '\r';
}

/*
 * Block-at-a-time scanning (relaxed): a block is CANON_BLOCK octets of the
 * chunk in a vector (a GCC/Clang extension that compiles to SIMD where the
 * target has it and to plain code elsewhere), loaded with memcpy so
 * alignment does not matter.
 */
#define CANON_BLOCK	16
typedef uint8_t	canon_vec __attribute__((vector_size(CANON_BLOCK)));

/*
 * The first octet of the block at p that may end a run of content, or
 * CANON_BLOCK: TAB and CR (with the other controls), and an SP followed by
 * WSP or CR (or by another octet below SP).  The extras are octets that
 * plain_run reads one by one and passes over.  y is the block one octet
 * further on, so lane k of y is the octet after lane k of x; the lanes are
 * read back as little-endian words so that lane k is p[k] on any host.
 * The caller guarantees CANON_BLOCK + 1 readable octets.
 */
static size_t
block_stop(const uint8_t *p)
{
	canon_vec	x, y, m;
	uint64_t	w[CANON_BLOCK / sizeof(uint64_t)];
	size_t		k;

	memcpy(&x, p, sizeof(x));
	memcpy(&y, p + 1, sizeof(y));
	m = (canon_vec)((x < ' ') | ((x == ' ') & (y <= ' ')));
	memcpy(w, &m, sizeof(w));
	for (k = 0; k < sizeof(w) / sizeof(w[0]); k++)
		if (w[k] != 0)
			return k * sizeof(w[0]) +
			    (size_t)__builtin_ctzll(le64toh(w[k])) / 8;
	return CANON_BLOCK;
}

/*
 * The end of a run of content starting at i: plain octets, and single
 * SPs between plain octets, which relaxed leaves as they are.  Whole
 * blocks are skipped while nothing in them may end the run; every octet
 * before the first that may is content, so the octet-wise check resumes
 * right there.
 */
static size_t
plain_run(const uint8_t *p, size_t n, size_t i)
{
	size_t	k;

	for (;;) {
		while (n - i > CANON_BLOCK) {
			k = block_stop(p + i);
			i += k;
			if (k < CANON_BLOCK)
				break;
		}
		if (i < n && is_plain(p[i]))
			i++;
		else if (i + 1 < n && p[i] == ' ' && is_plain(p[i + 1]))
			i += 2;
		else
			return i;
	}
}

/*
 * How many octets at the end of a held region [dev, i) of this chunk can
 * go out as they are, saving sink calls: the longest end of the region
 * that also ends its canonical form (the held CRLFs, then one SP if WSP
 * is held).  That is a last SP (1), a last CRLF (2), or both (3).  The
 * region holds only WSP and CRLF pairs, so a "\r\n" in it is a pair.
 */
static size_t
relaxed_reuse(const struct canon_body *c, const uint8_t *p, size_t dev,
    size_t i)
{
	size_t	t = 0;

	if (c->wsp_pending) {
		if (p[i - 1] != ' ')
			return 0;
		t = 1;
	}
	if (c->crlf_pending > 0 && i - t - dev >= 2 &&
	    p[i - t - 2] == '\r' && p[i - t - 1] == '\n')
		t += 2;
	return t;
}

/*
 * Relaxed (RFC 6376 3.4.4): WSP runs become one SP, WSP at the end of a
 * line goes, trailing empty lines go.  Line ends and WSP are held back
 * as counters until the next content octet shows whether they stay.
 *
 * Most text is already canonical, so the chunk is passed on in spans:
 * [s, ...) is input known to equal its canonical form.  A held-back
 * region that began at dev in this chunk extends the span if it, too,
 * is already canonical (CRLFs followed by at most one SP); otherwise the
 * span ends at dev, the region's canonical form goes out instead, and
 * the next span starts early to take in what the region ends with that
 * its canonical form also ends with (relaxed_reuse).  A region carried
 * over from an earlier chunk always goes out from constants.
 */
static int
relaxed_update(struct canon_body *c, const uint8_t *p, size_t n)
{
	size_t	i = 0, s = 0, dev = 0, end, t;
	int	held, local = 0;

	if (c->cr_held) {
		c->cr_held = 0;
		if (p[0] == '\n') {
			c->wsp_pending = 0;
			c->crlf_pending++;
			i = s = dev = 1;
		} else {
			if (relaxed_deferred(c) == -1 ||
			    emit(c, (const uint8_t *)"\r", 1) == -1)
				return -1;
			c->any_content = 1;
		}
	}
	held = c->crlf_pending > 0 || c->wsp_pending;
	while (i < n) {
		if (p[i] == ' ' || p[i] == '\t') {
			if (!held) {
				held = local = 1;
				dev = i;
			}
			c->wsp_pending = 1;
			i++;
			continue;
		}
		if (p[i] == '\r' && i + 1 == n) {
			c->cr_held = 1;
			break;
		}
		if (p[i] == '\r' && p[i + 1] == '\n') {
			if (!held) {
				held = local = 1;
				dev = i;
			}
			c->wsp_pending = 0;
			c->crlf_pending++;
			i += 2;
			continue;
		}
		/* Content, a lone CR included. */
		if (held) {
			if (local && i - dev == 2 * c->crlf_pending +
			    (size_t)c->wsp_pending &&
			    (!c->wsp_pending || p[i - 1] == ' ')) {
				c->crlf_pending = 0;
				c->wsp_pending = 0;
			} else {
				t = local ? relaxed_reuse(c, p, dev, i) : 0;
				if (t >= 2)
					c->crlf_pending--;
				if (t % 2 == 1)
					c->wsp_pending = 0;
				if (emit(c, p + s, dev - s) == -1 ||
				    relaxed_deferred(c) == -1)
					return -1;
				s = i - t;
			}
			held = local = 0;
		}
		c->any_content = 1;
		i = plain_run(p, n, i + 1);
	}
	end = held ? dev : c->cr_held ? n - 1 : n;
	return emit(c, p + s, end - s);
}

static int
relaxed_final(struct canon_body *c)
{
	if (c->cr_held) {
		if (relaxed_deferred(c) == -1 ||
		    emit(c, (const uint8_t *)"\r", 1) == -1)
			return -1;
		c->any_content = 1;
	}
	c->cr_held = 0;
	c->crlf_pending = 0;
	c->wsp_pending = 0;
	/* A non-empty body ends with exactly one CRLF, added if missing;
	 * an empty one stays empty. */
	return c->any_content ? emit(c, crlfs, 2) : 0;
}

int
canon_body_update(struct canon_body *c, const uint8_t *p, size_t n)
{
	if (c->failed || c->done)
		return -1;
	if (n == 0)
		return 0;
	if ((c->alg == CANON_SIMPLE ? simple_update(c, p, n) :
	    relaxed_update(c, p, n)) == -1)
		return -1;
	return flush(c);
}

int
canon_body_final(struct canon_body *c)
{
	if (c->failed || c->done)
		return -1;
	c->done = 1;
	if ((c->alg == CANON_SIMPLE ? simple_final(c) : relaxed_final(c)) ==
	    -1)
		return -1;
	return flush(c);
}
