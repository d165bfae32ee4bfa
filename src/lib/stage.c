/*
 * Staging: hash every artifact of a dependency spec into the content-
 * addressed store `store`/<sha256> and build the manifest.
 */
#include "lib/extract.h"
#include "lib/manifest.h"
#include "lib/reqfile.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/path.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const archive_suffixes[] = {".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2",
					       ".tbz2", ".tar.xz", ".txz", ".tar.zst", NULL};

static udfenv_kind python_file_kind(const char *path, const struct stat *st)
{
	if (S_ISDIR(st->st_mode))
		return UDFENV_KIND_DIR;
	if (udfenv_path_has_suffix(path, ".whl") || udfenv_path_has_suffix(path, ".egg"))
		return UDFENV_KIND_ZIPIMPORT;
	for (size_t i = 0; archive_suffixes[i]; i++)
		if (udfenv_path_has_suffix(path, archive_suffixes[i]))
			return UDFENV_KIND_ARCHIVE;
	return UDFENV_KIND_FILE;
}

/* Check that `path` exists, is readable and is a directory (want_dir) or regular file. */
static int check_input(const char *what, const char *path, int dir_ok, int file_ok, struct stat *st)
{
	if (stat(path, st) < 0)
		return udfenv_error_set_os(udfenv_error_from_errno(errno), "%s '%s' cannot be used",
					   what, path);
	if (S_ISDIR(st->st_mode) ? !dir_ok : !(S_ISREG(st->st_mode) && file_ok))
		return udfenv_error_set(UDFENV_EINVALID, "%s '%s' is not a %s", what, path,
					dir_ok && file_ok ? "file or directory"
					: dir_ok          ? "directory"
							  : "regular file");
	if (access(path, S_ISDIR(st->st_mode) ? R_OK | X_OK : R_OK) < 0)
		return udfenv_error_set_os(UDFENV_ERROR, "%s '%s' cannot be read", what, path);
	return 0;
}

typedef struct {
	const char *store;     /* NULL: no store, artifacts are read in place */
	udfenv_strvec created; /* blobs this staging added, removed again on failure */
	udfenv_stage_digest_fn digest; /* without a store: gives each artifact's digest */
	void *digest_ctx;
} stager;

/* Publish the finished temp file `tmp` as the blob of `a`; an existing blob is kept. */
static int publish_blob(stager *s, const char *tmp, const udfenv_artifact *a)
{
	udfenv_buf dst = UDFENV_BUF_INIT;
	int error;

	if ((error = udfenv_manifest__blob_path(&dst, s->store, a)) < 0)
		goto done;
	if (link(tmp, dst.ptr) == 0)
		error = udfenv_strvec_push(&s->created, dst.ptr);
	else if (errno != EEXIST)
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot add '%s' to the store", dst.ptr);
done:
	unlink(tmp);
	udfenv_buf_dispose(&dst);
	return error;
}

/* Make the store's new file `fd` read-only and close it; `error`, or the first failure here. */
static int seal(stager *s, int fd, int error)
{
	int failed = fchmod(fd, 0444) < 0;

	if (close(fd) < 0)
		failed = 1;
	if (failed && error == 0)
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot write to the store '%s'", s->store);
	return error;
}

/* Copy the regular file `src` into a temp file of the store, hashing on the way. */
static int copy_hashing(stager *s, const char *src, udfenv_buf *tmp, udfenv_artifact *a)
{
	int in = -1, out = -1, error;

	if ((error = udfenv_fs_mkstemp(tmp, s->store, &out)) < 0)
		return error;
	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0)
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot open '%s'", src);
	else
		error = udfenv_sha256_fd(in, src, out, tmp->ptr, a->digest, &a->size);
	if (in >= 0)
		close(in);
	error = seal(s, out, error);
	return error;
}

/* Pack the directory `src` into a temp file of the store and hash it. */
static int pack_hashing(stager *s, const char *src, udfenv_buf *tmp, udfenv_artifact *a)
{
	int out = -1, error;

	if ((error = udfenv_fs_mkstemp(tmp, s->store, &out)) < 0)
		return error;
	error = udfenv_pack__dir(src, out);
	error = seal(s, out, error);
	if (error == 0)
		error = udfenv_sha256_file(tmp->ptr, a->digest, &a->size);
	return error;
}

/* Stage one input as artifact `a` of kind `kind`, named after the path's last component. */
static int stage_one(stager *s, const char *path, udfenv_kind kind, const char *target,
		     udfenv_artifact *a)
{
	udfenv_buf tmp = UDFENV_BUF_INIT, name = UDFENV_BUF_INIT;
	int error;

	memset(a, 0, sizeof(*a));
	a->kind = kind;
	if ((error = udfenv_path_basename(&name, path)) < 0)
		goto done;
	a->name = udfenv_buf_detach(&name);
	if (target && (a->target = strdup(target)) == NULL) {
		error = udfenv_error_set(UDFENV_ENOMEM, "out of memory");
		goto done;
	}
	if (s->store == NULL) {
		a->packed_fd = -1;
		if ((error = udfenv_path_absolute(&tmp, path)) == 0) {
			a->source = udfenv_buf_detach(&tmp);
			error = s->digest(s->digest_ctx, a);
		}
		goto done;
	}
	error = kind == UDFENV_KIND_DIR ? pack_hashing(s, path, &tmp, a) : copy_hashing(s, path, &tmp, a);
	if (error == 0)
		error = publish_blob(s, tmp.ptr, a);
	else if (tmp.size)
		unlink(tmp.ptr);
	if (error == 0)
		udfenv_log(UDFENV_LOG_DEBUG, "staged %s '%s' as sha256 %s (%llu bytes)",
			   udfenv_manifest__kind_name(kind), path, a->digest,
			   (unsigned long long)a->size);
done:
	udfenv_buf_dispose(&tmp);
	udfenv_buf_dispose(&name);
	return error;
}

/*
 * Where include `inc` (a path as the parser opened it) lies under the
 * directory `top_dir` (a real path): its relative path in `rel`, or an
 * error naming it when it lies outside.
 */
static int include_rel(udfenv_buf *rel, const char *req, const char *top_dir, const char *inc)
{
	char *real = realpath(inc, NULL);
	size_t n = strlen(top_dir);
	int error;

	if (real == NULL)
		return udfenv_error_set_os(UDFENV_ERROR, "requirements file '%s': cannot read its include '%s'",
					   req, inc);
	if (strncmp(real, top_dir, n) != 0 || real[n] != '/')
		error = udfenv_error_set(UDFENV_EINVALID,
					 "requirements file '%s' includes '%s', which lies outside its "
					 "directory: only files under it travel with it to the workers; "
					 "move the include there",
					 req, inc);
	else
		error = udfenv_buf_sets(rel, real + n + 1);
	free(real);
	return error;
}

/* Copy each file of `files` to its path in `rels` under a new temp dir, `bundle`. */
static int make_bundle(udfenv_buf *bundle, const udfenv_strvec *files, const udfenv_strvec *rels)
{
	udfenv_buf dst = UDFENV_BUF_INIT, dir = UDFENV_BUF_INIT;
	const char *base = getenv("TMPDIR");
	int error = udfenv_fs_mkdtemp(bundle, base && *base ? base : "/tmp", "udfenv-requirements-");

	for (size_t i = 0; i < files->count && error == 0; i++) {
		udfenv_buf_clear(&dst);
		if ((error = udfenv_path_join(&dst, bundle->ptr, rels->items[i])) == 0 &&
		    (error = udfenv_path_dirname(&dir, dst.ptr)) == 0 &&
		    (error = udfenv_fs_mkdir_p(dir.ptr, 0755)) == 0)
			error = udfenv_fs_copy_file(files->items[i], dst.ptr, 0644);
	}
	udfenv_buf_dispose(&dst);
	udfenv_buf_dispose(&dir);
	return error;
}

/*
 * The requirements file travels alone, as a file artifact, unless it
 * includes others (-r, -c): then as a dir artifact named after the file, a
 * bundle of it and its includes at their paths relative to its directory
 * (docs/manifest.md). A file the parser refuses is refused here, with the
 * parser's message (which file, which line).
 */
static int stage_requirements(stager *s, const char *req, udfenv_artifact *a)
{
	udfenv_reqfile rf = UDFENV_REQFILE_INIT;
	udfenv_buf bundle = UDFENV_BUF_INIT, rel = UDFENV_BUF_INIT, dir = UDFENV_BUF_INIT,
		   name = UDFENV_BUF_INIT;
	udfenv_strvec rels = UDFENV_STRVEC_INIT;
	char *real = NULL;
	int error;

	if ((error = udfenv_reqfile_parse(&rf, req, req)) < 0)
		return error;
	if (rf.files.count <= 1) {
		udfenv_reqfile_dispose(&rf);
		return stage_one(s, req, UDFENV_KIND_FILE, NULL, a);
	}
	/* Includes are found from the file's directory as named, not through a symlink to the file. */
	if ((error = udfenv_path_absolute(&rel, req)) < 0 || (error = udfenv_path_dirname(&dir, rel.ptr)) < 0)
		goto done;
	if ((real = realpath(dir.ptr, NULL)) == NULL) {
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot read the directory of the requirements "
							  "file '%s'", req);
		goto done;
	}
	/* Where each file goes in the bundle; an include outside that directory is refused. */
	if ((error = udfenv_path_basename(&name, req)) < 0 || (error = udfenv_strvec_push(&rels, name.ptr)) < 0)
		goto done;
	for (size_t i = 1; i < rf.files.count; i++) {
		if ((error = include_rel(&rel, req, real, rf.files.items[i])) < 0 ||
		    (error = udfenv_strvec_push(&rels, rel.ptr)) < 0)
			goto done;
	}
	/* The bundle is a temp dir of ours: a failure names the file it was made for. */
	if ((error = make_bundle(&bundle, &rf.files, &rels)) < 0 ||
	    (error = stage_one(s, bundle.ptr, UDFENV_KIND_DIR, NULL, a)) < 0) {
		udfenv_error_prefix("requirements file '%s' and its includes: ", req);
		goto done;
	}
	free(a->name);
	a->name = udfenv_buf_detach(&name);
	udfenv_log(UDFENV_LOG_DEBUG, "requirements file '%s' travels with %zu include(s)", req,
		   rf.files.count - 1);
done:
	if (bundle.size)
		udfenv_fs_rmtree_quiet(bundle.ptr);
	free(real);
	udfenv_reqfile_dispose(&rf);
	udfenv_strvec_dispose(&rels);
	udfenv_buf_dispose(&bundle);
	udfenv_buf_dispose(&rel);
	udfenv_buf_dispose(&dir);
	udfenv_buf_dispose(&name);
	return error;
}

/* Every input must exist and be readable before a single blob is written. */
static int check_inputs(const udfenv_deps *deps, udfenv_kind *file_kinds)
{
	const char *cache, *req = udfenv_deps_requirements(deps, &cache);
	udfenv_buf name = UDFENV_BUF_INIT;
	struct stat st;
	int error = 0;

	if (udfenv_deps_file_count(deps) + udfenv_deps_archive_count(deps) > UDFENV_MANIFEST_MAX_ARTIFACTS)
		return udfenv_error_set(UDFENV_ELIMIT, "more than %d python files and archives",
					UDFENV_MANIFEST_MAX_ARTIFACTS);
	for (size_t i = 0; i < udfenv_deps_file_count(deps) && error == 0; i++) {
		const char *f = udfenv_deps_file(deps, i);
		if ((error = check_input("python file", f, 1, 1, &st)) == 0)
			file_kinds[i] = python_file_kind(f, &st);
		if (error == 0 && (error = udfenv_path_basename(&name, f)) == 0 &&
		    (error = udfenv_deps_check_name("python file name", name.ptr)) < 0)
			udfenv_error_prefix("python file '%s': ", f);
	}
	for (size_t i = 0; i < udfenv_deps_archive_count(deps) && error == 0; i++)
		error = check_input("archive", udfenv_deps_archive(deps, i, NULL), 0, 1, &st);
	if (error == 0 && req)
		error = check_input("requirements file", req, 0, 1, &st);
	if (error == 0 && cache)
		error = check_input("requirements cache dir", cache, 1, 0, &st);
	udfenv_buf_dispose(&name);
	return error;
}

static int copy_setting(char **dst, const char *src)
{
	if (src && (*dst = strdup(src)) == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	return 0;
}

static int stage_all(stager *s, const udfenv_deps *deps, const udfenv_kind *kinds, udfenv_manifest *m)
{
	const char *cache, *req = udfenv_deps_requirements(deps, &cache), *target;
	size_t nfiles = udfenv_deps_file_count(deps), narch = udfenv_deps_archive_count(deps);
	int error = 0;

	if ((nfiles && (m->files = calloc(nfiles, sizeof(udfenv_artifact))) == NULL) ||
	    (narch && (m->archives = calloc(narch, sizeof(udfenv_artifact))) == NULL) ||
	    (req && (m->requirements = calloc(1, sizeof(udfenv_artifact))) == NULL) ||
	    (cache && (m->cache_dir = calloc(1, sizeof(udfenv_artifact))) == NULL))
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	for (size_t i = 0; i < nfiles && error == 0; i++, m->nfiles++)
		error = stage_one(s, udfenv_deps_file(deps, i), kinds[i], NULL, &m->files[i]);
	for (size_t i = 0; i < narch && error == 0; i++, m->narchives++) {
		const char *path = udfenv_deps_archive(deps, i, &target);
		error = stage_one(s, path, UDFENV_KIND_ARCHIVE, target, &m->archives[i]);
	}
	if (error == 0 && req)
		error = stage_requirements(s, req, m->requirements);
	if (error == 0 && cache)
		error = stage_one(s, cache, UDFENV_KIND_DIR, NULL, m->cache_dir);
	if (error == 0 && (error = copy_setting(&m->executable, udfenv_deps_executable(deps))) == 0 &&
	    (error = copy_setting(&m->client_executable, udfenv_deps_client_executable(deps))) == 0)
		error = copy_setting(&m->pythonpath, udfenv_deps_pythonpath(deps));
	return error;
}

static int stage(udfenv_manifest **out, const udfenv_deps *deps, stager *s, const char *manifest_path)
{
	udfenv_kind *kinds = NULL;
	udfenv_manifest *m = NULL;
	double t0 = udfenv_now();
	int error;

	*out = NULL;
	if ((kinds = calloc(udfenv_deps_file_count(deps) + 1, sizeof(*kinds))) == NULL ||
	    (m = calloc(1, sizeof(*m))) == NULL) {
		error = udfenv_error_set(UDFENV_ENOMEM, "out of memory");
		goto done;
	}
	if ((error = check_inputs(deps, kinds)) < 0 ||
	    (s->store && (error = udfenv_fs_mkdir_p(s->store, 0755)) < 0) ||
	    (error = stage_all(s, deps, kinds, m)) < 0 ||
	    (manifest_path && (error = udfenv_manifest_save(m, manifest_path)) < 0))
		goto done;
	if (s->store)
		udfenv_log(UDFENV_LOG_INFO, "stage: %zu python files, %zu archives%s into '%s' in %.3f s",
			   m->nfiles, m->narchives, m->requirements ? ", requirements" : "", s->store,
			   udfenv_now() - t0);
	*out = m;
	m = NULL;
done:
	if (error < 0)
		for (size_t i = 0; i < s->created.count; i++)
			unlink(s->created.items[i]);
	udfenv_strvec_dispose(&s->created);
	udfenv_manifest_free(m);
	free(kinds);
	return error;
}

int udfenv_stage(udfenv_manifest **out, const udfenv_deps *deps, const char *store,
		 const char *manifest_path)
{
	stager s = {store, UDFENV_STRVEC_INIT, NULL, NULL};
	return stage(out, deps, &s, manifest_path);
}

int udfenv_stage__local(udfenv_manifest **out, const udfenv_deps *deps, udfenv_stage_digest_fn digest,
			void *ctx)
{
	stager s = {NULL, UDFENV_STRVEC_INIT, digest, ctx};
	return stage(out, deps, &s, NULL);
}

int udfenv_stage_client_pythonpath(char **out, const udfenv_deps *deps)
{
	udfenv_buf pp = UDFENV_BUF_INIT, dir = UDFENV_BUF_INIT;
	const char *raw = udfenv_deps_pythonpath(deps);
	int error = 0;

	*out = NULL;
	if (raw)
		error = udfenv_buf_puts(&pp, raw);
	for (size_t i = 0; i < udfenv_deps_file_count(deps) && error == 0; i++) {
		const char *f = udfenv_deps_file(deps, i), *entry = f;
		struct stat st;

		if (stat(f, &st) < 0)
			continue; /* staging will say so */
		switch (python_file_kind(f, &st)) {
		case UDFENV_KIND_ARCHIVE:
			if (!udfenv_path_has_suffix(f, ".zip"))
				continue;
			break;
		case UDFENV_KIND_FILE:
			if ((error = udfenv_path_dirname(&dir, f)) < 0)
				continue;
			entry = dir.ptr;
			break;
		default:
			break;
		}
		if ((pp.size == 0 || (error = udfenv_buf_putc(&pp, ':')) == 0))
			error = udfenv_buf_puts(&pp, entry);
	}
	if (error == 0 && (*out = strdup(udfenv_buf_cstr(&pp))) == NULL)
		error = udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	udfenv_buf_dispose(&pp);
	udfenv_buf_dispose(&dir);
	return error;
}
