/* udfenv: ship Python UDF dependencies and run Python workers inside them. */
#include "cli.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

/* The environment we were started with (see set_tz). */
static char **started_env;

static const char usage[] =
	"usage: udfenv <command> [options]\n"
	"\n"
	"Ship the dependencies of Python user-defined functions (python files,\n"
	"requirements, archives, an interpreter) and run Python workers inside them.\n"
	"\n"
	"commands:\n"
	"  run      run a Python job program (-py job.py / -pym module) whose UDF jobs\n"
	"           get these dependencies\n"
	"  exec     prepare a worker environment and run a command in it\n"
	"  stage    hash the dependencies into a store and write a job manifest\n"
	"  cache    list, shrink or clear the node cache of built environments\n"
	"  task     run one task of a job staged by a distributed executor (Slurm)\n"
	"\n"
	"  udfenv <command> --help   the options of a command\n"
	"  udfenv --version          the version\n"
	"\n"
	"docs: docs/cli.md (flags and config keys), docs/jobs.md (the Python API),\n"
	"docs/environment.md (what a worker sees), docs/cache.md (the node cache),\n"
	"docs/archive-safety.md (what archives may hold).\n";

static void log_to_stderr(udfenv_log_level level, const char *line, void *payload)
{
	(void)payload;
	fprintf(stderr, "udfenv: %s%s\n", level == UDFENV_LOG_WARN ? "warning: " : "", line);
}

void cli_log_init(int verbosity)
{
	udfenv_log_level max = verbosity >= 2   ? UDFENV_LOG_DEBUG
			       : verbosity == 1 ? UDFENV_LOG_INFO
						: UDFENV_LOG_WARN;
	udfenv_log_set(log_to_stderr, max, NULL);
}

void cli_error(void)
{
	fprintf(stderr, "udfenv: error: %s\n", udfenv_error_last()->message);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "udfenv: error: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'udfenv %s --help')\n", cmd);
	return CLI_EXIT_USAGE;
}

int cli_option(int argc, char **argv, int *i, const char *name, const char **value)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) != 0)
		return 0;
	if (argv[*i][n] == '=') {
		*value = argv[*i] + n + 1;
		return 1;
	}
	if (argv[*i][n] != '\0')
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*value = argv[++*i];
	return 1;
}

volatile int cli_stop_signal;

static void on_stop_signal(int sig)
{
	cli_stop_signal = sig;
}

void cli_catch_stop_signals(void)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

char *const *cli_env(void)
{
	return started_env ? started_env : environ;
}

/*
 * Zip member times are local times, and libarchive converts each with
 * mktime: with TZ unset, glibc stats /etc/localtime on every call (3 per
 * member, 37k in a 6,000-file install). Naming the same zone makes it read
 * the file once. Set before any thread starts; children get the environment
 * as it was (cli_env), so user code sees no TZ it was not given.
 */
static void set_tz(void)
{
	size_t n = 0;

	if (getenv("TZ") != NULL)
		return;
	while (environ[n])
		n++;
	if ((started_env = calloc(n + 1, sizeof(*started_env))) == NULL)
		return;
	memcpy(started_env, environ, n * sizeof(*started_env));
	if (setenv("TZ", ":/etc/localtime", 1) < 0) {
		free(started_env);
		started_env = NULL;
	}
}

int main(int argc, char **argv)
{
	cli_log_init(0);
	set_tz();
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_EXIT_USAGE : 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("udfenv %s\n", udfenv_version());
		return 0;
	}
	if (strcmp(argv[1], "exec") == 0)
		return cmd_exec(argc - 1, argv + 1);
	if (strcmp(argv[1], "stage") == 0)
		return cmd_stage(argc - 1, argv + 1);
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(argv[1], "cache") == 0)
		return cmd_cache(argc - 1, argv + 1);
	if (strcmp(argv[1], "task") == 0)
		return cmd_task(argc - 1, argv + 1);
	fprintf(stderr, "udfenv: '%s' is not a command\n\n%s", argv[1], usage);
	return CLI_EXIT_USAGE;
}
