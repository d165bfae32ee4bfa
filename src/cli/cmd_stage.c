/* udfenv stage: hash the dependencies into a store and write a job manifest. */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char help[] =
	"usage: udfenv stage [dependency flags] --out DIR\n"
	"\n"
	"Hash every dependency (SHA-256) into the content-addressed store DIR/store and\n"
	"write the job manifest DIR/manifest.json (docs/manifest.md), which\n"
	"'udfenv exec --manifest DIR/manifest.json' runs from. Directories are packed\n"
	"deterministically: the same tree gives the same digest. Nothing is left\n"
	"half-staged: on failure the blobs this run added are removed, and DIR too if\n"
	"this run created it. Prints the manifest's path.\n"
	"\n"
	"options:\n"
	"  --out DIR        where to write (created if missing, its parent must exist;\n"
	"                   an existing store is shared: blobs are added, never changed)\n"
	"  -v, --verbose    show what is staged (-vv: every artifact)\n"
	"  -h, --help       this text\n"
	"\n"
	"%s"
	"\n"
	"exit status: 0 staged, 1 failed, 2 bad usage.\n";

/*
 * Undo a failed run that created `dir`: udfenv_stage already removed the
 * blobs it added and writes the manifest only on success, so what is left
 * is the empty store and `dir` itself.
 */
static void remove_created(const char *dir, const char *store)
{
	rmdir(store);
	rmdir(dir);
}

int cmd_stage(int argc, char **argv)
{
	cli_deps d;
	udfenv_config *cfg = NULL;
	udfenv_deps *deps = NULL;
	udfenv_manifest *m = NULL;
	const char *out = NULL;
	char *store = NULL, *manifest = NULL;
	int created = 0, status = CLI_EXIT_FAILED, r;
	struct stat st;

	if (cli_deps_init(&d, "stage", argc, help) < 0)
		return CLI_EXIT_FAILED;
	for (int i = 1; i < argc; i++) {
		if ((r = cli_deps_parse(&d, argc, argv, &i)) < 0) {
			status = CLI_EXIT_USAGE;
			goto done;
		}
		if (r > 0) {
			if (d.help_shown) {
				status = 0;
				goto done;
			}
			continue;
		}
		if ((r = cli_option(argc, argv, &i, "--out", &out)) != 0) {
			if (r < 0) {
				status = cli_usage_error("stage", "--out needs a directory");
				goto done;
			}
		} else {
			status = cli_usage_error("stage", "unknown argument '%s'", argv[i]);
			goto done;
		}
	}
	if (out == NULL) {
		status = cli_usage_error("stage", "--out DIR is required");
		goto done;
	}
	cli_log_init(d.verbosity);
	if (cli_deps_resolve(&d, &cfg, &deps) < 0)
		goto fail;
	if (stat(out, &st) < 0) {
		if (errno != ENOENT || mkdir(out, 0755) < 0) {
			fprintf(stderr, "udfenv: error: cannot create the output dir '%s': %s\n", out,
				strerror(errno));
			goto done;
		}
		created = 1;
	}
	if (asprintf(&store, "%s/store", out) < 0 || asprintf(&manifest, "%s/manifest.json", out) < 0)
		goto done;
	if (udfenv_stage(&m, deps, store, manifest) < 0)
		goto fail;
	printf("%s\n", manifest);
	status = 0;
	goto done;
fail:
	cli_error();
	if (created && store)
		remove_created(out, store);
done:
	udfenv_manifest_free(m);
	udfenv_deps_free(deps);
	udfenv_config_free(cfg);
	cli_deps_dispose(&d);
	free(store);
	free(manifest);
	return status;
}
