/*
 * The wheel module's own cross-file pieces: wheel.c (names, the dist-info
 * dir, WHEEL), wheel_record.c (digests, RECORD's CSV, entry_points.txt) and
 * wheel_install.c use them; the rest of the library uses wheel.h only.
 */
#ifndef UDFENV_LIB_WHEEL_INT_H
#define UDFENV_LIB_WHEEL_INT_H

#include "lib/wheel.h"
#include "util/buf.h"
#include "util/hash.h"

#include <openssl/sha.h>
#include <stddef.h>
#include <stdint.h>

/* ---- wheel.c ---- */

/* Set "'LABEL' is not a valid wheel: <fmt>" (UDFENV_EINVALID) and return that code. */
int udfenv_wheel__invalid(const char *label, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * The wheel file name of a wheel: the last component of `label` when it
 * parses, else that of `path`; the error of the first when neither does.
 * `out` as for udfenv_wheel__parse_filename.
 */
int udfenv_wheel__name_of(udfenv_wheelname *out, const char *path, const char *label);

/* Whether the `len` bytes at `name` are "<something>.dist-info". */
int udfenv_wheel__is_dist_info(const char *name, size_t len);

/*
 * The refusal of a wheel with the two top-level dist-info dirs `a` and `b`:
 * UDFENV_EINVALID "'LABEL' is not a valid wheel: it has more than one
 * .dist-info directory ('a', 'b')".
 */
int udfenv_wheel__two_dist_infos(const char *label, const char *a, const char *b);

/*
 * Check the top-level `dist_info` dir name against the file name `wn`:
 * "<name>-<version>.dist-info" with the same PEP 503 name and the same
 * version ignoring ASCII case and '-' vs '_' (UDFENV_EINVALID naming both).
 */
int udfenv_wheel__check_dist_info(const udfenv_wheelname *wn, const char *dist_info,
                                  const char *label);

/*
 * Check the WHEEL file `text` (`len` bytes) of `label`: Wheel-Version
 * present, numeric, major 1 (UDFENV_EINVALID otherwise; a minor above 0
 * logs a warning). `*root_is_purelib` set from Root-Is-Purelib when
 * non-NULL.
 */
int udfenv_wheel__check_wheel_file(const char *text, size_t len, const char *label,
                                   int *root_is_purelib);

/*
 * Read the rest of the current entry of `rd` (a file of the wheel `label`)
 * into `out`: UDFENV_ELIMIT "'L': 'NAME' is larger than MAX bytes" past
 * `max`.
 */
struct xreader; /* extract_int.h */
int udfenv_wheel__read_member(struct xreader *rd, const char *label, udfenv_buf *out, size_t max);

/* ---- wheel_record.c: digests ---- */

/* Hash algorithms of RECORD and --hash. */
enum { UDFENV_WHEEL_SHA256, UDFENV_WHEEL_SHA384, UDFENV_WHEEL_SHA512, UDFENV_WHEEL_ALGS };
#define UDFENV_WHEEL_DIGEST_MAX 64

/* "sha256", "sha384", "sha512" and their digest sizes. */
const char *udfenv_wheel__alg_name(int alg);
size_t udfenv_wheel__alg_len(int alg);
/* The algorithm spelled `name` (`len` bytes, ASCII case ignored), or -1. */
int udfenv_wheel__alg_find(const char *name, size_t len);

/* An incremental digest with every algorithm in a mask (bits 1 << UDFENV_WHEEL_*). */
typedef struct {
	unsigned mask;
	udfenv_sha256 *h256;
	SHA512_CTX c384, c512;
} udfenv_wheel_digest;

/* Start `d` (dispose it either way); feed it (`name` names the data in errors); raw digests in out[alg]. */
int udfenv_wheel__digest_init(udfenv_wheel_digest *d, unsigned mask);
int udfenv_wheel__digest_update(udfenv_wheel_digest *d, const void *p, size_t n, const char *name);
int udfenv_wheel__digest_final(udfenv_wheel_digest *d, unsigned char out[][UDFENV_WHEEL_DIGEST_MAX],
                               const char *name);
void udfenv_wheel__digest_dispose(udfenv_wheel_digest *d);

/*
 * Read the fd `fd` to its end and digest it with every algorithm in
 * `mask` (bits 1 << UDFENV_WHEEL_*): raw digests in out[alg], the byte
 * count in `*size` (may be NULL). `name` names the file in errors.
 */
int udfenv_wheel__digest_fd(int fd, const char *name, unsigned mask,
                            unsigned char out[][UDFENV_WHEEL_DIGEST_MAX], uint64_t *size);

/* "sha256=<urlsafe base64>" of what `h` was fed (RECORD's form), in `out` (cleared first). */
int udfenv_wheel__record_sha256(udfenv_buf *out, udfenv_sha256 *h);

/* Append `len` bytes at `d` as urlsafe base64 without padding (RECORD's form). */
int udfenv_wheel__b64url(udfenv_buf *out, const unsigned char *d, size_t len);

/* ---- wheel_record.c: RECORD's CSV ---- */

/*
 * One CSV field of `line` (`len` bytes) from `*at` as Python's csv reader
 * takes it ("..." quoting, "" for a quote); `*at` moves past the field and
 * its comma (to len + 1 after the last). `*out` is malloc'd.
 */
int udfenv_wheel__csv_field(const char *line, size_t len, size_t *at, char **out);
/* Append `s` as Python's csv writer does (QUOTE_MINIMAL): quoted when holding ',', '"', CR or LF.
 */
int udfenv_wheel__csv_put(udfenv_buf *out, const char *s);

/* ---- wheel_record.c: entry_points.txt ---- */

/* A console or gui script: "name = module:attr [extras]". */
typedef struct {
	char *name, *module, *attr;
} udfenv_wheel_ep;

typedef struct {
	udfenv_wheel_ep *items; /* file order; a later name replaced an earlier one's value */
	size_t count, alloc;
} udfenv_wheel_eps;

/*
 * Parse entry_points.txt (`text`, `len` bytes, not modified; NUL bytes in
 * it read as spaces) as importlib.metadata reads it for pip: stripped
 * lines, '#' comments, "[group]" headers, "name = value" in a group (a
 * line without '=' is UDFENV_EINVALID), and check every console_scripts
 * and gui_scripts entry as the header of udfenv_wheel__install says
 * (UDFENV_EINVALID naming the wheel `label` and the entry). Fills `console`
 * and `gui` (zeroed by the caller; dispose them either way).
 */
int udfenv_wheel__entry_points(udfenv_wheel_eps *console, udfenv_wheel_eps *gui, const char *text,
                               size_t len, const char *label);
void udfenv_wheel__eps_dispose(udfenv_wheel_eps *e);

#endif
