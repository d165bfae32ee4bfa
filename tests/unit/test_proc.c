#include <stdint.h>

#include "testutil.h"
#include "util/log.h"
#include "util/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static udfenv_buf tmpdir = UDFENV_BUF_INIT;

static int group_setup(void **state)
{
	(void)state;
	return tu_mkdtemp(&tmpdir, "udfenv-test-proc-");
}

static int group_teardown(void **state)
{
	(void)state;
	return tu_rmdtemp(&tmpdir);
}

/* `name` inside the test's temp dir; the string lives in `b`. */
static const char *in_tmp(udfenv_buf *b, const char *name)
{
	return tu_join(b, udfenv_buf_cstr(&tmpdir), name);
}

static void assert_reaped(pid_t pid)
{
	int wstatus;
	assert_int_equal(waitpid(pid, &wstatus, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

/* Whether `pid` is gone or a zombie (dead, waiting for whoever reaps orphans). */
static int is_dead(pid_t pid)
{
	char path[64];
	udfenv_buf b = UDFENV_BUF_INIT;
	const char *paren;
	int dead;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (udfenv_fs_read_file(&b, path, 4096) < 0)
		return 1;
	paren = strrchr(udfenv_buf_cstr(&b), ')');
	dead = paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
	udfenv_buf_dispose(&b);
	return dead;
}

static void wait_until_dead(pid_t pid)
{
	int i;
	for (i = 0; i < 200 && !is_dead(pid); i++)
		usleep(10000);
	assert_true(is_dead(pid));
}

/* The running signaller, stopped by the test or, if an assertion failed first, its teardown. */
static pid_t signaller_pid;

/*
 * A helper process that, once `ready` exists (NULL: at once), sends `sig` to
 * the test process every 20 ms until stopped. Repeating makes the test immune
 * to the helper winning the race against the handlers being installed. It
 * dies with the test process, so it never signals a recycled pid.
 */
static void start_signaller(const char *ready, int sig)
{
	pid_t parent = getpid(), pid = fork();
	int i;

	assert_true(pid >= 0);
	if (pid > 0) {
		signaller_pid = pid;
		return;
	}
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		_exit(1);
	for (i = 0; ready && i < 500 && access(ready, F_OK) < 0 && getppid() == parent; i++)
		usleep(10000);
	while (getppid() == parent) {
		kill(parent, sig);
		usleep(20000);
	}
	_exit(0);
}

static void stop_signaller(void)
{
	int wstatus;

	if (signaller_pid <= 0)
		return;
	kill(signaller_pid, SIGKILL);
	assert_int_equal(waitpid(signaller_pid, &wstatus, 0), signaller_pid);
	signaller_pid = 0;
}

static int teardown_signaller(void **state)
{
	(void)state;
	stop_signaller();
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	return 0;
}

static void test_exit_code(void **state)
{
	char *argv[] = {"sh", "-c", "exit 7", NULL};
	int status = -1;
	(void)state;

	assert_int_equal(udfenv_proc_run(argv, NULL, &status), 0);
	assert_int_equal(status, 7);
}

static void test_killed_by_signal(void **state)
{
	char *argv[] = {"sh", "-c", "kill -9 $$", NULL};
	int status = -1;
	(void)state;

	assert_int_equal(udfenv_proc_run(argv, NULL, &status), 0);
	assert_int_equal(status, 128 + SIGKILL);
}

static void test_invalid_arguments(void **state)
{
	char *empty[] = {NULL};
	char *argv[] = {"true", NULL};
	udfenv_proc_opts opts = UDFENV_PROC_OPTS_INIT;
	int status = -1;
	(void)state;

	assert_int_equal(udfenv_proc_run(empty, NULL, &status), UDFENV_EINVALID);
	opts.timeout = -1;
	assert_int_equal(udfenv_proc_run(argv, &opts, &status), UDFENV_EINVALID);
	tu_assert_message_contains("invalid timeout -1 s for 'true'");
	assert_int_equal(status, -1);
}

static void test_not_found_in_path(void **state)
{
	char *argv[] = {"udfenv-no-such-tool", NULL};
	int status = -1;
	(void)state;

	assert_int_equal(udfenv_proc_run(argv, NULL, &status), UDFENV_ENOTFOUND);
	assert_int_equal(udfenv_error_last()->code, UDFENV_ENOTFOUND);
	assert_string_equal(udfenv_error_last()->message,
			    "cannot run 'udfenv-no-such-tool': not found in PATH");
	assert_int_equal(status, -1);
}

static void test_missing_file(void **state)
{
	udfenv_buf path = UDFENV_BUF_INIT, msg = UDFENV_BUF_INIT;
	char *argv[] = {NULL, NULL};
	(void)state;

	argv[0] = (char *)in_tmp(&path, "no-such-dir/tool");
	assert_int_equal(udfenv_proc_run(argv, NULL, NULL), UDFENV_ENOTFOUND);
	assert_int_equal(udfenv_buf_printf(&msg, "cannot run '%s': No such file or directory",
					   argv[0]),
			 0);
	assert_string_equal(udfenv_error_last()->message, udfenv_buf_cstr(&msg));
	udfenv_buf_dispose(&path);
	udfenv_buf_dispose(&msg);
}

static void test_not_executable(void **state)
{
	udfenv_buf path = UDFENV_BUF_INIT;
	char *argv[] = {NULL, NULL};
	(void)state;

	/* Even root needs an x bit to exec. */
	argv[0] = (char *)in_tmp(&path, "not-executable");
	tu_write_file(argv[0], "#!/bin/sh\nexit 0\n", 0644);
	assert_int_equal(udfenv_proc_run(argv, NULL, NULL), UDFENV_ERROR);
	tu_assert_message_contains("cannot run '");
	tu_assert_message_contains(argv[0]);
	tu_assert_message_contains(": Permission denied");
	udfenv_buf_dispose(&path);
}

static void test_bad_cwd(void **state)
{
	udfenv_buf dir = UDFENV_BUF_INIT, msg = UDFENV_BUF_INIT;
	udfenv_proc_opts opts = UDFENV_PROC_OPTS_INIT;
	char *argv[] = {"sh", "-c", "exit 0", NULL};
	(void)state;

	opts.cwd = in_tmp(&dir, "no-such-dir");
	assert_int_equal(udfenv_proc_run(argv, &opts, NULL), UDFENV_ENOTFOUND);
	assert_int_equal(udfenv_buf_printf(&msg,
					   "cannot enter directory '%s' to run 'sh': "
					   "No such file or directory",
					   opts.cwd),
			 0);
	assert_string_equal(udfenv_error_last()->message, udfenv_buf_cstr(&msg));
	udfenv_buf_dispose(&dir);
	udfenv_buf_dispose(&msg);
}

static void test_cwd_applied(void **state)
{
	udfenv_buf dir = UDFENV_BUF_INIT, out = UDFENV_BUF_INIT, expected = UDFENV_BUF_INIT;
	udfenv_proc_opts opts = UDFENV_PROC_OPTS_INIT;
	char *argv[] = {"sh", "-c", "pwd -P > out.txt", NULL};
	char real[PATH_MAX];
	int status = -1;
	(void)state;

	opts.cwd = in_tmp(&dir, "work");
	assert_int_equal(mkdir(opts.cwd, 0700), 0);
	assert_non_null(realpath(opts.cwd, real));
	assert_int_equal(udfenv_proc_run(argv, &opts, &status), 0);
	assert_int_equal(status, 0);
	assert_int_equal(udfenv_buf_printf(&expected, "%s\n", real), 0);
	tu_assert_file_equal(tu_join(&out, opts.cwd, "out.txt"), udfenv_buf_cstr(&expected));
	udfenv_buf_dispose(&dir);
	udfenv_buf_dispose(&out);
	udfenv_buf_dispose(&expected);
}

static void test_envp_and_its_path(void **state)
{
	udfenv_buf bin = UDFENV_BUF_INIT, tool = UDFENV_BUF_INIT, out = UDFENV_BUF_INIT;
	udfenv_buf shadow = UDFENV_BUF_INIT, pathvar = UDFENV_BUF_INIT;
	udfenv_proc_opts opts = UDFENV_PROC_OPTS_INIT;
	char *argv[] = {"udfenv-test-tool", NULL, NULL};
	char *true_argv[] = {"true", NULL, NULL};
	char *envp[] = {NULL, "UDFENV_TEST_VAR=hello", NULL};
	int status = -1;
	(void)state;

	in_tmp(&bin, "bin");
	assert_int_equal(mkdir(bin.ptr, 0700), 0);
	tu_write_file(tu_join(&tool, bin.ptr, "udfenv-test-tool"),
	              "#!/bin/sh\necho \"tool $UDFENV_TEST_VAR\" > \"$1\"\n", 0755);
	/* A `true` that shadows /usr/bin/true, the way a venv's python shadows the system's. */
	tu_write_file(tu_join(&shadow, bin.ptr, "true"), "#!/bin/sh\necho shadowed > \"$1\"\n",
	              0755);
	assert_int_equal(udfenv_buf_printf(&pathvar, "PATH=%s:/usr/bin:/bin", bin.ptr), 0);
	envp[0] = pathvar.ptr;
	argv[1] = true_argv[1] = (char *)in_tmp(&out, "tool-out.txt");

	/* Our own PATH does not have it. */
	assert_int_equal(udfenv_proc_run(argv, NULL, &status), UDFENV_ENOTFOUND);

	opts.envp = envp;
	assert_int_equal(udfenv_proc_run(argv, &opts, &status), 0);
	assert_int_equal(status, 0);
	tu_assert_file_equal(out.ptr, "tool hello\n");

	assert_int_equal(udfenv_proc_run(true_argv, &opts, &status), 0);
	assert_int_equal(status, 0);
	tu_assert_file_equal(out.ptr, "shadowed\n");

	udfenv_buf_dispose(&bin);
	udfenv_buf_dispose(&tool);
	udfenv_buf_dispose(&out);
	udfenv_buf_dispose(&shadow);
	udfenv_buf_dispose(&pathvar);
}

static int open_file(udfenv_buf *b, const char *name, int flags)
{
	int fd = open(in_tmp(b, name), flags | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	return fd;
}

static void test_stdio_redirected(void **state)
{
	udfenv_buf in = UDFENV_BUF_INIT, out = UDFENV_BUF_INIT, err = UDFENV_BUF_INIT;
	udfenv_proc_opts opts = UDFENV_PROC_OPTS_INIT;
	char *argv[] = {"sh", "-c", "read x; echo \"in:$x\"; echo oops >&2", NULL};
	int status = -1;
	(void)state;

	tu_write_file(in_tmp(&in, "stdin.txt"), "abc\n", 0600);
	opts.stdin_fd = open_file(&in, "stdin.txt", O_RDONLY);
	opts.stdout_fd = open_file(&out, "stdout.txt", O_WRONLY | O_CREAT | O_TRUNC);
	opts.stderr_fd = open_file(&err, "stderr.txt", O_WRONLY | O_CREAT | O_TRUNC);
	assert_int_equal(udfenv_proc_run(argv, &opts, &status), 0);
	assert_int_equal(status, 0);
	close(opts.stdin_fd);
	close(opts.stdout_fd);
	close(opts.stderr_fd);
	tu_assert_file_equal(out.ptr, "in:abc\n");
	tu_assert_file_equal(err.ptr, "oops\n");
	udfenv_buf_dispose(&in);
	udfenv_buf_dispose(&out);
	udfenv_buf_dispose(&err);
}

static void test_bad_stdio_fd(void **state)
{
	udfenv_proc_opts opts = UDFENV_PROC_OPTS_INIT;
	char *argv[] = {"sh", "-c", "exit 0", NULL};
	(void)state;

	/* High enough that spawn's own pipe cannot land on it. */
	opts.stdout_fd = 1000;
	assert_int_equal(fcntl(opts.stdout_fd, F_GETFD), -1);
	assert_int_equal(udfenv_proc_run(argv, &opts, NULL), UDFENV_ERROR);
	assert_string_equal(udfenv_error_last()->message,
			    "cannot set up the standard streams of 'sh': Bad file descriptor");
}

/* stdout_fd = 2 and stderr_fd = 1: each dup2 must not clobber the other's source. */
static void test_stdio_swapped(void **state)
{
	udfenv_buf a = UDFENV_BUF_INIT, b = UDFENV_BUF_INIT;
	int wstatus;
	pid_t pid;
	(void)state;

	in_tmp(&a, "fd1.txt");
	in_tmp(&b, "fd2.txt");
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Our own 1 and 2 become files, so the swap is observable. */
		udfenv_proc_opts opts = UDFENV_PROC_OPTS_INIT;
		char *argv[] = {"sh", "-c", "echo out; echo err >&2", NULL};
		int fa = open(a.ptr, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int fb = open(b.ptr, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int status = -1;
		if (fa < 0 || fb < 0 || dup2(fa, 1) < 0 || dup2(fb, 2) < 0)
			_exit(10);
		opts.stdout_fd = 2;
		opts.stderr_fd = 1;
		if (udfenv_proc_run(argv, &opts, &status) < 0)
			_exit(11);
		_exit(status == 0 ? 0 : 12);
	}
	assert_int_equal(waitpid(pid, &wstatus, 0), pid);
	assert_true(WIFEXITED(wstatus));
	assert_int_equal(WEXITSTATUS(wstatus), 0);
	tu_assert_file_equal(a.ptr, "err\n");
	tu_assert_file_equal(b.ptr, "out\n");
	udfenv_buf_dispose(&a);
	udfenv_buf_dispose(&b);
}

static volatile sig_atomic_t test_handler_calls;

static void test_handler(int sig)
{
	(void)sig;
	test_handler_calls++;
}

static void test_handler2(int sig)
{
	(void)sig;
}

static void set_handler(int sig, void (*handler)(int))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	assert_int_equal(sigaction(sig, &sa, NULL), 0);
}

static void assert_handler(int sig, void (*handler)(int))
{
	struct sigaction sa;
	assert_int_equal(sigaction(sig, NULL, &sa), 0);
	assert_false(sa.sa_flags & SA_SIGINFO);
	assert_ptr_equal(sa.sa_handler, handler);
}

/*
 * SIGTERM sent to us while we wait reaches the child's whole group: the
 * shell's trap exits 42, and its background sleep (a grandchild) dies too.
 */
static void forward_case(double timeout)
{
	udfenv_buf ready = UDFENV_BUF_INIT, script = UDFENV_BUF_INIT;
	udfenv_proc_opts opts = UDFENV_PROC_OPTS_INIT;
	char *argv[] = {"sh", "-c", NULL, NULL};
	udfenv_proc *p;
	udfenv_buf grandchild = UDFENV_BUF_INIT;
	int status = -1;
	double t0;

	in_tmp(&ready, timeout > 0 ? "ready-timeout" : "ready");
	/*
	 * Ready once the background child runs sleep: a TERM that reaches it
	 * between fork and exec, while it still has the shell's trap, is lost
	 * when the trap is reset (seen in CI under load: sleep lived on).
	 */
	assert_int_equal(udfenv_buf_printf(&script,
					   "trap 'exit 42' TERM; sleep 5 & "
					   "n=0; while [ \"$(cat /proc/$!/comm 2>/dev/null)\" != sleep ] && "
					   "[ $n -lt 20000 ]; do n=$((n + 1)); done; "
					   "echo $! > '%s.tmp'; mv '%s.tmp' '%s'; wait",
					   ready.ptr, ready.ptr, ready.ptr),
			 0);
	argv[2] = script.ptr;
	opts.forward_signals = 1;
	opts.timeout = timeout;

	/* Our own handler is what must be back afterwards; it also runs on each forward. */
	set_handler(SIGTERM, test_handler);
	test_handler_calls = 0;
	t0 = udfenv_now();
	assert_int_equal(udfenv_proc_spawn(&p, argv, &opts), 0);
	start_signaller(ready.ptr, SIGTERM);
	assert_int_equal(udfenv_proc_wait(p, &status), 0);
	stop_signaller();
	assert_int_equal(status, 42);
	assert_true(udfenv_now() - t0 < 3.0);
	assert_handler(SIGTERM, test_handler);
	assert_true(test_handler_calls >= 1); /* chained: the caller still hears of it */

	assert_int_equal(udfenv_fs_read_file(&grandchild, ready.ptr, 64), 0);
	wait_until_dead((pid_t)atoi(grandchild.ptr));

	set_handler(SIGTERM, SIG_DFL);
	udfenv_buf_dispose(&ready);
	udfenv_buf_dispose(&script);
	udfenv_buf_dispose(&grandchild);
}

static void test_forward_signals(void **state)
{
	(void)state;
	forward_case(0);
}

static void test_forward_signals_with_timeout(void **state)
{
	(void)state;
	forward_case(5);
}

/* A signal we ignore is not forwarded: the child's HUP trap never fires. */
static void test_ignored_signal_not_forwarded(void **state)
{
	udfenv_proc_opts opts = UDFENV_PROC_OPTS_INIT;
	char *argv[] = {"sh", "-c", "trap 'exit 42' HUP; sleep 0.3", NULL};
	udfenv_proc *p;
	int status = -1;
	(void)state;

	set_handler(SIGHUP, SIG_IGN);
	opts.forward_signals = 1;
	assert_int_equal(udfenv_proc_spawn(&p, argv, &opts), 0);
	start_signaller(NULL, SIGHUP);
	assert_int_equal(udfenv_proc_wait(p, &status), 0);
	stop_signaller();
	assert_int_equal(status, 0);
	assert_handler(SIGHUP, SIG_IGN);
	set_handler(SIGHUP, SIG_DFL);
}

static void test_handlers_restored(void **state)
{
	udfenv_proc_opts opts = UDFENV_PROC_OPTS_INIT;
	char *argv[] = {"sh", "-c", "exit 3", NULL};
	int status = -1;
	(void)state;

	set_handler(SIGINT, test_handler);
	set_handler(SIGQUIT, test_handler2);
	set_handler(SIGHUP, SIG_IGN);
	set_handler(SIGTERM, SIG_DFL);
	opts.forward_signals = 1;
	assert_int_equal(udfenv_proc_run(argv, &opts, &status), 0);
	assert_int_equal(status, 3);
	assert_handler(SIGINT, test_handler);
	assert_handler(SIGQUIT, test_handler2);
	assert_handler(SIGHUP, SIG_IGN);
	assert_handler(SIGTERM, SIG_DFL);
	set_handler(SIGINT, SIG_DFL);
	set_handler(SIGQUIT, SIG_DFL);
	set_handler(SIGHUP, SIG_DFL);
}

/* The child does not inherit our ignored signals or our blocked mask. */
static void test_signals_reset_in_child(void **state)
{
	char *argv[] = {"sh", "-c", "kill -TERM $$; exit 0", NULL};
	sigset_t usr, old;
	int status = -1;
	(void)state;

	set_handler(SIGTERM, SIG_IGN);
	sigemptyset(&usr);
	sigaddset(&usr, SIGTERM);
	sigprocmask(SIG_BLOCK, &usr, &old);
	assert_int_equal(udfenv_proc_run(argv, NULL, &status), 0);
	sigprocmask(SIG_SETMASK, &old, NULL);
	set_handler(SIGTERM, SIG_DFL);
	assert_int_equal(status, 128 + SIGTERM);
}

static void test_timeout(void **state)
{
	udfenv_proc_opts opts = UDFENV_PROC_OPTS_INIT;
	char *argv[] = {"sh", "-c", "sleep 10; exit 0", NULL};
	udfenv_proc *p;
	int status = -1;
	double t0 = udfenv_now();
	pid_t pid;
	(void)state;

	opts.timeout = 0.2;
	assert_int_equal(udfenv_proc_spawn(&p, argv, &opts), 0);
	pid = udfenv_proc_pid(p);
	assert_int_equal(udfenv_proc_wait(p, &status), UDFENV_ELIMIT);
	assert_string_equal(udfenv_error_last()->message, "'sh' timed out after 0.2 s");
	assert_int_equal(status, 128 + SIGTERM);
	assert_true(udfenv_now() - t0 < 1.5);
	assert_reaped(pid);
}

/* Capture: stdout (and stderr when asked) up to the cap; a child that hangs is ended by the timeout. */
static void test_capture(void **state)
{
	char *both[] = {"sh", "-c", "echo out; echo err >&2; exit 3", NULL};
	char *hang[] = {"sh", "-c", "echo partial; exec sleep 10", NULL};
	udfenv_proc_opts opts = UDFENV_PROC_OPTS_INIT;
	udfenv_buf out = UDFENV_BUF_INIT;
	int status = -1;
	double t0;
	(void)state;

	assert_int_equal(udfenv_proc_capture(both, NULL, 0, &out, 1024, &status), 0);
	assert_int_equal(status, 3);
	assert_string_equal(udfenv_buf_cstr(&out), "out\n");
	udfenv_buf_clear(&out);
	assert_int_equal(udfenv_proc_capture(both, NULL, 1, &out, 1024, &status), 0);
	assert_string_equal(udfenv_buf_cstr(&out), "out\nerr\n");
	udfenv_buf_clear(&out);
	assert_int_equal(udfenv_proc_capture(both, NULL, 1, &out, 2, &status), 0);
	assert_string_equal(udfenv_buf_cstr(&out), "ou");
	udfenv_buf_clear(&out);
	opts.timeout = 0.2;
	t0 = udfenv_now();
	assert_int_equal(udfenv_proc_capture(hang, &opts, 0, &out, 1024, &status), UDFENV_ELIMIT);
	assert_true(udfenv_now() - t0 < 1.5);
	udfenv_buf_dispose(&out);
}

/* A group that ignores SIGTERM gets SIGKILL after the grace period, grandchildren too. */
static void test_timeout_escalates_to_sigkill(void **state)
{
	udfenv_buf ready = UDFENV_BUF_INIT, script = UDFENV_BUF_INIT, grandchild = UDFENV_BUF_INIT;
	udfenv_proc_opts opts = UDFENV_PROC_OPTS_INIT;
	char *argv[] = {"sh", "-c", NULL, NULL};
	udfenv_proc *p;
	int status = -1;
	double t0 = udfenv_now(), elapsed;
	pid_t pid;
	(void)state;

	/* The ignored SIGTERM is inherited by the background sleep. */
	in_tmp(&ready, "ready-sigkill");
	assert_int_equal(udfenv_buf_printf(&script,
					   "trap '' TERM; sleep 10 & echo $! > '%s'; wait",
					   ready.ptr),
			 0);
	argv[2] = script.ptr;
	opts.timeout = 0.2;
	assert_int_equal(udfenv_proc_spawn(&p, argv, &opts), 0);
	pid = udfenv_proc_pid(p);
	assert_int_equal(udfenv_proc_wait(p, &status), UDFENV_ELIMIT);
	elapsed = udfenv_now() - t0;
	assert_int_equal(status, 128 + SIGKILL);
	assert_true(elapsed >= 2.2 && elapsed < 4.0);
	assert_reaped(pid);
	assert_int_equal(udfenv_fs_read_file(&grandchild, ready.ptr, 64), 0);
	wait_until_dead((pid_t)atoi(grandchild.ptr));
	udfenv_buf_dispose(&ready);
	udfenv_buf_dispose(&script);
	udfenv_buf_dispose(&grandchild);
}

static void test_kill(void **state)
{
	char *argv[] = {"sh", "-c", "sleep 10; exit 0", NULL};
	udfenv_proc *p;
	pid_t pid;
	(void)state;

	assert_int_equal(udfenv_proc_spawn(&p, argv, NULL), 0);
	pid = udfenv_proc_pid(p);
	assert_int_equal(getpgid(pid), pid);
	udfenv_proc_kill(p);
	assert_reaped(pid);
	udfenv_proc_kill(NULL);
}

static void test_die_with_us_keeps_status_and_errors(void **state)
{
	udfenv_proc_opts opts = UDFENV_PROC_OPTS_INIT;
	char *exit7[] = {"sh", "-c", "exit 7", NULL};
	char *killed[] = {"sh", "-c", "kill -9 $$", NULL};
	char *missing[] = {"/nonexistent/program", NULL};
	udfenv_proc *p;
	int status = -1;
	pid_t pid;
	(void)state;

	opts.die_with_us = UDFENV_PROC_DIE_GROUP;
	assert_int_equal(udfenv_proc_run(exit7, &opts, &status), 0);
	assert_int_equal(status, 7);
	assert_int_equal(udfenv_proc_run(killed, &opts, &status), 0);
	assert_int_equal(status, 128 + SIGKILL);
	assert_int_equal(udfenv_proc_run(missing, &opts, &status), UDFENV_ENOTFOUND);
	tu_assert_message_contains("cannot run '/nonexistent/program'");

	/* The reaper leads the group; killing the group takes the program too. */
	assert_int_equal(udfenv_proc_spawn(&p, exit7, &opts), 0);
	pid = udfenv_proc_pid(p);
	assert_int_equal(getpgid(pid), pid);
	assert_int_equal(udfenv_proc_wait(p, &status), 0);
	assert_reaped(pid);
}

/*
 * A spawner that SIGKILLs itself while its program runs, with its background
 * child if `background`; returns the pid of that child, else of the program,
 * read from the file the program wrote.
 */
static pid_t spawner_killed(int die_with_us, int background, const char *pid_path)
{
	pid_t spawner = fork();
	int wstatus;
	udfenv_buf got = UDFENV_BUF_INIT;
	pid_t child;

	assert_true(spawner >= 0);
	if (spawner == 0) {
		udfenv_proc_opts opts = UDFENV_PROC_OPTS_INIT;
		char script[PATH_MAX + 64];
		char *argv[] = {"sh", "-c", script, NULL};
		udfenv_proc *p;
		int i;

		snprintf(script, sizeof(script), "%s > '%s.tmp'; mv '%s.tmp' '%s'; %s",
			 background ? "sleep 30 & echo $!" : "echo $$", pid_path, pid_path, pid_path,
			 background ? "wait" : "exec sleep 30");
		opts.die_with_us = die_with_us;
		if (udfenv_proc_spawn(&p, argv, &opts) < 0)
			_exit(1);
		for (i = 0; i < 500 && access(pid_path, F_OK) < 0; i++)
			usleep(10000);
		kill(getpid(), SIGKILL);
		_exit(2);
	}
	assert_int_equal(waitpid(spawner, &wstatus, 0), spawner);
	assert_true(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL);
	assert_int_equal(udfenv_fs_read_file(&got, pid_path, 64), 0);
	child = (pid_t)atoi(got.ptr);
	udfenv_buf_dispose(&got);
	assert_true(child > 0);
	return child;
}

/*
 * SIGKILL of the spawner: the program (or, if `background`, its background
 * child) outlives it without die_with_us, the control, and dies with it
 * with `mode`.
 */
static void check_dies_with_spawner(int mode, int background)
{
	udfenv_buf path = UDFENV_BUF_INIT;
	char name[64];
	pid_t pid;
	int i;

	snprintf(name, sizeof(name), "outliving-%d-%d", mode, background);
	pid = spawner_killed(UDFENV_PROC_DIE_NONE, background, in_tmp(&path, name));
	for (i = 0; i < 20; i++)
		usleep(10000);
	assert_false(is_dead(pid)); /* the control: an orphan survives */
	kill(pid, SIGKILL);
	wait_until_dead(pid);

	snprintf(name, sizeof(name), "dying-%d-%d", mode, background);
	pid = spawner_killed(mode, background, in_tmp(&path, name));
	wait_until_dead(pid);
	udfenv_buf_dispose(&path);
}

/* UDFENV_PROC_DIE_GROUP: the program's whole group, its background child included. */
static void test_die_with_us_group_dies_with_spawner(void **state)
{
	(void)state;
	check_dies_with_spawner(UDFENV_PROC_DIE_GROUP, 1);
}

/* UDFENV_PROC_DIE_ALONE: the program itself, no reaper in between. */
static void test_die_alone_program_dies_with_spawner(void **state)
{
	(void)state;
	check_dies_with_spawner(UDFENV_PROC_DIE_ALONE, 0);
}

static void test_die_with_us_out_of_range(void **state)
{
	udfenv_proc_opts opts = UDFENV_PROC_OPTS_INIT;
	char *argv[] = {"true", NULL};
	udfenv_proc *p = NULL;
	(void)state;

	opts.die_with_us = 3;
	assert_int_equal(udfenv_proc_spawn(&p, argv, &opts), UDFENV_EINVALID);
	assert_null(p);
	assert_string_equal(udfenv_error_last()->message, "invalid die_with_us 3 for 'true'");
}

/*
 * In a helper that owns a pseudo-terminal as its controlling terminal (like
 * a shell session), run a child that reads from it. Returns the helper's
 * exit code: 0 ok, 1 run failed, 2 bad status, 3 ELIMIT, 4 terminal not
 * given back.
 */
static int run_on_pty(int foreground, const char *out_path)
{
	int master, wstatus;
	const char *slave;
	pid_t pid;

	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		skip(); /* a container without /dev/ptmx */
	assert_int_equal(grantpt(master), 0);
	assert_int_equal(unlockpt(master), 0);
	assert_non_null(slave = ptsname(master));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		udfenv_proc_opts opts = UDFENV_PROC_OPTS_INIT;
		char script[PATH_MAX + 64];
		char *argv[] = {"sh", "-c", script, NULL};
		int fd, status = -1, error;

		snprintf(script, sizeof(script), "read x; echo \"got:$x\" > '%s'", out_path);
		if (setsid() < 0 || (fd = open(slave, O_RDWR | O_CLOEXEC)) < 0 ||
		    ioctl(fd, TIOCSCTTY, 0) < 0 || dup2(fd, 0) < 0)
			_exit(9);
		opts.foreground = foreground;
		opts.timeout = foreground ? 3 : 0.3;
		error = udfenv_proc_run(argv, &opts, &status);
		if (tcgetpgrp(0) != getpgrp())
			_exit(4);
		_exit(error == UDFENV_ELIMIT ? 3 : error < 0 ? 1 : status != 0 ? 2 : 0);
	}
	assert_int_equal(write(master, "hello\n", 6), 6);
	assert_int_equal(waitpid(pid, &wstatus, 0), pid);
	close(master);
	assert_true(WIFEXITED(wstatus));
	return WEXITSTATUS(wstatus);
}

static void test_foreground_hands_over_terminal(void **state)
{
	udfenv_buf out = UDFENV_BUF_INIT;
	(void)state;

	in_tmp(&out, "pty-out.txt");
	assert_int_equal(run_on_pty(1, out.ptr), 0);
	tu_assert_file_equal(out.ptr, "got:hello\n");
	udfenv_buf_dispose(&out);
}

/* The control: without the hand-over the reader stops on SIGTTIN and times out. */
static void test_background_child_stops_on_terminal_read(void **state)
{
	udfenv_buf out = UDFENV_BUF_INIT;
	double t0;
	(void)state;

	in_tmp(&out, "pty-out-bg.txt");
	t0 = udfenv_now();
	assert_int_equal(run_on_pty(0, out.ptr), 3);
	/* SIGCONT lets the stopped group act on SIGTERM at once, well before SIGKILL. */
	assert_true(udfenv_now() - t0 < 1.5);
	assert_int_equal(access(out.ptr, F_OK), -1);
	udfenv_buf_dispose(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_code),
		cmocka_unit_test(test_killed_by_signal),
		cmocka_unit_test(test_invalid_arguments),
		cmocka_unit_test(test_not_found_in_path),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_not_executable),
		cmocka_unit_test(test_bad_cwd),
		cmocka_unit_test(test_cwd_applied),
		cmocka_unit_test(test_envp_and_its_path),
		cmocka_unit_test(test_stdio_redirected),
		cmocka_unit_test(test_stdio_swapped),
		cmocka_unit_test(test_bad_stdio_fd),
		cmocka_unit_test_teardown(test_forward_signals, teardown_signaller),
		cmocka_unit_test_teardown(test_forward_signals_with_timeout, teardown_signaller),
		cmocka_unit_test_teardown(test_ignored_signal_not_forwarded, teardown_signaller),
		cmocka_unit_test(test_handlers_restored),
		cmocka_unit_test(test_signals_reset_in_child),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_capture),
		cmocka_unit_test(test_timeout_escalates_to_sigkill),
		cmocka_unit_test(test_kill),
		cmocka_unit_test(test_die_with_us_keeps_status_and_errors),
		cmocka_unit_test(test_die_with_us_group_dies_with_spawner),
		cmocka_unit_test(test_die_alone_program_dies_with_spawner),
		cmocka_unit_test(test_die_with_us_out_of_range),
		cmocka_unit_test(test_foreground_hands_over_terminal),
		cmocka_unit_test(test_background_child_stops_on_terminal_read),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
