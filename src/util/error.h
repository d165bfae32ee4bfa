/* Setting the thread's last error (see include/udfenv/common.h). */
#ifndef UDFENV_UTIL_ERROR_H
#define UDFENV_UTIL_ERROR_H

#include "udfenv/common.h"

/* Set the last error from a printf format; returns `code` for chaining. */
int udfenv_error_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * As udfenv_error_set, appending ": " and strerror(errno); errno is kept,
 * and recorded as the error's udfenv_error_os_errno.
 */
int udfenv_error_set_os(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Put context in front of the current message ("FILE:3: " + message),
 * keeping the lower layer's code and words. Returns that code.
 */
int udfenv_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The errno behind the last error: set by udfenv_error_set_os and
 * udfenv_error_set_os_errno, kept by udfenv_error_prefix, 0 after
 * udfenv_error_set or udfenv_error_clear. Test this, not the message text,
 * to know what went wrong (a full disk: ENOSPC).
 */
int udfenv_error_os_errno(void);

/*
 * Record `err` as the errno behind the last error, for a message that named
 * it some other way (libarchive's errno) or that came from another process.
 * Returns the last error's code.
 */
int udfenv_error_set_os_errno(int err);

/* The longest message kept (longer ones are cut). */
#define UDFENV_ERROR_MAX 8192

/* A last error kept aside while cleanup that may raise errors of its own runs. */
typedef struct {
	int code;
	int os_errno;
	char message[UDFENV_ERROR_MAX];
} udfenv_error_saved;

/* Copy the last error (code, message, errno) into `s`. */
void udfenv_error_save(udfenv_error_saved *s);
/* Make `s` the last error again; returns its code. */
int udfenv_error_restore(const udfenv_error_saved *s);

/* Map an errno value to the closest UDFENV_E* code. */
int udfenv_error_from_errno(int err);

#endif
