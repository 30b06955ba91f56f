/*
 * signetctl keygen --algorithm rsa|ed25519 [--bits N] --out FILE
 *
 * Writes one new private key as PKCS#8 PEM (mode 0600, O_EXCL: an
 * existing FILE is never replaced) and prints the DNS TXT value that
 * publishes it, "v=DKIM1; k=...; p=...", on one line.  RSA sizes are
 * 2048, 3072 or 4096; 1024 is refused, since RFC 8301 3.2 says signers
 * SHOULD use at least 2048 bits and a key made today outlives that
 * advice.  The key itself never leaves keys/ (keys_generate).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys/signer.h"
#include "proxy/msg/buf.h"
#include "tools/ctl.h"

#define ERR_LEN	512

static const char usage_line[] =
    "keygen --algorithm rsa|ed25519 [--bits 2048|3072|4096] --out FILE";

static void
help(FILE *f)
{
	fprintf(f, "usage: signetctl %s\n"
	    "  Writes a new private key to FILE (PKCS#8 PEM, mode 0600; an\n"
	    "  existing FILE is refused) and prints its DNS TXT value.\n"
	    "  --bits is for rsa only (default 2048).  1024-bit RSA is\n"
	    "  refused: RFC 8301 says signers SHOULD use 2048 bits or more.\n",
	    usage_line);
}

/* "2048" -> 2048; anything but plain decimal digits is refused. */
static int
parse_bits(const char *s, unsigned *out)
{
	unsigned long	v = 0;
	size_t		i;

	if (s[0] == '\0' || strlen(s) > 5)
		return -1;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	*out = (unsigned)v;
	return 0;
}

static int
run(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "algorithm",	required_argument,	NULL, 'a' },
		{ "bits",	required_argument,	NULL, 'b' },
		{ "out",	required_argument,	NULL, 'o' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL,		0,			NULL, 0 },
	};
	struct keys_key	*key = NULL;
	struct buf	*rec = NULL;
	enum keys_alg	 alg = KEYS_ALG_RSA_SHA256;
	const char	*out = NULL, *algname = NULL, *bitsarg = NULL;
	char		 err[ERR_LEN] = "";
	unsigned	 bits = KEYS_RSA_BITS_GEN_MIN;
	int		 ch, ret = CTL_FAIL;

	(void)ctl;
	optind = 0;	/* glibc: start afresh on this argv */
	while ((ch = getopt_long(argc, argv, "+a:b:o:h", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'a':
			algname = optarg;
			break;
		case 'b':
			bitsarg = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'h':
			help(stdout);
			return CTL_OK;
		default:
			help(stderr);
			return CTL_USAGE;
		}
	}
	if (optind != argc || algname == NULL || out == NULL) {
		ctl_err("usage: signetctl %s", usage_line);
		return CTL_USAGE;
	}
	if (keys_alg_parse(algname, &alg) == -1) {
		ctl_err("--algorithm must be rsa or ed25519, not %s", algname);
		return CTL_USAGE;
	}
	if (bitsarg != NULL && alg != KEYS_ALG_RSA_SHA256) {
		ctl_err("--bits is only for rsa (Ed25519 keys are 256 bits)");
		return CTL_USAGE;
	}
	if (bitsarg != NULL && parse_bits(bitsarg, &bits) == -1) {
		ctl_err("--bits must be 2048, 3072 or 4096, not %s", bitsarg);
		return CTL_USAGE;
	}
	if (alg == KEYS_ALG_RSA_SHA256 && bits < KEYS_RSA_BITS_GEN_MIN) {
		ctl_err("%u-bit RSA is refused: RFC 8301 says signers SHOULD "
		    "use 2048 bits or more", bits);
		return CTL_USAGE;
	}
	if (alg == KEYS_ALG_RSA_SHA256 && bits != 2048 && bits != 3072 &&
	    bits != 4096) {
		ctl_err("--bits must be 2048, 3072 or 4096, not %u", bits);
		return CTL_USAGE;
	}
	if (keys_generate(alg, alg == KEYS_ALG_RSA_SHA256 ? bits : 0, out,
	    &key, err, sizeof(err)) == -1) {
		ctl_err("%s", err);
		goto done;
	}
	if ((rec = buf_new(0)) == NULL || keys_dns_record(key, rec) == -1 ||
	    buf_append_byte(rec, '\n') == -1) {
		ctl_err("out of memory");
		goto done;
	}
	if (fwrite(buf_data(rec), 1, buf_len(rec), stdout) != buf_len(rec) ||
	    fflush(stdout) != 0) {
		ctl_err("write error");
		goto done;
	}
	ret = CTL_OK;
done:
	buf_free(rec);
	keys_free(key);
	return ret;
}

const struct ctl_cmd ctl_cmd_keygen = {
	"keygen",
	usage_line,
	run,
};
