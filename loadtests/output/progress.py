"""Live progress: per scenario, elapsed/total, VUs, requests/s, errors and p95 so far.

On a terminal, a ``rich`` live table redrawn a few times a second; otherwise (CI logs, pipes) one plain line per
scenario every ``plain_every_s`` seconds, so a log shows the run's shape without drowning in redraws.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from rich.console import Console
from rich.live import Live
from rich.table import Table

from loadtests.durations import display_duration, format_duration

if TYPE_CHECKING:
    from loadtests.engine.coordinator import Coordinator

__all__ = ("Progress", "ScenarioLine", "scenario_lines")


@dataclass
class ScenarioLine:
    name: str
    state: str
    elapsed_s: float
    total_s: float
    busy: int
    allocated: int
    requests: int
    rps: float
    errors: int
    p95_ms: float | None


class _Rates:
    """Requests/s per scenario over the last ``window_s`` seconds.

    Counts arrive once a second per worker, so a rate over the last tick alone jumps between 0, 1× and 2× the real
    one; a few seconds of history smooth that out.
    """

    def __init__(self, window_s: float = 5.0) -> None:
        self._window = window_s
        self._history: dict[str, deque[tuple[float, int]]] = {}

    def update(self, name: str, count: int, now: float) -> float:
        history = self._history.setdefault(name, deque())
        history.append((now, count))
        while len(history) > 2 and now - history[1][0] >= self._window:
            history.popleft()
        then, old = history[0]
        return (count - old) / (now - then) if now - then >= 1.0 else 0.0


def scenario_lines(coordinator: Coordinator, rates: _Rates) -> list[ScenarioLine]:
    aggregate = coordinator.aggregate
    elapsed = coordinator.elapsed
    now = time.monotonic()
    lines = []
    has_http = aggregate.metric_type("http_req_duration") is not None
    for name, scenario in coordinator.options.scenarios.items():
        progress = coordinator.scenario_progress(name)
        start = scenario.start_time
        length = coordinator.scenario_length(name)
        local = min(max(0.0, elapsed - start), length)
        if progress.done:
            state = "done"
        elif elapsed < start:
            state = "waiting"
        else:
            state = "running"
        requests = errors = 0
        p95 = None
        if has_http:
            durations = aggregate.values("http_req_duration", {"scenario": name})
            requests = int(durations.get("count", 0))
            if requests:
                p95 = durations.get("p(95)")
            failed = aggregate.values("http_req_failed", {"scenario": name})
            errors = int(failed.get("passes", 0))
        else:
            requests = int(aggregate.values("iterations", {"scenario": name}).get("count", 0))
        lines.append(
            ScenarioLine(
                name,
                state,
                local,
                length,
                progress.busy,
                progress.allocated,
                requests,
                rates.update(name, requests, now),
                errors,
                p95,
            )
        )
    return lines


def _plain(line: ScenarioLine) -> str:
    p95 = f"{line.p95_ms:.1f}ms" if line.p95_ms is not None else "-"
    return (
        f"{line.name}: {line.state} {format_duration(round(line.elapsed_s))}/{display_duration(line.total_s)} "
        f"vus={line.busy}/{line.allocated} reqs={line.requests} {line.rps:.1f}/s errors={line.errors} p95={p95}"
    )


class Progress:
    """Call ``tick(coordinator)`` as often as you like; it redraws at its own pace."""

    def __init__(self, *, stream: TextIO | None = None, live: bool | None = None, plain_every_s: float = 5.0) -> None:
        self._stream = stream or sys.stderr
        self._live_mode = self._stream.isatty() if live is None else live
        self._console = Console(file=self._stream)
        self._live: Live | None = None
        self._rates = _Rates()
        self._plain_every = plain_every_s
        self._next_plain = time.monotonic() + plain_every_s
        self._next_draw = 0.0

    def __enter__(self) -> Progress:
        if self._live_mode:
            self._live = Live(console=self._console, refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None

    def tick(self, coordinator: Coordinator) -> None:
        now = time.monotonic()
        if now < self._next_draw:
            return
        self._next_draw = now + 0.25
        lines = scenario_lines(coordinator, self._rates)
        if self._live is not None:
            self._live.update(self._table(coordinator, lines))
        elif now >= self._next_plain:
            self._next_plain = now + self._plain_every
            stamp = f"[{format_duration(round(coordinator.elapsed))}]"
            for line in lines:
                if line.state == "running":
                    print(stamp, _plain(line), file=self._stream, flush=True)

    def _table(self, coordinator: Coordinator, lines: list[ScenarioLine]) -> Table:
        table = Table(
            title=f"run {coordinator.config.run_id}  {format_duration(round(coordinator.elapsed))} / "
            f"{display_duration(coordinator.total_s)}",
            title_justify="left",
        )
        for column in ("scenario", "state", "time", "VUs busy/alloc", "requests", "req/s", "errors", "p95"):
            table.add_column(column, justify="right" if column not in ("scenario", "state") else "left")
        for line in lines:
            table.add_row(
                line.name,
                line.state,
                f"{format_duration(round(line.elapsed_s))}/{display_duration(line.total_s)}",
                f"{line.busy}/{line.allocated}",
                str(line.requests),
                f"{line.rps:.1f}",
                str(line.errors),
                f"{line.p95_ms:.1f}ms" if line.p95_ms is not None else "-",
            )
        return table
