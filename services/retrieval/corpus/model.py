"""The loaded corpus: runbooks, knowledge-base articles and the team roster, held in memory.

Documents are immutable Structs; the only thing that changes after loading is a runbook's track record, which
``Corpus.replace_runbook`` swaps in whole so readers never see a half-updated runbook.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

import msgspec

from services.retrieval.schemas import Article, Contact, LoadError, Runbook

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ("Corpus", "Roster", "Team")


class Team(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """A role in the escalation roster.

    ``level`` orders escalation (1 = first line). A ``business_hours`` team is not paged out of hours; its
    ``after_hours_fallback`` role is paged instead. ``escalates_to`` is the next role when this one has failed.
    """

    id: str
    name: str
    level: int
    availability: Literal["24x7", "business_hours"]
    response_time_minutes: int
    contacts: list[Contact]
    escalates_to: str | None = None
    after_hours_fallback: str | None = None


class Roster(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    teams: list[Team]

    def by_id(self) -> dict[str, Team]:
        return {team.id: team for team in self.teams}


@dataclass
class Corpus:
    """Everything the tools answer from. Lookups by id are case-insensitive (keys are lower-cased ids)."""

    root: Path | None
    runbooks: dict[str, Runbook]
    articles: dict[str, Article]
    roster: Roster
    errors: list[LoadError] = field(default_factory=list)
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def runbook(self, runbook_id: str) -> Runbook | None:
        return self.runbooks.get(runbook_id.lower())

    def replace_runbook(self, runbook: Runbook) -> None:
        self.runbooks[runbook.id.lower()] = runbook
