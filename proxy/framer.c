/*
 * framer — end-of-data detection, dot-unstuffing and content checks for
 * DATA and BDAT, and the re-stuffing writer for the upstream.
 *
 * RFC 5321 4.1.1.4 (the end of data is CRLF "." CRLF), 4.5.2
 * (transparency), RFC 3030 (BDAT), RFC 5322 2.1.1 (998-octet lines);
 * hostile-inputs SM-01..SM-05, SM-08, DK-11, PR-08.
 *
 * Invariants: the end is found only on the raw octets CR LF . CR LF (the
 * first CR LF being the previous line's end, or the start of DATA); a CR
 * is half of a line end only when the very next octet is LF; nothing is
 * repaired.  After the first bad mark the sink gets nothing more, but the
 * scan goes on with the same rules, so the end found for a bad message is
 * the one a strict peer would find.  Good lines are skipped with memchr;
 * only anomalies are looked at octet by octet.
 *
 * The writer keeps the mirror invariant for what we send: every line it
 * emits is content without CR, LF or NUL, then CRLF, stuffed when it
 * starts with '.'.  A CR at the end of a put is held back until the next
 * octet proves it is followed by LF.
 */
#include <stdlib.h>
#include <string.h>

#include "proxy/framer.h"

enum framer_state {
	ST_BOL,		/* at the beginning of a line */
	ST_DOT,		/* DATA: took a line's leading dot */
	ST_DOTCR,	/* DATA: took ".", then CR (held back) */
	ST_MID,		/* inside a line, previous octet not CR */
	ST_CR		/* inside a line, previous octet CR */
};

struct framer {
	framer_sink		 sink;
	void			*arg;
	uint64_t		 max_size;
	int			 bdat;
	int			 done;
	enum framer_state	 st;
	size_t			 linelen;	/* content octets, no CR/LF */
	int			 hdr_exempt;	/* header lines may be long */
	int			 in_hdr;	/* no empty line seen yet */
	uint64_t		 chunk_left;	/* BDAT */
	int			 last;		/* BDAT */
	enum framer_bad		 bad;
	uint64_t		 bad_off;
	uint8_t			 ctx[FRAMER_CTX_MAX];
	size_t			 ctxlen;
	uint64_t		 wire;
	uint64_t		 seen;		/* content octets, emitted or not */
	uint64_t		 content;	/* content octets emitted */
	int			 has8bit;
};

/* One feed: the chunk and where we are in it. */
struct scan {
	const uint8_t	*base;		/* start of the fed bytes */
	const uint8_t	*end;
	const uint8_t	*span;		/* content not yet given to the sink */
};

struct framer *
framer_new(uint64_t max_size, framer_sink sink, void *arg)
{
	struct framer	*f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	f->max_size = max_size;
	f->sink = sink;
	f->arg = arg;
	framer_start_data(f);
	return f;
}

void
framer_free(struct framer *f)
{
	free(f);
}

static void
start(struct framer *f, int bdat)
{
	f->bdat = bdat;
	f->done = 0;
	f->st = ST_BOL;
	f->linelen = 0;
	f->in_hdr = 1;
	f->chunk_left = 0;
	f->last = 0;
	f->bad = FRAMER_GOOD;
	f->bad_off = 0;
	f->ctxlen = 0;
	f->wire = 0;
	f->seen = 0;
	f->content = 0;
	f->has8bit = 0;
}

void
framer_long_header_lines(struct framer *f, int on)
{
	f->hdr_exempt = on;
}

void
framer_start_data(struct framer *f)
{
	start(f, 0);
}

void
framer_start_bdat(struct framer *f)
{
	start(f, 1);
}

void
framer_bdat_chunk(struct framer *f, uint64_t size, int last)
{
	f->chunk_left = size;
	f->last = last;
}

/*
 * Record a bad mark; the one at the smallest offset wins, so the result
 * does not depend on where reads ended (the size limit is checked when
 * content is flushed, the rest while scanning).  Two marks at one offset
 * (a CR that is both bare and past the size limit) are ranked by the
 * enum's order, so the framing problems outrank the limits whichever
 * was seen first.  at is in this feed;
 * back is 1 when the offending octet is the one before at (a CR proven
 * bare by what follows it, possibly at the end of the previous feed).
 */
static void
mark_bad(struct framer *f, const struct scan *s, const uint8_t *at,
    unsigned int back, enum framer_bad why)
{
	const uint8_t	*from;
	uint64_t	 off;
	size_t		 n;

	off = f->wire + (uint64_t)(at - s->base) - back;
	if (f->bad != FRAMER_GOOD && (f->bad_off < off ||
	    (f->bad_off == off && f->bad <= why)))
		return;
	f->bad = why;
	f->bad_off = off;
	from = at - s->base > FRAMER_CTX_MAX / 4 ? at - FRAMER_CTX_MAX / 4 :
	    s->base;
	n = (size_t)(s->end - from);
	if (n > FRAMER_CTX_MAX)
		n = FRAMER_CTX_MAX;
	if (n > 0)
		memcpy(f->ctx, from, n);
	f->ctxlen = n;
}

/* Eight octets at a time: this runs over every content octet. */
static int
any_8bit(const uint8_t *p, size_t n)
{
	uint64_t	w, acc = 0;
	uint8_t		tail = 0;
	size_t		i;

	for (i = 0; i + sizeof(w) <= n; i += sizeof(w)) {
		memcpy(&w, p + i, sizeof(w));
		acc |= w;
	}
	for (; i < n; i++)
		tail |= p[i];
	return (acc & 0x8080808080808080ULL) != 0 || (tail & 0x80) != 0;
}

/*
 * Count the content [s->span, upto) against the limit, and give it to
 * the sink unless the message is bad.
 */
static void
flush(struct framer *f, struct scan *s, const uint8_t *upto)
{
	size_t	n = (size_t)(upto - s->span);

	if (n == 0)
		return;
	if (f->max_size != 0 && f->seen <= f->max_size &&
	    n > f->max_size - f->seen)
		mark_bad(f, s, s->span + (f->max_size - f->seen), 0,
		    FRAMER_TOO_BIG);
	f->seen += n;
	if (f->bad != FRAMER_GOOD) {
		s->span = upto;
		return;
	}
	if (!f->has8bit)
		f->has8bit = any_8bit(s->span, n);
	if (f->sink(f->arg, s->span, n) == -1)
		mark_bad(f, s, s->span, 0, FRAMER_SINK_FAILED);
	else
		f->content += n;
	s->span = upto;
}

/* Skip octets that are not content: flush what precedes them. */
static void
skip(struct framer *f, struct scan *s, const uint8_t *from, size_t n)
{
	flush(f, s, from);
	s->span = from + n;
}

/* Count plain content octets [p, p + n) into the current line. */
static void
line_add(struct framer *f, const struct scan *s, const uint8_t *p, size_t n)
{
	if (f->hdr_exempt && f->in_hdr) {
		/* Only "empty or not" matters here; saturate. */
		f->linelen = n > SIZE_MAX - f->linelen ? SIZE_MAX :
		    f->linelen + n;
		return;
	}
	if (n > FRAMER_LINE_MAX - f->linelen) {
		if (f->linelen <= FRAMER_LINE_MAX)
			mark_bad(f, s, p + (FRAMER_LINE_MAX - f->linelen), 0,
			    FRAMER_LINE_TOO_LONG);
		f->linelen = FRAMER_LINE_MAX + 1;
		return;
	}
	f->linelen += n;
}

/* A line ended with CRLF: the first empty one ends the header section. */
static void
line_end(struct framer *f)
{
	if (f->linelen == 0)
		f->in_hdr = 0;
	f->st = ST_BOL;
	f->linelen = 0;
}

/*
 * Inside a line: take octets up to the next state change.  The common
 * case, a whole line ending CRLF with no NUL and no other CR, is three
 * memchr calls.
 */
static const uint8_t *
scan_mid(struct framer *f, struct scan *s, const uint8_t *p)
{
	const uint8_t	*lf, *e, *nul, *cr, *stop;
	size_t		 n;

	lf = memchr(p, '\n', (size_t)(s->end - p));
	e = lf != NULL ? lf : s->end;
	n = (size_t)(e - p);
	nul = memchr(p, '\0', n);
	cr = memchr(p, '\r', n);
	if (nul == NULL && (cr == NULL || cr == e - 1)) {
		line_add(f, s, p, cr != NULL ? n - 1 : n);
		if (lf == NULL) {
			if (cr != NULL)
				f->st = ST_CR;
			return s->end;
		}
		if (cr != NULL)
			line_end(f);
		else
			mark_bad(f, s, lf, 0, FRAMER_BARE_LF);
		return lf + 1;
	}
	/* A NUL, or a CR that is not right before the LF: up to the first. */
	stop = nul;
	if (stop == NULL || (cr != NULL && cr < stop))
		stop = cr;
	line_add(f, s, p, (size_t)(stop - p));
	if (*stop == '\0') {
		mark_bad(f, s, stop, 0, FRAMER_NUL);
		line_add(f, s, stop, 1);
	} else
		f->st = ST_CR;
	return stop + 1;
}

/*
 * Run the state machine over [p, s->end).  Returns where it stopped:
 * s->end, or just after the LF that ended the message (DATA).
 */
static const uint8_t *
scan_run(struct framer *f, struct scan *s, const uint8_t *p, int *ended)
{
	while (p < s->end) {
		switch (f->st) {
		case ST_BOL:
			if (!f->bdat && *p == '.') {
				skip(f, s, p, 1);
				p++;
				f->st = ST_DOT;
			} else
				f->st = ST_MID;
			break;
		case ST_DOT:
			if (*p == '\r') {
				skip(f, s, p, 1);
				p++;
				f->st = ST_DOTCR;
			} else
				f->st = ST_MID;
			break;
		case ST_DOTCR:
			if (*p == '\n') {
				s->span = p + 1;
				*ended = 1;
				return p + 1;
			}
			/* The held CR was content, and bare. */
			mark_bad(f, s, p, 1, FRAMER_BARE_CR);
			f->st = ST_MID;
			break;
		case ST_CR:
			if (*p == '\n') {
				p++;
				line_end(f);
			} else {
				mark_bad(f, s, p, 1, FRAMER_BARE_CR);
				f->st = ST_MID;
			}
			break;
		case ST_MID:
			p = scan_mid(f, s, p);
			break;
		}
	}
	return p;
}

enum framer_status
framer_feed(struct framer *f, const uint8_t *buf, size_t n, size_t *used)
{
	struct scan	 s;
	const uint8_t	*stop;
	size_t		 take;
	int		 ended;

	*used = 0;
	if (f->done)
		return FRAMER_END;
	take = n;
	if (f->bdat && f->chunk_left < take)
		take = (size_t)f->chunk_left;
	ended = 0;
	stop = buf;
	s.base = s.end = s.span = buf;
	if (take > 0) {
		s.end = buf + take;
		stop = scan_run(f, &s, buf, &ended);
		flush(f, &s, ended ? s.span : stop);
	}
	*used = (size_t)(stop - buf);
	if (ended) {
		f->wire += *used;
		f->done = 1;
		return FRAMER_END;
	}
	if (f->bdat)
		f->chunk_left -= *used;
	if (f->bdat && f->chunk_left == 0 && f->last && f->st == ST_CR) {
		/* The message's last octet is a CR: bare. */
		s.end = stop;
		mark_bad(f, &s, stop, 1, FRAMER_BARE_CR);
	}
	f->wire += *used;
	if (!f->bdat || f->chunk_left > 0)
		return FRAMER_MORE;
	if (!f->last)
		return FRAMER_CHUNK;
	f->done = 1;
	return FRAMER_END;
}

enum framer_bad
framer_bad(const struct framer *f, uint64_t *offset)
{
	if (offset != NULL)
		*offset = f->bad_off;
	return f->bad;
}

const uint8_t *
framer_bad_context(const struct framer *f, size_t *len)
{
	*len = f->ctxlen;
	return f->ctx;
}

const char *
framer_bad_reply(enum framer_bad bad)
{
	switch (bad) {
	case FRAMER_GOOD:
		break;
	case FRAMER_BARE_LF:
		return "550 5.5.2 Error: bare <LF> received";
	case FRAMER_BARE_CR:
		return "550 5.5.2 Error: bare <CR> received";
	case FRAMER_NUL:
		return "554 5.6.0 Error: message contains NUL octets";
	case FRAMER_LINE_TOO_LONG:
		return "554 5.6.0 Error: line longer than 998 octets "
		    "(RFC 5322 2.1.1)";
	case FRAMER_TOO_BIG:
		return "552 5.3.4 Error: message too big";
	case FRAMER_SINK_FAILED:
		return "451 4.3.0 Error: internal error";
	}
	return NULL;
}

const char *
framer_bad_name(enum framer_bad bad)
{
	switch (bad) {
	case FRAMER_GOOD:
		return "good";
	case FRAMER_BARE_LF:
		return "bare_lf";
	case FRAMER_BARE_CR:
		return "bare_cr";
	case FRAMER_NUL:
		return "nul";
	case FRAMER_LINE_TOO_LONG:
		return "line_too_long";
	case FRAMER_TOO_BIG:
		return "too_big";
	case FRAMER_SINK_FAILED:
		return "sink_failed";
	}
	return "unknown";
}

uint64_t
framer_wire_bytes(const struct framer *f)
{
	return f->wire;
}

uint64_t
framer_content_bytes(const struct framer *f)
{
	return f->content;
}

int
framer_line_open(const struct framer *f)
{
	return f->st != ST_BOL;
}

int
framer_has_8bit(const struct framer *f)
{
	return f->has8bit;
}

/* The writer. */

struct framer_writer {
	framer_sink	 out;
	void		*arg;
	int		 bol;
	int		 cr;		/* a CR is held back */
	int		 failed;
	int		 raw;		/* BDAT: no stuffing, no dot */
};

struct framer_writer *
framer_writer_new(framer_sink out, void *arg)
{
	struct framer_writer	*w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->out = out;
	w->arg = arg;
	framer_writer_reset(w);
	return w;
}

void
framer_writer_free(struct framer_writer *w)
{
	free(w);
}

void
framer_writer_reset(struct framer_writer *w)
{
	w->bol = 1;
	w->cr = 0;
	w->failed = 0;
	w->raw = 0;
}

void
framer_writer_reset_raw(struct framer_writer *w)
{
	framer_writer_reset(w);
	w->raw = 1;
}

static int
emit(struct framer_writer *w, const uint8_t *p, size_t n)
{
	if (n == 0)
		return 0;
	if (w->out(w->arg, p, n) == -1) {
		w->failed = 1;
		return -1;
	}
	return 0;
}

static int
writer_fail(struct framer_writer *w)
{
	w->failed = 1;
	return -1;
}

int
framer_writer_put(struct framer_writer *w, const uint8_t *p, size_t n)
{
	const uint8_t	*end, *span, *lf, *e, *cr;

	if (w->failed)
		return -1;
	if (n == 0)
		return 0;
	end = p + n;
	span = p;
	while (p < end) {
		if (w->cr) {
			/* The held CR and its LF go out together. */
			if (*p != '\n')
				return writer_fail(w);
			w->cr = 0;
			if (emit(w, (const uint8_t *)"\r\n", 2) == -1)
				return -1;
			span = ++p;
			w->bol = 1;
			continue;
		}
		if (w->bol && *p == '.' && !w->raw) {
			if (emit(w, span, (size_t)(p - span)) == -1 ||
			    emit(w, (const uint8_t *)".", 1) == -1)
				return -1;
			span = p;
		}
		w->bol = 0;
		lf = memchr(p, '\n', (size_t)(end - p));
		e = lf != NULL ? lf : end;
		if (memchr(p, '\0', (size_t)(e - p)) != NULL)
			return writer_fail(w);
		cr = memchr(p, '\r', (size_t)(e - p));
		if (cr != NULL && cr != e - 1)
			return writer_fail(w);
		if (lf == NULL) {
			if (cr != NULL) {
				if (emit(w, span, (size_t)(cr - span)) == -1)
					return -1;
				w->cr = 1;
				span = end;
			}
			p = end;
			break;
		}
		if (cr == NULL)
			return writer_fail(w);
		p = lf + 1;
		w->bol = 1;
	}
	return emit(w, span, (size_t)(end - span));
}

int
framer_writer_end(struct framer_writer *w)
{
	if (w->failed || w->cr)
		return writer_fail(w);
	/* BDAT announced its size: nothing may be added now. */
	if (w->raw)
		return w->bol ? 0 : writer_fail(w);
	if (!w->bol && emit(w, (const uint8_t *)"\r\n", 2) == -1)
		return -1;
	w->bol = 1;
	return emit(w, (const uint8_t *)".\r\n", 3);
}
