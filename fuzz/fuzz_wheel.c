/*
 * The wheel reader (src/lib/wheel.h, udfenv_wheel__read_metadata): a .whl's
 * zip layout, its dist-info dir, WHEEL and METADATA, read in this process;
 * then what the native installer does with the metadata (Requires-Dist
 * through the PEP 508 parser, Requires-Python and Version through PEP 440).
 *
 * Input: the wheel's bytes, named "demo-1.0-py3-none-any.whl"; an input
 * whose first line ends in ".whl" (and has no '/') is named by that line
 * instead, the bytes after it being the wheel. Checked: the error
 * contract; on success Name and Version are set and the dist-info dir is
 * one the file name accepts.
 */
#include "fuzz_common.h"

#include "lib/pep508.h"
#include "lib/wheel_int.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init("wheel");
	return 0;
}

static void use_metadata(const udfenv_wheel_metadata *m, const char *label)
{
	udfenv_wheelname wn = UDFENV_WHEELNAME_INIT;
	udfenv_pep440_version v = UDFENV_VERSION_INIT;
	udfenv_specset *s = NULL;
	size_t n;
	int error;

	FUZZ_CHECK(m->name && m->name[0] && m->version && m->version[0], "%s", "no Name or Version");
	n = m->dist_info ? strlen(m->dist_info) : 0;
	FUZZ_CHECK(n > 10 && strcmp(m->dist_info + n - 10, ".dist-info") == 0, "dist-info '%s'", m->dist_info);
	FUZZ_CHECK(udfenv_wheel__parse_filename(&wn, label) == 0, "the label '%s' does not parse", label);
	error = udfenv_wheel__check_dist_info(&wn, m->dist_info, label);
	FUZZ_CHECK(error == 0, "'%s' read with dist-info '%s' it refuses: %s", label, m->dist_info,
		   udfenv_error_last()->message);
	udfenv_wheelname_dispose(&wn);

	error = udfenv_version_try_parse(&v, m->version);
	FUZZ_CHECK(error == 0 || error == UDFENV_EINVALID, "try_parse %d", error);
	udfenv_version_dispose(&v);
	if (m->requires_python) {
		error = udfenv_specset_parse(&s, m->requires_python);
		fuzz_check_error(error, "udfenv_specset_parse");
		udfenv_specset_free(s);
	}
	for (size_t i = 0; i < m->requires_dist.count; i++) {
		udfenv_requirement r = UDFENV_REQUIREMENT_INIT;
		error = udfenv_requirement_parse(&r, m->requires_dist.items[i]);
		fuzz_check_error(error, "udfenv_requirement_parse");
		udfenv_requirement_dispose(&r);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_path(0, "input.bin");
	udfenv_wheel_metadata m = UDFENV_WHEEL_METADATA_INIT;
	char *label = fuzz_wheel_label(&data, &size);
	int error;

	fuzz_write_file(path, data, size);
	error = udfenv_wheel__read_metadata(&m, path, label);
	fuzz_check_error(error, "udfenv_wheel__read_metadata");
	if (error == 0)
		use_metadata(&m, label);
	else
		FUZZ_CHECK(m.name == NULL && m.dist_info == NULL && m.requires_dist.count == 0, "%s",
			   "a failed read left metadata");
	udfenv_wheel_metadata_dispose(&m);
	free(label);
	return 0;
}
