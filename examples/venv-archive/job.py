"""The seed's use case 3: the UDFs need a Python the cluster does not have.

    virtualenv py37 --python=python3 --always-copy    (here: python -m venv --copies)
    zip -r venv.zip py37
    t_env.add_python_archive("venv.zip", "venv")
    t_env.get_config().set_python_executable("venv/py37/bin/python")

The worker interpreter path is relative to the archives dir, where workers run.
"""
import sys

from udfenv import DataTypes, TableEnvironment, udf


@udf(result_type=DataTypes.STRING())
def interpreter(x):
    return "%d.%d.%d" % sys.version_info[:3]


@udf(result_type=DataTypes.BIGINT())
def cube(x):
    return x ** 3


if __name__ == "__main__":
    numbers, venv_zip, venv_dir = sys.argv[1:4]
    t_env = TableEnvironment.create()
    t_env.add_python_archive(venv_zip, "venv")
    t_env.get_config().set_python_executable("venv/%s/bin/python" % venv_dir)
    t = t_env.from_csv(numbers)
    rows = list(t.select(t.n, cube(t.n).alias("cube"), interpreter(t.n).alias("python")).execute().collect())
    for r in rows:
        print("%3d  %6d  worker python %s" % (r.n, r.cube, r.python))
    print("client python %d.%d.%d" % sys.version_info[:3])
