/*
 * JSON for rows: a scalar lexer (shared with the JSON Lines reader) and the
 * protocol columns of docs/protocol.md.
 *
 * This is the hot path between the executor and its workers, so values are
 * parsed straight into the batch array and string bytes straight into the
 * batch arena: no allocation per value, no DOM. Callers reserve arena room
 * for the whole input up front, which is enough because unescaping never
 * makes a string longer than its JSON text.
 */
#include "lib/rows_int.h"
#include "util/text.h"
#include "util/error.h"

#include <math.h>
#include <string.h>

int rows__json_syntax(const rows_jcur *c, const char *what)
{
	if (c->p >= c->end)
		return udfenv_error_set(UDFENV_EINVALID,
		                        "invalid JSON at byte %zu: expected %s, found the end",
		                        (size_t)(c->p - c->start), what);
	unsigned char ch = (unsigned char)*c->p;
	if (ch > 0x20 && ch < 0x7F)
		return udfenv_error_set(UDFENV_EINVALID,
		                        "invalid JSON at byte %zu: expected %s, found '%c'",
		                        (size_t)(c->p - c->start), what, ch);
	return udfenv_error_set(UDFENV_EINVALID,
	                        "invalid JSON at byte %zu: expected %s, found byte 0x%02x",
	                        (size_t)(c->p - c->start), what, ch);
}

static int mismatch(int want, const char *got)
{
	return udfenv_error_set(UDFENV_EINVALID, "expected %s, got %s", rows_type_name(want), got);
}

/* Bytes a JSON string's fast loop stops at: '"', '\\', controls, non-ASCII. */
static const unsigned char str_stop[256] = {
	[0x00 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x80 ... 0xff] = 1,
};

static int hex4(const char *p, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		unsigned char c = (unsigned char)p[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			d = (c | 0x20) - 'a' + 10;
		else
			return -1;
		v = v * 16 + d;
	}
	*out = v;
	return 0;
}

static char *put_utf8(char *d, unsigned cp)
{
	if (cp < 0x80) {
		*d++ = (char)cp;
	} else if (cp < 0x800) {
		*d++ = (char)(0xC0 | (cp >> 6));
		*d++ = (char)(0x80 | (cp & 0x3F));
	} else if (cp < 0x10000) {
		*d++ = (char)(0xE0 | (cp >> 12));
		*d++ = (char)(0x80 | ((cp >> 6) & 0x3F));
		*d++ = (char)(0x80 | (cp & 0x3F));
	} else {
		*d++ = (char)(0xF0 | (cp >> 18));
		*d++ = (char)(0x80 | ((cp >> 12) & 0x3F));
		*d++ = (char)(0x80 | ((cp >> 6) & 0x3F));
		*d++ = (char)(0x80 | (cp & 0x3F));
	}
	return d;
}

/* The \u escape at c->p (the backslash), surrogate pairs joined; *cp out. */
static int unicode_escape(rows_jcur *c, unsigned *cp)
{
	const char *p = c->p;
	unsigned hi, lo;

	if (c->end - p < 6 || hex4(p + 2, &hi) < 0)
		return rows__json_syntax(c, "4 hex digits after \\u");
	if (hi >= 0xDC00 && hi <= 0xDFFF)
		return udfenv_error_set(UDFENV_EINVALID,
		                        "invalid JSON at byte %zu: lone surrogate \\u%04x",
		                        (size_t)(p - c->start), hi);
	if (hi >= 0xD800 && hi <= 0xDBFF) {
		if (c->end - p < 12 || p[6] != '\\' || p[7] != 'u' || hex4(p + 8, &lo) < 0 ||
		    lo < 0xDC00 || lo > 0xDFFF)
			return udfenv_error_set(UDFENV_EINVALID,
			                        "invalid JSON at byte %zu: lone surrogate \\u%04x",
			                        (size_t)(p - c->start), hi);
		*cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
		c->p = p + 12;
		return 0;
	}
	*cp = hi;
	c->p = p + 6;
	return 0;
}

int rows__json_string(rows_jcur *c, udfenv_buf *arena, size_t *off, size_t *len)
{
	const char *p = c->p + 1, *end = c->end;
	char *d = arena->ptr + arena->size;
	int error;

	for (;;) {
		while (p < end && !str_stop[(unsigned char)*p])
			*d++ = *p++;
		if (p == end) {
			c->p = p;
			return rows__json_syntax(c, "'\"' to end the string");
		}
		unsigned char ch = (unsigned char)*p;
		if (ch == '"')
			break;
		if (ch >= 0x80) {
			size_t n = udfenv_text_utf8_seq((const unsigned char *)p,
			                          (const unsigned char *)end);
			if (n == 0)
				return udfenv_error_set(UDFENV_EINVALID,
				                        "invalid UTF-8 in a string at byte %zu",
				                        (size_t)(p - c->start));
			memcpy(d, p, n);
			d += n;
			p += n;
			continue;
		}
		if (ch < 0x20) {
			c->p = p;
			return rows__json_syntax(c, "no control character in a string");
		}
		/* A backslash. */
		if (p + 1 == end) {
			c->p = p + 1;
			return rows__json_syntax(c, "an escape");
		}
		switch (p[1]) {
		case '"': *d++ = '"'; break;
		case '\\': *d++ = '\\'; break;
		case '/': *d++ = '/'; break;
		case 'b': *d++ = '\b'; break;
		case 'f': *d++ = '\f'; break;
		case 'n': *d++ = '\n'; break;
		case 'r': *d++ = '\r'; break;
		case 't': *d++ = '\t'; break;
		case 'u': {
			unsigned cp = 0;
			c->p = p;
			if ((error = unicode_escape(c, &cp)) < 0)
				return error;
			d = put_utf8(d, cp);
			p = c->p;
			continue;
		}
		default: c->p = p + 1; return rows__json_syntax(c, "a valid escape");
		}
		p += 2;
	}
	*off = arena->size;
	*len = (size_t)(d - (arena->ptr + arena->size));
	arena->size += *len;
	c->p = p + 1;
	return 0;
}

static int literal(rows_jcur *c, const char *word, size_t n)
{
	if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
		return rows__json_syntax(c, "a value");
	c->p += n;
	return 0;
}

/* A number whose text did not fit what was wanted: quote it (cut) in the message. */
static int number_mismatch(int want, const char *s, size_t len)
{
	return udfenv_error_set(UDFENV_EINVALID, "expected %s, got %.*s%s", rows_type_name(want),
	                        (int)(len > 40 ? 40 : len), s, len > 40 ? "..." : "");
}

/*
 * A JSON number (strict grammar). Digits are gathered while scanning so that
 * the common integer and short decimal cases need no second pass.
 */
static int number(rows_jcur *c, int want, rows_value *v)
{
	const char *s = c->p, *p = s, *end = c->end;
	uint64_t m = 0;
	int neg = 0, nd = 0, frac = 0, exp = 0, is_int = 1, slow = 0;

	if (*p == '-') {
		neg = 1;
		p++;
	}
	if (p == end || !ROWS_IS_DIGIT(*p)) {
		c->p = p;
		return rows__json_syntax(c, "a digit");
	}
	if (*p == '0') {
		p++;
	} else {
		for (; p < end && ROWS_IS_DIGIT(*p); p++) {
			if (++nd > 19)
				slow = 1;
			else
				m = m * 10 + (unsigned)(*p - '0');
		}
	}
	if (p < end && *p == '.') {
		is_int = 0;
		if (++p == end || !ROWS_IS_DIGIT(*p)) {
			c->p = p;
			return rows__json_syntax(c, "a digit after '.'");
		}
		for (; p < end && ROWS_IS_DIGIT(*p); p++) {
			if (m == 0 && *p == '0') {
				frac++;
				continue;
			}
			if (++nd > 19) {
				slow = 1;
				continue;
			}
			m = m * 10 + (unsigned)(*p - '0');
			frac++;
		}
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		int eneg = 0, ed = 0;
		is_int = 0;
		p++;
		if (p < end && (*p == '-' || *p == '+'))
			eneg = *p++ == '-';
		if (p == end || !ROWS_IS_DIGIT(*p)) {
			c->p = p;
			return rows__json_syntax(c, "a digit in the exponent");
		}
		for (; p < end && ROWS_IS_DIGIT(*p); p++)
			if (++ed > 5)
				slow = 1;
			else
				exp = exp * 10 + (*p - '0');
		if (eneg)
			exp = -exp;
	}
	c->p = p;
	if (is_int && (want == ROWS_BIGINT || want == ROWS_NULL)) {
		uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
		if (!slow && m <= limit) {
			v->kind = ROWS_BIGINT;
			v->u.i = neg ? (int64_t)(0 - m) : (int64_t)m;
			return 0;
		}
		if (want == ROWS_BIGINT)
			return udfenv_error_set(
				UDFENV_EINVALID, "%.*s%s is out of the BIGINT range",
				(int)(p - s > 40 ? 40 : p - s), s, p - s > 40 ? "..." : "");
	}
	if (want != ROWS_DOUBLE && want != ROWS_NULL)
		return number_mismatch(want, s, (size_t)(p - s));
	v->kind = ROWS_DOUBLE;
	/* Up to 19 digits (Python writes most floats with 17): exact, without strtod. */
	if (!slow && rows__dec_to_double(m, exp - frac, neg, &v->u.d))
		return 0;
	if (rows__parse_double(s, (size_t)(p - s), &v->u.d) != 0)
		return udfenv_error_set(UDFENV_EINVALID, "cannot read the number %.*s",
		                        (int)(p - s > 40 ? 40 : p - s), s);
	return 0;
}

int rows__json_value(rows_jcur *c, int want, rows_value *v, udfenv_buf *arena)
{
	int error;

	if (c->p >= c->end)
		return rows__json_syntax(c, "a value");
	switch (*c->p) {
	case '"':
		if (want != ROWS_STRING && want != ROWS_NULL)
			return mismatch(want, "a string");
		v->kind = ROWS_STRING;
		return rows__json_string(c, arena, &v->u.s.off, &v->u.s.len);
	case 'n':
		if ((error = literal(c, "null", 4)) < 0)
			return error;
		v->kind = ROWS_NULL;
		return 0;
	case 't':
	case 'f': {
		int t = *c->p == 't';
		if ((error = literal(c, t ? "true" : "false", t ? 4 : 5)) < 0)
			return error;
		if (want != ROWS_BOOLEAN && want != ROWS_NULL)
			return mismatch(want, t ? "true" : "false");
		v->kind = ROWS_BOOLEAN;
		v->u.b = t;
		return 0;
	}
	case 'N':
	case 'I': {
		int nan = *c->p == 'N';
		if ((error = literal(c, nan ? "NaN" : "Infinity", nan ? 3 : 8)) < 0)
			return error;
		if (want != ROWS_DOUBLE && want != ROWS_NULL)
			return mismatch(want, nan ? "NaN" : "Infinity");
		v->kind = ROWS_DOUBLE;
		v->u.d = nan ? NAN : INFINITY;
		return 0;
	}
	case '[':
		return want == ROWS_NULL
		               ? udfenv_error_set(UDFENV_EINVALID, "a list is not a column value")
		               : mismatch(want, "a list");
	case '{':
		return want == ROWS_NULL ? udfenv_error_set(UDFENV_EINVALID,
		                                            "an object is not a column value")
		                         : mismatch(want, "an object");
	case '-':
		if (c->end - c->p > 1 && c->p[1] == 'I') {
			c->p++;
			if ((error = literal(c, "Infinity", 8)) < 0)
				return error;
			if (want != ROWS_DOUBLE && want != ROWS_NULL)
				return mismatch(want, "-Infinity");
			v->kind = ROWS_DOUBLE;
			v->u.d = -INFINITY;
			return 0;
		}
		return number(c, want, v);
	default:
		if (ROWS_IS_DIGIT(*c->p))
			return number(c, want, v);
		return rows__json_syntax(c, "a value");
	}
}

/* --- protocol columns --- */

int rows_encode_columns(udfenv_buf *out, const rows_batch *b)
{
	int error;

	if ((error = rows__buf_need(out, 2)) < 0)
		return error;
	out->ptr[out->size++] = '[';
	for (size_t c = 0; c < b->ncols; c++) {
		if ((error = rows__buf_need(out, 2)) < 0)
			return error;
		if (c > 0)
			out->ptr[out->size++] = ',';
		out->ptr[out->size++] = '[';
		for (size_t r = 0; r < b->nrows; r++) {
			const rows_value *v = &b->v[r * b->ncols + c];
			size_t room = rows__value_room(v);
			if (room == SIZE_MAX)
				return udfenv_error_set(UDFENV_ENOMEM, "string too large");
			/* The comma, and one byte left for the closing ']'. */
			if ((error = rows__buf_need(out, room + 2)) < 0)
				return error;
			char *d = out->ptr + out->size;
			if (r > 0)
				*d++ = ',';
			d = rows__put_value(d, b, v, 1);
			out->size = (size_t)(d - out->ptr);
		}
		out->ptr[out->size++] = ']';
	}
	if ((error = rows__buf_need(out, 1)) < 0)
		return error;
	out->ptr[out->size++] = ']';
	out->ptr[out->size] = '\0';
	return 0;
}

/* A column that is not a list: say what it is instead. */
static int not_a_list(const rows_jcur *c, const rows_schema *schema, size_t col)
{
	const char *got;

	switch (c->p < c->end ? *c->p : '\0') {
	case '"': got = "a string"; break;
	case '{': got = "an object"; break;
	case 't':
	case 'f': got = "a boolean"; break;
	case 'n': got = "null"; break;
	case '-':
	case 'N':
	case 'I':
	case '0':
	case '1':
	case '2':
	case '3':
	case '4':
	case '5':
	case '6':
	case '7':
	case '8':
	case '9': got = "a number"; break;
	default: return rows__json_syntax(c, "'[' to start a column");
	}
	return udfenv_error_set(UDFENV_EINVALID, "column '%s': expected a list of values, got %s",
	                        schema->cols[col].name, got);
}

int rows_decode_columns(rows_batch *b, const rows_schema *schema, const char *json, size_t len,
                        size_t max_rows)
{
	rows_jcur cur = {json, json + len, json};
	size_t ncols = schema->n, nrows = 0;
	int error;

	rows_batch_reset(b, ncols);
	/* Every string byte comes from at least one byte of `json`. */
	if ((error = udfenv_buf_grow(&b->arena, len)) < 0)
		return error;
	rows__json_ws(&cur);
	if (cur.p == cur.end || *cur.p != '[')
		return rows__json_syntax(&cur, "'[' to start the list of columns");
	cur.p++;
	rows__json_ws(&cur);
	for (size_t c = 0; c < ncols; c++) {
		rows_type type = schema->cols[c].type;
		size_t r = 0;

		if (c > 0) {
			if (cur.p < cur.end && *cur.p == ']')
				return udfenv_error_set(UDFENV_EINVALID,
				                        "expected %zu columns, got %zu", ncols, c);
			if (cur.p == cur.end || *cur.p != ',')
				return rows__json_syntax(&cur, "',' between columns");
			cur.p++;
			rows__json_ws(&cur);
		} else if (cur.p < cur.end && *cur.p == ']') {
			return udfenv_error_set(UDFENV_EINVALID, "expected %zu columns, got 0",
			                        ncols);
		}
		if (cur.p == cur.end || *cur.p != '[')
			return not_a_list(&cur, schema, c);
		cur.p++;
		rows__json_ws(&cur);
		if (cur.p < cur.end && *cur.p == ']') {
			cur.p++;
		} else {
			for (;;) {
				if (c == 0) {
					if (r >= max_rows)
						return udfenv_error_set(
							UDFENV_ELIMIT,
							"column '%s' has more than %zu rows",
							schema->cols[c].name, max_rows);
					/*
					 * Each value takes at least two bytes ("0,"), so a
					 * column-0 length the text cannot hold in every
					 * column is refused before rows are reserved for it.
					 */
					if ((r + 1) * ncols > len / 2 + ncols)
						return udfenv_error_set(
							UDFENV_EINVALID,
							"column '%s': %zu rows of %zu columns cannot fit "
							"in %zu bytes",
							schema->cols[c].name, r + 1, ncols, len);
					if (r >= b->cap &&
					    (error = rows__batch_reserve(b, r + 1, 0)) < 0)
						return error;
				} else if (r >= nrows) {
					return udfenv_error_set(UDFENV_EINVALID,
					                        "column '%s' has more values than "
					                        "column '%s' (%zu)",
					                        schema->cols[c].name,
					                        schema->cols[0].name, nrows);
				}
				if ((error = rows__json_value(&cur, type, &b->v[r * ncols + c],
				                              &b->arena)) < 0)
					return udfenv_error_prefix(
						"column '%s' row %zu: ", schema->cols[c].name, r);
				r++;
				rows__json_ws(&cur);
				if (cur.p < cur.end && *cur.p == ',') {
					cur.p++;
					rows__json_ws(&cur);
					continue;
				}
				if (cur.p < cur.end && *cur.p == ']') {
					cur.p++;
					break;
				}
				rows__json_syntax(&cur, "',' or ']' after a value");
				return udfenv_error_prefix(
					"column '%s' row %zu: ", schema->cols[c].name, r - 1);
			}
		}
		if (c == 0)
			nrows = r;
		else if (r != nrows)
			return udfenv_error_set(
				UDFENV_EINVALID, "column '%s' has %zu values, column '%s' has %zu",
				schema->cols[c].name, r, schema->cols[0].name, nrows);
		rows__json_ws(&cur);
	}
	if (cur.p < cur.end && *cur.p == ',')
		return udfenv_error_set(UDFENV_EINVALID, "expected %zu columns, got more", ncols);
	if (cur.p == cur.end || *cur.p != ']')
		return rows__json_syntax(&cur, "']' to end the list of columns");
	cur.p++;
	rows__json_ws(&cur);
	if (cur.p != cur.end)
		return rows__json_syntax(&cur, "nothing after the list of columns");
	b->nrows = nrows;
	b->arena.ptr[b->arena.size] = '\0';
	return 0;
}
