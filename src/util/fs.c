#include "util/fs.h"
#include "util/error.h"
#include "util/log.h"
#include "util/path.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

int udfenv_fs_mkdir_p(const char *path, mode_t mode)
{
	udfenv_buf p = UDFENV_BUF_INIT;
	struct stat st;
	int error = 0;

	if (path[0] == '\0')
		return udfenv_error_set(UDFENV_EINVALID, "the directory path is empty");
	/* Mostly only the last one is missing (a tree made in order): one call. */
	if (mkdir(path, mode) == 0)
		return 0;
	if (errno == EEXIST)
		goto check;
	if ((error = udfenv_buf_sets(&p, path)) < 0)
		return error;
	for (char *s = p.ptr + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p.ptr, mode) < 0 && errno != EEXIST) {
			error = udfenv_error_set_os(udfenv_error_from_errno(errno),
						    "cannot create directory '%s'", p.ptr);
			goto done;
		}
		*s = c;
		if (c == '\0')
			break;
	}
check:
	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		error = udfenv_error_set(UDFENV_ECONFLICT, "'%s' exists and is not a directory", path);
done:
	udfenv_buf_dispose(&p);
	return error;
}

/* Empty the directory `path`, open at `fd` (which this function closes). */
static int rmtree_at(int fd, const char *path)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	udfenv_buf sub_path = UDFENV_BUF_INIT;
	int error = 0;

	if (d == NULL) {
		close(fd);
		return udfenv_error_set_os(UDFENV_ERROR, "cannot read directory '%s'", path);
	}
	while ((de = readdir(d)) != NULL) {
		const char *n = de->d_name;
		if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), n, 0) == 0 || errno == ENOENT)
			continue;
		if (errno != EISDIR && errno != EPERM) {
			error = udfenv_error_set_os(UDFENV_ERROR, "cannot remove '%s/%s'", path, n);
			break;
		}
		/* A directory: make it ours to empty, then descend without following links. */
		fchmodat(dirfd(d), n, 0700, 0);
		int sub = openat(dirfd(d), n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {
			error = udfenv_error_set_os(UDFENV_ERROR, "cannot open '%s/%s'", path, n);
			break;
		}
		if ((error = udfenv_path_join(&sub_path, path, n)) < 0) {
			close(sub);
			break;
		}
		if ((error = rmtree_at(sub, sub_path.ptr)) < 0)
			break;
		if (unlinkat(dirfd(d), n, AT_REMOVEDIR) < 0 && errno != ENOENT) {
			error = udfenv_error_set_os(UDFENV_ERROR, "cannot remove '%s/%s'", path, n);
			break;
		}
	}
	closedir(d);
	udfenv_buf_dispose(&sub_path);
	return error;
}

int udfenv_fs_rmtree(const char *path)
{
	int fd, error;

	if (unlink(path) == 0 || errno == ENOENT)
		return 0;
	chmod(path, 0700);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return udfenv_error_set_os(UDFENV_ERROR, "cannot remove '%s'", path);
	if ((error = rmtree_at(fd, path)) < 0)
		return error;
	if (rmdir(path) < 0 && errno != ENOENT)
		return udfenv_error_set_os(UDFENV_ERROR, "cannot remove '%s'", path);
	return 0;
}

void udfenv_fs_rmtree_quiet(const char *path)
{
	static _Thread_local udfenv_error_saved saved;

	udfenv_error_save(&saved);
	if (udfenv_fs_rmtree(path) < 0)
		udfenv_log(UDFENV_LOG_WARN, "%s", udfenv_error_last()->message);
	udfenv_error_restore(&saved);
}

int udfenv_fs_mkdtemp(udfenv_buf *out, const char *parent, const char *prefix)
{
	int error;

	udfenv_buf_clear(out);
	if ((error = udfenv_buf_printf(out, "%s/%sXXXXXX", parent, prefix)) < 0)
		return error;
	if (mkdtemp(out->ptr) == NULL) {
		error = udfenv_error_set_os(udfenv_error_from_errno(errno),
					    "cannot create a temporary directory in '%s'", parent);
		udfenv_buf_clear(out); /* the name mkdtemp last tried is not ours */
		return error;
	}
	return 0;
}

int udfenv_fs_mkstemp(udfenv_buf *out, const char *dir, int *fd_out)
{
	int error;

	udfenv_buf_clear(out);
	if ((error = udfenv_buf_printf(out, "%s/.tmp-XXXXXX", dir)) < 0)
		return error;
	if ((*fd_out = mkostemp(out->ptr, O_CLOEXEC)) < 0)
		return udfenv_error_set_os(udfenv_error_from_errno(errno),
					   "cannot create a temporary file in '%s'", dir);
	return 0;
}

int udfenv_fs_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return udfenv_error_from_errno(errno);
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Clone or copy the open regular file `in` into the open `out`; -1 and errno on failure. */
static int copy_fd(int in, int out)
{
	char block[65536];
	ssize_t n;

	if (ioctl(out, FICLONE, in) == 0)
		return 0;
	while ((n = copy_file_range(in, NULL, out, NULL, 1u << 30, 0)) > 0 || (n < 0 && errno == EINTR))
		;
	if (n == 0)
		return 0;
	if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
		return -1;
	/* The offsets moved with whatever copy_file_range did copy: go on from there. */
	while ((n = read(in, block, sizeof(block))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || udfenv_fs_write_all(out, block, (size_t)n) < 0)
			return -1;
	}
	return 0;
}

int udfenv_fs_copy_file(const char *src, const char *dst, mode_t mode)
{
	int in = -1, out = -1, error = 0;

	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0) {
		error = udfenv_error_set_os(udfenv_error_from_errno(errno), "cannot open '%s'", src);
		goto done;
	}
	if ((out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)) < 0) {
		error = udfenv_error_set_os(udfenv_error_from_errno(errno), "cannot create '%s'", dst);
		goto done;
	}
	if (copy_fd(in, out) < 0) {
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot copy '%s' to '%s'", src, dst);
		goto done;
	}
	if (fchmod(out, mode) < 0)
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot set the mode of '%s'", dst);
done:
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) < 0 && error == 0)
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot write '%s'", dst);
	return error;
}

static int copy_tree_at(int sfd, int dfd, const char *src, const char *dst);

/* copy_tree_at on the subdir `n` of `src` and `dst` (the names are for messages). */
static int copy_subtree_at(int sfd, int dfd, const char *src, const char *dst, const char *n)
{
	udfenv_buf sub_src = UDFENV_BUF_INIT, sub_dst = UDFENV_BUF_INIT;
	int error;

	if ((error = udfenv_path_join(&sub_src, src, n)) < 0 || (error = udfenv_path_join(&sub_dst, dst, n)) < 0) {
		close(sfd);
		close(dfd);
	} else {
		error = copy_tree_at(sfd, dfd, sub_src.ptr, sub_dst.ptr);
	}
	udfenv_buf_dispose(&sub_src);
	udfenv_buf_dispose(&sub_dst);
	return error;
}

/* Copy what the directory open at `sfd` holds into the one open at `dfd` (closes both). */
static int copy_tree_at(int sfd, int dfd, const char *src, const char *dst)
{
	DIR *d = fdopendir(sfd);
	struct dirent *de;
	int error = 0;

	if (d == NULL) {
		close(sfd);
		close(dfd);
		return udfenv_error_set_os(UDFENV_ERROR, "cannot read directory '%s'", src);
	}
	while (error == 0 && (de = readdir(d)) != NULL) {
		const char *n = de->d_name;
		char target[PATH_MAX];
		struct stat st;
		ssize_t len;
		int in, out;

		if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
			continue;
		if (fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			error = udfenv_error_set_os(UDFENV_ERROR, "cannot stat '%s/%s'", src, n);
		} else if (S_ISDIR(st.st_mode)) {
			if (mkdirat(dfd, n, 0700) < 0 ||
			    (in = openat(dirfd(d), n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
				error = udfenv_error_set_os(UDFENV_ERROR, "cannot copy '%s/%s' to '%s'", src, n, dst);
			else if ((out = openat(dfd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
				close(in);
				error = udfenv_error_set_os(UDFENV_ERROR, "cannot copy '%s/%s' to '%s'", src, n, dst);
			} else if ((error = copy_subtree_at(in, out, src, dst, n)) == 0 &&
				   fchmodat(dfd, n, st.st_mode & 07777, 0) < 0)
				error = udfenv_error_set_os(UDFENV_ERROR, "cannot set the mode of '%s/%s'", dst, n);
		} else if (S_ISLNK(st.st_mode)) {
			if ((len = readlinkat(dirfd(d), n, target, sizeof(target) - 1)) < 0 ||
			    (target[len] = '\0', symlinkat(target, dfd, n) < 0))
				error = udfenv_error_set_os(UDFENV_ERROR, "cannot copy the link '%s/%s' to '%s'", src, n,
							    dst);
		} else if (S_ISREG(st.st_mode)) {
			in = openat(dirfd(d), n, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			out = openat(dfd, n, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, st.st_mode & 07777);
			if (in < 0 || out < 0 || copy_fd(in, out) < 0 || fchmod(out, st.st_mode & 07777) < 0)
				error = udfenv_error_set_os(UDFENV_ERROR, "cannot copy '%s/%s' to '%s'", src, n, dst);
			if (in >= 0)
				close(in);
			if (out >= 0 && close(out) < 0 && error == 0)
				error = udfenv_error_set_os(UDFENV_ERROR, "cannot write '%s/%s'", dst, n);
		} else {
			error = udfenv_error_set(UDFENV_EUNSAFE, "'%s/%s' is not a file, directory or link", src, n);
		}
	}
	closedir(d);
	close(dfd);
	return error;
}

int udfenv_fs_copy_tree(const char *src, const char *dst)
{
	int sfd, dfd;
	struct stat st;

	if ((sfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return udfenv_error_set_os(udfenv_error_from_errno(errno), "cannot open '%s'", src);
	if (fstat(sfd, &st) < 0 || mkdir(dst, 0700) < 0 ||
	    (dfd = open(dst, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		close(sfd);
		return udfenv_error_set_os(udfenv_error_from_errno(errno), "cannot create '%s'", dst);
	}
	if (fchmod(dfd, st.st_mode & 07777) < 0) {
		close(sfd);
		close(dfd);
		return udfenv_error_set_os(UDFENV_ERROR, "cannot set the mode of '%s'", dst);
	}
	return copy_tree_at(sfd, dfd, src, dst);
}

int udfenv_fs_read_file(udfenv_buf *out, const char *path, size_t max)
{
	int fd, error = 0;
	char block[65536];
	ssize_t n;

	udfenv_buf_clear(out);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return udfenv_error_set_os(udfenv_error_from_errno(errno), "cannot open '%s'", path);
	if ((error = udfenv_buf_put(out, "", 0)) < 0) { /* a C string even when empty */
		close(fd);
		return error;
	}
	while ((n = read(fd, block, sizeof(block))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error = udfenv_error_set_os(UDFENV_ERROR, "cannot read '%s'", path);
			break;
		}
		if (out->size + (size_t)n > max) {
			error = udfenv_error_set(UDFENV_ELIMIT, "'%s' is larger than %zu bytes", path, max);
			break;
		}
		if ((error = udfenv_buf_put(out, block, (size_t)n)) < 0)
			break;
	}
	close(fd);
	return error;
}

int udfenv_fs_write_new(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);

	if (fd < 0)
		return udfenv_error_set_os(udfenv_error_from_errno(errno), "cannot create '%s'", path);
	int failed = udfenv_fs_write_all(fd, data, len) < 0 || fchmod(fd, mode) < 0;

	if ((close(fd) < 0) | failed) {
		int error = udfenv_error_set_os(UDFENV_ERROR, "cannot write '%s'", path);
		unlink(path);
		return error;
	}
	return 0;
}

int udfenv_fs_read_tail(udfenv_buf *out, const char *path, size_t max)
{
	struct stat st;
	ssize_t n;
	int fd, error = 0;

	udfenv_buf_clear(out);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return udfenv_error_set_os(udfenv_error_from_errno(errno), "cannot open '%s'", path);
	if (fstat(fd, &st) < 0 || (st.st_size > (off_t)max && lseek(fd, st.st_size - (off_t)max, SEEK_SET) < 0) ||
	    (error = udfenv_buf_grow(out, max)) < 0) {
		error = error < 0 ? error : udfenv_error_set_os(UDFENV_ERROR, "cannot read '%s'", path);
		goto done;
	}
	while (out->size < max && (n = read(fd, out->ptr + out->size, max - out->size)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error = udfenv_error_set_os(UDFENV_ERROR, "cannot read '%s'", path);
			break;
		}
		out->size += (size_t)n;
	}
	out->ptr[out->size] = '\0';
done:
	close(fd);
	return error;
}

static int write_atomic(const char *path, const void *data, size_t len, mode_t mode, int sync)
{
	udfenv_buf dir = UDFENV_BUF_INIT, tmp = UDFENV_BUF_INIT;
	int fd = -1, error;

	if ((error = udfenv_path_dirname(&dir, path)) < 0 ||
	    (error = udfenv_fs_mkstemp(&tmp, dir.size ? dir.ptr : ".", &fd)) < 0)
		goto done;
	error = udfenv_fs_write_all(fd, data, len) < 0 || fchmod(fd, mode) < 0 || (sync && fsync(fd) < 0);
	error |= close(fd) < 0;
	fd = -1;
	if (error) {
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot write '%s'", path);
		goto done;
	}
	if (rename(tmp.ptr, path) < 0)
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot write '%s'", path);
done:
	if (fd >= 0)
		close(fd);
	if (error < 0 && tmp.size)
		unlink(tmp.ptr);
	udfenv_buf_dispose(&dir);
	udfenv_buf_dispose(&tmp);
	return error;
}

int udfenv_fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	return write_atomic(path, data, len, mode, 1);
}

int udfenv_fs_write_replace(const char *path, const void *data, size_t len, mode_t mode)
{
	return write_atomic(path, data, len, mode, 0);
}
