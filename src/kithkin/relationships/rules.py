"""Stage entry rules and segments: SQL boolean expressions over the metric catalogue.

A rule is a dialect-neutral SQL condition, parsed by sqlglot (never ``eval``), checked
against a whitelist of node types and typed against
:data:`kithkin.relationships.catalog.METRIC_TYPES`. The checked tree runs two ways:
:class:`Evaluator` over in-memory columns (NumPy; what the refresh uses) and
:func:`to_ibis` as an Ibis boolean column (DuckDB, PostgreSQL, PySpark).

Allowed: ``and or not``, ``= == != <> < <= > >=``, ``[not] in (…)`` or ``[…]`` with literal
items, ``[not] between``, ``is [not] null``, ``+ - * /`` on numbers, parentheses, numbers,
strings, ``true``/``false`` and metric names. Double-quoted text is a string (as in the
rules written before SQL), not a quoted name. Nothing else: no functions, subqueries,
casts or ``;``.

Nulls are two-valued: a test (comparison, ``in``, ``between``, a bool metric) on a missing
value is false and ``not`` negates that result, so ``not orders >= 2`` holds for a customer
without ``orders``. Written infix, ``x not in (…)`` and ``x not between …`` are tests in
their own right and false on a missing ``x``. Arithmetic on a missing value, or a division
by zero, gives a missing value. Use ``is null`` / ``is not null`` to test for one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlglot import Token, Tokenizer, TokenType, exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.parser import Parser

from kithkin.errors import ValidationError
from kithkin.relationships.catalog import METRIC_TYPES, MetricType
from kithkin.relationships.columns import as_flags

if TYPE_CHECKING:
    import ibis.expr.types as ir

BoolArray = npt.NDArray[np.bool_]

_COMPARE: dict[type[exp.Expr], Callable[[Any, Any], Any]] = {
    exp.EQ: lambda a, b: a == b, exp.NEQ: lambda a, b: a != b,
    exp.LT: lambda a, b: a < b, exp.LTE: lambda a, b: a <= b,
    exp.GT: lambda a, b: a > b, exp.GTE: lambda a, b: a >= b,
}
_OP_TEXT: dict[type[exp.Expr], str] = {exp.EQ: "=", exp.NEQ: "!=", exp.LT: "<",
                                       exp.LTE: "<=", exp.GT: ">", exp.GTE: ">="}
_ARITHMETIC: dict[type[exp.Expr], Callable[[Any, Any], Any]] = {
    exp.Add: lambda a, b: a + b, exp.Sub: lambda a, b: a - b,
    exp.Mul: lambda a, b: a * b, exp.Div: lambda a, b: a / b,
}
_IBIS_TYPES: dict[MetricType, str] = {"number": "float64", "string": "string",
                                      "bool": "boolean", "date": "timestamp"}


class RuleError(ValidationError):
    """A rule does not parse or does not type-check; ``position`` is a 0-based offset."""

    def __init__(self, problem: str, *, position: int, kind: str) -> None:
        self.problem, self.position, self.kind = problem, position, kind
        super().__init__(f"{problem} (at character {position + 1})")


class _RuleParser(Parser):
    def _negate_range(self, this: exp.Expr | None = None) -> exp.Expr | None:
        # marks `x NOT IN …` / `x NOT BETWEEN …`, which sqlglot otherwise builds exactly
        # like `NOT x IN …`: the two differ on a missing x (false vs true)
        negated = super()._negate_range(this)
        if isinstance(negated, exp.Not):
            negated.meta["infix"] = True
        return negated


# --- parsing and checking ----------------------------------------------------------


def parse(text: str) -> tuple[exp.Expr, list[Token]]:
    """The syntax tree of one SQL expression, and its tokens (for error positions)."""
    try:
        tokens = Tokenizer().tokenize(text)
    except TokenError as exc:
        quote = max(text.rfind("'"), text.rfind('"'))
        raise RuleError("unterminated string" if quote >= 0 else f"cannot read: {exc}",
                        position=max(quote, 0), kind="syntax") from exc
    if not tokens:
        raise RuleError("empty rule", position=0, kind="syntax")
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            raise RuleError("a rule is one expression: ';' is not allowed",
                            position=token.start, kind="syntax")
    try:
        trees = _RuleParser().parse(tokens, text)
    except ParseError as exc:
        raise _syntax_error(exc, text, tokens) from exc
    tree = trees[0] if len(trees) == 1 else None
    if tree is None:
        raise RuleError("empty rule", position=0, kind="syntax")
    return tree, tokens


def _syntax_error(exc: ParseError, text: str, tokens: list[Token]) -> RuleError:
    error = exc.errors[0] if exc.errors else {}
    near = str(error.get("highlight") or "")
    line, column = int(error.get("line") or 1), int(error.get("col") or 1)
    end = sum(len(part) + 1 for part in text.split("\n")[:line - 1]) + column - 1
    position = max(end - len(near) + 1, 0)
    problem = re.sub(r"<class '[\w.]*?(\w+)'>", r"\1", str(error.get("description", exc)))
    if tokens[-1].start == position and problem.startswith(("Expecting", "Required")):
        wanted = (f"expected {problem.split(' ', 1)[1]!r}" if problem.startswith("Expecting")
                  else f"expected more after {near!r}")
        return RuleError(f"{wanted}, found end of rule", position=len(text.rstrip()),
                         kind="syntax")
    return RuleError(f"{problem}, found {near!r}", position=position, kind="syntax")


def _start(node: exp.Expr) -> int:
    """The offset of the first name or literal in ``node`` (0 if it has none)."""
    return min((int(n.meta["start"]) for n in node.walk() if "start" in n.meta), default=0)


def _end(node: exp.Expr) -> int:
    return max((int(n.meta["end"]) for n in node.walk() if "end" in n.meta), default=0)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_literal(node: exp.Expr) -> bool:
    return isinstance(node, exp.Literal | exp.Boolean) or (
        isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal)
        and not node.this.is_string)


class _Checker:
    """Walks a tree once: rejects what is not whitelisted, types every value, records
    the metrics read, and turns a string compared with a date into a timestamp cast."""

    def __init__(self, tokens: list[Token], types: Mapping[str, MetricType]) -> None:
        self.tokens, self.types = tokens, types
        self.metrics: list[str] = []

    def fail(self, problem: str, node: exp.Expr, kind: str = "type") -> RuleError:
        return RuleError(problem, position=_start(node), kind=kind)

    def operator(self, node: exp.Expr) -> int:
        """Offset of the operator token of a binary node: the first after its left side."""
        after = _end(node.this)
        return next((t.start for t in self.tokens if t.start > after), _start(node))

    def condition(self, node: exp.Expr, what: str = "the rule") -> None:
        if self.value(node) != "bool":
            name = (f"metric {node.name!r}" if isinstance(node, exp.Column)
                    else "a number" if isinstance(node, exp.Literal) else what)
            raise self.fail(f"type mismatch: {name} is not a condition; compare it, "
                            "e.g. 'orders >= 2'", node)

    def value(self, node: exp.Expr) -> MetricType:
        if isinstance(node, exp.Paren):
            return self.value(node.this)
        if isinstance(node, exp.Boolean):
            return "bool"
        if isinstance(node, exp.Literal):
            if not node.is_string and not _is_number(node.this):
                raise self.fail(f"{node.this!r} is not a number", node, "syntax")
            return "string" if node.is_string else "number"
        if isinstance(node, exp.Cast) and node.meta.get("date"):
            return "date"  # a string literal compared with a date, cast by this checker
        if isinstance(node, exp.Column):
            return self.metric(node)
        if isinstance(node, exp.Neg):
            if self.value(node.this) != "number":
                raise self.fail("type mismatch: '-' needs a number", node)
            return "number"
        if isinstance(node, tuple(_ARITHMETIC)):
            for side in (node.this, node.expression):
                if self.value(side) != "number":
                    raise RuleError("type mismatch: arithmetic needs numbers",
                                    position=self.operator(node), kind="type")
            return "number"
        if isinstance(node, exp.And | exp.Or):
            self.condition(node.this, "the left side")
            self.condition(node.expression, "the right side")
            return "bool"
        if isinstance(node, exp.Not):
            self.condition(node.this)
            return "bool"
        if isinstance(node, tuple(_COMPARE)):
            self.comparable(node, node.this, node.expression, self.operator(node))
            return "bool"
        if isinstance(node, exp.In):
            return self.in_list(node)
        if isinstance(node, exp.Between):
            for bound in (node.args["low"], node.args["high"]):
                self.comparable(node, node.this, bound, self.operator(node), ordered=True)
            return "bool"
        if isinstance(node, exp.Is):
            if not isinstance(node.expression, exp.Null):
                raise self.fail("only 'is null' and 'is not null' are allowed", node,
                                "syntax")
            self.value(node.this)
            return "bool"
        if isinstance(node, exp.Null):
            raise RuleError("null is never equal to anything: use 'is null'",
                            position=self.locate(node, "NULL"), kind="syntax")
        raise self.rejected(node)

    def rejected(self, node: exp.Expr) -> RuleError:
        """What is not whitelisted, named by its keyword (or function) and found there."""
        node = node.this if isinstance(node, exp.Subquery) else node
        if isinstance(node, exp.Alias):  # `orders >= 2 x`: a second word after a value
            return RuleError(f"unexpected {node.alias!r} after {node.this.sql()!r}",
                             position=_start(node.args["alias"]), kind="syntax")
        word = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()
                if isinstance(node, exp.Func) else node.key).upper()
        position = self.locate(node, word)
        for token, after in zip(self.tokens, [*self.tokens[1:], None], strict=True):
            if token.start == position and token.text.upper() == word:
                called = after is not None and after.token_type == TokenType.L_PAREN
                word = f"function {token.text}()" if called else token.text.upper()
        return RuleError(f"{word} is not allowed in a rule", position=position, kind="syntax")

    def locate(self, node: exp.Expr, word: str) -> int:
        """Offset of the token ``word`` nearest to ``node`` (for nodes sqlglot does not
        place: keywords, functions, true/false/null)."""
        start = _start(node)
        at = [t.start for t in self.tokens if t.text.upper() == word]
        return min(at, key=lambda offset: abs(offset - start), default=start)

    def metric(self, node: exp.Column) -> MetricType:
        if node.table:
            raise self.fail(f"qualified name {node.sql()!r} is not allowed", node, "syntax")
        name = node.name
        if name not in self.types:
            raise self.fail(f"unknown metric {name!r}", node, "unknown_metric")
        if name not in self.metrics:
            self.metrics.append(name)
        return self.types[name]

    def in_list(self, node: exp.In) -> MetricType:
        extra = next((key for key in ("query", "unnest", "field") if node.args.get(key)), None)
        if extra is not None:
            raise self.fail(f"'in' needs a list of literals, not a {extra}", node, "syntax")
        if not node.expressions:
            raise self.fail("'in' needs at least one value", node, "syntax")
        for item in node.expressions:
            if not _is_literal(item):
                raise self.fail("list items must be literals", item, "syntax")
            self.comparable(node, node.this, item, _start(item), op="in")
        return "bool"

    def comparable(self, parent: exp.Expr, left: exp.Expr,
                   right: exp.Expr, position: int, *, op: str | None = None,
                   ordered: bool = False) -> None:
        kinds = [self.value(left), self.value(right)]
        op = op or ("between" if ordered else _OP_TEXT[type(parent)])
        for side, kind, other in ((left, kinds[0], kinds[1]), (right, kinds[1], kinds[0])):
            if kind == "string" and other == "date" and isinstance(side, exp.Literal):
                side.replace(_timestamp(side))
                kinds = ["date", "date"]
        if kinds[0] != kinds[1]:
            raise RuleError(f"type mismatch: cannot compare {kinds[0]} with {kinds[1]} "
                            f"using {op!r}", position=position, kind="type")
        if kinds[0] == "bool" and (ordered or op not in {"=", "!=", "in"}):
            raise RuleError(f"type mismatch: booleans only support = and !=, not {op!r}",
                            position=position, kind="type")


def _timestamp(literal: exp.Literal) -> exp.Cast:
    try:
        pd.Timestamp(literal.this)
    except ValueError as exc:
        raise RuleError(f"{literal.this!r} is not a date (use 'YYYY-MM-DD')",
                        position=_start(literal), kind="type") from exc
    cast = exp.Cast(this=literal.copy(), to=exp.DataType.build("timestamp"))
    cast.meta.update(literal.meta, date=True)
    return cast


def _quoted_names_as_strings(tree: exp.Expr) -> exp.Expr:
    def convert(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Column) and not node.table and node.this.quoted:
            literal = exp.Literal.string(node.name)
            literal.meta.update(node.this.meta)
            return literal
        return node
    return tree.transform(convert, copy=False)


@dataclass(frozen=True)
class Rule:
    """A parsed, whitelisted, type-checked rule with its source text."""

    text: str
    tree: exp.Expr
    metrics: tuple[str, ...]

    @property
    def is_always_true(self) -> bool:
        tree = self.tree.unnest()
        return isinstance(tree, exp.Boolean) and tree.this is True


def compile_rule(text: str, types: Mapping[str, MetricType] = METRIC_TYPES) -> Rule:
    tree, tokens = parse(text)
    tree = _quoted_names_as_strings(tree)
    checker = _Checker(tokens, types)
    checker.condition(tree)
    return Rule(text=text, tree=tree, metrics=tuple(checker.metrics))


# --- vectorised evaluation (NumPy) -------------------------------------------------


def _literal(node: exp.Expr) -> Any:
    if isinstance(node, exp.Cast):
        return pd.Timestamp(node.this.this, tz="UTC").tz_localize(None).to_datetime64()
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Neg):
        return -_literal(node.this)
    return node.this if node.is_string else float(node.this)


def _either(a: Any, b: Any) -> Any:
    """``a | b`` for null masks, without a copy when one side is a literal's."""
    return a if b is np.False_ else b if a is np.False_ else a | b


def _infix_not(node: exp.Expr) -> bool:
    return isinstance(node, exp.Not) and bool(node.meta.get("infix"))


class Evaluator:
    """Evaluates rules over one metrics frame, converting each column only once."""

    def __init__(self, frame: pd.DataFrame,
                 types: Mapping[str, MetricType] = METRIC_TYPES) -> None:
        self.frame = frame
        self.types = types
        self.size = len(frame)
        self._columns: dict[str, tuple[npt.NDArray[Any], BoolArray]] = {}

    def column(self, name: str) -> tuple[npt.NDArray[Any], BoolArray]:
        """(values, is_null) for a metric; a metric absent from the frame is all null;
        missing strings read as '' so that comparisons stay defined."""
        if name not in self._columns:
            kind = self.types.get(name, "number")
            if name not in self.frame.columns:
                empty = {"number": np.nan, "bool": False, "string": "", "date": np.nan}
                values: npt.NDArray[Any] = np.full(self.size, empty[kind])
                values = values.astype("datetime64[ns]") if kind == "date" else values
                null = np.ones(self.size, dtype=bool)
            else:
                series = self.frame[name]
                null = series.isna().to_numpy()
                if kind == "number":
                    values = pd.to_numeric(series, errors="coerce").to_numpy(
                        dtype=float, na_value=np.nan)
                elif kind == "bool":
                    values = as_flags(series).to_numpy()
                elif kind == "date":
                    values = pd.to_datetime(series, utc=True).dt.tz_localize(None).to_numpy()
                else:
                    values = np.where(null, "", series.astype(object).to_numpy())
            self._columns[name] = (values, null)
        return self._columns[name]

    def evaluate(self, rule: Rule) -> BoolArray:
        return np.array(np.broadcast_to(self._test(rule.tree), (self.size,)), dtype=bool)

    def _test(self, node: exp.Expr) -> BoolArray:
        """A condition as a plain boolean array: never null (two-valued)."""
        if isinstance(node, exp.Paren):
            return self._test(node.this)
        if isinstance(node, exp.And | exp.Or):
            combine = np.logical_and if isinstance(node, exp.And) else np.logical_or
            return np.asarray(combine(self._test(node.this), self._test(node.expression)))
        if _infix_not(node):
            values, null = self._test_with_null(node.this)
            return np.asarray(~values & ~null, dtype=bool)
        if isinstance(node, exp.Not):
            return ~self._test(node.this)
        if isinstance(node, exp.Is):
            return np.broadcast_to(self._value(node.this)[1], (self.size,)).copy()
        values, null = self._test_with_null(node)
        return np.asarray(values & ~null, dtype=bool)

    def _test_with_null(self, node: exp.Expr) -> tuple[Any, Any]:
        """A test before the nulls are removed: (outcome, operand missing)."""
        if isinstance(node, exp.In):
            values, null = self._value(node.this)
            wanted = [_literal(item) for item in node.expressions]
            return pd.Series(values).isin(wanted).to_numpy(), null
        if isinstance(node, exp.Between):
            values, null = self._value(node.this)
            (low, low_null), (high, high_null) = (self._value(node.args["low"]),
                                                  self._value(node.args["high"]))
            return (values >= low) & (values <= high), null | low_null | high_null
        if isinstance(node, tuple(_COMPARE)):
            (a, a_null), (b, b_null) = self._value(node.this), self._value(node.expression)
            with np.errstate(invalid="ignore"):
                return _COMPARE[type(node)](a, b), _either(a_null, b_null)
        return self._value(node)  # a bool metric or literal

    def _value(self, node: exp.Expr) -> tuple[Any, Any]:
        """(values, null) of a value: arrays, or a scalar and ``np.False_`` for a literal."""
        if isinstance(node, exp.Paren):
            return self._value(node.this)
        if isinstance(node, exp.Column):
            return self.column(node.name)
        if _is_literal(node) or isinstance(node, exp.Cast):
            return _literal(node), np.False_
        if isinstance(node, exp.Neg):
            values, null = self._value(node.this)
            return -values, null
        if isinstance(node, tuple(_ARITHMETIC)):
            (a, a_null), (b, b_null) = self._value(node.this), self._value(node.expression)
            null = _either(a_null, b_null)
            if isinstance(node, exp.Div):
                null = null | (b == 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                return _ARITHMETIC[type(node)](a, b), null
        return self._test(node), np.False_  # a condition used as a value: `(x > 1) = true`


# --- Ibis --------------------------------------------------------------------------


def _stamp(node: exp.Expr, like: Any) -> pd.Timestamp:
    """A date literal for an Ibis comparison, time-zone aware iff the column is."""
    stamp = pd.Timestamp(node.this.this, tz="UTC")
    kind = like.type() if hasattr(like, "type") else None
    naive = kind is None or not kind.is_timestamp() or kind.timezone is None
    return stamp.tz_localize(None) if naive else stamp


def to_ibis(rule: Rule, table: ir.Table,
            types: Mapping[str, MetricType] = METRIC_TYPES) -> ir.BooleanValue:
    """The rule as an Ibis boolean over ``table``, never null (as the evaluator's result).

    A metric missing from ``table`` reads as all null, as in :class:`Evaluator`."""
    import ibis  # here, so that loading a stage model does not load the analytics engine

    def value(node: exp.Expr, like: Any = None) -> Any:
        if isinstance(node, exp.Paren):
            return value(node.this, like)
        if isinstance(node, exp.Column):
            if node.name in table.columns:
                return table[node.name]
            return ibis.null(_IBIS_TYPES[types.get(node.name, "number")])
        if isinstance(node, exp.Cast):
            return ibis.literal(_stamp(node, like))
        if _is_literal(node):
            return ibis.literal(_literal(node))
        if isinstance(node, exp.Neg):
            return -value(node.this)
        if isinstance(node, exp.Div):
            return value(node.this) / value(node.expression).nullif(0)
        if isinstance(node, tuple(_ARITHMETIC)):
            return _ARITHMETIC[type(node)](value(node.this), value(node.expression))
        return test(node)

    def raw(node: exp.Expr) -> Any:
        """A test that may still be null (on a missing operand), as SQL has it."""
        if isinstance(node, exp.In):
            operand = value(node.this)
            return operand.isin([_stamp(item, operand) if isinstance(item, exp.Cast)
                                 else _literal(item) for item in node.expressions])
        if isinstance(node, exp.Between):
            operand = value(node.this)
            return operand.between(value(node.args["low"], operand),
                                   value(node.args["high"], operand))
        if isinstance(node, tuple(_COMPARE)):
            left, right = node.this, node.expression
            a = value(left) if not isinstance(left, exp.Cast) else None
            b = value(right, a)
            return _COMPARE[type(node)](value(left, b) if a is None else a, b)
        return value(node)

    def test(node: exp.Expr) -> Any:
        if isinstance(node, exp.Paren):
            return test(node.this)
        if isinstance(node, exp.And):
            return test(node.this) & test(node.expression)
        if isinstance(node, exp.Or):
            return test(node.this) | test(node.expression)
        if _infix_not(node):
            return (~raw(node.this)).fill_null(False)
        if isinstance(node, exp.Not):
            return ~test(node.this)
        if isinstance(node, exp.Is):
            return value(node.this).isnull()
        return raw(node).fill_null(False)

    result: ir.BooleanValue = test(rule.tree)
    return result
