"""Building the plan (docs/protocol.md) and its program from Table calls.

The program is private to Python: the client writes it, the executor
forwards it untouched in the P frame, the worker runtime (_worker.py)
compiles it. Format, version 1:

    {"udfenv_program": 1,
     "udfs": [{"module": "m", "name": "f"} | {"script": "job.py", "name": "f"}, ...],
     "steps": [step, ...]}

Steps apply in order to the batch's columns, starting from the source's:

    {"op": "select", "exprs": [node, ...], "output": [[name, type], ...]}
    {"op": "where", "pred": node}                      (keeps the columns)
    {"op": "map", "udf": i, "args": [node, ...] | null, "output": [[name, type], ...]}
    {"op": "flat_map", "udf": i, "args": [node, ...] | null, "output": [[name, type], ...]}

map/flat_map with "args": null give the function one Row of the current
columns. map gives one output row per input row; flat_map any number (the
worker then sends the row index column). With one output column the
function's values are taken as they are (a 1-tuple is unwrapped); with more
each value must be a tuple/list/Row of that length.

Expression nodes (every node but "col" carries its "type"):

    {"col": i}                               the current column i
    {"lit": v, "type": T}                    a literal; DOUBLE non-finite
                                             values as "NaN", "Infinity",
                                             "-Infinity"; T may be "NULL"
    {"call": i, "args": [node, ...], "type": T}
    {"op": OP, "args": [node, ...], "type": T, "text": "a + 1"}
        OP: + - * / % == != < <= > >= and or not neg is_null is_not_null;
        "text" is the expression as written, for error messages

The plan itself is strict JSON (no NaN), UTF-8.
"""

import os

from .expressions import ExpressionError, _Call, _Col, _expr, _resolve_all
from .functions import UserDefinedFunction, _TableCall
from .datatypes import AtomicType, RowType, WIRE_TYPES, to_data_type

PLAN_VERSION = 1
PROGRAM_VERSION = 1
MAX_NAME_BYTES = 255


class UnknownColumnError(ExpressionError, AttributeError):
    """A column name that the table does not have (a ValueError, and an
    AttributeError so that hasattr(table, name) works)."""


def check_name(name, what="column name"):
    if not isinstance(name, str) or not name:
        raise ValueError("a %s must be a non-empty str, not %r" % (what, name))
    try:
        size = len(name.encode("utf-8"))
    except UnicodeError:
        raise ValueError("%s %r is not valid Unicode text" % (what, name))
    if size > MAX_NAME_BYTES:
        raise ValueError("%s %r is longer than %d bytes" % (what, name[:40] + "...", MAX_NAME_BYTES))
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise ValueError("%s %r holds a control character" % (what, name))
    return name


def check_unique(names, what):
    seen, dup = set(), []
    for n in names:
        if n in seen and n not in dup:
            dup.append(n)
        seen.add(n)
    if dup:
        raise ValueError("%s: duplicate column names %s; give distinct names with .alias()"
                         % (what, ", ".join(repr(d) for d in dup)))


def schema_from(schema, what):
    """[(name, wire type), ...] from a list of (name, DataType or type name)
    pairs or a DataTypes.ROW([...])."""
    if isinstance(schema, RowType):
        pairs = [(f.name, f.data_type) for f in schema.fields]
    elif isinstance(schema, (list, tuple)):
        pairs = []
        for item in schema:
            if not isinstance(item, (list, tuple)) or len(item) != 2:
                raise ValueError("%s: schema entries are (name, DataType) pairs, got %r" % (what, item))
            pairs.append((item[0], item[1]))
    else:
        raise ValueError("%s: schema is a list of (name, DataType) pairs or DataTypes.ROW([...]), not %r"
                         % (what, schema))
    if not pairs:
        raise ValueError("%s: the schema has no columns" % what)
    out = []
    for name, t in pairs:
        check_name(name)
        dt = to_data_type(t, "%s: column %r" % (what, name))
        if not isinstance(dt, AtomicType):
            raise ValueError("%s: column %r cannot be a ROW" % (what, name))
        out.append((name, dt.wire))
    check_unique([n for n, _ in out], what)
    return out


class Udfs(object):
    """The plan's UDF table: entries in first-use order, one per function."""

    def __init__(self, entries=()):
        self.entries = list(entries)  # (fn, ref, script_path)

    def copy(self):
        return Udfs(self.entries)

    def index(self, fn, where):
        for i, (f, _, _) in enumerate(self.entries):
            if f is fn:
                return i
        try:
            ref, script = fn._reference()
        except ValueError as e:
            raise ExpressionError("%s: %s" % (where, e))
        self.entries.append((fn, ref, script))
        return len(self.entries) - 1

    def refs(self):
        return [dict(ref) for _, ref, _ in self.entries]

    def scripts(self):
        out = []
        for _, _, s in self.entries:
            if s and s not in out:
                out.append(s)
        return out


class Context(object):
    """What expressions resolve against: the table's columns and the UDF table."""

    def __init__(self, schema, udfs):
        self.schema = schema
        self.udfs = udfs

    def index(self, name):
        for i, (n, _) in enumerate(self.schema):
            if n == name:
                return i
        raise UnknownColumnError("unknown column %r (columns: %s)"
                                 % (name, ", ".join(n for n, _ in self.schema)))

    def udf_index(self, fn, where):
        return self.udfs.index(fn, where)


def _as_expr(e):
    if isinstance(e, str):
        return _Col(e)
    return _expr(e)


def select_step(schema, udfs, exprs):
    """(step, output schema) of select(*exprs); strings are column names."""
    if not exprs:
        raise ValueError("select() needs at least one column or expression")
    ctx = Context(schema, udfs)
    items = []
    for e in exprs:
        if isinstance(e, str) and e.strip() == "*":
            items.extend(_Col(n) for n, _ in schema)
        else:
            items.append(_as_expr(e))
    nodes, out = [], []
    for pos, e in enumerate(items):
        node, t = e._resolve(ctx)
        if t == "NULL":
            raise ExpressionError("%s: give the type of the NULL literal: lit(None, DataTypes.STRING()), ..." % e)
        name = e._name() or "EXPR$%d" % pos
        check_name(name)
        nodes.append(node)
        out.append((name, t))
    check_unique([n for n, _ in out], "select(%s)" % ", ".join(str(e) for e in items))
    return {"op": "select", "exprs": nodes, "output": [list(c) for c in out]}, out


def where_step(schema, udfs, pred):
    ctx = Context(schema, udfs)
    e = _as_expr(pred) if not isinstance(pred, str) else _Col(pred)
    node, t = e._resolve(ctx)
    if t != "BOOLEAN":
        raise ExpressionError("where(%s): the condition is %s, not BOOLEAN" % (e, t))
    return {"op": "where", "pred": node}


def function_step(op, schema, udfs, f):
    """(step, output schema) of map(f) / flat_map(f): f is a UDF (it gets a
    Row of the current columns) or a call of one (it gets those arguments)."""
    table = op == "flat_map"
    want = "table function (@udtf)" if table else "scalar function (@udf)"
    if isinstance(f, UserDefinedFunction):
        fn, args = f, None
    elif table and isinstance(f, _TableCall) or not table and isinstance(f, _Call):
        fn, args = f.fn, f.args
    else:
        raise ValueError("%s() takes a %s, not %r" % (op, want, f))
    if (fn.kind == "table") != table:
        raise ValueError("%s() takes a %s; %s is a %s"
                         % (op, want, fn.name, "table function: use flat_map()" if table is False
                            else "scalar function: use map() or select()"))
    where = "%s(%s)" % (op, f)
    ctx = Context(schema, udfs)
    nodes = None
    if args is not None:
        nodes, types = _resolve_all(args, ctx)
        fn._check_args(types, where)
    elif fn.input_types is not None and len(fn.input_types) != 1:
        raise ExpressionError("%s: %s is given one Row of the columns, but its input_types list %d arguments"
                              % (where, fn.name, len(fn.input_types)))
    out = list(fn.output)
    check_unique([n for n, _ in out], where)
    step = {"op": op, "udf": udfs.index(fn, where), "args": nodes, "output": [list(c) for c in out]}
    return step, out


def build_plan(source, schema, steps, udfs, sink, runtime):
    """The plan dict (docs/protocol.md)."""
    for _, t in schema:
        assert t in WIRE_TYPES, t
    return {
        "udfenv_plan": PLAN_VERSION,
        "source": {"format": source["format"], "path": source["path"],
                   "schema": [list(c) for c in source["schema"]]},
        "output": [list(c) for c in schema],
        "sink": sink,
        "runtime": runtime,
        "program": {"udfenv_program": PROGRAM_VERSION, "udfs": udfs.refs(), "steps": list(steps)},
    }


def runtime_dir():
    """The directory that holds the udfenv package (put first on a worker's sys.path)."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
