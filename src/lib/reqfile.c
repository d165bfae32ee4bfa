/*
 * pip's requirements-file format, read as pip's req_file.py reads it:
 * str.splitlines() breaks, join_lines() continuations, COMMENT_RE comments,
 * break_args_options() at the first " -" token, shlex.split() and optparse
 * for the options. Each step below names the pip step it mirrors.
 */
#include "lib/reqfile.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/path.h"
#include "util/text.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

typedef enum {
	OPT_INDEX_URL,
	OPT_EXTRA_INDEX_URL,
	OPT_NO_INDEX,
	OPT_CONSTRAINT,
	OPT_REQUIREMENT,
	OPT_EDITABLE,
	OPT_FIND_LINKS,
	OPT_NO_BINARY,
	OPT_ONLY_BINARY,
	OPT_PREFER_BINARY,
	OPT_REQUIRE_HASHES,
	OPT_PRE,
	OPT_TRUSTED_HOST,
	OPT_USE_FEATURE,
	OPT_GLOBAL_OPTION,
	OPT_INSTALL_OPTION,
	OPT_HASH,
	OPT_CONFIG_SETTINGS,
} opt_id;

typedef struct {
	const char *name;
	opt_id id;
	int takes_value;
	int exact_only; /* removed in pip 23.1: kept, but not let to make prefixes ambiguous */
} long_opt;

/* pip's SUPPORTED_OPTIONS and SUPPORTED_OPTIONS_REQ; the first spelling of an id is its name. */
static const long_opt long_opts[] = {
    {"--index-url", OPT_INDEX_URL, 1, 0},
    {"--pypi-url", OPT_INDEX_URL, 1, 0},
    {"--extra-index-url", OPT_EXTRA_INDEX_URL, 1, 0},
    {"--no-index", OPT_NO_INDEX, 0, 0},
    {"--constraint", OPT_CONSTRAINT, 1, 0},
    {"--requirement", OPT_REQUIREMENT, 1, 0},
    {"--editable", OPT_EDITABLE, 1, 0},
    {"--find-links", OPT_FIND_LINKS, 1, 0},
    {"--no-binary", OPT_NO_BINARY, 1, 0},
    {"--only-binary", OPT_ONLY_BINARY, 1, 0},
    {"--prefer-binary", OPT_PREFER_BINARY, 0, 0},
    {"--require-hashes", OPT_REQUIRE_HASHES, 0, 0},
    {"--pre", OPT_PRE, 0, 0},
    {"--trusted-host", OPT_TRUSTED_HOST, 1, 0},
    {"--use-feature", OPT_USE_FEATURE, 1, 0},
    {"--global-option", OPT_GLOBAL_OPTION, 1, 0},
    {"--install-option", OPT_INSTALL_OPTION, 1, 1},
    {"--hash", OPT_HASH, 1, 0},
    {"--config-settings", OPT_CONFIG_SETTINGS, 1, 0},
};

/* Every short option takes a value, so "-rfile" is "-r file" and nothing clusters. */
static const struct {
	char c;
	opt_id id;
} short_opts[] = {
    {'i', OPT_INDEX_URL}, {'c', OPT_CONSTRAINT}, {'r', OPT_REQUIREMENT},
    {'e', OPT_EDITABLE},  {'f', OPT_FIND_LINKS}, {'C', OPT_CONFIG_SETTINGS},
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *opt_name(opt_id id)
{
	for (size_t i = 0; i < NELEM(long_opts); i++)
		if (long_opts[i].id == id)
			return long_opts[i].name;
	return "?";
}

typedef struct {
	udfenv_reqfile *out;
	size_t lines_alloc;
	udfenv_strvec chain; /* real paths of the files being read, top first: cycles */
	udfenv_strvec read;  /* real paths of every file read so far, as out->files */
	size_t total_bytes, nfiles;
	/* Reasons are numbered in the order met, so the pending index reason can
	 * still be the first one when it is confirmed at the end. */
	size_t seq, fallback_seq, index_seq;
	char *index_reason;
} parse_ctx;

typedef struct {
	const char *path;    /* as opened */
	const char *display; /* as named in messages and lines[].file */
	udfenv_buf path_dir; /* os.path.dirname() of each */
	udfenv_buf display_dir;
	int constraint;
	unsigned depth;
} file_state;

/* The options of one line, as optparse leaves them in pip's Values. */
typedef struct {
	udfenv_strvec requirements, constraints, editables, find_links, hashes;
	int no_index, pre, require_hashes;
} line_opts;

static int parse_file(parse_ctx *ctx, const char *path, const char *display, int constraint,
                      unsigned depth, const file_state *from, unsigned from_line);

/* An error about line `line` of `fs`: "FILE line N: " + the message. */
static int line_error(const file_state *fs, unsigned line, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int line_error(const file_state *fs, unsigned line, int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (fs == NULL)
		return udfenv_error_set(code, "%s", msg);
	return udfenv_error_set(code, "%s line %u: %s", fs->display, line, msg);
}

/*
 * Record a reason to hand the set to pip, "FILE line N: " + the message;
 * the first one wins. `is_index`: an index option, which only counts if
 * --no-index is nowhere (decided at the end).
 */
static int note(parse_ctx *ctx, int is_index, const file_state *fs, unsigned line, const char *fmt,
                ...) __attribute__((format(printf, 5, 6)));
static int note(parse_ctx *ctx, int is_index, const file_state *fs, unsigned line, const char *fmt,
                ...)
{
	char **slot = is_index ? &ctx->index_reason : &ctx->out->fallback;
	size_t *slot_seq = is_index ? &ctx->index_seq : &ctx->fallback_seq;
	udfenv_buf b = UDFENV_BUF_INIT;
	char msg[512];
	va_list ap;
	int error;

	ctx->seq++;
	if (*slot)
		return 0;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if ((error = udfenv_buf_printf(&b, "%s line %u: %s", fs->display, line, msg)) < 0) {
		udfenv_buf_dispose(&b);
		return error;
	}
	*slot = udfenv_buf_detach(&b);
	*slot_seq = ctx->seq;
	return 0;
}

/* Bytes in the UTF-8 character led by `c` (the text is validated first). */
static size_t char_len(unsigned char c)
{
	return c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
}

/* The three-byte characters for which Python's str.isspace() is true. */
static int is_space3(const unsigned char *u)
{
	if (u[0] == 0xe1)
		return u[1] == 0x9a && u[2] == 0x80; /* U+1680 */
	if (u[0] == 0xe2)
		return (u[1] == 0x80 &&
		        (u[2] <= 0x8a || u[2] == 0xa8 || u[2] == 0xa9 || u[2] == 0xaf)) ||
		       (u[1] == 0x81 && u[2] == 0x9f); /* U+2000..200A, 2028, 2029, 202F, 205F */
	if (u[0] == 0xe3)
		return u[1] == 0x80 && u[2] == 0x80; /* U+3000 */
	return 0;
}

static int is_space1(unsigned char c)
{
	return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20);
}

/* Bytes of the whitespace character (Python's \s, str.strip()) at `p`; 0 if none. */
static size_t space_at(const char *p, const char *end)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t n = (size_t)(end - p);

	if (n >= 1 && is_space1(u[0]))
		return 1;
	if (n >= 2 && u[0] == 0xc2 && (u[1] == 0x85 || u[1] == 0xa0))
		return 2;
	if (n >= 3 && is_space3(u))
		return 3;
	return 0;
}

/* The same for the character that ends at `end`. */
static size_t space_before(const char *start, const char *end)
{
	const unsigned char *u = (const unsigned char *)end;
	size_t n = (size_t)(end - start);

	if (n >= 1 && is_space1(u[-1]))
		return 1;
	if (n >= 2 && u[-2] == 0xc2 && (u[-1] == 0x85 || u[-1] == 0xa0))
		return 2;
	if (n >= 3 && is_space3(u - 3))
		return 3;
	return 0;
}

/* str.strip() */
static void trim(const char **s, const char **e)
{
	size_t n;
	while ((n = space_at(*s, *e)) > 0)
		*s += n;
	while ((n = space_before(*s, *e)) > 0)
		*e -= n;
}

/*
 * The next line of [*cursor, end) as str.splitlines() cuts it (\n, \r\n,
 * \r, \v, \f, \x1c-\x1e, U+0085, U+2028, U+2029); 0 at the end.
 */
static int next_line(const char **cursor, const char *end, const char **line, size_t *len)
{
	const char *s = *cursor, *q;
	size_t brk = 0;

	if (s >= end)
		return 0;
	for (q = s; q < end && brk == 0; q++) {
		unsigned char c = (unsigned char)*q;
		size_t left = (size_t)(end - q);
		if (c == '\n' || c == '\v' || c == '\f' || c == 0x1c || c == 0x1d || c == 0x1e)
			brk = 1;
		else if (c == '\r')
			brk = left >= 2 && q[1] == '\n' ? 2 : 1;
		else if (c == 0xc2 && left >= 2 && (unsigned char)q[1] == 0x85)
			brk = 2;
		else if (c == 0xe2 && left >= 3 && (unsigned char)q[1] == 0x80 &&
		         ((unsigned char)q[2] == 0xa8 || (unsigned char)q[2] == 0xa9))
			brk = 3;
	}
	if (brk) {
		q--;
		*line = s;
		*len = (size_t)(q - s);
		*cursor = q + brk;
	} else {
		*line = s;
		*len = (size_t)(end - s);
		*cursor = end;
	}
	return 1;
}

/* COMMENT_RE.match(): the first non-space character is '#'. */
static int is_comment_line(const char *s, const char *e)
{
	size_t n;
	while ((n = space_at(s, e)) > 0)
		s += n;
	return s < e && *s == '#';
}

/* COMMENT_RE.sub(): the end of the text before the first '#' at the start or after a space. */
static const char *comment_start(const char *s, const char *e)
{
	int after_space = 1;
	size_t n;

	while (s < e) {
		if (*s == '#' && after_space)
			return s;
		n = space_at(s, e);
		after_space = n > 0;
		s += n ? n : char_len((unsigned char)*s);
	}
	return e;
}

/* ENV_VAR_RE: the first "${NAME}", NAME of [A-Z0-9_]+; its length in `*len`. */
static const char *find_env_var(const char *s, size_t *len)
{
	for (const char *p = s; (p = strstr(p, "${")) != NULL; p++) {
		const char *q = p + 2;
		while ((*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') || *q == '_')
			q++;
		if (q > p + 2 && *q == '}') {
			*len = (size_t)(q + 1 - p);
			return p;
		}
	}
	return NULL;
}

/* SCHEME_RE, which decides that pip fetches an include instead of opening it. */
static int is_fetched(const char *v)
{
	return strncasecmp(v, "http:", 5) == 0 || strncasecmp(v, "https:", 6) == 0 ||
	       strncasecmp(v, "file:", 5) == 0;
}

static const char *const archive_suffixes[] = {
    ".whl", ".zip",    ".tar.gz", ".tgz", ".tar",    ".tar.bz2",
    ".tbz", ".tar.xz", ".txz",    ".tlz", ".tar.lz", ".tar.lzma",
};

/*
 * Whether pip takes the requirement for a URL or a local path rather than a
 * name: the part before any ';' (markers) and any '@' ("name @ url" is a
 * name, the caller decides) holds a ':' (a scheme: "://", "git+https:",
 * "file:") or a '/', or starts with '.' (pip's _looks_like_path); or, with
 * no '@', it ends like an archive (pip takes that for a file name even when
 * no such file exists).
 */
static int is_url_or_path(const char *text)
{
	size_t n = strcspn(text, ";"), at = strcspn(text, "@"), head = at < n ? at : n;
	const char *s = text, *e = text + n;

	if (text[0] == '.' || memchr(text, ':', head) || memchr(text, '/', head))
		return 1;
	if (at < n)
		return 0;
	trim(&s, &e);
	for (size_t i = 0; i < NELEM(archive_suffixes); i++) {
		size_t sl = strlen(archive_suffixes[i]);
		if ((size_t)(e - s) >= sl && strncasecmp(e - sl, archive_suffixes[i], sl) == 0)
			return 1;
	}
	return 0;
}

/* shlex.split(s) (POSIX mode, no comments) into `out`. */
static int shlex_split(udfenv_strvec *out, const char *s, const file_state *fs, unsigned line)
{
	udfenv_buf tok = UDFENV_BUF_INIT;
	int in_tok = 0, error = 0;
	char quote = 0;

	for (const char *p = s;; p++) {
		char c = *p;
		if (quote && c == '\0') {
			error = line_error(fs, line, UDFENV_EINVALID,
			                   "no closing quotation in the options");
			goto done;
		}
		if (quote == '\'') {
			if (c == '\'')
				quote = 0;
			else if ((error = udfenv_buf_putc(&tok, c)) < 0)
				goto done;
		} else if (quote == '"') {
			if (c == '"') {
				quote = 0;
			} else {
				/* In double quotes '\' escapes only '"' and itself. */
				if (c == '\\' && (p[1] == '"' || p[1] == '\\'))
					c = *++p;
				if ((error = udfenv_buf_putc(&tok, c)) < 0)
					goto done;
			}
		} else if (c == '\0' || c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			if (in_tok) {
				if ((error = udfenv_strvec_push(out, udfenv_buf_cstr(&tok))) < 0)
					goto done;
				udfenv_buf_clear(&tok);
				in_tok = 0;
			}
			if (c == '\0')
				break;
		} else if (c == '\\') {
			if (p[1] == '\0') {
				error = line_error(fs, line, UDFENV_EINVALID,
				                   "the options end with an escaping '\\'");
				goto done;
			}
			in_tok = 1;
			if ((error = udfenv_buf_putc(&tok, *++p)) < 0)
				goto done;
		} else if (c == '\'' || c == '"') {
			quote = c;
			in_tok = 1; /* "" is an empty word, not none */
		} else {
			in_tok = 1;
			if ((error = udfenv_buf_putc(&tok, c)) < 0)
				goto done;
		}
	}
done:
	udfenv_buf_dispose(&tok);
	return error;
}

/* pip's _handle_merge_hash, plus what makes a digest that can never match. */
static int check_hash(const file_state *fs, unsigned line, const char *value)
{
	const char *colon = strchr(value, ':'), *digest;
	size_t alen, want, got;

	if (colon == NULL)
		return line_error(
		    fs, line, UDFENV_EINVALID,
		    "--hash '%.100s' is not a hash name and a digest, like sha256:HEX", value);
	alen = (size_t)(colon - value);
	digest = colon + 1;
	if (alen == 6 && memcmp(value, "sha256", 6) == 0)
		want = 64;
	else if (alen == 6 && memcmp(value, "sha384", 6) == 0)
		want = 96;
	else if (alen == 6 && memcmp(value, "sha512", 6) == 0)
		want = 128;
	else
		return line_error(fs, line, UDFENV_EINVALID,
		                  "--hash algorithm '%.*s' is not one of sha256, sha384, sha512",
		                  (int)(alen > 100 ? 100 : alen), value);
	if (*digest == '\0')
		return line_error(fs, line, UDFENV_EINVALID, "--hash %.6s: has no digest", value);
	got = strspn(digest, "0123456789abcdefABCDEF");
	if (digest[got] != '\0')
		return line_error(fs, line, UDFENV_EINVALID, "--hash %.6s: the digest is not hex",
		                  value);
	if (got != want)
		return line_error(fs, line, UDFENV_EINVALID,
		                  "--hash %.6s: the digest has %zu hex digits, not %zu", value, got,
		                  want);
	return 0;
}

/* What one option does to the line's options and to the set. */
static int apply_opt(parse_ctx *ctx, const file_state *fs, unsigned line, opt_id id,
                     const char *value, line_opts *lo)
{
	int error;

	switch (id) {
	case OPT_INDEX_URL:
	case OPT_EXTRA_INDEX_URL:
		return note(ctx, 1, fs, line, "%s (only pip reads an index)", opt_name(id));
	case OPT_NO_INDEX:
		lo->no_index = 1;
		return 0;
	case OPT_PRE:
		lo->pre = 1;
		return 0;
	case OPT_REQUIRE_HASHES:
		lo->require_hashes = 1;
		return 0;
	case OPT_ONLY_BINARY:
	case OPT_PREFER_BINARY:
	case OPT_TRUSTED_HOST:
		return 0; /* a wheel directory is all binary; nothing is fetched */
	case OPT_CONSTRAINT:
		return udfenv_strvec_push(&lo->constraints, value);
	case OPT_REQUIREMENT:
		return udfenv_strvec_push(&lo->requirements, value);
	case OPT_EDITABLE:
		if ((error = udfenv_strvec_push(&lo->editables, value)) < 0)
			return error;
		return note(ctx, 0, fs, line, "--editable");
	case OPT_FIND_LINKS:
		if ((error = udfenv_strvec_push(&lo->find_links, value)) < 0)
			return error;
		return note(ctx, 0, fs, line,
		            "--find-links (the directories it names are not shipped to workers)");
	case OPT_HASH:
		if ((error = check_hash(fs, line, value)) < 0)
			return error;
		return udfenv_strvec_push(&lo->hashes, value);
	case OPT_NO_BINARY:
	case OPT_USE_FEATURE:
	case OPT_GLOBAL_OPTION:
	case OPT_INSTALL_OPTION:
	case OPT_CONFIG_SETTINGS:
		/* Even where pip ignores them: handing the set to pip is never wrong. */
		return note(ctx, 0, fs, line, "%s", opt_name(id));
	}
	return 0;
}

/* optparse's _match_abbrev(): an exact spelling, else the one that `name` is a prefix of. */
static int match_long(const long_opt **out, const char *name, size_t len, const file_state *fs,
                      unsigned line)
{
	udfenv_buf list = UDFENV_BUF_INIT;
	size_t found = 0;
	int error = 0;

	*out = NULL;
	for (size_t i = 0; i < NELEM(long_opts); i++)
		if (strlen(long_opts[i].name) == len && memcmp(long_opts[i].name, name, len) == 0) {
			*out = &long_opts[i];
			return 0;
		}
	for (size_t i = 0; i < NELEM(long_opts); i++) {
		if (long_opts[i].exact_only || strncmp(long_opts[i].name, name, len) != 0)
			continue;
		*out = &long_opts[i];
		if ((error = udfenv_buf_printf(&list, "%s%s", found++ ? ", " : "",
		                               long_opts[i].name)) < 0)
			goto done;
	}
	if (found == 0)
		error = line_error(fs, line, UDFENV_EINVALID, "unknown option '%.*s'",
		                   (int)(len > 100 ? 100 : len), name);
	else if (found > 1)
		error = line_error(fs, line, UDFENV_EINVALID, "ambiguous option '%.*s' (%s)",
		                   (int)(len > 100 ? 100 : len), name, udfenv_buf_cstr(&list));
done:
	udfenv_buf_dispose(&list);
	return error;
}

/*
 * optparse's _process_args() over the words of a line's options. Words that
 * are not options are dropped, as pip drops optparse's leftover args.
 */
static int parse_opts(parse_ctx *ctx, const file_state *fs, unsigned line,
                      const udfenv_strvec *words, line_opts *lo)
{
	size_t i = 0;
	int error;

	while (i < words->count) {
		const char *arg = words->items[i++], *value = NULL;
		opt_id id;

		if (strcmp(arg, "--") == 0)
			break;
		if (arg[0] == '-' && arg[1] == '-') {
			const long_opt *lop;
			const char *eq = strchr(arg, '=');
			size_t len = eq ? (size_t)(eq - arg) : strlen(arg);

			if ((error = match_long(&lop, arg, len, fs, line)) < 0)
				return error;
			if (!lop->takes_value && eq)
				return line_error(fs, line, UDFENV_EINVALID,
				                  "option '%.*s' takes no value",
				                  (int)(len > 100 ? 100 : len), arg);
			if (lop->takes_value) {
				if (eq)
					value = eq + 1;
				else if (i < words->count)
					value = words->items[i++];
				else
					return line_error(fs, line, UDFENV_EINVALID,
					                  "option '%.100s' needs a value", arg);
			}
			id = lop->id;
		} else if (arg[0] == '-' && arg[1] != '\0') {
			size_t k;
			for (k = 0; k < NELEM(short_opts) && short_opts[k].c != arg[1]; k++)
				;
			if (k == NELEM(short_opts))
				return line_error(fs, line, UDFENV_EINVALID,
				                  "unknown option '-%.*s'",
				                  (int)char_len((unsigned char)arg[1]), arg + 1);
			if (arg[2] != '\0')
				value = arg + 2;
			else if (i < words->count)
				value = words->items[i++];
			else
				return line_error(fs, line, UDFENV_EINVALID,
				                  "option '%s' needs a value", arg);
			id = short_opts[k].id;
		} else {
			continue;
		}
		if ((error = apply_opt(ctx, fs, line, id, value, lo)) < 0)
			return error;
	}
	return 0;
}

static int push_line(parse_ctx *ctx, const file_state *fs, unsigned line, const char *text,
                     size_t len, int editable, udfenv_strvec *hashes)
{
	udfenv_reqfile *r = ctx->out;
	udfenv_reqline *l;
	int error;

	if (r->count >= UDFENV_REQFILE_MAX_LINES)
		return line_error(fs, line, UDFENV_ELIMIT, "more than %d requirements in the set",
		                  UDFENV_REQFILE_MAX_LINES);
	if ((error = udfenv_array_reserve((void **)&r->lines, &ctx->lines_alloc, r->count,
	                                  sizeof(*r->lines))) < 0)
		return error;
	l = &r->lines[r->count];
	memset(l, 0, sizeof(*l));
	l->text = strndup(text, len);
	l->file = strdup(fs->display);
	if (l->text == NULL || l->file == NULL) {
		free(l->text);
		free(l->file);
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	}
	l->line = line;
	l->constraint = fs->constraint;
	l->editable = editable;
	if (hashes) {
		l->hashes = *hashes;
		*hashes = (udfenv_strvec)UDFENV_STRVEC_INIT;
	}
	r->count++;
	return 0;
}

/* A -r/-c that pip follows: the first -r of the line, else its first -c. */
static int follow_include(parse_ctx *ctx, const file_state *fs, unsigned line, const char *value,
                          int constraint)
{
	udfenv_buf path = UDFENV_BUF_INIT, display = UDFENV_BUF_INIT;
	int error;

	if (is_fetched(value))
		return note(ctx, 0, fs, line, "%s from a URL (only pip fetches it)",
		            constraint ? "-c" : "-r");
	if (fs->depth >= UDFENV_REQFILE_MAX_DEPTH)
		return line_error(fs, line, UDFENV_ELIMIT, "includes nested more than %d deep",
		                  UDFENV_REQFILE_MAX_DEPTH);
	if ((error = udfenv_path_join(&path, udfenv_buf_cstr(&fs->path_dir), value)) < 0 ||
	    (error = udfenv_path_join(&display, udfenv_buf_cstr(&fs->display_dir), value)) < 0)
		goto done;
	error = parse_file(ctx, udfenv_buf_cstr(&path), udfenv_buf_cstr(&display), constraint,
	                   fs->depth + 1, fs, line);
done:
	udfenv_buf_dispose(&path);
	udfenv_buf_dispose(&display);
	return error;
}

/* A -f value: URLs and absolute paths as given, else relative to the file's directory. */
static int add_find_links(parse_ctx *ctx, const file_state *fs, const udfenv_strvec *values)
{
	udfenv_buf b = UDFENV_BUF_INIT;
	int error = 0;

	for (size_t i = 0; i < values->count && error == 0; i++) {
		const char *v = values->items[i];
		if (strstr(v, "://") || strncasecmp(v, "file:", 5) == 0)
			error = udfenv_strvec_push(&ctx->out->find_links, v);
		else if ((error = udfenv_path_join(&b, udfenv_buf_cstr(&fs->path_dir), v)) == 0)
			error = udfenv_strvec_push(&ctx->out->find_links, udfenv_buf_cstr(&b));
	}
	udfenv_buf_dispose(&b);
	return error;
}

static void line_opts_dispose(line_opts *lo)
{
	udfenv_strvec_dispose(&lo->requirements);
	udfenv_strvec_dispose(&lo->constraints);
	udfenv_strvec_dispose(&lo->editables);
	udfenv_strvec_dispose(&lo->find_links);
	udfenv_strvec_dispose(&lo->hashes);
}

/* One logical line (continuations joined), from ignore_comments() on; `s` is modified. */
static int handle_line(parse_ctx *ctx, const file_state *fs, unsigned line, char *s, size_t len)
{
	udfenv_strvec words = UDFENV_STRVEC_INIT;
	line_opts lo = {UDFENV_STRVEC_INIT,
	                UDFENV_STRVEC_INIT,
	                UDFENV_STRVEC_INIT,
	                UDFENV_STRVEC_INIT,
	                UDFENV_STRVEC_INIT,
	                0,
	                0,
	                0};
	const char *start = s, *end = comment_start(s, s + len), *args_end, *var;
	size_t vlen;
	int error = 0;

	trim(&start, &end);
	if (start == end)
		return 0;
	s[end - s] = '\0';
	if ((var = find_env_var(start, &vlen)) != NULL)
		return note(ctx, 0, fs, line, "uses environment variable %.*s",
		            (int)(vlen > 100 ? 100 : vlen), var);

	/* break_args_options(): the requirement ends before the first ' '-separated word starting
	 * with '-'. */
	for (args_end = start; *args_end; args_end++)
		if (*args_end == '-' && (args_end == start || args_end[-1] == ' '))
			break;
	if (*args_end) {
		if ((error = shlex_split(&words, args_end, fs, line)) < 0 ||
		    (error = parse_opts(ctx, fs, line, &words, &lo)) < 0)
			goto done;
	}
	trim(&start, &args_end);

	if (args_end > start) {
		if ((error = push_line(ctx, fs, line, start, (size_t)(args_end - start), 0,
		                       &lo.hashes)) < 0)
			goto done;
		if (is_url_or_path(ctx->out->lines[ctx->out->count - 1].text))
			error = note(ctx, 0, fs, line,
			             "the requirement is a URL or a path, not a name");
	} else if (lo.editables.count) {
		const char *v = lo.editables.items[0], *v_end = v + strlen(v);
		trim(&v, &v_end);
		error = push_line(ctx, fs, line, v, (size_t)(v_end - v), 1, NULL);
	} else if (lo.requirements.count) {
		error = follow_include(ctx, fs, line, lo.requirements.items[0], 0);
	} else if (lo.constraints.count) {
		error = follow_include(ctx, fs, line, lo.constraints.items[0], 1);
	} else {
		ctx->out->no_index |= lo.no_index;
		ctx->out->pre |= lo.pre;
		ctx->out->require_hashes |= lo.require_hashes;
		error = add_find_links(ctx, fs, &lo.find_links);
	}
done:
	udfenv_strvec_dispose(&words);
	line_opts_dispose(&lo);
	return error;
}

/* Decoding checks, then join_lines() feeding handle_line(). */
static int parse_text(parse_ctx *ctx, const file_state *fs, const char *text, size_t size)
{
	udfenv_buf joined = UDFENV_BUF_INIT;
	const char *end = text + size, *cursor, *l;
	unsigned lineno = 0, primary = 0;
	int pending = 0, error = 0;
	size_t len;

	if (size >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		text += 3;
	else if (size >= 2 &&
	         (memcmp(text, "\xff\xfe", 2) == 0 || memcmp(text, "\xfe\xff", 2) == 0))
		return line_error(fs, 1, UDFENV_EINVALID,
		                  "UTF-16 or UTF-32 text; only UTF-8 is read");

	for (cursor = text; next_line(&cursor, end, &l, &len);) {
		lineno++;
		if (memchr(l, '\0', len))
			return line_error(fs, lineno, UDFENV_EINVALID, "contains a NUL byte");
		if (!udfenv_text_utf8_valid(l, len))
			return line_error(fs, lineno, UDFENV_EINVALID, "not valid UTF-8");
		if (len > UDFENV_REQFILE_MAX_LINE)
			return line_error(fs, lineno, UDFENV_ELIMIT, "longer than %u bytes",
			                  UDFENV_REQFILE_MAX_LINE);
	}

	for (lineno = 0, cursor = text; next_line(&cursor, end, &l, &len);) {
		int comment = is_comment_line(l, l + len),
		    continued = len > 0 && l[len - 1] == '\\';

		lineno++;
		if (!pending) {
			udfenv_buf_clear(&joined);
			primary = lineno;
		}
		if (continued && !comment) {
			/* pip strips every '\' from both ends of a continued line. */
			while (len > 0 && l[len - 1] == '\\')
				len--;
			while (len > 0 && l[0] == '\\')
				l++, len--;
		} else if (pending && comment && (error = udfenv_buf_putc(&joined, ' ')) < 0) {
			goto done; /* so that the comment still reads as one once joined */
		}
		if (joined.size + len > UDFENV_REQFILE_MAX_LINE) {
			error = line_error(fs, primary, UDFENV_ELIMIT,
			                   "longer than %u bytes once continued",
			                   UDFENV_REQFILE_MAX_LINE);
			goto done;
		}
		if ((error = udfenv_buf_put(&joined, l, len)) < 0)
			goto done;
		pending = continued && !comment;
		if (!pending &&
		    (error = handle_line(ctx, fs, primary, joined.ptr, joined.size)) < 0)
			goto done;
	}
	/* A continuation on the last line: pip keeps what was joined. */
	if (pending)
		error = handle_line(ctx, fs, primary, joined.ptr, joined.size);
done:
	udfenv_buf_dispose(&joined);
	return error;
}

/*
 * Read and parse one file. `from`/`from_line`: the include line that names
 * it (NULL for the top file), which prefixes the errors about opening it.
 */
static int parse_file(parse_ctx *ctx, const char *path, const char *display, int constraint,
                      unsigned depth, const file_state *from, unsigned from_line)
{
	file_state fs = {path, display, UDFENV_BUF_INIT, UDFENV_BUF_INIT, constraint, depth};
	udfenv_buf content = UDFENV_BUF_INIT;
	size_t budget = UDFENV_REQFILE_MAX_TOTAL - ctx->total_bytes;
	char *real = NULL;
	struct stat st;
	int error = 0, pushed = 0;

	if ((real = realpath(path, NULL)) == NULL || stat(real, &st) < 0) {
		int err = errno;
		error = line_error(from, from_line, udfenv_error_from_errno(err),
		                   "cannot open '%s': %s", display, strerror(err));
		goto done;
	}
	if (udfenv_strvec_find(&ctx->chain, real) >= 0) {
		error = line_error(from, from_line, UDFENV_EINVALID,
		                   "include cycle: '%s' is already being read", display);
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		error = line_error(from, from_line, UDFENV_EINVALID, "'%s' is not a regular file",
		                   display);
		goto done;
	}
	if (ctx->nfiles >= UDFENV_REQFILE_MAX_FILES) {
		error = line_error(from, from_line, UDFENV_ELIMIT,
		                   "more than %d files read for the set", UDFENV_REQFILE_MAX_FILES);
		goto done;
	}
	if ((uintmax_t)st.st_size > UDFENV_REQFILE_MAX_SIZE) {
		error = line_error(from, from_line, UDFENV_ELIMIT, "'%s' is larger than %u bytes",
		                   display, UDFENV_REQFILE_MAX_SIZE);
		goto done;
	}
	if ((uintmax_t)st.st_size > budget) {
		error = line_error(from, from_line, UDFENV_ELIMIT,
		                   "the files read for the set exceed %u bytes",
		                   UDFENV_REQFILE_MAX_TOTAL);
		goto done;
	}
	if ((error = udfenv_fs_read_file(
	         &content, real,
	         budget < UDFENV_REQFILE_MAX_SIZE ? budget : UDFENV_REQFILE_MAX_SIZE)) < 0) {
		if (from)
			udfenv_error_prefix("%s line %u: ", from->display, from_line);
		goto done;
	}
	ctx->total_bytes += content.size;
	ctx->nfiles++;
	if ((error = udfenv_strvec_push(&ctx->chain, real)) < 0)
		goto done;
	pushed = 1;
	/* One file named two ways ("a.txt", "sub/../a.txt") is listed once. */
	if (udfenv_strvec_find(&ctx->read, real) < 0 &&
	    ((error = udfenv_strvec_push(&ctx->read, real)) < 0 ||
	     (error = udfenv_strvec_push(&ctx->out->files, path)) < 0))
		goto done;
	if ((error = udfenv_path_dirname(&fs.path_dir, path)) < 0 ||
	    (error = udfenv_path_dirname(&fs.display_dir, display)) < 0)
		goto done;
	error = parse_text(ctx, &fs, udfenv_buf_cstr(&content), content.size);
done:
	if (pushed) {
		free(ctx->chain.items[--ctx->chain.count]);
		ctx->chain.items[ctx->chain.count] = NULL;
	}
	free(real);
	udfenv_buf_dispose(&content);
	udfenv_buf_dispose(&fs.path_dir);
	udfenv_buf_dispose(&fs.display_dir);
	return error;
}

int udfenv_reqfile_parse(udfenv_reqfile *out, const char *path, const char *display_name)
{
	udfenv_reqfile r = UDFENV_REQFILE_INIT;
	parse_ctx ctx;
	int error;

	*out = r;
	memset(&ctx, 0, sizeof(ctx));
	ctx.out = &r;
	if ((error = parse_file(&ctx, path, display_name ? display_name : path, 0, 0, NULL, 0)) < 0)
		goto done;
	/* pip drops every index once --no-index is given, wherever it comes. */
	if (ctx.index_reason && !r.no_index &&
	    (r.fallback == NULL || ctx.index_seq < ctx.fallback_seq)) {
		free(r.fallback);
		r.fallback = ctx.index_reason;
		ctx.index_reason = NULL;
	}
	*out = r;
done:
	if (error < 0)
		udfenv_reqfile_dispose(&r);
	free(ctx.index_reason);
	udfenv_strvec_dispose(&ctx.chain);
	udfenv_strvec_dispose(&ctx.read);
	return error;
}

void udfenv_reqfile_dispose(udfenv_reqfile *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->count; i++) {
		free(f->lines[i].text);
		free(f->lines[i].file);
		udfenv_strvec_dispose(&f->lines[i].hashes);
	}
	free(f->lines);
	udfenv_strvec_dispose(&f->find_links);
	udfenv_strvec_dispose(&f->files);
	free(f->fallback);
	*f = (udfenv_reqfile)UDFENV_REQFILE_INIT;
}
