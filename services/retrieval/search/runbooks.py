"""Ranking runbooks for an alert.

A runbook's match score is a weighted sum of five signals, each in [0, 1], so the score is in [0, 1] and means the
same thing across queries (the original used the runbook's static confidence instead, so "best" never depended on the
alert):

============  ======  =========================================================================================
signal        weight  value
============  ======  =========================================================================================
alert type     0.40   1 when the alert type is one of the runbook's ``alert_types``; 0.85 when it is one of its
                      ``triggers``; otherwise 0.6 × the share of the alert's words found in its alert types/triggers
systems        0.20   mean over the requested systems of 1 (named by the runbook), 0.7 (shares a distinctive word
                      with one, e.g. ``java-service`` ~ ``java-app``), 0.4 (mentioned in its text), else 0
severity       0.15   1 when ``severity_mapping`` covers the severity, 0.4 when it covers the next one, else 0
text           0.15   BM25 of alert, systems and context words over title, alert types, triggers, systems and body,
                      saturated as s / (s + 6)
track record   0.10   the runbook's success rate (updated from resolution feedback), 0.5 when unknown
============  ======  =========================================================================================

Runbooks scoring below ``MIN_SCORE`` are not results: a severity and a track record alone are not a match.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from services.retrieval.search.index import FullTextIndex
from services.retrieval.search.text import normalise_name, tokens, words

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from services.retrieval.schemas import Runbook, SearchRunbooksRequest, Severity

__all__ = ("MIN_SCORE", "RankedHit", "RankedRunbooks", "RunbookRanker")

MIN_SCORE = 0.25
_SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low", "info")
_GENERIC_SYSTEM_WORDS = frozenset(
    [
        "service",
        "server",
        "app",
        "application",
        "system",
        "host",
        "node",
        "instance",
        "prod",
        "production",
        "cluster",
        "primary",
        "replica",
    ]
)
_CANDIDATES = 100


class RankedHit(msgspec.Struct, array_like=True, frozen=True):
    id: str
    score: float
    reasons: list[str]


class RankedRunbooks(msgspec.Struct, array_like=True, frozen=True):
    """What the cache keeps for a runbook search: ids and scores, not runbooks.

    Runbooks are filled in from the corpus when the answer is served, so a cached ranking still shows each
    runbook's current success rate after feedback has changed it.
    """

    hits: list[RankedHit]
    total: int


@dataclass(frozen=True, slots=True)
class _Profile:
    alert_types: frozenset[str]
    triggers: frozenset[str]
    alert_words: frozenset[str]
    systems: frozenset[str]
    system_words: frozenset[str]
    text_words: frozenset[str]
    mention_words: frozenset[str]
    """Text words that are not alert words: what a "mentions ..." reason may name."""
    severities: Mapping[str, Severity]


def _profile(runbook: Runbook) -> _Profile:
    systems = frozenset(normalise_name(s) for s in runbook.affected_systems)
    alert_words = tokens(runbook.alert_types, runbook.triggers)
    text_words = tokens(runbook.title, runbook.description, runbook.affected_systems, runbook.triggers)
    return _Profile(
        alert_types=frozenset(normalise_name(a) for a in runbook.alert_types),
        triggers=frozenset(normalise_name(t) for t in runbook.triggers),
        alert_words=alert_words,
        systems=systems,
        system_words=tokens(runbook.affected_systems) - _GENERIC_SYSTEM_WORDS,
        text_words=text_words,
        mention_words=text_words - alert_words,
        severities={k.lower(): v for k, v in runbook.severity_mapping.items()},
    )


def _document(runbook: Runbook) -> dict[str, str]:
    body = [runbook.description, runbook.decision_tree.description]
    body += [f"{step.name} {step.description}" for step in runbook.procedures]
    return {
        "title": runbook.title,
        "alerts": " ".join(runbook.alert_types),
        "triggers": " ".join(runbook.triggers),
        "systems": " ".join(runbook.affected_systems),
        "body": " ".join(body),
    }


def _context_words(context: Mapping[str, Any] | None) -> list[str]:
    if not context:
        return []
    out: list[str] = []
    for key, value in context.items():
        out += words(key)
        values = value if isinstance(value, list) else [value]
        out += [w for v in values if isinstance(v, str) for w in words(v)]
    return out


class RunbookRanker:
    """Scores every plausible runbook for an alert; built once per corpus."""

    def __init__(self, runbooks: Iterable[Runbook]) -> None:
        self._runbooks = sorted(runbooks, key=lambda rb: rb.id.lower())
        self._ids = [rb.id.lower() for rb in self._runbooks]
        self._profiles = [_profile(rb) for rb in self._runbooks]
        self._by_alert: dict[str, list[int]] = {}
        for position, profile in enumerate(self._profiles):
            for name in profile.alert_types | profile.triggers:
                self._by_alert.setdefault(name, []).append(position)
        self._index = FullTextIndex(
            ("title", "alerts", "triggers", "systems", "body"),
            [_document(rb) for rb in self._runbooks],
            boosts={"title": 2.0, "alerts": 3.0, "triggers": 2.0, "systems": 1.5, "body": 1.0},
        )

    def rank(self, request: SearchRunbooksRequest, success_rate: Callable[[str], float | None]) -> RankedRunbooks:
        """Rank for ``request``; ``success_rate`` gives a runbook's current success rate by lower-cased id."""
        query = _Query.of(request)
        bm25 = dict(self._index.search(query.words, _CANDIDATES))
        candidates = set(bm25) | set(self._by_alert.get(query.alert, ()))
        hits = []
        for position in candidates:
            profile = self._profiles[position]
            score, reasons = _score(profile, query, bm25.get(position, 0.0), success_rate(self._ids[position]))
            if score >= MIN_SCORE:
                hits.append(RankedHit(self._runbooks[position].id, round(score, 4), reasons))
        hits.sort(key=lambda h: (-h.score, h.id))
        return RankedRunbooks(hits=hits[: request.limit], total=len(hits))


@dataclass(frozen=True, slots=True)
class _System:
    given: str
    name: str
    distinctive: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Query:
    """What scoring needs from a request, worked out once per search rather than once per candidate."""

    alert: str
    alert_words: frozenset[str]
    severity: Severity
    systems: tuple[_System, ...]
    words: list[str]
    word_set: frozenset[str]

    @classmethod
    def of(cls, request: SearchRunbooksRequest) -> _Query:
        systems = tuple(
            _System(s.strip(), normalise_name(s), tokens(s) - _GENERIC_SYSTEM_WORDS)
            for s in request.affected_systems
            if s.strip()
        )
        query_words = words(request.alert_type) + [w for s in request.affected_systems for w in words(s)]
        query_words += _context_words(request.context)
        return cls(
            alert=normalise_name(request.alert_type),
            alert_words=tokens(request.alert_type),
            severity=request.severity,
            systems=systems,
            words=query_words,
            word_set=frozenset(query_words),
        )


def _score(profile: _Profile, query: _Query, bm25: float, success_rate: float | None) -> tuple[float, list[str]]:
    reasons: list[str] = []
    alert_score = _alert_score(profile, query, reasons)
    system_score = _system_score(profile, query.systems, reasons)
    severity_score = _severity_score(profile, query.severity, reasons)
    text_score = bm25 / (bm25 + 6.0)
    mentioned = sorted(query.word_set & profile.mention_words)
    if mentioned:
        reasons.append("mentions " + ", ".join(mentioned[:5]))
    record = 0.5 if success_rate is None else success_rate
    if success_rate is not None and success_rate >= 0.9:
        reasons.append(f"proven fix (success rate {success_rate:.0%})")
    total = 0.40 * alert_score + 0.20 * system_score + 0.15 * severity_score + 0.15 * text_score + 0.10 * record
    return min(total, 1.0), reasons


def _alert_score(profile: _Profile, query: _Query, reasons: list[str]) -> float:
    if query.alert in profile.alert_types:
        reasons.append(f"handles alert type {query.alert}")
        return 1.0
    if query.alert in profile.triggers:
        reasons.append(f"triggered by {query.alert}")
        return 0.85
    shared = query.alert_words & profile.alert_words
    if not shared:
        return 0.0
    reasons.append("related alert type (" + ", ".join(sorted(shared)) + ")")
    return 0.6 * len(shared) / len(query.alert_words)


def _system_score(profile: _Profile, systems: Sequence[_System], reasons: list[str]) -> float:
    if not systems:
        return 0.0
    total = 0.0
    named: list[str] = []
    for system in systems:
        if system.name in profile.systems:
            total += 1.0
        elif system.distinctive & profile.system_words:
            total += 0.7
        elif system.distinctive & profile.text_words:
            total += 0.4
        else:
            continue
        named.append(system.given)
    if named:
        reasons.append("affects " + ", ".join(named))
    return total / len(systems)


def _severity_score(profile: _Profile, severity: Severity, reasons: list[str]) -> float:
    if severity in profile.severities:
        treated = profile.severities[severity]
        reasons.append(f"covers {severity} severity" + (f" (treated as {treated})" if treated != severity else ""))
        return 1.0
    rank = _SEVERITIES.index(severity)
    neighbours = {_SEVERITIES[i] for i in (rank - 1, rank + 1) if 0 <= i < len(_SEVERITIES)}
    return 0.4 if neighbours & profile.severities.keys() else 0.0
