/*
 * UDF jobs through udfenv_job_run, end to end: real worker processes
 * running the real worker runtime (python/udfenv/_worker.py) on programs
 * built the way python/udfenv/plan.py builds them, in environments the core
 * prepares. A few protocol-breaking workers are small scripts written at
 * test time into a runtime directory of their own.
 *
 * Everything lives under one private temp dir: inputs and outputs in
 * data/, environments under envs/ (the jobs' temp root). After each test
 * data/ holds no temporary output and envs/ is empty.
 */
#include <stdint.h>

#include "testutil.h"
#include "udfenv/udfenv.h"
#include "util/log.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static udfenv_buf root = UDFENV_BUF_INIT;    /* the private temp dir */
static udfenv_buf data = UDFENV_BUF_INIT;    /* root/data */
static udfenv_buf envs = UDFENV_BUF_INIT;    /* root/envs: the jobs' temp root */
static udfenv_buf runtime = UDFENV_BUF_INIT; /* the source tree's python/ dir */
static size_t fds_at_start;                   /* open fds before the first job */

static size_t open_fds(void);

/* --- fixtures ------------------------------------------------------------ */

/* UDFs the jobs use; shipped to the workers as a python file. */
static const char udfs_py[] =
	"import os, time\n"
	"from udfenv import udf, udtf, DataTypes\n"
	"\n"
	"@udf(result_type=DataTypes.BIGINT())\n"
	"def fragile(x):\n"
	"    if x == 42:\n"
	"        return 1 // 0\n"
	"    return x + 1\n"
	"\n"
	"@udf(result_type=DataTypes.BIGINT())\n"
	"def exit_at_5000(x):\n"
	"    if x == 5000:\n"
	"        os._exit(3)\n"
	"    return x\n"
	"\n"
	"@udf(result_type=DataTypes.BIGINT())\n"
	"def kill_at_5000(x):\n"
	"    if x == 5000:\n"
	"        os.kill(os.getpid(), 9)\n"
	"    return x\n"
	"\n"
	"@udf(result_type=DataTypes.BIGINT())\n"
	"def slow(x):\n"
	"    time.sleep(0.01)\n"
	"    return x\n"
	"\n"
	"@udtf(result_types=[DataTypes.BIGINT(), DataTypes.STRING()])\n"
	"def twice(x, name):\n"
	"    yield x, name\n"
	"    yield -x, name\n";

/* Programs as python/udfenv/plan.py writes them (the "program" of the plan). */
#define PROGRAM_IDENTITY                                                                           \
	"{\"udfenv_program\": 1, \"udfs\": [], \"steps\": [{\"op\": \"select\", \"exprs\": "      \
	"[{\"col\": 0}, {\"col\": 1}], \"output\": [[\"id\", \"BIGINT\"], [\"name\", \"STRING\"]]}]}"
#define PROGRAM_CALL(fn)                                                                           \
	"{\"udfenv_program\": 1, \"udfs\": [{\"module\": \"job_udfs\", \"name\": \"" fn "\"}], "  \
	"\"steps\": [{\"op\": \"select\", \"exprs\": [{\"col\": 0}, {\"call\": 0, \"args\": "      \
	"[{\"col\": 0}], \"type\": \"BIGINT\"}], \"output\": [[\"id\", \"BIGINT\"], [\"v\", "      \
	"\"BIGINT\"]]}]}"
#define PROGRAM_TWICE                                                                              \
	"{\"udfenv_program\": 1, \"udfs\": [{\"module\": \"job_udfs\", \"name\": \"twice\"}], "   \
	"\"steps\": [{\"op\": \"flat_map\", \"udf\": 0, \"args\": [{\"col\": 0}, {\"col\": 1}], "  \
	"\"output\": [[\"f0\", \"BIGINT\"], [\"f1\", \"STRING\"]]}]}"

#define SCHEMA_IN "[[\"id\", \"BIGINT\"], [\"name\", \"STRING\"]]"
#define SCHEMA_CALL "[[\"id\", \"BIGINT\"], [\"v\", \"BIGINT\"]]"
#define SCHEMA_TWICE "[[\"f0\", \"BIGINT\"], [\"f1\", \"STRING\"]]"

static int group_setup(void **state)
{
	udfenv_buf b = UDFENV_BUF_INIT;
	char real[PATH_MAX];
	int error;

	(void)state;
	if ((error = tu_mkdtemp(&b, "udfenv-test-job-")) < 0)
		return error;
	/* Canonical, so that paths in messages compare as written. */
	if (realpath(b.ptr, real) == NULL)
		return -1;
	udfenv_buf_dispose(&b);
	if ((error = udfenv_buf_sets(&root, real)) < 0 ||
	    (error = udfenv_path_join(&data, root.ptr, "data")) < 0 ||
	    (error = udfenv_path_join(&envs, root.ptr, "envs")) < 0 || mkdir(data.ptr, 0700) < 0 ||
	    mkdir(envs.ptr, 0700) < 0)
		return -1;
	/* This file is tests/unit/test_job.c of the source tree; the runtime is its python/. */
	if ((error = udfenv_path_absolute(&b, __FILE__)) < 0 || strstr(b.ptr, "/tests/unit/") == NULL ||
	    (error = udfenv_buf_printf(&runtime, "%.*s/python",
				       (int)(strstr(b.ptr, "/tests/unit/") - b.ptr), b.ptr)) < 0)
		return -1;
	udfenv_buf_dispose(&b);
	fds_at_start = open_fds();
	return 0;
}

static int group_teardown(void **state)
{
	int error;

	(void)state;
	error = udfenv_fs_rmtree(root.ptr);
	udfenv_buf_dispose(&root);
	udfenv_buf_dispose(&data);
	udfenv_buf_dispose(&envs);
	udfenv_buf_dispose(&runtime);
	return error;
}

/* Before each test: empty data/ and envs/, so that a failed test does not fail the next ones. */
static int fresh_dirs(void **state)
{
	(void)state;
	if (udfenv_fs_rmtree(data.ptr) < 0 || udfenv_fs_rmtree(envs.ptr) < 0 ||
	    mkdir(data.ptr, 0700) < 0 || mkdir(envs.ptr, 0700) < 0)
		return -1;
	return 0;
}

/* `name` in data/; the string lives in `b`. */
static const char *in_data(udfenv_buf *b, const char *name)
{
	return tu_join(b, data.ptr, name);
}

static int exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* Names in `dir` (sorted, NULL-terminated, malloc'd); `hidden`: only those starting with '.'. */
static void list_dir(udfenv_strvec *out, const char *dir, int hidden)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort);

	assert_true(n >= 0);
	for (int i = 0; i < n; i++) {
		const char *s = names[i]->d_name;
		if (strcmp(s, ".") && strcmp(s, "..") && (!hidden || s[0] == '.'))
			assert_int_equal(udfenv_strvec_push(out, s), 0);
		free(names[i]);
	}
	free(names);
}

static size_t open_fds(void)
{
	udfenv_strvec v = UDFENV_STRVEC_INIT;
	size_t n;

	list_dir(&v, "/proc/self/fd", 0);
	n = v.count;
	udfenv_strvec_dispose(&v);
	return n;
}

/* No temporary output beside the outputs, no environment left in the temp root, no fd left open. */
static void assert_no_leftovers(void)
{
	udfenv_strvec v = UDFENV_STRVEC_INIT;

	assert_int_equal(open_fds(), fds_at_start);

	list_dir(&v, data.ptr, 1);
	if (v.count)
		fail_msg("temporary output left in %s: %s", data.ptr, v.items[0]);
	list_dir(&v, envs.ptr, 0);
	if (v.count)
		fail_msg("left in the temp root %s: %s", envs.ptr, v.items[0]);
	udfenv_strvec_dispose(&v);
}

/* in.csv-like content: a header and rows `id`,n`id` for id = 1..n. */
static char *numbers_csv(unsigned n)
{
	udfenv_buf b = UDFENV_BUF_INIT;

	assert_int_equal(udfenv_buf_puts(&b, "id,name\n"), 0);
	for (unsigned i = 1; i <= n; i++)
		assert_int_equal(udfenv_buf_printf(&b, "%u,n%u\n", i, i), 0);
	return udfenv_buf_detach(&b);
}

/* Write data/`name` with `n` numbered rows; its path in `b`. */
static const char *make_input(udfenv_buf *b, const char *name, unsigned n)
{
	char *text = numbers_csv(n);
	tu_write_file(in_data(b, name), text, 0644);
	free(text);
	return b->ptr;
}

static char *plan_json(const char *source_path, const char *output, const char *sink,
		       const char *program, const char *runtime_dir)
{
	udfenv_buf b = UDFENV_BUF_INIT;

	assert_int_equal(udfenv_buf_printf(&b,
					   "{\"udfenv_plan\": 1, \"source\": {\"format\": \"csv\", "
					   "\"path\": \"%s\", \"schema\": " SCHEMA_IN "}, "
					   "\"output\": %s, \"sink\": %s, \"runtime\": \"%s\", "
					   "\"program\": %s}",
					   source_path, output, sink, runtime_dir ? runtime_dir : runtime.ptr,
					   program),
			 0);
	return udfenv_buf_detach(&b);
}

static char *file_sink(const char *format, const char *path, int overwrite)
{
	udfenv_buf b = UDFENV_BUF_INIT;
	assert_int_equal(udfenv_buf_printf(&b,
					   "{\"type\": \"file\", \"format\": \"%s\", \"path\": \"%s\", "
					   "\"overwrite\": %s}",
					   format, path, overwrite ? "true" : "false"),
			 0);
	return udfenv_buf_detach(&b);
}

typedef struct {
	udfenv_deps *deps;
	udfenv_config *cfg;
	udfenv_job_opts opts;
	udfenv_job_report report;
	volatile int cancel;
	int phases[16];
	unsigned nphases;
	udfenv_job_progress last;
	uint64_t last_worker_sum;
	int cancel_when_running;
} job_ctx;

static void on_progress(const udfenv_job_progress *p, void *payload)
{
	job_ctx *c = payload;

	/* No cmocka asserts here: a failure would jump out of the job, past its cleanup. */
	if ((c->nphases == 0 || c->phases[c->nphases - 1] != (int)p->phase) && c->nphases < 16)
		c->phases[c->nphases++] = (int)p->phase;
	c->last = *p;
	c->last_worker_sum = 0;
	for (unsigned i = 0; i < p->workers; i++)
		c->last_worker_sum += p->worker_rows[i];
	if (c->cancel_when_running && p->phase == UDFENV_JOB_RUNNING && p->rows_out > 0)
		c->cancel = 1;
}

static void ctx_init(job_ctx *c, unsigned parallelism, unsigned bundle)
{
	udfenv_job_opts init = UDFENV_JOB_OPTS_INIT;
	udfenv_buf b = UDFENV_BUF_INIT;
	char num[32];

	memset(c, 0, sizeof(*c));
	c->opts = init;
	c->opts.env.tmp_root = envs.ptr;
	c->opts.cancel = &c->cancel;
	c->opts.progress = on_progress;
	c->opts.progress_payload = c;
	c->opts.progress_interval = 0.05;
	assert_int_equal(udfenv_deps_new(&c->deps), 0);
	if (access("/usr/bin/python3", X_OK) == 0)
		assert_int_equal(udfenv_deps_set_executable(c->deps, "/usr/bin/python3"), 0);
	/* The UDF module, shipped like any python file. */
	tu_write_file(in_data(&b, "job_udfs.py"), udfs_py, 0644);
	assert_int_equal(udfenv_deps_add_python_file(c->deps, b.ptr), 0);
	udfenv_buf_dispose(&b);
	assert_int_equal(udfenv_config_new(&c->cfg), 0);
	snprintf(num, sizeof(num), "%u", parallelism);
	assert_int_equal(udfenv_config_set(c->cfg, "parallelism.default", num), 0);
	if (bundle) {
		snprintf(num, sizeof(num), "%u", bundle);
		assert_int_equal(udfenv_config_set(c->cfg, "python.fn-execution.bundle.size", num), 0);
	}
}

static void ctx_dispose(job_ctx *c)
{
	udfenv_job_report_dispose(&c->report);
	udfenv_deps_free(c->deps);
	udfenv_config_free(c->cfg);
	assert_no_leftovers();
}

static int run_plan(job_ctx *c, const char *plan)
{
	int error;

	udfenv_job_report_dispose(&c->report); /* a test may run several plans */
	error = udfenv_job_run(&c->report, plan, strlen(plan), c->deps, c->cfg, &c->opts);
	if (error < 0 && getenv("TEST_JOB_VERBOSE"))
		fprintf(stderr, "job error: %s\n%s\n", udfenv_error_last()->message,
			c->report.detail ? c->report.detail : "");
	return error;
}

/* --- successful jobs ----------------------------------------------------- */

static void identity_to(const char *format, const char *expected_first)
{
	job_ctx c;
	udfenv_buf in = UDFENV_BUF_INIT, out = UDFENV_BUF_INIT;
	char *sink, *plan, *text;

	ctx_init(&c, 1, 0);
	make_input(&in, "in.csv", 10);
	sink = file_sink(format, in_data(&out, strcmp(format, "csv") ? "out.jsonl" : "out.csv"), 0);
	plan = plan_json(in.ptr, SCHEMA_IN, sink, PROGRAM_IDENTITY, NULL);
	assert_int_equal(run_plan(&c, plan), 0);
	assert_int_equal(c.report.rows_in, 10);
	assert_int_equal(c.report.rows_out, 10);
	assert_int_equal(c.report.workers, 1);
	assert_null(c.report.collected);
	assert_null(c.report.detail);
	assert_true(c.report.seconds >= c.report.setup_seconds);
	text = tu_read_text(out.ptr);
	if (strcmp(format, "csv") == 0) {
		char *expected = numbers_csv(10);
		assert_string_equal(text, expected);
		free(expected);
	} else {
		assert_true(strncmp(text, expected_first, strlen(expected_first)) == 0);
	}
	free(text);
	free(plan);
	free(sink);
	udfenv_buf_dispose(&in);
	udfenv_buf_dispose(&out);
	unlink(in_data(&out, "out.csv"));
	unlink(in_data(&out, "out.jsonl"));
	udfenv_buf_dispose(&out);
	ctx_dispose(&c);
}

static void test_identity_csv_to_csv(void **state)
{
	(void)state;
	identity_to("csv", NULL);
}

static void test_identity_csv_to_jsonl(void **state)
{
	(void)state;
	identity_to("jsonl", "{\"id\":1,\"name\":\"n1\"}\n{\"id\":2,");
}

/* Parse JSON Lines of {"id", "name"} / {"id", "v"} objects into `ids` (n entries). */
static size_t jsonl_ids(const char *text, int64_t *ids, size_t max)
{
	size_t n = 0;

	for (const char *line = text; *line; line = strchr(line, '\n') + 1) {
		json_error_t e;
		json_t *o = json_loadb(line, strcspn(line, "\n"), 0, &e);
		if (o == NULL)
			fail_msg("not JSON: %s", line);
		assert_true(n < max);
		assert_true(json_is_integer(json_object_get(o, "id")));
		ids[n++] = json_integer_value(json_object_get(o, "id"));
		json_decref(o);
		if (strchr(line, '\n') == NULL)
			break;
	}
	return n;
}

static void test_collect(void **state)
{
	job_ctx c;
	udfenv_buf in = UDFENV_BUF_INIT;
	int64_t ids[100];
	char *plan;

	(void)state;
	ctx_init(&c, 2, 3);
	make_input(&in, "in.csv", 20);
	plan = plan_json(in.ptr, SCHEMA_IN, "{\"type\": \"collect\"}", PROGRAM_IDENTITY, NULL);
	assert_int_equal(run_plan(&c, plan), 0);
	assert_non_null(c.report.collected);
	assert_int_equal(c.report.collected_len, strlen(c.report.collected));
	assert_int_equal(jsonl_ids(c.report.collected, ids, 100), 20);
	for (int i = 0; i < 20; i++)
		assert_int_equal(ids[i], i + 1);
	assert_int_equal(c.report.workers, 2);
	free(plan);
	udfenv_buf_dispose(&in);
	ctx_dispose(&c);
}

/* Many small batches over `parallelism` workers: the output keeps the input's order. */
static void order_kept(unsigned parallelism)
{
	job_ctx c;
	udfenv_buf in = UDFENV_BUF_INIT, out = UDFENV_BUF_INIT;
	char *sink, *plan, *text, *expected;

	ctx_init(&c, parallelism, 37);
	make_input(&in, "in.csv", 5000);
	sink = file_sink("csv", in_data(&out, "out.csv"), 0);
	plan = plan_json(in.ptr, SCHEMA_IN, sink, PROGRAM_IDENTITY, NULL);
	assert_int_equal(run_plan(&c, plan), 0);
	text = tu_read_text(out.ptr);
	expected = numbers_csv(5000);
	assert_string_equal(text, expected);
	assert_int_equal(c.report.rows_out, 5000);
	assert_int_equal(c.report.workers, parallelism);

	/* Progress: every phase in order, and a last call that adds up. */
	assert_int_equal(c.nphases, 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(c.phases[i], i);
	assert_int_equal(c.last.phase, UDFENV_JOB_DONE);
	assert_int_equal(c.last.rows_in, 5000);
	assert_int_equal(c.last.rows_out, 5000);
	assert_int_equal(c.last.workers, parallelism);
	assert_int_equal(c.last_worker_sum, 5000);
	assert_true(c.last.bytes_total > 0 && c.last.bytes_in == c.last.bytes_total);

	free(text);
	free(expected);
	free(plan);
	free(sink);
	unlink(out.ptr);
	udfenv_buf_dispose(&in);
	udfenv_buf_dispose(&out);
	ctx_dispose(&c);
}

static void test_order_parallelism_1(void **state)
{
	(void)state;
	order_kept(1);
}

static void test_order_parallelism_3(void **state)
{
	(void)state;
	order_kept(3);
}

/* A UDTF: more output rows than input rows (the index column), still in order. */
static void test_flat_map_in_order(void **state)
{
	job_ctx c;
	udfenv_buf in = UDFENV_BUF_INIT, out = UDFENV_BUF_INIT;
	char *sink, *plan, *text;
	udfenv_buf expected = UDFENV_BUF_INIT;

	(void)state;
	ctx_init(&c, 2, 10);
	make_input(&in, "in.csv", 100);
	sink = file_sink("csv", in_data(&out, "out.csv"), 0);
	plan = plan_json(in.ptr, SCHEMA_TWICE, sink, PROGRAM_TWICE, NULL);
	assert_int_equal(run_plan(&c, plan), 0);
	assert_int_equal(c.report.rows_in, 100);
	assert_int_equal(c.report.rows_out, 200);
	udfenv_buf_puts(&expected, "f0,f1\n");
	for (int i = 1; i <= 100; i++)
		udfenv_buf_printf(&expected, "%d,n%d\n%d,n%d\n", i, i, -i, i);
	text = tu_read_text(out.ptr);
	assert_string_equal(text, expected.ptr);
	free(text);
	free(plan);
	free(sink);
	unlink(out.ptr);
	udfenv_buf_dispose(&expected);
	udfenv_buf_dispose(&in);
	udfenv_buf_dispose(&out);
	ctx_dispose(&c);
}

static void test_directory_sink_parts(void **state)
{
	job_ctx c;
	udfenv_buf in = UDFENV_BUF_INIT, out = UDFENV_BUF_INIT, part = UDFENV_BUF_INIT;
	udfenv_strvec parts = UDFENV_STRVEC_INIT;
	char *plan, *sink;
	int seen[1001] = {0};
	unsigned total = 0;

	(void)state;
	ctx_init(&c, 3, 50);
	make_input(&in, "in.csv", 1000);
	in_data(&out, "outdir");
	assert_int_equal(udfenv_buf_printf(&part, "{\"type\": \"directory\", \"format\": \"jsonl\", "
						  "\"path\": \"%s\"}", out.ptr), 0);
	sink = udfenv_buf_detach(&part);
	plan = plan_json(in.ptr, SCHEMA_IN, sink, PROGRAM_IDENTITY, NULL);
	assert_int_equal(run_plan(&c, plan), 0);

	list_dir(&parts, out.ptr, 0);
	assert_int_equal(parts.count, 3);
	assert_string_equal(parts.items[0], "part-00000.jsonl");
	assert_string_equal(parts.items[1], "part-00001.jsonl");
	assert_string_equal(parts.items[2], "part-00002.jsonl");
	for (size_t i = 0; i < parts.count; i++) {
		int64_t ids[1000];
		char *text;
		size_t n;

		udfenv_buf_clear(&part);
		udfenv_buf_printf(&part, "%s/%s", out.ptr, parts.items[i]);
		text = tu_read_text(part.ptr);
		n = *text ? jsonl_ids(text, ids, 1000) : 0;
		for (size_t k = 0; k < n; k++) {
			assert_true(ids[k] >= 1 && ids[k] <= 1000 && !seen[ids[k]]);
			seen[ids[k]] = 1;
			/* Each part is in input order. */
			if (k)
				assert_true(ids[k] > ids[k - 1]);
		}
		total += (unsigned)n;
		free(text);
	}
	assert_int_equal(total, 1000);

	/* Again without overwrite: refused; with it: replaced. */
	assert_int_equal(run_plan(&c, plan), UDFENV_ECONFLICT);
	tu_assert_message_contains("exists");
	udfenv_job_report_dispose(&c.report);
	free(plan);
	free(sink);
	udfenv_buf_clear(&part);
	udfenv_buf_printf(&part, "{\"type\": \"directory\", \"format\": \"csv\", \"path\": \"%s\", "
				 "\"overwrite\": true}", out.ptr);
	sink = udfenv_buf_detach(&part);
	plan = plan_json(in.ptr, SCHEMA_IN, sink, PROGRAM_IDENTITY, NULL);
	assert_int_equal(run_plan(&c, plan), 0);
	udfenv_strvec_dispose(&parts);
	list_dir(&parts, out.ptr, 0);
	assert_int_equal(parts.count, 3);
	assert_string_equal(parts.items[0], "part-00000.csv");

	udfenv_strvec_dispose(&parts);
	assert_int_equal(udfenv_fs_rmtree(out.ptr), 0);
	free(plan);
	free(sink);
	udfenv_buf_dispose(&in);
	udfenv_buf_dispose(&out);
	udfenv_buf_dispose(&part);
	ctx_dispose(&c);
}

static void test_empty_input(void **state)
{
	job_ctx c;
	udfenv_buf in = UDFENV_BUF_INIT, out = UDFENV_BUF_INIT;
	char *sink, *plan, *text;

	(void)state;
	ctx_init(&c, 2, 0);
	tu_write_file(in_data(&in, "empty.csv"), "id,name\n", 0644);
	sink = file_sink("csv", in_data(&out, "out.csv"), 0);
	plan = plan_json(in.ptr, SCHEMA_CALL, sink, PROGRAM_CALL("fragile"), NULL);
	assert_int_equal(run_plan(&c, plan), 0);
	assert_int_equal(c.report.rows_in, 0);
	assert_int_equal(c.report.rows_out, 0);
	text = tu_read_text(out.ptr);
	assert_string_equal(text, "id,v\n");
	free(text);
	free(plan);
	free(sink);
	unlink(out.ptr);
	udfenv_buf_dispose(&in);
	udfenv_buf_dispose(&out);
	ctx_dispose(&c);
}

static void test_overwrite_replaces_a_file(void **state)
{
	job_ctx c;
	udfenv_buf in = UDFENV_BUF_INIT, out = UDFENV_BUF_INIT;
	char *sink, *plan, *text, *expected;

	(void)state;
	ctx_init(&c, 1, 0);
	make_input(&in, "in.csv", 3);
	tu_write_file(in_data(&out, "out.csv"), "previous output\n", 0644);
	sink = file_sink("csv", out.ptr, 1);
	plan = plan_json(in.ptr, SCHEMA_IN, sink, PROGRAM_IDENTITY, NULL);
	assert_int_equal(run_plan(&c, plan), 0);
	text = tu_read_text(out.ptr);
	expected = numbers_csv(3);
	assert_string_equal(text, expected);
	free(text);
	free(expected);
	free(plan);
	free(sink);
	unlink(out.ptr);
	udfenv_buf_dispose(&in);
	udfenv_buf_dispose(&out);
	ctx_dispose(&c);
}

static void capture_log(udfenv_log_level level, const char *line, void *payload)
{
	udfenv_buf *b = payload;
	(void)level;
	udfenv_buf_puts(b, line);
	udfenv_buf_putc(b, '\n');
}

static void test_logs_setup_and_worker_command_lines(void **state)
{
	job_ctx c;
	udfenv_buf in = UDFENV_BUF_INIT, log = UDFENV_BUF_INIT;
	char *plan;

	(void)state;
	ctx_init(&c, 2, 0);
	make_input(&in, "in.csv", 5);
	plan = plan_json(in.ptr, SCHEMA_IN, "{\"type\": \"collect\"}", PROGRAM_IDENTITY, NULL);
	udfenv_log_set(capture_log, UDFENV_LOG_INFO, &log);
	assert_int_equal(run_plan(&c, plan), 0);
	udfenv_log_set(NULL, UDFENV_LOG_ERROR, NULL);
	tu_assert_contains(log.ptr, "setup: environment ready in ");
	tu_assert_contains(log.ptr, "worker 0: ");
	tu_assert_contains(log.ptr, "worker 1: ");
	tu_assert_contains(log.ptr, "import udfenv._worker as w; w.main()");
	tu_assert_contains(log.ptr, runtime.ptr);
	tu_assert_contains(log.ptr, "(pid ");
	free(plan);
	udfenv_buf_dispose(&in);
	udfenv_buf_dispose(&log);
	ctx_dispose(&c);
}

/* --- refused before anything runs ---------------------------------------- */

static void expect_plan_error(job_ctx *c, const char *plan, int code, const char *part)
{
	assert_int_equal(run_plan(c, plan), code);
	tu_assert_message_contains(part);
	assert_null(c->report.collected);
	/* Refused before setup: no environment was made. */
	assert_true(c->report.setup_seconds == 0);
	udfenv_job_report_dispose(&c->report);
}

static void test_bad_plans(void **state)
{
	static const struct {
		const char *plan; /* %s: the input path */
		const char *message;
	} cases[] = {
		{"[1, 2]", "plan: expected a JSON object"},
		{"{\"udfenv_plan\": 1,", "plan: not valid JSON"},
		{"{\"source\": {}}", "plan: udfenv_plan: missing"},
		{"{\"udfenv_plan\": 2}", "plan: udfenv_plan: version 2 is not supported"},
		{"{\"udfenv_plan\": 1, \"extra\": 1}", "plan: unknown key \"extra\""},
		{"{\"udfenv_plan\": 1, \"udfenv_plan\": 1}", "plan: not valid JSON"},
		{"{\"udfenv_plan\": 1, \"source\": {\"format\": \"xml\", \"path\": \"%s\", \"schema\": " SCHEMA_IN "}}",
		 "plan: source.format: expected \"csv\" or \"jsonl\""},
		{"{\"udfenv_plan\": 1, \"source\": {\"format\": \"csv\", \"path\": \"%s\", \"schema\": " SCHEMA_IN ", \"sep\": \";\"}}",
		 "plan: source: unknown key \"sep\""},
		{"{\"udfenv_plan\": 1, \"source\": {\"format\": \"csv\", \"path\": \"\", \"schema\": " SCHEMA_IN "}}",
		 "plan: source.path: is empty"},
		{"{\"udfenv_plan\": 1, \"source\": {\"format\": \"csv\", \"path\": \"%s\", \"schema\": [[\"id\", \"INT\"]]}}",
		 "plan: source.schema[0]: unknown type \"INT\""},
		{"{\"udfenv_plan\": 1, \"source\": {\"format\": \"csv\", \"path\": \"%s\", \"schema\": [[\"a\", \"BIGINT\"], [\"a\", \"STRING\"]]}}",
		 "plan: source.schema[1]: "},
		{"{\"udfenv_plan\": 1, \"source\": {\"format\": \"csv\", \"path\": \"%s\", \"schema\": []}}",
		 "plan: source.schema: has no columns"},
		{"{\"udfenv_plan\": 1, \"source\": {\"format\": \"csv\", \"path\": \"%s\", \"schema\": " SCHEMA_IN "}, "
		 "\"output\": [[\"id\"]]}",
		 "plan: output[0]: expected a [name, type] pair"},
		{"{\"udfenv_plan\": 1, \"source\": {\"format\": \"csv\", \"path\": \"%s\", \"schema\": " SCHEMA_IN "}, "
		 "\"output\": " SCHEMA_IN ", \"sink\": {\"type\": \"file\", \"format\": \"parquet\", \"path\": \"x\"}}",
		 "plan: sink.format: expected \"csv\" or \"jsonl\""},
		{"{\"udfenv_plan\": 1, \"source\": {\"format\": \"csv\", \"path\": \"%s\", \"schema\": " SCHEMA_IN "}, "
		 "\"output\": " SCHEMA_IN ", \"sink\": {\"type\": \"table\"}}",
		 "plan: sink.type: expected \"collect\", \"file\" or \"directory\""},
		{"{\"udfenv_plan\": 1, \"source\": {\"format\": \"csv\", \"path\": \"%s\", \"schema\": " SCHEMA_IN "}, "
		 "\"output\": " SCHEMA_IN ", \"sink\": {\"type\": \"collect\", \"path\": \"x\"}}",
		 "plan: sink (collect): unknown key \"path\""},
		{"{\"udfenv_plan\": 1, \"source\": {\"format\": \"csv\", \"path\": \"%s\", \"schema\": " SCHEMA_IN "}, "
		 "\"output\": " SCHEMA_IN ", \"sink\": {\"type\": \"file\", \"format\": \"csv\", \"path\": \"x\", \"overwrite\": 1}}",
		 "plan: sink.overwrite: expected true or false"},
		{"{\"udfenv_plan\": 1, \"source\": {\"format\": \"csv\", \"path\": \"%s\", \"schema\": " SCHEMA_IN "}, "
		 "\"output\": " SCHEMA_IN ", \"sink\": {\"type\": \"collect\"}, \"runtime\": \"python\"}",
		 "plan: runtime: expected an absolute path"},
		{"{\"udfenv_plan\": 1, \"source\": {\"format\": \"csv\", \"path\": \"%s\", \"schema\": " SCHEMA_IN "}, "
		 "\"output\": " SCHEMA_IN ", \"sink\": {\"type\": \"collect\"}, \"runtime\": \"/x\"}",
		 "plan: program: missing"},
	};
	job_ctx c;
	udfenv_buf in = UDFENV_BUF_INIT, plan = UDFENV_BUF_INIT;

	(void)state;
	ctx_init(&c, 1, 0);
	make_input(&in, "in.csv", 3);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *at = strstr(cases[i].plan, "%s");
		udfenv_buf_clear(&plan);
		if (at) {
			udfenv_buf_put(&plan, cases[i].plan, (size_t)(at - cases[i].plan));
			udfenv_buf_puts(&plan, in.ptr);
			udfenv_buf_puts(&plan, at + 2);
		} else {
			udfenv_buf_puts(&plan, cases[i].plan);
		}
		expect_plan_error(&c, plan.ptr, UDFENV_EINVALID, cases[i].message);
	}
	/* NULL plan text. */
	assert_int_equal(udfenv_job_run(&c.report, NULL, 0, c.deps, c.cfg, &c.opts), UDFENV_EINVALID);
	udfenv_job_report_dispose(&c.report);
	udfenv_buf_dispose(&plan);
	udfenv_buf_dispose(&in);
	ctx_dispose(&c);
}

static void test_bad_config(void **state)
{
	static const struct {
		const char *key, *value;
	} cases[] = {
		{"parallelism.default", "0"},       {"parallelism.default", "257"},
		{"parallelism.default", "-1"},      {"parallelism.default", "two"},
		{"parallelism.default", " 2"},      {"python.fn-execution.bundle.size", "0"},
		{"python.fn-execution.bundle.size", "1000001"},
	};
	job_ctx c;
	udfenv_buf in = UDFENV_BUF_INIT;
	char *plan;

	(void)state;
	make_input(&in, "in.csv", 3);
	plan = plan_json(in.ptr, SCHEMA_IN, "{\"type\": \"collect\"}", PROGRAM_IDENTITY, NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ctx_init(&c, 1, 0);
		assert_int_equal(udfenv_config_set(c.cfg, cases[i].key, cases[i].value), 0);
		expect_plan_error(&c, plan, UDFENV_EINVALID, cases[i].key);
		ctx_dispose(&c);
	}
	/* No config at all: the defaults. */
	ctx_init(&c, 1, 0);
	assert_int_equal(udfenv_job_run(&c.report, plan, strlen(plan), c.deps, NULL, &c.opts), 0);
	assert_int_equal(c.report.workers, 1);
	assert_int_equal(c.report.rows_out, 3);
	ctx_dispose(&c);
	free(plan);
	udfenv_buf_dispose(&in);
}

static void test_existing_output_without_overwrite(void **state)
{
	job_ctx c;
	udfenv_buf in = UDFENV_BUF_INIT, out = UDFENV_BUF_INIT, dir = UDFENV_BUF_INIT;
	char *sink, *plan, *text;

	(void)state;
	ctx_init(&c, 1, 0);
	make_input(&in, "in.csv", 3);
	tu_write_file(in_data(&out, "out.csv"), "keep me\n", 0644);
	sink = file_sink("csv", out.ptr, 0);
	plan = plan_json(in.ptr, SCHEMA_IN, sink, PROGRAM_IDENTITY, NULL);
	udfenv_buf_printf(&dir, "output '%s' exists; remove it or set overwrite", out.ptr);
	expect_plan_error(&c, plan, UDFENV_ECONFLICT, dir.ptr);
	text = tu_read_text(out.ptr);
	assert_string_equal(text, "keep me\n");
	free(text);
	free(plan);
	free(sink);

	/* A missing output directory and a missing source fail as fast. */
	udfenv_buf_clear(&dir);
	udfenv_buf_printf(&dir, "%s/no/such/out.csv", data.ptr);
	sink = file_sink("csv", dir.ptr, 0);
	plan = plan_json(in.ptr, SCHEMA_IN, sink, PROGRAM_IDENTITY, NULL);
	expect_plan_error(&c, plan, UDFENV_ENOTFOUND, "does not exist");
	free(plan);
	free(sink);
	udfenv_buf_clear(&dir);
	udfenv_buf_printf(&dir, "%s/missing.csv", data.ptr);
	plan = plan_json(dir.ptr, SCHEMA_IN, "{\"type\": \"collect\"}", PROGRAM_IDENTITY, NULL);
	expect_plan_error(&c, plan, UDFENV_ENOTFOUND, "missing.csv");
	free(plan);

	unlink(out.ptr);
	udfenv_buf_dispose(&in);
	udfenv_buf_dispose(&out);
	udfenv_buf_dispose(&dir);
	ctx_dispose(&c);
}

/* --- failing jobs -------------------------------------------------------- */

static void test_udf_error_names_the_row(void **state)
{
	job_ctx c;
	udfenv_buf in = UDFENV_BUF_INIT, out = UDFENV_BUF_INIT, where = UDFENV_BUF_INIT;
	char *sink, *plan, *text;

	(void)state;
	ctx_init(&c, 2, 10);
	make_input(&in, "in.csv", 100);
	tu_write_file(in_data(&out, "out.csv"), "previous output\n", 0644);
	sink = file_sink("csv", out.ptr, 1);
	plan = plan_json(in.ptr, SCHEMA_CALL, sink, PROGRAM_CALL("fragile"), NULL);
	assert_int_equal(run_plan(&c, plan), UDFENV_ERROR);
	/* id 42 is on line 43. */
	tu_assert_message_contains("worker ");
	tu_assert_message_contains("fragile");
	tu_assert_message_contains("ZeroDivisionError");
	udfenv_buf_printf(&where, "(%s line 43)", in.ptr);
	tu_assert_message_contains(where.ptr);
	assert_null(strchr(udfenv_error_last()->message, '\n'));
	assert_non_null(c.report.detail);
	udfenv_buf_clear(&where);
	udfenv_buf_printf(&where, "input row: %s line 43: {", in.ptr);
	tu_assert_contains(c.report.detail, where.ptr);
	tu_assert_contains(c.report.detail, "\"id\": 42");
	tu_assert_contains(c.report.detail, "\"name\": \"n42\"");
	tu_assert_contains(c.report.detail, "traceback:\n  ");
	tu_assert_contains(c.report.detail, "return 1 // 0");
	/* The old output is untouched. */
	text = tu_read_text(out.ptr);
	assert_string_equal(text, "previous output\n");
	free(text);
	free(plan);
	free(sink);
	unlink(out.ptr);
	udfenv_buf_dispose(&in);
	udfenv_buf_dispose(&out);
	udfenv_buf_dispose(&where);
	ctx_dispose(&c);
}

static void dying_worker(const char *fn, const char *how)
{
	job_ctx c;
	udfenv_buf in = UDFENV_BUF_INIT, out = UDFENV_BUF_INIT, where = UDFENV_BUF_INIT;
	char *sink, *plan;
	double t0 = udfenv_now();

	ctx_init(&c, 2, 1000);
	make_input(&in, "in.csv", 20000);
	sink = file_sink("csv", in_data(&out, "out.csv"), 0);
	plan = plan_json(in.ptr, SCHEMA_CALL, sink, fn, NULL);
	assert_int_equal(run_plan(&c, plan), UDFENV_ERROR);
	assert_true(udfenv_now() - t0 < 30);
	/*
	 * Ids 4001..5000 are on lines 4002..5001: that batch is the oldest the
	 * worker held (it may hold the next one too).
	 */
	tu_assert_message_contains("worker ");
	tu_assert_message_contains(" (pid ");
	tu_assert_message_contains(") died: ");
	tu_assert_message_contains(how);
	udfenv_buf_printf(&where, " while processing %s lines 4002-", in.ptr);
	tu_assert_message_contains(where.ptr);
	assert_false(exists(out.ptr));
	free(plan);
	free(sink);
	udfenv_buf_dispose(&in);
	udfenv_buf_dispose(&out);
	udfenv_buf_dispose(&where);
	ctx_dispose(&c);
}

static void test_worker_exits_mid_job(void **state)
{
	(void)state;
	dying_worker(PROGRAM_CALL("exit_at_5000"), "exited with status 3");
}

static void test_worker_killed_mid_job(void **state)
{
	(void)state;
	dying_worker(PROGRAM_CALL("kill_at_5000"), "killed by signal 9 (SIGKILL)");
}

static void test_cancel(void **state)
{
	job_ctx c;
	udfenv_buf in = UDFENV_BUF_INIT, out = UDFENV_BUF_INIT;
	char *sink, *plan;
	double t0;

	(void)state;
	ctx_init(&c, 2, 5);
	c.cancel_when_running = 1;
	make_input(&in, "in.csv", 2000); /* 20 s of work at 10 ms a row over 2 workers */
	sink = file_sink("csv", in_data(&out, "out.csv"), 0);
	plan = plan_json(in.ptr, SCHEMA_CALL, sink, PROGRAM_CALL("slow"), NULL);
	t0 = udfenv_now();
	assert_int_equal(run_plan(&c, plan), UDFENV_ECANCELED);
	assert_string_equal(udfenv_error_last()->message, "job cancelled");
	assert_true(udfenv_now() - t0 < 15);
	assert_true(c.report.rows_out > 0 && c.report.rows_out < 2000);
	assert_false(exists(out.ptr));
	free(plan);
	free(sink);

	/* Raised before the job starts: nothing runs. */
	udfenv_job_report_dispose(&c.report);
	c.cancel = 1;
	c.cancel_when_running = 0;
	sink = file_sink("csv", out.ptr, 0);
	plan = plan_json(in.ptr, SCHEMA_CALL, sink, PROGRAM_CALL("slow"), NULL);
	assert_int_equal(run_plan(&c, plan), UDFENV_ECANCELED);
	assert_false(exists(out.ptr));
	free(plan);
	free(sink);
	udfenv_buf_dispose(&in);
	udfenv_buf_dispose(&out);
	ctx_dispose(&c);
}

/* --- workers that break the protocol --------------------------------------- */

/*
 * A runtime dir holding udfenv/_worker.py = `code`, with `proto` (frame
 * helpers) in front. Written under data/rt-<name>; its path in `b`.
 */
static const char *fake_runtime(udfenv_buf *b, const char *name, const char *code)
{
	static const char proto[] =
		"import json, os, struct, sys\n"
		"R = os.fdopen(os.dup(0), 'rb')\n"
		"W = os.fdopen(os.dup(1), 'wb')\n"
		"def frame():\n"
		"    h = R.read(4)\n"
		"    if len(h) < 4:\n"
		"        return None, None\n"
		"    d = R.read(struct.unpack('>I', h)[0])\n"
		"    return d[:1], d[1:]\n"
		"def send(t, p):\n"
		"    W.write(struct.pack('>I', len(p) + 1) + t + p)\n"
		"    W.flush()\n"
		"def hello():\n"
		"    send(b'H', json.dumps({'protocol': 1, 'python': '3', 'executable': sys.executable}).encode())\n";
	udfenv_buf path = UDFENV_BUF_INIT, text = UDFENV_BUF_INIT;

	assert_int_equal(udfenv_buf_printf(b, "%s/rt-%s", data.ptr, name), 0);
	assert_int_equal(udfenv_buf_printf(&path, "%s/udfenv", b->ptr), 0);
	assert_int_equal(udfenv_fs_mkdir_p(path.ptr, 0755), 0);
	udfenv_buf_puts(&path, "/__init__.py");
	tu_write_file(path.ptr, "", 0644);
	udfenv_buf_clear(&path);
	udfenv_buf_printf(&path, "%s/udfenv/_worker.py", b->ptr);
	udfenv_buf_printf(&text, "%sdef main():\n%s", proto, code);
	tu_write_file(path.ptr, text.ptr, 0644);
	udfenv_buf_dispose(&path);
	udfenv_buf_dispose(&text);
	return b->ptr;
}

static void broken_worker(const char *name, const char *code, const char *const *parts)
{
	job_ctx c;
	udfenv_buf in = UDFENV_BUF_INIT, out = UDFENV_BUF_INIT, rt = UDFENV_BUF_INIT;
	char *sink, *plan;
	double t0 = udfenv_now();

	ctx_init(&c, 1, 100);
	make_input(&in, "in.csv", 1000);
	sink = file_sink("csv", in_data(&out, "out.csv"), 0);
	plan = plan_json(in.ptr, SCHEMA_IN, sink, PROGRAM_IDENTITY, fake_runtime(&rt, name, code));
	assert_true(run_plan(&c, plan) < 0);
	assert_true(udfenv_now() - t0 < 30);
	for (; *parts; parts++)
		tu_assert_message_contains(*parts);
	assert_false(exists(out.ptr));
	assert_int_equal(udfenv_fs_rmtree(rt.ptr), 0);
	free(plan);
	free(sink);
	udfenv_buf_dispose(&in);
	udfenv_buf_dispose(&out);
	udfenv_buf_dispose(&rt);
	ctx_dispose(&c);
}

static void test_output_before_hello(void **state)
{
	static const char *const parts[] = {
		"worker 0 (pid ", "wrote output that is not the protocol before its hello",
		"\"Loading model...\\n", NULL};
	(void)state;
	broken_worker("chatty", "    W.write(b'Loading model...\\n'); W.flush()\n    frame()\n", parts);
}

/* Text whose first bytes read as a plausible length and an 'H': still not waited for. */
static void test_output_before_hello_like_a_frame(void **state)
{
	static const char *const parts[] = {"worker 0 (pid ", "not the protocol before its hello",
					    "\"1234Hello\\n\"", NULL};
	(void)state;
	broken_worker("sly", "    W.write(b'1234Hello\\n'); W.flush()\n    frame()\n", parts);
}

static void test_exit_before_hello(void **state)
{
	static const char *const parts[] = {"worker 0 (pid ", "died while starting: exited with status 7",
					    NULL};
	(void)state;
	broken_worker("early", "    sys.exit(7)\n", parts);
}

static void test_result_for_the_wrong_batch(void **state)
{
	static const char *const parts[] = {"worker 0 (pid ", "broke the protocol",
					    "a result for batch 5, expected batch 0", NULL};
	(void)state;
	broken_worker("wrongseq",
		      "    frame()\n    hello()\n    t, p = frame()\n"
		      "    send(b'R', struct.pack('>QB', 5, 0) + p[8:])\n    frame()\n",
		      parts);
}

static void test_result_that_does_not_decode(void **state)
{
	static const char *const parts[] = {"worker 0 (pid ", "result for batch 0", NULL};
	(void)state;
	broken_worker("baddata",
		      "    frame()\n    hello()\n    t, p = frame()\n"
		      "    send(b'R', p[:8] + b'\\0' + b'[[1, 2], \"x\"]')\n    frame()\n",
		      parts);
}

static void test_exit_with_status_0_mid_job(void **state)
{
	static const char *const parts[] = {"worker 0 (pid ", "died: exited with status 0 while processing",
					    NULL};
	(void)state;
	/* Answers one batch, then leaves without reading on. */
	broken_worker("quitter",
		      "    frame()\n    hello()\n    t, p = frame()\n"
		      "    send(b'R', p[:8] + b'\\0' + p[8:])\n    os._exit(0)\n",
		      parts);
}

static void test_a_stray_frame_type(void **state)
{
	static const char *const parts[] = {"worker 0 (pid ", "an unexpected frame of type \"Z\"", NULL};
	(void)state;
	broken_worker("stray", "    frame()\n    hello()\n    send(b'Z', b'')\n    frame()\n", parts);
}

/*
 * It never reads its first batch, which is larger than the pipe holds, and
 * dies: we are only writing to it then, and must still notice.
 */
static void test_death_while_we_write(void **state)
{
	job_ctx c;
	udfenv_buf in = UDFENV_BUF_INIT, out = UDFENV_BUF_INIT, rt = UDFENV_BUF_INIT;
	char *sink, *plan;
	double t0 = udfenv_now();

	(void)state;
	ctx_init(&c, 1, 200000);
	make_input(&in, "in.csv", 200000);
	sink = file_sink("csv", in_data(&out, "out.csv"), 0);
	plan = plan_json(in.ptr, SCHEMA_IN, sink, PROGRAM_IDENTITY,
			 fake_runtime(&rt, "deaf", "    frame()\n    hello()\n    import time\n"
						   "    time.sleep(0.5)\n    os.kill(os.getpid(), 9)\n"));
	assert_int_equal(run_plan(&c, plan), UDFENV_ERROR);
	assert_true(udfenv_now() - t0 < 30);
	tu_assert_message_contains("worker 0 (pid ");
	tu_assert_message_contains(") died: killed by signal 9 (SIGKILL) while processing ");
	tu_assert_message_contains("in.csv lines 2-200001");
	assert_false(exists(out.ptr));
	assert_int_equal(udfenv_fs_rmtree(rt.ptr), 0);
	free(plan);
	free(sink);
	udfenv_buf_dispose(&in);
	udfenv_buf_dispose(&out);
	udfenv_buf_dispose(&rt);
	ctx_dispose(&c);
}

/* The runtime reports a UDF module it cannot import before its hello. */
static void test_udf_import_error(void **state)
{
	job_ctx c;
	udfenv_buf in = UDFENV_BUF_INIT;
	char *plan;

	(void)state;
	ctx_init(&c, 2, 0);
	make_input(&in, "in.csv", 10);
	plan = plan_json(in.ptr, SCHEMA_CALL, "{\"type\": \"collect\"}",
			 "{\"udfenv_program\": 1, \"udfs\": [{\"module\": \"no_such_udfs\", "
			 "\"name\": \"f\"}], \"steps\": [{\"op\": \"select\", \"exprs\": "
			 "[{\"col\": 0}, {\"call\": 0, \"args\": [{\"col\": 0}], \"type\": "
			 "\"BIGINT\"}], \"output\": " SCHEMA_CALL "}]}",
			 NULL);
	assert_int_equal(run_plan(&c, plan), UDFENV_ERROR);
	tu_assert_message_contains("worker ");
	tu_assert_message_contains("no_such_udfs");
	assert_null(c.report.collected);
	free(plan);
	udfenv_buf_dispose(&in);
	ctx_dispose(&c);
}

/* A row the source cannot read fails the job with its file, line and column. */
static void test_bad_input_row(void **state)
{
	job_ctx c;
	udfenv_buf in = UDFENV_BUF_INIT, out = UDFENV_BUF_INIT;
	char *sink, *plan;

	(void)state;
	ctx_init(&c, 2, 2);
	tu_write_file(in_data(&in, "in.csv"), "id,name\n1,a\n2,b\n3,c\nx4,d\n5,e\n", 0644);
	sink = file_sink("csv", in_data(&out, "out.csv"), 0);
	plan = plan_json(in.ptr, SCHEMA_IN, sink, PROGRAM_IDENTITY, NULL);
	assert_int_equal(run_plan(&c, plan), UDFENV_EINVALID);
	tu_assert_message_contains("in.csv line 5");
	tu_assert_message_contains("'id'");
	assert_false(exists(out.ptr));
	free(plan);
	free(sink);
	udfenv_buf_dispose(&in);
	udfenv_buf_dispose(&out);
	ctx_dispose(&c);
}

/* --- schema inference ----------------------------------------------------- */

static void test_infer_schema(void **state)
{
	udfenv_buf in = UDFENV_BUF_INIT;
	char *json = NULL;

	(void)state;
	tu_write_file(in_data(&in, "mixed.csv"), "id,score,name,ok\n1,1.5,a,true\n2,2,b,false\n",
	              0644);
	assert_int_equal(udfenv_job_infer_schema(&json, "csv", in.ptr, 100), 0);
	assert_string_equal(json, "[[\"id\",\"BIGINT\"],[\"score\",\"DOUBLE\"],[\"name\",\"STRING\"],"
				  "[\"ok\",\"BOOLEAN\"]]");
	free(json);
	assert_int_equal(udfenv_job_infer_schema(&json, "xml", in.ptr, 100), UDFENV_EINVALID);
	assert_null(json);
	tu_assert_message_contains("expected \"csv\" or \"jsonl\"");
	unlink(in.ptr);
	udfenv_buf_dispose(&in);
}

static void test_phase_names(void **state)
{
	(void)state;
	assert_string_equal(udfenv_job_phase_name(UDFENV_JOB_SETUP), "setup");
	assert_string_equal(udfenv_job_phase_name(UDFENV_JOB_STARTING), "starting");
	assert_string_equal(udfenv_job_phase_name(UDFENV_JOB_RUNNING), "running");
	assert_string_equal(udfenv_job_phase_name(UDFENV_JOB_PUBLISHING), "publishing");
	assert_string_equal(udfenv_job_phase_name(UDFENV_JOB_DONE), "done");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_phase_names, fresh_dirs),
		cmocka_unit_test_setup(test_bad_plans, fresh_dirs),
		cmocka_unit_test_setup(test_bad_config, fresh_dirs),
		cmocka_unit_test_setup(test_existing_output_without_overwrite, fresh_dirs),
		cmocka_unit_test_setup(test_identity_csv_to_csv, fresh_dirs),
		cmocka_unit_test_setup(test_identity_csv_to_jsonl, fresh_dirs),
		cmocka_unit_test_setup(test_collect, fresh_dirs),
		cmocka_unit_test_setup(test_order_parallelism_1, fresh_dirs),
		cmocka_unit_test_setup(test_order_parallelism_3, fresh_dirs),
		cmocka_unit_test_setup(test_flat_map_in_order, fresh_dirs),
		cmocka_unit_test_setup(test_directory_sink_parts, fresh_dirs),
		cmocka_unit_test_setup(test_empty_input, fresh_dirs),
		cmocka_unit_test_setup(test_overwrite_replaces_a_file, fresh_dirs),
		cmocka_unit_test_setup(test_logs_setup_and_worker_command_lines, fresh_dirs),
		cmocka_unit_test_setup(test_udf_error_names_the_row, fresh_dirs),
		cmocka_unit_test_setup(test_worker_exits_mid_job, fresh_dirs),
		cmocka_unit_test_setup(test_worker_killed_mid_job, fresh_dirs),
		cmocka_unit_test_setup(test_cancel, fresh_dirs),
		cmocka_unit_test_setup(test_output_before_hello, fresh_dirs),
		cmocka_unit_test_setup(test_output_before_hello_like_a_frame, fresh_dirs),
		cmocka_unit_test_setup(test_exit_before_hello, fresh_dirs),
		cmocka_unit_test_setup(test_result_for_the_wrong_batch, fresh_dirs),
		cmocka_unit_test_setup(test_result_that_does_not_decode, fresh_dirs),
		cmocka_unit_test_setup(test_exit_with_status_0_mid_job, fresh_dirs),
		cmocka_unit_test_setup(test_a_stray_frame_type, fresh_dirs),
		cmocka_unit_test_setup(test_death_while_we_write, fresh_dirs),
		cmocka_unit_test_setup(test_udf_import_error, fresh_dirs),
		cmocka_unit_test_setup(test_bad_input_row, fresh_dirs),
		cmocka_unit_test_setup(test_infer_schema, fresh_dirs),
	};
	/* A worker's death must show as EPIPE to the job, not kill the test. */
	signal(SIGPIPE, SIG_DFL);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
