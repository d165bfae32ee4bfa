/*
 * A staged job and its tasks: the job directory an executor's client writes
 * and each task reads, the task run, and the status files a task writes
 * and the client reads. This file is the integration contract of
 * docs/integration.md; the Slurm executor (job_slurm.c) is one client of it.
 *
 *   <job dir>/job.json        {"udfenv_job": 1, "tasks": N, "rows": R, "store": "/abs",
 *                              "plan": {...}, "config": {"key": "value"}}
 *   <job dir>/manifest.json   the dependencies (udfenv_stage)
 *   <job dir>/tasks/<i>.json  task i's status, replaced as it goes
 *   <job dir>/out/<i>.csv     task i's rows (CSV, the plan's output columns)
 */
#include "lib/job_int.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/path.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#define JOB_DIR_VERSION 1
/* Seconds between two writes of a running task's status. */
#define STATUS_INTERVAL 0.5
/* Largest job.json / status file read. */
#define JOB_FILE_MAX (64u << 20)

int udfenv_job__dir_write(const char *dir, const char *plan, size_t len, const udfenv_config *cfg,
			  const char *store, unsigned tasks, uint64_t rows)
{
	json_t *root = NULL, *p = json_loadb(plan, len, 0, NULL), *conf = json_object();
	udfenv_buf path = UDFENV_BUF_INIT;
	const char *key, *value;
	char *text = NULL;
	int error = 0;

	if (p == NULL || conf == NULL) {
		error = udfenv_error_set(UDFENV_ENOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; cfg && udfenv_config_entry(cfg, i, &key, &value); i++)
		if (json_object_set_new(conf, key, json_string(value)) < 0) {
			error = udfenv_error_set(UDFENV_ENOMEM, "out of memory");
			goto done;
		}
	if ((root = json_pack("{s:i, s:i, s:I, s:s, s:O, s:O}", "udfenv_job", JOB_DIR_VERSION, "tasks", (int)tasks,
			      "rows", (json_int_t)rows, "store", store, "plan", p, "config", conf)) == NULL ||
	    (text = json_dumps(root, JSON_COMPACT)) == NULL) {
		error = udfenv_error_set(UDFENV_ENOMEM, "out of memory");
		goto done;
	}
	if ((error = udfenv_path_join(&path, dir, "tasks")) < 0 || (error = udfenv_fs_mkdir_p(path.ptr, 0755)) < 0 ||
	    (error = udfenv_path_join(&path, dir, "out")) < 0 || (error = udfenv_fs_mkdir_p(path.ptr, 0755)) < 0 ||
	    (error = udfenv_path_join(&path, dir, "job.json")) < 0)
		goto done;
	error = udfenv_fs_write_atomic(path.ptr, text, strlen(text), 0644);
done:
	free(text);
	json_decref(root);
	json_decref(p);
	json_decref(conf);
	udfenv_buf_dispose(&path);
	return error;
}

/* This node's name: $SLURMD_NODENAME (Slurm's name for it), else the host name. */
static const char *node_name(void)
{
	static struct utsname u;
	const char *s = getenv("SLURMD_NODENAME");

	if (s && *s)
		return s;
	return uname(&u) == 0 ? u.nodename : "?";
}

int udfenv_job__task_path(udfenv_buf *out, const char *dir, const char *sub, unsigned index, const char *ext)
{
	udfenv_buf_clear(out);
	return udfenv_buf_printf(out, "%s/%s/%u.%s", dir, sub, index, ext);
}

int udfenv_job__task_status(json_t **out, const char *dir, unsigned index)
{
	udfenv_buf path = UDFENV_BUF_INIT, text = UDFENV_BUF_INIT;
	int error;

	*out = NULL;
	if ((error = udfenv_job__task_path(&path, dir, "tasks", index, "json")) < 0)
		goto done;
	if ((error = udfenv_fs_read_file(&text, path.ptr, JOB_FILE_MAX)) < 0) {
		if (error == UDFENV_ENOTFOUND) {
			udfenv_error_clear();
			error = 0;
		}
		goto done;
	}
	if ((*out = json_loadb(text.ptr, text.size, 0, NULL)) == NULL || !json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		error = udfenv_error_set(UDFENV_EINVALID, "task %u: unreadable status file '%s'", index, path.ptr);
	}
done:
	udfenv_buf_dispose(&path);
	udfenv_buf_dispose(&text);
	return error;
}

/* --- the task ------------------------------------------------------------ */

typedef struct {
	const char *dir;
	unsigned index;
	double next_write;
	const udfenv_job_opts *outer; /* the caller's progress callback */
} task_ctx;

/*
 * Replace the task's status file with `st`; the last error stays (a task
 * that cannot write its status is told by the client: it never finishes).
 */
static void write_status(const task_ctx *t, json_t *st)
{
	static _Thread_local udfenv_error_saved saved;
	udfenv_buf path = UDFENV_BUF_INIT;
	char *text;

	json_object_set_new(st, "task", json_integer(t->index));
	json_object_set_new(st, "node", json_string(node_name()));
	json_object_set_new(st, "pid", json_integer(getpid()));
	udfenv_error_save(&saved);
	if ((text = json_dumps(st, JSON_COMPACT)) != NULL &&
	    udfenv_job__task_path(&path, t->dir, "tasks", t->index, "json") == 0 &&
	    udfenv_fs_write_replace(path.ptr, text, strlen(text), 0644) < 0)
		udfenv_log(UDFENV_LOG_WARN, "task %u: %s", t->index, udfenv_error_last()->message);
	udfenv_error_restore(&saved);
	free(text);
	udfenv_buf_dispose(&path);
}

static void on_progress(const udfenv_job_progress *p, void *payload)
{
	task_ctx *t = payload;
	double now = udfenv_now();
	uint64_t done = 0;
	json_t *st;

	if (t->outer->progress)
		t->outer->progress(p, t->outer->progress_payload);
	if (now < t->next_write)
		return;
	t->next_write = now + STATUS_INTERVAL;
	for (unsigned i = 0; p->worker_rows && i < p->workers; i++)
		done += p->worker_rows[i];
	st = json_pack("{s:s, s:s, s:I, s:I, s:I, s:f}", "state", "running", "phase", udfenv_job_phase_name(p->phase),
		       "rows_in", (json_int_t)p->rows_in, "rows_done", (json_int_t)done, "rows_out",
		       (json_int_t)p->rows_out, "setup_seconds", p->setup_seconds);
	if (st)
		write_status(t, st);
	json_decref(st);
}

/* The last status: done, or failed with the error and its detail. */
static void write_final(const task_ctx *t, int error, const udfenv_job_report *rep)
{
	json_t *st = json_pack("{s:s, s:I, s:I, s:I, s:f}", "state", error < 0 ? "failed" : "done", "rows_in",
			       (json_int_t)rep->rows_in, "rows_done", (json_int_t)rep->rows_in,
			       "rows_out", (json_int_t)rep->rows_out, "setup_seconds", rep->setup_seconds);
	json_t *setup = rep->setup_report ? json_loads(rep->setup_report, 0, NULL) : NULL;

	if (st == NULL)
		return;
	if (error < 0) {
		/* Stopped (as srun stops the other tasks when one fails): whatever broke, that is why. */
		int stopped = t->outer->cancel && *t->outer->cancel;

		json_object_set_new(st, "error", json_string(udfenv_error_last()->message));
		json_object_set_new(st, "code", json_integer(stopped ? UDFENV_ECANCELED : udfenv_error_last()->code));
		if (rep->detail)
			json_object_set_new(st, "detail", json_string(rep->detail));
	}
	if (setup)
		json_object_set_new(st, "setup_report", setup);
	write_status(t, st);
	json_decref(st);
}

int udfenv_job__dir_read(const char *dir, unsigned count, char **plan, udfenv_config **cfg, udfenv_buf *store,
			 uint64_t *rows)
{
	udfenv_buf path = UDFENV_BUF_INIT, text = UDFENV_BUF_INIT;
	json_t *root = NULL, *v;
	const char *key;
	int error;

	if ((error = udfenv_path_join(&path, dir, "job.json")) < 0 ||
	    (error = udfenv_fs_read_file(&text, path.ptr, JOB_FILE_MAX)) < 0)
		goto done;
	root = json_loadb(text.ptr, text.size, 0, NULL);
	if (!json_is_object(root) || json_integer_value(json_object_get(root, "udfenv_job")) != JOB_DIR_VERSION) {
		error = udfenv_error_set(UDFENV_EINVALID, "'%s' is not a udfenv job file of version %d", path.ptr,
					 JOB_DIR_VERSION);
		goto done;
	}
	if (json_integer_value(json_object_get(root, "tasks")) != (json_int_t)count) {
		error = udfenv_error_set(UDFENV_EINVALID, "'%s': the job has %lld tasks, not %u", path.ptr,
					 (long long)json_integer_value(json_object_get(root, "tasks")), count);
		goto done;
	}
	if (!json_is_string(json_object_get(root, "store")) || !json_is_object(json_object_get(root, "plan")) ||
	    !json_is_object(json_object_get(root, "config")) || !json_is_integer(json_object_get(root, "rows")) ||
	    json_integer_value(json_object_get(root, "rows")) < 0) {
		error = udfenv_error_set(UDFENV_EINVALID, "'%s': needs \"store\", \"plan\", \"config\" and \"rows\" "
							  "(a count)", path.ptr);
		goto done;
	}
	*rows = (uint64_t)json_integer_value(json_object_get(root, "rows"));
	if ((error = udfenv_buf_puts(store, json_string_value(json_object_get(root, "store")))) < 0 ||
	    (error = udfenv_config_new(cfg)) < 0)
		goto done;
	json_object_foreach(json_object_get(root, "config"), key, v)
		if (!json_is_string(v) || (error = udfenv_config_set(*cfg, key, json_string_value(v))) < 0) {
			error = error < 0 ? error
					  : udfenv_error_set(UDFENV_EINVALID, "'%s': config.%s is not a string",
							     path.ptr, key);
			goto done;
		}
	if ((*plan = json_dumps(json_object_get(root, "plan"), JSON_COMPACT)) == NULL)
		error = udfenv_error_set(UDFENV_ENOMEM, "out of memory");
done:
	json_decref(root);
	udfenv_buf_dispose(&path);
	udfenv_buf_dispose(&text);
	return error;
}

/* "%n" in udfenv.cache.dir is this node's name ("%%" a '%'): distinct caches for nodes that share a disk. */
static int node_cache_dir(udfenv_config *cfg)
{
	const char *dir = udfenv_config_get(cfg, "udfenv.cache.dir");
	udfenv_buf out = UDFENV_BUF_INIT;
	int error = 0;

	if (dir == NULL || strchr(dir, '%') == NULL)
		return 0;
	for (const char *s = dir; *s && error == 0; s++) {
		if (s[0] == '%' && s[1] == 'n')
			error = udfenv_buf_puts(&out, node_name()), s++;
		else if (s[0] == '%' && s[1] == '%')
			error = udfenv_buf_putc(&out, '%'), s++;
		else
			error = udfenv_buf_putc(&out, *s);
	}
	if (error == 0)
		error = udfenv_config_set(cfg, "udfenv.cache.dir", out.ptr);
	udfenv_buf_dispose(&out);
	return error;
}

int udfenv_job_task(udfenv_job_report *report, const char *job_dir, unsigned index, unsigned count,
		    const udfenv_job_opts *opts)
{
	static const udfenv_job_opts defaults = UDFENV_JOB_OPTS_INIT;
	udfenv_job_opts o = opts ? *opts : defaults;
	task_ctx t = {job_dir, index, 0, opts ? opts : &defaults};
	udfenv_buf store = UDFENV_BUF_INIT, path = UDFENV_BUF_INIT, out = UDFENV_BUF_INIT;
	udfenv_manifest *m = NULL;
	udfenv_config *cfg = NULL;
	char *plan = NULL;
	job_part part;
	int error;

	if (report == NULL)
		return udfenv_error_set(UDFENV_EINVALID, "udfenv_job_task: no report to fill");
	memset(report, 0, sizeof(*report));
	if (count == 0 || index >= count)
		return udfenv_error_set(UDFENV_EINVALID, "task index %u of %u tasks: expected 0 to %u", index, count,
					count ? count - 1 : 0);
	if ((error = udfenv_job__dir_read(job_dir, count, &plan, &cfg, &store, &part.rows)) < 0 || (error = node_cache_dir(cfg)) < 0 ||
	    (error = udfenv_path_join(&path, job_dir, "manifest.json")) < 0 ||
	    (error = udfenv_manifest_load(&m, path.ptr)) < 0 ||
	    (error = udfenv_job__task_path(&out, job_dir, "out", index, "csv")) < 0)
		goto done;
	/* A task run again (a requeued job) starts from scratch. */
	if (unlink(out.ptr) < 0 && errno != ENOENT) {
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot remove '%s'", out.ptr);
		goto done;
	}
	part.manifest = m;
	part.store = store.ptr;
	part.index = index;
	part.count = count;
	part.output = out.ptr;
	o.progress = on_progress;
	o.progress_payload = &t;
	error = udfenv_job__run_local(report, plan, strlen(plan), NULL, cfg, &o, &part);
done:
	write_final(&t, error, report);
	udfenv_manifest_free(m);
	udfenv_config_free(cfg);
	free(plan);
	udfenv_buf_dispose(&store);
	udfenv_buf_dispose(&path);
	udfenv_buf_dispose(&out);
	return error;
}
