/*
 * Unit tests of one wheel (src/lib/wheel.c, wheel_install.c): file names,
 * metadata read from the zip, and installing the way pip 23 does. Every
 * wheel is written here, at test time, with libarchive's zip writer, in a
 * private temp dir removed at the end of each test. The launcher bytes and
 * the RECORD of test_install_pure are what pip 23.2.1 writes for the same
 * wheels (`pip install --no-compile --prefix`); the other expectations
 * follow pip's code (operations/install/wheel.py, distlib's ScriptMaker).
 */
#include <stdint.h>

#include "testutil.h"
#include "lib/wheel.h"
#include "lib/wheel_int.h"
#include "util/log.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define P PATH_MAX
#define N(a) (sizeof(a) / sizeof((a)[0]))

#define PY "/opt/py/bin/python3.11"

typedef struct {
	char base[P];
	char in[P];
	char prefix[P];
	char purelib[P], platlib[P], scripts[P], headers[P];
	udfenv_wheel_scheme scheme;
	mode_t umask;
} fx;

static int setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	tu_pathf(f->base, "%s/udfenv-test-wheel-XXXXXX", tu_tmp_base());
	assert_non_null(mkdtemp(f->base));
	tu_pathf(f->in, "%s/in", f->base);
	tu_pathf(f->prefix, "%s/prefix", f->base);
	tu_pathf(f->purelib, "%s/lib/python3.11/site-packages", f->prefix);
	tu_pathf(f->platlib, "%s/lib64/python3.11/site-packages", f->prefix);
	tu_pathf(f->scripts, "%s/bin", f->prefix);
	tu_pathf(f->headers, "%s/include/python3.11/demo", f->prefix);
	assert_int_equal(mkdir(f->in, 0755), 0);
	f->scheme = (udfenv_wheel_scheme){.purelib = f->purelib,
	                                  .platlib = f->platlib,
	                                  .scripts = f->scripts,
	                                  .data = f->prefix,
	                                  .headers = f->headers,
	                                  .python = PY};
	f->umask = umask(022);
	umask(f->umask);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;

	tu_rmtree_gone(f->base);
	free(f);
	return 0;
}

/* ---- building wheels ---- */

typedef struct {
	const char *name;
	const char *data; /* NULL: a directory entry */
	mode_t perm;
	const char *link; /* a symlink to this, instead */
} wf;

#define F(n, d)                                                                                    \
	{                                                                                          \
		n, d, 0644, NULL                                                                   \
	}
#define X(n, d)                                                                                    \
	{                                                                                          \
		n, d, 0755, NULL                                                                   \
	}

/* How make_wheel spoils RECORD for the entry `tamper`. */
enum { OK, T_UNLISTED, T_HASH, T_SIZE, T_NOHASH, NO_RECORD };

static void b64url(char *out, const unsigned char *d, size_t len)
{
	static const char abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0;

	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)d[i] << 16 | (i + 1 < len ? (unsigned)d[i + 1] << 8 : 0) |
		             (i + 2 < len ? d[i + 2] : 0);
		size_t n = len - i >= 3 ? 4 : len - i + 1;
		for (size_t k = 0; k < n; k++)
			out[o++] = abc[v >> (18 - 6 * k) & 63];
	}
	out[o] = '\0';
}

/* "sha256=<b64>" of `len` bytes, computed independently of the code under test. */
static void record_hash(char out[64], const void *data, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	assert_int_equal(EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL), 1);
	memcpy(out, "sha256=", 7);
	b64url(out + 7, md, mdlen);
}

static void add_entry(struct archive *a, const char *name, const char *data, mode_t perm,
                      const char *link)
{
	struct archive_entry *e = archive_entry_new();
	size_t len = data ? strlen(data) : 0;

	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, link ? AE_IFLNK : data ? AE_IFREG : AE_IFDIR);
	archive_entry_set_perm(e, link ? 0777 : data ? perm : 0755);
	archive_entry_set_mtime(e, 1700000000, 0);
	if (link)
		archive_entry_set_symlink(e, link);
	archive_entry_set_size(e, (la_int64_t)len);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	if (len)
		assert_int_equal(archive_write_data(a, data, len), (la_ssize_t)len);
	archive_entry_free(e);
}

/*
 * Write `in`/`file` holding `files` and, unless NO_RECORD, <dist_info>/RECORD
 * listing them (spoiled for `target` as `tamper` says). Path in `out`.
 */
static void make_wheel_t(fx *f, char *out, const char *file, const char *dist_info, const wf *files,
                         size_t n, int tamper, const char *target)
{
	struct archive *a = archive_write_new();
	udfenv_buf record = UDFENV_BUF_INIT;
	char h[64], rec[P];

	tu_pathf(out, "%s/%s", f->in, file);
	assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, out), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		const wf *x = &files[i];
		add_entry(a, x->name, x->data, x->perm, x->link);
		if (x->data == NULL ||
		    (target && strcmp(x->name, target) == 0 && tamper == T_UNLISTED))
			continue;
		record_hash(h, x->data, strlen(x->data));
		size_t size = strlen(x->data);
		if (target && strcmp(x->name, target) == 0 && tamper == T_HASH)
			h[10] = h[10] == 'A' ? 'B' : 'A';
		if (target && strcmp(x->name, target) == 0 && tamper == T_SIZE)
			size++;
		if (target && strcmp(x->name, target) == 0 && tamper == T_NOHASH)
			assert_int_equal(udfenv_buf_printf(&record, "%s,,\n", x->name), 0);
		else
			assert_int_equal(
			    udfenv_buf_printf(&record, "%s,%s,%zu\n", x->name, h, size), 0);
	}
	if (tamper != NO_RECORD) {
		tu_pathf(rec, "%s/RECORD", dist_info);
		assert_int_equal(udfenv_buf_printf(&record, "%s,,\n", rec), 0);
		add_entry(a, rec, udfenv_buf_cstr(&record), 0644, NULL);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	udfenv_buf_dispose(&record);
}

static void make_wheel(fx *f, char *out, const char *file, const char *dist_info, const wf *files,
                       size_t n)
{
	make_wheel_t(f, out, file, dist_info, files, n, OK, NULL);
}

#define DI "demo-1.0.dist-info"
#define DEMO_WHL "demo-1.0-py3-none-any.whl"
#define METADATA "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n\n"
#define WHEEL_PURE                                                                                 \
	"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n\n"
#define WHEEL_PLAT "Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: py3-none-any\n\n"

/* ---- checking results ---- */

/* Unlike tu_assert_error: the last error's code is not checked; up to two words (NULL: none). */
static void assert_error(int error, int code, const char *w1, const char *w2)
{
	if (error != code)
		fail_msg("expected code %d, got %d: %s", code, error, udfenv_error_last()->message);
	tu_assert_message_contains(w1);
	tu_assert_message_contains(w2);
}

static void assert_file(const char *dir, const char *rel, const char *want, mode_t mode)
{
	char path[P];
	struct stat st;
	udfenv_buf b = UDFENV_BUF_INIT;

	tu_pathf(path, "%s/%s", dir, rel);
	if (lstat(path, &st) < 0)
		fail_msg("%s is missing", path);
	assert_true(S_ISREG(st.st_mode));
	if (mode && (st.st_mode & 07777) != mode)
		fail_msg("%s has mode %o, not %o", path, st.st_mode & 07777, mode);
	assert_int_equal(udfenv_fs_read_file(&b, path, 1 << 24), 0);
	if (want && strcmp(udfenv_buf_cstr(&b), want) != 0)
		fail_msg("%s holds:\n%s\nnot:\n%s", path, udfenv_buf_cstr(&b), want);
	udfenv_buf_dispose(&b);
}

static void assert_absent(const char *dir, const char *rel)
{
	char path[P];
	struct stat st;

	tu_pathf(path, "%s/%s", dir, rel);
	if (lstat(path, &st) == 0)
		fail_msg("%s exists", path);
}

static int install(fx *f, const char *whl, const udfenv_strvec *hashes, int requested)
{
	udfenv_wheel_install w = {.path = whl,
	                          .label = strrchr(whl, '/') + 1,
	                          .hashes = hashes,
	                          .requested = requested};
	int error;

	udfenv_error_clear();
	error = udfenv_wheel__install(&w, &f->scheme);
	/* Whatever happened, nothing appeared outside the scheme's dirs (all under prefix). */
	assert_int_equal(tu_count_entries(f->base), access(f->prefix, F_OK) == 0 ? 2 : 1);
	return error;
}

static void assert_installs(fx *f, const char *whl, int requested)
{
	int error = install(f, whl, NULL, requested);

	if (error < 0)
		fail_msg("install failed: %s", udfenv_error_last()->message);
}

/* A refused wheel installs nothing: every check comes before the first file. */
static void assert_refused(fx *f, const char *whl, int code, const char *w1, const char *w2)
{
	assert_error(install(f, whl, NULL, 1), code, w1, w2);
	assert_int_equal(tu_count_entries(f->prefix), 0);
}

/*
 * Every row of the installed RECORD (CRLF lines, sorted) with a hash
 * matches the installed file; RECORD itself is listed empty; and the
 * whole RECORD is `want` when given.
 */
static void check_record(const char *lib, const char *want)
{
	char path[P], file[P], h[64];
	char *text, *line, *save = NULL, *prev = NULL;

	tu_pathf(path, "%s/" DI "/RECORD", lib);
	text = tu_read_text(path);
	if (want && strcmp(text, want) != 0)
		fail_msg("RECORD is:\n%s\nnot:\n%s", text, want);
	for (size_t i = 0; text[i]; i++)
		if (text[i] == '\n')
			assert_true(i > 0 && text[i - 1] == '\r');
	for (line = strtok_r(text, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
		char *c1 = strchr(line, ','), *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
		assert_non_null(c2);
		*c1 = *c2 = '\0';
		if (prev)
			assert_true(strcmp(prev, line) < 0);
		prev = line;
		if (strcmp(line, DI "/RECORD") == 0) {
			assert_string_equal(c1 + 1, "");
			assert_string_equal(c2 + 1, "");
			continue;
		}
		if (strncmp(line, "demo-1.0.data/", 14) == 0)
			continue; /* a wrapper pip skips keeps its row as it was */
		tu_pathf(file, "%s/%s", lib, line);
		char *data = tu_read_text(file);
		record_hash(h, data, strlen(data));
		if (strcmp(c1 + 1, h) != 0 || (size_t)atol(c2 + 1) != strlen(data))
			fail_msg("RECORD row %s,%s,%s does not match the installed file", line,
			         c1 + 1, c2 + 1);
		free(data);
	}
	free(text);
}

/* ---- file names ---- */

static void test_filename_plain(void **state)
{
	udfenv_wheelname w = UDFENV_WHEELNAME_INIT;

	(void)state;
	assert_int_equal(
	    udfenv_wheel__parse_filename(&w, "Foo_Bar.baz-1.0.post1+local.7-py3-none-any.whl"), 0);
	assert_string_equal(w.name, "Foo_Bar.baz");
	assert_string_equal(w.key, "foo-bar-baz");
	assert_string_equal(w.version, "1.0.post1+local.7");
	assert_null(w.build);
	assert_int_equal(w.tags.count, 1);
	assert_string_equal(w.tags.items[0], "py3-none-any");
	udfenv_wheelname_dispose(&w);
	udfenv_wheelname_dispose(&w); /* safe twice */
}

static void test_filename_compressed_and_build(void **state)
{
	udfenv_wheelname w = UDFENV_WHEELNAME_INIT;
	static const char *const want[] = {
	    "cp311-cp311-manylinux_2_17_x86_64", "cp311-cp311-manylinux2014_x86_64",
	    "cp311-abi3-manylinux_2_17_x86_64",  "cp311-abi3-manylinux2014_x86_64",
	    "py3-cp311-manylinux_2_17_x86_64",   "py3-cp311-manylinux2014_x86_64",
	    "py3-abi3-manylinux_2_17_x86_64",    "py3-abi3-manylinux2014_x86_64"};

	(void)state;
	assert_int_equal(udfenv_wheel__parse_filename(&w, "six-1.16.0-py2.py3-none-any.whl"), 0);
	assert_int_equal(w.tags.count, 2);
	assert_string_equal(w.tags.items[0], "py2-none-any");
	assert_string_equal(w.tags.items[1], "py3-none-any");
	udfenv_wheelname_dispose(&w);

	assert_int_equal(udfenv_wheel__parse_filename(
	                     &w, "pkg-2.0-12b_x-cp311.py3-cp311.abi3-manylinux_2_17_x86_64."
	                         "manylinux2014_x86_64.whl"),
	                 0);
	assert_string_equal(w.name, "pkg");
	assert_string_equal(w.build, "12b_x");
	assert_int_equal(w.tags.count, N(want));
	for (size_t i = 0; i < N(want); i++)
		assert_string_equal(w.tags.items[i], want[i]);
	udfenv_wheelname_dispose(&w);

	/* Repeated components expand once. */
	assert_int_equal(udfenv_wheel__parse_filename(&w, "a-1-py3.py3-none-any.whl"), 0);
	assert_int_equal(w.tags.count, 1);
	udfenv_wheelname_dispose(&w);
}

static void test_filename_invalid(void **state)
{
	static const char *const bad[] = {
	    "foo-1.0-py3-none-any.zip",     /* not .whl */
	    "foo-1.0-py3-none-any.WHL",     /* case matters, as packaging's check */
	    ".whl",                         /* nothing */
	    "foo-1.0.whl",                  /* too few parts */
	    "foo-1.0-py3-none.whl",         /* too few */
	    "foo-1.0-1-2-py3-none-any.whl", /* too many */
	    "foo-1.0-b1-py3-none-any.whl",  /* build tag not starting with a digit */
	    "-1.0-py3-none-any.whl",        /* empty name */
	    "foo_-1.0-py3-none-any.whl",    /* name ending in a separator */
	    "f o-1.0-py3-none-any.whl",     /* space */
	    "foo--py3-none-any.whl",        /* empty version */
	    "foo-1.0-py3--any.whl",         /* empty abi */
	    "foo-1.0-py3-none-any..whl",    /* empty platform component */
	    "foo-1.0-py3-none-.any.whl",    /* empty platform component */
	    "foo-1.0-py3-no/ne-any.whl",    /* a '/' */
	    "dir/foo-1.0-py3-none-any.whl", /* not a bare name */
	};
	udfenv_wheelname w = UDFENV_WHEELNAME_INIT;

	(void)state;
	for (size_t i = 0; i < N(bad); i++) {
		int error = udfenv_wheel__parse_filename(&w, bad[i]);
		if (error != UDFENV_EINVALID)
			fail_msg("'%s' parsed (%d)", bad[i], error);
		tu_assert_message_contains("is not a wheel file name");
		assert_null(w.name);
		assert_int_equal(w.tags.count, 0);
	}
}

/* ---- metadata ---- */

static void test_metadata(void **state)
{
	fx *f = *state;
	char whl[P];
	udfenv_wheel_metadata m = UDFENV_WHEEL_METADATA_INIT;
	const wf files[] = {
	    F("demo/__init__.py", ""),
	    F(DI "/METADATA", "Metadata-Version: 2.1\r\nName: demo\r\nVersion: 1.0\r\n"
	                      "Summary: folded\r\n  summary\r\n"
	                      "Requires-Python: >=3.8\n"
	                      "Requires-Dist: six (>=1.0)\n"
	                      "requires-dist: attrs; python_version < \"3.10\"\n"
	                      "Requires-Dist: typing_extensions;\n\t extra == \"x\"\n"
	                      "\n"
	                      "Requires-Dist: not-a-header-in-the-body\n"),
	    F(DI "/WHEEL", WHEEL_PURE),
	};

	make_wheel(f, whl, DEMO_WHL, DI, files, N(files));
	if (udfenv_wheel__read_metadata(&m, whl, DEMO_WHL) < 0)
		fail_msg("%s", udfenv_error_last()->message);
	assert_string_equal(m.name, "demo");
	assert_string_equal(m.version, "1.0");
	assert_string_equal(m.requires_python, ">=3.8");
	assert_string_equal(m.dist_info, DI);
	assert_int_equal(m.requires_dist.count, 3);
	assert_string_equal(m.requires_dist.items[0], "six (>=1.0)");
	assert_string_equal(m.requires_dist.items[1], "attrs; python_version < \"3.10\"");
	assert_string_equal(m.requires_dist.items[2], "typing_extensions;\t extra == \"x\"");
	udfenv_wheel_metadata_dispose(&m);
	udfenv_wheel_metadata_dispose(&m);
}

static void test_metadata_escaped_names(void **state)
{
	fx *f = *state;
	char whl[P];
	udfenv_wheel_metadata m = UDFENV_WHEEL_METADATA_INIT;
	const wf files[] = {
	    F("Foo_Bar-2.0rc1.dist-info/METADATA", "Name: Foo.Bar\nVersion: 2.0rc1\n\n"),
	    F("Foo_Bar-2.0rc1.dist-info/WHEEL", "Wheel-Version: 1.9\n"), /* newer minor: warns */
	};

	make_wheel(f, whl, "foo.bar-2.0RC1-py3-none-any.whl", "Foo_Bar-2.0rc1.dist-info", files,
	           N(files));
	if (udfenv_wheel__read_metadata(&m, whl, NULL) < 0)
		fail_msg("%s", udfenv_error_last()->message);
	assert_string_equal(m.name, "Foo.Bar");
	assert_null(m.requires_python);
	assert_int_equal(m.requires_dist.count, 0);
	udfenv_wheel_metadata_dispose(&m);
}

static void assert_metadata_refused(fx *f, const wf *files, size_t n, const char *file, int code,
                                    const char *w1, const char *w2)
{
	char whl[P];
	udfenv_wheel_metadata m = UDFENV_WHEEL_METADATA_INIT;

	make_wheel_t(f, whl, file, DI, files, n, NO_RECORD, NULL); /* not read here */
	assert_error(udfenv_wheel__read_metadata(&m, whl, file), code, w1, w2);
	assert_null(m.name);
	assert_null(m.dist_info);
	assert_int_equal(unlink(whl), 0);
}

static void test_metadata_refused(void **state)
{
	fx *f = *state;
	const wf no_metadata[] = {F("demo/__init__.py", ""), F(DI "/WHEEL", WHEEL_PURE)};
	const wf no_wheel[] = {F(DI "/METADATA", METADATA)};
	const wf no_dist_info[] = {F("demo/__init__.py", "")};
	const wf two[] = {F(DI "/METADATA", METADATA), F(DI "/WHEEL", WHEEL_PURE),
	                  F("other-1.0.dist-info/METADATA", METADATA)};
	const wf v2[] = {F(DI "/METADATA", METADATA), F(DI "/WHEEL", "Wheel-Version: 2.0\n")};
	const wf v0[] = {F(DI "/METADATA", METADATA), F(DI "/WHEEL", "Wheel-Version: 0.9\n")};
	const wf vbad[] = {F(DI "/METADATA", METADATA), F(DI "/WHEEL", "Wheel-Version: 1.x\n")};
	const wf vnone[] = {F(DI "/METADATA", METADATA), F(DI "/WHEEL", "Root-Is-Purelib: true\n")};
	const wf other[] = {F("other-1.0.dist-info/METADATA", METADATA),
	                    F("other-1.0.dist-info/WHEEL", WHEEL_PURE)};
	const wf other_version[] = {F("demo-1.1.dist-info/METADATA", METADATA),
	                            F("demo-1.1.dist-info/WHEEL", WHEEL_PURE)};
	const wf no_name[] = {F(DI "/METADATA", "Version: 1.0\n\n"), F(DI "/WHEEL", WHEEL_PURE)};
	const wf name_in_body[] = {F(DI "/METADATA", "Version: 1.0\n\nName: demo\n"),
	                           F(DI "/WHEEL", WHEEL_PURE)};

	assert_metadata_refused(f, no_metadata, N(no_metadata), DEMO_WHL, UDFENV_EINVALID,
	                        "'" DEMO_WHL "' is not a valid wheel", "no .dist-info/METADATA");
	assert_metadata_refused(f, no_wheel, N(no_wheel), DEMO_WHL, UDFENV_EINVALID,
	                        "no .dist-info/WHEEL", NULL);
	assert_metadata_refused(f, no_dist_info, N(no_dist_info), DEMO_WHL, UDFENV_EINVALID,
	                        "no .dist-info/METADATA", NULL);
	assert_metadata_refused(f, two, N(two), DEMO_WHL, UDFENV_EINVALID,
	                        "more than one .dist-info", "other-1.0.dist-info");
	assert_metadata_refused(f, v2, N(v2), DEMO_WHL, UDFENV_EINVALID, "Wheel-Version 2",
	                        "not supported");
	assert_metadata_refused(f, v0, N(v0), DEMO_WHL, UDFENV_EINVALID, "Wheel-Version 0", NULL);
	assert_metadata_refused(f, vbad, N(vbad), DEMO_WHL, UDFENV_EINVALID,
	                        "invalid Wheel-Version", NULL);
	assert_metadata_refused(f, vnone, N(vnone), DEMO_WHL, UDFENV_EINVALID, "no Wheel-Version",
	                        NULL);
	assert_metadata_refused(f, other, N(other), DEMO_WHL, UDFENV_EINVALID,
	                        "'other-1.0.dist-info' is not demo-1.0.dist-info", NULL);
	assert_metadata_refused(f, other_version, N(other_version), DEMO_WHL, UDFENV_EINVALID,
	                        "is not demo-1.0.dist-info", NULL);
	assert_metadata_refused(f, no_name, N(no_name), DEMO_WHL, UDFENV_EINVALID,
	                        "METADATA has no Name", NULL);
	assert_metadata_refused(f, name_in_body, N(name_in_body), DEMO_WHL, UDFENV_EINVALID,
	                        "METADATA has no Name", NULL);
	assert_metadata_refused(f, no_metadata, N(no_metadata), "demo.zip", UDFENV_EINVALID,
	                        "'demo.zip' is not a wheel file name", NULL);
}

static void test_metadata_cap_and_corrupt(void **state)
{
	fx *f = *state;
	char whl[P], path[P];
	udfenv_wheel_metadata m = UDFENV_WHEEL_METADATA_INIT;
	size_t big = UDFENV_WHEEL_MAX_META + 1;
	char *huge = malloc(big + 1);
	wf files[] = {F(DI "/METADATA", NULL), F(DI "/WHEEL", WHEEL_PURE)};

	assert_non_null(huge);
	memset(huge, 'x', big);
	huge[big] = '\0';
	files[0].data = huge;
	make_wheel(f, whl, DEMO_WHL, DI, files, N(files));
	assert_error(udfenv_wheel__read_metadata(&m, whl, DEMO_WHL), UDFENV_ELIMIT, DI "/METADATA",
	             "larger than");
	free(huge);

	tu_pathf(path, "%s/not-0.1-py3-none-any.whl", f->in);
	tu_write_file(path, "this is not a zip file\n", 0644);
	assert_error(udfenv_wheel__read_metadata(&m, path, NULL), UDFENV_EINVALID,
	             "not a valid zip file", NULL);
	tu_pathf(path, "%s/missing-0.1-py3-none-any.whl", f->in);
	assert_error(udfenv_wheel__read_metadata(&m, path, NULL), UDFENV_ENOTFOUND, "missing",
	             NULL);
}

/*
 * A hostile METADATA of half a million continuation lines, under the 1 MiB
 * cap: parsed correctly and in linear time (the quadratic version took
 * seconds). Time is compared with a quarter of the lines, not with a fixed
 * bound, so that the check holds under valgrind too: linear is 4 times
 * slower, quadratic 16.
 */
static double read_continuations_secs(fx *f, int lines)
{
	char whl[P];
	udfenv_buf md = UDFENV_BUF_INIT;
	wf files[] = {F(DI "/METADATA", NULL), F(DI "/WHEEL", WHEEL_PURE)};
	double best = 1e9;

	assert_int_equal(udfenv_buf_puts(&md, "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"
	                                      "Requires-Dist: six\n"),
	                 0);
	for (int i = 0; i < lines; i++)
		assert_int_equal(udfenv_buf_puts(&md, i % 2 ? " \n" : "\t\n"), 0);
	assert_int_equal(udfenv_buf_puts(&md, "Requires-Dist: attrs\n\n"), 0);
	assert_true(md.size <= UDFENV_WHEEL_MAX_META);
	files[0].data = md.ptr;
	make_wheel(f, whl, DEMO_WHL, DI, files, N(files));

	for (int round = 0; round < 3; round++) {
		udfenv_wheel_metadata m = UDFENV_WHEEL_METADATA_INIT;
		double t0 = udfenv_now(), secs;

		if (udfenv_wheel__read_metadata(&m, whl, DEMO_WHL) < 0)
			fail_msg("%s", udfenv_error_last()->message);
		secs = udfenv_now() - t0;
		best = secs < best ? secs : best;
		assert_string_equal(m.name, "demo");
		assert_int_equal(m.requires_dist.count, 2);
		assert_string_equal(m.requires_dist.items[0], "six"); /* unfolded, trimmed */
		assert_string_equal(m.requires_dist.items[1], "attrs");
		udfenv_wheel_metadata_dispose(&m);
	}
	udfenv_buf_dispose(&md);
	return best;
}

static void test_metadata_many_continuations(void **state)
{
	fx *f = *state;
	double quarter = read_continuations_secs(f, 125000);
	double full = read_continuations_secs(f, 500000);

	if (full > 8 * quarter + 0.02)
		fail_msg("500000 continuation lines took %.3f s, 125000 took %.3f s: not linear", full,
		         quarter);
}

/* ---- entry_points.txt ---- */

/* Exactly `len` bytes, no NUL after them: ASan sees any access past the end. */
static char *exact_copy(const char *s, size_t len)
{
	char *p = malloc(len);

	assert_non_null(p);
	memcpy(p, s, len);
	return p;
}

static void test_entry_points_text(void **state)
{
	static const char text[] = "[console_scripts]\r\n  tool = demo.cli:main [x]\n"
	                           "# a comment\n[gui_scripts]\nwin=demo:gui\n"
	                           "[other]\nkey = anything: goes here\n"
	                           "[console_scripts]\ntool = demo:again\nlast = a.b:c\t ";
	size_t len = sizeof(text) - 1;
	char *p = exact_copy(text, len);
	udfenv_wheel_eps console, gui;

	(void)state;
	memset(&console, 0, sizeof(console));
	memset(&gui, 0, sizeof(gui));
	assert_int_equal(udfenv_wheel__entry_points(&console, &gui, p, len, DEMO_WHL), 0);
	assert_memory_equal(p, text, len); /* not modified */
	assert_int_equal(console.count, 2);
	assert_string_equal(console.items[0].name, "tool"); /* replaced in place */
	assert_string_equal(console.items[0].module, "demo");
	assert_string_equal(console.items[0].attr, "again");
	assert_string_equal(console.items[1].name, "last");
	assert_string_equal(console.items[1].module, "a.b");
	assert_string_equal(console.items[1].attr, "c");
	assert_int_equal(gui.count, 1);
	assert_string_equal(gui.items[0].name, "win");
	udfenv_wheel__eps_dispose(&console);
	udfenv_wheel__eps_dispose(&gui);
	free(p);

	/* The refusal of a last line without '=' or newline reads nothing past it either. */
	static const char bad[] = "[console_scripts]\nx = a:b\nnoequals";
	p = exact_copy(bad, sizeof(bad) - 1);
	assert_error(udfenv_wheel__entry_points(&console, &gui, p, sizeof(bad) - 1, DEMO_WHL),
	             UDFENV_EINVALID, "line 3 of entry_points.txt has no '='", NULL);
	udfenv_wheel__eps_dispose(&console);
	udfenv_wheel__eps_dispose(&gui);
	free(p);
}

/* ---- installing ---- */

static const wf pure_files[] = {
    F("demo/__init__.py", ""),
    X("demo/cli.py", "def main(): pass\n"),
    {"demo/sub/", NULL, 0755, NULL},                   /* a directory entry */
    F(DI "/METADATA", METADATA),
    F(DI "/WHEEL", WHEEL_PURE),
    F(DI "/top_level.txt", "demo\n"),
};

static void test_install_pure(void **state)
{
	fx *f = *state;
	char whl[P];
	const mode_t file = 0666 & ~f->umask, exe = (0777 & ~f->umask) | 0111;
	/* pip 23.2.1's RECORD for this wheel (INSTALLER aside). */
	static const char want[] =
	    "demo-1.0.dist-info/INSTALLER,sha256=Vv2cA-g-zksoRsLb4M2odi84bJ1nIpxYQeDtTlq8HV8,7\r\n"
	    "demo-1.0.dist-info/METADATA,sha256=-_vhkFfN_X4W3gzhfbWYqEThE0CsYTHCSkVnARsqsdk,47\r\n"
	    "demo-1.0.dist-info/RECORD,,\r\n"
	    "demo-1.0.dist-info/REQUESTED,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0\r\n"
	    "demo-1.0.dist-info/WHEEL,sha256=BPgaA6WRI3rEEl9qznV-oCBB7GDhTbWus1jaVs8Yppo,76\r\n"
	    "demo-1.0.dist-info/top_level.txt,sha256=65wmuu5H8Z5Jk6d7ypNtD_CeNVqC09t5vxVOv_GoBgQ,"
	    "5\r\n"
	    "demo/__init__.py,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0\r\n"
	    "demo/cli.py,sha256=yu4TfDjrXqSwRW04WYar1Jdfi8EkIQGYcEKizsWCGv0,17\r\n";

	make_wheel(f, whl, DEMO_WHL, DI, pure_files, N(pure_files));
	assert_installs(f, whl, 1);
	assert_file(f->purelib, "demo/__init__.py", "", file);
	assert_file(f->purelib, "demo/cli.py", "def main(): pass\n", exe);
	assert_absent(f->purelib, "demo/sub"); /* pip makes no empty dirs */
	assert_file(f->purelib, DI "/METADATA", METADATA, file);
	assert_file(f->purelib, DI "/INSTALLER", "udfenv\n", file);
	assert_file(f->purelib, DI "/REQUESTED", "", file);
	assert_file(f->purelib, DI "/RECORD", NULL, file);
	check_record(f->purelib, want);
	assert_absent(f->prefix, "lib64");
	assert_absent(f->prefix, "bin");

	/* Again over the same prefix: files are replaced, as pip replaces them. */
	assert_installs(f, whl, 0);
	assert_file(f->purelib, "demo/cli.py", "def main(): pass\n", exe);
}

static void test_install_data_and_platlib(void **state)
{
	fx *f = *state;
	char whl[P];
	const mode_t file = 0666 & ~f->umask, exe = (0777 & ~f->umask) | 0111;
	const wf files[] = {
	    F("demo/core.py", "x = 1\n"),
	    F("demo-1.0.data/purelib/pure_mod.py", "p\n"),
	    F("demo-1.0.data/platlib/plat_mod.py", "q\n"),
	    X("demo-1.0.data/scripts/tool", "#!/bin/sh\necho hi\n"),
	    F("demo-1.0.data/headers/demo.h", "int x;\n"),
	    F("demo-1.0.data/data/share/demo/deep/x.txt", "data\n"),
	    F(DI "/METADATA", METADATA),
	    F(DI "/WHEEL", WHEEL_PLAT),
	};
	char want[4096];

	make_wheel(f, whl, DEMO_WHL, DI, files, N(files));
	assert_installs(f, whl, 0);
	assert_file(f->platlib, "demo/core.py", "x = 1\n", file);
	assert_file(f->purelib, "pure_mod.py", "p\n", file);
	assert_file(f->platlib, "plat_mod.py", "q\n", file);
	assert_file(f->scripts, "tool", "#!/bin/sh\necho hi\n", exe);
	assert_file(f->headers, "demo.h", "int x;\n", file);
	assert_file(f->prefix, "share/demo/deep/x.txt", "data\n", file);
	assert_file(f->platlib, DI "/INSTALLER", "udfenv\n", file);
	assert_absent(f->platlib, DI "/REQUESTED");
	assert_absent(f->platlib, "demo-1.0.data");
	assert_absent(f->purelib, DI);
	tu_pathf(
	    want,
	    "../../../bin/tool,sha256=KZABho-4wC_UMcM2xtBY9VWMXf9bWvXm_gS4cKapy7o,18\r\n"
	    "../../../include/python3.11/demo/"
	    "demo.h,sha256=fHJfMIVKRgM92U9yisawjK8QhFmTzT7UjkAHnNsKdqY,"
	    "7\r\n"
	    "../../../lib/python3.11/site-packages/"
	    "pure_mod.py,sha256=_WZBZz5_O_boDkvFQB_LKCGh4RcgbI"
	    "4cZc7yOljcN_8,2\r\n"
	    "../../../share/demo/deep/"
	    "x.txt,sha256=Zmey0aq2oAyqWu5a-K2fFGXlZ6vxwgnRVyfVez6Pbl8,5\r\n"
	    "demo-1.0.dist-info/INSTALLER,sha256=Vv2cA-g-zksoRsLb4M2odi84bJ1nIpxYQeDtTlq8HV8,7\r\n"
	    "demo-1.0.dist-info/METADATA,sha256=-_vhkFfN_X4W3gzhfbWYqEThE0CsYTHCSkVnARsqsdk,47\r\n"
	    "demo-1.0.dist-info/RECORD,,\r\n"
	    "demo-1.0.dist-info/WHEEL,sha256=KLg5qGjGmLvKF8WKnKkpPCSTZLHTs_uGBkqw-cU8lNc,61\r\n"
	    "demo/core.py,sha256=nia_NpkRxFwkPGhBR7I_yeHc_PJX0pmhxjIBam_NM_Q,6\r\n"
	    "plat_mod.py,sha256=StwzvZ_nQwPDRL5G5ZFtZRgvshjiSP6ARSqz8CWwbGQ,2\r\n");
	check_record(f->platlib, want);
}

static void test_install_shebangs(void **state)
{
	fx *f = *state;
	char whl[P];
	const mode_t file = 0666 & ~f->umask, exe = (0777 & ~f->umask) | 0111;
	const wf files[] = {
	    X("demo-1.0.data/scripts/s1", "#!python\nprint(1)\n"),
	    F("demo-1.0.data/scripts/s2", "#!pythonw -u\r\nprint(2)\n"), /* no x bit: stays 0644 */
	    X("demo-1.0.data/scripts/s3", "#!/usr/bin/python3\nprint(3)\n"),
	    X("demo-1.0.data/scripts/s4", "#!python3.11 -E\nprint(4)\n"),
	    X("demo-1.0.data/scripts/s5", "#!python"),
	    X("demo-1.0.data/scripts/sub/s6", "#!pytho\n"),
	    X("demo-1.0.data/scripts/s7", "  #!python\n"),
	    F("demo/x.py", "#!python\n"), /* not a script: untouched */
	    F(DI "/METADATA", METADATA),
	    F(DI "/WHEEL", WHEEL_PURE),
	};

	make_wheel(f, whl, DEMO_WHL, DI, files, N(files));
	assert_installs(f, whl, 0);
	assert_file(f->scripts, "s1", "#!" PY "\nprint(1)\n", exe);
	assert_file(f->scripts, "s2", "#!" PY "\nprint(2)\n", file);
	assert_file(f->scripts, "s3", "#!/usr/bin/python3\nprint(3)\n", exe);
	assert_file(f->scripts, "s4", "#!" PY "\nprint(4)\n", exe);
	assert_file(f->scripts, "s5", "#!" PY "\n", exe);
	assert_file(f->scripts, "sub/s6", "#!pytho\n", exe);
	assert_file(f->scripts, "s7", "  #!python\n", exe);
	assert_file(f->purelib, "demo/x.py", "#!python\n", file);
	check_record(f->purelib, NULL); /* rewritten scripts are rehashed */
}

/* The launcher pip 23.2.1 writes for "name = demo.cli:obj.attr" with PY. */
#define LAUNCHER_BODY(mod, imp, func)                                                              \
	"# -*- coding: utf-8 -*-\n"                                                                \
	"import re\n"                                                                              \
	"import sys\n"                                                                             \
	"from " mod " import " imp "\n"                                                            \
	"if __name__ == '__main__':\n"                                                             \
	"    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"                 \
	"    sys.exit(" func "())\n"

static const char entry_points[] = "# comment\n"
                                   "[console_scripts]\n"
                                   "plain = demo.cli:main\n"
                                   "  dotted.name=demo.cli:main  \n"
                                   "nested = demo.cli:obj.attr\n"
                                   "withextra = demo.cli:main [extra1, extra2]\n"
                                   "x+y = demo.cli:first\n"
                                   "x+y = demo.cli:main\n"
                                   "\n"
                                   "[gui_scripts]\n"
                                   "gplain = demo.gui:main\n"
                                   "[other.group]\n"
                                   "anything = goes here\n";

static void test_install_launchers(void **state)
{
	fx *f = *state;
	char whl[P];
	const mode_t launcher = (0666 & ~f->umask) | 0555, exe = (0777 & ~f->umask) | 0111;
	const wf files[] = {
	    F("demo/cli.py", "def main(): pass\n"),
	    F(DI "/METADATA", METADATA),
	    F(DI "/WHEEL", WHEEL_PURE),
	    F(DI "/entry_points.txt", entry_points),
	    /* setuptools' wrappers of the entry points: pip skips them */
	    X("demo-1.0.data/scripts/plain", "#!python\nwrapper\n"),
	    X("demo-1.0.data/scripts/plain.exe", "exe"),
	    X("demo-1.0.data/scripts/gplain-script.py", "w"),
	    X("demo-1.0.data/scripts/other", "o"),
	};

	make_wheel(f, whl, DEMO_WHL, DI, files, N(files));
	assert_installs(f, whl, 0);
	assert_file(f->scripts, "plain", "#!" PY "\n" LAUNCHER_BODY("demo.cli", "main", "main"),
	            launcher);
	assert_file(f->scripts, "dotted.name",
	            "#!" PY "\n" LAUNCHER_BODY("demo.cli", "main", "main"), launcher);
	assert_file(f->scripts, "nested", "#!" PY "\n" LAUNCHER_BODY("demo.cli", "obj", "obj.attr"),
	            launcher);
	assert_file(f->scripts, "withextra", "#!" PY "\n" LAUNCHER_BODY("demo.cli", "main", "main"),
	            launcher);
	assert_file(f->scripts, "x+y", "#!" PY "\n" LAUNCHER_BODY("demo.cli", "main", "main"),
	            launcher);
	assert_file(f->scripts, "gplain", "#!" PY "\n" LAUNCHER_BODY("demo.gui", "main", "main"),
	            launcher);
	assert_file(f->scripts, "other", "o", exe);
	assert_absent(f->scripts, "plain.exe");
	assert_absent(f->scripts, "gplain-script.py");
	assert_absent(f->scripts, "anything");
	assert_int_equal(tu_count_entries(f->scripts), 7);
	check_record(f->purelib, NULL);

	/* The skipped wrappers keep their rows as the wheel had them, as pip keeps them. */
	char path[P];
	tu_pathf(path, "%s/" DI "/RECORD", f->purelib);
	char *record = tu_read_text(path);
	tu_assert_contains(record, "\r\ndemo-1.0.data/scripts/plain.exe,sha256=");
	tu_assert_contains(record, "\r\n../../../bin/plain,sha256=");
	free(record);
}

static void test_launcher_shebang_forms(void **state)
{
	fx *f = *state;
	char whl[P], longpy[200];
	const wf files[] = {
	    F(DI "/METADATA", METADATA),
	    F(DI "/WHEEL", WHEEL_PURE),
	    F(DI "/entry_points.txt", "[console_scripts]\nx = m:f\n"),
	    X("demo-1.0.data/scripts/s", "#!python\nrest\n"),
	};

	make_wheel(f, whl, DEMO_WHL, DI, files, N(files));

	/* A path with a space: quoted, through /bin/sh; #!python gets it as it is. */
	f->scheme.python = "/opt/my py/bin/python";
	assert_installs(f, whl, 0);
	assert_file(
	    f->scripts, "x",
	    "#!/bin/sh\n'''exec' \"/opt/my py/bin/python\" \"$0\" \"$@\"\n' '''\n" LAUNCHER_BODY(
	        "m", "f", "f"),
	    0);
	assert_file(f->scripts, "s", "#!/opt/my py/bin/python\nrest\n", 0);

	/* 124 bytes + "#!" and "\n" = 127: still a plain shebang; one more is not. */
	memset(longpy, 'p', sizeof(longpy));
	memcpy(longpy, "/opt/", 5);
	longpy[124] = '\0';
	f->scheme.python = longpy;
	assert_installs(f, whl, 0);
	char want[1024];
	snprintf(want, sizeof(want), "#!%s\n%s", longpy, LAUNCHER_BODY("m", "f", "f"));
	assert_file(f->scripts, "x", want, 0);
	longpy[124] = 'p';
	longpy[125] = '\0';
	assert_installs(f, whl, 0);
	snprintf(want, sizeof(want), "#!/bin/sh\n'''exec' %s \"$0\" \"$@\"\n' '''\n%s", longpy,
	         LAUNCHER_BODY("m", "f", "f"));
	assert_file(f->scripts, "x", want, 0);
	f->scheme.python = PY;
}

static void test_pip_versioned_launchers(void **state)
{
	fx *f = *state;
	char whl[P];
	const wf files[] = {
	    F("tool-2.0.dist-info/METADATA", "Name: tool\nVersion: 2.0\n\n"),
	    F("tool-2.0.dist-info/WHEEL", WHEEL_PURE),
	    F("tool-2.0.dist-info/entry_points.txt", "[console_scripts]\n"
	                                             "pip = tool:main\npip3 = tool:main\n"
	                                             "pip3.8 = tool:main\npipx = tool:other\n"
	                                             "easy_install = tool:ei\n"
	                                             "easy_install-3.8 = tool:ei\n"),
	};
	static const char *const made[] = {"pip",  "pip3",         "pip3.11",
	                                   "pipx", "easy_install", "easy_install-3.11"};

	make_wheel(f, whl, "tool-2.0-py3-none-any.whl", "tool-2.0.dist-info", files, N(files));
	assert_installs(f, whl, 0);
	for (size_t i = 0; i < N(made); i++)
		assert_file(f->scripts, made[i], NULL, 0);
	assert_int_equal(tu_count_entries(f->scripts), N(made));
	assert_file(f->scripts, "easy_install-3.11", "#!" PY "\n" LAUNCHER_BODY("tool", "ei", "ei"),
	            0);

	/* Without "pythonX.Y" in purelib the version is unknown: refused. */
	assert_int_equal(udfenv_fs_rmtree(f->prefix), 0);
	char pure[P];
	tu_pathf(pure, "%s/site", f->prefix);
	f->scheme.purelib = pure;
	assert_refused(f, whl, UDFENV_EINVALID, "pip or easy_install console script", "pythonX.Y");
	f->scheme.purelib = f->purelib;
}

static void test_entry_points_refused(void **state)
{
	fx *f = *state;
	char whl[P], ep[256];
	static const struct {
		const char *line, *word;
	} bad[] = {
	    {"a/b = demo:main", "invalid name"}, /* pip would install "b" */
	    {"x y = demo:main", "invalid name"}, /* pip would install "y" */
	    {".hidden = demo:main", "invalid name"},
	    {"= demo:main", "invalid name"},
	    {"a\\b = demo:main", "invalid name"},
	    {"x = demo", "is not 'module:function'"}, /* pip: a callable suffix is required */
	    {"x = demo:", "is not 'module:function'"},
	    {"x = :main", "is not 'module:function'"},
	    {"x = demo:a:b", "is not 'module:function'"},
	    {"x = demo-cli:main", "is not 'module:function'"},
	    {"x = demo : main", "is not 'module:function'"},
	    {"x = demo.:main", "is not 'module:function'"},
	    {"x = demo:main [x", "is not 'module:function'"},
	    {"x = demo:main extra", "is not 'module:function'"},
	    {"no equals sign", "has no '='"},
	};

	for (size_t i = 0; i < N(bad); i++) {
		snprintf(ep, sizeof(ep), "[gui_scripts]\nok = a:b\n[console_scripts]\n%s\n",
		         bad[i].line);
		const wf files[] = {F(DI "/METADATA", METADATA), F(DI "/WHEEL", WHEEL_PURE),
		                    F(DI "/entry_points.txt", ep)};
		make_wheel(f, whl, DEMO_WHL, DI, files, N(files));
		int error = install(f, whl, NULL, 0);
		if (error != UDFENV_EINVALID || !strstr(udfenv_error_last()->message, bad[i].word))
			fail_msg("'%s': %d %s", bad[i].line, error, udfenv_error_last()->message);
		assert_int_equal(tu_count_entries(f->prefix), 0);
	}

	/* The same name in both groups. */
	const wf both[] = {
	    F(DI "/METADATA", METADATA), F(DI "/WHEEL", WHEEL_PURE),
	    F(DI "/entry_points.txt", "[console_scripts]\nx = a:b\n[gui_scripts]\nx = a:c\n")};
	make_wheel(f, whl, DEMO_WHL, DI, both, N(both));
	assert_refused(f, whl, UDFENV_ECONFLICT, "'x' is both a console and a gui script", NULL);
}

static void test_record_refusals(void **state)
{
	fx *f = *state;
	char whl[P];

	make_wheel_t(f, whl, DEMO_WHL, DI, pure_files, N(pure_files), T_HASH, "demo/cli.py");
	assert_refused(f, whl, UDFENV_EUNSAFE, "'" DEMO_WHL "': 'demo/cli.py'",
	               "does not match its RECORD hash");
	make_wheel_t(f, whl, DEMO_WHL, DI, pure_files, N(pure_files), T_SIZE, DI "/METADATA");
	assert_refused(f, whl, UDFENV_EUNSAFE, "'" DI "/METADATA'",
	               "does not match its RECORD size");
	make_wheel_t(f, whl, DEMO_WHL, DI, pure_files, N(pure_files), T_UNLISTED, DI "/top_level.txt");
	assert_refused(f, whl, UDFENV_EUNSAFE, "'" DI "/top_level.txt'", "is not listed in RECORD");
	make_wheel_t(f, whl, DEMO_WHL, DI, pure_files, N(pure_files), T_NOHASH, "demo/__init__.py");
	assert_refused(f, whl, UDFENV_EUNSAFE, "'demo/__init__.py'", "has no hash in RECORD");
	make_wheel_t(f, whl, DEMO_WHL, DI, pure_files, N(pure_files), NO_RECORD, NULL);
	assert_refused(f, whl, UDFENV_EINVALID, "is not a valid wheel", "no .dist-info/RECORD");
}

/*
 * A refusal only the bytes show (a hash, found while writing) leaves what
 * earlier wheels installed as it was: the files this wheel wrote before it
 * are removed, and one it would replace is replaced only once all passed.
 */
static void test_refusal_while_writing(void **state)
{
	fx *f = *state;
	char whl[P], demo[P];
	const mode_t file = 0666 & ~f->umask, exe = (0777 & ~f->umask) | 0111;
	const wf v2[] = {
	    F("demo/__init__.py", "# v2\n"), F("demo/new.py", "x = 1\n"),
	    X("demo/cli.py", "def main(): return 2\n"), F(DI "/METADATA", METADATA),
	    F(DI "/WHEEL", WHEEL_PURE),
	};

	make_wheel(f, whl, DEMO_WHL, DI, pure_files, N(pure_files));
	assert_installs(f, whl, 1);
	tu_pathf(demo, "%s/demo", f->purelib);
	assert_int_equal(tu_count_entries(demo), 2);

	make_wheel_t(f, whl, DEMO_WHL, DI, v2, N(v2), T_HASH, "demo/cli.py");
	assert_error(install(f, whl, NULL, 1), UDFENV_EUNSAFE, "'demo/cli.py'",
	             "does not match its RECORD hash");
	assert_file(f->purelib, "demo/__init__.py", "", file);
	assert_file(f->purelib, "demo/cli.py", "def main(): pass\n", exe);
	assert_absent(f->purelib, "demo/new.py");
	assert_int_equal(tu_count_entries(demo), 2); /* no temp file left beside them */

	make_wheel(f, whl, DEMO_WHL, DI, v2, N(v2));
	assert_installs(f, whl, 1);
	assert_file(f->purelib, "demo/__init__.py", "# v2\n", file);
	assert_file(f->purelib, "demo/new.py", "x = 1\n", file);
	assert_file(f->purelib, "demo/cli.py", "def main(): return 2\n", exe);
	assert_int_equal(tu_count_entries(demo), 3);
}

static void test_record_paths(void **state)
{
	fx *f = *state;
	char whl[P], rec[1024], h[64];
	struct archive *a = archive_write_new();
	const char *files[][2] = {{DI "/METADATA", METADATA},
	                          {DI "/WHEEL", WHEEL_PURE},
	                          {"demo/a,b.py", "q"},
	                          {DI "/RECORD.jws", "signature"}};

	/* RECORD with a quoted name, sha512, padding, a stale row and a row for itself with a hash.
	 */
	tu_pathf(whl, "%s/" DEMO_WHL, f->in);
	assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, whl), ARCHIVE_OK);
	rec[0] = '\0';
	for (size_t i = 0; i < 3; i++) {
		add_entry(a, files[i][0], files[i][1], 0644, NULL);
		record_hash(h, files[i][1], strlen(files[i][1]));
		if (i == 2)
			snprintf(rec + strlen(rec), sizeof(rec) - strlen(rec),
			         "\"demo/"
			         "a,b.py\",sha512=LpZ3IjJIf7OgWNWPLDEAI-B-QBfJTVbMX65LVLRGBfQqdbCx8"
			         "1iZH4xsvptotk5bKgnQrSP8rAfumpGYp0Xh1Q==,1\r\n");
		else
			snprintf(rec + strlen(rec), sizeof(rec) - strlen(rec), "%s,%s,%zu\n",
			         files[i][0], h, strlen(files[i][1]));
	}
	add_entry(a, files[3][0], files[3][1], 0644, NULL);
	strcat(rec, "demo/gone.py,sha256=x,1\n" DI "/RECORD,sha256=y,2\n");
	add_entry(a, DI "/RECORD", rec, 0644, NULL);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);

	assert_installs(f, whl, 0);
	assert_file(f->purelib, "demo/a,b.py", "q", 0);
	assert_file(f->purelib, DI "/RECORD.jws", "signature", 0);
	char path[P];
	tu_pathf(path, "%s/" DI "/RECORD", f->purelib);
	char *got = tu_read_text(path);
	/* Sorted by path: "demo-" before "demo/"; a RECORD row for itself gets no hash. */
	assert_string_equal(
	    got,
	    "demo-1.0.dist-info/INSTALLER,sha256=Vv2cA-g-zksoRsLb4M2odi84bJ1nIpxYQeDtTlq8HV8,7\r\n"
	    "demo-1.0.dist-info/METADATA,sha256=-_vhkFfN_X4W3gzhfbWYqEThE0CsYTHCSkVnARsqsdk,47\r\n"
	    "demo-1.0.dist-info/RECORD,,\r\n"
	    "demo-1.0.dist-info/RECORD.jws,,\r\n"
	    "demo-1.0.dist-info/WHEEL,sha256=BPgaA6WRI3rEEl9qznV-oCBB7GDhTbWus1jaVs8Yppo,76\r\n"
	    "\"demo/a,b.py\",sha512=LpZ3IjJIf7OgWNWPLDEAI-B-QBfJTVbMX65LVLRGBfQqdbCx81iZH4xsvpto"
	    "tk5bKgnQrSP8rAfumpGYp0Xh1Q==,1\r\n"
	    "demo/gone.py,sha256=x,1\r\n");
	free(got);
}

static void test_record_path_escapes(void **state)
{
	fx *f = *state;
	char whl[P];
	static const char *const rows[] = {"../../etc/passwd", "/etc/passwd", "demo/../../x"};

	for (size_t i = 0; i < N(rows); i++) {
		char rec[512], h[64];
		struct archive *a = archive_write_new();
		tu_pathf(whl, "%s/" DEMO_WHL, f->in);
		assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
		assert_int_equal(archive_write_open_filename(a, whl), ARCHIVE_OK);
		add_entry(a, DI "/METADATA", METADATA, 0644, NULL);
		add_entry(a, DI "/WHEEL", WHEEL_PURE, 0644, NULL);
		record_hash(h, METADATA, strlen(METADATA));
		snprintf(rec, sizeof(rec), DI "/METADATA,%s,%zu\n%s,,\n", h, strlen(METADATA),
		         rows[i]);
		record_hash(h, WHEEL_PURE, strlen(WHEEL_PURE));
		snprintf(rec + strlen(rec), sizeof(rec) - strlen(rec), DI "/WHEEL,%s,%zu\n", h,
		         strlen(WHEEL_PURE));
		add_entry(a, DI "/RECORD", rec, 0644, NULL);
		assert_int_equal(archive_write_close(a), ARCHIVE_OK);
		archive_write_free(a);
		assert_refused(f, whl, UDFENV_EUNSAFE, rows[i], "in RECORD");
	}
}

/*
 * open(2) as the library calls it, counting the opens of one path: this
 * executable's definition comes before libc's.
 */
static const char *watched_path;
static int watched_opens;

int open(const char *path, int flags, ...);
int open(const char *path, int flags, ...)
{
	static int (*real_open)(const char *, int, ...);
	mode_t mode = 0;

	if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) { /* O_TMPFILE holds O_DIRECTORY */
		va_list ap;
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	if (real_open == NULL)
		*(void **)&real_open = dlsym(RTLD_NEXT, "open");
	if (watched_path && strcmp(path, watched_path) == 0)
		watched_opens++;
	return real_open(path, flags, mode);
}

static void test_hash_option(void **state)
{
	fx *f = *state;
	char whl[P];
	udfenv_strvec hashes = UDFENV_STRVEC_INIT;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 8];
	udfenv_buf data = UDFENV_BUF_INIT;
	int error;

	make_wheel(f, whl, DEMO_WHL, DI, pure_files, N(pure_files));
	assert_int_equal(udfenv_fs_read_file(&data, whl, 1 << 24), 0);
	assert_int_equal(EVP_Digest(data.ptr, data.size, md, &mdlen, EVP_sha512(), NULL), 1);
	memcpy(hex, "sha512:", 7);
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(hex + 7 + 2 * i, 3, "%02X", md[i]); /* upper case is fine */

	/* None matches. */
	assert_int_equal(
	    udfenv_strvec_push(&hashes,
	                       "sha256:"
	                       "0000000000000000000000000000000000000000000000000000000000000000"),
	    0);
	assert_error(install(f, whl, &hashes, 0), UDFENV_EUNSAFE,
	             "'" DEMO_WHL "' does not match any of its --hash values", "its sha256 is ");
	assert_int_equal(tu_count_entries(f->prefix), 0);
	/*
	 * One of several does. The wheel is opened once: the file hashed is
	 * the file both passes read, whatever is renamed over its path.
	 */
	assert_int_equal(udfenv_strvec_push(&hashes, hex), 0);
	watched_path = whl;
	watched_opens = 0;
	error = install(f, whl, &hashes, 0);
	watched_path = NULL;
	if (error < 0)
		fail_msg("%s", udfenv_error_last()->message);
	assert_int_equal(watched_opens, 1);
	assert_file(f->purelib, "demo/cli.py", NULL, 0);
	/* A malformed value. */
	assert_int_equal(udfenv_fs_rmtree(f->prefix), 0);
	assert_int_equal(udfenv_strvec_push(&hashes, "md5:d41d8cd98f00b204e9800998ecf8427e"), 0);
	assert_error(install(f, whl, &hashes, 0), UDFENV_EINVALID, "md5:", "not a valid --hash");
	assert_int_equal(tu_count_entries(f->prefix), 0);
	udfenv_strvec_dispose(&hashes);
	udfenv_buf_dispose(&data);
}

static void test_layout_refusals(void **state)
{
	fx *f = *state;
	char whl[P];
	const wf unknown_key[] = {F(DI "/METADATA", METADATA), F(DI "/WHEEL", WHEEL_PURE),
	                          F("demo-1.0.data/lib/x.py", "")};
	const wf bare_data[] = {F(DI "/METADATA", METADATA), F(DI "/WHEEL", WHEEL_PURE),
	                        F("demo-1.0.data/scripts", "")};
	const wf collision[] = {F(DI "/METADATA", METADATA), F(DI "/WHEEL", WHEEL_PURE),
	                        F("demo/x.py", "a"), F("demo-1.0.data/purelib/demo/x.py", "b")};
	const wf launcher_collision[] = {F(DI "/METADATA", METADATA), F(DI "/WHEEL", WHEEL_PURE),
	                                 F(DI "/entry_points.txt", "[console_scripts]\nx = a:b\n"),
	                                 F("demo-1.0.data/data/bin/x", "b")};
	const wf symlink[] = {F(DI "/METADATA", METADATA),
	                      F(DI "/WHEEL", WHEEL_PURE),
	                      F("demo/x.py", ""),
	                      {"demo/y.py", NULL, 0, "x.py"}};
	const wf v2[] = {F(DI "/METADATA", METADATA), F(DI "/WHEEL", "Wheel-Version: 2.0\n")};
	const wf two[] = {F(DI "/METADATA", METADATA), F(DI "/WHEEL", WHEEL_PURE),
	                  F("demo-2.0.dist-info/METADATA", METADATA)};
	const wf escape[] = {F(DI "/METADATA", METADATA), F(DI "/WHEEL", WHEEL_PURE),
	                     F("demo-1.0.data/data/../../../outside", "x")};
	const wf pycache[] = {F(DI "/METADATA", METADATA), F(DI "/WHEEL", WHEEL_PURE),
	                      F("demo/x.py", ""), F("demo/__pycache__/x.cpython-311.pyc", "bytecode")};

	make_wheel(f, whl, DEMO_WHL, DI, unknown_key, N(unknown_key));
	assert_refused(f, whl, UDFENV_EINVALID, "'demo-1.0.data/lib/x.py'",
	               "unknown .data key 'lib'");
	make_wheel(f, whl, DEMO_WHL, DI, bare_data, N(bare_data));
	assert_refused(f, whl, UDFENV_EINVALID, "'demo-1.0.data/scripts'",
	               "is not '<scheme key>/<path>'");
	make_wheel(f, whl, DEMO_WHL, DI, collision, N(collision));
	assert_refused(f, whl, UDFENV_ECONFLICT,
	               "'demo-1.0.data/purelib/demo/x.py' and 'demo/x.py'",
	               "would both be installed as");
	make_wheel(f, whl, DEMO_WHL, DI, launcher_collision, N(launcher_collision));
	assert_refused(f, whl, UDFENV_ECONFLICT,
	               "'demo-1.0.data/data/bin/x' and the entry point 'x'", NULL);
	make_wheel(f, whl, DEMO_WHL, DI, symlink, N(symlink));
	assert_refused(f, whl, UDFENV_EUNSAFE, "'demo/y.py'", "is a symlink");
	make_wheel(f, whl, DEMO_WHL, DI, pycache, N(pycache));
	assert_refused(f, whl, UDFENV_EUNSAFE, "'demo/__pycache__'", "must not ship bytecode caches");
	make_wheel(f, whl, DEMO_WHL, DI, v2, N(v2));
	assert_refused(f, whl, UDFENV_EINVALID, "Wheel-Version 2", NULL);
	make_wheel(f, whl, DEMO_WHL, DI, two, N(two));
	assert_refused(f, whl, UDFENV_EINVALID, "more than one .dist-info", NULL);
	/* The extraction policy refuses it before anything else sees it. */
	make_wheel(f, whl, DEMO_WHL, DI, escape, N(escape));
	assert_refused(f, whl, UDFENV_EUNSAFE, "outside", NULL);
	tu_pathf(whl, "%s/outside", f->base);
	assert_absent(whl, "");
}

/* An error of a lower layer that names only some path gets the wheel's name in front, once. */
static void test_install_errors_name_the_wheel(void **state)
{
	fx *f = *state;
	char whl[P], lib[P];
	const char *msg;

	make_wheel(f, whl, DEMO_WHL, DI, pure_files, N(pure_files));
	/* A file where purelib's dirs must go: only the mkdir of the first file fails. */
	assert_int_equal(mkdir(f->prefix, 0755), 0);
	tu_pathf(lib, "%s/lib", f->prefix);
	tu_write_file(lib, "", 0644);
	assert_true(install(f, whl, NULL, 0) < 0);
	msg = udfenv_error_last()->message;
	if (strncmp(msg, "'" DEMO_WHL "': ", strlen(DEMO_WHL) + 4) != 0 ||
	    strstr(msg + 1, "'" DEMO_WHL "'") != NULL || strstr(msg, lib) == NULL)
		fail_msg("the message does not name the wheel once, then the path: %s", msg);

	/* One that names the wheel already is left as it was. */
	assert_int_equal(unlink(lib), 0);
	make_wheel_t(f, whl, DEMO_WHL, DI, pure_files, N(pure_files), T_HASH, "demo/cli.py");
	assert_refused(f, whl, UDFENV_EUNSAFE, "'" DEMO_WHL "': 'demo/cli.py' does not match",
	               NULL);
	assert_int_equal(strncmp(udfenv_error_last()->message, "'" DEMO_WHL "': 'demo/", 33), 0);
}

static void test_scheme_checks(void **state)
{
	fx *f = *state;
	char whl[P];
	const wf headers[] = {F(DI "/METADATA", METADATA), F(DI "/WHEEL", WHEEL_PURE),
	                      F("demo-1.0.data/headers/h.h", "")};

	make_wheel(f, whl, DEMO_WHL, DI, headers, N(headers));
	f->scheme.headers = NULL;
	assert_refused(f, whl, UDFENV_EINVALID, "headers dir, which was not given", NULL);
	f->scheme.headers = f->headers;
	f->scheme.python = "python3";
	assert_refused(f, whl, UDFENV_EINVALID, "interpreter path must be absolute", NULL);
	f->scheme.python = PY;
	f->scheme.scripts = "bin";
	assert_refused(f, whl, UDFENV_EINVALID, "scripts dir must be absolute", NULL);
	f->scheme.scripts = f->scripts;
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_filename_plain),
	    T(test_filename_compressed_and_build),
	    T(test_filename_invalid),
	    T(test_metadata),
	    T(test_metadata_escaped_names),
	    T(test_metadata_refused),
	    T(test_metadata_cap_and_corrupt),
	    T(test_metadata_many_continuations),
	    T(test_entry_points_text),
	    T(test_install_errors_name_the_wheel),
	    T(test_install_pure),
	    T(test_install_data_and_platlib),
	    T(test_install_shebangs),
	    T(test_install_launchers),
	    T(test_launcher_shebang_forms),
	    T(test_pip_versioned_launchers),
	    T(test_entry_points_refused),
	    T(test_record_refusals),
	    T(test_refusal_while_writing),
	    T(test_record_paths),
	    T(test_record_path_escapes),
	    T(test_hash_option),
	    T(test_layout_refusals),
	    T(test_scheme_checks),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
