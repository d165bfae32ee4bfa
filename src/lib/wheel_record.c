/*
 * The pieces of the wheel format installing needs beyond METADATA and
 * WHEEL: digests in RECORD's form (and --hash's), RECORD's CSV, and
 * entry_points.txt with the checks on console and gui scripts.
 */
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA512_*: see util/hash.c on EVP's start-up cost */
#include "lib/wheel_int.h"
#include "lib/extract_int.h"
#include "util/ascii.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/text.h"

#include <errno.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RREAD_BLOCK (64 * 1024)

/* ---- digests ---- */

static const struct {
	const char *name;
	size_t len;
} algs[UDFENV_WHEEL_ALGS] = {{"sha256", 32}, {"sha384", 48}, {"sha512", 64}};

const char *udfenv_wheel__alg_name(int alg)
{
	return algs[alg].name;
}

size_t udfenv_wheel__alg_len(int alg)
{
	return algs[alg].len;
}

int udfenv_wheel__alg_find(const char *name, size_t len)
{
	for (int i = 0; i < UDFENV_WHEEL_ALGS; i++)
		if (udfenv_ascii_eq_nocase_n(algs[i].name, strlen(algs[i].name), name, len))
			return i;
	return -1;
}

int udfenv_wheel__digest_init(udfenv_wheel_digest *d, unsigned mask)
{
	int error;

	memset(d, 0, sizeof(*d));
	d->mask = mask;
	if ((mask & (1u << UDFENV_WHEEL_SHA256)) && (error = udfenv_sha256_new(&d->h256)) < 0)
		return error;
	if (((mask & (1u << UDFENV_WHEEL_SHA384)) && SHA384_Init(&d->c384) != 1) ||
	    ((mask & (1u << UDFENV_WHEEL_SHA512)) && SHA512_Init(&d->c512) != 1))
		return udfenv_error_set(UDFENV_ERROR, "cannot set up SHA-384/512");
	return 0;
}

int udfenv_wheel__digest_update(udfenv_wheel_digest *d, const void *p, size_t n, const char *name)
{
	int error;

	if (d->h256 && (error = udfenv_sha256_update(d->h256, p, n)) < 0)
		return error;
	if (((d->mask & (1u << UDFENV_WHEEL_SHA384)) && SHA384_Update(&d->c384, p, n) != 1) ||
	    ((d->mask & (1u << UDFENV_WHEEL_SHA512)) && SHA512_Update(&d->c512, p, n) != 1))
		return udfenv_error_set(UDFENV_ERROR, "SHA-384/512 failed on '%s'", name);
	return 0;
}

int udfenv_wheel__digest_final(udfenv_wheel_digest *d, unsigned char out[][UDFENV_WHEEL_DIGEST_MAX],
                               const char *name)
{
	int error;

	if (d->h256 && (error = udfenv_sha256_final_raw(d->h256, out[UDFENV_WHEEL_SHA256])) < 0)
		return error;
	if (((d->mask & (1u << UDFENV_WHEEL_SHA384)) &&
	     SHA384_Final(out[UDFENV_WHEEL_SHA384], &d->c384) != 1) ||
	    ((d->mask & (1u << UDFENV_WHEEL_SHA512)) &&
	     SHA512_Final(out[UDFENV_WHEEL_SHA512], &d->c512) != 1))
		return udfenv_error_set(UDFENV_ERROR, "SHA-384/512 failed on '%s'", name);
	return 0;
}

void udfenv_wheel__digest_dispose(udfenv_wheel_digest *d)
{
	udfenv_sha256_free(d->h256);
	d->h256 = NULL;
}

int udfenv_wheel__digest_fd(int fd, const char *name, unsigned mask,
                            unsigned char out[][UDFENV_WHEEL_DIGEST_MAX], uint64_t *size)
{
	udfenv_wheel_digest d;
	unsigned char *block = malloc(RREAD_BLOCK);
	uint64_t total = 0;
	ssize_t n;
	int error;

	if (block == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	if ((error = udfenv_wheel__digest_init(&d, mask)) < 0)
		goto done;
	while ((n = read(fd, block, RREAD_BLOCK)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error = udfenv_error_set_os(UDFENV_ERROR, "cannot read '%s'", name);
			goto done;
		}
		if ((error = udfenv_wheel__digest_update(&d, block, (size_t)n, name)) < 0)
			goto done;
		total += (uint64_t)n;
	}
	if ((error = udfenv_wheel__digest_final(&d, out, name)) == 0 && size)
		*size = total;
done:
	udfenv_wheel__digest_dispose(&d);
	free(block);
	return error;
}

int udfenv_wheel__record_sha256(udfenv_buf *out, udfenv_sha256 *h)
{
	unsigned char raw[UDFENV_SHA256_LEN];
	int error;

	if ((error = udfenv_sha256_final_raw(h, raw)) < 0)
		return error;
	udfenv_buf_clear(out);
	if ((error = udfenv_buf_puts(out, "sha256=")) < 0)
		return error;
	return udfenv_wheel__b64url(out, raw, sizeof(raw));
}

int udfenv_wheel__b64url(udfenv_buf *out, const unsigned char *d, size_t len)
{
	static const char abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char q[4];
	int error = 0;

	for (size_t i = 0; i < len && error == 0; i += 3) {
		uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < len ? (uint32_t)d[i + 1] << 8 : 0) |
		             (i + 2 < len ? d[i + 2] : 0);
		q[0] = abc[v >> 18 & 63];
		q[1] = abc[v >> 12 & 63];
		q[2] = abc[v >> 6 & 63];
		q[3] = abc[v & 63];
		error = udfenv_buf_put(out, q, len - i >= 3 ? 4 : len - i + 1);
	}
	return error;
}

/* ---- RECORD's CSV ---- */

int udfenv_wheel__csv_field(const char *line, size_t len, size_t *at, char **out)
{
	udfenv_buf f = UDFENV_BUF_INIT;
	size_t i = *at;
	int quoted = 0, error = 0;

	if (i < len && line[i] == '"') {
		quoted = 1;
		i++;
	}
	while (i < len && error == 0) {
		if (quoted && line[i] == '"') {
			if (i + 1 < len && line[i + 1] == '"') {
				error = udfenv_buf_putc(&f, '"');
				i += 2;
			} else {
				quoted = 0; /* text after the closing quote joins the field */
				i++;
			}
			continue;
		}
		if (!quoted && line[i] == ',')
			break;
		error = udfenv_buf_putc(&f, line[i++]);
	}
	*at = i < len ? i + 1 : len + 1;
	if (error == 0 && (*out = f.ptr ? udfenv_buf_detach(&f) : strdup("")) == NULL)
		error = udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	udfenv_buf_dispose(&f);
	return error;
}

int udfenv_wheel__csv_put(udfenv_buf *out, const char *s)
{
	int error;

	if (strpbrk(s, ",\"\r\n") == NULL)
		return udfenv_buf_puts(out, s);
	error = udfenv_buf_putc(out, '"');
	for (; *s && error == 0; s++)
		error = *s == '"' ? udfenv_buf_puts(out, "\"\"") : udfenv_buf_putc(out, *s);
	return error ? error : udfenv_buf_putc(out, '"');
}

/* ---- entry_points.txt ---- */

static int is_word(char c)
{
	return udfenv_ascii_is_alnum(c) || c == '_';
}

/* Length of the dotted words ("a.b_1.c") at `s`; 0 when none. */
static size_t dotted(const char *s)
{
	size_t i = 0;

	for (;;) {
		size_t start = i;
		while (is_word(s[i]))
			i++;
		if (i == start)
			return 0;
		if (s[i] != '.' || !is_word(s[i + 1]))
			return i;
		i++;
	}
}

/*
 * distlib's export entry, strictly: "module:attr", each dotted words, and
 * an optional "[extras]". pip refuses a value without ":attr"; distlib
 * takes a name it cannot use whole from its last word ("a/b" installs
 * "b", "x y" installs "y"): such names are refused here instead, as are
 * names starting with '.'. Fills `ep` on success.
 */
static int check_entry(const char *label, const char *group, const char *name, const char *value,
                       udfenv_wheel_ep *ep)
{
	static const char name_chars[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.+-";
	static const char extra_chars[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-=, \t";
	char sl[UDFENV_TEXT_SHOW_SIZE], sn[UDFENV_TEXT_SHOW_SIZE], sv[UDFENV_TEXT_SHOW_SIZE];
	size_t m, a, i;

	udfenv_text_show(sl, label);
	udfenv_text_show(sn, name);
	udfenv_text_show(sv, value);
	if (name[0] == '\0' || name[0] == '.' || strspn(name, name_chars) != strlen(name))
		return udfenv_error_set(UDFENV_EINVALID,
		                        "'%s': %s entry point '%s' has an invalid name (letters, "
		                        "digits and '_.+-' only, not starting with '.')",
		                        sl, group, sn);
	if ((m = dotted(value)) == 0 || value[m] != ':' || (a = dotted(value + m + 1)) == 0)
		goto bad;
	i = m + 1 + a;
	i += strspn(value + i, " \t");
	if (value[i] == '[') {
		i++;
		i += strspn(value + i, extra_chars);
		if (value[i++] != ']')
			goto bad;
		i += strspn(value + i, " \t");
	}
	if (value[i] != '\0')
		goto bad;
	if ((ep->name = strdup(name)) == NULL || (ep->module = strndup(value, m)) == NULL ||
	    (ep->attr = strndup(value + m + 1, a)) == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	return 0;
bad:
	return udfenv_error_set(UDFENV_EINVALID,
	                        "'%s': %s entry point '%s' = '%s' is not 'module:function'", sl,
	                        group, sn, sv);
}

static void ep_dispose(udfenv_wheel_ep *ep)
{
	free(ep->name);
	free(ep->module);
	free(ep->attr);
	memset(ep, 0, sizeof(*ep));
}

/* Set name = value in `eps` (a later name replaces the earlier one's value, in place). */
static int ep_set(udfenv_wheel_eps *eps, const char *label, const char *group, const char *name,
                  const char *value)
{
	udfenv_wheel_ep ep = {NULL, NULL, NULL};
	size_t i;
	int error;

	if ((error = check_entry(label, group, name, value, &ep)) < 0) {
		ep_dispose(&ep);
		return error;
	}
	for (i = 0; i < eps->count && strcmp(eps->items[i].name, name) != 0; i++)
		;
	if (i == eps->count) {
		if ((error = udfenv_array_reserve((void **)&eps->items, &eps->alloc, eps->count,
		                                  sizeof(*eps->items))) < 0) {
			ep_dispose(&ep);
			return error;
		}
		eps->count++;
	} else {
		ep_dispose(&eps->items[i]);
	}
	eps->items[i] = ep;
	return 0;
}

/*
 * Python's str.strip() for ASCII whitespace on [s, end): the stripped
 * start, NUL written at the stripped end. `end` must be writable: inside
 * the buffer or at its terminating NUL.
 */
static char *strip(char *s, char *end)
{
	const char *a = s, *b = end;

	udfenv_ascii_trim(&a, &b);
	s[b - s] = '\0';
	return s + (a - s);
}

int udfenv_wheel__entry_points(udfenv_wheel_eps *console, udfenv_wheel_eps *gui, const char *src,
                               size_t len, const char *label)
{
	udfenv_buf copy = UDFENV_BUF_INIT;
	char *text, *section = NULL;
	size_t at = 0, lineno = 0;
	int error;

	/* Cut up in a copy: the caller's text stays as it was, and the copy ends in a NUL. */
	if ((error = udfenv_buf_put(&copy, src, len)) < 0)
		return error;
	text = copy.ptr;
	for (size_t i = 0; i < len; i++)
		if (text[i] == '\0')
			text[i] = ' ';
	while (at < len && error == 0) {
		char *line = text + at, *end, *eq;
		size_t n = 0;
		while (at + n < len && line[n] != '\r' && line[n] != '\n')
			n++;
		at += n + (at + n + 1 < len && line[n] == '\r' && line[n + 1] == '\n' ? 2 : 1);
		lineno++;
		line = strip(line, line + n);
		end = line + strlen(line);
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if (line[0] == '[' && end[-1] == ']') {
			section = line + strspn(line, "[]");
			while (end > section && end[-1] == ']')
				*--end = '\0';
			continue;
		}
		if (section == NULL)
			continue;
		if ((eq = strchr(line, '=')) == NULL) {
			error = udfenv_wheel__invalid(
			    label, "line %zu of entry_points.txt has no '='", lineno);
			break;
		}
		*eq = '\0';
		if (strcmp(section, "console_scripts") == 0)
			error =
			    ep_set(console, label, section, strip(line, eq), strip(eq + 1, end));
		else if (strcmp(section, "gui_scripts") == 0)
			error = ep_set(gui, label, section, strip(line, eq), strip(eq + 1, end));
	}
	udfenv_buf_dispose(&copy);
	return error;
}

void udfenv_wheel__eps_dispose(udfenv_wheel_eps *e)
{
	for (size_t i = 0; i < e->count; i++)
		ep_dispose(&e->items[i]);
	free(e->items);
	memset(e, 0, sizeof(*e));
}
