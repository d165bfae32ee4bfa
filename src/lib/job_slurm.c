/*
 * The Slurm executor (docs/slurm.md). The client stages the job into a job
 * directory under udfenv.slurm.staging-dir (the format of job_task.c),
 * submits one batch job whose single step runs `udfenv task` in each of its
 * tasks, and follows it: the tasks' status files for progress and errors,
 * `scontrol show job` for the job's state. The plan's output is made from
 * the tasks' outputs only once every task succeeded, through the same
 * atomic sink as a local job. A failed task, a job that ends otherwise, or
 * a cancel scancels the job and waits for it to end; the job directory is
 * removed however the run ends (the store stays: it is content-addressed
 * and the next job reuses it).
 */
#include "lib/job_int.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/path.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* How often the status files are read, and the job's state asked for. */
#define POLL_SECONDS 0.1
#define STATE_SECONDS 1.0
/* How long a Slurm command may take, and a cancelled job to end. */
#define COMMAND_TIMEOUT 60
#define END_TIMEOUT 60.0
/* scontrol failures in a row before the job is given up as lost. */
#define STATE_FAILURES_MAX 30
/* The tail of the job's output file shown when it ended without a task's error. */
#define OUTPUT_TAIL 4096

typedef struct {
	const udfenv_job_opts *opts;
	const udfenv_config *cfg;
	job_plan plan;
	unsigned ntasks, nodes;
	udfenv_buf dir;        /* the job directory */
	udfenv_buf output;     /* its Slurm output file */
	char id[64];           /* the Slurm job id, "" before submission */
	char state[64];        /* its last JobState, "" if none seen yet */
	int ended;             /* the job left the running states */
	int state_failures;
	off_t relayed;         /* bytes of the output file copied to our stderr */
	json_t **status;       /* each task's last status, or NULL */
	uint64_t *task_rows;
	double t0, next_state, next_progress, interval;
	udfenv_job_phase phase;
	udfenv_buf detail;
} sjob;

static const char *config(const sjob *s, const char *key)
{
	return s->cfg ? udfenv_config_get(s->cfg, key) : NULL;
}

/* --- Slurm commands ------------------------------------------------------ */

/* Run argv in `envp` (NULL: ours); its stdout and stderr together (64 KiB at most) in `out`, its exit status in *status. */
static int command(char *const *argv, char *const *envp, udfenv_buf *out, int *status)
{
	udfenv_proc_opts po = UDFENV_PROC_OPTS_INIT;
	int error;

	udfenv_buf_clear(out);
	po.envp = envp;
	po.timeout = COMMAND_TIMEOUT;
	if ((error = udfenv_proc_capture(argv, &po, 1, out, 65536, status)) == UDFENV_ENOTFOUND)
		error = udfenv_error_set(UDFENV_ENOTFOUND, "cannot run '%s': not found in PATH (the Slurm client "
							   "commands must be installed here)", argv[0]);
	while (out->size && (out->ptr[out->size - 1] == '\n' || out->ptr[out->size - 1] == ' '))
		out->ptr[--out->size] = '\0';
	return error;
}

/* `text` as a single-quoted shell word. */
static int shell_quote(udfenv_buf *out, const char *text)
{
	int error = udfenv_buf_putc(out, '\'');

	for (const char *c = text; *c && error == 0; c++)
		error = *c == '\'' ? udfenv_buf_puts(out, "'\\''") : udfenv_buf_putc(out, *c);
	return error ? error : udfenv_buf_putc(out, '\'');
}

/*
 * <dir>/job.sh: the batch script, one step of `udfenv task` per task, as
 * verbose as we are (what the tasks log reaches our stderr: relay_output).
 */
static int write_script(sjob *s, udfenv_buf *path)
{
	const char *cmd = config(s, "udfenv.slurm.command");
	const char *verbose = udfenv_log_enabled(UDFENV_LOG_DEBUG) ? " -vv"
			      : udfenv_log_enabled(UDFENV_LOG_INFO) ? " -v"
								    : "";
	udfenv_buf text = UDFENV_BUF_INIT;
	int error;

	if ((error = udfenv_buf_puts(&text, "#!/bin/sh\n"
					    "# Written by udfenv: each task runs `udfenv task` (docs/integration.md).\n"
					    "exec srun --kill-on-bad-exit=1 ")) < 0 ||
	    (error = shell_quote(&text, cmd ? cmd : "udfenv")) < 0 ||
	    (error = udfenv_buf_puts(&text, " task --job ")) < 0 || (error = shell_quote(&text, s->dir.ptr)) < 0 ||
	    (error = udfenv_buf_printf(&text, "%s\n", verbose)) < 0 ||
	    (error = udfenv_path_join(path, s->dir.ptr, "job.sh")) < 0)
		goto done;
	error = udfenv_fs_write_atomic(path->ptr, text.ptr, text.size, 0755);
done:
	udfenv_buf_dispose(&text);
	return error;
}

/* sbatch the job: s->id. */
static int submit(sjob *s)
{
	const char *partition = config(s, "udfenv.slurm.partition"), *limit = config(s, "udfenv.slurm.time-limit"),
		   *extra = config(s, "udfenv.slurm.options");
	udfenv_strvec argv = UDFENV_STRVEC_INIT;
	udfenv_buf script = UDFENV_BUF_INIT, out = UDFENV_BUF_INIT;
	char cwd[4096], *words = NULL, *save = NULL;
	int status = 0, error;

	if (getcwd(cwd, sizeof(cwd)) == NULL) {
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot get the current directory");
		goto done;
	}
	if ((error = write_script(s, &script)) < 0 || (error = udfenv_strvec_push(&argv, "sbatch")) < 0 ||
	    (error = udfenv_strvec_push(&argv, "--parsable")) < 0 ||
	    (error = udfenv_strvec_push(&argv, "--job-name=udfenv")) < 0 ||
	    (error = udfenv_strvec_pushf(&argv, "--nodes=%u", s->nodes)) < 0 ||
	    (error = udfenv_strvec_pushf(&argv, "--ntasks=%u", s->ntasks)) < 0 ||
	    (error = udfenv_strvec_pushf(&argv, "--chdir=%s", cwd)) < 0 ||
	    (error = udfenv_strvec_pushf(&argv, "--output=%s", s->output.ptr)) < 0 ||
	    (partition && (error = udfenv_strvec_pushf(&argv, "--partition=%s", partition)) < 0) ||
	    (limit && (error = udfenv_strvec_pushf(&argv, "--time=%s", limit)) < 0))
		goto done;
	/* Extra options: words split at blanks (no quoting: an option's value has no blank). */
	if (extra && (words = strdup(extra)) == NULL) {
		error = udfenv_error_set(UDFENV_ENOMEM, "out of memory");
		goto done;
	}
	for (char *w = words ? strtok_r(words, " \t", &save) : NULL; w; w = strtok_r(NULL, " \t", &save))
		if ((error = udfenv_strvec_push(&argv, w)) < 0)
			goto done;
	/* sbatch exports its environment to the tasks: the one workers build on (opts->env.base_env). */
	if ((error = udfenv_strvec_push(&argv, script.ptr)) < 0 ||
	    (error = command(argv.items, s->opts->env.base_env, &out, &status)) < 0)
		goto done;
	if (status != 0 || out.size == 0 || out.size >= sizeof(s->id) ||
	    strspn(out.ptr, "0123456789") == 0) {
		error = udfenv_error_set(UDFENV_ERROR, "sbatch refused the job (exit status %d): %s", status,
					 out.size ? out.ptr : "(no output)");
		goto done;
	}
	/* "ID" or "ID;CLUSTER". */
	out.ptr[strspn(out.ptr, "0123456789")] = '\0';
	snprintf(s->id, sizeof(s->id), "%s", out.ptr);
	udfenv_log(UDFENV_LOG_INFO, "slurm: submitted job %s: %u task%s on %u node%s, job dir %s", s->id, s->ntasks,
		   s->ntasks == 1 ? "" : "s", s->nodes, s->nodes == 1 ? "" : "s", s->dir.ptr);
done:
	free(words);
	udfenv_strvec_dispose(&argv);
	udfenv_buf_dispose(&script);
	udfenv_buf_dispose(&out);
	return error;
}

static int is_running_state(const char *state)
{
	static const char *const live[] = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED",
					   "REQUEUED", "RESIZING", "SIGNALING", "STAGE_OUT", "REQUEUE_HOLD",
					   "REQUEUE_FED", "RESV_DEL_HOLD", "STOPPED", NULL};

	for (size_t i = 0; live[i]; i++)
		if (strcmp(state, live[i]) == 0)
			return 1;
	return 0;
}

/* Ask Slurm for the job's state: s->state, s->ended. */
static int poll_state(sjob *s)
{
	char *argv[] = {"scontrol", "show", "job", "-o", s->id, NULL};
	udfenv_buf out = UDFENV_BUF_INIT;
	const char *st;
	int status = 0, error;

	s->next_state = udfenv_now() + STATE_SECONDS;
	if ((error = command(argv, NULL, &out, &status)) < 0)
		goto done;
	if ((st = strstr(out.ptr ? out.ptr : "", "JobState=")) != NULL) {
		size_t n = strcspn(st + 9, " \n");
		snprintf(s->state, sizeof(s->state), "%.*s", (int)(n < sizeof(s->state) ? n : sizeof(s->state) - 1),
			 st + 9);
		s->ended = !is_running_state(s->state);
		s->state_failures = 0;
	} else if (status != 0 && strstr(out.ptr ? out.ptr : "", "Invalid job id")) {
		/* Gone from the controller's memory: it ended a while ago. */
		snprintf(s->state, sizeof(s->state), "%s", s->state[0] ? s->state : "ENDED");
		s->ended = 1;
	} else if (++s->state_failures >= STATE_FAILURES_MAX) {
		error = udfenv_error_set(UDFENV_ERROR, "slurm job %s: cannot get its state: %s", s->id,
					 out.size ? out.ptr : "scontrol failed");
	}
done:
	udfenv_buf_dispose(&out);
	return error;
}

/*
 * Wait (at most END_TIMEOUT) until Slurm says the job ended: no task writes
 * into the job dir after that. The last error stays.
 */
static void wait_ended(sjob *s)
{
	double deadline = udfenv_now() + END_TIMEOUT;
	udfenv_error_saved saved;

	if (s->id[0] == '\0')
		return;
	udfenv_error_save(&saved);
	while (!s->ended && udfenv_now() < deadline) {
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
		if (poll_state(s) < 0)
			break;
	}
	if (!s->ended)
		udfenv_log(UDFENV_LOG_WARN, "slurm: job %s still %s %.0f s on", s->id, s->state, END_TIMEOUT);
	udfenv_error_restore(&saved);
}

/* scancel the job and wait until it ended. The last error stays. */
static void cancel_job(sjob *s)
{
	char *argv[] = {"scancel", s->id, NULL};
	udfenv_buf out = UDFENV_BUF_INIT;
	udfenv_error_saved saved;
	int status = 0;

	if (s->id[0] == '\0' || s->ended)
		return;
	udfenv_error_save(&saved);
	if (command(argv, NULL, &out, &status) < 0 || status != 0)
		udfenv_log(UDFENV_LOG_WARN, "slurm: scancel %s failed: %s", s->id,
			   out.size ? out.ptr : udfenv_error_last()->message);
	udfenv_error_restore(&saved);
	udfenv_buf_dispose(&out);
	wait_ended(s);
}

/* --- following the job --------------------------------------------------- */

/*
 * Copy what the tasks wrote to the job's output file since the last call
 * to our stderr (best effort: the last error, maybe the job's, is kept).
 */
static void relay_output(sjob *s)
{
	char chunk[65536];
	ssize_t n, w = 0;
	int fd = s->output.size ? open(s->output.ptr, O_RDONLY | O_CLOEXEC) : -1;

	if (fd < 0)
		return;
	while ((n = pread(fd, chunk, sizeof(chunk), s->relayed)) > 0) {
		s->relayed += n;
		for (ssize_t off = 0; off < n; off += w)
			if ((w = write(STDERR_FILENO, chunk + off, (size_t)(n - off))) < 0 && errno == EINTR)
				w = 0;
			else if (w <= 0)
				break;
	}
	close(fd);
}

static const char *status_str(const json_t *st, const char *key)
{
	const char *v = json_string_value(json_object_get(st, key));
	return v ? v : "?";
}

static int phase_of(const char *name)
{
	for (int p = UDFENV_JOB_SETUP; p <= UDFENV_JOB_DONE; p++)
		if (strcmp(name, udfenv_job_phase_name((udfenv_job_phase)p)) == 0)
			return p;
	return UDFENV_JOB_SETUP;
}

/* The tasks' statuses summed into the report; the job's phase is that of the least advanced task. */
static void tally(sjob *s, udfenv_job_report *report)
{
	int phase = UDFENV_JOB_DONE;

	report->rows_in = report->rows_out = 0;
	report->setup_seconds = 0;
	for (unsigned i = 0; i < s->ntasks; i++) {
		const json_t *st = s->status[i];
		double t = json_number_value(json_object_get(st, "setup_seconds"));
		int ph = st ? phase_of(status_str(st, "phase")) : UDFENV_JOB_SETUP;

		if (st && strcmp(status_str(st, "state"), "running") != 0)
			ph = UDFENV_JOB_DONE;
		phase = ph < phase ? ph : phase;
		s->task_rows[i] = (uint64_t)json_integer_value(json_object_get(st, "rows_done"));
		report->rows_in += (uint64_t)json_integer_value(json_object_get(st, "rows_in"));
		report->rows_out += (uint64_t)json_integer_value(json_object_get(st, "rows_out"));
		report->setup_seconds = t > report->setup_seconds ? t : report->setup_seconds;
	}
	s->phase = phase == UDFENV_JOB_DONE ? UDFENV_JOB_RUNNING : (udfenv_job_phase)phase;
}

/* The caller's progress callback: one "worker" per task. */
static void progress(sjob *s, const udfenv_job_report *report)
{
	udfenv_job_progress p;

	s->next_progress = udfenv_now() + s->interval;
	if (s->opts->progress == NULL)
		return;
	memset(&p, 0, sizeof(p));
	p.phase = s->phase;
	p.elapsed = udfenv_now() - s->t0;
	p.setup_seconds = report->setup_seconds;
	p.rows_in = report->rows_in;
	p.rows_out = report->rows_out;
	p.workers = s->ntasks;
	p.worker_rows = s->task_rows;
	s->opts->progress(&p, s->opts->progress_payload);
}

/* A task that failed because it was stopped: when one task fails, srun stops the others. */
static int cancelled(const json_t *st)
{
	return json_integer_value(json_object_get(st, "code")) == UDFENV_ECANCELED;
}

/* Every task's status, read again while it runs: how many are done, and the failed one to report (-1: none). */
static void read_statuses(sjob *s, unsigned *done, int *failed)
{
	*done = 0;
	*failed = -1;
	for (unsigned i = 0; i < s->ntasks; i++) {
		const char *state = s->status[i] ? status_str(s->status[i], "state") : "";
		json_t *st;

		/* A task's last status is final; one that cannot be read now (being replaced) is read next time. */
		if (strcmp(state, "running") == 0 || state[0] == '\0') {
			if (udfenv_job__task_status(&st, s->dir.ptr, i) < 0) {
				udfenv_log(UDFENV_LOG_DEBUG, "slurm: %s", udfenv_error_last()->message);
				udfenv_error_clear();
			} else if (st) {
				json_decref(s->status[i]);
				s->status[i] = st;
				state = status_str(st, "state");
			}
		}
		if (strcmp(state, "done") == 0)
			(*done)++;
		if (strcmp(state, "failed") == 0 && (*failed < 0 || cancelled(s->status[*failed])))
			*failed = (int)i;
	}
}

/* Task `i` failed: its error, with its node, and its detail. */
static int task_failed(sjob *s, unsigned i)
{
	const json_t *st = s->status[i];
	json_int_t code = json_integer_value(json_object_get(st, "code"));
	const char *detail = json_string_value(json_object_get(st, "detail"));

	if (detail)
		udfenv_buf_puts(&s->detail, detail);
	if (code >= 0 || code < UDFENV_EBUSY)
		code = UDFENV_ERROR;
	return udfenv_error_set((int)code, "task %u on %s: %s", i, status_str(st, "node"), status_str(st, "error"));
}

/* The job ended before every task was done: which did not finish, and the tail of its output. */
static int job_lost(sjob *s)
{
	udfenv_buf which = UDFENV_BUF_INIT, tail = UDFENV_BUF_INIT;
	int error;

	for (unsigned i = 0; i < s->ntasks; i++) {
		const json_t *st = s->status[i];
		if (st && strcmp(status_str(st, "state"), "done") == 0)
			continue;
		udfenv_buf_printf(&which, "%stask %u ", which.size ? "; " : "", i);
		if (st == NULL)
			udfenv_buf_puts(&which, "never started");
		else if (strcmp(status_str(st, "state"), "failed") == 0)
			udfenv_buf_printf(&which, "on %s was stopped", status_str(st, "node"));
		else
			udfenv_buf_printf(&which, "on %s ended without a result (in its %s phase)",
					  status_str(st, "node"), status_str(st, "phase"));
	}
	if (udfenv_fs_read_tail(&tail, s->output.ptr, OUTPUT_TAIL) == 0 && tail.size)
		udfenv_buf_printf(&s->detail, "the end of the job's output:\n%s", tail.ptr);
	udfenv_error_clear();
	error = udfenv_error_set(UDFENV_ERROR, "slurm job %s ended %s%s before every task finished: %s", s->id,
				 s->state, strcmp(s->state, "NODE_FAIL") == 0 ? " (a node failed)" : "",
				 which.ptr ? which.ptr : "?");
	udfenv_buf_dispose(&which);
	udfenv_buf_dispose(&tail);
	return error;
}

/* Until every task is done (0), or one failed, the job ended otherwise, or the run was cancelled. */
static int follow(sjob *s, udfenv_job_report *report)
{
	unsigned done;
	int failed, error;

	for (;;) {
		struct timespec ts = {0, (long)(POLL_SECONDS * 1e9)};

		if (s->opts->cancel && *s->opts->cancel)
			return udfenv_error_set(UDFENV_ECANCELED, "job cancelled");
		if (udfenv_now() >= s->next_state && (error = poll_state(s)) < 0)
			return error;
		/* After the state: a task that ended before it was seen ending has written its status. */
		read_statuses(s, &done, &failed);
		relay_output(s);
		tally(s, report);
		if (udfenv_now() >= s->next_progress)
			progress(s, report);
		/* A task that was stopped is not the cause: the job's end tells what is. */
		if (failed >= 0 && !cancelled(s->status[failed]))
			return task_failed(s, (unsigned)failed);
		if (done == s->ntasks)
			return 0;
		if (s->ended)
			return job_lost(s);
		nanosleep(&ts, NULL);
	}
}

/* --- the output ---------------------------------------------------------- */

/* The plan's output from the tasks' CSV files, in task order (a directory: one part per task). */
static int publish(sjob *s, udfenv_job_report *report)
{
	job_sink *sink = NULL;
	rows_reader *r = NULL;
	rows_batch b;
	udfenv_buf path = UDFENV_BUF_INIT;
	uint64_t rows = 0;
	int error;

	memset(&b, 0, sizeof(b));
	s->phase = UDFENV_JOB_PUBLISHING;
	progress(s, report);
	if ((error = udfenv_job__sink_open(&sink, &s->plan, s->ntasks)) < 0)
		goto done;
	for (unsigned i = 0; i < s->ntasks; i++) {
		if ((error = udfenv_job__task_path(&path, s->dir.ptr, "out", i, "csv")) < 0 ||
		    (error = rows_reader_open(&r, ROWS_CSV, path.ptr, &s->plan.output)) < 0)
			goto done;
		while ((error = rows_reader_next(r, &b, JOB_DEFAULT_BUNDLE)) == 0 && b.nrows > 0) {
			if ((error = udfenv_job__sink_write(sink, i, &b)) < 0)
				goto done;
			rows += b.nrows;
		}
		rows_reader_free(r);
		r = NULL;
		if (error < 0)
			goto done;
	}
	if (rows != report->rows_out) {
		error = udfenv_error_set(UDFENV_ERROR, "the tasks reported %llu rows out but their files hold %llu",
					 (unsigned long long)report->rows_out, (unsigned long long)rows);
		goto done;
	}
	error = udfenv_job__sink_publish(sink, &report->collected, &report->collected_len);
done:
	rows_batch_dispose(&b);
	rows_reader_free(r);
	udfenv_job__sink_free(sink);
	udfenv_buf_dispose(&path);
	return error;
}

/* The report's setup_report: each task's node and environment report. */
static void setup_report(sjob *s, udfenv_job_report *report)
{
	json_t *tasks = json_array(), *root = json_pack("{s:s, s:s, s:o}", "executor", "slurm", "job_id", s->id,
							"tasks", tasks);

	for (unsigned i = 0; root && i < s->ntasks; i++) {
		const json_t *st = s->status[i];
		json_t *setup = json_object_get(st, "setup_report");
		json_array_append_new(tasks, json_pack("{s:i, s:s, s:O?}", "task", (int)i, "node",
						       st ? status_str(st, "node") : "?", "setup", setup));
	}
	report->setup_report = root ? json_dumps(root, JSON_COMPACT) : NULL;
	json_decref(root);
}

/* --- the run ------------------------------------------------------------- */

/*
 * The input's rows, read here once: the tasks split them by count, and an
 * input that cannot be read fails the job before anything is submitted.
 */
static int count_rows(const sjob *s, uint64_t *rows)
{
	rows_reader *r = NULL;
	rows_batch b;
	int error;

	*rows = 0;
	memset(&b, 0, sizeof(b));
	if ((error = rows_reader_open(&r, s->plan.source_format, s->plan.source_path, &s->plan.input)) < 0)
		return error;
	while ((error = rows_reader_next(r, &b, JOB_DEFAULT_BUNDLE)) == 0 && b.nrows > 0)
		*rows += b.nrows;
	rows_batch_dispose(&b);
	rows_reader_free(r);
	return error;
}

/* Stage the dependencies and the job into a new job directory under the staging dir. */
static int stage(sjob *s, const char *plan, size_t len, const udfenv_deps *deps, uint64_t rows)
{
	const char *staging = config(s, "udfenv.slurm.staging-dir");
	udfenv_buf store = UDFENV_BUF_INIT, jobs = UDFENV_BUF_INIT, manifest = UDFENV_BUF_INIT;
	udfenv_manifest *m = NULL;
	udfenv_deps *empty = NULL;
	int error;

	if (staging == NULL || staging[0] != '/') {
		error = udfenv_error_set(UDFENV_EINVALID, "execution.target 'slurm' needs udfenv.slurm.staging-dir: "
							  "an absolute path to a directory every node sees at that path "
							  "(got %s)", staging ? staging : "none");
		goto done;
	}
	if ((error = udfenv_path_join(&store, staging, "store")) < 0 ||
	    (error = udfenv_path_join(&jobs, staging, "jobs")) < 0 || (error = udfenv_fs_mkdir_p(jobs.ptr, 0755)) < 0 ||
	    (error = udfenv_fs_mkdtemp(&s->dir, jobs.ptr, "job-")) < 0 ||
	    (error = udfenv_path_join(&manifest, s->dir.ptr, "manifest.json")) < 0 ||
	    (error = udfenv_path_join(&s->output, s->dir.ptr, "slurm.out")) < 0)
		goto done;
	/* Others on the cluster run the tasks as us, but the dir must be readable wherever they run. */
	if (chmod(s->dir.ptr, 0755) < 0) {
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot make '%s' readable", s->dir.ptr);
		goto done;
	}
	if (deps == NULL && (error = udfenv_deps_new(&empty)) < 0)
		goto done;
	if ((error = udfenv_stage(&m, deps ? deps : empty, store.ptr, manifest.ptr)) < 0 ||
	    (error = udfenv_job__dir_write(s->dir.ptr, plan, len, s->cfg, store.ptr, s->ntasks, rows)) < 0)
		goto done;
	udfenv_log(UDFENV_LOG_INFO, "slurm: staged the job in %s (store %s)", s->dir.ptr, store.ptr);
done:
	udfenv_manifest_free(m);
	udfenv_deps_free(empty);
	udfenv_buf_dispose(&store);
	udfenv_buf_dispose(&jobs);
	udfenv_buf_dispose(&manifest);
	return error;
}

static int run(sjob *s, const char *plan, size_t len, const udfenv_deps *deps, udfenv_job_report *report)
{
	unsigned long nodes, ntasks;
	uint64_t rows;
	unsigned workers;
	size_t bundle;
	int error;

	if ((error = udfenv_job__plan_parse(&s->plan, plan, len)) < 0 ||
	    (error = udfenv_job__config(&workers, &bundle, s->cfg)) < 0 ||
	    (error = udfenv_job__config_number(s->cfg, "udfenv.slurm.nodes", 1, 4096, 1, &nodes)) < 0 ||
	    (error = udfenv_job__config_number(s->cfg, "udfenv.slurm.ntasks", 1, 65536, nodes, &ntasks)) < 0 ||
	    (error = udfenv_job__sink_check(&s->plan)) < 0)
		return error;
	if (ntasks < nodes)
		return udfenv_error_set(UDFENV_EINVALID, "udfenv.slurm.ntasks (%lu) is less than udfenv.slurm.nodes "
							 "(%lu): each node needs a task", ntasks, nodes);
	s->nodes = (unsigned)nodes;
	s->ntasks = (unsigned)ntasks;
	if ((s->status = calloc(s->ntasks, sizeof(*s->status))) == NULL ||
	    (s->task_rows = calloc(s->ntasks, sizeof(*s->task_rows))) == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	report->workers = s->ntasks;
	if ((error = count_rows(s, &rows)) < 0 || (error = stage(s, plan, len, deps, rows)) < 0 ||
	    (s->opts->cancel && *s->opts->cancel && (error = udfenv_error_set(UDFENV_ECANCELED, "job cancelled")) < 0) ||
	    (error = submit(s)) < 0 || (error = follow(s, report)) < 0 ||
	    (error = publish(s, report)) < 0)
		return error;
	s->phase = UDFENV_JOB_DONE;
	progress(s, report);
	udfenv_log(UDFENV_LOG_INFO, "job done on slurm (job %s): %llu rows in, %llu rows out, %u tasks, %.3f s",
		   s->id, (unsigned long long)report->rows_in, (unsigned long long)report->rows_out, s->ntasks,
		   udfenv_now() - s->t0);
	return 0;
}

int udfenv_job__run_slurm(udfenv_job_report *report, const char *plan, size_t len, const udfenv_deps *deps,
			  const udfenv_config *cfg, const udfenv_job_opts *opts)
{
	static const udfenv_job_opts defaults = UDFENV_JOB_OPTS_INIT;
	sjob s;
	int error;

	memset(&s, 0, sizeof(s));
	s.opts = opts ? opts : &defaults;
	s.cfg = cfg;
	s.t0 = udfenv_now();
	s.interval = s.opts->progress_interval > 0 ? s.opts->progress_interval : 0.1;
	error = run(&s, plan, len, deps, report);
	if (error < 0) {
		cancel_job(&s);
		free(report->collected);
		report->collected = NULL;
		report->collected_len = 0;
		if (s.detail.size)
			report->detail = udfenv_buf_detach(&s.detail);
	} else
		wait_ended(&s); /* before the job dir goes: its tasks' last lines relayed, no file held open */
	relay_output(&s);
	if (s.status)
		setup_report(&s, report);
	if (s.dir.size)
		udfenv_fs_rmtree_quiet(s.dir.ptr);
	for (unsigned i = 0; s.status && i < s.ntasks; i++)
		json_decref(s.status[i]);
	free(s.status);
	free(s.task_rows);
	udfenv_job__plan_dispose(&s.plan);
	udfenv_buf_dispose(&s.dir);
	udfenv_buf_dispose(&s.output);
	udfenv_buf_dispose(&s.detail);
	report->seconds = udfenv_now() - s.t0;
	return error;
}
