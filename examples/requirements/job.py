"""The seed's use case 1: UDFs that need a third-party package, installed on
the workers offline from a directory of packages.

    t_env.set_python_requirements("requirements.txt", "cached_dir")
"""
import os
import sys

from udfenv import DataTypes, TableEnvironment, udf


@udf(result_type=DataTypes.STRING())
def normalized(title):
    import textnorm  # installed on the workers from cached_dir; not needed on the client
    return textnorm.normalize(title)


if __name__ == "__main__":
    titles, cached_dir = sys.argv[1:3]
    here = os.path.dirname(os.path.abspath(__file__))
    t_env = TableEnvironment.create()
    t_env.set_python_requirements(os.path.join(here, "requirements.txt"), cached_dir)
    t = t_env.from_csv(titles)
    for row in t.select(t.id, normalized(t.title).alias("normalized")).execute().collect():
        print("%d  %s" % (row.id, row.normalized))
