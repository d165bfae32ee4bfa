/*
 * The job manifest (src/lib/manifest.c, udfenv_manifest_load).
 *
 * Input: the bytes of manifest.json. Checked: the error contract; a loaded
 * manifest saved (udfenv_manifest_save) and loaded again is the same
 * manifest, field by field.
 */
#include "fuzz_common.h"

#include "lib/manifest.h"
#include "udfenv/stage.h"
#include "util/error.h"

#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init("manifest");
	return 0;
}

static void same_artifact(const udfenv_artifact *a, const udfenv_artifact *b, const char *what)
{
	FUZZ_CHECK((a == NULL) == (b == NULL), "%s: present once only", what);
	if (a == NULL)
		return;
	FUZZ_CHECK(memcmp(a->digest, b->digest, sizeof(a->digest)) == 0, "%s: digest", what);
	FUZZ_CHECK(a->size == b->size && a->kind == b->kind, "%s: size or kind", what);
	FUZZ_CHECK(fuzz_same_str(a->name, b->name) && fuzz_same_str(a->target, b->target),
		   "%s: name '%s' vs '%s'", what, a->name, b->name);
	FUZZ_CHECK(a->source == NULL && b->source == NULL, "%s: a loaded artifact has a source", what);
}

static void same_manifest(const udfenv_manifest *a, const udfenv_manifest *b)
{
	FUZZ_CHECK(a->nfiles == b->nfiles && a->narchives == b->narchives, "%s", "counts");
	for (size_t i = 0; i < a->nfiles; i++)
		same_artifact(&a->files[i], &b->files[i], "python_files");
	for (size_t i = 0; i < a->narchives; i++)
		same_artifact(&a->archives[i], &b->archives[i], "archives");
	same_artifact(a->requirements, b->requirements, "requirements");
	same_artifact(a->cache_dir, b->cache_dir, "cache_dir");
	FUZZ_CHECK(fuzz_same_str(a->executable, b->executable) &&
			   fuzz_same_str(a->client_executable, b->client_executable) &&
			   fuzz_same_str(a->pythonpath, b->pythonpath),
		   "%s", "python");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_path(0, "manifest.json"), *saved = fuzz_path(1, "saved.json");
	udfenv_manifest *m = NULL, *again = NULL;
	int error;

	fuzz_write_file(path, data, size);
	error = udfenv_manifest_load(&m, path);
	fuzz_check_error(error, "udfenv_manifest_load");
	if (error < 0) {
		FUZZ_CHECK(m == NULL, "%s", "a failed load left a manifest");
		return 0;
	}
	error = udfenv_manifest_save(m, saved);
	FUZZ_CHECK(error == 0, "cannot save a loaded manifest: %s", udfenv_error_last()->message);
	error = udfenv_manifest_load(&again, saved);
	FUZZ_CHECK(error == 0, "a saved manifest does not load: %s", udfenv_error_last()->message);
	same_manifest(m, again);
	udfenv_manifest_free(m);
	udfenv_manifest_free(again);
	return 0;
}
