"""A small, Python-free expression language for stage entry rules and segments.

Grammar (keywords are case-insensitive)::

    rule       := or_expr
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | test
    test       := operand [ compare_op operand
                          | ["not"] "in" "[" literal ("," literal)* "]"
                          | "is" ["not"] "null" ]
    operand    := NUMBER | STRING | "true" | "false" | METRIC | "(" rule ")"
    compare_op := "=" | "==" | "!=" | "<" | "<=" | ">" | ">="

The parser is a hand-written recursive descent (no ``eval``), so a rule can only read
metrics. Rules are type-checked against :data:`kithkin.relationships.catalog.METRIC_TYPES`
and evaluated column-wise over a pandas DataFrame (one NumPy boolean per customer).

Null semantics are two-valued: a comparison or ``in`` test against a missing value is
false, a boolean metric that is missing counts as false, and ``not`` negates the result.
Use ``is null`` / ``is not null`` to test for missing values explicitly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from kithkin.errors import ValidationError
from kithkin.relationships.catalog import METRIC_TYPES, MetricType

BoolArray = npt.NDArray[np.bool_]


class RuleError(ValidationError):
    """A rule does not parse or does not type-check; ``position`` is a 0-based offset."""

    def __init__(self, problem: str, *, position: int, kind: str) -> None:
        self.problem, self.position, self.kind = problem, position, kind
        super().__init__(f"{problem} (at character {position + 1})")


# --- syntax tree -------------------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    value: float | str | bool
    position: int


@dataclass(frozen=True)
class Metric:
    name: str
    position: int


@dataclass(frozen=True)
class Compare:
    op: str
    left: Node
    right: Node
    position: int


@dataclass(frozen=True)
class InList:
    operand: Node
    values: tuple[Literal, ...]
    negate: bool
    position: int


@dataclass(frozen=True)
class NullCheck:
    operand: Node
    negate: bool
    position: int


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and" | "or"
    items: tuple[Node, ...]
    position: int


@dataclass(frozen=True)
class Not:
    item: Node
    position: int


Node = Literal | Metric | Compare | InList | NullCheck | BoolOp | Not

# --- tokens ------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
      | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<op><=|>=|==|!=|<|>|=)
      | (?P<punct>[()\[\],])
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "in", "is", "null", "true", "false"}


@dataclass(frozen=True)
class _Token:
    kind: str  # number string op punct name keyword end
    text: str
    position: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.lastgroup is None:
            start = len(text) - len(text[pos:].lstrip())
            raise RuleError(f"unexpected character {text[start]!r}", position=start,
                            kind="syntax")
        kind = match.lastgroup
        word = match.group(kind)
        start = match.start(kind)
        if kind == "name" and word.lower() in _KEYWORDS:
            kind, word = "keyword", word.lower()
        tokens.append(_Token(kind, word, start))
        pos = match.end()
    tokens.append(_Token("end", "", len(text.rstrip())))
    return tokens


# --- parser ------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.index = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def _advance(self) -> _Token:
        token = self.current
        self.index += 1
        return token

    def _accept(self, kind: str, text: str | None = None) -> _Token | None:
        token = self.current
        if token.kind == kind and (text is None or token.text == text):
            return self._advance()
        return None

    def _expect(self, kind: str, text: str, what: str) -> _Token:
        token = self._accept(kind, text)
        if token is None:
            raise self._error(f"expected {what}")
        return token

    def _error(self, problem: str) -> RuleError:
        token = self.current
        found = "end of rule" if token.kind == "end" else repr(token.text)
        return RuleError(f"{problem}, found {found}", position=token.position, kind="syntax")

    def parse(self) -> Node:
        if self.current.kind == "end":
            raise self._error("empty rule")
        node = self._or()
        if self.current.kind != "end":
            raise self._error("expected 'and', 'or' or the end of the rule")
        return node

    def _or(self) -> Node:
        first = self.current.position
        items = [self._and()]
        while self._accept("keyword", "or"):
            items.append(self._and())
        return items[0] if len(items) == 1 else BoolOp("or", tuple(items), first)

    def _and(self) -> Node:
        first = self.current.position
        items = [self._not()]
        while self._accept("keyword", "and"):
            items.append(self._not())
        return items[0] if len(items) == 1 else BoolOp("and", tuple(items), first)

    def _not(self) -> Node:
        token = self._accept("keyword", "not")
        if token is not None:
            return Not(self._not(), token.position)
        return self._test()

    def _test(self) -> Node:
        left = self._operand()
        token = self.current
        if token.kind == "op":
            self._advance()
            op = "=" if token.text == "==" else token.text
            return Compare(op, left, self._operand(), token.position)
        if token.kind == "keyword" and token.text in {"in", "not"}:
            negate = self._accept("keyword", "not") is not None
            self._expect("keyword", "in", "'in' after 'not'")
            return InList(left, self._list(), negate, token.position)
        if self._accept("keyword", "is"):
            negate = self._accept("keyword", "not") is not None
            self._expect("keyword", "null", "'null' after 'is'")
            return NullCheck(left, negate, token.position)
        return left

    def _list(self) -> tuple[Literal, ...]:
        self._expect("punct", "[", "'[' to open the list")
        values = [self._literal()]
        while self._accept("punct", ","):
            values.append(self._literal())
        self._expect("punct", "]", "',' or ']' in the list")
        return tuple(values)

    def _literal(self) -> Literal:
        node = self._operand()
        if not isinstance(node, Literal):
            raise RuleError("list items must be literals", position=_position(node),
                            kind="syntax")
        return node

    def _operand(self) -> Node:
        token = self.current
        if token.kind == "number":
            self._advance()
            return Literal(float(token.text), token.position)
        if token.kind == "string":
            self._advance()
            body = token.text[1:-1]
            return Literal(re.sub(r"\\(.)", r"\1", body), token.position)
        if token.kind == "keyword" and token.text in {"true", "false"}:
            self._advance()
            return Literal(token.text == "true", token.position)
        if token.kind == "name":
            self._advance()
            return Metric(token.text, token.position)
        if self._accept("punct", "("):
            node = self._or()
            self._expect("punct", ")", "')'")
            return node
        raise self._error("expected a metric, a number, a string, true/false or '('")


def _position(node: Node) -> int:
    return node.position


def parse(text: str) -> Node:
    """Parse ``text`` into a syntax tree; raises :class:`RuleError` with the position."""
    return _Parser(text).parse()


# --- type checking -----------------------------------------------------------------


def _literal_type(value: float | str | bool) -> MetricType:
    if isinstance(value, bool):
        return "bool"
    return "string" if isinstance(value, str) else "number"


def _type_of(node: Node, types: Mapping[str, MetricType]) -> MetricType:
    if isinstance(node, Literal):
        return _literal_type(node.value)
    if isinstance(node, Metric):
        if node.name not in types:
            raise RuleError(f"unknown metric {node.name!r}", position=node.position,
                            kind="unknown_metric")
        return types[node.name]
    if isinstance(node, Compare):
        left, right = _type_of(node.left, types), _type_of(node.right, types)
        _check_comparable(left, right, node.op, node.position)
        return "bool"
    if isinstance(node, InList):
        operand = _type_of(node.operand, types)
        for value in node.values:
            _check_comparable(operand, _literal_type(value.value), "in", value.position)
        return "bool"
    if isinstance(node, NullCheck):
        _type_of(node.operand, types)
        return "bool"
    items = node.items if isinstance(node, BoolOp) else (node.item,)
    for item in items:
        if _type_of(item, types) != "bool":
            raise RuleError(
                f"type mismatch: {_describe(item)} is not a condition; compare it, "
                "e.g. 'orders >= 2'", position=item.position, kind="type")
    return "bool"


def _check_comparable(left: MetricType, right: MetricType, op: str, position: int) -> None:
    same = left == right or {left, right} == {"date", "string"}
    if not same:
        raise RuleError(f"type mismatch: cannot compare {left} with {right} using {op!r}",
                        position=position, kind="type")
    if left == "bool" and op not in {"=", "!=", "in"}:
        raise RuleError(f"type mismatch: booleans only support = and !=, not {op!r}",
                        position=position, kind="type")


def _describe(node: Node) -> str:
    if isinstance(node, Metric):
        return f"metric {node.name!r}"
    if isinstance(node, Literal):
        return f"literal {node.value!r}"
    return "expression"


def check(node: Node, types: Mapping[str, MetricType] = METRIC_TYPES) -> None:
    """Type-check a parsed rule: it must be a condition over known metrics."""
    if _type_of(node, types) != "bool":
        raise RuleError(f"type mismatch: {_describe(node)} is not a condition",
                        position=node.position, kind="type")


def referenced_metrics(node: Node) -> list[str]:
    """Metric names a rule reads, in first-use order (the evidence it rests on)."""
    names: list[str] = []

    def walk(item: Node) -> None:
        if isinstance(item, Metric) and item.name not in names:
            names.append(item.name)
        elif isinstance(item, Compare):
            walk(item.left)
            walk(item.right)
        elif isinstance(item, InList | NullCheck):
            walk(item.operand)
        elif isinstance(item, BoolOp):
            for child in item.items:
                walk(child)
        elif isinstance(item, Not):
            walk(item.item)

    walk(node)
    return names


@dataclass(frozen=True)
class Rule:
    """A parsed, type-checked rule with its source text."""

    text: str
    tree: Node
    metrics: tuple[str, ...]

    @property
    def is_always_true(self) -> bool:
        return isinstance(self.tree, Literal) and self.tree.value is True


def compile_rule(text: str, types: Mapping[str, MetricType] = METRIC_TYPES) -> Rule:
    tree = parse(text)
    check(tree, types)
    return Rule(text=text, tree=tree, metrics=tuple(referenced_metrics(tree)))


# --- vectorised evaluation ---------------------------------------------------------


class Evaluator:
    """Evaluates rules over one metrics frame, converting each column only once."""

    def __init__(self, frame: pd.DataFrame,
                 types: Mapping[str, MetricType] = METRIC_TYPES) -> None:
        self.frame = frame
        self.types = types
        self.size = len(frame)
        self._columns: dict[str, tuple[npt.NDArray[Any], BoolArray]] = {}

    def column(self, name: str) -> tuple[npt.NDArray[Any], BoolArray]:
        """(values, is_null) for a metric; a metric absent from the frame is all null."""
        if name not in self._columns:
            kind = self.types.get(name, "number")
            if name not in self.frame.columns:
                values: npt.NDArray[Any] = np.full(self.size, np.nan)
                null = np.ones(self.size, dtype=bool)
            else:
                series = self.frame[name]
                null = series.isna().to_numpy()
                if kind == "number":
                    values = pd.to_numeric(series, errors="coerce").to_numpy(
                        dtype=float, na_value=np.nan)
                elif kind == "bool":
                    values = series.fillna(False).astype(bool).to_numpy()
                elif kind == "date":
                    values = pd.to_datetime(series, utc=True).dt.tz_localize(None).to_numpy()
                else:
                    values = series.astype(object).to_numpy()
            self._columns[name] = (values, null)
        return self._columns[name]

    def evaluate(self, rule: Rule | Node) -> BoolArray:
        tree = rule.tree if isinstance(rule, Rule) else rule
        result = self._eval(tree)
        if isinstance(result, tuple):
            values, null = result
            return np.asarray(values, dtype=bool) & ~null
        return result

    def _operand(self, node: Node) -> tuple[npt.NDArray[Any], BoolArray] | Literal:
        if isinstance(node, Literal):
            return node
        if isinstance(node, Metric):
            return self.column(node.name)
        return self.evaluate(node), np.zeros(self.size, dtype=bool)

    def _coerce(self, literal: Literal, metric: MetricType | None) -> Any:
        if metric == "date" and isinstance(literal.value, str):
            return pd.Timestamp(literal.value, tz="UTC").to_datetime64()
        return literal.value

    def _metric_type(self, node: Node) -> MetricType | None:
        return self.types.get(node.name) if isinstance(node, Metric) else None

    def _eval(self, node: Node) -> BoolArray | tuple[npt.NDArray[Any], BoolArray]:
        if isinstance(node, Literal):
            return np.full(self.size, bool(node.value))
        if isinstance(node, Metric):
            return self.column(node.name)
        if isinstance(node, BoolOp):
            parts = [self.evaluate(item) for item in node.items]
            combine = np.logical_and if node.op == "and" else np.logical_or
            return np.asarray(combine.reduce(parts), dtype=bool)
        if isinstance(node, Not):
            return ~self.evaluate(node.item)
        if isinstance(node, NullCheck):
            operand = self._operand(node.operand)
            null = (np.zeros(self.size, dtype=bool) if isinstance(operand, Literal)
                    else operand[1])
            return ~null if node.negate else null.copy()
        if isinstance(node, InList):
            values, null = self._as_column(node.operand)
            kind = self._metric_type(node.operand)
            wanted = [self._coerce(v, kind) for v in node.values]
            hit = np.isin(values, np.array(wanted, dtype=values.dtype if kind == "number"
                                           else object)) & ~null
            return ~hit & ~null if node.negate else hit
        return self._compare(node)

    def _as_column(self, node: Node) -> tuple[npt.NDArray[Any], BoolArray]:
        operand = self._operand(node)
        if isinstance(operand, Literal):
            return (np.full(self.size, operand.value, dtype=object),
                    np.zeros(self.size, dtype=bool))
        return operand

    def _compare(self, node: Compare) -> BoolArray:
        kind = self._metric_type(node.left) or self._metric_type(node.right)
        left = self._side(node.left, kind)
        right = self._side(node.right, kind)
        null = left[1] | right[1]
        a, b = left[0], right[0]
        with np.errstate(invalid="ignore"):
            if node.op == "=":
                result = a == b
            elif node.op == "!=":
                result = a != b
            elif node.op == "<":
                result = a < b
            elif node.op == "<=":
                result = a <= b
            elif node.op == ">":
                result = a > b
            else:
                result = a >= b
        return np.asarray(np.broadcast_to(result, (self.size,)), dtype=bool) & ~null

    def _side(self, node: Node, kind: MetricType | None) -> tuple[Any, BoolArray]:
        operand = self._operand(node)
        if isinstance(operand, Literal):
            return self._coerce(operand, kind), np.zeros(self.size, dtype=bool)
        values, null = operand
        if kind == "string":
            values = np.where(null, "", values)
        return values, null
