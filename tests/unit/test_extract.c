/*
 * Unit tests of archive extraction (src/lib/extract.c) and packing
 * (src/lib/pack.c). Every archive is built here, at test time, with
 * libarchive's writer or as raw bytes, in a private temp dir that is
 * removed at the end of each test.
 */
#include <stdint.h>

#include "testutil.h"
#include "lib/extract.h"
/* The test calls libarchive directly: the loader's view, without the calls through the table. */
#define UDFENV_LIBARCHIVE_LOADER
#include "lib/libarchive.h"
#include "util/text.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <unistd.h>

#define P PATH_MAX

/* One test's directories: archives in `in`, extraction to `out`/dest. */
typedef struct {
	char base[P];
	char in[P];
	char out[P];
	char dest[P];
	char outside[P]; /* nothing may ever appear here */
} fx;

static int setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	tu_pathf(f->base, "%s/udfenv-test-extract-XXXXXX", tu_tmp_base());
	assert_non_null(mkdtemp(f->base));
	tu_pathf(f->in, "%s/in", f->base);
	tu_pathf(f->out, "%s/out", f->base);
	tu_pathf(f->dest, "%s/out/dest", f->base);
	tu_pathf(f->outside, "%s/outside", f->base);
	assert_int_equal(mkdir(f->in, 0755), 0);
	assert_int_equal(mkdir(f->out, 0755), 0);
	assert_int_equal(mkdir(f->outside, 0755), 0);
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

/* ---- building archives with libarchive ---- */

typedef struct {
	const char *name;
	mode_t type; /* AE_IF*; 0 = a tar hard link to `link` */
	mode_t perm;
	const char *data;
	const char *link;
} spec;

#define F(n, perm, d)                                                                              \
	{                                                                                          \
		n, AE_IFREG, perm, d, NULL                                                         \
	}
#define D(n)                                                                                       \
	{                                                                                          \
		n, AE_IFDIR, 0755, NULL, NULL                                                      \
	}
#define L(n, t)                                                                                    \
	{                                                                                          \
		n, AE_IFLNK, 0777, NULL, t                                                         \
	}
#define H(n, t)                                                                                    \
	{                                                                                          \
		n, 0, 0644, NULL, t                                                                \
	}
#define N(a) (sizeof(a) / sizeof((a)[0]))

enum { FMT_ZIP, FMT_PAX, FMT_GNU };

static struct archive *writer(const char *path, int fmt, int filter)
{
	struct archive *a = archive_write_new();

	assert_non_null(a);
	assert_int_equal(fmt == FMT_ZIP   ? archive_write_set_format_zip(a)
	                 : fmt == FMT_PAX ? archive_write_set_format_pax_restricted(a)
	                                  : archive_write_set_format_gnutar(a),
	                 ARCHIVE_OK);
	assert_int_equal(archive_write_add_filter(a, filter), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	return a;
}

static void add_entry(struct archive *a, const spec *s)
{
	struct archive_entry *e = archive_entry_new();
	size_t len = s->data ? strlen(s->data) : 0;

	archive_entry_set_pathname(e, s->name);
	archive_entry_set_filetype(e, s->type ? s->type : AE_IFREG);
	archive_entry_set_perm(e, s->perm);
	archive_entry_set_mtime(e, 1700000000, 0);
	if (s->type == 0)
		archive_entry_set_hardlink(e, s->link);
	if (s->type == AE_IFLNK)
		archive_entry_set_symlink(e, s->link);
	if (s->type == AE_IFCHR)
		archive_entry_set_rdev(e, makedev(1, 3));
	archive_entry_set_size(e, (la_int64_t)len);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	if (len)
		assert_int_equal(archive_write_data(a, s->data, len), (la_ssize_t)len);
	archive_entry_free(e);
}

static void finish(struct archive *a)
{
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

/* Write `name` under f->in; its path in `path`. */
static void make_archive(fx *f, char *path, const char *name, int fmt, int filter, const spec *s,
                         size_t n)
{
	struct archive *a;

	tu_pathf(path, "%s/%s", f->in, name);
	a = writer(path, fmt, filter);
	for (size_t i = 0; i < n; i++)
		add_entry(a, &s[i]);
	finish(a);
}

/* ---- building zips byte by byte ---- */

static uint32_t crc32_of(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < len; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0xedb88320u : c >> 1;
	}
	return ~c;
}

static void put16(udfenv_buf *b, unsigned v)
{
	unsigned char x[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
	assert_int_equal(udfenv_buf_put(b, x, 2), 0);
}

static void put32(udfenv_buf *b, uint32_t v)
{
	put16(b, v & 0xffff);
	put16(b, v >> 16);
}

/* A stored entry: its local header and data; `usize` is the size it declares. */
static void put_local_sized(udfenv_buf *b, const char *name, unsigned flags, const void *data,
                            size_t len, size_t usize)
{
	put32(b, 0x04034b50);
	put16(b, 20), put16(b, flags), put16(b, 0), put16(b, 0), put16(b, 0);
	put32(b, crc32_of(data, len)), put32(b, (uint32_t)len), put32(b, (uint32_t)usize);
	put16(b, (unsigned)strlen(name)), put16(b, 0);
	assert_int_equal(udfenv_buf_puts(b, name), 0);
	assert_int_equal(udfenv_buf_put(b, data, len), 0);
}

static void put_local(udfenv_buf *b, const char *name, unsigned flags, const void *data, size_t len)
{
	put_local_sized(b, name, flags, data, len, len);
}

static void put_central_sized(udfenv_buf *b, const char *name, unsigned flags, const void *data,
                              size_t len, size_t usize, uint32_t offset)
{
	put32(b, 0x02014b50);
	put16(b, 0x031e), put16(b, 20), put16(b, flags), put16(b, 0), put16(b, 0), put16(b, 0);
	put32(b, crc32_of(data, len)), put32(b, (uint32_t)len), put32(b, (uint32_t)usize);
	put16(b, (unsigned)strlen(name)), put16(b, 0), put16(b, 0), put16(b, 0), put16(b, 0);
	put32(b, (uint32_t)(0100644u << 16)), put32(b, offset);
	assert_int_equal(udfenv_buf_puts(b, name), 0);
}

static void put_central(udfenv_buf *b, const char *name, unsigned flags, const void *data,
                        size_t len, uint32_t offset)
{
	put_central_sized(b, name, flags, data, len, len, offset);
}

/* The end record: `entries`, the directory from `cd_start` to here, said to be at `cd_at`. */
static void put_end_at(udfenv_buf *b, unsigned entries, size_t cd_start, size_t cd_at,
                       size_t comment)
{
	size_t cd_size = b->size - cd_start;
	put32(b, 0x06054b50);
	put16(b, 0), put16(b, 0), put16(b, entries), put16(b, entries);
	put32(b, (uint32_t)cd_size), put32(b, (uint32_t)cd_at), put16(b, (unsigned)comment);
	for (size_t i = 0; i < comment; i++)
		assert_int_equal(udfenv_buf_putc(b, ' '), 0);
}

static void put_end(udfenv_buf *b, unsigned entries, size_t cd_start)
{
	put_end_at(b, entries, cd_start, cd_start, 0);
}

/* A zip of one stored file `name` (general purpose `flags`). */
static void raw_zip_one(const char *path, const char *name, unsigned flags, const char *data)
{
	udfenv_buf b = UDFENV_BUF_INIT;
	size_t cd;

	put_local(&b, name, flags, data, strlen(data));
	cd = b.size;
	put_central(&b, name, flags, data, strlen(data), 0);
	put_end(&b, 1, cd);
	tu_write_bytes(path, b.ptr, b.size, 0644);
	udfenv_buf_dispose(&b);
}

/* ---- assertions ---- */

static void assert_absent(const char *path)
{
	struct stat st;
	if (lstat(path, &st) == 0)
		fail_msg("'%s' exists", path);
}

/* The extraction failed with `code`, said so with these words, and left nothing behind. */
static void assert_refused_lim(fx *f, const char *archive, const udfenv_extract_limits *lim,
                               int code, const char *entry, const char *why)
{
	const char *label = strrchr(archive, '/') + 1;
	udfenv_extract_stats st = {99, 99};
	char quoted[P + 2];
	int rc = udfenv_extract__archive(archive, f->dest, label, lim, &st);
	const char *msg = udfenv_error_last()->message;

	if (rc != code)
		fail_msg("expected %d, got %d: %s", code, rc, msg);
	assert_int_equal(udfenv_error_last()->code, code);
	assert_null(strchr(msg, '\n'));
	tu_pathf(quoted, "'%s'", label);
	tu_assert_contains(msg, quoted);
	if (entry) {
		tu_pathf(quoted, "'%s'", entry);
		tu_assert_contains(msg, quoted);
	}
	tu_assert_contains(msg, why);
	assert_int_equal(st.entries, 0);
	assert_absent(f->dest);
	assert_int_equal(tu_count_entries(f->out), 0);     /* no temp dir left */
	assert_int_equal(tu_count_entries(f->outside), 0); /* nothing written outside */
}

static void assert_refused(fx *f, const char *archive, int code, const char *entry, const char *why)
{
	assert_refused_lim(f, archive, NULL, code, entry, why);
}

static void assert_extracts(fx *f, const char *archive, const udfenv_extract_limits *lim,
                            udfenv_extract_stats *st)
{
	int rc = udfenv_extract__archive(archive, f->dest, "good", lim, st);
	if (rc != 0)
		fail_msg("extraction failed (%d): %s", rc, udfenv_error_last()->message);
	assert_int_equal(tu_count_entries(f->out), 1); /* dest, and no temp dir */
}

static mode_t mode_of(fx *f, const char *rel)
{
	char p[P];
	struct stat st;

	tu_pathf(p, "%s/%s", f->dest, rel);
	if (lstat(p, &st) < 0)
		fail_msg("'%s' is missing", p);
	return st.st_mode;
}

static void assert_link(fx *f, const char *rel, const char *target)
{
	char p[P], got[P];
	ssize_t n;

	tu_pathf(p, "%s/%s", f->dest, rel);
	n = readlink(p, got, sizeof(got) - 1);
	if (n < 0)
		fail_msg("'%s' is not a symlink", p);
	got[n] = '\0';
	assert_string_equal(got, target);
}

/* ---- the happy paths ---- */

static const spec venv[] = {
    D("venv/"),
    D("venv/bin/"),
    F("venv/bin/python", 0755,
      "\x7f"
      "ELF fake interpreter"),
    L("venv/bin/python3", "python"),
    D("venv/lib/"),
    F("venv/lib/site.py", 0644, "print('hi')\n"),
    L("venv/lib64", "lib"),
    F("venv/pyvenv.cfg", 0644, "home = /usr/bin\n"),
};

static void test_venv_zip(void **state)
{
	fx *f = *state;
	udfenv_extract_stats st;
	char arch[P], p[P];

	make_archive(f, arch, "venv.zip", FMT_ZIP, ARCHIVE_FILTER_NONE, venv, N(venv));
	assert_extracts(f, arch, NULL, &st);
	assert_int_equal(st.entries, N(venv));
	assert_int_equal(st.bytes, 21 + 12 + 16);
	assert_int_equal(mode_of(f, "venv/bin/python") & 07777, 0755);
	assert_int_equal(mode_of(f, "venv/lib/site.py") & 07777, 0644);
	assert_true(S_ISDIR(mode_of(f, "venv/lib")));
	assert_link(f, "venv/bin/python3", "python");
	assert_link(f, "venv/lib64", "lib");
	tu_pathf(p, "%s/venv/bin/python3", f->dest);
	tu_assert_file_equal(p, "\x7f"
	                  "ELF fake interpreter");
	assert_int_equal(access(p, X_OK), 0);
	assert_int_equal(mode_of(f, "") & 0777, 0755);
}

/* The format comes from the bytes: a gzipped tar named .zip, with a "./" root entry. */
static void test_tar_gz_named_zip(void **state)
{
	fx *f = *state;
	static const spec s[] = {D("./"), D("./pkg/"), F("./pkg/__init__.py", 0644, "x = 1\n"),
	                         F("./pkg/tool", 0750, "#!/bin/sh\n"), L("./pkg/alias", "tool")};
	char arch[P];

	make_archive(f, arch, "odd.zip", FMT_PAX, ARCHIVE_FILTER_GZIP, s, N(s));
	assert_extracts(f, arch, NULL, NULL);
	assert_int_equal(mode_of(f, "pkg/tool") & 07777, 0750);
	assert_link(f, "pkg/alias", "tool");
}

static void test_tar_zstd_and_hardlink(void **state)
{
	fx *f = *state;
	static const spec s[] = {F("a/f", 0644, "data"), H("a/g", "a/f"), H("h", "./a/f")};
	char arch[P], p1[P], p2[P];
	struct stat s1, s2;

	make_archive(f, arch, "h.tar.zst", FMT_GNU, ARCHIVE_FILTER_ZSTD, s, N(s));
	assert_extracts(f, arch, NULL, NULL);
	tu_pathf(p1, "%s/a/f", f->dest);
	tu_pathf(p2, "%s/h", f->dest);
	assert_int_equal(stat(p1, &s1), 0);
	assert_int_equal(stat(p2, &s2), 0);
	assert_int_equal(s1.st_ino, s2.st_ino);
	tu_assert_file_equal(p2, "data");
}

/* An in-tree chain of links, and a dangling in-tree link, are fine. */
static void test_symlink_chains_inside(void **state)
{
	fx *f = *state;
	static const spec s[] = {L("a/b/s", "../../c"), L("a/t", "b/s/d"), F("c/d", 0644, "x"),
	                         L("dangling", "nowhere/yet")};
	char arch[P];

	make_archive(f, arch, "chain.tar", FMT_GNU, ARCHIVE_FILTER_NONE, s, N(s));
	assert_extracts(f, arch, NULL, NULL);
	assert_link(f, "a/t", "b/s/d");
	assert_link(f, "dangling", "nowhere/yet");
}

static void test_setuid_dropped(void **state)
{
	fx *f = *state;
	static const spec s[] = {F("bin/su", 04755, "x"),
	                         F("bin/sg", 02711, "x"),
	                         {"shared/", AE_IFDIR, 01777, NULL, NULL},
	                         F("ro", 0444, "x")};
	char arch[P];

	make_archive(f, arch, "suid.tar", FMT_GNU, ARCHIVE_FILTER_NONE, s, N(s));
	assert_extracts(f, arch, NULL, NULL);
	assert_int_equal(mode_of(f, "bin/su") & 07777, 0755);
	assert_int_equal(mode_of(f, "bin/sg") & 07777, 0711);
	assert_int_equal(mode_of(f, "shared") & 07777, 0777);
	assert_int_equal(mode_of(f, "ro") & 07777, 0644); /* u+rw forced */
}

static void test_utf8_names(void **state)
{
	fx *f = *state;
	char arch[P], p[P];

	tu_pathf(arch, "%s/utf8.zip", f->in);
	raw_zip_one(arch, "caf\xc3\xa9.txt", 0x800, "ok");
	assert_extracts(f, arch, NULL, NULL);
	tu_pathf(p, "%s/caf\xc3\xa9.txt", f->dest);
	tu_assert_file_equal(p, "ok");
}

static void test_absolute_symlink_allowed(void **state)
{
	fx *f = *state;
	static const spec s[] = {L("venv/bin/python", "/usr/bin/python3.11")};
	udfenv_extract_limits lim;
	char arch[P];

	udfenv_extract__defaults(&lim);
	lim.allow_absolute_symlinks = 1;
	make_archive(f, arch, "abs.zip", FMT_ZIP, ARCHIVE_FILTER_NONE, s, N(s));
	assert_extracts(f, arch, &lim, NULL);
	assert_link(f, "venv/bin/python", "/usr/bin/python3.11");
}

/* ---- names ---- */

static void test_dotdot(void **state)
{
	fx *f = *state;
	static const spec s[] = {F("ok", 0644, "x"), F("../x", 0644, "pwned")};
	char arch[P], p[P];

	make_archive(f, arch, "evil.tar", FMT_GNU, ARCHIVE_FILTER_NONE, s, N(s));
	assert_refused(f, arch, UDFENV_EUNSAFE, "../x", "leaves the extraction directory");
	tu_pathf(p, "%s/x", f->out);
	assert_absent(p);
}

static void test_dotdot_inside(void **state)
{
	fx *f = *state;
	static const spec s[] = {F("a/../../x", 0644, "pwned")};
	char arch[P];

	make_archive(f, arch, "evil.zip", FMT_ZIP, ARCHIVE_FILTER_NONE, s, N(s));
	assert_refused(f, arch, UDFENV_EUNSAFE, "a/../../x", "leaves the extraction directory");
}

static void test_absolute_name(void **state)
{
	fx *f = *state;
	char arch[P], abs[P];
	spec s[1] = {F(NULL, 0644, "pwned")};

	tu_pathf(abs, "%s/abs", f->outside);
	s[0].name = abs;
	make_archive(f, arch, "evil.tar", FMT_GNU, ARCHIVE_FILTER_NONE, s, N(s));
	assert_refused(f, arch, UDFENV_EUNSAFE, abs, "absolute path");
}

static void test_control_char(void **state)
{
	fx *f = *state;
	static const spec s[] = {F("a\x01"
	                           "b\x1b[2J",
	                           0644, "x")};
	char arch[P];

	make_archive(f, arch, "evil.tar", FMT_GNU, ARCHIVE_FILTER_NONE, s, N(s));
	assert_refused(f, arch, UDFENV_EUNSAFE, "a\\x01b\\x1b[2J", "control character");
}

static void test_backslash(void **state)
{
	fx *f = *state;
	static const spec s[] = {F("..\\..\\x", 0644, "x")};
	char arch[P];

	make_archive(f, arch, "evil.tar", FMT_GNU, ARCHIVE_FILTER_NONE, s, N(s));
	assert_refused(f, arch, UDFENV_EUNSAFE, "..\\..\\x", "backslash");
	/* libarchive's zip reader turns backslashes into slashes: then it is "../../x". */
	make_archive(f, arch, "evil.zip", FMT_ZIP, ARCHIVE_FILTER_NONE, s, N(s));
	assert_refused(f, arch, UDFENV_EUNSAFE, "../../x", "leaves the extraction directory");
}

static void test_non_utf8_tar(void **state)
{
	fx *f = *state;
	static const spec s[] = {F("bad-\xff\xfe.txt", 0644, "x")};
	char arch[P];

	make_archive(f, arch, "evil.tar", FMT_GNU, ARCHIVE_FILTER_NONE, s, N(s));
	assert_refused(f, arch, UDFENV_EUNSAFE, "bad-\\xff\\xfe.txt", "not valid UTF-8");
}

/* Raw bytes in a zip without the UTF-8 flag reach us as they are. */
static void test_non_utf8_zip_raw(void **state)
{
	fx *f = *state;
	char arch[P];

	tu_pathf(arch, "%s/evil.zip", f->in);
	raw_zip_one(arch, "bad-\xc3(.txt", 0, "x");
	assert_refused(f, arch, UDFENV_EUNSAFE, "bad-\\xc3(.txt", "not valid UTF-8");
}

/* Flagged UTF-8 that is not: libarchive cannot convert it and gives no name at all. */
static void test_non_utf8_zip_flagged(void **state)
{
	fx *f = *state;
	char arch[P];

	tu_pathf(arch, "%s/evil.zip", f->in);
	raw_zip_one(arch, "bad-\xff.txt", 0x800, "x");
	assert_refused(f, arch, UDFENV_EUNSAFE, "#1", "not valid UTF-8");
}

static void test_dot_as_file(void **state)
{
	fx *f = *state;
	static const spec s[] = {F(".", 0644, "x")};
	char arch[P];

	make_archive(f, arch, "evil.tar", FMT_GNU, ARCHIVE_FILTER_NONE, s, N(s));
	assert_refused(f, arch, UDFENV_EUNSAFE, ".", "extraction directory itself");
}

static char *deep_name(size_t depth)
{
	char *s = malloc(depth * 2 + 2);
	assert_non_null(s);
	for (size_t i = 0; i < depth; i++)
		memcpy(s + 2 * i, "a/", 2);
	memcpy(s + 2 * depth, "f", 2);
	return s;
}

/* 5000 levels: refused from the name alone, before a single mkdir. */
static void test_deep_path_5000(void **state)
{
	fx *f = *state;
	char arch[P];
	spec s[1] = {F(NULL, 0644, "x")};

	s[0].name = deep_name(5000);
	make_archive(f, arch, "evil.zip", FMT_ZIP, ARCHIVE_FILTER_NONE, s, N(s));
	assert_refused(f, arch, UDFENV_ELIMIT, NULL, "bytes (the limit is 4096)");
	tu_assert_message_contains("'a/a/a/a/");
	free((char *)s[0].name);
}

static void test_deep_path_depth(void **state)
{
	fx *f = *state;
	char arch[P];
	spec s[1] = {F(NULL, 0644, "x")};

	s[0].name = deep_name(200);
	make_archive(f, arch, "evil.tar", FMT_PAX, ARCHIVE_FILTER_NONE, s, N(s));
	assert_refused(f, arch, UDFENV_ELIMIT, NULL, "deeper than 128 directories");
	free((char *)s[0].name);
}

static void test_duplicate_name(void **state)
{
	fx *f = *state;
	static const spec s[] = {F("a/x", 0644, "one"), F("a//./x", 0644, "two")};
	char arch[P];

	make_archive(f, arch, "evil.tar", FMT_GNU, ARCHIVE_FILTER_NONE, s, N(s));
	assert_refused(f, arch, UDFENV_EUNSAFE, "a/x", "appears twice");
}

static void test_dir_then_same_symlink(void **state)
{
	fx *f = *state;
	static const spec s[] = {D("d/"), L("d", "../outside")};
	char arch[P];

	make_archive(f, arch, "evil.zip", FMT_ZIP, ARCHIVE_FILTER_NONE, s, N(s));
	assert_refused(f, arch, UDFENV_EUNSAFE, "d", "appears twice");
}

/* The symlink comes after a file below its name. */
static void test_file_then_symlink_parent(void **state)
{
	fx *f = *state;
	static const spec s[] = {F("l/f", 0644, "x"), L("l", "../../outside")};
	char arch[P];

	make_archive(f, arch, "evil.tar", FMT_GNU, ARCHIVE_FILTER_NONE, s, N(s));
	assert_refused(f, arch, UDFENV_EUNSAFE, "l",
	               "earlier entries of the archive are inside it");
}

/* ---- entry types ---- */

static void test_char_device(void **state)
{
	fx *f = *state;
	static const spec s[] = {{"dev/null", AE_IFCHR, 0666, NULL, NULL}};
	char arch[P];

	make_archive(f, arch, "evil.tar", FMT_GNU, ARCHIVE_FILTER_NONE, s, N(s));
	assert_refused(f, arch, UDFENV_EUNSAFE, "dev/null", "character device");
}

static void test_fifo(void **state)
{
	fx *f = *state;
	static const spec s[] = {{"pipe", AE_IFIFO, 0644, NULL, NULL}};
	char arch[P];

	make_archive(f, arch, "evil.tar", FMT_PAX, ARCHIVE_FILTER_NONE, s, N(s));
	assert_refused(f, arch, UDFENV_EUNSAFE, "pipe", "FIFO");
}

static void test_hardlink_outside(void **state)
{
	fx *f = *state;
	static const spec s[] = {H("passwd", "/etc/passwd")};
	struct stat before, after;
	char arch[P];

	assert_int_equal(stat("/etc/passwd", &before), 0);
	make_archive(f, arch, "evil.tar", FMT_GNU, ARCHIVE_FILTER_NONE, s, N(s));
	assert_refused(f, arch, UDFENV_EUNSAFE, "passwd", "hard link to '/etc/passwd'");
	assert_int_equal(stat("/etc/passwd", &after), 0);
	assert_int_equal(before.st_nlink, after.st_nlink);
	assert_int_equal(before.st_size, after.st_size);
}

static void test_hardlink_forward(void **state)
{
	fx *f = *state;
	static const spec s[] = {H("early", "later"), F("later", 0644, "x")};
	char arch[P];

	make_archive(f, arch, "evil.tar", FMT_GNU, ARCHIVE_FILTER_NONE, s, N(s));
	assert_refused(f, arch, UDFENV_EUNSAFE, "early", "not a file extracted before it");
}

/* A hard link to the root itself: its name normalizes to "" (the helper once crashed on it). */
static void test_hardlink_to_root(void **state)
{
	fx *f = *state;
	static const spec s[] = {F("f", 0644, "x"), H("h", "./")};
	char arch[P];

	make_archive(f, arch, "evil.tar", FMT_GNU, ARCHIVE_FILTER_NONE, s, N(s));
	assert_refused(f, arch, UDFENV_EUNSAFE, "h", "hard link to './'");
}

/* ---- symlinks ---- */

static void test_symlink_then_file_through(void **state)
{
	fx *f = *state;
	static const spec s[] = {L("l", "../../outside"), F("l/pwned", 0644, "x")};
	char arch[P];

	make_archive(f, arch, "evil.tar", FMT_GNU, ARCHIVE_FILTER_NONE, s, N(s));
	assert_refused(f, arch, UDFENV_EUNSAFE, "l/pwned", "inside 'l', which is a symlink");
}

/* Even where absolute links are allowed, nothing is written through one. */
static void test_abs_symlink_then_file_through(void **state)
{
	fx *f = *state;
	udfenv_extract_limits lim;
	char arch[P];
	spec s[] = {L("l", NULL), F("l/pwned", 0644, "x")};

	udfenv_extract__defaults(&lim);
	lim.allow_absolute_symlinks = 1;
	s[0].link = f->outside;
	make_archive(f, arch, "evil.zip", FMT_ZIP, ARCHIVE_FILTER_NONE, s, N(s));
	assert_refused_lim(f, arch, &lim, UDFENV_EUNSAFE, "l/pwned", "which is a symlink");
}

static void test_symlink_escape(void **state)
{
	fx *f = *state;
	static const spec s[] = {F("a", 0644, "x"), L("d/l", "../../outside")};
	char arch[P];

	make_archive(f, arch, "evil.zip", FMT_ZIP, ARCHIVE_FILTER_NONE, s, N(s));
	assert_refused(f, arch, UDFENV_EUNSAFE, "d/l", "leaves the extraction directory");
}

/* Each link is harmless lexically; together they climb out. */
static void test_symlink_two_step(void **state)
{
	fx *f = *state;
	static const spec s[] = {L("a/b/c/s", "../../.."), L("a/b/c/t", "s/../..")};
	char arch[P];

	make_archive(f, arch, "evil.tar", FMT_GNU, ARCHIVE_FILTER_NONE, s, N(s));
	assert_refused(f, arch, UDFENV_EUNSAFE, "a/b/c/t", "symlink to 's/../..', which leaves");
}

static void test_symlink_loop(void **state)
{
	fx *f = *state;
	static const spec s[] = {L("x", "y/z"), L("y", "x")};
	char arch[P];

	make_archive(f, arch, "evil.tar", FMT_GNU, ARCHIVE_FILTER_NONE, s, N(s));
	assert_refused(f, arch, UDFENV_EUNSAFE, "x", "too many links");
}

static void test_absolute_symlink_refused(void **state)
{
	fx *f = *state;
	static const spec s[] = {F("venv/pyvenv.cfg", 0644, "x"),
	                         L("venv/bin/python", "/usr/bin/python3.11")};
	char arch[P];

	make_archive(f, arch, "venv.zip", FMT_ZIP, ARCHIVE_FILTER_NONE, s, N(s));
	assert_refused(f, arch, UDFENV_EUNSAFE, "venv/bin/python",
	               "symlink to the absolute path '/usr/bin/python3.11'");
	tu_assert_message_contains("python -m venv --copies");
}

/* ---- caps ---- */

static void test_deflate_bomb(void **state)
{
	fx *f = *state;
	struct archive *a;
	struct archive_entry *e = archive_entry_new();
	char arch[P], *zeros = calloc(1, 1 << 20);
	struct stat st;

	tu_pathf(arch, "%s/bomb.zip", f->in);
	a = writer(arch, FMT_ZIP, ARCHIVE_FILTER_NONE);
	archive_entry_set_pathname(e, "zeros");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, 64 << 20);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	for (int i = 0; i < 64; i++)
		assert_int_equal(archive_write_data(a, zeros, 1 << 20), 1 << 20);
	finish(a);
	archive_entry_free(e);
	free(zeros);
	assert_int_equal(stat(arch, &st), 0);
	assert_true(st.st_size * 500 < (64 << 20)); /* at least 500:1 */
	assert_refused(f, arch, UDFENV_ELIMIT, "zeros", "compression ratio");
}

/* The byte cap counts every entry's bytes together. */
static void test_byte_cap(void **state)
{
	fx *f = *state;
	static const spec s[] = {F("a", 0644, "0123456789"), F("b", 0644, "0123456789")};
	udfenv_extract_limits lim;
	char arch[P];

	udfenv_extract__defaults(&lim);
	lim.max_bytes = 15;
	make_archive(f, arch, "big.tar", FMT_GNU, ARCHIVE_FILTER_NONE, s, N(s));
	assert_refused_lim(f, arch, &lim, UDFENV_ELIMIT, "b", "limit of 15");
}

static void test_entry_cap(void **state)
{
	fx *f = *state;
	static const spec s[] = {F("a", 0644, "x"), F("b", 0644, "x"), F("c", 0644, "x")};
	udfenv_extract_limits lim;
	char arch[P];

	udfenv_extract__defaults(&lim);
	lim.max_entries = 2;
	make_archive(f, arch, "many.tar", FMT_GNU, ARCHIVE_FILTER_NONE, s, N(s));
	assert_refused_lim(f, arch, &lim, UDFENV_ELIMIT, NULL, "more than 2 entries");
	make_archive(f, arch, "many.zip", FMT_ZIP, ARCHIVE_FILTER_NONE, s, N(s));
	assert_refused_lim(f, arch, &lim, UDFENV_ELIMIT, NULL, "more than 2 entries");
}

/* 1000 central directory entries, one local header: libarchive alone would keep one. */
static void test_overlap_same_header(void **state)
{
	fx *f = *state;
	udfenv_buf b = UDFENV_BUF_INIT;
	char arch[P], name[32], *data = calloc(1, 65536);
	size_t cd;

	put_local(&b, "f0000", 0, data, 65536);
	cd = b.size;
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "f%04d", i);
		put_central(&b, name, 0, data, 65536, 0);
	}
	put_end(&b, 1000, cd);
	tu_pathf(arch, "%s/overlap.zip", f->in);
	tu_write_bytes(arch, b.ptr, b.size, 0644);
	udfenv_buf_dispose(&b);
	free(data);
	assert_refused(f, arch, UDFENV_EUNSAFE, NULL, "overlapping zip entries");
}

/* Entry "a" holds entry "b", local header and all, inside its own data. */
static void test_overlap_nested(void **state)
{
	fx *f = *state;
	udfenv_buf inner = UDFENV_BUF_INIT, b = UDFENV_BUF_INIT;
	char arch[P];
	size_t cd;

	put_local(&inner, "b", 0, "payload", 7);
	put_local(&b, "a", 0, inner.ptr, inner.size);
	cd = b.size;
	put_central(&b, "a", 0, inner.ptr, inner.size, 0);
	put_central(&b, "b", 0, "payload", 7, 31);
	put_end(&b, 2, cd);
	tu_pathf(arch, "%s/nested.zip", f->in);
	tu_write_bytes(arch, b.ptr, b.size, 0644);
	assert_refused(f, arch, UDFENV_EUNSAFE, "b", "shares its data with entry 'a'");
	udfenv_buf_dispose(&inner);
	udfenv_buf_dispose(&b);
}

/*
 * The end record points at a second directory hidden in entry "a"'s data:
 * libarchive would scan forward from the recorded offset and read that one.
 * The directory must be where the recorded offset and size both put it.
 */
static void test_zip_hidden_directory(void **state)
{
	fx *f = *state;
	udfenv_buf inner = UDFENV_BUF_INIT, b = UDFENV_BUF_INIT;
	char arch[P];
	size_t fake_cd, cd;

	put_local(&inner, "b", 0, "payload", 7); /* lands at offset 31 */
	fake_cd = 31 + inner.size;
	put_central(&inner, "x1", 0, "payload", 7, 31);
	put_central(&inner, "x2", 0, "payload", 7, 31);
	assert_int_equal(udfenv_buf_put(&inner, "PK\x06\x06", 4), 0); /* ends a directory walk */
	put_local(&b, "a", 0, inner.ptr, inner.size);
	cd = b.size;
	put_central(&b, "a", 0, inner.ptr, inner.size, 0);
	put_central(&b, "a2", 0, inner.ptr, inner.size, 0);
	put_end_at(&b, 2, cd, fake_cd, 0);
	tu_pathf(arch, "%s/hidden.zip", f->in);
	tu_write_bytes(arch, b.ptr, b.size, 0644);
	assert_refused(f, arch, UDFENV_EINVALID, NULL,
	               "the central directory is not where its end record says");
	udfenv_buf_dispose(&inner);
	udfenv_buf_dispose(&b);
}

/* Data prepended to a zip (a self-extractor stub): offsets are corrected, as libarchive does. */
static void test_zip_prepended_data(void **state)
{
	fx *f = *state;
	udfenv_buf b = UDFENV_BUF_INIT;
	const char *stub = "#!/bin/sh\necho a self-extracting stub\nexit 0\n";
	char arch[P], p[P];
	size_t cd;

	assert_int_equal(udfenv_buf_puts(&b, stub), 0);
	put_local(&b, "a", 0, "x", 1);
	cd = b.size;
	put_central(&b, "a", 0, "x", 1, 0);
	put_end_at(&b, 1, cd, cd - strlen(stub), 0);
	tu_pathf(arch, "%s/sfx.zip", f->in);
	tu_write_bytes(arch, b.ptr, b.size, 0644);
	udfenv_buf_dispose(&b);
	assert_extracts(f, arch, NULL, NULL);
	tu_pathf(p, "%s/a", f->dest);
	tu_assert_file_equal(p, "x");
}

/*
 * A zip holding an uncompressed zip (Info-ZIP and Python store inner zips as
 * they are): two end records, the last one counts, as for libarchive.
 */
static void test_zip_holding_a_stored_zip(void **state)
{
	fx *f = *state;
	udfenv_buf b = UDFENV_BUF_INIT, inner = UDFENV_BUF_INIT;
	char arch[P], p[P];
	size_t cd;

	put_end(&inner, 0, 0);
	put_local(&b, "inner.zip", 0, inner.ptr, inner.size);
	cd = b.size;
	put_central(&b, "inner.zip", 0, inner.ptr, inner.size, 0);
	put_end(&b, 1, cd);
	tu_pathf(arch, "%s/twoends.zip", f->in);
	tu_write_bytes(arch, b.ptr, b.size, 0644);
	assert_extracts(f, arch, NULL, NULL);
	tu_pathf(p, "%s/inner.zip", f->dest);
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, inner.size);
	udfenv_buf_dispose(&b);
	udfenv_buf_dispose(&inner);
}

/* An end record libarchive's seekable reader does not look for: its streaming reader would win. */
static void test_zip_end_out_of_reach(void **state)
{
	fx *f = *state;
	udfenv_buf b = UDFENV_BUF_INIT;
	char arch[P];
	size_t cd;

	put_local(&b, "a", 0, "x", 1);
	cd = b.size;
	put_central(&b, "a", 0, "x", 1, 0);
	put_end_at(&b, 1, cd, cd, 20000);
	tu_pathf(arch, "%s/comment.zip", f->in);
	tu_write_bytes(arch, b.ptr, b.size, 0644);
	udfenv_buf_dispose(&b);
	assert_refused(f, arch, UDFENV_EINVALID, NULL, "no central directory");
}

/* ---- broken input ---- */

/* An entry that holds far more data than its headers declare. */
static void test_size_lie(void **state)
{
	fx *f = *state;
	udfenv_buf b = UDFENV_BUF_INIT;
	char arch[P], *data = calloc(1, 1 << 20);
	size_t cd;

	put_local_sized(&b, "liar", 0, data, 1 << 20, 1000);
	cd = b.size;
	put_central_sized(&b, "liar", 0, data, 1 << 20, 1000, 0);
	put_end(&b, 1, cd);
	tu_pathf(arch, "%s/liar.zip", f->in);
	tu_write_bytes(arch, b.ptr, b.size, 0644);
	udfenv_buf_dispose(&b);
	free(data);
	assert_refused(f, arch, UDFENV_EINVALID, "liar", "more data than the 1000 bytes");
}

static void test_truncated_zip(void **state)
{
	fx *f = *state;
	char arch[P];
	struct stat st;

	make_archive(f, arch, "venv.zip", FMT_ZIP, ARCHIVE_FILTER_NONE, venv, N(venv));
	assert_int_equal(stat(arch, &st), 0);
	assert_int_equal(truncate(arch, st.st_size / 2), 0);
	assert_refused(f, arch, UDFENV_EINVALID, NULL, "no central directory");
}

static void test_truncated_tar(void **state)
{
	fx *f = *state;
	char arch[P], data[3000];
	spec s[] = {F("first", 0644, "ok"), F("second", 0644, NULL)};

	memset(data, 'y', sizeof(data) - 1);
	data[sizeof(data) - 1] = '\0';
	s[1].data = data;
	make_archive(f, arch, "cut.tar", FMT_GNU, ARCHIVE_FILTER_NONE, s, N(s));
	assert_int_equal(truncate(arch, 2048), 0);
	assert_refused(f, arch, UDFENV_EINVALID, "second", "cannot be read");
}

static void test_not_an_archive(void **state)
{
	fx *f = *state;
	char arch[P];
	const char *mtree = "#mtree\n./x type=file contents=/etc/passwd\n";

	tu_pathf(arch, "%s/notes.zip", f->in);
	tu_write_bytes(arch, "just some text, not an archive\n", 31, 0644);
	assert_refused(f, arch, UDFENV_EINVALID, NULL, "is not a zip or tar archive");
	tu_pathf(arch, "%s/spec.mtree", f->in);
	tu_write_bytes(arch, mtree, strlen(mtree), 0644);
	assert_refused(f, arch, UDFENV_EINVALID, NULL, "is not a zip or tar archive");
	tu_pathf(arch, "%s/empty.tar", f->in);
	tu_write_bytes(arch, "", 0, 0644);
	assert_refused(f, arch, UDFENV_EINVALID, NULL, NULL);
}

static void test_missing_archive(void **state)
{
	fx *f = *state;
	char arch[P];

	tu_pathf(arch, "%s/missing.zip", f->in);
	assert_refused(f, arch, UDFENV_ENOTFOUND, NULL, "cannot open archive");
}

static void test_dest_exists(void **state)
{
	fx *f = *state;
	char arch[P];

	make_archive(f, arch, "venv.zip", FMT_ZIP, ARCHIVE_FILTER_NONE, venv, N(venv));
	assert_int_equal(mkdir(f->dest, 0755), 0);
	assert_int_equal(udfenv_extract__archive(arch, f->dest, "venv.zip", NULL, NULL),
	                 UDFENV_ECONFLICT);
	assert_int_equal(tu_count_entries(f->dest), 0);
	assert_int_equal(tu_count_entries(f->out), 1);
}

/* big.tar, one file of 199999 bytes: past the 64 KiB RLIMIT_FSIZE the next tests set. */
static void make_big_tar(fx *f, char *arch)
{
	char *big = malloc(200000);
	spec s[1] = {F("big", 0644, NULL)};

	assert_non_null(big);
	memset(big, 'x', 199999);
	big[199999] = '\0';
	s[0].data = big;
	make_archive(f, arch, "big.tar", FMT_GNU, ARCHIVE_FILTER_NONE, s, N(s));
	free(big);
}

/* A helper killed by a signal is reported as such, and cleaned up after. */
static void test_helper_crash(void **state)
{
	fx *f = *state;
	struct rlimit fsize, core, small = {65536, 0};
	char arch[P], want[64];
	int rc;

	make_big_tar(f, arch);
	/* The helper gets SIGXFSZ past 64 KiB; no core file. */
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &fsize), 0);
	assert_int_equal(getrlimit(RLIMIT_CORE, &core), 0);
	small.rlim_max = fsize.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	small.rlim_cur = 0, small.rlim_max = core.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_CORE, &small), 0);
	rc = udfenv_extract__archive(arch, f->dest, "big.tar", NULL, NULL);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &fsize), 0);
	assert_int_equal(setrlimit(RLIMIT_CORE, &core), 0);
	assert_int_equal(rc, UDFENV_ERROR);
	snprintf(want, sizeof(want), "extraction of 'big.tar' crashed: signal %d", SIGXFSZ);
	tu_assert_message_contains(want);
	assert_absent(f->dest);
	assert_int_equal(tu_count_entries(f->out), 0);
}

/* ---- packing ---- */

static void put_file(const char *root, const char *rel, mode_t mode, const char *data)
{
	char p[P], *slash;
	int fd;

	tu_pathf(p, "%s/%s", root, rel);
	slash = strrchr(p, '/');
	*slash = '\0';
	assert_int_equal(udfenv_fs_mkdir_p(p, 0755), 0);
	*slash = '/';
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(udfenv_fs_write_all(fd, data, strlen(data)), 0);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

static void put_link(const char *root, const char *rel, const char *target)
{
	char p[P];
	tu_pathf(p, "%s/%s", root, rel);
	assert_int_equal(symlink(target, p), 0);
}

static const char long_name[] = "pkg/a-module-name-well-past-the-hundred-bytes-of-a-ustar-name-"
                                "field-so-that-a-pax-header-is-needed-for-it.py";

/* The same tree, built in a different order when `reverse`. */
static void make_tree(const char *root, int reverse)
{
	char p[P];

	assert_int_equal(mkdir(root, 0755), 0);
	if (reverse) {
		put_link(root, "lib64", "lib");
		put_file(root, long_name, 0644, "pass\n");
		put_file(root, "lib/site.py", 0644, "import os\n");
	}
	put_file(root, "bin/python", 0755, "#!interp\n");
	put_link(root, "bin/python3", "python");
	put_file(root, "lib/secret", 0600, "s");
	put_file(root, "lib/caf\xc3\xa9.py", 0644, "utf8 = True\n");
	if (!reverse) {
		put_file(root, "lib/site.py", 0644, "import os\n");
		put_file(root, long_name, 0644, "pass\n");
		put_link(root, "lib64", "lib");
	}
	tu_pathf(p, "%s/empty", root);
	assert_int_equal(mkdir(p, 0750), 0);
	assert_int_equal(chmod(p, 0750), 0);
}

static void pack_to(const char *dir, const char *file)
{
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	if (udfenv_pack__dir(dir, fd) != 0)
		fail_msg("pack failed: %s", udfenv_error_last()->message);
	assert_int_equal(close(fd), 0);
}

static void assert_same_file(const char *a, const char *b)
{
	udfenv_buf x = UDFENV_BUF_INIT, y = UDFENV_BUF_INIT;

	assert_int_equal(udfenv_fs_read_file(&x, a, 16 << 20), 0);
	assert_int_equal(udfenv_fs_read_file(&y, b, 16 << 20), 0);
	assert_true(x.size > 0);
	assert_int_equal(x.size, y.size);
	assert_memory_equal(x.ptr, y.ptr, x.size);
	udfenv_buf_dispose(&x);
	udfenv_buf_dispose(&y);
}

static void touch_all(const char *root, time_t when)
{
	struct timespec ts[2] = {{when, 0}, {when, 0}};
	const char *rel[] = {"bin/python", "lib/site.py", "lib", "bin", "empty", "lib64", ""};
	char p[P];

	for (size_t i = 0; i < N(rel); i++) {
		tu_pathf(p, "%s/%s", root, rel[i]);
		assert_int_equal(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW), 0);
	}
}

static void test_pack_deterministic(void **state)
{
	fx *f = *state;
	char t1[P], t2[P], a1[P], a2[P], a3[P];

	tu_pathf(t1, "%s/tree1", f->in);
	tu_pathf(t2, "%s/tree2", f->in);
	tu_pathf(a1, "%s/one.tar", f->in);
	tu_pathf(a2, "%s/two.tar", f->in);
	tu_pathf(a3, "%s/three.tar", f->in);
	make_tree(t1, 0);
	make_tree(t2, 1);
	touch_all(t2, 1234567890);
	pack_to(t1, a1);
	pack_to(t1, a2);
	pack_to(t2, a3);
	assert_same_file(a1, a2);
	assert_same_file(a1, a3);
}

static void test_pack_round_trip(void **state)
{
	fx *f = *state;
	char t[P], a[P], p[P];

	tu_pathf(t, "%s/tree", f->in);
	tu_pathf(a, "%s/tree.tar", f->in);
	make_tree(t, 0);
	pack_to(t, a);
	assert_extracts(f, a, NULL, NULL);
	assert_int_equal(mode_of(f, "bin/python") & 07777, 0755);
	assert_int_equal(mode_of(f, "lib/secret") & 07777, 0600);
	assert_int_equal(mode_of(f, "lib/site.py") & 07777, 0644);
	assert_int_equal(mode_of(f, "empty") & 07777, 0750);
	assert_link(f, "bin/python3", "python");
	assert_link(f, "lib64", "lib");
	tu_pathf(p, "%s/%s", f->dest, long_name);
	tu_assert_file_equal(p, "pass\n");
	tu_pathf(p, "%s/bin/python3", f->dest);
	tu_assert_file_equal(p, "#!interp\n");
	tu_pathf(p, "%s/lib/caf\xc3\xa9.py", f->dest);
	tu_assert_file_equal(p, "utf8 = True\n");
}

static void assert_pack_refused(fx *f, const char *tree, const char *path_word, const char *why)
{
	char a[P];
	int fd, rc;

	tu_pathf(a, "%s/refused.tar", f->in);
	fd = open(a, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	rc = udfenv_pack__dir(tree, fd);
	close(fd);
	if (rc != UDFENV_EUNSAFE)
		fail_msg("expected EUNSAFE, got %d: %s", rc, udfenv_error_last()->message);
	tu_assert_message_contains(path_word);
	tu_assert_message_contains(why);
}

static void test_pack_refuses(void **state)
{
	fx *f = *state;
	char t[P], p[P];

	tu_pathf(t, "%s/t1", f->in);
	make_tree(t, 0);
	put_link(t, "lib/up", "../../outside");
	assert_pack_refused(f, t, "t1/lib/up'", "leads out of the directory");

	tu_pathf(t, "%s/t2", f->in);
	make_tree(t, 0);
	put_link(t, "bin/abs", "/usr/bin/python3");
	assert_pack_refused(f, t, "t2/bin/abs'", "leads out of the directory");

	tu_pathf(t, "%s/t3", f->in);
	make_tree(t, 0);
	tu_pathf(p, "%s/lib/fifo", t);
	assert_int_equal(mkfifo(p, 0644), 0);
	assert_pack_refused(f, t, "t3/lib/fifo'", "FIFO");
}

/* A write that fails (EFBIG here, ENOSPC on a full disk) keeps its errno across the helper. */
static void test_write_error_keeps_errno(void **state)
{
	fx *f = *state;
	struct rlimit fsize, small = {65536, 0};
	char arch[P];
	void (*was)(int);
	int rc;

	make_big_tar(f, arch);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &fsize), 0);
	small.rlim_max = fsize.rlim_max;
	was = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	rc = udfenv_extract__archive(arch, f->dest, "big.tar", NULL, NULL);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &fsize), 0);
	signal(SIGXFSZ, was);
	assert_int_equal(rc, UDFENV_ERROR);
	tu_assert_message_contains("archive 'big.tar': entry 'big' cannot be written");
	tu_assert_message_contains(strerror(EFBIG));
	assert_int_equal(udfenv_error_os_errno(), EFBIG);
	assert_absent(f->dest);
	assert_int_equal(tu_count_entries(f->out), 0);
}

/* ---- util/text.h: UTF-8 and names in messages ---- */

static void test_text_utf8(void **state)
{
	static const struct {
		const char *s;
		size_t len, seq; /* the first sequence's length, 0: invalid */
	} cases[] = {
	    {"a", 1, 1},
	    {"\x7f", 1, 1},
	    {"\xc3\xa9", 2, 2},
	    {"\xc3", 1, 0},              /* cut short */
	    {"\xc3(", 2, 0},             /* not a continuation */
	    {"\xc0\xaf", 2, 0},          /* overlong 2-byte */
	    {"\xc1\xbf", 2, 0},
	    {"\xdf\xbf", 2, 2},
	    {"\xe0\x9f\xbf", 3, 0},      /* overlong 3-byte */
	    {"\xe0\xa0\x80", 3, 3},
	    {"\xed\x9f\xbf", 3, 3},      /* U+D7FF */
	    {"\xed\xa0\x80", 3, 0},      /* U+D800, a surrogate */
	    {"\xed\xbf\xbf", 3, 0},      /* U+DFFF */
	    {"\xee\x80\x80", 3, 3},
	    {"\xef\xbf\xbf", 3, 3},
	    {"\xe2\x82", 2, 0},
	    {"\xf0\x8f\xbf\xbf", 4, 0},  /* overlong 4-byte */
	    {"\xf0\x90\x80\x80", 4, 4},
	    {"\xf4\x8f\xbf\xbf", 4, 4},  /* U+10FFFF */
	    {"\xf4\x90\x80\x80", 4, 0},  /* beyond */
	    {"\xf5\x80\x80\x80", 4, 0},
	    {"\xff", 1, 0},
	    {"\x80", 1, 0},
	    {"\xf0\x9f\x90", 3, 0},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const unsigned char *p = (const unsigned char *)cases[i].s;
		assert_int_equal(udfenv_text_utf8_seq(p, p + cases[i].len), cases[i].seq);
		assert_int_equal(udfenv_text_utf8_valid(cases[i].s, cases[i].len), cases[i].seq == cases[i].len);
	}
	assert_true(udfenv_text_utf8_valid("", 0));
	assert_true(udfenv_text_utf8_valid("plain ascii text, long enough to skip in words", 46));
	assert_true(udfenv_text_utf8_valid("abcdefgh\xc3\xa9" "abcdefgh\xf0\x9f\x90\x8d", 22));
	assert_false(udfenv_text_utf8_valid("abcdefgh\xc3\xa9" "abcdefgh\xed\xa0\x80", 21));
	/* A sequence must end inside the length given, even if more bytes follow. */
	assert_false(udfenv_text_utf8_valid("ab\xc3\xa9", 3));
}

static void test_text_show(void **state)
{
	char out[UDFENV_TEXT_SHOW_SIZE], in[UDFENV_TEXT_SHOW_MAX * 2 + 1], want[UDFENV_TEXT_SHOW_SIZE];

	(void)state;
	udfenv_text_show(out, "plain/name.txt");
	assert_string_equal(out, "plain/name.txt");
	udfenv_text_show(out, "caf\xc3\xa9 \xf0\x9f\x90\x8d");
	assert_string_equal(out, "caf\xc3\xa9 \xf0\x9f\x90\x8d");
	udfenv_text_show(out, "a\x01" "b\x1b[2J\x7f" "c\ttab\n");
	assert_string_equal(out, "a\\x01b\\x1b[2J\\x7fc\\x09tab\\x0a");
	udfenv_text_show(out, "bad-\xff\xfe-\xc3(-\xed\xa0\x80.txt");
	assert_string_equal(out, "bad-\\xff\\xfe-\\xc3(-\\xed\\xa0\\x80.txt");
	udfenv_text_show(out, "");
	assert_string_equal(out, "");
	/* Cut after UDFENV_TEXT_SHOW_MAX bytes, "..." added; exactly that many is not cut. */
	memset(in, 'x', sizeof(in) - 1);
	in[UDFENV_TEXT_SHOW_MAX] = '\0';
	udfenv_text_show(out, in);
	assert_string_equal(out, in);
	in[UDFENV_TEXT_SHOW_MAX] = 'y';
	in[sizeof(in) - 1] = '\0';
	udfenv_text_show(out, in);
	memset(want, 'x', UDFENV_TEXT_SHOW_MAX);
	memcpy(want + UDFENV_TEXT_SHOW_MAX, "...", 4);
	assert_string_equal(out, want);
	/* The worst case fills the buffer: all escaped, a last sequence begun at the edge. */
	memset(in, 0xff, UDFENV_TEXT_SHOW_MAX - 1);
	memcpy(in + UDFENV_TEXT_SHOW_MAX - 1, "\xf0\x9f\x90\x8d" "z", 6);
	udfenv_text_show(out, in);
	assert_int_equal(strlen(out), (UDFENV_TEXT_SHOW_MAX - 1) * 4 + 4 + 3);
	assert_string_equal(out + (UDFENV_TEXT_SHOW_MAX - 1) * 4, "\xf0\x9f\x90\x8d...");
}

/* libarchive's reason, one line, with the system's reason only when there is one. */
static void test_libarchive_reason(void **state)
{
	struct archive *a;
	char why[UDFENV_LIBARCHIVE_REASON_SIZE];
	(void)state;

	assert_int_equal(udfenv_libarchive__load(), 0);
	assert_non_null(a = archive_write_new());
	assert_int_equal(udfenv_libarchive__reason(why, a), 0);
	assert_string_equal(why, "unknown error");
	archive_set_error(a, ENOSPC, "Write error");
	assert_int_equal(udfenv_libarchive__reason(why, a), ENOSPC);
	assert_string_equal(why, "Write error (No space left on device)");
	/* Its own codes name no system reason (EILSEQ would say "multibyte character"). */
	archive_set_error(a, ARCHIVE_ERRNO_FILE_FORMAT, "Unrecognized archive format\n");
	assert_int_equal(udfenv_libarchive__reason(why, a), 0);
	assert_string_equal(why, "Unrecognized archive format");
	archive_set_error(a, ARCHIVE_ERRNO_PROGRAMMER, "Internal error");
	assert_int_equal(udfenv_libarchive__reason(why, a), 0);
	assert_string_equal(why, "Internal error");
	archive_set_error(a, -1, "two\nlines\x01");
	assert_int_equal(udfenv_libarchive__reason(why, a), 0);
	assert_string_equal(why, "two\\x0alines\\x01");
	archive_write_free(a);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_venv_zip),
	    T(test_libarchive_reason),
	    T(test_tar_gz_named_zip),
	    T(test_tar_zstd_and_hardlink),
	    T(test_symlink_chains_inside),
	    T(test_setuid_dropped),
	    T(test_utf8_names),
	    T(test_absolute_symlink_allowed),
	    T(test_dotdot),
	    T(test_dotdot_inside),
	    T(test_absolute_name),
	    T(test_control_char),
	    T(test_backslash),
	    T(test_non_utf8_tar),
	    T(test_non_utf8_zip_raw),
	    T(test_non_utf8_zip_flagged),
	    T(test_dot_as_file),
	    T(test_deep_path_5000),
	    T(test_deep_path_depth),
	    T(test_duplicate_name),
	    T(test_dir_then_same_symlink),
	    T(test_file_then_symlink_parent),
	    T(test_char_device),
	    T(test_fifo),
	    T(test_hardlink_outside),
	    T(test_hardlink_forward),
	    T(test_hardlink_to_root),
	    T(test_symlink_then_file_through),
	    T(test_abs_symlink_then_file_through),
	    T(test_symlink_escape),
	    T(test_symlink_two_step),
	    T(test_symlink_loop),
	    T(test_absolute_symlink_refused),
	    T(test_deflate_bomb),
	    T(test_byte_cap),
	    T(test_entry_cap),
	    T(test_overlap_same_header),
	    T(test_overlap_nested),
	    T(test_zip_hidden_directory),
	    T(test_zip_prepended_data),
	    T(test_zip_holding_a_stored_zip),
	    T(test_zip_end_out_of_reach),
	    T(test_size_lie),
	    T(test_truncated_zip),
	    T(test_truncated_tar),
	    T(test_not_an_archive),
	    T(test_missing_archive),
	    T(test_dest_exists),
	    T(test_helper_crash),
	    T(test_write_error_keeps_errno),
	    T(test_text_utf8),
	    T(test_text_show),
	    T(test_pack_deterministic),
	    T(test_pack_round_trip),
	    T(test_pack_refuses),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
