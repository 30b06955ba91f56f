/*
 * Unit tests for proxy/spool: memory then an unnamed 0600 file, reading
 * back and re-reading, write failure (EFBIG through RLIMIT_FSIZE), no
 * writes through symlinks, and the startup directory check (RS-01,
 * RS-02).
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxy/msg/buf.h"
#include "proxy/spool.h"
#include "tests/unit/t.h"

static char	dir[] = "/tmp/signet-spool-test.XXXXXX";

static size_t
count_entries(const char *path)
{
	DIR		*d = opendir(path);
	struct dirent	*de;
	size_t		 n = 0;

	if (d == NULL)
		return (size_t)-1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* Read everything back; -1 on a read error. */
static int
read_all(struct spool *sp, struct buf *out)
{
	const uint8_t	*p;
	size_t		 n;
	int		 rc;

	if (spool_rewind(sp) == -1)
		return -1;
	while ((rc = spool_read(sp, &p, &n)) == 1)
		if (buf_append(out, p, n) == -1)
			return -1;
	return rc;
}

/*
 * Mode of our open files that live in path (found through /proc, since
 * the spool's file has no name): -1 if there is none.
 */
static int
open_file_mode(const char *path)
{
	DIR		*d = opendir("/proc/self/fd");
	struct dirent	*de;
	struct stat	 st;
	char		 link[PATH_MAX], fdpath[300];
	ssize_t		 n;
	int		 mode = -1;

	while (d != NULL && (de = readdir(d)) != NULL) {
		snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%s",
		    de->d_name);
		n = readlink(fdpath, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (strncmp(link, path, strlen(path)) != 0 ||
		    link[strlen(path)] != '/')
			continue;
		if (stat(fdpath, &st) == 0)
			mode = (int)(st.st_mode & 07777);
	}
	if (d != NULL)
		closedir(d);
	return mode;
}

/* Size of our open file in path (after a rewind flushed it); -1. */
static long long
open_file_size(const char *path)
{
	DIR		*d = opendir("/proc/self/fd");
	struct dirent	*de;
	struct stat	 st;
	char		 link[PATH_MAX], fdpath[300];
	ssize_t		 n;
	long long	 size = -1;

	while (d != NULL && (de = readdir(d)) != NULL) {
		snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%s",
		    de->d_name);
		n = readlink(fdpath, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (strncmp(link, path, strlen(path)) != 0 ||
		    link[strlen(path)] != '/')
			continue;
		if (stat(fdpath, &st) == 0)
			size = (long long)st.st_size;
	}
	if (d != NULL)
		closedir(d);
	return size;
}

static void
test_memory_then_file(void)
{
	static const struct {
		const char	*name;
		size_t		 mem_limit;
		size_t		 total;
		size_t		 piece;
		int		 in_file;
	} cases[] = {
		{ "small message stays in memory", 1024, 100, 7, 0 },
		{ "exactly the memory limit", 1024, 1024, 1024, 0 },
		{ "one octet over spills", 1024, 1025, 1025, 1 },
		{ "100 KiB in 1000-octet writes", 4096, 100 * 1024, 1000, 1 },
		{ "300 KiB in one write", 1024, 300 * 1024, 300 * 1024, 1 },
		{ "default limit holds 1 MiB", 0, 1024 * 1024, 65536, 0 },
	};
	struct spool	*sp;
	struct buf	*want, *got;
	size_t		 i, j, k, m;
	int		 ok, rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sp = spool_new(dir, cases[i].mem_limit);
		want = buf_new(0);
		ok = 1;
		for (j = 0; j < cases[i].total; j += k) {
			k = cases[i].piece;
			if (k > cases[i].total - j)
				k = cases[i].total - j;
			buf_reset(want);
			for (m = 0; m < k; m++)
				buf_append_byte(want, (uint8_t)((j + m) * 7));
			ok = ok && spool_write(sp, buf_data(want), k) == 0;
		}
		buf_reset(want);
		for (j = 0; j < cases[i].total; j++)
			buf_append_byte(want, (uint8_t)(j * 7));
		T_OK(ok, "%s: writes succeed", cases[i].name);
		T_EQ_INT(spool_in_file(sp), cases[i].in_file, "in file");
		T_EQ_INT(spool_size(sp), cases[i].total, "size");
		/* RS-03: once in the file, the memory part is freed. */
		T_EQ_INT(spool_mem_bytes(sp), cases[i].in_file ? 0 :
		    cases[i].total, "octets in memory");
		if (cases[i].in_file) {
			T_EQ_INT(count_entries(dir), 0,
			    "the file has no name in the spool directory");
			T_EQ_INT(open_file_mode(dir), 0600, "file mode 0600");
		}
		got = buf_new(0);
		rc = read_all(sp, got);
		T_EQ_INT(rc, 0, "read back");
		T_EQ_MEM(buf_data(got), buf_len(got), buf_data(want),
		    buf_len(want), "content read back");
		if (cases[i].in_file)
			T_EQ_INT(open_file_size(dir), cases[i].total,
			    "the file holds the whole message");
		buf_reset(got);
		rc = read_all(sp, got);
		T_EQ_INT(rc, 0, "read again after rewind");
		T_EQ_MEM(buf_data(got), buf_len(got), buf_data(want),
		    buf_len(want), "a retry reads the same content");
		spool_reset(sp);
		T_OK(spool_size(sp) == 0 && !spool_in_file(sp) &&
		    open_file_mode(dir) == -1,
		    "reset: empty, file closed");
		buf_reset(got);
		rc = read_all(sp, got);
		T_EQ_INT(rc, 0, "reset spool reads empty");
		T_EQ_INT(buf_len(got), 0, "nothing after reset");
		spool_free(sp);
		buf_free(want);
		buf_free(got);
	}
}

/*
 * RS-03: the memory parts of all spools share SPOOL_MEM_TOTAL_MAX; a
 * spool that would pass it goes to its file, and freeing gives it back.
 */
static void
test_total_budget(void)
{
	enum { N = 6, PART = 16 * 1024 * 1024 };
	struct spool	*sp[N];
	struct buf	*got;
	static uint8_t	 block[1024 * 1024];
	size_t		 i, j, fit = 0, max_total = 0;
	int		 ok = 1;

	T_EQ_INT(spool_mem_total(), 0, "nothing charged at first");
	memset(block, 'm', sizeof(block));
	for (i = 0; i < N; i++) {
		sp[i] = spool_new(dir, PART);
		/* 10 MiB each: charged as 16 MiB (twice, capped). */
		for (j = 0; j < 10; j++)
			ok = ok && spool_write(sp[i], block, sizeof(block)) == 0;
		if (!spool_in_file(sp[i]))
			fit++;
		if (spool_mem_total() > max_total)
			max_total = spool_mem_total();
	}
	T_OK(ok, "every write succeeds");
	T_EQ_INT(fit, SPOOL_MEM_TOTAL_MAX / PART, "as many stay in memory as "
	    "the budget holds");
	T_OK(max_total <= SPOOL_MEM_TOTAL_MAX, "the budget is never passed");
	T_OK(spool_in_file(sp[N - 1]) && spool_mem_bytes(sp[N - 1]) == 0,
	    "the last one is wholly in its file");
	got = buf_new(0);
	T_OK(read_all(sp[N - 1], got) == 0 && buf_len(got) == 10 *
	    sizeof(block), "and reads back whole");
	buf_free(got);
	spool_free(sp[0]);
	T_OK(spool_write(sp[N - 1], block, 1) == 0 && spool_in_file(sp[N - 1]),
	    "a spool in its file stays there");
	sp[0] = spool_new(dir, PART);
	T_OK(spool_write(sp[0], block, sizeof(block)) == 0 &&
	    !spool_in_file(sp[0]), "freed budget is used again");
	for (i = 0; i < N; i++)
		spool_free(sp[i]);
	T_EQ_INT(spool_mem_total(), 0, "all given back");
}

/* RS-01: a file too large for RLIMIT_FSIZE gives EFBIG, not a signal. */
static void
test_write_error(void)
{
	struct rlimit	 old, lim;
	struct spool	*sp = spool_new(dir, 4096);
	uint8_t		 block[8192];
	size_t		 i;
	int		 rc = 0, wrc, failed, err, mode_after;
	void		(*oldsig)(int);

	memset(block, 'e', sizeof(block));
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = 64 * 1024;
	oldsig = signal(SIGXFSZ, SIG_IGN);
	setrlimit(RLIMIT_FSIZE, &lim);
	for (i = 0; i < 64 && rc == 0; i++)
		rc = spool_write(sp, block, sizeof(block));
	if (rc == 0)
		rc = spool_rewind(sp);
	wrc = spool_write(sp, block, 10);
	failed = spool_failed(sp);
	err = spool_errno(sp);
	mode_after = open_file_mode(dir);
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, oldsig);

	T_EQ_INT(rc, -1, "write past RLIMIT_FSIZE fails");
	T_OK(failed && err == EFBIG, "spool failed with EFBIG (got %d)", err);
	T_EQ_INT(wrc, -1, "writes after the failure are refused");
	T_EQ_INT(mode_after, -1, "the failed spool's file is closed at once");
	rc = spool_rewind(sp);
	T_EQ_INT(rc, -1, "a failed spool cannot be read");
	spool_reset(sp);
	T_OK(!spool_failed(sp) && spool_write(sp, block, 10) == 0,
	    "reset clears the failure");
	spool_free(sp);

	/* The move of the memory part into the file fails itself. */
	sp = spool_new(dir, 128 * 1024);
	oldsig = signal(SIGXFSZ, SIG_IGN);
	setrlimit(RLIMIT_FSIZE, &lim);
	for (i = 0, rc = 0; i < 17 && rc == 0; i++)
		rc = spool_write(sp, block, sizeof(block));
	failed = spool_failed(sp);
	err = spool_errno(sp);
	mode_after = open_file_mode(dir);
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, oldsig);
	T_OK(rc == -1 && failed && err == EFBIG && i == 17,
	    "a failed spill fails the spool (EFBIG, got %d)", err);
	T_OK(mode_after == -1 && spool_mem_bytes(sp) == 0,
	    "a failed spill keeps neither file nor memory");
	spool_free(sp);

	sp = spool_new("/nonexistent/signet-spool-dir", 16);
	rc = spool_write(sp, block, 100);
	T_OK(rc == -1 && spool_failed(sp) && spool_errno(sp) == ENOENT,
	    "missing spool directory fails the spool");
	spool_free(sp);
}

/* RS-02: a planted symlink is never written through; leftovers go. */
static void
test_symlink_and_leftovers(void)
{
	char		 target[] = "/tmp/signet-spool-target.XXXXXX";
	char		 path[512], err_dir[600];
	struct spool	*sp;
	struct buf	*err;
	struct stat	 st;
	uint8_t		 block[4096];
	int		 fd, i, n;

	fd = mkstemp(target);
	T_OK(write(fd, "keep", 4) == 4, "setup: symlink target written");
	close(fd);
	snprintf(path, sizeof(path), "%s/%sAAAAAA", dir, SPOOL_FILE_PREFIX);
	T_OK(symlink(target, path) == 0, "setup: symlink planted");
	memset(block, 's', sizeof(block));
	sp = spool_new(dir, 16);
	for (i = 0; i < 10; i++)
		spool_write(sp, block, sizeof(block));
	T_OK(spool_in_file(sp) && !spool_failed(sp),
	    "spool spills with a symlink planted in the directory");
	stat(target, &st);
	T_EQ_INT(st.st_size, 4, "symlink target untouched");
	spool_free(sp);

	snprintf(path, sizeof(path), "%s/%sleft01", dir, SPOOL_FILE_PREFIX);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	close(fd);
	snprintf(path, sizeof(path), "%s/keep.me", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	close(fd);
	err = buf_new(0);
	n = spool_dir_check(dir, err);
	T_EQ_INT(n, 2, "two leftovers removed (file and symlink)");
	T_OK(access(path, F_OK) == 0, "other files are left alone");
	T_OK(stat(target, &st) == 0 && st.st_size == 4,
	    "the symlink's target is not removed");
	T_EQ_INT(count_entries(dir), 1, "only keep.me remains");
	unlink(path);
	unlink(target);
	buf_free(err);

	/* A directory with a leftover name is not ours to delete. */
	snprintf(err_dir, sizeof(err_dir), "%s/%sdir", dir,
	    SPOOL_FILE_PREFIX);
	mkdir(err_dir, 0700);
	err = buf_new(0);
	n = spool_dir_check(dir, err);
	T_OK(n == -1 && strstr(buf_cstr(err), "is not a regular file") !=
	    NULL, "a directory named like a leftover is an error: %s",
	    buf_cstr(err));
	rmdir(err_dir);
	buf_free(err);
}

static void
test_dir_check(void)
{
	char		 sub[512], link[512], file[512];
	struct buf	*err;
	int		 n, fd;
	static const struct {
		const char	*what;
		const char	*want;	/* part of the message */
	} cases[] = {
		{ "missing", "No such file or directory" },
		{ "mode 0755", "mode 0755, must be 0700" },
		{ "mode 0701", "mode 0701, must be 0700" },
		{ "symlink", "is a symbolic link" },
		{ "regular file", "Not a directory" },
		{ "other owner", "owned by uid 65534" },
	};
	const char	*path;
	size_t		 i;

	snprintf(sub, sizeof(sub), "%s/sub", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	snprintf(file, sizeof(file), "%s/file", dir);
	mkdir(sub, 0700);
	T_OK(symlink(sub, link) == 0, "setup: symlink to the directory");
	fd = open(file, O_CREAT | O_WRONLY, 0600);
	close(fd);

	err = buf_new(0);
	n = spool_dir_check(sub, err);
	T_EQ_INT(n, 0, "a good directory passes");
	buf_free(err);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		path = sub;
		if (i == 0)
			path = "/nonexistent/signet-spool";
		else if (i == 1)
			chmod(sub, 0755);
		else if (i == 2)
			chmod(sub, 0701);
		else if (i == 3)
			path = link;
		else if (i == 4)
			path = file;
		else if (geteuid() == 0) {
			chmod(sub, 0700);
			T_OK(chown(sub, 65534, 65534) == 0,
			    "setup: directory given away");
		} else {
			T_OK(1, "# SKIP other owner needs root");
			continue;
		}
		err = buf_new(0);
		n = spool_dir_check(path, err);
		T_OK(n == -1 && strstr(buf_cstr(err), cases[i].want) != NULL &&
		    strstr(buf_cstr(err), path) != NULL,
		    "%s: \"%s\"", cases[i].what, buf_cstr(err));
		buf_free(err);
	}
	rmdir(sub);
	unlink(link);
	unlink(file);
}

static void
test_space(void)
{
	enum spool_space	s;

	s = spool_space_check(dir, 1024);
	T_EQ_INT(s, SPOOL_SPACE_OK, "1 KiB messages fit");
	s = spool_space_check(dir, UINT64_MAX / 2);
	T_EQ_INT(s, SPOOL_SPACE_SHORT, "huge limit: short of space");
	s = spool_space_check(dir, UINT64_MAX);
	T_EQ_INT(s, SPOOL_SPACE_SHORT, "1.5 x overflow counts as short");
	s = spool_space_check("/nonexistent/signet-spool", 1024);
	T_EQ_INT(s, SPOOL_SPACE_ERROR, "missing directory: error");
	T_EQ_STR(SPOOL_REPLY_SPACE, "452 4.3.1 Insufficient system storage",
	    "reply for short space");
	T_EQ_STR(SPOOL_REPLY_WRITE, "451 4.3.0 Error: spool write error",
	    "reply for a write error");
}

int
main(void)
{
	if (mkdtemp(dir) == NULL) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	test_memory_then_file();
	test_write_error();
	test_total_budget();
	test_symlink_and_leftovers();
	test_dir_check();
	test_space();
	rmdir(dir);
	return t_done();
}
