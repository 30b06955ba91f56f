/*
 * spool — message bytes: memory first, then an unlinked temp file.
 *
 * hostile-inputs RS-01 (write errors fail the spool, free space is
 * checked at MAIL), RS-02 (files created without following symlinks,
 * mode 0600, never named while in use, leftovers removed at startup),
 * RS-03 (memory per message bounded by mem_limit, and all messages'
 * memory parts by SPOOL_MEM_TOTAL_MAX).
 *
 * Layout: up to mem_limit octets live in a list of blocks, each twice
 * the size of the one before (SPOOL_BLOCK_MIN up to SPOOL_BLOCK_MAX), so
 * a growing message is never copied to a larger buffer and a small one
 * holds one small block; the write that would pass the limit moves them
 * to the file and frees the blocks, so a
 * large message holds only the fixed I/O buffers in memory however long
 * it takes to arrive and to relay (RS-03).  The file is written through
 * a fixed buffer with pwrite() at our own offset; reading uses pread(),
 * so reading and writing never share a file position.  Once failed, the spool holds nothing: memory is freed
 * and the file closed at once, so a full disk is relieved immediately.
 */
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <dirent.h>
#include <stdatomic.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proxy/msg/buf.h"
#include "proxy/spool.h"

#define SPOOL_IO_BUF	(64 * 1024)	/* file write and read buffers */
/* Memory blocks: 4 KiB for a short message, doubling to 64 KiB. */
#define SPOOL_BLOCK_MIN	(4 * 1024)
#define SPOOL_BLOCK_MAX	(64 * 1024)

struct spool_block {
	struct spool_block	*next;
	size_t			 cap;
	size_t			 len;
	uint8_t			 data[];
};

/* Shared by every worker thread's spools. */
static atomic_size_t	spool_charged_total;

struct spool {
	char		*dir;
	size_t		 mem_limit;
	struct spool_block *head;	/* memory part, NULL until written */
	struct spool_block *tail;
	size_t		 mem_len;	/* octets in the blocks */
	struct spool_block *rblock;	/* next block to read */
	size_t		 charged;	/* against spool_charged_total */
	int		 fd;		/* -1 until memory is full */
	uint8_t		*wbuf;		/* pending file writes */
	size_t		 wlen;
	uint8_t		*rbuf;
	uint64_t	 foff;		/* octets written to the file */
	uint64_t	 size;
	int		 failed;
	int		 err;
	uint64_t	 rfile;		/* read position in the file */
};

struct spool *
spool_new(const char *dir, size_t mem_limit)
{
	struct spool	*sp;

	if ((sp = calloc(1, sizeof(*sp))) == NULL)
		return NULL;
	if ((sp->dir = strdup(dir)) == NULL) {
		free(sp);
		return NULL;
	}
	sp->mem_limit = mem_limit != 0 ? mem_limit : SPOOL_MEM_DEFAULT;
	sp->fd = -1;
	return sp;
}

/* Give back what the memory part is charged for the process budget. */
static void
uncharge(struct spool *sp)
{
	if (sp->charged > 0)
		atomic_fetch_sub(&spool_charged_total, sp->charged);
	sp->charged = 0;
}

/*
 * Charge the memory part for holding len octets; 0, or -1 if the process
 * budget is spent (nothing charged then: the message goes to its file).
 */
static int
charge(struct spool *sp, size_t len)
{
	size_t	want, delta;

	want = len > sp->mem_limit / 2 ? sp->mem_limit : len * 2;
	if (want <= sp->charged)
		return 0;
	delta = want - sp->charged;
	if (atomic_fetch_add(&spool_charged_total, delta) + delta >
	    SPOOL_MEM_TOTAL_MAX) {
		atomic_fetch_sub(&spool_charged_total, delta);
		return -1;
	}
	sp->charged = want;
	return 0;
}

size_t
spool_mem_total(void)
{
	return atomic_load(&spool_charged_total);
}

static void
free_blocks(struct spool *sp)
{
	struct spool_block	*b, *next;

	for (b = sp->head; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	sp->head = sp->tail = sp->rblock = NULL;
	sp->mem_len = 0;
	uncharge(sp);
}

/* Append n octets (n fits under mem_limit) to the memory part. */
static int
mem_append(struct spool *sp, const uint8_t *p, size_t n)
{
	struct spool_block	*b;
	size_t			 k, cap;

	while (n > 0) {
		b = sp->tail;
		if (b == NULL || b->len == b->cap) {
			cap = b == NULL ? SPOOL_BLOCK_MIN :
			    b->cap < SPOOL_BLOCK_MAX ? b->cap * 2 : b->cap;
			if (cap > sp->mem_limit - sp->mem_len)
				cap = sp->mem_limit - sp->mem_len;
			if (cap < n && n <= SPOOL_BLOCK_MAX)
				cap = n;
			if ((b = malloc(sizeof(*b) + cap)) == NULL)
				return -1;
			b->next = NULL;
			b->cap = cap;
			b->len = 0;
			if (sp->tail != NULL)
				sp->tail->next = b;
			else
				sp->head = b;
			sp->tail = b;
		}
		k = b->cap - b->len;
		if (k > n)
			k = n;
		memcpy(b->data + b->len, p, k);
		b->len += k;
		sp->mem_len += k;
		p += k;
		n -= k;
	}
	return 0;
}

/* Drop every byte and the file; keeps dir and mem_limit. */
static void
release(struct spool *sp)
{
	free_blocks(sp);
	if (sp->fd != -1)
		close(sp->fd);
	sp->fd = -1;
	free(sp->wbuf);
	sp->wbuf = NULL;
	free(sp->rbuf);
	sp->rbuf = NULL;
	sp->wlen = 0;
	sp->foff = 0;
	sp->rfile = 0;
}

void
spool_free(struct spool *sp)
{
	if (sp == NULL)
		return;
	release(sp);
	free(sp->dir);
	free(sp);
}

void
spool_reset(struct spool *sp)
{
	release(sp);
	sp->size = 0;
	sp->failed = 0;
	sp->err = 0;
}

static int
fail(struct spool *sp, int err)
{
	release(sp);
	sp->failed = 1;
	sp->err = err;
	return -1;
}

/*
 * An unnamed file in the spool directory.  O_TMPFILE never has a name;
 * where the file system lacks it, mkostemp() creates with O_EXCL (which
 * does not follow a symlink) and mode 0600, and the name goes at once.
 */
static int
open_file(struct spool *sp)
{
	struct buf	*path = NULL;
	char		*tmpl;
	int		 fd, saved;

	fd = open(sp->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd != -1 || (errno != EOPNOTSUPP && errno != EISDIR &&
	    errno != EINVAL))
		return fd;
	if ((path = buf_new(0)) == NULL ||
	    buf_printf(path, "%s/%sXXXXXX", sp->dir, SPOOL_FILE_PREFIX) == -1 ||
	    (tmpl = (char *)buf_cstr(path)) == NULL) {
		buf_free(path);
		errno = ENOMEM;
		return -1;
	}
	if ((fd = mkostemp(tmpl, O_CLOEXEC)) != -1 && unlink(tmpl) == -1) {
		saved = errno;
		close(fd);
		fd = -1;
		errno = saved;
	}
	saved = errno;
	buf_free(path);
	errno = saved;
	return fd;
}

static int
flush_file(struct spool *sp)
{
	size_t	done = 0;
	ssize_t	n;

	while (done < sp->wlen) {
		n = pwrite(sp->fd, sp->wbuf + done, sp->wlen - done,
		    (off_t)(sp->foff + done));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return fail(sp, errno);
		if (n == 0)
			return fail(sp, EIO);
		done += (size_t)n;
	}
	sp->foff += sp->wlen;
	sp->wlen = 0;
	return 0;
}

/* Memory is full: create the file, move the memory part into it. */
static int
spill(struct spool *sp)
{
	const struct spool_block *b;
	const uint8_t	*p;
	size_t		 n, k, done = 0;
	ssize_t		 w;

	if ((sp->wbuf = malloc(SPOOL_IO_BUF)) == NULL)
		return fail(sp, ENOMEM);
	if ((sp->fd = open_file(sp)) == -1)
		return fail(sp, errno);
	for (b = sp->head; b != NULL; b = b->next) {
		p = b->data;
		n = b->len;
		for (k = 0; k < n; k += (size_t)w) {
			w = pwrite(sp->fd, p + k, n - k, (off_t)(done + k));
			if (w == -1 && errno == EINTR) {
				w = 0;
				continue;
			}
			if (w == -1)
				return fail(sp, errno);
			if (w == 0)
				return fail(sp, EIO);
		}
		done += n;
	}
	sp->foff = done;
	free_blocks(sp);
	return 0;
}

static int
write_file(struct spool *sp, const uint8_t *p, size_t n)
{
	size_t	k;

	while (n > 0) {
		k = SPOOL_IO_BUF - sp->wlen;
		if (k > n)
			k = n;
		memcpy(sp->wbuf + sp->wlen, p, k);
		sp->wlen += k;
		p += k;
		n -= k;
		if (sp->wlen == SPOOL_IO_BUF && flush_file(sp) == -1)
			return -1;
	}
	return 0;
}

int
spool_write(struct spool *sp, const uint8_t *p, size_t n)
{
	size_t	room, k;

	if (sp->failed)
		return -1;
	if (n == 0)
		return 0;
	if (sp->fd == -1) {
		room = sp->mem_limit - sp->mem_len;
		k = n < room ? n : room;
		if (k > 0 && charge(sp, sp->mem_len + k) == -1)
			k = 0;
		if (k > 0 && mem_append(sp, p, k) == -1)
			return fail(sp, ENOMEM);
		sp->size += k;
		if (k == n)
			return 0;
		p += k;
		n -= k;
		if (spill(sp) == -1)
			return -1;
	}
	if (write_file(sp, p, n) == -1)
		return -1;
	sp->size += n;
	return 0;
}

int
spool_failed(const struct spool *sp)
{
	return sp->failed;
}

int
spool_errno(const struct spool *sp)
{
	return sp->err;
}

uint64_t
spool_size(const struct spool *sp)
{
	return sp->size;
}

int
spool_in_file(const struct spool *sp)
{
	return sp->fd != -1;
}

size_t
spool_mem_bytes(const struct spool *sp)
{
	return sp->mem_len;
}

int
spool_rewind(struct spool *sp)
{
	if (sp->failed)
		return -1;
	if (sp->fd != -1 && sp->wlen > 0 && flush_file(sp) == -1)
		return -1;
	sp->rblock = sp->head;
	sp->rfile = 0;
	return 0;
}

int
spool_read(struct spool *sp, const uint8_t **p, size_t *len)
{
	uint64_t	left;
	size_t		want;
	ssize_t		n;

	*p = NULL;
	*len = 0;
	if (sp->failed)
		return -1;
	while (sp->rblock != NULL) {
		*p = sp->rblock->data;
		*len = sp->rblock->len;
		sp->rblock = sp->rblock->next;
		if (*len > 0)
			return 1;
	}
	if (sp->fd == -1 || sp->rfile >= sp->foff)
		return 0;
	if (sp->rbuf == NULL && (sp->rbuf = malloc(SPOOL_IO_BUF)) == NULL)
		return fail(sp, ENOMEM);
	left = sp->foff - sp->rfile;
	want = left < SPOOL_IO_BUF ? (size_t)left : SPOOL_IO_BUF;
	do
		n = pread(sp->fd, sp->rbuf, want, (off_t)sp->rfile);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return fail(sp, errno);
	if (n == 0)
		return fail(sp, EIO);
	sp->rfile += (uint64_t)n;
	*p = sp->rbuf;
	*len = (size_t)n;
	return 1;
}

/* Remove leftover spool files in the open directory d; count or -1. */
static int
remove_leftovers(DIR *d, const char *path, struct buf *err)
{
	struct dirent	*de;
	struct stat	 st;
	size_t		 plen = strlen(SPOOL_FILE_PREFIX);
	int		 count = 0;

	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (strncmp(de->d_name, SPOOL_FILE_PREFIX, plen) != 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1) {
			buf_printf(err, "spool directory %s: %s: %s", path,
			    de->d_name, strerror(errno));
			return -1;
		}
		if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) {
			buf_printf(err, "spool directory %s: %s is not a "
			    "regular file", path, de->d_name);
			return -1;
		}
		/* unlinkat() removes a symlink itself, never its target. */
		if (unlinkat(dirfd(d), de->d_name, 0) == -1) {
			buf_printf(err, "spool directory %s: cannot remove "
			    "%s: %s", path, de->d_name, strerror(errno));
			return -1;
		}
		count++;
	}
	if (errno != 0) {
		buf_printf(err, "spool directory %s: %s", path,
		    strerror(errno));
		return -1;
	}
	return count;
}

int
spool_dir_check(const char *path, struct buf *err)
{
	struct stat	 st;
	DIR		*d = NULL;
	int		 fd, rc = -1;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		/* With O_DIRECTORY, a symlink gives ENOTDIR rather than ELOOP. */
		if (errno == ELOOP || (errno == ENOTDIR &&
		    lstat(path, &st) == 0 && S_ISLNK(st.st_mode)))
			buf_printf(err, "spool directory %s: is a symbolic "
			    "link", path);
		else
			buf_printf(err, "spool directory %s: %s", path,
			    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		buf_printf(err, "spool directory %s: %s", path,
		    strerror(errno));
		goto done;
	}
	if (st.st_uid != geteuid()) {
		buf_printf(err, "spool directory %s: owned by uid %u, must be "
		    "owned by uid %u", path, (unsigned int)st.st_uid,
		    (unsigned int)geteuid());
		goto done;
	}
	if ((st.st_mode & 07777) != 0700) {
		buf_printf(err, "spool directory %s: mode %04o, must be 0700",
		    path, (unsigned int)(st.st_mode & 07777));
		goto done;
	}
	if ((d = fdopendir(fd)) == NULL) {
		buf_printf(err, "spool directory %s: %s", path,
		    strerror(errno));
		goto done;
	}
	fd = -1;
	rc = remove_leftovers(d, path, err);
done:
	if (d != NULL)
		closedir(d);
	if (fd != -1)
		close(fd);
	return rc;
}

/*
 * statvfs() once a second per worker thread and directory, not once per
 * MAIL: at a thousand messages a second the answer cannot change enough
 * in a second to matter, and the call was one in twenty of a message's
 * system calls.  Only a sufficient answer is reused: a short one is
 * checked again at once, so freed space is seen by the next MAIL.
 */
#define SPOOL_SPACE_TTL_S	1

struct spool_space_memo {
	char		dir[PATH_MAX];
	time_t		at;		/* CLOCK_MONOTONIC_COARSE seconds */
	uint64_t	avail;
	int		valid;
};

static __thread struct spool_space_memo	spool_memo;

enum spool_space
spool_space_check(const char *dir, uint64_t max_message)
{
	struct spool_space_memo	*m = &spool_memo;
	struct statvfs		 vfs;
	struct timespec		 ts;
	uint64_t		 avail, need;

	need = max_message + max_message / 2;
	if (need < max_message)
		need = UINT64_MAX;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	if (m->valid && ts.tv_sec - m->at < SPOOL_SPACE_TTL_S &&
	    m->avail >= need && strcmp(m->dir, dir) == 0)
		avail = m->avail;
	else {
		if (statvfs(dir, &vfs) == -1) {
			m->valid = 0;
			return SPOOL_SPACE_ERROR;
		}
		if (vfs.f_frsize != 0 &&
		    vfs.f_bavail > UINT64_MAX / vfs.f_frsize)
			avail = UINT64_MAX;
		else
			avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
		m->valid = snprintf(m->dir, sizeof(m->dir), "%s", dir) <
		    (int)sizeof(m->dir);
		m->at = ts.tv_sec;
		m->avail = avail;
	}
	return avail >= need ? SPOOL_SPACE_OK : SPOOL_SPACE_SHORT;
}
