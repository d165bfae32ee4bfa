/* What env.c (the private dirs, the variables) and env_entries.c (the cache entries) share. */
#ifndef UDFENV_LIB_ENV_INT_H
#define UDFENV_LIB_ENV_INT_H

#include "udfenv/env.h"
#include "lib/cache.h"
#include "lib/manifest.h"
#include "util/buf.h"

#include <jansson.h>

typedef struct {
	udfenv_buf dir;  /* E/worker-<i> */
	udfenv_buf cwd;  /* its python-archives */
	udfenv_strvec envp;
} env_worker;

struct udfenv_env {
	udfenv_buf dir;              /* E: the private dir, under the temp root */
	udfenv_buf python;           /* the worker interpreter */
	udfenv_strvec envp;          /* every worker's variables but UDFENV_WORKDIR */
	env_worker *workers;
	size_t nworkers;
	udfenv_cache *cache;
	udfenv_cache_lease *leases;  /* one per entry used */
	size_t nleases;
	udfenv_strvec targets;       /* archive targets, in manifest order ... */
	size_t *target_lease;        /* ... and the lease of each */
	int copy_archives;
	int lock_fd;                 /* E itself, flock'ed exclusively while E is in use */
	int *hold_fds;               /* lock_fd and every lease */
	size_t nhold_fds;
	udfenv_env_report report;
	json_t *entries;             /* the report's per-entry list */
};

typedef struct {
	udfenv_env *env;
	const udfenv_manifest *m;
	const char *store;          /* NULL: artifacts are read in place */
	const udfenv_env_opts *opts;
	char *const *base;          /* the environment we build on */
	udfenv_strvec files_path;   /* PYTHONPATH entries of the python files */
	udfenv_strvec site_dirs;    /* requirements' site-packages */
	udfenv_strvec bin_dirs;     /* requirements' bin dirs */
	udfenv_buf site_custom;     /* the dir of udfenv's sitecustomize (with requirements) */
	const char *shims;          /* the dir of the python shims (a cache entry) */
	double fetch_seconds;       /* spent fetching inside the current phase */
	int built;                  /* some entry was built (then GC may be due) */
} builder;

int udfenv_env__check_cancel(const builder *b);

/* Lease the python files' and the archives' entries; fills b->files_path and env->targets. */
int udfenv_env__files(builder *b);
int udfenv_env__archives(builder *b);

/* Lease the requirements' entry (python resolved); fills site_dirs, bin_dirs, site_custom. */
int udfenv_env__requirements(builder *b);

/* Lease the entry of the `python`/`python3` shims of env->python; its dir in *bin_dir. */
int udfenv_env__shims(builder *b, const char **bin_dir);

/* The digest of a local input, remembered by the cache (udfenv_stage_digest_fn; ctx: builder). */
int udfenv_env__digest_local(void *ctx, udfenv_artifact *a);

#endif
