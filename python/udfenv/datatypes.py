"""Data types and rows of the udfenv Table API.

Columns have one of four wire types (docs/protocol.md): BIGINT (64-bit
signed), DOUBLE, STRING, BOOLEAN, every value nullable. The narrower SQL
names are accepted and widened: INT, SMALLINT and TINYINT are BIGINT, FLOAT
is DOUBLE, VARCHAR/CHAR are STRING. ROW types exist only as the result type
of a function given to Table.map / a table function: a table's columns are
always flat.

This module runs in the client and in every worker (Python 3.6 to 3.13,
standard library only).
"""

WIRE_TYPES = ("BIGINT", "DOUBLE", "STRING", "BOOLEAN")

BIGINT_MIN = -(1 << 63)
BIGINT_MAX = (1 << 63) - 1


class DataType(object):
    """Base of every type. `wire` is the column type on the wire, None for ROW."""

    wire = None

    def __ne__(self, other):
        return not self == other


class AtomicType(DataType):
    """A column type. `name` is the name it was declared with (INT), `wire`
    the column type it becomes (BIGINT)."""

    def __init__(self, name, wire, nullable=True):
        self.name = name
        self.wire = wire
        self.nullable = bool(nullable)

    def __eq__(self, other):
        return isinstance(other, AtomicType) and other.wire == self.wire

    def __hash__(self):
        return hash(self.wire)

    def __repr__(self):
        return "%s()" % self.name

    __str__ = __repr__


class RowField(object):
    def __init__(self, name, data_type, description=None):
        if not isinstance(name, str) or not name:
            raise ValueError("a ROW field name must be a non-empty str, not %r" % (name,))
        self.name = name
        self.data_type = to_data_type(data_type, "field %r" % name)
        if not isinstance(self.data_type, AtomicType):
            raise ValueError("ROW field %r: nested ROW types are not supported; columns are "
                             "BIGINT, DOUBLE, STRING or BOOLEAN" % name)
        self.description = description

    def __eq__(self, other):
        return isinstance(other, RowField) and (other.name, other.data_type) == (self.name, self.data_type)

    def __ne__(self, other):
        return not self == other

    def __repr__(self):
        return "FIELD(%r, %r)" % (self.name, self.data_type)


class RowType(DataType):
    def __init__(self, fields, nullable=True):
        fields = list(fields)
        for f in fields:
            if not isinstance(f, RowField):
                raise ValueError("DataTypes.ROW takes a list of DataTypes.FIELD(name, type), got %r" % (f,))
        names = [f.name for f in fields]
        dup = sorted(set(n for n in names if names.count(n) > 1))
        if dup:
            raise ValueError("ROW type has duplicate field names: %s" % ", ".join(dup))
        if not fields:
            raise ValueError("a ROW type needs at least one field")
        self.fields = fields
        self.nullable = bool(nullable)

    def field_names(self):
        return [f.name for f in self.fields]

    def field_types(self):
        return [f.data_type for f in self.fields]

    def __eq__(self, other):
        return isinstance(other, RowType) and other.fields == self.fields

    def __hash__(self):
        return hash(tuple((f.name, f.data_type.wire) for f in self.fields))

    def __repr__(self):
        return "ROW([%s])" % ", ".join(repr(f) for f in self.fields)

    __str__ = __repr__


class DataTypes(object):
    """Factory of data types, as in PyFlink: DataTypes.BIGINT(), ...

    All integer types are 64-bit BIGINT on the wire and FLOAT is DOUBLE;
    `nullable` is accepted for compatibility (every column is nullable)."""

    @staticmethod
    def BIGINT(nullable=True):
        return AtomicType("BIGINT", "BIGINT", nullable)

    @staticmethod
    def INT(nullable=True):
        return AtomicType("INT", "BIGINT", nullable)

    @staticmethod
    def SMALLINT(nullable=True):
        return AtomicType("SMALLINT", "BIGINT", nullable)

    @staticmethod
    def TINYINT(nullable=True):
        return AtomicType("TINYINT", "BIGINT", nullable)

    @staticmethod
    def DOUBLE(nullable=True):
        return AtomicType("DOUBLE", "DOUBLE", nullable)

    @staticmethod
    def FLOAT(nullable=True):
        return AtomicType("FLOAT", "DOUBLE", nullable)

    @staticmethod
    def STRING(nullable=True):
        return AtomicType("STRING", "STRING", nullable)

    @staticmethod
    def VARCHAR(length=None, nullable=True):
        return AtomicType("VARCHAR", "STRING", nullable)

    @staticmethod
    def CHAR(length=None, nullable=True):
        return AtomicType("CHAR", "STRING", nullable)

    @staticmethod
    def BOOLEAN(nullable=True):
        return AtomicType("BOOLEAN", "BOOLEAN", nullable)

    @staticmethod
    def ROW(row_fields=(), nullable=True):
        return RowType(row_fields, nullable)

    @staticmethod
    def FIELD(name, data_type, description=None):
        return RowField(name, data_type, description)


_BY_NAME = {
    "BIGINT": DataTypes.BIGINT, "INT": DataTypes.INT, "INTEGER": DataTypes.INT,
    "SMALLINT": DataTypes.SMALLINT, "TINYINT": DataTypes.TINYINT,
    "DOUBLE": DataTypes.DOUBLE, "FLOAT": DataTypes.FLOAT,
    "STRING": DataTypes.STRING, "VARCHAR": DataTypes.VARCHAR, "CHAR": DataTypes.CHAR,
    "BOOLEAN": DataTypes.BOOLEAN, "BOOL": DataTypes.BOOLEAN,
}


def to_data_type(t, what):
    """A DataType from a DataType or a type name ("BIGINT", "int", ...)."""
    if isinstance(t, DataType):
        return t
    if isinstance(t, str) and t.strip().upper() in _BY_NAME:
        return _BY_NAME[t.strip().upper()]()
    raise ValueError("%s: %r is not a data type (use DataTypes.BIGINT(), DataTypes.DOUBLE(), "
                     "DataTypes.STRING(), DataTypes.BOOLEAN(), ...)" % (what, t))


def wire_type(wire):
    """The DataType shown for a wire type name."""
    return _BY_NAME[wire]()


class Row(tuple):
    """A row: a tuple whose fields may have names, as in PyFlink.

        Row(1, "x")              positional
        Row(id=1, name="x")      named (keyword order is kept)
        row.name, row[1], row["name"], row.as_dict()

    Equality and hashing are the tuple's (names are not compared). Rows that
    a job hands to a map/flat_map function, and rows collected from a job,
    are named with the table's column names.
    """

    _fields = None

    def __new__(cls, *args, **kwargs):
        if args and kwargs:
            raise TypeError("Row takes either positional values or keyword values, not both")
        if kwargs:
            row = tuple.__new__(cls, tuple(kwargs.values()))
            row.__dict__["_fields"] = tuple(kwargs)
            return row
        return tuple.__new__(cls, args)

    def __getattr__(self, name):
        fields = self._fields
        if fields is not None and not name.startswith("__"):
            try:
                return tuple.__getitem__(self, fields.index(name))
            except ValueError:
                pass
        if fields is None:
            raise AttributeError("this Row has no field names (it was made positionally): "
                                 "index it, row[0]")
        raise AttributeError("Row has no field %r (fields: %s)" % (name, ", ".join(fields)))

    def __setattr__(self, name, value):
        raise AttributeError("Row is immutable")

    def __getitem__(self, item):
        if isinstance(item, str):
            fields = self._fields
            if fields is not None and item in fields:
                return tuple.__getitem__(self, fields.index(item))
            raise KeyError(item)
        return tuple.__getitem__(self, item)

    def __call__(self, *values):
        """Row("a", "b")(1, 2) is Row(a=1, b=2): a row of names used as a factory."""
        names = tuple(self)
        if len(values) != len(names):
            raise ValueError("this Row factory takes %d values, got %d" % (len(names), len(values)))
        return _make_named(names, values)

    def as_dict(self, recursive=False):
        if self._fields is None:
            raise TypeError("as_dict() needs a Row with field names")
        d = {}
        for k, v in zip(self._fields, self):
            d[k] = v.as_dict(True) if recursive and isinstance(v, Row) and v._fields else v
        return d

    def __reduce__(self):
        if self._fields is None:
            return (Row, tuple(self))
        return (_make_named, (tuple(self._fields), tuple(self)))

    def __repr__(self):
        if self._fields is None:
            return "Row(%s)" % ", ".join(repr(v) for v in self)
        return "Row(%s)" % ", ".join("%s=%r" % kv for kv in zip(self._fields, self))

    __str__ = __repr__


def _make_named(names, values):
    row = tuple.__new__(Row, values)
    row.__dict__["_fields"] = tuple(names)
    return row


def row_class(names):
    """A Row subclass whose instances are named `names`, made fast:
    cls(iterable) is tuple.__new__(cls, iterable)."""
    return type("Row", (Row,), {"__slots__": (), "_fields": tuple(names), "__new__": tuple.__new__,
                                "__reduce__": lambda self: (_make_named, (self._fields, tuple(self))),
                                "__module__": Row.__module__})
