/*
 * PEP 440 versions and specifier sets, PEP 508 requirements and markers.
 * Expectations follow packaging's own test suite (tests/test_version.py,
 * test_specifiers.py, test_markers.py, test_requirements.py).
 */
#include <stdint.h>

#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/pep440.h"
#include "lib/pep508.h"
#include "udfenv/common.h"

static char *repeat(const char *unit, size_t times, const char *tail)
{
	size_t ulen = strlen(unit), tlen = strlen(tail);
	char *s = malloc(ulen * times + tlen + 1);
	assert_non_null(s);
	for (size_t i = 0; i < times; i++)
		memcpy(s + i * ulen, unit, ulen);
	memcpy(s + ulen * times, tail, tlen + 1);
	return s;
}

/* ---- project names ---- */

static void test_pep503_names(void **state)
{
	static const char *const invalid[] = {"", "-foo", "foo_", "f o", "foo!", "f\xc3\xa9"};
	static const char *const lenient[][2] = {
	    {"Foo__Bar.baz", "foo-bar-baz"}, {"", ""}, {"-Foo..Bar_", "-foo-bar-"}, {"a b", "a b"},
	    {"T\xc3\x89ST", "t\xc3\x89st"},
	};
	udfenv_buf b = UDFENV_BUF_INIT;
	(void)state;

	assert_int_equal(udfenv_pep503_normalize(&b, "Foo__Bar.-baz9", 14), 0);
	assert_string_equal(b.ptr, "foo-bar-baz9");
	assert_int_equal(udfenv_pep503_normalize(&b, "Foo_Bar-ignored", 7), 0);
	assert_string_equal(b.ptr, "foo-bar");
	for (size_t i = 0; i < sizeof(invalid) / sizeof(*invalid); i++) {
		tu_assert_error(udfenv_pep503_normalize(&b, invalid[i], strlen(invalid[i])),
		             UDFENV_EINVALID, "is not a valid project name");
		assert_int_equal(b.size, 0);
	}
	for (size_t i = 0; i < sizeof(lenient) / sizeof(*lenient); i++) {
		assert_int_equal(
		    udfenv_pep503_canonicalize(&b, lenient[i][0], strlen(lenient[i][0])), 0);
		assert_non_null(b.ptr);
		assert_string_equal(b.ptr, lenient[i][1]);
	}
	udfenv_buf_dispose(&b);
}

/* ---- versions ---- */

static void assert_normalizes(const char *text, const char *want)
{
	udfenv_pep440_version v = UDFENV_VERSION_INIT;
	udfenv_buf b = UDFENV_BUF_INIT;
	if (udfenv_version_parse(&v, text) != 0)
		fail_msg("'%s' did not parse: %s", text, udfenv_error_last()->message);
	assert_int_equal(udfenv_version_format(&b, &v), 0);
	if (strcmp(udfenv_buf_cstr(&b), want) != 0)
		fail_msg("'%s' normalized to '%s', not '%s'", text, udfenv_buf_cstr(&b), want);
	udfenv_buf_dispose(&b);
	udfenv_version_dispose(&v);
}

static void test_version_normalization(void **state)
{
	static const char *const cases[][2] = {
	    /* The brief's examples. */
	    {"1.0-1", "1.0.post1"},
	    {"v1.0RC1", "1.0rc1"},
	    {"1.0.DEV", "1.0.dev0"},
	    {"1!1.0", "1!1.0"},
	    {"1.0+ubuntu-1", "1.0+ubuntu.1"},
	    /* Development releases. */
	    {"1.0dev", "1.0.dev0"},
	    {"1.0dev1", "1.0.dev1"},
	    {"1.0-dev", "1.0.dev0"},
	    {"1.0-DEV1", "1.0.dev1"},
	    {"1.0-dev-1", "1.0.dev1"},
	    /* Pre-releases, every spelling. */
	    {"1.0a", "1.0a0"},
	    {"1.0.a", "1.0a0"},
	    {"1.0-a1", "1.0a1"},
	    {"1.0_a_1", "1.0a1"},
	    {"1.0alpha", "1.0a0"},
	    {"1.0.ALPHA1", "1.0a1"},
	    {"1.0b", "1.0b0"},
	    {"1.0-beta1", "1.0b1"},
	    {"1.0.B", "1.0b0"},
	    {"1.0c", "1.0rc0"},
	    {"1.0.C1", "1.0rc1"},
	    {"1.0-RC", "1.0rc0"},
	    {"1.0pre2", "1.0rc2"},
	    {"1.0.preview", "1.0rc0"},
	    {"1.a1", "1a1"},
	    {"1.0.0-beta.1", "1.0.0b1"},
	    /* Post-releases. */
	    {"1.0post", "1.0.post0"},
	    {"1.0.post", "1.0.post0"},
	    {"1.0-POST1", "1.0.post1"},
	    {"1.0r", "1.0.post0"},
	    {"1.0rev", "1.0.post0"},
	    {"1.0.r1", "1.0.post1"},
	    {"1.0-rev5", "1.0.post5"},
	    {"1.0-5", "1.0.post5"},
	    /* A separator without its number is allowed by PEP 440's pattern. */
	    {"1.0a-", "1.0a0"},
	    {"1.0a--1", "1.0a0.post1"},
	    {"1.0.post.", "1.0.post0"},
	    {"1.0-beta-", "1.0b0"},
	    /* Integers and epochs. */
	    {"1.01", "1.1"},
	    {"1.0a05", "1.0a5"},
	    {"1.0c056", "1.0rc56"},
	    {"1.0.post000", "1.0.post0"},
	    {"1.1.dev09000", "1.1.dev9000"},
	    {"00!1.2", "1.2"},
	    {"0100!0.0", "100!0.0"},
	    {"2022.01.01", "2022.1.1"},
	    {"000000000000000000000000000001", "1"},
	    {"9223372036854775807", "9223372036854775807"},
	    /* Local labels. */
	    {"1.0+AbC", "1.0+abc"},
	    {"1.0+00.a", "1.0+0.a"},
	    {"1.0+ubuntu_01.X", "1.0+ubuntu.1.x"},
	    {"1.0+123456789012345678901234567890", "1.0+123456789012345678901234567890"},
	    /* Everything at once, and whitespace. */
	    {"1!2.0rc1.post3.dev4+abc.5", "1!2.0rc1.post3.dev4+abc.5"},
	    {"1.0A1.POST2.DEV3", "1.0a1.post2.dev3"},
	    {"v1.0", "1.0"},
	    {"   v1.0\t\n", "1.0"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++)
		assert_normalizes(cases[i][0], cases[i][1]);
}

static void test_version_fields(void **state)
{
	udfenv_pep440_version v = UDFENV_VERSION_INIT, copy = UDFENV_VERSION_INIT;
	udfenv_buf b = UDFENV_BUF_INIT;
	(void)state;
	assert_int_equal(udfenv_version_parse(&v, "1!2.0RC1.post3.dev4+ABC-05"), 0);
	assert_int_equal(v.epoch, 1);
	assert_int_equal(v.nrelease, 2);
	assert_int_equal(v.release[0], 2);
	assert_int_equal(v.release[1], 0);
	assert_int_equal(v.pre_kind, 'c');
	assert_int_equal(v.pre, 1);
	assert_true(v.has_post);
	assert_int_equal(v.post, 3);
	assert_true(v.has_dev);
	assert_int_equal(v.dev, 4);
	assert_string_equal(v.local, "abc.5");
	assert_true(udfenv_version_is_prerelease(&v));
	/* format appends */
	assert_int_equal(udfenv_buf_puts(&b, "v="), 0);
	assert_int_equal(udfenv_version_format(&b, &v), 0);
	assert_string_equal(udfenv_buf_cstr(&b), "v=1!2.0rc1.post3.dev4+abc.5");
	udfenv_buf_dispose(&b);

	assert_int_equal(udfenv_version_copy(&copy, &v), 0);
	udfenv_version_dispose(&v);
	assert_null(v.release);
	assert_int_equal(copy.release[0], 2);
	assert_string_equal(copy.local, "abc.5");
	udfenv_version_dispose(&copy);
	udfenv_version_dispose(&copy); /* disposing twice is harmless */

	assert_int_equal(udfenv_version_parse(&v, "3"), 0);
	assert_int_equal(v.nrelease, 1);
	assert_int_equal(v.pre_kind, 0);
	assert_false(v.has_post || v.has_dev);
	assert_null(v.local);
	udfenv_version_dispose(&v);
}

static void test_version_invalid(void **state)
{
	static const char *const cases[] = {
	    "french toast",
	    "1.0+",
	    "1.0+a+",
	    "1.0++",
	    "1.0+_foobar",
	    "1.0+foo&asd",
	    "1.0+1+1",
	    "1.0+abc-",
	    "1. 0",
	    "1 .0",
	    "1.0 a1",
	    "1.0a 1",
	    ".",
	    "..",
	    "1..0",
	    "1.0.",
	    ".1.0",
	    "1..2.3",
	    "",
	    "   ",
	    "v",
	    "vv1.0",
	    "1.0-",
	    "1!",
	    "!1.0",
	    "1!2!3",
	    "1.0.x",
	    "1.0a1b1",
	    "1.0.post1.post2",
	    "1.0.dev1a1",
	    "1.0.dev1.post1",
	    "1.0\n1",
	    "1.0+\xc4\xb0",              /* a non-ASCII letter in the local label */
	    "\xd9\xa0\xd9\xa1.\xd9\xa2", /* Arabic-Indic digits */
	};
	udfenv_pep440_version v = UDFENV_VERSION_INIT;
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		int rc = udfenv_version_parse(&v, cases[i]);
		if (rc != UDFENV_EINVALID)
			fail_msg("'%s' parsed (%d)", cases[i], rc);
		tu_assert_error(rc, UDFENV_EINVALID, "is not a valid version (PEP 440)");
		assert_null(v.release);
	}
	tu_assert_error(udfenv_version_parse(&v, "french toast"), UDFENV_EINVALID,
	             "'french toast' is not a valid version (PEP 440)");
	tu_assert_error(udfenv_version_parse(&v, "1.0+a_"), UDFENV_EINVALID, "local label");
	/* Messages stay on one line whatever the input holds. */
	tu_assert_error(udfenv_version_parse(&v, "1.0\nx"), UDFENV_EINVALID, "'1.0?x'");
	tu_assert_error(udfenv_version_parse(&v, NULL), UDFENV_EINVALID, "no version");
}

static void test_version_limits(void **state)
{
	static const char *const too_big[] = {
	    "9223372036854775808",          "1.9223372036854775808",
	    "9223372036854775808!1.0",      "1.0a9223372036854775808",
	    "1.0.post99999999999999999999", "1.0.dev18446744073709551616",
	};
	udfenv_pep440_version v = UDFENV_VERSION_INIT;
	char *s;
	(void)state;
	for (size_t i = 0; i < sizeof(too_big) / sizeof(*too_big); i++)
		tu_assert_error(udfenv_version_parse(&v, too_big[i]), UDFENV_EINVALID,
		             "larger than 2^63-1");

	/* Hostile but valid: 32768 release numbers in 65535 bytes. */
	s = repeat("1.", 32767, "1");
	assert_int_equal(udfenv_version_parse(&v, s), 0);
	assert_int_equal(v.nrelease, 32768);
	udfenv_version_dispose(&v);
	free(s);

	s = repeat("1", 70000, "");
	tu_assert_error(udfenv_version_parse(&v, s), UDFENV_EINVALID, "longer than 65536 bytes");
	free(s);
}

/* packaging's tests/test_version.py VERSIONS: this list is in order. */
static const char *const ordered_versions[] = {
    "1.0.dev0",
    "1.0.dev456",
    "1.0.dev456+local",
    "1.0a0",
    "1.0a0.post0.dev0",
    "1.0a0.post0",
    "1.0a1.dev1",
    "1.0a1.dev1+local",
    "1.0a1",
    "1.0a1+local",
    "1.0b0",
    "1.0b1.dev456",
    "1.0b2",
    "1.0b2.post345.dev456",
    "1.0b2.post345",
    "1.0b2-346",
    "1.0rc0",
    "1.0rc1.dev1",
    "1.0c1",
    "1.0rc2",
    "1.0",
    "1.0.post0.dev0",
    "1.0.post0",
    "1.0.post456.dev34",
    "1.0.post456",
    "1.0.post456+local",
    "1.0.1.dev1",
    "1.0.1a1",
    "1.0.1",
    "1.0.1+local",
    "1.0.1.post1",
    "1.1.dev1",
    "1.2+a",
    "1.2+abc",
    "1.2+abcdef",
    "1.2+def",
    "1.2+0",
    "1.2+1",
    "1.2+1.abc",
    "1.2+1.1",
    "1.2+1.1.0",
    "1.2+2",
    "1.2+123",
    "1.2+123456",
    "1.2.r32+123456",
    "1.2.rev33+123456",
    "1!1.0.dev0",
    "1!1.0.dev456",
    "1!1.0.dev456+local",
    "1!1.0a0",
    "1!1.0a0.post0.dev0",
    "1!1.0a0.post0",
    "1!1.0a1.dev1",
    "1!1.0a1.dev1+local",
    "1!1.0a1",
    "1!1.0a1+local",
    "1!1.0b0",
    "1!1.0b1.dev456",
    "1!1.0b2",
    "1!1.0b2.post345.dev456",
    "1!1.0b2.post345",
    "1!1.0b2-346",
    "1!1.0rc0",
    "1!1.0rc1.dev1",
    "1!1.0c1",
    "1!1.0rc2",
    "1!1.0",
    "1!1.0.post0.dev0",
    "1!1.0.post0",
    "1!1.0.post456.dev34",
    "1!1.0.post456",
    "1!1.0.post456+local",
    "1!1.0.1.dev1",
    "1!1.0.1a1",
    "1!1.0.1",
    "1!1.0.1+local",
    "1!1.0.1.post1",
    "1!1.1.dev1",
    "1!1.2+a",
    "1!1.2+abc",
    "1!1.2+abcdef",
    "1!1.2+def",
    "1!1.2+0",
    "1!1.2+1",
    "1!1.2+1.abc",
    "1!1.2+1.1",
    "1!1.2+1.1.0",
    "1!1.2+2",
    "1!1.2+123",
    "1!1.2+123456",
    "1!1.2.r32+123456",
    "1!1.2.rev33+123456",
};

#define NORDERED (sizeof(ordered_versions) / sizeof(*ordered_versions))

static int cmp_text(const char *a, const char *b)
{
	udfenv_pep440_version va = UDFENV_VERSION_INIT, vb = UDFENV_VERSION_INIT;
	int r;
	assert_int_equal(udfenv_version_parse(&va, a), 0);
	assert_int_equal(udfenv_version_parse(&vb, b), 0);
	r = udfenv_version_cmp(&va, &vb);
	udfenv_version_dispose(&va);
	udfenv_version_dispose(&vb);
	return r;
}

static void test_version_ordering(void **state)
{
	udfenv_pep440_version *vs = calloc(NORDERED, sizeof(*vs));
	static const char *const equal[][2] = {
	    {"1.0", "1.0.0"},    {"1", "1.0.0.0"},
	    {"1.0rc1", "1.0c1"}, {"1.0+AbC", "1.0+abc"},
	    {"0!1.0", "1.0"},    {"1.0-1", "1.0.post1"},
	    {"1.0a", "1.0a0"},   {"1.0+deadbeef.0", "1.0+deadbeef.00"},
	};
	(void)state;
	assert_non_null(vs);
	for (size_t i = 0; i < NORDERED; i++)
		assert_int_equal(udfenv_version_parse(&vs[i], ordered_versions[i]), 0);
	for (size_t i = 0; i < NORDERED; i++) {
		for (size_t j = 0; j < NORDERED; j++) {
			int r = udfenv_version_cmp(&vs[i], &vs[j]);
			int want = i < j ? -1 : i > j;
			if ((r > 0) - (r < 0) != want)
				fail_msg("cmp('%s', '%s') = %d", ordered_versions[i],
				         ordered_versions[j], r);
		}
	}
	for (size_t i = 0; i < NORDERED; i++)
		udfenv_version_dispose(&vs[i]);
	free(vs);

	for (size_t i = 0; i < sizeof(equal) / sizeof(*equal); i++)
		assert_int_equal(cmp_text(equal[i][0], equal[i][1]), 0);
	assert_true(cmp_text("1.10", "1.9") > 0); /* numbers, not strings */
	assert_true(cmp_text("1.0+local", "1.0") > 0);
	assert_true(cmp_text("1.0+0", "1.0+zzz") > 0);
	assert_true(cmp_text("1.0+09", "1.0+10") < 0);
	assert_true(cmp_text("2!0.1", "1!9.9") > 0);
	assert_true(cmp_text("1.0.dev1", "1.0a1.dev1") < 0);
	assert_true(cmp_text("9223372036854775807", "9223372036854775806") > 0);
}

static void test_version_prerelease(void **state)
{
	static const struct {
		const char *text;
		int pre;
	} cases[] = {
	    {"1.0a1", 1}, {"1.0.dev0", 1},  {"1.0.post1.dev1", 1}, {"1.0rc1.post1", 1},
	    {"1.0", 0},   {"1.0.post1", 0}, {"1.0+dev", 0},        {"1!2", 0},
	};
	udfenv_pep440_version v = UDFENV_VERSION_INIT;
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		assert_int_equal(udfenv_version_parse(&v, cases[i].text), 0);
		if (udfenv_version_is_prerelease(&v) != cases[i].pre)
			fail_msg("is_prerelease('%s') != %d", cases[i].text, cases[i].pre);
		udfenv_version_dispose(&v);
	}
}

/* ---- specifier sets ---- */

static void assert_spec_format(const char *text, const char *want)
{
	udfenv_specset *s = NULL;
	udfenv_buf b = UDFENV_BUF_INIT;
	if (udfenv_specset_parse(&s, text) != 0)
		fail_msg("'%s' did not parse: %s", text, udfenv_error_last()->message);
	assert_int_equal(udfenv_specset_format(&b, s), 0);
	if (strcmp(udfenv_buf_cstr(&b), want) != 0)
		fail_msg("'%s' formatted as '%s', not '%s'", text, udfenv_buf_cstr(&b), want);
	udfenv_buf_dispose(&b);
	udfenv_specset_free(s);
}

static void test_specset_format(void **state)
{
	static const char *const cases[][2] = {
	    {">=1.0", ">=1.0"},
	    {"< 2", "<2"},
	    {"~=2.0", "~=2.0"},
	    {"==2.1.*", "==2.1.*"},
	    {"!= 2.2.*", "!=2.2.*"},
	    {"==2.1.0.3", "==2.1.0.3"},
	    {"==1.0.0+Local-01", "==1.0.0+local.1"},
	    {">=7.9A1", ">=7.9a1"},
	    {"<1.0.dev1", "<1.0.dev1"},
	    {">2.0-1", ">2.0.post1"},
	    {"~=1.0-dev", "~=1.0.dev0"},
	    {"==v1.0", "==1.0"},
	    {"==1!2.*", "==1!2.*"},
	    {"===Foo-Bar", "===Foo-Bar"},
	    {"  >=1.0 , <2.0.POST1  ", ">=1.0,<2.0.post1"},
	    {">1.0,>1.0", ">1.0,>1.0"}, /* input order, duplicates kept */
	    {">=1,,<2,", ">=1,<2"},     /* empty clauses skipped, as packaging */
	    {"", ""},
	    {" \t ", ""},
	    {" , ", ""},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++)
		assert_spec_format(cases[i][0], cases[i][1]);
}

static void test_specset_invalid(void **state)
{
	static const char *const cases[][2] = {
	    {"2.0", "expected an operator"},
	    {"=>2.0", "expected an operator"},
	    {"=2.0", "expected an operator"},
	    {"<>1", "not a valid version"},
	    {"==", "expected a version after '=='"},
	    {"===", "expected a version after '==='"},
	    {"=== foo bar", "=== takes a string without whitespace"},
	    {"~=1.0+5", "local version label"},
	    {">=1.0+deadbeef", "local version label"},
	    {"<=1.0+abc123", "local version label"},
	    {">1.0+watwat", "local version label"},
	    {"<1.0+1.0", "local version label"},
	    {"~=1.0.*", "only allowed with == and !="},
	    {">=1.0.*", "only allowed with == and !="},
	    {"<=1.0.*", "only allowed with == and !="},
	    {">1.0.*", "only allowed with == and !="},
	    {"<1.0.*", "only allowed with == and !="},
	    {"==1.0.*+5", "not a valid version"},
	    {"!=1.0.*+deadbeef", "not a valid version"},
	    {"==2.0a1.*", "'.*' must follow a release number"},
	    {"!=2.0a1.*", "'.*' must follow a release number"},
	    {"==2.0.post1.*", "'.*' must follow a release number"},
	    {"==2.0.dev1.*", "'.*' must follow a release number"},
	    {"==1.0+5.*", "'.*' must follow a release number"},
	    {"==1.0 .*", "'.*' must follow a release number"},
	    {"==.*", "'.*' must follow a release number"},
	    {"==1.0.*.5", "not a valid version"},
	    {"~=1", "at least two release numbers"},
	    {"==1.2+\xc4\xb0", "not a valid version"},
	    {">=1.0 foo", "'1.0 foo' is not a valid version"},
	    {">=9223372036854775808", "larger than 2^63-1"},
	};
	udfenv_specset *s = NULL;
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		int rc = udfenv_specset_parse(&s, cases[i][0]);
		if (rc != UDFENV_EINVALID)
			fail_msg("'%s' parsed (%d)", cases[i][0], rc);
		tu_assert_error(rc, UDFENV_EINVALID, cases[i][1]);
		tu_assert_error(rc, UDFENV_EINVALID, "is not a valid version specifier (PEP 440)");
		assert_null(s);
	}
	/* The message names the bad clause, not the whole set. */
	tu_assert_error(udfenv_specset_parse(&s, ">=1.0, foo ,<3"), UDFENV_EINVALID,
	             "'foo' is not a valid version specifier");
}

static int contains(const char *spec, const char *version, int prereleases)
{
	udfenv_specset *s = NULL;
	udfenv_pep440_version v = UDFENV_VERSION_INIT;
	int r;
	if (udfenv_specset_parse(&s, spec) != 0)
		fail_msg("'%s' did not parse: %s", spec, udfenv_error_last()->message);
	if (udfenv_version_parse(&v, version) != 0)
		fail_msg("'%s' did not parse: %s", version, udfenv_error_last()->message);
	r = udfenv_specset_contains(s, &v, version, prereleases);
	udfenv_version_dispose(&v);
	udfenv_specset_free(s);
	return r;
}

typedef struct {
	const char *version, *spec;
	int expected;
} match_case;

static void assert_matches(const match_case *cases, size_t n, int prereleases)
{
	for (size_t i = 0; i < n; i++)
		if (contains(cases[i].spec, cases[i].version, prereleases) != cases[i].expected)
			fail_msg("'%s' in '%s' (prereleases=%d) is not %d", cases[i].version,
			         cases[i].spec, prereleases, cases[i].expected);
}

/* packaging's test_specifiers, with pre-releases allowed. */
static void test_specset_operators(void **state)
{
	static const match_case cases[] = {
	    /* == and !=, locals ignored unless the specifier has one */
	    {"2.0", "==2", 1},
	    {"2.0", "==2.0.0", 1},
	    {"2.0+deadbeef", "==2", 1},
	    {"2.0+deadbeef", "==2.0.0+deadbeef", 1},
	    {"2.0+deadbeef.0", "==2.0.0+deadbeef.00", 1},
	    {"2.1", "==2", 0},
	    {"2.0", "==2.0+deadbeef", 0},
	    {"2.0+other", "==2.0+deadbeef", 0},
	    {"2.1", "!=2", 1},
	    {"2.0", "!=2.0+deadbeef", 1},
	    {"2.0", "!=2", 0},
	    {"2.0+deadbeef", "!=2.0", 0},
	    /* >= and <= ignore the candidate's local label */
	    {"2.0", ">=2", 1},
	    {"2.0.post1", ">=2", 1},
	    {"2.0.post1.dev1", ">=2", 1},
	    {"3.0.0a8", ">=3.0.0a7", 1},
	    {"2.0rc1", ">=2", 0},
	    {"1", ">=2", 0},
	    {"2.0.dev1", "<=2", 1},
	    {"2.0c1.post1.dev1", "<=2", 1},
	    {"2.0+local", "<=2.0", 1},
	    {"2.0.post1", "<=2", 0},
	    {"3", "<=2", 0},
	    /* > */
	    {"3", ">2", 1},
	    {"2.0.1", ">2", 1},
	    {"2.1.post1", ">2", 1},
	    {"2.1+local.version", ">2", 1},
	    {"2.0.5", ">2.0dev", 1},
	    {"1", ">2", 0},
	    {"2.0", ">2", 0},
	    {"2.0rc1", ">2", 0},
	    /* < */
	    {"1", "<2", 1},
	    {"2.0.dev0", "<2.1", 1},
	    {"3.0.0a7", "<3.0.0a8", 1},
	    {"2.0", "<2", 0},
	    {"3", "<2", 0},
	    /* epochs */
	    {"2!1.0", "==2!1.0", 1},
	    {"2!1.0", "!=1.0", 1},
	    {"1.0", "<=2!0.1", 1},
	    {"2!1.0", ">2.0", 1},
	    {"2!1.0", "==1.0", 0},
	    {"1.0", "==2!1.0", 0},
	    {"2!1.0", "!=2!1.0", 0},
	    /* every clause must hold */
	    {"1.5", ">=1.0,<2,!=1.4", 1},
	    {"1.4", ">=1.0,<2,!=1.4", 0},
	    {"2.0", ">=1.0,<2,!=1.4", 0},
	};
	(void)state;
	assert_matches(cases, sizeof(cases) / sizeof(*cases), 1);
}

/* PEP 440's exclusive ordered comparisons, as the current packaging reads them. */
static void test_specset_exclusive(void **state)
{
	static const match_case cases[] = {
	    /* >V: no post-release of V unless V is one */
	    {"1.0.post1", ">1.0", 0},
	    {"1.0.post0.dev0", ">1.0", 0},
	    {"2.0.post1.dev1", ">2", 0},
	    {"1.0.post2", ">1.0.post1", 1},
	    {"2.0.post0", ">1.0", 1},
	    {"0.9.post0", ">1.0", 0},
	    {"1.0a1.post0", ">1.0a1", 0},
	    {"1.0.post0", ">1.0a1", 1}, /* a post of 1.0, not of 1.0a1 */
	    {"1.0a2.post0", ">1.0a1", 1},
	    {"1.0.post0", ">1.0.dev1", 1}, /* nothing is a post of a dev */
	    {"1.0.dev2", ">1.0.dev1", 1},
	    /* >V: no local version of V */
	    {"2.0+local.version", ">2", 0},
	    {"1.0a1+local", ">1.0a1", 0},
	    {"1.0.post1+local", ">1.0.post1", 0},
	    {"4.1.0a2.dev1234+local", ">4.1.0a2.dev1234", 0},
	    {"1.0+local", ">1.0.dev1", 1},
	    {"1.0a2+local", ">1.0a1", 1},
	    {"1.0.post2+local", ">1.0.post1", 1},
	    /* <V: no pre-release of V unless V is one */
	    {"2.0.dev1", "<2", 0},
	    {"2.0a1", "<2", 0},
	    {"2.0a1.post1", "<2", 0},
	    {"2.0b2.dev1", "<2", 0},
	    {"2.0c1.post1.dev1", "<2", 0},
	    {"1.9a1", "<2", 1},
	    {"2.0a1", "<2.0a2", 1},
	    {"2.0.dev1", "<2.0.dev5", 1},
	    {"1.0.post1.dev0", "<1.0.post1", 0},
	    {"1.0a1", "<1.0.post1", 1}, /* a pre of 1.0, not of 1.0.post1 */
	    {"1.0.dev0", "<1.0.post0", 1},
	    {"1.0.post0.dev0", "<1.0.post1", 1},
	    {"1.0", "<1.0.post1", 1},
	    {"1.0+local", "<1.0.post1", 1},
	};
	(void)state;
	assert_matches(cases, sizeof(cases) / sizeof(*cases), 1);
}

static void test_specset_compatible_and_wildcards(void **state)
{
	static const match_case cases[] = {
	    /* ~=V is >=V plus == on V's release without its last number */
	    {"1", "~=1.0", 1},
	    {"1.0.1", "~=1.0", 1},
	    {"1.1", "~=1.0", 1},
	    {"1.9999999", "~=1.0", 1},
	    {"1.0.post1", "~=1.0", 1},
	    {"1.0+local", "~=1.0", 1},
	    {"2.0", "~=1.0", 0},
	    {"0.9", "~=1.0", 0},
	    {"1.4.5", "~=1.4.5", 1},
	    {"1.4.9", "~=1.4.5", 1},
	    {"1.4.4", "~=1.4.5", 0},
	    {"1.5.0", "~=1.4.5", 0},
	    {"1.1.0", "~=1.0.0", 0},
	    {"1.1.post1", "~=1.0.0", 0},
	    {"1.1", "~=1.0a1", 1},
	    {"1.0a2", "~=1.0a1", 1},
	    {"2022.01.01", "~=2022.01.01", 1},
	    {"2!1.0", "~=2!1.0", 1},
	    {"1.0", "~=2!1.0", 0},
	    {"2!1.0", "~=1.0", 0},
	    /* ==V.* matches by release prefix, numbers compared as numbers */
	    {"2.dev1", "==2.*", 1},
	    {"2a1.post1", "==2.*", 1},
	    {"2c1.post1.dev1", "==2.0.*", 1},
	    {"2rc1", "==2.0.*", 1},
	    {"2", "==2.0.0.*", 1},
	    {"0!2", "==2.*", 1},
	    {"2.0.0.0", "==2.0.*", 1},
	    {"2.1+local.version", "==2.1.*", 1},
	    {"2!1.0.0", "==2!1.0.0.0.*", 1},
	    {"2.0", "==3.*", 0},
	    {"2.1", "==2.0.*", 0},
	    {"2.1.0.0", "==2.0.*", 0},
	    {"1.10", "==1.1.*", 0},
	    {"2!1.0", "==1.*", 0},
	    {"1.0", "==2!1.*", 0},
	    {"2.0", "!=3.*", 1},
	    {"2.1.0.0", "!=2.0.*", 1},
	    {"2.0.0.0", "!=2.0.*", 0},
	    {"2rc1", "!=2.*", 0},
	};
	(void)state;
	assert_matches(cases, sizeof(cases) / sizeof(*cases), 1);
}

static void test_specset_prereleases(void **state)
{
	static const match_case without[] = {
	    {"2.0.dev1", ">=1.0", 0},   /* the set names no pre-release */
	    {"2.0a1", ">=2.0.dev1", 1}, /* it names one */
	    {"1.5a1", ">=1.0,<2.0.dev5", 1},
	    {"0.9.dev1", "<1.0.dev1", 1},
	    {"1.1.dev1", ">1.0.dev1", 1},
	    {"1.0a1", "~=1.0a1", 1},
	    {"1.0a1", "==1.0a1", 1},
	    {"2.0.dev1", "==2.0.*", 0}, /* a wildcard's release is final */
	    {"2.0a1", "==2.*", 0},
	    {"0.9a1", "!=1.0.dev1", 0}, /* != does not count */
	    {"1.0a1", "", 0},
	    {"1.0", "", 1},
	    {"1.0.post1", ">=1.0", 1}, /* post-releases are not pre-releases */
	    {"1.0a1", "===1.0a1", 1},
	};
	static const match_case with[] = {
	    {"2.0.dev1", ">=1.0", 1},
	    {"2.0.dev1", "==2.0.*", 1},
	    {"1.0a1", "", 1},
	    {"0.9a1", "!=1.0.dev1", 1},
	};
	(void)state;
	assert_matches(without, sizeof(without) / sizeof(*without), 0);
	assert_matches(with, sizeof(with) / sizeof(*with), 1);
}

static void test_specset_arbitrary(void **state)
{
	static const match_case cases[] = {
	    {"1.0", "===1.0", 1},
	    {"1.0.0", "===1.0", 0},
	    {"1.0+downstream1", "===1.0", 0},
	    {"1.0", "===1.0+downstream1", 0},
	    {"1.0A1", "===1.0a1", 1},
	    {"1.0+ABC.DEF", "===1.0+abc.def", 1},
	    {"1.01", "===1.01", 1},
	    {"1.01", "===1.1", 0}, /* the text as written, not normalized */
	    {"1.0-1", "===1.0.post1", 0},
	    {" 1.0 ", "===1.0", 1},
	};
	udfenv_specset *s = NULL;
	udfenv_pep440_version v = UDFENV_VERSION_INIT;
	(void)state;
	assert_matches(cases, sizeof(cases) / sizeof(*cases), 1);

	/* Without the text, the normalized version stands in. */
	assert_int_equal(udfenv_version_parse(&v, "1.01"), 0);
	assert_int_equal(udfenv_specset_parse(&s, "===1.1"), 0);
	assert_int_equal(udfenv_specset_contains(s, &v, NULL, 0), 1);
	/* A candidate that is no PEP 440 version matches === only. */
	assert_int_equal(udfenv_specset_contains(s, NULL, "1.1", 0), 1);
	udfenv_specset_free(s);
	assert_int_equal(udfenv_specset_parse(&s, "===FooBar, ===foobar"), 0);
	assert_int_equal(udfenv_specset_contains(s, NULL, "foobar", 0), 1);
	assert_int_equal(udfenv_specset_contains(s, NULL, "baz", 0), 0);
	assert_int_equal(udfenv_specset_contains(s, NULL, NULL, 0), 0);
	udfenv_specset_free(s);
	assert_int_equal(udfenv_specset_parse(&s, "===foobar,>=1"), 0);
	assert_int_equal(udfenv_specset_contains(s, NULL, "foobar", 1), 0);
	udfenv_specset_free(s);
	assert_int_equal(udfenv_specset_parse(&s, ""), 0);
	assert_int_equal(udfenv_specset_contains(s, NULL, "foobar", 1), 0);
	assert_int_equal(udfenv_specset_contains(s, &v, NULL, 0), 1);
	udfenv_specset_free(s);
	udfenv_version_dispose(&v);
}

static void test_specset_is_pin(void **state)
{
	static const struct {
		const char *spec;
		int pin;
	} cases[] = {
	    {"==1.0", 1}, {" == 1.0+local ", 1}, {"===foo", 1},   {"==1.0.*", 0}, {">=1.0", 0},
	    {"~=1.0", 0}, {"==1.0,==1.0", 0},    {"==1.0,<2", 0}, {"", 0},        {"!=1.0", 0},
	};
	udfenv_specset *s = NULL;
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		assert_int_equal(udfenv_specset_parse(&s, cases[i].spec), 0);
		if (udfenv_specset_is_pin(s) != cases[i].pin)
			fail_msg("is_pin('%s') != %d", cases[i].spec, cases[i].pin);
		udfenv_specset_free(s);
	}
	udfenv_specset_free(NULL);
}

/* ---- markers ---- */

static const udfenv_marker_env py38 = {
    .os_name = "posix",
    .sys_platform = "linux",
    .platform_machine = "x86_64",
    .platform_python_implementation = "CPython",
    .platform_release = "5.15.0-91-generic",
    .platform_system = "Linux",
    .platform_version = "#101-Ubuntu SMP",
    .python_version = "3.8",
    .python_full_version = "3.8.10",
    .implementation_name = "cpython",
    .implementation_version = "3.8.10",
};

static const udfenv_marker_env py312 = {
    .os_name = "posix",
    .sys_platform = "linux",
    .platform_machine = "x86_64",
    .python_version = "3.12",
    .python_full_version = "3.12.1",
    .implementation_name = "cpython",
};

static const udfenv_marker_env py313rc = {
    .python_version = "3.13",
    .python_full_version = "3.13.0rc1",
};

static int eval_marker(const char *text, const udfenv_marker_env *env, const char *extra)
{
	udfenv_marker *m = NULL;
	int r = -1;
	if (udfenv_marker_parse(&m, text) != 0)
		fail_msg("'%s' did not parse: %s", text, udfenv_error_last()->message);
	if (udfenv_marker_eval(m, env, extra, &r) != 0)
		fail_msg("'%s' did not evaluate: %s", text, udfenv_error_last()->message);
	udfenv_marker_free(m);
	return r;
}

typedef struct {
	const char *marker;
	const udfenv_marker_env *env;
	const char *extra;
	int expected;
} marker_case;

static void assert_markers(const marker_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (eval_marker(cases[i].marker, cases[i].env, cases[i].extra) != cases[i].expected)
			fail_msg("marker '%s' (case %zu) is not %d", cases[i].marker, i,
			         cases[i].expected);
}

static void test_marker_eval(void **state)
{
	static const marker_case cases[] = {
	    /* Versions compare as versions: "3.12" > "3.9" */
	    {"python_version >= \"3.8\"", &py38, NULL, 1},
	    {"python_version >= '3.8'", &py312, NULL, 1},
	    {"python_version < '3.9'", &py38, NULL, 1},
	    {"python_version < '3.9'", &py312, NULL, 0},
	    {"python_version == '3.8.0'", &py38, NULL, 1},
	    {"python_full_version == '3.8.*'", &py38, NULL, 1},
	    {"python_full_version ~= '3.8.0'", &py38, NULL, 1},
	    {"python_full_version ~= '3.8.0'", &py312, NULL, 0},
	    {"python_version>'3.10'", &py312, NULL, 1},
	    /* The variable on the right: "OP env" applied to the literal */
	    {"'3.8' <= python_version", &py38, NULL, 1},
	    {"'3.9' > python_version", &py38, NULL, 1},
	    {"'3.9' > python_version", &py312, NULL, 0},
	    /* Markers take pre-releases */
	    {"python_full_version >= '3.12'", &py313rc, NULL, 1},
	    {"python_full_version >= '3.13'", &py313rc, NULL, 0},
	    /* Strings */
	    {"sys_platform == 'linux'", &py38, NULL, 1},
	    {"sys_platform == \"win32\"", &py38, NULL, 0},
	    {"os_name != 'nt'", &py38, NULL, 1},
	    {"platform_python_implementation === 'cpython'", &py38, NULL, 1},
	    {"platform_machine in 'x86_64 aarch64'", &py38, NULL, 1},
	    {"'86' in platform_machine", &py38, NULL, 1},
	    {"'arm' in platform_machine", &py38, NULL, 0},
	    {"platform_machine not in 'arm64 aarch64'", &py38, NULL, 1},
	    {"platform_machine not in 'x86_64'", &py38, NULL, 0},
	    /* Not a version: Python's string order ("5.15..." < "5.2") */
	    {"platform_release < '5.2'", &py38, NULL, 1},
	    {"os_name < 'z'", &py38, NULL, 1},
	    {"'abc' >= 'abd'", NULL, NULL, 0},
	    {"'1.0' == '1.0.0'", NULL, NULL, 1},
	    {"'a' == 'a'", NULL, NULL, 1},
	    {"python_version == python_version", &py38, NULL, 1},
	    {"platform_system == 'Linux' and platform_version != ''", &py38, NULL, 1},
	    /* NULL fields and a NULL env read as "" */
	    {"platform_system == ''", &py312, NULL, 1},
	    {"os_name == ''", NULL, NULL, 1},
	};
	(void)state;
	assert_markers(cases, sizeof(cases) / sizeof(*cases));
}

static void test_marker_logic(void **state)
{
	static const marker_case cases[] = {
	    {"implementation_name == 'cpython' and python_version < '3.10'", &py38, NULL, 1},
	    {"implementation_name == 'cpython' and python_version < '3.10'", &py312, NULL, 0},
	    /* "and" binds tighter than "or" */
	    {"os_name == 'nt' and python_version < '3' or sys_platform == 'linux'", &py38, NULL, 1},
	    {"sys_platform == 'linux' or os_name == 'nt' and python_version < '3'", &py38, NULL, 1},
	    {"(sys_platform == 'linux' or os_name == 'nt') and python_version < '3'", &py38, NULL,
	     0},
	    {"os_name == 'nt' or os_name == 'java' or os_name == 'posix'", &py38, NULL, 1},
	    {"os_name == 'nt' or os_name == 'java' or os_name == 'os2'", &py38, NULL, 0},
	    {"((( os_name == 'posix' )))", &py38, NULL, 1},
	    {"(os_name=='posix')and(python_version>='3')", &py38, NULL, 1},
	    {"os_name=='posix'or'x'=='y'", &py38, NULL, 1},
	};
	(void)state;
	assert_markers(cases, sizeof(cases) / sizeof(*cases));
}

static void test_marker_extra(void **state)
{
	static const marker_case cases[] = {
	    {"extra == 'test'", &py38, NULL, 0},
	    {"extra == 'test'", &py38, "", 0},
	    {"extra != 'test'", &py38, NULL, 1},
	    {"extra == 'test'", &py38, "test", 1},
	    {"extra == 'test'", &py38, "other", 0},
	    {"extra == 'test-suite'", &py38, "Test_Suite", 1}, /* PEP 685 */
	    {"'TEST..suite' == extra", &py38, "test-suite", 1},
	    {"python_version >= '3.8' and extra == 'socks'", &py38, "socks", 1},
	    {"python_version >= '3.9' and extra == 'socks'", &py38, "socks", 0},
	    {"extra == 'socks' or extra == 'http2'", &py38, "http2", 1},
	};
	(void)state;
	assert_markers(cases, sizeof(cases) / sizeof(*cases));
}

static void test_marker_errors(void **state)
{
	static const char *const cases[][2] = {
	    {"", "expected a marker variable or quoted string at column 1"},
	    {"python_version >=", "expected a marker variable or quoted string at column 18"},
	    {"python_ver >= '3'", "unknown marker variable 'python_ver' at column 1"},
	    {"os.name == 'posix'", "unknown marker variable 'os.name'"},
	    {"python_implementation == 'CPython'", "unknown marker variable"},
	    {"python_version = '3'", "expected a marker operator"},
	    {"python_version => '3'", "expected a marker operator"},
	    {"python_version not '3'", "expected 'in' after 'not'"},
	    {"python_version notin '3'", "expected a marker operator"},
	    {"python_version >= \"3.8", "unterminated string at column 19"},
	    {"python_version >= '3.8' and",
	     "expected a marker variable or quoted string at column 28"},
	    {"(python_version >= '3.8'", "expected ')' to close the '(' of column 1 at column 25"},
	    {"python_version >= '3.8')", "unmatched ')' at column 24"},
	    {"python_version >= '3.8' andos_name == 'x'",
	     "expected 'and', 'or' or the end at column 25"},
	    {"os_name == 'a\nb'", "unexpected control character at column 14"},
	};
	udfenv_marker *m = NULL;
	char *deep;
	int r;
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		tu_assert_error(udfenv_marker_parse(&m, cases[i][0]), UDFENV_EINVALID, cases[i][1]);
		tu_assert_error(udfenv_marker_parse(&m, cases[i][0]), UDFENV_EINVALID,
		             "invalid marker '");
		assert_null(m);
	}

	/* ~= has no meaning on strings: an error at evaluation. */
	assert_int_equal(udfenv_marker_parse(&m, "os_name ~= 'posix'"), 0);
	tu_assert_error(udfenv_marker_eval(m, &py38, NULL, &r), UDFENV_EINVALID,
	             "undefined comparison");
	udfenv_marker_free(m);
	/* ... even where "or" would not need it: every comparison is evaluated. */
	assert_int_equal(udfenv_marker_parse(&m, "os_name == 'posix' or os_name ~= 'x'"), 0);
	tu_assert_error(udfenv_marker_eval(m, &py38, NULL, &r), UDFENV_EINVALID,
	             "undefined comparison");
	udfenv_marker_free(m);
	udfenv_marker_free(NULL);

	/* 32 levels of parentheses are fine, 33 are not, 60000 do not blow the stack. */
	{
		char *open = repeat("(", 32, "os_name == 'posix'"), *text;
		size_t len = strlen(open);
		text = malloc(len + 33);
		assert_non_null(text);
		memcpy(text, open, len);
		memset(text + len, ')', 32);
		text[len + 32] = '\0';
		assert_int_equal(eval_marker(text, &py38, NULL), 1);
		free(text);
		free(open);
	}
	deep = repeat("(", 33, "os_name == 'posix'");
	tu_assert_error(udfenv_marker_parse(&m, deep), UDFENV_EINVALID,
	             "nested deeper than 32 at column 33");
	free(deep);
	deep = repeat("(", 60000, "");
	tu_assert_error(udfenv_marker_parse(&m, deep), UDFENV_EINVALID, "nested deeper than 32");
	free(deep);
	deep = repeat("(", 70000, "");
	tu_assert_error(udfenv_marker_parse(&m, deep), UDFENV_EINVALID, "longer than 65536 bytes");
	free(deep);
	/* A long flat chain parses without recursion. */
	deep = repeat("os_name == 'nt' or ", 3000, "os_name == 'posix'");
	assert_int_equal(eval_marker(deep, &py38, NULL), 1);
	free(deep);
}

/* A comparison that falls back to strings leaves udfenv_error_last() as it was. */
static void test_marker_eval_leaves_no_error(void **state)
{
	static const marker_case cases[] = {
	    {"os_name == \"posix\"", &py38, NULL, 1},
	    {"os_name != 'posix'", NULL, NULL, 1},
	    {"platform_release < '5.2'", &py38, NULL, 1}, /* not a version on the left */
	    {"python_version >= 'x'", &py38, NULL, 0},    /* nor on the right */
	    /* Both versions, but no specifier: "<" takes no local label, so strings. */
	    {"python_version < '3.8+local'", &py38, NULL, 1},
	    {"python_full_version == '3.8.*'", &py38, NULL, 1},
	    {"extra == 'test'", &py38, "Test", 1},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		udfenv_error_clear();
		if (eval_marker(cases[i].marker, cases[i].env, cases[i].extra) != cases[i].expected)
			fail_msg("marker '%s' is not %d", cases[i].marker, cases[i].expected);
		if (udfenv_error_last()->code != 0 || udfenv_error_last()->message[0] != '\0')
			fail_msg("marker '%s' left an error behind: %d %s", cases[i].marker,
			         udfenv_error_last()->code, udfenv_error_last()->message);
	}
}

/* The quiet parsers: the same answers, no message for text that does not parse. */
static void test_try_parse(void **state)
{
	udfenv_pep440_version v = UDFENV_VERSION_INIT;
	udfenv_specset *s = NULL;
	udfenv_buf text = UDFENV_BUF_INIT;
	(void)state;

	udfenv_error_clear();
	assert_int_equal(udfenv_version_try_parse(&v, "posix"), UDFENV_EINVALID);
	assert_null(v.release);
	assert_int_equal(udfenv_version_try_parse(&v, NULL), UDFENV_EINVALID);
	assert_int_equal(udfenv_specset_try_parse(&s, "~=3"), UDFENV_EINVALID);
	assert_null(s);
	assert_int_equal(udfenv_specset_try_parse(&s, "<1.0+local"), UDFENV_EINVALID);
	assert_int_equal(udfenv_specset_try_parse(&s, "==posix"), UDFENV_EINVALID);
	assert_int_equal(udfenv_error_last()->code, 0);
	assert_string_equal(udfenv_error_last()->message, "");

	assert_int_equal(udfenv_version_try_parse(&v, " v1.0RC1 "), 0);
	assert_int_equal(v.pre_kind, 'c');
	udfenv_version_dispose(&v);
	assert_int_equal(udfenv_specset_try_parse(&s, ">=1.0, ==1.*"), 0);
	assert_int_equal(udfenv_specset_format(&text, s), 0);
	assert_string_equal(udfenv_buf_cstr(&text), ">=1.0,==1.*");
	udfenv_buf_dispose(&text);
	udfenv_specset_free(s);

	/* The loud ones still say why. */
	tu_assert_error(udfenv_specset_parse(&s, "~=3"), UDFENV_EINVALID, "~= needs a version");
}

/* ---- requirements ---- */

static void assert_spec_text(const udfenv_specset *s, const char *want)
{
	udfenv_buf b = UDFENV_BUF_INIT;
	assert_non_null(s);
	assert_int_equal(udfenv_specset_format(&b, s), 0);
	assert_string_equal(udfenv_buf_cstr(&b), want);
	udfenv_buf_dispose(&b);
}

static void test_requirement_parse(void **state)
{
	udfenv_requirement r = UDFENV_REQUIREMENT_INIT;
	int result;
	(void)state;

	assert_int_equal(
	    udfenv_requirement_parse(&r, "name[ext1, ext2] (>=1.0, <2) ; python_version < '3.9'"),
	    0);
	assert_string_equal(r.name, "name");
	assert_string_equal(r.key, "name");
	assert_int_equal(r.extras.count, 2);
	assert_string_equal(r.extras.items[0], "ext1");
	assert_string_equal(r.extras.items[1], "ext2");
	assert_spec_text(r.spec, ">=1.0,<2");
	assert_null(r.url);
	assert_non_null(r.marker);
	assert_int_equal(udfenv_marker_eval(r.marker, &py38, NULL, &result), 0);
	assert_int_equal(result, 1);
	assert_int_equal(udfenv_marker_eval(r.marker, &py312, NULL, &result), 0);
	assert_int_equal(result, 0);
	udfenv_requirement_dispose(&r);
	assert_null(r.name);

	assert_int_equal(udfenv_requirement_parse(&r, "name @ https://x/y.whl ; os_name=='posix'"),
	                 0);
	assert_string_equal(r.key, "name");
	assert_string_equal(r.url, "https://x/y.whl");
	assert_spec_text(r.spec, ""); /* empty, not NULL */
	assert_int_equal(r.extras.count, 0);
	assert_int_equal(udfenv_marker_eval(r.marker, &py38, NULL, &result), 0);
	assert_int_equal(result, 1);
	udfenv_requirement_dispose(&r);

	/* Name as written, key normalized, extras normalized and unique. */
	assert_int_equal(
	    udfenv_requirement_parse(&r, "  Foo_Bar.baz [Security,socks , SECURITY]==2.8.*  "), 0);
	assert_string_equal(r.name, "Foo_Bar.baz");
	assert_string_equal(r.key, "foo-bar-baz");
	assert_int_equal(r.extras.count, 2);
	assert_string_equal(r.extras.items[0], "security");
	assert_string_equal(r.extras.items[1], "socks");
	assert_spec_text(r.spec, "==2.8.*");
	assert_null(r.marker);
	udfenv_requirement_dispose(&r);

	assert_int_equal(udfenv_requirement_parse(&r, "foo"), 0);
	assert_int_equal(udfenv_specset_is_pin(r.spec), 0);
	assert_spec_text(r.spec, "");
	assert_null(r.url);
	assert_null(r.marker);
	udfenv_requirement_dispose(&r);

	assert_int_equal(udfenv_requirement_parse(&r, "foo;os_name=='nt'"), 0);
	assert_int_equal(udfenv_marker_eval(r.marker, &py38, NULL, &result), 0);
	assert_int_equal(result, 0);
	udfenv_requirement_dispose(&r);

	assert_int_equal(udfenv_requirement_parse(&r, "foo(>=1.0)"), 0);
	assert_spec_text(r.spec, ">=1.0");
	udfenv_requirement_dispose(&r);
	assert_int_equal(udfenv_requirement_parse(&r, "foo[]===1.0a1;extra=='x'"), 0);
	assert_int_equal(r.extras.count, 0);
	assert_int_equal(udfenv_specset_is_pin(r.spec), 1);
	udfenv_requirement_dispose(&r);

	/* The URL runs to whitespace: a ';' glued to it is part of it (as packaging). */
	assert_int_equal(
	    udfenv_requirement_parse(&r, "foo[bar] @ https://x/y.whl;os_name=='posix'"), 0);
	assert_string_equal(r.url, "https://x/y.whl;os_name=='posix'");
	assert_string_equal(r.extras.items[0], "bar");
	assert_null(r.marker);
	udfenv_requirement_dispose(&r);
	assert_int_equal(udfenv_requirement_parse(&r, "foo@file:///tmp/foo-1.0-py3-none-any.whl"),
	                 0);
	assert_string_equal(r.url, "file:///tmp/foo-1.0-py3-none-any.whl");
	udfenv_requirement_dispose(&r);
	udfenv_requirement_dispose(NULL);
}

static void test_requirement_errors(void **state)
{
	static const char *const cases[][2] = {
	    {"foo !bar", "expected a version specifier or ';' after 'foo' at column 5"},
	    {"foo-", "expected a version specifier or ';' after 'foo' at column 4"},
	    {"foo[x] !", "expected a version specifier or ';' after 'foo[x]' at column 8"},
	    {"", "expected a project name at column 1"},
	    {"-foo", "expected a project name at column 1"},
	    {"foo[bar", "expected ',' or ']' after an extra name at column 8"},
	    {"foo[bar,]", "expected an extra name at column 9"},
	    {"foo[-bar]", "expected an extra name at column 5"},
	    {"foo (>=1.0", "expected ')' to close the '(' of column 5 at column 11"},
	    {"foo (>=1.0; os_name=='nt')",
	     "expected ')' to close the '(' of column 5 at column 11"},
	    {"foo (>=1.0) bar", "expected ';' or the end after the version specifier at column 13"},
	    {"foo>=1.0 ; ", "expected a marker after ';' at column 11"},
	    {"foo @ ", "expected a URL after '@' at column 6"},
	    {"foo @ https://x y", "expected ';' or the end after the URL at column 17"},
	    {"foo ; python_ver < '3'", "unknown marker variable 'python_ver' at column 7"},
	    {"foo ; os_name == 'a' or", "expected a marker variable or quoted string at column 24"},
	    {"foo\nbar", "unexpected control character at column 4"},
	    /* A bad specifier keeps its own words behind the requirement. */
	    {"foo >=1.0 x", "'>=1.0 x' is not a valid version specifier (PEP 440)"},
	    {"foo (~=1)", "at least two release numbers"},
	    {"foo >=1.0,<2.0 extra", "'<2.0 extra' is not a valid version specifier"},
	};
	udfenv_requirement r = UDFENV_REQUIREMENT_INIT;
	char *long_text;
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		int rc = udfenv_requirement_parse(&r, cases[i][0]);
		if (rc != UDFENV_EINVALID)
			fail_msg("'%s' parsed (%d)", cases[i][0], rc);
		tu_assert_error(rc, UDFENV_EINVALID, cases[i][1]);
		tu_assert_error(rc, UDFENV_EINVALID, "invalid requirement '");
		assert_null(r.name);
		assert_null(r.spec);
		assert_null(r.marker);
	}
	long_text = repeat("a", 70000, "");
	tu_assert_error(udfenv_requirement_parse(&r, long_text), UDFENV_EINVALID,
	             "longer than 65536 bytes");
	free(long_text);
	/* A long name is quoted cut short, the message stays bounded. */
	long_text = repeat("a", 5000, " !");
	tu_assert_error(udfenv_requirement_parse(&r, long_text), UDFENV_EINVALID,
	             "...' at column 5002");
	assert_true(strlen(udfenv_error_last()->message) < 1024);
	free(long_text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pep503_names),
	    cmocka_unit_test(test_version_normalization),
	    cmocka_unit_test(test_version_fields),
	    cmocka_unit_test(test_version_invalid),
	    cmocka_unit_test(test_version_limits),
	    cmocka_unit_test(test_version_ordering),
	    cmocka_unit_test(test_version_prerelease),
	    cmocka_unit_test(test_specset_format),
	    cmocka_unit_test(test_specset_invalid),
	    cmocka_unit_test(test_specset_operators),
	    cmocka_unit_test(test_specset_exclusive),
	    cmocka_unit_test(test_specset_compatible_and_wildcards),
	    cmocka_unit_test(test_specset_prereleases),
	    cmocka_unit_test(test_specset_arbitrary),
	    cmocka_unit_test(test_specset_is_pin),
	    cmocka_unit_test(test_marker_eval),
	    cmocka_unit_test(test_marker_logic),
	    cmocka_unit_test(test_marker_extra),
	    cmocka_unit_test(test_marker_errors),
	    cmocka_unit_test(test_marker_eval_leaves_no_error),
	    cmocka_unit_test(test_try_parse),
	    cmocka_unit_test(test_requirement_parse),
	    cmocka_unit_test(test_requirement_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
