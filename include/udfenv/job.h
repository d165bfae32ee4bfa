/*
 * UDF jobs on the embedded local executor: read rows from a source, send
 * them in batches to N Python workers that run inside the environment of a
 * dependency spec, write what they return to a sink. The plan format and
 * the worker protocol are in docs/protocol.md; what users see is in
 * docs/jobs.md.
 */
#ifndef UDFENV_JOB_H
#define UDFENV_JOB_H

#include "udfenv/common.h"
#include "udfenv/config.h"
#include "udfenv/deps.h"
#include "udfenv/env.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
	UDFENV_JOB_SETUP = 0,   /* preparing the environment */
	UDFENV_JOB_STARTING,    /* starting the workers, waiting for their hello */
	UDFENV_JOB_RUNNING,     /* rows flowing */
	UDFENV_JOB_PUBLISHING,  /* the output is complete; moving it into place */
	UDFENV_JOB_DONE,
} udfenv_job_phase;

/* "setup", "starting", "running", "publishing", "done". */
const char *udfenv_job_phase_name(udfenv_job_phase phase);

typedef struct {
	udfenv_job_phase phase;
	double elapsed;             /* seconds since udfenv_job_run started */
	double setup_seconds;       /* time the environment took (once known) */
	uint64_t rows_in;           /* rows read from the source */
	uint64_t rows_out;          /* rows written (or collected) */
	uint64_t bytes_in, bytes_total; /* source bytes read / all source bytes */
	unsigned workers;
	const uint64_t *worker_rows; /* input rows each worker has answered, `workers` entries */
} udfenv_job_progress;

/* Called about every `progress_interval` seconds while the job runs, and once at the end. */
typedef void (*udfenv_job_progress_fn)(const udfenv_job_progress *p, void *payload);

typedef struct {
	udfenv_env_opts env;            /* temp root (NULL: the config's io.tmp.dirs, else the
					   default), install timeout; the cache settings (when
					   env.cache_dir is NULL: the config's udfenv.cache.*);
					   env.cancel is ignored: */
	const volatile int *cancel;     /* cancels setup and the job (UDFENV_ECANCELED) */
	udfenv_job_progress_fn progress;
	void *progress_payload;
	double progress_interval;       /* seconds; 0: 0.1 */
} udfenv_job_opts;

#define UDFENV_JOB_OPTS_INIT {UDFENV_ENV_OPTS_INIT, NULL, NULL, NULL, 0}

typedef struct {
	char *collected;        /* JSON Lines of a collect sink (malloc'd, NUL-terminated), else NULL */
	size_t collected_len;
	char *detail;           /* on failure: more lines (input row, traceback), else NULL */
	char *setup_report;     /* the environment's report (udfenv_env_report_json, each
				   worker's start counted in spawn), once it was prepared */
	uint64_t rows_in, rows_out;
	double seconds, setup_seconds;
	unsigned workers;
} udfenv_job_report;

/*
 * Run the plan `plan` (JSON text of `len` bytes, docs/protocol.md) with the
 * dependencies `deps` and the config `cfg` (may be NULL):
 *   parallelism.default               workers (default 1, at most 256)
 *   python.fn-execution.bundle.size   rows per batch (default 4096)
 * The environment is prepared once (udfenv_env_prepare_deps) and every
 * worker runs in it.
 *
 * Output is atomic: written under a temporary name beside the destination
 * and renamed into place only when every row was written and every worker
 * ended cleanly; a failed or cancelled job leaves no output.
 *
 * `report` (required) is filled on success and failure alike; release it
 * with udfenv_job_report_dispose. On failure the error message is one line
 * (what failed, where) and report->detail holds the rest.
 *
 * Errors: UDFENV_EINVALID for a plan or config value that is wrong (the
 * message names the field: "plan: sink.format: ..."); UDFENV_ECONFLICT
 * when the output exists and overwrite is not set; both are found before
 * any setup. UDFENV_ECANCELED "job cancelled" once *opts->cancel is set.
 * UDFENV_ERROR when a worker fails: "worker 1: UDF 'f' raised ... (FILE
 * line N)" with the row and traceback in report->detail, "worker 1 (pid N)
 * died: killed by signal 9 (SIGKILL) while processing FILE lines A-B",
 * "worker 1 (pid N): broke the protocol: ...".
 */
int udfenv_job_run(udfenv_job_report *report, const char *plan, size_t len, const udfenv_deps *deps,
		   const udfenv_config *cfg, const udfenv_job_opts *opts);

void udfenv_job_report_dispose(udfenv_job_report *report);

/*
 * Run task `index` (0-based) of the `count` tasks of the job staged in the
 * directory `job_dir` by a distributed executor (docs/integration.md):
 * prepare the job's environment from its manifest and store in this node's
 * cache (the job's udfenv.cache.dir, "%n" in it being this node's name),
 * process the task's share of the input with the job's parallelism, write
 * its rows to <job_dir>/out/<index>.csv and its status to
 * <job_dir>/tasks/<index>.json while it runs and when it ends (with the
 * error and its detail when it fails). `report` and the errors are
 * udfenv_job_run's; `opts->progress` is still called.
 */
int udfenv_job_task(udfenv_job_report *report, const char *job_dir, unsigned index, unsigned count,
		    const udfenv_job_opts *opts);

/*
 * Infer a source's schema (see docs/jobs.md): `*json_out` (malloc'd) is a
 * JSON list of [name, type] pairs. `format` is "csv" or "jsonl".
 */
int udfenv_job_infer_schema(char **json_out, const char *format, const char *path, size_t sample);

#ifdef __cplusplus
}
#endif
#endif
