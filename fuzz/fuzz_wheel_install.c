/*
 * Installing a wheel (src/lib/wheel.h, udfenv_wheel__install): RECORD's
 * CSV and hashes, entry_points.txt and launchers, .data dirs, scripts'
 * shebangs, through the archive policy's reader, in this process.
 *
 * Input: the wheel's bytes, named "demo-1.0-py3-none-any.whl"; a first line
 * ending in ".whl" (without '/') names it instead, as in fuzz_wheel.c. It
 * is installed into a fresh prefix/ of the scratch dir (lib/python3.11/
 * site-packages and the rest, as a venv has them), removed after. Checked:
 * the error contract; nothing new beside prefix/, the sentinel dir
 * outside/ and its file untouched; a refused wheel left prefix/ empty;
 * an installed one holds only directories and regular files (a wheel's
 * symlink is refused), without setuid, setgid or sticky bits.
 */
#include "fuzz_common.h"

#include "lib/wheel.h"
#include "util/error.h"
#include "util/fs.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static const char *input, *prefix;
static char purelib[4096], platlib[4096], scripts[4096], headers[4096];
static ino_t sentinel_ino;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init("wheel_install");
	umask(022);
	input = fuzz_path(0, "input.bin");
	prefix = fuzz_path(1, "prefix");
	snprintf(purelib, sizeof(purelib), "%s/lib/python3.11/site-packages", prefix);
	snprintf(platlib, sizeof(platlib), "%s/lib64/python3.11/site-packages", prefix);
	snprintf(scripts, sizeof(scripts), "%s/bin", prefix);
	snprintf(headers, sizeof(headers), "%s/include/python3.11/demo", prefix);
	sentinel_ino = fuzz_sentinel_make();
	return 0;
}

static int check_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)type;
	(void)ftw;
	FUZZ_CHECK(S_ISDIR(st->st_mode) || S_ISREG(st->st_mode), "'%s' has mode %o", path,
		   (unsigned)st->st_mode);
	FUZZ_CHECK((st->st_mode & 07000) == 0, "'%s' has mode %o", path, (unsigned)st->st_mode);
	FUZZ_CHECK(st->st_ino != sentinel_ino, "'%s' is the sentinel", path);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const top[] = {"input.bin", "prefix", "outside", NULL};
	static const char *const nothing[] = {NULL};
	const udfenv_wheel_scheme scheme = {purelib, platlib, scripts, prefix, headers, "/opt/py/bin/python3.11"};
	char *label = fuzz_wheel_label(&data, &size);
	udfenv_wheel_install req = {input, label, NULL, 1};
	int error;

	fuzz_write_file(input, data, size);
	error = udfenv_wheel__install(&req, &scheme);
	fuzz_check_error(error, "udfenv_wheel__install");
	fuzz_sentinel_check(top);
	if (error < 0)
		fuzz_only_these(prefix, nothing);
	else
		FUZZ_CHECK(nftw(prefix, check_entry, 16, FTW_PHYS) == 0, "cannot walk '%s'", prefix);
	FUZZ_CHECK(udfenv_fs_rmtree(prefix) == 0, "cannot remove '%s': %s", prefix, udfenv_error_last()->message);
	free(label);
	return 0;
}
