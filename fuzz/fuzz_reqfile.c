/*
 * pip requirements files (src/lib/reqfile.h), and each requirement line
 * they yield through the PEP 508 parser, as the native installer takes it.
 *
 * Input: up to four files separated by NUL bytes, written as r0.txt ..
 * r3.txt in the scratch dir (a NUL after the fourth stays in r3.txt), so
 * "-r r1.txt" and "-c r2.txt" reach the others; r0.txt is parsed as
 * "requirements.txt". Checked: the error contract, and on success the
 * shape of the result (lines from a file that was read, hashes of the
 * documented form and none for -e, r0.txt read first).
 */
#include "fuzz_common.h"

#include "lib/pep508.h"
#include "lib/reqfile.h"
#include "util/error.h"

#include <stdio.h>
#include <string.h>

#define NFILES 4

static const udfenv_marker_env env = {
	"posix", "linux", "x86_64", "CPython", "6.1.0", "Linux", "#1 SMP", "3.11", "3.11.4",
	"cpython", "3.11.4",
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init("reqfile");
	return 0;
}

static void check_hash(const char *h)
{
	static const struct {
		const char *prefix;
		size_t hex;
	} algs[] = {{"sha256:", 64}, {"sha384:", 96}, {"sha512:", 128}};
	size_t i;

	for (i = 0; i < 3; i++)
		if (strncmp(h, algs[i].prefix, 7) == 0)
			break;
	FUZZ_CHECK(i < 3, "hash '%s' of no known algorithm", h);
	FUZZ_CHECK(strlen(h + 7) == algs[i].hex, "hash '%s' of the wrong length", h);
	for (const char *p = h + 7; *p; p++)
		FUZZ_CHECK(strchr("0123456789abcdefABCDEF", *p) != NULL, "hash '%s' is not hex", h);
}

static void check_line(const udfenv_reqline *l)
{
	udfenv_requirement req = UDFENV_REQUIREMENT_INIT;
	int error, applies;

	FUZZ_CHECK(l->text && l->file && l->line >= 1, "%s", "a line without text, file or number");
	FUZZ_CHECK(!l->editable || l->hashes.count == 0, "-e line '%s' with hashes", l->text);
	for (size_t i = 0; i < l->hashes.count; i++)
		check_hash(l->hashes.items[i]);
	/* What the installer does with it (install_native.c): editables go to pip. */
	if (l->editable)
		return;
	error = udfenv_requirement_parse(&req, l->text);
	fuzz_check_error(error, "udfenv_requirement_parse");
	if (error == 0 && req.marker) {
		error = udfenv_marker_eval(req.marker, &env, NULL, &applies);
		fuzz_check_error(error, "udfenv_marker_eval");
	}
	udfenv_requirement_dispose(&req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	udfenv_reqfile f = UDFENV_REQFILE_INIT;
	char *parts[NFILES], name[16];
	size_t lens[NFILES];
	const char *top = fuzz_path(0, "r0.txt");
	int error;

	fuzz_split(data, size, '\0', parts, lens, NFILES);
	for (int i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "r%d.txt", i);
		fuzz_write_file(fuzz_path(1, name), parts[i], lens[i]);
	}
	error = udfenv_reqfile_parse(&f, top, "requirements.txt");
	fuzz_check_error(error, "udfenv_reqfile_parse");
	if (error == 0) {
		FUZZ_CHECK(f.files.count >= 1 && strcmp(f.files.items[0], top) == 0, "%s",
			   "the top file is not the first read");
		FUZZ_CHECK(f.count <= UDFENV_REQFILE_MAX_LINES, "%zu lines", f.count);
		for (size_t i = 0; i < f.count; i++)
			check_line(&f.lines[i]);
	} else {
		FUZZ_CHECK(f.count == 0 && f.lines == NULL && f.fallback == NULL && f.files.count == 0,
			   "%s", "a failed parse left results");
	}
	udfenv_reqfile_dispose(&f);
	fuzz_parts_free(parts, NFILES);
	return 0;
}
