/*
 * UDF jobs on the embedded local executor (include/udfenv/job.h,
 * docs/protocol.md): prepare the environment once, start N workers in it,
 * feed them batches of source rows from one single-threaded poll() loop,
 * commit their results in input order to an atomic sink.
 *
 * Flow control: each worker holds at most JOB_IN_FLIGHT batches, so it
 * always has the next one queued while it works on the current one; the
 * batches read but not yet committed are bounded by the slot ring, which is
 * what bounds the reorder queue when one worker lags behind the others.
 *
 * Every way a worker can fail — an E frame, a frame that breaks the rules,
 * a closed pipe, an exit — ends the job at once with a message naming the
 * worker and the rows it held; the other workers are killed, the temporary
 * output removed, the environment freed.
 */
#include "lib/job_int.h"
#include "util/error.h"
#include "util/log.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Seconds a worker that closed one pipe gets to close the other and exit. */
#define LOST_GRACE 5.0
/* Longest wait in poll(): bounds how late a raised cancel flag is noticed. */
#define POLL_MAX_MS 100
/* Longest piece of a worker's error message that goes into the one-line error. */
#define WORKER_MESSAGE_MAX 2000

typedef enum { SLOT_FREE = 0, SLOT_SENT, SLOT_DONE } slot_state;

/* One batch from the source until its result is committed: slots[seq % nslots]. */
typedef struct {
	slot_state state;
	uint64_t seq;
	unsigned worker;
	rows_batch in;   /* input rows: kept to show the row a UDF failed on */
	rows_batch out;  /* the decoded result */
	rows_batch view; /* out's output columns (the index column dropped); borrows out's memory */
} job_slot;

typedef struct {
	job_plan plan;
	const udfenv_job_opts *opts;
	const job_part *part; /* NULL: a whole job */
	uint64_t take;        /* rows left of this run's share of the input (all: UINT64_MAX) */
	unsigned nworkers;
	size_t bundle;
	udfenv_job_phase phase;
	double t0, setup_seconds, interval, next_progress;

	udfenv_env *env;
	rows_reader *reader;
	job_sink *sink;
	job_worker *workers; /* nworkers, initialized as soon as allocated */
	uint64_t *worker_rows;
	job_slot *slots;
	size_t nslots;
	uint64_t next_seq;    /* sequence number of the next batch read */
	uint64_t next_commit; /* the oldest batch not yet committed */
	rows_schema indexed;  /* an index column, then the output's: results with has_idx */
	int input_done;
	int closing;          /* every worker's stdin is closed: waiting for their exit */
	unsigned hellos, gone, rr;

	uint64_t rows_in, rows_out;
	struct pollfd *pfds;
	unsigned *pfd_worker;
	job_sigpipe sigpipe;
	udfenv_buf detail;
} job;

const char *udfenv_job_phase_name(udfenv_job_phase phase)
{
	switch (phase) {
	case UDFENV_JOB_SETUP:
		return "setup";
	case UDFENV_JOB_STARTING:
		return "starting";
	case UDFENV_JOB_RUNNING:
		return "running";
	case UDFENV_JOB_PUBLISHING:
		return "publishing";
	case UDFENV_JOB_DONE:
		return "done";
	}
	return "?";
}

static int check_cancel(const job *j)
{
	if (j->opts->cancel && *j->opts->cancel)
		return udfenv_error_set(UDFENV_ECANCELED, "job cancelled");
	return 0;
}

static void progress(job *j)
{
	udfenv_job_progress p;
	double now = udfenv_now();

	j->next_progress = now + j->interval;
	if (j->opts->progress == NULL)
		return;
	memset(&p, 0, sizeof(p));
	p.phase = j->phase;
	p.elapsed = now - j->t0;
	p.setup_seconds = j->setup_seconds;
	p.rows_in = j->rows_in;
	p.rows_out = j->rows_out;
	if (j->reader)
		rows_reader_progress(j->reader, &p.bytes_in, &p.bytes_total);
	p.workers = j->nworkers;
	for (unsigned i = 0; i < j->nworkers; i++)
		j->worker_rows[i] = j->workers[i].rows_done;
	p.worker_rows = j->worker_rows;
	j->opts->progress(&p, j->opts->progress_payload);
}

static void enter(job *j, udfenv_job_phase phase)
{
	j->phase = phase;
	progress(j);
}

/* --- messages ------------------------------------------------------------ */

/* "FILE line N" of row r of a source batch. */
static int put_where(udfenv_buf *out, const job *j, const rows_batch *b, size_t r)
{
	if (b->file == NULL || b->line == NULL)
		return udfenv_buf_printf(out, "input row %zu of its batch", r);
	return udfenv_buf_printf(out, "%s line %llu", rows_reader_file(j->reader, b->file[r]),
				 (unsigned long long)b->line[r]);
}

/* "FILE lines A-B" (or "A line N to B line M") of the batches `w` holds. */
static int put_held(udfenv_buf *out, const job *j, const job_worker *w)
{
	const rows_batch *a = &j->slots[w->queue[0]].in, *b = &j->slots[w->queue[w->nqueue - 1]].in;
	size_t last = b->nrows - 1;

	if (a->file == NULL || b->file == NULL)
		return udfenv_buf_printf(out, "batches %llu-%llu",
					 (unsigned long long)j->slots[w->queue[0]].seq,
					 (unsigned long long)j->slots[w->queue[w->nqueue - 1]].seq);
	if (a->file[0] != b->file[last])
		return udfenv_buf_printf(out, "%s line %llu to %s line %llu",
					 rows_reader_file(j->reader, a->file[0]),
					 (unsigned long long)a->line[0],
					 rows_reader_file(j->reader, b->file[last]),
					 (unsigned long long)b->line[last]);
	if (a->line[0] == b->line[last])
		return put_where(out, j, a, 0);
	return udfenv_buf_printf(out, "%s lines %llu-%llu", rows_reader_file(j->reader, a->file[0]),
				 (unsigned long long)a->line[0], (unsigned long long)b->line[last]);
}

/* Set the error "worker N (pid P): <text>" from a buffer. */
static int worker_error(const job_worker *w, const udfenv_buf *text)
{
	return udfenv_error_set(UDFENV_ERROR, "worker %u (pid %d): %s", w->index, (int)w->pid,
				udfenv_buf_cstr(text));
}

/* Append a worker's text as one line: control characters become spaces, cut at `max` bytes. */
static int put_one_line(udfenv_buf *out, const char *s, size_t max)
{
	size_t len = strlen(s), start = out->size;
	int error;

	if (len > max) {
		len = max;
		while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
			len--; /* not inside a UTF-8 sequence */
	}
	if ((error = udfenv_buf_put(out, s, len)) < 0)
		return error;
	for (size_t i = start; i < out->size; i++)
		if ((unsigned char)out->ptr[i] < 0x20 || out->ptr[i] == 0x7f)
			out->ptr[i] = ' ';
	return len < strlen(s) ? udfenv_buf_puts(out, "...") : 0;
}

/* --- frames from workers ------------------------------------------------- */

static int on_hello(job *j, job_worker *w, const char *payload, size_t len)
{
	json_t *root = json_loadb(payload, len, 0, NULL), *proto = json_object_get(root, "protocol");
	int error = 0;

	if (!json_is_object(root))
		error = udfenv_error_set(UDFENV_ERROR,
					 "worker %u (pid %d): broke the protocol: its hello is not a JSON object",
					 w->index, (int)w->pid);
	else if (!json_is_integer(proto) || json_integer_value(proto) != JOB_PROTOCOL)
		error = udfenv_error_set(UDFENV_ERROR,
					 "worker %u (pid %d): speaks another protocol than this executor's "
					 "(%d): is the worker runtime from another udfenv version?",
					 w->index, (int)w->pid, JOB_PROTOCOL);
	if (error == 0) {
		const char *py = json_string_value(json_object_get(root, "python"));
		const char *exe = json_string_value(json_object_get(root, "executable"));
		udfenv_log(UDFENV_LOG_DEBUG, "worker %u: ready: Python %s (%s) after %.3f s", w->index,
			   py ? py : "?", exe ? exe : "?", udfenv_now() - j->t0 - j->setup_seconds);
		w->hello = 1;
		j->hellos++;
		/* A worker's start: from its spawn to its hello. */
		udfenv_env_note_spawn(j->env, udfenv_now() - w->started);
	}
	json_decref(root);
	return error;
}

static int on_error(job *j, job_worker *w, const char *payload, size_t len)
{
	json_t *root = json_loadb(payload, len, 0, NULL);
	const char *message = NULL, *tb = NULL;
	json_int_t seq = -1, row = -1;
	const job_slot *slot = NULL;
	udfenv_buf msg = UDFENV_BUF_INIT;
	int error;

	if (json_is_object(root)) {
		message = json_string_value(json_object_get(root, "message"));
		tb = json_string_value(json_object_get(root, "traceback"));
		if (json_is_integer(json_object_get(root, "seq")))
			seq = json_integer_value(json_object_get(root, "seq"));
		if (json_is_integer(json_object_get(root, "row")))
			row = json_integer_value(json_object_get(root, "row"));
	}
	for (unsigned i = 0; i < w->nqueue && seq >= 0; i++)
		if (j->slots[w->queue[i]].seq == (uint64_t)seq)
			slot = &j->slots[w->queue[i]];

	if ((error = udfenv_buf_printf(&msg, "worker %u: ", w->index)) < 0 ||
	    (error = put_one_line(&msg, message ? message
						: root ? "sent an error without a message"
						       : "sent an error frame that is not JSON",
				  WORKER_MESSAGE_MAX)) < 0)
		goto done;
	udfenv_buf_clear(&j->detail);
	if (slot && row >= 0 && (uint64_t)row < slot->in.nrows) {
		if ((error = udfenv_buf_puts(&msg, " (")) < 0 ||
		    (error = put_where(&msg, j, &slot->in, (size_t)row)) < 0 ||
		    (error = udfenv_buf_putc(&msg, ')')) < 0 ||
		    (error = udfenv_buf_puts(&j->detail, "input row: ")) < 0 ||
		    (error = put_where(&j->detail, j, &slot->in, (size_t)row)) < 0 ||
		    (error = udfenv_buf_puts(&j->detail, ": ")) < 0 ||
		    (error = rows_format_row(&j->detail, &slot->in, (size_t)row, &j->plan.input)) < 0 ||
		    (error = udfenv_buf_putc(&j->detail, '\n')) < 0)
			goto done;
	} else if (slot) {
		if ((error = udfenv_buf_printf(&msg, " (while processing ")) < 0 ||
		    (error = put_held(&msg, j, w)) < 0 || (error = udfenv_buf_putc(&msg, ')')) < 0)
			goto done;
	}
	if (tb && *tb) {
		/* Indented under its heading, so it reads as part of this error, not a new one. */
		if ((error = udfenv_buf_puts(&j->detail, "traceback:\n")) < 0)
			goto done;
		for (const char *line = tb; *line && error == 0;) {
			size_t n = strcspn(line, "\n");
			if ((error = udfenv_buf_puts(&j->detail, "  ")) == 0 &&
			    (error = udfenv_buf_put(&j->detail, line, n)) == 0)
				error = udfenv_buf_putc(&j->detail, '\n');
			line += n + (line[n] == '\n');
		}
		if (error < 0)
			goto done;
	}
	if (j->detail.size && j->detail.ptr[j->detail.size - 1] == '\n')
		udfenv_buf_truncate(&j->detail, j->detail.size - 1);
	error = udfenv_error_set(UDFENV_ERROR, "%s", msg.ptr);
done:
	udfenv_buf_dispose(&msg);
	json_decref(root);
	return error;
}

/* Results in sequence order to the sink: whatever is complete from the oldest on. */
static int commit(job *j)
{
	int error;

	while (j->next_commit < j->next_seq) {
		job_slot *s = &j->slots[j->next_commit % j->nslots];
		if (s->state != SLOT_DONE)
			break;
		if ((error = udfenv_job__sink_write(j->sink, s->worker, &s->view)) < 0)
			return error;
		j->rows_out += s->view.nrows;
		s->state = SLOT_FREE;
		j->next_commit++;
	}
	return 0;
}

/*
 * Check the index column of a has_idx result (non-NULL, non-decreasing,
 * naming a row of the input batch) and drop it: each row's output values
 * move left by one in place, and s->view sees them with the output's width.
 */
static int drop_index(job *j, job_worker *w, job_slot *s)
{
	size_t n = j->plan.output.n, stride = n + 1;
	int64_t prev = 0;

	for (size_t r = 0; r < s->out.nrows; r++) {
		const rows_value *v = &s->out.v[r * stride];
		if (v->kind != ROWS_BIGINT || v->u.i < prev || (uint64_t)v->u.i >= s->in.nrows)
			return udfenv_error_set(UDFENV_ERROR,
						"worker %u (pid %d): broke the protocol: result for batch "
						"%llu: row %zu has index %s%lld, which is %s",
						w->index, (int)w->pid, (unsigned long long)s->seq, r,
						v->kind == ROWS_BIGINT ? "" : "NULL",
						v->kind == ROWS_BIGINT ? (long long)v->u.i : 0LL,
						v->kind != ROWS_BIGINT ? "not a row"
						: v->u.i < prev        ? "below the previous row's"
								       : "past the input rows");
		prev = v->u.i;
	}
	for (size_t r = 0; r < s->out.nrows; r++)
		memmove(&s->out.v[r * n], &s->out.v[r * stride + 1], n * sizeof(rows_value));
	s->view.ncols = n;
	return 0;
}

static int on_result(job *j, job_worker *w, const char *payload, size_t len)
{
	const unsigned char *u = (const unsigned char *)payload;
	uint64_t seq = 0;
	job_slot *s;
	int has_idx, error;

	if (len < 9 || u[8] > 1)
		return udfenv_error_set(UDFENV_ERROR,
					"worker %u (pid %d): broke the protocol: a result frame %s",
					w->index, (int)w->pid,
					len < 9 ? "too short for its header" : "with has_idx not 0 or 1");
	for (int i = 0; i < 8; i++)
		seq = seq << 8 | u[i];
	has_idx = u[8];
	if (w->nqueue == 0 || j->slots[w->queue[0]].seq != seq) {
		udfenv_buf m = UDFENV_BUF_INIT;
		udfenv_buf_printf(&m, "broke the protocol: a result for batch %llu, ",
				  (unsigned long long)seq);
		if (w->nqueue)
			udfenv_buf_printf(&m, "expected batch %llu",
					  (unsigned long long)j->slots[w->queue[0]].seq);
		else
			udfenv_buf_puts(&m, "but it holds no batch");
		error = worker_error(w, &m);
		udfenv_buf_dispose(&m);
		return error;
	}
	s = &j->slots[w->queue[0]];
	error = rows_decode_columns(&s->out, has_idx ? &j->indexed : &j->plan.output, payload + 9,
				    len - 9, has_idx ? JOB_RESULT_MAX_ROWS : s->in.nrows);
	if (error < 0)
		return udfenv_error_prefix("worker %u (pid %d): broke the protocol: result for batch %llu: ",
					   w->index, (int)w->pid, (unsigned long long)seq);
	s->view = s->out;
	if (has_idx && (error = drop_index(j, w, s)) < 0)
		return error;
	if (!has_idx && s->out.nrows != s->in.nrows)
		return udfenv_error_set(UDFENV_ERROR,
					"worker %u (pid %d): broke the protocol: result for batch %llu "
					"has %zu rows for %zu input rows",
					w->index, (int)w->pid, (unsigned long long)seq, s->out.nrows,
					s->in.nrows);
	s->state = SLOT_DONE;
	w->rows_done += s->in.nrows;
	memmove(&w->queue[0], &w->queue[1], (JOB_IN_FLIGHT - 1) * sizeof(w->queue[0]));
	w->nqueue--;
	return commit(j);
}

static int on_frame(job *j, job_worker *w, char type, const char *payload, size_t len)
{
	udfenv_buf m = UDFENV_BUF_INIT;
	int error;

	if (type == 'E')
		return on_error(j, w, payload, len);
	if (type == 'H' && !w->hello)
		return on_hello(j, w, payload, len);
	if (type == 'R' && w->hello)
		return on_result(j, w, payload, len);
	udfenv_buf_puts(&m, "broke the protocol: an unexpected frame of type ");
	udfenv_job__show(&m, &type, 1, 1);
	error = worker_error(w, &m);
	udfenv_buf_dispose(&m);
	return error;
}

static int take_frames(job *j, job_worker *w)
{
	const char *payload;
	size_t len;
	char type;
	int r;

	while ((r = udfenv_job__frame_next(w, &type, &payload, &len)) > 0)
		if ((r = on_frame(j, w, type, payload, len)) < 0)
			return r;
	return r;
}

/* Read and act on everything `w` has sent so far. */
static int drain(job *j, job_worker *w)
{
	size_t got;
	int error;

	do {
		if ((error = udfenv_job__worker_read(w, &got)) < 0 || (error = take_frames(j, w)) < 0)
			return error;
	} while (got > 0);
	return 0;
}

/* --- a worker ends ------------------------------------------------------- */

/* Why a worker that ended fails the job; 0 for the clean end. */
static int ended(job *j, job_worker *w, const job_exit *ex)
{
	udfenv_buf m = UDFENV_BUF_INIT;
	size_t left = w->in.size - w->in_off;
	int error;

	if (j->closing && w->nqueue == 0 && left == 0 && ex->code == CLD_EXITED && ex->status == 0)
		return 0;
	udfenv_buf_printf(&m, "worker %u (pid %d) ", w->index, (int)w->pid);
	if (!w->hello)
		udfenv_buf_puts(&m, "died while starting: ");
	else if (j->closing && w->nqueue == 0)
		udfenv_buf_puts(&m, "failed at the end of the input: ");
	else
		udfenv_buf_puts(&m, "died: ");
	udfenv_job__exit_describe(&m, ex);
	if (w->nqueue) {
		udfenv_buf_puts(&m, " while processing ");
		put_held(&m, j, w);
	}
	if (left) {
		udfenv_buf_puts(&m, w->hello ? ", in the middle of a frame: "
					     : ", after output that is not the protocol: ");
		udfenv_job__show(&m, w->in.ptr + w->in_off, left, 80);
	}
	error = udfenv_error_set(UDFENV_ERROR, "%s", udfenv_buf_cstr(&m));
	udfenv_buf_dispose(&m);
	return error;
}

/*
 * `w` closed a pipe or exited. Take what it still sent (an E frame says
 * more than an exit status), wait briefly for it to exit, reap it, and say
 * why the job fails, unless this is the clean end.
 */
static int lost(job *j, job_worker *w)
{
	double deadline = udfenv_now() + LOST_GRACE;
	job_exit ex;
	int error;

	if (w->to_fd >= 0) {
		close(w->to_fd);
		w->to_fd = -1;
	}
	for (;;) {
		struct pollfd pfd[2];
		nfds_t n = 0;

		if ((error = drain(j, w)) < 0 || (error = udfenv_job__worker_exited(w, &ex)) < 0)
			return error;
		if (ex.exited) {
			/* All it wrote before exiting is in the pipe by now. */
			if ((error = drain(j, w)) < 0)
				return error;
			break;
		}
		if (udfenv_now() > deadline) {
			udfenv_buf m = UDFENV_BUF_INIT;
			udfenv_buf_printf(&m, "closed its %s but did not exit within %g s",
					  w->eof ? "output" : "input", LOST_GRACE);
			if (w->nqueue) {
				udfenv_buf_puts(&m, " while processing ");
				put_held(&m, j, w);
			}
			error = worker_error(w, &m);
			udfenv_buf_dispose(&m);
			return error;
		}
		if ((error = check_cancel(j)) < 0)
			return error;
		if (w->pidfd >= 0)
			pfd[n++] = (struct pollfd){w->pidfd, POLLIN, 0};
		if (!w->eof && w->from_fd >= 0)
			pfd[n++] = (struct pollfd){w->from_fd, POLLIN, 0};
		if (n)
			poll(pfd, n, 50);
		else
			nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
	}
	/* Exited already: this only reaps. */
	udfenv_proc_wait(w->proc, NULL);
	w->proc = NULL;
	udfenv_job__worker_close(w);
	j->gone++;
	return ended(j, w, &ex);
}

/* --- feeding workers ----------------------------------------------------- */

static int flush(job *j, job_worker *w)
{
	int error, broken;

	if ((error = udfenv_job__worker_flush(w, &broken)) < 0)
		return error;
	if (!broken)
		return 0;
	udfenv_job__sigpipe_consume(&j->sigpipe);
	return lost(j, w);
}

/* The worker with the fewest batches in flight that can take one more; ties in turn. */
static job_worker *pick_worker(job *j)
{
	job_worker *best = NULL;

	for (unsigned k = 0; k < j->nworkers; k++) {
		job_worker *w = &j->workers[(j->rr + k) % j->nworkers];
		if (w->hello && w->to_fd >= 0 && w->nqueue < JOB_IN_FLIGHT &&
		    (best == NULL || w->nqueue < best->nqueue))
			best = w;
	}
	if (best)
		j->rr = (best->index + 1) % j->nworkers;
	return best;
}

/* Read batches from the source and queue them as B frames while workers and slots have room. */
static int dispatch(job *j)
{
	job_worker *w;
	int error;

	while (!j->input_done && j->next_seq - j->next_commit < j->nslots &&
	       (w = pick_worker(j)) != NULL) {
		size_t index = (size_t)(j->next_seq % j->nslots), frame;
		job_slot *s = &j->slots[index];
		unsigned char head[8];

		if (j->take == 0)
			rows_batch_reset(&s->in, j->plan.input.n);
		else if ((error = rows_reader_next(j->reader, &s->in, j->take < j->bundle ? j->take : j->bundle)) < 0)
			return error;
		j->take -= s->in.nrows;
		if (s->in.nrows == 0) {
			j->input_done = 1;
			break;
		}
		for (int i = 0; i < 8; i++)
			head[i] = (unsigned char)(j->next_seq >> (56 - 8 * i));
		/* Encoded straight into the queue, after a header whose length is filled in last. */
		if ((error = udfenv_job__frame_begin(w, 'B', head, sizeof(head), &frame)) < 0 ||
		    (error = rows_encode_columns(&w->out, &s->in)) < 0 ||
		    (error = udfenv_job__frame_seal(w, frame, "a batch")) < 0)
			return error;
		s->state = SLOT_SENT;
		s->seq = j->next_seq++;
		s->worker = w->index;
		w->queue[w->nqueue++] = index;
		j->rows_in += s->in.nrows;
		/* Now, not after the next read: the worker starts while we read on. */
		if ((error = flush(j, w)) < 0)
			return error;
	}
	return 0;
}

static int flush_all(job *j)
{
	int error;

	for (unsigned i = 0; i < j->nworkers; i++) {
		job_worker *w = &j->workers[i];
		if (w->to_fd >= 0 && w->out_off < w->out.size && (error = flush(j, w)) < 0)
			return error;
	}
	return 0;
}

/* The input is over and every result committed: closing stdin tells each worker to exit. */
static void close_inputs(job *j)
{
	for (unsigned i = 0; i < j->nworkers; i++) {
		job_worker *w = &j->workers[i];
		if (w->to_fd >= 0) {
			close(w->to_fd);
			w->to_fd = -1;
		}
	}
	j->closing = 1;
	udfenv_log(UDFENV_LOG_DEBUG, "end of input after %llu rows: waiting for the workers to exit",
		   (unsigned long long)j->rows_in);
}

/* One poll() over every live worker's pipes and pidfd, and what follows from it. */
static int wait_events(job *j)
{
	double left = (j->next_progress - udfenv_now()) * 1000.0;
	int timeout = left < 0 ? 0 : left > POLL_MAX_MS ? POLL_MAX_MS : (int)left + 1;
	nfds_t n = 0;
	int error, r;

	for (unsigned i = 0; i < j->nworkers; i++) {
		job_worker *w = &j->workers[i];
		if (w->proc == NULL)
			continue;
		if (w->from_fd >= 0 && !w->eof) {
			j->pfds[n] = (struct pollfd){w->from_fd, POLLIN, 0};
			j->pfd_worker[n++] = i;
		}
		if (w->to_fd >= 0 && w->out_off < w->out.size) {
			j->pfds[n] = (struct pollfd){w->to_fd, POLLOUT, 0};
			j->pfd_worker[n++] = i;
		}
		if (w->pidfd >= 0) {
			j->pfds[n] = (struct pollfd){w->pidfd, POLLIN, 0};
			j->pfd_worker[n++] = i;
		}
	}
	if ((r = poll(j->pfds, n, timeout)) < 0) {
		if (errno == EINTR)
			return 0; /* a signal, perhaps the one that raised the cancel flag */
		return udfenv_error_set_os(UDFENV_ERROR, "cannot wait for the workers");
	}
	for (nfds_t k = 0; k < n && r > 0; k++) {
		job_worker *w = &j->workers[j->pfd_worker[k]];
		int fd = j->pfds[k].fd;

		if (j->pfds[k].revents == 0 || w->proc == NULL)
			continue;
		if (fd == w->from_fd) {
			if ((error = drain(j, w)) < 0 || (w->eof && (error = lost(j, w)) < 0))
				return error;
		} else if (fd == w->to_fd) {
			if ((error = flush(j, w)) < 0)
				return error;
		} else if (fd == w->pidfd) {
			if ((error = lost(j, w)) < 0)
				return error;
		}
	}
	return 0;
}

static int event_loop(job *j)
{
	int error;

	for (;;) {
		if ((error = check_cancel(j)) < 0)
			return error;
		if (j->phase == UDFENV_JOB_STARTING && j->hellos == j->nworkers) {
			udfenv_log(UDFENV_LOG_INFO, "%u worker%s ready after %.3f s", j->nworkers,
				   j->nworkers == 1 ? "" : "s", udfenv_now() - j->t0);
			enter(j, UDFENV_JOB_RUNNING);
		}
		if (j->phase == UDFENV_JOB_RUNNING && !j->closing) {
			if ((error = dispatch(j)) < 0)
				return error;
			if (j->input_done && j->next_commit == j->next_seq)
				close_inputs(j);
		}
		if ((error = flush_all(j)) < 0)
			return error;
		if (j->closing && j->gone == j->nworkers)
			return 0;
		if ((error = wait_events(j)) < 0)
			return error;
		if (udfenv_now() >= j->next_progress)
			progress(j);
	}
}

/* --- the run ------------------------------------------------------------- */

/* The P frame of worker `w`: everything it needs from the plan. */
static int send_plan(job *j, job_worker *w)
{
	json_t *p = json_pack("{s:i, s:i, s:i, s:O, s:O, s:O}", "protocol", JOB_PROTOCOL, "worker",
			      (int)w->index, "workers", (int)j->nworkers, "input", j->plan.input_json,
			      "output", j->plan.output_json, "program", j->plan.program);
	char *text = p ? json_dumps(p, JSON_COMPACT) : NULL;
	size_t frame;
	int error;

	if (text == NULL)
		error = udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	else if ((error = udfenv_job__frame_begin(w, 'P', NULL, 0, &frame)) == 0 &&
		 (error = udfenv_buf_puts(&w->out, text)) == 0)
		error = udfenv_job__frame_seal(w, frame, "the plan");
	free(text);
	json_decref(p);
	return error;
}

/* The schema of a has_idx result: an index column under a name the output does not use. */
static int make_indexed(job *j)
{
	char name[64] = "__udfenv_row_index";
	size_t len = strlen(name);
	int error;

	while (rows_schema_find(&j->plan.output, name) >= 0 && len < sizeof(name) - 1)
		name[len++] = '_', name[len] = '\0';
	if ((error = rows_schema_add(&j->indexed, name, ROWS_BIGINT)) < 0)
		return error;
	for (size_t i = 0; i < j->plan.output.n; i++)
		if ((error = rows_schema_add(&j->indexed, j->plan.output.cols[i].name,
					     j->plan.output.cols[i].type)) < 0)
			return error;
	return 0;
}

static int allocate(job *j)
{
	/*
	 * JOB_IN_FLIGHT per worker in flight, and as many again finished out
	 * of order: a lagging worker holds up at most that much.
	 */
	j->nslots = (size_t)j->nworkers * (JOB_IN_FLIGHT + 1);
	if ((j->workers = calloc(j->nworkers, sizeof(*j->workers))) == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	/* At once: cleanup disposes of every worker once `workers` is set. */
	for (unsigned i = 0; i < j->nworkers; i++)
		udfenv_job__worker_init(&j->workers[i], i);
	if ((j->worker_rows = calloc(j->nworkers, sizeof(*j->worker_rows))) == NULL ||
	    (j->slots = calloc(j->nslots, sizeof(*j->slots))) == NULL ||
	    (j->pfds = calloc(3 * (size_t)j->nworkers, sizeof(*j->pfds))) == NULL ||
	    (j->pfd_worker = calloc(3 * (size_t)j->nworkers, sizeof(*j->pfd_worker))) == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	return 0;
}

static int setup(job *j, const udfenv_deps *deps, const udfenv_config *cfg)
{
	udfenv_env_opts eo = j->opts->env;
	udfenv_deps *empty = NULL;
	char *root = NULL;
	double t = udfenv_now();
	int error;

	eo.cancel = j->opts->cancel;
	if (eo.cache_dir == NULL && (error = udfenv_env_opts_from_config(&eo, cfg)) < 0)
		return error;
	if (eo.tmp_root == NULL && (error = udfenv_config_tmp_root(cfg, &root)) < 0)
		return error;
	if (root)
		eo.tmp_root = root;
	if (j->part)
		error = udfenv_env_prepare(&j->env, j->part->manifest, j->part->store, &eo);
	else if (deps == NULL && (error = udfenv_deps_new(&empty)) < 0) {
		free(root);
		return error;
	} else
		error = udfenv_env_prepare_deps(&j->env, deps ? deps : empty, &eo);
	udfenv_deps_free(empty);
	free(root);
	j->setup_seconds = udfenv_now() - t;
	if (error == 0)
		udfenv_log(UDFENV_LOG_INFO, "setup: environment ready in %.3f s: %s", j->setup_seconds,
			   udfenv_env_workdir(j->env));
	return error;
}

/*
 * A task's share of the input: the rows [R*i/n, R*(i+1)/n) of the R rows
 * the client counted, so the shares tile the input in order. The rows
 * before it are read (their line numbers count) and dropped here.
 */
static int take_share(job *j)
{
	rows_batch *b = &j->slots[0].in;
	uint64_t skip;
	int error = 0;

	j->take = UINT64_MAX;
	if (j->part == NULL)
		return 0;
	skip = j->part->rows * j->part->index / j->part->count;
	j->take = j->part->rows * (j->part->index + 1) / j->part->count - skip;
	udfenv_log(UDFENV_LOG_INFO, "task %u of %u: rows %llu to %llu of %llu", j->part->index, j->part->count,
		   (unsigned long long)skip, (unsigned long long)(skip + j->take), (unsigned long long)j->part->rows);
	while (skip > 0 && (error = rows_reader_next(j->reader, b, skip < j->bundle ? skip : j->bundle)) == 0 &&
	       b->nrows > 0)
		skip -= b->nrows;
	return error;
}

static int run(job *j, const char *text, size_t len, const udfenv_deps *deps, const udfenv_config *cfg,
	       udfenv_job_report *report)
{
	int error;

	if ((error = udfenv_job__plan_parse(&j->plan, text, len)) < 0 ||
	    (error = udfenv_job__config(&j->nworkers, &j->bundle, cfg)) < 0)
		return error;
	if (j->part) {
		/* A task writes its rows to its own file; the client makes the plan's output of them. */
		j->plan.sink_type = JOB_SINK_FILE;
		j->plan.sink_format = ROWS_CSV;
		j->plan.sink_path = j->part->output;
		j->plan.overwrite = 0;
	}
	if ((error = udfenv_job__sink_check(&j->plan)) < 0 ||
	    (error = rows_reader_open(&j->reader, j->plan.source_format, j->plan.source_path,
				      &j->plan.input)) < 0 ||
	    (error = make_indexed(j)) < 0 || (error = allocate(j)) < 0 || (error = take_share(j)) < 0 ||
	    (error = check_cancel(j)) < 0)
		return error;

	enter(j, UDFENV_JOB_SETUP);
	if ((error = setup(j, deps, cfg)) < 0 || (error = check_cancel(j)) < 0)
		return error;

	enter(j, UDFENV_JOB_STARTING);
	if ((error = udfenv_job__sink_open(&j->sink, &j->plan, j->nworkers)) < 0)
		return error;
	for (unsigned i = 0; i < j->nworkers; i++)
		if ((error = udfenv_job__worker_start(&j->workers[i], j->nworkers, j->env,
						      j->plan.runtime)) < 0 ||
		    (error = send_plan(j, &j->workers[i])) < 0)
			return error;
	if ((error = event_loop(j)) < 0)
		return error;

	enter(j, UDFENV_JOB_PUBLISHING);
	if ((error = udfenv_job__sink_publish(j->sink, &report->collected, &report->collected_len)) < 0)
		return error;
	udfenv_log(UDFENV_LOG_INFO, "job done: %llu rows in, %llu rows out, %u worker%s, %.3f s (setup %.3f s)",
		   (unsigned long long)j->rows_in, (unsigned long long)j->rows_out, j->nworkers,
		   j->nworkers == 1 ? "" : "s", udfenv_now() - j->t0, j->setup_seconds);
	enter(j, UDFENV_JOB_DONE);
	return 0;
}

/* Kill what still runs, remove the temporary output and the environment, free. */
static void cleanup(job *j)
{
	for (unsigned i = 0; j->workers && i < j->nworkers; i++)
		udfenv_job__worker_dispose(&j->workers[i]);
	udfenv_job__sink_free(j->sink);
	/* After the workers: the environment's directory is their cwd. */
	udfenv_env_free(j->env);
	rows_reader_free(j->reader);
	for (size_t i = 0; j->slots && i < j->nslots; i++) {
		rows_batch_dispose(&j->slots[i].in);
		rows_batch_dispose(&j->slots[i].out);
	}
	free(j->slots);
	free(j->workers);
	free(j->worker_rows);
	free(j->pfds);
	free(j->pfd_worker);
	rows_schema_dispose(&j->indexed);
	udfenv_job__plan_dispose(&j->plan);
	udfenv_buf_dispose(&j->detail);
}

int udfenv_job_run(udfenv_job_report *report, const char *plan, size_t len, const udfenv_deps *deps,
		   const udfenv_config *cfg, const udfenv_job_opts *opts)
{
	const char *target = cfg ? udfenv_config_get(cfg, "execution.target") : NULL;

	if (report == NULL)
		return udfenv_error_set(UDFENV_EINVALID, "udfenv_job_run: no report to fill");
	memset(report, 0, sizeof(*report));
	if (target == NULL || strcmp(target, "local") == 0)
		return udfenv_job__run_local(report, plan, len, deps, cfg, opts, NULL);
	if (strcmp(target, "slurm") == 0)
		return udfenv_job__run_slurm(report, plan, len, deps, cfg, opts);
	return udfenv_error_set(UDFENV_EINVALID, "execution.target '%s': expected 'local' or 'slurm'", target);
}

int udfenv_job__run_local(udfenv_job_report *report, const char *plan, size_t len, const udfenv_deps *deps,
			  const udfenv_config *cfg, const udfenv_job_opts *opts, const job_part *part)
{
	static const udfenv_job_opts defaults = UDFENV_JOB_OPTS_INIT;
	job j;
	int error;

	memset(report, 0, sizeof(*report));
	memset(&j, 0, sizeof(j));
	j.part = part;
	j.opts = opts ? opts : &defaults;
	j.t0 = udfenv_now();
	j.interval = j.opts->progress_interval > 0 ? j.opts->progress_interval : 0.1;
	j.next_progress = j.t0 + j.interval;

	udfenv_job__sigpipe_block(&j.sigpipe);
	error = run(&j, plan, len, deps, cfg, report);
	if (error < 0) {
		free(report->collected);
		report->collected = NULL;
		report->collected_len = 0;
		if (j.detail.size)
			report->detail = udfenv_buf_detach(&j.detail);
	}
	report->rows_in = j.rows_in;
	report->rows_out = j.rows_out;
	report->setup_seconds = j.setup_seconds;
	report->workers = j.nworkers;
	if (j.env && udfenv_env_report_json(j.env, &report->setup_report) < 0)
		udfenv_error_clear();
	cleanup(&j);
	udfenv_job__sigpipe_restore(&j.sigpipe);
	report->seconds = udfenv_now() - j.t0;
	return error;
}

void udfenv_job_report_dispose(udfenv_job_report *report)
{
	if (report == NULL)
		return;
	free(report->collected);
	free(report->detail);
	free(report->setup_report);
	memset(report, 0, sizeof(*report));
}

int udfenv_job_infer_schema(char **json_out, const char *format, const char *path, size_t sample)
{
	rows_schema s = {0, NULL};
	json_t *list = NULL;
	int f, error = 0;

	*json_out = NULL;
	if (format == NULL || (f = rows_format_parse(format)) < 0)
		return udfenv_error_set(UDFENV_EINVALID, "format '%s': expected \"csv\" or \"jsonl\"",
					format ? format : "(none)");
	if ((error = rows_infer_schema(&s, (rows_format)f, path, sample)) < 0)
		goto done;
	if ((list = json_array()) == NULL) {
		error = udfenv_error_set(UDFENV_ENOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < s.n; i++)
		if (json_array_append_new(list, json_pack("[ss]", s.cols[i].name,
							  rows_type_name(s.cols[i].type))) < 0) {
			error = udfenv_error_set(UDFENV_ENOMEM, "out of memory");
			goto done;
		}
	if ((*json_out = json_dumps(list, JSON_COMPACT)) == NULL)
		error = udfenv_error_set(UDFENV_ENOMEM, "out of memory");
done:
	json_decref(list);
	rows_schema_dispose(&s);
	return error;
}
