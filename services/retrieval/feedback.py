"""Durable resolution feedback, and how it turns into a runbook's track record.

The original implementation only logged feedback, so runbooks never learned from outcomes. Here every outcome is a
row in SQLite and the runbooks' ``success_rate`` is recomputed from all of them.

Durability is the contract: :meth:`FeedbackStore.record` returns only after the row is committed with
``journal_mode=WAL`` and ``synchronous=FULL``, which fsyncs the write-ahead log on every commit. An acknowledged
write therefore survives the process being SIGKILLed and the machine losing power; the HTTP layer must answer only
after ``record`` returned. One connection, used from aiosqlite's worker thread and guarded by a lock, keeps each
insert and its commit together (SQLite allows one writer anyway).

Runbook ids are case-insensitive everywhere in the service, so the ``runbook_id`` column uses ``NOCASE`` collation
(its index too) and aggregates are keyed by the lower-cased id, like ``Corpus.runbooks``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final, Self

import aiosqlite
import msgspec

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path
    from types import TracebackType

    from services.retrieval.schemas import FeedbackRequest, Outcome, Runbook

__all__ = ("OUTCOME_SCORES", "PRIOR_WEIGHT", "FeedbackStore", "TrackRecord", "with_track_record")

logger = logging.getLogger(__name__)

OUTCOME_SCORES: Final[Mapping[Outcome, float]] = {
    "success": 1.0,
    "partial_success": 0.5,
    "failure": 0.0,
    "escalated": 0.0,
}
"""How much each outcome counts as a success; an escalation means the runbook did not resolve the incident."""

PRIOR_WEIGHT: Final = 5.0
"""The author's estimate counts as this many observed outcomes, so a single report cannot swing the rate."""

DEFAULT_PRIOR: Final = 0.5
"""The prior success rate when the author gave none: no opinion either way."""

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    runbook_id TEXT NOT NULL COLLATE NOCASE,
    procedure_id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    resolution_time_minutes REAL NOT NULL,
    notes TEXT,
    recorded_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_runbook_id ON feedback (runbook_id);
"""
_INSERT: Final = (
    "INSERT INTO feedback (runbook_id, procedure_id, outcome, resolution_time_minutes, notes, recorded_at) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
_SCORE: Final = (
    "CASE outcome "
    + " ".join(f"WHEN '{outcome}' THEN {score!r}" for outcome, score in OUTCOME_SCORES.items())
    + " ELSE 0.0 END"
)
_TOTALS: Final = f"SELECT runbook_id, COUNT(*), SUM({_SCORE}), SUM(resolution_time_minutes) FROM feedback"


@dataclass(frozen=True, slots=True)
class TrackRecord:
    """The recorded outcomes of one runbook, summed so they can be blended with the author's estimates."""

    count: int = 0
    score_sum: float = 0.0
    """Sum of ``OUTCOME_SCORES`` over the outcomes."""
    total_minutes: float = 0.0

    def __add__(self, other: TrackRecord) -> TrackRecord:
        return TrackRecord(
            count=self.count + other.count,
            score_sum=self.score_sum + other.score_sum,
            total_minutes=self.total_minutes + other.total_minutes,
        )


class FeedbackStore:
    """The feedback table behind one aiosqlite connection. Create it with :meth:`open`."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._db = connection
        self._lock = asyncio.Lock()
        self._closed = False

    @classmethod
    async def open(cls, path: Path) -> FeedbackStore:
        """Open (creating if needed) the database at ``path`` with durable settings and the schema in place."""
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = await aiosqlite.connect(path)
        try:
            await _configure(connection)
        except BaseException:
            await connection.close()
            raise
        return cls(connection)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def record(self, request: FeedbackRequest) -> tuple[int, datetime]:
        """Store one outcome and commit it; returns the row id and the time recorded.

        The commit happens before this returns, so acknowledging the caller afterwards is safe. A failed insert or
        commit is rolled back, so a retry by the caller does not leave a half-written duplicate behind.
        """
        recorded_at = datetime.now(UTC)
        row = (
            request.runbook_id,
            request.procedure_id,
            request.outcome,
            request.resolution_time_minutes,
            request.notes,
            recorded_at.isoformat(),
        )
        async with self._lock:
            try:
                async with self._db.execute(_INSERT, row) as cursor:
                    feedback_id = cursor.lastrowid
                await self._db.commit()
            except BaseException:
                with contextlib.suppress(sqlite3.Error, ValueError):  # keep the original error, not the rollback's
                    await self._db.rollback()
                raise
        if feedback_id is None:  # pragma: no cover - sqlite3 always sets it after an INSERT
            raise RuntimeError("sqlite did not report the id of the inserted feedback row")
        return feedback_id, recorded_at

    async def aggregates(self) -> dict[str, TrackRecord]:
        """Every runbook's track record, keyed by lower-cased runbook id (how ``Corpus.runbooks`` is keyed)."""
        async with self._lock:
            rows = await self._db.execute_fetchall(f"{_TOTALS} GROUP BY runbook_id")
        records: dict[str, TrackRecord] = {}
        for runbook_id, count, score_sum, minutes in rows:
            key = str(runbook_id).lower()
            records[key] = records.get(key, TrackRecord()) + TrackRecord(count, score_sum, minutes)
        return records

    async def aggregate(self, runbook_id: str) -> TrackRecord:
        """One runbook's track record (empty when it has no feedback yet)."""
        async with self._lock:
            rows = list(await self._db.execute_fetchall(f"{_TOTALS} WHERE runbook_id = ?", (runbook_id,)))
        _, count, score_sum, minutes = rows[0]
        return TrackRecord(count, score_sum or 0.0, minutes or 0.0)

    async def count(self) -> int:
        """How many outcomes are stored, over all runbooks."""
        async with self._lock:
            rows = list(await self._db.execute_fetchall("SELECT COUNT(*) FROM feedback"))
        return int(rows[0][0])

    async def ping(self) -> bool:
        """Whether the database answers a trivial query; for health checks, so it never raises."""
        try:
            async with self._lock:
                rows = list(await self._db.execute_fetchall("SELECT 1"))
        except (sqlite3.Error, ValueError):  # aiosqlite raises ValueError once the connection is closed
            return False
        return rows == [(1,)]

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self._db.close()


async def _configure(connection: aiosqlite.Connection) -> None:
    rows = list(await connection.execute_fetchall("PRAGMA journal_mode=WAL"))
    if not rows or str(rows[0][0]).lower() != "wal":
        logger.warning("feedback database could not switch to WAL mode (got %r); writes stay durable but slower", rows)
    await connection.execute("PRAGMA synchronous=FULL")
    await connection.execute("PRAGMA busy_timeout=5000")
    await connection.executescript(_SCHEMA)
    await connection.commit()


def with_track_record(
    runbook: Runbook, record: TrackRecord, prior_success_rate: float | None, prior_avg_minutes: float | None
) -> Runbook:
    """``runbook`` with its track record recomputed from the author's priors and every recorded outcome.

    The priors must be the author's original values (the runbook as loaded), not a previous result of this
    function, or outcomes would be counted twice; that is why they are parameters rather than read from
    ``runbook``, which may already carry blended values. The success rate is a Bayesian blend: the prior
    (``DEFAULT_PRIOR`` when the author gave none) weighted as ``PRIOR_WEIGHT`` pseudo-observations, so early
    reports nudge the rate and many reports dominate it. The average resolution time blends the same way when the
    author gave one, else it is the plain mean. With no outcomes the author's values are restored unchanged.
    """
    if record.count == 0:
        success_rate, avg_minutes = prior_success_rate, prior_avg_minutes
    else:
        prior = DEFAULT_PRIOR if prior_success_rate is None else prior_success_rate
        success_rate = _clamp((prior * PRIOR_WEIGHT + record.score_sum) / (PRIOR_WEIGHT + record.count))
        if prior_avg_minutes is None:
            avg_minutes = record.total_minutes / record.count
        else:
            avg_minutes = (prior_avg_minutes * PRIOR_WEIGHT + record.total_minutes) / (PRIOR_WEIGHT + record.count)
    metadata = msgspec.structs.replace(
        runbook.metadata,
        success_rate=success_rate,
        avg_resolution_time_minutes=avg_minutes,
        feedback_count=record.count,
    )
    return msgspec.structs.replace(runbook, metadata=metadata)


def _clamp(rate: float) -> float:
    return min(1.0, max(0.0, rate))
