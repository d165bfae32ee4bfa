/*
 * pip's requirements-file format ("-r requirements.txt"), read the way pip
 * reads it, for the native offline installer: what a native install from a
 * wheel directory can take comes out as lines; what only pip can do is not
 * an error but a `fallback` reason, and the caller hands the set to pip.
 */
#ifndef UDFENV_LIB_REQFILE_H
#define UDFENV_LIB_REQFILE_H

#include "util/buf.h"

#include <stddef.h>

/* Caps on hostile input; reaching one is UDFENV_ELIMIT. */
#define UDFENV_REQFILE_MAX_SIZE (16u << 20)  /* bytes of one file */
#define UDFENV_REQFILE_MAX_TOTAL (64u << 20) /* bytes of all files read, re-reads included */
#define UDFENV_REQFILE_MAX_LINE (1u << 20)   /* bytes of one line, continuations joined */
#define UDFENV_REQFILE_MAX_DEPTH 16          /* -r/-c nesting below the top file */
#define UDFENV_REQFILE_MAX_FILES 1024        /* files read, re-reads included */
#define UDFENV_REQFILE_MAX_LINES 100000      /* requirement lines in the set */

typedef struct {
	/* The requirement as written: options and comment removed, continuations
	 * joined, trimmed; for -e, the editable's value. */
	char *text;
	/* The file it is in, as that file was named: the top one by the caller's
	 * `display_name`, included ones as the include line named them, joined to
	 * the includer's name's directory (like pip: no normalization). */
	char *file;
	unsigned line;  /* 1-based line where it starts */
	int constraint; /* it comes from a -c file (a -r inside a -c file is not one, as in pip) */
	int editable;   /* -e/--editable */
	udfenv_strvec hashes; /* each --hash value, "sha256:HEX" (hex as given); none for -e */
} udfenv_reqline;

typedef struct {
	udfenv_reqline *lines; /* in the order pip sees them: includes expanded in place */
	size_t count;
	/* -f/--find-links values: URLs and absolute paths as given, relative ones
	 * joined to the directory of the path of the file they appear in. */
	udfenv_strvec find_links;
	/* Set where pip honours them: on a line of options only (pip ignores
	 * options other than --hash/-C/--global-option on a requirement line, and
	 * every option on a line with -r/-c). */
	int no_index;
	int pre;
	int require_hashes;
	/* NULL, or the first reason (with file and line) why a native install
	 * must not take this set, e.g. "requirements.txt line 3: --no-binary".
	 * It never quotes a value (URLs may hold credentials). */
	char *fallback;
	/* Every file read, as the path it was first opened by (the top one
	 * first, each file once however it was named): what must travel with
	 * the set for it to be read elsewhere. */
	udfenv_strvec files;
} udfenv_reqfile;

#define UDFENV_REQFILE_INIT {NULL, 0, UDFENV_STRVEC_INIT, 0, 0, 0, NULL, UDFENV_STRVEC_INIT}

/*
 * Parse the requirements file at `path` and everything it includes (-r, -c:
 * relative to the includer's directory). `display_name` names the top file
 * in messages and in lines[].file (NULL: `path`). On success `*out` owns
 * everything in it (udfenv_reqfile_dispose); on failure it is left empty
 * (UDFENV_REQFILE_INIT) and the message names the file and line, e.g.
 * "requirements.txt line 4: unknown option '--foo'".
 *
 * The text is UTF-8 (a UTF-8 BOM is skipped) without NUL bytes, split into
 * lines like Python's str.splitlines(); comments, '\' continuations, the
 * split of a line into requirement and options, option parsing (shlex
 * quoting, --opt=value, -ovalue, unambiguous long-option prefixes) follow
 * pip. Errors: UDFENV_EINVALID for malformed input (unknown or ambiguous
 * option, an option missing its value or given one it does not take,
 * unbalanced quotes, a --hash value that is not sha256/sha384/sha512 ':'
 * and a hex digest of that algorithm's length, not UTF-8, a NUL byte, a
 * file that is not a regular file, an include cycle), UDFENV_ENOTFOUND for a file that does not exist,
 * UDFENV_ELIMIT for the caps above, UDFENV_ENOMEM.
 *
 * Valid for pip but not done natively, so they set `fallback` (the first one
 * wins) and parsing goes on: -e, --no-binary, -C/--config-settings,
 * --global-option, --install-option, --use-feature, -f/--find-links (its
 * directories are not shipped to workers), wherever they appear, even where
 * pip ignores them; -i/--index-url/--extra-index-url unless --no-index is
 * honoured somewhere in the set (decided at the end); a followed -r/-c to a
 * http:, https: or file: URL; a line using an environment variable ${VAR}
 * (pip expands it: the result would depend on the worker; the line is
 * otherwise skipped); a requirement that is a URL or a path (see the .c;
 * "name @ url" stays a normal line). --only-binary, --prefer-binary and
 * --trusted-host change nothing.
 */
int udfenv_reqfile_parse(udfenv_reqfile *out, const char *path, const char *display_name);

/* Free everything `f` owns and reset it to UDFENV_REQFILE_INIT; NULL-safe. */
void udfenv_reqfile_dispose(udfenv_reqfile *f);

#endif
