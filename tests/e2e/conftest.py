"""Shared fixtures for udfenv's end-to-end tests.

- udfenv_bin     the binary under test: $UDFENV_BIN, else <repo>/build/udfenv;
                 every test that needs it is skipped (with the reason shown)
                 when it is missing.
- tmp_root       a fresh directory passed as --tmp-root (and $UDFENV_TMPDIR);
                 after the test it must be empty: udfenv leaves no temp dir.
- run_udfenv     run_udfenv(*args, env=, cwd=, timeout=, input=) ->
                 CompletedProcess with text stdout/stderr (str() of it
                 shows command, status and both streams in full). `exec` gets
                 `--tmp-root <tmp_root>` unless the args already name one.
- udfenv_env     the environment udfenv runs in (hermetic: no PYTHONPATH,
                 no PIP_* settings, no pip config files, a private
                 XDG_CACHE_HOME).
- pythons        {"3.8": "/root/.pyenv/versions/3.8.18/bin/python3.8", ...}:
                 every python3.X that really runs (pyenv's versions, then
                 PATH; pyenv shims that fail are dropped).
- default_python what `python3` on PATH is for udfenv's children: the
                 default worker interpreter (path, version).
- expect_error   expect_error(proc, code, line_has=(), stderr_has=()) checks
                 the "udfenv: error: <one line>" contract.

Run with: /usr/bin/python3 -m pytest tests/e2e -q
"""

import collections
import glob
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

# The Ctrl-C tests stand for a user at a terminal, whose programs start with
# SIGINT at its default. A suite started as a shell's background job (`cmd &`
# without job control) inherits SIGINT ignored, and every child would keep
# it ignored; Python's own handler is reset by exec, so children start with
# the default again. (test_jobs checks the ignored case on purpose.)
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
if str(FIXTURES) not in sys.path:
    sys.path.insert(0, str(FIXTURES))

import procs  # noqa: E402
import slurmlocal  # noqa: E402
import wheelhouse  # noqa: E402

DEFAULT_TIMEOUT = 120
ERROR_PREFIX = "udfenv: error: "

PythonInfo = collections.namedtuple("PythonInfo", "path version")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    # Skips must be visible even under -q: always list their reasons.
    chars = getattr(config.option, "reportchars", "") or ""
    if "s" not in chars and "a" not in chars and "A" not in chars:
        config.option.reportchars = chars + "s"


def _hermetic_env(extra=None):
    """wheelhouse.hermetic_env (os.environ minus what would make a run
    depend on this shell: the inherited PYTHONPATH, which tests set on
    purpose when they want it, every PIP_* variable and pip's config files)
    with PYTHONDONTWRITEBYTECODE=1 and, for an ASan build, its runtime
    preloaded; then `extra`, which wins (a None value removes the key)."""
    defaults = {"PYTHONDONTWRITEBYTECODE": "1"}
    if os.environ.get("UDFENV_ASAN_PRELOAD"):
        # An ASan build's _native extension, loaded by a client interpreter
        # that is not instrumented, needs the ASan runtime first in the
        # process (scripts/test sets this). Python frees lazily at exit:
        # no leak checks there.
        defaults["LD_PRELOAD"] = os.environ["UDFENV_ASAN_PRELOAD"]
        defaults["ASAN_OPTIONS"] = "detect_leaks=0"
    defaults.update(extra or {})
    return wheelhouse.hermetic_env(defaults)


@pytest.fixture(scope="session")
def cluster():
    """The two-node Slurm cluster of scripts/slurm-local, for the session:
    its client environment (SLURM_CONF). Started if it is not up, and then
    stopped at the end; a machine where it cannot start fails the tests
    that use it (they do not skip)."""
    with slurmlocal.running() as env:
        yield env


@pytest.fixture
def spawn(udfenv_bin, udfenv_env, tmp_root):
    """spawn(*args, env=None, quiet=False, cwd=None) -> Popen of udfenv in a
    new session (its pid is its process group), `exec` with --tmp-root. Any
    still running at the end is SIGKILLed with its group (procs.Spawner)."""
    spawner = procs.Spawner(udfenv_bin, udfenv_env, tmp_root)
    yield spawner
    spawner.close()


@pytest.fixture(scope="session")
def udfenv_bin():
    path = Path(os.environ.get("UDFENV_BIN") or REPO / "build" / "udfenv")
    if not path.is_file() or not os.access(str(path), os.X_OK):
        pytest.skip("udfenv binary not found at %s (build it, or set UDFENV_BIN)" % path)
    return path


@pytest.fixture
def tmp_root(tmp_path):
    root = tmp_path / "udfenv-tmp-root"
    root.mkdir()
    yield root
    left = []
    for dirpath, dirnames, filenames in os.walk(str(root)):
        for n in dirnames + filenames:
            left.append(os.path.relpath(os.path.join(dirpath, n), str(root)))
    assert not left, "udfenv left temp files behind under --tmp-root %s: %s" % (
        root, sorted(left)[:20])


@pytest.fixture
def udfenv_env(tmp_root, tmp_path):
    # XDG_CACHE_HOME: pip (run by udfenv) keeps a wheel cache there; keep it
    # out of the real home. It sits beside tmp_root, not in it, so it is not
    # counted as a leftover temp dir.
    return _hermetic_env({"UDFENV_TMPDIR": tmp_root, "XDG_CACHE_HOME": tmp_path / "xdg-cache"})


@pytest.fixture
def run_udfenv(udfenv_bin, tmp_root, udfenv_env):
    def run(*args, env=None, cwd=None, timeout=DEFAULT_TIMEOUT, input=None, add_tmp_root=True):
        argv = [str(a) for a in args]
        if add_tmp_root and argv and argv[0] == "exec":
            opts = argv[: argv.index("--")] if "--" in argv else argv
            if "--tmp-root" not in opts and not any(a.startswith("--tmp-root=") for a in opts):
                argv[1:1] = ["--tmp-root", str(tmp_root)]
        full_env = dict(udfenv_env)
        for k, v in (env or {}).items():
            if v is None:
                full_env.pop(k, None)
            else:
                full_env[k] = str(v)
        try:
            res = subprocess.run([str(udfenv_bin)] + argv, env=full_env,
                                 cwd=str(cwd) if cwd else None, input=input,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 universal_newlines=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            pytest.fail("udfenv %s timed out after %ss\nstdout: %s\nstderr: %s" % (
                " ".join(argv), timeout, e.stdout, e.stderr))
        return procs.Result(res.args, res.returncode, res.stdout, res.stderr)
    return run


def _probe_version(python):
    try:
        res = subprocess.run(
            [python, "-I", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            env=_hermetic_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            universal_newlines=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    out = res.stdout.strip()
    return out if res.returncode == 0 and re.fullmatch(r"\d+\.\d+", out) else None


def discover_pythons():
    """{"3.X": path} for every python3.X that runs and reports version 3.X:
    /root/.pyenv/versions/*/bin/python3.X first, then python3.X on PATH."""
    name_re = re.compile(r"python(3\.\d+)")
    cands = sorted(glob.glob("/root/.pyenv/versions/*/bin/python3.*"))
    for d in os.environ.get("PATH", "").split(os.pathsep):
        try:
            names = sorted(os.listdir(d or "."))
        except OSError:
            continue
        cands += [os.path.join(d, n) for n in names]
    found = {}
    for c in cands:
        m = name_re.fullmatch(os.path.basename(c))
        if not m or m.group(1) in found or not os.access(c, os.X_OK) or os.path.isdir(c):
            continue
        if _probe_version(c) == m.group(1):
            found[m.group(1)] = c
    return dict(sorted(found.items(), key=lambda kv: tuple(int(x) for x in kv[0].split("."))))


@pytest.fixture(scope="session")
def pythons():
    return discover_pythons()


@pytest.fixture(scope="session")
def default_python():
    """The interpreter `python3` is for udfenv's children (udfenv's default
    python.executable), as (path of the real binary, "3.X")."""
    try:
        res = subprocess.run(
            ["python3", "-c", "import sys; print(sys.executable); print('%d.%d' % sys.version_info[:2])"],
            env=_hermetic_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            universal_newlines=True, timeout=30)
    except OSError as e:
        pytest.skip("no python3 on PATH: %s" % e)
    lines = res.stdout.split()
    if res.returncode != 0 or len(lines) != 2:
        pytest.skip("python3 on PATH does not run: %s" % res.stderr.strip())
    return PythonInfo(lines[0], lines[1])


def check_error(proc, code, line_has=(), stderr_has=()):
    """Assert udfenv's error contract on a finished run and return the error
    line: exit status `code`; exactly one "udfenv: error: " line on stderr,
    containing every string of `line_has` (case-insensitive); any lines after
    it indented (detail); every string of `stderr_has` somewhere on stderr."""
    assert proc.returncode == code, "exit %d, expected %d\n%s" % (proc.returncode, code, proc)
    lines = proc.stderr.splitlines()
    idx = [i for i, l in enumerate(lines) if l.startswith(ERROR_PREFIX)]
    assert len(idx) == 1, "expected exactly one %r line on stderr:\n%s" % (ERROR_PREFIX, proc.stderr)
    line = lines[idx[0]]
    assert len(line) > len(ERROR_PREFIX) + 3, "empty error message: %r" % line
    for word in line_has:
        assert str(word).lower() in line.lower(), "error line lacks %r:\n%s" % (word, proc.stderr)
    for extra in lines[idx[0] + 1:]:
        assert extra == "" or extra[0] in " \t", \
            "stderr line after the error is not an indented detail line: %r\n%s" % (extra, proc.stderr)
    for word in stderr_has:
        assert str(word).lower() in proc.stderr.lower(), "stderr lacks %r:\n%s" % (word, proc.stderr)
    return line


@pytest.fixture(scope="session")
def expect_error():
    return check_error


# --- the udfenv Python package (docs/jobs.md, docs/protocol.md) -------------

UDFENV_PY_SOURCE = REPO / "python"


@pytest.fixture(scope="session")
def udfenv_py_source():
    """The directory holding the udfenv package's sources (REPO/python): the
    `runtime` a worker puts first on sys.path. Pure Python, so usable
    without a build (only the client's _native extension needs one)."""
    return UDFENV_PY_SOURCE


@pytest.fixture(scope="session")
def python_env():
    """hermetic_env(extra=None) -> an environment for a Python child: this
    one minus PYTHONPATH, PYTHONHOME and PIP_* settings (see _hermetic_env),
    plus `extra` (None removes a key)."""
    return _hermetic_env
