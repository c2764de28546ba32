"""Which VU is running and where samples go, per process — so ``check()`` and ``Trend.add()`` need no arguments.

A script's helpers are called from inside iterations without a handle on the engine (k6's vocabulary has none), so
the engine publishes the current VU in a context variable (each iteration runs in its own task, which copies the
context) and the process's recorder in a module global set once when the worker or the coordinator starts.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loadtests.engine.vu import VU
    from loadtests.metrics import Registry

__all__ = ("current_registry", "current_vu", "set_registry", "use_vu")

_vu: ContextVar[VU | None] = ContextVar("pp_loadtests_vu", default=None)
_registry: list[Registry] = []


def set_registry(registry: Registry) -> None:
    _registry[:] = [registry]


def current_registry() -> Registry:
    if not _registry:
        raise RuntimeError("metrics can only be recorded while a test runs (inside setup, default or teardown)")
    return _registry[0]


def current_vu() -> VU | None:
    return _vu.get()


def use_vu(vu: VU | None) -> None:
    """Make ``vu`` the current VU of the running task (each iteration task has its own copy of the context)."""
    _vu.set(vu)
