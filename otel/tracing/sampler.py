"""The ``OTEL_TRACES_SAMPLER`` choices as plain data the fast tracer can inline.

A sampler object with a ``should_sample`` method (as in the SDK) costs a call, a result object and an attribute
lookup per span; the fast tracer instead reads ``parent_based``, ``fixed`` and ``bound`` and decides with two
comparisons. The ratio decision is the SDK's (``trace_id & (2**64 - 1) < round(ratio * 2**64)``), so a trace sampled
by a service running the SDK provider is sampled by one running the fast provider too.
"""

from __future__ import annotations

from typing import Final

import msgspec

__all__ = ("SamplerConfig", "sampler_config")

_TRACE_ID_LIMIT: Final = (1 << 64) - 1


class SamplerConfig(msgspec.Struct, frozen=True):
    parent_based: bool
    """Follow a valid parent's sampled flag; only roots are decided below."""
    fixed: bool | None
    """The decision for roots (always_on / always_off), or None to decide by ``bound``."""
    bound: int = 0
    """Sample when the trace id's low 64 bits are below this."""

    def sample_root(self, trace_id: int) -> bool:
        if self.fixed is not None:
            return self.fixed
        return (trace_id & _TRACE_ID_LIMIT) < self.bound

    def sample(self, trace_id: int, parent_valid: bool, parent_sampled: bool) -> bool:
        if parent_valid and self.parent_based:
            return parent_sampled
        return self.sample_root(trace_id)


def sampler_config(name: str, ratio: float = 1.0) -> SamplerConfig:
    """The config for an ``OTEL_TRACES_SAMPLER`` value (``OTEL_TRACES_SAMPLER_ARG`` as ``ratio``)."""
    parent_based = name.startswith("parentbased_")
    root = name.removeprefix("parentbased_")
    if root == "always_on":
        return SamplerConfig(parent_based, True)
    if root == "always_off":
        return SamplerConfig(parent_based, False)
    if root == "traceidratio":
        return SamplerConfig(parent_based, None, round(ratio * (_TRACE_ID_LIMIT + 1)))
    raise ValueError(f"unknown sampler {name!r}")
