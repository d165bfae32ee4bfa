#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static udfenv_log_fn log_fn;
static udfenv_log_level log_max = UDFENV_LOG_ERROR;
static void *log_payload;

void udfenv_log_set(udfenv_log_fn fn, udfenv_log_level max_level, void *payload)
{
	log_fn = fn;
	log_max = max_level;
	log_payload = payload;
}

int udfenv_log_enabled(udfenv_log_level level)
{
	return log_fn != NULL && level <= log_max;
}

void udfenv_log(udfenv_log_level level, const char *fmt, ...)
{
	char line[4096];
	va_list ap;

	if (!udfenv_log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_fn(level, line, log_payload);
}

double udfenv_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double udfenv_wall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *udfenv_version(void)
{
	return UDFENV_VERSION;
}
