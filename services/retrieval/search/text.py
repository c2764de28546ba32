"""Tokenising for match reasons and structured matching (the full-text index tokenises on its own).

Identifiers such as ``memory_pressure`` and ``java-app`` are split into words, so an alert named
``memory_pressure`` shares ``memory`` with a runbook for ``memory_leak``, and a ``java-app`` system matches
``java``. A light plural fold (``certificates`` → ``certificate``) keeps reasons readable without a stemmer.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ("STOPWORDS", "normalise_name", "tokens", "words")

_WORD = re.compile(r"[a-z0-9]+")

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "how",
        "i",
        "in",
        "is",
        "it",
        "of",
        "on",
        "or",
        "the",
        "this",
        "to",
        "was",
        "what",
        "when",
        "where",
        "which",
        "why",
        "with",
        "not",
        "no",
        "do",
        "does",
        "my",
        "our",
        "we",
        "you",
        "your",
    ]
)


def _fold(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def words(text: str) -> list[str]:
    """Content words of ``text`` in order, lower-cased and plural-folded, without stop words."""
    return [_fold(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


def tokens(*texts: str | Iterable[str]) -> frozenset[str]:
    """The set of content words across strings and iterables of strings."""
    out: set[str] = set()
    for text in texts:
        if isinstance(text, str):
            out.update(words(text))
        else:
            for item in text:
                out.update(words(item))
    return frozenset(out)


def normalise_name(name: str) -> str:
    """Canonical form of an alert or system name: ``Memory-Pressure `` → ``memory_pressure``."""
    return "_".join(_WORD.findall(name.lower()))
