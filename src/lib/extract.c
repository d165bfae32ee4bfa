/*
 * Archive extraction: the driver. The parent makes a private temp dir beside
 * the destination and forks a helper; the helper reads the archive through
 * extract_read.c (zip and tar only; every entry checked against the policy
 * before anything of it is written), registers names, writes through
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
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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
	xreader rd;
	const char *archive; /* path of the archive file */
	const char *label;
	const udfenv_extract_limits *lim;
	const char *tmpdir; /* the private dir to extract into */
	struct archive *out;
	udfenv_buf link;              /* normalized target of a hard link */
	struct archive_entry **links; /* symlinks, created once everything else is */
	size_t nlinks, alinks;
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

static int open_writer(xjob *j)
{
	if ((j->out = archive_write_disk_new()) == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	if (archive_write_disk_set_options(j->out, XWRITE_FLAGS) != ARCHIVE_OK)
		return udfenv_libarchive__setup_error(j->out);
	return 0;
}

static int write_error(xjob *j, const char *name)
{
	char why[UDFENV_LIBARCHIVE_REASON_SIZE];
	int err = udfenv_libarchive__reason(why, j->out);

	udfenv_extract__entry_error(&j->rd.pol, UDFENV_ERROR, name, "cannot be written: %s", why);
	return udfenv_error_set_os_errno(err);
}

/* Copy the entry's data (the reader refuses more than the header declared). */
static int copy_data(xjob *j)
{
	const void *buf;
	size_t len;
	la_int64_t off;
	int r;

	while ((r = udfenv_extract__reader_block(&j->rd, &buf, &len, &off)) > 0)
		if (archive_write_data_block(j->out, buf, len, off) != ARCHIVE_OK)
			return write_error(j, j->rd.name.ptr);
	return r;
}

/* ---- the helper: entries ---- */

static int write_entry(xjob *j, struct archive_entry *e, int with_data)
{
	int error;

	if (archive_write_header(j->out, e) != ARCHIVE_OK)
		return write_error(j, archive_entry_pathname(e));
	if (with_data && (error = copy_data(j)) < 0)
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

/* A tar hard link: only to a regular file this archive already extracted. */
static int extract_hardlink(xjob *j, struct archive_entry *e, const char *raw)
{
	char shown[UDFENV_TEXT_SHOW_SIZE];
	int error = udfenv_extract__normalize(&j->rd.pol, &j->link, raw, j->rd.name.ptr);

	if (error == UDFENV_ENOMEM)
		return error;
	/* A link to "./" normalizes to "", whose buffer may be unset (NULL). */
	if (error < 0 || !udfenv_extract__is_file(&j->rd.pol, udfenv_buf_cstr(&j->link))) {
		udfenv_text_show(shown, raw);
		return udfenv_extract__entry_error(
		    &j->rd.pol, UDFENV_EUNSAFE, j->rd.name.ptr,
		    "is a hard link to '%s', which is not a file extracted before it from "
		    "this archive",
		    shown);
	}
	if ((error = udfenv_extract__register(&j->rd.pol, j->rd.name.ptr, XNAME_FILE, NULL)) < 0)
		return error;
	archive_entry_copy_pathname(e, j->rd.name.ptr);
	archive_entry_copy_hardlink(e, j->link.ptr);
	fix_mode(e, XNAME_FILE);
	return write_entry(j, e, 1);
}

static int defer_symlink(xjob *j, struct archive_entry *e)
{
	const char *target = archive_entry_symlink(e);
	struct archive_entry *c;
	int error;

	if ((error = udfenv_extract__check_link_target(&j->rd.pol, j->rd.name.ptr, target)) < 0 ||
	    (error = udfenv_extract__register(&j->rd.pol, j->rd.name.ptr, XNAME_SYMLINK, target)) < 0)
		return error;
	if ((error = udfenv_array_reserve((void **)&j->links, &j->alinks, j->nlinks,
	                                  sizeof(*j->links))) < 0)
		return error;
	if ((c = archive_entry_clone(e)) == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	archive_entry_copy_pathname(c, j->rd.name.ptr);
	archive_entry_set_size(c, 0);
	j->links[j->nlinks++] = c;
	return 0;
}

static int extract_plain(xjob *j, struct archive_entry *e, int kind)
{
	int error;

	if ((error = udfenv_extract__register(&j->rd.pol, j->rd.name.ptr, kind, NULL)) < 0)
		return error;
	archive_entry_copy_pathname(e, j->rd.name.ptr);
	fix_mode(e, kind);
	return write_entry(j, e, kind == XNAME_FILE);
}

static int extract_entries(xjob *j)
{
	struct archive_entry *e;
	int r, error;

	while ((r = udfenv_extract__reader_next(&j->rd, &e)) > 0) {
		if (archive_entry_hardlink(e))
			error = extract_hardlink(j, e, archive_entry_hardlink(e));
		else if (archive_entry_filetype(e) == AE_IFLNK)
			error = defer_symlink(j, e);
		else
			error = extract_plain(j, e,
			                      archive_entry_filetype(e) == AE_IFDIR ? XNAME_DIR : XNAME_FILE);
		if (error < 0)
			return error;
	}
	return r;
}

/* Every other entry is on disk: check each symlink against all of them, then create them. */
static int finish_symlinks(xjob *j)
{
	size_t i;
	int error;

	for (i = 0; i < j->nlinks; i++) {
		if ((error =
		         udfenv_extract__resolve_link(&j->rd.pol, archive_entry_pathname(j->links[i]),
		                                      archive_entry_symlink(j->links[i]))) < 0)
			return error;
	}
	for (i = 0; i < j->nlinks; i++) {
		if ((error = write_entry(j, j->links[i], 0)) < 0)
			return error;
	}
	if (archive_write_close(j->out) != ARCHIVE_OK) {
		char why[UDFENV_LIBARCHIVE_REASON_SIZE];
		int err = udfenv_libarchive__reason(why, j->out);

		udfenv_error_set(UDFENV_ERROR, "archive '%s': cannot finish extraction: %s", j->label, why);
		return udfenv_error_set_os_errno(err);
	}
	return 0;
}

static int run_job(xjob *j)
{
	int error;

	umask(022); /* the mode of parent dirs libarchive creates on its own */
	if ((error = udfenv_extract__reader_open(&j->rd, j->archive, j->label, j->lim, 0)) < 0 ||
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
	if (j->out)
		archive_write_free(j->out);
	udfenv_buf_dispose(&j->link);
	udfenv_extract__reader_dispose(&j->rd);
}

static void send_report(int fd, int error, const udfenv_extract_stats *stats)
{
	const char *msg = error < 0 ? udfenv_error_last()->message : "";
	size_t len = strlen(msg) < XREPORT_MSG_MAX ? strlen(msg) : XREPORT_MSG_MAX;
	xreport_head h;

	/* Zeroed whole: the padding goes down the pipe too (valgrind checks it). */
	memset(&h, 0, sizeof(h));
	h.code = error;
	h.os_errno = error < 0 ? udfenv_error_os_errno() : 0;
	h.msg_len = (uint32_t)len;
	h.entries = stats->entries;
	h.bytes = stats->bytes;
	if (udfenv_fs_write_all(fd, &h, sizeof(h)) == 0)
		udfenv_fs_write_all(fd, msg, len);
}

/* The helper process: never returns. */
__attribute__((noreturn)) static void child_main(xjob *j, int report_fd)
{
	int error;

	/*
	 * Zip times are local times: without TZ, glibc stats /etc/localtime on
	 * every conversion, once per entry. Naming the same zone makes it read
	 * it once. (Here in the helper only: the caller's TZ is untouched.)
	 */
	if (getenv("TZ") == NULL)
		setenv("TZ", ":/etc/localtime", 1);
	error = run_job(j);

	send_report(report_fd, error, &j->rd.stats);
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
	return report_result(j->label, have, &rep, error < 0 ? 0 : status, stats);
}

/* Set by udfenv_extract__set_inprocess: the helper's work runs in this process. */
static int inprocess;

void udfenv_extract__set_inprocess(int on)
{
	inprocess = on;
}

/*
 * The helper's work done here instead (udfenv_extract__set_inprocess), so a
 * fuzzer's coverage and sanitizers see it; the cwd and umask it changes are
 * restored after.
 */
static int run_here(xjob *j, udfenv_extract_stats *stats)
{
	int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), error;
	mode_t mask = umask(022);

	if (cwd < 0) {
		umask(mask);
		return udfenv_error_set_os(UDFENV_ERROR, "cannot open the current directory");
	}
	if ((error = run_job(j)) == 0)
		*stats = j->rd.stats;
	job_dispose(j);
	if (fchdir(cwd) < 0 && error == 0)
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot return to the current directory");
	close(cwd);
	umask(mask);
	return error;
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
	if ((error = check_paths(archive, dest, label)) < 0 ||
	    (error = temp_names(&parent, &prefix, dest)) < 0 ||
	    (error = udfenv_fs_mkdtemp(&tmp, parent.ptr, prefix.ptr)) < 0)
		goto done;
	j.label = label;
	j.lim = lim;
	j.archive = archive;
	j.tmpdir = tmp.ptr;
	if ((error = inprocess ? run_here(&j, &st) : run_helper(&j, &st)) < 0)
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
