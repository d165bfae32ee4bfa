/* Loading a manifest trusts nothing: each malformed field is refused by name. */
#include <stdint.h>

#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "udfenv/udfenv.h"
#include "lib/manifest.h"

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static udfenv_buf dir = UDFENV_BUF_INIT;
static udfenv_buf path = UDFENV_BUF_INIT; /* dir/manifest.json */

static int setup(void **state)
{
	int error;

	(void)state;
	if ((error = tu_mkdtemp(&dir, "udfenv-test-manifest-")) < 0)
		return error;
	return udfenv_path_join(&path, dir.ptr, "manifest.json");
}

/* Only manifest.json may be left: rmdir fails on anything else. */
static int teardown(void **state)
{
	int error;

	(void)state;
	unlink(path.ptr);
	error = rmdir(dir.ptr);
	udfenv_buf_dispose(&path);
	udfenv_buf_dispose(&dir);
	return error;
}

static int load_text(const char *text, udfenv_manifest **m)
{
	tu_write_file(path.ptr, text, 0644);
	return udfenv_manifest_load(m, path.ptr);
}

#define HEAD "{\"format\": \"udfenv-manifest\", \"version\": 1, "
#define PY "\"python\": {\"executable\": null, \"client_executable\": null, \"pythonpath\": null}"

static void test_valid_roundtrip(void **state)
{
	udfenv_manifest *m = NULL, *m2 = NULL;
	(void)state;
	assert_int_equal(load_text(HEAD "\"python_files\": [{\"digest\": \"" D64 "\", \"size\": 3, "
					"\"kind\": \"file\", \"name\": \"a.py\"}], \"requirements\": null, "
					"\"archives\": [{\"digest\": \"" D64 "\", \"size\": 9, \"kind\": "
					"\"archive\", \"name\": \"v.zip\", \"target\": \"venv\"}], "
					"\"python\": {\"executable\": \"venv/bin/python\"}}",
				   &m),
			 0);
	assert_int_equal(m->nfiles, 1);
	assert_string_equal(m->files[0].name, "a.py");
	assert_int_equal(m->archives[0].size, 9);
	assert_string_equal(m->archives[0].target, "venv");
	assert_string_equal(m->executable, "venv/bin/python");
	assert_int_equal(udfenv_manifest_save(m, path.ptr), 0);
	assert_int_equal(udfenv_manifest_load(&m2, path.ptr), 0);
	assert_string_equal(m2->archives[0].digest, D64);
	assert_string_equal(m2->executable, "venv/bin/python");
	assert_null(m2->requirements);
	udfenv_manifest_free(m);
	udfenv_manifest_free(m2);
}

static void expect_refused(const char *text, const char *words)
{
	udfenv_manifest *m = (udfenv_manifest *)1;
	assert_int_equal(load_text(text, &m), UDFENV_EINVALID);
	assert_null(m);
	tu_assert_message_contains(words);
}

#define FILE_ENTRY(d, extra) "\"python_files\": [{\"digest\": \"" d "\", \"size\": 3, \"kind\": \"file\", \"name\": \"a.py\"" extra "}], "
#define REST "\"requirements\": null, \"archives\": [], " PY "}"

static void test_refused(void **state)
{
	(void)state;
	expect_refused("not json", "not valid JSON");
	expect_refused("{\"format\": \"other\"}", "format");
	expect_refused("{\"format\": \"udfenv-manifest\", \"version\": 2}", "version");
	expect_refused(HEAD FILE_ENTRY("ABC", "") REST, "digest");
	expect_refused(HEAD FILE_ENTRY(D64, ", \"extra\": 1") REST, "python_files[0].extra is not a known field");
	expect_refused(HEAD "\"python_files\": [{\"digest\": \"" D64 "\", \"size\": -1, \"kind\": \"file\", \"name\": \"a\"}], " REST, "size");
	expect_refused(HEAD "\"python_files\": [{\"digest\": \"" D64 "\", \"size\": 1, \"kind\": \"sock\", \"name\": \"a\"}], " REST, "kind");
	expect_refused(HEAD "\"python_files\": [{\"digest\": \"" D64 "\", \"size\": 1, \"kind\": \"file\", \"name\": \"../a\"}], " REST, "plain directory name");
	expect_refused(HEAD "\"python_files\": [{\"digest\": \"" D64 "\", \"size\": 1, \"kind\": \"file\", \"name\": \"..\"}], " REST, "plain directory name");
	expect_refused(HEAD "\"python_files\": [], \"requirements\": null, \"archives\": [{\"digest\": \"" D64 "\", \"size\": 1, \"kind\": \"archive\", \"name\": \"v.zip\", \"target\": \"a/../../x\"}], " PY "}", "plain directory name");
	expect_refused(HEAD "\"python_files\": [], \"requirements\": null, \"archives\": [{\"digest\": \"" D64 "\", \"size\": 1, \"kind\": \"archive\", \"name\": \"v.zip\"}], " PY "}", "target is missing");
	expect_refused(HEAD "\"python_files\": [], \"requirements\": null, \"archives\": [{\"digest\": \"" D64 "\", \"size\": 1, \"kind\": \"file\", \"name\": \"v.zip\", \"target\": \"v\"}], " PY "}", "not of kind 'archive'");
	expect_refused(HEAD "\"python_files\": [], \"python_files\": [], " REST, "not valid JSON"); /* duplicate key */
	expect_refused(HEAD "\"python_files\": [], \"requirements\": null, \"archives\": [{\"digest\": \"" D64 "\", \"size\": 1, \"kind\": \"archive\", \"name\": \"a.zip\", \"target\": \"t\"}, {\"digest\": \"" D64 "\", \"size\": 1, \"kind\": \"archive\", \"name\": \"b.zip\", \"target\": \"t\"}], " PY "}", "archives[1] has the same target");
	expect_refused(HEAD "\"python_files\": [{\"digest\": \"" D64 "\", \"size\": 1, \"kind\": \"file\", \"name\": \"../a\"}], " REST, "python_files[0]: artifact name");
	expect_refused(HEAD "\"python_files\": [], \"requirements\": null, \"archives\": [], \"python\": {\"executable\": \"a\\u0000b\"}}", "NUL");
	/* A dir is a file with its includes (stage.c); an archive is no requirements file. */
	expect_refused(HEAD "\"python_files\": [], \"requirements\": {\"file\": {\"digest\": \"" D64 "\", \"size\": 1, \"kind\": \"archive\", \"name\": \"r.txt\"}}, \"archives\": [], " PY "}", "requirements.file");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_roundtrip),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
