/*
 * Fuzz target for proxy/smtp_reply (hostile-inputs UP-06).
 *
 * Input: byte 0 picks a split point, the rest is what an upstream sends.
 * Replies are parsed one after the other as a relay would; each one is
 * parsed whole and in two pieces with the same outcome, every rebuilt
 * reply is well-formed (each line ^[2-5][0-5][0-9][ -][ -~]*\r\n$, at
 * most 512 octets) and the EHLO capability parser is run on it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/msg/buf.h"
#include "proxy/smtp_reply.h"

static void
check_reply(const uint8_t *p, size_t n)
{
	size_t	start = 0, i;

	if (n == 0)
		abort();
	while (start < n) {
		for (i = start; i < n && p[i] != '\r'; i++)
			if (i - start >= 4 && (p[i] < 32 || p[i] > 126))
				abort();
		if (i + 1 >= n || p[i + 1] != '\n' || i - start < 4 ||
		    i + 2 - start > SMTP_REPLY_LINE_MAX)
			abort();
		if (p[start] < '2' || p[start] > '5' || p[start + 1] < '0' ||
		    p[start + 1] > '5' || p[start + 2] < '0' ||
		    p[start + 2] > '9' ||
		    (p[start + 3] != ' ' && p[start + 3] != '-'))
			abort();
		start = i + 2;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_reply	*r, *s;
	struct smtp_caps	 caps;
	enum smtp_reply_status	 st, st2;
	struct buf		*out, *out2;
	const uint8_t		*p;
	size_t			 n, cut, used, used2, tot2, i, len;

	if (size < 1)
		return 0;
	r = smtp_reply_new();
	s = smtp_reply_new();
	out = buf_new(0);
	out2 = buf_new(0);
	if (r == NULL || s == NULL || out == NULL || out2 == NULL)
		abort();
	cut = data[0];
	p = data + 1;
	n = size - 1;
	while (n > 0) {
		st = smtp_reply_feed(r, p, n, &used);
		st2 = smtp_reply_feed(s, p, cut < n ? cut : n, &used2);
		tot2 = used2;
		if (st2 == SMTP_REPLY_NEED_MORE && cut < n) {
			st2 = smtp_reply_feed(s, p + cut, n - cut, &used2);
			tot2 += used2;
		}
		if (st != st2 || (st == SMTP_REPLY_DONE && used != tot2))
			abort();
		if (st != SMTP_REPLY_DONE)
			break;
		buf_reset(out);
		buf_reset(out2);
		if (smtp_reply_rebuild(r, "2.0.0", out) == -1 ||
		    smtp_reply_rebuild(s, "2.0.0", out2) == -1)
			abort();
		check_reply(buf_data(out), buf_len(out));
		if (buf_len(out) != buf_len(out2) || memcmp(buf_data(out),
		    buf_data(out2), buf_len(out)) != 0)
			abort();
		for (i = 0; i < smtp_reply_lines(r); i++)
			(void)smtp_reply_text(r, i, &len);
		(void)smtp_reply_enhanced(r);
		(void)smtp_reply_ehlo_caps(r, &caps);
		if (used == 0 || used > n)
			abort();
		p += used;
		n -= used;
		smtp_reply_reset(r);
		smtp_reply_reset(s);
	}
	(void)smtp_reply_error(r);
	buf_reset(out);
	if (smtp_reply_put(out, 250, "2.0.0", "") == -1)
		abort();
	smtp_reply_free(r);
	smtp_reply_free(s);
	buf_free(out);
	buf_free(out2);
	return 0;
}
