/*
 * publish — make one DNS name hold exactly one TXT record, or none, via
 * RFC 2136 UPDATE (libldns, TSIG), a zone file we own, or an exec hook
 * (rotation.md §d; hostile-inputs.md KY-06, KY-07).
 *
 * Invariants:
 *  - one UPDATE per transition, always with a prerequisite: the record
 *    we believe is there (RFC 2136 2.4.2) or "no TXT RRset" (2.4.3), so
 *    a replay or a concurrent change can never be applied blindly.  A
 *    failed prerequisite (YXRRSET/NXRRSET) makes us read the primary:
 *    already our record means done; anything else is drift, and we
 *    compare-and-swap once more against exactly what we read.
 *  - the zone serial is raised and written to the state file before the
 *    zone file is written; both writes are temp + fsync + rename +
 *    directory fsync.
 *  - a hook gets public data only, on stdin, and is run only if it is
 *    absolute, root-owned and not writable by group or others, nor is
 *    any directory above it (sticky directories excepted).
 *  - the TSIG secret lives in sodium_malloc memory, read-only after
 *    load, wiped on free, and never appears in a reason string.
 *
 * RFCs: 1035 (5.1 zone files, 3.3.14 TXT), 1982 (serials), 2136 (2.4,
 * 3.7), 8945 (TSIG).
 */
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <ldns/ldns.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "keys/dnscheck.h"
#include "keys/publish.h"
#include "proxy/msg/buf.h"

/* RFC 1035 4.2.1: larger UPDATE messages go over TCP from the start. */
#define UDP_PLAIN_MAX		512
/* RFC 8945 4.3 / IANA: TSIG error codes carried in the TSIG RR. */
#define TSIG_BADSIG		16
#define TSIG_BADKEY		17
#define TSIG_BADTIME		18
/* RFC 8945 4.2: the TSIG RDATA field holding the error. */
#define TSIG_RDF_MAC		3
#define TSIG_RDF_ERROR		5
/* Output kept from a hook or reload command, for the reason string. */
#define EXEC_OUTPUT_MAX		4096
#define EXEC_EXIT_NOT_RUN	127
#define ZONE_TEMPLATE_MAX	(1024 * 1024)
#define STATE_MAGIC		"signet-zone-state 1"
#define PATH_SUFFIX_MAX		16

struct publish {
	enum publish_backend	 backend;
	char			*zone;
	struct sockaddr_storage	 server;
	socklen_t		 server_len;
	char			*tsig_name;
	const char		*tsig_alg;	/* libldns algorithm name */
	char			*secret;	/* base64, sodium_malloc */
	int			 timeout_ms;
	char			*zonefile;
	char			*tmpl;
	size_t			 tmpllen;
	char			*reload;
	char			*hook;
	int			 exec_timeout_ms;
};

/* What a command run by exec_run() did. */
struct exec_result {
	int	exited;		/* normal exit: code is valid */
	int	code;
	int	timed_out;
	char	last[PUBLISH_REASON_LEN / 2];	/* last output line */
};

/* One record of the zonefile backend's state. */
struct zrec {
	char		 fqdn[DNSCHECK_NAME_MAX + 1];
	uint32_t	 ttl;
	uint8_t		*value;
	size_t		 len;
};

struct zstate {
	uint32_t	 serial;
	struct zrec	*recs;
	size_t		 n;
};

static void __attribute__((format(printf, 3, 4)))
say(char *out, size_t outlen, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(out, outlen, fmt, ap);
	va_end(ap);
}

const char *
publish_result_name(enum publish_result r)
{
	switch (r) {
	case PUBLISH_DONE:
		return "done";
	case PUBLISH_RETRY:
		return "retry";
	case PUBLISH_PERMANENT:
		return "permanent";
	}
	return "permanent";
}

/* ---- TXT strings and zone-file text ---------------------------------- */

size_t
publish_txt_nstrings(size_t len)
{
	/* A TXT record holds at least one string, possibly empty. */
	if (len == 0)
		return 1;
	return (len + PUBLISH_STRING_MAX - 1) / PUBLISH_STRING_MAX;
}

int
publish_txt_rdata(struct buf *out, const uint8_t *v, size_t len)
{
	size_t	off = 0, n;

	do {
		n = len - off > PUBLISH_STRING_MAX ? PUBLISH_STRING_MAX :
		    len - off;
		if (buf_append_byte(out, (uint8_t)n) == -1 ||
		    buf_append(out, v + off, n) == -1)
			return -1;
		off += n;
	} while (off < len);
	return 0;
}

/* RFC 1035 5.1: inside quotes, any printable octet but '"' and '\'. */
static int
is_qtext(uint8_t c)
{
	return c >= 0x20 && c <= 0x7e && c != '"' && c != '\\';
}

int
publish_txt_render(struct buf *out, const uint8_t *v, size_t len)
{
	size_t	off = 0, n, i;

	do {
		n = len - off > PUBLISH_STRING_MAX ? PUBLISH_STRING_MAX :
		    len - off;
		if (off > 0 && buf_append_byte(out, ' ') == -1)
			return -1;
		if (buf_append_byte(out, '"') == -1)
			return -1;
		for (i = off; i < off + n; i++) {
			if (is_qtext(v[i])) {
				if (buf_append_byte(out, v[i]) == -1)
					return -1;
			} else if (v[i] == '"' || v[i] == '\\') {
				if (buf_printf(out, "\\%c", v[i]) == -1)
					return -1;
			} else if (buf_printf(out, "\\%03u", v[i]) == -1)
				return -1;
		}
		if (buf_append_byte(out, '"') == -1)
			return -1;
		off += n;
	} while (off < len);
	return 0;
}

int
publish_rr_render(struct buf *out, const char *fqdn, uint32_t ttl,
    const uint8_t *v, size_t len)
{
	if (!dnscheck_name_valid(fqdn) || ttl > PUBLISH_TTL_MAX)
		return -1;
	if (buf_printf(out, "%s. %u IN TXT ", fqdn, ttl) == -1 ||
	    publish_txt_render(out, v, len) == -1 ||
	    buf_append_byte(out, '\n') == -1)
		return -1;
	return 0;
}

static int
rec_cmp(const void *a, const void *b)
{
	const struct publish_rec *const	*x = a, *const *y = b;

	return strcasecmp((*x)->fqdn, (*y)->fqdn);
}

int
publish_zone_render(struct buf *out, const char *tmpl, size_t tmpllen,
    uint32_t serial, const struct publish_rec *recs, size_t n)
{
	const struct publish_rec	**sorted = NULL;
	const char			*tok = NULL, *p;
	size_t				 toklen = strlen(PUBLISH_SERIAL_TOKEN);
	size_t				 i;
	int				 ret = -1;

	if (tmpl != NULL) {
		for (p = tmpl; (size_t)(p - tmpl) + toklen <= tmpllen; p++) {
			if (memcmp(p, PUBLISH_SERIAL_TOKEN, toklen) != 0)
				continue;
			if (tok != NULL)
				goto done;	/* twice: which one? */
			tok = p;
		}
		if (tok == NULL)
			goto done;
		if (buf_append(out, tmpl, (size_t)(tok - tmpl)) == -1 ||
		    buf_printf(out, "%u", serial) == -1 ||
		    buf_append(out, tok + toklen,
		    tmpllen - (size_t)(tok - tmpl) - toklen) == -1)
			goto done;
		if (tmpllen > 0 && tmpl[tmpllen - 1] != '\n' &&
		    buf_append_byte(out, '\n') == -1)
			goto done;
	}
	if (n > 0 && (sorted = calloc(n, sizeof(*sorted))) == NULL)
		goto done;
	for (i = 0; i < n; i++)
		sorted[i] = &recs[i];
	if (n > 0)
		qsort(sorted, n, sizeof(*sorted), rec_cmp);
	for (i = 0; i < n; i++) {
		if (sorted[i]->value == NULL)
			continue;
		if (publish_rr_render(out, sorted[i]->fqdn, sorted[i]->ttl,
		    sorted[i]->value, sorted[i]->len) == -1)
			goto done;
	}
	ret = 0;
done:
	free(sorted);
	return ret;
}

/* ---- hook JSON, state id, serials, reply classes --------------------- */

/* RFC 8259 7, restricted to what a TXT value of ours may hold. */
static int
json_string(struct buf *out, const uint8_t *s, size_t len)
{
	size_t	i;

	if (buf_append_byte(out, '"') == -1)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] >= 0x7f)
			return -1;	/* not ASCII: no faithful JSON text */
		if (s[i] == '"' || s[i] == '\\') {
			if (buf_printf(out, "\\%c", s[i]) == -1)
				return -1;
		} else if (s[i] < 0x20) {
			if (buf_printf(out, "\\u%04x", s[i]) == -1)
				return -1;
		} else if (buf_append_byte(out, s[i]) == -1)
			return -1;
	}
	return buf_append_byte(out, '"');
}

int
publish_state_id(const struct publish_rec *rec,
    char out[PUBLISH_STATE_ID_LEN + 1])
{
	struct buf	*b;
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;
	int		 ret = -1;

	if ((b = buf_new(PUBLISH_VALUE_MAX + DNSCHECK_NAME_MAX + 32)) == NULL)
		return -1;
	if (buf_printf(b, "%s\n%u\n", rec->fqdn, rec->ttl) == -1)
		goto done;
	if (rec->value == NULL ? buf_append_str(b, "absent") == -1 :
	    (buf_append_byte(b, 'v') == -1 ||
	    buf_append(b, rec->value, rec->len) == -1))
		goto done;
	if (EVP_Digest(buf_data(b), buf_len(b), md, &mdlen, EVP_sha256(),
	    NULL) != 1 || mdlen < PUBLISH_STATE_ID_LEN / 2)
		goto done;
	sodium_bin2hex(out, PUBLISH_STATE_ID_LEN + 1, md,
	    PUBLISH_STATE_ID_LEN / 2);
	ret = 0;
done:
	buf_free(b);
	return ret;
}

int
publish_hook_json(struct buf *out, const char *action, const char *zone,
    const struct publish_rec *rec)
{
	char	id[PUBLISH_STATE_ID_LEN + 1];
	size_t	off, n;

	if (!dnscheck_name_valid(zone) || !dnscheck_name_valid(rec->fqdn) ||
	    publish_state_id(rec, id) == -1)
		return -1;
	if (buf_printf(out, "{\"action\":\"%s\",\"zone\":\"%s\","
	    "\"fqdn\":\"%s\",\"ttl\":%u,\"records\":[", action, zone,
	    rec->fqdn, rec->ttl) == -1)
		return -1;
	for (off = 0; rec->value != NULL && off < rec->len; off += n) {
		n = rec->len - off > PUBLISH_STRING_MAX ? PUBLISH_STRING_MAX :
		    rec->len - off;
		if (off > 0 && buf_append_byte(out, ',') == -1)
			return -1;
		if (json_string(out, rec->value + off, n) == -1)
			return -1;
	}
	if (rec->value != NULL && rec->len == 0 &&
	    buf_append_str(out, "\"\"") == -1)
		return -1;
	return buf_printf(out, "],\"state\":\"%s\"}\n", id);
}

uint32_t
publish_serial_next(uint32_t prev, uint64_t now)
{
	uint32_t	clock = (uint32_t)now;

	if (dnscheck_serial_cmp(clock, prev) > 0)
		return clock;
	return prev + 1;
}

enum publish_reply
publish_classify(int rcode, int tsig_error, char *reason, size_t reasonlen)
{
	switch (tsig_error) {
	case 0:
		break;
	case TSIG_BADTIME:
		say(reason, reasonlen, "TSIG BADTIME: our clock and the "
		    "server's differ by more than %d s", PUBLISH_TSIG_FUDGE);
		return PUBLISH_REPLY_RETRY;
	case TSIG_BADSIG:
		say(reason, reasonlen, "TSIG BADSIG: the server has another "
		    "secret for this key");
		return PUBLISH_REPLY_PERMANENT;
	case TSIG_BADKEY:
		/* Knot also answers so when its ACL denies a signed update. */
		say(reason, reasonlen, "TSIG BADKEY: the server does not take "
		    "this key (unknown key or algorithm, or ACL denial)");
		return PUBLISH_REPLY_PERMANENT;
	default:
		say(reason, reasonlen, "TSIG error %d", tsig_error);
		return PUBLISH_REPLY_PERMANENT;
	}
	switch (rcode) {
	case LDNS_RCODE_NOERROR:
		say(reason, reasonlen, "update applied");
		return PUBLISH_REPLY_DONE;
	case LDNS_RCODE_YXRRSET:
	case LDNS_RCODE_NXRRSET:
		say(reason, reasonlen, "prerequisite failed (%s)",
		    dnscheck_rcode_name(rcode));
		return PUBLISH_REPLY_RECONCILE;
	case LDNS_RCODE_SERVFAIL:
		say(reason, reasonlen, "SERVFAIL: the server cannot apply "
		    "updates now");
		return PUBLISH_REPLY_RETRY;
	case LDNS_RCODE_REFUSED:
		say(reason, reasonlen, "REFUSED: the server's policy does not "
		    "allow this update (ACL or update-policy)");
		return PUBLISH_REPLY_PERMANENT;
	case LDNS_RCODE_NOTAUTH:
		say(reason, reasonlen, "NOTAUTH: the server is not "
		    "authoritative for the zone, or rejected the key");
		return PUBLISH_REPLY_PERMANENT;
	case LDNS_RCODE_NOTZONE:
		say(reason, reasonlen, "NOTZONE: the name is outside the zone");
		return PUBLISH_REPLY_PERMANENT;
	default:
		say(reason, reasonlen, "%s: update rejected",
		    dnscheck_rcode_name(rcode));
		return PUBLISH_REPLY_PERMANENT;
	}
}

/* ---- configuration --------------------------------------------------- */

static int
is_b64_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=';
}

static int
is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * The base64 secret: the whole file, or the value after "secret" in a
 * Knot (`secret: B64`) or BIND (`secret "B64";`) key statement.
 */
static int
secret_span(const char *s, size_t len, size_t *start, size_t *slen)
{
	static const char	 kw[] = "secret";
	size_t			 i = 0, j;
	int			 keyword = 0;

	/* The keyword as a word of its own, followed by ':' or '"'. */
	for (j = 0; j + sizeof(kw) - 1 <= len && !keyword; j++) {
		if (memcmp(s + j, kw, sizeof(kw) - 1) != 0 ||
		    (j > 0 && !is_space((unsigned char)s[j - 1])))
			continue;
		for (i = j + sizeof(kw) - 1; i < len &&
		    (s[i] == ' ' || s[i] == '\t'); i++)
			continue;
		if (i < len && (s[i] == ':' || s[i] == '"'))
			keyword = 1;
	}
	if (!keyword)
		i = 0;
	while (i < len && (is_space((unsigned char)s[i]) || s[i] == ':' ||
	    s[i] == '"'))
		i++;
	for (j = i; j < len && is_b64_char((unsigned char)s[j]); j++)
		continue;
	if (j == i)
		return -1;
	if (!keyword) {
		/* A bare secret: nothing but white space may follow. */
		for (; j < len; j++)
			if (!is_space((unsigned char)s[j]))
				return -1;
		for (j = i; j < len && is_b64_char((unsigned char)s[j]); j++)
			continue;
	}
	*start = i;
	*slen = j - i;
	return 0;
}

static char *
secret_load(const char *path, char *err, size_t errlen)
{
	struct stat	 st;
	char		*raw = NULL, *out = NULL;
	unsigned char	*bin = NULL;
	size_t		 len = 0, start, slen, binlen;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		say(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		say(err, errlen, "%s: not a regular file", path);
		goto fail;
	}
	if ((st.st_mode & (S_IROTH | S_IWOTH)) != 0) {
		say(err, errlen, "%s: mode %04o lets others read or write the "
		    "TSIG secret", path, (unsigned)(st.st_mode & 07777));
		goto fail;
	}
	if ((raw = sodium_malloc(PUBLISH_SECRET_FILE_MAX + 1)) == NULL) {
		say(err, errlen, "out of memory");
		goto fail;
	}
	while ((n = read(fd, raw + len, PUBLISH_SECRET_FILE_MAX + 1 - len)) >
	    0) {
		len += (size_t)n;
		if (len > PUBLISH_SECRET_FILE_MAX)
			break;
	}
	if (n == -1 || len > PUBLISH_SECRET_FILE_MAX) {
		say(err, errlen, "%s: %s", path, n == -1 ? strerror(errno) :
		    "too large for a TSIG key");
		goto fail;
	}
	if (secret_span(raw, len, &start, &slen) == -1) {
		say(err, errlen, "%s: no base64 secret found", path);
		goto fail;
	}
	if ((bin = sodium_malloc(slen)) == NULL ||
	    (out = sodium_malloc(slen + 1)) == NULL) {
		say(err, errlen, "out of memory");
		goto fail;
	}
	if (sodium_base642bin(bin, slen, raw + start, slen, NULL, &binlen,
	    NULL, sodium_base64_VARIANT_ORIGINAL) != 0 || binlen == 0) {
		say(err, errlen, "%s: the secret is not valid base64", path);
		goto fail;
	}
	memcpy(out, raw + start, slen);
	out[slen] = '\0';
	sodium_mprotect_readonly(out);
	sodium_free(bin);
	sodium_free(raw);
	close(fd);
	return out;
fail:
	sodium_free(out);
	sodium_free(bin);
	sodium_free(raw);
	close(fd);
	return NULL;
}

/*
 * The hook and every directory above it: root's, and nobody else may
 * replace it (a sticky directory protects root's entries).
 */
static int
hook_check(const char *path, char *err, size_t errlen)
{
	struct stat	 st;
	char		 dir[PATH_MAX];
	char		*slash;
	size_t		 len = strlen(path);

	if (path[0] != '/' || len >= sizeof(dir)) {
		say(err, errlen, "hook %s: path must be absolute", path);
		return -1;
	}
	if (lstat(path, &st) == -1) {
		say(err, errlen, "hook %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 0111) == 0) {
		say(err, errlen, "hook %s: not an executable regular file",
		    path);
		return -1;
	}
	if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		say(err, errlen, "hook %s: must be owned by root and not "
		    "group or world writable (uid %u, mode %04o)", path,
		    (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	memcpy(dir, path, len + 1);
	while ((slash = strrchr(dir, '/')) != NULL) {
		if (slash == dir)
			slash[1] = '\0';
		else
			*slash = '\0';
		if (stat(dir, &st) == -1) {
			say(err, errlen, "hook %s: %s: %s", path, dir,
			    strerror(errno));
			return -1;
		}
		if (st.st_uid != 0 || ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
		    (st.st_mode & S_ISVTX) == 0)) {
			say(err, errlen, "hook %s: directory %s may be changed "
			    "by others than root", path, dir);
			return -1;
		}
		if (strcmp(dir, "/") == 0)
			break;
	}
	return 0;
}

static int
read_small_file(const char *path, size_t max, char **out, size_t *outlen,
    char *err, size_t errlen)
{
	struct buf	*b = NULL;
	char		 chunk[4096];
	size_t		 n;
	FILE		*f;
	int		 ret = -1;

	if ((f = fopen(path, "re")) == NULL) {
		say(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if ((b = buf_new(max)) == NULL) {
		say(err, errlen, "out of memory");
		goto done;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (buf_append(b, chunk, n) == -1) {
			say(err, errlen, "%s: larger than %zu octets", path,
			    max);
			goto done;
		}
	}
	if (ferror(f)) {
		say(err, errlen, "%s: read error", path);
		goto done;
	}
	if (buf_cstr(b) == NULL) {
		say(err, errlen, "out of memory");
		goto done;
	}
	*outlen = buf_len(b);
	if ((*out = (char *)buf_steal(b, &n)) == NULL && *outlen > 0) {
		say(err, errlen, "out of memory");
		goto done;
	}
	ret = 0;
done:
	buf_free(b);
	fclose(f);
	return ret;
}

static char *
dup_opt(const char *s, int *failed)
{
	char	*d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		*failed = 1;
	return d;
}

struct publish *
publish_new(const struct publish_cfg *cfg, char *err, size_t errlen)
{
	struct publish	*p;
	struct addrinfo	 hints, *res = NULL;
	char		 port[8];
	int		 failed = 0;

	if (sodium_init() == -1) {
		say(err, errlen, "libsodium failed to initialize");
		return NULL;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		say(err, errlen, "out of memory");
		return NULL;
	}
	p->backend = cfg->backend;
	p->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms :
	    DNSCHECK_TIMEOUT_MS;
	p->exec_timeout_ms = cfg->exec_timeout_ms > 0 ?
	    cfg->exec_timeout_ms : PUBLISH_EXEC_TIMEOUT_MS;
	if (cfg->zone == NULL || !dnscheck_name_valid(cfg->zone)) {
		say(err, errlen, "zone: not a valid domain name");
		goto fail;
	}
	p->zone = dup_opt(cfg->zone, &failed);
	p->zonefile = dup_opt(cfg->zonefile, &failed);
	p->reload = dup_opt(cfg->reload_command, &failed);
	p->hook = dup_opt(cfg->hook, &failed);
	p->tsig_name = dup_opt(cfg->tsig_name, &failed);
	if (failed) {
		say(err, errlen, "out of memory");
		goto fail;
	}
	switch (cfg->backend) {
	case PUBLISH_RFC2136:
		if (cfg->server_host == NULL) {
			say(err, errlen, "rfc2136: no server");
			goto fail;
		}
		memset(&hints, 0, sizeof(hints));
		hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
		hints.ai_socktype = SOCK_DGRAM;
		snprintf(port, sizeof(port), "%u", cfg->server_port != 0 ?
		    cfg->server_port : DNSCHECK_PORT);
		if (getaddrinfo(cfg->server_host, port, &hints, &res) != 0 ||
		    res->ai_addrlen > sizeof(p->server)) {
			say(err, errlen, "rfc2136: server %s is not an IP "
			    "address", cfg->server_host);
			goto fail;
		}
		memcpy(&p->server, res->ai_addr, res->ai_addrlen);
		p->server_len = res->ai_addrlen;
		if (cfg->tsig_name == NULL)
			break;
		if (!dnscheck_name_valid(cfg->tsig_name)) {
			say(err, errlen, "rfc2136: TSIG key name %s is not a "
			    "domain name", cfg->tsig_name);
			goto fail;
		}
		p->tsig_alg = cfg->tsig_alg == PUBLISH_TSIG_HMAC_SHA512 ?
		    "hmac-sha512." : "hmac-sha256.";
		if (cfg->tsig_secret_file == NULL) {
			say(err, errlen, "rfc2136: TSIG key without a secret "
			    "file");
			goto fail;
		}
		if ((p->secret = secret_load(cfg->tsig_secret_file, err,
		    errlen)) == NULL)
			goto fail;
		break;
	case PUBLISH_ZONEFILE:
		if (cfg->zonefile == NULL || cfg->zonefile[0] == '\0') {
			say(err, errlen, "zonefile: no path");
			goto fail;
		}
		if (cfg->zonefile_template != NULL &&
		    read_small_file(cfg->zonefile_template, ZONE_TEMPLATE_MAX,
		    &p->tmpl, &p->tmpllen, err, errlen) == -1)
			goto fail;
		if (p->tmpl != NULL && (p->tmpllen == 0 ||
		    memmem(p->tmpl, p->tmpllen, PUBLISH_SERIAL_TOKEN,
		    strlen(PUBLISH_SERIAL_TOKEN)) == NULL)) {
			say(err, errlen, "zonefile template %s: no %s token",
			    cfg->zonefile_template, PUBLISH_SERIAL_TOKEN);
			goto fail;
		}
		break;
	case PUBLISH_EXEC:
		if (cfg->hook == NULL) {
			say(err, errlen, "exec: no hook");
			goto fail;
		}
		if (hook_check(cfg->hook, err, errlen) == -1)
			goto fail;
		break;
	default:
		say(err, errlen, "unknown backend");
		goto fail;
	}
	if (res != NULL)
		freeaddrinfo(res);
	return p;
fail:
	if (res != NULL)
		freeaddrinfo(res);
	publish_free(p);
	return NULL;
}

void
publish_free(struct publish *p)
{
	if (p == NULL)
		return;
	sodium_free(p->secret);
	free(p->zone);
	free(p->tsig_name);
	free(p->zonefile);
	free(p->tmpl);
	free(p->reload);
	free(p->hook);
	free(p);
}

/* ---- shared checks --------------------------------------------------- */

/* name is zone or below it (case-insensitive, on a label boundary). */
static int
in_zone(const char *name, const char *zone)
{
	size_t	nl = strlen(name), zl = strlen(zone);

	if (nl == zl)
		return strcasecmp(name, zone) == 0;
	return nl > zl && name[nl - zl - 1] == '.' &&
	    strcasecmp(name + nl - zl, zone) == 0;
}

static int
rec_check(const struct publish *p, const struct publish_rec *rec,
    struct publish_outcome *out)
{
	if (!dnscheck_name_valid(rec->fqdn) || !in_zone(rec->fqdn, p->zone)) {
		say(out->reason, sizeof(out->reason), "%s is not a name in "
		    "zone %s", rec->fqdn, p->zone);
		return -1;
	}
	if (rec->ttl > PUBLISH_TTL_MAX) {
		say(out->reason, sizeof(out->reason), "TTL %u over %u",
		    rec->ttl, PUBLISH_TTL_MAX);
		return -1;
	}
	if ((rec->value != NULL && rec->len > PUBLISH_VALUE_MAX) ||
	    (rec->prev == PUBLISH_PREV_VALUE &&
	    (rec->prev_value == NULL || rec->prev_len > PUBLISH_VALUE_MAX))) {
		say(out->reason, sizeof(out->reason), "record over %d "
		    "octets", PUBLISH_VALUE_MAX);
		return -1;
	}
	return 0;
}

static enum publish_result
finish(struct publish_outcome *out, enum publish_result r)
{
	out->result = r;
	return r;
}

/* ---- rfc2136 --------------------------------------------------------- */

/* An RR of type TXT; rdata NULL gives RDLENGTH 0 (RFC 2136 2.4, 2.5). */
static ldns_rr *
txt_rr(const char *fqdn, ldns_rr_class cls, uint32_t ttl,
    const uint8_t *rdata, size_t rdlen)
{
	ldns_rr		*rr;
	ldns_rdf	*rdf;
	size_t		 off = 0;

	if ((rr = ldns_rr_new()) == NULL)
		return NULL;
	if ((rdf = ldns_dname_new_frm_str(fqdn)) == NULL)
		goto fail;
	ldns_rr_set_owner(rr, rdf);
	ldns_rr_set_type(rr, LDNS_RR_TYPE_TXT);
	ldns_rr_set_class(rr, cls);
	ldns_rr_set_ttl(rr, ttl);
	while (rdata != NULL && off < rdlen) {
		if ((size_t)rdata[off] + 1 > rdlen - off)
			goto fail;
		if ((rdf = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_STR,
		    (size_t)rdata[off] + 1, rdata + off)) == NULL)
			goto fail;
		if (!ldns_rr_push_rdf(rr, rdf)) {
			ldns_rdf_deep_free(rdf);
			goto fail;
		}
		off += (size_t)rdata[off] + 1;
	}
	return rr;
fail:
	ldns_rr_free(rr);
	return NULL;
}

static int
push(ldns_rr_list *l, ldns_rr *rr)
{
	if (rr == NULL)
		return -1;
	if (!ldns_rr_list_push_rr(l, rr)) {
		ldns_rr_free(rr);
		return -1;
	}
	return 0;
}

/* The prerequisite section: what we read, or else what rec believes. */
static int
prereqs(ldns_rr_list *l, const struct publish_rec *rec,
    const struct dnscheck_answer *seen)
{
	struct buf	*rd;
	const uint8_t	*d;
	size_t		 i, n, dlen;
	int		 ret = -1;

	if (seen != NULL) {
		n = dnscheck_answer_ntxt(seen);
		if (n == 0)
			return push(l, txt_rr(rec->fqdn, LDNS_RR_CLASS_NONE, 0,
			    NULL, 0));
		for (i = 0; i < n; i++) {
			d = dnscheck_answer_rdata(seen, i, &dlen);
			if (push(l, txt_rr(rec->fqdn, LDNS_RR_CLASS_IN, 0, d,
			    dlen)) == -1)
				return -1;
		}
		return 0;
	}
	if (rec->prev == PUBLISH_PREV_ABSENT)
		return push(l, txt_rr(rec->fqdn, LDNS_RR_CLASS_NONE, 0, NULL,
		    0));
	if ((rd = buf_new(DNSCHECK_MSG_MAX)) == NULL)
		return -1;
	if (publish_txt_rdata(rd, rec->prev_value, rec->prev_len) == 0)
		ret = push(l, txt_rr(rec->fqdn, LDNS_RR_CLASS_IN, 0,
		    buf_data(rd), buf_len(rd)));
	buf_free(rd);
	return ret;
}

/* Delete the TXT RRset, then add ours (RFC 2136 2.5.2, 2.5.1). */
static int
updates(ldns_rr_list *l, const struct publish_rec *rec)
{
	struct buf	*rd;
	int		 ret = -1;

	if (push(l, txt_rr(rec->fqdn, LDNS_RR_CLASS_ANY, 0, NULL, 0)) == -1)
		return -1;
	if (rec->value == NULL)
		return 0;
	if ((rd = buf_new(DNSCHECK_MSG_MAX)) == NULL)
		return -1;
	if (publish_txt_rdata(rd, rec->value, rec->len) == 0)
		ret = push(l, txt_rr(rec->fqdn, LDNS_RR_CLASS_IN, rec->ttl,
		    buf_data(rd), buf_len(rd)));
	buf_free(rd);
	return ret;
}

/* The reply to our UPDATE: checked, verified, classified. */
static enum publish_reply
update_reply(const struct publish *p, const uint8_t *r, size_t rlen,
    const ldns_rdf *req_mac, char *reason, size_t reasonlen)
{
	ldns_pkt		*resp = NULL;
	const ldns_rr		*tsig;
	const ldns_rdf		*rdf;
	enum publish_reply	 ret = PUBLISH_REPLY_RETRY;
	int			 tsig_error = 0, rcode;

	if (ldns_wire2pkt(&resp, r, rlen) != LDNS_STATUS_OK ||
	    ldns_pkt_get_opcode(resp) != LDNS_PACKET_UPDATE) {
		say(reason, reasonlen, "malformed reply to UPDATE");
		goto done;
	}
	rcode = ldns_pkt_get_rcode(resp);
	if ((tsig = ldns_pkt_tsig(resp)) != NULL &&
	    ldns_rr_rd_count(tsig) > TSIG_RDF_ERROR) {
		rdf = ldns_rr_rdf(tsig, TSIG_RDF_ERROR);
		if (ldns_rdf_size(rdf) == 2)
			tsig_error = ldns_rdf2native_int16(rdf);
	}
	/*
	 * RFC 8945 5.3.2: replies reporting a TSIG error are not signed;
	 * every other reply to a signed request must verify, or we cannot
	 * know what happened (the retry will reconcile).
	 */
	if (p->secret != NULL && tsig_error == 0) {
		if (tsig == NULL && rcode == LDNS_RCODE_NOERROR) {
			say(reason, reasonlen, "unsigned reply to a signed "
			    "UPDATE");
			goto done;
		}
		if (tsig != NULL && !ldns_pkt_tsig_verify(resp, r, rlen,
		    p->tsig_name, p->secret, req_mac)) {
			say(reason, reasonlen, "the reply's TSIG does not "
			    "verify");
			goto done;
		}
	}
	ret = publish_classify(rcode, tsig_error, reason, reasonlen);
done:
	ldns_pkt_free(resp);
	return ret;
}

static enum publish_reply
send_update(struct publish *p, const struct publish_rec *rec,
    const struct dnscheck_answer *seen, char *reason, size_t reasonlen)
{
	ldns_rr_list	*pre = NULL, *upd = NULL;
	ldns_rdf	*zone;
	ldns_pkt	*pkt = NULL;
	const ldns_rdf	*mac = NULL;
	uint8_t		*wire = NULL;
	struct buf	*reply = NULL;
	size_t		 wlen;
	uint16_t	 id;
	char		 why[DNSCHECK_DETAIL_LEN];
	enum publish_reply ret = PUBLISH_REPLY_PERMANENT;

	if ((pre = ldns_rr_list_new()) == NULL ||
	    (upd = ldns_rr_list_new()) == NULL ||
	    prereqs(pre, rec, seen) == -1 || updates(upd, rec) == -1 ||
	    (reply = buf_new(DNSCHECK_MSG_MAX)) == NULL) {
		say(reason, reasonlen, "cannot build the UPDATE");
		ret = PUBLISH_REPLY_RETRY;
		goto done;
	}
	if ((zone = ldns_dname_new_frm_str(p->zone)) == NULL)
		goto done;
	/* The packet takes the zone name; it copies both lists. */
	if ((pkt = ldns_update_pkt_new(zone, LDNS_RR_CLASS_IN, pre, upd,
	    NULL)) == NULL) {
		ldns_rdf_deep_free(zone);
		say(reason, reasonlen, "cannot build the UPDATE");
		ret = PUBLISH_REPLY_RETRY;
		goto done;
	}
	/* RFC 2136 2.2: RD is not an UPDATE flag. */
	ldns_pkt_set_rd(pkt, false);
	randombytes_buf(&id, sizeof(id));
	ldns_pkt_set_id(pkt, id);
	if (p->secret != NULL) {
		if (ldns_pkt_tsig_sign(pkt, p->tsig_name, p->secret,
		    PUBLISH_TSIG_FUDGE, p->tsig_alg, NULL) != LDNS_STATUS_OK) {
			say(reason, reasonlen, "cannot sign the UPDATE with "
			    "TSIG key %s", p->tsig_name);
			goto done;
		}
		mac = ldns_rr_rdf(ldns_pkt_tsig(pkt), TSIG_RDF_MAC);
	}
	if (ldns_pkt2wire(&wire, pkt, &wlen) != LDNS_STATUS_OK) {
		say(reason, reasonlen, "cannot encode the UPDATE");
		goto done;
	}
	if (dnscheck_exchange((const struct sockaddr *)&p->server,
	    p->server_len, wire, wlen, wlen > UDP_PLAIN_MAX, p->timeout_ms,
	    reply, why, sizeof(why)) == -1) {
		say(reason, reasonlen, "no reply from the primary: %s", why);
		ret = PUBLISH_REPLY_RETRY;
		goto done;
	}
	ret = update_reply(p, buf_data(reply), buf_len(reply), mac, reason,
	    reasonlen);
done:
	buf_free(reply);
	free(wire);
	ldns_pkt_free(pkt);
	ldns_rr_list_deep_free(upd);
	ldns_rr_list_deep_free(pre);
	return ret;
}

/* What the primary serves at the name now (authoritative, over TCP). */
static int
read_current(struct publish *p, const char *fqdn,
    struct dnscheck_answer **out, char *reason, size_t reasonlen)
{
	struct buf		*q = NULL, *r = NULL;
	char			 why[DNSCHECK_DETAIL_LEN];
	enum dnscheck_parse	 pr;
	int			 ret = -1;

	*out = NULL;
	if ((q = buf_new(DNSCHECK_MSG_MAX)) == NULL ||
	    (r = buf_new(DNSCHECK_MSG_MAX)) == NULL ||
	    dnscheck_query_build(fqdn, LDNS_RR_TYPE_TXT, 0, q) == -1) {
		say(reason, reasonlen, "cannot build a query");
		goto done;
	}
	if (dnscheck_exchange((const struct sockaddr *)&p->server,
	    p->server_len, buf_data(q), buf_len(q), 1, p->timeout_ms, r, why,
	    sizeof(why)) == -1) {
		say(reason, reasonlen, "cannot read the current record: %s",
		    why);
		goto done;
	}
	pr = dnscheck_answer_parse(buf_data(r), buf_len(r), fqdn,
	    LDNS_RR_TYPE_TXT, out);
	if (pr != DNSCHECK_PARSE_OK) {
		say(reason, reasonlen, "cannot read the current record: %s "
		    "reply", pr == DNSCHECK_PARSE_TOO_BIG ? "oversized" :
		    "malformed");
		goto done;
	}
	if ((dnscheck_answer_rcode(*out) != LDNS_RCODE_NOERROR &&
	    dnscheck_answer_rcode(*out) != LDNS_RCODE_NXDOMAIN) ||
	    !dnscheck_answer_aa(*out)) {
		say(reason, reasonlen, "cannot read the current record: %s%s",
		    dnscheck_rcode_name(dnscheck_answer_rcode(*out)),
		    dnscheck_answer_aa(*out) ? "" : " without AA");
		goto done;
	}
	ret = 0;
done:
	if (ret == -1) {
		dnscheck_answer_free(*out);
		*out = NULL;
	}
	buf_free(q);
	buf_free(r);
	return ret;
}

/* Does the name hold exactly value (NULL: nothing)? */
static int
holds(const struct dnscheck_answer *a, const uint8_t *v, size_t len,
    int check_ttl, uint32_t ttl)
{
	const uint8_t	*got;
	size_t		 glen;

	if (v == NULL)
		return dnscheck_answer_ntxt(a) == 0;
	if (dnscheck_answer_ntxt(a) != 1)
		return 0;
	if (check_ttl && dnscheck_answer_ttl(a, 0) != ttl)
		return 0;
	got = dnscheck_answer_txt(a, 0, &glen);
	return glen == len && memcmp(got, v, len) == 0;
}

static enum publish_result
reply_result(enum publish_reply r)
{
	switch (r) {
	case PUBLISH_REPLY_DONE:
		return PUBLISH_DONE;
	case PUBLISH_REPLY_PERMANENT:
		return PUBLISH_PERMANENT;
	case PUBLISH_REPLY_RETRY:
	case PUBLISH_REPLY_RECONCILE:
		return PUBLISH_RETRY;
	}
	return PUBLISH_RETRY;
}

static enum publish_result
set_rfc2136(struct publish *p, const struct publish_rec *rec,
    struct publish_outcome *out)
{
	struct dnscheck_answer	*seen = NULL;
	enum publish_reply	 r;
	enum publish_result	 ret = PUBLISH_RETRY;
	char			 first[PUBLISH_REASON_LEN];

	if (rec->prev != PUBLISH_PREV_UNKNOWN) {
		r = send_update(p, rec, NULL, out->reason, sizeof(out->reason));
		if (r != PUBLISH_REPLY_RECONCILE) {
			ret = reply_result(r);
			goto done;
		}
	}
	/*
	 * Unknown or changed: read what is there.  After a lost reply the
	 * record may already be ours; otherwise the name drifted, and we
	 * swap against exactly what we read.
	 */
	memcpy(first, out->reason, sizeof(first));
	if (read_current(p, rec->fqdn, &seen, out->reason,
	    sizeof(out->reason)) == -1)
		goto done;
	if (dnscheck_answer_cname(seen)) {
		say(out->reason, sizeof(out->reason), "%s is a CNAME at the "
		    "primary", rec->fqdn);
		ret = PUBLISH_PERMANENT;
		goto done;
	}
	if (holds(seen, rec->value, rec->len, 1, rec->ttl)) {
		say(out->reason, sizeof(out->reason), "already in place%s%s",
		    rec->prev != PUBLISH_PREV_UNKNOWN ? " after " : "",
		    rec->prev != PUBLISH_PREV_UNKNOWN ? first : "");
		ret = PUBLISH_DONE;
		goto done;
	}
	if (rec->prev != PUBLISH_PREV_UNKNOWN)
		out->drift = !holds(seen, rec->prev == PUBLISH_PREV_VALUE ?
		    rec->prev_value : NULL, rec->prev_len, 0, 0);
	r = send_update(p, rec, seen, out->reason, sizeof(out->reason));
	if (r == PUBLISH_REPLY_RECONCILE) {
		say(out->reason, sizeof(out->reason), "the record changed "
		    "again while we replaced it");
		ret = PUBLISH_RETRY;
		goto done;
	}
	ret = reply_result(r);
	if (ret == PUBLISH_DONE && out->drift)
		say(out->reason, sizeof(out->reason), "update applied; the "
		    "name held an unexpected record (repaired)");
done:
	dnscheck_answer_free(seen);
	return ret;
}

/* ---- running commands ------------------------------------------------ */

static void
last_line(const uint8_t *s, size_t len, char *out, size_t outlen)
{
	struct buf	*b;
	size_t		 end = len, start;

	out[0] = '\0';
	while (end > 0 && (s[end - 1] == '\n' || s[end - 1] == '\r' ||
	    s[end - 1] == ' '))
		end--;
	for (start = end; start > 0 && s[start - 1] != '\n'; start--)
		continue;
	if (end == start || (b = buf_new(outlen)) == NULL)
		return;
	if (buf_append_escaped(b, s + start, end - start, outlen / 4) == 0 &&
	    buf_cstr(b) != NULL)
		say(out, outlen, "%s", buf_cstr(b));
	buf_free(b);
}

static long long
ms_left(const struct timespec *end)
{
	struct timespec	now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)(end->tv_sec - now.tv_sec) * 1000 +
	    (end->tv_nsec - now.tv_nsec) / 1000000;
}

/*
 * Run argv with in on stdin (a socket, so a child that does not read it
 * cannot SIGPIPE us), stdout and stderr captured, in its own process
 * group so a timeout kills everything it started.  0 when it ran (see
 * res), -1 when it could not be started.
 */
static int
exec_run(char *const argv[], const uint8_t *in, size_t inlen, int timeout_ms,
    struct exec_result *res, char *err, size_t errlen)
{
	struct timespec	 end;
	struct pollfd	 pfd[2];
	struct buf	*outb = NULL;
	uint8_t		 chunk[1024];
	size_t		 sent = 0;
	ssize_t		 n;
	pid_t		 pid = -1, w;
	long long	 left;
	int		 sv[2] = { -1, -1 }, op[2] = { -1, -1 };
	int		 st, nfd, ret = -1, out_open = 1;

	memset(res, 0, sizeof(*res));
	if ((outb = buf_new(EXEC_OUTPUT_MAX)) == NULL ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1 ||
	    pipe2(op, O_CLOEXEC) == -1) {
		say(err, errlen, "cannot run %s: %s", argv[0],
		    strerror(errno));
		goto done;
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += timeout_ms / 1000;
	end.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (end.tv_nsec >= 1000000000) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000;
	}
	if ((pid = fork()) == -1) {
		say(err, errlen, "fork: %s", strerror(errno));
		goto done;
	}
	if (pid == 0) {
		/* Only async-signal-safe calls between fork and exec. */
		setpgid(0, 0);
		if (dup2(sv[1], 0) == -1 || dup2(op[1], 1) == -1 ||
		    dup2(op[1], 2) == -1)
			_exit(EXEC_EXIT_NOT_RUN);
		execv(argv[0], argv);
		_exit(EXEC_EXIT_NOT_RUN);
	}
	close(sv[1]);
	sv[1] = -1;
	close(op[1]);
	op[1] = -1;
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(op[0], F_SETFL, O_NONBLOCK);
	if (inlen == 0)
		shutdown(sv[0], SHUT_WR);
	while (out_open && (left = ms_left(&end)) > 0) {
		nfd = 0;
		pfd[nfd].fd = op[0];
		pfd[nfd++].events = POLLIN;
		if (sent < inlen) {
			pfd[nfd].fd = sv[0];
			pfd[nfd++].events = POLLOUT;
		}
		if (poll(pfd, (nfds_t)nfd, (int)(left > 1000 ? 1000 : left)) ==
		    -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (sent < inlen && nfd == 2 && pfd[1].revents != 0) {
			n = send(sv[0], in + sent, inlen - sent, MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
			else if (n == -1 && errno != EAGAIN && errno != EINTR)
				sent = inlen;	/* it stopped reading */
			if (sent == inlen)
				shutdown(sv[0], SHUT_WR);
		}
		if (pfd[0].revents != 0) {
			n = read(op[0], chunk, sizeof(chunk));
			if (n > 0) {
				/* Past the cap, output is dropped. */
				(void)buf_append(outb, chunk, (size_t)n);
			} else if (n == 0 || (errno != EAGAIN &&
			    errno != EINTR))
				out_open = 0;
		}
	}
	/* Output closed: give the child what is left of its time to exit. */
	for (;;) {
		w = waitpid(pid, &st, WNOHANG);
		if (w == pid)
			break;
		if (w == -1 && errno != EINTR) {
			say(err, errlen, "waitpid: %s", strerror(errno));
			goto done;
		}
		if (ms_left(&end) <= 0) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			res->timed_out = 1;
			while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
				continue;
			break;
		}
		poll(NULL, 0, 20);
	}
	pid = -1;
	if (!res->timed_out && WIFEXITED(st)) {
		res->exited = 1;
		res->code = WEXITSTATUS(st);
	} else if (!res->timed_out)
		res->code = WIFSIGNALED(st) ? WTERMSIG(st) : -1;
	last_line(buf_data(outb), buf_len(outb), res->last,
	    sizeof(res->last));
	ret = 0;
done:
	if (pid > 0) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
			continue;
	}
	if (sv[0] != -1)
		close(sv[0]);
	if (sv[1] != -1)
		close(sv[1]);
	if (op[0] != -1)
		close(op[0]);
	if (op[1] != -1)
		close(op[1]);
	buf_free(outb);
	return ret;
}

/* Exit 0 done, 75 retry, timeout retry, anything else permanent. */
static enum publish_result
exec_verdict(const char *what, const struct exec_result *res, int retry_all,
    struct publish_outcome *out)
{
	const char	*sep = res->last[0] != '\0' ? ": " : "";

	if (res->timed_out) {
		say(out->reason, sizeof(out->reason), "%s timed out%s%s",
		    what, sep, res->last);
		return PUBLISH_RETRY;
	}
	if (!res->exited) {
		say(out->reason, sizeof(out->reason), "%s killed by signal "
		    "%d%s%s", what, res->code, sep, res->last);
		return retry_all ? PUBLISH_RETRY : PUBLISH_PERMANENT;
	}
	if (res->code == 0) {
		say(out->reason, sizeof(out->reason), "%s succeeded", what);
		return PUBLISH_DONE;
	}
	say(out->reason, sizeof(out->reason), "%s exited %d%s%s", what,
	    res->code, sep, res->last);
	if (res->code == PUBLISH_EXIT_RETRY || retry_all)
		return PUBLISH_RETRY;
	return PUBLISH_PERMANENT;
}

/* ---- exec ------------------------------------------------------------ */

static enum publish_result
run_hook(struct publish *p, const char *action,
    const struct publish_rec *rec, struct publish_outcome *out)
{
	struct exec_result	 res;
	struct buf		*json = NULL;
	char			 what[64];
	char			*argv[3];
	enum publish_result	 ret = PUBLISH_PERMANENT;

	if (hook_check(p->hook, out->reason, sizeof(out->reason)) == -1)
		goto done;
	if ((json = buf_new(4 * PUBLISH_VALUE_MAX + 1024)) == NULL) {
		say(out->reason, sizeof(out->reason), "out of memory");
		ret = PUBLISH_RETRY;
		goto done;
	}
	if (publish_hook_json(json, action, p->zone, rec) == -1) {
		say(out->reason, sizeof(out->reason), "the record cannot be "
		    "given to a hook (not printable ASCII)");
		goto done;
	}
	argv[0] = p->hook;
	argv[1] = (char *)action;
	argv[2] = NULL;
	if (exec_run(argv, buf_data(json), buf_len(json), p->exec_timeout_ms,
	    &res, out->reason, sizeof(out->reason)) == -1) {
		ret = PUBLISH_RETRY;
		goto done;
	}
	say(what, sizeof(what), "hook %s", action);
	ret = exec_verdict(what, &res, 0, out);
done:
	buf_free(json);
	return ret;
}

/* ---- zonefile -------------------------------------------------------- */

static void
zstate_free(struct zstate *z)
{
	size_t	i;

	for (i = 0; i < z->n; i++)
		free(z->recs[i].value);
	free(z->recs);
	z->recs = NULL;
	z->n = 0;
}

static int
path_with(char *out, size_t outlen, const char *path, const char *suffix)
{
	int	n = snprintf(out, outlen, "%s%s", path, suffix);

	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* The next space-separated field of a state line; NULL at the end. */
static char *
next_field(char **cur)
{
	char	*f = *cur, *sp;

	if (f == NULL || *f == '\0')
		return NULL;
	if ((sp = strchr(f, ' ')) != NULL) {
		*sp = '\0';
		*cur = sp + 1;
	} else
		*cur = NULL;
	return f;
}

/* One "txt NAME TTL BASE64" line of the state file. */
static int
zstate_line(struct zstate *z, char *line)
{
	struct zrec	*r;
	char		*name, *ttl, *b64, *ep, *cur = line;
	unsigned long	 t;
	size_t		 blen, vlen;

	if (next_field(&cur) == NULL)
		return -1;
	name = next_field(&cur);
	ttl = next_field(&cur);
	b64 = next_field(&cur);
	if (name == NULL || ttl == NULL || b64 == NULL || cur != NULL ||
	    !dnscheck_name_valid(name) || z->n == PUBLISH_ZONE_RECORDS_MAX)
		return -1;
	errno = 0;
	t = strtoul(ttl, &ep, 10);
	if (errno != 0 || *ep != '\0' || t > PUBLISH_TTL_MAX)
		return -1;
	blen = strlen(b64);
	if ((r = reallocarray(z->recs, z->n + 1, sizeof(*r))) == NULL)
		return -1;
	z->recs = r;
	r = &z->recs[z->n];
	memset(r, 0, sizeof(*r));
	memcpy(r->fqdn, name, strlen(name) + 1);
	r->ttl = (uint32_t)t;
	if ((r->value = malloc(blen + 1)) == NULL)
		return -1;
	if (sodium_base642bin(r->value, blen + 1, b64, blen, NULL, &vlen,
	    NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    vlen > PUBLISH_VALUE_MAX) {
		free(r->value);
		return -1;
	}
	r->len = vlen;
	z->n++;
	return 0;
}

static int
zstate_load(const char *path, struct zstate *z, char *err, size_t errlen)
{
	char		*text = NULL, *line, *nl, *ep;
	size_t		 len, lineno = 0;
	unsigned long	 s;
	int		 ret = -1, serial_seen = 0, bad = 0;

	memset(z, 0, sizeof(*z));
	if (access(path, F_OK) == -1 && errno == ENOENT)
		return 0;
	if (read_small_file(path, PUBLISH_STATE_MAX, &text, &len, err,
	    errlen) == -1)
		goto done;
	for (line = text; !bad && line != NULL && *line != '\0'; line = nl) {
		lineno++;
		if ((nl = strchr(line, '\n')) != NULL)
			*nl++ = '\0';
		if (lineno == 1)
			bad = strcmp(line, STATE_MAGIC) != 0;
		else if (strncmp(line, "serial ", 7) == 0 && !serial_seen) {
			errno = 0;
			s = strtoul(line + 7, &ep, 10);
			bad = errno != 0 || *ep != '\0' || s > UINT32_MAX;
			z->serial = (uint32_t)s;
			serial_seen = 1;
		} else if (strncmp(line, "txt ", 4) == 0)
			bad = zstate_line(z, line) == -1;
		else
			bad = 1;
	}
	if (bad || !serial_seen) {
		say(err, errlen, "%s:%zu: not a signet zone state line", path,
		    lineno);
		goto done;
	}
	ret = 0;
done:
	if (ret == -1)
		zstate_free(z);
	free(text);
	return ret;
}

/* temp file + fsync + rename + directory fsync, under the same dir. */
static int
atomic_write(const char *path, const uint8_t *data, size_t len, mode_t mode,
    char *err, size_t errlen)
{
	char		 tmp[PATH_MAX], dir[PATH_MAX], *slash;
	size_t		 off = 0;
	ssize_t		 n;
	int		 fd = -1, dfd = -1, ret = -1, tmp_made = 0;

	if (path_with(tmp, sizeof(tmp), path, ".tmpXXXXXX") == -1 ||
	    path_with(dir, sizeof(dir), path, "") == -1) {
		say(err, errlen, "%s: path too long", path);
		goto done;
	}
	if ((slash = strrchr(dir, '/')) == NULL)
		memcpy(dir, ".", 2);
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		say(err, errlen, "%s: %s", tmp, strerror(errno));
		goto done;
	}
	tmp_made = 1;
	while (off < len) {
		if ((n = write(fd, data + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			say(err, errlen, "%s: %s", tmp, strerror(errno));
			goto done;
		}
		off += (size_t)n;
	}
	if (fchmod(fd, mode) == -1 || fsync(fd) == -1) {
		say(err, errlen, "%s: %s", tmp, strerror(errno));
		goto done;
	}
	n = close(fd);
	fd = -1;
	if (n == -1 || rename(tmp, path) == -1) {
		say(err, errlen, "%s: %s", path, strerror(errno));
		goto done;
	}
	tmp_made = 0;
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fsync(dfd) == -1) {
		say(err, errlen, "%s: %s", dir, strerror(errno));
		goto done;
	}
	ret = 0;
done:
	if (fd != -1)
		close(fd);
	if (tmp_made)
		unlink(tmp);
	if (dfd != -1)
		close(dfd);
	return ret;
}

static int
zstate_save(const char *path, const struct zstate *z, char *err,
    size_t errlen)
{
	struct buf	*b;
	char		*b64;
	size_t		 i, blen;
	int		 ret = -1;

	if ((b = buf_new(PUBLISH_STATE_MAX)) == NULL ||
	    (b64 = malloc(sodium_base64_ENCODED_LEN(PUBLISH_VALUE_MAX,
	    sodium_base64_VARIANT_ORIGINAL))) == NULL) {
		buf_free(b);
		say(err, errlen, "out of memory");
		return -1;
	}
	blen = sodium_base64_ENCODED_LEN(PUBLISH_VALUE_MAX,
	    sodium_base64_VARIANT_ORIGINAL);
	if (buf_printf(b, "%s\nserial %u\n", STATE_MAGIC, z->serial) == -1)
		goto done;
	for (i = 0; i < z->n; i++) {
		sodium_bin2base64(b64, blen, z->recs[i].value, z->recs[i].len,
		    sodium_base64_VARIANT_ORIGINAL);
		if (buf_printf(b, "txt %s %u %s\n", z->recs[i].fqdn,
		    z->recs[i].ttl, b64) == -1)
			goto done;
	}
	ret = atomic_write(path, buf_data(b), buf_len(b), 0600, err, errlen);
done:
	if (ret == -1 && err[0] == '\0')
		say(err, errlen, "zone state too large");
	free(b64);
	buf_free(b);
	return ret;
}

/* Apply rec to z: 1 changed, 0 already so, -1 no memory. */
static int
zstate_apply(struct zstate *z, const struct publish_rec *rec, int *drift)
{
	struct zrec	*r = NULL, *nr;
	uint8_t		*v;
	size_t		 i;

	for (i = 0; i < z->n; i++)
		if (strcasecmp(z->recs[i].fqdn, rec->fqdn) == 0)
			r = &z->recs[i];
	if (rec->prev == PUBLISH_PREV_ABSENT)
		*drift = r != NULL && (rec->value == NULL ||
		    r->len != rec->len ||
		    memcmp(r->value, rec->value, r->len) != 0);
	else if (rec->prev == PUBLISH_PREV_VALUE)
		*drift = r == NULL ? rec->value != NULL :
		    !((r->len == rec->prev_len &&
		    memcmp(r->value, rec->prev_value, r->len) == 0) ||
		    (rec->value != NULL && r->len == rec->len &&
		    memcmp(r->value, rec->value, r->len) == 0));
	if (rec->value == NULL) {
		if (r == NULL)
			return 0;
		free(r->value);
		*r = z->recs[--z->n];
		return 1;
	}
	if (r != NULL && r->ttl == rec->ttl && r->len == rec->len &&
	    memcmp(r->value, rec->value, r->len) == 0)
		return 0;
	if (r == NULL) {
		if (z->n == PUBLISH_ZONE_RECORDS_MAX ||
		    (nr = reallocarray(z->recs, z->n + 1, sizeof(*nr))) ==
		    NULL)
			return -1;
		z->recs = nr;
		r = &z->recs[z->n++];
		memset(r, 0, sizeof(*r));
		memcpy(r->fqdn, rec->fqdn, strlen(rec->fqdn) + 1);
	}
	if ((v = malloc(rec->len + 1)) == NULL)
		return -1;
	memcpy(v, rec->value, rec->len);
	free(r->value);
	r->value = v;
	r->len = rec->len;
	r->ttl = rec->ttl;
	return 1;
}

static enum publish_result
set_zonefile(struct publish *p, const struct publish_rec *rec,
    struct publish_outcome *out)
{
	struct zstate		 z;
	struct publish_rec	*recs = NULL;
	struct buf		*zone = NULL;
	struct exec_result	 res;
	char			 state[PATH_MAX], dir[PATH_MAX], *slash;
	char			*argv[4];
	size_t			 i;
	int			 dfd = -1, changed;
	enum publish_result	 ret = PUBLISH_RETRY;

	memset(&z, 0, sizeof(z));
	if (path_with(state, sizeof(state), p->zonefile, ".state") == -1 ||
	    path_with(dir, sizeof(dir), p->zonefile, "") == -1) {
		say(out->reason, sizeof(out->reason), "zone file path too "
		    "long");
		ret = PUBLISH_PERMANENT;
		goto done;
	}
	if ((slash = strrchr(dir, '/')) == NULL)
		memcpy(dir, ".", 2);
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	/* Another writer of this directory's zone waits for us. */
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    flock(dfd, LOCK_EX) == -1) {
		say(out->reason, sizeof(out->reason), "%s: %s", dir,
		    strerror(errno));
		goto done;
	}
	if (zstate_load(state, &z, out->reason, sizeof(out->reason)) == -1) {
		ret = PUBLISH_PERMANENT;
		goto done;
	}
	if ((changed = zstate_apply(&z, rec, &out->drift)) == -1) {
		say(out->reason, sizeof(out->reason), "out of memory");
		goto done;
	}
	/* The serial is persisted before the zone that carries it. */
	if (changed || z.serial == 0) {
		z.serial = publish_serial_next(z.serial, (uint64_t)time(NULL));
		if (zstate_save(state, &z, out->reason,
		    sizeof(out->reason)) == -1)
			goto done;
	}
	if ((zone = buf_new(PUBLISH_STATE_MAX + ZONE_TEMPLATE_MAX)) == NULL ||
	    (z.n > 0 && (recs = calloc(z.n, sizeof(*recs))) == NULL)) {
		say(out->reason, sizeof(out->reason), "out of memory");
		goto done;
	}
	for (i = 0; i < z.n; i++) {
		recs[i].fqdn = z.recs[i].fqdn;
		recs[i].ttl = z.recs[i].ttl;
		recs[i].value = z.recs[i].value;
		recs[i].len = z.recs[i].len;
	}
	if (publish_zone_render(zone, p->tmpl, p->tmpllen, z.serial, recs,
	    z.n) == -1) {
		say(out->reason, sizeof(out->reason), "cannot render the "
		    "zone");
		ret = PUBLISH_PERMANENT;
		goto done;
	}
	if (atomic_write(p->zonefile, buf_data(zone), buf_len(zone), 0644,
	    out->reason, sizeof(out->reason)) == -1)
		goto done;
	if (p->reload == NULL) {
		say(out->reason, sizeof(out->reason), "zone written, serial "
		    "%u", z.serial);
		ret = PUBLISH_DONE;
		goto done;
	}
	argv[0] = (char *)"/bin/sh";
	argv[1] = (char *)"-c";
	argv[2] = p->reload;
	argv[3] = NULL;
	if (exec_run(argv, NULL, 0, p->exec_timeout_ms, &res, out->reason,
	    sizeof(out->reason)) == -1)
		goto done;
	/* The file is right; a reload that failed is worth repeating. */
	ret = exec_verdict("reload command", &res, 1, out);
	if (ret == PUBLISH_DONE)
		say(out->reason, sizeof(out->reason), "zone written and "
		    "reloaded, serial %u", z.serial);
done:
	free(recs);
	buf_free(zone);
	zstate_free(&z);
	if (dfd != -1)
		close(dfd);
	return ret;
}

/* ---- entry points ---------------------------------------------------- */

enum publish_result
publish_set(struct publish *p, const struct publish_rec *rec,
    struct publish_outcome *out)
{
	memset(out, 0, sizeof(*out));
	if (rec_check(p, rec, out) == -1)
		return finish(out, PUBLISH_PERMANENT);
	switch (p->backend) {
	case PUBLISH_RFC2136:
		return finish(out, set_rfc2136(p, rec, out));
	case PUBLISH_ZONEFILE:
		return finish(out, set_zonefile(p, rec, out));
	case PUBLISH_EXEC:
		return finish(out, run_hook(p, rec->value != NULL ?
		    "publish" : "withdraw", rec, out));
	}
	say(out->reason, sizeof(out->reason), "unknown backend");
	return finish(out, PUBLISH_PERMANENT);
}

enum publish_result
publish_status(struct publish *p, const struct publish_rec *rec,
    struct publish_outcome *out)
{
	memset(out, 0, sizeof(*out));
	if (rec_check(p, rec, out) == -1)
		return finish(out, PUBLISH_PERMANENT);
	if (p->backend != PUBLISH_EXEC) {
		say(out->reason, sizeof(out->reason), "no provider status to "
		    "ask");
		return finish(out, PUBLISH_DONE);
	}
	return finish(out, run_hook(p, "status", rec, out));
}
