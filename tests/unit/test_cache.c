/*
 * The node cache's protocol in one process (flock locks belong to open
 * files, so two opens in one process contend like two processes do), and in
 * forked children for the one-build-per-key rule.
 */
#include <stdint.h>

#include "testutil.h"
#include "lib/cache.h"
#include "lib/cache_int.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static udfenv_buf tmpdir = UDFENV_BUF_INIT;
static int counter;

static int group_setup(void **state)
{
	(void)state;
	return tu_mkdtemp(&tmpdir, "udfenv-test-cache-");
}

static int group_teardown(void **state)
{
	(void)state;
	return tu_rmdtemp(&tmpdir);
}

static udfenv_cache *fresh_cache(void)
{
	udfenv_buf dir = UDFENV_BUF_INIT;
	udfenv_cache *c = NULL;

	assert_int_equal(udfenv_buf_printf(&dir, "%s/c%d", tmpdir.ptr, counter++), 0);
	assert_int_equal(udfenv_cache_open(&c, dir.ptr), 0);
	udfenv_buf_dispose(&dir);
	return c;
}

/* Writes data/f holding "x", counting its calls in the file named by ctx (appending a byte). */
static int build_ok(void *ctx, const char *data, const char *scratch, json_t *extra)
{
	udfenv_buf f = UDFENV_BUF_INIT;
	int fd;

	(void)scratch;
	if (ctx && (fd = open(ctx, O_WRONLY | O_APPEND | O_CREAT, 0600)) >= 0) {
		assert_int_equal(write(fd, "b", 1), 1);
		close(fd);
	}
	usleep(100000); /* long enough for others to pile up on the build lock */
	assert_int_equal(mkdir(data, 0755), 0);
	assert_int_equal(udfenv_buf_printf(&f, "%s/f", data), 0);
	assert_int_equal(udfenv_fs_write_new(f.ptr, "x", 1, 0644), 0);
	json_object_set_new(extra, "answer", json_integer(42));
	udfenv_buf_dispose(&f);
	return 0;
}

static int build_fails(void *ctx, const char *data, const char *scratch, json_t *extra)
{
	(void)ctx, (void)scratch, (void)extra;
	assert_int_equal(mkdir(data, 0755), 0);
	return udfenv_error_set(UDFENV_ERROR, "deliberate failure");
}

static udfenv_cache_request request(const char *text, udfenv_cache_build_fn fn, void *ctx, char *key)
{
	udfenv_cache_request r = {key, "archive", "test.zip", NULL, fn, ctx, NULL};
	udfenv_cache__key(text, key);
	return r;
}

static void test_parse_size(void **state)
{
	uint64_t v;
	(void)state;
	assert_int_equal(udfenv_parse_size("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(udfenv_parse_size("1048576", &v), 0);
	assert_int_equal(v, 1048576);
	assert_int_equal(udfenv_parse_size("500M", &v), 0);
	assert_int_equal(v, 500ull << 20);
	assert_int_equal(udfenv_parse_size("1.5G", &v), 0);
	assert_int_equal(v, 3ull << 29);
	assert_int_equal(udfenv_parse_size("2GiB", &v), 0);
	assert_int_equal(v, 2ull << 30);
	assert_int_equal(udfenv_parse_size("10k", &v), 0);
	assert_int_equal(v, 10240);
	assert_int_equal(udfenv_parse_size("", &v), UDFENV_EINVALID);
	assert_int_equal(udfenv_parse_size("-1", &v), UDFENV_EINVALID);
	assert_int_equal(udfenv_parse_size("12Q", &v), UDFENV_EINVALID);
	assert_int_equal(udfenv_parse_size("1GX", &v), UDFENV_EINVALID);
	assert_int_equal(udfenv_parse_size("nan", &v), UDFENV_EINVALID);
	assert_int_equal(udfenv_parse_size("99999999P", &v), UDFENV_EINVALID);
}

static void test_build_then_hit(void **state)
{
	udfenv_cache *c = fresh_cache();
	udfenv_cache_lease a = UDFENV_CACHE_LEASE_INIT, b = UDFENV_CACHE_LEASE_INIT;
	char key[UDFENV_SHA256_HEX];
	udfenv_cache_request r = request("one", build_ok, NULL, key);
	udfenv_buf f = UDFENV_BUF_INIT;
	struct stat st;

	(void)state;
	assert_int_equal(udfenv_cache__acquire(c, &r, &a), 0);
	assert_int_equal(a.outcome, UDFENV_CACHE_BUILT);
	assert_int_equal(json_integer_value(json_object_get(a.extra, "answer")), 42);
	assert_int_equal(udfenv_buf_printf(&f, "%s/f", a.data.ptr), 0);
	assert_int_equal(stat(f.ptr, &st), 0);
	assert_int_equal(udfenv_cache__acquire(c, &r, &b), 0);
	assert_int_equal(b.outcome, UDFENV_CACHE_HIT);
	assert_string_equal(a.data.ptr, b.data.ptr);
	assert_int_equal(json_integer_value(json_object_get(b.extra, "answer")), 42);
	udfenv_cache__release(&a);
	udfenv_cache__release(&b);
	udfenv_buf_dispose(&f);
	udfenv_cache_close(c);
}

static int count_tmp(udfenv_cache *c)
{
	char path[4096];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/tmp", c->root.ptr);
	assert_non_null(d = opendir(path));
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static void test_failed_build_leaves_nothing(void **state)
{
	udfenv_cache *c = fresh_cache();
	udfenv_cache_lease l = UDFENV_CACHE_LEASE_INIT;
	udfenv_cache_entry *e;
	char key[UDFENV_SHA256_HEX];
	udfenv_cache_request r = request("fails", build_fails, NULL, key);
	size_t n;

	(void)state;
	assert_int_equal(udfenv_cache__acquire(c, &r, &l), UDFENV_ERROR);
	assert_string_equal(udfenv_error_last()->message, "deliberate failure");
	assert_int_equal(l.fd, -1);
	assert_int_equal(udfenv_cache_list(c, &e, &n), 0);
	assert_int_equal(n, 0);
	udfenv_cache_list_free(e, n);
	/* And its temp dir went too. */
	assert_int_equal(count_tmp(c), 0);
	udfenv_cache_close(c);
}

static void test_gc_never_takes_a_leased_entry(void **state)
{
	udfenv_cache *c = fresh_cache();
	udfenv_cache_lease held = UDFENV_CACHE_LEASE_INIT, other = UDFENV_CACHE_LEASE_INIT;
	udfenv_cache_gc_report rep;
	udfenv_cache_entry *e;
	char k1[UDFENV_SHA256_HEX], k2[UDFENV_SHA256_HEX];
	udfenv_cache_request r1 = request("held", build_ok, NULL, k1), r2 = request("free", build_ok, NULL, k2);
	size_t n;

	(void)state;
	assert_int_equal(udfenv_cache__acquire(c, &r1, &held), 0);
	assert_int_equal(udfenv_cache__acquire(c, &r2, &other), 0);
	udfenv_cache__release(&other);
	assert_int_equal(udfenv_cache_list(c, &e, &n), 0);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(e[i].leased, strcmp(e[i].key, k1) == 0);
	udfenv_cache_list_free(e, n);
	assert_int_equal(udfenv_cache_gc(c, 0, 1, &rep), 0);
	assert_int_equal(rep.removed, 1);
	assert_int_equal(rep.kept_leased, 1);
	assert_int_equal(rep.entries_left, 1);
	assert_int_equal(udfenv_cache_list(c, &e, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(e[0].key, k1);
	udfenv_cache_list_free(e, n);
	/* Released: now it goes, and the next acquire builds it again. */
	udfenv_cache__release(&held);
	assert_int_equal(udfenv_cache_clear(c, &rep), 0);
	assert_int_equal(rep.removed, 1);
	assert_int_equal(udfenv_cache__acquire(c, &r1, &held), 0);
	assert_int_equal(held.outcome, UDFENV_CACHE_BUILT);
	udfenv_cache__release(&held);
	udfenv_cache_close(c);
}

static void test_one_build_per_key_among_processes(void **state)
{
	udfenv_cache *c = fresh_cache();
	char key[UDFENV_SHA256_HEX], count_file[4096];
	udfenv_cache_request r;
	pid_t pids[8];
	struct stat st;
	int status;

	(void)state;
	snprintf(count_file, sizeof(count_file), "%s/builds-%d", tmpdir.ptr, counter);
	r = request("herd", build_ok, count_file, key);
	for (int i = 0; i < 8; i++) {
		if ((pids[i] = fork()) == 0) {
			udfenv_cache_lease l = UDFENV_CACHE_LEASE_INIT;
			_exit(udfenv_cache__acquire(c, &r, &l) == 0 && l.fd >= 0 ? 0 : 1);
		}
		assert_true(pids[i] > 0);
	}
	for (int i = 0; i < 8; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_equal(stat(count_file, &st), 0);
	assert_int_equal(st.st_size, 1); /* built exactly once */
	udfenv_cache_close(c);
}

static void test_entry_without_marker_is_rebuilt(void **state)
{
	udfenv_cache *c = fresh_cache();
	udfenv_cache_lease l = UDFENV_CACHE_LEASE_INIT;
	char key[UDFENV_SHA256_HEX], marker[4096];
	udfenv_cache_request r = request("marker", build_ok, NULL, key);

	(void)state;
	assert_int_equal(udfenv_cache__acquire(c, &r, &l), 0);
	udfenv_cache__release(&l);
	snprintf(marker, sizeof(marker), "%s/entries/%s/" UDFENV_CACHE_MARKER, c->root.ptr, key);
	assert_int_equal(unlink(marker), 0);
	assert_int_equal(udfenv_cache__acquire(c, &r, &l), 0);
	assert_int_equal(l.outcome, UDFENV_CACHE_BUILT);
	udfenv_cache__release(&l);
	udfenv_cache_close(c);
}

static void test_remembered_values(void **state)
{
	udfenv_cache *c = fresh_cache();
	udfenv_buf v = UDFENV_BUF_INIT;

	(void)state;
	assert_int_equal(udfenv_cache__recall(c, "digests", "/a/b", "sig1", &v), 0);
	udfenv_cache__remember(c, "digests", "/a/b", "sig1", "abc 3");
	assert_int_equal(udfenv_cache__recall(c, "digests", "/a/b", "sig1", &v), 1);
	assert_string_equal(v.ptr, "abc 3");
	assert_int_equal(udfenv_cache__recall(c, "digests", "/a/b", "sig2", &v), 0);
	assert_int_equal(udfenv_cache__recall(c, "digests", "/a/c", "sig1", &v), 0);
	udfenv_buf_dispose(&v);
	udfenv_cache_close(c);
}

/* Clearing removes the remembered records and their lock files; a record being written stays. */
static void test_clear_removes_records_and_their_locks(void **state)
{
	udfenv_cache *c = fresh_cache();
	udfenv_cache_gc_report rep;
	udfenv_buf v = UDFENV_BUF_INIT, locks = UDFENV_BUF_INIT;
	int held;

	(void)state;
	assert_int_equal(udfenv_buf_printf(&locks, "%s/locks", c->root.ptr), 0);
	assert_int_equal(udfenv_cache__lock_record(c, "digests", "/a/b", NULL, &held), 0);
	udfenv_cache__remember(c, "digests", "/a/b", "sig1", "abc 3");
	close(held);
	assert_int_equal(udfenv_cache__lock_record(c, "digests", "/a/c", NULL, &held), 0);
	udfenv_cache__remember(c, "digests", "/a/c", "sig1", "def 4");
	assert_int_equal(tu_count_entries(locks.ptr), 2);
	assert_int_equal(udfenv_cache_clear(c, &rep), 0);
	assert_int_equal(udfenv_cache__recall(c, "digests", "/a/b", "sig1", &v), 0);
	assert_int_equal(udfenv_cache__recall(c, "digests", "/a/c", "sig1", &v), 1);
	assert_int_equal(tu_count_entries(locks.ptr), 1);
	close(held);
	assert_int_equal(udfenv_cache_clear(c, &rep), 0);
	assert_int_equal(udfenv_cache__recall(c, "digests", "/a/c", "sig1", &v), 0);
	assert_int_equal(tu_count_entries(locks.ptr), 0);
	udfenv_buf_dispose(&v);
	udfenv_buf_dispose(&locks);
	udfenv_cache_close(c);
}

static void test_a_cache_others_can_write_is_refused(void **state)
{
	udfenv_buf dir = UDFENV_BUF_INIT;
	udfenv_cache *c = NULL;

	(void)state;
	assert_int_equal(udfenv_buf_printf(&dir, "%s/open", tmpdir.ptr), 0);
	assert_int_equal(mkdir(dir.ptr, 0700), 0);
	assert_int_equal(chmod(dir.ptr, 0777), 0);
	assert_int_equal(udfenv_cache_open(&c, dir.ptr), UDFENV_EUNSAFE);
	tu_assert_message_contains("writable by others");
	assert_null(c);
	udfenv_buf_dispose(&dir);
}

/* The fds this process has open. */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the DIR's own */
}

/* The names in `dir` but "." and "..", counted; the first one starting with `prefix` in `found`. */
static int count_names(const char *dir, const char *prefix, char *found, size_t size)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	if (found)
		found[0] = '\0';
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		n++;
		if (found && found[0] == '\0' && strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			snprintf(found, size, "%s", de->d_name);
	}
	closedir(d);
	return n;
}

static void test_remember_leaves_no_temp_file_and_no_fd(void **state)
{
	udfenv_cache *c = fresh_cache();
	udfenv_buf v = UDFENV_BUF_INIT, big = UDFENV_BUF_INIT, dir = UDFENV_BUF_INIT;
	char found[256];
	int fds = count_fds();

	(void)state;
	assert_int_equal(udfenv_buf_printf(&dir, "%s/digests", c->root.ptr), 0);
	udfenv_cache__remember(c, "digests", "/a/b", "sig1", "abc 3");
	udfenv_cache__remember(c, "digests", "/a/b", "sig2", "def 4"); /* replaces it */
	assert_int_equal(udfenv_cache__recall(c, "digests", "/a/b", "sig2", &v), 1);
	assert_string_equal(v.ptr, "def 4");
	/* Failures are only logged: a record too big, a kind with no dir. */
	assert_int_equal(udfenv_buf_grow(&big, 2u << 20), 0);
	memset(big.ptr, 'x', 2u << 20);
	big.ptr[2u << 20] = '\0';
	udfenv_cache__remember(c, "digests", "/a/c", "sig1", big.ptr);
	udfenv_cache__remember(c, "nosuch", "/a/d", "sig1", "v");
	assert_int_equal(udfenv_cache__recall(c, "digests", "/a/c", "sig1", &v), 0);
	assert_int_equal(udfenv_error_last()->code, 0);
	/* One record, written beside the others, no temp file left, no fd. */
	assert_int_equal(count_names(dir.ptr, ".tmp-", found, sizeof(found)), 1);
	assert_string_equal(found, "");
	assert_int_equal(count_fds(), fds);
	udfenv_buf_dispose(&v);
	udfenv_buf_dispose(&big);
	udfenv_buf_dispose(&dir);
	udfenv_cache_close(c);
}

/* A record's temp file whose writer died: GC takes it once it is a minute old, not before. */
static void test_gc_reclaims_stale_record_temp_files(void **state)
{
	udfenv_cache *c = fresh_cache();
	udfenv_cache_gc_report rep;
	udfenv_buf stale = UDFENV_BUF_INIT, fresh = UDFENV_BUF_INIT;
	struct timespec old[2] = {{0, 0}, {0, 0}};
	struct stat st;

	(void)state;
	old[0].tv_sec = old[1].tv_sec = time(NULL) - 3600;
	assert_int_equal(udfenv_buf_printf(&stale, "%s/interp/.tmp-aaaaaa", c->root.ptr), 0);
	assert_int_equal(udfenv_buf_printf(&fresh, "%s/digests/.tmp-bbbbbb", c->root.ptr), 0);
	assert_int_equal(udfenv_fs_write_new(stale.ptr, "x", 1, 0600), 0);
	assert_int_equal(udfenv_fs_write_new(fresh.ptr, "x", 1, 0600), 0);
	assert_int_equal(utimensat(AT_FDCWD, stale.ptr, old, 0), 0);
	assert_int_equal(udfenv_cache_gc(c, 0, 1, &rep), 0);
	assert_int_equal(rep.reclaimed, 1);
	assert_int_equal(lstat(stale.ptr, &st), -1);
	assert_int_equal(lstat(fresh.ptr, &st), 0);
	udfenv_buf_dispose(&stale);
	udfenv_buf_dispose(&fresh);
	udfenv_cache_close(c);
}

/* A warm open creates nothing, but what is missing is made again. */
static void test_open_makes_what_is_missing(void **state)
{
	udfenv_buf dir = UDFENV_BUF_INIT, p = UDFENV_BUF_INIT;
	udfenv_cache *c = NULL;
	struct stat st;

	(void)state;
	assert_int_equal(udfenv_buf_printf(&dir, "%s/nested/deeper/cache", tmpdir.ptr), 0);
	assert_int_equal(udfenv_cache_open(&c, dir.ptr), 0);
	udfenv_cache_close(c);
	/* A subdir removed behind our back. */
	assert_int_equal(udfenv_buf_printf(&p, "%s/v1/trash", dir.ptr), 0);
	assert_int_equal(rmdir(p.ptr), 0);
	assert_int_equal(udfenv_cache_open(&c, dir.ptr), 0);
	udfenv_cache_close(c);
	assert_int_equal(stat(p.ptr, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	/* The whole layout and the tag. */
	udfenv_buf_clear(&p);
	assert_int_equal(udfenv_buf_printf(&p, "%s/v1", dir.ptr), 0);
	assert_int_equal(udfenv_fs_rmtree(p.ptr), 0);
	udfenv_buf_clear(&p);
	assert_int_equal(udfenv_buf_printf(&p, "%s/CACHEDIR.TAG", dir.ptr), 0);
	assert_int_equal(unlink(p.ptr), 0);
	assert_int_equal(udfenv_cache_open(&c, dir.ptr), 0);
	assert_int_equal(stat(p.ptr, &st), 0);
	udfenv_buf_clear(&p);
	assert_int_equal(udfenv_buf_printf(&p, "%s/v1/work", dir.ptr), 0);
	assert_int_equal(stat(p.ptr, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	udfenv_cache_close(c);
	/* A file where the cache dir should be. */
	udfenv_buf_clear(&p);
	assert_int_equal(udfenv_buf_printf(&p, "%s/a-file", tmpdir.ptr), 0);
	assert_int_equal(udfenv_fs_write_new(p.ptr, "x", 1, 0600), 0);
	assert_int_equal(udfenv_cache_open(&c, p.ptr), UDFENV_ECONFLICT);
	tu_assert_message_contains("exists and is not a directory");
	assert_null(c);
	udfenv_buf_dispose(&dir);
	udfenv_buf_dispose(&p);
}

static int build_enospc(void *ctx, const char *data, const char *scratch, json_t *extra)
{
	(void)ctx, (void)scratch, (void)extra;
	assert_int_equal(mkdir(data, 0755), 0);
	errno = ENOSPC;
	return udfenv_error_set_os(UDFENV_ERROR, "cannot write '%s/f'", data);
}

/* Words alone, as a child process's output would bring them. */
static int build_says_enospc(void *ctx, const char *data, const char *scratch, json_t *extra)
{
	(void)ctx, (void)scratch, (void)extra;
	assert_int_equal(mkdir(data, 0755), 0);
	return udfenv_error_set(UDFENV_EINSTALL, "pip: OSError: [Errno 28] %s", strerror(ENOSPC));
}

/* The full-disk hint comes from the errno the failure kept, not from its words. */
static void test_full_disk_hint_follows_the_errno(void **state)
{
	udfenv_cache *c = fresh_cache();
	udfenv_cache_lease l = UDFENV_CACHE_LEASE_INIT;
	char key[UDFENV_SHA256_HEX];
	udfenv_cache_request r = request("enospc", build_enospc, NULL, key);
	struct statvfs vfs;

	(void)state;
	assert_int_equal(udfenv_cache__acquire(c, &r, &l), UDFENV_ERROR);
	tu_assert_message_contains("cannot write '");
	tu_assert_message_contains(strerror(ENOSPC));
	tu_assert_message_contains("is on a full filesystem (building archive 'test.zip')");
	tu_assert_message_contains(c->dir.ptr);
	assert_int_equal(udfenv_error_os_errno(), ENOSPC);
	assert_int_equal(count_tmp(c), 0);
	/* With room to spare, words about a full disk are not taken for one. */
	assert_int_equal(statvfs(tmpdir.ptr, &vfs), 0);
	if ((uint64_t)vfs.f_bavail * vfs.f_frsize >= (8u << 20)) {
		r = request("says-enospc", build_says_enospc, NULL, key);
		assert_int_equal(udfenv_cache__acquire(c, &r, &l), UDFENV_EINSTALL);
		assert_null(strstr(udfenv_error_last()->message, "full filesystem"));
	}
	udfenv_cache_close(c);
}

static void test_error_keeps_the_os_errno(void **state)
{
	(void)state;
	errno = EDQUOT;
	assert_int_equal(udfenv_error_set_os(UDFENV_ERROR, "cannot write '%s'", "x"), UDFENV_ERROR);
	assert_int_equal(errno, EDQUOT);
	assert_int_equal(udfenv_error_os_errno(), EDQUOT);
	assert_int_equal(udfenv_error_prefix("building y: "), UDFENV_ERROR);
	assert_int_equal(udfenv_error_os_errno(), EDQUOT);
	udfenv_fs_rmtree_quiet("/nonexistent/udfenv-test");
	assert_int_equal(udfenv_error_os_errno(), EDQUOT);
	tu_assert_message_contains("building y: cannot write 'x': ");
	assert_int_equal(udfenv_error_set(UDFENV_EINVALID, "words"), UDFENV_EINVALID);
	assert_int_equal(udfenv_error_os_errno(), 0);
	assert_int_equal(udfenv_error_set_os_errno(ENOSPC), UDFENV_EINVALID);
	assert_int_equal(udfenv_error_os_errno(), ENOSPC);
	udfenv_error_clear();
	assert_int_equal(udfenv_error_os_errno(), 0);
}

/* Names stored in markers: as they are when valid UTF-8, else every non-ASCII byte '?'. */
static void test_printable_names(void **state)
{
	static const char *const cases[][2] = {
	    {"plain.zip", "plain.zip"},
	    {"caf\xc3\xa9.zip", "caf\xc3\xa9.zip"},
	    {"\xf0\x9f\x90\x8d.zip", "\xf0\x9f\x90\x8d.zip"},
	    {"caf\xc3\xa9-\xff.zip", "caf?" "?-?.zip"},
	    {"\xed\xa0\x80x", "???x"},   /* a surrogate */
	    {"\xc0\xaf", "??"},          /* overlong '/' */
	    {"\xf4\x90\x80\x80", "????"}, /* beyond U+10FFFF */
	    {"", ""},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = udfenv_cache__printable(cases[i][0]);
		json_t *j = json_string(got);
		assert_string_equal(got, cases[i][1]);
		assert_non_null(j); /* jansson takes it */
		json_decref(j);
		free(got);
	}
}

/* unlinkat(2) as the library calls it (this executable's comes first): EROFS for one name. */
static const char *refused_name;

int unlinkat(int dirfd, const char *path, int flags)
{
	static int (*real_unlinkat)(int, const char *, int);

	if (real_unlinkat == NULL)
		*(void **)&real_unlinkat = dlsym(RTLD_NEXT, "unlinkat");
	if (refused_name && strcmp(path, refused_name) == 0) {
		errno = EROFS;
		return -1;
	}
	return real_unlinkat(dirfd, path, flags);
}

/* An error deep in the tree names the whole path of what could not go. */
static void test_fs_rmtree_names_the_nested_path(void **state)
{
	udfenv_buf dir = UDFENV_BUF_INIT, deep = UDFENV_BUF_INIT, want = UDFENV_BUF_INIT;
	(void)state;

	assert_int_equal(udfenv_buf_printf(&dir, "%s/fs-%d", tmpdir.ptr, counter++), 0);
	assert_int_equal(udfenv_buf_printf(&deep, "%s/a/b", dir.ptr), 0);
	assert_int_equal(udfenv_fs_mkdir_p(deep.ptr, 0700), 0);
	assert_int_equal(udfenv_buf_puts(&deep, "/stuck"), 0);
	assert_int_equal(udfenv_fs_write_new(deep.ptr, "x", 1, 0600), 0);
	refused_name = "stuck";
	assert_int_equal(udfenv_fs_rmtree(dir.ptr), UDFENV_ERROR);
	refused_name = NULL;
	assert_int_equal(udfenv_buf_printf(&want, "cannot remove '%s': Read-only file system", deep.ptr), 0);
	assert_string_equal(udfenv_error_last()->message, want.ptr);
	assert_int_equal(udfenv_fs_rmtree(dir.ptr), 0);
	assert_int_equal(access(dir.ptr, F_OK), -1);
	udfenv_buf_dispose(&dir);
	udfenv_buf_dispose(&deep);
	udfenv_buf_dispose(&want);
}

static void test_fs_copy_and_replace(void **state)
{
	udfenv_buf src = UDFENV_BUF_INIT, dst = UDFENV_BUF_INIT, got = UDFENV_BUF_INIT,
		   data = UDFENV_BUF_INIT, dir = UDFENV_BUF_INIT;
	struct stat st;
	int fds = count_fds();

	(void)state;
	assert_int_equal(udfenv_buf_printf(&dir, "%s/fs-%d", tmpdir.ptr, counter++), 0);
	assert_int_equal(mkdir(dir.ptr, 0700), 0);
	assert_int_equal(udfenv_buf_printf(&src, "%s/src", dir.ptr), 0);
	assert_int_equal(udfenv_buf_printf(&dst, "%s/dst", dir.ptr), 0);
	for (int i = 0; i < 30000; i++)
		assert_int_equal(udfenv_buf_printf(&data, "%d\n", i), 0);
	assert_int_equal(udfenv_fs_write_new(src.ptr, data.ptr, data.size, 0600), 0);
	assert_int_equal(udfenv_fs_copy_file(src.ptr, dst.ptr, 0751), 0);
	assert_int_equal(udfenv_fs_read_file(&got, dst.ptr, 1u << 20), 0);
	assert_int_equal(got.size, data.size);
	assert_memory_equal(got.ptr, data.ptr, data.size);
	assert_int_equal(stat(dst.ptr, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0751);
	assert_int_equal(udfenv_fs_copy_file(src.ptr, dst.ptr, 0644), UDFENV_ECONFLICT);
	/* Replace, without fsync: new content and mode, no temp file beside it. */
	assert_int_equal(udfenv_fs_write_replace(dst.ptr, "new\n", 4, 0640), 0);
	assert_int_equal(udfenv_fs_read_file(&got, dst.ptr, 1u << 20), 0);
	assert_string_equal(got.ptr, "new\n");
	assert_int_equal(stat(dst.ptr, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(count_names(dir.ptr, ".tmp-", NULL, 0), 2);
	assert_int_equal(count_fds(), fds);
	assert_int_equal(udfenv_fs_rmtree(dir.ptr), 0);
	udfenv_buf_dispose(&src);
	udfenv_buf_dispose(&dst);
	udfenv_buf_dispose(&got);
	udfenv_buf_dispose(&data);
	udfenv_buf_dispose(&dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_build_then_hit),
		cmocka_unit_test(test_failed_build_leaves_nothing),
		cmocka_unit_test(test_gc_never_takes_a_leased_entry),
		cmocka_unit_test(test_one_build_per_key_among_processes),
		cmocka_unit_test(test_entry_without_marker_is_rebuilt),
		cmocka_unit_test(test_remembered_values),
		cmocka_unit_test(test_clear_removes_records_and_their_locks),
		cmocka_unit_test(test_a_cache_others_can_write_is_refused),
		cmocka_unit_test(test_remember_leaves_no_temp_file_and_no_fd),
		cmocka_unit_test(test_gc_reclaims_stale_record_temp_files),
		cmocka_unit_test(test_open_makes_what_is_missing),
		cmocka_unit_test(test_full_disk_hint_follows_the_errno),
		cmocka_unit_test(test_error_keeps_the_os_errno),
		cmocka_unit_test(test_printable_names),
		cmocka_unit_test(test_fs_copy_and_replace),
		cmocka_unit_test(test_fs_rmtree_names_the_nested_path),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
