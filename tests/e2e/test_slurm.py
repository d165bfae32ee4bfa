"""UDF jobs on a real Slurm cluster: `udfenv run --target slurm` against the
two-node cluster `scripts/slurm-local` runs on this machine (docs/slurm.md).

The cluster is conftest's `cluster`: started for the session if it is not
up (and stopped again at the end if this session started it); a machine
where it cannot start fails these tests, it does not skip them. Each test
has its own staging dir and per-node caches
(udfenv.cache.dir=.../nodes/%n/cache), so the cache reports show what each
node built.
"""

import json
import os
import signal
import subprocess
import time

import pytest

import pyartifacts as pa
import slurmlocal
from procs import alive, processes_naming

NODES = ("udfenv-n1", "udfenv-n2")
JOB_TIMEOUT = 300


@pytest.fixture
def slurm(cluster, tmp_path, run_udfenv):
    """slurm(job, *flags, ntasks=None, args=()) runs `udfenv run --target
    slurm` on both nodes with this test's staging dir and node caches;
    slurm.flags are those flags, slurm.staging the staging dir."""
    staging = tmp_path / "staging"
    flags = ["--target", "slurm", "-D", "udfenv.slurm.staging-dir=%s" % staging,
             "-D", "udfenv.slurm.nodes=2", "-D", "udfenv.cache.dir=%s/nodes/%%n/cache" % tmp_path]

    def run(job, *more, ntasks=None, args=()):
        if ntasks:
            more = ("-D", "udfenv.slurm.ntasks=%d" % ntasks) + more
        return run_udfenv("run", *flags, *more, "-py", job, *args, cwd=tmp_path, env=cluster,
                          timeout=JOB_TIMEOUT)
    run.flags = flags
    run.staging = staging
    return run


def write_csv(path, n):
    path.write_text("id,text\n" + "".join("%d,row %d\n" % (i, i) for i in range(n)))
    return path


def squeue_udfenv(cluster):
    env = dict(os.environ)
    env.update(cluster)
    return subprocess.run(["squeue", "-h", "-n", "udfenv", "-o", "%i %T"], stdout=subprocess.PIPE,
                          universal_newlines=True, env=env, check=True).stdout.strip()


def assert_no_job_left(slurm, cluster):
    jobs = slurm.staging / "jobs"
    assert not jobs.exists() or os.listdir(str(jobs)) == [], "job dirs left: %s" % os.listdir(str(jobs))
    deadline = time.time() + 60
    while squeue_udfenv(cluster) and time.time() < deadline:
        time.sleep(0.5)
    assert squeue_udfenv(cluster) == "", "a udfenv job is still queued or running"
    assert not processes_naming(jobs), "a udfenv task still runs: %s" % processes_naming(jobs)


# --------------------------------------------------------------------------
# all four kinds of dependencies across two nodes


ALL_KINDS_JOB = '''\
import json, os, sys
from udfenv import TableEnvironment, DataTypes, udf

@udf(result_type=DataTypes.STRING())
def describe(i, text):
    import helper, alpha
    with open("data/words.txt") as f:
        word = f.read().split()[i % 3]
    return "%s|%s|%s|%d.%d|%s" % (helper.tag(text), alpha.VALUE, word, sys.version_info[0],
                                  sys.version_info[1], os.path.basename(sys.prefix))

if __name__ == "__main__":
    t_env = TableEnvironment.create()
    t_env.add_python_file(sys.argv[3])
    t_env.set_python_requirements(sys.argv[4], sys.argv[5])
    t_env.add_python_archive(sys.argv[6], "venv")
    t_env.get_config().set_python_executable(sys.argv[7])
    t_env.add_python_archive(sys.argv[8], "data")
    t_env.get_config().set("python.fn-execution.bundle.size", 50)
    t = t_env.from_csv(sys.argv[1])
    r = t.select(t.id, describe(t.id, t.text).alias("d")).write_csv(sys.argv[2])
    print(json.dumps({"rows_out": r.rows_out, "setup": r.setup_report}))
'''


@pytest.fixture(scope="module")
def all_kinds(tmp_path_factory, pythons, default_python):
    root = tmp_path_factory.mktemp("kinds")
    (root / "helper.py").write_text("def tag(s):\n    return s.upper()\n")
    wheels = root / "wheels"
    wheels.mkdir()
    pa.make_wheel(wheels, "alpha", "1.0", {"alpha/__init__.py": "VALUE = 'alpha-1.0'\n"})
    (root / "requirements.txt").write_text("alpha==1.0\n")
    # Another Python than the client's when there is one; the venv's own interpreter either way.
    version = next((v for v in ("3.8", "3.12", "3.9", "3.10") if v in pythons and v != default_python.version),
                   default_python.version)
    other = pythons[version] if version in pythons else default_python.path
    name = "py" + version.replace(".", "")
    venv = pa.make_venv_zip(other, root / "venv.zip", name)
    data = pa.make_data_zip(root / "data.zip", {"words.txt": "red green blue\n"})
    return {"args": [str(root / "helper.py"), str(root / "requirements.txt"), str(wheels), str(venv),
                     "venv/%s/bin/python" % name, str(data)], "version": version}


def test_all_four_kinds_on_two_nodes_match_the_local_executor(slurm, cluster, run_udfenv, all_kinds, tmp_path):
    job = tmp_path / "job.py"
    job.write_text(ALL_KINDS_JOB)
    src = write_csv(tmp_path / "in.csv", 1000)
    local = run_udfenv("run", "-py", job, src, tmp_path / "local.csv", *all_kinds["args"], cwd=tmp_path,
                       timeout=JOB_TIMEOUT)
    assert local.returncode == 0, str(local)
    # Four tasks on two nodes: two tasks on each node share its cache.
    proc = slurm(job, ntasks=4, args=[src, tmp_path / "out.csv"] + all_kinds["args"])
    assert proc.returncode == 0, str(proc)
    assert (tmp_path / "out.csv").read_bytes() == (tmp_path / "local.csv").read_bytes()
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert lines[1].startswith("0,ROW 0|alpha-1.0|red|%s|" % all_kinds["version"]), lines[1]
    setup = json.loads(proc.stdout.strip().splitlines()[-1])["setup"]
    assert setup["executor"] == "slurm"
    tasks = setup["tasks"]
    assert sorted(t["task"] for t in tasks) == [0, 1, 2, 3]
    assert {t["node"] for t in tasks} == set(NODES), tasks
    # Each node built each entry exactly once; its other task found it (or waited for it).
    for node in NODES:
        on_node = [t["setup"] for t in tasks if t["node"] == node]
        assert len(on_node) == 2
        assert {s["cache"] for s in on_node} == {str(tmp_path / "nodes" / node / "cache")}
        built = {}
        for s in on_node:
            for e in s["entries"]:
                built.setdefault(e["key"], []).append(e["outcome"])
        assert built, on_node
        for key, outcomes in built.items():
            assert sorted(outcomes) in (["built", "hit"], ["built", "waited"]), (node, key, outcomes)
    assert_no_job_left(slurm, cluster)


def test_a_second_job_builds_nothing_on_either_node(slurm, all_kinds, tmp_path):
    job = tmp_path / "job.py"
    job.write_text(ALL_KINDS_JOB)
    src = write_csv(tmp_path / "in.csv", 200)
    for out, want in (("a.csv", {"built"}), ("b.csv", {"hit"})):
        proc = slurm(job, args=[src, tmp_path / out] + all_kinds["args"])
        assert proc.returncode == 0, str(proc)
        tasks = json.loads(proc.stdout.strip().splitlines()[-1])["setup"]["tasks"]
        outcomes = {e["outcome"] for t in tasks for e in t["setup"]["entries"]}
        assert outcomes == want, tasks
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


# --------------------------------------------------------------------------
# failures


def udf_job(udf, result="BIGINT", bundle=4096):
    """A job script: `udf` (the source of a function named f, after its
    decorator) applied to each row's id, written as columns id, v."""
    return ("import os, re, subprocess, sys, time\n"
            "from udfenv import TableEnvironment, DataTypes, udf\n\n"
            "@udf(result_type=DataTypes.%s())\n%s\n"
            "if __name__ == '__main__':\n"
            "    t_env = TableEnvironment.create()\n"
            "    t_env.get_config().set('python.fn-execution.bundle.size', %d)\n"
            "    t = t_env.from_csv(sys.argv[1])\n"
            "    t.select(t.id, f(t.id).alias('v')).write_csv(sys.argv[2])\n" % (result, udf, bundle))


FAILING_JOB = udf_job('''\
def f(i):
    if i == 90:  # in the second task's half of 100 rows
        return 1 // 0
    return i
''', bundle=10)


def test_a_udf_error_fails_the_job_with_the_task_node_and_traceback(slurm, cluster, tmp_path):
    job = tmp_path / "job.py"
    job.write_text(FAILING_JOB)
    src = write_csv(tmp_path / "in.csv", 100)
    proc = slurm(job, args=[src, tmp_path / "out.csv"])
    assert proc.returncode != 0, str(proc)
    assert "task 1 on udfenv-n" in proc.stderr, proc.stderr
    assert "UDF 'f' raised ZeroDivisionError" in proc.stderr, proc.stderr
    assert "in.csv line 92" in proc.stderr, proc.stderr
    assert "return 1 // 0" in proc.stderr, "no traceback:\n" + proc.stderr
    assert not (tmp_path / "out.csv").exists()
    assert [p for p in os.listdir(str(tmp_path)) if p.startswith("out.csv")] == []
    assert_no_job_left(slurm, cluster)


SLOW_JOB = udf_job('''\
def f(i):
    time.sleep(0.05)
    return i
''', bundle=1)


@pytest.fixture
def start_slow_job(slurm, cluster, udfenv_bin, udfenv_env, tmp_path, request):
    """start_slow_job() starts a two-task job that runs for minutes (the
    tasks' private dirs in tmp_path/task-tmp) and returns (popen, [(task,
    pid)]) once both tasks run. A job the test leaves running is killed."""
    def start():
        job = tmp_path / "job.py"
        job.write_text(SLOW_JOB)
        src = write_csv(tmp_path / "in.csv", 4000)
        (tmp_path / "task-tmp").mkdir()
        env = dict(udfenv_env)
        env.update(cluster)
        argv = [str(udfenv_bin), "run"] + slurm.flags + [
            "-D", "io.tmp.dirs=%s" % (tmp_path / "task-tmp"), "-py", str(job), str(src), str(tmp_path / "out.csv")]
        p = subprocess.Popen(argv, cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             universal_newlines=True, start_new_session=True)
        request.addfinalizer(lambda: p.poll() is None and os.killpg(p.pid, signal.SIGKILL))
        return p, wait_running(slurm, p)
    return start


def wait_running(slurm, p):
    """The (task, pid) of both tasks once both process rows."""
    deadline = time.time() + 120
    while time.time() < deadline:
        statuses = list((slurm.staging / "jobs").glob("job-*/tasks/*.json"))
        running = []
        for s in statuses:
            try:
                st = json.loads(s.read_text())
            except ValueError:
                continue
            if st.get("phase") == "running" and st.get("rows_in", 0) > 0:
                running.append((st["task"], st["pid"]))
        if len(running) == 2:
            return running
        assert p.poll() is None, "the job ended early: %s" % (p.communicate(),)
        time.sleep(0.2)
    p.kill()
    pytest.fail("the tasks did not start running within 120 s: %s" % (p.communicate(),))


def test_ctrl_c_cancels_the_slurm_job_and_cleans_up(start_slow_job, slurm, cluster, tmp_path):
    p, pids = start_slow_job()
    os.killpg(p.pid, signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode != 0, err
    assert "KeyboardInterrupt" in err, err
    assert not (tmp_path / "out.csv").exists()
    assert_no_job_left(slurm, cluster)
    for _, pid in pids:
        assert not alive(pid), "task pid %d survived" % pid
    assert os.listdir(str(tmp_path / "task-tmp")) == [], "the tasks left their private dirs"


def test_a_killed_task_fails_the_job_promptly(start_slow_job, slurm, cluster, tmp_path):
    p, pids = start_slow_job()
    t0 = time.time()
    os.kill(pids[1][1], signal.SIGKILL)
    out, err = p.communicate(timeout=120)
    assert p.returncode != 0, err
    assert time.time() - t0 < 60, "took %.0f s to notice" % (time.time() - t0)
    last = next(line for line in err.splitlines() if line.startswith("udfenv.JobError"))
    assert "before every task finished" in last, err
    assert "task %d on udfenv-n" % pids[1][0] in last and "ended without a result" in last, err
    # The killed task's private dir stays (nothing runs to remove it); the other task removed its own.
    assert len(os.listdir(str(tmp_path / "task-tmp"))) == 1
    assert not (tmp_path / "out.csv").exists()
    assert_no_job_left(slurm, cluster)


def test_a_missing_staging_dir_is_a_clear_error(cluster, run_udfenv, tmp_path):
    job = tmp_path / "job.py"
    job.write_text(FAILING_JOB)
    src = write_csv(tmp_path / "in.csv", 10)
    proc = run_udfenv("run", "--target", "slurm", "-py", job, src, tmp_path / "out.csv", cwd=tmp_path,
                      env=cluster)
    assert proc.returncode != 0
    assert "needs udfenv.slurm.staging-dir" in proc.stderr, proc.stderr


def test_a_node_that_dies_fails_the_job_with_a_clear_message(start_slow_job, slurm, cluster, tmp_path):
    p, pids = start_slow_job()
    victim = next(t for t in pids if json.loads(
        (next((slurm.staging / "jobs").glob("job-*")) / "tasks" / ("%d.json" % t[0])).read_text()
    )["node"] == "udfenv-n2")
    slurmd = int(open(os.path.join(cluster["UDFENV_SLURM_DIR"], "run", "slurmd-udfenv-n2.pid")).read())
    stepd = int(open("/proc/%d/stat" % victim[1]).read().rsplit(")", 1)[1].split()[1])
    t0 = time.time()
    try:
        # The node's daemon, its step daemon and the task's whole group die at once, as with the machine.
        os.kill(slurmd, signal.SIGKILL)
        os.kill(stepd, signal.SIGKILL)
        os.killpg(os.getpgid(victim[1]), signal.SIGKILL)
        out, err = p.communicate(timeout=180)
        took = time.time() - t0
    finally:
        slurmlocal.start()  # the killed node again
    assert p.returncode != 0, err
    last = next(line for line in err.splitlines() if line.startswith("udfenv.JobError"))
    assert "before every task finished" in last, err
    assert "task %d on udfenv-n2 ended without a result" % victim[0] in last, err
    assert took < 120, "took %.0f s to notice" % took
    print("the client noticed the dead node after %.1f s: %s" % (took, last))
    assert not (tmp_path / "out.csv").exists()
    assert_no_job_left(slurm, cluster)


@pytest.mark.parametrize("conf", [["-D", "udfenv.slurm.partition=nope"],
                                  ["-D", "udfenv.slurm.options=--exclusive --partition=nope"]])
def test_partition_and_extra_options_reach_sbatch(slurm, cluster, tmp_path, conf):
    job = tmp_path / "job.py"
    job.write_text(FAILING_JOB)
    src = write_csv(tmp_path / "in.csv", 10)
    proc = slurm(job, *conf, args=[src, tmp_path / "out.csv"])
    assert proc.returncode != 0
    assert "sbatch refused the job" in proc.stderr and "invalid partition" in proc.stderr, proc.stderr
    assert not (tmp_path / "out.csv").exists()
    assert_no_job_left(slurm, cluster)


TIME_LIMIT_JOB = udf_job('''\
def f(i):
    out = subprocess.run(["scontrol", "show", "job", "-o", os.environ["SLURM_JOB_ID"]],
                         stdout=subprocess.PIPE, universal_newlines=True).stdout
    return re.search(r"TimeLimit=(\\S+)", out).group(1)
''', result="STRING")


def test_the_time_limit_reaches_the_job(slurm, cluster, tmp_path):
    job = tmp_path / "job.py"
    job.write_text(TIME_LIMIT_JOB)
    src = write_csv(tmp_path / "in.csv", 4)
    proc = slurm(job, "-D", "udfenv.slurm.time-limit=7", args=[src, tmp_path / "out.csv"])
    assert proc.returncode == 0, str(proc)
    assert (tmp_path / "out.csv").read_text() == "id,v\n" + "".join("%d,00:07:00\n" % i for i in range(4))


def test_the_tasks_are_as_verbose_as_the_client(slurm, cluster, tmp_path):
    """-v reaches each task: its worker command lines come back on stderr,
    as a local job's do; without -v the tasks log nothing."""
    job = tmp_path / "job.py"
    job.write_text(udf_job("def f(i):\n    return i + 1\n"))
    src = write_csv(tmp_path / "in.csv", 10)
    quiet = slurm(job, args=[src, tmp_path / "quiet.csv"])
    assert quiet.returncode == 0, str(quiet)
    assert "udfenv._worker" not in quiet.stderr, str(quiet)
    loud = slurm(job, "-v", args=[src, tmp_path / "loud.csv"])
    assert loud.returncode == 0, str(loud)
    assert "worker 0:" in loud.stderr and "udfenv._worker" in loud.stderr, str(loud)
    assert (tmp_path / "loud.csv").read_text() == (tmp_path / "quiet.csv").read_text()


def test_an_unknown_target_is_a_usage_error(run_udfenv, tmp_path):
    job = tmp_path / "job.py"
    job.write_text(FAILING_JOB)
    proc = run_udfenv("run", "--target", "slrum", "-py", job, cwd=tmp_path)
    assert proc.returncode == 2
    assert "--target 'slrum': expected local or slurm" in proc.stderr, proc.stderr
