/*
 * Sink writers: CSV and JSON Lines, to an fd through a large buffer or
 * appended to a caller's udfenv_buf. Each value is written in place into the
 * output buffer after one room check; nothing is allocated per value.
 */
#include "lib/rows_int.h"
#include "util/error.h"
#include "util/fs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct rows_writer {
	rows_format fmt;
	int fd; /* -1: writing to `mem` */
	udfenv_buf *mem;
	udfenv_buf own;  /* the fd's buffer */
	udfenv_buf *out; /* `mem` or &own */
	char *name;
	rows_schema schema;
	udfenv_buf keys; /* JSON Lines: "{\"a\":" ",\"b\":" ... back to back */
	size_t *key_off; /* schema->n + 1 offsets into `keys` */
	int failed;
};

static int flush(rows_writer *w)
{
	if (w->fd < 0 || w->own.size == 0)
		return 0;
	if (udfenv_fs_write_all(w->fd, w->own.ptr, w->own.size) < 0)
		return udfenv_error_set_os(udfenv_error_from_errno(errno), "cannot write '%s'",
		                           w->name);
	udfenv_buf_clear(&w->own);
	return 0;
}

static int put_header(rows_writer *w)
{
	udfenv_buf *out = w->out;
	int error;

	for (size_t c = 0; c < w->schema.n; c++) {
		const char *name = w->schema.cols[c].name;
		size_t len = strlen(name);
		if ((error = rows__buf_need(out, 2 * len + 4)) < 0)
			return error;
		if (c > 0)
			out->ptr[out->size++] = ',';
		out->size += rows__csv_string(out->ptr + out->size, name, len);
	}
	if ((error = rows__buf_need(out, 1)) < 0)
		return error;
	out->ptr[out->size++] = '\n';
	out->ptr[out->size] = '\0';
	return 0;
}

/* The JSON Lines key prefixes: `{"a":` for the first column, `,"b":` after. */
static int build_keys(rows_writer *w)
{
	size_t n = w->schema.n;
	int error;

	if ((w->key_off = calloc(n + 1, sizeof(size_t))) == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	for (size_t c = 0; c < n; c++) {
		const char *name = w->schema.cols[c].name;
		size_t len = strlen(name);
		w->key_off[c] = w->keys.size;
		if ((error = rows__buf_need(&w->keys, 6 * len + 4)) < 0)
			return error;
		w->keys.ptr[w->keys.size++] = c == 0 ? '{' : ',';
		w->keys.size += rows__json_escape(w->keys.ptr + w->keys.size, name, len);
		w->keys.ptr[w->keys.size++] = ':';
		w->keys.ptr[w->keys.size] = '\0';
	}
	w->key_off[n] = w->keys.size;
	return 0;
}

int rows_writer_open(rows_writer **out, rows_format fmt, int fd, udfenv_buf *mem, const char *name,
                     const rows_schema *schema)
{
	rows_writer *w;
	int error;

	*out = NULL;
	if (fd < 0 && mem == NULL)
		return udfenv_error_set(UDFENV_EINVALID, "writer '%s': neither an fd nor a buffer",
		                        name);
	if (fmt != ROWS_CSV && fmt != ROWS_JSONL)
		return udfenv_error_set(UDFENV_EINVALID, "writer '%s': unknown format %d", name,
		                        (int)fmt);
	if ((w = calloc(1, sizeof(*w))) == NULL || (w->name = strdup(name)) == NULL) {
		free(w);
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	}
	w->fmt = fmt;
	w->fd = fd;
	w->mem = fd < 0 ? mem : NULL;
	w->out = fd < 0 ? mem : &w->own;
	if ((error = rows__schema_copy(&w->schema, schema)) < 0)
		goto done;
	if (fd >= 0 && (error = udfenv_buf_grow(&w->own, ROWS_IO_BUF + ROWS_IO_BUF / 4)) < 0)
		goto done;
	if (fmt == ROWS_CSV)
		error = put_header(w);
	else
		error = build_keys(w);
done:
	if (error < 0)
		rows_writer_free(w);
	else
		*out = w;
	return error;
}

static int write_row(rows_writer *w, const rows_batch *b, size_t r)
{
	udfenv_buf *out = w->out;
	const rows_value *row = &b->v[r * b->ncols];
	int json = w->fmt == ROWS_JSONL;
	int error;

	for (size_t c = 0; c < b->ncols; c++) {
		size_t room = rows__value_room(&row[c]);
		size_t klen = json ? w->key_off[c + 1] - w->key_off[c] : 1;
		if (room == SIZE_MAX)
			return udfenv_error_set(UDFENV_ENOMEM,
			                        "'%s': a value of column '%s' is too large",
			                        w->name, w->schema.cols[c].name);
		if ((error = rows__buf_need(out, room + klen + 2)) < 0)
			return error;
		char *d = out->ptr + out->size;
		if (json) {
			memcpy(d, w->keys.ptr + w->key_off[c], klen);
			d += klen;
		} else if (c > 0) {
			*d++ = ',';
		}
		d = rows__put_value(d, b, &row[c], json);
		out->size = (size_t)(d - out->ptr);
	}
	if ((error = rows__buf_need(out, 3)) < 0)
		return error;
	if (json && b->ncols == 0)
		out->ptr[out->size++] = '{';
	if (json)
		out->ptr[out->size++] = '}';
	out->ptr[out->size++] = '\n';
	out->ptr[out->size] = '\0';
	return 0;
}

int rows_writer_write(rows_writer *w, const rows_batch *b)
{
	int error = 0;

	if (w->failed)
		return udfenv_error_set(UDFENV_ERROR, "writer '%s' failed earlier", w->name);
	if (b->ncols != w->schema.n)
		return udfenv_error_set(UDFENV_EINVALID, "'%s': a batch of %zu columns for %zu",
		                        w->name, b->ncols, w->schema.n);
	for (size_t r = 0; r < b->nrows && error == 0; r++) {
		error = write_row(w, b, r);
		if (error == 0 && w->fd >= 0 && w->own.size >= ROWS_IO_BUF)
			error = flush(w);
	}
	if (error < 0)
		w->failed = 1;
	return error;
}

int rows_writer_finish(rows_writer *w)
{
	int error;

	if (w->failed)
		return udfenv_error_set(UDFENV_ERROR, "writer '%s' failed earlier", w->name);
	if ((error = flush(w)) < 0)
		w->failed = 1;
	return error;
}

void rows_writer_free(rows_writer *w)
{
	if (w == NULL)
		return;
	rows_schema_dispose(&w->schema);
	udfenv_buf_dispose(&w->own);
	udfenv_buf_dispose(&w->keys);
	free(w->key_off);
	free(w->name);
	free(w);
}
