/*
 * udfenv — common definitions: error codes, the last error, logging.
 *
 * Every function of the public API returns an int: 0 on success, one of the
 * negative UDFENV_E* codes on failure. The one-line message of the failure is
 * then in udfenv_error_last(), per thread, until the next failing call.
 */
#ifndef UDFENV_COMMON_H
#define UDFENV_COMMON_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
	UDFENV_OK = 0,
	UDFENV_ERROR = -1,     /* generic failure (I/O, a child process, ...) */
	UDFENV_ENOTFOUND = -2, /* a file, key or interpreter does not exist */
	UDFENV_EINVALID = -3,  /* malformed input: a flag, list item, manifest, ... */
	UDFENV_EUNSAFE = -4,   /* input refused by a safety policy (archive entry, name) */
	UDFENV_ELIMIT = -5,    /* a size, count or ratio cap was reached */
	UDFENV_ENOMEM = -6,
	UDFENV_ECONFLICT = -7, /* two declarations clash (same target name, ...) */
	UDFENV_EINSTALL = -8,  /* installing requirements failed */
	UDFENV_ECANCELED = -9, /* the caller's cancel flag was raised */
	UDFENV_EBUSY = -10,    /* another process holds what is needed (a cache GC) */
};

typedef struct udfenv_error {
	int code;
	const char *message; /* one line; owned by the library */
} udfenv_error;

/* The last error raised on this thread; never NULL (code 0 and "" if none). */
const udfenv_error *udfenv_error_last(void);
void udfenv_error_clear(void);

typedef enum {
	UDFENV_LOG_ERROR = 0,
	UDFENV_LOG_WARN = 1,
	UDFENV_LOG_INFO = 2,
	UDFENV_LOG_DEBUG = 3,
} udfenv_log_level;

/*
 * The library never prints: it hands each log line (no trailing newline) to
 * this callback. Lines above `max_level` are not even formatted. A NULL
 * callback (the default) drops everything.
 */
typedef void (*udfenv_log_fn)(udfenv_log_level level, const char *line, void *payload);
void udfenv_log_set(udfenv_log_fn fn, udfenv_log_level max_level, void *payload);

const char *udfenv_version(void);

#ifdef __cplusplus
}
#endif
#endif
