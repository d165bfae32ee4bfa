#!/usr/bin/env python3
"""Rows per second of a UDF job vs a plain Python script, in one run.

The job: read a CSV of N rows (id BIGINT, name STRING, value BIGINT), apply a
trivial scalar UDF (add_one) to `value`, write a CSV of all three columns.
The baseline: a single-process Python script doing the same with the csv
module (read, convert, call the same function, write). Both use the same
interpreter. Each configuration runs --repeat times; the median counts.

    bench/job_throughput.py [--rows 2000000] [--repeat 3] [--python PATH] [--json PATH]

Prints rows/s for the baseline and for udfenv at parallelism 1 and 2, and
each ratio to the baseline (goals: >= 1.0x at p1, >= 1.7x at p2).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from _common import add_json_arg, add_udfenv_arg, check_executables, result, rmtree, write_result

UDFS = '''\
def add_one(x):
    return x + 1
'''

PLAIN = '''\
import csv, sys
from udfs_plain import add_one

with open(sys.argv[1], newline="") as fin, open(sys.argv[2], "w", newline="") as fout:
    r = csv.reader(fin)
    w = csv.writer(fout, lineterminator="\\n")
    w.writerow(next(r))
    for row in r:
        w.writerow((int(row[0]), row[1], add_one(int(row[2]))))
'''

JOB = '''\
import sys
from udfenv import TableEnvironment, DataTypes, udf
import udfs_plain

add_one = udf(udfs_plain.add_one, result_type=DataTypes.BIGINT())

if __name__ == "__main__":
    t_env = TableEnvironment.create()
    t_env.get_config().set("parallelism.default", sys.argv[3])
    t_env.get_config().set_python_executable(sys.argv[4])
    t = t_env.from_csv(sys.argv[1], schema=[("id", DataTypes.BIGINT()), ("name", DataTypes.STRING()),
                                            ("value", DataTypes.BIGINT())])
    t.select(t.id, t.name, add_one(t.value).alias("value")).write_csv(sys.argv[2], overwrite=True)
'''


GOALS = {"p1": 1.0, "p2": 1.7}  # udfenv's rows/s over the plain script's


def make_input(path, rows):
    with open(path, "w") as f:
        f.write("id,name,value\n")
        chunk = []
        for i in range(rows):
            chunk.append("%d,name-%d,%d\n" % (i, i % 9973, (i * 7919) % 1000003))
            if len(chunk) == 100000:
                f.write("".join(chunk))
                chunk = []
        f.write("".join(chunk))


def timed(argv, env, cwd):
    start = time.monotonic()
    proc = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit("benchmark run failed: %s\n%s%s" % (" ".join(argv), proc.stdout, proc.stderr))
    return elapsed


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2000000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--python", default="/usr/bin/python3", help="client, worker and baseline interpreter")
    add_udfenv_arg(ap)
    add_json_arg(ap)
    a = ap.parse_args()
    check_executables(a)

    work = tempfile.mkdtemp(prefix="udfenv-bench-job-")
    try:
        src = os.path.join(work, "in.csv")
        make_input(src, a.rows)
        for name, text in (("udfs_plain.py", UDFS), ("plain.py", PLAIN), ("job.py", JOB)):
            with open(os.path.join(work, name), "w") as f:
                f.write(text)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") and k != "PYTHONPATH"}
        env["PYTHONPATH"] = work
        env["UDFENV_TMPDIR"] = work
        runs = {"plain": [], "p1": [], "p2": []}
        outputs = {}
        for _ in range(a.repeat):  # interleaved, so drift hits every configuration alike
            out = os.path.join(work, "plain.csv")
            runs["plain"].append(timed([a.python, "plain.py", src, out], env, work))
            outputs["plain"] = out
            for p in (1, 2):
                out = os.path.join(work, "p%d.csv" % p)
                runs["p%d" % p].append(timed(
                    [a.udfenv, "run", "-pyclientexec", a.python, "-pyfs", os.path.join(work, "udfs_plain.py"),
                     "-py", "job.py", src, out, str(p), a.python], env, work))
                outputs["p%d" % p] = out
        with open(outputs["plain"], "rb") as f:
            expected = f.read()
        for k in ("p1", "p2"):
            with open(outputs[k], "rb") as f:
                if f.read() != expected:
                    sys.exit("output of %s differs from the plain script's" % k)
        base = statistics.median(runs["plain"])
        print("job throughput: %d rows, median of %d, interpreter %s" % (a.rows, a.repeat, a.python))
        print("%-28s %10s %14s %8s" % ("run", "seconds", "rows/s", "ratio"))
        for k, label in (("plain", "plain Python csv script"), ("p1", "udfenv parallelism 1"),
                         ("p2", "udfenv parallelism 2")):
            t = statistics.median(runs[k])
            print("%-28s %10.2f %14.0f %7.2fx" % (label, t, a.rows / t, base / t))
        results = []
        for k, goal in (("p1", GOALS["p1"]), ("p2", GOALS["p2"])):
            r = base / statistics.median(runs[k])
            results.append(result(
                "UDF job, %d rows, parallelism %s (median of %d)" % (a.rows, k[1:], a.repeat),
                a.rows / statistics.median(runs[k]), "rows/s", "plain Python csv script",
                a.rows / base,
                note="goal >= %.1fx: %s" % (goal, "met" if r >= goal else "MISSED")))
        write_result(a.json, "job_throughput", results,
                     params={"rows": a.rows, "repeat": a.repeat, "python": a.python})
    finally:
        rmtree(work)


if __name__ == "__main__":
    main()
