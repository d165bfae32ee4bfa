"""`udfenv exec` from start to end: signals sent to udfenv reach the
command's process group, setup can be stopped or timed out, and the private
dirs are gone afterwards however it ended."""

import os
import signal
import subprocess
import time

import pytest

import pyartifacts as pa
from procs import alive

SLOW_BACKEND = '''\
import os, time
def _wait():
    with open(os.environ["SLOW_PID_FILE"], "w") as f:
        f.write(str(os.getpid()))
    time.sleep(120)
def get_requires_for_build_wheel(config_settings=None):
    _wait()
    return []
build_wheel = get_requires_for_build_wheel
'''


def _wait_for_file(path, timeout=60):
    deadline = time.time() + timeout
    while not os.path.exists(str(path)):
        if time.time() > deadline:
            pytest.fail("%s did not appear within %s s" % (path, timeout))
        time.sleep(0.05)
    # Written in one go, but maybe not yet: wait for content.
    while not path.read_text().strip():
        time.sleep(0.05)
    return path.read_text().strip()


def _wait_dead(pid, timeout=10):
    deadline = time.time() + timeout
    while alive(pid):
        if time.time() > deadline:
            pytest.fail("process %d still alive" % pid)
        time.sleep(0.05)


@pytest.fixture(scope="module")
def slow_requirements(tmp_path_factory):
    """A requirement whose sdist's in-tree build backend blocks for two
    minutes, announcing its pid: a setup step that hangs, offline."""
    root = tmp_path_factory.mktemp("slow")
    cache = root / "cache"
    pa.make_backend_sdist(cache, "slowpkg", "1.0", "slowbackend", SLOW_BACKEND)
    req = root / "requirements.txt"
    req.write_text("slowpkg==1.0\n")
    return "%s#%s" % (req, cache)


def _popen(udfenv_bin, tmp_root, udfenv_env, args, extra_env=None):
    env = dict(udfenv_env)
    env.update(extra_env or {})
    return subprocess.Popen([str(udfenv_bin), "exec", "--tmp-root", str(tmp_root)] + args,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_signal_is_forwarded_to_the_command_group(udfenv_bin, tmp_root, udfenv_env, tmp_path, sig):
    """The command traps the signal and exits 42; its background child (same
    group) is gone too; udfenv exits 42 and leaves no private dir."""
    ready = tmp_path / "ready"
    script = ("import os, signal, subprocess, sys\n"
              "bg = subprocess.Popen(['sleep', '60'])\n"
              "signal.signal(%d, lambda *a: sys.exit(42))\n"
              "open(%r, 'w').write('%%d %%d' %% (os.getpid(), bg.pid))\n"
              "signal.pause()\n" % (sig, str(ready)))
    proc = _popen(udfenv_bin, tmp_root, udfenv_env, ["--", "python", "-c", script])
    pid, bg = map(int, _wait_for_file(ready).split())
    assert os.getpgid(pid) == os.getpgid(bg) != os.getpgid(proc.pid)

    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)

    assert proc.returncode == 42, err
    _wait_dead(pid)
    # The background sleep got the same signal as its group: default action, dead.
    _wait_dead(bg)
    assert list(tmp_root.iterdir()) == []


def test_command_killed_by_signal_reports_128_plus_n(run_udfenv):
    proc = run_udfenv("exec", "--", "sh", "-c", "kill -KILL $$")
    assert proc.returncode == 128 + signal.SIGKILL, str(proc)


def test_install_timeout(run_udfenv, expect_error, slow_requirements, tmp_path):
    pid_file = tmp_path / "backend.pid"
    t0 = time.time()
    proc = run_udfenv("exec", "-pyreq", slow_requirements, "--install-timeout", "3",
                      "--", "true", env={"SLOW_PID_FILE": pid_file}, timeout=60)
    took = time.time() - t0
    expect_error(proc, 125, line_has=("requirements.txt", "timed out after 3"))
    assert took < 30, took
    _wait_dead(int(pid_file.read_text()))


def test_interrupt_during_setup_stops_and_cleans_up(udfenv_bin, tmp_root, udfenv_env,
                                                    slow_requirements, tmp_path):
    """Ctrl-C while requirements install: pip's group is stopped, udfenv
    exits 130 (not 'pip failed'), the command never runs, nothing is left."""
    pid_file, ran = tmp_path / "backend.pid", tmp_path / "ran"
    proc = _popen(udfenv_bin, tmp_root, udfenv_env,
                  ["-pyreq", slow_requirements, "--", "touch", str(ran)],
                  {"SLOW_PID_FILE": str(pid_file)})
    backend = int(_wait_for_file(pid_file))

    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)

    assert proc.returncode == 128 + signal.SIGINT, err
    assert "stopped by Interrupt during setup" in err, err
    _wait_dead(backend)
    assert not ran.exists()
    assert list(tmp_root.iterdir()) == []
