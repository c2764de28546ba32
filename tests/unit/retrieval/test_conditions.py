from __future__ import annotations

from typing import Any

import pytest

from services.retrieval.conditions import ConditionError, compile_condition

OPERATORS = [
    ("eq-int", "x == 3", {"x": 3}, True),
    ("eq-int-false", "x == 3", {"x": 4}, False),
    ("ne", "x != 3", {"x": 4}, True),
    ("ne-false", "x != 3", {"x": 3}, False),
    ("lt", "x < 3", {"x": 2}, True),
    ("lt-equal", "x < 3", {"x": 3}, False),
    ("le", "x <= 3", {"x": 3}, True),
    ("gt", "x > 3", {"x": 3.5}, True),
    ("gt-false", "x > 3", {"x": 1}, False),
    ("ge", "x >= 3", {"x": 3}, True),
    ("in-list", 'x in ["a", "b"]', {"x": "b"}, True),
    ("in-list-false", 'x in ["a", "b"]', {"x": "c"}, False),
    ("in-tuple", "x in (1, 2)", {"x": 2}, True),
    ("not-in", 'x not in ["a", "b"]', {"x": "c"}, True),
    ("not-in-false", 'x not in ["a", "b"]', {"x": "a"}, False),
    ("in-context-list", '"oom" in events', {"events": ["gc", "OOM"]}, True),
    ("substring", '"timeout" in message', {"message": "Query TIMEOUT after 30s"}, True),
    ("mapping-key", '"team" in labels', {"labels": {"Team": "db"}}, True),
    ("chained", "0 < x <= 10", {"x": 10}, True),
    ("chained-false", "0 < x <= 10", {"x": 11}, False),
    ("name-vs-name", "used > limit", {"used": 9, "limit": 8}, True),
    ("negative-literal", "delta < -5", {"delta": -7}, True),
    ("none-literal", "owner == None", {"owner": None}, True),
    ("json-literals", "enabled == true and owner != null", {"enabled": True, "owner": "x"}, True),
    ("and", "a and b", {"a": True, "b": True}, True),
    ("or", "a or b", {"a": False, "b": True}, True),
    ("not", "not a", {"a": False}, True),
    ("parentheses", "not (a or b) and c", {"a": False, "b": False, "c": True}, True),
    ("precedence", "a or b and c", {"a": True, "b": False, "c": False}, True),
]


@pytest.mark.parametrize(("text", "context", "expected"), [row[1:] for row in OPERATORS], ids=[r[0] for r in OPERATORS])
def test_operators(text: str, context: dict[str, Any], expected: bool) -> None:
    assert compile_condition(text).evaluate(context) is expected


T, F, U = True, False, None
KLEENE = [(a, b) for a in (T, F, U) for b in (T, F, U)]


def _expected_and(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def _expected_or(a: bool | None, b: bool | None) -> bool | None:
    if a is True or b is True:
        return True
    return None if a is None or b is None else False


def _context(**values: bool | None) -> dict[str, bool]:
    """Unknown is expressed by leaving the name out of the context."""
    return {name: value for name, value in values.items() if value is not None}


@pytest.mark.parametrize(("a", "b"), KLEENE, ids=[f"{a}-{b}" for a, b in KLEENE])
def test_three_valued_and_or(a: bool | None, b: bool | None) -> None:
    context = _context(a=a, b=b)
    assert compile_condition("a and b").evaluate(context) is _expected_and(a, b)
    assert compile_condition("a or b").evaluate(context) is _expected_or(a, b)


@pytest.mark.parametrize(("a", "expected"), [(T, F), (F, T), (U, U)], ids=["true", "false", "unknown"])
def test_three_valued_not(a: bool | None, expected: bool | None) -> None:
    assert compile_condition("not a").evaluate(_context(a=a)) is expected


UNKNOWN_CASES = [
    ("missing-name", "cpu > 90", {}),
    ("missing-in-and", "severity == 'critical' and cpu > 90", {"severity": "critical"}),
    ("str-vs-int-order", "level < 3", {"level": "high"}),
    ("none-order", "x > 1", {"x": None}),
    ("in-number", "x in total", {"x": 1, "total": 5}),
    ("number-in-string", "5 in message", {"message": "5 errors"}),
    ("not-in-unknown", "x not in [1]", {}),
]


@pytest.mark.parametrize(("text", "context"), [r[1:] for r in UNKNOWN_CASES], ids=[r[0] for r in UNKNOWN_CASES])
def test_undecidable_is_unknown(text: str, context: dict[str, Any]) -> None:
    assert compile_condition(text).evaluate(context) is None


COERCIONS = [
    ("case-eq", 'severity == "critical"', {"severity": "CRITICAL"}, True),
    ("case-ne", 'severity != "critical"', {"severity": "Critical"}, False),
    ("case-in", 'env in ["Prod", "staging"]', {"env": "PROD"}, True),
    ("case-substring", '"OOM" in message', {"message": "oom killer fired"}, True),
    ("numeric-string-gt", "memory_percent > 90", {"memory_percent": "92.5"}, True),
    ("numeric-string-eq", "replicas == 3", {"replicas": "3"}, True),
    ("numeric-string-in", "code in [500, 503]", {"code": "503"}, True),
    ("numeric-strings-order", 'x > "9"', {"x": "10"}, True),
    ("non-numeric-string-eq", "x == 3", {"x": "three"}, False),
    ("bool-string", "is_primary == True", {"is_primary": "true"}, True),
    ("bool-string-false", "is_primary == False", {"is_primary": "FALSE"}, True),
    ("unrelated-types-eq", "x == 3", {"x": [3]}, False),
    ("truthy-name", "flag", {"flag": "yes"}, True),
    ("falsy-string-name", "flag", {"flag": "false"}, False),
    ("falsy-zero-string", "flag", {"flag": "0"}, False),
    ("falsy-empty-list", "flag", {"flag": []}, False),
    ("list-equality", 'tags == ["a", "B"]', {"tags": ["A", "b"]}, True),
]


@pytest.mark.parametrize(("text", "context", "expected"), [r[1:] for r in COERCIONS], ids=[r[0] for r in COERCIONS])
def test_alert_values_compare_by_meaning(text: str, context: dict[str, Any], expected: bool) -> None:
    assert compile_condition(text).evaluate(context) is expected


def test_names_and_missing_are_reported() -> None:
    condition = compile_condition("severity == 'critical' and (cpu > 90 or load > 4) and flag == true")
    assert condition.names == frozenset({"severity", "cpu", "load", "flag"})
    assert condition.missing({"cpu": 95, "flag": True}) == ["load", "severity"]


def test_compiled_conditions_are_cached() -> None:
    assert compile_condition("cache_me > 1") is compile_condition("cache_me > 1")


REJECTED = [
    ("call", "__import__('os')", "function call"),
    ("attribute", "a.b", "attribute access"),
    ("subscript", "x[0]", "subscripting"),
    ("arithmetic", "1 + 1", "arithmetic"),
    ("arithmetic-in-compare", "x * 2 > 4", "arithmetic"),
    ("lambda", "lambda: 1", "lambda"),
    ("comprehension", "[x for x in y]", "comprehension"),
    ("f-string", 'f"{x}" == "a"', "f-string"),
    ("walrus", "(y := 1)", "assignment expression"),
    ("is", "x is None", "'is'"),
    ("ternary", "a if b else c", "conditional expression"),
    ("dict", "{'a': 1}", "dict literal"),
    ("nested-list", "x in [[1]]", "nested list"),
    ("signed-name", "-x > 1", "arithmetic"),
    ("bytes", "x == b'a'", "bytes literal"),
]


@pytest.mark.parametrize(("text", "construct"), [r[1:] for r in REJECTED], ids=[r[0] for r in REJECTED])
def test_constructs_outside_the_language_are_rejected(text: str, construct: str) -> None:
    with pytest.raises(ConditionError) as raised:
        compile_condition(text)
    message = str(raised.value)
    assert construct in message
    assert repr(text) in message
    assert "conditions may only use" in message


@pytest.mark.parametrize(
    "text", ["x ==", "severity === 'critical'", "a && b", ""], ids=["dangling", "js-eq", "js-and", "empty"]
)
def test_syntax_errors_are_condition_errors(text: str) -> None:
    with pytest.raises(ConditionError, match="is not a valid expression"):
        compile_condition(text)


def test_condition_error_is_a_value_error() -> None:
    assert issubclass(ConditionError, ValueError)


def test_absurd_nesting_is_rejected_without_overflowing_the_stack() -> None:
    with pytest.raises(ConditionError, match="nests more than 100 levels"):
        compile_condition("not " * 1000 + "x")


ODD_VALUES: list[Any] = [None, [], {}, [1, "a", None], {"k": [1]}, True, 0, -1.5, "", "NaN", "1e3", [[1]]]
CONDITIONS = ["x == 1", "x != 'a'", "x < 2", "x >= 'b'", "'a' in x", "x in [1, 'a']", "x not in y", "x", "not x"]


@pytest.mark.parametrize("text", CONDITIONS)
def test_any_json_value_evaluates_without_raising(text: str) -> None:
    condition = compile_condition(text)
    for x in ODD_VALUES:
        for y in ODD_VALUES:
            assert condition.evaluate({"x": x, "y": y}) in (True, False, None)
