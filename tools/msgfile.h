/*
 * msgfile — a message read by `signetctl sign` and `signetctl verify`:
 * the whole of a stream in memory, with LF line ends turned into CRLF,
 * and split into the header section and the body.
 */
#ifndef SIGNET_MSGFILE_H
#define SIGNET_MSGFILE_H

#include <stddef.h>
#include <stdio.h>

struct buf;

/* The CLI's bound; signetd has limits.max_message_size instead. */
#define MSGFILE_MAX	(64 * 1024 * 1024)

/*
 * Read f to its end into out (limit MSGFILE_MAX), writing CRLF for every
 * LF not already preceded by CR and ending an unterminated last line.
 * A CR not followed by LF is kept as it is.  -1 with errno on failure
 * (EMSGSIZE when too large).
 */
int	msgfile_read(FILE *, struct buf *out);
/*
 * Header section length (every line with its CRLF, without the empty
 * line) and the offset of the body.  A message without an empty line
 * is all header.
 */
void	msgfile_split(const struct buf *, size_t *hdrlen, size_t *bodyoff);

#endif
