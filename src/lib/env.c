/*
 * Materialization: lease the node-cache entries an environment needs
 * (env_entries.c builds the missing ones), then give each worker a private
 * dir that points into them (REFERENCE.md sections 2 and 4):
 *
 *   E                         flock'ed by every process using it
 *   E/worker-<i>/python-archives/<target>   -> the archive's cache entry
 *                             (a private copy in copy mode); the worker's cwd
 *
 * PYTHONPATH and PATH point into the cache: the python files' entries, the
 * requirements' site-packages and bin dirs, the python shims' entry. E holds
 * as few files as possible: each costs its creation and deletion per run.
 */
#include "lib/env_int.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/path.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

/* Names of variables udfenv sets: any inherited value is replaced. */
static const char *const own_vars[] = {"PYTHONPATH", "PATH", "UDFENV_WORKDIR", "UDFENV_PYTHON",
				       "UDFENV_SITE_DIRS", NULL};

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

int udfenv_env__check_cancel(const builder *b)
{
	if (b->opts->cancel && *b->opts->cancel)
		return udfenv_error_set(UDFENV_ECANCELED, "setup was stopped");
	return 0;
}

int udfenv_env_opts_from_config(udfenv_env_opts *opts, const udfenv_config *cfg)
{
	return udfenv_cache_config(cfg, &opts->cache_dir, &opts->cache_max_size, &opts->copy_archives);
}

/* The temp root for `given`, checked but not created: see udfenv_env_tmp_root. */
static int choose_tmp_root(const char *given, const char **out)
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
	return 0;
}

int udfenv_env_tmp_root(const char *given, const char **out)
{
	int error = choose_tmp_root(given, out);
	return error < 0 ? error : udfenv_fs_mkdir_p(*out, 0700);
}

/* E: made, locked for as long as it is used, and registered for GC should we die. */
static int make_private_dir(builder *b)
{
	udfenv_env *env = b->env;
	const char *root;
	char real[PATH_MAX];
	udfenv_buf dir = UDFENV_BUF_INIT;
	int error;

	if ((error = choose_tmp_root(b->opts->tmp_root, &root)) < 0)
		goto done;
	/* The root exists but on a first run: make it (or say why it cannot be) only then. */
	if ((error = udfenv_fs_mkdtemp(&dir, root, "udfenv-")) < 0 &&
	    ((udfenv_error_os_errno() != ENOENT && udfenv_error_os_errno() != ENOTDIR) ||
	     (error = udfenv_fs_mkdir_p(root, 0700)) < 0 ||
	     (error = udfenv_fs_mkdtemp(&dir, root, "udfenv-")) < 0))
		goto done;
	/* Canonical, so no symlink sits in the paths the worker and extraction see. */
	if (realpath(dir.ptr, real) == NULL) {
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot resolve '%s'", dir.ptr);
		rmdir(dir.ptr);
		goto done;
	}
	if ((error = udfenv_buf_sets(&env->dir, real)) < 0)
		goto done;
	if ((env->lock_fd = open(real, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
	    flock(env->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot lock '%s'", real);
		goto done;
	}
	error = udfenv_cache__register_work(env->cache, real);
done:
	udfenv_buf_dispose(&dir);
	return error;
}

/* A relative interpreter path that is not in the archives dir, naming what is ("venv.zip -> venv/"). */
static int not_in_archives(const builder *b, const char *given)
{
	udfenv_buf archives = UDFENV_BUF_INIT;
	int error;

	for (size_t i = 0; i < b->m->narchives; i++)
		udfenv_buf_printf(&archives, "%s%s -> %s/", i ? ", " : "", b->m->archives[i].name,
				  b->m->archives[i].target);
	error = udfenv_error_set(UDFENV_ENOTFOUND,
				 "python executable '%s' does not exist in the archives dir (archives: "
				 "%s); relative paths start at the archives dir, e.g. venv/bin/python",
				 given, archives.size ? archives.ptr : "none");
	udfenv_buf_dispose(&archives);
	return error;
}

/* Make an interpreter inside an archive entry executable; refuse one elsewhere that is not. */
static int ensure_executable(builder *b, const char *path, const char *given)
{
	char real[PATH_MAX];
	struct stat st;

	if (access(path, X_OK) == 0)
		return 0;
	/* An archive made on another system may have lost the bit: the same fix for every user. */
	if (realpath(path, real) != NULL && udfenv_cache__holds(b->env->cache, real) && stat(real, &st) == 0 &&
	    chmod(real, (st.st_mode & 07777) | 0111) == 0)
		return 0;
	return udfenv_error_set(UDFENV_EINVALID,
				"python executable '%s' is not executable: chmod +x it, or choose "
				"another with -pyexec / python.executable",
				given);
}

/*
 * A relative interpreter path starts at the archives dir: its first
 * component names an archive, whose cache entry holds the rest. Workers
 * run it from the cache (in copy mode too); so do installs.
 */
static int resolve_in_archives(builder *b, const char *given, udfenv_buf *py)
{
	const char *cursor = given, *c, *rest;
	size_t len;

	while ((c = udfenv_path_next(&cursor, &len)) != NULL)
		if (UDFENV_PATH_IS_DOTDOT(c, len))
			return udfenv_error_set(UDFENV_EINVALID,
						"python executable '%s' leaves the archives dir: "
						"give a path inside it or an absolute one", given);
	cursor = given;
	c = udfenv_path_next(&cursor, &len);
	rest = cursor;
	for (size_t i = 0; c && i < b->env->targets.count; i++) {
		const char *t = b->env->targets.items[i];
		if (strlen(t) == len && strncmp(t, c, len) == 0) {
			const char *data = b->env->leases[b->env->target_lease[i]].data.ptr;
			return *rest ? udfenv_buf_printf(py, "%s%s", data, rest) : udfenv_buf_sets(py, data);
		}
	}
	return not_in_archives(b, given);
}

static int resolve_python(builder *b)
{
	const char *given = b->m->executable ? b->m->executable : "python3";
	udfenv_buf *py = &b->env->python;
	struct stat st;
	int error;

	if (strchr(given, '/') == NULL) {
		/* Found in PATH: a regular file we may execute (udfenv_path_which checked). */
		if (udfenv_path_which(py, given, env_get(b->base, "PATH")) < 0)
			return udfenv_error_set(UDFENV_ENOTFOUND,
						"python executable '%s' is not in PATH: install it, or "
						"give its path with -pyexec / python.executable", given);
		return 0;
	}
	if ((error = given[0] == '/' ? udfenv_buf_sets(py, given) : resolve_in_archives(b, given, py)) < 0)
		return error;
	if (stat(py->ptr, &st) < 0)
		return given[0] == '/' ? udfenv_error_set_os(UDFENV_ENOTFOUND, "python executable '%s'", given)
				       : not_in_archives(b, given);
	if (!S_ISREG(st.st_mode))
		return udfenv_error_set(UDFENV_EINVALID, "python executable '%s' is not a file", given);
	return ensure_executable(b, py->ptr, given);
}

/* Join `parts` with ':' after `out`'s current contents. */
static int join_into(udfenv_buf *out, const udfenv_strvec *parts)
{
	int error = 0;
	for (size_t i = 0; i < parts->count && error == 0; i++)
		error = udfenv_buf_printf(out, "%s%s", out->size ? ":" : "", parts->items[i]);
	return error;
}

/* Every worker's variables, but UDFENV_WORKDIR. */
static int build_envp(builder *b)
{
	udfenv_strvec *envp = &b->env->envp;
	udfenv_buf pp = UDFENV_BUF_INIT, path = UDFENV_BUF_INIT;
	const char *inherited_pp = env_get(b->base, "PYTHONPATH"),
		   *inherited_path = env_get(b->base, "PATH");
	int error = 0;

	for (char *const *e = b->base; *e && error == 0; e++) {
		size_t i = 0;
		while (own_vars[i] && !env_value(*e, own_vars[i]))
			i++;
		if (own_vars[i] == NULL)
			error = udfenv_strvec_push(envp, *e);
	}
	/* PYTHONPATH: requirements, python.pythonpath, python files, inherited. */
	if (error == 0 && b->site_custom.size)
		error = udfenv_buf_puts(&pp, b->site_custom.ptr);
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
		error = udfenv_buf_puts(&path, b->shims);
	if (error == 0)
		error = join_into(&path, &b->bin_dirs);
	if (error == 0)
		error = udfenv_buf_printf(&path, ":%s", inherited_path ? inherited_path : "/usr/local/bin:/usr/bin:/bin");
	if (error == 0 && pp.size)
		error = udfenv_strvec_pushf(envp, "PYTHONPATH=%s", pp.ptr);
	if (error == 0 && (error = udfenv_strvec_pushf(envp, "PATH=%s", path.ptr)) == 0 &&
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

static int collect_hold_fds(udfenv_env *env)
{
	if ((env->hold_fds = calloc(env->nleases + 1, sizeof(int))) == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	env->hold_fds[env->nhold_fds++] = env->lock_fd;
	for (size_t i = 0; i < env->nleases; i++)
		env->hold_fds[env->nhold_fds++] = env->leases[i].fd;
	return 0;
}

static void log_phase(const char *name, const udfenv_env_phase *p)
{
	udfenv_log(UDFENV_LOG_INFO, "setup: %-7s %8.3f ms  cache: %u hit, %u waited, %u built", name,
		   p->seconds * 1e3, p->hits, p->waited, p->built);
}

static int prepare(udfenv_env **out, const udfenv_manifest *m, const udfenv_deps *deps, const char *store,
		   const udfenv_env_opts *opts)
{
	static const udfenv_env_opts defaults = UDFENV_ENV_OPTS_INIT;
	udfenv_manifest *local = NULL;
	builder b;
	double t0 = udfenv_now();
	int error;

	*out = NULL;
	memset(&b, 0, sizeof(b));
	b.m = m;
	b.store = store;
	b.opts = opts ? opts : &defaults;
	b.base = b.opts->base_env ? b.opts->base_env : environ;
	if ((b.env = calloc(1, sizeof(*b.env))) == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	b.env->lock_fd = -1;
	b.env->copy_archives = b.opts->copy_archives;
	if ((b.env->entries = json_array()) == NULL) {
		error = udfenv_error_set(UDFENV_ENOMEM, "out of memory");
		goto done;
	}
	if ((error = udfenv_cache_open(&b.env->cache, b.opts->cache_dir)) < 0 ||
	    (deps && (error = udfenv_stage__local(&local, deps, udfenv_env__digest_local, &b)) < 0))
		goto done;
	if (local)
		b.m = local;
	if ((error = make_private_dir(&b)) < 0 || (error = udfenv_env__files(&b)) < 0 ||
	    (error = udfenv_env__archives(&b)) < 0 || (error = resolve_python(&b)) < 0 ||
	    (b.m->requirements && (error = udfenv_env__requirements(&b)) < 0) ||
	    (error = udfenv_env__check_cancel(&b)) < 0 || (error = udfenv_env__shims(&b, &b.shims)) < 0 ||
	    (error = build_envp(&b)) < 0 || (error = collect_hold_fds(b.env)) < 0 ||
	    (error = udfenv_env_worker(b.env, 0, NULL, NULL)) < 0)
		goto done;
	if (b.built)
		udfenv_cache__auto_gc(b.env->cache, b.opts->cache_max_size);
	b.env->report.seconds = udfenv_now() - t0;
	if (udfenv_log_enabled(UDFENV_LOG_INFO)) {
		udfenv_log(UDFENV_LOG_INFO, "setup: cache %s", udfenv_cache_dir(b.env->cache));
		log_phase("fetch", &b.env->report.fetch);
		log_phase("extract", &b.env->report.extract);
		log_phase("install", &b.env->report.install);
		udfenv_log(UDFENV_LOG_INFO, "setup: ready in %.3f ms: %s (python %s)",
			   b.env->report.seconds * 1e3, b.env->dir.ptr, b.env->python.ptr);
	}
	*out = b.env;
	b.env = NULL;
done:
	udfenv_env_free(b.env);
	udfenv_manifest_free(local);
	udfenv_strvec_dispose(&b.files_path);
	udfenv_strvec_dispose(&b.site_dirs);
	udfenv_strvec_dispose(&b.bin_dirs);
	udfenv_buf_dispose(&b.site_custom);
	return error;
}

int udfenv_env_prepare(udfenv_env **out, const udfenv_manifest *m, const char *store,
		       const udfenv_env_opts *opts)
{
	return prepare(out, m, NULL, store, opts);
}

int udfenv_env_prepare_deps(udfenv_env **out, const udfenv_deps *deps, const udfenv_env_opts *opts)
{
	return prepare(out, NULL, deps, NULL, opts);
}

/* E/worker-<i>/python-archives with each archive linked (or copied) in. */
static int make_worker(udfenv_env *env, env_worker *w, unsigned index)
{
	udfenv_buf at = UDFENV_BUF_INIT;
	int error;

	if ((error = udfenv_buf_printf(&w->dir, "%s/worker-%u", env->dir.ptr, index)) < 0 ||
	    (error = udfenv_path_join(&w->cwd, w->dir.ptr, "python-archives")) < 0)
		goto done;
	if (mkdir(w->dir.ptr, 0700) < 0) {
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot create the worker dir '%s'", w->dir.ptr);
		goto done;
	}
	if (mkdir(w->cwd.ptr, 0755) < 0) {
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot create the worker's archives dir '%s'",
					    w->cwd.ptr);
		goto done;
	}
	for (size_t i = 0; i < env->targets.count && error == 0; i++) {
		const char *data = env->leases[env->target_lease[i]].data.ptr;
		udfenv_buf_clear(&at);
		if ((error = udfenv_path_join(&at, w->cwd.ptr, env->targets.items[i])) < 0)
			break;
		if (env->copy_archives)
			error = udfenv_fs_copy_tree(data, at.ptr);
		else if (symlink(data, at.ptr) < 0)
			error = udfenv_error_set_os(UDFENV_ERROR, "cannot link '%s' to '%s'", at.ptr, data);
	}
	for (size_t i = 0; i < env->envp.count && error == 0; i++)
		error = udfenv_strvec_push(&w->envp, env->envp.items[i]);
	if (error == 0)
		error = udfenv_strvec_pushf(&w->envp, "UDFENV_WORKDIR=%s", w->dir.ptr);
done:
	udfenv_buf_dispose(&at);
	return error;
}

static void dispose_worker(env_worker *w)
{
	udfenv_buf_dispose(&w->dir);
	udfenv_buf_dispose(&w->cwd);
	udfenv_strvec_dispose(&w->envp);
}

int udfenv_env_worker(udfenv_env *env, unsigned index, const char **cwd, char *const **envp)
{
	int error;

	if (index > 1u << 20)
		return udfenv_error_set(UDFENV_EINVALID, "worker index %u is out of range", index);
	if (index >= env->nworkers) {
		env_worker *grown = realloc(env->workers, (index + 1) * sizeof(*grown));
		if (grown == NULL)
			return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
		memset(grown + env->nworkers, 0, (index + 1 - env->nworkers) * sizeof(*grown));
		env->workers = grown;
		env->nworkers = index + 1;
	}
	if (env->workers[index].dir.size == 0 && (error = make_worker(env, &env->workers[index], index)) < 0) {
		dispose_worker(&env->workers[index]);
		return error;
	}
	if (cwd)
		*cwd = env->workers[index].cwd.ptr;
	if (envp)
		*envp = env->workers[index].envp.items;
	return 0;
}

const char *udfenv_env_workdir(const udfenv_env *env)
{
	return udfenv_buf_cstr(&env->workers[0].dir);
}

const char *udfenv_env_cwd(const udfenv_env *env)
{
	return udfenv_buf_cstr(&env->workers[0].cwd);
}

const char *udfenv_env_python(const udfenv_env *env)
{
	return udfenv_buf_cstr(&env->python);
}

char *const *udfenv_env_envp(const udfenv_env *env)
{
	return env->workers[0].envp.items;
}

const int *udfenv_env_hold_fds(const udfenv_env *env, size_t *count)
{
	*count = env->nhold_fds;
	return env->hold_fds;
}

void udfenv_env_note_spawn(udfenv_env *env, double seconds)
{
	env->report.spawn.seconds += seconds;
	env->report.spawn.built++;
}

static json_t *phase_json(const udfenv_env_phase *p)
{
	return json_pack("{s:f, s:i, s:i, s:i}", "seconds", p->seconds, "hit", p->hits, "waited", p->waited,
			 "built", p->built);
}

int udfenv_env_report_json(const udfenv_env *env, char **out)
{
	const udfenv_env_report *r = &env->report;
	json_t *j = json_pack("{s:i, s:s, s:s, s:f, s:{s:o, s:o, s:o, s:{s:f, s:i}}, s:O}", "udfenv_env_report", 1,
			      "cache", udfenv_cache_dir(env->cache), "python", env->python.ptr, "seconds",
			      r->seconds, "phases", "fetch", phase_json(&r->fetch), "extract",
			      phase_json(&r->extract), "install", phase_json(&r->install), "spawn", "seconds",
			      r->spawn.seconds, "workers", r->spawn.built, "entries", env->entries);

	*out = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return *out ? 0 : udfenv_error_set(UDFENV_ENOMEM, "out of memory");
}

void udfenv_env_free(udfenv_env *env)
{
	if (env == NULL)
		return;
	if (env->dir.size) {
		udfenv_fs_rmtree_quiet(env->dir.ptr);
		if (env->cache)
			udfenv_cache__unregister_work(env->cache, env->dir.ptr);
	}
	if (env->lock_fd >= 0)
		close(env->lock_fd);
	for (size_t i = 0; i < env->nworkers; i++)
		dispose_worker(&env->workers[i]);
	free(env->workers);
	for (size_t i = 0; i < env->nleases; i++)
		udfenv_cache__release(&env->leases[i]);
	free(env->leases);
	free(env->target_lease);
	free(env->hold_fds);
	udfenv_strvec_dispose(&env->targets);
	udfenv_cache_close(env->cache);
	json_decref(env->entries);
	udfenv_buf_dispose(&env->dir);
	udfenv_buf_dispose(&env->python);
	udfenv_strvec_dispose(&env->envp);
	free(env);
}
