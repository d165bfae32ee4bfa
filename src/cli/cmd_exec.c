/* udfenv exec: prepare a worker environment and run a command in it. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* env(1)'s convention: the tool failed / the command can't run / not found. */
#define EXIT_SETUP 125
#define EXIT_CANNOT_RUN 126
#define EXIT_NOT_FOUND 127

static const char help[] =
	"usage: udfenv exec [dependency flags] [options] -- CMD [ARGS...]\n"
	"       udfenv exec --manifest FILE [--store DIR] [options] -- CMD [ARGS...]\n"
	"\n"
	"Prepare a private worker environment (python files on PYTHONPATH, requirements\n"
	"installed, archives extracted, the interpreter resolved), run CMD in it, and\n"
	"remove it again however CMD ends. In CMD, 'python' and 'python3' run the worker\n"
	"interpreter and the cwd is the archives dir (docs/environment.md).\n"
	"\n"
	"options:\n"
	"  --manifest FILE          use a manifest written by 'udfenv stage' instead of\n"
	"                           dependency flags\n"
	"  --store DIR              the manifest's store (default: 'store' beside FILE)\n"
	"  --tmp-root DIR           make the private dir under DIR [io.tmp.dirs]; default\n"
	"                           $UDFENV_TMPDIR, else $TMPDIR, else /tmp\n"
	"  --install-timeout SECS   give up installing requirements after SECS seconds\n"
	"  --cache-dir DIR          the node cache [udfenv.cache.dir]; default\n"
	"                           $UDFENV_CACHE_DIR, else ~/.cache/udfenv\n"
	"  --copy-archives          give the command a private, writable copy of the\n"
	"                           archives instead of links into the cache\n"
	"                           [udfenv.cache.copy-archives]\n"
	"  --report FILE            write the setup report (each phase's time, each cache\n"
	"                           entry hit or built) to FILE as JSON when CMD ends\n"
	"  -v, --verbose            show the setup phases and their times (-vv: more)\n"
	"  -h, --help               this text\n"
	"\n"
	"%s"
	"\n"
	"SIGINT, SIGTERM, SIGHUP and SIGQUIT are forwarded to CMD's process group.\n"
	"exit status: CMD's own; 128+N if signal N ended CMD; 125 if udfenv failed\n"
	"(bad flag, missing file, unsafe archive, failed install); 126 if CMD cannot\n"
	"run; 127 if CMD is not found.\n";

/* A termination signal that came during setup: stop once setup returns. */
typedef struct {
	cli_deps deps;
	const char *manifest;
	const char *store;
	const char *tmp_root;
	const char *cache_dir;
	const char *report;
	int copy_archives;
	double install_timeout;
	char **command;
} exec_args;

/* Parse argv; 0 to go on, else the exit status to return. */
static int parse(exec_args *a, int argc, char **argv)
{
	const char *v;
	char *end;
	int i, r;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			a->command = argv + i + 1;
			break;
		}
		if ((r = cli_deps_parse(&a->deps, argc, argv, &i)) < 0)
			return EXIT_SETUP;
		if (r > 0) {
			if (a->deps.help_shown)
				return -1;
			continue;
		}
		if ((r = cli_option(argc, argv, &i, "--manifest", &a->manifest)) != 0 ||
			   (r = cli_option(argc, argv, &i, "--store", &a->store)) != 0 ||
			   (r = cli_option(argc, argv, &i, "--tmp-root", &a->tmp_root)) != 0 ||
			   (r = cli_option(argc, argv, &i, "--cache-dir", &a->cache_dir)) != 0 ||
			   (r = cli_option(argc, argv, &i, "--report", &a->report)) != 0) {
			if (r < 0)
				return cli_usage_error("exec", "%s needs a value", argv[i]), EXIT_SETUP;
		} else if (strcmp(argv[i], "--copy-archives") == 0) {
			a->copy_archives = 1;
		} else if ((r = cli_option(argc, argv, &i, "--install-timeout", &v)) != 0) {
			if (r < 0 || !((a->install_timeout = strtod(v, &end)) > 0) || *end ||
			    !isfinite(a->install_timeout))
				return cli_usage_error("exec", "--install-timeout needs a number of seconds > 0"),
				       EXIT_SETUP;
		} else {
			cli_usage_error("exec", "unknown option '%s'%s", argv[i],
					argv[i][0] == '-' ? "" : " (put '--' before the command)");
			return EXIT_SETUP;
		}
	}
	if (a->command == NULL || a->command[0] == NULL)
		return cli_usage_error("exec", "no command: give it after '--'"), EXIT_SETUP;
	if (a->manifest && a->deps.given)
		return cli_usage_error("exec", "give dependency flags or --manifest, not both"), EXIT_SETUP;
	if (a->store && !a->manifest)
		return cli_usage_error("exec", "--store goes with --manifest"), EXIT_SETUP;
	return 0;
}

/* Load the manifest and prepare from it (errors printed). */
static int prepare_manifest(const exec_args *a, const udfenv_config *cfg, udfenv_env_opts *opts,
			    udfenv_env **env)
{
	udfenv_manifest *m = NULL;
	char *store = NULL;
	const char *key, *value;
	int error;

	for (size_t i = 0; udfenv_config_entry(cfg, i, &key, &value); i++)
		if (strncmp(key, "python.", 7) == 0) {
			fprintf(stderr, "udfenv: error: config key '%s' cannot be used with --manifest: "
					"the manifest fixes the dependencies\n", key);
			return UDFENV_EINVALID;
		}
	if (a->store == NULL) {
		const char *slash = strrchr(a->manifest, '/');
		if (asprintf(&store, "%.*sstore", slash ? (int)(slash - a->manifest + 1) : 0,
			     a->manifest) < 0)
			return UDFENV_ENOMEM;
	}
	if ((error = udfenv_manifest_load(&m, a->manifest)) == 0)
		error = udfenv_env_prepare(env, m, a->store ? a->store : store, opts);
	udfenv_manifest_free(m);
	free(store);
	return error;
}

/* The setup report as JSON, to `path` (whole or not at all); errors printed. */
static int write_report(const udfenv_env *env, const char *path)
{
	char *json = NULL, *tmp = NULL;
	FILE *f = NULL;
	int ok;

	if (udfenv_env_report_json(env, &json) < 0) {
		cli_error();
		return -1;
	}
	if (asprintf(&tmp, "%s.tmp-%d", path, (int)getpid()) < 0)
		tmp = NULL; /* its contents are undefined then */
	ok = tmp && (f = fopen(tmp, "we")) != NULL && fputs(json, f) >= 0 && fputc('\n', f) != EOF;
	if (f && fclose(f) != 0)
		ok = 0;
	if (ok && rename(tmp, path) < 0)
		ok = 0;
	if (!ok) {
		fprintf(stderr, "udfenv: error: cannot write the report '%s': %s\n", path, strerror(errno));
		if (tmp)
			unlink(tmp);
	}
	free(tmp);
	free(json);
	return ok ? 0 : -1;
}

int cmd_exec(int argc, char **argv)
{
	exec_args a;
	udfenv_config *cfg = NULL;
	udfenv_deps *deps = NULL;
	udfenv_env *env = NULL;
	udfenv_env_opts opts = UDFENV_ENV_OPTS_INIT;
	char *root = NULL;
	int status = EXIT_SETUP, r, error;

	memset(&a, 0, sizeof(a));
	if (cli_deps_init(&a.deps, "exec", argc, help) < 0)
		return EXIT_SETUP;
	if ((r = parse(&a, argc, argv)) != 0) {
		status = r < 0 ? 0 : r;
		goto done;
	}
	cli_log_init(a.deps.verbosity);
	cli_catch_stop_signals();
	if (cli_deps_resolve(&a.deps, &cfg, &deps) < 0) {
		cli_error();
		goto done;
	}
	if (udfenv_env_opts_from_config(&opts, cfg) < 0) {
		cli_error();
		goto done;
	}
	if (a.cache_dir)
		opts.cache_dir = a.cache_dir;
	opts.copy_archives |= a.copy_archives;
	root = cli_tmp_root(a.tmp_root, cfg);
	opts.tmp_root = root;
	opts.base_env = cli_env();
	opts.install_timeout = a.install_timeout;
	opts.cancel = &cli_stop_signal;
	udfenv_error_clear();
	error = a.manifest ? prepare_manifest(&a, cfg, &opts, &env) : udfenv_env_prepare_deps(&env, deps, &opts);
	if (cli_stop_signal) {
		/* The step that failed (if one did) failed because of the signal. */
		fprintf(stderr, "udfenv: stopped by %s during setup; nothing was left behind\n",
			strsignal(cli_stop_signal));
		status = 128 + cli_stop_signal;
		goto done;
	}
	if (error < 0) {
		if (udfenv_error_last()->code == error) /* else printed already */
			cli_error();
		goto done;
	}
	if ((error = udfenv_run_command(env, a.command, &status)) < 0) {
		cli_error();
		if (a.command[0][0] != '/' && strchr(a.command[0], '/'))
			fprintf(stderr, "udfenv: a relative command path is taken from the worker's "
					"cwd, the archives dir: give an absolute path\n");
		status = error == UDFENV_ENOTFOUND ? EXIT_NOT_FOUND : EXIT_CANNOT_RUN;
	}
	if (a.report && write_report(env, a.report) < 0)
		status = status ? status : EXIT_SETUP;
done:
	udfenv_env_free(env);
	udfenv_deps_free(deps);
	udfenv_config_free(cfg);
	cli_deps_dispose(&a.deps);
	free(root);
	return status;
}
