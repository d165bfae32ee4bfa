/* udfenv task: run one task of a job staged by a distributed executor. */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
	"usage: udfenv task --job DIR [--index I --count N] [-v|-vv]\n"
	"\n"
	"Run task I of the N tasks of the job staged in DIR by a distributed executor\n"
	"(the slurm executor runs one per Slurm task): prepare the job's environment in\n"
	"this node's cache, process the task's share of the input, write its rows and\n"
	"its status into DIR. The contract, for running tasks from other engines, is\n"
	"docs/integration.md.\n"
	"\n"
	"options:\n"
	"  --job DIR     the job directory (holds job.json)\n"
	"  --index I     this task's index, 0 to N-1 (default: $SLURM_PROCID)\n"
	"  --count N     the number of tasks (default: $SLURM_NTASKS)\n"
	"  -v, -vv       log setup steps (-vv: and details) to stderr\n"
	"  -h, --help    this text\n"
	"\n"
	"exit status: 0 when the task succeeded, 1 when it failed (its status file says\n"
	"why), 2 for a usage error, 128+N when stopped by signal N.\n";

/* A task index or count from a flag or the environment: a whole number below 2^31. */
static int parse_count(const char *what, const char *v, unsigned *out)
{
	unsigned long n;
	char *end;

	if (v == NULL)
		return cli_usage_error("task", "%s: not given, and not set by Slurm", what);
	errno = 0;
	n = strtoul(v, &end, 10);
	if (v[0] < '0' || v[0] > '9' || *end != '\0' || errno != 0 || n > 0x7fffffff)
		return cli_usage_error("task", "%s: expected a whole number, got '%.64s'", what, v);
	*out = (unsigned)n;
	return 0;
}

int cmd_task(int argc, char **argv)
{
	const char *dir = NULL, *index_s = getenv("SLURM_PROCID"), *count_s = getenv("SLURM_NTASKS");
	udfenv_job_opts opts = UDFENV_JOB_OPTS_INIT;
	udfenv_job_report rep;
	unsigned index, count;
	int verbosity = 0, r, error;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(help, stdout);
			return 0;
		}
		if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "-vv") == 0) {
			verbosity += argv[i][2] ? 2 : 1;
			continue;
		}
		if ((r = cli_option(argc, argv, &i, "--job", &dir)) == 0 &&
		    (r = cli_option(argc, argv, &i, "--index", &index_s)) == 0 &&
		    (r = cli_option(argc, argv, &i, "--count", &count_s)) == 0)
			return cli_usage_error("task", "unknown argument '%s'", argv[i]);
		if (r < 0)
			return cli_usage_error("task", "%s needs a value", argv[i]);
	}
	if (dir == NULL)
		return cli_usage_error("task", "--job DIR is required");
	if ((r = parse_count("--index", index_s, &index)) != 0 || (r = parse_count("--count", count_s, &count)) != 0)
		return r;
	if (count == 0 || index >= count)
		return cli_usage_error("task", "task index %u of %u tasks: expected 0 to %u", index, count,
				       count ? count - 1 : 0);
	cli_log_init(verbosity);
	cli_catch_stop_signals();
	opts.cancel = &cli_stop_signal;
	opts.env.base_env = cli_env();
	error = udfenv_job_task(&rep, dir, index, count, &opts);
	if (error < 0) {
		fprintf(stderr, "udfenv: error: task %u: %s\n", index, udfenv_error_last()->message);
		if (rep.detail)
			fprintf(stderr, "%s\n", rep.detail);
	}
	udfenv_job_report_dispose(&rep);
	if (cli_stop_signal)
		return 128 + cli_stop_signal;
	return error < 0 ? CLI_EXIT_FAILED : 0;
}
