/*
 * Internals of archive extraction shared by extract.c (the driver),
 * extract_read.c (reading an archive under the policy), extract_policy.c
 * (entry names, the names of one archive, symlink resolution) and
 * extract_zip.c (zip central directory layout). The wheel installer reads
 * wheels through extract_read.c too.
 */
#ifndef UDFENV_LIB_EXTRACT_INT_H
#define UDFENV_LIB_EXTRACT_INT_H

#include "lib/extract.h"
#include "lib/libarchive.h"
#include "util/buf.h"
#include "util/text.h"

#include <locale.h>
#include <stdint.h>

/* What a name of the archive is; IMPLICIT_DIR: only seen as a parent. */
enum { XNAME_IMPLICIT_DIR = 1, XNAME_DIR, XNAME_FILE, XNAME_SYMLINK };

typedef struct xname xname;

typedef struct {
	xname *slots; /* open addressing, `cap` a power of two */
	size_t cap;
	size_t count;
} xnames;

/* The policy state of one extraction. */
typedef struct {
	const char *label; /* the archive as the user named it */
	const udfenv_extract_limits *lim;
	uint64_t entry_no; /* 1-based number of the current entry, for unprintable names */
	xnames names;      /* every name seen so far, with its kind */
} xpolicy;

/*
 * Set the error "archive 'LABEL': entry 'NAME' <fmt...>" and return `code`.
 * A NULL `name` is shown as "#N" (the entry number).
 */
int udfenv_extract__entry_error(const xpolicy *p, int code, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Check the raw name of an entry (or of a hard link's target) and write its
 * normalized form to `out`: no "." or empty components, no trailing "/".
 * "" means the root itself ("./"). Errors name `entry` (NULL: `raw`).
 */
int udfenv_extract__normalize(const xpolicy *p, udfenv_buf *out, const char *raw,
                              const char *entry);

/*
 * Record the normalized `name` as `kind` (XNAME_DIR, XNAME_FILE,
 * XNAME_SYMLINK with its `target`), refusing duplicates, names below a file
 * or symlink of the archive, and a non-directory where earlier entries put
 * a directory.
 */
int udfenv_extract__register(xpolicy *p, const char *name, int kind, const char *target);

/* Whether the normalized `name` was recorded as a regular file. */
int udfenv_extract__is_file(const xpolicy *p, const char *name);

/* Refuse an empty, over-long or (unless allowed) absolute symlink target. */
int udfenv_extract__check_link_target(const xpolicy *p, const char *name, const char *target);

/*
 * Resolve the target of the symlink `name` against every symlink of the
 * archive, component by component; refuse it if it ever climbs above the
 * extraction root or chains through too many links. Call once all entries
 * are registered.
 */
int udfenv_extract__resolve_link(const xpolicy *p, const char *name, const char *target);

void udfenv_extract__policy_dispose(xpolicy *p);

/*
 * Check the layout of a zip file open at `fd` (`size` bytes): one readable
 * central directory whose entries' data ranges are distinct and do not
 * overlap (libarchive silently merges entries that share a local header, and
 * overlapping entries are the classic zip bomb).
 */
int udfenv_extract__zip_layout(const xpolicy *p, int fd, uint64_t size);

/* ---- extract_read.c ---- */

/*
 * One archive read under the policy in the calling thread, writing
 * nothing. Names are read as UTF-8 on this thread while it is open.
 */
typedef struct xreader {
	xpolicy pol;
	int fd; /* the archive, for its size and the zip layout check */
	uint64_t archive_size;
	uint64_t ratio_cap; /* max_ratio * archive_size, saturated */
	struct archive *in;
	udfenv_buf name;           /* normalized name of the current entry */
	uint64_t extent, declared; /* its data read so far; its header's size (UINT64_MAX: none) */
	udfenv_extract_stats stats;
	int layout_checked;
	int switched;     /* to the UTF-8 locale, from old_loc */
	locale_t old_loc;
} xreader;

/*
 * Open `archive` (regular files only) as zip or tar, optionally
 * compressed, or with `zip_only` as a zip alone, whose layout is checked
 * here (udfenv_extract__zip_layout). `label` names it in
 * errors; `lim` must stay valid while `r` is open. Dispose `r` either way.
 */
int udfenv_extract__reader_open(xreader *r, const char *archive, const char *label,
                                const udfenv_extract_limits *lim, int zip_only);

/*
 * The same on the file open on `fd`, read from its start: what was checked
 * on that fd is what is read. `fd` stays the caller's (the reader reads a
 * dup, which shares its offset).
 */
int udfenv_extract__reader_open_fd(xreader *r, int fd, const char *label,
                                   const udfenv_extract_limits *lim, int zip_only);

/*
 * The next entry (the root's "./" skipped): 1 with `*e`, its normalized
 * name in r->name; 0 at the end. Checked first: a zip's layout (at the
 * first entry), the entry cap, the name (udfenv_extract__normalize), a name
 * for the root itself, a device, FIFO or socket (UDFENV_EUNSAFE), a
 * regular file's declared size against the byte and ratio caps. The
 * caller registers the name and checks a link.
 */
int udfenv_extract__reader_next(xreader *r, struct archive_entry **e);

/*
 * The next data block of the current entry: 1 with it, 0 at its end.
 * Counted against the byte and ratio caps, holes included; data past the
 * declared size is refused (UDFENV_EINVALID).
 */
int udfenv_extract__reader_block(xreader *r, const void **buf, size_t *len, la_int64_t *off);

void udfenv_extract__reader_dispose(xreader *r);

#endif
