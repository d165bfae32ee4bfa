"""The worker runtime (python/udfenv/_worker.py) on every Python 3.6-3.13,
driven over pipes exactly as the executor drives it (docs/protocol.md):
this test plays the executor.

Each test runs once per interpreter; a missing one is a visible skip.
Programs are written by hand in the format described in
python/udfenv/plan.py, except one test that builds its program with the
client API.
"""

import json
import os
import select as select_mod
import struct
import subprocess
import textwrap
import threading
import time

import pytest

VERSIONS = ["3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13"]
WORKER_CMD = "import sys; sys.path[0] = sys.argv[1]; import udfenv._worker as w; w.main()"
TIMEOUT = 60

UDFS = '''\
import os
import sys
from udfenv import DataTypes, Row, udf, udtf

@udf(result_type=DataTypes.BIGINT())
def add_one(x):
    return None if x is None else x + 1

@udf(result_type=DataTypes.STRING())
def shout(s):
    return None if s is None else s.upper() + "!"

@udf(result_type=DataTypes.DOUBLE())
def half(x):
    return None if x is None else x / 2

@udf(result_type=DataTypes.DOUBLE())
def as_is(x):
    return x

@udf(result_type=DataTypes.BOOLEAN())
def is_even(x):
    return None if x is None else x % 2 == 0

@udf(result_type=DataTypes.BIGINT())
def fragile(x):
    if x == 13:
        return 1 // 0
    return x

@udf(result_type=DataTypes.BIGINT())
def not_an_int(x):
    return "seven" if x == 7 else x

@udf(result_type=DataTypes.BIGINT())
def a_bool(x):
    return True if x == 2 else x

@udf(result_type=DataTypes.BIGINT())
def too_big(x):
    return x * 2 ** 63 if x == 1 else x

@udf(result_type=DataTypes.STRING())
def surrogate(x):
    return "ok" if x != 2 else "bad\\ud800"

@udf(result_type=DataTypes.BIGINT())
def chatty(x):
    print("chatty says", x)
    sys.stdout.write("more chat\\n")
    sys.stdout.flush()
    os.write(1, b"raw fd 1 chat\\n")
    return x

@udf(result_type=DataTypes.BIGINT())
def die(x):
    if x == 5:
        os._exit(3)
    return x

@udf(result_type=DataTypes.ROW([DataTypes.FIELD("twice", DataTypes.BIGINT()),
                                DataTypes.FIELD("label", DataTypes.STRING())]))
def describe(row):
    return Row(row.id * 2, "%s:%s" % (row.name, row["id"]))

@udtf(result_types=[DataTypes.BIGINT(), DataTypes.STRING()])
def repeat_name(row):
    for i in range(row.id):
        yield i, row.name

@udtf(result_types=[DataTypes.STRING()])
def letters(s):
    return list(s)

def plain(x):
    return x * 10

import enum, fractions

class Small(enum.IntEnum):
    ONE = 1

class Text(str):
    pass

@udf(result_type=DataTypes.BIGINT())
def int_like(x):
    return Small.ONE if x == 1 else x

@udf(result_type=DataTypes.DOUBLE())
def real_like(x):
    return fractions.Fraction(1, 4) if x == 1 else x

@udf(result_type=DataTypes.STRING())
def str_like(x):
    return Text("t%d" % x)

class bool_(object):
    """Stands in for numpy.bool_ (not a bool subclass)."""
    __module__ = "numpy"

    def __init__(self, v):
        self.v = v

    def __bool__(self):
        return self.v

@udf(result_type=DataTypes.BOOLEAN())
def bool_like(x):
    return bool_(x > 1)

@udf(result_type=DataTypes.DOUBLE())
def huge(x):
    return 10 ** 400 if x == 2 else x
'''


@pytest.fixture(params=VERSIONS)
def worker_python(request, pythons):
    v = request.param
    if v not in pythons:
        pytest.skip("Python %s is not installed here (looked in pyenv and PATH)" % v)
    return v, pythons[v]


@pytest.fixture
def mods(tmp_path):
    d = tmp_path / "mods"
    d.mkdir()
    (d / "wudfs.py").write_text(UDFS)
    return d


class Worker(object):
    """A worker runtime process and our end of its protocol pipes."""

    def __init__(self, python, runtime, pythonpath, cwd, env_fn, extra_env=None):
        extra = {"PYTHONPATH": os.pathsep.join(str(p) for p in pythonpath)}
        extra.update(extra_env or {})
        env = env_fn(extra)
        self.p = subprocess.Popen([python, "-c", WORKER_CMD, str(runtime)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                  cwd=str(cwd), bufsize=0)
        self.buf = b""
        self.err = []
        self.t = threading.Thread(target=self._drain)
        self.t.daemon = True
        self.t.start()

    def _drain(self):
        for chunk in iter(lambda: self.p.stderr.read(4096), b""):
            self.err.append(chunk)

    @property
    def stderr(self):
        return b"".join(self.err).decode("utf-8", "replace")

    def send(self, kind, payload):
        self.p.stdin.write(struct.pack(">I", len(payload) + 1) + kind.encode() + payload)
        self.p.stdin.flush()

    def plan(self, input, output, program, worker=0, workers=1):
        self.send("P", json.dumps({"protocol": 1, "worker": worker, "workers": workers, "input": input,
                                   "output": output, "program": program}).encode())

    def _read(self, n, timeout):
        deadline = time.monotonic() + timeout
        fd = self.p.stdout.fileno()
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("timed out waiting for the worker; stderr:\n" + self.stderr)
            r, _, _ = select_mod.select([fd], [], [], left)
            if r:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    break
                self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def frame(self, timeout=TIMEOUT):
        """(type, payload) of the next frame, or (None, b"") at EOF."""
        head = self._read(5, timeout)
        if not head:
            return None, b""
        assert len(head) == 5, "truncated frame header %r" % head
        length, kind = struct.unpack(">IB", head)
        payload = self._read(length - 1, timeout)
        assert len(payload) == length - 1, "truncated frame"
        return chr(kind), payload

    def hello(self):
        kind, payload = self.frame()
        assert kind == "H", (kind, payload, self.stderr)
        return json.loads(payload.decode())

    def batch(self, seq, cols):
        """Send B, expect R: (has_idx, columns)."""
        self.send("B", struct.pack(">Q", seq) + json.dumps(cols).encode())
        kind, payload = self.frame()
        assert kind == "R", "expected R, got %s %r\nstderr:\n%s" % (kind, payload, self.stderr)
        got_seq, has_idx = struct.unpack(">QB", payload[:9])
        assert got_seq == seq
        text = payload[9:].decode("utf-8")
        return has_idx, json.loads(text)

    def error(self, seq=None, cols=None):
        """(Send B and) expect E: its payload; the worker then exits non-zero."""
        if cols is not None:
            self.send("B", struct.pack(">Q", seq) + json.dumps(cols).encode())
        kind, payload = self.frame()
        assert kind == "E", "expected E, got %s %r\nstderr:\n%s" % (kind, payload, self.stderr)
        e = json.loads(payload.decode("utf-8"))
        assert set(e) == {"kind", "message", "traceback", "seq", "row"}, e
        assert "\n" not in e["message"]
        assert self.frame()[0] is None, "output after the E frame"
        assert self.wait() == 1
        return e

    def close(self):
        self.p.stdin.close()

    def wait(self, timeout=TIMEOUT):
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            raise AssertionError("the worker did not exit; stderr:\n" + self.stderr)
        self.t.join(10)
        return rc

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


@pytest.fixture
def start(worker_python, mods, tmp_path, udfenv_py_source, python_env):
    started = []

    def start(pythonpath=None, env=None):
        w = Worker(worker_python[1], udfenv_py_source, [mods] if pythonpath is None else pythonpath,
                   tmp_path, python_env, env)
        started.append(w)
        return w
    yield start
    for w in started:
        w.kill()
        for f in (w.p.stdin, w.p.stdout, w.p.stderr):
            try:
                f.close()
            except OSError:
                pass


# Program builders (plan.py's format).
def prog(udfs, *steps):
    return {"udfenv_program": 1, "udfs": [{"module": "wudfs", "name": u} if isinstance(u, str) else u
                                          for u in udfs], "steps": list(steps)}


def col(i):
    return {"col": i}


def lit(v, t):
    return {"lit": v, "type": t}


def call(i, t, *args):
    return {"call": i, "args": list(args), "type": t}


def op(o, t, *args):
    return {"op": o, "args": list(args), "type": t}


def select(output, *exprs):
    return {"op": "select", "exprs": list(exprs), "output": output}


def where(pred):
    return {"op": "where", "pred": pred}


IN3 = [["id", "BIGINT"], ["name", "STRING"], ["x", "DOUBLE"]]


def test_hello_and_eof(start, worker_python):
    w = start()
    w.plan(IN3, IN3, prog([]))
    h = w.hello()
    assert h["protocol"] == 1
    assert h["python"].startswith(worker_python[0] + "."), h
    assert os.path.isabs(h["executable"])
    # No steps: rows pass through unchanged.
    assert w.batch(1, [[1, None], ["a", "b"], [0.5, None]]) == (0, [[1, None], ["a", "b"], [0.5, None]])
    w.close()
    assert w.frame()[0] is None
    assert w.wait() == 0, w.stderr


def test_eof_before_the_plan_exits_zero(start):
    w = start()
    w.close()
    assert w.frame()[0] is None
    assert w.wait() == 0, w.stderr


def test_select_with_udfs_nulls_unicode_nan(start):
    w = start()
    out = [["id", "BIGINT"], ["v", "BIGINT"], ["s", "STRING"], ["h", "DOUBLE"], ["x", "DOUBLE"],
           ["e", "BOOLEAN"], ["k", "STRING"]]
    w.plan(IN3, out, prog(["add_one", "shout", "half", "is_even"],
                          select(out, col(0), call(0, "BIGINT", col(0)), call(1, "STRING", col(1)),
                                 call(2, "DOUBLE", col(0)), col(2), call(3, "BOOLEAN", col(0)),
                                 lit("k\u00e9", "STRING"))))
    w.hello()
    names = ["ann", None, "Zo\u00eb \u6771\u4eac \U0001F600", "x\"y\\z\n"]
    has_idx, cols = w.batch(7, [[1, 2, None, 4], names, [float("nan"), float("inf"), -0.0, None]])
    assert has_idx == 0
    assert cols[0] == [1, 2, None, 4]
    assert cols[1] == [2, 3, None, 5]
    assert cols[2] == ["ANN!", None, "ZO\u00cb \u6771\u4eac \U0001F600!", "X\"Y\\Z\n!"]
    assert cols[3] == [0.5, 1.0, None, 2.0] and all(type(v) is float for v in cols[3] if v is not None)
    assert cols[4][0] != cols[4][0] and cols[4][1] == float("inf") and cols[4][2:] == [0.0, None]
    assert cols[5] == [False, True, None, True]
    assert cols[6] == ["k\u00e9"] * 4
    # Several batches, in order, an empty one among them.
    assert w.batch(8, [[], [], []]) == (0, [[], [], [], [], [], [], []])
    assert w.batch(9, [[10], ["b"], [1]])[1][:3] == [[10], [11], ["B!"]]
    w.close()
    assert w.wait() == 0, w.stderr


def test_double_results_are_sent_as_floats(start):
    w = start()
    out = [["d", "DOUBLE"]]
    w.plan(IN3, out, prog(["as_is"], select(out, call(0, "DOUBLE", col(0)))))
    w.hello()
    w.send("B", struct.pack(">Q", 1) + json.dumps([[2, None, 3], ["a", "b", "c"], [1.0, 2.0, 3.0]]).encode())
    kind, payload = w.frame()
    assert kind == "R"
    assert payload[9:] == b"[[2.0,null,3.0]]"


def test_where_sends_the_row_index(start):
    w = start()
    out = [["id", "BIGINT"], ["v", "BIGINT"]]
    gt2 = op(">", "BOOLEAN", col(0), lit(2, "BIGINT"))
    w.plan(IN3, out, prog(["add_one"], where(gt2), select(out, col(0), call(0, "BIGINT", col(0)))))
    w.hello()
    # NULL > 2 is NULL: dropped like false.
    assert w.batch(1, [[1, 5, None, 3, 0], list("abcde"), [0.0] * 5]) == (1, [[1, 3], [5, 3], [6, 4]])
    # Every row kept: no index column.
    assert w.batch(2, [[3, 4], ["a", "b"], [0.0, 0.0]]) == (0, [[3, 4], [4, 5]])
    # No row kept.
    assert w.batch(3, [[1], ["a"], [0.0]]) == (1, [[], [], []])
    w.close()
    assert w.wait() == 0, w.stderr


def test_expressions_null_semantics(start):
    w = start()
    B, D, Z = "BIGINT", "DOUBLE", "BOOLEAN"
    a, b = col(0), col(1)
    exprs = [
        op("+", B, a, b), op("-", B, a, lit(1, B)), op("*", B, a, b), op("/", D, a, b),
        op("%", B, a, b), op("neg", B, a), op("==", Z, a, b), op("<", Z, a, b),
        op("and", Z, op(">", Z, a, lit(0, B)), op(">", Z, b, lit(0, B))),
        op("or", Z, op(">", Z, a, lit(0, B)), op(">", Z, b, lit(0, B))),
        op("not", Z, op(">", Z, a, lit(0, B))), op("is_null", Z, b), op("is_not_null", Z, b),
        op("+", D, a, lit("NaN", D)), op("/", D, lit(1, B), lit(0, B)),
        op("%", D, lit("Infinity", D), b), op("%", D, a, lit(2.5, D)),
    ]
    out = [["c%d" % i, e["type"]] for i, e in enumerate(exprs)]
    w.plan([["a", B], ["b", B]], out, prog([], select(out, *exprs)))
    w.hello()
    _, c = w.batch(1, [[7, -7, 5, None, 3], [2, 2, 0, 1, None]])
    assert c[0] == [9, -5, 5, None, None]
    assert c[1] == [6, -8, 4, None, 2]
    assert c[2] == [14, -14, 0, None, None]
    assert c[3] == [3.5, -3.5, None, None, None]          # / by zero is NULL
    assert c[4] == [1, -1, None, None, None]              # % takes the dividend's sign
    assert c[5] == [-7, 7, -5, None, -3]
    assert c[6] == [False, False, False, None, None]
    assert c[7] == [False, True, False, None, None]
    assert c[8] == [True, False, False, None, None]       # false & NULL is false
    assert c[9] == [True, True, True, True, True]         # true | NULL is true
    assert c[10] == [False, True, False, None, False]
    assert c[11] == [False, False, False, False, True]
    assert c[12] == [True, True, True, True, False]
    assert all(v != v for v in c[13][:3] + c[13][4:]) and c[13][3] is None
    assert c[14] == [None] * 5
    assert [None if v is None else "nan" if v != v else v for v in c[15]] == ["nan", "nan", None, "nan", None]
    assert c[16] == [2.0, -2.0, 0.0, None, 0.5]


def test_bigint_overflow_in_an_expression(start):
    w = start()
    out = [["p", "BIGINT"]]
    w.plan([["a", "BIGINT"]], out, prog([], select(out, {"op": "*", "args": [col(0), lit(4, "BIGINT")],
                                                          "type": "BIGINT", "text": "a * 4"})))
    w.hello()
    e = w.error(3, [[1, 2 ** 62]])
    assert e["kind"] == "type" and e["row"] == 1 and e["seq"] == 3
    assert "a * 4" in e["message"] and "64-bit" in e["message"]


def test_map_row_and_scalar_results(start):
    w = start()
    out = [["twice", "BIGINT"], ["label", "STRING"]]
    w.plan(IN3, [["f0", "BIGINT"]], prog(
        ["describe", "add_one"],
        {"op": "map", "udf": 0, "args": None, "output": out},
        {"op": "map", "udf": 1, "args": [col(0)], "output": [["f0", "BIGINT"]]}))
    w.hello()
    assert w.batch(1, [[1, 2], ["a", None], [0.0, 0.0]]) == (0, [[3, 5]])
    w.close()
    assert w.wait() == 0, w.stderr

    w = start()
    w.plan(IN3, out, prog(["describe"], {"op": "map", "udf": 0, "args": None, "output": out}))
    w.hello()
    assert w.batch(1, [[1, 2], ["a", None], [0.0, 0.0]]) == (0, [[2, 4], ["a:1", "None:2"]])


def test_flat_map_sends_the_row_index(start):
    w = start()
    out = [["n", "BIGINT"], ["name", "STRING"]]
    w.plan(IN3, out, prog(
        ["repeat_name"],
        where(op("!=", "BOOLEAN", col(0), lit(2, "BIGINT"))),
        {"op": "flat_map", "udf": 0, "args": None, "output": out}))
    w.hello()
    has_idx, cols = w.batch(4, [[2, 0, 3, 2, 1], list("abcde"), [0.0] * 5])
    assert has_idx == 1
    # rows 0 and 3 (id 2) dropped by where; row 1 yields nothing; row 2 three rows; row 4 one.
    assert cols == [[2, 2, 2, 4], [0, 1, 2, 0], ["c", "c", "c", "e"]]
    # A table function with one result type may return plain values; with arguments.
    w.close()
    assert w.wait() == 0, w.stderr
    w = start()
    w.plan(IN3, [["f0", "STRING"]], prog(
        ["letters"], {"op": "flat_map", "udf": 0, "args": [col(1)], "output": [["f0", "STRING"]]}))
    w.hello()
    assert w.batch(1, [[1, 2, 3], ["ab", "", "\u00e9"], [0.0] * 3]) == (1, [[0, 0, 2], ["a", "b", "\u00e9"]])


def test_a_plain_function_as_udf(start):
    # A module-level function that is not decorated (udf(plain, ...) was used in the client).
    w = start()
    out = [["f0", "BIGINT"]]
    w.plan(IN3, out, prog(["plain"], select(out, call(0, "BIGINT", col(0)))))
    w.hello()
    assert w.batch(1, [[1, 2], ["a", "b"], [0.0, 0.0]]) == (0, [[10, 20]])


def test_udf_exception_names_the_row_and_keeps_the_udf_traceback(start):
    w = start()
    out = [["f", "BIGINT"]]
    w.plan(IN3, out, prog(["fragile"], where(op(">", "BOOLEAN", col(0), lit(0, "BIGINT"))),
                          select(out, call(0, "BIGINT", col(0)))))
    w.hello()
    assert w.batch(1, [[1, 2], ["a", "b"], [0.0, 0.0]]) == (0, [[1, 2]])
    e = w.error(2, [[0, 11, 0, 12, 13, 14], list("abcdef"), [0.0] * 6])
    assert e["kind"] == "udf" and e["seq"] == 2
    assert e["row"] == 4  # the input row: where() dropped rows 0 and 2 before it
    assert "fragile" in e["message"] and "ZeroDivisionError" in e["message"]
    tb = e["traceback"]
    assert tb.startswith("Traceback (most recent call last):")
    assert "return 1 // 0" in tb and "wudfs.py" in tb
    assert "_worker.py" not in tb, tb


def test_values_of_other_number_and_string_classes_are_converted(start):
    w = start()
    out = [["i", "BIGINT"], ["d", "DOUBLE"], ["s", "STRING"], ["b", "BOOLEAN"]]
    w.plan(IN3, out, prog(["int_like", "real_like", "str_like", "bool_like"],
                          select(out, call(0, "BIGINT", col(0)), call(1, "DOUBLE", col(0)),
                                 call(2, "STRING", col(0)), call(3, "BOOLEAN", col(0)))))
    w.hello()
    w.send("B", struct.pack(">Q", 1) + json.dumps([[1, 2], ["a", "b"], [0.0, 0.0]]).encode())
    kind, payload = w.frame()
    assert kind == "R", payload
    assert payload[9:] == b'[[1,2],[0.25,2.0],["t1","t2"],[false,true]]'


def test_wrong_result_types_are_type_errors(start):
    cases = [("not_an_int", 7, "'seven'"), ("a_bool", 2, "bool True"), ("too_big", 1, "64-bit"),
             ("surrogate", 2, "surrogate"), ("huge", 2, "too large for a DOUBLE")]
    for name, bad, word in cases:
        w = start()
        t = {"surrogate": "STRING", "huge": "DOUBLE"}.get(name, "BIGINT")
        out = [["f", t]]
        w.plan(IN3, out, prog([name], select(out, call(0, t, col(0)))))
        w.hello()
        e = w.error(5, [[0, 1, 2, 3, 4, 5, 6, 7, 8][bad - 1:bad + 1], ["a", "b"], [0.0, 0.0]])
        assert e["kind"] == "type", e
        assert e["row"] == 1 and e["seq"] == 5, e
        assert name in e["message"] and word in e["message"], e
        if name != "surrogate":
            assert t in e["message"], e


def test_import_failures(start, mods):
    for ref, words in [({"module": "no_such_mod", "name": "f"}, ["no_such_mod", "'f'", "add_python_file", "-pyfs"]),
                       ({"module": "wudfs", "name": "missing"}, ["wudfs", "'missing'", "no attribute"]),
                       ({"module": "wudfs.sub", "name": "f"}, ["wudfs.sub", "'f'", "add_python_file"])]:
        w = start()
        w.plan(IN3, [["f", "BIGINT"]], prog([ref], select([["f", "BIGINT"]], call(0, "BIGINT", col(0)))))
        e = w.error()  # instead of H
        assert e["kind"] == "import", e
        assert e["seq"] is None and e["row"] is None
        for word in words:
            assert word in e["message"], (word, e)
        assert e["traceback"] is None, e  # nothing but importlib's frames to show


def test_import_error_carries_the_module_traceback(start, mods):
    (mods / "broken.py").write_text("import os\nraise RuntimeError('broken at import')\n")
    (mods / "needy.py").write_text("import os\nimport not_installed_dep\n")
    w = start()
    w.plan(IN3, [["f", "BIGINT"]], prog([{"module": "broken", "name": "f"}],
                                        select([["f", "BIGINT"]], call(0, "BIGINT", col(0)))))
    e = w.error()
    assert e["kind"] == "import" and "broken at import" in e["message"]
    assert "broken.py" in e["traceback"] and "line 2" in e["traceback"]
    assert "importlib" not in e["traceback"] and "_worker.py" not in e["traceback"], e["traceback"]
    # A dependency of the module is missing: its traceback shows where.
    w = start()
    w.plan(IN3, [["f", "BIGINT"]], prog([{"module": "needy", "name": "f"}],
                                        select([["f", "BIGINT"]], call(0, "BIGINT", col(0)))))
    e = w.error()
    assert e["kind"] == "import" and "not_installed_dep" in e["message"] and "'needy'" in e["message"], e
    assert "needy.py" in e["traceback"] and "import not_installed_dep" in e["traceback"], e


def test_a_udf_that_exits_closes_the_protocol(start):
    w = start()
    out = [["f", "BIGINT"]]
    w.plan(IN3, out, prog(["die"], select(out, call(0, "BIGINT", col(0)))))
    w.hello()
    assert w.batch(1, [[1], ["a"], [0.0]]) == (0, [[1]])
    w.send("B", struct.pack(">Q", 2) + json.dumps([[4, 5, 6], ["a", "b", "c"], [0.0] * 3]).encode())
    assert w.frame() == (None, b"")
    assert w.wait() == 3


def test_print_in_a_udf_goes_to_stderr(start):
    w = start()
    out = [["f", "BIGINT"]]
    w.plan(IN3, out, prog(["chatty"], select(out, call(0, "BIGINT", col(0)))))
    w.hello()
    assert w.batch(1, [[1, 2], ["a", "b"], [0.0, 0.0]]) == (0, [[1, 2]])
    assert w.batch(2, [[3], ["c"], [0.0]]) == (0, [[3]])
    w.close()
    assert w.wait() == 0
    err = w.stderr
    assert "chatty says 1" in err and "chatty says 3" in err and "more chat" in err and "raw fd 1 chat" in err


def test_stdin_is_dev_null_for_udfs(start, mods):
    (mods / "reader.py").write_text(textwrap.dedent('''\
        import sys
        def peek(x):
            return repr(sys.stdin.read())
        '''))
    w = start()
    out = [["f", "STRING"]]
    w.plan(IN3, out, prog([{"module": "reader", "name": "peek"}], select(out, call(0, "STRING", col(0)))))
    w.hello()
    assert w.batch(1, [[1], ["a"], [0.0]]) == (0, [["''"]])


SCRIPT = '''\
import os, sys
from udfenv import TableEnvironment, DataTypes, udf

with open(os.path.join(os.environ["MARKS"], "loads"), "a") as f:
    f.write(__name__ + "\\n")

@udf(result_type=DataTypes.BIGINT())
def triple(x):
    return 3 * x

if __name__ == "__main__":
    open(os.path.join(os.environ["MARKS"], "main-ran"), "w").close()
    TableEnvironment.create()
'''


def test_a_job_script_udf_does_not_run_the_main_block(start, tmp_path, python_env):
    shipped = tmp_path / "shipped"
    marks = tmp_path / "marks"
    shipped.mkdir()
    marks.mkdir()
    (shipped / "job.py").write_text(SCRIPT)
    w = start(pythonpath=[shipped], env={"MARKS": marks})
    out = [["f", "BIGINT"]]
    w.plan(IN3, out, prog([{"script": "job.py", "name": "triple"}], select(out, call(0, "BIGINT", col(0)))))
    w.hello()
    assert w.batch(1, [[1, 2], ["a", "b"], [0.0, 0.0]]) == (0, [[3, 6]])
    w.close()
    assert w.wait() == 0, w.stderr
    assert (marks / "loads").read_text() == "__udfenv_main__\n"
    assert not (marks / "main-ran").exists()


def test_create_at_a_scripts_top_level_is_refused_in_a_worker(start, tmp_path):
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    (shipped / "job.py").write_text(textwrap.dedent('''\
        from udfenv import TableEnvironment, DataTypes, udf

        @udf(result_type=DataTypes.BIGINT())
        def f(x):
            return x

        t_env = TableEnvironment.create()
        '''))
    w = start(pythonpath=[shipped])
    w.plan(IN3, [["f", "BIGINT"]], prog([{"script": "job.py", "name": "f"}],
                                        select([["f", "BIGINT"]], call(0, "BIGINT", col(0)))))
    e = w.error()
    assert e["kind"] == "import", e
    assert "__main__" in e["message"] and "RuntimeError" in e["message"], e
    assert "t_env = TableEnvironment.create()" in e["traceback"]


def test_a_udf_inside_the_main_block_is_explained(start, tmp_path):
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    (shipped / "job.py").write_text("if __name__ == '__main__':\n    def f(x):\n        return x\n")
    w = start(pythonpath=[shipped])
    w.plan(IN3, [["f", "BIGINT"]], prog([{"script": "job.py", "name": "f"}],
                                        select([["f", "BIGINT"]], call(0, "BIGINT", col(0)))))
    e = w.error()
    assert e["kind"] == "import" and "top level" in e["message"], e


def test_malformed_program_and_frames(start):
    w = start()
    w.plan(IN3, IN3, {"udfenv_program": 99, "udfs": [], "steps": []})
    e = w.error()
    assert e["kind"] == "program", e

    w = start()
    w.plan(IN3, [["f", "BIGINT"]], prog([], select([["g", "BIGINT"]], col(0))))
    assert w.error()["kind"] == "program"

    w = start()
    w.send("B", struct.pack(">Q", 1) + b"[[1]]")
    e = w.error()
    assert e["kind"] == "internal" and "P" in e["message"], e

    w = start()
    w.plan(IN3, IN3, prog([]))
    w.hello()
    e = w.error(1, [[1, 2], ["a"], [0.0, 0.0]])  # columns of different lengths
    assert e["kind"] == "internal", e


def test_extend_keeps_the_rows_before_a_failure(worker_python, python_env):
    # The runtime's row numbers rely on this: out.extend(map(f, xs)) keeps
    # what it appended before f raised.
    code = ("out = []\n"
            "def f(x):\n"
            "    if x == 5: raise ValueError\n"
            "    return x\n"
            "try:\n"
            "    out.extend(map(f, list(range(10))))\n"
            "except ValueError:\n"
            "    pass\n"
            "print(len(out))\n")
    res = subprocess.run([worker_python[1], "-c", code], stdout=subprocess.PIPE, env=python_env(),
                         universal_newlines=True, timeout=TIMEOUT)
    assert res.stdout.strip() == "5"


def test_a_program_built_by_the_client(start, mods, udfenv_py_source, worker_python, python_env):
    # The client API builds the plan (without _native), on the same
    # interpreter as the worker: the client side runs on 3.6-3.13 too.
    code = textwrap.dedent('''\
        import json, sys
        sys.path[:0] = [sys.argv[1], sys.argv[2]]
        from udfenv import TableEnvironment, DataTypes, col, lit
        import wudfs
        t = TableEnvironment.create().from_csv(sys.argv[3], schema=[
            ("id", DataTypes.INT()), ("name", DataTypes.VARCHAR(10)), ("x", DataTypes.FLOAT())])
        t = t.where((t.id > 0) & t.name.is_not_null)
        t = t.select(t.id, wudfs.add_one(t.id * 2).alias("v"), wudfs.shout(col("name")).alias("s"), t.x / 2,
                     lit(True))
        t = t.flat_map(wudfs.letters(t.s))
        print(t.explain())
        ''')
    src = mods.parent / "in.csv"
    src.write_text("id,name,x\n")
    res = subprocess.run([worker_python[1], "-c", code, str(udfenv_py_source), str(mods), str(src)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=TIMEOUT,
                         env=python_env())
    assert res.returncode == 0, res.stderr
    plan = json.loads(res.stdout)
    assert plan["output"] == [["f0", "STRING"]]
    w = start()
    w.plan(plan["source"]["schema"], plan["output"], plan["program"])
    w.hello()
    assert w.batch(1, [[1, 0, 2, 3], ["ab", "zz", None, "c"], [1.0, 2.0, 3.0, 4.0]]) == \
        (1, [[0, 0, 0, 3, 3], ["A", "B", "!", "C", "!"]])
