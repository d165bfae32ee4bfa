"""The seed's use case 2: UDFs that rely on the user's other libraries.

    t_env.add_python_file("/user/pyfile/1.py")
    t_env.add_python_file("/user/lib1")        # a directory
    t_env.add_python_file("/user/lib2.zip")    # a zip

The client needs the modules too (to import the UDFs): this job puts them on
its own sys.path; `udfenv run -pyfs ...` would do that for the client itself.
"""
import os
import sys

from udfenv import TableEnvironment

if __name__ == "__main__":
    people, lib2_zip, out = sys.argv[1:4]
    here = os.path.dirname(os.path.abspath(__file__))
    shipped = [os.path.join(here, "helpers/strutil.py"), os.path.join(here, "lib1"), lib2_zip,
               os.path.join(here, "udfs.py")]
    t_env = TableEnvironment.create()
    for path in shipped:
        t_env.add_python_file(path)
        sys.path.insert(0, os.path.dirname(path) if path.endswith(".py") else path)
    from udfs import initials, vowel_score

    t_env.get_config().set("parallelism.default", "2")
    t = t_env.from_csv(people)
    result = t.select(t.id, initials(t.name).alias("initials"), vowel_score(t.name).alias("score")) \
              .write_csv(out, overwrite=True)
    print("%d rows -> %s" % (result.rows_out, out))
