"""A package shipped as a zip (the run script zips lib2/ into lib2.zip)."""


def score(n_vowels, length):
    return round(n_vowels / length, 3) if length else 0.0
