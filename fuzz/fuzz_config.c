/*
 * Configuration and the CLI's dependency flags: udfenv_config_load,
 * udfenv_config_define (include/udfenv/config.h), cli_deps_parse and
 * cli_deps_resolve (src/cli/deps_flags.c), udfenv_deps_from_config and
 * udfenv_deps_to_config, and the job's config numbers.
 *
 * Input: NUL-separated parts: the config file's text, then the arguments
 * of a command (at most 62), parsed as a subcommand parses them; the config
 * file read is always the input's (a --config value names no real file).
 * The CLI's prints (help, usage errors) go to /dev/null. Checked: the error
 * contract; every config entry reads back; the dependency spec written to
 * a config by udfenv_deps_to_config and read back is the same spec.
 */
#include "fuzz_common.h"

#include "cli.h"
#include "lib/job_int.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>

#define MAX_PARTS 64

static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init("config");
	devnull = fopen("/dev/null", "w");
	FUZZ_CHECK(devnull != NULL, "%s", "cannot open /dev/null");
	return 0;
}

/* `deps` through udfenv_deps_to_config and back. */
static void round_trip(const udfenv_deps *deps)
{
	udfenv_config *cfg = NULL;
	udfenv_deps *back = NULL;
	const char *c1, *c2, *t1, *t2;
	int error;

	FUZZ_CHECK(udfenv_config_new(&cfg) == 0 && udfenv_deps_new(&back) == 0, "%s", "out of memory");
	error = udfenv_deps_to_config(deps, cfg);
	FUZZ_CHECK(error == 0, "udfenv_deps_to_config: %s", udfenv_error_last()->message);
	error = udfenv_deps_from_config(back, cfg);
	FUZZ_CHECK(error == 0, "the written config does not read back: %s", udfenv_error_last()->message);
	FUZZ_CHECK(udfenv_deps_file_count(back) == udfenv_deps_file_count(deps), "%zu files, then %zu",
		   udfenv_deps_file_count(deps), udfenv_deps_file_count(back));
	for (size_t i = 0; i < udfenv_deps_file_count(deps); i++)
		FUZZ_CHECK(fuzz_same_str(udfenv_deps_file(deps, i), udfenv_deps_file(back, i)), "file '%s', then '%s'",
			   udfenv_deps_file(deps, i), udfenv_deps_file(back, i));
	FUZZ_CHECK(udfenv_deps_archive_count(back) == udfenv_deps_archive_count(deps), "%zu archives, then %zu",
		   udfenv_deps_archive_count(deps), udfenv_deps_archive_count(back));
	for (size_t i = 0; i < udfenv_deps_archive_count(deps); i++) {
		const char *a1 = udfenv_deps_archive(deps, i, &t1), *a2 = udfenv_deps_archive(back, i, &t2);
		FUZZ_CHECK(fuzz_same_str(a1, a2) && fuzz_same_str(t1, t2), "archive '%s#%s', then '%s#%s'", a1, t1,
			   a2, t2);
	}
	t1 = udfenv_deps_requirements(deps, &c1);
	t2 = udfenv_deps_requirements(back, &c2);
	FUZZ_CHECK(fuzz_same_str(t1, t2) && fuzz_same_str(c1, c2), "requirements '%s#%s', then '%s#%s'", t1, c1,
		   t2, c2);
	FUZZ_CHECK(fuzz_same_str(udfenv_deps_executable(deps), udfenv_deps_executable(back)), "%s", "executable");
	FUZZ_CHECK(fuzz_same_str(udfenv_deps_client_executable(deps), udfenv_deps_client_executable(back)), "%s",
		   "client executable");
	FUZZ_CHECK(fuzz_same_str(udfenv_deps_pythonpath(deps), udfenv_deps_pythonpath(back)), "%s", "pythonpath");
	udfenv_config_free(cfg);
	udfenv_deps_free(back);
}

static void use_config(const udfenv_config *cfg)
{
	const char *key, *value;
	unsigned workers;
	size_t bundle;
	char *root = NULL;
	int error;

	for (size_t i = 0; udfenv_config_entry(cfg, i, &key, &value); i++)
		FUZZ_CHECK(udfenv_config_get(cfg, key) == value, "key '%s'", key);
	FUZZ_CHECK(udfenv_config_tmp_root(cfg, &root) == 0, "%s", "tmp root");
	free(root);
	error = udfenv_job__config(&workers, &bundle, cfg);
	fuzz_check_error(error, "udfenv_job__config");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_path(0, "config.yaml");
	char *parts[MAX_PARTS];
	size_t lens[MAX_PARTS];
	udfenv_config *cfg = NULL;
	udfenv_deps *deps = NULL;
	FILE *out = stdout, *err = stderr;
	cli_deps d;
	int argc, r = 0, error;

	/* argv[0] is the command; the arguments are the parts after the config's. */
	argc = (int)fuzz_split(data, size, '\0', parts, lens, MAX_PARTS);
	fuzz_write_file(path, parts[0], lens[0]);
	free(parts[0]);
	parts[0] = fuzz_strndup((const uint8_t *)"stage", 5);
	FUZZ_CHECK(cli_deps_init(&d, "stage", argc, "%s") == 0, "%s", "out of memory");
	stdout = stderr = devnull;
	for (int i = 1; i < argc && r >= 0; i++)
		r = cli_deps_parse(&d, argc, parts, &i);
	stdout = out;
	stderr = err;
	if (r >= 0) {
		d.config_file = path;
		error = cli_deps_resolve(&d, &cfg, &deps);
		fuzz_check_error(error, "cli_deps_resolve");
		if (error == 0) {
			use_config(cfg);
			round_trip(deps);
		}
	}
	udfenv_config_free(cfg);
	udfenv_deps_free(deps);
	cli_deps_dispose(&d);
	fuzz_parts_free(parts, MAX_PARTS);
	return 0;
}
