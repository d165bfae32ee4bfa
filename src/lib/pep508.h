/*
 * PEP 508 dependency specifiers: requirements ("name[extra] >=1.0 ;
 * marker", "name @ url") and environment markers.
 *
 * Inputs come from wheel metadata and requirement files: longer than
 * UDFENV_PEP_MAX_TEXT bytes, control characters (but tabs) inside, or
 * parentheses nested deeper than UDFENV_MARKER_MAX_DEPTH are refused with
 * UDFENV_EINVALID.
 */
#ifndef UDFENV_LIB_PEP508_H
#define UDFENV_LIB_PEP508_H

#include "lib/pep440.h"
#include "util/buf.h"

#define UDFENV_MARKER_MAX_DEPTH 32

typedef struct udfenv_marker udfenv_marker;

/* PEP 508 marker variables of the target interpreter; NULL fields are "". */
typedef struct {
	const char *os_name, *sys_platform, *platform_machine, *platform_python_implementation,
	    *platform_release, *platform_system, *platform_version, *python_version,
	    *python_full_version, *implementation_name, *implementation_version;
} udfenv_marker_env;

typedef struct {
	char *name;            /* as written */
	char *key;             /* PEP 503 normalized (udfenv_pep503_normalize) */
	udfenv_strvec extras;  /* normalized names, in order, no duplicates */
	udfenv_specset *spec;  /* never NULL after a successful parse (empty set if none) */
	char *url;             /* the URL of "name @ url", else NULL */
	udfenv_marker *marker; /* NULL when there is none */
} udfenv_requirement;

/* clang-format off */
#define UDFENV_REQUIREMENT_INIT {NULL, NULL, UDFENV_STRVEC_INIT, NULL, NULL, NULL}
/* clang-format on */

/*
 * Parse one PEP 508 requirement: a name, optional [extras], then a version
 * specifier set (bare or in parentheses) or "@ url", then optionally
 * "; marker". The URL runs to the next whitespace, so a marker after a
 * URL needs whitespace before its ';' (as in packaging). Surrounding
 * whitespace is ignored. On success `*out` owns everything in it, to
 * release with udfenv_requirement_dispose; on failure it is left as
 * UDFENV_REQUIREMENT_INIT and the UDFENV_EINVALID message quotes the
 * requirement and says what was expected at which column (1-based), e.g.
 * "invalid requirement 'foo !x': expected a version specifier or ';'
 * after 'foo' at column 5".
 */
int udfenv_requirement_parse(udfenv_requirement *out, const char *text);
/* Free what `r` owns and reset it to UDFENV_REQUIREMENT_INIT (NULL-safe). */
void udfenv_requirement_dispose(udfenv_requirement *r);

/*
 * Parse a marker expression on its own (e.g. what follows ';' in
 * Requires-Dist): comparisons "VAR OP 'str'", "'str' OP VAR" (or two
 * strings, or two variables) joined by `and` (binding tighter) and `or`,
 * with parentheses. The variables are the PEP 508 ones plus `extra`; any
 * other name is an error. On success `*out` is for udfenv_marker_free; on
 * failure it is NULL.
 */
int udfenv_marker_parse(udfenv_marker **out, const char *text);
void udfenv_marker_free(udfenv_marker *m);

/*
 * Evaluate `m` for `env` (NULL: every variable "") into `*result` (0 or
 * 1). `extra` is the extra being evaluated for (NULL or "": none, so
 * `extra == "x"` is false); both sides of a comparison with `extra` are
 * PEP 503-normalized first. As packaging.markers: an operator of PEP 440
 * (< <= != == >= > ~=) compares as the specifier "OP right" applied to
 * the left value when that makes a valid specifier and a valid version
 * (python_version >= "3.8"); else == and != compare strings, < <= >= >
 * compare them as Python does (by code point), and ~= is an error
 * (UDFENV_EINVALID "undefined comparison"). === is case-insensitive string
 * equality; `in` and `not in` test for a substring of the right side.
 */
int udfenv_marker_eval(const udfenv_marker *m, const udfenv_marker_env *env, const char *extra,
                       int *result);

#endif
