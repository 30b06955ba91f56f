/*
 * The canonicalizer as a filter, for differential tests against other
 * implementations (tests/conformance/test_canon_dkimpy.py):
 *
 *	test_msg_canon_diff --stdio simple|relaxed header|body < in > out
 *
 * header: stdin is one raw field; body: stdin is a body, fed to the
 * streaming machine in chunks of 1, 2, 3, ... 61 octets, over and over,
 * so every comparison also exercises chunk boundaries.  Run with no
 * arguments it checks itself (TAP) on the RFC 6376 3.4.5 examples.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxy/msg/buf.h"
#include "proxy/msg/canon.h"
#include "tests/unit/t.h"

/* Enough for any differential case; a message is at most 10 MiB. */
#define DIFF_INPUT_MAX	(64 * 1024 * 1024)
#define DIFF_CHUNK_MAX	61

static int
buf_sink(void *ctx, const uint8_t *p, size_t n)
{
	return buf_append(ctx, p, n);
}

static int
canon_body_chunked(enum canon_alg alg, const uint8_t *p, size_t n,
    struct buf *out)
{
	struct canon_body	*cb;
	size_t			 off, take, chunk = 1;
	int			 rc = -1;

	if ((cb = canon_body_new(alg, buf_sink, out)) == NULL)
		return -1;
	for (off = 0; off < n; off += take) {
		take = n - off < chunk ? n - off : chunk;
		if (canon_body_update(cb, p + off, take) == -1)
			goto done;
		chunk = chunk % DIFF_CHUNK_MAX + 1;
	}
	if (canon_body_final(cb) == -1)
		goto done;
	rc = 0;
 done:
	canon_body_free(cb);
	return rc;
}

static int
run(enum canon_alg alg, int body, const uint8_t *p, size_t n,
    struct buf *out)
{
	return body ? canon_body_chunked(alg, p, n, out) :
	    canon_header(alg, p, n, out);
}

static int
filter(const char *algname, const char *what)
{
	struct buf	*in = NULL, *out = NULL;
	enum canon_alg	 alg;
	uint8_t		 chunk[65536];
	ssize_t		 r;
	size_t		 off;
	int		 body, rc = 1;

	if (canon_parse_alg(algname, strlen(algname), &alg) == -1 ||
	    (strcmp(what, "header") != 0 && strcmp(what, "body") != 0)) {
		fprintf(stderr, "usage: test_msg_canon_diff --stdio "
		    "simple|relaxed header|body\n");
		return 2;
	}
	body = strcmp(what, "body") == 0;
	if ((in = buf_new(DIFF_INPUT_MAX)) == NULL ||
	    (out = buf_new(0)) == NULL)
		goto done;
	while ((r = read(STDIN_FILENO, chunk, sizeof(chunk))) > 0)
		if (buf_append(in, chunk, (size_t)r) == -1)
			goto done;
	if (r == -1)
		goto done;
	if (run(alg, body, buf_data(in), buf_len(in), out) == -1)
		goto done;
	for (off = 0; off < buf_len(out); off += (size_t)r)
		if ((r = write(STDOUT_FILENO, buf_data(out) + off,
		    buf_len(out) - off)) <= 0)
			goto done;
	rc = 0;
 done:
	if (rc == 1)
		fprintf(stderr, "test_msg_canon_diff: failed\n");
	buf_free(in);
	buf_free(out);
	return rc;
}

/* RFC 6376 3.4.5, from ../shared/conformance/rfc6376/
 * canonicalization-examples.yaml. */
static void
self_check(void)
{
	static const struct {
		enum canon_alg	 alg;
		int		 body;
		const char	*in;
		const char	*want;
	} cases[] = {
		{ CANON_RELAXED, 0, "A: X\r\n", "a:X\r\n" },
		{ CANON_RELAXED, 0, "B : Y\t\r\n\tZ  \r\n", "b:Y Z\r\n" },
		{ CANON_SIMPLE, 0, "B : Y\t\r\n\tZ  \r\n",
		    "B : Y\t\r\n\tZ  \r\n" },
		{ CANON_RELAXED, 1, " C \r\nD \t E\r\n\r\n\r\n",
		    " C\r\nD E\r\n" },
		{ CANON_SIMPLE, 1, " C \r\nD \t E\r\n\r\n\r\n",
		    " C \r\nD \t E\r\n" },
	};
	struct buf	*out = buf_new(0);
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_reset(out);
		T_OK(run(cases[i].alg, cases[i].body,
		    (const uint8_t *)cases[i].in, strlen(cases[i].in),
		    out) == 0,
		    "%s %s example %zu", canon_alg_name(cases[i].alg),
		    cases[i].body ? "body" : "header", i);
		T_EQ_MEM(buf_data(out), buf_len(out), cases[i].want,
		    strlen(cases[i].want), "RFC 6376 3.4.5 output");
	}
	buf_free(out);
}

int
main(int argc, char *argv[])
{
	if (argc == 4 && strcmp(argv[1], "--stdio") == 0)
		return filter(argv[2], argv[3]);
	if (argc != 1) {
		fprintf(stderr, "usage: test_msg_canon_diff [--stdio "
		    "simple|relaxed header|body]\n");
		return 2;
	}
	self_check();
	return t_done();
}
