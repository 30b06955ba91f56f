/*
 * log — one line per event: "sid=... event=... key=value ...".
 *
 * Lines go to stderr (foreground) or syslog.  Only literal formats reach
 * printf-style calls; anything that came from a client, an upstream or a
 * message goes through log_kv_esc(), which escapes and cuts it (RS-04).
 * Levels are syslog's (LOG_ERR, LOG_WARNING, LOG_INFO, ...).
 */
#ifndef SIGNET_LOG_H
#define SIGNET_LOG_H

#include <stddef.h>
#include <syslog.h>

#define LOG_FIELD_MAX	200	/* untrusted octets kept per field (RS-04) */

struct log_line;

/* to_stderr: 1 for foreground/tests, 0 for syslog (facility mail). */
void		 log_init(const char *ident, int to_stderr, int min_level);
void		 log_set_level(int min_level);

/* sid may be NULL for process-wide events (printed as sid=-). */
struct log_line	*log_begin(int level, const char *sid, const char *event);
/* A trusted value (numbers, our own tokens). */
void		 log_kv(struct log_line *, const char *key, const char *fmt,
		    ...) __attribute__((format(printf, 3, 4)));
/* An untrusted value: quoted, escaped, cut to LOG_FIELD_MAX. */
void		 log_kv_esc(struct log_line *, const char *key, const void *,
		    size_t);
/* Write the line and free it.  Safe from several threads. */
void		 log_end(struct log_line *);

/* Shorthand for an event with no untrusted fields. */
void		 log_event(int level, const char *sid, const char *event,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
