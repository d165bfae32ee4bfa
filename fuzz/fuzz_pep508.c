/*
 * PEP 508 requirements and markers (src/lib/pep508.h).
 *
 * Input: lines "REQUIREMENT\nMARKER\nVALUE". The requirement and the
 * marker are parsed and their markers evaluated in three environments
 * (every variable "", a CPython 3.11 on Linux, every variable VALUE) for no
 * extra, each of the requirement's extras and VALUE as the extra. Checked:
 * the error contract, a parsed requirement's key is its normalized name,
 * its extras are normalized and distinct, its specifier set formats to text
 * that parses, and evaluation gives 0 or 1.
 */
#include "fuzz_common.h"

#include "lib/pep508.h"
#include "util/error.h"

#include <string.h>

static const udfenv_marker_env linux_env = {
	"posix", "linux", "x86_64", "CPython", "6.1.0", "Linux", "#1 SMP", "3.11", "3.11.4",
	"cpython", "3.11.4",
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init("pep508");
	return 0;
}

static void eval(const udfenv_marker *m, const char *value, const udfenv_strvec *extras)
{
	const udfenv_marker_env every = {value, value, value, value, value, value,
					 value, value, value, value, value};
	const udfenv_marker_env *envs[] = {NULL, &linux_env, &every};

	for (size_t e = 0; e < 3; e++)
		for (size_t x = 0; x < 2 + (extras ? extras->count : 0); x++) {
			const char *extra = x == 0 ? NULL : x == 1 ? value : extras->items[x - 2];
			int result = -1, error = udfenv_marker_eval(m, envs[e], extra, &result);
			fuzz_check_error(error, "udfenv_marker_eval");
			FUZZ_CHECK(error < 0 || result == 0 || result == 1, "result %d", result);
		}
}

static void requirement(const char *text, const char *value)
{
	udfenv_requirement r = UDFENV_REQUIREMENT_INIT;
	udfenv_buf key = UDFENV_BUF_INIT, spec = UDFENV_BUF_INIT;
	udfenv_specset *again = NULL;
	int error = udfenv_requirement_parse(&r, text);

	fuzz_check_error(error, "udfenv_requirement_parse");
	if (error < 0) {
		FUZZ_CHECK(r.name == NULL && r.spec == NULL && r.marker == NULL, "%s",
			   "a failed parse left memory");
		return;
	}
	FUZZ_CHECK(r.spec != NULL, "no specifier set for '%s'", text);
	FUZZ_CHECK(udfenv_pep503_normalize(&key, r.name, strlen(r.name)) == 0 && strcmp(key.ptr, r.key) == 0,
		   "'%s': key '%s'", r.name, r.key);
	for (size_t i = 0; i < r.extras.count; i++) {
		const char *x = r.extras.items[i];
		FUZZ_CHECK(udfenv_pep503_normalize(&key, x, strlen(x)) == 0 && strcmp(key.ptr, x) == 0,
			   "extra '%s' of '%s' is not normalized", x, text);
		for (size_t j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(r.extras.items[j], x) != 0, "extra '%s' twice in '%s'", x, text);
	}
	FUZZ_CHECK(udfenv_specset_format(&spec, r.spec) == 0, "%s", "format");
	error = udfenv_specset_parse(&again, udfenv_buf_cstr(&spec));
	FUZZ_CHECK(error == 0, "the specifiers of '%s' format as '%s', which does not parse: %s", text,
		   udfenv_buf_cstr(&spec), udfenv_error_last()->message);
	if (r.marker)
		eval(r.marker, value, &r.extras);
	udfenv_specset_free(again);
	udfenv_buf_dispose(&key);
	udfenv_buf_dispose(&spec);
	udfenv_requirement_dispose(&r);
	FUZZ_CHECK(r.name == NULL && r.marker == NULL, "%s", "dispose did not reset");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	udfenv_marker *m = NULL;
	char *parts[3];
	int error;

	fuzz_split(data, size, '\n', parts, NULL, 3);
	requirement(parts[0], parts[2]);
	error = udfenv_marker_parse(&m, parts[1]);
	fuzz_check_error(error, "udfenv_marker_parse");
	FUZZ_CHECK(error == 0 || m == NULL, "%s", "a failed parse left a marker");
	if (m)
		eval(m, parts[2], NULL);
	udfenv_marker_free(m);
	fuzz_parts_free(parts, 3);
	return 0;
}
