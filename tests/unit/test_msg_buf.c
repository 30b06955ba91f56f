/* Unit tests for proxy/msg/buf: limits, escaping, ownership transfer. */
#include <stdlib.h>

#include "proxy/msg/buf.h"
#include "tests/unit/t.h"

static void
test_limit(void)
{
	struct buf	*b = buf_new(8);

	T_OK(buf_append(b, "12345678", 8) == 0, "append up to the limit");
	T_OK(buf_append(b, "9", 1) == -1, "append past the limit fails");
	T_EQ_MEM(buf_data(b), buf_len(b), "12345678", 8,
	    "failed append leaves contents unchanged");
	T_OK(buf_printf(b, "%d", 1) == -1, "printf past the limit fails");
	T_EQ_STR(buf_cstr(b), "12345678", "cstr at the limit terminates");
	buf_consume(b, 3);
	T_EQ_MEM(buf_data(b), buf_len(b), "45678", 5, "consume drops a prefix");
	buf_truncate(b, 2);
	T_EQ_MEM(buf_data(b), buf_len(b), "45", 2, "truncate keeps a prefix");
	buf_free(b);
}

static void
test_escape(void)
{
	static const struct {
		const char	*in;
		size_t		 len, max;
		const char	*want;
	} cases[] = {
		{ "plain", 5, 200, "plain" },
		{ "a\r\nb", 4, 200, "a\\x0d\\x0ab" },
		{ "%n%s\x1b[31m", 9, 200, "%n%s\\x1b[31m" },
		{ "q\"b\\", 4, 200, "q\\\"b\\\\" },
		{ "a\0b", 3, 200, "a\\x00b" },
		{ "abcdef", 6, 3, "abc..." },
		{ "\xc3\xa9", 2, 200, "\\xc3\\xa9" },
	};
	size_t		 i;
	struct buf	*b;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		b = buf_new(0);
		T_OK(buf_append_escaped(b, cases[i].in, cases[i].len,
		    cases[i].max) == 0, "escape case %zu appends", i);
		T_EQ_STR(buf_cstr(b), cases[i].want, "escape case output");
		buf_free(b);
	}
}

static void
test_steal(void)
{
	struct buf	*b = buf_new(0);
	uint8_t		*p;
	size_t		 n;

	buf_append_str(b, "hello");
	p = buf_steal(b, &n);
	T_OK(p != NULL && n == 5 && memcmp(p, "hello", 6) == 0,
	    "steal hands over terminated bytes");
	T_EQ_INT(buf_len(b), 0, "steal empties the buffer");
	free(p);
	buf_free(b);
	buf_free(NULL);
}

int
main(void)
{
	test_limit();
	test_escape();
	test_steal();
	return t_done();
}
