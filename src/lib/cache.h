/*
 * The node cache's internals, for the environment builder. Layout under the
 * cache dir C (docs/cache.md):
 *
 *   C/CACHEDIR.TAG
 *   C/v1/entries/<key>/udfenv-entry.json  the completion marker, written last
 *   C/v1/entries/<key>/data/              the content
 *   C/v1/locks/<key>         lease lock: shared by users, exclusive for GC
 *   C/v1/locks/<key>.build   build lock: exclusive while building
 *   C/v1/tmp/<key>.XXXXXX/   a build in progress (or a dead builder's leftover)
 *   C/v1/trash/              entries being deleted
 *   C/v1/digests/<h>         remembered digests of local inputs, by stat
 *   C/v1/interp/<h>          remembered interpreter identities, by stat
 *   C/v1/work/<name>         -> a live private env dir, locked by its owner
 *   C/v1/gc.lock
 */
#ifndef UDFENV_LIB_CACHE_H
#define UDFENV_LIB_CACHE_H

#include "udfenv/cache.h"
#include "util/buf.h"
#include "util/hash.h"

#include <jansson.h>
#include <stdint.h>

/* How a lease was had. */
typedef enum {
	UDFENV_CACHE_HIT,    /* the entry was there */
	UDFENV_CACHE_WAITED, /* another process was building it; we waited and reused it */
	UDFENV_CACHE_BUILT,  /* we built it */
} udfenv_cache_outcome;

/*
 * Build an entry's content into `data` (which does not exist yet: create
 * it). `scratch` is an empty dir on the same filesystem for anything the
 * build needs only while it runs; it is removed before publication.
 * Kind-specific facts the users of the entry need later may be added to
 * `extra` (a JSON object stored in the marker).
 */
typedef int (*udfenv_cache_build_fn)(void *ctx, const char *data, const char *scratch, json_t *extra);

typedef struct {
	const char *key;  /* 64 hex digits, from udfenv_cache__key */
	const char *kind; /* "archive", "files", "requirements" */
	const char *name; /* what it is built from, for `udfenv cache ls` */
	const char *info; /* more for ls (may be NULL) */
	udfenv_cache_build_fn build;
	void *ctx;
	const volatile int *cancel; /* checked while waiting for another builder */
} udfenv_cache_request;

typedef struct {
	int fd;                  /* the lease: a shared flock, held until released */
	udfenv_buf data;         /* C/v1/entries/<key>/data */
	json_t *extra;           /* the build's extra facts (owned) */
	udfenv_cache_outcome outcome;
	double seconds;          /* taking the lease, building included */
} udfenv_cache_lease;

#define UDFENV_CACHE_LEASE_INIT {-1, UDFENV_BUF_INIT, NULL, UDFENV_CACHE_HIT, 0}

/*
 * Lease the entry `r->key`, building it first if it is missing: exactly one
 * process builds a key at a time; the others wait for it and reuse its
 * entry. A build that fails leaves nothing visible (its error is returned);
 * a builder that dies leaves only a temp dir, reclaimed by the next build
 * of that key or by GC.
 */
int udfenv_cache__acquire(udfenv_cache *c, const udfenv_cache_request *r, udfenv_cache_lease *out);
void udfenv_cache__release(udfenv_cache_lease *l);

/* `s` as valid UTF-8 for JSON (each byte of an invalid sequence as '?'); malloc'd, NULL: no memory. */
char *udfenv_cache__printable(const char *s);

/* Whether the canonical path `real` lies inside a published entry of `c`. */
int udfenv_cache__holds(const udfenv_cache *c, const char *real);

/* The key of `text` (everything that determines an entry, one fact per line). */
void udfenv_cache__key(const char *text, char key[UDFENV_SHA256_HEX]);

/* After building: run GC if the cache is over `max_size` (0: never); never waits, never fails. */
void udfenv_cache__auto_gc(udfenv_cache *c, uint64_t max_size);

/*
 * Remembered values keyed by a local file's identity (`kind` "digests" or
 * "interp"): `sig` is what must still hold for the value to be valid (a
 * stat signature). Lookup: 1 and the value in `out` on a match, 0 if none.
 */
int udfenv_cache__recall(udfenv_cache *c, const char *kind, const char *path, const char *sig,
			 udfenv_buf *out);
/*
 * Take the lock that serializes computing the value of (`kind`, `path`), so
 * that of many processes missing it at once one computes it and the others
 * then recall it. The lock is held by *fd: close it to release.
 */
int udfenv_cache__lock_record(udfenv_cache *c, const char *kind, const char *path,
			      const volatile int *cancel, int *fd);
/* Remember `value` for `path` under `sig`; failures are only logged. */
void udfenv_cache__remember(udfenv_cache *c, const char *kind, const char *path, const char *sig,
			    const char *value);

/*
 * Register the private env dir `dir` (flock'ed by its users for their
 * lifetime) so that GC can remove it once they are all dead.
 */
int udfenv_cache__register_work(udfenv_cache *c, const char *dir);
void udfenv_cache__unregister_work(udfenv_cache *c, const char *dir);

#endif
