/*
 * Internals of archive extraction shared by extract.c (the driver),
 * extract_policy.c (entry names, the names of one archive, symlink
 * resolution) and extract_zip.c (zip central directory layout).
 */
#ifndef UDFENV_LIB_EXTRACT_INT_H
#define UDFENV_LIB_EXTRACT_INT_H

#include "lib/extract.h"
#include "util/buf.h"
#include "util/text.h"

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
 * Showing a name in a message: util/text.h's udfenv_text_show, under the
 * names the callers of extract_int.h knew it by first.
 */
#define XSHOW_MAX UDFENV_TEXT_SHOW_MAX
#define XSHOW_SIZE UDFENV_TEXT_SHOW_SIZE
#define udfenv_extract__show udfenv_text_show

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

#endif
