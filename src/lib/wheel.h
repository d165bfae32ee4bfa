/*
 * One wheel file: its name, its metadata, and installing it the way
 * `pip install --no-compile --prefix P` does (the binary distribution
 * format spec, PEP 427; REFERENCE.md section 5), with the checks pip skips:
 * every file against RECORD, the whole file against --hash, entry-point
 * names, .data keys and name collisions.
 *
 * This is the module's contract with the rest of the library: file names,
 * metadata, installing. wheel.c: file names, METADATA/WHEEL read straight
 * from the zip, the dist-info rules; wheel_record.c: digests, RECORD's CSV,
 * entry_points.txt; wheel_install.c: installing. What those share among
 * themselves is in wheel_int.h.
 */
#ifndef UDFENV_LIB_WHEEL_H
#define UDFENV_LIB_WHEEL_H

#include "util/buf.h"

#include <stddef.h>

/* ---- file names ---- */

typedef struct {
	char *name;    /* distribution part of the filename, as written */
	char *key;     /* PEP 503 normalized */
	char *version; /* as written */
	char *build;   /* build tag or NULL */
	/*
	 * Every "python-abi-platform" triple the compressed tag set expands
	 * to, in file name order, without duplicates: "py2.py3-none-any" ->
	 * "py2-none-any", "py3-none-any".
	 */
	udfenv_strvec tags;
} udfenv_wheelname;

#define UDFENV_WHEELNAME_INIT                                                                      \
	{                                                                                          \
		NULL, NULL, NULL, NULL, UDFENV_STRVEC_INIT                                         \
	}

/* Most tags one file name may expand to (a name is at most 255 bytes; real ones need a few). */
#define UDFENV_WHEEL_MAX_TAGS 1024

/*
 * Parse "{name}-{ver}(-{build})?-{py}-{abi}-{plat}.whl" (PEP 427 and the
 * binary distribution format spec: '-' in the name and version escaped as
 * '_', a build tag starts with a digit, tag sets compressed with '.').
 * `filename` is a bare file name, no directory. Name: ASCII letters,
 * digits, '.' and '_' (a valid project name); version: letters, digits,
 * '.', '_', '+', '!'; tags: letters, digits and '_'. UDFENV_EINVALID
 * "'X' is not a wheel file name: <why>" otherwise. `out` (caller-owned,
 * UDFENV_WHEELNAME_INIT) is filled on success only; free it with
 * udfenv_wheelname_dispose.
 */
int udfenv_wheel__parse_filename(udfenv_wheelname *out, const char *filename);
void udfenv_wheelname_dispose(udfenv_wheelname *w);

/* ---- metadata ---- */

typedef struct {
	char *name, *version;        /* Name:, Version: */
	char *requires_python;       /* Requires-Python: or NULL */
	udfenv_strvec requires_dist; /* each Requires-Dist: value, as written (unfolded, trimmed) */
	char *dist_info;             /* the "<name>-<version>.dist-info" dir the wheel uses */
} udfenv_wheel_metadata;

#define UDFENV_WHEEL_METADATA_INIT                                                                 \
	{                                                                                          \
		NULL, NULL, NULL, UDFENV_STRVEC_INIT, NULL                                         \
	}

/* Most bytes of METADATA, WHEEL and entry_points.txt read; RECORD gets more. */
#define UDFENV_WHEEL_MAX_META ((size_t)1 << 20)
#define UDFENV_WHEEL_MAX_RECORD ((size_t)64 << 20)

/*
 * Read <dist-info>/METADATA and check <dist-info>/WHEEL straight from the
 * .whl at `whl_path`, without extracting it. The zip's layout is checked
 * first (udfenv_extract__zip_layout: one central directory, no overlapping
 * entries), as extraction would. There must be exactly one top-level
 * *.dist-info, whose name matches the wheel file name's name and version
 * (PEP 503 names; versions ignoring case and '-' vs '_'). The file name
 * is the last component of `label` if that parses as one, else of
 * `whl_path`. WHEEL's Wheel-Version must be 1.x (a higher minor only
 * logs a warning). METADATA is RFC 822 headers up to the first blank line,
 * with continuation lines; Name and Version are required. Caps:
 * UDFENV_WHEEL_MAX_META per file (UDFENV_ELIMIT).
 *
 * `label` names the wheel in errors (NULL: `whl_path`). Errors:
 * UDFENV_EINVALID for a corrupt or malformed wheel ("'foo-1.0-py3-none-
 * any.whl' is not a valid wheel: no .dist-info/METADATA"), UDFENV_EUNSAFE
 * for overlapping zip entries, UDFENV_ENOTFOUND for a missing file. `out`
 * (caller-owned, UDFENV_WHEEL_METADATA_INIT) is filled on success only;
 * free it with udfenv_wheel_metadata_dispose.
 */
int udfenv_wheel__read_metadata(udfenv_wheel_metadata *out, const char *whl_path,
                                const char *label);
void udfenv_wheel_metadata_dispose(udfenv_wheel_metadata *m);

/* ---- installing ---- */

typedef struct {
	const char *purelib, *platlib, *scripts, *data; /* absolute dirs, created as needed */
	/* absolute dir for .data/headers, dist name included (per wheel); NULL: refuse those */
	const char *headers;
	const char *python; /* absolute path of the target interpreter: #!python, launchers */
} udfenv_wheel_scheme;

typedef struct {
	const char *path;  /* the .whl */
	const char *label; /* its name for messages (e.g. the file name in the user's cache dir) */
	/* acceptable "<algo>:<hex>" of the .whl (sha256, sha384, sha512); NULL/empty: unchecked */
	const udfenv_strvec *hashes;
	int requested;     /* write REQUESTED (a top-level requirement) */
} udfenv_wheel_install;

/*
 * Install the wheel `req->path` into `scheme`, producing the tree
 * `python -m pip install --no-compile --prefix` makes (pip 23.2), except
 * that INSTALLER says "udfenv" and no direct_url.json is written. Every
 * check but the files' hashes comes before the first file is written; a
 * file that fails its hash removes what this call wrote, and a file an
 * earlier wheel installed is replaced only once every file passed, so a
 * refused wheel changes nothing:
 *
 * - `req->hashes`: one must match the whole file (UDFENV_EUNSAFE "'L' does
 *   not match any of its --hash values (its sha256 is ...)"; a malformed
 *   value is UDFENV_EINVALID). Hex digits in either case.
 * - The wheel is read as a zip through the archive-safety policy
 *   (extract_int.h's reader, whose refusals pass through). Every file
 *   but <dist-info>/RECORD, RECORD.jws and RECORD.p7s must be listed in
 *   RECORD with a sha256, sha384 or sha512 hash and a size, and match both:
 *   UDFENV_EUNSAFE "'L': 'foo/x.py' does not match its RECORD hash" (or
 *   "... RECORD size", "is not listed in RECORD", "has no hash in RECORD";
 *   also a RECORD path that is absolute or climbs with ".."). RECORD
 *   naming one path twice, an unknown hash algorithm: UDFENV_EINVALID. A
 *   symlink in the wheel: UDFENV_EUNSAFE.
 * - As udfenv_wheel__read_metadata: one top-level dist-info matching the
 *   wheel file name, Wheel-Version 1.x.
 * - The root goes to purelib when WHEEL says "Root-Is-Purelib: true" (the
 *   whole value, ASCII case ignored, as pip reads it), else platlib.
 *   <anything>.data/<key>/<path> goes to the dir of key: purelib, platlib,
 *   scripts, headers, data. Another key, or a file right under the .data
 *   dir: UDFENV_EINVALID. Two files of the wheel landing on one path, or a
 *   file and a launcher: UDFENV_ECONFLICT. A file an earlier wheel put
 *   there is replaced, as pip replaces it. Files under .data/scripts named
 *   like an entry point (or with .exe, -script.py, .pya after it) are not
 *   installed (pip skips setuptools' wrappers) but keep their RECORD rows.
 *   A __pycache__ dir anywhere in the wheel: UDFENV_EUNSAFE (REFERENCE §5;
 *   pip would install its bytecode, made for who knows which interpreter).
 * - A .data/scripts file whose first line starts with "#!python" gets
 *   "#!<python>\n" for that whole line (pip's fix_script: arguments go).
 * - console_scripts and gui_scripts of entry_points.txt get pip's launcher
 *   (distlib's template and shebang: "#!<python>", or the /bin/sh exec
 *   trick for a path with a space, quoted, or a line over 127 bytes), mode
 *   (0666 & ~umask) | 0555, an existing file replaced. A "pip" console
 *   script also gets pipX and pipX.Y, "easy_install" easy_install-X.Y (and
 *   other versioned ones of those are dropped), as pip does; X.Y is taken
 *   from the "pythonX.Y" component of purelib, UDFENV_EINVALID without
 *   one. Refused (UDFENV_EINVALID naming the entry point): a name that is
 *   empty, starts with '.' or holds anything but ASCII letters, digits and
 *   "_.+-" (so no '/'); a value that is not "module:attr" (dotted words,
 *   one ':') with an optional "[extras]"; a line without '='. A name in
 *   both groups: UDFENV_ECONFLICT.
 * - Modes as pip's: (0777 & ~umask) | 0111 when the zip entry has an x
 *   bit, else 0666 & ~umask; new directories 0777 & ~umask; mtimes are the
 *   install time (files are written afresh by pip).
 * - <dist-info>/INSTALLER ("udfenv\n"), REQUESTED (empty) when
 *   `req->requested`, and RECORD as pip writes it: the wheel's rows with
 *   the installed paths (relative to the root's dir, "../../../bin/x" for
 *   files elsewhere), rewritten scripts rehashed, launchers, INSTALLER and
 *   REQUESTED added with hashes, RECORD itself and unlisted files (e.g.
 *   RECORD.jws) without; rows sorted, CSV with CRLF line ends.
 *
 * Nothing is written outside the scheme's dirs. An I/O error after every
 * file passed (a launcher, RECORD) may leave part of the wheel there (the
 * caller discards the prefix). The wheel file
 * name comes from `req->label` or `req->path` as for
 * udfenv_wheel__read_metadata. Every error names the wheel as `req->label`
 * (else `req->path`) does: one that would not is prefixed with "'L': ".
 */
int udfenv_wheel__install(const udfenv_wheel_install *req, const udfenv_wheel_scheme *scheme);

#endif
