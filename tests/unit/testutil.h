/*
 * Helpers shared by the unit tests: private temp dirs, paths in them,
 * fixture files, and the assertions on errors and their messages. Each
 * tests/unit/test_*.c is an executable of its own, so everything here is
 * static inline (an unused helper costs nothing and warns about nothing).
 */
#ifndef UDFENV_TESTS_TESTUTIL_H
#define UDFENV_TESTS_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "util/buf.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/path.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

/* ---- temp dirs and paths ---- */

/* Where temp dirs go: $TMPDIR, or /tmp when it is unset or empty. */
static inline const char *tu_tmp_base(void)
{
	const char *base = getenv("TMPDIR");
	return base && *base ? base : "/tmp";
}

/*
 * Create a fresh private dir tu_tmp_base()/`prefix`XXXXXX; its path in
 * `out` (the caller disposes). Returns the error rather than failing, for
 * setup functions.
 */
static inline int tu_mkdtemp(udfenv_buf *out, const char *prefix)
{
	return udfenv_fs_mkdtemp(out, tu_tmp_base(), prefix);
}

/* Remove the temp dir `dir` and dispose of it; the error, for teardown functions. */
static inline int tu_rmdtemp(udfenv_buf *dir)
{
	int error = udfenv_fs_rmtree(udfenv_buf_cstr(dir));
	udfenv_buf_dispose(dir);
	return error;
}

/* Remove the tree `path`, asserting it went and is gone. */
static inline void tu_rmtree_gone(const char *path)
{
	struct stat st;

	assert_int_equal(udfenv_fs_rmtree(path), 0);
	assert_int_equal(lstat(path, &st), -1);
}

/* printf into the PATH_MAX bytes at `out`, asserting it fits. */
static inline void tu_pathf(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void tu_pathf(char *out, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, PATH_MAX, fmt, ap);
	va_end(ap);
	assert_true(n > 0 && n < PATH_MAX);
}

/* `dir`/`name` (`name` alone when absolute); the string lives in `b`. */
static inline const char *tu_join(udfenv_buf *b, const char *dir, const char *name)
{
	assert_int_equal(udfenv_path_join(b, dir, name), 0);
	return udfenv_buf_cstr(b);
}

/* ---- files ---- */

/* Write the file `path` (replacing any there): `len` bytes of `data`, mode exactly `mode`. */
static inline void tu_write_bytes(const char *path, const void *data, size_t len, mode_t mode)
{
	if (udfenv_fs_write_atomic(path, data, len, mode) < 0)
		fail_msg("cannot write %s: %s", path, udfenv_error_last()->message);
}

/* The same for the string `text`. */
static inline void tu_write_file(const char *path, const char *text, mode_t mode)
{
	tu_write_bytes(path, text, strlen(text), mode);
}

/* The content of the file `path` (at most 64 MiB; "" when empty), malloc'd: the caller frees. */
static inline char *tu_read_text(const char *path)
{
	udfenv_buf b = UDFENV_BUF_INIT;
	char *s;

	if (udfenv_fs_read_file(&b, path, 64 << 20) < 0)
		fail_msg("cannot read %s: %s", path, udfenv_error_last()->message);
	s = udfenv_buf_detach(&b);
	assert_non_null(s);
	return s;
}

/* The file `path` holds exactly `expected` (it is at most 1 MiB). */
static inline void tu_assert_file_equal(const char *path, const char *expected)
{
	udfenv_buf b = UDFENV_BUF_INIT;

	assert_int_equal(udfenv_fs_read_file(&b, path, 1 << 20), 0);
	assert_string_equal(udfenv_buf_cstr(&b), expected);
	udfenv_buf_dispose(&b);
}

/* How many entries the directory `dir` holds, "." and ".." aside; 0 when it does not exist. */
static inline size_t tu_count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	if (d == NULL && errno == ENOENT)
		return 0;
	if (d == NULL)
		fail_msg("cannot open the directory %s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL)
		n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(d);
	return n;
}

/* ---- messages and errors ---- */

/* `text` is not NULL and holds `part`; a NULL `part` asks for nothing. */
static inline void tu_assert_contains(const char *text, const char *part)
{
	if (part && (text == NULL || strstr(text, part) == NULL))
		fail_msg("'%s' lacks '%s'", text ? text : "(null)", part);
}

/* The last error's message holds `part`. */
static inline void tu_assert_message_contains(const char *part)
{
	tu_assert_contains(udfenv_error_last()->message, part);
}

/* `rc` is `code`, and so is the last error's, whose message holds `words`. */
static inline void tu_assert_error(int rc, int code, const char *words)
{
	assert_int_equal(rc, code);
	assert_int_equal(udfenv_error_last()->code, code);
	tu_assert_message_contains(words);
}

#endif
