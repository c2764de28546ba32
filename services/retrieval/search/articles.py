"""Ranking knowledge-base articles for a free-text query.

Score = 0.5 × coverage + 0.5 × saturated BM25, where coverage is the share of the query's content words that the
article contains anywhere and BM25 (title ×3, tags ×2, summary ×1.5, category and content ×1) is saturated as
s / (s + 8). Both halves are absolute, so a query that matches one word of a long question scores low everywhere
instead of the best of a bad lot scoring 1.

Filters apply to documents: ``categories`` keeps articles whose category or one of whose tags is listed
(case-insensitive); ``max_age_days`` keeps articles updated within that many days of ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import msgspec

from services.retrieval.search.index import FullTextIndex
from services.retrieval.search.text import normalise_name, tokens, words

if TYPE_CHECKING:
    from collections.abc import Iterable

    from services.retrieval.schemas import Article, KnowledgeBaseRequest

__all__ = ("ArticleHit", "ArticleRanker", "RankedArticles")

_CANDIDATES = 200
MIN_SCORE = 0.1


class ArticleHit(msgspec.Struct, array_like=True, frozen=True):
    id: str
    score: float
    reasons: list[str]


class RankedArticles(msgspec.Struct, array_like=True, frozen=True):
    hits: list[ArticleHit]
    total: int


@dataclass(frozen=True, slots=True)
class _Profile:
    title: frozenset[str]
    tags: frozenset[str]
    category: str
    labels: frozenset[str]
    everything: frozenset[str]


def _profile(article: Article) -> _Profile:
    title = tokens(article.title)
    tags = tokens(article.tags)
    return _Profile(
        title=title,
        tags=tags,
        category=normalise_name(article.category),
        labels=frozenset(normalise_name(x) for x in [article.category, *article.tags]),
        everything=title | tags | tokens(article.category, article.summary, article.content),
    )


class ArticleRanker:
    def __init__(self, articles: Iterable[Article]) -> None:
        self._articles = sorted(articles, key=lambda a: a.id.lower())
        self._profiles = [_profile(a) for a in self._articles]
        self._index = FullTextIndex(
            ("title", "tags", "summary", "category", "content"),
            [
                {
                    "title": a.title,
                    "tags": " ".join(a.tags),
                    "summary": a.summary,
                    "category": a.category,
                    "content": a.content,
                }
                for a in self._articles
            ],
            boosts={"title": 3.0, "tags": 2.0, "summary": 1.5, "category": 1.0, "content": 1.0},
        )

    def rank(self, request: KnowledgeBaseRequest, now: datetime) -> RankedArticles:
        query = list(dict.fromkeys(words(request.query)))
        wanted = {normalise_name(c) for c in request.categories or ()}
        oldest = now - timedelta(days=request.max_age_days) if request.max_age_days else None
        hits = []
        for position, bm25 in self._index.search(query, _CANDIDATES):
            article, profile = self._articles[position], self._profiles[position]
            if wanted and not wanted & profile.labels:
                continue
            if oldest is not None and article.last_updated < oldest:
                continue
            found = [w for w in query if w in profile.everything]
            score = 0.5 * len(found) / len(query) + 0.5 * bm25 / (bm25 + 8.0)
            if score >= MIN_SCORE:
                hits.append(ArticleHit(article.id, round(min(score, 1.0), 4), _reasons(profile, found, wanted)))
        hits.sort(key=lambda h: (-h.score, h.id))
        return RankedArticles(hits=hits[: request.max_results], total=len(hits))


def _reasons(profile: _Profile, found: list[str], wanted: set[str]) -> list[str]:
    reasons = []
    in_title = [w for w in found if w in profile.title]
    in_tags = [w for w in found if w in profile.tags]
    elsewhere = [w for w in found if w not in profile.title and w not in profile.tags]
    if in_title:
        reasons.append("title matches " + ", ".join(in_title))
    if in_tags:
        reasons.append("tagged " + ", ".join(in_tags))
    if elsewhere:
        reasons.append("mentions " + ", ".join(elsewhere[:6]))
    if wanted & profile.labels:
        reasons.append("in category " + ", ".join(sorted(wanted & profile.labels)))
    return reasons
