/*
 * dnslookup — key records for signetctl's verify and sign --arc: from a
 * --dns-file (dnsfile.h format) or from live DNS through libldns and the
 * system resolver (/etc/resolv.conf).
 */
#ifndef SIGNET_DNSLOOKUP_H
#define SIGNET_DNSLOOKUP_H

#include <stddef.h>
#include <stdint.h>

#include "proxy/msg/verify.h"

struct buf;
struct dnslookup;

/*
 * From the file at dnsfile, or live DNS when it is NULL.  NULL on
 * failure, said on stderr as "cmd: ...".  Without a usable resolver
 * every live lookup answers VERIFY_DNS_ERROR.
 */
struct dnslookup *dnslookup_open(const char *cmd, const char *dnsfile);
void		 dnslookup_close(struct dnslookup *);
/*
 * The TXT record at name, its strings joined, in *txt and *len; they
 * stay valid until the next lookup or dnslookup_close.
 */
enum verify_dns	 dnslookup_txt(struct dnslookup *, struct buf *name,
		    const uint8_t **txt, size_t *len);

#endif
