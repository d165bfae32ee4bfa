# What udfenv needs to know of a worker interpreter to install requirements
# for it: its identity (part of the node-cache key), its PEP 508 marker
# values, its wheel compatibility tags in priority order, and where an
# install under a prefix puts each kind of file. Run once per interpreter as
# `python -c <this>` (the answer is remembered), on any Python 2.7 or 3.
# Prints two lines of JSON: see main().
# Embedded into the library at build time; tests run this file directly.
#
# The tags follow packaging.tags.sys_tags() as pip 23/24 vendor it, and the
# install scheme pip's `install --prefix`, so the native installer selects
# and places what pip would. Not covered: musllinux and macOS platforms.
import json
import os
import platform
import re
import sys
import sysconfig

PREFIX = "/@udfenv-prefix@"


def _var(name):
    try:
        return sysconfig.get_config_var(name)
    except (IOError, OSError):
        return None


def _impl():
    return getattr(getattr(sys, "implementation", None), "name", "cpython")


def _nodot(version):
    return "".join(str(p) for p in version)


def _implementation_version():
    info = getattr(getattr(sys, "implementation", None), "version", None)
    if info is None:
        return "0"
    v = "%d.%d.%d" % tuple(info[:3])
    if info[3] != "final":
        v += info[3][0] + str(info[4])
    return v


def markers():
    return {
        "os_name": os.name,
        "sys_platform": sys.platform,
        "platform_machine": platform.machine(),
        "platform_python_implementation": platform.python_implementation(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "python_full_version": platform.python_version(),
        "implementation_name": _impl(),
        "implementation_version": _implementation_version(),
    }


def _glibc():
    try:
        text = os.confstr("CS_GNU_LIBC_VERSION")
        m = re.match(r"([0-9]+)\.([0-9]+)", text.split()[1])
        return int(m.group(1)), int(m.group(2))
    except (AttributeError, OSError, ValueError, IndexError, TypeError):
        return None


def _manylinux(archs):
    glibc = _glibc()
    allowed = ("x86_64", "i686", "aarch64", "ppc64", "ppc64le", "s390x", "loongarch64",
               "riscv64")
    if glibc is None or not [a for a in archs if a in allowed]:
        return []
    too_old = (2, 4) if set(archs) & set(["x86_64", "i686"]) else (2, 16)
    maxima = [glibc] + [(major, 50) for major in range(glibc[0] - 1, 1, -1)]
    legacy = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}
    out = []
    for arch in archs:
        for major, top in maxima:
            low = too_old[1] if major == too_old[0] else -1
            for minor in range(top, low, -1):
                if (major, minor) > glibc:
                    continue
                out.append("manylinux_%d_%d_%s" % (major, minor, arch))
                if (major, minor) in legacy:
                    out.append("%s_%s" % (legacy[(major, minor)], arch))
    return out


def platforms():
    plat = re.sub(r"[.\- ]", "_", sysconfig.get_platform())
    if not plat.startswith("linux_"):
        return [plat]
    if sys.maxsize <= 2 ** 32:
        plat = {"linux_x86_64": "linux_i686", "linux_aarch64": "linux_armv8l"}.get(plat, plat)
    arch = plat.split("_", 1)[1]
    archs = {"armv8l": ["armv8l", "armv7l"]}.get(arch, [arch])
    return _manylinux(archs) + ["linux_" + a for a in archs]


def _cpython_abis(version):
    threading = debug = pymalloc = ucs4 = ""
    with_debug = _var("Py_DEBUG")
    if with_debug or (with_debug is None and hasattr(sys, "gettotalrefcount")):
        debug = "d"
    if version >= (3, 13) and _var("Py_GIL_DISABLED"):
        threading = "t"
    abis = []
    if version < (3, 8):
        with_pymalloc = _var("WITH_PYMALLOC")
        if with_pymalloc or with_pymalloc is None:
            pymalloc = "m"
        if version < (3, 3):
            size = _var("Py_UNICODE_SIZE")
            if size == 4 or (size is None and sys.maxunicode == 0x10FFFF):
                ucs4 = "u"
    elif debug:
        abis.append("cp%s%s" % (_nodot(version), threading))
    abis.insert(0, "cp%s%s%s%s%s" % (_nodot(version), threading, debug, pymalloc, ucs4))
    return abis


def _generic_abis():
    suffix = _var("EXT_SUFFIX") or ""
    parts = suffix.split(".")
    if len(parts) < 3:
        return []
    soabi = parts[1]
    if soabi.startswith("cpython"):
        abi = "cp" + soabi.split("-")[1]
    elif soabi.startswith("pypy"):
        abi = "-".join(soabi.split("-")[:2])
    elif soabi.startswith("graalpy"):
        abi = "-".join(soabi.split("-")[:3])
    else:
        abi = soabi
    return [re.sub(r"[.\- ]", "_", abi)] if abi else []


def _py_range(version):
    yield "py" + _nodot(version)
    yield "py%d" % version[0]
    for minor in range(version[1] - 1, -1, -1):
        yield "py" + _nodot((version[0], minor))


def tags():
    version = tuple(sys.version_info[:2])
    plats = platforms()
    name = {"cpython": "cp", "pypy": "pp", "ironpython": "ip", "jython": "jy"}.get(_impl(), _impl())
    interp_version = str(_var("py_version_nodot") or _nodot(version))
    out = []
    if name == "cp":
        interp = "cp" + _nodot(version)
        abis = _cpython_abis(version)
        out += ["%s-%s-%s" % (interp, abi, p) for abi in abis for p in plats]
        use_abi3 = version >= (3, 2) and "t" not in abis[0][2 + len(_nodot(version)):]
        if use_abi3:
            out += ["%s-abi3-%s" % (interp, p) for p in plats]
        out += ["%s-none-%s" % (interp, p) for p in plats]
        if use_abi3:
            for minor in range(version[1] - 1, 1, -1):
                out += ["cp%s-abi3-%s" % (_nodot((version[0], minor)), p) for p in plats]
        compat_interp = "cp" + interp_version
    else:
        interp = name + interp_version
        abis = _generic_abis() + ["none"]
        out += ["%s-%s-%s" % (interp, abi, p) for abi in abis for p in plats]
        compat_interp = "pp3" if name == "pp" else None
    out += ["%s-none-%s" % (py, p) for py in _py_range(version) for p in plats]
    if compat_interp:
        out.append(compat_interp + "-none-any")
    out += ["%s-none-any" % py for py in _py_range(version)]
    return out


def _in_venv():
    return sys.prefix != getattr(sys, "base_prefix", getattr(sys, "real_prefix", sys.prefix)) \
        or hasattr(sys, "real_prefix")


def scheme():
    """Where pip's `install --prefix PREFIX` puts each kind of file, relative to PREFIX."""
    version = tuple(sys.version_info[:2])
    preferred = getattr(sysconfig, "get_preferred_scheme", None)
    if version >= (3, 10) and preferred:
        name = preferred("prefix")
    else:
        name = "posix_prefix"
    if name in ("posix_local", "osx_framework_library"):
        name = "posix_prefix"
    paths = sysconfig.get_paths(name, vars={"base": PREFIX, "platbase": PREFIX,
                                            "installed_base": PREFIX,
                                            "installed_platbase": PREFIX})
    include = paths["include"]
    if _in_venv():
        include = os.path.join(PREFIX, "include", "site", "python%d.%d" % version)
    rel = {}
    for key, path in (("purelib", paths["purelib"]), ("platlib", paths["platlib"]),
                      ("scripts", paths["scripts"]), ("data", paths["data"]),
                      ("headers", include)):
        rel[key] = os.path.relpath(path, PREFIX)
    return rel


def main():
    """Two lines: the identity (small: read on every warm start), then the
    details only an install needs; the identity holds the details' digest."""
    import hashlib
    d = {"implementation": _impl(), "version": sys.version, "executable": sys.executable,
         "prefix": sys.prefix, "abiflags": getattr(sys, "abiflags", ""),
         "platform": sysconfig.get_platform(), "soabi": _var("SOABI") or "",
         "pip": None, "pip_file": None}
    try:
        import pip
        d["pip"] = pip.__version__
        d["pip_file"] = pip.__file__
    except Exception:
        pass
    try:
        details = {"markers": markers(), "tags": tags(), "scheme": scheme()}
    except Exception as e:  # the native installer is then declined; pip still works
        details = {"error": "%s: %s" % (type(e).__name__, e)}
    text = json.dumps(details, sort_keys=True)
    d["details"] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    sys.stdout.write(json.dumps(d, sort_keys=True) + "\n" + text + "\n")


main()
