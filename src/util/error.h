/* Setting the thread's last error (see include/udfenv/common.h). */
#ifndef UDFENV_UTIL_ERROR_H
#define UDFENV_UTIL_ERROR_H

#include "udfenv/common.h"

/* Set the last error from a printf format; returns `code` for chaining. */
int udfenv_error_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* As udfenv_error_set, appending ": " and strerror(errno) (errno is kept). */
int udfenv_error_set_os(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Put context in front of the current message ("FILE:3: " + message),
 * keeping the lower layer's code and words. Returns that code.
 */
int udfenv_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Map an errno value to the closest UDFENV_E* code. */
int udfenv_error_from_errno(int err);

#endif
