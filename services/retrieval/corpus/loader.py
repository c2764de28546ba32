"""Read a corpus directory into a ``Corpus``.

A corpus is edited by people, so one bad file must not take the service down: every file that cannot be used is
skipped and reported as a ``LoadError`` (and logged), and only a missing root is fatal. The corpus directory is
also a trust boundary: nothing whose real path lies outside it is ever read, so a stray symlink cannot make the
service serve ``/etc`` to an agent. A runbook is also refused when it would fail later, in the middle of an
incident: a branch condition outside the condition language, or an ``escalation_path`` the roster does not know.

Layout::

    runbooks/         *.yaml, *.yml, *.json, or *.md with YAML front matter (the body becomes ``description``)
    knowledge-base/   *.md with front matter (the body becomes ``content``), or *.yaml, *.yml, *.json
    roster.yaml       the escalation roster (falls back to the shipped default roster when missing)
"""

from __future__ import annotations

import logging
import os
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
import yaml

from services.retrieval.conditions import ConditionError, compile_condition
from services.retrieval.corpus.model import Corpus, Roster
from services.retrieval.schemas import Article, LoadError, Runbook

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ("MAX_FILE_BYTES", "default_corpus_dir", "load_corpus")

MAX_FILE_BYTES = 1024 * 1024
"""Larger files are refused: no real runbook is that big, and reading one would stall start-up."""

_SUFFIXES = (".yaml", ".yml", ".json", ".md")
_ROSTER = "roster.yaml"
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")

_YamlLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_log = logging.getLogger(__name__)

_Doc = TypeVar("_Doc", Runbook, Article)
_Struct = TypeVar("_Struct", bound=msgspec.Struct)


class _SkipFile(Exception):
    """Why a file cannot be used; turned into a ``LoadError`` by the caller that knows the relative path."""


def default_corpus_dir() -> Path:
    return Path(__file__).resolve().parent / "default"


def load_corpus(root: Path | None = None) -> Corpus:
    """Load every usable document under ``root`` (the shipped corpus when None).

    Raises:
        FileNotFoundError: ``root`` does not exist.
        NotADirectoryError: ``root`` is not a directory.
    """
    base = _resolve_root(root if root is not None else default_corpus_dir())
    errors: list[LoadError] = []
    roster = _load_roster(base, errors)
    team_ids = {team.id for team in roster.teams}
    runbooks = _load_documents(base, "runbooks", errors, lambda raw: _runbook(raw, team_ids), _runbook_front_matter)
    articles = _load_documents(base, "knowledge-base", errors, _article, _article_front_matter)
    return Corpus(root=base, runbooks=runbooks, articles=articles, roster=roster, errors=errors)


def _resolve_root(root: Path) -> Path:
    resolved = root.expanduser().resolve()
    if not resolved.exists():
        raise FileNotFoundError(f"corpus directory {root} does not exist")
    if not resolved.is_dir():
        raise NotADirectoryError(f"corpus path {root} is not a directory")
    return resolved


def _record(errors: list[LoadError], path: str, reason: str) -> None:
    _log.warning("corpus: skipped %s: %s", path, reason)
    errors.append(LoadError(path=path, reason=reason))


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root)


# --- roster -----------------------------------------------------------------------------------------------------


def _load_roster(root: Path, errors: list[LoadError]) -> Roster:
    """The corpus's roster, or the default one, because escalation must always have someone to page."""
    path = root / _ROSTER
    if not path.exists() and not path.is_symlink():
        _record(errors, _ROSTER, f"{_ROSTER} not found; using the default corpus's roster")
        return _default_roster()
    try:
        return _parse_roster(path, root)
    except _SkipFile as exc:
        reason = str(exc)
    except OSError as exc:
        reason = f"cannot read: {exc.strerror or exc}"
    _record(errors, _ROSTER, f"{reason}; using the default corpus's roster")
    return _default_roster()


def _default_roster() -> Roster:
    default = default_corpus_dir()
    try:
        return _parse_roster(default / _ROSTER, default)
    except _SkipFile as exc:  # only if the shipped corpus itself is broken
        raise RuntimeError(f"the default corpus's {_ROSTER} is unusable: {exc}") from exc


def _parse_roster(path: Path, root: Path) -> Roster:
    roster = _convert(_mapping(_parse(path, _read_text(path, root))), Roster)
    ids = [team.id for team in roster.teams]
    duplicates = sorted({team_id for team_id in ids if ids.count(team_id) > 1})
    if duplicates:
        raise _SkipFile(f"duplicate team id(s) {', '.join(duplicates)}")
    for team in roster.teams:
        for label, target in (("escalates_to", team.escalates_to), ("after_hours_fallback", team.after_hours_fallback)):
            if target is not None and target not in ids:
                raise _SkipFile(f"team {team.id!r}: {label} {target!r} is not a team in the roster")
    return roster


# --- walking and reading ----------------------------------------------------------------------------------------


def _corpus_files(root: Path, top: str, errors: list[LoadError]) -> list[Path]:
    """Candidate files under ``root/top``, sorted so "the first one wins" means the same file on every machine.

    Symlinked directories are followed only while they stay inside the root (each real directory once, so a
    link cycle ends); anything that points outside is refused without being opened.
    """
    start = root / top
    if not start.is_dir():
        if start.exists() or start.is_symlink():
            _record(errors, top, "not a directory; nothing loaded from it")
        return []
    files: list[Path] = []
    seen: set[Path] = set()
    pending = [start]
    while pending:
        directory = pending.pop()
        if not _inside(directory, root):
            _record(errors, _relative(directory, root), "symlinked directory points outside the corpus directory")
            continue
        real = directory.resolve()
        if real in seen:
            continue
        seen.add(real)
        subdirs, found = _scan(directory, root, errors)
        pending.extend(subdirs)
        files.extend(found)
    return sorted(files)


def _scan(directory: Path, root: Path, errors: list[LoadError]) -> tuple[list[Path], list[Path]]:
    subdirs: list[Path] = []
    files: list[Path] = []
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            if entry.is_dir():  # follows a symlink; the caller checks where it leads
                subdirs.append(path)
            elif entry.name.lower().endswith(_SUFFIXES):
                if entry.is_file():
                    files.append(path)
                elif entry.is_symlink():
                    _record(errors, _relative(path, root), "broken symlink")
    return sorted(subdirs), files


def _read_text(path: Path, root: Path) -> str:
    if not _inside(path, root):
        raise _SkipFile("refused: the file's real path is outside the corpus directory")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise _SkipFile(f"file is {size} bytes; the limit is {MAX_FILE_BYTES} (1 MiB)")
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _SkipFile(f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})") from exc


def _parse(path: Path, text: str) -> Any:
    if path.suffix.lower() != ".json":
        return _load_yaml(text, "invalid YAML")
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError as exc:
        raise _SkipFile(f"invalid JSON: {exc}") from exc
    except RecursionError as exc:
        raise _SkipFile("invalid JSON: nested too deeply") from exc


def _load_yaml(text: str, problem: str, first_line: int = 1) -> Any:
    try:
        return yaml.load(text, Loader=_YamlLoader)
    except yaml.YAMLError as exc:
        raise _SkipFile(f"{problem}: {_yaml_problem(exc, first_line)}") from exc
    except RecursionError as exc:
        raise _SkipFile(f"{problem}: nested too deeply") from exc


def _yaml_problem(exc: yaml.YAMLError, first_line: int = 1) -> str:
    """PyYAML's message without its ``"<unicode string>"`` noise; ``first_line`` offsets front matter."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem and exc.problem_mark is not None:
        mark = exc.problem_mark
        return f"{exc.problem} (line {mark.line + first_line}, column {mark.column + 1})"
    return " ".join(str(exc).split())


def _split_front_matter(text: str) -> tuple[Any, str]:
    """Split ``---`` YAML front matter from the Markdown body that follows it."""
    lines = text.lstrip("\ufeff").splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise _SkipFile("front matter missing: a Markdown document must start with a '---' line")
    for index, line in enumerate(lines[1:], start=1):
        if line.strip() in ("---", "..."):
            header = "".join(lines[1:index])
            body = "".join(lines[index + 1 :]).strip()
            return _load_yaml(header, "invalid YAML in front matter", first_line=2), body
    raise _SkipFile("front matter is not closed: no second '---' line")


def _mapping(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise _SkipFile(f"expected a mapping at the top level, got {type(raw).__name__}")
    return raw


# --- documents --------------------------------------------------------------------------------------------------


def _runbook_front_matter(front: dict[str, Any], body: str) -> dict[str, Any]:
    if body and "description" not in front:
        return {**front, "description": body}
    return front


def _article_front_matter(front: dict[str, Any], body: str) -> dict[str, Any]:
    if "content" not in front:
        return {**front, "content": body}
    return front


def _load_documents(
    root: Path,
    top: str,
    errors: list[LoadError],
    build: Callable[[dict[str, Any]], _Doc],
    merge_front_matter: Callable[[dict[str, Any], str], dict[str, Any]],
) -> dict[str, _Doc]:
    """Load one document tree; ``build`` turns a raw mapping into a Struct (raising ``_SkipFile``)."""
    documents: dict[str, _Doc] = {}
    origin: dict[str, str] = {}
    for path in _corpus_files(root, top, errors):
        relative = _relative(path, root)
        try:
            text = _read_text(path, root)
            if path.suffix.lower() == ".md":
                front, body = _split_front_matter(text)
                raw = merge_front_matter(_mapping(front), body)
            else:
                raw = _mapping(_parse(path, text))
            document = build(raw)
        except _SkipFile as exc:
            _record(errors, relative, str(exc))
            continue
        except OSError as exc:
            _record(errors, relative, f"cannot read: {exc.strerror or exc}")
            continue
        key = document.id.lower()
        if key in documents:
            _record(errors, relative, f"duplicate id {document.id!r}; {origin[key]} defines it first and wins")
            continue
        documents[key] = document
        origin[key] = relative
    return documents


def _runbook(raw: dict[str, Any], team_ids: set[str]) -> Runbook:
    raw_metadata = raw.get("metadata")
    if isinstance(raw_metadata, dict):
        raw = {**raw, "metadata": _with_timestamps(raw_metadata, ("created_at", "updated_at"))}
    runbook = _convert(raw, Runbook)
    for index, branch in enumerate(runbook.decision_tree.branches):
        try:  # compiled again by the decision module; this is only to refuse the runbook at load time
            compile_condition(branch.condition)
        except ConditionError as exc:
            raise _SkipFile(f"$.decision_tree.branches[{index}].condition: {exc}") from exc
    if runbook.escalation_path not in team_ids:
        known = ", ".join(sorted(team_ids))
        raise _SkipFile(f"$.escalation_path {runbook.escalation_path!r} is not a team in the roster (known: {known})")
    metadata = runbook.metadata
    return msgspec.structs.replace(
        runbook,
        metadata=msgspec.structs.replace(
            metadata, created_at=_utc(metadata.created_at), updated_at=_utc(metadata.updated_at)
        ),
    )


def _article(raw: dict[str, Any]) -> Article:
    article = _convert(_with_timestamps(raw, ("last_updated",)), Article)
    return msgspec.structs.replace(article, last_updated=_utc(article.last_updated))


def _convert(raw: Any, kind: type[_Struct]) -> _Struct:
    try:
        return msgspec.convert(raw, kind, strict=True)
    except msgspec.ValidationError as exc:
        raise _SkipFile(f"invalid {kind.__name__.lower()}: {exc}") from exc
    except RecursionError as exc:
        raise _SkipFile(f"invalid {kind.__name__.lower()}: nested too deeply") from exc


def _with_timestamps(raw: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """Make YAML's dates and naive timestamps UTC datetimes, which is what the schema (and every comparison) wants.

    YAML turns ``2024-01-01`` into a ``date`` and an unzoned timestamp into a naive ``datetime``; both would
    otherwise fail validation or compare unequal to aware datetimes later. JSON has no date type, so a date-only
    string is accepted too. Only the named fields are touched: walking the whole document would let a YAML alias
    bomb make loading take forever, and elsewhere a date-like string is just a string.
    """
    return {key: _timestamp(value) if key in keys else value for key, value in raw.items()}


def _timestamp(value: Any) -> Any:
    if isinstance(value, datetime):
        return _utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str) and _DATE_ONLY.fullmatch(value):
        try:
            return _timestamp(date.fromisoformat(value))
        except ValueError:  # an impossible date: msgspec reports it with the field's path
            return value
    return value


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
