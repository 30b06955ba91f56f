/*
 * dnsfile — DKIM key records from a file instead of DNS, for
 * `signetctl verify --dns-file` and the conformance corpora.
 *
 * One record per line: "<owner-name> <TXT value>".  Blank lines and
 * lines starting with '#' are skipped.  The value NXDOMAIN means no such
 * name; "~~text~~" means a DNS failure (timeout, SERVFAIL); a value that
 * starts with '"' is a zone-file list of quoted strings, joined; anything
 * else is the TXT value as written, trailing whitespace removed.  The
 * zone-file records signetctl prints are accepted as they are:
 * "<owner> [TTL] [IN] TXT ( "..." "..." )" on one line.  Names
 * compare case-insensitively, a trailing dot ignored; a name not in the
 * file is NXDOMAIN.  Formats: conformance/{rfc8463/dns.txt,
 * rfc6376/appendix-c-dns.txt, mail-dkim-corpus/FAKE_DNS.dat} and the DNS
 * block of mail-auth-resources files.
 */
#ifndef SIGNET_DNSFILE_H
#define SIGNET_DNSFILE_H

#include <stddef.h>
#include <stdint.h>

#include "proxy/msg/verify.h"

#define DNSFILE_SIZE_MAX	(4 * 1024 * 1024)	/* whole file */
#define DNSFILE_RECORDS_MAX	10000

struct dnsfile;

/* err gets "LINE: message" (or the system error) on failure. */
struct dnsfile	*dnsfile_parse(const uint8_t *, size_t, char *err,
		    size_t errlen);
struct dnsfile	*dnsfile_load(const char *path, char *err, size_t errlen);
void		 dnsfile_free(struct dnsfile *);
/* The answer for name; *txt points into the dnsfile when VERIFY_DNS_OK. */
enum verify_dns	 dnsfile_lookup(const struct dnsfile *, const uint8_t *name,
		    size_t len, const uint8_t **txt, size_t *txtlen);

#endif
