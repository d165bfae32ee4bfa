#!/usr/bin/env python3
"""A CPU-bound UDF job on 1 and 2 Slurm nodes against the local executor, in one run.

    python3 bench/slurm_nodes.py [--rows N] [--bound B] [--runs K] [--udfenv PATH] [--json PATH]

The job is examples/slurm/job.py (each row counts the primes below its bound
by trial division: pure Python work) over N rows (default 400) with bounds
around B (default 30000). Interleaved, K times each (default 3):

  local          udfenv run -py job.py              (one worker on this machine)
  slurm, 1 node  udfenv run --target slurm ...      (1 node, 1 task)
  slurm, 2 nodes udfenv run --target slurm ...      (2 nodes, 2 tasks)

on the cluster scripts/slurm-local runs (started for the bench and
stopped after when it was not up). An untimed first round fills the
caches, so the figures are the jobs' own time plus the executor's overhead
(staging, sbatch, following, merging the output). Medians of the wall
times; the ratios are to the local run. Each Slurm run starts once every
node is idle again (see wait_idle).

The two "nodes" of slurm-local are slurmd daemons on this one machine:
they share its cores. 2 nodes can at best halve the time when the machine
has 2 free cores; on a real cluster each node brings its own. Every output
must equal the local one (a failed check makes the exit status 1).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from _common import (REPO, Bench, add_json_arg, add_udfenv_arg, built_at, check_executables, finish,
                     machine_info, result, rmtree, say, summary_table, write_result)
import slurmlocal  # on sys.path through _common

JOB = os.path.join(REPO, "examples", "slurm", "job.py")


def wait_idle(env, timeout=60):
    """Until every node is idle: a job submitted while the last one's nodes
    still complete waits about 3 s for the scheduler's next pass (measured
    on slurm-local), which is the cluster's latency, not udfenv's."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        states = subprocess.run(["sinfo", "-h", "-N", "-o", "%t"], stdout=subprocess.PIPE, env=env,
                                universal_newlines=True).stdout.split()
        if states and all(s == "idle" for s in states):
            return
        time.sleep(0.1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=400)
    ap.add_argument("--bound", type=int, default=30000)
    ap.add_argument("--runs", type=int, default=3)
    add_udfenv_arg(ap)
    add_json_arg(ap)
    args = ap.parse_args()
    check_executables(args)
    started = time.perf_counter()
    with slurmlocal.running() as cluster_env:
        work = tempfile.mkdtemp(prefix="udfenv-bench-slurm-")
        try:
            b, results = measure(args, work, cluster_env)
        finally:
            rmtree(work)
    write_result(args.json, "slurm_nodes", results, b.failures, params={
        "rows": args.rows, "bound": args.bound, "runs": args.runs})
    finish(b, started)


def faster_text(base, t):
    """How `t` compares with `base`: "1.62x faster" or "1.06x slower"."""
    return "%.2fx faster" % (base / t) if t <= base else "%.2fx slower" % (t / base)


def measure(args, work, cluster_env):
    """Run the rounds in `work`; the Bench (its failed checks) and the results."""
    b = Bench(args, work, cluster_env)
    machine_info("udfenv: %s (built %s)" % (args.udfenv, built_at(args.udfenv)),
                 "job: %s, %d rows, bounds %d to %d" % (JOB, args.rows, args.bound,
                                                         args.bound + args.rows - 1))
    src = os.path.join(work, "in.csv")
    with open(src, "w") as f:
        f.write("id,bound\n")
        for i in range(args.rows):
            f.write("%d,%d\n" % (i, args.bound + i))
    slurm = ["--target", "slurm", "-D", "udfenv.slurm.staging-dir=%s" % os.path.join(work, "staging"),
             "-D", "udfenv.cache.dir=%s" % os.path.join(work, "nodes", "%n", "cache")]
    configs = [("local", ["-D", "udfenv.cache.dir=%s" % os.path.join(work, "local-cache")]),
               ("slurm, 1 node", slurm + ["-D", "udfenv.slurm.nodes=1"]),
               ("slurm, 2 nodes", slurm + ["-D", "udfenv.slurm.nodes=2"])]
    times = {name: [] for name, _ in configs}
    local_output = []  # the first local run's output: every run's must equal it
    results = []

    def run(name, flags, out):
        """The job's wall time with `flags`, or None (a failed check) if it failed."""
        if "slurm" in flags:
            wait_idle(b.env)
        t0 = time.perf_counter()
        p = subprocess.run([args.udfenv, "run"] + flags + ["-py", JOB, src, out], env=b.env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
        t = time.perf_counter() - t0
        if not b.check(p.returncode == 0, "%s: exit %d: %s" % (name, p.returncode, p.stderr[-2000:])):
            return None
        with open(out, "rb") as f:
            got = f.read()
        if not local_output:
            local_output.append(got)
        if not b.check(got == local_output[0], "%s: the output differs from the local one" % name):
            return None
        return t

    # Untimed: fills every cache, so the rounds time the jobs, not the first builds.
    for k, (name, flags) in enumerate(configs):
        run(name, flags, os.path.join(work, "warm-%d.csv" % k))
    for r in range(args.runs):
        line = []
        for k, (name, flags) in enumerate(configs):
            t = run(name, flags, os.path.join(work, "out-%d-%d.csv" % (r, k)))
            if t is not None:
                times[name].append(t)
                line.append("%s %.2f s" % (name, t))
        say("round %d: %s" % (r + 1, ", ".join(line)))
    med = {name: statistics.median(v) if v else float("nan") for name, v in times.items()}
    say()
    say("medians of %d interleaved rounds:" % args.runs)
    for name, _ in configs:
        say("  %-15s %.2f s" % (name, med[name]))
    rows = []
    for name, _ in configs[1:]:
        rows.append((name, "%.2f s" % med[name], "%.2f s local" % med["local"],
                     faster_text(med["local"], med[name]), "-", "(info)"))
        results.append(result("CPU-bound UDF job, %d rows, %s (median of %d)" % (
            args.rows, name, args.runs), med[name], "s", "udfenv local executor",
            med["local"]))
    results.append(result("CPU-bound UDF job, %d rows, 2 slurm nodes vs 1 (median of %d)" % (
        args.rows, args.runs), med["slurm, 2 nodes"], "s", "slurm, 1 node (udfenv)",
        med["slurm, 1 node"], note="both nodes share this machine's cores"))
    rows.append(("2 nodes vs 1", "%.2f s" % med["slurm, 2 nodes"], "%.2f s on 1 node" % med["slurm, 1 node"],
                 faster_text(med["slurm, 1 node"], med["slurm, 2 nodes"]), "-", "(info)"))
    summary_table("summary: CPU-bound UDF, %d rows" % args.rows, rows)
    return b, results


if __name__ == "__main__":
    sys.exit(main())
