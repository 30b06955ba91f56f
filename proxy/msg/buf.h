/*
 * buf — the one growable byte buffer of signet.
 *
 * Every buffer has a hard limit fixed at creation; an append that would
 * pass it fails and leaves the buffer unchanged.  All size arithmetic is
 * checked here and nowhere else.  Contents are bytes, not strings: NUL
 * is ordinary data.  buf_cstr() adds a terminator outside the length for
 * the rare caller that needs one.
 */
#ifndef SIGNET_BUF_H
#define SIGNET_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

/* limit: the most bytes the buffer may ever hold (0 means SIZE_MAX / 2). */
struct buf	*buf_new(size_t limit);
void		 buf_free(struct buf *);
/* Like buf_free, but zeroes the memory first (sodium_memzero). */
void		 buf_free_wipe(struct buf *);

int		 buf_append(struct buf *, const void *, size_t);
int		 buf_append_str(struct buf *, const char *);
int		 buf_append_byte(struct buf *, uint8_t);
int		 buf_printf(struct buf *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
int		 buf_vprintf(struct buf *, const char *, va_list)
		    __attribute__((format(printf, 2, 0)));
/*
 * Untrusted bytes for a log line or trace header: printable ASCII except
 * '\\' and '"' is copied, everything else becomes \xNN (or \\, \"); at
 * most max input bytes are taken, and "..." marks a cut.
 */
int		 buf_append_escaped(struct buf *, const void *, size_t,
		    size_t max);

const uint8_t	*buf_data(const struct buf *);
size_t		 buf_len(const struct buf *);
size_t		 buf_limit(const struct buf *);
/* NUL-terminated view of the contents; NULL if memory is short. */
const char	*buf_cstr(struct buf *);
void		 buf_reset(struct buf *);
/* Keep only the first n bytes (n <= len). */
void		 buf_truncate(struct buf *, size_t);
/* Remove the first n bytes (n <= len). */
void		 buf_consume(struct buf *, size_t);
/* Hand the bytes to the caller (free with free()); the buffer is emptied. */
uint8_t		*buf_steal(struct buf *, size_t *);

#endif
