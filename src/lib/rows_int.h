/*
 * Internals shared by the rows_*.c files: text <-> value conversions, UTF-8
 * checks, batch growth and a small JSON scalar lexer. Nothing here is for
 * other modules; include lib/rows.h instead.
 */
#ifndef UDFENV_LIB_ROWS_INT_H
#define UDFENV_LIB_ROWS_INT_H

#include "lib/rows.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The longest CSV field or JSON Lines line accepted (UDFENV_ELIMIT beyond). */
#define ROWS_FIELD_MAX ((size_t)64 << 20)
/* The longest CSV row: several fields may each be near ROWS_FIELD_MAX, not many. */
#define ROWS_RECORD_MAX ((size_t)128 << 20)
/* The most columns a CSV header or JSON Lines source may have. */
#define ROWS_COLUMNS_MAX 65536
/* Longest text rows__fmt_int / rows__fmt_double write (no NUL). */
#define ROWS_NUM_MAX 32
/* Reads and writes go through buffers of this size. */
#define ROWS_IO_BUF ((size_t)256 << 10)

/* --- text (rows.c) --- */

/* Whether the char c is '0'..'9' (unsigned arithmetic: no sign surprises). */
#define ROWS_IS_DIGIT(c) ((unsigned)(unsigned char)(c) - '0' <= 9u)


/* s[0..len) as a whole: optional sign, decimal digits. 0, -1 if not an integer, -2 if out of range.
 */
int rows__parse_int(const char *s, size_t len, int64_t *out);
/* s[0..len) as a whole, as strtod(3) reads it in the C locale, but no leading space. 0 or -1. */
int rows__parse_double(const char *s, size_t len, double *out);
/*
 * m * 10^e10 correctly rounded to a double, in exact 128-bit arithmetic,
 * for e10 in [-21, 19] (1 when done); 0 outside that range (use strtod).
 */
int rows__dec_exact(uint64_t m, int e10, double *out);
/* true/false in any case. 0 or -1. */
int rows__parse_bool(const char *s, size_t len, int *out);

/* Write v in decimal at dst (ROWS_NUM_MAX bytes of room); returns the length. */
size_t rows__fmt_int(char *dst, int64_t v);
/*
 * Write d at dst (ROWS_NUM_MAX bytes of room) in the shortest of %.15g,
 * %.16g, %.17g that reads back to the same bits, with ".0" appended when it
 * would read as an integer. Non-finite values as NaN/Infinity/-Infinity
 * when `json`, else nan/inf/-inf. Returns the length.
 */
size_t rows__fmt_double(char *dst, double d, int json);
/* The reference for rows__fmt_double (the snprintf loop, always): for tests. */
size_t rows__fmt_double_slow(char *dst, double d, int json);

/*
 * Append s[0..len) to `out` as message text: at most `max` bytes of it, then
 * "..." if cut; control characters and invalid UTF-8 as \n, \xNN, ...
 */
int rows__snippet(udfenv_buf *out, const char *s, size_t len, size_t max);

/*
 * Write s[0..len) JSON-escaped, with its quotes, at dst, which has room for
 * 6 * len + 2 bytes. Returns the bytes written. `s` must be valid UTF-8.
 */
size_t rows__json_escape(char *dst, const char *s, size_t len);

/*
 * --- per-value text, inline ---
 *
 * Each of these runs once per value on a job's hot path, from rows.c,
 * rows_json.c and rows_write.c. Out of line they cost 3-9% per step in
 * bench_rows: the library is built -fPIC, so GCC does not inline an
 * exported function even into its own file.
 */

/*
 * m * 10^e10, negated when `neg`, correctly rounded to a double without
 * strtod: 1 when done, 0 when it takes strtod (beyond rows__dec_exact).
 * Clinger's fast path: with m <= 2^53 and a power of ten up to 22, m * 10^e
 * or m / 10^e is one correctly rounded IEEE operation on exact operands,
 * hence what strtod gives.
 */
static inline int rows__dec_to_double(uint64_t m, int e10, int neg, double *out)
{
	static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
	                             1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
	                             1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
	double d;

	if (m == 0)
		d = 0.0;
	else if (m > ((uint64_t)1 << 53) || e10 < -22 || e10 > 22) {
		if (!rows__dec_exact(m, e10, &d))
			return 0;
	} else if (e10 >= 0)
		d = (double)m * p10[e10];
	else
		d = (double)m / p10[-e10];
	*out = neg ? -d : d;
	return 1;
}

/* Write s as a CSV field at d (room for 2 * len + 2), quoted if need be; returns the length. */
static inline size_t rows__csv_string(char *d, const char *s, size_t len)
{
	/* Bytes that make a field need quotes (besides a space at either end, a U+FEFF first). */
	static const unsigned char special[256] = {[','] = 1, ['"'] = 1, ['\r'] = 1, ['\n'] = 1};
	char *p = d;
	size_t i;

	/* Copy while checking: most fields need no quotes. */
	for (i = 0; i < len && !special[(unsigned char)s[i]]; i++)
		d[i] = s[i];
	/* Nor may a leading U+FEFF go bare: first in a file (a header name), a reader skips it as a BOM. */
	if (i == len && len > 0 && s[0] != ' ' && s[len - 1] != ' ' &&
	    !(len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0))
		return len;
	*p++ = '"';
	for (i = 0; i < len;) {
		const char *q = memchr(s + i, '"', len - i);
		size_t run = q ? (size_t)(q - (s + i)) + 1 : len - i;
		memcpy(p, s + i, run);
		p += run;
		i += run;
		if (q)
			*p++ = '"';
	}
	*p++ = '"';
	return (size_t)(p - d);
}

/* Room rows__put_value needs for v in either format; SIZE_MAX if too large to reserve. */
static inline size_t rows__value_room(const rows_value *v)
{
	if (v->kind != ROWS_STRING)
		return ROWS_NUM_MAX;
	if (v->u.s.len > (SIZE_MAX - 16) / 6)
		return SIZE_MAX;
	return 6 * v->u.s.len + 2;
}

/*
 * Write v at d, which has rows__value_room(v) bytes of room: as JSON when
 * `json` (NULL as null, non-finite doubles as NaN/Infinity), else as a CSV
 * field (NULL empty). Returns the end of what was written.
 */
static inline char *rows__put_value(char *d, const rows_batch *b, const rows_value *v, int json)
{
	switch (v->kind) {
	case ROWS_BIGINT: return d + rows__fmt_int(d, v->u.i);
	case ROWS_DOUBLE: return d + rows__fmt_double(d, v->u.d, json);
	case ROWS_BOOLEAN: memcpy(d, v->u.b ? "true" : "false", 5); return d + (v->u.b ? 4 : 5);
	case ROWS_STRING:
		if (json)
			return d + rows__json_escape(d, rows_batch_str(b, v), v->u.s.len);
		return d + rows__csv_string(d, rows_batch_str(b, v), v->u.s.len);
	default:
		if (json) {
			memcpy(d, "null", 4);
			return d + 4;
		}
		return d;
	}
}

/* --- batches, schemas (rows.c) --- */

/*
 * Make room for `rows` rows in `b` (with the file/line arrays when
 * `origin`). Growth is geometric; overflow is UDFENV_ENOMEM.
 */
int rows__batch_reserve(rows_batch *b, size_t rows, int origin);
int rows__schema_copy(rows_schema *dst, const rows_schema *src);

/* Make room for `extra` more bytes in `b` without a call when there is. */
static inline int rows__buf_need(udfenv_buf *b, size_t extra)
{
	if (b->asize > b->size && b->asize - b->size > extra)
		return 0;
	return udfenv_buf_grow(b, extra);
}

/* --- JSON scalars (rows_json.c) --- */

typedef struct {
	const char *p; /* the next byte */
	const char *end;
	const char *start; /* byte offsets in messages count from here */
} rows_jcur;

static inline void rows__json_ws(rows_jcur *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' || *c->p == '\r' || *c->p == '\t'))
		c->p++;
}

/* Set UDFENV_EINVALID "invalid JSON at byte N: expected WHAT" for the cursor. */
int rows__json_syntax(const rows_jcur *c, const char *what);

/*
 * Parse one JSON value at c->p into v, which must be NULL or of type `want`
 * (an integer is taken for DOUBLE); `want` ROWS_NULL takes any scalar and
 * gives it its natural type (an integer out of the int64 range becomes a
 * DOUBLE). String bytes go to the end of `arena`, which must already have
 * room for every byte left before c->end. Errors (UDFENV_EINVALID) say
 * "expected BIGINT, got a string" or where the JSON is broken, with no
 * context: callers add it with udfenv_error_prefix.
 */
int rows__json_value(rows_jcur *c, int want, rows_value *v, udfenv_buf *arena);

/*
 * Parse the JSON string at c->p (the opening quote) to the end of `arena`
 * (room as above); its offset and length in *off, *len.
 */
int rows__json_string(rows_jcur *c, udfenv_buf *arena, size_t *off, size_t *len);

#endif
