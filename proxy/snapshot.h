/*
 * snapshot — the immutable, reference-counted pair of configuration and
 * signing keys that signetd serves with (DESIGN.md promise 6, KY-04).
 *
 * One snapshot is current at a time.  A session takes a reference when
 * a transaction begins and signs with it to the end, so both signatures
 * of a message come from one generation; a reload or a key-store change
 * builds a new snapshot beside the old one and publishes it with a
 * pointer swap.  The last reference frees (and wipes) the old one.
 * All functions are thread-safe.
 */
#ifndef SIGNET_SNAPSHOT_H
#define SIGNET_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "keys/signer.h"

struct buf;
struct config;
struct config_domain;
struct keys_key;
struct snapshot;
struct tls_set;

/*
 * Build a snapshot from cfg (takes ownership) and the key store it names.
 * A configured domain whose keys cannot be loaded is not an error here:
 * its mail gets 451 (TN-04, KY-01) and the cause is logged.  NULL on
 * failure with a one-line reason in err (may be NULL).
 */
struct snapshot	*snapshot_build(const struct config *, struct buf *err);
/*
 * The signing keys of cfg (takes ownership) without the listeners' and
 * upstream's TLS material, for `signetctl sign --config`.  Not strict: a
 * key that cannot be loaded is missing, as after a key-store poll.
 */
struct snapshot	*snapshot_build_keys(const struct config *, struct buf *err);
/* A new snapshot with prev's configuration and a fresh look at the
 * key store. */
struct snapshot	*snapshot_rebuild_keys(struct snapshot *prev,
		    struct buf *err);

/* Make s current; takes the caller's reference. */
void		 snapshot_publish(struct snapshot *);
/* The current snapshot with a new reference, or NULL before the first
 * publish. */
struct snapshot	*snapshot_current(void);
struct snapshot	*snapshot_ref(struct snapshot *);
void		 snapshot_unref(struct snapshot *);
/* Drop the current snapshot (at exit). */
void		 snapshot_shutdown(void);

const struct config *snapshot_config(const struct snapshot *);
/* The listeners' TLS server contexts (tls.h), built with the config. */
const struct tls_set *snapshot_tls(const struct snapshot *);
/* The loaded signing key of domain/selector, or NULL. */
const struct keys_key *snapshot_key(const struct snapshot *,
		    const char *domain, const char *selector);
/*
 * The key of a single-signature role (keys/store.h STORE_ROLE_*) of
 * domain and its selector: the role's current key, else the key at the
 * plain selector (may be NULL); NULL unless it is of algorithm alg.
 */
const struct keys_key *snapshot_role_key(const struct snapshot *,
		    const char *domain, const char *role, const char *plain,
		    enum keys_alg alg, const char **selector);
/* The ARC key of a configured domain with arc enabled (RSA), or NULL. */
const struct keys_key *snapshot_arc_key(const struct snapshot *,
		    const struct config_domain *, const char **selector);
/*
 * Every signing key of the snapshot, in a stable order: key i of
 * snapshot_nkeys(), with its domain and selector (valid while s is).
 */
size_t		 snapshot_nkeys(const struct snapshot *);
const struct keys_key *snapshot_key_at(const struct snapshot *, size_t i,
		    const char **domain, const char **selector);
/*
 * The n-th Ed25519 key of domain whose selector is not in skip (nskip
 * names): the extra Ed25519 signature of a domain with extra_ed25519.
 * NULL past the last; *selector gets its selector.
 */
const struct keys_key *snapshot_extra_ed25519(const struct snapshot *,
		    const char *domain, const char *const *skip, size_t nskip,
		    size_t n, const char **selector);
/* Key-store generation this snapshot was built from. */
uint64_t	 snapshot_store_generation(const struct snapshot *);
/* 1 if the key store changed since s was built (cheap; polled). */
int		 snapshot_store_changed(const struct snapshot *);

#endif
