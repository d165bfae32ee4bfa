/*
 * Reading an archive under the extraction policy, in the calling thread and
 * writing nothing: the entry cap, names, entry types and the byte and ratio
 * caps on the data. The extraction helper (extract.c) writes what it reads
 * through archive_write_disk; the wheel installer writes files itself.
 */
#include "lib/extract_int.h"
#include "util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define XREAD_BLOCK (128 * 1024)

/* Compression filters, only when linked in: never libarchive's fallback to external programs. */
static int add_filters(struct archive *a)
{
	if ((archive_zlib_version() && archive_read_support_filter_gzip(a) != ARCHIVE_OK) ||
	    (archive_bzlib_version() && archive_read_support_filter_bzip2(a) != ARCHIVE_OK) ||
	    (archive_liblzma_version() && archive_read_support_filter_xz(a) != ARCHIVE_OK) ||
	    (archive_libzstd_version() && archive_read_support_filter_zstd(a) != ARCHIVE_OK))
		return udfenv_libarchive__setup_error(a);
	return 0;
}

/*
 * libarchive on r->fd, the file the layout check read (not whatever the name
 * points at by now): zip (on a regular file the seekable reader wins; the
 * streaming one loses modes and symlinks) and, unless `zip_only`, tar; never
 * format_all (mtree can read arbitrary local files through contents=).
 */
static int open_libarchive(xreader *r, int zip_only)
{
	struct archive *a = r->in = archive_read_new();
	char why[UDFENV_LIBARCHIVE_REASON_SIZE];
	int error;

	if (a == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	if (archive_read_support_format_zip(a) != ARCHIVE_OK ||
	    (!zip_only && (archive_read_support_format_tar(a) != ARCHIVE_OK ||
	                   archive_read_support_format_gnutar(a) != ARCHIVE_OK)))
		return udfenv_libarchive__setup_error(a);
	if (!zip_only && (error = add_filters(a)) < 0)
		return error;
	if (archive_read_open_fd(a, r->fd, XREAD_BLOCK) == ARCHIVE_OK)
		return 0;
	if (archive_errno(a) == ARCHIVE_ERRNO_FILE_FORMAT)
		return udfenv_error_set(UDFENV_EINVALID, "archive '%s' is not a %s archive",
		                        r->pol.label, zip_only ? "zip" : "zip or tar");
	udfenv_libarchive__reason(why, a);
	return udfenv_error_set(UDFENV_EINVALID, "archive '%s' cannot be read: %s", r->pol.label, why);
}

/* r->fd is open (or -1, errno set): it must be a regular file; its size sets the ratio cap. */
static int take_fd(xreader *r)
{
	const udfenv_extract_limits *lim = r->pol.lim;
	struct stat st;

	if (r->fd < 0 || fstat(r->fd, &st) < 0)
		return udfenv_error_set_os(udfenv_error_from_errno(errno),
		                           "cannot open archive '%s'", r->pol.label);
	if (!S_ISREG(st.st_mode))
		return udfenv_error_set(UDFENV_EINVALID, "archive '%s' is not a regular file",
		                        r->pol.label);
	r->archive_size = (uint64_t)st.st_size;
	r->ratio_cap = lim->max_ratio && r->archive_size > UINT64_MAX / lim->max_ratio
	                   ? UINT64_MAX
	                   : r->archive_size * lim->max_ratio;
	return 0;
}

static locale_t utf8_locale;
static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;

/* Made once per process and kept: newlocale reads the locale's files each time. */
static void make_utf8_locale(void)
{
	static const char *const names[] = {"C.UTF-8", "C.utf8", "en_US.UTF-8"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && utf8_locale == (locale_t)0; i++)
		utf8_locale = newlocale(LC_CTYPE_MASK, names[i], (locale_t)0);
}

/* Names arrive in the locale's charset: read them as UTF-8 on this thread while open. */
static void use_utf8_names(xreader *r)
{
	pthread_once(&utf8_once, make_utf8_locale);
	if (utf8_locale != (locale_t)0) {
		r->old_loc = uselocale(utf8_locale);
		r->switched = 1;
	}
}

static void reader_init(xreader *r, const char *label, const udfenv_extract_limits *lim)
{
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	r->pol.label = label;
	r->pol.lim = lim;
	use_utf8_names(r);
}

/* The rest of opening, on r->fd as take_fd accepted it. */
static int reader_start(xreader *r, int zip_only)
{
	int error;

	/* A zip by contract: its layout first, whose errors say more than libarchive's. */
	if (zip_only && (error = udfenv_extract__zip_layout(&r->pol, r->fd, r->archive_size)) < 0)
		return error;
	r->layout_checked = zip_only;
	return open_libarchive(r, zip_only);
}

int udfenv_extract__reader_open(xreader *r, const char *archive, const char *label,
                                const udfenv_extract_limits *lim, int zip_only)
{
	int error;

	reader_init(r, label, lim);
	r->fd = open(archive, O_RDONLY | O_CLOEXEC);
	if ((error = take_fd(r)) < 0)
		return error;
	return reader_start(r, zip_only);
}

int udfenv_extract__reader_open_fd(xreader *r, int fd, const char *label,
                                   const udfenv_extract_limits *lim, int zip_only)
{
	int error;

	reader_init(r, label, lim);
	r->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if ((error = take_fd(r)) < 0)
		return error;
	/* The dup shares the offset: libarchive reads on from where it is. */
	if (lseek(r->fd, 0, SEEK_SET) < 0)
		return udfenv_error_set_os(UDFENV_ERROR, "cannot read archive '%s'", r->pol.label);
	return reader_start(r, zip_only);
}

static int read_error(xreader *r, const char *name)
{
	char why[UDFENV_LIBARCHIVE_REASON_SIZE];

	udfenv_libarchive__reason(why, r->in);
	return udfenv_extract__entry_error(&r->pol, UDFENV_EINVALID, name, "cannot be read: %s", why);
}

/* Refuse `total` bytes written if it passes the byte cap or the ratio cap. */
static int check_total(xreader *r, uint64_t total)
{
	const udfenv_extract_limits *lim = r->pol.lim;

	if (total > lim->max_bytes)
		return udfenv_extract__entry_error(
		    &r->pol, UDFENV_ELIMIT, r->name.ptr,
		    "brings the bytes written past the limit of %llu",
		    (unsigned long long)lim->max_bytes);
	if (total > lim->ratio_floor && total > r->ratio_cap)
		return udfenv_extract__entry_error(
		    &r->pol, UDFENV_ELIMIT, r->name.ptr,
		    "expands the archive more than %llu times its %llu bytes "
		    "(compression ratio limit; a decompression bomb?)",
		    (unsigned long long)lim->max_ratio, (unsigned long long)r->archive_size);
	return 0;
}

static int refuse_type(xreader *r, int type)
{
	const char *what = type == AE_IFCHR    ? "a character device"
	                   : type == AE_IFBLK  ? "a block device"
	                   : type == AE_IFIFO  ? "a FIFO"
	                   : type == AE_IFSOCK ? "a socket"
	                                       : "of an unsupported type";
	return udfenv_extract__entry_error(
	    &r->pol, UDFENV_EUNSAFE, r->name.ptr,
	    "is %s; only files, directories and symlinks are allowed", what);
}

static int is_zip(struct archive *a)
{
	return (archive_format(a) & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_ZIP;
}

/* The checks on one entry before anything of it is written. */
static int check_entry(xreader *r, struct archive_entry *e)
{
	const char *raw = archive_entry_pathname(e), *hardlink = archive_entry_hardlink(e);
	int type = (int)archive_entry_filetype(e), error;

	if (++r->stats.entries > r->pol.lim->max_entries)
		return udfenv_error_set(UDFENV_ELIMIT, "archive '%s' has more than %llu entries",
		                        r->pol.label, (unsigned long long)r->pol.lim->max_entries);
	if ((error = udfenv_extract__normalize(&r->pol, &r->name, raw, NULL)) < 0)
		return error;
	if (r->name.size == 0 && type == AE_IFDIR && hardlink == NULL)
		return 1; /* "./": the root itself, which the caller made */
	if (r->name.size == 0)
		return udfenv_extract__entry_error(&r->pol, UDFENV_EUNSAFE, raw,
		                                   "names the extraction directory itself");
	if (hardlink == NULL && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
		return refuse_type(r, type);
	r->extent = 0;
	r->declared = UINT64_MAX;
	if (archive_entry_size_is_set(e) && archive_entry_size(e) >= 0)
		r->declared = (uint64_t)archive_entry_size(e);
	/* Declared sizes are checked up front too, so an honest bomb writes nothing. */
	if (hardlink == NULL && type == AE_IFREG && r->declared != UINT64_MAX &&
	    (error = check_total(r, r->declared > UINT64_MAX - r->stats.bytes
	                                ? UINT64_MAX
	                                : r->stats.bytes + r->declared)) < 0)
		return error;
	return 0;
}

int udfenv_extract__reader_next(xreader *r, struct archive_entry **e)
{
	int ret, error;

	for (;;) {
		r->pol.entry_no++;
		ret = archive_read_next_header(r->in, e);
		if (ret == ARCHIVE_EOF)
			return 0;
		/* Checked even when libarchive failed: ours says what is wrong. */
		if (r->pol.entry_no == 1 && !r->layout_checked && is_zip(r->in) &&
		    (error = udfenv_extract__zip_layout(&r->pol, r->fd, r->archive_size)) < 0)
			return error;
		/* A warning leaves fields it could not convert NULL; the checks refuse those. */
		if (ret != ARCHIVE_OK && ret != ARCHIVE_WARN)
			return read_error(r, NULL);
		if ((error = check_entry(r, *e)) < 0)
			return error;
		if (error == 0)
			return 1;
	}
}

int udfenv_extract__reader_block(xreader *r, const void **buf, size_t *len, la_int64_t *off)
{
	uint64_t end, grow;
	int ret, error;

	ret = archive_read_data_block(r->in, buf, len, off);
	if (ret == ARCHIVE_EOF)
		return 0;
	if (ret != ARCHIVE_OK)
		return read_error(r, r->name.ptr);
	if (*off < 0 || (uint64_t)*len > UINT64_MAX - (uint64_t)*off)
		return udfenv_extract__entry_error(&r->pol, UDFENV_EINVALID, r->name.ptr,
		                                   "has a data block at a bad offset");
	end = (uint64_t)*off + *len;
	if (end > r->extent) {
		/* Holes count too: they are bytes on disk once written. */
		grow = end - r->extent;
		if (grow > UINT64_MAX - r->stats.bytes)
			grow = UINT64_MAX - r->stats.bytes;
		if ((error = check_total(r, r->stats.bytes + grow)) < 0)
			return error;
		r->stats.bytes += grow;
		r->extent = end;
	}
	/* archive_write_disk would only truncate the excess with a warning. */
	if (r->extent > r->declared)
		return udfenv_extract__entry_error(
		    &r->pol, UDFENV_EINVALID, r->name.ptr,
		    "has more data than the %llu bytes its header declares",
		    (unsigned long long)r->declared);
	return 1;
}

void udfenv_extract__reader_dispose(xreader *r)
{
	if (r->in)
		archive_read_free(r->in);
	if (r->fd >= 0)
		close(r->fd);
	if (r->switched)
		uselocale(r->old_loc);
	udfenv_buf_dispose(&r->name);
	udfenv_extract__policy_dispose(&r->pol);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}
