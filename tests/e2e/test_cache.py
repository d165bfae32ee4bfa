"""The node cache (docs/cache.md) through the real CLI and the Python API:
entries built once and then hit, keys that change exactly when the content
does, remembered digests, copy mode, per-worker dirs, automatic GC, the
config keys and `udfenv cache`. Concurrency, crashes and full disks are in
test_cache_stress.py."""

import json
import os
import textwrap
import time

import pytest

import pyartifacts as pa

PIP_TIMEOUT = 300


def report(path):
    with open(str(path)) as f:
        return json.load(f)


def outcomes(rep):
    return {(e["kind"], e["name"]): e["outcome"] for e in rep["entries"]}


@pytest.fixture
def inputs(tmp_path):
    """A python file, a package dir, a data archive, and an offline requirement."""
    src = tmp_path / "inputs"
    src.mkdir()
    (src / "mod.py").write_text("VALUE = 'mod-1'\n")
    pa.write_tree(src / "pkgdir", {"pkg/__init__.py": "VALUE = 'pkg-1'\n"})
    pa.make_data_zip(src / "data.zip", {"data.txt": "payload\n"})
    wheels = src / "wheels"
    pa.make_wheel(wheels, "alpha-pkg", "1.0", {"alpha/__init__.py": "VALUE = 'alpha-1.0'\n"})
    (src / "req.txt").write_text("alpha-pkg==1.0\n")
    return src


PROBE = ("import json, os, mod, pkg, alpha; print(json.dumps([mod.VALUE, pkg.VALUE, alpha.VALUE, "
         "open('data/data.txt').read().strip(), os.getcwd()]))")


def all_kinds(src):
    return ["-pyfs", "%s,%s" % (src / "mod.py", src / "pkgdir"),
            "-pyreq", "%s#%s" % (src / "req.txt", src / "wheels"),
            "-pyarch", "%s#data" % (src / "data.zip")]


def test_second_exec_hits_every_entry(run_udfenv, inputs, tmp_path):
    cache = tmp_path / "cache"
    runs = []
    for i in range(2):
        rep = tmp_path / ("r%d.json" % i)
        proc = run_udfenv("exec", "--cache-dir", cache, "--report", rep, *all_kinds(inputs),
                          "--", "python", "-c", PROBE, timeout=PIP_TIMEOUT)
        assert proc.returncode == 0, str(proc)
        assert json.loads(proc.stdout)[:4] == ["mod-1", "pkg-1", "alpha-1.0", "payload"]
        runs.append(report(rep))
    first, second = runs
    assert set(outcomes(first).values()) == {"built"}, first
    # mod.py, pkgdir, data.zip, req.txt, and the python shims
    assert sorted(e["kind"] for e in first["entries"]) == ["archive", "files", "files", "requirements",
                                                          "shims"]
    assert set(outcomes(second).values()) == {"hit"}, second
    assert second["phases"]["install"]["built"] == 0 and second["phases"]["install"]["hit"] == 1
    assert second["phases"]["spawn"]["workers"] == 1
    # The same keys: content, not the run, decides them.
    assert [e["key"] for e in first["entries"]] == [e["key"] for e in second["entries"]]


def test_changed_content_gets_a_new_entry_and_is_seen(run_udfenv, inputs, tmp_path):
    cache = tmp_path / "cache"
    cmd = ["exec", "--cache-dir", cache, "-pyfs", inputs / "pkgdir", "--", "python", "-c",
           "import pkg; print(pkg.VALUE)"]
    assert run_udfenv(*cmd).stdout.strip() == "pkg-1"
    # Same size, same name: only the bytes differ.
    (inputs / "pkgdir" / "pkg" / "__init__.py").write_text("VALUE = 'pkg-2'\n")
    proc = run_udfenv(*cmd)
    assert proc.stdout.strip() == "pkg-2", str(proc)
    ls = json.loads(run_udfenv("cache", "--cache-dir", cache, "ls", "--json").stdout)
    assert [e["name"] for e in ls if e["kind"] == "files"] == ["pkgdir", "pkgdir"]


def test_digests_of_unchanged_inputs_are_remembered(run_udfenv, inputs, tmp_path):
    cache = tmp_path / "cache"
    # Only inputs unchanged for 2 s are remembered (a change within the
    # clock's granularity could otherwise go unseen).
    time.sleep(2.2)
    reps = []
    for i in range(2):
        rep = tmp_path / ("r%d.json" % i)
        proc = run_udfenv("exec", "--cache-dir", cache, "--report", rep,
                          "-pyfs", inputs / "mod.py", "-pyarch", "%s#data" % (inputs / "data.zip"),
                          "--", "true")
        assert proc.returncode == 0, str(proc)
        reps.append(report(rep)["phases"]["fetch"])
    assert reps[0]["built"] == 2 and reps[0]["hit"] == 0, reps
    assert reps[1]["hit"] == 2 and reps[1]["built"] == 0, reps
    # A changed file is hashed again, not trusted.
    (inputs / "mod.py").write_text("VALUE = 'mod-X'\n")
    proc = run_udfenv("exec", "--cache-dir", cache, "--report", tmp_path / "r2.json",
                      "-pyfs", inputs / "mod.py", "--", "python", "-c", "import mod; print(mod.VALUE)")
    assert proc.stdout.strip() == "mod-X", str(proc)
    assert report(tmp_path / "r2.json")["phases"]["fetch"]["built"] == 1


def test_archives_link_into_the_cache_or_are_copied(run_udfenv, inputs, tmp_path):
    cache = tmp_path / "cache"
    arch = ["-pyarch", "%s#data" % (inputs / "data.zip")]
    write = ("import os; print(os.path.islink('data')); "
             "open('data/new.txt', 'w').write('x'); print(sorted(os.listdir('data')))")
    proc = run_udfenv("exec", "--cache-dir", cache, "--copy-archives", *arch, "--", "python", "-c", write)
    assert proc.returncode == 0, str(proc)
    assert proc.stdout.split("\n")[:2] == ["False", "['data.txt', 'new.txt']"]
    # The copy was private: the shared entry did not change.
    entries = [e for e in (cache / "v1" / "entries").iterdir() if (e / "data" / "data.txt").exists()]
    assert len(entries) == 1 and sorted(os.listdir(str(entries[0] / "data"))) == ["data.txt"]
    proc = run_udfenv("exec", "--cache-dir", cache, "-D", "udfenv.cache.copy-archives=false", *arch,
                      "--", "python", "-c",
                      "import os; print(os.path.islink('data'), os.path.realpath('data'))")
    linked, target = proc.stdout.split()
    assert linked == "True" and target == str((entries[0] / "data").resolve())


def test_interpreter_and_requirements_entry_come_from_the_cache(run_udfenv, inputs, tmp_path, pythons):
    if "3.8" not in pythons:
        pytest.skip("no Python 3.8 to zip as a venv")
    cache = tmp_path / "cache"
    venv = pa.make_venv_zip(pythons["3.8"], tmp_path / "venv.zip", "py38", with_pip=True)
    cmd = ["exec", "--cache-dir", cache, "-pyarch", "%s#venv" % venv, "-pyexec", "venv/py38/bin/python",
           "-pyreq", "%s#%s" % (inputs / "req.txt", inputs / "wheels")]
    probe = "import sys, alpha; print('%d.%d' % sys.version_info[:2], alpha.VALUE, sys.executable)"
    proc = run_udfenv(*cmd, "--report", tmp_path / "r.json", "--", "python", "-c", probe,
                      timeout=PIP_TIMEOUT)
    assert proc.returncode == 0, str(proc)
    version, value, exe = proc.stdout.split()
    assert (version, value) == ("3.8", "alpha-1.0")
    assert exe.startswith(str(cache.resolve())), "the venv interpreter does not run from the cache"
    # The same requirements for another interpreter are another entry.
    proc = run_udfenv("exec", "--cache-dir", cache, "--report", tmp_path / "r2.json",
                      "-pyreq", "%s#%s" % (inputs / "req.txt", inputs / "wheels"),
                      "--", "python", "-c", "import alpha", timeout=PIP_TIMEOUT)
    assert proc.returncode == 0, str(proc)
    assert outcomes(report(tmp_path / "r2.json"))[("requirements", "req.txt")] == "built"
    ls = json.loads(run_udfenv("cache", "--cache-dir", cache, "ls", "--json").stdout)
    reqs = [e for e in ls if e["kind"] == "requirements"]
    assert len(reqs) == 2 and any("py38" in e["info"] for e in reqs), ls


def test_an_entry_without_its_marker_is_rebuilt_and_leftover_builds_go(run_udfenv, inputs, tmp_path):
    cache = tmp_path / "cache"
    cmd = ["exec", "--cache-dir", cache, "--report", tmp_path / "r.json",
           "-pyarch", "%s#data" % (inputs / "data.zip"), "--", "cat", "data/data.txt"]
    assert run_udfenv(*cmd).returncode == 0
    key = [e["key"] for e in report(tmp_path / "r.json")["entries"] if e["kind"] == "archive"][0]
    entry = cache / "v1" / "entries" / key
    (entry / "udfenv-entry.json").unlink()
    leftover = cache / "v1" / "tmp" / (key + ".dead01")
    (leftover / "data").mkdir(parents=True)
    proc = run_udfenv(*cmd)
    assert proc.returncode == 0 and proc.stdout == "payload\n", str(proc)
    assert outcomes(report(tmp_path / "r.json"))[("archive", "data.zip")] == "built"
    assert (entry / "udfenv-entry.json").is_file()
    assert not leftover.exists(), "a dead builder's temp dir was not reclaimed"


def test_automatic_gc_keeps_the_cache_under_its_size(run_udfenv, tmp_path):
    cache = tmp_path / "cache"
    zips = []
    for n in ("a", "b"):
        zips.append(pa.make_data_zip(tmp_path / ("%s.zip" % n), {"f.bin": os.urandom(64 << 10)}))
    for z in zips:
        proc = run_udfenv("exec", "--cache-dir", cache, "-D", "udfenv.cache.max-size=100K",
                          "-pyarch", "%s#d" % z, "--", "true")
        assert proc.returncode == 0, str(proc)
    ls = json.loads(run_udfenv("cache", "--cache-dir", cache, "ls", "--json").stdout)
    assert [e["name"] for e in ls if e["kind"] == "archive"] == ["b.zip"], "the least recently used entry should have gone"


def test_cache_ls_gc_clear(run_udfenv, inputs, tmp_path):
    cache = tmp_path / "cache"
    proc = run_udfenv("exec", "--cache-dir", cache, *all_kinds(inputs), "--", "true", timeout=PIP_TIMEOUT)
    assert proc.returncode == 0, str(proc)
    proc = run_udfenv("cache", "--cache-dir", cache, "ls")
    assert proc.returncode == 0, str(proc)
    for word in ("archive", "files", "requirements", "data.zip", "mod.py", "req.txt", "pip ",
                 "shims", "5 entries"):
        assert word in proc.stdout, str(proc)
    ls = json.loads(run_udfenv("cache", "--cache-dir", cache, "ls", "--json").stdout)
    assert all(e["complete"] and not e["leased"] and e["size"] > 0 for e in ls), ls
    proc = run_udfenv("cache", "--cache-dir", cache, "gc")
    assert proc.returncode == 0 and "removed 0 entries" in proc.stdout, str(proc)
    proc = run_udfenv("cache", "--cache-dir", cache, "gc", "--max-size", "1")
    assert proc.returncode == 0 and "0 entries" in proc.stdout.split(";")[-1], str(proc)
    assert not list((cache / "v1" / "entries").iterdir())
    run_udfenv("exec", "--cache-dir", cache, "-pyfs", inputs / "mod.py", "--", "true")
    proc = run_udfenv("cache", "--cache-dir", cache, "clear")
    assert proc.returncode == 0 and "removed 2 entries" in proc.stdout, str(proc)  # mod.py, shims
    assert not list((cache / "v1" / "digests").iterdir())


@pytest.mark.parametrize("args, has", [
    (["frobnicate"], "not a subcommand"),
    ([], "give a subcommand"),
    (["gc", "--max-size", "12Q"], "not a size"),
    (["ls", "--max-size", "1"], "not an option of 'cache ls'"),
])
def test_cache_bad_usage(run_udfenv, tmp_path, expect_error, args, has):
    proc = run_udfenv("cache", "--cache-dir", tmp_path / "c", *args)
    expect_error(proc, 2, line_has=(has,))


@pytest.mark.parametrize("define, has", [
    ("udfenv.cache.dri=x", "udfenv.cache.dir"),
    ("udfenv.cache.max-size=lots", "udfenv.cache.max-size"),
    ("udfenv.cache.copy-archives=maybe", "not true or false"),
])
def test_bad_cache_config(run_udfenv, inputs, expect_error, define, has):
    proc = run_udfenv("exec", "-D", define, "-pyfs", inputs / "mod.py", "--", "true")
    expect_error(proc, 125, line_has=(has,))


def test_cache_config_key_picks_the_dir(run_udfenv, inputs, tmp_path):
    cache = tmp_path / "via-config"
    proc = run_udfenv("exec", "-D", "udfenv.cache.dir=%s" % cache, "-pyfs", inputs / "mod.py", "--", "true")
    assert proc.returncode == 0, str(proc)
    assert len(list((cache / "v1" / "entries").iterdir())) == 2  # mod.py and the shims
    assert (cache / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")


def test_a_cache_others_can_write_is_refused(run_udfenv, inputs, tmp_path, expect_error):
    cache = tmp_path / "shared"
    cache.mkdir()
    cache.chmod(0o777)
    proc = run_udfenv("exec", "--cache-dir", cache, "-pyfs", inputs / "mod.py", "--", "true")
    expect_error(proc, 125, line_has=("writable by others", str(cache)))
    assert list(cache.iterdir()) == []


def test_verbose_shows_every_phase(run_udfenv, inputs, tmp_path):
    proc = run_udfenv("exec", "-v", "--cache-dir", tmp_path / "c", *all_kinds(inputs), "--", "true",
                      timeout=PIP_TIMEOUT)
    assert proc.returncode == 0, str(proc)
    for phase in ("fetch", "extract", "install", "spawn"):
        assert "setup: %s" % phase in proc.stderr, str(proc)
    assert "3 built" in proc.stderr  # two python files and an archive


JOB = textwrap.dedent("""\
    import json, os, sys
    from udfenv import TableEnvironment, DataTypes
    from udfenv.expressions import col
    from udfenv.functions import udf

    @udf(result_type=DataTypes.STRING())
    def where(x):
        import alpha
        return "%s|%s" % (alpha.VALUE, os.environ["UDFENV_WORKDIR"])

    if __name__ == "__main__":
        src, req, wheels, out = sys.argv[1:]
        t_env = TableEnvironment.create()
        t_env.set_python_requirements(req, wheels)
        t_env.get_config().set("parallelism.default", "2")
        t_env.get_config().set("python.fn-execution.bundle.size", "10")
        rows = t_env.from_csv(src).select(where(col("n"))).execute().collect()
        res = t_env.from_csv(src).select(where(col("n"))).execute()
        print(json.dumps({"values": sorted(set(r[0] for r in rows)), "report": res.setup_report}))
    """)


def test_job_workers_get_private_dirs_and_a_second_job_installs_nothing(udfenv_bin, udfenv_env, inputs,
                                                                       tmp_path):
    import subprocess
    job = tmp_path / "job.py"
    job.write_text(JOB)
    src = tmp_path / "in.csv"
    src.write_text("n\n" + "".join("%d\n" % i for i in range(200)))
    env = dict(udfenv_env, UDFENV_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.run([str(udfenv_bin), "run", "-py", str(job), str(src), str(inputs / "req.txt"),
                           str(inputs / "wheels"), "x"], env=env, cwd=str(tmp_path),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=PIP_TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    values = out["values"]
    assert len(values) == 2, "two workers should have two private dirs: %s" % values
    assert all(v.startswith("alpha-1.0|") for v in values)
    dirs = [v.split("|")[1] for v in values]
    assert os.path.dirname(dirs[0]) == os.path.dirname(dirs[1]), dirs
    rep = out["report"]
    # The second job of this program: requirements already installed.
    assert rep["phases"]["install"]["hit"] == 1 and rep["phases"]["install"]["built"] == 0, rep
    assert rep["phases"]["spawn"]["workers"] == 2 and rep["phases"]["spawn"]["seconds"] > 0
