/*
 * store — key files and the rotation journal of each domain (DESIGN.md
 * "Key store"; the states of design/rotation.md §b).
 *
 * Invariants: a journal on disk always parses — it is only ever replaced
 * whole (temp file, fsync, rename, directory fsync) by a writer holding
 * flock(LOCK_EX) on the domain's .lock; key files are written and fsynced
 * before the journal that names them, so a journal never refers to a key
 * that is not on disk (short of store_txn_destroy, which journals the
 * removal); a key file no journal names is a killed writer's and the
 * next writer removes it.  Temp names (".state.yaml.tmp", "keys/.new.pem") belong to
 * the lock holder: a crashed writer's leftovers are removed by the next
 * one and ignored by readers.  Parsing is strict (unknown keys, bad
 * values, duplicates: "FILE:LINE:COL: message") so a hand edit that
 * signet would misread is refused instead.
 *
 * Ownership: snapshots, key sets and domain lists belong to the caller
 * and are freed with their _free(); a transaction is freed by
 * store_commit() or store_abort().
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>
#include <yaml.h>

#include "keys/signer.h"
#include "keys/store.h"
#include "proxy/msg/buf.h"
#include "proxy/msg/errmsg.h"

/* Largest journal read: about 2,000 keys with their history. */
#define STORE_JOURNAL_MAX	(1024 * 1024)
#define STORE_KEYS_MAX		2048
#define STORE_SELECTORS_MAX	64
#define STORE_ATTRS_MAX		64
#define STORE_ATTR_NAME_MAX	64
#define STORE_ATTR_VALUE_MAX	1024
/* RFC 1035 2.3.4: 63-octet labels, 253-octet names in text form. */
#define STORE_LABEL_MAX		63
#define STORE_DOMAIN_MAX	253
/* selector._domainkey.domain must still fit in a name; a sane bound. */
#define STORE_SELECTOR_MAX	128
#define STORE_TIME_LEN		20	/* "2025-01-02T03:04:05Z" */

#define JOURNAL_TMP		".state.yaml.tmp"
#define LOCK_FILE		".lock"
#define KEYS_DIR		"keys"
#define KEY_TMP			".new.pem"

static const char *const state_names[STORE_NSTATES] = {
	"GENERATED", "PUBLISHING", "PUBLISHED", "VISIBLE", "READY", "ACTIVE",
	"DRAINING", "REVOKED", "GONE", "DESTROYED", "DISCLOSED", "COMPROMISED",
};

struct attr {
	char	*name;
	char	*value;
};

struct attrs {
	struct attr	*v;
	size_t		 n;
};

struct store_key {
	char		 id[KEYS_ID_LEN + 1];
	enum keys_alg	 alg;
	unsigned	 bits;
	char		*selector;
	enum store_state state;
	time_t		 entered[STORE_NSTATES];	/* 0: never */
	struct attrs	 attrs;
};

struct selmap {
	char	*selector;
	char	 id[KEYS_ID_LEN + 1];
};

struct store_domain {
	char		*name;
	int		 version;
	uint64_t	 generation;
	time_t		 last_write;
	struct selmap	*sels;		/* sorted by selector */
	size_t		 nsels;
	struct store_key *keys;
	size_t		 nkeys;
	struct attrs	 attrs;
};

struct store {
	char	*path;
	int	 fd;
};

struct store_txn {
	struct store		*st;
	struct store_domain	*d;
	char			*domain;
	int			 dfd;
	int			 kfd;
	int			 lockfd;
	char			(*added)[KEYS_ID_LEN + 1];
	size_t			 nadded;
};

/* A key set entry's key: loaded at build time, or on first use. */
enum entry_load {
	ENTRY_UNLOADED,		/* lazy, not used yet */
	ENTRY_LOADED,		/* key is set and never changes again */
	ENTRY_FAILED,		/* the load failed; never retried */
};

struct keyset_entry {
	char			*selector;
	char			 id[KEYS_ID_LEN + 1];
	enum store_state	 state;
	char			*role;		/* NULL: STORE_ROLE_DKIM */
	time_t			 generated;
	enum keys_alg		 alg;		/* the journal's */
	unsigned		 bits;
	char			*path;		/* the key file */
	/*
	 * load moves once from UNLOADED to LOADED or FAILED, under mtx;
	 * readers that see LOADED (acquire) read key without the lock.
	 */
	atomic_int		 load;
	pthread_mutex_t		 mtx;
	struct keys_key		*key;
};

struct store_keyset {
	struct keyset_entry	*v;
	size_t			 n;
	size_t			 failures;
	uint64_t		 generation;
};

/* ------------------------------------------------------------------ */
/* Names that become paths or YAML keys: positive character classes.  */

static int
is_ldh(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

static int
is_attr_char(int c)
{
	return is_ldh(c) || c == '_' || c == '.';
}

static int
is_value_char(int c)
{
	return c >= 0x20 && c <= 0x7e;
}

static int
is_hex_lower(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Dot-separated LDH labels (RFC 1035 2.3.1), lower case, no final dot. */
static int
ldh_name_valid(const char *s, size_t max)
{
	size_t	i, label = 0, len = strlen(s);

	if (len == 0 || len > max)
		return -1;
	for (i = 0; i <= len; i++) {
		if (s[i] == '.' || s[i] == '\0') {
			if (label == 0 || label > STORE_LABEL_MAX ||
			    s[i - 1] == '-' || s[i - label] == '-')
				return -1;
			label = 0;
		} else if (is_ldh((unsigned char)s[i])) {
			label++;
		} else {
			return -1;
		}
	}
	return 0;
}

int
store_domain_valid(const char *s)
{
	return ldh_name_valid(s, STORE_DOMAIN_MAX);
}

int
store_selector_valid(const char *s)
{
	return ldh_name_valid(s, STORE_SELECTOR_MAX);
}

static int
id_valid(const char *s)
{
	size_t	i;

	for (i = 0; i < KEYS_ID_LEN; i++)
		if (!is_hex_lower((unsigned char)s[i]))
			return -1;
	return s[KEYS_ID_LEN] == '\0' ? 0 : -1;
}

static int
attr_name_valid(const char *s)
{
	size_t	i, len = strlen(s);

	if (len == 0 || len > STORE_ATTR_NAME_MAX || !(s[0] >= 'a' &&
	    s[0] <= 'z'))
		return -1;
	for (i = 0; i < len; i++)
		if (!is_attr_char((unsigned char)s[i]))
			return -1;
	return 0;
}

static int
attr_value_valid(const char *s)
{
	size_t	i, len = strlen(s);

	if (len > STORE_ATTR_VALUE_MAX)
		return -1;
	for (i = 0; i < len; i++)
		if (!is_value_char((unsigned char)s[i]))
			return -1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Times: RFC 3339 in UTC, whole seconds.                             */

static int
fmt_time(time_t t, char out[STORE_TIME_LEN + 1])
{
	struct tm	tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, STORE_TIME_LEN + 1, "%Y-%m-%dT%H:%M:%SZ", &tm) !=
	    STORE_TIME_LEN)
		return -1;
	return 0;
}

static int
digits(const char *s, size_t n, int *out)
{
	size_t	i;
	int	v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* date-time of RFC 3339 5.6 with time-offset "Z" and no fraction. */
static int
parse_time(const char *s, time_t *out)
{
	struct tm	tm, back;
	int		y, mo, d, h, mi, sec;
	time_t		t;

	if (strlen(s) != STORE_TIME_LEN || s[4] != '-' || s[7] != '-' ||
	    s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z')
		return -1;
	if (digits(s, 4, &y) == -1 || digits(s + 5, 2, &mo) == -1 ||
	    digits(s + 8, 2, &d) == -1 || digits(s + 11, 2, &h) == -1 ||
	    digits(s + 14, 2, &mi) == -1 || digits(s + 17, 2, &sec) == -1)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	if ((t = timegm(&tm)) <= 0 || gmtime_r(&t, &back) == NULL)
		return -1;
	/* timegm normalizes Feb 30 into March; refuse instead. */
	if (back.tm_year != y - 1900 || back.tm_mon != mo - 1 ||
	    back.tm_mday != d || back.tm_hour != h || back.tm_min != mi ||
	    back.tm_sec != sec)
		return -1;
	*out = t;
	return 0;
}

/* ------------------------------------------------------------------ */
/* The journal in memory.                                              */

static void
attrs_free(struct attrs *a)
{
	size_t	i;

	for (i = 0; i < a->n; i++) {
		free(a->v[i].name);
		free(a->v[i].value);
	}
	free(a->v);
	a->v = NULL;
	a->n = 0;
}

static const char *
attrs_get(const struct attrs *a, const char *name)
{
	size_t	i;

	for (i = 0; i < a->n; i++)
		if (strcmp(a->v[i].name, name) == 0)
			return a->v[i].value;
	return NULL;
}

/* Set (value NULL: remove) name; 0 / -1 (memory or too many). */
static int
attrs_set(struct attrs *a, const char *name, const char *value)
{
	struct attr	*v;
	char		*nv;
	size_t		 i;

	for (i = 0; i < a->n; i++) {
		if (strcmp(a->v[i].name, name) != 0)
			continue;
		if (value == NULL) {
			free(a->v[i].name);
			free(a->v[i].value);
			a->v[i] = a->v[--a->n];
			return 0;
		}
		if ((nv = strdup(value)) == NULL)
			return -1;
		free(a->v[i].value);
		a->v[i].value = nv;
		return 0;
	}
	if (value == NULL)
		return 0;
	if (a->n >= STORE_ATTRS_MAX)
		return -1;
	if ((v = reallocarray(a->v, a->n + 1, sizeof(*v))) == NULL)
		return -1;
	a->v = v;
	v[a->n].name = strdup(name);
	v[a->n].value = strdup(value);
	if (v[a->n].name == NULL || v[a->n].value == NULL) {
		free(v[a->n].name);
		free(v[a->n].value);
		return -1;
	}
	a->n++;
	return 0;
}

void
store_domain_free(struct store_domain *d)
{
	size_t	i;

	if (d == NULL)
		return;
	for (i = 0; i < d->nkeys; i++) {
		free(d->keys[i].selector);
		attrs_free(&d->keys[i].attrs);
	}
	for (i = 0; i < d->nsels; i++)
		free(d->sels[i].selector);
	free(d->keys);
	free(d->sels);
	attrs_free(&d->attrs);
	free(d->name);
	free(d);
}

static struct store_domain *
domain_new(const char *name)
{
	struct store_domain	*d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->version = STORE_JOURNAL_VERSION;
	if ((d->name = strdup(name)) == NULL) {
		free(d);
		return NULL;
	}
	return d;
}

static struct store_key *
find_key(const struct store_domain *d, const char *id)
{
	size_t	i;

	for (i = 0; i < d->nkeys; i++)
		if (strcmp(d->keys[i].id, id) == 0)
			return &d->keys[i];
	return NULL;
}

static struct selmap *
find_sel(const struct store_domain *d, const char *selector)
{
	size_t	i;

	for (i = 0; i < d->nsels; i++)
		if (strcmp(d->sels[i].selector, selector) == 0)
			return &d->sels[i];
	return NULL;
}

static struct store_key *
key_append(struct store_domain *d)
{
	struct store_key	*v;

	if (d->nkeys >= STORE_KEYS_MAX)
		return NULL;
	if ((v = reallocarray(d->keys, d->nkeys + 1, sizeof(*v))) == NULL)
		return NULL;
	d->keys = v;
	memset(&v[d->nkeys], 0, sizeof(v[0]));
	return &v[d->nkeys++];
}

/* Insert or replace, keeping sels sorted; id NULL removes. */
static int
sel_set(struct store_domain *d, const char *selector, const char *id)
{
	struct selmap	*v, *s;
	size_t		 i;

	if ((s = find_sel(d, selector)) != NULL) {
		if (id != NULL) {
			memcpy(s->id, id, KEYS_ID_LEN + 1);
			return 0;
		}
		free(s->selector);
		i = (size_t)(s - d->sels);
		memmove(s, s + 1, (d->nsels - i - 1) * sizeof(*s));
		d->nsels--;
		return 0;
	}
	if (id == NULL)
		return 0;
	if (d->nsels >= STORE_SELECTORS_MAX)
		return -1;
	if ((v = reallocarray(d->sels, d->nsels + 1, sizeof(*v))) == NULL)
		return -1;
	d->sels = v;
	for (i = 0; i < d->nsels && strcmp(v[i].selector, selector) < 0; i++)
		continue;
	memmove(&v[i + 1], &v[i], (d->nsels - i) * sizeof(*v));
	if ((v[i].selector = strdup(selector)) == NULL) {
		memmove(&v[i], &v[i + 1], (d->nsels - i) * sizeof(*v));
		return -1;
	}
	memcpy(v[i].id, id, KEYS_ID_LEN + 1);
	d->nsels++;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Parser: libyaml events, one function per production of the format. */

struct parser {
	yaml_parser_t		 yp;
	yaml_event_t		 ev;
	int			 have_ev;
	const char		*file;
	char			*err;
	size_t			 errlen;
	yaml_mark_t		 sels_mark;	/* where selectors begin */
};

static int
perr(struct parser *p, yaml_mark_t m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
perr(struct parser *p, yaml_mark_t m, const char *fmt, ...)
{
	char	msg[256];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	errmsg_set(p->err, p->errlen, "%s:%zu:%zu: %s", p->file, m.line + 1,
	    m.column + 1, msg);
	return -1;
}

/* A file's word in an error message: printable, bounded. */
static const char *
shown(const char *s, char out[48])
{
	size_t	i;

	for (i = 0; i < 40 && s[i] != '\0'; i++)
		out[i] = is_value_char((unsigned char)s[i]) ? s[i] : '?';
	out[i] = '\0';
	return out;
}

static int
next(struct parser *p)
{
	if (p->have_ev)
		yaml_event_delete(&p->ev);
	p->have_ev = 0;
	if (!yaml_parser_parse(&p->yp, &p->ev))
		return perr(p, p->yp.problem_mark, "YAML error: %s",
		    p->yp.problem != NULL ? p->yp.problem : "unknown");
	p->have_ev = 1;
	switch (p->ev.type) {
	case YAML_ALIAS_EVENT:
		return perr(p, p->ev.start_mark, "aliases are not allowed");
	case YAML_SCALAR_EVENT:
		if (p->ev.data.scalar.anchor != NULL ||
		    (p->ev.data.scalar.tag != NULL &&
		    p->ev.data.scalar.plain_implicit == 0 &&
		    p->ev.data.scalar.quoted_implicit == 0))
			return perr(p, p->ev.start_mark,
			    "anchors and tags are not allowed");
		if (strlen((char *)p->ev.data.scalar.value) !=
		    p->ev.data.scalar.length)
			return perr(p, p->ev.start_mark, "NUL in a value");
		break;
	case YAML_MAPPING_START_EVENT:
		if (p->ev.data.mapping_start.anchor != NULL ||
		    p->ev.data.mapping_start.tag != NULL)
			return perr(p, p->ev.start_mark,
			    "anchors and tags are not allowed");
		break;
	case YAML_SEQUENCE_START_EVENT:
		if (p->ev.data.sequence_start.anchor != NULL ||
		    p->ev.data.sequence_start.tag != NULL)
			return perr(p, p->ev.start_mark,
			    "anchors and tags are not allowed");
		break;
	default:
		break;
	}
	return 0;
}

static int
expect(struct parser *p, yaml_event_type_t type, const char *what)
{
	if (next(p) == -1)
		return -1;
	if (p->ev.type != type)
		return perr(p, p->ev.start_mark, "expected %s", what);
	return 0;
}

/* The next event must be a scalar; its text is then scalar_text(p). */
static int
scalar(struct parser *p, const char *what)
{
	if (next(p) == -1)
		return -1;
	if (p->ev.type != YAML_SCALAR_EVENT)
		return perr(p, p->ev.start_mark, "%s must be a single value",
		    what);
	return 0;
}

static const char *
scalar_text(const struct parser *p)
{
	return (const char *)p->ev.data.scalar.value;
}

static int
scalar_uint(struct parser *p, const char *what, uint64_t max, uint64_t *out)
{
	const char	*s;
	uint64_t	 v = 0;

	if (scalar(p, what) == -1)
		return -1;
	s = scalar_text(p);
	if (*s == '\0')
		return perr(p, p->ev.start_mark, "%s must be a number", what);
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return perr(p, p->ev.start_mark, "%s must be a number",
			    what);
		if (v > (max - (uint64_t)(*s - '0')) / 10)
			return perr(p, p->ev.start_mark, "%s is too large",
			    what);
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

static int
scalar_time(struct parser *p, const char *what, time_t *out)
{
	if (scalar(p, what) == -1)
		return -1;
	if (parse_time(scalar_text(p), out) == -1)
		return perr(p, p->ev.start_mark, "%s must be a UTC time like "
		    "2025-01-02T03:04:05Z", what);
	return 0;
}

struct field {
	const char	*name;
	int		(*parse)(struct parser *, void *);
	int		 required;
};

/*
 * A mapping of known fields: each at most once, the required ones
 * present.  started: the caller has already read the mapping's start.
 */
static int
parse_fields(struct parser *p, const struct field *f, size_t nf, void *obj,
    const char *what, int started)
{
	yaml_mark_t	 start;
	unsigned	 seen = 0;
	size_t		 i;
	char		 w[48];

	if (!started && expect(p, YAML_MAPPING_START_EVENT, what) == -1)
		return -1;
	start = p->ev.start_mark;
	for (;;) {
		if (next(p) == -1)
			return -1;
		if (p->ev.type == YAML_MAPPING_END_EVENT)
			break;
		if (p->ev.type != YAML_SCALAR_EVENT)
			return perr(p, p->ev.start_mark, "expected a key in %s",
			    what);
		for (i = 0; i < nf; i++)
			if (strcmp(scalar_text(p), f[i].name) == 0)
				break;
		if (i == nf)
			return perr(p, p->ev.start_mark,
			    "unknown key \"%s\" in %s",
			    shown(scalar_text(p), w), what);
		if (seen & (1u << i))
			return perr(p, p->ev.start_mark, "duplicate key \"%s\"",
			    f[i].name);
		seen |= 1u << i;
		if (f[i].parse(p, obj) == -1)
			return -1;
	}
	for (i = 0; i < nf; i++)
		if (f[i].required && !(seen & (1u << i)))
			return perr(p, start, "%s lacks \"%s\"", what,
			    f[i].name);
	return 0;
}

/* attrs = mapping of attribute name -> printable string */
static int
parse_attrs(struct parser *p, struct attrs *a)
{
	yaml_mark_t	 m;
	char		*name;
	char		 w[48];
	int		 rc;

	if (expect(p, YAML_MAPPING_START_EVENT, "attrs (a mapping)") == -1)
		return -1;
	for (;;) {
		if (next(p) == -1)
			return -1;
		if (p->ev.type == YAML_MAPPING_END_EVENT)
			return 0;
		if (p->ev.type != YAML_SCALAR_EVENT ||
		    attr_name_valid(scalar_text(p)) == -1)
			return perr(p, p->ev.start_mark, "attribute names are "
			    "lower-case letters, digits, '-', '_' and '.'");
		if (attrs_get(a, scalar_text(p)) != NULL)
			return perr(p, p->ev.start_mark, "duplicate attribute "
			    "\"%s\"", shown(scalar_text(p), w));
		m = p->ev.start_mark;
		if ((name = strdup(scalar_text(p))) == NULL)
			return perr(p, m, "out of memory");
		if (scalar(p, "an attribute") == -1) {
			free(name);
			return -1;
		}
		if (attr_value_valid(scalar_text(p)) == -1) {
			free(name);
			return perr(p, p->ev.start_mark, "attribute values are "
			    "printable ASCII of at most %d octets",
			    STORE_ATTR_VALUE_MAX);
		}
		rc = attrs_set(a, name, scalar_text(p));
		free(name);
		if (rc == -1)
			return perr(p, m, "too many attributes (at most %d)",
			    STORE_ATTRS_MAX);
	}
}

/* entered = mapping of STATE -> time */
static int
parse_entered(struct parser *p, void *obj)
{
	struct store_key	*k = obj;
	enum store_state	 st;
	char			 w[48];

	if (expect(p, YAML_MAPPING_START_EVENT, "entered (a mapping)") == -1)
		return -1;
	for (;;) {
		if (next(p) == -1)
			return -1;
		if (p->ev.type == YAML_MAPPING_END_EVENT)
			return 0;
		if (p->ev.type != YAML_SCALAR_EVENT ||
		    store_state_parse(scalar_text(p), &st) == -1)
			return perr(p, p->ev.start_mark, "unknown state \"%s\"",
			    p->ev.type == YAML_SCALAR_EVENT ?
			    shown(scalar_text(p), w) : "");
		if (k->entered[st] != 0)
			return perr(p, p->ev.start_mark, "duplicate state %s",
			    state_names[st]);
		if (scalar_time(p, "a state's time", &k->entered[st]) == -1)
			return -1;
	}
}

static int
parse_key_id(struct parser *p, void *obj)
{
	struct store_key	*k = obj;

	if (scalar(p, "id") == -1)
		return -1;
	if (id_valid(scalar_text(p)) == -1)
		return perr(p, p->ev.start_mark, "id must be %d lower-case hex "
		    "digits", KEYS_ID_LEN);
	memcpy(k->id, scalar_text(p), KEYS_ID_LEN + 1);
	return 0;
}

static int
parse_key_alg(struct parser *p, void *obj)
{
	struct store_key	*k = obj;

	if (scalar(p, "algorithm") == -1)
		return -1;
	if (keys_alg_parse(scalar_text(p), &k->alg) == -1)
		return perr(p, p->ev.start_mark, "algorithm must be rsa or "
		    "ed25519");
	return 0;
}

static int
parse_key_bits(struct parser *p, void *obj)
{
	struct store_key	*k = obj;
	uint64_t		 v;

	if (scalar_uint(p, "bits", KEYS_RSA_BITS_MAX, &v) == -1)
		return -1;
	k->bits = (unsigned)v;
	return 0;
}

static int
parse_key_selector(struct parser *p, void *obj)
{
	struct store_key	*k = obj;

	if (scalar(p, "selector") == -1)
		return -1;
	if (store_selector_valid(scalar_text(p)) == -1)
		return perr(p, p->ev.start_mark, "selector must be lower-case "
		    "letters, digits, '-' and '.'");
	if ((k->selector = strdup(scalar_text(p))) == NULL)
		return perr(p, p->ev.start_mark, "out of memory");
	return 0;
}

static int
parse_key_state(struct parser *p, void *obj)
{
	struct store_key	*k = obj;
	char			 w[48];

	if (scalar(p, "state") == -1)
		return -1;
	if (store_state_parse(scalar_text(p), &k->state) == -1)
		return perr(p, p->ev.start_mark, "unknown state \"%s\"",
		    shown(scalar_text(p), w));
	return 0;
}

static int
parse_key_attrs(struct parser *p, void *obj)
{
	return parse_attrs(p, &((struct store_key *)obj)->attrs);
}

static const struct field key_fields[] = {
	{ "id",		parse_key_id,		1 },
	{ "algorithm",	parse_key_alg,		1 },
	{ "bits",	parse_key_bits,		1 },
	{ "selector",	parse_key_selector,	1 },
	{ "state",	parse_key_state,	1 },
	{ "entered",	parse_entered,		1 },
	{ "attrs",	parse_key_attrs,	0 },
};

/* One key: its fields, then the rules that tie them together. */
static int
parse_key(struct parser *p, struct store_domain *d)
{
	struct store_key	*k;
	yaml_mark_t		 m;
	unsigned		 want;

	if ((k = key_append(d)) == NULL)
		return perr(p, p->ev.start_mark, "too many keys (at most %d)",
		    STORE_KEYS_MAX);
	m = p->ev.start_mark;
	if (parse_fields(p, key_fields, sizeof(key_fields) /
	    sizeof(key_fields[0]), k, "a key", 1) == -1)
		return -1;
	if (find_key(d, k->id) != k)
		return perr(p, m, "key %s is listed twice", k->id);
	want = k->alg == KEYS_ALG_ED25519_SHA256 ? KEYS_ED25519_BITS : 0;
	if ((want != 0 && k->bits != want) || (want == 0 &&
	    (k->bits < KEYS_RSA_BITS_MIN || k->bits > KEYS_RSA_BITS_MAX)))
		return perr(p, m, "key %s: %u bits do not fit %s", k->id,
		    k->bits, keys_alg_k(k->alg));
	if (k->entered[k->state] == 0)
		return perr(p, m, "key %s is %s but entered lacks that state",
		    k->id, state_names[k->state]);
	return 0;
}

static int
parse_keys(struct parser *p, void *obj)
{
	struct store_domain	*d = obj;

	if (expect(p, YAML_SEQUENCE_START_EVENT, "keys (a list)") == -1)
		return -1;
	for (;;) {
		if (next(p) == -1)
			return -1;
		if (p->ev.type == YAML_SEQUENCE_END_EVENT)
			return 0;
		if (p->ev.type != YAML_MAPPING_START_EVENT)
			return perr(p, p->ev.start_mark, "a key must be a "
			    "mapping");
		if (parse_key(p, d) == -1)
			return -1;
	}
}

/* selectors = mapping of selector -> key id; checked after keys. */
static int
parse_selectors(struct parser *p, void *obj)
{
	struct store_domain	*d = obj;
	char			 sel[STORE_SELECTOR_MAX + 1];
	yaml_mark_t		 m;

	if (expect(p, YAML_MAPPING_START_EVENT, "selectors (a mapping)") == -1)
		return -1;
	p->sels_mark = p->ev.start_mark;
	for (;;) {
		if (next(p) == -1)
			return -1;
		if (p->ev.type == YAML_MAPPING_END_EVENT)
			return 0;
		if (p->ev.type != YAML_SCALAR_EVENT ||
		    store_selector_valid(scalar_text(p)) == -1)
			return perr(p, p->ev.start_mark, "selector must be "
			    "lower-case letters, digits, '-' and '.'");
		m = p->ev.start_mark;
		if (find_sel(d, scalar_text(p)) != NULL)
			return perr(p, m, "duplicate selector %s",
			    scalar_text(p));
		snprintf(sel, sizeof(sel), "%s", scalar_text(p));
		if (scalar(p, "a selector's key id") == -1)
			return -1;
		if (id_valid(scalar_text(p)) == -1)
			return perr(p, p->ev.start_mark, "key id must be %d "
			    "lower-case hex digits", KEYS_ID_LEN);
		if (sel_set(d, sel, scalar_text(p)) == -1)
			return perr(p, m, "too many selectors (at most %d)",
			    STORE_SELECTORS_MAX);
	}
}

static int
parse_version(struct parser *p, void *obj)
{
	struct store_domain	*d = obj;
	uint64_t		 v;

	if (scalar_uint(p, "version", INT32_MAX, &v) == -1)
		return -1;
	if (v != STORE_JOURNAL_VERSION)
		return perr(p, p->ev.start_mark, "journal version %llu is not "
		    "%d, the one this signet reads", (unsigned long long)v,
		    STORE_JOURNAL_VERSION);
	d->version = (int)v;
	return 0;
}

static int
parse_domain_name(struct parser *p, void *obj)
{
	struct store_domain	*d = obj;
	char			 w[48];

	if (scalar(p, "domain") == -1)
		return -1;
	if (strcmp(scalar_text(p), d->name) != 0)
		return perr(p, p->ev.start_mark, "domain \"%s\" is not %s, "
		    "the directory's name", shown(scalar_text(p), w), d->name);
	return 0;
}

static int
parse_generation(struct parser *p, void *obj)
{
	return scalar_uint(p, "generation", UINT64_MAX,
	    &((struct store_domain *)obj)->generation);
}

static int
parse_last_write(struct parser *p, void *obj)
{
	return scalar_time(p, "last_write",
	    &((struct store_domain *)obj)->last_write);
}

static int
parse_domain_attrs(struct parser *p, void *obj)
{
	return parse_attrs(p, &((struct store_domain *)obj)->attrs);
}

static const struct field domain_fields[] = {
	{ "version",	parse_version,		1 },
	{ "domain",	parse_domain_name,	1 },
	{ "generation",	parse_generation,	1 },
	{ "last_write",	parse_last_write,	1 },
	{ "selectors",	parse_selectors,	1 },
	{ "keys",	parse_keys,		1 },
	{ "attrs",	parse_domain_attrs,	0 },
};

/* Every selector names a key made for it. */
static int
check_selectors(struct parser *p, const struct store_domain *d)
{
	const struct store_key	*k;
	size_t			 i;

	for (i = 0; i < d->nsels; i++) {
		if ((k = find_key(d, d->sels[i].id)) == NULL)
			return perr(p, p->sels_mark,
			    "selector %s names key %s, which is not in keys",
			    d->sels[i].selector, d->sels[i].id);
		if (strcmp(k->selector, d->sels[i].selector) != 0)
			return perr(p, p->sels_mark,
			    "selector %s names key %s, which was made for "
			    "selector %s", d->sels[i].selector, k->id,
			    k->selector);
	}
	return 0;
}

/* journal = one document holding the domain mapping */
struct store_domain *
store_domain_parse(const void *data, size_t len, const char *file,
    const char *domain, char *err, size_t errlen)
{
	struct parser		 p;
	struct store_domain	*d;

	if ((d = domain_new(domain)) == NULL) {
		errmsg_set(err, errlen, "%s: out of memory", file);
		return NULL;
	}
	memset(&p, 0, sizeof(p));
	p.file = file;
	p.err = err;
	p.errlen = errlen;
	if (!yaml_parser_initialize(&p.yp)) {
		errmsg_set(err, errlen, "%s: out of memory", file);
		store_domain_free(d);
		return NULL;
	}
	yaml_parser_set_input_string(&p.yp, data, len);
	if (expect(&p, YAML_STREAM_START_EVENT, "a YAML stream") == -1 ||
	    expect(&p, YAML_DOCUMENT_START_EVENT, "a YAML document") == -1 ||
	    parse_fields(&p, domain_fields, sizeof(domain_fields) /
	    sizeof(domain_fields[0]), d, "the journal", 0) == -1 ||
	    expect(&p, YAML_DOCUMENT_END_EVENT, "the end of the document") ==
	    -1 ||
	    expect(&p, YAML_STREAM_END_EVENT, "one document only") == -1 ||
	    check_selectors(&p, d) == -1) {
		store_domain_free(d);
		d = NULL;
	}
	if (p.have_ev)
		yaml_event_delete(&p.ev);
	yaml_parser_delete(&p.yp);
	return d;
}

/* ------------------------------------------------------------------ */
/* Emitter.                                                            */

static int
emit_out(void *arg, unsigned char *data, size_t len)
{
	return buf_append(arg, data, len) == 0;
}

static int
emit_scalar(yaml_emitter_t *e, const char *s)
{
	yaml_event_t	ev;

	if (!yaml_scalar_event_initialize(&ev, NULL, NULL,
	    (yaml_char_t *)(uintptr_t)s, (int)strlen(s), 1, 1,
	    YAML_ANY_SCALAR_STYLE))
		return -1;
	return yaml_emitter_emit(e, &ev) ? 0 : -1;
}

static int
emit_uint(yaml_emitter_t *e, uint64_t v)
{
	char	s[24];

	snprintf(s, sizeof(s), "%llu", (unsigned long long)v);
	return emit_scalar(e, s);
}

static int
emit_time(yaml_emitter_t *e, time_t t)
{
	char	s[STORE_TIME_LEN + 1];

	if (fmt_time(t, s) == -1)
		return -1;
	return emit_scalar(e, s);
}

static int
emit_map(yaml_emitter_t *e, int start)
{
	yaml_event_t	ev;

	if (start ? !yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
	    YAML_BLOCK_MAPPING_STYLE) : !yaml_mapping_end_event_initialize(&ev))
		return -1;
	return yaml_emitter_emit(e, &ev) ? 0 : -1;
}

static int
emit_seq(yaml_emitter_t *e, int start)
{
	yaml_event_t	ev;

	if (start ? !yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
	    YAML_BLOCK_SEQUENCE_STYLE) :
	    !yaml_sequence_end_event_initialize(&ev))
		return -1;
	return yaml_emitter_emit(e, &ev) ? 0 : -1;
}

static int
emit_attrs(yaml_emitter_t *e, const struct attrs *a)
{
	size_t	i;

	if (emit_scalar(e, "attrs") == -1 || emit_map(e, 1) == -1)
		return -1;
	for (i = 0; i < a->n; i++)
		if (emit_scalar(e, a->v[i].name) == -1 ||
		    emit_scalar(e, a->v[i].value) == -1)
			return -1;
	return emit_map(e, 0);
}

static int
emit_key(yaml_emitter_t *e, const struct store_key *k)
{
	int	s;

	if (emit_map(e, 1) == -1 ||
	    emit_scalar(e, "id") == -1 || emit_scalar(e, k->id) == -1 ||
	    emit_scalar(e, "algorithm") == -1 ||
	    emit_scalar(e, keys_alg_k(k->alg)) == -1 ||
	    emit_scalar(e, "bits") == -1 || emit_uint(e, k->bits) == -1 ||
	    emit_scalar(e, "selector") == -1 ||
	    emit_scalar(e, k->selector) == -1 ||
	    emit_scalar(e, "state") == -1 ||
	    emit_scalar(e, state_names[k->state]) == -1 ||
	    emit_scalar(e, "entered") == -1 || emit_map(e, 1) == -1)
		return -1;
	for (s = 0; s < STORE_NSTATES; s++) {
		if (k->entered[s] == 0)
			continue;
		if (emit_scalar(e, state_names[s]) == -1 ||
		    emit_time(e, k->entered[s]) == -1)
			return -1;
	}
	if (emit_map(e, 0) == -1 || emit_attrs(e, &k->attrs) == -1)
		return -1;
	return emit_map(e, 0);
}

static int
emit_domain(yaml_emitter_t *e, const struct store_domain *d)
{
	size_t	i;

	if (emit_map(e, 1) == -1 ||
	    emit_scalar(e, "version") == -1 ||
	    emit_uint(e, (uint64_t)d->version) == -1 ||
	    emit_scalar(e, "domain") == -1 || emit_scalar(e, d->name) == -1 ||
	    emit_scalar(e, "generation") == -1 ||
	    emit_uint(e, d->generation) == -1 ||
	    emit_scalar(e, "last_write") == -1 ||
	    emit_time(e, d->last_write) == -1 ||
	    emit_scalar(e, "selectors") == -1 || emit_map(e, 1) == -1)
		return -1;
	for (i = 0; i < d->nsels; i++)
		if (emit_scalar(e, d->sels[i].selector) == -1 ||
		    emit_scalar(e, d->sels[i].id) == -1)
			return -1;
	if (emit_map(e, 0) == -1 ||
	    emit_scalar(e, "keys") == -1 || emit_seq(e, 1) == -1)
		return -1;
	for (i = 0; i < d->nkeys; i++)
		if (emit_key(e, &d->keys[i]) == -1)
			return -1;
	if (emit_seq(e, 0) == -1 || emit_attrs(e, &d->attrs) == -1)
		return -1;
	return emit_map(e, 0);
}

static int
serialize(const struct store_domain *d, struct buf *out)
{
	yaml_emitter_t	e;
	yaml_event_t	ev;
	int		rc = -1;

	if (buf_append_str(out, "# signet key store journal (DESIGN.md \"Key "
	    "store\").  Written by signet;\n# edit only with signet stopped "
	    "and keep generation increasing.\n") == -1)
		return -1;
	if (!yaml_emitter_initialize(&e))
		return -1;
	yaml_emitter_set_output(&e, emit_out, out);
	yaml_emitter_set_unicode(&e, 0);
	yaml_emitter_set_indent(&e, 2);
	yaml_emitter_set_width(&e, -1);
	if (!yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) ||
	    !yaml_emitter_emit(&e, &ev))
		goto done;
	if (!yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) ||
	    !yaml_emitter_emit(&e, &ev))
		goto done;
	if (emit_domain(&e, d) == -1)
		goto done;
	if (!yaml_document_end_event_initialize(&ev, 1) ||
	    !yaml_emitter_emit(&e, &ev))
		goto done;
	if (!yaml_stream_end_event_initialize(&ev) ||
	    !yaml_emitter_emit(&e, &ev) || !yaml_emitter_flush(&e))
		goto done;
	rc = 0;
done:
	yaml_emitter_delete(&e);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Files.                                                              */

static int
write_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t	w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Read and parse dfd's journal.  A missing journal is a domain with no
 * keys yet (generation 0).
 */
static struct store_domain *
journal_read(const struct store *st, int dfd, const char *domain, char *err,
    size_t errlen)
{
	char			 file[PATH_MAX];
	struct stat		 sb;
	struct buf		*b = NULL;
	struct store_domain	*d = NULL;
	uint8_t			 chunk[8192];
	ssize_t			 n;
	int			 fd;

	snprintf(file, sizeof(file), "%s/%s/%s", st->path, domain,
	    STORE_JOURNAL);
	fd = openat(dfd, STORE_JOURNAL, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT) {
		if ((d = domain_new(domain)) == NULL)
			errmsg_set(err, errlen, "%s: out of memory", file);
		return d;
	}
	if (fd == -1) {
		errmsg_set(err, errlen, "%s: %s", file, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		errmsg_set(err, errlen, "%s: not a regular file", file);
		goto done;
	}
	if ((b = buf_new(STORE_JOURNAL_MAX)) == NULL) {
		errmsg_set(err, errlen, "%s: out of memory", file);
		goto done;
	}
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			errmsg_set(err, errlen, "%s: %s", file, strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		if (buf_append(b, chunk, (size_t)n) == -1) {
			errmsg_set(err, errlen, "%s: larger than %d octets", file,
			    STORE_JOURNAL_MAX);
			goto done;
		}
	}
	d = store_domain_parse(buf_data(b), buf_len(b), file, domain, err,
	    errlen);
done:
	buf_free(b);
	close(fd);
	return d;
}

static int
open_domain(const struct store *st, const char *domain, int create,
    char *err, size_t errlen)
{
	int	fd;

	if (store_domain_valid(domain) == -1) {
		errmsg_set(err, errlen, "\"%s\" is not a valid domain name "
		    "(lower-case letters, digits, '-' and dots)", domain);
		return -1;
	}
	fd = openat(st->fd, domain, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd == -1 && errno == ENOENT && create) {
		if (mkdirat(st->fd, domain, 0700) == -1 && errno != EEXIST) {
			errmsg_set(err, errlen, "%s/%s: %s", st->path, domain,
			    strerror(errno));
			return -1;
		}
		if (fsync(st->fd) == -1) {
			errmsg_set(err, errlen, "%s: %s", st->path, strerror(errno));
			return -1;
		}
		fd = openat(st->fd, domain, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd == -1 && errno == ENOENT)
		errmsg_set(err, errlen, "%s: not in the key store %s", domain,
		    st->path);
	else if (fd == -1)
		errmsg_set(err, errlen, "%s/%s: %s", st->path, domain,
		    strerror(errno));
	return fd;
}

/* ------------------------------------------------------------------ */
/* Store.                                                              */

/* mkdir -p with mode 0700 for what is created. */
static int
make_dirs(const char *path)
{
	char	tmp[PATH_MAX];
	size_t	i, len = strlen(path);

	if (len == 0 || len >= sizeof(tmp))
		return -1;
	memcpy(tmp, path, len + 1);
	for (i = 1; i <= len; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, 0700) == -1 && errno != EEXIST)
			return -1;
		tmp[i] = path[i];
	}
	return 0;
}

struct store *
store_open(const char *path, int create, char *err, size_t errlen)
{
	struct store	*st;
	struct stat	 sb;

	if ((st = calloc(1, sizeof(*st))) == NULL ||
	    (st->path = strdup(path)) == NULL) {
		free(st);
		errmsg_set(err, errlen, "out of memory");
		return NULL;
	}
	st->fd = -1;
	if (create && make_dirs(path) == -1) {
		errmsg_set(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if ((st->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		errmsg_set(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (fstat(st->fd, &sb) == -1) {
		errmsg_set(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if ((sb.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		errmsg_set(err, errlen, "%s: mode %04o lets others change the key "
		    "store; run: chmod 700 %s", path,
		    (unsigned)(sb.st_mode & 07777), path);
		goto fail;
	}
	return st;
fail:
	store_close(st);
	return NULL;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	if (st->fd != -1)
		close(st->fd);
	free(st->path);
	free(st);
}

const char *
store_path(const struct store *st)
{
	return st->path;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
store_domains_free(char **v)
{
	size_t	i;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

char **
store_domains(struct store *st, char *err, size_t errlen)
{
	DIR		 *dir;
	struct dirent	 *de;
	struct stat	  sb;
	char		**v = NULL, **nv;
	size_t		  n = 0;
	int		  fd;

	/* A description of its own: readdir offsets are not shared. */
	if ((fd = openat(st->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1 || (dir = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		errmsg_set(err, errlen, "%s: %s", st->path, strerror(errno));
		return NULL;
	}
	if ((v = calloc(1, sizeof(*v))) == NULL)
		goto nomem;
	while ((de = readdir(dir)) != NULL) {
		if (store_domain_valid(de->d_name) == -1 ||
		    fstatat(st->fd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) ==
		    -1 || !S_ISDIR(sb.st_mode))
			continue;
		if ((nv = reallocarray(v, n + 2, sizeof(*v))) == NULL)
			goto nomem;
		v = nv;
		if ((v[n] = strdup(de->d_name)) == NULL)
			goto nomem;
		v[++n] = NULL;
	}
	closedir(dir);
	qsort(v, n, sizeof(*v), cmp_names);
	return v;
nomem:
	closedir(dir);
	store_domains_free(v);
	errmsg_set(err, errlen, "out of memory");
	return NULL;
}

int
store_fingerprint(struct store *st, uint64_t *out)
{
	crypto_generichash_state	  h;
	struct stat			  sb;
	char				  rel[STORE_DOMAIN_MAX + 16];
	char				**names;
	int64_t				  f[7];
	size_t				  i;

	if ((names = store_domains(st, NULL, 0)) == NULL)
		return -1;
	if (crypto_generichash_init(&h, NULL, 0, sizeof(*out)) != 0)
		goto fail;
	for (i = 0; names[i] != NULL; i++) {
		snprintf(rel, sizeof(rel), "%s/%s", names[i], STORE_JOURNAL);
		memset(f, 0, sizeof(f));
		if (fstatat(st->fd, rel, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
			f[0] = (int64_t)sb.st_ino;
			f[1] = (int64_t)sb.st_size;
			f[2] = (int64_t)sb.st_mtim.tv_sec;
			f[3] = (int64_t)sb.st_mtim.tv_nsec;
			f[4] = (int64_t)sb.st_ctim.tv_sec;
			f[5] = (int64_t)sb.st_ctim.tv_nsec;
			f[6] = (int64_t)sb.st_dev;
		}
		if (crypto_generichash_update(&h, (const uint8_t *)names[i],
		    strlen(names[i]) + 1) != 0 ||
		    crypto_generichash_update(&h, (const uint8_t *)f,
		    sizeof(f)) != 0)
			goto fail;
	}
	if (crypto_generichash_final(&h, (uint8_t *)out, sizeof(*out)) != 0)
		goto fail;
	store_domains_free(names);
	return 0;
fail:
	store_domains_free(names);
	return -1;
}

int
store_generation(struct store *st, uint64_t *out, char *err, size_t errlen)
{
	struct store_domain	 *d;
	char			**names;
	size_t			  i;

	if ((names = store_domains(st, err, errlen)) == NULL)
		return -1;
	*out = 0;
	for (i = 0; names[i] != NULL; i++) {
		if ((d = store_domain_load(st, names[i], err, errlen)) ==
		    NULL) {
			store_domains_free(names);
			return -1;
		}
		*out += d->generation;
		store_domain_free(d);
	}
	store_domains_free(names);
	return 0;
}

struct store_domain *
store_domain_load(struct store *st, const char *domain, char *err,
    size_t errlen)
{
	struct store_domain	*d;
	int			 dfd;

	if ((dfd = open_domain(st, domain, 0, err, errlen)) == -1)
		return NULL;
	d = journal_read(st, dfd, domain, err, errlen);
	close(dfd);
	return d;
}

const char *
store_domain_name(const struct store_domain *d)
{
	return d->name;
}

uint64_t
store_domain_generation(const struct store_domain *d)
{
	return d->generation;
}

time_t
store_domain_last_write(const struct store_domain *d)
{
	return d->last_write;
}

size_t
store_domain_nkeys(const struct store_domain *d)
{
	return d->nkeys;
}

const struct store_key *
store_domain_key(const struct store_domain *d, size_t i)
{
	return i < d->nkeys ? &d->keys[i] : NULL;
}

const struct store_key *
store_domain_find_key(const struct store_domain *d, const char *id)
{
	return find_key(d, id);
}

size_t
store_domain_nselectors(const struct store_domain *d)
{
	return d->nsels;
}

const char *
store_domain_selector(const struct store_domain *d, size_t i)
{
	return i < d->nsels ? d->sels[i].selector : NULL;
}

const struct store_key *
store_domain_selector_key(const struct store_domain *d, const char *selector)
{
	const struct selmap	*s = find_sel(d, selector);

	return s != NULL ? find_key(d, s->id) : NULL;
}

const char *
store_domain_attr(const struct store_domain *d, const char *name)
{
	return attrs_get(&d->attrs, name);
}

const char *
store_key_id(const struct store_key *k)
{
	return k->id;
}

enum keys_alg
store_key_alg(const struct store_key *k)
{
	return k->alg;
}

unsigned
store_key_bits(const struct store_key *k)
{
	return k->bits;
}

const char *
store_key_selector(const struct store_key *k)
{
	return k->selector;
}

enum store_state
store_key_state(const struct store_key *k)
{
	return k->state;
}

time_t
store_key_entered(const struct store_key *k, enum store_state s)
{
	return (unsigned)s < STORE_NSTATES ? k->entered[s] : 0;
}

const char *
store_key_attr(const struct store_key *k, const char *name)
{
	return attrs_get(&k->attrs, name);
}

const char *
store_state_name(enum store_state s)
{
	return (unsigned)s < STORE_NSTATES ? state_names[s] : "?";
}

int
store_state_parse(const char *s, enum store_state *out)
{
	int	i;

	for (i = 0; i < STORE_NSTATES; i++) {
		if (strcmp(s, state_names[i]) == 0) {
			*out = (enum store_state)i;
			return 0;
		}
	}
	return -1;
}

int
store_key_file(const struct store *st, const char *domain, const char *id,
    char *out, size_t outlen)
{
	int	n;

	n = snprintf(out, outlen, "%s/%s/%s/%s.pem", st->path, domain,
	    KEYS_DIR, id);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* Transactions.                                                       */

static void
txn_free(struct store_txn *t)
{
	if (t == NULL)
		return;
	store_domain_free(t->d);
	if (t->kfd != -1)
		close(t->kfd);
	if (t->dfd != -1)
		close(t->dfd);
	/* Closing the last descriptor of the lock file releases the lock. */
	if (t->lockfd != -1)
		close(t->lockfd);
	free(t->added);
	free(t->domain);
	free(t);
}

/* Remove the key files this transaction wrote. */
static void
txn_unwind(struct store_txn *t)
{
	char	name[KEYS_ID_LEN + 8];
	size_t	i;

	for (i = 0; i < t->nadded; i++) {
		snprintf(name, sizeof(name), "%s.pem", t->added[i]);
		unlinkat(t->kfd, name, 0);
	}
	if (t->nadded > 0)
		fsync(t->kfd);
	t->nadded = 0;
}

static int
open_keys_dir(struct store_txn *t, char *err, size_t errlen)
{
	if (mkdirat(t->dfd, KEYS_DIR, 0700) == 0) {
		if (fsync(t->dfd) == -1) {
			errmsg_set(err, errlen, "%s/%s: %s", t->st->path, t->domain,
			    strerror(errno));
			return -1;
		}
	} else if (errno != EEXIST) {
		errmsg_set(err, errlen, "%s/%s/%s: %s", t->st->path, t->domain,
		    KEYS_DIR, strerror(errno));
		return -1;
	}
	t->kfd = openat(t->dfd, KEYS_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (t->kfd == -1) {
		errmsg_set(err, errlen, "%s/%s/%s: %s", t->st->path, t->domain,
		    KEYS_DIR, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * rotation.md §e: a writer killed between writing a key file and
 * committing the journal that names it leaves an orphan, which nothing
 * would ever remove.  Under the lock no other writer is between those
 * two points, so a key file the journal does not name is removed.
 */
static void
gc_orphans(struct store_txn *t)
{
	DIR		*dir;
	struct dirent	*de;
	char		 id[KEYS_ID_LEN + 1];
	int		 fd, removed = 0;

	if ((fd = dup(t->kfd)) == -1)
		return;
	if ((dir = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(dir)) != NULL) {
		if (strlen(de->d_name) != KEYS_ID_LEN + 4 ||
		    strcmp(de->d_name + KEYS_ID_LEN, ".pem") != 0)
			continue;
		memcpy(id, de->d_name, KEYS_ID_LEN);
		id[KEYS_ID_LEN] = '\0';
		if (id_valid(id) == -1 || find_key(t->d, id) != NULL)
			continue;
		if (unlinkat(t->kfd, de->d_name, 0) == 0)
			removed = 1;
	}
	closedir(dir);
	if (removed)
		fsync(t->kfd);
}

enum store_status
store_begin(struct store *st, const char *domain, int flags,
    struct store_txn **out, char *err, size_t errlen)
{
	struct store_txn	*t;
	enum store_status	 rc = STORE_FAIL;
	int			 r;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->domain = strdup(domain)) == NULL) {
		free(t);
		errmsg_set(err, errlen, "out of memory");
		return STORE_FAIL;
	}
	t->st = st;
	t->dfd = t->kfd = t->lockfd = -1;
	if ((t->dfd = open_domain(st, domain, flags & STORE_CREATE, err,
	    errlen)) == -1)
		goto done;
	t->lockfd = openat(t->dfd, LOCK_FILE, O_RDWR | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (t->lockfd == -1) {
		errmsg_set(err, errlen, "%s/%s/%s: %s", st->path, domain, LOCK_FILE,
		    strerror(errno));
		goto done;
	}
	do {
		r = flock(t->lockfd, LOCK_EX |
		    ((flags & STORE_NOWAIT) ? LOCK_NB : 0));
	} while (r == -1 && errno == EINTR);
	if (r == -1 && errno == EWOULDBLOCK) {
		errmsg_set(err, errlen, "%s: key store is busy (another writer holds "
		    "%s/%s/%s)", domain, st->path, domain, LOCK_FILE);
		rc = STORE_BUSY;
		goto done;
	}
	if (r == -1) {
		errmsg_set(err, errlen, "%s/%s/%s: %s", st->path, domain, LOCK_FILE,
		    strerror(errno));
		goto done;
	}
	if (open_keys_dir(t, err, errlen) == -1)
		goto done;
	/* A crashed writer's temp files; nobody else may have them now. */
	unlinkat(t->dfd, JOURNAL_TMP, 0);
	unlinkat(t->kfd, KEY_TMP, 0);
	if ((t->d = journal_read(st, t->dfd, domain, err, errlen)) == NULL)
		goto done;
	gc_orphans(t);
	*out = t;
	t = NULL;
	rc = STORE_OK;
done:
	txn_free(t);
	return rc;
}

const struct store_domain *
store_txn_domain(const struct store_txn *t)
{
	return t->d;
}

static int
note_added(struct store_txn *t, const char *id)
{
	char	(*v)[KEYS_ID_LEN + 1];

	if ((v = reallocarray(t->added, t->nadded + 1, sizeof(*v))) == NULL)
		return -1;
	t->added = v;
	memcpy(v[t->nadded++], id, KEYS_ID_LEN + 1);
	return 0;
}

/*
 * Give the key written at keys/KEY_TMP its final name <id>.pem.  link()
 * never replaces: an existing <id>.pem (a crashed import of the same key)
 * is kept if it holds that very key.
 */
static int
place_key(struct store_txn *t, const struct keys_key *k, const char *id,
    char *err, size_t errlen)
{
	char		 name[KEYS_ID_LEN + 8], path[PATH_MAX];
	struct keys_key	*old;
	int		 fresh = 1;

	snprintf(name, sizeof(name), "%s.pem", id);
	if (linkat(t->kfd, KEY_TMP, t->kfd, name, 0) == -1) {
		if (errno != EEXIST) {
			errmsg_set(err, errlen, "%s/%s/%s/%s: %s", t->st->path,
			    t->domain, KEYS_DIR, name, strerror(errno));
			unlinkat(t->kfd, KEY_TMP, 0);
			return -1;
		}
		fresh = 0;
		store_key_file(t->st, t->domain, id, path, sizeof(path));
		old = keys_load(path, err, errlen);
		if (old == NULL || !keys_same(old, k)) {
			if (old != NULL)
				errmsg_set(err, errlen, "%s: holds a different key "
				    "than its name says; move it away", path);
			keys_free(old);
			unlinkat(t->kfd, KEY_TMP, 0);
			return -1;
		}
		keys_free(old);
	}
	unlinkat(t->kfd, KEY_TMP, 0);
	if (fsync(t->kfd) == -1) {
		errmsg_set(err, errlen, "%s/%s/%s: %s", t->st->path, t->domain,
		    KEYS_DIR, strerror(errno));
		if (fresh)
			unlinkat(t->kfd, name, 0);
		return -1;
	}
	if (fresh && note_added(t, id) == -1) {
		unlinkat(t->kfd, name, 0);
		errmsg_set(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static int
journal_new_key(struct store_txn *t, const struct keys_key *k,
    const char *id, const char *selector, time_t now, char *err,
    size_t errlen)
{
	struct store_key	*rec;

	if ((rec = key_append(t->d)) == NULL) {
		errmsg_set(err, errlen, "%s: too many keys (at most %d)", t->domain,
		    STORE_KEYS_MAX);
		return -1;
	}
	memcpy(rec->id, id, KEYS_ID_LEN + 1);
	rec->alg = keys_alg(k);
	rec->bits = keys_bits(k);
	rec->state = STORE_GENERATED;
	rec->entered[STORE_GENERATED] = now;
	if ((rec->selector = strdup(selector)) == NULL) {
		t->d->nkeys--;
		errmsg_set(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static int
check_new_key(struct store_txn *t, const char *selector, time_t now,
    char *err, size_t errlen)
{
	if (store_selector_valid(selector) == -1) {
		errmsg_set(err, errlen, "\"%s\" is not a valid selector (lower-case "
		    "letters, digits, '-' and dots)", selector);
		return -1;
	}
	if (now <= 0) {
		errmsg_set(err, errlen, "invalid time");
		return -1;
	}
	if (t->d->nkeys >= STORE_KEYS_MAX) {
		errmsg_set(err, errlen, "%s: too many keys (at most %d)", t->domain,
		    STORE_KEYS_MAX);
		return -1;
	}
	return 0;
}

static int
key_tmp_path(struct store_txn *t, char *path, size_t len)
{
	int	n;

	n = snprintf(path, len, "%s/%s/%s/%s", t->st->path, t->domain,
	    KEYS_DIR, KEY_TMP);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int
store_txn_add_key(struct store_txn *t, const struct keys_key *k,
    const char *selector, time_t now, char id[KEYS_ID_LEN + 1], char *err,
    size_t errlen)
{
	const struct store_key	*have;
	char			 tmp[PATH_MAX];

	if (check_new_key(t, selector, now, err, errlen) == -1)
		return -1;
	if (keys_id(k, id) == -1) {
		errmsg_set(err, errlen, "cannot compute the key id");
		return -1;
	}
	if ((have = find_key(t->d, id)) != NULL) {
		errmsg_set(err, errlen, "%s: key %s is already in the store "
		    "(selector %s, %s)", t->domain, id, have->selector,
		    state_names[have->state]);
		return -1;
	}
	if (key_tmp_path(t, tmp, sizeof(tmp)) == -1) {
		errmsg_set(err, errlen, "%s: path too long", t->st->path);
		return -1;
	}
	unlinkat(t->kfd, KEY_TMP, 0);
	if (keys_write_file(k, tmp, err, errlen) == -1 ||
	    place_key(t, k, id, err, errlen) == -1)
		return -1;
	return journal_new_key(t, k, id, selector, now, err, errlen);
}

int
store_txn_generate(struct store_txn *t, enum keys_alg alg, unsigned bits,
    const char *selector, time_t now, char id[KEYS_ID_LEN + 1], char *err,
    size_t errlen)
{
	struct keys_key	*k = NULL;
	char		 tmp[PATH_MAX];
	int		 rc = -1;

	if (check_new_key(t, selector, now, err, errlen) == -1)
		return -1;
	if (key_tmp_path(t, tmp, sizeof(tmp)) == -1) {
		errmsg_set(err, errlen, "%s: path too long", t->st->path);
		return -1;
	}
	unlinkat(t->kfd, KEY_TMP, 0);
	if (keys_generate(alg, bits, tmp, &k, err, errlen) == -1)
		return -1;
	if (keys_id(k, id) == -1) {
		errmsg_set(err, errlen, "cannot compute the key id");
		unlinkat(t->kfd, KEY_TMP, 0);
		goto done;
	}
	if (place_key(t, k, id, err, errlen) == -1 ||
	    journal_new_key(t, k, id, selector, now, err, errlen) == -1)
		goto done;
	rc = 0;
done:
	keys_free(k);
	return rc;
}

static struct store_key *
txn_key(struct store_txn *t, const char *id, char *err, size_t errlen)
{
	struct store_key	*k;

	if ((k = find_key(t->d, id)) == NULL)
		errmsg_set(err, errlen, "%s: no key %s in the store", t->domain, id);
	return k;
}

int
store_txn_set_state(struct store_txn *t, const char *id,
    enum store_state state, time_t now, char *err, size_t errlen)
{
	struct store_key	*k;

	if ((k = txn_key(t, id, err, errlen)) == NULL)
		return -1;
	if ((unsigned)state >= STORE_NSTATES || now <= 0) {
		errmsg_set(err, errlen, "invalid state or time");
		return -1;
	}
	if (state == STORE_DESTROYED) {
		errmsg_set(err, errlen, "%s: a key is destroyed with "
		    "store_txn_destroy, which removes its file", id);
		return -1;
	}
	if (k->state == STORE_DESTROYED) {
		errmsg_set(err, errlen, "key %s is destroyed; its file is gone", id);
		return -1;
	}
	k->state = state;
	k->entered[state] = now;
	return 0;
}

int
store_txn_set_selector(struct store_txn *t, const char *selector,
    const char *id, char *err, size_t errlen)
{
	struct store_key	*k;

	if (store_selector_valid(selector) == -1) {
		errmsg_set(err, errlen, "\"%s\" is not a valid selector", selector);
		return -1;
	}
	if (id != NULL) {
		if ((k = txn_key(t, id, err, errlen)) == NULL)
			return -1;
		if (strcmp(k->selector, selector) != 0) {
			errmsg_set(err, errlen, "key %s was made for selector %s, "
			    "not %s", id, k->selector, selector);
			return -1;
		}
		if (k->state == STORE_DESTROYED) {
			errmsg_set(err, errlen, "key %s is destroyed", id);
			return -1;
		}
	}
	if (sel_set(t->d, selector, id) == -1) {
		errmsg_set(err, errlen, "%s: too many selectors (at most %d)",
		    t->domain, STORE_SELECTORS_MAX);
		return -1;
	}
	return 0;
}

int
store_txn_set_key_attr(struct store_txn *t, const char *id,
    const char *name, const char *value, char *err, size_t errlen)
{
	struct store_key	*k;

	if ((k = txn_key(t, id, err, errlen)) == NULL)
		return -1;
	if (attr_name_valid(name) == -1 ||
	    (value != NULL && attr_value_valid(value) == -1) ||
	    attrs_set(&k->attrs, name, value) == -1) {
		errmsg_set(err, errlen, "key %s: cannot set attribute \"%s\"", id,
		    name);
		return -1;
	}
	return 0;
}

int
store_txn_set_domain_attr(struct store_txn *t, const char *name,
    const char *value, char *err, size_t errlen)
{
	if (attr_name_valid(name) == -1 ||
	    (value != NULL && attr_value_valid(value) == -1) ||
	    attrs_set(&t->d->attrs, name, value) == -1) {
		errmsg_set(err, errlen, "%s: cannot set attribute \"%s\"", t->domain,
		    name);
		return -1;
	}
	return 0;
}

int
store_txn_destroy(struct store_txn *t, const char *id, time_t now, char *err,
    size_t errlen)
{
	struct store_key	*k;
	char			 name[KEYS_ID_LEN + 8];
	size_t			 i;

	if ((k = txn_key(t, id, err, errlen)) == NULL)
		return -1;
	for (i = 0; i < t->d->nsels; i++) {
		if (strcmp(t->d->sels[i].id, id) == 0) {
			errmsg_set(err, errlen, "key %s is still selector %s's key",
			    id, t->d->sels[i].selector);
			return -1;
		}
	}
	if (now <= 0) {
		errmsg_set(err, errlen, "invalid time");
		return -1;
	}
	snprintf(name, sizeof(name), "%s.pem", id);
	if (unlinkat(t->kfd, name, 0) == -1 && errno != ENOENT) {
		errmsg_set(err, errlen, "%s/%s/%s/%s: %s", t->st->path, t->domain,
		    KEYS_DIR, name, strerror(errno));
		return -1;
	}
	if (fsync(t->kfd) == -1) {
		errmsg_set(err, errlen, "%s/%s/%s: %s", t->st->path, t->domain,
		    KEYS_DIR, strerror(errno));
		return -1;
	}
	for (i = 0; i < t->nadded; i++) {
		if (strcmp(t->added[i], id) == 0) {
			memmove(&t->added[i], &t->added[i + 1],
			    (t->nadded - i - 1) * sizeof(t->added[0]));
			t->nadded--;
			break;
		}
	}
	k->state = STORE_DESTROYED;
	k->entered[STORE_DESTROYED] = now;
	return 0;
}

/* Largest key file copied when disclosed (an RSA-4096 PKCS#8 is 3.3 KB). */
#define DISCLOSE_FILE_MAX	(64 * 1024)

/*
 * Write data to dir/name through a temp file, fsync, rename and directory
 * fsync: a reader of the publication directory never sees half a key.
 */
static int
write_public(const char *dir, const char *name, const uint8_t *data,
    size_t len, char *err, size_t errlen)
{
	char	tmp[PATH_MAX], path[PATH_MAX];
	int	fd = -1, dfd = -1, n, m, rc = -1;

	n = snprintf(path, sizeof(path), "%s/%s", dir, name);
	m = snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	if (n < 0 || (size_t)n >= sizeof(path) || m < 0 ||
	    (size_t)m >= sizeof(tmp)) {
		errmsg_set(err, errlen, "%s: path too long", dir);
		return -1;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    (fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0644)) == -1) {
		errmsg_set(err, errlen, "%s: %s", dfd == -1 ? dir : tmp,
		    strerror(errno));
		goto done;
	}
	/* published on purpose: readable whatever the umask */
	if (fchmod(fd, 0644) == -1 || write_all(fd, data, len) == -1 ||
	    fsync(fd) == -1 || close(fd) == -1) {
		fd = -1;
		errmsg_set(err, errlen, "%s: %s", tmp, strerror(errno));
		unlink(tmp);
		goto done;
	}
	fd = -1;
	if (rename(tmp, path) == -1 || fsync(dfd) == -1) {
		errmsg_set(err, errlen, "%s: %s", path, strerror(errno));
		unlink(tmp);
		goto done;
	}
	rc = 0;
done:
	if (fd != -1)
		close(fd);
	if (dfd != -1)
		close(dfd);
	return rc;
}

static int
disclosed_exists(const char *dir, const char *name)
{
	struct stat	sb;
	char		path[PATH_MAX];
	int		n;

	n = snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(path) || lstat(path, &sb) == -1) {
		errno = ENOENT;
		return -1;
	}
	return S_ISREG(sb.st_mode) ? 0 : -1;
}

int
store_txn_disclose(struct store_txn *t, const char *id, const char *dir,
    time_t now, char *err, size_t errlen)
{
	struct store_key	*k;
	struct stat		 sb;
	uint8_t			*data = NULL;
	char			 name[KEYS_ID_LEN + 8], pub[PATH_MAX];
	ssize_t			 got;
	size_t			 len = 0;
	int			 fd = -1, n, rc = -1;

	if ((k = txn_key(t, id, err, errlen)) == NULL)
		return -1;
	n = snprintf(pub, sizeof(pub), "%s.%s.%s.pem", t->domain, k->selector,
	    id);
	if (n < 0 || (size_t)n >= sizeof(pub)) {
		errmsg_set(err, errlen, "%s: name too long", t->domain);
		return -1;
	}
	snprintf(name, sizeof(name), "%s.pem", id);
	if ((fd = openat(t->kfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) ==
	    -1) {
		/* a crash after the unlink: the copy must be out already */
		if (errno != ENOENT || disclosed_exists(dir, pub) == -1) {
			errmsg_set(err, errlen, "%s/%s/%s/%s: %s", t->st->path,
			    t->domain, KEYS_DIR, name, strerror(errno));
			return -1;
		}
	} else {
		if (fstat(fd, &sb) == -1 || sb.st_size <= 0 ||
		    sb.st_size > DISCLOSE_FILE_MAX ||
		    (data = sodium_malloc((size_t)sb.st_size)) == NULL) {
			errmsg_set(err, errlen, "%s/%s/%s/%s: cannot read it",
			    t->st->path, t->domain, KEYS_DIR, name);
			goto done;
		}
		while (len < (size_t)sb.st_size) {
			got = read(fd, data + len, (size_t)sb.st_size - len);
			if (got == -1 && errno == EINTR)
				continue;
			if (got <= 0) {
				errmsg_set(err, errlen, "%s/%s/%s/%s: short read",
				    t->st->path, t->domain, KEYS_DIR, name);
				goto done;
			}
			len += (size_t)got;
		}
		if (write_public(dir, pub, data, len, err, errlen) == -1)
			goto done;
	}
	if (store_txn_destroy(t, id, now, err, errlen) == -1)
		goto done;
	k->state = STORE_DISCLOSED;
	k->entered[STORE_DESTROYED] = 0;
	k->entered[STORE_DISCLOSED] = now;
	rc = 0;
done:
	if (fd != -1)
		close(fd);
	sodium_free(data);
	return rc;
}

void
store_abort(struct store_txn *t)
{
	if (t == NULL)
		return;
	txn_unwind(t);
	txn_free(t);
}

int
store_commit(struct store_txn *t, time_t now, char *err, size_t errlen)
{
	struct buf	*b = NULL;
	char		 file[PATH_MAX];
	int		 fd = -1, renamed = 0, rc = -1;

	snprintf(file, sizeof(file), "%s/%s/%s", t->st->path, t->domain,
	    STORE_JOURNAL);
	if (now <= 0) {
		errmsg_set(err, errlen, "invalid time");
		goto done;
	}
	t->d->generation++;
	t->d->last_write = now;
	if ((b = buf_new(STORE_JOURNAL_MAX)) == NULL ||
	    serialize(t->d, b) == -1) {
		errmsg_set(err, errlen, "%s: cannot encode the journal", file);
		goto done;
	}
	unlinkat(t->dfd, JOURNAL_TMP, 0);
	fd = openat(t->dfd, JOURNAL_TMP, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1 || fchmod(fd, 0600) == -1 ||
	    write_all(fd, buf_data(b), buf_len(b)) == -1 || fsync(fd) == -1) {
		errmsg_set(err, errlen, "%s/%s/%s: %s", t->st->path, t->domain,
		    JOURNAL_TMP, strerror(errno));
		goto done;
	}
	if (close(fd) == -1) {
		fd = -1;
		errmsg_set(err, errlen, "%s/%s/%s: %s", t->st->path, t->domain,
		    JOURNAL_TMP, strerror(errno));
		goto done;
	}
	fd = -1;
	if (renameat(t->dfd, JOURNAL_TMP, t->dfd, STORE_JOURNAL) == -1) {
		errmsg_set(err, errlen, "%s: %s", file, strerror(errno));
		goto done;
	}
	renamed = 1;
	if (fsync(t->dfd) == -1) {
		errmsg_set(err, errlen, "%s: cannot sync its directory: %s", file,
		    strerror(errno));
		goto done;
	}
	rc = 0;
done:
	if (fd != -1)
		close(fd);
	if (!renamed) {
		unlinkat(t->dfd, JOURNAL_TMP, 0);
		txn_unwind(t);
	}
	buf_free(b);
	txn_free(t);
	return rc;
}

enum store_status
store_add_key(struct store *st, const char *domain, const struct keys_key *k,
    const char *selector, time_t now, int flags, char id[KEYS_ID_LEN + 1],
    char *err, size_t errlen)
{
	struct store_txn	*t;
	enum store_status	 rc;

	if ((rc = store_begin(st, domain, flags, &t, err, errlen)) !=
	    STORE_OK)
		return rc;
	if (store_txn_add_key(t, k, selector, now, id, err, errlen) == -1) {
		store_abort(t);
		return STORE_FAIL;
	}
	return store_commit(t, now, err, errlen) == 0 ? STORE_OK : STORE_FAIL;
}

enum store_status
store_set_selector(struct store *st, const char *domain,
    const char *selector, const char *id, enum store_state state, time_t now,
    int flags, char *err, size_t errlen)
{
	struct store_txn	*t;
	enum store_status	 rc;

	if ((rc = store_begin(st, domain, flags & ~STORE_CREATE, &t, err,
	    errlen)) != STORE_OK)
		return rc;
	if (store_txn_set_selector(t, selector, id, err, errlen) == -1 ||
	    store_txn_set_state(t, id, state, now, err, errlen) == -1) {
		store_abort(t);
		return STORE_FAIL;
	}
	return store_commit(t, now, err, errlen) == 0 ? STORE_OK : STORE_FAIL;
}

/* ------------------------------------------------------------------ */
/* Signing keys.                                                       */

void
store_keyset_free(struct store_keyset *ks)
{
	size_t	i;

	if (ks == NULL)
		return;
	for (i = 0; i < ks->n; i++) {
		keys_free(ks->v[i].key);
		free(ks->v[i].selector);
		free(ks->v[i].role);
		free(ks->v[i].path);
		pthread_mutex_destroy(&ks->v[i].mtx);
	}
	free(ks->v);
	free(ks);
}

/* Load one journalled key and check it is the key the journal means. */
static struct keys_key *
load_checked(const struct keyset_entry *k, char *err, size_t errlen)
{
	struct keys_key	*key;
	const char	*path = k->path;
	char		 id[KEYS_ID_LEN + 1];

	if ((key = keys_load(path, err, errlen)) == NULL)
		return NULL;
	if (keys_id(key, id) == -1 || strcmp(id, k->id) != 0) {
		errmsg_set(err, errlen, "%s: holds key %s, not the key its name and "
		    "the journal say", path, id);
		keys_free(key);
		return NULL;
	}
	if (keys_alg(key) != k->alg || keys_bits(key) != k->bits) {
		errmsg_set(err, errlen, "%s: is %s-%u, the journal says %s-%u", path,
		    keys_alg_k(keys_alg(key)), keys_bits(key),
		    keys_alg_k(k->alg), k->bits);
		keys_free(key);
		return NULL;
	}
	return key;
}

struct store_keyset *
store_load_signing_keys(struct store *st, const char *domain, char *err,
    size_t errlen)
{
	struct store_keyset	*ks;

	if ((ks = store_load_signing_keys_lazy(st, domain, err, errlen)) ==
	    NULL)
		return NULL;
	store_keyset_load_all(ks, err, errlen);
	return ks;
}

struct store_keyset *
store_load_signing_keys_lazy(struct store *st, const char *domain,
    char *err, size_t errlen)
{
	struct store_domain	*d;
	struct store_keyset	*ks = NULL;
	const struct store_key	*k;
	struct keyset_entry	*e;
	char			 path[PATH_MAX];
	size_t			 i;

	if ((d = store_domain_load(st, domain, err, errlen)) == NULL)
		return NULL;
	if ((ks = calloc(1, sizeof(*ks))) == NULL ||
	    (d->nsels > 0 && (ks->v = calloc(d->nsels, sizeof(*ks->v))) ==
	    NULL)) {
		free(ks);
		ks = NULL;
		errmsg_set(err, errlen, "out of memory");
		goto done;
	}
	ks->generation = d->generation;
	for (i = 0; i < d->nsels; i++) {
		k = find_key(d, d->sels[i].id);
		if (k->state != STORE_READY && k->state != STORE_ACTIVE)
			continue;
		if (store_key_file(st, domain, k->id, path, sizeof(path)) ==
		    -1) {
			if (ks->failures++ == 0)
				errmsg_set(err, errlen, "%s: path too long",
				    st->path);
			continue;
		}
		e = &ks->v[ks->n];
		pthread_mutex_init(&e->mtx, NULL);
		atomic_init(&e->load, ENTRY_UNLOADED);
		ks->n++;
		if ((e->selector = strdup(d->sels[i].selector)) == NULL ||
		    (e->path = strdup(path)) == NULL) {
			store_keyset_free(ks);
			ks = NULL;
			errmsg_set(err, errlen, "out of memory");
			goto done;
		}
		memcpy(e->id, k->id, sizeof(e->id));
		e->state = k->state;
		e->alg = k->alg;
		e->bits = k->bits;
		e->generated = k->entered[STORE_GENERATED];
		if (attrs_get(&k->attrs, STORE_ATTR_ROLE) != NULL &&
		    (e->role = strdup(attrs_get(&k->attrs, STORE_ATTR_ROLE))) ==
		    NULL) {
			store_keyset_free(ks);
			ks = NULL;
			errmsg_set(err, errlen, "out of memory");
			goto done;
		}
	}
done:
	store_domain_free(d);
	return ks;
}

size_t
store_keyset_count(const struct store_keyset *ks)
{
	return ks->n;
}

size_t
store_keyset_failures(const struct store_keyset *ks)
{
	return ks->failures;
}

uint64_t
store_keyset_generation(const struct store_keyset *ks)
{
	return ks->generation;
}

const char *
store_keyset_selector(const struct store_keyset *ks, size_t i)
{
	return i < ks->n ? ks->v[i].selector : NULL;
}

const char *
store_keyset_id(const struct store_keyset *ks, size_t i)
{
	return i < ks->n ? ks->v[i].id : NULL;
}

enum store_state
store_keyset_state(const struct store_keyset *ks, size_t i)
{
	return i < ks->n ? ks->v[i].state : STORE_GENERATED;
}

/*
 * The key of entry i, loading it if this is its first use: the first
 * caller loads under the entry's lock while others wait for it; later
 * callers see LOADED or FAILED without locking.  err gets the reason
 * only in the call whose load failed.
 */
const struct keys_key *
store_keyset_key_err(const struct store_keyset *ks, size_t i, char *err,
    size_t errlen)
{
	struct keyset_entry	*e;
	struct keys_key		*key;
	int			 st;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (i >= ks->n)
		return NULL;
	e = &ks->v[i];
	st = atomic_load_explicit(&e->load, memory_order_acquire);
	if (st != ENTRY_UNLOADED)
		return st == ENTRY_LOADED ? e->key : NULL;
	pthread_mutex_lock(&e->mtx);
	st = atomic_load_explicit(&e->load, memory_order_relaxed);
	if (st == ENTRY_UNLOADED) {
		if ((key = load_checked(e, err, errlen)) != NULL) {
			e->key = key;
			st = ENTRY_LOADED;
		} else
			st = ENTRY_FAILED;
		atomic_store_explicit(&e->load, st, memory_order_release);
	}
	pthread_mutex_unlock(&e->mtx);
	return st == ENTRY_LOADED ? e->key : NULL;
}

const struct keys_key *
store_keyset_key(const struct store_keyset *ks, size_t i)
{
	return store_keyset_key_err(ks, i, NULL, 0);
}

enum keys_alg
store_keyset_alg(const struct store_keyset *ks, size_t i)
{
	return i < ks->n ? ks->v[i].alg : KEYS_ALG_RSA_SHA256;
}

size_t
store_keyset_load_all(struct store_keyset *ks, char *err, size_t errlen)
{
	char	kerr[512];
	size_t	i, j, failed = 0;

	for (i = j = 0; i < ks->n; i++) {
		if (store_keyset_key_err(ks, i, kerr, sizeof(kerr)) == NULL) {
			if (ks->failures++ == 0)
				errmsg_set(err, errlen, "%s", kerr);
			failed++;
			free(ks->v[i].selector);
			free(ks->v[i].role);
			free(ks->v[i].path);
			pthread_mutex_destroy(&ks->v[i].mtx);
			continue;
		}
		/* A mutex may not be copied: the moved entry gets a new one. */
		if (j != i) {
			pthread_mutex_destroy(&ks->v[i].mtx);
			memcpy(&ks->v[j], &ks->v[i], sizeof(ks->v[j]));
			pthread_mutex_init(&ks->v[j].mtx, NULL);
		}
		j++;
	}
	ks->n = j;
	return failed;
}

const char *
store_keyset_role(const struct store_keyset *ks, size_t i)
{
	if (i >= ks->n || ks->v[i].role == NULL)
		return STORE_ROLE_DKIM;
	return ks->v[i].role;
}

int
store_keyset_current(const struct store_keyset *ks, const char *role,
    size_t *idx)
{
	size_t	i;
	int	found = 0;

	for (i = 0; i < ks->n; i++) {
		if (strcmp(store_keyset_role(ks, i), role) != 0)
			continue;
		if (!found || ks->v[i].generated >= ks->v[*idx].generated) {
			*idx = i;
			found = 1;
		}
	}
	return found ? 0 : -1;
}
