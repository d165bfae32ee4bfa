"""The client side of the Python API without the C extension: types, rows,
expressions, names, UDF references and the plans they build
(docs/jobs.md, docs/protocol.md). Everything here runs on the package's
sources (python/udfenv); nothing is executed.
"""

import io
import json
import math
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PY_SOURCE = Path(__file__).resolve().parents[2] / "python"
if sys.path[0] != str(PY_SOURCE):
    sys.path.insert(0, str(PY_SOURCE))

_saved_dont_write_bytecode = sys.dont_write_bytecode
sys.dont_write_bytecode = True  # tests write nothing into the source tree
try:
    import udfenv  # noqa: E402
    from udfenv import (DataTypes, JobError, Row, TableEnvironment, col, lit, udf, udtf)  # noqa: E402
    from udfenv import _progress, _worker, table as table_mod  # noqa: E402,F401
finally:
    sys.dont_write_bytecode = _saved_dont_write_bytecode


@udf(result_type=DataTypes.BIGINT())
def add_one(x):
    return x + 1


@udf(result_type=DataTypes.BOOLEAN())
def is_big(x):
    return x > 100


@udf(result_type=DataTypes.ROW([DataTypes.FIELD("user", DataTypes.STRING()),
                                DataTypes.FIELD("n", DataTypes.INT())]))
def split_row(row):
    return Row(row.name, row.id)


@udf(result_type="DOUBLE", input_types=[DataTypes.DOUBLE(), DataTypes.DOUBLE()])
def ratio(a, b):
    return a / b


@udtf(result_types=[DataTypes.BIGINT(), DataTypes.STRING()])
def explode(row):
    yield row.id, row.name


@udtf(result_type=DataTypes.ROW([DataTypes.FIELD("word", DataTypes.STRING())]))
def words(s):
    return s.split()


def _plain(x):
    return 2 * x


doubled = udf(_plain, result_type=DataTypes.BIGINT())
lambda_udf = udf(lambda x: x, result_type=DataTypes.BIGINT())


def make_nested():
    @udf(result_type=DataTypes.BIGINT())
    def inner(x):
        return x
    return inner


SCHEMA = [("id", DataTypes.BIGINT()), ("name", DataTypes.STRING()), ("score", DataTypes.DOUBLE()),
          ("ok", DataTypes.BOOLEAN())]


@pytest.fixture
def t_env(monkeypatch):
    monkeypatch.delenv("UDFENV_RUN_CONFIG", raising=False)
    monkeypatch.delenv("UDFENV_VERBOSE", raising=False)
    return TableEnvironment.create()


@pytest.fixture
def src(tmp_path):
    p = tmp_path / "in.csv"
    p.write_text("id,name,score,ok\n")
    return p


@pytest.fixture
def t(t_env, src):
    return t_env.from_csv(str(src), schema=SCHEMA)


def plan_of(table, sink=None):
    return table._plan(sink or {"type": "collect"})


def schema_of(table):
    return [[n, str(dt).rstrip("()")] for n, dt in table.get_schema()]


# --- types and rows ---------------------------------------------------------------

def test_wire_types():
    wires = {"BIGINT": DataTypes.BIGINT(), "INT": DataTypes.INT(), "SMALLINT": DataTypes.SMALLINT(),
             "TINYINT": DataTypes.TINYINT(), "DOUBLE": DataTypes.DOUBLE(), "FLOAT": DataTypes.FLOAT(),
             "STRING": DataTypes.STRING(), "VARCHAR": DataTypes.VARCHAR(20), "BOOLEAN": DataTypes.BOOLEAN()}
    got = dict((k, v.wire) for k, v in wires.items())
    assert got == {"BIGINT": "BIGINT", "INT": "BIGINT", "SMALLINT": "BIGINT", "TINYINT": "BIGINT",
                   "DOUBLE": "DOUBLE", "FLOAT": "DOUBLE", "STRING": "STRING", "VARCHAR": "STRING",
                   "BOOLEAN": "BOOLEAN"}
    assert DataTypes.INT() == DataTypes.BIGINT()
    with pytest.raises(ValueError, match="nested ROW"):
        DataTypes.ROW([DataTypes.FIELD("r", DataTypes.ROW([DataTypes.FIELD("a", DataTypes.INT())]))])
    with pytest.raises(ValueError, match="duplicate"):
        DataTypes.ROW([DataTypes.FIELD("a", DataTypes.INT()), DataTypes.FIELD("a", DataTypes.STRING())])


def test_row():
    r = Row(1, "x")
    assert r == (1, "x") and r[1] == "x" and repr(r) == "Row(1, 'x')"
    n = Row(id=1, name="x")
    assert n.id == 1 and n["name"] == "x" and n[0] == 1 and list(n) == [1, "x"]
    assert n.as_dict() == {"id": 1, "name": "x"}
    assert repr(n) == "Row(id=1, name='x')"
    assert n == r and hash(n) == hash(r) and isinstance(n, tuple)
    with pytest.raises(AttributeError, match="no field 'nope'"):
        n.nope
    with pytest.raises(AttributeError):
        n.id = 2
    with pytest.raises(TypeError):
        Row(1, name="x")
    back = pickle.loads(pickle.dumps(n))
    assert back.name == "x" and back == n
    Person = Row("name", "age")
    assert Person("Ann", 3).as_dict() == {"name": "Ann", "age": 3}
    with pytest.raises(AttributeError, match="positionally"):
        r.a


# --- sources and schemas -----------------------------------------------------------

def test_explicit_schemas(t_env, src):
    as_row = t_env.from_csv(src, schema=DataTypes.ROW([DataTypes.FIELD("a", DataTypes.INT()),
                                                       DataTypes.FIELD("b", DataTypes.FLOAT())]))
    assert as_row.columns == ["a", "b"]
    assert plan_of(as_row)["source"] == {"format": "csv", "path": str(src),
                                         "schema": [["a", "BIGINT"], ["b", "DOUBLE"]]}
    as_names = t_env.from_json_lines(str(src), schema=[("a", "int"), ("b", "VARCHAR")])
    assert plan_of(as_names)["source"]["format"] == "jsonl"
    assert plan_of(as_names)["source"]["schema"] == [["a", "BIGINT"], ["b", "STRING"]]
    for bad, word in [([("a", DataTypes.INT()), ("a", DataTypes.STRING())], "duplicate"),
                      ([], "no columns"), ([("a", "DECIMAL")], "not a data type"),
                      ([("", "INT")], "non-empty"), ([("a\nb", "INT")], "control character"),
                      ([("x" * 256, "INT")], "255 bytes"), ("a INT", "list of")]:
        with pytest.raises(ValueError, match=word):
            t_env.from_csv(src, schema=bad)


def test_a_missing_source_is_named(t_env, tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        t_env.from_csv(tmp_path / "nope.csv", schema=SCHEMA)
    assert "nope.csv" in str(e.value)


def test_schema_accessors(t, capsys):
    assert t.columns == ["id", "name", "score", "ok"]
    assert t.get_schema().get_field_names() == t.columns
    assert [d.wire for d in t.get_schema().get_field_data_types()] == ["BIGINT", "STRING", "DOUBLE", "BOOLEAN"]
    t.print_schema()
    assert capsys.readouterr().out == "(\n  `id` BIGINT,\n  `name` STRING,\n  `score` DOUBLE,\n  `ok` BOOLEAN\n)\n"


# --- expressions, names, types --------------------------------------------------------

def test_select_names_and_types(t):
    s = t.select(t.id, "name", add_one(t.id).alias("next"), t.id / 2, t.id + t.score, t.id * 3,
                 col("score") > 1, lit("k"), -t.id, t.ok & ~t.ok, t.name.is_null)
    assert schema_of(s) == [["id", "BIGINT"], ["name", "STRING"], ["next", "BIGINT"], ["EXPR$3", "DOUBLE"],
                            ["EXPR$4", "DOUBLE"], ["EXPR$5", "BIGINT"], ["EXPR$6", "BOOLEAN"],
                            ["EXPR$7", "STRING"], ["EXPR$8", "BIGINT"], ["EXPR$9", "BOOLEAN"],
                            ["EXPR$10", "BOOLEAN"]]
    assert t.select("*").columns == t.columns
    assert t["name"] is not None and str(t.select(t["name"]).columns) == "['name']"


def test_the_trivial_select_plan(t):
    p = plan_of(t.select(t.id, add_one(t.id), t.name), {"type": "file", "format": "csv", "path": "/o.csv",
                                                        "overwrite": False})
    assert p == {
        "udfenv_plan": 1,
        "source": p["source"],
        "output": [["id", "BIGINT"], ["EXPR$1", "BIGINT"], ["name", "STRING"]],
        "sink": {"type": "file", "format": "csv", "path": "/o.csv", "overwrite": False},
        "runtime": str(PY_SOURCE),
        "program": {"udfenv_program": 1,
                    "udfs": [{"module": __name__, "name": "add_one"}],
                    "steps": [{"op": "select",
                               "exprs": [{"col": 0}, {"call": 0, "args": [{"col": 0}], "type": "BIGINT"},
                                         {"col": 1}],
                               "output": [["id", "BIGINT"], ["EXPR$1", "BIGINT"], ["name", "STRING"]]}]},
    }
    assert p["runtime"] == os.path.dirname(os.path.dirname(udfenv.__file__))


def test_sinks_in_the_plan(t, tmp_path):
    assert t._file_sink("jsonl", tmp_path / "o", True, True) == {
        "type": "directory", "format": "jsonl", "path": str(tmp_path / "o"), "overwrite": True}
    rel = t._file_sink("csv", "out.csv", False, False)
    assert rel["type"] == "file" and os.path.isabs(rel["path"])
    assert plan_of(t)["sink"] == {"type": "collect"}


def test_the_plan_is_strict_json(t):
    s = t.select((t.score + float("nan")).alias("a"), lit(float("-inf")).alias("b"), lit("\u00e9\U0001F600"))
    text = s.explain()
    assert "NaN" in text  # as a string, not a bare token
    p = json.loads(text, parse_constant=lambda c: pytest.fail("bare %s in the plan" % c))
    exprs = p["program"]["steps"][0]["exprs"]
    assert exprs[0]["args"][1] == {"lit": "NaN", "type": "DOUBLE"}
    assert exprs[1] == {"lit": "-Infinity", "type": "DOUBLE"}
    assert exprs[2] == {"lit": "\u00e9\U0001F600", "type": "STRING"}


def test_typed_null_literals(t):
    s = t.select(lit(None, DataTypes.DOUBLE()).alias("d"), lit(None, DataTypes.BIGINT()).alias("i"),
                 lit(None, DataTypes.STRING()).alias("s"))
    exprs = plan_of(s)["program"]["steps"][0]["exprs"]
    assert exprs == [{"lit": None, "type": "DOUBLE"}, {"lit": None, "type": "BIGINT"},
                     {"lit": None, "type": "STRING"}]
    assert schema_of(s) == [["d", "DOUBLE"], ["i", "BIGINT"], ["s", "STRING"]]
    assert plan_of(t.select((t.score + lit(None, DataTypes.DOUBLE())).alias("x")))["program"]["steps"][0][
        "exprs"][0]["args"][1] == {"lit": None, "type": "DOUBLE"}


def test_one_entry_per_udf(t):
    p = plan_of(t.where(is_big(t.id)).select(add_one(t.id), add_one(add_one(t.id)).alias("b"), doubled(t.id)))
    assert p["program"]["udfs"] == [{"module": __name__, "name": "is_big"},
                                    {"module": __name__, "name": "add_one"},
                                    {"module": __name__, "name": "_plain"}]


def test_duplicate_output_names(t):
    with pytest.raises(ValueError, match="duplicate column names 'id'"):
        t.select(t.id, t.score.alias("id"))


def test_unknown_columns(t):
    with pytest.raises(ValueError, match="unknown column 'nope'"):
        t.nope
    with pytest.raises(ValueError, match="unknown column 'nope'.*columns: id, name, score, ok"):
        t["nope"]
    assert not hasattr(t, "nope")
    with pytest.raises(ValueError, match="unknown column 'nope'"):
        t.select(col("nope") + 1)
    with pytest.raises(ValueError, match="unknown column 'name'"):
        t.select(t.id).where(t.name.is_null)


def test_where_needs_a_boolean(t):
    assert plan_of(t.where(t.ok))["program"]["steps"] == [{"op": "where", "pred": {"col": 3}}]
    assert plan_of(t.filter(is_big(t.id)))["program"]["steps"][0]["pred"]["type"] == "BOOLEAN"
    with pytest.raises(ValueError, match=r"where\(id \+ 1\).*BIGINT, not BOOLEAN"):
        t.where(t.id + 1)
    with pytest.raises(ValueError, match="STRING, not BOOLEAN"):
        t.where("name")


def test_type_errors_name_the_expression(t):
    for make, words in [
        (lambda: t.select(t.name + 1), ["name + 1", "needs numbers", "STRING and BIGINT"]),
        (lambda: t.select(t.name > 1), ["name > 1", "cannot compare STRING with BIGINT"]),
        (lambda: t.select(t.id & t.ok), ["id & ok", "BOOLEAN"]),
        (lambda: t.select(~t.name), ["~name"]),
        (lambda: t.select(lit(None)), ["NULL"]),
        (lambda: t.where(t.id == None), ["is_null"]),  # noqa: E711
        (lambda: t.select(ratio(t.name, t.score)), ["argument 1 of ratio is STRING"]),
        (lambda: t.select(ratio(t.id)), ["takes 2 arguments"]),
    ]:
        with pytest.raises(ValueError) as e:
            make()
        for w in words:
            assert w in str(e.value), (w, str(e.value))
    with pytest.raises(TypeError, match="&, | and ~"):
        t.where(t.id > 1 and t.id < 5)
    with pytest.raises(ValueError, match="BIGINT range"):
        lit(2 ** 63)
    with pytest.raises(ValueError, match="lone surrogate"):
        lit("\ud800")
    assert schema_of(t.select(ratio(t.id, t.score))) == [["EXPR$0", "DOUBLE"]]  # BIGINT fits DOUBLE


def test_operator_nodes(t):
    p = plan_of(t.select(((1 + t.id) % 3 != t.id).alias("x")))
    assert p["program"]["steps"][0]["exprs"][0] == {
        "op": "!=", "type": "BOOLEAN", "text": "((1 + id) % 3) != id",
        "args": [{"op": "%", "type": "BIGINT", "text": "(1 + id) % 3",
                  "args": [{"op": "+", "type": "BIGINT", "text": "1 + id",
                            "args": [{"lit": 1, "type": "BIGINT"}, {"col": 0}]},
                           {"lit": 3, "type": "BIGINT"}]},
                 {"col": 0}]}


# --- UDFs ------------------------------------------------------------------------------

def test_udfs_that_workers_cannot_import(t):
    with pytest.raises(ValueError, match="lambda.*def at the top level"):
        t.select(lambda_udf(t.id))
    with pytest.raises(ValueError, match="not at the top level.*make_nested.<locals>.inner"):
        t.select(make_nested()(t.id))
    with pytest.raises(ValueError, match="result_type"):
        udf(_plain)
    with pytest.raises(ValueError, match="result_types"):
        udtf(_plain)


def test_a_udf_called_with_plain_values_runs():
    assert add_one(41) == 42
    assert doubled(4) == 8
    assert list(explode(Row(id=1, name="a"))) == [(1, "a")]
    assert add_one.func(1) == 2 and add_one.__name__ == "add_one"


def test_map_and_flat_map(t):
    m = t.map(split_row)
    assert schema_of(m) == [["user", "STRING"], ["n", "BIGINT"]]
    assert plan_of(m)["program"]["steps"] == [{"op": "map", "udf": 0, "args": None,
                                               "output": [["user", "STRING"], ["n", "BIGINT"]]}]
    assert schema_of(t.map(add_one)) == [["f0", "BIGINT"]]
    assert plan_of(t.map(add_one(t.id)))["program"]["steps"][0]["args"] == [{"col": 0}]
    f = t.flat_map(explode)
    assert schema_of(f) == [["f0", "BIGINT"], ["f1", "STRING"]]
    assert schema_of(t.flat_map(words(t.name))) == [["word", "STRING"]]
    assert plan_of(t.flat_map(words(t.name)))["program"]["steps"][0]["args"] == [{"col": 1}]
    with pytest.raises(ValueError, match="table function: use flat_map"):
        t.map(explode)
    with pytest.raises(ValueError, match="scalar function: use map"):
        t.flat_map(add_one)
    with pytest.raises(ValueError, match="give it to Table.map"):
        t.select(split_row(t.id))
    with pytest.raises(ValueError, match="give it to Table.flat_map"):
        t.select(words(t.name))
    with pytest.raises(ValueError, match="takes a scalar function"):
        t.map(t.id)


def test_job_script_udfs_are_shipped_and_module_ones_are_not(tmp_path, python_env):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    body = textwrap.dedent('''\
        import sys
        from udfenv import TableEnvironment, DataTypes, udf

        @udf(result_type=DataTypes.BIGINT())
        def f(x):
            return x

        if __name__ == "__main__":
            t = TableEnvironment.create().from_csv(sys.argv[1], schema=[("a", "BIGINT")])
            p = t.select(f(t.a))._plan({"type": "collect"})
            print(p["program"]["udfs"], t.select(f(t.a))._udfs.scripts())
        ''')
    (pkg / "job.py").write_text(body)
    src = tmp_path / "in.csv"
    src.write_text("a\n")
    env = python_env({"PYTHONPATH": PY_SOURCE})
    run = lambda *a: subprocess.run([sys.executable] + list(a), cwd=str(tmp_path), env=env,  # noqa: E731
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    res = run(str(pkg / "job.py"), str(src))
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[{'script': 'job.py', 'name': 'f'}] [%r]" % str(pkg / "job.py")
    res = run("-m", "pkg.job", str(src))
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[{'module': 'pkg.job', 'name': 'f'}] []"
    res = run("-c", body.replace('if __name__ == "__main__":', "if True:"), str(src))
    assert res.returncode != 0
    assert "interactive session or `python -c`" in res.stderr


# --- the environment ---------------------------------------------------------------------

def test_create_starts_from_the_run_config(tmp_path, monkeypatch):
    conf = tmp_path / "run.json"
    conf.write_text(json.dumps({"config": {"parallelism.default": "3", "python.files": "/x/a.py"}}))
    monkeypatch.setenv("UDFENV_RUN_CONFIG", str(conf))
    monkeypatch.delenv("UDFENV_VERBOSE", raising=False)
    c = TableEnvironment.create().get_config()
    assert c.get("parallelism.default") == "3" and c.get("python.files") == "/x/a.py"
    assert c.get("nope", "dflt") == "dflt"
    conf.write_text("{not json")
    with pytest.raises(RuntimeError, match="UDFENV_RUN_CONFIG"):
        TableEnvironment.create()


def test_create_is_refused_in_a_worker(monkeypatch):
    monkeypatch.setattr(_worker, "RUNNING", True)
    with pytest.raises(RuntimeError, match='if __name__ == "__main__":'):
        TableEnvironment.create()
    # and a UDF called in a worker just runs
    assert add_one(1) == 2


# --- results, errors, progress -------------------------------------------------------------

def test_collected_rows():
    schema = [("id", "BIGINT"), ("x", "DOUBLE"), ("s", "STRING")]
    data = b'{"id": 1, "x": 2, "s": "\xc3\xa9"}\n{"id": null, "x": NaN, "s": null}\n\n'
    r = table_mod.TableResult(schema, {"rows_in": 5, "rows_out": 2, "seconds": 0.5}, data, True)
    assert (r.rows_in, r.rows_out, r.seconds, r.wait()) == (5, 2, 0.5, r)
    with r.collect() as rows:
        got = list(rows)
    assert got[0] == (1, 2.0, "\u00e9") and type(got[0].x) is float and got[0].s == "\u00e9"
    assert got[1].id is None and math.isnan(got[1].x)
    assert isinstance(got[0], Row) and got[0].as_dict() == {"id": 1, "x": 2.0, "s": "\u00e9"}
    empty = table_mod.TableResult(schema, {}, None, True)
    assert list(empty.collect()) == []
    with pytest.raises(ValueError, match="collect"):
        table_mod.TableResult(schema, {}, None, False).collect()


def test_job_error_text():
    e = JobError("UDF 'f' failed at in.csv line 3", "  row: {\"a\": 1}\n  Traceback ...\n")
    assert str(e) == "UDF 'f' failed at in.csv line 3\n  row: {\"a\": 1}\n  Traceback ..."
    assert e.args == ("UDF 'f' failed at in.csv line 3",) and isinstance(e, Exception)
    assert str(JobError("plain")) == "plain"


def test_progress_line_and_summary(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    out = io.StringIO()
    p = _progress.Progress(out)
    p({"phase": "setup", "elapsed": 0.4, "rows_in": 0, "rows_out": 0, "worker_rows": []})
    p({"phase": "running", "elapsed": 1.0, "rows_in": 1000, "rows_out": 990, "worker_rows": [600, 400],
       "bytes_in": 50, "bytes_total": 200})
    p({"phase": "running", "elapsed": 2.0, "rows_in": 3000, "rows_out": 2990, "worker_rows": [1600, 1400],
       "bytes_in": 100, "bytes_total": 200})
    p.finish({"rows_in": 4000, "rows_out": 4000, "seconds": 2.5, "setup_seconds": 0.5, "workers": 2})
    text = out.getvalue()
    assert "\rudfenv: setup 0.4s\x1b[K" in text
    assert "\rudfenv: running 1.0s  in 1,000 rows (25%)  out 990  workers 600 400\x1b[K" in text
    assert "\rudfenv: running 2.0s  in 3,000 rows (50%)  out 2,990  2,000 rows/s  workers 1,600 1,400\x1b[K" in text
    # Parts that do not fit the terminal are left out, the least important first.
    d = {"phase": "running", "elapsed": 9.0, "rows_in": 12345678, "rows_out": 1, "worker_rows": [10 ** 6] * 4}
    assert p.line(d, 60, 2.3e6) == "udfenv: running 9.0s  in 12,345,678 rows  out 1  2.3M rows/s"
    assert p.line(d, 50, 2.3e6) == "udfenv: running 9.0s  in 12,345,678 rows  out 1"
    assert p.line(d, None, 123456) == "udfenv: running 9.0s  in 12,345,678 rows  out 1  123k rows/s  workers 1.0M 1.0M 1.0M 1.0M"
    assert text.endswith("\r\x1b[Kudfenv: done: 4,000 rows in, 4,000 rows out in 2.5s "
                         "(setup 0.5s, 2 workers, 2,000 rows/s)\n")


def test_no_progress_off_a_terminal(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert _progress.Progress.for_stderr() is None
