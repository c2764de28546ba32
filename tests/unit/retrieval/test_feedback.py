from __future__ import annotations

import asyncio
import os
import select
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from services.retrieval.feedback import OUTCOME_SCORES, FeedbackStore, TrackRecord, with_track_record
from services.retrieval.schemas import FeedbackRequest, Outcome
from tests.support.builders import runbook

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path


def _feedback(runbook_id: str = "rb-1", outcome: Outcome = "success", minutes: float = 10.0) -> FeedbackRequest:
    return FeedbackRequest(
        runbook_id=runbook_id, procedure_id="restart", outcome=outcome, resolution_time_minutes=minutes
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[FeedbackStore]:
    async with await FeedbackStore.open(tmp_path / "data" / "feedback.sqlite3") as opened:
        yield opened


async def test_record_returns_increasing_ids_and_utc_times(store: FeedbackStore) -> None:
    before = datetime.now(UTC)
    first_id, first_at = await store.record(_feedback())
    second_id, second_at = await store.record(_feedback("rb-2"))
    assert second_id > first_id
    assert before <= first_at <= second_at <= datetime.now(UTC)
    assert first_at.tzinfo is UTC
    assert await store.count() == 2


async def test_aggregates_per_runbook_case_insensitively(store: FeedbackStore) -> None:
    for request in [
        _feedback("RB-1", "success", 10),
        _feedback("rb-1", "partial_success", 20),
        _feedback("Rb-1", "failure", 30),
        _feedback("rb-2", "escalated", 40),
    ]:
        await store.record(request)
    assert await store.aggregates() == {
        "rb-1": TrackRecord(count=3, score_sum=1.5, total_minutes=60.0),
        "rb-2": TrackRecord(count=1, score_sum=0.0, total_minutes=40.0),
    }
    assert await store.aggregate("RB-1") == TrackRecord(count=3, score_sum=1.5, total_minutes=60.0)
    assert await store.aggregate("unknown") == TrackRecord()


@pytest.mark.parametrize(
    ("outcome", "score"), [("success", 1.0), ("partial_success", 0.5), ("failure", 0.0), ("escalated", 0.0)]
)
async def test_outcome_scores(store: FeedbackStore, outcome: Outcome, score: float) -> None:
    await store.record(_feedback(outcome=outcome))
    assert (await store.aggregate("rb-1")).score_sum == score == OUTCOME_SCORES[outcome]


async def test_notes_are_stored(tmp_path: Path) -> None:
    path = tmp_path / "feedback.sqlite3"
    async with await FeedbackStore.open(path) as store:
        request = FeedbackRequest(
            runbook_id="rb-1", procedure_id="p", outcome="success", resolution_time_minutes=1, notes="it worked"
        )
        feedback_id, recorded_at = await store.record(request)
    with sqlite3.connect(path) as db:
        row = db.execute(
            "SELECT runbook_id, procedure_id, notes, recorded_at FROM feedback WHERE id = ?", (feedback_id,)
        )
        assert row.fetchone() == ("rb-1", "p", "it worked", recorded_at.isoformat())
    db.close()


async def test_feedback_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "feedback.sqlite3"
    async with await FeedbackStore.open(path) as store:
        ids = [(await store.record(_feedback(minutes=m)))[0] for m in (1, 2, 3)]
    async with await FeedbackStore.open(path) as reopened:
        assert await reopened.aggregate("rb-1") == TrackRecord(count=3, score_sum=3.0, total_minutes=6.0)
        next_id, _ = await reopened.record(_feedback())
    assert next_id > max(ids)


async def test_database_is_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "feedback.sqlite3"
    async with await FeedbackStore.open(path):
        pass
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    db.close()


async def test_ping_and_close(tmp_path: Path) -> None:
    store = await FeedbackStore.open(tmp_path / "feedback.sqlite3")
    assert await store.ping() is True
    await store.aclose()
    await store.aclose()  # idempotent
    assert await store.ping() is False


BLENDS = [
    # id, prior rate, prior minutes, record, expected rate, expected minutes
    ("no-feedback-keeps-author-values", 0.9, 30.0, TrackRecord(), 0.9, 30.0),
    ("no-feedback-no-prior", None, None, TrackRecord(), None, None),
    ("one-failure", 0.9, 30.0, TrackRecord(1, 0.0, 60.0), 0.75, 35.0),
    ("one-success-no-prior", None, None, TrackRecord(1, 1.0, 12.0), 0.5833333333333334, 12.0),
    ("many-outcomes-dominate", 0.9, None, TrackRecord(95, 19.0, 950.0), 0.235, 10.0),
    ("partial", 0.5, 20.0, TrackRecord(5, 2.5, 100.0), 0.5, 20.0),
]  # fmt: skip


@pytest.mark.parametrize(
    ("prior_rate", "prior_minutes", "record", "rate", "minutes"), [b[1:] for b in BLENDS], ids=[b[0] for b in BLENDS]
)
def test_track_record_blend(
    prior_rate: float | None,
    prior_minutes: float | None,
    record: TrackRecord,
    rate: float | None,
    minutes: float | None,
) -> None:
    original = runbook(success_rate=prior_rate, avg_minutes=prior_minutes)
    updated = with_track_record(original, record, prior_rate, prior_minutes)
    assert updated.metadata.success_rate == pytest.approx(rate)
    assert updated.metadata.avg_resolution_time_minutes == pytest.approx(minutes)
    assert updated.metadata.feedback_count == record.count
    assert updated.decision_tree == original.decision_tree
    assert original.metadata.feedback_count == 0  # the original is untouched (structs are frozen)


def test_blend_uses_the_given_priors_not_the_runbooks_current_values() -> None:
    original = runbook(success_rate=0.9, avg_minutes=30.0)
    once = with_track_record(original, TrackRecord(1, 0.0, 60.0), 0.9, 30.0)
    twice = with_track_record(once, TrackRecord(2, 0.0, 120.0), 0.9, 30.0)
    assert twice.metadata.success_rate == pytest.approx(4.5 / 7)
    assert twice == with_track_record(original, TrackRecord(2, 0.0, 120.0), 0.9, 30.0)


# --- SIGKILL durability -----------------------------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from services.retrieval.feedback import FeedbackStore
    from services.retrieval.schemas import FeedbackRequest

    async def main() -> None:
        store = await FeedbackStore.open(Path(sys.argv[1]))
        for i in range(int(sys.argv[2])):
            request = FeedbackRequest(
                runbook_id="rb-kill", procedure_id="p", outcome="success", resolution_time_minutes=float(i)
            )
            feedback_id, _ = await store.record(request)
            print(f"ACK {feedback_id}", flush=True)
        await asyncio.sleep(3600)

    asyncio.run(main())
    """
)


def _read_acks(proc: subprocess.Popen[str], wanted: int, deadline_s: float) -> list[int]:
    assert proc.stdout is not None
    acks: list[int] = []
    deadline = time.monotonic() + deadline_s
    while len(acks) < wanted:
        remaining = deadline - time.monotonic()
        ready, _, _ = select.select([proc.stdout], [], [], max(remaining, 0))
        if not ready:
            pytest.fail(f"child acknowledged only {len(acks)} writes in {deadline_s}s")
        line = proc.stdout.readline()
        if not line:
            pytest.fail(f"child exited early (code {proc.poll()}) after {len(acks)} acknowledgements")
        kind, value = line.split()
        assert kind == "ACK"
        acks.append(int(value))
    return acks


def _record_then_kill(path: Path, acknowledged: int) -> tuple[list[int], int]:
    """Run the child until it has acknowledged ``acknowledged`` writes, then SIGKILL it without warning."""
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), "500"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        bufsize=1,
    ) as proc:
        try:
            acks = _read_acks(proc, wanted=acknowledged, deadline_s=60)
        finally:
            os.kill(proc.pid, signal.SIGKILL)  # immediately: the writes after the last ACK may be mid-commit
            proc.wait()
    return acks, proc.returncode


async def test_acknowledged_feedback_survives_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "feedback.sqlite3"
    acks, returncode = await asyncio.to_thread(_record_then_kill, path, 25)
    assert returncode == -signal.SIGKILL
    async with await FeedbackStore.open(path) as reopened:
        record = await reopened.aggregate("rb-kill")
    with sqlite3.connect(path) as db:
        stored = {row[0] for row in db.execute("SELECT id FROM feedback")}
    db.close()
    assert set(acks) <= stored
    assert record.count == len(stored) >= len(acks)
