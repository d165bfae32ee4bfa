/*
 * Materialization (the seed's PythonDependencyManager and
 * ProcessEnvironmentManager): from a manifest and its store, build a
 * worker's private working directory and the environment a Python worker
 * runs in. docs/environment.md describes the layout and the variables.
 */
#ifndef UDFENV_ENV_H
#define UDFENV_ENV_H

#include "udfenv/common.h"
#include "udfenv/stage.h"

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
} udfenv_env_opts;

#define UDFENV_ENV_OPTS_INIT {NULL, NULL, 0, NULL}

typedef struct udfenv_env udfenv_env;

/*
 * The temp root for `given` (NULL or "": $UDFENV_TMPDIR, $TMPDIR, /tmp):
 * checked (a ':' would split PATH and PYTHONPATH) and created if missing.
 * `*out` is `given`, a getenv() string or a literal: not to be freed.
 */
int udfenv_env_tmp_root(const char *given, const char **out);

/*
 * Build the environment of `m` (artifacts read from `store`, each verified
 * against its digest) in a fresh private directory under opts->tmp_root.
 * On failure nothing is left behind. Free with udfenv_env_free, which
 * removes the private directory.
 */
int udfenv_env_prepare(udfenv_env **out, const udfenv_manifest *m, const char *store,
		       const udfenv_env_opts *opts);

/*
 * The same, straight from a dependency spec: stage it into a temporary store
 * under the temp root, prepare, and remove the store again.
 */
int udfenv_env_prepare_deps(udfenv_env **out, const udfenv_deps *deps, const udfenv_env_opts *opts);

/* The private working dir (removed by udfenv_env_free). */
const char *udfenv_env_workdir(const udfenv_env *env);
/* The worker's current directory: the archives dir. */
const char *udfenv_env_cwd(const udfenv_env *env);
/* The worker interpreter, as an absolute path. */
const char *udfenv_env_python(const udfenv_env *env);
/* The worker's whole environment, NULL-terminated "KEY=value" strings. */
char *const *udfenv_env_envp(const udfenv_env *env);

void udfenv_env_free(udfenv_env *env);

#ifdef __cplusplus
}
#endif
#endif
