/* Path strings: joining, making absolute, last components, PATH lookup. */
#ifndef UDFENV_UTIL_PATH_H
#define UDFENV_UTIL_PATH_H

#include "util/buf.h"

/* out = a "/" b, or b alone when b is absolute. `out` may not alias a or b. */
int udfenv_path_join(udfenv_buf *out, const char *a, const char *b);

/*
 * out = `p` made absolute against the current directory and lexically
 * normalized (no "//", ".", ".." components, no trailing "/"). Symlinks are
 * not resolved: use realpath(3) where identity matters.
 */
int udfenv_path_absolute(udfenv_buf *out, const char *p);

/*
 * Walk the components of a path, skipping empty ones and ".": returns the
 * next component (not NUL-terminated, `*len` bytes) and moves `*cursor`
 * past it; NULL at the end. ".." is returned like any other component.
 */
const char *udfenv_path_next(const char **cursor, size_t *len);

/* Whether a component from udfenv_path_next is "..". */
#define UDFENV_PATH_IS_DOTDOT(c, len) ((len) == 2 && (c)[0] == '.' && (c)[1] == '.')

/*
 * The directory part of `p` as Python's os.path.dirname gives it: all
 * before the last '/', trailing slashes dropped unless that leaves nothing
 * ("a/b" -> "a", "/a" -> "/", "a" -> ""). `out` is cleared first and may
 * not alias `p`.
 */
int udfenv_path_dirname(udfenv_buf *out, const char *p);

/* The last component of `p` ("a/b/" -> "b"), as a new string in `out`. */
int udfenv_path_basename(udfenv_buf *out, const char *p);

/* Whether `p` ends with `suffix`, ignoring ASCII case. */
int udfenv_path_has_suffix(const char *p, const char *suffix);

/*
 * Look `name` up like execvp(3) does: a name with a '/' is taken as is,
 * otherwise each entry of `path_env` is tried. UDFENV_ENOTFOUND when no
 * executable regular file is found.
 */
int udfenv_path_which(udfenv_buf *out, const char *name, const char *path_env);

#endif
