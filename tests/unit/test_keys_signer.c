/*
 * test_keys_signer — keys/signer: every key format loads and yields the
 * published public key, unsafe or broken files are refused with a useful
 * message that never quotes the key, generated keys round-trip through
 * OpenSSL, and signing the RFC 8463 A.3 digests reproduces its b= values.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "keys/signer.h"
#include "proxy/msg/buf.h"
#include "tests/unit/t.h"

static char	tmpdir[] = "/tmp/test_keys_signer.XXXXXX";
static char	pathbuf[PATH_MAX];

static const char *
tmp_path(const char *name)
{
	snprintf(pathbuf, sizeof(pathbuf), "%s/%s", tmpdir, name);
	return pathbuf;
}

static const char *
shared_path(const char *rel)
{
	static char	p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/conformance/%s", t_shared(), rel);
	return p;
}

/* Write bytes to tmpdir/name with the given mode; returns the path. */
static char *
put_file(const char *name, const void *data, size_t len, mode_t mode)
{
	char	*path = strdup(tmp_path(name));
	int	 fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd == -1 || write(fd, data, len) != (ssize_t)len ||
	    fchmod(fd, mode) == -1 || close(fd) == -1) {
		printf("Bail out! cannot write %s: %s\n", path,
		    strerror(errno));
		exit(1);
	}
	return path;
}

/* Copy a (read-only, 0444) conformance file to a private 0600 copy. */
static char *
copy_shared(const char *rel, const char *name, mode_t mode)
{
	size_t	 len;
	char	*data = t_read_file(shared_path(rel), &len);
	char	*path = put_file(name, data, len, mode);

	free(data);
	return path;
}

/* The TXT value of owner in a conformance "<owner> <value>" file. */
static char *
dns_value(const char *rel, const char *owner)
{
	size_t	 len, olen = strlen(owner);
	char	*data = t_read_file(shared_path(rel), &len);
	char	*line, *save = NULL, *out = NULL;

	for (line = strtok_r(data, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, owner, olen) == 0 && line[olen] == ' ') {
			out = strdup(line + olen + 1);
			break;
		}
	}
	free(data);
	if (out == NULL) {
		printf("Bail out! %s not in %s\n", owner, rel);
		exit(1);
	}
	return out;
}

static char *
p_tag(const char *record)
{
	const char	*p = strstr(record, "p=");

	return strdup(p != NULL ? p + 2 : "");
}

static char *
b64(const uint8_t *p, size_t n)
{
	size_t	 cap = sodium_base64_ENCODED_LEN(n,
		    sodium_base64_VARIANT_ORIGINAL);
	char	*s = malloc(cap);

	sodium_bin2base64(s, cap, p, n, sodium_base64_VARIANT_ORIGINAL);
	return s;
}

static size_t
unb64(const char *s, uint8_t *out, size_t cap)
{
	size_t	n = 0;

	if (sodium_base642bin(out, cap, s, strlen(s), "\r\n", &n, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0)
		return 0;
	return n;
}

static char *
pub_b64(const struct keys_key *k)
{
	struct buf	*b = buf_new(0);
	char		*s;

	if (keys_public_b64(k, b) == -1)
		s = strdup("");
	else
		s = strdup(buf_cstr(b));
	buf_free(b);
	return s;
}

static char *
record_of(const struct keys_key *k)
{
	struct buf	*b = buf_new(0);
	char		*s;

	if (keys_dns_record(k, b) == -1)
		s = strdup("");
	else
		s = strdup(buf_cstr(b));
	buf_free(b);
	return s;
}

static int
run(const char *cmd)
{
	char	full[PATH_MAX * 3];

	if (snprintf(full, sizeof(full), "%s >/dev/null 2>&1", cmd) >=
	    (int)sizeof(full))
		return -1;
	return system(full);
}

/* ------------------------------------------------------------------ */

struct format_case {
	const char	*name;
	const char	*file;		/* under conformance/ */
	enum keys_alg	 alg;
	unsigned	 bits;
	const char	*dns_file;	/* where the published record is */
	const char	*owner;
};

static const struct format_case formats[] = {
	{ "RSA PKCS#1 (RFC 8463 test)", "rfc8463/rsa-test.pem",
	  KEYS_ALG_RSA_SHA256, 1024, "rfc8463/dns.txt",
	  "test._domainkey.football.example.com" },
	{ "RSA PKCS#1 (RFC 6376 appendix C)",
	  "rfc6376/appendix-c-rsa-private.pem", KEYS_ALG_RSA_SHA256, 1024,
	  "rfc6376/appendix-c-dns.txt", "brisbane._domainkey.example.com" },
	{ "Ed25519 PKCS#8", "rfc8463/ed25519-brisbane.pkcs8.pem",
	  KEYS_ALG_ED25519_SHA256, 256, "rfc8463/dns.txt",
	  "brisbane._domainkey.football.example.com" },
	{ "Ed25519 base64 seed", "rfc8463/ed25519-brisbane.seed.b64",
	  KEYS_ALG_ED25519_SHA256, 256, "rfc8463/dns.txt",
	  "brisbane._domainkey.football.example.com" },
};

static void
test_formats(void)
{
	char		 err[512] = "", name[64], *path, *want, *rec, *got;
	struct keys_key	*k, *m;
	size_t		 i, len;
	char		*data;

	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		const struct format_case *c = &formats[i];

		snprintf(name, sizeof(name), "fmt%zu", i);
		path = copy_shared(c->file, name, 0600);
		rec = dns_value(c->dns_file, c->owner);
		want = p_tag(rec);
		err[0] = '\0';
		k = keys_load(path, err, sizeof(err));
		if (!T_OK(k != NULL, "%s: loads (%s)", c->name, err))
			goto next;
		T_EQ_INT(keys_alg(k), c->alg, c->name);
		T_EQ_INT(keys_bits(k), c->bits, c->name);
		got = pub_b64(k);
		T_EQ_STR(got, want, c->name);
		free(got);
		/* The same bytes through keys_load_mem. */
		data = t_read_file(path, &len);
		m = keys_load_mem(data, len, err, sizeof(err));
		T_OK(m != NULL && keys_same(k, m), "%s: keys_load_mem agrees",
		    c->name);
		keys_free(m);
		free(data);
		keys_free(k);
next:
		free(want);
		free(rec);
		free(path);
	}
}

/* dkimpy and rspamd variants of the seed line, built from the RFC seed. */
static void
test_seed_variants(void)
{
	char		 err[512] = "", *seedline, *want, *got, *line;
	uint8_t		 raw[64], pk[32];
	size_t		 len, n, i;
	struct keys_key	*k;
	struct {
		const char	*name;
		const char	*suffix;
		int		 with_pk;
	} cases[] = {
		{ "seed, no line end", "", 0 },
		{ "seed, LF", "\n", 0 },
		{ "seed, CRLF", "\r\n", 0 },
		{ "rspamd seed||pk, LF", "\n", 1 },
		{ "rspamd seed||wrong pk", "\n", 2 },
	};

	seedline = t_read_file(shared_path("rfc8463/ed25519-brisbane.seed.b64"),
	    &len);
	seedline[strcspn(seedline, "\r\n")] = '\0';
	line = dns_value("rfc8463/dns.txt",
	    "brisbane._domainkey.football.example.com");
	want = p_tag(line);
	n = unb64(seedline, raw, 32);
	T_EQ_INT(n, 32, "RFC 8463 seed decodes to 32 bytes");
	T_EQ_INT(unb64(want, pk, 32), 32, "RFC 8463 p= decodes to 32 bytes");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char	*enc;
		char	 text[256];

		memcpy(raw + 32, pk, 32);
		if (cases[i].with_pk == 2)
			raw[63] ^= 1;
		enc = b64(raw, cases[i].with_pk ? 64 : 32);

		snprintf(text, sizeof(text), "%s%s", enc, cases[i].suffix);
		k = keys_load_mem(text, strlen(text), err, sizeof(err));
		if (cases[i].with_pk == 2) {
			T_OK(k == NULL && strstr(err, "does not match") != NULL,
			    "%s refused (%s)", cases[i].name, err);
		} else if (T_OK(k != NULL, "%s loads (%s)", cases[i].name,
		    err)) {
			got = pub_b64(k);
			T_EQ_STR(got, want, cases[i].name);
			free(got);
		}
		keys_free(k);
		free(enc);
	}
	free(want);
	free(line);
	free(seedline);
}

/* The PKCS#8 and seed forms of brisbane are one key. */
static void
test_same_key_two_formats(void)
{
	char		 err[512] = "", *a, *b;
	struct keys_key	*ka, *kb;
	char		 ida[KEYS_ID_LEN + 1] = "", idb[KEYS_ID_LEN + 1] = "";

	a = copy_shared("rfc8463/ed25519-brisbane.pkcs8.pem", "same-a", 0600);
	b = copy_shared("rfc8463/ed25519-brisbane.seed.b64", "same-b", 0600);
	ka = keys_load(a, err, sizeof(err));
	kb = keys_load(b, err, sizeof(err));
	T_OK(ka != NULL && kb != NULL && keys_same(ka, kb),
	    "PKCS#8 and seed forms give the same public key");
	if (ka != NULL && kb != NULL) {
		keys_id(ka, ida);
		keys_id(kb, idb);
		T_EQ_STR(ida, idb, "and the same key id");
	}
	keys_free(ka);
	keys_free(kb);
	free(a);
	free(b);
}

/* keys_public_der and keys_id against OpenSSL's own encoding. */
static void
test_der_and_id(void)
{
	static const char *files[] = {
		"rfc8463/rsa-test.pem", "rfc8463/ed25519-brisbane.pkcs8.pem",
	};
	char		 err[512] = "", id[KEYS_ID_LEN + 1];
	char		 want_id[KEYS_ID_LEN + 1];
	unsigned char	*der = NULL, md[32];
	struct keys_key	*k;
	struct buf	*b;
	EVP_PKEY	*pk;
	BIO		*bio;
	size_t		 i, j, len;
	char		*data;
	int		 n;

	for (i = 0; i < 2; i++) {
		data = t_read_file(shared_path(files[i]), &len);
		bio = BIO_new_mem_buf(data, (int)len);
		pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
		n = i2d_PUBKEY(pk, &der);
		k = keys_load_mem(data, len, err, sizeof(err));
		b = buf_new(0);
		T_OK(k != NULL && keys_public_der(k, b) == 0, "%s: DER",
		    files[i]);
		T_EQ_MEM(buf_data(b), buf_len(b), der, (size_t)n, files[i]);
		SHA256(der, (size_t)n, md);
		for (j = 0; j < 8; j++)
			snprintf(want_id + 2 * j, 3, "%02x", md[j]);
		T_OK(k != NULL && keys_id(k, id) == 0, "%s: id", files[i]);
		T_EQ_STR(id, want_id, files[i]);
		keys_free(k);
		buf_free(b);
		OPENSSL_free(der);
		der = NULL;
		EVP_PKEY_free(pk);
		BIO_free(bio);
		free(data);
	}
}

static void
test_dns_record(void)
{
	static const struct {
		const char	*file;
		const char	*owner;
	} cases[] = {
		{ "rfc8463/rsa-test.pem",
		  "test._domainkey.football.example.com" },
		{ "rfc8463/ed25519-brisbane.seed.b64",
		  "brisbane._domainkey.football.example.com" },
	};
	char		 err[512] = "", *want, *got, *data;
	struct keys_key	*k;
	size_t		 i, len;

	for (i = 0; i < 2; i++) {
		data = t_read_file(shared_path(cases[i].file), &len);
		want = dns_value("rfc8463/dns.txt", cases[i].owner);
		k = keys_load_mem(data, len, err, sizeof(err));
		got = k != NULL ? record_of(k) : strdup("");
		T_EQ_STR(got, want, "DNS record equals RFC 8463 A.2");
		free(got);
		free(want);
		keys_free(k);
		free(data);
	}
}

/* ------------------------------------------------------------------ */

enum setup {
	SET_MODE,		/* copy file with mode */
	SET_CONTENT,		/* write content with mode 0600 */
	SET_SYMLINK,		/* 0600 copy, loaded through a symlink */
	SET_OPENSSL,		/* generate with the openssl command */
	SET_OWNER,		/* 0600 copy owned by uid 65534 */
	SET_OPEN_DIR,		/* 0600 copy in a directory mode 0777 */
	SET_GROUP_DIR,		/* 0600 copy in a directory mode 0770 (KY-02) */
	SET_MISSING,
	SET_DIRECTORY,
};

struct refuse_case {
	const char	*name;
	enum setup	 setup;
	const char	*arg;		/* file, content or openssl args */
	mode_t		 mode;
	const char	*want;		/* substring of the error */
	const char	*secret;	/* must not appear in the error */
};

static const struct refuse_case refusals[] = {
	{ "mode 0644", SET_MODE, "rfc8463/rsa-test.pem", 0644,
	  "chmod 600", NULL },
	{ "mode 0640", SET_MODE, "rfc8463/ed25519-brisbane.seed.b64", 0640,
	  "mode 0640", NULL },
	{ "mode 0604", SET_MODE, "rfc8463/ed25519-brisbane.pkcs8.pem", 0604,
	  "chmod 600", NULL },
	{ "symlink", SET_SYMLINK, "rfc8463/rsa-test.pem", 0600,
	  "symbolic link", NULL },
	{ "empty", SET_CONTENT, "", 0600, "empty key file", NULL },
	{ "truncated PEM", SET_CONTENT,
	  "-----BEGIN RSA PRIVATE KEY-----\n"
	  "MIICXQIBAAKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQi\n",
	  0600, "not a valid PEM private key", "MIICXQIBAAKBgQDkHlOQ" },
	{ "damaged PEM body", SET_CONTENT,
	  "-----BEGIN PRIVATE KEY-----\n"
	  "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn\n"
	  "-----END PRIVATE KEY-----\n",
	  0600, "not a valid PEM private key", "MC4CAQAwBQYDK2Vw" },
	{ "garbage text", SET_CONTENT, "hello, world: secret-ish text\n",
	  0600, "not a PEM private key nor a base64", "secret-ish" },
	{ "base64 of the wrong length", SET_CONTENT, "c2lnbmV0\n", 0600,
	  "not a base64 Ed25519 seed", "c2lnbmV0" },
	{ "two lines of base64", SET_CONTENT,
	  "nWGxne/9WmC6hEr0kuwsxERJxWl7\nMmkZcDusAxyuf2A=\n", 0600,
	  "not a PEM private key nor", "nWGxne" },
	{ "RSA 512 bits", SET_OPENSSL,
	  "genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:512", 0600,
	  "below the 1024-bit minimum", NULL },
	{ "encrypted PKCS#8", SET_OPENSSL,
	  "genpkey -algorithm ED25519 -aes-128-cbc -pass pass:x", 0600,
	  "encrypted private keys are not supported", NULL },
	{ "EC key", SET_OPENSSL,
	  "genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256", 0600,
	  "unsupported key type", NULL },
	{ "owned by another user", SET_OWNER, "rfc8463/rsa-test.pem", 0600,
	  "owned by uid 65534", NULL },
	{ "directory writable by others", SET_OPEN_DIR,
	  "rfc8463/rsa-test.pem", 0600, "writable by group or others", NULL },
	{ "directory writable by its group", SET_GROUP_DIR,
	  "rfc8463/rsa-test.pem", 0600, "writable by group or others", NULL },
	{ "missing file", SET_MISSING, NULL, 0, "No such file", NULL },
	{ "a directory", SET_DIRECTORY, NULL, 0, "not a regular file", NULL },
};

static char *
setup_refusal(const struct refuse_case *c, const char *name)
{
	char	 cmd[PATH_MAX * 2], *path, *target;

	switch (c->setup) {
	case SET_MODE:
		return copy_shared(c->arg, name, c->mode);
	case SET_CONTENT:
		return put_file(name, c->arg, strlen(c->arg), c->mode);
	case SET_SYMLINK:
		target = copy_shared(c->arg, "link-target", 0600);
		path = strdup(tmp_path(name));
		unlink(path);
		if (symlink(target, path) == -1)
			printf("# symlink: %s\n", strerror(errno));
		free(target);
		return path;
	case SET_OPENSSL:
		path = strdup(tmp_path(name));
		unlink(path);
		snprintf(cmd, sizeof(cmd), "umask 077; openssl %s -out %s",
		    c->arg, path);
		if (run(cmd) != 0)
			printf("# openssl failed: %s\n", cmd);
		return path;
	case SET_OWNER:
		path = copy_shared(c->arg, name, c->mode);
		if (chown(path, 65534, 65534) == -1)
			printf("# chown: %s\n", strerror(errno));
		return path;
	case SET_OPEN_DIR:
		snprintf(cmd, sizeof(cmd), "%s/open", tmpdir);
		mkdir(cmd, 0700);
		chmod(cmd, 0777);
		snprintf(cmd, sizeof(cmd), "open/%s", name);
		return copy_shared(c->arg, cmd, c->mode);
	case SET_GROUP_DIR:
		snprintf(cmd, sizeof(cmd), "%s/group", tmpdir);
		mkdir(cmd, 0700);
		chmod(cmd, 0770);
		snprintf(cmd, sizeof(cmd), "group/%s", name);
		return copy_shared(c->arg, cmd, c->mode);
	case SET_MISSING:
		return strdup(tmp_path("no-such-key.pem"));
	case SET_DIRECTORY:
		return strdup(tmpdir);
	}
	return NULL;
}

static void
test_refusals(void)
{
	char		 err[512] = "", name[64], *path;
	struct keys_key	*k;
	size_t		 i;

	for (i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		const struct refuse_case *c = &refusals[i];

		snprintf(name, sizeof(name), "refuse%zu", i);
		path = setup_refusal(c, name);
		err[0] = '\0';
		k = keys_load(path, err, sizeof(err));
		T_OK(k == NULL, "%s: refused", c->name);
		T_OK(strstr(err, c->want) != NULL, "%s: says \"%s\" (%s)",
		    c->name, c->want, err);
		T_OK(strstr(err, path) != NULL, "%s: names the file",
		    c->name);
		T_OK(strchr(err, '\n') == NULL, "%s: one line", c->name);
		if (c->secret != NULL)
			T_OK(strstr(err, c->secret) == NULL,
			    "%s: does not quote the file", c->name);
		keys_free(k);
		free(path);
	}
}

/* keys import: unsafe source files are read, with a warning. */
static void
test_import_warnings(void)
{
	char		 err[512] = "", warn[512], *path, *link;
	struct keys_key	*k;

	path = copy_shared("rfc8463/rsa-test.pem", "import-0644", 0644);
	k = keys_load_import(path, warn, sizeof(warn), err, sizeof(err));
	T_OK(k != NULL, "import reads a 0644 key (%s)", err);
	T_OK(strstr(warn, "mode 0644") != NULL, "and warns: %s", warn);
	keys_free(k);
	link = strdup(tmp_path("import-link"));
	unlink(link);
	T_OK(symlink(path, link) == 0, "symlink made");
	k = keys_load_import(link, warn, sizeof(warn), err, sizeof(err));
	T_OK(k != NULL, "import follows a symlink (%s)", err);
	T_OK(strstr(warn, "symbolic link") != NULL, "and warns: %s", warn);
	keys_free(k);
	chmod(path, 0600);
	k = keys_load_import(path, warn, sizeof(warn), err, sizeof(err));
	T_OK(k != NULL && warn[0] == '\0', "a 0600 key gives no warning");
	keys_free(k);
	k = keys_load_import(tmp_path("no-such"), warn, sizeof(warn), err,
	    sizeof(err));
	T_OK(k == NULL && strstr(err, "No such file") != NULL,
	    "import of a missing file fails");
	free(link);
	free(path);
}

/* ------------------------------------------------------------------ */

/* Verify with OpenSSL (RSA) or libsodium (Ed25519) from the public key. */
static int
verify_with_public(const struct keys_key *k, const uint8_t *digest,
    const uint8_t *sig, size_t siglen)
{
	struct buf		*der = buf_new(0);
	const unsigned char	*p;
	EVP_PKEY		*pk = NULL;
	EVP_PKEY_CTX		*ctx = NULL;
	uint8_t			 raw[32];
	char			*pub;
	int			 ok = 0;

	if (keys_alg(k) == KEYS_ALG_ED25519_SHA256) {
		pub = pub_b64(k);
		ok = unb64(pub, raw, 32) == 32 &&
		    crypto_sign_verify_detached(sig, digest, 32, raw) == 0;
		free(pub);
		buf_free(der);
		return ok;
	}
	if (keys_public_der(k, der) == -1)
		goto done;
	p = buf_data(der);
	if ((pk = d2i_PUBKEY(NULL, &p, (long)buf_len(der))) == NULL ||
	    (ctx = EVP_PKEY_CTX_new(pk, NULL)) == NULL ||
	    EVP_PKEY_verify_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) <= 0)
		goto done;
	ok = EVP_PKEY_verify(ctx, sig, siglen, digest, 32) == 1;
done:
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pk);
	buf_free(der);
	return ok;
}

static void
test_generate(void)
{
	static const struct {
		const char	*name;
		enum keys_alg	 alg;
		unsigned	 bits;
	} cases[] = {
		{ "RSA 2048", KEYS_ALG_RSA_SHA256, 2048 },
		{ "RSA 3072", KEYS_ALG_RSA_SHA256, 3072 },
		{ "Ed25519", KEYS_ALG_ED25519_SHA256, 0 },
	};
	char		 err[512] = "", cmd[PATH_MAX * 2], name[64];
	char		 id1[KEYS_ID_LEN + 1], id2[KEYS_ID_LEN + 1];
	uint8_t		 digest[32], sig[KEYS_SIG_MAX];
	size_t		 i, siglen, len;
	struct keys_key	*k, *again;
	struct stat	 st;
	mode_t		 old;
	char		*path, *data;

	randombytes_buf(digest, sizeof(digest));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(name, sizeof(name), "gen%zu.pem", i);
		path = strdup(tmp_path(name));
		unlink(path);
		/* A loose umask must not loosen the file. */
		old = umask(i == 0 ? 0 : 0277);
		k = NULL;
		T_OK(keys_generate(cases[i].alg, cases[i].bits, path, &k, err,
		    sizeof(err)) == 0 && k != NULL, "%s: generated (%s)",
		    cases[i].name, err);
		umask(old);
		if (k == NULL) {
			free(path);
			continue;
		}
		T_OK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600,
		    "%s: file mode 0600", cases[i].name);
		T_EQ_INT(keys_alg(k), cases[i].alg, cases[i].name);
		T_EQ_INT(keys_bits(k), cases[i].bits ? cases[i].bits : 256,
		    cases[i].name);
		data = t_read_file(path, &len);
		T_OK(strncmp(data, "-----BEGIN PRIVATE KEY-----\n", 28) == 0,
		    "%s: PKCS#8 PEM", cases[i].name);
		free(data);
		snprintf(cmd, sizeof(cmd), "openssl pkey -in %s -noout", path);
		T_OK(run(cmd) == 0, "%s: openssl reads the file",
		    cases[i].name);
		again = keys_load(path, err, sizeof(err));
		T_OK(again != NULL && keys_id(k, id1) == 0 &&
		    keys_id(again, id2) == 0 && strcmp(id1, id2) == 0,
		    "%s: reloads with the same id", cases[i].name);
		keys_free(again);
		siglen = sizeof(sig);
		T_OK(keys_sign(k, cases[i].alg, digest, sig, &siglen) == 0 &&
		    siglen == keys_sig_max(k), "%s: signs", cases[i].name);
		T_OK(verify_with_public(k, digest, sig, siglen),
		    "%s: signature verifies with the public key",
		    cases[i].name);
		T_OK(keys_generate(cases[i].alg, cases[i].bits, path, NULL, err,
		    sizeof(err)) == -1 && strstr(err, "already exists") != NULL,
		    "%s: an existing file is not overwritten (%s)",
		    cases[i].name, err);
		keys_free(k);
		free(path);
	}
}

static void
test_generate_refusals(void)
{
	static const struct {
		const char	*name;
		enum keys_alg	 alg;
		unsigned	 bits;
		const char	*want;
	} cases[] = {
		{ "RSA 1024", KEYS_ALG_RSA_SHA256, 1024, "2048, 3072 or 4096" },
		{ "RSA 2000", KEYS_ALG_RSA_SHA256, 2000, "2048, 3072 or 4096" },
		{ "RSA 8192", KEYS_ALG_RSA_SHA256, 8192, "2048, 3072 or 4096" },
		{ "Ed25519 2048", KEYS_ALG_ED25519_SHA256, 2048, "256 bits" },
	};
	char		 err[512] = "";
	struct stat	 st;
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		T_OK(keys_generate(cases[i].alg, cases[i].bits,
		    tmp_path("gen-refused.pem"), NULL, err, sizeof(err)) == -1,
		    "%s: refused", cases[i].name);
		T_OK(strstr(err, cases[i].want) != NULL, "%s: says why (%s)",
		    cases[i].name, err);
		T_OK(stat(tmp_path("gen-refused.pem"), &st) == -1,
		    "%s: no file left", cases[i].name);
	}
}

/* keys_write_file: a key written under another name reads back equal. */
static void
test_write_file(void)
{
	static const char *files[] = {
		"rfc8463/rsa-test.pem", "rfc8463/ed25519-brisbane.seed.b64",
	};
	char		 err[512] = "", name[64], *data, *out;
	struct keys_key	*k, *back;
	struct stat	 st;
	size_t		 i, len;

	for (i = 0; i < 2; i++) {
		data = t_read_file(shared_path(files[i]), &len);
		k = keys_load_mem(data, len, err, sizeof(err));
		snprintf(name, sizeof(name), "written%zu.pem", i);
		out = strdup(tmp_path(name));
		unlink(out);
		T_OK(k != NULL && keys_write_file(k, out, err, sizeof(err)) ==
		    0, "%s: written as PKCS#8 (%s)", files[i], err);
		T_OK(stat(out, &st) == 0 && (st.st_mode & 07777) == 0600,
		    "%s: mode 0600", files[i]);
		back = keys_load(out, err, sizeof(err));
		T_OK(k != NULL && back != NULL && keys_same(k, back),
		    "%s: reads back as the same key", files[i]);
		keys_free(back);
		keys_free(k);
		free(out);
		free(data);
	}
}

/* ------------------------------------------------------------------ */

struct vector {
	char	*key_file;
	char	*b;
	char	*digest_hex;
};

/* The fields of expected.yaml's signatures, in file order. */
static size_t
read_vectors(struct vector *v, size_t max)
{
	size_t	 len, n = 0;
	char	*data = t_read_file(shared_path("rfc8463/expected.yaml"), &len);
	char	*line, *save = NULL, *val;

	for (line = strtok_r(data, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		while (*line == ' ' || *line == '-')
			line++;
		if ((val = strchr(line, ':')) == NULL)
			continue;
		*val++ = '\0';
		while (*val == ' ' || *val == '"')
			val++;
		val[strcspn(val, "\"")] = '\0';
		if (strcmp(line, "selector") == 0 && n < max)
			memset(&v[n++], 0, sizeof(*v));
		else if (n == 0)
			continue;
		else if (strcmp(line, "key_file") == 0)
			v[n - 1].key_file = strdup(val);
		else if (strcmp(line, "b") == 0)
			v[n - 1].b = strdup(val);
		else if (strcmp(line, "signed_data_sha256_hex") == 0)
			v[n - 1].digest_hex = strdup(val);
	}
	free(data);
	return n;
}

static void
hex_decode(const char *hex, uint8_t *out, size_t n)
{
	size_t	bin = 0;

	if (sodium_hex2bin(out, n, hex, strlen(hex), NULL, &bin, NULL) != 0 ||
	    bin != n)
		memset(out, 0, n);
}

struct sign_job {
	const struct keys_key	*key;
	enum keys_alg		 alg;
	const uint8_t		*digest;
	const char		*want;
	int			 mismatches;
};

#define THREAD_SIGNATURES	25

static void *
sign_thread(void *arg)
{
	struct sign_job	*j = arg;
	uint8_t		 sig[KEYS_SIG_MAX];
	size_t		 siglen;
	char		*got;
	int		 i;

	for (i = 0; i < THREAD_SIGNATURES; i++) {
		siglen = sizeof(sig);
		if (keys_sign(j->key, j->alg, j->digest, sig, &siglen) == -1) {
			j->mismatches++;
			continue;
		}
		got = b64(sig, siglen);
		if (strcmp(got, j->want) != 0)
			j->mismatches++;
		free(got);
	}
	return NULL;
}

static void
test_rfc8463_vectors(void)
{
	struct vector	 v[4];
	char		 err[512] = "", rel[128], *got;
	uint8_t		 digest[32], sig[KEYS_SIG_MAX];
	size_t		 n, i, siglen, len;
	struct keys_key	*k;
	enum keys_alg	 alg, other;
	pthread_t	 th[4];
	struct sign_job	 jobs[4];
	int		 t, bad;
	char		*data;

	n = read_vectors(v, 4);
	T_EQ_INT(n, 2, "expected.yaml has two signatures");
	for (i = 0; i < n; i++) {
		snprintf(rel, sizeof(rel), "rfc8463/%s", v[i].key_file);
		data = t_read_file(shared_path(rel), &len);
		k = keys_load_mem(data, len, err, sizeof(err));
		free(data);
		if (!T_OK(k != NULL, "%s loads (%s)", rel, err))
			continue;
		alg = keys_alg(k);
		other = alg == KEYS_ALG_RSA_SHA256 ? KEYS_ALG_ED25519_SHA256 :
		    KEYS_ALG_RSA_SHA256;
		hex_decode(v[i].digest_hex, digest, sizeof(digest));
		siglen = sizeof(sig);
		T_OK(keys_sign(k, alg, digest, sig, &siglen) == 0,
		    "%s: signs the digest", v[i].key_file);
		got = b64(sig, siglen);
		T_EQ_STR(got, v[i].b, "b= reproduced byte for byte");
		free(got);
		siglen = sizeof(sig);
		T_OK(keys_sign(k, other, digest, sig, &siglen) == -1,
		    "%s: the other algorithm is refused", v[i].key_file);
		siglen = keys_sig_max(k) - 1;
		T_OK(keys_sign(k, alg, digest, sig, &siglen) == -1,
		    "%s: a short signature buffer is refused", v[i].key_file);
		/* Concurrent signing on one key gives the same bytes. */
		for (t = 0; t < 4; t++) {
			jobs[t] = (struct sign_job){ k, alg, digest, v[i].b,
			    0 };
			pthread_create(&th[t], NULL, sign_thread, &jobs[t]);
		}
		bad = 0;
		for (t = 0; t < 4; t++) {
			pthread_join(th[t], NULL);
			bad += jobs[t].mismatches;
		}
		T_EQ_INT(bad, 0, "4 threads x 25 signatures agree");
		keys_free(k);
	}
	for (i = 0; i < n; i++) {
		free(v[i].key_file);
		free(v[i].b);
		free(v[i].digest_hex);
	}
}

/* ------------------------------------------------------------------ */

/* One quoted string of a zone line starting at *p; NULL at the end. */
static char *
next_quoted(const char **p)
{
	const char	*s = strchr(*p, '"'), *e;
	char		*out;

	if (s == NULL || (e = strchr(s + 1, '"')) == NULL)
		return NULL;
	out = strndup(s + 1, (size_t)(e - s - 1));
	*p = e + 1;
	return out;
}

static void
test_zone_record(void)
{
	static const struct {
		const char	*name;
		enum keys_alg	 alg;
		unsigned	 bits;
		const char	*domain;
		size_t		 strings;
	} cases[] = {
		{ "RSA 2048", KEYS_ALG_RSA_SHA256, 2048, "example.com", 3 },
		{ "RSA 4096", KEYS_ALG_RSA_SHA256, 4096, "example.com.", 4 },
		{ "Ed25519", KEYS_ALG_ED25519_SHA256, 0, "example.com", 2 },
	};
	char		 err[512] = "", name[64], *rec, *s;
	const char	*p, *line;
	struct buf	*zone, *joined;
	struct keys_key	*k;
	size_t		 i, count, longest;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(name, sizeof(name), "zone%zu.pem", i);
		unlink(tmp_path(name));
		k = NULL;
		if (!T_OK(keys_generate(cases[i].alg, cases[i].bits,
		    tmp_path(name), &k, err, sizeof(err)) == 0, "%s: key (%s)",
		    cases[i].name, err))
			continue;
		zone = buf_new(0);
		joined = buf_new(0);
		T_OK(keys_zone_record(k, "s1", cases[i].domain, 3600, zone) ==
		    0, "%s: zone line", cases[i].name);
		line = buf_cstr(zone);
		T_OK(strncmp(line, "s1._domainkey.example.com. 3600 IN TXT ( \""
		    "v=DKIM1; k=", 51) == 0, "%s: owner, TTL, first string",
		    cases[i].name);
		T_OK(strlen(line) > 3 &&
		    strcmp(line + strlen(line) - 3, " )\n") == 0 &&
		    strchr(line, '\n') == line + strlen(line) - 1,
		    "%s: one line closed by \" )\"", cases[i].name);
		count = longest = 0;
		for (p = line; (s = next_quoted(&p)) != NULL; free(s)) {
			count++;
			if (strlen(s) > longest)
				longest = strlen(s);
			buf_append_str(joined, s);
		}
		rec = record_of(k);
		T_EQ_INT(count, cases[i].strings, cases[i].name);
		T_OK(longest <= 255, "%s: strings of at most 255 octets",
		    cases[i].name);
		T_EQ_STR(buf_cstr(joined), rec, "strings join to the record");
		free(rec);
		buf_free(joined);
		buf_free(zone);
		keys_free(k);
	}
}

int
main(void)
{
	char	cmd[PATH_MAX];

	if (sodium_init() < 0 || mkdtemp(tmpdir) == NULL) {
		printf("Bail out! setup\n");
		return 1;
	}
	test_formats();
	test_seed_variants();
	test_same_key_two_formats();
	test_der_and_id();
	test_dns_record();
	test_refusals();
	test_import_warnings();
	test_generate();
	test_generate_refusals();
	test_write_file();
	test_rfc8463_vectors();
	test_zone_record();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	run(cmd);
	return t_done();
}
