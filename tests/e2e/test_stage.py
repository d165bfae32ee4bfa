"""`udfenv stage --out D` and `udfenv exec --manifest D/manifest.json
--store D/store`: the manifest's shape (docs/manifest.md), digests that
depend only on content, a staged job that runs without its original
inputs, and a store that is verified on use."""

import hashlib
import json
import os
import re
import shutil
import stat
import textwrap

import pytest

import pyartifacts as pa

HEX64 = re.compile(r"^[0-9a-f]{64}$")


@pytest.fixture(scope="module")
def src(tmp_path_factory):
    root = tmp_path_factory.mktemp("stage-src")
    pa.write_tree(root, {
        "mods/single.py": "VALUE = 'single'\n",
        "lib/libmod.py": "VALUE = 'libmod'\n",
        "lib/pkg/__init__.py": "VALUE = 'pkg'\n",
        "lib/pkg/data.txt": "pkg data\n",
    })
    os.chmod(str(root / "lib" / "libmod.py"), 0o755)
    os.symlink("libmod.py", str(root / "lib" / "alias.py"))
    pa.make_data_zip(root / "data.zip", {"data.txt": "hello staged data\n"})
    return root


def stage_flags(src):
    return ["-pyfs", "%s,%s" % (src / "mods" / "single.py", src / "lib"),
            "-pyarch", "%s#data" % (src / "data.zip")]


PROBE = textwrap.dedent("""\
    import json, os, sys
    import single, libmod, pkg, alias
    print(json.dumps({
        "single": single.VALUE, "libmod": libmod.VALUE, "pkg": pkg.VALUE,
        "alias": alias.VALUE,
        "libmod_exec": os.access(libmod.__file__, os.X_OK),
        "pkg_data": open(os.path.join(os.path.dirname(pkg.__file__), "data.txt")).read(),
        "data": open("data/data.txt").read(),
    }))
    """)

EXPECTED = {"single": "single", "libmod": "libmod", "pkg": "pkg", "alias": "libmod",
            "libmod_exec": True, "pkg_data": "pkg data\n", "data": "hello staged data\n"}


def artifacts_of(manifest):
    """Every object in the manifest that carries a digest: the artifacts."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            if "digest" in node:
                found.append(node)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(manifest)
    return found


def hex_of(digest):
    assert HEX64.match(digest), "digest is not 64 lowercase hex digits: %r" % digest
    return digest


def blob_of(store, digest):
    """The store's blob for `digest`: store/<sha256> (docs/manifest.md)."""
    path = os.path.join(str(store), hex_of(digest))
    assert os.path.isfile(path), "no blob %s in the store: %s" % (digest, os.listdir(str(store)))
    return path


def by_name(manifest):
    return {os.path.basename(a["name"].rstrip("/")): a for a in artifacts_of(manifest)}


def stage(run_udfenv, out, *flags, cwd=None):
    proc = run_udfenv("stage", *flags, "--out", out, cwd=cwd)
    assert proc.returncode == 0, str(proc)
    return proc


def staged_manifest(run_udfenv, out, *flags):
    stage(run_udfenv, out, *flags)
    return json.loads((out / "manifest.json").read_text())


def last_json(proc):
    assert proc.returncode == 0, str(proc)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    assert lines, str(proc)
    return json.loads(lines[-1])


def test_stage_writes_manifest_and_store(run_udfenv, src, tmp_path):
    out = tmp_path / "staged"
    proc = stage(run_udfenv, out, *stage_flags(src), cwd=tmp_path)
    manifest_path = out / "manifest.json"
    assert manifest_path.is_file()
    assert (out / "store").is_dir()
    # prints the manifest path
    printed = proc.stdout.strip().splitlines()[-1]
    assert os.path.realpath(os.path.join(str(tmp_path), printed)) == os.path.realpath(str(manifest_path))

    manifest = json.loads(manifest_path.read_text())
    assert manifest.get("format") == "udfenv-manifest", manifest
    assert manifest.get("version") == 1, manifest
    arts = artifacts_of(manifest)
    assert len(arts) == 3, "expected 3 artifacts (single.py, lib, data.zip): %s" % arts
    for a in arts:
        for field in ("digest", "size", "kind", "name"):
            assert field in a, "artifact lacks %r: %s" % (field, a)
        blob = blob_of(out / "store", a["digest"])
        with open(blob, "rb") as fh:
            content = fh.read()
        assert hashlib.sha256(content).hexdigest() == a["digest"]
        assert a["size"] == len(content)
        assert not stat.S_IMODE(os.stat(blob).st_mode) & 0o222, "blob is not read-only: %s" % blob
    # python files in PYTHONPATH order, then the archive with its target
    assert [(a["name"], a["kind"]) for a in manifest["python_files"]] == \
        [("single.py", "file"), ("lib", "dir")]
    assert [(a["name"], a["kind"], a["target"]) for a in manifest["archives"]] == \
        [("data.zip", "archive", "data")]
    assert manifest["requirements"] is None
    # the .py file is stored as is
    with open(blob_of(out / "store", manifest["python_files"][0]["digest"]), "rb") as fh:
        assert fh.read() == (src / "mods" / "single.py").read_bytes()
    # nothing else: no temp files left in --out or the store
    assert sorted(os.listdir(str(out))) == ["manifest.json", "store"]
    assert sorted(os.listdir(str(out / "store"))) == sorted(a["digest"] for a in arts)


def test_stage_same_path_twice_is_shipped_once(run_udfenv, src, tmp_path):
    single = src / "mods" / "single.py"
    m = staged_manifest(run_udfenv, tmp_path / "s", "-pyfs", "%s,%s" % (single, single),
                        "-pyfs", single)
    assert [a["name"] for a in m["python_files"]] == ["single.py"], m


def test_stage_requirements_and_exec_from_manifest(run_udfenv, tmp_path):
    cache = tmp_path / "wheels"
    pa.make_wheel(cache, "alpha-pkg", "1.0", {"alpha/__init__.py": "VALUE = 'alpha-1.0'\n"})
    req = tmp_path / "requirements.txt"
    req.write_text("alpha-pkg==1.0\n")
    out = tmp_path / "staged"
    m = staged_manifest(run_udfenv, out, "-pyreq", "%s#%s" % (req, cache))
    r = m["requirements"]
    assert (r["file"]["name"], r["file"]["kind"]) == ("requirements.txt", "file")
    assert (r["cache_dir"]["name"], r["cache_dir"]["kind"]) == ("wheels", "dir")
    shutil.rmtree(str(cache))
    req.unlink()
    proc = run_udfenv("exec", "--manifest", out / "manifest.json", "--", "python", "-c",
                      "import alpha; print(alpha.VALUE)", timeout=300)
    assert proc.returncode == 0, str(proc)
    assert proc.stdout.strip() == "alpha-1.0"


def test_stage_twice_gives_identical_digests(run_udfenv, src, tmp_path):
    m1 = staged_manifest(run_udfenv, tmp_path / "s1", *stage_flags(src))
    m2 = staged_manifest(run_udfenv, tmp_path / "s2", *stage_flags(src))
    d1 = {n: a["digest"] for n, a in by_name(m1).items()}
    d2 = {n: a["digest"] for n, a in by_name(m2).items()}
    assert len(d1) == 3
    assert d1 == d2


def test_directory_digest_ignores_mtimes(run_udfenv, tmp_path):
    d = pa.write_tree(tmp_path / "src" / "lib", {"m.py": "X = 1\n", "sub/n.py": "Y = 2\n"})
    a1 = by_name(staged_manifest(run_udfenv, tmp_path / "s1", "-pyfs", d))["lib"]
    for p in [d, d / "sub", d / "m.py", d / "sub" / "n.py"]:
        os.utime(str(p), (1_000_000_000, 1_000_000_000))
    a2 = by_name(staged_manifest(run_udfenv, tmp_path / "s2", "-pyfs", d))["lib"]
    assert a1["digest"] == a2["digest"]
    # ... but content does count
    (d / "m.py").write_text("X = 2\n")
    a3 = by_name(staged_manifest(run_udfenv, tmp_path / "s3", "-pyfs", d))["lib"]
    assert a3["digest"] != a1["digest"]


def test_exec_from_manifest_matches_on_the_fly(run_udfenv, src, tmp_path):
    direct = last_json(run_udfenv("exec", *stage_flags(src), "--", "python", "-c", PROBE))
    assert direct == EXPECTED

    # stage from a copy of the inputs, then remove the copy: the manifest
    # plus the store must be all that is needed
    copy = tmp_path / "inputs"
    shutil.copytree(str(src), str(copy), symlinks=True)
    out = tmp_path / "staged"
    stage(run_udfenv, out, *stage_flags(copy))
    shutil.rmtree(str(copy))
    staged = last_json(run_udfenv("exec", "--manifest", out / "manifest.json", "--store",
                                  out / "store", "--", "python", "-c", PROBE))
    assert staged == direct
    # exec does not modify the staged job
    blobs = sorted(f for _, _, fs in os.walk(str(out / "store")) for f in fs)
    assert len(blobs) == 3


@pytest.mark.parametrize("victim", ["single.py", "lib", "data.zip"])
def test_tampered_blob_is_refused(run_udfenv, src, tmp_path, expect_error, victim):
    out = tmp_path / "staged"
    stage(run_udfenv, out, *stage_flags(src))
    art = by_name(json.loads((out / "manifest.json").read_text()))[victim]
    blob = blob_of(out / "store", art["digest"])
    os.chmod(blob, 0o644)  # blobs are read-only
    data = bytearray(open(blob, "rb").read())
    data[len(data) // 2] ^= 0x01
    with open(blob, "wb") as fh:
        fh.write(bytes(data))
    mark = tmp_path / "cmd-ran"
    proc = run_udfenv("exec", "--manifest", out / "manifest.json", "--store", out / "store",
                      "--", "python", "-c", "open(%r, 'w')" % str(mark))
    # docs/manifest.md: "a mismatch is an error that names the artifact and
    # both digests"
    line = expect_error(proc, 125, line_has=["digest", victim, art["digest"],
                                             hashlib.sha256(bytes(data)).hexdigest()])
    low = line.lower()
    assert "mismatch" in low or "does not match" in low, line
    assert not mark.exists()


def test_missing_blob_is_refused(run_udfenv, src, tmp_path, expect_error):
    out = tmp_path / "staged"
    stage(run_udfenv, out, *stage_flags(src))
    art = by_name(json.loads((out / "manifest.json").read_text()))["data.zip"]
    os.unlink(blob_of(out / "store", art["digest"]))
    proc = run_udfenv("exec", "--manifest", out / "manifest.json", "--store", out / "store",
                      "--", "python", "-c", "pass")
    expect_error(proc, 125, line_has=["data.zip"])


def test_store_defaults_to_beside_the_manifest(run_udfenv, src, tmp_path):
    out = tmp_path / "staged"
    stage(run_udfenv, out, *stage_flags(src))
    assert last_json(run_udfenv("exec", "--manifest", out / "manifest.json",
                                "--", "python", "-c", PROBE)) == EXPECTED


def test_manifest_refuses_dependency_flags(run_udfenv, src, tmp_path, expect_error):
    out = tmp_path / "staged"
    stage(run_udfenv, out, *stage_flags(src))
    proc = run_udfenv("exec", "--manifest", out / "manifest.json",
                      "-pyfs", src / "mods" / "single.py", "--", "python", "-c", "pass")
    line = expect_error(proc, 125)
    assert "-pyfs" in line or "--manifest" in line, line


def test_failed_manifest_write_removes_the_new_blobs(run_udfenv, src, tmp_path, expect_error):
    """Staging into an existing --out whose manifest cannot be written: the
    blobs this run added go again, what was there before stays."""
    out = tmp_path / "out"
    stage(run_udfenv, out, "-pyfs", src / "mods" / "single.py")
    before = sorted(p.name for p in (out / "store").iterdir())
    (out / "manifest.json").unlink()
    (out / "manifest.json").mkdir()  # now it cannot be replaced by a file

    proc = run_udfenv("stage", "-pyfs", "%s,%s" % (src / "mods" / "single.py", src / "data.zip"),
                      "--out", out)

    expect_error(proc, 1, line_has=("manifest.json",))
    assert sorted(p.name for p in (out / "store").iterdir()) == before


def test_empty_and_long_pythonpath(run_udfenv, src, tmp_path, expect_error):
    """What stage writes, exec reads: an empty -pypath is no path; one too long
    is refused when declared, not when a worker starts."""
    out = tmp_path / "out"
    stage(run_udfenv, out, "-pyfs", src / "mods" / "single.py", "-pypath", "")
    proc = run_udfenv("exec", "--manifest", out / "manifest.json", "--", "true")
    assert proc.returncode == 0, str(proc)
    proc = run_udfenv("stage", "-pypath", "x" * 70000, "--out", tmp_path / "long")
    expect_error(proc, 2, line_has=("too long",))
    assert not (tmp_path / "long").exists()


def test_manifest_takes_config_but_not_python_keys(run_udfenv, src, tmp_path, expect_error):
    out = tmp_path / "out"
    stage(run_udfenv, out, "-pyfs", src / "mods" / "single.py")
    root = tmp_path / "via-config"
    proc = run_udfenv("exec", "--manifest", out / "manifest.json", "-D", "io.tmp.dirs=%s" % root,
                      "--", "sh", "-c", 'echo "$UDFENV_WORKDIR"', add_tmp_root=False)
    assert proc.returncode == 0, str(proc)
    # UDFENV_WORKDIR is the worker's dir inside the private dir made under the root.
    assert os.path.dirname(os.path.dirname(proc.stdout.strip())) == str(root)
    assert list(root.iterdir()) == []
    proc = run_udfenv("exec", "--manifest", out / "manifest.json", "-D", "python.files=/x",
                      "--", "true")
    expect_error(proc, 125, line_has=("python.files", "--manifest"))
