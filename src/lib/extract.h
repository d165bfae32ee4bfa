/*
 * Archive extraction under udfenv's safety policy (REFERENCE.md section 3),
 * and deterministic packing of a directory into a tar.
 *
 * Extraction runs libarchive in a forked helper process that chdir()s into a
 * fresh private temp directory beside the destination, so the process umask,
 * the cwd and any crash on hostile bytes stay out of the caller; the result
 * is published with rename() only when every entry passed.
 */
#ifndef UDFENV_LIB_EXTRACT_H
#define UDFENV_LIB_EXTRACT_H

#include <stddef.h>
#include <stdint.h>

/*
 * Bumped whenever a change to the policy or the extraction could change
 * what an archive extracts to: it is part of every node-cache key of an
 * extracted artifact, so entries built under an older policy are not reused.
 */
#define UDFENV_EXTRACT_POLICY_VERSION 1

typedef struct {
	uint64_t max_entries;        /* entries in one archive */
	uint64_t max_bytes;          /* bytes actually written, all entries */
	uint64_t max_ratio;          /* bytes written / archive file size ... */
	uint64_t ratio_floor;        /* ... checked once this much was written */
	size_t max_path;             /* bytes in one entry name */
	size_t max_depth;            /* components in one entry name */
	int allow_absolute_symlinks; /* refuse symlinks to absolute targets unless set */
} udfenv_extract_limits;

typedef struct {
	uint64_t entries;
	uint64_t bytes;
} udfenv_extract_stats;

/* The default limits (documented in docs/archive-safety.md). */
void udfenv_extract__defaults(udfenv_extract_limits *lim);

/*
 * Extract the archive file `archive` (zip or tar, optionally gzip/bzip2/xz/
 * zstd compressed, detected from the bytes) to the directory `dest`, which
 * must not exist yet; its parent must. `label` names the archive in errors
 * (the user's file name, not the store path; NULL: `archive`). `lim` NULL
 * means the defaults; `stats` may be NULL (zeroed on failure).
 *
 * The helper extracts into "<dest>.tmp-XXXXXX" beside `dest`; symlinks are
 * created last, once each was resolved against all the others; `dest` (mode
 * 0755) appears by rename only when every entry passed.
 *
 * Errors: UDFENV_EUNSAFE for an entry the policy refuses (the message names
 * the archive and the entry), UDFENV_ELIMIT for a cap, UDFENV_EINVALID for a
 * corrupt or unsupported archive, UDFENV_ENOTFOUND for a missing archive,
 * UDFENV_ECONFLICT when `dest` exists, UDFENV_ERROR for I/O failures and a
 * helper killed by a signal ("extraction of 'X' crashed: signal N"). On any
 * error nothing exists at `dest` and no temp dir is left behind.
 *
 * Forks: the caller must not hold locks the helper could need (it uses
 * malloc, which glibc keeps usable after fork). Unless in-process mode is on
 * (udfenv_extract__set_inprocess).
 */
int udfenv_extract__archive(const char *archive, const char *dest, const char *label,
			    const udfenv_extract_limits *lim, udfenv_extract_stats *stats);

/*
 * With `on`, udfenv_extract__archive does the helper's work in the calling
 * process instead of a forked helper: for the fuzz targets, whose coverage
 * and sanitizers would not see a child. It changes the process's cwd and
 * umask while it runs (restored after): single-threaded callers only.
 */
void udfenv_extract__set_inprocess(int on);

/*
 * Write a deterministic pax tar of the directory `dir` to the open fd `fd`:
 * each directory's entries in bytewise name order, a directory's contents
 * right after it; mtime 0, uid/gid 0, no user/group names, modes kept
 * (permission bits only), symlinks kept as links, names as raw bytes
 * (hdrcharset=BINARY, whatever the locale); hard links become separate
 * files. Same tree -> same bytes. Refused (UDFENV_EUNSAFE, naming the path):
 * a symlink whose target leaves `dir` (absolute, or climbing out lexically;
 * extraction resolves links fully), a device, FIFO or socket. On failure
 * `fd` holds a partial archive the caller discards.
 */
int udfenv_pack__dir(const char *dir, int fd);

#endif
