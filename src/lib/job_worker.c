/*
 * Worker processes of a job and the frames on their pipes: start, queue
 * and write frames without blocking, read and cut frames, tell how a worker
 * ended. The meaning of frames is job.c's.
 */
#include "lib/job_int.h"
#include "util/error.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* docs/protocol.md, "Worker process": the runtime dir goes first on sys.path. */
static const char worker_code[] =
	"import sys; sys.path[0] = sys.argv[1]; import udfenv._worker as w; w.main()";

/* Bytes asked of one read: a frame of a few thousand rows in a handful of calls. */
#define READ_CHUNK (256 * 1024)

/*
 * Pipe capacity asked for: a whole batch frame fits, so one write sends it
 * and the worker reads it without waiting for us. The per-user pipe quota
 * is shared by all workers, so many workers ask for less.
 */
static int pipe_size(unsigned nworkers)
{
	size_t size = ((size_t)32 << 20) / (2 * (size_t)nworkers);

	if (size > (1 << 20))
		size = 1 << 20;
	if (size < (64 << 10))
		size = 64 << 10;
	return (int)size;
}

void udfenv_job__worker_init(job_worker *w, unsigned index)
{
	memset(w, 0, sizeof(*w));
	w->index = index;
	w->to_fd = w->from_fd = w->pidfd = -1;
}

static int set_nonblock(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	return flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ? -1 : 0;
}

/* The command line, shell-quoted where needed, for the log. */
static void log_command(const job_worker *w, char *const *argv)
{
	udfenv_buf line = UDFENV_BUF_INIT;

	if (!udfenv_log_enabled(UDFENV_LOG_INFO))
		return;
	for (size_t i = 0; argv[i]; i++) {
		const char *a = argv[i];
		int plain = a[0] != '\0' && strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
						  "0123456789/._-+=:,@%") == strlen(a);
		if (i)
			udfenv_buf_putc(&line, ' ');
		if (plain) {
			udfenv_buf_puts(&line, a);
			continue;
		}
		udfenv_buf_putc(&line, '\'');
		for (; *a; a++)
			*a == '\'' ? udfenv_buf_puts(&line, "'\\''") : udfenv_buf_putc(&line, *a);
		udfenv_buf_putc(&line, '\'');
	}
	udfenv_log(UDFENV_LOG_INFO, "worker %u: %s (pid %d)", w->index, udfenv_buf_cstr(&line),
		   (int)w->pid);
	udfenv_buf_dispose(&line);
}

int udfenv_job__worker_start(job_worker *w, unsigned nworkers, udfenv_env *env,
			     const char *runtime)
{
	udfenv_proc_opts opts = UDFENV_PROC_OPTS_INIT;
	char *argv[5];
	int in[2] = {-1, -1}, out[2] = {-1, -1};
	int error = 0;

	argv[0] = (char *)udfenv_env_python(env);
	argv[1] = (char *)"-c";
	argv[2] = (char *)worker_code;
	argv[3] = (char *)runtime;
	argv[4] = NULL;
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
		error = udfenv_error_set_os(UDFENV_ERROR, "worker %u: cannot create its pipes", w->index);
		goto done;
	}
	/* Best effort: a smaller pipe only means more, shorter writes. */
	fcntl(in[1], F_SETPIPE_SZ, pipe_size(nworkers));
	fcntl(out[0], F_SETPIPE_SZ, pipe_size(nworkers));
	/* Only our ends: the worker's are separate open files and stay blocking for it. */
	if (set_nonblock(in[1]) < 0 || set_nonblock(out[0]) < 0) {
		error = udfenv_error_set_os(UDFENV_ERROR, "worker %u: cannot set up its pipes", w->index);
		goto done;
	}
	/* Each worker in its own dir; each holds the env's leases while it lives. */
	if ((error = udfenv_env_worker(env, w->index, &opts.cwd, &opts.envp)) < 0)
		goto done;
	opts.keep_fds = udfenv_env_hold_fds(env, &opts.nkeep_fds);
	opts.stdin_fd = in[0];
	opts.stdout_fd = out[1];
	/* A worker busy in a UDF would not see its closed pipe and run on as an orphan. */
	opts.die_with_us = UDFENV_PROC_DIE_ALONE;
	if ((error = udfenv_proc_spawn(&w->proc, argv, &opts)) < 0) {
		udfenv_error_prefix("worker %u: ", w->index);
		goto done;
	}
	w->started = udfenv_now();
	w->pid = udfenv_proc_pid(w->proc);
	w->pidfd = udfenv_proc_pidfd_open(w->pid);
	w->to_fd = in[1];
	w->from_fd = out[0];
	in[1] = out[0] = -1;
	log_command(w, argv);
done:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
	return error;
}

/* --- frames out ---------------------------------------------------------- */

int udfenv_job__frame_begin(job_worker *w, char type, const void *head, size_t head_len,
			    size_t *frame_off)
{
	int error;

	/* Drop what was written already, so the queue holds only what is pending. */
	if (w->out_off == w->out.size) {
		udfenv_buf_clear(&w->out);
		w->out_off = 0;
	} else if (w->out_off > w->out.size / 2) {
		memmove(w->out.ptr, w->out.ptr + w->out_off, w->out.size - w->out_off);
		udfenv_buf_truncate(&w->out, w->out.size - w->out_off);
		w->out_off = 0;
	}
	*frame_off = w->out.size;
	/* The length is written by udfenv_job__frame_seal once the payload is in. */
	if ((error = udfenv_buf_put(&w->out, "\0\0\0\0", 4)) < 0 ||
	    (error = udfenv_buf_putc(&w->out, type)) < 0 ||
	    (head_len && (error = udfenv_buf_put(&w->out, head, head_len)) < 0))
		return error;
	return 0;
}

int udfenv_job__frame_seal(job_worker *w, size_t frame_off, const char *what)
{
	size_t len = w->out.size - frame_off - 4;
	unsigned char *p = (unsigned char *)w->out.ptr + frame_off;

	if (len > JOB_FRAME_MAX) {
		udfenv_buf_truncate(&w->out, frame_off);
		return udfenv_error_set(UDFENV_ELIMIT,
					"worker %u: %s is %zu bytes, more than a frame holds (1 GiB); "
					"lower python.fn-execution.bundle.size",
					w->index, what, len);
	}
	p[0] = (unsigned char)(len >> 24);
	p[1] = (unsigned char)(len >> 16);
	p[2] = (unsigned char)(len >> 8);
	p[3] = (unsigned char)len;
	return 0;
}

int udfenv_job__worker_flush(job_worker *w, int *broken)
{
	*broken = 0;
	while (w->to_fd >= 0 && w->out_off < w->out.size) {
		ssize_t n = write(w->to_fd, w->out.ptr + w->out_off, w->out.size - w->out_off);
		if (n >= 0) {
			w->out_off += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		if (errno == EPIPE) {
			*broken = 1;
			close(w->to_fd);
			w->to_fd = -1;
			break;
		}
		return udfenv_error_set_os(UDFENV_ERROR, "worker %u (pid %d): cannot write to its input",
					   w->index, (int)w->pid);
	}
	return 0;
}

/* --- frames in ----------------------------------------------------------- */

static uint32_t be32(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;
	return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

int udfenv_job__worker_read(job_worker *w, size_t *got)
{
	size_t want = READ_CHUNK, have = w->in.size - w->in_off;
	ssize_t n;
	int error;

	*got = 0;
	if (w->from_fd < 0 || w->eof)
		return 0;
	/* Keep only the unconsumed tail, at the front. */
	if (w->in_off == w->in.size) {
		udfenv_buf_clear(&w->in);
		w->in_off = 0;
	} else if (w->in_off > 0 && w->in_off >= w->in.size / 2) {
		memmove(w->in.ptr, w->in.ptr + w->in_off, have);
		udfenv_buf_truncate(&w->in, have);
		w->in_off = 0;
	}
	/* Room for the rest of a frame whose length we know: one read can bring all of it. */
	if (have >= 4) {
		size_t frame = (size_t)be32(w->in.ptr + w->in_off) + 4;
		if (frame <= (size_t)JOB_FRAME_MAX + 4 && frame > have && frame - have > want)
			want = frame - have;
	}
	if ((error = udfenv_buf_grow(&w->in, want)) < 0)
		return error;
	/* Whatever room growing left, not just `want`: fewer, larger reads. */
	want = w->in.asize - w->in.size - 1;
	do
		n = read(w->from_fd, w->in.ptr + w->in.size, want);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		w->in.size += (size_t)n;
		w->in.ptr[w->in.size] = '\0';
		*got = (size_t)n;
		return 0;
	}
	if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
		w->eof = 1; /* EOF, or an error that makes the pipe as good as closed */
	return 0;
}

/* The first bytes the worker sent, escaped, for "not the protocol" messages. */
static int non_protocol(job_worker *w)
{
	udfenv_buf shown = UDFENV_BUF_INIT;
	int error;

	if ((error = udfenv_job__show(&shown, w->in.ptr + w->in_off, w->in.size - w->in_off, 80)) == 0)
		error = udfenv_error_set(UDFENV_ERROR,
					 "worker %u (pid %d): wrote output that is not the protocol "
					 "before its hello: %s",
					 w->index, (int)w->pid, shown.ptr);
	udfenv_buf_dispose(&shown);
	return error;
}

int udfenv_job__frame_next(job_worker *w, char *type, const char **payload, size_t *len)
{
	const char *p = w->in.ptr + w->in_off;
	size_t have = w->in.size - w->in_off;
	uint32_t l;

	if (have < 4)
		return 0;
	l = be32(p);
	if (!w->hello && (l < 1 || l > JOB_HELLO_FRAME_MAX))
		return non_protocol(w);
	if (l < 1 || l > JOB_FRAME_MAX)
		return udfenv_error_set(UDFENV_ERROR,
					"worker %u (pid %d): broke the protocol: a frame of length %u "
					"(expected 1 to %u)",
					w->index, (int)w->pid, l, JOB_FRAME_MAX);
	/* Before the hello, stray text is likelier than a frame: check the type as soon as it is here. */
	if (!w->hello && have >= 5 && p[4] != 'H' && p[4] != 'E')
		return non_protocol(w);
	if (have - 4 < l)
		return 0;
	*type = p[4];
	*payload = p + 5;
	*len = l - 1;
	w->in_off += 4 + (size_t)l;
	return 1;
}

/* --- exits --------------------------------------------------------------- */

int udfenv_job__worker_exited(job_worker *w, job_exit *ex)
{
	siginfo_t info;

	memset(ex, 0, sizeof(*ex));
	if (w->proc == NULL)
		return 0;
	memset(&info, 0, sizeof(info));
	/* WNOWAIT: the zombie stays, so the pid (and its group) cannot be reused before the reap. */
	while (waitid(P_PID, (id_t)w->pid, &info, WEXITED | WNOHANG | WNOWAIT) < 0) {
		if (errno != EINTR)
			return udfenv_error_set_os(UDFENV_ERROR, "worker %u (pid %d): cannot wait for it",
						   w->index, (int)w->pid);
	}
	if (info.si_pid == 0)
		return 0;
	ex->exited = 1;
	ex->code = info.si_code;
	ex->status = info.si_status;
	return 0;
}

void udfenv_job__exit_describe(udfenv_buf *out, const job_exit *ex)
{
	const char *name;

	if (ex->code == CLD_EXITED) {
		udfenv_buf_printf(out, "exited with status %d", ex->status);
		return;
	}
	name = sigabbrev_np(ex->status);
	udfenv_buf_printf(out, "killed by signal %d (SIG%s)%s", ex->status, name ? name : "?",
			  ex->code == CLD_DUMPED ? ", core dumped" : "");
}

void udfenv_job__worker_close(job_worker *w)
{
	if (w->to_fd >= 0)
		close(w->to_fd);
	if (w->from_fd >= 0)
		close(w->from_fd);
	w->to_fd = w->from_fd = -1;
}

void udfenv_job__worker_dispose(job_worker *w)
{
	udfenv_job__worker_close(w);
	udfenv_proc_kill(w->proc); /* NULL-safe */
	w->proc = NULL;
	if (w->pidfd >= 0)
		close(w->pidfd);
	w->pidfd = -1;
	udfenv_buf_dispose(&w->out);
	udfenv_buf_dispose(&w->in);
	w->out_off = w->in_off = 0;
}

/* --- SIGPIPE ------------------------------------------------------------- */

void udfenv_job__sigpipe_block(job_sigpipe *s)
{
	sigset_t pipe_set, pending;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigpending(&pending);
	/* One already pending is someone else's: leave it for them. */
	s->was_pending = sigismember(&pending, SIGPIPE) == 1;
	pthread_sigmask(SIG_BLOCK, &pipe_set, &s->old);
}

void udfenv_job__sigpipe_consume(const job_sigpipe *s)
{
	static const struct timespec zero = {0, 0};
	sigset_t pipe_set;

	if (s->was_pending)
		return;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
		;
}

void udfenv_job__sigpipe_restore(const job_sigpipe *s)
{
	pthread_sigmask(SIG_SETMASK, &s->old, NULL);
}
