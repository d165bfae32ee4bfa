"""User-defined functions: @udf (scalar) and @udtf (table functions).

A UDF is never pickled. A job names it by module and attribute, and each
worker imports it: the function must be defined with `def` at the top
level of a module the workers can import (shipped with add_python_file /
-pyfs), or of the job script itself, which udfenv ships and loads in each
worker without running its `if __name__ == "__main__":` block (the
"spawn" rule of multiprocessing). See docs/jobs.md.

This module runs in the client and in every worker (Python 3.6 to 3.13).
"""

import functools
import os
import sys

from .expressions import Expression, ExpressionError, _Call, _FnCall
from .datatypes import AtomicType, RowType, to_data_type

SCRIPT_MODULE = "__udfenv_main__"  # the job script's module name in a worker


def _in_worker():
    w = sys.modules.get("udfenv._worker")
    return bool(w is not None and getattr(w, "RUNNING", False))


def _result_columns(result_type):
    """[(name, wire type)] of a function's result: a ROW's fields, else one column f0."""
    if isinstance(result_type, RowType):
        return [(f.name, f.data_type.wire) for f in result_type.fields]
    return [("f0", result_type.wire)]


class UserDefinedFunction(object):
    """What @udf and @udtf return.

    Called with at least one expression among its arguments it builds a call
    expression for Table.select / where / map / flat_map. Called with plain
    values only (or inside a worker) it just runs the function, so one UDF
    may call another and tests may call it directly. `.func` is the function.
    """

    _udfenv_udf = True  # what the worker runtime looks for on a module attribute

    def __init__(self, func, kind, result_type, result_types, input_types, name):
        if isinstance(func, UserDefinedFunction):
            raise ValueError("%s is already a UDF" % func.name)
        if not callable(func):
            raise TypeError("udf/udtf takes a function, not %r" % (func,))
        self.func = func
        self.kind = kind
        self.name = name or getattr(func, "__name__", None) or repr(func)
        try:
            functools.update_wrapper(self, func)
        except AttributeError:
            pass
        if kind == "scalar":
            if result_type is None:
                raise ValueError("udf %s: give result_type=, e.g. @udf(result_type=DataTypes.BIGINT())" % self.name)
            self.result_type = to_data_type(result_type, "udf %s: result_type" % self.name)
            self.output = _result_columns(self.result_type)
        else:
            if (result_type is None) == (result_types is None):
                raise ValueError("udtf %s: give result_types=[...] (or result_type=DataTypes.ROW([...]))" % self.name)
            if result_types is not None:
                if isinstance(result_types, (list, tuple)):
                    types = [to_data_type(t, "udtf %s: result_types" % self.name) for t in result_types]
                else:
                    types = [to_data_type(result_types, "udtf %s: result_types" % self.name)]
                if not types:
                    raise ValueError("udtf %s: result_types is empty" % self.name)
                if len(types) == 1 and isinstance(types[0], RowType):
                    result_type = types[0]
                else:
                    for t in types:
                        if not isinstance(t, AtomicType):
                            raise ValueError("udtf %s: result_types are column types, not %r" % (self.name, t))
                    self.output = [("f%d" % i, t.wire) for i, t in enumerate(types)]
                    self.result_type = None
            if result_type is not None:
                self.result_type = to_data_type(result_type, "udtf %s: result_type" % self.name)
                self.output = _result_columns(self.result_type)
        if input_types is not None:
            if not isinstance(input_types, (list, tuple)):
                input_types = [input_types]
            input_types = [to_data_type(t, "%s: input_types" % self.name) for t in input_types]
            for t in input_types:
                if not isinstance(t, AtomicType):
                    raise ValueError("%s: input_types are column types, not %r" % (self.name, t))
        self.input_types = input_types

    def __call__(self, *args):
        if _in_worker() or (args and not any(isinstance(a, Expression) for a in args)):
            return self.func(*args)
        if self.kind == "table":
            return _TableCall(self, args)
        return _Call(self, args)

    def __repr__(self):
        return "<%s %s>" % ("udtf" if self.kind == "table" else "udf", self.name)

    def _check_args(self, types, where):
        if self.input_types is None:
            return
        if len(types) != len(self.input_types):
            raise ExpressionError("%s: %s takes %d arguments (input_types), got %d"
                                  % (where, self.name, len(self.input_types), len(types)))
        for i, (got, want) in enumerate(zip(types, self.input_types)):
            if got != want.wire and got != "NULL" and not (got == "BIGINT" and want.wire == "DOUBLE"):
                raise ExpressionError("%s: argument %d of %s is %s, but its input_types say %s"
                                      % (where, i + 1, self.name, got, want.wire))

    def _reference(self):
        """How a worker finds this function: (ref, script_path). ref is
        {"module": M, "name": N} or {"script": FILE, "name": N}; script_path
        is the job script to ship for the latter. ValueError when workers
        could not import it."""
        func = self.func
        fname = getattr(func, "__name__", None)
        mod = getattr(func, "__module__", None)
        qual = getattr(func, "__qualname__", fname)
        how = ("define it with def at the top level of a module (or of the job script): "
               "workers import UDFs by module and name, they are never pickled")
        if not fname or fname == "<lambda>":
            raise ValueError("UDF %s is a lambda: %s" % (self.name, how))
        if qual != fname or "<locals>" in (qual or ""):
            raise ValueError("UDF %s is not at the top level of its module (it is %s): %s" % (self.name, qual, how))
        m = sys.modules.get(mod) if mod else None
        attr = getattr(m, fname, None) if m is not None else None
        if attr is not self and attr is not func:
            raise ValueError("UDF %s: module %s has no top-level attribute %r that is this function: %s"
                             % (self.name, mod, fname, how))
        if mod != "__main__":
            return {"module": mod, "name": fname}, None
        spec = getattr(m, "__spec__", None)
        if spec is not None and getattr(spec, "name", None):
            # python -m pkg.job: workers import pkg.job (the user ships it).
            return {"module": spec.name, "name": fname}, None
        path = getattr(m, "__file__", None)
        if path:
            path = os.path.abspath(path)
            return {"script": os.path.basename(path), "name": fname}, path
        raise ValueError("UDF %s is defined in an interactive session or `python -c`, which workers cannot "
                         "import: put it in a module (shipped with add_python_file) or in a job script file"
                         % self.name)


class _TableCall(_FnCall):
    """tf(args...) of a table function: only Table.flat_map takes it."""

    def _resolve(self, ctx):
        raise ExpressionError("%s: %s is a table function: give it to Table.flat_map()" % (self, self.fn.name))


def udf(f=None, input_types=None, result_type=None, deterministic=None, name=None, func_type="general",
        udf_type=None):
    """A scalar function: @udf(result_type=DataTypes.BIGINT()) on a top-level
    def, or udf(f, result_type=...). result_type may be a ROW for Table.map.
    input_types, when given, is checked against the argument types; the
    other PyFlink arguments are accepted and ignored."""
    if f is None:
        return functools.partial(udf, input_types=input_types, result_type=result_type, name=name)
    return UserDefinedFunction(f, "scalar", result_type, None, input_types, name)


def udtf(f=None, input_types=None, result_types=None, result_type=None, deterministic=None, name=None):
    """A table function for Table.flat_map: @udtf(result_types=[...]) (columns
    f0, f1, ...) or @udtf(result_type=DataTypes.ROW([...])) (named columns)
    on a top-level def that yields (or returns an iterable of) tuples/Rows,
    or plain values when there is one result column."""
    if f is None:
        return functools.partial(udtf, input_types=input_types, result_types=result_types,
                                 result_type=result_type, name=name)
    return UserDefinedFunction(f, "table", result_type, result_types, input_types, name)
