#!/usr/bin/env python3
"""Peak RSS and throughput of a job streaming a large CSV, vs a plain Python script, in one run.

    python3 bench/stream_rss.py [--bytes N] [--parallelism 1,2] [--repeat R]
                                [--python PATH] [--udfenv PATH] [--json PATH]

The input: a generated CSV of about N bytes (default 1 GiB; id BIGINT,
name STRING, value BIGINT, ~74 bytes a row). The transform: the name in
upper case by a scalar UDF, the other columns as they are, to a CSV file
(tests/fixtures/streamload.py, the job of tests/e2e/test_load.py's memory
test). The baseline: a single-process Python script doing the same with
the csv module (read, call the same function, write). Client, workers and
baseline run --python. Interleaved, R times each (default 1); medians.

Each process reads its own peak resident set (VmHWM) as its last act, and
the job program reads that of `udfenv run`, which is waiting for it: exact
figures, each of one process (streamload.py says why not ru_maxrss).
Printed per configuration: wall time, rows/s, MB/s, the peaks of `udfenv
run`, of the job program (where the engine runs) and of the largest worker,
and their sum with every worker; the ratios are to the baseline. Every
output must be the expected bytes (sha256), and no private dir may be left
behind: a failed check makes the exit status 1. Goal: each process of the
job peaks under 96 MiB (the bound of the test); a miss is printed as MISSED
and does not change the exit status.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from _common import (Bench, add_json_arg, add_udfenv_arg, built_at, check_executables, finish, machine_info,
                     result, rmtree, say, summary_table, write_result)
import streamload  # on sys.path through _common

KIB_PER_MIB = 1024.0  # the peaks are read in KiB
# The bound tests/e2e/test_load.py holds each process of the job to.
GOAL_MIB = 96


def run_one(b, name, argv, out, inp):
    """Run argv with a fresh peaks dir; check its output against `inp`.
    Returns (seconds, peaks) or None when a check failed."""
    peaks_dir = os.path.join(b.work, "peaks-%s-%d" % (name.replace(" ", "-"), time.monotonic_ns()))
    os.mkdir(peaks_dir)
    env = dict(b.env, STREAMLOAD_PEAKS=peaks_dir)
    t0 = time.perf_counter()
    p = subprocess.run(argv, env=env, cwd=b.work, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True)
    seconds = time.perf_counter() - t0
    if not b.check(p.returncode == 0, "%s: exit %d: %s" % (name, p.returncode, p.stderr[-2000:])):
        return None
    ok = b.check(streamload.sha256_file(out) == inp["out_sha256"],
                 "%s: the output is not the input's rows with the name in upper case" % name)
    os.unlink(out)
    peaks = streamload.read_peaks(peaks_dir)
    if name == "plain":
        ok = b.check(peaks["plain"] is not None and peaks["plain"]["rows_out"] == inp["rows"],
                     "plain: wrote %s rows of %d" % (peaks["plain"] and peaks["plain"]["rows_out"],
                                                      inp["rows"])) and ok
    else:
        c = peaks["client"]
        ok = b.check(c is not None and c["rows_out"] == inp["rows"] and len(peaks["workers"]) == c["workers"],
                     "%s: the job program's record %s, %d worker records" % (
                         name, c, len(peaks["workers"]))) and ok
    return (seconds, peaks) if ok else None


def figures(peaks):
    """{process: peak KiB} of one run."""
    if peaks["plain"] is not None:
        return {"script": peaks["plain"]["vm_hwm_kib"]}
    c = peaks["client"]
    return dict(streamload.job_peaks(peaks), all=c["parent_vm_hwm_kib"] + c["vm_hwm_kib"] +
                sum(x["vm_hwm_kib"] for x in peaks["workers"]))


def levels_arg(text):
    """--parallelism: positive integers, comma-separated."""
    try:
        levels = [int(x) for x in text.split(",")]
    except ValueError:
        levels = []
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError("%r is not a list of positive integers, like 1,2" % text)
    return levels


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bytes", type=int, default=1 << 30, help="input size (default 1 GiB)")
    ap.add_argument("--parallelism", default="1,2", type=levels_arg,
                    help="udfenv configurations, comma-separated (default 1,2)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--python", default="/usr/bin/python3", help="client, worker and baseline interpreter")
    add_udfenv_arg(ap)
    add_json_arg(ap)
    args = ap.parse_args()
    check_executables(args)
    started = time.perf_counter()
    work = tempfile.mkdtemp(prefix="udfenv-bench-stream-")
    b = Bench(args, work, {"UDFENV_CACHE_DIR": os.path.join(work, "cache")})
    machine_info("udfenv: %s (built %s); python %s; work dir %s" % (
        args.udfenv, built_at(args.udfenv), args.python, work))
    try:
        t0 = time.perf_counter()
        inp = streamload.write_inputs(os.path.join(work, "inputs"), [args.bytes])[0]
        say("input: %d bytes, %d rows (written in %.1f s)" % (
            inp["bytes"], inp["rows"], time.perf_counter() - t0))
        for name, text in (("job.py", streamload.JOB), ("plain.py", streamload.PLAIN)):
            with open(os.path.join(work, name), "w") as f:
                f.write(text)
        out = os.path.join(work, "out.csv")
        configs = [("plain", [args.python, "plain.py", inp["path"], out])]
        for p in args.parallelism:
            configs.append(("udfenv p%d" % p, [args.udfenv, "run", "-pyclientexec", args.python, "-pyexec",
                                               args.python, "-py", "job.py", inp["path"], out, str(p)]))
        runs = {name: [] for name, _ in configs}
        for r in range(args.repeat):  # interleaved, so drift hits every configuration alike
            for name, argv in configs:
                res = run_one(b, name, argv, out, inp)
                if res is None:
                    continue
                runs[name].append(res)
                say("round %d %-11s %7.1f s  %s" % (r + 1, name, res[0], ", ".join(
                    "%s %.1f MiB" % (k, v / KIB_PER_MIB) for k, v in figures(res[1]).items())))
        left = os.listdir(b.tmp_root)
        b.check(not left, "udfenv left private dirs behind in its temp root: %s" % left)
        if not runs["plain"]:
            finish(b, started)
        med = {}
        for name, got in runs.items():
            if got:
                peak = {k: max(figures(p)[k] for _, p in got) for k in figures(got[0][1])}
                med[name] = (statistics.median(s for s, _ in got), peak)
        base_s, base_peak = med["plain"]
        base_kib = base_peak["script"]
        say()
        say("%-11s %9s %12s %9s %12s %12s %12s %12s %7s %7s" % (
            "run", "seconds", "rows/s", "MB/s", "udfenv run", "job program", "worker", "all", "speed",
            "memory"))
        rows, results = [], []
        for name, _ in configs:
            if name not in med:
                continue
            s, peak = med[name]
            total = peak.get("all", peak.get("script"))
            say("%-11s %9.2f %12.0f %9.1f %12s %12s %12s %10.1f M %6.2fx %6.2fx" % (
                name, s, inp["rows"] / s, inp["bytes"] / s / 1e6,
                *["%.1f M" % (peak[k] / KIB_PER_MIB) if k in peak else "-"
                  for k in ("udfenv run", "job program", "worker")],
                total / KIB_PER_MIB, base_s / s, total / base_kib))
            if name != "plain":
                rows.append(("%s throughput" % name, "%.0f rows/s" % (inp["rows"] / s),
                             "%.0f rows/s" % (inp["rows"] / base_s), "%.2fx" % (base_s / s), "-", "(info)"))
                rows.append(("%s peak RSS, all processes" % name, "%.1f MiB" % (total / KIB_PER_MIB),
                             "%.1f MiB" % (base_kib / KIB_PER_MIB), "%.2fx" % (total / base_kib), "-", "(info)"))
                most = max(v for k, v in peak.items() if k != "all")
                verdict = "met" if most < GOAL_MIB * KIB_PER_MIB else "MISSED"
                rows.append(("%s peak RSS, largest process" % name, "%.1f MiB" % (most / KIB_PER_MIB),
                             "%.1f MiB" % (base_kib / KIB_PER_MIB), "%.2fx" % (most / base_kib),
                             "< %d MiB" % GOAL_MIB, verdict))
                n = len(runs[name])
                results += [
                    result("%s, %d rows: throughput (median of %d)" % (name, inp["rows"], n),
                           inp["rows"] / s, "rows/s", "plain Python csv script", inp["rows"] / base_s),
                    result("%s: peak RSS, all processes (max of %d)" % (name, n), total * 1024, "B",
                           "plain Python csv script", base_kib * 1024),
                    result("%s: peak RSS, largest process (max of %d)" % (name, n), most * 1024, "B",
                           "plain Python csv script", base_kib * 1024,
                           note="goal < %d MiB: %s" % (GOAL_MIB, verdict)),
                ]
        summary_table("summary: %d bytes, %d rows, median of %d rounds (peaks: the largest)" % (
                          inp["bytes"], inp["rows"], args.repeat),
                      rows)
        write_result(args.json, "stream_rss", results, b.failures,
                     params={"bytes": inp["bytes"], "rows": inp["rows"], "repeat": args.repeat,
                             "parallelism": ",".join(map(str, args.parallelism)), "python": args.python})
    finally:
        rmtree(work)
    finish(b, started)


if __name__ == "__main__":
    sys.exit(main())
