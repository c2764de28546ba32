"""The corpus loader: every format loads, every kind of bad file is skipped with a clear reason, nothing escapes."""

from __future__ import annotations

import json
import logging
import shutil
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from services.retrieval.corpus.loader import MAX_FILE_BYTES, default_corpus_dir, load_corpus

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from services.retrieval.corpus.model import Corpus


def runbook_doc(runbook_id: str = "rb-test-001", **overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": runbook_id,
        "title": f"Test runbook {runbook_id}",
        "version": "1.0",
        "description": "Memory pressure on the test service.",
        "triggers": ["memory_usage_high"],
        "alert_types": ["memory_pressure"],
        "severity_mapping": {"critical": "critical", "high": "high"},
        "affected_systems": ["java-app"],
        "decision_tree": {
            "id": "tree",
            "name": "triage",
            "description": "pick a branch",
            "branches": [
                {
                    "id": "hot",
                    "condition": 'severity == "critical" and memory_percent >= 90',
                    "description": "critical",
                    "action": "restart_service",
                    "confidence": 0.9,
                }
            ],
            "default_action": "escalate",
        },
        "procedures": [
            {
                "id": "restart_service",
                "name": "Restart",
                "description": "restart it",
                "expected_outcome": "it is up",
                "command": "systemctl restart test",
                "timeout_seconds": 60,
            }
        ],
        "escalation_path": "sre_oncall",
        "metadata": {
            "created_at": "2024-01-01T09:00:00Z",
            "updated_at": "2024-02-01T09:00:00Z",
            "author": "tests",
            "confidence_score": 0.9,
        },
    }
    doc.update(overrides)
    return doc


def article_front(article_id: str = "kb-test", **overrides: Any) -> dict[str, Any]:
    front: dict[str, Any] = {
        "id": article_id,
        "title": f"Article {article_id}",
        "category": "troubleshooting",
        "tags": ["jvm"],
        "last_updated": date(2024, 5, 1),
        "summary": "a summary",
        "author": "tests",
    }
    front.update(overrides)
    return front


def as_yaml(doc: dict[str, Any]) -> bytes:
    return yaml.safe_dump(doc, sort_keys=False).encode()


def as_json(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, indent=2, default=str).encode()  # a date becomes a date-only string


def as_markdown(front: dict[str, Any], body: str = "") -> bytes:
    return f"---\n{yaml.safe_dump(front, sort_keys=False)}---\n\n{body}".encode()


def without(doc: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != key}


def write(root: Path, relative: str, data: bytes) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    """A corpus root with the default roster and one good runbook and article."""
    root = tmp_path / "corpus"
    root.mkdir()
    shutil.copy(default_corpus_dir() / "roster.yaml", root / "roster.yaml")
    write(root, "runbooks/good.yaml", as_yaml(runbook_doc("rb-good")))
    write(root, "knowledge-base/troubleshooting/good.md", as_markdown(article_front("kb-good"), "# Body\n"))
    return root


def error_paths(corpus: Corpus) -> list[str]:
    return [error.path for error in corpus.errors]


# --- the shipped corpus -----------------------------------------------------------------------------------------


def test_default_corpus_loads_without_errors() -> None:
    corpus = load_corpus(None)
    assert corpus.errors == []
    assert corpus.root == default_corpus_dir()
    assert len(corpus.runbooks) >= 200
    assert len(corpus.articles) >= 60
    assert {team.id for team in corpus.roster.teams} >= {"l1_support", "sre_oncall", "dba", "security"}
    assert all(key == runbook.id.lower() for key, runbook in corpus.runbooks.items())
    assert all(key == article.id.lower() for key, article in corpus.articles.items())


def test_default_corpus_timestamps_are_utc() -> None:
    corpus = load_corpus(None)
    moments = [a.last_updated for a in corpus.articles.values()]
    moments += [r.metadata.created_at for r in corpus.runbooks.values()]
    assert {moment.utcoffset() for moment in moments} == {timedelta(0)}


# --- good files -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "encode"),
    [
        ("rb.yaml", as_yaml),
        ("rb.yml", as_yaml),
        ("rb.json", as_json),
        ("nested/deeper/rb.yaml", as_yaml),
    ],
    ids=["yaml", "yml", "json", "nested"],
)
def test_runbook_formats_load(corpus_dir: Path, name: str, encode: Callable[[dict[str, Any]], bytes]) -> None:
    write(corpus_dir, f"runbooks/{name}", encode(runbook_doc("RB-New-001")))
    corpus = load_corpus(corpus_dir)
    assert corpus.errors == []
    runbook = corpus.runbook("rb-new-001")
    assert runbook is not None
    assert runbook.id == "RB-New-001"
    assert runbook.procedures[0].timeout_seconds == 60
    assert runbook.metadata.created_at == datetime(2024, 1, 1, 9, tzinfo=UTC)


def test_markdown_runbook_body_becomes_description(corpus_dir: Path) -> None:
    front = without(runbook_doc("rb-md"), "description")
    write(corpus_dir, "runbooks/rb.md", as_markdown(front, "Heap exhaustion on the JVM.\n\nTake a heap dump first.\n"))
    corpus = load_corpus(corpus_dir)
    assert corpus.errors == []
    runbook = corpus.runbooks["rb-md"]
    assert runbook.description == "Heap exhaustion on the JVM.\n\nTake a heap dump first."


def test_markdown_front_matter_description_wins_over_body(corpus_dir: Path) -> None:
    write(corpus_dir, "runbooks/rb.md", as_markdown(runbook_doc("rb-md", description="from front matter"), "body"))
    assert load_corpus(corpus_dir).runbooks["rb-md"].description == "from front matter"


def test_yaml_dates_and_naive_timestamps_become_utc(corpus_dir: Path) -> None:
    metadata = {"created_at": "2024-01-01", "updated_at": "2024-02-01T10:30:00", "author": "t", "confidence_score": 0.8}
    text = as_yaml(runbook_doc("rb-dates", metadata=metadata)).decode()
    text = text.replace("'2024-01-01'", "2024-01-01").replace("'2024-02-01T10:30:00'", "2024-02-01T10:30:00")
    write(corpus_dir, "runbooks/dates.yaml", text.encode())
    write(corpus_dir, "runbooks/naive.json", as_json(runbook_doc("rb-naive", metadata=metadata)))
    corpus = load_corpus(corpus_dir)
    assert corpus.errors == []
    for runbook_id in ("rb-dates", "rb-naive"):
        meta = corpus.runbooks[runbook_id].metadata
        assert meta.created_at == datetime(2024, 1, 1, tzinfo=UTC)
        assert meta.updated_at == datetime(2024, 2, 1, 10, 30, tzinfo=UTC)


def test_markdown_article_body_becomes_content(corpus_dir: Path) -> None:
    article = load_corpus(corpus_dir).articles["kb-good"]
    assert article.content == "# Body"
    assert article.last_updated == datetime(2024, 5, 1, tzinfo=UTC)
    assert article.tags == ["jvm"]
    assert article.source == "knowledge-base"


@pytest.mark.parametrize(("name", "encode"), [("a.yaml", as_yaml), ("a.json", as_json)], ids=["yaml", "json"])
def test_structured_articles_load(corpus_dir: Path, name: str, encode: Callable[[dict[str, Any]], bytes]) -> None:
    write(corpus_dir, f"knowledge-base/{name}", encode(article_front("kb-structured", content="text")))
    corpus = load_corpus(corpus_dir)
    assert corpus.errors == []
    assert corpus.articles["kb-structured"].content == "text"


def test_other_extensions_and_hidden_files_are_ignored(corpus_dir: Path) -> None:
    write(corpus_dir, "runbooks/README.txt", b"not a runbook")
    write(corpus_dir, "runbooks/.draft.yaml", b"id: [broken")
    write(corpus_dir, "runbooks/.git/objects/x.json", b"{broken")
    write(corpus_dir, "knowledge-base/notes.rst", b"ignored")
    write(corpus_dir, "stray.yaml", b"id: [broken")
    corpus = load_corpus(corpus_dir)
    assert corpus.errors == []
    assert set(corpus.runbooks) == {"rb-good"}


# --- bad files --------------------------------------------------------------------------------------------------

BAD_FILES: list[tuple[str, str, bytes, list[str]]] = [
    ("malformed-yaml", "runbooks/bad.yaml", b"id: [unclosed\ntitle: x\n", ["invalid YAML"]),
    ("malformed-json", "runbooks/bad.json", b'{"id": "rb-x",', ["invalid JSON"]),
    ("not-a-mapping", "runbooks/bad.yaml", b"- just\n- a list\n", ["mapping", "list"]),
    ("missing-field", "runbooks/bad.yaml", as_yaml(without(runbook_doc("rb-bad"), "title")), ["title"]),
    (
        "wrong-type",
        "runbooks/bad.json",
        as_json(
            runbook_doc(
                "rb-bad",
                procedures=[{**runbook_doc()["procedures"][0], "timeout_seconds": "soon"}],
            )
        ),
        ["$.procedures[0].timeout_seconds", "int"],
    ),
    ("unknown-field", "runbooks/bad.yaml", as_yaml(runbook_doc("rb-bad", owner="me")), ["unknown field", "owner"]),
    (
        "out-of-range",
        "runbooks/bad.yaml",
        as_yaml(runbook_doc("rb-bad", severity_mapping={"high": "urgent"})),
        ["$.severity_mapping"],
    ),
    (
        "bad-condition",
        "runbooks/bad.yaml",
        as_yaml(
            runbook_doc(
                "rb-bad",
                decision_tree={
                    **runbook_doc()["decision_tree"],
                    "branches": [{**runbook_doc()["decision_tree"]["branches"][0], "condition": "memory_percent >="}],
                },
            )
        ),
        ["$.decision_tree.branches[0].condition"],
    ),
    (
        "unsafe-condition",
        "runbooks/bad.yaml",
        as_yaml(
            runbook_doc(
                "rb-bad",
                decision_tree={
                    **runbook_doc()["decision_tree"],
                    "branches": [
                        {**runbook_doc()["decision_tree"]["branches"][0], "condition": "__import__('os').system('x')"}
                    ],
                },
            )
        ),
        ["$.decision_tree.branches[0].condition"],
    ),
    (
        "unknown-escalation-role",
        "runbooks/bad.yaml",
        as_yaml(runbook_doc("rb-bad", escalation_path="nobody_home")),
        ["escalation_path", "nobody_home"],
    ),
    ("not-utf8", "runbooks/bad.yaml", b"id: rb-bad\ntitle: caf\xe9\n", ["UTF-8"]),
    ("oversize", "runbooks/bad.yaml", b"# " + b"x" * MAX_FILE_BYTES + b"\n", ["limit", "1 MiB"]),
    ("md-without-front-matter", "runbooks/bad.md", b"# Just markdown\n", ["front matter missing"]),
    ("md-unclosed-front-matter", "runbooks/bad.md", b"---\nid: rb-bad\n", ["not closed"]),
    (
        "article-missing-category",
        "knowledge-base/bad.md",
        as_markdown(without(article_front("kb-bad"), "category"), "body"),
        ["category"],
    ),
    (
        "article-impossible-date",
        "knowledge-base/bad.json",
        as_json(article_front("kb-bad", last_updated="2024-13-45", content="x")),
        ["$.last_updated"],
    ),
    ("deeply-nested-json", "runbooks/bad.json", b"[" * 100_000 + b"]" * 100_000, ["nested too deeply"]),
    ("deeply-nested-yaml", "runbooks/bad.yaml", b"a: " + b"[" * 100_000 + b"]" * 100_000, ["invalid YAML"]),
    (
        "yaml-alias-bomb",
        "runbooks/bad.yaml",
        b"a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        + b"".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n".encode() for i in range(9)
        )
        + b"id: rb-bad\n",
        ["invalid runbook"],
    ),
    (
        "article-bad-date",
        "knowledge-base/bad.md",
        as_markdown(article_front("kb-bad", last_updated="last tuesday"), "body"),
        ["$.last_updated"],
    ),
]


@pytest.mark.parametrize(
    ("relative", "data", "expected"), [case[1:] for case in BAD_FILES], ids=[c[0] for c in BAD_FILES]
)
def test_bad_file_is_skipped_and_reported(
    corpus_dir: Path, caplog: pytest.LogCaptureFixture, relative: str, data: bytes, expected: list[str]
) -> None:
    write(corpus_dir, relative, data)
    with caplog.at_level(logging.WARNING, logger="services.retrieval.corpus.loader"):
        corpus = load_corpus(corpus_dir)
    assert error_paths(corpus) == [relative]
    reason = corpus.errors[0].reason
    for fragment in expected:
        assert fragment in reason, reason
    assert "rb-bad" not in corpus.runbooks and "kb-bad" not in corpus.articles
    assert set(corpus.runbooks) == {"rb-good"}
    assert set(corpus.articles) == {"kb-good"}
    assert relative in caplog.text


def test_duplicate_id_first_file_wins(corpus_dir: Path) -> None:
    write(corpus_dir, "runbooks/a/first.yaml", as_yaml(runbook_doc("rb-dup", title="first")))
    write(corpus_dir, "runbooks/b/second.json", as_json(runbook_doc("RB-DUP", title="second")))
    corpus = load_corpus(corpus_dir)
    assert corpus.runbooks["rb-dup"].title == "first"
    assert error_paths(corpus) == ["runbooks/b/second.json"]
    assert "duplicate" in corpus.errors[0].reason
    assert "runbooks/a/first.yaml" in corpus.errors[0].reason


def test_duplicate_article_id_is_reported(corpus_dir: Path) -> None:
    write(corpus_dir, "knowledge-base/zz/again.md", as_markdown(article_front("kb-good"), "other"))
    corpus = load_corpus(corpus_dir)
    assert corpus.articles["kb-good"].content == "# Body"
    assert error_paths(corpus) == ["knowledge-base/zz/again.md"]


# --- path containment -------------------------------------------------------------------------------------------


def test_symlinked_file_outside_the_root_is_refused(corpus_dir: Path, tmp_path: Path) -> None:
    outside = write(tmp_path, "outside/secret.yaml", as_yaml(runbook_doc("rb-outside")))
    (corpus_dir / "runbooks" / "link.yaml").symlink_to(outside)
    corpus = load_corpus(corpus_dir)
    assert "rb-outside" not in corpus.runbooks
    assert error_paths(corpus) == ["runbooks/link.yaml"]
    assert "outside the corpus directory" in corpus.errors[0].reason


def test_symlinked_directory_outside_the_root_is_refused(corpus_dir: Path, tmp_path: Path) -> None:
    write(tmp_path, "outside/dir/secret.yaml", as_yaml(runbook_doc("rb-outside")))
    (corpus_dir / "runbooks" / "linked").symlink_to(tmp_path / "outside" / "dir", target_is_directory=True)
    corpus = load_corpus(corpus_dir)
    assert "rb-outside" not in corpus.runbooks
    assert error_paths(corpus) == ["runbooks/linked"]
    assert "outside the corpus directory" in corpus.errors[0].reason


def test_symlinks_inside_the_root_are_followed_once(corpus_dir: Path) -> None:
    shared = write(corpus_dir, "shared/rb.yaml", as_yaml(runbook_doc("rb-shared")))
    (corpus_dir / "runbooks" / "shared.yaml").symlink_to(shared)
    (corpus_dir / "runbooks" / "loop").symlink_to(corpus_dir / "runbooks", target_is_directory=True)
    corpus = load_corpus(corpus_dir)
    assert corpus.errors == []
    assert set(corpus.runbooks) == {"rb-good", "rb-shared"}


def test_broken_symlink_is_reported(corpus_dir: Path) -> None:
    (corpus_dir / "runbooks" / "dangling.yaml").symlink_to(corpus_dir / "missing.yaml")
    corpus = load_corpus(corpus_dir)
    assert error_paths(corpus) == ["runbooks/dangling.yaml"]


# --- roster and root --------------------------------------------------------------------------------------------


def test_missing_roster_falls_back_to_the_default(corpus_dir: Path) -> None:
    (corpus_dir / "roster.yaml").unlink()
    corpus = load_corpus(corpus_dir)
    assert error_paths(corpus) == ["roster.yaml"]
    assert "default" in corpus.errors[0].reason
    assert corpus.roster == load_corpus(None).roster
    assert "rb-good" in corpus.runbooks


@pytest.mark.parametrize(
    ("roster", "expected"),
    [
        (b"teams: [unclosed\n", "invalid YAML"),
        (b"teams:\n- id: solo\n", "missing required field"),
        (
            as_yaml(
                {
                    "teams": [
                        {
                            "id": "solo",
                            "name": "Solo",
                            "level": 1,
                            "availability": "24x7",
                            "response_time_minutes": 5,
                            "contacts": [],
                            "escalates_to": "ghost",
                        }
                    ]
                }
            ),
            "ghost",
        ),
    ],
    ids=["malformed", "incomplete", "dangling-reference"],
)
def test_invalid_roster_falls_back_to_the_default(corpus_dir: Path, roster: bytes, expected: str) -> None:
    write(corpus_dir, "roster.yaml", roster)
    corpus = load_corpus(corpus_dir)
    assert error_paths(corpus) == ["roster.yaml"]
    assert expected in corpus.errors[0].reason
    assert corpus.roster == load_corpus(None).roster


def test_escalation_is_checked_against_the_corpus_roster(corpus_dir: Path) -> None:
    team = {"name": "Only", "level": 1, "availability": "24x7", "response_time_minutes": 5, "contacts": []}
    write(corpus_dir, "roster.yaml", as_yaml({"teams": [{"id": "only_team", **team}]}))
    write(corpus_dir, "runbooks/ok.yaml", as_yaml(runbook_doc("rb-ok", escalation_path="only_team")))
    corpus = load_corpus(corpus_dir)
    assert set(corpus.runbooks) == {"rb-ok"}
    assert error_paths(corpus) == ["runbooks/good.yaml"]


def test_missing_root_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_corpus(tmp_path / "nope")


def test_file_as_root_raises(tmp_path: Path) -> None:
    file = write(tmp_path, "file.yaml", b"x: 1\n")
    with pytest.raises(NotADirectoryError, match="not a directory"):
        load_corpus(file)


def test_empty_root_loads_nothing_but_the_roster(tmp_path: Path) -> None:
    corpus = load_corpus(tmp_path)
    assert corpus.runbooks == {} and corpus.articles == {}
    assert error_paths(corpus) == ["roster.yaml"]
