/*
 * publish — make one DNS name hold exactly one TXT record (or none),
 * through one of three backends (rotation.md §d):
 *
 *   rfc2136   one TSIG-signed UPDATE per transition to the primary:
 *             a value-dependent prerequisite (RFC 2136 2.4.2, or 2.4.3
 *             when the name held nothing), delete the TXT RRset, add
 *             the new record; the server applies it atomically (3.7).
 *   zonefile  the whole zone (or a fragment) rendered from our own list
 *             of records, the serial raised and persisted first, then
 *             the operator's reload command.
 *   exec      `HOOK publish|withdraw|status` with JSON on stdin, for
 *             provider APIs; exit 0 done, 75 retry, anything else
 *             permanent.  The hook inherits our environment (its own
 *             settings may come from there) and gets nothing secret.
 *
 * Every call means "make it so": repeating it after a crash, a lost
 * reply or a success is harmless.  Backends only ever see public data.
 * A result of PUBLISH_DONE means the backend accepted the change; only
 * dnscheck decides that the record is visible.
 *
 * Callers serialize calls on one zone (signetctl rotate holds the key
 * store's flock); the zonefile backend also locks its directory.
 */
#ifndef SIGNET_KEYS_PUBLISH_H
#define SIGNET_KEYS_PUBLISH_H

#include <stddef.h>
#include <stdint.h>

struct buf;

/* RFC 1035 3.3.14: a <character-string> holds at most 255 octets. */
#define PUBLISH_STRING_MAX	255
/*
 * Our longest record: RSA-4096's p= is 736 characters (rotation.md §d);
 * 4 KiB leaves room for any tag list while keeping an UPDATE well under
 * the 64 KiB message limit (RFC 1035 4.2.2).
 */
#define PUBLISH_VALUE_MAX	4096
/* RFC 2181 8: TTLs are 31-bit; RFC 8767 caps stale answers at 7 days. */
#define PUBLISH_TTL_MAX		604800
/* RFC 8945 5.2.3: 300 s is the recommended fudge. */
#define PUBLISH_TSIG_FUDGE	300
/* Hook and reload command: how long they may take (certbot uses none). */
#define PUBLISH_EXEC_TIMEOUT_MS	120000
/* sysexits.h EX_TEMPFAIL: "try again later". */
#define PUBLISH_EXIT_RETRY	75
/* Records kept by the zonefile backend, and its state file's size. */
#define PUBLISH_ZONE_RECORDS_MAX 4096
#define PUBLISH_STATE_MAX	(8 * 1024 * 1024)
/* A TSIG secret file: a key statement at most, never megabytes. */
#define PUBLISH_SECRET_FILE_MAX	4096
/* The one token a zone template must hold, replaced by the serial. */
#define PUBLISH_SERIAL_TOKEN	"@SERIAL@"
#define PUBLISH_REASON_LEN	256
/* Hex digits of the desired-state id given to hooks. */
#define PUBLISH_STATE_ID_LEN	16

enum publish_backend {
	PUBLISH_RFC2136,
	PUBLISH_ZONEFILE,
	PUBLISH_EXEC,
};

/* hmac-sha384 is absent: libldns 1.8 misnames it and cannot sign. */
enum publish_tsig_alg {
	PUBLISH_TSIG_HMAC_SHA256,
	PUBLISH_TSIG_HMAC_SHA512,
};

struct publish_cfg {
	enum publish_backend	 backend;
	const char		*zone;
	/* rfc2136: the primary (an IP literal) and the TSIG key. */
	const char		*server_host;
	uint16_t		 server_port;	/* 0: 53 */
	const char		*tsig_name;	/* NULL: unsigned updates */
	enum publish_tsig_alg	 tsig_alg;
	/* base64, alone or in a Knot/BIND key statement; not world-readable */
	const char		*tsig_secret_file;
	int			 timeout_ms;	/* per attempt; 0: default */
	/* zonefile */
	const char		*zonefile;
	/* Text holding PUBLISH_SERIAL_TOKEN once; NULL: a fragment. */
	const char		*zonefile_template;
	const char		*reload_command;	/* /bin/sh -c; NULL */
	/* exec: absolute, root-owned, not group/world writable */
	const char		*hook;
	int			 exec_timeout_ms;	/* 0: default */
};

/* What the caller believes the name holds now (the CAS "compare"). */
enum publish_prev {
	PUBLISH_PREV_UNKNOWN,	/* read it from the primary first */
	PUBLISH_PREV_ABSENT,
	PUBLISH_PREV_VALUE,
};

/* The desired state of one name. */
struct publish_rec {
	const char		*fqdn;		/* no final dot */
	uint32_t		 ttl;
	const uint8_t		*value;		/* NULL: no TXT at the name */
	size_t			 len;
	enum publish_prev	 prev;
	const uint8_t		*prev_value;	/* when PUBLISH_PREV_VALUE */
	size_t			 prev_len;
};

enum publish_result {
	PUBLISH_DONE,
	PUBLISH_RETRY,		/* transient: try again later */
	PUBLISH_PERMANENT,	/* needs an operator: key, ACL, config */
};

struct publish_outcome {
	enum publish_result	result;
	/* The name held neither prev nor the desired record (drift). */
	int			drift;
	char			reason[PUBLISH_REASON_LEN];
};

struct publish;

/*
 * Check the configuration and read what it names (TSIG secret into
 * guarded memory, hook ownership and mode, zone template).  NULL with
 * err set on any problem.
 */
struct publish		*publish_new(const struct publish_cfg *, char *err,
			    size_t errlen);
void			 publish_free(struct publish *);
/* Make rec->fqdn hold exactly rec's record; out says how it went. */
enum publish_result	 publish_set(struct publish *,
			    const struct publish_rec *,
			    struct publish_outcome *);
/*
 * Ask the provider whether the change is applied: `HOOK status` for the
 * exec backend; the other backends have nothing to ask (DONE).
 */
enum publish_result	 publish_status(struct publish *,
			    const struct publish_rec *,
			    struct publish_outcome *);
const char		*publish_result_name(enum publish_result);

/* What one UPDATE reply means. */
enum publish_reply {
	PUBLISH_REPLY_DONE,
	PUBLISH_REPLY_RETRY,
	PUBLISH_REPLY_PERMANENT,
	PUBLISH_REPLY_RECONCILE,	/* prerequisite failed: read, compare */
};

/*
 * Classify an UPDATE reply by its RCODE and TSIG error (RFC 8945 5.3;
 * 0 when none).  REFUSED is permanent: RFC 2136 3.3 gives it for a
 * requestor the server's policy does not permit, which no retry changes
 * (BIND uses it for an update-policy denial; Knot 3.2 answers a signed
 * update its ACL denies with NOTAUTH and TSIG BADKEY, also permanent); a
 * server that cannot serve for now answers SERVFAIL.  BADTIME is a retry:
 * the clocks may be fixed (rotation.md §e).  reason gets one line.
 */
enum publish_reply	 publish_classify(int rcode, int tsig_error,
			    char *reason, size_t reasonlen);

/* TXT strings: at most 255 octets each; n octets need this many. */
size_t	publish_txt_nstrings(size_t len);
/* The record's RDATA: the value cut into length-prefixed strings. */
int	publish_txt_rdata(struct buf *, const uint8_t *, size_t);
/* Zone-file text: "s1" "s2" ... (RFC 1035 5.1 quoting, \DDD escapes). */
int	publish_txt_render(struct buf *, const uint8_t *, size_t);
/* One zone-file line: "fqdn. TTL IN TXT \"...\" \"...\"\n". */
int	publish_rr_render(struct buf *, const char *fqdn, uint32_t ttl,
	    const uint8_t *, size_t);
/*
 * A zone from the template (NULL: a fragment with no SOA) with the
 * serial substituted, followed by every record of recs sorted by name.
 * 0 ok, -1 bad template or record.
 */
int	publish_zone_render(struct buf *, const char *tmpl, size_t tmpllen,
	    uint32_t serial, const struct publish_rec *recs, size_t n);
/* The JSON a hook reads on stdin for action publish/withdraw/status. */
int	publish_hook_json(struct buf *, const char *action, const char *zone,
	    const struct publish_rec *);
/* The id of a desired state: PUBLISH_STATE_ID_LEN hex digits + NUL. */
int	publish_state_id(const struct publish_rec *,
	    char out[PUBLISH_STATE_ID_LEN + 1]);
/*
 * The zone serial after prev: the clock (seconds) when that is ahead of
 * prev in RFC 1982 order, else prev + 1, so it always increases.
 */
uint32_t publish_serial_next(uint32_t prev, uint64_t now);

#endif
