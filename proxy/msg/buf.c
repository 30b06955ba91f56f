/*
 * buf — growable byte buffer with a hard limit.
 *
 * Invariants: len <= cap, len <= limit, data is NULL only when cap is 0.
 * Growth doubles capacity (checked) and never exceeds limit + 1 (the +1
 * leaves room for buf_cstr's terminator).  On failure the buffer is
 * unchanged, so callers can report and carry on.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proxy/msg/buf.h"

struct buf {
	uint8_t	*data;
	size_t	 len;
	size_t	 cap;
	size_t	 limit;
};

struct buf *
buf_new(size_t limit)
{
	struct buf	*b;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	b->limit = limit == 0 ? SIZE_MAX / 2 : limit;
	return b;
}

void
buf_free(struct buf *b)
{
	if (b == NULL)
		return;
	free(b->data);
	free(b);
}

void
buf_free_wipe(struct buf *b)
{
	if (b == NULL)
		return;
	if (b->data != NULL)
		sodium_memzero(b->data, b->cap);
	buf_free(b);
}

/* Make room for n more bytes plus a terminator. */
static int
buf_reserve(struct buf *b, size_t n)
{
	size_t	 need, ncap;
	uint8_t	*p;

	if (n > b->limit - b->len) {
		errno = EMSGSIZE;
		return -1;
	}
	need = b->len + n + 1;
	if (need <= b->cap)
		return 0;
	ncap = b->cap < 64 ? 64 : b->cap;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	if (ncap > b->limit + 1)
		ncap = b->limit + 1;
	if ((p = realloc(b->data, ncap)) == NULL)
		return -1;
	b->data = p;
	b->cap = ncap;
	return 0;
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (buf_reserve(b, n) == -1)
		return -1;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int
buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int
buf_append_byte(struct buf *b, uint8_t c)
{
	return buf_append(b, &c, 1);
}

int
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list	 ap2;
	int	 n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return -1;
	if (buf_reserve(b, (size_t)n) == -1)
		return -1;
	if (vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap) != n)
		return -1;
	b->len += (size_t)n;
	return 0;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list	 ap;
	int	 r;

	va_start(ap, fmt);
	r = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

int
buf_append_escaped(struct buf *b, const void *p, size_t n, size_t max)
{
	static const char	 hex[] = "0123456789abcdef";
	const uint8_t		*s = p;
	size_t			 i, take;
	uint8_t			 esc[4];

	take = n > max ? max : n;
	for (i = 0; i < take; i++) {
		if (s[i] == '\\' || s[i] == '"') {
			esc[0] = '\\';
			esc[1] = s[i];
			if (buf_append(b, esc, 2) == -1)
				return -1;
		} else if (s[i] >= 0x20 && s[i] < 0x7f) {
			if (buf_append_byte(b, s[i]) == -1)
				return -1;
		} else {
			esc[0] = '\\';
			esc[1] = 'x';
			esc[2] = hex[s[i] >> 4];
			esc[3] = hex[s[i] & 0xf];
			if (buf_append(b, esc, 4) == -1)
				return -1;
		}
	}
	if (take < n && buf_append(b, "...", 3) == -1)
		return -1;
	return 0;
}

const uint8_t *
buf_data(const struct buf *b)
{
	return b->data;
}

size_t
buf_len(const struct buf *b)
{
	return b->len;
}

size_t
buf_limit(const struct buf *b)
{
	return b->limit;
}

const char *
buf_cstr(struct buf *b)
{
	if (b->data == NULL || b->len + 1 > b->cap) {
		if (buf_reserve(b, 0) == -1)
			return NULL;
	}
	b->data[b->len] = '\0';
	return (const char *)b->data;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
}

void
buf_truncate(struct buf *b, size_t n)
{
	if (n > b->len)
		abort();
	b->len = n;
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n > b->len)
		abort();
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

uint8_t *
buf_steal(struct buf *b, size_t *lenp)
{
	uint8_t	*p;

	if (buf_cstr(b) == NULL)
		return NULL;
	p = b->data;
	*lenp = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}
