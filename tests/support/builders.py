"""Small corpus documents for unit tests, built in code so each test shows exactly the data it depends on.

Every builder fills the fields a test does not care about with valid defaults; pass only what matters.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from services.retrieval.corpus.model import Corpus, Roster, Team
from services.retrieval.schemas import (
    Contact,
    DecisionBranch,
    DecisionTree,
    ProcedureStep,
    Runbook,
    RunbookMetadata,
)

__all__ = ("branch", "contact", "corpus", "roster", "runbook", "standard_roster", "step", "team")

EPOCH = datetime(2025, 1, 1, tzinfo=UTC)


def branch(branch_id: str, condition: str, action: str | None = None, confidence: float = 0.9) -> DecisionBranch:
    return DecisionBranch(
        id=branch_id,
        condition=condition,
        description=f"when {condition}",
        action=action or f"{branch_id}_action",
        confidence=confidence,
    )


def step(step_id: str, name: str | None = None, **fields: Any) -> ProcedureStep:
    return ProcedureStep(
        id=step_id,
        name=name or step_id.replace("_", " ").title(),
        description=f"do {step_id}",
        expected_outcome=f"{step_id} done",
        **fields,
    )


def runbook(
    runbook_id: str = "rb-memory",
    *,
    branches: list[DecisionBranch] | None = None,
    steps: list[ProcedureStep] | None = None,
    default_action: str = "escalate",
    escalation_path: str = "sre_oncall",
    success_rate: float | None = None,
    avg_minutes: float | None = None,
) -> Runbook:
    return Runbook(
        id=runbook_id,
        title=f"Runbook {runbook_id}",
        version="1.0",
        description="test runbook",
        triggers=["memory_usage_high"],
        alert_types=["memory_leak"],
        severity_mapping={"critical": "critical", "high": "high"},
        affected_systems=["java-app"],
        decision_tree=DecisionTree(
            id=f"{runbook_id}-tree",
            name="tree",
            description="test tree",
            branches=branches or [branch("always", "true")],
            default_action=default_action,
        ),
        procedures=steps or [step("diagnose")],
        escalation_path=escalation_path,
        metadata=RunbookMetadata(
            created_at=EPOCH,
            updated_at=EPOCH,
            author="tests",
            confidence_score=0.9,
            success_rate=success_rate,
            avg_resolution_time_minutes=avg_minutes,
        ),
    )


def contact(name: str, availability: Literal["24x7", "business_hours"] = "24x7") -> Contact:
    return Contact(name=name, contact=f"{name.lower().replace(' ', '.')}@example.com", availability=availability)


def team(
    team_id: str,
    level: int,
    *,
    availability: Literal["24x7", "business_hours"] = "24x7",
    response_time_minutes: int = 5,
    escalates_to: str | None = None,
    after_hours_fallback: str | None = None,
    contacts: list[Contact] | None = None,
) -> Team:
    return Team(
        id=team_id,
        name=team_id.replace("_", " ").title(),
        level=level,
        availability=availability,
        response_time_minutes=response_time_minutes,
        contacts=contacts if contacts is not None else [contact(f"{team_id} pager", availability)],
        escalates_to=escalates_to,
        after_hours_fallback=after_hours_fallback,
    )


def roster(*teams: Team) -> Roster:
    return Roster(teams=list(teams))


def standard_roster() -> Roster:
    """A realistic roster: first line → L2 (office hours) → SRE on-call → engineering manager; a DBA team.

    ``l2_support`` and ``dba`` work business hours and fall back to ``sre_oncall``; the engineering manager has a
    24x7 pager and an office-hours contact, so out-of-hours contact filtering is visible.
    """
    return roster(
        team("l1_support", 1, response_time_minutes=5, escalates_to="l2_support"),
        team(
            "l2_support",
            2,
            availability="business_hours",
            response_time_minutes=15,
            escalates_to="sre_oncall",
            after_hours_fallback="sre_oncall",
        ),
        team("sre_oncall", 2, response_time_minutes=10, escalates_to="engineering_manager"),
        team(
            "dba",
            2,
            availability="business_hours",
            response_time_minutes=30,
            escalates_to="sre_oncall",
            after_hours_fallback="sre_oncall",
        ),
        team(
            "engineering_manager",
            3,
            response_time_minutes=20,
            contacts=[contact("Manager Pager"), contact("Manager Desk", "business_hours")],
        ),
        team("incident_commander", 4, response_time_minutes=5),
    )


def corpus(*runbooks: Runbook, teams: Roster | None = None) -> Corpus:
    return Corpus(
        root=None,
        runbooks={rb.id.lower(): rb for rb in runbooks},
        articles={},
        roster=teams or standard_roster(),
    )
