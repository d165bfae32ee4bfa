"""The udfenv worker runtime: runs inside each worker's interpreter (any
Python 3.6 to 3.13, standard library only) and applies a job's UDFs to the
batches the executor sends. The protocol is docs/protocol.md; the program
format is described in plan.py.

The executor starts it as

    python -c "import sys; sys.path[0] = sys.argv[1]; import udfenv._worker as w; w.main()" RUNTIME

Evaluation is columnar: a batch is a list of columns, a UDF call is
out.extend(map(f, *argument_columns)), a column reference passes its list
through, where() is itertools.compress. Output row i comes from input row
i unless a step dropped or multiplied rows; then an index column says
which input row each output row came from.
"""

import importlib
import itertools
import json
import math
import numbers
import operator
import os
import struct
import sys
import traceback

from .functions import SCRIPT_MODULE
from .datatypes import BIGINT_MAX, BIGINT_MIN, row_class

RUNNING = False  # True once main() runs: TableEnvironment.create() refuses to run in a worker
PROTOCOL = 1
PROGRAM_VERSION = 1
MAX_FRAME = 1 << 30

_compress = itertools.compress
_repeat = itertools.repeat
_starmap = itertools.starmap
_NoneType = type(None)


class Fail(Exception):
    """Ends the worker with an E frame."""

    def __init__(self, kind, message, tb=None, row=None):
        Exception.__init__(self, message)
        self.kind = kind
        self.message = message
        self.tb = tb
        self.row = row


class ProtocolError(Exception):
    pass


def _one_line(s, limit=2000):
    s = " ".join(str(s).split())
    return s if len(s) <= limit else s[:limit] + "..."


def _short_repr(v, limit=200):
    try:
        r = repr(v)
    except Exception:
        r = "<%s object>" % type(v).__name__
    return r if len(r) <= limit else r[:limit] + "..."


def _exc_line(e):
    text = _one_line(e)
    return "%s: %s" % (type(e).__name__, text) if text else type(e).__name__


def _is_runtime_frame(filename):
    return (filename == _THIS_FILE or filename.startswith("<frozen importlib")
            or filename == getattr(importlib, "__file__", None))


def _traceback(e):
    """e's traceback without the leading frames of the runtime and of importlib."""
    tb = e.__traceback__
    while tb is not None and _is_runtime_frame(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(e), e, tb))


# --- values -----------------------------------------------------------------

_ALLOWED = {
    "BIGINT": frozenset([int, _NoneType]),
    "DOUBLE": frozenset([float, int, _NoneType]),
    "STRING": frozenset([str, _NoneType]),
    "BOOLEAN": frozenset([bool, _NoneType]),
}
_PYTHON_NAMES = {"BIGINT": "int", "DOUBLE": "float", "STRING": "str", "BOOLEAN": "bool"}


def _is_bool(v):
    # bool, or numpy's bool_ (not a bool subclass, and not a number for us)
    return isinstance(v, bool) or type(v).__name__ in ("bool_", "bool") and type(v).__module__ == "numpy"


def _to_bigint(v):
    if isinstance(v, numbers.Integral) and not _is_bool(v):
        return int(v)
    return _BAD


def _to_double(v):
    if isinstance(v, numbers.Real) and not _is_bool(v):
        try:
            return float(v)
        except OverflowError:
            return _BAD
    return _BAD


def _to_string(v):
    return str.__str__(v) if isinstance(v, str) else _BAD


def _to_boolean(v):
    return bool(v) if _is_bool(v) else _BAD


_BAD = object()
_CONVERT = {"BIGINT": _to_bigint, "DOUBLE": _to_double, "STRING": _to_string, "BOOLEAN": _to_boolean}


def _type_error(what, wire, v, row):
    return Fail("type", "%s must be %s (%s) or None, got %s %s"
                % (what, wire, _PYTHON_NAMES[wire], type(v).__name__, _short_repr(v)), row=row)


def _out_of_range(col, has_none):
    """(j, v): the first value of col outside the BIGINT range (Nones
    skipped), or None. One min/max pass when every value fits."""
    vals = [v for v in col if v is not None] if has_none else col
    if not vals or (min(vals) >= BIGINT_MIN and max(vals) <= BIGINT_MAX):
        return None
    for j, v in enumerate(col):
        if v is not None and not BIGINT_MIN <= v <= BIGINT_MAX:
            return j, v


def _check_column(col, wire, what, rowmap):
    """col if its values fit `wire`, else Fail "type" naming `what` and the
    first value at fault; rowmap(j) is the batch input row of value j.

    The common case costs one pass (set(map(type, col))), plus min/max for
    BIGINT. Only when a value is not of the exact type, values that are
    integers / reals / strings of another class (an int subclass, numpy
    scalars, ...) are converted; DOUBLE ints become floats."""
    allowed = _ALLOWED[wire]
    types = set(map(type, col))
    if not types <= allowed:
        conv, out = _CONVERT[wire], []
        for j, v in enumerate(col):
            if type(v) not in allowed:
                c = conv(v)
                if c is _BAD:
                    raise _type_error(what, wire, v, rowmap(j))
                v = c
            out.append(v)
        col = out
        types = set(map(type, col))
    if wire == "BIGINT" and int in types:
        bad = _out_of_range(col, _NoneType in types)
        if bad is not None:
            raise Fail("type", "%s must be %s (%s) or None, got %s, out of the 64-bit range"
                       % (what, wire, _PYTHON_NAMES[wire], bad[1]), row=rowmap(bad[0]))
    elif wire == "DOUBLE" and int in types:
        try:
            col = [float(v) if type(v) is int else v for v in col]
        except OverflowError:
            for j, v in enumerate(col):
                if type(v) is int and abs(v) > 1e308:
                    raise Fail("type", "%s must be %s (%s) or None, got %s, too large for a DOUBLE"
                               % (what, wire, _PYTHON_NAMES[wire], v), row=rowmap(j))
            raise
    return col


def _to_columns(out, output, what, rowmap):
    """The result values of a map/flat_map function as columns of `output`."""
    k = len(output)
    seq = (tuple, list)
    types = set(map(type, out))
    if k == 1:
        if any(issubclass(t, seq) for t in types):
            vals = []
            for j, v in enumerate(out):
                if isinstance(v, seq):
                    if len(v) != 1:
                        raise Fail("type", "%s returned %d values (%s); it has 1 result column"
                                   % (what, len(v), _short_repr(v)), row=rowmap(j))
                    v = v[0]
                vals.append(v)
            out = vals
        cols = [out]
    else:
        if not all(issubclass(t, seq) for t in types):
            for j, v in enumerate(out):
                if not isinstance(v, seq):
                    raise Fail("type", "%s must return a Row or tuple of %d values, got %s %s"
                               % (what, k, type(v).__name__, _short_repr(v)), row=rowmap(j))
        if set(map(len, out)) - set([k]):
            for j, v in enumerate(out):
                if len(v) != k:
                    raise Fail("type", "%s must return a Row or tuple of %d values, got %d: %s"
                               % (what, k, len(v), _short_repr(v)), row=rowmap(j))
        cols = [list(c) for c in zip(*out)] if out else [[] for _ in range(k)]
    return [_check_column(c, t, "%s (result column %r)" % (what, n) if k > 1 else what, rowmap)
            for c, (n, t) in zip(cols, output)]


# --- expressions --------------------------------------------------------------

class Const(object):
    """A value that is the same in every row (a literal, or an expression of literals)."""

    __slots__ = ("v",)

    def __init__(self, v):
        self.v = v


class Batch(object):
    __slots__ = ("cols", "n", "idx", "seq")

    def input_row(self, j):
        return self.idx[j] if self.idx is not None else j


def _iters(vals, n):
    """Arguments for map(): lists as they are, constants repeated."""
    if all(type(v) is Const for v in vals):
        return [_repeat(v.v, n) for v in vals]
    return [_repeat(v.v) if type(v) is Const else v for v in vals]


def _materialize(v, n):
    return [v.v] * n if type(v) is Const else v


def _nullsafe(fn):
    def g(a, b):
        if a is None or b is None:
            return None
        return fn(a, b)
    return g


def _div(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def _mod_int(a, b):
    if a is None or b is None or b == 0:
        return None
    r = abs(a) % abs(b)
    return -r if a < 0 else r


def _mod_float(a, b):
    if a is None or b is None or b == 0:
        return None
    try:
        return math.fmod(a, b)
    except ValueError:  # fmod(inf, b): IEEE says NaN
        return float("nan")


def _and(a, b):
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def _or(a, b):
    if a is True or b is True:
        return True
    if a is None or b is None:
        return None
    return False


def _not(a):
    return None if a is None else not a


def _neg(a):
    return None if a is None else -a


_BINARY = {
    "+": operator.add, "-": operator.sub, "*": operator.mul,
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge, "and": operator.and_, "or": operator.or_,
}
_NULL_AWARE = {"and": _and, "or": _or}


def _has_none(v):
    return v.v is None if type(v) is Const else None in v


def _overflow(text, v, row=None):
    return Fail("type", "BIGINT overflow in %s: %s is out of the 64-bit range" % (text, v), row=row)


def _udf_raised(label, e, row):
    return Fail("udf", "UDF %r raised %s" % (label, _exc_line(e)), _traceback(e), row)


def _apply(f, label, iters, st):
    """f called on each row of the argument iterators `iters` (with none:
    st.n times, without arguments), as a list; what f raises is Fail "udf"
    at its row."""
    out = []
    try:
        if iters:
            out.extend(map(f, *iters))
        else:
            out.extend(_starmap(f, _repeat((), st.n)))
    except BaseException as e:
        raise _udf_raised(label, e, st.input_row(len(out)))
    return out


class Compiler(object):
    def __init__(self, udfs):
        self.udfs = udfs  # [(callable, label)]

    def expr(self, node):
        if not isinstance(node, dict):
            raise Fail("program", "malformed expression node %s" % _short_repr(node))
        if "col" in node:
            i = node["col"]
            return lambda st: st.cols[i]
        if "lit" in node:
            v, t = node["lit"], node.get("type")
            if t == "DOUBLE" and v is not None:
                v = float(v)
            c = Const(v)
            return lambda st: c
        if "call" in node:
            return self.call(node)
        if "op" in node:
            return self.op(node)
        raise Fail("program", "malformed expression node %s" % _short_repr(node))

    def call(self, node):
        f, label = self.udfs[node["call"]]
        args = [self.expr(a) for a in node["args"]]
        wire = node["type"]
        what = "UDF %r" % label

        def ev(st):
            out = _apply(f, label, _iters([a(st) for a in args], st.n), st)
            return _check_column(out, wire, what, st.input_row)
        return ev

    def op(self, node):
        op, wire = node["op"], node["type"]
        args = [self.expr(a) for a in node["args"]]
        text = node.get("text") or op
        if op in ("is_null", "is_not_null"):
            a, = args
            test = operator.is_ if op == "is_null" else operator.is_not

            def ev(st):
                v = a(st)
                if type(v) is Const:
                    return Const(test(v.v, None))
                return list(map(test, v, _repeat(None)))
            return ev
        if op in ("not", "neg"):
            a, = args
            fn = _not if op == "not" else _neg
            fast = operator.not_ if op == "not" else operator.neg

            def ev(st):
                v = a(st)
                if type(v) is Const:
                    return Const(fn(v.v))
                out = list(map(fast, v)) if None not in v else list(map(fn, v))
                return self._range(out, wire, text, st) if op == "neg" else out
            return ev
        a, b = args
        if op == "/":
            fast, safe = operator.truediv, _div
        elif op == "%":
            fast = safe = _mod_float if wire == "DOUBLE" else _mod_int
        else:
            fast = _BINARY[op]
            safe = _NULL_AWARE.get(op) or _nullsafe(fast)
        check = op in ("+", "-", "*", "%") and wire == "BIGINT"
        to_float = op == "/"

        def ev(st):
            x, y = a(st), b(st)
            if type(x) is Const and type(y) is Const:
                r = safe(x.v, y.v)
                if to_float and r is not None:
                    r = float(r)
                if check and r is not None and not BIGINT_MIN <= r <= BIGINT_MAX:
                    raise _overflow(text, r)
                return Const(r)
            use = safe if _has_none(x) or _has_none(y) or (op == "/" and _zero(y)) else fast
            out = list(map(use, *_iters([x, y], st.n)))
            return self._range(out, wire, text, st) if check else out
        return ev

    @staticmethod
    def _range(out, wire, text, st):
        if wire != "BIGINT" or not out:
            return out
        bad = _out_of_range(out, None in out)
        if bad is not None:
            raise _overflow(text, bad[1], st.input_row(bad[0]))
        return out


def _zero(v):
    if type(v) is Const:
        return v.v == 0
    return 0 in v


# --- steps ------------------------------------------------------------------

def _schema(pairs, what):
    if not isinstance(pairs, list) or not all(isinstance(p, list) and len(p) == 2 for p in pairs):
        raise Fail("program", "%s is not a list of [name, type] pairs" % what)
    for n, t in pairs:
        if t not in _ALLOWED:
            raise Fail("program", "%s: unknown type %s" % (what, _short_repr(t)))
    return [(n, t) for n, t in pairs]


class Program(object):
    """A compiled program: run(batch) applies every step."""

    def __init__(self, program, input_schema, output_schema, udfs):
        if not isinstance(program, dict) or program.get("udfenv_program") != PROGRAM_VERSION:
            raise Fail("program", "the program is not a udfenv program version %d (client and worker "
                                  "runtime differ?)" % PROGRAM_VERSION)
        comp = Compiler(udfs)
        schema = input_schema
        self.steps = []
        for i, step in enumerate(program.get("steps", [])):
            try:
                op = step["op"]
                if op == "select":
                    fn = self._select([comp.expr(e) for e in step["exprs"]])
                    schema = _schema(step["output"], "step %d output" % i)
                elif op == "where":
                    fn = self._where(comp.expr(step["pred"]))
                elif op in ("map", "flat_map"):
                    f, label = udfs[step["udf"]]
                    args = None if step.get("args") is None else [comp.expr(e) for e in step["args"]]
                    out = _schema(step["output"], "step %d output" % i)
                    make = self._map if op == "map" else self._flat_map
                    fn = make(f, label, args, [n for n, _ in schema], out)
                    schema = out
                else:
                    raise Fail("program", "step %d: unknown op %s" % (i, _short_repr(op)))
            except (KeyError, TypeError, IndexError, ValueError) as e:
                raise Fail("program", "step %d is malformed: %s" % (i, _exc_line(e)))
            self.steps.append(fn)
        if schema != output_schema:
            raise Fail("program", "the program's output %s is not the plan's output %s" % (schema, output_schema))

    def run(self, cols, seq):
        st = Batch()
        st.seq = seq
        st.cols = cols
        st.n = len(cols[0]) if cols else 0
        st.idx = None
        # DOUBLE inputs need no int -> float pass: the executor writes every
        # DOUBLE with a "." or an exponent (rows__fmt_double), so json reads floats.
        for step in self.steps:
            step(st)
        return st

    @staticmethod
    def _select(exprs):
        def step(st):
            st.cols = [_materialize(e(st), st.n) for e in exprs]
        return step

    @staticmethod
    def _where(pred):
        def step(st):
            mask = pred(st)
            if type(mask) is Const:
                if mask.v is True:
                    return
                keep = []
            else:
                keep = list(_compress(range(st.n), mask))
                if len(keep) == st.n:
                    return
                st.cols = [list(_compress(c, mask)) for c in st.cols]
            if not keep:
                st.cols = [[] for _ in st.cols]
            st.idx = keep if st.idx is None else [st.idx[j] for j in keep]
            st.n = len(keep)
        return step

    @staticmethod
    def _map(f, label, args, names, output):
        cls = row_class(names)
        what = "map function %r" % label

        def step(st):
            if args is None:
                iters = [map(cls, zip(*st.cols))]
            else:
                iters = _iters([a(st) for a in args], st.n)
            out = _apply(f, label, iters, st)
            st.cols = _to_columns(out, output, what, st.input_row)
        return step

    @staticmethod
    def _flat_map(f, label, args, names, output):
        cls = row_class(names)
        what = "table function %r" % label

        def step(st):
            if args is None:
                rows = map(cls, zip(*st.cols))
                call = f
            else:
                vals = [a(st) for a in args]
                rows = zip(*_iters(vals, st.n)) if vals else _repeat((), st.n)
                call = lambda r: f(*r)
            out, oidx = [], []
            i = -1
            try:
                for i, r in enumerate(rows):
                    res = call(r)
                    if res is None:
                        continue
                    try:
                        it = iter(res)
                    except TypeError:
                        raise Fail("type", "%s must yield rows or return an iterable of rows, got %s %s"
                                   % (what, type(res).__name__, _short_repr(res)), row=st.input_row(i))
                    before = len(out)
                    out.extend(it)
                    oidx.extend(_repeat(i, len(out) - before))
            except Fail:
                raise
            except BaseException as e:
                raise _udf_raised(label, e, st.input_row(i))
            old = st.input_row
            st.cols = _to_columns(out, output, what, lambda j: old(oidx[j]))
            st.idx = oidx if st.idx is None else [st.idx[j] for j in oidx]
            st.n = len(out)
        return step


# --- loading UDFs ---------------------------------------------------------------

_SHIP = "ship it with add_python_file() or -pyfs"


def _load_script(script):
    mod = sys.modules.get(SCRIPT_MODULE)
    if mod is not None and os.path.basename(getattr(mod, "__file__", "")) == script:
        return mod
    for d in sys.path:
        path = os.path.join(d or os.curdir, script)
        if os.path.isfile(path):
            break
    else:
        raise Fail("import", "the job script %r is not on the worker's sys.path" % script)
    import importlib.machinery
    import importlib.util
    loader = importlib.machinery.SourceFileLoader(SCRIPT_MODULE, path)
    spec = importlib.util.spec_from_file_location(SCRIPT_MODULE, path, loader=loader)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[SCRIPT_MODULE] = mod
    try:
        loader.exec_module(mod)
    except BaseException:
        del sys.modules[SCRIPT_MODULE]
        raise
    return mod


def load_udf(ref):
    """(callable, label) of a program's UDF reference."""
    if not isinstance(ref, dict) or not isinstance(ref.get("name"), str):
        raise Fail("program", "malformed UDF reference %s" % _short_repr(ref))
    name = ref["name"]
    if "script" in ref:
        where = "the job script %r" % ref["script"]
        try:
            mod = _load_script(ref["script"])
        except Fail:
            raise
        except BaseException as e:
            raise Fail("import", "UDF %r: %s failed to load: %s" % (name, where, _exc_line(e)), _traceback(e))
        hint = ("; define UDFs at the top level of the script, not inside its "
                "`if __name__ == \"__main__\":` block")
    else:
        where = "module %r" % ref.get("module")
        try:
            mod = importlib.import_module(ref["module"])
        except BaseException as e:
            missing = isinstance(e, ImportError) and e.name is not None and \
                (ref["module"] == e.name or ref["module"].startswith(e.name + "."))
            # The module itself is missing: its traceback is importlib's alone.
            raise Fail("import", "UDF %r: cannot import %s: %s; %s"
                       % (name, where, _exc_line(e), _SHIP), None if missing else _traceback(e))
        hint = " (is the worker importing another module of that name? %s)" % _SHIP
    try:
        obj = getattr(mod, name)
    except AttributeError:
        raise Fail("import", "UDF %r: %s has no attribute %r%s" % (name, where, name, hint))
    f = obj.func if getattr(obj, "_udfenv_udf", False) is True else obj
    if not callable(f):
        raise Fail("import", "UDF %r: %s.%s is not a function but %s" % (name, where, name, type(f).__name__))
    return f, name


# --- the protocol -----------------------------------------------------------------

class Channel(object):
    def __init__(self, rfd, wfd):
        self.r = os.fdopen(rfd, "rb", 1 << 16)
        self.w = os.fdopen(wfd, "wb", 1 << 16)

    def read(self):
        """(type, payload bytes) of the next frame; (None, None) at EOF; type
        b"B" payloads are (seq, JSON bytes)."""
        head = self.r.read(5)
        if not head:
            return None, None
        if len(head) < 5:
            raise ProtocolError("the input ended inside a frame header")
        length, kind = struct.unpack(">IB", head)
        if length < 1 or length > MAX_FRAME:
            raise ProtocolError("frame length %d is out of range" % length)
        kind = chr(kind)
        if kind == "B":
            if length < 9:
                raise ProtocolError("a B frame of %d bytes has no sequence number" % length)
            seq = self.r.read(8)
            body = self.r.read(length - 9)
            if len(seq) < 8 or len(body) < length - 9:
                raise ProtocolError("the input ended inside a frame")
            return kind, (struct.unpack(">Q", seq)[0], body)
        body = self.r.read(length - 1)
        if len(body) < length - 1:
            raise ProtocolError("the input ended inside a frame")
        return kind, body

    def send(self, kind, body, prefix=b""):
        self.w.write(struct.pack(">IB", 1 + len(prefix) + len(body), ord(kind)))
        if prefix:
            self.w.write(prefix)
        self.w.write(body)
        self.w.flush()


def _dumps(v):
    return json.dumps(v, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode


def _encode_result(cols, names):
    try:
        return _encode(cols).encode("utf-8")
    except UnicodeEncodeError:
        pass
    for c, name in zip(cols, names):
        for j, v in enumerate(c):
            if type(v) is str:
                try:
                    v.encode("utf-8")
                except UnicodeEncodeError:
                    return Fail("type", "column %r holds a string that is not valid Unicode (a lone "
                                        "surrogate): %s" % (name, _short_repr(v)), row=j)
    raise Fail("internal", "the result cannot be encoded as UTF-8")


def _take_protocol_fds():
    """Move the protocol to private fds; fd 1 becomes stderr, fd 0 /dev/null."""
    rfd = os.dup(0)
    wfd = os.dup(1)
    os.dup2(2, 1)
    null = os.open(os.devnull, os.O_RDONLY)
    if null != 0:
        os.dup2(null, 0)
        os.close(null)
    try:
        sys.stdout.reconfigure(line_buffering=True)
    except AttributeError:  # Python 3.6
        pass
    return rfd, wfd


def _hello():
    return {"protocol": PROTOCOL, "python": "%d.%d.%d" % sys.version_info[:3], "executable": sys.executable}


def _error_payload(f, seq):
    return _dumps({"kind": f.kind, "message": _one_line(f.message), "traceback": f.tb,
                   "seq": seq, "row": f.row})


def serve(chan):
    """Speak the protocol on chan until EOF (return 0) or an error (E sent, return 1)."""
    seq = None
    try:
        kind, body = chan.read()
        if kind is None:
            return 0
        if kind != "P":
            raise ProtocolError("the first frame is %r, not P" % kind)
        try:
            p = json.loads(body.decode("utf-8"))
            if p.get("protocol") != PROTOCOL:
                raise Fail("program", "protocol %s is not %d" % (p.get("protocol"), PROTOCOL))
            input_schema = _schema(p["input"], "the plan's input")
            output_schema = _schema(p["output"], "the plan's output")
            program = p["program"]
            refs = program["udfs"] if isinstance(program, dict) else None
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise Fail("program", "malformed P frame: %s" % _exc_line(e))
        if not isinstance(refs, list):
            raise Fail("program", "the program has no UDF list")
        udfs = [load_udf(r) for r in refs]
        prog = Program(program, input_schema, output_schema, udfs)
        ninput = len(input_schema)
        names = [n for n, _ in output_schema]
        chan.send("H", _dumps(_hello()))
        while True:
            kind, body = chan.read()
            if kind is None:
                return 0
            if kind != "B":
                raise ProtocolError("unexpected %r frame" % kind)
            seq, data = body
            try:
                cols = json.loads(data)
            except ValueError as e:
                raise ProtocolError("batch %d is not JSON: %s" % (seq, e))
            if type(cols) is not list or len(cols) != ninput or not all(type(c) is list for c in cols) \
                    or len(set(map(len, cols))) > 1:
                raise ProtocolError("batch %d is not a list of %d columns of one length" % (seq, ninput))
            st = prog.run(cols, seq)
            out = st.cols
            if st.idx is not None:
                out = [st.idx] + out
                names_sent = ["(row index)"] + names
            else:
                names_sent = names
            enc = _encode_result(out, names_sent)
            if isinstance(enc, Fail):
                enc.row = st.input_row(enc.row)
                raise enc
            if len(enc) + 10 > MAX_FRAME:
                raise Fail("type", "the result of batch %d is %d bytes, over the protocol's 1 GiB frame limit: "
                                   "lower python.fn-execution.bundle.size" % (seq, len(enc)))
            chan.send("R", enc, struct.pack(">QB", seq, 1 if st.idx is not None else 0))
    except Fail as f:
        chan.send("E", _error_payload(f, seq if f.kind not in ("import", "program") else None))
        return 1
    except ProtocolError as e:
        f = Fail("internal", "worker runtime: protocol error: %s" % e)
        chan.send("E", _error_payload(f, None))
        return 1
    except (BrokenPipeError, ConnectionResetError):
        raise
    except Exception as e:
        f = Fail("internal", "worker runtime: %s" % _exc_line(e), "".join(traceback.format_exc()))
        chan.send("E", _error_payload(f, seq))
        return 1


def main():
    """The worker's entry point: never returns; exits 0 at the end of input."""
    global RUNNING
    RUNNING = True
    rfd, wfd = _take_protocol_fds()
    chan = Channel(rfd, wfd)
    try:
        status = serve(chan)
    except (BrokenPipeError, ConnectionResetError):
        sys.stderr.write("udfenv worker: the executor closed the protocol pipe\n")
        status = 1
    try:
        chan.w.close()
    except OSError:
        pass
    sys.exit(status)


_THIS_FILE = main.__code__.co_filename
