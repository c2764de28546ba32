"""``otel``'s public API: a sorted ``__all__`` of names that resolve, loaded lazily."""

from __future__ import annotations

import subprocess
import sys

import otel


def test_all_is_sorted_and_every_name_resolves() -> None:
    assert list(otel.__all__) == sorted(otel.__all__)
    for name in otel.__all__:
        assert getattr(otel, name) is not None
    assert set(otel.__all__) <= set(dir(otel))


def test_importing_the_contract_does_not_load_the_sdk() -> None:
    code = "import sys, otel.contract; print('opentelemetry.sdk' in sys.modules, 'prometheus_client' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]
