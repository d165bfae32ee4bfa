#include "udfenv/deps.h"
#include "lib/manifest.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/path.h"
#include "util/text.h"

#include <stdlib.h>
#include <string.h>

struct udfenv_deps {
	udfenv_strvec files;           /* absolute paths, PYTHONPATH order */
	udfenv_strvec archives;        /* absolute paths ... */
	udfenv_strvec targets;         /* ... and their target names, in step */
	char *requirements;
	char *cache_dir;
	char *executable;
	char *client_executable;
	char *pythonpath;
};

int udfenv_deps_new(udfenv_deps **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : udfenv_error_set(UDFENV_ENOMEM, "out of memory");
}

void udfenv_deps_free(udfenv_deps *d)
{
	if (d == NULL)
		return;
	udfenv_strvec_dispose(&d->files);
	udfenv_strvec_dispose(&d->archives);
	udfenv_strvec_dispose(&d->targets);
	free(d->requirements);
	free(d->cache_dir);
	free(d->executable);
	free(d->client_executable);
	free(d->pythonpath);
	free(d);
}

/* Replace *slot with a copy of `value` (NULL clears). */
static int set_string(char **slot, const char *value)
{
	char *copy = NULL;

	if (value && (copy = strdup(value)) == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	free(*slot);
	*slot = copy;
	return 0;
}

static int check_path(const char *what, const char *path)
{
	if (path == NULL || path[0] == '\0')
		return udfenv_error_set(UDFENV_EINVALID, "%s: the path is empty", what);
	if (strlen(path) >= UDFENV_MANIFEST_MAX_STRING)
		return udfenv_error_set(UDFENV_ELIMIT, "%s '%.40s...' is too long", what, path);
	for (const char *p = path; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			char shown[UDFENV_TEXT_SHOW_SIZE];
			udfenv_text_show(shown, path);
			return udfenv_error_set(UDFENV_EINVALID,
						"%s '%s': the path contains a control character", what,
						shown);
		}
	return 0;
}

/*
 * A list item's ends are trimmed (split_list): a path or name starting or
 * ending with a blank could not be written back as one (udfenv_deps_to_config).
 */
static int check_ends(const char *what, const char *s)
{
	size_t n = strlen(s);

	if (n && (s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		return udfenv_error_set(UDFENV_EINVALID,
					"%s '%s' starts or ends with a space or tab, which a list item "
					"cannot hold", what, s);
	return 0;
}

int udfenv_deps_check_name(const char *what, const char *name)
{
	size_t len = strlen(name);

	if (len == 0)
		return udfenv_error_set(UDFENV_EINVALID, "%s is empty", what);
	if (len > 255)
		return udfenv_error_set(UDFENV_EINVALID, "%s '%.40s...' is longer than 255 bytes", what, name);
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strchr(name, '/'))
		return udfenv_error_set(UDFENV_EINVALID,
					"%s '%s' must be a plain directory name (no '/', not '.' or '..')",
					what, name);
	for (const char *p = name; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			char shown[UDFENV_TEXT_SHOW_SIZE];
			udfenv_text_show(shown, name);
			return udfenv_error_set(UDFENV_EINVALID, "%s '%s' contains a control character",
						what, shown);
		}
	if (strchr(name, ':'))
		return udfenv_error_set(UDFENV_EINVALID,
					"%s '%s' contains ':', which would split PYTHONPATH: rename it",
					what, name);
	return 0;
}

/* Drop every occurrence of `s` from `v`. */
static void strvec_remove(udfenv_strvec *v, const char *s)
{
	size_t i = 0, j = 0;
	for (; i < v->count; i++) {
		if (strcmp(v->items[i], s) == 0)
			free(v->items[i]);
		else
			v->items[j++] = v->items[i];
	}
	v->count = j;
	if (v->items)
		v->items[j] = NULL;
}

/* Put the absolute forms of `paths` in front of d->files, in their order, each once. */
static int add_files_block(udfenv_deps *d, const udfenv_strvec *paths)
{
	udfenv_strvec block = UDFENV_STRVEC_INIT;
	udfenv_buf abs = UDFENV_BUF_INIT;
	int error = 0;

	for (size_t i = 0; i < paths->count; i++) {
		if ((error = check_path("python file", paths->items[i])) < 0 ||
		    (error = udfenv_path_absolute(&abs, paths->items[i])) < 0 ||
		    (error = check_ends("python file", abs.ptr)) < 0)
			goto done;
		if (udfenv_strvec_find(&block, abs.ptr) < 0 &&
		    (error = udfenv_strvec_push(&block, abs.ptr)) < 0)
			goto done;
	}
	for (size_t i = 0; i < block.count; i++)
		strvec_remove(&d->files, block.items[i]);
	for (size_t i = block.count; i > 0; i--)
		if ((error = udfenv_strvec_insert(&d->files, 0, block.items[i - 1])) < 0)
			goto done;
done:
	udfenv_strvec_dispose(&block);
	udfenv_buf_dispose(&abs);
	return error;
}

/* Trim spaces and tabs at both ends, in place; returns the new start. */
static char *trim_blanks(char *s)
{
	size_t n;
	while (*s == ' ' || *s == '\t')
		s++;
	for (n = strlen(s); n && (s[n - 1] == ' ' || s[n - 1] == '\t'); n--)
		s[n - 1] = '\0';
	return s;
}

/* Store one parsed item: its head, and "" (no '#') or "#" + the trimmed tail. */
static int push_item(const char *what, const char *list, int item, udfenv_buf *head,
		     udfenv_buf *tail, int has_hash, udfenv_strvec *heads, udfenv_strvec *tails)
{
	char *h = trim_blanks(head->ptr ? head->ptr : (char[]){""});
	int error;

	if (*h == '\0')
		return udfenv_error_set(UDFENV_EINVALID,
					"%s list '%s': item %d is empty (a stray ',' or a leading '#'?)",
					what, list, item);
	if ((error = udfenv_strvec_push(heads, h)) < 0)
		return error;
	if (!has_hash)
		return udfenv_strvec_push(tails, "");
	return udfenv_strvec_pushf(tails, "#%s", trim_blanks(tail->ptr ? tail->ptr : (char[]){""}));
}

/*
 * Split a list value into items: ',' separates, a backslash escapes ',' '#'
 * and '\', spaces around each part are trimmed, empty items are refused.
 * `heads` gets the part before an item's first unescaped '#'; `tails` gets
 * "" when the item has no '#', else "#" and the part after it (so an empty
 * part after '#' can be told from none).
 */
static int split_list(const char *what, const char *list, udfenv_strvec *heads, udfenv_strvec *tails)
{
	udfenv_buf head = UDFENV_BUF_INIT, tail = UDFENV_BUF_INIT;
	int error = 0, item = 1, has_hash = 0;

	for (const char *p = list;; p++) {
		udfenv_buf *cur = has_hash ? &tail : &head;
		if (*p == '\\' && (p[1] == ',' || p[1] == '#' || p[1] == '\\'))
			error = udfenv_buf_putc(cur, *++p);
		else if (*p == '#' && !has_hash)
			has_hash = 1;
		else if (*p != ',' && *p != '\0')
			error = udfenv_buf_putc(cur, *p);
		else {
			error = push_item(what, list, item++, &head, &tail, has_hash, heads, tails);
			udfenv_buf_clear(&head);
			udfenv_buf_clear(&tail);
			has_hash = 0;
			if (*p == '\0')
				break;
		}
		if (error < 0)
			break;
	}
	udfenv_buf_dispose(&head);
	udfenv_buf_dispose(&tail);
	return error;
}

int udfenv_deps_add_python_file(udfenv_deps *d, const char *path)
{
	udfenv_strvec one = UDFENV_STRVEC_INIT;
	int error;

	if ((error = udfenv_strvec_push(&one, path ? path : "")) == 0)
		error = add_files_block(d, &one);
	udfenv_strvec_dispose(&one);
	return error;
}

int udfenv_deps_add_python_files(udfenv_deps *d, const char *list)
{
	udfenv_strvec heads = UDFENV_STRVEC_INIT, tails = UDFENV_STRVEC_INIT;
	int error;

	if ((error = split_list("python files", list, &heads, &tails)) < 0)
		goto done;
	for (size_t i = 0; i < tails.count; i++)
		if (tails.items[i][0]) {
			error = udfenv_error_set(UDFENV_EINVALID,
						 "python file '%s%s': '#' is not allowed in python files "
						 "(escape it as '\\#' if it is part of the path)",
						 heads.items[i], tails.items[i]);
			goto done;
		}
	error = add_files_block(d, &heads);
done:
	udfenv_strvec_dispose(&heads);
	udfenv_strvec_dispose(&tails);
	return error;
}

int udfenv_deps_set_requirements(udfenv_deps *d, const char *file, const char *cache_dir)
{
	udfenv_buf abs_file = UDFENV_BUF_INIT, abs_cache = UDFENV_BUF_INIT;
	int error;

	if ((error = check_path("requirements file", file)) < 0 ||
	    (cache_dir && (error = check_path("requirements cache dir", cache_dir)) < 0) ||
	    (error = udfenv_path_absolute(&abs_file, file)) < 0 ||
	    (error = check_ends("requirements file", abs_file.ptr)) < 0 ||
	    (cache_dir && (error = udfenv_path_absolute(&abs_cache, cache_dir)) < 0) ||
	    (cache_dir && (error = check_ends("requirements cache dir", abs_cache.ptr)) < 0) ||
	    (error = set_string(&d->requirements, abs_file.ptr)) < 0)
		goto done;
	error = set_string(&d->cache_dir, cache_dir ? abs_cache.ptr : NULL);
done:
	udfenv_buf_dispose(&abs_file);
	udfenv_buf_dispose(&abs_cache);
	return error;
}

int udfenv_deps_set_requirements_item(udfenv_deps *d, const char *item)
{
	udfenv_strvec heads = UDFENV_STRVEC_INIT, tails = UDFENV_STRVEC_INIT;
	int error;

	if ((error = split_list("requirements", item, &heads, &tails)) < 0)
		goto done;
	if (heads.count != 1) {
		error = udfenv_error_set(UDFENV_EINVALID,
					 "requirements '%s': give one file (and '#cache_dir'), not a list",
					 item);
		goto done;
	}
	if (strcmp(tails.items[0], "#") == 0) {
		error = udfenv_error_set(UDFENV_EINVALID,
					 "requirements '%s': the cache dir after '#' is empty", item);
		goto done;
	}
	error = udfenv_deps_set_requirements(d, heads.items[0],
					     tails.items[0][0] ? tails.items[0] + 1 : NULL);
done:
	udfenv_strvec_dispose(&heads);
	udfenv_strvec_dispose(&tails);
	return error;
}

int udfenv_deps_add_archive(udfenv_deps *d, const char *path, const char *target)
{
	udfenv_buf abs = UDFENV_BUF_INIT, name = UDFENV_BUF_INIT;
	int error;

	if ((error = check_path("archive", path)) < 0 || (error = udfenv_path_absolute(&abs, path)) < 0 ||
	    (error = check_ends("archive", abs.ptr)) < 0)
		goto done;
	if (target == NULL && (error = udfenv_path_basename(&name, abs.ptr)) < 0)
		goto done;
	if (target == NULL)
		target = name.ptr;
	if ((error = udfenv_deps_check_name("archive target", target)) < 0 ||
	    (error = check_ends("archive target", target)) < 0) {
		udfenv_error_prefix("archive '%s': ", path);
		goto done;
	}
	for (size_t i = 0; i < d->targets.count; i++) {
		if (strcmp(d->targets.items[i], target) != 0)
			continue;
		if (strcmp(d->archives.items[i], abs.ptr) != 0)
			error = udfenv_error_set(UDFENV_ECONFLICT,
						 "archives '%s' and '%s' are both to be extracted to "
						 "'%s': give one of them another target name (path#name)",
						 d->archives.items[i], abs.ptr, target);
		goto done; /* the same pair again: shipped once */
	}
	if ((error = udfenv_strvec_push(&d->archives, abs.ptr)) < 0)
		goto done;
	if ((error = udfenv_strvec_push(&d->targets, target)) < 0) {
		free(d->archives.items[--d->archives.count]);
		d->archives.items[d->archives.count] = NULL;
	}
done:
	udfenv_buf_dispose(&abs);
	udfenv_buf_dispose(&name);
	return error;
}

int udfenv_deps_add_archives(udfenv_deps *d, const char *list)
{
	udfenv_strvec heads = UDFENV_STRVEC_INIT, tails = UDFENV_STRVEC_INIT;
	int error;

	if ((error = split_list("archives", list, &heads, &tails)) < 0)
		goto done;
	for (size_t i = 0; i < heads.count; i++) {
		const char *t = tails.items[i];
		if (strcmp(t, "#") == 0) {
			error = udfenv_error_set(UDFENV_EINVALID,
						 "archive '%s#': the target name after '#' is empty",
						 heads.items[i]);
			goto done;
		}
		if ((error = udfenv_deps_add_archive(d, heads.items[i], t[0] ? t + 1 : NULL)) < 0)
			goto done;
	}
done:
	udfenv_strvec_dispose(&heads);
	udfenv_strvec_dispose(&tails);
	return error;
}

int udfenv_deps_set_executable(udfenv_deps *d, const char *exec)
{
	int error = check_path("python executable", exec);
	return error < 0 ? error : set_string(&d->executable, exec);
}

int udfenv_deps_set_client_executable(udfenv_deps *d, const char *exec)
{
	int error = check_path("python client executable", exec);
	return error < 0 ? error : set_string(&d->client_executable, exec);
}

int udfenv_deps_set_pythonpath(udfenv_deps *d, const char *pythonpath)
{
	int error;

	/* An empty one adds nothing: the same as none. */
	if (pythonpath == NULL || pythonpath[0] == '\0')
		return set_string(&d->pythonpath, NULL);
	/* As a path: a control character could not go into the config (udfenv_deps_to_config). */
	if ((error = check_path("python path", pythonpath)) < 0)
		return error;
	return set_string(&d->pythonpath, pythonpath);
}

int udfenv_deps_from_config(udfenv_deps *d, const udfenv_config *cfg)
{
	const char *v;
	int error = 0;

	const char *key = "python.files";

	if ((v = udfenv_config_get(cfg, key)) != NULL) {
		udfenv_strvec_dispose(&d->files);
		error = udfenv_deps_add_python_files(d, v);
	}
	if (error == 0 && (v = udfenv_config_get(cfg, key = "python.archives")) != NULL) {
		udfenv_strvec_dispose(&d->archives);
		udfenv_strvec_dispose(&d->targets);
		error = udfenv_deps_add_archives(d, v);
	}
	if (error == 0 && (v = udfenv_config_get(cfg, key = "python.requirements")) != NULL)
		error = udfenv_deps_set_requirements_item(d, v);
	if (error == 0 && (v = udfenv_config_get(cfg, key = "python.executable")) != NULL)
		error = udfenv_deps_set_executable(d, v);
	if (error == 0 && (v = udfenv_config_get(cfg, key = "python.client.executable")) != NULL)
		error = udfenv_deps_set_client_executable(d, v);
	if (error == 0 && (v = udfenv_config_get(cfg, key = "python.pythonpath")) != NULL)
		error = udfenv_deps_set_pythonpath(d, v);
	if (error < 0)
		udfenv_error_prefix("config key '%s': ", key);
	return error;
}

int udfenv_deps_merge(udfenv_deps *base, const udfenv_deps *front)
{
	udfenv_strvec archives = UDFENV_STRVEC_INIT, targets = UDFENV_STRVEC_INIT;
	int error = 0;

	if (front->files.count && (error = add_files_block(base, &front->files)) < 0)
		return error;
	/* front's archives first: rebuild the list as front + base, checking clashes. */
	archives = base->archives;
	targets = base->targets;
	memset(&base->archives, 0, sizeof(base->archives));
	memset(&base->targets, 0, sizeof(base->targets));
	for (size_t i = 0; i < front->archives.count && error == 0; i++)
		error = udfenv_deps_add_archive(base, front->archives.items[i], front->targets.items[i]);
	for (size_t i = 0; i < archives.count && error == 0; i++)
		error = udfenv_deps_add_archive(base, archives.items[i], targets.items[i]);
	udfenv_strvec_dispose(&archives);
	udfenv_strvec_dispose(&targets);
	if (error < 0)
		return error;
	if (front->requirements &&
	    ((error = set_string(&base->requirements, front->requirements)) < 0 ||
	     (error = set_string(&base->cache_dir, front->cache_dir)) < 0))
		return error;
	if (front->executable && (error = set_string(&base->executable, front->executable)) < 0)
		return error;
	if (front->client_executable &&
	    (error = set_string(&base->client_executable, front->client_executable)) < 0)
		return error;
	if (front->pythonpath && (error = set_string(&base->pythonpath, front->pythonpath)) < 0)
		return error;
	return 0;
}

size_t udfenv_deps_file_count(const udfenv_deps *d)
{
	return d->files.count;
}

const char *udfenv_deps_file(const udfenv_deps *d, size_t i)
{
	return i < d->files.count ? d->files.items[i] : NULL;
}

size_t udfenv_deps_archive_count(const udfenv_deps *d)
{
	return d->archives.count;
}

const char *udfenv_deps_archive(const udfenv_deps *d, size_t i, const char **target)
{
	if (i >= d->archives.count)
		return NULL;
	if (target)
		*target = d->targets.items[i];
	return d->archives.items[i];
}

const char *udfenv_deps_requirements(const udfenv_deps *d, const char **cache_dir)
{
	if (cache_dir)
		*cache_dir = d->cache_dir;
	return d->requirements;
}

const char *udfenv_deps_executable(const udfenv_deps *d)
{
	return d->executable;
}

const char *udfenv_deps_client_executable(const udfenv_deps *d)
{
	return d->client_executable;
}

const char *udfenv_deps_pythonpath(const udfenv_deps *d)
{
	return d->pythonpath;
}

/* Append `s` to a list value, escaping what split_list would take as syntax. */
static int put_list_part(udfenv_buf *out, const char *s)
{
	int error = 0;

	for (; *s && error == 0; s++) {
		if (*s == ',' || *s == '#' || *s == '\\')
			error = udfenv_buf_putc(out, '\\');
		if (error == 0)
			error = udfenv_buf_putc(out, *s);
	}
	return error;
}

int udfenv_deps_to_config(const udfenv_deps *d, udfenv_config *cfg)
{
	udfenv_buf v = UDFENV_BUF_INIT;
	int error = 0;

	for (size_t i = 0; i < d->files.count && error == 0; i++)
		if ((i == 0 || (error = udfenv_buf_putc(&v, ',')) == 0))
			error = put_list_part(&v, d->files.items[i]);
	if (error == 0 && d->files.count)
		error = udfenv_config_set(cfg, "python.files", udfenv_buf_cstr(&v));

	udfenv_buf_clear(&v);
	for (size_t i = 0; i < d->archives.count && error == 0; i++) {
		if ((i == 0 || (error = udfenv_buf_putc(&v, ',')) == 0) &&
		    (error = put_list_part(&v, d->archives.items[i])) == 0 &&
		    (error = udfenv_buf_putc(&v, '#')) == 0)
			error = put_list_part(&v, d->targets.items[i]);
	}
	if (error == 0 && d->archives.count)
		error = udfenv_config_set(cfg, "python.archives", udfenv_buf_cstr(&v));

	udfenv_buf_clear(&v);
	if (error == 0 && d->requirements) {
		if ((error = put_list_part(&v, d->requirements)) == 0 && d->cache_dir &&
		    (error = udfenv_buf_putc(&v, '#')) == 0)
			error = put_list_part(&v, d->cache_dir);
		if (error == 0)
			error = udfenv_config_set(cfg, "python.requirements", udfenv_buf_cstr(&v));
	}
	if (error == 0 && d->executable)
		error = udfenv_config_set(cfg, "python.executable", d->executable);
	if (error == 0 && d->client_executable)
		error = udfenv_config_set(cfg, "python.client.executable", d->client_executable);
	if (error == 0 && d->pythonpath)
		error = udfenv_config_set(cfg, "python.pythonpath", d->pythonpath);
	udfenv_buf_dispose(&v);
	return error;
}
