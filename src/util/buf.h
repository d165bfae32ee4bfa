/*
 * A growable, always NUL-terminated byte buffer, and a vector of owned
 * strings that is always NULL-terminated (usable as argv/envp).
 */
#ifndef UDFENV_UTIL_BUF_H
#define UDFENV_UTIL_BUF_H

#include <stddef.h>

typedef struct {
	char *ptr;   /* NULL until the first write; see udfenv_buf_cstr */
	size_t size; /* bytes used, not counting the NUL */
	size_t asize;
} udfenv_buf;

#define UDFENV_BUF_INIT {NULL, 0, 0}

int udfenv_buf_grow(udfenv_buf *b, size_t extra);
int udfenv_buf_put(udfenv_buf *b, const void *data, size_t len);
int udfenv_buf_puts(udfenv_buf *b, const char *s);
int udfenv_buf_putc(udfenv_buf *b, char c);
int udfenv_buf_printf(udfenv_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int udfenv_buf_sets(udfenv_buf *b, const char *s);
void udfenv_buf_truncate(udfenv_buf *b, size_t len);
void udfenv_buf_clear(udfenv_buf *b);
void udfenv_buf_dispose(udfenv_buf *b);
/* The contents as a C string; "" for an empty buffer, never NULL. */
const char *udfenv_buf_cstr(const udfenv_buf *b);
/* Hand the contents to the caller (free() it); the buffer is left empty. */
char *udfenv_buf_detach(udfenv_buf *b);

/*
 * Room for one more item in a growable array of `size`-byte items holding
 * `count` of `*alloc`: `*items` (any T *, passed as (void **)&items) is
 * reallocated to twice its size (16 at first) when full. UDFENV_ENOMEM,
 * the array untouched, when that fails or would overflow.
 */
int udfenv_array_reserve(void **items, size_t *alloc, size_t count, size_t size);

typedef struct {
	char **items; /* items[count] is always NULL once anything was pushed */
	size_t count;
	size_t alloc;
} udfenv_strvec;

#define UDFENV_STRVEC_INIT {NULL, 0, 0}

/* Copy `s` in at index `at` (0 = front, count = back). */
int udfenv_strvec_insert(udfenv_strvec *v, size_t at, const char *s);
int udfenv_strvec_push(udfenv_strvec *v, const char *s);
/* Take ownership of a malloc'd string (freed on failure too). */
int udfenv_strvec_push_owned(udfenv_strvec *v, char *s);
int udfenv_strvec_pushf(udfenv_strvec *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Index of the first item equal to `s`, or -1. */
long udfenv_strvec_find(const udfenv_strvec *v, const char *s);
void udfenv_strvec_dispose(udfenv_strvec *v);

#endif
