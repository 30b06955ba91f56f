/*
 * config — the YAML configuration file to one immutable, validated
 * struct config.
 *
 * libyaml composes the file into a node tree (yaml_parser_load); a table
 * per mapping names every allowed key with its type, default and range,
 * so unknown keys, duplicates, wrong node kinds and out-of-range values
 * are all caught in one place and reported as FILE:LINE:COL (libyaml's
 * 0-based marks plus one).  Errors are collected, not fatal, up to
 * CONFIG_ERRORS_MAX.  Keys of a mapping are processed in table order, not
 * file order, so a section may rely on the sections its table lists
 * first (tenants see domains, domains see rotation).
 *
 * Ownership: every string and array the struct points to lives in one
 * arena freed by config_free(); the lookup index (hash tables, prefix
 * tables) and the tenant array are owned by struct config_index.
 * Aliases are refused: each YAML node may be visited once, which also
 * bounds the work to the size of the input.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <idn2.h>
#include <yaml.h>

#include "config/config.h"
#include "proxy/msg/buf.h"
#include "proxy/msg/dkim.h"

#define KiB	1024ULL
#define MiB	(1024ULL * KiB)
#define GiB	(1024ULL * MiB)
#define SEC	1000ULL			/* durations are parsed in ms */
#define MIN	(60ULL * SEC)
#define HOUR	(60ULL * MIN)
#define DAY	(24ULL * HOUR)

/*
 * Input bounds.  A configuration is written by the operator, but a wrong
 * path (/dev/zero) or the fuzzer must not exhaust memory.
 */
#define CONFIG_FILE_MAX		(16 * MiB)	/* main file */
#define CONFIG_TENANT_FILE_MAX	(1 * MiB)	/* one tenants_dir file */
#define CONFIG_TENANTS_MAX	1000000		/* tenants_dir entries */
#define CONFIG_STRING_MAX	4095		/* PATH_MAX - 1 */
#define CONFIG_TENANT_NAME_MAX	64		/* appears in log lines */
#define CONFIG_USER_NAME_MAX	255		/* RFC 4954 authcid, bounded */
#define CONFIG_PASSWORD_MAX	127		/* crypto_pwhash_STRBYTES - 1 */
#define CONFIG_LABEL_MAX	63		/* RFC 1035 2.3.4 */
#define CONFIG_SELECTORS_MAX	16
#define CONFIG_FIELD_NAME_MAX	64		/* header names to sign */
#define CONFIG_SYSUSER_MAX	32		/* useradd(8) name length */
#define CONFIG_KEYS_MAX		64		/* keys per table (seen mask) */
#define CONFIG_ERROR_LINE_MAX	1024		/* one error message */

/*
 * Limits: default, smallest and largest accepted value.  Defaults follow
 * hostile-inputs.md "Proposed defaults" (HI below) unless noted.  Minimums
 * may sit below a production-sane value so tests can provoke a limit.
 */
/* HI "message size": Postfix message_size_limit; advertised as SIZE. */
#define MESSAGE_SIZE_DEF	(10 * MiB)
#define MESSAGE_SIZE_MIN	(1 * KiB)
#define MESSAGE_SIZE_MAX	(1 * GiB)
/* HI "recipients per message"; RFC 5321 4.5.3.1.8 asks for at least 100. */
#define RECIPIENTS_DEF		1000
#define RECIPIENTS_MIN		1
#define RECIPIENTS_MAX		100000
/* HI "connections": a global cap below the fd limit, with a reserve. */
#define CONNECTIONS_DEF		1000
#define CONNECTIONS_MIN		1
#define CONNECTIONS_MAX		1000000
/* HI "connections": Postfix smtpd_client_connection_count_limit. */
#define CONNECTIONS_IP_DEF	50
#define CONNECTIONS_IP_MIN	1
#define CONNECTIONS_IP_MAX	1000000
/* HI "connection rate": off by default, per IP per 60 s when set. */
#define CONN_RATE_DEF		0
#define CONN_RATE_MAX		1000000
/* HI "command line": Postfix line_length_limit; RFC 5321 4.5.3.1.4 min. */
#define COMMAND_LINE_DEF	2048
#define COMMAND_LINE_MIN	512
#define COMMAND_LINE_MAX	65536
/* HI "command line": AUTH continuation lines, RFC 4954 section 4. */
#define AUTH_LINE_DEF		12288
#define AUTH_LINE_MIN		512
#define AUTH_LINE_MAX		65536
/* HI "one header field": header section 1 MiB. */
#define HEADER_SIZE_DEF		(1 * MiB)
#define HEADER_SIZE_MIN		(1 * KiB)
#define HEADER_SIZE_MAX		(64 * MiB)
/* HI "one header field": 100 KiB unfolded, Postfix header_size_limit. */
#define HEADER_FIELD_DEF	(100 * KiB)
#define HEADER_FIELD_MIN	(1 * KiB)	/* above RFC 5322 2.1.1's 998 */
#define HEADER_FIELD_MAX	(64 * MiB)
/* HI "one header field": 1000 fields. */
#define HEADER_FIELDS_DEF	1000
#define HEADER_FIELDS_MIN	10
#define HEADER_FIELDS_MAX	100000
/* HI "Received fields (loop)": Postfix hopcount_limit. */
#define RECEIVED_DEF		50
#define RECEIVED_MIN		1
#define RECEIVED_MAX		1000
/* hostile-inputs.md PR-03: read high-water mark and unsent replies. */
#define IO_BUFFER_DEF		(64 * KiB)
#define IO_BUFFER_MIN		(4 * KiB)
#define IO_BUFFER_MAX		(16 * MiB)
/* HI "idle / per-request deadline": Postfix smtpd_timeout 300s/10s. */
#define IDLE_TIMEOUT_DEF	(300 * SEC)
#define IDLE_TIMEOUT_MIN	(1 * SEC)
#define IDLE_TIMEOUT_MAX	(1 * HOUR)
#define OVERLOAD_TIMEOUT_DEF	(10 * SEC)
#define OVERLOAD_TIMEOUT_MIN	(1 * SEC)
#define OVERLOAD_TIMEOUT_MAX	(300 * SEC)
/* HI "DATA minimum rate": the first 300 s budget. */
#define DATA_TIMEOUT_DEF	(300 * SEC)
#define DATA_TIMEOUT_MIN	(1 * SEC)
#define DATA_TIMEOUT_MAX	(1 * HOUR)
/* hostile-inputs.md TL-03: the handshake has its own 60 s bound. */
#define TLS_TIMEOUT_DEF		(60 * SEC)
#define TLS_TIMEOUT_MIN		(1 * SEC)
#define TLS_TIMEOUT_MAX		(300 * SEC)
/* HI "DATA minimum rate": Postfix smtpd_min_data_rate, octets/s. */
#define MIN_DATA_RATE_DEF	500
#define MIN_DATA_RATE_MAX	(1 * GiB)
/* HI "errors": Postfix smtpd_soft/hard_error_limit, junk_command_limit. */
#define SOFT_ERRORS_DEF		10
#define HARD_ERRORS_DEF		20
#define ERRORS_MIN		1
#define ERRORS_MAX		1000
#define JUNK_DEF		100
#define JUNK_MIN		1
#define JUNK_MAX		100000
/* HI "errors": 1 s delay per reply after the soft limit. */
#define ERROR_DELAY_DEF		(1 * SEC)
#define ERROR_DELAY_MAX		(60 * SEC)
/* hostile-inputs.md PR-03: greeting delay, default 0. */
#define GREETING_DELAY_DEF	0
#define GREETING_DELAY_MAX	(60 * SEC)
/* HI "AUTH failures": 3 per session, then 421. */
#define AUTH_FAILURES_DEF	3
#define AUTH_FAILURES_MIN	1
#define AUTH_FAILURES_MAX	100
/* DESIGN.md: SIGTERM drains up to a timeout. */
#define DRAIN_TIMEOUT_DEF	(30 * SEC)
#define DRAIN_TIMEOUT_MAX	(1 * HOUR)
/* HI "upstream waits": connect 30 s, RFC 5321 4.5.3.2. */
#define UP_CONNECT_DEF		(30 * SEC)
#define UP_CONNECT_MAX		(300 * SEC)
/* HI "upstream waits": greeting 60 s, RFC 5321 4.5.3.2.1 allows 5 min. */
#define UP_GREETING_DEF		(60 * SEC)
#define UP_GREETING_MAX		(600 * SEC)
/* HI "upstream waits": command 300 s, RFC 5321 4.5.3.2.2-5. */
#define UP_COMMAND_DEF		(300 * SEC)
#define UP_COMMAND_MAX		(600 * SEC)
/* HI "upstream waits": after "." 300 s, below the client's 600 s. */
#define UP_FINAL_DEF		(300 * SEC)
#define UP_FINAL_MAX		(590 * SEC)	/* RFC 5321 4.5.3.2.6 */
/* hostile-inputs.md UP-07: NOOP upstream every 120 s while spooling. */
#define UP_NOOP_DEF		(120 * SEC)
#define UP_NOOP_MAX		(600 * SEC)
#define UP_TIMEOUT_MIN		(1 * SEC)
/* resolver.timeout: every key lookup of one message within this. */
#define RESOLVER_TIMEOUT_DEF	(5 * SEC)
#define RESOLVER_TIMEOUT_MIN	(100ULL)
#define RESOLVER_TIMEOUT_MAX	(60 * SEC)
#define RESOLVER_PORT		53	/* RFC 1035 4.2 */
#define RESOLV_CONF		"/etc/resolv.conf"
#define RESOLV_LINE_MAX		1024
/* DESIGN.md "spool": memory up to a limit, then a temp file. */
#define SPOOL_MEMORY_DEF	(1 * MiB)
#define SPOOL_MEMORY_MIN	(4 * KiB)
#define SPOOL_MEMORY_MAX	(64 * MiB)
/*
 * Issue 4: up to this many signing keys are loaded and checked when a
 * snapshot is built (a bad key shows at startup, KY-01); more are loaded
 * on first use, so 20,000 RSA keys (about 1 ms each) start in under 2 s.
 */
#define KEYS_EAGER_DEF		1000
#define KEYS_EAGER_MAX		10000000
/* DESIGN.md signing.expiration 5d (= rotation.md's M); 0 means no x=. */
#define EXPIRATION_DEF		(5 * DAY)
#define EXPIRATION_MAX		(365 * DAY)
/* RFC 8301 section 3.2: at least 1024, SHOULD 2048; verifiers to 4096. */
#define RSA_BITS_DEF		2048
#define RSA_BITS_MIN		1024
#define RSA_BITS_MAX		4096
/* rotation.md "Defaults": rotate every 30-90 days. */
#define PERIOD_DEF		(90 * DAY)
#define PERIOD_MIN		(1 * DAY)
#define PERIOD_MAX		(730 * DAY)
/* rotation.md M: 5 days (Postfix gives up after 5 d, RFC 5321 4.5.4.1). */
#define TRANSIT_DEF		(5 * DAY)
#define TRANSIT_MIN		(1 * HOUR)
#define TRANSIT_MAX		(30 * DAY)
/* DESIGN.md "Rotation": rotation.reload_bound, default 60 s. */
#define RELOAD_BOUND_DEF	(60 * SEC)
#define RELOAD_BOUND_MIN	(5 * SEC)	/* signetd polls every 5 s */
#define RELOAD_BOUND_MAX	(1 * HOUR)
/* rotation.md S: keep it below the TSIG fudge of 300 s (RFC 8945 5.2.3). */
#define SKEW_DEF		(120 * SEC)
#define SKEW_MAX		(299 * SEC)
/* KY-03: signetd's periodic DNS self-check; off by default (0). */
#define SELF_CHECK_MAX		(1 * DAY)
/* rotation.md "Defaults": a TTL of 300-3600 s in our zone. */
#define TTL_DEF			(3600 * SEC)
#define TTL_MIN			(60 * SEC)
#define TTL_MAX			(1 * DAY)
/* DESIGN.md "Concurrency": workers auto = cores. */
#define WORKERS_MAX		256

/* Marks the field that must be present in its mapping. */
#define F_REQUIRED	0x1

enum ftype {
	F_STR,		/* printable string, const char * */
	F_BOOL,		/* int */
	F_UINT,		/* uint64_t, plain number */
	F_U32,		/* unsigned int, plain number */
	F_SIZE,		/* uint64_t octets, K/M/G suffixes */
	F_MS,		/* uint64_t milliseconds */
	F_SEC,		/* uint64_t whole seconds */
	F_ENUM,		/* int-sized enum from names */
	F_DOMAIN,	/* normalized domain name, const char * */
	F_HOSTPORT,	/* struct config_hostport, IP literal only */
	F_MAP,		/* nested mapping: sub-table, same base + off */
	F_FUNC,		/* custom handler */
};

struct loader;

struct name_val {
	const char	*name;
	int		 val;
};

struct field {
	const char		*key;
	enum ftype		 type;
	size_t			 off;
	uint64_t		 min;
	uint64_t		 max;
	const struct name_val	*names;		/* F_ENUM, NULL-terminated */
	const struct field	*sub;		/* F_MAP, NULL-key-terminated */
	int			(*fn)(struct loader *, yaml_node_t *, void *);
	unsigned int		 flags;
};

struct arena_chunk {
	struct arena_chunk	*next;
	size_t			 used;
	size_t			 size;
	max_align_t		 data[];
};

#define ARENA_CHUNK	(64 * 1024)

struct hent {
	const void	*key;		/* NULL: empty slot */
	size_t		 len;
	uint64_t	 hash;
	size_t		 val;
	size_t		 val2;
};

struct htab {
	struct hent	*e;
	size_t		 cap;		/* power of two, or 0 */
	size_t		 n;
};

struct lpm_ent {
	uint8_t		addr[16];
	unsigned int	prefix;
	size_t		tenant;
};

struct lpm_group {
	unsigned int	prefix;
	size_t		start;
	size_t		end;
};

struct lpm {
	struct lpm_ent		*e;
	size_t			 n;
	size_t			 cap;
	struct lpm_group	 grp[129];
	size_t			 ngrp;
	size_t			 alen;		/* 4 or 16 */
};

struct config_index {
	struct arena_chunk	*arena;
	struct config_tenant	*tenants;	/* cfg->tenants */
	size_t			 ntenants;
	size_t			 captenants;
	struct htab		 domains;	/* name -> domains[] index */
	struct htab		 exact;		/* claimed name -> tenant */
	struct htab		 wild;		/* "*.name" parent -> tenant */
	struct htab		 users;		/* name -> tenant, user */
	struct htab		 certs;		/* fingerprint -> tenant */
	struct htab		 names;		/* tenant name -> tenant */
	struct htab		 nets;		/* CIDR -> tenant */
	struct lpm		 v4;
	struct lpm		 v6;
};

struct errline {
	size_t	 fileno;
	size_t	 line;
	size_t	 col;
	size_t	 seq;
	char	*text;
};

struct loader {
	struct buf		*errors;
	int			 nerrors;
	struct errline		 lines[CONFIG_ERRORS_MAX + 1];
	size_t			 nlines;
	size_t			 fileno;	/* 0 main, then tenant files */
	const char		*file;		/* for messages */
	struct config		*cfg;
	struct config_index	*ix;
	yaml_document_t		*doc;
	uint8_t			*visited;	/* one flag per node */
	size_t			 nnodes;
	size_t			 tenant;	/* index being parsed */
	const char		*key;		/* key being parsed, or NULL */
	int			 oom;
};

static const char demo_yaml[] =
	"# The demo configuration of `make run` (config_demo_yaml()).\n"
	"listen:\n"
	"  - address: 127.0.0.1:2525\n"
	"    auth: off\n"
	"upstream:\n"
	"  address: file:./var/outbox\n"
	"keystore: ./var/keys\n"
	"spool: ./var/spool\n"
	"domains:\n"
	"  example.com: { selectors: [s1, s2], algorithm: rsa, bits: 2048 }\n"
	"tenants:\n"
	"  - name: local\n"
	"    networks: [127.0.0.0/8, \"::1/128\"]\n"
	"    domains: [example.com]\n"
	"log: { level: info, stderr: true }\n";

/* ---------------------------------------------------------------- */
/* Memory                                                             */

static void *
arena_alloc(struct config_index *ix, size_t n)
{
	struct arena_chunk	*c = ix->arena;
	size_t			 align = sizeof(max_align_t), want, size;
	void			*p;

	if (n > SIZE_MAX / 2)
		return NULL;
	want = (n + align - 1) / align * align;
	if (want == 0)
		want = align;
	if (c == NULL || c->size - c->used < want) {
		size = want > ARENA_CHUNK ? want : ARENA_CHUNK;
		if ((c = malloc(sizeof(*c) + size)) == NULL)
			return NULL;
		c->size = size;
		c->used = 0;
		if (ix->arena != NULL && want > ARENA_CHUNK) {
			/* Keep filling the current chunk; park the big one. */
			c->next = ix->arena->next;
			ix->arena->next = c;
		} else {
			c->next = ix->arena;
			ix->arena = c;
		}
	}
	p = (char *)c->data + c->used;
	c->used += want;
	memset(p, 0, n);
	return p;
}

static void *
lalloc(struct loader *ld, size_t nmemb, size_t size)
{
	void	*p = NULL;

	if (size != 0 && nmemb > SIZE_MAX / 2 / size)
		ld->oom = 1;
	else if ((p = arena_alloc(ld->ix, nmemb * size)) == NULL)
		ld->oom = 1;
	return p;
}

static char *
lstrndup(struct loader *ld, const char *s, size_t len)
{
	char	*p;

	if ((p = lalloc(ld, 1, len + 1)) != NULL)
		memcpy(p, s, len);
	return p;
}

/* ---------------------------------------------------------------- */
/* Hash tables: open addressing, FNV-1a.  Contents come from the      */
/* configuration only, so probe chains are not under a client's       */
/* control even though clients choose the names looked up.           */

static uint64_t
hash_bytes(const void *p, size_t len)
{
	const uint8_t	*s = p;
	uint64_t	 h = 0xcbf29ce484222325ULL;
	size_t		 i;

	for (i = 0; i < len; i++) {
		h ^= s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static struct hent *
htab_find(const struct htab *t, const void *key, size_t len, uint64_t h)
{
	size_t	i;

	if (t->cap == 0)
		return NULL;
	for (i = h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		struct hent	*e = &t->e[i];

		if (e->key == NULL)
			return e;
		if (e->hash == h && e->len == len &&
		    memcmp(e->key, key, len) == 0)
			return e;
	}
}

static int
htab_grow(struct htab *t)
{
	struct hent	*old = t->e, *e;
	size_t		 oldcap = t->cap, i, cap;

	cap = oldcap == 0 ? 64 : oldcap * 2;
	if (cap > SIZE_MAX / sizeof(*t->e))
		return -1;
	if ((t->e = calloc(cap, sizeof(*t->e))) == NULL) {
		t->e = old;
		return -1;
	}
	t->cap = cap;
	for (i = 0; i < oldcap; i++) {
		if (old[i].key == NULL)
			continue;
		e = htab_find(t, old[i].key, old[i].len, old[i].hash);
		*e = old[i];
	}
	free(old);
	return 0;
}

/*
 * Insert key (which must outlive the table) unless present.  Returns the
 * entry; *found tells whether it existed.  NULL when memory is short.
 */
static struct hent *
htab_put(struct htab *t, const void *key, size_t len, size_t val,
    size_t val2, int *found)
{
	uint64_t	 h = hash_bytes(key, len);
	struct hent	*e;

	if ((t->n + 1) * 4 > t->cap * 3 && htab_grow(t) == -1)
		return NULL;
	e = htab_find(t, key, len, h);
	if (e->key != NULL) {
		*found = 1;
		return e;
	}
	*found = 0;
	e->key = key;
	e->len = len;
	e->hash = h;
	e->val = val;
	e->val2 = val2;
	t->n++;
	return e;
}

static const struct hent *
htab_get(const struct htab *t, const void *key, size_t len)
{
	const struct hent	*e;

	e = htab_find(t, key, len, hash_bytes(key, len));
	return e == NULL || e->key == NULL ? NULL : e;
}

static void
htab_clear(struct htab *t)
{
	free(t->e);
	t->e = NULL;
	t->cap = t->n = 0;
}

/* ---------------------------------------------------------------- */
/* Errors                                                             */

/*
 * Errors are held until loading ends and then written sorted by file
 * (main file first, tenant files in load order), line and column, so the
 * operator reads them top to bottom whatever pass found them.
 */
__attribute__((format(printf, 5, 0))) static void
verr_at(struct loader *ld, const char *file, size_t line, size_t col,
    const char *fmt, va_list ap)
{
	struct errline	*e;
	struct buf	*b;

	ld->nerrors++;
	if (ld->errors == NULL || ld->nerrors > CONFIG_ERRORS_MAX + 1)
		return;
	if ((b = buf_new(CONFIG_ERROR_LINE_MAX)) == NULL) {
		ld->oom = 1;
		return;
	}
	if (ld->nerrors == CONFIG_ERRORS_MAX + 1)
		buf_printf(b, "%s:%zu:%zu: too many errors, stopping", file,
		    line, col);
	else {
		buf_printf(b, "%s:%zu:%zu: ", file, line, col);
		buf_vprintf(b, fmt, ap);
	}
	e = &ld->lines[ld->nlines];
	e->fileno = ld->fileno;
	e->line = line;
	e->col = col;
	e->seq = ld->nlines;
	/* A line cut at the buffer limit still locates the problem. */
	if (buf_cstr(b) == NULL || (e->text = strdup(buf_cstr(b))) == NULL)
		ld->oom = 1;
	else
		ld->nlines++;
	buf_free(b);
}

static int
errline_cmp(const void *a, const void *b)
{
	const struct errline	*x = a, *y = b;

	/* "too many errors" stays last: it was found last. */
	if ((x->seq == CONFIG_ERRORS_MAX) != (y->seq == CONFIG_ERRORS_MAX))
		return x->seq == CONFIG_ERRORS_MAX ? 1 : -1;
	if (x->fileno != y->fileno)
		return x->fileno < y->fileno ? -1 : 1;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void
flush_errors(struct loader *ld)
{
	size_t	i;

	if (ld->nlines > 0)
		qsort(ld->lines, ld->nlines, sizeof(ld->lines[0]),
		    errline_cmp);
	for (i = 0; i < ld->nlines; i++) {
		buf_append_str(ld->errors, ld->lines[i].text);
		buf_append_byte(ld->errors, '\n');
		free(ld->lines[i].text);
	}
	ld->nlines = 0;
}

__attribute__((format(printf, 3, 4))) static void
err_node(struct loader *ld, const yaml_node_t *n, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	verr_at(ld, ld->file, n->start_mark.line + 1, n->start_mark.column + 1,
	    fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 3, 4))) static void
err_file(struct loader *ld, const char *file, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	verr_at(ld, file, 1, 1, fmt, ap);
	va_end(ap);
}

static int
stopped(const struct loader *ld)
{
	return ld->nerrors > CONFIG_ERRORS_MAX || ld->oom;
}

/* ---------------------------------------------------------------- */
/* Character classes and small grammars                               */

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int
is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_hex(int c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int
hex_val(int c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return c - 'A' + 10;
}

static int
to_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Visible ASCII and space: what a path or name in the config may hold. */
static int
is_text(int c)
{
	return c >= 0x20 && c <= 0x7e;
}

/* A DNS label character; '_' is allowed for names like _domainkey. */
static int
is_label_char(int c)
{
	return is_alpha(c) || is_digit(c) || c == '-' || c == '_';
}

/* RFC 5322 3.6.8 ftext: printable ASCII except ':'. */
static int
is_ftext(int c)
{
	return c >= 33 && c <= 126 && c != ':';
}

/* Tenant names appear in logs and replies: keep them to a safe set. */
static int
is_name_char(int c)
{
	return is_alpha(c) || is_digit(c) || c == '-' || c == '_' || c == '.';
}

/* label = label-char *(label-char), 1..63, no '-' at either end. */
static int
check_label(const char *s, size_t len)
{
	size_t	i;

	if (len == 0 || len > CONFIG_LABEL_MAX)
		return -1;
	if (s[0] == '-' || s[len - 1] == '-')
		return -1;
	for (i = 0; i < len; i++)
		if (!is_label_char((unsigned char)s[i]))
			return -1;
	return 0;
}

/* name = label *("." label), lower-case already, no trailing dot. */
static int
check_domain(const char *s, size_t len)
{
	size_t	start = 0, i;

	if (len == 0 || len > CONFIG_DOMAIN_MAX)
		return -1;
	for (i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			if (check_label(s + start, i - start) == -1)
				return -1;
			start = i + 1;
		}
	}
	return 0;
}

int
config_domain_normalize(const char *in, size_t len, char *out)
{
	char	 tmp[CONFIG_DOMAIN_MAX * 4 + 2];
	uint8_t	*ace = NULL;
	size_t	 i;
	int	 ascii = 1, rc = -1;

	if (len > 0 && in[len - 1] == '.')
		len--;
	for (i = 0; i < len; i++) {
		if ((unsigned char)in[i] >= 0x80)
			ascii = 0;
		else if (in[i] == '\0')
			return -1;
	}
	if (!ascii) {
		/* U-labels: IDNA2008 with TR46 mapping, as a resolver would. */
		if (len >= sizeof(tmp))
			return -1;
		memcpy(tmp, in, len);
		tmp[len] = '\0';
		if (idn2_lookup_u8((const uint8_t *)tmp, &ace,
		    IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL) != IDN2_OK)
			goto done;
		in = (const char *)ace;
		len = strlen(in);
	}
	if (len == 0 || len > CONFIG_DOMAIN_MAX)
		goto done;
	for (i = 0; i < len; i++)
		out[i] = (char)to_lower((unsigned char)in[i]);
	out[len] = '\0';
	if (check_domain(out, len) == -1)
		goto done;
	rc = 0;
done:
	idn2_free(ace);
	return rc;
}

/*
 * size = 1*DIGIT [("K" / "M" / "G")], binary multiples.  0 ok, -1 bad
 * syntax or overflow.
 */
static int
parse_size(const char *s, size_t len, uint64_t *out)
{
	uint64_t	v = 0, mul = 1;
	size_t		i;

	for (i = 0; i < len && is_digit((unsigned char)s[i]); i++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (i == 0)
		return -1;
	if (i + 1 == len) {
		switch (to_lower((unsigned char)s[i])) {
		case 'k':
			mul = KiB;
			break;
		case 'm':
			mul = MiB;
			break;
		case 'g':
			mul = GiB;
			break;
		default:
			return -1;
		}
	} else if (i != len)
		return -1;
	if (v > UINT64_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

/*
 * duration = 1*DIGIT [("ms" / "s" / "m" / "h" / "d" / "w")]; a bare
 * number is seconds.  Result in milliseconds.
 */
static int
parse_duration(const char *s, size_t len, uint64_t *out)
{
	static const struct {
		const char	*unit;
		uint64_t	 ms;
	} units[] = {
		{ "", SEC }, { "ms", 1 }, { "s", SEC }, { "m", MIN },
		{ "h", HOUR }, { "d", DAY }, { "w", 7 * DAY },
	};
	uint64_t	v = 0;
	size_t		i, u;

	for (i = 0; i < len && is_digit((unsigned char)s[i]); i++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (i == 0)
		return -1;
	for (u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		if (strlen(units[u].unit) == len - i &&
		    memcmp(units[u].unit, s + i, len - i) == 0) {
			if (v > UINT64_MAX / units[u].ms)
				return -1;
			*out = v * units[u].ms;
			return 0;
		}
	}
	return -1;
}

static int
parse_uint(const char *s, size_t len, uint64_t *out)
{
	uint64_t	v = 0;
	size_t		i;

	if (len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (!is_digit((unsigned char)s[i]) || v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Human form of a limit for messages: 10M, 300s, 1024. */
static void
fmt_value(char *out, size_t outsz, enum ftype t, uint64_t v)
{
	static const struct {
		uint64_t	 mul;
		const char	*sfx;
	} sizes[] = { { GiB, "G" }, { MiB, "M" }, { KiB, "K" } },
	  times[] = { { DAY, "d" }, { HOUR, "h" }, { MIN, "m" }, { SEC, "s" } };
	size_t	i;

	if (v != 0 && t == F_SIZE) {
		for (i = 0; i < 3; i++) {
			if (v % sizes[i].mul == 0) {
				snprintf(out, outsz, "%llu%s",
				    (unsigned long long)(v / sizes[i].mul),
				    sizes[i].sfx);
				return;
			}
		}
	}
	if (t == F_MS || t == F_SEC) {
		for (i = 0; v != 0 && i < 4; i++) {
			if (v % times[i].mul == 0) {
				snprintf(out, outsz, "%llu%s",
				    (unsigned long long)(v / times[i].mul),
				    times[i].sfx);
				return;
			}
		}
		snprintf(out, outsz, "%llu%s", (unsigned long long)v,
		    v == 0 ? "s" : "ms");
		return;
	}
	snprintf(out, outsz, "%llu", (unsigned long long)v);
}

/* port = 1*5DIGIT, 1..65535 */
static int
parse_port(const char *s, size_t len, uint16_t *out)
{
	uint64_t	v;

	if (len > 5 || parse_uint(s, len, &v) == -1 || v == 0 || v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

/*
 * hostport = (IPv4 / "[" IPv6 "]" / domain) ":" port.  allow_name: a
 * host name is acceptable (resolved later by the user of the value).
 */
static int
parse_hostport(struct loader *ld, const char *s, size_t len, int allow_name,
    struct config_hostport *out)
{
	struct config_hostport	 tmp, *hp = &tmp;
	char			 host[CONFIG_DOMAIN_MAX + 1];
	const char		*colon, *h;
	size_t			 hlen;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&hp->sa;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&hp->sa;

	/* All or nothing: callers test address.salen to see a usable one. */
	memset(out, 0, sizeof(*out));
	memset(hp, 0, sizeof(*hp));
	if (len > 0 && s[0] == '[') {
		if ((colon = memchr(s, ']', len)) == NULL ||
		    (size_t)(colon - s) + 1 >= len || colon[1] != ':')
			return -1;
		h = s + 1;
		hlen = (size_t)(colon - h);
		colon++;
		if (hlen == 0 || hlen >= sizeof(host))
			return -1;
		memcpy(host, h, hlen);
		host[hlen] = '\0';
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return -1;
		sin6->sin6_family = AF_INET6;
		hp->salen = sizeof(*sin6);
		hp->is_ip = 1;
	} else {
		if ((colon = memrchr(s, ':', len)) == NULL)
			return -1;
		h = s;
		hlen = (size_t)(colon - s);
		if (hlen == 0 || hlen >= sizeof(host) ||
		    memchr(h, ':', hlen) != NULL)
			return -1;
		memcpy(host, h, hlen);
		host[hlen] = '\0';
		if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
			sin->sin_family = AF_INET;
			hp->salen = sizeof(*sin);
			hp->is_ip = 1;
		} else if (!allow_name ||
		    config_domain_normalize(h, hlen, host) == -1)
			return -1;
		else
			hlen = strlen(host);
	}
	if (parse_port(colon + 1, len - (size_t)(colon + 1 - s),
	    &hp->port) == -1)
		return -1;
	if (hp->is_ip) {
		if (hp->sa.ss_family == AF_INET)
			sin->sin_port = htons(hp->port);
		else
			sin6->sin6_port = htons(hp->port);
	}
	if ((hp->host = lstrndup(ld, host, hlen)) == NULL)
		return -1;
	*out = tmp;
	return 0;
}

/* cidr = (IPv4 ["/" 1*2DIGIT]) / (IPv6 ["/" 1*3DIGIT]); no host bits. */
static int
parse_cidr(const char *s, size_t len, struct config_cidr *c, int *hostbits)
{
	char		 host[INET6_ADDRSTRLEN + 1];
	const char	*slash;
	size_t		 hlen, i;
	uint64_t	 prefix;
	unsigned int	 max;

	memset(c, 0, sizeof(*c));
	*hostbits = 0;
	slash = memchr(s, '/', len);
	hlen = slash != NULL ? (size_t)(slash - s) : len;
	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, c->addr) == 1) {
		c->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, host, c->addr) == 1) {
		c->family = AF_INET6;
		max = 128;
	} else
		return -1;
	prefix = max;
	if (slash != NULL && (len - hlen - 1 > 3 ||
	    parse_uint(slash + 1, len - hlen - 1, &prefix) == -1 ||
	    prefix > max))
		return -1;
	c->prefix = (unsigned int)prefix;
	for (i = 0; i < max / 8; i++) {
		unsigned int	bit = (unsigned int)i * 8;
		uint8_t		mask;

		if (bit >= c->prefix)
			mask = 0;
		else if (c->prefix - bit >= 8)
			mask = 0xff;
		else
			mask = (uint8_t)(0xff << (8 - (c->prefix - bit)));
		if ((c->addr[i] & ~mask) != 0)
			*hostbits = 1;
	}
	return *hostbits ? -1 : 0;
}

static int
is_loopback(const struct config_hostport *hp)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	if (hp->sa.ss_family == AF_INET) {
		sin = (const struct sockaddr_in *)&hp->sa;
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	}
	if (hp->sa.ss_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)&hp->sa;
		return IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
	}
	return 0;
}

/* ---------------------------------------------------------------- */
/* YAML node access                                                   */

static const char *
kind_name(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return "a scalar";
	case YAML_SEQUENCE_NODE:
		return "a sequence";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "nothing";
	}
}

/* The node at index, visited once: a second visit means an alias. */
static yaml_node_t *
node_at(struct loader *ld, int index)
{
	yaml_node_t	*n;

	if ((n = yaml_document_get_node(ld->doc, index)) == NULL)
		return NULL;
	if (ld->visited[index - 1]) {
		err_node(ld, n, "YAML aliases are not supported");
		return NULL;
	}
	ld->visited[index - 1] = 1;
	return n;
}

static int
want_kind(struct loader *ld, yaml_node_t *n, yaml_node_type_t t,
    const char *what)
{
	static const yaml_node_t	dummy = { .type = YAML_SCALAR_NODE };
	const char			*want;

	if (n->type == t)
		return 0;
	want = t == YAML_MAPPING_NODE ? "a mapping" :
	    t == YAML_SEQUENCE_NODE ? "a sequence" : kind_name(&dummy);
	if (what == NULL)
		what = ld->key;
	if (what != NULL)
		err_node(ld, n, "%s: expected %s, found %s", what, want,
		    kind_name(n));
	else
		err_node(ld, n, "expected %s, found %s", want, kind_name(n));
	return -1;
}

static int
is_null_scalar(const yaml_node_t *n)
{
	size_t		 len = n->data.scalar.length;
	const char	*s = (const char *)n->data.scalar.value;

	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	return len == 0 || (len == 1 && s[0] == '~') ||
	    (len == 4 && memcmp(s, "null", 4) == 0);
}

/* A non-empty scalar; s and len point into the document. */
static int
scalar(struct loader *ld, yaml_node_t *n, const char *what, const char **s,
    size_t *len)
{
	if (want_kind(ld, n, YAML_SCALAR_NODE, what) == -1)
		return -1;
	if (is_null_scalar(n)) {
		err_node(ld, n, "%s: missing value", what);
		return -1;
	}
	*s = (const char *)n->data.scalar.value;
	*len = n->data.scalar.length;
	return 0;
}

/* A printable string copied into the arena. */
static const char *
get_text(struct loader *ld, yaml_node_t *n, const char *what)
{
	const char	*s;
	size_t		 len, i;

	if (scalar(ld, n, what, &s, &len) == -1)
		return NULL;
	if (len > CONFIG_STRING_MAX) {
		err_node(ld, n, "%s: longer than %d octets", what,
		    CONFIG_STRING_MAX);
		return NULL;
	}
	for (i = 0; i < len; i++) {
		if (!is_text((unsigned char)s[i])) {
			err_node(ld, n, "%s: control or non-ASCII octet "
			    "at offset %zu", what, i);
			return NULL;
		}
	}
	return lstrndup(ld, s, len);
}

static const char *
get_domain(struct loader *ld, yaml_node_t *n, const char *what)
{
	char		 name[CONFIG_DOMAIN_MAX + 1];
	const char	*s;
	size_t		 len;

	if (scalar(ld, n, what, &s, &len) == -1)
		return NULL;
	if (config_domain_normalize(s, len, name) == -1) {
		err_node(ld, n, "%s: invalid domain name '%.*s'", what,
		    (int)(len > 80 ? 80 : len), s);
		return NULL;
	}
	return lstrndup(ld, name, strlen(name));
}

static int
seq_len(const yaml_node_t *n)
{
	return (int)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static int parse_map(struct loader *, yaml_node_t *, const struct field *,
    void *, uint64_t *);

#define AT(base, off, type)	((type *)(void *)((char *)(base) + (off)))

static int
parse_field(struct loader *ld, const struct field *f, yaml_node_t *n,
    void *base)
{
	char		 lo[32], hi[32];
	const char	*s, *str;
	size_t		 len, i;
	uint64_t	 v;
	int		 rc;

	switch (f->type) {
	case F_STR:
		if ((str = get_text(ld, n, f->key)) == NULL)
			return -1;
		*AT(base, f->off, const char *) = str;
		return 0;
	case F_DOMAIN:
		if ((str = get_domain(ld, n, f->key)) == NULL)
			return -1;
		*AT(base, f->off, const char *) = str;
		return 0;
	case F_BOOL:
		if (scalar(ld, n, f->key, &s, &len) == -1)
			return -1;
		if ((len == 4 && memcmp(s, "true", 4) == 0) ||
		    (len == 3 && memcmp(s, "yes", 3) == 0) ||
		    (len == 2 && memcmp(s, "on", 2) == 0))
			*AT(base, f->off, int) = 1;
		else if ((len == 5 && memcmp(s, "false", 5) == 0) ||
		    (len == 2 && memcmp(s, "no", 2) == 0) ||
		    (len == 3 && memcmp(s, "off", 3) == 0))
			*AT(base, f->off, int) = 0;
		else {
			err_node(ld, n, "%s: expected true or false", f->key);
			return -1;
		}
		return 0;
	case F_ENUM:
		if (scalar(ld, n, f->key, &s, &len) == -1)
			return -1;
		for (i = 0; f->names[i].name != NULL; i++) {
			if (strlen(f->names[i].name) == len &&
			    memcmp(f->names[i].name, s, len) == 0) {
				*AT(base, f->off, int) = f->names[i].val;
				return 0;
			}
		}
		if (ld->errors != NULL && ld->nerrors < CONFIG_ERRORS_MAX) {
			struct buf	*b;

			if ((b = buf_new(512)) == NULL) {
				ld->oom = 1;
				return -1;
			}
			for (i = 0; f->names[i].name != NULL; i++)
				buf_printf(b, "%s%s", i ? ", " : "",
				    f->names[i].name);
			err_node(ld, n, "%s: invalid value '%.*s' (expected "
			    "%s)", f->key, (int)(len > 40 ? 40 : len), s,
			    buf_cstr(b) != NULL ? buf_cstr(b) : "?");
			buf_free(b);
		} else
			err_node(ld, n, "%s: invalid value", f->key);
		return -1;
	case F_UINT:
	case F_U32:
	case F_SIZE:
	case F_MS:
	case F_SEC:
		if (scalar(ld, n, f->key, &s, &len) == -1)
			return -1;
		if (f->type == F_UINT || f->type == F_U32)
			rc = parse_uint(s, len, &v);
		else if (f->type == F_SIZE)
			rc = parse_size(s, len, &v);
		else
			rc = parse_duration(s, len, &v);
		if (rc == -1) {
			err_node(ld, n, "%s: invalid %s '%.*s'%s", f->key,
			    f->type == F_UINT || f->type == F_U32 ? "number" :
			    f->type == F_SIZE ? "size" : "duration",
			    (int)(len > 40 ? 40 : len), s,
			    f->type == F_SIZE ? " (e.g. 512K, 10M)" :
			    f->type == F_UINT || f->type == F_U32 ? "" :
			    " (e.g. 300s, 5m, 2h, 5d)");
			return -1;
		}
		if (v < f->min || v > f->max) {
			fmt_value(lo, sizeof(lo), f->type, f->min);
			fmt_value(hi, sizeof(hi), f->type, f->max);
			err_node(ld, n, "%s: %.*s out of range (%s..%s)",
			    f->key, (int)(len > 40 ? 40 : len), s, lo, hi);
			return -1;
		}
		if (f->type == F_SEC) {
			if (v % SEC != 0) {
				err_node(ld, n, "%s: must be whole seconds",
				    f->key);
				return -1;
			}
			v /= SEC;
		}
		if (f->type == F_U32)
			*AT(base, f->off, unsigned int) = (unsigned int)v;
		else
			*AT(base, f->off, uint64_t) = v;
		return 0;
	case F_HOSTPORT:
		if (scalar(ld, n, f->key, &s, &len) == -1)
			return -1;
		if (parse_hostport(ld, s, len, 0,
		    AT(base, f->off, struct config_hostport)) == -1) {
			err_node(ld, n, "%s: invalid address '%.*s' (expected "
			    "IPv4:port or [IPv6]:port)", f->key,
			    (int)(len > 80 ? 80 : len), s);
			return -1;
		}
		return 0;
	case F_MAP:
		return parse_map(ld, n, f->sub, AT(base, f->off, char), NULL);
	case F_FUNC:
		return f->fn(ld, n, base);
	}
	abort();
}

/*
 * Check the mapping's keys against the table (unknown, duplicate,
 * missing), then parse the present ones in table order.  *seenp gets one
 * bit per table entry present.
 */
static int
parse_map(struct loader *ld, yaml_node_t *n, const struct field *fields,
    void *base, uint64_t *seenp)
{
	yaml_node_t		*vals[CONFIG_KEYS_MAX];
	const char		*saved_key;
	yaml_node_pair_t	*p;
	yaml_node_t		*k;
	uint64_t		 seen = 0;
	size_t			 i, nf;
	int			 rc = 0;

	for (nf = 0; fields[nf].key != NULL; nf++) {
		if (nf == CONFIG_KEYS_MAX) {
			fprintf(stderr, "config: key table over %d entries\n",
			    CONFIG_KEYS_MAX);
			abort();
		}
		vals[nf] = NULL;
	}
	if (seenp != NULL)
		*seenp = 0;
	if (want_kind(ld, n, YAML_MAPPING_NODE, NULL) == -1)
		return -1;
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	    p++) {
		if ((k = node_at(ld, p->key)) == NULL)
			return -1;
		if (k->type != YAML_SCALAR_NODE) {
			err_node(ld, k, "keys must be scalars, found %s",
			    kind_name(k));
			rc = -1;
			continue;
		}
		for (i = 0; i < nf; i++)
			if (strlen(fields[i].key) == k->data.scalar.length &&
			    memcmp(fields[i].key, k->data.scalar.value,
			    k->data.scalar.length) == 0)
				break;
		if (i == nf) {
			err_node(ld, k, "unknown key '%.*s'",
			    (int)(k->data.scalar.length > 60 ? 60 :
			    k->data.scalar.length),
			    (const char *)k->data.scalar.value);
			rc = -1;
			continue;
		}
		if (seen & (1ULL << i)) {
			err_node(ld, k, "duplicate key '%s'", fields[i].key);
			rc = -1;
			continue;
		}
		seen |= 1ULL << i;
		if ((vals[i] = node_at(ld, p->value)) == NULL)
			rc = -1;
	}
	for (i = 0; i < nf && !stopped(ld); i++) {
		if (vals[i] != NULL) {
			saved_key = ld->key;
			ld->key = fields[i].key;
			if (parse_field(ld, &fields[i], vals[i], base) == -1)
				rc = -1;
			ld->key = saved_key;
		} else if ((fields[i].flags & F_REQUIRED) &&
		    !(seen & (1ULL << i))) {
			err_node(ld, n, "missing required key '%s'",
			    fields[i].key);
			rc = -1;
		}
	}
	if (seenp != NULL)
		*seenp = seen;
	return rc;
}

static int
seen_key(uint64_t seen, const struct field *fields, const char *key)
{
	size_t	i;

	for (i = 0; fields[i].key != NULL; i++)
		if (strcmp(fields[i].key, key) == 0)
			return (seen & (1ULL << i)) != 0;
	abort();
}

/*
 * A sequence of scalars as strings.  check (may be NULL) validates and
 * may rewrite one entry; it returns the string to keep or NULL.
 */
typedef const char *(*item_fn)(struct loader *, yaml_node_t *,
    const char *what);

static int
parse_str_list(struct loader *ld, yaml_node_t *n, const char *what,
    item_fn item, const char ***outp, size_t *noutp)
{
	const char	**out;
	yaml_node_item_t *it;
	yaml_node_t	*e;
	size_t		 cnt = 0, i;
	int		 rc = 0;

	*outp = NULL;
	*noutp = 0;
	if (want_kind(ld, n, YAML_SEQUENCE_NODE, what) == -1)
		return -1;
	if (seq_len(n) == 0)
		return 0;
	if ((out = lalloc(ld, (size_t)seq_len(n), sizeof(*out))) == NULL)
		return -1;
	for (it = n->data.sequence.items.start;
	    it < n->data.sequence.items.top; it++) {
		const char	*s;

		if ((e = node_at(ld, *it)) == NULL ||
		    (s = item(ld, e, what)) == NULL) {
			rc = -1;
			continue;
		}
		for (i = 0; i < cnt; i++) {
			if (strcmp(out[i], s) == 0) {
				err_node(ld, e, "%s: duplicate entry '%s'",
				    what, s);
				rc = -1;
				break;
			}
		}
		if (i == cnt)
			out[cnt++] = s;
	}
	*outp = out;
	*noutp = cnt;
	return rc;
}

/* ---------------------------------------------------------------- */
/* Section handlers                                                   */

static const struct name_val auth_names[] = {
	{ "off", CONFIG_AUTH_OFF }, { "optional", CONFIG_AUTH_OPTIONAL },
	{ "required", CONFIG_AUTH_REQUIRED }, { NULL, 0 },
};
static const struct name_val proxy_names[] = {
	{ "off", CONFIG_PROXY_OFF }, { "v1", CONFIG_PROXY_V1 },
	{ "v2", CONFIG_PROXY_V2 }, { "any", CONFIG_PROXY_ANY }, { NULL, 0 },
};
static const struct name_val bare_lf_names[] = {
	{ "reject", CONFIG_BARE_LF_REJECT }, { NULL, 0 },
};
static const struct name_val tls_names[] = {
	{ "off", CONFIG_TLS_OFF },
	{ "opportunistic", CONFIG_TLS_OPPORTUNISTIC },
	{ "required", CONFIG_TLS_REQUIRED }, { NULL, 0 },
};
static const struct name_val chunking_names[] = {
	{ "auto", CONFIG_CHUNKING_AUTO }, { "off", CONFIG_CHUNKING_OFF },
	{ NULL, 0 },
};
static const struct name_val alg_names[] = {
	{ "rsa", CONFIG_ALG_RSA }, { "ed25519", CONFIG_ALG_ED25519 },
	{ NULL, 0 },
};
static const struct name_val unsigned_names[] = {
	{ "refuse", CONFIG_UNSIGNED_REFUSE },
	{ "allow", CONFIG_UNSIGNED_ALLOW },
	{ NULL, 0 },
};
static const struct name_val strategy_names[] = {
	{ "dual-selector", CONFIG_STRATEGY_DUAL_SELECTOR },
	{ "generational", CONFIG_STRATEGY_GENERATIONAL }, { NULL, 0 },
};
static const struct name_val backend_names[] = {
	{ "none", CONFIG_DNS_NONE }, { "rfc2136", CONFIG_DNS_RFC2136 },
	{ "zonefile", CONFIG_DNS_ZONEFILE }, { "exec", CONFIG_DNS_EXEC },
	{ NULL, 0 },
};
static const struct name_val tsig_names[] = {
	{ "hmac-sha256", CONFIG_TSIG_HMAC_SHA256 },
	{ "hmac-sha384", CONFIG_TSIG_HMAC_SHA384 },
	{ "hmac-sha512", CONFIG_TSIG_HMAC_SHA512 }, { NULL, 0 },
};
static const struct name_val level_names[] = {
	{ "err", LOG_ERR }, { "error", LOG_ERR }, { "warning", LOG_WARNING },
	{ "notice", LOG_NOTICE }, { "info", LOG_INFO }, { "debug", LOG_DEBUG },
	{ NULL, 0 },
};

_Static_assert(sizeof(enum config_auth) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_alg) == sizeof(int), "enum size");

#define FSTR(k, s, m)	{ k, F_STR, offsetof(s, m), 0, 0, NULL, NULL, NULL, 0 }
#define FREQ(k, s, m)	{ k, F_STR, offsetof(s, m), 0, 0, NULL, NULL, NULL, \
			    F_REQUIRED }
#define FDOM(k, s, m)	{ k, F_DOMAIN, offsetof(s, m), 0, 0, NULL, NULL, \
			    NULL, 0 }
#define FBOOL(k, s, m)	{ k, F_BOOL, offsetof(s, m), 0, 0, NULL, NULL, NULL, 0 }
#define FENUM(k, s, m, names) \
			{ k, F_ENUM, offsetof(s, m), 0, 0, names, NULL, NULL, \
			    0 }
#define FNUM(k, t, s, m, lo, hi) \
			{ k, t, offsetof(s, m), lo, hi, NULL, NULL, NULL, 0 }
#define FHP(k, s, m)	{ k, F_HOSTPORT, offsetof(s, m), 0, 0, NULL, NULL, \
			    NULL, 0 }
#define FMAP(k, sub)	{ k, F_MAP, 0, 0, 0, NULL, sub, NULL, 0 }
#define FFN(k, fn)	{ k, F_FUNC, 0, 0, 0, NULL, NULL, fn, 0 }
#define FFNREQ(k, fn)	{ k, F_FUNC, 0, 0, 0, NULL, NULL, fn, F_REQUIRED }
#define FEND		{ NULL, F_STR, 0, 0, 0, NULL, NULL, NULL, 0 }

/* listen[] ---------------------------------------------------------- */

static int
listener_address(struct loader *ld, yaml_node_t *n, void *base)
{
	struct config_listener	*l = base;
	const char		*s;
	size_t			 len;

	if (scalar(ld, n, "address", &s, &len) == -1)
		return -1;
	if (parse_hostport(ld, s, len, 0, &l->address) == -1) {
		err_node(ld, n, "address: invalid listen address '%.*s' "
		    "(expected IPv4:port or [IPv6]:port)",
		    (int)(len > 80 ? 80 : len), s);
		return -1;
	}
	return 0;
}

static const struct field tls_files_fields[] = {
	FREQ("cert", struct config_tls_files, cert),
	FREQ("key", struct config_tls_files, key),
	FSTR("client_ca", struct config_tls_files, client_ca),
	FEND,
};

static int
listener_tls(struct loader *ld, yaml_node_t *n, void *base)
{
	struct config_listener	*l = base;

	l->has_tls = 1;
	return parse_map(ld, n, tls_files_fields, &l->tls, NULL);
}

static const struct field listener_fields[] = {
	{ "address", F_FUNC, 0, 0, 0, NULL, NULL, listener_address,
	    F_REQUIRED },
	FFN("starttls", listener_tls),
	FBOOL("implicit_tls", struct config_listener, implicit_tls),
	FENUM("auth", struct config_listener, auth, auth_names),
	FENUM("proxy_protocol", struct config_listener, proxy_protocol,
	    proxy_names),
	FENUM("bare_lf", struct config_listener, bare_lf, bare_lf_names),
	FEND,
};

static int
section_listen(struct loader *ld, yaml_node_t *n, void *base)
{
	struct config		*cfg = base;
	struct config_listener	*ls, *l;
	yaml_node_item_t	*it;
	yaml_node_t		*e;
	size_t			 cnt = 0, i;
	int			 rc = 0;

	if (want_kind(ld, n, YAML_SEQUENCE_NODE, "listen") == -1)
		return -1;
	if (seq_len(n) == 0) {
		err_node(ld, n, "listen: at least one listener is needed");
		return -1;
	}
	if ((ls = lalloc(ld, (size_t)seq_len(n), sizeof(*ls))) == NULL)
		return -1;
	for (it = n->data.sequence.items.start;
	    it < n->data.sequence.items.top && !stopped(ld); it++) {
		if ((e = node_at(ld, *it)) == NULL) {
			rc = -1;
			continue;
		}
		l = &ls[cnt];
		if (parse_map(ld, e, listener_fields, l, NULL) == -1)
			rc = -1;
		if (l->address.salen == 0)
			continue;
		if (l->implicit_tls && !l->has_tls) {
			err_node(ld, e, "implicit_tls needs starttls: { cert, "
			    "key }");
			rc = -1;
		}
		/* TL-06: passwords in clear only over loopback. */
		if (l->auth != CONFIG_AUTH_OFF && !l->has_tls &&
		    !is_loopback(&l->address)) {
			err_node(ld, e, "auth: %s needs TLS (starttls: "
			    "{ cert, key }) on the non-loopback listener %s",
			    l->auth == CONFIG_AUTH_REQUIRED ? "required" :
			    "optional", l->address.host);
			rc = -1;
		}
		for (i = 0; i < cnt; i++) {
			if (ls[i].address.salen == l->address.salen &&
			    memcmp(&ls[i].address.sa, &l->address.sa,
			    l->address.salen) == 0) {
				err_node(ld, e, "listener %s port %u is "
				    "listed twice", l->address.host,
				    l->address.port);
				rc = -1;
				break;
			}
		}
		cnt++;
	}
	cfg->listeners = ls;
	cfg->nlisteners = cnt;
	return rc;
}

/* upstream ---------------------------------------------------------- */

static int
upstream_address(struct loader *ld, yaml_node_t *n, void *base)
{
	struct config_upstream	*u = base;
	const char		*s;
	size_t			 len, i;

	if (scalar(ld, n, "address", &s, &len) == -1)
		return -1;
	if (len > 5 && memcmp(s, "file:", 5) == 0) {
		for (i = 5; i < len; i++) {
			if (!is_text((unsigned char)s[i])) {
				err_node(ld, n, "address: control octet in "
				    "path");
				return -1;
			}
		}
		if (len - 5 > CONFIG_STRING_MAX) {
			err_node(ld, n, "address: path too long");
			return -1;
		}
		u->is_file = 1;
		u->file_dir = lstrndup(ld, s + 5, len - 5);
		return u->file_dir == NULL ? -1 : 0;
	}
	if (parse_hostport(ld, s, len, 1, &u->address) == -1) {
		err_node(ld, n, "address: invalid upstream '%.*s' (expected "
		    "host:port, [IPv6]:port or file:DIR)",
		    (int)(len > 80 ? 80 : len), s);
		return -1;
	}
	return 0;
}

static const struct field upstream_auth_fields[] = {
	FREQ("user", struct config_upstream, auth_user),
	FREQ("secret_file", struct config_upstream, auth_secret_file),
	FEND,
};

static const struct field upstream_timeout_fields[] = {
	FNUM("connect", F_MS, struct config_upstream, connect_timeout_ms,
	    UP_TIMEOUT_MIN, UP_CONNECT_MAX),
	FNUM("greeting", F_MS, struct config_upstream, greeting_timeout_ms,
	    UP_TIMEOUT_MIN, UP_GREETING_MAX),
	FNUM("command", F_MS, struct config_upstream, command_timeout_ms,
	    UP_TIMEOUT_MIN, UP_COMMAND_MAX),
	FNUM("final", F_MS, struct config_upstream, final_timeout_ms,
	    UP_TIMEOUT_MIN, UP_FINAL_MAX),
	FNUM("noop_interval", F_MS, struct config_upstream, noop_interval_ms,
	    UP_TIMEOUT_MIN, UP_NOOP_MAX),
	FEND,
};

static const struct field upstream_fields[] = {
	FFNREQ("address", upstream_address),
	FENUM("starttls", struct config_upstream, starttls, tls_names),
	FBOOL("implicit_tls", struct config_upstream, implicit_tls),
	FSTR("ca_file", struct config_upstream, ca_file),
	FBOOL("verify", struct config_upstream, verify),
	FDOM("servername", struct config_upstream, servername),
	FBOOL("connection_cache", struct config_upstream, connection_cache),
	FENUM("chunking", struct config_upstream, chunking, chunking_names),
	FMAP("auth", upstream_auth_fields),
	FMAP("timeouts", upstream_timeout_fields),
	FEND,
};

static int
section_upstream(struct loader *ld, yaml_node_t *n, void *base)
{
	struct config		*cfg = base;
	struct config_upstream	*u = &cfg->upstream;
	uint64_t		 seen;
	int			 rc;

	rc = parse_map(ld, n, upstream_fields, u, &seen);
	if (u->implicit_tls) {
		if (seen_key(seen, upstream_fields, "starttls") &&
		    u->starttls != CONFIG_TLS_OFF) {
			err_node(ld, n, "upstream: implicit_tls and starttls "
			    "exclude each other");
			rc = -1;
		}
		u->starttls = CONFIG_TLS_OFF;
	}
	/* A password goes in clear only to a loopback upstream (TL-06). */
	if (!u->is_file && u->auth_user != NULL && !u->implicit_tls &&
	    u->starttls == CONFIG_TLS_OFF && !is_loopback(&u->address)) {
		err_node(ld, n, "upstream: auth needs TLS (starttls or "
		    "implicit_tls) towards the non-loopback upstream %s",
		    u->address.host);
		rc = -1;
	}
	if (u->is_file && (u->implicit_tls || u->auth_user != NULL)) {
		err_node(ld, n, "upstream: a file: upstream takes no TLS or "
		    "auth settings");
		rc = -1;
	}
	return rc;
}

/* signing ----------------------------------------------------------- */

static const char *
item_field_name(struct loader *ld, yaml_node_t *n, const char *what)
{
	char		 name[CONFIG_FIELD_NAME_MAX + 1];
	const char	*s;
	size_t		 len, i;

	if (scalar(ld, n, what, &s, &len) == -1)
		return NULL;
	if (len > CONFIG_FIELD_NAME_MAX) {
		err_node(ld, n, "%s: field name too long", what);
		return NULL;
	}
	for (i = 0; i < len; i++) {
		if (!is_ftext((unsigned char)s[i])) {
			err_node(ld, n, "%s: invalid header field name "
			    "'%.*s'", what, (int)len, s);
			return NULL;
		}
		name[i] = (char)to_lower((unsigned char)s[i]);
	}
	name[len] = '\0';
	/* One list of trace and transport fields, shared with the signer
	 * (DK-02, DK-15); Bcc is removed before signing, never signed. */
	if (!dkim_header_signable(name) || strcmp(name, "bcc") == 0) {
		err_node(ld, n, "%s: '%s' must not be signed (it changes in "
		    "transit)", what, name);
		return NULL;
	}
	return lstrndup(ld, name, len);
}

static int
signing_headers(struct loader *ld, yaml_node_t *n, void *base)
{
	struct config_signing	 *sg = base;
	const char		**list;
	size_t			  cnt, i;
	int			  rc;

	rc = parse_str_list(ld, n, "headers", item_field_name, &list, &cnt);
	for (i = 0; i < cnt; i++)
		if (strcmp(list[i], "from") == 0)
			break;
	if (rc == 0 && i == cnt) {
		err_node(ld, n, "headers: must include 'from' (RFC 6376 "
		    "5.4)");
		rc = -1;
	}
	sg->headers = list;
	sg->nheaders = cnt;
	return rc;
}

static int
signing_oversign(struct loader *ld, yaml_node_t *n, void *base)
{
	struct config_signing	 *sg = base;
	const char		**list;
	size_t			  cnt, i, j;
	int			  rc;

	rc = parse_str_list(ld, n, "oversign", item_field_name, &list, &cnt);
	for (i = 0; i < cnt; i++) {
		for (j = 0; j < sg->nheaders; j++)
			if (strcmp(list[i], sg->headers[j]) == 0)
				break;
		if (j == sg->nheaders) {
			err_node(ld, n, "oversign: '%s' is not in headers",
			    list[i]);
			rc = -1;
		}
	}
	sg->oversign = list;
	sg->noversign = cnt;
	return rc;
}

/* c = header-canon ["/" body-canon]; RFC 6376 3.5: body defaults simple. */
static int
signing_canon(struct loader *ld, yaml_node_t *n, void *base)
{
	struct config_signing	*sg = base;
	const char		*s, *slash;
	size_t			 len, hlen;
	int			 h, b = CONFIG_CANON_SIMPLE;

	if (scalar(ld, n, "canonicalization", &s, &len) == -1)
		return -1;
	slash = memchr(s, '/', len);
	hlen = slash != NULL ? (size_t)(slash - s) : len;
	if (hlen == 6 && memcmp(s, "simple", 6) == 0)
		h = CONFIG_CANON_SIMPLE;
	else if (hlen == 7 && memcmp(s, "relaxed", 7) == 0)
		h = CONFIG_CANON_RELAXED;
	else
		goto bad;
	if (slash != NULL) {
		if (len - hlen - 1 == 6 && memcmp(slash + 1, "simple", 6) == 0)
			b = CONFIG_CANON_SIMPLE;
		else if (len - hlen - 1 == 7 &&
		    memcmp(slash + 1, "relaxed", 7) == 0)
			b = CONFIG_CANON_RELAXED;
		else
			goto bad;
	}
	sg->canon_header = h;
	sg->canon_body = b;
	return 0;
bad:
	err_node(ld, n, "canonicalization: invalid value '%.*s' (expected "
	    "simple or relaxed, optionally /simple or /relaxed)",
	    (int)(len > 40 ? 40 : len), s);
	return -1;
}

static const struct field signing_fields[] = {
	FFN("canonicalization", signing_canon),
	FFN("headers", signing_headers),
	FFN("oversign", signing_oversign),
	FNUM("expiration", F_SEC, struct config_signing, expiration_s, 0,
	    EXPIRATION_MAX),
	FENUM("algorithm", struct config_signing, algorithm, alg_names),
	FNUM("bits", F_U32, struct config_signing, bits, RSA_BITS_MIN,
	    RSA_BITS_MAX),
	FEND,
};

static int
section_signing(struct loader *ld, yaml_node_t *n, void *base)
{
	struct config	*cfg = base;
	int		 rc;

	rc = parse_map(ld, n, signing_fields, &cfg->signing, NULL);
	if (cfg->signing.expiration_s != 0 &&
	    cfg->signing.expiration_s < HOUR / SEC) {
		err_node(ld, n, "expiration: use 0 (no x=) or at least 1h");
		rc = -1;
	}
	return rc;
}

/* rotation ---------------------------------------------------------- */

static int
dns_authoritative(struct loader *ld, yaml_node_t *n, void *base)
{
	struct config_rotation	*r = base;
	struct config_hostport	*hp;
	yaml_node_item_t	*it;
	yaml_node_t		*e;
	const char		*s;
	size_t			 len, cnt = 0;
	int			 rc = 0;

	if (want_kind(ld, n, YAML_SEQUENCE_NODE, "authoritative") == -1)
		return -1;
	if (seq_len(n) == 0)
		return 0;
	if ((hp = lalloc(ld, (size_t)seq_len(n), sizeof(*hp))) == NULL)
		return -1;
	for (it = n->data.sequence.items.start;
	    it < n->data.sequence.items.top; it++) {
		if ((e = node_at(ld, *it)) == NULL ||
		    scalar(ld, e, "authoritative", &s, &len) == -1) {
			rc = -1;
			continue;
		}
		if (parse_hostport(ld, s, len, 0, &hp[cnt]) == -1) {
			err_node(ld, e, "authoritative: invalid server '%.*s' "
			    "(expected IPv4:port or [IPv6]:port)",
			    (int)(len > 80 ? 80 : len), s);
			rc = -1;
			continue;
		}
		cnt++;
	}
	r->authoritative = hp;
	r->nauthoritative = cnt;
	return rc;
}

static int
dns_server(struct loader *ld, yaml_node_t *n, void *base)
{
	struct config_rotation	*r = base;
	const char		*s;
	size_t			 len;

	if (scalar(ld, n, "server", &s, &len) == -1)
		return -1;
	/* An IP: the UPDATE must not depend on the DNS it changes. */
	if (parse_hostport(ld, s, len, 0, &r->server) == -1) {
		err_node(ld, n, "server: invalid address '%.*s' (expected "
		    "IPv4:port or [IPv6]:port)", (int)(len > 80 ? 80 : len), s);
		return -1;
	}
	return 0;
}

static int
exec_hook(struct loader *ld, yaml_node_t *n, void *base)
{
	struct config_rotation	*r = base;

	if ((r->exec_hook = get_text(ld, n, "hook")) == NULL)
		return -1;
	if (r->exec_hook[0] != '/') {
		err_node(ld, n, "hook: must be an absolute path");
		return -1;
	}
	return 0;
}

static const struct field tsig_fields[] = {
	{ "name", F_DOMAIN, offsetof(struct config_rotation, tsig_name), 0, 0,
	    NULL, NULL, NULL, F_REQUIRED },
	FENUM("algorithm", struct config_rotation, tsig_algorithm, tsig_names),
	FREQ("secret_file", struct config_rotation, tsig_secret_file),
	FEND,
};

static const struct field zonefile_fields[] = {
	FREQ("path", struct config_rotation, zonefile_path),
	FSTR("reload_command", struct config_rotation,
	    zonefile_reload_command),
	FEND,
};

static const struct field exec_fields[] = {
	FFNREQ("hook", exec_hook),
	FEND,
};

static const struct field dns_fields[] = {
	FENUM("backend", struct config_rotation, backend, backend_names),
	FFN("server", dns_server),
	FDOM("zone", struct config_rotation, zone),
	FFN("authoritative", dns_authoritative),
	FMAP("tsig", tsig_fields),
	FMAP("zonefile", zonefile_fields),
	FMAP("exec", exec_fields),
	FEND,
};

static int
rotation_dns(struct loader *ld, yaml_node_t *n, void *base)
{
	struct config_rotation	*r = base;
	uint64_t		 seen;
	int			 rc;

	rc = parse_map(ld, n, dns_fields, r, &seen);
	if (rc == -1)
		return -1;
	switch (r->backend) {
	case CONFIG_DNS_RFC2136:
		if (!seen_key(seen, dns_fields, "server")) {
			err_node(ld, n, "dns: backend rfc2136 needs server");
			rc = -1;
		}
		if (r->tsig_name == NULL) {
			err_node(ld, n, "dns: backend rfc2136 needs tsig "
			    "(unsigned UPDATEs are not sent)");
			rc = -1;
		}
		break;
	case CONFIG_DNS_ZONEFILE:
		if (r->zonefile_path == NULL) {
			err_node(ld, n, "dns: backend zonefile needs "
			    "zonefile: { path }");
			rc = -1;
		}
		break;
	case CONFIG_DNS_EXEC:
		if (r->exec_hook == NULL) {
			err_node(ld, n, "dns: backend exec needs exec: "
			    "{ hook }");
			rc = -1;
		}
		break;
	case CONFIG_DNS_NONE:
		break;
	}
	/*
	 * libldns (1.8) looks the name up as "hmac-shac384." and fails
	 * every UPDATE; refusing it here beats failing at the first rotation.
	 */
	if (r->tsig_name != NULL &&
	    r->tsig_algorithm == CONFIG_TSIG_HMAC_SHA384) {
		err_node(ld, n, "dns: tsig algorithm hmac-sha384 cannot sign "
		    "updates (libldns); use hmac-sha256 or hmac-sha512");
		rc = -1;
	}
	if ((seen_key(seen, dns_fields, "zonefile") &&
	    r->backend != CONFIG_DNS_ZONEFILE) ||
	    (seen_key(seen, dns_fields, "exec") &&
	    r->backend != CONFIG_DNS_EXEC) ||
	    ((seen_key(seen, dns_fields, "server") ||
	    seen_key(seen, dns_fields, "tsig")) &&
	    r->backend != CONFIG_DNS_RFC2136)) {
		err_node(ld, n, "dns: settings for a backend other than the "
		    "one selected");
		rc = -1;
	}
	return rc;
}

static int
rotation_disclose(struct loader *ld, yaml_node_t *n, void *base)
{
	struct config_rotation	*r = base;

	if ((r->disclose_dir = get_text(ld, n, "disclose")) == NULL)
		return -1;
	if (r->disclose_dir[0] != '/') {
		err_node(ld, n, "disclose: must be an absolute path");
		return -1;
	}
	return 0;
}

static const struct field rotation_fields[] = {
	FENUM("strategy", struct config_rotation, strategy, strategy_names),
	FFN("disclose", rotation_disclose),
	FNUM("period", F_SEC, struct config_rotation, period_s, PERIOD_MIN,
	    PERIOD_MAX),
	FNUM("max_transit", F_SEC, struct config_rotation, max_transit_s,
	    TRANSIT_MIN, TRANSIT_MAX),
	FNUM("reload_bound", F_SEC, struct config_rotation, reload_bound_s,
	    RELOAD_BOUND_MIN, RELOAD_BOUND_MAX),
	FNUM("skew", F_SEC, struct config_rotation, skew_s, 0, SKEW_MAX),
	FNUM("ttl", F_SEC, struct config_rotation, ttl_s, TTL_MIN, TTL_MAX),
	FNUM("self_check", F_SEC, struct config_rotation, self_check_s, 0,
	    SELF_CHECK_MAX),
	FFN("dns", rotation_dns),
	FEND,
};

static int
section_rotation(struct loader *ld, yaml_node_t *n, void *base)
{
	struct config		*cfg = base;
	struct config_rotation	*r = &cfg->rotation;
	int			 rc;

	rc = parse_map(ld, n, rotation_fields, r, NULL);
	/*
	 * rotation.md I5: a slot may leave ACTIVE only after the other was
	 * ACTIVE for M + R + S, and its successor needs the TTL to become
	 * READY; a shorter period could never be honoured.
	 */
	if (rc == 0 && r->period_s <= r->max_transit_s + r->reload_bound_s +
	    r->skew_s + r->ttl_s) {
		err_node(ld, n, "rotation: period must exceed max_transit + "
		    "reload_bound + skew + ttl");
		rc = -1;
	}
	return rc;
}

/* domains ----------------------------------------------------------- */

static const char *
item_selector(struct loader *ld, yaml_node_t *n, const char *what)
{
	char		 name[CONFIG_DOMAIN_MAX + 1];
	const char	*s;
	size_t		 len, i;

	if (scalar(ld, n, what, &s, &len) == -1)
		return NULL;
	/* RFC 6376 3.1: selector = sub-domain *("." sub-domain). */
	for (i = 0; i < len && i < CONFIG_DOMAIN_MAX; i++)
		name[i] = (char)to_lower((unsigned char)s[i]);
	if (len > CONFIG_DOMAIN_MAX - 12 || check_domain(name, len) == -1 ||
	    memchr(s, '_', len) != NULL) {
		err_node(ld, n, "%s: invalid selector '%.*s'", what,
		    (int)(len > 60 ? 60 : len), s);
		return NULL;
	}
	return lstrndup(ld, name, len);
}

static const char *
item_domain(struct loader *ld, yaml_node_t *n, const char *what)
{
	return get_domain(ld, n, what);
}

static int
domain_selectors(struct loader *ld, yaml_node_t *n, void *base)
{
	struct config_domain	 *d = base;
	const char		**list;
	size_t			  cnt;
	int			  rc;

	rc = parse_str_list(ld, n, "selectors", item_selector, &list, &cnt);
	if (rc == 0 && (cnt == 0 || cnt > CONFIG_SELECTORS_MAX)) {
		err_node(ld, n, "selectors: between 1 and %d selectors",
		    CONFIG_SELECTORS_MAX);
		rc = -1;
	}
	if (cnt > 0) {
		d->selectors = list;
		d->nselectors = cnt;
	}
	return rc;
}

static int
arc_trusted(struct loader *ld, yaml_node_t *n, void *base)
{
	struct config_arc	 *a = base;
	const char		**list;
	size_t			  cnt;
	int			  rc;

	rc = parse_str_list(ld, n, "trusted_authserv_ids", item_domain, &list,
	    &cnt);
	a->trusted_authserv_ids = list;
	a->ntrusted_authserv_ids = cnt;
	return rc;
}

static int
arc_selector(struct loader *ld, yaml_node_t *n, void *base)
{
	struct config_arc	*a = base;

	a->selector = item_selector(ld, n, "selector");
	return a->selector == NULL ? -1 : 0;
}

static const struct field arc_fields[] = {
	FBOOL("enabled", struct config_arc, enabled),
	FFN("selector", arc_selector),
	FDOM("authserv_id", struct config_arc, authserv_id),
	FFN("trusted_authserv_ids", arc_trusted),
	FEND,
};

static int
domain_arc(struct loader *ld, yaml_node_t *n, void *base)
{
	struct config_domain	*d = base;
	size_t			 i;
	int			 rc;

	d->arc.enabled = 1;
	rc = parse_map(ld, n, arc_fields, &d->arc, NULL);
	if (rc == 0 && d->arc.enabled &&
	    (d->arc.selector == NULL || d->arc.authserv_id == NULL)) {
		err_node(ld, n, "arc: enabled needs selector and "
		    "authserv_id");
		rc = -1;
	}
	/* selectors: is parsed first (table order), defaults included. */
	for (i = 0; rc == 0 && d->arc.enabled && i < d->nselectors; i++) {
		if (strcmp(d->selectors[i], d->arc.selector) == 0) {
			err_node(ld, n, "arc: selector %s is also a DKIM "
			    "selector; ARC keys rotate on their own",
			    d->arc.selector);
			rc = -1;
		}
	}
	return rc;
}

/* Is the record name "<selector>._domainkey.<domain>" inside zone? */
static int
zone_holds(const char *zone, const char *domain)
{
	size_t	zl = strlen(zone), dl = strlen(domain);

	if (strcmp(zone, domain) == 0)
		return 1;
	/* The zone is the domain or one of its ancestors. */
	if (dl > zl && domain[dl - zl - 1] == '.' &&
	    strcmp(domain + dl - zl, zone) == 0)
		return 1;
	/* Below the domain only a delegated _domainkey.<domain> zone. */
	return zl == dl + 11 && strncmp(zone, "_domainkey.", 11) == 0 &&
	    strcmp(zone + 11, domain) == 0;
}

static const struct field domain_fields[] = {
	FFN("selectors", domain_selectors),
	FENUM("algorithm", struct config_domain, algorithm, alg_names),
	FNUM("bits", F_U32, struct config_domain, bits, RSA_BITS_MIN,
	    RSA_BITS_MAX),
	FBOOL("subdomains", struct config_domain, subdomains),
	FBOOL("extra_ed25519", struct config_domain, extra_ed25519),
	FDOM("zone", struct config_domain, zone),
	{ "arc", F_FUNC, 0, 0, 0, NULL, NULL, domain_arc, 0 },
	FEND,
};

static const char *const default_selectors[] = { "s1", "s2" };

static int
domain_cmp(const void *a, const void *b)
{
	return strcmp(((const struct config_domain *)a)->name,
	    ((const struct config_domain *)b)->name);
}

static int
section_domains(struct loader *ld, yaml_node_t *n, void *base)
{
	struct config		*cfg = base;
	struct config_domain	*ds, *d;
	yaml_node_pair_t	*p;
	yaml_node_t		*k, *v;
	size_t			 cnt = 0, i;
	uint64_t		 seen;
	int			 rc = 0, found;

	if (want_kind(ld, n, YAML_MAPPING_NODE, "domains") == -1)
		return -1;
	i = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	if (i == 0)
		return 0;
	if ((ds = lalloc(ld, i, sizeof(*ds))) == NULL)
		return -1;
	for (p = n->data.mapping.pairs.start;
	    p < n->data.mapping.pairs.top && !stopped(ld); p++) {
		if ((k = node_at(ld, p->key)) == NULL ||
		    (v = node_at(ld, p->value)) == NULL) {
			rc = -1;
			continue;
		}
		d = &ds[cnt];
		if ((d->name = get_domain(ld, k, "domains")) == NULL) {
			rc = -1;
			continue;
		}
		d->selectors = default_selectors;
		d->nselectors = 2;
		d->algorithm = cfg->signing.algorithm;
		d->bits = cfg->signing.bits;
		if (!(v->type == YAML_SCALAR_NODE && is_null_scalar(v)) &&
		    parse_map(ld, v, domain_fields, d, &seen) == -1) {
			rc = -1;
			continue;
		}
		if (v->type == YAML_SCALAR_NODE && is_null_scalar(v))
			seen = 0;
		if (d->algorithm == CONFIG_ALG_ED25519 &&
		    seen_key(seen, domain_fields, "bits")) {
			err_node(ld, v, "bits: applies to rsa keys only");
			rc = -1;
		}
		if (d->zone == NULL)
			d->zone = cfg->rotation.zone != NULL ?
			    cfg->rotation.zone : d->name;
		if (!zone_holds(d->zone, d->name)) {
			err_node(ld, k, "domain %s: its _domainkey records "
			    "are not inside zone %s (set zone:)", d->name,
			    d->zone);
			rc = -1;
		}
		if (cfg->rotation.backend != CONFIG_DNS_NONE &&
		    cfg->rotation.strategy == CONFIG_STRATEGY_DUAL_SELECTOR &&
		    d->nselectors != 2) {
			err_node(ld, k, "domain %s: strategy dual-selector "
			    "needs exactly two selectors", d->name);
			rc = -1;
		}
		if (htab_put(&ld->ix->domains, d->name, strlen(d->name), cnt,
		    0, &found) == NULL) {
			ld->oom = 1;
			return -1;
		}
		if (found) {
			err_node(ld, k, "domain %s is listed twice", d->name);
			rc = -1;
			continue;
		}
		cnt++;
	}
	/* Sorted for config dumps and stable iteration; re-index. */
	qsort(ds, cnt, sizeof(*ds), domain_cmp);
	htab_clear(&ld->ix->domains);
	for (i = 0; i < cnt; i++) {
		if (htab_put(&ld->ix->domains, ds[i].name, strlen(ds[i].name),
		    i, 0, &found) == NULL) {
			ld->oom = 1;
			return -1;
		}
	}
	cfg->domains = ds;
	cfg->ndomains = cnt;
	return rc;
}

/* tenants ----------------------------------------------------------- */

static struct config_tenant *
cur_tenant(struct loader *ld)
{
	return &ld->ix->tenants[ld->tenant];
}

static int
tenant_name(struct loader *ld, yaml_node_t *n, void *base)
{
	struct config_tenant	*t = base;
	const struct config_tenant *other;
	struct hent		*e;
	const char		*s;
	size_t			 len, i;
	int			 found;

	if (scalar(ld, n, "name", &s, &len) == -1)
		return -1;
	for (i = 0; i < len; i++)
		if (!is_name_char((unsigned char)s[i]))
			break;
	if (len > CONFIG_TENANT_NAME_MAX || i < len) {
		err_node(ld, n, "name: tenant names are 1-%d of A-Z a-z 0-9 "
		    ". _ -", CONFIG_TENANT_NAME_MAX);
		return -1;
	}
	if ((t->name = lstrndup(ld, s, len)) == NULL)
		return -1;
	if ((e = htab_put(&ld->ix->names, t->name, len, ld->tenant, 0,
	    &found)) == NULL) {
		ld->oom = 1;
		return -1;
	}
	if (found) {
		other = &ld->ix->tenants[e->val];
		err_node(ld, n, "tenant name '%s' is already used (%s)",
		    t->name, other->source);
		return -1;
	}
	return 0;
}

static int
tenant_networks(struct loader *ld, yaml_node_t *n, void *base)
{
	struct config_tenant	*t = base;
	struct config_cidr	*cs;
	struct lpm		*lpm;
	struct hent		*he;
	yaml_node_item_t	*it;
	yaml_node_t		*e;
	const char		*s;
	uint8_t			*key;
	size_t			 len, cnt = 0;
	int			 rc = 0, hostbits, found;

	if (want_kind(ld, n, YAML_SEQUENCE_NODE, "networks") == -1)
		return -1;
	if (seq_len(n) == 0)
		return 0;
	if ((cs = lalloc(ld, (size_t)seq_len(n), sizeof(*cs))) == NULL)
		return -1;
	for (it = n->data.sequence.items.start;
	    it < n->data.sequence.items.top; it++) {
		struct config_cidr	*c = &cs[cnt];

		if ((e = node_at(ld, *it)) == NULL ||
		    scalar(ld, e, "networks", &s, &len) == -1) {
			rc = -1;
			continue;
		}
		if (parse_cidr(s, len, c, &hostbits) == -1) {
			err_node(ld, e, "networks: %s '%.*s'", hostbits ?
			    "host bits set in" : "invalid CIDR",
			    (int)(len > 60 ? 60 : len), s);
			rc = -1;
			continue;
		}
		if ((key = lalloc(ld, 1, 18)) == NULL)
			return -1;
		key[0] = (uint8_t)c->family;
		key[1] = (uint8_t)c->prefix;
		memcpy(key + 2, c->addr, 16);
		if ((he = htab_put(&ld->ix->nets, key, 18, ld->tenant, 0,
		    &found)) == NULL) {
			ld->oom = 1;
			return -1;
		}
		if (found) {
			err_node(ld, e, "networks: %.*s already belongs to "
			    "tenant '%s'", (int)(len > 60 ? 60 : len), s,
			    ld->ix->tenants[he->val].name);
			rc = -1;
			continue;
		}
		lpm = c->family == AF_INET ? &ld->ix->v4 : &ld->ix->v6;
		if (lpm->n == lpm->cap) {
			size_t		 ncap = lpm->cap ? lpm->cap * 2 : 64;
			struct lpm_ent	*ne;

			if ((ne = reallocarray(lpm->e, ncap,
			    sizeof(*ne))) == NULL) {
				ld->oom = 1;
				return -1;
			}
			lpm->e = ne;
			lpm->cap = ncap;
		}
		memcpy(lpm->e[lpm->n].addr, c->addr, 16);
		lpm->e[lpm->n].prefix = c->prefix;
		lpm->e[lpm->n].tenant = ld->tenant;
		lpm->n++;
		cnt++;
	}
	t->networks = cs;
	t->nnetworks = cnt;
	return rc;
}

static const struct field user_fields[] = {
	FREQ("name", struct config_user, name),
	FREQ("password", struct config_user, password),
	FEND,
};

static int
tenant_users(struct loader *ld, yaml_node_t *n, void *base)
{
	struct config_tenant	*t = base;
	struct config_user	*us, *u;
	struct hent		*he;
	yaml_node_item_t	*it;
	yaml_node_t		*e;
	size_t			 cnt = 0, i;
	int			 rc = 0, found;

	if (want_kind(ld, n, YAML_SEQUENCE_NODE, "users") == -1)
		return -1;
	if (seq_len(n) == 0)
		return 0;
	if ((us = lalloc(ld, (size_t)seq_len(n), sizeof(*us))) == NULL)
		return -1;
	for (it = n->data.sequence.items.start;
	    it < n->data.sequence.items.top; it++) {
		u = &us[cnt];
		if ((e = node_at(ld, *it)) == NULL ||
		    parse_map(ld, e, user_fields, u, NULL) == -1) {
			rc = -1;
			continue;
		}
		/* RFC 4954 / TL-07: no space or controls in a SASL name. */
		for (i = 0; u->name[i] != '\0'; i++)
			if (u->name[i] == ' ')
				break;
		if (u->name[i] != '\0' || i > CONFIG_USER_NAME_MAX) {
			err_node(ld, e, "users: name must be 1-%d printable "
			    "octets without spaces", CONFIG_USER_NAME_MAX);
			rc = -1;
			continue;
		}
		if (strncmp(u->password, "$argon2id$", 10) != 0 ||
		    strlen(u->password) > CONFIG_PASSWORD_MAX) {
			err_node(ld, e, "users: password must be an argon2id "
			    "string from `signetctl passwd`");
			rc = -1;
			continue;
		}
		if ((he = htab_put(&ld->ix->users, u->name, strlen(u->name),
		    ld->tenant, cnt, &found)) == NULL) {
			ld->oom = 1;
			return -1;
		}
		if (found) {
			err_node(ld, e, "users: user '%s' already belongs to "
			    "tenant '%s'", u->name,
			    ld->ix->tenants[he->val].name);
			rc = -1;
			continue;
		}
		cnt++;
	}
	t->users = us;
	t->nusers = cnt;
	return rc;
}

/* fingerprint = "sha256:" 32(2HEXDIG) with ":" between all or none. */
static int
parse_fingerprint(const char *s, size_t len, uint8_t fp[CONFIG_CERT_FP_LEN])
{
	size_t	i, pos = 7;
	int	colons;

	if (len < 7 || strncasecmp(s, "sha256:", 7) != 0)
		return -1;
	if (len == 7 + 2 * CONFIG_CERT_FP_LEN)
		colons = 0;
	else if (len == 7 + 3 * CONFIG_CERT_FP_LEN - 1)
		colons = 1;
	else
		return -1;
	for (i = 0; i < CONFIG_CERT_FP_LEN; i++) {
		if (i > 0 && colons && s[pos++] != ':')
			return -1;
		if (!is_hex((unsigned char)s[pos]) ||
		    !is_hex((unsigned char)s[pos + 1]))
			return -1;
		fp[i] = (uint8_t)(hex_val((unsigned char)s[pos]) << 4 |
		    hex_val((unsigned char)s[pos + 1]));
		pos += 2;
	}
	return 0;
}

static int
tenant_certificates(struct loader *ld, yaml_node_t *n, void *base)
{
	struct config_tenant	*t = base;
	uint8_t			(*fps)[CONFIG_CERT_FP_LEN];
	struct hent		*he;
	yaml_node_item_t	*it;
	yaml_node_t		*e;
	const char		*s;
	size_t			 len, cnt = 0;
	int			 rc = 0, found;

	if (want_kind(ld, n, YAML_SEQUENCE_NODE, "certificates") == -1)
		return -1;
	if (seq_len(n) == 0)
		return 0;
	if ((fps = lalloc(ld, (size_t)seq_len(n), sizeof(*fps))) == NULL)
		return -1;
	for (it = n->data.sequence.items.start;
	    it < n->data.sequence.items.top; it++) {
		if ((e = node_at(ld, *it)) == NULL ||
		    scalar(ld, e, "certificates", &s, &len) == -1) {
			rc = -1;
			continue;
		}
		if (parse_fingerprint(s, len, fps[cnt]) == -1) {
			err_node(ld, e, "certificates: expected \"sha256:\" "
			    "and 32 hex octets (colons optional)");
			rc = -1;
			continue;
		}
		if ((he = htab_put(&ld->ix->certs, fps[cnt],
		    CONFIG_CERT_FP_LEN, ld->tenant, 0, &found)) == NULL) {
			ld->oom = 1;
			return -1;
		}
		if (found) {
			err_node(ld, e, "certificates: already belongs to "
			    "tenant '%s'", ld->ix->tenants[he->val].name);
			rc = -1;
			continue;
		}
		cnt++;
	}
	t->certificates = (const uint8_t (*)[CONFIG_CERT_FP_LEN])fps;
	t->ncertificates = cnt;
	return rc;
}

static const struct config_domain *
domain_lookup(const struct config *cfg, const char *name);

static int
tenant_domains(struct loader *ld, yaml_node_t *n, void *base)
{
	struct config_tenant		*t = base;
	struct config_tenant_domain	*tds, *td;
	const struct config_domain	*d;
	const struct hent		*oe;
	struct hent			*he;
	yaml_node_item_t		*it;
	yaml_node_t			*e;
	yaml_node_t			**nodes;
	struct htab			*tab;
	const char			*s;
	char				 name[CONFIG_DOMAIN_MAX + 1];
	size_t				 len, cnt = 0, i;
	int				 rc = 0, found;

	if (want_kind(ld, n, YAML_SEQUENCE_NODE, "domains") == -1)
		return -1;
	if (seq_len(n) == 0)
		return 0;
	if ((tds = lalloc(ld, (size_t)seq_len(n), sizeof(*tds))) == NULL)
		return -1;
	if ((nodes = calloc((size_t)seq_len(n), sizeof(*nodes))) == NULL) {
		ld->oom = 1;
		return -1;
	}
	for (it = n->data.sequence.items.start;
	    it < n->data.sequence.items.top; it++) {
		td = &tds[cnt];
		if ((e = node_at(ld, *it)) == NULL ||
		    scalar(ld, e, "domains", &s, &len) == -1) {
			rc = -1;
			continue;
		}
		if (len > 2 && s[0] == '*' && s[1] == '.') {
			td->wildcard = 1;
			s += 2;
			len -= 2;
		}
		if (config_domain_normalize(s, len, name) == -1) {
			err_node(ld, e, "domains: invalid domain name "
			    "'%.*s'", (int)(len > 80 ? 80 : len), s);
			rc = -1;
			continue;
		}
		if ((td->name = lstrndup(ld, name, strlen(name))) == NULL)
			break;
		if ((d = domain_lookup(ld->cfg, td->name)) == NULL) {
			err_node(ld, e, "domains: %s%s is not listed in "
			    "domains:", td->wildcard ? "*." : "", td->name);
			rc = -1;
			continue;
		}
		tab = td->wildcard ? &ld->ix->wild : &ld->ix->exact;
		if ((he = htab_put(tab, td->name, strlen(td->name),
		    ld->tenant, 0, &found)) == NULL) {
			ld->oom = 1;
			break;
		}
		if (found) {
			err_node(ld, e, "domains: %s%s already belongs to "
			    "tenant '%s'", td->wildcard ? "*." : "", td->name,
			    ld->ix->tenants[he->val].name);
			rc = -1;
			continue;
		}
		nodes[cnt] = e;
		cnt++;
	}
	/*
	 * A name signed with a parent's key (subdomains: true) carries the
	 * parent in d=, so the tenant must own that parent too (TN-02).
	 */
	for (i = 0; i < cnt && !ld->oom; i++) {
		td = &tds[i];
		d = domain_lookup(ld->cfg, td->name);
		if (td->wildcard && !d->subdomains)
			continue;
		if (!td->wildcard && strcmp(d->name, td->name) == 0)
			continue;
		oe = htab_get(&ld->ix->exact, d->name, strlen(d->name));
		if (oe == NULL || oe->val != ld->tenant) {
			err_node(ld, nodes[i], "domains: %s%s is signed as "
			    "%s (subdomains: true), so the tenant must also "
			    "own %s", td->wildcard ? "*." : "", td->name,
			    d->name, d->name);
			rc = -1;
		}
	}
	free(nodes);
	t->domains = tds;
	t->ndomains = cnt;
	return ld->oom ? -1 : rc;
}

static int
extra_sig_selector(struct loader *ld, yaml_node_t *n, void *base)
{
	struct config_extra_sig	*x = base;

	x->selector = item_selector(ld, n, "selector");
	return x->selector == NULL ? -1 : 0;
}

static const struct field extra_sig_fields[] = {
	{ "domain", F_DOMAIN, offsetof(struct config_extra_sig, domain), 0, 0,
	    NULL, NULL, NULL, F_REQUIRED },
	FFNREQ("selector", extra_sig_selector),
	FEND,
};

static int
tenant_extra(struct loader *ld, yaml_node_t *n, void *base)
{
	struct config_tenant		*t = base;
	struct config_extra_sig		*xs, *x;
	const struct hent		*he;
	const struct config_domain	*d;
	yaml_node_item_t		*it;
	yaml_node_t			*e;
	size_t				 cnt = 0, i;
	int				 rc = 0;

	if (want_kind(ld, n, YAML_SEQUENCE_NODE, "extra_signatures") == -1)
		return -1;
	if (seq_len(n) == 0)
		return 0;
	if ((xs = lalloc(ld, (size_t)seq_len(n), sizeof(*xs))) == NULL)
		return -1;
	for (it = n->data.sequence.items.start;
	    it < n->data.sequence.items.top; it++) {
		x = &xs[cnt];
		if ((e = node_at(ld, *it)) == NULL ||
		    parse_map(ld, e, extra_sig_fields, x, NULL) == -1) {
			rc = -1;
			continue;
		}
		if ((he = htab_get(&ld->ix->domains, x->domain,
		    strlen(x->domain))) == NULL) {
			err_node(ld, e, "extra_signatures: %s is not listed "
			    "in domains:", x->domain);
			rc = -1;
			continue;
		}
		d = &ld->cfg->domains[he->val];
		for (i = 0; i < d->nselectors; i++)
			if (strcmp(d->selectors[i], x->selector) == 0)
				break;
		if (i == d->nselectors) {
			err_node(ld, e, "extra_signatures: %s is not a "
			    "selector of %s", x->selector, x->domain);
			rc = -1;
			continue;
		}
		cnt++;
	}
	t->extra_signatures = xs;
	t->nextra_signatures = cnt;
	return rc;
}

static const struct field rate_fields[] = {
	FNUM("messages", F_UINT, struct config_tenant, rate_messages, 0,
	    UINT32_MAX),
	FNUM("recipients", F_UINT, struct config_tenant, rate_recipients, 0,
	    UINT32_MAX),
	FNUM("window", F_SEC, struct config_tenant, rate_window_s, SEC,
	    7 * DAY),
	FEND,
};

/* A tenant's own header lists (its mail only); checked as signing's. */
static const struct field tenant_signing_fields[] = {
	FFN("headers", signing_headers),
	FFN("oversign", signing_oversign),
	FEND,
};

static const struct field tenant_fields[] = {
	FFNREQ("name", tenant_name),
	FFN("networks", tenant_networks),
	FFN("users", tenant_users),
	FFN("certificates", tenant_certificates),
	FFN("domains", tenant_domains),
	FFN("extra_signatures", tenant_extra),
	FENUM("unsigned", struct config_tenant, unsigned_mail,
	    unsigned_names),
	FBOOL("allow_null_sender", struct config_tenant, allow_null_sender),
	FMAP("rate", rate_fields),
	{ "signing", F_MAP, offsetof(struct config_tenant, signing), 0, 0, NULL,
	    tenant_signing_fields, NULL, 0 },
	FEND,
};

/* Room for more tenants; the array may move (callers keep indexes). */
static int
tenants_reserve(struct loader *ld, size_t more)
{
	struct config_index	*ix = ld->ix;
	struct config_tenant	*nt;
	size_t			 want;

	if (more > SIZE_MAX / 2 - ix->ntenants) {
		ld->oom = 1;
		return -1;
	}
	want = ix->ntenants + more;
	if (want <= ix->captenants)
		return 0;
	if ((nt = reallocarray(ix->tenants, want, sizeof(*nt))) == NULL) {
		ld->oom = 1;
		return -1;
	}
	ix->tenants = nt;
	ix->captenants = want;
	return 0;
}

/* Parse one tenant mapping into the next slot of ix->tenants. */
static int
parse_tenant(struct loader *ld, yaml_node_t *n, const char *source)
{
	struct config_tenant	*t;
	int			 rc;

	if (ld->ix->ntenants >= CONFIG_TENANTS_MAX) {
		err_node(ld, n, "more than %d tenants", CONFIG_TENANTS_MAX);
		return -1;
	}
	if (ld->ix->ntenants == ld->ix->captenants &&
	    tenants_reserve(ld, ld->ix->captenants + 16) == -1)
		return -1;
	ld->tenant = ld->ix->ntenants++;
	t = cur_tenant(ld);
	memset(t, 0, sizeof(*t));
	t->source = source;
	t->name = "";
	t->unsigned_mail = CONFIG_UNSIGNED_REFUSE;
	t->rate_window_s = 3600;
	rc = parse_map(ld, n, tenant_fields, t, NULL);
	if (rc == 0 && t->nnetworks + t->nusers + t->ncertificates == 0) {
		err_node(ld, n, "tenant '%s': needs networks, users or "
		    "certificates, or no client can use it", t->name);
		rc = -1;
	}
	if (rc == 0 && t->ndomains == 0) {
		err_node(ld, n, "tenant '%s': needs at least one domain",
		    t->name);
		rc = -1;
	}
	return rc;
}

static int
section_tenants(struct loader *ld, yaml_node_t *n, void *base)
{
	yaml_node_item_t	*it;
	yaml_node_t		*e;
	int			 rc = 0;

	(void)base;
	if (want_kind(ld, n, YAML_SEQUENCE_NODE, "tenants") == -1)
		return -1;
	for (it = n->data.sequence.items.start;
	    it < n->data.sequence.items.top && !stopped(ld); it++) {
		if ((e = node_at(ld, *it)) == NULL ||
		    parse_tenant(ld, e, ld->cfg->path) == -1)
			rc = -1;
	}
	return rc;
}


static int	load_document(struct loader *, const void *, size_t,
		    int (*)(struct loader *, yaml_node_t *, void *), void *);

static int
tenant_file_root(struct loader *ld, yaml_node_t *root, void *base)
{
	return parse_tenant(ld, root, base);
}

static int
read_file(const char *path, size_t max, char **datap, size_t *lenp, int *errp)
{
	struct stat	 st;
	char		*data = NULL;
	size_t		 len = 0;
	ssize_t		 r;
	int		 fd, rc = -1;

	*errp = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		*errp = errno;
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		*errp = errno;
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		*errp = EINVAL;
		goto done;
	}
	if ((uint64_t)st.st_size > max) {
		*errp = EFBIG;
		goto done;
	}
	if ((data = malloc((size_t)st.st_size + 1)) == NULL) {
		*errp = ENOMEM;
		goto done;
	}
	while (len <= (size_t)st.st_size) {
		r = read(fd, data + len, (size_t)st.st_size + 1 - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			*errp = errno;
			goto done;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len > (size_t)st.st_size) {
		/* The file grew while we read it: refuse a moving target. */
		*errp = EAGAIN;
		goto done;
	}
	*datap = data;
	*lenp = len;
	data = NULL;
	rc = 0;
done:
	free(data);
	close(fd);
	return rc;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "*.yaml", not hidden: editors' backups and dotfiles are skipped. */
static int
is_tenant_file(const char *name)
{
	size_t	len = strlen(name);

	return name[0] != '.' && len > 5 &&
	    strcmp(name + len - 5, ".yaml") == 0;
}

static int
section_tenants_dir(struct loader *ld, yaml_node_t *n, void *base)
{
	struct config	 *cfg = base;
	DIR		 *dir = NULL;
	struct dirent	 *de;
	char		**names = NULL, **nn, *data;
	const char	 *path, *saved_file = ld->file;
	size_t		  nnames = 0, cap = 0, i, len;
	int		  rc = -1, err;

	if ((cfg->tenants_dir = get_text(ld, n, "tenants_dir")) == NULL)
		return -1;
	if ((dir = opendir(cfg->tenants_dir)) == NULL) {
		err_node(ld, n, "tenants_dir: %s: %s", cfg->tenants_dir,
		    strerror(errno));
		return -1;
	}
	while ((errno = 0, de = readdir(dir)) != NULL) {
		if (!is_tenant_file(de->d_name))
			continue;
		if (nnames >= CONFIG_TENANTS_MAX) {
			err_node(ld, n, "tenants_dir: more than %d files",
			    CONFIG_TENANTS_MAX);
			goto done;
		}
		if (nnames == cap) {
			cap = cap ? cap * 2 : 256;
			if ((nn = reallocarray(names, cap,
			    sizeof(*names))) == NULL) {
				ld->oom = 1;
				goto done;
			}
			names = nn;
		}
		if ((names[nnames] = strdup(de->d_name)) == NULL) {
			ld->oom = 1;
			goto done;
		}
		nnames++;
	}
	if (errno != 0) {
		err_node(ld, n, "tenants_dir: %s: %s", cfg->tenants_dir,
		    strerror(errno));
		goto done;
	}
	if (nnames > 0)
		qsort(names, nnames, sizeof(*names), name_cmp);
	if (tenants_reserve(ld, nnames) == -1)
		goto done;
	rc = 0;
	for (i = 0; i < nnames && !stopped(ld); i++) {
		char	*p;

		ld->fileno++;
		len = strlen(cfg->tenants_dir) + 1 + strlen(names[i]) + 1;
		if ((p = lalloc(ld, 1, len)) == NULL)
			break;
		snprintf(p, len, "%s/%s", cfg->tenants_dir, names[i]);
		path = p;
		if (read_file(path, CONFIG_TENANT_FILE_MAX, &data, &len,
		    &err) == -1) {
			err_file(ld, path, "%s", strerror(err));
			rc = -1;
			continue;
		}
		ld->file = path;
		if (load_document(ld, data, len, tenant_file_root,
		    (void *)path) == -1)
			rc = -1;
		ld->file = saved_file;
		free(data);
	}
done:
	for (i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	closedir(dir);
	return ld->oom ? -1 : rc;
}

/* top level --------------------------------------------------------- */

static int
section_workers(struct loader *ld, yaml_node_t *n, void *base)
{
	struct config	*cfg = base;
	const char	*s;
	size_t		 len;
	uint64_t	 v;

	if (scalar(ld, n, "workers", &s, &len) == -1)
		return -1;
	if (len == 4 && memcmp(s, "auto", 4) == 0) {
		cfg->workers = 0;
		return 0;
	}
	if (parse_uint(s, len, &v) == -1 || v < 1 || v > WORKERS_MAX) {
		err_node(ld, n, "workers: expected auto or 1..%d",
		    WORKERS_MAX);
		return -1;
	}
	cfg->workers = (unsigned int)v;
	return 0;
}

static int
section_user(struct loader *ld, yaml_node_t *n, void *base)
{
	struct config	*cfg = base;
	const char	*s;
	size_t		 len, i;

	if (scalar(ld, n, "user", &s, &len) == -1)
		return -1;
	/* useradd(8)'s portable names: [a-z_][a-z0-9_-]*, 32 at most. */
	for (i = 0; i < len; i++) {
		int	c = (unsigned char)s[i];

		if (!((c >= 'a' && c <= 'z') || c == '_' ||
		    (i > 0 && (is_digit(c) || c == '-'))))
			break;
	}
	if (len > CONFIG_SYSUSER_MAX || i < len) {
		err_node(ld, n, "user: invalid user name");
		return -1;
	}
	cfg->user = lstrndup(ld, s, len);
	return cfg->user == NULL ? -1 : 0;
}

static int
section_metrics(struct loader *ld, yaml_node_t *n, void *base)
{
	static const struct field fields[] = {
		{ "listen", F_HOSTPORT, offsetof(struct config,
		    metrics_listen), 0, 0, NULL, NULL, NULL, F_REQUIRED },
		FEND,
	};
	struct config	*cfg = base;

	cfg->has_metrics = 1;
	return parse_map(ld, n, fields, cfg, NULL);
}

static const struct field limits_fields[] = {
	FNUM("max_message_size", F_SIZE, struct config_limits,
	    max_message_size, MESSAGE_SIZE_MIN, MESSAGE_SIZE_MAX),
	FNUM("max_recipients", F_UINT, struct config_limits, max_recipients,
	    RECIPIENTS_MIN, RECIPIENTS_MAX),
	FNUM("max_connections", F_UINT, struct config_limits, max_connections,
	    CONNECTIONS_MIN, CONNECTIONS_MAX),
	FNUM("max_connections_per_ip", F_UINT, struct config_limits,
	    max_connections_per_ip, CONNECTIONS_IP_MIN, CONNECTIONS_IP_MAX),
	FNUM("connection_rate", F_UINT, struct config_limits, connection_rate,
	    0, CONN_RATE_MAX),
	FNUM("command_line_max", F_SIZE, struct config_limits,
	    command_line_max, COMMAND_LINE_MIN, COMMAND_LINE_MAX),
	FNUM("auth_line_max", F_SIZE, struct config_limits, auth_line_max,
	    AUTH_LINE_MIN, AUTH_LINE_MAX),
	FNUM("header_size_max", F_SIZE, struct config_limits, header_size_max,
	    HEADER_SIZE_MIN, HEADER_SIZE_MAX),
	FNUM("header_field_max", F_SIZE, struct config_limits,
	    header_field_max, HEADER_FIELD_MIN, HEADER_FIELD_MAX),
	FNUM("header_fields_max", F_UINT, struct config_limits,
	    header_fields_max, HEADER_FIELDS_MIN, HEADER_FIELDS_MAX),
	FNUM("max_received", F_UINT, struct config_limits, max_received,
	    RECEIVED_MIN, RECEIVED_MAX),
	FNUM("io_buffer_max", F_SIZE, struct config_limits, io_buffer_max,
	    IO_BUFFER_MIN, IO_BUFFER_MAX),
	FNUM("idle_timeout", F_MS, struct config_limits, idle_timeout_ms,
	    IDLE_TIMEOUT_MIN, IDLE_TIMEOUT_MAX),
	FNUM("overload_timeout", F_MS, struct config_limits,
	    overload_timeout_ms, OVERLOAD_TIMEOUT_MIN, OVERLOAD_TIMEOUT_MAX),
	FNUM("data_timeout", F_MS, struct config_limits, data_timeout_ms,
	    DATA_TIMEOUT_MIN, DATA_TIMEOUT_MAX),
	FNUM("tls_handshake_timeout", F_MS, struct config_limits,
	    tls_handshake_timeout_ms, TLS_TIMEOUT_MIN, TLS_TIMEOUT_MAX),
	FNUM("min_data_rate", F_SIZE, struct config_limits, min_data_rate, 0,
	    MIN_DATA_RATE_MAX),
	FNUM("soft_error_limit", F_UINT, struct config_limits,
	    soft_error_limit, ERRORS_MIN, ERRORS_MAX),
	FNUM("hard_error_limit", F_UINT, struct config_limits,
	    hard_error_limit, ERRORS_MIN, ERRORS_MAX),
	FNUM("junk_command_limit", F_UINT, struct config_limits,
	    junk_command_limit, JUNK_MIN, JUNK_MAX),
	FNUM("error_delay", F_MS, struct config_limits, error_delay_ms, 0,
	    ERROR_DELAY_MAX),
	FNUM("greeting_delay", F_MS, struct config_limits, greeting_delay_ms,
	    0, GREETING_DELAY_MAX),
	FNUM("auth_failures", F_UINT, struct config_limits, auth_failures,
	    AUTH_FAILURES_MIN, AUTH_FAILURES_MAX),
	FNUM("drain_timeout", F_MS, struct config_limits, drain_timeout_ms, 0,
	    DRAIN_TIMEOUT_MAX),
	FEND,
};

static int
section_limits(struct loader *ld, yaml_node_t *n, void *base)
{
	struct config		*cfg = base;
	struct config_limits	*l = &cfg->limits;
	int			 rc;

	rc = parse_map(ld, n, limits_fields, l, NULL);
	if (rc == 0 && l->soft_error_limit > l->hard_error_limit) {
		err_node(ld, n, "limits: soft_error_limit above "
		    "hard_error_limit");
		rc = -1;
	}
	if (rc == 0 && l->header_field_max > l->header_size_max) {
		err_node(ld, n, "limits: header_field_max above "
		    "header_size_max");
		rc = -1;
	}
	return rc;
}

static const struct field log_fields[] = {
	FENUM("level", struct config, log_level, level_names),
	FBOOL("stderr", struct config, log_stderr),
	FEND,
};

static int
resolver_nameservers(struct loader *ld, yaml_node_t *n, void *base)
{
	struct config_resolver	*r = base;
	yaml_node_item_t	*it;
	yaml_node_t		*e;
	const char		*s;
	size_t			 len;
	int			 rc = 0;

	if (want_kind(ld, n, YAML_SEQUENCE_NODE, "nameservers") == -1)
		return -1;
	if (seq_len(n) > CONFIG_RESOLVER_NS_MAX) {
		err_node(ld, n, "nameservers: at most %d",
		    CONFIG_RESOLVER_NS_MAX);
		return -1;
	}
	for (it = n->data.sequence.items.start;
	    it < n->data.sequence.items.top && !stopped(ld); it++) {
		if ((e = node_at(ld, *it)) == NULL ||
		    scalar(ld, e, "nameservers", &s, &len) == -1) {
			rc = -1;
			continue;
		}
		if (parse_hostport(ld, s, len, 0,
		    &r->nameservers[r->nnameservers]) == -1) {
			err_node(ld, e, "nameservers: invalid address '%.*s' "
			    "(expected IPv4:port or [IPv6]:port)",
			    (int)(len > 80 ? 80 : len), s);
			rc = -1;
			continue;
		}
		r->nnameservers++;
	}
	return rc;
}

static const struct field resolver_fields[] = {
	FFN("nameservers", resolver_nameservers),
	FNUM("timeout", F_MS, struct config_resolver, timeout_ms,
	    RESOLVER_TIMEOUT_MIN, RESOLVER_TIMEOUT_MAX),
	FEND,
};

static int
section_resolver(struct loader *ld, yaml_node_t *n, void *base)
{
	struct config	*cfg = base;

	return parse_map(ld, n, resolver_fields, &cfg->resolver, NULL);
}

/* resolv(5): "nameserver ADDRESS" lines, the first three; port 53. */
static void
resolver_from_resolv_conf(struct config_resolver *r)
{
	FILE			*f;
	char			 line[RESOLV_LINE_MAX];
	char			 addr[INET6_ADDRSTRLEN + 1];
	struct config_hostport	*hp;
	struct sockaddr_in	*sin;
	struct sockaddr_in6	*sin6;

	if ((f = fopen(RESOLV_CONF, "re")) == NULL)
		return;
	while (r->nnameservers < CONFIG_RESOLVER_NS_MAX &&
	    fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "nameserver %46s", addr) != 1)
			continue;
		hp = &r->nameservers[r->nnameservers];
		memset(hp, 0, sizeof(*hp));
		sin = (struct sockaddr_in *)&hp->sa;
		sin6 = (struct sockaddr_in6 *)&hp->sa;
		if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
			sin->sin_family = AF_INET;
			sin->sin_port = htons(RESOLVER_PORT);
			hp->salen = sizeof(*sin);
		} else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
			sin6->sin6_family = AF_INET6;
			sin6->sin6_port = htons(RESOLVER_PORT);
			hp->salen = sizeof(*sin6);
		} else
			continue;
		hp->port = RESOLVER_PORT;
		hp->is_ip = 1;
		r->nnameservers++;
	}
	fclose(f);
}

static int
section_keystore(struct loader *ld, yaml_node_t *n, void *base)
{
	struct config	*cfg = base;

	cfg->keystore = get_text(ld, n, "keystore");
	return cfg->keystore == NULL ? -1 : 0;
}

/*
 * Order matters: each section may use the ones above it (domains reads
 * signing and rotation; tenants read domains).
 */
static const struct field root_fields[] = {
	FFNREQ("listen", section_listen),
	FFNREQ("upstream", section_upstream),
	FFNREQ("keystore", section_keystore),
	FREQ("spool", struct config, spool),
	FNUM("spool_memory_max", F_SIZE, struct config, spool_memory_max,
	    SPOOL_MEMORY_MIN, SPOOL_MEMORY_MAX),
	FNUM("keys_eager_max", F_UINT, struct config, keys_eager_max, 0,
	    KEYS_EAGER_MAX),
	FFN("signing", section_signing),
	FFN("limits", section_limits),
	FFN("rotation", section_rotation),
	FFN("domains", section_domains),
	FFN("tenants", section_tenants),
	FFN("tenants_dir", section_tenants_dir),
	FFN("metrics", section_metrics),
	FFN("workers", section_workers),
	FMAP("log", log_fields),
	FFN("user", section_user),
	FFN("resolver", section_resolver),
	FEND,
};

static int
root_fn(struct loader *ld, yaml_node_t *root, void *base)
{
	return parse_map(ld, root, root_fields, base, NULL);
}

static void
set_defaults(struct config *cfg)
{
	struct config_limits	*l = &cfg->limits;
	struct config_upstream	*u = &cfg->upstream;

	u->starttls = CONFIG_TLS_OPPORTUNISTIC;
	u->verify = 1;
	u->connection_cache = 1;
	u->chunking = CONFIG_CHUNKING_AUTO;
	u->connect_timeout_ms = UP_CONNECT_DEF;
	u->greeting_timeout_ms = UP_GREETING_DEF;
	u->command_timeout_ms = UP_COMMAND_DEF;
	u->final_timeout_ms = UP_FINAL_DEF;
	u->noop_interval_ms = UP_NOOP_DEF;
	cfg->spool_memory_max = SPOOL_MEMORY_DEF;
	cfg->keys_eager_max = KEYS_EAGER_DEF;
	cfg->signing.canon_header = CONFIG_CANON_RELAXED;
	cfg->signing.canon_body = CONFIG_CANON_RELAXED;
	/* The signer's defaults, so signetd and signetctl sign agree. */
	cfg->signing.headers = dkim_default_sign;
	cfg->signing.nheaders = dkim_default_nsign;
	cfg->signing.oversign = dkim_default_oversign;
	cfg->signing.noversign = dkim_default_noversign;
	cfg->signing.expiration_s = EXPIRATION_DEF / SEC;
	cfg->signing.algorithm = CONFIG_ALG_RSA;
	cfg->signing.bits = RSA_BITS_DEF;
	cfg->rotation.strategy = CONFIG_STRATEGY_DUAL_SELECTOR;
	cfg->rotation.period_s = PERIOD_DEF / SEC;
	cfg->rotation.max_transit_s = TRANSIT_DEF / SEC;
	cfg->rotation.reload_bound_s = RELOAD_BOUND_DEF / SEC;
	cfg->rotation.skew_s = SKEW_DEF / SEC;
	cfg->rotation.ttl_s = TTL_DEF / SEC;
	cfg->rotation.backend = CONFIG_DNS_NONE;
	cfg->rotation.tsig_algorithm = CONFIG_TSIG_HMAC_SHA256;
	l->max_message_size = MESSAGE_SIZE_DEF;
	l->max_recipients = RECIPIENTS_DEF;
	l->max_connections = CONNECTIONS_DEF;
	l->max_connections_per_ip = CONNECTIONS_IP_DEF;
	l->connection_rate = CONN_RATE_DEF;
	l->command_line_max = COMMAND_LINE_DEF;
	l->auth_line_max = AUTH_LINE_DEF;
	l->header_size_max = HEADER_SIZE_DEF;
	l->header_field_max = HEADER_FIELD_DEF;
	l->header_fields_max = HEADER_FIELDS_DEF;
	l->max_received = RECEIVED_DEF;
	l->io_buffer_max = IO_BUFFER_DEF;
	l->idle_timeout_ms = IDLE_TIMEOUT_DEF;
	l->overload_timeout_ms = OVERLOAD_TIMEOUT_DEF;
	l->data_timeout_ms = DATA_TIMEOUT_DEF;
	l->tls_handshake_timeout_ms = TLS_TIMEOUT_DEF;
	l->min_data_rate = MIN_DATA_RATE_DEF;
	l->soft_error_limit = SOFT_ERRORS_DEF;
	l->hard_error_limit = HARD_ERRORS_DEF;
	l->junk_command_limit = JUNK_DEF;
	l->error_delay_ms = ERROR_DELAY_DEF;
	l->greeting_delay_ms = GREETING_DELAY_DEF;
	l->auth_failures = AUTH_FAILURES_DEF;
	l->drain_timeout_ms = DRAIN_TIMEOUT_DEF;
	cfg->resolver.timeout_ms = RESOLVER_TIMEOUT_DEF;
	cfg->workers = 0;
	cfg->log_level = LOG_INFO;
	cfg->log_stderr = 0;
}

/* ---------------------------------------------------------------- */
/* Documents                                                          */

__attribute__((format(printf, 4, 5))) static void
err_pos(struct loader *ld, size_t line, size_t col, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	verr_at(ld, ld->file, line, col, fmt, ap);
	va_end(ap);
}

static void
yaml_error(struct loader *ld, const yaml_parser_t *p)
{
	const yaml_mark_t	*m = &p->problem_mark;

	if (p->error == YAML_MEMORY_ERROR) {
		ld->oom = 1;
		return;
	}
	err_pos(ld, m->line + 1, m->column + 1, "YAML syntax error: %s%s%s",
	    p->problem != NULL ? p->problem : "invalid input",
	    p->context != NULL ? " " : "",
	    p->context != NULL ? p->context : "");
}

/*
 * Compose one YAML document from data and hand its root to fn.  A
 * second document in the same stream is an error: it would be ignored.
 */
static int
load_document(struct loader *ld, const void *data, size_t len,
    int (*fn)(struct loader *, yaml_node_t *, void *), void *base)
{
	yaml_parser_t	 parser;
	yaml_document_t	 doc, extra;
	yaml_document_t	*outer_doc = ld->doc;
	yaml_node_t	*root;
	uint8_t		*outer_visited = ld->visited;
	size_t		 outer_nnodes = ld->nnodes;
	int		 rc = -1, have_doc = 0, have_extra = 0;

	if (!yaml_parser_initialize(&parser)) {
		ld->oom = 1;
		return -1;
	}
	yaml_parser_set_input_string(&parser, data, len);
	if (!yaml_parser_load(&parser, &doc)) {
		yaml_error(ld, &parser);
		goto done;
	}
	have_doc = 1;
	if (yaml_document_get_root_node(&doc) == NULL) {
		err_pos(ld, 1, 1, "empty configuration");
		goto done;
	}
	if (!yaml_parser_load(&parser, &extra)) {
		yaml_error(ld, &parser);
		goto done;
	}
	have_extra = 1;
	if ((root = yaml_document_get_root_node(&extra)) != NULL) {
		err_pos(ld, root->start_mark.line + 1,
		    root->start_mark.column + 1, "only one YAML document is "
		    "allowed");
		goto done;
	}
	ld->doc = &doc;
	ld->nnodes = (size_t)(doc.nodes.top - doc.nodes.start);
	if ((ld->visited = calloc(ld->nnodes, 1)) == NULL) {
		ld->oom = 1;
		goto done;
	}
	if ((root = node_at(ld, 1)) != NULL)
		rc = fn(ld, root, base);
done:
	if (ld->doc == &doc)
		free(ld->visited);
	/* tenants_dir files are loaded while the main document is open. */
	ld->visited = outer_visited;
	ld->doc = outer_doc;
	ld->nnodes = outer_nnodes;
	if (have_extra)
		yaml_document_delete(&extra);
	if (have_doc)
		yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return rc;
}

/* ---------------------------------------------------------------- */
/* Lookup index                                                       */

static void
mask_addr(uint8_t *out, const uint8_t *in, size_t alen, unsigned int prefix)
{
	size_t	i;

	for (i = 0; i < alen; i++) {
		unsigned int	bit = (unsigned int)i * 8;

		if (bit >= prefix)
			out[i] = 0;
		else if (prefix - bit >= 8)
			out[i] = in[i];
		else
			out[i] = in[i] &
			    (uint8_t)(0xff << (8 - (prefix - bit)));
	}
}

/* IPv4 entries keep bytes 4..15 zero, so 16 octets order both families. */
static int
lpm_cmp(const void *a, const void *b)
{
	const struct lpm_ent	*x = a, *y = b;

	if (x->prefix != y->prefix)
		return x->prefix > y->prefix ? -1 : 1;
	return memcmp(x->addr, y->addr, sizeof(x->addr));
}

/* Longest prefix first; within a prefix, sorted for bsearch. */
static void
lpm_build(struct lpm *t, size_t alen)
{
	size_t	i;

	t->alen = alen;
	if (t->n > 0)
		qsort(t->e, t->n, sizeof(*t->e), lpm_cmp);
	t->ngrp = 0;
	for (i = 0; i < t->n; i++) {
		if (t->ngrp == 0 ||
		    t->grp[t->ngrp - 1].prefix != t->e[i].prefix) {
			t->grp[t->ngrp].prefix = t->e[i].prefix;
			t->grp[t->ngrp].start = i;
			t->ngrp++;
		}
		t->grp[t->ngrp - 1].end = i + 1;
	}
}

static const struct lpm_ent *
lpm_find(const struct lpm *t, const uint8_t *addr)
{
	uint8_t	key[16];
	size_t	g, lo, hi, mid;
	int	c;

	for (g = 0; g < t->ngrp; g++) {
		mask_addr(key, addr, t->alen, t->grp[g].prefix);
		lo = t->grp[g].start;
		hi = t->grp[g].end;
		while (lo < hi) {
			mid = lo + (hi - lo) / 2;
			c = memcmp(key, t->e[mid].addr, t->alen);
			if (c == 0)
				return &t->e[mid];
			if (c < 0)
				hi = mid;
			else
				lo = mid + 1;
		}
	}
	return NULL;
}

static void
index_finish(struct loader *ld)
{
	struct config		*cfg = ld->cfg;
	struct config_index	*ix = ld->ix;
	struct config_domain	*ds = (struct config_domain *)cfg->domains;
	const struct hent	*he;
	size_t			 i;

	lpm_build(&ix->v4, 4);
	lpm_build(&ix->v6, 16);
	cfg->tenants = ix->tenants;
	cfg->ntenants = ix->ntenants;
	for (i = 0; i < cfg->ndomains; i++) {
		he = htab_get(&ix->exact, ds[i].name, strlen(ds[i].name));
		ds[i].owner = he != NULL ? &ix->tenants[he->val] : NULL;
	}
}

/* The domains: entry for an already normalized name. */
static const struct config_domain *
domain_lookup(const struct config *cfg, const char *name)
{
	const struct hent	*he;
	const char		*p;

	for (p = name; p != NULL; p = strchr(p, '.') ? strchr(p, '.') + 1 :
	    NULL) {
		he = htab_get(&cfg->index->domains, p, strlen(p));
		if (he == NULL)
			continue;
		/*
		 * The nearest listed name decides: a listed parent that
		 * does not cover subdomains ends the search.
		 */
		if (p == name || cfg->domains[he->val].subdomains)
			return &cfg->domains[he->val];
		return NULL;
	}
	return NULL;
}

const struct config_domain *
config_domain(const struct config *cfg, const char *name)
{
	char	norm[CONFIG_DOMAIN_MAX + 1];

	if (cfg == NULL || name == NULL ||
	    config_domain_normalize(name, strlen(name), norm) == -1)
		return NULL;
	return domain_lookup(cfg, norm);
}

const char *
config_zone(const struct config *cfg, const char *name)
{
	const struct config_domain	*d = config_domain(cfg, name);

	if (d != NULL && d->zone != NULL)
		return d->zone;
	if (cfg->rotation.zone != NULL)
		return cfg->rotation.zone;
	return name;
}

const struct config_tenant *
config_domain_owner(const struct config *cfg, const char *name)
{
	const struct config_index	*ix;
	const struct hent		*he;
	char				 norm[CONFIG_DOMAIN_MAX + 1];
	const char			*p;

	if (cfg == NULL || name == NULL ||
	    config_domain_normalize(name, strlen(name), norm) == -1)
		return NULL;
	ix = cfg->index;
	if ((he = htab_get(&ix->exact, norm, strlen(norm))) != NULL)
		return &ix->tenants[he->val];
	/* "*.parent" covers names strictly below parent, longest first. */
	for (p = strchr(norm, '.'); p != NULL; p = strchr(p + 1, '.')) {
		if ((he = htab_get(&ix->wild, p + 1, strlen(p + 1))) != NULL)
			return &ix->tenants[he->val];
	}
	return NULL;
}

const struct config_tenant *
config_tenant_for_addr(const struct config *cfg, const struct sockaddr *sa)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;
	const struct lpm_ent		*e;

	if (cfg == NULL || sa == NULL)
		return NULL;
	if (sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)(const void *)sa;
		e = lpm_find(&cfg->index->v4,
		    (const uint8_t *)&sin->sin_addr);
	} else if (sa->sa_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		/* Dual-stack sockets show IPv4 clients as ::ffff:a.b.c.d. */
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			e = lpm_find(&cfg->index->v4,
			    sin6->sin6_addr.s6_addr + 12);
		else
			e = lpm_find(&cfg->index->v6,
			    sin6->sin6_addr.s6_addr);
	} else
		return NULL;
	return e != NULL ? &cfg->index->tenants[e->tenant] : NULL;
}

const struct config_tenant *
config_tenant_for_user(const struct config *cfg, const char *name,
    const struct config_user **user)
{
	const struct hent	*he;
	const struct config_tenant *t;

	if (user != NULL)
		*user = NULL;
	if (cfg == NULL || name == NULL)
		return NULL;
	if ((he = htab_get(&cfg->index->users, name, strlen(name))) == NULL)
		return NULL;
	t = &cfg->index->tenants[he->val];
	if (user != NULL)
		*user = &t->users[he->val2];
	return t;
}

const struct config_tenant *
config_tenant_for_cert(const struct config *cfg,
    const uint8_t fp[CONFIG_CERT_FP_LEN])
{
	const struct hent	*he;

	if (cfg == NULL || fp == NULL)
		return NULL;
	he = htab_get(&cfg->index->certs, fp, CONFIG_CERT_FP_LEN);
	return he != NULL ? &cfg->index->tenants[he->val] : NULL;
}

const struct config_tenant *
config_tenant_by_name(const struct config *cfg, const char *name)
{
	const struct hent	*he;

	if (cfg == NULL || name == NULL)
		return NULL;
	he = htab_get(&cfg->index->names, name, strlen(name));
	return he != NULL ? &cfg->index->tenants[he->val] : NULL;
}

/* ---------------------------------------------------------------- */
/* Entry points                                                       */

void
config_free(const struct config *ccfg)
{
	struct config		*cfg = (struct config *)ccfg;
	struct config_index	*ix;
	struct arena_chunk	*c, *next;

	if (cfg == NULL)
		return;
	if ((ix = cfg->index) != NULL) {
		htab_clear(&ix->domains);
		htab_clear(&ix->exact);
		htab_clear(&ix->wild);
		htab_clear(&ix->users);
		htab_clear(&ix->certs);
		htab_clear(&ix->names);
		htab_clear(&ix->nets);
		free(ix->v4.e);
		free(ix->v6.e);
		free(ix->tenants);
		for (c = ix->arena; c != NULL; c = next) {
			next = c->next;
			free(c);
		}
		free(ix);
	}
	free(cfg);
}

const struct config *
config_load_mem(const void *data, size_t len, const char *name,
    struct buf *errors)
{
	struct loader	 ld;
	struct config	*cfg;

	memset(&ld, 0, sizeof(ld));
	ld.errors = errors;
	ld.file = name != NULL ? name : "-";
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL ||
	    (cfg->index = calloc(1, sizeof(*cfg->index))) == NULL) {
		free(cfg);
		if (errors != NULL)
			buf_printf(errors, "%s:1:1: out of memory\n", ld.file);
		return NULL;
	}
	ld.cfg = cfg;
	ld.ix = cfg->index;
	set_defaults(cfg);
	if ((cfg->path = lstrndup(&ld, ld.file, strlen(ld.file))) != NULL)
		ld.file = cfg->path;
	if (len > CONFIG_FILE_MAX)
		err_pos(&ld, 1, 1, "larger than %llu octets",
		    (unsigned long long)CONFIG_FILE_MAX);
	else if (!ld.oom)
		load_document(&ld, data, len, root_fn, cfg);
	if (!ld.oom)
		index_finish(&ld);
	flush_errors(&ld);
	if (ld.oom) {
		/* Name the file, not the arena copy that may have failed. */
		if (errors != NULL)
			buf_printf(errors, "%s:1:1: out of memory\n",
			    name != NULL ? name : "-");
		ld.nerrors++;
	}
	if (ld.nerrors > 0) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

const struct config *
config_load(const char *path, struct buf *errors)
{
	const struct config	*cfg;
	char			*data = NULL;
	size_t			 len = 0;
	int			 err;

	if (read_file(path, CONFIG_FILE_MAX, &data, &len, &err) == -1) {
		if (errors != NULL)
			buf_printf(errors, "%s:1:1: %s\n", path,
			    err == EFBIG ? "file too large" : strerror(err));
		return NULL;
	}
	cfg = config_load_mem(data, len, path, errors);
	free(data);
	if (cfg != NULL && cfg->resolver.nnameservers == 0)
		resolver_from_resolv_conf(
		    &((struct config *)cfg)->resolver);
	return cfg;
}

const char *
config_demo_yaml(void)
{
	return demo_yaml;
}

const struct config *
config_default_demo(struct buf *errors)
{
	return config_load_mem(demo_yaml, sizeof(demo_yaml) - 1,
	    "<demo config>", errors);
}

int
config_check(const char *path, FILE *out, FILE *err)
{
	const struct config	*cfg;
	struct buf		*errors;
	const char		*text;

	/* Room for CONFIG_ERRORS_MAX lines, each bounded by its format. */
	if ((errors = buf_new(64 * 1024)) == NULL) {
		fprintf(err, "%s: out of memory\n", path);
		return -1;
	}
	cfg = config_load(path, errors);
	if (cfg != NULL)
		fprintf(out, "%s: ok\n", path);
	else if ((text = buf_cstr(errors)) != NULL)
		fputs(text, err);
	buf_free(errors);
	if (cfg == NULL)
		return -1;
	config_free(cfg);
	return 0;
}
