/*
 * session — the client-facing SMTP state machine (RFC 5321, RFC 2920,
 * hostile-inputs.md sections A, B, D, G, H).
 *
 * One session per accepted connection, owned by the worker whose event
 * base runs it.  The session frees itself when the connection ends and
 * then calls on_end exactly once.
 */
#ifndef SIGNET_SESSION_H
#define SIGNET_SESSION_H

#include <sys/socket.h>

struct event_base;
struct session;

struct session_owner {
	/* Called once, after the session is gone. */
	void	(*on_end)(void *arg, void *tag);
	/*
	 * A PROXY header named the real client (may be NULL): count the
	 * connection under that address from now on; -1 if that address
	 * is over its connection cap (the session then closes with 421).
	 */
	int	(*on_client)(void *arg, void *tag,
		    const struct sockaddr_storage *);
	void	*arg;
};

/* Takes ownership of fd.  NULL on failure (fd closed). */
struct session	*session_new(struct event_base *, int fd,
		    const struct session_owner *, void *tag);
/*
 * Shutdown: a session without an open transaction says 421 and closes;
 * one in a transaction finishes it (the client hears the upstream's
 * final reply), then says 421 and closes.
 */
void		 session_drain(struct session *);
/* The drain timeout passed: 421 now and close, whatever the state. */
void		 session_abort(struct session *);

#endif
