/*
 * selfcheck — signetd's periodic DNS self-check (hostile-inputs KY-03;
 * the same comparison as `signetctl check`, DESIGN.md "Metrics").
 *
 * Every rotation.self_check seconds (0: off) a thread of its own takes
 * the serving snapshot and, for each key in its signing set, asks every
 * authoritative server (rotation.dns.authoritative, else the zone's NS
 * set) with keys/dnscheck whether the selector's TXT record is exactly
 * that key's record.  The result goes to signet_dns_match{domain,
 * selector} (1 or 0); every server that does not show it is logged as an
 * error, and each round logs the store generation it checked.  DNS waits
 * happen on that thread only, never on a worker or the main event loop.
 */
#ifndef SIGNET_SELFCHECK_H
#define SIGNET_SELFCHECK_H

struct selfcheck;

/*
 * Start the thread (every signal blocked in it).  It reads the interval
 * from the current snapshot each time it wakes, so a reload that turns
 * the check on or off takes effect without a restart.  NULL on failure.
 */
struct selfcheck	*selfcheck_start(void);
/* Stop and join; a round in progress ends after its current key.
 * NULL is a no-op. */
void			 selfcheck_stop(struct selfcheck *);

#endif
