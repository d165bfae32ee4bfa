"""Conformance of the native offline wheel installer (`udfenv exec -pyreq
REQ#WHEELDIR` with every top-level requirement pinned and every wheel in
WHEELDIR): the tree udfenv installs must match pip's for the same
wheelhouse, the packages must import and the scripts run in the worker;
bad wheels are errors that name the culprit; what the native path does not
take falls back to pip and says why.

Wheels are made at test time (tests/fixtures/wheelhouse.py): most by hand,
one pure wheel and one C-extension (platform) wheel by setuptools through
`python -m pip wheel --no-index`, once per session. The C-extension case
is skipped, with the reason shown, when the worker Python cannot compile
extensions; the setuptools cases when no usable setuptools wheel exists for
it (pyartifacts.copy_build_backend).

The worker interpreter is pyenv's 3.11, or $UDFENV_TEST_WORKER_PYTHON.

Assertions marked NATIVE hold only once the native installer exists: the
report's "installer"/"fallback" fields, the `-v` line "install: ...
natively" / "with pip: <reason>", INSTALLER reading "udfenv", and every
error test except its "command did not run / nothing published" checks
(pip's own failures do not name the wheel, the file or the missing
dependency on udfenv's error line, and pip does not check RECORD hashes).
Everything before a NATIVE assertion also holds with pip inside udfenv,
so each test's machinery (wheel building, the tree comparison) is checked
today.
"""

import collections
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import pyartifacts as pa
import wheelhouse as wh

INSTALL_TIMEOUT = 300
OK = "native-install-check-ok"

Worker = collections.namedtuple("Worker", "path version paths")

_PROBE_SCHEME = r"""
import json, sys, sysconfig
p = "/PREFIX"
v = {"base": p, "platbase": p, "installed_base": p, "installed_platbase": p}
paths = sysconfig.get_paths(vars=v)
rel = {k: paths[k][len(p) + 1:] for k in ("purelib", "platlib", "scripts", "include", "data")}
print(json.dumps({"version": "%d.%d" % sys.version_info[:2], "paths": rel}))
"""


@pytest.fixture(scope="session")
def worker(pythons, python_env):
    """The worker interpreter and where a --prefix install puts things, as
    paths relative to the prefix ({purelib}, {platlib}, {scripts},
    {include}, {data})."""
    path = os.environ.get("UDFENV_TEST_WORKER_PYTHON") or pythons.get("3.11")
    if not path:
        pytest.skip("no python3.11 found (pyenv 3.11.7 expected); set UDFENV_TEST_WORKER_PYTHON")
    res = subprocess.run([path, "-I", "-c", _PROBE_SCHEME], env=python_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         universal_newlines=True, timeout=60)
    assert res.returncode == 0, "worker %s does not run: %s" % (path, res.stderr)
    info = json.loads(res.stdout)
    return Worker(path, info["version"], info["paths"])


@pytest.fixture(scope="session")
def hand_wheels(tmp_path_factory):
    return wh.make_conformance_wheels(tmp_path_factory.mktemp("hand-wheels"))


@pytest.fixture(scope="session")
def backend(tmp_path_factory, worker):
    """A dir with the setuptools and wheel wheels that build for the worker
    Python, or the reason there is none (a str)."""
    d = tmp_path_factory.mktemp("build-backend")
    try:
        pa.copy_build_backend(d, python=worker.path)
    except (FileNotFoundError, RuntimeError) as e:
        return "no setuptools build backend for %s: %s" % (worker.path, e)
    return d


@pytest.fixture(scope="session")
def built_wheels(tmp_path_factory, worker, backend):
    """{"stool": Path or reason, "cfast": Path or reason}: the wheels built
    with setuptools, once per session."""
    out = {}
    if isinstance(backend, str):
        return {"stool": backend, "cfast": backend}
    root = tmp_path_factory.mktemp("built-wheels")
    src = wh.write_setuptools_project(root / "src-stool")
    out["stool"] = wh.build_wheel_with_pip(worker.path, src, root / "wheels", backend)
    ok, why = wh.can_compile_extensions(worker.path)
    if ok:
        src = wh.write_cext_project(root / "src-cfast")
        out["cfast"] = wh.build_wheel_with_pip(worker.path, src, root / "wheels", backend)
    else:
        out["cfast"] = "cannot build a C extension for %s: %s" % (worker.path, why)
    return out


def need_built(built_wheels, label):
    got = built_wheels[label]
    if isinstance(got, str):
        pytest.skip(got)
    return got


# --------------------------------------------------------------------------
# helpers


def wheel_dir(tmp_path, *wheels):
    """A fresh WHEELDIR holding copies of `wheels` (Paths)."""
    d = tmp_path / "wheels"
    d.mkdir(exist_ok=True)
    for w in wheels:
        shutil.copyfile(str(w), str(d / Path(w).name))
    return d


def write_req(tmp_path, lines):
    req = tmp_path / "requirements.txt"
    req.write_text("".join(l + "\n" for l in lines))
    return req


def udfenv_install(run_udfenv, tmp_path, worker, wheels, req, cmd, report_name="report.json"):
    """`udfenv exec -v --cache-dir C --report R -pyreq REQ#WHEELS -pyexec PY
    -- CMD`; returns (proc, cache dir, report path)."""
    cache = tmp_path / "cache"
    report = tmp_path / report_name
    proc = run_udfenv("exec", "-v", "--cache-dir", cache, "--report", report,
                      "-pyreq", "%s#%s" % (req, wheels), "-pyexec", worker.path, "--", *cmd,
                      timeout=INSTALL_TIMEOUT)
    return proc, cache, report


def load_entry(proc, cache, report):
    """The requirements entry of the report and its data dir."""
    assert report.is_file(), "no --report written\n%s" % proc
    entry = wh.requirements_entry(json.loads(report.read_text()))
    data = wh.entry_data_dir(cache, entry["key"])
    assert data.is_dir(), "the requirements entry %s has no data dir %s" % (entry["key"], data)
    return entry, data


def pip_tree(tmp_path, worker, wheels, req):
    prefix = tmp_path / "pip-prefix"
    res = wh.pip_reference_install(worker.path, wheels, req, prefix,
                                   extra_env={"XDG_CACHE_HOME": tmp_path / "xdg-cache-ref"},
                                   timeout=INSTALL_TIMEOUT)
    assert res.returncode == 0, "the pip reference install failed:\n%s\n%s" % (
        " ".join(res.args), res.stdout)
    return prefix


def install_lines(proc):
    return [l for l in proc.stderr.splitlines() if "install:" in l]


def assert_native(proc, entry, data):
    """NATIVE: the entry says it was installed natively, -v said so, and
    every INSTALLER file names udfenv."""
    assert entry.get("installer") == "native", \
        "NATIVE: report entry installer is %r, expected 'native' (fallback: %r)\n%s" % (
            entry.get("installer"), entry.get("fallback"), json.dumps(entry, indent=1))
    assert "fallback" not in entry, "NATIVE: a native install has no fallback reason: %r" % entry
    assert any("natively" in l for l in install_lines(proc)), \
        "NATIVE: no '-v' line 'install: ... natively ...':\n%s" % proc.stderr
    installers = sorted(data.glob("**/*.dist-info/INSTALLER"))
    assert installers, "no .dist-info/INSTALLER under %s" % data
    for f in installers:
        assert f.read_text().strip() == "udfenv", "NATIVE: %s reads %r" % (f, f.read_text())


def published_requirements(cache):
    """Keys of the requirements entries published in the cache."""
    keys = []
    for marker in sorted((Path(cache) / "v1" / "entries").glob("*/udfenv-entry.json")):
        if json.loads(marker.read_text()).get("kind") == "requirements":
            keys.append(marker.parent.name)
    return keys


def leftover_builds(cache):
    tmp = Path(cache) / "v1" / "tmp"
    return sorted(p.name for p in tmp.iterdir()) if tmp.is_dir() else []


def fmt(paths, worker):
    """`paths` with {purelib}, {platlib}, {scripts}, {include} filled in."""
    return [p.format(**worker.paths) for p in paths]


# --------------------------------------------------------------------------
# conformance: each wheelhouse installed by udfenv and by pip, trees compared

Case = collections.namedtuple("Case", "hand built requirements check present absent")

CASES = {
    "pure": Case(
        ["plainpkg"], [], ["plainpkg==1.0"],
        "import plainpkg.util, plainmod; assert plainpkg.util.twice(21) == 42, plainmod.NAME",
        ["{purelib}/plainpkg/__init__.py", "{purelib}/plainpkg/util.py", "{purelib}/plainmod.py",
         "{purelib}/plainpkg-1.0.dist-info/RECORD", "{purelib}/plainpkg-1.0.dist-info/METADATA"],
        []),
    "arbitrary_equality_pin": Case(
        ["plainpkg"], [], ["plainpkg===1.0"], "import plainpkg.util",
        ["{purelib}/plainpkg/util.py"], []),
    "platform_c_extension": Case(
        [], ["cfast"], ["cfast==1.0"],
        "import cfast, cfast._speed, cfast.pure; assert cfast.add(2, 3) == 5; "
        "assert cfast._speed.__file__.endswith('.so'), cfast._speed.__file__",
        ["{platlib}/cfast/__init__.py", "{platlib}/cfast/pure.py",
         "{platlib}/cfast-1.0.dist-info/WHEEL"], []),
    "setuptools_entry_points_data_extras": Case(
        ["speedup"], ["stool"], ["stool[fast]==1.0"],
        "import stool, speedup; assert speedup.FAST",
        ["{scripts}/stool-cli", "{scripts}/stool-gui", "{scripts}/stool-legacy",
         "{include}/stool/stool.h", "share/stool/readme.txt", "{purelib}/stool/cli.py",
         "{purelib}/speedup/__init__.py"], []),
    "data_scripts_headers_entry_points": Case(
        ["tooling"], [], ["tooling==1.0"],
        "import tooling.cli, tooling_pure, tooling_plat; "
        "assert (tooling_pure.WHERE, tooling_plat.WHERE) == ('purelib', 'platlib')",
        ["{scripts}/tooling-cli", "{scripts}/tooling-gui", "{scripts}/tooling-py",
         "{scripts}/tooling-sh", "{include}/tooling/tooling.h", "share/tooling/notes.txt",
         "{purelib}/tooling_pure.py", "{platlib}/tooling_plat.py"],
        ["{purelib}/tooling-1.0.data"]),
    "namespace_package_in_two_wheels": Case(
        ["nsa", "nsb"], [], ["nsa==1.0", "nsb==1.0"],
        "import nsp.a, nsp.b; assert nsp.a.NAME + nsp.b.NAME == 'ab'; "
        "assert getattr(nsp, '__file__', None) is None, nsp.__file__",
        ["{purelib}/nsp/a/__init__.py", "{purelib}/nsp/b/__init__.py"],
        ["{purelib}/nsp/__init__.py"]),
    "pth_file": Case(
        ["pthpkg"], [], ["pthpkg==1.0"],
        "import os, pthpkg, hidden; assert os.environ.get('PTHPKG_RAN') == '1'",
        ["{purelib}/pthpkg.pth", "{purelib}/pthpkg_extra/hidden.py"], []),
    "extras": Case(
        ["extras", "speedup"], [], ["extras[fast]==1.0"],
        "import extras, speedup; assert speedup.FAST",
        ["{purelib}/extras/__init__.py", "{purelib}/speedup/__init__.py",
         "{purelib}/speedup-1.0.dist-info/METADATA"],
        ["{purelib}/slowdep"]),
    "marker_excludes_dependency": Case(
        ["markered", "presentdep"], [], ["markered==1.0"],
        "import markered, presentdep",
        ["{purelib}/markered/__init__.py", "{purelib}/presentdep/__init__.py"],
        ["{purelib}/absentdep"]),
    "two_versions_pin_decides": Case(
        ["twover-1.0", "twover-2.0"], [], ["twover==1.0"],
        "import twover; assert twover.VERSION == '1.0', twover.VERSION",
        ["{purelib}/twover-1.0.dist-info/METADATA"], ["{purelib}/twover-2.0.dist-info"]),
    "wheels_for_other_pythons_skipped": Case(
        ["otherpy", "otherpy-py2", "otherpy-cp27"], [], ["otherpy==1.0"],
        "import otherpy; assert otherpy.VALUE == 'py3', otherpy.VALUE",
        ["{purelib}/otherpy/__init__.py"], []),
    "hash_checked": Case(
        ["hashed"], [], ["hashed==1.0 --hash=sha256:{sha256[hashed]}"], "import hashed",
        ["{purelib}/hashed/__init__.py"], []),
    "everything_together": Case(
        ["plainpkg", "tooling", "nsa", "nsb", "pthpkg", "extras", "speedup", "markered",
         "presentdep", "twover-1.0", "twover-2.0", "otherpy", "otherpy-py2", "otherpy-cp27"],
        ["stool?", "cfast?"],
        ["plainpkg==1.0", "tooling==1.0", "nsa==1.0", "nsb==1.0", "pthpkg==1.0",
         "extras[fast]==1.0", "markered==1.0", "twover==1.0", "otherpy==1.0",
         "stool[fast]==1.0?", "cfast==1.0?"],
        "import os, plainpkg.util, tooling, nsp.a, nsp.b, hidden, extras, speedup, markered, "
        "presentdep, twover, otherpy; assert os.environ.get('PTHPKG_RAN') == '1'; "
        "assert (twover.VERSION, otherpy.VALUE) == ('1.0', 'py3')",
        ["{scripts}/tooling-cli", "{purelib}/nsp/a/__init__.py"],
        ["{purelib}/nsp/__init__.py", "{purelib}/twover-2.0.dist-info"]),
}


def case_inputs(c, hand_wheels, built_wheels, tmp_path):
    """(wheel dir, requirements file, extra check code) for a case. Built
    wheels marked '?' are optional: left out (with their requirement) when
    they cannot be built here."""
    wheels = [hand_wheels[h] for h in c.hand]
    reqs = list(c.requirements)
    check = ""
    for b in c.built:
        label = b.rstrip("?")
        got = built_wheels[label]
        if isinstance(got, str):
            if not b.endswith("?"):
                pytest.skip(got)
            reqs = [r for r in reqs if not r.startswith(label)]
            continue
        wheels.append(got)
        check += "; import %s" % label
    reqs = [r.rstrip("?") for r in reqs]
    sha = {k: hashlib.sha256(Path(p).read_bytes()).hexdigest() for k, p in hand_wheels.items()}
    reqs = [r.format(sha256=sha) for r in reqs]
    return wheel_dir(tmp_path, *wheels), write_req(tmp_path, reqs), check


@pytest.mark.parametrize("name", list(CASES))
def test_conformance(name, run_udfenv, tmp_path, worker, hand_wheels, built_wheels):
    c = CASES[name]
    wheels, req, more = case_inputs(c, hand_wheels, built_wheels, tmp_path)
    code = c.check + more + "; print(%r)" % OK
    proc, cache, report = udfenv_install(run_udfenv, tmp_path, worker, wheels, req,
                                         ["python", "-c", code])
    assert proc.returncode == 0 and proc.stdout.strip() == OK, str(proc)
    entry, data = load_entry(proc, cache, report)
    assert entry["outcome"] == "built", entry
    for rel in fmt(c.present, worker):
        assert (data / rel).exists(), "%s is not in udfenv's tree %s" % (rel, data)
    for rel in fmt(c.absent, worker):
        assert not (data / rel).exists(), "%s must not be in udfenv's tree %s" % (rel, data)
    ref = pip_tree(tmp_path, worker, wheels, req)
    wh.assert_same_install(ref, data)
    assert_native(proc, entry, data)


# --------------------------------------------------------------------------
# scripts run from the requirements' bin dir on the worker's PATH


SCRIPT_RUNS = {
    # label: (hand wheels, built wheels, requirement, shell command, expected stdout lines)
    "hand": (["tooling"], [], "tooling==1.0",
             "command -v tooling-cli; tooling-cli one two; tooling-gui; tooling-py; tooling-sh",
             ["{bin}/tooling-cli", "tooling-cli ran one two", "tooling-gui ran",
              "tooling-py ran {python}", "tooling-sh ran"]),
    "setuptools": (["speedup"], ["stool"], "stool==1.0",
                   "command -v stool-cli; stool-cli x; stool-gui; stool-legacy",
                   ["{bin}/stool-cli", "stool-cli ran x", "stool-gui ran", "stool-legacy ran"]),
}


@pytest.mark.parametrize("label", list(SCRIPT_RUNS))
def test_scripts_run_from_the_bin_dir(label, run_udfenv, tmp_path, worker, hand_wheels,
                                      built_wheels):
    hand, built, requirement, shell, expected = SCRIPT_RUNS[label]
    wheels = wheel_dir(tmp_path, *([hand_wheels[h] for h in hand] +
                                   [need_built(built_wheels, b) for b in built]))
    req = write_req(tmp_path, [requirement])
    proc, cache, report = udfenv_install(run_udfenv, tmp_path, worker, wheels, req,
                                         ["sh", "-c", shell])
    assert proc.returncode == 0, str(proc)
    entry, data = load_entry(proc, cache, report)
    # A #! names the worker interpreter (tooling-py prints where it runs, resolved).
    real_python = os.path.realpath(worker.path)
    want = [l.format(bin=data / worker.paths["scripts"], python=real_python) for l in expected]
    assert proc.stdout.splitlines() == want, str(proc)
    assert_native(proc, entry, data)


# --------------------------------------------------------------------------
# errors: exit 125, one error line naming the culprit, the command does not
# run, no requirements entry is published and no build is left behind


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "cmd-ran"
    return path, ["python", "-c", "open(%r, 'w').close()" % str(path)]


def check_failed_install(proc, cache, mark, expect_error, line_has):
    assert proc.returncode != 0 and not mark.exists(), \
        "the install succeeded and the command ran\n%s" % proc
    assert published_requirements(cache) == [], \
        "a failed install published a requirements entry\n%s" % proc
    assert leftover_builds(cache) == [], "a failed build left %s in %s/v1/tmp" % (
        leftover_builds(cache), cache)
    return expect_error(proc, 125, line_has=line_has)  # NATIVE (the named culprit)


def test_corrupt_wheel_is_named(run_udfenv, tmp_path, worker, hand_wheels, marker, expect_error):
    mark, cmd = marker
    wheels = wheel_dir(tmp_path, hand_wheels["plainpkg"], hand_wheels["broken"])
    req = write_req(tmp_path, ["plainpkg==1.0", "broken==1.0"])
    proc, cache, _ = udfenv_install(run_udfenv, tmp_path, worker, wheels, req, cmd)
    check_failed_install(proc, cache, mark, expect_error, ["broken-1.0-py3-none-any.whl"])


def test_record_hash_mismatch_names_the_file(run_udfenv, tmp_path, worker, hand_wheels, marker,
                                             expect_error):
    mark, cmd = marker
    wheels = wheel_dir(tmp_path, hand_wheels["tampered"])
    req = write_req(tmp_path, ["tampered==1.0"])
    proc, cache, _ = udfenv_install(run_udfenv, tmp_path, worker, wheels, req, cmd)
    assert proc.returncode != 0, "NATIVE: installed a wheel whose RECORD hash does not match " \
        "(pip does not check RECORD hashes)\n%s" % proc
    line = check_failed_install(proc, cache, mark, expect_error, ["tampered/core.py"])
    assert "hash" in line.lower() or "record" in line.lower(), \
        "the error line does not say the hash (RECORD) does not match:\n%s" % line


def test_missing_dependency_names_who_needs_what(run_udfenv, tmp_path, worker, hand_wheels,
                                                 marker, expect_error):
    mark, cmd = marker
    wheels = wheel_dir(tmp_path, hand_wheels["needy"], hand_wheels["plainpkg"])
    req = write_req(tmp_path, ["plainpkg==1.0", "needy==1.0"])
    proc, cache, _ = udfenv_install(run_udfenv, tmp_path, worker, wheels, req, cmd)
    check_failed_install(proc, cache, mark, expect_error, ["needy", "missingdep"])


def test_requirements_hash_mismatch(run_udfenv, tmp_path, worker, hand_wheels, marker,
                                    expect_error):
    mark, cmd = marker
    wheels = wheel_dir(tmp_path, hand_wheels["hashed"])
    req = write_req(tmp_path, ["hashed==1.0 --hash=sha256:" + "0" * 64])
    proc, cache, _ = udfenv_install(run_udfenv, tmp_path, worker, wheels, req, cmd)
    check_failed_install(proc, cache, mark, expect_error, ["hashed", "hash"])
    line = [l for l in proc.stderr.splitlines() if l.startswith("udfenv: error: ")][0]
    assert line.lower().count("hash") >= 2, \
        "the error line names 'hashed' but does not speak of its hash:\n%s" % line


# --------------------------------------------------------------------------
# fallback to pip


def test_unpinned_requirement_falls_back_to_pip(run_udfenv, tmp_path, worker, hand_wheels):
    wheels = wheel_dir(tmp_path, hand_wheels["plainpkg"], hand_wheels["speedup"])
    req = write_req(tmp_path, ["speedup==1.0", "plainpkg>=1.0"])
    proc, cache, report = udfenv_install(run_udfenv, tmp_path, worker, wheels, req,
                                         ["python", "-c", "import plainpkg, speedup; print(%r)" % OK])
    assert proc.returncode == 0 and proc.stdout.strip() == OK, str(proc)
    entry, data = load_entry(proc, cache, report)
    wh.assert_same_install(pip_tree(tmp_path, worker, wheels, req), data)
    # NATIVE from here: the report and -v name pip and why (the unpinned requirement).
    assert entry.get("installer") == "pip", "NATIVE: installer %r, expected 'pip'\n%s" % (
        entry.get("installer"), json.dumps(entry, indent=1))
    assert "plainpkg" in str(entry.get("fallback")), \
        "NATIVE: the fallback reason does not name the unpinned requirement: %r" % (
            entry.get("fallback"),)
    assert any("with pip: " in l and "plainpkg" in l for l in install_lines(proc)), \
        "NATIVE: no '-v' line 'install: ... with pip: <reason naming plainpkg>':\n%s" % proc.stderr


def test_sdist_only_requirement_is_built_once_then_installed_natively(run_udfenv, tmp_path, worker,
                                                                   hand_wheels, backend):
    """A project with only an sdist in the dir: pip builds its wheel once,
    into a cache entry of its own (kind "wheel", keyed by the sdist's bytes
    and the interpreter); the set is still installed natively, and a second,
    different set needing the same sdist reuses the built wheel."""
    if isinstance(backend, str):
        pytest.skip(backend)
    wheels = wheel_dir(tmp_path, hand_wheels["plainpkg"], *sorted(Path(backend).glob("*.whl")))
    pa.make_sdist(wheels, "sdonly", "2.0", {"sdonly/__init__.py": "VALUE = 'sdonly'\n"})
    pa.make_sdist(wheels, "sdonly", "1.0", {"sdonly/__init__.py": "VALUE = 'old'\n"})
    req = write_req(tmp_path, ["plainpkg==1.0", "sdonly==2.0"])
    proc, cache, report = udfenv_install(
        run_udfenv, tmp_path, worker, wheels, req,
        ["python", "-c", "import plainpkg, sdonly; assert sdonly.VALUE == 'sdonly'; print(%r)" % OK])
    assert proc.returncode == 0 and proc.stdout.strip() == OK, str(proc)
    entry, data = load_entry(proc, cache, report)
    assert entry.get("installer") == "native" and "fallback" not in entry, entry
    assert (data / worker.paths["purelib"] / "sdonly" / "__init__.py").is_file()
    built = [e for e in json.loads(report.read_text())["entries"] if e["kind"] == "wheel"]
    assert [(e["name"], e["outcome"]) for e in built] == [("sdonly-2.0.tar.gz", "built")], built
    assert any("built a wheel of 'sdonly-2.0.tar.gz' with pip" in l for l in proc.stderr.splitlines()), \
        proc.stderr

    # Another set, same sdist: the requirements entry is new, the wheel is not.
    other = tmp_path / "other"
    other.mkdir()
    req2 = write_req(other, ["sdonly==2.0"])
    proc2, _, report2 = udfenv_install(
        run_udfenv, tmp_path, worker, wheels, req2,
        ["python", "-c", "import sdonly; assert sdonly.VALUE == 'sdonly'; print(%r)" % OK], "r2.json")
    assert proc2.returncode == 0 and proc2.stdout.strip() == OK, str(proc2)
    entries = json.loads(report2.read_text())["entries"]
    assert [(e["kind"], e["outcome"]) for e in entries if e["kind"] in ("requirements", "wheel")] == \
        [("wheel", "hit"), ("requirements", "built")], entries
    assert not any("built a wheel" in l for l in proc2.stderr.splitlines()), proc2.stderr


# --------------------------------------------------------------------------
# the cache


def test_second_exec_is_a_cache_hit(run_udfenv, tmp_path, worker, hand_wheels):
    wheels = wheel_dir(tmp_path, hand_wheels["extras"], hand_wheels["speedup"])
    req = write_req(tmp_path, ["extras[fast]==1.0"])
    cmd = ["python", "-c", "import extras, speedup; print(%r)" % OK]
    first, cache, rep1 = udfenv_install(run_udfenv, tmp_path, worker, wheels, req, cmd, "r1.json")
    second, _, rep2 = udfenv_install(run_udfenv, tmp_path, worker, wheels, req, cmd, "r2.json")
    for proc in (first, second):
        assert proc.returncode == 0 and proc.stdout.strip() == OK, str(proc)
    e1, data = load_entry(first, cache, rep1)
    e2, _ = load_entry(second, cache, rep2)
    assert (e1["outcome"], e2["outcome"]) == ("built", "hit"), (e1, e2)
    assert e1["key"] == e2["key"]
    assert published_requirements(cache) == [e1["key"]]
    assert install_lines(second) == [], "a cache hit installed again:\n%s" % second.stderr
    assert_native(first, e1, data)
    # A hit need not say how its entry was installed; if it does, it is the same.
    assert e2.get("installer", "native") == "native", e2


# --------------------------------------------------------------------------
# the comparison itself (holds today: it checks the test machinery)


def test_tree_comparison_reports_each_difference(tmp_path, worker, hand_wheels):
    """compare_install_trees on pip's tree of `tooling` against a copy with
    one change of each kind: every real difference is reported, naming its
    path, and nothing an installer may legitimately do differently is."""
    wheels = wheel_dir(tmp_path, hand_wheels["tooling"])
    req = write_req(tmp_path, ["tooling==1.0"])
    ref = pip_tree(tmp_path, worker, wheels, req)
    assert wh.compare_install_trees(ref, ref) == []
    cand = tmp_path / "candidate"
    shutil.copytree(str(ref), str(cand), symlinks=True)
    site = cand / worker.paths["purelib"]
    bindir = cand / worker.paths["scripts"]
    dist_info = site / "tooling-1.0.dist-info"

    # Allowed: INSTALLER, pyc files and rows, udfenv-site/, installer-only
    # RECORD rows, a #! naming the same interpreter through a symlink.
    (dist_info / "INSTALLER").write_text("udfenv\n")
    (site / "tooling" / "__pycache__").mkdir()
    (site / "tooling" / "__pycache__" / "cli.cpython-311.pyc").write_bytes(b"pyc")
    (cand / "udfenv-site").mkdir()
    (cand / "udfenv-site" / "sitecustomize.py").write_text("pass\n")
    with open(str(dist_info / "RECORD"), "a") as f:
        f.write("tooling/__pycache__/cli.cpython-311.pyc,,\ntooling-1.0.dist-info/direct_url.json,,\n")
    alias = tmp_path / "python-alias"
    os.symlink(worker.path, str(alias))
    py_script = bindir / "tooling-py"
    body = py_script.read_bytes().split(b"\n", 1)[1]
    py_script.write_bytes(b"#!" + str(alias).encode() + b"\n" + body)
    assert wh.compare_install_trees(ref, cand) == []

    # Not allowed, one of each.
    with open(str(site / "tooling" / "cli.py"), "a") as f:
        f.write("# changed\n")
    os.chmod(str(bindir / "tooling-sh"), 0o644)
    (site / "tooling" / "extra.py").write_text("X = 1\n")
    (cand / "share" / "tooling" / "notes.txt").unlink()
    cli = bindir / "tooling-cli"
    cli.write_bytes(b"#!/bin/false\n" + cli.read_bytes().split(b"\n", 1)[1])
    with open(str(dist_info / "RECORD"), "a") as f:
        f.write("tooling/ghost.py,sha256=AAAA,1\n")
    problems = "\n".join(wh.compare_install_trees(ref, cand))
    for needle in ("only in pip's tree (1):\n    share/tooling/notes.txt",
                   "only in udfenv's tree (1):\n    %s/tooling/extra.py" % worker.paths["purelib"],
                   "%s/tooling/cli.py: contents differ" % worker.paths["purelib"],
                   "+# changed",
                   "%s/tooling-sh: mode 0o755 in pip's tree, 0o644 in udfenv's" % worker.paths["scripts"],
                   "%s/tooling-cli: #! names another interpreter" % worker.paths["scripts"],
                   "only in udfenv's: tooling/ghost.py,sha256=AAAA,1"):
        assert needle in problems, "%r not reported:\n%s" % (needle, problems)
    assert "tooling-py" not in problems and "INSTALLER" not in problems and \
        "__pycache__" not in problems and "udfenv-site" not in problems, problems
    with pytest.raises(AssertionError, match="install trees differ"):
        wh.assert_same_install(ref, cand)


# --------------------------------------------------------------------------
# The interpreter probe (src/lib/probe.py) against pip's own answers

PROBE = Path(__file__).resolve().parents[2] / "src" / "lib" / "probe.py"

PIP_VIEW = r"""
import json, os, sys
from pip._internal.utils.compatibility_tags import get_supported
out = {"tags": [str(t) for t in get_supported()]}
try:
    from pip._internal.locations import get_scheme
except ImportError:  # pip < 20.2 has no get_scheme
    out["scheme"] = None
else:
    s = get_scheme("dist", prefix="/@udfenv-prefix@")
    out["scheme"] = dict((k, os.path.relpath(getattr(s, k), "/@udfenv-prefix@"))
                         for k in ("purelib", "platlib", "scripts", "data", "headers"))
print(json.dumps(out))
"""


def test_probe_agrees_with_pip_on_every_interpreter(pythons, tmp_path):
    """The probe's tag list (order included) and --prefix scheme are pip's,
    for every Python 3 on the machine and for a venv of one."""
    if not pythons:
        pytest.skip("no python3.X interpreters found")
    interpreters = dict(pythons)
    venv_python = list(pythons.values())[-1]  # the newest: its pip can answer
    try:
        subprocess.run([venv_python, "-m", "venv", str(tmp_path / "venv")], check=True,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
        interpreters["venv"] = str(tmp_path / "venv" / "bin" / "python")
    except (OSError, subprocess.SubprocessError) as e:
        print("no venv check: %s" % e)
    checked = []
    for label, py in interpreters.items():
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_"))}
        lines = subprocess.run([py, str(PROBE)], stdout=subprocess.PIPE, check=True, env=env,
                               universal_newlines=True, timeout=120).stdout.splitlines()
        assert len(lines) == 2, "%s: the probe prints two lines: %r" % (label, lines)
        identity, details = json.loads(lines[0]), json.loads(lines[1])
        assert identity["details"] == hashlib.sha256(lines[1].encode()).hexdigest(), label
        pip = subprocess.run([py, "-c", PIP_VIEW], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=env, universal_newlines=True, timeout=120)
        if pip.returncode != 0:
            print("%s: no pip to compare with: %s" % (label, pip.stderr.strip()[-200:]))
            continue
        want = json.loads(pip.stdout)
        assert details["tags"] == want["tags"], "%s: tags differ from pip's" % label
        if want["scheme"] is not None:
            ours = dict(details["scheme"], headers=details["scheme"]["headers"] + "/dist")
            assert ours == want["scheme"], "%s: scheme %s, pip's %s" % (label, ours, want["scheme"])
        checked.append(label)
    assert checked, "no interpreter had a pip to compare with"
    print("probe agrees with pip on: %s" % ", ".join(checked))


# --------------------------------------------------------------------------
# requirements files that include others (-r, -c)


def _include_inputs(tmp_path, hand_wheels):
    wheels = wheel_dir(tmp_path, hand_wheels["plainpkg"], hand_wheels["twover-1.0"],
                       hand_wheels["twover-2.0"])
    top = tmp_path / "reqs"
    (top / "sub").mkdir(parents=True)
    (top / "requirements.txt").write_text("-r sub/pins.txt\n-c sub/constraints.txt\n")
    (top / "sub" / "pins.txt").write_text("plainpkg==1.0\ntwover==1.0\n")
    (top / "sub" / "constraints.txt").write_text("twover<2\n")
    return wheels, top / "requirements.txt"


def test_includes_travel_with_the_requirements_file(run_udfenv, tmp_path, worker, hand_wheels):
    """-r and -c files under the requirements file's dir are shipped with it
    (directly and through `udfenv stage`), installed natively, and part of
    the entry's key: editing an include makes a new entry."""
    wheels, req = _include_inputs(tmp_path, hand_wheels)
    cmd = ["python", "-c", "import plainpkg, twover; print(twover.VERSION)"]
    proc, cache, report = udfenv_install(run_udfenv, tmp_path, worker, wheels, req, cmd)
    assert proc.returncode == 0 and proc.stdout.strip() == "1.0", str(proc)
    entry, _ = load_entry(proc, cache, report)
    assert entry.get("installer") == "native" and entry["outcome"] == "built", entry
    first_key = entry["key"]

    # The same through a staged manifest and store.
    out = tmp_path / "staged"
    staged = run_udfenv("stage", "-pyreq", "%s#%s" % (req, wheels), "-pyexec", worker.path,
                        "--out", out)
    assert staged.returncode == 0, str(staged)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["requirements"]["file"]["kind"] == "dir", manifest["requirements"]
    assert manifest["requirements"]["file"]["name"] == "requirements.txt", manifest["requirements"]
    proc = run_udfenv("exec", "--cache-dir", tmp_path / "cache-2", "--manifest", out / "manifest.json",
                      "--", *cmd, timeout=INSTALL_TIMEOUT)
    assert proc.returncode == 0 and proc.stdout.strip() == "1.0", str(proc)

    # An edited include is a new entry.
    (req.parent / "sub" / "pins.txt").write_text("plainpkg==1.0\ntwover==1.0\n# edited\n")
    proc, cache, report = udfenv_install(run_udfenv, tmp_path, worker, wheels, req, cmd, "r2.json")
    assert proc.returncode == 0, str(proc)
    entry, _ = load_entry(proc, cache, report)
    assert entry["outcome"] == "built" and entry["key"] != first_key, entry


def test_an_include_outside_the_files_dir_is_refused(run_udfenv, tmp_path, worker, hand_wheels,
                                                     expect_error):
    wheels = wheel_dir(tmp_path, hand_wheels["plainpkg"])
    (tmp_path / "elsewhere.txt").write_text("plainpkg==1.0\n")
    top = tmp_path / "reqs"
    top.mkdir()
    (top / "requirements.txt").write_text("-r ../elsewhere.txt\n")
    proc, cache, _ = udfenv_install(run_udfenv, tmp_path, worker, wheels, top / "requirements.txt",
                                    ["true"])
    expect_error(proc, 125, line_has=["includes '", "elsewhere.txt", "lies outside its directory"])
    assert not published_requirements(cache)


def test_a_dependency_without_a_version(run_udfenv, tmp_path, worker, hand_wheels):
    """Requires-Dist: plainpkg (no specifier) takes the dir's newest plainpkg."""
    wheels = wheel_dir(tmp_path, hand_wheels["plainpkg"])
    pa.make_wheel(wheels, "plainpkg", "9.0", {"plainpkg/__init__.py": "NEWEST = True\n"})
    pa.make_wheel(wheels, "loose", "1.0", {"loose/__init__.py": "import plainpkg\n"},
                  requires=["plainpkg"])
    req = write_req(tmp_path, ["loose==1.0"])
    proc, cache, report = udfenv_install(run_udfenv, tmp_path, worker, wheels, req,
                                         ["python", "-c", "import loose, plainpkg; print(plainpkg.NEWEST)"])
    assert proc.returncode == 0 and proc.stdout.strip() == "True", str(proc)
    entry, data = load_entry(proc, cache, report)
    assert entry.get("installer") == "native", entry
    wh.assert_same_install(pip_tree(tmp_path, worker, wheels, req), data)


def test_an_include_named_two_ways_travels_once(run_udfenv, tmp_path, worker, hand_wheels):
    wheels = wheel_dir(tmp_path, hand_wheels["plainpkg"])
    top = tmp_path / "reqs"
    (top / "sub").mkdir(parents=True)
    (top / "requirements.txt").write_text("-r a.txt\n-r sub/b.txt\n")
    (top / "a.txt").write_text("plainpkg==1.0\n")
    (top / "sub" / "b.txt").write_text("-r ../a.txt\n")
    proc, _, _ = udfenv_install(run_udfenv, tmp_path, worker, wheels, top / "requirements.txt",
                                ["python", "-c", "import plainpkg; print(%r)" % OK])
    assert proc.returncode == 0 and proc.stdout.strip() == OK, str(proc)


def test_includes_beside_a_symlinked_requirements_file(run_udfenv, tmp_path, worker, hand_wheels):
    """Includes are found from the directory the file is named in (as pip
    does), even when the file itself is a symlink to elsewhere."""
    wheels = wheel_dir(tmp_path, hand_wheels["plainpkg"])
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "requirements.txt").write_text("-r pins.txt\n")
    (tmp_path / "link").mkdir()
    (tmp_path / "link" / "requirements.txt").symlink_to(tmp_path / "real" / "requirements.txt")
    (tmp_path / "link" / "pins.txt").write_text("plainpkg==1.0\n")
    proc, _, _ = udfenv_install(run_udfenv, tmp_path, worker, wheels,
                                tmp_path / "link" / "requirements.txt",
                                ["python", "-c", "import plainpkg; print(%r)" % OK])
    assert proc.returncode == 0 and proc.stdout.strip() == OK, str(proc)


def test_a_bad_include_is_named_when_declared(run_udfenv, tmp_path, worker, hand_wheels, expect_error):
    wheels = wheel_dir(tmp_path, hand_wheels["plainpkg"])
    top = tmp_path / "reqs"
    top.mkdir()
    (top / "requirements.txt").write_text("-r a.txt\n")
    (top / "a.txt").write_text("plainpkg==1.0 --bogus-opt\n")
    proc, cache, _ = udfenv_install(run_udfenv, tmp_path, worker, wheels, top / "requirements.txt",
                                    ["true"])
    expect_error(proc, 125, line_has=["a.txt line 1", "--bogus-opt"])
    assert not published_requirements(cache)


def test_a_constraint_whose_marker_does_not_apply_is_ignored(run_udfenv, tmp_path, worker,
                                                             hand_wheels):
    wheels = wheel_dir(tmp_path, hand_wheels["twover-1.0"], hand_wheels["twover-2.0"])
    (tmp_path / "constraints.txt").write_text('twover==1.0; python_version < "3"\n')
    req = write_req(tmp_path, ["-c constraints.txt", "twover==2.0"])
    proc, cache, report = udfenv_install(run_udfenv, tmp_path, worker, wheels, req,
                                         ["python", "-c", "import twover; print(twover.VERSION)"])
    assert proc.returncode == 0 and proc.stdout.strip() == "2.0", str(proc)
    entry, _ = load_entry(proc, cache, report)
    assert entry.get("installer") == "native", entry
