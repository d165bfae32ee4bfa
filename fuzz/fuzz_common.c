#include "fuzz_common.h"

#include "udfenv/common.h"
#include "util/buf.h"
#include "util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static udfenv_buf scratch = UDFENV_BUF_INIT;
static pid_t scratch_owner;
static char sentinel_dir[PATH_MAX], sentinel_file[PATH_MAX];
static ino_t sentinel_ino;
static int verbose = -1; /* $UDFENV_FUZZ_VERBOSE: print what each checked call returned */

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz check failed at %s:%d: %s: ", file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	abort();
}

static void drop_log(udfenv_log_level level, const char *line, void *payload)
{
	(void)level;
	(void)payload;
	FUZZ_CHECK(line != NULL, "%s", "a NULL log line");
}

static void remove_scratch(void)
{
	/* Only the process that made it (libFuzzer's -fork children exit too). */
	if (scratch.size && getpid() == scratch_owner)
		udfenv_fs_rmtree(scratch.ptr);
	udfenv_buf_dispose(&scratch);
}

const char *fuzz_init(const char *target)
{
	const char *base = getenv("UDFENV_FUZZ_TMPDIR");
	udfenv_buf prefix = UDFENV_BUF_INIT;

	if (scratch.size)
		return scratch.ptr;
	if (base == NULL || base[0] == '\0')
		base = getenv("TMPDIR");
	if (base == NULL || base[0] == '\0')
		base = "/tmp";
	setenv("TZ", "UTC", 1);
	udfenv_log_set(drop_log, UDFENV_LOG_DEBUG, NULL);
	FUZZ_CHECK(udfenv_buf_printf(&prefix, "udfenv-fuzz-%s-", target) == 0, "%s", "out of memory");
	FUZZ_CHECK(udfenv_fs_mkdtemp(&scratch, base, prefix.ptr) == 0, "cannot make a scratch dir in '%s': %s",
		   base, udfenv_error_last()->message);
	udfenv_buf_dispose(&prefix);
	scratch_owner = getpid();
	atexit(remove_scratch);
	return scratch.ptr;
}

/* The path `name` inside the scratch dir, written to `out` (PATH_MAX bytes). */
static const char *scratch_path(char *out, const char *name)
{
	int n;

	FUZZ_CHECK(scratch.size, "no scratch dir for '%s' (fuzz_init first)", name);
	n = snprintf(out, PATH_MAX, "%s/%s", scratch.ptr, name);
	FUZZ_CHECK(n > 0 && n < PATH_MAX, "path of '%s'", name);
	return out;
}

const char *fuzz_path(unsigned slot, const char *name)
{
	static char paths[8][PATH_MAX];

	FUZZ_CHECK(slot < 8, "slot %u", slot);
	return scratch_path(paths[slot], name);
}

void fuzz_write_file(const char *path, const void *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	FUZZ_CHECK(fd >= 0, "cannot write '%s': %s", path, strerror(errno));
	FUZZ_CHECK(udfenv_fs_write_all(fd, data, size) == 0, "cannot write '%s': %s", path,
		   udfenv_error_last()->message);
	close(fd);
}

char *fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	FUZZ_CHECK(s != NULL, "%s", "out of memory");
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

size_t fuzz_split(const uint8_t *data, size_t size, char sep, char **parts, size_t *lens, size_t max)
{
	size_t n = 0, at = 0, have;

	while (n < max) {
		const uint8_t *end = n + 1 < max && at < size ? memchr(data + at, sep, size - at) : NULL;
		size_t len = end ? (size_t)(end - (data + at)) : size - at;

		if (lens)
			lens[n] = len;
		parts[n++] = fuzz_strndup(data + at, len);
		at += len + (end != NULL);
		if (end == NULL)
			break;
	}
	for (have = n; n < max; n++) {
		if (lens)
			lens[n] = 0;
		parts[n] = fuzz_strndup(NULL, 0);
	}
	return have;
}

void fuzz_parts_free(char **parts, size_t max)
{
	for (size_t i = 0; i < max; i++) {
		free(parts[i]);
		parts[i] = NULL;
	}
}

char *fuzz_wheel_label(const uint8_t **data, size_t *size)
{
	static const char fallback[] = "demo-1.0-py3-none-any.whl";
	const uint8_t *d = *data, *nl = memchr(d, '\n', *size < 256 ? *size : 256);
	size_t len = nl ? (size_t)(nl - d) : 0;

	if (len <= 4 || memcmp(nl - 4, ".whl", 4) != 0 || memchr(d, '/', len) || memchr(d, '\0', len))
		return fuzz_strndup((const uint8_t *)fallback, sizeof(fallback) - 1);
	*data = nl + 1;
	*size -= len + 1;
	return fuzz_strndup(d, len);
}

int fuzz_same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

void fuzz_check_error(int error, const char *call)
{
	const udfenv_error *e = udfenv_error_last();

	if (verbose < 0)
		verbose = getenv("UDFENV_FUZZ_VERBOSE") != NULL;
	if (verbose)
		fprintf(stderr, "%s: %d%s%s\n", call, error, error < 0 ? " " : "", error < 0 ? e->message : "");
	if (error >= 0)
		return;
	FUZZ_CHECK(error >= UDFENV_EBUSY, "%s returned %d, not a UDFENV_E* code", call, error);
	FUZZ_CHECK(e->code == error, "%s returned %d but the last error is %d ('%s')", call, error,
		   e->code, e->message);
	FUZZ_CHECK(e->message[0] != '\0', "%s returned %d without a message", call, error);
}

void fuzz_only_these(const char *dir, const char *const *allowed)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL && errno == ENOENT)
		return;
	FUZZ_CHECK(d != NULL, "cannot open '%s': %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		size_t i;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		for (i = 0; allowed[i] && strcmp(allowed[i], de->d_name) != 0; i++)
			;
		FUZZ_CHECK(allowed[i] != NULL, "'%s' appeared in '%s'", de->d_name, dir);
	}
	closedir(d);
}

ino_t fuzz_sentinel_make(void)
{
	struct stat st;

	scratch_path(sentinel_dir, "outside");
	scratch_path(sentinel_file, "outside/sentinel");
	FUZZ_CHECK(mkdir(sentinel_dir, 0755) == 0, "cannot make '%s': %s", sentinel_dir, strerror(errno));
	fuzz_write_file(sentinel_file, "s", 1);
	FUZZ_CHECK(stat(sentinel_file, &st) == 0, "cannot stat '%s': %s", sentinel_file, strerror(errno));
	sentinel_ino = st.st_ino;
	return sentinel_ino;
}

void fuzz_sentinel_check(const char *const *top)
{
	static const char *const just_sentinel[] = {"sentinel", NULL};
	struct stat st;

	fuzz_only_these(scratch.ptr, top);
	fuzz_only_these(sentinel_dir, just_sentinel);
	FUZZ_CHECK(lstat(sentinel_file, &st) == 0 && S_ISREG(st.st_mode) && st.st_ino == sentinel_ino &&
			   st.st_nlink == 1 && st.st_size == 1,
		   "%s", "the sentinel file changed or got a hard link");
}
