/*
 * Materialization: a private working dir per worker, built from a manifest
 * and its store (REFERENCE.md section 2):
 *
 *   W/python-files/<i>/...     the python files, in PYTHONPATH order
 *   W/python-archives/<target> the extracted archives; the worker's cwd
 *   W/python-requirements/     the pip --prefix of the requirements
 *   W/.udfenv/                 udfenv's own: python shims, sitecustomize,
 *                              requirements/<file>, its cache dir, pip.log
 */
#include "udfenv/env.h"
#include "lib/extract.h"
#include "lib/install.h"
#include "lib/manifest.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/path.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

struct udfenv_env {
	udfenv_buf workdir;
	udfenv_buf cwd;
	udfenv_buf python;
	udfenv_strvec envp;
};

typedef struct {
	udfenv_env *env;
	const udfenv_manifest *m;
	const char *store;
	const udfenv_env_opts *opts;
	char *const *base;          /* the environment we build on */
	udfenv_strvec files_path;   /* PYTHONPATH entries of the python files */
	udfenv_strvec site_dirs;    /* requirements' site-packages */
	udfenv_strvec bin_dirs;     /* requirements' bin dirs */
	udfenv_buf tmp;             /* scratch path */
} builder;

/* Names of variables udfenv sets: any inherited value is replaced. */
static const char *const own_vars[] = {"PYTHONPATH", "PATH", "UDFENV_WORKDIR", "UDFENV_PYTHON",
				       "UDFENV_SITE_DIRS", NULL};

/*
 * Chained sitecustomize: makes the .pth files of the requirements' site dirs
 * take effect (PYTHONPATH entries skip them), then steps aside for the
 * sitecustomize it shadows, if any. Runs on Python 3.6 and later.
 */
static const char sitecustomize_py[] =
	"# Written by udfenv. See docs/environment.md.\n"
	"import os\n"
	"import sys\n"
	"\n"
	"\n"
	"def _udfenv_site():\n"
	"    import site\n"
	"    for d in os.environ.get('UDFENV_SITE_DIRS', '').split(os.pathsep):\n"
	"        if d:\n"
	"            site.addsitedir(d)\n"
	"    here = os.path.dirname(os.path.abspath(__file__))\n"
	"    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]\n"
	"    this = sys.modules.pop('sitecustomize')\n"
	"    try:\n"
	"        import sitecustomize  # noqa: F401  the one this file shadows\n"
	"    except ImportError:\n"
	"        # None to chain to: the import machinery expects this module back.\n"
	"        sys.modules['sitecustomize'] = this\n"
	"\n"
	"\n"
	"_udfenv_site()\n";

/* The value of `entry` ("KEY=value") if its key is `key`, else NULL. */
static const char *env_value(const char *entry, const char *key)
{
	size_t len = strlen(key);
	return strncmp(entry, key, len) == 0 && entry[len] == '=' ? entry + len + 1 : NULL;
}

static const char *env_get(char *const *envp, const char *key)
{
	const char *v = NULL;
	for (; *envp && v == NULL; envp++)
		v = env_value(*envp, key);
	return v;
}

static int sub_path(builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* b->tmp = W "/" (fmt ...). */
static int sub_path(builder *b, const char *fmt, ...)
{
	char rel[PATH_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	return udfenv_path_join(&b->tmp, b->env->workdir.ptr, rel);
}

static int check_cancel(const builder *b)
{
	if (b->opts->cancel && *b->opts->cancel)
		return udfenv_error_set(UDFENV_ECANCELED, "setup was stopped");
	return 0;
}

static int make_dir(builder *b, const char *rel)
{
	int error;
	if ((error = sub_path(b, "%s", rel)) < 0)
		return error;
	if (mkdir(b->tmp.ptr, 0755) < 0)
		return udfenv_error_set_os(UDFENV_ERROR, "cannot create '%s'", b->tmp.ptr);
	return 0;
}

int udfenv_env_tmp_root(const char *given, const char **out)
{
	const char *root = given;

	if (root == NULL || root[0] == '\0')
		root = getenv("UDFENV_TMPDIR");
	if (root == NULL || root[0] == '\0')
		root = getenv("TMPDIR");
	if (root == NULL || root[0] == '\0')
		root = "/tmp";
	*out = root;
	if (strchr(root, ':'))
		return udfenv_error_set(UDFENV_EINVALID,
					"temp root '%s' contains ':', which would split PATH and "
					"PYTHONPATH: choose another (--tmp-root, io.tmp.dirs)", root);
	return udfenv_fs_mkdir_p(root, 0700);
}

static int make_workdir(builder *b)
{
	const char *root;
	char real[PATH_MAX];
	udfenv_buf dir = UDFENV_BUF_INIT;
	int error;

	if ((error = udfenv_env_tmp_root(b->opts->tmp_root, &root)) < 0 ||
	    (error = udfenv_fs_mkdtemp(&dir, root, "udfenv-")) < 0)
		goto done;
	/* Canonical, so no symlink sits in the paths the worker and extraction see. */
	if (realpath(dir.ptr, real) == NULL) {
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot resolve '%s'", dir.ptr);
		rmdir(dir.ptr);
		goto done;
	}
	if ((error = udfenv_buf_sets(&b->env->workdir, real)) < 0 ||
	    (error = make_dir(b, "python-files")) < 0 || (error = make_dir(b, "python-archives")) < 0 ||
	    (error = make_dir(b, ".udfenv")) < 0 || (error = make_dir(b, ".udfenv/bin")) < 0)
		goto done;
	error = udfenv_path_join(&b->env->cwd, real, "python-archives");
done:
	udfenv_buf_dispose(&dir);
	return error;
}

/* Copy the blob of `a` to the new file b->tmp, verifying it on the way. */
static int copy_artifact(builder *b, const udfenv_artifact *a, mode_t mode)
{
	int out, in = -1, error;

	if ((out = open(b->tmp.ptr, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)) < 0)
		return udfenv_error_set_os(UDFENV_ERROR, "cannot create '%s'", b->tmp.ptr);
	error = udfenv_manifest__open_blob(b->store, a, out, b->tmp.ptr, &in);
	if (in >= 0)
		close(in);
	if (close(out) < 0 && error == 0)
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot write '%s'", b->tmp.ptr);
	if (error < 0)
		unlink(b->tmp.ptr);
	return error;
}

/*
 * Verify the blob of `a`, then extract from that same open file (through
 * /proc/self/fd, which the extraction helper shares) to b->tmp.
 */
static int extract_artifact(builder *b, const udfenv_artifact *a)
{
	udfenv_extract_stats st = {0, 0};
	double t0 = udfenv_now();
	char fd_path[64];
	int fd, error;

	if ((error = udfenv_manifest__open_blob(b->store, a, -1, NULL, &fd)) < 0)
		return error;
	snprintf(fd_path, sizeof(fd_path), "/proc/self/fd/%d", fd);
	if ((error = udfenv_extract__archive(fd_path, b->tmp.ptr, a->name, NULL, &st)) == 0)
		udfenv_log(UDFENV_LOG_INFO, "extract: '%s' -> %s: %llu entries, %llu bytes in %.3f s",
			   a->name, b->tmp.ptr + b->env->workdir.size + 1,
			   (unsigned long long)st.entries, (unsigned long long)st.bytes,
			   udfenv_now() - t0);
	close(fd);
	return error;
}

/* python.files: each under python-files/<i>/, its PYTHONPATH entry by kind. */
static int place_files(builder *b)
{
	int error = 0;

	for (size_t i = 0; i < b->m->nfiles && (error = check_cancel(b)) == 0; i++) {
		const udfenv_artifact *a = &b->m->files[i];
		udfenv_buf dir = UDFENV_BUF_INIT;

		if ((error = udfenv_buf_printf(&dir, "python-files/%zu", i)) < 0 ||
		    (error = make_dir(b, dir.ptr)) < 0 || (error = udfenv_buf_sets(&dir, b->tmp.ptr)) < 0 ||
		    (error = udfenv_path_join(&b->tmp, dir.ptr, a->name)) < 0)
			goto next;
		switch (a->kind) {
		case UDFENV_KIND_FILE: /* its directory goes on the path */
			if ((error = copy_artifact(b, a, 0644)) == 0)
				error = udfenv_strvec_push(&b->files_path, dir.ptr);
			break;
		case UDFENV_KIND_ZIPIMPORT: /* the file itself goes on the path */
			if ((error = copy_artifact(b, a, 0644)) == 0)
				error = udfenv_strvec_push(&b->files_path, b->tmp.ptr);
			break;
		case UDFENV_KIND_DIR:     /* the directory itself goes on the path */
		case UDFENV_KIND_ARCHIVE: /* the extraction root goes on the path */
			if ((error = extract_artifact(b, a)) == 0)
				error = udfenv_strvec_push(&b->files_path, b->tmp.ptr);
			break;
		}
	next:
		udfenv_buf_dispose(&dir);
		if (error < 0)
			break;
	}
	return error;
}

static int place_archives(builder *b)
{
	int error = 0;

	for (size_t i = 0; i < b->m->narchives && (error = check_cancel(b)) == 0; i++) {
		const udfenv_artifact *a = &b->m->archives[i];
		if ((error = sub_path(b, "python-archives/%s", a->target)) == 0)
			error = extract_artifact(b, a);
		if (error < 0)
			break;
	}
	return error;
}

/* "venv.zip -> venv/, data.zip -> data/" for messages. */
static void describe_archives(const udfenv_manifest *m, udfenv_buf *out)
{
	for (size_t i = 0; i < m->narchives; i++)
		udfenv_buf_printf(out, "%s%s -> %s/", i ? ", " : "", m->archives[i].name,
				  m->archives[i].target);
	if (m->narchives == 0)
		udfenv_buf_puts(out, "none");
}

/* Make an interpreter inside W executable; refuse one outside that is not. */
static int ensure_executable(builder *b, const char *path, const char *given)
{
	char real[PATH_MAX];
	struct stat st;
	size_t wlen = b->env->workdir.size;

	if (access(path, X_OK) == 0)
		return 0;
	if (realpath(path, real) != NULL && strncmp(real, b->env->workdir.ptr, wlen) == 0 &&
	    real[wlen] == '/' && stat(real, &st) == 0 && chmod(real, (st.st_mode & 07777) | 0111) == 0)
		return 0;
	return udfenv_error_set(UDFENV_EINVALID,
				"python executable '%s' is not executable: chmod +x it, or choose "
				"another with -pyexec / python.executable",
				given);
}

static int resolve_python(builder *b)
{
	const char *given = b->m->executable ? b->m->executable : "python3";
	udfenv_buf *py = &b->env->python;
	udfenv_buf archives = UDFENV_BUF_INIT;
	struct stat st;
	int error = 0;

	if (strchr(given, '/') == NULL) {
		if (udfenv_path_which(py, given, env_get(b->base, "PATH")) < 0)
			error = udfenv_error_set(UDFENV_ENOTFOUND,
						 "python executable '%s' is not in PATH: install it, or "
						 "give its path with -pyexec / python.executable", given);
		goto done;
	}
	if (given[0] != '/') {
		const char *cursor = given, *c;
		size_t len;
		while ((c = udfenv_path_next(&cursor, &len)) != NULL)
			if (UDFENV_PATH_IS_DOTDOT(c, len)) {
				error = udfenv_error_set(UDFENV_EINVALID,
							 "python executable '%s' leaves the archives dir: "
							 "give a path inside it or an absolute one", given);
				goto done;
			}
	}
	if ((error = udfenv_path_join(py, b->env->cwd.ptr, given)) < 0)
		goto done;
	if (stat(py->ptr, &st) < 0) {
		if (given[0] == '/')
			error = udfenv_error_set_os(UDFENV_ENOTFOUND, "python executable '%s'", given);
		else {
			describe_archives(b->m, &archives);
			error = udfenv_error_set(UDFENV_ENOTFOUND,
						 "python executable '%s' does not exist in the archives "
						 "dir (archives: %s); relative paths start at the "
						 "archives dir, e.g. venv/bin/python",
						 given, udfenv_buf_cstr(&archives));
		}
		goto done;
	}
	if (!S_ISREG(st.st_mode))
		error = udfenv_error_set(UDFENV_EINVALID, "python executable '%s' is not a file", given);
	else
		error = ensure_executable(b, py->ptr, given);
done:
	udfenv_buf_dispose(&archives);
	return error;
}

/*
 * pip's environment: the base one without PYTHONPATH (a user module must not
 * shadow one of pip's). Offline, also without PIP_* variables and pip's
 * config files, so the cache dir is the only source (a PIP_FIND_LINKS or a
 * pip.conf index would otherwise join in).
 */
static int pip_envp(builder *b, udfenv_strvec *out)
{
	int offline = b->m->cache_dir != NULL, error = 0;

	for (char *const *e = b->base; *e && error == 0; e++)
		if (!env_value(*e, "PYTHONPATH") && !(offline && strncmp(*e, "PIP_", 4) == 0))
			error = udfenv_strvec_push(out, *e);
	if (error == 0 && offline)
		error = udfenv_strvec_push(out, "PIP_CONFIG_FILE=/dev/null");
	return error;
}

static int install_requirements(builder *b)
{
	const udfenv_artifact *req = b->m->requirements, *cache = b->m->cache_dir;
	udfenv_install_request r = {0};
	udfenv_buf req_path = UDFENV_BUF_INIT, cache_path = UDFENV_BUF_INIT, prefix = UDFENV_BUF_INIT,
		   log = UDFENV_BUF_INIT;
	udfenv_strvec envp = UDFENV_STRVEC_INIT;
	double t0 = udfenv_now();
	int error;

	if ((error = make_dir(b, ".udfenv/requirements")) < 0 ||
	    (error = sub_path(b, ".udfenv/requirements/%s", req->name)) < 0 || (error = copy_artifact(b, req, 0644)) < 0 ||
	    (error = udfenv_buf_sets(&req_path, b->tmp.ptr)) < 0)
		goto done;
	if (cache && ((error = sub_path(b, ".udfenv/requirements-cache")) < 0 ||
		      (error = extract_artifact(b, cache)) < 0 ||
		      (error = udfenv_buf_sets(&cache_path, b->tmp.ptr)) < 0))
		goto done;
	if ((error = check_cancel(b)) < 0 ||
	    (error = udfenv_path_join(&prefix, b->env->workdir.ptr, "python-requirements")) < 0 ||
	    (error = udfenv_path_join(&log, b->env->workdir.ptr, ".udfenv/pip.log")) < 0 ||
	    (error = pip_envp(b, &envp)) < 0)
		goto done;
	r.python = b->env->python.ptr;
	r.requirements = req_path.ptr;
	r.cache_dir = cache ? cache_path.ptr : NULL;
	r.prefix = prefix.ptr;
	r.log_path = log.ptr;
	r.cwd = b->env->cwd.ptr;
	r.envp = envp.items;
	r.req_name = req->name;
	r.cache_name = cache ? cache->name : NULL;
	r.timeout = b->opts->install_timeout;
	r.cancel = b->opts->cancel;
	if ((error = udfenv_install__requirements(&r)) < 0 ||
	    (error = udfenv_install__layout(prefix.ptr, &b->site_dirs, &b->bin_dirs)) < 0)
		goto done;
	udfenv_log(UDFENV_LOG_INFO, "install: '%s'%s with pip in %.3f s", req->name,
		   cache ? " (offline)" : "", udfenv_now() - t0);
	if ((error = make_dir(b, ".udfenv/site")) == 0 &&
	    (error = sub_path(b, ".udfenv/site/sitecustomize.py")) == 0)
		error = udfenv_fs_write_new(b->tmp.ptr, sitecustomize_py, sizeof(sitecustomize_py) - 1,
					       0644);
done:
	udfenv_strvec_dispose(&envp);
	udfenv_buf_dispose(&req_path);
	udfenv_buf_dispose(&cache_path);
	udfenv_buf_dispose(&prefix);
	udfenv_buf_dispose(&log);
	return error;
}

/* `python` and `python3` on the worker's PATH run the worker interpreter. */
static int write_shims(builder *b)
{
	static const char *const names[] = {"python", "python3", NULL};
	udfenv_buf script = UDFENV_BUF_INIT;
	int error;

	if ((error = udfenv_buf_puts(&script, "#!/bin/sh\nexec '")) < 0)
		goto done;
	for (const char *p = b->env->python.ptr; *p && error == 0; p++)
		error = *p == '\'' ? udfenv_buf_puts(&script, "'\\''") : udfenv_buf_putc(&script, *p);
	if (error < 0 || (error = udfenv_buf_puts(&script, "' \"$@\"\n")) < 0)
		goto done;
	for (size_t i = 0; names[i] && error == 0; i++)
		if ((error = sub_path(b, ".udfenv/bin/%s", names[i])) == 0)
			error = udfenv_fs_write_new(b->tmp.ptr, script.ptr, script.size, 0755);
done:
	udfenv_buf_dispose(&script);
	return error;
}

/* Join `parts` with ':' after `out`'s current contents. */
static int join_into(udfenv_buf *out, const udfenv_strvec *parts)
{
	int error = 0;
	for (size_t i = 0; i < parts->count && error == 0; i++)
		error = udfenv_buf_printf(out, "%s%s", out->size ? ":" : "", parts->items[i]);
	return error;
}

static int build_envp(builder *b)
{
	udfenv_strvec *envp = &b->env->envp;
	udfenv_buf pp = UDFENV_BUF_INIT, path = UDFENV_BUF_INIT;
	const char *inherited_pp = env_get(b->base, "PYTHONPATH"), *inherited_path = env_get(b->base, "PATH");
	int error = 0;

	for (char *const *e = b->base; *e && error == 0; e++) {
		size_t i = 0;
		while (own_vars[i] && !env_value(*e, own_vars[i]))
			i++;
		if (own_vars[i] == NULL)
			error = udfenv_strvec_push(envp, *e);
	}
	/* PYTHONPATH: requirements, python.pythonpath, python files, inherited. */
	if (error == 0 && b->site_dirs.count)
		error = udfenv_buf_printf(&pp, "%s/.udfenv/site", b->env->workdir.ptr);
	if (error == 0)
		error = join_into(&pp, &b->site_dirs);
	if (error == 0 && b->m->pythonpath && b->m->pythonpath[0])
		error = udfenv_buf_printf(&pp, "%s%s", pp.size ? ":" : "", b->m->pythonpath);
	if (error == 0)
		error = join_into(&pp, &b->files_path);
	if (error == 0 && inherited_pp && inherited_pp[0])
		error = udfenv_buf_printf(&pp, "%s%s", pp.size ? ":" : "", inherited_pp);
	/* PATH: python shims, requirements' bin dirs, inherited. */
	if (error == 0)
		error = udfenv_buf_printf(&path, "%s/.udfenv/bin", b->env->workdir.ptr);
	if (error == 0)
		error = join_into(&path, &b->bin_dirs);
	if (error == 0)
		error = udfenv_buf_printf(&path, ":%s", inherited_path ? inherited_path : "/usr/local/bin:/usr/bin:/bin");
	if (error == 0 && pp.size)
		error = udfenv_strvec_pushf(envp, "PYTHONPATH=%s", pp.ptr);
	if (error == 0 && (error = udfenv_strvec_pushf(envp, "PATH=%s", path.ptr)) == 0 &&
	    (error = udfenv_strvec_pushf(envp, "UDFENV_WORKDIR=%s", b->env->workdir.ptr)) == 0 &&
	    (error = udfenv_strvec_pushf(envp, "UDFENV_PYTHON=%s", b->env->python.ptr)) == 0 &&
	    b->site_dirs.count) {
		udfenv_buf_clear(&pp);
		if ((error = join_into(&pp, &b->site_dirs)) == 0)
			error = udfenv_strvec_pushf(envp, "UDFENV_SITE_DIRS=%s", pp.ptr);
	}
	udfenv_buf_dispose(&pp);
	udfenv_buf_dispose(&path);
	return error;
}

int udfenv_env_prepare(udfenv_env **out, const udfenv_manifest *m, const char *store,
		       const udfenv_env_opts *opts)
{
	static const udfenv_env_opts defaults = UDFENV_ENV_OPTS_INIT;
	builder b = {0};
	double t0 = udfenv_now();
	int error;

	*out = NULL;
	b.m = m;
	b.store = store;
	b.opts = opts ? opts : &defaults;
	b.base = b.opts->base_env ? b.opts->base_env : environ;
	if ((b.env = calloc(1, sizeof(*b.env))) == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	if ((error = make_workdir(&b)) < 0 || (error = place_files(&b)) < 0 ||
	    (error = place_archives(&b)) < 0 || (error = resolve_python(&b)) < 0 ||
	    (m->requirements && (error = install_requirements(&b)) < 0) ||
	    (error = write_shims(&b)) < 0 || (error = build_envp(&b)) < 0 ||
	    (error = check_cancel(&b)) < 0)
		goto done;
	udfenv_log(UDFENV_LOG_INFO, "env: ready in %.3f s: %s (python %s)", udfenv_now() - t0,
		   b.env->workdir.ptr, b.env->python.ptr);
	*out = b.env;
	b.env = NULL;
done:
	udfenv_env_free(b.env);
	udfenv_strvec_dispose(&b.files_path);
	udfenv_strvec_dispose(&b.site_dirs);
	udfenv_strvec_dispose(&b.bin_dirs);
	udfenv_buf_dispose(&b.tmp);
	return error;
}

int udfenv_env_prepare_deps(udfenv_env **out, const udfenv_deps *deps, const udfenv_env_opts *opts)
{
	const char *root;
	udfenv_buf store = UDFENV_BUF_INIT;
	udfenv_manifest *m = NULL;
	int error;

	*out = NULL;
	if ((error = udfenv_env_tmp_root(opts ? opts->tmp_root : NULL, &root)) < 0 ||
	    (error = udfenv_fs_mkdtemp(&store, root, "udfenv-stage-")) < 0)
		goto done;
	if ((error = udfenv_stage(&m, deps, store.ptr, NULL)) == 0)
		error = udfenv_env_prepare(out, m, store.ptr, opts);
done:
	if (store.size)
		udfenv_fs_rmtree_quiet(store.ptr);
	udfenv_manifest_free(m);
	udfenv_buf_dispose(&store);
	return error;
}

const char *udfenv_env_workdir(const udfenv_env *env)
{
	return udfenv_buf_cstr(&env->workdir);
}

const char *udfenv_env_cwd(const udfenv_env *env)
{
	return udfenv_buf_cstr(&env->cwd);
}

const char *udfenv_env_python(const udfenv_env *env)
{
	return udfenv_buf_cstr(&env->python);
}

char *const *udfenv_env_envp(const udfenv_env *env)
{
	return env->envp.items;
}

void udfenv_env_free(udfenv_env *env)
{
	if (env == NULL)
		return;
	if (env->workdir.size)
		udfenv_fs_rmtree_quiet(env->workdir.ptr);
	udfenv_buf_dispose(&env->workdir);
	udfenv_buf_dispose(&env->cwd);
	udfenv_buf_dispose(&env->python);
	udfenv_strvec_dispose(&env->envp);
	free(env);
}
