/*
 * The node cache (REFERENCE.md section 4, docs/cache.md): extracted
 * archives, python-files trees and installed requirement sets, each built
 * once per node under a key that is a digest of everything that determines
 * it, and shared read-only by every worker that needs it.
 *
 * Safe under concurrency and crashes: a lock per key, builds in a private
 * temp dir, a completion marker written last, publication by an atomic
 * rename. Workers hold shared leases (flock) on the entries they use; GC
 * takes only entries nobody leases.
 */
#ifndef UDFENV_CACHE_H
#define UDFENV_CACHE_H

#include "udfenv/common.h"
#include "udfenv/config.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct udfenv_cache udfenv_cache;

/* The automatic GC's bound when udfenv.cache.max-size is not set: 10 GiB. */
#define UDFENV_CACHE_DEFAULT_MAX_SIZE (10ull << 30)

/*
 * Open (creating it if missing) the cache at `dir`; NULL or "": the default,
 * $UDFENV_CACHE_DIR, else $XDG_CACHE_HOME/udfenv, else $HOME/.cache/udfenv.
 * The directory must belong to this user and not be writable by others
 * (anyone who can write it could plant entries): UDFENV_EUNSAFE otherwise.
 */
int udfenv_cache_open(udfenv_cache **out, const char *dir);

/* The cache's directory, canonical. */
const char *udfenv_cache_dir(const udfenv_cache *c);

void udfenv_cache_close(udfenv_cache *c);

/*
 * The cache settings of `cfg` (may be NULL): udfenv.cache.dir (`*dir`, NULL
 * when unset, owned by cfg), udfenv.cache.max-size (`*max_size`, bytes; 0
 * means no automatic GC; default UDFENV_CACHE_DEFAULT_MAX_SIZE) and
 * udfenv.cache.copy-archives (`*copy_archives`, 0 or 1). A malformed value
 * is UDFENV_EINVALID naming the key. Any out-pointer may be NULL.
 */
int udfenv_cache_config(const udfenv_config *cfg, const char **dir, uint64_t *max_size,
			int *copy_archives);

/* Parse a size: "1048576", "500K", "20M", "1.5G", "2T" (powers of 1024); "0" is 0. */
int udfenv_parse_size(const char *s, uint64_t *out);

typedef struct {
	char key[65];       /* the digest naming the entry */
	char kind[16];      /* "archive", "files", "requirements" */
	char *name;         /* what it was built from: "venv.zip", "requirements.txt" */
	char *info;         /* more about it ("python 3.11.2, pip 23.0.1"), may be "" */
	uint64_t size;      /* bytes on disk (allocated blocks) */
	uint64_t files;     /* files, dirs and links in it */
	double created;     /* Unix time */
	double last_used;   /* Unix time of the last lease taken */
	double build_seconds;
	int leased;         /* some running process holds a lease on it now */
	int complete;       /* 0: no completion marker (only an interrupted publish could leave that) */
} udfenv_cache_entry;

/* Every published entry, least recently used first. Free with udfenv_cache_list_free. */
int udfenv_cache_list(udfenv_cache *c, udfenv_cache_entry **out, size_t *count);
void udfenv_cache_list_free(udfenv_cache_entry *entries, size_t count);

typedef struct {
	unsigned removed;        /* entries removed */
	unsigned kept_leased;    /* entries that would have gone but are leased */
	unsigned reclaimed;      /* leftovers of dead processes removed: build temp dirs,
				    trash, private worker dirs */
	uint64_t freed;          /* bytes of the removed entries */
	uint64_t remaining;      /* bytes of the entries left */
	unsigned entries_left;
} udfenv_cache_gc_report;

/*
 * Remove least recently used entries until the cache holds at most
 * `max_size` bytes, never one that is leased; reclaim the leftovers of
 * processes that died (unfinished builds, private worker dirs). `wait`: 0
 * to give up at once (UDFENV_EBUSY) if another GC is running, else wait
 * for it. `report` may be NULL.
 */
int udfenv_cache_gc(udfenv_cache *c, uint64_t max_size, int wait, udfenv_cache_gc_report *report);

/* Remove every entry that is not leased, and every remembered digest and interpreter. */
int udfenv_cache_clear(udfenv_cache *c, udfenv_cache_gc_report *report);

#ifdef __cplusplus
}
#endif
#endif
