#include "udfenv/run.h"
#include "util/log.h"
#include "util/proc.h"

static int run(udfenv_env *env, const char *cwd, char *const *envp, char *const *argv, int *status)
{
	udfenv_proc_opts opts = UDFENV_PROC_OPTS_INIT;
	udfenv_proc *p;
	double t0 = udfenv_now();
	int error;

	/* The command holds the env's leases too: they outlive us if we die first. */
	if (env)
		opts.keep_fds = udfenv_env_hold_fds(env, &opts.nkeep_fds);
	opts.cwd = cwd;
	opts.envp = envp;
	opts.forward_signals = 1;
	opts.foreground = 1;
	if ((error = udfenv_proc_spawn(&p, argv, &opts)) < 0)
		return error;
	if (env) {
		udfenv_env_note_spawn(env, udfenv_now() - t0);
		udfenv_log(UDFENV_LOG_INFO, "setup: spawn   %8.3f ms", (udfenv_now() - t0) * 1e3);
	}
	return udfenv_proc_wait(p, status);
}

int udfenv_run_command(udfenv_env *env, char *const *argv, int *status)
{
	return run(env, udfenv_env_cwd(env), udfenv_env_envp(env), argv, status);
}

int udfenv_run_program(char *const *argv, char *const *envp, int *status)
{
	return run(NULL, NULL, envp, argv, status);
}
