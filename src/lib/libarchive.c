#define UDFENV_LIBARCHIVE_LOADER
#include "lib/libarchive.h"
#include "util/error.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* The soname the build was made against (CMake). */
#ifndef UDFENV_LIBARCHIVE_SONAME
#define UDFENV_LIBARCHIVE_SONAME "libarchive.so.13"
#endif

udfenv_libarchive udfenv_la;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const char *failure; /* NULL: loaded */
/* dlerror()'s string belongs to glibc, which may free or reuse it on the next dl* call: a copy. */
static char dl_failure[512];

static void load(void)
{
	void *lib = dlopen(UDFENV_LIBARCHIVE_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (lib == NULL) {
		const char *why = dlerror();
		snprintf(dl_failure, sizeof(dl_failure), "%s", why ? why : "dlopen failed");
		failure = dl_failure;
		return;
	}
#define UDFENV_LIBARCHIVE_SYM(f)                                                       \
	if (failure == NULL && (*(void **)&udfenv_la.f = dlsym(lib, #f)) == NULL) \
		failure = #f " is missing";
	UDFENV_LIBARCHIVE_FUNCS(UDFENV_LIBARCHIVE_SYM)
#undef UDFENV_LIBARCHIVE_SYM
}

int udfenv_libarchive__load(void)
{
	pthread_once(&once, load);
	if (failure)
		return udfenv_error_set(UDFENV_ERROR, "cannot load %s: %s (install libarchive13)",
					UDFENV_LIBARCHIVE_SONAME, failure);
	return 0;
}

int udfenv_libarchive__reason(char out[UDFENV_LIBARCHIVE_REASON_SIZE], struct archive *a)
{
	const char *msg = udfenv_la.archive_error_string(a);
	int err = udfenv_la.archive_errno(a);
	char raw[1024], shown[UDFENV_TEXT_SHOW_SIZE];
	size_t n;

	snprintf(raw, sizeof(raw), "%s", msg ? msg : "unknown error");
	for (n = strlen(raw); n > 0 && raw[n - 1] == '\n'; n--)
		raw[n - 1] = '\0';
	udfenv_text_show(shown, raw);
	/* Its own codes are not the system's: a bad format (EILSEQ), a misuse (EINVAL), -1. */
	if (err <= 0 || err == ARCHIVE_ERRNO_FILE_FORMAT || err == ARCHIVE_ERRNO_PROGRAMMER) {
		snprintf(out, UDFENV_LIBARCHIVE_REASON_SIZE, "%s", shown);
		return 0;
	}
	snprintf(out, UDFENV_LIBARCHIVE_REASON_SIZE, "%s (%s)", shown, strerror(err));
	return err;
}

int udfenv_libarchive__setup_error(struct archive *a)
{
	char why[UDFENV_LIBARCHIVE_REASON_SIZE];

	udfenv_libarchive__reason(why, a);
	return udfenv_error_set(UDFENV_ERROR, "libarchive: %s", why);
}
