"""Safe expressions for class definitions and derived features.

Project files are untrusted text, so nothing in them is ever compiled or run as
Python: an expression is parsed with ``ast`` and only an explicit allow-list of
node types is interpreted, vectorised with numpy over the columns of a table.
"""

from __future__ import annotations

import ast
import difflib
import operator
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlproj.errors import ConfigError

MAX_EXPRESSION_LENGTH = 2000
_MAX_DEPTH = 100
_FUNCTION_ORDER = ("log10", "log", "exp", "sqrt", "abs", "isnan", "where", "clip")
FUNCTIONS: frozenset[str] = frozenset(_FUNCTION_ORDER)
_ARITY = {"where": 3, "clip": 3}
_SIGNATURES = {"where": "where(condition, value_if_true, value_if_false)",
               "clip": "clip(x, lower, upper)"}
_ALLOWED = ("expressions may use column names, numbers, strings, arithmetic, comparisons, "
            "and/or/not, in [...], and the functions " + ", ".join(_FUNCTION_ORDER))

_BINOPS = {ast.Add: (np.add, "+"), ast.Sub: (np.subtract, "-"), ast.Mult: (np.multiply, "*"),
           ast.Div: (np.true_divide, "/"), ast.FloorDiv: (np.floor_divide, "//"),
           ast.Mod: (np.remainder, "%"), ast.Pow: (np.power, "**")}
_CMPOPS = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt,
           ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge}
_UFUNCS = {"log10": np.log10, "log": np.log, "exp": np.exp, "sqrt": np.sqrt, "abs": np.abs}
# Operators people bring from pandas/numpy; a pointer to the supported spelling helps.
_OPERATOR_HINTS = {ast.BitAnd: ("&", "and"), ast.BitOr: ("|", "or"), ast.Invert: ("~", "not"),
                   ast.BitXor: ("^", None), ast.MatMult: ("@", None), ast.LShift: ("<<", None),
                   ast.RShift: (">>", None), ast.Is: ("is", "=="), ast.IsNot: ("is not", "!=")}
_NODE_NAMES = {
    ast.Attribute: "attribute access", ast.Subscript: "indexing", ast.Lambda: "a lambda",
    ast.ListComp: "a comprehension", ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension", ast.GeneratorExp: "a comprehension",
    ast.JoinedStr: "an f-string", ast.NamedExpr: "an assignment expression",
    ast.Dict: "a dict literal", ast.Set: "a set literal", ast.Starred: "a starred argument",
    ast.List: "a list outside 'in [...]'", ast.Tuple: "a tuple outside 'in (...)'",
    ast.IfExp: "a conditional expression",
}
_NODE_HINTS = {ast.IfExp: "write where(condition, value_if_true, value_if_false) instead"}
# Keywords that can never start or continue an expression, so a bare one can only be a
# column name (SDSS's `class` is the usual case); `for`, `if`, `lambda` etc. stay keywords
# so that comprehensions and lambdas get their own clear error.
_BARE_KEYWORDS = frozenset({"class", "def", "from", "import", "global", "nonlocal", "pass",
                            "return", "with", "as", "assert", "break", "continue", "del",
                            "elif", "except", "finally", "raise", "try", "while"})


def _show(text: str) -> str:
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in " ".join(text.split()))
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass(frozen=True)
class Expression:
    text: str
    names: frozenset[str]
    context: str
    _tree: ast.Expression | None = field(default=None, repr=False, compare=False)
    _order: tuple[str, ...] = field(default=(), repr=False, compare=False)

    def check_columns(self, columns: Iterable[str]) -> None:
        """Raise ConfigError if the expression refers to a column not in `columns`."""
        columns = [str(c) for c in columns]
        known = set(columns)
        for name in self._order or sorted(self.names):
            if name in known:
                continue
            close = difflib.get_close_matches(name, columns, n=3, cutoff=0.6)
            if close:
                hint = "did you mean " + " or ".join(repr(c) for c in close)
                if any(not c.isidentifier() for c in close):
                    hint += "; column names that are not Python identifiers must be written in backticks, e.g. `u-g`"
            else:
                shown = ", ".join(columns[:10]) + (", ..." if len(columns) > 10 else "")
                hint = f"the catalogue has the columns {shown}" if columns else "the catalogue has no columns"
            raise ConfigError(f'expression "{_show(self.text)}" refers to column {name!r}, '
                              "which is not in the catalogue", where=self.context, hint=hint)

    def evaluate(self, table: Any) -> np.ndarray:
        """Evaluate on a pandas DataFrame or a Mapping of column name to 1-D array."""
        tree = self._tree if self._tree is not None else parse_expression(self.text, context=self.context)._tree
        if hasattr(table, "columns"):
            columns, n = list(table.columns), len(table)
        elif isinstance(table, Mapping):
            columns = list(table.keys())
            n = len(next(iter(table.values()))) if table else 0
        else:
            raise TypeError(f"cannot evaluate an expression on {type(table).__name__}")
        self.check_columns(columns)
        labels = {str(c): c for c in columns}  # a DataFrame may have non-string labels
        values = {name: self._column(table[labels[name]], name) for name in self.names}
        try:
            with np.errstate(all="ignore"):
                result = np.asarray(_Evaluator(self, values).eval(tree.body))
        except (TypeError, ValueError, ArithmeticError) as exc:
            raise ConfigError(f'expression "{_show(self.text)}" cannot be evaluated on this catalogue: {exc}',
                              where=self.context,
                              hint="arithmetic and functions need numeric columns; text columns "
                                   "can only be compared with ==, !=, <, >, in [...]") from None
        if result.ndim == 0:
            return np.full(n, result[()])
        if result.shape != (n,):
            raise ConfigError(f'expression "{_show(self.text)}" gives {result.shape[0]} values for a '
                              f"catalogue of {n} rows", where=self.context)
        return result

    def _column(self, values: Any, name: str) -> np.ndarray:
        if hasattr(values, "columns"):
            raise ConfigError(f"column {name!r} appears more than once in the catalogue", where=self.context)
        if hasattr(values, "to_numpy"):
            kind = getattr(values.dtype, "kind", "O")
            if kind in "iuf":  # also pandas' nullable Int64/Float64, whose missing value is pd.NA
                arr = values.to_numpy(dtype=np.float64, na_value=np.nan)
            elif kind == "b":  # unknown counts as False, as for missing text in comparisons
                arr = values.to_numpy(dtype=bool, na_value=False)
            else:
                arr = values.to_numpy(dtype=object)
        else:
            arr = np.asarray(values)
        if arr.ndim != 1:
            raise ConfigError(f"column {name!r} is not one-dimensional", where=self.context)
        # Integers become float64 like every constant: no overflow surprises, no
        # "integers to negative powers" errors, and no Python big-ints from object columns.
        if arr.dtype.kind in "iu":
            return arr.astype(np.float64)
        if arr.dtype.kind in "US":
            return arr.astype(object)
        if arr.dtype == object:
            missing = _missing(arr)
            if not any(isinstance(v, (str, bytes)) for v in arr[~missing]):
                try:
                    return np.where(missing, np.nan, arr).astype(np.float64)
                except (TypeError, ValueError):
                    pass
        return arr


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return value != value
    return type(value).__name__ in ("NAType", "NaTType")


_missing_ufunc = np.frompyfunc(_is_missing, 1, 1)


def _missing(arr: np.ndarray) -> np.ndarray:
    return _missing_ufunc(arr).astype(bool) if arr.size else np.zeros(arr.shape, bool)


def _is_text(value: Any) -> bool:
    return isinstance(value, (str, bytes)) or (isinstance(value, np.ndarray) and value.dtype.kind in "OUS")


class _Evaluator:
    def __init__(self, expr: Expression, columns: dict[str, np.ndarray]):
        self.expr, self.columns = expr, columns

    def fail(self, message: str) -> ConfigError:
        return ConfigError(f'expression "{_show(self.expr.text)}" {message}', where=self.expr.context)

    def eval(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return _constant(node.value)
        if isinstance(node, ast.Name):
            return self.columns[node.id]
        if isinstance(node, ast.BinOp):
            # A flat sum or product (u + g + r + ...) is a chain down the left operands: walked in a
            # loop, so that its length is not a depth (only the length limit bounds it).
            chain = _left_chain(node)
            left = self.eval(chain[0].left)
            for link in chain:
                right = self.eval(link.right)
                function, symbol = _BINOPS[type(link.op)]
                if _is_text(left) or _is_text(right):
                    # Also keeps `'%0999999999d' % x` (str formatting) from allocating gigabytes.
                    raise self.fail(f"does arithmetic ({symbol!r}) on text, which is not possible")
                left = function(left, right)
            return left
        if isinstance(node, ast.UnaryOp):
            value = self.eval(node.operand)
            if isinstance(node.op, ast.Not):
                return np.logical_not(self.truth(value, "not"))
            if _is_text(value):
                raise self.fail("uses a sign (+/-) on text, which is not possible")
            return np.negative(value) if isinstance(node.op, ast.USub) else np.positive(value)
        if isinstance(node, ast.BoolOp):
            word = "and" if isinstance(node.op, ast.And) else "or"
            combine = np.logical_and if word == "and" else np.logical_or
            result = self.truth(self.eval(node.values[0]), word)
            for value in node.values[1:]:
                result = combine(result, self.truth(self.eval(value), word))
            return result
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Call):
            return self.call(node.func.id, [self.eval(a) for a in node.args])
        raise AssertionError(f"unchecked node {type(node).__name__}")  # parse_expression rejects these

    def truth(self, value: Any, word: str) -> Any:
        if _is_text(value):
            raise self.fail(f"uses {word!r} on text; compare the text first, e.g. class == 'STAR'")
        return value

    def compare(self, node: ast.Compare) -> Any:
        result, left = True, self.eval(node.left)
        for op, comparator in zip(node.ops, node.comparators):
            if isinstance(op, (ast.In, ast.NotIn)):
                options = [_constant(_literal(e)) for e in comparator.elts]
                hit: Any = False
                for option in options:
                    hit = np.logical_or(hit, _compare(operator.eq, left, option))
                # Missing values are neither in nor not in the list (see _compare).
                outcome = hit if isinstance(op, ast.In) else np.logical_and(~np.asarray(hit), ~_missing_of(left))
                right = None  # never used: 'in' is the only operator of its comparison
            else:
                right = self.eval(comparator)
                outcome = _compare(_CMPOPS[type(op)], left, right)
            result = np.logical_and(result, outcome)
            left = right
        return result

    def call(self, name: str, args: list[Any]) -> Any:
        if name == "isnan":
            (x,) = args
            return _missing_of(x) if _is_text(x) else np.isnan(x)
        if name == "where":
            cond, a, b = args
            return np.where(self.truth(cond, "where"), a, b)
        if name == "clip":
            return np.clip(*args)
        return _UFUNCS[name](*args)


def _left_chain(node: ast.BinOp) -> list[ast.BinOp]:
    """The binary operations along the left operands of `node`, innermost (evaluated first) first:
    `a + b - c` is Sub(Add(a, b), c), so [Add, Sub]."""
    chain = []
    while isinstance(node, ast.BinOp):
        chain.append(node)
        node = node.left
    return chain[::-1]


def _constant(value: Any) -> Any:
    if isinstance(value, bool):
        return np.bool_(value)
    if isinstance(value, (int, float)):
        try:
            return np.float64(float(value))
        except OverflowError:  # an integer literal too big for a float
            return np.float64(np.inf)
    return value


def _literal(node: ast.AST) -> Any:
    if isinstance(node, ast.UnaryOp):
        return -node.operand.value if isinstance(node.op, ast.USub) else node.operand.value
    return node.value


def _missing_of(value: Any) -> Any:
    """Missing entries of text; numbers keep IEEE nan semantics and constants are never missing."""
    if isinstance(value, np.ndarray):
        return _missing(value) if value.dtype == object else np.zeros(value.shape, bool)
    return np.False_


def _compare(op: Any, left: Any, right: Any) -> Any:
    """Compare elementwise; a missing value in text compares False under every operator.

    That is SQL's rule rather than IEEE's (where nan != x is True): a row whose class is
    unknown must not fall into a class defined as ``class != 'STAR'``.
    """
    missing = np.logical_or(_missing_of(left), _missing_of(right))
    if not np.any(missing):
        return op(left, right)
    result = np.zeros(np.shape(missing), bool)
    valid = ~missing
    sub = [x[valid] if isinstance(x, np.ndarray) and x.shape else x for x in (left, right)]
    if result.shape:
        result[valid] = np.asarray(op(*sub), dtype=bool)
    return result


def _fail(text: str, context: str, message: str, hint: str | None = None) -> ConfigError:
    return ConfigError(f'expression "{_show(text)}" {message}', where=context, hint=hint)


def _substitute(text: str, context: str) -> tuple[str, list[int], dict[str, str], dict[str, str]]:
    """Replace `quoted` names and bare keyword column names by placeholder identifiers.

    Returns the new text, the original position of each of its characters, and for each
    placeholder the real column name and its original spelling (for error messages).
    """
    prefix = "_bq"
    while prefix in text:
        prefix += "q"
    out: list[str] = []
    positions: list[int] = []
    names: dict[str, str] = {}
    spellings: dict[str, str] = {}
    depth, i = 0, 0

    def emit(piece: str, start: int, pos: int | None = None) -> None:
        out.append(piece)
        positions.extend(range(start, start + len(piece)) if pos is None else [pos] * len(piece))

    def placeholder(name: str, spelling: str, start: int) -> None:
        key = f"{prefix}{len(names)}_"
        names[key], spellings[key] = name, spelling
        emit(f" {key} ", start, start)

    while i < len(text):
        c = text[i]
        if c in "'\"":
            quote = c * 3 if text.startswith(c * 3, i) else c
            j = i + len(quote)
            while j < len(text) and not text.startswith(quote, j) and (len(quote) == 3 or text[j] != "\n"):
                j += 2 if text[j] == "\\" else 1
            j = min(j + len(quote), len(text))
            emit(text[i:j], i)
            i = j
        elif c == "`":
            j = text.find("`", i + 1)
            if j < 0:
                raise _fail(text, context, f"has an unmatched backtick at column {i + 1}",
                            "write column names that are not Python identifiers as `name`")
            if j == i + 1:
                raise _fail(text, context, f"has an empty column name `` at column {i + 1}")
            placeholder(text[i + 1:j], text[i:j + 1], i)
            i = j + 1
        elif c.isidentifier() or c.isdigit():
            j = i + 1
            while j < len(text) and (text[j].isalnum() or text[j] == "_" or (c.isdigit() and text[j] == ".")):
                j += 1
            word = text[i:j]
            if word in _BARE_KEYWORDS:
                placeholder(word, word, i)
            else:
                emit(word, i)
            i = j
        else:
            if c in "([{":
                depth += 1
                if depth > _MAX_DEPTH:
                    raise _fail(text, context, f"is nested too deeply (more than {_MAX_DEPTH} levels)")
            elif c in ")]}":
                depth -= 1
            emit(" " if c in "\r\n\t\f\v" else c, i)  # newlines from YAML block scalars are just spaces
            i += 1
    return "".join(out), positions, names, spellings


def parse_expression(text: str, *, context: str) -> Expression:
    """Parse and check `text`; raise ConfigError if it is not an allowed expression."""
    if not isinstance(text, str):
        raise ConfigError(f"expected an expression as text, got {type(text).__name__} {text!r}", where=context)
    if not text.strip():
        raise ConfigError("the expression is empty", where=context)
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise _fail(text, context, f"is {len(text)} characters long; the limit is {MAX_EXPRESSION_LENGTH}")
    if "\x00" in text:
        raise _fail(text, context, "contains a null byte")
    source, positions, aliases, spellings = _substitute(text, context)
    stripped = source.lstrip()
    lead = len(source) - len(stripped)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarnings may be configured as errors
            tree = ast.parse(stripped, mode="eval")
    except SyntaxError as exc:
        if not exc.offset:  # CPython reports "unexpected end of input" at offset 0
            where = "at the end"
        else:
            earlier = stripped.split("\n")[:max((exc.lineno or 1) - 1, 0)]  # newlines in '''strings'''
            offset = lead + sum(len(line) + 1 for line in earlier) + exc.offset - 1
            where = f"at column {positions[min(offset, len(positions) - 1)] + 1}"
        raise _fail(text, context, f"is not valid syntax {where} ({exc.msg})",
                    "check quotes and parentheses; write column names that are not Python "
                    "identifiers in backticks, e.g. `u-g` or `2MASS_J`") from None
    except (RecursionError, MemoryError, ValueError, OverflowError):
        raise _fail(text, context, "is too complex to parse") from None

    def part(node: ast.AST) -> str:
        segment = ast.get_source_segment(stripped, node) or type(node).__name__
        for key, spelling in spellings.items():
            segment = segment.replace(f" {key} ", spelling).replace(key, spelling)
        return _show(segment)

    def forbid(what: str, hint: str | None = None) -> ConfigError:
        return _fail(text, context, f"uses {what}, which is not allowed; {_ALLOWED}", hint)

    order: list[str] = []

    def check(node: ast.AST, depth: int) -> None:
        if depth > _MAX_DEPTH:
            raise _fail(text, context, f"is nested too deeply (more than {_MAX_DEPTH} levels)")
        kind = type(node)
        if kind is ast.Constant:
            if isinstance(node.value, (bool, int, float, str)):
                return
            raise forbid(f"the constant {part(node)!r}")
        if kind is ast.Name:
            if node.id in aliases:
                node.id = aliases[node.id]
            elif node.id.startswith("__"):
                raise forbid(f"the name {node.id!r}")
            if node.id not in order:
                order.append(node.id)
            return
        if kind is ast.BinOp:  # a flat chain (u + g + r + ...) counts as one level, as evaluated
            chain = _left_chain(node)
            for link in reversed(chain):  # the outermost operator first, as a recursive walk would
                if type(link.op) in _OPERATOR_HINTS:
                    symbol, instead = _OPERATOR_HINTS[type(link.op)]
                    raise forbid(f"the operator {symbol!r} ({part(link)!r})",
                                 f"use {instead!r} instead" if instead else None)
            children = [chain[0].left] + [link.right for link in chain]
        elif kind in (ast.UnaryOp, ast.Compare):
            ops = node.ops if kind is ast.Compare else [node.op]
            for op in ops:
                if type(op) in _OPERATOR_HINTS:
                    symbol, instead = _OPERATOR_HINTS[type(op)]
                    raise forbid(f"the operator {symbol!r} ({part(node)!r})",
                                 f"use {instead!r} instead" if instead else None)
            children = [node.operand] if kind is ast.UnaryOp else [node.left]
            if kind is ast.Compare:
                if len(node.ops) > 1 and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops):
                    raise forbid(f"'in' inside a chained comparison ({part(node)!r})",
                                 "combine the comparisons with 'and'")
                for op, comparator in zip(node.ops, node.comparators):
                    if isinstance(op, (ast.In, ast.NotIn)):
                        if not isinstance(comparator, (ast.List, ast.Tuple)) or not all(
                                _is_plain_constant(e) for e in comparator.elts):
                            raise forbid(f"'in' with something other than a list of numbers or "
                                         f"strings ({part(comparator)!r})", "write e.g. class in ['STAR', 'QSO']")
                    else:
                        children.append(comparator)
        elif kind is ast.BoolOp:
            children = node.values
        elif kind is ast.Call:
            name = node.func.id if isinstance(node.func, ast.Name) else None
            if name not in FUNCTIONS:
                raise forbid(f"a call to {part(node.func)!r}",
                             "only log10, log, exp, sqrt, abs, isnan, where and clip can be called")
            if node.keywords:
                raise forbid(f"a keyword argument ({part(node.keywords[0])!r})")
            for arg in node.args:
                if isinstance(arg, ast.Starred):
                    raise forbid(f"a starred argument ({part(arg)!r})")
            want = _ARITY.get(name, 1)
            if len(node.args) != want:
                raise _fail(text, context, f"calls {name}() with {len(node.args)} argument"
                            f"{'' if len(node.args) == 1 else 's'}; {name} takes {want}",
                            f"write {_SIGNATURES.get(name, name + '(x)')}")
            children = node.args
        else:
            what = _NODE_NAMES.get(kind, f"a {kind.__name__} expression")
            detail = f"'.{spellings.get(node.attr, node.attr)}'" if kind is ast.Attribute else repr(part(node))
            raise forbid(f"{what} ({detail})", _NODE_HINTS.get(kind))
        for child in children:
            check(child, depth + 1)

    check(tree.body, 0)
    return Expression(text=text, names=frozenset(order), context=context, _tree=tree, _order=tuple(order))


def _is_plain_constant(node: ast.AST) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
        return isinstance(node, ast.Constant) and type(node.value) in (int, float)
    return isinstance(node, ast.Constant) and isinstance(node.value, (bool, int, float, str))
