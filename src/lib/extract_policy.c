/*
 * The name policy of archive extraction (REFERENCE.md section 3): what an
 * entry may be called, which names of one archive may coexist, and where a
 * symlink of the archive may lead once every other symlink is known.
 */
#include "lib/extract_int.h"
#include "util/error.h"
#include "util/path.h"
#include "util/text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct xname {
	char *name; /* NULL: free slot */
	size_t len;
	uint64_t hash;
	char *target; /* symlinks only */
	int kind;
};

/* Kernel-like limit on symlinks followed while resolving one target. */
#define XLINK_MAX_HOPS 40
/* Components walked while resolving one target, so a crafted chain stays cheap. */
#define XLINK_MAX_STEPS 16384

int udfenv_extract__entry_error(const xpolicy *p, int code, const char *name, const char *fmt, ...)
{
	char shown[UDFENV_TEXT_SHOW_SIZE], what[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (name == NULL)
		snprintf(shown, sizeof(shown), "#%llu", (unsigned long long)p->entry_no);
	else
		udfenv_text_show(shown, name);
	return udfenv_error_set(code, "archive '%s': entry '%s' %s", p->label, shown, what);
}

/* The checks on the bytes of a raw name that need no splitting. */
static int check_bytes(const xpolicy *p, const char *raw, const char *entry)
{
	const unsigned char *s = (const unsigned char *)raw;
	size_t n = strlen(raw), i, k;

	if (n > p->lim->max_path)
		return udfenv_extract__entry_error(p, UDFENV_ELIMIT, entry,
		                                   "has a name of %zu bytes (the limit is %zu)", n,
		                                   p->lim->max_path);
	for (i = 0; i < n; i += k) {
		if (s[i] < 0x20 || s[i] == 0x7f)
			return udfenv_extract__entry_error(p, UDFENV_EUNSAFE, entry,
			                                   "has a control character in its name");
		if (s[i] == '\\')
			return udfenv_extract__entry_error(p, UDFENV_EUNSAFE, entry,
			                                   "has a backslash in its name");
		if ((k = udfenv_text_utf8_seq(s + i, s + n)) == 0)
			return udfenv_extract__entry_error(p, UDFENV_EUNSAFE, entry,
			                                   "has a name that is not valid UTF-8");
	}
	if (s[0] == '/')
		return udfenv_extract__entry_error(p, UDFENV_EUNSAFE, entry,
		                                   "has an absolute path");
	return 0;
}

int udfenv_extract__normalize(const xpolicy *p, udfenv_buf *out, const char *raw, const char *entry)
{
	const char *cursor, *c;
	size_t len;
	size_t depth = 0;
	int error;

	if (entry == NULL)
		entry = raw;
	udfenv_buf_clear(out);
	if (raw == NULL)
		return udfenv_extract__entry_error(p, UDFENV_EUNSAFE, NULL,
		                                   "has a name that is not valid UTF-8");
	if (raw[0] == '\0')
		return udfenv_extract__entry_error(p, UDFENV_EUNSAFE, NULL, "has an empty name");
	if ((error = check_bytes(p, raw, entry)) < 0)
		return error;
	for (cursor = raw; (c = udfenv_path_next(&cursor, &len)) != NULL;) {
		if (UDFENV_PATH_IS_DOTDOT(c, len))
			return udfenv_extract__entry_error(p, UDFENV_EUNSAFE, entry,
			                                   "leaves the extraction directory");
		if (++depth > p->lim->max_depth)
			return udfenv_extract__entry_error(p, UDFENV_ELIMIT, entry,
			                                   "is nested deeper than %zu directories",
			                                   p->lim->max_depth);
		if ((out->size && (error = udfenv_buf_putc(out, '/')) < 0) ||
		    (error = udfenv_buf_put(out, c, len)) < 0)
			return error;
	}
	return 0;
}

static uint64_t hash_bytes(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
	return h;
}

static xname *names_find(const xnames *t, const char *s, size_t n)
{
	uint64_t h = hash_bytes(s, n);
	size_t i;

	if (t->cap == 0)
		return NULL;
	for (i = h & (t->cap - 1); t->slots[i].name; i = (i + 1) & (t->cap - 1)) {
		const xname *x = &t->slots[i];
		if (x->hash == h && x->len == n && memcmp(x->name, s, n) == 0)
			return &t->slots[i];
	}
	return NULL;
}

/* Keep the table at most half full. */
static int names_grow(xnames *t)
{
	size_t cap = t->cap ? t->cap * 2 : 1024, i, j;
	xname *slots;

	if (t->count + 1 <= t->cap / 2)
		return 0;
	if (cap > SIZE_MAX / sizeof(xname) || (slots = calloc(cap, sizeof(xname))) == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	for (i = 0; i < t->cap; i++) {
		if (t->slots[i].name == NULL)
			continue;
		for (j = t->slots[i].hash & (cap - 1); slots[j].name; j = (j + 1) & (cap - 1))
			;
		slots[j] = t->slots[i];
	}
	free(t->slots);
	t->slots = slots;
	t->cap = cap;
	return 0;
}

/* Add a name known to be absent. */
static int names_add(xnames *t, const char *s, size_t n, int kind, const char *target)
{
	xname x = {NULL, n, hash_bytes(s, n), NULL, kind};
	size_t i;
	int error;

	if ((error = names_grow(t)) < 0)
		return error;
	if ((x.name = strndup(s, n)) == NULL || (target && (x.target = strdup(target)) == NULL)) {
		free(x.name);
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	}
	for (i = x.hash & (t->cap - 1); t->slots[i].name; i = (i + 1) & (t->cap - 1))
		;
	t->slots[i] = x;
	t->count++;
	return 0;
}

static const char *kind_word(int kind)
{
	return kind == XNAME_SYMLINK ? "a symlink" : kind == XNAME_FILE ? "a file" : "a directory";
}

/*
 * Record the parents of `name`, longest first: a parent already known as a
 * directory had its own parents checked when it was recorded.
 */
static int register_parents(xpolicy *p, const char *name)
{
	size_t n = strlen(name);
	const xname *x;
	int error;

	while (n > 0) {
		while (n > 0 && name[n - 1] != '/')
			n--;
		if (n == 0)
			break;
		n--; /* the '/' */
		if ((x = names_find(&p->names, name, n)) == NULL) {
			if ((error = names_add(&p->names, name, n, XNAME_IMPLICIT_DIR, NULL)) < 0)
				return error;
			continue;
		}
		if (x->kind == XNAME_DIR || x->kind == XNAME_IMPLICIT_DIR)
			break;
		return udfenv_extract__entry_error(
		    p, UDFENV_EUNSAFE, name, "is inside '%.*s', which is %s of the archive",
		    (int)(n < UDFENV_TEXT_SHOW_MAX ? n : UDFENV_TEXT_SHOW_MAX), name, kind_word(x->kind));
	}
	return 0;
}

int udfenv_extract__register(xpolicy *p, const char *name, int kind, const char *target)
{
	xname *x = names_find(&p->names, name, strlen(name));
	int error;

	if (x && x->kind != XNAME_IMPLICIT_DIR)
		return udfenv_extract__entry_error(p, UDFENV_EUNSAFE, name,
		                                   "appears twice in the archive (first as %s)",
		                                   kind_word(x->kind));
	if (x && kind != XNAME_DIR)
		return udfenv_extract__entry_error(
		    p, UDFENV_EUNSAFE, name,
		    "is %s, but earlier entries of the archive are inside it", kind_word(kind));
	if (x) {
		x->kind = XNAME_DIR;
		return 0;
	}
	if ((error = register_parents(p, name)) < 0)
		return error;
	return names_add(&p->names, name, strlen(name), kind, target);
}

int udfenv_extract__is_file(const xpolicy *p, const char *name)
{
	const xname *x = names_find(&p->names, name, strlen(name));
	return x != NULL && x->kind == XNAME_FILE;
}

int udfenv_extract__check_link_target(const xpolicy *p, const char *name, const char *target)
{
	char shown[UDFENV_TEXT_SHOW_SIZE];

	if (target == NULL || target[0] == '\0')
		return udfenv_extract__entry_error(
		    p, UDFENV_EUNSAFE, name, "is a symlink with an empty or unreadable target");
	if (strlen(target) > p->lim->max_path)
		return udfenv_extract__entry_error(p, UDFENV_ELIMIT, name,
		                                   "is a symlink to a target longer than %zu bytes",
		                                   p->lim->max_path);
	if (target[0] != '/' || p->lim->allow_absolute_symlinks)
		return 0;
	udfenv_text_show(shown, target);
	return udfenv_extract__entry_error(
	    p, UDFENV_EUNSAFE, name,
	    "is a symlink to the absolute path '%s'; build the venv with "
	    "`python -m venv --copies` so the archive holds the interpreter itself, "
	    "or make the link relative",
	    shown);
}

/* State of one symlink resolution: where we are, and what is left to walk. */
typedef struct {
	udfenv_buf cur;  /* the path reached, relative to the root; "" = the root */
	udfenv_buf rest; /* components still to walk */
	udfenv_buf tmp;
	size_t pos; /* read position in `rest` */
	unsigned hops, steps;
} xwalk;

/* Continue with `target` (of a symlink found in `cur`'s directory) before the rest. */
static int walk_substitute(xwalk *w, const char *target)
{
	int error;

	udfenv_buf_clear(&w->tmp);
	if ((error = udfenv_buf_puts(&w->tmp, target)) < 0 ||
	    (error = udfenv_buf_putc(&w->tmp, '/')) < 0 ||
	    (error = udfenv_buf_puts(&w->tmp, udfenv_buf_cstr(&w->rest) + w->pos)) < 0 ||
	    (error = udfenv_buf_sets(&w->rest, udfenv_buf_cstr(&w->tmp))) < 0)
		return error;
	w->pos = 0;
	return 0;
}

static void walk_pop(xwalk *w)
{
	char *slash = w->cur.size ? strrchr(w->cur.ptr, '/') : NULL;
	udfenv_buf_truncate(&w->cur, slash ? (size_t)(slash - w->cur.ptr) : 0);
}

/*
 * Take one component and apply it. Returns 1 when the walk ended safely
 * (the rest is walked, or it went through a file, or to an allowed
 * absolute path), 0 to go on, or an error.
 */
static int walk_step(const xpolicy *p, xwalk *w, const char *name, const char *target)
{
	const char *cursor = udfenv_buf_cstr(&w->rest) + w->pos, *c;
	const xname *x;
	size_t before, len;
	int error;

	if ((c = udfenv_path_next(&cursor, &len)) == NULL)
		return 1;
	w->pos = (size_t)(cursor - udfenv_buf_cstr(&w->rest));
	if (++w->steps > XLINK_MAX_STEPS || w->hops > XLINK_MAX_HOPS)
		return udfenv_extract__entry_error(p, UDFENV_EUNSAFE, name,
		                                   "is a symlink that goes through too many links");
	if (UDFENV_PATH_IS_DOTDOT(c, len)) {
		if (w->cur.size == 0) {
			char shown[UDFENV_TEXT_SHOW_SIZE];
			udfenv_text_show(shown, target);
			return udfenv_extract__entry_error(
			    p, UDFENV_EUNSAFE, name,
			    "is a symlink to '%s', which leaves the extraction directory", shown);
		}
		walk_pop(w);
		return 0;
	}
	before = w->cur.size;
	if ((before && (error = udfenv_buf_putc(&w->cur, '/')) < 0) ||
	    (error = udfenv_buf_put(&w->cur, c, len)) < 0)
		return error;
	if ((x = names_find(&p->names, w->cur.ptr, w->cur.size)) == NULL || x->kind == XNAME_DIR ||
	    x->kind == XNAME_IMPLICIT_DIR)
		return 0;
	if (x->kind == XNAME_FILE)
		return 1; /* anything below a file fails with ENOTDIR */
	if (x->target[0] == '/')
		return p->lim->allow_absolute_symlinks
		           ? 1
		           : udfenv_extract__check_link_target(p, name, x->target);
	w->hops++;
	udfenv_buf_truncate(&w->cur, before);
	return walk_substitute(w, x->target);
}

int udfenv_extract__resolve_link(const xpolicy *p, const char *name, const char *target)
{
	xwalk w = {UDFENV_BUF_INIT, UDFENV_BUF_INIT, UDFENV_BUF_INIT, 0, 0, 0};
	int error;

	if (target[0] == '/') {
		error = udfenv_extract__check_link_target(p, name, target);
		goto done;
	}
	if ((error = udfenv_buf_sets(&w.cur, name)) < 0 ||
	    (error = udfenv_buf_sets(&w.rest, target)) < 0)
		goto done;
	walk_pop(&w);
	while ((error = walk_step(p, &w, name, target)) == 0)
		;
	if (error > 0)
		error = 0;
done:
	udfenv_buf_dispose(&w.cur);
	udfenv_buf_dispose(&w.rest);
	udfenv_buf_dispose(&w.tmp);
	return error;
}

void udfenv_extract__policy_dispose(xpolicy *p)
{
	for (size_t i = 0; i < p->names.cap; i++) {
		free(p->names.slots[i].name);
		free(p->names.slots[i].target);
	}
	free(p->names.slots);
	p->names.slots = NULL;
	p->names.cap = p->names.count = 0;
}
