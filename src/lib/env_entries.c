/*
 * The node-cache entries of an environment: what determines each one (its
 * key), how each is built, and the digests of local inputs.
 *
 *   files         one per python file: data/<name> (the file, an extracted
 *                 dir or archive, a wheel kept whole)
 *   archive       one per archive: data/ is the extracted archive
 *   requirements  data/ is the pip --prefix, data/udfenv-site/ udfenv's
 *                 sitecustomize; keyed by the interpreter's identity too
 */
#include "lib/env_int.h"
#include "lib/extract.h"
#include "lib/install.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/path.h"
#include "util/proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Bumped when how requirements are installed changes what an install holds. */
#define INSTALLER_VERSION "native-or-pip-prefix 2"

/* A file changed this recently may change again within the clock's granularity unseen. */
#define RACY_SECONDS 2

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

/* The interpreter probe (src/lib/probe.py): udfenv_probe_py. */
#include "probe_py.h"

/* --- leasing ------------------------------------------------------------ */

static const char *const outcome_names[] = {"hit", "waited", "built"};

static void count(udfenv_env_phase *p, udfenv_cache_outcome o)
{
	if (o == UDFENV_CACHE_HIT)
		p->hits++;
	else if (o == UDFENV_CACHE_WAITED)
		p->waited++;
	else
		p->built++;
}

/*
 * Lease the entry of `keytext` for `phase` (NULL: an entry leased while
 * another one builds, whose time is that one's); its index in env->leases
 * in *index. Re-entrant: a build may lease what it needs (the wheel of an
 * sdist), so no pointer into env->leases is held across the acquire.
 */
static int lease(builder *b, udfenv_env_phase *phase, const char *kind, const char *name, const char *info,
		 const char *keytext, udfenv_cache_build_fn build, void *ctx, size_t *index)
{
	udfenv_env *env = b->env;
	udfenv_cache_lease got = UDFENV_CACHE_LEASE_INIT, *l, *grown;
	char key[UDFENV_SHA256_HEX];
	udfenv_cache_request r = {key, kind, name, info, build, ctx, b->opts->cancel};
	double outer_fetch = b->fetch_seconds, fetch;
	json_t *entry;
	char *shown;
	int error;

	udfenv_cache__key(keytext, key);
	b->fetch_seconds = 0;
	error = udfenv_cache__acquire(env->cache, &r, &got);
	fetch = b->fetch_seconds;
	b->fetch_seconds = outer_fetch + fetch; /* an inner lease's fetching is the outer build's too */
	if (error < 0)
		return error;
	if ((grown = realloc(env->leases, (env->nleases + 1) * sizeof(*grown))) == NULL) {
		udfenv_cache__release(&got);
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	}
	env->leases = grown;
	*index = env->nleases++;
	l = &env->leases[*index];
	*l = got;
	if (phase) {
		phase->seconds += l->seconds - fetch;
		count(phase, l->outcome);
	}
	b->built |= l->outcome == UDFENV_CACHE_BUILT;
	shown = udfenv_cache__printable(name);
	entry = shown ? json_pack("{s:s, s:s, s:s, s:s, s:f}", "kind", kind, "name", shown, "key", key,
				  "outcome", outcome_names[l->outcome], "seconds", l->seconds)
		      : NULL;
	free(shown);
	/* What the builder had to say about the entry (the requirements' installer). */
	if (entry && json_is_object(json_object_get(l->extra, "report")))
		json_object_update(entry, json_object_get(l->extra, "report"));
	if (entry == NULL || json_array_append_new(env->entries, entry) < 0)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	udfenv_log(UDFENV_LOG_DEBUG, "cache: %s '%s': %s in %.3f s (%.12s)", kind, name,
		   outcome_names[l->outcome], l->seconds, key);
	return 0;
}

/* Verified bytes of `a`, timed as fetching. */
static int fetch(builder *b, const udfenv_artifact *a, int copy_fd, const char *copy_name, int *fd)
{
	double t0 = udfenv_now();
	int error = udfenv_manifest__open_blob(b->store, a, copy_fd, copy_name, fd);

	b->fetch_seconds += udfenv_now() - t0;
	b->env->report.fetch.seconds += udfenv_now() - t0;
	/* Local inputs were counted when their digests were taken. */
	if (error == 0 && b->store)
		b->env->report.fetch.built++;
	return error;
}

/* Copy the bytes of `a` to the new file `dst`, verifying them on the way. */
static int copy_artifact(builder *b, const udfenv_artifact *a, const char *dst, mode_t mode)
{
	int out, in = -1, error;

	if ((out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)) < 0)
		return udfenv_error_set_os(udfenv_error_from_errno(errno), "cannot create '%s'", dst);
	error = fetch(b, a, out, dst, &in);
	if (in >= 0)
		close(in);
	if (close(out) < 0 && error == 0)
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot write '%s'", dst);
	return error;
}

/* Verify the bytes of `a`, then extract from that same open file (through /proc/self/fd) to `dst`. */
static int extract_artifact(builder *b, const udfenv_artifact *a, const char *dst)
{
	udfenv_extract_stats st = {0, 0};
	double t0;
	char fd_path[64];
	int fd, error;

	if ((error = fetch(b, a, -1, NULL, &fd)) < 0)
		return error;
	t0 = udfenv_now();
	snprintf(fd_path, sizeof(fd_path), "/proc/self/fd/%d", fd);
	if ((error = udfenv_extract__archive(fd_path, dst, a->name, NULL, &st)) == 0)
		udfenv_log(UDFENV_LOG_DEBUG, "extract: '%s': %llu entries, %llu bytes in %.3f s", a->name,
			   (unsigned long long)st.entries, (unsigned long long)st.bytes, udfenv_now() - t0);
	close(fd);
	return error;
}

/* --- python files and archives ------------------------------------------ */

typedef struct {
	builder *b;
	const udfenv_artifact *a;
} artifact_build;

static int build_file(void *ctx, const char *data, const char *scratch, json_t *extra)
{
	const artifact_build *ab = ctx;
	udfenv_buf dst = UDFENV_BUF_INIT;
	int error;

	(void)scratch, (void)extra;
	if (mkdir(data, 0755) < 0)
		return udfenv_error_set_os(UDFENV_ERROR, "cannot create '%s'", data);
	if ((error = udfenv_path_join(&dst, data, ab->a->name)) == 0)
		error = ab->a->kind == UDFENV_KIND_FILE || ab->a->kind == UDFENV_KIND_ZIPIMPORT
				? copy_artifact(ab->b, ab->a, dst.ptr, 0644)
				: extract_artifact(ab->b, ab->a, dst.ptr);
	udfenv_buf_dispose(&dst);
	return error;
}

static int build_archive(void *ctx, const char *data, const char *scratch, json_t *extra)
{
	const artifact_build *ab = ctx;

	(void)scratch, (void)extra;
	return extract_artifact(ab->b, ab->a, data);
}

int udfenv_env__files(builder *b)
{
	udfenv_buf key = UDFENV_BUF_INIT, path = UDFENV_BUF_INIT;
	int error = 0;

	for (size_t i = 0; i < b->m->nfiles && (error = udfenv_env__check_cancel(b)) == 0; i++) {
		const udfenv_artifact *a = &b->m->files[i];
		artifact_build ab = {b, a};
		size_t at;

		udfenv_buf_clear(&key);
		udfenv_buf_clear(&path);
		if ((error = udfenv_buf_printf(&key, "udfenv files 1\nkind %s\nname %s\ndigest %s\npolicy %d\n",
					       udfenv_manifest__kind_name(a->kind), a->name, a->digest,
					       UDFENV_EXTRACT_POLICY_VERSION)) < 0 ||
		    (error = lease(b, &b->env->report.extract, "files", a->name, NULL, key.ptr, build_file, &ab,
				   &at)) < 0)
			break;
		/* A plain file: its dir goes on the path; anything else: itself. */
		error = a->kind == UDFENV_KIND_FILE
				? udfenv_strvec_push(&b->files_path, b->env->leases[at].data.ptr)
				: (error = udfenv_path_join(&path, b->env->leases[at].data.ptr, a->name)) < 0
				? error
				: udfenv_strvec_push(&b->files_path, path.ptr);
		if (error < 0)
			break;
	}
	udfenv_buf_dispose(&key);
	udfenv_buf_dispose(&path);
	return error;
}

int udfenv_env__archives(builder *b)
{
	udfenv_env *env = b->env;
	udfenv_buf key = UDFENV_BUF_INIT;
	int error = 0;

	if (b->m->narchives && (env->target_lease = calloc(b->m->narchives, sizeof(size_t))) == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	for (size_t i = 0; i < b->m->narchives && (error = udfenv_env__check_cancel(b)) == 0; i++) {
		const udfenv_artifact *a = &b->m->archives[i];
		artifact_build ab = {b, a};

		udfenv_buf_clear(&key);
		if ((error = udfenv_buf_printf(&key, "udfenv archive 1\ndigest %s\npolicy %d\n", a->digest,
					       UDFENV_EXTRACT_POLICY_VERSION)) < 0 ||
		    (error = lease(b, &env->report.extract, "archive", a->name, NULL, key.ptr, build_archive,
				   &ab, &env->target_lease[i])) < 0 ||
		    (error = udfenv_strvec_push(&env->targets, a->target)) < 0)
			break;
	}
	udfenv_buf_dispose(&key);
	return error;
}

/* --- the python shims ------------------------------------------------------ */

/* bin/python and bin/python3: `exec` the worker interpreter (a symlink would lose a venv's identity). */
static int build_shims(void *ctx, const char *data, const char *scratch, json_t *extra)
{
	static const char *const names[] = {"python", "python3", NULL};
	const char *python = ctx;
	udfenv_buf script = UDFENV_BUF_INIT, path = UDFENV_BUF_INIT;
	int error;

	(void)scratch, (void)extra;
	if (mkdir(data, 0755) < 0)
		return udfenv_error_set_os(UDFENV_ERROR, "cannot create '%s'", data);
	if ((error = udfenv_buf_puts(&script, "#!/bin/sh\nexec '")) < 0)
		goto done;
	for (const char *p = python; *p && error == 0; p++)
		error = *p == '\'' ? udfenv_buf_puts(&script, "'\\''") : udfenv_buf_putc(&script, *p);
	if (error < 0 || (error = udfenv_buf_puts(&script, "' \"$@\"\n")) < 0)
		goto done;
	for (size_t i = 0; names[i] && error == 0; i++) {
		udfenv_buf_clear(&path);
		if ((error = udfenv_path_join(&path, data, names[i])) == 0)
			error = udfenv_fs_write_new(path.ptr, script.ptr, script.size, 0755);
	}
done:
	udfenv_buf_dispose(&script);
	udfenv_buf_dispose(&path);
	return error;
}

int udfenv_env__shims(builder *b, const char **bin_dir)
{
	udfenv_env_phase uncounted = {0, 0, 0, 0};
	udfenv_buf key = UDFENV_BUF_INIT;
	size_t at;
	int error;

	if ((error = udfenv_buf_printf(&key, "udfenv shims 1\npython %s\n", b->env->python.ptr)) == 0 &&
	    (error = lease(b, &uncounted, "shims", b->env->python.ptr, NULL, key.ptr, build_shims,
			   b->env->python.ptr, &at)) == 0)
		*bin_dir = b->env->leases[at].data.ptr;
	udfenv_buf_dispose(&key);
	return error;
}

/* --- requirements --------------------------------------------------------- */

/*
 * pip's environment: the base one without PYTHONPATH (a user module must not
 * shadow one of pip's). Offline, also without PIP_* variables and pip's
 * config files, so the cache dir is the only source (a PIP_FIND_LINKS or a
 * pip.conf index would otherwise join in).
 */
static int pip_envp(const builder *b, udfenv_strvec *out)
{
	int offline = b->m->cache_dir != NULL, error = 0;

	for (char *const *e = b->base; *e && error == 0; e++)
		if (strncmp(*e, "PYTHONPATH=", 11) != 0 && !(offline && strncmp(*e, "PIP_", 4) == 0))
			error = udfenv_strvec_push(out, *e);
	if (error == 0 && offline)
		error = udfenv_strvec_push(out, "PIP_CONFIG_FILE=/dev/null");
	return error;
}

/* "dev ino size mtime ctime" of `st`. */
static int stat_sig(udfenv_buf *out, const struct stat *st)
{
	return udfenv_buf_printf(out, "%llu %llu %lld %lld.%09ld %lld.%09ld", (unsigned long long)st->st_dev,
				 (unsigned long long)st->st_ino, (long long)st->st_size,
				 (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
				 (long long)st->st_ctim.tv_sec, st->st_ctim.tv_nsec);
}

/* Whether `path` is an ELF binary (a script, like a pyenv shim, may pick another Python each run). */
static int is_elf(const char *path)
{
	char magic[4];
	int fd = open(path, O_RDONLY | O_CLOEXEC), ok;

	if (fd < 0)
		return 0;
	ok = read(fd, magic, 4) == 4 && memcmp(magic, "\177ELF", 4) == 0;
	close(fd);
	return ok;
}

/* Run the probe: its JSON output (at most 1 MiB) in `out`. */
static int probe(const builder *b, const char *python, udfenv_buf *out)
{
	char *argv[] = {(char *)python, "-c", (char *)udfenv_probe_py, NULL};
	udfenv_proc_opts opts = UDFENV_PROC_OPTS_INIT;
	udfenv_strvec envp = UDFENV_STRVEC_INIT;
	int status = 0, error;

	opts.timeout = 60;
	if ((error = pip_envp(b, &envp)) < 0)
		goto done;
	opts.envp = envp.items;
	if ((error = udfenv_proc_capture(argv, &opts, 0, out, 1u << 20, &status)) < 0)
		goto done;
	if (status != 0)
		error = udfenv_error_set(UDFENV_EINSTALL,
					 "the worker interpreter '%s' failed to report its version (exit "
					 "status %d): is it a working Python?", python, status);
done:
	udfenv_strvec_dispose(&envp);
	return error;
}

/* The signature pip's own file must still have ("-" without pip) for a remembered identity to hold. */
static int pip_sig(udfenv_buf *out, const char *pip_file)
{
	struct stat st;

	if (pip_file == NULL || stat(pip_file, &st) < 0)
		return udfenv_buf_puts(out, "-");
	return stat_sig(out, &st);
}

/*
 * The probe's answer split in its two lines: the identity (a JSON object,
 * read on every warm start) and the details an install needs (JSON text).
 */
static int split_probe(const char *python, udfenv_buf *answer, json_t **identity, udfenv_buf *details)
{
	char *nl = memchr(answer->ptr ? answer->ptr : "", '\n', answer->size);
	int error;

	if (nl == NULL || (*identity = json_loadb(answer->ptr, (size_t)(nl - answer->ptr), 0, NULL)) == NULL ||
	    !json_is_object(*identity)) {
		if (nl)
			json_decref(*identity);
		*identity = NULL;
		return udfenv_error_set(UDFENV_EINSTALL, "the worker interpreter '%s' gave an unreadable "
							  "answer about its version: '%.80s'", python,
					udfenv_buf_cstr(answer));
	}
	if ((error = udfenv_buf_sets(details, nl + 1)) == 0 && details->size && details->ptr[details->size - 1] == '\n')
		udfenv_buf_truncate(details, details->size - 1);
	return error;
}

/* Where an interpreter's details are remembered: beside its identity, under a name of their own. */
static int details_record(udfenv_buf *out, const char *python)
{
	return udfenv_buf_printf(out, "%s#details", python);
}

/*
 * The remembered identity of `python` whose file has the stat signature
 * `sig`, if pip's file is unchanged too; NULL when there is none.
 */
static json_t *recall_identity(builder *b, const char *python, const char *sig)
{
	udfenv_buf value = UDFENV_BUF_INIT, psig = UDFENV_BUF_INIT;
	json_t *j = NULL;
	const char *nl;

	/* value: "<the stat signature of pip's file, or ->\n<identity json>" */
	if (udfenv_cache__recall(b->env->cache, "interp", python, sig, &value) &&
	    (nl = strchr(value.ptr, '\n')) != NULL && (j = json_loads(nl + 1, 0, NULL)) != NULL &&
	    !(pip_sig(&psig, json_string_value(json_object_get(j, "pip_file"))) == 0 &&
	      strncmp(value.ptr, psig.ptr, psig.size) == 0 && value.ptr + psig.size == nl)) {
		json_decref(j);
		j = NULL;
	}
	udfenv_buf_dispose(&value);
	udfenv_buf_dispose(&psig);
	return j;
}

/*
 * The interpreter's identity for the requirements key: its version, ABI,
 * platform, executable, pip version and the digest of its details (probed
 * once, then remembered by the interpreter file's stat and pip's). When it
 * had to probe, the details are left in `details` (else it is empty).
 */
static int interpreter_identity(builder *b, const char *python, udfenv_buf *identity, char **pip_version,
				udfenv_buf *details)
{
	udfenv_buf sig = UDFENV_BUF_INIT, value = UDFENV_BUF_INIT, psig = UDFENV_BUF_INIT,
		   rec = UDFENV_BUF_INIT;
	json_t *j = NULL;
	struct stat st;
	int cacheable = 0, lock_fd = -1, error = 0;

	udfenv_buf_clear(details);
	if (stat(python, &st) == 0 && (error = stat_sig(&sig, &st)) == 0) {
		/* Only an ELF file's identity is remembered, so a record means it is one. */
		if ((j = recall_identity(b, python, sig.ptr)) != NULL)
			goto have;
		cacheable = is_elf(python);
	}
	/* A herd on a cold node: one probes, the others then find its answer. */
	if (cacheable && (error = udfenv_cache__lock_record(b->env->cache, "interp", python, b->opts->cancel,
							   &lock_fd)) < 0)
		goto done;
	if (cacheable && (j = recall_identity(b, python, sig.ptr)) != NULL)
		goto have;
	udfenv_buf_clear(&value);
	if ((error = probe(b, python, &value)) < 0 || (error = split_probe(python, &value, &j, details)) < 0)
		goto done;
	udfenv_buf_clear(&psig);
	if (cacheable && pip_sig(&psig, json_string_value(json_object_get(j, "pip_file"))) == 0) {
		char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
		if (text && udfenv_buf_printf(&rec, "%s\n%s", psig.ptr, text) == 0)
			udfenv_cache__remember(b->env->cache, "interp", python, sig.ptr, rec.ptr);
		udfenv_buf_clear(&rec);
		if (details_record(&rec, python) == 0)
			udfenv_cache__remember(b->env->cache, "interp", rec.ptr, sig.ptr, details->ptr);
		free(text);
	}
have:
	{
		char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
		const char *pv = json_string_value(json_object_get(j, "pip"));
		if (text == NULL || udfenv_buf_sets(identity, text) < 0 ||
		    (*pip_version = strdup(pv ? pv : "none")) == NULL)
			error = udfenv_error_set(UDFENV_ENOMEM, "out of memory");
		free(text);
	}
done:
	if (lock_fd >= 0)
		close(lock_fd);
	json_decref(j);
	udfenv_buf_dispose(&sig);
	udfenv_buf_dispose(&value);
	udfenv_buf_dispose(&psig);
	udfenv_buf_dispose(&rec);
	return error;
}

/*
 * The interpreter's details (markers, tags, install scheme) whose digest the
 * identity `identity` holds: remembered, else probed again. NULL-free JSON
 * object in `*out` (the caller's reference).
 */
static int interpreter_details(builder *b, const char *python, const char *identity,
			       udfenv_buf *details, json_t **out)
{
	udfenv_buf sig = UDFENV_BUF_INIT, name = UDFENV_BUF_INIT, answer = UDFENV_BUF_INIT;
	json_t *id = json_loads(identity, 0, NULL), *fresh = NULL;
	const char *want = json_string_value(json_object_get(id, "details"));
	char have[UDFENV_SHA256_HEX];
	struct stat st;
	int error = 0;

	*out = NULL;
	if (details->size == 0 && stat(python, &st) == 0 && stat_sig(&sig, &st) == 0 &&
	    details_record(&name, python) == 0)
		udfenv_cache__recall(b->env->cache, "interp", name.ptr, sig.ptr, details);
	udfenv_cache__key(udfenv_buf_cstr(details), have);
	if (want == NULL || strcmp(have, want) != 0) {
		/* Not remembered, or the interpreter changed under us: ask again. */
		udfenv_buf_clear(details);
		if ((error = probe(b, python, &answer)) < 0 ||
		    (error = split_probe(python, &answer, &fresh, details)) < 0)
			goto done;
	}
	if ((*out = json_loads(udfenv_buf_cstr(details), 0, NULL)) == NULL || !json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		error = udfenv_error_set(UDFENV_EINSTALL, "the worker interpreter '%s' gave unreadable "
							  "install details", python);
	}
done:
	json_decref(id);
	json_decref(fresh);
	udfenv_buf_dispose(&sig);
	udfenv_buf_dispose(&name);
	udfenv_buf_dispose(&answer);
	return error;
}

typedef struct {
	builder *b;
	const char *python;
	const char *identity;  /* the interpreter's identity (JSON) */
	udfenv_buf details;    /* its details when the identity had to be probed, else empty */
	const char *wheels;    /* the extracted cache dir, while installing natively */
} req_build;

/*
 * The entry's udfenv-site dir, made in `scratch` first: sitecustomize.py,
 * and its .pyc compiled by the entry's interpreter while the requirements
 * install (it needs none of them; every worker start imports it, and with
 * PYTHONDONTWRITEBYTECODE set it would be compiled from source each time,
 * about 1 ms). Compiling is best effort: *compiling is NULL if it did not
 * start. finish_site moves the dir into the entry.
 */
static int start_site(const char *python, const char *scratch, char *const *envp, udfenv_buf *dir,
		      udfenv_proc **compiling)
{
	char *argv[] = {(char *)python, "-c", "import py_compile, sys; py_compile.compile(sys.argv[1], doraise=True)",
			NULL, NULL};
	udfenv_proc_opts opts = UDFENV_PROC_OPTS_INIT;
	udfenv_buf py = UDFENV_BUF_INIT;
	int error;

	*compiling = NULL;
	if ((error = udfenv_path_join(dir, scratch, "udfenv-site")) < 0 ||
	    (error = udfenv_path_join(&py, dir->ptr, "sitecustomize.py")) < 0)
		goto done;
	if (mkdir(dir->ptr, 0755) < 0) {
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot create '%s'", dir->ptr);
		goto done;
	}
	if ((error = udfenv_fs_write_new(py.ptr, sitecustomize_py, sizeof(sitecustomize_py) - 1, 0644)) < 0)
		goto done;
	argv[3] = py.ptr;
	opts.envp = envp;
	opts.timeout = 60;
	if (udfenv_proc_spawn(compiling, argv, &opts) < 0) {
		udfenv_log(UDFENV_LOG_DEBUG, "install: could not precompile '%s': %s", py.ptr,
			   udfenv_error_last()->message);
		udfenv_error_clear();
	}
done:
	udfenv_buf_dispose(&py);
	return error;
}

/* Wait for the compile, then rename `dir` to <data>/udfenv-site (a rename keeps the mtime the .pyc records). */
static int finish_site(udfenv_proc **compiling, const char *dir, const char *data)
{
	udfenv_buf dst = UDFENV_BUF_INIT;
	int status = 0, error;

	if (*compiling && (udfenv_proc_wait(*compiling, &status) < 0 || status != 0)) {
		udfenv_log(UDFENV_LOG_DEBUG, "install: could not precompile '%s/sitecustomize.py'", dir);
		udfenv_error_clear();
	}
	*compiling = NULL;
	if ((error = udfenv_path_join(&dst, data, "udfenv-site")) == 0 && rename(dir, dst.ptr) < 0)
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot move '%s' to '%s'", dir, dst.ptr);
	udfenv_buf_dispose(&dst);
	return error;
}

/* Say in the entry's report which installer made it, and why not the native one. */
static int installed_by(json_t *report, const char *installer, const char *fallback)
{
	if (json_object_set_new(report, "installer", json_string(installer)) < 0 ||
	    (fallback && json_object_set_new(report, "fallback", json_string(fallback)) < 0))
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	return 0;
}

typedef struct {
	req_build *rb;
	const char *sdist;   /* its path in the extracted cache dir */
	const char *name;    /* its file name */
	const char *wheels;  /* the extracted cache dir (the build backend comes from it) */
} sdist_build;

/* Build the wheel entry of an sdist: `pip wheel --no-deps`, offline. */
static int build_wheel_entry(void *ctx, const char *data, const char *scratch, json_t *extra)
{
	const sdist_build *sb = ctx;
	builder *b = sb->rb->b;
	udfenv_install_request r = {0};
	udfenv_strvec envp = UDFENV_STRVEC_INIT;
	udfenv_buf log = UDFENV_BUF_INIT;
	double t0 = udfenv_now();
	int error;

	(void)extra;
	if (mkdir(data, 0755) < 0) {
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot create '%s'", data);
		goto done;
	}
	if ((error = udfenv_path_join(&log, scratch, "pip.log")) < 0 || (error = pip_envp(b, &envp)) < 0)
		goto done;
	r.python = sb->rb->python;
	r.cache_dir = sb->wheels;
	r.log_path = log.ptr;
	r.cwd = scratch;
	r.envp = envp.items;
	r.req_name = sb->name;
	r.cache_name = b->m->cache_dir->name;
	r.timeout = b->opts->install_timeout;
	r.cancel = b->opts->cancel;
	if ((error = udfenv_install__build_wheel(&r, sb->sdist, data)) == 0)
		udfenv_log(UDFENV_LOG_INFO, "install: built a wheel of '%s' with pip in %.3f s", sb->name,
			   udfenv_now() - t0);
done:
	udfenv_strvec_dispose(&envp);
	udfenv_buf_dispose(&log);
	return error;
}

/*
 * The native installer's way to a wheel of an sdist: a cache entry of its
 * own, keyed by the sdist's bytes and the interpreter, so each sdist is
 * built once per node and interpreter, whatever requirements set needs it.
 */
static int wheel_of_sdist(void *ctx, const char *sdist, const char *name, char **dir)
{
	req_build *rb = ctx;
	builder *b = rb->b;
	sdist_build sb = {rb, sdist, name, NULL};
	udfenv_buf key = UDFENV_BUF_INIT, info = UDFENV_BUF_INIT;
	char digest[UDFENV_SHA256_HEX];
	size_t at;
	int error;

	*dir = NULL;
	sb.wheels = rb->wheels;
	if ((error = udfenv_sha256_file(sdist, digest, NULL)) < 0 ||
	    (error = udfenv_buf_printf(&key, "udfenv sdist-wheel 1\nsdist %s\ninterpreter %s\n", digest,
				       rb->identity)) < 0 ||
	    (error = udfenv_buf_printf(&info, "%s, built by pip", rb->python)) < 0 ||
	    (error = lease(b, NULL, "wheel", name, info.ptr, key.ptr, build_wheel_entry, &sb, &at)) < 0) {
		udfenv_error_prefix("installing '%s': ", b->m->requirements->name);
		goto done;
	}
	if ((*dir = strdup(b->env->leases[at].data.ptr)) == NULL)
		error = udfenv_error_set(UDFENV_ENOMEM, "out of memory");
done:
	udfenv_buf_dispose(&key);
	udfenv_buf_dispose(&info);
	return error;
}

/*
 * Install natively from the extracted cache dir `wheels` when the native
 * installer takes the set (*native = 1); a declined set is left to pip,
 * with one log line saying why.
 */
static int try_native(req_build *rb, const char *data, const char *wheels,
		      const char *req_path, json_t *report, int *native)
{
	builder *b = rb->b;
	udfenv_native_request nr;
	json_t *details = NULL;
	char *declined = NULL;
	size_t n = 0;
	double t0 = udfenv_now();
	int error;

	*native = 0;
	if ((error = interpreter_details(b, rb->python, rb->identity, &rb->details, &details)) < 0)
		goto done;
	if (mkdir(data, 0755) < 0 && errno != EEXIST) {
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot create '%s'", data);
		goto done;
	}
	nr.python = rb->python;
	nr.requirements = req_path;
	nr.req_name = b->m->requirements->name;
	nr.wheel_dir = wheels;
	nr.cache_name = b->m->cache_dir->name;
	nr.prefix = data;
	nr.details = details;
	nr.build_sdist = wheel_of_sdist;
	nr.ctx = rb;
	rb->wheels = wheels;
	if ((error = udfenv_install__native(&nr, &declined, &n)) < 0)
		goto done;
	if (error == 1) {
		udfenv_log(UDFENV_LOG_INFO, "install: '%s' with pip: %s", nr.req_name, declined);
		udfenv_fs_rmtree_quiet(data);
		error = installed_by(report, "pip", declined);
		goto done;
	}
	*native = 1;
	udfenv_log(UDFENV_LOG_INFO, "install: '%s' natively: %zu distribution%s in %.3f s", nr.req_name, n,
		   n == 1 ? "" : "s", udfenv_now() - t0);
	error = installed_by(report, "native", NULL);
done:
	json_decref(details);
	free(declined);
	return error;
}

static int build_requirements(void *ctx, const char *data, const char *scratch, json_t *extra)
{
	req_build *rb = ctx;
	builder *b = rb->b;
	const udfenv_artifact *req = b->m->requirements, *cache = b->m->cache_dir;
	udfenv_install_request r = {0};
	udfenv_buf req_path = UDFENV_BUF_INIT, req_bundle = UDFENV_BUF_INIT, wheels = UDFENV_BUF_INIT,
		   log = UDFENV_BUF_INIT, site = UDFENV_BUF_INIT;
	udfenv_proc *compiling = NULL;
	udfenv_strvec envp = UDFENV_STRVEC_INIT, site_dirs = UDFENV_STRVEC_INIT, bin_dirs = UDFENV_STRVEC_INIT;
	json_t *sd = json_array(), *bd = json_array(), *report = json_object();
	size_t dlen = strlen(data);
	double t0 = udfenv_now();
	int native = 0, error;

	if (report == NULL || json_object_set(extra, "report", report) < 0) {
		error = udfenv_error_set(UDFENV_ENOMEM, "out of memory");
		goto done;
	}

	/* A dir artifact is the file with its includes at their places (stage.c). */
	if (req->kind == UDFENV_KIND_DIR) {
		if ((error = udfenv_path_join(&req_bundle, scratch, "requirements")) < 0 ||
		    (error = extract_artifact(b, req, req_bundle.ptr)) < 0 ||
		    (error = udfenv_path_join(&req_path, req_bundle.ptr, req->name)) < 0)
			goto done;
	} else if ((error = udfenv_path_join(&req_path, scratch, req->name)) < 0 ||
		   (error = copy_artifact(b, req, req_path.ptr, 0644)) < 0) {
		goto done;
	}
	if (cache && ((error = udfenv_path_join(&wheels, scratch, "cache-dir")) < 0 ||
		      (error = extract_artifact(b, cache, wheels.ptr)) < 0))
		goto done;
	if ((error = udfenv_env__check_cancel(b)) < 0 ||
	    (error = udfenv_path_join(&log, scratch, "pip.log")) < 0 || (error = pip_envp(b, &envp)) < 0 ||
	    (error = start_site(rb->python, scratch, envp.items, &site, &compiling)) < 0)
		goto done;
	if (cache && (error = try_native(rb, data, wheels.ptr, req_path.ptr, report, &native)) < 0)
		goto done;
	if (native)
		goto installed;
	if (!cache && (error = installed_by(report, "pip", "online: there is no cache dir to install "
							"from natively")) < 0)
		goto done;
	r.python = rb->python;
	r.requirements = req_path.ptr;
	r.cache_dir = cache ? wheels.ptr : NULL;
	r.prefix = data;
	r.log_path = log.ptr;
	r.cwd = scratch;
	r.envp = envp.items;
	r.req_name = req->name;
	r.cache_name = cache ? cache->name : NULL;
	r.timeout = b->opts->install_timeout;
	r.cancel = b->opts->cancel;
	if ((error = udfenv_install__requirements(&r)) < 0)
		goto done;
	udfenv_log(UDFENV_LOG_INFO, "install: '%s'%s with pip in %.3f s", req->name, cache ? " (offline)" : "",
		   udfenv_now() - t0);
installed:
	if (mkdir(data, 0755) < 0 && errno != EEXIST) {
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot create '%s'", data);
		goto done;
	}
	if ((error = udfenv_install__layout(data, &site_dirs, &bin_dirs)) < 0 ||
	    (error = finish_site(&compiling, site.ptr, data)) < 0)
		goto done;
	/* Stored relative: the entry is renamed into place after this. */
	for (size_t i = 0; i < site_dirs.count; i++)
		json_array_append_new(sd, json_string(site_dirs.items[i] + dlen + 1));
	for (size_t i = 0; i < bin_dirs.count; i++)
		json_array_append_new(bd, json_string(bin_dirs.items[i] + dlen + 1));
	if (json_object_set(extra, "site_dirs", sd) < 0 || json_object_set(extra, "bin_dirs", bd) < 0) {
		error = udfenv_error_set(UDFENV_ENOMEM, "out of memory");
		goto done;
	}
done:
	udfenv_proc_kill(compiling);
	json_decref(sd);
	json_decref(bd);
	json_decref(report);
	udfenv_strvec_dispose(&envp);
	udfenv_strvec_dispose(&site_dirs);
	udfenv_strvec_dispose(&bin_dirs);
	udfenv_buf_dispose(&req_path);
	udfenv_buf_dispose(&req_bundle);
	udfenv_buf_dispose(&wheels);
	udfenv_buf_dispose(&log);
	udfenv_buf_dispose(&site);
	return error;
}

/* The entry's dirs in extra[field], made absolute, appended to `out`. */
static int entry_dirs(const udfenv_cache_lease *l, const char *field, udfenv_strvec *out)
{
	json_t *list = json_object_get(l->extra, field), *v;
	size_t i;
	int error = 0;

	json_array_foreach(list, i, v)
		if (error == 0 && json_is_string(v) && !strstr(json_string_value(v), ".."))
			error = udfenv_strvec_pushf(out, "%s/%s", l->data.ptr, json_string_value(v));
	return error;
}

/* The online installs' result depends on where pip looks: the PIP_* settings. */
static int put_pip_settings(const builder *b, udfenv_buf *key)
{
	int error = 0;

	for (char *const *e = b->base; *e && error == 0; e++)
		if (strncmp(*e, "PIP_", 4) == 0)
			error = udfenv_buf_printf(key, "env %s\n", *e);
	return error;
}

int udfenv_env__requirements(builder *b)
{
	const udfenv_artifact *req = b->m->requirements, *cache = b->m->cache_dir;
	udfenv_buf identity = UDFENV_BUF_INIT, key = UDFENV_BUF_INIT, info = UDFENV_BUF_INIT;
	req_build rb = {b, b->env->python.ptr, NULL, UDFENV_BUF_INIT, NULL};
	char *pip_version = NULL;
	size_t at;
	double t0 = udfenv_now();
	int error;

	if ((error = interpreter_identity(b, rb.python, &identity, &pip_version, &rb.details)) < 0)
		goto done;
	rb.identity = identity.ptr;
	b->env->report.install.seconds += udfenv_now() - t0;
	if ((error = udfenv_buf_printf(&key,
				       "udfenv requirements 1\nrequirements %s\ncache-dir %s\n"
				       "interpreter %s\ninstaller %s\n",
				       req->digest, cache ? cache->digest : "none", identity.ptr,
				       INSTALLER_VERSION)) < 0 ||
	    (!cache && (error = put_pip_settings(b, &key)) < 0) ||
	    (error = udfenv_buf_printf(&info, "%s, pip %s%s", rb.python, pip_version,
				       cache ? ", offline" : ", online")) < 0 ||
	    (error = lease(b, &b->env->report.install, "requirements", req->name, info.ptr, key.ptr,
			   build_requirements, &rb, &at)) < 0)
		goto done;
	if ((error = entry_dirs(&b->env->leases[at], "site_dirs", &b->site_dirs)) == 0 &&
	    (error = entry_dirs(&b->env->leases[at], "bin_dirs", &b->bin_dirs)) == 0)
		error = udfenv_buf_printf(&b->site_custom, "%s/udfenv-site", b->env->leases[at].data.ptr);
done:
	free(pip_version);
	udfenv_buf_dispose(&rb.details);
	udfenv_buf_dispose(&identity);
	udfenv_buf_dispose(&key);
	udfenv_buf_dispose(&info);
	return error;
}

/* --- digests of local inputs ---------------------------------------------- */

typedef struct {
	udfenv_sha256 *h;
	double newest;
	udfenv_buf rel;
} tree_walk;

/* The later of the last modification and the last inode change, in seconds. */
static double newest_of(const struct stat *st)
{
	double m = (double)st->st_mtim.tv_sec + (double)st->st_mtim.tv_nsec / 1e9,
	       c = (double)st->st_ctim.tv_sec + (double)st->st_ctim.tv_nsec / 1e9;
	return m > c ? m : c;
}

/* Feed every entry's name and stat signature under the open dir `fd` (closed here). */
static int walk_tree(tree_walk *w, int fd)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	size_t base = w->rel.size;
	int error = 0;

	if (d == NULL) {
		close(fd);
		return udfenv_error_set_os(UDFENV_ERROR, "cannot read a directory to ship");
	}
	while (error == 0 && (de = readdir(d)) != NULL) {
		udfenv_buf line = UDFENV_BUF_INIT;
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			error = udfenv_error_set_os(UDFENV_ERROR, "cannot stat '%s'", de->d_name);
			break;
		}
		udfenv_buf_truncate(&w->rel, base);
		if ((error = udfenv_buf_printf(&w->rel, "/%s", de->d_name)) < 0 ||
		    (error = udfenv_buf_printf(&line, "%s\n%o ", w->rel.ptr, (unsigned)st.st_mode)) < 0 ||
		    (error = stat_sig(&line, &st)) < 0 || (error = udfenv_buf_putc(&line, '\n')) < 0 ||
		    (error = udfenv_sha256_update(w->h, line.ptr, line.size)) < 0) {
			udfenv_buf_dispose(&line);
			break;
		}
		udfenv_buf_dispose(&line);
		if (newest_of(&st) > w->newest)
			w->newest = newest_of(&st);
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			error = sub < 0 ? udfenv_error_set_os(UDFENV_ERROR, "cannot open '%s'", w->rel.ptr)
					: walk_tree(w, sub);
		}
	}
	udfenv_buf_truncate(&w->rel, base);
	closedir(d);
	return error;
}

/*
 * What must hold for a remembered digest of `path` to be valid: its stat
 * (a directory: every entry's); `*stable` is 0 when something changed so
 * recently that a change within the clock's granularity could go unseen.
 */
static int input_sig(const udfenv_artifact *a, udfenv_buf *sig, int *stable)
{
	tree_walk w = {NULL, 0, UDFENV_BUF_INIT};
	char hex[UDFENV_SHA256_HEX];
	struct stat st;
	int fd, error;

	if (stat(a->source, &st) < 0)
		return udfenv_error_set_os(udfenv_error_from_errno(errno), "'%s' cannot be used", a->source);
	w.newest = newest_of(&st);
	if ((error = udfenv_buf_puts(sig, a->kind == UDFENV_KIND_DIR ? "dir " : "file ")) < 0 ||
	    (error = stat_sig(sig, &st)) < 0)
		return error;
	if (a->kind == UDFENV_KIND_DIR) {
		if ((error = udfenv_sha256_new(&w.h)) < 0)
			return error;
		if ((fd = open(a->source, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			error = udfenv_error_set_os(UDFENV_ERROR, "cannot open '%s'", a->source);
		else if ((error = walk_tree(&w, fd)) == 0 && (error = udfenv_sha256_final(w.h, hex)) == 0)
			error = udfenv_buf_printf(sig, " tree %s", hex);
		udfenv_sha256_free(w.h);
		udfenv_buf_dispose(&w.rel);
	}
	*stable = w.newest < udfenv_wall_now() - RACY_SECONDS;
	return error;
}

/* The remembered digest of `a` under the signature `sig`: 1 (a->digest, a->size set) or 0. */
static int recall_digest(builder *b, udfenv_artifact *a, const char *sig)
{
	udfenv_buf value = UDFENV_BUF_INIT;
	unsigned long long size;
	int ok = udfenv_cache__recall(b->env->cache, "digests", a->source, sig, &value) &&
		 sscanf(value.ptr, "%64s %llu", a->digest, &size) == 2 && udfenv_sha256_is_hex(a->digest);

	if (ok)
		a->size = size;
	udfenv_buf_dispose(&value);
	return ok;
}

int udfenv_env__digest_local(void *ctx, udfenv_artifact *a)
{
	builder *b = ctx;
	udfenv_buf sig = UDFENV_BUF_INIT, value = UDFENV_BUF_INIT;
	double t0 = udfenv_now();
	int stable = 0, fd = -1, lock_fd = -1, error;

	if ((error = input_sig(a, &sig, &stable)) < 0)
		goto done;
	if (stable && recall_digest(b, a, sig.ptr))
		goto hit;
	/* A herd on a cold node: one hashes the input, the others then recall its digest. */
	if (stable && (error = udfenv_cache__lock_record(b->env->cache, "digests", a->source,
							 b->opts->cancel, &lock_fd)) < 0)
		goto done;
	if (stable && recall_digest(b, a, sig.ptr))
		goto hit;
	if (a->kind == UDFENV_KIND_DIR) {
		/* Packed once: kept for extraction, should the entry be missing. */
		if ((error = udfenv_manifest__pack(a->source, &fd)) < 0)
			goto done;
		a->packed_fd = fd;
		if ((error = udfenv_sha256_fd(fd, a->source, -1, NULL, a->digest, &a->size)) < 0)
			goto done;
	} else if ((error = udfenv_sha256_file(a->source, a->digest, &a->size)) < 0) {
		goto done;
	}
	b->env->report.fetch.built++;
	if (stable && udfenv_buf_printf(&value, "%s %llu", a->digest, (unsigned long long)a->size) == 0)
		udfenv_cache__remember(b->env->cache, "digests", a->source, sig.ptr, value.ptr);
	goto done;
hit:
	b->env->report.fetch.hits++;
done:
	if (lock_fd >= 0)
		close(lock_fd);
	b->env->report.fetch.seconds += udfenv_now() - t0;
	udfenv_buf_dispose(&sig);
	udfenv_buf_dispose(&value);
	return error;
}
