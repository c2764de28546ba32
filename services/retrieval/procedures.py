"""Looking up one step of a runbook's procedure: the logic behind ``get_procedure``.

Agents name steps the way they saw them, so the lookup is lenient in a fixed order: the step id, compared
case-insensitively; then the step's name, normalised (case, spaces, hyphens and underscores do not matter, so
``Restart Service``, ``restart-service`` and ``restart_service`` are one name); then the id, normalised the same
way. The first rule that finds a step wins, so an exact id is never shadowed by another step's similar name.
A miss raises :class:`NotFoundError` whose message lists what would have worked.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from services.retrieval.errors import NotFoundError
from services.retrieval.schemas import ProcedureResponse, ProcedureStep, Runbook

if TYPE_CHECKING:
    from services.retrieval.corpus.model import Corpus
    from services.retrieval.schemas import ProcedureRequest

__all__ = ("find_procedure", "find_step", "normalise_step_name")

_SEPARATORS = re.compile(r"[\s_\-]+")


def find_procedure(corpus: Corpus, request: ProcedureRequest) -> ProcedureResponse:
    """The requested step with the runbook's other steps around it.

    Raises:
        NotFoundError: the runbook or the step does not exist; the message says how to find a valid one.
    """
    runbook = corpus.runbook(request.runbook_id)
    if runbook is None:
        raise NotFoundError(f"runbook {request.runbook_id!r} not found; search_runbooks returns valid ids")
    step = find_step(runbook, request.step_name)
    if step is None:
        available = ", ".join(candidate.id for candidate in runbook.procedures)
        raise NotFoundError(
            f"step {request.step_name!r} not found in runbook {runbook.id!r}; available steps: {available}"
        )
    related = [candidate for candidate in runbook.procedures if candidate is not step]
    return ProcedureResponse(runbook_id=runbook.id, procedure=step, related_steps=related)


def find_step(runbook: Runbook, step_name: str) -> ProcedureStep | None:
    wanted_id = step_name.strip().casefold()
    wanted = normalise_step_name(step_name)
    rules = (
        lambda step: step.id.casefold() == wanted_id,
        lambda step: normalise_step_name(step.name) == wanted,
        lambda step: normalise_step_name(step.id) == wanted,
    )
    for rule in rules:
        step = next((candidate for candidate in runbook.procedures if rule(candidate)), None)
        if step is not None:
            return step
    return None


def normalise_step_name(name: str) -> str:
    """``"Restart  Service"``, ``"restart-service"`` and ``"RESTART_SERVICE"`` all become ``"restart_service"``."""
    return _SEPARATORS.sub("_", name.strip().casefold()).strip("_")
