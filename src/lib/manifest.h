/* The job manifest's in-memory form, shared by staging and materialization. */
#ifndef UDFENV_LIB_MANIFEST_H
#define UDFENV_LIB_MANIFEST_H

#include "udfenv/stage.h"
#include "util/buf.h"
#include "util/hash.h"

#include <stdint.h>

typedef enum {
	UDFENV_KIND_FILE,      /* a single file, placed under its name; its dir goes on PYTHONPATH */
	UDFENV_KIND_DIR,       /* a directory, packed as a deterministic tar */
	UDFENV_KIND_ARCHIVE,   /* a zip or tar, extracted */
	UDFENV_KIND_ZIPIMPORT, /* a .whl or .egg, put on PYTHONPATH as it is */
} udfenv_kind;

typedef struct {
	char digest[UDFENV_SHA256_HEX];
	uint64_t size;
	udfenv_kind kind;
	char *name;   /* the original file or directory name */
	char *target; /* archives: the directory to extract to; NULL otherwise */
	/*
	 * Artifacts read in place instead of from a store (udfenv_stage__local):
	 * the absolute path of the input, and for a directory, when it was
	 * packed to be hashed, that packed tar (a memfd) or -1. Both unset
	 * (NULL) for store artifacts.
	 */
	char *source;
	int packed_fd;
} udfenv_artifact;

struct udfenv_manifest {
	udfenv_artifact *files; /* PYTHONPATH order */
	size_t nfiles;
	udfenv_artifact *archives;
	size_t narchives;
	udfenv_artifact *requirements; /* NULL: none */
	udfenv_artifact *cache_dir;    /* NULL: none (online install) */
	char *executable;              /* NULL: the default, python3 */
	char *client_executable;
	char *pythonpath;
};

/* Limits a manifest must keep; staging keeps them too, so it never writes one load refuses. */
#define UDFENV_MANIFEST_MAX_ARTIFACTS 100000
#define UDFENV_MANIFEST_MAX_STRING 65536

/* A blob's path in a store: `store`/<digest>. */
int udfenv_manifest__blob_path(udfenv_buf *out, const char *store, const udfenv_artifact *a);

/*
 * Open the blob of `a` in `store` (NULL: `a` is read from its source, a
 * directory packed first) and check it has the recorded size and
 * digest (a mismatch is UDFENV_EUNSAFE naming the artifact and both
 * digests), writing it to `copy_fd` on the way when that is >= 0. On
 * success `*fd` is the blob, open and rewound, for the caller to use and
 * close: what was checked is what gets used, whatever happens to the store
 * meanwhile.
 */
int udfenv_manifest__open_blob(const char *store, const udfenv_artifact *a, int copy_fd,
			       const char *copy_name, int *fd);

void udfenv_manifest__artifact_dispose(udfenv_artifact *a);

/* Pack the directory `dir` into a new memfd, rewound (the errors name the path at fault). */
int udfenv_manifest__pack(const char *dir, int *fd);

/*
 * Staging without a store, for an environment prepared on this machine:
 * the manifest of `deps` with each artifact's source set and its digest
 * from `digest` (which fills a->digest and a->size, and may leave a
 * packed directory in a->packed_fd). Inputs are checked as udfenv_stage
 * checks them.
 */
typedef int (*udfenv_stage_digest_fn)(void *ctx, udfenv_artifact *a);
int udfenv_stage__local(udfenv_manifest **out, const udfenv_deps *deps, udfenv_stage_digest_fn digest,
			void *ctx);
const char *udfenv_manifest__kind_name(udfenv_kind kind);

#endif
