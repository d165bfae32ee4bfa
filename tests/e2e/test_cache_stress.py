"""The node cache under stress (REFERENCE.md section 4): many processes
preparing the same environment at once, builders SIGKILLed at random points
and while others wait for them, GC running beside a live lease, and a cache
on a full filesystem; and that an install started by a killed builder dies
with it.

What must hold whatever happens:
- each entry key is built exactly once while its entry exists (the others
  hit it or wait for the builder);
- an entry dir C/v1/entries/<key> is always complete: its marker is there
  and its data tree is the same as a clean build's;
- what dead processes leave (C/v1/tmp/<key>.XXXXXX, private dirs under the
  temp root) is reclaimed by the next build of that key or by
  `udfenv cache gc`; GC never takes an entry that is leased.

Rounds of the SIGKILL test: $UDFENV_STRESS_ROUNDS (default 15); the kill
points come from $UDFENV_STRESS_SEED (default: random, shown on failure).
The checks that need `udfenv cache` (ls, gc, clear) are skipped, with the
reason shown, when the binary under test has no such command.
"""

import json
import os
import random
import shutil
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

import procs
import pyartifacts as pa
from cachetree import (check_built_once, check_entries, drop_entries, entries_dir, listdir, published,
                       read_json, reference_entries, tmp_builds)
from procs import alive, kill_group, processes_naming, wait_gone, wait_until

ROUNDS = int(os.environ.get("UDFENV_STRESS_ROUNDS", "15"))
PIP_TIMEOUT = 300
BIG_FILES = 4000  # extraction takes ~0.2 s: long enough to be killed in the middle


# --------------------------------------------------------------------------
# helpers (the cache checks: tests/fixtures/cachetree.py; processes: procs.py)


def extracting(cache):
    """The archive extractions under way in `cache`: data.tmp-* in a build dir."""
    found = []
    for build in tmp_builds(cache):
        found += [Path(cache) / "v1" / "tmp" / build / n for n in listdir(Path(cache) / "v1" / "tmp" / build)
                  if n.startswith("data.tmp-")]
    return found


def build_lock_waiters(cache, key):
    """Pids blocked on taking the build lock of `key` (from /proc/locks)."""
    st = os.stat(str(Path(cache) / "v1" / "locks" / (key + ".build")))
    dev = "%02x:%02x:%d" % (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)
    pids = set()
    with open("/proc/locks") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 5 and fields[1] == "->" and fields[2] == "FLOCK" and fields[6] == dev:
                pids.add(int(fields[5]))
    return pids


_cli = {}


def cache_cli(udfenv_bin):
    """Whether this binary has `udfenv cache` (src/cli/cmd_cache.c)."""
    if udfenv_bin not in _cli:
        res = subprocess.run([str(udfenv_bin), "cache", "--help"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, universal_newlines=True, timeout=30)
        _cli[udfenv_bin] = "not a command" not in res.stderr
    return _cli[udfenv_bin]


NO_CLI = "%s has no 'udfenv cache' command yet (src/cli/cmd_cache.c): %s"


def reclaim_with_gc(run_udfenv, udfenv_bin, cache, tmp_root):
    """`udfenv cache gc` must reclaim what SIGKILLed processes left: their
    private dirs under the temp root and their temp builds. Returns the
    private dirs there were before, or None when the binary has no
    `udfenv cache`: then they are removed here (the temp root must be left
    empty) and the test ends with skip_unchecked_gc once all else passed."""
    left = listdir(tmp_root)
    if not cache_cli(udfenv_bin):
        for name in left:
            shutil.rmtree(str(Path(tmp_root) / name))
        return None
    proc = run_udfenv("cache", "--cache-dir", cache, "gc")
    assert proc.returncode == 0, str(proc)
    assert listdir(tmp_root) == [], "gc left the private dirs of dead processes (%d before): %s\n%s" % (
        len(left), listdir(tmp_root), proc)
    assert tmp_builds(cache) == [], "gc left temp builds of dead builders: %s\n%s" % (
        tmp_builds(cache), proc)
    return left


def skip_unchecked_gc(udfenv_bin, what):
    pytest.skip(NO_CLI % (udfenv_bin, "%s passed; reclaiming dead processes' leftovers with "
                                      "'udfenv cache gc' was not checked" % what))


def finish(p, timeout=PIP_TIMEOUT):
    """Wait for a spawned udfenv: a result whose str() tells everything."""
    return procs.finish(p, timeout)


# --------------------------------------------------------------------------
# artifacts, made once


@pytest.fixture(scope="module")
def art(tmp_path_factory):
    root = tmp_path_factory.mktemp("stress")
    (root / "mod.py").write_text("VALUE = 'mod-1'\n")
    pa.write_tree(root / "pkgdir", {"pkgmod.py": "VALUE = 'pkgdir-1'\n"})
    pa.make_wheel(root / "wheels", "stress-dep", "1.0", {"stressdep/__init__.py": "VALUE = 'dep-1.0'\n"})
    (root / "requirements.txt").write_text("stress-dep==1.0\n")
    pa.make_data_zip(root / "data.zip", {"x.txt": "hello x\n"})
    pa.make_data_zip(root / "other.zip", {"y.txt": "hello y\n"})
    pa.make_zip(root / "big.zip", {"d%02d/f%04d.txt" % (i % 50, i): "file %d\n" % i
                                   for i in range(BIG_FILES)})
    return root


@pytest.fixture(scope="module")
def venv_zip(pythons, tmp_path_factory):
    """A zipped venv (with pip: requirements are installed with the worker
    interpreter) of a pyenv Python, 3.8 preferably."""
    for want in ("3.8", "3.9", "3.10", "3.12", "3.11", "3.7"):
        if want in pythons:
            path, version = pythons[want], want
            break
    else:
        pytest.skip("no python3.X to make a venv of (looked in pyenv and PATH): %s" % pythons)
    name = "py" + version.replace(".", "")
    try:
        z = pa.make_venv_zip(path, tmp_path_factory.mktemp("venv") / "venv.zip", name, with_pip=True)
    except RuntimeError as e:
        pytest.skip("cannot make a venv with pip of %s: %s" % (path, e))
    return {"zip": z, "name": name, "version": version}


def reqs(art):
    return "%s#%s" % (art / "requirements.txt", art / "wheels")


# --------------------------------------------------------------------------
# 1. many preparations of one environment at once

ALL_KINDS_PROBE = textwrap.dedent("""\
    import json, os, sys
    import mod, pkgmod, stressdep
    print(json.dumps([mod.VALUE, pkgmod.VALUE, stressdep.VALUE, open("data/x.txt").read(),
                      "%d.%d" % sys.version_info[:2], os.path.realpath(sys.prefix)]))
    """)


def test_concurrent_preparations_build_each_entry_once(spawn, art, venv_zip, tmp_path):
    cache, n = tmp_path / "cache", 16
    args = ["--cache-dir", cache, "-pyfs", art / "mod.py", "-pyfs", art / "pkgdir",
            "-pyreq", reqs(art), "-pyarch", "%s#data" % (art / "data.zip"),
            "-pyarch", "%s#venv" % venv_zip["zip"],
            "-pyexec", "venv/%s/bin/python" % venv_zip["name"]]
    procs = [spawn("exec", "--report", tmp_path / ("r%02d.json" % i), *args,
                   "--", "python", "-c", ALL_KINDS_PROBE) for i in range(n)]
    results = [finish(p) for p in procs]

    for res in results:
        assert res.returncode == 0, str(res)
        assert "Traceback" not in res.stderr, str(res)
        out = json.loads(res.stdout.strip().splitlines()[-1])
        assert out[:5] == ["mod-1", "pkgdir-1", "dep-1.0", "hello x\n", venv_zip["version"]], str(res)
        assert out[5].startswith(str(entries_dir(cache).resolve())), \
            "the worker interpreter does not run from the venv's cache entry: %s" % out[5]

    declared = [("archive", "data.zip"), ("archive", "venv.zip"), ("files", "mod.py"),
                ("files", "pkgdir"), ("requirements", "requirements.txt")]
    reports = [read_json(tmp_path / ("r%02d.json" % i)) for i in range(n)]
    for rep in reports:
        ph = rep["phases"]
        assert sum(ph["extract"][o] for o in ("hit", "waited", "built")) == 4, ph
        assert sum(ph["install"][o] for o in ("hit", "waited", "built")) == 1, ph
    # What was declared, and whatever else the env is made of (the python shims).
    outcomes = check_built_once(cache, [(rep, declared) for rep in reports])
    assert len(outcomes) == len(reports[0]["entries"]), outcomes
    for key, got in outcomes.items():
        assert len(got) == n, (key, got)
    assert tmp_builds(cache) == []


# --------------------------------------------------------------------------
# 2. builders SIGKILLed at random points

BIG_PROBE = textwrap.dedent("""\
    import os, stressdep
    n = sum(len(files) for _, _, files in os.walk("big"))
    print(stressdep.VALUE, n, open("big/d07/f0007.txt").read().strip())
    """)


def test_sigkill_at_random_points_leaves_no_half_built_entry(run_udfenv, spawn, udfenv_bin, art,
                                                             tmp_path, tmp_root, default_python):
    seed = int(os.environ.get("UDFENV_STRESS_SEED") or random.randrange(1 << 30))
    rng = random.Random(seed)
    # The real binary, not a pyenv shim: its identity is probed once, not on every run.
    deps = ["-pyexec", default_python.path, "-pyarch", "%s#big" % (art / "big.zip"),
            "-pyreq", reqs(art)]
    expected = "dep-1.0 %d file 7\n" % BIG_FILES

    # The reference: a clean build in a cache of its own. Not the first
    # one's time: it also asks the interpreter what it is (remembered by the
    # cache), which the rounds below skip, and the native installer makes
    # the rest quick enough for that to be most of a build. The fastest of
    # three more: one slowed by a busy machine would time the kills past
    # the rounds' end. The command is `true`, as in the rounds: the build
    # is what is timed.
    ref_cache = tmp_path / "ref-cache"
    times = []
    for _ in range(4):
        if ref_cache.exists():
            drop_entries(ref_cache)
        t0 = time.time()
        proc = run_udfenv("exec", "--cache-dir", ref_cache, *deps, "--", "true", timeout=PIP_TIMEOUT)
        times.append(time.time() - t0)
        assert proc.returncode == 0, str(proc)
    build_time = min(times[1:])
    proc = run_udfenv("exec", "--cache-dir", ref_cache, *deps, "--", "python", "-c", BIG_PROBE,
                      timeout=PIP_TIMEOUT)
    assert proc.returncode == 0 and proc.stdout == expected, str(proc)
    reference = reference_entries(ref_cache)
    kinds = sorted(read_json(entries_dir(ref_cache) / k / "udfenv-entry.json")["kind"] for k in reference)
    assert "archive" in kinds and "requirements" in kinds, kinds

    cache = tmp_path / "cache"
    outcomes = []
    for r in range(ROUNDS):
        ctx = "round %d (seed %d): " % (r, seed)
        drop_entries(cache)
        # Stratified: round r kills somewhere in the r-th slice of a build.
        delay = build_time * (r + rng.random()) / ROUNDS
        p = spawn("exec", "--cache-dir", cache, *deps, "--", "true", quiet=True)
        time.sleep(delay)
        kill_group(p)
        outcomes.append((round(delay, 3), p.returncode))
        check_entries(cache, reference, ctx + "after a SIGKILL at %.3f s: " % delay)

        # A build done before its kill: the reference was slowed by a busy machine; the rest of
        # the rounds go by this one.
        if p.returncode == 0:
            build_time = min(build_time, delay)
        proc = run_udfenv("exec", "--cache-dir", cache, *deps, "--", "python", "-c", BIG_PROBE,
                          timeout=PIP_TIMEOUT)
        assert proc.returncode == 0 and proc.stdout == expected, ctx + str(proc)
        assert check_entries(cache, reference, ctx + "after a normal run: ") == sorted(reference)
    killed = [d for d, rc in outcomes if rc == -signal.SIGKILL]
    assert len(killed) >= max(1, ROUNDS // 3), \
        "most runs finished before their kill (seed %d): (delay, status) %s" % (seed, outcomes)

    # pip's reaper kills it when udfenv dies, but not in the same instant
    # (test_sigkilled_builder_leaves_no_installer_running); let it end first.
    wait_gone(cache, timeout=60)
    left = reclaim_with_gc(run_udfenv, udfenv_bin, cache, tmp_root)
    if left is None:
        skip_unchecked_gc(udfenv_bin, "%d kill rounds" % ROUNDS)
    if any(d > 0.3 for d in killed):
        # Killed well into setup: its private dir was made (and only GC can remove it).
        assert left, "no private dir of a killed run was left to reclaim: %s" % outcomes
    check_entries(cache, reference, "after gc: ")
    assert published(cache) == sorted(reference), "gc without a size removed entries"


# --------------------------------------------------------------------------
# 3. GC beside a live lease


def test_gc_never_removes_a_leased_entry(run_udfenv, spawn, udfenv_bin, art, tmp_path):
    if not cache_cli(udfenv_bin):
        pytest.skip(NO_CLI % (udfenv_bin, "gc, clear and ls are what this test is about"))
    cache = tmp_path / "cache"
    started, release = tmp_path / "started", tmp_path / "release"

    # An entry nobody leases: GC takes it.
    proc = run_udfenv("exec", "--cache-dir", cache, "-pyarch", "%s#other" % (art / "other.zip"),
                      "--", "cat", "other/y.txt")
    assert proc.returncode == 0 and proc.stdout == "hello y\n", str(proc)

    holder_report = tmp_path / "holder.json"
    holder = spawn("exec", "--cache-dir", cache, "--report", holder_report, "-pyfs", art / "mod.py",
                   "-pyarch", "%s#data" % (art / "data.zip"), "--", "sh", "-c",
                   'touch "$1"; while [ ! -e "$2" ]; do sleep 0.02; done; cat data/x.txt; '
                   'python -c "import mod; print(mod.VALUE)"', "sh", started, release)
    wait_until(lambda: started.exists() or holder.poll() is not None, 60, "the command to start")
    assert holder.poll() is None, str(finish(holder))

    def ls():
        proc = run_udfenv("cache", "--cache-dir", cache, "ls", "--json")
        assert proc.returncode == 0, str(proc)
        listed = json.loads(proc.stdout)
        assert isinstance(listed, list), proc.stdout
        for e in listed:
            assert {"key", "kind", "name", "size", "last_used", "leased", "complete"} <= set(e), e
        return {e["key"]: e for e in listed}

    before = ls()
    assert sorted(before) == published(cache), before
    names = {(e["kind"], e["name"]): k for k, e in before.items()}
    other = names[("archive", "other.zip")]
    leased = sorted(k for k, e in before.items() if e["leased"])
    assert other not in leased, before
    assert names[("archive", "data.zip")] in leased and names[("files", "mod.py")] in leased, before

    for cmd in (["gc", "--max-size", "0"], ["clear"]):
        proc = run_udfenv("cache", "--cache-dir", cache, *cmd)
        assert proc.returncode == 0, str(proc)
        now = ls()
        assert sorted(now) == leased, "after %s: %s (leased: %s)\n%s" % (cmd, sorted(now), leased, proc)
        for key in leased:
            assert now[key]["leased"] is True and now[key]["complete"] is True, now[key]
            assert (entries_dir(cache) / key / "udfenv-entry.json").is_file()
    assert (entries_dir(cache) / names[("archive", "data.zip")] / "data" / "x.txt").read_text() \
        == "hello x\n"

    release.touch()
    res = finish(holder)
    assert res.returncode == 0 and res.stdout == "hello x\nmod-1\n", str(res)
    assert sorted(e["key"] for e in read_json(holder_report)["entries"]) == leased

    after = ls()
    assert sorted(after) == leased and not any(e["leased"] for e in after.values()), after
    proc = run_udfenv("cache", "--cache-dir", cache, "gc", "--max-size", "0")
    assert proc.returncode == 0, str(proc)
    assert ls() == {}
    assert published(cache) == [] and tmp_builds(cache) == []


# --------------------------------------------------------------------------
# 4. a cache on a full filesystem


@pytest.fixture
def small_fs(tmp_path):
    """A 4 MiB tmpfs (mode 0700: a cache must not be writable by others)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (euid %d)" % os.geteuid())
    mnt = tmp_path / "small-fs"
    mnt.mkdir()
    try:
        res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(mnt)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             universal_newlines=True, timeout=30)
    except OSError as e:
        pytest.skip("cannot run mount: %s" % e)
    if res.returncode != 0:
        pytest.skip("mounting a tmpfs is not permitted here: %s" % res.stdout.strip())
    try:
        yield mnt
    finally:
        res = subprocess.run(["umount", str(mnt)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             universal_newlines=True, timeout=30)
        if res.returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], timeout=30)
        assert res.returncode == 0, "umount %s: %s" % (mnt, res.stdout)


def test_full_disk_fails_cleanly_and_names_the_cache(run_udfenv, small_fs, expect_error, tmp_path, art):
    n = 8 << 20  # incompressible: the zip is as big as what it holds, twice the fs
    blob = pa.make_zip(tmp_path / "blob.zip",
                       {"blob.bin": random.Random(7).getrandbits(8 * n).to_bytes(n, "little")})
    ran = tmp_path / "ran"
    full = run_udfenv("exec", "--cache-dir", small_fs, "-pyarch", "%s#blob" % blob,
                      "--", "touch", ran)
    assert full.returncode == 125, str(full)
    assert not ran.exists(), "the command ran although setup failed"
    assert published(small_fs) == [], "an entry is visible after a failed build"
    assert tmp_builds(small_fs) == [], "the failed build was left in the cache's tmp dir"
    assert listdir(small_fs / "v1" / "trash") == []

    proc = run_udfenv("exec", "--cache-dir", small_fs, "-pyarch", "%s#data" % (art / "data.zip"),
                      "--", "cat", "data/x.txt")
    assert proc.returncode == 0 and proc.stdout == "hello x\n", str(proc)
    markers = [read_json(entries_dir(small_fs) / k / "udfenv-entry.json") for k in published(small_fs)]
    assert ("archive", "data.zip") in [(m["kind"], m["name"]) for m in markers], markers
    assert tmp_builds(small_fs) == []
    # Last, so that the checks above run whatever the message says.
    expect_error(full, 125, line_has=["no space left", str(small_fs), "blob.zip"])


# --------------------------------------------------------------------------
# 5. a builder killed while others wait for it

BIG_CAT = ["--", "sh", "-c", 'cat big/d07/f0007.txt; python -c "import mod; print(mod.VALUE)"']


def test_builder_killed_while_others_wait(run_udfenv, spawn, udfenv_bin, art, tmp_path, tmp_root):
    deps = ["-pyfs", art / "mod.py", "-pyarch", "%s#big" % (art / "big.zip")]
    for attempt in range(3):
        cache = tmp_path / ("cache%d" % attempt)
        first = spawn("exec", "--cache-dir", cache, *deps, "--", "true", quiet=True)
        # Its archive extraction under way (data.tmp-* in its build dir): freeze it there.
        building = wait_until(
            lambda: extracting(cache) or first.poll() is not None,
            60, "the archive build to start")
        os.killpg(first.pid, signal.SIGSTOP)
        key = building[0].parent.name.split(".")[0] if building is not True else None
        if key is None or key in published(cache):
            # It finished its build before it was frozen: let it end, try again.
            os.killpg(first.pid, signal.SIGCONT)
            first.wait()
            continue
        break
    else:
        pytest.fail("the builder finished its build before it could be stopped, 3 times")

    reports = [tmp_path / ("w%d.json" % i) for i in range(3)]
    waiters = [spawn("exec", "--cache-dir", cache, "--report", rep, *deps, *BIG_CAT) for rep in reports]
    pids = {w.pid for w in waiters}
    wait_until(lambda: build_lock_waiters(cache, key) == pids or any(w.poll() is not None for w in waiters),
               60, "the 3 others to wait for the build lock")
    before = published(cache)  # what the first one published (mod.py's entry)
    kill_group(first)
    results = [finish(w) for w in waiters]
    for res in results:
        assert res.returncode == 0 and res.stdout == "file 7\nmod-1\n", str(res)

    got = [{e["key"]: e["outcome"] for e in read_json(rep)["entries"]} for rep in reports]
    assert sorted(g[key] for g in got) == ["built", "waited", "waited"], got
    mod_key = [e["key"] for e in read_json(reports[0])["entries"] if e["name"] == "mod.py"]
    assert before == mod_key, "published at the kill: %s, mod.py's entry: %s" % (before, mod_key)
    for k in got[0]:
        # Published before the kill: hit by all; else built by one of them.
        want = 0 if k in before else 1
        assert [g[k] for g in got].count("built") == want, (k, got)
    assert published(cache) == sorted(got[0])
    for k in published(cache):
        assert read_json(entries_dir(cache) / k / "udfenv-entry.json")["key"] == k
    # The rebuilder reclaimed the dead builder's temp build before building.
    assert tmp_builds(cache) == []
    assert len(list((entries_dir(cache) / key / "data").rglob("*.txt"))) == BIG_FILES
    left = reclaim_with_gc(run_udfenv, udfenv_bin, cache, tmp_root)
    if left is None:
        skip_unchecked_gc(udfenv_bin, "the waiters' checks")
    assert len(left) == 1, "the killed builder's private dir was not left to reclaim: %s" % left


# --------------------------------------------------------------------------
# 6. what a killed builder started dies with it

HANGING_BACKEND = textwrap.dedent('''\
    import os, time
    def _hang():
        with open(os.environ["STRESS_PID_FILE"] + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.rename(os.environ["STRESS_PID_FILE"] + ".tmp", os.environ["STRESS_PID_FILE"])
        deadline = time.time() + 60
        while not os.path.exists(os.environ["STRESS_RELEASE"]) and time.time() < deadline:
            time.sleep(0.05)
    def get_requires_for_build_wheel(config_settings=None):
        _hang()
        return []
    build_wheel = get_requires_for_build_wheel
    ''')


@pytest.fixture
def hanging_requirements(tmp_path):
    """An offline requirement whose in-tree build backend announces its pid
    and hangs until a release file appears (at most a minute)."""
    cache = tmp_path / "hang-wheels"
    pa.make_backend_sdist(cache, "hangpkg", "1.0", "hangbackend", HANGING_BACKEND)
    req = tmp_path / "hang-requirements.txt"
    req.write_text("hangpkg==1.0\n")
    release = tmp_path / "release-backend"
    yield "%s#%s" % (req, cache), tmp_path / "backend.pid", release
    release.touch()  # whatever happened: let a backend still hanging end


def test_sigkilled_builder_leaves_no_installer_running(run_udfenv, spawn, udfenv_bin, tmp_path,
                                                       tmp_root, hanging_requirements):
    """SIGKILL of udfenv's whole process group while pip installs: nothing
    may go on writing into the dead builder's temp build (and a hanging
    install would otherwise outlive its --install-timeout forever)."""
    spec, pid_file, release = hanging_requirements
    cache = tmp_path / "cache"
    p = spawn("exec", "--cache-dir", cache, "--install-timeout", "120", "-pyreq", spec, "--", "true",
              env={"STRESS_PID_FILE": pid_file, "STRESS_RELEASE": release}, quiet=True)
    wait_until(lambda: pid_file.exists() or p.poll() is not None, 60, "the build backend to start")
    assert p.poll() is None, "udfenv ended before its install hung: %s" % p.returncode
    backend = int(pid_file.read_text())
    installer = processes_naming(cache)
    kill_group(p)
    deadline = time.time() + 5
    while (alive(backend) or processes_naming(cache)) and time.time() < deadline:
        time.sleep(0.05)
    survivors = processes_naming(cache)
    backend_alive = alive(backend)
    release.touch()
    wait_gone(cache, timeout=60)
    left = reclaim_with_gc(run_udfenv, udfenv_bin, cache, tmp_root)
    assert not backend_alive and not survivors, (
        "5 s after udfenv's process group was SIGKILLed, its install still runs (the reaper "
        "between udfenv and pip did not kill pip's group): backend pid %d %s; "
        "processes working in %s: %s (at the kill: %s)" % (
            backend, "alive" if backend_alive else "dead", cache, survivors, installer))
    if left is None:
        skip_unchecked_gc(udfenv_bin, "the installer check")
