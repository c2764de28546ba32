"""Retrieval's own metrics beyond the HTTP ones: cache requests per tier, content type and result.

The cache already counts its outcomes for ``/v1/cache/stats``; an observable counter reads those counts at export
time, so the hot path pays nothing for the metric.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from otel import contract

if TYPE_CHECKING:
    from collections.abc import Iterable

    from services.retrieval.cache import TieredCache

__all__ = ("observe_cache",)


def observe_cache(cache: TieredCache) -> None:
    def observe(options: CallbackOptions) -> Iterable[Observation]:
        for tier, by_type in cache.stats().tiers.items():
            for content_type, counts in by_type.items():
                labels = {contract.CACHE_TIER: tier, contract.CACHE_CONTENT_TYPE: content_type}
                yield Observation(counts.hits, {**labels, contract.CACHE_RESULT: "hit"})
                yield Observation(counts.misses, {**labels, contract.CACHE_RESULT: "miss"})

    metrics.get_meter(contract.INSTRUMENTATION_SCOPE).create_observable_counter(
        contract.CACHE_REQUESTS, callbacks=[observe], unit="{request}", description="Cache lookups by tier and result."
    )
