"""Reading the corpus without the service's loader: the shipped one, an override, and files that cannot be used."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from loadtests.scenarios.corpus import CORPUS_ENV, corpus_dir, load_corpus

if TYPE_CHECKING:
    from pathlib import Path

RUNBOOK = {
    "id": "rb-one",
    "title": "One",
    "alert_types": ["memory_leak"],
    "severity_mapping": {"high": "high"},
    "affected_systems": ["java-app"],
    "decision_tree": {"id": "t", "branches": [{"id": "b", "condition": "memory_percent > 90"}]},
    "procedures": [{"id": "restart_service", "name": "Restart the service", "timeout_seconds": 60}],
    "metadata": {"created_at": "2024-01-01T00:00:00Z"},
}


def test_the_shipped_corpus_is_found_from_anywhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.delenv(CORPUS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    corpus = load_corpus()
    assert len(corpus.runbooks) > 100 and len(corpus.articles) > 30
    assert not corpus.skipped
    assert all(rb.procedures and rb.alert_types for rb in corpus.runbooks)
    assert len({rb.id for rb in corpus.runbooks}) == len(corpus.runbooks)


def test_every_format_and_the_env_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    runbooks, articles = tmp_path / "runbooks", tmp_path / "knowledge-base" / "sec"
    runbooks.mkdir()
    articles.mkdir(parents=True)
    (runbooks / "a.json").write_text(json.dumps(RUNBOOK))
    (runbooks / "b.yaml").write_text(json.dumps({**RUNBOOK, "id": "rb-two"}))  # JSON is YAML
    (runbooks / "c.md").write_text("---\n" + json.dumps({**RUNBOOK, "id": "rb-three"}) + "\n---\n\nBody text.\n")
    (runbooks / "d.yaml").write_text(json.dumps({**RUNBOOK, "id": "RB-ONE"}))  # duplicate id: first file wins
    (runbooks / "e.yaml").write_text("id: [unclosed\n")
    (runbooks / "f.md").write_text("no front matter\n")
    (runbooks / "notes.txt").write_text("ignored")
    article = "---\nid: kb-1\ntitle: Rotating credentials\ncategory: security\ntags: [vault]\n---\n"
    (articles / "kb.md").write_text(article)
    monkeypatch.setenv(CORPUS_ENV, str(tmp_path))
    assert corpus_dir() == tmp_path
    corpus = load_corpus()
    assert [rb.id for rb in corpus.runbooks] == ["rb-one", "rb-two", "rb-three"]
    assert corpus.runbooks[0].procedures[0].name == "Restart the service"
    assert [a.title for a in corpus.articles] == ["Rotating credentials"]
    assert sorted(s.split(":")[0] for s in corpus.skipped) == ["runbooks/e.yaml", "runbooks/f.md"]


def test_a_missing_directory_or_an_empty_corpus_is_an_error(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match=CORPUS_ENV):
        load_corpus(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="no usable runbook"):
        load_corpus(tmp_path)
