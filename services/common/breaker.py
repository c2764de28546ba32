"""A circuit breaker for one remote dependency (Redis, the retrieval service, ...).

Why: a dependency that is down must cost its callers nothing, not a timeout per request. After
``failure_threshold`` consecutive failures the breaker opens and ``allow()`` answers False without touching the
network. Once ``reset_timeout_s`` has passed it goes half-open and admits exactly one probe at a time; the probe's
outcome either closes it or re-opens it with a fresh timeout. Letting every request through while half-open (as the
original did) would stampede a dependency that is just coming back.

Contract for callers: call ``allow()`` before the operation; if it said True, report the outcome with exactly one
of ``record_success()`` / ``record_failure()``. A caller that was admitted but never reports (it was cancelled)
cannot wedge the breaker: a probe that has not reported within ``reset_timeout_s`` is presumed lost and another
one is admitted.

Single-threaded by design (one instance per event loop); there is no lock because asyncio code never runs two of
these methods at once.
"""

from __future__ import annotations

import logging
import time
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ("BreakerState", "CircuitBreaker")

logger = logging.getLogger(__name__)


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    __slots__ = (
        "_clock",
        "_failures",
        "_opened_at",
        "_probe_started_at",
        "_state",
        "failure_threshold",
        "name",
        "reset_timeout_s",
    )

    def __init__(
        self,
        name: str,
        failure_threshold: int = 5,
        reset_timeout_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if reset_timeout_s <= 0:
            raise ValueError("reset_timeout_s must be positive")
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout_s = reset_timeout_s
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probe_started_at: float | None = None

    @property
    def state(self) -> BreakerState:
        """What ``allow()`` would do now: an open breaker whose timeout has passed reports HALF_OPEN.

        Reading the state never changes it (and never logs), so health and stats endpoints can poll it freely.
        """
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self.reset_timeout_s:
            return BreakerState.HALF_OPEN
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def allow(self) -> bool:
        state = self._state
        if state is BreakerState.CLOSED:
            return True
        now = self._clock()
        if state is BreakerState.OPEN:
            if now - self._opened_at < self.reset_timeout_s:
                return False
            self._transition(BreakerState.HALF_OPEN)
        elif self._probe_started_at is not None and now - self._probe_started_at < self.reset_timeout_s:
            return False  # half-open with a probe in flight: everyone else fails fast
        self._probe_started_at = now
        return True

    def record_success(self) -> None:
        self._failures = 0
        if self._state is BreakerState.HALF_OPEN:
            self._probe_started_at = None
            self._transition(BreakerState.CLOSED)
        # OPEN: a call admitted before the breaker opened finished late; it proves nothing about now, so the
        # breaker keeps waiting for its own probe.

    def record_failure(self) -> None:
        state = self._state
        if state is BreakerState.CLOSED:
            self._failures += 1
            if self._failures >= self.failure_threshold:
                self._open()
        elif state is BreakerState.HALF_OPEN:
            self._failures += 1
            self._open()
        # OPEN: a late failure of a call admitted while closed must not push the reset deadline further out.

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._probe_started_at = None
        self._transition(BreakerState.OPEN)

    def _transition(self, new: BreakerState) -> None:
        old, self._state = self._state, new
        if new is BreakerState.OPEN:
            logger.warning(
                "circuit %s %s -> open after %d consecutive failure(s); failing fast for %.1fs",
                self.name,
                old,
                self._failures,
                self.reset_timeout_s,
            )
        else:
            logger.info("circuit %s %s -> %s", self.name, old, new)
