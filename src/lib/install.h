/*
 * Installing a requirements file: natively from a dir of wheels
 * (install_native.c), else with the worker interpreter's pip (install.c).
 */
#ifndef UDFENV_LIB_INSTALL_H
#define UDFENV_LIB_INSTALL_H

#include "util/buf.h"

#include <jansson.h>

typedef struct {
	const char *python;       /* the worker interpreter, absolute */
	const char *requirements; /* the requirements file */
	const char *cache_dir;    /* the offline package dir; NULL: install from the index */
	const char *prefix;       /* install prefix (pip --prefix), must not exist */
	const char *log_path;     /* pip's output goes here */
	const char *cwd;          /* pip runs here (a scratch dir of the build) */
	char *const *envp;        /* pip's environment */
	const char *req_name;     /* the user's names, for messages */
	const char *cache_name;
	double timeout;           /* seconds; 0: none */
	const volatile int *cancel; /* no retry once set; NULL: never */
} udfenv_install_request;

/*
 * Run `python -m pip install --ignore-installed -r REQ --prefix PREFIX`
 * (plus `--no-index --find-links CACHE` when offline). On failure the tail
 * of pip's output is logged at error level and the error says why, with a
 * hint when the cause is known (no pip in the interpreter, an sdist without
 * its build backend in the cache dir).
 */
int udfenv_install__requirements(const udfenv_install_request *r);

/*
 * Make wheels of the source distribution at `sdist` (file name `name`) for
 * the target interpreter: `*dir` (malloc'd) gets a dir holding them.
 */
typedef int (*udfenv_native_sdist_fn)(void *ctx, const char *sdist, const char *name, char **dir);

typedef struct {
	const char *python;       /* the worker interpreter, absolute */
	const char *requirements; /* the requirements file */
	const char *req_name;     /* its name for messages */
	const char *wheel_dir;    /* the offline package dir */
	const char *cache_name;   /* its name for messages */
	const char *prefix;       /* install prefix, as pip's --prefix */
	json_t *details;          /* the interpreter's details from the probe (src/lib/probe.py):
				     markers, tags, scheme */
	udfenv_native_sdist_fn build_sdist; /* NULL: a project with only an sdist is declined */
	void *ctx;
} udfenv_native_request;

/*
 * Install the requirements natively: parse the file (src/lib/reqfile.c),
 * select a wheel for every top-level requirement and every dependency they
 * pull in (tags, pins, markers, extras, Requires-Python), and only then
 * install them all (src/lib/wheel.c). Returns 0 when installed (`*installed`:
 * how many distributions); 1 when the set is declined, the reason in
 * `*declined` (malloc'd; the caller frees it and runs pip): an unpinned
 * top-level requirement, a URL, -e, pip options the native path does not
 * follow, a conflict that needs a backtracking resolver, a project with
 * only a source distribution when there is no r->build_sdist (with one, it
 * makes the wheel, and the highest sdist version the specifiers allow is
 * the one built). Negative for a set pip would fail too, with the
 * message saying which line, wheel or dependency: a malformed requirement,
 * a missing dependency (naming who needs it), a corrupt wheel, a hash
 * mismatch. Nothing is installed before every wheel was selected; on an
 * install error the prefix holds a partial install the caller discards.
 */
int udfenv_install__native(const udfenv_native_request *r, char **declined, size_t *installed);

/*
 * Build a wheel of the source distribution `sdist` into the existing dir
 * `wheel_dir` with `python -m pip wheel --no-deps`, offline from
 * r->cache_dir (which must hold the build backend). r->requirements and
 * r->prefix are not used; r->req_name names the sdist. Errors as
 * udfenv_install__requirements', "building a wheel of 'X' with pip failed".
 */
int udfenv_install__build_wheel(const udfenv_install_request *r, const char *sdist, const char *wheel_dir);

/* The length of the source-distribution extension `name` ends in (".tar.gz", ...), 0: none. */
size_t udfenv_install__sdist_ext(const char *name);

/*
 * The site-packages dirs (platlib before purelib) and bin dirs that an
 * install under `prefix` created, in PYTHONPATH / PATH order.
 */
int udfenv_install__layout(const char *prefix, udfenv_strvec *site_dirs, udfenv_strvec *bin_dirs);

#endif
