/*
 * Materialization (the seed's PythonDependencyManager and
 * ProcessEnvironmentManager): from a manifest and its store, lease (building
 * them once per node if missing) the node-cache entries the environment
 * needs, and give each worker a private working directory that points into
 * them. docs/environment.md describes the layout and the variables,
 * docs/cache.md the cache.
 */
#ifndef UDFENV_ENV_H
#define UDFENV_ENV_H

#include "udfenv/common.h"
#include "udfenv/config.h"
#include "udfenv/stage.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
	const char *tmp_root;    /* parent of the private dir; NULL: $UDFENV_TMPDIR, $TMPDIR, /tmp */
	char *const *base_env;   /* the environment to build on; NULL: this process's */
	double install_timeout;  /* seconds for installing requirements; 0: no limit */
	/*
	 * Checked between setup steps (and a child stopped by a signal is not
	 * retried): when it becomes non-zero, setup stops with UDFENV_ECANCELED
	 * and cleans up. NULL: never. Typically set from a signal handler.
	 */
	const volatile int *cancel;
	const char *cache_dir;   /* the node cache; NULL: the default (udfenv_cache_open) */
	uint64_t cache_max_size; /* automatic GC bound after a build; 0: none */
	int copy_archives;       /* each worker gets a private, writable copy of the archives */
} udfenv_env_opts;

#define UDFENV_ENV_OPTS_INIT {NULL, NULL, 0, NULL, NULL, 0, 0}

/*
 * Fill the cache settings of `opts` from `cfg` (udfenv.cache.dir,
 * udfenv.cache.max-size, udfenv.cache.copy-archives); `cfg` may be NULL.
 * The strings stay owned by `cfg`.
 */
int udfenv_env_opts_from_config(udfenv_env_opts *opts, const udfenv_config *cfg);

/* Time and cache outcomes of one phase of a preparation. */
typedef struct {
	double seconds;
	unsigned hits;   /* found ready: a cache entry, or (fetch) a remembered digest */
	unsigned waited; /* another process was building it: waited, then reused */
	unsigned built;  /* made here: built into the cache, or (fetch) hashed / verified */
} udfenv_env_phase;

typedef struct {
	udfenv_env_phase fetch;   /* getting each artifact's verified digest and bytes */
	udfenv_env_phase extract; /* archives and python files */
	udfenv_env_phase install; /* requirements */
	udfenv_env_phase spawn;   /* starting worker processes (udfenv_env_note_spawn) */
	double seconds;           /* the whole preparation */
} udfenv_env_report;

typedef struct udfenv_env udfenv_env;

/*
 * The temp root for `given` (NULL or "": $UDFENV_TMPDIR, $TMPDIR, /tmp):
 * checked (a ':' would split PATH and PYTHONPATH) and created if missing.
 * `*out` is `given`, a getenv() string or a literal: not to be freed.
 */
int udfenv_env_tmp_root(const char *given, const char **out);

/*
 * Prepare the environment of `m` (artifacts read from `store`, each verified
 * against its digest): lease its cache entries, building the missing ones,
 * and make a fresh private directory under opts->tmp_root with worker 0's
 * working dir. On failure nothing is left behind. Free with
 * udfenv_env_free, which removes the private directory and drops the leases.
 */
int udfenv_env_prepare(udfenv_env **out, const udfenv_manifest *m, const char *store,
		       const udfenv_env_opts *opts);

/*
 * The same, straight from a dependency spec on this machine: no store, each
 * input read where it is (its digest remembered by the cache while the
 * file is unchanged) and only when an entry must be built.
 */
int udfenv_env_prepare_deps(udfenv_env **out, const udfenv_deps *deps, const udfenv_env_opts *opts);

/* Worker 0's private working dir (removed by udfenv_env_free). */
const char *udfenv_env_workdir(const udfenv_env *env);
/* Worker 0's current directory: its archives dir. */
const char *udfenv_env_cwd(const udfenv_env *env);
/* The worker interpreter, as an absolute path. */
const char *udfenv_env_python(const udfenv_env *env);
/* Worker 0's whole environment, NULL-terminated "KEY=value" strings. */
char *const *udfenv_env_envp(const udfenv_env *env);

/*
 * Worker `index`'s private dir, cwd and environment, made on first use
 * (index 0 exists from the start). Each worker has its own writable dir;
 * the cache entries are shared.
 */
int udfenv_env_worker(udfenv_env *env, unsigned index, const char **cwd, char *const **envp);

/*
 * The fds a process running in the environment must inherit (the leases on
 * its cache entries and the lock of its private dir): then they stay held
 * while it lives, even if this process dies first.
 */
const int *udfenv_env_hold_fds(const udfenv_env *env, size_t *count);

/* Count a worker start that took `seconds` in the report's spawn phase. */
void udfenv_env_note_spawn(udfenv_env *env, double seconds);

/*
 * The report as JSON (malloc'd, docs/cache.md): every phase, and each cache
 * entry with its kind, name, key and outcome (hit, waited, built).
 */
int udfenv_env_report_json(const udfenv_env *env, char **out);

void udfenv_env_free(udfenv_env *env);

#ifdef __cplusplus
}
#endif
#endif
