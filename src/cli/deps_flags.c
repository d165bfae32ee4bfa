/* The dependency flags (Flink's PythonDriver options) and config flags. */
#include "cli.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

const char cli_deps_help[] =
	"dependency flags (Flink's names; lists are ','-separated, a backslash escapes\n"
	"',' '#' and '\\' in a path):\n"
	"  -pyfs, --pyFiles FILES        python files, directories, .zip/.tar modules,\n"
	"                                .whl/.egg for the worker's PYTHONPATH; each flag's\n"
	"                                list goes in front of earlier ones (the later\n"
	"                                declaration wins a module name clash), a list keeps\n"
	"                                its order                     [python.files]\n"
	"  -pyreq, --pyRequirements REQ[#CACHE_DIR]   or   -pyreq REQ CACHE_DIR\n"
	"                                requirements file, installed offline from CACHE_DIR\n"
	"                                when given: pinned wheels by udfenv itself, the rest\n"
	"                                by the worker's pip (docs/install.md)\n"
	"                                                              [python.requirements]\n"
	"  -pyarch, --pyArchives ARCHIVE[#TARGET],...   or   -pyarch ARCHIVE TARGET\n"
	"                                zip/tar archives extracted to TARGET/ (default: the\n"
	"                                file name) in the worker's cwd  [python.archives]\n"
	"  -pyexec, --pyExecutable PY    worker interpreter: a name in PATH, an absolute path,\n"
	"                                or a path in the archives dir (venv/bin/python);\n"
	"                                default python3               [python.executable]\n"
	"  -pyclientexec, --pyClientExecutable PY\n"
	"                                interpreter of the client program: recorded in the\n"
	"                                manifest, not used by exec  [python.client.executable]\n"
	"  -pypath, --pyPythonPath PATH  put before the python files on PYTHONPATH\n"
	"                                                              [python.pythonpath]\n"
	"  --config FILE                 read 'key: value' lines (the keys in brackets)\n"
	"  -D KEY=VALUE                  set a config key (after --config; last one wins)\n"
	"  Flags win over config keys; flag files and archives go in front of config ones.\n";

enum flag_kind { F_FILES, F_REQ, F_ARCH, F_EXEC, F_CLIENT, F_PATH, F_CONFIG, F_DEFINE };

static const struct {
	const char *names[3];
	enum flag_kind kind;
} flags[] = {
	{{"-pyfs", "--pyFiles", NULL}, F_FILES},
	{{"-pyreq", "--pyRequirements", "--python-requirements"}, F_REQ},
	{{"-pyarch", "--pyArchives", "--python-archive"}, F_ARCH},
	{{"-pyexec", "--pyExecutable", "--python-executable-path"}, F_EXEC},
	{{"-pyclientexec", "--pyClientExecutable", NULL}, F_CLIENT},
	{{"-pypath", "--pyPythonPath", NULL}, F_PATH},
	{{"--config", NULL, NULL}, F_CONFIG},
	{{"-D", NULL, NULL}, F_DEFINE},
};

int cli_deps_init(cli_deps *d, const char *cmd, int argc, const char *help)
{
	memset(d, 0, sizeof(*d));
	d->cmd = cmd;
	d->help = help;
	if ((d->defines = calloc((size_t)argc + 1, sizeof(char *))) == NULL)
		return UDFENV_ENOMEM;
	return udfenv_deps_new(&d->flags);
}

void cli_deps_dispose(cli_deps *d)
{
	udfenv_deps_free(d->flags);
	free(d->defines);
	memset(d, 0, sizeof(*d));
}

/*
 * The seed's two-argument forms (-pyreq FILE CACHE, -pyarch FILE NAME): the
 * next argument is the second value when the first is a single plain item
 * and the next is no flag.
 */
static const char *second_value(int argc, char **argv, int *i, const char *value)
{
	if (*i + 1 >= argc || argv[*i + 1][0] == '-' || strpbrk(value, ",#"))
		return NULL;
	return argv[++*i];
}

static int apply(cli_deps *d, enum flag_kind kind, int argc, char **argv, int *i, const char *v)
{
	const char *second;

	switch (kind) {
	case F_FILES:
		return udfenv_deps_add_python_files(d->flags, v);
	case F_REQ:
		if ((second = second_value(argc, argv, i, v)) != NULL)
			return udfenv_deps_set_requirements(d->flags, v, second);
		return udfenv_deps_set_requirements_item(d->flags, v);
	case F_ARCH:
		if ((second = second_value(argc, argv, i, v)) != NULL)
			return udfenv_deps_add_archive(d->flags, v, second);
		return udfenv_deps_add_archives(d->flags, v);
	case F_EXEC:
		return udfenv_deps_set_executable(d->flags, v);
	case F_CLIENT:
		return udfenv_deps_set_client_executable(d->flags, v);
	case F_PATH:
		return udfenv_deps_set_pythonpath(d->flags, v);
	case F_CONFIG:
		d->config_file = v;
		return 0;
	case F_DEFINE:
		d->defines[d->ndefines++] = (char *)v;
		return 0;
	}
	return 0;
}

int cli_deps_parse(cli_deps *d, int argc, char **argv, int *i)
{
	const char *arg = argv[*i], *value = NULL;

	if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
		/* d->help is one of the commands' static help texts, with one %s for ours. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		printf(d->help, cli_deps_help);
#pragma GCC diagnostic pop
		d->help_shown = 1;
		return 1;
	}
	if (strcmp(arg, "-v") == 0 || strcmp(arg, "--verbose") == 0 || strcmp(arg, "-vv") == 0) {
		d->verbosity += strcmp(arg, "-vv") == 0 ? 2 : 1;
		return 1;
	}

	for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]); f++) {
		for (size_t n = 0; n < 3 && flags[f].names[n]; n++) {
			int found = cli_option(argc, argv, i, flags[f].names[n], &value);
			if (found == 0 && flags[f].kind == F_DEFINE && strncmp(arg, "-D", 2) == 0 &&
			    arg[2] != '\0') {
				value = arg + 2; /* -Dkey=value */
				found = 1;
			}
			if (found == 0)
				continue;
			if (found < 0) {
				cli_usage_error(d->cmd, "%s needs a value", arg);
				return -1;
			}
			d->given |= flags[f].kind != F_CONFIG && flags[f].kind != F_DEFINE;
			if (apply(d, flags[f].kind, argc, argv, i, value) < 0) {
				cli_error();
				return -1;
			}
			return 1;
		}
	}
	return 0;
}

int cli_deps_resolve(cli_deps *d, udfenv_config **cfg, udfenv_deps **deps)
{
	int error;

	*cfg = NULL;
	*deps = NULL;
	if ((error = udfenv_config_new(cfg)) < 0 || (error = udfenv_deps_new(deps)) < 0)
		goto done;
	if (d->config_file && (error = udfenv_config_load(*cfg, d->config_file)) < 0)
		goto done;
	for (int k = 0; k < d->ndefines; k++)
		if ((error = udfenv_config_define(*cfg, d->defines[k])) < 0)
			goto done;
	if ((error = udfenv_deps_from_config(*deps, *cfg)) < 0 ||
	    (error = udfenv_deps_merge(*deps, d->flags)) < 0)
		goto done;
done:
	if (error < 0) {
		udfenv_config_free(*cfg);
		udfenv_deps_free(*deps);
		*cfg = NULL;
		*deps = NULL;
	}
	return error;
}

char *cli_tmp_root(const char *given, const udfenv_config *cfg)
{
	char *root = NULL;

	if (given)
		return strdup(given);
	udfenv_config_tmp_root(cfg, &root);
	return root;
}
