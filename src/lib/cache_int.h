/* What cache.c and cache_gc.c share. */
#ifndef UDFENV_LIB_CACHE_INT_H
#define UDFENV_LIB_CACHE_INT_H

#include "lib/cache.h"

#define UDFENV_CACHE_MARKER "udfenv-entry.json"

struct udfenv_cache {
	udfenv_buf dir;  /* the cache dir, canonical */
	udfenv_buf root; /* dir/v1 */
	int fd;          /* root, open */
};

/*
 * Open locks/`name` and flock it with `op`; on success the fd holding the
 * lock is in *fd_out, and it is still the file at that name (not one GC
 * unlinked meanwhile). 1 (and no fd) when LOCK_NB was given and the lock is
 * held elsewhere. A wait interrupted by a signal with *cancel set is
 * UDFENV_ECANCELED.
 */
int udfenv_cache__lock(udfenv_cache *c, const char *name, int op, const volatile int *cancel, int *fd_out);

/* The completion marker of entries/`key`, parsed and checked; NULL if none. */
json_t *udfenv_cache__marker(udfenv_cache *c, const char *key);

/* Move `rel` (relative to the root) to the trash and delete it; a missing `rel` is fine. */
int udfenv_cache__discard(udfenv_cache *c, const char *rel, const char *label);

/*
 * Add the allocated bytes and the count of everything under the open dir
 * `dirfd` (closed here); `path` names it in an error.
 */
int udfenv_cache__du(int dirfd, const char *path, uint64_t *bytes, uint64_t *files);

/*
 * Call fn(c, name, payload) for each name in the root's subdir `sub` but
 * "." and "..", until one returns non-zero (returned).
 */
int udfenv_cache__each_name(udfenv_cache *c, const char *sub,
			    int (*fn)(udfenv_cache *, const char *, void *), void *payload);

#endif
