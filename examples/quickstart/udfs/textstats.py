"""A UDF module shipped with -pyfs: the seed's use case 2."""


def word_count(line):
    return len(line.split())
