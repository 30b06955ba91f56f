/*
 * test_keys_store — keys/store: the journal round-trips, every write bumps
 * the generation and the fingerprint, writers exclude each other (busy
 * when asked not to wait, serialized otherwise, even across processes),
 * a crashed writer's leftovers are ignored and cleaned, hand-broken
 * journals are refused with FILE:LINE:COL, and the signing set holds
 * exactly the READY/ACTIVE keys whose files are what the journal says.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "keys/signer.h"
#include "keys/store.h"
#include "proxy/msg/buf.h"
#include "tests/unit/t.h"

#define T0	1700000000	/* 2023-11-14T22:13:20Z */

static char	tmpdir[] = "/tmp/test_keys_store.XXXXXX";

/* tmpdir/a/b (b may be NULL); free() the result. */
static char *
path_of(const char *a, const char *b)
{
	char	*p;

	if (asprintf(&p, "%s/%s%s%s", tmpdir, a, b != NULL ? "/" : "",
	    b != NULL ? b : "") == -1)
		exit(1);
	return p;
}

/* T_EQ_INT evaluates its arguments twice; a call must run once. */
static int
status_is(enum store_status got, enum store_status want, const char *name)
{
	return T_EQ_INT(got, want, name);
}

static int
exists(const char *path)
{
	struct stat	sb;

	return lstat(path, &sb) == 0;
}

static mode_t
mode_of(const char *path)
{
	struct stat	sb;

	return lstat(path, &sb) == 0 ? sb.st_mode & 07777 : 0;
}

static void
write_text(const char *path, const char *text)
{
	FILE	*f = fopen(path, "w");

	if (f == NULL || fputs(text, f) == EOF || fclose(f) != 0) {
		printf("Bail out! cannot write %s\n", path);
		exit(1);
	}
	chmod(path, 0600);
}

static struct keys_key *
shared_key(const char *rel)
{
	char		 path[PATH_MAX], err[256] = "";
	struct keys_key	*k;
	size_t		 len;
	char		*data;

	snprintf(path, sizeof(path), "%s/conformance/%s", t_shared(), rel);
	data = t_read_file(path, &len);
	k = keys_load_mem(data, len, err, sizeof(err));
	free(data);
	if (k == NULL) {
		printf("Bail out! %s: %s\n", rel, err);
		exit(1);
	}
	return k;
}

static void
test_names(void)
{
	static const struct {
		const char	*s;
		int		 domain, selector;
	} cases[] = {
		{ "example.com", 0, 0 },
		{ "xn--bcher-kva.example", 0, 0 },
		{ "s1", 0, 0 },
		{ "2025-01", 0, 0 },
		{ "Example.com", -1, -1 },
		{ "", -1, -1 },
		{ "../etc", -1, -1 },
		{ "a..b", -1, -1 },
		{ ".a", -1, -1 },
		{ "a.", -1, -1 },
		{ "-a.com", -1, -1 },
		{ "a-.com", -1, -1 },
		{ "a_b.com", -1, -1 },
		{ "a/b", -1, -1 },
		{ "a b", -1, -1 },
		{ "01234567890123456789012345678901"
		  "23456789012345678901234567890123.com", -1, -1 },
	};
	size_t	i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		T_EQ_INT(store_domain_valid(cases[i].s), cases[i].domain,
		    cases[i].s);
		T_EQ_INT(store_selector_valid(cases[i].s), cases[i].selector,
		    cases[i].s);
	}
}

static void
test_open(void)
{
	char		 err[256] = "", *p;
	struct store	*st;

	p = path_of("new/deeper", "ks");
	st = store_open(p, 1, err, sizeof(err));
	T_OK(st != NULL, "store_open creates missing directories (%s)", err);
	T_EQ_INT(mode_of(p), 0700, "created store directory is 0700");
	store_close(st);
	chmod(p, 0777);
	st = store_open(p, 0, err, sizeof(err));
	T_OK(st == NULL && strstr(err, "chmod 700") != NULL,
	    "a store directory writable by others is refused (%s)", err);
	store_close(st);
	free(p);
	p = path_of("absent", NULL);
	st = store_open(p, 0, err, sizeof(err));
	T_OK(st == NULL && strstr(err, "No such file") != NULL,
	    "a missing store is not created without create");
	store_close(st);
	free(p);
}

/* ------------------------------------------------------------------ */

static void
test_round_trip(struct store *st)
{
	char			 err[512] = "", id1[KEYS_ID_LEN + 1];
	char			 id2[KEYS_ID_LEN + 1], want2[KEYS_ID_LEN + 1];
	char			 file[PATH_MAX], *jpath, *text, **names;
	struct store_txn	*t;
	struct store_domain	*d, *d2;
	const struct store_key	*k;
	struct keys_key		*rsa = shared_key("rfc8463/rsa-test.pem");
	uint64_t		 fp1, fp2, fp3;
	size_t			 len;

	keys_id(rsa, want2);
	T_OK(store_fingerprint(st, &fp1) == 0, "fingerprint of an empty store");
	status_is(store_begin(st, "example.com", STORE_CREATE, &t, err,
	    sizeof(err)), STORE_OK, "begin creates the domain");
	T_OK(store_txn_generate(t, KEYS_ALG_ED25519_SHA256, 0, "s1", T0, id1,
	    err, sizeof(err)) == 0, "generate a key for s1 (%s)", err);
	T_OK(store_txn_add_key(t, rsa, "s2", T0 + 1, id2, err, sizeof(err)) ==
	    0, "add a loaded key for s2 (%s)", err);
	T_EQ_STR(id2, want2, "the added key's id is its keys_id");
	T_OK(store_txn_set_state(t, id1, STORE_ACTIVE, T0 + 2, err,
	    sizeof(err)) == 0 && store_txn_set_selector(t, "s1", id1, err,
	    sizeof(err)) == 0, "s1 -> ACTIVE key");
	T_OK(store_txn_set_state(t, id2, STORE_PUBLISHING, T0 + 3, err,
	    sizeof(err)) == 0 && store_txn_set_selector(t, "s2", id2, err,
	    sizeof(err)) == 0, "s2 -> PUBLISHING key");
	T_OK(store_txn_set_key_attr(t, id2, "record-ttl", "3600", err,
	    sizeof(err)) == 0 && store_txn_set_domain_attr(t, "note",
	    "said: \"hi\" #1", err, sizeof(err)) == 0, "attrs set");
	T_OK(store_commit(t, T0 + 4, err, sizeof(err)) == 0, "commit (%s)",
	    err);

	T_OK(store_fingerprint(st, &fp2) == 0 && fp2 != fp1,
	    "the fingerprint changes with a commit");
	T_OK(store_fingerprint(st, &fp3) == 0 && fp3 == fp2,
	    "and is stable without one");

	d = store_domain_load(st, "example.com", err, sizeof(err));
	if (!T_OK(d != NULL, "snapshot loads (%s)", err))
		goto done;
	T_EQ_INT(store_domain_generation(d), 1, "first write: generation 1");
	T_EQ_INT(store_domain_last_write(d), T0 + 4, "last_write");
	T_EQ_INT(store_domain_nkeys(d), 2, "two keys");
	T_EQ_INT(store_domain_nselectors(d), 2, "two selectors");
	T_EQ_STR(store_domain_selector(d, 0), "s1", "selectors sorted");
	k = store_domain_selector_key(d, "s1");
	T_OK(k != NULL && strcmp(store_key_id(k), id1) == 0, "s1 -> id1");
	if (k != NULL) {
		T_EQ_INT(store_key_alg(k), KEYS_ALG_ED25519_SHA256, "s1 alg");
		T_EQ_INT(store_key_bits(k), 256, "s1 bits");
		T_EQ_INT(store_key_state(k), STORE_ACTIVE, "s1 state");
		T_EQ_INT(store_key_entered(k, STORE_GENERATED), T0,
		    "s1 GENERATED time");
		T_EQ_INT(store_key_entered(k, STORE_ACTIVE), T0 + 2,
		    "s1 ACTIVE time");
		T_EQ_INT(store_key_entered(k, STORE_READY), 0,
		    "s1 never READY");
	}
	k = store_domain_find_key(d, id2);
	T_OK(k != NULL && strcmp(store_key_selector(k), "s2") == 0 &&
	    store_key_state(k) == STORE_PUBLISHING && store_key_bits(k) ==
	    1024, "id2: s2, PUBLISHING, 1024 bits");
	T_OK(k != NULL && store_key_attr(k, "record-ttl") != NULL &&
	    strcmp(store_key_attr(k, "record-ttl"), "3600") == 0,
	    "key attr round-trips");
	T_OK(store_domain_attr(d, "note") != NULL &&
	    strcmp(store_domain_attr(d, "note"), "said: \"hi\" #1") == 0,
	    "a domain attr needing quotes round-trips");

	store_key_file(st, "example.com", id1, file, sizeof(file));
	T_EQ_INT(mode_of(file), 0600, "key file is 0600");
	jpath = path_of("ks/example.com", STORE_JOURNAL);
	T_EQ_INT(mode_of(jpath), 0600, "state.yaml is 0600");
	free(jpath);
	jpath = path_of("ks/example.com", "keys");
	T_EQ_INT(mode_of(jpath), 0700, "keys directory is 0700");
	free(jpath);
	jpath = path_of("ks", "example.com");
	T_EQ_INT(mode_of(jpath), 0700, "domain directory is 0700");
	free(jpath);
	jpath = path_of("ks/example.com", STORE_JOURNAL);
	text = t_read_file(jpath, &len);
	T_OK(strstr(text, "last_write: 2023-11-14T22:13:24Z\n") != NULL,
	    "last_write written as RFC 3339 UTC");
	T_OK(strstr(text, "GENERATED: 2023-11-14T22:13:20Z\n") != NULL,
	    "state times written as RFC 3339 UTC");
	free(text);
	free(jpath);
	jpath = path_of("ks/example.com", ".state.yaml.tmp");
	T_OK(!exists(jpath), "no temp file left after a commit");
	free(jpath);

	/* An empty transaction rewrites the same content, one generation on. */
	status_is(store_begin(st, "example.com", 0, &t, err, sizeof(err)),
	    STORE_OK, "begin again");
	T_OK(store_commit(t, T0 + 10, err, sizeof(err)) == 0, "commit again");
	d2 = store_domain_load(st, "example.com", err, sizeof(err));
	T_OK(d2 != NULL && store_domain_generation(d2) == 2,
	    "every write bumps the generation");
	T_OK(d2 != NULL && store_domain_nkeys(d2) == 2 &&
	    store_key_entered(store_domain_find_key(d2, id2),
	    STORE_PUBLISHING) == T0 + 3, "and keeps the keys as they were");
	store_domain_free(d2);

	names = store_domains(st, err, sizeof(err));
	T_OK(names != NULL && names[0] != NULL &&
	    strcmp(names[0], "example.com") == 0 && names[1] == NULL,
	    "store_domains lists the domain");
	store_domains_free(names);
done:
	store_domain_free(d);
	keys_free(rsa);
}

/* API refusals: each leaves the journal as it was. */
static void
test_txn_rules(struct store *st)
{
	char			 err[512] = "", id[KEYS_ID_LEN + 1];
	char			 idr[KEYS_ID_LEN + 1], file[PATH_MAX];
	struct store_txn	*t;
	struct store_domain	*d;
	struct keys_key		*rsa = shared_key("rfc8463/rsa-test.pem");
	const struct store_key	*k;

	if (store_begin(st, "rules.example", STORE_CREATE, &t, err,
	    sizeof(err)) != STORE_OK) {
		T_OK(0, "begin rules.example (%s)", err);
		keys_free(rsa);
		return;
	}
	T_OK(store_txn_generate(t, KEYS_ALG_ED25519_SHA256, 0, "a", T0, id, err,
	    sizeof(err)) == 0, "generate for a");
	T_OK(store_txn_add_key(t, rsa, "b", T0, idr, err, sizeof(err)) == 0,
	    "add for b");
	T_OK(store_txn_add_key(t, rsa, "c", T0, idr, err, sizeof(err)) == -1 &&
	    strstr(err, "already in the store") != NULL,
	    "the same key twice is refused (%s)", err);
	T_OK(store_txn_set_selector(t, "b", id, err, sizeof(err)) == -1 &&
	    strstr(err, "made for selector a") != NULL,
	    "a key cannot serve another selector (%s)", err);
	T_OK(store_txn_set_selector(t, "a", "ffffffffffffffff", err,
	    sizeof(err)) == -1, "an unknown id cannot be mapped");
	T_OK(store_txn_set_state(t, id, STORE_DESTROYED, T0, err,
	    sizeof(err)) == -1, "DESTROYED only through store_txn_destroy");
	T_OK(store_txn_generate(t, KEYS_ALG_RSA_SHA256, 0, "x", T0, id, err,
	    sizeof(err)) == -1, "RSA with 0 bits is refused");
	T_OK(store_txn_generate(t, KEYS_ALG_ED25519_SHA256, 0, "Bad!", T0, id,
	    err, sizeof(err)) == -1, "a bad selector is refused");
	T_OK(store_txn_set_domain_attr(t, "Bad", "x", err, sizeof(err)) == -1,
	    "a bad attribute name is refused");
	T_OK(store_txn_set_domain_attr(t, "ok", "tab\there", err,
	    sizeof(err)) == -1, "a control character in a value is refused");
	T_OK(store_txn_set_selector(t, "a", id, err, sizeof(err)) == 0,
	    "map a");
	T_OK(store_txn_destroy(t, id, T0 + 1, err, sizeof(err)) == -1 &&
	    strstr(err, "still selector a") != NULL,
	    "a mapped key cannot be destroyed");
	T_OK(store_txn_set_selector(t, "a", NULL, err, sizeof(err)) == 0,
	    "unmap a");
	store_key_file(st, "rules.example", id, file, sizeof(file));
	T_OK(exists(file), "key file written before commit");
	T_OK(store_txn_destroy(t, id, T0 + 2, err, sizeof(err)) == 0 &&
	    !exists(file), "destroy removes the file");
	T_OK(store_txn_set_state(t, id, STORE_ACTIVE, T0 + 3, err,
	    sizeof(err)) == -1 && strstr(err, "destroyed") != NULL,
	    "a destroyed key cannot come back (%s)", err);
	T_OK(store_commit(t, T0 + 3, err, sizeof(err)) == 0, "commit (%s)",
	    err);
	d = store_domain_load(st, "rules.example", err, sizeof(err));
	k = d != NULL ? store_domain_find_key(d, id) : NULL;
	T_OK(k != NULL && store_key_state(k) == STORE_DESTROYED &&
	    store_key_entered(k, STORE_DESTROYED) == T0 + 2,
	    "the journal keeps the destroyed key's history");
	T_EQ_INT(d != NULL ? store_domain_nselectors(d) : 99, 0,
	    "no selector left");
	store_domain_free(d);

	/* Abort removes the files the transaction wrote. */
	status_is(store_begin(st, "rules.example", 0, &t, err, sizeof(err)),
	    STORE_OK, "begin");
	T_OK(store_txn_generate(t, KEYS_ALG_ED25519_SHA256, 0, "a", T0, id, err,
	    sizeof(err)) == 0, "generate");
	store_key_file(st, "rules.example", id, file, sizeof(file));
	T_OK(exists(file), "file present inside the transaction");
	store_abort(t);
	T_OK(!exists(file), "abort removed it");
	d = store_domain_load(st, "rules.example", err, sizeof(err));
	T_OK(d != NULL && store_domain_find_key(d, id) == NULL &&
	    store_domain_generation(d) == 1, "abort left the journal alone");
	store_domain_free(d);
	status_is(store_begin(st, "nowhere.example", 0, &t, err, sizeof(err)),
	    STORE_FAIL, "without STORE_CREATE a new domain is an error");
	T_OK(strstr(err, "not in the key store") != NULL, "says so (%s)", err);
	status_is(store_begin(st, "../evil", STORE_CREATE, &t, err,
	    sizeof(err)), STORE_FAIL, "a path-like domain is refused");
	keys_free(rsa);
}

/* ------------------------------------------------------------------ */

static void
test_busy(struct store *st)
{
	char			 err[512] = "";
	struct store_txn	*a, *b;
	struct store_domain	*d;
	pid_t			 pid;
	int			 status;

	status_is(store_begin(st, "example.com", 0, &a, err, sizeof(err)),
	    STORE_OK, "first writer");
	status_is(store_begin(st, "example.com", STORE_NOWAIT, &b, err,
	    sizeof(err)), STORE_BUSY, "second writer, not waiting: busy");
	T_OK(strstr(err, "busy") != NULL && strstr(err, ".lock") != NULL,
	    "busy message names the lock (%s)", err);
	status_is(store_begin(st, "rules.example", STORE_NOWAIT, &b, err,
	    sizeof(err)), STORE_OK, "another domain is not locked");
	store_abort(b);
	fflush(stdout);
	if ((pid = fork()) == 0) {
		struct store_txn	*c;

		_exit(store_begin(st, "example.com", STORE_NOWAIT, &c, NULL,
		    0) == STORE_BUSY ? 0 : 1);
	}
	T_OK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0, "another process is busy too");
	store_abort(a);
	status_is(store_begin(st, "example.com", STORE_NOWAIT, &b, err,
	    sizeof(err)), STORE_OK, "free again after the first writer ends");
	store_abort(b);

	/* A waiting writer gets the lock and sees the holder's write. */
	fflush(stdout);
	if ((pid = fork()) == 0) {
		struct store_txn	*c;

		if (store_begin(st, "example.com", 0, &c, NULL, 0) != STORE_OK)
			_exit(1);
		usleep(300000);
		_exit(store_txn_set_domain_attr(c, "holder", "child", NULL,
		    0) == 0 && store_commit(c, T0 + 20, NULL, 0) == 0 ? 0 : 1);
	}
	usleep(100000);
	status_is(store_begin(st, "example.com", 0, &a, err, sizeof(err)),
	    STORE_OK, "a blocking writer waits for the holder");
	d = store_domain_load(st, "example.com", err, sizeof(err));
	T_OK(d != NULL && store_domain_attr(d, "holder") != NULL,
	    "and then sees the holder's write");
	store_domain_free(d);
	store_abort(a);
	waitpid(pid, &status, 0);
}

/* A crashed writer: its temp files are ignored, then cleaned. */
static void
test_crash(struct store *st)
{
	char			 err[512] = "", id[KEYS_ID_LEN + 1];
	char			 file[PATH_MAX];
	char			*tmpj, *tmpk;
	struct store_domain	*d;
	struct store_txn	*t;
	uint64_t		 gen;
	pid_t			 pid;
	int			 status, fds[2];

	d = store_domain_load(st, "example.com", err, sizeof(err));
	gen = d != NULL ? store_domain_generation(d) : 0;
	store_domain_free(d);

	tmpj = path_of("ks/example.com", ".state.yaml.tmp");
	tmpk = path_of("ks/example.com", "keys/.new.pem");
	write_text(tmpj, "version: 1\ngeneration: 99\n[half a fi");
	write_text(tmpk, "-----BEGIN PRIVATE KEY-----\nMC4CAQAw");
	d = store_domain_load(st, "example.com", err, sizeof(err));
	T_OK(d != NULL && store_domain_generation(d) == gen,
	    "readers ignore a crashed writer's temp files (%s)", err);
	store_domain_free(d);
	status_is(store_begin(st, "example.com", 0, &t, err, sizeof(err)),
	    STORE_OK, "the next writer starts");
	T_OK(!exists(tmpj) && !exists(tmpk), "and removes the leftovers");
	T_OK(store_commit(t, T0 + 30, err, sizeof(err)) == 0, "and commits");

	/* A writer killed after writing a key file, before its commit. */
	fflush(stdout);
	if (pipe(fds) == -1) {
		printf("Bail out! pipe\n");
		exit(1);
	}
	if ((pid = fork()) == 0) {
		close(fds[0]);
		if (store_begin(st, "example.com", 0, &t, NULL, 0) !=
		    STORE_OK || store_txn_generate(t, KEYS_ALG_ED25519_SHA256,
		    0, "s9", T0, id, NULL, 0) == -1)
			_exit(1);
		/* Tell the parent the key id, then die holding the lock. */
		if (write(fds[1], id, KEYS_ID_LEN) != KEYS_ID_LEN)
			_exit(1);
		kill(getpid(), SIGKILL);
	}
	close(fds[1]);
	memset(id, 0, sizeof(id));
	T_OK(read(fds[0], id, KEYS_ID_LEN) == KEYS_ID_LEN,
	    "the writer generated a key");
	close(fds[0]);
	waitpid(pid, &status, 0);
	T_OK(WIFSIGNALED(status), "writer killed mid-transaction");
	store_key_file(st, "example.com", id, file, sizeof(file));
	T_OK(exists(file), "its key file is on disk");
	d = store_domain_load(st, "example.com", err, sizeof(err));
	T_OK(d != NULL && store_domain_generation(d) == gen + 1 &&
	    store_domain_nkeys(d) == 2 && store_domain_find_key(d, id) == NULL,
	    "the journal is the last committed one, without that key");
	store_domain_free(d);
	status_is(store_begin(st, "example.com", STORE_NOWAIT, &t, err,
	    sizeof(err)), STORE_OK, "the dead writer's lock is gone");
	T_OK(!exists(file), "its orphaned key file is collected");
	store_abort(t);
	free(tmpj);
	free(tmpk);
}

#define WRITERS		4
#define INCREMENTS	10

/* Read-modify-write from several processes: no update is lost. */
static void
test_concurrent_writers(struct store *st)
{
	char			 err[512] = "", v[24];
	struct store_domain	*d;
	const char		*c;
	uint64_t		 gen0;
	pid_t			 pids[WRITERS];
	int			 i, j, status, ok = 1;

	d = store_domain_load(st, "rules.example", err, sizeof(err));
	gen0 = d != NULL ? store_domain_generation(d) : 0;
	store_domain_free(d);
	fflush(stdout);
	for (i = 0; i < WRITERS; i++) {
		if ((pids[i] = fork()) != 0)
			continue;
		for (j = 0; j < INCREMENTS; j++) {
			struct store_txn	*t;
			const char		*cur;

			if (store_begin(st, "rules.example", 0, &t, NULL, 0) !=
			    STORE_OK)
				_exit(1);
			cur = store_domain_attr(store_txn_domain(t), "counter");
			snprintf(v, sizeof(v), "%d",
			    cur != NULL ? atoi(cur) + 1 : 1);
			if (store_txn_set_domain_attr(t, "counter", v, NULL,
			    0) == -1 || store_commit(t, T0 + 40, NULL, 0) == -1)
				_exit(1);
		}
		_exit(0);
	}
	for (i = 0; i < WRITERS; i++)
		if (waitpid(pids[i], &status, 0) != pids[i] ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			ok = 0;
	T_OK(ok, "%d writers x %d transactions succeed", WRITERS, INCREMENTS);
	d = store_domain_load(st, "rules.example", err, sizeof(err));
	c = d != NULL ? store_domain_attr(d, "counter") : NULL;
	T_EQ_INT(c != NULL ? atoi(c) : -1, WRITERS * INCREMENTS,
	    "no increment lost");
	T_EQ_INT(d != NULL ? store_domain_generation(d) - gen0 : 0,
	    WRITERS * INCREMENTS, "one generation per write");
	store_domain_free(d);
}

/* ------------------------------------------------------------------ */

static const char *const base_journal[] = {
	"version: 1",
	"domain: bad.example",
	"generation: 3",
	"last_write: 2025-01-02T03:04:05Z",
	"selectors:",
	"  s1: 0123456789abcdef",
	"keys:",
	"  - id: 0123456789abcdef",
	"    algorithm: ed25519",
	"    bits: 256",
	"    selector: s1",
	"    state: ACTIVE",
	"    entered:",
	"      GENERATED: 2025-01-02T03:04:05Z",
	"      ACTIVE: 2025-01-02T03:04:05Z",
};
#define BASE_LINES	(sizeof(base_journal) / sizeof(base_journal[0]))

struct parse_case {
	const char	*name;
	size_t		 line;		/* 1-based line to change */
	int		 op;		/* 'r' replace, 'i' insert, 'd' drop */
	const char	*text;
	const char	*want;		/* substring after "state.yaml" */
};

static const struct parse_case parse_cases[] = {
	{ "unknown state", 12, 'r', "    state: ACTIV",
	  ":12:12: unknown state \"ACTIV\"" },
	{ "unknown top-level key", 16, 'i', "bogus: 1",
	  ":16:1: unknown key \"bogus\" in the journal" },
	{ "unknown key in a key", 13, 'i', "    extra: 1",
	  ":13:5: unknown key \"extra\" in a key" },
	{ "duplicate key", 16, 'i', "generation: 4",
	  ":16:1: duplicate key \"generation\"" },
	{ "missing generation", 3, 'd', NULL,
	  ":1:1: the journal lacks \"generation\"" },
	{ "negative generation", 3, 'r', "generation: -1",
	  ":3:13: generation must be a number" },
	{ "generation overflow", 3, 'r', "generation: 18446744073709551616",
	  ":3:13: generation is too large" },
	{ "month 13", 14, 'r', "      GENERATED: 2025-13-02T03:04:05Z",
	  ":14:18: a state's time must be a UTC time" },
	{ "February 30", 4, 'r', "last_write: 2025-02-30T03:04:05Z",
	  ":4:13: last_write must be a UTC time" },
	{ "local time", 4, 'r', "last_write: 2025-01-02T03:04:05+01:00",
	  ":4:13: last_write must be a UTC time" },
	{ "version 2", 1, 'r', "version: 2",
	  ":1:10: journal version 2 is not 1" },
	{ "another domain", 2, 'r', "domain: other.example",
	  ":2:9: domain \"other.example\" is not bad.example" },
	{ "id not hex", 8, 'r', "  - id: 0123456789abcdeg",
	  ":8:9: id must be 16 lower-case hex digits" },
	{ "Ed25519 with 2048 bits", 10, 'r', "    bits: 2048",
	  ":8:5: key 0123456789abcdef: 2048 bits do not fit ed25519" },
	{ "state without a time", 12, 'r', "    state: READY",
	  ":8:5: key 0123456789abcdef is READY but entered lacks" },
	{ "selector names no key", 6, 'r', "  s1: 1123456789abcdef",
	  ":6:3: selector s1 names key 1123456789abcdef, which is not" },
	{ "selector names another's key", 11, 'r', "    selector: s2",
	  ":6:3: selector s1 names key 0123456789abcdef, which was made "
	  "for selector s2" },
	{ "upper-case selector", 6, 'r', "  S1: 0123456789abcdef",
	  ":6:3: selector must be lower-case" },
	{ "anchor", 6, 'r', "  s1: &a 0123456789abcdef",
	  ":6:7: anchors and tags are not allowed" },
	{ "tag", 3, 'r', "generation: !!str 3",
	  ":3:13: anchors and tags are not allowed" },
	{ "keys not a list", 8, 'r', "  id: 0123456789abcdef",
	  ":8:3: expected keys (a list)" },
	{ "second document", 16, 'i', "---\nversion: 1",
	  ":16:1: expected one document only" },
	{ "YAML syntax: tab indent", 9, 'r', "\talgorithm: ed25519",
	  ":9:1: YAML error: found a tab character" },
	{ "attr with a control character", 16, 'i',
	  "attrs: { note: \"a\\tb\" }",
	  ":16:16: attribute values are printable ASCII" },
};

static void
test_strict_parse(struct store *st)
{
	char			 err[512], *dir, *jpath;
	struct store_txn	*t = NULL;
	struct buf		*b;
	struct store_domain	*d;
	size_t			 i, l;

	dir = path_of("ks", "bad.example");
	mkdir(dir, 0700);
	jpath = path_of("ks/bad.example", STORE_JOURNAL);
	b = buf_new(0);
	for (l = 0; l < BASE_LINES; l++)
		buf_printf(b, "%s\n", base_journal[l]);
	write_text(jpath, buf_cstr(b));
	d = store_domain_load(st, "bad.example", err, sizeof(err));
	T_OK(d != NULL && store_domain_generation(d) == 3,
	    "the base journal is valid (%s)", d == NULL ? err : "");
	store_domain_free(d);
	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];

		buf_reset(b);
		for (l = 1; l <= BASE_LINES + 1; l++) {
			if (l == c->line && c->op != 'd')
				buf_printf(b, "%s\n", c->text);
			if (l <= BASE_LINES && !(l == c->line && c->op != 'i'))
				buf_printf(b, "%s\n", base_journal[l - 1]);
		}
		write_text(jpath, buf_cstr(b));
		err[0] = '\0';
		d = store_domain_load(st, "bad.example", err, sizeof(err));
		T_OK(d == NULL, "%s: refused", c->name);
		T_OK(strncmp(err, jpath, strlen(jpath)) == 0 &&
		    strstr(err + strlen(jpath), c->want) == err + strlen(jpath),
		    "%s: \"%s\" (got: %s)", c->name, c->want, err);
		store_domain_free(d);
	}
	/* A broken journal blocks writers too, instead of being replaced. */
	status_is(store_begin(st, "bad.example", 0, &t, err, sizeof(err)),
	    STORE_FAIL, "a writer refuses a broken journal");
	unlink(jpath);
	buf_free(b);
	free(jpath);
	free(dir);
}

/* ------------------------------------------------------------------ */

static void
test_signing_keys(struct store *st)
{
	char			 err[512] = "", ids[3][KEYS_ID_LEN + 1];
	char			 f0[PATH_MAX], f1[PATH_MAX], swap[PATH_MAX];
	struct store_txn	*t;
	struct store_keyset	*ks;
	uint8_t			 digest[32] = { 1 }, sig[KEYS_SIG_MAX];
	size_t			 siglen = sizeof(sig), i;
	static const char	*sels[3] = { "a1", "a2", "a3" };

	if (store_begin(st, "sign.example", STORE_CREATE, &t, err,
	    sizeof(err)) != STORE_OK) {
		T_OK(0, "begin sign.example (%s)", err);
		return;
	}
	for (i = 0; i < 3; i++)
		if (store_txn_generate(t, KEYS_ALG_ED25519_SHA256, 0, sels[i],
		    T0, ids[i], err, sizeof(err)) == -1 ||
		    store_txn_set_selector(t, sels[i], ids[i], err,
		    sizeof(err)) == -1)
			T_OK(0, "generate %s (%s)", sels[i], err);
	store_txn_set_state(t, ids[0], STORE_ACTIVE, T0, err, sizeof(err));
	store_txn_set_state(t, ids[1], STORE_READY, T0, err, sizeof(err));
	/* ids[2] stays GENERATED: mapped, but never signs (I1). */
	T_OK(store_commit(t, T0, err, sizeof(err)) == 0, "commit");

	ks = store_load_signing_keys(st, "sign.example", err, sizeof(err));
	if (T_OK(ks != NULL, "signing set loads (%s)", err)) {
		T_EQ_INT(store_keyset_count(ks), 2, "ACTIVE and READY only");
		T_EQ_INT(store_keyset_failures(ks), 0, "no failures");
		T_EQ_INT(store_keyset_generation(ks), 1, "its generation");
		T_EQ_STR(store_keyset_selector(ks, 0), "a1", "first: a1");
		T_EQ_STR(store_keyset_id(ks, 0), ids[0], "a1's key");
		T_EQ_INT(store_keyset_state(ks, 0), STORE_ACTIVE, "a1 ACTIVE");
		T_EQ_STR(store_keyset_selector(ks, 1), "a2", "second: a2");
		T_EQ_INT(store_keyset_state(ks, 1), STORE_READY, "a2 READY");
		T_OK(keys_sign(store_keyset_key(ks, 0), KEYS_ALG_ED25519_SHA256,
		    digest, sig, &siglen) == 0, "a loaded key signs");
	}
	store_keyset_free(ks);

	/* Swapped files: each holds the other's key (rspamd #2809). */
	store_key_file(st, "sign.example", ids[0], f0, sizeof(f0));
	store_key_file(st, "sign.example", ids[1], f1, sizeof(f1));
	if (snprintf(swap, sizeof(swap), "%s.swap", f0) >= (int)sizeof(swap))
		return;
	rename(f0, swap);
	rename(f1, f0);
	rename(swap, f1);
	ks = store_load_signing_keys(st, "sign.example", err, sizeof(err));
	T_OK(ks != NULL && store_keyset_count(ks) == 0 &&
	    store_keyset_failures(ks) == 2, "swapped files are both refused");
	T_OK(strstr(err, "not the key its name and the journal say") != NULL,
	    "and the reason is given (%s)", err);
	store_keyset_free(ks);
	rename(f0, swap);
	rename(f1, f0);
	rename(swap, f1);

	chmod(f1, 0644);
	ks = store_load_signing_keys(st, "sign.example", err, sizeof(err));
	T_OK(ks != NULL && store_keyset_count(ks) == 1 &&
	    store_keyset_failures(ks) == 1 &&
	    strcmp(store_keyset_selector(ks, 0), "a1") == 0,
	    "a 0644 key is left out, the other still loads");
	T_OK(strstr(err, "chmod 600") != NULL, "with the fix (%s)", err);
	store_keyset_free(ks);
	chmod(f1, 0600);

	unlink(f0);
	ks = store_load_signing_keys(st, "sign.example", err, sizeof(err));
	T_OK(ks != NULL && store_keyset_count(ks) == 1 &&
	    store_keyset_failures(ks) == 1 && strstr(err, f0) != NULL,
	    "a deleted key file is named (%s)", err);
	store_keyset_free(ks);

	ks = store_load_signing_keys(st, "absent.example", err, sizeof(err));
	T_OK(ks == NULL && strstr(err, "not in the key store") != NULL,
	    "an unknown domain has no signing set");
}

/* The one-write conveniences. */
static void
test_conveniences(struct store *st)
{
	char			 err[512] = "", id[KEYS_ID_LEN + 1];
	struct keys_key		*k = shared_key(
				    "rfc8463/ed25519-brisbane.seed.b64");
	struct store_domain	*d;
	const struct store_key	*rec;

	status_is(store_add_key(st, "conv.example", k, "brisbane", T0,
	    STORE_CREATE, id, err, sizeof(err)), STORE_OK,
	    "store_add_key");
	status_is(store_set_selector(st, "conv.example", "brisbane", id,
	    STORE_ACTIVE, T0 + 5, STORE_NOWAIT, err, sizeof(err)), STORE_OK,
	    "store_set_selector");
	d = store_domain_load(st, "conv.example", err, sizeof(err));
	rec = d != NULL ? store_domain_selector_key(d, "brisbane") : NULL;
	T_OK(rec != NULL && store_key_state(rec) == STORE_ACTIVE &&
	    store_key_entered(rec, STORE_ACTIVE) == T0 + 5 &&
	    store_domain_generation(d) == 2, "two writes, mapped and ACTIVE");
	store_domain_free(d);
	keys_free(k);
}

/* rotation.md §b state 10: the private key goes public, then away. */
static void
test_disclose(struct store *st)
{
	char			 err[512] = "", id[KEYS_ID_LEN + 1];
	char			 file[PATH_MAX], *pub, *copy, *a, *b;
	struct store_domain	*d;
	struct store_txn	*t;
	const struct store_key	*k;
	size_t			 alen, blen;

	pub = path_of("disclosed", NULL);
	mkdir(pub, 0755);
	status_is(store_begin(st, "disc.example", STORE_CREATE, &t, err,
	    sizeof(err)), STORE_OK, "disclose: begin");
	T_OK(store_txn_generate(t, KEYS_ALG_ED25519_SHA256, 0, "d1", T0, id,
	    err, sizeof(err)) == 0, "a key");
	T_OK(store_txn_set_selector(t, "d1", id, err, sizeof(err)) == 0 &&
	    store_txn_set_state(t, id, STORE_GONE, T0 + 10, err,
	    sizeof(err)) == 0, "mapped and GONE");
	T_EQ_INT(store_txn_disclose(t, id, pub, T0 + 20, err, sizeof(err)),
	    -1, "a key its selector names is not disclosed");
	T_OK(strstr(err, "still selector") != NULL, "why: %s", err);
	T_OK(store_txn_set_selector(t, "d1", NULL, err, sizeof(err)) == 0,
	    "unmapped");
	T_OK(store_commit(t, T0 + 10, err, sizeof(err)) == 0, "committed");
	store_key_file(st, "disc.example", id, file, sizeof(file));
	a = t_read_file(file, &alen);
	status_is(store_begin(st, "disc.example", 0, &t, err, sizeof(err)),
	    STORE_OK, "disclose: begin again");
	T_EQ_INT(store_txn_disclose(t, id, pub, T0 + 20, err, sizeof(err)), 0,
	    "disclosed");
	T_OK(store_commit(t, T0 + 20, err, sizeof(err)) == 0, "committed");
	if (asprintf(&copy, "%s/disc.example.d1.%s.pem", pub, id) == -1)
		exit(1);
	T_OK(exists(copy) && mode_of(copy) == 0644, "published 0644 at %s",
	    copy);
	b = exists(copy) ? t_read_file(copy, &blen) : NULL;
	T_OK(b != NULL && blen == alen && memcmp(a, b, alen) == 0,
	    "the very key file");
	T_OK(!exists(file), "the store's copy is gone");
	d = store_domain_load(st, "disc.example", err, sizeof(err));
	k = d != NULL ? store_domain_find_key(d, id) : NULL;
	T_OK(k != NULL && store_key_state(k) == STORE_DISCLOSED &&
	    store_key_entered(k, STORE_DISCLOSED) == T0 + 20 &&
	    store_key_entered(k, STORE_DESTROYED) == 0, "journalled DISCLOSED");
	store_domain_free(d);
	free(a);
	free(b);
	free(copy);
	free(pub);
}

/* Roles: the keyset says each key's role and the current ARC key. */
static void
test_roles(struct store *st)
{
	char			 err[512] = "", ids[3][KEYS_ID_LEN + 1];
	static const char *const sels[3] = { "s1", "arc-1", "arc-2" };
	struct store_keyset	*ks;
	struct store_txn	*t;
	size_t			 i, idx = 99;

	status_is(store_begin(st, "roles.example", STORE_CREATE, &t, err,
	    sizeof(err)), STORE_OK, "roles: begin");
	for (i = 0; i < 3; i++) {
		T_OK(store_txn_generate(t, KEYS_ALG_ED25519_SHA256, 0, sels[i],
		    T0 + (time_t)i, ids[i], err, sizeof(err)) == 0 &&
		    store_txn_set_selector(t, sels[i], ids[i], err,
		    sizeof(err)) == 0 && store_txn_set_state(t, ids[i],
		    i == 2 ? STORE_READY : STORE_ACTIVE, T0 + 5, err,
		    sizeof(err)) == 0, "key %s", sels[i]);
		if (i > 0)
			T_OK(store_txn_set_key_attr(t, ids[i], STORE_ATTR_ROLE,
			    STORE_ROLE_ARC, err, sizeof(err)) == 0, "role arc");
	}
	T_OK(store_commit(t, T0 + 5, err, sizeof(err)) == 0, "committed");
	ks = store_load_signing_keys(st, "roles.example", err, sizeof(err));
	if (!T_OK(ks != NULL && store_keyset_count(ks) == 3, "three signing"))
		return;
	for (i = 0; i < 3; i++)
		T_EQ_STR(store_keyset_role(ks, i), strcmp(store_keyset_selector(
		    ks, i), "s1") == 0 ? STORE_ROLE_DKIM : STORE_ROLE_ARC,
		    store_keyset_selector(ks, i));
	T_EQ_INT(store_keyset_current(ks, STORE_ROLE_ARC, &idx), 0,
	    "an ARC key to seal with");
	T_EQ_STR(store_keyset_selector(ks, idx), "arc-2", "the newest one");
	T_EQ_INT(store_keyset_current(ks, STORE_ROLE_ED25519, &idx), -1,
	    "no Ed25519 key");
	store_keyset_free(ks);
}

int
main(void)
{
	char		 err[512] = "", cmd[PATH_MAX], *ks;
	struct store	*st;

	if (sodium_init() < 0 || mkdtemp(tmpdir) == NULL) {
		printf("Bail out! setup\n");
		return 1;
	}
	test_names();
	test_open();
	ks = path_of("ks", NULL);
	if ((st = store_open(ks, 1, err, sizeof(err))) == NULL) {
		printf("Bail out! %s\n", err);
		return 1;
	}
	test_round_trip(st);
	test_txn_rules(st);
	test_busy(st);
	test_crash(st);
	test_concurrent_writers(st);
	test_strict_parse(st);
	test_signing_keys(st);
	test_conveniences(st);
	test_disclose(st);
	test_roles(st);
	store_close(st);
	free(ks);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", tmpdir);
	return t_done();
}
