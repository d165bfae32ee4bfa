/*
 * The job manifest as JSON. A manifest comes from outside (a shared
 * filesystem, another user's client): load validates every field and
 * refuses anything it does not expect.
 */
#include "lib/extract.h"
#include "lib/manifest.h"
#include "util/error.h"
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MANIFEST_MAX_BYTES (16u << 20)
#define SIZE_JSON_MAX ((uint64_t)1 << 53) /* sizes must survive a trip through a double */

static const char *const kind_names[] = {"file", "dir", "archive", "zipimport"};

const char *udfenv_manifest__kind_name(udfenv_kind kind)
{
	return kind_names[kind];
}

void udfenv_manifest__artifact_dispose(udfenv_artifact *a)
{
	if (a == NULL)
		return;
	free(a->name);
	free(a->target);
	if (a->source && a->packed_fd >= 0)
		close(a->packed_fd);
	free(a->source);
	a->name = a->target = a->source = NULL;
}

void udfenv_manifest_free(udfenv_manifest *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->nfiles; i++)
		udfenv_manifest__artifact_dispose(&m->files[i]);
	for (size_t i = 0; i < m->narchives; i++)
		udfenv_manifest__artifact_dispose(&m->archives[i]);
	free(m->files);
	free(m->archives);
	udfenv_manifest__artifact_dispose(m->requirements);
	udfenv_manifest__artifact_dispose(m->cache_dir);
	free(m->requirements);
	free(m->cache_dir);
	free(m->executable);
	free(m->client_executable);
	free(m->pythonpath);
	free(m);
}

int udfenv_manifest__blob_path(udfenv_buf *out, const char *store, const udfenv_artifact *a)
{
	udfenv_buf_clear(out);
	return udfenv_buf_printf(out, "%s/%s", store, a->digest);
}

int udfenv_manifest__pack(const char *dir, int *fd)
{
	int error;

	if ((*fd = memfd_create("udfenv-pack", MFD_CLOEXEC)) < 0)
		return udfenv_error_set_os(UDFENV_ERROR, "cannot pack '%s'", dir);
	if ((error = udfenv_pack__dir(dir, *fd)) < 0) {
		close(*fd);
		*fd = -1;
		return error;
	}
	if (lseek(*fd, 0, SEEK_SET) < 0) {
		close(*fd);
		*fd = -1;
		return udfenv_error_set_os(UDFENV_ERROR, "cannot rewind the packed '%s'", dir);
	}
	return 0;
}

/* A fresh fd on the bytes of a local artifact: the file, or the directory packed. */
static int open_source(const udfenv_artifact *a, int *fd)
{
	if (a->kind != UDFENV_KIND_DIR) {
		if ((*fd = open(a->source, O_RDONLY | O_CLOEXEC)) < 0)
			return udfenv_error_set_os(udfenv_error_from_errno(errno), "cannot read '%s'", a->source);
		return 0;
	}
	if (a->packed_fd < 0)
		return udfenv_manifest__pack(a->source, fd);
	if ((*fd = fcntl(a->packed_fd, F_DUPFD_CLOEXEC, 3)) < 0 || lseek(*fd, 0, SEEK_SET) < 0)
		return udfenv_error_set_os(UDFENV_ERROR, "cannot reopen the packed '%s'", a->source);
	return 0;
}

int udfenv_manifest__open_blob(const char *store, const udfenv_artifact *a, int copy_fd,
			       const char *copy_name, int *fd)
{
	udfenv_buf path = UDFENV_BUF_INIT;
	char hex[UDFENV_SHA256_HEX];
	uint64_t size = 0;
	int error;

	*fd = -1;
	if (store == NULL) {
		if ((error = open_source(a, fd)) < 0 || (error = udfenv_buf_sets(&path, a->source)) < 0)
			goto done;
	} else {
		if ((error = udfenv_manifest__blob_path(&path, store, a)) < 0)
			goto done;
		if ((*fd = open(path.ptr, O_RDONLY | O_CLOEXEC)) < 0) {
			error = udfenv_error_set_os(udfenv_error_from_errno(errno),
						    "artifact '%s' (sha256 %.12s...) cannot be read from the "
						    "store '%s'", a->name, a->digest, store);
			goto done;
		}
	}
	if ((error = udfenv_sha256_fd(*fd, path.ptr, copy_fd, copy_name, hex, &size)) < 0)
		goto done;
	if (size != a->size || strcmp(hex, a->digest) != 0) {
		error = store ? udfenv_error_set(UDFENV_EUNSAFE,
						 "artifact '%s': store blob '%s' does not match its digest "
						 "(sha256 %s, %llu bytes expected; found sha256 %s, %llu bytes): "
						 "the store is corrupt or was tampered with",
						 a->name, path.ptr, a->digest, (unsigned long long)a->size, hex,
						 (unsigned long long)size)
			      : udfenv_error_set(UDFENV_ECONFLICT,
						 "'%s' changed while udfenv was using it: run again once "
						 "it stays the same", a->source);
		goto done;
	}
	if (lseek(*fd, 0, SEEK_SET) < 0)
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot rewind '%s'", path.ptr);
done:
	if (error < 0 && *fd >= 0) {
		close(*fd);
		*fd = -1;
	}
	udfenv_buf_dispose(&path);
	return error;
}

/* --- writing --- */

static json_t *artifact_json(const udfenv_artifact *a)
{
	json_t *o = json_pack("{s:s, s:I, s:s, s:s}", "digest", a->digest, "size",
			      (json_int_t)a->size, "kind", kind_names[a->kind], "name", a->name);
	if (o && a->target)
		json_object_set_new(o, "target", json_string(a->target));
	return o;
}

static json_t *artifacts_json(const udfenv_artifact *list, size_t n)
{
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < n; i++)
		if (json_array_append_new(arr, artifact_json(&list[i])) < 0) {
			json_decref(arr);
			return NULL;
		}
	return arr;
}

static json_t *string_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

int udfenv_manifest_save(const udfenv_manifest *m, const char *path)
{
	json_t *root, *req = json_null();
	char *text = NULL;
	int error;

	if (m->requirements)
		req = json_pack("{s:o, s:o}", "file", artifact_json(m->requirements), "cache_dir",
				m->cache_dir ? artifact_json(m->cache_dir) : json_null());
	root = json_pack("{s:s, s:i, s:o, s:o, s:o, s:{s:o, s:o, s:o}}", "format",
			 "udfenv-manifest", "version", UDFENV_MANIFEST_VERSION, "python_files",
			 artifacts_json(m->files, m->nfiles), "requirements", req, "archives",
			 artifacts_json(m->archives, m->narchives), "python", "executable",
			 string_or_null(m->executable), "client_executable",
			 string_or_null(m->client_executable), "pythonpath",
			 string_or_null(m->pythonpath));
	if (root == NULL || (text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) == NULL) {
		error = udfenv_error_set(UDFENV_ENOMEM, "cannot build the manifest JSON");
		goto done;
	}
	error = udfenv_fs_write_atomic(path, text, strlen(text), 0644);
done:
	free(text);
	json_decref(root);
	return error;
}

/* --- reading --- */

static int bad(const char *path, const char *where, const char *what)
{
	return udfenv_error_set(UDFENV_EINVALID, "manifest '%s': %s %s", path, where, what);
}

/* A copy of the string at o[key]; NULL allowed only when `optional`. */
static int get_string(char **out, json_t *o, const char *key, int optional, const char *path,
		      const char *where)
{
	json_t *v = json_object_get(o, key);
	char label[256];

	*out = NULL;
	snprintf(label, sizeof(label), "%s.%s", where, key);
	if (v == NULL || json_is_null(v)) {
		if (optional)
			return 0;
		return bad(path, label, "is missing");
	}
	if (!json_is_string(v))
		return bad(path, label, "is not a string");
	if (json_string_length(v) == 0 || json_string_length(v) > UDFENV_MANIFEST_MAX_STRING ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return bad(path, label, "is empty, too long or holds a NUL");
	if ((*out = strdup(json_string_value(v))) == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	return 0;
}

static int check_keys(json_t *o, const char *const *allowed, const char *path, const char *where)
{
	const char *key;
	json_t *v;

	if (!json_is_object(o))
		return bad(path, where, "is not an object");
	json_object_foreach(o, key, v) {
		size_t i;
		for (i = 0; allowed[i] && strcmp(allowed[i], key) != 0; i++)
			;
		if (allowed[i] == NULL) {
			char label[256];
			snprintf(label, sizeof(label), "%s.%.64s", where, key);
			return bad(path, label, "is not a known field");
		}
	}
	(void)v;
	return 0;
}

static int parse_artifact(udfenv_artifact *a, json_t *o, int want_target, const char *path,
			  const char *where)
{
	static const char *const fields[] = {"digest", "size", "kind", "name", "target", NULL};
	json_t *digest, *size, *kind;
	size_t k;
	int error;

	memset(a, 0, sizeof(*a));
	if ((error = check_keys(o, fields, path, where)) < 0)
		return error;
	digest = json_object_get(o, "digest");
	if (!json_is_string(digest) || !udfenv_sha256_is_hex(json_string_value(digest)))
		return bad(path, where, "has no digest of 64 lowercase hex digits");
	memcpy(a->digest, json_string_value(digest), UDFENV_SHA256_HEX);
	size = json_object_get(o, "size");
	if (!json_is_integer(size) || json_integer_value(size) < 0 ||
	    (uint64_t)json_integer_value(size) > SIZE_JSON_MAX)
		return bad(path, where, "has no valid size");
	a->size = (uint64_t)json_integer_value(size);
	kind = json_object_get(o, "kind");
	for (k = 0; json_is_string(kind) && k < sizeof(kind_names) / sizeof(kind_names[0]); k++)
		if (strcmp(json_string_value(kind), kind_names[k]) == 0)
			break;
	if (!json_is_string(kind) || k == sizeof(kind_names) / sizeof(kind_names[0]))
		return bad(path, where, "has an unknown kind");
	a->kind = (udfenv_kind)k;
	if ((error = get_string(&a->name, o, "name", 0, path, where)) < 0)
		return error;
	if ((error = udfenv_deps_check_name("artifact name", a->name)) < 0)
		return udfenv_error_prefix("manifest '%s': %s: ", path, where);
	if ((error = get_string(&a->target, o, "target", !want_target, path, where)) < 0)
		return error;
	if (!want_target && a->target)
		return bad(path, where, "has a target, which only archives have");
	if (a->target && (error = udfenv_deps_check_name("archive target", a->target)) < 0)
		return udfenv_error_prefix("manifest '%s': %s: ", path, where);
	return 0;
}

static int parse_list(udfenv_artifact **out, size_t *n, json_t *arr, int want_target,
		      const char *path, const char *where)
{
	char label[64];
	int error;

	if (!json_is_array(arr))
		return bad(path, where, "is not a list");
	if (json_array_size(arr) > UDFENV_MANIFEST_MAX_ARTIFACTS)
		return bad(path, where, "has too many entries");
	if (json_array_size(arr) && (*out = calloc(json_array_size(arr), sizeof(**out))) == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	for (size_t i = 0; i < json_array_size(arr); i++) {
		snprintf(label, sizeof(label), "%s[%zu]", where, i);
		error = parse_artifact(&(*out)[i], json_array_get(arr, i), want_target, path, label);
		*n = i + 1;
		if (error < 0)
			return error;
	}
	return 0;
}

static int parse_requirements(udfenv_manifest *m, json_t *req, const char *path)
{
	static const char *const fields[] = {"file", "cache_dir", NULL};
	json_t *cache;
	int error;

	if (json_is_null(req))
		return 0;
	if ((error = check_keys(req, fields, path, "requirements")) < 0)
		return error;
	if ((m->requirements = calloc(1, sizeof(udfenv_artifact))) == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	if ((error = parse_artifact(m->requirements, json_object_get(req, "file"), 0, path,
				    "requirements.file")) < 0)
		return error;
	/* A dir: the file and what it includes (stage.c, stage_requirements). */
	if (m->requirements->kind != UDFENV_KIND_FILE && m->requirements->kind != UDFENV_KIND_DIR)
		return bad(path, "requirements.file", "is not of kind 'file' or 'dir'");
	cache = json_object_get(req, "cache_dir");
	if (cache == NULL || json_is_null(cache))
		return 0;
	if ((m->cache_dir = calloc(1, sizeof(udfenv_artifact))) == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	if ((error = parse_artifact(m->cache_dir, cache, 0, path, "requirements.cache_dir")) < 0)
		return error;
	if (m->cache_dir->kind != UDFENV_KIND_DIR)
		return bad(path, "requirements.cache_dir", "is not of kind 'dir'");
	return 0;
}

static int parse_manifest(udfenv_manifest *m, json_t *root, const char *path)
{
	static const char *const top[] = {"format", "version", "python_files", "requirements",
					  "archives", "python", NULL};
	static const char *const py[] = {"executable", "client_executable", "pythonpath", NULL};
	json_t *format, *version, *python;
	int error;

	if ((error = check_keys(root, top, path, "the top level")) < 0)
		return error;
	format = json_object_get(root, "format");
	if (!json_is_string(format) || strcmp(json_string_value(format), "udfenv-manifest") != 0)
		return bad(path, "format", "is not \"udfenv-manifest\": not a udfenv manifest");
	version = json_object_get(root, "version");
	if (!json_is_integer(version) || json_integer_value(version) != UDFENV_MANIFEST_VERSION)
		return udfenv_error_set(UDFENV_EINVALID,
					"manifest '%s' has version %s; this udfenv reads version %d",
					path, json_is_integer(version) ? "another" : "no valid",
					UDFENV_MANIFEST_VERSION);
	if ((error = parse_list(&m->files, &m->nfiles, json_object_get(root, "python_files"), 0,
				path, "python_files")) < 0 ||
	    (error = parse_list(&m->archives, &m->narchives, json_object_get(root, "archives"), 1,
				path, "archives")) < 0 ||
	    (error = parse_requirements(m, json_object_get(root, "requirements"), path)) < 0)
		return error;
	for (size_t i = 0; i < m->narchives; i++) {
		if (m->archives[i].kind != UDFENV_KIND_ARCHIVE)
			return bad(path, "archives", "holds an entry that is not of kind 'archive'");
		for (size_t j = 0; j < i; j++)
			if (strcmp(m->archives[i].target, m->archives[j].target) == 0) {
				char label[64];
				snprintf(label, sizeof(label), "archives[%zu]", i);
				return bad(path, label, "has the same target as an earlier archive");
			}
	}
	python = json_object_get(root, "python");
	if ((error = check_keys(python, py, path, "python")) < 0 ||
	    (error = get_string(&m->executable, python, "executable", 1, path, "python")) < 0 ||
	    (error = get_string(&m->client_executable, python, "client_executable", 1, path,
				"python")) < 0 ||
	    (error = get_string(&m->pythonpath, python, "pythonpath", 1, path, "python")) < 0)
		return error;
	return 0;
}

int udfenv_manifest_load(udfenv_manifest **out, const char *path)
{
	udfenv_buf text = UDFENV_BUF_INIT;
	udfenv_manifest *m = NULL;
	json_t *root = NULL;
	json_error_t jerr;
	int error;

	*out = NULL;
	if ((error = udfenv_fs_read_file(&text, path, MANIFEST_MAX_BYTES)) < 0)
		goto done;
	root = json_loadb(udfenv_buf_cstr(&text), text.size, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		error = udfenv_error_set(UDFENV_EINVALID, "manifest '%s' is not valid JSON (line %d: %s)",
					 path, jerr.line, jerr.text);
		goto done;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		error = udfenv_error_set(UDFENV_ENOMEM, "out of memory");
		goto done;
	}
	if ((error = parse_manifest(m, root, path)) < 0)
		goto done;
	*out = m;
	m = NULL;
done:
	udfenv_manifest_free(m);
	json_decref(root);
	udfenv_buf_dispose(&text);
	return error;
}
