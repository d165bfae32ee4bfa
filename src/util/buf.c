#include "util/buf.h"
#include "util/error.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int udfenv_buf_grow(udfenv_buf *b, size_t extra)
{
	size_t need, asize;
	char *p;

	if (extra > SIZE_MAX - b->size - 1)
		return udfenv_error_set(UDFENV_ENOMEM, "buffer size overflow");
	need = b->size + extra + 1;
	if (need <= b->asize)
		return 0;
	asize = b->asize ? b->asize : 64;
	while (asize < need)
		asize = asize > SIZE_MAX / 2 ? need : asize * 2;
	if ((p = realloc(b->ptr, asize)) == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	b->ptr = p;
	b->asize = asize;
	return 0;
}

int udfenv_buf_put(udfenv_buf *b, const void *data, size_t len)
{
	int error;
	if ((error = udfenv_buf_grow(b, len)) < 0)
		return error;
	if (len)
		memcpy(b->ptr + b->size, data, len);
	b->size += len;
	b->ptr[b->size] = '\0';
	return 0;
}

int udfenv_buf_puts(udfenv_buf *b, const char *s)
{
	return udfenv_buf_put(b, s, strlen(s));
}

int udfenv_buf_putc(udfenv_buf *b, char c)
{
	return udfenv_buf_put(b, &c, 1);
}

int udfenv_buf_printf(udfenv_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, error;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return udfenv_error_set(UDFENV_ERROR, "bad format string");
	if ((error = udfenv_buf_grow(b, (size_t)n)) < 0)
		return error;
	va_start(ap, fmt);
	vsnprintf(b->ptr + b->size, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->size += (size_t)n;
	return 0;
}

int udfenv_buf_sets(udfenv_buf *b, const char *s)
{
	udfenv_buf_clear(b);
	return udfenv_buf_puts(b, s);
}

void udfenv_buf_truncate(udfenv_buf *b, size_t len)
{
	if (b->ptr && len < b->size) {
		b->size = len;
		b->ptr[len] = '\0';
	}
}

void udfenv_buf_clear(udfenv_buf *b)
{
	udfenv_buf_truncate(b, 0);
}

void udfenv_buf_dispose(udfenv_buf *b)
{
	free(b->ptr);
	b->ptr = NULL;
	b->size = b->asize = 0;
}

const char *udfenv_buf_cstr(const udfenv_buf *b)
{
	return b->ptr ? b->ptr : "";
}

char *udfenv_buf_detach(udfenv_buf *b)
{
	char *p = b->ptr ? b->ptr : strdup("");
	b->ptr = NULL;
	b->size = b->asize = 0;
	return p;
}

int udfenv_array_reserve(void **items, size_t *alloc, size_t count, size_t size)
{
	void *old, *p;
	size_t n;

	if (count < *alloc)
		return 0;
	n = *alloc ? *alloc * 2 : 16;
	/* Through memcpy: `items` really points at a T *, not a void *. */
	memcpy(&old, items, sizeof(old));
	if (n < *alloc || n > SIZE_MAX / size || (p = realloc(old, n * size)) == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	memcpy(items, &p, sizeof(p));
	*alloc = n;
	return 0;
}

/* Room for one more string and the NULL after it. */
static int strvec_reserve(udfenv_strvec *v)
{
	return udfenv_array_reserve((void **)&v->items, &v->alloc, v->count + 1, sizeof(char *));
}

static int strvec_insert_owned(udfenv_strvec *v, size_t at, char *s)
{
	int error;

	if (s == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	if ((error = strvec_reserve(v)) < 0) {
		free(s);
		return error;
	}
	if (at > v->count)
		at = v->count;
	memmove(v->items + at + 1, v->items + at, (v->count - at) * sizeof(char *));
	v->items[at] = s;
	v->items[++v->count] = NULL;
	return 0;
}

int udfenv_strvec_insert(udfenv_strvec *v, size_t at, const char *s)
{
	return strvec_insert_owned(v, at, strdup(s));
}

int udfenv_strvec_push(udfenv_strvec *v, const char *s)
{
	return strvec_insert_owned(v, v->count, strdup(s));
}

int udfenv_strvec_push_owned(udfenv_strvec *v, char *s)
{
	return strvec_insert_owned(v, v->count, s);
}

int udfenv_strvec_pushf(udfenv_strvec *v, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	return strvec_insert_owned(v, v->count, n < 0 ? NULL : s);
}

long udfenv_strvec_find(const udfenv_strvec *v, const char *s)
{
	for (size_t i = 0; i < v->count; i++)
		if (strcmp(v->items[i], s) == 0)
			return (long)i;
	return -1;
}

void udfenv_strvec_dispose(udfenv_strvec *v)
{
	for (size_t i = 0; i < v->count; i++)
		free(v->items[i]);
	free(v->items);
	v->items = NULL;
	v->count = v->alloc = 0;
}
