"""The service in process (no HTTP, in-process cache only): answers decode into their wire Structs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from services.retrieval.cache import MemoryCache, TieredCache
from services.retrieval.corpus.loader import load_corpus
from services.retrieval.feedback import FeedbackStore
from services.retrieval.schemas import FeedbackRequest, SearchRunbooksRequest, SearchRunbooksResponse
from services.retrieval.service import RetrievalService

if TYPE_CHECKING:
    from pathlib import Path


async def test_search_answer_is_a_search_runbooks_response_and_tracks_feedback(tmp_path: Path) -> None:
    corpus = load_corpus(None)
    store = await FeedbackStore.open(tmp_path / "feedback.sqlite3")
    try:
        service = RetrievalService(corpus, TieredCache(MemoryCache(100, 1 << 20), None, 60.0), store)
        request = SearchRunbooksRequest(alert_type="memory_pressure", severity="high", affected_systems=["java-app"])
        first = await service.search_runbooks(request)
        decoded = msgspec.json.decode(first.body, type=SearchRunbooksResponse, strict=True)
        top = decoded.runbooks[0].runbook
        assert top == corpus.runbook(top.id)
        assert decoded.total_results >= len(decoded.runbooks) > 0

        feedback = FeedbackRequest(
            runbook_id=top.id, procedure_id=top.procedures[0].id, outcome="success", resolution_time_minutes=3
        )
        await service.record_feedback(feedback)
        second = await service.search_runbooks(request)
        assert (first.cache, second.cache) == ("miss", "l1")
        again = msgspec.json.decode(second.body, type=SearchRunbooksResponse)
        updated = next(m.runbook for m in again.runbooks if m.runbook.id == top.id)
        assert updated.metadata.feedback_count == 1
        assert updated == corpus.runbook(top.id)
    finally:
        await store.aclose()
