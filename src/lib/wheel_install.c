/*
 * Installing one wheel, the way pip 23's operations/install/wheel.py does
 * with --no-compile, plus the checks pip leaves out.
 *
 * The wheel is extracted under the caller's scratch dir by the extraction
 * helper (archive-safety policy), and every step that can refuse it runs
 * before anything is installed: --hash, the dist-info, WHEEL, RECORD
 * against every file, entry points, .data keys and collisions. Only then
 * are the files renamed into the scheme's dirs (copied across file
 * systems), launchers written, and INSTALLER, REQUESTED and RECORD made.
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

#include <dirent.h>
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

static int digest_file(const char *path, unsigned mask,
                       unsigned char out[][UDFENV_WHEEL_DIGEST_MAX], uint64_t *size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), error;

	if (fd < 0)
		return udfenv_error_set_os(udfenv_error_from_errno(errno), "cannot open '%s'",
		                           path);
	error = udfenv_wheel__digest_fd(fd, path, mask, out, size);
	close(fd);
	return error;
}

/* ---- the state of one install ---- */

enum { DIR_PURELIB, DIR_PLATLIB, DIR_SCRIPTS, DIR_HEADERS, DIR_DATA, DIR_COUNT };
static const char *const dir_keys[DIR_COUNT] = {"purelib", "platlib", "scripts", "headers", "data"};

typedef struct {
	char *path, *hash, *size; /* fields as written; "" when absent */
	char *key;                /* path normalized, to match files */
	size_t file;              /* its file's index + 1; 0: none */
} wrow;

typedef struct {
	char *rel;         /* path in the wheel, normalized by extraction */
	char *dest;        /* absolute destination; NULL: not installed */
	char *record_path; /* dest relative to the root's dir, for RECORD */
	uint64_t size;
	int exec;       /* the zip entry had an x bit */
	int script;     /* .data/scripts: #!python is rewritten */
	int verify;     /* must match its RECORD row */
	char *new_hash; /* rewritten: RECORD gets new_hash and new_size */
	uint64_t new_size;
} wfile;

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
	char shown[XSHOW_SIZE]; /* the label, printable */
	mode_t umask;
	udfenv_buf dirs[DIR_COUNT]; /* as dir_keys: absolute, normalized */
	const char *lib;            /* where the root and the dist-info go */
	udfenv_buf tmp;             /* our dir under scratch */
	udfenv_buf root;            /* the extracted wheel */
	udfenv_wheelname wn;
	char *dist_info;
	wfile *files;
	size_t nfiles, afiles;
	wrow *rows; /* sorted by key once read */
	size_t nrows, arows;
	udfenv_wheel_eps console, gui; /* entry points, also for pip's wrapper filter */
	wlauncher *launchers;
	size_t nlaunchers, alaunchers;
	udfenv_strvec gen; /* generated files: RECORD path, hash, size, ... */
} winst;

/* "'LABEL': 'REL' <fmt>" with `code`. */
static int file_error(const winst *w, int code, const char *rel, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int file_error(const winst *w, int code, const char *rel, const char *fmt, ...)
{
	char shown[XSHOW_SIZE], *msg = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	udfenv_extract__show(shown, rel);
	code = udfenv_error_set(code, "'%s': '%s' %s", w->shown, shown, n < 0 ? "is refused" : msg);
	free(msg);
	return code;
}

static int oom(void)
{
	return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
}

static int grow(void **v, size_t *alloc, size_t count, size_t size)
{
	void *p;
	size_t n;

	if (count < *alloc)
		return 0;
	n = *alloc ? *alloc * 2 : 64;
	if (n > SIZE_MAX / size || (p = realloc(*v, n * size)) == NULL)
		return oom();
	*v = p;
	*alloc = n;
	return 0;
}

/* The process umask, without changing it (umask(2) would race other threads). */
static mode_t current_umask(void)
{
	udfenv_buf st = UDFENV_BUF_INIT;
	mode_t m = 022;
	const char *p;

	if (udfenv_fs_read_file(&st, "/proc/self/status", 1 << 20) == 0 &&
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
			char shown[XSHOW_SIZE];
			udfenv_extract__show(shown, s);
			return udfenv_error_set(
			    UDFENV_EINVALID,
			    "'%s' is not a valid --hash value for '%s' (expected "
			    "sha256:, sha384: or sha512: and the hex digest)",
			    shown, w->shown);
		}
		mask |= 1u << a;
		first = first < 0 ? a : first;
	}
	if ((error = digest_file(w->req->path, mask, got, NULL)) < 0)
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

/* ---- the extracted tree ---- */

static int add_file(winst *w, const char *rel, const struct stat *st)
{
	wfile *f;
	int error;

	if ((error = grow((void **)&w->files, &w->afiles, w->nfiles, sizeof(*f))) < 0)
		return error;
	f = &w->files[w->nfiles];
	memset(f, 0, sizeof(*f));
	if ((f->rel = strdup(rel)) == NULL)
		return oom();
	f->size = (uint64_t)st->st_size;
	f->exec = (st->st_mode & 0111) != 0;
	w->nfiles++;
	return 0;
}

static int note_dist_info(winst *w, const char *name)
{
	if (!udfenv_wheel__is_dist_info(name, strlen(name)))
		return 0;
	if (w->dist_info)
		return udfenv_wheel__two_dist_infos(w->label, w->dist_info, name);
	if ((w->dist_info = strdup(name)) == NULL)
		return oom();
	return 0;
}

/* Collect the regular files under root/`rel` (`rel` restored on return). */
static int walk(winst *w, udfenv_buf *rel)
{
	udfenv_buf path = UDFENV_BUF_INIT;
	size_t keep = rel->size;
	struct dirent *de;
	struct stat st;
	DIR *d = NULL;
	int error;

	if ((error = udfenv_path_join(&path, w->root.ptr, keep ? rel->ptr : ".")) < 0)
		goto done;
	if ((d = opendir(path.ptr)) == NULL) {
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot read '%s'", path.ptr);
		goto done;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		udfenv_buf_truncate(rel, keep);
		if ((keep && (error = udfenv_buf_putc(rel, '/')) < 0) ||
		    (error = udfenv_buf_puts(rel, de->d_name)) < 0)
			goto done;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			error = udfenv_error_set_os(UDFENV_ERROR, "cannot read '%s/%s'", path.ptr,
			                            de->d_name);
			goto done;
		}
		if (keep == 0 && (error = note_dist_info(w, de->d_name)) < 0)
			goto done;
		/* Bytecode made for some other interpreter must not shadow the sources (REFERENCE §5). */
		if (S_ISDIR(st.st_mode) && strcmp(de->d_name, "__pycache__") == 0)
			error = file_error(w, UDFENV_EUNSAFE, rel->ptr,
			                   "is a __pycache__ directory; a wheel must not ship bytecode caches");
		else if (S_ISDIR(st.st_mode))
			error = walk(w, rel);
		else if (S_ISREG(st.st_mode))
			error = add_file(w, rel->ptr, &st);
		else
			error =
			    file_error(w, UDFENV_EUNSAFE, rel->ptr,
			               "is a symlink; a wheel holds only files and directories");
		if (error < 0)
			goto done;
	}
	if (errno != 0)
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot read '%s'", path.ptr);
done:
	if (d)
		closedir(d);
	udfenv_buf_truncate(rel, keep);
	udfenv_buf_dispose(&path);
	return error;
}

static int file_cmp(const void *a, const void *b)
{
	return strcmp(((const wfile *)a)->rel, ((const wfile *)b)->rel);
}

/* Read the dist-info file `name` (NULL in `*found` when absent and `optional`). */
static int read_dist_file(winst *w, udfenv_buf *out, const char *name, size_t max, int optional,
                          int *found)
{
	udfenv_buf path = UDFENV_BUF_INIT;
	struct stat st;
	int error;

	if (found)
		*found = 0;
	if ((error = udfenv_buf_printf(&path, "%s/%s/%s", w->root.ptr, w->dist_info, name)) < 0)
		goto done;
	if (lstat(path.ptr, &st) < 0 || !S_ISREG(st.st_mode)) {
		error = optional ? 0 : udfenv_wheel__invalid(w->label, "no .dist-info/%s", name);
		goto done;
	}
	if ((uint64_t)st.st_size > max) {
		error = udfenv_error_set(UDFENV_ELIMIT, "'%s': '%s/%s' is larger than %zu bytes",
		                         w->shown, w->dist_info, name, max);
		goto done;
	}
	if ((error = udfenv_fs_read_file(out, path.ptr, max)) == 0 && found)
		*found = 1;
done:
	udfenv_buf_dispose(&path);
	return error;
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
		error = grow((void **)&w->rows, &w->arows, w->nrows, sizeof(*r));
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
	udfenv_buf text = UDFENV_BUF_INIT;
	size_t at = 0;
	int error;

	if ((error = read_dist_file(w, &text, "RECORD", UDFENV_WHEEL_MAX_RECORD, 0, NULL)) < 0)
		goto done;
	while (at < text.size && error == 0) {
		const char *line = text.ptr + at;
		size_t n = strcspn(line, "\r\n");
		at += n + (line[n] == '\r' && line[n + 1] == '\n' ? 2 : 1);
		if (n > 0)
			error = add_row(w, line, n);
	}
	if (error < 0)
		goto done;
	/* Their order is not kept: write_record sorts what it writes. */
	if (w->nrows > 1)
		qsort(w->rows, w->nrows, sizeof(*w->rows), row_cmp);
	for (size_t i = 1; i < w->nrows; i++)
		if (strcmp(w->rows[i - 1].key, w->rows[i].key) == 0) {
			char shown[XSHOW_SIZE];
			udfenv_extract__show(shown, w->rows[i].path);
			error = udfenv_wheel__invalid(w->label, "RECORD lists '%s' twice", shown);
			goto done;
		}
done:
	udfenv_buf_dispose(&text);
	return error;
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

/* Check the file `f` against its RECORD row: size first, then the hash. */
static int verify_file(winst *w, wfile *f, size_t index)
{
	unsigned char got[UDFENV_WHEEL_ALGS][UDFENV_WHEEL_DIGEST_MAX];
	udfenv_buf path = UDFENV_BUF_INIT, enc = UDFENV_BUF_INIT;
	wrow *r = find_row(w, f->rel);
	const char *eq;
	uint64_t size = 0;
	size_t vlen;
	int a, error;

	if (r == NULL)
		return file_error(w, UDFENV_EUNSAFE, f->rel, "is not listed in RECORD");
	r->file = index + 1;
	if (r->hash[0] == '\0' || r->size[0] == '\0')
		return file_error(w, UDFENV_EUNSAFE, f->rel, "has no %s in RECORD",
		                  r->hash[0] ? "size" : "hash");
	if ((eq = strchr(r->hash, '=')) == NULL ||
	    (a = udfenv_wheel__alg_find(r->hash, (size_t)(eq - r->hash))) < 0)
		return file_error(w, UDFENV_EINVALID, f->rel,
		                  "has a RECORD hash that is not sha256=, sha384= or sha512=");
	if (strspn(r->size, "0123456789") != strlen(r->size) || strlen(r->size) > 19 ||
	    strtoull(r->size, NULL, 10) != f->size)
		return file_error(w, UDFENV_EUNSAFE, f->rel,
		                  "does not match its RECORD size (%llu bytes, RECORD says '%s')",
		                  (unsigned long long)f->size, r->size);
	if ((error = udfenv_path_join(&path, w->root.ptr, f->rel)) < 0 ||
	    (error = digest_file(path.ptr, 1u << a, got, &size)) < 0 ||
	    (error = udfenv_wheel__b64url(&enc, got[a], udfenv_wheel__alg_len(a))) < 0)
		goto done;
	for (vlen = strlen(eq + 1); vlen > 0 && eq[vlen] == '='; vlen--)
		;
	if (size != f->size || vlen != enc.size || memcmp(eq + 1, enc.ptr, vlen) != 0)
		error = file_error(w, UDFENV_EUNSAFE, f->rel, "does not match its RECORD hash");
done:
	udfenv_buf_dispose(&path);
	udfenv_buf_dispose(&enc);
	return error;
}

/* ---- entry points ---- */

static int add_launcher(winst *w, const udfenv_wheel_ep *ep, const char *name, int gui)
{
	wlauncher *l;
	int error;

	for (size_t i = 0; i < w->nlaunchers; i++)
		if (strcmp(w->launchers[i].name, name) == 0) {
			char sn[XSHOW_SIZE];
			udfenv_extract__show(sn, name);
			return udfenv_error_set(UDFENV_ECONFLICT,
			                        "'%s': '%s' is both a console and a gui script",
			                        w->shown, sn);
		}
	if ((error = grow((void **)&w->launchers, &w->alaunchers, w->nlaunchers, sizeof(*l))) < 0)
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
	udfenv_buf text = UDFENV_BUF_INIT;
	int found, error;

	if ((error = read_dist_file(w, &text, "entry_points.txt", UDFENV_WHEEL_MAX_META, 1,
	                            &found)) < 0 ||
	    !found)
		goto done;
	if ((error = udfenv_wheel__entry_points(&w->console, &w->gui, udfenv_buf_cstr(&text),
	                                        text.size, w->label)) < 0 ||
	    (error = plan_console(w, &w->console)) < 0)
		goto done;
	for (size_t i = 0; i < w->gui.count && error == 0; i++)
		error = add_launcher(w, &w->gui.items[i], w->gui.items[i].name, 1);
done:
	udfenv_buf_dispose(&text);
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
			if ((error = verify_file(w, f, i)) < 0)
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

static int target_cmp(const void *a, const void *b)
{
	return strcmp(((const wtarget *)a)->dest, ((const wtarget *)b)->dest);
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
		char a[XSHOW_SIZE], b[XSHOW_SIZE], d[XSHOW_SIZE];
		udfenv_extract__show(a, t[i - 1].from);
		udfenv_extract__show(b, t[i].from);
		udfenv_extract__show(d, t[i].dest);
		error = udfenv_error_set(UDFENV_ECONFLICT,
		                         "'%s': %s'%s' and %s'%s' would both be installed as '%s'",
		                         w->shown, t[i - 1].launcher ? "the entry point " : "", a,
		                         t[i].launcher ? "the entry point " : "", b, d);
	}
	free(t);
	return error;
}

/* ---- writing ---- */

/* mkdir -p the dir of `path` (0777 & ~umask, as os.makedirs), once per dir in a row. */
static int ensure_parent(const char *path, udfenv_buf *last)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;
	int error;

	if (n == 0 || (last->size == n && memcmp(last->ptr, path, n) == 0))
		return 0;
	udfenv_buf_clear(last);
	if ((error = udfenv_buf_put(last, path, n)) < 0 ||
	    (error = udfenv_fs_mkdir_p(last->ptr, 0777)) < 0) {
		udfenv_buf_clear(last);
		return error;
	}
	return 0;
}

static int write_fd_hashed(int fd, const char *name, udfenv_sha256 *h, const void *d, size_t len)
{
	int error;

	if ((error = udfenv_sha256_update(h, d, len)) < 0)
		return error;
	if (udfenv_fs_write_all(fd, d, len) < 0)
		return udfenv_error_set_os(UDFENV_ERROR, "cannot write '%s'", name);
	return 0;
}

/*
 * pip's fix_script: a first line starting with "#!python" becomes
 * "#!<python>\n", the rest is kept. The file in the extracted tree is
 * replaced; its new hash and size go to RECORD.
 */
static int rewrite_shebang(winst *w, wfile *f, const char *src)
{
	udfenv_buf tmp = UDFENV_BUF_INIT, hash = UDFENV_BUF_INIT;
	udfenv_sha256 *h = NULL;
	char *block = malloc(WBLOCK);
	size_t got = 0;
	uint64_t total = 0;
	int in = -1, out = -1, skipping = 1, error = 0;
	ssize_t n;

	if (block == NULL)
		return oom();
	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0) {
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot open '%s'", src);
		goto done;
	}
	while (got < 8 && (n = read(in, block + got, WBLOCK - got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error = udfenv_error_set_os(UDFENV_ERROR, "cannot read '%s'", src);
			goto done;
		}
		got += (size_t)n;
	}
	if (got < 8 || memcmp(block, "#!python", 8) != 0)
		goto done;
	if ((error = udfenv_fs_mkstemp(&tmp, w->tmp.ptr, &out)) < 0 ||
	    (error = udfenv_sha256_new(&h)) < 0 ||
	    (error = write_fd_hashed(out, tmp.ptr, h, "#!", 2)) < 0 ||
	    (error = write_fd_hashed(out, tmp.ptr, h, w->scheme->python,
	                             strlen(w->scheme->python))) < 0 ||
	    (error = write_fd_hashed(out, tmp.ptr, h, "\n", 1)) < 0)
		goto done;
	total = 3 + strlen(w->scheme->python);
	for (;;) {
		const char *p = block;
		size_t len = got;
		if (skipping) {
			const char *nl = memchr(block, '\n', got);
			len = nl ? got - (size_t)(nl + 1 - block) : 0;
			p = nl ? nl + 1 : block;
			skipping = nl == NULL;
		}
		if (len && (error = write_fd_hashed(out, tmp.ptr, h, p, len)) < 0)
			goto done;
		total += len;
		while ((n = read(in, block, WBLOCK)) < 0 && errno == EINTR)
			;
		if (n < 0) {
			error = udfenv_error_set_os(UDFENV_ERROR, "cannot read '%s'", src);
			goto done;
		}
		if (n == 0)
			break;
		got = (size_t)n;
	}
	if (close(out) < 0) {
		out = -1;
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot write '%s'", tmp.ptr);
		goto done;
	}
	out = -1;
	if (rename(tmp.ptr, src) < 0) {
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot replace '%s'", src);
		goto done;
	}
	udfenv_buf_clear(&tmp);
	if ((error = udfenv_wheel__record_sha256(&hash, h)) < 0)
		goto done;
	f->new_hash = udfenv_buf_detach(&hash);
	f->new_size = total;
done:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (tmp.size)
		unlink(tmp.ptr);
	udfenv_sha256_free(h);
	udfenv_buf_dispose(&tmp);
	udfenv_buf_dispose(&hash);
	free(block);
	return error;
}

/* Move (or copy, across file systems) the file to its place, with pip's mode and a fresh mtime. */
static int place(winst *w, wfile *f, udfenv_buf *last_dir)
{
	udfenv_buf src = UDFENV_BUF_INIT;
	mode_t mode = f->exec ? ((0777 & ~w->umask) | 0111) : (0666 & ~w->umask);
	int error;

	if ((error = udfenv_path_join(&src, w->root.ptr, f->rel)) < 0 ||
	    (f->script && (error = rewrite_shebang(w, f, src.ptr)) < 0) ||
	    (error = ensure_parent(f->dest, last_dir)) < 0)
		goto done;
	if (rename(src.ptr, f->dest) < 0) {
		if (errno != EXDEV || (unlink(f->dest) < 0 && errno != ENOENT)) {
			error =
			    udfenv_error_set_os(UDFENV_ERROR, "'%s': cannot install '%s' as '%s'",
			                        w->shown, f->rel, f->dest);
			goto done;
		}
		if ((error = udfenv_fs_copy_file(src.ptr, f->dest, mode)) < 0)
			goto done;
	}
	if (chmod(f->dest, mode) < 0)
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot set the mode of '%s' (chmod)",
		                            f->dest);
	else if (utimensat(AT_FDCWD, f->dest, NULL, 0) < 0)
		error = udfenv_error_set_os(
		    UDFENV_ERROR, "cannot set the modification time of '%s' (utimensat)", f->dest);
done:
	udfenv_buf_dispose(&src);
	return error;
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
static int write_launcher(winst *w, const wlauncher *l, udfenv_buf *last_dir)
{
	udfenv_buf text = UDFENV_BUF_INIT;
	const char *module = l->ep->module, *attr = l->ep->attr;
	size_t imp = strcspn(attr, ".");
	int fd = -1, error;

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
	    (error = ensure_parent(l->dest, last_dir)) < 0)
		goto done;
	if ((unlink(l->dest) < 0 && errno != ENOENT) ||
	    (fd = open(l->dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666)) < 0 ||
	    udfenv_fs_write_all(fd, text.ptr, text.size) < 0 ||
	    fchmod(fd, (0666 & ~w->umask) | 0555) < 0) {
		error = udfenv_error_set_os(UDFENV_ERROR, "'%s': cannot write the launcher '%s'",
		                            w->shown, l->dest);
		goto done;
	}
	if (close(fd) < 0) {
		fd = -1;
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot write '%s'", l->dest);
		goto done;
	}
	fd = -1;
	error = add_generated(w, l->dest, text.ptr, text.size);
done:
	if (fd >= 0)
		close(fd);
	udfenv_buf_dispose(&text);
	return error;
}

/* A dist-info file of ours: a temp file beside it, renamed over (pip's _generate_file). */
static int write_info_file(winst *w, const char *name, const char *data, size_t len, int record)
{
	udfenv_buf dir = UDFENV_BUF_INIT, path = UDFENV_BUF_INIT, tmp = UDFENV_BUF_INIT;
	int fd = -1, error;

	if ((error = udfenv_path_join(&dir, w->lib, w->dist_info)) < 0 ||
	    (error = udfenv_path_join(&path, dir.ptr, name)) < 0 ||
	    (error = udfenv_fs_mkdir_p(dir.ptr, 0777)) < 0 ||
	    (error = udfenv_fs_mkstemp(&tmp, dir.ptr, &fd)) < 0)
		goto done;
	if (udfenv_fs_write_all(fd, data, len) < 0 || fchmod(fd, 0666 & ~w->umask) < 0) {
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot write '%s'", tmp.ptr);
		goto done;
	}
	if (close(fd) < 0) {
		fd = -1;
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot write '%s'", tmp.ptr);
		goto done;
	}
	fd = -1;
	if (rename(tmp.ptr, path.ptr) < 0) {
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot write '%s'", path.ptr);
		goto done;
	}
	udfenv_buf_clear(&tmp);
	if (!record)
		error = add_generated(w, path.ptr, data, len);
done:
	if (fd >= 0)
		close(fd);
	if (tmp.size)
		unlink(tmp.ptr);
	udfenv_buf_dispose(&dir);
	udfenv_buf_dispose(&path);
	udfenv_buf_dispose(&tmp);
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

static int prepare(winst *w)
{
	udfenv_buf rel = UDFENV_BUF_INIT, wheel = UDFENV_BUF_INIT;
	int purelib = 0, error;

	if ((error = setup_dirs(w)) < 0 ||
	    (error = udfenv_wheel__name_of(&w->wn, w->req->path, w->req->label)) < 0 ||
	    (error = check_hashes(w)) < 0 ||
	    (error = udfenv_fs_mkdtemp(&w->tmp, w->req->scratch, "wheel-")) < 0 ||
	    (error = udfenv_path_join(&w->root, w->tmp.ptr, "root")) < 0 ||
	    (error = udfenv_extract__archive(w->req->path, w->root.ptr, w->label, NULL, NULL)) <
	        0 ||
	    (error = walk(w, &rel)) < 0)
		goto done;
	if (w->dist_info == NULL) {
		error = udfenv_wheel__invalid(w->label, "no .dist-info/METADATA");
		goto done;
	}
	if ((error = udfenv_wheel__check_dist_info(&w->wn, w->dist_info, w->label)) < 0 ||
	    (error = read_dist_file(w, &wheel, "WHEEL", UDFENV_WHEEL_MAX_META, 0, NULL)) < 0 ||
	    (error = udfenv_wheel__check_wheel_file(udfenv_buf_cstr(&wheel), wheel.size, w->label,
	                                            &purelib)) < 0)
		goto done;
	w->lib = w->dirs[purelib ? DIR_PURELIB : DIR_PLATLIB].ptr;
	if (w->nfiles > 1)
		qsort(w->files, w->nfiles, sizeof(*w->files), file_cmp);
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
	udfenv_buf_dispose(&wheel);
	return error;
}

static int install_files(winst *w)
{
	udfenv_buf last = UDFENV_BUF_INIT;
	int error = 0;

	for (size_t i = 0; i < w->nfiles && error == 0; i++)
		if (w->files[i].dest)
			error = place(w, &w->files[i], &last);
	for (size_t i = 0; i < w->nlaunchers && error == 0; i++)
		error = write_launcher(w, &w->launchers[i], &last);
	if (error == 0)
		error = write_info_file(w, "INSTALLER", "udfenv\n", 7, 0);
	if (error == 0 && w->req->requested)
		error = write_info_file(w, "REQUESTED", "", 0, 0);
	if (error == 0)
		error = write_record(w);
	udfenv_buf_dispose(&last);
	return error;
}

static void winst_dispose(winst *w)
{
	for (int k = 0; k < DIR_COUNT; k++)
		udfenv_buf_dispose(&w->dirs[k]);
	udfenv_buf_dispose(&w->tmp);
	udfenv_buf_dispose(&w->root);
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
}

/*
 * Name the wheel in the current error, once: many lower-layer messages
 * only name a file under the scratch dir or the prefix.
 */
static void name_the_wheel(const winst *w)
{
	char quoted[XSHOW_SIZE + 2];

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
	w.req = req;
	w.scheme = scheme;
	w.label = req->label ? req->label : req->path;
	udfenv_extract__show(w.shown, w.label);
	w.umask = current_umask();
	if ((error = prepare(&w)) == 0)
		error = install_files(&w);
	if (w.tmp.size) {
		if (error < 0)
			udfenv_fs_rmtree_quiet(w.tmp.ptr);
		else
			error = udfenv_fs_rmtree(w.tmp.ptr);
	}
	if (error < 0)
		name_the_wheel(&w);
	else if (udfenv_log_enabled(UDFENV_LOG_DEBUG))
		udfenv_log(UDFENV_LOG_DEBUG, "installed '%s': %zu files, %zu launchers in %.3f s",
		           w.shown, w.nfiles, w.nlaunchers, udfenv_now() - t0);
	winst_dispose(&w);
	return error;
}
