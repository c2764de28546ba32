"""The seven MCP tools: names, descriptions, annotations, and schemas generated from the retrieval Structs.

The ``inputSchema`` of a tool is generated from the same msgspec Struct that validates its arguments, and its
``outputSchema`` from the Struct retrieval answers with, so the published contract cannot drift from the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from services.retrieval.schemas import (
    TOOL_PATHS,
    DecisionTreeRequest,
    DecisionTreeResponse,
    EscalationRequest,
    EscalationResponse,
    FeedbackRequest,
    FeedbackResponse,
    KnowledgeBaseRequest,
    KnowledgeBaseResponse,
    ListSourcesRequest,
    ListSourcesResponse,
    ProcedureRequest,
    ProcedureResponse,
    SearchRunbooksRequest,
    SearchRunbooksResponse,
)

__all__ = ("TOOLS", "ToolSpec", "object_schema")


def object_schema(struct: type[msgspec.Struct]) -> dict[str, Any]:
    """A JSON Schema whose root is the Struct's object schema itself (MCP wants ``"type": "object"`` at the root)."""
    (_,), components = msgspec.json.schema_components([struct], ref_template="#/$defs/{name}")
    root = dict(components.pop(struct.__name__))
    root.pop("title", None)
    if components:
        root["$defs"] = components
    return root


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    title: str
    description: str
    arguments: type[msgspec.Struct]
    result: type[msgspec.Struct]
    read_only: bool

    @property
    def path(self) -> str:
        """The retrieval route that answers this tool."""
        return TOOL_PATHS[self.name]

    def definition(self) -> dict[str, Any]:
        """The ``tools/list`` entry."""
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "inputSchema": object_schema(self.arguments),
            "outputSchema": object_schema(self.result),
            "annotations": {
                "title": self.title,
                "readOnlyHint": self.read_only,
                "destructiveHint": False,
                "idempotentHint": self.read_only,
                "openWorldHint": False,
            },
        }


_SPECS = (
    ToolSpec(
        name="search_runbooks",
        title="Search runbooks",
        description=(
            "Find the incident-response runbooks that fit an alert. Give the alert type (e.g. memory_pressure, "
            "service_down, disk_full), its severity and the affected systems; optional context (labels, metric "
            "values, symptoms) sharpens the match. Each result carries a match score in [0, 1], the reasons for it, "
            "and the full runbook: triggers, decision tree, procedures with commands, escalation role and track record."
        ),
        arguments=SearchRunbooksRequest,
        result=SearchRunbooksResponse,
        read_only=True,
    ),
    ToolSpec(
        name="get_decision_tree",
        title="Evaluate a runbook's decision tree",
        description=(
            "Evaluate the decision tree of the runbook that fits an alert (or of runbook_id) against the alert "
            "context, e.g. {alert_type, severity, memory_percent: 93, symptoms: [...]}, and the agent's state "
            "(attempted_actions, completed_steps). Returns the recommended branch and action with a confidence, and "
            "for every branch whether it matched or which context values are missing to decide it."
        ),
        arguments=DecisionTreeRequest,
        result=DecisionTreeResponse,
        read_only=True,
    ),
    ToolSpec(
        name="get_procedure",
        title="Get a procedure step",
        description=(
            "Get one step of a runbook's procedure by runbook id and step id or name: its command, expected "
            "outcome, timeout, prerequisites, rollback and tools, plus the runbook's other steps in order."
        ),
        arguments=ProcedureRequest,
        result=ProcedureResponse,
        read_only=True,
    ),
    ToolSpec(
        name="get_escalation_path",
        title="Get the escalation path",
        description=(
            "Who to page, in order, for an incident of a given severity, in or out of business hours, after the "
            "listed failed attempts; follows the owning team of runbook_id (or of the best runbook for alert_type) "
            "over the team roster. Returns the contacts per step, the procedure and the expected response time."
        ),
        arguments=EscalationRequest,
        result=EscalationResponse,
        read_only=True,
    ),
    ToolSpec(
        name="list_sources",
        title="List knowledge sources",
        description=(
            "List the knowledge sources (runbooks, knowledge base, roster, feedback store) with document counts, "
            "when they were indexed and, unless include_health is false, their health and any files that failed "
            "to load."
        ),
        arguments=ListSourcesRequest,
        result=ListSourcesResponse,
        read_only=True,
    ),
    ToolSpec(
        name="search_knowledge_base",
        title="Search the knowledge base",
        description=(
            "Search knowledge-base articles (troubleshooting guides, best practices, configuration notes) with a "
            "free-text query; optionally limit to categories or tags and to articles updated within max_age_days. "
            "Results carry a relevance score in [0, 1] and match reasons."
        ),
        arguments=KnowledgeBaseRequest,
        result=KnowledgeBaseResponse,
        read_only=True,
    ),
    ToolSpec(
        name="record_resolution_feedback",
        title="Record resolution feedback",
        description=(
            "Record how an incident resolution went after following a runbook procedure: outcome (success, "
            "partial_success, failure, escalated), time to resolve and notes. It is stored durably and updates the "
            "runbook's success rate, which later searches use."
        ),
        arguments=FeedbackRequest,
        result=FeedbackResponse,
        read_only=False,
    ),
)

TOOLS: dict[str, ToolSpec] = {spec.name: spec for spec in _SPECS}
"""The tools by name, in the order ``tools/list`` returns them."""
