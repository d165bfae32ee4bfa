#include "util/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Big enough for any message we build: paths are capped well below this. */
#define ERROR_MAX UDFENV_ERROR_MAX

static _Thread_local char error_message[ERROR_MAX];
static _Thread_local udfenv_error last_error = {0, ""};
static _Thread_local int last_os_errno;

const udfenv_error *udfenv_error_last(void)
{
	return &last_error;
}

void udfenv_error_clear(void)
{
	error_message[0] = '\0';
	last_error.code = 0;
	last_error.message = error_message;
	last_os_errno = 0;
}

static __attribute__((format(printf, 3, 0))) int error_vset(int code, const char *suffix, const char *fmt,
								 va_list ap)
{
	int n = vsnprintf(error_message, sizeof(error_message), fmt, ap);
	if (n < 0)
		n = 0;
	if (suffix && (size_t)n < sizeof(error_message))
		snprintf(error_message + n, sizeof(error_message) - (size_t)n, ": %s", suffix);
	last_error.code = code;
	last_error.message = error_message;
	last_os_errno = 0;
	return code;
}

int udfenv_error_set(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	error_vset(code, NULL, fmt, ap);
	va_end(ap);
	return code;
}

int udfenv_error_set_os(int code, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	error_vset(code, strerror(saved), fmt, ap);
	va_end(ap);
	last_os_errno = saved;
	errno = saved;
	return code;
}

int udfenv_error_prefix(const char *fmt, ...)
{
	char old[ERROR_MAX];
	va_list ap;
	int n;

	memcpy(old, error_message, sizeof(old));
	va_start(ap, fmt);
	n = vsnprintf(error_message, sizeof(error_message), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(error_message))
		snprintf(error_message + n, sizeof(error_message) - (size_t)n, "%s", old);
	last_error.message = error_message;
	return last_error.code;
}

int udfenv_error_os_errno(void)
{
	return last_os_errno;
}

int udfenv_error_set_os_errno(int err)
{
	last_os_errno = err;
	return last_error.code;
}

void udfenv_error_save(udfenv_error_saved *s)
{
	s->code = last_error.code;
	s->os_errno = last_os_errno;
	snprintf(s->message, sizeof(s->message), "%s", last_error.message);
}

int udfenv_error_restore(const udfenv_error_saved *s)
{
	snprintf(error_message, sizeof(error_message), "%s", s->message);
	last_error.code = s->code;
	last_error.message = error_message;
	last_os_errno = s->os_errno;
	return s->code;
}

int udfenv_error_from_errno(int err)
{
	switch (err) {
	case ENOENT:
	case ENOTDIR:
		return UDFENV_ENOTFOUND;
	case ENOMEM:
		return UDFENV_ENOMEM;
	case EEXIST:
		return UDFENV_ECONFLICT;
	case EFBIG:
	case ENAMETOOLONG:
		return UDFENV_ELIMIT;
	default:
		return UDFENV_ERROR;
	}
}
