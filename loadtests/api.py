"""What a script imports: ``check``, ``group`` and the custom metrics ``Counter``, ``Gauge``, ``Rate``, ``Trend``.

k6's names and behaviour, in Python. Every sample gets the running VU's tags (``scenario``, the scenario's and the
test's tags, ``group``) plus the ones passed in. Custom metrics are declared at module level, as in k6's init code;
the engine learns their types from ``declared_metrics`` before it parses the thresholds.
"""

from __future__ import annotations

import re
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from loadtests.engine.context import current_registry, current_vu
from loadtests.metrics import MetricType, ValueKind

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

__all__ = ("Counter", "Gauge", "Rate", "Trend", "check", "declared_metrics", "group")

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")

declared_metrics: dict[str, MetricType] = {}
"""Custom metrics declared by the script being run, by name (filled as the script's module is imported)."""


def _tags(extra: Mapping[str, str] | None) -> dict[str, str]:
    vu = current_vu()
    tags = dict(vu.sample_tags) if vu is not None else {}
    if extra:
        tags.update({str(k): str(v) for k, v in extra.items()})
    return tags


def check(value: Any, checks: Mapping[str, Callable[[Any], Any]], tags: Mapping[str, str] | None = None) -> bool:
    """Run each predicate on ``value``; one ``checks`` sample each (tag ``check``). Never raises for a false one.

    A predicate that raises counts as failed: a check is an assertion about a response, and a response too broken to
    inspect has failed it.
    """
    registry = current_registry()
    base = _tags(tags)
    all_ok = True
    for name, predicate in checks.items():
        try:
            ok = bool(predicate(value))
        except Exception:
            ok = False
        registry.rate("checks", {**base, "check": name}).add(ok)
        all_ok = all_ok and ok
    return all_ok


@contextmanager
def group(name: str) -> Iterator[None]:
    """Tag what runs inside with ``group=::outer::name`` and record its ``group_duration``."""
    if "::" in name:
        raise ValueError(f"a group name may not contain '::' ({name!r})")
    vu = current_vu()
    if vu is None:
        yield
        return
    outer = vu.group
    vu.enter_group(f"{outer}::{name}")
    started = time.perf_counter()
    try:
        yield
    finally:
        elapsed_ms = (time.perf_counter() - started) * 1e3
        current_registry().trend("group_duration", vu.sample_tags).add(elapsed_ms)
        vu.enter_group(outer)


class _Metric:
    type: MetricType

    def __init__(self, name: str) -> None:
        if not _NAME.match(name):
            raise ValueError(f"invalid metric name {name!r}: use up to 128 of [A-Za-z0-9_], not starting with a digit")
        known = declared_metrics.get(name)
        if known is not None and known is not self.type:
            raise ValueError(f"metric {name!r} is already declared as a {known}")
        declared_metrics[name] = self.type
        self.name = name


class Counter(_Metric):
    """A running sum (``count`` and ``rate`` per second in thresholds)."""

    type = MetricType.COUNTER

    def add(self, value: float = 1.0, tags: Mapping[str, str] | None = None) -> None:
        current_registry().counter(self.name, _tags(tags)).add(float(value))


class Gauge(_Metric):
    """The last value set, with its min and max."""

    type = MetricType.GAUGE

    def add(self, value: float, tags: Mapping[str, str] | None = None) -> None:
        current_registry().gauge(self.name, _tags(tags)).set(float(value))

    set = add


class Rate(_Metric):
    """The share of samples that were true (non-zero)."""

    type = MetricType.RATE

    def add(self, value: object, tags: Mapping[str, str] | None = None) -> None:
        current_registry().rate(self.name, _tags(tags)).add(bool(value))


class Trend(_Metric):
    """A distribution (HDR histogram: avg, min, med, max and any percentile); ``is_time`` formats values as ms."""

    type = MetricType.TREND

    def __init__(self, name: str, is_time: bool = False) -> None:
        super().__init__(name)
        self.kind = ValueKind.TIME if is_time else ValueKind.DEFAULT

    def add(self, value: float, tags: Mapping[str, str] | None = None) -> None:
        current_registry().trend(self.name, _tags(tags), self.kind).add(float(value))
