/*
 * Deterministic packing of a directory tree into a pax tar: the same tree
 * gives the same bytes whatever its timestamps, owners, inode order or the
 * locale, so the digest of a packed directory identifies its content.
 */
#include "lib/extract.h"
#include "lib/libarchive.h"
#include "lib/extract_int.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/path.h"
#include "util/text.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Deeper trees are refused: every level holds a directory fd. */
#define PACK_MAX_DEPTH 256
#define PACK_BLOCK (64 * 1024)

typedef struct {
	const char *dir; /* as the caller named it, for messages */
	struct archive *a;
	struct archive_entry *e;
	udfenv_buf rel; /* path of the current entry relative to `dir` */
	char *block;
	char shown[UDFENV_TEXT_SHOW_SIZE]; /* `rel` made printable for a message */
} packer;

static int pack_dir(packer *p, int dfd, unsigned depth);

/* The current path for a one-line message: control characters and bad UTF-8 escaped. */
static const char *rel_shown(packer *p)
{
	udfenv_text_show(p->shown, udfenv_buf_cstr(&p->rel));
	return p->shown;
}

/* libarchive's message about `what` ("dir" or "dir/rel"), with the system's reason, kept. */
static int lib_error(packer *p, const char *what)
{
	char why[UDFENV_LIBARCHIVE_REASON_SIZE];
	int err = udfenv_libarchive__reason(why, p->a);

	udfenv_error_set(UDFENV_ERROR, "cannot pack '%s': %s", what, why);
	return udfenv_error_set_os_errno(err);
}

static int archive_error(packer *p)
{
	udfenv_buf what = UDFENV_BUF_INIT;
	int error = udfenv_buf_printf(&what, "%s/%s", p->dir, rel_shown(p));

	if (error == 0)
		error = lib_error(p, what.ptr);
	udfenv_buf_dispose(&what);
	return error;
}

static int os_error(packer *p, const char *what)
{
	int saved = errno;
	const char *rel = rel_shown(p);

	errno = saved;
	return udfenv_error_set_os(udfenv_error_from_errno(errno), "cannot %s '%s/%s'", what,
	                           p->dir, rel);
}

static int unsafe(packer *p, const char *why)
{
	return udfenv_error_set(UDFENV_EUNSAFE, "cannot pack '%s/%s': %s", p->dir, rel_shown(p),
	                        why);
}

/* A fresh header for the current entry: nothing but what the tree decides. */
static void reset_entry(packer *p, mode_t type, mode_t perm)
{
	archive_entry_clear(p->e);
	archive_entry_copy_pathname(p->e, p->rel.ptr);
	archive_entry_set_filetype(p->e, type);
	archive_entry_set_perm(p->e, perm & 0777);
	archive_entry_set_mtime(p->e, 0, 0);
	archive_entry_set_uid(p->e, 0);
	archive_entry_set_gid(p->e, 0);
}

/* Whether the relative symlink `target`, in the directory at `depth`, stays inside. */
static int target_stays_inside(const char *target, unsigned depth)
{
	long d = (long)depth;
	const char *cursor, *c;
	size_t len;

	if (target[0] == '/' || target[0] == '\0')
		return 0;
	for (cursor = target; (c = udfenv_path_next(&cursor, &len)) != NULL;)
		if ((d += UDFENV_PATH_IS_DOTDOT(c, len) ? -1 : 1) < 0)
			return 0;
	return 1;
}

static int pack_symlink(packer *p, int dfd, const char *name, unsigned depth)
{
	udfenv_buf target = UDFENV_BUF_INIT;
	ssize_t n = 0;
	int error;

	if ((error = udfenv_buf_grow(&target, 4096)) < 0)
		goto done;
	if ((n = readlinkat(dfd, name, target.ptr, target.asize)) < 0 ||
	    (size_t)n >= target.asize) {
		error =
		    n < 0 ? os_error(p, "read the symlink") : unsafe(p, "symlink target too long");
		goto done;
	}
	target.ptr[n] = '\0';
	if (!target_stays_inside(target.ptr, depth)) {
		char shown[UDFENV_TEXT_SHOW_SIZE];
		udfenv_text_show(shown, target.ptr);
		error = udfenv_error_set(UDFENV_EUNSAFE,
		                         "cannot pack '%s/%s': symlink to '%s' leads out of the "
		                         "directory",
		                         p->dir, rel_shown(p), shown);
		goto done;
	}
	reset_entry(p, AE_IFLNK, 0777);
	archive_entry_copy_symlink(p->e, target.ptr);
	if (archive_write_header(p->a, p->e) != ARCHIVE_OK)
		error = archive_error(p);
done:
	udfenv_buf_dispose(&target);
	return error;
}

static int copy_file(packer *p, int fd, off_t size)
{
	off_t total = 0;
	ssize_t n;

	while ((n = read(fd, p->block, PACK_BLOCK)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return os_error(p, "read");
		if (n > size - total)
			break;
		if (archive_write_data(p->a, p->block, (size_t)n) != n)
			return archive_error(p);
		total += n;
	}
	if (total != size || n != 0)
		return udfenv_error_set(UDFENV_ERROR,
		                        "cannot pack '%s/%s': it changed while being packed",
		                        p->dir, rel_shown(p));
	return 0;
}

static int pack_file(packer *p, int dfd, const char *name)
{
	struct stat st;
	int fd, error = 0;

	if ((fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return os_error(p, "open");
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		error = udfenv_error_set(UDFENV_ERROR,
		                         "cannot pack '%s/%s': it changed while being packed",
		                         p->dir, rel_shown(p));
		goto done;
	}
	reset_entry(p, AE_IFREG, st.st_mode);
	archive_entry_set_size(p->e, st.st_size);
	if (archive_write_header(p->a, p->e) != ARCHIVE_OK) {
		error = archive_error(p);
		goto done;
	}
	error = copy_file(p, fd, st.st_size);
done:
	close(fd);
	return error;
}

static int pack_subdir(packer *p, int dfd, const char *name, mode_t mode, unsigned depth)
{
	int fd;

	if (depth >= PACK_MAX_DEPTH)
		return udfenv_error_set(UDFENV_ELIMIT,
		                        "cannot pack '%s/%s': deeper than %d directories", p->dir,
		                        rel_shown(p), PACK_MAX_DEPTH);
	reset_entry(p, AE_IFDIR, mode);
	if (archive_write_header(p->a, p->e) != ARCHIVE_OK)
		return archive_error(p);
	if ((fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return os_error(p, "open");
	return pack_dir(p, fd, depth + 1);
}

/* One entry of the directory open at `dfd`, at `depth` (0: the top). */
static int pack_one(packer *p, int dfd, const char *name, unsigned depth)
{
	size_t keep = p->rel.size;
	struct stat st;
	int error;

	if ((keep && (error = udfenv_buf_putc(&p->rel, '/')) < 0) ||
	    (error = udfenv_buf_puts(&p->rel, name)) < 0)
		return error;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		error = os_error(p, "read");
	else if (S_ISDIR(st.st_mode))
		error = pack_subdir(p, dfd, name, st.st_mode, depth);
	else if (S_ISREG(st.st_mode))
		error = pack_file(p, dfd, name);
	else if (S_ISLNK(st.st_mode))
		error = pack_symlink(p, dfd, name, depth);
	else
		error = unsafe(p, S_ISFIFO(st.st_mode)   ? "it is a FIFO"
		                  : S_ISSOCK(st.st_mode) ? "it is a socket"
		                                         : "it is a device");
	udfenv_buf_truncate(&p->rel, keep);
	return error;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Read the names of `d`, sorted bytewise. */
static int sorted_names(packer *p, DIR *d, udfenv_strvec *names)
{
	struct dirent *de;
	int error;

	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if ((error = udfenv_strvec_push(names, de->d_name)) < 0)
			return error;
		errno = 0;
	}
	if (errno != 0)
		return os_error(p, "read the directory");
	if (names->count > 1)
		qsort(names->items, names->count, sizeof(char *), cmp_names);
	return 0;
}

/* Pack the contents of the directory open at `fd` (taken over). */
static int pack_dir(packer *p, int fd, unsigned depth)
{
	udfenv_strvec names = UDFENV_STRVEC_INIT;
	DIR *d = fdopendir(fd);
	int error;

	if (d == NULL) {
		error = os_error(p, "read the directory");
		close(fd);
		return error;
	}
	if ((error = sorted_names(p, d, &names)) < 0)
		goto done;
	for (size_t i = 0; i < names.count; i++) {
		if ((error = pack_one(p, dirfd(d), names.items[i], depth)) < 0)
			goto done;
	}
done:
	closedir(d);
	udfenv_strvec_dispose(&names);
	return error;
}

static int open_archive(packer *p, int fd)
{
	if ((p->a = archive_write_new()) == NULL || (p->e = archive_entry_new()) == NULL ||
	    (p->block = malloc(PACK_BLOCK)) == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	/* hdrcharset=BINARY: names go out as their bytes, whatever the locale. */
	if (archive_write_set_format_pax_restricted(p->a) != ARCHIVE_OK ||
	    archive_write_set_options(p->a, "hdrcharset=BINARY") != ARCHIVE_OK ||
	    archive_write_open_fd(p->a, fd) != ARCHIVE_OK)
		return lib_error(p, p->dir);
	return 0;
}

int udfenv_pack__dir(const char *dir, int fd)
{
	packer p = {dir, NULL, NULL, UDFENV_BUF_INIT, NULL, {0}};
	int dfd, error;

	if ((error = udfenv_libarchive__load()) < 0 || (error = open_archive(&p, fd)) < 0)
		goto done;
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		error =
		    udfenv_error_set_os(udfenv_error_from_errno(errno), "cannot open '%s'", dir);
		goto done;
	}
	if ((error = pack_dir(&p, dfd, 0)) < 0)
		goto done;
	if (archive_write_close(p.a) != ARCHIVE_OK)
		error = lib_error(&p, dir);
done:
	if (p.a)
		archive_write_free(p.a);
	archive_entry_free(p.e);
	udfenv_buf_dispose(&p.rel);
	free(p.block);
	return error;
}
