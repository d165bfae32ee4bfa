#include "udfenv/run.h"
#include "util/proc.h"

static int run(const udfenv_env *env, const char *cwd, char *const *envp, char *const *argv, int *status)
{
	udfenv_proc_opts opts = UDFENV_PROC_OPTS_INIT;

	/* The command holds the env's leases too: they outlive us if we die first. */
	if (env)
		opts.keep_fds = udfenv_env_hold_fds(env, &opts.nkeep_fds);
	opts.cwd = cwd;
	opts.envp = envp;
	opts.forward_signals = 1;
	opts.foreground = 1;
	return udfenv_proc_run(argv, &opts, status);
}

int udfenv_run_command(const udfenv_env *env, char *const *argv, int *status)
{
	return run(env, udfenv_env_cwd(env), udfenv_env_envp(env), argv, status);
}

int udfenv_run_program(char *const *argv, char *const *envp, int *status)
{
	return run(NULL, NULL, envp, argv, status);
}
