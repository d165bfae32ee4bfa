/*
 * What the fuzz targets share: the libFuzzer entry points, a private
 * scratch dir per process, input split into parts, and checks that abort.
 *
 * Each fuzz_<target>.c defines LLVMFuzzerInitialize (fuzz_init, then the
 * target's set-up) and LLVMFuzzerTestOneInput; it is linked either with
 * libFuzzer (clang, UDFENV_FUZZ=ON) or with replay.c, which runs a corpus
 * once (CTest). Targets never print but when a check fails, and leave
 * nothing behind.
 */
#ifndef UDFENV_FUZZ_COMMON_H
#define UDFENV_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/*
 * Set up once per process (each LLVMFuzzerInitialize calls it first):
 * TZ=UTC, a log callback that formats every line and drops it (so log
 * formatting runs on the fuzzed text), and a private scratch dir named
 * after `target` (under $UDFENV_FUZZ_TMPDIR, else $TMPDIR, else /tmp),
 * removed at exit.
 * Returns the scratch dir's path.
 */
const char *fuzz_init(const char *target);

/* The path `name` inside the scratch dir, in a static buffer per slot (0..7). */
const char *fuzz_path(unsigned slot, const char *name);

/* Replace the file `path` with `size` bytes of `data`; aborts on failure. */
void fuzz_write_file(const char *path, const void *data, size_t size);

/* A NUL-terminated malloc'd copy of `size` bytes (NULs inside stay). */
char *fuzz_strndup(const uint8_t *data, size_t size);

/*
 * Split the input at each `sep` into at most `max` parts, each a
 * NUL-terminated malloc'd copy, its length in `lens` (when not NULL); the
 * last part takes the rest, separators included. Parts not present are "".
 * Returns how many parts the input has: one more than its separators, at
 * most `max`. Free with fuzz_parts_free.
 */
size_t fuzz_split(const uint8_t *data, size_t size, char sep, char **parts, size_t *lens, size_t max);
void fuzz_parts_free(char **parts, size_t max);

/*
 * The file name of the wheel an input holds (fuzz_wheel.c,
 * fuzz_wheel_install.c): its first line when that ends in ".whl" within
 * the first 256 bytes and holds no '/' or NUL, `*data` and `*size` then
 * moved past it; else "demo-1.0-py3-none-any.whl". Returns a malloc'd
 * copy either way (free it).
 */
char *fuzz_wheel_label(const uint8_t **data, size_t *size);

/* Whether `a` and `b` are both NULL or equal strings. */
int fuzz_same_str(const char *a, const char *b);

/* Abort with a message naming the check when `cond` is false. */
#define FUZZ_CHECK(cond, ...)                                                                      \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                          \
	} while (0)

__attribute__((noreturn, format(printf, 4, 5))) void fuzz_fail(const char *file, int line,
							       const char *cond, const char *fmt,
							       ...);

/*
 * The library's error contract (STYLE.md): a failing call returned a
 * negative code and set the last error to that code with a message. With
 * $UDFENV_FUZZ_VERBOSE set, prints each result (to write seeds).
 */
void fuzz_check_error(int error, const char *call);

/* Abort unless every entry of `dir` is named in `allowed` (NULL-terminated); a missing dir has none. */
void fuzz_only_these(const char *dir, const char *const *allowed);

/*
 * A sentinel beside what a target writes: the dir outside/ of the scratch
 * dir, holding the 1-byte file outside/sentinel that nothing may change or
 * link to. fuzz_sentinel_make creates them (once, after fuzz_init) and
 * returns the file's inode number, which no entry a target made may have.
 */
ino_t fuzz_sentinel_make(void);

/*
 * Abort unless the scratch dir holds only the entries named in `top`
 * (NULL-terminated, "outside" among them), and outside/ only its sentinel
 * file, unchanged and without a hard link.
 */
void fuzz_sentinel_check(const char *const *top);

#endif
