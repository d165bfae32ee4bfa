/*
 * Installing one wheel, the way pip 23's operations/install/wheel.py does
 * with --no-compile, plus the checks pip leaves out.
 *
 * Two passes over the zip through extract_read.c (the archive-safety
 * policy). The first reads names, sizes and modes, and the dist-info's
 * WHEEL, RECORD and entry_points.txt; every check that needs no file's
 * bytes runs then: --hash, the dist-info, WHEEL, each file against its
 * RECORD row's size, entry points, .data keys and collisions. The second
 * writes each file straight to its place, hashing it on the way; a file
 * that does not match its RECORD hash undoes what this wheel wrote. Then
 * launchers, INSTALLER, REQUESTED and RECORD.
 */
#include "lib/wheel_int.h"
#include "lib/extract.h"
#include "lib/extract_int.h"
#include "util/ascii.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/path.h"
#include "util/text.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WBLOCK 65536
/* distlib's limit for a plain "#!<python>" launcher line, newline included. */
#define SHEBANG_MAX 127

/* ---- digests ---- */

/* ---- the state of one install ---- */

enum { DIR_PURELIB, DIR_PLATLIB, DIR_SCRIPTS, DIR_HEADERS, DIR_DATA, DIR_COUNT };
static const char *const dir_keys[DIR_COUNT] = {"purelib", "platlib", "scripts", "headers", "data"};

typedef struct {
	char *path, *hash, *size; /* fields as written; "" when absent */
	char *key;                /* path normalized, to match files */
	size_t file;              /* its file's index + 1; 0: none */
} wrow;

typedef struct {
	char *rel;         /* path in the wheel, normalized by the policy */
	char *dest;        /* absolute destination; NULL: not installed */
	char *record_path; /* dest relative to the root's dir, for RECORD */
	uint64_t size;     /* as the zip declares it (the reader refuses more) */
	int exec;          /* the zip entry had an x bit */
	int script;        /* .data/scripts: #!python is rewritten */
	int verify;        /* must match its RECORD row */
	int alg;           /* of that row's hash */
	const char *want;  /* that row's digest, urlsafe base64 */
	size_t want_len;   /* without the padding */
	char *new_hash;    /* rewritten: RECORD gets new_hash and new_size */
	uint64_t new_size;
} wfile;

/* What the second pass made, to be undone if the wheel is refused there. */
typedef struct {
	char *path;
	int dir;     /* rmdir, else unlink */
	char *final; /* a temp file beside a file an earlier wheel installed: renamed over it last */
} wmade;

/* The dist-info files the first pass reads, and their caps. */
enum { META_WHEEL, META_RECORD, META_EPS, META_COUNT };
static const char *const meta_names[META_COUNT] = {"WHEEL", "RECORD", "entry_points.txt"};
static const size_t meta_max[META_COUNT] = {UDFENV_WHEEL_MAX_META, UDFENV_WHEEL_MAX_RECORD,
                                            UDFENV_WHEEL_MAX_META};

typedef struct {
	char *name;                /* the entry point's, or pip's versioned one */
	const udfenv_wheel_ep *ep; /* in winst's console or gui */
	int gui;
	char *dest;
} wlauncher;

typedef struct {
	const udfenv_wheel_install *req;
	const udfenv_wheel_scheme *scheme;
	const char *label;
	char shown[UDFENV_TEXT_SHOW_SIZE]; /* the label, printable */
	int fd; /* the wheel, opened once: its hash and both passes read this file */
	mode_t umask;
	udfenv_extract_limits lim;
	udfenv_buf dirs[DIR_COUNT]; /* as dir_keys: absolute, normalized */
	const char *lib;            /* where the root and the dist-info go */
	udfenv_wheelname wn;
	char *dist_info;
	udfenv_buf meta[META_COUNT]; /* as meta_names, read in the first pass */
	int have_meta[META_COUNT];
	wfile *files;
	size_t nfiles, afiles;
	wrow *rows; /* sorted by key once read */
	size_t nrows, arows;
	udfenv_wheel_eps console, gui; /* entry points, also for pip's wrapper filter */
	wlauncher *launchers;
	size_t nlaunchers, alaunchers;
	udfenv_strvec gen; /* generated files: RECORD path, hash, size, ... */
	wmade *made;       /* in the order made */
	size_t nmade, amade;
	udfenv_buf last_dir; /* the last dir known to exist */
} winst;

/* "'LABEL': 'REL' <fmt>" with `code`. */
static int file_error(const winst *w, int code, const char *rel, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int file_error(const winst *w, int code, const char *rel, const char *fmt, ...)
{
	char shown[UDFENV_TEXT_SHOW_SIZE], *msg = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	udfenv_text_show(shown, rel);
	code = udfenv_error_set(code, "'%s': '%s' %s", w->shown, shown, n < 0 ? "is refused" : msg);
	free(msg);
	return code;
}

static int oom(void)
{
	return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
}

/* The process umask, without changing it (umask(2) would race other threads). */
static mode_t current_umask(void)
{
	udfenv_buf st = UDFENV_BUF_INIT;
	mode_t m = 022;
	const char *p;

	/* "Umask:" is the second line; 4 KiB, not more: the buffer is allocated whole, once per wheel. */
	if (udfenv_fs_read_file(&st, "/proc/self/status", 4096) == 0 &&
	    (p = strstr(udfenv_buf_cstr(&st), "\nUmask:")) != NULL)
		m = (mode_t)strtoul(p + 7, NULL, 8) & 0777;
	udfenv_error_clear();
	udfenv_buf_dispose(&st);
	return m;
}

/* ---- --hash ---- */

static int check_hashes(winst *w)
{
	const udfenv_strvec *hs = w->req->hashes;
	unsigned char got[UDFENV_WHEEL_ALGS][UDFENV_WHEEL_DIGEST_MAX];
	char hex[UDFENV_WHEEL_ALGS][2 * UDFENV_WHEEL_DIGEST_MAX + 1];
	unsigned mask = 0;
	int first = -1, error;

	if (hs == NULL || hs->count == 0)
		return 0;
	for (size_t i = 0; i < hs->count; i++) {
		const char *s = hs->items[i], *colon = strchr(s, ':');
		int a = colon ? udfenv_wheel__alg_find(s, (size_t)(colon - s)) : -1;
		size_t want = a < 0 ? 0 : 2 * udfenv_wheel__alg_len(a);
		if (a < 0 || strlen(colon + 1) != want ||
		    strspn(colon + 1, "0123456789abcdefABCDEF") != want) {
			char shown[UDFENV_TEXT_SHOW_SIZE];
			udfenv_text_show(shown, s);
			return udfenv_error_set(
			    UDFENV_EINVALID,
			    "'%s' is not a valid --hash value for '%s' (expected "
			    "sha256:, sha384: or sha512: and the hex digest)",
			    shown, w->shown);
		}
		mask |= 1u << a;
		first = first < 0 ? a : first;
	}
	if ((error = udfenv_wheel__digest_fd(w->fd, w->label, mask, got, NULL)) < 0)
		return error;
	for (int a = 0; a < UDFENV_WHEEL_ALGS; a++)
		for (size_t k = 0; (mask & (1u << a)) && k < udfenv_wheel__alg_len(a); k++)
			snprintf(hex[a] + 2 * k, 3, "%02x", got[a][k]);
	for (size_t i = 0; i < hs->count; i++) {
		const char *s = hs->items[i], *colon = strchr(s, ':');
		int a = udfenv_wheel__alg_find(s, (size_t)(colon - s));
		if (udfenv_ascii_eq_nocase(colon + 1, hex[a]))
			return 0;
	}
	return udfenv_error_set(UDFENV_EUNSAFE,
	                        "'%s' does not match any of its --hash values (its %s is %s)",
	                        w->shown, udfenv_wheel__alg_name(first), hex[first]);
}

/* ---- the first pass: names, sizes, modes and the dist-info ---- */

static int add_file(winst *w, const char *rel, uint64_t size, int exec)
{
	wfile *f;
	int error;

	if ((error = udfenv_array_reserve((void **)&w->files, &w->afiles, w->nfiles, sizeof(*f))) < 0)
		return error;
	f = &w->files[w->nfiles];
	memset(f, 0, sizeof(*f));
	if ((f->rel = strdup(rel)) == NULL)
		return oom();
	f->size = size;
	f->exec = exec;
	w->nfiles++;
	return 0;
}

/* The top-level dir `name` (`len` bytes): the dist-info when it is one; two are refused. */
static int note_top_dir(winst *w, const char *name, size_t len)
{
	if (!udfenv_wheel__is_dist_info(name, len) ||
	    (w->dist_info && strlen(w->dist_info) == len && memcmp(w->dist_info, name, len) == 0))
		return 0;
	if (w->dist_info) {
		char *other = strndup(name, len);
		int error = other ? udfenv_wheel__two_dist_infos(w->label, w->dist_info, other) : oom();
		free(other);
		return error;
	}
	if ((w->dist_info = strndup(name, len)) == NULL)
		return oom();
	return 0;
}

/* Bytecode made for some other interpreter must not shadow the sources (REFERENCE §5). */
static int refuse_pycache(winst *w, const char *name, int is_dir)
{
	const char *cur = name, *c;
	size_t n;

	while ((c = udfenv_path_next(&cur, &n)) != NULL) {
		if (n != 11 || memcmp(c, "__pycache__", 11) != 0 || (*cur == '\0' && !is_dir))
			continue;
		char *dir = strndup(name, (size_t)(c - name) + n);
		int error = dir ? file_error(w, UDFENV_EUNSAFE, dir,
		                             "is a __pycache__ directory; a wheel must not ship "
		                             "bytecode caches")
		                : oom();
		free(dir);
		return error;
	}
	return 0;
}

/* The dist-info file `name` is, if the first pass reads it (META_COUNT: none). */
static int meta_of(const winst *w, const char *name)
{
	size_t dlen = w->dist_info ? strlen(w->dist_info) : 0;

	if (dlen == 0 || strncmp(name, w->dist_info, dlen) != 0 || name[dlen] != '/')
		return META_COUNT;
	for (int k = 0; k < META_COUNT; k++)
		if (strcmp(name + dlen + 1, meta_names[k]) == 0)
			return k;
	return META_COUNT;
}

/* One entry of the first pass: files only (zip dirs are not installed, as pip's aren't). */
static int scan_entry(winst *w, xreader *rd, struct archive_entry *e)
{
	const char *name = rd->name.ptr, *slash = strchr(name, '/');
	int type = (int)archive_entry_filetype(e), dir = type == AE_IFDIR, error, k;

	if (archive_entry_hardlink(e) || (type != AE_IFREG && !dir))
		return file_error(w, UDFENV_EUNSAFE, name,
		                  "is a symlink; a wheel holds only files and directories");
	if ((error = udfenv_extract__register(&rd->pol, name, dir ? XNAME_DIR : XNAME_FILE,
	                                      NULL)) < 0 ||
	    (error = refuse_pycache(w, name, dir)) < 0)
		return error;
	if ((slash || dir) &&
	    (error = note_top_dir(w, name, slash ? (size_t)(slash - name) : strlen(name))) < 0)
		return error;
	if (dir)
		return 0;
	if ((error = add_file(w, name, rd->declared == UINT64_MAX ? 0 : rd->declared,
	                      (archive_entry_perm(e) & 0111) != 0)) < 0)
		return error;
	if ((k = meta_of(w, name)) == META_COUNT)
		return 0;
	w->have_meta[k] = 1;
	return udfenv_wheel__read_member(rd, w->label, &w->meta[k], meta_max[k]);
}

static int scan(winst *w)
{
	struct archive_entry *e;
	xreader rd;
	int r, error = 0;

	if ((r = udfenv_extract__reader_open_fd(&rd, w->fd, w->label, &w->lim, 1)) == 0)
		while ((r = udfenv_extract__reader_next(&rd, &e)) > 0 &&
		       (error = scan_entry(w, &rd, e)) == 0)
			;
	udfenv_extract__reader_dispose(&rd);
	return r < 0 ? r : error;
}

/* ---- RECORD ---- */

/*
 * The normalized form of a RECORD path, matching extraction's: no "." or
 * empty components. Absolute paths and ".." are refused: pip would later
 * uninstall what RECORD names.
 */
static int record_key(winst *w, const char *path, char **out)
{
	udfenv_buf k = UDFENV_BUF_INIT;
	const char *cur = path, *c;
	size_t n;
	int error = 0;

	if (path[0] == '/')
		return file_error(w, UDFENV_EUNSAFE, path, "in RECORD is an absolute path");
	while (error == 0 && (c = udfenv_path_next(&cur, &n)) != NULL) {
		if (UDFENV_PATH_IS_DOTDOT(c, n)) {
			udfenv_buf_dispose(&k);
			return file_error(w, UDFENV_EUNSAFE, path,
			                  "in RECORD climbs out with '..'");
		}
		if (k.size)
			error = udfenv_buf_putc(&k, '/');
		if (error == 0)
			error = udfenv_buf_put(&k, c, n);
	}
	if (error == 0 && (*out = k.ptr ? udfenv_buf_detach(&k) : strdup("")) == NULL)
		error = oom();
	udfenv_buf_dispose(&k);
	return error;
}

static int add_row(winst *w, const char *line, size_t len)
{
	char *fields[3] = {NULL, NULL, NULL};
	size_t at = 0;
	wrow *r;
	int error = 0;

	for (int i = 0; i < 3 && error == 0; i++)
		error = at <= len ? udfenv_wheel__csv_field(line, len, &at, &fields[i])
		                  : ((fields[i] = strdup("")) == NULL ? oom() : 0);
	if (error == 0)
		error = udfenv_array_reserve((void **)&w->rows, &w->arows, w->nrows, sizeof(*r));
	if (error < 0) {
		for (int i = 0; i < 3; i++)
			free(fields[i]);
		return error;
	}
	r = &w->rows[w->nrows++];
	r->path = fields[0], r->hash = fields[1], r->size = fields[2];
	r->key = NULL;
	r->file = 0;
	return record_key(w, r->path, &r->key);
}

static int row_cmp(const void *a, const void *b)
{
	return strcmp(((const wrow *)a)->key, ((const wrow *)b)->key);
}

static int read_record(winst *w)
{
	const udfenv_buf text = w->meta[META_RECORD];
	size_t at = 0;
	int error = 0;

	if (!w->have_meta[META_RECORD])
		return udfenv_wheel__invalid(w->label, "no .dist-info/RECORD");
	while (at < text.size && error == 0) {
		const char *line = text.ptr + at;
		size_t n = strcspn(line, "\r\n");
		at += n + (line[n] == '\r' && line[n + 1] == '\n' ? 2 : 1);
		if (n > 0)
			error = add_row(w, line, n);
	}
	if (error < 0)
		return error;
	/* Their order is not kept: write_record sorts what it writes. */
	if (w->nrows > 1)
		qsort(w->rows, w->nrows, sizeof(*w->rows), row_cmp);
	for (size_t i = 1; i < w->nrows; i++)
		if (strcmp(w->rows[i - 1].key, w->rows[i].key) == 0) {
			char shown[UDFENV_TEXT_SHOW_SIZE];
			udfenv_text_show(shown, w->rows[i].path);
			return udfenv_wheel__invalid(w->label, "RECORD lists '%s' twice", shown);
		}
	return 0;
}

static wrow *find_row(const winst *w, const char *key)
{
	size_t lo = 0, hi = w->nrows;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(key, w->rows[mid].key);
		if (c == 0)
			return &w->rows[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/*
 * Check the file `f` against its RECORD row: listed, with a hash and a
 * size, the size matching; the hash is checked as the file is written.
 */
static int check_row(winst *w, wfile *f, size_t index)
{
	wrow *r = find_row(w, f->rel);
	const char *eq;
	size_t vlen;

	if (r == NULL)
		return file_error(w, UDFENV_EUNSAFE, f->rel, "is not listed in RECORD");
	r->file = index + 1;
	if (r->hash[0] == '\0' || r->size[0] == '\0')
		return file_error(w, UDFENV_EUNSAFE, f->rel, "has no %s in RECORD",
		                  r->hash[0] ? "size" : "hash");
	if ((eq = strchr(r->hash, '=')) == NULL ||
	    (f->alg = udfenv_wheel__alg_find(r->hash, (size_t)(eq - r->hash))) < 0)
		return file_error(w, UDFENV_EINVALID, f->rel,
		                  "has a RECORD hash that is not sha256=, sha384= or sha512=");
	if (strspn(r->size, "0123456789") != strlen(r->size) || strlen(r->size) > 19 ||
	    strtoull(r->size, NULL, 10) != f->size)
		return file_error(w, UDFENV_EUNSAFE, f->rel,
		                  "does not match its RECORD size (%llu bytes, RECORD says '%s')",
		                  (unsigned long long)f->size, r->size);
	for (vlen = strlen(eq + 1); vlen > 0 && eq[vlen] == '='; vlen--)
		;
	f->want = eq + 1;
	f->want_len = vlen;
	return 0;
}

/* ---- entry points ---- */

static int add_launcher(winst *w, const udfenv_wheel_ep *ep, const char *name, int gui)
{
	wlauncher *l;
	int error;

	for (size_t i = 0; i < w->nlaunchers; i++)
		if (strcmp(w->launchers[i].name, name) == 0) {
			char sn[UDFENV_TEXT_SHOW_SIZE];
			udfenv_text_show(sn, name);
			return udfenv_error_set(UDFENV_ECONFLICT,
			                        "'%s': '%s' is both a console and a gui script",
			                        w->shown, sn);
		}
	if ((error = udfenv_array_reserve((void **)&w->launchers, &w->alaunchers, w->nlaunchers, sizeof(*l))) < 0)
		return error;
	l = &w->launchers[w->nlaunchers];
	memset(l, 0, sizeof(*l));
	if ((l->name = strdup(name)) == NULL)
		return oom();
	l->ep = ep;
	l->gui = gui;
	w->nlaunchers++;
	return 0;
}

/* A regex-free "pip(\d+(\.\d+)?)?" / "easy_install(-\d+\.\d+)?" check. */
static int is_versioned(const char *name, const char *base, int dash)
{
	size_t n = strlen(base), d;

	if (strncmp(name, base, n) != 0)
		return 0;
	name += n;
	if (*name == '\0')
		return 1;
	if (dash && *name++ != '-')
		return 0;
	if ((d = strspn(name, "0123456789")) == 0)
		return 0;
	name += d;
	if (*name == '\0')
		return !dash;
	if (*name++ != '.' || (d = strspn(name, "0123456789")) == 0)
		return 0;
	return name[d] == '\0';
}

/*
 * The "pythonX.Y" component of purelib: pip makes versioned launchers of
 * a "pip" or "easy_install" console script for the interpreter it runs
 * on, which the scheme only shows there.
 */
static int python_xy(const winst *w, char *major, size_t mcap, char *xy, size_t cap)
{
	const char *cur = w->dirs[DIR_PURELIB].ptr, *c, *found = NULL;
	size_t n, flen = 0;

	while ((c = udfenv_path_next(&cur, &n)) != NULL) {
		size_t d1, d2;
		if (n < 9 || strncmp(c, "python", 6) != 0)
			continue;
		d1 = strspn(c + 6, "0123456789");
		if (d1 == 0 || c[6 + d1] != '.')
			continue;
		d2 = strspn(c + 7 + d1, "0123456789");
		if (d2 > 0 && 7 + d1 + d2 == n)
			found = c + 6, flen = n - 6;
	}
	if (found == NULL || flen >= cap || (size_t)(strchr(found, '.') - found) >= mcap)
		return udfenv_error_set(UDFENV_EINVALID,
		                        "'%s' has a pip or easy_install console script, whose "
		                        "versioned launchers need the interpreter's version, and "
		                        "purelib '%s' does not show it (no 'pythonX.Y' in it)",
		                        w->shown, w->dirs[DIR_PURELIB].ptr);
	memcpy(xy, found, flen);
	xy[flen] = '\0';
	n = (size_t)(strchr(xy, '.') - xy);
	memcpy(major, xy, n);
	major[n] = '\0';
	return 0;
}

/* pip's get_console_script_specs: pip and easy_install get versioned launchers. */
static int plan_console(winst *w, const udfenv_wheel_eps *c)
{
	static const char *const bases[2] = {"pip", "easy_install"};
	char major[16], xy[32], name[64];
	unsigned char *drop = calloc(c->count + 1, 1);
	int error = 0;

	if (drop == NULL)
		return oom();
	for (int b = 0; b < 2 && error == 0; b++) {
		size_t at;
		for (at = 0; at < c->count && strcmp(c->items[at].name, bases[b]) != 0; at++)
			;
		if (at == c->count)
			continue;
		if ((error = python_xy(w, major, sizeof(major), xy, sizeof(xy))) < 0 ||
		    (error = add_launcher(w, &c->items[at], bases[b], 0)) < 0)
			break;
		snprintf(name, sizeof(name), "pip%s", major);
		if (b == 0 && (error = add_launcher(w, &c->items[at], name, 0)) < 0)
			break;
		snprintf(name, sizeof(name), b == 0 ? "pip%s" : "easy_install-%s", xy);
		if ((error = add_launcher(w, &c->items[at], name, 0)) < 0)
			break;
		for (size_t i = 0; i < c->count; i++)
			drop[i] |= is_versioned(c->items[i].name, bases[b], b == 1);
	}
	for (size_t i = 0; i < c->count && error == 0; i++)
		if (!drop[i])
			error = add_launcher(w, &c->items[i], c->items[i].name, 0);
	free(drop);
	return error;
}

/* entry_points.txt: console launchers first (pip's specs), then gui ones. */
static int read_entry_points(winst *w)
{
	const udfenv_buf *text = &w->meta[META_EPS];
	int error;

	if (!w->have_meta[META_EPS])
		return 0;
	if ((error = udfenv_wheel__entry_points(&w->console, &w->gui, udfenv_buf_cstr(text),
	                                        text->size, w->label)) < 0 ||
	    (error = plan_console(w, &w->console)) < 0)
		return error;
	for (size_t i = 0; i < w->gui.count && error == 0; i++)
		error = add_launcher(w, &w->gui.items[i], w->gui.items[i].name, 1);
	return error;
}

/* ---- where each file goes ---- */

/* `path` relative to `base`, both absolute and normalized: "../../../bin/x" (os.path.relpath). */
static int relpath(udfenv_buf *out, const char *base, const char *path)
{
	const char *b = base, *p = path, *bc, *pc, *prest;
	size_t bn = 0, pn = 0;
	int error = 0;

	udfenv_buf_clear(out);
	for (;;) {
		const char *b0 = b, *p0 = p;
		bc = udfenv_path_next(&b, &bn);
		pc = udfenv_path_next(&p, &pn);
		if (bc == NULL || pc == NULL || bn != pn || memcmp(bc, pc, bn) != 0) {
			b = b0, p = p0;
			break;
		}
	}
	prest = p;
	while (error == 0 && udfenv_path_next(&b, &bn) != NULL)
		error = udfenv_buf_puts(out, "../");
	while (error == 0 && (pc = udfenv_path_next(&prest, &pn)) != NULL) {
		if ((error = udfenv_buf_put(out, pc, pn)) == 0 && prest[strspn(prest, "/")] != '\0')
			error = udfenv_buf_putc(out, '/');
	}
	if (error == 0 && out->size > 0 && out->ptr[out->size - 1] == '/')
		udfenv_buf_truncate(out, out->size - 1);
	return error;
}

/* Whether the first `len` bytes at `s` are the name of one of `eps`. */
static int names_ep(const udfenv_wheel_eps *eps, const char *s, size_t len)
{
	for (size_t i = 0; i < eps->count; i++)
		if (strlen(eps->items[i].name) == len && memcmp(eps->items[i].name, s, len) == 0)
			return 1;
	return 0;
}

/* pip's is_entrypoint_wrapper: setuptools' wrappers of the entry points pip makes itself. */
static int is_wrapper(const winst *w, const char *base)
{
	size_t n = strlen(base), cut = n;

	if (n >= 4 && (udfenv_ascii_eq_nocase(base + n - 4, ".exe") ||
	               udfenv_ascii_eq_nocase(base + n - 4, ".pya")))
		cut = n - 4;
	else if (n >= 10 && udfenv_ascii_eq_nocase(base + n - 10, "-script.py"))
		cut = n - 10;
	return names_ep(&w->console, base, cut) || names_ep(&w->gui, base, cut);
}

/* Where a file under "<x>.data/" goes; `*skip` for a wrapper pip leaves out. */
static int data_dest(winst *w, wfile *f, const char *after_top, udfenv_buf *dest, int *skip)
{
	const char *slash = strchr(after_top, '/'), *sub, *base;
	size_t klen;
	int k;

	if (slash == NULL)
		return file_error(w, UDFENV_EINVALID, f->rel,
		                  "is not '<scheme key>/<path>' under its .data directory");
	klen = (size_t)(slash - after_top);
	sub = slash + 1;
	for (k = 0; k < DIR_COUNT; k++)
		if (strlen(dir_keys[k]) == klen && memcmp(dir_keys[k], after_top, klen) == 0)
			break;
	if (k == DIR_COUNT)
		return file_error(w, UDFENV_EINVALID, f->rel,
		                  "is under an unknown .data key '%.*s' (purelib, platlib, "
		                  "scripts, headers or data)",
		                  (int)(klen > 100 ? 100 : klen), after_top);
	if (w->dirs[k].ptr == NULL)
		return file_error(w, UDFENV_EINVALID, f->rel,
		                  "goes to the scheme's %s dir, which was not given", dir_keys[k]);
	if (k == DIR_SCRIPTS) {
		base = strrchr(sub, '/') ? strrchr(sub, '/') + 1 : sub;
		if (is_wrapper(w, base)) {
			*skip = 1;
			return 0;
		}
		f->script = 1;
	}
	return udfenv_path_join(dest, w->dirs[k].ptr, sub);
}

/* Decide every file's destination and check it against RECORD. */
static int classify(winst *w)
{
	udfenv_buf dest = UDFENV_BUF_INIT, rp = UDFENV_BUF_INIT;
	size_t dlen = strlen(w->dist_info);
	int error = 0;

	for (size_t i = 0; i < w->nfiles && error == 0; i++) {
		wfile *f = &w->files[i];
		const char *slash = strchr(f->rel, '/');
		size_t top = slash ? (size_t)(slash - f->rel) : strlen(f->rel);
		int skip = 0,
		    in_info = slash && top == dlen && memcmp(f->rel, w->dist_info, dlen) == 0;

		if (in_info && strcmp(slash, "/RECORD") == 0)
			continue; /* replaced by ours */
		f->verify = !(in_info && (strcmp(slash, "/RECORD.jws") == 0 ||
		                          strcmp(slash, "/RECORD.p7s") == 0));
		if (f->verify) {
			if ((error = check_row(w, f, i)) < 0)
				break;
		} else {
			wrow *r = find_row(w, f->rel);
			if (r)
				r->file = i + 1;
		}
		udfenv_buf_clear(&dest);
		if (top > 5 && memcmp(f->rel + top - 5, ".data", 5) == 0) {
			if (slash == NULL)
				error = file_error(w, UDFENV_EINVALID, f->rel,
				                   "is a file named like a .data directory");
			else
				error = data_dest(w, f, slash + 1, &dest, &skip);
		} else {
			error = udfenv_path_join(&dest, w->lib, f->rel);
		}
		if (error < 0 || skip)
			continue;
		if ((error = relpath(&rp, w->lib, dest.ptr)) < 0)
			break;
		f->dest = udfenv_buf_detach(&dest);
		f->record_path = udfenv_buf_detach(&rp);
		if (f->dest == NULL || f->record_path == NULL)
			error = oom();
	}
	udfenv_buf_dispose(&dest);
	udfenv_buf_dispose(&rp);
	return error;
}

typedef struct {
	const char *dest;
	const char *from; /* a file of the wheel, or a launcher's name */
	int launcher;
} wtarget;

/* By destination, then files before launchers, then by name: the same message every time. */
static int target_cmp(const void *a, const void *b)
{
	const wtarget *x = a, *y = b;
	int c = strcmp(x->dest, y->dest);

	if (c == 0)
		c = x->launcher - y->launcher;
	return c ? c : strcmp(x->from, y->from);
}

/* Two files, or a file and a launcher, landing on one path. */
static int check_collisions(winst *w)
{
	wtarget *t = calloc(w->nfiles + w->nlaunchers + 1, sizeof(*t));
	size_t n = 0;
	int error = 0;

	if (t == NULL)
		return oom();
	for (size_t i = 0; i < w->nfiles; i++)
		if (w->files[i].dest)
			t[n++] = (wtarget){w->files[i].dest, w->files[i].rel, 0};
	for (size_t i = 0; i < w->nlaunchers; i++)
		t[n++] = (wtarget){w->launchers[i].dest, w->launchers[i].name, 1};
	if (n > 1)
		qsort(t, n, sizeof(*t), target_cmp);
	for (size_t i = 1; i < n && error == 0; i++) {
		if (strcmp(t[i - 1].dest, t[i].dest) != 0)
			continue;
		char a[UDFENV_TEXT_SHOW_SIZE], b[UDFENV_TEXT_SHOW_SIZE], d[UDFENV_TEXT_SHOW_SIZE];
		udfenv_text_show(a, t[i - 1].from);
		udfenv_text_show(b, t[i].from);
		udfenv_text_show(d, t[i].dest);
		error = udfenv_error_set(UDFENV_ECONFLICT,
		                         "'%s': %s'%s' and %s'%s' would both be installed as '%s'",
		                         w->shown, t[i - 1].launcher ? "the entry point " : "", a,
		                         t[i].launcher ? "the entry point " : "", b, d);
	}
	free(t);
	return error;
}

/* ---- the second pass: writing ---- */

/* Note what was just made at `path` (undone on refusal); on failure it is removed at once. */
static int note_made(winst *w, const char *path, int dir, const char *final)
{
	wmade *m;

	if (udfenv_array_reserve((void **)&w->made, &w->amade, w->nmade, sizeof(*m)) < 0)
		goto fail;
	m = &w->made[w->nmade];
	m->dir = dir;
	m->final = NULL;
	if ((m->path = strdup(path)) == NULL || (final && (m->final = strdup(final)) == NULL)) {
		free(m->path);
		goto fail;
	}
	w->nmade++;
	return 0;
fail:
	if (dir)
		rmdir(path);
	else
		unlink(path);
	return oom();
}

/* mkdir -p `dir` (0777 & ~umask, as os.makedirs), noting each dir made; `dir` is restored. */
static int make_dirs(winst *w, char *dir)
{
	char *slash;
	int error;

	if (mkdir(dir, 0777) == 0)
		return note_made(w, dir, 1, NULL);
	if (errno == ENOENT && (slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		error = make_dirs(w, dir);
		*slash = '/';
		if (error < 0)
			return error;
		if (mkdir(dir, 0777) == 0)
			return note_made(w, dir, 1, NULL);
	}
	if (errno == EEXIST)
		return 0;
	return udfenv_error_set_os(UDFENV_ERROR, "cannot create the directory '%s'", dir);
}

/* The dir of `path` exists afterwards (checked once per dir in a row). */
static int ensure_parent(winst *w, const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;
	udfenv_buf *last = &w->last_dir;
	int error;

	if (n == 0 || (last->size == n && memcmp(last->ptr, path, n) == 0))
		return 0;
	udfenv_buf_clear(last);
	if ((error = udfenv_buf_put(last, path, n)) < 0 || (error = make_dirs(w, last->ptr)) < 0) {
		udfenv_buf_clear(last);
		return error;
	}
	return 0;
}

/* Where one file's bytes go: its fd (-1: only checked), and the digest of a rewritten one. */
typedef struct {
	int fd;
	const char *name;
	udfenv_sha256 *h;
	uint64_t size;
} wout;

static int out_write(wout *o, const void *d, size_t len)
{
	int error;

	if (len == 0 || o->fd < 0)
		return 0;
	if (o->h && (error = udfenv_sha256_update(o->h, d, len)) < 0)
		return error;
	if (udfenv_fs_write_all(o->fd, d, len) < 0)
		return udfenv_error_set_os(UDFENV_ERROR, "cannot write '%s'", o->name);
	o->size += len;
	return 0;
}

/*
 * Open the file `f` is installed as, with pip's mode: (0777 & ~umask) |
 * 0111 with an x bit, else 0666 & ~umask. A file an earlier wheel put
 * there (pip replaces it) gets a temp file beside it, renamed over it once
 * every file of this wheel passed.
 */
static int open_dest(winst *w, const wfile *f, int *fd)
{
	udfenv_buf tmp = UDFENV_BUF_INIT;
	mode_t mode = f->exec ? ((0777 & ~w->umask) | 0111) : (0666 & ~w->umask);
	int replacing = 0, error;

	if ((error = ensure_parent(w, f->dest)) < 0)
		return error;
	*fd = open(f->dest, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (*fd >= 0)
		error = note_made(w, f->dest, 0, NULL);
	else if (errno != EEXIST)
		return udfenv_error_set_os(UDFENV_ERROR, "cannot create '%s'", f->dest);
	else if ((error = udfenv_fs_mkstemp(&tmp, w->last_dir.ptr, fd)) == 0)
		error = note_made(w, tmp.ptr, 0, f->dest), replacing = 1;
	udfenv_buf_dispose(&tmp);
	/* open() applied the umask, x bits included; mkstemp made it 0600. */
	if (error == 0 && (replacing || (mode & w->umask) != 0) && fchmod(*fd, mode) < 0)
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot set the mode of '%s'", f->dest);
	if (error < 0 && *fd >= 0) {
		close(*fd);
		*fd = -1;
	}
	return error;
}

/* What a script's first line is: being read (up to "#!python"), being skipped, or done. */
enum { LINE_HEAD, LINE_SKIP, LINE_DONE };

/*
 * Pass one block of a file through: a .data/scripts file whose first line
 * starts with "#!python" gets "#!<python>\n" for that line (pip's
 * fix_script); everything else is copied.
 */
static int out_block(winst *w, wout *o, int *line, char head[8], size_t *nhead, const char *p,
                     size_t len)
{
	int error;

	while (len > 0 && *line != LINE_DONE) {
		if (*line == LINE_SKIP) {
			const char *nl = memchr(p, '\n', len);
			if (nl == NULL)
				return 0;
			len -= (size_t)(nl + 1 - p);
			p = nl + 1;
			*line = LINE_DONE;
			break;
		}
		size_t take = 8 - *nhead < len ? 8 - *nhead : len;
		memcpy(head + *nhead, p, take);
		*nhead += take, p += take, len -= take;
		if (*nhead < 8)
			return 0;
		if (memcmp(head, "#!python", 8) != 0) {
			*line = LINE_DONE;
			if ((error = out_write(o, head, 8)) < 0)
				return error;
			continue;
		}
		*line = LINE_SKIP;
		if ((o->fd >= 0 && (error = udfenv_sha256_new(&o->h)) < 0) ||
		    (error = out_write(o, "#!", 2)) < 0 ||
		    (error = out_write(o, w->scheme->python, strlen(w->scheme->python))) < 0 ||
		    (error = out_write(o, "\n", 1)) < 0)
			return error;
	}
	return out_write(o, p, len);
}

/* Write (or, with no destination, only check) the file `f` now at `rd`, hashing it on the way. */
static int write_file(winst *w, wfile *f, xreader *rd)
{
	unsigned char got[UDFENV_WHEEL_ALGS][UDFENV_WHEEL_DIGEST_MAX];
	udfenv_buf enc = UDFENV_BUF_INIT;
	udfenv_wheel_digest d;
	wout o = {-1, f->dest, NULL, 0};
	char head[8];
	size_t nhead = 0, len;
	uint64_t in = 0;
	const void *buf;
	la_int64_t off;
	int line = f->script ? LINE_HEAD : LINE_DONE, r, error;

	if ((error = udfenv_wheel__digest_init(&d, f->verify ? 1u << f->alg : 0)) < 0 ||
	    (f->dest && (error = open_dest(w, f, &o.fd)) < 0))
		goto done;
	while ((r = udfenv_extract__reader_block(rd, &buf, &len, &off)) > 0) {
		if ((uint64_t)off != in) {
			error = file_error(w, UDFENV_EINVALID, f->rel, "has a data block at a bad offset");
			goto done;
		}
		in += len;
		if ((error = udfenv_wheel__digest_update(&d, buf, len, f->rel)) < 0 ||
		    (error = out_block(w, &o, &line, head, &nhead, buf, len)) < 0)
			goto done;
	}
	if ((error = r) < 0 || (line == LINE_HEAD && (error = out_write(&o, head, nhead)) < 0))
		goto done;
	if (o.fd >= 0 && close(o.fd) < 0) {
		o.fd = -1;
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot write '%s'", f->dest);
		goto done;
	}
	o.fd = -1;
	if (!f->verify)
		goto rehash;
	if (in != f->size) {
		error = file_error(w, UDFENV_EUNSAFE, f->rel,
		                   "has %llu bytes of data but its zip entry declares %llu",
		                   (unsigned long long)in, (unsigned long long)f->size);
		goto done;
	}
	if ((error = udfenv_wheel__digest_final(&d, got, f->rel)) < 0 ||
	    (error = udfenv_wheel__b64url(&enc, got[f->alg], udfenv_wheel__alg_len(f->alg))) < 0)
		goto done;
	if (f->want_len != enc.size || memcmp(f->want, enc.ptr, enc.size) != 0) {
		error = file_error(w, UDFENV_EUNSAFE, f->rel, "does not match its RECORD hash");
		goto done;
	}
rehash:
	if (o.h) {
		if ((error = udfenv_wheel__record_sha256(&enc, o.h)) < 0)
			goto done;
		f->new_hash = udfenv_buf_detach(&enc);
		f->new_size = o.size;
	}
done:
	if (o.fd >= 0)
		close(o.fd);
	udfenv_sha256_free(o.h);
	udfenv_wheel__digest_dispose(&d);
	udfenv_buf_dispose(&enc);
	return error;
}

/* Every file of the wheel, in zip order, as the first pass listed them. */
static int write_files(winst *w)
{
	struct archive_entry *e;
	xreader rd;
	size_t i = 0;
	int r, error = 0;

	if ((r = udfenv_extract__reader_open_fd(&rd, w->fd, w->label, &w->lim, 1)) == 0)
		while (error == 0 && (r = udfenv_extract__reader_next(&rd, &e)) > 0) {
			if (archive_entry_filetype(e) == AE_IFDIR)
				continue;
			if (i >= w->nfiles || strcmp(rd.name.ptr, w->files[i].rel) != 0)
				break;
			if (w->files[i].dest || w->files[i].verify)
				error = write_file(w, &w->files[i], &rd);
			i++;
		}
	udfenv_extract__reader_dispose(&rd);
	if (r < 0 || error < 0)
		return r < 0 ? r : error;
	if (i != w->nfiles || r > 0)
		return udfenv_error_set(UDFENV_ERROR, "'%s' changed while it was being installed",
		                        w->shown);
	return 0;
}

/* Every file passed: the temp files replace what earlier wheels installed. */
static int commit(winst *w)
{
	for (size_t i = 0; i < w->nmade; i++)
		if (w->made[i].final && rename(w->made[i].path, w->made[i].final) < 0)
			return udfenv_error_set_os(UDFENV_ERROR, "cannot install '%s'",
			                           w->made[i].final);
	return 0;
}

/* A refusal in the second pass: remove what it made, newest first. */
static void undo(winst *w)
{
	for (size_t i = w->nmade; i-- > 0;)
		if (w->made[i].dir)
			rmdir(w->made[i].path);
		else
			unlink(w->made[i].path);
	udfenv_buf_clear(&w->last_dir);
}

/* Remember a generated file for RECORD: its path relative to the root's dir, hash and size. */
static int add_generated(winst *w, const char *path, const void *data, size_t len)
{
	udfenv_buf rp = UDFENV_BUF_INIT, hash = UDFENV_BUF_INIT;
	udfenv_sha256 *h = NULL;
	int error;

	if ((error = relpath(&rp, w->lib, path)) < 0 || (error = udfenv_sha256_new(&h)) < 0 ||
	    (error = udfenv_sha256_update(h, data, len)) < 0 ||
	    (error = udfenv_wheel__record_sha256(&hash, h)) < 0 ||
	    (error = udfenv_strvec_push(&w->gen, rp.ptr)) < 0 ||
	    (error = udfenv_strvec_push(&w->gen, hash.ptr)) < 0 ||
	    (error = udfenv_strvec_pushf(&w->gen, "%zu", len)) < 0)
		goto done;
done:
	udfenv_sha256_free(h);
	udfenv_buf_dispose(&rp);
	udfenv_buf_dispose(&hash);
	return error;
}

/* distlib's enquote_executable, then _build_shebang (POSIX, no interpreter args). */
static int shebang(udfenv_buf *out, const char *python)
{
	udfenv_buf exe = UDFENV_BUF_INIT;
	int error = 0;

	if (strchr(python, ' ') == NULL) {
		error = udfenv_buf_puts(&exe, python);
	} else if (strncmp(python, "/usr/bin/env ", 13) == 0) {
		const char *rest = python + 13;
		error = strchr(rest, ' ') && rest[0] != '"'
		            ? udfenv_buf_printf(&exe, "/usr/bin/env \"%s\"", rest)
		            : udfenv_buf_puts(&exe, python);
	} else {
		error = python[0] == '"' ? udfenv_buf_puts(&exe, python)
		                         : udfenv_buf_printf(&exe, "\"%s\"", python);
	}
	if (error == 0) {
		if (strchr(exe.ptr, ' ') == NULL && exe.size + 3 <= SHEBANG_MAX)
			error = udfenv_buf_printf(out, "#!%s\n", exe.ptr);
		else
			error = udfenv_buf_printf(
			    out, "#!/bin/sh\n'''exec' %s \"$0\" \"$@\"\n' '''\n", exe.ptr);
	}
	udfenv_buf_dispose(&exe);
	return error;
}

/* distlib's ScriptMaker._make_script with pip's options: the launcher of `l`. */
static int write_launcher(winst *w, const wlauncher *l)
{
	udfenv_buf text = UDFENV_BUF_INIT;
	const char *module = l->ep->module, *attr = l->ep->attr;
	size_t imp = strcspn(attr, ".");
	int error;

	if ((error = shebang(&text, w->scheme->python)) < 0 ||
	    (error = udfenv_buf_printf(&text,
	                               "# -*- coding: utf-8 -*-\n"
	                               "import re\n"
	                               "import sys\n"
	                               "from %s import %.*s\n"
	                               "if __name__ == '__main__':\n"
	                               "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', "
	                               "sys.argv[0])\n"
	                               "    sys.exit(%s())\n",
	                               module, (int)imp, attr, attr)) < 0 ||
	    (error = ensure_parent(w, l->dest)) < 0)
		goto done;
	if ((error = udfenv_fs_write_replace(l->dest, text.ptr, text.size, (0666 & ~w->umask) | 0555)) < 0) {
		udfenv_error_prefix("'%s': its launcher: ", w->shown);
		goto done;
	}
	error = add_generated(w, l->dest, text.ptr, text.size);
done:
	udfenv_buf_dispose(&text);
	return error;
}

/* A dist-info file of ours: a temp file beside it, renamed over (pip's _generate_file). */
static int write_info_file(winst *w, const char *name, const char *data, size_t len, int record)
{
	udfenv_buf dir = UDFENV_BUF_INIT, path = UDFENV_BUF_INIT;
	int error;

	if ((error = udfenv_path_join(&dir, w->lib, w->dist_info)) < 0 ||
	    (error = udfenv_path_join(&path, dir.ptr, name)) < 0 ||
	    (error = udfenv_fs_mkdir_p(dir.ptr, 0777)) < 0 ||
	    (error = udfenv_fs_write_replace(path.ptr, data, len, 0666 & ~w->umask)) < 0)
		goto done;
	if (!record)
		error = add_generated(w, path.ptr, data, len);
done:
	udfenv_buf_dispose(&dir);
	udfenv_buf_dispose(&path);
	return error;
}

/* ---- RECORD ---- */

typedef struct {
	const char *path, *hash, *size;
} orow;

static int orow_cmp(const void *a, const void *b)
{
	const orow *x = a, *y = b;
	int c = strcmp(x->path, y->path);

	if (c == 0)
		c = strcmp(x->hash, y->hash);
	return c ? c : strcmp(x->size, y->size);
}

/*
 * pip's get_csv_rows_for_installed: the wheel's rows with installed
 * paths (rewritten files rehashed, skipped wrappers as they were), then
 * the generated files, then installed files RECORD did not list, with
 * RECORD itself last and empty; sorted; CRLF line ends.
 */
static int write_record(winst *w)
{
	size_t cap = w->nrows + w->gen.count / 3 + w->nfiles + 1, n = 0;
	orow *rows = calloc(cap, sizeof(*rows));
	udfenv_strvec pool = UDFENV_STRVEC_INIT;
	udfenv_buf text = UDFENV_BUF_INIT, self = UDFENV_BUF_INIT;
	int error;

	if (rows == NULL)
		return oom();
	if ((error = udfenv_buf_printf(&self, "%s/RECORD", w->dist_info)) < 0)
		goto done;
	for (size_t i = 0; i < w->nrows; i++) {
		const wrow *r = &w->rows[i];
		const wfile *f = r->file ? &w->files[r->file - 1] : NULL;
		if (strcmp(r->key, self.ptr) == 0)
			continue;
		if (f == NULL || f->dest == NULL) {
			rows[n++] = (orow){r->path, r->hash, r->size};
		} else if (f->new_hash == NULL) {
			rows[n++] = (orow){f->record_path, r->hash, r->size};
		} else {
			if ((error = udfenv_strvec_pushf(&pool, "%llu",
			                                 (unsigned long long)f->new_size)) < 0)
				goto done;
			rows[n++] = (orow){f->record_path, f->new_hash, pool.items[pool.count - 1]};
		}
	}
	for (size_t i = 0; i + 2 < w->gen.count; i += 3)
		rows[n++] = (orow){w->gen.items[i], w->gen.items[i + 1], w->gen.items[i + 2]};
	for (size_t i = 0; i < w->nfiles; i++) {
		const wfile *f = &w->files[i];
		if (f->dest && !f->verify && find_row(w, f->rel) == NULL)
			rows[n++] = (orow){f->record_path, "", ""};
	}
	rows[n++] = (orow){self.ptr, "", ""};
	qsort(rows, n, sizeof(*rows), orow_cmp);
	for (size_t i = 0; i < n; i++)
		if ((error = udfenv_wheel__csv_put(&text, rows[i].path)) < 0 ||
		    (error = udfenv_buf_putc(&text, ',')) < 0 ||
		    (error = udfenv_wheel__csv_put(&text, rows[i].hash)) < 0 ||
		    (error = udfenv_buf_putc(&text, ',')) < 0 ||
		    (error = udfenv_wheel__csv_put(&text, rows[i].size)) < 0 ||
		    (error = udfenv_buf_puts(&text, "\r\n")) < 0)
			goto done;
	error = write_info_file(w, "RECORD", udfenv_buf_cstr(&text), text.size, 1);
done:
	free(rows);
	udfenv_strvec_dispose(&pool);
	udfenv_buf_dispose(&text);
	udfenv_buf_dispose(&self);
	return error;
}

/* ---- the whole install ---- */

static int setup_dirs(winst *w)
{
	const udfenv_wheel_scheme *s = w->scheme;
	const char *given[DIR_COUNT] = {s->purelib, s->platlib, s->scripts, s->headers, s->data};
	int error;

	if (s->python == NULL || s->python[0] != '/')
		return udfenv_error_set(UDFENV_EINVALID,
		                        "installing '%s': the interpreter path "
		                        "must be absolute",
		                        w->shown);
	for (int k = 0; k < DIR_COUNT; k++) {
		if (given[k] == NULL && k == DIR_HEADERS)
			continue;
		if (given[k] == NULL || given[k][0] != '/')
			return udfenv_error_set(UDFENV_EINVALID,
			                        "installing '%s': the %s dir must be "
			                        "absolute",
			                        w->shown, dir_keys[k]);
		if ((error = udfenv_path_absolute(&w->dirs[k], given[k])) < 0)
			return error;
	}
	return 0;
}

static int open_wheel(winst *w)
{
	if ((w->fd = open(w->req->path, O_RDONLY | O_CLOEXEC)) < 0)
		return udfenv_error_set_os(udfenv_error_from_errno(errno), "cannot open '%s'",
		                           w->shown);
	return 0;
}

static int prepare(winst *w)
{
	udfenv_buf rel = UDFENV_BUF_INIT;
	const udfenv_buf *wheel = &w->meta[META_WHEEL];
	int purelib = 0, error;

	if ((error = setup_dirs(w)) < 0 ||
	    (error = udfenv_wheel__name_of(&w->wn, w->req->path, w->req->label)) < 0 ||
	    (error = open_wheel(w)) < 0 ||
	    (error = check_hashes(w)) < 0 || (error = udfenv_libarchive__load()) < 0 ||
	    (error = scan(w)) < 0)
		goto done;
	if (w->dist_info == NULL) {
		error = udfenv_wheel__invalid(w->label, "it has no .dist-info directory");
		goto done;
	}
	if ((error = udfenv_wheel__check_dist_info(&w->wn, w->dist_info, w->label)) < 0)
		goto done;
	if (!w->have_meta[META_WHEEL]) {
		error = udfenv_wheel__invalid(w->label, "no .dist-info/WHEEL");
		goto done;
	}
	if ((error = udfenv_wheel__check_wheel_file(udfenv_buf_cstr(wheel), wheel->size, w->label,
	                                            &purelib)) < 0)
		goto done;
	w->lib = w->dirs[purelib ? DIR_PURELIB : DIR_PLATLIB].ptr;
	if ((error = read_record(w)) < 0 || (error = read_entry_points(w)) < 0)
		goto done;
	for (size_t i = 0; i < w->nlaunchers; i++)
		if ((error = udfenv_path_join(&rel, w->dirs[DIR_SCRIPTS].ptr,
		                              w->launchers[i].name)) < 0 ||
		    (w->launchers[i].dest = udfenv_buf_detach(&rel)) == NULL) {
			error = error < 0 ? error : oom();
			goto done;
		}
	if ((error = classify(w)) < 0 || (error = check_collisions(w)) < 0)
		goto done;
done:
	udfenv_buf_dispose(&rel);
	return error;
}

static int install_files(winst *w)
{
	int error;

	if ((error = write_files(w)) < 0 || (error = commit(w)) < 0) {
		undo(w);
		return error;
	}
	for (size_t i = 0; i < w->nlaunchers && error == 0; i++)
		error = write_launcher(w, &w->launchers[i]);
	if (error == 0)
		error = write_info_file(w, "INSTALLER", "udfenv\n", 7, 0);
	if (error == 0 && w->req->requested)
		error = write_info_file(w, "REQUESTED", "", 0, 0);
	if (error == 0)
		error = write_record(w);
	return error;
}

static void winst_dispose(winst *w)
{
	if (w->fd >= 0)
		close(w->fd);
	for (int k = 0; k < DIR_COUNT; k++)
		udfenv_buf_dispose(&w->dirs[k]);
	for (int k = 0; k < META_COUNT; k++)
		udfenv_buf_dispose(&w->meta[k]);
	udfenv_wheelname_dispose(&w->wn);
	free(w->dist_info);
	for (size_t i = 0; i < w->nfiles; i++) {
		free(w->files[i].rel);
		free(w->files[i].dest);
		free(w->files[i].record_path);
		free(w->files[i].new_hash);
	}
	free(w->files);
	for (size_t i = 0; i < w->nrows; i++) {
		free(w->rows[i].path);
		free(w->rows[i].hash);
		free(w->rows[i].size);
		free(w->rows[i].key);
	}
	free(w->rows);
	for (size_t i = 0; i < w->nlaunchers; i++) {
		free(w->launchers[i].name);
		free(w->launchers[i].dest);
	}
	free(w->launchers);
	udfenv_wheel__eps_dispose(&w->console);
	udfenv_wheel__eps_dispose(&w->gui);
	udfenv_strvec_dispose(&w->gen);
	for (size_t i = 0; i < w->nmade; i++) {
		free(w->made[i].path);
		free(w->made[i].final);
	}
	free(w->made);
	udfenv_buf_dispose(&w->last_dir);
}

/*
 * Name the wheel in the current error, once: many lower-layer messages
 * only name a file under the scratch dir or the prefix.
 */
static void name_the_wheel(const winst *w)
{
	char quoted[UDFENV_TEXT_SHOW_SIZE + 2];

	snprintf(quoted, sizeof(quoted), "'%s'", w->shown);
	if (strstr(udfenv_error_last()->message, quoted) == NULL)
		udfenv_error_prefix("'%s': ", w->shown);
}

int udfenv_wheel__install(const udfenv_wheel_install *req, const udfenv_wheel_scheme *scheme)
{
	winst w;
	double t0 = udfenv_now();
	int error;

	memset(&w, 0, sizeof(w));
	w.fd = -1;
	w.req = req;
	w.scheme = scheme;
	w.label = req->label ? req->label : req->path;
	udfenv_text_show(w.shown, w.label);
	w.umask = current_umask();
	udfenv_extract__defaults(&w.lim);
	if ((error = prepare(&w)) == 0)
		error = install_files(&w);
	if (error < 0)
		name_the_wheel(&w);
	else if (udfenv_log_enabled(UDFENV_LOG_DEBUG))
		udfenv_log(UDFENV_LOG_DEBUG, "installed '%s': %zu files, %zu launchers in %.3f s",
		           w.shown, w.nfiles, w.nlaunchers, udfenv_now() - t0);
	winst_dispose(&w);
	return error;
}
