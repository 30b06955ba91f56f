/*
 * test_utls_secret — upstream AUTH configuration: which secret files
 * utls_prepare accepts (one line, final LF or CRLF dropped, printable,
 * 1..UTLS_SECRET_MAX octets), the exact AUTH lines built from them
 * (RFC 4616 PLAIN, LOGIN's two answers), a missing CA file refused, and
 * the config rule that auth without TLS needs a loopback upstream.
 */
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "config/config.h"
#include "proxy/io.h"
#include "proxy/msg/buf.h"
#include "proxy/upstream_tls.h"
#include "tests/unit/t.h"

static char	tmpdir[] = "/tmp/signet-utls-XXXXXX";

#define BASE \
	"listen: [{ address: \"127.0.0.1:2525\" }]\n" \
	"keystore: /k\n" \
	"spool: /s\n"

static const struct config *
load(const char *upstream, struct buf *errs)
{
	char	text[2048];

	snprintf(text, sizeof(text), BASE "upstream:\n%s", upstream);
	return config_load_mem(text, strlen(text), "t.yaml", errs);
}

static const char *
secret_path(const void *data, size_t len)
{
	static char	 path[256];
	FILE		*f;

	snprintf(path, sizeof(path), "%s/secret", tmpdir);
	if ((f = fopen(path, "wb")) == NULL ||
	    fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		printf("Bail out! cannot write %s\n", path);
		exit(1);
	}
	return path;
}

static void
ignore_read(void *arg, struct evbuffer *in)
{
	(void)arg;
	(void)in;
}

static void
ignore_event(void *arg, enum io_event ev)
{
	(void)arg;
	(void)ev;
}

/* The line utls_auth_write sends for step, read back from a socket. */
static size_t
auth_line(const struct utls *u, enum utls_auth_step step, char *out,
    size_t outlen)
{
	struct event_base	*base;
	struct io		*io;
	static const struct io_cb cb = { ignore_read, ignore_event };
	int			 sv[2];
	ssize_t			 n;
	size_t			 got = 0;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1 ||
	    (base = event_base_new()) == NULL) {
		printf("Bail out! socketpair\n");
		exit(1);
	}
	io = io_new(base, sv[0], &cb, NULL);
	if (io == NULL || utls_auth_write(u, step, io) == -1) {
		io_free(io);
		event_base_free(base);
		close(sv[1]);
		return 0;
	}
	event_base_loop(base, EVLOOP_NONBLOCK);
	while (got < outlen - 1 && (got < 2 || memcmp(out + got - 2, "\r\n",
	    2) != 0)) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		if ((n = read(sv[1], out + got, outlen - 1 - got)) <= 0)
			break;
		got += (size_t)n;
	}
	out[got] = '\0';
	io_free(io);
	event_base_free(base);
	close(sv[1]);
	return got;
}

static const struct {
	const char	*name;
	const char	*data;
	size_t		 len;
	int		 ok;
	const char	*plain;		/* expected AUTH PLAIN line */
} secrets[] = {
	/* base64("\0signet\0pw") = AHNpZ25ldABwdw== */
	{ "LF dropped", "pw\n", 3, 1, "AUTH PLAIN AHNpZ25ldABwdw==\r\n" },
	{ "CRLF dropped", "pw\r\n", 4, 1, "AUTH PLAIN AHNpZ25ldABwdw==\r\n" },
	{ "no newline", "pw", 2, 1, "AUTH PLAIN AHNpZ25ldABwdw==\r\n" },
	{ "spaces kept", "p w\n", 4, 1, "AUTH PLAIN AHNpZ25ldABwIHc=\r\n" },
	{ "empty", "", 0, 0, NULL },
	{ "only a newline", "\n", 1, 0, NULL },
	{ "two lines", "pw\nmore\n", 8, 0, NULL },
	{ "NUL inside", "p\0w\n", 4, 0, NULL },
	{ "tab inside", "p\tw\n", 4, 0, NULL },
};

static void
test_secrets(void)
{
	char			 up[512], line[256];
	const struct config	*cfg;
	struct buf		*errs;
	size_t			 i;
	int			 rv;

	for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		snprintf(up, sizeof(up), "  address: 127.0.0.1:25\n"
		    "  starttls: off\n"
		    "  auth: { user: signet, secret_file: %s }\n",
		    secret_path(secrets[i].data, secrets[i].len));
		errs = buf_new(4096);
		cfg = load(up, errs);
		if (!T_OK(cfg != NULL, "%s: config loads", secrets[i].name)) {
			buf_free(errs);
			continue;
		}
		rv = utls_prepare(cfg, errs);
		T_EQ_INT(rv, secrets[i].ok ? 0 : -1, secrets[i].name);
		if (rv == 0) {
			auth_line(utls_find(cfg), UTLS_AUTH_PLAIN, line,
			    sizeof(line));
			T_EQ_STR(line, secrets[i].plain, secrets[i].name);
		} else {
			T_OK(strstr(buf_cstr(errs), "secret_file") != NULL,
			    "%s: error names secret_file", secrets[i].name);
			T_OK(utls_find(cfg) == NULL, "%s: nothing registered",
			    secrets[i].name);
		}
		utls_forget(cfg);
		T_OK(utls_find(cfg) == NULL, "%s: forgotten", secrets[i].name);
		config_free(cfg);
		buf_free(errs);
	}
}

static void
test_login_and_long(void)
{
	char			 up[512], line[2048], big[UTLS_SECRET_MAX + 2];
	const struct config	*cfg;
	struct buf		*errs = buf_new(4096);

	snprintf(up, sizeof(up), "  address: 127.0.0.1:25\n"
	    "  starttls: off\n  auth: { user: signet, secret_file: %s }\n",
	    secret_path("pw\n", 3));
	cfg = load(up, errs);
	T_OK(cfg != NULL && utls_prepare(cfg, errs) == 0, "LOGIN: prepared");
	auth_line(utls_find(cfg), UTLS_AUTH_LOGIN_USER, line, sizeof(line));
	T_EQ_STR(line, "c2lnbmV0\r\n", "LOGIN user is base64(signet)");
	auth_line(utls_find(cfg), UTLS_AUTH_LOGIN_SECRET, line, sizeof(line));
	T_EQ_STR(line, "cHc=\r\n", "LOGIN secret is base64(pw)");
	utls_forget(cfg);
	config_free(cfg);

	/* UTLS_SECRET_MAX octets pass, one more is refused. */
	memset(big, 'x', sizeof(big));
	big[UTLS_SECRET_MAX] = '\n';
	snprintf(up, sizeof(up), "  address: 127.0.0.1:25\n"
	    "  starttls: off\n  auth: { user: signet, secret_file: %s }\n",
	    secret_path(big, UTLS_SECRET_MAX + 1));
	cfg = load(up, errs);
	T_OK(cfg != NULL && utls_prepare(cfg, errs) == 0,
	    "secret of UTLS_SECRET_MAX octets");
	utls_forget(cfg);
	config_free(cfg);
	big[UTLS_SECRET_MAX] = 'x';
	big[UTLS_SECRET_MAX + 1] = '\n';
	snprintf(up, sizeof(up), "  address: 127.0.0.1:25\n"
	    "  starttls: off\n  auth: { user: signet, secret_file: %s }\n",
	    secret_path(big, UTLS_SECRET_MAX + 2));
	cfg = load(up, errs);
	T_OK(cfg != NULL && utls_prepare(cfg, errs) == -1,
	    "secret of UTLS_SECRET_MAX + 1 octets refused");
	config_free(cfg);
	buf_free(errs);
}

static const struct {
	const char	*name;
	const char	*upstream;
	int		 loads;
} rules[] = {
	{ "auth, no TLS, loopback",
	  "  address: 127.0.0.1:587\n  starttls: off\n"
	  "  auth: { user: u, secret_file: /x }\n", 1 },
	{ "auth, no TLS, remote",
	  "  address: 192.0.2.1:587\n  starttls: off\n"
	  "  auth: { user: u, secret_file: /x }\n", 0 },
	{ "auth, no TLS, host name",
	  "  address: smtp.example.net:587\n  starttls: off\n"
	  "  auth: { user: u, secret_file: /x }\n", 0 },
	{ "auth, STARTTLS, remote",
	  "  address: 192.0.2.1:587\n  starttls: required\n"
	  "  auth: { user: u, secret_file: /x }\n", 1 },
	{ "auth, implicit TLS, remote",
	  "  address: 192.0.2.1:465\n  implicit_tls: true\n"
	  "  auth: { user: u, secret_file: /x }\n", 1 },
};

static void
test_rules(void)
{
	const struct config	*cfg;
	struct buf		*errs;
	size_t			 i;

	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		errs = buf_new(4096);
		cfg = load(rules[i].upstream, errs);
		T_EQ_INT(cfg != NULL, rules[i].loads, rules[i].name);
		if (!rules[i].loads)
			T_OK(strstr(buf_cstr(errs), "auth needs TLS") != NULL,
			    "%s: says why", rules[i].name);
		config_free(cfg);
		buf_free(errs);
	}
}

static void
test_ca_file(void)
{
	const struct config	*cfg;
	struct buf		*errs = buf_new(4096);

	cfg = load("  address: 127.0.0.1:25\n  starttls: required\n"
	    "  ca_file: /nonexistent/ca.crt\n", errs);
	T_OK(cfg != NULL && utls_prepare(cfg, errs) == -1 &&
	    strstr(buf_cstr(errs), "/nonexistent/ca.crt") != NULL,
	    "missing ca_file refused, named");
	config_free(cfg);
	buf_reset(errs);
	cfg = load("  address: 127.0.0.1:25\n  starttls: required\n", errs);
	T_OK(cfg != NULL && utls_prepare(cfg, errs) == 0 &&
	    utls_find(cfg) != NULL, "system store");
	utls_forget(cfg);
	config_free(cfg);
	buf_free(errs);
}

int
main(void)
{
	if (mkdtemp(tmpdir) == NULL) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	test_secrets();
	test_login_and_long();
	test_rules();
	test_ca_file();
	unlink(secret_path("", 0));
	rmdir(tmpdir);
	return t_done();
}
