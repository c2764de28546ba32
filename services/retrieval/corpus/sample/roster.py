"""The on-call roster shipped with the sample corpus: the teams runbooks escalate to, and how they chain."""

from __future__ import annotations

from typing import Literal

from services.retrieval.corpus.model import Roster, Team
from services.retrieval.schemas import Contact


def _contact(name: str, contact: str, availability: Literal["24x7", "business_hours"]) -> Contact:
    return Contact(name=name, contact=contact, availability=availability)


ROSTER = Roster(
    teams=[
        Team(
            id="l1_support",
            name="Level 1 Support",
            level=1,
            availability="24x7",
            response_time_minutes=5,
            contacts=[
                _contact("NOC Duty Desk", "noc@example.com", "24x7"),
                _contact("L1 Pager", "pagerduty:l1-support", "24x7"),
            ],
            escalates_to="l2_support",
        ),
        Team(
            id="l2_support",
            name="Level 2 Support",
            level=2,
            availability="business_hours",
            response_time_minutes=15,
            contacts=[
                _contact("Priya Raman", "priya.raman@example.com", "business_hours"),
                _contact("Tomás Ortega", "tomas.ortega@example.com", "business_hours"),
            ],
            escalates_to="sre_oncall",
            after_hours_fallback="sre_oncall",
        ),
        Team(
            id="sre_oncall",
            name="SRE On-Call",
            level=3,
            availability="24x7",
            response_time_minutes=10,
            contacts=[
                _contact("SRE Primary", "pagerduty:sre-primary", "24x7"),
                _contact("SRE Secondary", "pagerduty:sre-secondary", "24x7"),
                _contact("SRE Team", "sre-oncall@example.com", "24x7"),
            ],
            escalates_to="incident_commander",
        ),
        Team(
            id="dba",
            name="Database Team",
            level=3,
            availability="business_hours",
            response_time_minutes=30,
            contacts=[
                _contact("Anika Müller", "anika.mueller@example.com", "business_hours"),
                _contact("DBA Team", "dba-team@example.com", "business_hours"),
            ],
            escalates_to="incident_commander",
            after_hours_fallback="sre_oncall",
        ),
        Team(
            id="network",
            name="Network Team",
            level=3,
            availability="business_hours",
            response_time_minutes=30,
            contacts=[
                _contact("Kwame Mensah", "kwame.mensah@example.com", "business_hours"),
                _contact("Network Team", "netops@example.com", "business_hours"),
            ],
            escalates_to="incident_commander",
            after_hours_fallback="sre_oncall",
        ),
        Team(
            id="security",
            name="Security Team",
            level=3,
            availability="24x7",
            response_time_minutes=10,
            contacts=[
                _contact("Security On-Call", "pagerduty:security-oncall", "24x7"),
                _contact("Security Operations", "secops@example.com", "24x7"),
            ],
            escalates_to="incident_commander",
        ),
        Team(
            id="incident_commander",
            name="Incident Commander",
            level=4,
            availability="24x7",
            response_time_minutes=5,
            contacts=[
                _contact("Incident Commander On-Call", "pagerduty:incident-commander", "24x7"),
                _contact("Head of Engineering", "eng-leadership@example.com", "24x7"),
            ],
        ),
    ]
)
