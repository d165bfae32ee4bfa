/*
 * bench_extract ARCHIVE DEST: extract ARCHIVE to DEST (which must not exist)
 * once with udfenv_extract__archive and the default limits, every check on,
 * and print the wall time in seconds, the entries and the bytes written.
 * On failure: the error on stderr, exit status 1.
 */
#include "lib/extract.h"
#include "udfenv/common.h"
#include "util/log.h"

#include <stdio.h>

int main(int argc, char **argv)
{
	udfenv_extract_stats st;
	double t0, t1;
	int error;

	if (argc != 3) {
		fprintf(stderr, "usage: %s ARCHIVE DEST\n", argv[0]);
		return 2;
	}
	t0 = udfenv_now();
	error = udfenv_extract__archive(argv[1], argv[2], argv[1], NULL, &st);
	t1 = udfenv_now();
	if (error < 0) {
		fprintf(stderr, "bench_extract: error %d: %s\n", error,
		        udfenv_error_last()->message);
		return 1;
	}
	printf("%.6f s  %llu entries  %llu bytes\n", t1 - t0, (unsigned long long)st.entries,
	       (unsigned long long)st.bytes);
	return 0;
}
