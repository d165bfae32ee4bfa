/*
 * The replay driver: a fuzz target linked without libFuzzer runs each file
 * named on the command line, and each file of each directory named (in
 * name order, dot files skipped, not recursing), once. CTest runs it over
 * fuzz/corpus/<target>/ in every build, so the corpora stay regression
 * tests. A failing input aborts in the target; its name is printed first.
 */
#include "fuzz_common.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Targets that need no set-up define no LLVMFuzzerInitialize. */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	size_t size = 0, cap = 0, n;

	if (f == NULL) {
		fprintf(stderr, "replay: cannot open '%s': %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (size == cap) {
			uint8_t *grown = realloc(data, cap ? cap * 2 : 4096);
			if (grown == NULL) {
				fprintf(stderr, "replay: out of memory reading '%s'\n", path);
				free(data);
				fclose(f);
				return -1;
			}
			data = grown;
			cap = cap ? cap * 2 : 4096;
		}
		if ((n = fread(data + size, 1, cap - size, f)) == 0)
			break;
		size += n;
	}
	if (ferror(f)) {
		fprintf(stderr, "replay: cannot read '%s'\n", path);
		free(data);
		fclose(f);
		return -1;
	}
	fclose(f);
	fprintf(stderr, "replay: %s\n", path);
	/* An exact-size copy, so reads past the input's end are caught as with libFuzzer. */
	uint8_t *exact = malloc(size ? size : 1);
	if (exact == NULL) {
		free(data);
		return -1;
	}
	if (size)
		memcpy(exact, data, size);
	free(data);
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
	char **names = NULL;
	size_t n = 0, cap = 0;
	int failed = 0;

	if (d == NULL) {
		fprintf(stderr, "replay: cannot open '%s': %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **grown = realloc(names, (cap ? cap * 2 : 64) * sizeof(*names));
			if (grown == NULL) {
				failed = -1;
				break;
			}
			names = grown;
			cap = cap ? cap * 2 : 64;
		}
		if ((names[n] = malloc(strlen(dir) + strlen(de->d_name) + 2)) == NULL) {
			failed = -1;
			break;
		}
		sprintf(names[n++], "%s/%s", dir, de->d_name);
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), by_name);
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		if (failed == 0 && stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
			failed = run_file(names[i]);
			(*count)++;
		}
		free(names[i]);
	}
	free(names);
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
	if (LLVMFuzzerInitialize)
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
