/*
 * udfenv run (the seed's PythonDriver): run a job program with the client
 * interpreter; the program's TableEnvironment picks up our dependency flags
 * and config through $UDFENV_RUN_CONFIG.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char help[] =
	"usage: udfenv run [dependency flags] [options] (-py JOB.py | -pym MODULE) [JOB ARGS...]\n"
	"\n"
	"Run a Python job program with the client interpreter. The program's\n"
	"TableEnvironment.create() starts from these dependencies and config keys;\n"
	"what the program declares itself is merged on top (add_python_file puts its\n"
	"file first, set_python_requirements and set_python_executable replace,\n"
	"add_python_archive appends). Shipped python files are also on the client's\n"
	"PYTHONPATH, so the program can import the UDF modules it ships.\n"
	"\n"
	"options:\n"
	"  -py, --python FILE       the job program, a .py file\n"
	"  -pym, --pyModule MODULE  the job program, a module (ship it with -pyfs)\n"
	"  --target local|slurm     where jobs run: this machine (default), or a Slurm\n"
	"                           cluster (execution.target; docs/slurm.md)\n"
	"  -v, --verbose            setup timings and worker command lines (-vv: more)\n"
	"  -h, --help               this text\n"
	"\n"
	"Options end at '--', at the first argument that is not an option, or, once\n"
	"-py/-pym was given, at the first option udfenv does not know: the rest goes\n"
	"to the job program (`udfenv run -py wc.py --input in.csv`).\n"
	"\n"
	"%s"
	"\n"
	"client interpreter: -pyclientexec, else python.client.executable, else\n"
	"$PYFLINK_CLIENT_EXECUTABLE, else python3 from PATH.\n"
	"exit status: the program's own; 128+N if signal N ended it; 2 for a bad flag;\n"
	"1 if the program could not be started.\n";

typedef struct {
	cli_deps deps;
	const char *script;  /* -py */
	const char *module;  /* -pym */
	const char *target;  /* --target */
	char **job_args;
} run_args;

static int parse(run_args *a, int argc, char **argv)
{
	int i, r;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if ((r = cli_deps_parse(&a->deps, argc, argv, &i)) < 0)
			return CLI_EXIT_USAGE;
		if (r > 0) {
			if (a->deps.help_shown)
				return -1;
			continue;
		}
		if ((r = cli_option(argc, argv, &i, "-py", &a->script)) != 0 ||
			   (r = cli_option(argc, argv, &i, "--python", &a->script)) != 0 ||
			   (r = cli_option(argc, argv, &i, "-pym", &a->module)) != 0 ||
			   (r = cli_option(argc, argv, &i, "--pyModule", &a->module)) != 0 ||
			   (r = cli_option(argc, argv, &i, "--target", &a->target)) != 0) {
			if (r < 0)
				return cli_usage_error("run", "%s needs a value", argv[i]);
		} else if (argv[i][0] == '-' && !a->script && !a->module) {
			return cli_usage_error("run", "unknown option '%s' (the job's own options go after "
					       "-py/-pym)", argv[i]);
		} else {
			break;
		}
	}
	a->job_args = argv + i;
	if (a->target && strcmp(a->target, "local") != 0 && strcmp(a->target, "slurm") != 0)
		return cli_usage_error("run", "--target '%s': expected local or slurm", a->target);
	if ((a->script == NULL) == (a->module == NULL))
		return cli_usage_error("run", "give the job program with exactly one of -py FILE and -pym MODULE");
	if (a->script) {
		size_t n = strlen(a->script);
		if (n < 4 || strcmp(a->script + n - 3, ".py") != 0)
			return cli_usage_error("run", "-py takes a .py file, not '%s' (use -pym for a module)",
					       a->script);
	}
	return 0;
}

/* This binary's path into `exe` (PATH_MAX bytes); 0 if it cannot be read whole. */
static int self_exe(char *exe)
{
	ssize_t n = readlink("/proc/self/exe", exe, PATH_MAX);

	if (n <= 0 || n >= PATH_MAX)
		return 0;
	exe[n] = '\0';
	return 1;
}

/* Slurm tasks run `udfenv task` with this binary unless udfenv.slurm.command says otherwise. */
static int set_task_command(udfenv_config *cfg)
{
	char exe[PATH_MAX];

	if (udfenv_config_get(cfg, "udfenv.slurm.command") != NULL || !self_exe(exe))
		return 0;
	return udfenv_config_set(cfg, "udfenv.slurm.command", exe);
}

/* Where the udfenv Python package is: build/python beside build/udfenv. */
static char *package_dir(void)
{
	char exe[PATH_MAX], init[PATH_MAX + 32], *slash;
	struct stat st;

	if (!self_exe(exe) || (slash = strrchr(exe, '/')) == NULL)
		return NULL;
	*slash = '\0';
	snprintf(init, sizeof(init), "%s/python/udfenv/__init__.py", exe);
	if (stat(init, &st) != 0)
		return NULL;
	init[strlen(exe) + strlen("/python")] = '\0';
	return strdup(init);
}

/* The client's PYTHONPATH: the udfenv package, what the spec ships (as the library says), the inherited one. */
static char *client_pythonpath(const char *pkg, const udfenv_deps *deps)
{
	const char *inherited = getenv("PYTHONPATH");
	char *shipped = NULL, *out = NULL;

	if (udfenv_stage_client_pythonpath(&shipped, deps) < 0) {
		cli_error();
		return NULL;
	}
	if (asprintf(&out, "%s%s%s%s%s", pkg, *shipped ? ":" : "", shipped, inherited && *inherited ? ":" : "",
		     inherited && *inherited ? inherited : "") < 0)
		out = NULL;
	free(shipped);
	return out;
}

/* Write the effective config as {"config": {...}} to a new temp file; its path in *path. Errors printed. */
static int write_config(const udfenv_config *cfg, const char *root, char **path)
{
	json_t *obj = json_object(), *entries = json_object(), *v;
	const char *key, *value, *dir;
	char *text = NULL;
	int fd = -1, error = -1;

	*path = NULL;
	if (udfenv_env_tmp_root(root, &dir) < 0) {
		cli_error();
		goto done;
	}
	for (size_t i = 0; obj && entries && udfenv_config_entry(cfg, i, &key, &value); i++) {
		if ((v = json_string(value)) == NULL) {
			fprintf(stderr, "udfenv: error: config key '%s': the value is not valid UTF-8\n", key);
			goto done;
		}
		if (json_object_set_new(entries, key, v) < 0)
			goto oom;
	}
	if (obj == NULL || entries == NULL || json_object_set(obj, "config", entries) < 0 ||
	    (text = json_dumps(obj, JSON_INDENT(1))) == NULL || asprintf(path, "%s/udfenv-run-XXXXXX", dir) < 0) {
		*path = NULL;
		goto oom;
	}
	if ((fd = mkostemp(*path, O_CLOEXEC)) < 0) {
		fprintf(stderr, "udfenv: error: cannot create a file in the temp dir '%s': %s\n", dir,
			strerror(errno));
		free(*path);
		*path = NULL;
		goto done;
	}
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		fprintf(stderr, "udfenv: error: cannot write '%s': %s\n", *path, strerror(errno));
		goto done;
	}
	error = 0;
	goto done;
oom:
	fprintf(stderr, "udfenv: error: out of memory\n");
done:
	if (fd >= 0)
		close(fd);
	if (error < 0 && *path) {
		unlink(*path);
		free(*path);
		*path = NULL;
	}
	free(text);
	json_decref(entries);
	json_decref(obj);
	return error;
}

/* The variables we set for the client program (and how many of them). */
static const char *const set_vars[] = {"PYTHONPATH=", "UDFENV_RUN_PYTHONPATH=", "UDFENV_RUN_CONFIG=",
				       "UDFENV_VERBOSE="};
#define NSET (sizeof(set_vars) / sizeof(set_vars[0]))

static int is_set_var(const char *entry)
{
	for (size_t i = 0; i < NSET; i++)
		if (strncmp(entry, set_vars[i], strlen(set_vars[i])) == 0)
			return 1;
	return 0;
}

/*
 * Our environment with those replaced. UDFENV_RUN_PYTHONPATH keeps the
 * PYTHONPATH we were given: the job's workers get that one, not the
 * client's (the client's holds the shipped files' original dirs, which
 * workers must not see).
 */
static char **client_env(const char *pythonpath, const char *config, int verbosity)
{
	const char *inherited = getenv("PYTHONPATH");
	char *const *base = cli_env();
	char level[16], *mine[NSET] = {NULL, NULL, NULL, NULL}, **env = NULL;
	const char *values[NSET] = {pythonpath, inherited ? inherited : "", config, level};
	size_t n = 0, k = 0, made;

	snprintf(level, sizeof(level), "%d", verbosity);
	for (made = 0; made < NSET; made++)
		if (asprintf(&mine[made], "%s%s", set_vars[made], values[made]) < 0)
			break;
	while (base[n])
		n++;
	if (made < NSET || (env = calloc(n + NSET + 1, sizeof(*env))) == NULL) {
		for (size_t i = 0; i < made; i++)
			free(mine[i]);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (!is_set_var(base[i]))
			env[k++] = base[i];
	/* Ours go last, so free_client_env knows which to free. */
	memcpy(env + k, mine, sizeof(mine));
	return env;
}

static void free_client_env(char **env)
{
	size_t n = 0;

	if (env == NULL)
		return;
	while (env[n])
		n++;
	for (size_t i = n - NSET; i < n; i++)
		free(env[i]);
	free(env);
}

int cmd_run(int argc, char **argv)
{
	run_args a;
	udfenv_config *cfg = NULL;
	udfenv_deps *deps = NULL;
	char *pkg = NULL, *pythonpath = NULL, *config_path = NULL, *root = NULL, **env = NULL, **cargv = NULL;
	const char *client;
	size_t nargs = 0, k = 0;
	int status = CLI_EXIT_FAILED, r;
	struct stat st;

	memset(&a, 0, sizeof(a));
	if (cli_deps_init(&a.deps, "run", argc, help) < 0)
		return CLI_EXIT_FAILED;
	if ((r = parse(&a, argc, argv)) != 0) {
		status = r < 0 ? 0 : r;
		goto done;
	}
	cli_log_init(a.deps.verbosity);
	if (a.script && stat(a.script, &st) != 0) {
		fprintf(stderr, "udfenv: error: job program '%s': %s\n", a.script, strerror(errno));
		goto done;
	}
	if (cli_deps_resolve(&a.deps, &cfg, &deps) < 0 || udfenv_deps_to_config(deps, cfg) < 0 ||
	    (a.target && udfenv_config_set(cfg, "execution.target", a.target) < 0) ||
	    set_task_command(cfg) < 0) {
		cli_error();
		goto done;
	}
	if ((pkg = package_dir()) == NULL) {
		fprintf(stderr, "udfenv: error: the udfenv Python package is not beside this binary "
				"(expected <dir of udfenv>/python/udfenv): rebuild with scripts/bootstrap\n");
		goto done;
	}
	client = udfenv_deps_client_executable(deps);
	if (client == NULL)
		client = getenv("PYFLINK_CLIENT_EXECUTABLE");
	if (client == NULL || *client == '\0')
		client = "python3";
	root = cli_tmp_root(NULL, cfg);
	if ((pythonpath = client_pythonpath(pkg, deps)) == NULL || write_config(cfg, root, &config_path) < 0 ||
	    (env = client_env(pythonpath, config_path, a.deps.verbosity)) == NULL)
		goto done;

	while (a.job_args[nargs])
		nargs++;
	if ((cargv = calloc(nargs + 4, sizeof(*cargv))) == NULL)
		goto done;
	cargv[k++] = (char *)client;
	if (a.module) {
		cargv[k++] = "-m";
		cargv[k++] = (char *)a.module;
	} else {
		cargv[k++] = (char *)a.script;
	}
	memcpy(cargv + k, a.job_args, nargs * sizeof(*cargv));
	if (a.deps.verbosity)
		fprintf(stderr, "udfenv: client: %s %s (PYTHONPATH=%s)\n", client, a.module ? a.module : a.script,
			pythonpath);
	if (udfenv_run_program(cargv, env, &status) < 0) {
		cli_error();
		fprintf(stderr, "udfenv: the client interpreter comes from -pyclientexec, "
				"python.client.executable or $PYFLINK_CLIENT_EXECUTABLE\n");
		status = CLI_EXIT_FAILED;
	}
done:
	if (config_path)
		unlink(config_path);
	free(config_path);
	free(cargv);
	free_client_env(env);
	free(pythonpath);
	free(pkg);
	free(root);
	udfenv_deps_free(deps);
	udfenv_config_free(cfg);
	cli_deps_dispose(&a.deps);
	return status;
}
