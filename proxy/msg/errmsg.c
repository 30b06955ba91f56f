/*
 * errmsg — one-line error messages into a caller's buffer (errmsg.h).
 * Callers pass err = NULL when they do not want the text.
 */
#include <stdarg.h>
#include <stdio.h>

#include "proxy/msg/errmsg.h"

void
errmsg_set(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
