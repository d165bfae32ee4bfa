"""A single module file, shipped with add_python_file("helpers/strutil.py")."""


def initials(name):
    return "".join(part[0].upper() for part in name.split() if part)
