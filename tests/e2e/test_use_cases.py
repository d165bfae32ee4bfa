"""The seed's four use cases (FLIP-78, "Use Cases"), through the real CLI.

1. requirements + offline cache dir (a wheel and an sdist; the sdist needs
   its build backend in the cache dir);
2. python files: .py files, a directory, a .zip; later-added files win;
3. a zipped venv of another Python version as the worker interpreter;
4. a data archive read by relative path.

Plus the same declarations through --config FILE and -D key=value.
Fixtures are generated once per module by tests/fixtures/pyartifacts.py.
"""

import json
import os
import subprocess
import textwrap

import pytest

import pyartifacts as pa

PIP_TIMEOUT = 300

ALPHA_MODULES = {
    "alpha/__init__.py": "VALUE = 'alpha-1.0'\n",
    "alpha/cli.py": textwrap.dedent("""\
        import sys
        import alpha

        def main():
            print("alpha-cli:%s:%s" % (alpha.VALUE, ",".join(sys.argv[1:])))
        """),
    # Reached only through the .pth file: a path line and an import line.
    "alpha_extras/extra_mod.py": "VALUE = 'extra-from-pth-path-line'\n",
    "alpha_pth_hook.py": "import os\nos.environ['ALPHA_PTH_HOOK'] = 'ran'\n",
    "shadow.py": "WHERE = 'requirements'\n",
}
ALPHA_PTH = {"alpha_pkg.pth": "alpha_extras\nimport alpha_pth_hook\n"}
BETA_MODULES = {"beta/__init__.py": "VALUE = 'beta-2.0'\n"}


def last_json(proc):
    """The JSON object the probe printed last on stdout (after checking the
    run succeeded and Python started cleanly in it)."""
    assert proc.returncode == 0, str(proc)
    assert_clean_start(proc)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    assert lines, "probe printed no JSON:\n%s" % str(proc)
    return json.loads(lines[-1])


def assert_clean_start(proc):
    # udfenv's sitecustomize runs in every Python of the worker: it must
    # not fail, or every start prints this on stderr.
    assert "Error in sitecustomize" not in proc.stderr, str(proc)
    assert "Traceback" not in proc.stderr, str(proc)


def python_version(python):
    return subprocess.run([python, "-I", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                          stdout=subprocess.PIPE, universal_newlines=True).stdout.strip()


# --------------------------------------------------------------------------
# module-scoped artifacts


@pytest.fixture(scope="module")
def art(tmp_path_factory):
    """Everything except requirements caches and venvs (those are slower
    and built by their own fixtures)."""
    root = tmp_path_factory.mktemp("use-cases")
    # use case 2: python files
    pa.write_tree(root / "files", {
        "1.py": "ONE = 'one'\n",
        "2.py": "TWO = 'two'\n",
        "lib1/lib1mod.py": "VALUE = 'lib1'\n",
        "lib1/pkg1/__init__.py": "VALUE = 'pkg1'\n",
        "v1/mod.py": "WHO = 'v1'\n",
        "v2/mod.py": "WHO = 'v2'\n",
        "a/mod.py": "WHO = 'a'\n",
        "b/mod.py": "WHO = 'b'\n",
        "c/cmod.py": "WHO = 'c'\n",
        "pf/shadow.py": "WHERE = 'python.files'\n",
        "pf/pfonly.py": "",
        "pp/shadow.py": "WHERE = 'python.pythonpath'\n",
        "pp/pponly.py": "",
        "inh/shadow.py": "WHERE = 'inherited'\n",
        "inh/inhonly.py": "",
    })
    pa.make_zip(root / "files" / "lib2.zip", {
        "lib2mod.py": "VALUE = 'lib2'\n",
        "pkg2/__init__.py": "VALUE = 'pkg2'\n",
    })
    # use case 4: the seed's `zip data.zip data.txt`
    pa.make_data_zip(root / "data.zip", {"data.txt": "hello from data.txt\n"})
    return root


@pytest.fixture(scope="module")
def reqs(tmp_path_factory, default_python):
    """Requirements files and offline cache dirs for the default worker
    interpreter (`python3` on PATH)."""
    root = tmp_path_factory.mktemp("requirements")
    full = root / "cache-full"
    nobackend = root / "cache-nobackend"
    alpha_only = root / "cache-alpha"
    for d in (full, nobackend, alpha_only):
        pa.make_wheel(d, "alpha-pkg", "1.0", ALPHA_MODULES, pth=ALPHA_PTH,
                      console_scripts={"alpha-cli": "alpha.cli:main"})
    for d in (full, nobackend):
        pa.make_sdist(d, "beta-pkg", "2.0", BETA_MODULES)
    try:
        pa.copy_build_backend(full, python=default_python.path)
    except FileNotFoundError as e:
        pytest.skip("no setuptools/wheel wheels usable by %s: %s" % (default_python.path, e))
    (root / "req.txt").write_text("alpha-pkg==1.0\nbeta-pkg==2.0\n")
    (root / "req-alpha.txt").write_text("alpha-pkg==1.0\n")
    return {"root": root, "full": full, "nobackend": nobackend, "alpha": alpha_only,
            "req": root / "req.txt", "req_alpha": root / "req-alpha.txt"}


# --------------------------------------------------------------------------
# 1. requirements with an offline cache dir

REQ_PROBE = textwrap.dedent("""\
    import json, os, shutil, subprocess, sys
    import alpha, beta
    import extra_mod
    cli = shutil.which("alpha-cli")
    ran = subprocess.run([cli, "x"], stdout=subprocess.PIPE, universal_newlines=True) if cli else None
    print(json.dumps({
        "alpha": alpha.VALUE,
        "beta": beta.VALUE,
        "pth_path_line": extra_mod.VALUE,
        "pth_import_line": os.environ.get("ALPHA_PTH_HOOK"),
        "cli": cli,
        "cli_out": ran.stdout.strip() if ran else None,
        "path": os.environ["PATH"].split(os.pathsep),
        "site_dirs": os.environ.get("UDFENV_SITE_DIRS", "").split(os.pathsep),
        "alpha_site": os.path.dirname(os.path.dirname(alpha.__file__)),
        "version": "%d.%d" % sys.version_info[:2],
    }))
    """)


def check_requirements_probe(out, version):
    assert out["alpha"] == "alpha-1.0"
    assert out["beta"] == "beta-2.0", "the package built from the sdist is not importable"
    assert out["pth_path_line"] == "extra-from-pth-path-line", ".pth path line not processed"
    assert out["pth_import_line"] == "ran", ".pth import line not executed"
    assert out["cli"], "the wheel's console script is not on PATH"
    assert os.path.isabs(out["cli"])
    assert out["cli_out"] == "alpha-cli:alpha-1.0:x"
    bindir = os.path.dirname(out["cli"])
    assert bindir in out["path"]
    # Flink's bug: PATH gets "DIR:bin" instead of "DIR/bin".
    assert "bin" not in out["path"], "a relative 'bin' entry on PATH: %s" % out["path"]
    assert out["version"] == version
    assert out["alpha_site"] in out["site_dirs"], "UDFENV_SITE_DIRS lacks alpha's site dir"


def test_uc1_requirements_wheel_and_sdist_offline(run_udfenv, reqs, default_python):
    proc = run_udfenv("exec", "-pyreq", "%s#%s" % (reqs["req"], reqs["full"]),
                      "--", "python", "-c", REQ_PROBE, timeout=PIP_TIMEOUT)
    check_requirements_probe(last_json(proc), default_python.version)


def test_uc1_console_script_runs_by_name_as_the_command(run_udfenv, reqs):
    proc = run_udfenv("exec", "-pyreq", "%s#%s" % (reqs["req_alpha"], reqs["alpha"]),
                      "--", "alpha-cli", "p", "q", timeout=PIP_TIMEOUT)
    assert proc.returncode == 0, str(proc)
    assert_clean_start(proc)
    assert proc.stdout.strip() == "alpha-cli:alpha-1.0:p,q"


def test_uc1_requirements_two_argument_form(run_udfenv, reqs):
    # the seed's set_python_requirements("requirements.txt", "cached_dir")
    proc = run_udfenv("exec", "-pyreq", reqs["req_alpha"], reqs["alpha"],
                      "--", "python", "-c", "import alpha; print(alpha.VALUE)",
                      timeout=PIP_TIMEOUT)
    assert proc.returncode == 0, str(proc)
    assert_clean_start(proc)
    assert proc.stdout.strip() == "alpha-1.0"


def test_uc1_sdist_without_build_backend_in_cache(run_udfenv, reqs, expect_error, tmp_path):
    marker = tmp_path / "cmd-ran"
    proc = run_udfenv("exec", "-pyreq", "%s#%s" % (reqs["req"], reqs["nobackend"]),
                      "--", "python", "-c", "open(%r, 'w')" % str(marker), timeout=PIP_TIMEOUT)
    expect_error(proc, 125, line_has=["setuptools", "backend"],
                 stderr_has=[reqs["nobackend"].name])
    assert not marker.exists(), "the command ran although setup failed"


def test_uc1_debian_python_with_debian_backend(run_udfenv, tmp_path_factory):
    """Debian's own /usr/bin/python3 as the worker, with the setuptools and
    wheel wheels Debian ships: pip --prefix installs into
    PREFIX/local/lib/python3.X/dist-packages there (Debian's posix_local
    scheme), so the site dirs must come from the interpreter, not a guess."""
    deb = "/usr/bin/python3"
    if not os.access(deb, os.X_OK):
        pytest.skip("no %s" % deb)
    root = tmp_path_factory.mktemp("deb-req")
    cache = root / "cache"
    pa.make_wheel(cache, "alpha-pkg", "1.0", ALPHA_MODULES, pth=ALPHA_PTH,
                  console_scripts={"alpha-cli": "alpha.cli:main"})
    pa.make_sdist(cache, "beta-pkg", "2.0", BETA_MODULES)
    try:
        pa.copy_build_backend(cache, python=deb)
    except (FileNotFoundError, RuntimeError) as e:
        pytest.skip("Debian build backend unusable: %s" % e)
    req = root / "req.txt"
    req.write_text("alpha-pkg==1.0\nbeta-pkg==2.0\n")
    ver = python_version(deb)
    proc = run_udfenv("exec", "-pyexec", deb, "-pyreq", "%s#%s" % (req, cache),
                      "--", "python", "-c", REQ_PROBE, timeout=PIP_TIMEOUT)
    check_requirements_probe(last_json(proc), ver)


# --------------------------------------------------------------------------
# 2. python files

FILES_PROBE = textwrap.dedent("""\
    import json, os, sys
    out = {}
    for name in sys.argv[1:]:
        mod = __import__(name)
        d = os.path.dirname(os.path.realpath(mod.__file__))
        if name.startswith("pkg"):
            d = os.path.dirname(d)
        out[name] = {"value": getattr(mod, "VALUE", getattr(mod, "WHO", None)),
                     "index": [os.path.realpath(p) for p in sys.path].index(d)
                               if d in [os.path.realpath(p) for p in sys.path] else None}
    print(json.dumps(out))
    """)


def files_probe(run_udfenv, flags, modules, **kw):
    proc = run_udfenv("exec", *flags, "--", "python", "-c", FILES_PROBE, *modules, **kw)
    return last_json(proc)


def test_uc2_py_files_directory_and_zip(run_udfenv, art):
    f = art / "files"
    # the seed: add_python_file(1.py), (2.py), (lib1), (lib2.zip)
    out = files_probe(run_udfenv,
                      ["-pyfs", f / "1.py", "-pyfs", f / "2.py", "-pyfs", f / "lib1",
                       "-pyfs", f / "lib2.zip"],
                      ["lib1mod", "pkg1", "lib2mod", "pkg2"])
    assert out["lib1mod"]["value"] == "lib1"
    assert out["pkg1"]["value"] == "pkg1"
    assert out["lib2mod"]["value"] == "lib2"
    assert out["pkg2"]["value"] == "pkg2"
    for name in out:
        assert out[name]["index"] is not None, "%s's root is not on sys.path: %s" % (name, out)
    # `1.py` and `2.py` are not identifiers: import them by file lookup.
    proc = run_udfenv("exec", "-pyfs", "%s,%s" % (f / "1.py", f / "2.py"), "--", "python", "-c",
                      "import importlib; print(importlib.import_module('1').ONE,"
                      " importlib.import_module('2').TWO)")
    assert proc.returncode == 0, str(proc)
    assert proc.stdout.split() == ["one", "two"]


def test_uc2_each_dir_kind_lands_on_sys_path(run_udfenv, art):
    f = art / "files"
    out = files_probe(run_udfenv, ["-pyfs", "%s,%s,%s" % (f / "a" / "mod.py", f / "lib1", f / "lib2.zip")],
                      ["mod", "lib1mod"])
    assert out["mod"]["value"] == "a"
    assert out["mod"]["index"] is not None, "a .py file's parent dir is not on sys.path"
    assert out["lib1mod"]["index"] is not None, "a python-files directory is not on sys.path"
    # declared order within one list
    assert out["mod"]["index"] < out["lib1mod"]["index"]


def test_uc2_later_flag_shadows_earlier(run_udfenv, art):
    # relative paths, resolved against udfenv's cwd
    out = files_probe(run_udfenv, ["-pyfs", "v1/mod.py", "-pyfs", "v2/mod.py"], ["mod"],
                      cwd=art / "files")
    assert out["mod"]["value"] == "v2"


def test_uc2_within_one_list_first_wins(run_udfenv, art):
    out = files_probe(run_udfenv, ["-pyfs", "a/mod.py,b/mod.py"], ["mod"], cwd=art / "files")
    assert out["mod"]["value"] == "a"


def test_uc2_later_flag_list_goes_in_front(run_udfenv, art):
    # -pyfs a,b -pyfs c  ->  PYTHONPATH: c, a, b
    proc = run_udfenv("exec", "-pyfs", "a/mod.py,b/mod.py", "-pyfs", "c/cmod.py", "--", "python", "-c",
                      textwrap.dedent("""\
                          import json, os, sys
                          import mod, cmod
                          rp = [os.path.realpath(p) for p in sys.path]
                          a = rp.index(os.path.dirname(os.path.realpath(mod.__file__)))
                          c = rp.index(os.path.dirname(os.path.realpath(cmod.__file__)))
                          b = [i for i, p in enumerate(rp)
                               if os.path.isfile(os.path.join(p, "mod.py")) and i != a]
                          print(json.dumps({"a": a, "b": b, "c": c}))
                          """), cwd=art / "files")
    out = last_json(proc)
    assert len(out["b"]) == 1, "b/mod.py's dir is not on sys.path exactly once: %s" % out
    assert out["c"] < out["a"] < out["b"][0]


def test_uc2_backslash_escapes_comma_and_hash_in_paths(run_udfenv, tmp_path):
    odd = pa.write_tree(tmp_path / "dir,with#odd", {"escmod.py": "VALUE = 'escaped'\n"})
    plain = pa.write_tree(tmp_path / "plain", {"plainmod.py": "VALUE = 'plain'\n"})
    spec = "%s,%s" % (str(odd / "escmod.py").replace(",", "\\,").replace("#", "\\#"),
                      plain / "plainmod.py")
    proc = run_udfenv("exec", "-pyfs", spec, "--", "python", "-c",
                      "import escmod, plainmod; print(escmod.VALUE, plainmod.VALUE)")
    assert proc.returncode == 0, str(proc)
    assert proc.stdout.split() == ["escaped", "plain"]


def test_uc2_wheel_in_python_files_is_imported_from_the_file(run_udfenv, art, tmp_path):
    whl = pa.make_wheel(tmp_path, "alpha-pkg", "1.0", ALPHA_MODULES)
    proc = run_udfenv("exec", "-pyfs", whl, "--", "python", "-c",
                      "import alpha; print(alpha.VALUE); print(alpha.__file__)")
    assert proc.returncode == 0, str(proc)
    value, where = proc.stdout.split()
    assert value == "alpha-1.0"
    assert ".whl" in where, "a .whl in python.files should be on the path as a file (zipimport)"


def test_uc2_pythonpath_order(run_udfenv, art, reqs):
    """requirements site dirs, python.pythonpath, python files, inherited."""
    f = art / "files"
    probe = textwrap.dedent("""\
        import json, os, sys
        import shadow, alpha, pponly, pfonly, inhonly
        rp = [os.path.realpath(p) for p in sys.path]
        def where(m):
            d = os.path.dirname(os.path.realpath(m.__file__))
            return rp.index(d)
        print(json.dumps({
            "shadow": shadow.WHERE,
            "req": rp.index(os.path.dirname(os.path.dirname(os.path.realpath(alpha.__file__)))),
            "pythonpath": where(pponly), "files": where(pfonly), "inherited": where(inhonly)}))
        """)
    proc = run_udfenv("exec", "-pyreq", "%s#%s" % (reqs["req_alpha"], reqs["alpha"]),
                      "-pypath", f / "pp", "-pyfs", f / "pf",
                      "--", "python", "-c", probe,
                      env={"PYTHONPATH": f / "inh"}, timeout=PIP_TIMEOUT)
    out = last_json(proc)
    assert out["req"] < out["pythonpath"] < out["files"] < out["inherited"], out
    assert out["shadow"] == "requirements"


# --------------------------------------------------------------------------
# 3. a zipped venv of another Python version


@pytest.fixture(scope="module")
def other_python(pythons, default_python):
    host = {default_python.version}
    if os.access("/usr/bin/python3", os.X_OK):
        host.add(python_version("/usr/bin/python3"))
    for want in ("3.8", "3.12", "3.9", "3.10", "3.13", "3.7", "3.6"):
        if want in pythons and want not in host:
            return pythons[want], want
    pytest.skip("no python3.X other than the host's %s found (looked in pyenv and PATH): %s"
                % (sorted(host), pythons))


@pytest.fixture(scope="module")
def venv_zip(other_python, tmp_path_factory):
    path, version = other_python
    name = "py" + version.replace(".", "")
    root = tmp_path_factory.mktemp("venv")
    try:
        z = pa.make_venv_zip(path, root / "venv.zip", name)
    except RuntimeError as e:
        pytest.skip("cannot make a venv with %s: %s" % (path, e))
    return {"zip": z, "name": name, "version": version}


VENV_PROBE = textwrap.dedent("""\
    import json, os, subprocess, sys
    p3 = subprocess.run(["python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                        stdout=subprocess.PIPE, universal_newlines=True).stdout.strip()
    print(json.dumps({
        "version": "%d.%d" % sys.version_info[:2],
        "prefix": os.path.realpath(sys.prefix),
        "base_prefix": os.path.realpath(sys.base_prefix),
        "cwd": os.path.realpath(os.getcwd()),
        # Resolved here: the archive's link into the node cache goes with the private dir.
        "venv_dirs": {n: os.path.realpath(os.path.join("venv", n)) for n in os.listdir("venv")},
        "udfenv_python": os.path.realpath(os.environ.get("UDFENV_PYTHON", "")),
        "python3_on_path": p3,
    }))
    """)


def check_venv_probe(out, v):
    venv_dir = out["venv_dirs"][v["name"]]
    assert out["version"] == v["version"]
    assert out["prefix"] == os.path.realpath(venv_dir), "sys.prefix is not the extracted venv"
    assert out["prefix"] != out["base_prefix"]
    assert out["udfenv_python"] == os.path.realpath(os.path.join(venv_dir, "bin", "python"))
    assert out["python3_on_path"] == v["version"], "python3 on PATH is not the worker interpreter"


def test_uc3_zipped_venv_other_version_hash_form(run_udfenv, venv_zip):
    v = venv_zip
    proc = run_udfenv("exec", "-pyarch", "%s#venv" % v["zip"],
                      "-pyexec", "venv/%s/bin/python" % v["name"],
                      "--", "python", "-c", VENV_PROBE)
    check_venv_probe(last_json(proc), v)


def test_uc3_zipped_venv_two_argument_form(run_udfenv, venv_zip):
    # the seed: add_python_archives("venv.zip", "venv")
    v = venv_zip
    proc = run_udfenv("exec", "-pyarch", v["zip"], "venv",
                      "-pyexec", "venv/%s/bin/python" % v["name"],
                      "--", "python", "-c", VENV_PROBE)
    check_venv_probe(last_json(proc), v)


def test_uc3_zipped_venv_through_config_file(run_udfenv, venv_zip, tmp_path):
    v = venv_zip
    conf = tmp_path / "udfenv.yaml"
    conf.write_text("python.archives: %s#venv\npython.executable: venv/%s/bin/python\n"
                    % (v["zip"], v["name"]))
    proc = run_udfenv("exec", "--config", conf, "--", "python", "-c", VENV_PROBE)
    check_venv_probe(last_json(proc), v)


def test_uc3_interpreter_in_archive_without_modes_is_made_executable(run_udfenv, venv_zip,
                                                                     tmp_path):
    """A venv zipped by a tool that keeps no unix modes: udfenv makes the
    interpreter it extracted executable (REFERENCE section 2: "Make the
    interpreter executable however its path is given")."""
    v = venv_zip
    bare = pa.strip_zip_modes(v["zip"], tmp_path / "venv-nomodes.zip")
    proc = run_udfenv("exec", "-pyarch", "%s#venv" % bare,
                      "-pyexec", "venv/%s/bin/python" % v["name"],
                      "--", "python", "-c", VENV_PROBE)
    check_venv_probe(last_json(proc), v)


def test_uc3_requirements_installed_for_the_venv_interpreter(run_udfenv, other_python, reqs,
                                                              tmp_path_factory):
    """Requirements go into the worker interpreter's site dirs (a venv with
    pip, of another version), not the host's."""
    path, version = other_python
    name = "py" + version.replace(".", "")
    root = tmp_path_factory.mktemp("venv-pip")
    try:
        z = pa.make_venv_zip(path, root / "venv.zip", name, with_pip=True)
    except RuntimeError as e:
        pytest.skip("cannot make a venv with pip with %s: %s" % (path, e))
    proc = run_udfenv("exec", "-pyarch", "%s#venv" % z, "-pyexec", "venv/%s/bin/python" % name,
                      "-pyreq", "%s#%s" % (reqs["req_alpha"], reqs["alpha"]),
                      "--", "python", "-c",
                      "import sys, alpha, extra_mod; print('%d.%d' % sys.version_info[:2]);"
                      " print(alpha.__file__)", timeout=PIP_TIMEOUT)
    assert proc.returncode == 0, str(proc)
    assert_clean_start(proc)
    got_version, alpha_file = proc.stdout.split()
    assert got_version == version
    assert "python%s" % version in alpha_file, \
        "alpha was not installed into a python%s site dir: %s" % (version, alpha_file)


# --------------------------------------------------------------------------
# 4. a data archive read by relative path

DATA_PROBE = textwrap.dedent("""\
    import json, os, sys
    out = {"cwd": os.path.realpath(os.getcwd()),
           "workdir": os.environ.get("UDFENV_WORKDIR")}
    for rel in sys.argv[1:]:
        with open(rel) as fh:
            out[rel] = fh.read()
    print(json.dumps(out))
    """)


def test_uc4_data_archive_relative_path(run_udfenv, art):
    proc = run_udfenv("exec", "-pyarch", "%s#data" % (art / "data.zip"),
                      "--", "python", "-c", DATA_PROBE, "data/data.txt")
    out = last_json(proc)
    assert out["data/data.txt"] == "hello from data.txt\n"
    assert out["workdir"], "UDFENV_WORKDIR not set"
    assert out["cwd"] == os.path.realpath(os.path.join(out["workdir"], "python-archives"))
    assert not os.path.exists(out["workdir"]), "the private workdir survived the command"


def test_uc4_data_archive_two_argument_form(run_udfenv, art):
    proc = run_udfenv("exec", "-pyarch", art / "data.zip", "data",
                      "--", "python", "-c", DATA_PROBE, "data/data.txt")
    assert last_json(proc)["data/data.txt"] == "hello from data.txt\n"


def test_uc4_archive_without_target_uses_file_name(run_udfenv, art):
    proc = run_udfenv("exec", "-pyarch", art / "data.zip",
                      "--", "python", "-c", DATA_PROBE, "data.zip/data.txt")
    assert last_json(proc)["data.zip/data.txt"] == "hello from data.txt\n"


def test_uc4_same_archive_two_targets(run_udfenv, art):
    z = art / "data.zip"
    proc = run_udfenv("exec", "-pyarch", "%s#d1,%s#d2" % (z, z),
                      "--", "python", "-c", DATA_PROBE, "d1/data.txt", "d2/data.txt")
    out = last_json(proc)
    assert out["d1/data.txt"] == out["d2/data.txt"] == "hello from data.txt\n"


# --------------------------------------------------------------------------
# the same declarations through --config and -D

SAME_PROBE = textwrap.dedent("""\
    import json, mod
    print(json.dumps({"mod": mod.WHO, "data": open("data/data.txt").read()}))
    """)


def test_config_file_and_D_match_flags(run_udfenv, art, tmp_path):
    f = art / "files"
    z = art / "data.zip"
    by_flags = last_json(run_udfenv("exec", "-pyfs", f / "a" / "mod.py", "-pyarch", "%s#data" % z,
                                    "--", "python", "-c", SAME_PROBE))
    conf = tmp_path / "conf.yaml"
    conf.write_text("# udfenv config\npython.files: %s\npython.archives: %s#data\n"
                    % (f / "a" / "mod.py", z))
    by_config = last_json(run_udfenv("exec", "--config", conf, "--", "python", "-c", SAME_PROBE))
    by_d = last_json(run_udfenv("exec", "-D", "python.files=%s" % (f / "a" / "mod.py"),
                                "-D", "python.archives=%s#data" % z,
                                "--", "python", "-c", SAME_PROBE))
    assert by_flags == {"mod": "a", "data": "hello from data.txt\n"}
    assert by_config == by_flags
    assert by_d == by_flags


def test_cli_files_go_in_front_of_config_files(run_udfenv, art, tmp_path):
    f = art / "files"
    conf = tmp_path / "conf.yaml"
    conf.write_text("python.files: %s\n" % (f / "a" / "mod.py"))
    out = files_probe(run_udfenv, ["--config", conf, "-pyfs", f / "b" / "mod.py"], ["mod"])
    assert out["mod"]["value"] == "b"
    # and config files are still there, behind
    proc = run_udfenv("exec", "--config", conf, "-pyfs", f / "c" / "cmod.py", "--", "python", "-c",
                      "import mod, cmod; print(mod.WHO, cmod.WHO)")
    assert proc.returncode == 0, str(proc)
    assert proc.stdout.split() == ["a", "c"]


def test_cli_executable_overrides_config(run_udfenv, tmp_path, default_python):
    conf = tmp_path / "conf.yaml"
    conf.write_text("python.executable: /nonexistent/python3\n")
    proc = run_udfenv("exec", "--config", conf, "-pyexec", default_python.path, "--",
                      "python", "-c", "import sys; print('%d.%d' % sys.version_info[:2])")
    assert proc.returncode == 0, str(proc)
    assert proc.stdout.strip() == default_python.version


def test_long_flags_with_equals_and_glued_D(run_udfenv, art):
    f = art / "files"
    z = art / "data.zip"
    by_long = last_json(run_udfenv("exec", "--pyFiles=%s" % (f / "a" / "mod.py"),
                                   "--pyArchives=%s#data" % z, "--", "python", "-c", SAME_PROBE))
    by_glued = last_json(run_udfenv("exec", "-Dpython.files=%s" % (f / "a" / "mod.py"),
                                    "-Dpython.archives=%s#data" % z,
                                    "--", "python", "-c", SAME_PROBE))
    assert by_long == by_glued == {"mod": "a", "data": "hello from data.txt\n"}


def test_last_pyexec_wins(run_udfenv, default_python):
    proc = run_udfenv("exec", "-pyexec", "/nonexistent/python3", "-pyexec", default_python.path,
                      "--", "python", "-c", "import sys; print('%d.%d' % sys.version_info[:2])")
    assert proc.returncode == 0, str(proc)
    assert proc.stdout.strip() == default_python.version


def test_D_overrides_config_file(run_udfenv, art, tmp_path):
    f = art / "files"
    conf = tmp_path / "conf.yaml"
    conf.write_text("python.files: %s\n" % (f / "a" / "mod.py"))
    proc = run_udfenv("exec", "--config", conf, "-D", "python.files=%s" % (f / "b" / "mod.py"),
                      "--", "python", "-c", "import mod; print(mod.WHO)")
    assert proc.returncode == 0, str(proc)
    assert proc.stdout.strip() == "b"


@pytest.mark.parametrize("given", [None, "UTC", ":/etc/localtime"])
def test_the_command_and_the_job_program_get_tz_as_given(run_udfenv, tmp_path, given):
    # udfenv sets TZ for itself when it is unset (zip times are read faster);
    # what it runs must see the environment it was started with.
    show = "import os; print(os.environ.get('TZ', '<unset>'))"
    want = given if given is not None else "<unset>"
    proc = run_udfenv("exec", "--", "python", "-c", show, env={"TZ": given})
    assert proc.returncode == 0, str(proc)
    assert proc.stdout.strip() == want
    job = tmp_path / "job.py"
    job.write_text(show + "\n")
    proc = run_udfenv("run", "-py", job, env={"TZ": given})
    assert proc.returncode == 0, str(proc)
    assert proc.stdout.strip() == want
