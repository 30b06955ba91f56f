/*
 * test_keys_lazy — keys/store's signing sets with keys loaded on first
 * use (issue 4, KY-01): building the set reads only the journal; the
 * first use loads and checks a key once, even when several threads ask
 * at the same moment; a key file that went bad before its first use
 * leaves that selector missing (reported once) while the others sign;
 * store_keyset_load_all() leaves failures out as the eager set does.
 */
#include <sys/stat.h>

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "keys/signer.h"
#include "keys/store.h"
#include "tests/unit/t.h"

#define T0		1700000000	/* 2023-11-14T22:13:20Z */
#define NTHREADS	8		/* concurrent first users */

static char	tmpdir[] = "/tmp/test_keys_lazy.XXXXXX";

/* A domain with RSA-2048 keys at s1 and s2, both ACTIVE. */
static int
make_domain(struct store *st, const char *domain,
    char ids[2][KEYS_ID_LEN + 1])
{
	static const char	*sels[2] = { "s1", "s2" };
	char			 err[512] = "";
	struct store_txn	*t;
	size_t			 i;

	if (store_begin(st, domain, STORE_CREATE, &t, err, sizeof(err)) !=
	    STORE_OK)
		return T_OK(0, "begin %s (%s)", domain, err) ? 0 : -1;
	for (i = 0; i < 2; i++) {
		if (store_txn_generate(t, KEYS_ALG_RSA_SHA256, 2048, sels[i],
		    T0, ids[i], err, sizeof(err)) == -1 ||
		    store_txn_set_selector(t, sels[i], ids[i], err,
		    sizeof(err)) == -1 ||
		    store_txn_set_state(t, ids[i], STORE_ACTIVE, T0, err,
		    sizeof(err)) == -1) {
			store_abort(t);
			return T_OK(0, "generate %s (%s)", sels[i], err) ? 0 : -1;
		}
	}
	return T_OK(store_commit(t, T0, err, sizeof(err)) == 0,
	    "commit %s (%s)", domain, err) ? 0 : -1;
}

static int
signs(const struct keys_key *k)
{
	uint8_t	digest[KEYS_SHA256_LEN] = { 7 }, sig[KEYS_SIG_MAX];
	size_t	siglen = sizeof(sig);

	return k != NULL && keys_sign(k, KEYS_ALG_RSA_SHA256, digest, sig,
	    &siglen) == 0 && siglen == 256;
}

static void
test_first_use(struct store *st, char ids[2][KEYS_ID_LEN + 1])
{
	char			 err[512] = "", f0[PATH_MAX], moved[PATH_MAX];
	struct store_keyset	*ks;
	const struct keys_key	*k;

	store_key_file(st, "lazy.example", ids[0], f0, sizeof(f0));
	if (snprintf(moved, sizeof(moved), "%s.away", f0) >=
	    (int)sizeof(moved))
		return;
	/* With s1's file away, the set still builds: nothing is read yet. */
	rename(f0, moved);
	ks = store_load_signing_keys_lazy(st, "lazy.example", err,
	    sizeof(err));
	rename(moved, f0);
	if (!T_OK(ks != NULL, "a lazy set builds from the journal (%s)", err))
		return;
	T_EQ_INT(store_keyset_count(ks), 2, "both selectors are in the set");
	T_EQ_INT(store_keyset_failures(ks), 0, "no key was read, none failed");
	T_EQ_INT(store_keyset_alg(ks, 0), KEYS_ALG_RSA_SHA256,
	    "the algorithm is known from the journal");
	k = store_keyset_key_err(ks, 0, err, sizeof(err));
	T_OK(signs(k), "the first use loads s1, which signs (%s)", err);
	T_EQ_STR(err, "", "no error reported");
	T_OK(store_keyset_key(ks, 0) == k, "later uses get the same key");
	/* Loaded keys live in memory: the file no longer matters. */
	rename(f0, moved);
	T_OK(store_keyset_key(ks, 0) == k, "even with the file gone");
	rename(moved, f0);
	store_keyset_free(ks);
}

struct race {
	const struct store_keyset	*ks;
	size_t				 idx;
	pthread_barrier_t		*go;
	const struct keys_key		*got;
	char				 err[512];
};

static void *
race_main(void *arg)
{
	struct race	*r = arg;

	pthread_barrier_wait(r->go);
	r->got = store_keyset_key_err(r->ks, r->idx, r->err, sizeof(r->err));
	return NULL;
}

/* NTHREADS threads ask for key idx at once; returns how many reported
 * an error, and stores the first thread's key in *key. */
static int
race(const struct store_keyset *ks, size_t idx, const struct keys_key **key,
    int *same)
{
	pthread_t		 th[NTHREADS];
	pthread_barrier_t	 go;
	struct race		 r[NTHREADS];
	int			 i, nerr = 0;

	pthread_barrier_init(&go, NULL, NTHREADS);
	for (i = 0; i < NTHREADS; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].ks = ks;
		r[i].idx = idx;
		r[i].go = &go;
		if (pthread_create(&th[i], NULL, race_main, &r[i]) != 0) {
			printf("Bail out! pthread_create\n");
			exit(1);
		}
	}
	for (i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&go);
	*same = 1;
	for (i = 0; i < NTHREADS; i++) {
		if (r[i].err[0] != '\0')
			nerr++;
		if (r[i].got != r[0].got)
			*same = 0;
	}
	*key = r[0].got;
	return nerr;
}

static void
test_concurrent_first_use(struct store *st, char ids[2][KEYS_ID_LEN + 1])
{
	char			 err[512] = "", f1[PATH_MAX];
	struct store_keyset	*ks;
	const struct keys_key	*k;
	int			 same, nerr;

	ks = store_load_signing_keys_lazy(st, "lazy.example", err,
	    sizeof(err));
	if (!T_OK(ks != NULL, "lazy set (%s)", err))
		return;
	nerr = race(ks, 0, &k, &same);
	T_OK(same && signs(k), "%d threads at once all get one loaded key",
	    NTHREADS);
	T_EQ_INT(nerr, 0, "and none reports an error");

	/* A failing key: every thread gets NULL, one of them the reason. */
	store_key_file(st, "lazy.example", ids[1], f1, sizeof(f1));
	chmod(f1, 0644);
	nerr = race(ks, 1, &k, &same);
	chmod(f1, 0600);
	T_OK(same && k == NULL, "a failing key is missing for every thread");
	T_EQ_INT(nerr, 1, "its failure is reported exactly once");
	store_keyset_free(ks);
}

static void
test_went_bad(struct store *st, char ids[2][KEYS_ID_LEN + 1])
{
	char			 err[512] = "", f0[PATH_MAX], f1[PATH_MAX];
	char			 moved[PATH_MAX];
	struct store_keyset	*ks;
	const struct keys_key	*k;

	store_key_file(st, "lazy.example", ids[0], f0, sizeof(f0));
	store_key_file(st, "lazy.example", ids[1], f1, sizeof(f1));
	ks = store_load_signing_keys_lazy(st, "lazy.example", err,
	    sizeof(err));
	if (!T_OK(ks != NULL, "lazy set (%s)", err))
		return;
	/* Between the build and the first message, s1 is made 0644. */
	chmod(f0, 0644);
	k = store_keyset_key_err(ks, 0, err, sizeof(err));
	T_OK(k == NULL, "s1, now readable by others, is missing");
	T_OK(strstr(err, f0) != NULL && strstr(err, "chmod 600") != NULL,
	    "the reason names the file and the fix (%s)", err);
	chmod(f0, 0600);
	k = store_keyset_key_err(ks, 0, err, sizeof(err));
	T_OK(k == NULL && err[0] == '\0',
	    "a failed key is not retried and not reported again");
	T_OK(signs(store_keyset_key(ks, 1)), "s2 still loads and signs");
	store_keyset_free(ks);

	/* Both files gone: no key of the set signs. */
	ks = store_load_signing_keys_lazy(st, "lazy.example", err,
	    sizeof(err));
	if (!T_OK(ks != NULL, "lazy set (%s)", err))
		return;
	if (snprintf(moved, sizeof(moved), "%s.away", f0) >=
	    (int)sizeof(moved)) {
		store_keyset_free(ks);
		return;
	}
	rename(f0, moved);
	unlink(f1);
	T_OK(store_keyset_key(ks, 0) == NULL && store_keyset_key(ks, 1) ==
	    NULL, "with both files gone, neither selector has a key");
	rename(moved, f0);
	store_keyset_free(ks);
}

static void
test_load_all(struct store *st, char ids[2][KEYS_ID_LEN + 1])
{
	char			 err[512] = "", f0[PATH_MAX];
	struct store_keyset	*ks;

	store_key_file(st, "lazy.example", ids[0], f0, sizeof(f0));
	ks = store_load_signing_keys_lazy(st, "lazy.example", err,
	    sizeof(err));
	if (!T_OK(ks != NULL, "lazy set (%s)", err))
		return;
	chmod(f0, 0644);
	T_EQ_INT(store_keyset_load_all(ks, err, sizeof(err)), 1,
	    "load_all: one key fails");
	chmod(f0, 0600);
	T_OK(store_keyset_count(ks) == 1 && store_keyset_failures(ks) == 1,
	    "it is left out and counted, as in an eager set");
	T_EQ_STR(store_keyset_selector(ks, 0), "s2", "s2 stays");
	T_OK(strstr(err, f0) != NULL, "the failure is described (%s)", err);
	T_OK(signs(store_keyset_key(ks, 0)), "s2, moved in the set, signs");
	store_keyset_free(ks);
}

int
main(void)
{
	char		 err[512] = "", cmd[PATH_MAX], path[PATH_MAX];
	char		 ids[2][KEYS_ID_LEN + 1];
	struct store	*st;

	if (sodium_init() < 0 || mkdtemp(tmpdir) == NULL) {
		printf("Bail out! setup\n");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/ks", tmpdir);
	if ((st = store_open(path, 1, err, sizeof(err))) == NULL) {
		printf("Bail out! %s\n", err);
		return 1;
	}
	if (make_domain(st, "lazy.example", ids) == 0) {
		test_first_use(st, ids);
		test_concurrent_first_use(st, ids);
		test_load_all(st, ids);
		test_went_bad(st, ids);		/* last: deletes s2's file */
	}
	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", tmpdir);
	return t_done();
}
