#include "lib/pep440.h"
#include "util/ascii.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int udfenv_pep503_canonicalize(udfenv_buf *out, const char *name, size_t len)
{
	int error;

	udfenv_buf_clear(out);
	for (size_t i = 0; i < len; i++) {
		char c = udfenv_ascii_lower(name[i]);
		if (udfenv_pep_is_sep(c)) {
			while (i + 1 < len && udfenv_pep_is_sep(name[i + 1]))
				i++;
			c = '-';
		}
		if ((error = udfenv_buf_putc(out, c)) < 0)
			return error;
	}
	/* An empty name still gets a string: callers read out->ptr. */
	return udfenv_buf_put(out, "", 0);
}

/* The longest slice of outside text a message quotes. */
#define QUOTE_MAX 200

int udfenv_pep503_normalize(udfenv_buf *out, const char *name, size_t len)
{
	udfenv_buf_clear(out);
	if (len == 0 || !udfenv_ascii_is_alnum(name[0]) || !udfenv_ascii_is_alnum(name[len - 1]))
		goto invalid;
	for (size_t i = 0; i < len; i++)
		if (!udfenv_ascii_is_alnum(name[i]) && !udfenv_pep_is_sep(name[i]))
			goto invalid;
	return udfenv_pep503_canonicalize(out, name, len);
invalid: {
	char shown[QUOTE_MAX + 4];
	udfenv_pep__quote(shown, sizeof(shown), name, len);
	return udfenv_error_set(UDFENV_EINVALID, "'%s' is not a valid project name", shown);
}
}

/* ---- helpers shared by versions and specifiers ---- */

static int is_control(char c)
{
	unsigned char u = (unsigned char)c;
	return u < 0x20 || u == 0x7f;
}

void udfenv_pep__quote(char *dst, size_t cap, const char *s, size_t len)
{
	size_t n = 0, i = 0, room = cap - 4; /* keep space for "..." and the NUL */

	for (; i < len && n < room; i++)
		dst[n++] = is_control(s[i]) ? '?' : s[i];
	if (i < len)
		memcpy(dst + n, "...", 4);
	else
		dst[n] = '\0';
}

/* ---- versions ---- */

typedef struct {
	const char *p, *e;
	int overflow; /* a number above UDFENV_VERSION_NUM_MAX was seen */
} cursor;

/* The digits at the cursor as a number (0 if none); whether there were any. */
static int take_num(cursor *c, unsigned long long *out)
{
	const char *start = c->p;
	unsigned long long n = 0;

	for (; c->p < c->e && udfenv_ascii_is_digit(*c->p); c->p++) {
		unsigned d = (unsigned)(*c->p - '0');
		/* Leading zeros keep n at 0, so any count of them is fine. */
		if (n > (UDFENV_VERSION_NUM_MAX - d) / 10)
			c->overflow = 1;
		else
			n = n * 10 + d;
	}
	*out = n;
	return c->p > start;
}

/* Take the first of `labels` found at the cursor, case-insensitively. */
static int take_label(cursor *c, const char *const *labels, size_t nlabels, size_t *which)
{
	for (size_t i = 0; i < nlabels; i++) {
		size_t len = strlen(labels[i]);
		if ((size_t)(c->e - c->p) >= len &&
		    udfenv_ascii_eq_nocase_n(c->p, len, labels[i], len)) {
			c->p += len;
			*which = i;
			return 1;
		}
	}
	return 0;
}

/*
 * The "[-_.]N" after a pre, post or dev label, both parts optional. A
 * separator without a number is taken too: PEP 440's pattern allows
 * "1.0a-" and "1.0a--1" (1.0a0.post1), and whatever may follow can do
 * without its own leading separator.
 */
static void take_label_num(cursor *c, unsigned long long *n)
{
	if (c->p < c->e && udfenv_pep_is_sep(*c->p))
		c->p++;
	take_num(c, n);
}

/* Longer spellings first, so "alpha" is not read as "a" + "lpha". */
static const char *const pre_labels[] = {"alpha", "a", "beta", "b", "preview", "pre", "c", "rc"};
static const char pre_kinds[] = {'a', 'a', 'b', 'b', 'c', 'c', 'c', 'c'};
static const char *const post_labels[] = {"post", "rev", "r"};
static const char *const dev_labels[] = {"dev"};

static void take_pre(cursor *c, udfenv_pep440_version *v)
{
	const char *save = c->p;
	size_t which;

	if (c->p < c->e && udfenv_pep_is_sep(*c->p))
		c->p++;
	if (!take_label(c, pre_labels, sizeof(pre_labels) / sizeof(*pre_labels), &which)) {
		c->p = save;
		return;
	}
	v->pre_kind = pre_kinds[which];
	take_label_num(c, &v->pre);
}

static void take_post(cursor *c, udfenv_pep440_version *v)
{
	const char *save = c->p;
	size_t which;

	/* The implicit post-release "1.0-1". */
	if (c->p + 1 < c->e && c->p[0] == '-' && udfenv_ascii_is_digit(c->p[1])) {
		c->p++;
		take_num(c, &v->post);
		v->has_post = 1;
		return;
	}
	if (c->p < c->e && udfenv_pep_is_sep(*c->p))
		c->p++;
	if (!take_label(c, post_labels, sizeof(post_labels) / sizeof(*post_labels), &which)) {
		c->p = save;
		return;
	}
	v->has_post = 1;
	take_label_num(c, &v->post);
}

static void take_dev(cursor *c, udfenv_pep440_version *v)
{
	const char *save = c->p;
	size_t which;

	if (c->p < c->e && udfenv_pep_is_sep(*c->p))
		c->p++;
	if (!take_label(c, dev_labels, 1, &which)) {
		c->p = save;
		return;
	}
	v->has_dev = 1;
	take_label_num(c, &v->dev);
}

/*
 * The local label after '+': alphanumeric segments separated by '-', '_'
 * or '.', normalized into `out`. Numeric segments compare as numbers, so
 * their leading zeros go, as packaging's str() drops them. 0, 1 for a
 * malformed label, or UDFENV_ENOMEM.
 */
static int take_local(cursor *c, udfenv_buf *out)
{
	int error;

	for (;;) {
		const char *seg = c->p;
		int numeric = 1;
		while (c->p < c->e && udfenv_ascii_is_alnum(*c->p)) {
			numeric &= udfenv_ascii_is_digit(*c->p);
			c->p++;
		}
		if (c->p == seg)
			return 1;
		if (numeric)
			while (c->p - seg > 1 && *seg == '0')
				seg++;
		if (out->size && (error = udfenv_buf_putc(out, '.')) < 0)
			return error;
		for (; seg < c->p; seg++)
			if ((error = udfenv_buf_putc(out, udfenv_ascii_lower(*seg))) < 0)
				return error;
		if (c->p < c->e && udfenv_pep_is_sep(*c->p)) {
			c->p++;
			continue;
		}
		return 0;
	}
}

/*
 * Parse [s, e) into `*out` (left INIT on failure). UDFENV_EINVALID comes
 * back without a message, `*why` saying what was wrong (NULL: just not
 * the PEP 440 syntax), for the caller to word; UDFENV_ENOMEM is set.
 */
static int version_parse_n(udfenv_pep440_version *out, const char *s, const char *e,
                           const char **why)
{
	udfenv_pep440_version v = UDFENV_VERSION_INIT;
	udfenv_buf local = UDFENV_BUF_INIT;
	cursor c;
	unsigned long long first;
	const char *rel;
	size_t n;
	int error = UDFENV_EINVALID;

	*out = v;
	*why = NULL;
	udfenv_ascii_trim(&s, &e);
	c.p = s;
	c.e = e;
	c.overflow = 0;
	if (c.p < c.e && (*c.p == 'v' || *c.p == 'V'))
		c.p++;
	rel = c.p;
	if (!take_num(&c, &first))
		goto done;
	if (c.p < c.e && *c.p == '!') {
		v.epoch = first;
		c.p++;
		rel = c.p;
		if (!take_num(&c, &first))
			goto done;
	}
	for (n = 1; c.p + 1 < c.e && c.p[0] == '.' && udfenv_ascii_is_digit(c.p[1]); n++) {
		c.p++;
		take_num(&c, &first);
	}
	if ((v.release = malloc(n * sizeof(*v.release))) == NULL) {
		error = udfenv_error_set(UDFENV_ENOMEM, "out of memory");
		goto done;
	}
	/* Second pass, now that the count is known. */
	c.p = rel;
	for (v.nrelease = 0; v.nrelease < n; v.nrelease++) {
		if (v.nrelease)
			c.p++;
		take_num(&c, &v.release[v.nrelease]);
	}
	take_pre(&c, &v);
	take_post(&c, &v);
	take_dev(&c, &v);
	if (c.p < c.e && *c.p == '+') {
		c.p++;
		if ((error = take_local(&c, &local)) != 0) {
			if (error > 0) {
				error = UDFENV_EINVALID;
				*why = "malformed local label";
			}
			goto done;
		}
		error = UDFENV_EINVALID;
		if ((v.local = udfenv_buf_detach(&local)) == NULL) {
			error = udfenv_error_set(UDFENV_ENOMEM, "out of memory");
			goto done;
		}
	}
	if (c.p != c.e)
		goto done;
	if (c.overflow) {
		*why = "a number is larger than 2^63-1";
		goto done;
	}
	*out = v;
	return 0;
done:
	udfenv_buf_dispose(&local);
	udfenv_version_dispose(&v);
	return error;
}

int udfenv_version_parse(udfenv_pep440_version *out, const char *text)
{
	char shown[QUOTE_MAX];
	const char *why = "longer than 65536 bytes";
	size_t len;
	int error;

	*out = (udfenv_pep440_version)UDFENV_VERSION_INIT;
	if (text == NULL)
		return udfenv_error_set(UDFENV_EINVALID, "no version given");
	len = strnlen(text, UDFENV_PEP_MAX_TEXT + 1);
	if (len <= UDFENV_PEP_MAX_TEXT &&
	    (error = version_parse_n(out, text, text + len, &why)) != UDFENV_EINVALID)
		return error;
	udfenv_pep__quote(shown, sizeof(shown), text, len);
	return udfenv_error_set(UDFENV_EINVALID, "'%s' is not a valid version (PEP 440)%s%s", shown,
	                        why ? ": " : "", why ? why : "");
}

int udfenv_version_try_parse(udfenv_pep440_version *out, const char *text)
{
	const char *why;
	size_t len;

	*out = (udfenv_pep440_version)UDFENV_VERSION_INIT;
	if (text == NULL || (len = strnlen(text, UDFENV_PEP_MAX_TEXT + 1)) > UDFENV_PEP_MAX_TEXT)
		return UDFENV_EINVALID;
	return version_parse_n(out, text, text + len, &why);
}

void udfenv_version_dispose(udfenv_pep440_version *v)
{
	if (v == NULL)
		return;
	free(v->release);
	free(v->local);
	*v = (udfenv_pep440_version)UDFENV_VERSION_INIT;
}

int udfenv_version_copy(udfenv_pep440_version *out, const udfenv_pep440_version *src)
{
	udfenv_pep440_version v = *src;

	*out = (udfenv_pep440_version)UDFENV_VERSION_INIT;
	v.release = src->nrelease ? malloc(src->nrelease * sizeof(*v.release)) : NULL;
	v.local = src->local ? strdup(src->local) : NULL;
	if ((src->nrelease && v.release == NULL) || (src->local && v.local == NULL)) {
		free(v.release);
		free(v.local);
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	}
	if (src->nrelease)
		memcpy(v.release, src->release, src->nrelease * sizeof(*v.release));
	*out = v;
	return 0;
}

static int cmp_ull(unsigned long long a, unsigned long long b)
{
	return a < b ? -1 : a > b;
}

static int release_cmp(const udfenv_pep440_version *a, const udfenv_pep440_version *b)
{
	size_t n = a->nrelease > b->nrelease ? a->nrelease : b->nrelease;

	for (size_t i = 0; i < n; i++) {
		int r = cmp_ull(i < a->nrelease ? a->release[i] : 0,
		                i < b->nrelease ? b->release[i] : 0);
		if (r)
			return r;
	}
	return 0;
}

/* Where the pre segment sorts: a dev-only release before any pre-release. */
static int pre_rank(const udfenv_pep440_version *v)
{
	if (!v->pre_kind)
		return !v->has_post && v->has_dev ? 0 : 4;
	return v->pre_kind == 'a' ? 1 : v->pre_kind == 'b' ? 2 : 3;
}

static int all_digits(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!udfenv_ascii_is_digit(s[i]))
			return 0;
	return 1;
}

/* Segment by segment; a numeric segment sorts after an alphanumeric one. */
static int local_cmp(const char *a, const char *b)
{
	while (*a && *b) {
		size_t la = strcspn(a, "."), lb = strcspn(b, ".");
		int da = all_digits(a, la), db = all_digits(b, lb), r;
		if (da != db)
			return da - db;
		if (da) {
			/* By value: leading zeros out, then the longer is larger. */
			const char *pa = a, *pb = b;
			size_t ea = la, eb = lb;
			for (; ea > 1 && *pa == '0'; ea--)
				pa++;
			for (; eb > 1 && *pb == '0'; eb--)
				pb++;
			r = ea != eb ? (ea < eb ? -1 : 1) : memcmp(pa, pb, ea);
		} else {
			r = memcmp(a, b, la < lb ? la : lb);
			if (r == 0)
				r = la < lb ? -1 : la > lb;
		}
		if (r)
			return r < 0 ? -1 : 1;
		a += la;
		b += lb;
		a += *a == '.';
		b += *b == '.';
	}
	return (*a != '\0') - (*b != '\0');
}

int udfenv_version_cmp(const udfenv_pep440_version *a, const udfenv_pep440_version *b)
{
	int r;

	if ((r = cmp_ull(a->epoch, b->epoch)) || (r = release_cmp(a, b)))
		return r;
	if ((r = pre_rank(a) - pre_rank(b)))
		return r < 0 ? -1 : 1;
	if (a->pre_kind && (r = cmp_ull(a->pre, b->pre)))
		return r;
	if ((r = a->has_post - b->has_post) || (a->has_post && (r = cmp_ull(a->post, b->post))))
		return r;
	if ((r = b->has_dev - a->has_dev) || (a->has_dev && (r = cmp_ull(a->dev, b->dev))))
		return r;
	if (a->local == NULL || b->local == NULL)
		return (a->local != NULL) - (b->local != NULL);
	return local_cmp(a->local, b->local);
}

/* As udfenv_version_cmp with `a`'s local label left out. */
static int public_cmp(const udfenv_pep440_version *a, const udfenv_pep440_version *b)
{
	udfenv_pep440_version pa = *a;
	pa.local = NULL;
	return udfenv_version_cmp(&pa, b);
}

int udfenv_version_is_prerelease(const udfenv_pep440_version *v)
{
	return v->pre_kind != 0 || v->has_dev;
}

static const char *pre_label(int kind)
{
	return kind == 'a' ? "a" : kind == 'b' ? "b" : "rc";
}

int udfenv_version_format(udfenv_buf *out, const udfenv_pep440_version *v)
{
	int error = 0;

	if (v->epoch && (error = udfenv_buf_printf(out, "%llu!", v->epoch)) < 0)
		return error;
	for (size_t i = 0; i < v->nrelease; i++)
		if ((error = udfenv_buf_printf(out, i ? ".%llu" : "%llu", v->release[i])) < 0)
			return error;
	if (v->pre_kind &&
	    (error = udfenv_buf_printf(out, "%s%llu", pre_label(v->pre_kind), v->pre)) < 0)
		return error;
	if (v->has_post && (error = udfenv_buf_printf(out, ".post%llu", v->post)) < 0)
		return error;
	if (v->has_dev && (error = udfenv_buf_printf(out, ".dev%llu", v->dev)) < 0)
		return error;
	if (v->local && (error = udfenv_buf_printf(out, "+%s", v->local)) < 0)
		return error;
	return 0;
}

/* ---- specifier sets ---- */

enum { OP_COMPATIBLE, OP_EQ, OP_NE, OP_LE, OP_GE, OP_LT, OP_GT, OP_ARBITRARY };

/* Longer operators first, so "===" is not read as "==" + "=". */
static const struct {
	const char *text;
	int op;
} spec_ops[] = {{"===", OP_ARBITRARY}, {"~=", OP_COMPATIBLE}, {"==", OP_EQ}, {"!=", OP_NE},
                {"<=", OP_LE},         {">=", OP_GE},         {"<", OP_LT},  {">", OP_GT}};

static const char *op_text(int op)
{
	for (size_t i = 0; i < sizeof(spec_ops) / sizeof(*spec_ops); i++)
		if (spec_ops[i].op == op)
			return spec_ops[i].text;
	return "?";
}

typedef struct {
	int op;
	int wildcard;            /* == or != with ".*": v is a plain release */
	udfenv_pep440_version v; /* all but === */
	char *text;              /* ===: the string to match */
} clause;

struct udfenv_specset {
	clause *clauses;
	size_t n;
	int names_prerelease; /* a clause that admits pre-releases names one */
};

void udfenv_specset_free(udfenv_specset *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++) {
		udfenv_version_dispose(&s->clauses[i].v);
		free(s->clauses[i].text);
	}
	free(s->clauses);
	free(s);
}

/* UDFENV_EINVALID, with a message unless `quiet`. */
static int clause_error(int quiet, const char *s, const char *e, const char *why)
{
	char shown[QUOTE_MAX];

	if (quiet)
		return UDFENV_EINVALID;
	udfenv_pep__quote(shown, sizeof(shown), s, (size_t)(e - s));
	return udfenv_error_set(UDFENV_EINVALID,
	                        "'%s' is not a valid version specifier (PEP 440): %s", shown, why);
}

static int arbitrary_char_ok(char c)
{
	return !udfenv_ascii_is_space(c) && !is_control(c) && c != ';' && c != ')' && c != ',';
}

/* Parse the clause [s, e) (trimmed, non-empty) into `*c` (zeroed first). */
static int clause_parse(clause *c, const char *s, const char *e, int quiet)
{
	const char *p = s, *vend, *why;
	char detail[QUOTE_MAX + 64], shown[QUOTE_MAX];
	size_t i;
	int error;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < sizeof(spec_ops) / sizeof(*spec_ops); i++) {
		size_t len = strlen(spec_ops[i].text);
		if ((size_t)(e - s) >= len && memcmp(s, spec_ops[i].text, len) == 0)
			break;
	}
	if (i == sizeof(spec_ops) / sizeof(*spec_ops))
		return clause_error(
		    quiet, s, e,
		    "expected an operator (~= == != <= >= < > ===) before the version");
	c->op = spec_ops[i].op;
	p += strlen(spec_ops[i].text);
	while (p < e && udfenv_ascii_is_space(*p))
		p++;
	if (p == e) {
		snprintf(detail, sizeof(detail), "expected a version after '%s'", spec_ops[i].text);
		return clause_error(quiet, s, e, detail);
	}
	if (c->op == OP_ARBITRARY) {
		for (const char *q = p; q < e; q++)
			if (!arbitrary_char_ok(*q))
				return clause_error(
				    quiet, s, e,
				    "=== takes a string without whitespace, ';', ')' or ','");
		if ((c->text = strndup(p, (size_t)(e - p))) == NULL)
			return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
		return 0;
	}
	vend = e;
	if (e - p >= 2 && e[-2] == '.' && e[-1] == '*') {
		if (c->op != OP_EQ && c->op != OP_NE)
			return clause_error(quiet, s, e, "'.*' is only allowed with == and !=");
		c->wildcard = 1;
		vend = e - 2;
		if (vend == p || !udfenv_ascii_is_digit(vend[-1]))
			return clause_error(quiet, s, e, "'.*' must follow a release number");
	}
	if ((error = version_parse_n(&c->v, p, vend, &why)) == UDFENV_EINVALID) {
		udfenv_pep__quote(shown, sizeof(shown), p, (size_t)(vend - p));
		snprintf(detail, sizeof(detail), "'%s' is not a valid version%s%s", shown,
		         why ? ": " : "", why ? why : "");
		return clause_error(quiet, s, e, detail);
	}
	if (error < 0)
		return error;
	if (c->wildcard && (c->v.pre_kind || c->v.has_post || c->v.has_dev || c->v.local))
		return clause_error(quiet, s, e, "'.*' must follow a release number");
	if (c->v.local && c->op != OP_EQ && c->op != OP_NE)
		return clause_error(quiet, s, e,
		                    "a local version label is only allowed with == and !=");
	if (c->op == OP_COMPATIBLE && c->v.nrelease < 2)
		return clause_error(quiet, s, e,
		                    "~= needs a version with at least two release numbers");
	return 0;
}

/* Whether the clause admits pre-releases by naming one (packaging's rule). */
static int clause_names_prerelease(const clause *c, int *result)
{
	udfenv_pep440_version v;
	const char *why;
	int error;

	*result = 0;
	if (c->op == OP_NE)
		return 0;
	if (c->op != OP_ARBITRARY) {
		*result = udfenv_version_is_prerelease(&c->v);
		return 0;
	}
	error = version_parse_n(&v, c->text, c->text + strlen(c->text), &why);
	if (error == UDFENV_EINVALID)
		return 0;
	if (error < 0)
		return error;
	*result = udfenv_version_is_prerelease(&v);
	udfenv_version_dispose(&v);
	return 0;
}

static int specset_parse(udfenv_specset **out, const char *text, int quiet)
{
	udfenv_specset *s = NULL;
	const char *p, *end;
	size_t len, alloc = 0;
	int error = 0;

	*out = NULL;
	if (text == NULL)
		text = "";
	len = strnlen(text, UDFENV_PEP_MAX_TEXT + 1);
	if (len > UDFENV_PEP_MAX_TEXT)
		return clause_error(quiet, text, text + len, "longer than 65536 bytes");
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	end = text + len;
	for (p = text; p != NULL;) {
		const char *cs = p, *ce = memchr(p, ',', (size_t)(end - p));
		int named;
		p = ce ? ce + 1 : NULL;
		if (ce == NULL)
			ce = end;
		udfenv_ascii_trim(&cs, &ce);
		if (cs == ce)
			continue;
		if ((error = udfenv_array_reserve((void **)&s->clauses, &alloc, s->n,
		                                  sizeof(*s->clauses))) < 0)
			goto done;
		error = clause_parse(&s->clauses[s->n], cs, ce, quiet);
		if (error < 0) {
			udfenv_version_dispose(&s->clauses[s->n].v);
			free(s->clauses[s->n].text);
			goto done;
		}
		s->n++;
		if ((error = clause_names_prerelease(&s->clauses[s->n - 1], &named)) < 0)
			goto done;
		s->names_prerelease |= named;
	}
	*out = s;
	s = NULL;
done:
	udfenv_specset_free(s);
	return error;
}

int udfenv_specset_parse(udfenv_specset **out, const char *text)
{
	return specset_parse(out, text, 0);
}

int udfenv_specset_try_parse(udfenv_specset **out, const char *text)
{
	return specset_parse(out, text, 1);
}

/* Epochs equal and the first `n` release numbers of `v` (zero-padded) those of `spec`. */
static int prefix_match(const udfenv_pep440_version *v, const udfenv_pep440_version *spec, size_t n)
{
	if (v->epoch != spec->epoch)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((i < v->nrelease ? v->release[i] : 0) != spec->release[i])
			return 0;
	return 1;
}

static int equal_match(const clause *c, const udfenv_pep440_version *v)
{
	if (c->wildcard)
		return prefix_match(v, &c->v, c->v.nrelease);
	return (c->v.local ? udfenv_version_cmp(v, &c->v) : public_cmp(v, &c->v)) == 0;
}

/*
 * <V refuses pre-releases of V itself unless V is one: for a final V any
 * pre or dev of its release, for V.postN only V.postN.devM (1.0a1 is a
 * pre-release of 1.0, not of 1.0.post1).
 */
static int less_than(const udfenv_pep440_version *v, const udfenv_pep440_version *spec)
{
	if (udfenv_version_cmp(v, spec) >= 0)
		return 0;
	if (udfenv_version_is_prerelease(spec) || !udfenv_version_is_prerelease(v))
		return 1;
	if (v->epoch != spec->epoch || release_cmp(v, spec) != 0)
		return 1;
	if (spec->has_post)
		return v->pre_kind || !v->has_post || v->post != spec->post;
	return 0;
}

/*
 * >V refuses post-releases of V itself unless V is one (1.0.post1 is a
 * post-release of 1.0 but not of 1.0a1 or 1.0.dev1), and local versions
 * of V.
 */
static int greater_than(const udfenv_pep440_version *v, const udfenv_pep440_version *spec)
{
	if (udfenv_version_cmp(v, spec) <= 0)
		return 0;
	if (!spec->has_post && !spec->has_dev && v->has_post && v->epoch == spec->epoch &&
	    release_cmp(v, spec) == 0 && v->pre_kind == spec->pre_kind &&
	    (!v->pre_kind || v->pre == spec->pre))
		return 0;
	if (v->local && public_cmp(v, spec) == 0)
		return 0;
	return 1;
}

static int arbitrary_match(const clause *c, const udfenv_pep440_version *v,
                           const char *version_text)
{
	udfenv_buf formatted = UDFENV_BUF_INIT;
	const char *s, *e;
	int match;

	if (version_text == NULL) {
		/* Out of memory here can only mean "no match": the API has no error path. */
		if (v == NULL || udfenv_version_format(&formatted, v) < 0) {
			udfenv_buf_dispose(&formatted);
			return 0;
		}
		version_text = udfenv_buf_cstr(&formatted);
	}
	s = version_text;
	e = s + strlen(s);
	udfenv_ascii_trim(&s, &e);
	match = udfenv_ascii_eq_nocase_n(s, (size_t)(e - s), c->text, strlen(c->text));
	udfenv_buf_dispose(&formatted);
	return match;
}

static int clause_match(const clause *c, const udfenv_pep440_version *v, const char *version_text)
{
	switch (c->op) {
	case OP_COMPATIBLE:
		return public_cmp(v, &c->v) >= 0 && prefix_match(v, &c->v, c->v.nrelease - 1);
	case OP_EQ:
		return equal_match(c, v);
	case OP_NE:
		return !equal_match(c, v);
	case OP_LE:
		return public_cmp(v, &c->v) <= 0;
	case OP_GE:
		return public_cmp(v, &c->v) >= 0;
	case OP_LT:
		return less_than(v, &c->v);
	case OP_GT:
		return greater_than(v, &c->v);
	default:
		return arbitrary_match(c, v, version_text);
	}
}

int udfenv_specset_contains(const udfenv_specset *s, const udfenv_pep440_version *v,
                            const char *version_text, int prereleases)
{
	if (v == NULL) {
		if (version_text == NULL || s->n == 0)
			return 0;
		for (size_t i = 0; i < s->n; i++)
			if (s->clauses[i].op != OP_ARBITRARY ||
			    !arbitrary_match(&s->clauses[i], NULL, version_text))
				return 0;
		return 1;
	}
	if (udfenv_version_is_prerelease(v) && !prereleases && !s->names_prerelease)
		return 0;
	for (size_t i = 0; i < s->n; i++)
		if (!clause_match(&s->clauses[i], v, version_text))
			return 0;
	return 1;
}

int udfenv_specset_is_pin(const udfenv_specset *s)
{
	return s->n == 1 && ((s->clauses[0].op == OP_EQ && !s->clauses[0].wildcard) ||
	                     s->clauses[0].op == OP_ARBITRARY);
}

int udfenv_specset_format(udfenv_buf *out, const udfenv_specset *s)
{
	int error;

	for (size_t i = 0; i < s->n; i++) {
		const clause *c = &s->clauses[i];
		if ((i && (error = udfenv_buf_putc(out, ',')) < 0) ||
		    (error = udfenv_buf_puts(out, op_text(c->op))) < 0)
			return error;
		if (c->op == OP_ARBITRARY) {
			if ((error = udfenv_buf_puts(out, c->text)) < 0)
				return error;
			continue;
		}
		if ((error = udfenv_version_format(out, &c->v)) < 0 ||
		    (c->wildcard && (error = udfenv_buf_puts(out, ".*")) < 0))
			return error;
	}
	return 0;
}
