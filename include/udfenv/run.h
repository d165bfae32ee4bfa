/* Running processes inside a prepared environment. */
#ifndef UDFENV_RUN_H
#define UDFENV_RUN_H

#include "udfenv/common.h"
#include "udfenv/env.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Run argv (NULL-terminated; argv[0] looked up in the environment's PATH,
 * where `python` is the worker interpreter) in `env`: its cwd, its
 * variables, a process group of its own. SIGINT, SIGTERM, SIGHUP and
 * SIGQUIT sent to this process are forwarded to that group; on a terminal
 * the group gets the foreground while it runs. `*status` is the exit code,
 * or 128 + N when signal N ended it. A command that cannot be started is
 * UDFENV_ENOTFOUND (not found) or UDFENV_ERROR (not executable, ...).
 * The command inherits the env's leases (udfenv_env_hold_fds) and its
 * start is counted in the env's report (spawn).
 */
int udfenv_run_command(udfenv_env *env, char *const *argv, int *status);

/*
 * The same outside any prepared environment, in our cwd with `envp`
 * (NULL-terminated "KEY=value"; NULL: ours): how `udfenv run` starts the
 * client program.
 */
int udfenv_run_program(char *const *argv, char *const *envp, int *status);

#ifdef __cplusplus
}
#endif
#endif
