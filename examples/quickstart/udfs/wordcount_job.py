"""Apply the word_count UDF to a data file read by relative path (the seed's use case 4).

Run inside a udfenv worker environment: the cwd is the archives dir, so the
data archive extracted to data/ is at data/data.txt.
"""
import sys

from textstats import word_count

with open("data/data.txt") as f:
    lines = [line.rstrip("\n") for line in f]
total = 0
for line in lines:
    n = word_count(line)
    total += n
    print("%3d  %s" % (n, line))
print("python %d.%d: %d lines, %d words" % (sys.version_info[:2] + (len(lines), total)))
