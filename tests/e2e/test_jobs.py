"""UDF jobs end to end: `udfenv run -py job.py` with the Python API, the
worker runtime and the local executor (docs/jobs.md).

Every job here is a real script run by the real client interpreter through
`udfenv run`; workers are real Python processes in environments the core
prepared.
"""

import csv
import fcntl
import json
import os
import pty
import select
import signal
import subprocess
import textwrap
import time

import pytest

HEADER = '''\
import os, sys
from udfenv import TableEnvironment, DataTypes, udf, udtf, col, lit, Row
'''


def write_job(tmp_path, body, name="job.py"):
    path = tmp_path / name
    path.write_text(HEADER + textwrap.dedent(body))
    return path


def write_csv(path, header, rows):
    with open(str(path), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    return path


def read_csv(path):
    with open(str(path), newline="") as f:
        return list(csv.reader(f))


def listing(d):
    return sorted(os.listdir(str(d)))


@pytest.fixture
def numbers_csv(tmp_path):
    return write_csv(tmp_path / "in.csv", ["id", "name", "value"],
                     [[i, "n%d" % i, i * 10] for i in range(1, 1001)])


@pytest.fixture
def run_job(run_udfenv, tmp_path):
    """run_job(body, *flags, args=(), env=None, timeout=) -> result of
    `udfenv run *flags -py job.py *args` in tmp_path."""
    def run(body, *flags, args=(), env=None, timeout=120, name="job.py"):
        job = write_job(tmp_path, body, name)
        return run_udfenv("run", *flags, "-py", str(job), *args, cwd=tmp_path, env=env, timeout=timeout)
    return run


SCRIPT_UDF = '''
if "JOB_IMPORTS_LOG" in os.environ:
    with open(os.environ["JOB_IMPORTS_LOG"], "a") as f:
        f.write("%s %d\\n" % (__name__, os.getpid()))

@udf(result_type=DataTypes.BIGINT())
def add_one(x):
    return x + 1

if __name__ == "__main__":
    t_env = TableEnvironment.create()
    t_env.get_config().set("parallelism.default", sys.argv[3])
    t = t_env.from_csv(sys.argv[1])
    r = t.select(t.id, add_one(t.value).alias("v"), t.name).write_csv(sys.argv[2])
    print("rows_out", r.rows_out)
'''


@pytest.mark.parametrize("parallelism", [1, 2, 3])
def test_udf_from_the_job_script(run_job, tmp_path, numbers_csv, parallelism):
    out = tmp_path / "out.csv"
    proc = run_job(SCRIPT_UDF, args=(numbers_csv, out, parallelism),
                   env={"JOB_IMPORTS_LOG": tmp_path / "imports.log"})
    assert proc.returncode == 0, str(proc)
    assert "rows_out 1000" in proc.stdout, str(proc)
    rows = read_csv(out)
    # Input order is kept at every parallelism.
    assert rows[0] == ["id", "v", "name"]
    assert rows[1:] == [[str(i), str(i * 10 + 1), "n%d" % i] for i in range(1, 1001)]
    # The script ran once as __main__ in the client, and once per worker
    # under a name that skips its main block.
    names = [l.split()[0] for l in (tmp_path / "imports.log").read_text().splitlines()]
    assert names.count("__main__") == 1, names
    assert names.count("__udfenv_main__") == parallelism, names
    # No temp output left beside the result.
    assert not [n for n in listing(tmp_path) if n.startswith(".")], listing(tmp_path)


def test_a_dead_jobs_temporary_output_is_removed_by_the_next_job(run_job, tmp_path, numbers_csv):
    """Beside the destination, a temporary output nobody holds a lock on was
    left by a dead job: the next job writing there removes it (a file or a
    dir). One that a live job holds, one of another user's and names that
    only look alike stay."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    dead_file, dead_dir = out_dir / ".out.csv.udfenv-AAAAAA", out_dir / ".out.csv.udfenv-BBBBBB"
    held, others = out_dir / ".out.csv.udfenv-CCCCCC", out_dir / ".out.csv.udfenv-DDDDDD"
    alike = [out_dir / n for n in (".out.csv.udfenv-EEEEEEE", ".other.csv.udfenv-FFFFFF", "out.csv.udfenv-GGGGGG")]
    for p in [dead_file, held, others] + alike:
        p.write_text("x")
    (dead_dir / "sub").mkdir(parents=True)
    (dead_dir / "sub" / "part-0.csv").write_text("x")
    os.chown(str(others), 4321, 4321)
    with open(str(held)) as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        proc = run_job(SCRIPT_UDF, args=(numbers_csv, out_dir / "out.csv", 1))
    assert proc.returncode == 0, str(proc)
    assert listing(out_dir) == sorted(["out.csv", held.name, others.name] + [p.name for p in alike])
    assert len(read_csv(out_dir / "out.csv")) == 1001


def test_udf_from_a_shipped_module(run_job, tmp_path, numbers_csv):
    lib = tmp_path / "lib"
    (lib / "mathudfs").mkdir(parents=True)
    (lib / "mathudfs" / "__init__.py").write_text(textwrap.dedent('''\
        from udfenv import DataTypes, udf

        @udf(result_type=DataTypes.STRING())
        def label(name, value):
            return "%s=%d" % (name, value)
        '''))
    body = '''
    import json
    from mathudfs import label
    if __name__ == "__main__":
        t_env = TableEnvironment.create()
        t = t_env.from_csv(sys.argv[1])
        rows = list(t.where(t.value > 9980).select(label(t.name, t.value).alias("l")).execute().collect())
        print(json.dumps([list(r) for r in rows]))
    '''
    proc = run_job(body, "-pyfs", lib, args=(numbers_csv,))
    assert proc.returncode == 0, str(proc)
    assert json.loads(proc.stdout.splitlines()[-1]) == [["n999=9990"], ["n1000=10000"]]


def test_worker_python_differs_from_the_client(run_job, tmp_path, numbers_csv, pythons):
    client = "/usr/bin/python3"
    client_version = subprocess.check_output(
        [client, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], universal_newlines=True).strip()
    others = [v for v in pythons if v != client_version]
    if not others:
        pytest.skip("no Python other than the client's %s on this machine" % client_version)
    worker_version = others[0]  # the oldest one: 3.6 where present
    body = '''
    @udf(result_type=DataTypes.STRING())
    def version(x):
        return "%d.%d" % sys.version_info[:2]

    if __name__ == "__main__":
        t_env = TableEnvironment.create()
        t_env.get_config().set_python_executable(sys.argv[2])
        t = t_env.from_csv(sys.argv[1])
        seen = set(r[0] for r in t.select(version(t.id)).execute().collect())
        print("client", "%d.%d" % sys.version_info[:2], "workers", ",".join(sorted(seen)))
    '''
    proc = run_job(body, "-pyclientexec", client, args=(numbers_csv, pythons[worker_version]))
    assert proc.returncode == 0, str(proc)
    assert proc.stdout.split()[-4:] == ["client", client_version, "workers", worker_version], str(proc)


FAILING = '''
@udf(result_type=DataTypes.BIGINT())
def fragile(x):
    if x == 4570:
        return 1 // 0
    return x

if __name__ == "__main__":
    t_env = TableEnvironment.create()
    t_env.get_config().set("parallelism.default", "2")
    t = t_env.from_csv(sys.argv[1])
    t.select(t.id, fragile(t.value)).write_csv(sys.argv[2], overwrite=True)
'''


def test_udf_exception_fails_the_job_with_traceback_and_row(run_job, tmp_path, numbers_csv):
    out = tmp_path / "out.csv"
    out.write_text("previous output\n")
    proc = run_job(FAILING, args=(numbers_csv, out))
    assert proc.returncode != 0, str(proc)
    err = proc.stderr
    assert "ZeroDivisionError" in err, str(proc)
    assert "fragile" in err, str(proc)
    assert "in.csv line 458" in err, str(proc)  # row 457 (value 4570) is on line 458
    assert '"value": 4570' in err, str(proc)
    assert "return 1 // 0" in err, str(proc)  # the UDF's own traceback line
    # Atomic output: the old file is untouched, nothing half-written beside it.
    assert out.read_text() == "previous output\n"
    assert not [n for n in listing(tmp_path) if n.startswith(".")], listing(tmp_path)


@pytest.mark.parametrize("how", ["sigkill", "os_exit"])
def test_a_dying_worker_fails_the_job_promptly(run_job, tmp_path, numbers_csv, how):
    kill = "os.kill(os.getpid(), 9)" if how == "sigkill" else "os._exit(3)"
    body = '''
    @udf(result_type=DataTypes.BIGINT())
    def doomed(x):
        if x == 5000:
            %s
        return x

    if __name__ == "__main__":
        t_env = TableEnvironment.create()
        t = t_env.from_csv(sys.argv[1])
        t.select(doomed(t.value)).write_csv(sys.argv[2])
    ''' % kill
    out = tmp_path / "out.csv"
    started = time.monotonic()
    proc = run_job(body, args=(numbers_csv, out), timeout=60)
    assert time.monotonic() - started < 30, "the failure took too long to notice"
    assert proc.returncode != 0, str(proc)
    assert "died" in proc.stderr, str(proc)
    assert ("signal 9" in proc.stderr) if how == "sigkill" else ("status 3" in proc.stderr), str(proc)
    assert not out.exists()


def test_wrong_result_type_is_a_clear_error(run_job, tmp_path, numbers_csv):
    body = '''
    @udf(result_type=DataTypes.BIGINT())
    def not_an_int(x):
        return "seven" if x == 70 else x

    if __name__ == "__main__":
        t_env = TableEnvironment.create()
        t = t_env.from_csv(sys.argv[1])
        t.select(not_an_int(t.value)).write_csv(sys.argv[2])
    '''
    proc = run_job(body, args=(numbers_csv, tmp_path / "out.csv"))
    assert proc.returncode != 0, str(proc)
    assert "not_an_int" in proc.stderr and "BIGINT" in proc.stderr and "'seven'" in proc.stderr, str(proc)
    assert "in.csv line 8" in proc.stderr, str(proc)
    assert not (tmp_path / "out.csv").exists()


def test_bad_csv_row_names_file_line_and_column(run_job, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("id,value\n1,10\n2,20\n3,x30\n4,40\n")
    body = '''
    @udf(result_type=DataTypes.BIGINT())
    def twice(x):
        return 2 * x

    if __name__ == "__main__":
        t_env = TableEnvironment.create()
        t = t_env.from_csv(sys.argv[1], schema=[("id", DataTypes.BIGINT()), ("value", DataTypes.BIGINT())])
        t.select(twice(t.value)).write_csv(sys.argv[2])
    '''
    proc = run_job(body, args=(src, tmp_path / "out.csv"))
    assert proc.returncode != 0, str(proc)
    assert "in.csv line 4" in proc.stderr and "'value'" in proc.stderr and "x30" in proc.stderr, str(proc)
    assert not (tmp_path / "out.csv").exists()


def test_empty_input_gives_an_empty_output(run_job, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("id,value\n")
    body = '''
    @udf(result_type=DataTypes.BIGINT())
    def twice(x):
        return 2 * x

    if __name__ == "__main__":
        t_env = TableEnvironment.create()
        t = t_env.from_csv(sys.argv[1], schema=[("id", DataTypes.BIGINT()), ("value", DataTypes.BIGINT())])
        r = t.select(t.id, twice(t.value).alias("v")).write_csv(sys.argv[2])
        print("rows", r.rows_in, r.rows_out, len(list(t.execute().collect())))
    '''
    proc = run_job(body, args=(src, tmp_path / "out.csv"))
    assert proc.returncode == 0, str(proc)
    assert proc.stdout.split()[-4:] == ["rows", "0", "0", "0"], str(proc)
    assert (tmp_path / "out.csv").read_text() == "id,v\n"


def test_typed_null_literals_and_doubles_in_a_job(run_job, tmp_path):
    src = write_csv(tmp_path / "in.csv", ["id", "x"], [[1, "2"], [2, "0.5"], [3, ""]])
    body = '''
    @udf(result_type=DataTypes.STRING())
    def kind(x):
        return type(x).__name__

    if __name__ == "__main__":
        t_env = TableEnvironment.create()
        t = t_env.from_csv(sys.argv[1], schema=[("id", DataTypes.BIGINT()), ("x", DataTypes.DOUBLE())])
        rows = t.select(t.id, lit(None, DataTypes.DOUBLE()).alias("n"), (t.x + lit(None, DataTypes.DOUBLE())).alias("s"),
                        kind(t.x).alias("k")).execute().collect()
        print("rows", [tuple(r) for r in rows])
    '''
    proc = run_job(body, args=(src,))
    assert proc.returncode == 0, str(proc)
    # A DOUBLE column reaches a UDF as floats, an integral "2" included.
    assert proc.stdout.strip().splitlines()[-1] == (
        "rows [(1, None, None, 'float'), (2, None, None, 'float'), (3, None, None, 'NoneType')]"), str(proc)


def test_existing_output_is_refused_without_overwrite(run_job, tmp_path, numbers_csv):
    out = tmp_path / "out.csv"
    out.write_text("keep me\n")
    proc = run_job(SCRIPT_UDF, args=(numbers_csv, out, 1))
    assert proc.returncode != 0, str(proc)
    assert "exists" in proc.stderr and "overwrite" in proc.stderr, str(proc)
    assert out.read_text() == "keep me\n"


def test_json_lines_parts_where_map_flat_map_and_a_directory_sink(run_job, tmp_path):
    src = tmp_path / "events"
    src.mkdir()
    (src / "part-1.jsonl").write_text('{"user": "ann", "text": "a b c", "n": 1}\n'
                                      '{"user": "bob", "text": "", "n": 2}\n')
    (src / "part-2.jsonl").write_text('{"user": "cid", "text": "x y", "n": 3}\n'
                                      '\n{"user": "dan", "text": "z", "n": null}\n')
    (src / "_SUCCESS").write_text("")
    (src / ".hidden.jsonl").write_text("not json\n")
    body = '''
    @udf(result_type=DataTypes.ROW([DataTypes.FIELD("user", DataTypes.STRING()),
                                    DataTypes.FIELD("words", DataTypes.BIGINT())]))
    def count_words(row):
        return Row(row.user.upper(), len(row.text.split()))

    @udtf(result_types=[DataTypes.STRING(), DataTypes.BIGINT()])
    def explode(row):
        for i in range(row.words):
            yield row.user, i

    if __name__ == "__main__":
        t_env = TableEnvironment.create()
        t_env.get_config().set("parallelism.default", "2")
        t = t_env.from_json_lines(sys.argv[1])
        t = t.where(t.n.is_not_null).map(count_words).flat_map(explode)
        r = t.write_json_lines(sys.argv[2], directory=True)
        print("rows", r.rows_in, r.rows_out)
    '''
    out = tmp_path / "out"
    proc = run_job(body, args=(src, out))
    assert proc.returncode == 0, str(proc)
    assert proc.stdout.split()[-3:] == ["rows", "4", "5"], str(proc)
    parts = listing(out)
    assert parts and all(p.startswith("part-") and p.endswith(".jsonl") for p in parts), parts
    got = []
    for p in parts:
        got += [json.loads(l) for l in (out / p).read_text().splitlines()]
    assert sorted((r["f0"], r["f1"]) for r in got) == [
        ("ANN", 0), ("ANN", 1), ("ANN", 2), ("CID", 0), ("CID", 1)]


def test_run_merges_cli_dependencies_and_config_with_the_program(run_job, tmp_path, numbers_csv):
    a = tmp_path / "a"
    b = tmp_path / "b"
    for d, tag in ((a, "cli"), (b, "program")):
        d.mkdir()
        (d / "which.py").write_text("TAG = %r\n" % tag)
        (d / ("only_%s.py" % tag)).write_text("OK = True\n")
    body = '''
    @udf(result_type=DataTypes.STRING())
    def probe(x):
        import which, only_cli, only_program
        return "%s:%d" % (which.TAG, os.getpid())

    if __name__ == "__main__":
        t_env = TableEnvironment.create()
        # the program's file goes in front of the CLI's
        t_env.add_python_file(sys.argv[2])
        t = t_env.from_csv(sys.argv[1])
        vals = [r[0] for r in t.select(probe(t.id)).execute().collect()]
        print("tags", sorted(set(v.split(":")[0] for v in vals)), "workers", len(set(vals)))
        print("parallelism", t_env.get_config().get("parallelism.default"))
    '''
    proc = run_job(body, "-pyfs", a, "-D", "parallelism.default=2", "-D", "python.fn-execution.bundle.size=100",
                   args=(numbers_csv, b))
    assert proc.returncode == 0, str(proc)
    assert "tags ['program'] workers 2" in proc.stdout, str(proc)
    assert "parallelism 2" in proc.stdout, str(proc)


def test_verbose_shows_setup_timings_and_worker_command_lines(run_job, tmp_path, numbers_csv):
    out = tmp_path / "out.csv"
    proc = run_job(SCRIPT_UDF, "-v", args=(numbers_csv, out, 2))
    assert proc.returncode == 0, str(proc)
    assert "worker 0:" in proc.stderr and "worker 1:" in proc.stderr, str(proc)
    assert "udfenv._worker" in proc.stderr, str(proc)


def test_quiet_when_not_a_terminal(run_job, tmp_path, numbers_csv):
    proc = run_job(SCRIPT_UDF, args=(numbers_csv, tmp_path / "out.csv", 1))
    assert proc.returncode == 0, str(proc)
    assert proc.stderr == "", str(proc)


def test_live_progress_on_a_terminal(udfenv_bin, udfenv_env, tmp_path, numbers_csv):
    job = write_job(tmp_path, SCRIPT_UDF)
    master, slave = pty.openpty()
    p = subprocess.Popen([str(udfenv_bin), "run", "-py", str(job), str(numbers_csv),
                          str(tmp_path / "out.csv"), "2"],
                         cwd=str(tmp_path), env=udfenv_env, stdin=slave, stdout=subprocess.PIPE,
                         stderr=slave, close_fds=True)
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 0.5)
        if r:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif p.poll() is not None:
            break
    p.wait(timeout=60)
    os.close(master)
    shown = b"".join(chunks).decode("utf-8", "replace")
    assert p.returncode == 0, shown
    assert "rows" in shown and "1,000" in shown.replace("1000", "1,000"), shown


def test_ctrl_c_cancels_the_job_and_leaves_no_output(udfenv_bin, udfenv_env, tmp_path, numbers_csv):
    started = tmp_path / "started"
    body = '''
    import os, time
    @udf(result_type=DataTypes.BIGINT())
    def slow(x):
        open(%r, "a").close()  # a worker is in the middle of the job
        time.sleep(0.05)
        return x

    if __name__ == "__main__":
        t_env = TableEnvironment.create()
        t = t_env.from_csv(sys.argv[1])
        t.select(slow(t.value)).write_csv(sys.argv[2])
    ''' % str(started)
    job = write_job(tmp_path, body)
    out = tmp_path / "out.csv"
    p = subprocess.Popen([str(udfenv_bin), "run", "-py", str(job), str(numbers_csv), str(out)],
                         cwd=str(tmp_path), env=udfenv_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         universal_newlines=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while not started.exists() and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert started.exists(), "no worker started a row (exit status %s)" % p.poll()
    os.killpg(p.pid, signal.SIGINT)
    try:
        _, err = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        pytest.fail("Ctrl-C did not stop the job")
    assert p.returncode != 0
    assert "KeyboardInterrupt" in err, err
    assert not out.exists()
    assert not [n for n in listing(tmp_path) if n.startswith(".")], listing(tmp_path)


def test_workers_live_under_io_tmp_dirs(run_job, tmp_path, numbers_csv):
    root = tmp_path / "my-tmp"
    root.mkdir()
    body = '''
    @udf(result_type=DataTypes.STRING())
    def where_am_i(x):
        return os.getcwd()

    if __name__ == "__main__":
        t_env = TableEnvironment.create()
        t = t_env.from_csv(sys.argv[1])
        print("cwd", sorted(set(r[0] for r in t.select(where_am_i(t.id)).execute().collect())))
    '''
    proc = run_job(body, "-D", "io.tmp.dirs=%s,/elsewhere" % root, args=(numbers_csv,))
    assert proc.returncode == 0, str(proc)
    cwds = eval(proc.stdout.split("cwd", 1)[1])
    assert len(cwds) == 1 and cwds[0].startswith(str(root) + "/"), str(proc)
    assert os.listdir(str(root)) == [], "the job left its private dir behind"


def test_workers_see_only_what_was_shipped(run_job, tmp_path, numbers_csv):
    # udfenv run puts helpers.py's dir on the client's PYTHONPATH; the
    # workers must not inherit that: sibling.py next to it was never shipped.
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "helpers.py").write_text("def f():\n    import sibling\n    return sibling.X\n")
    (lib / "sibling.py").write_text("X = 1\n")
    body = '''
    import helpers

    @udf(result_type=DataTypes.BIGINT())
    def probe(x):
        return helpers.f()

    if __name__ == "__main__":
        assert helpers.f() == 1  # the client sees the original dir
        t_env = TableEnvironment.create()
        t = t_env.from_csv(sys.argv[1])
        list(t.select(probe(t.id)).execute().collect())
    '''
    proc = run_job(body, "-pyfs", lib / "helpers.py", args=(numbers_csv,))
    assert proc.returncode != 0, str(proc)
    assert "No module named 'sibling'" in proc.stderr, str(proc)


def test_job_options_after_the_program_go_to_the_program(run_job, tmp_path):
    body = '''
    print("args", sys.argv[1:])
    '''
    proc = run_job(body, args=("--input", "in.csv", "-v"))
    assert proc.returncode == 0, str(proc)
    assert "args ['--input', 'in.csv', '-v']" in proc.stdout, str(proc)


def test_missing_dependencies_are_refused_when_declared(run_job, tmp_path):
    body = '''
    t_env = TableEnvironment.create()
    for call in (lambda: t_env.add_python_file("nope.py"),
                 lambda: t_env.add_python_archive("nope.zip", "x"),
                 lambda: t_env.set_python_requirements("nope.txt"),
                 lambda: t_env.set_python_requirements(__file__, "no-cache-dir")):
        try:
            call()
        except FileNotFoundError as e:
            print("refused:", e)
    print("config", sorted(k for k in t_env.get_config().to_dict() if k.startswith("python.")))
    '''
    proc = run_job(body)
    assert proc.returncode == 0, str(proc)
    out = proc.stdout
    assert out.count("refused:") == 4, str(proc)
    assert "python file" in out and "nope.py" in out and "no-cache-dir" in out, str(proc)
    assert "config []" in out, str(proc)


def test_run_creates_a_missing_io_tmp_dirs(run_job, tmp_path):
    root = tmp_path / "not" / "yet"
    proc = run_job('print("ran")\n', "-D", "io.tmp.dirs=%s" % root)
    assert proc.returncode == 0, str(proc)
    assert "ran" in proc.stdout and root.is_dir() and os.listdir(str(root)) == [], str(proc)


def test_an_ignored_sigint_stays_ignored(udfenv_bin, udfenv_env, tmp_path, numbers_csv):
    # A program started with SIGINT ignored (a shell's background job) must
    # not have its job cancelled by one.
    body = '''
    import time
    @udf(result_type=DataTypes.BIGINT())
    def slow(x):
        time.sleep(0.002)
        return x

    if __name__ == "__main__":
        t_env = TableEnvironment.create()
        t = t_env.from_csv(sys.argv[1])
        print("rows", t.select(slow(t.value)).write_csv(sys.argv[2]).rows_out)
    '''
    job = write_job(tmp_path, body)
    env = dict(udfenv_env, PYTHONPATH=str(udfenv_bin.parent / "python"))
    p = subprocess.Popen(["/usr/bin/python3", str(job), str(numbers_csv), str(tmp_path / "out.csv")],
                         cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         universal_newlines=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    time.sleep(1.0)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, out + err
    assert "rows 1000" in out, out + err


def test_client_imports_shipped_zip_and_directory(run_job, tmp_path):
    import zipfile
    with zipfile.ZipFile(str(tmp_path / "zipped.zip"), "w") as z:
        z.writestr("zmod.py", "WHO = 'zip'\n")
    (tmp_path / "dirlib").mkdir()
    (tmp_path / "dirlib" / "dmod.py").write_text("WHO = 'dir'\n")
    (tmp_path / "extra").mkdir()
    (tmp_path / "extra" / "pmod.py").write_text("WHO = 'pythonpath'\n")
    body = '''
    import zmod, dmod, pmod
    print("client", zmod.WHO, dmod.WHO, pmod.WHO)
    '''
    proc = run_job(body, "-pyfs", "%s,%s" % (tmp_path / "zipped.zip", tmp_path / "dirlib"),
                   "-pypath", tmp_path / "extra")
    assert proc.returncode == 0, str(proc)
    assert "client zip dir pythonpath" in proc.stdout, str(proc)
