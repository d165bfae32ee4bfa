/*
 * Archive extraction: the driver. The parent makes a private temp dir beside
 * the destination and forks a helper; the helper reads the archive with
 * libarchive (zip and tar only), checks every entry against the policy of
 * extract_policy.c before anything is written, writes through
 * archive_write_disk from inside the temp dir, creates the symlinks last,
 * and reports back through a pipe. The parent publishes by rename, or
 * removes the temp dir.
 */
#include "lib/extract.h"
#include "lib/libarchive.h"
#include "lib/extract_int.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/path.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* libarchive's code for "not a format we read" (EILSEQ on Linux; not exported). */
#ifndef ARCHIVE_ERRNO_FILE_FORMAT
#define ARCHIVE_ERRNO_FILE_FORMAT EILSEQ
#endif

#define XREAD_BLOCK (128 * 1024)
#define XREPORT_MSG_MAX 4096
/* Longest destination basename kept in the temp dir's name. */
#define XTMP_BASE_MAX 200

/* Never OWNER, ACL, XATTR or FFLAGS: an archive does not decide those. */
#define XWRITE_FLAGS                                                                               \
	(ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_SECURE_NODOTDOT |           \
	 ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS)

void udfenv_extract__defaults(udfenv_extract_limits *lim)
{
	lim->max_entries = 200000;
	lim->max_bytes = (uint64_t)16 << 30;
	lim->max_ratio = 200;
	lim->ratio_floor = (uint64_t)32 << 20;
	lim->max_path = 4096;
	lim->max_depth = 128;
	lim->allow_absolute_symlinks = 0;
}

/* One extraction, as the helper process runs it. */
typedef struct {
	xpolicy pol;
	const char *archive; /* path of the archive file */
	const char *tmpdir;  /* the private dir to extract into */
	int fd;              /* the archive, for its size and the zip layout check */
	uint64_t archive_size;
	uint64_t ratio_cap; /* max_ratio * archive_size, saturated */
	struct archive *in;
	struct archive *out;
	udfenv_buf name;              /* normalized name of the current entry */
	udfenv_buf link;              /* normalized target of a hard link */
	struct archive_entry **links; /* symlinks, created once everything else is */
	size_t nlinks, alinks;
	udfenv_extract_stats stats;
} xjob;

/* What the helper sends back, followed by `msg_len` bytes of message. */
typedef struct {
	int32_t code;
	int32_t os_errno; /* udfenv_error_os_errno() */
	uint32_t msg_len;
	uint64_t entries;
	uint64_t bytes;
} xreport_head;

typedef struct {
	xreport_head head;
	char msg[XREPORT_MSG_MAX + 1];
} xreport;

/* ---- the helper: reading ---- */

/* Compression filters, only when linked in: never libarchive's fallback to external programs. */
static int add_filters(struct archive *a)
{
	if ((archive_zlib_version() && archive_read_support_filter_gzip(a) != ARCHIVE_OK) ||
	    (archive_bzlib_version() && archive_read_support_filter_bzip2(a) != ARCHIVE_OK) ||
	    (archive_liblzma_version() && archive_read_support_filter_xz(a) != ARCHIVE_OK) ||
	    (archive_libzstd_version() && archive_read_support_filter_zstd(a) != ARCHIVE_OK))
		return udfenv_error_set(UDFENV_ERROR, "libarchive: %s", archive_error_string(a));
	return 0;
}

/*
 * zip (the seekable reader wins for a file opened by name: the streaming one
 * loses modes and symlinks) and tar only; never format_all (mtree can read
 * arbitrary local files through contents=).
 */
static int open_reader(xjob *j)
{
	struct archive *a = j->in = archive_read_new();
	int error;

	if (a == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	if (archive_read_support_format_zip(a) != ARCHIVE_OK ||
	    archive_read_support_format_tar(a) != ARCHIVE_OK ||
	    archive_read_support_format_gnutar(a) != ARCHIVE_OK)
		return udfenv_error_set(UDFENV_ERROR, "libarchive: %s", archive_error_string(a));
	if ((error = add_filters(a)) < 0)
		return error;
	if (archive_read_open_filename(a, j->archive, XREAD_BLOCK) == ARCHIVE_OK)
		return 0;
	if (archive_errno(a) == ARCHIVE_ERRNO_FILE_FORMAT)
		return udfenv_error_set(UDFENV_EINVALID, "archive '%s' is not a zip or tar archive",
		                        j->pol.label);
	return udfenv_error_set(UDFENV_EINVALID, "archive '%s' cannot be read: %s", j->pol.label,
	                        archive_error_string(a));
}

static int open_writer(xjob *j)
{
	if ((j->out = archive_write_disk_new()) == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	if (archive_write_disk_set_options(j->out, XWRITE_FLAGS) != ARCHIVE_OK)
		return udfenv_error_set(UDFENV_ERROR, "libarchive: %s",
		                        archive_error_string(j->out));
	return 0;
}

static int read_error(xjob *j, const char *name)
{
	return udfenv_extract__entry_error(&j->pol, UDFENV_EINVALID, name, "cannot be read: %s",
	                                   archive_error_string(j->in));
}

static int write_error(xjob *j, const char *name)
{
	/* libarchive's "Write failed" alone hides a full disk: add the system's reason. */
	int err = archive_errno(j->out);

	if (err > 0) {
		udfenv_extract__entry_error(&j->pol, UDFENV_ERROR, name, "cannot be written: %s (%s)",
		                            archive_error_string(j->out), strerror(err));
		return udfenv_error_set_os_errno(err);
	}
	return udfenv_extract__entry_error(&j->pol, UDFENV_ERROR, name, "cannot be written: %s",
	                                   archive_error_string(j->out));
}

/* ---- the helper: caps ---- */

/* Refuse `total` bytes written if it passes the byte cap or the ratio cap. */
static int check_total(xjob *j, uint64_t total)
{
	const udfenv_extract_limits *lim = j->pol.lim;

	if (total > lim->max_bytes)
		return udfenv_extract__entry_error(
		    &j->pol, UDFENV_ELIMIT, j->name.ptr,
		    "brings the bytes written past the limit of %llu",
		    (unsigned long long)lim->max_bytes);
	if (total > lim->ratio_floor && total > j->ratio_cap)
		return udfenv_extract__entry_error(
		    &j->pol, UDFENV_ELIMIT, j->name.ptr,
		    "expands the archive more than %llu times its %llu bytes "
		    "(compression ratio limit; a decompression bomb?)",
		    (unsigned long long)lim->max_ratio, (unsigned long long)j->archive_size);
	return 0;
}

/* Count a block at `off` of `len` bytes past the entry's `extent` (holes count too). */
static int count_block(xjob *j, la_int64_t off, size_t len, uint64_t *extent)
{
	uint64_t end, grow;
	int error;

	if (off < 0 || (uint64_t)len > UINT64_MAX - (uint64_t)off)
		return udfenv_extract__entry_error(&j->pol, UDFENV_EINVALID, j->name.ptr,
		                                   "has a data block at a bad offset");
	end = (uint64_t)off + len;
	if (end <= *extent)
		return 0;
	grow = end - *extent;
	if (grow > UINT64_MAX - j->stats.bytes)
		grow = UINT64_MAX - j->stats.bytes;
	if ((error = check_total(j, j->stats.bytes + grow)) < 0)
		return error;
	j->stats.bytes += grow;
	*extent = end;
	return 0;
}

/*
 * Copy the entry's data. More data than the header declared is refused here:
 * archive_write_disk would only truncate it with a warning.
 */
static int copy_data(xjob *j, struct archive_entry *e)
{
	uint64_t extent = 0, declared = UINT64_MAX;
	const void *buf;
	size_t len;
	la_int64_t off;
	int r, error;

	if (archive_entry_size_is_set(e) && archive_entry_size(e) >= 0)
		declared = (uint64_t)archive_entry_size(e);
	while ((r = archive_read_data_block(j->in, &buf, &len, &off)) != ARCHIVE_EOF) {
		if (r != ARCHIVE_OK)
			return read_error(j, j->name.ptr);
		if ((error = count_block(j, off, len, &extent)) < 0)
			return error;
		if (extent > declared)
			return udfenv_extract__entry_error(
			    &j->pol, UDFENV_EINVALID, j->name.ptr,
			    "has more data than the %llu bytes its header declares",
			    (unsigned long long)declared);
		if (archive_write_data_block(j->out, buf, len, off) != ARCHIVE_OK)
			return write_error(j, j->name.ptr);
	}
	return 0;
}

/* ---- the helper: entries ---- */

static int write_entry(xjob *j, struct archive_entry *e, int with_data)
{
	int error;

	if (archive_write_header(j->out, e) != ARCHIVE_OK)
		return write_error(j, archive_entry_pathname(e));
	if (with_data && (error = copy_data(j, e)) < 0)
		return error;
	if (archive_write_finish_entry(j->out) != ARCHIVE_OK)
		return write_error(j, archive_entry_pathname(e));
	return 0;
}

/* Keep the rwx bits, drop setuid/setgid/sticky, keep what cleanup needs. */
static void fix_mode(struct archive_entry *e, int kind)
{
	mode_t perm = archive_entry_perm(e) & 0777;
	archive_entry_set_perm(e, perm | (kind == XNAME_DIR ? 0700 : 0600));
}

static int refuse_type(xjob *j, int type)
{
	const char *what = type == AE_IFCHR    ? "a character device"
	                   : type == AE_IFBLK  ? "a block device"
	                   : type == AE_IFIFO  ? "a FIFO"
	                   : type == AE_IFSOCK ? "a socket"
	                                       : "of an unsupported type";
	return udfenv_extract__entry_error(
	    &j->pol, UDFENV_EUNSAFE, j->name.ptr,
	    "is %s; only files, directories and symlinks are allowed", what);
}

/* A tar hard link: only to a regular file this archive already extracted. */
static int extract_hardlink(xjob *j, struct archive_entry *e, const char *raw)
{
	char shown[UDFENV_TEXT_SHOW_SIZE];
	int error = udfenv_extract__normalize(&j->pol, &j->link, raw, j->name.ptr);

	if (error == UDFENV_ENOMEM)
		return error;
	if (error < 0 || !udfenv_extract__is_file(&j->pol, j->link.ptr)) {
		udfenv_text_show(shown, raw);
		return udfenv_extract__entry_error(
		    &j->pol, UDFENV_EUNSAFE, j->name.ptr,
		    "is a hard link to '%s', which is not a file extracted before it from "
		    "this archive",
		    shown);
	}
	if ((error = udfenv_extract__register(&j->pol, j->name.ptr, XNAME_FILE, NULL)) < 0)
		return error;
	archive_entry_copy_pathname(e, j->name.ptr);
	archive_entry_copy_hardlink(e, j->link.ptr);
	fix_mode(e, XNAME_FILE);
	return write_entry(j, e, 1);
}

static int defer_symlink(xjob *j, struct archive_entry *e)
{
	const char *target = archive_entry_symlink(e);
	struct archive_entry *c;
	int error;

	if ((error = udfenv_extract__check_link_target(&j->pol, j->name.ptr, target)) < 0 ||
	    (error = udfenv_extract__register(&j->pol, j->name.ptr, XNAME_SYMLINK, target)) < 0)
		return error;
	if (j->nlinks == j->alinks) {
		size_t n = j->alinks ? j->alinks * 2 : 64;
		struct archive_entry **p;
		if (n > SIZE_MAX / sizeof(*p) || (p = realloc(j->links, n * sizeof(*p))) == NULL)
			return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
		j->links = p;
		j->alinks = n;
	}
	if ((c = archive_entry_clone(e)) == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	archive_entry_copy_pathname(c, j->name.ptr);
	archive_entry_set_size(c, 0);
	j->links[j->nlinks++] = c;
	return 0;
}

/* Declared sizes are checked up front too, so an honest bomb writes nothing. */
static int extract_plain(xjob *j, struct archive_entry *e, int kind)
{
	int error;

	if (kind == XNAME_FILE && archive_entry_size_is_set(e) && archive_entry_size(e) > 0 &&
	    (error = check_total(j, (uint64_t)archive_entry_size(e) > UINT64_MAX - j->stats.bytes
	                                ? UINT64_MAX
	                                : j->stats.bytes + (uint64_t)archive_entry_size(e))) < 0)
		return error;
	if ((error = udfenv_extract__register(&j->pol, j->name.ptr, kind, NULL)) < 0)
		return error;
	archive_entry_copy_pathname(e, j->name.ptr);
	fix_mode(e, kind);
	return write_entry(j, e, kind == XNAME_FILE);
}

static int extract_entry(xjob *j, struct archive_entry *e)
{
	const char *raw = archive_entry_pathname(e), *hardlink = archive_entry_hardlink(e);
	int type = (int)archive_entry_filetype(e), error;

	if (++j->stats.entries > j->pol.lim->max_entries)
		return udfenv_error_set(UDFENV_ELIMIT, "archive '%s' has more than %llu entries",
		                        j->pol.label, (unsigned long long)j->pol.lim->max_entries);
	if ((error = udfenv_extract__normalize(&j->pol, &j->name, raw, NULL)) < 0)
		return error;
	if (j->name.size == 0 && type == AE_IFDIR && hardlink == NULL)
		return 0; /* "./": the root itself, which we made */
	if (j->name.size == 0)
		return udfenv_extract__entry_error(&j->pol, UDFENV_EUNSAFE, raw,
		                                   "names the extraction directory itself");
	if (hardlink)
		return extract_hardlink(j, e, hardlink);
	switch (type) {
	case AE_IFREG:
		return extract_plain(j, e, XNAME_FILE);
	case AE_IFDIR:
		return extract_plain(j, e, XNAME_DIR);
	case AE_IFLNK:
		return defer_symlink(j, e);
	default:
		return refuse_type(j, type);
	}
}

static int is_zip(struct archive *a)
{
	return (archive_format(a) & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_ZIP;
}

static int extract_entries(xjob *j)
{
	struct archive_entry *e;
	int r, error;

	for (;;) {
		j->pol.entry_no++;
		r = archive_read_next_header(j->in, &e);
		if (r == ARCHIVE_EOF)
			return 0;
		/* Checked even when libarchive failed: ours says what is wrong. */
		if (j->pol.entry_no == 1 && is_zip(j->in) &&
		    (error = udfenv_extract__zip_layout(&j->pol, j->fd, j->archive_size)) < 0)
			return error;
		/* A warning leaves fields it could not convert NULL; the checks refuse those. */
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			return read_error(j, NULL);
		if ((error = extract_entry(j, e)) < 0)
			return error;
	}
}

/* Every other entry is on disk: check each symlink against all of them, then create them. */
static int finish_symlinks(xjob *j)
{
	size_t i;
	int error;

	for (i = 0; i < j->nlinks; i++) {
		if ((error =
		         udfenv_extract__resolve_link(&j->pol, archive_entry_pathname(j->links[i]),
		                                      archive_entry_symlink(j->links[i]))) < 0)
			return error;
	}
	for (i = 0; i < j->nlinks; i++) {
		if ((error = write_entry(j, j->links[i], 0)) < 0)
			return error;
	}
	if (archive_write_close(j->out) != ARCHIVE_OK) {
		udfenv_error_set(UDFENV_ERROR, "archive '%s': cannot finish extraction: %s", j->pol.label,
		                 archive_error_string(j->out));
		return udfenv_error_set_os_errno(archive_errno(j->out) > 0 ? archive_errno(j->out) : 0);
	}
	return 0;
}

/* Names arrive in the locale's charset: make it UTF-8 so UTF-8 names pass through as is. */
static void use_utf8_names(void)
{
	static const char *const names[] = {"C.UTF-8", "C.utf8", "en_US.UTF-8"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		locale_t loc = newlocale(LC_CTYPE_MASK, names[i], (locale_t)0);
		if (loc != (locale_t)0) {
			uselocale(loc);
			return;
		}
	}
}

static int open_archive_fd(xjob *j)
{
	const udfenv_extract_limits *lim = j->pol.lim;
	struct stat st;

	if ((j->fd = open(j->archive, O_RDONLY | O_CLOEXEC)) < 0 || fstat(j->fd, &st) < 0)
		return udfenv_error_set_os(udfenv_error_from_errno(errno),
		                           "cannot open archive '%s'", j->pol.label);
	if (!S_ISREG(st.st_mode))
		return udfenv_error_set(UDFENV_EINVALID, "archive '%s' is not a regular file",
		                        j->pol.label);
	j->archive_size = (uint64_t)st.st_size;
	j->ratio_cap = lim->max_ratio && j->archive_size > UINT64_MAX / lim->max_ratio
	                   ? UINT64_MAX
	                   : j->archive_size * lim->max_ratio;
	return 0;
}

static int run_job(xjob *j)
{
	int error;

	use_utf8_names();
	umask(022); /* the mode of parent dirs libarchive creates on its own */
	/*
	 * Zip times are local times: without TZ, glibc stats /etc/localtime on
	 * every conversion, once per entry. Naming the same zone makes it read
	 * it once. (This is the forked helper: the caller's TZ is untouched.)
	 */
	if (getenv("TZ") == NULL)
		setenv("TZ", ":/etc/localtime", 1);
	if ((error = open_archive_fd(j)) < 0 || (error = open_reader(j)) < 0 ||
	    (error = open_writer(j)) < 0)
		return error;
	if (chdir(j->tmpdir) < 0)
		return udfenv_error_set_os(UDFENV_ERROR, "cannot enter '%s'", j->tmpdir);
	if ((error = extract_entries(j)) < 0 || (error = finish_symlinks(j)) < 0)
		return error;
	return 0;
}

static void job_dispose(xjob *j)
{
	for (size_t i = 0; i < j->nlinks; i++)
		archive_entry_free(j->links[i]);
	free(j->links);
	if (j->in)
		archive_read_free(j->in);
	if (j->out)
		archive_write_free(j->out);
	if (j->fd >= 0)
		close(j->fd);
	udfenv_buf_dispose(&j->name);
	udfenv_buf_dispose(&j->link);
	udfenv_extract__policy_dispose(&j->pol);
}

static void send_report(int fd, int error, const udfenv_extract_stats *stats)
{
	const char *msg = error < 0 ? udfenv_error_last()->message : "";
	size_t len = strlen(msg) < XREPORT_MSG_MAX ? strlen(msg) : XREPORT_MSG_MAX;
	xreport_head h = {error, error < 0 ? udfenv_error_os_errno() : 0, (uint32_t)len, stats->entries,
	                  stats->bytes};

	if (udfenv_fs_write_all(fd, &h, sizeof(h)) == 0)
		udfenv_fs_write_all(fd, msg, len);
}

/* The helper process: never returns. */
__attribute__((noreturn)) static void child_main(xjob *j, int report_fd)
{
	int error = run_job(j);

	send_report(report_fd, error, &j->stats);
	job_dispose(j);
	_exit(error < 0 ? 1 : 0);
}

/* ---- the parent ---- */

/* Read the helper's report; 1 if a whole one arrived, 0 if not. */
static int read_report(int fd, xreport *rep)
{
	char *p = (char *)rep;
	size_t got = 0, want = sizeof(rep->head);
	ssize_t n;

	while (got < want) {
		n = read(fd,
		         got < sizeof(rep->head) ? p + got : rep->msg + (got - sizeof(rep->head)),
		         want - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		got += (size_t)n;
		if (got == sizeof(rep->head)) {
			if (rep->head.msg_len > XREPORT_MSG_MAX)
				return 0;
			want += rep->head.msg_len;
		}
	}
	rep->msg[rep->head.msg_len] = '\0';
	return 1;
}

static int wait_child(pid_t pid, int *status)
{
	while (waitpid(pid, status, 0) < 0) {
		if (errno != EINTR)
			return udfenv_error_set_os(UDFENV_ERROR,
			                           "cannot wait for the extraction helper");
	}
	return 0;
}

static int report_result(const char *label, int have, const xreport *rep, int status,
                         udfenv_extract_stats *stats)
{
	int code = have ? rep->head.code : UDFENV_ERROR;

	if (WIFSIGNALED(status))
		return udfenv_error_set(UDFENV_ERROR, "extraction of '%s' crashed: signal %d (%s)",
		                        label, WTERMSIG(status), strsignal(WTERMSIG(status)));
	if (!have || (code == 0 && WEXITSTATUS(status) != 0))
		return udfenv_error_set(UDFENV_ERROR,
		                        "extraction of '%s' ended with status %d and no report",
		                        label, WEXITSTATUS(status));
	if (code < 0) {
		udfenv_error_set(code >= UDFENV_EINSTALL ? code : UDFENV_ERROR, "%s", rep->msg);
		return udfenv_error_set_os_errno(rep->head.os_errno);
	}
	stats->entries = rep->head.entries;
	stats->bytes = rep->head.bytes;
	return 0;
}

/* Fork the helper on `j`, wait for it, take its verdict. */
static int run_helper(xjob *j, udfenv_extract_stats *stats)
{
	int fds[2] = {-1, -1}, status = 0, have, error;
	pid_t pid, parent = getpid();
	xreport rep;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return udfenv_error_set_os(UDFENV_ERROR, "cannot create a pipe");
	if ((pid = fork()) < 0) {
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot start the extraction helper");
		close(fds[0]);
		close(fds[1]);
		return error;
	}
	if (pid == 0) {
		close(fds[0]);
		/* Die with the parent rather than finish an extraction nobody will publish. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(1);
		child_main(j, fds[1]);
	}
	close(fds[1]);
	have = read_report(fds[0], &rep);
	close(fds[0]);
	/* ECHILD: the caller reaps children itself (SIGCHLD ignored); the report is all we get. */
	if ((error = wait_child(pid, &status)) < 0 && !(errno == ECHILD && have))
		return error;
	return report_result(j->pol.label, have, &rep, error < 0 ? 0 : status, stats);
}

/* Split `dest` into the directory that will hold it and the temp dir prefix. */
static int temp_names(udfenv_buf *parent, udfenv_buf *prefix, const char *dest)
{
	udfenv_buf base = UDFENV_BUF_INIT;
	size_t n = strlen(dest);
	int error;

	while (n > 1 && dest[n - 1] == '/')
		n--;
	if ((error = udfenv_buf_put(parent, dest, n)) < 0 ||
	    (error = udfenv_path_basename(&base, parent->ptr)) < 0)
		goto done;
	if (base.size == 0 || strcmp(base.ptr, "/") == 0 || strcmp(base.ptr, ".") == 0 ||
	    strcmp(base.ptr, "..") == 0) {
		error =
		    udfenv_error_set(UDFENV_EINVALID, "'%s' cannot be an extraction target", dest);
		goto done;
	}
	udfenv_buf_truncate(parent, n - base.size);
	while (parent->size > 1 && parent->ptr[parent->size - 1] == '/')
		udfenv_buf_truncate(parent, parent->size - 1);
	if (parent->size == 0)
		error = udfenv_buf_sets(parent, ".");
	if (error == 0)
		error = udfenv_buf_printf(prefix, "%.*s.tmp-", XTMP_BASE_MAX, base.ptr);
done:
	udfenv_buf_dispose(&base);
	return error;
}

static int check_paths(const char *archive, const char *dest, const char *label)
{
	struct stat st;

	if (stat(archive, &st) < 0)
		return udfenv_error_set_os(udfenv_error_from_errno(errno),
		                           "cannot open archive '%s'", label);
	if (!S_ISREG(st.st_mode))
		return udfenv_error_set(UDFENV_EINVALID, "archive '%s' is not a regular file",
		                        label);
	if (lstat(dest, &st) == 0)
		return udfenv_error_set(UDFENV_ECONFLICT, "'%s' already exists", dest);
	return 0;
}

/* rename without replacing whatever appeared at `dest` meanwhile. */
static int publish(const char *tmp, const char *dest)
{
	int r = renameat2(AT_FDCWD, tmp, AT_FDCWD, dest, RENAME_NOREPLACE);

	if (r < 0 && (errno == EINVAL || errno == ENOSYS))
		r = rename(tmp, dest);
	if (r == 0)
		return 0;
	if (errno == EEXIST || errno == ENOTEMPTY)
		return udfenv_error_set(UDFENV_ECONFLICT, "'%s' already exists", dest);
	return udfenv_error_set_os(UDFENV_ERROR, "cannot move the extracted archive to '%s'", dest);
}

static void log_done(const char *label, const udfenv_extract_stats *st, double t0)
{
	if (udfenv_log_enabled(UDFENV_LOG_DEBUG))
		udfenv_log(UDFENV_LOG_DEBUG, "extracted '%s': %llu entries, %llu bytes in %.3f s",
		           label, (unsigned long long)st->entries, (unsigned long long)st->bytes,
		           udfenv_now() - t0);
}

int udfenv_extract__archive(const char *archive, const char *dest, const char *label,
                            const udfenv_extract_limits *lim, udfenv_extract_stats *stats)
{
	udfenv_buf parent = UDFENV_BUF_INIT, prefix = UDFENV_BUF_INIT, tmp = UDFENV_BUF_INIT;
	udfenv_extract_limits defaults;
	udfenv_extract_stats st = {0, 0};
	xjob j;
	double t0 = udfenv_now();
	int error;

	if ((error = udfenv_libarchive__load()) < 0) {
		if (stats)
			*stats = st;
		return error;
	}
	if (lim == NULL) {
		udfenv_extract__defaults(&defaults);
		lim = &defaults;
	}
	label = label ? label : archive;
	memset(&j, 0, sizeof(j));
	j.fd = -1;
	if ((error = check_paths(archive, dest, label)) < 0 ||
	    (error = temp_names(&parent, &prefix, dest)) < 0 ||
	    (error = udfenv_fs_mkdtemp(&tmp, parent.ptr, prefix.ptr)) < 0)
		goto done;
	j.pol.label = label;
	j.pol.lim = lim;
	j.archive = archive;
	j.tmpdir = tmp.ptr;
	if ((error = run_helper(&j, &st)) < 0)
		goto done;
	if (chmod(tmp.ptr, 0755) < 0) {
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot set the mode of '%s'", tmp.ptr);
		goto done;
	}
	error = publish(tmp.ptr, dest);
done:
	if (error < 0 && tmp.size)
		udfenv_fs_rmtree_quiet(tmp.ptr);
	if (error == 0)
		log_done(label, &st, t0);
	if (stats)
		*stats = error == 0 ? st : (udfenv_extract_stats){0, 0};
	udfenv_buf_dispose(&parent);
	udfenv_buf_dispose(&prefix);
	udfenv_buf_dispose(&tmp);
	return error;
}
