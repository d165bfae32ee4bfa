/*
 * Internals of the job executors shared by job.c (the local run: setup, the
 * event loop, frame semantics, progress, the report), job_plan.c (the plan
 * and the config keys), job_sink.c (atomic output), job_worker.c (worker
 * processes and frame I/O on their pipes), job_task.c (a staged job's
 * directory and one task of it) and job_slurm.c (the Slurm client).
 * docs/protocol.md and docs/integration.md are the contracts.
 */
#ifndef UDFENV_LIB_JOB_INT_H
#define UDFENV_LIB_JOB_INT_H

#include "udfenv/job.h"
#include "udfenv/stage.h"
#include "lib/rows.h"
#include "util/buf.h"
#include "util/proc.h"

#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#define JOB_PROTOCOL 1
#define JOB_PLAN_VERSION 1
#define JOB_FRAME_MAX (1u << 30)      /* L of a frame: 1 ..= 1 GiB */
/*
 * L of a frame before the hello (an H or an E: small JSON). Any text's
 * first byte (>= 0x20) makes L at least 512 MiB, so stray output is told
 * apart from a frame at once instead of being waited for as one.
 */
#define JOB_HELLO_FRAME_MAX (16u << 20)
#define JOB_MAX_WORKERS 256
#define JOB_DEFAULT_BUNDLE 4096
#define JOB_MAX_BUNDLE 1000000
#define JOB_IN_FLIGHT 2               /* batches a worker holds at once */
/* Rows one result may hold when a UDTF expands its batch (has_idx = 1). */
#define JOB_RESULT_MAX_ROWS ((size_t)1 << 26)

/* --- the plan (job_plan.c) ---------------------------------------------- */

typedef enum { JOB_SINK_COLLECT = 1, JOB_SINK_FILE, JOB_SINK_DIRECTORY } job_sink_type;

typedef struct {
	json_t *root;           /* the parsed plan; the json_t pointers below point into it */
	rows_format source_format;
	const char *source_path;
	rows_schema input;
	json_t *input_json;
	rows_schema output;
	json_t *output_json;
	job_sink_type sink_type;
	rows_format sink_format; /* JSONL for collect */
	const char *sink_path;   /* NULL for collect */
	int overwrite;
	const char *runtime;
	json_t *program;
} job_plan;

/* Parse and check the plan text (docs/protocol.md); errors start with "plan: " and name the field. */
int udfenv_job__plan_parse(job_plan *p, const char *text, size_t len);
void udfenv_job__plan_dispose(job_plan *p);

/* parallelism.default and python.fn-execution.bundle.size of `cfg` (may be NULL), checked. */
int udfenv_job__config(unsigned *workers, size_t *bundle, const udfenv_config *cfg);
/* Config key `key` as a whole decimal number from `min` to `max`; `def` when unset. */
int udfenv_job__config_number(const udfenv_config *cfg, const char *key, unsigned long min, unsigned long max,
			      unsigned long def, unsigned long *out);

/*
 * Append `len` bytes of outside text to `out` for a one-line message:
 * quoted, with \n \r \t \" \\ and other control or non-ASCII bytes as \xNN,
 * cut after `max` bytes with "...".
 */
int udfenv_job__show(udfenv_buf *out, const char *s, size_t len, size_t max);

/* --- the sink (job_sink.c) ---------------------------------------------- */

typedef struct job_sink job_sink;

/*
 * Before any setup: the destination's directory exists, and the destination
 * does not (or may be replaced: overwrite, and of the right kind).
 */
int udfenv_job__sink_check(const job_plan *p);

/*
 * Open the output: a temporary file or directory (with `parts` part files)
 * beside the destination, or memory for collect. Rows go out in `schema`.
 */
int udfenv_job__sink_open(job_sink **out, const job_plan *p, unsigned parts);

/* Write the rows of `b` to part `part` (the worker's index; ignored but for directories). */
int udfenv_job__sink_write(job_sink *s, unsigned part, const rows_batch *b);

/*
 * Flush and fsync everything, then move the output into place (collect:
 * hand the JSON Lines text to `*collected`, malloc'd). After this the sink
 * owns nothing on disk.
 */
int udfenv_job__sink_publish(job_sink *s, char **collected, size_t *collected_len);

/* Close the sink; a temporary output not published is removed. NULL-safe; keeps the error. */
void udfenv_job__sink_free(job_sink *s);

/* --- workers (job_worker.c) --------------------------------------------- */

typedef struct {
	unsigned index;
	udfenv_proc *proc;      /* NULL once reaped or killed */
	pid_t pid;
	int to_fd;              /* our end of its stdin (non-blocking); -1 once closed */
	int from_fd;            /* our end of its stdout (non-blocking); -1 once closed */
	int pidfd;              /* readable when it exits; -1 without pidfd support */
	int eof;                /* its stdout reached end of file */
	udfenv_buf out;         /* frames queued for it; out_off bytes of them are written */
	size_t out_off;
	udfenv_buf in;          /* bytes received; in_off of them consumed as frames */
	size_t in_off;
	int hello;              /* its H frame came */
	double started;         /* when it was spawned (udfenv_now) */
	size_t queue[JOB_IN_FLIGHT]; /* slots of its batches in flight, oldest first */
	unsigned nqueue;
	uint64_t rows_done;     /* input rows it answered */
} job_worker;

/* What an exited worker's status says. */
typedef struct {
	int exited;     /* 0: still running */
	int code;       /* CLD_EXITED, CLD_KILLED, CLD_DUMPED */
	int status;     /* exit status or signal number */
} job_exit;

void udfenv_job__worker_init(job_worker *w, unsigned index);

/*
 * Start worker `w->index` of `nworkers` in `env`, with the command line of
 * docs/protocol.md, pipes on its stdin and stdout, stderr inherited.
 */
int udfenv_job__worker_start(job_worker *w, unsigned nworkers, udfenv_env *env,
			     const char *runtime);

/*
 * Append a frame of `type` to w->out and return, in *payload_off, where its
 * payload starts: the caller appends the payload, then seals the frame.
 * `head` (`head_len` bytes, may be 0) goes right after the type byte.
 */
int udfenv_job__frame_begin(job_worker *w, char type, const void *head, size_t head_len,
			    size_t *frame_off);
/* Write the length of the frame begun at `frame_off`; UDFENV_ELIMIT past 1 GiB. */
int udfenv_job__frame_seal(job_worker *w, size_t frame_off, const char *what);

/*
 * Write what is queued for `w`; stops at EAGAIN. *broken = 1 when the
 * worker no longer reads its stdin (EPIPE): the fd is then closed.
 */
int udfenv_job__worker_flush(job_worker *w, int *broken);

/* Read what `w` sent (one read, *got bytes, 0 if none yet); sets w->eof at end of file. */
int udfenv_job__worker_read(job_worker *w, size_t *got);

/*
 * The next complete frame in w->in: 1 and its type, payload and payload
 * length (valid until the next read), 0 when incomplete, <0 for a framing
 * error ("worker N: ...").
 */
int udfenv_job__frame_next(job_worker *w, char *type, const char **payload, size_t *len);

/* Whether `w` has exited (not reaping it). */
int udfenv_job__worker_exited(job_worker *w, job_exit *ex);

/* "exited with status 3", "killed by signal 9 (SIGKILL)". */
void udfenv_job__exit_describe(udfenv_buf *out, const job_exit *ex);

/* Close our pipe ends. */
void udfenv_job__worker_close(job_worker *w);

/* SIGKILL its group and reap it (if still there), close everything, free the buffers. */
void udfenv_job__worker_dispose(job_worker *w);

/*
 * Writes to a worker that died raise SIGPIPE, which would kill a caller
 * whose disposition is the default: the job blocks it on its thread for
 * its duration and consumes the ones its writes raise.
 */
typedef struct {
	sigset_t old;
	int was_pending;
} job_sigpipe;

void udfenv_job__sigpipe_block(job_sigpipe *s);
void udfenv_job__sigpipe_consume(const job_sigpipe *s);
void udfenv_job__sigpipe_restore(const job_sigpipe *s);

/* --- runs: local, one task of a staged job, on Slurm --------------------- */

/*
 * What makes a run one task of a staged job (job_task.c) rather than a
 * whole local job: the environment comes from a manifest and its store,
 * the task takes its share of the input's rows, and its rows go to a CSV
 * file of its own instead of the plan's sink.
 */
typedef struct {
	const udfenv_manifest *manifest;
	const char *store;
	uint64_t rows;          /* the input's rows R, as the client counted them */
	unsigned index, count;  /* rows [R*index/count, R*(index+1)/count) */
	const char *output;     /* the task's CSV output (new file) */
} job_part;

/* udfenv_job_run on the local executor; `part` NULL for a whole job. */
int udfenv_job__run_local(udfenv_job_report *report, const char *plan, size_t len, const udfenv_deps *deps,
			  const udfenv_config *cfg, const udfenv_job_opts *opts, const job_part *part);

/* --- a staged job's directory (job_task.c, docs/integration.md) ---------- */

/* Write <dir>/job.json (and make tasks/ and out/); manifest.json is udfenv_stage's. */
int udfenv_job__dir_write(const char *dir, const char *plan, size_t len, const udfenv_config *cfg,
			  const char *store, unsigned tasks, uint64_t rows);
/*
 * Read <dir>/job.json of a job of `count` tasks: the plan as text (`*plan`,
 * malloc'd), the config (`*cfg`, new), the store (appended to `store`) and
 * the input's row count. On failure the caller still frees what was set.
 */
int udfenv_job__dir_read(const char *dir, unsigned count, char **plan, udfenv_config **cfg, udfenv_buf *store,
			 uint64_t *rows);
/* "<dir>/<sub>/<index>.<ext>" into `out`. */
int udfenv_job__task_path(udfenv_buf *out, const char *dir, const char *sub, unsigned index, const char *ext);
/* Task `index`'s status (a JSON object), or *out = NULL when it has written none yet. */
int udfenv_job__task_status(json_t **out, const char *dir, unsigned index);

/* udfenv_job_run on Slurm (job_slurm.c, docs/slurm.md). */
int udfenv_job__run_slurm(udfenv_job_report *report, const char *plan, size_t len, const udfenv_deps *deps,
			  const udfenv_config *cfg, const udfenv_job_opts *opts);

#endif
