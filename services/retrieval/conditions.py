"""The language of decision-tree branch conditions, and a safe evaluator for it.

A condition is a Python expression restricted to what a runbook author needs to describe an alert, for example
``severity == "critical" and memory_percent > 90``. Runbooks are data, possibly written by people we do not fully
trust, so conditions are never handed to ``eval``: they are parsed with :mod:`ast`, checked against a whitelist and
compiled into closures. The whitelist:

* names, looked up as keys of the alert context (``true``/``false``/``null`` are accepted as literals, because
  authors coming from JSON or YAML write them that way);
* literals: int, float, str, bool, None, a negative number, and lists or tuples of those;
* comparisons ``== != < <= > >= in``, ``not in``, chained (``0 < x <= 10``);
* ``and``, ``or``, ``not`` and parentheses.

Everything else (calls, attribute access, subscripts, arithmetic, lambdas, comprehensions, f-strings, ``:=``,
``is``...) is rejected by :func:`compile_condition` with a :class:`ConditionError` naming the construct, so a bad
runbook fails when it is loaded rather than in the middle of an incident.

Evaluation is three-valued because alert contexts are partial: a condition over a key the alert did not carry is
*unknown* (``None``), not false, and so is an ordering between values that cannot be ordered (``"high" < 3``).
``and``/``or``/``not`` follow Kleene's logic: ``False and unknown`` is False, ``True or unknown`` is True,
``not unknown`` is unknown.

Comparisons are forgiving about the shapes alerts arrive in: strings compare case-insensitively (``==``, ``!=``,
``in``, and orderings too, for consistency); a numeric string is a number when compared with a number
(``"92.5" > 90``), and two numeric strings are ordered as numbers; ``"true"``/``"false"`` strings equal the booleans.
``x in "text"`` is a case-insensitive substring test, ``x in mapping`` tests for a key. Equality between unrelated
types is simply False (``"high" == 3``); only orderings and ``in`` against a non-container are unknown. A name
used as a whole condition (``is_primary and ...``) is tested for truth: ``"false"``, ``"no"``, ``"0"``, ``""``,
``0``, ``None`` and empty lists are false.
"""

from __future__ import annotations

import ast
import enum
import functools
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeGuard

__all__ = ("Condition", "ConditionError", "compile_condition")


class ConditionError(ValueError):
    """A branch condition is not valid syntax, or uses a construct outside the condition language."""


class _Unknown(enum.Enum):
    """The value of a name the context does not have; kept apart from ``None``, which is a real JSON value."""

    UNKNOWN = enum.auto()


UNKNOWN: Final = _Unknown.UNKNOWN

Context = Mapping[str, Any]
Operand = Callable[[Context], object]
Predicate = Callable[[Context], bool | None]

MAX_DEPTH: Final = 100
"""Deepest AST nesting accepted; far beyond any real condition, well within Python's recursion limit."""
_LITERAL_NAMES: Final[Mapping[str, object]] = {"true": True, "false": False, "null": None}
_TRUE_WORDS: Final = frozenset({"true", "yes", "on", "y", "t"})
_FALSE_WORDS: Final = frozenset({"false", "no", "off", "n", "f", ""})
_NUMERIC = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_ORDERINGS: Final[Mapping[type[ast.cmpop], Callable[[Any, Any], Any]]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_ALLOWED_HINT: Final = (
    "conditions may only use context names, literals (numbers, strings, true/false/None and lists of them), "
    "comparisons (== != < <= > >= in, not in), and/or/not and parentheses"
)
_DESCRIPTIONS: Final[Mapping[type[ast.AST], str]] = {
    ast.Call: "a function call",
    ast.Attribute: "attribute access",
    ast.Subscript: "subscripting",
    ast.BinOp: "arithmetic",
    ast.Lambda: "a lambda",
    ast.ListComp: "a comprehension",
    ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a generator expression",
    ast.JoinedStr: "an f-string",
    ast.NamedExpr: "an assignment expression (:=)",
    ast.IfExp: "a conditional expression (x if c else y)",
    ast.Dict: "a dict literal",
    ast.Set: "a set literal (use a list)",
    ast.Starred: "unpacking (*)",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Slice: "a slice",
    ast.Compare: "a comparison used as a value",
    ast.BoolOp: "and/or used as a value",
    ast.UnaryOp: "a unary operator used as a value",
}


@dataclass(frozen=True, slots=True)
class Condition:
    """A compiled condition: evaluate it against any number of contexts without re-parsing."""

    text: str
    names: frozenset[str]
    """The context keys the condition reads."""
    _predicate: Predicate = field(repr=False, compare=False)

    def evaluate(self, context: Context) -> bool | None:
        """True or False, or None when the context cannot decide (a name is missing, or values are incomparable)."""
        return self._predicate(context)

    def missing(self, context: Context) -> list[str]:
        """The names the condition reads that ``context`` lacks, sorted, so a caller can ask for them."""
        return sorted(name for name in self.names if name not in context)


@functools.lru_cache(maxsize=4096)
def compile_condition(text: str) -> Condition:
    """Parse and check ``text`` once; runbooks repeat conditions and are evaluated on every request.

    Raises:
        ConditionError: ``text`` is not an expression, or uses something outside the condition language.
    """
    source = text.strip()
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        where = f" at column {exc.offset}" if exc.offset else ""
        raise ConditionError(f"condition {text!r} is not a valid expression: {exc.msg}{where}") from None
    if _depth(tree) > MAX_DEPTH:
        raise ConditionError(f"condition {text!r} nests more than {MAX_DEPTH} levels deep; simplify it")
    predicate = _Compiler(source).predicate(tree.body)
    names = frozenset(
        node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and node.id not in _LITERAL_NAMES
    )
    return Condition(text=text, names=names, _predicate=predicate)


# --- compilation ------------------------------------------------------------------------------------------------


def _depth(tree: ast.AST) -> int:
    """Nesting depth, measured without recursion so an absurd condition cannot overflow the stack."""
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


class _Compiler:
    """Turns a whitelisted AST into closures; anything unexpected is rejected with the offending source."""

    def __init__(self, source: str) -> None:
        self._source = source

    def predicate(self, node: ast.expr) -> Predicate:
        if isinstance(node, ast.BoolOp):
            parts = [self.predicate(value) for value in node.values]
            combine = _kleene_and if isinstance(node.op, ast.And) else _kleene_or
            return lambda ctx: combine(part(ctx) for part in parts)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            inner = self.predicate(node.operand)
            return lambda ctx: _kleene_not(inner(ctx))
        if isinstance(node, ast.Compare):
            return self._comparison(node)
        operand = self.operand(node)
        return lambda ctx: _truth(operand(ctx))

    def operand(self, node: ast.expr) -> Operand:
        if isinstance(node, ast.Name):
            return self._name(node.id)
        value = self._literal(node)
        return lambda _ctx: value

    def _name(self, name: str) -> Operand:
        if name in _LITERAL_NAMES:
            literal = _LITERAL_NAMES[name]
            return lambda _ctx: literal
        return lambda ctx: ctx.get(name, UNKNOWN)

    def _literal(self, node: ast.expr) -> object:
        if isinstance(node, ast.List | ast.Tuple):
            return tuple(self._scalar(element) for element in node.elts)
        return self._scalar(node)

    def _scalar(self, node: ast.expr) -> object:
        if isinstance(node, ast.Name) and node.id in _LITERAL_NAMES:
            return _LITERAL_NAMES[node.id]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            return self._signed_number(node)
        if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, str | int | float)):
            return node.value
        if isinstance(node, ast.Constant):
            raise self._reject(node, f"a {type(node.value).__name__} literal")
        if isinstance(node, ast.List | ast.Tuple):
            raise self._reject(node, "a nested list")
        raise self._reject(node, _DESCRIPTIONS.get(type(node), f"a {type(node).__name__} expression"))

    def _signed_number(self, node: ast.UnaryOp) -> int | float:
        value = node.operand.value if isinstance(node.operand, ast.Constant) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return -value if isinstance(node.op, ast.USub) else value
        raise self._reject(node, "arithmetic (a sign is allowed only on a number literal)")

    def _comparison(self, node: ast.Compare) -> Predicate:
        for op in node.ops:
            if isinstance(op, ast.Is | ast.IsNot):
                raise self._reject(node, "'is' (use == or != instead)")
        operands = [self.operand(operand) for operand in (node.left, *node.comparators)]
        ops = [type(op) for op in node.ops]

        def evaluate(ctx: Context) -> bool | None:
            values = [operand(ctx) for operand in operands]
            return _kleene_and(_compare(op, values[i], values[i + 1]) for i, op in enumerate(ops))

        return evaluate

    def _reject(self, node: ast.AST, what: str) -> ConditionError:
        segment = ast.get_source_segment(self._source, node) or ""
        column = getattr(node, "col_offset", 0) + 1
        return ConditionError(
            f"condition {self._source!r} uses {what}, which is not allowed (at column {column}: {segment!r}); "
            f"{_ALLOWED_HINT}"
        )


# --- three-valued logic -----------------------------------------------------------------------------------------


def _kleene_and(values: Iterable[bool | None]) -> bool | None:
    unknown = False
    for value in values:
        if value is False:
            return False
        unknown = unknown or value is None
    return None if unknown else True


def _kleene_or(values: Iterable[bool | None]) -> bool | None:
    unknown = False
    for value in values:
        if value is True:
            return True
        unknown = unknown or value is None
    return None if unknown else False


def _kleene_not(value: bool | None) -> bool | None:
    return None if value is None else not value


def _truth(value: object) -> bool | None:
    if value is UNKNOWN:
        return None
    if isinstance(value, str):
        word = value.strip().casefold()
        if word in _TRUE_WORDS or word in _FALSE_WORDS:
            return word in _TRUE_WORDS
        number = _as_number(word)
        return True if number is None else number != 0
    return bool(value)


# --- comparisons ------------------------------------------------------------------------------------------------


def _compare(op: type[ast.cmpop], left: object, right: object) -> bool | None:
    if left is UNKNOWN or right is UNKNOWN:
        return None
    if op is ast.Eq:
        return _equal(left, right)
    if op is ast.NotEq:
        return not _equal(left, right)
    if op is ast.In:
        return _contains(right, left)
    if op is ast.NotIn:
        return _kleene_not(_contains(right, left))
    return _order(_ORDERINGS[op], left, right)


def _equal(left: object, right: object) -> bool:
    left, right = _coerce(left, right, both_strings=False)
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold() == right.casefold()
    if _is_sequence(left) and _is_sequence(right):
        return len(left) == len(right) and all(_equal(a, b) for a, b in zip(left, right, strict=True))
    return left == right


def _contains(container: object, item: object) -> bool | None:
    if isinstance(container, str):
        if not isinstance(item, str):
            return None
        return item.casefold() in container.casefold()
    if _is_sequence(container) or isinstance(container, Mapping):
        return any(_equal(item, element) for element in container)
    return None


def _order(compare: Callable[[Any, Any], Any], left: object, right: object) -> bool | None:
    left, right = _coerce(left, right, both_strings=True)
    if isinstance(left, str) and isinstance(right, str):
        left, right = left.casefold(), right.casefold()
    if _is_sequence(left) and _is_sequence(right):
        left, right = tuple(left), tuple(right)
    try:
        return bool(compare(left, right))
    except TypeError:
        return None


def _coerce(left: object, right: object, *, both_strings: bool) -> tuple[object, object]:
    """Bring a string and a number (or bool) to the same type, so alert labels compare by meaning."""
    if isinstance(left, str) and isinstance(right, str):
        if both_strings:
            a, b = _as_number(left), _as_number(right)
            if a is not None and b is not None:
                return a, b
        return left, right
    if isinstance(left, str):
        return _coerce_string(left, right), right
    if isinstance(right, str):
        return left, _coerce_string(right, left)
    return left, right


def _coerce_string(text: str, other: object) -> object:
    if isinstance(other, bool):
        word = text.strip().casefold()
        return word in _TRUE_WORDS if word in _TRUE_WORDS or word in _FALSE_WORDS else text
    if isinstance(other, int | float):
        number = _as_number(text)
        return text if number is None else number
    return text


def _as_number(text: str) -> float | None:
    stripped = text.strip()
    return float(stripped) if _NUMERIC.fullmatch(stripped) else None


def _is_sequence(value: object) -> TypeGuard[Sequence[object]]:
    return isinstance(value, list | tuple)
