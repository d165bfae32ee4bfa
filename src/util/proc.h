/*
 * Running child processes: spawn in a new process group, report exec
 * failures through a close-on-exec pipe, forward termination signals to the
 * child's group while waiting, reap. Generic: knows nothing of Python.
 */
#ifndef UDFENV_UTIL_PROC_H
#define UDFENV_UTIL_PROC_H

#include "util/buf.h"

#include <sys/types.h>

#define UDFENV_PROC_INHERIT (-1)

typedef struct {
	const char *cwd;    /* NULL: inherit */
	char *const *envp;  /* NULL: inherit environ; argv[0] is looked up in envp's PATH */
	int stdin_fd;       /* UDFENV_PROC_INHERIT or an fd to dup2 onto 0 */
	int stdout_fd;      /* likewise for 1 */
	int stderr_fd;      /* likewise for 2 */
	int forward_signals; /* while waiting, send SIGINT/SIGTERM/SIGHUP/SIGQUIT to the child's group */
	int foreground;     /* if stdin is our controlling tty and we are in the foreground,
			       hand the terminal to the child's group while it runs */
	double timeout;     /* seconds; 0 = none. On expiry: SIGTERM to the group, SIGKILL 2 s later */
	const int *keep_fds; /* more fds the child inherits (at the same numbers), despite FD_CLOEXEC */
	size_t nkeep_fds;
	int die_with_us;    /* UDFENV_PROC_DIE_*: what is killed when we die, even by SIGKILL;
			       see udfenv_proc_spawn */
} udfenv_proc_opts;

enum {
	UDFENV_PROC_DIE_NONE = 0,  /* the child outlives us */
	UDFENV_PROC_DIE_GROUP = 1, /* the child's whole group, through a reaper */
	UDFENV_PROC_DIE_ALONE = 2  /* the program alone, with no reaper */
};

#define UDFENV_PROC_OPTS_INIT {NULL, NULL, UDFENV_PROC_INHERIT, UDFENV_PROC_INHERIT, UDFENV_PROC_INHERIT, 0, 0, 0, NULL, 0, 0}

typedef struct udfenv_proc udfenv_proc;

/*
 * Start argv (NULL-terminated) in a new process group whose id is the
 * child's pid. `opts` may be NULL (all defaults). A bare argv[0] is looked up
 * in the PATH of the child's environment (envp's, else ours); one with a '/'
 * is exec'd as given, relative to opts->cwd. The child starts with every
 * signal at its default disposition and an empty signal mask.
 *
 * Exec failures (not found, not executable) are returned here, not as an
 * exit status, after the child was reaped: UDFENV_ENOTFOUND "cannot run 'X':
 * not found in PATH", or "cannot run 'X': <strerror>", or "cannot enter
 * directory 'D' to run 'X': <strerror>", with the code
 * udfenv_error_from_errno gives (UDFENV_ENOTFOUND for ENOENT, UDFENV_ERROR
 * for EACCES, ...). UDFENV_EINVALID for an empty argv, a negative timeout or
 * an unknown die_with_us.
 *
 * die_with_us, UDFENV_PROC_DIE_GROUP: the group's leader is then a small
 * reaper, forked from us, that runs argv in a child of its own in the same
 * group and ends with that child's status. When the thread that spawned it
 * dies, however it dies, the kernel tells the reaper (PR_SET_PDEATHSIG) and
 * the reaper SIGKILLs the whole group: the program and everything it started
 * that stayed in its group (an installer and its build backends). Everything
 * else is as without it; udfenv_proc_pid gives the reaper's pid, which is the
 * group id. UDFENV_PROC_DIE_ALONE: the kernel SIGKILLs the program itself
 * when that thread dies (PR_SET_PDEATHSIG, kept across exec), without the
 * cost of a reaper, but what the program starts lives on: for a program that
 * starts nothing (a worker that may be busy when we die).
 *
 * On success `*out` is owned by the caller until udfenv_proc_wait or
 * udfenv_proc_kill frees it; exactly one of them must be called.
 */
int udfenv_proc_spawn(udfenv_proc **out, char *const *argv, const udfenv_proc_opts *opts);

pid_t udfenv_proc_pid(const udfenv_proc *p);

/*
 * A pidfd for `pid` (close-on-exec; readable once the process exits), or
 * -1 where the kernel gives none (old kernels, valgrind, seccomp): then
 * callers fall back to polling.
 */
int udfenv_proc_pidfd_open(pid_t pid);

/*
 * Wait for the child (forwarding signals / applying the timeout as opts
 * said), reap it and free `p`, whatever the outcome. `*status` (`status` may
 * be NULL): the exit code, or 128 + the signal number when a signal ended it
 * (as a shell reports it).
 *
 * forward_signals: handlers for SIGINT/SIGTERM/SIGHUP/SIGQUIT are installed
 * for the duration of this call only and the previous dispositions restored;
 * a signal that was SIG_IGN stays ignored and is not forwarded; a handler
 * function the caller had installed still runs after the forward. The handlers
 * are process-wide: only one forwarding wait may run at a time.
 *
 * timeout: counted from the spawn. On expiry the group gets SIGTERM (and
 * SIGCONT, so a stopped group acts on it), then SIGKILL once the child has
 * exited or 2 s passed, whichever comes first; the child is reaped and
 * UDFENV_ELIMIT "'X' timed out after N s" returned, `*status` still set.
 *
 * foreground: the terminal is given back to our process group once the
 * child has ended.
 */
int udfenv_proc_wait(udfenv_proc *p, int *status);

/* Kill the child's group with SIGKILL, reap it, free `p`. NULL-safe; never fails. */
void udfenv_proc_kill(udfenv_proc *p);

/* spawn + wait; the errors of both. */
int udfenv_proc_run(char *const *argv, const udfenv_proc_opts *opts, int *status);

/*
 * udfenv_proc_run with the child's stdout (and its stderr too when
 * `with_stderr`) captured: the first `max` bytes are appended to `out`. The
 * output goes to a memory file, not a pipe, so opts->timeout bounds a child
 * that hangs or writes much. opts' stdout_fd/stderr_fd are replaced.
 */
int udfenv_proc_capture(char *const *argv, const udfenv_proc_opts *opts, int with_stderr, udfenv_buf *out,
			size_t max, int *status);

#endif
