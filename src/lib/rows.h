/*
 * Rows: typed values in batches, read from CSV / JSON Lines sources,
 * written to CSV / JSON Lines sinks, and coded as the JSON columns of the
 * worker protocol (docs/protocol.md). Knows nothing of workers or plans.
 *
 * Everything read here comes from outside: every error names the file, the
 * line and the column (or, for protocol columns, the column and row index).
 */
#ifndef UDFENV_LIB_ROWS_H
#define UDFENV_LIB_ROWS_H

#include "util/buf.h"

#include <stddef.h>
#include <stdint.h>

typedef enum {
	ROWS_NULL = 0, /* only as a value kind, never a column type */
	ROWS_BIGINT = 1,
	ROWS_DOUBLE = 2,
	ROWS_STRING = 3,
	ROWS_BOOLEAN = 4,
} rows_type;

/* "BIGINT", "DOUBLE", "STRING", "BOOLEAN" ("NULL" for ROWS_NULL). */
const char *rows_type_name(rows_type t);
/* The type named `name` (exactly one of the four names above); -1 if none. */
int rows_type_parse(const char *name);

typedef struct {
	char *name;
	rows_type type;
} rows_column;

typedef struct {
	size_t n;
	rows_column *cols;
} rows_schema;

void rows_schema_dispose(rows_schema *s);
/* Append a column (name copied). UDFENV_EINVALID for a bad or duplicate name (see docs/protocol.md). */
int rows_schema_add(rows_schema *s, const char *name, rows_type type);
/* Index of the column `name`, or -1. */
long rows_schema_find(const rows_schema *s, const char *name);

typedef struct {
	uint8_t kind; /* rows_type; ROWS_NULL for NULL */
	union {
		int64_t i;
		double d;
		int b;
		struct {
			size_t off; /* into the batch's arena */
			size_t len;
		} s;
	} u;
} rows_value;

/*
 * A batch: nrows rows of ncols values, row-major (v[r * ncols + c]), string
 * bytes in `arena` (not NUL-terminated per value). Rows read from a source
 * also carry where they came from.
 */
typedef struct {
	size_t ncols;
	size_t nrows;
	size_t cap;        /* rows allocated */
	rows_value *v;
	udfenv_buf arena;
	uint32_t *file;    /* reader batches: index of the source file of each row */
	uint64_t *line;    /* reader batches: 1-based line of each row in that file */
} rows_batch;

#define ROWS_BATCH_INIT {0, 0, 0, NULL, UDFENV_BUF_INIT, NULL, NULL}

/*
 * Empty the batch and set its column count (keeps the memory; a different
 * column count frees the value arrays, as their row capacity changes).
 */
void rows_batch_reset(rows_batch *b, size_t ncols);
void rows_batch_dispose(rows_batch *b);
/* The value at row r, column c. */
static inline const rows_value *rows_batch_at(const rows_batch *b, size_t r, size_t c)
{
	return &b->v[r * b->ncols + c];
}
/* The bytes of a string value of `b`. */
static inline const char *rows_batch_str(const rows_batch *b, const rows_value *v)
{
	return b->arena.ptr + v->u.s.off;
}
/*
 * Append row r of `b` as one line of text for error messages:
 * `{"id": 1, "name": "x"}` with the schema's names, strings JSON-escaped,
 * each cut to 200 bytes (on a character boundary) with "..." inside its
 * quotes, DOUBLE as in the protocol (NaN, Infinity).
 */
int rows_format_row(udfenv_buf *out, const rows_batch *b, size_t r, const rows_schema *schema);

typedef enum { ROWS_CSV = 1, ROWS_JSONL = 2 } rows_format;

/* "csv" -> ROWS_CSV, "jsonl" -> ROWS_JSONL; -1 if neither. */
int rows_format_parse(const char *name);
/* "csv" or "jsonl" (also the part-file extension). */
const char *rows_format_name(rows_format f);

/*
 * The files of a source: `path` itself if it is a file, else its part
 * files (regular files whose names do not start with '.' or '_') sorted by
 * name; an empty directory is 0 files. UDFENV_ENOTFOUND if `path` is
 * missing, UDFENV_EINVALID if it is neither a file nor a directory.
 */
int rows_list_source(udfenv_strvec *files, const char *path);

/*
 * CSV (RFC 4180): ',' between fields, '"' quotes, '""' a quote inside
 * quotes, LF or CRLF line ends, quoted fields may span lines, a first line
 * of column names. An empty unquoted field is NULL; "" is the empty string
 * (for a STRING column; for the other types it is NULL too, as writers that
 * quote everything write it for None). Quoting is only lexical: "12" is 12.
 * BIGINT: optional sign and decimal digits in range; DOUBLE: what strtod
 * takes in the C locale, whole field, no leading space ("nan", "inf",
 * "-inf" too); BOOLEAN: true/false (any case); STRING: anything, as valid
 * UTF-8. A UTF-8 BOM at the start of a file is skipped. Every line must
 * have the header's number of fields (a blank line is one empty field: a
 * NULL row for one column, else an error); a trailing newline at the end of
 * the file is optional. A '"' inside an unquoted field is an error; a CR
 * not followed by LF is data. A field longer than 64 MiB or a row longer
 * than 128 MiB is UDFENV_ELIMIT.
 *
 * JSON Lines: one JSON object per line, blank lines skipped; a key names a
 * column, missing keys are NULL, keys not in the schema (and a key twice)
 * are an error; the value must fit the column type (an integer fits
 * DOUBLE; NaN, Infinity, -Infinity are DOUBLEs). A line longer than 64 MiB
 * is UDFENV_ELIMIT. A UTF-8 BOM at the start of a file is skipped.
 *
 * Each CSV file's header must hold exactly the schema's names, in any
 * order: columns are matched by name.
 *
 * Line numbers count physical lines from 1 (the CSV header is line 1); a
 * row's line is the one it starts on.
 */
typedef struct rows_reader rows_reader;

/* Open the source at `path` (see rows_list_source) for rows of `schema` (copied). */
int rows_reader_open(rows_reader **out, rows_format fmt, const char *path, const rows_schema *schema);
/*
 * Read up to `max` rows (max >= 1) into `b` (reset first, ncols = the
 * schema's): b->nrows == 0 means the end of the input. On failure the
 * error says "FILE line N: ..." and names the column, `b` is left empty and
 * the reader is spent: later calls fail with UDFENV_ERROR.
 */
int rows_reader_next(rows_reader *r, rows_batch *b, size_t max);
/* The path of source file `index` (as in rows_batch.file). */
const char *rows_reader_file(const rows_reader *r, uint32_t index);
/*
 * Bytes consumed so far, and the total size of all the source files as
 * stat'ed at open (for progress; `done` never passes `total`).
 */
void rows_reader_progress(const rows_reader *r, uint64_t *done, uint64_t *total);
void rows_reader_free(rows_reader *r);

/*
 * Infer the schema of a source from its first file (the first that is not
 * empty: a directory may hold empty parts): CSV column names from the
 * header, JSON Lines names in order of first appearance. A column's type is
 * the narrowest that fits every non-NULL value among the first `sample`
 * rows (0: all rows): BIGINT, then DOUBLE, then BOOLEAN, else STRING; a
 * column with only NULLs is STRING. In JSON Lines, where a value's JSON
 * type is its type, integers and other numbers make a DOUBLE; a column
 * that mixes numbers, strings and booleans, or holds a list or an object,
 * is UDFENV_EINVALID naming the line (no schema could read it). An empty
 * source (no files, or no header / no keys) is UDFENV_EINVALID "cannot
 * infer the columns of 'P': it is empty; declare the schema". Bad column
 * names are refused as by rows_schema_add.
 */
int rows_infer_schema(rows_schema *out, rows_format fmt, const char *path, size_t sample);

/*
 * A sink writer, to an fd (buffered; flushed by rows_writer_finish) or,
 * with fd < 0, appending to `mem`. CSV: a header line of the schema's
 * names, then one line per row, LF ends, a field quoted when it holds ','
 * '"' CR LF, starts/ends with a space or starts with U+FEFF (which, first in
 * a file, would read as a byte order mark), NULL as an empty field, "" for an
 * empty string, DOUBLE in the shortest form that reads back the same with
 * a '.0' when it would look like an integer ("nan", "inf", "-inf"),
 * BOOLEAN as true/false. JSON Lines: one compact object per row
 * (`{"id":1,"name":"x"}`), keys in schema order, non-ASCII written as
 * UTF-8, NULL as null, DOUBLE as in the protocol. The fd stays the
 * caller's (never closed). After a failed write or finish the writer is
 * spent: later calls fail with UDFENV_ERROR.
 */
typedef struct rows_writer rows_writer;

int rows_writer_open(rows_writer **out, rows_format fmt, int fd, udfenv_buf *mem, const char *name,
		     const rows_schema *schema);
/* Write every row of `b` (whose columns are the schema's). */
int rows_writer_write(rows_writer *w, const rows_batch *b);
/* Flush what is buffered (errors name `name`). */
int rows_writer_finish(rows_writer *w);
void rows_writer_free(rows_writer *w);

/*
 * Protocol columns (docs/protocol.md): append to `out` the JSON list of the
 * columns of `b`, each a list of its values in row order, with no spaces.
 * DOUBLE in the shortest of %.15g, %.16g, %.17g that reads back the same,
 * with ".0" when it would look like an integer, and NaN, Infinity,
 * -Infinity. Strings are written as UTF-8 (they must be valid, as every
 * string a reader or rows_decode_columns makes is); '"', '\' and control
 * characters are escaped.
 */
int rows_encode_columns(udfenv_buf *out, const rows_batch *b);

/*
 * Parse a JSON list of columns into `b` (reset first), checking it against
 * `schema`: exactly schema->n columns, all of one length, every value of
 * its column's type or NULL (an integer is taken for DOUBLE; NaN,
 * Infinity, -Infinity too). Strict JSON otherwise: valid UTF-8, no lone
 * surrogates, no nested values, nothing after the list but whitespace.
 * Bounded: more than `max_rows` rows is UDFENV_ELIMIT. Errors
 * (UDFENV_EINVALID) say which column and row (0-based, within the batch)
 * and what was found, e.g. "column 'n' row 3: expected BIGINT, got a
 * string". `b` gets no file/line arrays.
 */
int rows_decode_columns(rows_batch *b, const rows_schema *schema, const char *json, size_t len, size_t max_rows);

#endif
