/* pip's requirements-file format: lines, comments, continuations, options, includes, fallbacks,
 * errors. */
#include <stdint.h>

#include "testutil.h"
#include "lib/reqfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define H16 "0123456789abcdef"
#define H64 H16 H16 H16 H16
#define H96 H64 H16 H16
#define H128 H64 H64

static udfenv_buf tmpdir = UDFENV_BUF_INIT;

static int group_setup(void **state)
{
	(void)state;
	return tu_mkdtemp(&tmpdir, "udfenv-test-reqfile-");
}

static int group_teardown(void **state)
{
	(void)state;
	return tu_rmdtemp(&tmpdir);
}

/* `rel` inside the temp dir; the string lives in `b`. */
static const char *in_tmp(udfenv_buf *b, const char *rel)
{
	return tu_join(b, udfenv_buf_cstr(&tmpdir), rel);
}

static void put_bytes(const char *rel, const void *data, size_t len)
{
	udfenv_buf path = UDFENV_BUF_INIT, dir = UDFENV_BUF_INIT;
	const char *p = in_tmp(&path, rel);
	assert_int_equal(udfenv_buf_put(&dir, p, (size_t)(strrchr(p, '/') - p)), 0);
	assert_int_equal(udfenv_fs_mkdir_p(udfenv_buf_cstr(&dir), 0755), 0);
	tu_write_bytes(p, data, len, 0644);
	udfenv_buf_dispose(&path);
	udfenv_buf_dispose(&dir);
}

static void put(const char *rel, const char *text)
{
	put_bytes(rel, text, strlen(text));
}

static int parse(udfenv_reqfile *r, const char *rel, const char *display)
{
	udfenv_buf path = UDFENV_BUF_INIT;
	int rc = udfenv_reqfile_parse(r, in_tmp(&path, rel), display);
	udfenv_buf_dispose(&path);
	return rc;
}

static void assert_line(const udfenv_reqfile *r, size_t i, const char *text, const char *file,
                        unsigned line)
{
	assert_true(i < r->count);
	assert_string_equal(r->lines[i].text, text);
	assert_string_equal(r->lines[i].file, file);
	assert_int_equal(r->lines[i].line, line);
}

/* Parse `content` as file `rel` shown as `rel`: no error, the fallback holds `expect` (NULL: none).
 */
static void check_fallback(const char *rel, const char *content, const char *expect)
{
	udfenv_reqfile r = UDFENV_REQFILE_INIT;
	put(rel, content);
	assert_int_equal(parse(&r, rel, rel), 0);
	if (expect == NULL && r.fallback != NULL)
		fail_msg("%s: unexpected fallback '%s'", rel, r.fallback);
	if (expect)
		tu_assert_contains(r.fallback, expect);
	udfenv_reqfile_dispose(&r);
}

/* Parse `content` as file `rel` shown as `rel`: error `code` with `words`, `out` left empty. */
static void check_error(const char *rel, const char *content, int code, const char *words)
{
	udfenv_reqfile r = UDFENV_REQFILE_INIT;
	put(rel, content);
	tu_assert_error(parse(&r, rel, rel), code, words);
	assert_null(r.lines);
	assert_int_equal(r.count, 0);
	assert_null(r.fallback);
	assert_int_equal(r.find_links.count, 0);
	udfenv_reqfile_dispose(&r);
}

static void test_lines_comments_blanks(void **state)
{
	udfenv_reqfile r = UDFENV_REQFILE_INIT;
	(void)state;
	put("plain/r.txt", "# a comment\n"
	                   "\n"
	                   "pkg-a==1.0  # trailing comment\n"
	                   "pkg-b @ https://example.com/b.zip#egg=pkg-b\n"
	                   "   \t  \n"
	                   "  # indented comment\n"
	                   "pkg-c>=2; python_version > \"3\"\n"
	                   "pkg-d#not-a-comment\n"
	                   "\xc2\xa0pkg-e\xe3\x80\x80#comment after U+3000\n"
	                   "pkg-f\xe2\x80\xa8pkg-g\n"
	                   "last-no-newline");
	assert_int_equal(parse(&r, "plain/r.txt", "requirements.txt"), 0);
	assert_int_equal(r.count, 8);
	assert_line(&r, 0, "pkg-a==1.0", "requirements.txt", 3);
	/* '#' after no space stays: a URL fragment. "name @ url" is the caller's. */
	assert_line(&r, 1, "pkg-b @ https://example.com/b.zip#egg=pkg-b", "requirements.txt", 4);
	assert_line(&r, 2, "pkg-c>=2; python_version > \"3\"", "requirements.txt", 7);
	assert_line(&r, 3, "pkg-d#not-a-comment", "requirements.txt", 8);
	/* Python's whitespace: NBSP and U+3000 trim and start a comment. */
	assert_line(&r, 4, "pkg-e", "requirements.txt", 9);
	/* U+2028 ends a line, as str.splitlines() has it. */
	assert_line(&r, 5, "pkg-f", "requirements.txt", 10);
	assert_line(&r, 6, "pkg-g", "requirements.txt", 11);
	assert_line(&r, 7, "last-no-newline", "requirements.txt", 12);
	for (size_t i = 0; i < r.count; i++) {
		assert_int_equal(r.lines[i].constraint, 0);
		assert_int_equal(r.lines[i].editable, 0);
		assert_int_equal(r.lines[i].hashes.count, 0);
	}
	assert_null(r.fallback);
	assert_int_equal(r.no_index + r.pre + r.require_hashes, 0);
	udfenv_reqfile_dispose(&r);
	assert_null(r.lines);
	udfenv_reqfile_dispose(&r); /* twice is harmless */
	udfenv_reqfile_dispose(NULL);
}

static void test_display_name_defaults_to_path(void **state)
{
	udfenv_reqfile r = UDFENV_REQFILE_INIT;
	udfenv_buf path = UDFENV_BUF_INIT;
	(void)state;
	put("nodisplay/r.txt", "pkg\n");
	assert_int_equal(parse(&r, "nodisplay/r.txt", NULL), 0);
	assert_line(&r, 0, "pkg", in_tmp(&path, "nodisplay/r.txt"), 1);
	udfenv_reqfile_dispose(&r);
	udfenv_buf_dispose(&path);
}

static void test_continuations(void **state)
{
	udfenv_reqfile r = UDFENV_REQFILE_INIT;
	(void)state;
	put("cont/r.txt", "pkg-a\\\n"
	                  "  >=1.0 \\\n"
	                  "  --hash=sha256:" H64 "\n"
	                  "pkg-b \\\n"
	                  "# a comment ends the continuation\n"
	                  "pkg-c \\ \n" /* a space after '\': not a continuation (pip) */
	                  "pkg-d \\\n"
	                  "\n"
	                  "pkg-e \\\n"
	                  "  # comment");
	assert_int_equal(parse(&r, "cont/r.txt", "r.txt"), 0);
	assert_int_equal(r.count, 5);
	assert_line(&r, 0, "pkg-a  >=1.0", "r.txt", 1);
	assert_int_equal(r.lines[0].hashes.count, 1);
	assert_string_equal(r.lines[0].hashes.items[0], "sha256:" H64);
	assert_line(&r, 1, "pkg-b", "r.txt", 4);
	assert_line(&r, 2, "pkg-c \\", "r.txt", 6);
	/* An empty line ends a continuation too. */
	assert_line(&r, 3, "pkg-d", "r.txt", 7);
	assert_line(&r, 4, "pkg-e", "r.txt", 9);
	udfenv_reqfile_dispose(&r);

	/* A continuation on the last line keeps what was joined, the '\' goes. */
	put("cont/eof.txt", "pkg-x \\\n  ==2 \\");
	assert_int_equal(parse(&r, "cont/eof.txt", "eof.txt"), 0);
	assert_int_equal(r.count, 1);
	assert_line(&r, 0, "pkg-x   ==2", "eof.txt", 1);
	udfenv_reqfile_dispose(&r);
}

static void test_bom_and_crlf(void **state)
{
	udfenv_reqfile r = UDFENV_REQFILE_INIT;
	(void)state;
	put("crlf/r.txt", "\xef\xbb\xbfpkg-a\r\n"
	                  "pkg-b \\\r\n"
	                  "  ==1\r\n"
	                  "\r\n"
	                  "pkg-c # c\r"
	                  "pkg-d\r\n");
	assert_int_equal(parse(&r, "crlf/r.txt", "r.txt"), 0);
	assert_int_equal(r.count, 4);
	assert_line(&r, 0, "pkg-a", "r.txt", 1);
	assert_line(&r, 1, "pkg-b   ==1", "r.txt", 2);
	assert_line(&r, 2, "pkg-c", "r.txt", 5);
	assert_line(&r, 3, "pkg-d", "r.txt", 6);
	udfenv_reqfile_dispose(&r);
}

static void test_hashes(void **state)
{
	udfenv_reqfile r = UDFENV_REQFILE_INIT;
	(void)state;
	put("hash/r.txt", "pkg-a==1 --hash=sha256:" H64 " --hash sha384:" H96 " \\\n"
	                  "    --hash=\"sha512:" H128 "\"\n"
	                  "pkg-b==2 --hash=sha256:ABCDEF0123456789" H16 H16 H16 "\n"
	                  "--hash=sha256:" H64 "\n" /* no requirement: ignored, as by pip */
	                  "pkg-c\n");
	assert_int_equal(parse(&r, "hash/r.txt", "r.txt"), 0);
	assert_int_equal(r.count, 3);
	assert_line(&r, 0, "pkg-a==1", "r.txt", 1);
	assert_int_equal(r.lines[0].hashes.count, 3);
	assert_string_equal(r.lines[0].hashes.items[0], "sha256:" H64);
	assert_string_equal(r.lines[0].hashes.items[1], "sha384:" H96);
	assert_string_equal(r.lines[0].hashes.items[2], "sha512:" H128);
	assert_line(&r, 1, "pkg-b==2", "r.txt", 3);
	assert_int_equal(r.lines[1].hashes.count, 1);
	assert_string_equal(r.lines[1].hashes.items[0], "sha256:ABCDEF0123456789" H16 H16 H16);
	assert_line(&r, 2, "pkg-c", "r.txt", 5);
	assert_int_equal(r.lines[2].hashes.count, 0);
	assert_null(r.fallback);
	udfenv_reqfile_dispose(&r);
}

static void test_includes_and_constraints(void **state)
{
	udfenv_reqfile r = UDFENV_REQFILE_INIT;
	(void)state;
	put("inc/top.txt", "-r sub/inner.txt\n"
	                   "-c sub/cons.txt\n"
	                   "top-pkg\n"
	                   "--requirement=sub/long.txt\n"
	                   "-rsub/glued.txt\n"
	                   "--requirem \"sub/sp ace.txt\"\n"
	                   "-r sub/inner.txt\n");
	put("inc/sub/inner.txt", "inner-pkg\n-r ../leaf.txt\n");
	put("inc/leaf.txt", "leaf-pkg\n");
	put("inc/sub/cons.txt", "cons-pkg<2\n--requirement more.txt\n");
	put("inc/sub/more.txt", "more-pkg\n");
	put("inc/sub/long.txt", "long-pkg\n");
	put("inc/sub/glued.txt", "glued-pkg\n");
	put("inc/sub/sp ace.txt", "space-pkg\n");
	assert_int_equal(parse(&r, "inc/top.txt", "reqs/top.txt"), 0);
	assert_int_equal(r.count, 10);
	assert_line(&r, 0, "inner-pkg", "reqs/sub/inner.txt", 1);
	assert_line(&r, 1, "leaf-pkg", "reqs/sub/../leaf.txt", 1);
	assert_line(&r, 2, "cons-pkg<2", "reqs/sub/cons.txt", 1);
	/* A -r inside a -c file gives requirements, not constraints (pip). */
	assert_line(&r, 3, "more-pkg", "reqs/sub/more.txt", 1);
	assert_line(&r, 4, "top-pkg", "reqs/top.txt", 3);
	assert_line(&r, 5, "long-pkg", "reqs/sub/long.txt", 1);
	assert_line(&r, 6, "glued-pkg", "reqs/sub/glued.txt", 1);
	assert_line(&r, 7, "space-pkg", "reqs/sub/sp ace.txt", 1);
	/* Read twice is no cycle: pip gives the lines twice. */
	assert_line(&r, 8, "inner-pkg", "reqs/sub/inner.txt", 1);
	assert_line(&r, 9, "leaf-pkg", "reqs/sub/../leaf.txt", 1);
	for (size_t i = 0; i < r.count; i++)
		assert_int_equal(r.lines[i].constraint, i == 2);
	assert_null(r.fallback);
	{
		/* Every file read, once, in the order first read, as opened. */
		static const char *const read[] = {"inc/top.txt", "inc/sub/inner.txt", "inc/sub/../leaf.txt",
						   "inc/sub/cons.txt", "inc/sub/more.txt", "inc/sub/long.txt",
						   "inc/sub/glued.txt", "inc/sub/sp ace.txt"};
		assert_int_equal(r.files.count, sizeof(read) / sizeof(read[0]));
		for (size_t i = 0; i < r.files.count; i++) {
			size_t n = strlen(r.files.items[i]), m = strlen(read[i]);
			if (n < m || strcmp(r.files.items[i] + n - m, read[i]) != 0)
				fail_msg("files[%zu] is '%s', not '...%s'", i, r.files.items[i], read[i]);
		}
	}
	udfenv_reqfile_dispose(&r);
}

static void test_absolute_include(void **state)
{
	udfenv_reqfile r = UDFENV_REQFILE_INIT;
	udfenv_buf abs = UDFENV_BUF_INIT, text = UDFENV_BUF_INIT;
	(void)state;
	put("absinc/other/x.txt", "x-pkg\n");
	assert_int_equal(udfenv_buf_printf(&text, "-c %s\n", in_tmp(&abs, "absinc/other/x.txt")),
	                 0);
	put("absinc/top.txt", udfenv_buf_cstr(&text));
	assert_int_equal(parse(&r, "absinc/top.txt", "top.txt"), 0);
	assert_int_equal(r.count, 1);
	assert_line(&r, 0, "x-pkg", udfenv_buf_cstr(&abs), 1);
	assert_int_equal(r.lines[0].constraint, 1);
	udfenv_reqfile_dispose(&r);
	udfenv_buf_dispose(&abs);
	udfenv_buf_dispose(&text);
}

static void test_flags_and_ignored_options(void **state)
{
	udfenv_reqfile r = UDFENV_REQFILE_INIT;
	(void)state;
	put("flags/r.txt", "--pre\n"
	                   "--require-hashes --trusted-host example.com stray-word\n"
	                   "-i https://idx.example/simple\n"
	                   "--only-binary :all: --prefer-binary\n"
	                   "--no-index\n");
	assert_int_equal(parse(&r, "flags/r.txt", "r.txt"), 0);
	assert_int_equal(r.count, 0);
	assert_int_equal(r.pre, 1);
	assert_int_equal(r.require_hashes, 1);
	assert_int_equal(r.no_index, 1);
	/* --no-index, even after it, drops the index. */
	assert_null(r.fallback);
	udfenv_reqfile_dispose(&r);

	/* pip ignores file options on a requirement line and on an include line. */
	put("flags/ignored.txt", "pkg --pre --no-index -r not-there.txt\n"
	                         "-r inc.txt --require-hashes\n"
	                         "-i https://idx.example/simple\n");
	put("flags/inc.txt", "inc-pkg\n");
	assert_int_equal(parse(&r, "flags/ignored.txt", "ignored.txt"), 0);
	assert_int_equal(r.count, 2);
	assert_line(&r, 0, "pkg", "ignored.txt", 1);
	assert_line(&r, 1, "inc-pkg", "inc.txt", 1);
	assert_int_equal(r.pre + r.no_index + r.require_hashes, 0);
	tu_assert_contains(r.fallback, "ignored.txt line 3: --index-url");
	udfenv_reqfile_dispose(&r);
}

static void test_find_links(void **state)
{
	udfenv_reqfile r = UDFENV_REQFILE_INIT;
	udfenv_buf dir = UDFENV_BUF_INIT;
	(void)state;
	put("fl/sub/r.txt", "--find-links ./wheels\n"
	                    "-f https://example.com/links\n"
	                    "-f/abs/dir\n");
	assert_int_equal(parse(&r, "fl/sub/r.txt", "sub/r.txt"), 0);
	assert_int_equal(r.find_links.count, 3);
	assert_string_equal(r.find_links.items[0], in_tmp(&dir, "fl/sub/./wheels"));
	assert_string_equal(r.find_links.items[1], "https://example.com/links");
	assert_string_equal(r.find_links.items[2], "/abs/dir");
	tu_assert_contains(r.fallback, "sub/r.txt line 1: --find-links");
	tu_assert_contains(r.fallback, "not shipped to workers");
	udfenv_reqfile_dispose(&r);
	udfenv_buf_dispose(&dir);
}

static void test_editable(void **state)
{
	udfenv_reqfile r = UDFENV_REQFILE_INIT;
	(void)state;
	put("ed/r.txt", "pkg\n-e ./src/mine\n--editable=git+https://tok@example.com/x.git#egg=x\n");
	assert_int_equal(parse(&r, "ed/r.txt", "r.txt"), 0);
	assert_int_equal(r.count, 3);
	assert_line(&r, 1, "./src/mine", "r.txt", 2);
	assert_int_equal(r.lines[1].editable, 1);
	assert_line(&r, 2, "git+https://tok@example.com/x.git#egg=x", "r.txt", 3);
	assert_int_equal(r.lines[2].editable, 1);
	assert_int_equal(r.lines[0].editable, 0);
	assert_string_equal(r.fallback, "r.txt line 2: --editable");
	udfenv_reqfile_dispose(&r);
}

static void test_fallback_reasons(void **state)
{
	(void)state;
	check_fallback("fb/nb.txt", "pkg\n--no-binary :all:\n", "fb/nb.txt line 2: --no-binary");
	check_fallback("fb/idx.txt", "pkg\n--index-url https://u:secret@idx.example/simple\n",
	               "fb/idx.txt line 2: --index-url");
	check_fallback("fb/idx2.txt", "--pypi-url=https://idx.example/simple\n",
	               "line 1: --index-url");
	check_fallback("fb/idx3.txt", "-ihttps://idx.example/simple\n", "line 1: --index-url");
	check_fallback("fb/xidx.txt", "--extra-index-url https://idx.example/simple\n",
	               "line 1: --extra-index-url");
	check_fallback("fb/cs.txt", "pkg --config-settings=key=value\n",
	               "line 1: --config-settings");
	check_fallback("fb/cs2.txt", "pkg -C key=value\n", "line 1: --config-settings");
	check_fallback("fb/go.txt", "pkg --global-option=--plat\n", "line 1: --global-option");
	check_fallback("fb/io.txt", "pkg --install-option=--prefix=/x\n",
	               "line 1: --install-option");
	check_fallback("fb/uf.txt", "--use-feature=fast-deps\n", "line 1: --use-feature");
	check_fallback("fb/url.txt", "-r https://example.com/r.txt\n", "line 1: -r from a URL");
	check_fallback("fb/url2.txt", "-c FILE:///etc/c.txt\n", "line 1: -c from a URL");
	check_fallback("fb/env.txt", "pkg\npkg-b==${VERSION} # ${NOT_THIS}\n",
	               "fb/env.txt line 2: uses environment variable ${VERSION}");
	check_fallback("fb/env2.txt", "-r ${DIR}/x.txt\n",
	               "line 1: uses environment variable ${DIR}");
	check_fallback("fb/p1.txt", "./local/pkg\n", "line 1: the requirement is a URL or a path");
	check_fallback("fb/p2.txt", "/abs/pkg[extra]\n", "is a URL or a path");
	check_fallback("fb/p3.txt", "dist/pkg-1.0.tar.gz\n", "is a URL or a path");
	check_fallback("fb/p4.txt", "pkg-1.0-py3-none-any.WHL\n", "is a URL or a path");
	check_fallback("fb/p5.txt", "pkg.zip\n", "is a URL or a path");
	check_fallback("fb/p6.txt", "https://example.com/pkg-1.0.tar.gz\n", "is a URL or a path");
	check_fallback("fb/p7.txt", "git+https://tok@example.com/x.git#egg=x\n",
	               "is a URL or a path");
	check_fallback("fb/p8.txt", "pkg-1.0.tar.gz; python_version > '3'\n", "is a URL or a path");

	/* Not reasons: names, "name @ url", what pip ignores, comments. */
	check_fallback("fb/ok1.txt", "pkg[x,y]>=1,<2; os_name == 'posix/x'\n", NULL);
	check_fallback("fb/ok2.txt", "pkg @ https://example.com/pkg-1.0-py3-none-any.whl\n", NULL);
	check_fallback("fb/ok3.txt", "pkg @ file:///wheels/pkg.whl ; python_version > '3'\n", NULL);
	check_fallback("fb/ok4.txt", "# --no-binary :all:\npkg # -e ./x ${VAR}\n", NULL);
	check_fallback("fb/ok5.txt",
	               "--trusted-host h\n--only-binary :all:\n--prefer-binary\npkg\n", NULL);
	check_fallback("fb/ok6.txt", "pkg==$VERSION ${lower}\n", NULL);
	check_fallback("fb/ok7.txt", "--no-index\n-i https://idx.example/simple\n", NULL);

	/* The first reason wins, an index one only if no --no-index drops it. */
	check_fallback("fb/o1.txt", "--no-binary x\n-i https://idx.example/simple\n",
	               "o1.txt line 1: --no-binary");
	check_fallback("fb/o2.txt", "-i https://idx.example/simple\n--no-binary x\n",
	               "o2.txt line 1: --index-url");
	check_fallback("fb/o3.txt", "-i https://idx.example/simple\n--no-binary x\n--no-index\n",
	               "o3.txt line 2: --no-binary");
}

static void test_reasons_quote_no_values(void **state)
{
	udfenv_reqfile r = UDFENV_REQFILE_INIT;
	(void)state;
	put("fbq/r.txt", "--index-url https://u:secret@idx.example/simple\n");
	assert_int_equal(parse(&r, "fbq/r.txt", "r.txt"), 0);
	assert_string_equal(r.fallback, "r.txt line 1: --index-url (only pip reads an index)");
	udfenv_reqfile_dispose(&r);
}

static void test_env_var_line_skipped(void **state)
{
	udfenv_reqfile r = UDFENV_REQFILE_INIT;
	(void)state;
	put("envskip/r.txt", "a\n-r ${DIR}/missing.txt\nb --hash=${H}\nc\n");
	assert_int_equal(parse(&r, "envskip/r.txt", "r.txt"), 0);
	assert_int_equal(r.count, 2);
	assert_line(&r, 0, "a", "r.txt", 1);
	assert_line(&r, 1, "c", "r.txt", 4);
	assert_string_equal(r.fallback, "r.txt line 2: uses environment variable ${DIR}");
	udfenv_reqfile_dispose(&r);
}

static void test_option_errors(void **state)
{
	(void)state;
	check_error("err/u1.txt", "--foo\n", UDFENV_EINVALID,
	            "err/u1.txt line 1: unknown option '--foo'");
	check_error("err/u2.txt", "pkg\npkg-b --bar=1\n", UDFENV_EINVALID,
	            "line 2: unknown option '--bar'");
	check_error("err/u3.txt", "-x y\n", UDFENV_EINVALID, "line 1: unknown option '-x'");
	check_error("err/amb.txt", "--re x\n", UDFENV_EINVALID,
	            "line 1: ambiguous option '--re' (--requirement, --require-hashes)");
	check_error("err/v1.txt", "pkg\n-r\n", UDFENV_EINVALID,
	            "line 2: option '-r' needs a value");
	check_error("err/v2.txt", "pkg --hash\n", UDFENV_EINVALID,
	            "line 1: option '--hash' needs a value");
	check_error("err/v3.txt", "--index-url\n", UDFENV_EINVALID,
	            "option '--index-url' needs a value");
	check_error("err/v4.txt", "pkg \\\n  --hash \\\n", UDFENV_EINVALID,
	            "line 1: option '--hash' needs a value");
	check_error("err/nv.txt", "--pre=yes\n", UDFENV_EINVALID,
	            "line 1: option '--pre' takes no value");
	check_error("err/q1.txt", "pkg --hash 'sha256:" H64 "\n", UDFENV_EINVALID,
	            "line 1: no closing quotation");
	/* shlex quoting: in double quotes an escaped backslash is one backslash, which is not hex.
	 */
	check_error("err/q2.txt", "pkg --hash \"sha256:\\\\" H64 "\"\n", UDFENV_EINVALID,
	            "line 1: --hash sha256: the digest is not hex");
	check_error("err/q3.txt", "pkg --global-option x\\ \n", UDFENV_EINVALID,
	            "line 1: the options end with an escaping '\\'");
}

static void test_hash_errors(void **state)
{
	(void)state;
	check_error("herr/1.txt", "pkg --hash=sha256:\n", UDFENV_EINVALID,
	            "line 1: --hash sha256: has no digest");
	check_error("herr/2.txt", "pkg --hash=sha256:" H16 "xyz" H16 H16 "\n", UDFENV_EINVALID,
	            "--hash sha256: the digest is not hex");
	check_error("herr/3.txt", "pkg --hash=sha256:abc\n", UDFENV_EINVALID,
	            "has 3 hex digits, not 64");
	check_error("herr/4.txt", "pkg --hash=sha512:" H64 "\n", UDFENV_EINVALID,
	            "has 64 hex digits, not 128");
	check_error("herr/5.txt", "pkg --hash=md5:abc\n", UDFENV_EINVALID,
	            "--hash algorithm 'md5' is not one of");
	/* pip takes the algorithm's name as written, lowercase. */
	check_error("herr/6.txt", "pkg --hash=SHA256:" H64 "\n", UDFENV_EINVALID,
	            "--hash algorithm 'SHA256'");
	check_error("herr/7.txt", "pkg --hash=" H64 "\n", UDFENV_EINVALID,
	            "is not a hash name and a digest");
	/* Checked on a line without requirement too, as pip's callback does. */
	check_error("herr/8.txt", "--hash=sha256:zz\n", UDFENV_EINVALID, "not hex");
}

static void test_encoding_errors(void **state)
{
	(void)state;
	put_bytes("enc/nul.txt", "pkg\nbad\0x\n", 10);
	check_error("enc/ok-name.txt", "pkg\n\xff\n", UDFENV_EINVALID,
	            "enc/ok-name.txt line 2: not valid UTF-8");
	{
		udfenv_reqfile r = UDFENV_REQFILE_INIT;
		tu_assert_error(parse(&r, "enc/nul.txt", "nul.txt"), UDFENV_EINVALID,
		             "nul.txt line 2: contains a NUL byte");
		udfenv_reqfile_dispose(&r);
	}
	check_error("enc/overlong.txt", "pkg\n\xc0\xafx\n", UDFENV_EINVALID,
	            "line 2: not valid UTF-8");
	check_error("enc/surrogate.txt", "\xed\xa0\x80\n", UDFENV_EINVALID,
	            "line 1: not valid UTF-8");
	check_error("enc/cut.txt", "a\nb\nc\xe2\x82", UDFENV_EINVALID, "line 3: not valid UTF-8");
	check_error("enc/utf16.txt", "\xff\xfep\0k\0g\0", UDFENV_EINVALID, "UTF-16");
	/* Decoding comes first, as in pip: the bad byte on line 3 wins over line 1. */
	check_error("enc/first.txt", "--nope\nok\n\xfe\n", UDFENV_EINVALID,
	            "line 3: not valid UTF-8");
}

static void test_missing_files(void **state)
{
	udfenv_reqfile r = UDFENV_REQFILE_INIT;
	(void)state;
	tu_assert_error(parse(&r, "miss/none.txt", "none.txt"), UDFENV_ENOTFOUND,
	             "cannot open 'none.txt'");
	assert_int_equal(r.count, 0);
	check_error("miss/top.txt", "pkg\n-r sub/missing.txt\n", UDFENV_ENOTFOUND,
	            "miss/top.txt line 2: cannot open 'miss/sub/missing.txt'");
	put("miss/dir/keep.txt", "x\n");
	check_error("miss/dirinc.txt", "-c dir\n", UDFENV_EINVALID,
	            "line 1: 'miss/dir' is not a regular file");
	/* An error in an included file names that file and its line. */
	put("miss/sub/bad.txt", "ok\n--nope\n");
	check_error("miss/inc.txt", "-r sub/bad.txt\n", UDFENV_EINVALID,
	            "miss/sub/bad.txt line 2: unknown option '--nope'");
}

static void test_cycles(void **state)
{
	udfenv_buf target = UDFENV_BUF_INIT, link = UDFENV_BUF_INIT;
	(void)state;
	check_error("cyc/self.txt", "pkg\n-r self.txt\n", UDFENV_EINVALID,
	            "cyc/self.txt line 2: include cycle: 'cyc/self.txt' is already being read");

	put("cyc/b.txt", "b\n-r ./a.txt\n");
	check_error("cyc/a.txt", "a\n-c b.txt\n", UDFENV_EINVALID,
	            "cyc/b.txt line 2: include cycle: 'cyc/./a.txt' is already being read");

	/* The same file by another name (a symlink) is the same file. */
	in_tmp(&target, "cyc/l1.txt");
	assert_int_equal(symlink(udfenv_buf_cstr(&target), in_tmp(&link, "cyc/link.txt")), 0);
	put("cyc/l2.txt", "-r link.txt\n");
	check_error("cyc/l1.txt", "-r l2.txt\n", UDFENV_EINVALID,
	            "cyc/l2.txt line 1: include cycle: 'cyc/link.txt'");
	udfenv_buf_dispose(&target);
	udfenv_buf_dispose(&link);
}

static void test_depth_cap(void **state)
{
	udfenv_reqfile r = UDFENV_REQFILE_INIT;
	char name[64], text[64];
	(void)state;
	/* d0 includes d1 ... d16 holds "deep": 16 levels below the top are fine. */
	for (int i = 0; i <= UDFENV_REQFILE_MAX_DEPTH; i++) {
		snprintf(name, sizeof(name), "depth/d%d.txt", i);
		if (i < UDFENV_REQFILE_MAX_DEPTH)
			snprintf(text, sizeof(text), "-r d%d.txt\n", i + 1);
		else
			snprintf(text, sizeof(text), "deep\n");
		put(name, text);
	}
	assert_int_equal(parse(&r, "depth/d0.txt", "d0.txt"), 0);
	assert_int_equal(r.count, 1);
	assert_line(&r, 0, "deep", "d16.txt", 1);
	udfenv_reqfile_dispose(&r);

	snprintf(name, sizeof(name), "depth/d%d.txt", UDFENV_REQFILE_MAX_DEPTH);
	put(name, "-r d17.txt\n");
	put("depth/d17.txt", "deeper\n");
	tu_assert_error(parse(&r, "depth/d0.txt", "d0.txt"), UDFENV_ELIMIT,
	             "d16.txt line 1: includes nested more than 16 deep");
	assert_int_equal(r.count, 0);
}

static void test_size_caps(void **state)
{
	udfenv_reqfile r = UDFENV_REQFILE_INIT;
	udfenv_buf text = UDFENV_BUF_INIT, path = UDFENV_BUF_INIT;
	(void)state;

	/* One line over the cap. */
	assert_int_equal(udfenv_buf_puts(&text, "pkg\n"), 0);
	for (size_t i = 0; i <= UDFENV_REQFILE_MAX_LINE; i++)
		assert_int_equal(udfenv_buf_putc(&text, 'a'), 0);
	put_bytes("cap/long.txt", text.ptr, text.size);
	tu_assert_error(parse(&r, "cap/long.txt", "long.txt"), UDFENV_ELIMIT,
	             "long.txt line 2: longer than");

	/* Two lines under the cap, over it once joined. */
	udfenv_buf_clear(&text);
	for (int k = 0; k < 2; k++) {
		for (size_t i = 0; i < UDFENV_REQFILE_MAX_LINE / 2 + 8; i++)
			assert_int_equal(udfenv_buf_putc(&text, 'a'), 0);
		assert_int_equal(udfenv_buf_puts(&text, "\\\n"), 0);
	}
	put_bytes("cap/joined.txt", text.ptr, text.size);
	tu_assert_error(parse(&r, "cap/joined.txt", "joined.txt"), UDFENV_ELIMIT,
	             "joined.txt line 1: longer than");

	/* A file over the size cap (sparse: never read). */
	put("cap/big.txt", "");
	assert_int_equal(truncate(in_tmp(&path, "cap/big.txt"), (off_t)UDFENV_REQFILE_MAX_SIZE + 1),
	                 0);
	tu_assert_error(parse(&r, "cap/big.txt", "big.txt"), UDFENV_ELIMIT,
	             "'big.txt' is larger than");
	put("cap/inc-big.txt", "pkg\n-r big.txt\n");
	tu_assert_error(parse(&r, "cap/inc-big.txt", "inc-big.txt"), UDFENV_ELIMIT,
	             "inc-big.txt line 2: 'big.txt' is larger than");

	/* Re-reads count: a file read more often than the cap on files allows. */
	udfenv_buf_clear(&text);
	for (int i = 0; i < UDFENV_REQFILE_MAX_FILES; i++)
		assert_int_equal(udfenv_buf_puts(&text, "-r leaf.txt\n"), 0);
	put_bytes("cap/many.txt", text.ptr, text.size);
	put("cap/leaf.txt", "leaf\n");
	tu_assert_error(parse(&r, "cap/many.txt", "many.txt"), UDFENV_ELIMIT,
	             "many.txt line 1024: more than 1024 files");
	assert_int_equal(r.count, 0);

	udfenv_buf_dispose(&text);
	udfenv_buf_dispose(&path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lines_comments_blanks),
	    cmocka_unit_test(test_display_name_defaults_to_path),
	    cmocka_unit_test(test_continuations),
	    cmocka_unit_test(test_bom_and_crlf),
	    cmocka_unit_test(test_hashes),
	    cmocka_unit_test(test_includes_and_constraints),
	    cmocka_unit_test(test_absolute_include),
	    cmocka_unit_test(test_flags_and_ignored_options),
	    cmocka_unit_test(test_find_links),
	    cmocka_unit_test(test_editable),
	    cmocka_unit_test(test_fallback_reasons),
	    cmocka_unit_test(test_reasons_quote_no_values),
	    cmocka_unit_test(test_env_var_line_skipped),
	    cmocka_unit_test(test_option_errors),
	    cmocka_unit_test(test_hash_errors),
	    cmocka_unit_test(test_encoding_errors),
	    cmocka_unit_test(test_missing_files),
	    cmocka_unit_test(test_cycles),
	    cmocka_unit_test(test_depth_cap),
	    cmocka_unit_test(test_size_caps),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
