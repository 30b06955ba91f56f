/*
 * t.h — the unit-test harness: TAP output ("ok N - name" / "not ok N -
 * name") read by tests/run.py.  Tests are tables of cases; each case is
 * one T_OK/T_EQ line so a failure names the case.
 */
#ifndef SIGNET_T_H
#define SIGNET_T_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int	t_count;
static int	t_failed;

__attribute__((format(printf, 4, 5), unused)) static int
t_ok(int ok, const char *file, int line, const char *fmt, ...)
{
	va_list	ap;

	t_count++;
	printf("%sok %d - ", ok ? "" : "not ", t_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!ok) {
		t_failed++;
		printf("#   at %s:%d\n", file, line);
	}
	fflush(stdout);
	return ok;
}

/* Print a byte string escaped, as a TAP diagnostic. */
__attribute__((unused)) static void
t_diag_bytes(const char *what, const void *p, size_t n)
{
	const unsigned char	*s = p;
	size_t			 i;

	printf("#   %s (%zu): \"", what, n);
	for (i = 0; i < n && i < 400; i++) {
		if (s[i] == '\r')
			printf("\\r");
		else if (s[i] == '\n')
			printf("\\n");
		else if (s[i] == '\t')
			printf("\\t");
		else if (s[i] < 0x20 || s[i] >= 0x7f)
			printf("\\x%02x", s[i]);
		else
			putchar(s[i]);
	}
	printf("%s\"\n", i < n ? "..." : "");
}

__attribute__((unused)) static int
t_eq_mem(const void *got, size_t gotlen, const void *want, size_t wantlen,
    const char *file, int line, const char *name)
{
	int	ok;

	ok = gotlen == wantlen && (gotlen == 0 || memcmp(got, want, gotlen) == 0);
	t_ok(ok, file, line, "%s", name);
	if (!ok) {
		t_diag_bytes("got ", got, gotlen);
		t_diag_bytes("want", want, wantlen);
	}
	return ok;
}

__attribute__((unused)) static int
t_eq_int(long long got, long long want, const char *file, int line,
    const char *name)
{
	return t_ok(got == want, file, line, "%s (got %lld, want %lld)", name,
	    got, want);
}

#define T_OK(c, ...)	t_ok(!!(c), __FILE__, __LINE__, __VA_ARGS__)
#define T_EQ_MEM(g, gl, w, wl, name) \
	t_eq_mem((g), (gl), (w), (wl), __FILE__, __LINE__, (name))
#define T_EQ_STR(g, w, name) \
	t_eq_mem((g), strlen(g), (w), strlen(w), __FILE__, __LINE__, (name))
/* Each argument is evaluated once: g may be the call under test. */
#define T_EQ_INT(g, w, name) \
	t_eq_int((long long)(g), (long long)(w), __FILE__, __LINE__, (name))

/* Directory holding ../shared (conformance data), from the environment. */
__attribute__((unused)) static const char *
t_shared(void)
{
	const char	*s = getenv("SIGNET_SHARED");

	return s != NULL ? s : "../shared";
}

/* Read a whole file into malloc'd memory; aborts the test on failure. */
__attribute__((unused)) static char *
t_read_file(const char *path, size_t *lenp)
{
	FILE	*f;
	char	*p;
	long	 n;

	if ((f = fopen(path, "rb")) == NULL) {
		printf("Bail out! cannot open %s\n", path);
		exit(1);
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc((size_t)n + 1);
	if (p == NULL || fread(p, 1, (size_t)n, f) != (size_t)n) {
		printf("Bail out! cannot read %s\n", path);
		exit(1);
	}
	p[n] = '\0';
	fclose(f);
	*lenp = (size_t)n;
	return p;
}

__attribute__((unused)) static int
t_done(void)
{
	printf("1..%d\n", t_count);
	return t_failed == 0 ? 0 : 1;
}

#endif
