/*
 * test_io_tls — io_start_tls over a socketpair: both roles finish the
 * handshake, data crosses in both directions, plaintext that was
 * pipelined ahead of the handshake is discarded and counted (TL-01),
 * the last reply before a close is delivered (io_close_after_flush
 * under TLS), a ClientHello buffered before an implicit-TLS start is
 * used, and a peer speaking garbage instead of TLS is an error.
 */
#include <sys/socket.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "proxy/io.h"
#include "t.h"
#include "t_loop.h"

struct end {
	struct io	*io;
	int		 ready;
	int		 error;
	int		 eof;
	int		 flushed;
	int		 keep;		/* leave input buffered */
	char		 got[256];
	size_t		 ngot;
};

static struct event_base	*base;

static void
on_read(void *arg, struct evbuffer *in)
{
	struct end	*e = arg;
	size_t		 n = evbuffer_get_length(in);

	if (e->keep)
		return;
	if (n > sizeof(e->got) - 1 - e->ngot)
		n = sizeof(e->got) - 1 - e->ngot;
	evbuffer_remove(in, e->got + e->ngot, n);
	e->ngot += n;
	e->got[e->ngot] = '\0';
}

static void
on_event(void *arg, enum io_event ev)
{
	struct end	*e = arg;

	switch (ev) {
	case IO_EV_TLS_READY:
		e->ready = 1;
		break;
	case IO_EV_ERROR:
		e->error = 1;
		break;
	case IO_EV_EOF:
		e->eof = 1;
		break;
	case IO_EV_FLUSHED:
		e->flushed = 1;
		break;
	default:
		break;
	}
}

static const struct io_cb	cb = { on_read, on_event };

#define RUN_UNTIL(cond)	T_RUN_UNTIL(base, cond)

static SSL_CTX *
server_ctx(void)
{
	EVP_PKEY	*pk;
	X509		*x;
	SSL_CTX		*ctx;

	pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	x = X509_new();
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, pk);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
	    MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_sign(x, pk, EVP_sha256());
	ctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX_use_certificate(ctx, x);
	SSL_CTX_use_PrivateKey(ctx, pk);
	X509_free(x);
	EVP_PKEY_free(pk);
	return ctx;
}

static void
pair(struct end *a, struct end *b)
{
	int	 fd[2];

	memset(a, 0, sizeof(*a));
	memset(b, 0, sizeof(*b));
	socketpair(AF_UNIX, SOCK_STREAM, 0, fd);
	a->io = io_new(base, fd[0], &cb, a);
	b->io = io_new(base, fd[1], &cb, b);
}

int
main(void)
{
	SSL_CTX		*sctx, *cctx;
	struct end	 srv, cli;
	size_t		 dropped = 99, cdropped = 99;
	int		 fd[2];

	base = event_base_new();
	sctx = server_ctx();
	cctx = SSL_CTX_new(TLS_client_method());
	T_OK(base != NULL && sctx != NULL && cctx != NULL, "setup");

	/* STARTTLS with a command pipelined behind it in plaintext. */
	pair(&srv, &cli);
	io_write(cli.io, "STARTTLS\r\nRSET\r\n", 16);
	RUN_UNTIL(srv.ngot >= 10);
	T_OK(srv.ngot >= 10 && memcmp(srv.got, "STARTTLS\r\n", 10) == 0,
	    "plaintext command arrives");
	/* The session consumed one line; the rest must not survive. */
	evbuffer_drain(io_input(srv.io), evbuffer_get_length(
	    io_input(srv.io)));
	io_write(srv.io, "220 go\r\n", 8);
	RUN_UNTIL(cli.ngot >= 8);
	T_OK(io_start_tls(srv.io, SSL_new(sctx), IO_TLS_ACCEPT,
	    &dropped) == 0, "server starts TLS");
	T_EQ_INT(dropped, 0, "nothing left to drop after the line");
	T_OK(io_start_tls(cli.io, SSL_new(cctx), IO_TLS_CONNECT,
	    &cdropped) == 0, "client starts TLS");
	RUN_UNTIL(srv.ready && cli.ready);
	T_OK(srv.ready && cli.ready, "both handshakes finish");
	T_OK(io_tls(srv.io) != NULL && io_tls(cli.io) != NULL, "io_tls set");
	srv.ngot = cli.ngot = 0;
	io_write(cli.io, "EHLO x\r\n", 8);
	RUN_UNTIL(srv.ngot >= 8);
	T_EQ_MEM(srv.got, srv.ngot, "EHLO x\r\n", 8, "client to server");
	io_write(srv.io, "221 bye\r\n", 9);
	io_close_after_flush(srv.io);
	RUN_UNTIL(srv.flushed && cli.ngot >= 9);
	T_OK(srv.flushed, "close after flush reports FLUSHED");
	io_free(srv.io);
	RUN_UNTIL(cli.ngot >= 9 && (cli.eof || cli.error));
	T_EQ_MEM(cli.got, cli.ngot, "221 bye\r\n", 9,
	    "the last reply survives the close");
	T_OK(cli.eof || cli.error, "client sees the end");
	io_free(cli.io);

	/* Plaintext buffered when TLS starts is counted and dropped. */
	pair(&srv, &cli);
	srv.keep = 1;
	io_write(cli.io, "RSET\r\nMAIL FROM:<a@b>\r\n", 23);
	RUN_UNTIL(io_input_pending(srv.io) >= 23);
	T_OK(io_start_tls(srv.io, SSL_new(sctx), IO_TLS_ACCEPT,
	    &dropped) == 0, "start with pending input");
	T_EQ_INT(dropped, 23, "pipelined plaintext discarded");
	T_EQ_INT(io_input_pending(srv.io), 0, "and not readable");
	io_free(srv.io);
	io_free(cli.io);

	/* Implicit TLS behind a PROXY header: the ClientHello was already
	 * read into the buffer; it is the handshake, not plaintext. */
	pair(&srv, &cli);
	srv.keep = 1;
	T_OK(io_start_tls(cli.io, SSL_new(cctx), IO_TLS_CONNECT,
	    &cdropped) == 0, "client sends its hello first");
	RUN_UNTIL(io_input_pending(srv.io) > 0);
	T_OK(io_input_pending(srv.io) > 0, "hello buffered before TLS");
	srv.keep = 0;
	T_OK(io_start_tls(srv.io, SSL_new(sctx), IO_TLS_ACCEPT_BUFFERED,
	    &dropped) == 0, "server starts TLS on buffered bytes");
	T_EQ_INT(dropped, 0, "nothing discarded");
	RUN_UNTIL(srv.ready && cli.ready);
	T_OK(srv.ready && cli.ready, "the handshake completes");
	io_free(srv.io);
	io_free(cli.io);

	/* A peer that answers the handshake with cleartext garbage. */
	memset(&srv, 0, sizeof(srv));
	socketpair(AF_UNIX, SOCK_STREAM, 0, fd);
	srv.io = io_new(base, fd[0], &cb, &srv);
	T_OK(io_start_tls(srv.io, SSL_new(sctx), IO_TLS_ACCEPT,
	    &dropped) == 0, "server waits for a ClientHello");
	T_OK(write(fd[1], "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n", 32) == 32,
	    "garbage written");
	RUN_UNTIL(srv.error || srv.eof);
	T_OK(srv.error && !srv.ready, "garbage is a TLS error");
	T_OK(io_tls_error(srv.io)[0] != '\0', "with a reason: %s",
	    io_tls_error(srv.io));
	T_EQ_INT(srv.ngot, 0, "nothing delivered as input");
	io_free(srv.io);
	close(fd[1]);

	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	event_base_free(base);
	return t_done();
}
