/*
 * Running child processes: spawn in a new process group, report exec
 * failures through a close-on-exec pipe, forward termination signals to the
 * child's group while waiting, reap. Generic: knows nothing of Python.
 */
#ifndef UDFENV_UTIL_PROC_H
#define UDFENV_UTIL_PROC_H

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
} udfenv_proc_opts;

#define UDFENV_PROC_OPTS_INIT {NULL, NULL, UDFENV_PROC_INHERIT, UDFENV_PROC_INHERIT, UDFENV_PROC_INHERIT, 0, 0, 0}

typedef struct udfenv_proc udfenv_proc;

/*
 * Start argv (NULL-terminated) in a new process group. Exec failures (not
 * found, not executable) are returned here, not as an exit status:
 * UDFENV_ENOTFOUND or UDFENV_ERROR with "cannot run 'X': <strerror>".
 */
int udfenv_proc_spawn(udfenv_proc **out, char *const *argv, const udfenv_proc_opts *opts);

pid_t udfenv_proc_pid(const udfenv_proc *p);

/*
 * Wait for the child (forwarding signals / applying the timeout as opts
 * said) and free `p`. `*status`: the exit code, or 128 + the signal number
 * when a signal ended it (as a shell reports it). A timeout returns
 * UDFENV_ELIMIT after the child was reaped.
 */
int udfenv_proc_wait(udfenv_proc *p, int *status);

/* Kill the child's group with SIGKILL, reap it, free `p`. NULL-safe. */
void udfenv_proc_kill(udfenv_proc *p);

/* spawn + wait. */
int udfenv_proc_run(char *const *argv, const udfenv_proc_opts *opts, int *status);

#endif
