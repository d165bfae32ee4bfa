/* The udfenv command: shared option handling. Uses only the public API. */
#ifndef UDFENV_CLI_H
#define UDFENV_CLI_H

#include "udfenv/udfenv.h"

/* Exit codes of udfenv's own failures (exec passes the command's through). */
#define CLI_EXIT_USAGE 2
#define CLI_EXIT_FAILED 1

/* Dependency and config flags, shared by every subcommand that takes them. */
typedef struct {
	const char *cmd;         /* the subcommand, for messages */
	udfenv_deps *flags;      /* what the dependency flags declared, in order */
	const char *config_file; /* --config */
	char **defines;          /* -D key=value, in order */
	int ndefines;
	int given;               /* whether any dependency flag (-py...) was seen */
	const char *help;        /* the command's --help text (a format that may show cli_deps_help) */
	int verbosity;           /* -v (1), -vv (2), ... */
	int help_shown;          /* -h/--help was given and printed: exit 0 */
} cli_deps;

/* `help`: the command's --help text, printf'd with cli_deps_help. */
int cli_deps_init(cli_deps *d, const char *cmd, int argc, const char *help);
void cli_deps_dispose(cli_deps *d);

/*
 * If argv[*i] is a dependency or config flag, or one every command takes
 * (-v/--verbose, -vv, -h/--help: prints the help and sets help_shown), consume it and its values
 * (advancing *i to the last one used) and return 1; return 0 if it is not
 * one; -1 for a flag with a bad or missing value (the error is printed).
 */
int cli_deps_parse(cli_deps *d, int argc, char **argv, int *i);

/*
 * The effective config (--config file, then each -D) and the dependency
 * spec: the config's python.* keys, with the flags merged in front
 * (REFERENCE.md section 1). Free both with their _free functions.
 */
int cli_deps_resolve(cli_deps *d, udfenv_config **cfg, udfenv_deps **deps);

/* The temp root: `given` (a --tmp-root flag), else the first io.tmp.dirs entry, else NULL (the library's default). malloc'd. */
char *cli_tmp_root(const char *given, const udfenv_config *cfg);

/* The text of the dependency flags for --help. */
extern const char cli_deps_help[];

/* Print "udfenv: error: <last error>" to stderr. */
void cli_error(void);
/* Print "udfenv: error: <cmd>: <message>" and a pointer to --help; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Send the library's log to stderr: warnings and errors always, info with -v, debug with -vv. */
void cli_log_init(int verbosity);

/* SIGINT, SIGTERM, SIGHUP and SIGQUIT set cli_stop_signal (to the signal) instead of killing us. */
void cli_catch_stop_signals(void);
extern volatile int cli_stop_signal;

/* The environment udfenv was started with: what its children build on (main.c's set_tz). */
char *const *cli_env(void);

/* Whether argv[*i] is `name` (then *value = argv[*i+1]) or `name=VALUE`; advances *i. -1: value missing. */
int cli_option(int argc, char **argv, int *i, const char *name, const char **value);

int cmd_exec(int argc, char **argv);
int cmd_stage(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_cache(int argc, char **argv);
int cmd_task(int argc, char **argv);

#endif
