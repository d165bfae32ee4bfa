/* The dependency spec and config: list syntax, ordering, merge, de-duplication. */
#include <stdint.h>

#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "udfenv/udfenv.h"

static udfenv_deps *new_deps(void)
{
	udfenv_deps *d = NULL;
	assert_int_equal(udfenv_deps_new(&d), 0);
	return d;
}

static void assert_files(const udfenv_deps *d, const char *const *expected)
{
	size_t n = 0;
	for (; expected[n]; n++)
		assert_string_equal(udfenv_deps_file(d, n), expected[n]);
	assert_int_equal(udfenv_deps_file_count(d), n);
}

static void test_add_python_file_puts_newest_first(void **state)
{
	udfenv_deps *d = new_deps();
	(void)state;
	assert_int_equal(udfenv_deps_add_python_file(d, "/u/1.py"), 0);
	assert_int_equal(udfenv_deps_add_python_file(d, "/u/2.py"), 0);
	assert_files(d, (const char *const[]){"/u/2.py", "/u/1.py", NULL});
	/* Re-adding moves to the front, shipped once. */
	assert_int_equal(udfenv_deps_add_python_file(d, "/u/1.py"), 0);
	assert_files(d, (const char *const[]){"/u/1.py", "/u/2.py", NULL});
	udfenv_deps_free(d);
}

static void test_list_keeps_order_and_goes_in_front(void **state)
{
	udfenv_deps *d = new_deps();
	(void)state;
	assert_int_equal(udfenv_deps_add_python_files(d, "/a.py, /b.py ,/a.py"), 0);
	assert_files(d, (const char *const[]){"/a.py", "/b.py", NULL});
	assert_int_equal(udfenv_deps_add_python_files(d, "/c,/b.py"), 0);
	assert_files(d, (const char *const[]){"/c", "/b.py", "/a.py", NULL});
	udfenv_deps_free(d);
}

static void test_relative_paths_become_absolute(void **state)
{
	udfenv_deps *d = new_deps();
	char cwd[4096], expect[4200];
	(void)state;
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(expect, sizeof(expect), "%s/lib/m.py", strcmp(cwd, "/") ? cwd : "");
	assert_int_equal(udfenv_deps_add_python_files(d, "./lib//x/../m.py"), 0);
	assert_string_equal(udfenv_deps_file(d, 0), expect);
	udfenv_deps_free(d);
}

static void test_list_errors(void **state)
{
	udfenv_deps *d = new_deps();
	(void)state;
	tu_assert_error(udfenv_deps_add_python_files(d, "/a.py,,/b.py"), UDFENV_EINVALID, "item 2 is empty");
	tu_assert_error(udfenv_deps_add_python_files(d, " , "), UDFENV_EINVALID, "item 1 is empty");
	tu_assert_error(udfenv_deps_add_python_files(d, "/a.py#x"), UDFENV_EINVALID, "'#' is not allowed");
	tu_assert_error(udfenv_deps_add_archives(d, "/v.zip#"), UDFENV_EINVALID, "target name after '#' is empty");
	tu_assert_error(udfenv_deps_set_requirements_item(d, "/r.txt#"), UDFENV_EINVALID, "cache dir after '#' is empty");
	tu_assert_error(udfenv_deps_set_requirements_item(d, "/r.txt,/s.txt"), UDFENV_EINVALID, "one file");
	tu_assert_error(udfenv_deps_add_python_file(d, "/a\tb.py"), UDFENV_EINVALID, "control character");
	assert_int_equal(udfenv_deps_file_count(d), 0); /* nothing half-added */
	udfenv_deps_free(d);
}

static void test_escapes(void **state)
{
	udfenv_deps *d = new_deps();
	const char *target;
	(void)state;
	assert_int_equal(udfenv_deps_add_python_files(d, "/x\\,y.py,/h\\#1.py,/b\\\\s.py"), 0);
	assert_files(d, (const char *const[]){"/x,y.py", "/h#1.py", "/b\\s.py", NULL});
	assert_int_equal(udfenv_deps_add_archives(d, "/d\\#1.zip#t\\,1"), 0);
	assert_string_equal(udfenv_deps_archive(d, 0, &target), "/d#1.zip");
	assert_string_equal(target, "t,1");
	udfenv_deps_free(d);
}

static void test_archives(void **state)
{
	udfenv_deps *d = new_deps();
	const char *target;
	(void)state;
	assert_int_equal(udfenv_deps_add_archives(d, "/p/venv.zip, /p/data.zip # data"), 0);
	assert_string_equal(udfenv_deps_archive(d, 0, &target), "/p/venv.zip");
	assert_string_equal(target, "venv.zip"); /* extension included, like Flink */
	assert_string_equal(udfenv_deps_archive(d, 1, &target), "/p/data.zip");
	assert_string_equal(target, "data");
	/* Same pair again: once. Same archive, second target: both. */
	assert_int_equal(udfenv_deps_add_archive(d, "/p/data.zip", "data"), 0);
	assert_int_equal(udfenv_deps_add_archive(d, "/p/data.zip", "data2"), 0);
	assert_int_equal(udfenv_deps_archive_count(d), 3);
	tu_assert_error(udfenv_deps_add_archive(d, "/q/other.zip", "data"), UDFENV_ECONFLICT,
		     "both to be extracted to 'data'");
	tu_assert_error(udfenv_deps_add_archive(d, "/q/o.zip", ".."), UDFENV_EINVALID, "plain directory name");
	tu_assert_error(udfenv_deps_add_archive(d, "/q/o.zip", "a/b"), UDFENV_EINVALID, "plain directory name");
	assert_int_equal(udfenv_deps_archive_count(d), 3);
	udfenv_deps_free(d);
}

static void test_requirements_replace(void **state)
{
	udfenv_deps *d = new_deps();
	const char *cache;
	(void)state;
	assert_int_equal(udfenv_deps_set_requirements_item(d, "/r1.txt#/cache"), 0);
	assert_string_equal(udfenv_deps_requirements(d, &cache), "/r1.txt");
	assert_string_equal(cache, "/cache");
	assert_int_equal(udfenv_deps_set_requirements(d, "/r2.txt", NULL), 0);
	assert_string_equal(udfenv_deps_requirements(d, &cache), "/r2.txt");
	assert_null(cache);
	udfenv_deps_free(d);
}

static void test_merge_cli_in_front(void **state)
{
	udfenv_deps *cfg_deps = new_deps(), *cli = new_deps();
	udfenv_config *cfg = NULL;
	const char *target, *cache;
	(void)state;
	assert_int_equal(udfenv_config_new(&cfg), 0);
	assert_int_equal(udfenv_config_set(cfg, "python.files", "/c1.py,/shared.py"), 0);
	assert_int_equal(udfenv_config_set(cfg, "python.archives", "/c.zip#c"), 0);
	assert_int_equal(udfenv_config_set(cfg, "python.executable", "cfg/bin/python"), 0);
	assert_int_equal(udfenv_config_set(cfg, "python.requirements", "/rc.txt#/cc"), 0);
	assert_int_equal(udfenv_config_set(cfg, "python.pythonpath", "/pp"), 0);
	assert_int_equal(udfenv_deps_from_config(cfg_deps, cfg), 0);

	assert_int_equal(udfenv_deps_add_python_files(cli, "/f1.py,/shared.py"), 0);
	assert_int_equal(udfenv_deps_add_archives(cli, "/f.zip#f"), 0);
	assert_int_equal(udfenv_deps_set_executable(cli, "venv/bin/python"), 0);
	assert_int_equal(udfenv_deps_merge(cfg_deps, cli), 0);

	assert_files(cfg_deps, (const char *const[]){"/f1.py", "/shared.py", "/c1.py", NULL});
	assert_string_equal(udfenv_deps_archive(cfg_deps, 0, &target), "/f.zip");
	assert_string_equal(udfenv_deps_archive(cfg_deps, 1, &target), "/c.zip");
	assert_string_equal(udfenv_deps_executable(cfg_deps), "venv/bin/python");
	assert_string_equal(udfenv_deps_requirements(cfg_deps, &cache), "/rc.txt"); /* not overridden */
	assert_string_equal(cache, "/cc");
	assert_string_equal(udfenv_deps_pythonpath(cfg_deps), "/pp");
	udfenv_deps_free(cfg_deps);
	udfenv_deps_free(cli);
	udfenv_config_free(cfg);
}

static void test_config_keys(void **state)
{
	udfenv_config *cfg = NULL;
	(void)state;
	assert_int_equal(udfenv_config_new(&cfg), 0);
	tu_assert_error(udfenv_config_set(cfg, "python.fiels", "x"), UDFENV_EINVALID, "unknown config key 'python.fiels'");
	tu_assert_error(udfenv_config_set(cfg, "a b", "x"), UDFENV_EINVALID, "config key 'a b'");
	/* the key and the -D text are shown on one line, escaped */
	tu_assert_error(udfenv_config_set(cfg, "a\nb", "x"), UDFENV_EINVALID, "config key 'a\\x0ab' has");
	tu_assert_error(udfenv_config_define(cfg, "a\x1b[2Jb"), UDFENV_EINVALID,
	                "-D 'a\\x1b[2Jb': expected key=value");
	assert_int_equal(udfenv_config_set(cfg, "parallelism.default", "4"), 0);
	assert_int_equal(udfenv_config_define(cfg, "parallelism.default=8"), 0);
	assert_string_equal(udfenv_config_get(cfg, "parallelism.default"), "8");
	tu_assert_error(udfenv_config_define(cfg, "novalue"), UDFENV_EINVALID,
	                "expected key=value");
	assert_null(udfenv_config_get(cfg, "missing"));
	udfenv_config_free(cfg);
}

static void test_config_errors_name_the_key(void **state)
{
	udfenv_config *cfg = NULL;
	udfenv_deps *d = new_deps();
	(void)state;
	assert_int_equal(udfenv_config_new(&cfg), 0);
	assert_int_equal(udfenv_config_set(cfg, "python.files", "/a.py"), 0);
	assert_int_equal(udfenv_config_set(cfg, "python.archives", "/a.zip,,/b.zip"), 0);
	tu_assert_error(udfenv_deps_from_config(d, cfg), UDFENV_EINVALID,
		     "config key 'python.archives': archives list");
	udfenv_config_free(cfg);
	udfenv_deps_free(d);
}

static void test_config_file(void **state)
{
	udfenv_config *cfg = NULL;
	udfenv_buf dir = UDFENV_BUF_INIT, pathb = UDFENV_BUF_INIT;
	const char *path;
	(void)state;
	assert_int_equal(tu_mkdtemp(&dir, "udfenv-test-deps-"), 0);
	path = tu_join(&pathb, dir.ptr, "conf.yaml");
	assert_int_equal(udfenv_config_new(&cfg), 0);

	tu_write_file(path,
	              "# comment\n\npython.files: /a.py, /b.py\npython.executable: \"py 3\"\r\n"
	              "python.files: /c.py\n",
	              0644);
	assert_int_equal(udfenv_config_load(cfg, path), 0);
	assert_string_equal(udfenv_config_get(cfg, "python.files"), "/c.py"); /* later line wins */
	assert_string_equal(udfenv_config_get(cfg, "python.executable"), "py 3");

	tu_write_file(path,
	              "python.archives: /v.zip#venv # the venv\n# all comment\n"
	              "python.executable: venv/bin/python\t# tab comment\n",
	              0644);
	assert_int_equal(udfenv_config_load(cfg, path), 0);
	assert_string_equal(udfenv_config_get(cfg, "python.archives"), "/v.zip#venv");
	assert_string_equal(udfenv_config_get(cfg, "python.executable"), "venv/bin/python");

	/* An empty file sets nothing (it once crashed: fuzz/corpus/config/crash-empty-config-file). */
	tu_write_file(path, "", 0644);
	assert_int_equal(udfenv_config_load(cfg, path), 0);
	assert_string_equal(udfenv_config_get(cfg, "python.files"), "/c.py");

	tu_write_file(path, "python.files: /a.py\njust words\n", 0644);
	tu_assert_error(udfenv_config_load(cfg, path), UDFENV_EINVALID,
	                "conf.yaml:2: expected 'key: value'");
	tu_write_file(path, "\npython.archive: x.zip\n", 0644);
	tu_assert_error(udfenv_config_load(cfg, path), UDFENV_EINVALID,
	                "conf.yaml:2: unknown config key");
	unlink(path);
	tu_assert_error(udfenv_config_load(cfg, path), UDFENV_ENOTFOUND, "conf.yaml");
	assert_int_equal(rmdir(dir.ptr), 0);
	udfenv_buf_dispose(&pathb);
	udfenv_buf_dispose(&dir);
	udfenv_config_free(cfg);
}


/* to_config writes what from_config reads back: same files, archives, escapes. */
static void test_to_config_round_trip(void **state)
{
	udfenv_deps *d = new_deps(), *back = new_deps();
	udfenv_config *cfg = NULL;
	const char *target, *cache;
	(void)state;

	assert_int_equal(udfenv_deps_add_python_files(d, "/x/a\\,b.py, /x/c#d.py"), UDFENV_EINVALID);
	assert_int_equal(udfenv_deps_add_python_files(d, "/x/a\\,b.py, /x/c\\#d.py, /x/e\\\\f"), 0);
	assert_int_equal(udfenv_deps_add_archive(d, "/y/venv.zip", NULL), 0);
	assert_int_equal(udfenv_deps_add_archive(d, "/y/data,1.zip", "da#ta"), 0);
	assert_int_equal(udfenv_deps_set_requirements(d, "/r/req.txt", "/r/cache#1"), 0);
	assert_int_equal(udfenv_deps_set_executable(d, "venv.zip/bin/python"), 0);
	assert_int_equal(udfenv_config_new(&cfg), 0);
	assert_int_equal(udfenv_deps_to_config(d, cfg), 0);
	assert_string_equal(udfenv_config_get(cfg, "python.archives"),
			    "/y/venv.zip#venv.zip,/y/data\\,1.zip#da\\#ta");
	assert_null(udfenv_config_get(cfg, "python.pythonpath"));
	assert_int_equal(udfenv_deps_from_config(back, cfg), 0);
	assert_files(back, (const char *const[]){"/x/a,b.py", "/x/c#d.py", "/x/e\\f", NULL});
	assert_int_equal(udfenv_deps_archive_count(back), 2);
	assert_string_equal(udfenv_deps_archive(back, 1, &target), "/y/data,1.zip");
	assert_string_equal(target, "da#ta");
	assert_string_equal(udfenv_deps_requirements(back, &cache), "/r/req.txt");
	assert_string_equal(cache, "/r/cache#1");
	assert_string_equal(udfenv_deps_executable(back), "venv.zip/bin/python");
	/* What the config cannot hold is refused when set (fuzz/corpus/config/crash-pythonpath-newline). */
	tu_assert_error(udfenv_deps_set_pythonpath(d, "/a\n/b"), UDFENV_EINVALID,
			"python path '/a\\x0a/b': the path contains a control character");
	assert_null(udfenv_deps_pythonpath(d));
	/* A list trims its items' ends: what starts or ends with a blank is refused when declared. */
	tu_assert_error(udfenv_deps_add_python_file(d, "/x/1 /"), UDFENV_EINVALID,
			"python file '/x/1 ' starts or ends with a space or tab");
	tu_assert_error(udfenv_deps_add_archive(d, "/y/v.zip", "t "), UDFENV_EINVALID,
			"archive target 't ' starts or ends");
	tu_assert_error(udfenv_deps_add_archive(d, "/y/ v.zip", NULL), UDFENV_EINVALID,
			"archive target ' v.zip' starts or ends");
	tu_assert_error(udfenv_deps_set_requirements(d, "/r/req.txt", "/r/c /"), UDFENV_EINVALID,
			"requirements cache dir '/r/c ' starts or ends");
	assert_int_equal(udfenv_deps_file_count(d), 3);
	assert_int_equal(udfenv_deps_archive_count(d), 2);
	udfenv_config_free(cfg);
	udfenv_deps_free(d);
	udfenv_deps_free(back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_python_file_puts_newest_first),
		cmocka_unit_test(test_list_keeps_order_and_goes_in_front),
		cmocka_unit_test(test_relative_paths_become_absolute),
		cmocka_unit_test(test_list_errors),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_archives),
		cmocka_unit_test(test_requirements_replace),
		cmocka_unit_test(test_merge_cli_in_front),
		cmocka_unit_test(test_config_keys),
		cmocka_unit_test(test_config_file),
		cmocka_unit_test(test_config_errors_name_the_key),
		cmocka_unit_test(test_to_config_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
