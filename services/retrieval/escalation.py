"""Who to page, in what order: the logic behind ``get_escalation_path``.

The rule, step by step:

1. **Owner.** The runbook's ``escalation_path`` role owns the incident. Without a runbook the owner is
   ``sre_oncall`` for critical and high alerts and ``l1_support`` otherwise. A role the roster does not know (a
   typo in a runbook) falls back to ``sre_oncall``, then to the lowest-level team, and the step's reason says so:
   an agent mid-incident needs someone to page, not an error.
2. **Chain by severity.** critical: the owner, then the ``incident_commander`` (when the roster has one), then the
   owner's ``escalates_to`` chain. high: the owner and its chain. medium, low, info: ``l1_support`` first, then
   the owner and its chain. Links are followed until they end, loop or name an unknown role.
3. **Business hours.** Out of hours (``business_hours`` false) a ``business_hours`` team is replaced by its
   ``after_hours_fallback`` (followed until a 24x7 team is reached); a team without one stays, with a warning
   that it may not answer. Out of hours only a team's 24x7 contacts are listed, when it has any.
4. **Duplicates.** A role appears once, at its first (earliest) position.
5. **Failed attempts.** Each entry of ``failed_attempts`` moves the entry point one step along the chain, so
   repeated failure reaches more senior responders; it never moves past the last step, and the first step's
   reason then says the chain is exhausted.

``EscalationStep.level`` is the team's roster level (1 = first line), so a caller can see how senior the first
responder is; the path order is the order to page in. The estimated response time is the first team's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING, Final

from services.retrieval.errors import NotFoundError
from services.retrieval.schemas import Contact, EscalationResponse, EscalationStep

if TYPE_CHECKING:
    from collections.abc import Mapping

    from services.retrieval.corpus.model import Roster, Team
    from services.retrieval.schemas import EscalationRequest, Runbook, Severity

__all__ = ("FIRST_LINE_ROLE", "INCIDENT_COMMANDER_ROLE", "ON_CALL_ROLE", "escalation_path")

ON_CALL_ROLE: Final = "sre_oncall"
FIRST_LINE_ROLE: Final = "l1_support"
INCIDENT_COMMANDER_ROLE: Final = "incident_commander"
_URGENT: Final = frozenset({"critical", "high"})


@dataclass
class _Stop:
    """A team on the path and why it is there; reasons accumulate as the rule's steps touch it."""

    team: Team
    reasons: list[str] = field(default_factory=list)


def escalation_path(roster: Roster, request: EscalationRequest, runbook: Runbook | None) -> EscalationResponse:
    """The ordered escalation path for an alert, with a paging procedure an agent can follow verbatim.

    Raises:
        NotFoundError: the roster has no teams at all, so there is nobody to page.
    """
    teams = {team.id.casefold(): team for team in roster.teams}
    if not teams:
        raise NotFoundError("the escalation roster has no teams; the corpus must define at least one team")
    stops = _chain(teams, _owner(teams, request.severity, runbook), request.severity)
    if not request.business_hours:
        stops = [_after_hours(teams, stop) for stop in stops]
    stops = _skip_failed(_dedupe(stops), len(request.failed_attempts))
    path = [_step(stop, business_hours=request.business_hours) for stop in stops]
    return EscalationResponse(
        path=path,
        procedure=_procedure(path, request.failed_attempts),
        estimated_response_time_minutes=path[0].response_time_minutes,
    )


# --- building the chain -----------------------------------------------------------------------------------------


def _owner(teams: Mapping[str, Team], severity: Severity, runbook: Runbook | None) -> _Stop:
    if runbook is not None:
        role, source = runbook.escalation_path, f"runbook '{runbook.id}'"
        reason = f"owns {source}"
    else:
        role = ON_CALL_ROLE if severity in _URGENT else FIRST_LINE_ROLE
        source, reason = "the default rule", f"default owner of {severity} alerts (no runbook given)"
    team = teams.get(role.casefold())
    if team is not None:
        return _Stop(team, [reason])
    fallback = teams.get(ON_CALL_ROLE) or min(teams.values(), key=lambda candidate: candidate.level)
    return _Stop(fallback, [f"{source} names role '{role}', which is not in the roster; falling back to {fallback.id}"])


def _chain(teams: Mapping[str, Team], owner: _Stop, severity: Severity) -> list[_Stop]:
    stops = [owner, *_escalations(teams, owner.team)]
    commander = teams.get(INCIDENT_COMMANDER_ROLE)
    first_line = teams.get(FIRST_LINE_ROLE)
    if severity == "critical" and commander is not None:
        stops.insert(1, _Stop(commander, ["critical severity: the incident commander coordinates the response"]))
    elif severity not in _URGENT and first_line is not None:
        stops.insert(0, _Stop(first_line, [f"first line for {severity}-severity alerts"]))
    return stops


def _escalations(teams: Mapping[str, Team], start: Team) -> list[_Stop]:
    """The ``escalates_to`` chain after ``start``, stopping at its end, an unknown role or a loop."""
    stops: list[_Stop] = []
    seen = {start.id}
    current = start
    while current.escalates_to is not None:
        following = teams.get(current.escalates_to.casefold())
        if following is None or following.id in seen:
            break
        stops.append(_Stop(following, [f"next escalation after {current.name}"]))
        seen.add(following.id)
        current = following
    return stops


def _after_hours(teams: Mapping[str, Team], stop: _Stop) -> _Stop:
    team = stop.team
    seen = {team.id}
    while team.availability == "business_hours" and team.after_hours_fallback is not None:
        fallback = teams.get(team.after_hours_fallback.casefold())
        if fallback is None or fallback.id in seen:
            break
        seen.add(fallback.id)
        team = fallback
    if team.availability == "business_hours":
        note = f"{team.name} works business hours only and has no after-hours fallback: it may not answer"
        return _Stop(team, [*stop.reasons, note])
    if team is stop.team:
        return stop
    note = f"out of hours: replaces {stop.team.name}, which works business hours only"
    return _Stop(team, [*stop.reasons, note])


def _dedupe(stops: list[_Stop]) -> list[_Stop]:
    seen: set[str] = set()
    unique: list[_Stop] = []
    for stop in stops:
        if stop.team.id not in seen:
            seen.add(stop.team.id)
            unique.append(stop)
    return unique


def _skip_failed(stops: list[_Stop], failures: int) -> list[_Stop]:
    if failures == 0:
        return stops
    skip = min(failures, len(stops) - 1)
    attempts = f"{failures} failed attempt{'s' if failures != 1 else ''}"
    if skip < failures:
        reason = f"{attempts}: the top of the escalation chain is reached"
    else:
        reason = f"{attempts}: skipping {', '.join(stop.team.name for stop in stops[:skip])}"
    first = stops[skip]
    return [_Stop(first.team, [reason, *first.reasons]), *stops[skip + 1 :]]


# --- rendering ----------------------------------------------------------------------------------------------------


def _step(stop: _Stop, *, business_hours: bool) -> EscalationStep:
    team = stop.team
    contacts = team.contacts
    if not business_hours:
        contacts = [contact for contact in team.contacts if contact.availability == "24x7"] or team.contacts
    return EscalationStep(
        level=team.level,
        role=team.id,
        team=team.name,
        contacts=list(contacts),
        response_time_minutes=team.response_time_minutes,
        reason="; ".join(stop.reasons),
    )


def _procedure(path: list[EscalationStep], failed_attempts: list[str]) -> list[str]:
    first = path[0]
    lines = [f"Page {_whom(first)} now."]
    if failed_attempts:
        lines.append(f"Tell them what has already been tried: {'; '.join(failed_attempts)}.")
    for previous, step in pairwise(path):
        lines.append(
            f"If no acknowledgement within {previous.response_time_minutes} minutes, escalate to {_whom(step)}."
        )
    lines.append(f"{path[-1].team} is the last level of escalation: keep them engaged until the incident is resolved.")
    return lines


def _whom(step: EscalationStep) -> str:
    if not step.contacts:
        return f"{step.team} (no contacts listed in the roster)"
    return f"{step.team} ({', '.join(_contact(contact) for contact in step.contacts)})"


def _contact(contact: Contact) -> str:
    return f"{contact.name} <{contact.contact}>"
