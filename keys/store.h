/*
 * store — the on-disk key store and its rotation journal (DESIGN.md "Key
 * store", design/rotation.md §b).
 *
 *   <keystore>/<domain>/keys/<key-id>.pem   private keys, 0600 (dirs 0700)
 *   <keystore>/<domain>/state.yaml          the journal, 0600
 *   <keystore>/<domain>/.lock               flock(LOCK_EX) of writers
 *
 * The journal maps selectors to key ids and records, for every key, its
 * algorithm, size, selector, rotation state and the time each state was
 * entered, plus a "generation" bumped on every write and the time of
 * that write.  Free-form attrs (name -> string) on the domain and on each
 * key let the rotation engine record what it needs without a format
 * change.  A sample:
 *
 *   version: 1
 *   domain: example.com
 *   generation: 2
 *   last_write: 2025-01-02T03:04:05Z
 *   selectors:
 *     s1: 0123456789abcdef
 *   keys:
 *     - id: 0123456789abcdef
 *       algorithm: rsa
 *       bits: 2048
 *       selector: s1
 *       state: ACTIVE
 *       entered:
 *         GENERATED: 2025-01-02T03:04:05Z
 *         ACTIVE: 2025-01-02T03:04:05Z
 *       attrs: {}
 *   attrs: {}
 *
 * Reading is lock-free: a journal is replaced by rename, so a reader sees
 * the old or the new file, never half of one.  Writing is a transaction:
 * store_begin() takes the domain's lock and reads the journal, the
 * store_txn_*() calls change it (key files are written and fsynced at
 * once), and store_commit() writes temp file, fsync, rename, directory
 * fsync.  Snapshots (struct store_domain) are immutable; a snapshot or
 * key set stays valid until freed, whatever happens on disk.
 *
 * Times are time_t passed in by the caller, so the rotation engine can
 * run on a simulated clock.
 */
#ifndef SIGNET_KEYS_STORE_H
#define SIGNET_KEYS_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "keys/signer.h"

#define STORE_DEFAULT_PATH	"/var/lib/signet/keys"
#define STORE_JOURNAL		"state.yaml"
#define STORE_JOURNAL_VERSION	1

/* rotation.md §b, in the order a key normally passes through them. */
enum store_state {
	STORE_GENERATED,
	STORE_PUBLISHING,
	STORE_PUBLISHED,
	STORE_VISIBLE,
	STORE_READY,
	STORE_ACTIVE,
	STORE_DRAINING,
	STORE_REVOKED,
	STORE_GONE,
	STORE_DESTROYED,
	STORE_DISCLOSED,
	STORE_COMPROMISED,
};
#define STORE_NSTATES		(STORE_COMPROMISED + 1)

/* Writers must tell "someone else holds the lock" from failure. */
enum store_status {
	STORE_OK,
	STORE_BUSY,
	STORE_FAIL,
};

/*
 * Key roles (key attr STORE_ATTR_ROLE): which signature a key makes.  A
 * key without the attr is a DKIM key of the domain's selectors, as every
 * journal written before roles existed holds.  ARC keys (RFC 8617) and
 * the extra Ed25519 DKIM signature are each the only signature of their
 * kind on a message, so they rotate on their own, under generational
 * names (design/rotation.md §b "ARC cannot use I5").
 */
#define STORE_ATTR_ROLE		"role"
#define STORE_ROLE_DKIM		"dkim"
#define STORE_ROLE_ARC		"arc"
#define STORE_ROLE_ED25519	"ed25519"

/* store_begin() flags */
#define STORE_NOWAIT	0x1	/* STORE_BUSY instead of waiting */
#define STORE_CREATE	0x2	/* add the domain if it is not there */

struct store;
struct store_domain;
struct store_key;
struct store_txn;
struct store_keyset;

/*
 * Open a key store directory.  create: make it (0700, with parents) if
 * missing.  A store directory writable by group or others is refused.
 */
struct store	*store_open(const char *path, int create, char *err,
		    size_t errlen);
void		 store_close(struct store *);
const char	*store_path(const struct store *);

/* Domain names in the store, sorted, NULL-terminated; NULL on error. */
char		**store_domains(struct store *, char *err, size_t errlen);
void		 store_domains_free(char **);

/*
 * Cheap change detector for pollers (signetd, every second): a hash of
 * every domain's journal name, inode, size and times.  Any committed
 * write changes it.
 */
int		 store_fingerprint(struct store *, uint64_t *out);
/* Sum of every domain's journal generation (parses every journal). */
int		 store_generation(struct store *, uint64_t *out, char *err,
		    size_t errlen);

/*
 * Snapshot of one domain's journal.  NULL on error; err then holds one
 * line, "PATH:LINE:COL: message" for a journal that does not parse.
 */
struct store_domain *store_domain_load(struct store *, const char *domain,
		    char *err, size_t errlen);
void		 store_domain_free(struct store_domain *);
/*
 * Parse journal text as the journal of domain; file names it in errors.
 * For tests and fuzzing: store_domain_load() reads the file and calls
 * this.
 */
struct store_domain *store_domain_parse(const void *data, size_t len,
		    const char *file, const char *domain, char *err,
		    size_t errlen);

const char	*store_domain_name(const struct store_domain *);
uint64_t	 store_domain_generation(const struct store_domain *);
time_t		 store_domain_last_write(const struct store_domain *);
size_t		 store_domain_nkeys(const struct store_domain *);
/* Keys in the order they were added. */
const struct store_key *store_domain_key(const struct store_domain *,
		    size_t);
const struct store_key *store_domain_find_key(const struct store_domain *,
		    const char *id);
/* Selectors sorted by name; each maps to a key of the domain. */
size_t		 store_domain_nselectors(const struct store_domain *);
const char	*store_domain_selector(const struct store_domain *, size_t);
/* The key a selector maps to, or NULL. */
const struct store_key *store_domain_selector_key(
		    const struct store_domain *, const char *selector);
/* An attr's value, or NULL. */
const char	*store_domain_attr(const struct store_domain *,
		    const char *name);

const char	*store_key_id(const struct store_key *);
enum keys_alg	 store_key_alg(const struct store_key *);
unsigned	 store_key_bits(const struct store_key *);
const char	*store_key_selector(const struct store_key *);
enum store_state store_key_state(const struct store_key *);
/* When the key last entered a state; 0 if it never did. */
time_t		 store_key_entered(const struct store_key *,
		    enum store_state);
const char	*store_key_attr(const struct store_key *, const char *name);

/* "ACTIVE" etc.; parse returns 0 / -1. */
const char	*store_state_name(enum store_state);
int		 store_state_parse(const char *, enum store_state *);

/*
 * Path of a key file, <keystore>/<domain>/keys/<id>.pem, into out.
 * 0 / -1 (too long).
 */
int		 store_key_file(const struct store *, const char *domain,
		    const char *id, char *out, size_t outlen);

/* Syntax checks for names that become paths: 0 valid, -1 not. */
int		 store_domain_valid(const char *);
int		 store_selector_valid(const char *);

/*
 * Transactions.  store_begin() locks the domain (waiting, or STORE_BUSY
 * with STORE_NOWAIT), removes temp files a crashed writer left, and reads
 * the journal.  Then any number of changes, then store_commit() (writes
 * one new journal) or store_abort() (key files added by this transaction
 * are removed).  Both release the lock and free the transaction.
 */
enum store_status store_begin(struct store *, const char *domain, int flags,
		    struct store_txn **, char *err, size_t errlen);
/* The journal as changed so far; valid until the next change. */
const struct store_domain *store_txn_domain(const struct store_txn *);
/*
 * Generate a key (keys_generate) into keys/<id>.pem and journal it as
 * GENERATED at now for selector (not yet mapped: see set_selector).
 */
int		 store_txn_generate(struct store_txn *, enum keys_alg,
		    unsigned bits, const char *selector, time_t now,
		    char id[KEYS_ID_LEN + 1], char *err, size_t errlen);
/* The same for a key loaded elsewhere (keys import); written as PKCS#8. */
int		 store_txn_add_key(struct store_txn *, const struct keys_key *,
		    const char *selector, time_t now, char id[KEYS_ID_LEN + 1],
		    char *err, size_t errlen);
/* Record that the key entered state at now (no transition rules here). */
int		 store_txn_set_state(struct store_txn *, const char *id,
		    enum store_state, time_t now, char *err, size_t errlen);
/* Map selector to id (which must name a key for that selector); id NULL
 * removes the mapping. */
int		 store_txn_set_selector(struct store_txn *,
		    const char *selector, const char *id, char *err,
		    size_t errlen);
/* Set (value NULL: remove) a free-form attribute. */
int		 store_txn_set_key_attr(struct store_txn *, const char *id,
		    const char *name, const char *value, char *err,
		    size_t errlen);
int		 store_txn_set_domain_attr(struct store_txn *, const char *name,
		    const char *value, char *err, size_t errlen);
/*
 * Remove the key's file and record DESTROYED at now.  The file goes at
 * once; if the commit then fails, the journal still shows the old state
 * with no file, which loading reports.
 */
int		 store_txn_destroy(struct store_txn *, const char *id,
		    time_t now, char *err, size_t errlen);
/*
 * DISCLOSED (rotation.md §b state 10): copy the key's file to
 * <dir>/<domain>.<selector>.<id>.pem (0644, for publication), then as
 * store_txn_destroy(), recording DISCLOSED.  Redone after a crash: a
 * key file already gone is fine when its copy is in dir.
 */
int		 store_txn_disclose(struct store_txn *, const char *id,
		    const char *dir, time_t now, char *err, size_t errlen);
int		 store_commit(struct store_txn *, time_t now, char *err,
		    size_t errlen);
void		 store_abort(struct store_txn *);

/* One-write conveniences over the transaction calls. */
enum store_status store_add_key(struct store *, const char *domain,
		    const struct keys_key *, const char *selector, time_t now,
		    int flags, char id[KEYS_ID_LEN + 1], char *err,
		    size_t errlen);
/* Map selector -> id and record id entering state, in one write. */
enum store_status store_set_selector(struct store *, const char *domain,
		    const char *selector, const char *id, enum store_state,
		    time_t now, int flags, char *err, size_t errlen);

/*
 * The signing keys of a domain: for each selector (sorted) whose key is
 * READY or ACTIVE, the key loaded with keys_load(), checked against the
 * journal's id and algorithm.  NULL only if the journal cannot be read.
 * A key that fails to load is left out and counted; err then describes
 * the first such failure (callers decide whether a partial set may sign,
 * KY-01).
 */
struct store_keyset *store_load_signing_keys(struct store *,
		    const char *domain, char *err, size_t errlen);
/*
 * The same set with every key left on disk until its first use (an ESP's
 * tens of thousands of keys; snapshot.c decides): only the journal is
 * read here.  store_keyset_key() then loads and checks a key once,
 * thread-safely; a key that fails is missing from then on (NULL) and is
 * never retried by this set.  store_keyset_load_all() loads the rest
 * now, leaves the failures out of the set as store_load_signing_keys()
 * does, counts them in store_keyset_failures() and describes the first
 * in err; it returns how many failed.  It must not race with readers.
 */
struct store_keyset *store_load_signing_keys_lazy(struct store *,
		    const char *domain, char *err, size_t errlen);
size_t		 store_keyset_load_all(struct store_keyset *, char *err,
		    size_t errlen);
size_t		 store_keyset_count(const struct store_keyset *);
size_t		 store_keyset_failures(const struct store_keyset *);
uint64_t	 store_keyset_generation(const struct store_keyset *);
const char	*store_keyset_selector(const struct store_keyset *, size_t);
const char	*store_keyset_id(const struct store_keyset *, size_t);
enum store_state store_keyset_state(const struct store_keyset *, size_t);
/* The key (loaded on first use, see above), or NULL if it fails. */
const struct keys_key *store_keyset_key(const struct store_keyset *,
		    size_t);
/* The same; err gets the reason in the one call whose load failed, and
 * is emptied otherwise, so a caller logs each failure once. */
const struct keys_key *store_keyset_key_err(const struct store_keyset *,
		    size_t, char *err, size_t errlen);
/* The key's algorithm as journalled (a loaded key is checked to match),
 * known without loading it. */
enum keys_alg	 store_keyset_alg(const struct store_keyset *, size_t);
/* The key's STORE_ATTR_ROLE, STORE_ROLE_DKIM when it has none. */
const char	*store_keyset_role(const struct store_keyset *, size_t);
/*
 * The one key that makes role's single signature: of the set's keys of
 * that role, the one generated last (a successor signs once READY, I1).
 * Its index, or -1 when the set has none.
 */
int		 store_keyset_current(const struct store_keyset *,
		    const char *role, size_t *idx);
void		 store_keyset_free(struct store_keyset *);

#endif
