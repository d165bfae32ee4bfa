/*
 * Wheel file names and the small text formats of a wheel (src/lib/wheel.h,
 * wheel_int.h): udfenv_wheel__parse_filename with its tags and version,
 * the WHEEL file, entry_points.txt and RECORD's CSV fields.
 *
 * Input: "FILENAME\nTEXT". Checked: the error contract; a parsed name's
 * key is its normalized name, its tags are distinct "py-abi-plat" triples
 * (at most UDFENV_WHEEL_MAX_TAGS), a build tag starts with a digit, the
 * same name found through a path (udfenv_wheel__name_of) parses the same,
 * and "<name>-<version>.dist-info" is accepted as its dist-info dir; TEXT
 * written as a CSV field and read back is TEXT.
 */
#include "fuzz_common.h"

#include "lib/pep440.h"
#include "lib/wheel_int.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init("wheelname");
	return 0;
}

static void check_name(const char *filename)
{
	udfenv_wheelname wn = UDFENV_WHEELNAME_INIT, again = UDFENV_WHEELNAME_INIT;
	udfenv_pep440_version v = UDFENV_VERSION_INIT;
	udfenv_buf key = UDFENV_BUF_INIT, path = UDFENV_BUF_INIT;
	int error = udfenv_wheel__parse_filename(&wn, filename);

	fuzz_check_error(error, "udfenv_wheel__parse_filename");
	if (error < 0) {
		FUZZ_CHECK(wn.name == NULL && wn.tags.count == 0, "%s", "a failed parse left memory");
		return;
	}
	FUZZ_CHECK(udfenv_pep503_normalize(&key, wn.name, strlen(wn.name)) == 0 && strcmp(key.ptr, wn.key) == 0,
		   "'%s': key '%s'", filename, wn.key);
	FUZZ_CHECK(wn.build == NULL || (wn.build[0] >= '0' && wn.build[0] <= '9'), "build '%s'", wn.build);
	FUZZ_CHECK(wn.tags.count >= 1 && wn.tags.count <= UDFENV_WHEEL_MAX_TAGS, "%zu tags", wn.tags.count);
	for (size_t i = 0; i < wn.tags.count; i++) {
		const char *t = wn.tags.items[i], *d1 = strchr(t, '-'), *d2 = d1 ? strchr(d1 + 1, '-') : NULL;
		FUZZ_CHECK(d1 && d2 && d1 > t && d2 > d1 + 1 && d2[1] && strchr(d2 + 1, '-') == NULL,
			   "tag '%s' of '%s'", t, filename);
		for (size_t j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(wn.tags.items[j], t) != 0, "tag '%s' twice", t);
	}
	/* What install_native.c does with the version: a PEP 440 one, or skipped. */
	error = udfenv_version_try_parse(&v, wn.version);
	FUZZ_CHECK(error == 0 || error == UDFENV_EINVALID, "try_parse %d", error);
	udfenv_version_dispose(&v);

	udfenv_buf_printf(&path, "/some/dir/%s", filename);
	error = udfenv_wheel__name_of(&again, "/elsewhere/not-a-wheel", path.ptr);
	FUZZ_CHECK(error == 0 && strcmp(again.key, wn.key) == 0 && strcmp(again.version, wn.version) == 0 &&
			   again.tags.count == wn.tags.count,
		   "'%s' through a path: %d", filename, error);

	udfenv_buf_clear(&path);
	udfenv_buf_printf(&path, "%s-%s.dist-info", wn.name, wn.version);
	error = udfenv_wheel__check_dist_info(&wn, path.ptr, filename);
	FUZZ_CHECK(error == 0, "'%s' refuses its own dist-info '%s': %s", filename, path.ptr,
		   udfenv_error_last()->message);

	udfenv_wheelname_dispose(&wn);
	udfenv_wheelname_dispose(&again);
	udfenv_buf_dispose(&key);
	udfenv_buf_dispose(&path);
}

static void check_text(const char *text)
{
	udfenv_wheel_eps console, gui;
	udfenv_buf csv = UDFENV_BUF_INIT;
	size_t at = 0;
	char *field = NULL;
	int purelib = -1, error;

	error = udfenv_wheel__check_wheel_file(text, strlen(text), "demo-1.0-py3-none-any.whl", &purelib);
	fuzz_check_error(error, "udfenv_wheel__check_wheel_file");
	FUZZ_CHECK(error < 0 || purelib == 0 || purelib == 1, "purelib %d", purelib);

	memset(&console, 0, sizeof(console));
	memset(&gui, 0, sizeof(gui));
	error = udfenv_wheel__entry_points(&console, &gui, text, strlen(text), "demo-1.0-py3-none-any.whl");
	fuzz_check_error(error, "udfenv_wheel__entry_points");
	for (size_t i = 0; error == 0 && i < console.count + gui.count; i++) {
		const udfenv_wheel_ep *ep = i < console.count ? &console.items[i] : &gui.items[i - console.count];
		FUZZ_CHECK(ep->name[0] && ep->name[0] != '.' && strchr(ep->name, '/') == NULL, "entry point '%s'",
			   ep->name);
		FUZZ_CHECK(ep->module[0] && ep->attr[0], "entry point '%s' = '%s:%s'", ep->name, ep->module,
			   ep->attr);
	}
	udfenv_wheel__eps_dispose(&console);
	udfenv_wheel__eps_dispose(&gui);

	FUZZ_CHECK(udfenv_wheel__csv_put(&csv, text) == 0, "%s", "csv_put");
	FUZZ_CHECK(udfenv_wheel__csv_field(csv.ptr, csv.size, &at, &field) == 0, "%s", "csv_field");
	FUZZ_CHECK(strcmp(field, text) == 0 && at == csv.size + 1, "'%s' written as '%s' reads back as '%s'",
		   text, csv.ptr, field);
	free(field);
	udfenv_buf_dispose(&csv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *parts[2];

	fuzz_split(data, size, '\n', parts, NULL, 2);
	check_name(parts[0]);
	check_text(parts[1]);
	fuzz_parts_free(parts, 2);
	return 0;
}
