/*
 * errmsg — the one-line error messages that library calls hand back in a
 * caller's (char *err, size_t errlen) pair.
 */
#ifndef SIGNET_ERRMSG_H
#define SIGNET_ERRMSG_H

#include <stddef.h>

/* Format into err (truncated to errlen); a NULL or empty err is fine. */
void	errmsg_set(char *err, size_t errlen, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

#endif
