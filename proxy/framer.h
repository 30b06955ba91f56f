/*
 * framer — where a message ends, and what its content is.
 *
 * Reading (DATA, RFC 5321 4.1.1.4 and 4.5.2): raw bytes in, split
 * anywhere; content out through a sink.  The end of data is only the five
 * octets CR LF . CR LF, decided on raw bytes before dot-unstuffing, where
 * the first CR LF is the end of the previous line; the DATA state starts
 * at the beginning of a line, so a first line "." also ends it.  Exactly
 * one leading dot is removed per line.  A bare LF, a bare CR, a NUL, a
 * content line over FRAMER_LINE_MAX, content over the size limit, or a
 * sink failure marks the message bad (the first cause is kept, with its
 * byte offset); reading goes on to the real end, and the sink gets no
 * content after the mark (a CR that ended one feed has been given to the
 * sink before the next octet proves it bare); the caller discards what
 * the sink got for a bad message (hostile-inputs SM-01, SM-02, SM-05,
 * SM-08, DK-11, PR-08).  BDAT mode (RFC 3030) takes chunks of a declared size,
 * without stuffing, with the same checks across chunk boundaries.
 *
 * Writing (SM-03): the re-stuffing writer for the upstream.  Content goes
 * out as lines "content CRLF" with a dot added to lines starting with
 * '.', then ".\r\n".  Content with a CR, LF or NUL outside a CRLF pair is
 * refused before any unsafe octet is emitted.
 */
#ifndef SIGNET_FRAMER_H
#define SIGNET_FRAMER_H

#include <stddef.h>
#include <stdint.h>

struct framer;
struct framer_writer;

#define FRAMER_LINE_MAX	998	/* RFC 5322 2.1.1, octets without CRLF */
#define FRAMER_CTX_MAX	64	/* octets kept around a bad mark for logs */

/* Receives content (framer) or wire bytes (writer); -1 stops it. */
typedef int	(*framer_sink)(void *arg, const uint8_t *, size_t);

enum framer_status {
	FRAMER_MORE,		/* every byte taken; feed more */
	FRAMER_CHUNK,		/* BDAT: this chunk is complete, not LAST;
				 * *used bytes were its end */
	FRAMER_END		/* end of the message; *used bytes were its
				 * end, the rest are the next commands */
};

enum framer_bad {
	FRAMER_GOOD = 0,
	FRAMER_BARE_LF,		/* 550 5.5.2 Error: bare <LF> received */
	FRAMER_BARE_CR,		/* 550 5.5.2 Error: bare <CR> received */
	FRAMER_NUL,		/* 554 5.6.0 Error: message contains NUL
				 * octets */
	FRAMER_LINE_TOO_LONG,	/* 554 5.6.0 Error: line longer than 998
				 * octets (RFC 5322 2.1.1) */
	FRAMER_TOO_BIG,		/* 552 5.3.4 Error: message too big */
	FRAMER_SINK_FAILED	/* 451 4.3.0 Error: internal error (the caller
				 * usually knows better, e.g. spool) */
};

/*
 * max_size: most content octets accepted (0: no limit).  sink/arg get
 * the content.  NULL only when memory is short.
 */
struct framer	*framer_new(uint64_t max_size, framer_sink, void *arg);
void		 framer_free(struct framer *);

/*
 * Header-section lines (up to the first empty line) are exempt from
 * FRAMER_LINE_MAX: the caller refolds them before signing and bounds the
 * section itself (DK-11, DK-10).  Off by default; kept across starts.
 */
void		 framer_long_header_lines(struct framer *, int on);
/* Start a message read with DATA (after our 354). */
void		 framer_start_data(struct framer *);
/* Start a message read with BDAT (before its first chunk). */
void		 framer_start_bdat(struct framer *);
/* BDAT: the next chunk has size octets; last: it was "BDAT n LAST". */
void		 framer_bdat_chunk(struct framer *, uint64_t size, int last);

/*
 * Feed raw bytes.  *used: bytes taken (all of them for MORE).  After END,
 * feeding without a new start takes nothing and returns END.
 */
enum framer_status framer_feed(struct framer *, const uint8_t *, size_t,
		    size_t *used);

/* The first bad mark, and its offset in wire octets from the start of
 * the message (DATA) or of the first chunk (BDAT). */
enum framer_bad	 framer_bad(const struct framer *, uint64_t *offset);
/* Up to FRAMER_CTX_MAX raw octets starting near the bad mark (escape
 * them before logging); length 0 if the message is good. */
const uint8_t	*framer_bad_context(const struct framer *, size_t *len);
/* The reply line for a bad mark, without CRLF; NULL for FRAMER_GOOD. */
const char	*framer_bad_reply(enum framer_bad);
/* Token for logs: "bare_lf", "bare_cr", "nul", ... */
const char	*framer_bad_name(enum framer_bad);

/* Octets read from the wire, and content octets given to the sink. */
uint64_t	 framer_wire_bytes(const struct framer *);
uint64_t	 framer_content_bytes(const struct framer *);
/* The content so far ends inside a line (only possible with BDAT: the
 * caller adds the CRLF that DATA relaying and canonicalization need). */
int		 framer_line_open(const struct framer *);
/* Content had an octet >= 0x80 (decides BODY=8BITMIME, DK-12). */
int		 framer_has_8bit(const struct framer *);

/*
 * The writer: out/arg receive the wire bytes.  NULL if memory is short.
 */
struct framer_writer *framer_writer_new(framer_sink out, void *arg);
void		 framer_writer_free(struct framer_writer *);
/* Start a new message (at the beginning of a line). */
void		 framer_writer_reset(struct framer_writer *);
/*
 * Start a BDAT chunk (RFC 3030) instead: the same checks, no dot
 * stuffing, and framer_writer_end() adds nothing (the size went out
 * first), failing if the content did not end with CRLF.
 */
void		 framer_writer_reset_raw(struct framer_writer *);
/*
 * Content, split anywhere.  -1 if the content breaks the invariant (a
 * CR, LF or NUL outside a CRLF pair) or out failed; sticky until reset.
 * No bare CR, LF or NUL was emitted, but part of a line may have been,
 * and inside DATA nothing can be taken back: close the upstream
 * connection (SM-03).
 */
int		 framer_writer_put(struct framer_writer *, const uint8_t *,
		    size_t);
/* End: CRLF if the content did not end with one (BDAT), then ".\r\n";
 * after framer_writer_reset_raw(), only the check. */
int		 framer_writer_end(struct framer_writer *);

#endif
