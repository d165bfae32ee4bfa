#!/usr/bin/env python3
"""Benchmark: `udfenv exec --manifest M -- python -c pass` vs the bare interpreter.

Both run in the same process, interleaved, N times each; medians are
compared. The environment is staged once (python files, a data archive and
a zipped venv whose interpreter runs the command) and its node cache (a
private one) is warmed first, so what is measured is a warm start from a
manifest and its store, through the `python` shim. bench/node_cache.py
measures the same from dependency flags, with requirements, and cold.

    python3 bench/exec_overhead.py [--runs N] [--python /path/to/python3.X] [--json PATH]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from _common import add_json_arg, add_udfenv_arg, check_executables, result, rmtree, write_result
import pyartifacts  # on sys.path through _common


def timed(cmd, env=None):
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--python", default="/root/.pyenv/versions/3.8.18/bin/python3.8",
                    help="interpreter to zip as a venv (default: pyenv 3.8)")
    add_udfenv_arg(ap)
    add_json_arg(ap)
    args = ap.parse_args()
    check_executables(args)

    work = tempfile.mkdtemp(prefix="udfenv-bench-exec-")
    try:
        mods = os.path.join(work, "mods")
        pyartifacts.write_tree(mods, {"udfs.py": "def f(x):\n    return x\n"})
        pyartifacts.make_data_zip(os.path.join(work, "data.zip"), {"data.txt": "x\n" * 1000})
        pyartifacts.make_venv_zip(args.python, os.path.join(work, "venv.zip"), "venv")
        staged = os.path.join(work, "staged")
        subprocess.run([args.udfenv, "stage", "-pyfs", mods,
                        "-pyarch", os.path.join(work, "data.zip") + "#data",
                        "-pyarch", os.path.join(work, "venv.zip") + "#venv",
                        "-pyexec", "venv/venv/bin/python", "--out", staged],
                       check=True, stdout=subprocess.DEVNULL)
        tmp_root = os.path.join(work, "tmp")
        udfenv_cmd = [args.udfenv, "exec", "--manifest", os.path.join(staged, "manifest.json"),
                      "--tmp-root", tmp_root, "--cache-dir", os.path.join(work, "cache"),
                      "--", "python", "-c", "pass"]
        bare_cmd = [args.python, "-c", "pass"]
        for cmd in (udfenv_cmd, bare_cmd):  # warm the page cache
            timed(cmd)
        bare, wrapped = [], []
        for _ in range(args.runs):
            bare.append(timed(bare_cmd))
            wrapped.append(timed(udfenv_cmd))
        leftovers = os.listdir(tmp_root)
        if leftovers:
            sys.exit("bench: udfenv left %s behind" % leftovers)
        b, w = statistics.median(bare), statistics.median(wrapped)
        venv_size = os.path.getsize(os.path.join(work, "venv.zip"))
        print("exec overhead (%d runs each, medians; venv.zip %d KB)" % (args.runs, venv_size // 1024))
        print("  bare   %-40s %8.2f ms" % (os.path.basename(args.python) + " -c pass", b * 1e3))
        print("  udfenv %-40s %8.2f ms" % ("exec --manifest ... -- python -c pass", w * 1e3))
        print("  overhead %.2f ms, ratio %.2fx" % ((w - b) * 1e3, w / b))
        write_result(args.json, "exec_overhead", [result(
            "warm exec --manifest, python -c pass (median of %d)" % args.runs, w, "s", "bare %s -c pass" % os.path.basename(args.python), b,
            note="overhead %+.2f ms" % ((w - b) * 1e3))],
            params={"runs": args.runs, "python": args.python, "venv_zip_bytes": venv_size})
    finally:
        rmtree(work)  # the private cache's entries are read-only


if __name__ == "__main__":
    main()
