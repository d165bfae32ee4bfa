/*
 * The dependency spec of a job (the seed's DependencyManager): python files,
 * a requirements file with an optional cache dir, archives with target
 * names, and the interpreter settings. One implementation, filled from the
 * API, CLI flags and config keys alike; the rules are REFERENCE.md section 1.
 *
 * Paths are made absolute (against the current directory) when declared.
 *
 * List syntax (config values and CLI flags): items separated by ',', an
 * item split at its first '#' (archive target, requirements cache dir),
 * spaces around items trimmed, empty items refused. A backslash escapes the
 * next ',' '#' or '\' so paths holding them can be written (`a\,b.py`).
 * What a list item cannot hold is refused wherever it is declared, through
 * this API too: a path (once absolute) or archive target that starts or ends
 * with a space or tab, a path with a control character.
 */
#ifndef UDFENV_DEPS_H
#define UDFENV_DEPS_H

#include "udfenv/common.h"
#include "udfenv/config.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct udfenv_deps udfenv_deps;

int udfenv_deps_new(udfenv_deps **out);
void udfenv_deps_free(udfenv_deps *deps);

/*
 * Add one python file, directory or archive of modules. It goes first on
 * the worker's PYTHONPATH: the most recently added module wins a name clash.
 * The same path added again moves to the front; it is shipped once.
 */
int udfenv_deps_add_python_file(udfenv_deps *deps, const char *path);

/* Add a ','-list of python files as one block in front; the list's own order is kept. */
int udfenv_deps_add_python_files(udfenv_deps *deps, const char *list);

/* Set (replace) the requirements file and its optional offline cache dir (NULL: none). */
int udfenv_deps_set_requirements(udfenv_deps *deps, const char *file, const char *cache_dir);

/* Set the requirements from one list item: "requirements.txt" or "requirements.txt#cache_dir". */
int udfenv_deps_set_requirements_item(udfenv_deps *deps, const char *item);

/*
 * Append an archive, extracted to the directory `target` (NULL: the file
 * name, extension included: venv.zip -> venv.zip/). The same archive with
 * the same target is kept once; with two targets it is extracted to both.
 * Two different archives for one target: UDFENV_ECONFLICT.
 */
int udfenv_deps_add_archive(udfenv_deps *deps, const char *path, const char *target);

/* Append a ','-list of "path" or "path#target" items. */
int udfenv_deps_add_archives(udfenv_deps *deps, const char *list);

/* The worker interpreter: a name looked up in PATH, an absolute path, or a path relative to the archives dir. */
int udfenv_deps_set_executable(udfenv_deps *deps, const char *exec);
int udfenv_deps_set_client_executable(udfenv_deps *deps, const char *exec);
/* A raw PYTHONPATH string put before the python files. */
int udfenv_deps_set_pythonpath(udfenv_deps *deps, const char *pythonpath);

/* Fill from the python.* keys of `cfg` (each key present replaces what is there). */
int udfenv_deps_from_config(udfenv_deps *deps, const udfenv_config *cfg);

/*
 * Merge `front` (e.g. the CLI's) into `base` (e.g. the config's): front's
 * files and archives go before base's; front's requirements, executables
 * and pythonpath, where set, replace base's.
 */
int udfenv_deps_merge(udfenv_deps *base, const udfenv_deps *front);

/*
 * The inverse of udfenv_deps_from_config: set in `cfg` the python.* keys of
 * what `deps` holds (list syntax, with '\\' escapes where needed; every
 * archive written as path#target). Keys of unset parts are left alone.
 */
int udfenv_deps_to_config(const udfenv_deps *deps, udfenv_config *cfg);

/* Read access. Strings are owned by `deps`; NULL when unset. */
size_t udfenv_deps_file_count(const udfenv_deps *deps);
const char *udfenv_deps_file(const udfenv_deps *deps, size_t i);
size_t udfenv_deps_archive_count(const udfenv_deps *deps);
const char *udfenv_deps_archive(const udfenv_deps *deps, size_t i, const char **target);
const char *udfenv_deps_requirements(const udfenv_deps *deps, const char **cache_dir);
const char *udfenv_deps_executable(const udfenv_deps *deps);
const char *udfenv_deps_client_executable(const udfenv_deps *deps);
const char *udfenv_deps_pythonpath(const udfenv_deps *deps);

/*
 * Whether `name` may be a directory name in a worker's working dir (an
 * archive target, a shipped file's name): one path component, not "." or
 * "..", no control characters, no ':' (it would split PYTHONPATH), at most
 * 255 bytes. Sets the error if not.
 */
int udfenv_deps_check_name(const char *what, const char *name);

#ifdef __cplusplus
}
#endif
#endif
