/*
 * bench_sign — signing throughput of the msg and keys libraries on one
 * core, for `make bench` (tests/bench/run.py).
 *
 * Each round does what signetd does for one message at end of data,
 * without I/O: parse the header section, choose h= and add one
 * signature per key, hash the body (relaxed), sign the header hash with
 * keys_sign() and build the DKIM-Signature fields.  Rounds repeat until
 * the time budget is spent; the message stays in memory, so the figure
 * is the library's ceiling, to be compared with the crypto ceiling of
 * `openssl speed` in the same run.
 *
 * usage: bench_sign [-s SECONDS] -k KEYFILE [-k KEYFILE ...] MESSAGE
 *        bench_sign [-s SECONDS] -B MESSAGE
 * The message must use CRLF line ends.  Output, one line:
 *   mode=sign keys=2 size=4096 msgs=1234 seconds=2.001 msgs_per_s=616.7
 *   mode=bodyhash size=102400 bytes=... seconds=... bytes_per_s=...
 * -B times the relaxed body hash alone, for comparison with
 * `openssl speed -evp sha256`.
 *
 * Time is the process's CPU time, the divisor `openssl speed` uses too
 * (without -elapsed): on a busy machine the run takes longer but the
 * rates stay comparable with the crypto ceiling.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "keys/signer.h"
#include "proxy/msg/buf.h"
#include "proxy/msg/canon.h"
#include "proxy/msg/dkim.h"
#include "proxy/msg/hash.h"
#include "proxy/msg/hdr.h"

#define BENCH_KEYS_MAX		4	/* s1, s2 and extra signatures */
#define BENCH_MSG_MAX		(64 * 1024 * 1024)
#define BENCH_TIME		1704110400	/* fixed t=, 2024-01-01 */
#define BENCH_EXPIRATION	(5 * 86400)	/* DESIGN.md example: 5d */

struct bench {
	struct keys_key	*keys[BENCH_KEYS_MAX];
	size_t		 nkeys;
	const uint8_t	*msg;
	size_t		 hdrlen;	/* through the last field's CRLF */
	size_t		 bodyoff;	/* after the empty line */
	size_t		 len;
	struct buf	*out;
};

static int
key_sign(void *ctx, const uint8_t digest[HASH_SHA256_LEN], uint8_t *sig,
    size_t *siglen)
{
	const struct keys_key	*k = ctx;

	return keys_sign(k, keys_alg(k), digest, sig, siglen);
}

static double
cpu_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct buf *
read_file(const char *path)
{
	struct buf	*b = NULL;
	FILE		*f;
	uint8_t		 chunk[65536];
	size_t		 n;

	if ((f = fopen(path, "rb")) == NULL) {
		perror(path);
		return NULL;
	}
	if ((b = buf_new(BENCH_MSG_MAX)) == NULL)
		goto fail;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(b, chunk, n) == -1)
			goto fail;
	if (ferror(f))
		goto fail;
	fclose(f);
	return b;
fail:
	fprintf(stderr, "bench_sign: cannot read %s\n", path);
	buf_free(b);
	fclose(f);
	return NULL;
}

/* One message signed with every key; 0 or -1. */
static int
sign_once(struct bench *b)
{
	struct hdr_list		*hl = NULL;
	struct hash_body	*hb = NULL;
	struct dkim_signer	*s = NULL;
	struct dkim_params	 p;
	char			 sel[24];	/* "s" and a size_t */
	size_t			 i;
	int			 rc = -1;

	if (hdr_parse(b->msg, b->hdrlen, NULL, &hl, NULL) != HDR_OK ||
	    (hb = hash_body_new()) == NULL ||
	    (s = dkim_signer_new(hb)) == NULL)
		goto done;
	for (i = 0; i < b->nkeys; i++) {
		memset(&p, 0, sizeof(p));
		p.alg = keys_alg(b->keys[i]) == KEYS_ALG_RSA_SHA256 ?
		    DKIM_ALG_RSA_SHA256 : DKIM_ALG_ED25519_SHA256;
		p.hcanon = p.bcanon = CANON_RELAXED;
		p.domain = "example.com";
		snprintf(sel, sizeof(sel), "s%zu", i + 1);
		p.selector = sel;
		p.time = BENCH_TIME;
		p.expiration = BENCH_EXPIRATION;
		p.sign = dkim_default_sign;
		p.nsign = dkim_default_nsign;
		p.oversign = dkim_default_oversign;
		p.noversign = dkim_default_noversign;
		p.sign_fn = key_sign;
		p.sign_ctx = b->keys[i];
		if (dkim_signer_add(s, hl, &p) == -1)
			goto done;
	}
	if (hash_body_update(hb, b->msg + b->bodyoff,
	    b->len - b->bodyoff) == -1 || hash_body_final(hb) == -1)
		goto done;
	buf_reset(b->out);
	if (dkim_signer_finish(s, hl, b->out) == -1)
		goto done;
	rc = 0;
done:
	dkim_signer_free(s);
	hash_body_free(hb);
	hdr_free(hl);
	return rc;
}

/* The body hash alone under alg; 0 or -1. */
static int
hash_once(struct bench *b, enum canon_alg alg)
{
	struct hash_body	*hb;
	int			 rc = -1;

	if ((hb = hash_body_new()) == NULL)
		return -1;
	if (hash_body_want(hb, alg, -1) >= 0 &&
	    hash_body_update(hb, b->msg + b->bodyoff,
	    b->len - b->bodyoff) == 0 && hash_body_final(hb) == 0)
		rc = 0;
	hash_body_free(hb);
	return rc;
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench_sign [-s SECONDS] -k KEYFILE "
	    "[-k KEYFILE ...] MESSAGE\n"
	    "       bench_sign [-s SECONDS] -B [-c simple|relaxed] MESSAGE\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct bench	 b;
	struct buf	*msg = NULL;
	const uint8_t	*end;
	double		 budget = 2.0, t0, t;
	unsigned long	 n = 0;
	char		 err[256];
	enum canon_alg	 alg = CANON_RELAXED;
	int		 ch, bodyonly = 0, rc = 1;
	size_t		 i;

	memset(&b, 0, sizeof(b));
	while ((ch = getopt(argc, argv, "Bc:k:s:")) != -1) {
		switch (ch) {
		case 'B':
			bodyonly = 1;
			break;
		case 'c':
			if (canon_parse_alg(optarg, strlen(optarg), &alg) == -1)
				usage();
			break;
		case 'k':
			if (b.nkeys == BENCH_KEYS_MAX)
				usage();
			if ((b.keys[b.nkeys] = keys_load(optarg, err,
			    sizeof(err))) == NULL) {
				fprintf(stderr, "bench_sign: %s\n", err);
				goto done;
			}
			b.nkeys++;
			break;
		case 's':
			budget = atof(optarg);
			if (budget <= 0)
				usage();
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 1 || (b.nkeys == 0) != bodyonly)
		usage();
	if ((msg = read_file(argv[optind])) == NULL ||
	    (b.out = buf_new(0)) == NULL)
		goto done;
	b.msg = buf_data(msg);
	b.len = buf_len(msg);
	end = memmem(b.msg, b.len, "\r\n\r\n", 4);
	if (end == NULL) {
		fprintf(stderr, "bench_sign: no CRLF CRLF in %s\n",
		    argv[optind]);
		goto done;
	}
	b.hdrlen = (size_t)(end - b.msg) + 2;
	b.bodyoff = b.hdrlen + 2;

	/* One untimed round checks that the message signs at all. */
	if ((bodyonly ? hash_once(&b, alg) : sign_once(&b)) == -1) {
		fprintf(stderr, "bench_sign: signing %s failed\n",
		    argv[optind]);
		goto done;
	}
	t0 = cpu_now();
	do {
		if ((bodyonly ? hash_once(&b, alg) : sign_once(&b)) == -1) {
			fprintf(stderr, "bench_sign: round %lu failed\n", n);
			goto done;
		}
		n++;
		t = cpu_now() - t0;
	} while (t < budget);
	if (bodyonly)
		printf("mode=bodyhash size=%zu bytes=%.0f seconds=%.3f "
		    "bytes_per_s=%.0f\n", b.len, (double)n * (double)(b.len -
		    b.bodyoff), t, (double)n * (double)(b.len - b.bodyoff) / t);
	else
		printf("mode=sign keys=%zu size=%zu msgs=%lu seconds=%.3f "
		    "msgs_per_s=%.1f\n", b.nkeys, b.len, n, t, (double)n / t);
	rc = 0;
done:
	for (i = 0; i < b.nkeys; i++)
		keys_free(b.keys[i]);
	buf_free(b.out);
	buf_free(msg);
	return rc;
}
