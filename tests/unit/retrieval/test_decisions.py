from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from services.retrieval.decisions import evaluate_tree, select_context
from tests.support.builders import branch, runbook

if TYPE_CHECKING:
    from services.retrieval.schemas import Runbook

# Most specific first, as runbook authors are told to order branches.
MEMORY = runbook(
    branches=[
        branch("critical", 'severity == "critical" and memory_percent > 90', "restart_service", 0.9),
        branch("leak", "heap_growth_mb_per_hour > 100", "capture_heap_dump", 0.8),
        branch("pressure", "memory_percent > 80", "scale_out", 0.7),
    ],
    default_action="escalate",
)

CASES = [
    # id, alert, agent state, expected action, expected confidence
    ("first-match-wins", {"severity": "critical", "memory_percent": 95, "heap_growth_mb_per_hour": 500}, None,
     "restart_service", 0.9),
    ("later-branch", {"severity": "high", "memory_percent": 85, "heap_growth_mb_per_hour": 10}, None,
     "scale_out", 0.7),
    ("unknown-earlier-scales", {"severity": "high", "memory_percent": 85}, None, "scale_out", 0.56),
    ("two-unknown-earlier", {"memory_percent": 95}, None, "scale_out", 0.448),
    ("nothing-matched", {"severity": "low", "memory_percent": 10, "heap_growth_mb_per_hour": 0}, None,
     "escalate", 0.5),
    ("no-information", {"unrelated": 1}, None, "escalate", 0.3),
    ("skip-attempted", {"severity": "critical", "memory_percent": 95, "heap_growth_mb_per_hour": 0},
     {"attempted_actions": ["restart_service"]}, "scale_out", 0.7),
    ("skip-completed-step", {"severity": "critical", "memory_percent": 95, "heap_growth_mb_per_hour": 500},
     {"completed_steps": ["RESTART_SERVICE"]}, "capture_heap_dump", 0.8),
    ("all-matches-tried", {"severity": "high", "memory_percent": 85, "heap_growth_mb_per_hour": 0},
     {"attempted_actions": "scale_out"}, "escalate", 0.5),
    ("agent-state-fills-gap", {"severity": "high", "memory_percent": 85}, {"heap_growth_mb_per_hour": 150},
     "capture_heap_dump", 0.8),
    ("alert-wins-conflict", {"severity": "critical", "memory_percent": 95, "heap_growth_mb_per_hour": 0},
     {"memory_percent": 10, "severity": "low"}, "restart_service", 0.9),
]  # fmt: skip


@pytest.mark.parametrize(("alert", "state", "action", "confidence"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_recommendation(alert: dict[str, Any], state: dict[str, Any] | None, action: str, confidence: float) -> None:
    result = evaluate_tree(MEMORY, alert, state)
    assert result.recommended_action == action
    assert result.confidence == confidence
    if result.recommended_branch is None:
        assert action == MEMORY.decision_tree.default_action
    else:
        assert result.recommended_branch.action == action


def test_every_branch_is_reported_with_its_missing_names() -> None:
    result = evaluate_tree(MEMORY, {"severity": "high"}, None)
    assert [(e.branch_id, e.matched, e.missing) for e in result.evaluations] == [
        ("critical", False, ["memory_percent"]),  # decided by severity alone: False and unknown is False
        ("leak", None, ["heap_growth_mb_per_hour"]),
        ("pressure", None, ["memory_percent"]),
    ]
    assert result.runbook_id == MEMORY.id
    assert result.decision_tree == MEMORY.decision_tree


def test_skipping_does_not_change_the_evaluation() -> None:
    alert = {"severity": "critical", "memory_percent": 95, "heap_growth_mb_per_hour": 0}
    result = evaluate_tree(MEMORY, alert, {"attempted_actions": ["restart_service"]})
    assert result.evaluations[0].matched is True
    assert result.recommended_branch is not None
    assert result.recommended_branch.id == "pressure"


CONTEXT_APPLIED = [
    ("no-context", {}, None, False),
    ("irrelevant-context", {"other": 1}, {"other": 2}, False),
    ("decided-by-alert", {"memory_percent": 10}, None, True),
    ("decided-by-agent-state", {}, {"memory_percent": 10}, True),
    ("skip", {"severity": "critical", "memory_percent": 95}, {"attempted_actions": ["restart_service"]}, True),
]


@pytest.mark.parametrize(
    ("alert", "state", "applied"), [c[1:] for c in CONTEXT_APPLIED], ids=[c[0] for c in CONTEXT_APPLIED]
)
def test_context_applied(alert: dict[str, Any], state: dict[str, Any] | None, applied: bool) -> None:
    assert evaluate_tree(MEMORY, alert, state).context_applied is applied


def _tree_with_unknowns(unknown: int, confidence: float) -> Runbook:
    branches = [branch(f"u{i}", f"missing_{i} > 1") for i in range(unknown)]
    return runbook(branches=[*branches, branch("hit", "x == 1", "act", confidence)])


@pytest.mark.parametrize(
    ("unknown", "confidence", "expected"),
    [(1, 0.9, 0.72), (3, 0.9, 0.461), (12, 0.9, 0.1), (3, 0.05, 0.05), (0, 0.05, 0.05)],
    ids=["one", "three", "floored", "authored-below-floor", "authored-low"],
)
def test_confidence_scaling_and_floor(unknown: int, confidence: float, expected: float) -> None:
    assert evaluate_tree(_tree_with_unknowns(unknown, confidence), {"x": 1}, None).confidence == expected


def test_invalid_condition_counts_as_unknown() -> None:
    broken = runbook(branches=[branch("bad", "__import__('os')"), branch("ok", "x == 1", "act", 0.9)])
    result = evaluate_tree(broken, {"x": 1}, None)
    assert result.evaluations[0].matched is None
    assert result.recommended_action == "act"
    assert result.confidence == 0.72


SELECT = [
    ("canonical", {"alert_type": "memory_leak", "severity": "HIGH", "affected_systems": ["api", "db", "api"]},
     ("memory_leak", "high", ["api", "db"])),
    ("type-key", {"type": "disk_full", "severity": "critical", "system": "web-1"},
     ("disk_full", "critical", ["web-1"])),
    ("alert-key-and-hosts", {"alert": "cpu_high", "service": "api", "host": "node-7"},
     ("cpu_high", None, ["api", "node-7"])),
    ("severity-alias", {"alert_type": "x", "severity": "Warning"}, ("x", "medium", [])),
    ("p1-alias", {"alert_type": "x", "severity": "P1"}, ("x", "critical", [])),
    ("unknown-severity", {"alert_type": "x", "severity": "purple"}, ("x", None, [])),
    ("non-string-severity", {"alert_type": "x", "severity": 3}, ("x", None, [])),
    ("systems-as-string", {"affected_systems": "db"}, (None, None, ["db"])),
    ("empty-systems-fall-back", {"affected_systems": [], "host": "h1"}, (None, None, ["h1"])),
    ("blank-alert-type-skipped", {"alert_type": " ", "type": "real"}, ("real", None, [])),
    ("empty", {}, (None, None, [])),
]  # fmt: skip


@pytest.mark.parametrize(("alert", "expected"), [c[1:] for c in SELECT], ids=[c[0] for c in SELECT])
def test_select_context(alert: dict[str, Any], expected: tuple[str | None, str | None, list[str]]) -> None:
    assert select_context(alert) == expected
