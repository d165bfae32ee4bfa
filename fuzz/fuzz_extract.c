/*
 * Archive extraction under the safety policy (src/lib/extract.h,
 * udfenv_extract__archive), in this process (udfenv_extract__set_inprocess)
 * so coverage and the sanitizers see the policy code the forked helper
 * would run.
 *
 * Input: the archive's bytes (zip or tar, any filter), extracted into
 * out/dest of the scratch dir with small caps (1024 entries, 4 MiB), which
 * bound what one input can write. Checked afterwards: the error contract;
 * nothing new beside out/ and the archive, the sentinel dir outside/ and
 * its file untouched (no hard link to it either); on failure out/ is empty
 * (no dest, no temp dir); on success out/ holds dest only, whose entries
 * are directories, regular files and symlinks without setuid, setgid or
 * sticky bits, whose symlinks all resolve beneath dest (openat2
 * RESOLVE_BENEATH), and whose files hold no more than the byte cap. dest
 * is removed before the next input.
 */
#include "fuzz_common.h"

#include "lib/extract.h"
#include "util/error.h"
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_BYTES ((uint64_t)4 << 20)

static const char *archive, *out, *dest;
static ino_t sentinel_ino;
static int dest_fd = -1;
static uint64_t written;
static ino_t seen[1024]; /* files with hard links, counted once */
static size_t nseen;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init("extract");
	archive = fuzz_path(0, "archive");
	out = fuzz_path(1, "out");
	dest = fuzz_path(2, "out/dest");
	FUZZ_CHECK(mkdir(out, 0755) == 0, "%s", "scratch dirs");
	sentinel_ino = fuzz_sentinel_make();
	udfenv_extract__set_inprocess(1);
	return 0;
}

static int check_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	const char *rel = path + strlen(dest);

	(void)ftw;
	(void)type;
	FUZZ_CHECK(S_ISDIR(st->st_mode) || S_ISREG(st->st_mode) || S_ISLNK(st->st_mode),
		   "'%s' has mode %o", path, (unsigned)st->st_mode);
	FUZZ_CHECK((st->st_mode & 07000) == 0 || S_ISLNK(st->st_mode), "'%s' has mode %o", path,
		   (unsigned)st->st_mode);
	FUZZ_CHECK(st->st_ino != sentinel_ino, "'%s' is the sentinel", path);
	if (S_ISREG(st->st_mode)) {
		size_t i;
		for (i = 0; st->st_nlink > 1 && i < nseen && seen[i] != st->st_ino; i++)
			;
		if (st->st_nlink == 1 || i == nseen)
			written += (uint64_t)st->st_size;
		if (st->st_nlink > 1 && i == nseen && nseen < sizeof(seen) / sizeof(seen[0]))
			seen[nseen++] = st->st_ino;
	}
	if (S_ISLNK(st->st_mode) && rel[0] == '/') {
		struct open_how how = {O_PATH | O_CLOEXEC, 0, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
		long fd = syscall(SYS_openat2, dest_fd, rel + 1, &how, sizeof(how));
		FUZZ_CHECK(fd >= 0 || errno != EXDEV, "the symlink '%s' resolves outside the destination", path);
		if (fd >= 0)
			close((int)fd);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const top[] = {"archive", "out", "outside", NULL};
	static const char *const just_dest[] = {"dest", NULL};
	static const char *const nothing[] = {NULL};
	udfenv_extract_limits lim;
	udfenv_extract_stats stats = {1, 1};
	int error;

	fuzz_write_file(archive, data, size);
	udfenv_extract__defaults(&lim);
	lim.max_entries = 1024;
	lim.max_bytes = MAX_BYTES;
	error = udfenv_extract__archive(archive, dest, "fuzz.tar", &lim, &stats);
	fuzz_check_error(error, "udfenv_extract__archive");
	fuzz_sentinel_check(top);
	if (error < 0) {
		fuzz_only_these(out, nothing);
		FUZZ_CHECK(stats.entries == 0 && stats.bytes == 0, "%s", "stats after a failure");
		return 0;
	}
	fuzz_only_these(out, just_dest);
	FUZZ_CHECK(stats.bytes <= MAX_BYTES && stats.entries <= lim.max_entries, "stats %llu entries, %llu bytes",
		   (unsigned long long)stats.entries, (unsigned long long)stats.bytes);
	dest_fd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	FUZZ_CHECK(dest_fd >= 0, "cannot open '%s'", dest);
	written = 0;
	nseen = 0;
	FUZZ_CHECK(nftw(dest, check_entry, 16, FTW_PHYS) == 0, "cannot walk '%s'", dest);
	FUZZ_CHECK(written <= MAX_BYTES, "%llu bytes written", (unsigned long long)written);
	close(dest_fd);
	dest_fd = -1;
	FUZZ_CHECK(udfenv_fs_rmtree(dest) == 0, "cannot remove '%s': %s", dest, udfenv_error_last()->message);
	fuzz_only_these(out, nothing);
	return 0;
}
