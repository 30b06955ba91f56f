/*
 * spool — the bytes of one message: in memory up to a limit; past it,
 * all of them in an unlinked temp file in the spool directory, the
 * memory freed (hostile-inputs RS-01, RS-02, RS-03).
 *
 * The file is created only when the memory part is full, with O_TMPFILE
 * (falling back to mkostemp + unlink), mode 0600, never through a
 * symlink; it has no name while in use, so a crash leaves nothing but
 * the mkostemp window, cleaned by spool_dir_check() at startup.  A write
 * error (ENOSPC, EDQUOT, EFBIG, EIO) makes the spool failed: it keeps the
 * errno, releases the file and ignores further writes; the session reads
 * to the end of data and answers SPOOL_REPLY_WRITE.  Reading streams the
 * content back in chunks and may be rewound (a retry re-reads it).
 */
#ifndef SIGNET_SPOOL_H
#define SIGNET_SPOOL_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct spool;

#define SPOOL_MEM_DEFAULT	(1024 * 1024)	/* memory part, per message */
/*
 * Memory parts of all messages of the process together (RS-03): many
 * clients that start at once without SIZE= would otherwise each fill
 * their memory part before any spills.  Past it, a message goes to its
 * file from the next write.  Charged as about twice the octets held, the
 * most a growing buffer allocates for them.
 */
#define SPOOL_MEM_TOTAL_MAX	(64 * 1024 * 1024)
#define SPOOL_FILE_PREFIX	"signet-spool."	/* mkostemp names */
/* Replies of hostile-inputs RS-01, without CRLF. */
#define SPOOL_REPLY_WRITE	"451 4.3.0 Error: spool write error"
#define SPOOL_REPLY_SPACE	"452 4.3.1 Insufficient system storage"

/*
 * dir: the spool directory (copied); mem_limit: octets kept in memory
 * (0: SPOOL_MEM_DEFAULT).  Nothing is created yet.  NULL if memory is
 * short.
 */
struct spool	*spool_new(const char *dir, size_t mem_limit);
/* Frees the memory and closes the file (which has no name). */
void		 spool_free(struct spool *);
/* Empty it for the next message: memory freed, file closed, not failed. */
void		 spool_reset(struct spool *);

/* Append; 0, or -1 once failed (sticky until spool_reset()). */
int		 spool_write(struct spool *, const uint8_t *, size_t);
/* 1 if a write failed; spool_errno() tells why (ENOMEM for memory). */
int		 spool_failed(const struct spool *);
int		 spool_errno(const struct spool *);
/* Octets written so far. */
uint64_t	 spool_size(const struct spool *);
/* 1 if the message is in the temp file (then all of it is). */
int		 spool_in_file(const struct spool *);
/* Octets of the message held in memory (0 once it is in the file). */
size_t		 spool_mem_bytes(const struct spool *);
/* Octets charged against SPOOL_MEM_TOTAL_MAX by every spool now. */
size_t		 spool_mem_total(void);

/*
 * Reading: rewind first (it also flushes pending writes, which may fail
 * the spool: check the return), then spool_read() until it returns 0.
 * spool_read() gives a pointer valid until the next call: 1 and a chunk,
 * 0 at the end, -1 on a read error (errno kept).
 */
int		 spool_rewind(struct spool *);
int		 spool_read(struct spool *, const uint8_t **, size_t *);

/*
 * Startup check of the spool directory: it exists, is a directory (not a
 * symlink), is owned by the effective uid and has mode 0700.  Leftover
 * SPOOL_FILE_PREFIX files are removed.  Returns how many, or -1 with a
 * one-line message naming the path and the problem in err.
 */
int		 spool_dir_check(const char *path, struct buf *err);

enum spool_space {
	SPOOL_SPACE_OK,
	SPOOL_SPACE_SHORT,	/* answer SPOOL_REPLY_SPACE to MAIL */
	SPOOL_SPACE_ERROR	/* statvfs failed; errno kept */
};

/* Free space in dir at least 1.5 x max_message (Postfix
 * smtpd_check_queue)?  A sufficient answer may be up to a second old;
 * a short one is always fresh. */
enum spool_space spool_space_check(const char *dir, uint64_t max_message);

#endif
