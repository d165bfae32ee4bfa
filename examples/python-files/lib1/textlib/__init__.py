"""A package in a directory, shipped with add_python_file("lib1")."""


def vowels(text):
    return sum(1 for c in text.lower() if c in "aeiou")
