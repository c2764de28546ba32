"""The seven tool use cases: cache key → tiered cache → domain logic, answered as encoded JSON.

Answers are bytes because that is what the cache holds and what the route sends: a cache hit is served without
decoding and re-encoding the answer, except for runbook searches. Those cache the ranking (ids and scores) and fill
the runbooks in from the corpus on every answer, so feedback shows up in cached results at once without
invalidating them.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import msgspec
from opentelemetry import trace

from otel import contract
from services.retrieval.cache import TieredCache, cache_key
from services.retrieval.decisions import evaluate_tree, select_context
from services.retrieval.errors import InvalidRequestError, NotFoundError
from services.retrieval.escalation import escalation_path
from services.retrieval.feedback import FeedbackStore, TrackRecord, with_track_record
from services.retrieval.procedures import find_procedure, find_step
from services.retrieval.schemas import (
    ArticleMatch,
    DecisionTreeRequest,
    EscalationRequest,
    FeedbackRequest,
    FeedbackResponse,
    KnowledgeBaseRequest,
    KnowledgeBaseResponse,
    ListSourcesRequest,
    ListSourcesResponse,
    LoadError,
    ProcedureRequest,
    Runbook,
    SearchRunbooksRequest,
    Severity,
    SourceHealth,
    SourceInfo,
)
from services.retrieval.search.articles import ArticleRanker
from services.retrieval.search.runbooks import RankedRunbooks, RunbookRanker

if TYPE_CHECKING:
    from collections.abc import Callable

    from services.retrieval.corpus.model import Corpus

__all__ = ("Answer", "RetrievalService")

_encode = msgspec.json.Encoder().encode
_decode_ranking = msgspec.json.Decoder(RankedRunbooks).decode
_SEVERITIES: frozenset[str] = frozenset(("critical", "high", "medium", "low", "info"))


class _EncodedMatch(msgspec.Struct, frozen=True):
    """``RunbookMatch`` with the runbook already encoded: same JSON, without re-encoding ~4 KB per runbook per hit."""

    runbook: msgspec.Raw
    score: float
    match_reasons: list[str]


class _EncodedSearchResponse(msgspec.Struct, frozen=True):
    """Encodes exactly as ``SearchRunbooksResponse`` (a test decodes one into the other)."""

    runbooks: list[_EncodedMatch]
    total_results: int


@dataclass(frozen=True, slots=True)
class Answer:
    """An encoded answer and the cache tier that served it (None for tools that are not cached)."""

    body: bytes
    cache: str | None = None


class RetrievalService:
    def __init__(
        self,
        corpus: Corpus,
        cache: TieredCache,
        feedback: FeedbackStore,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._corpus = corpus
        self._cache = cache
        self._feedback = feedback
        self._now = now
        self._runbook_ranker = RunbookRanker(corpus.runbooks.values())
        self._article_ranker = ArticleRanker(corpus.articles.values())
        # The author's estimates, kept apart so feedback is always blended with the original prior.
        self._priors = {key: rb.metadata for key, rb in corpus.runbooks.items()}
        self._feedback_lock = asyncio.Lock()
        self._encoded: dict[str, tuple[Runbook, msgspec.Raw]] = {}
        self._tracer = trace.get_tracer(contract.INSTRUMENTATION_SCOPE)

    @property
    def corpus(self) -> Corpus:
        return self._corpus

    @property
    def cache(self) -> TieredCache:
        return self._cache

    @property
    def feedback(self) -> FeedbackStore:
        return self._feedback

    async def load_track_records(self) -> None:
        """Blend every stored feedback outcome into the runbooks' success rates (once, at start-up)."""
        for runbook_id, record in (await self._feedback.aggregates()).items():
            if runbook_id in self._corpus.runbooks:  # feedback for a runbook no longer in the corpus stays stored
                self._apply_track_record(runbook_id, record)

    # --- search_runbooks ----------------------------------------------------------------------------------------

    async def search_runbooks(self, request: SearchRunbooksRequest) -> Answer:
        async def compute() -> tuple[bytes, bool]:
            ranking = self._rank_runbooks(request)
            return _encode(ranking), ranking.total == 0

        result = await self._cache.get_or_compute("runbooks", cache_key("search_runbooks", request), compute)
        ranking = _decode_ranking(result.value)
        matches = []
        for hit in ranking.hits:
            encoded = self._encoded_runbook(hit.id)
            if encoded is not None:
                matches.append(_EncodedMatch(runbook=encoded, score=hit.score, match_reasons=hit.reasons))
        return Answer(_encode(_EncodedSearchResponse(runbooks=matches, total_results=ranking.total)), result.tier)

    def _encoded_runbook(self, runbook_id: str) -> msgspec.Raw | None:
        """The runbook's JSON, encoded once per version: feedback replaces the runbook object, which re-encodes it."""
        runbook = self._corpus.runbook(runbook_id)
        if runbook is None:
            return None
        cached = self._encoded.get(runbook_id)
        if cached is None or cached[0] is not runbook:
            cached = (runbook, msgspec.Raw(_encode(runbook)))
            self._encoded[runbook_id] = cached
        return cached[1]

    def _rank_runbooks(self, request: SearchRunbooksRequest) -> RankedRunbooks:
        with self._tracer.start_as_current_span(contract.SEARCH_SPAN.format(index="runbooks")) as span:
            ranking = self._runbook_ranker.rank(request, self._success_rate)
            span.set_attribute(contract.SEARCH_RESULTS, ranking.total)
        return ranking

    def _success_rate(self, runbook_id: str) -> float | None:
        runbook = self._corpus.runbooks.get(runbook_id)
        return None if runbook is None else runbook.metadata.success_rate

    # --- get_decision_tree --------------------------------------------------------------------------------------

    async def decision_tree(self, request: DecisionTreeRequest) -> Answer:
        async def compute() -> tuple[bytes, bool]:
            runbook = self._runbook_for_alert(request)
            return _encode(evaluate_tree(runbook, request.alert_context, request.current_agent_state)), False

        result = await self._cache.get_or_compute("decision_trees", cache_key("get_decision_tree", request), compute)
        return Answer(result.value, result.tier)

    def _runbook_for_alert(self, request: DecisionTreeRequest) -> Runbook:
        if request.runbook_id is not None:
            runbook = self._corpus.runbook(request.runbook_id)
            if runbook is None:
                raise NotFoundError(f"runbook '{request.runbook_id}' not found; search_runbooks returns valid ids")
            return runbook
        alert_type, severity, systems = select_context(request.alert_context)
        if not alert_type:
            raise InvalidRequestError(
                "alert_context needs an alert_type (or pass runbook_id) so a runbook can be chosen"
            )
        chosen: Severity = severity if severity in _SEVERITIES else "high"  # type: ignore[assignment]
        search = SearchRunbooksRequest(alert_type=alert_type[:200], severity=chosen, affected_systems=systems, limit=1)
        ranking = self._rank_runbooks(search)
        best = self._corpus.runbook(ranking.hits[0].id) if ranking.hits else None
        if best is None:
            raise NotFoundError(f"no runbook matches alert_type '{alert_type}'; pass runbook_id or a known alert type")
        return best

    # --- get_procedure ------------------------------------------------------------------------------------------

    async def procedure(self, request: ProcedureRequest) -> Answer:
        # The step does not depend on current_context, so it stays out of the key: one entry per step.
        key = cache_key("get_procedure", {"runbook_id": request.runbook_id, "step_name": request.step_name})

        async def compute() -> tuple[bytes, bool]:
            return _encode(find_procedure(self._corpus, request)), False

        result = await self._cache.get_or_compute("procedures", key, compute)
        return Answer(result.value, result.tier)

    # --- get_escalation_path ------------------------------------------------------------------------------------

    async def escalation(self, request: EscalationRequest) -> Answer:
        runbook = None
        if request.runbook_id is not None:
            runbook = self._corpus.runbook(request.runbook_id)
            if runbook is None:
                raise NotFoundError(f"runbook '{request.runbook_id}' not found; search_runbooks returns valid ids")
        elif request.alert_type:
            search = SearchRunbooksRequest(
                alert_type=request.alert_type, severity=request.severity, affected_systems=[], limit=1
            )
            ranking = self._rank_runbooks(search)
            runbook = self._corpus.runbook(ranking.hits[0].id) if ranking.hits else None
        return Answer(_encode(escalation_path(self._corpus.roster, request, runbook)))

    # --- list_sources -------------------------------------------------------------------------------------------

    async def list_sources(self, request: ListSourcesRequest) -> Answer:
        corpus = self._corpus
        now = self._now()
        errors: dict[str, list[LoadError]] = {"runbooks": [], "knowledge_base": [], "roster": []}
        for error in corpus.errors if request.include_health else ():
            source = "runbooks" if error.path.startswith("runbooks") else "roster"
            if error.path.startswith("knowledge-base"):
                source = "knowledge_base"
            errors[source].append(error)

        def corpus_source(name: str, count: int, probe: Callable[[], object]) -> SourceInfo:
            health = None
            if request.include_health:
                started = time.perf_counter()
                probe()
                elapsed = (time.perf_counter() - started) * 1000
                health = SourceHealth(
                    healthy=count > 0, response_time_ms=round(elapsed, 3), last_check=now, errors=errors[name]
                )
            return SourceInfo(
                name=name,
                type="corpus",
                enabled=True,
                document_count=count,
                last_indexed=corpus.loaded_at,
                health=health,
            )

        probe_runbooks = SearchRunbooksRequest(alert_type="service_down", severity="high", affected_systems=[])
        probe_articles = KnowledgeBaseRequest(query="troubleshooting")
        sources = [
            corpus_source("runbooks", len(corpus.runbooks), lambda: self._rank_runbooks(probe_runbooks)),
            corpus_source(
                "knowledge_base", len(corpus.articles), lambda: self._article_ranker.rank(probe_articles, now)
            ),
            corpus_source("roster", len(corpus.roster.teams), lambda: corpus.roster.by_id()),
            await self._feedback_source(request.include_health, now),
        ]
        return Answer(_encode(ListSourcesResponse(sources=sources)))

    async def _feedback_source(self, include_health: bool, now: datetime) -> SourceInfo:
        count = await self._feedback.count()
        health = None
        if include_health:
            started = time.perf_counter()
            healthy = await self._feedback.ping()
            elapsed = (time.perf_counter() - started) * 1000
            health = SourceHealth(healthy=healthy, response_time_ms=round(elapsed, 3), last_check=now)
        return SourceInfo(
            name="feedback", type="sqlite", enabled=True, document_count=count, last_indexed=None, health=health
        )

    # --- search_knowledge_base ----------------------------------------------------------------------------------

    async def search_knowledge_base(self, request: KnowledgeBaseRequest) -> Answer:
        async def compute() -> tuple[bytes, bool]:
            with self._tracer.start_as_current_span(contract.SEARCH_SPAN.format(index="knowledge_base")) as span:
                ranking = self._article_ranker.rank(request, self._now())
                span.set_attribute(contract.SEARCH_RESULTS, ranking.total)
            results = []
            for hit in ranking.hits:
                article = self._corpus.articles[hit.id.lower()]
                results.append(
                    ArticleMatch(
                        id=article.id,
                        title=article.title,
                        category=article.category,
                        summary=article.summary,
                        content=article.content,
                        tags=article.tags,
                        last_updated=article.last_updated,
                        source=article.source,
                        score=hit.score,
                        match_reasons=hit.reasons,
                    )
                )
            response = KnowledgeBaseResponse(results=results, total_results=ranking.total)
            return _encode(response), ranking.total == 0

        key = cache_key("search_knowledge_base", request)
        result = await self._cache.get_or_compute("knowledge_base", key, compute)
        return Answer(result.value, result.tier)

    # --- record_resolution_feedback -----------------------------------------------------------------------------

    async def record_feedback(self, request: FeedbackRequest) -> Answer:
        runbook = self._corpus.runbook(request.runbook_id)
        if runbook is None:
            raise NotFoundError(f"runbook '{request.runbook_id}' not found; search_runbooks returns valid ids")
        if find_step(runbook, request.procedure_id) is None:
            steps = ", ".join(step.id for step in runbook.procedures)
            raise NotFoundError(
                f"procedure '{request.procedure_id}' not found in runbook '{runbook.id}'; available steps: {steps}"
            )
        async with self._feedback_lock:  # record and re-aggregate in order, so the newest count wins
            feedback_id, recorded_at = await self._feedback.record(request)
            record = await self._feedback.aggregate(runbook.id)
            updated = self._apply_track_record(runbook.id.lower(), record)
        response = FeedbackResponse(
            feedback_id=feedback_id,
            recorded_at=recorded_at,
            runbook_id=runbook.id,
            success_rate=updated.metadata.success_rate or 0.0,
            feedback_count=updated.metadata.feedback_count,
        )
        return Answer(_encode(response))

    def _apply_track_record(self, runbook_id: str, record: TrackRecord) -> Runbook:
        current = self._corpus.runbooks.get(runbook_id)
        if current is None:  # feedback for a runbook that has since left the corpus
            raise NotFoundError(f"runbook '{runbook_id}' not found")
        prior = self._priors[runbook_id]
        updated = with_track_record(current, record, prior.success_rate, prior.avg_resolution_time_minutes)
        self._corpus.replace_runbook(updated)
        return updated
