#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "util/buf.h"
#include "util/path.h"

#include <string.h>

/* os.path.dirname's answers, which the requirements parser must match (pip). */
static void test_dirname(void **state)
{
	static const char *const cases[][2] = {
	    {"a/b", "a"},   {"a/b/", "a/b"}, {"/a", "/"},       {"a", ""},     {"", ""},
	    {"/", "/"},     {"//a", "//"},   {"a//b", "a"},     {"/x/y.txt", "/x"},
	    {"../r.txt", ".."},
	};
	udfenv_buf out = UDFENV_BUF_INIT;
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(udfenv_path_dirname(&out, cases[i][0]), 0);
		if (strcmp(udfenv_buf_cstr(&out), cases[i][1]) != 0)
			fail_msg("dirname('%s') is '%s', not '%s'", cases[i][0], udfenv_buf_cstr(&out),
				 cases[i][1]);
	}
	udfenv_buf_dispose(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dirname),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
