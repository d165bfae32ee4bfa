/*
 * The output of a job, atomic: rows go to a temporary file (or directory of
 * part files) beside the destination, which is fsync'd and renamed into
 * place only once the whole job succeeded. A reader of the destination sees
 * the old output or the complete new one, never a part; a failed job
 * leaves nothing behind. A collect sink writes JSON Lines into memory.
 *
 * A job killed outright (SIGKILL, a crash) cannot remove its temporary
 * output: the next job writing the same destination does. Each job holds
 * an flock on its temporary output for as long as it lives, so one that
 * nobody holds was left by a dead job; the output's directory is locked
 * while a job reclaims those and creates and locks its own.
 */
#include "lib/job_int.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/path.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct job_sink {
	job_sink_type type;
	rows_format format;
	int overwrite;
	udfenv_buf path;     /* the destination, absolute */
	udfenv_buf dir;      /* its directory */
	udfenv_buf tmp;      /* the temporary output; empty once published or removed */
	int tmp_fd;          /* the temporary directory of a directory sink */
	int lock_fd;         /* holds the flock on the temporary output while we live */
	unsigned nwriters;
	int *fds;
	rows_writer **writers;
	udfenv_strvec names; /* each writer's destination, for publish's messages */
	udfenv_buf mem;      /* collect */
};

/* Split `path` into the absolute destination and its directory. */
static int split_destination(const char *path, udfenv_buf *abs, udfenv_buf *dir)
{
	const char *slash;
	int error;

	if ((error = udfenv_path_absolute(abs, path)) < 0)
		return error;
	slash = strrchr(abs->ptr, '/');
	if (slash[1] == '\0')
		return udfenv_error_set(UDFENV_EINVALID, "output '%s' names no file or directory",
					path);
	udfenv_buf_clear(dir);
	return slash == abs->ptr ? udfenv_buf_puts(dir, "/")
				 : udfenv_buf_put(dir, abs->ptr, (size_t)(slash - abs->ptr));
}

static int exists_error(const char *path)
{
	return udfenv_error_set(UDFENV_ECONFLICT, "output '%s' exists; remove it or set overwrite",
				path);
}

int udfenv_job__sink_check(const job_plan *p)
{
	udfenv_buf abs = UDFENV_BUF_INIT, dir = UDFENV_BUF_INIT;
	struct stat st;
	int error;

	if (p->sink_type == JOB_SINK_COLLECT)
		return 0;
	if ((error = split_destination(p->sink_path, &abs, &dir)) < 0)
		goto done;
	if (stat(dir.ptr, &st) < 0) {
		error = errno == ENOENT
				? udfenv_error_set(UDFENV_ENOTFOUND,
						   "the directory of output '%s' does not exist: '%s'",
						   p->sink_path, dir.ptr)
				: udfenv_error_set_os(udfenv_error_from_errno(errno),
						      "the directory of output '%s' cannot be used",
						      p->sink_path);
		goto done;
	}
	if (!S_ISDIR(st.st_mode)) {
		error = udfenv_error_set(UDFENV_EINVALID, "the directory of output '%s' is not a directory: '%s'",
					 p->sink_path, dir.ptr);
		goto done;
	}
	if (lstat(abs.ptr, &st) < 0) {
		if (errno != ENOENT)
			error = udfenv_error_set_os(udfenv_error_from_errno(errno),
						    "output '%s' cannot be checked", p->sink_path);
		goto done;
	}
	if (!p->overwrite)
		error = exists_error(p->sink_path);
	else if (p->sink_type == JOB_SINK_FILE && S_ISDIR(st.st_mode))
		error = udfenv_error_set(UDFENV_ECONFLICT,
					 "output '%s' is a directory; a file output replaces only a file",
					 p->sink_path);
	else if (p->sink_type == JOB_SINK_DIRECTORY && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode))
		error = udfenv_error_set(UDFENV_ECONFLICT,
					 "output '%s' exists and is not a directory; a directory "
					 "output replaces only a directory",
					 p->sink_path);
done:
	udfenv_buf_dispose(&abs);
	udfenv_buf_dispose(&dir);
	return error;
}

/* --- the temporary output ------------------------------------------------ */

/* s->tmp = DIR/.BASE.udfenv-XXXXXX with a fresh random suffix. */
static int temp_name(job_sink *s)
{
	static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	static unsigned counter;
	unsigned char rnd[6];
	char suffix[7];
	const char *base = strrchr(s->path.ptr, '/') + 1;

	if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd)) {
		/* Only uniqueness matters (O_EXCL / mkdir check it): any changing value will do. */
		unsigned long x = (unsigned long)time(NULL) ^ ((unsigned long)getpid() << 16) ^ ++counter;
		for (size_t i = 0; i < sizeof(rnd); i++, x = x * 1103515245u + 12345u)
			rnd[i] = (unsigned char)(x >> 16);
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		suffix[i] = chars[rnd[i] % (sizeof(chars) - 1)];
	suffix[6] = '\0';
	udfenv_buf_clear(&s->tmp);
	return udfenv_buf_printf(&s->tmp, "%s%s.%s.udfenv-%s", s->dir.ptr,
				 strcmp(s->dir.ptr, "/") == 0 ? "" : "/", base, suffix);
}

/* Whether `name` is a temporary output for the destination named `base`: .BASE.udfenv-XXXXXX */
static int is_temp_of(const char *name, const char *base)
{
	size_t n = strlen(base);

	return name[0] == '.' && strncmp(name + 1, base, n) == 0 && strncmp(name + 1 + n, ".udfenv-", 8) == 0 &&
	       strlen(name + 1 + n + 8) == 6;
}

/*
 * Remove the temporary outputs of ours for our destination that no live job
 * holds (the caller holds the directory's lock: none is being made meanwhile).
 * Best effort: what cannot be checked or removed is left, and logged.
 */
static void reclaim_dead(job_sink *s, int dfd)
{
	const char *base = strrchr(s->path.ptr, '/') + 1;
	udfenv_buf path = UDFENV_BUF_INIT;
	int list = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = list >= 0 ? fdopendir(list) : NULL;
	struct dirent *de;
	struct stat st;

	if (d == NULL) {
		if (list >= 0)
			close(list);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		int fd;
		if (!is_temp_of(de->d_name, base) ||
		    (fd = openat(dfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0)
			continue;
		/*
		 * Only a lock we get says its job is gone (one we cannot take, as
		 * on NFS, says nothing); and only our own is ours to remove.
		 */
		if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &st) == 0 && st.st_uid == geteuid()) {
			udfenv_buf_clear(&path);
			if (udfenv_path_join(&path, s->dir.ptr, de->d_name) == 0) {
				udfenv_log(UDFENV_LOG_INFO, "removing the temporary output of a job that died: '%s'",
					   path.ptr);
				if (S_ISDIR(st.st_mode))
					udfenv_fs_rmtree_quiet(path.ptr);
				else if (unlinkat(dfd, de->d_name, 0) < 0 && errno != ENOENT)
					udfenv_log(UDFENV_LOG_WARN, "cannot remove '%s': %s", path.ptr, strerror(errno));
			}
		}
		close(fd);
	}
	closedir(d);
	udfenv_buf_dispose(&path);
}

/*
 * Create the temporary file (dir = 0) or directory and lock it. Made with
 * mode 0666 / 0777 so the umask applies as it would to any new file of the
 * caller's.
 */
static int make_temp(job_sink *s, int dir, int *fd_out)
{
	int error = 0, made = 0, dfd = open(s->dir.ptr, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	/* Without the directory's lock (a signal, a file system without flock) nothing is reclaimed. */
	if (dfd >= 0 && flock(dfd, LOCK_EX) == 0)
		reclaim_dead(s, dfd);
	for (int tries = 0; tries < 100 && !made; tries++) {
		if ((error = temp_name(s)) < 0)
			goto done;
		made = dir ? mkdir(s->tmp.ptr, 0777) == 0
			   : (*fd_out = open(s->tmp.ptr, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666)) >= 0;
		if (!made && errno != EEXIST)
			break;
	}
	if (!made) {
		error = udfenv_error_set_os(udfenv_error_from_errno(errno),
					    "cannot create a temporary output in '%s'", s->dir.ptr);
		udfenv_buf_clear(&s->tmp);
		goto done;
	}
	/* A lock nobody else's reclaim can take while we live; best effort, as above. */
	if ((s->lock_fd = open(s->tmp.ptr, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) >= 0)
		flock(s->lock_fd, LOCK_EX | LOCK_NB);
done:
	if (dfd >= 0)
		close(dfd);
	return error;
}

static int add_writer(job_sink *s, int fd, const char *name, const job_plan *p)
{
	int error;

	/* Counted before anything can fail: udfenv_job__sink_free closes the fd. */
	s->fds[s->nwriters++] = fd;
	if ((error = udfenv_strvec_push(&s->names, name)) < 0)
		return error;
	return rows_writer_open(&s->writers[s->nwriters - 1], s->format, fd,
				fd < 0 ? &s->mem : NULL, name, &p->output);
}

static int open_parts(job_sink *s, const job_plan *p, unsigned parts)
{
	udfenv_buf name = UDFENV_BUF_INIT, shown = UDFENV_BUF_INIT;
	int error = 0, fd;

	if ((error = make_temp(s, 1, NULL)) < 0)
		return error;
	if ((s->tmp_fd = open(s->tmp.ptr, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return udfenv_error_set_os(UDFENV_ERROR, "cannot open '%s'", s->tmp.ptr);
	for (unsigned i = 0; i < parts && error == 0; i++) {
		udfenv_buf_clear(&name);
		udfenv_buf_clear(&shown);
		if ((error = udfenv_buf_printf(&name, "part-%05u.%s", i, rows_format_name(s->format))) < 0 ||
		    (error = udfenv_buf_printf(&shown, "%s/%s", s->path.ptr, name.ptr)) < 0)
			break;
		fd = openat(s->tmp_fd, name.ptr, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (fd < 0) {
			error = udfenv_error_set_os(udfenv_error_from_errno(errno), "cannot create '%s/%s'",
						    s->tmp.ptr, name.ptr);
			break;
		}
		error = add_writer(s, fd, shown.ptr, p);
	}
	udfenv_buf_dispose(&name);
	udfenv_buf_dispose(&shown);
	return error;
}

int udfenv_job__sink_open(job_sink **out, const job_plan *p, unsigned parts)
{
	job_sink *s;
	unsigned n = p->sink_type == JOB_SINK_DIRECTORY ? parts : 1;
	int error = 0, fd = -1;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	s->tmp_fd = s->lock_fd = -1;
	if ((s->fds = calloc(n, sizeof(int))) == NULL ||
	    (s->writers = calloc(n, sizeof(rows_writer *))) == NULL) {
		error = udfenv_error_set(UDFENV_ENOMEM, "out of memory");
		goto done;
	}
	s->type = p->sink_type;
	s->format = p->sink_format;
	s->overwrite = p->overwrite;
	switch (s->type) {
	case JOB_SINK_COLLECT:
		error = add_writer(s, -1, "the collected rows", p);
		break;
	case JOB_SINK_FILE:
		if ((error = split_destination(p->sink_path, &s->path, &s->dir)) < 0 ||
		    (error = make_temp(s, 0, &fd)) < 0)
			break;
		error = add_writer(s, fd, s->path.ptr, p);
		break;
	case JOB_SINK_DIRECTORY:
		if ((error = split_destination(p->sink_path, &s->path, &s->dir)) == 0)
			error = open_parts(s, p, parts);
		break;
	}
done:
	if (error < 0)
		udfenv_job__sink_free(s);
	else
		*out = s;
	return error;
}

int udfenv_job__sink_write(job_sink *s, unsigned part, const rows_batch *b)
{
	return rows_writer_write(s->writers[s->type == JOB_SINK_DIRECTORY ? part : 0], b);
}

/* --- publishing ---------------------------------------------------------- */

/* Make a rename in `dir` durable; a failure only costs durability, so it is logged. */
static void sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) < 0)
		udfenv_log(UDFENV_LOG_WARN, "cannot sync directory '%s': %s", dir, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* Replace the existing directory s->path by s->tmp, then remove the old one. */
static int exchange_dirs(job_sink *s)
{
	udfenv_buf old = UDFENV_BUF_INIT;
	int error = 0;

	if (renameat2(AT_FDCWD, s->tmp.ptr, AT_FDCWD, s->path.ptr, RENAME_EXCHANGE) == 0) {
		/* s->tmp now names the old output. */
		if (udfenv_fs_rmtree(s->tmp.ptr) < 0)
			udfenv_log(UDFENV_LOG_WARN, "%s", udfenv_error_last()->message);
		udfenv_buf_clear(&s->tmp);
		return 0;
	}
	if (errno != EINVAL && errno != ENOSYS)
		return udfenv_error_set_os(UDFENV_ERROR, "cannot replace output '%s'", s->path.ptr);
	/* No atomic exchange on this file system: move the old one aside first. */
	if ((error = udfenv_buf_printf(&old, "%s-old", s->tmp.ptr)) < 0)
		goto done;
	if (rename(s->path.ptr, old.ptr) < 0) {
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot replace output '%s'", s->path.ptr);
		goto done;
	}
	if (rename(s->tmp.ptr, s->path.ptr) < 0) {
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot replace output '%s'", s->path.ptr);
		rename(old.ptr, s->path.ptr);
		goto done;
	}
	udfenv_buf_clear(&s->tmp);
	if (udfenv_fs_rmtree(old.ptr) < 0)
		udfenv_log(UDFENV_LOG_WARN, "%s", udfenv_error_last()->message);
done:
	udfenv_buf_dispose(&old);
	return error;
}

/* Rename s->tmp to s->path: over an existing output only with overwrite. */
static int move_into_place(job_sink *s)
{
	struct stat st;

	if (s->overwrite && s->type == JOB_SINK_FILE) {
		if (rename(s->tmp.ptr, s->path.ptr) < 0)
			return udfenv_error_set_os(UDFENV_ERROR, "cannot move the output to '%s'",
						   s->path.ptr);
		udfenv_buf_clear(&s->tmp);
		return 0;
	}
	if (renameat2(AT_FDCWD, s->tmp.ptr, AT_FDCWD, s->path.ptr, RENAME_NOREPLACE) == 0) {
		udfenv_buf_clear(&s->tmp);
		return 0;
	}
	if (errno == EEXIST) /* it appeared while the job ran */
		return s->overwrite ? exchange_dirs(s) : exists_error(s->path.ptr);
	if (errno != EINVAL && errno != ENOSYS)
		return udfenv_error_set_os(UDFENV_ERROR, "cannot move the output to '%s'", s->path.ptr);

	/* The file system has no RENAME_NOREPLACE. A file: link(2) refuses to replace. */
	if (s->type == JOB_SINK_FILE) {
		if (link(s->tmp.ptr, s->path.ptr) < 0)
			return errno == EEXIST ? exists_error(s->path.ptr)
					       : udfenv_error_set_os(UDFENV_ERROR,
								     "cannot move the output to '%s'",
								     s->path.ptr);
		unlink(s->tmp.ptr);
		udfenv_buf_clear(&s->tmp);
		return 0;
	}
	/* A directory: rename(2) would replace an empty one; check first (not atomic). */
	if (lstat(s->path.ptr, &st) == 0)
		return s->overwrite ? exchange_dirs(s) : exists_error(s->path.ptr);
	if (rename(s->tmp.ptr, s->path.ptr) < 0)
		return udfenv_error_set_os(UDFENV_ERROR, "cannot move the output to '%s'", s->path.ptr);
	udfenv_buf_clear(&s->tmp);
	return 0;
}

int udfenv_job__sink_publish(job_sink *s, char **collected, size_t *collected_len)
{
	int error;

	for (unsigned i = 0; i < s->nwriters; i++) {
		if ((error = rows_writer_finish(s->writers[i])) < 0)
			return error;
		if (s->fds[i] < 0)
			continue;
		/* The rename must not reach the disk before the data does. */
		if (fsync(s->fds[i]) < 0 || close(s->fds[i]) < 0) {
			error = udfenv_error_set_os(UDFENV_ERROR, "cannot write '%s'", s->names.items[i]);
			s->fds[i] = -1;
			return error;
		}
		s->fds[i] = -1;
	}
	if (s->type == JOB_SINK_COLLECT) {
		*collected_len = s->mem.size;
		if ((*collected = udfenv_buf_detach(&s->mem)) == NULL)
			return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
		return 0;
	}
	if (s->tmp_fd >= 0 && fsync(s->tmp_fd) < 0)
		return udfenv_error_set_os(UDFENV_ERROR, "cannot write '%s'", s->tmp.ptr);
	if ((error = move_into_place(s)) < 0)
		return error;
	sync_dir(s->dir.ptr);
	return 0;
}

void udfenv_job__sink_free(job_sink *s)
{
	if (s == NULL)
		return;
	for (unsigned i = 0; i < s->nwriters; i++) {
		if (s->writers[i])
			rows_writer_free(s->writers[i]);
		if (s->fds[i] >= 0)
			close(s->fds[i]);
	}
	if (s->tmp_fd >= 0)
		close(s->tmp_fd);
	if (s->tmp.size) {
		if (s->type == JOB_SINK_FILE)
			unlink(s->tmp.ptr);
		else
			udfenv_fs_rmtree_quiet(s->tmp.ptr);
	}
	/* Last: until the temporary output is gone or published, no reclaim may take it. */
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	free(s->fds);
	free(s->writers);
	udfenv_strvec_dispose(&s->names);
	udfenv_buf_dispose(&s->path);
	udfenv_buf_dispose(&s->dir);
	udfenv_buf_dispose(&s->tmp);
	udfenv_buf_dispose(&s->mem);
	free(s);
}
