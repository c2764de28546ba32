"""Wire shapes of the retrieval service's internal ``/v1`` API.

This is the one module the gateway imports: every request and response the two services exchange is defined here
once, and the same Structs describe the corpus documents (a runbook on disk has the shape of a runbook on the wire).
Inputs forbid unknown fields so a misspelt argument is an error that names it, not a silently ignored key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

__all__ = (
    "TOOL_PATHS",
    "Article",
    "ArticleMatch",
    "BranchEvaluation",
    "CacheStats",
    "Contact",
    "DecisionBranch",
    "DecisionTree",
    "DecisionTreeRequest",
    "DecisionTreeResponse",
    "ErrorResponse",
    "EscalationRequest",
    "EscalationResponse",
    "EscalationStep",
    "FeedbackRequest",
    "FeedbackResponse",
    "HealthCheck",
    "HealthResponse",
    "KnowledgeBaseRequest",
    "KnowledgeBaseResponse",
    "ListSourcesRequest",
    "ListSourcesResponse",
    "LoadError",
    "Outcome",
    "ProcedureRequest",
    "ProcedureResponse",
    "ProcedureStep",
    "Runbook",
    "RunbookMatch",
    "RunbookMetadata",
    "SearchRunbooksRequest",
    "SearchRunbooksResponse",
    "Severity",
    "SourceHealth",
    "SourceInfo",
    "TierStats",
)

Severity = Literal["critical", "high", "medium", "low", "info"]
"""Alert severity, most to least urgent."""

Outcome = Literal["success", "partial_success", "failure", "escalated"]
"""How an incident resolution went, as reported by the agent that followed a runbook."""

Score = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
ShortText = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
JsonObject = dict[str, Any]
"""Free-form alert context: metric values, labels, service names. Values are JSON scalars or lists of them."""


# --- corpus documents -------------------------------------------------------------------------------------------


class DecisionBranch(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """One branch of a decision tree.

    ``condition`` is an expression over the alert context (see ``services.retrieval.conditions``), for example
    ``severity == "critical" and memory_percent > 90``.
    """

    id: Name
    condition: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    description: str
    action: Name
    confidence: Score
    next_step: str | None = None
    rollback_step: str | None = None


class DecisionTree(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    id: Name
    name: str
    description: str
    branches: Annotated[list[DecisionBranch], msgspec.Meta(min_length=1)]
    default_action: Name


class ProcedureStep(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    id: Name
    name: str
    description: str
    expected_outcome: str
    command: str | None = None
    timeout_seconds: Annotated[int, msgspec.Meta(ge=1, le=86_400)] = 300
    prerequisites: list[str] = []
    rollback_procedure: str | None = None
    tools_required: list[str] = []


class RunbookMetadata(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Authorship and track record.

    ``success_rate`` starts as the author's estimate and is updated from recorded resolution feedback;
    ``feedback_count`` says how many outcomes it has absorbed.
    """

    created_at: datetime
    updated_at: datetime
    author: str
    confidence_score: Score
    success_rate: Score | None = None
    avg_resolution_time_minutes: Annotated[float, msgspec.Meta(ge=0)] | None = None
    feedback_count: Annotated[int, msgspec.Meta(ge=0)] = 0


class Runbook(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """An incident-response runbook.

    ``alert_types`` are the alert names it answers (the primary match key); ``triggers`` the symptoms that should
    bring it up; ``severity_mapping`` maps an incoming alert severity to the severity this runbook treats it as
    (a runbook without a key for a severity does not cover it); ``escalation_path`` is a role id in the roster.
    """

    id: Name
    title: ShortText
    version: str
    description: str
    triggers: list[str]
    alert_types: Annotated[list[str], msgspec.Meta(min_length=1)]
    severity_mapping: dict[str, Severity]
    affected_systems: list[str]
    decision_tree: DecisionTree
    procedures: Annotated[list[ProcedureStep], msgspec.Meta(min_length=1)]
    escalation_path: Name
    metadata: RunbookMetadata


class Article(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """A knowledge-base article; ``content`` is Markdown."""

    id: Name
    title: ShortText
    category: Name
    content: str
    last_updated: datetime
    summary: str = ""
    tags: list[str] = []
    author: str = ""
    source: str = "knowledge-base"


class LoadError(msgspec.Struct, kw_only=True, frozen=True):
    """A corpus file that was skipped, and why."""

    path: str
    reason: str


# --- requests (one per tool) ----------------------------------------------------------------------------------


class SearchRunbooksRequest(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    alert_type: ShortText
    severity: Severity
    affected_systems: Annotated[list[Annotated[str, msgspec.Meta(max_length=200)]], msgspec.Meta(max_length=50)]
    context: JsonObject | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=50)] = 3
    """Runbooks returned in full; three fit an agent's context and cover the usual near-misses."""


class DecisionTreeRequest(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Pick a runbook's decision tree and evaluate it against the alert.

    Without ``runbook_id`` the best runbook for ``alert_context`` (its ``alert_type``, ``severity`` and
    ``affected_systems``/``system`` keys) is used.
    """

    alert_context: JsonObject
    current_agent_state: JsonObject | None = None
    runbook_id: Name | None = None


class ProcedureRequest(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    runbook_id: Name
    step_name: Name
    current_context: JsonObject | None = None


class EscalationRequest(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    severity: Severity
    business_hours: bool
    failed_attempts: Annotated[list[str], msgspec.Meta(max_length=50)] = []
    runbook_id: Name | None = None
    alert_type: ShortText | None = None


class ListSourcesRequest(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    include_health: bool = True


class KnowledgeBaseRequest(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    query: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    categories: Annotated[list[str], msgspec.Meta(max_length=20)] | None = None
    max_age_days: Annotated[int, msgspec.Meta(ge=1, le=36_500)] | None = None
    max_results: Annotated[int, msgspec.Meta(ge=1, le=100)] = 10


class FeedbackRequest(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    runbook_id: Name
    procedure_id: Name
    outcome: Outcome
    resolution_time_minutes: Annotated[float, msgspec.Meta(ge=0, le=100_000)]
    notes: Annotated[str, msgspec.Meta(max_length=4_000)] | None = None


# --- responses --------------------------------------------------------------------------------------------------


class RunbookMatch(msgspec.Struct, kw_only=True, frozen=True):
    runbook: Runbook
    score: Score
    match_reasons: list[str]


class SearchRunbooksResponse(msgspec.Struct, kw_only=True, frozen=True):
    runbooks: list[RunbookMatch]
    total_results: int
    """Runbooks that matched at all, before ``limit`` was applied."""


class BranchEvaluation(msgspec.Struct, kw_only=True, frozen=True):
    """How one branch's condition fared: ``matched`` is None when the context lacked a name it needs."""

    branch_id: str
    matched: bool | None
    missing: list[str] = []


class DecisionTreeResponse(msgspec.Struct, kw_only=True, frozen=True):
    runbook_id: str
    decision_tree: DecisionTree
    recommended_branch: DecisionBranch | None
    recommended_action: str
    confidence: Score
    evaluations: list[BranchEvaluation]
    context_applied: bool


class ProcedureResponse(msgspec.Struct, kw_only=True, frozen=True):
    runbook_id: str
    procedure: ProcedureStep
    related_steps: list[ProcedureStep]
    """The runbook's other steps, in order, so an agent can see what comes before and after."""


class Contact(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    name: str
    contact: str
    availability: Literal["24x7", "business_hours"]


class EscalationStep(msgspec.Struct, kw_only=True, frozen=True):
    level: int
    role: str
    team: str
    contacts: list[Contact]
    response_time_minutes: int
    reason: str


class EscalationResponse(msgspec.Struct, kw_only=True, frozen=True):
    path: list[EscalationStep]
    """Who to contact, in order; the first step is whom to page now."""
    procedure: list[str]
    estimated_response_time_minutes: int


class SourceHealth(msgspec.Struct, kw_only=True, frozen=True):
    healthy: bool
    response_time_ms: float
    last_check: datetime
    errors: list[LoadError] = []


class SourceInfo(msgspec.Struct, kw_only=True, frozen=True):
    name: str
    type: str
    enabled: bool
    document_count: int
    last_indexed: datetime | None
    health: SourceHealth | None = None


class ListSourcesResponse(msgspec.Struct, kw_only=True, frozen=True):
    sources: list[SourceInfo]


class ArticleMatch(msgspec.Struct, kw_only=True, frozen=True):
    id: str
    title: str
    category: str
    summary: str
    content: str
    tags: list[str]
    last_updated: datetime
    source: str
    score: Score
    match_reasons: list[str]


class KnowledgeBaseResponse(msgspec.Struct, kw_only=True, frozen=True):
    results: list[ArticleMatch]
    total_results: int
    """Articles that matched, before ``max_results`` was applied."""


class FeedbackResponse(msgspec.Struct, kw_only=True, frozen=True):
    feedback_id: int
    recorded_at: datetime
    runbook_id: str
    success_rate: Score
    feedback_count: int


class ErrorResponse(msgspec.Struct, kw_only=True, frozen=True):
    """Every non-2xx body: ``error`` is a stable code, ``message`` tells the caller what to fix."""

    error: Literal["invalid_request", "not_found", "unavailable", "internal"]
    message: str


# --- operations -------------------------------------------------------------------------------------------------


class HealthCheck(msgspec.Struct, kw_only=True, frozen=True):
    name: str
    healthy: bool
    detail: str
    response_time_ms: float


class HealthResponse(msgspec.Struct, kw_only=True, frozen=True):
    status: Literal["healthy", "degraded"]
    checks: list[HealthCheck]


class TierStats(msgspec.Struct, kw_only=True, frozen=True):
    hits: int
    misses: int


class CacheStats(msgspec.Struct, kw_only=True, frozen=True):
    """Cache outcomes since start, per tier and per content type (``tiers[tier][content_type]``)."""

    tiers: dict[str, dict[str, TierStats]]
    l1_entries: int
    l1_bytes: int
    l2_available: bool


TOOL_PATHS: dict[str, str] = {
    "search_runbooks": "/v1/runbooks/search",
    "get_decision_tree": "/v1/decision-tree",
    "get_procedure": "/v1/procedure",
    "get_escalation_path": "/v1/escalation",
    "list_sources": "/v1/sources",
    "search_knowledge_base": "/v1/knowledge-base/search",
    "record_resolution_feedback": "/v1/feedback",
}
"""The internal route of each tool; every one is a POST taking the tool's request Struct as its body."""
