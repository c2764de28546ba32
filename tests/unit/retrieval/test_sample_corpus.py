"""The seeded sample-corpus generator: deterministic, complete, and the source of the shipped default corpus."""

from __future__ import annotations

import ast
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from services.retrieval.corpus.loader import default_corpus_dir, load_corpus
from services.retrieval.corpus.sample import (
    BASE_DATE,
    DEFAULT_SEED,
    FAMILY_ALERT_TYPES,
    GenerationSummary,
    generate,
    main,
)

if TYPE_CHECKING:
    from pathlib import Path

    from services.retrieval.corpus.model import Corpus

REQUIRED_ALERT_TYPES = [
    "memory_pressure",
    "memory_leak",
    "memory_exhaustion",
    "service_down",
    "service_unavailable",
    "connection_refused",
    "security_breach",
    "unauthorized_access",
    "ddos_attack",
    "disk_full",
    "disk_space",
    "cpu_high",
    "network_error",
    "packet_loss",
    "database_error",
    "database_slow",
    "authentication_failure",
    "load_balancer_failure",
    "backup_failure",
    "ssl",
    "ssl_certificate",
    "cert_expired",
]
ORIGINAL_FAMILIES = (
    "disk_space",
    "memory_leak",
    "cpu_high",
    "database_slow",
    "network_issues",
    "ssl_certificate",
    "security_incident",
)
CONDITION_NODES = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.Compare,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.List,
)


def file_tree(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerationSummary]:
    out = tmp_path_factory.mktemp("sample") / "corpus"
    return out, generate(out)


@pytest.fixture(scope="module")
def corpus(generated: tuple[Path, GenerationSummary]) -> Corpus:
    return load_corpus(generated[0])


def test_generated_corpus_loads_cleanly(corpus: Corpus) -> None:
    assert corpus.errors == []
    assert len(corpus.runbooks) >= 200
    assert len(corpus.articles) >= 60


def test_summary_matches_what_was_written(generated: tuple[Path, GenerationSummary], corpus: Corpus) -> None:
    out, summary = generated
    assert summary.seed == DEFAULT_SEED
    assert summary.base_date == BASE_DATE.isoformat()
    assert summary.runbooks == len(corpus.runbooks) == sum(summary.runbooks_per_family.values())
    assert summary.articles == len(corpus.articles) == sum(summary.articles_per_category.values())
    suffixes = Counter(path.suffix.lstrip(".") for path in (out / "runbooks").rglob("*") if path.is_file())
    assert dict(suffixes) == summary.formats
    assert set(summary.runbooks_per_family) == set(FAMILY_ALERT_TYPES)
    assert len(set(summary.runbooks_per_family.values())) == 1, "every family gets the same quota"


def test_every_format_is_exercised(generated: tuple[Path, GenerationSummary]) -> None:
    formats = generated[1].formats
    total = sum(formats.values())
    assert formats["yaml"] > total / 2
    for kind in ("json", "md"):
        assert total / 10 <= formats[kind] <= total / 4, f"about one runbook in six should be {kind}"


def test_same_seed_is_byte_identical(generated: tuple[Path, GenerationSummary], tmp_path: Path) -> None:
    generate(tmp_path / "again")
    assert file_tree(tmp_path / "again") == file_tree(generated[0])


def test_different_seed_differs(generated: tuple[Path, GenerationSummary], tmp_path: Path) -> None:
    summary = generate(tmp_path / "other", seed=DEFAULT_SEED + 1)
    assert summary.seed == DEFAULT_SEED + 1
    assert file_tree(tmp_path / "other") != file_tree(generated[0])


def test_shipped_default_corpus_is_a_fresh_generation(generated: tuple[Path, GenerationSummary]) -> None:
    shipped, fresh = file_tree(default_corpus_dir()), file_tree(generated[0])
    changed = sorted(name for name in shipped.keys() | fresh.keys() if shipped.get(name) != fresh.get(name))
    assert not changed, (
        f"{len(changed)} files of the shipped corpus differ from the generator's output (first: {changed[:5]}); "
        "regenerate with `python -m services.retrieval.corpus.sample --out services/retrieval/corpus/default`"
    )


def test_families_cover_the_required_alert_types(corpus: Corpus) -> None:
    assert len(FAMILY_ALERT_TYPES) >= 13
    assert set(ORIGINAL_FAMILIES) <= set(FAMILY_ALERT_TYPES)
    declared = {kind for kinds in FAMILY_ALERT_TYPES.values() for kind in kinds}
    answered = {kind for runbook in corpus.runbooks.values() for kind in runbook.alert_types}
    missing = [kind for kind in REQUIRED_ALERT_TYPES if kind not in declared or kind not in answered]
    assert not missing


def test_alert_types_belong_to_one_family() -> None:
    owners = Counter(kind for kinds in FAMILY_ALERT_TYPES.values() for kind in kinds)
    assert [kind for kind, count in owners.items() if count > 1] == []


def test_runbook_shapes(corpus: Corpus) -> None:
    roles = {team.id for team in corpus.roster.teams}
    for runbook in corpus.runbooks.values():
        steps = {step.id for step in runbook.procedures}
        assert 2 <= len(runbook.decision_tree.branches) <= 4, runbook.id
        assert 2 <= len(runbook.procedures) <= 4, runbook.id
        assert len(runbook.triggers) == 3, runbook.id
        assert 3 <= len(runbook.affected_systems) <= 4, runbook.id
        assert 2 <= len(runbook.severity_mapping) <= 3, runbook.id
        assert runbook.escalation_path in roles
        assert all(step.command for step in runbook.procedures), runbook.id
        assert "{" + "service}" not in " ".join(step.command or "" for step in runbook.procedures)
        for branch in runbook.decision_tree.branches:
            for target in (branch.action, branch.next_step, branch.rollback_step):
                assert target is None or target in steps or target.startswith("escalate_to_"), (runbook.id, target)
        assert 0.7 <= runbook.metadata.confidence_score <= 0.99
        assert runbook.metadata.success_rate is not None and 0.6 <= runbook.metadata.success_rate <= 0.98


def test_conditions_stay_inside_the_condition_language(corpus: Corpus) -> None:
    for runbook in corpus.runbooks.values():
        for branch in runbook.decision_tree.branches:
            nodes = ast.walk(ast.parse(branch.condition, mode="eval"))
            outside = [type(node).__name__ for node in nodes if not isinstance(node, CONDITION_NODES)]
            assert not outside, (runbook.id, branch.condition, outside)


def test_systems_vary_within_a_family(corpus: Corpus) -> None:
    """Ranking by affected system only works if a family's runbooks target different systems."""
    memory = [rb for rb in corpus.runbooks.values() if "memory_leak" in rb.alert_types]
    assert len({tuple(rb.affected_systems) for rb in memory}) >= len(memory) // 2
    assert any("jvm" in rb.affected_systems for rb in memory)
    assert any("kubernetes" in rb.affected_systems for rb in memory)


def test_some_runbooks_leave_severities_uncovered(corpus: Corpus) -> None:
    assert any("critical" not in rb.severity_mapping for rb in corpus.runbooks.values())
    assert any("low" not in rb.severity_mapping for rb in corpus.runbooks.values())


def test_article_dates_spread_over_two_years_before_the_base_date(corpus: Corpus) -> None:
    base = datetime(BASE_DATE.year, BASE_DATE.month, BASE_DATE.day, tzinfo=UTC)
    ages = sorted((base - article.last_updated).days for article in corpus.articles.values())
    assert ages[0] >= 0
    assert ages[-1] <= 730
    assert ages[0] < 60 and ages[-1] > 365
    assert sum(age < 90 for age in ages) >= 3


def test_articles_are_specific_and_linked(corpus: Corpus) -> None:
    categories = Counter(article.category for article in corpus.articles.values())
    assert set(categories) >= {"troubleshooting", "best-practices", "configuration", "monitoring", "security"}
    assert set(categories) >= {"performance", "deployment", "backup-recovery"}
    assert len({article.title for article in corpus.articles.values()}) == len(corpus.articles)
    for article in corpus.articles.values():
        for section in ("## Overview", "## Symptoms", "## Diagnosis", "## Resolution", "## Related runbooks"):
            assert section in article.content, (article.id, section)
        assert "```bash" in article.content
        linked = [line.split("`")[1] for line in article.content.splitlines() if line.startswith("- `rb-")]
        assert linked and all(runbook_id in corpus.runbooks for runbook_id in linked), article.id


def test_roster_has_the_escalation_chain(corpus: Corpus) -> None:
    teams = corpus.roster.by_id()
    assert teams["l1_support"].escalates_to == "l2_support"
    assert teams["l2_support"].after_hours_fallback == "sre_oncall"
    assert teams["dba"].availability == "business_hours" and teams["dba"].after_hours_fallback == "sre_oncall"
    assert teams["security"].availability == "24x7"
    assert teams["incident_commander"].level == 4
    assert all(team.contacts for team in teams.values())


def test_regeneration_replaces_the_previous_output(generated: tuple[Path, GenerationSummary], tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    generate(out, seed=1)
    generate(out)
    assert file_tree(out) == file_tree(generated[0])


def test_refuses_to_overwrite_a_directory_it_did_not_generate(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not a generated corpus"):
        generate(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_main_prints_one_summary_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["--out", str(tmp_path / "cli"), "--seed", "7"])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    assert "seed 7" in lines[0] and "runbooks" in lines[0] and "articles" in lines[0]
