/* Installing a requirements file with the worker interpreter's pip. */
#ifndef UDFENV_LIB_INSTALL_H
#define UDFENV_LIB_INSTALL_H

#include "util/buf.h"

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
 * The site-packages dirs (platlib before purelib) and bin dirs that an
 * install under `prefix` created, in PYTHONPATH / PATH order.
 */
int udfenv_install__layout(const char *prefix, udfenv_strvec *site_dirs, udfenv_strvec *bin_dirs);

#endif
