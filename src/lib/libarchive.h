/*
 * libarchive, loaded on first use (dlopen) rather than at program start:
 * it pulls in a dozen libraries (compression, libxml2, ICU, libstdc++) that
 * cost every `udfenv` run about a millisecond and a half, while only a cache
 * miss (extracting, packing) needs them. Include this instead of
 * <archive.h>: the archive_* calls below go through the loaded table.
 */
#ifndef UDFENV_LIB_LIBARCHIVE_H
#define UDFENV_LIB_LIBARCHIVE_H

#include "util/text.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>

/* libarchive's own errno codes on Linux (archive_platform.h; not exported). */
#ifndef ARCHIVE_ERRNO_FILE_FORMAT
#define ARCHIVE_ERRNO_FILE_FORMAT EILSEQ /* not a format it reads */
#endif
#ifndef ARCHIVE_ERRNO_PROGRAMMER
#define ARCHIVE_ERRNO_PROGRAMMER EINVAL /* a misuse */
#endif

#define UDFENV_LIBARCHIVE_FUNCS(X) \
	X(archive_bzlib_version) \
	X(archive_entry_clear) \
	X(archive_entry_clone) \
	X(archive_entry_copy_hardlink) \
	X(archive_entry_copy_pathname) \
	X(archive_entry_copy_symlink) \
	X(archive_entry_filetype) \
	X(archive_entry_free) \
	X(archive_entry_hardlink) \
	X(archive_entry_new) \
	X(archive_entry_pathname) \
	X(archive_entry_perm) \
	X(archive_entry_set_filetype) \
	X(archive_entry_set_gid) \
	X(archive_entry_set_mtime) \
	X(archive_entry_set_perm) \
	X(archive_entry_set_size) \
	X(archive_entry_set_uid) \
	X(archive_entry_size) \
	X(archive_entry_size_is_set) \
	X(archive_entry_symlink) \
	X(archive_errno) \
	X(archive_error_string) \
	X(archive_format) \
	X(archive_liblzma_version) \
	X(archive_libzstd_version) \
	X(archive_read_data_block) \
	X(archive_read_free) \
	X(archive_read_new) \
	X(archive_read_next_header) \
	X(archive_read_open_fd) \
	X(archive_read_support_filter_bzip2) \
	X(archive_read_support_filter_gzip) \
	X(archive_read_support_filter_xz) \
	X(archive_read_support_filter_zstd) \
	X(archive_read_support_format_gnutar) \
	X(archive_read_support_format_tar) \
	X(archive_read_support_format_zip) \
	X(archive_write_close) \
	X(archive_write_data) \
	X(archive_write_data_block) \
	X(archive_write_disk_new) \
	X(archive_write_disk_set_options) \
	X(archive_write_finish_entry) \
	X(archive_write_free) \
	X(archive_write_header) \
	X(archive_write_new) \
	X(archive_write_open_fd) \
	X(archive_write_set_format_pax_restricted) \
	X(archive_write_set_options) \
	X(archive_zlib_version)

typedef struct {
#define UDFENV_LIBARCHIVE_PTR(f) __typeof__(&f) f;
	UDFENV_LIBARCHIVE_FUNCS(UDFENV_LIBARCHIVE_PTR)
#undef UDFENV_LIBARCHIVE_PTR
} udfenv_libarchive;

extern udfenv_libarchive udfenv_la;

/* Load libarchive once (thread-safe); UDFENV_ERROR naming the library if it cannot be. */
int udfenv_libarchive__load(void);

#define UDFENV_LIBARCHIVE_REASON_SIZE (UDFENV_TEXT_SHOW_SIZE + 128)

/*
 * libarchive's last message about `a`, for a one-line message ("unknown
 * error" if it has none; a trailing newline dropped, control characters
 * escaped), with the system's reason after it when there is one: "Write
 * error (No space left on device)", not a bare "Write error" that hides a
 * full disk. Returns that errno, for udfenv_error_set_os_errno; 0 when the
 * error is libarchive's own (a bad format, a misuse), which names no
 * system reason.
 */
int udfenv_libarchive__reason(char out[UDFENV_LIBARCHIVE_REASON_SIZE], struct archive *a);

/* libarchive refused to set up `a` (a misuse, out of memory): UDFENV_ERROR "libarchive: <reason>". */
int udfenv_libarchive__setup_error(struct archive *a);

/* The loader itself names the real symbols. */
#ifndef UDFENV_LIBARCHIVE_LOADER
#define archive_bzlib_version (*udfenv_la.archive_bzlib_version)
#define archive_entry_clear (*udfenv_la.archive_entry_clear)
#define archive_entry_clone (*udfenv_la.archive_entry_clone)
#define archive_entry_copy_hardlink (*udfenv_la.archive_entry_copy_hardlink)
#define archive_entry_copy_pathname (*udfenv_la.archive_entry_copy_pathname)
#define archive_entry_copy_symlink (*udfenv_la.archive_entry_copy_symlink)
#define archive_entry_filetype (*udfenv_la.archive_entry_filetype)
#define archive_entry_free (*udfenv_la.archive_entry_free)
#define archive_entry_hardlink (*udfenv_la.archive_entry_hardlink)
#define archive_entry_new (*udfenv_la.archive_entry_new)
#define archive_entry_pathname (*udfenv_la.archive_entry_pathname)
#define archive_entry_perm (*udfenv_la.archive_entry_perm)
#define archive_entry_set_filetype (*udfenv_la.archive_entry_set_filetype)
#define archive_entry_set_gid (*udfenv_la.archive_entry_set_gid)
#define archive_entry_set_mtime (*udfenv_la.archive_entry_set_mtime)
#define archive_entry_set_perm (*udfenv_la.archive_entry_set_perm)
#define archive_entry_set_size (*udfenv_la.archive_entry_set_size)
#define archive_entry_set_uid (*udfenv_la.archive_entry_set_uid)
#define archive_entry_size (*udfenv_la.archive_entry_size)
#define archive_entry_size_is_set (*udfenv_la.archive_entry_size_is_set)
#define archive_entry_symlink (*udfenv_la.archive_entry_symlink)
#define archive_errno (*udfenv_la.archive_errno)
#define archive_error_string (*udfenv_la.archive_error_string)
#define archive_format (*udfenv_la.archive_format)
#define archive_liblzma_version (*udfenv_la.archive_liblzma_version)
#define archive_libzstd_version (*udfenv_la.archive_libzstd_version)
#define archive_read_data_block (*udfenv_la.archive_read_data_block)
#define archive_read_free (*udfenv_la.archive_read_free)
#define archive_read_new (*udfenv_la.archive_read_new)
#define archive_read_next_header (*udfenv_la.archive_read_next_header)
#define archive_read_open_fd (*udfenv_la.archive_read_open_fd)
#define archive_read_support_filter_bzip2 (*udfenv_la.archive_read_support_filter_bzip2)
#define archive_read_support_filter_gzip (*udfenv_la.archive_read_support_filter_gzip)
#define archive_read_support_filter_xz (*udfenv_la.archive_read_support_filter_xz)
#define archive_read_support_filter_zstd (*udfenv_la.archive_read_support_filter_zstd)
#define archive_read_support_format_gnutar (*udfenv_la.archive_read_support_format_gnutar)
#define archive_read_support_format_tar (*udfenv_la.archive_read_support_format_tar)
#define archive_read_support_format_zip (*udfenv_la.archive_read_support_format_zip)
#define archive_write_close (*udfenv_la.archive_write_close)
#define archive_write_data (*udfenv_la.archive_write_data)
#define archive_write_data_block (*udfenv_la.archive_write_data_block)
#define archive_write_disk_new (*udfenv_la.archive_write_disk_new)
#define archive_write_disk_set_options (*udfenv_la.archive_write_disk_set_options)
#define archive_write_finish_entry (*udfenv_la.archive_write_finish_entry)
#define archive_write_free (*udfenv_la.archive_write_free)
#define archive_write_header (*udfenv_la.archive_write_header)
#define archive_write_new (*udfenv_la.archive_write_new)
#define archive_write_open_fd (*udfenv_la.archive_write_open_fd)
#define archive_write_set_format_pax_restricted (*udfenv_la.archive_write_set_format_pax_restricted)
#define archive_write_set_options (*udfenv_la.archive_write_set_options)
#define archive_zlib_version (*udfenv_la.archive_zlib_version)
#endif

#endif
