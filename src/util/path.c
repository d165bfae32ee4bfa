#include "util/path.h"
#include "util/error.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int udfenv_path_join(udfenv_buf *out, const char *a, const char *b)
{
	int error;
	size_t alen = strlen(a);

	udfenv_buf_clear(out);
	if (b[0] == '/' || alen == 0)
		return udfenv_buf_puts(out, b);
	if ((error = udfenv_buf_puts(out, a)) < 0)
		return error;
	if (a[alen - 1] != '/' && (error = udfenv_buf_putc(out, '/')) < 0)
		return error;
	return udfenv_buf_puts(out, b);
}

const char *udfenv_path_next(const char **cursor, size_t *len)
{
	const char *s = *cursor, *e;

	for (;;) {
		while (*s == '/')
			s++;
		if (*s == '\0') {
			*cursor = s;
			return NULL;
		}
		for (e = s; *e && *e != '/'; e++)
			;
		if (!(e - s == 1 && s[0] == '.'))
			break;
		s = e;
	}
	*cursor = e;
	*len = (size_t)(e - s);
	return s;
}

int udfenv_path_absolute(udfenv_buf *out, const char *p)
{
	udfenv_buf raw = UDFENV_BUF_INIT;
	char cwd[PATH_MAX];
	const char *cursor, *c;
	size_t len;
	int error = 0;

	udfenv_buf_clear(out);
	if (p[0] != '/') {
		if (getcwd(cwd, sizeof(cwd)) == NULL) {
			error = udfenv_error_set_os(UDFENV_ERROR, "cannot read the current directory");
			goto done;
		}
		if ((error = udfenv_path_join(&raw, cwd, p)) < 0)
			goto done;
		p = udfenv_buf_cstr(&raw);
	}
	for (cursor = p; (c = udfenv_path_next(&cursor, &len)) != NULL;) {
		if (UDFENV_PATH_IS_DOTDOT(c, len)) {
			char *slash = out->ptr ? strrchr(out->ptr, '/') : NULL;
			udfenv_buf_truncate(out, slash ? (size_t)(slash - out->ptr) : 0);
			continue;
		}
		if ((error = udfenv_buf_putc(out, '/')) < 0 || (error = udfenv_buf_put(out, c, len)) < 0)
			goto done;
	}
	if (out->size == 0)
		error = udfenv_buf_putc(out, '/');
done:
	udfenv_buf_dispose(&raw);
	return error;
}

int udfenv_path_basename(udfenv_buf *out, const char *p)
{
	size_t end = strlen(p), start;

	while (end > 1 && p[end - 1] == '/')
		end--;
	start = end;
	while (start > 0 && p[start - 1] != '/')
		start--;
	udfenv_buf_clear(out);
	return udfenv_buf_put(out, p + start, end - start);
}

int udfenv_path_has_suffix(const char *p, const char *suffix)
{
	size_t plen = strlen(p), slen = strlen(suffix);
	return plen >= slen && strcasecmp(p + plen - slen, suffix) == 0;
}

static int is_executable_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int udfenv_path_which(udfenv_buf *out, const char *name, const char *path_env)
{
	const char *s, *e;
	int error;

	if (strchr(name, '/')) {
		if ((error = udfenv_buf_sets(out, name)) < 0)
			return error;
		return is_executable_file(name) ? 0 : UDFENV_ENOTFOUND;
	}
	if (path_env == NULL)
		path_env = "/usr/local/bin:/usr/bin:/bin";
	for (s = path_env;; s = e + 1) {
		e = strchrnul(s, ':');
		udfenv_buf_clear(out);
		if ((error = udfenv_buf_put(out, s, (size_t)(e - s))) < 0 ||
		    (error = udfenv_buf_printf(out, "%s%s", e == s ? "" : "/", name)) < 0)
			return error;
		if (is_executable_file(udfenv_buf_cstr(out)))
			return 0;
		if (*e == '\0')
			break;
	}
	return UDFENV_ENOTFOUND;
}

int udfenv_path_dirname(udfenv_buf *out, const char *p)
{
	const char *slash = strrchr(p, '/');
	size_t n, k;

	udfenv_buf_clear(out);
	if (slash == NULL)
		return udfenv_buf_puts(out, "");
	n = k = (size_t)(slash - p) + 1;
	while (k > 0 && p[k - 1] == '/')
		k--;
	return udfenv_buf_put(out, p, k ? k : n);
}
