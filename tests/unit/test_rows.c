/*
 * Unit tests of rows (src/lib/rows*.c): values and their text forms, the
 * protocol codec, CSV / JSON Lines readers and writers, schema inference.
 * Every fixture file is written at test time into a private temp dir that
 * is removed after each test.
 */
#include <stdint.h>

#include "testutil.h"
#include "lib/rows.h"
#include "lib/rows_int.h"
#include "util/text.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static udfenv_buf dir = UDFENV_BUF_INIT;

static int setup(void **state)
{
	(void)state;
	return tu_mkdtemp(&dir, "udfenv-test-rows-");
}

static int teardown(void **state)
{
	(void)state;
	return tu_rmdtemp(&dir);
}

/* dir/name, in a static buffer (one of a few, so two may be in use). */
static const char *at(const char *name)
{
	static char bufs[4][PATH_MAX];
	static int i;
	char *p = bufs[i++ % 4];
	tu_pathf(p, "%s/%s", udfenv_buf_cstr(&dir), name);
	return p;
}

/* Write dir/name; its path, as at() gives it. */
static const char *write_bytes(const char *name, const char *data, size_t len)
{
	const char *p = at(name);
	tu_write_bytes(p, data, len, 0644);
	return p;
}

static const char *write_text(const char *name, const char *text)
{
	return write_bytes(name, text, strlen(text));
}

/* A schema from "id:BIGINT,name:STRING" (or '|' between columns if any). */
static void mk_schema(rows_schema *s, const char *spec)
{
	char *copy = strdup(spec), *save = NULL;
	const char *sep = strchr(spec, '|') ? "|" : ",";
	s->n = 0;
	s->cols = NULL;
	for (char *tok = strtok_r(copy, sep, &save); tok; tok = strtok_r(NULL, sep, &save)) {
		char *colon = strrchr(tok, ':');
		assert_non_null(colon);
		*colon = '\0';
		int t = rows_type_parse(colon + 1);
		assert_true(t > 0);
		assert_int_equal(rows_schema_add(s, tok, (rows_type)t), 0);
	}
	free(copy);
}

static void expect_error(int got, int code, const char *words)
{
	const char *msg = udfenv_error_last()->message;
	if (got != code)
		fail_msg("expected code %d, got %d (%s)", code, got, msg);
	if (strstr(msg, words) == NULL)
		fail_msg("message '%s' lacks '%s'", msg, words);
	if (strchr(msg, '\n'))
		fail_msg("message '%s' is not one line", msg);
}

/*
 * Read the whole source in batches of `max`, one line per row:
 * "FILE:LINE {row}" (FILE the index of the source file).
 */
static int dump_source(char **out, rows_format fmt, const char *path, const char *spec, size_t max)
{
	rows_schema s;
	rows_reader *r = NULL;
	rows_batch b = ROWS_BATCH_INIT;
	udfenv_buf text = UDFENV_BUF_INIT;
	int error;

	mk_schema(&s, spec);
	*out = NULL;
	if ((error = rows_reader_open(&r, fmt, path, &s)) < 0)
		goto done;
	for (;;) {
		if ((error = rows_reader_next(r, &b, max)) < 0)
			goto done;
		if (b.nrows == 0)
			break;
		assert_true(b.nrows <= max);
		for (size_t i = 0; i < b.nrows; i++) {
			assert_non_null(rows_reader_file(r, b.file[i]));
			udfenv_buf_printf(&text, "%u:%llu ", b.file[i],
			                  (unsigned long long)b.line[i]);
			assert_int_equal(rows_format_row(&text, &b, i, &s), 0);
			udfenv_buf_putc(&text, '\n');
		}
	}
	*out = udfenv_buf_detach(&text);
done:
	udfenv_buf_dispose(&text);
	rows_batch_dispose(&b);
	rows_reader_free(r);
	rows_schema_dispose(&s);
	return error;
}

static void expect_dump(rows_format fmt, const char *path, const char *spec, const char *want)
{
	static const size_t sizes[] = {1, 2, 3, 4096};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char *got = NULL;
		int error = dump_source(&got, fmt, path, spec, sizes[i]);
		if (error < 0)
			fail_msg("reading '%s': %s", path, udfenv_error_last()->message);
		assert_string_equal(got, want);
		free(got);
	}
}

static void expect_read_error(rows_format fmt, const char *path, const char *spec, int code,
                              const char *words)
{
	char *got = NULL;
	int error = dump_source(&got, fmt, path, spec, 4096);
	free(got);
	expect_error(error, code, words);
}

/* --- types, schemas --- */

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(rows_type_name(ROWS_BIGINT), "BIGINT");
	assert_string_equal(rows_type_name(ROWS_DOUBLE), "DOUBLE");
	assert_string_equal(rows_type_name(ROWS_STRING), "STRING");
	assert_string_equal(rows_type_name(ROWS_BOOLEAN), "BOOLEAN");
	assert_string_equal(rows_type_name(ROWS_NULL), "NULL");
	assert_int_equal(rows_type_parse("BOOLEAN"), ROWS_BOOLEAN);
	assert_int_equal(rows_type_parse("bigint"), -1);
	assert_int_equal(rows_type_parse("NULL"), -1);
	assert_int_equal(rows_format_parse("csv"), ROWS_CSV);
	assert_int_equal(rows_format_parse("jsonl"), ROWS_JSONL);
	assert_int_equal(rows_format_parse("json"), -1);
	assert_string_equal(rows_format_name(ROWS_CSV), "csv");
	assert_string_equal(rows_format_name(ROWS_JSONL), "jsonl");
}

static void test_schema(void **state)
{
	rows_schema s = {0, NULL};
	char longname[300];
	(void)state;

	assert_int_equal(rows_schema_add(&s, "id", ROWS_BIGINT), 0);
	assert_int_equal(rows_schema_add(&s, "näme", ROWS_STRING), 0);
	expect_error(rows_schema_add(&s, "id", ROWS_DOUBLE), UDFENV_EINVALID,
	             "duplicate column 'id'");
	expect_error(rows_schema_add(&s, "", ROWS_DOUBLE), UDFENV_EINVALID, "empty");
	expect_error(rows_schema_add(&s, "a\nb", ROWS_DOUBLE), UDFENV_EINVALID,
	             "control character");
	expect_error(rows_schema_add(&s, "a\xff", ROWS_DOUBLE), UDFENV_EINVALID, "not valid UTF-8");
	expect_error(rows_schema_add(&s, "x", ROWS_NULL), UDFENV_EINVALID, "type");
	memset(longname, 'a', 256);
	longname[256] = '\0';
	expect_error(rows_schema_add(&s, longname, ROWS_STRING), UDFENV_EINVALID,
	             "longer than 255");
	longname[255] = '\0';
	assert_int_equal(rows_schema_add(&s, longname, ROWS_STRING), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(rows_schema_find(&s, "näme"), 1);
	assert_int_equal(rows_schema_find(&s, "nope"), -1);
	assert_int_equal(s.cols[0].type, ROWS_BIGINT);
	rows_schema_dispose(&s);
	assert_int_equal(s.n, 0);
	rows_schema_dispose(&s);
	rows_schema_dispose(NULL);
}

/* --- numbers --- */

static void expect_fmt(double d, const char *json, const char *csv)
{
	char buf[ROWS_NUM_MAX + 1];
	size_t n = rows__fmt_double(buf, d, 1);
	buf[n] = '\0';
	assert_string_equal(buf, json);
	n = rows__fmt_double(buf, d, 0);
	buf[n] = '\0';
	assert_string_equal(buf, csv);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
	/* xorshift64*: deterministic, so failures reproduce. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1Dull;
}

/* (libm is not linked: the library needs none of it.) */
static double pow10i(int e)
{
	double d = 1;
	while (e-- > 0)
		d *= 10;
	return d;
}

static double pow2i(int e)
{
	double d = 1;
	for (; e > 0; e--)
		d *= 2;
	for (; e < 0; e++)
		d /= 2;
	return d;
}

static void check_fmt_against_reference(double d)
{
	char fast[ROWS_NUM_MAX + 1], slow[ROWS_NUM_MAX + 1];
	size_t nf = rows__fmt_double(fast, d, 1), ns = rows__fmt_double_slow(slow, d, 1);
	fast[nf] = slow[ns] = '\0';
	if (strcmp(fast, slow) != 0)
		fail_msg("%.17g: fast '%s', reference '%s'", d, fast, slow);
	if (isfinite(d)) {
		double back = strtod(fast, NULL);
		assert_memory_equal(&back, &d, sizeof(d));
		assert_non_null(strpbrk(fast, ".e"));
	}
}

static void test_format_double(void **state)
{
	(void)state;
	expect_fmt(3.0, "3.0", "3.0");
	expect_fmt(-3.0, "-3.0", "-3.0");
	expect_fmt(0.0, "0.0", "0.0");
	expect_fmt(-0.0, "-0.0", "-0.0");
	expect_fmt(0.1, "0.1", "0.1");
	expect_fmt(0.3, "0.3", "0.3");
	expect_fmt(0.1 + 0.2, "0.30000000000000004", "0.30000000000000004");
	expect_fmt(1.0 / 3, "0.3333333333333333", "0.3333333333333333");
	expect_fmt(2.5, "2.5", "2.5");
	expect_fmt(100.0, "100.0", "100.0");
	expect_fmt(123456.789, "123456.789", "123456.789");
	expect_fmt(0.0001, "0.0001", "0.0001");
	expect_fmt(0.00001, "1e-05", "1e-05");
	expect_fmt(1e15, "1e+15", "1e+15");
	expect_fmt(123456789012345.0, "123456789012345.0", "123456789012345.0");
	expect_fmt(1e20, "1e+20", "1e+20");
	expect_fmt(1e300, "1e+300", "1e+300");
	expect_fmt(-1.5e-300, "-1.5e-300", "-1.5e-300");
	expect_fmt(5e-324, "4.94065645841247e-324", "4.94065645841247e-324");
	expect_fmt(1.7976931348623157e308, "1.7976931348623157e+308", "1.7976931348623157e+308");
	expect_fmt(9007199254740993.0, "9007199254740992.0", "9007199254740992.0");
	expect_fmt(NAN, "NaN", "nan");
	expect_fmt(INFINITY, "Infinity", "inf");
	expect_fmt(-INFINITY, "-Infinity", "-inf");

	/* Powers of ten and powers of two, and their nearest neighbours. */
	for (int x = -8; x <= 17; x++) {
		double p = x < 0 ? 1 / pow10i(-x) : pow10i(x);
		for (int twice = 0; twice < 2; twice++, p = pow2i(x * 3)) {
			uint64_t bits;
			memcpy(&bits, &p, sizeof(bits));
			for (int k = -40; k <= 40; k++) {
				uint64_t near = bits + (uint64_t)(int64_t)k;
				double d;
				memcpy(&d, &near, sizeof(d));
				check_fmt_against_reference(d);
				check_fmt_against_reference(-d);
			}
		}
	}

	/* The fast path must print exactly what the snprintf loop prints. */
	for (int i = 0; i < 50000; i++) {
		/* Full 53-bit mantissas over the whole exact range [2^-18, 2^53) and a bit beyond.
		 */
		uint64_t full = ((uint64_t)(1023 - 19 + rnd() % 74) << 52) | (rnd() >> 12);
		double fd;
		memcpy(&fd, &full, sizeof(fd));
		check_fmt_against_reference(fd);
		uint64_t bits = rnd();
		double d;
		memcpy(&d, &bits, sizeof(d));
		check_fmt_against_reference(d);
		check_fmt_against_reference((double)(int64_t)(rnd() % 2000000001) / 100.0 - 1e7);
		check_fmt_against_reference((double)(rnd() % 100000) / pow10i((int)(rnd() % 12)));
		check_fmt_against_reference((double)(int64_t)(rnd() >> (rnd() % 64)));
		check_fmt_against_reference((double)(rnd() >> 11) *
		                            pow2i((int)(rnd() % 120) - 100));
	}
}

static void test_format_int(void **state)
{
	char buf[ROWS_NUM_MAX + 1];
	(void)state;
	buf[rows__fmt_int(buf, 0)] = '\0';
	assert_string_equal(buf, "0");
	buf[rows__fmt_int(buf, INT64_MIN)] = '\0';
	assert_string_equal(buf, "-9223372036854775808");
	buf[rows__fmt_int(buf, INT64_MAX)] = '\0';
	assert_string_equal(buf, "9223372036854775807");
	buf[rows__fmt_int(buf, -7)] = '\0';
	assert_string_equal(buf, "-7");
	for (int i = 0; i < 100000; i++) {
		int64_t v = (int64_t)rnd() >> (rnd() % 64);
		char ref[32];
		buf[rows__fmt_int(buf, v)] = '\0';
		snprintf(ref, sizeof(ref), "%lld", (long long)v);
		assert_string_equal(buf, ref);
	}
}

static void test_parse_numbers(void **state)
{
	int64_t i;
	double d;
	int b;
	(void)state;

	assert_int_equal(rows__parse_int("9223372036854775807", 19, &i), 0);
	assert_true(i == INT64_MAX);
	assert_int_equal(rows__parse_int("-9223372036854775808", 20, &i), 0);
	assert_true(i == INT64_MIN);
	assert_int_equal(rows__parse_int("9223372036854775808", 19, &i), -2);
	assert_int_equal(rows__parse_int("-9223372036854775809", 20, &i), -2);
	assert_int_equal(rows__parse_int("99999999999999999999999x", 24, &i), -1);
	assert_int_equal(rows__parse_int("+5", 2, &i), 0);
	assert_int_equal(i, 5);
	assert_int_equal(rows__parse_int("-", 1, &i), -1);
	assert_int_equal(rows__parse_int("", 0, &i), -1);
	assert_int_equal(rows__parse_int(" 1", 2, &i), -1);
	assert_int_equal(rows__parse_int("1 ", 2, &i), -1);
	assert_int_equal(rows__parse_int("1.0", 3, &i), -1);
	assert_int_equal(rows__parse_int("12", 1, &i), 0); /* only len bytes count */
	assert_int_equal(i, 1);

	assert_int_equal(rows__parse_double("1.5", 3, &d), 0);
	assert_true(d == 1.5);
	assert_int_equal(rows__parse_double("-0", 2, &d), 0);
	assert_true(d == 0 && signbit(d));
	assert_int_equal(rows__parse_double("nan", 3, &d), 0);
	assert_true(isnan(d));
	assert_int_equal(rows__parse_double("-inf", 4, &d), 0);
	assert_true(isinf(d) && d < 0);
	assert_int_equal(rows__parse_double("Infinity", 8, &d), 0);
	assert_true(isinf(d) && d > 0);
	assert_int_equal(rows__parse_double("1e999", 5, &d), 0);
	assert_true(isinf(d));
	assert_int_equal(rows__parse_double("0x1p3", 5, &d), 0);
	assert_true(d == 8.0);
	assert_int_equal(rows__parse_double(".5", 2, &d), 0);
	assert_true(d == 0.5);
	assert_int_equal(rows__parse_double("5.", 2, &d), 0);
	assert_true(d == 5.0);
	assert_int_equal(rows__parse_double(" 1", 2, &d), -1);
	assert_int_equal(rows__parse_double("1 ", 2, &d), -1);
	assert_int_equal(rows__parse_double("1.5x", 4, &d), -1);
	assert_int_equal(rows__parse_double("", 0, &d), -1);
	assert_int_equal(rows__parse_double("e5", 2, &d), -1);
	assert_int_equal(rows__parse_double("1\0"
	                                    "2",
	                                    3, &d),
	                 -1);
	assert_int_equal(rows__parse_double("1.25e2", 4, &d), 0); /* "1.25" only */
	assert_true(d == 1.25);

	/* rows__dec_to_double: the exact paths, and where strtod takes over. */
	assert_int_equal(rows__dec_to_double(0, 5, 1, &d), 1);
	assert_true(d == 0 && signbit(d));
	assert_int_equal(rows__dec_to_double(15, -1, 0, &d), 1);
	assert_true(d == 1.5);
	assert_int_equal(rows__dec_to_double(15, -1, 1, &d), 1);
	assert_true(d == -1.5);
	assert_int_equal(rows__dec_to_double(1, 22, 0, &d), 1);
	assert_true(d == 1e22);
	assert_int_equal(rows__dec_to_double(12345678901234567890ull, -19, 0, &d), 1);
	assert_true(d == strtod("1.2345678901234567890", NULL));
	assert_int_equal(rows__dec_to_double(3, -300, 0, &d), 0);
	assert_int_equal(rows__dec_to_double(3, 300, 0, &d), 0);

	/* Exact ties between two doubles go to the even one, as in strtod. */
	assert_int_equal(rows__parse_double("9007199254740993", 16, &d), 0);
	assert_true(d == 9007199254740992.0);
	assert_int_equal(rows__parse_double("9007199254740995", 16, &d), 0);
	assert_true(d == 9007199254740996.0);
	assert_int_equal(rows__parse_double("-18014398509481990e0", 20, &d), 0);
	assert_true(d == -18014398509481992.0);

	/* The fast paths agree with strtod on every kind of decimal. */
	for (int k = 0; k < 200000; k++) {
		char text[64];
		double ref;
		int n;
		switch (k % 6) {
		case 4: /* 1 to 19 digits, exponents around the exact range [-21, 19] */
			n = snprintf(text, sizeof(text), "%llue%d",
			             (unsigned long long)(rnd() % 10000000000000000000ull >>
			                                  (rnd() % 60)),
			             (int)(rnd() % 50) - 26);
			break;
		case 5: { /* what Python writes: 17 significant digits */
			uint64_t bits = ((uint64_t)(1023 - 70 + rnd() % 140) << 52) | (rnd() >> 12);
			memcpy(&ref, &bits, sizeof(ref));
			n = snprintf(text, sizeof(text), "%.17g", ref);
			break;
		}
		case 0:
			n = snprintf(text, sizeof(text), "%lld.%0*llu",
			             (long long)((int64_t)rnd() % 100000000), (int)(rnd() % 10) + 1,
			             (unsigned long long)(rnd() % 1000000000));
			break;
		case 1:
			n = snprintf(text, sizeof(text), "%llue%d",
			             (unsigned long long)(rnd() >> (rnd() % 64)),
			             (int)(rnd() % 80) - 40);
			break;
		case 2: {
			uint64_t bits = rnd();
			memcpy(&ref, &bits, sizeof(ref));
			n = snprintf(text, sizeof(text), "%.17g", ref);
			break;
		}
		default:
			n = snprintf(text, sizeof(text), "-%llu.%llu",
			             (unsigned long long)(rnd() % 10000),
			             (unsigned long long)(rnd() % 100));
		}
		ref = strtod(text, NULL);
		assert_int_equal(rows__parse_double(text, (size_t)n, &d), 0);
		if (memcmp(&d, &ref, sizeof(d)) != 0 && !(isnan(d) && isnan(ref)))
			fail_msg("'%s': got %.17g, strtod %.17g", text, d, ref);
	}

	assert_int_equal(rows__parse_bool("TRUE", 4, &b), 0);
	assert_int_equal(b, 1);
	assert_int_equal(rows__parse_bool("False", 5, &b), 0);
	assert_int_equal(b, 0);
	assert_int_equal(rows__parse_bool("yes", 3, &b), -1);
	assert_int_equal(rows__parse_bool("1", 1, &b), -1);
	assert_int_equal(rows__parse_bool("truex", 5, &b), -1);
}

static void test_utf8(void **state)
{
	(void)state;
	assert_true(udfenv_text_utf8_valid("", 0));
	assert_true(udfenv_text_utf8_valid("plain ascii, long enough for the fast path", 42));
	assert_true(udfenv_text_utf8_valid("h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 12));
	assert_true(udfenv_text_utf8_valid("\xf4\x8f\xbf\xbf", 4));  /* U+10FFFF */
	assert_false(udfenv_text_utf8_valid("\xf4\x90\x80\x80", 4)); /* beyond U+10FFFF */
	assert_false(udfenv_text_utf8_valid("\xed\xa0\x80", 3));     /* a surrogate */
	assert_false(udfenv_text_utf8_valid("\xc0\xaf", 2));         /* overlong */
	assert_false(udfenv_text_utf8_valid("\xe0\x80\xaf", 3));     /* overlong */
	assert_false(udfenv_text_utf8_valid("\xf0\x80\x80\xaf", 4)); /* overlong */
	assert_false(udfenv_text_utf8_valid("abcdefgh\xc3", 9));     /* cut */
	assert_false(udfenv_text_utf8_valid("\x80", 1));
	assert_false(udfenv_text_utf8_valid("\xff", 1));
	assert_false(udfenv_text_utf8_valid("abcdefghijklmnop\xc3(", 18));
}

/* --- batches and rows_format_row --- */

/* A batch of the "all" schema (id BIGINT, name STRING, value DOUBLE, flag BOOLEAN). */
#define ALL "id:BIGINT,name:STRING,value:DOUBLE,flag:BOOLEAN"

static void add_row(rows_batch *b, const rows_value *vals, const char *const *strs)
{
	assert_int_equal(rows__batch_reserve(b, b->nrows + 1, 0), 0);
	for (size_t c = 0; c < b->ncols; c++) {
		rows_value v = vals[c];
		if (v.kind == ROWS_STRING) {
			v.u.s.off = b->arena.size;
			assert_int_equal(udfenv_buf_put(&b->arena, strs[c], v.u.s.len), 0);
		}
		b->v[b->nrows * b->ncols + c] = v;
	}
	b->nrows++;
}

#define VI(x)                                                                                      \
	{                                                                                          \
		ROWS_BIGINT,                                                                       \
		{                                                                                  \
			.i = (x)                                                                   \
		}                                                                                  \
	}
#define VD(x)                                                                                      \
	{                                                                                          \
		ROWS_DOUBLE,                                                                       \
		{                                                                                  \
			.d = (x)                                                                   \
		}                                                                                  \
	}
#define VB(x)                                                                                      \
	{                                                                                          \
		ROWS_BOOLEAN,                                                                      \
		{                                                                                  \
			.b = (x)                                                                   \
		}                                                                                  \
	}
#define VS(n)                                                                                      \
	{                                                                                          \
		ROWS_STRING,                                                                       \
		{                                                                                  \
			.s = { 0, (n) }                                                            \
		}                                                                                  \
	}
#define VN                                                                                         \
	{                                                                                          \
		ROWS_NULL,                                                                         \
		{                                                                                  \
			.i = 0                                                                     \
		}                                                                                  \
	}

/* The tricky values every round trip must keep. */
static void tricky_batch(rows_batch *b)
{
	static const char *const s1[] = {NULL, "plain", NULL, NULL};
	static const char *const s2[] = {NULL, "", NULL, NULL};
	static const char *const s3[] = {NULL, "a,b \"quoted\"\nline2\r\nline3", NULL, NULL};
	static const char *const s4[] = {NULL, " h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 ", NULL,
	                                 NULL};
	static const char *const s5[] = {NULL, "tab\there\\back\x01\x1f/", NULL, NULL};
	static const char *const s6[] = {NULL, "\"", NULL, NULL};
	rows_value r1[] = {VI(1), VS(5), VD(3.0), VB(1)};
	rows_value r2[] = {VI(INT64_MIN), VS(0), VD(-0.0), VB(0)};
	rows_value r3[] = {VI(INT64_MAX), VS(strlen(s3[1])), VD(NAN), VN};
	rows_value r4[] = {VN, VS(strlen(s4[1])), VD(INFINITY), VB(1)};
	rows_value r5[] = {VI(-1), VS(strlen(s5[1])), VD(-INFINITY), VN};
	rows_value r6[] = {VI(0), VN, VD(1e300), VB(0)};
	rows_value r7[] = {VN, VS(1), VD(5e-324), VN};
	rows_value r8[] = {VI(42), VS(strlen(s1[1])), VD(0.1 + 0.2), VB(1)};
	rows_value r9[] = {VN, VN, VN, VN};
	rows_value r10[] = {VI(7), VS(0), VD(-1.5e-300), VB(0)};

	rows_batch_reset(b, 4);
	add_row(b, r1, s1);
	add_row(b, r2, s2);
	add_row(b, r3, s3);
	add_row(b, r4, s4);
	add_row(b, r5, s5);
	add_row(b, r6, s1);
	add_row(b, r7, s6);
	add_row(b, r8, s1);
	add_row(b, r9, s1);
	add_row(b, r10, s2);
}

static void assert_same_values(const rows_batch *a, const rows_batch *b)
{
	assert_int_equal(a->ncols, b->ncols);
	assert_int_equal(a->nrows, b->nrows);
	for (size_t r = 0; r < a->nrows; r++)
		for (size_t c = 0; c < a->ncols; c++) {
			const rows_value *x = rows_batch_at(a, r, c), *y = rows_batch_at(b, r, c);
			if (x->kind != y->kind)
				fail_msg("row %zu col %zu: kind %d vs %d", r, c, x->kind, y->kind);
			switch (x->kind) {
			case ROWS_BIGINT: assert_true(x->u.i == y->u.i); break;
			case ROWS_DOUBLE:
				if (isnan(x->u.d))
					assert_true(isnan(y->u.d));
				else if (memcmp(&x->u.d, &y->u.d, sizeof(double)) != 0)
					fail_msg("row %zu col %zu: %.17g vs %.17g", r, c, x->u.d,
					         y->u.d);
				break;
			case ROWS_BOOLEAN: assert_int_equal(x->u.b, y->u.b); break;
			case ROWS_STRING:
				assert_int_equal(x->u.s.len, y->u.s.len);
				assert_memory_equal(rows_batch_str(a, x), rows_batch_str(b, y),
				                    x->u.s.len + !x->u.s.len);
				break;
			}
		}
}

static void test_batch_and_format_row(void **state)
{
	rows_batch b = ROWS_BATCH_INIT;
	rows_schema s;
	udfenv_buf out = UDFENV_BUF_INIT;
	char big[400];
	(void)state;

	mk_schema(&s, ALL);
	tricky_batch(&b);
	assert_int_equal(b.nrows, 10);
	assert_int_equal(rows_format_row(&out, &b, 0, &s), 0);
	assert_string_equal(out.ptr,
	                    "{\"id\": 1, \"name\": \"plain\", \"value\": 3.0, \"flag\": true}");
	udfenv_buf_clear(&out);
	assert_int_equal(rows_format_row(&out, &b, 2, &s), 0);
	assert_string_equal(out.ptr, "{\"id\": 9223372036854775807, \"name\": \"a,b "
	                             "\\\"quoted\\\"\\nline2\\r\\nline3\", "
	                             "\"value\": NaN, \"flag\": null}");
	udfenv_buf_clear(&out);
	assert_int_equal(rows_format_row(&out, &b, 4, &s), 0);
	assert_string_equal(out.ptr,
	                    "{\"id\": -1, \"name\": \"tab\\there\\\\back\\u0001\\u001f/\", "
	                    "\"value\": -Infinity, \"flag\": null}");

	/* Long strings are cut at 200 bytes, on a character boundary. */
	memset(big, 'x', sizeof(big));
	memcpy(big + 199, "\xc3\xa9", 2);
	{
		static const char *strs[4];
		rows_value vals[] = {VN, VS(sizeof(big)), VN, VN};
		strs[1] = big;
		rows_batch_reset(&b, 4);
		add_row(&b, vals, strs);
	}
	udfenv_buf_clear(&out);
	assert_int_equal(rows_format_row(&out, &b, 0, &s), 0);
	assert_int_equal(out.size, strlen("{\"id\": null, \"name\": \"") + 199 + 3 +
	                                   strlen("\", \"value\": null, \"flag\": null}"));
	assert_non_null(strstr(out.ptr, "xxx...\", \"value\""));

	/* Changing the width starts the arrays over; reset keeps the memory otherwise. */
	rows_batch_reset(&b, 2);
	assert_int_equal(b.ncols, 2);
	assert_int_equal(b.nrows, 0);
	assert_int_equal(b.cap, 0);
	assert_int_equal(rows__batch_reserve(&b, 1000, 1), 0);
	assert_true(b.cap >= 1000);
	assert_non_null(b.file);
	rows_batch_reset(&b, 2);
	assert_true(b.cap >= 1000);

	udfenv_buf_dispose(&out);
	rows_batch_dispose(&b);
	rows_batch_dispose(&b);
	rows_schema_dispose(&s);
}

/* --- protocol codec --- */

/* The value writer shared by the protocol encoder, both sink writers and rows_format_row. */
static void test_put_value(void **state)
{
	rows_batch b = ROWS_BATCH_INIT;
	char out[64];
	static const struct {
		rows_value v;
		const char *json, *csv;
	} cases[] = {
		{VI(-42), "-42", "-42"},
		{VD(2.0), "2.0", "2.0"},
		{VD(NAN), "NaN", "nan"},
		{VD(-INFINITY), "-Infinity", "-inf"},
		{VB(1), "true", "true"},
		{VB(0), "false", "false"},
		{VN, "null", ""},
		{VS(0), "\"\"", "\"\""},
	};
	(void)state;

	rows_batch_reset(&b, 1);
	udfenv_buf_puts(&b.arena, "a\"b,c");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const rows_value *v = &cases[i].v;
		assert_int_equal(rows__value_room(v), v->kind == ROWS_STRING ? 2 : ROWS_NUM_MAX);
		char *end = rows__put_value(out, &b, v, 1);
		assert_int_equal((size_t)(end - out), strlen(cases[i].json));
		assert_memory_equal(out, cases[i].json, strlen(cases[i].json));
		end = rows__put_value(out, &b, v, 0);
		assert_int_equal((size_t)(end - out), strlen(cases[i].csv));
		assert_memory_equal(out, cases[i].csv, strlen(cases[i].csv));
	}

	/* Strings: JSON-escaped, or CSV-quoted only when needed. */
	rows_value s = VS(5);
	assert_int_equal(rows__value_room(&s), 32);
	*rows__put_value(out, &b, &s, 1) = '\0';
	assert_string_equal(out, "\"a\\\"b,c\"");
	*rows__put_value(out, &b, &s, 0) = '\0';
	assert_string_equal(out, "\"a\"\"b,c\"");
	s.u.s.len = 1;
	*rows__put_value(out, &b, &s, 0) = '\0';
	assert_string_equal(out, "a");
	rows_batch_dispose(&b);
}

/* A string whose escaped form cannot be sized is refused before a byte of it is read. */
static void test_value_too_large(void **state)
{
	rows_batch b = ROWS_BATCH_INIT;
	udfenv_buf out = UDFENV_BUF_INIT;
	rows_value huge = VS(SIZE_MAX / 4);
	rows_value row[] = {VI(1), huge};
	rows_schema s;
	rows_writer *w;
	(void)state;

	assert_int_equal(rows__value_room(&huge), SIZE_MAX);
	rows_batch_reset(&b, 2);
	assert_int_equal(rows__batch_reserve(&b, 1, 0), 0);
	memcpy(b.v, row, sizeof(row));
	b.nrows = 1;
	expect_error(rows_encode_columns(&out, &b), UDFENV_ENOMEM, "string too large");

	mk_schema(&s, "id:BIGINT,text:STRING");
	for (int fmt = ROWS_CSV; fmt <= ROWS_JSONL; fmt++) {
		udfenv_buf_clear(&out);
		assert_int_equal(rows_writer_open(&w, (rows_format)fmt, -1, &out, "out.x", &s), 0);
		expect_error(rows_writer_write(w, &b), UDFENV_ENOMEM,
		             "'out.x': a value of column 'text' is too large");
		expect_error(rows_writer_finish(w), UDFENV_ERROR, "writer 'out.x' failed earlier");
		rows_writer_free(w);
	}
	rows_schema_dispose(&s);
	udfenv_buf_dispose(&out);
	rows_batch_dispose(&b);
}

static void test_encode_exact(void **state)
{
	rows_batch b = ROWS_BATCH_INIT;
	udfenv_buf out = UDFENV_BUF_INIT;
	(void)state;

	tricky_batch(&b);
	assert_int_equal(rows_encode_columns(&out, &b), 0);
	assert_string_equal(
		out.ptr, "[[1,-9223372036854775808,9223372036854775807,null,-1,0,null,42,null,7],"
			 "[\"plain\",\"\",\"a,b \\\"quoted\\\"\\nline2\\r\\nline3\","
			 "\" h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 "
	                 "\",\"tab\\there\\\\back\\u0001\\u001f/\","
			 "null,\"\\\"\",\"plain\",null,\"\"],"
			 "[3.0,-0.0,NaN,Infinity,-Infinity,1e+300,4.94065645841247e-324,"
			 "0.30000000000000004,null,-1.5e-300],"
			 "[true,false,null,true,null,false,null,true,null,false]]");
	/* Appends: a second encode goes after the first. */
	size_t first = out.size;
	rows_batch_reset(&b, 2);
	assert_int_equal(rows_encode_columns(&out, &b), 0);
	assert_string_equal(out.ptr + first, "[[],[]]");
	rows_batch_reset(&b, 0);
	udfenv_buf_clear(&out);
	assert_int_equal(rows_encode_columns(&out, &b), 0);
	assert_string_equal(out.ptr, "[]");
	udfenv_buf_dispose(&out);
	rows_batch_dispose(&b);
}

static void test_codec_roundtrip(void **state)
{
	rows_batch b = ROWS_BATCH_INIT, d = ROWS_BATCH_INIT;
	udfenv_buf out = UDFENV_BUF_INIT;
	rows_schema s;
	(void)state;

	mk_schema(&s, ALL);
	tricky_batch(&b);
	assert_int_equal(rows_encode_columns(&out, &b), 0);
	assert_int_equal(rows_decode_columns(&d, &s, out.ptr, out.size, 10), 0);
	assert_same_values(&b, &d);
	assert_null(d.file);

	/* Many rows, and decode into a batch that already holds something. */
	rows_batch_reset(&b, 4);
	for (int i = 0; i < 5000; i++) {
		static const char *const strs[] = {NULL, "row \xc3\xa9 \"q\" \\", NULL, NULL};
		rows_value vals[] = {VI((int64_t)rnd()), VS(strlen(strs[1]) - (size_t)(i % 3)),
		                     VD((double)(int64_t)rnd() / 1e3), VB(i & 1)};
		uint64_t bits = rnd();
		if (i % 7 == 0)
			memcpy(&vals[2].u.d, &bits, sizeof(double));
		if (i % 11 == 0)
			vals[i % 4].kind = ROWS_NULL;
		add_row(&b, vals, strs);
	}
	udfenv_buf_clear(&out);
	assert_int_equal(rows_encode_columns(&out, &b), 0);
	assert_int_equal(rows_decode_columns(&d, &s, out.ptr, out.size, 5000), 0);
	assert_same_values(&b, &d);
	expect_error(rows_decode_columns(&d, &s, out.ptr, out.size, 4999), UDFENV_ELIMIT,
	             "column 'id' has more than 4999 rows");

	udfenv_buf_dispose(&out);
	rows_batch_dispose(&b);
	rows_batch_dispose(&d);
	rows_schema_dispose(&s);
}

static int decode(rows_batch *b, const char *spec, const char *json)
{
	rows_schema s;
	int error;
	mk_schema(&s, spec);
	error = rows_decode_columns(b, &s, json, strlen(json), 1000);
	rows_schema_dispose(&s);
	return error;
}

static void expect_decode_error(const char *spec, const char *json, int code, const char *words)
{
	rows_batch b = ROWS_BATCH_INIT;
	expect_error(decode(&b, spec, json), code, words);
	rows_batch_dispose(&b);
}

static void test_decode_accepts(void **state)
{
	rows_batch b = ROWS_BATCH_INIT;
	const rows_value *v;
	(void)state;

	assert_int_equal(
		decode(&b, "d:DOUBLE,i:BIGINT",
	               " \n[ [ 1 , NaN,Infinity ,-Infinity, -0, 2.5e3, "
	               "1E-2,null,12345678901234567890 ] ,\t"
	               "[0,-1,9223372036854775807,-9223372036854775808,null,5,6,7,8]]\r\n"),
		0);
	assert_int_equal(b.nrows, 9);
	v = rows_batch_at(&b, 0, 0);
	assert_int_equal(v->kind, ROWS_DOUBLE);
	assert_true(v->u.d == 1.0);
	assert_true(isnan(rows_batch_at(&b, 1, 0)->u.d));
	assert_true(rows_batch_at(&b, 2, 0)->u.d == INFINITY);
	assert_true(rows_batch_at(&b, 3, 0)->u.d == -INFINITY);
	assert_true(rows_batch_at(&b, 4, 0)->u.d == 0 && signbit(rows_batch_at(&b, 4, 0)->u.d));
	assert_true(rows_batch_at(&b, 5, 0)->u.d == 2500.0);
	assert_true(rows_batch_at(&b, 6, 0)->u.d == 0.01);
	assert_int_equal(rows_batch_at(&b, 7, 0)->kind, ROWS_NULL);
	assert_true(rows_batch_at(&b, 8, 0)->u.d == 12345678901234567890.0);
	assert_true(rows_batch_at(&b, 2, 1)->u.i == INT64_MAX);
	assert_true(rows_batch_at(&b, 3, 1)->u.i == INT64_MIN);
	assert_int_equal(rows_batch_at(&b, 4, 1)->kind, ROWS_NULL);

	assert_int_equal(decode(&b, "s:STRING,b:BOOLEAN",
	                        "[[\"\\u00e9\\ud83d\\ude00\\/\\b\\f\\n\\r\\t\\\"\\\\\", "
	                        "\"\xc3\xa9\", \"\", \"\\u0000x\"],"
	                        " [true, false, null, true]]"),
	                 0);
	v = rows_batch_at(&b, 0, 0);
	assert_int_equal(v->u.s.len, 2 + 4 + 8);
	assert_memory_equal(rows_batch_str(&b, v), "\xc3\xa9\xf0\x9f\x98\x80/\b\f\n\r\t\"\\", 14);
	assert_int_equal(rows_batch_at(&b, 1, 0)->u.s.len, 2);
	assert_int_equal(rows_batch_at(&b, 2, 0)->kind, ROWS_STRING);
	assert_int_equal(rows_batch_at(&b, 2, 0)->u.s.len, 0);
	assert_int_equal(rows_batch_at(&b, 3, 0)->u.s.len, 2);
	assert_memory_equal(rows_batch_str(&b, rows_batch_at(&b, 3, 0)), "\0x", 2);
	assert_int_equal(rows_batch_at(&b, 1, 1)->u.b, 0);
	assert_int_equal(rows_batch_at(&b, 2, 1)->kind, ROWS_NULL);

	/* Doubles as Python writes them decode to what strtod reads. */
	for (int k = 0; k < 20000; k++) {
		char text[96];
		double want;
		uint64_t bits = ((uint64_t)(1023 - 80 + rnd() % 160) << 52) | (rnd() >> 12);
		memcpy(&want, &bits, sizeof(want));
		snprintf(text, sizeof(text), k % 2 ? "[[%.17g]]" : "[[%.16e]]",
		         k % 3 ? want : -want);
		assert_int_equal(decode(&b, "d:DOUBLE", text), 0);
		want = strtod(text + 2, NULL);
		if (memcmp(&rows_batch_at(&b, 0, 0)->u.d, &want, sizeof(want)) != 0)
			fail_msg("%s: got %.17g", text, rows_batch_at(&b, 0, 0)->u.d);
	}

	assert_int_equal(decode(&b, "a:BIGINT,b:STRING", "[[],[]]"), 0);
	assert_int_equal(b.nrows, 0);
	assert_int_equal(decode(&b, "a:BIGINT", "[[-0]]"), 0);
	assert_true(rows_batch_at(&b, 0, 0)->u.i == 0);
	rows_batch_dispose(&b);
}

static void test_decode_refuses(void **state)
{
	(void)state;
	expect_decode_error("n:BIGINT", "[[1,2,3,\"x\"]]", UDFENV_EINVALID,
	                    "column 'n' row 3: expected BIGINT, got a string");
	/* A long first column the rest of the text cannot match is refused before rows are reserved. */
	expect_decode_error("a:BIGINT,b:BIGINT,c:BIGINT", "[[0,0,0,0,0,0,0,0],[0]]", UDFENV_EINVALID,
	                    "column 'a': 5 rows of 3 columns cannot fit in 23 bytes");
	expect_decode_error("n:BIGINT", "[[1.5]]", UDFENV_EINVALID,
	                    "column 'n' row 0: expected BIGINT, got 1.5");
	expect_decode_error("n:BIGINT", "[[1e3]]", UDFENV_EINVALID, "expected BIGINT, got 1e3");
	expect_decode_error("n:BIGINT", "[[9223372036854775808]]", UDFENV_EINVALID,
	                    "out of the BIGINT range");
	expect_decode_error("n:BIGINT", "[[-9223372036854775809]]", UDFENV_EINVALID,
	                    "out of the BIGINT range");
	expect_decode_error("n:BIGINT", "[[NaN]]", UDFENV_EINVALID, "expected BIGINT, got NaN");
	expect_decode_error("n:BIGINT", "[[true]]", UDFENV_EINVALID, "expected BIGINT, got true");
	expect_decode_error("n:BOOLEAN", "[[1]]", UDFENV_EINVALID, "expected BOOLEAN, got 1");
	expect_decode_error("n:STRING", "[[1]]", UDFENV_EINVALID, "expected STRING, got 1");
	expect_decode_error("n:DOUBLE", "[[\"1\"]]", UDFENV_EINVALID,
	                    "expected DOUBLE, got a string");
	expect_decode_error("n:DOUBLE", "[[[1]]]", UDFENV_EINVALID, "expected DOUBLE, got a list");
	expect_decode_error("n:DOUBLE", "[[{}]]", UDFENV_EINVALID,
	                    "expected DOUBLE, got an object");
	expect_decode_error("n:DOUBLE", "[[-Infinity, -Inf]]", UDFENV_EINVALID,
	                    "row 1: invalid JSON");
	expect_decode_error("n:DOUBLE", "[[nan]]", UDFENV_EINVALID, "invalid JSON");
	expect_decode_error("n:DOUBLE", "[[01]]", UDFENV_EINVALID, "invalid JSON");
	expect_decode_error("n:DOUBLE", "[[1.]]", UDFENV_EINVALID, "digit after '.'");
	expect_decode_error("n:DOUBLE", "[[1e]]", UDFENV_EINVALID, "exponent");
	expect_decode_error("n:DOUBLE", "[[+1]]", UDFENV_EINVALID, "invalid JSON");
	expect_decode_error("n:BIGINT", "[[1 2]]", UDFENV_EINVALID, "',' or ']'");
	expect_decode_error("n:BIGINT", "[[1,]]", UDFENV_EINVALID, "invalid JSON");
	expect_decode_error("a:BIGINT,b:BIGINT", "[[1,2]]", UDFENV_EINVALID,
	                    "expected 2 columns, got 1");
	expect_decode_error("a:BIGINT,b:BIGINT", "[]", UDFENV_EINVALID,
	                    "expected 2 columns, got 0");
	expect_decode_error("a:BIGINT", "[[1],[2]]", UDFENV_EINVALID,
	                    "expected 1 columns, got more");
	expect_decode_error("a:BIGINT,b:BIGINT", "[[1,2],[3]]", UDFENV_EINVALID,
	                    "column 'b' has 1 values, column 'a' has 2");
	expect_decode_error("a:BIGINT,b:BIGINT", "[[1],[3,4]]", UDFENV_EINVALID,
	                    "column 'b' has more values than column 'a'");
	expect_decode_error("a:BIGINT,b:BIGINT", "[[1],5]", UDFENV_EINVALID,
	                    "column 'b': expected a list of values, got a number");
	expect_decode_error("a:BIGINT", "[\"x\"]", UDFENV_EINVALID,
	                    "column 'a': expected a list of values, got a string");
	expect_decode_error("a:BIGINT", "{}", UDFENV_EINVALID, "expected '['");
	expect_decode_error("a:BIGINT", "", UDFENV_EINVALID, "found the end");
	expect_decode_error("a:BIGINT", "[[1]] x", UDFENV_EINVALID,
	                    "nothing after the list of columns");
	expect_decode_error("a:BIGINT", "[[1]]]", UDFENV_EINVALID, "nothing after");
	expect_decode_error("s:STRING", "[[\"\\ud800\"]]", UDFENV_EINVALID,
	                    "lone surrogate \\ud800");
	expect_decode_error("s:STRING", "[[\"\\ud800\\u0041\"]]", UDFENV_EINVALID,
	                    "lone surrogate");
	expect_decode_error("s:STRING", "[[\"\\udc00\"]]", UDFENV_EINVALID,
	                    "lone surrogate \\udc00");
	expect_decode_error("s:STRING", "[[\"\\u12\"]]", UDFENV_EINVALID, "hex digits");
	expect_decode_error("s:STRING", "[[\"\\x\"]]", UDFENV_EINVALID, "valid escape");
	expect_decode_error("s:STRING", "[[\"a\xff\"]]", UDFENV_EINVALID,
	                    "column 's' row 0: invalid UTF-8");
	expect_decode_error("s:STRING", "[[\"a\xed\xa0\x80\"]]", UDFENV_EINVALID, "invalid UTF-8");
	expect_decode_error("s:STRING", "[[\"a\nb\"]]", UDFENV_EINVALID, "control character");
	expect_decode_error("s:STRING", "[[\"abc", UDFENV_EINVALID, "to end the string");
	expect_decode_error("s:STRING", "[[nul]]", UDFENV_EINVALID, "invalid JSON");

	/* Every cut of a valid document is refused cleanly (and never read past its end). */
	const char *doc = "[[1,null,-3],[\"a\\u00e9\\ud83d\\ude00\",\"\",null],[1.5e-3,NaN,-"
	                  "Infinity],[true,false,null]]";
	rows_batch b = ROWS_BATCH_INIT;
	rows_schema s;
	mk_schema(&s, "a:BIGINT,b:STRING,c:DOUBLE,d:BOOLEAN");
	assert_int_equal(rows_decode_columns(&b, &s, doc, strlen(doc), 3), 0);
	for (size_t n = 0; n < strlen(doc); n++) {
		char *cut = malloc(n ? n : 1);
		memcpy(cut, doc, n);
		assert_int_equal(rows_decode_columns(&b, &s, cut, n, 3), UDFENV_EINVALID);
		free(cut);
	}
	rows_schema_dispose(&s);
	rows_batch_dispose(&b);
}

/* --- sources --- */

static void test_list_source(void **state)
{
	udfenv_strvec files = UDFENV_STRVEC_INIT;
	(void)state;

	assert_int_equal(mkdir(at("parts"), 0700), 0);
	write_text("parts/part-2.csv", "a\n");
	write_text("parts/part-10.csv", "a\n");
	write_text("parts/part-1.csv", "a\n");
	write_text("parts/.hidden.csv", "a\n");
	write_text("parts/_SUCCESS", "");
	assert_int_equal(mkdir(at("parts/sub"), 0700), 0);
	assert_int_equal(symlink("part-1.csv", at("parts/link.csv")), 0);
	assert_int_equal(rows_list_source(&files, at("parts")), 0);
	assert_int_equal(files.count, 4);
	assert_string_equal(files.items[0], at("parts/link.csv"));
	assert_string_equal(files.items[1], at("parts/part-1.csv"));
	assert_string_equal(files.items[2], at("parts/part-10.csv"));
	assert_string_equal(files.items[3], at("parts/part-2.csv"));
	udfenv_strvec_dispose(&files);

	assert_int_equal(rows_list_source(&files, at("parts/part-1.csv")), 0);
	assert_int_equal(files.count, 1);
	udfenv_strvec_dispose(&files);

	assert_int_equal(mkdir(at("empty"), 0700), 0);
	assert_int_equal(rows_list_source(&files, at("empty")), 0);
	assert_int_equal(files.count, 0);

	expect_error(rows_list_source(&files, at("missing")), UDFENV_ENOTFOUND, "missing");
	expect_error(rows_list_source(&files, "/dev/null"), UDFENV_EINVALID,
	             "'/dev/null' is neither a file nor a directory");
	udfenv_strvec_dispose(&files);
}

/* --- CSV reading --- */

static void test_csv_read(void **state)
{
	(void)state;
	/* Columns matched by name; NULL vs ""; quotes, CRLF, a quoted line break. */
	expect_dump(ROWS_CSV,
	            write_text("a.csv", "name,id,value,flag\r\n"
	                                "ann,1,1.5,true\r\n"
	                                ",2,,\r\n"
	                                "\"\",3,-0,FALSE\r\n"
	                                "\"two\r\nlines, \"\"q\"\"\",4,1e300,True\r\n"
	                                "x,-9223372036854775808,nan,false\r\n"
	                                "h\xc3\xa9,9223372036854775807,-inf,false"),
	            ALL,
	            "0:2 {\"id\": 1, \"name\": \"ann\", \"value\": 1.5, \"flag\": true}\n"
	            "0:3 {\"id\": 2, \"name\": null, \"value\": null, \"flag\": null}\n"
	            "0:4 {\"id\": 3, \"name\": \"\", \"value\": -0.0, \"flag\": false}\n"
	            "0:5 {\"id\": 4, \"name\": \"two\\r\\nlines, \\\"q\\\"\", \"value\": 1e+300, "
	            "\"flag\": true}\n"
	            "0:7 {\"id\": -9223372036854775808, \"name\": \"x\", \"value\": NaN, \"flag\": "
	            "false}\n"
	            "0:8 {\"id\": 9223372036854775807, \"name\": \"h\xc3\xa9\", \"value\": "
	            "-Infinity, \"flag\": false}\n");

	/* BOM; a quoted empty field of a non-string column is NULL; quoted numbers. */
	expect_dump(ROWS_CSV, write_text("bom.csv", "\xEF\xBB\xBFid,v\n\"\",\"2.5\"\n\"7\",\n"),
	            "id:BIGINT,v:DOUBLE",
	            "0:2 {\"id\": null, \"v\": 2.5}\n"
	            "0:3 {\"id\": 7, \"v\": null}\n");

	/* One column: a blank line is a NULL row; a lone CR is data. */
	expect_dump(ROWS_CSV, write_text("one.csv", "s\na\n\n\"\"\nb\rc\n"), "s:STRING",
	            "0:2 {\"s\": \"a\"}\n"
	            "0:3 {\"s\": null}\n"
	            "0:4 {\"s\": \"\"}\n"
	            "0:5 {\"s\": \"b\\rc\"}\n");

	/* Empty file, header only, header without newline: no rows. */
	expect_dump(ROWS_CSV, write_text("empty.csv", ""), "id:BIGINT", "");
	expect_dump(ROWS_CSV, write_text("bomonly.csv", "\xEF\xBB\xBF"), "id:BIGINT", "");
	expect_dump(ROWS_CSV, write_text("header.csv", "id,name\n"), "id:BIGINT,name:STRING", "");
	expect_dump(ROWS_CSV, write_text("header2.csv", "id,name"), "id:BIGINT,name:STRING", "");
	/* A trailing comma at the end of the file is one more (empty) field. */
	expect_dump(ROWS_CSV, write_text("trail.csv", "a,b\n1,"), "a:BIGINT,b:BIGINT",
	            "0:2 {\"a\": 1, \"b\": null}\n");
	/* Header names that need quotes. */
	expect_dump(ROWS_CSV, write_text("qh.csv", "\"a,b\",\"c\"\"d\"\n1,2\n"),
	            "a,b:BIGINT|c\"d:BIGINT", "0:2 {\"a,b\": 1, \"c\\\"d\": 2}\n");
}

static void test_csv_errors(void **state)
{
	const char *p;
	(void)state;

	p = write_text("in.csv", "id,name,age\n1,a,3\n2,b,4\n3,c,5\n4,d,6\n5,e,7\n6,f\n7,g,8\n");
	expect_read_error(ROWS_CSV, p, "id:BIGINT,name:STRING,age:BIGINT", UDFENV_EINVALID,
	                  "in.csv line 7: expected 3 fields, found 2");
	/* An empty header name is named as '' (its snippet was a NULL buffer, printed "(null)"). */
	p = write_text("in.csv", ",id\n");
	expect_read_error(ROWS_CSV, p, "id:BIGINT", UDFENV_EINVALID,
	                  "in.csv: header column '' is not in the schema");
	p = write_text("in.csv", "id,age\n1,2\n2,3\n\"3\",\"abc\"\n");
	expect_read_error(ROWS_CSV, p, "id:BIGINT,age:BIGINT", UDFENV_EINVALID,
	                  "in.csv line 4: column 'age' (BIGINT): 'abc' is not an integer");
	p = write_text("in.csv", "id,age\n1,99999999999999999999\n");
	expect_read_error(ROWS_CSV, p, "id:BIGINT,age:BIGINT", UDFENV_EINVALID,
	                  "in.csv line 2: column 'age' (BIGINT): '99999999999999999999' is out of "
	                  "the BIGINT range");
	p = write_text("in.csv", "id,age\n1, 2\n");
	expect_read_error(ROWS_CSV, p, "id:BIGINT,age:BIGINT", UDFENV_EINVALID,
	                  "' 2' is not an integer");
	p = write_text("in.csv", "v\n1.5.2\n");
	expect_read_error(ROWS_CSV, p, "v:DOUBLE", UDFENV_EINVALID,
	                  "line 2: column 'v' (DOUBLE): '1.5.2' is not a number");
	p = write_text("in.csv", "v\nyes\n");
	expect_read_error(ROWS_CSV, p, "v:BOOLEAN", UDFENV_EINVALID, "'yes' is not a boolean");
	/* The value in the message is cut and its control bytes shown escaped. */
	p = write_text("in.csv", "v\n\"a\nb\x01\"\n");
	expect_read_error(ROWS_CSV, p, "v:BIGINT", UDFENV_EINVALID,
	                  "'a\\nb\\x01' is not an integer");

	p = write_text("in.csv", "id,name\n1,a\n\"2,b\n3,c\n");
	expect_read_error(ROWS_CSV, p, "id:BIGINT,name:STRING", UDFENV_EINVALID,
	                  "in.csv line 3: unterminated quoted field");
	p = write_text("in.csv", "id,name\n1,a\n2,b\n3,\"c\xff\"\n");
	expect_read_error(ROWS_CSV, p, "id:BIGINT,name:STRING", UDFENV_EINVALID,
	                  "in.csv line 4: invalid UTF-8 in column 'name'");
	p = write_text("in.csv", "id,name\n1,a\"b\n");
	expect_read_error(ROWS_CSV, p, "id:BIGINT,name:STRING", UDFENV_EINVALID,
	                  "in.csv line 2: column 'name': '\"' inside an unquoted field");
	p = write_text("in.csv", "id,name\n1,\"a\"b\n");
	expect_read_error(
		ROWS_CSV, p, "id:BIGINT,name:STRING", UDFENV_EINVALID,
		"in.csv line 2: column 'name': unexpected character after a closing quote");
	/* A row after a quoted field spanning lines: lines still count physical lines. */
	p = write_text("in.csv", "id,name\n1,\"x\n\ny\"\n2\n");
	expect_read_error(ROWS_CSV, p, "id:BIGINT,name:STRING", UDFENV_EINVALID,
	                  "in.csv line 5: expected 2 fields, found 1");
	p = write_text("in.csv", "id,name\n1,a\n\n");
	expect_read_error(ROWS_CSV, p, "id:BIGINT,name:STRING", UDFENV_EINVALID,
	                  "in.csv line 3: expected 2 fields, found 1");

	/* Headers. */
	p = write_text("in.csv", "id,age\n1,2\n");
	expect_read_error(ROWS_CSV, p, "id:BIGINT,age:BIGINT,x:STRING", UDFENV_EINVALID,
	                  "in.csv: header has no column 'x'");
	expect_read_error(ROWS_CSV, p, "id:BIGINT", UDFENV_EINVALID,
	                  "in.csv: header column 'age' is not in the schema");
	p = write_text("in.csv", "a,a\n1,2\n");
	expect_read_error(ROWS_CSV, p, "a:BIGINT,b:BIGINT", UDFENV_EINVALID,
	                  "in.csv: duplicate column 'a'");
	p = write_text("in.csv", "\"a\"x\n1\n");
	expect_read_error(ROWS_CSV, p, "a:BIGINT", UDFENV_EINVALID,
	                  "in.csv line 1: unexpected character after a closing quote");

	/* The reader fails for good after an error. */
	{
		rows_schema s;
		rows_reader *r;
		rows_batch b = ROWS_BATCH_INIT;
		p = write_text("in.csv", "a\n1\nx\n2\n");
		mk_schema(&s, "a:BIGINT");
		assert_int_equal(rows_reader_open(&r, ROWS_CSV, p, &s), 0);
		assert_int_equal(rows_reader_next(r, &b, 1), 0);
		assert_int_equal(b.nrows, 1);
		expect_error(rows_reader_next(r, &b, 1), UDFENV_EINVALID, "line 3");
		assert_int_equal(b.nrows, 0);
		expect_error(rows_reader_next(r, &b, 1), UDFENV_ERROR, "failed earlier");
		expect_error(rows_reader_next(r, &b, 0), UDFENV_ERROR, "failed earlier");
		rows_reader_free(r);
		assert_int_equal(rows_reader_open(&r, ROWS_CSV, p, &s), 0);
		expect_error(rows_reader_next(r, &b, 0), UDFENV_EINVALID, "0 rows");
		rows_reader_free(r);
		rows_reader_free(NULL);
		expect_error(rows_reader_open(&r, ROWS_CSV, at("nope.csv"), &s), UDFENV_ENOTFOUND,
		             "nope.csv");
		rows_batch_dispose(&b);
		rows_schema_dispose(&s);
	}
}

static void test_csv_directory(void **state)
{
	rows_schema s;
	rows_reader *r;
	rows_batch b = ROWS_BATCH_INIT;
	uint64_t done, total;
	int error;
	(void)state;

	assert_int_equal(mkdir(at("src"), 0700), 0);
	write_text("src/part-00001.csv", "b,a\nx,3\ny,4\n");
	write_text("src/part-00000.csv", "a,b\n1,p\n2,q\n");
	write_text("src/part-00002.csv", "");
	write_text("src/part-00003.csv", "a,b\n");
	write_text("src/part-00004.csv", "\xEF\xBB\xBF"
	                                 "a,b\r\n5,z");
	write_text("src/.part-00005.csv.crc", "garbage");
	write_text("src/_SUCCESS", "");
	expect_dump(ROWS_CSV, at("src"), "a:BIGINT,b:STRING",
	            "0:2 {\"a\": 1, \"b\": \"p\"}\n"
	            "0:3 {\"a\": 2, \"b\": \"q\"}\n"
	            "1:2 {\"a\": 3, \"b\": \"x\"}\n"
	            "1:3 {\"a\": 4, \"b\": \"y\"}\n"
	            "4:2 {\"a\": 5, \"b\": \"z\"}\n");

	mk_schema(&s, "a:BIGINT,b:STRING");
	assert_int_equal(rows_reader_open(&r, ROWS_CSV, at("src"), &s), 0);
	assert_string_equal(rows_reader_file(r, 1), at("src/part-00001.csv"));
	assert_null(rows_reader_file(r, 5));
	rows_reader_progress(r, &done, &total);
	assert_int_equal(done, 0);
	assert_int_equal(total, 12 + 12 + 0 + 4 + 11);
	assert_int_equal(rows_reader_next(r, &b, 3), 0);
	assert_int_equal(b.nrows, 3);
	rows_reader_progress(r, &done, &total);
	assert_true(done > 12 && done < total);
	assert_int_equal(rows_reader_next(r, &b, 3), 0);
	assert_int_equal(b.nrows, 2);
	assert_int_equal(rows_reader_next(r, &b, 3), 0);
	assert_int_equal(b.nrows, 0);
	rows_reader_progress(r, &done, &total);
	assert_int_equal(done, total);
	assert_int_equal(rows_reader_next(r, &b, 3), 0);
	assert_int_equal(b.nrows, 0);
	rows_reader_free(r);

	/* One bad part names its own file. */
	write_text("src/part-00003.csv", "a,b\n6,w\nbad,v\n");
	expect_read_error(
		ROWS_CSV, at("src"), "a:BIGINT,b:STRING", UDFENV_EINVALID,
		"src/part-00003.csv line 3: column 'a' (BIGINT): 'bad' is not an integer");
	write_text("src/part-00003.csv", "b\n6\n");
	expect_read_error(ROWS_CSV, at("src"), "a:BIGINT,b:STRING", UDFENV_EINVALID,
	                  "src/part-00003.csv: header has no column 'a'");

	/* Once a part failed, the reader names that part, not the first one. */
	write_text("src/part-00003.csv", "a,b\nbad,v\n");
	assert_int_equal(rows_reader_open(&r, ROWS_CSV, at("src"), &s), 0);
	while ((error = rows_reader_next(r, &b, 2)) == 0)
		assert_true(b.nrows > 0);
	expect_error(error, UDFENV_EINVALID, "src/part-00003.csv line 2");
	expect_error(rows_reader_next(r, &b, 2), UDFENV_ERROR, "src/part-00003.csv' failed earlier");
	assert_int_equal(b.nrows, 0);
	rows_reader_free(r);

	/* An empty directory has no rows. */
	assert_int_equal(mkdir(at("none"), 0700), 0);
	expect_dump(ROWS_CSV, at("none"), "a:BIGINT", "");
	assert_int_equal(rows_reader_open(&r, ROWS_CSV, at("none"), &s), 0);
	rows_reader_progress(r, &done, &total);
	assert_int_equal(total, 0);
	rows_reader_free(r);

	rows_batch_dispose(&b);
	rows_schema_dispose(&s);
}

/*
 * Records that straddle the 256 KiB read blocks: a quoted field with "" and
 * a line break, a CRLF, a BOM-less header... moved one byte at a time across
 * the boundary must read the same.
 */
static void test_csv_block_boundaries(void **state)
{
	const char *tail = "\"q\"\"x\r\ny\",-12.5\r\nlast,7\r\n";
	udfenv_buf text = UDFENV_BUF_INIT;
	(void)state;

	/* The first 256 KiB block ends from 6 bytes before the tail to its end. */
	for (size_t shift = 0; shift < strlen(tail) + 8; shift++) {
		char *got = NULL;
		size_t fill = ROWS_IO_BUF + 1 - shift;
		udfenv_buf_clear(&text);
		udfenv_buf_puts(&text, "s,v\r\n\"");
		/* One quoted string field up to near the boundary... */
		while (text.size < fill)
			udfenv_buf_putc(&text, (char)('a' + text.size % 26));
		udfenv_buf_puts(&text, "\",1\r\n");
		udfenv_buf_puts(&text, tail);
		write_bytes("edge.csv", text.ptr, text.size);
		assert_int_equal(
			dump_source(&got, ROWS_CSV, at("edge.csv"), "s:STRING,v:DOUBLE", 4096), 0);
		assert_non_null(strstr(got, "\n0:3 {\"s\": \"q\\\"x\\r\\ny\", \"v\": -12.5}\n"
		                            "0:5 {\"s\": \"last\", \"v\": 7.0}\n"));
		if (strncmp(got, "0:2 {\"s\": \"", 11) != 0)
			fail_msg("shift %zu: %.100s", shift, got);
		free(got);
	}

	/* Many rows of many sizes across many blocks, every value checked. */
	udfenv_buf_clear(&text);
	udfenv_buf_puts(&text, "i,s\n");
	for (int i = 0; i < 60000; i++) {
		if (i % 5 == 0)
			udfenv_buf_printf(&text, "%d,\"%*s\"\"\n%d\"\n", i, i % 37, "", i);
		else
			udfenv_buf_printf(&text, "%d,%.*s\n", i, i % 23, "abcdefghijklmnopqrstuvw");
	}
	write_bytes("many.csv", text.ptr, text.size);
	{
		rows_schema s;
		rows_reader *r;
		rows_batch b = ROWS_BATCH_INIT;
		int64_t next = 0;
		uint64_t line = 2;
		mk_schema(&s, "i:BIGINT,s:STRING");
		assert_int_equal(rows_reader_open(&r, ROWS_CSV, at("many.csv"), &s), 0);
		for (;;) {
			assert_int_equal(rows_reader_next(r, &b, 1000), 0);
			if (b.nrows == 0)
				break;
			for (size_t k = 0; k < b.nrows; k++, next++) {
				const rows_value *v = rows_batch_at(&b, k, 1);
				assert_true(rows_batch_at(&b, k, 0)->u.i == next);
				assert_int_equal(b.line[k], line);
				if (next % 5 == 0) {
					char want[64];
					int n = snprintf(want, sizeof(want), "%*s\"\n%d",
					                 (int)(next % 37), "", (int)next);
					assert_int_equal(v->u.s.len, (size_t)n);
					assert_memory_equal(rows_batch_str(&b, v), want, (size_t)n);
					line += 2;
				} else {
					/* An empty unquoted field is NULL. */
					assert_int_equal(v->kind,
					                 next % 23 ? ROWS_STRING : ROWS_NULL);
					if (next % 23)
						assert_int_equal(v->u.s.len, (size_t)(next % 23));
					line += 1;
				}
			}
		}
		assert_int_equal(next, 60000);
		rows_reader_free(r);
		rows_batch_dispose(&b);
		rows_schema_dispose(&s);
	}
	udfenv_buf_dispose(&text);
}

/* Write `n` bytes of 'x' (after `head`, before `tail`) without holding them in memory. */
static const char *write_big(const char *name, const char *head, size_t n, const char *tail)
{
	const char *p = at(name);
	static char block[1 << 16];
	FILE *f = fopen(p, "wb");
	assert_non_null(f);
	memset(block, 'x', sizeof(block));
	fputs(head, f);
	while (n > 0) {
		size_t k = n < sizeof(block) ? n : sizeof(block);
		assert_int_equal(fwrite(block, 1, k, f), k);
		n -= k;
	}
	fputs(tail, f);
	assert_int_equal(fclose(f), 0);
	return p;
}

static void test_limits(void **state)
{
	const char *p;
	char *got = NULL;
	(void)state;

	/* A field of exactly 64 MiB is fine; one byte more is not. */
	p = write_big("big.csv", "a,s\n1,", ROWS_FIELD_MAX, "\n");
	{
		rows_schema s;
		rows_reader *r;
		rows_batch b = ROWS_BATCH_INIT;
		mk_schema(&s, "a:BIGINT,s:STRING");
		assert_int_equal(rows_reader_open(&r, ROWS_CSV, p, &s), 0);
		assert_int_equal(rows_reader_next(r, &b, 10), 0);
		assert_int_equal(b.nrows, 1);
		assert_int_equal(rows_batch_at(&b, 0, 1)->u.s.len, ROWS_FIELD_MAX);
		rows_reader_free(r);
		rows_batch_dispose(&b);
		rows_schema_dispose(&s);
	}
	p = write_big("big.csv", "a,s\n1,2\n3,", ROWS_FIELD_MAX + 1, "\n");
	expect_read_error(ROWS_CSV, p, "a:BIGINT,s:STRING", UDFENV_ELIMIT,
	                  "big.csv line 3: column 's': field longer than 64 MiB");
	p = write_big("big.csv", "a,s\n1,\"", ROWS_FIELD_MAX + 1, "\"\n");
	expect_read_error(ROWS_CSV, p, "a:BIGINT,s:STRING", UDFENV_ELIMIT,
	                  "field longer than 64 MiB");
	/* A never-ending quoted field stops at the cap too. */
	p = write_big("big.csv", "a,s\n1,\"", ROWS_FIELD_MAX + (1 << 20), "");
	expect_read_error(ROWS_CSV, p, "a:BIGINT,s:STRING", UDFENV_ELIMIT,
	                  "field longer than 64 MiB");

	/* JSON Lines: the line is capped. */
	p = write_big("big.jsonl", "{\"a\": 1}\n{\"s\": \"", ROWS_FIELD_MAX, "\"}\n");
	expect_read_error(ROWS_JSONL, p, "a:BIGINT,s:STRING", UDFENV_ELIMIT,
	                  "big.jsonl line 2: line longer than 64 MiB");
	p = write_big("big.jsonl", "{\"s\": \"", ROWS_FIELD_MAX - 10, "\"}");
	assert_int_equal(dump_source(&got, ROWS_JSONL, p, "s:STRING", 1), 0);
	free(got);
	unlink(p);
}

/* --- JSON Lines reading --- */

static void test_jsonl_read(void **state)
{
	(void)state;
	expect_dump(ROWS_JSONL,
	            write_text("in.jsonl",
	                       "{\"id\": 1, \"name\": \"ann\", \"value\": 2, \"flag\": true}\n"
	                       "\n"
	                       "   \r\n"
	                       "{\"flag\":false,\"value\":NaN,\"id\":-9223372036854775808}\r\n"
	                       "{}\n"
	                       "  {\"n\\u0061me\": \"\\u00e9\\ud83d\\ude00\", \"value\": "
	                       "-Infinity, \"id\": null}  \n"
	                       "{\"value\": 1.5e300, \"name\": \"q\\\"\\n\"}"),
	            ALL,
	            "0:1 {\"id\": 1, \"name\": \"ann\", \"value\": 2.0, \"flag\": true}\n"
	            "0:4 {\"id\": -9223372036854775808, \"name\": null, \"value\": NaN, \"flag\": "
	            "false}\n"
	            "0:5 {\"id\": null, \"name\": null, \"value\": null, \"flag\": null}\n"
	            "0:6 {\"id\": null, \"name\": \"\xc3\xa9\xf0\x9f\x98\x80\", \"value\": "
	            "-Infinity, \"flag\": null}\n"
	            "0:7 {\"id\": null, \"name\": \"q\\\"\\n\", \"value\": 1.5e+300, \"flag\": "
	            "null}\n");
	expect_dump(ROWS_JSONL, write_text("empty.jsonl", ""), ALL, "");
	expect_dump(ROWS_JSONL, write_text("blank.jsonl", "\n\n  \n"), ALL, "");
	expect_dump(ROWS_JSONL, write_text("bom.jsonl", "\xEF\xBB\xBF{\"id\": 5}\n"), ALL,
	            "0:1 {\"id\": 5, \"name\": null, \"value\": null, \"flag\": null}\n");

	/* A directory of parts, in name order. */
	assert_int_equal(mkdir(at("j"), 0700), 0);
	write_text("j/b.jsonl", "{\"id\": 2}\n");
	write_text("j/a.jsonl", "\n{\"id\": 1}\n");
	write_text("j/_meta.jsonl", "not json\n");
	expect_dump(ROWS_JSONL, at("j"), "id:BIGINT", "0:2 {\"id\": 1}\n1:1 {\"id\": 2}\n");
}

static void test_jsonl_errors(void **state)
{
	const char *p;
	(void)state;

	p = write_text("in.jsonl", "{\"id\": 1}\n\n{\"id\": 2, \"x\": 3}\n");
	expect_read_error(ROWS_JSONL, p, "id:BIGINT", UDFENV_EINVALID,
	                  "in.jsonl line 3: key 'x' is not in the schema");
	p = write_text("in.jsonl", "{\"id\": 1}\n{\"id\": \"2\"}\n");
	expect_read_error(ROWS_JSONL, p, "id:BIGINT", UDFENV_EINVALID,
	                  "in.jsonl line 2: column 'id': expected BIGINT, got a string");
	p = write_text("in.jsonl", "{\"id\": 1.5}\n");
	expect_read_error(ROWS_JSONL, p, "id:BIGINT", UDFENV_EINVALID,
	                  "line 1: column 'id': expected BIGINT, got 1.5");
	p = write_text("in.jsonl", "{\"id\": [1]}\n");
	expect_read_error(ROWS_JSONL, p, "id:BIGINT", UDFENV_EINVALID,
	                  "expected BIGINT, got a list");
	p = write_text("in.jsonl", "{\"id\": 1, \"id\": 2}\n");
	expect_read_error(ROWS_JSONL, p, "id:BIGINT", UDFENV_EINVALID,
	                  "in.jsonl line 1: duplicate key 'id'");
	p = write_text("in.jsonl", "{\"id\": 1} x\n");
	expect_read_error(ROWS_JSONL, p, "id:BIGINT", UDFENV_EINVALID,
	                  "in.jsonl line 1: invalid JSON");
	p = write_text("in.jsonl", "{\"id\": 1}{\"id\": 2}\n");
	expect_read_error(ROWS_JSONL, p, "id:BIGINT", UDFENV_EINVALID, "the end of the line");
	p = write_text("in.jsonl", "[1]\n");
	expect_read_error(ROWS_JSONL, p, "id:BIGINT", UDFENV_EINVALID,
	                  "in.jsonl line 1: invalid JSON at byte 0: expected '{'");
	p = write_text("in.jsonl", "{\"id\": 1\n");
	expect_read_error(ROWS_JSONL, p, "id:BIGINT", UDFENV_EINVALID, "',' or '}'");
	p = write_text("in.jsonl", "{\"id\" 1}\n");
	expect_read_error(ROWS_JSONL, p, "id:BIGINT", UDFENV_EINVALID, "':' after a key");
	p = write_text("in.jsonl", "{id: 1}\n");
	expect_read_error(ROWS_JSONL, p, "id:BIGINT", UDFENV_EINVALID, "to start a key");
	p = write_text("in.jsonl", "{\"s\": \"a\xc3\"}\n");
	expect_read_error(ROWS_JSONL, p, "s:STRING", UDFENV_EINVALID,
	                  "in.jsonl line 1: column 's': invalid UTF-8");
	p = write_text("in.jsonl", "{\"s\": \"\\udd00\"}\n");
	expect_read_error(ROWS_JSONL, p, "s:STRING", UDFENV_EINVALID, "lone surrogate");
	p = write_text("in.jsonl", "{\"\\u00e9\": 1}\n");
	expect_read_error(ROWS_JSONL, p, "s:STRING", UDFENV_EINVALID,
	                  "key '\xc3\xa9' is not in the schema");
	p = write_text("in.jsonl", "{\"b\": 1}\n");
	expect_read_error(ROWS_JSONL, p, "b:BOOLEAN", UDFENV_EINVALID, "expected BOOLEAN, got 1");
	p = write_text("in.jsonl", "{\"d\": true}\n");
	expect_read_error(ROWS_JSONL, p, "d:DOUBLE", UDFENV_EINVALID, "expected DOUBLE, got true");
	p = write_text("in.jsonl", "{\"d\": 1}\n{\"d\": 1e99999}\n");
	expect_dump(ROWS_JSONL, p, "d:DOUBLE", "0:1 {\"d\": 1.0}\n0:2 {\"d\": Infinity}\n");
}

/* --- inference --- */

static void expect_schema(rows_format fmt, const char *path, size_t sample, const char *want)
{
	rows_schema s;
	udfenv_buf got = UDFENV_BUF_INIT;
	int error = rows_infer_schema(&s, fmt, path, sample);
	if (error < 0)
		fail_msg("inferring '%s': %s", path, udfenv_error_last()->message);
	for (size_t i = 0; i < s.n; i++)
		udfenv_buf_printf(&got, "%s%s:%s", i ? "," : "", s.cols[i].name,
		                  rows_type_name(s.cols[i].type));
	assert_string_equal(udfenv_buf_cstr(&got), want);
	udfenv_buf_dispose(&got);
	rows_schema_dispose(&s);
}

static void expect_infer_error(rows_format fmt, const char *path, int code, const char *words)
{
	rows_schema s = {1, (rows_column *)1};
	expect_error(rows_infer_schema(&s, fmt, path, 100), code, words);
	assert_int_equal(s.n, 0);
	assert_null(s.cols);
}

static void test_infer_csv(void **state)
{
	const char *p;
	(void)state;

	p = write_text("in.csv", "i,d,b,s,n,mixed,big,qs\n"
	                         "1,1.5,true,x,,1,99999999999999999999,\"1\"\n"
	                         "-2,2,FALSE,3,,true,1,\"a\"\"b\"\n"
	                         ",nan,,,,,1,\n"
	                         "3,-inf,true,4.5,,2,2,\n");
	expect_schema(
		ROWS_CSV, p, 100,
		"i:BIGINT,d:DOUBLE,b:BOOLEAN,s:STRING,n:STRING,mixed:STRING,big:DOUBLE,qs:STRING");
	/* Only the sample counts. */
	expect_schema(
		ROWS_CSV, p, 1,
		"i:BIGINT,d:DOUBLE,b:BOOLEAN,s:STRING,n:STRING,mixed:BIGINT,big:DOUBLE,qs:BIGINT");
	p = write_text("in.csv", "a,b\n1,2\n3,x\n");
	expect_schema(ROWS_CSV, p, 1, "a:BIGINT,b:BIGINT");
	expect_schema(ROWS_CSV, p, 2, "a:BIGINT,b:STRING");
	expect_schema(ROWS_CSV, p, 0, "a:BIGINT,b:STRING"); /* 0: every row */
	/* Header only: nothing to go by, so STRING. */
	p = write_text("in.csv", "\xEF\xBB\xBF"
	                         "a,\"b c\"\r\n");
	expect_schema(ROWS_CSV, p, 10, "a:STRING,b c:STRING");

	expect_infer_error(ROWS_CSV, write_text("e.csv", ""), UDFENV_EINVALID,
	                   "cannot infer the columns of '");
	expect_infer_error(ROWS_CSV, at("e.csv"), UDFENV_EINVALID,
	                   "e.csv': it is empty; declare the schema");
	expect_infer_error(ROWS_CSV, write_text("d.csv", "a,a\n1,2\n"), UDFENV_EINVALID,
	                   "d.csv: duplicate column 'a'");
	expect_infer_error(ROWS_CSV, write_text("d.csv", "a,\n1,2\n"), UDFENV_EINVALID,
	                   "d.csv: a column name is empty");
	expect_infer_error(ROWS_CSV, write_text("d.csv", "a,b\n1,2\n3\n"), UDFENV_EINVALID,
	                   "d.csv line 3: expected 2 fields, found 1");
	expect_infer_error(ROWS_CSV, write_text("d.csv", "a,b\n1,\xff\n"), UDFENV_EINVALID,
	                   "d.csv line 2: invalid UTF-8 in column 'b'");
	expect_infer_error(ROWS_CSV, at("missing.csv"), UDFENV_ENOTFOUND, "missing.csv");

	/* Directories: the first part with bytes; none is "empty". */
	assert_int_equal(mkdir(at("parts"), 0700), 0);
	expect_infer_error(ROWS_CSV, at("parts"), UDFENV_EINVALID, "it is empty");
	write_text("parts/part-0.csv", "");
	write_text("parts/part-1.csv", "x,y\n1,a\n");
	write_text("parts/part-2.csv", "z\n1\n");
	expect_schema(ROWS_CSV, at("parts"), 10, "x:BIGINT,y:STRING");
}

static void test_infer_jsonl(void **state)
{
	const char *p;
	(void)state;

	p = write_text("in.jsonl",
	               "{\"i\": 1, \"d\": 1, \"s\": \"x\", \"n\": null}\n"
	               "\n"
	               "{\"b\": true, \"d\": 2.5, \"i\": -3}\n"
	               "{\"\\u00e9\": 1e400, \"d\": NaN, \"big\": 99999999999999999999}\n"
	               "{\"late\": \"x\"}\n");
	expect_schema(ROWS_JSONL, p, 100,
	              "i:BIGINT,d:DOUBLE,s:STRING,n:STRING,b:BOOLEAN,\xc3\xa9:DOUBLE,big:DOUBLE,"
	              "late:STRING");
	expect_schema(ROWS_JSONL, p, 1, "i:BIGINT,d:BIGINT,s:STRING,n:STRING");
	expect_schema(ROWS_JSONL, p, 2, "i:BIGINT,d:DOUBLE,s:STRING,n:STRING,b:BOOLEAN");

	expect_infer_error(ROWS_JSONL, write_text("e.jsonl", "\n  \n"), UDFENV_EINVALID,
	                   "cannot infer the columns of '");
	expect_infer_error(ROWS_JSONL, write_text("e.jsonl", "{}\n"), UDFENV_EINVALID,
	                   "it is empty");
	expect_infer_error(ROWS_JSONL, write_text("m.jsonl", "{\"a\": 1}\n{\"a\": \"x\"}\n"),
	                   UDFENV_EINVALID,
	                   "m.jsonl line 2: column 'a': holds numbers and strings");
	expect_infer_error(ROWS_JSONL, write_text("m.jsonl", "{\"a\": true}\n{\"a\": 1.5}\n"),
	                   UDFENV_EINVALID, "holds booleans and numbers");
	expect_infer_error(ROWS_JSONL, write_text("m.jsonl", "{\"a\": [1]}\n"), UDFENV_EINVALID,
	                   "m.jsonl line 1: column 'a': a list is not a column value");
	expect_infer_error(ROWS_JSONL, write_text("m.jsonl", "{\"a\": {}}\n"), UDFENV_EINVALID,
	                   "an object is not a column value");
	expect_infer_error(ROWS_JSONL, write_text("m.jsonl", "{\"a\": 1, \"a\": 2}\n"),
	                   UDFENV_EINVALID, "duplicate key 'a'");
	expect_infer_error(ROWS_JSONL, write_text("m.jsonl", "{\"a\\n\": 1}\n"), UDFENV_EINVALID,
	                   "m.jsonl line 1: column name 'a\\n' holds a control character");
	expect_infer_error(ROWS_JSONL, write_text("m.jsonl", "{\"a\\u0000\": 1}\n"),
	                   UDFENV_EINVALID, "NUL");
	expect_infer_error(ROWS_JSONL, write_text("m.jsonl", "{\"a\": 1}\nnope\n"), UDFENV_EINVALID,
	                   "m.jsonl line 2: invalid JSON");
}

/* --- writers --- */

static void write_to_mem(rows_format fmt, const char *spec, const rows_batch *b, udfenv_buf *out)
{
	rows_schema s;
	rows_writer *w;
	mk_schema(&s, spec);
	assert_int_equal(rows_writer_open(&w, fmt, -1, out, "mem", &s), 0);
	assert_int_equal(rows_writer_write(w, b), 0);
	assert_int_equal(rows_writer_finish(w), 0);
	rows_writer_free(w);
	rows_schema_dispose(&s);
}

static void test_write_csv_exact(void **state)
{
	rows_batch b = ROWS_BATCH_INIT;
	udfenv_buf out = UDFENV_BUF_INIT;
	(void)state;

	tricky_batch(&b);
	udfenv_buf_puts(&out, "kept:");
	write_to_mem(ROWS_CSV, "id:BIGINT,name:STRING,value:DOUBLE,flag:BOOLEAN", &b, &out);
	assert_string_equal(out.ptr,
	                    "kept:id,name,value,flag\n"
	                    "1,plain,3.0,true\n"
	                    "-9223372036854775808,\"\",-0.0,false\n"
	                    "9223372036854775807,\"a,b \"\"quoted\"\"\nline2\r\nline3\",nan,\n"
	                    ",\" h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \",inf,true\n"
	                    "-1,tab\there\\back\x01\x1f/,-inf,\n"
	                    "0,,1e+300,false\n"
	                    ",\"\"\"\",4.94065645841247e-324,\n"
	                    "42,plain,0.30000000000000004,true\n"
	                    ",,,\n"
	                    "7,\"\",-1.5e-300,false\n");

	/* Header names are quoted like values; an empty batch writes the header only. */
	udfenv_buf_clear(&out);
	rows_batch_reset(&b, 2);
	write_to_mem(ROWS_CSV, "a b :STRING,x\"y:BIGINT", &b, &out);
	assert_string_equal(out.ptr, "\"a b \",\"x\"\"y\"\n");
	/* A name starting with U+FEFF is quoted: bare, first in the file, it would read as a BOM. */
	udfenv_buf_clear(&out);
	rows_batch_reset(&b, 1);
	write_to_mem(ROWS_CSV, "\xef\xbb\xbfid:BIGINT", &b, &out);
	assert_string_equal(out.ptr, "\"\xef\xbb\xbfid\"\n");
	udfenv_buf_dispose(&out);
	rows_batch_dispose(&b);
}

static void test_write_jsonl_exact(void **state)
{
	rows_batch b = ROWS_BATCH_INIT;
	udfenv_buf out = UDFENV_BUF_INIT;
	(void)state;

	tricky_batch(&b);
	write_to_mem(ROWS_JSONL, "id:BIGINT,n\"m:STRING,value:DOUBLE,flag:BOOLEAN", &b, &out);
	assert_string_equal(
		out.ptr,
		"{\"id\":1,\"n\\\"m\":\"plain\",\"value\":3.0,\"flag\":true}\n"
		"{\"id\":-9223372036854775808,\"n\\\"m\":\"\",\"value\":-0.0,\"flag\":false}\n"
		"{\"id\":9223372036854775807,\"n\\\"m\":\"a,b "
	        "\\\"quoted\\\"\\nline2\\r\\nline3\",\"value\":NaN,\"flag\":null}\n"
		"{\"id\":null,\"n\\\"m\":\" h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 "
	        "\",\"value\":Infinity,\"flag\":true}\n"
		"{\"id\":-1,\"n\\\"m\":\"tab\\there\\\\back\\u0001\\u001f/"
	        "\",\"value\":-Infinity,\"flag\":null}\n"
		"{\"id\":0,\"n\\\"m\":null,\"value\":1e+300,\"flag\":false}\n"
		"{\"id\":null,\"n\\\"m\":\"\\\"\",\"value\":4.94065645841247e-324,\"flag\":null}\n"
		"{\"id\":42,\"n\\\"m\":\"plain\",\"value\":0.30000000000000004,\"flag\":true}\n"
		"{\"id\":null,\"n\\\"m\":null,\"value\":null,\"flag\":null}\n"
		"{\"id\":7,\"n\\\"m\":\"\",\"value\":-1.5e-300,\"flag\":false}\n");
	udfenv_buf_clear(&out);
	rows_batch_reset(&b, 1);
	write_to_mem(ROWS_JSONL, "a:BIGINT", &b, &out);
	assert_int_equal(out.size, 0);
	udfenv_buf_dispose(&out);
	rows_batch_dispose(&b);
}

static void test_write_fd(void **state)
{
	rows_batch b = ROWS_BATCH_INIT;
	udfenv_buf mem = UDFENV_BUF_INIT, file = UDFENV_BUF_INIT;
	rows_schema s;
	rows_writer *w;
	int fd;
	(void)state;

	mk_schema(&s, ALL);
	/* A megabyte or so: several buffer flushes, one big string larger than the buffer. */
	rows_batch_reset(&b, 4);
	for (int i = 0; i < 20000; i++) {
		static const char *strs[4];
		static char big[300000];
		rows_value vals[] = {VI(i), VS(10), VD(i / 4.0), VB(i % 3 == 0)};
		strs[1] = "0123456,89";
		if (i == 777) {
			memset(big, 'q', sizeof(big));
			big[5] = '"';
			strs[1] = big;
			vals[1].u.s.len = sizeof(big);
		}
		add_row(&b, vals, strs);
	}
	for (int fmt = ROWS_CSV; fmt <= ROWS_JSONL; fmt++) {
		udfenv_buf_clear(&mem);
		assert_int_equal(rows_writer_open(&w, (rows_format)fmt, -1, &mem, "mem", &s), 0);
		assert_int_equal(rows_writer_write(w, &b), 0);
		assert_int_equal(rows_writer_write(w, &b), 0);
		assert_int_equal(rows_writer_finish(w), 0);
		rows_writer_free(w);

		fd = open(at("out"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		assert_true(fd >= 0);
		assert_int_equal(rows_writer_open(&w, (rows_format)fmt, fd, NULL, "out", &s), 0);
		assert_int_equal(rows_writer_write(w, &b), 0);
		assert_int_equal(rows_writer_write(w, &b), 0);
		assert_int_equal(rows_writer_finish(w), 0);
		rows_writer_free(w);
		assert_int_equal(close(fd), 0);
		assert_int_equal(udfenv_fs_read_file(&file, at("out"), 64 << 20), 0);
		assert_true(file.size > 2 * 300000);
		assert_int_equal(file.size, mem.size);
		assert_memory_equal(file.ptr, mem.ptr, mem.size);
	}

	/* Write errors name the output. */
	fd = open(at("out"), O_RDONLY | O_CLOEXEC);
	assert_int_equal(rows_writer_open(&w, ROWS_CSV, fd, NULL, "the-sink.csv", &s), 0);
	assert_int_equal(rows_writer_write(w, &b), UDFENV_ERROR);
	expect_error(UDFENV_ERROR, UDFENV_ERROR, "cannot write 'the-sink.csv'");
	expect_error(rows_writer_finish(w), UDFENV_ERROR, "failed earlier");
	rows_writer_free(w);
	assert_int_equal(rows_writer_open(&w, ROWS_CSV, fd, NULL, "small.csv", &s), 0);
	expect_error(rows_writer_finish(w), UDFENV_ERROR, "cannot write 'small.csv'");
	rows_writer_free(w);
	close(fd);

	/* A batch of another width; neither fd nor buffer. */
	assert_int_equal(rows_writer_open(&w, ROWS_CSV, -1, &mem, "m", &s), 0);
	rows_batch_reset(&b, 3);
	expect_error(rows_writer_write(w, &b), UDFENV_EINVALID, "3 columns for 4");
	rows_writer_free(w);
	rows_writer_free(NULL);
	expect_error(rows_writer_open(&w, ROWS_CSV, -1, NULL, "x", &s), UDFENV_EINVALID, "neither");
	assert_null(w);

	udfenv_buf_dispose(&mem);
	udfenv_buf_dispose(&file);
	rows_batch_dispose(&b);
	rows_schema_dispose(&s);
}

/* Whatever a writer writes, the reader reads back as the same values. */
static void test_file_roundtrip(void **state)
{
	rows_batch b = ROWS_BATCH_INIT, back = ROWS_BATCH_INIT;
	udfenv_buf out = UDFENV_BUF_INIT;
	rows_schema s;
	(void)state;

	/* A first column named with a leading U+FEFF reads back (it was taken for a BOM). */
	mk_schema(&s, "\xef\xbb\xbfid:BIGINT");
	rows_batch_reset(&b, 1);
	write_to_mem(ROWS_CSV, "\xef\xbb\xbfid:BIGINT", &b, &out);
	write_bytes("bom", out.ptr, out.size);
	{
		rows_reader *r;
		assert_int_equal(rows_reader_open(&r, ROWS_CSV, at("bom"), &s), 0);
		assert_int_equal(rows_reader_next(r, &back, 100), 0);
		assert_int_equal(back.nrows, 0);
		rows_reader_free(r);
	}
	rows_schema_dispose(&s);

	mk_schema(&s, ALL);
	tricky_batch(&b);
	for (int fmt = ROWS_CSV; fmt <= ROWS_JSONL; fmt++) {
		rows_reader *r;
		udfenv_buf_clear(&out);
		write_to_mem((rows_format)fmt, ALL, &b, &out);
		write_bytes("rt", out.ptr, out.size);
		assert_int_equal(rows_reader_open(&r, (rows_format)fmt, at("rt"), &s), 0);
		assert_int_equal(rows_reader_next(r, &back, 100), 0);
		assert_same_values(&b, &back);
		/* Line numbers: CSV row 3 spans two lines after it (the quoted line breaks). */
		assert_int_equal(back.line[0], fmt == ROWS_CSV ? 2 : 1);
		assert_int_equal(back.line[3], fmt == ROWS_CSV ? 7 : 4);
		assert_int_equal(rows_reader_next(r, &back, 100), 0);
		assert_int_equal(back.nrows, 0);
		rows_reader_free(r);
	}
	udfenv_buf_dispose(&out);
	rows_batch_dispose(&b);
	rows_batch_dispose(&back);
	rows_schema_dispose(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_format_double, setup, teardown),
		cmocka_unit_test_setup_teardown(test_format_int, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_numbers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_utf8, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_and_format_row, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_value, setup, teardown),
		cmocka_unit_test_setup_teardown(test_value_too_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_encode_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_codec_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decode_accepts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decode_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_source, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csv_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csv_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csv_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csv_block_boundaries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jsonl_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jsonl_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_infer_csv, setup, teardown),
		cmocka_unit_test_setup_teardown(test_infer_jsonl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_csv_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_jsonl_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_fd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_roundtrip, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
