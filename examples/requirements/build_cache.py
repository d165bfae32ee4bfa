"""Build the offline package directory (the seed's `cached_dir`) without PyPI:
a wheel of pkgsrc/textnorm, made with the standard library only (a wheel is a
zip with a .dist-info directory: METADATA, WHEEL, RECORD).

    python3 build_cache.py CACHED_DIR
"""
import base64
import hashlib
import os
import sys
import zipfile

NAME, VERSION = "textnorm", "1.0"


def record_hash(data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode()


def main(out_dir):
    here = os.path.dirname(os.path.abspath(__file__))
    src = os.path.join(here, "pkgsrc", NAME)
    dist_info = "%s-%s.dist-info" % (NAME, VERSION)
    files = {}
    for name in sorted(os.listdir(src)):
        if name.endswith(".py"):
            with open(os.path.join(src, name), "rb") as f:
                files["%s/%s" % (NAME, name)] = f.read()
    files[dist_info + "/METADATA"] = ("Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (NAME, VERSION)).encode()
    files[dist_info + "/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: build_cache.py\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = "".join("%s,%s,%d\n" % (n, record_hash(d), len(d)) for n, d in files.items())
    files[dist_info + "/RECORD"] = (record + dist_info + "/RECORD,,\n").encode()
    os.makedirs(out_dir, exist_ok=True)
    wheel = os.path.join(out_dir, "%s-%s-py3-none-any.whl" % (NAME, VERSION))
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as z:
        for n, d in files.items():
            z.writestr(n, d)
    print("built %s" % wheel)


if __name__ == "__main__":
    main(sys.argv[1])
