"""Every examples/*/run works as written (the README's first command runs
examples/data-file/run), against the binary under test."""

import os
import subprocess
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXPECTED = {
    "data-file": [" 3  6  Slow service, and the music is far too loud"],
    "python-files": ["4 rows -> ", "3,GBH,0.286"],
    "venv-archive": ["  3      27  worker python "],
    "requirements": ["1  creme brulee", "3  smorgasbord"],
    "slurm": ["400 rows in ", "on 2 task(s)", "id,primes\n0,550\n1,552"],
}


def test_every_example_is_tested():
    assert sorted(p.name for p in EXAMPLES.iterdir() if (p / "run").is_file()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs(name, udfenv_bin, udfenv_env, tmp_path, request):
    if name == "slurm":
        request.getfixturevalue("cluster")  # up for the session
    env = dict(udfenv_env, UDFENV_BIN=str(udfenv_bin), TMPDIR=str(tmp_path))
    proc = subprocess.run([str(EXAMPLES / name / "run")], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for line in EXPECTED[name]:
        assert line in proc.stdout, proc.stdout + proc.stderr
    # The run scripts clean up their temp dirs.
    assert [p for p in os.listdir(str(tmp_path)) if p.startswith("tmp.")] == []
