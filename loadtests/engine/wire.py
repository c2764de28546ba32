"""What the coordinator and its workers say to each other (msgpack over a multiprocessing queue)."""

from __future__ import annotations

import msgspec

from loadtests.metrics import IntervalReport

__all__ = ("Done", "Failed", "Interval", "Message", "Overrides", "Ready", "ScenarioState", "WorkerPlan", "decode")


class Overrides(msgspec.Struct, kw_only=True, frozen=True):
    """The command line's changes to the script's options; every process applies them the same way."""

    vus: int | None = None
    duration: float | None = None
    iterations: int | None = None
    rate: float | None = None
    tags: dict[str, str] = {}


class WorkerPlan(msgspec.Struct, kw_only=True, frozen=True):
    run_id: str
    worker: int
    workers: int
    shard: tuple[int, int] | None
    """(index, count), 0-based, when this machine runs one shard of the test."""
    script: str
    overrides: Overrides
    mcp_url: str
    mcp_headers: list[tuple[str, str]] = []
    setup_data: bytes = b"null"
    """``setup()``'s return value, JSON."""
    report_interval: float = 1.0


class ScenarioState(msgspec.Struct, array_like=True):
    busy: int
    allocated: int
    done: bool
    interrupted: int


class Ready(msgspec.Struct, tag=True, kw_only=True):
    worker: int
    vus: int


class Interval(msgspec.Struct, tag=True, kw_only=True):
    worker: int
    report: IntervalReport
    scenarios: dict[str, ScenarioState]
    errors: dict[str, int] = {}


class Done(msgspec.Struct, tag=True, kw_only=True):
    worker: int
    report: IntervalReport
    scenarios: dict[str, ScenarioState]
    errors: dict[str, int] = {}
    tracebacks: dict[str, str] = {}


class Failed(msgspec.Struct, tag=True, kw_only=True):
    worker: int
    message: str
    code: int
    where: str | None = None


Message = Ready | Interval | Done | Failed

_decoder = msgspec.msgpack.Decoder(Message)


def decode(data: bytes) -> Message:
    message: Message = _decoder.decode(data)
    return message
