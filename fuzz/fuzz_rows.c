/*
 * Rows (src/lib/rows.h): the CSV and JSON Lines readers (job inputs, and the
 * tasks' out/<i>.csv files the Slurm client reads), schema inference, the
 * writers, and the worker protocol's JSON columns (rows_decode_columns
 * reads what a worker process sends).
 *
 * Input: a first byte, 'j' for JSON Lines, anything else for CSV; then the
 * source file's bytes up to a NUL; after it, a JSON list of columns. The
 * source's schema is inferred from all its rows; the columns are decoded
 * for that schema (or, when inference failed, for a, BIGINT; b, DOUBLE;
 * c, STRING; d, BOOLEAN). Checked: the error contract; a source whose
 * schema was inferred reads with it; what was read, written by each writer
 * (CSV and JSON Lines) and read back, is the same rows (compared through
 * the protocol encoding, which is exact); encoded columns decode to the
 * same rows; rows_format_row formats every row.
 */
#include "fuzz_common.h"

#include "lib/rows.h"
#include "util/error.h"

#include <string.h>

#define BATCH 7 /* rows per batch: small, to cross batch boundaries */

static rows_schema fixed;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init("rows");
	FUZZ_CHECK(rows_schema_add(&fixed, "a", ROWS_BIGINT) == 0 && rows_schema_add(&fixed, "b", ROWS_DOUBLE) == 0 &&
			   rows_schema_add(&fixed, "c", ROWS_STRING) == 0 && rows_schema_add(&fixed, "d", ROWS_BOOLEAN) == 0,
		   "%s", "schema");
	return 0;
}

/* `b`'s columns encoded and decoded again: the same encoding. */
static void round_trip_columns(const rows_batch *b, const rows_schema *schema, udfenv_buf *enc)
{
	udfenv_buf again = UDFENV_BUF_INIT;
	rows_batch back = ROWS_BATCH_INIT;
	size_t start = enc->size;
	int error;

	FUZZ_CHECK(rows_encode_columns(enc, b) == 0, "%s", "encode");
	error = rows_decode_columns(&back, schema, enc->ptr + start, enc->size - start, b->nrows + 1);
	FUZZ_CHECK(error == 0, "encoded columns '%s' do not decode: %s", enc->ptr + start,
		   udfenv_error_last()->message);
	FUZZ_CHECK(back.nrows == b->nrows, "%zu rows, decoded %zu", b->nrows, back.nrows);
	FUZZ_CHECK(rows_encode_columns(&again, &back) == 0 && again.size == enc->size - start &&
			   memcmp(again.ptr, enc->ptr + start, again.size) == 0,
		   "'%s' decoded and encoded is '%s'", enc->ptr + start, udfenv_buf_cstr(&again));
	rows_batch_dispose(&back);
	udfenv_buf_dispose(&again);
}

/*
 * Read the whole source `path` with `schema`: the protocol encoding of each
 * batch appended to `enc`, each batch written to `writers` (NULL-terminated,
 * may be NULL).
 */
static int read_source(rows_format fmt, const char *path, const rows_schema *schema, udfenv_buf *enc,
		       rows_writer **writers)
{
	rows_reader *r = NULL;
	rows_batch b = ROWS_BATCH_INIT;
	udfenv_buf line = UDFENV_BUF_INIT;
	int error;

	error = rows_reader_open(&r, fmt, path, schema);
	fuzz_check_error(error, "rows_reader_open");
	if (error < 0)
		return error;
	while ((error = rows_reader_next(r, &b, BATCH)) == 0 && b.nrows > 0) {
		FUZZ_CHECK(b.ncols == schema->n && b.nrows <= BATCH, "batch %zu x %zu", b.nrows, b.ncols);
		for (size_t i = 0; i < b.nrows; i++) {
			udfenv_buf_clear(&line);
			FUZZ_CHECK(rows_format_row(&line, &b, i, schema) == 0, "%s", "format_row");
		}
		round_trip_columns(&b, schema, enc);
		for (size_t w = 0; writers && writers[w]; w++)
			FUZZ_CHECK(rows_writer_write(writers[w], &b) == 0, "writer %zu: %s", w,
				   udfenv_error_last()->message);
	}
	fuzz_check_error(error, "rows_reader_next");
	rows_batch_dispose(&b);
	udfenv_buf_dispose(&line);
	rows_reader_free(r);
	return error;
}

/* What was read, written in `fmt` (the bytes in `mem`) and read back: `enc` again. */
static void read_back(rows_format fmt, const udfenv_buf *mem, const rows_schema *schema, const udfenv_buf *enc)
{
	const char *path = fuzz_path(1, fmt == ROWS_CSV ? "back.csv" : "back.jsonl");
	udfenv_buf again = UDFENV_BUF_INIT;
	int error;

	fuzz_write_file(path, udfenv_buf_cstr(mem), mem->size);
	error = read_source(fmt, path, schema, &again, NULL);
	FUZZ_CHECK(error == 0, "the %s written does not read back: %s\n%s", rows_format_name(fmt),
		   udfenv_error_last()->message, udfenv_buf_cstr(mem));
	FUZZ_CHECK(again.size == enc->size && memcmp(udfenv_buf_cstr(&again), udfenv_buf_cstr(enc), enc->size) == 0,
		   "rows '%s' written as %s read back as '%s'", udfenv_buf_cstr(enc), rows_format_name(fmt),
		   udfenv_buf_cstr(&again));
	udfenv_buf_dispose(&again);
}

static void source(rows_format fmt, const char *path, rows_schema *inferred, int *have)
{
	udfenv_buf enc = UDFENV_BUF_INIT, csv = UDFENV_BUF_INIT, jsonl = UDFENV_BUF_INIT;
	rows_writer *writers[3] = {NULL, NULL, NULL};
	const rows_schema *schema;
	int error = rows_infer_schema(inferred, fmt, path, 0);

	fuzz_check_error(error, "rows_infer_schema");
	*have = error == 0;
	schema = *have ? inferred : &fixed;
	FUZZ_CHECK(rows_writer_open(&writers[0], ROWS_CSV, -1, &csv, "out.csv", schema) == 0 &&
			   rows_writer_open(&writers[1], ROWS_JSONL, -1, &jsonl, "out.jsonl", schema) == 0,
		   "%s", "writers");
	error = read_source(fmt, path, schema, &enc, writers);
	FUZZ_CHECK(error == 0 || !*have, "a source whose schema was inferred does not read with it: %s",
		   udfenv_error_last()->message);
	if (error == 0) {
		FUZZ_CHECK(rows_writer_finish(writers[0]) == 0 && rows_writer_finish(writers[1]) == 0, "%s",
			   "finish");
		read_back(ROWS_CSV, &csv, schema, &enc);
		read_back(ROWS_JSONL, &jsonl, schema, &enc);
	}
	rows_writer_free(writers[0]);
	rows_writer_free(writers[1]);
	udfenv_buf_dispose(&enc);
	udfenv_buf_dispose(&csv);
	udfenv_buf_dispose(&jsonl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rows_format fmt = size && data[0] == 'j' ? ROWS_JSONL : ROWS_CSV;
	const char *path = fuzz_path(0, fmt == ROWS_CSV ? "in.csv" : "in.jsonl");
	rows_schema inferred = {0, NULL};
	rows_batch b = ROWS_BATCH_INIT;
	udfenv_buf enc = UDFENV_BUF_INIT;
	char *parts[2];
	size_t lens[2];
	int have, error;

	if (size)
		data++, size--;
	fuzz_split(data, size, '\0', parts, lens, 2);
	fuzz_write_file(path, parts[0], lens[0]);
	source(fmt, path, &inferred, &have);

	error = rows_decode_columns(&b, have ? &inferred : &fixed, parts[1], lens[1], 1000);
	fuzz_check_error(error, "rows_decode_columns");
	if (error == 0)
		round_trip_columns(&b, have ? &inferred : &fixed, &enc);
	rows_batch_dispose(&b);
	udfenv_buf_dispose(&enc);
	rows_schema_dispose(&inferred);
	fuzz_parts_free(parts, 2);
	return 0;
}
