"""udfenv: run Python UDF jobs with their dependencies on every worker.

A PyFlink-like Table API (docs/jobs.md):

    from udfenv import TableEnvironment, DataTypes, udf

    @udf(result_type=DataTypes.BIGINT())
    def add_one(x):
        return x + 1

    if __name__ == "__main__":
        t_env = TableEnvironment.create()
        t = t_env.from_csv("in.csv")
        t.select(t.id, add_one(t.value).alias("v")).write_csv("out.csv")

Every module of this package imports on Python 3.6 to 3.13 with the
standard library only: the same package is the worker runtime
(udfenv._worker). The C extension udfenv._native is imported only when the
client needs it.
"""

from .expressions import Expression, col, lit
from .functions import UserDefinedFunction, udf, udtf
from .table import JobError, Table, TableConfig, TableEnvironment, TableResult, TableSchema
from .datatypes import DataType, DataTypes, Row

__all__ = [
    "TableEnvironment", "TableConfig", "Table", "TableResult", "TableSchema", "JobError",
    "DataTypes", "DataType", "Row", "udf", "udtf", "UserDefinedFunction", "col", "lit", "Expression",
]
