#include "udfenv/run.h"
#include "util/proc.h"

int udfenv_run_command(const udfenv_env *env, char *const *argv, int *status)
{
	udfenv_proc_opts opts = UDFENV_PROC_OPTS_INIT;

	opts.cwd = udfenv_env_cwd(env);
	opts.envp = udfenv_env_envp(env);
	opts.forward_signals = 1;
	opts.foreground = 1;
	return udfenv_proc_run(argv, &opts, status);
}
