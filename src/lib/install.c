/*
 * Installing requirements with the worker interpreter's own pip, the way
 * Flink's launch script does, but with the fixes REFERENCE.md section 2
 * asks for: the right bin dir, the installer's output on failure, and
 * retries only where a retry can help (online).
 */
#include "lib/install.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/path.h"
#include "util/proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_TAIL_LINES 25
#define LOG_TAIL_BYTES (64u << 10) /* enough for the tail and pip's last error */
#define ONLINE_ATTEMPTS 3

/*
 * Run pip's `argv` for `r`: its output to r->log_path, no stdin, killed with
 * us. `doing` ("installing") prefixes the errors of running it.
 */
static int run_pip_argv(const udfenv_install_request *r, char *const *argv, const char *doing, int *status)
{
	udfenv_proc_opts opts = UDFENV_PROC_OPTS_INIT;
	int log_fd, null_fd, error;

	if ((log_fd = open(r->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0)
		return udfenv_error_set_os(UDFENV_ERROR, "cannot create the install log '%s'", r->log_path);
	if ((null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
		close(log_fd);
		return udfenv_error_set_os(UDFENV_ERROR, "cannot open /dev/null");
	}
	opts.cwd = r->cwd;
	opts.envp = r->envp;
	opts.stdin_fd = null_fd;
	opts.stdout_fd = opts.stderr_fd = log_fd;
	opts.forward_signals = 1;
	opts.timeout = r->timeout;
	opts.die_with_us = UDFENV_PROC_DIE_GROUP; /* nothing may go on writing into a dead build */
	error = udfenv_proc_run(argv, &opts, status);
	close(log_fd);
	close(null_fd);
	if (error < 0)
		udfenv_error_prefix("%s '%s': ", doing, r->req_name);
	return error;
}

static int run_pip(const udfenv_install_request *r, int *status)
{
	/* Online, the NULL in place of "--no-index" ends argv there. */
	char *argv[] = {(char *)r->python, "-m", "pip", "install", "--ignore-installed",
			"--no-cache-dir", "--no-warn-script-location", "--disable-pip-version-check", "--no-input",
			"--prefix", (char *)r->prefix, "-r", (char *)r->requirements,
			r->cache_dir ? "--no-index" : NULL, "--find-links", (char *)r->cache_dir, NULL};

	return run_pip_argv(r, argv, "installing", status);
}

/* Log the last lines of pip's output, so the user sees why it failed. */
static void log_tail(const udfenv_buf *log)
{
	const char *start = udfenv_buf_cstr(log), *p = start + log->size;
	int lines = 0;

	while (p > start && lines <= LOG_TAIL_LINES)
		if (*--p == '\n' && p + 1 < start + log->size)
			lines++;
	if (p > start)
		p++;
	udfenv_log(UDFENV_LOG_ERROR, "pip's output (last %d lines):", LOG_TAIL_LINES);
	while (*p) {
		const char *e = strchrnul(p, '\n');
		udfenv_log(UDFENV_LOG_ERROR, "  | %.*s", (int)(e - p), p);
		p = *e ? e + 1 : e;
	}
}

size_t udfenv_install__sdist_ext(const char *name)
{
	static const char *const ext[] = {".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".zip"};

	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
		if (udfenv_path_has_suffix(name, ext[i]))
			return strlen(ext[i]);
	return 0;
}

/*
 * If pip failed looking for setuptools and the cache dir holds sdists but no
 * setuptools wheel, say so in `hint`.
 */
static void sdist_backend_hint(const udfenv_install_request *r, const char *log, udfenv_buf *hint)
{
	char first_sdist[NAME_MAX + 1] = "";
	int has_setuptools = 0;
	DIR *d;
	struct dirent *de;

	if (!strstr(log, "No matching distribution found for setuptools") ||
	    (d = opendir(r->cache_dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "setuptools-", 11) == 0 && strstr(de->d_name, ".whl"))
			has_setuptools = 1;
		else if (!first_sdist[0] && udfenv_install__sdist_ext(de->d_name))
			snprintf(first_sdist, sizeof(first_sdist), "%s", de->d_name);
	}
	closedir(d);
	if (first_sdist[0] && !has_setuptools)
		udfenv_buf_printf(hint,
				  "; the cache dir '%s' holds source distributions (%s) but no "
				  "setuptools wheel, so pip cannot build them offline: add the "
				  "build backend to it (pip download -d %s setuptools wheel)",
				  r->cache_name, first_sdist, r->cache_name);
}

/* Whether pip's output says the interpreter has no pip at all. */
static int says_no_pip(const udfenv_buf *log)
{
	return strstr(udfenv_buf_cstr(log), "No module named pip") != NULL;
}

/* `doing` says what pip was asked: "installing", "building a wheel of". */
static int explain_failure(const udfenv_install_request *r, const char *doing, int status)
{
	udfenv_buf log = UDFENV_BUF_INIT, hint = UDFENV_BUF_INIT;
	int error;

	udfenv_fs_read_tail(&log, r->log_path, LOG_TAIL_BYTES);
	if (says_no_pip(&log)) {
		error = udfenv_error_set(UDFENV_EINSTALL,
					 "the worker interpreter '%s' has no pip, which is needed to "
					 "install '%s': install pip into it (python -m ensurepip) or "
					 "choose an interpreter that has it",
					 r->python, r->req_name);
		goto done;
	}
	log_tail(&log);
	if (r->cache_dir)
		sdist_backend_hint(r, udfenv_buf_cstr(&log), &hint);
	error = udfenv_error_set(UDFENV_EINSTALL,
				 "%s '%s' with pip failed (exit status %d%s)%s; pip's output is above",
				 doing, r->req_name, status, r->cache_dir ? ", offline" : "",
				 udfenv_buf_cstr(&hint));
done:
	udfenv_buf_dispose(&log);
	udfenv_buf_dispose(&hint);
	return error;
}

/* Whether another try could help: not after a signal, a cancel, or with no pip at all. */
static int canceled(const udfenv_install_request *r)
{
	return r->cancel && *r->cancel;
}

static int worth_retrying(const udfenv_install_request *r, int status)
{
	udfenv_buf log = UDFENV_BUF_INIT;
	int no_pip;

	if (status >= 128 || canceled(r))
		return 0;
	udfenv_fs_read_tail(&log, r->log_path, LOG_TAIL_BYTES);
	no_pip = says_no_pip(&log);
	udfenv_buf_dispose(&log);
	return !no_pip;
}

int udfenv_install__requirements(const udfenv_install_request *r)
{
	int attempts = r->cache_dir ? 1 : ONLINE_ATTEMPTS, status = 0, error;

	for (int i = 1; i <= attempts && !canceled(r); i++) {
		if ((error = run_pip(r, &status)) < 0)
			return error;
		if (status == 0)
			return 0;
		if (i < attempts && worth_retrying(r, status)) {
			udfenv_log(UDFENV_LOG_WARN, "pip exited with status %d; retrying in %d s (%d/%d)",
				   status, i, i + 1, attempts);
			sleep((unsigned)i);
			udfenv_fs_rmtree_quiet(r->prefix);
			continue;
		}
		break;
	}
	if (canceled(r))
		return udfenv_error_set(UDFENV_ECANCELED, "installing '%s' was stopped", r->req_name);
	return explain_failure(r, "installing", status);
}

int udfenv_install__build_wheel(const udfenv_install_request *r, const char *sdist, const char *wheel_dir)
{
	char *argv[] = {(char *)r->python, "-m", "pip", "wheel", "--no-deps", "--no-cache-dir",
			"--disable-pip-version-check", "--no-input", "--no-index", "--find-links",
			(char *)r->cache_dir, "--wheel-dir", (char *)wheel_dir, (char *)sdist, NULL};
	int status = 0, error;

	if ((error = run_pip_argv(r, argv, "building a wheel of", &status)) < 0)
		return error;
	if (status == 0)
		return 0;
	if (canceled(r))
		return udfenv_error_set(UDFENV_ECANCELED, "building '%s' was stopped", r->req_name);
	return explain_failure(r, "building a wheel of", status);
}

/* Append the matches of `pattern` that are directories and not already listed (by real path). */
static int add_glob(udfenv_strvec *out, udfenv_strvec *seen, const char *pattern)
{
	glob_t g;
	int error = 0;

	if (glob(pattern, GLOB_ONLYDIR, NULL, &g) != 0)
		return 0;
	for (size_t i = 0; i < g.gl_pathc && error == 0; i++) {
		char real[PATH_MAX];
		struct stat st;
		if (stat(g.gl_pathv[i], &st) < 0 || !S_ISDIR(st.st_mode) ||
		    realpath(g.gl_pathv[i], real) == NULL || udfenv_strvec_find(seen, real) >= 0)
			continue;
		if ((error = udfenv_strvec_push(seen, real)) == 0)
			error = udfenv_strvec_push(out, g.gl_pathv[i]);
	}
	globfree(&g);
	return error;
}

int udfenv_install__layout(const char *prefix, udfenv_strvec *site_dirs, udfenv_strvec *bin_dirs)
{
	/* platlib before purelib; Debian's pip puts --prefix installs under local/. */
	static const char *const site[] = {"lib64/python*/site-packages", "lib/python*/site-packages",
					   "local/lib64/python*/dist-packages",
					   "local/lib/python*/dist-packages",
					   "lib/python*/dist-packages", NULL};
	static const char *const bin[] = {"bin", "local/bin", NULL};
	udfenv_strvec seen = UDFENV_STRVEC_INIT;
	udfenv_buf pattern = UDFENV_BUF_INIT;
	int error = 0;

	for (size_t i = 0; site[i] && error == 0; i++) {
		udfenv_buf_clear(&pattern);
		if ((error = udfenv_buf_printf(&pattern, "%s/%s", prefix, site[i])) == 0)
			error = add_glob(site_dirs, &seen, pattern.ptr);
	}
	for (size_t i = 0; bin[i] && error == 0; i++) {
		udfenv_buf_clear(&pattern);
		if ((error = udfenv_buf_printf(&pattern, "%s/%s", prefix, bin[i])) == 0)
			error = add_glob(bin_dirs, &seen, pattern.ptr);
	}
	udfenv_strvec_dispose(&seen);
	udfenv_buf_dispose(&pattern);
	return error;
}
