/*
 * Fuzz target for proxy/smtp_cmd (hostile-inputs PR-06, SM-04, DK-13).
 *
 * Input: byte 0 picks the advertised extensions and the SMTPUTF8 flag,
 * the rest is one command line.  Checks: every accessor is safe after
 * any result; the reply for any error is one printable line; a parsed
 * MAIL/RCPT re-serialises to a line that parses again to the same
 * canonical form and holds no CR, LF or NUL but its final CRLF; xtext
 * round-trips any octets.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/msg/buf.h"
#include "proxy/smtp_cmd.h"

static void
check_line(const uint8_t *p, size_t n)
{
	size_t	i;

	if (n < 2 || p[n - 2] != '\r' || p[n - 1] != '\n')
		abort();
	for (i = 0; i + 2 < n; i++)
		if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0')
			abort();
}

static void
touch(const struct smtp_cmd *cmd)
{
	const uint8_t	*p;
	const char	*type;
	uint64_t	 size;
	size_t		 n;

	p = smtp_cmd_arg(cmd, &n);
	p = smtp_cmd_auth_response(cmd, &n);
	p = smtp_cmd_addr(cmd, &n);
	p = smtp_cmd_addr_local(cmd, &n);
	p = smtp_cmd_addr_domain(cmd, &n);
	p = smtp_cmd_envid(cmd, &n);
	p = smtp_cmd_auth_param(cmd, &n);
	p = smtp_cmd_orcpt(cmd, &type, &n);
	(void)p;
	(void)smtp_cmd_size(cmd, &size);
	(void)smtp_cmd_body(cmd);
	(void)smtp_cmd_ret(cmd);
	(void)smtp_cmd_notify(cmd);
	(void)smtp_cmd_bdat_size(cmd);
	(void)smtp_cmd_bdat_last(cmd);
	(void)smtp_cmd_addr_utf8(cmd);
	(void)smtp_cmd_had_route(cmd);
	(void)smtp_verb_name(smtp_cmd_verb(cmd));
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct smtp_cmd	*cmd, *again;
	struct buf		*out, *out2, *x, *y;
	enum smtp_cmd_err	 err;
	unsigned int		 ext, flags;

	if (cmd == NULL && ((cmd = smtp_cmd_new()) == NULL ||
	    (again = smtp_cmd_new()) == NULL))
		abort();
	if (size < 1)
		return 0;
	/* 0xff advertises everything; other values a mixture. */
	ext = ((unsigned int)data[0] << 3 | data[0]) & SMTP_EXT_ALL;
	flags = data[0] & 1 ? SMTP_CMD_TXN_UTF8 : 0;
	err = smtp_cmd_parse(cmd, data + 1, size - 1, ext, flags);
	touch(cmd);
	out = buf_new(0);
	if (smtp_cmd_reply(cmd, err, out) == -1)
		abort();
	check_line(buf_data(out), buf_len(out));
	(void)smtp_cmd_strerror(err);
	buf_reset(out);
	if (err == SMTP_CMD_OK && smtp_cmd_serialize(cmd, SMTP_EXT_ALL,
	    out) == 0) {
		check_line(buf_data(out), buf_len(out));
		err = smtp_cmd_parse(again, buf_data(out), buf_len(out) - 2,
		    SMTP_EXT_ALL, flags | (smtp_cmd_smtputf8(cmd) ?
		    SMTP_CMD_TXN_UTF8 : 0));
		if (err != SMTP_CMD_OK)
			abort();
		out2 = buf_new(0);
		if (smtp_cmd_serialize(again, SMTP_EXT_ALL, out2) == -1 ||
		    buf_len(out2) != buf_len(out) ||
		    memcmp(buf_data(out), buf_data(out2), buf_len(out)) != 0)
			abort();
		buf_free(out2);
	}
	buf_free(out);

	x = buf_new(0);
	y = buf_new(0);
	if (smtp_xtext_encode(data, size, x) == -1 ||
	    smtp_xtext_decode(buf_data(x), buf_len(x), y) == -1 ||
	    buf_len(y) != size || memcmp(buf_data(y), data, size) != 0)
		abort();
	buf_reset(y);
	(void)smtp_xtext_decode(data, size, y);
	buf_free(x);
	buf_free(y);
	return 0;
}
