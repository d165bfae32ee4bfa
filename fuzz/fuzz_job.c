/*
 * A staged job's files (src/lib/job_task.c): job.json through
 * udfenv_job__dir_read, its plan through udfenv_job__plan_parse
 * (job_plan.c) and its config through udfenv_job__config, and a task's
 * status file through udfenv_job__task_status.
 *
 * Input: "JOB_JSON\0STATUS_JSON", written as job.json and tasks/0.json of
 * a job dir in the scratch dir (no NUL: no status file), for a job of one
 * task. Checked: the error contract; a status is a JSON object or none;
 * udfenv_job__show's quoting of the input is printable ASCII.
 */
#include "fuzz_common.h"

#include "lib/job_int.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *dir, *job_json, *status_json;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init("job");
	dir = fuzz_path(0, "job");
	job_json = fuzz_path(1, "job/job.json");
	status_json = fuzz_path(2, "job/tasks/0.json");
	FUZZ_CHECK(mkdir(dir, 0755) == 0 && mkdir(fuzz_path(3, "job/tasks"), 0755) == 0, "%s", "job dir");
	return 0;
}

static void plan(const char *text)
{
	job_plan p;
	int error = udfenv_job__plan_parse(&p, text, strlen(text));

	fuzz_check_error(error, "udfenv_job__plan_parse");
	if (error == 0) {
		FUZZ_CHECK(p.source_path && p.runtime && p.runtime[0] == '/' && json_is_object(p.program), "%s",
			   "a parsed plan without its fields");
		FUZZ_CHECK((p.sink_type == JOB_SINK_COLLECT) == (p.sink_path == NULL), "%s", "sink path");
	}
	udfenv_job__plan_dispose(&p);
}

static void show(const char *s, size_t len)
{
	udfenv_buf out = UDFENV_BUF_INIT;

	FUZZ_CHECK(udfenv_job__show(&out, s, len, 200) == 0, "%s", "show");
	for (size_t i = 0; i < out.size; i++)
		FUZZ_CHECK(out.ptr[i] >= 0x20 && out.ptr[i] < 0x7f, "byte %zu of the quoted text is %#x", i,
			   (unsigned)(unsigned char)out.ptr[i]);
	udfenv_buf_dispose(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	udfenv_buf store = UDFENV_BUF_INIT;
	udfenv_config *cfg = NULL;
	json_t *st = NULL;
	char *parts[2], *plan_text = NULL;
	size_t lens[2], nparts;
	uint64_t rows = 0;
	unsigned workers;
	size_t bundle;
	int error;

	nparts = fuzz_split(data, size, '\0', parts, lens, 2);
	fuzz_write_file(job_json, parts[0], lens[0]);
	if (nparts == 2)
		fuzz_write_file(status_json, parts[1], lens[1]);
	else
		unlink(status_json);
	show(parts[0], lens[0]);

	error = udfenv_job__dir_read(dir, 1, &plan_text, &cfg, &store, &rows);
	fuzz_check_error(error, "udfenv_job__dir_read");
	if (error == 0) {
		FUZZ_CHECK(plan_text && cfg && store.ptr, "%s", "a job read without its parts");
		plan(plan_text);
		error = udfenv_job__config(&workers, &bundle, cfg);
		fuzz_check_error(error, "udfenv_job__config");
		FUZZ_CHECK(error < 0 || (workers >= 1 && workers <= JOB_MAX_WORKERS && bundle >= 1 &&
					 bundle <= JOB_MAX_BUNDLE),
			   "workers %u, bundle %zu", workers, bundle);
	}
	/* The plan parser on the input itself too: job.json's plan is only one way in. */
	plan(parts[0]);

	error = udfenv_job__task_status(&st, dir, 0);
	fuzz_check_error(error, "udfenv_job__task_status");
	FUZZ_CHECK(st == NULL || json_is_object(st), "%s", "a status that is not an object");
	FUZZ_CHECK(error == 0 || st == NULL, "%s", "a failed read left a status");
	json_decref(st);

	free(plan_text);
	udfenv_config_free(cfg);
	udfenv_buf_dispose(&store);
	fuzz_parts_free(parts, 2);
	return 0;
}
