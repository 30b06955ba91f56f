/*
 * log: one line per event, untrusted values escaped and cut (RS-04),
 * level filtering, and whole lines under concurrent writers.  stderr is
 * redirected to a temp file and read back.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxy/log.h"
#include "tests/unit/t.h"

#define THREADS		4
#define PER_THREAD	200

static FILE	*capture;
static int	 saved_stderr;

static void
capture_start(void)
{
	fflush(stderr);
	saved_stderr = dup(2);
	capture = tmpfile();
	dup2(fileno(capture), 2);
}

/* Stop capturing; returns the captured text (malloc'd). */
static char *
capture_end(size_t *len)
{
	char	*s;
	long	 n;

	dup2(saved_stderr, 2);
	close(saved_stderr);
	n = ftell(capture);
	if (n < 0)
		n = 0;
	s = calloc(1, (size_t)n + 1);
	rewind(capture);
	*len = fread(s, 1, (size_t)n, capture);
	fclose(capture);
	return s;
}

static void *
writer(void *arg)
{
	char	 sid[16];
	int	 i;

	snprintf(sid, sizeof(sid), "t%ld", (long)(size_t)arg);
	for (i = 0; i < PER_THREAD; i++)
		log_event(LOG_INFO, sid, "tick", "n=%d pad=%s", i,
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	return NULL;
}

int
main(void)
{
	static const struct {
		const char	*name;
		const char	*value;
		size_t		 len;
		const char	*want;
	} cases[] = {
		{ "plain", "client.test", 11, "v=\"client.test\"" },
		{ "format_chars", "a%n%s", 5, "v=\"a%n%s\"" },
		{ "esc_cr_lf", "a\x1b[31m\r\nb", 9, "v=\"a\\x1b[31m\\x0d\\x0ab\"" },
		{ "quote_backslash", "q\"\\", 3, "v=\"q\\\"\\\\\"" },
		{ "nul", "a\0b", 3, "v=\"a\\x00b\"" },
		{ "eight_bit", "\xc3\xa9", 2, "v=\"\\xc3\\xa9\"" },
	};
	struct log_line	*l;
	pthread_t	 th[THREADS];
	char		*out, *p, *line, big[600], want[LOG_FIELD_MAX + 16];
	size_t		 len, i, nlines, bad;
	long		 t;

	log_init("t", 1, LOG_INFO);

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		capture_start();
		l = log_begin(LOG_INFO, "sid1", "test");
		log_kv_esc(l, "v", cases[i].value, cases[i].len);
		log_end(l);
		out = capture_end(&len);
		T_OK(strstr(out, " sid=sid1 event=test ") != NULL,
		    "%s: session id first", cases[i].name);
		T_OK(strstr(out, cases[i].want) != NULL, "%s: escaped",
		    cases[i].name);
		T_OK(len > 0 && out[len - 1] == '\n' &&
		    strchr(out, '\n') == out + len - 1 &&
		    strchr(out, '\r') == NULL && strchr(out, '\x1b') == NULL,
		    "%s: one line, no raw CR or ESC", cases[i].name);
		free(out);
	}

	/* A long value is cut to LOG_FIELD_MAX octets and marked. */
	memset(big, 'a', sizeof(big));
	capture_start();
	l = log_begin(LOG_WARNING, NULL, "long");
	log_kv_esc(l, "v", big, sizeof(big));
	log_end(l);
	out = capture_end(&len);
	memset(want, 0, sizeof(want));
	want[0] = 'v';
	want[1] = '=';
	want[2] = '"';
	memset(want + 3, 'a', LOG_FIELD_MAX);
	memcpy(want + 3 + LOG_FIELD_MAX, "...\"", 4);
	T_OK(strstr(out, want) != NULL, "long value cut to LOG_FIELD_MAX");
	T_OK(strstr(out, "sid=- event=long") != NULL, "no sid prints sid=-");
	free(out);

	/* Levels: below the threshold nothing is written. */
	capture_start();
	log_event(LOG_DEBUG, "s", "hidden", "x=%d", 1);
	log_set_level(LOG_DEBUG);
	log_event(LOG_DEBUG, "s", "shown", "x=%d", 2);
	log_set_level(LOG_INFO);
	out = capture_end(&len);
	T_OK(strstr(out, "hidden") == NULL, "debug filtered at info");
	T_OK(strstr(out, "event=shown x=2") != NULL, "debug shown at debug");
	free(out);

	/* Concurrent writers: every line whole. */
	capture_start();
	for (t = 0; t < THREADS; t++)
		pthread_create(&th[t], NULL, writer, (void *)(size_t)t);
	for (t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	out = capture_end(&len);
	nlines = bad = 0;
	for (line = out; (p = strchr(line, '\n')) != NULL; line = p + 1) {
		*p = '\0';
		nlines++;
		if (strstr(line, " event=tick n=") == NULL ||
		    strstr(line, "sid=t") == NULL ||
		    strstr(line, "xxxxxxxxxx") == NULL)
			bad++;
	}
	T_EQ_INT(nlines, THREADS * PER_THREAD, "every concurrent line written");
	T_EQ_INT(bad, 0, "no interleaved lines");
	free(out);

	/* NULL lines (filtered or out of memory) are harmless. */
	log_kv(NULL, "k", "%d", 1);
	log_kv_esc(NULL, "k", "x", 1);
	log_end(NULL);
	T_OK(1, "NULL log_line accepted");
	return t_done();
}
