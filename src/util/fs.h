/* File system helpers. Every fd opened here is O_CLOEXEC. */
#ifndef UDFENV_UTIL_FS_H
#define UDFENV_UTIL_FS_H

#include "util/buf.h"

#include <stdint.h>
#include <sys/types.h>

/* mkdir -p; existing directories are fine. */
int udfenv_fs_mkdir_p(const char *path, mode_t mode);

/*
 * Remove `path` and everything under it, never following symlinks, making
 * read-only directories writable as needed. A missing path is not an error.
 */
int udfenv_fs_rmtree(const char *path);

/*
 * The same for cleanup on a failure path: the thread's last error (the
 * failure being cleaned up after) is kept; a failure here is only logged.
 */
void udfenv_fs_rmtree_quiet(const char *path);

/* Create a fresh private (0700) directory `parent`/`prefix`XXXXXX; its path in `out` (empty on failure). */
int udfenv_fs_mkdtemp(udfenv_buf *out, const char *parent, const char *prefix);

/*
 * Open a fresh file `dir`/.tmp-XXXXXX for writing (O_EXCL, mode 0600); its
 * path in `out`. The caller renames or unlinks it.
 */
int udfenv_fs_mkstemp(udfenv_buf *out, const char *dir, int *fd_out);

/* Copy the regular file `src` to the new file `dst` (must not exist) with `mode`. */
int udfenv_fs_copy_file(const char *src, const char *dst, mode_t mode);

/*
 * Copy the tree `src` to `dst` (which must not exist): directories, regular
 * files (cloned where the filesystem can, else copied) and symlinks, with
 * their permission bits; nothing else is expected (a cache entry holds no
 * devices or FIFOs) and anything else is an error.
 */
int udfenv_fs_copy_tree(const char *src, const char *dst);

/* Write all of `len` bytes, retrying on EINTR and short writes. */
int udfenv_fs_write_all(int fd, const void *data, size_t len);

/* Read a whole file of at most `max` bytes into `out`, a C string even when the file is empty. */
int udfenv_fs_read_file(udfenv_buf *out, const char *path, size_t max);

/* Create the new file `path` (O_EXCL) holding `data`; for private dirs, no fsync. */
int udfenv_fs_write_new(const char *path, const void *data, size_t len, mode_t mode);

/* Read the last `max` bytes (or all, if fewer) of the file `path` into `out`. */
int udfenv_fs_read_tail(udfenv_buf *out, const char *path, size_t max);

/*
 * Write `path` atomically: a temp file beside it (.tmp-XXXXXX, unlinked on
 * failure), fsync, rename over.
 */
int udfenv_fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode);

/*
 * The same without the fsync: readers see the old or the new content, never
 * a mix, but a crash may lose the new one (or leave it empty). For what can
 * be recomputed.
 */
int udfenv_fs_write_replace(const char *path, const void *data, size_t len, mode_t mode);

#endif
