"""The verdict as JSON: the machine-readable report, and the ``--baseline`` input of a later run.

The document is ``Verdict`` exactly as ``verdict.py`` defines it, with its ``schema`` field first, so a reader can
refuse a version it does not understand before it trusts any number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from loadtests.errors import ConfigError
from loadtests.report.files import write_atomic
from loadtests.validate.verdict import SCHEMA, Verdict

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ("encode_json", "read_json", "write_json")


def encode_json(verdict: Verdict) -> bytes:
    """Indented JSON; non-finite floats become ``null`` (JSON has no NaN)."""
    return msgspec.json.format(msgspec.json.encode(verdict), indent=2) + b"\n"


def write_json(verdict: Verdict, path: Path) -> None:
    write_atomic(path, encode_json(verdict))


class _Schema(msgspec.Struct):
    schema: str = ""


def read_json(path: Path) -> Verdict:
    """Read a verdict written by ``write_json`` (a baseline), refusing other schemas with a one-line error."""
    try:
        data = path.read_bytes()
        found = msgspec.json.decode(data, type=_Schema).schema
    except (OSError, msgspec.DecodeError) as error:
        raise ConfigError(f"cannot read a validation report from {path}: {error}") from None
    if found != SCHEMA:
        raise ConfigError(f"{path} is a {found or 'schema-less'!r} document; this version reads {SCHEMA!r}")
    try:
        return msgspec.json.decode(data, type=Verdict)
    except msgspec.ValidationError as error:
        raise ConfigError(f"{path} does not match {SCHEMA}: {error}") from None
