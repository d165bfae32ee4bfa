#include "lib/pep440.h"
#include "util/error.h"

static int is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int is_sep(char c)
{
	return c == '-' || c == '_' || c == '.';
}

int udfenv_pep503_normalize(udfenv_buf *out, const char *name, size_t len)
{
	int error;

	udfenv_buf_clear(out);
	if (len == 0 || !is_alnum(name[0]) || !is_alnum(name[len - 1]))
		goto invalid;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (is_sep(c)) {
			while (i + 1 < len && is_sep(name[i + 1]))
				i++;
			c = '-';
		} else if (!is_alnum(c)) {
			goto invalid;
		} else if (c >= 'A' && c <= 'Z') {
			c = (char)(c - 'A' + 'a');
		}
		if ((error = udfenv_buf_putc(out, c)) < 0)
			return error;
	}
	return 0;
invalid:
	return udfenv_error_set(UDFENV_EINVALID, "'%.*s' is not a valid project name",
				len > 200 ? 200 : (int)len, name);
}
