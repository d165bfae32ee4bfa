/*
 * PEP 440 versions and specifier sets, PEP 503 names (src/lib/pep440.h).
 *
 * Input: lines "VERSION_A\nVERSION_B\nSPECIFIERS\nNAME". Checked: parse,
 * format and parse again gives the same version and the same text;
 * udfenv_version_cmp is reflexive and antisymmetric, and 0 for equal
 * normal forms; a copy compares equal; the try_ variants agree with the
 * plain ones; a specifier set formatted and parsed again formats the same,
 * pins the same and contains the same; a valid name normalizes as it
 * canonicalizes, and both are idempotent.
 */
#include "fuzz_common.h"

#include "lib/pep440.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init("pep440");
	return 0;
}

static int sign(int x)
{
	return (x > 0) - (x < 0);
}

/* Parse `text`; 1 with `*v` set when it is a version. */
static int version(udfenv_pep440_version *v, const char *text)
{
	udfenv_pep440_version again = UDFENV_VERSION_INIT, copy = UDFENV_VERSION_INIT;
	udfenv_buf f1 = UDFENV_BUF_INIT, f2 = UDFENV_BUF_INIT;
	int error = udfenv_version_parse(v, text), quiet;

	fuzz_check_error(error, "udfenv_version_parse");
	quiet = udfenv_version_try_parse(&again, text);
	FUZZ_CHECK(quiet == error, "try_parse %d, parse %d for '%s'", quiet, error, text);
	udfenv_version_dispose(&again);
	if (error < 0) {
		FUZZ_CHECK(v->release == NULL && v->local == NULL, "%s", "a failed parse left memory");
		return 0;
	}
	FUZZ_CHECK(v->nrelease >= 1, "no release in '%s'", text);
	FUZZ_CHECK(udfenv_version_is_prerelease(v) == (v->pre_kind != 0 || v->has_dev), "%s", text);
	FUZZ_CHECK(udfenv_version_format(&f1, v) == 0, "%s", "format");
	error = udfenv_version_parse(&again, f1.ptr);
	FUZZ_CHECK(error == 0, "'%s' formats as '%s', which does not parse: %s", text, f1.ptr,
		   udfenv_error_last()->message);
	FUZZ_CHECK(udfenv_version_cmp(v, &again) == 0, "'%s' and its normal form '%s' differ", text,
		   f1.ptr);
	FUZZ_CHECK(udfenv_version_format(&f2, &again) == 0 && strcmp(f1.ptr, f2.ptr) == 0,
		   "'%s' -> '%s' -> '%s'", text, f1.ptr, f2.ptr);
	FUZZ_CHECK(udfenv_version_copy(&copy, v) == 0 && udfenv_version_cmp(&copy, v) == 0, "copy of '%s'",
		   text);
	FUZZ_CHECK(udfenv_version_cmp(v, v) == 0, "'%s' is not equal to itself", text);
	udfenv_version_dispose(&again);
	udfenv_version_dispose(&copy);
	udfenv_buf_dispose(&f1);
	udfenv_buf_dispose(&f2);
	return 1;
}

static void specifiers(const char *text, const udfenv_pep440_version *a, const char *a_text,
		       const udfenv_pep440_version *b, const char *b_text)
{
	udfenv_specset *s = NULL, *again = NULL, *quiet = NULL;
	udfenv_buf f1 = UDFENV_BUF_INIT, f2 = UDFENV_BUF_INIT;
	int error = udfenv_specset_parse(&s, text), q;

	fuzz_check_error(error, "udfenv_specset_parse");
	q = udfenv_specset_try_parse(&quiet, text);
	FUZZ_CHECK(q == error, "try_parse %d, parse %d for '%s'", q, error, text);
	udfenv_specset_free(quiet);
	if (error < 0) {
		FUZZ_CHECK(s == NULL, "%s", "a failed parse left a set");
		return;
	}
	FUZZ_CHECK(udfenv_specset_format(&f1, s) == 0, "%s", "format");
	error = udfenv_specset_parse(&again, udfenv_buf_cstr(&f1));
	FUZZ_CHECK(error == 0, "'%s' formats as '%s', which does not parse: %s", text, udfenv_buf_cstr(&f1),
		   udfenv_error_last()->message);
	FUZZ_CHECK(udfenv_specset_format(&f2, again) == 0 &&
			   strcmp(udfenv_buf_cstr(&f1), udfenv_buf_cstr(&f2)) == 0,
		   "'%s' -> '%s' -> '%s'", text, udfenv_buf_cstr(&f1), udfenv_buf_cstr(&f2));
	FUZZ_CHECK(udfenv_specset_is_pin(s) == udfenv_specset_is_pin(again), "pin of '%s' vs '%s'", text,
		   udfenv_buf_cstr(&f1));
	for (int pre = 0; pre < 2; pre++) {
		const udfenv_pep440_version *vs[] = {a, b};
		const char *ts[] = {a_text, b_text};
		for (int i = 0; i < 2; i++) {
			int in = udfenv_specset_contains(s, vs[i], ts[i], pre);
			FUZZ_CHECK(in == 0 || in == 1, "contains %d", in);
			FUZZ_CHECK(in == udfenv_specset_contains(again, vs[i], ts[i], pre),
				   "'%s' and its normal form '%s' disagree on '%s' (prereleases %d)",
				   text, udfenv_buf_cstr(&f1), ts[i], pre);
		}
	}
	udfenv_specset_free(s);
	udfenv_specset_free(again);
	udfenv_buf_dispose(&f1);
	udfenv_buf_dispose(&f2);
}

static void name(const char *text)
{
	udfenv_buf norm = UDFENV_BUF_INIT, canon = UDFENV_BUF_INIT, again = UDFENV_BUF_INIT;
	size_t len = strlen(text);
	int error = udfenv_pep503_normalize(&norm, text, len);

	fuzz_check_error(error, "udfenv_pep503_normalize");
	FUZZ_CHECK(udfenv_pep503_canonicalize(&canon, text, len) == 0 && canon.ptr != NULL, "%s",
		   "canonicalize");
	FUZZ_CHECK(udfenv_pep503_canonicalize(&again, canon.ptr, canon.size) == 0 &&
			   strcmp(again.ptr, canon.ptr) == 0,
		   "canonicalize('%s') = '%s', then '%s'", text, canon.ptr, again.ptr);
	if (error == 0) {
		FUZZ_CHECK(strcmp(norm.ptr, canon.ptr) == 0, "'%s': normalize '%s', canonicalize '%s'", text,
			   norm.ptr, canon.ptr);
		FUZZ_CHECK(udfenv_pep503_normalize(&again, norm.ptr, norm.size) == 0 &&
				   strcmp(again.ptr, norm.ptr) == 0,
			   "normalize('%s') = '%s', then '%s'", text, norm.ptr, udfenv_buf_cstr(&again));
	}
	udfenv_buf_dispose(&norm);
	udfenv_buf_dispose(&canon);
	udfenv_buf_dispose(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	udfenv_pep440_version a = UDFENV_VERSION_INIT, b = UDFENV_VERSION_INIT;
	char *parts[4];
	int have_a, have_b;

	fuzz_split(data, size, '\n', parts, NULL, 4);
	have_a = version(&a, parts[0]);
	have_b = version(&b, parts[1]);
	if (have_a && have_b) {
		udfenv_buf fa = UDFENV_BUF_INIT, fb = UDFENV_BUF_INIT;
		int ab = udfenv_version_cmp(&a, &b), ba = udfenv_version_cmp(&b, &a);
		FUZZ_CHECK(sign(ab) == -sign(ba), "cmp('%s', '%s') = %d but the reverse is %d", parts[0],
			   parts[1], ab, ba);
		udfenv_version_format(&fa, &a);
		udfenv_version_format(&fb, &b);
		FUZZ_CHECK(strcmp(fa.ptr, fb.ptr) != 0 || ab == 0, "'%s' and '%s' both format as '%s' but cmp %d",
			   parts[0], parts[1], fa.ptr, ab);
		udfenv_buf_dispose(&fa);
		udfenv_buf_dispose(&fb);
	}
	specifiers(parts[2], have_a ? &a : NULL, parts[0], have_b ? &b : NULL, parts[1]);
	name(parts[3]);
	udfenv_version_dispose(&a);
	udfenv_version_dispose(&b);
	fuzz_parts_free(parts, 4);
	return 0;
}
