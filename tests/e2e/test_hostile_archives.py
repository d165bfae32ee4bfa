"""End to end: hostile archives given to `udfenv exec -pyarch` are refused.

Every archive is generated here, at test time, with zipfile/tarfile (or raw
bytes where those cannot make the shape) in pytest's tmp_path. For each one,
`udfenv exec -pyarch EVIL.zip#t --tmp-root ROOT -- true` must fail with
status 125 (udfenv itself failed, docs/cli.md), print one
"udfenv: error: ..." line naming the archive and the entry, write nothing
outside, and leave ROOT empty (the tmp_root fixture checks that last part).

The binary is $UDFENV_BIN, by default build/udfenv under the repository root
(the udfenv_bin fixture of conftest.py).
"""

import io
import stat
import struct
import tarfile
import warnings
import subprocess
import zipfile
import zlib
from pathlib import Path

import pytest

UNSAFE_STATUS = 125


# ---- writing archives ----

def zip_members(path, members, compression=zipfile.ZIP_STORED):
    """members: (name, data, mode) with mode a full st_mode (S_IFLNK for links)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names
        with zipfile.ZipFile(path, "w", compression) as z:
            for name, data, mode in members:
                info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
                info.create_system = 3  # unix, so the mode is read
                info.external_attr = (mode << 16) | (0x10 if stat.S_ISDIR(mode) else 0)
                info.compress_type = compression
                z.writestr(info, data)


def tar_members(path, members):
    """members: TarInfo fields as dicts: name, type, linkname, data, mode, devmajor."""
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as t:
        for m in members:
            info = tarfile.TarInfo(m["name"])
            info.type = m.get("type", tarfile.REGTYPE)
            info.linkname = m.get("linkname", "")
            info.mode = m.get("mode", 0o644)
            info.devmajor, info.devminor = m.get("dev", (0, 0))
            data = m.get("data", b"")
            info.size = len(data) if info.type == tarfile.REGTYPE else 0
            t.addfile(info, io.BytesIO(data) if info.size else None)


def tar_name_bytes(path, name):
    """A tar of one file whose name is raw bytes (tarfile only takes str)."""
    placeholder = "N" * len(name)
    tar_members(path, [{"name": placeholder, "data": b"x"}])
    raw = bytearray(path.read_bytes())
    raw[0:len(name)] = name
    # Header checksum: the sum of the header bytes with the checksum field as spaces.
    raw[148:156] = b" " * 8
    raw[148:156] = b"%06o\0 " % sum(raw[0:512])
    path.write_bytes(bytes(raw))


def lfh(name, data, crc):
    return struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0, crc, len(data), len(data),
                       len(name), 0) + name + data


def cdh(name, size, crc, offset):
    return struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x031E, 20, 0, 0, 0, 0, crc, size, size,
                       len(name), 0, 0, 0, 0, 0o100644 << 16, offset) + name


def eocd(count, cd_size, cd_offset):
    return struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, cd_size, cd_offset, 0)


def overlapping_zip(path, count=1000):
    """count central directory entries, all pointing at one local header."""
    data = bytes(65536)
    crc = zlib.crc32(data)
    local = lfh(b"f0000", data, crc)
    cd = b"".join(cdh(b"f%04d" % i, len(data), crc, 0) for i in range(count))
    path.write_bytes(local + cd + eocd(count, len(cd), len(local)))


def deep_name(depth):
    return "a/" * depth + "f"


# ---- the shapes ----
# Each builder writes EVIL.zip or EVIL.tar into `d` (tmp_path/in), given the
# `outside` dir that must stay empty; it returns (archive, text on stderr).

def dotdot(d, outside):
    zip_members(d / "EVIL.zip", [("ok", b"x", 0o100644), ("../x", b"pwned", 0o100644)])
    return d / "EVIL.zip", "'../x'"


def dotdot_inside(d, outside):
    tar_members(d / "EVIL.tar", [{"name": "a/../../x", "data": b"pwned"}])
    return d / "EVIL.tar", "'a/../../x'"


def absolute(d, outside):
    name = str(outside / "abs")
    tar_members(d / "EVIL.tar", [{"name": name, "data": b"pwned"}])
    return d / "EVIL.tar", "absolute path"


def symlink_then_file(d, outside):
    # Enough ".." to reach "/" from anywhere, then down into `outside`.
    target = "../" * 64 + str(outside).lstrip("/")
    tar_members(d / "EVIL.tar", [
        {"name": "l", "type": tarfile.SYMTYPE, "linkname": target},
        {"name": "l/pwned", "data": b"pwned"},
    ])
    return d / "EVIL.tar", "'l/pwned'"


def symlink_two_step(d, outside):
    tar_members(d / "EVIL.tar", [
        {"name": "a/b/c/s", "type": tarfile.SYMTYPE, "linkname": "../../.."},
        {"name": "a/b/c/t", "type": tarfile.SYMTYPE, "linkname": "s/../.."},
    ])
    return d / "EVIL.tar", "'a/b/c/t'"


def hardlink_passwd(d, outside):
    tar_members(d / "EVIL.tar", [{"name": "passwd", "type": tarfile.LNKTYPE,
                                  "linkname": "/etc/passwd"}])
    return d / "EVIL.tar", "'passwd'"


def hardlink_outside_file(d, outside):
    sentinel = d.parent / "sentinel.txt"
    sentinel.write_bytes(b"original\n")
    tar_members(d / "EVIL.tar", [{"name": "grab", "type": tarfile.LNKTYPE,
                                  "linkname": str(sentinel)}])
    return d / "EVIL.tar", "'grab'"


def hardlink_forward(d, outside):
    tar_members(d / "EVIL.tar", [
        {"name": "early", "type": tarfile.LNKTYPE, "linkname": "later"},
        {"name": "later", "data": b"x"},
    ])
    return d / "EVIL.tar", "'early'"


def char_device(d, outside):
    tar_members(d / "EVIL.tar", [{"name": "null", "type": tarfile.CHRTYPE, "dev": (1, 3)}])
    return d / "EVIL.tar", "'null'"


def fifo(d, outside):
    tar_members(d / "EVIL.tar", [{"name": "pipe", "type": tarfile.FIFOTYPE}])
    return d / "EVIL.tar", "'pipe'"


def same_name_twice(d, outside):
    zip_members(d / "EVIL.zip", [("x.py", b"one", 0o100644), ("x.py", b"two", 0o100644)])
    return d / "EVIL.zip", "'x.py'"


def dir_then_symlink(d, outside):
    zip_members(d / "EVIL.zip", [("d/", b"", 0o40755), ("d", b"../outside", 0o120777)])
    return d / "EVIL.zip", "'d'"


def deflate_bomb(d, outside):
    zip_members(d / "EVIL.zip", [("zeros", bytes(64 << 20), 0o100644)], zipfile.ZIP_DEFLATED)
    assert (d / "EVIL.zip").stat().st_size * 900 < 64 << 20  # about 1000:1
    return d / "EVIL.zip", "'zeros'"


def bomb_lying_size(d, outside):
    """The same bomb, its headers claiming 1000 bytes: caught while copying."""
    deflate_bomb(d, outside)
    raw = bytearray((d / "EVIL.zip").read_bytes())
    local, central = raw.find(b"PK\x03\x04"), raw.find(b"PK\x01\x02")
    struct.pack_into("<I", raw, local + 22, 1000)
    struct.pack_into("<I", raw, central + 24, 1000)
    (d / "EVIL.zip").write_bytes(bytes(raw))
    return d / "EVIL.zip", "'zeros'"


def overlapping(d, outside):
    overlapping_zip(d / "EVIL.zip")
    return d / "EVIL.zip", "overlapping"


def non_utf8(d, outside):
    zip_members(d / "EVIL.zip", [("bad-XX.txt", b"x", 0o100644)])
    raw = (d / "EVIL.zip").read_bytes().replace(b"XX", b"\xff\xfe")
    (d / "EVIL.zip").write_bytes(raw)
    return d / "EVIL.zip", r"'bad-\xff\xfe.txt'"


def control_char(d, outside):
    tar_name_bytes(d / "EVIL.tar", b"a\x1b[2Jb")
    return d / "EVIL.tar", r"'a\x1b[2Jb'"


def backslash(d, outside):
    tar_members(d / "EVIL.tar", [{"name": "a\\b", "data": b"x"}])
    return d / "EVIL.tar", "'a\\b'"


def deep_path(d, outside):
    zip_members(d / "EVIL.zip", [(deep_name(5000), b"x", 0o100644)])
    return d / "EVIL.zip", "'a/a/a/a/"


def absolute_symlink(d, outside):
    zip_members(d / "EVIL.zip", [
        ("venv/pyvenv.cfg", b"home = /usr/bin\n", 0o100644),
        ("venv/bin/python", b"/usr/bin/python3.11", 0o120777),
    ])
    return d / "EVIL.zip", "--copies"


SHAPES = [dotdot, dotdot_inside, absolute, symlink_then_file, symlink_two_step, hardlink_passwd,
          hardlink_outside_file, hardlink_forward, char_device, fifo, same_name_twice,
          dir_then_symlink, deflate_bomb, bomb_lying_size, overlapping, non_utf8, control_char,
          backslash, deep_path, absolute_symlink]


# ---- running udfenv ----

def run_exec(run_udfenv, archive, root, *cmd):
    """udfenv exec -pyarch NAME#t --tmp-root ROOT -- CMD, from the archive's directory."""
    return run_udfenv("exec", "-pyarch", "%s#t" % archive.name, "--tmp-root", root,
                      "--", *(cmd or ["true"]), cwd=archive.parent, timeout=300)


def snapshot(path):
    st = path.stat()
    return st.st_size, st.st_mtime_ns, st.st_nlink, path.read_bytes()


@pytest.mark.parametrize("shape", SHAPES, ids=[s.__name__ for s in SHAPES])
def test_hostile_archive_refused(run_udfenv, expect_error, tmp_root, tmp_path, shape):
    archives, outside = tmp_path / "in", tmp_path / "outside"
    archives.mkdir()
    outside.mkdir()
    passwd = snapshot(Path("/etc/passwd"))
    archive, expected = shape(archives, outside)
    sentinel = tmp_path / "sentinel.txt"
    before = snapshot(sentinel) if sentinel.exists() else None
    known = {p.name for p in tmp_path.iterdir()} | {"xdg-cache"}

    proc = run_exec(run_udfenv, archive, tmp_root)

    expect_error(proc, UNSAFE_STATUS, line_has=("'%s'" % archive.name, expected))
    assert list(tmp_root.iterdir()) == [], str(proc)
    assert list(outside.iterdir()) == [], str(proc)
    assert [p.name for p in archives.iterdir()] == [archive.name]
    assert {p.name for p in tmp_path.iterdir()} <= known, str(proc)
    assert snapshot(Path("/etc/passwd")) == passwd
    if before:
        assert snapshot(sentinel) == before


def test_zipped_venv_keeps_modes_and_links(run_udfenv, tmp_root, tmp_path):
    """The happy path next to the hostile ones: x bits and in-tree links survive, setuid not."""
    archives = tmp_path / "in"
    archives.mkdir()
    zip_members(archives / "venv.zip", [
        ("bin/", b"", 0o40755),
        ("bin/python", b"#!/bin/sh\necho hi\n", 0o100755),
        ("bin/python3", b"python", 0o120777),
        ("bin/su", b"x", 0o104755),
        ("lib/site.py", b"", 0o100644),
    ], zipfile.ZIP_DEFLATED)
    check = ('test -x t/bin/python && test "$(readlink t/bin/python3)" = python '
             '&& test "$(t/bin/python3)" = hi && test ! -u t/bin/su && test -x t/bin/su '
             '&& echo modes-and-links-ok')

    proc = run_exec(run_udfenv, archives / "venv.zip", tmp_root, "sh", "-c", check)

    assert proc.returncode == 0, str(proc)
    assert "modes-and-links-ok" in proc.stdout, str(proc)


@pytest.mark.parametrize("maker", ["info-zip", "python-zipfile"])
def test_zip_holding_a_stored_zip_extracts(run_udfenv, tmp_root, tmp_path, maker):
    """Not hostile: Info-ZIP stores inner .zip files uncompressed by default,
    and so does Python's zipfile, so the outer zip holds a second end record
    near its end. libarchive reads the last one; so must our zip check."""
    src = tmp_path / "src" / "d"
    src.mkdir(parents=True)
    (src / "a.txt").write_text("a\n")
    with zipfile.ZipFile(str(src / "inner.zip"), "w") as z:
        z.writestr("in.txt", "in\n")
    archives = tmp_path / "in"
    archives.mkdir()
    outer = archives / "outer.zip"
    if maker == "info-zip":
        subprocess.run(["zip", "-q", "-r", str(outer), "d"], cwd=str(src.parent), check=True)
    else:
        with zipfile.ZipFile(str(outer), "w") as z:
            z.write(str(src / "a.txt"), "d/a.txt")
            z.write(str(src / "inner.zip"), "d/inner.zip")
    assert outer.read_bytes().count(b"PK\x05\x06") == 2

    proc = run_exec(run_udfenv, outer, tmp_root, "sh", "-c", "cat t/d/a.txt && unzip -p t/d/inner.zip")

    assert proc.returncode == 0, str(proc)
    assert proc.stdout == "a\nin\n", str(proc)
