"""Turning family tables into runbooks and knowledge-base articles, drawing every choice from one seeded RNG.

The order of RNG draws is part of the output: reordering calls here (or families in ``families``) changes the corpus.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from services.retrieval.corpus.sample.families import FAMILIES
from services.retrieval.corpus.sample.spec import (
    ARTICLE_SPAN_DAYS,
    BASE_DATE,
    PHASES,
    RUNBOOKS_PER_FAMILY,
    ArticleSpec,
    Branch,
    Family,
    Profile,
    Step,
)
from services.retrieval.schemas import (
    Article,
    DecisionBranch,
    DecisionTree,
    ProcedureStep,
    Runbook,
    RunbookMetadata,
    Severity,
)

if TYPE_CHECKING:
    import random

_BASE = datetime(BASE_DATE.year, BASE_DATE.month, BASE_DATE.day, 12, 0, tzinfo=UTC)

_BANDS: tuple[tuple[Severity, ...], ...] = (
    ("critical", "high"),
    ("critical", "high", "medium"),
    ("high", "medium"),
    ("high", "medium", "low"),
    ("medium", "low"),
)
_UPGRADE: dict[Severity, Severity] = {
    "critical": "critical",
    "high": "critical",
    "medium": "high",
    "low": "medium",
    "info": "low",
}
_TRAILING_STOPWORDS = ("a", "an", "and", "for", "in", "of", "on", "the", "to", "with")
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_ACRONYMS = {
    "asn": "ASN",
    "bgp": "BGP",
    "cpu": "CPU",
    "dns": "DNS",
    "enospc": "ENOSPC",
    "gc": "GC",
    "http": "HTTP",
    "io": "I/O",
    "ldap": "LDAP",
    "nxdomain": "NXDOMAIN",
    "ocsp": "OCSP",
    "oom": "OOM",
    "rpo": "RPO",
    "rss": "RSS",
    "saml": "SAML",
    "servfail": "SERVFAIL",
    "syn": "SYN",
    "tcp": "TCP",
    "tls": "TLS",
    "vip": "VIP",
    "wal": "WAL",
}


@dataclass(frozen=True)
class Built:
    family: Family
    profile: Profile
    runbook: Runbook


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _phrase(symptom: str) -> str:
    return " ".join(_ACRONYMS.get(word, word) for word in symptom.split("_"))


def _humanise(symptom: str) -> str:
    text = _phrase(symptom)
    return text[0].upper() + text[1:]


def _article_id(title: str) -> str:
    """``kb-`` plus the title's slug, cut at a word boundary so ids stay readable in URLs and logs."""
    words = _slug(title).split("-")
    while len(words) > 3 and (len("-".join(words)) > 60 or words[-1] in _TRAILING_STOPWORDS):
        words.pop()
    return "kb-" + "-".join(words)


def _fill(template: str, params: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda match: params.get(match.group(1), match.group(0)), template)


def _params(profile: Profile, service: str) -> dict[str, str]:
    """Values for a profile's ``{placeholders}``; profile values may themselves refer to the base ones."""
    base = {
        "service": service,
        "namespace": service.split("-")[0],
        "host": f"{service}.prod.example.com",
        "port": "8080",
        "db": service.removesuffix("-db") if service.endswith("-db") else "app",
        "mount": "/var/lib",
        "restart_cmd": "systemctl restart {service}",
    }
    merged = {**base, **profile.params}
    for _ in range(2):
        merged = {key: _fill(value, merged) for key, value in merged.items()}
    return merged


def _render(template: str, params: dict[str, str]) -> str:
    text = _fill(_fill(template, params), params)
    leftover = [name for name in _PLACEHOLDER.findall(text) if name in params]
    if leftover:  # a template refers to a placeholder its own value did not resolve
        raise ValueError(f"unresolved placeholders {leftover} in {template!r}")
    return text


def _step_pool(family: Family, profile: Profile) -> list[Step]:
    return [*profile.steps, *(step for step in family.steps if not step.only or profile.key in step.only)]


def _pick_steps(family: Family, profile: Profile, rng: random.Random) -> list[Step]:
    """Two to four steps: always something to diagnose and something to mitigate, in phase order."""
    pool = _step_pool(family, profile)
    chosen = [
        rng.choice([step for step in pool if step.phase == "diagnose"]),
        rng.choice([step for step in pool if step.phase == "mitigate"]),
    ]
    rest = [step for step in pool if step not in chosen]
    chosen += rng.sample(rest, min(rng.randint(0, 2), len(rest)))
    return sorted(chosen, key=lambda step: (PHASES.index(step.phase), pool.index(step)))


def _procedure(step: Step, params: dict[str, str]) -> ProcedureStep:
    return ProcedureStep(
        id=step.id,
        name=step.name,
        description=step.description,
        expected_outcome=step.expected,
        command=_render(step.command, params),
        timeout_seconds=step.timeout,
        prerequisites=list(step.prerequisites),
        rollback_procedure=_render(step.rollback, params) if step.rollback else None,
        tools_required=list(step.tools),
    )


def _branch(template: Branch, steps: list[Step], role: str, rng: random.Random) -> DecisionBranch:
    """Instantiate a branch whose action names one of the runbook's own procedure steps (or an escalation)."""
    by_phase = {phase: [step.id for step in steps if step.phase == phase] for phase in PHASES}
    escalate = f"escalate_to_{role}"
    condition = template.condition
    if template.thresholds:
        condition = condition.replace("{t}", rng.choice(template.thresholds))
    next_step: str | None = None
    rollback: str | None = None
    if template.action == "mitigate":
        action, rollback = by_phase["mitigate"][0], escalate
        next_step = by_phase["verify"][0] if by_phase["verify"] else None
    elif template.action == "diagnose":
        action, next_step = by_phase["diagnose"][0], by_phase["mitigate"][0]
    else:
        action = escalate
    return DecisionBranch(
        id=template.id,
        condition=condition,
        description=template.description,
        action=action,
        confidence=round(template.confidence - rng.choice((0.0, 0.01, 0.02, 0.03)), 2),
        next_step=next_step,
        rollback_step=rollback,
    )


def _tree(
    runbook_id: str,
    stem: str,
    family: Family,
    steps: list[Step],
    band: tuple[Severity, ...],
    role: str,
    rng: random.Random,
) -> DecisionTree:
    """One to three specific branches in the family's order, then the broad fallback.

    Branches that only fire for critical alerts are left out of runbooks whose band does not cover critical.
    """
    usable = [
        branch for branch in family.branches if "critical" in band or 'severity == "critical"' not in branch.condition
    ]
    picked = sorted(rng.sample(range(len(usable)), rng.randint(1, min(3, len(usable)))))
    templates = [usable[index] for index in picked] + [family.fallback]
    return DecisionTree(
        id=f"{runbook_id}-triage",
        name=f"{stem} triage",
        description="Evaluate the branches in order against the alert context; the first that holds decides the "
        "next action. The last branch is the broad fallback; with no match, escalate.",
        branches=[_branch(template, steps, role, rng) for template in templates],
        default_action=f"escalate_to_{role}",
    )


def _alert_types(family: Family, stem_type: str, index: int, rng: random.Random) -> list[str]:
    """The stem's alert type first, then the family's; every third runbook drops one alias for variety."""
    types = [stem_type, *(kind for kind in family.alert_types if kind != stem_type)]
    droppable = [kind for kind in types[1:] if kind != family.alert_types[0]]
    if index % 3 == 0 and len(types) > 3 and droppable:
        types.remove(rng.choice(droppable))
    return types


def _severity_mapping(family: Family, band: tuple[Severity, ...]) -> dict[str, Severity]:
    return {severity: _UPGRADE[severity] if family.upgrade_severity else severity for severity in band}


def _metadata(family: Family, rng: random.Random) -> RunbookMetadata:
    created = _BASE - timedelta(days=rng.randint(200, 900), minutes=rng.randint(0, 1439))
    updated = min(_BASE, created + timedelta(days=rng.randint(0, (_BASE - created).days), minutes=rng.randint(0, 600)))
    return RunbookMetadata(
        created_at=created,
        updated_at=updated,
        author=family.author,
        confidence_score=round(rng.uniform(0.7, 0.99), 2),
        success_rate=round(rng.uniform(0.6, 0.98), 2),
        avg_resolution_time_minutes=round(rng.uniform(8, 120), 1),
    )


def _description(stem: str, systems: list[str], triggers: list[str], family: Family, profile: Profile) -> str:
    phrases = [_phrase(trigger) for trigger in triggers]
    symptoms = ", ".join(phrases[:-1]) + f" or {phrases[-1]}"
    return (
        f"{stem} on {profile.label} ({', '.join(systems)}). Use it when alerts report {symptoms}. "
        f"{family.blurb} {profile.note}"
    )


def _runbook(family: Family, profile: Profile, band: tuple[Severity, ...], index: int, rng: random.Random) -> Runbook:
    stem, stem_type = rng.choice(family.stems)
    extras = rng.sample(profile.extras, rng.randint(1, 2))
    systems = [*profile.systems, *extras]
    params = _params(profile, extras[0])
    role = family.escalation[0] if "critical" in band else family.escalation[1]
    steps = _pick_steps(family, profile, rng)
    runbook_id = f"rb-{_slug(stem)}-{profile.key}-{index:03d}"
    triggers = sorted(rng.sample(family.symptoms, 3))
    return Runbook(
        id=runbook_id,
        title=f"{stem} on {profile.label} ({'/'.join(band)})",
        version=f"{rng.randint(1, 3)}.{rng.randint(0, 9)}",
        description=_description(stem, systems, triggers, family, profile),
        triggers=triggers,
        alert_types=_alert_types(family, stem_type, index, rng),
        severity_mapping=_severity_mapping(family, band),
        affected_systems=systems,
        decision_tree=_tree(runbook_id, stem, family, steps, band, role, rng),
        procedures=[_procedure(step, params) for step in steps],
        escalation_path=role,
        metadata=_metadata(family, rng),
    )


def build_runbooks(family: Family, rng: random.Random) -> list[Built]:
    combos = [(profile, band) for profile in family.profiles for band in _BANDS]
    picked = sorted(rng.sample(range(len(combos)), RUNBOOKS_PER_FAMILY))
    built = []
    for index, combo in enumerate(picked, start=1):
        profile, band = combos[combo]
        built.append(Built(family, profile, _runbook(family, profile, band, index, rng)))
    return built


def _find_step(family: Family, step_id: str) -> Step:
    for step in [*family.steps, *(step for profile in family.profiles for step in profile.steps)]:
        if step.id == step_id:
            return step
    raise ValueError(f"article in family {family.key} refers to unknown step {step_id!r}")


def _article_body(spec: ArticleSpec, family: Family, related: list[Runbook], rng: random.Random) -> str:
    profile = next((p for p in family.profiles if p.key == spec.profile), family.profiles[0])
    params = _params(profile, profile.extras[0])
    symptoms = sorted(rng.sample(range(len(family.symptoms)), 4))
    lines = [f"# {spec.title}", "", "## Overview", "", f"{spec.summary} {family.blurb}", "", "## Symptoms", ""]
    lines += [f"- {_humanise(family.symptoms[i])} (`{family.symptoms[i]}`)" for i in symptoms]
    lines += ["", "## Diagnosis", ""]
    for step in (_find_step(family, step_id) for step_id in spec.steps):
        lines += [f"### {step.name}", "", step.description, "", "```bash", _render(step.command, params), "```", ""]
        lines += [f"Expected: {step.expected}", ""]
    lines += ["## Resolution", ""]
    lines += [f"{number}. {item}" for number, item in enumerate(spec.resolution, start=1)]
    lines += ["", "## Related runbooks", "", "Runbooks that put this guide into practice:", ""]
    lines += [f"- `{runbook.id}`: {runbook.title}" for runbook in related]
    return "\n".join(lines) + "\n"


def _article_dates(count: int, rng: random.Random) -> list[date]:
    """Dates spread evenly over ``ARTICLE_SPAN_DAYS`` before ``BASE_DATE`` so age filters have something to cut."""
    width = ARTICLE_SPAN_DAYS // count
    offsets = [slot * width + rng.randrange(width) for slot in range(count)]
    rng.shuffle(offsets)
    return [BASE_DATE - timedelta(days=offset) for offset in offsets]


def build_articles(built: list[Built], rng: random.Random) -> list[Article]:
    specs = [(family, spec) for family in FAMILIES for spec in family.articles]
    articles = []
    for (family, spec), day in zip(specs, _article_dates(len(specs), rng), strict=True):
        candidates = [item.runbook for item in built if item.family is family]
        preferred = [item.runbook for item in built if item.family is family and item.profile.key == spec.profile]
        pool = preferred if len(preferred) >= 2 else candidates
        related = sorted(rng.sample(pool, min(3, len(pool))), key=lambda runbook: runbook.id)
        articles.append(
            Article(
                id=_article_id(spec.title),
                title=spec.title,
                category=spec.category,
                content=_article_body(spec, family, related, rng),
                last_updated=datetime(day.year, day.month, day.day, tzinfo=UTC),
                summary=spec.summary,
                tags=sorted({*spec.tags, family.key}),
                author=family.author,
            )
        )
    return articles
