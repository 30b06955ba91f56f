/*
 * canon — DKIM canonicalization, RFC 6376 3.4.
 *
 * Header: one raw field in, its canonical form (with CRLF) out.
 * Body: a streaming machine fed chunks split anywhere, including between
 * CR and LF; it holds back only counters (pending CRLFs, pending WSP), so
 * memory does not depend on the message.  Input lines end with CRLF; a CR
 * or LF that is not part of a CRLF pair is an ordinary octet here (the
 * proxy refuses such messages before they reach this module).
 */
#ifndef SIGNET_CANON_H
#define SIGNET_CANON_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct canon_body;

enum canon_alg {
	CANON_SIMPLE = 0,
	CANON_RELAXED
};

/* "simple" / "relaxed" -> alg; -1 if unknown. */
int		 canon_parse_alg(const char *, size_t, enum canon_alg *);
const char	*canon_alg_name(enum canon_alg);

/* Append the canonical form of one raw field (name ':' value CRLF). */
int		 canon_header(enum canon_alg, const uint8_t *, size_t,
		    struct buf *);

/* Receives canonical body bytes, in as few calls as possible. */
typedef int	(*canon_sink)(void *ctx, const uint8_t *, size_t);

struct canon_body *canon_body_new(enum canon_alg, canon_sink, void *ctx);
void		 canon_body_free(struct canon_body *);
int		 canon_body_update(struct canon_body *, const uint8_t *,
		    size_t);
/* End of body: emits what the rules keep (e.g. the final CRLF). */
int		 canon_body_final(struct canon_body *);

#endif
