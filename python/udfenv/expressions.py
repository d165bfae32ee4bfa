"""Expressions of the Table API: column references, literals, operators and
UDF calls. They are checked (names, types) when a Table method uses them,
against that table's columns, and turned into the program nodes the worker
runtime evaluates (see plan.py for the node format).

Semantics (SQL's, as in Flink):
- a comparison or arithmetic with a NULL operand is NULL;
- & and | are three-valued: False & NULL is False, True | NULL is True;
- / is always DOUBLE; / and % by zero are NULL; % takes the dividend's sign;
- BIGINT arithmetic that leaves the 64-bit range fails the job.
"""

import math

from .datatypes import BIGINT_MAX, BIGINT_MIN, DataType, AtomicType, to_data_type

_NUMERIC = ("BIGINT", "DOUBLE")
_ARITH = {"+": "+", "-": "-", "*": "*", "/": "/", "%": "%"}
_COMPARE = ("==", "!=", "<", "<=", ">", ">=")
NULL = "NULL"  # the type of an untyped None literal; never a column type


class ExpressionError(ValueError):
    pass


class Expression(object):
    """Base of every expression. Python operators build new expressions;
    `and`, `or`, `not` and chained comparisons cannot (Python asks for a
    truth value): use &, |, ~ and parentheses."""

    __hash__ = None

    # --- operators ---------------------------------------------------------
    def __add__(self, o): return _Op("+", self, o)
    def __radd__(self, o): return _Op("+", o, self)
    def __sub__(self, o): return _Op("-", self, o)
    def __rsub__(self, o): return _Op("-", o, self)
    def __mul__(self, o): return _Op("*", self, o)
    def __rmul__(self, o): return _Op("*", o, self)
    def __truediv__(self, o): return _Op("/", self, o)
    def __rtruediv__(self, o): return _Op("/", o, self)
    def __mod__(self, o): return _Op("%", self, o)
    def __rmod__(self, o): return _Op("%", o, self)
    def __neg__(self): return _Op("neg", self)
    def __pos__(self): return self
    def __eq__(self, o): return _Op("==", self, o)
    def __ne__(self, o): return _Op("!=", self, o)
    def __lt__(self, o): return _Op("<", self, o)
    def __le__(self, o): return _Op("<=", self, o)
    def __gt__(self, o): return _Op(">", self, o)
    def __ge__(self, o): return _Op(">=", self, o)
    def __and__(self, o): return _Op("and", self, o)
    def __rand__(self, o): return _Op("and", o, self)
    def __or__(self, o): return _Op("or", self, o)
    def __ror__(self, o): return _Op("or", o, self)
    def __invert__(self): return _Op("not", self)

    def __bool__(self):
        raise TypeError("an expression has no truth value: combine conditions with &, | and ~ "
                        "(not and/or/not), with parentheses around each comparison: "
                        "(t.a > 1) & (t.b < 2)")

    __nonzero__ = __bool__

    def __iter__(self):
        raise TypeError("an expression is not iterable")

    # --- methods -----------------------------------------------------------
    def alias(self, name, *extra):
        if extra:
            raise ValueError("alias() takes one name; a function with a ROW result goes to Table.map")
        return _Alias(self, name)

    @property
    def is_null(self):
        return _Op("is_null", self)

    @property
    def is_not_null(self):
        return _Op("is_not_null", self)

    def __repr__(self):
        return "Expression(%s)" % self

    # Subclasses implement:
    #   __str__()      the expression as the user wrote it, for messages
    #   _resolve(ctx)  -> (node, type): ctx.schema is the table's columns
    #   _name()        the output name it keeps by itself, or None


class _Col(Expression):
    def __init__(self, name):
        if not isinstance(name, str) or not name:
            raise ValueError("a column name must be a non-empty str, not %r" % (name,))
        self.name = name

    def __str__(self):
        return self.name

    def _name(self):
        return self.name

    def _resolve(self, ctx):
        i = ctx.index(self.name)
        return {"col": i}, ctx.schema[i][1]


class _Lit(Expression):
    def __init__(self, value, data_type=None):
        self.value = value
        self.type = _literal_type(value, data_type)

    def __str__(self):
        return repr(self.value)

    def _name(self):
        return None

    def _resolve(self, ctx):
        v = self.value
        if self.type == "DOUBLE" and v is not None:
            v = float(v)
            if not math.isfinite(v):  # the plan is strict JSON
                v = "NaN" if v != v else ("Infinity" if v > 0 else "-Infinity")
        return {"lit": v, "type": self.type}, self.type


class _Op(Expression):
    def __init__(self, op, *args):
        self.op = op
        self.args = [_expr(a) for a in args]
        if op in _COMPARE:
            for a in self.args:
                if isinstance(a, _Lit) and a.value is None and a.type == NULL:
                    raise ExpressionError(
                        "%s: a comparison with None is always NULL; use .is_null or .is_not_null" % self)

    def __str__(self):
        a = [_paren(x) for x in self.args]
        if self.op == "neg":
            return "-%s" % a[0]
        if self.op == "not":
            return "~%s" % a[0]
        if self.op in ("is_null", "is_not_null"):
            return "%s.%s" % (a[0], self.op)
        return "%s %s %s" % (a[0], {"and": "&", "or": "|"}.get(self.op, self.op), a[1])

    def _name(self):
        return None

    def _resolve(self, ctx):
        nodes, types = _resolve_all(self.args, ctx)
        op = self.op
        if op in ("is_null", "is_not_null"):
            t = "BOOLEAN"
        elif NULL in types:
            raise ExpressionError("%s: give the type of the NULL literal: lit(None, DataTypes.BIGINT()), ..." % self)
        elif op in _ARITH or op == "neg":
            if not all(x in _NUMERIC for x in types):
                raise ExpressionError("%s: %s needs numbers (BIGINT or DOUBLE), got %s"
                                      % (self, "-" if op == "neg" else op, " and ".join(types)))
            t = "DOUBLE" if op == "/" or "DOUBLE" in types else "BIGINT"
        elif op in _COMPARE:
            if not (all(x in _NUMERIC for x in types) or types[0] == types[1]):
                raise ExpressionError("%s: cannot compare %s with %s" % (self, types[0], types[1]))
            t = "BOOLEAN"
        else:  # and, or, not
            if any(x != "BOOLEAN" for x in types):
                raise ExpressionError("%s: %s needs BOOLEAN operands, got %s"
                                      % (self, {"and": "&", "or": "|", "not": "~"}[op], " and ".join(types)))
            t = "BOOLEAN"
        return {"op": op, "args": nodes, "type": t, "text": str(self)}, t


class _Alias(Expression):
    def __init__(self, expr, name):
        if not isinstance(name, str) or not name:
            raise ValueError("alias() takes a non-empty str, not %r" % (name,))
        self.expr = _expr(expr)
        self.name = name

    def __str__(self):
        return "%s AS %s" % (self.expr, self.name)

    def _name(self):
        return self.name

    def _resolve(self, ctx):
        return self.expr._resolve(ctx)


class _FnCall(Expression):
    """f(args...) of a UDF: what a scalar call and a table-function call share."""

    def __init__(self, fn, args):
        self.fn = fn
        self.args = [_expr(a) for a in args]

    def __str__(self):
        return "%s(%s)" % (self.fn.name, ", ".join(str(a) for a in self.args))

    def _name(self):
        return None


class _Call(_FnCall):
    """A call of a scalar UDF (functions.UserDefinedFunction)."""

    def _resolve(self, ctx):
        nodes, types = _resolve_all(self.args, ctx)
        self.fn._check_args(types, str(self))
        rt = self.fn.result_type
        if not isinstance(rt, AtomicType):
            raise ExpressionError("%s: %s has a ROW result; give it to Table.map() (or a table function "
                                  "to Table.flat_map()) instead of using it in an expression" % (self, self.fn.name))
        return {"call": ctx.udf_index(self.fn, str(self)), "args": nodes, "type": rt.wire}, rt.wire


def _resolve_all(exprs, ctx):
    """The plan nodes and the types of `exprs`, in order."""
    nodes, types = [], []
    for e in exprs:
        n, t = e._resolve(ctx)
        nodes.append(n)
        types.append(t)
    return nodes, types


def _paren(e):
    return "(%s)" % e if isinstance(e, _Op) and e.op not in ("is_null", "is_not_null", "neg", "not") else str(e)


def _literal_type(value, data_type):
    if data_type is not None:
        dt = to_data_type(data_type, "lit(%r)" % (value,))
        if not isinstance(dt, AtomicType):
            raise ValueError("lit(): a literal cannot have a ROW type")
        t = dt.wire
        if value is None:
            return t
        ok = {"BIGINT": lambda v: type(v) is int, "DOUBLE": lambda v: type(v) in (int, float),
              "STRING": lambda v: isinstance(v, str), "BOOLEAN": lambda v: type(v) is bool}[t]
        if not ok(value):
            raise ValueError("lit(%r): the value is not a %s" % (value, t))
    elif value is None:
        return NULL
    elif isinstance(value, bool):
        t = "BOOLEAN"
    elif isinstance(value, int):
        t = "BIGINT"
    elif isinstance(value, float):
        t = "DOUBLE"
    elif isinstance(value, str):
        t = "STRING"
    else:
        raise ValueError("%r (%s) cannot be a literal: use an int, float, str, bool or None"
                         % (value, type(value).__name__))
    if t == "BIGINT" and not BIGINT_MIN <= value <= BIGINT_MAX:
        raise ValueError("literal %r is out of the BIGINT range (64-bit signed)" % (value,))
    if t == "STRING":
        try:
            value.encode("utf-8")
        except UnicodeError:
            raise ValueError("literal %r is not valid Unicode text (it holds a lone surrogate)" % (value,))
    return t


def _expr(v):
    if isinstance(v, Expression):
        return v
    if isinstance(v, DataType):
        raise ValueError("a data type (%r) is not an expression" % (v,))
    return _Lit(v)


def col(name):
    """A reference to the column `name` of the table the expression is used on."""
    return _Col(name)


def lit(value, data_type=None):
    """A literal: an int (BIGINT), float (DOUBLE), str (STRING), bool
    (BOOLEAN) or None (NULL; give data_type to use it as a column)."""
    return _Lit(value, data_type)
