#include "util/proc.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/log.h"
#include "util/path.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Time a timed-out group gets between SIGTERM and SIGKILL. */
#define KILL_GRACE_SECONDS 2.0

struct udfenv_proc {
	pid_t pid; /* also the id of its process group */
	char *name; /* argv[0] as the caller gave it, for messages */
	int forward_signals;
	int foreground; /* the terminal is (or was) handed to the child's group */
	double timeout;
	double started; /* udfenv_now() at spawn; the timeout counts from here */
};

/* What the child sends back over the close-on-exec pipe when it cannot exec. */
enum { STAGE_SETPGID = 1, STAGE_REAPER, STAGE_DEATHSIG, STAGE_STDIO, STAGE_CHDIR, STAGE_EXEC };

typedef struct {
	int stage;
	int err;
} child_report;

static void proc_free(udfenv_proc *p)
{
	if (p == NULL)
		return;
	free(p->name);
	free(p);
}

/* The PATH the child will see: envp's when given, else ours. NULL if unset. */
static const char *child_path(char *const *envp)
{
	if (envp == NULL)
		return getenv("PATH");
	for (; *envp; envp++)
		if (strncmp(*envp, "PATH=", 5) == 0)
			return *envp + 5;
	return NULL;
}

/*
 * A name with a '/' is exec'd as given (after the child's chdir, as execve
 * would), so that a missing or non-executable file is reported by the exec
 * itself with the precise errno. A bare name is looked up in the PATH of the
 * environment the child will run in, not ours.
 */
static int resolve_program(udfenv_buf *out, const char *name, char *const *envp)
{
	int error;

	if (strchr(name, '/'))
		return udfenv_buf_sets(out, name);
	error = udfenv_path_which(out, name, child_path(envp));
	if (error == UDFENV_ENOTFOUND)
		return udfenv_error_set(UDFENV_ENOTFOUND, "cannot run '%s': not found in PATH", name);
	return error;
}

/* waitpid(2), retrying EINTR. Returns -1 with errno set on failure. */
static int reap(pid_t pid, int *wstatus)
{
	pid_t r;

	do
		r = waitpid(pid, wstatus, 0);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -1 : 0;
}

static void reclaim_terminal(udfenv_proc *p)
{
	sigset_t ttou, old;

	if (!p->foreground)
		return;
	/* We are a background group until this succeeds: SIGTTOU would stop us. */
	sigemptyset(&ttou);
	sigaddset(&ttou, SIGTTOU);
	sigprocmask(SIG_BLOCK, &ttou, &old);
	tcsetpgrp(STDIN_FILENO, getpgrp());
	sigprocmask(SIG_SETMASK, &old, NULL);
	p->foreground = 0;
}

static __attribute__((noreturn)) void child_fail(int report_fd, int stage)
{
	child_report r;
	ssize_t n;

	r.stage = stage;
	r.err = errno;
	do
		n = write(report_fd, &r, sizeof(r));
	while (n < 0 && errno == EINTR);
	_exit(127);
}

/*
 * UDFENV_PROC_DIE_GROUP, in the child after fork, with every signal still
 * blocked and every disposition at its default: fork the program's process
 * and stay behind as the reaper. Returns in the new child only; the reaper ends with
 * the program's status, or kills the whole group once `parent` is gone.
 */
static void become_reaper(pid_t parent, int report_fd)
{
	sigset_t wanted;
	siginfo_t info;
	pid_t pid;
	int wstatus;

	/* SIGUSR1 stays blocked: it is only ever taken by sigwaitinfo below. */
	if (prctl(PR_SET_PDEATHSIG, SIGUSR1) < 0)
		child_fail(report_fd, STAGE_REAPER);
	if (getppid() != parent) /* it died before the prctl */
		kill(0, SIGKILL);
	if ((pid = fork()) < 0)
		child_fail(report_fd, STAGE_REAPER);
	if (pid == 0)
		return; /* fork cleared the death signal for the program */

	/* Our copy of the report pipe would keep the spawner from seeing EOF. */
	close(report_fd);
#ifdef SYS_close_range
	syscall(SYS_close_range, 0u, ~0u, 0u);
#endif
	sigemptyset(&wanted);
	sigaddset(&wanted, SIGCHLD);
	sigaddset(&wanted, SIGUSR1);
	for (;;) {
		if (sigwaitinfo(&wanted, &info) == SIGUSR1) {
			/* Anyone may send SIGUSR1; only a new parent means ours died. */
			if (getppid() != parent)
				kill(0, SIGKILL); /* the group, this reaper included */
			continue;
		}
		if (waitpid(pid, &wstatus, WNOHANG) == pid)
			_exit(WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus));
	}
}

/*
 * After fork, in the child: async-signal-safe calls only. All signals are
 * still blocked here (the parent blocked them around fork), so no handler
 * inherited from the parent can run before exec.
 */
static __attribute__((noreturn)) void child_exec(const char *file, char *const *argv,
						       char *const *envp,
						       const udfenv_proc_opts *opts, pid_t parent,
						       int foreground, int report_fd)
{
	int fds[3] = {opts->stdin_fd, opts->stdout_fd, opts->stderr_fd};
	struct sigaction dfl;
	sigset_t none;
	int i, sig;

	/* The report pipe lands on 0..2 when the caller runs with those closed. */
	if (report_fd <= STDERR_FILENO) {
		int moved = fcntl(report_fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
		if (moved < 0)
			child_fail(report_fd, STAGE_STDIO);
		report_fd = moved;
	}
	if (setpgid(0, 0) < 0)
		child_fail(report_fd, STAGE_SETPGID);
	/* The parent does this too; whoever runs first wins. SIGTTOU is blocked. */
	if (foreground)
		tcsetpgrp(STDIN_FILENO, getpid());

	/*
	 * exec resets caught signals but keeps ignored ones: a SIG_IGN we
	 * inherited (nohup, a shell's background job) must not leak into the child.
	 */
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &dfl, NULL); /* EINVAL for libc-reserved ones */
	/* After the reset: an inherited SIG_IGN for SIGCHLD would reap for us. */
	if (opts->die_with_us == UDFENV_PROC_DIE_GROUP)
		become_reaper(parent, report_fd);
	if (opts->die_with_us == UDFENV_PROC_DIE_ALONE) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
			child_fail(report_fd, STAGE_DEATHSIG);
		if (getppid() != parent) /* it died before the prctl */
			_exit(127);
	}

	/* A source fd sitting on another slot of 0..2 would be clobbered by dup2. */
	for (i = 0; i < 3; i++) {
		if (fds[i] >= 0 && fds[i] <= STDERR_FILENO && fds[i] != i &&
		    (fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, STDERR_FILENO + 1)) < 0)
			child_fail(report_fd, STAGE_STDIO);
	}
	for (i = 0; i < 3; i++) {
		if (fds[i] < 0)
			continue;
		/* dup2 onto itself is a no-op and would leave FD_CLOEXEC set. */
		if (fds[i] == i ? fcntl(i, F_SETFD, 0) < 0 : dup2(fds[i], i) < 0)
			child_fail(report_fd, STAGE_STDIO);
	}

	for (size_t k = 0; k < opts->nkeep_fds; k++)
		if (opts->keep_fds[k] > STDERR_FILENO && fcntl(opts->keep_fds[k], F_SETFD, 0) < 0)
			child_fail(report_fd, STAGE_STDIO);

	if (opts->cwd && chdir(opts->cwd) < 0)
		child_fail(report_fd, STAGE_CHDIR);

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(file, argv, envp);
	child_fail(report_fd, STAGE_EXEC);
}

static int report_error(const child_report *r, const char *name, const char *cwd)
{
	int code = udfenv_error_from_errno(r->err);

	errno = r->err;
	switch (r->stage) {
	case STAGE_CHDIR:
		return udfenv_error_set_os(code, "cannot enter directory '%s' to run '%s'", cwd, name);
	case STAGE_SETPGID:
		return udfenv_error_set_os(UDFENV_ERROR, "cannot give '%s' its own process group",
					   name);
	case STAGE_REAPER:
		return udfenv_error_set_os(UDFENV_ERROR, "cannot start the reaper of '%s'", name);
	case STAGE_DEATHSIG:
		return udfenv_error_set_os(UDFENV_ERROR, "cannot have '%s' killed when we die", name);
	case STAGE_STDIO:
		return udfenv_error_set_os(UDFENV_ERROR, "cannot set up the standard streams of '%s'",
					   name);
	default:
		return udfenv_error_set_os(code, "cannot run '%s'", name);
	}
}

/* Fork and start the child; sets p->pid. The caller keeps both pipe ends. */
static int fork_child(udfenv_proc *p, const char *file, char *const *argv,
		      const udfenv_proc_opts *opts, int report_fd)
{
	pid_t self = getpid(), pid;
	sigset_t all, old;
	int fork_errno;

	/* Blocked across fork so that no handler of ours runs in the child. */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	p->started = udfenv_now();
	pid = fork();
	if (pid == 0)
		child_exec(file, argv, opts->envp ? opts->envp : environ, opts, self,
			   p->foreground, report_fd);
	fork_errno = errno;
	if (pid > 0) {
		/*
		 * Both sides set the group so that it exists whichever runs
		 * first; EACCES here only means the child already exec'd.
		 */
		setpgid(pid, pid);
		if (p->foreground)
			tcsetpgrp(STDIN_FILENO, pid); /* SIGTTOU is blocked */
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		p->foreground = 0;
		errno = fork_errno;
		return udfenv_error_set_os(UDFENV_ERROR, "cannot run '%s'", p->name);
	}
	p->pid = pid;
	return 0;
}

/*
 * Read the child's report: EOF means the exec succeeded (and closed the
 * write end). On a report, reap the child and turn it into the error.
 */
static int exec_result(udfenv_proc *p, int read_fd, const char *cwd)
{
	child_report r;
	int error, wstatus;
	ssize_t n;

	do
		n = read(read_fd, &r, sizeof(r));
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return 0;
	if (n == (ssize_t)sizeof(r))
		error = report_error(&r, p->name, cwd);
	else if (n < 0)
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot run '%s'", p->name);
	else
		error = udfenv_error_set(UDFENV_ERROR, "cannot run '%s': garbled report", p->name);
	reap(p->pid, &wstatus);
	reclaim_terminal(p);
	return error;
}

int udfenv_proc_spawn(udfenv_proc **out, char *const *argv, const udfenv_proc_opts *opts)
{
	static const udfenv_proc_opts defaults = UDFENV_PROC_OPTS_INIT;
	udfenv_buf file = UDFENV_BUF_INIT;
	udfenv_proc *p = NULL;
	int pipefd[2] = {-1, -1};
	int error = 0;

	*out = NULL;
	if (opts == NULL)
		opts = &defaults;
	if (argv == NULL || argv[0] == NULL || argv[0][0] == '\0')
		return udfenv_error_set(UDFENV_EINVALID, "no program to run");
	if (opts->die_with_us < UDFENV_PROC_DIE_NONE || opts->die_with_us > UDFENV_PROC_DIE_ALONE)
		return udfenv_error_set(UDFENV_EINVALID, "invalid die_with_us %d for '%s'",
					opts->die_with_us, argv[0]);
	if (!(opts->timeout >= 0)) /* NaN too */
		return udfenv_error_set(UDFENV_EINVALID, "invalid timeout %g s for '%s'",
					opts->timeout, argv[0]);
	if ((error = resolve_program(&file, argv[0], opts->envp)) < 0)
		goto done;

	if ((p = calloc(1, sizeof(*p))) == NULL || (p->name = strdup(argv[0])) == NULL) {
		error = udfenv_error_set(UDFENV_ENOMEM, "out of memory");
		goto done;
	}
	p->forward_signals = opts->forward_signals;
	p->timeout = opts->timeout;
	/* Only take the terminal from a shell that gave it to us. */
	p->foreground = opts->foreground && isatty(STDIN_FILENO) &&
			tcgetpgrp(STDIN_FILENO) == getpgrp();

	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot run '%s'", p->name);
		goto done;
	}
	if ((error = fork_child(p, file.ptr, argv, opts, pipefd[1])) < 0)
		goto done;
	close(pipefd[1]);
	pipefd[1] = -1;
	if ((error = exec_result(p, pipefd[0], opts->cwd)) < 0)
		goto done;

	*out = p;
	p = NULL;
done:
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	proc_free(p);
	udfenv_buf_dispose(&file);
	return error;
}

pid_t udfenv_proc_pid(const udfenv_proc *p)
{
	return p->pid;
}

/* --- forwarding signals ------------------------------------------------ */

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define NFORWARDED (sizeof(forwarded) / sizeof(forwarded[0]))

/* pid_t is an int on Linux, as is sig_atomic_t. 0: nothing to forward to. */
static volatile sig_atomic_t forward_pgid;

typedef struct {
	struct sigaction old[NFORWARDED];
	int installed[NFORWARDED];
} forward_state;

/* Handlers our caller had installed: they still run after the forward. */
static void (*volatile forward_prev[NFORWARDED])(int);

static void forward_handler(int sig)
{
	int saved = errno;
	pid_t pgid = (pid_t)forward_pgid;

	if (pgid > 0)
		kill(-pgid, sig);
	for (size_t i = 0; i < NFORWARDED; i++)
		if (forwarded[i] == sig && forward_prev[i])
			forward_prev[i](sig);
	errno = saved;
}

static int is_ignored(const struct sigaction *sa)
{
	return !(sa->sa_flags & SA_SIGINFO) && sa->sa_handler == SIG_IGN;
}

static void forward_begin(forward_state *st, pid_t pgid)
{
	struct sigaction sa;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward_handler;
	sigfillset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	forward_pgid = pgid;
	for (i = 0; i < NFORWARDED; i++) {
		st->installed[i] = 0;
		/* A signal our caller chose to ignore stays ignored (nohup, `&`). */
		if (sigaction(forwarded[i], NULL, &st->old[i]) < 0 || is_ignored(&st->old[i]))
			continue;
		forward_prev[i] = (st->old[i].sa_flags & SA_SIGINFO) ||
					  st->old[i].sa_handler == SIG_DFL
				  ? NULL
				  : st->old[i].sa_handler;
		st->installed[i] = sigaction(forwarded[i], &sa, NULL) == 0;
	}
}

static void forward_end(forward_state *st)
{
	size_t i;

	for (i = 0; i < NFORWARDED; i++) {
		if (st->installed[i])
			sigaction(forwarded[i], &st->old[i], NULL);
		forward_prev[i] = NULL;
	}
	forward_pgid = 0;
}

/* --- waiting ------------------------------------------------------------ */

int udfenv_proc_pidfd_open(pid_t pid)
{
#ifdef SYS_pidfd_open
	/* Always close-on-exec. ENOSYS (old kernels, valgrind), EPERM (seccomp): poll. */
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	return -1;
#endif
}

static void sleep_seconds(double s)
{
	struct timespec ts;

	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL); /* EINTR is fine: the caller re-checks */
}

/*
 * Wait until the child has exited, without reaping it: while the zombie
 * exists its pid cannot be reused, so kill(-pid) still reaches only its
 * group. `deadline` < 0: no limit. `*exited` says which came first.
 */
static int wait_exit(udfenv_proc *p, double deadline, int pidfd, int *exited)
{
	double backoff = 0.001;
	siginfo_t info;

	*exited = 0;
	for (;;) {
		int flags = WEXITED | WNOWAIT | (deadline < 0 ? 0 : WNOHANG);
		double left;

		memset(&info, 0, sizeof(info));
		if (waitid(P_PID, (id_t)p->pid, &info, flags) < 0) {
			if (errno == EINTR)
				continue;
			return udfenv_error_set_os(UDFENV_ERROR, "cannot wait for '%s'", p->name);
		}
		if (info.si_pid != 0) {
			*exited = 1;
			return 0;
		}
		if ((left = deadline - udfenv_now()) <= 0)
			return 0;
		if (pidfd >= 0) {
			struct pollfd pfd = {pidfd, POLLIN, 0};
			double ms = left * 1000.0 + 1.0;
			/* EINTR (a forwarded signal) just goes round again. */
			if (poll(&pfd, 1, ms > INT_MAX ? INT_MAX : (int)ms) < 0 && errno != EINTR)
				pidfd = -1;
		} else {
			sleep_seconds(left < backoff ? left : backoff);
			if (backoff < 0.05)
				backoff *= 2;
		}
	}
}

static int wait_with_timeout(udfenv_proc *p, int *timed_out)
{
	int pidfd = udfenv_proc_pidfd_open(p->pid);
	int error, exited;

	*timed_out = 0;
	if ((error = wait_exit(p, p->started + p->timeout, pidfd, &exited)) < 0 || exited)
		goto done;
	*timed_out = 1;
	kill(-p->pid, SIGTERM);
	/* A stopped group (Ctrl-Z, SIGTTIN) acts on SIGTERM only once continued. */
	kill(-p->pid, SIGCONT);
	if ((error = wait_exit(p, udfenv_now() + KILL_GRACE_SECONDS, pidfd, &exited)) < 0)
		goto done;
	/*
	 * Whatever is left of the group goes, the leader too if it is still
	 * alive; to the leader's pid as well in case it left its group.
	 */
	kill(-p->pid, SIGKILL);
	if (!exited) {
		kill(p->pid, SIGKILL);
		error = wait_exit(p, -1, pidfd, &exited);
	}
done:
	if (pidfd >= 0)
		close(pidfd);
	return error;
}

static int decode_status(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return wstatus;
}

int udfenv_proc_wait(udfenv_proc *p, int *status)
{
	forward_state fwd;
	int error = 0, exited, timed_out = 0, wstatus = 0;

	if (p == NULL)
		return udfenv_error_set(UDFENV_EINVALID, "no process to wait for");
	if (p->forward_signals)
		forward_begin(&fwd, p->pid);
	if (p->timeout > 0)
		error = wait_with_timeout(p, &timed_out);
	else
		error = wait_exit(p, -1, -1, &exited);
	/* The leader is not reaped yet: a late signal still reaches only its group. */
	if (p->forward_signals)
		forward_end(&fwd);
	if (error == 0 && reap(p->pid, &wstatus) < 0)
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot wait for '%s'", p->name);
	reclaim_terminal(p);
	if (error == 0) {
		if (status)
			*status = decode_status(wstatus);
		if (timed_out)
			error = udfenv_error_set(UDFENV_ELIMIT, "'%s' timed out after %g s", p->name,
						 p->timeout);
	}
	proc_free(p);
	return error;
}

void udfenv_proc_kill(udfenv_proc *p)
{
	int wstatus;

	if (p == NULL)
		return;
	/* Not reaped yet, so both ids still name this child and its group. */
	kill(-p->pid, SIGKILL);
	kill(p->pid, SIGKILL);
	reap(p->pid, &wstatus);
	reclaim_terminal(p);
	proc_free(p);
}

int udfenv_proc_run(char *const *argv, const udfenv_proc_opts *opts, int *status)
{
	udfenv_proc *p;
	int error;

	if ((error = udfenv_proc_spawn(&p, argv, opts)) < 0)
		return error;
	return udfenv_proc_wait(p, status);
}

int udfenv_proc_capture(char *const *argv, const udfenv_proc_opts *opts, int with_stderr, udfenv_buf *out,
			size_t max, int *status)
{
	udfenv_proc_opts o = opts ? *opts : (udfenv_proc_opts)UDFENV_PROC_OPTS_INIT;
	char block[4096];
	ssize_t n;
	int fd, error;

	if ((fd = memfd_create("udfenv-capture", MFD_CLOEXEC)) < 0)
		return udfenv_error_set_os(UDFENV_ERROR, "cannot run '%s'", argv[0]);
	o.stdout_fd = fd;
	if (with_stderr)
		o.stderr_fd = fd;
	if ((error = udfenv_proc_run(argv, &o, status)) < 0)
		goto done;
	if (lseek(fd, 0, SEEK_SET) < 0) {
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot read the output of '%s'", argv[0]);
		goto done;
	}
	while (max > 0 && (n = read(fd, block, sizeof(block) < max ? sizeof(block) : max)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error = udfenv_error_set_os(UDFENV_ERROR, "cannot read the output of '%s'", argv[0]);
			break;
		}
		if ((error = udfenv_buf_put(out, block, (size_t)n)) < 0)
			break;
		max -= (size_t)n;
	}
done:
	close(fd);
	return error;
}
