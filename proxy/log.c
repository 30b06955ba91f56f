/*
 * log — one key=value line per event, to stderr or syslog.
 *
 * A line is built in a private buffer (struct log_line) and written with
 * one write(2) under a mutex, so lines from several worker threads never
 * interleave.  Untrusted values pass through buf_append_escaped(), which
 * turns every non-printable octet, quote and backslash into an escape and
 * cuts the value at LOG_FIELD_MAX input octets (RS-04); a line therefore
 * never contains a raw CR, LF or ESC.  Formats are always literals
 * (checked by -Wformat-security).  A failed allocation loses the line,
 * never the process.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "proxy/log.h"
#include "proxy/msg/buf.h"

/* A line longer than this is cut: keeps one event from flooding the log. */
#define LOG_LINE_MAX	8192

struct log_line {
	struct buf	*b;
	int		 level;
};

static pthread_mutex_t	 log_mtx = PTHREAD_MUTEX_INITIALIZER;
static int		 log_stderr = 1;
static int		 log_min = LOG_INFO;
static char		 log_ident[32] = "signet";

static const char *
log_level_name(int level)
{
	switch (level) {
	case LOG_EMERG:
	case LOG_ALERT:
	case LOG_CRIT:
		return "crit";
	case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warn";
	case LOG_NOTICE:
		return "notice";
	case LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

void
log_init(const char *ident, int to_stderr, int min_level)
{
	pthread_mutex_lock(&log_mtx);
	snprintf(log_ident, sizeof(log_ident), "%s", ident);
	log_stderr = to_stderr;
	log_min = min_level;
	pthread_mutex_unlock(&log_mtx);
	if (!to_stderr)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void
log_set_level(int min_level)
{
	pthread_mutex_lock(&log_mtx);
	log_min = min_level;
	pthread_mutex_unlock(&log_mtx);
}

static int
log_enabled(int level)
{
	int	 on;

	pthread_mutex_lock(&log_mtx);
	on = level <= log_min;
	pthread_mutex_unlock(&log_mtx);
	return on;
}

struct log_line *
log_begin(int level, const char *sid, const char *event)
{
	struct log_line	*l;

	if (!log_enabled(level))
		return NULL;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	if ((l->b = buf_new(LOG_LINE_MAX)) == NULL) {
		free(l);
		return NULL;
	}
	l->level = level;
	/* sid and event are our own tokens, but escaping costs nothing. */
	buf_append_str(l->b, "sid=");
	if (sid == NULL)
		buf_append_byte(l->b, '-');
	else
		buf_append_escaped(l->b, sid, strlen(sid), LOG_FIELD_MAX);
	buf_append_str(l->b, " event=");
	buf_append_escaped(l->b, event, strlen(event), LOG_FIELD_MAX);
	return l;
}

void
log_kv(struct log_line *l, const char *key, const char *fmt, ...)
{
	va_list	 ap;

	if (l == NULL)
		return;
	if (buf_printf(l->b, " %s=", key) == -1)
		return;
	va_start(ap, fmt);
	buf_vprintf(l->b, fmt, ap);
	va_end(ap);
}

void
log_kv_esc(struct log_line *l, const char *key, const void *p, size_t n)
{
	if (l == NULL)
		return;
	if (buf_printf(l->b, " %s=\"", key) == -1)
		return;
	buf_append_escaped(l->b, p, n, LOG_FIELD_MAX);
	buf_append_byte(l->b, '"');
}

static void
log_write_all(int fd, const char *p, size_t n)
{
	ssize_t	 w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

void
log_end(struct log_line *l)
{
	struct buf	*out = NULL;
	struct timespec	 ts;
	struct tm	 tm;
	const char	*line;

	if (l == NULL)
		return;
	if ((line = buf_cstr(l->b)) == NULL)
		goto done;
	if (!log_stderr) {
		syslog(l->level, "%s", line);
		goto done;
	}
	if ((out = buf_new(LOG_LINE_MAX + 128)) == NULL)
		goto done;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	pthread_mutex_lock(&log_mtx);
	buf_printf(out, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%ld] %s: ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, log_ident,
	    (long)getpid(), log_level_name(l->level));
	buf_append(out, buf_data(l->b), buf_len(l->b));
	buf_append_byte(out, '\n');
	log_write_all(STDERR_FILENO, (const char *)buf_data(out),
	    buf_len(out));
	pthread_mutex_unlock(&log_mtx);
done:
	buf_free(out);
	buf_free(l->b);
	free(l);
}

void
log_event(int level, const char *sid, const char *event, const char *fmt,
    ...)
{
	struct log_line	*l;
	va_list		 ap;

	if ((l = log_begin(level, sid, event)) == NULL)
		return;
	if (fmt != NULL && fmt[0] != '\0') {
		buf_append_byte(l->b, ' ');
		va_start(ap, fmt);
		buf_vprintf(l->b, fmt, ap);
		va_end(ap);
	}
	log_end(l);
}
