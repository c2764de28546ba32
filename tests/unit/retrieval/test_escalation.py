from __future__ import annotations

from itertools import product
from typing import get_args

import pytest

from services.retrieval.errors import NotFoundError
from services.retrieval.escalation import escalation_path
from services.retrieval.schemas import EscalationRequest, EscalationResponse, Runbook, Severity
from tests.support.builders import contact, roster, runbook, standard_roster, team

ROSTER = standard_roster()
DB_RUNBOOK = runbook("db-slow", escalation_path="dba")


def _path(
    severity: Severity,
    *,
    business_hours: bool = True,
    failed: int = 0,
    book: Runbook | None = DB_RUNBOOK,
) -> EscalationResponse:
    request = EscalationRequest(
        severity=severity, business_hours=business_hours, failed_attempts=[f"attempt {i}" for i in range(failed)]
    )
    return escalation_path(ROSTER, request, book)


def _roles(response: EscalationResponse) -> list[str]:
    return [step.role for step in response.path]


SEVERITIES = [
    ("critical", "critical", True, DB_RUNBOOK, ["dba", "incident_commander", "sre_oncall", "engineering_manager"]),
    ("high", "high", True, DB_RUNBOOK, ["dba", "sre_oncall", "engineering_manager"]),
    ("medium", "medium", True, DB_RUNBOOK, ["l1_support", "dba", "sre_oncall", "engineering_manager"]),
    ("low", "low", True, DB_RUNBOOK, ["l1_support", "dba", "sre_oncall", "engineering_manager"]),
    ("info", "info", True, DB_RUNBOOK, ["l1_support", "dba", "sre_oncall", "engineering_manager"]),
    ("critical-no-runbook", "critical", True, None, ["sre_oncall", "incident_commander", "engineering_manager"]),
    ("high-no-runbook", "high", True, None, ["sre_oncall", "engineering_manager"]),
    ("low-no-runbook", "low", True, None, ["l1_support", "l2_support", "sre_oncall", "engineering_manager"]),
    ("high-after-hours", "high", False, DB_RUNBOOK, ["sre_oncall", "engineering_manager"]),
    ("medium-after-hours", "medium", False, DB_RUNBOOK, ["l1_support", "sre_oncall", "engineering_manager"]),
    ("low-no-runbook-after-hours", "low", False, None, ["l1_support", "sre_oncall", "engineering_manager"]),
    (
        "critical-after-hours",
        "critical",
        False,
        DB_RUNBOOK,
        ["sre_oncall", "incident_commander", "engineering_manager"],
    ),
]


@pytest.mark.parametrize(
    ("severity", "business_hours", "book", "roles"), [c[1:] for c in SEVERITIES], ids=[c[0] for c in SEVERITIES]
)
def test_path_by_severity_and_hours(
    severity: Severity, business_hours: bool, book: Runbook | None, roles: list[str]
) -> None:
    assert _roles(_path(severity, business_hours=business_hours, book=book)) == roles


def test_reasons_explain_each_step() -> None:
    response = _path("critical")
    reasons = [step.reason for step in response.path]
    assert reasons[0] == "owns runbook 'db-slow'"
    assert "incident commander" in reasons[1]
    assert reasons[2] == "next escalation after Dba"
    assert reasons[3] == "next escalation after Sre Oncall"
    assert _path("medium").path[0].reason == "first line for medium-severity alerts"


def test_out_of_hours_fallback_is_explained_and_contacts_filtered() -> None:
    response = _path("high", business_hours=False)
    assert (
        response.path[0].reason == "owns runbook 'db-slow'; out of hours: replaces Dba, which works business hours only"
    )
    manager = response.path[-1]
    assert [c.name for c in manager.contacts] == ["Manager Pager"]
    assert [c.name for c in _path("high").path[-1].contacts] == ["Manager Pager", "Manager Desk"]


FAILURES = [
    ("none", 0, ["l1_support", "dba", "sre_oncall", "engineering_manager"]),
    ("one", 1, ["dba", "sre_oncall", "engineering_manager"]),
    ("two", 2, ["sre_oncall", "engineering_manager"]),
    ("three-reaches-top", 3, ["engineering_manager"]),
    ("capped", 10, ["engineering_manager"]),
]


@pytest.mark.parametrize(("failed", "roles"), [c[1:] for c in FAILURES], ids=[c[0] for c in FAILURES])
def test_failed_attempts_move_the_entry_point_up(failed: int, roles: list[str]) -> None:
    assert _roles(_path("medium", failed=failed)) == roles


def test_failed_attempt_reasons() -> None:
    assert _path("medium", failed=2).path[0].reason.startswith("2 failed attempts: skipping L1 Support, Dba; ")
    assert _path("medium", failed=1).path[0].reason.startswith("1 failed attempt: skipping L1 Support; ")
    capped = _path("medium", failed=10).path[0].reason
    assert capped.startswith("10 failed attempts: the top of the escalation chain is reached")


def test_failures_raise_the_first_responders_level() -> None:
    levels = [_path("low", failed=failed, book=None).path[0].level for failed in range(4)]
    assert levels == sorted(levels)
    assert levels[0] < levels[-1]


def test_procedure_and_response_time() -> None:
    response = _path("medium", failed=1)
    assert response.procedure == [
        "Page Dba (dba pager <dba.pager@example.com>) now.",
        "Tell them what has already been tried: attempt 0.",
        "If no acknowledgement within 30 minutes, escalate to Sre Oncall "
        "(sre_oncall pager <sre_oncall.pager@example.com>).",
        "If no acknowledgement within 10 minutes, escalate to Engineering Manager "
        "(Manager Pager <manager.pager@example.com>, Manager Desk <manager.desk@example.com>).",
        "Engineering Manager is the last level of escalation: keep them engaged until the incident is resolved.",
    ]
    assert response.estimated_response_time_minutes == 30
    assert _path("medium").estimated_response_time_minutes == 5


def test_unknown_role_falls_back_to_sre_oncall() -> None:
    response = _path("high", book=runbook("typo", escalation_path="dbaa"))
    assert _roles(response) == ["sre_oncall", "engineering_manager"]
    assert (
        response.path[0].reason
        == "runbook 'typo' names role 'dbaa', which is not in the roster; falling back to sre_oncall"
    )


def test_unknown_role_without_sre_oncall_uses_the_lowest_level_team() -> None:
    small = roster(team("ops", 2), team("helpdesk", 1, escalates_to="ops"))
    request = EscalationRequest(severity="high", business_hours=True)
    response = escalation_path(small, request, runbook("x", escalation_path="ghost"))
    assert _roles(response) == ["helpdesk", "ops"]
    assert "falling back to helpdesk" in response.path[0].reason


def test_role_ids_are_case_insensitive() -> None:
    assert _roles(_path("high", book=runbook("x", escalation_path="DBA")))[0] == "dba"


def test_loops_and_dangling_links_end_the_chain() -> None:
    looping = roster(
        team("a", 1, escalates_to="b"), team("b", 2, escalates_to="a"), team("sre_oncall", 3, escalates_to="ghost")
    )
    request = EscalationRequest(severity="high", business_hours=True)
    assert _roles(escalation_path(looping, request, runbook("x", escalation_path="a"))) == ["a", "b"]
    assert _roles(escalation_path(looping, request, None)) == ["sre_oncall"]


def test_business_hours_team_without_fallback_stays_with_a_warning() -> None:
    office = roster(team("office", 1, availability="business_hours", contacts=[contact("Desk", "business_hours")]))
    response = escalation_path(office, EscalationRequest(severity="high", business_hours=False), None)
    assert _roles(response) == ["office"]
    assert "no after-hours fallback: it may not answer" in response.path[0].reason
    assert [c.name for c in response.path[0].contacts] == ["Desk"]


def test_empty_roster_is_not_found() -> None:
    with pytest.raises(NotFoundError, match="no teams"):
        escalation_path(roster(), EscalationRequest(severity="high", business_hours=True), None)


MATRIX = list(product(get_args(Severity), (True, False), (0, 1, 2, 5), (DB_RUNBOOK, None)))


@pytest.mark.parametrize(("severity", "business_hours", "failed", "book"), MATRIX)
def test_paths_are_never_empty_and_never_repeat_a_role(
    severity: Severity, business_hours: bool, failed: int, book: Runbook | None
) -> None:
    response = _path(severity, business_hours=business_hours, failed=failed, book=book)
    roles = _roles(response)
    assert roles
    assert len(roles) == len(set(roles))
    assert response.estimated_response_time_minutes == response.path[0].response_time_minutes
    assert len(response.procedure) >= len(roles) + 1
    if not business_hours:
        assert all(step.role not in {"dba", "l2_support"} for step in response.path)
