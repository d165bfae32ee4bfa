/*
 * Source readers: CSV and JSON Lines files into batches, and schema
 * inference over the same scanners.
 *
 * A file is read in large blocks into one buffer; a record (CSV row, JSON
 * line) is parsed only once it lies whole in the buffer. When it does not,
 * the unparsed tail moves to the front, more is read (the buffer doubling
 * up to the record cap) and the record is scanned again from its start:
 * simpler than a resumable scanner, and rare with 256 KiB blocks.
 *
 * Everything read is hostile: fields, lines and rows are capped, strings
 * checked as UTF-8, numbers range-checked, and every error names the file,
 * the line (where the record starts) and the column.
 */
#include "lib/rows_int.h"
#include "util/text.h"
#include "util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
	const char *p; /* the content (inside the quotes) */
	size_t len;
	uint8_t quoted;
	uint8_t escaped; /* holds "" pairs to collapse */
} csv_field;

struct rows_reader {
	rows_format fmt;
	rows_schema schema;
	size_t *name_len; /* of each schema name */
	udfenv_strvec files;
	uint64_t *sizes; /* of each file, at open */
	uint64_t total, done_files;
	uint32_t cur; /* the open (or next) file */
	int fd;       /* -1: none open */
	int eof;      /* the open file has no more bytes to read */
	int started;  /* the open file's BOM (and CSV header) are done */
	int failed;
	char *buf;
	size_t bcap, pos, end;
	uint64_t file_off; /* file offset of buf[0] */
	uint64_t line;     /* line number of buf[pos] */

	/* CSV: the last record scanned, and the open file's header. */
	csv_field *fields;
	size_t fcap, nfields;
	udfenv_strvec header;
	size_t *map; /* header field -> schema column */

	/* JSON Lines */
	uint32_t *seen; /* per column: the line number (mod 2^32) that set it; 0 never */
	uint32_t gen;
	udfenv_buf key;
	size_t hint;
	size_t ccap; /* columns the per-column arrays hold */

	/* Inference */
	uint8_t *kinds; /* per column: what it may still be (CSV) / what was seen (JSON) */
	udfenv_buf scratch;
};

static const char *cur_path(const rows_reader *r)
{
	return r->files.items[r->cur];
}

/* "FILE line N: [column 'x': ]MESSAGE" for a record of the open file. */
static int rec_error(const rows_reader *r, uint64_t line, const char *column, int code,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int rec_error(const rows_reader *r, uint64_t line, const char *column, int code,
                     const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (column)
		return udfenv_error_set(code, "%s line %llu: column '%s': %s", cur_path(r),
		                        (unsigned long long)line, column, msg);
	return udfenv_error_set(code, "%s line %llu: %s", cur_path(r), (unsigned long long)line,
	                        msg);
}

/* The header name of CSV field `i` (for messages), or NULL. */
static const char *field_name(const rows_reader *r, size_t i)
{
	return i < r->header.count ? r->header.items[i] : NULL;
}

/* --- files and the buffer --- */

static int open_file(rows_reader *r)
{
	if ((r->fd = open(cur_path(r), O_RDONLY | O_CLOEXEC)) < 0)
		return udfenv_error_set_os(udfenv_error_from_errno(errno), "cannot open '%s'",
		                           cur_path(r));
	r->pos = r->end = 0;
	r->file_off = 0;
	r->eof = r->started = 0;
	r->line = 1;
	udfenv_strvec_dispose(&r->header);
	return 0;
}

static void close_file(rows_reader *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	r->done_files += r->file_off + r->end;
	r->cur++;
}

/*
 * Read more of the open file, keeping buf[pos..end) (moved to the front).
 * When that fills the buffer, the buffer doubles, up to `limit` bytes: at
 * the limit this returns UDFENV_ELIMIT without a message (the caller says
 * which record was too long). Sets r->eof at the end of the file.
 */
static int fill(rows_reader *r, size_t limit)
{
	if (r->pos > 0) {
		memmove(r->buf, r->buf + r->pos, r->end - r->pos);
		r->file_off += r->pos;
		r->end -= r->pos;
		r->pos = 0;
	}
	if (r->end == r->bcap) {
		size_t cap = r->bcap * 2 < limit ? r->bcap * 2 : limit;
		char *nb;
		if (r->bcap >= limit)
			return UDFENV_ELIMIT;
		if ((nb = realloc(r->buf, cap)) == NULL)
			return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
		r->buf = nb;
		r->bcap = cap;
	}
	while (r->end < r->bcap && !r->eof) {
		ssize_t n = read(r->fd, r->buf + r->end, r->bcap - r->end);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return udfenv_error_set_os(UDFENV_ERROR, "cannot read '%s'", cur_path(r));
		if (n == 0)
			r->eof = 1;
		r->end += (size_t)n;
	}
	return 0;
}

/* Skip a UTF-8 BOM at the start of the open file. */
static int skip_bom(rows_reader *r)
{
	int error;

	while (r->end - r->pos < 3 && !r->eof)
		if ((error = fill(r, ROWS_IO_BUF)) < 0)
			return error;
	if (r->end - r->pos >= 3 && memcmp(r->buf + r->pos, "\xEF\xBB\xBF", 3) == 0)
		r->pos += 3;
	return 0;
}

/* --- CSV scanning --- */

/* Bytes that end an unquoted run: ',' '\n' '\r' '"'. */
static const unsigned char csv_stop[256] = {[','] = 1, ['\n'] = 1, ['\r'] = 1, ['"'] = 1};

static int push_field(rows_reader *r, size_t nf, const char *p, size_t len, int quoted, int escaped)
{
	if (nf >= r->fcap) {
		size_t cap = r->fcap ? r->fcap * 2 : 64;
		csv_field *f;
		if (nf >= ROWS_COLUMNS_MAX)
			return rec_error(r, r->line, NULL, UDFENV_ELIMIT, "more than %d fields",
			                 ROWS_COLUMNS_MAX);
		if ((f = realloc(r->fields, cap * sizeof(*f))) == NULL)
			return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
		r->fields = f;
		r->fcap = cap;
	}
	r->fields[nf].p = p;
	r->fields[nf].len = len;
	r->fields[nf].quoted = (uint8_t)quoted;
	r->fields[nf].escaped = (uint8_t)escaped;
	return 0;
}

static size_t count_newlines(const char *p, const char *end)
{
	size_t n = 0;
	while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n++;
		p++;
	}
	return n;
}

/* A field known to be longer than the cap (even if not yet whole). */
static int field_too_long(const rows_reader *r, size_t field)
{
	return rec_error(r, r->line, field_name(r, field), UDFENV_ELIMIT,
	                 "field longer than %zu MiB", ROWS_FIELD_MAX >> 20);
}

/*
 * Scan the record at buf[pos] into r->fields. Returns 1 when it is whole
 * (*next: where the following record starts; *newlines: line ends inside
 * quoted fields), 0 when more bytes are needed, or an error.
 */
static int csv_scan(rows_reader *r, size_t *next, size_t *newlines)
{
	const char *p = r->buf + r->pos, *end = r->buf + r->end;
	size_t nf = 0, nl = 0;
	int error;

	for (;;) {
		const char *s;
		size_t len;
		int quoted = 0, escaped = 0;

		if (p < end && *p == '"') {
			quoted = 1;
			s = ++p;
			for (;;) {
				const char *q = memchr(p, '"', (size_t)(end - p));
				if (q == NULL || (q + 1 == end && !r->eof)) {
					/* Cap what is buffered of an unfinished field, not only
					 * whole ones. */
					if ((size_t)(end - s) > ROWS_FIELD_MAX)
						return field_too_long(r, nf);
					if (q == NULL && r->eof)
						return rec_error(r, r->line, NULL, UDFENV_EINVALID,
						                 "unterminated quoted field");
					return 0;
				}
				nl += count_newlines(p, q);
				if (q + 1 < end && q[1] == '"') {
					escaped = 1;
					p = q + 2;
					continue;
				}
				len = (size_t)(q - s);
				p = q + 1;
				break;
			}
			if (p < end && *p == '\r' && p + 1 == end && !r->eof)
				return 0;
			if (p < end && *p != ',' && *p != '\n' &&
			    !(*p == '\r' && p + 1 < end && p[1] == '\n'))
				return rec_error(r, r->line, field_name(r, nf), UDFENV_EINVALID,
				                 "unexpected character after a closing quote");
		} else {
			s = p;
			for (;;) {
				while (p < end && !csv_stop[(unsigned char)*p])
					p++;
				if (p == end || *p == ',' || *p == '\n')
					break;
				if (*p == '"')
					return rec_error(
						r, r->line, field_name(r, nf), UDFENV_EINVALID,
						"'\"' inside an unquoted field (quote the field "
						"and double the quote)");
				/* '\r': a line end with '\n', else data. */
				if (p + 1 == end && !r->eof) {
					if ((size_t)(p - s) > ROWS_FIELD_MAX)
						return field_too_long(r, nf);
					return 0;
				}
				if (p + 1 < end && p[1] == '\n')
					break;
				p++;
			}
			len = (size_t)(p - s);
		}
		if (len > ROWS_FIELD_MAX)
			return field_too_long(r, nf);
		if ((error = push_field(r, nf++, s, len, quoted, escaped)) < 0)
			return error;
		if (p == end) {
			if (!r->eof)
				return 0;
			break;
		}
		if (*p == ',') {
			p++;
			continue;
		}
		p += *p == '\r' ? 2 : 1;
		break;
	}
	r->nfields = nf;
	*next = (size_t)(p - r->buf);
	*newlines = nl;
	return 1;
}

/*
 * The next whole CSV record of the open file: 1 (r->fields, and r->line
 * still the record's first line until csv_advance), 0 at the end of the
 * file, or an error.
 */
static int csv_next(rows_reader *r, size_t *next, size_t *newlines)
{
	int rc, error;

	for (;;) {
		if (r->pos == r->end && r->eof)
			return 0;
		if (r->pos < r->end && (rc = csv_scan(r, next, newlines)) != 0)
			return rc;
		if ((error = fill(r, ROWS_RECORD_MAX + 2)) == UDFENV_ELIMIT)
			return rec_error(r, r->line, NULL, UDFENV_ELIMIT, "row longer than %zu MiB",
			                 ROWS_RECORD_MAX >> 20);
		if (error < 0)
			return error;
	}
}

static void csv_advance(rows_reader *r, size_t next, size_t newlines)
{
	r->pos = next;
	r->line += 1 + newlines;
}

/* Copy a quoted field's content collapsing "" to ", at d; returns the length. */
static size_t unescape_quotes(char *d, const char *s, size_t len)
{
	char *p = d;
	for (size_t i = 0; i < len; i++) {
		*p++ = s[i];
		if (s[i] == '"')
			i++;
	}
	return (size_t)(p - d);
}

/* The open file's header into r->header. 1, or 0 for an empty file. */
static int csv_header(rows_reader *r)
{
	udfenv_buf name = UDFENV_BUF_INIT;
	size_t next, nl;
	int rc, error = 0;

	if ((error = skip_bom(r)) < 0)
		return error;
	if ((rc = csv_next(r, &next, &nl)) <= 0)
		return rc;
	for (size_t i = 0; i < r->nfields && error == 0; i++) {
		const csv_field *f = &r->fields[i];
		udfenv_buf_clear(&name);
		if ((error = udfenv_buf_grow(&name, f->len)) < 0)
			break;
		name.size = f->escaped ? unescape_quotes(name.ptr, f->p, f->len) : f->len;
		if (!f->escaped)
			memcpy(name.ptr, f->p, f->len);
		name.ptr[name.size] = '\0';
		/* A NUL would cut the name short: refuse it rather than match a prefix. */
		if (memchr(name.ptr, '\0', name.size))
			error = udfenv_error_set(UDFENV_EINVALID,
			                         "%s: header column %zu holds a NUL byte",
			                         cur_path(r), i + 1);
		else
			error = udfenv_strvec_push(&r->header, name.ptr);
	}
	udfenv_buf_dispose(&name);
	if (error < 0)
		return error;
	csv_advance(r, next, nl);
	return 1;
}

/* Match the open file's header to the schema: r->map. */
static int csv_map(rows_reader *r)
{
	udfenv_buf shown = UDFENV_BUF_INIT;
	unsigned char *seen = NULL;
	size_t n = r->header.count;
	int error = 0;

	size_t *map = realloc(r->map, (n ? n : 1) * sizeof(*r->map));

	if (map != NULL)
		r->map = map;
	if (map == NULL || (seen = calloc(r->schema.n + 1, 1)) == NULL) {
		error = udfenv_error_set(UDFENV_ENOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		const char *h = r->header.items[i];
		long c = rows_schema_find(&r->schema, h);
		if (c < 0 || seen[c]) {
			if ((error = rows__snippet(&shown, h, strlen(h), 100)) < 0)
				goto done;
			if (c < 0)
				error = udfenv_error_set(
					UDFENV_EINVALID,
					"%s: header column '%s' is not in the schema", cur_path(r),
					udfenv_buf_cstr(&shown));
			else
				error = udfenv_error_set(UDFENV_EINVALID,
				                         "%s: duplicate column '%s'", cur_path(r),
				                         udfenv_buf_cstr(&shown));
			goto done;
		}
		seen[c] = 1;
		r->map[i] = (size_t)c;
	}
	for (size_t c = 0; c < r->schema.n; c++)
		if (!seen[c]) {
			error = udfenv_error_set(UDFENV_EINVALID, "%s: header has no column '%s'",
			                         cur_path(r), r->schema.cols[c].name);
			goto done;
		}
done:
	free(seen);
	udfenv_buf_dispose(&shown);
	return error;
}

/* A CSV field that is not of its column's type. */
static int csv_bad_value(const rows_reader *r, const csv_field *f, size_t col, const char *what)
{
	udfenv_buf shown = UDFENV_BUF_INIT;
	int error;

	if ((error = rows__snippet(&shown, f->p, f->len, 64)) < 0)
		return error;
	error = rec_error(r, r->line, NULL, UDFENV_EINVALID, "column '%s' (%s): '%s' %s",
	                  r->schema.cols[col].name, rows_type_name(r->schema.cols[col].type),
	                  udfenv_buf_cstr(&shown), what);
	udfenv_buf_dispose(&shown);
	return error;
}

/* The scanned record r->fields as row b->nrows of `b`. */
static int csv_row(rows_reader *r, rows_batch *b, size_t reclen)
{
	size_t row = b->nrows;
	rows_value *v;
	int error, rc;

	if (r->nfields != r->header.count)
		return rec_error(r, r->line, NULL, UDFENV_EINVALID,
		                 "expected %zu fields, found %zu", r->header.count, r->nfields);
	if (row >= b->cap && (error = rows__batch_reserve(b, row + 1, 1)) < 0)
		return error;
	/* The strings of the row are no longer than the row. */
	if ((error = rows__buf_need(&b->arena, reclen)) < 0)
		return error;
	v = &b->v[row * b->ncols];
	for (size_t i = 0; i < r->nfields; i++) {
		const csv_field *f = &r->fields[i];
		size_t c = r->map[i];
		rows_type type = r->schema.cols[c].type;

		if (f->len == 0 && (!f->quoted || type != ROWS_STRING)) {
			v[c].kind = ROWS_NULL;
			continue;
		}
		v[c].kind = (uint8_t)type;
		switch (type) {
		case ROWS_BIGINT:
			if ((rc = rows__parse_int(f->p, f->len, &v[c].u.i)) < 0)
				return csv_bad_value(r, f, c,
				                     rc == -2 ? "is out of the BIGINT range"
				                              : "is not an integer");
			break;
		case ROWS_DOUBLE:
			if ((rc = rows__parse_double(f->p, f->len, &v[c].u.d)) != 0)
				return rc < -1 ? rc : csv_bad_value(r, f, c, "is not a number");
			break;
		case ROWS_BOOLEAN:
			if (rows__parse_bool(f->p, f->len, &v[c].u.b) < 0)
				return csv_bad_value(r, f, c, "is not a boolean (true or false)");
			break;
		default: {
			char *d = b->arena.ptr + b->arena.size;
			if (!udfenv_text_utf8_valid(f->p, f->len))
				return rec_error(r, r->line, NULL, UDFENV_EINVALID,
				                 "invalid UTF-8 in column '%s'",
				                 r->schema.cols[c].name);
			v[c].u.s.off = b->arena.size;
			if (f->escaped) {
				v[c].u.s.len = unescape_quotes(d, f->p, f->len);
			} else {
				memcpy(d, f->p, f->len);
				v[c].u.s.len = f->len;
			}
			b->arena.size += v[c].u.s.len;
		}
		}
	}
	b->arena.ptr[b->arena.size] = '\0';
	b->file[row] = r->cur;
	b->line[row] = r->line;
	b->nrows++;
	return 0;
}

/* Rows of the open CSV file into `b` until it holds `max` or the file ends (and is closed). */
static int csv_rows(rows_reader *r, rows_batch *b, size_t max)
{
	size_t next, nl;
	int rc, error;

	if (!r->started) {
		if ((rc = csv_header(r)) < 0)
			return rc;
		if (rc == 0) {
			close_file(r);
			return 0;
		}
		if ((error = csv_map(r)) < 0)
			return error;
		r->started = 1;
	}
	while (b->nrows < max) {
		if ((rc = csv_next(r, &next, &nl)) < 0)
			return rc;
		if (rc == 0) {
			close_file(r);
			return 0;
		}
		if ((error = csv_row(r, b, next - r->pos)) < 0)
			return error;
		csv_advance(r, next, nl);
	}
	return 0;
}

/* --- JSON Lines --- */

/* The next line of the open file in [*ls, *le) (no '\n'): 1, or 0 at the end. */
static int jsonl_next(rows_reader *r, const char **ls, const char **le)
{
	int error;

	if (!r->started) {
		if ((error = skip_bom(r)) < 0)
			return error;
		r->started = 1;
	}
	for (;;) {
		const char *p = r->buf + r->pos, *end = r->buf + r->end;
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if ((size_t)((nl ? nl : end) - p) > ROWS_FIELD_MAX)
			return rec_error(r, r->line, NULL, UDFENV_ELIMIT,
			                 "line longer than %zu MiB", ROWS_FIELD_MAX >> 20);
		if (nl == NULL && !r->eof) {
			/* The buffer may grow to a whole line, never more. */
			if ((error = fill(r, ROWS_FIELD_MAX + 2)) == UDFENV_ELIMIT)
				return rec_error(r, r->line, NULL, UDFENV_ELIMIT,
				                 "line longer than %zu MiB", ROWS_FIELD_MAX >> 20);
			if (error < 0)
				return error;
			continue;
		}
		if (nl == NULL && p == end)
			return 0;
		*ls = p;
		*le = nl ? nl : end;
		r->pos = (size_t)(*le - r->buf) + (nl ? 1 : 0);
		return 1;
	}
}

/* Make the per-column arrays hold `n` columns. */
static int ensure_cols(rows_reader *r, size_t n)
{
	size_t cap = r->ccap ? r->ccap : 16;
	void *p;

	if (n <= r->ccap)
		return 0;
	while (cap < n)
		cap *= 2;
	if ((p = realloc(r->seen, cap * sizeof(*r->seen))) == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	r->seen = p;
	memset(r->seen + r->ccap, 0, (cap - r->ccap) * sizeof(*r->seen));
	if ((p = realloc(r->name_len, cap * sizeof(*r->name_len))) == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	r->name_len = p;
	if ((p = realloc(r->kinds, cap)) == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	r->kinds = p;
	memset(r->kinds + r->ccap, 0, cap - r->ccap);
	r->ccap = cap;
	return 0;
}

static long find_key(rows_reader *r, const char *k, size_t len)
{
	size_t n = r->schema.n;

	/* Keys mostly come in schema order: try the column after the last one first. */
	if (r->hint < n && r->name_len[r->hint] == len &&
	    memcmp(r->schema.cols[r->hint].name, k, len) == 0)
		return (long)r->hint++;
	for (size_t c = 0; c < n; c++)
		if (r->name_len[c] == len && memcmp(r->schema.cols[c].name, k, len) == 0) {
			r->hint = c + 1;
			return (long)c;
		}
	return -1;
}

/* JSON Lines inference: what kinds of values a column held. */
enum { J_INT = 1, J_DOUBLE = 2, J_BOOL = 4, J_STRING = 8 };

static const char *kind_words(unsigned k)
{
	return k & J_STRING ? "strings" : k & J_BOOL ? "booleans" : "numbers";
}

static int infer_note(rows_reader *r, size_t col, const rows_value *v)
{
	unsigned k = v->kind == ROWS_BIGINT    ? J_INT
	             : v->kind == ROWS_DOUBLE  ? J_DOUBLE
	             : v->kind == ROWS_BOOLEAN ? J_BOOL
	             : v->kind == ROWS_STRING  ? J_STRING
	                                       : 0;
	unsigned had = r->kinds[col];
	unsigned num = J_INT | J_DOUBLE;

	if (k && had && !((had & num) && (k & num)) && !(had & k))
		return rec_error(r, r->line, r->schema.cols[col].name, UDFENV_EINVALID,
		                 "holds %s and %s: a column has one type", kind_words(had),
		                 kind_words(k));
	r->kinds[col] = (uint8_t)(had | k);
	return 0;
}

/* Put "FILE line N: " in front of the JSON lexer's message. */
static int line_prefix(const rows_reader *r)
{
	return udfenv_error_prefix("%s line %llu: ", cur_path(r), (unsigned long long)r->line);
}

/*
 * The key at c->p (its opening quote) as a column index in *col. Reading,
 * an unknown key is an error; inferring (`add`), it becomes a new column.
 * Plain keys are compared in place; only escaped ones are decoded.
 */
static int jsonl_key(rows_reader *r, rows_jcur *c, int add, long *col)
{
	udfenv_buf shown = UDFENV_BUF_INIT;
	const char *k, *q;
	size_t klen, off;
	int error;

	for (q = c->p + 1; q < c->end && *q != '"' && *q != '\\'; q++)
		;
	if (q < c->end && *q == '"') {
		k = c->p + 1;
		klen = (size_t)(q - k);
		c->p = q + 1;
	} else {
		udfenv_buf_clear(&r->key);
		if (rows__json_string(c, &r->key, &off, &klen) < 0)
			return line_prefix(r);
		k = r->key.ptr;
	}
	if ((*col = find_key(r, k, klen)) >= 0)
		return 0;
	if (!add) {
		if ((error = rows__snippet(&shown, k, klen, 100)) == 0)
			error = rec_error(r, r->line, NULL, UDFENV_EINVALID,
			                  "key '%s' is not in the schema", udfenv_buf_cstr(&shown));
		udfenv_buf_dispose(&shown);
		return error;
	}
	if (memchr(k, '\0', klen) != NULL)
		return rec_error(r, r->line, NULL, UDFENV_EINVALID, "a key holds a NUL character");
	char *name = strndup(k, klen);
	error = name ? rows_schema_add(&r->schema, name, ROWS_STRING)
	             : udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	free(name);
	if (error == 0 && (error = ensure_cols(r, r->schema.n)) == 0) {
		r->name_len[r->schema.n - 1] = klen;
		*col = (long)r->schema.n - 1;
	}
	return error < 0 ? line_prefix(r) : 0;
}

/*
 * One line as an object: into row b->nrows of `b` (b NULL when inferring:
 * new keys become columns, values are only looked at). 1 for a row, 0 for
 * a blank line.
 */
static int jsonl_object(rows_reader *r, rows_batch *b, const char *ls, const char *le)
{
	rows_jcur c = {ls, le, ls};
	udfenv_buf *arena = b ? &b->arena : &r->scratch;
	rows_value *row = NULL, any;
	int error;

	rows__json_ws(&c);
	if (c.p == c.end)
		return 0;
	if (*c.p != '{') {
		rows__json_syntax(&c, "'{' to start an object");
		return line_prefix(r);
	}
	if (b) {
		if (b->nrows >= b->cap && (error = rows__batch_reserve(b, b->nrows + 1, 1)) < 0)
			return error;
		row = &b->v[b->nrows * b->ncols];
		for (size_t i = 0; i < b->ncols; i++)
			row[i].kind = ROWS_NULL;
	} else {
		udfenv_buf_clear(&r->scratch);
	}
	/* Strings and keys are no longer than the line. */
	if ((error = rows__buf_need(arena, (size_t)(le - ls))) < 0 ||
	    (error = rows__buf_need(&r->key, (size_t)(le - ls))) < 0)
		return error;
	/* A new mark for this line's keys; 0 means "never", so skip it on wrap. */
	if (++r->gen == 0)
		r->gen = 1;
	r->hint = 0;
	c.p++;
	rows__json_ws(&c);
	if (c.p < c.end && *c.p == '}')
		c.p++;
	else
		for (;;) {
			long col = -1;

			if (c.p == c.end || *c.p != '"') {
				rows__json_syntax(&c, "'\"' to start a key");
				return line_prefix(r);
			}
			if ((error = jsonl_key(r, &c, b == NULL, &col)) < 0)
				return error;
			if (r->seen[col] == r->gen)
				return rec_error(r, r->line, NULL, UDFENV_EINVALID,
				                 "duplicate key '%s'", r->schema.cols[col].name);
			r->seen[col] = r->gen;
			rows__json_ws(&c);
			if (c.p == c.end || *c.p != ':') {
				rows__json_syntax(&c, "':' after a key");
				return line_prefix(r);
			}
			c.p++;
			rows__json_ws(&c);
			error = rows__json_value(&c, b ? (int)r->schema.cols[col].type : ROWS_NULL,
			                         b ? &row[col] : &any, arena);
			if (error < 0)
				return udfenv_error_prefix(
					"%s line %llu: column '%s': ", cur_path(r),
					(unsigned long long)r->line, r->schema.cols[col].name);
			if (b == NULL && (error = infer_note(r, (size_t)col, &any)) < 0)
				return error;
			rows__json_ws(&c);
			if (c.p < c.end && *c.p == ',') {
				c.p++;
				rows__json_ws(&c);
				continue;
			}
			if (c.p < c.end && *c.p == '}') {
				c.p++;
				break;
			}
			rows__json_syntax(&c, "',' or '}'");
			return line_prefix(r);
		}
	rows__json_ws(&c);
	if (c.p != c.end) {
		rows__json_syntax(&c, "the end of the line after the object");
		return line_prefix(r);
	}
	if (b) {
		arena->ptr[arena->size] = '\0';
		b->file[b->nrows] = r->cur;
		b->line[b->nrows] = r->line;
		b->nrows++;
	}
	return 1;
}

static int jsonl_rows(rows_reader *r, rows_batch *b, size_t max)
{
	const char *ls, *le;
	int rc;

	while (b->nrows < max) {
		if ((rc = jsonl_next(r, &ls, &le)) < 0)
			return rc;
		if (rc == 0) {
			close_file(r);
			return 0;
		}
		if ((rc = jsonl_object(r, b, ls, le)) < 0)
			return rc;
		r->line++;
	}
	return 0;
}

/* --- the reader --- */

static int reader_new(rows_reader **out, rows_format fmt, const char *path)
{
	rows_reader *r;
	struct stat st;
	int error;

	*out = NULL;
	if (fmt != ROWS_CSV && fmt != ROWS_JSONL)
		return udfenv_error_set(UDFENV_EINVALID, "unknown source format %d", (int)fmt);
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	r->fmt = fmt;
	r->fd = -1;
	if ((error = rows_list_source(&r->files, path)) < 0)
		goto done;
	if (r->files.count > UINT32_MAX - 1) {
		error = udfenv_error_set(UDFENV_ELIMIT, "source '%s' has too many files", path);
		goto done;
	}
	if ((r->sizes = calloc(r->files.count + 1, sizeof(*r->sizes))) == NULL ||
	    (r->buf = malloc(ROWS_IO_BUF)) == NULL) {
		error = udfenv_error_set(UDFENV_ENOMEM, "out of memory");
		goto done;
	}
	r->bcap = ROWS_IO_BUF;
	for (size_t i = 0; i < r->files.count; i++) {
		if (stat(r->files.items[i], &st) < 0) {
			error = udfenv_error_set_os(udfenv_error_from_errno(errno),
			                            "cannot read '%s'", r->files.items[i]);
			goto done;
		}
		r->sizes[i] = (uint64_t)st.st_size;
		r->total += (uint64_t)st.st_size;
	}
done:
	if (error < 0)
		rows_reader_free(r);
	else
		*out = r;
	return error;
}

int rows_reader_open(rows_reader **out, rows_format fmt, const char *path,
                     const rows_schema *schema)
{
	rows_reader *r;
	int error;

	if ((error = reader_new(&r, fmt, path)) < 0)
		return error;
	if ((error = rows__schema_copy(&r->schema, schema)) < 0 ||
	    (error = ensure_cols(r, schema->n)) < 0) {
		rows_reader_free(r);
		return error;
	}
	for (size_t c = 0; c < schema->n; c++)
		r->name_len[c] = strlen(schema->cols[c].name);
	*out = r;
	return 0;
}

int rows_reader_next(rows_reader *r, rows_batch *b, size_t max)
{
	int error = 0;

	rows_batch_reset(b, r->schema.n);
	/* A failure leaves r->cur on the file it happened in. */
	if (r->failed)
		return udfenv_error_set(UDFENV_ERROR, "the reader of '%s' failed earlier",
		                        r->cur < r->files.count ? r->files.items[r->cur] : "?");
	if (max == 0)
		return udfenv_error_set(UDFENV_EINVALID, "a batch of 0 rows was asked for");
	if ((error = rows__batch_reserve(b, max < 4096 ? max : 4096, 1)) < 0)
		return error;
	while (b->nrows < max && error == 0) {
		if (r->fd < 0) {
			if (r->cur >= r->files.count)
				break;
			if ((error = open_file(r)) < 0)
				break;
		}
		error = r->fmt == ROWS_CSV ? csv_rows(r, b, max) : jsonl_rows(r, b, max);
	}
	if (error < 0) {
		r->failed = 1;
		b->nrows = 0;
	}
	return error;
}

const char *rows_reader_file(const rows_reader *r, uint32_t index)
{
	return index < r->files.count ? r->files.items[index] : NULL;
}

void rows_reader_progress(const rows_reader *r, uint64_t *done, uint64_t *total)
{
	uint64_t d = r->done_files;

	if (r->fd >= 0)
		d += r->file_off + r->pos;
	/* A file that grew while read must not make progress pass 100%. */
	*done = d < r->total ? d : r->total;
	*total = r->total;
}

void rows_reader_free(rows_reader *r)
{
	if (r == NULL)
		return;
	if (r->fd >= 0)
		close(r->fd);
	rows_schema_dispose(&r->schema);
	udfenv_strvec_dispose(&r->files);
	udfenv_strvec_dispose(&r->header);
	udfenv_buf_dispose(&r->key);
	udfenv_buf_dispose(&r->scratch);
	free(r->name_len);
	free(r->sizes);
	free(r->buf);
	free(r->fields);
	free(r->map);
	free(r->seen);
	free(r->kinds);
	free(r);
}

/* --- inference --- */

enum { C_INT = 1, C_DOUBLE = 2, C_BOOL = 4 };

static int infer_csv(rows_reader *r, rows_schema *out, size_t sample)
{
	const uint8_t nonnull = 8;
	size_t ncols = r->header.count, next, nl;
	int rc, error = 0;

	/* Names first: a bad header is reported before any row. */
	for (size_t i = 0; i < ncols; i++)
		if ((error = rows_schema_add(out, r->header.items[i], ROWS_STRING)) < 0)
			return udfenv_error_prefix("%s: ", cur_path(r));
	if ((error = ensure_cols(r, ncols)) < 0)
		return error;
	memset(r->kinds, C_INT | C_DOUBLE | C_BOOL, ncols);
	for (size_t row = 0; sample == 0 || row < sample; row++) {
		if ((rc = csv_next(r, &next, &nl)) < 0)
			return rc;
		if (rc == 0)
			break;
		if (r->nfields != ncols)
			return rec_error(r, r->line, NULL, UDFENV_EINVALID,
			                 "expected %zu fields, found %zu", ncols, r->nfields);
		for (size_t i = 0; i < ncols; i++) {
			const csv_field *f = &r->fields[i];
			uint8_t k = r->kinds[i];
			int64_t iv;
			double dv;
			int bv;

			if (f->len == 0)
				continue;
			if (!udfenv_text_utf8_valid(f->p, f->len))
				return rec_error(r, r->line, NULL, UDFENV_EINVALID,
				                 "invalid UTF-8 in column '%s'",
				                 r->header.items[i]);
			k |= nonnull;
			if (f->escaped)
				k &= (uint8_t) ~(C_INT | C_DOUBLE | C_BOOL);
			if ((k & C_INT) && rows__parse_int(f->p, f->len, &iv) < 0)
				k &= (uint8_t)~C_INT;
			if ((k & C_DOUBLE) && (rc = rows__parse_double(f->p, f->len, &dv)) != 0) {
				if (rc < -1)
					return rc;
				k &= (uint8_t)~C_DOUBLE;
			}
			if ((k & C_BOOL) && rows__parse_bool(f->p, f->len, &bv) < 0)
				k &= (uint8_t)~C_BOOL;
			r->kinds[i] = k;
		}
		csv_advance(r, next, nl);
	}
	for (size_t i = 0; i < ncols; i++) {
		uint8_t k = r->kinds[i];
		out->cols[i].type = !(k & nonnull) ? ROWS_STRING
		                    : k & C_INT    ? ROWS_BIGINT
		                    : k & C_DOUBLE ? ROWS_DOUBLE
		                    : k & C_BOOL   ? ROWS_BOOLEAN
		                                   : ROWS_STRING;
	}
	return 0;
}

static int infer_jsonl(rows_reader *r, rows_schema *out, size_t sample)
{
	const char *ls, *le;
	size_t rows = 0;
	int rc;

	while (sample == 0 || rows < sample) {
		if ((rc = jsonl_next(r, &ls, &le)) < 0)
			return rc;
		if (rc == 0)
			break;
		if ((rc = jsonl_object(r, NULL, ls, le)) < 0)
			return rc;
		rows += (size_t)rc;
		r->line++;
	}
	for (size_t c = 0; c < r->schema.n; c++) {
		unsigned k = r->kinds[c];
		r->schema.cols[c].type = k & J_STRING   ? ROWS_STRING
		                         : k & J_BOOL   ? ROWS_BOOLEAN
		                         : k & J_DOUBLE ? ROWS_DOUBLE
		                         : k & J_INT    ? ROWS_BIGINT
		                                        : ROWS_STRING;
	}
	/* The names were gathered in r->schema, in order of first appearance. */
	*out = r->schema;
	r->schema.n = 0;
	r->schema.cols = NULL;
	return 0;
}

int rows_infer_schema(rows_schema *out, rows_format fmt, const char *path, size_t sample)
{
	rows_reader *r = NULL;
	int rc, error;

	out->n = 0;
	out->cols = NULL;
	if ((error = reader_new(&r, fmt, path)) < 0)
		return error;
	/* Part files may be empty (a worker that wrote nothing): take the first with bytes. */
	while (r->cur < r->files.count && r->sizes[r->cur] == 0)
		r->cur++;
	if (r->cur == r->files.count)
		goto empty;
	if ((error = open_file(r)) < 0)
		goto done;
	if (fmt == ROWS_CSV) {
		if ((rc = csv_header(r)) < 0) {
			error = rc;
			goto done;
		}
		if (rc == 0)
			goto empty;
		error = infer_csv(r, out, sample);
	} else {
		if ((error = infer_jsonl(r, out, sample)) == 0 && out->n == 0)
			goto empty;
	}
	goto done;
empty:
	error = udfenv_error_set(
		UDFENV_EINVALID,
		"cannot infer the columns of '%s': it is empty; declare the schema", path);
done:
	if (error < 0)
		rows_schema_dispose(out);
	rows_reader_free(r);
	return error;
}
