"""Evaluating a runbook's decision tree against an alert: the logic behind ``get_decision_tree``.

The rules, in the order they apply:

1. **Context.** Conditions see the alert context merged with the agent state; on a key present in both, the
   alert wins, because it is the fresher observation of the system.
2. **Every branch is evaluated, in order**, into a :class:`BranchEvaluation`: ``matched`` is True, False, or None
   when the context cannot decide (a name is missing, or values are incomparable); ``missing`` lists the names the
   agent could supply to decide it. Reporting all of them, not only the winner, tells the agent what to look at.
3. **Recommendation.** The first branch that matched True wins, except a branch whose ``action`` the agent already
   tried: the agent state's ``attempted_actions`` and ``completed_steps`` (lists of action or step ids, compared
   case-insensitively) are skipped, so an agent that reports progress is moved on to the next option instead of
   being told to repeat itself.
4. **Confidence.** The winner's own confidence, times 0.8 for every *unknown* branch before it: branches are
   ordered most specific first, so an undecided earlier branch might have been the right one. The scaling never
   goes below 0.1 (nor raises a branch authored below that). With no winner the tree's ``default_action`` is
   recommended, at 0.3 when no condition could be decided at all (the answer is a guess) and 0.5 otherwise (the
   specific cases were ruled out, or already tried). Confidence is rounded to 3 decimals.
5. **context_applied** is True when the context decided at least one condition or the agent state caused a skip;
   it is False only when the answer would have been the same with no context at all.

A condition that does not compile (the loader should have rejected the runbook) is treated as unknown and logged,
so one bad branch degrades one answer instead of failing the tool.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Final, get_args

from services.retrieval.conditions import Condition, ConditionError, compile_condition
from services.retrieval.schemas import (
    BranchEvaluation,
    DecisionBranch,
    DecisionTreeResponse,
    Runbook,
    Severity,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = ("evaluate_tree", "select_context")

logger = logging.getLogger(__name__)

UNKNOWN_PENALTY: Final = 0.8
CONFIDENCE_FLOOR: Final = 0.1
NO_MATCH_CONFIDENCE: Final = 0.5
NO_INFORMATION_CONFIDENCE: Final = 0.3
TRIED_KEYS: Final = ("attempted_actions", "completed_steps")

_SEVERITIES: Final = frozenset(get_args(Severity))
_SEVERITY_ALIASES: Final[Mapping[str, str]] = {
    "crit": "critical",
    "fatal": "critical",
    "emergency": "critical",
    "p1": "critical",
    "sev1": "critical",
    "error": "high",
    "major": "high",
    "p2": "high",
    "sev2": "high",
    "warning": "medium",
    "warn": "medium",
    "minor": "medium",
    "p3": "medium",
    "sev3": "medium",
    "p4": "low",
    "sev4": "low",
    "informational": "info",
    "notice": "info",
    "p5": "info",
    "sev5": "info",
}
_ALERT_TYPE_KEYS: Final = ("alert_type", "type", "alert")
_SYSTEM_KEYS: Final = ("system", "service", "host")


def evaluate_tree(
    runbook: Runbook, alert_context: Mapping[str, Any], agent_state: Mapping[str, Any] | None
) -> DecisionTreeResponse:
    tree = runbook.decision_tree
    state = agent_state or {}
    context = {**state, **alert_context}
    tried = _tried(state)
    evaluations = [_evaluate(branch, context) for branch in tree.branches]
    winner, skipped = _winner(tree.branches, evaluations, tried)
    decided = any(evaluation.matched is not None for evaluation in evaluations)
    if winner is None:
        action = tree.default_action
        confidence = NO_MATCH_CONFIDENCE if decided else NO_INFORMATION_CONFIDENCE
    else:
        action = tree.branches[winner].action
        confidence = _scaled(tree.branches[winner].confidence, evaluations[:winner])
    return DecisionTreeResponse(
        runbook_id=runbook.id,
        decision_tree=tree,
        recommended_branch=None if winner is None else tree.branches[winner],
        recommended_action=action,
        confidence=round(confidence, 3),
        evaluations=evaluations,
        context_applied=decided or skipped,
    )


def select_context(alert_context: Mapping[str, Any]) -> tuple[str | None, str | None, list[str]]:
    """Pull ``(alert_type, severity, affected_systems)`` out of a free-form alert, to pick a runbook for it.

    Alerts come from many monitoring tools, so several spellings are accepted: the alert type from ``alert_type``,
    ``type`` or ``alert``; the severity from ``severity``, lower-cased, with common aliases mapped (``warning`` →
    medium, ``P1``/``sev1`` → critical, ...) and anything else dropped, so the result is always a valid
    ``Severity`` or None; the systems from an ``affected_systems`` list (or string), else from ``system``,
    ``service`` and ``host``, in that order, without duplicates.
    """
    alert_types = (_text(alert_context.get(key)) for key in _ALERT_TYPE_KEYS)
    alert_type = next((text for text in alert_types if text is not None), None)
    return alert_type, _severity(alert_context.get("severity")), _systems(alert_context)


# --- evaluation ---------------------------------------------------------------------------------------------------


def _evaluate(branch: DecisionBranch, context: Mapping[str, Any]) -> BranchEvaluation:
    condition = _compile(branch)
    if condition is None:
        return BranchEvaluation(branch_id=branch.id, matched=None)
    return BranchEvaluation(
        branch_id=branch.id, matched=condition.evaluate(context), missing=condition.missing(context)
    )


def _compile(branch: DecisionBranch) -> Condition | None:
    try:
        return compile_condition(branch.condition)
    except ConditionError as exc:
        logger.warning("branch %r has an invalid condition, treated as unknown: %s", branch.id, exc)
        return None


def _winner(
    branches: list[DecisionBranch], evaluations: list[BranchEvaluation], tried: frozenset[str]
) -> tuple[int | None, bool]:
    """Index of the first matching branch not already tried, and whether a tried one was passed over."""
    skipped = False
    for index, (branch, evaluation) in enumerate(zip(branches, evaluations, strict=True)):
        if evaluation.matched is not True:
            continue
        if branch.action.casefold() in tried:
            skipped = True
            continue
        return index, skipped
    return None, skipped


def _scaled(confidence: float, earlier: Iterable[BranchEvaluation]) -> float:
    unknown = sum(1 for evaluation in earlier if evaluation.matched is None)
    if unknown == 0:
        return confidence
    return max(confidence * UNKNOWN_PENALTY**unknown, min(confidence, CONFIDENCE_FLOOR))


def _tried(state: Mapping[str, Any]) -> frozenset[str]:
    tried: set[str] = set()
    for key in TRIED_KEYS:
        value = state.get(key)
        items = [value] if isinstance(value, str) else value if isinstance(value, list | tuple) else []
        tried.update(str(item).casefold() for item in items if item is not None)
    return frozenset(tried)


# --- alert fields -------------------------------------------------------------------------------------------------


def _text(value: object) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _severity(value: object) -> str | None:
    text = _text(value)
    if text is None:
        return None
    word = text.casefold()
    if word in _SEVERITIES:
        return word
    return _SEVERITY_ALIASES.get(word)


def _systems(alert_context: Mapping[str, Any]) -> list[str]:
    declared = alert_context.get("affected_systems")
    if isinstance(declared, str):
        declared = [declared]
    if not (isinstance(declared, list) and declared):
        declared = [alert_context.get(key) for key in _SYSTEM_KEYS]
    systems: list[str] = []
    for candidate in declared:
        text = _text(candidate)
        if text is not None and text not in systems:
            systems.append(text)
    return systems
