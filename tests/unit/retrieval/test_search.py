"""Relevance of runbook and article search, judged on the shipped sample corpus."""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING

import pytest

from services.retrieval.corpus.loader import load_corpus
from services.retrieval.schemas import KnowledgeBaseRequest, SearchRunbooksRequest, Severity
from services.retrieval.search.articles import ArticleRanker
from services.retrieval.search.runbooks import RankedRunbooks, RunbookRanker

if TYPE_CHECKING:
    from services.retrieval.corpus.model import Corpus


@cache
def corpus() -> Corpus:
    return load_corpus(None)


@cache
def runbook_ranker() -> RunbookRanker:
    return RunbookRanker(corpus().runbooks.values())


@cache
def article_ranker() -> ArticleRanker:
    return ArticleRanker(corpus().articles.values())


def search(
    alert: str, severity: Severity = "high", systems: tuple[str, ...] = (), limit: int = 5, **context: object
) -> RankedRunbooks:
    request = SearchRunbooksRequest(
        alert_type=alert, severity=severity, affected_systems=list(systems), context=context or None, limit=limit
    )
    return runbook_ranker().rank(request, lambda rid: corpus().runbooks[rid].metadata.success_rate)


def alert_words(runbook_id: str) -> str:
    runbook = corpus().runbooks[runbook_id.lower()]
    return " ".join(runbook.alert_types + runbook.triggers + [runbook.title]).lower()


@pytest.mark.parametrize(
    ("alert", "severity", "systems", "family_word"),
    [
        ("memory_pressure", "high", ("java-app",), "memory"),
        ("memory_exhaustion", "critical", (), "memory"),
        ("service_down", "critical", ("payment-service",), "service"),
        ("disk_full", "high", ("postgres",), "disk"),
        ("database_slow", "high", ("postgres",), "database"),
        ("ssl_certificate", "critical", ("nginx",), "ssl"),
        ("cert_expired", "critical", (), "cert"),
        ("ddos_attack", "critical", (), "ddos"),
        ("authentication_failure", "high", (), "authentication"),
        ("load_balancer_failure", "critical", (), "load_balancer"),
        ("backup_failure", "medium", (), "backup"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_alert_family_ranks_first(alert: str, severity: Severity, systems: tuple[str, ...], family_word: str) -> None:
    ranked = search(alert, severity, systems)
    assert ranked.hits, f"{alert} found nothing"
    for hit in ranked.hits[:3]:
        assert family_word in alert_words(hit.id), f"{hit.id} is not a {family_word} runbook"


def test_java_service_prefers_jvm_runbooks() -> None:
    ranked = search("memory_pressure", "high", ("java-app",))
    top = corpus().runbooks[ranked.hits[0].id.lower()]
    systems = " ".join([*top.affected_systems, top.title, top.description]).lower()
    assert "java" in systems or "jvm" in systems
    assert any("java-app" in reason for reason in ranked.hits[0].reasons)


def test_scores_are_bounded_sorted_and_explained() -> None:
    ranked = search("memory_pressure", "high", ("java-app",), limit=50)
    scores = [hit.score for hit in ranked.hits]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert all(hit.reasons for hit in ranked.hits)
    assert ranked.total >= len(ranked.hits)


def test_severity_changes_the_score() -> None:
    def score_of(severity: Severity, runbook_id: str) -> float:
        return next(h.score for h in search("memory_pressure", severity, limit=50).hits if h.id == runbook_id)

    top = search("memory_pressure", "critical", limit=50).hits[0].id
    mapping = corpus().runbooks[top.lower()].severity_mapping
    candidates: tuple[Severity, ...] = ("info", "low", "medium", "high")
    uncovered = next((s for s in candidates if s not in mapping), None)
    if uncovered is None:
        pytest.fail("the sample corpus should have runbooks that do not cover every severity")
    assert score_of("critical", top) > score_of(uncovered, top)


def test_context_words_count() -> None:
    plain = search("service_down", "high", limit=50)
    with_context = search("service_down", "high", limit=50, service="kubernetes", symptom="crashloop")
    assert plain.hits and with_context.hits
    assert [h.id for h in plain.hits] != [h.id for h in with_context.hits] or plain.hits[0].score != with_context.hits[
        0
    ].score


def test_unknown_alert_finds_nothing() -> None:
    ranked = search("zorblax_quux", "info")
    assert ranked.hits == []
    assert ranked.total == 0


def test_success_rate_breaks_ties() -> None:
    request = SearchRunbooksRequest(alert_type="backup_failure", severity="high", affected_systems=[], limit=50)
    baseline = runbook_ranker().rank(request, lambda rid: 0.5)
    favourite = baseline.hits[-1].id.lower()
    boosted = runbook_ranker().rank(request, lambda rid: 1.0 if rid == favourite else 0.0)
    position = [h.id.lower() for h in boosted.hits].index(favourite)
    assert position < len(baseline.hits) - 1


def kb(query: str, **options: object) -> list[str]:
    request = KnowledgeBaseRequest(query=query, **options)  # type: ignore[arg-type]
    newest = max(a.last_updated for a in corpus().articles.values())
    ranked = article_ranker().rank(request, newest + timedelta(days=1))
    return [hit.id for hit in ranked.hits]


def article_text(article_id: str) -> str:
    article = corpus().articles[article_id.lower()]
    return " ".join([article.title, article.summary, *article.tags]).lower()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("SSL certificate expired", "certificate"),
        ("kubernetes pod restart troubleshooting", "kubernetes"),
        ("postgres slow queries", "postgres"),
        ("java heap memory leak", "heap"),
    ],
    ids=["ssl", "kubernetes", "postgres", "jvm"],
)
def test_knowledge_base_relevance(query: str, expected: str) -> None:
    ids = kb(query)
    assert ids, f"{query!r} found nothing"
    assert expected in article_text(ids[0])


def test_knowledge_base_filters_and_limits() -> None:
    category = next(iter(corpus().articles.values())).category
    ids = kb("troubleshooting guide", categories=[category.upper()], max_results=100)
    assert ids
    for article_id in ids:
        article = corpus().articles[article_id.lower()]
        assert category.lower() in [article.category.lower(), *(t.lower() for t in article.tags)]
    assert len(kb("troubleshooting", max_results=3)) == 3
    newest = max(a.last_updated for a in corpus().articles.values())
    recent = kb("troubleshooting monitoring security performance", max_age_days=60, max_results=100)
    assert recent
    assert all(corpus().articles[i.lower()].last_updated >= newest - timedelta(days=60) for i in recent)
    everything = kb("troubleshooting monitoring security performance", max_results=100)
    assert len(everything) > len(recent)
