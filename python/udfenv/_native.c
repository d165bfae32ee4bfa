/*
 * udfenv._native: the thin door from the Python API to the C library
 * (docs/protocol.md, "The extension"). Stateless: config travels as a dict
 * of str to str. Built against the stable ABI so that one build serves every
 * client interpreter from 3.6 on.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "udfenv/udfenv.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static PyObject *JobError;

/* A str of the library's UTF-8 text; a stray byte (a file name) becomes U+FFFD, never an exception. */
static PyObject *text(const char *s)
{
	return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "replace");
}

/* Raise the library's last error as the matching Python exception. */
static PyObject *raise_last(void)
{
	const udfenv_error *e = udfenv_error_last();
	PyObject *type;

	switch (e->code) {
	case UDFENV_ENOTFOUND: type = PyExc_FileNotFoundError; break;
	case UDFENV_ENOMEM: type = PyExc_MemoryError; break;
	case UDFENV_EINVALID:
	case UDFENV_EUNSAFE:
	case UDFENV_ECONFLICT:
	case UDFENV_ELIMIT: type = PyExc_ValueError; break;
	default: type = PyExc_RuntimeError; break;
	}
	PyErr_SetObject(type, text(e->message));
	return NULL;
}

/*
 * The UTF-8 text of a str, kept alive by *holder (the bytes object); NULL
 * with a TypeError naming `what` for anything else.
 */
static const char *utf8(PyObject *o, PyObject **holder, const char *what)
{
	if (!PyUnicode_Check(o)) {
		PyErr_Format(PyExc_TypeError, "%s must be a str", what);
		return NULL;
	}
	if ((*holder = PyUnicode_AsUTF8String(o)) == NULL)
		return NULL;
	return PyBytes_AsString(*holder);
}

/* Build a udfenv_config from a dict of str to str. */
static udfenv_config *config_from_dict(PyObject *dict)
{
	udfenv_config *cfg = NULL;
	PyObject *k, *v, *kb = NULL, *vb = NULL;
	Py_ssize_t pos = 0;
	const char *key, *value;

	if (!PyDict_Check(dict)) {
		PyErr_SetString(PyExc_TypeError, "config must be a dict");
		return NULL;
	}
	if (udfenv_config_new(&cfg) < 0)
		return (udfenv_config *)raise_last();
	while (PyDict_Next(dict, &pos, &k, &v)) {
		int error = -1;
		if ((key = utf8(k, &kb, "a config key")) != NULL &&
		    (value = utf8(v, &vb, "a config value")) != NULL &&
		    (error = udfenv_config_set(cfg, key, value)) < 0)
			raise_last();
		Py_XDECREF(kb);
		Py_XDECREF(vb);
		kb = vb = NULL;
		if (error < 0) {
			udfenv_config_free(cfg);
			return NULL;
		}
	}
	return cfg;
}

static PyObject *dict_from_config(const udfenv_config *cfg)
{
	PyObject *d = PyDict_New(), *v;
	const char *key, *value;
	int rc;

	for (size_t i = 0; d && udfenv_config_entry(cfg, i, &key, &value); i++) {
		if ((v = PyUnicode_FromString(value)) == NULL) {
			Py_CLEAR(d);
			break;
		}
		rc = PyDict_SetItemString(d, key, v);
		Py_DECREF(v);
		if (rc < 0)
			Py_CLEAR(d);
	}
	return d;
}

static PyObject *check_config(PyObject *self, PyObject *args)
{
	const char *key, *value;
	udfenv_config *cfg = NULL;
	int error;

	(void)self;
	if (!PyArg_ParseTuple(args, "ss:check_config", &key, &value))
		return NULL;
	if ((error = udfenv_config_new(&cfg)) == 0)
		error = udfenv_config_set(cfg, key, value);
	udfenv_config_free(cfg);
	if (error < 0)
		return raise_last();
	Py_RETURN_NONE;
}

/* FileNotFoundError unless `path` exists: the API checks at declaration, not when the job runs. */
static int must_exist(const char *what, const char *path)
{
	struct stat st;

	if (path == NULL || stat(path, &st) == 0)
		return 0;
	PyErr_Format(PyExc_FileNotFoundError, "%s '%s' does not exist", what, path);
	return -100;
}

/* Apply one declaration of the Python API to `deps`. */
static int apply_op(udfenv_deps *deps, const char *op, const char *a, const char *b)
{
	int error;

	if (strcmp(op, "add_python_file") == 0 && a)
		return (error = must_exist("python file", a)) < 0 ? error : udfenv_deps_add_python_file(deps, a);
	if (strcmp(op, "set_python_requirements") == 0 && a)
		return (error = must_exist("requirements file", a)) < 0 ||
				       (error = must_exist("requirements cache dir", b)) < 0
			       ? error
			       : udfenv_deps_set_requirements(deps, a, b);
	if (strcmp(op, "add_python_archive") == 0 && a)
		return (error = must_exist("archive", a)) < 0 ? error : udfenv_deps_add_archive(deps, a, b);
	if (strcmp(op, "set_python_executable") == 0 && a)
		return udfenv_deps_set_executable(deps, a);
	PyErr_Format(PyExc_ValueError, "deps_update: unknown operation '%s' or missing argument", op);
	return -100;
}

static PyObject *deps_update(PyObject *self, PyObject *args)
{
	PyObject *dict, *result = NULL;
	const char *op, *a = NULL, *b = NULL;
	udfenv_config *cfg = NULL, *out = NULL;
	udfenv_deps *deps = NULL;
	int error;

	(void)self;
	if (!PyArg_ParseTuple(args, "Os|zz:deps_update", &dict, &op, &a, &b))
		return NULL;
	if ((cfg = config_from_dict(dict)) == NULL)
		return NULL;
	if ((error = udfenv_deps_new(&deps)) < 0 || (error = udfenv_deps_from_config(deps, cfg)) < 0 ||
	    (error = apply_op(deps, op, a, b)) < 0 || (error = udfenv_config_new(&out)) < 0 ||
	    (error = udfenv_deps_to_config(deps, out)) < 0) {
		if (error != -100)
			raise_last();
		goto done;
	}
	result = dict_from_config(out);
done:
	udfenv_config_free(out);
	udfenv_deps_free(deps);
	udfenv_config_free(cfg);
	return result;
}

static PyObject *json_loads(const char *text)
{
	PyObject *json = PyImport_ImportModule("json"), *r;

	if (json == NULL)
		return NULL;
	r = PyObject_CallMethod(json, "loads", "s", text);
	Py_DECREF(json);
	return r;
}

static PyObject *infer_schema(PyObject *self, PyObject *args)
{
	const char *format, *path;
	Py_ssize_t sample;
	char *json = NULL;
	PyObject *list, *r = NULL;
	int error;

	(void)self;
	if (!PyArg_ParseTuple(args, "ssn:infer_schema", &format, &path, &sample))
		return NULL;
	if (sample < 1) {
		PyErr_SetString(PyExc_ValueError, "infer_schema: sample must be at least 1");
		return NULL;
	}
	Py_BEGIN_ALLOW_THREADS
	error = udfenv_job_infer_schema(&json, format, path, (size_t)sample);
	Py_END_ALLOW_THREADS
	if (error < 0)
		return raise_last();
	if ((list = json_loads(json)) != NULL) {
		/* [[name, type], ...] -> [(name, type), ...] */
		Py_ssize_t n = PyList_Size(list);
		r = PyList_New(n);
		for (Py_ssize_t i = 0; r && i < n; i++) {
			PyObject *t = PyList_AsTuple(PyList_GetItem(list, i));
			if (t == NULL)
				Py_CLEAR(r);
			else
				PyList_SetItem(r, i, t);
		}
		Py_DECREF(list);
	}
	free(json);
	return r;
}

/* --- execute ---------------------------------------------------------- */

/* Set by our SIGINT/SIGTERM handler while a job runs; the job's cancel flag. */
/*
 * Signals reach the main thread's job only (Python's rule too): its cancel
 * flag is published here while it runs. Jobs in other threads have their
 * own flags, raised only by their own progress callables.
 */
static volatile int *volatile signal_cancel;
static volatile sig_atomic_t caught_signal;

static void on_stop_signal(int sig)
{
	volatile int *flag = signal_cancel;

	if (caught_signal == 0)
		caught_signal = sig;
	if (flag)
		*flag = 1;
}

typedef struct {
	volatile int cancel;  /* this job's cancel flag */
	PyObject *callable;   /* None or the progress callable */
	PyObject *exc_type, *exc_value, *exc_tb; /* what it raised, re-raised after the job */
} progress_ctx;

static PyObject *progress_dict(const udfenv_job_progress *p)
{
	PyObject *rows = PyList_New(p->workers);

	for (unsigned i = 0; rows && i < p->workers; i++) {
		PyObject *n = PyLong_FromUnsignedLongLong(p->worker_rows[i]);
		if (n == NULL)
			Py_CLEAR(rows);
		else
			PyList_SetItem(rows, i, n);
	}
	if (rows == NULL)
		return NULL;
	return Py_BuildValue("{s:s,s:d,s:d,s:K,s:K,s:K,s:K,s:I,s:N}", "phase", udfenv_job_phase_name(p->phase),
			     "elapsed", p->elapsed, "setup_seconds", p->setup_seconds, "rows_in",
			     (unsigned long long)p->rows_in, "rows_out", (unsigned long long)p->rows_out, "bytes_in",
			     (unsigned long long)p->bytes_in, "bytes_total", (unsigned long long)p->bytes_total,
			     "workers", p->workers, "worker_rows", rows);
}

/* Called by the job with the GIL released: take it, call the callable, keep what it raised. */
static void on_progress(const udfenv_job_progress *p, void *payload)
{
	progress_ctx *ctx = payload;
	PyGILState_STATE g;
	PyObject *d, *r;

	if (ctx->callable == Py_None || ctx->exc_type)
		return;
	g = PyGILState_Ensure();
	if ((d = progress_dict(p)) != NULL) {
		r = PyObject_CallFunctionObjArgs(ctx->callable, d, NULL);
		Py_DECREF(d);
		Py_XDECREF(r);
	}
	if (PyErr_Occurred()) {
		PyErr_Fetch(&ctx->exc_type, &ctx->exc_value, &ctx->exc_tb);
		ctx->cancel = 1;
	}
	PyGILState_Release(g);
}

static int in_main_thread(void)
{
	PyObject *threading = PyImport_ImportModule("threading"), *cur = NULL, *main = NULL;
	int r = 0;

	if (threading) {
		cur = PyObject_CallMethod(threading, "current_thread", NULL);
		main = PyObject_CallMethod(threading, "main_thread", NULL);
		r = cur && main && cur == main;
	}
	Py_XDECREF(cur);
	Py_XDECREF(main);
	Py_XDECREF(threading);
	PyErr_Clear();
	return r;
}

static PyObject *report_stats(const udfenv_job_report *rep)
{
	return Py_BuildValue("{s:K,s:K,s:d,s:d,s:I,s:z}", "rows_in", (unsigned long long)rep->rows_in,
			     "rows_out", (unsigned long long)rep->rows_out, "seconds", rep->seconds,
			     "setup_seconds", rep->setup_seconds, "workers", rep->workers, "setup_report",
			     rep->setup_report);
}

static PyObject *raise_job_error(const udfenv_job_report *rep)
{
	const udfenv_error *e = udfenv_error_last();
	PyObject *msg = text(e->message), *exc, *detail;

	if (msg == NULL)
		return NULL;
	exc = PyObject_CallFunctionObjArgs(JobError, msg, NULL);
	Py_DECREF(msg);
	if (exc == NULL)
		return NULL;
	detail = rep->detail ? text(rep->detail) : (Py_INCREF(Py_None), Py_None);
	if (detail == NULL || PyObject_SetAttrString(exc, "detail", detail) < 0) {
		Py_XDECREF(detail);
		Py_DECREF(exc);
		return NULL;
	}
	Py_DECREF(detail);
	PyErr_SetObject(JobError, exc);
	Py_DECREF(exc);
	return NULL;
}

extern char **environ;

/*
 * The environment workers build on: ours, except that under `udfenv run`
 * PYTHONPATH is the one udfenv run was given ($UDFENV_RUN_PYTHONPATH), not
 * the client's, which also holds the shipped files' original dirs. The
 * strings are environ's; free() only the array.
 */
static char **worker_base_env(void)
{
	static const char run_var[] = "UDFENV_RUN_PYTHONPATH=";
	const size_t prefix = sizeof("UDFENV_RUN_") - 1;
	int under_run = getenv("UDFENV_RUN_PYTHONPATH") != NULL;
	size_t n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	if ((env = calloc(n + 1, sizeof(*env))) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (!under_run)
			env[k++] = environ[i];
		else if (strncmp(environ[i], run_var, sizeof(run_var) - 1) == 0) {
			if (environ[i][sizeof(run_var) - 1] != '\0')
				env[k++] = environ[i] + prefix; /* "PYTHONPATH=<what udfenv run was given>" */
		} else if (strncmp(environ[i], "PYTHONPATH=", 11) != 0)
			env[k++] = environ[i];
	}
	return env;
}

static PyObject *execute(PyObject *self, PyObject *args)
{
	const char *plan;
	Py_ssize_t plan_len;
	PyObject *dict, *callable, *r = NULL, *collected, *stats;
	udfenv_config *cfg = NULL;
	udfenv_deps *deps = NULL;
	udfenv_job_opts opts = UDFENV_JOB_OPTS_INIT;
	udfenv_job_report rep;
	progress_ctx ctx = {0, NULL, NULL, NULL, NULL};
	static const int stop_signals[] = {SIGINT, SIGTERM};
	struct sigaction sa, old[2];
	int error, handlers, hooked[2] = {0, 0};
	char **base_env = NULL;

	(void)self;
	memset(&rep, 0, sizeof(rep));
	if (!PyArg_ParseTuple(args, "s#OO:execute", &plan, &plan_len, &dict, &callable))
		return NULL;
	if (callable != Py_None && !PyCallable_Check(callable)) {
		PyErr_SetString(PyExc_TypeError, "execute: progress must be callable or None");
		return NULL;
	}
	if ((cfg = config_from_dict(dict)) == NULL)
		return NULL;
	if ((error = udfenv_deps_new(&deps)) < 0 || (error = udfenv_deps_from_config(deps, cfg)) < 0) {
		raise_last();
		goto done;
	}
	ctx.callable = callable;
	if ((base_env = worker_base_env()) == NULL) {
		PyErr_NoMemory();
		goto done;
	}
	opts.env.base_env = base_env;
	opts.cancel = &ctx.cancel;
	opts.progress = on_progress;
	opts.progress_payload = &ctx;

	/*
	 * Python's own handlers only run when the interpreter gets control
	 * back, which it does not while the job runs: catch SIGINT/SIGTERM
	 * ourselves as the job's cancel flag, and hand the signal on to the
	 * previous handler afterwards. Only the main thread may do this.
	 */
	handlers = in_main_thread();
	if (handlers) {
		caught_signal = 0;
		signal_cancel = &ctx.cancel;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_stop_signal;
		sigemptyset(&sa.sa_mask);
		for (int i = 0; i < 2; i++) {
			/* A signal the program ignores (a background job's SIGINT) stays ignored. */
			if (sigaction(stop_signals[i], NULL, &old[i]) == 0 && old[i].sa_handler != SIG_IGN)
				hooked[i] = sigaction(stop_signals[i], &sa, NULL) == 0;
		}
	}
	Py_BEGIN_ALLOW_THREADS
	error = udfenv_job_run(&rep, plan, (size_t)plan_len, deps, cfg, &opts);
	Py_END_ALLOW_THREADS
	if (handlers) {
		for (int i = 0; i < 2; i++)
			if (hooked[i])
				sigaction(stop_signals[i], &old[i], NULL);
		signal_cancel = NULL;
		if (caught_signal)
			raise(caught_signal); /* to Python's handler: KeyboardInterrupt for SIGINT */
	}

	if (ctx.exc_type) {
		PyErr_Restore(ctx.exc_type, ctx.exc_value, ctx.exc_tb);
		goto done;
	}
	if (handlers && caught_signal && PyErr_CheckSignals() < 0)
		goto done;
	if (error < 0) {
		raise_job_error(&rep);
		goto done;
	}
	if (rep.collected)
		collected = PyBytes_FromStringAndSize(rep.collected, (Py_ssize_t)rep.collected_len);
	else
		collected = (Py_INCREF(Py_None), Py_None);
	stats = report_stats(&rep);
	if (collected && stats)
		r = PyTuple_Pack(2, collected, stats);
	Py_XDECREF(collected);
	Py_XDECREF(stats);
done:
	free(base_env);
	udfenv_job_report_dispose(&rep);
	udfenv_deps_free(deps);
	udfenv_config_free(cfg);
	return r;
}

/* --- logging ----------------------------------------------------------- */

static void log_to_stderr(udfenv_log_level level, const char *line, void *payload)
{
	(void)payload;
	fprintf(stderr, "udfenv: %s%s\n", level == UDFENV_LOG_WARN ? "warning: " : "", line);
}

static PyObject *set_verbosity(PyObject *self, PyObject *args)
{
	int n;

	(void)self;
	if (!PyArg_ParseTuple(args, "i:set_verbosity", &n))
		return NULL;
	udfenv_log_set(log_to_stderr, n >= 2 ? UDFENV_LOG_DEBUG : n == 1 ? UDFENV_LOG_INFO : UDFENV_LOG_WARN,
		       NULL);
	Py_RETURN_NONE;
}

static PyObject *version(PyObject *self, PyObject *args)
{
	(void)self;
	(void)args;
	return PyUnicode_FromString(udfenv_version());
}

static PyMethodDef methods[] = {
	{"check_config", check_config, METH_VARARGS, "check_config(key, value): ValueError if refused"},
	{"deps_update", deps_update, METH_VARARGS,
	 "deps_update(config, op, *args) -> the python.* dependency keys after op"},
	{"infer_schema", infer_schema, METH_VARARGS, "infer_schema(format, path, sample) -> [(name, type)]"},
	{"execute", execute, METH_VARARGS, "execute(plan_json, config, progress) -> (collected, stats)"},
	{"set_verbosity", set_verbosity, METH_VARARGS, "set_verbosity(n): library log to stderr"},
	{"version", version, METH_NOARGS, "the library version"},
	{NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
	PyModuleDef_HEAD_INIT, "udfenv._native", "The udfenv C library (docs/protocol.md).", -1, methods,
	NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__native(void);

PyMODINIT_FUNC PyInit__native(void)
{
	PyObject *m = PyModule_Create(&module);

	if (m == NULL)
		return NULL;
	JobError = PyErr_NewException("udfenv._native.JobError", NULL, NULL);
	if (JobError == NULL || PyModule_AddObject(m, "JobError", JobError) < 0) {
		Py_XDECREF(JobError);
		Py_DECREF(m);
		return NULL;
	}
	Py_INCREF(JobError);
	udfenv_log_set(log_to_stderr, UDFENV_LOG_WARN, NULL);
	return m;
}
