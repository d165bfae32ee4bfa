/*
 * Python packaging's names and versions: PEP 503 project names, PEP 440
 * versions and specifier sets.
 *
 * Everything here parses text from outside (wheel names, metadata,
 * requirement files): inputs longer than UDFENV_PEP_MAX_TEXT bytes and
 * numbers above UDFENV_VERSION_NUM_MAX are refused with UDFENV_EINVALID.
 */
#ifndef UDFENV_LIB_PEP440_H
#define UDFENV_LIB_PEP440_H

#include "util/buf.h"

#include <stddef.h>

/* The longest version, specifier set, requirement or marker text accepted. */
#define UDFENV_PEP_MAX_TEXT 65536
/* The largest epoch, release, pre, post or dev number accepted (2^63 - 1). */
#define UDFENV_VERSION_NUM_MAX 9223372036854775807ULL

/* '-', '_' or '.': the separators inside PEP 503 names and PEP 440 labels. */
static inline int udfenv_pep_is_sep(char c)
{
	return c == '-' || c == '_' || c == '.';
}

/*
 * The PEP 503 normal form of the project name `name` (its first `len`
 * bytes): lowercase, each run of '-', '_' and '.' made one '-'. The name
 * must be a valid project name (PEP 508: ASCII letters and digits, with
 * '-', '_', '.' only between them), else UDFENV_EINVALID naming it. `out`
 * is cleared first.
 */
int udfenv_pep503_normalize(udfenv_buf *out, const char *name, size_t len);

/*
 * The same normal form without the validation, as packaging's
 * canonicalize_name: any bytes, ASCII letters lowercased, each run of '-',
 * '_' and '.' made one '-' ("" stays "", `out->ptr` non-NULL). `out` is
 * cleared first; only UDFENV_ENOMEM fails.
 */
int udfenv_pep503_canonicalize(udfenv_buf *out, const char *name, size_t len);

/*
 * A parsed version. (Not "udfenv_version": that is the library's version
 * function in udfenv/common.h, and C keeps one namespace for both.)
 */
typedef struct {
	unsigned long long epoch;
	unsigned long long *release; /* malloc'd, nrelease >= 1 */
	size_t nrelease;
	int pre_kind; /* 0: none, 'a', 'b', 'c' (rc) */
	unsigned long long pre;
	int has_post;
	unsigned long long post;
	int has_dev;
	unsigned long long dev;
	/*
	 * Normalized local label or NULL: lowercase, segments joined by '.',
	 * numeric segments without leading zeros ("Ubuntu-01" -> "ubuntu.1").
	 */
	char *local;
} udfenv_pep440_version;

/* clang-format off */
#define UDFENV_VERSION_INIT {0, NULL, 0, 0, 0, 0, 0, 0, 0, NULL}
/* clang-format on */

/*
 * Parse `text` with PEP 440's normalization rules: case-insensitive, an
 * optional leading 'v', surrounding ASCII whitespace, the spellings
 * alpha/beta/c/pre/preview/rc, post/rev/r and the implicit post "1.0-1",
 * optional separators and implicit numbers ("1.0a" is 1.0a0), local
 * separators '-', '_', '.'. Anything else is UDFENV_EINVALID "'X' is not a
 * valid version (PEP 440)". On success `*out` owns memory to release with
 * udfenv_version_dispose; on failure it is left as UDFENV_VERSION_INIT.
 */
int udfenv_version_parse(udfenv_pep440_version *out, const char *text);
/*
 * As udfenv_version_parse, for callers that fall back to something else:
 * UDFENV_EINVALID comes back without touching udfenv_error_last(); only
 * UDFENV_ENOMEM sets a message.
 */
int udfenv_version_try_parse(udfenv_pep440_version *out, const char *text);
/* Free what `v` owns and reset it to UDFENV_VERSION_INIT (NULL-safe). */
void udfenv_version_dispose(udfenv_pep440_version *v);
/* A deep copy of `src` into `*out` (dispose it); UDFENV_ENOMEM leaves it INIT. */
int udfenv_version_copy(udfenv_pep440_version *out, const udfenv_pep440_version *src);

/*
 * <0, 0, >0 as PEP 440 orders `a` and `b`: trailing zeros of the release
 * ignored, dev < pre < final < post, a local version after its public
 * one, local segments compared numeric > alphanumeric, numbers by value.
 */
int udfenv_version_cmp(const udfenv_pep440_version *a, const udfenv_pep440_version *b);
/* Whether `v` is a pre-release: it has a pre or a dev segment. */
int udfenv_version_is_prerelease(const udfenv_pep440_version *v);
/* Append the normalized form of `v` ("1!2.0rc1.post3.dev4+abc.5") to `out`. */
int udfenv_version_format(udfenv_buf *out, const udfenv_pep440_version *v);

typedef struct udfenv_specset udfenv_specset;

/*
 * Parse a specifier set: comma-separated clauses of ~= == != <= >= < >
 * === with PEP 440's rules: only == and != take a local label or a
 * trailing ".*" (not both, and ".*" only after a plain release), ~= needs
 * two release components, === takes any string without whitespace, ';',
 * ')' or ','. Empty clauses are skipped as packaging does, so "" or only
 * whitespace is the empty set. On success `*out` is malloc'd, for
 * udfenv_specset_free; on UDFENV_EINVALID (naming the bad clause) it is
 * NULL.
 */
int udfenv_specset_parse(udfenv_specset **out, const char *text);
/* As udfenv_specset_parse, but UDFENV_EINVALID sets no message (only UDFENV_ENOMEM does). */
int udfenv_specset_try_parse(udfenv_specset **out, const char *text);
void udfenv_specset_free(udfenv_specset *s);

/*
 * Whether the candidate satisfies every clause (1) or not (0), with PEP
 * 440's rules as the current packaging reads them: >V matches no local
 * version of V and, unless V is a post-release, no post-release of V
 * itself (>1.0 refuses 1.0.post1, >1.0a1 takes it); <V matches no
 * pre-release of V itself unless V is one (<1.0 refuses 1.0rc1,
 * <1.0.post1 takes it); == without a local label ignores the candidate's;
 * ==V.* is a prefix match of the release; ~=V is >=V plus a prefix match
 * of V's release without its last component; === compares `version_text`
 * (trimmed; the normalized `v` if NULL) case-insensitively to its string.
 *
 * A pre-release candidate matches only if `prereleases` is non-zero or a
 * clause other than != names a pre-release (as packaging does); so the
 * empty set contains every final version and, with `prereleases`, every
 * version. `v` may be NULL for a candidate whose `version_text` is not a
 * PEP 440 version: then only a non-empty set of === clauses can match it.
 */
int udfenv_specset_contains(const udfenv_specset *s, const udfenv_pep440_version *v,
                            const char *version_text, int prereleases);
/* Whether the set pins one version: one clause, == without ".*", or ===. */
int udfenv_specset_is_pin(const udfenv_specset *s);
/*
 * Append the set to `out` as normalized text: each clause as operator and
 * normalized version (=== keeps its string), joined by ",", in input
 * order; nothing for the empty set.
 */
int udfenv_specset_format(udfenv_buf *out, const udfenv_specset *s);

/*
 * For messages: the first `len` bytes of `s` in `dst` (`cap` >= 8 bytes),
 * control characters as '?', cut with "..." when too long.
 */
void udfenv_pep__quote(char *dst, size_t cap, const char *s, size_t len);

#endif
