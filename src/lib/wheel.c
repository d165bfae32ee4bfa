/*
 * Wheel file names, METADATA/WHEEL read straight out of the .whl, and the
 * dist-info rules installing shares (the rest of the format installing
 * needs is in wheel_record.c).
 *
 * The zip is read in this process (no extraction, no helper): its layout
 * goes through the same structural check extraction uses before
 * libarchive's seekable reader sees it, only the two small files are
 * decompressed, under a size cap, and names are only compared, never used
 * as paths.
 */
#include "lib/wheel_int.h"
#include "lib/extract.h"
#include "lib/extract_int.h"
#include "lib/libarchive.h"
#include "lib/pep440.h"
#include "util/ascii.h"
#include "util/error.h"
#include "util/log.h"
#include "util/path.h"
#include "util/text.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>


/* ---- small string helpers ---- */

static int only_chars(const char *s, size_t len, const char *extra)
{
	for (size_t i = 0; i < len; i++)
		if (!udfenv_ascii_is_alnum(s[i]) && (s[i] == '\0' || strchr(extra, s[i]) == NULL))
			return 0;
	return 1;
}

int udfenv_wheel__invalid(const char *label, const char *fmt, ...)
{
	char shown[UDFENV_TEXT_SHOW_SIZE], *msg = NULL;
	va_list ap;
	int n, error;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	udfenv_text_show(shown, label);
	if (n < 0)
		return udfenv_error_set(UDFENV_EINVALID, "'%s' is not a valid wheel", shown);
	error = udfenv_error_set(UDFENV_EINVALID, "'%s' is not a valid wheel: %s", shown, msg);
	free(msg);
	return error;
}

/* ---- file names ---- */

static int bad_name(const char *filename, const char *why)
{
	char shown[UDFENV_TEXT_SHOW_SIZE];

	udfenv_text_show(shown, filename);
	return udfenv_error_set(UDFENV_EINVALID, "'%s' is not a wheel file name: %s", shown, why);
}

/* Split `s` at every `sep` into `parts` (pointers into `s`, which is cut). */
static size_t split(char *s, char sep, char **parts, size_t max)
{
	size_t n = 0;

	for (;;) {
		if (n == max)
			return max + 1;
		parts[n++] = s;
		if ((s = strchr(s, sep)) == NULL)
			return n;
		*s++ = '\0';
	}
}

/* Each '.'-separated component of a tag set non-empty, letters, digits and '_'. */
static int check_tag_set(const char *set)
{
	size_t len = strlen(set);

	if (len == 0 || set[0] == '.' || set[len - 1] == '.' || strstr(set, "..") != NULL)
		return 0;
	return only_chars(set, len, "._");
}

static int expand_tags(udfenv_strvec *out, char *py, char *abi, char *plat, const char *filename)
{
	char *pys[UDFENV_WHEEL_MAX_TAGS + 1], *abis[UDFENV_WHEEL_MAX_TAGS + 1],
	    *plats[UDFENV_WHEEL_MAX_TAGS + 1];
	size_t np = split(py, '.', pys, UDFENV_WHEEL_MAX_TAGS),
	       na = split(abi, '.', abis, UDFENV_WHEEL_MAX_TAGS),
	       nl = split(plat, '.', plats, UDFENV_WHEEL_MAX_TAGS);
	udfenv_buf tag = UDFENV_BUF_INIT;
	int error = 0;

	if (np > UDFENV_WHEEL_MAX_TAGS || na > UDFENV_WHEEL_MAX_TAGS ||
	    nl > UDFENV_WHEEL_MAX_TAGS || np * na > UDFENV_WHEEL_MAX_TAGS ||
	    np * na * nl > UDFENV_WHEEL_MAX_TAGS)
		return bad_name(filename, "its tag sets expand to too many tags");
	for (size_t i = 0; i < np && error == 0; i++)
		for (size_t j = 0; j < na && error == 0; j++)
			for (size_t k = 0; k < nl && error == 0; k++) {
				udfenv_buf_clear(&tag);
				if ((error = udfenv_buf_printf(&tag, "%s-%s-%s", pys[i], abis[j],
				                               plats[k])) == 0 &&
				    udfenv_strvec_find(out, tag.ptr) < 0)
					error = udfenv_strvec_push(out, tag.ptr);
			}
	udfenv_buf_dispose(&tag);
	return error;
}

int udfenv_wheel__parse_filename(udfenv_wheelname *out, const char *filename)
{
	udfenv_wheelname w = UDFENV_WHEELNAME_INIT;
	udfenv_buf key = UDFENV_BUF_INIT;
	size_t len = strlen(filename), n;
	char *stem = NULL, *parts[7];
	int error;

	if (len <= 4 || strcmp(filename + len - 4, ".whl") != 0) {
		error = bad_name(filename, "it does not end with .whl");
		goto done;
	}
	if ((stem = strndup(filename, len - 4)) == NULL) {
		error = udfenv_error_set(UDFENV_ENOMEM, "out of memory");
		goto done;
	}
	n = split(stem, '-', parts, 6);
	if (n != 5 && n != 6) {
		error = bad_name(filename, "it does not have the 5 or 6 parts "
		                           "name-version(-build)-python-abi-platform");
		goto done;
	}
	if (!only_chars(parts[0], strlen(parts[0]), "._") ||
	    udfenv_pep503_normalize(&key, parts[0], strlen(parts[0])) < 0) {
		error = bad_name(filename, "the name part is not a valid project name");
		goto done;
	}
	if (!udfenv_ascii_is_alnum(parts[1][0]) ||
	    !only_chars(parts[1], strlen(parts[1]), "._+!")) {
		error = bad_name(filename, "the version part is not a version");
		goto done;
	}
	if (n == 6 && (!udfenv_ascii_is_digit(parts[2][0]) ||
	               !only_chars(parts[2], strlen(parts[2]), "._"))) {
		error = bad_name(filename, "the build tag does not start with a digit");
		goto done;
	}
	for (size_t i = n - 3; i < n; i++) {
		if (!check_tag_set(parts[i])) {
			error = bad_name(filename, "a compatibility tag is empty or holds "
			                           "characters other than letters, digits and '_'");
			goto done;
		}
	}
	if ((w.name = strdup(parts[0])) == NULL || (w.version = strdup(parts[1])) == NULL ||
	    (n == 6 && (w.build = strdup(parts[2])) == NULL)) {
		error = udfenv_error_set(UDFENV_ENOMEM, "out of memory");
		goto done;
	}
	w.key = udfenv_buf_detach(&key);
	if ((error = expand_tags(&w.tags, parts[n - 3], parts[n - 2], parts[n - 1], filename)) < 0)
		goto done;
	*out = w;
	memset(&w, 0, sizeof(w));
done:
	udfenv_wheelname_dispose(&w);
	udfenv_buf_dispose(&key);
	free(stem);
	return error;
}

void udfenv_wheelname_dispose(udfenv_wheelname *w)
{
	if (w == NULL)
		return;
	free(w->name);
	free(w->key);
	free(w->version);
	free(w->build);
	udfenv_strvec_dispose(&w->tags);
	memset(w, 0, sizeof(*w));
}

int udfenv_wheel__name_of(udfenv_wheelname *out, const char *path, const char *label)
{
	udfenv_buf base = UDFENV_BUF_INIT;
	int error;

	if (label && (error = udfenv_path_basename(&base, label)) == 0 &&
	    (error = udfenv_wheel__parse_filename(out, base.ptr)) == 0)
		goto done;
	if (label && error == UDFENV_ENOMEM)
		goto done;
	udfenv_buf_clear(&base);
	if ((error = udfenv_path_basename(&base, path)) == 0 &&
	    udfenv_wheel__parse_filename(out, base.ptr) == 0)
		goto done;
	/* Report the label's failure: that is the name the user knows. */
	udfenv_buf_clear(&base);
	if ((error = udfenv_path_basename(&base, label ? label : path)) == 0)
		error = udfenv_wheel__parse_filename(out, base.ptr);
done:
	udfenv_buf_dispose(&base);
	return error;
}

/* ---- RFC 822 headers ---- */

/* One header of an RFC 822 block, as Python's email parser reads it. */
typedef struct {
	const char *name; /* points into the parsed text; `name_len` bytes */
	size_t name_len;
	udfenv_buf value; /* leading blanks dropped, continuation lines joined with "\n" */
} header;

typedef struct {
	header *items;
	size_t count, alloc;
} headers;

static int push_header(headers *h, const char *name, size_t name_len, const char *value,
                       size_t value_len)
{
	header *x;

	int error;

	if ((error = udfenv_array_reserve((void **)&h->items, &h->alloc, h->count, sizeof(*x))) < 0)
		return error;
	x = &h->items[h->count++];
	x->name = name;
	x->name_len = name_len;
	x->value = (udfenv_buf)UDFENV_BUF_INIT;
	/* Values are read as C strings: each line counts up to a NUL in it. */
	return udfenv_buf_put(&x->value, value, strnlen(value, value_len));
}

/* Appended in a buffer: a header of many short lines costs linear time, not quadratic. */
static int append_continuation(header *x, const char *line, size_t len)
{
	int error;

	if ((error = udfenv_buf_putc(&x->value, '\n')) < 0)
		return error;
	return udfenv_buf_put(&x->value, line, strnlen(line, len));
}

/* Python's email.feedparser: a header name is printable ASCII but ':' and space. */
static int header_name_ok(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

/*
 * Parse the header block of `text` (`len` bytes): lines up to the first
 * empty one or the first that is neither "Name: value" nor a continuation
 * (a line starting with a space or tab). CRLF, CR and LF all end lines.
 * The headers keep pointers into `text`; dispose `out` either way.
 */
static int parse_headers(headers *out, const char *text, size_t len)
{
	size_t at = 0;
	int error;

	while (at < len) {
		const char *line = text + at, *colon;
		size_t n = 0, next;

		while (at + n < len && line[n] != '\n' && line[n] != '\r')
			n++;
		next = at + n;
		if (next < len && text[next] == '\r' && next + 1 < len && text[next + 1] == '\n')
			next += 2;
		else if (next < len)
			next += 1;
		if (n == 0)
			break;
		if (line[0] == ' ' || line[0] == '\t') {
			/* A continuation before any header is a defect Python drops. */
			if (out->count > 0 &&
			    (error = append_continuation(&out->items[out->count - 1], line, n)) < 0)
				return error;
		} else {
			if ((colon = memchr(line, ':', n)) == NULL ||
			    !header_name_ok(line, (size_t)(colon - line)))
				break; /* the body starts here */
			const char *v = colon + 1, *end = line + n;
			while (v < end && (*v == ' ' || *v == '\t'))
				v++;
			if ((error = push_header(out, line, (size_t)(colon - line), v,
			                         (size_t)(end - v))) < 0)
				return error;
		}
		at = next;
	}
	return 0;
}

/* The first header called `name` (ASCII case ignored), or NULL. */
static const char *header_value(const headers *h, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < h->count; i++)
		if (udfenv_ascii_eq_nocase_n(h->items[i].name, h->items[i].name_len, name, len))
			return udfenv_buf_cstr(&h->items[i].value);
	return NULL;
}

static void headers_dispose(headers *h)
{
	for (size_t i = 0; i < h->count; i++)
		udfenv_buf_dispose(&h->items[i].value);
	free(h->items);
	memset(h, 0, sizeof(*h));
}

/* A header value for METADATA's consumers: unfolded (line breaks dropped) and trimmed. */
static char *unfold(const char *v)
{
	size_t len = strlen(v), n = 0;
	char *s = malloc(len + 1);

	if (s == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++)
		if (v[i] != '\n')
			s[n++] = v[i];
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	s[n] = '\0';
	size_t lead = strspn(s, " \t");
	memmove(s, s + lead, n - lead + 1);
	return s;
}

/* ---- WHEEL and the dist-info dir ---- */

static int version_char_eq(char a, char b)
{
	a = a == '_' ? '-' : udfenv_ascii_lower(a);
	b = b == '_' ? '-' : udfenv_ascii_lower(b);
	return a == b;
}

/* Whether "<name>-<version>" split at `dash` names `wn`. */
static int stem_matches(const udfenv_wheelname *wn, const char *stem, size_t dash, size_t len)
{
	udfenv_buf key = UDFENV_BUF_INIT;
	size_t vlen = len - dash - 1, i;
	int ok = udfenv_pep503_normalize(&key, stem, dash) == 0 && strcmp(key.ptr, wn->key) == 0 &&
	         vlen == strlen(wn->version);

	for (i = 0; ok && i < vlen; i++)
		ok = version_char_eq(stem[dash + 1 + i], wn->version[i]);
	udfenv_buf_dispose(&key);
	return ok;
}

#define DIST_INFO ".dist-info"
#define DIST_INFO_LEN (sizeof(DIST_INFO) - 1)

int udfenv_wheel__is_dist_info(const char *name, size_t len)
{
	return len > DIST_INFO_LEN &&
	       memcmp(name + len - DIST_INFO_LEN, DIST_INFO, DIST_INFO_LEN) == 0;
}

int udfenv_wheel__two_dist_infos(const char *label, const char *a, const char *b)
{
	char sa[UDFENV_TEXT_SHOW_SIZE], sb[UDFENV_TEXT_SHOW_SIZE];

	udfenv_text_show(sa, a);
	udfenv_text_show(sb, b);
	return udfenv_wheel__invalid(
	    label, "it has more than one .dist-info directory ('%s', '%s')", sa, sb);
}

int udfenv_wheel__check_dist_info(const udfenv_wheelname *wn, const char *dist_info,
                                  const char *label)
{
	size_t len = strlen(dist_info), stem_len;
	char shown[UDFENV_TEXT_SHOW_SIZE];

	if (udfenv_wheel__is_dist_info(dist_info, len)) {
		stem_len = len - DIST_INFO_LEN;
		for (size_t i = 0; i < stem_len; i++)
			if (dist_info[i] == '-' && stem_matches(wn, dist_info, i, stem_len))
				return 0;
	}
	udfenv_error_clear();
	udfenv_text_show(shown, dist_info);
	return udfenv_wheel__invalid(label, "its metadata directory '%s' is not %s-%s.dist-info",
	                             shown, wn->name, wn->version);
}

int udfenv_wheel__check_wheel_file(const char *text, size_t len, const char *label,
                                   int *root_is_purelib)
{
	headers h = {NULL, 0, 0};
	const char *v, *p;
	unsigned long major = 0;
	int newer = 0, error;

	if ((error = parse_headers(&h, text, len)) < 0)
		goto done;
	if ((v = header_value(&h, "Wheel-Version")) == NULL) {
		error = udfenv_wheel__invalid(label, "WHEEL has no Wheel-Version");
		goto done;
	}
	p = v + strspn(v, " \t\n");
	for (int part = 0;; part++) {
		size_t digits = strspn(p, "0123456789");
		if (digits == 0 || digits > 9) {
			error = udfenv_wheel__invalid(label, "WHEEL has an invalid Wheel-Version");
			goto done;
		}
		unsigned long n = strtoul(p, NULL, 10);
		if (part == 0)
			major = n;
		else if (n > 0)
			newer = 1;
		p += digits;
		if (*p != '.')
			break;
		p++;
	}
	if (p[strspn(p, " \t\n")] != '\0') {
		error = udfenv_wheel__invalid(label, "WHEEL has an invalid Wheel-Version");
		goto done;
	}
	if (major != 1) {
		error = udfenv_wheel__invalid(label,
		                              "its Wheel-Version %lu is not supported "
		                              "(only 1.x is)",
		                              major);
		goto done;
	}
	if (newer) {
		char shown[UDFENV_TEXT_SHOW_SIZE];
		udfenv_text_show(shown, label);
		udfenv_log(UDFENV_LOG_WARN,
		           "'%s' has a newer Wheel-Version than 1.0; installing "
		           "it anyway",
		           shown);
	}
	/* As pip reads it: the whole value, ignoring case; "true " is not true. */
	if (root_is_purelib)
		*root_is_purelib = (v = header_value(&h, "Root-Is-Purelib")) != NULL &&
		                   udfenv_ascii_eq_nocase(v, "true");
done:
	headers_dispose(&h);
	return error;
}

/* ---- reading the two files out of the zip ---- */

typedef struct {
	const char *path;
	const char *label;
	udfenv_strvec tops; /* distinct top-level names ending in .dist-info */
	udfenv_buf metadata, wheel;
	int have_metadata, have_wheel;
	xreader rd;
} mread;

static int top_is_dist_info(const char *name, size_t *top_len)
{
	const char *slash = strchr(name, '/');

	*top_len = slash ? (size_t)(slash - name) : strlen(name);
	return udfenv_wheel__is_dist_info(name, *top_len);
}

int udfenv_wheel__read_member(xreader *rd, const char *label, udfenv_buf *out, size_t max)
{
	const void *buf;
	size_t len;
	la_int64_t off;
	int r, error;

	while ((r = udfenv_extract__reader_block(rd, &buf, &len, &off)) > 0) {
		if ((uint64_t)off != out->size)
			return udfenv_wheel__invalid(label, "'%s' has a data block at a bad offset",
			                             rd->name.ptr);
		if (len > max - out->size) {
			char shown[UDFENV_TEXT_SHOW_SIZE];
			udfenv_text_show(shown, label);
			return udfenv_error_set(UDFENV_ELIMIT, "'%s': '%s' is larger than %zu bytes",
			                        shown, rd->name.ptr, max);
		}
		if ((error = udfenv_buf_put(out, buf, len)) < 0)
			return error;
	}
	return r;
}

/* Note the dist-info dir `name` (`len` bytes); two are enough to refuse the wheel. */
static int note_top(mread *m, const char *name, size_t len)
{
	char *top;

	if (m->tops.count >= 2)
		return 0;
	if ((top = strndup(name, len)) == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	if (udfenv_strvec_find(&m->tops, top) >= 0) {
		free(top);
		return 0;
	}
	return udfenv_strvec_push_owned(&m->tops, top);
}

static int take_entry(mread *m, struct archive_entry *e)
{
	const char *name = m->rd.name.ptr, *file;
	size_t top_len;
	int error;

	if (!top_is_dist_info(name, &top_len))
		return 0;
	if ((error = note_top(m, name, top_len)) < 0)
		return error;
	/* Only the first dist-info's files matter: a second one is refused anyway. */
	if (strlen(m->tops.items[0]) != top_len || strncmp(name, m->tops.items[0], top_len) != 0 ||
	    name[top_len] != '/' || archive_entry_filetype(e) != AE_IFREG)
		return 0;
	file = name + top_len + 1;
	if (strcmp(file, "METADATA") == 0 || strcmp(file, "WHEEL") == 0) {
		int *have = file[0] == 'M' ? &m->have_metadata : &m->have_wheel;
		udfenv_buf *out = file[0] == 'M' ? &m->metadata : &m->wheel;
		if (*have)
			return udfenv_wheel__invalid(m->label, "it holds '%s' twice", name);
		*have = 1;
		return udfenv_wheel__read_member(&m->rd, m->label, out, UDFENV_WHEEL_MAX_META);
	}
	return 0;
}

static int read_entries(mread *m)
{
	udfenv_extract_limits lim;
	struct archive_entry *e;
	int r, error = 0;

	udfenv_extract__defaults(&lim);
	if ((r = udfenv_extract__reader_open(&m->rd, m->path, m->label, &lim, 1)) == 0)
		while ((r = udfenv_extract__reader_next(&m->rd, &e)) > 0 &&
		       (error = take_entry(m, e)) == 0)
			;
	udfenv_extract__reader_dispose(&m->rd);
	return r < 0 ? r : error;
}

static int fill_metadata(udfenv_wheel_metadata *out, mread *m)
{
	headers h = {NULL, 0, 0};
	const char *v;
	int error;

	if ((error = parse_headers(&h, udfenv_buf_cstr(&m->metadata), m->metadata.size)) < 0)
		goto done;
	if ((v = header_value(&h, "Name")) == NULL || (out->name = unfold(v)) == NULL ||
	    out->name[0] == '\0') {
		error = out->name || v == NULL
		            ? udfenv_wheel__invalid(m->label, "METADATA has no Name")
		            : udfenv_error_set(UDFENV_ENOMEM, "out of memory");
		goto done;
	}
	if ((v = header_value(&h, "Version")) == NULL || (out->version = unfold(v)) == NULL ||
	    out->version[0] == '\0') {
		error = out->version || v == NULL
		            ? udfenv_wheel__invalid(m->label, "METADATA has no Version")
		            : udfenv_error_set(UDFENV_ENOMEM, "out of memory");
		goto done;
	}
	if ((v = header_value(&h, "Requires-Python")) != NULL &&
	    (out->requires_python = unfold(v)) == NULL) {
		error = udfenv_error_set(UDFENV_ENOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < h.count; i++) {
		if (!udfenv_ascii_eq_nocase_n(h.items[i].name, h.items[i].name_len, "Requires-Dist",
		                              13))
			continue;
		char *s = unfold(udfenv_buf_cstr(&h.items[i].value));
		if (s == NULL || (error = udfenv_strvec_push_owned(&out->requires_dist, s)) < 0) {
			error = udfenv_error_set(UDFENV_ENOMEM, "out of memory");
			goto done;
		}
	}
	if ((out->dist_info = strdup(m->tops.items[0])) == NULL)
		error = udfenv_error_set(UDFENV_ENOMEM, "out of memory");
done:
	headers_dispose(&h);
	return error;
}

int udfenv_wheel__read_metadata(udfenv_wheel_metadata *out, const char *whl_path, const char *label)
{
	udfenv_wheel_metadata md = UDFENV_WHEEL_METADATA_INIT;
	udfenv_wheelname wn = UDFENV_WHEELNAME_INIT;
	mread m;
	int error;

	memset(&m, 0, sizeof(m));
	m.path = whl_path;
	m.label = label ? label : whl_path;
	if ((error = udfenv_wheel__name_of(&wn, whl_path, label)) < 0 ||
	    (error = udfenv_libarchive__load()) < 0 || (error = read_entries(&m)) < 0)
		goto done;
	if (m.tops.count == 0) {
		error = udfenv_wheel__invalid(m.label, "no .dist-info/METADATA");
		goto done;
	}
	if (m.tops.count > 1) {
		error = udfenv_wheel__two_dist_infos(m.label, m.tops.items[0], m.tops.items[1]);
		goto done;
	}
	if ((error = udfenv_wheel__check_dist_info(&wn, m.tops.items[0], m.label)) < 0)
		goto done;
	if (!m.have_metadata) {
		error = udfenv_wheel__invalid(m.label, "no .dist-info/METADATA");
		goto done;
	}
	if (!m.have_wheel) {
		error = udfenv_wheel__invalid(m.label, "no .dist-info/WHEEL");
		goto done;
	}
	if ((error = udfenv_wheel__check_wheel_file(udfenv_buf_cstr(&m.wheel), m.wheel.size,
	                                            m.label, NULL)) < 0 ||
	    (error = fill_metadata(&md, &m)) < 0)
		goto done;
	*out = md;
	memset(&md, 0, sizeof(md));
done:
	udfenv_strvec_dispose(&m.tops);
	udfenv_buf_dispose(&m.metadata);
	udfenv_buf_dispose(&m.wheel);
	udfenv_wheelname_dispose(&wn);
	udfenv_wheel_metadata_dispose(&md);
	return error;
}

void udfenv_wheel_metadata_dispose(udfenv_wheel_metadata *m)
{
	if (m == NULL)
		return;
	free(m->name);
	free(m->version);
	free(m->requires_python);
	udfenv_strvec_dispose(&m->requires_dist);
	free(m->dist_info);
	memset(m, 0, sizeof(*m));
}
