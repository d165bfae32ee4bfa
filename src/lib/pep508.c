/*
 * PEP 508 requirements and markers, after packaging's grammar (its
 * _parser.py) and evaluation rules (markers.py): a hand-written
 * recursive-descent parser whose only recursion is on parentheses, capped
 * at UDFENV_MARKER_MAX_DEPTH.
 */
#include "lib/pep508.h"
#include "util/ascii.h"
#include "util/error.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUOTE_MAX 200

/* The marker variables and where the environment keeps each. */
#define ENV_VAR(field) #field, offsetof(udfenv_marker_env, field)
static const struct {
	const char *name;
	size_t offset;
} marker_vars[] = {
    {ENV_VAR(os_name)},
    {ENV_VAR(sys_platform)},
    {ENV_VAR(platform_machine)},
    {ENV_VAR(platform_python_implementation)},
    {ENV_VAR(platform_release)},
    {ENV_VAR(platform_system)},
    {ENV_VAR(platform_version)},
    {ENV_VAR(python_version)},
    {ENV_VAR(python_full_version)},
    {ENV_VAR(implementation_name)},
    {ENV_VAR(implementation_version)},
    {"extra", 0}, /* not in the environment: udfenv_marker_eval's argument */
};
#define NVARS (sizeof(marker_vars) / sizeof(*marker_vars))
#define VAR_EXTRA ((int)NVARS - 1)
#define VAR_NONE (-1) /* the operand is a string literal */

enum { M_OR, M_AND, M_CMP };
enum {
	MOP_LT,
	MOP_LE,
	MOP_NE,
	MOP_EQ,
	MOP_GE,
	MOP_GT,
	MOP_COMPATIBLE,
	MOP_ARBITRARY,
	MOP_IN,
	MOP_NOT_IN
};

/* Longer operators first, so "===" is not read as "==" + "=". */
static const struct {
	const char *text;
	int op;
} marker_ops[] = {{"===", MOP_ARBITRARY}, {"==", MOP_EQ}, {"~=", MOP_COMPATIBLE}, {"!=", MOP_NE},
                  {"<=", MOP_LE},         {">=", MOP_GE}, {"<", MOP_LT},          {">", MOP_GT}};

typedef struct {
	int var;   /* index in marker_vars, or VAR_NONE */
	char *str; /* VAR_NONE: the string, without its quotes */
} operand;

struct udfenv_marker {
	int kind;
	udfenv_marker **kids; /* M_OR, M_AND: two or more */
	size_t nkids, akids;
	operand lhs, rhs; /* M_CMP */
	int op;
};

typedef struct {
	const char *text; /* the whole input, quoted in messages */
	size_t len;
	const char *p, *e; /* what is left to parse */
	const char *what;  /* "requirement" or "marker" */
} parser;

static int is_word(char c)
{
	return udfenv_ascii_is_alnum(c) || c == '_' || c == '.';
}

static int parse_error(const parser *ps, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "invalid WHAT 'TEXT': DETAIL at column N", N counting bytes from 1. */
static int parse_error(const parser *ps, const char *at, const char *fmt, ...)
{
	char shown[QUOTE_MAX], detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	udfenv_pep__quote(shown, sizeof(shown), ps->text, ps->len);
	return udfenv_error_set(UDFENV_EINVALID, "invalid %s '%s': %s at column %zu", ps->what,
	                        shown, detail, (size_t)(at - ps->text) + 1);
}

/* Keep the message of a lower layer (a specifier) and say where it was. */
static int prefix_error(const parser *ps)
{
	char shown[QUOTE_MAX];
	udfenv_pep__quote(shown, sizeof(shown), ps->text, ps->len);
	return udfenv_error_prefix("invalid %s '%s': ", ps->what, shown);
}

static int parser_open(parser *ps, const char *text, const char *what)
{
	char shown[QUOTE_MAX];

	if (text == NULL)
		text = "";
	ps->text = text;
	ps->what = what;
	ps->len = strnlen(text, UDFENV_PEP_MAX_TEXT + 1);
	if (ps->len > UDFENV_PEP_MAX_TEXT) {
		udfenv_pep__quote(shown, sizeof(shown), text, ps->len);
		return udfenv_error_set(UDFENV_EINVALID, "invalid %s '%s': longer than %d bytes",
		                        what, shown, UDFENV_PEP_MAX_TEXT);
	}
	ps->p = text;
	ps->e = text + ps->len;
	udfenv_ascii_trim(&ps->p, &ps->e);
	/* Nothing in the grammar takes them; refusing them keeps messages one line. */
	for (const char *q = ps->p; q < ps->e; q++)
		if (((unsigned char)*q < 0x20 && *q != '\t') || *q == 0x7f)
			return parse_error(ps, q, "unexpected control character");
	return 0;
}

static void skip_ws(parser *ps)
{
	while (ps->p < ps->e && (*ps->p == ' ' || *ps->p == '\t'))
		ps->p++;
}

static size_t word_len(const parser *ps)
{
	const char *q = ps->p;
	while (q < ps->e && is_word(*q))
		q++;
	return (size_t)(q - ps->p);
}

/* Take the keyword `kw` (a whole word) after optional whitespace. */
static int take_keyword(parser *ps, const char *kw)
{
	size_t n;

	skip_ws(ps);
	n = word_len(ps);
	if (n != strlen(kw) || memcmp(ps->p, kw, n) != 0)
		return 0;
	ps->p += n;
	return 1;
}

/* ---- markers ---- */

void udfenv_marker_free(udfenv_marker *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->nkids; i++)
		udfenv_marker_free(m->kids[i]);
	free(m->kids);
	free(m->lhs.str);
	free(m->rhs.str);
	free(m);
}

static int node_new(udfenv_marker **out, int kind)
{
	if ((*out = calloc(1, sizeof(**out))) == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	(*out)->kind = kind;
	(*out)->lhs.var = (*out)->rhs.var = VAR_NONE;
	return 0;
}

/* Append `kid` to `node`, owning it either way. */
static int node_add(udfenv_marker *node, udfenv_marker *kid)
{
	int error;

	if ((error = udfenv_array_reserve((void **)&node->kids, &node->akids, node->nkids,
	                                  sizeof(*node->kids))) < 0) {
		udfenv_marker_free(kid);
		return error;
	}
	node->kids[node->nkids++] = kid;
	return 0;
}

static int parse_operand(parser *ps, operand *out)
{
	const char *start = ps->p;
	size_t n;

	if (ps->p < ps->e && (*ps->p == '"' || *ps->p == '\'')) {
		const char *close = memchr(ps->p + 1, *ps->p, (size_t)(ps->e - ps->p - 1));
		if (close == NULL)
			return parse_error(ps, start, "unterminated string");
		if ((out->str = strndup(ps->p + 1, (size_t)(close - ps->p - 1))) == NULL)
			return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
		out->var = VAR_NONE;
		ps->p = close + 1;
		return 0;
	}
	if ((n = word_len(ps)) == 0)
		return parse_error(ps, start, "expected a marker variable or quoted string");
	for (size_t i = 0; i < NVARS; i++) {
		if (strlen(marker_vars[i].name) == n &&
		    memcmp(marker_vars[i].name, ps->p, n) == 0) {
			out->var = (int)i;
			ps->p += n;
			return 0;
		}
	}
	return parse_error(ps, start, "unknown marker variable '%.*s'", n > 64 ? 64 : (int)n,
	                   start);
}

static int parse_op(parser *ps, int *op)
{
	const char *start = ps->p;

	for (size_t i = 0; i < sizeof(marker_ops) / sizeof(*marker_ops); i++) {
		size_t n = strlen(marker_ops[i].text);
		if ((size_t)(ps->e - ps->p) >= n && memcmp(ps->p, marker_ops[i].text, n) == 0) {
			*op = marker_ops[i].op;
			ps->p += n;
			return 0;
		}
	}
	if (take_keyword(ps, "in")) {
		*op = MOP_IN;
		return 0;
	}
	if (take_keyword(ps, "not")) {
		const char *after = ps->p;
		skip_ws(ps);
		if (ps->p == after || !take_keyword(ps, "in"))
			return parse_error(ps, after, "expected 'in' after 'not'");
		*op = MOP_NOT_IN;
		return 0;
	}
	return parse_error(ps, start,
	                   "expected a marker operator (< <= != == >= > ~= === in, not in)");
}

static int parse_expr(parser *ps, int depth, int kind, udfenv_marker **out);

/* A comparison, or an expression in parentheses. */
static int parse_atom(parser *ps, int depth, udfenv_marker **out)
{
	udfenv_marker *m = NULL;
	const char *open;
	int error;

	*out = NULL;
	skip_ws(ps);
	if (ps->p < ps->e && *ps->p == '(') {
		open = ps->p;
		if (depth >= UDFENV_MARKER_MAX_DEPTH)
			return parse_error(ps, open, "parentheses nested deeper than %d",
			                   UDFENV_MARKER_MAX_DEPTH);
		ps->p++;
		if ((error = parse_expr(ps, depth + 1, M_OR, &m)) < 0)
			return error;
		skip_ws(ps);
		if (ps->p == ps->e || *ps->p != ')') {
			udfenv_marker_free(m);
			return parse_error(ps, ps->p, "expected ')' to close the '(' of column %zu",
			                   (size_t)(open - ps->text) + 1);
		}
		ps->p++;
		*out = m;
		return 0;
	}
	if ((error = node_new(&m, M_CMP)) < 0)
		return error;
	if ((error = parse_operand(ps, &m->lhs)) < 0)
		goto done;
	skip_ws(ps);
	if ((error = parse_op(ps, &m->op)) < 0)
		goto done;
	skip_ws(ps);
	if ((error = parse_operand(ps, &m->rhs)) < 0)
		goto done;
	*out = m;
	m = NULL;
done:
	udfenv_marker_free(m);
	return error;
}

/* M_OR: and-expressions joined by "or"; M_AND: atoms joined by "and". */
static int parse_expr(parser *ps, int depth, int kind, udfenv_marker **out)
{
	udfenv_marker *node = NULL, *sub = NULL;
	const char *kw = kind == M_OR ? "or" : "and";
	int error;

	*out = NULL;
	for (;;) {
		int more;
		error =
		    kind == M_OR ? parse_expr(ps, depth, M_AND, &sub) : parse_atom(ps, depth, &sub);
		if (error < 0)
			goto done;
		more = take_keyword(ps, kw);
		if (node == NULL && !more) {
			*out = sub;
			return 0;
		}
		if (node == NULL && (error = node_new(&node, kind)) < 0)
			goto done;
		error = node_add(node, sub);
		sub = NULL;
		if (error < 0)
			goto done;
		if (!more)
			break;
	}
	*out = node;
	node = NULL;
done:
	udfenv_marker_free(sub);
	udfenv_marker_free(node);
	return error;
}

/* The marker from the cursor to the end of the input. */
static int parse_marker_rest(parser *ps, udfenv_marker **out)
{
	udfenv_marker *m = NULL;
	int error;

	*out = NULL;
	if ((error = parse_expr(ps, 0, M_OR, &m)) < 0)
		return error;
	skip_ws(ps);
	if (ps->p != ps->e) {
		udfenv_marker_free(m);
		if (*ps->p == ')')
			return parse_error(ps, ps->p, "unmatched ')'");
		return parse_error(ps, ps->p, "expected 'and', 'or' or the end");
	}
	*out = m;
	return 0;
}

int udfenv_marker_parse(udfenv_marker **out, const char *text)
{
	parser ps;
	int error;

	*out = NULL;
	if ((error = parser_open(&ps, text, "marker")) < 0)
		return error;
	return parse_marker_rest(&ps, out);
}

static const char *var_value(int var, const udfenv_marker_env *env, const char *extra)
{
	const char *v;

	if (var == VAR_EXTRA)
		return extra ? extra : "";
	if (env == NULL)
		return "";
	v = *(const char *const *)((const char *)env + marker_vars[var].offset);
	return v ? v : "";
}

static const char *op_text(int op)
{
	for (size_t i = 0; i < sizeof(marker_ops) / sizeof(*marker_ops); i++)
		if (marker_ops[i].op == op)
			return marker_ops[i].text;
	return "?";
}

/*
 * `lhs OP rhs` as the specifier "OP rhs" applied to the version `lhs`,
 * with pre-releases (packaging's _eval_op): 1 and `*result` when both
 * parse, 0 when either does not (the caller falls back to strings), or
 * an error that is not about the syntax. Both parses are quiet: a string
 * comparison (os_name == "posix") leaves no message behind.
 */
static int version_compare(const char *lhs, int op, const char *rhs, int *result)
{
	udfenv_buf clause = UDFENV_BUF_INIT;
	udfenv_specset *spec = NULL;
	udfenv_pep440_version v = UDFENV_VERSION_INIT;
	int error;

	/* A comma would make a set of clauses; packaging takes a single one. */
	if (strchr(rhs, ',') != NULL)
		return 0;
	/* The version first: most string operands stop there, before building a specifier. */
	if ((error = udfenv_version_try_parse(&v, lhs)) < 0 ||
	    (error = udfenv_buf_puts(&clause, op_text(op))) < 0 ||
	    (error = udfenv_buf_puts(&clause, rhs)) < 0 ||
	    (error = udfenv_specset_try_parse(&spec, udfenv_buf_cstr(&clause))) < 0) {
		if (error == UDFENV_EINVALID)
			error = 0;
		goto done;
	}
	*result = udfenv_specset_contains(spec, &v, lhs, 1);
	error = 1;
done:
	udfenv_version_dispose(&v);
	udfenv_specset_free(spec);
	udfenv_buf_dispose(&clause);
	return error;
}

static int eval_compare(const udfenv_marker *m, const udfenv_marker_env *env, const char *extra,
                        int *result)
{
	udfenv_buf nl = UDFENV_BUF_INIT, nr = UDFENV_BUF_INIT;
	const char *l = m->lhs.var == VAR_NONE ? m->lhs.str : var_value(m->lhs.var, env, extra);
	const char *r = m->rhs.var == VAR_NONE ? m->rhs.str : var_value(m->rhs.var, env, extra);
	char sl[64], sr[64];
	int error = 0, c;

	if (m->lhs.var == VAR_EXTRA || m->rhs.var == VAR_EXTRA) {
		/* PEP 685, leniently as packaging's canonicalize_name: `extra == ""` is legal. */
		if ((error = udfenv_pep503_canonicalize(&nl, l, strlen(l))) < 0 ||
		    (error = udfenv_pep503_canonicalize(&nr, r, strlen(r))) < 0)
			goto done;
		l = udfenv_buf_cstr(&nl);
		r = udfenv_buf_cstr(&nr);
	}
	switch (m->op) {
	case MOP_IN:
		*result = strstr(r, l) != NULL;
		goto done;
	case MOP_NOT_IN:
		*result = strstr(r, l) == NULL;
		goto done;
	case MOP_ARBITRARY:
		*result = udfenv_ascii_eq_nocase(l, r);
		goto done;
	}
	if ((error = version_compare(l, m->op, r, result)) != 0) {
		if (error > 0)
			error = 0;
		goto done;
	}
	/* Python's str comparison: by code point, which strcmp on UTF-8 keeps. */
	c = strcmp(l, r);
	switch (m->op) {
	case MOP_LT:
		*result = c < 0;
		break;
	case MOP_LE:
		*result = c <= 0;
		break;
	case MOP_NE:
		*result = c != 0;
		break;
	case MOP_EQ:
		*result = c == 0;
		break;
	case MOP_GE:
		*result = c >= 0;
		break;
	case MOP_GT:
		*result = c > 0;
		break;
	default:
		udfenv_pep__quote(sl, sizeof(sl), l, strlen(l));
		udfenv_pep__quote(sr, sizeof(sr), r, strlen(r));
		error = udfenv_error_set(
		    UDFENV_EINVALID, "undefined comparison in marker: '%s' %s '%s' (not versions)",
		    sl, op_text(m->op), sr);
	}
done:
	udfenv_buf_dispose(&nl);
	udfenv_buf_dispose(&nr);
	return error;
}

int udfenv_marker_eval(const udfenv_marker *m, const udfenv_marker_env *env, const char *extra,
                       int *result)
{
	int error, any = 0, all = 1, r = 0;

	*result = 0;
	if (m->kind == M_CMP)
		return eval_compare(m, env, extra, result);
	/*
	 * No short-circuit, as packaging: an undefined comparison is an error
	 * whatever its neighbours say. The depth is bounded by the parser.
	 */
	for (size_t i = 0; i < m->nkids; i++) {
		if ((error = udfenv_marker_eval(m->kids[i], env, extra, &r)) < 0)
			return error;
		any |= r;
		all &= r;
	}
	*result = m->kind == M_OR ? any : all;
	return 0;
}

/* ---- requirements ---- */

void udfenv_requirement_dispose(udfenv_requirement *r)
{
	if (r == NULL)
		return;
	free(r->name);
	free(r->key);
	udfenv_strvec_dispose(&r->extras);
	udfenv_specset_free(r->spec);
	free(r->url);
	udfenv_marker_free(r->marker);
	*r = (udfenv_requirement)UDFENV_REQUIREMENT_INIT;
}

/* A project or extra name at the cursor: [A-Za-z0-9] with '-_.' inside. */
static size_t name_len(const parser *ps)
{
	const char *q = ps->p;

	if (q == ps->e || !udfenv_ascii_is_alnum(*q))
		return 0;
	while (q < ps->e && (udfenv_ascii_is_alnum(*q) || udfenv_pep_is_sep(*q)))
		q++;
	while (udfenv_pep_is_sep(q[-1]))
		q--;
	return (size_t)(q - ps->p);
}

static int parse_extras(parser *ps, udfenv_strvec *extras)
{
	udfenv_buf key = UDFENV_BUF_INIT;
	size_t n;
	int error = 0;

	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->e && *ps->p == ']') {
		ps->p++;
		return 0;
	}
	for (;;) {
		if ((n = name_len(ps)) == 0) {
			error = parse_error(ps, ps->p, "expected an extra name");
			goto done;
		}
		if ((error = udfenv_pep503_normalize(&key, ps->p, n)) < 0)
			goto done;
		if (udfenv_strvec_find(extras, udfenv_buf_cstr(&key)) < 0 &&
		    (error = udfenv_strvec_push(extras, udfenv_buf_cstr(&key))) < 0)
			goto done;
		ps->p += n;
		skip_ws(ps);
		if (ps->p < ps->e && *ps->p == ',') {
			ps->p++;
			skip_ws(ps);
			continue;
		}
		if (ps->p < ps->e && *ps->p == ']') {
			ps->p++;
			break;
		}
		error = parse_error(ps, ps->p, "expected ',' or ']' after an extra name");
		goto done;
	}
done:
	udfenv_buf_dispose(&key);
	return error;
}

/* The specifier set in [s, e), errors prefixed with the requirement. */
static int parse_spec(parser *ps, const char *s, const char *e, udfenv_specset **out)
{
	char *text;
	int error;

	if ((text = strndup(s, (size_t)(e - s))) == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	if ((error = udfenv_specset_parse(out, text)) == UDFENV_EINVALID)
		prefix_error(ps);
	free(text);
	return error;
}

/* Whether a specifier operator starts at the cursor. */
static int at_spec_op(const parser *ps)
{
	const char *p = ps->p;

	if (p == ps->e)
		return 0;
	if (*p == '<' || *p == '>')
		return 1;
	return ps->e - p >= 2 && p[1] == '=' && (*p == '=' || *p == '!' || *p == '~');
}

/* After the name and extras: "@ url", "(spec)", "spec", or nothing. */
static int parse_details(parser *ps, const char *start, udfenv_requirement *r)
{
	const char *s, *q;
	char shown[QUOTE_MAX];
	int error;

	if (ps->p < ps->e && *ps->p == '@') {
		ps->p++;
		skip_ws(ps);
		for (s = ps->p; ps->p < ps->e && *ps->p != ' ' && *ps->p != '\t'; ps->p++)
			;
		if (ps->p == s)
			return parse_error(ps, ps->p, "expected a URL after '@'");
		if ((r->url = strndup(s, (size_t)(ps->p - s))) == NULL)
			return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
		skip_ws(ps);
		if (ps->p < ps->e && *ps->p != ';')
			return parse_error(ps, ps->p, "expected ';' or the end after the URL");
		return udfenv_specset_parse(&r->spec, "");
	}
	if (ps->p < ps->e && *ps->p == '(') {
		s = ps->p + 1;
		for (q = s; q < ps->e && *q != ')' && *q != ';'; q++)
			;
		if (q == ps->e || *q != ')')
			return parse_error(ps, q, "expected ')' to close the '(' of column %zu",
			                   (size_t)(ps->p - ps->text) + 1);
		if ((error = parse_spec(ps, s, q, &r->spec)) < 0)
			return error;
		ps->p = q + 1;
		return 0;
	}
	if (at_spec_op(ps)) {
		s = ps->p;
		if ((q = memchr(s, ';', (size_t)(ps->e - s))) == NULL)
			q = ps->e;
		ps->p = q;
		return parse_spec(ps, s, q, &r->spec);
	}
	if (ps->p < ps->e && *ps->p != ';') {
		q = ps->p;
		while (q > start && (q[-1] == ' ' || q[-1] == '\t'))
			q--;
		udfenv_pep__quote(shown, sizeof(shown), start, (size_t)(q - start));
		return parse_error(ps, ps->p, "expected a version specifier or ';' after '%s'",
		                   shown);
	}
	return udfenv_specset_parse(&r->spec, "");
}

int udfenv_requirement_parse(udfenv_requirement *out, const char *text)
{
	udfenv_requirement r = UDFENV_REQUIREMENT_INIT;
	udfenv_buf key = UDFENV_BUF_INIT;
	const char *start;
	parser ps;
	size_t n;
	int error;

	*out = r;
	if ((error = parser_open(&ps, text, "requirement")) < 0)
		return error;
	start = ps.p;
	if ((n = name_len(&ps)) == 0) {
		error = parse_error(&ps, ps.p, "expected a project name");
		goto done;
	}
	if ((error = udfenv_pep503_normalize(&key, ps.p, n)) < 0)
		goto done;
	if ((r.name = strndup(ps.p, n)) == NULL || (r.key = udfenv_buf_detach(&key)) == NULL) {
		error = udfenv_error_set(UDFENV_ENOMEM, "out of memory");
		goto done;
	}
	ps.p += n;
	skip_ws(&ps);
	if (ps.p < ps.e && *ps.p == '[' && (error = parse_extras(&ps, &r.extras)) < 0)
		goto done;
	skip_ws(&ps);
	if ((error = parse_details(&ps, start, &r)) < 0)
		goto done;
	skip_ws(&ps);
	if (ps.p < ps.e) {
		if (*ps.p != ';') {
			error = parse_error(&ps, ps.p,
			                    "expected ';' or the end after the version specifier");
			goto done;
		}
		ps.p++;
		skip_ws(&ps);
		if (ps.p == ps.e) {
			error = parse_error(&ps, ps.p, "expected a marker after ';'");
			goto done;
		}
		if ((error = parse_marker_rest(&ps, &r.marker)) < 0)
			goto done;
	}
	*out = r;
	r = (udfenv_requirement)UDFENV_REQUIREMENT_INIT;
done:
	udfenv_buf_dispose(&key);
	udfenv_requirement_dispose(&r);
	return error;
}
