/*
 * tls: server contexts from a configuration (TLS 1.2 floor, no
 * compression or renegotiation, client certificates requested only when
 * something can use them), the file named when a certificate or key is
 * unusable, and the client-certificate fingerprint in the tenants' form,
 * checked against `openssl x509 -fingerprint -sha256` over a real
 * handshake on a socketpair.
 */
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "config/config.h"
#include "proxy/msg/buf.h"
#include "proxy/policy.h"
#include "proxy/tls.h"
#include "tests/unit/t.h"

static char	dir[] = "/tmp/signet-tls-XXXXXX";

static int
run(const char *cmd)
{
	return system(cmd);
}

/* DIR/name.crt and DIR/name.key, self-signed EC P-256 (extra: openssl
 * options, e.g. an encrypted key). */
static int
make_cert(const char *name, const char *extra)
{
	char	 cmd[1024];

	snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey ec "
	    "-pkeyopt ec_paramgen_curve:prime256v1 %s -keyout %s/%s.key "
	    "-out %s/%s.crt -days 1 -subj /CN=%s >/dev/null 2>&1", extra,
	    dir, name, dir, name, name);
	return run(cmd);
}

static const struct config *
load(const char *listeners, const char *tenant_extra, struct buf *err)
{
	struct buf		*y = buf_new(8192);
	const struct config	*cfg;

	buf_printf(y, "listen:\n%s"
	    "upstream:\n  address: file:/tmp\n"
	    "keystore: /tmp\nspool: /tmp\n"
	    "domains:\n  tenant.test: {}\n  b.test: {}\n"
	    "tenants:\n  - name: a\n    networks: [127.0.0.1/32]\n"
	    "    domains: [tenant.test]\n%s", listeners, tenant_extra);
	cfg = config_load_mem(buf_data(y), buf_len(y), "tls.yaml", err);
	buf_free(y);
	return cfg;
}

static void
listener(struct buf *b, int port, const char *cert, const char *key,
    const char *ca, int implicit)
{
	buf_printf(b, "  - address: 127.0.0.1:%d\n", port);
	if (implicit)
		buf_printf(b, "    implicit_tls: true\n");
	if (cert == NULL)
		return;
	buf_printf(b, "    starttls:\n      cert: %s/%s\n      key: %s/%s\n",
	    dir, cert, dir, key);
	if (ca != NULL)
		buf_printf(b, "      client_ca: %s/%s\n", dir, ca);
}

/* Drive both ends of a non-blocking handshake; 0 when both finished. */
static int
handshake(SSL *srv, SSL *cli)
{
	int	 i, a = 0, b = 0, r, e;

	for (i = 0; i < 1000 && !(a && b); i++) {
		if (!a) {
			r = SSL_do_handshake(srv);
			e = SSL_get_error(srv, r);
			if (r == 1)
				a = 1;
			else if (e != SSL_ERROR_WANT_READ &&
			    e != SSL_ERROR_WANT_WRITE)
				return -1;
		}
		if (!b) {
			r = SSL_do_handshake(cli);
			e = SSL_get_error(cli, r);
			if (r == 1)
				b = 1;
			else if (e != SSL_ERROR_WANT_READ &&
			    e != SSL_ERROR_WANT_WRITE)
				return -1;
		}
	}
	return a && b ? 0 : -1;
}

/* A handshake on ctx with a client limited to [minv, maxv], presenting
 * name.crt when name is not NULL; fills fp from the server's view. */
static int
connect_pair(SSL_CTX *sctx, const char *name, int minv, int maxv,
    int *got_cert, uint8_t fp[TLS_FP_LEN])
{
	SSL_CTX		*cctx = SSL_CTX_new(TLS_client_method());
	SSL		*srv, *cli;
	int		 sv[2], rv;
	char		 path[512], kpath[512];

	if (cctx == NULL || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return -1;
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	SSL_CTX_set_min_proto_version(cctx, minv);
	SSL_CTX_set_max_proto_version(cctx, maxv);
	/* Allow the old protocol on our side: the server must refuse it. */
	SSL_CTX_set_security_level(cctx, 0);
	SSL_CTX_set_cipher_list(cctx, "DEFAULT:@SECLEVEL=0");
	if (name != NULL) {
		snprintf(path, sizeof(path), "%s/%s.crt", dir, name);
		snprintf(kpath, sizeof(kpath), "%s/%s.key", dir, name);
		SSL_CTX_use_certificate_file(cctx, path, SSL_FILETYPE_PEM);
		SSL_CTX_use_PrivateKey_file(cctx, kpath, SSL_FILETYPE_PEM);
	}
	srv = tls_server_new(sctx);
	cli = SSL_new(cctx);
	SSL_set_fd(srv, sv[0]);
	SSL_set_fd(cli, sv[1]);
	SSL_set_accept_state(srv);
	SSL_set_connect_state(cli);
	rv = handshake(srv, cli);
	if (rv == 0)
		*got_cert = tls_peer_fingerprint(srv, fp) == 0;
	ERR_clear_error();
	SSL_free(srv);
	SSL_free(cli);
	SSL_CTX_free(cctx);
	close(sv[0]);
	close(sv[1]);
	return rv;
}

/* The fingerprint as the openssl command prints it. */
static int
openssl_fp(const char *name, char *out, size_t len)
{
	FILE	*p;
	char	 cmd[512], line[256], *eq;

	snprintf(cmd, sizeof(cmd), "openssl x509 -in %s/%s.crt -noout "
	    "-fingerprint -sha256", dir, name);
	if ((p = popen(cmd, "r")) == NULL)
		return -1;
	if (fgets(line, sizeof(line), p) == NULL) {
		pclose(p);
		return -1;
	}
	pclose(p);
	line[strcspn(line, "\r\n")] = '\0';
	if ((eq = strchr(line, '=')) == NULL)
		return -1;
	snprintf(out, len, "sha256:%s", eq + 1);
	return 0;
}

int
main(void)
{
	struct buf		*ls, *err, *pin;
	const struct config	*cfg;
	struct tls_set		*set;
	SSL_CTX			*ctx;
	uint8_t			 fp[TLS_FP_LEN];
	char			 text[TLS_FP_TEXT], want[256];
	int			 got = 0;
	uint64_t		 opts;

	if (mkdtemp(dir) == NULL || make_cert("srv", "-nodes") != 0 ||
	    make_cert("cli", "-nodes") != 0 || make_cert("other", "-nodes") ||
	    make_cert("enc", "-passout pass:secret") != 0) {
		T_OK(0, "setup: certificates (%s)", strerror(errno));
		return t_done();
	}
	ls = buf_new(4096);
	err = buf_new(4096);
	pin = buf_new(1024);

	/* STARTTLS, implicit TLS and plain listeners. */
	listener(ls, 2525, "srv.crt", "srv.key", NULL, 0);
	listener(ls, 2465, "srv.crt", "srv.key", NULL, 1);
	listener(ls, 2526, NULL, NULL, NULL, 0);
	cfg = load(buf_cstr(ls), "", err);
	T_OK(cfg != NULL, "configuration loads %s", cfg ? "" : buf_cstr(err));
	set = cfg != NULL ? tls_set_new(cfg, err) : NULL;
	T_OK(set != NULL, "contexts built %s", set ? "" : buf_cstr(err));
	T_OK(tls_set_ctx(set, 0) != NULL && tls_set_ctx(set, 1) != NULL,
	    "STARTTLS and implicit listeners have a context");
	T_OK(tls_set_ctx(set, 2) == NULL, "the plain listener has none");
	T_OK(tls_set_ctx(set, 3) == NULL, "past the end: none");
	ctx = tls_set_ctx(set, 0);
	if (ctx != NULL) {
		T_EQ_INT(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION,
		    "TLS 1.2 minimum");
		opts = SSL_CTX_get_options(ctx);
		T_OK((opts & SSL_OP_NO_COMPRESSION) &&
		    (opts & SSL_OP_NO_RENEGOTIATION) &&
		    (opts & SSL_OP_CIPHER_SERVER_PREFERENCE),
		    "no compression, no renegotiation, server order");
		T_EQ_INT(SSL_CTX_get_verify_mode(ctx), SSL_VERIFY_NONE,
		    "no client certificate asked when nothing uses one");
		T_OK(connect_pair(ctx, NULL, TLS1_2_VERSION, TLS1_3_VERSION,
		    &got, fp) == 0, "TLS 1.3 client accepted");
		T_OK(connect_pair(ctx, NULL, TLS1_2_VERSION, TLS1_2_VERSION,
		    &got, fp) == 0, "TLS 1.2 client accepted");
		T_OK(connect_pair(ctx, NULL, TLS1_1_VERSION, TLS1_1_VERSION,
		    &got, fp) == -1, "TLS 1.1 client refused");
		T_OK(connect_pair(ctx, NULL, TLS1_VERSION, TLS1_VERSION,
		    &got, fp) == -1, "TLS 1.0 client refused");
	}
	tls_set_free(set);
	config_free(cfg);

	/* A tenant pinning a certificate: contexts ask for one. */
	if (openssl_fp("cli", want, sizeof(want)) == 0)
		buf_printf(pin, "  - name: b\n    certificates: [\"%s\"]\n"
		    "    domains: [b.test]\n", want);
	buf_reset(ls);
	listener(ls, 2525, "srv.crt", "srv.key", NULL, 0);
	buf_reset(err);
	cfg = load(buf_cstr(ls), buf_cstr(pin), err);
	T_OK(cfg != NULL, "pinned configuration loads %s", cfg ? "" :
	    buf_cstr(err));
	set = cfg != NULL ? tls_set_new(cfg, err) : NULL;
	ctx = tls_set_ctx(set, 0);
	T_OK(ctx != NULL && SSL_CTX_get_verify_mode(ctx) == SSL_VERIFY_PEER,
	    "a pinned certificate makes the server ask for one");
	if (ctx != NULL) {
		T_OK(connect_pair(ctx, "cli", TLS1_2_VERSION, TLS1_3_VERSION,
		    &got, fp) == 0 && got, "self-signed client certificate "
		    "accepted without a CA");
		tls_fingerprint_text(fp, text);
		T_EQ_STR(text, want, "fingerprint as openssl prints it");
		T_OK(policy_tenant_for_cert(cfg, fp) != NULL &&
		    strcmp(policy_tenant_for_cert(cfg, fp)->name, "b") == 0,
		    "fingerprint finds the pinning tenant");
		T_OK(connect_pair(ctx, NULL, TLS1_2_VERSION, TLS1_3_VERSION,
		    &got, fp) == 0 && !got, "no certificate: still accepted");
	}
	tls_set_free(set);
	config_free(cfg);

	/* client_ca alone also asks. */
	buf_reset(ls);
	listener(ls, 2525, "srv.crt", "srv.key", "cli.crt", 0);
	cfg = load(buf_cstr(ls), "", err);
	set = cfg != NULL ? tls_set_new(cfg, err) : NULL;
	ctx = tls_set_ctx(set, 0);
	T_OK(ctx != NULL && SSL_CTX_get_verify_mode(ctx) == SSL_VERIFY_PEER,
	    "client_ca makes the server ask for a certificate");
	tls_set_free(set);
	config_free(cfg);

	/* Unusable files: refused, the file named. */
	{
		static const struct {
			const char	*cert, *key, *ca;
			const char	*want;
		} bad[] = {
			{ "missing.crt", "srv.key", NULL, "starttls cert " },
			{ "srv.key", "srv.key", NULL, "starttls cert " },
			{ "srv.crt", "missing.key", NULL, "starttls key " },
			{ "srv.crt", "other.key", NULL, "starttls key " },
			{ "srv.crt", "enc.key", NULL, "starttls key " },
			{ "srv.crt", "srv.key", "missing.pem", "starttls client_ca " },
		};
		size_t	 i;
		char	 needle[600];

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			buf_reset(ls);
			listener(ls, 2525, NULL, NULL, NULL, 0);
			listener(ls, 2526, bad[i].cert, bad[i].key, bad[i].ca,
			    0);
			buf_reset(err);
			cfg = load(buf_cstr(ls), "", err);
			if (cfg == NULL) {
				T_OK(0, "case %zu loads: %s", i, buf_cstr(err));
				continue;
			}
			buf_reset(err);
			set = tls_set_new(cfg, err);
			snprintf(needle, sizeof(needle), "listen[1] %s%s/%s",
			    bad[i].want, dir, bad[i].ca != NULL ? bad[i].ca :
			    strstr(bad[i].want, "cert") ? bad[i].cert :
			    bad[i].key);
			T_OK(set == NULL && buf_cstr(err) != NULL &&
			    strstr(buf_cstr(err), needle) != NULL,
			    "cert %s key %s ca %s: refused naming the file (%s)",
			    bad[i].cert, bad[i].key, bad[i].ca ? bad[i].ca : "-",
			    buf_cstr(err) ? buf_cstr(err) : "");
			tls_set_free(set);
			config_free(cfg);
		}
	}

	buf_free(pin);
	buf_free(err);
	buf_free(ls);
	snprintf(want, sizeof(want), "rm -rf %s", dir);
	run(want);
	return t_done();
}
