/*
 * msgfile — read a message for the CLI and split it (see msgfile.h).
 *
 * Line-end conversion happens while reading, so a CR split from its LF
 * by a read boundary is handled by remembering the previous octet.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "proxy/msg/buf.h"
#include "tools/msgfile.h"

int
msgfile_read(FILE *f, struct buf *out)
{
	uint8_t	chunk[65536];
	size_t	n, i, start;
	int	prev = -1;

	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		for (i = 0, start = 0; i < n; i++) {
			if (chunk[i] == '\n' && (i > 0 ? chunk[i - 1] :
			    prev) != '\r') {
				if (buf_append(out, chunk + start, i - start) ==
				    -1 || buf_append(out, "\r", 1) == -1)
					return -1;
				start = i;
			}
		}
		if (buf_append(out, chunk + start, n - start) == -1)
			return -1;
		prev = chunk[n - 1];
	}
	if (ferror(f)) {
		errno = EIO;
		return -1;
	}
	if (buf_len(out) > 0 && prev != '\n')
		return buf_append(out, "\r\n", 2);
	return 0;
}

void
msgfile_split(const struct buf *m, size_t *hdrlen, size_t *bodyoff)
{
	const uint8_t	*p = buf_data(m), *sep;
	size_t		 len = buf_len(m);

	if (len >= 2 && p[0] == '\r' && p[1] == '\n') {
		*hdrlen = 0;
		*bodyoff = 2;
		return;
	}
	if (len == 0 || (sep = memmem(p, len, "\r\n\r\n", 4)) == NULL) {
		*hdrlen = len;
		*bodyoff = len;
		return;
	}
	*hdrlen = (size_t)(sep - p) + 2;
	*bodyoff = *hdrlen + 2;
}
