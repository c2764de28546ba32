"""The sample corpus, read for what the scenarios put in their arguments: alert types, systems, steps, articles.

``loadtests`` may not import ``services``, so this reads the corpus files itself, and only the fields argument
generation needs (unknown fields are ignored, so the service can grow its schema without breaking the load test).
The layout is the service's: ``runbooks/`` and ``knowledge-base/`` hold ``.yaml``/``.yml``/``.json`` documents or
``.md`` files whose YAML front matter is the document. A file that does not parse is skipped and listed in
``Corpus.skipped`` rather than failing the run; a runbook id seen twice keeps its first file (in path order), as
the service does.

The directory is the repository's shipped corpus, found relative to this file so it works from any working
directory, unless ``PP_CORPUS_DIR`` names another one (point it at whatever corpus the target service serves).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Final, TypeVar

import msgspec
import yaml

__all__ = (
    "CORPUS_ENV",
    "ArticleDoc",
    "BranchDoc",
    "Corpus",
    "RunbookDoc",
    "StepDoc",
    "TreeDoc",
    "corpus_dir",
    "load_corpus",
    "shared_corpus",
)

CORPUS_ENV: Final = "PP_CORPUS_DIR"
_SHIPPED: Final = Path(__file__).resolve().parents[2] / "services" / "retrieval" / "corpus" / "default"
_SUFFIXES: Final = (".yaml", ".yml", ".json", ".md")

_Doc = TypeVar("_Doc", "RunbookDoc", "ArticleDoc")


class StepDoc(msgspec.Struct, frozen=True):
    id: str
    name: str


class BranchDoc(msgspec.Struct, frozen=True):
    condition: str


class TreeDoc(msgspec.Struct, frozen=True):
    branches: list[BranchDoc]


class RunbookDoc(msgspec.Struct, frozen=True):
    """The parts of a runbook that arguments are drawn from (``severity_mapping`` keys are the severities it covers)."""

    id: str
    alert_types: list[str]
    severity_mapping: dict[str, str]
    affected_systems: list[str]
    decision_tree: TreeDoc
    procedures: list[StepDoc]


class ArticleDoc(msgspec.Struct, frozen=True):
    id: str
    title: str
    category: str
    tags: list[str] = []


class Corpus(msgspec.Struct, frozen=True):
    root: str
    runbooks: list[RunbookDoc]
    articles: list[ArticleDoc]
    skipped: list[str]
    """Files that could not be used, as ``"<relative path>: <reason>"``."""


def corpus_dir() -> Path:
    """``$PP_CORPUS_DIR`` if set, else the corpus shipped in this repository."""
    configured = os.environ.get(CORPUS_ENV, "").strip()
    return Path(configured).expanduser() if configured else _SHIPPED


def load_corpus(root: Path | None = None) -> Corpus:
    """Read every usable runbook and article under ``root`` (default: :func:`corpus_dir`).

    Raises:
        FileNotFoundError: ``root`` is not a directory.
        ValueError: it holds no usable runbook, so there is nothing to send.
    """
    base = root if root is not None else corpus_dir()
    if not base.is_dir():
        raise FileNotFoundError(f"corpus directory {base} does not exist (set {CORPUS_ENV} to the service's corpus)")
    skipped: list[str] = []
    runbooks = _documents(base, "runbooks", RunbookDoc, skipped)
    articles = _documents(base, "knowledge-base", ArticleDoc, skipped)
    if not runbooks:
        raise ValueError(f"no usable runbook under {base / 'runbooks'} ({len(skipped)} file(s) skipped)")
    return Corpus(root=str(base), runbooks=runbooks, articles=articles, skipped=skipped)


@functools.cache
def shared_corpus() -> Corpus:
    """The corpus, read once per process (a worker's VUs share it)."""
    return load_corpus()


def _documents(base: Path, top: str, kind: type[_Doc], skipped: list[str]) -> list[_Doc]:
    found: list[_Doc] = []
    seen: set[str] = set()
    for path in sorted(p for p in (base / top).rglob("*") if p.suffix.lower() in _SUFFIXES and p.is_file()):
        relative = path.relative_to(base).as_posix()
        if any(part.startswith(".") for part in path.relative_to(base).parts):
            continue
        try:
            doc = _parse(path, kind)
        except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError, msgspec.MsgspecError) as exc:
            skipped.append(f"{relative}: {exc}")
            continue
        if doc.id.lower() not in seen:
            seen.add(doc.id.lower())
            found.append(doc)
    return found


def _parse(path: Path, kind: type[_Doc]) -> _Doc:
    text = path.read_text(encoding="utf-8")
    suffix = path.suffix.lower()
    if suffix == ".json":
        return msgspec.json.decode(text, type=kind)
    if suffix == ".md":
        text = _front_matter(text)
    return msgspec.yaml.decode(text, type=kind)


def _front_matter(text: str) -> str:
    """The YAML between a leading ``---`` line and the next one."""
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        raise ValueError("Markdown document without YAML front matter")
    for index, line in enumerate(lines[1:], start=1):
        if line.strip() == "---":
            return "\n".join(lines[1:index])
    raise ValueError("front matter is not closed by a '---' line")
