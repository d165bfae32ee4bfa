#!/usr/bin/env python3
"""Write the seed corpora of the fuzz targets: fuzz/corpus/<target>/seed-*.

The seeds are committed; this script is how they were made (archives and
wheels are built here with fixed times, so the bytes are the same on every
run). It replaces every seed-* file and leaves the rest of a corpus dir
alone (crash-* reproducers, entries added by hand). Each target's input
format is described at the top of its fuzz/fuzz_<target>.c.

    python3 fuzz/make_seeds.py [CORPUS_DIR]     (default: fuzz/corpus)
"""
import io
import json
import os
import struct
import sys
import tarfile
import zipfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures"))
from pyartifacts import record_hash  # noqa: E402

MTIME = 1700000000
HEX = "0123456789abcdef" * 4  # 64 hex digits
SHA = "sha256:" + HEX


def nul(*parts):
    return "\0".join(parts)


# ---- text targets ----

REQFILE = {
    "pins": "requests==2.31.0\nnumpy>=1.20 ; python_version >= '3.8'\nsix\n",
    "hashes": f"pkg==1.0 --hash={SHA} \\\n    --hash=sha384:{HEX}{HEX[:32]}\n"
              f"other==2.0 --hash {SHA}\n--require-hashes\n",
    "options": "--no-index\n--find-links ./wheels\n-f https://example.com/w\n--pre\n"
               "--only-binary :all:\n--prefer-binary\n--trusted-host h\n"
               "-i https://pypi.org/simple\n--extra-index-url=https://x\nfoo\n",
    "includes": nul("-r r1.txt\n-c r2.txt\nfoo\n", "bar>=1\n-r r3.txt\n", "bar<2\n",
                    "baz @ https://example.com/baz-1.0.tar.gz ; extra == 'x'\n"),
    "cycle": nul("-r r1.txt\n", "-r r0.txt\n"),
    "fallbacks": "-e git+https://github.com/a/b#egg=b\n--editable ./local\n./path/to/pkg\n"
                 "https://example.com/x.whl\n${HOME}/x\n--no-binary :all:\n-C key=value\n"
                 "--global-option=--x\n--install-option x\n--use-feature fast-deps\n",
    "syntax": "\ufeff# comment\r\nfoo \\\n  >=1.0 # trailing\r\n\n"
              "pkg --hash 'sha256:" + HEX + "'\n--index-url=\"https://a b\"\n-rr1.txt\n--pr\n",
    "bad": "--foo\npkg --hash=md5:00\n'unbalanced\n-r\n",
}

PEP508 = {
    "extras": "requests[security,socks] >=2.8.1, ==2.8.* ; python_version < \"2.7\"\n"
              "python_version >= '3.8' and (os_name == 'posix' or sys_platform == 'win32')\n3.9",
    "url": "name @ https://example.com/pkg.zip ; extra == 'test'\n"
           "extra == 'test' or platform_machine in 'x86_64 aarch64'\ntest",
    "parens": "pkg (>=1.0,<2.0)\n'linux' in sys_platform and implementation_name not in 'pypy'\nlinux",
    "compatible": "A.B-C_D\nplatform_release ~= '5.4'\n5.4.1",
    "arbitrary": "pip===23.0\npython_full_version === '3.11.4' or '3' < python_version\n",
    "nested": "x[a,A,b]; ((extra=='a') and (python_version!='3.0'))\n"
              "((((os_name == 'nt'))))\nnt",
    "bad": "foo !x\nbogus_var == '1'\n",
}

PEP440 = {
    "basic": "1.0\n1.0.0\n>=1.0,<2.0,!=1.5.*\nFoo.Bar-baz",
    "full": "1!2.0rc1.post3.dev4+abc.5\nv1.0-1\n~=2.2.post3,==1.0+local\nA",
    "spellings": "1.0a\n1.0.alpha.1\n===foo\nzope.interface",
    "normalize": "1.0-r2\n  V01.02.03PREVIEW4_POST5.DEV6+Ubuntu-01  \n<1.0rc1,>1.0.post1\n__bad",
    "big": "18446744073709551616\n9223372036854775807\n==1.*,!=2.0\n",
    "pre": "1.0c1\n1.0rc1\n<=1.0b2, >0.9.dev0\na-b_c",
}

WHEELNAME = {
    "pure": "pip-23.2.1-py3-none-any.whl\nWheel-Version: 1.0\nGenerator: bdist_wheel (0.41.2)\n"
            "Root-Is-Purelib: true\nTag: py3-none-any\n",
    "build": "numpy-1.26.0-1build-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl\n"
             "[console_scripts]\nf2py = numpy.f2py.f2py2e:main\n[gui_scripts]\ng = a.b:c [extra]\n",
    "compressed": "six-1.16.0-py2.py3-none-any.whl\n\"a,b\",\"c\"\"d\"\n",
    "local": "Foo_Bar-1.0+local.1-py3-none-any.whl\nWheel-Version: 2.0\nRoot-Is-Purelib: TRUE\n",
    "bad": "not-a-wheel.zip\n[console_scripts]\nbad name = x\n",
}

PLAN = {
    "udfenv_plan": 1,
    "source": {"format": "csv", "path": "/data/in.csv", "schema": [["id", "BIGINT"], ["s", "STRING"]]},
    "output": [["id", "BIGINT"], ["x", "DOUBLE"], ["ok", "BOOLEAN"]],
    "sink": {"type": "file", "format": "jsonl", "path": "/data/out.jsonl", "overwrite": True},
    "runtime": "/opt/udfenv/runtime",
    "program": {"kind": "map", "fn": "f"},
}


def job_seeds():
    job = {"udfenv_job": 1, "tasks": 1, "rows": 10, "store": "/store", "plan": PLAN,
           "config": {"parallelism.default": "2", "python.fn-execution.bundle.size": "100",
                      "udfenv.cache.dir": "/c/%n"}}
    running = {"state": "running", "phase": "setup", "rows_in": 1, "rows_done": 1, "rows_out": 0,
               "setup_seconds": 0.5, "task": 0, "node": "n1", "pid": 1}
    failed = {"state": "failed", "rows_in": 0, "rows_done": 0, "rows_out": 0, "setup_seconds": 0.0,
              "error": "boom", "code": -8, "detail": "line\nline", "setup_report": {"a": 1}}
    collect = dict(PLAN, sink={"type": "collect"})
    dirsink = dict(PLAN, sink={"type": "directory", "format": "csv", "path": "/out"})
    return {
        "running": nul(json.dumps(job), json.dumps(running)),
        "failed": nul(json.dumps(dict(job, plan=collect)), json.dumps(failed)),
        "nostatus": json.dumps(dict(job, plan=dirsink, config={})),
        "plan": json.dumps(PLAN),
        "bad": nul(json.dumps(dict(job, tasks=2)), "[1]"),
    }


def manifest_seeds():
    def art(kind, name, size=12, target=None):
        a = {"digest": HEX, "size": size, "kind": kind, "name": name}
        if target:
            a["target"] = target
        return a

    full = {"format": "udfenv-manifest", "version": 1,
            "python_files": [art("file", "a.py"), art("dir", "pkg"), art("zipimport", "x.whl")],
            "requirements": {"file": art("file", "requirements.txt"), "cache_dir": art("dir", "wheels")},
            "archives": [art("archive", "venv.zip", 100, "venv"), art("archive", "data.tar.gz", 5, "data")],
            "python": {"executable": "venv/bin/python", "client_executable": None, "pythonpath": "/opt/lib"}}
    minimal = {"format": "udfenv-manifest", "version": 1, "python_files": [], "requirements": None,
               "archives": [], "python": {}}
    dup = dict(full, archives=[art("archive", "a.zip", 1, "t"), art("archive", "b.zip", 1, "t")])
    return {"full": json.dumps(full, indent=2), "minimal": json.dumps(minimal),
            "dup-target": json.dumps(dup), "bad-version": json.dumps(dict(minimal, version=2))}


CONFIG = {
    "flags": nul("python.files: /a.py, /b.py\npython.executable: \"py 3\"\r\n"
                 "python.archives: /v.zip#venv2 # comment\nparallelism.default: 4\n"
                 "python.fn-execution.bundle.size: 100\nio.tmp.dirs: /tmp/a:/tmp/b\n",
                 "-pyfs", "x.py,y\\,z.py", "-pyarch", "venv.zip", "venv", "-pyreq", "req.txt#cache",
                 "-pyexec", "venv/bin/python", "-D", "python.pythonpath=/opt",
                 "-Dudfenv.cache.dir=/c/%n", "--config", "whatever", "-v"),
    "long-flags": nul("# only comments\n", "--pyFiles=a.py", "--pyArchives", "a.zip#t,b.tar.gz",
                      "--pyRequirements", "r.txt", "cache", "--pyClientExecutable", "python3",
                      "--pyPythonPath", "/p", "positional", "-vv"),
    "help": nul("udfenv.slurm.nodes: 2\n", "-h"),
    "bad-key": nul("python.file: x\n"),
    "bad-line": nul("key without colon\n"),
    "missing-value": nul("", "-pyfs"),
}


# ---- archives ----

def tar_bytes(members, fmt=tarfile.PAX_FORMAT, mode="w"):
    """A tar of (TarInfo, data) pairs, without the padding to a 10 KiB record."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for info, data in members:
            info.mtime = MTIME
            t.addfile(info, io.BytesIO(data) if data is not None else None)
        end = t.offset
    raw = buf.getvalue()[:end] + b"\0" * 1024
    if mode == "w":
        return raw
    import bz2, gzip, lzma
    if mode == "gz":
        return gzip.compress(raw, mtime=0)
    if mode == "bz2":
        return bz2.compress(raw)
    return lzma.compress(raw)


def ti(name, kind=tarfile.REGTYPE, data=b"", mode=0o644, link=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.linkname = link
    if kind == tarfile.REGTYPE:
        info.size = len(data)
        return info, data
    return info, None


def zip_bytes(entries, compression=zipfile.ZIP_DEFLATED):
    """A zip of (name, data, mode) entries; a name ending in '/' is a directory."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, data, mode in entries:
            zi = zipfile.ZipInfo(name, (2023, 11, 14, 22, 13, 20))
            zi.create_system = 3
            zi.external_attr = (mode & 0xFFFF) << 16
            if name.endswith("/"):
                zi.external_attr |= 0x10
            zi.compress_type = compression
            z.writestr(zi, data)
    return buf.getvalue()


def zip64_bytes(entries):
    """A small zip with zip64 extra fields and end records (zipfile's limits lowered at the end)."""
    buf = io.BytesIO()
    limits = zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT
    z = zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED)
    try:
        for name, data, mode in entries:
            zi = zipfile.ZipInfo(name, (2023, 11, 14, 22, 13, 20))
            zi.create_system = 3
            zi.external_attr = (mode & 0xFFFF) << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            with z.open(zi, "w", force_zip64=True) as f:
                f.write(data)
        zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = 0, 0
        z.close()
    finally:
        zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = limits
    return buf.getvalue()


class _Unseekable(io.RawIOBase):
    def __init__(self):
        self.buf = bytearray()

    def writable(self):
        return True

    def write(self, b):
        self.buf += b
        return len(b)


def zip_streamed(entries):
    """A zip written to a pipe-like stream: sizes and CRCs in data descriptors after the data."""
    out = _Unseekable()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data, mode in entries:
            zi = zipfile.ZipInfo(name, (2023, 11, 14, 22, 13, 20))
            zi.external_attr = (mode & 0xFFFF) << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            with z.open(zi, "w") as f:
                f.write(data)
    return bytes(out.buf)


def zip_overlapping():
    """Two central directory entries sharing one local header (a zip bomb's trick)."""
    data = bytearray(zip_bytes([("a.txt", b"aaaa", 0o100644), ("b.txt", b"bbbb", 0o100644)],
                               zipfile.ZIP_STORED))
    cd = data.rfind(b"PK\x01\x02")  # the second central entry
    struct.pack_into("<I", data, cd + 42, 0)  # its local header offset -> the first's
    return bytes(data)


def extract_seeds():
    D, L, H = tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE
    tree = [ti("pkg", D, mode=0o755), ti("pkg/__init__.py", data=b"x = 1\n"),
            ti("pkg/run.sh", data=b"#!/bin/sh\n", mode=0o755), ti("pkg/link", L, link="__init__.py"),
            ti("pkg/hard", H, link="pkg/__init__.py"), ti("./top.txt", data=b"top\n"),
            ti("deep/a/b/c/d.txt", data=b"d")]
    seeds = {
        "tree.tar": tar_bytes(tree),
        "tree-gnu.tar": tar_bytes(tree, tarfile.GNU_FORMAT),
        "tree-ustar.tar.gz": tar_bytes(tree, tarfile.USTAR_FORMAT, "gz"),
        "tree.tar.bz2": tar_bytes(tree[:3], mode="bz2"),
        "tree.tar.xz": tar_bytes(tree[:3], mode="xz"),
        "zip-deflated.zip": zip_bytes([("pkg/", b"", 0o40755), ("pkg/__init__.py", b"x = 1\n", 0o100644),
                                       ("pkg/tool", b"#!/bin/sh\n", 0o100755),
                                       ("pkg/ln", b"__init__.py", 0o120777)]),
        "zip-stored.zip": zip_bytes([("a.txt", b"hello", 0o100644), ("b/c.txt", b"c" * 64, 0o100600)],
                                    zipfile.ZIP_STORED),
        "zip-overlap.zip": zip_overlapping(),
        "zip64.zip": zip64_bytes([("a/", b"", 0o40755), ("a/b.txt", b"zip64\n", 0o100644)]),
        "zip-streamed.zip": zip_streamed([("s.txt", b"streamed\n", 0o100644), ("t.txt", b"", 0o100600)]),
        "long-names.tar": tar_bytes([ti("d" * 60 + "/" + "e" * 60 + "/" + "f" * 60, data=b"long"),
                                     ti("l" * 120, L, link="d" * 60 + "/" + "e" * 60 + "/" + "f" * 60)]),
        "long-names-gnu.tar": tar_bytes([ti("g" * 120, data=b"gnu"), ti("h" * 110, H, link="g" * 120)],
                                        tarfile.GNU_FORMAT),
        # What the policy refuses: each is a seed for the refusal's neighbourhood.
        "dotdot.tar": tar_bytes([ti("../evil", data=b"x")]),
        "absolute.tar": tar_bytes([ti("/etc/evil", data=b"x")]),
        "symlink-out.tar": tar_bytes([ti("up", L, link="../../outside"), ti("up/x", data=b"x")]),
        "symlink-chain.tar": tar_bytes([ti("a", L, link="b/.."), ti("b", L, link="."),
                                        ti("c", L, link="a/../../x")]),
        "symlink-abs.tar": tar_bytes([ti("abs", L, link="/etc/passwd")]),
        "hardlink-out.tar": tar_bytes([ti("h", H, link="../outside/sentinel")]),
        "duplicate.tar": tar_bytes([ti("f", data=b"1"), ti("f", data=b"2"), ti("f/g", data=b"3")]),
        "setuid.tar": tar_bytes([ti("s", data=b"x", mode=0o6755), ti("d", D, mode=0o1777)]),
        "special.tar": tar_bytes([ti("fifo", tarfile.FIFOTYPE), ti("dev", tarfile.CHRTYPE)]),
        "zip-dotdot.zip": zip_bytes([("../z", b"x", 0o100644), ("ok", b"y", 0o100644)]),
    }
    return seeds


def wheel_zip(files, compression=zipfile.ZIP_DEFLATED):
    return zip_bytes([(n, d.encode() if isinstance(d, str) else d, 0o100644) for n, d in files],
                     compression)


def wheel_seeds():
    di = "demo-1.0.dist-info"
    wheel = "Wheel-Version: 1.0\nGenerator: make_seeds\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    meta = ("Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nRequires-Python: >=3.8\n"
            "Requires-Dist: requests (>=2.0)\nRequires-Dist: six ; extra == 'x'\n"
            "Summary: a\n  folded summary\nRequires-Dist: numpy>=1.20;\n python_version>='3.8'\n\nbody\n")
    good = [("demo/__init__.py", "x = 1\n"), (f"{di}/METADATA", meta), (f"{di}/WHEEL", wheel),
            (f"{di}/RECORD", "demo/__init__.py,,\n")]
    return {
        "demo.whl": wheel_zip(good),
        "stored.whl": wheel_zip(good, zipfile.ZIP_STORED),
        "labelled.whl": b"Other_Pkg-2.0-py3-none-any.whl\n" + wheel_zip(
            [("other_pkg-2.0.dist-info/METADATA", "Name: Other-Pkg\nVersion: 2.0\n"),
             ("other_pkg-2.0.dist-info/WHEEL", "Wheel-Version: 1.9\n")]),
        "two-dist-infos.whl": wheel_zip(good + [("demo-2.0.dist-info/METADATA", "Name: demo\n")]),
        "no-wheel.whl": wheel_zip([(f"{di}/METADATA", "Name: demo\nVersion: 1.0\n")]),
        "wheel-2.whl": wheel_zip([(f"{di}/METADATA", meta), (f"{di}/WHEEL", "Wheel-Version: 2.0\n")]),
        "mismatch.whl": wheel_zip([("other-1.0.dist-info/METADATA", meta),
                                   ("other-1.0.dist-info/WHEEL", wheel)]),
        "no-version.whl": wheel_zip([(f"{di}/METADATA", "Name: demo\n"), (f"{di}/WHEEL", wheel)]),
        "overlap.whl": zip_overlapping(),
        "zip64.whl": zip64_bytes([(n, d.encode(), 0o100644) for n, d in good]),
        "streamed.whl": zip_streamed([(n, d.encode(), 0o100644) for n, d in good]),
    }


def record_row(name, data):
    return f"{name},{record_hash(data)},{len(data)}\n"


def installable(files, di="demo-1.0.dist-info", tamper=None):
    """A wheel whose RECORD lists every file with its hash and size (`tamper`: a file whose row lies)."""
    files = [(n, d.encode() if isinstance(d, str) else d) for n, d in files]
    rows = "".join(record_row(n, d if n != tamper else b"other") for n, d in files)
    return wheel_zip(files + [(f"{di}/RECORD", rows + f"{di}/RECORD,,\n")])


def wheel_install_seeds():
    di = "demo-1.0.dist-info"
    wheel = "Wheel-Version: 1.0\nGenerator: make_seeds\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    meta = "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"
    base = [("demo/__init__.py", "x = 1\n"), (f"{di}/METADATA", meta), (f"{di}/WHEEL", wheel)]
    eps = "[console_scripts]\ndemo = demo:main\npip = demo:pip\n[gui_scripts]\ndemo-gui = demo.gui:run [x]\n"
    data = [("demo-1.0.data/scripts/tool", "#!python -u\nprint(1)\n"),
            ("demo-1.0.data/scripts/demo-script.py", "wrapper\n"),
            ("demo-1.0.data/headers/demo.h", "int x;\n"),
            ("demo-1.0.data/data/share/demo/x.txt", "x\n"),
            ("demo-1.0.data/platlib/demo_ext.py", "y = 2\n"),
            ("demo-1.0.data/purelib/demo_pure.py", "z = 3\n")]
    return {
        "plain.whl": installable(base),
        "scripts.whl": installable(base + [(f"{di}/entry_points.txt", eps)] + data),
        "platlib.whl": installable([("demo/__init__.py", "x = 1\n"), (f"{di}/METADATA", meta),
                                    (f"{di}/WHEEL", wheel.replace("true", "false"))]),
        "bad-hash.whl": installable(base, tamper="demo/__init__.py"),
        "unlisted.whl": wheel_zip(base + [(f"{di}/RECORD", record_row(*[(n, d.encode()) for n, d in base][0]))]),
        "pycache.whl": installable(base + [("demo/__pycache__/x.pyc", b"\0")]),
        "bad-data-key.whl": installable(base + [("demo-1.0.data/lib/x", "x")]),
        "conflict.whl": installable(base + [("demo-1.0.data/purelib/demo/__init__.py", "x = 2\n")]),
        "bad-entry-point.whl": installable(base + [(f"{di}/entry_points.txt", "[console_scripts]\n.x = a:b\n")]),
        "record-dotdot.whl": wheel_zip(base + [(f"{di}/RECORD", "../../evil,sha256=AAAA,1\n")]),
    }


ROWS = {
    "csv": nul("cid,x,name,ok\n1,2.5,hello,true\n-3,nan,\"a,b\",FALSE\n,,\"\",\n"
               "9223372036854775807,1e308,\"q\"\"uote\",true\r\n",
               "[[1,2],[1.5,NaN],[\"a\",\"b\"],[true,null]]"),
    "csv-multiline": nul("c\ufeff\"x y\",z\r\n\"line\nbreak\",-0.0\n\" lead\",inf\n\"\",-inf",
                         "[[\"\\u00e9\"],[-0.0]]"),
    "csv-one-column": nul("cv\n\n1\n\n", "[[null,1,null]]"),
    "csv-bad": "ca,b\n1\n\xff,2\n",
    "jsonl": nul("j{\"a\":1,\"b\":2.5,\"c\":\"x\",\"d\":true}\n\n"
                 "{\"a\":null,\"b\":NaN,\"c\":\"\\u00e9\\ud83d\\ude00\",\"d\":false}\n",
                 "[[1,2],[Infinity,-Infinity],[\"\u00e9\",null],[false,true]]"),
    "jsonl-mixed": "j{\"a\":1}\n{\"a\":\"s\"}\n{\"b\":[1]}\n",
    "columns-bad": nul("cn\n1\n", "[[1,\"x\"]] trailing"),
}


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
    targets = {
        "reqfile": REQFILE, "pep508": PEP508, "pep440": PEP440, "wheelname": WHEELNAME,
        "manifest": manifest_seeds(), "config": CONFIG, "job": job_seeds(),
        "extract": extract_seeds(), "wheel": wheel_seeds(), "wheel_install": wheel_install_seeds(),
        "rows": ROWS,
    }
    for target, seeds in targets.items():
        d = os.path.join(root, target)
        os.makedirs(d, exist_ok=True)
        for old in os.listdir(d):
            if old.startswith("seed-"):
                os.unlink(os.path.join(d, old))
        for name, data in seeds.items():
            with open(os.path.join(d, "seed-" + name), "wb") as f:
                f.write(data.encode() if isinstance(data, str) else data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
