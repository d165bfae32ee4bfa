"""Fault injection (issue 7): file system calls that fail, and processes
killed outright, while udfenv extracts archives, installs wheels, stages,
copies a worker's archives and writes a job's output.

The faults come from an LD_PRELOAD shim (tests/fixtures/faultshim.c, built
for the session with cc): the Nth matching call of a group (write, rename,
mkdir, fsync, create), and every later one, fails with ENOSPC or EIO, as on
a disk that filled up or went bad. A clean run with the shim counting
first gives the number of matching calls, so every point tried is one the
run really reaches; $UDFENV_FAULT_POINTS of them (default 3) are spread
evenly over that range, first and last included. A path filter keeps the
faults in udfenv's own writes (the cache's build dir, the store, the
output's dir, the temp root); an exe filter keeps them out of the Python
children udfenv starts where those would make the count vary (the
byte-compile of sitecustomize.py). LD_PRELOAD reaches every child: the
extraction helper (a fork) counts in the same sequence through a shared
counter file.

After each fault: a non-zero exit; one error line (`udfenv: error: `, or a
job's `udfenv.JobError: `) naming what failed and the system's reason; no
cache entry that is incomplete or differs from a clean build, no temp
build or private dir left; no output, temp output or half a store left;
and a run without the fault then succeeds with the right result.

Killing: the job's driver (the client process, where the library runs the
job) is SIGKILLed at random points, $UDFENV_FAULT_KILL_ROUNDS times
(default 4; the points come from $UDFENV_FAULT_SEED, default random and
shown on failure); and a worker is SIGKILLed in the middle of a batch.
"""

import csv
import os
import random
import re
import shutil
import signal
import time

import pytest

import faultshim as fs
import procs
import pyartifacts as pa
import streamload
from cachetree import (MARKER, check_entries, drop_entries, entries_dir, listdir, read_json, reference_entries,
                       tmp_builds)
from conftest import ERROR_PREFIX, check_error

POINTS = int(os.environ.get("UDFENV_FAULT_POINTS", "3"))
KILL_ROUNDS = int(os.environ.get("UDFENV_FAULT_KILL_ROUNDS", "4"))
REASONS = {"ENOSPC": "No space left on device", "EIO": "Input/output error"}
ERRNOS = sorted(REASONS)
OPS = ["write", "rename", "mkdir", "fsync", "create"]
KEY_IN_TMP = re.compile(r"/v1/tmp/([0-9a-f]{64})\.")
JOB_ERROR = "udfenv.JobError: "


# --------------------------------------------------------------------------
# the shim and the injection loop


@pytest.fixture(scope="session")
def shim_so(tmp_path_factory):
    try:
        return fs.build(tmp_path_factory.mktemp("faultshim"))
    except RuntimeError as e:
        pytest.skip("cannot build the fault shim: %s" % e)


@pytest.fixture
def shim(shim_so, tmp_path):
    return fs.Shim(shim_so, tmp_path / "shim")


def inject(shim, run, op, err, reset, failed, succeeded, path, exe=None, tolerated=None):
    """Count the calls of `op` a clean run makes under `path`, then for each
    chosen point: reset(), run with the fault there, check with
    failed(proc, call, ctx) (or, for a call `tolerated(call)` names, with
    succeeded(proc, ctx) and a warning naming the reason), then run clean
    and check with succeeded. run(env) -> a finished run."""
    reset()
    proc = run(shim.env(op, "none", path=path, exe=exe))
    succeeded(proc, "the counting run (no fault): ")
    calls = shim.calls()
    assert calls, "a clean run makes no %s call under %s" % (op, path)
    for n in fs.points(len(calls), POINTS):
        call = calls[n - 1]
        ctx = "%s:%s at call %d of %d (%s %s): " % (op, err, n, len(calls), call.op, call.path)
        reset()
        proc = run(shim.env(op, err, nth=n, path=path, exe=exe))
        hit = [c for c in shim.calls() if c.failed]
        assert hit and hit[0].n == n, ctx + "the fault was not injected where counted (the run made " \
            "other calls than the counting run): %s\n%s" % (shim.calls(), proc)
        if tolerated and tolerated(call):
            succeeded(proc, ctx + "a tolerated failure: ")
            assert ("udfenv: warning: " in proc.stderr and REASONS[err] in proc.stderr), \
                ctx + "succeeded without a warning naming the reason\n%s" % proc
        else:
            failed(proc, call, ctx)
        reset()
        succeeded(run(None), ctx + "the next run, without the fault: ")


def error_line(proc, ctx, code=None, prefix=ERROR_PREFIX):
    """The one error line: `udfenv: error: ...` (check_error's contract), or
    for a job, its `udfenv.JobError: ...` line."""
    if prefix == ERROR_PREFIX:
        try:
            return check_error(proc, code)
        except AssertionError as e:
            raise AssertionError(ctx + str(e))
    assert proc.returncode != 0, ctx + "succeeded\n%s" % proc
    lines = [l for l in proc.stderr.splitlines() if l.startswith(prefix)]
    assert len(lines) == 1, ctx + "expected exactly one %r line\n%s" % (prefix, proc)
    return lines[0]


def assert_names(line, ctx, reason, *names):
    assert reason in line, ctx + "the error does not give the reason %r: %s" % (reason, line)
    assert any(str(n) in line for n in names), \
        ctx + "the error names none of %s: %s" % ([str(n) for n in names], line)


# --------------------------------------------------------------------------
# artifacts


@pytest.fixture(scope="module")
def art(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    pa.make_zip(root / "data.zip", {"d/x.txt": "hello x\n", "d/e/y.txt": "hello y\n", "top.txt": "top\n"},
                symlinks={"d/link": "x.txt"})
    wheels = root / "wheels"
    pa.make_wheel(wheels, "alpha", "1.0",
                  {"alpha/__init__.py": "from beta import B\nA = 'alpha-1.0 ' + B\n", "alpha/sub/m.py": "X = 1\n"},
                  console_scripts={"alpha-run": "alpha:main"}, data={"data/share/alpha.txt": "d\n"},
                  requires=["beta>=1"])
    pa.make_wheel(wheels, "beta", "2.0", {"beta.py": "B = 'beta-2.0'\n"}, pth={"beta.pth": "import sys\n"})
    (root / "requirements.txt").write_text("-r more.txt\n")
    (root / "more.txt").write_text("alpha==1.0\n")
    (root / "mod.py").write_text("VALUE = 'mod-1'\n")
    pa.write_tree(root / "pkgdir", {"pkg/__init__.py": "X = 1\n", "pkg/q.py": "Y = 2\n"})
    return root


def reqs(art):
    return "%s#%s" % (art / "requirements.txt", art / "wheels")


# --------------------------------------------------------------------------
# 1. building cache entries: an archive extracted, wheels installed natively


def cache_scenario(run_udfenv, tmp_root, tmp_path, deps, command, expected, labels=()):
    """run(env), reset, failed, succeeded and the filter of a cache build:
    `udfenv exec` of `deps` running `command`, whose output is `expected`.
    An error names the cache, the entry built, or one of `labels` (how the
    messages call an input: the requirements' cache dir is "archive '<its
    name>'")."""
    cache = tmp_path / "cache"

    def run(env):
        return run_udfenv("exec", "--cache-dir", cache, *deps, "--", *command, env=env, timeout=300)

    first = run(None)
    assert first.returncode == 0 and first.stdout == expected, str(first)
    reference = reference_entries(cache)
    names = {k: read_json(entries_dir(cache) / k / MARKER)["name"] for k in reference}

    def failed(proc, call, ctx):
        line = error_line(proc, ctx, 125)
        key = KEY_IN_TMP.search(call.path)
        built = names[key.group(1)] if key else None
        if "ENOSPC" in ctx:
            # docs/cache.md: a full disk during a build says so, names the cache and what was built.
            assert_names(line, ctx, REASONS["ENOSPC"], cache)
            assert "full filesystem" in line and built and "'%s'" % built in line, \
                ctx + "a full disk is not explained with the entry being built (%s): %s" % (built, line)
        else:
            assert_names(line, ctx, REASONS["EIO"], cache, *([built] if built else []) + list(labels))
        check_entries(cache, reference, ctx)
        assert tmp_builds(cache) == [], ctx + "the failed build was left: %s" % tmp_builds(cache)
        assert listdir(cache / "v1" / "trash") == [], ctx + "trash left"
        assert listdir(tmp_root) == [], ctx + "a private dir was left: %s" % listdir(tmp_root)

    def succeeded(proc, ctx):
        assert proc.returncode == 0 and proc.stdout == expected, ctx + str(proc)
        assert check_entries(cache, reference, ctx) == sorted(reference), ctx + "entries missing"

    return run, (lambda: drop_entries(cache)), failed, succeeded, str(cache / "v1" / "tmp")


@pytest.mark.parametrize("err", ERRNOS)
@pytest.mark.parametrize("op", OPS)
def test_fault_while_extracting_an_archive(run_udfenv, udfenv_bin, tmp_root, tmp_path, shim, art, op, err):
    run, reset, failed, succeeded, path = cache_scenario(
        run_udfenv, tmp_root, tmp_path, ["-pyarch", "%s#data" % (art / "data.zip")],
        ["cat", "data/d/e/y.txt", "data/d/link", "data/top.txt"], "hello y\nhello x\ntop\n")
    inject(shim, run, op, err, reset, failed, succeeded, path, exe=udfenv_bin)


INSTALL_PROBE = "import alpha, os, sys; print(alpha.A, os.path.basename(sys.prefix) != '', 'beta' in sys.modules)"


@pytest.mark.parametrize("err", ERRNOS)
@pytest.mark.parametrize("op", OPS)
def test_fault_while_installing_wheels(run_udfenv, udfenv_bin, tmp_root, tmp_path, shim, art, default_python,
                                       op, err):
    # The real interpreter, not a pyenv shim: probed once, then remembered.
    run, reset, failed, succeeded, path = cache_scenario(
        run_udfenv, tmp_root, tmp_path, ["-pyexec", default_python.path, "-pyreq", reqs(art)],
        ["python", "-c", INSTALL_PROBE], "alpha-1.0 beta-2.0 True True\n", labels=["archive 'wheels'"])
    inject(shim, run, op, err, reset, failed, succeeded, path, exe=udfenv_bin)


# --------------------------------------------------------------------------
# 2. a worker's private copy of the archives (udfenv.cache.copy-archives)


@pytest.mark.parametrize("err", ERRNOS)
@pytest.mark.parametrize("op", ["write", "mkdir", "create"])
def test_fault_while_copying_archives_for_a_worker(run_udfenv, udfenv_bin, tmp_root, tmp_path, shim, art, op,
                                                  err):
    run, reset, failed_build, succeeded, _ = cache_scenario(
        run_udfenv, tmp_root, tmp_path,
        ["--copy-archives", "-pyarch", "%s#data" % (art / "data.zip")],
        ["cat", "data/d/e/y.txt", "data/d/link"], "hello y\nhello x\n")
    cache = tmp_path / "cache"
    reference = reference_entries(cache)

    def failed(proc, call, ctx):
        line = error_line(proc, ctx, 125)
        assert_names(line, ctx, REASONS[err], tmp_root)
        # What it copied from is in the cache still: a path it names there must be a real one.
        for named in re.findall(r"'([^']*)'", line):
            if named.startswith(str(cache) + "/"):
                assert os.path.lexists(named), ctx + "the error names '%s', which is not there: %s" % (
                    named, line)
        assert listdir(tmp_root) == [], ctx + "a private dir was left: %s" % listdir(tmp_root)
        assert check_entries(cache, reference, ctx) == sorted(reference), ctx + "the copy changed the cache"

    # The entries stay: only the copy into the private dir is under test.
    inject(shim, run, op, err, lambda: None, failed, succeeded, str(tmp_root), exe=udfenv_bin)


# --------------------------------------------------------------------------
# 3. staging into a store


# A shared store exists: the run makes no directory.
STAGE_OPS = [(store, op) for store in ("new", "requirements") for op in OPS] + \
            [("shared", op) for op in OPS if op != "mkdir"]


@pytest.mark.parametrize("err", ERRNOS)
@pytest.mark.parametrize("store,op", STAGE_OPS)
def test_fault_while_staging(run_udfenv, tmp_path, shim, art, store, op, err):
    """`udfenv stage` into a new dir (a failure removes it), or into one whose
    store already holds blobs of an earlier staging (a failure removes only
    the blobs it added, docs/cli.md); "requirements": only a requirements
    file with an include (staged as a bundle dir of ours), so that every
    one of its few calls is tried."""
    out = tmp_path / "staged"
    deps = ["-pyfs", art / "mod.py", "-pyfs", art / "pkgdir", "-pyarch", "%s#data" % (art / "data.zip"),
            "-pyreq", reqs(art)]
    if store == "requirements":
        deps = ["-pyreq", art / "requirements.txt"]

    def run(env):
        return run_udfenv("stage", *deps, "--out", out, env=env)

    proc = run(None)
    assert proc.returncode == 0, str(proc)
    ref_manifest, ref_store = read_json(out / "manifest.json"), listdir(out / "store")

    def reset():
        shutil.rmtree(str(out), ignore_errors=True)
        if store == "shared":
            earlier = run_udfenv("stage", "-pyfs", art / "mod.py", "--out", out)
            assert earlier.returncode == 0, str(earlier)
            os.unlink(str(out / "manifest.json"))
    reset()
    before = listdir(out / "store") if store == "shared" else None

    def failed(proc, call, ctx):
        line = error_line(proc, ctx, 1)
        assert_names(line, ctx, REASONS[err], out, art / "pkgdir", art / "wheels", art / "requirements.txt")
        # The bundle of a requirements file and its includes is a temp dir of ours: not a name to give.
        assert "udfenv-requirements-" not in line or str(art / "requirements.txt") in line, \
            ctx + "the error names only a temp dir of udfenv's: %s" % line
        if store != "shared":
            assert not out.exists(), ctx + "the dir this run created was left: %s" % list(out.rglob("*"))
        else:
            assert listdir(out) == ["store"] and listdir(out / "store") == before, \
                ctx + "the shared store changed: %s (was %s)" % (listdir(out / "store"), before)

    def succeeded(proc, ctx):
        assert proc.returncode == 0 and proc.stdout.strip() == str(out / "manifest.json"), ctx + str(proc)
        assert read_json(out / "manifest.json") == ref_manifest, ctx + "another manifest"
        assert listdir(out / "store") == ref_store, ctx + "another store"
        for blob in ref_store:
            assert streamload.sha256_file(out / "store" / blob) == blob, ctx + "blob %s holds other bytes" % blob

    inject(shim, run, op, err, reset, failed, succeeded, str(out))


@pytest.mark.parametrize("op", ["mkdir", "create", "write"])
def test_fault_while_bundling_a_requirements_file_names_it(run_udfenv, tmp_path, shim, art, op):
    """Each call making the bundle of a requirements file and its includes
    (a temp dir of ours) fails in turn: the error names the requirements file."""
    req, out = art / "requirements.txt", tmp_path / "out"
    proc = run_udfenv("stage", "-pyreq", req, "--out", out, env=shim.env(op, "none", path="udfenv-requirements-"))
    assert proc.returncode == 0, str(proc)
    shutil.rmtree(str(out))
    count = len(shim.calls())
    assert count > 0, "no %s call in the bundle was counted" % op
    for n in range(1, count + 1):
        proc = run_udfenv("stage", "-pyreq", req, "--out", out,
                          env=shim.env(op, "ENOSPC", nth=n, path="udfenv-requirements-"))
        ctx = "%s call %d of %d in the bundle: " % (op, n, count)
        line = error_line(proc, ctx, 1)
        assert_names(line, ctx, REASONS["ENOSPC"], req)
        assert "requirements file '%s'" % req in line, ctx + line
        assert any(c.failed for c in shim.calls()), ctx + "no call failed"
        assert not out.exists(), ctx + "the dir this run created was left"


# --------------------------------------------------------------------------
# 4. writing a job's output

JOB = '''\
import sys
from udfenv import TableEnvironment, DataTypes, udf

@udf(result_type=DataTypes.BIGINT())
def add_one(x):
    return x + 1

if __name__ == "__main__":
    src, out, kind = sys.argv[1:4]
    t_env = TableEnvironment.create()
    # One worker for a directory: one part, so the same calls every run.
    t_env.get_config().set("parallelism.default", "1" if kind == "dir" else "2")
    t = t_env.from_csv(src)
    r = t.select(t.id, add_one(t.value).alias("v"), t.name)
    if kind == "dir":
        r.write_csv(out, overwrite=True, directory=True)
    else:
        r.write_csv(out)
'''

JOB_ROWS = 30000  # about 1 MB of output: several writes of the sink's 256 KiB buffer


def write_input(path, rows=JOB_ROWS):
    with open(str(path), "w") as f:
        f.write("id,name,value\n")
        for i in range(rows):
            f.write("%d,name-%d,%d\n" % (i, i, i * 10))
    return path


def expected_rows(rows=JOB_ROWS):
    return [["id", "v", "name"]] + [[str(i), str(i * 10 + 1), "name-%d" % i] for i in range(rows)]


@pytest.fixture(scope="module")
def job_input(tmp_path_factory):
    return write_input(tmp_path_factory.mktemp("job-input") / "in.csv")


SINK_OPS = [("file", op) for op in ("write", "rename", "fsync", "create")] + \
           [("dir", op) for op in OPS]


@pytest.mark.parametrize("err", ERRNOS)
@pytest.mark.parametrize("sink,op", SINK_OPS)
def test_fault_while_writing_a_job_output(run_udfenv, tmp_path, shim, job_input, sink, op, err):
    """A new output file, or an existing output directory replaced
    (overwrite=True): the old one must stay as it was on a failure."""
    job = tmp_path / "job.py"
    job.write_text(JOB)
    outdir = tmp_path / "outdir"
    out = outdir / ("out.csv" if sink == "file" else "out")
    old = "id,v,name\n-1,-1,old\n"

    def reset():
        shutil.rmtree(str(outdir), ignore_errors=True)
        outdir.mkdir()
        if sink == "dir":
            out.mkdir()
            (out / "part-00000.csv").write_text(old)

    def run(env):
        return run_udfenv("run", "-py", job, job_input, out, sink, cwd=tmp_path, env=env)

    def failed(proc, call, ctx):
        line = error_line(proc, ctx, prefix=JOB_ERROR)
        assert_names(line, ctx, REASONS[err], outdir)
        if sink == "file":
            assert listdir(outdir) == [], ctx + "output left: %s" % listdir(outdir)
        else:
            assert listdir(outdir) == ["out"] and listdir(out) == ["part-00000.csv"] and \
                (out / "part-00000.csv").read_text() == old, \
                ctx + "the old output changed: %s %s" % (listdir(outdir), listdir(out))

    def succeeded(proc, ctx):
        assert proc.returncode == 0, ctx + str(proc)
        assert listdir(outdir) == [out.name], ctx + "beside the output: %s" % listdir(outdir)
        part = out if sink == "file" else out / "part-00000.csv"
        if sink == "dir":
            assert listdir(out) == ["part-00000.csv"], ctx + str(listdir(out))
        with open(str(part), newline="") as f:
            assert list(csv.reader(f)) == expected_rows(), ctx + "wrong output"

    # The output's dir is synced after the rename, for durability only: once
    # the output is in place, a failure there is a warning, not a failed job.
    def tolerated(call):
        return call.op == "fsync" and call.path == str(outdir)

    inject(shim, run, op, err, reset, failed, succeeded, str(outdir), tolerated=tolerated)


# --------------------------------------------------------------------------
# 5. the job's driver killed outright

KILL_JOB = '''\
import os, sys, time
from udfenv import TableEnvironment, DataTypes, udf

_blocked = []


@udf(result_type=DataTypes.BIGINT())
def slow(x):
    if os.environ.get("FAULT_BLOCK") and not _blocked:
        # Each worker, in its first batch, for good: it says so, then waits
        # (at most a minute) for a release that never comes.
        _blocked.append(x)
        open(os.path.join(os.environ["FAULT_BLOCK"], "started-%d" % os.getpid()), "w").close()
        deadline = time.time() + 60
        while time.time() < deadline:
            time.sleep(0.05)
    elif x % 2000 == 0:
        time.sleep(0.01)
    return x + 1

if __name__ == "__main__":
    t_env = TableEnvironment.create()
    t_env.get_config().set("parallelism.default", "2")
    t_env.get_config().set("python.fn-execution.bundle.size", "500")
    t = t_env.from_csv(sys.argv[1])
    t.select(t.id, slow(t.value).alias("v"), t.name).write_csv(sys.argv[2])
'''

KILL_ROWS = 20000


@pytest.fixture
def kill_job(tmp_path):
    job = tmp_path / "job.py"
    job.write_text(KILL_JOB)
    src = write_input(tmp_path / "in.csv", KILL_ROWS)
    outdir = tmp_path / "outdir"
    outdir.mkdir()
    return job, src, outdir


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def check_job_output(out, ctx=""):
    with open(str(out), newline="") as f:
        got = list(csv.reader(f))
    assert got == [["id", "v", "name"]] + [[str(i), str(i * 10 + 1), "name-%d" % i] for i in range(KILL_ROWS)], \
        ctx + "wrong output"


def gc_reclaims_private_dirs(run_udfenv, tmp_root, ctx=""):
    """What dead drivers left under the temp root (their workers' private
    dirs) goes with `udfenv cache gc` (docs/cache.md)."""
    proc = run_udfenv("cache", "gc")
    assert proc.returncode == 0, ctx + str(proc)
    assert listdir(tmp_root) == [], ctx + "gc left the private dirs of dead jobs: %s" % listdir(tmp_root)


def test_sigkill_of_the_job_driver_at_random_points(run_udfenv, spawn, tmp_path, tmp_root, kill_job):
    seed = int(os.environ.get("UDFENV_FAULT_SEED") or random.randrange(1 << 30))
    rng = random.Random(seed)
    job, src, outdir = kill_job
    out = outdir / "out.csv"

    proc = run_udfenv("run", "-py", job, src, out, cwd=tmp_path)
    assert proc.returncode == 0, str(proc)
    check_job_output(out)
    os.unlink(str(out))
    # The first run also built the environment; the rounds find it in the cache.
    t0 = time.time()
    proc = run_udfenv("run", "-py", job, src, out, cwd=tmp_path)
    job_time = time.time() - t0
    assert proc.returncode == 0, str(proc)
    os.unlink(str(out))

    outcomes = []
    for r in range(KILL_ROUNDS):
        ctx = "round %d (seed %d): " % (r, seed)
        delay = job_time * (r + rng.random()) / KILL_ROUNDS
        p = spawn("run", "-py", job, src, out, cwd=tmp_path)
        driver = procs.wait_until(lambda: children(p.pid) or p.poll() is not None, 30, "the driver to start")
        time.sleep(delay)
        killed = driver is not True and procs.alive(driver[0])
        if killed:
            os.kill(driver[0], signal.SIGKILL)
        res = procs.finish(p, 60)
        outcomes.append((round(delay, 3), res.returncode))
        ctx += "SIGKILL at %.3f s of %.3f: " % (delay, job_time)
        if res.returncode != 0:
            assert res.returncode == 128 + signal.SIGKILL, ctx + str(res)
        if out.exists():
            # Done (or at least published: the output is atomic) before the kill.
            check_job_output(out, ctx)
            os.unlink(str(out))
        # Its workers (in private dirs under the temp root) die with it, even those busy in a UDF.
        procs.wait_gone(tmp_root, 10, find=procs.processes_in, ctx=ctx)

        res = run_udfenv("run", "-py", job, src, out, cwd=tmp_path)
        assert res.returncode == 0, ctx + "the next run: " + str(res)
        check_job_output(out, ctx + "the next run: ")
        # The next job to write there removed the dead one's temporary output.
        assert listdir(outdir) == ["out.csv"], ctx + "beside the output: %s" % listdir(outdir)
        os.unlink(str(out))
    assert sum(rc != 0 for _, rc in outcomes) >= max(1, KILL_ROUNDS // 2), \
        "most jobs finished before their kill (seed %d): (delay, status) %s" % (seed, outcomes)
    gc_reclaims_private_dirs(run_udfenv, tmp_root)


def test_workers_busy_in_a_udf_die_with_a_killed_driver(run_udfenv, spawn, tmp_path, tmp_root, kill_job):
    job, src, outdir = kill_job
    block = tmp_path / "block"
    block.mkdir()
    p = spawn("run", "-py", job, src, outdir / "out.csv", cwd=tmp_path, env={"FAULT_BLOCK": block})
    procs.wait_until(lambda: listdir(block) or p.poll() is not None, 60, "a worker to block in its UDF")
    assert p.poll() is None, str(procs.finish(p, 10))
    driver = children(p.pid)
    workers = procs.processes_in(tmp_root)
    assert len(driver) == 1 and len(workers) == 2, (driver, workers)
    os.kill(driver[0], signal.SIGKILL)
    res = procs.finish(p, 30)
    assert res.returncode == 128 + signal.SIGKILL, str(res)
    # Not when their UDF gives up (a minute): now.
    procs.wait_gone(tmp_root, 10, find=procs.processes_in, ctx="after the driver's SIGKILL: ")
    assert listdir(outdir) in ([], [n for n in listdir(outdir) if n.startswith(".out.csv.udfenv-")])
    res = run_udfenv("run", "-py", job, src, outdir / "out.csv", cwd=tmp_path)
    assert res.returncode == 0, str(res)
    check_job_output(outdir / "out.csv")
    assert listdir(outdir) == ["out.csv"], listdir(outdir)
    gc_reclaims_private_dirs(run_udfenv, tmp_root)


# --------------------------------------------------------------------------
# 6. a worker killed in the middle of a batch


def test_a_worker_killed_mid_batch_fails_the_job_promptly(run_udfenv, spawn, tmp_path, tmp_root, kill_job):
    """test_jobs.py has a worker that kills itself; here another process
    kills it while both workers are inside a batch (blocked in the UDF):
    the job fails at once naming that worker, the other worker is stopped
    although its UDF would go on for a minute, nothing is left."""
    job, src, outdir = kill_job
    out = outdir / "out.csv"
    block = tmp_path / "block"
    block.mkdir()
    p = spawn("run", "-py", job, src, out, cwd=tmp_path, env={"FAULT_BLOCK": block})
    procs.wait_until(lambda: len(listdir(block)) == 2 or p.poll() is not None, 60, "both workers to block")
    assert p.poll() is None, str(procs.finish(p, 10))
    victim, other = sorted(int(n.split("-")[1]) for n in listdir(block))
    t0 = time.time()
    os.kill(victim, signal.SIGKILL)
    res = procs.finish(p, 60)
    took = time.time() - t0
    assert took < 30, "the job took %.1f s to fail (its other worker's UDF blocks for 60 s)" % took
    assert res.returncode == 1, str(res)
    line = error_line(res, "", prefix=JOB_ERROR)
    assert "(pid %d)" % victim in line and "signal 9" in line and "worker" in line, \
        "the error does not name the killed worker (pid %d): %s" % (victim, line)
    assert not procs.alive(other), "the other worker (pid %d) still runs" % other
    procs.wait_gone(tmp_root, 10, find=procs.processes_in, ctx="after the job failed: ")
    assert listdir(outdir) == [], "output left: %s" % listdir(outdir)
    assert listdir(tmp_root) == [], "private dirs left: %s" % listdir(tmp_root)

    res = run_udfenv("run", "-py", job, src, out, cwd=tmp_path)
    assert res.returncode == 0, str(res)
    check_job_output(out)
    assert listdir(outdir) == ["out.csv"]
