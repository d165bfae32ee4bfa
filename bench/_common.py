"""What the Python benchmarks share: output, clean-up, argument checks, the
machine description, the record of correctness checks and the
machine-readable result that bench/run collects (--json PATH).

Benchmarks run as `python3 bench/<name>.py`, so this directory is first on
sys.path and `import _common` finds this file. Importing it also puts
tests/fixtures on sys.path, for the input generators there (pyartifacts,
wheelhouse).
"""

import json
import math
import os
import platform
import shlex
import shutil
import stat
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(REPO, "tests", "fixtures")
if FIXTURES not in sys.path:
    sys.path.insert(0, FIXTURES)

# udfenv remembers a local file's digest only once the file is 2 s old: a
# bench waits this long after writing its inputs, before the first run.
DIGEST_SETTLE_S = 2.5


def say(text=""):
    print(text, flush=True)


def rmtree(path):
    """shutil.rmtree that also removes read-only cache entries."""
    def retry(func, p, _exc):
        try:
            os.chmod(os.path.dirname(p), stat.S_IRWXU)
            if os.path.isdir(p) and not os.path.islink(p):
                os.chmod(p, stat.S_IRWXU)
            func(p)
        except OSError:
            pass
    shutil.rmtree(path, onerror=retry)


# --------------------------------------------------------------------------
# arguments


def add_udfenv_arg(ap):
    """Add --udfenv to the argparse parser ap: $UDFENV_BIN, else build/udfenv."""
    ap.add_argument("--udfenv", default=os.environ.get("UDFENV_BIN",
                                                        os.path.join(REPO, "build", "udfenv")),
                    help="the udfenv binary (default: $UDFENV_BIN, else build/udfenv)")


def check_executables(args):
    """Make args.udfenv absolute; exit with a message unless args.udfenv and
    args.python (if the bench has --python) are executable."""
    args.udfenv = os.path.abspath(args.udfenv)
    for what, path, hint in (("interpreter", getattr(args, "python", None), "give --python"),
                             ("udfenv", args.udfenv, "build it, or give --udfenv")):
        if path is not None and not os.access(path, os.X_OK):
            sys.exit("bench: no %s at %s (%s)" % (what, path, hint))


# --------------------------------------------------------------------------
# report


def built_at(path):
    """The modification time of path (a binary: when it was built), local time."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.path.getmtime(path)))


def machine_info(*lines):
    """Print the machine (cores, CPU model, kernel), then `lines` (what the
    bench runs: interpreters, the binary), then the bench's command line."""
    say("machine: %s" % machine_description())
    for line in lines:
        say(line)
    say("command: %s" % " ".join(shlex.quote(a) for a in [sys.executable] + sys.argv))


def machine_description():
    """'<n> cores (<m> usable), <CPU model>; <OS> <kernel>': this machine."""
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return "%s cores (%s usable), %s; %s %s" % (os.cpu_count(), usable, model,
                                                platform.system(), platform.release())


def summary_table(title, rows):
    """Print the summary table under "== title ==": one row per measure, each
    (measure, figure, baseline, ratio, goal, result) as strings."""
    head = ("measure", "figure", "baseline (same run)", "ratio", "goal", "result")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    say()
    say("== %s ==" % title)
    for r in [head] + rows:
        say("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


# --------------------------------------------------------------------------
# the machine-readable result, for bench/run
#
# With --json PATH a bench also writes its figures to PATH, besides its
# usual output; bench/run passes it to every bench and builds its one table
# from these files. A bench in another language writes the same JSON
# (extract_vs_unzip.sh, bench_rows.c):
#
#   {"version": 1, "bench": NAME, "params": {...sizes and rounds...},
#    "failures": [...failed checks...],
#    "results": [{"measure": "what is measured, with its rounds",
#                 "figure": udfenv's figure, "unit": UNIT,
#                 "baseline": "what it is compared with" or null,
#                 "baseline_figure": the baseline's figure or null,
#                 "note": "..."}, ...]}
#
# UNIT is one of RESULT_UNITS, which also says whether less or more is
# better; bench/run formats the figures and states the ratio in the words of
# the unit ("3.10x faster", "1.25x slower", "2.00x less memory"). A figure
# that could not be measured is null.

RESULT_VERSION = 1
RESULT_UNITS = {  # unit: (which is better, words when udfenv is better, when it is worse)
    "s": ("lower", "faster", "slower"),
    "rows/s": ("higher", "faster", "slower"),
    "ns/row": ("lower", "faster", "slower"),
    "B": ("lower", "less memory", "more memory"),
}


def add_json_arg(ap):
    """Add --json PATH to the argparse parser ap."""
    ap.add_argument("--json", metavar="PATH",
                    help="also write the figures to PATH as JSON (for bench/run; "
                         "see docs/BENCHMARKS.md)")


def result(measure, figure, unit, baseline=None, baseline_figure=None, note=""):
    """One figure of a bench for write_result (the fields are described above)."""
    if unit not in RESULT_UNITS:
        raise ValueError("result %r: unit %r" % (measure, unit))

    def number(x):
        return float(x) if x is not None and math.isfinite(x) else None
    return {"measure": measure, "figure": number(figure), "unit": unit, "baseline": baseline,
            "baseline_figure": number(baseline_figure), "note": note}


def write_result(path, bench, results, failures=(), params=None):
    """Write the result of bench (its name) to path, unless path is None:
    results made by result(), the failed correctness checks, the params
    (sizes, rounds, interpreters) it ran with. Written to a temp file and
    renamed, so a reader never sees half of it."""
    if not path:
        return
    doc = {"version": RESULT_VERSION, "bench": bench, "params": params or {},
           "failures": list(failures), "results": list(results)}
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.rename(tmp, path)


class Bench:
    """A run's state: its arguments, its work dir, the environment of every
    command and the failed correctness checks.

    The environment is the caller's without PIP_*, UDFENV_* and PYTHON*
    variables, with UDFENV_TMPDIR set to <work>/tmp (udfenv's private dirs,
    which must be gone at the end: see tmp_root), plus `env` (extra
    variables of this bench).
    """

    def __init__(self, args, work, env=None):
        self.args = args
        self.work = work
        self.failures = []
        self.tmp_root = os.path.join(work, "tmp")
        os.makedirs(self.tmp_root)
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("PIP_", "UDFENV_", "PYTHON"))}
        self.env.update(env or {})
        self.env["UDFENV_TMPDIR"] = self.tmp_root

    def check(self, ok, what):
        """Record a correctness check; a failed one makes the exit status 1."""
        if not ok:
            self.failures.append(what)
            say("CHECK FAILED: %s" % what)
        return ok


def finish(b, started):
    """Print the total time since `started` (a perf_counter value) and the
    failed checks of b, then exit: 1 when a check failed, else 0."""
    say()
    say("total %.0f s; correctness checks: %s" % (
        time.perf_counter() - started,
        "all passed" if not b.failures else "%d FAILED" % len(b.failures)))
    for f in b.failures:
        say("  FAILED: %s" % f)
    sys.exit(1 if b.failures else 0)

