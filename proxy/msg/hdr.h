/*
 * hdr — RFC 5322 header section: strict splitting into fields, unfolding
 * aware accessors, and the edits a submission agent makes before signing.
 *
 * Input is the header section exactly as received (every line ends CRLF),
 * without the empty line that ends it.  Fields keep their raw bytes, so
 * what is hashed is what is sent.  The list owns copies of its bytes.
 */
#ifndef SIGNET_HDR_H
#define SIGNET_HDR_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct hdr_list;

#define HDR_LINE_MAX	998		/* RFC 5322 2.1.1, octets w/o CRLF */
/* DK-10 defaults (design/hostile-inputs.md): one field as Postfix's
 * header_size_limit, the section, and the number of fields. */
#define HDR_FIELD_MAX	(100 * 1024)
#define HDR_SECTION_MAX	(1024 * 1024)
#define HDR_FIELDS_MAX	1000

enum hdr_err {
	HDR_OK = 0,
	HDR_ERR_SYNTAX,		/* no colon, bad field-name, leading WSP */
	HDR_ERR_WSP_LINE,	/* whitespace-only continuation line (DK-09) */
	HDR_ERR_NUL,		/* NUL octet */
	HDR_ERR_CTRL,		/* C0 control other than TAB, or DEL */
	HDR_ERR_BARE_CR_LF,	/* CR not followed by LF, or LF w/o CR */
	HDR_ERR_FIELD_SIZE,	/* one field over the field limit */
	HDR_ERR_SECTION_SIZE,	/* section over the section limit */
	HDR_ERR_TOO_MANY,	/* more fields than the field-count limit */
	HDR_ERR_NOMEM
};

struct hdr_limits {
	size_t	field_max;	/* 0: HDR_FIELD_MAX */
	size_t	section_max;	/* 0: HDR_SECTION_MAX */
	size_t	fields_max;	/* 0: HDR_FIELDS_MAX */
};

/*
 * Parse; on error *out is NULL and *erroff (if not NULL) is the offset of
 * the offending byte.  Every line must end CRLF; an empty input is an
 * empty list.  A field's size counts all its octets, folding and final
 * CRLF included.  Lines over HDR_LINE_MAX are not an error here: see
 * hdr_longest_line() and hdr_refold().  8-bit octets are accepted.
 */
enum hdr_err	 hdr_parse(const uint8_t *, size_t, const struct hdr_limits *,
		    struct hdr_list **out, size_t *erroff);
const char	*hdr_strerror(enum hdr_err);
struct hdr_list	*hdr_new(void);
void		 hdr_free(struct hdr_list *);

size_t		 hdr_count(const struct hdr_list *);
/* Field i as received: name, colon, value, folding, final CRLF. */
const uint8_t	*hdr_raw(const struct hdr_list *, size_t i, size_t *len);
/* The field name (no WSP before the colon is kept in it). */
const uint8_t	*hdr_name(const struct hdr_list *, size_t i, size_t *len);
/* Everything after the colon up to, not including, the final CRLF. */
const uint8_t	*hdr_value(const struct hdr_list *, size_t i, size_t *len);
/* Case-insensitive comparison of field i's name with name. */
int		 hdr_name_is(const struct hdr_list *, size_t i, const char *);
size_t		 hdr_count_name(const struct hdr_list *, const char *);
/* Index of the first field with that name, or -1. */
long		 hdr_find(const struct hdr_list *, const char *);
/* Index of the n-th field with that name counting from the bottom (n = 0
 * is the last), or -1: the order in which DKIM h= consumes instances. */
long		 hdr_find_from_bottom(const struct hdr_list *, const char *,
		    size_t n);
/* Longest physical line of field i, in octets without CRLF. */
size_t		 hdr_longest_line(const struct hdr_list *, size_t i);
/* Any octet >= 0x80 anywhere in the section. */
int		 hdr_has_8bit(const struct hdr_list *);
/* 1 if every octet >= 0x80 in the fields is part of well-formed UTF-8
 * (RFC 3629: shortest form, no surrogates, at most U+10FFFF); DK-13. */
int		 hdr_utf8_valid(const struct hdr_list *);
/* 1 if a field has WSP between its name and the colon (RFC 5322 4.5.8
 * obsolete syntax: parsed for canonicalization, refused on submission). */
int		 hdr_has_wsp_before_colon(const struct hdr_list *);

/* Insert a raw field (must end CRLF and parse as one field) before index
 * pos (pos == count appends).  Returns 0 or -1. */
int		 hdr_insert(struct hdr_list *, size_t pos, const void *,
		    size_t);
int		 hdr_remove(struct hdr_list *, size_t i);
/*
 * Refold field i so no line exceeds max octets, breaking only before
 * existing whitespace (invisible to relaxed canonicalization and to
 * readers).  A break needs a non-WSP octet of the value before it and one
 * after it on the same line, so no line becomes empty or whitespace-only
 * and the name and colon stay together.  -1, field unchanged, when a line
 * has no such fold point within max octets.
 */
int		 hdr_refold(struct hdr_list *, size_t i, size_t max);
/* All fields, in order, as raw bytes. */
int		 hdr_serialize(const struct hdr_list *, struct buf *);

#endif
