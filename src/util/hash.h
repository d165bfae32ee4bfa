/* SHA-256 through OpenSSL's libcrypto. Digests travel as 64 lowercase hex digits. */
#ifndef UDFENV_UTIL_HASH_H
#define UDFENV_UTIL_HASH_H

#include <stddef.h>
#include <stdint.h>

#define UDFENV_SHA256_HEX 65 /* 64 digits and the NUL */
#define UDFENV_SHA256_LEN 32 /* the digest's bytes */

typedef struct udfenv_sha256 udfenv_sha256;

int udfenv_sha256_new(udfenv_sha256 **out);
int udfenv_sha256_update(udfenv_sha256 *h, const void *data, size_t len);
/* Write the hex digest of everything fed so far; the context can't be fed again. */
int udfenv_sha256_final(udfenv_sha256 *h, char hex[UDFENV_SHA256_HEX]);
/* The same as the digest's bytes. */
int udfenv_sha256_final_raw(udfenv_sha256 *h, unsigned char md[UDFENV_SHA256_LEN]);
void udfenv_sha256_free(udfenv_sha256 *h);

/*
 * Read the fd `in` to its end and digest it; its size in `*size` when
 * non-NULL. When `out` >= 0, everything read is written to it as well (a
 * copy and its digest in one pass). `in_name` and `out_name` name the two
 * in errors.
 */
int udfenv_sha256_fd(int in, const char *in_name, int out, const char *out_name,
		     char hex[UDFENV_SHA256_HEX], uint64_t *size);

/* Digest of a whole file; its size in `*size` when non-NULL. */
int udfenv_sha256_file(const char *path, char hex[UDFENV_SHA256_HEX], uint64_t *size);

/* Whether `s` is exactly 64 lowercase hex digits. */
int udfenv_sha256_is_hex(const char *s);

#endif
