"""The seed's use case 4: a UDF reads a data file shipped in an archive.

    zip data.zip data.txt
    t_env.add_python_archive("data.zip", "data")
    # in the UDF: open("data/data.txt")

Workers run in the archives dir, so the archive extracted to data/ is at
data/data.txt by relative path.
"""
import sys

from udfenv import DataTypes, TableEnvironment, udf

_stopwords = None


@udf(result_type=DataTypes.BIGINT())
def content_words(text):
    global _stopwords
    if _stopwords is None:  # once per worker
        with open("data/data.txt") as f:
            _stopwords = set(line.strip() for line in f)
    return sum(1 for w in text.lower().replace(",", " ").split() if w not in _stopwords)


if __name__ == "__main__":
    reviews, data_zip = sys.argv[1], sys.argv[2]
    t_env = TableEnvironment.create()
    t_env.add_python_archive(data_zip, "data")
    t = t_env.from_csv(reviews)
    with t.select(t.id, content_words(t.text).alias("content_words"), t.text).execute().collect() as rows:
        for row in rows:
            print("%2d  %d  %s" % (row.id, row.content_words, row.text))
