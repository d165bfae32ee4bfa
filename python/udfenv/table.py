"""The Table API: TableEnvironment, TableConfig, Table, TableResult.

The C extension (udfenv._native) is imported only by the calls that need
it (config checks, dependency declarations, schema inference, execution),
so that the package also imports in a worker, on any Python 3.6 to 3.13.
"""

import json
import os

from . import plan as _plan
from .expressions import col
from .functions import _in_worker
from .datatypes import Row, row_class, wire_type

DEP_KEYS = ("python.files", "python.requirements", "python.archives", "python.executable",
            "python.client.executable", "python.pythonpath")

SPAWN_RULE = (
    "TableEnvironment.create() was called in a udfenv worker: workers load the job script to find "
    "its UDFs, which runs the script's top level again. Put the job itself under "
    "`if __name__ == \"__main__\":` and keep only imports and UDF definitions at the top level "
    "(the same rule as multiprocessing's spawn start method)")


def _native():
    try:
        from . import _native as native
    except ImportError as e:
        raise ImportError("udfenv's C extension (udfenv._native) is not available here (%s): use the "
                          "package built in build/python (scripts/bootstrap) or run the job with "
                          "`udfenv run`" % e)
    return native


def _fspath(p, what):
    if hasattr(os, "fspath"):
        try:
            p = os.fspath(p)
        except TypeError:
            pass
    if isinstance(p, bytes):
        p = os.fsdecode(p)
    if not isinstance(p, str) or not p:
        raise TypeError("%s must be a path (str or os.PathLike), not %r" % (what, p))
    return p


def _config_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return value
    raise TypeError("config values are str (or int/float/bool, converted), not %r" % (value,))


class JobError(Exception):
    """A job failed. str() is the one-line message, then the detail lines
    (the input row at fault, the worker's traceback) when there are any."""

    def __init__(self, message, detail=None):
        Exception.__init__(self, message)
        self.message = message
        self.detail = detail

    def __str__(self):
        if self.detail:
            return "%s\n%s" % (self.message, self.detail.rstrip("\n"))
        return self.message


JobError.__module__ = "udfenv"  # shown in tracebacks as udfenv.JobError


class TableConfig(object):
    """The job config: str keys to str values, shared with its TableEnvironment.

    Keys read by udfenv: parallelism.default (workers, default 1),
    python.fn-execution.bundle.size (rows per batch, default 4096),
    io.tmp.dirs, and the python.* dependency keys (docs/cli.md)."""

    def __init__(self, entries):
        self._entries = entries

    def set(self, key, value):
        value = _config_value(value)
        if not isinstance(key, str):
            raise TypeError("config keys are str, not %r" % (key,))
        _native().check_config(key, value)
        self._entries[key] = value
        return self

    def get(self, key, default=None):
        return self._entries.get(key, default)

    def to_dict(self):
        return dict(self._entries)

    def set_python_executable(self, python_exec):
        self._update_deps("set_python_executable", _fspath(python_exec, "python_exec"))
        return self

    def get_python_executable(self):
        return self._entries.get("python.executable")

    def _update_deps(self, op, *args):
        # deps_update raises before anything changes here: the update is atomic.
        new = _native().deps_update(dict(self._entries), op, *args)
        _replace_deps(self._entries, new)

    def __repr__(self):
        return "TableConfig(%r)" % (self._entries,)


def _replace_deps(entries, new):
    for k in DEP_KEYS:
        entries.pop(k, None)
    for k, v in new.items():
        entries[k] = v


class TableEnvironment(object):
    """Entry point of a job: declares its dependencies and config, reads sources.

    create() starts from the config `udfenv run` passes (its dependency
    flags and -D keys); what the program declares is merged on top."""

    def __init__(self, entries):
        self._config = TableConfig(entries)

    @staticmethod
    def create(environment_settings=None, config=None):
        if _in_worker():
            raise RuntimeError(SPAWN_RULE)
        entries = {}
        path = os.environ.get("UDFENV_RUN_CONFIG")
        if path:
            try:
                with open(path, "rb") as f:
                    data = json.loads(f.read().decode("utf-8"))
                entries = dict((str(k), str(v)) for k, v in data["config"].items())
            except (OSError, ValueError, KeyError, AttributeError, TypeError) as e:
                raise RuntimeError("cannot read the job config '%s' ($UDFENV_RUN_CONFIG): %s" % (path, e))
        verbose = os.environ.get("UDFENV_VERBOSE")
        if verbose and verbose.strip() not in ("", "0"):
            try:
                n = int(verbose)
            except ValueError:
                raise RuntimeError("$UDFENV_VERBOSE must be a number, not %r" % verbose)
            _native().set_verbosity(n)
        env = TableEnvironment(entries)
        for k, v in (config or {}).items():
            env._config.set(k, v)
        return env

    def get_config(self):
        return self._config

    # --- dependencies (docs/cli.md: order and merging) ---------------------
    def add_python_file(self, file_path):
        """Ship a .py file, a directory, or an archive of modules; it goes in
        front of those declared before (the latest wins an import clash)."""
        self._config._update_deps("add_python_file", _fspath(file_path, "file_path"))

    def set_python_requirements(self, requirements_file_path, requirements_cache_dir=None):
        """Install a requirements file in each worker environment; offline from
        requirements_cache_dir when given. Replaces an earlier one."""
        self._config._update_deps(
            "set_python_requirements", _fspath(requirements_file_path, "requirements_file_path"),
            None if requirements_cache_dir is None else _fspath(requirements_cache_dir, "requirements_cache_dir"))

    def add_python_archive(self, archive_path, target_dir=None):
        """Extract an archive into each worker's working directory under
        target_dir (default: the archive's file name)."""
        self._config._update_deps("add_python_archive", _fspath(archive_path, "archive_path"),
                                  None if target_dir is None else _fspath(target_dir, "target_dir"))

    # --- sources -----------------------------------------------------------
    def from_csv(self, path, schema=None):
        """A table of the CSV file at `path`, or of the part files of the
        directory `path`. The first line names the columns; without a schema
        their types are inferred from the first 1000 rows."""
        return self._source("csv", path, schema)

    def from_json_lines(self, path, schema=None):
        """A table of the JSON Lines file (one object per line) at `path`, or
        of the part files of the directory `path`."""
        return self._source("jsonl", path, schema)

    def _source(self, fmt, path, schema):
        path = os.path.abspath(_fspath(path, "path"))
        if not os.path.exists(path):
            raise FileNotFoundError(2, "no such source file or directory", path)
        what = "%s source '%s'" % ("CSV" if fmt == "csv" else "JSON Lines", path)
        if schema is None:
            inferred = _native().infer_schema(fmt, path, 1000)
            schema = _plan.schema_from([(n, t) for n, t in inferred], what)
        else:
            schema = _plan.schema_from(schema, what)
        return Table(self, {"format": fmt, "path": path, "schema": schema}, schema, (), _plan.Udfs())


class TableSchema(object):
    """The columns of a table: names and data types."""

    def __init__(self, columns):
        self._columns = list(columns)

    def get_field_names(self):
        return [n for n, _ in self._columns]

    def get_field_data_types(self):
        return [wire_type(t) for _, t in self._columns]

    def get_field_count(self):
        return len(self._columns)

    def __iter__(self):
        return iter([(n, wire_type(t)) for n, t in self._columns])

    def __eq__(self, other):
        return isinstance(other, TableSchema) and other._columns == self._columns

    def __ne__(self, other):
        return not self == other

    def __str__(self):
        return "(\n%s\n)" % ",\n".join("  `%s` %s" % (n.replace("`", "``"), t) for n, t in self._columns)

    def __repr__(self):
        return "TableSchema(%r)" % (self._columns,)


class Table(object):
    """A table: a source and the operations applied to it. Immutable: each
    operation returns a new Table. Nothing runs until execute() or a
    write_* call."""

    def __init__(self, env, source, schema, steps, udfs):
        self.__dict__.update(_env=env, _source=source, _schema=list(schema), _steps=tuple(steps), _udfs=udfs)

    # --- columns -----------------------------------------------------------
    def __getattr__(self, name):
        if name.startswith("__") or name in ("_env", "_source", "_schema", "_steps", "_udfs"):
            raise AttributeError(name)
        return self[name]

    def __getitem__(self, name):
        if not isinstance(name, str):
            raise TypeError("index a table with a column name, not %r" % (name,))
        _plan.Context(self._schema, None).index(name)
        return col(name)

    def __setattr__(self, name, value):
        raise AttributeError("Table is immutable")

    @property
    def columns(self):
        return [n for n, _ in self._schema]

    def get_schema(self):
        return TableSchema(self._schema)

    def print_schema(self):
        print(str(self.get_schema()))

    # --- operations ----------------------------------------------------------
    def _then(self, step, schema, udfs):
        return Table(self._env, self._source, schema, self._steps + (step,), udfs)

    def select(self, *exprs):
        """Columns and expressions; a str is a column name ("*": all columns)."""
        udfs = self._udfs.copy()
        step, schema = _plan.select_step(self._schema, udfs, exprs)
        return self._then(step, schema, udfs)

    def where(self, predicate):
        """Keep the rows whose BOOLEAN condition is true (not false, not NULL)."""
        udfs = self._udfs.copy()
        step = _plan.where_step(self._schema, udfs, predicate)
        return self._then(step, self._schema, udfs)

    filter = where

    def map(self, func):
        """Apply a scalar UDF to each row: it gets one Row of the columns (or
        the arguments of func(args...)); a ROW result type gives the columns,
        another type one column f0."""
        udfs = self._udfs.copy()
        step, schema = _plan.function_step("map", self._schema, udfs, func)
        return self._then(step, schema, udfs)

    def flat_map(self, func):
        """Apply a table function (@udtf) to each row: each row it yields is an
        output row (columns from its ROW type, else f0, f1, ...)."""
        udfs = self._udfs.copy()
        step, schema = _plan.function_step("flat_map", self._schema, udfs, func)
        return self._then(step, schema, udfs)

    # --- sinks -------------------------------------------------------------
    def execute(self):
        """Run the job; its rows come back: execute().collect()."""
        return self._run({"type": "collect"})

    def write_csv(self, path, overwrite=False, directory=False):
        """Run the job writing CSV (a header line, then one line per row) to
        `path`, or with directory=True to a new directory of part files, one
        per worker. The output appears complete or not at all."""
        return self._run(self._file_sink("csv", path, overwrite, directory))

    def write_json_lines(self, path, overwrite=False, directory=False):
        """Like write_csv, in JSON Lines (one object per row)."""
        return self._run(self._file_sink("jsonl", path, overwrite, directory))

    def explain(self):
        """The plan this table would run with execute(), as JSON text."""
        return json.dumps(self._plan({"type": "collect"}), indent=2, ensure_ascii=False, allow_nan=False)

    def _file_sink(self, fmt, path, overwrite, directory):
        return {"type": "directory" if directory else "file", "format": fmt,
                "path": os.path.abspath(_fspath(path, "path")), "overwrite": bool(overwrite)}

    def _plan(self, sink):
        return _plan.build_plan(self._source, self._schema, self._steps, self._udfs, sink, _plan.runtime_dir())

    def _run(self, sink):
        native = _native()
        plan_text = json.dumps(self._plan(sink), ensure_ascii=False, allow_nan=False)
        config = dict(self._env._config._entries)
        for script in self._udfs.scripts():
            # The job script defines UDFs: ship it with this job only.
            _replace_deps(config, native.deps_update(dict(config), "add_python_file", script))
        from . import _progress
        progress = _progress.Progress.for_stderr()
        try:
            collected, stats = native.execute(plan_text, config, progress)
        except native.JobError as e:
            if progress:
                progress.abort()
            raise JobError(e.args[0] if e.args else "the job failed", getattr(e, "detail", None)) from None
        except BaseException:
            if progress:
                progress.abort()
            raise
        if progress:
            progress.finish(stats)
        return TableResult(self._schema, stats, collected, sink["type"] == "collect")

    def __repr__(self):
        return "Table(%s)" % ", ".join("%s %s" % c for c in self._schema)


class TableResult(object):
    """The result of a job: its counts, and for execute() its rows."""

    def __init__(self, schema, stats, collected, is_collect):
        self._schema = list(schema)
        self._collected = collected
        self._is_collect = is_collect
        stats = stats or {}
        self.rows_in = stats.get("rows_in", 0)
        self.rows_out = stats.get("rows_out", 0)
        self.seconds = stats.get("seconds", 0.0)
        self.setup_seconds = stats.get("setup_seconds", 0.0)
        self.workers = stats.get("workers", 0)
        report = stats.get("setup_report")
        #: How the environment was prepared: each phase's time (fetch,
        #: extract, install, spawn) and each node-cache entry's outcome (hit,
        #: waited, built); docs/cache.md.
        self.setup_report = json.loads(report) if report else None

    def wait(self, timeout_ms=None):
        """The job has finished when a TableResult exists: a no-op, as in PyFlink."""
        return self

    def get_table_schema(self):
        return TableSchema(self._schema)

    def collect(self):
        """An iterator of the job's Rows in input order; also a context manager."""
        if not self._is_collect:
            raise ValueError("this job wrote its rows to a file; collect() is for Table.execute()")
        return CloseableIterator(self._collected or b"", self._schema)

    def print(self):
        """Print the rows as a table (PyFlink's tableau form)."""
        names = [n for n, _ in self._schema]
        with self.collect() as rows:
            cells = [[_cell(v) for v in r] for r in rows]
        widths = [max([len(n)] + [len(c[i]) for c in cells]) for i, n in enumerate(names)]
        line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
        print(line)
        print("|" + "|".join(" %s " % n.rjust(w) for n, w in zip(names, widths)) + "|")
        print(line)
        for c in cells:
            print("|" + "|".join(" %s " % v.rjust(w) for v, w in zip(c, widths)) + "|")
        if cells:
            print(line)
        print("%d row%s in set" % (len(cells), "" if len(cells) == 1 else "s"))

    def __repr__(self):
        return "TableResult(rows_in=%d, rows_out=%d, seconds=%.3f)" % (self.rows_in, self.rows_out, self.seconds)


def _lines(data):
    start, n = 0, len(data)
    while start < n:
        end = data.find(b"\n", start)
        if end < 0:
            end = n
        yield data[start:end]
        start = end + 1


def _cell(v):
    if v is None:
        return "<NULL>"
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    return str(v)


class CloseableIterator(object):
    """Rows of a collected result, decoded as they are read."""

    def __init__(self, data, schema):
        self._lines = _lines(data)
        self._names = [n for n, _ in schema]
        self._double = [i for i, (_, t) in enumerate(schema) if t == "DOUBLE"]
        self._cls = row_class(self._names)

    def __iter__(self):
        return self

    def __next__(self):
        while True:
            line = next(self._lines)
            if line.strip():
                break
        # The executor writes JSON Lines: an object per row. A decoder accepts an
        # integer for a DOUBLE (docs/protocol.md).
        v = json.loads(line.decode("utf-8"))
        values = [v.get(n) for n in self._names]
        for i in self._double:
            if type(values[i]) is int:
                values[i] = float(values[i])
        return self._cls(values)

    next = __next__

    def close(self):
        self._lines = iter(())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


__all__ = ["TableEnvironment", "TableConfig", "Table", "TableResult", "TableSchema", "JobError", "Row"]
