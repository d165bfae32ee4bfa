/*
 * The replay driver: a fuzz target linked without libFuzzer runs each file
 * named on the command line, and each file of each directory named (in
 * name order, dot files skipped, not recursing), once. CTest runs it over
 * fuzz/corpus/<target>/ in every build, so the corpora stay regression
 * tests. A failing input aborts in the target; its name is printed first.
 */
#include "fuzz_common.h"

#include "udfenv/common.h"
#include "util/buf.h"
#include "util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int run_file(const char *path)
{
	udfenv_buf text = UDFENV_BUF_INIT;
	uint8_t *exact;
	size_t size;

	if (udfenv_fs_read_file(&text, path, SIZE_MAX) < 0) {
		fprintf(stderr, "replay: %s\n", udfenv_error_last()->message);
		udfenv_buf_dispose(&text);
		return -1;
	}
	fprintf(stderr, "replay: %s\n", path);
	/* An exact-size copy, so reads past the input's end are caught as with libFuzzer. */
	size = text.size;
	if ((exact = malloc(size ? size : 1)) != NULL)
		memcpy(exact, text.ptr, size);
	udfenv_buf_dispose(&text);
	if (exact == NULL) {
		fprintf(stderr, "replay: out of memory reading '%s'\n", path);
		return -1;
	}
	LLVMFuzzerTestOneInput(exact, size);
	free(exact);
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *dir, unsigned *count)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	udfenv_strvec names = UDFENV_STRVEC_INIT;
	int failed = 0;

	if (d == NULL) {
		fprintf(stderr, "replay: cannot open '%s': %s\n", dir, strerror(errno));
		return -1;
	}
	while (failed == 0 && (de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			failed = udfenv_strvec_pushf(&names, "%s/%s", dir, de->d_name);
	closedir(d);
	if (names.count)
		qsort(names.items, names.count, sizeof(*names.items), by_name);
	for (size_t i = 0; failed == 0 && i < names.count; i++) {
		struct stat st;
		if (stat(names.items[i], &st) == 0 && S_ISREG(st.st_mode)) {
			failed = run_file(names.items[i]);
			(*count)++;
		}
	}
	udfenv_strvec_dispose(&names);
	return failed;
}

int main(int argc, char **argv)
{
	unsigned count = 0;
	struct stat st;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE_OR_DIR...\n", argv[0]);
		return 2;
	}
	LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		int r;
		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "replay: cannot open '%s': %s\n", argv[i], strerror(errno));
			return 1;
		}
		if (S_ISDIR(st.st_mode))
			r = run_dir(argv[i], &count);
		else
			r = run_file(argv[i]), count++;
		if (r < 0)
			return 1;
	}
	if (count == 0) {
		fprintf(stderr, "replay: no inputs in the arguments\n");
		return 1;
	}
	fprintf(stderr, "replay: %u inputs, no failure\n", count);
	return 0;
}
