"""Bad inputs: each one gives exactly one "udfenv: error: <line>" on stderr
naming the culprit, a non-zero exit (125 for `exec`, 1 for `stage`), and
no side effect: the command does not run, --out stays empty."""

import os
import shutil
import stat

import pytest

import pyartifacts as pa

PIP_TIMEOUT = 300


@pytest.fixture(scope="module")
def art(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad-inputs")
    pa.write_tree(root, {"a.py": "A = 1\n", "b.py": "B = 1\n", "lib/libmod.py": "X = 1\n"})
    pa.make_corrupt_zip(root / "corrupt.zip")
    pa.make_wheel(root / "cache", "alpha-pkg", "1.0", {"alpha/__init__.py": "VALUE = 1\n"})
    (root / "req-unsat.txt").write_text("alpha-pkg==1.0\ngamma-nonexistent==9.9\n")
    (root / "req-ok.txt").write_text("alpha-pkg==1.0\n")
    # Not pinned: the native installer hands it to pip.
    (root / "req-unpinned.txt").write_text("alpha-pkg>=1.0\n")
    noexec = root / "not-executable-python"
    noexec.write_text("#!/bin/sh\nexec python3 \"$@\"\n")
    os.chmod(str(noexec), 0o644)
    return root


@pytest.fixture
def marker(tmp_path):
    """A command that would prove it ran by creating a file."""
    path = tmp_path / "cmd-ran"
    return path, ["--", "python3", "-c", "open(%r, 'w').close()" % str(path)]


def test_missing_pyfs_file(run_udfenv, art, expect_error, marker):
    mark, cmd = marker
    missing = art / "nope" / "missing_mod.py"
    proc = run_udfenv("exec", "-pyfs", "%s,%s" % (art / "a.py", missing), *cmd)
    expect_error(proc, 125, line_has=[str(missing)])
    assert not mark.exists()


def test_missing_requirements_file(run_udfenv, art, expect_error, marker):
    mark, cmd = marker
    missing = art / "missing-requirements.txt"
    proc = run_udfenv("exec", "-pyreq", "%s#%s" % (missing, art / "cache"), *cmd)
    expect_error(proc, 125, line_has=[str(missing)])
    assert not mark.exists()


def test_missing_requirements_cache_dir(run_udfenv, art, expect_error, marker):
    mark, cmd = marker
    missing = art / "missing-cache-dir"
    proc = run_udfenv("exec", "-pyreq", "%s#%s" % (art / "req-ok.txt", missing), *cmd)
    expect_error(proc, 125, line_has=[str(missing)])
    assert not mark.exists()


@pytest.mark.parametrize("flag", ["-pyarch", "-pyfs"])
def test_corrupt_zip(run_udfenv, art, expect_error, marker, flag):
    mark, cmd = marker
    value = "%s#target" % (art / "corrupt.zip") if flag == "-pyarch" else str(art / "corrupt.zip")
    proc = run_udfenv("exec", flag, value, *cmd)
    expect_error(proc, 125, line_has=["corrupt.zip"])
    assert not mark.exists()


def test_unsatisfiable_requirement_offline(run_udfenv, art, expect_error, marker):
    mark, cmd = marker
    proc = run_udfenv("exec", "-pyreq", "%s#%s" % (art / "req-unsat.txt", art / "cache"), *cmd,
                      timeout=PIP_TIMEOUT)
    # The native installer names the requirement, its line and the cache dir.
    expect_error(proc, 125, line_has=["no wheel in the cache dir 'cache' satisfies "
                                             "'gamma-nonexistent ==9.9'", "req-unsat.txt line 2"])
    assert not mark.exists()


def test_unsatisfiable_requirement_not_blamed_on_build_backend(run_udfenv, art, expect_error,
                                                               marker, tmp_path):
    """The cache dir also holds an sdist and no setuptools, but pip fails
    for another reason (no gamma-nonexistent at all): the error must say
    that, not send the user off to add a build backend."""
    mark, cmd = marker
    cache = tmp_path / "cache-with-sdist"
    shutil.copytree(str(art / "cache"), str(cache))
    pa.make_sdist(cache, "beta-pkg", "2.0", {"beta/__init__.py": "VALUE = 1\n"})
    proc = run_udfenv("exec", "-pyreq", "%s#%s" % (art / "req-unsat.txt", cache), *cmd,
                      timeout=PIP_TIMEOUT)
    line = expect_error(proc, 125, line_has=["no wheel in the cache dir 'cache-with-sdist' satisfies "
                                             "'gamma-nonexistent ==9.9'"])
    assert "setuptools" not in line and "backend" not in line, \
        "a missing requirement is misreported as a missing build backend:\n%s" % line
    assert not mark.exists()


def test_pyexec_missing(run_udfenv, expect_error, marker):
    mark, cmd = marker
    proc = run_udfenv("exec", "-pyexec", "/nonexistent/bin/python3", *cmd)
    expect_error(proc, 125, line_has=["/nonexistent/bin/python3"])
    assert not mark.exists()


def test_pyexec_relative_missing_in_archives_dir(run_udfenv, art, expect_error, marker):
    mark, cmd = marker
    data = pa.make_data_zip(art / "nodata" / "d.zip", {"x.txt": "x"})
    proc = run_udfenv("exec", "-pyarch", "%s#venv" % data, "-pyexec", "venv/bin/python", *cmd)
    expect_error(proc, 125, line_has=["venv/bin/python"])
    assert not mark.exists()


def test_pyexec_not_executable(run_udfenv, art, expect_error, marker):
    mark, cmd = marker
    noexec = art / "not-executable-python"
    assert not os.access(str(noexec), os.X_OK)
    proc = run_udfenv("exec", "-pyexec", noexec, *cmd)
    line = expect_error(proc, 125, line_has=[str(noexec)])
    assert "not executable" in line.lower() or "permission denied" in line.lower(), line
    assert not mark.exists()
    # udfenv must not have "fixed" the user's own file
    assert stat.S_IMODE(os.stat(str(noexec)).st_mode) == 0o644


@pytest.fixture(scope="module")
def venv_without_pip(tmp_path_factory, default_python):
    root = tmp_path_factory.mktemp("nopip")
    try:
        return pa.make_venv(default_python.path, root / "nopip-venv", with_pip=False)
    except RuntimeError as e:
        pytest.skip("cannot make a venv with %s: %s" % (default_python.path, e))


def test_interpreter_without_pip_installs_pinned_wheels(run_udfenv, art, venv_without_pip):
    """The native installer needs no pip in the worker interpreter."""
    py = venv_without_pip / "bin" / "python"
    proc = run_udfenv("exec", "-pyexec", py, "-pyreq", "%s#%s" % (art / "req-ok.txt", art / "cache"),
                      "--", "python", "-c", "import alpha; print('ok')", timeout=PIP_TIMEOUT)
    assert proc.returncode == 0 and proc.stdout == "ok\n", str(proc)


def test_interpreter_without_pip_when_pip_is_needed(run_udfenv, art, venv_without_pip,
                                                    expect_error, marker):
    mark, cmd = marker
    py = venv_without_pip / "bin" / "python"
    proc = run_udfenv("exec", "-pyexec", py, "-pyreq",
                      "%s#%s" % (art / "req-unpinned.txt", art / "cache"), *cmd, timeout=PIP_TIMEOUT)
    line = expect_error(proc, 125, line_has=["pip"])
    low = line.lower()
    assert "missing" in low or "not installed" in low or "no module named pip" in low \
        or "without pip" in low or "has no pip" in low, line
    assert str(py) in line or os.path.realpath(str(py)) in line, line
    assert not mark.exists()


def test_interpreter_without_pip_is_fine_without_requirements(run_udfenv, venv_without_pip):
    proc = run_udfenv("exec", "-pyexec", venv_without_pip / "bin" / "python",
                      "--", "python", "-c", "import sys; print(sys.prefix)")
    assert proc.returncode == 0, str(proc)
    assert os.path.realpath(proc.stdout.strip()) == os.path.realpath(str(venv_without_pip))


@pytest.mark.parametrize("value", ["a.py,,b.py", "a.py,", ",a.py", "a.py, ,b.py"])
def test_empty_list_item(run_udfenv, art, expect_error, marker, value):
    mark, cmd = marker
    proc = run_udfenv("exec", "-pyfs", value, *cmd, cwd=art)
    line = expect_error(proc, 125, line_has=["empty"])
    assert value in line or "-pyfs" in line or "python.files" in line, line
    assert not mark.exists()


def test_empty_archive_target(run_udfenv, art, expect_error, marker):
    mark, cmd = marker
    z = pa.make_data_zip(art / "t" / "data.zip", {"data.txt": "x"})
    proc = run_udfenv("exec", "-pyarch", "%s#" % z, *cmd)
    expect_error(proc, 125, line_has=["data.zip"])
    assert not mark.exists()


def test_two_archives_for_one_target(run_udfenv, art, expect_error, marker):
    mark, cmd = marker
    z1 = pa.make_data_zip(art / "two" / "one.zip", {"x.txt": "1"})
    z2 = pa.make_data_zip(art / "two" / "two.zip", {"x.txt": "2"})
    proc = run_udfenv("exec", "-pyarch", "%s#data,%s#data" % (z1, z2), *cmd)
    expect_error(proc, 125, line_has=["data"])
    assert not mark.exists()


def test_unknown_python_config_key(run_udfenv, art, expect_error, marker, tmp_path):
    mark, cmd = marker
    conf = tmp_path / "conf.yaml"
    conf.write_text("python.fiels: %s\n" % (art / "a.py"))
    proc = run_udfenv("exec", "--config", conf, *cmd)
    expect_error(proc, 125, line_has=["python.fiels"])
    assert not mark.exists()
    proc = run_udfenv("exec", "-D", "python.fiels=%s" % (art / "a.py"), *cmd)
    expect_error(proc, 125, line_has=["python.fiels"])
    assert not mark.exists()


def test_missing_config_file(run_udfenv, art, expect_error, marker):
    mark, cmd = marker
    proc = run_udfenv("exec", "--config", art / "no-such-conf.yaml", *cmd)
    expect_error(proc, 125, line_has=["no-such-conf.yaml"])
    assert not mark.exists()


def test_unknown_flag(run_udfenv, expect_error, marker):
    mark, cmd = marker
    proc = run_udfenv("exec", "--no-such-flag", *cmd)
    expect_error(proc, 125, line_has=["--no-such-flag"])
    assert not mark.exists()


def test_command_not_found(run_udfenv, expect_error):
    proc = run_udfenv("exec", "--", "udfenv-no-such-command-xyz")
    expect_error(proc, 127, line_has=["udfenv-no-such-command-xyz"])


def test_command_not_executable(run_udfenv, art, expect_error):
    script = art / "not-executable-cmd.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    os.chmod(str(script), 0o644)
    proc = run_udfenv("exec", "--", script)
    expect_error(proc, 126, line_has=[str(script)])


def test_command_exit_status_and_signal_pass_through(run_udfenv):
    assert run_udfenv("exec", "--", "python", "-c", "import sys; sys.exit(7)").returncode == 7
    proc = run_udfenv("exec", "--", "sh", "-c", "kill -TERM $$")
    assert proc.returncode == 128 + 15, str(proc)
    assert "udfenv: error" not in proc.stderr


# --------------------------------------------------------------------------
# stage: a failure leaves no half-staged store


@pytest.mark.parametrize("pre_create", [False, True], ids=["new-out", "existing-empty-out"])
def test_stage_missing_input_leaves_nothing(run_udfenv, art, expect_error, tmp_path, pre_create):
    out = tmp_path / "staged"
    if pre_create:
        out.mkdir()
    missing = art / "missing-archive.zip"
    data = pa.make_data_zip(art / "stage" / "data.zip", {"data.txt": "x"})
    # Good inputs first, so a store written as it goes would be visible.
    proc = run_udfenv("stage", "-pyfs", "%s,%s" % (art / "a.py", art / "lib"),
                      "-pyarch", "%s#data,%s#m" % (data, missing), "--out", out)
    expect_error(proc, 1, line_has=[str(missing)])
    if pre_create:
        assert sorted(os.listdir(str(out))) == [], "stage left files in --out"
    else:
        # docs/cli.md: "and DIR too when this run created it"
        assert not out.exists(), "stage left %s behind: %s" % (out, os.listdir(str(out)))
    left = [p for p in tmp_path.iterdir() if p.name not in ("staged", "udfenv-tmp-root", "xdg-cache")]
    assert left == [], "stage left temp files beside --out: %s" % left


def test_stage_failure_keeps_an_earlier_staging_intact(run_udfenv, art, expect_error, tmp_path):
    out = tmp_path / "staged"
    ok = run_udfenv("stage", "-pyfs", art / "a.py", "--out", out)
    assert ok.returncode == 0, str(ok)
    before = {p: (out / p).read_bytes() for p in ["manifest.json"] +
              ["store/" + n for n in os.listdir(str(out / "store"))]}
    missing = art / "missing.py"
    proc = run_udfenv("stage", "-pyfs", "%s,%s,%s" % (art / "b.py", art / "lib", missing),
                      "--out", out)
    expect_error(proc, 1, line_has=[str(missing)])
    after = {p: (out / p).read_bytes() for p in ["manifest.json"] +
             ["store/" + n for n in os.listdir(str(out / "store"))]}
    assert after == before, "a failed stage changed an earlier staging"
    assert sorted(os.listdir(str(out))) == ["manifest.json", "store"]


def test_stage_without_out_is_a_usage_error(run_udfenv, art):
    proc = run_udfenv("stage", "-pyfs", art / "a.py")
    assert proc.returncode == 2, str(proc)
    assert "--out" in proc.stderr


def test_offline_install_ignores_pip_settings_of_the_shell(run_udfenv, art, expect_error, marker,
                                                           tmp_path):
    """Offline means from the cache dir only: a PIP_FIND_LINKS (or pip.conf)
    of the user's shell that holds the missing package must not join in."""
    mark, cmd = marker
    elsewhere = tmp_path / "elsewhere"
    pa.make_wheel(elsewhere, "gamma-nonexistent", "9.9", {"gamma/__init__.py": "G = 1\n"})
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\nfind-links = %s\n" % elsewhere)
    proc = run_udfenv("exec", "-pyreq", "%s#%s" % (art / "req-unsat.txt", art / "cache"), *cmd,
                      env={"PIP_FIND_LINKS": str(elsewhere), "PIP_CONFIG_FILE": str(conf)},
                      timeout=PIP_TIMEOUT)
    expect_error(proc, 125, line_has=["no wheel in the cache dir", "'gamma-nonexistent ==9.9'"])
    assert not mark.exists()


def test_colon_in_a_python_file_name(run_udfenv, expect_error, marker, tmp_path):
    """':' separates PYTHONPATH entries: a shipped dir named 'lib:x' would
    become two wrong entries, so it is refused by name."""
    mark, cmd = marker
    odd = tmp_path / "lib:x"
    odd.mkdir()
    (odd / "ymod.py").write_text("Y = 1\n")
    proc = run_udfenv("exec", "-pyfs", odd, *cmd)
    expect_error(proc, 125, line_has=("lib:x", "':'", "PYTHONPATH"))
    assert not mark.exists()


def test_colon_in_the_temp_root(run_udfenv, expect_error, marker, tmp_path):
    mark, cmd = marker
    proc = run_udfenv("exec", "--tmp-root", tmp_path / "a:b", *cmd)
    expect_error(proc, 125, line_has=("a:b", "--tmp-root"))
    assert not (tmp_path / "a:b").exists()
    assert not mark.exists()


@pytest.mark.parametrize("value", ["nan", "inf", "0", "-1", "3s"])
def test_bad_install_timeout(run_udfenv, expect_error, marker, value):
    mark, cmd = marker
    proc = run_udfenv("exec", "--install-timeout", value, *cmd)
    expect_error(proc, 125, line_has=("--install-timeout",))
    assert not mark.exists()


def test_relative_pyexec_may_not_leave_the_archives_dir(run_udfenv, expect_error, marker):
    mark, cmd = marker
    proc = run_udfenv("exec", "-pyexec", "venv/../../../../../../bin/sh", *cmd)
    expect_error(proc, 125, line_has=("leaves the archives dir",))
    assert not mark.exists()
