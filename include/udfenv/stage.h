/*
 * Staging (the seed's DependencyManager.transmit_to_jvm): every artifact of a
 * dependency spec is hashed (SHA-256) into a content-addressed store, and a
 * versioned job manifest records each artifact's digest, size, kind,
 * original name and target, plus the interpreter settings. The manifest and
 * the store are all a worker needs. docs/manifest.md describes the format.
 */
#ifndef UDFENV_STAGE_H
#define UDFENV_STAGE_H

#include "udfenv/common.h"
#include "udfenv/deps.h"

#ifdef __cplusplus
extern "C" {
#endif

#define UDFENV_MANIFEST_VERSION 1

typedef struct udfenv_manifest udfenv_manifest;

/*
 * Stage `deps` into the store directory `store` (created if missing), write
 * the manifest to `manifest_path` when it is not NULL, and return the
 * manifest (free with udfenv_manifest_free). Every input is checked before
 * anything is written; a missing or unreadable one is an error naming it.
 * Blobs appear in the store complete or not at all, and on any failure
 * (writing the manifest included) the blobs this call added are removed.
 */
int udfenv_stage(udfenv_manifest **out, const udfenv_deps *deps, const char *store,
		 const char *manifest_path);

/*
 * What the *client* of a job puts on its PYTHONPATH to import the modules
 * the spec ships, without staging anything: python.pythonpath, then each
 * python file as the workers will see it where that is possible in place
 * (a directory itself, a wheel/egg/.zip itself through zipimport, any other
 * file its directory; a tar cannot be imported unextracted and is left
 * out). `*out` (malloc'd) is a ':'-joined list, "" when empty.
 */
int udfenv_stage_client_pythonpath(char **out, const udfenv_deps *deps);

/* Write the manifest as JSON to `path`, atomically. */
int udfenv_manifest_save(const udfenv_manifest *m, const char *path);

/* Read and validate a manifest; anything unexpected is UDFENV_EINVALID naming the field. */
int udfenv_manifest_load(udfenv_manifest **out, const char *path);

void udfenv_manifest_free(udfenv_manifest *m);

#ifdef __cplusplus
}
#endif
#endif
