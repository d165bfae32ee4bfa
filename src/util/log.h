/* Logging from inside the library, through the callback the caller set. */
#ifndef UDFENV_UTIL_LOG_H
#define UDFENV_UTIL_LOG_H

#include "udfenv/common.h"

/* Whether a line at `level` would reach the callback (skip costly formatting). */
int udfenv_log_enabled(udfenv_log_level level);
void udfenv_log(udfenv_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Monotonic clock in seconds, for timing setup phases. */
double udfenv_now(void);

/* Wall-clock time in seconds since the Unix epoch, for timestamps that are stored. */
double udfenv_wall_now(void);

#endif
