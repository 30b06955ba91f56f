/*
 * config — signet's configuration: YAML (libyaml) in, one validated,
 * immutable struct config out.
 *
 * The struct is public and read-only: config_load() builds it, nothing
 * changes it afterwards, and config_free() releases it with everything it
 * points to (every string and array below lives in the config's own
 * memory).  A reload builds a new config and swaps pointers; several
 * threads may read one config at once without locks.
 *
 * Units are in the field names: _ms milliseconds, _s seconds, sizes in
 * octets.  Domain names are stored lower-case, A-label (IDNA), without a
 * trailing dot.  Optional strings are NULL when absent; arrays come with
 * a count and are NULL when empty.  Relative paths are kept as written
 * (relative to signetd's working directory).
 *
 * The schema is DESIGN.md's; config/signet.yaml documents every key.
 */
#ifndef SIGNET_CONFIG_H
#define SIGNET_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

struct buf;
struct config_index;

/* At most this many error lines are collected before loading stops. */
#define CONFIG_ERRORS_MAX	20

enum config_auth {
	CONFIG_AUTH_OFF,
	CONFIG_AUTH_OPTIONAL,
	CONFIG_AUTH_REQUIRED,
};

enum config_proxy_protocol {
	CONFIG_PROXY_OFF,
	CONFIG_PROXY_V1,
	CONFIG_PROXY_V2,
	CONFIG_PROXY_ANY,
};

/* Only "reject" exists for now (hostile-inputs.md SM-01). */
enum config_bare_lf {
	CONFIG_BARE_LF_REJECT,
};

enum config_tls {
	CONFIG_TLS_OFF,
	CONFIG_TLS_OPPORTUNISTIC,
	CONFIG_TLS_REQUIRED,
};

/* upstream.chunking: BDAT towards an upstream that offers CHUNKING. */
enum config_chunking {
	CONFIG_CHUNKING_AUTO,		/* BDAT when offered, else DATA */
	CONFIG_CHUNKING_OFF,		/* always DATA */
};

enum config_canon {
	CONFIG_CANON_SIMPLE,
	CONFIG_CANON_RELAXED,
};

enum config_alg {
	CONFIG_ALG_RSA,
	CONFIG_ALG_ED25519,
};

/* Mail for a tenant's domain that has no usable key yet (TN-04). */
enum config_unsigned {
	CONFIG_UNSIGNED_REFUSE,
	CONFIG_UNSIGNED_ALLOW,
};

enum config_strategy {
	CONFIG_STRATEGY_DUAL_SELECTOR,
	CONFIG_STRATEGY_GENERATIONAL,
};

/* CONFIG_DNS_NONE: the operator publishes records by hand (keys init). */
enum config_dns_backend {
	CONFIG_DNS_NONE,
	CONFIG_DNS_RFC2136,
	CONFIG_DNS_ZONEFILE,
	CONFIG_DNS_EXEC,
};

enum config_tsig_alg {
	CONFIG_TSIG_HMAC_SHA256,
	CONFIG_TSIG_HMAC_SHA384,
	CONFIG_TSIG_HMAC_SHA512,
};

/*
 * host:port.  host is an IP literal (brackets removed for IPv6) or, where
 * the key allows it (upstream.address), a host name.  For an IP literal,
 * is_ip is 1 and sa/salen hold the address and port, ready for bind() or
 * connect().
 */
struct config_hostport {
	const char		*host;
	uint16_t		 port;
	int			 is_ip;
	struct sockaddr_storage	 sa;
	socklen_t		 salen;
};

struct config_tls_files {
	const char	*cert;		/* PEM chain */
	const char	*key;		/* PEM private key */
	const char	*client_ca;	/* NULL: no client certificates */
};

/* auth other than off without TLS is refused unless on loopback (TL-06). */
struct config_listener {
	struct config_hostport		 address;
	int				 has_tls;	/* starttls: given */
	struct config_tls_files		 tls;
	int				 implicit_tls;	/* TLS at once */
	enum config_auth		 auth;
	enum config_proxy_protocol	 proxy_protocol;
	enum config_bare_lf		 bare_lf;
};

struct config_upstream {
	int			 is_file;	/* address: file:DIR */
	const char		*file_dir;	/* when is_file */
	struct config_hostport	 address;	/* when !is_file */
	enum config_tls		 starttls;
	int			 implicit_tls;
	const char		*ca_file;	/* NULL: system trust store */
	int			 verify;	/* check certificate and name */
	const char		*servername;	/* NULL: address.host */
	const char		*auth_user;	/* NULL: no upstream AUTH */
	const char		*auth_secret_file;
	int			 connection_cache;	/* reuse idle
							 * connections */
	enum config_chunking	 chunking;
	/* hostile-inputs.md "upstream waits", UP-01, UP-02, UP-07 */
	uint64_t		 connect_timeout_ms;
	uint64_t		 greeting_timeout_ms;
	uint64_t		 command_timeout_ms;
	uint64_t		 final_timeout_ms;
	uint64_t		 noop_interval_ms;
};

struct config_signing {
	enum config_canon	 canon_header;
	enum config_canon	 canon_body;
	const char *const	*headers;	/* lower-case field names */
	size_t			 nheaders;
	const char *const	*oversign;	/* subset of headers */
	size_t			 noversign;
	uint64_t		 expiration_s;	/* 0: no x= */
	enum config_alg		 algorithm;	/* default for domains */
	unsigned int		 bits;		/* default RSA size */
};

struct config_arc {
	int			 enabled;
	const char		*selector;
	const char		*authserv_id;
	const char *const	*trusted_authserv_ids;
	size_t			 ntrusted_authserv_ids;
};

/*
 * Where signetd looks up key records to validate ARC chains and DKIM
 * signatures: recursive resolvers, asked in turn.  Without resolver:
 * the name servers of /etc/resolv.conf (read when the file is loaded),
 * else 127.0.0.1:53.
 */
#define CONFIG_RESOLVER_NS_MAX	3	/* resolv(5) MAXNS */
struct config_resolver {
	struct config_hostport	 nameservers[CONFIG_RESOLVER_NS_MAX];
	size_t			 nnameservers;
	uint64_t		 timeout_ms;	/* all lookups of a message */
};

struct config_tenant;

/*
 * With rotation.strategy generational, selectors[0] is the prefix of the
 * generated names (<prefix>-<yyyymmdd>); with dual-selector and a DNS
 * backend there are exactly two.
 */
struct config_domain {
	const char		*name;
	const char *const	*selectors;	/* default s1, s2 */
	size_t			 nselectors;
	enum config_alg		 algorithm;
	unsigned int		 bits;		/* RSA only */
	int			 subdomains;	/* sign x.name with this key */
	int			 extra_ed25519;	/* Ed25519 besides RSA */
	const char		*zone;		/* DNS zone of its records */
	struct config_arc	 arc;
	/* The tenant owning the exact name; NULL if none does. */
	const struct config_tenant *owner;
};

struct config_cidr {
	int		family;		/* AF_INET or AF_INET6 */
	uint8_t		addr[16];	/* network order, host bits zero */
	unsigned int	prefix;
};

struct config_user {
	const char	*name;
	const char	*password;	/* "$argon2id$..." (signetctl passwd) */
};

#define CONFIG_CERT_FP_LEN	32	/* SHA-256 of the DER certificate */

struct config_extra_sig {
	const char	*domain;
	const char	*selector;
};

struct config_tenant_domain {
	const char	*name;		/* without the "*." */
	int		 wildcard;	/* "*.name": any subdomain of name */
};

struct config_tenant {
	const char			*name;
	const char			*source;	/* file it came from */
	const struct config_cidr	*networks;
	size_t				 nnetworks;
	const struct config_user	*users;
	size_t				 nusers;
	const uint8_t			(*certificates)[CONFIG_CERT_FP_LEN];
	size_t				 ncertificates;
	const struct config_tenant_domain *domains;
	size_t				 ndomains;
	const struct config_extra_sig	*extra_signatures;
	size_t				 nextra_signatures;
	enum config_unsigned		 unsigned_mail;	/* key "unsigned" */
	/* Only headers and oversign; nheaders 0: the global signing's. */
	struct config_signing		 signing;
	int				 allow_null_sender;
	/* 0: no limit.  Counted per tenant over rate_window_s (DK-07). */
	uint64_t			 rate_messages;
	uint64_t			 rate_recipients;
	uint64_t			 rate_window_s;
};

struct config_rotation {
	enum config_strategy	 strategy;
	uint64_t		 period_s;
	uint64_t		 max_transit_s;	/* M of rotation.md */
	uint64_t		 reload_bound_s;	/* R */
	uint64_t		 skew_s;	/* S, below the TSIG fudge */
	uint64_t		 ttl_s;		/* TTL of our TXT records */
	uint64_t		 self_check_s;	/* signetd DNS check; 0 off */
	enum config_dns_backend	 backend;
	struct config_hostport	 server;	/* rfc2136 primary */
	const char		*zone;		/* NULL: each domain's name */
	const struct config_hostport *authoritative;	/* NULL: NS set */
	size_t			 nauthoritative;
	const char		*tsig_name;	/* NULL: no TSIG */
	enum config_tsig_alg	 tsig_algorithm;
	const char		*tsig_secret_file;
	const char		*zonefile_path;
	const char		*zonefile_reload_command;
	const char		*exec_hook;	/* absolute path */
	/* GONE keys' private keys are published here; NULL: destroyed */
	const char		*disclose_dir;
};

/* Every field: named default and range in config.c, sources cited there. */
struct config_limits {
	uint64_t	max_message_size;
	uint64_t	max_recipients;
	uint64_t	max_connections;
	uint64_t	max_connections_per_ip;
	uint64_t	connection_rate;	/* per IP per 60 s; 0: off */
	uint64_t	command_line_max;
	uint64_t	auth_line_max;
	uint64_t	header_size_max;
	uint64_t	header_field_max;
	uint64_t	header_fields_max;
	uint64_t	max_received;
	uint64_t	io_buffer_max;
	uint64_t	idle_timeout_ms;
	uint64_t	overload_timeout_ms;
	uint64_t	data_timeout_ms;
	uint64_t	tls_handshake_timeout_ms;
	uint64_t	min_data_rate;		/* octets per second */
	uint64_t	soft_error_limit;
	uint64_t	hard_error_limit;
	uint64_t	junk_command_limit;
	uint64_t	error_delay_ms;
	uint64_t	greeting_delay_ms;
	uint64_t	auth_failures;
	uint64_t	drain_timeout_ms;
};

struct config {
	const char			*path;		/* the file loaded */
	const struct config_listener	*listeners;
	size_t				 nlisteners;
	struct config_upstream		 upstream;
	const char			*keystore;
	const char			*spool;
	uint64_t			 spool_memory_max;
	uint64_t			 keys_eager_max;	/* keys loaded at build */
	struct config_signing		 signing;
	const struct config_domain	*domains;	/* sorted by name */
	size_t				 ndomains;
	const struct config_tenant	*tenants;	/* file order */
	size_t				 ntenants;
	const char			*tenants_dir;	/* NULL if unused */
	struct config_rotation		 rotation;
	int				 has_metrics;
	struct config_hostport		 metrics_listen;
	struct config_limits		 limits;
	unsigned int			 workers;	/* 0: auto (cores) */
	int				 log_level;	/* syslog LOG_* */
	int				 log_stderr;
	const char			*user;		/* NULL: no setuid */
	struct config_resolver		 resolver;
	struct config_index		*index;		/* lookups, private */
};

/*
 * Load and validate.  NULL on error: errors (may be NULL) then holds one
 * "FILE:LINE:COL: message\n" line per problem (1-based), sorted by file
 * (main file first, then tenants_dir files), line and column; at most
 * CONFIG_ERRORS_MAX of them, then a "too many errors" line.
 */
const struct config	*config_load(const char *path, struct buf *errors);
/* The same from memory; name is used as FILE in messages and as path. */
const struct config	*config_load_mem(const void *data, size_t len,
			    const char *name, struct buf *errors);
void			 config_free(const struct config *);

/*
 * The demo configuration used by `make run` (listen 127.0.0.1:2525,
 * upstream file:./var/outbox, tenant "local" owning example.com).
 */
const char		*config_demo_yaml(void);
const struct config	*config_default_demo(struct buf *errors);

/*
 * Load path and report, for `signetctl config check` and `signetd -t`:
 * "FILE: ok" on out, or the error lines on err.  0 ok, -1 errors.
 */
int			 config_check(const char *path, FILE *out, FILE *err);

/*
 * A domain as policy compares it: ASCII lower-case, one trailing dot
 * removed, U-labels converted to A-labels, syntax checked.  Writes a
 * NUL-terminated name into out (CONFIG_DOMAIN_MAX + 1 octets).
 * 0 ok, -1 not a valid domain name.
 */
#define CONFIG_DOMAIN_MAX	253	/* RFC 1035 2.3.4, text form */
int			 config_domain_normalize(const char *in, size_t len,
			    char *out);

/*
 * Lookups, each O(1) or O(log n); a name is normalized first, so case,
 * a trailing dot and U-labels do not matter.  NULL: no match.
 *
 * Semantics the loader guarantees (hostile-inputs.md TN-02):
 * - a name (or "*.name") is claimed by at most one tenant, and every
 *   claim resolves to a domains: entry;
 * - subdomains: true on a domains: entry means mail from x.entry is
 *   signed with the entry's keys and d=entry, so a tenant claiming
 *   x.entry or "*.entry" must also own the entry itself;
 * - "*.name" covers names strictly below name, not name itself.
 */
/*
 * The domains: entry that signs name: name itself, else its nearest
 * listed ancestor if that ancestor has subdomains: true.  A listed
 * ancestor without subdomains ends the search (no entry).
 */
const struct config_domain *config_domain(const struct config *,
			    const char *name);
/*
 * The DNS zone holding name's _domainkey records: its entry's zone:,
 * else rotation.zone, else name itself (signetctl check and signetd's
 * self-check must ask the same servers about the same zone).
 */
const char	*config_zone(const struct config *, const char *name);
/*
 * The tenant that may sign as name: an exact claim wins, else the
 * longest "*.ancestor" claim.
 */
const struct config_tenant *config_domain_owner(const struct config *,
			    const char *name);
/*
 * The tenant whose network holds addr (AF_INET or AF_INET6; an
 * IPv4-mapped IPv6 address is looked up as IPv4), by longest prefix.
 */
const struct config_tenant *config_tenant_for_addr(const struct config *,
			    const struct sockaddr *);
/* The tenant with a user of that exact name; *user gets the entry. */
const struct config_tenant *config_tenant_for_user(const struct config *,
			    const char *name, const struct config_user **user);
/* The tenant whose certificates list holds this SHA-256 fingerprint. */
const struct config_tenant *config_tenant_for_cert(const struct config *,
			    const uint8_t fp[CONFIG_CERT_FP_LEN]);
const struct config_tenant *config_tenant_by_name(const struct config *,
			    const char *name);

#endif
