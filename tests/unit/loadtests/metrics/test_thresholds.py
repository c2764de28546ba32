"""k6 thresholds: the parse matrix with its error messages, evaluation at the bounds, sub-metrics, aborts."""

from __future__ import annotations

from typing import Any

import pytest

from loadtests.errors import ConfigError
from loadtests.metrics import (
    Aggregate,
    MetricType,
    Registry,
    Threshold,
    abort_reasons,
    evaluate,
    metric_types,
    parse_thresholds,
    should_abort,
)

TYPES = metric_types({"my_counter": MetricType.COUNTER, "my_gauge": MetricType.GAUGE})


def parse_one(key: str, expression: Any) -> Threshold:
    (threshold,) = parse_thresholds({key: [expression]}, TYPES)
    return threshold


@pytest.mark.parametrize(
    ("key", "expression", "metric", "tags", "aggregation", "op", "bound", "percentile"),
    [
        ("http_req_duration", "p(95)<200", "http_req_duration", (), "p(95)", "<", 200.0, 95.0),
        ("http_req_duration", "  p( 99.9 )  <=  1e3 ", "http_req_duration", (), "p(99.9)", "<=", 1000.0, 99.9),
        ("http_req_duration", "p(0)>=0", "http_req_duration", (), "p(0)", ">=", 0.0, 0.0),
        ("http_req_duration", "p(100)!=5", "http_req_duration", (), "p(100)", "!=", 5.0, 100.0),
        ("http_req_duration", "avg<100.5", "http_req_duration", (), "avg", "<", 100.5, None),
        ("http_req_duration", "med==3", "http_req_duration", (), "med", "==", 3.0, None),
        ("http_req_duration", "min>-1", "http_req_duration", (), "min", ">", -1.0, None),
        ("http_req_duration", "max < 2000", "http_req_duration", (), "max", "<", 2000.0, None),
        ("http_reqs", "count>=10", "http_reqs", (), "count", ">=", 10.0, None),
        ("http_reqs", "rate>5", "http_reqs", (), "rate", ">", 5.0, None),
        ("vus", "value<=150", "vus", (), "value", "<=", 150.0, None),
        ("http_req_failed", "rate<0.01", "http_req_failed", (), "rate", "<", 0.01, None),
        (
            "http_req_duration{scenario:storm}",
            "p(95)<500",
            "http_req_duration",
            (("scenario", "storm"),),
            "p(95)",
            "<",
            500.0,
            95.0,
        ),
        (
            " http_req_duration { status : 200 , scenario:a } ",
            "avg<1",
            "http_req_duration",
            (("scenario", "a"), ("status", "200")),
            "avg",
            "<",
            1.0,
            None,
        ),
        (
            "group_duration{group:::outer::inner}",
            "p(90)<1",
            "group_duration",
            (("group", "::outer::inner"),),
            "p(90)",
            "<",
            1.0,
            90.0,
        ),
        ("checks{check:}", "rate>0.9", "checks", (("check", ""),), "rate", ">", 0.9, None),
        ("my_counter", "count<10", "my_counter", (), "count", "<", 10.0, None),
    ],
)
def test_valid_thresholds_parse(
    key: str,
    expression: str,
    metric: str,
    tags: tuple[tuple[str, str], ...],
    aggregation: str,
    op: str,
    bound: float,
    percentile: float | None,
) -> None:
    t = parse_one(key, expression)
    assert (t.key, t.metric, t.filter, t.aggregation, t.op, t.bound, t.percentile) == (
        key,
        metric,
        tags,
        aggregation,
        op,
        bound,
        percentile,
    )
    assert t.expression == expression.strip()
    assert (t.abort_on_fail, t.delay_abort_s) == (False, 0.0)


def test_long_form_and_several_expressions_per_key() -> None:
    parsed = parse_thresholds(
        {
            "http_req_duration": [
                "p(95)<200",
                {"threshold": "p(99)<10", "abortOnFail": True, "delayAbortEval": "1m30s"},
                {"threshold": "avg<5", "abortOnFail": False},
            ],
            "checks": "rate>0.9",  # a bare string is taken as a one-element list
        },
        TYPES,
    )
    assert [(t.aggregation, t.abort_on_fail, t.delay_abort_s) for t in parsed] == [
        ("p(95)", False, 0.0),
        ("p(99)", True, 90.0),
        ("avg", False, 0.0),
        ("rate", False, 0.0),
    ]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"http_req_duraton": ["p(95)<200"]},
            r"unknown metric 'http_req_duraton' \(did you mean 'http_req_duration'\?\)",
        ),
        ({"nothing_like_it": ["count<1"]}, r"unknown metric 'nothing_like_it'$"),
        ({"http_reqs": ["p(95)<200"]}, r"'p\(N\)' is not an aggregation of a counter metric: use count or rate"),
        ({"http_req_duration": ["count<200"]}, r"'count' is not an aggregation of a trend metric"),
        ({"vus": ["rate<1"]}, r"'rate' is not an aggregation of a gauge metric: use value"),
        ({"checks": ["avg>0.9"]}, r"'avg' is not an aggregation of a rate metric: use rate"),
        ({"http_req_duration": ["p(95)=200"]}, r"bad operator '=20': use one of < <= > >= == !="),
        ({"http_req_duration": ["p(95)=<200"]}, r"bad operator '=<2'"),
        ({"http_req_duration": ["p(95) 200"]}, r"bad operator '200'"),
        ({"http_req_duration": ["p(95)<"]}, r"'' is not a number"),
        ({"http_req_duration": ["p(95)<200ms"]}, r"'200ms' is not a number \(thresholds compare plain numbers"),
        ({"http_req_duration": ["p(95)<abc"]}, r"'abc' is not a number"),
        ({"http_req_duration": ["p(95)<inf"]}, r"'inf' is not a finite number"),
        ({"http_req_duration": ["p(95)"]}, r"missing operator and number after 'p\(95\)'"),
        ({"http_req_duration": ["p(101)<1"]}, r"p\(101\) is out of range: N must be within 0..100"),
        ({"http_req_duration": ["p(-1)<1"]}, r"p\(-1\) is out of range"),
        ({"http_req_duration": ["p(x)<1"]}, r"p\(N\) needs a number N within 0..100, got p\(x\)"),
        ({"http_req_duration": ["< 200"]}, r"expected '<aggregation> <op> <number>'"),
        ({"http_req_duration": [""]}, r"expected '<aggregation> <op> <number>'"),
        ({"http_req_duration": [{"threshold": "p(95)<1", "abortOnFial": True}]}, r"unknown field\(s\) 'abortOnFial'"),
        ({"http_req_duration": [{"abortOnFail": True}]}, r"needs 'threshold': a string, got None"),
        ({"http_req_duration": [{"threshold": "p(95)<1", "abortOnFail": "yes"}]}, r"'abortOnFail' .* true or false"),
        ({"http_req_duration": [{"threshold": "p(95)<1", "delayAbortEval": "soon"}]}, r"duration"),
        ({"http_req_duration": [42]}, r"a threshold is a string like 'p\(95\)<200'"),
        ({"http_req_duration": 42}, r"expected a list of threshold expressions, got int"),
        ({"http_req_duration{scenario:a": ["p(95)<1"]}, r"unbalanced braces"),
        ({"http_req_duration{}": ["p(95)<1"]}, r"empty tag filter"),
        ({"http_req_duration{scenario}": ["p(95)<1"]}, r"tag filter 'scenario' .* is not tag:value"),
        ({"http_req_duration{:a}": ["p(95)<1"]}, r"tag filter ':a' .* is not tag:value"),
        ({"http_req_duration{a:1,a:2}": ["p(95)<1"]}, r"tag 'a' appears twice"),
        ({"http req duration": ["p(95)<1"]}, r"is not a metric name or metric\{tag:value,...\}"),
    ],
)
def test_each_user_error_is_a_config_error_naming_key_and_problem(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        parse_thresholds(raw, TYPES)
    error = caught.value
    assert error.code == 104
    (key,) = raw
    assert error.where is not None and repr(key) in error.where
    key_level = message.startswith(("unknown metric", "is not a metric name")) or "{" in key
    if isinstance(raw[key], list) and isinstance(raw[key][0], str) and raw[key][0] and not key_level:
        assert repr(raw[key][0]) in str(error), "an expression's error names the expression"


def test_a_non_string_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="metric name string"):
        parse_thresholds({1: ["count<1"]}, TYPES)  # type: ignore[dict-item]


# -- evaluation -----------------------------------------------------------------------------------------------------


def aggregate_of(fill: Any, elapsed: float = 10.0) -> Aggregate:
    registry = Registry(start_unix=0.0)
    fill(registry)
    aggregate = Aggregate(workers=1, start_unix=0.0)
    report = registry.drain(elapsed)
    aggregate.merge_report(report)
    return aggregate


def one_result(aggregate: Aggregate, key: str, expression: str, elapsed: float = 10.0) -> tuple[bool, float | None]:
    (result,) = evaluate(parse_thresholds({key: [expression]}, TYPES), aggregate, elapsed)
    return result.ok, result.observed


def fill_standard(registry: Registry) -> None:
    for v in range(1, 101):  # 1..100 ms
        registry.trend("http_req_duration", {"scenario": "a"}).add(float(v))
    for _ in range(10):
        registry.trend("http_req_duration", {"scenario": "b"}).add(1000.0)
    registry.counter("http_reqs").add(50)
    registry.rate("http_req_failed", {"scenario": "a"}).add(False)
    registry.rate("http_req_failed", {"scenario": "b"}).add(True)
    registry.gauge("my_gauge").set(7)


@pytest.mark.parametrize(
    ("expression", "ok"),
    [
        ("count==50", True),
        ("count<50", False),
        ("count<=50", True),
        ("count>50", False),
        ("count>=50", True),
        ("count!=50", False),
        ("rate==5", True),  # 50 over 10 s
        ("rate<5", False),
        ("rate>4.99", True),
    ],
)
def test_counter_at_below_and_above_the_bound(expression: str, ok: bool) -> None:
    aggregate = aggregate_of(fill_standard)
    assert one_result(aggregate, "http_reqs", expression)[0] is ok


def test_trend_rate_and_gauge_values_against_bounds() -> None:
    aggregate = aggregate_of(fill_standard)
    ok, observed = one_result(aggregate, "http_req_duration{scenario:a}", "max<=100")
    assert ok and observed == 100.0
    assert one_result(aggregate, "http_req_duration{scenario:a}", "max<100") == (False, 100.0)
    assert one_result(aggregate, "http_req_duration{scenario:a}", "min>=1") == (True, 1.0)
    assert one_result(aggregate, "http_req_duration{scenario:a}", "avg==50.5") == (True, 50.5)
    ok, observed = one_result(aggregate, "http_req_duration{scenario:a}", "med<51")
    assert ok and observed == pytest.approx(50.0, rel=1e-3)
    ok, p95 = one_result(aggregate, "http_req_duration{scenario:a}", "p(95)<=95.1")
    assert ok and p95 == pytest.approx(95.0, rel=1e-3)
    assert one_result(aggregate, "http_req_duration{scenario:a}", "p(95)<94.9")[0] is False
    assert one_result(aggregate, "http_req_failed", "rate==0.5") == (True, 0.5)
    assert one_result(aggregate, "my_gauge", "value<7") == (False, 7.0)
    assert one_result(aggregate, "my_gauge", "value<=7") == (True, 7.0)


def test_sub_metric_filters_select_series() -> None:
    aggregate = aggregate_of(fill_standard)
    assert one_result(aggregate, "http_req_duration{scenario:a}", "p(99)<200")[0] is True
    assert one_result(aggregate, "http_req_duration{scenario:b}", "p(99)<200")[0] is False
    assert one_result(aggregate, "http_req_duration", "max<200")[0] is False, "the whole metric includes b"
    assert one_result(aggregate, "http_req_failed{scenario:a}", "rate==0") == (True, 0.0)
    assert one_result(aggregate, "http_req_failed{scenario:b}", "rate==1") == (True, 1.0)


def test_no_samples_is_no_data_and_not_a_failure() -> None:
    aggregate = aggregate_of(fill_standard)
    results = evaluate(
        parse_thresholds(
            {
                "http_req_duration{scenario:c}": ["p(95)<1"],
                "my_counter": ["count>0"],
                "checks": ["rate>0.99"],
                "http_reqs": ["count>1000"],
            },
            TYPES,
        ),
        aggregate,
        10.0,
    )
    assert [(r.ok, r.no_data, r.observed) for r in results] == [
        (True, True, None),
        (True, True, None),
        (True, True, None),
        (False, False, 50.0),
    ]


def test_abort_honours_abort_on_fail_and_the_delay() -> None:
    aggregate = aggregate_of(fill_standard)
    thresholds = parse_thresholds(
        {
            "http_req_duration": [
                {"threshold": "p(95)<10", "abortOnFail": True, "delayAbortEval": "30s"},
                "max<10",  # fails but does not abort
            ],
            "http_req_failed": [{"threshold": "rate<0.9", "abortOnFail": True}],  # passes
        },
        TYPES,
    )
    results = evaluate(thresholds, aggregate, 10.0)
    assert [r.ok for r in results] == [False, False, True]
    assert not should_abort(results, 10.0), "within delayAbortEval"
    assert not should_abort(results, 29.9)
    assert should_abort(results, 30.0)
    (reason,) = abort_reasons(results, 31.0)
    assert reason.threshold.expression == "p(95)<10"


def test_no_data_never_aborts() -> None:
    aggregate = aggregate_of(lambda registry: None)
    thresholds = parse_thresholds({"http_req_duration": [{"threshold": "p(95)<1", "abortOnFail": True}]}, TYPES)
    results = evaluate(thresholds, aggregate, 100.0)
    assert results[0].no_data and not should_abort(results, 100.0)
