#!/usr/bin/env python3
"""The node cache in one run: warm start, a cold herd, and a second job.

    python3 bench/node_cache.py [--runs N] [--trials T] [--herd K]
                                [--python PATH] [--udfenv PATH] [--client PATH] [--json PATH]

1. Warm start. `udfenv exec --cache-dir C -pyfs udfs.py -pyfs lib
   -pyreq requirements.txt#wheelhouse -pyarch data.zip#data
   -pyarch venv.zip#venv -pyexec venv/<name>/bin/python --
   venv/<name>/bin/python -c pass` with every entry already in the cache,
   against the same extracted interpreter run directly (`-c pass`, its
   path from --report's "python"). Interleaved, N runs each; the medians
   are compared. Goal: overhead <= 5 ms. The same loop times a few more
   commands that split the overhead into udfenv's own process and the
   interpreter's extra start-up in the worker's environment.
2. Cold herd. K `udfenv exec` started together on an empty cache (a fresh
   dir per trial) for the same environment, requirements installed by pip
   from the wheelhouse, against one alone on an empty cache; wall time
   until all have finished; median of T trials. Goal: herd <= 1.3x single.
   Every run's --report must show exactly one "built" per entry key.
3. Second job. A Python API job (set_python_requirements with the
   wheelhouse, the venv archive as worker interpreter, a UDF importing a
   required package, a small CSV) run twice with `udfenv run` in a fresh
   cache. Goal: the second job's install phase is a cache hit (0 built)
   taking ~0 s (<= 10 ms).

Inputs are built locally with tests/fixtures/pyartifacts.py (no PyPI): the
venv is `python -m venv --copies` of --python with pip, the wheels are
written by hand. udfenv remembers a local file's digest only once it has
been unchanged for 2 s, so the bench waits that out before warming up.
Every command runs without the caller's PYTHON*, PIP_* and UDFENV_*
variables (PYTHONDONTWRITEBYTECODE, for one, changes the worker's start-up:
without it the first worker writes .pyc files into the cache entries).
The cold caches are removed only at the end: deleting one while the next
run builds slows that run down on a file system mounted with discard.

The exit status is 1 when a correctness check fails (a run fails, an entry
built more than once, a warm run that rebuilds, wrong job output, a private
dir left behind); a missed performance goal is printed as MISSED and does
not change the exit status.
"""

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import tempfile
import time

from _common import (DIGEST_SETTLE_S, Bench, add_json_arg, add_udfenv_arg, built_at,
                     check_executables, finish, machine_info, result, rmtree, say, summary_table,
                     write_result)
import pyartifacts  # on sys.path through _common

WARM_GOAL_MS = 5.0
HERD_GOAL = 1.3
INSTALL_GOAL_S = 0.010

WHEELS = (  # (project, module, requires)
    ("alpha-pkg", "alpha", None),
    ("beta-pkg", "beta", ["alpha-pkg"]),
    ("gamma-pkg", "gamma", None),
)

CHECK_IMPORTS = ("import alpha, beta, gamma, udfs, mypkg.util; "
                 "assert open('data/data.txt').read().startswith('row 0')")

JOB = '''\
import json
import sys

from udfenv import DataTypes, TableEnvironment, udf


@udf(result_type=DataTypes.STRING())
def tagged(name):
    import alpha  # installed on the workers from the wheelhouse
    return "%s:%s" % (alpha.VALUE, name)


if __name__ == "__main__":
    src, out, req, wheelhouse, venv_zip, interp = sys.argv[1:7]
    t_env = TableEnvironment.create()
    t_env.set_python_requirements(req, wheelhouse)
    t_env.add_python_archive(venv_zip, "venv")
    t_env.get_config().set_python_executable(interp)
    t = t_env.from_csv(src)
    res = t.select(t.id, tagged(t.name).alias("tagged")).write_csv(out, overwrite=True)
    print(json.dumps({"seconds": res.seconds, "setup_seconds": res.setup_seconds,
                      "workers": res.workers, "setup_report": res.setup_report}))
'''


def run(argv, env, cwd=None, what=None):
    """Run argv to completion; return its stdout, or raise RuntimeError with its stderr."""
    try:
        p = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True)
    except OSError as e:
        raise RuntimeError("%s cannot run: %s" % (what or argv[0], e))
    if p.returncode != 0:
        raise RuntimeError("%s failed (exit %d): %s\n%s" % (
            what or argv[0], p.returncode, " ".join(shlex.quote(a) for a in argv),
            "\n".join(p.stderr.splitlines()[-25:])))
    return p.stdout


def timed(argv, env, cwd=None):
    """Seconds argv took, stdout and stderr discarded; RuntimeError if it failed."""
    t0 = time.perf_counter()
    rc = subprocess.call(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - t0
    if rc != 0:
        run(argv, env, cwd)  # again, to show its error
        raise RuntimeError("%s exited %d" % (argv[0], rc))
    return elapsed


def ms(seconds):
    return "%.2f ms" % (seconds * 1e3)


# --------------------------------------------------------------------------
# machine and inputs


def describe_machine(args, worker_version):
    client = "missing"
    if os.path.exists(args.client):
        client = run([args.client, "-c", "import platform; print(platform.python_version())"],
                     None).strip()
    machine_info(
        "python: worker %s (%s), job client %s (%s), bench %s" % (
            worker_version, args.python, client, args.client, platform.python_version()),
        "udfenv: %s (built %s, %d shared libraries); work dir %s on %s" % (
            args.udfenv, built_at(args.udfenv), count_libs(args.udfenv), tempfile.gettempdir(),
            filesystem_of(tempfile.gettempdir())))


def filesystem_of(path):
    """'<fstype> (<options>)' of the mount holding path, from /proc/mounts."""
    best, found = "", "?"
    path = os.path.realpath(path)
    try:
        with open("/proc/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 4 and (path == parts[1] or path.startswith(parts[1].rstrip("/") + "/")) \
                        and len(parts[1]) >= len(best):
                    best, found = parts[1], "%s (%s)" % (parts[2], parts[3])
    except OSError:
        pass
    return found


def make_inputs(b, venv_name):
    """Write every input into the work dir; return the dict of their paths."""
    w = b.work
    p = {
        "udfs": os.path.join(w, "udfs.py"),
        "lib": os.path.join(w, "lib"),
        "wheelhouse": os.path.join(w, "wheelhouse"),
        "req": os.path.join(w, "requirements.txt"),
        "data": os.path.join(w, "data.zip"),
        "venv": os.path.join(w, "venv.zip"),
        "csv": os.path.join(w, "in.csv"),
        "job": os.path.join(w, "job.py"),
    }
    pyartifacts.write_tree(w, {"udfs.py": "def f(x):\n    return x\n"})
    pyartifacts.write_tree(p["lib"], {"mypkg/__init__.py": "NAME = 'mypkg'\n",
                                      "mypkg/util.py": "def twice(x):\n    return 2 * x\n"})
    for project, module, requires in WHEELS:
        pyartifacts.make_wheel(p["wheelhouse"], project, "1.0",
                               {module + "/__init__.py": "VALUE = %r\n" % module},
                               requires=requires)
    with open(p["req"], "w") as f:
        f.write("".join("%s==1.0\n" % project for project, _, _ in WHEELS))
    pyartifacts.make_data_zip(p["data"], {"data.txt": "".join("row %d\n" % i for i in range(1000))})
    pyartifacts.make_venv_zip(b.args.python, p["venv"], venv_name, with_pip=True)
    with open(p["csv"], "w") as f:
        f.write("id,name\n" + "".join("%d,name-%d\n" % (i, i) for i in range(1000)))
    with open(p["job"], "w") as f:
        f.write(JOB)
    return p


def exec_argv(b, p, venv_name, cache, command, report=None, tmp_root=None):
    interp = "venv/%s/bin/python" % venv_name
    argv = [b.args.udfenv, "exec", "--cache-dir", cache]
    if tmp_root:
        argv += ["--tmp-root", tmp_root]
    if report:
        argv += ["--report", report]
    argv += ["-pyfs", p["udfs"], "-pyfs", p["lib"], "-pyreq", p["req"] + "#" + p["wheelhouse"],
             "-pyarch", p["data"] + "#data", "-pyarch", p["venv"] + "#venv", "-pyexec", interp, "--"]
    if command == "python":
        return argv + [interp, "-c", "pass"]
    if command == "check":
        return argv + [interp, "-c", CHECK_IMPORTS]
    return argv + list(command)


def load_report(b, path, what):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        b.check(False, "%s: no readable --report (%s)" % (what, e))
        return None


# --------------------------------------------------------------------------
# 1. warm start


def warm_start(b, p, venv_name):
    cache = os.path.join(b.work, "warm-cache")
    rep = os.path.join(b.work, "warm-report.json")
    say()
    say("== 1. warm start ==")
    t0 = time.perf_counter()
    run(exec_argv(b, p, venv_name, cache, "check", rep), b.env, b.work, "cold exec (warm-up)")
    say("warm-up: first exec built the cache in %.2f s" % (time.perf_counter() - t0))
    first = load_report(b, rep, "warm-up exec")
    run(exec_argv(b, p, venv_name, cache, "python", rep), b.env, b.work, "warm exec")
    report = load_report(b, rep, "warm exec")
    if first is None or report is None:
        return None
    python = report["python"]
    b.check(os.path.isabs(python) and os.access(python, os.X_OK),
            "warm report's python %r is an executable absolute path" % python)
    b.check(all(e["outcome"] == "built" for e in first["entries"]),
            "first exec on an empty cache built every entry: %s" % outcomes(first))
    b.check(all(e["outcome"] == "hit" for e in report["entries"]),
            "warm exec found every entry ready (hit): %s" % outcomes(report))
    if report["phases"]["fetch"]["built"]:
        say("NOTE: the warm exec hashed %d input(s) again (fetch built); their digests were "
            "not remembered" % report["phases"]["fetch"]["built"])

    # The worker's environment, to run the interpreter in it without udfenv.
    out = run(exec_argv(b, p, venv_name, cache, ["/usr/bin/env", "-0"]), b.env, b.work, "exec env")
    worker_env = dict(kv.split("=", 1) for kv in out.split("\0") if "=" in kv)

    cases = [  # (label, argv, env)
        ("bare", [python, "-c", "pass"], b.env),
        ("udfenv", exec_argv(b, p, venv_name, cache, "python"), b.env),
        ("true", ["/bin/true"], b.env),
        ("help", [b.args.udfenv, "--help"], b.env),
        ("exec_true", exec_argv(b, p, venv_name, cache, ["/bin/true"]), b.env),
        ("py_worker_env", [python, "-c", "pass"], worker_env),
    ]
    # The private dir's mkdir/rmdir cost depends on the file system: compare with tmpfs.
    shm = None
    if filesystem_of("/dev/shm").startswith("tmpfs") and os.access("/dev/shm", os.W_OK) and \
            not filesystem_of(b.tmp_root).startswith("tmpfs"):
        shm = tempfile.mkdtemp(prefix="udfenv-bench-", dir="/dev/shm")
        cases.append(("exec_true_shm", exec_argv(b, p, venv_name, cache, ["/bin/true"], tmp_root=shm),
                      b.env))
    try:
        times = time_cases(b, cases)
    finally:
        if shm:
            b.check(not os.listdir(shm), "udfenv left private dirs behind in %s" % shm)
            rmtree(shm)
    med = {k: statistics.median(v) for k, v in times.items()}
    overhead = med["udfenv"] - med["bare"]
    paired = statistics.median(u - r for u, r in zip(times["udfenv"], times["bare"]))

    say("medians of %d interleaved runs each:" % b.args.runs)
    say("  %-66s %10s" % ("bare: <cache>/.../%s/bin/python -c pass" % venv_name, ms(med["bare"])))
    say("  %-66s %10s" % ("udfenv exec --cache-dir C <deps> -- venv/%s/bin/python -c pass" % venv_name,
                          ms(med["udfenv"])))
    say("  overhead %s (median of paired differences %s), ratio %.2fx" % (
        ms(overhead), ms(paired), med["udfenv"] / med["bare"]))

    ph = report["phases"]
    say("one warm --report: setup %s in all" % ms(report["seconds"]))
    say("  %-8s %10s %5s %7s %6s" % ("phase", "time", "hit", "waited", "built"))
    for name in ("fetch", "extract", "install"):
        say("  %-8s %10s %5d %7d %6d" % (name, ms(ph[name]["seconds"]), ph[name]["hit"],
                                         ph[name]["waited"], ph[name]["built"]))
    say("  %-8s %10s %s worker(s)" % ("spawn", ms(ph["spawn"]["seconds"]), ph["spawn"]["workers"]))
    say("  entries: %s" % outcomes(report))

    own = med["exec_true"] - med["true"]
    startup = med["help"] - med["true"]
    py_env = med["py_worker_env"] - med["bare"]
    say("where the overhead goes (same interleaved loop):")
    say("  %-66s %10s" % ("/bin/true", ms(med["true"])))
    say("  %-66s %10s  +%s: process start, loading its shared libraries" % (
        "udfenv --help", ms(med["help"]), ms(startup)))
    say("  %-66s %10s  +%s: setup, spawn, cleanup" % (
        "udfenv exec --cache-dir C <deps> -- /bin/true", ms(med["exec_true"]),
        ms(med["exec_true"] - med["help"])))
    say("  %-66s %10s  +%s over bare: PYTHONPATH, sitecustomize" % (
        "python -c pass in the worker's env, without udfenv", ms(med["py_worker_env"]), ms(py_env)))
    if "exec_true_shm" in med:
        say("  %-66s %10s  %+.2f ms: private dir on tmpfs, not %s" % (
            "udfenv exec --tmp-root /dev/shm/... <deps> -- /bin/true", ms(med["exec_true_shm"]),
            (med["exec_true_shm"] - med["exec_true"]) * 1e3, filesystem_of(b.tmp_root).split()[0]))
    say("  overhead %s = udfenv's own process %s + python in the worker env %s + rest %s" % (
        ms(overhead), ms(own), ms(py_env), ms(overhead - own - py_env)))
    return {"bare": med["bare"], "udfenv": med["udfenv"], "overhead": overhead}


def time_cases(b, cases):
    """{label: [seconds]}: each case once to warm up, then N rounds, interleaved."""
    for _, argv, env in cases:  # page cache, the interpreter memo
        timed(argv, env, b.work)
    times = {label: [] for label, _, _ in cases}
    for i in range(b.args.runs):
        order = cases if i % 2 == 0 else cases[::-1]  # no case always runs right after another
        for label, argv, env in order:
            times[label].append(timed(argv, env, b.work))
    return times


def entry_name(e, cache):
    """An entry's name, with the cache dir in it (an interpreter path) shortened."""
    name = e["name"]
    if cache and name.startswith(cache.rstrip("/") + "/"):
        parts = name.split("/")
        name = "<cache>/.../" + "/".join(parts[-3:])
    return "%s %s" % (e["kind"], name)


def outcomes(report):
    return ", ".join("%s %s" % (entry_name(e, report.get("cache")), e["outcome"])
                     for e in report["entries"])


def count_libs(binary):
    """How many shared libraries the dynamic loader maps for binary (0 if ldd is missing)."""
    try:
        out = subprocess.run(["ldd", binary], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             universal_newlines=True).stdout
    except OSError:
        return 0
    return sum(1 for line in out.splitlines() if "=>" in line)


# --------------------------------------------------------------------------
# 2. cold herd


def cold_herd(b, p, venv_name):
    say()
    say("== 2. cold herd: %d at once vs 1 alone, each on an empty cache ==" % b.args.herd)
    root = os.path.join(b.work, "cold")
    os.makedirs(root)
    singles, herds, tables = [], [], []
    for t in range(b.args.trials):
        kinds = ("single", "herd") if t % 2 == 0 else ("herd", "single")
        for kind in kinds:
            n = 1 if kind == "single" else b.args.herd
            # Removed only at the end: deleting a cache (ext4 with discard) slows the next run.
            cache = os.path.join(root, "%d-%s-cache" % (t, kind))
            reports = [os.path.join(root, "%d-%s-%d.json" % (t, kind, i)) for i in range(n)]
            errs = [os.path.join(root, "%d-%s-%d.err" % (t, kind, i)) for i in range(n)]
            procs = []
            t0 = time.perf_counter()
            for i in range(n):
                with open(errs[i], "w") as err:
                    procs.append(subprocess.Popen(
                        exec_argv(b, p, venv_name, cache, "check", reports[i]), env=b.env,
                        cwd=b.work, stdout=subprocess.DEVNULL, stderr=err))
            codes = [proc.wait() for proc in procs]
            elapsed = time.perf_counter() - t0
            for i, code in enumerate(codes):
                if not b.check(code == 0, "trial %d %s run %d exited %d" % (t + 1, kind, i, code)):
                    with open(errs[i]) as f:
                        say(f.read()[-2000:])
            (singles if kind == "single" else herds).append(elapsed)
            reps = [load_report(b, r, "trial %d %s run %d" % (t + 1, kind, i))
                    for i, r in enumerate(reports)]
            table = builds_per_key(b, [r for r in reps if r is not None], "trial %d %s" % (t + 1, kind))
            if kind == "herd":
                tables.append(table)
            elif table:
                b.check(all(c["built"] == 1 for c in table.values()),
                        "trial %d single built every entry" % (t + 1))
        say("trial %d: single %.2f s, herd of %d %.2f s (%.2fx)" % (
            t + 1, singles[-1], b.args.herd, herds[-1], herds[-1] / singles[-1]))

    say("outcomes per entry across the %d runs of each herd (built/waited/hit; exactly one "
        "build per key required):" % b.args.herd)
    names = sorted({k for table in tables for k in table})
    width = max([len(n) for n in names] + [5])
    say("  %-*s  %s" % (width, "entry", "  ".join("trial %-6d" % (t + 1) for t in range(len(tables)))))
    for name in names:
        cells = []
        for table in tables:
            c = table.get(name)
            cells.append("%d/%d/%-6d" % (c["built"], c["waited"], c["hit"]) if c else "-" * 12)
        say("  %-*s  %s" % (width, name, "  ".join("%-12s" % c for c in cells)))
    s, h = statistics.median(singles), statistics.median(herds)
    say("median of %d trials: single %.2f s, herd %.2f s, ratio %.2fx" % (len(singles), s, h, h / s))
    return {"single": s, "herd": h}


def builds_per_key(b, reports, what):
    """{"kind name": {built, waited, hit}} over reports; checks one key and one build per entry."""
    table, keys = {}, {}
    for r in reports:
        for e in r["entries"]:
            name = entry_name(e, r.get("cache"))
            keys.setdefault(name, set()).add(e["key"])
            c = table.setdefault(name, {"built": 0, "waited": 0, "hit": 0})
            if b.check(e["outcome"] in c, "%s: entry %s has outcome %r" % (what, name, e["outcome"])):
                c[e["outcome"]] += 1
    for name, c in sorted(table.items()):
        b.check(len(keys[name]) == 1, "%s: entry %s has one key across the runs, not %s" % (
            what, name, sorted(keys[name])))
        b.check(c["built"] == 1, "%s: entry %s built exactly once, not %d times" % (
            what, name, c["built"]))
        b.check(sum(c.values()) == len(reports), "%s: entry %s in every report" % (what, name))
    return table


# --------------------------------------------------------------------------
# 3. second job


def second_job(b, p, venv_name):
    say()
    say("== 3. the same job twice in a fresh cache (udfenv run -py job.py) ==")
    run([b.args.client, "-c", "import udfenv"], b.env, b.work,
        "%s -c 'import udfenv' (run scripts/bootstrap, or give --client)" % b.args.client)
    env = dict(b.env)
    env["UDFENV_CACHE_DIR"] = os.path.join(b.work, "job-cache")
    out = os.path.join(b.work, "out.csv")
    expected = "id,tagged\n" + "".join("%d,alpha:name-%d\n" % (i, i) for i in range(1000))
    jobs = []
    for n in (1, 2):
        argv = [b.args.udfenv, "run", "-pyclientexec", b.args.client, "-py", p["job"], p["csv"], out,
                p["req"], p["wheelhouse"], p["venv"], "venv/%s/bin/python" % venv_name]
        t0 = time.perf_counter()
        stdout = run(argv, env, b.work, "job %d" % n)
        wall = time.perf_counter() - t0
        result = json.loads(stdout.strip().splitlines()[-1])
        with open(out) as f:
            b.check(f.read() == expected, "job %d wrote the expected %s" % (n, out))
        report = result["setup_report"]
        if not b.check(report is not None, "job %d has a TableResult.setup_report" % n):
            return None
        ph = report["phases"]
        req = [e for e in report["entries"] if e["kind"] == "requirements"]
        jobs.append({"wall": wall, "setup": result["setup_seconds"], "install": ph["install"],
                     "req": req[0]["outcome"] if req else None})
        say("job %d: wall %.3f s, setup %.4f s; install %.4f s (hit %d, waited %d, built %d); "
            "extract %.4f s (built %d); spawn %.4f s" % (
                n, wall, result["setup_seconds"], ph["install"]["seconds"], ph["install"]["hit"],
                ph["install"]["waited"], ph["install"]["built"], ph["extract"]["seconds"],
                ph["extract"]["built"], ph["spawn"]["seconds"]))
        say("  setup_report: %s" % json.dumps(report, sort_keys=True))
    b.check(jobs[0]["req"] == "built", "job 1 built its requirements (outcome %r)" % jobs[0]["req"])
    b.check(jobs[1]["req"] == "hit" and jobs[1]["install"]["built"] == 0,
            "job 2's install is a cache hit with 0 built (outcome %r, built %d)" % (
                jobs[1]["req"], jobs[1]["install"]["built"]))
    return jobs


# --------------------------------------------------------------------------


def summary(b, warm, herd, jobs):
    """Print the summary table; return the results for --json."""
    rows, results = [], []
    if warm:
        met = warm["overhead"] * 1e3 <= WARM_GOAL_MS
        results.append(result(
            "warm exec from dependency flags, python -c pass (median of %d)" % b.args.runs,
            warm["udfenv"], "s", "bare venv interpreter -c pass", warm["bare"],
            note="overhead %+.2f ms; goal <= %g ms: %s" % (
                warm["overhead"] * 1e3, WARM_GOAL_MS, "met" if met else "MISSED")))
        rows.append(("warm start, median of %d" % b.args.runs, ms(warm["udfenv"]),
                     ms(warm["bare"]) + " bare", "%.2fx" % (warm["udfenv"] / warm["bare"]),
                     "overhead <= %g ms" % WARM_GOAL_MS,
                     "%s: overhead %s" % ("met" if met else "MISSED", ms(warm["overhead"]))))
    if herd:
        ratio = herd["herd"] / herd["single"]
        rows.append(("cold herd of %d, median of %d" % (b.args.herd, b.args.trials),
                     "%.2f s" % herd["herd"], "%.2f s single" % herd["single"], "%.2fx" % ratio,
                     "<= %.1fx single" % HERD_GOAL, "met" if ratio <= HERD_GOAL else "MISSED"))
        results.append(result(
            "cold herd: %d execs at once, empty cache (median of %d)" % (b.args.herd, b.args.trials),
            herd["herd"], "s", "1 udfenv exec alone, empty cache", herd["single"],
            note="goal <= %.1fx single: %s" % (HERD_GOAL, "met" if ratio <= HERD_GOAL else "MISSED")))
    if jobs:
        i1, i2 = jobs[0]["install"], jobs[1]["install"]
        met = i2["built"] == 0 and i2["hit"] >= 1 and i2["seconds"] <= INSTALL_GOAL_S
        rows.append(("second job: install phase", "%.4f s, %d built" % (i2["seconds"], i2["built"]),
                     "%.4f s, %d built (job 1)" % (i1["seconds"], i1["built"]),
                     "%.1ex" % (i2["seconds"] / i1["seconds"]) if i1["seconds"] else "-",
                     "0 built, <= %g s" % INSTALL_GOAL_S, "met" if met else "MISSED"))
        results.append(result(
            "second job's install phase (%d built)" % i2["built"], i2["seconds"], "s",
            "first job's install phase (udfenv, %d built)" % i1["built"], i1["seconds"],
            note="goal 0 built, <= %g s: %s" % (INSTALL_GOAL_S, "met" if met else "MISSED")))
        rows.append(("second job: wall time", "%.3f s" % jobs[1]["wall"],
                     "%.3f s (job 1)" % jobs[0]["wall"], "%.2fx" % (jobs[1]["wall"] / jobs[0]["wall"]),
                     "-", "(info)"))
        results.append(result("second job's wall time", jobs[1]["wall"], "s",
                              "first job's wall time (udfenv)", jobs[0]["wall"]))
    summary_table("summary", rows)
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=41, help="warm-start runs of each command (41)")
    ap.add_argument("--trials", type=int, default=3, help="cold-herd trials (3)")
    ap.add_argument("--herd", type=int, default=8, help="execs started together (8)")
    ap.add_argument("--python", default="/root/.pyenv/versions/3.8.18/bin/python3.8",
                    help="interpreter zipped as the worker venv (default: pyenv 3.8)")
    add_udfenv_arg(ap)
    ap.add_argument("--client", default="/usr/bin/python3",
                    help="client interpreter of the job; must import udfenv (scripts/bootstrap)")
    add_json_arg(ap)
    args = ap.parse_args()
    if args.runs < 1 or args.trials < 1 or args.herd < 2:
        ap.error("--runs and --trials must be >= 1, --herd >= 2")
    check_executables(args)

    version = run([args.python, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                  None).strip()
    venv_name = "py" + "".join(version.split(".")[:2])
    describe_machine(args, version)
    started = time.perf_counter()
    work = tempfile.mkdtemp(prefix="udfenv-bench-cache-")
    b = Bench(args, work)
    warm = herd = jobs = None
    try:
        t0 = time.perf_counter()
        p = make_inputs(b, venv_name)
        say("inputs: venv.zip %d KB (with pip), %d wheels, built in %.1f s" % (
            os.path.getsize(p["venv"]) // 1024, len(WHEELS), time.perf_counter() - t0))
        time.sleep(DIGEST_SETTLE_S)
        warm = warm_start(b, p, venv_name)
        herd = cold_herd(b, p, venv_name)
        jobs = second_job(b, p, venv_name)
        left = os.listdir(b.tmp_root)
        b.check(not left, "udfenv left private dirs behind in its temp root: %s" % left)
    except (RuntimeError, OSError, ValueError, KeyError) as e:
        b.check(False, "%s: %s" % (type(e).__name__, e))
    finally:
        rmtree(work)
    results = summary(b, warm, herd, jobs)
    write_result(args.json, "node_cache", results, b.failures, params={
        "runs": args.runs, "trials": args.trials, "herd": args.herd, "python": args.python,
        "client": args.client})
    finish(b, started)


if __name__ == "__main__":
    main()
