from __future__ import annotations

import logging

import pytest

from services.common.breaker import BreakerState, CircuitBreaker


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def breaker(clock: FakeClock) -> CircuitBreaker:
    return CircuitBreaker("test", failure_threshold=3, reset_timeout_s=2.0, clock=clock)


def state_of(breaker: CircuitBreaker) -> BreakerState:
    """Read the state through a call, so mypy does not narrow it across the mutations in between."""
    return breaker.state


def trip(breaker: CircuitBreaker) -> None:
    for _ in range(breaker.failure_threshold):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state is BreakerState.OPEN


def test_starts_closed_and_allows(breaker: CircuitBreaker) -> None:
    assert breaker.state is BreakerState.CLOSED
    assert all(breaker.allow() for _ in range(100))


def test_opens_after_threshold_consecutive_failures(breaker: CircuitBreaker) -> None:
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure()
    assert state_of(breaker) is BreakerState.OPEN
    assert not breaker.allow()


def test_success_resets_the_consecutive_count(breaker: CircuitBreaker) -> None:
    for _ in range(5):
        breaker.record_failure()
        breaker.record_failure()
        breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.consecutive_failures == 0


def test_open_fails_fast_until_reset_timeout(breaker: CircuitBreaker, clock: FakeClock) -> None:
    trip(breaker)
    clock.advance(1.999)
    assert not breaker.allow()
    assert breaker.state is BreakerState.OPEN
    clock.advance(0.001)
    assert state_of(breaker) is BreakerState.HALF_OPEN  # reported before anyone calls allow()


def test_half_open_admits_exactly_one_probe(breaker: CircuitBreaker, clock: FakeClock) -> None:
    trip(breaker)
    clock.advance(2.0)
    assert breaker.allow()
    assert breaker.state is BreakerState.HALF_OPEN
    assert [breaker.allow() for _ in range(20)] == [False] * 20


def test_probe_success_closes(breaker: CircuitBreaker, clock: FakeClock) -> None:
    trip(breaker)
    clock.advance(2.0)
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.consecutive_failures == 0
    assert all(breaker.allow() for _ in range(10))
    # Fully reset: it takes a whole threshold of failures to open again.
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED


def test_probe_failure_reopens_with_a_fresh_timeout(breaker: CircuitBreaker, clock: FakeClock) -> None:
    trip(breaker)
    clock.advance(5.0)
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    clock.advance(1.9)
    assert not breaker.allow()  # the timeout restarted at the probe's failure, not at the first opening
    clock.advance(0.1)
    assert breaker.allow()


def test_lost_probe_is_replaced_after_the_reset_timeout(breaker: CircuitBreaker, clock: FakeClock) -> None:
    trip(breaker)
    clock.advance(2.0)
    assert breaker.allow()  # this probe never reports (its caller was cancelled)
    clock.advance(1.0)
    assert not breaker.allow()
    clock.advance(1.0)
    assert breaker.allow()
    assert not breaker.allow()


def test_late_results_while_open_change_nothing(breaker: CircuitBreaker, clock: FakeClock) -> None:
    trip(breaker)
    clock.advance(1.5)
    breaker.record_success()  # a call admitted while closed, finishing late
    assert breaker.state is BreakerState.OPEN
    breaker.record_failure()  # must not push the deadline out
    clock.advance(0.5)
    assert breaker.allow()


def test_transitions_are_logged_once(
    breaker: CircuitBreaker, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="services.common.breaker")
    trip(breaker)
    for _ in range(100):
        breaker.allow()
    clock.advance(2.0)
    for _ in range(100):
        breaker.allow()
    breaker.record_success()
    for _ in range(100):
        breaker.allow()
        breaker.record_success()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 3, messages
    assert "closed -> open" in messages[0]
    assert "open -> half_open" in messages[1]
    assert "half_open -> closed" in messages[2]


@pytest.mark.parametrize(("threshold", "timeout"), [(0, 1.0), (1, 0.0)], ids=["threshold-0", "timeout-0"])
def test_rejects_nonsense_configuration(threshold: int, timeout: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        CircuitBreaker("bad", failure_threshold=threshold, reset_timeout_s=timeout)
