"""Seeded generator of the sample corpus that ships as the default.

The original generator used an unseeded RNG and a loop that silently gave two alert types no runbooks at all;
this one is deterministic (same seed → byte-identical files, no wall-clock input) and gives every alert family
the same quota, so benchmarks and tests see the same corpus on every machine. Every timestamp derives from
``BASE_DATE`` (2025-06-01): knowledge-base articles are dated up to two years before it, which is what
``max_age_days`` filtering is tested against.

Run ``python -m services.retrieval.corpus.sample --out DIR [--seed N]``. The shipped ``default/`` directory is
this package's output for ``DEFAULT_SEED``; a test regenerates it and compares, so change the tables and
regenerate rather than editing the files by hand.

The package is laid out by concept: ``spec`` (the table types and shared constants), ``families`` (one content
table per alert family), ``roster``, ``build`` (tables to runbooks and articles), ``write`` (file formats) and
``generator`` (``generate`` and the command line).
"""

from __future__ import annotations

from services.retrieval.corpus.sample.families import FAMILY_ALERT_TYPES
from services.retrieval.corpus.sample.generator import GenerationSummary, generate, main
from services.retrieval.corpus.sample.spec import BASE_DATE, DEFAULT_SEED

__all__ = ("BASE_DATE", "DEFAULT_SEED", "FAMILY_ALERT_TYPES", "GenerationSummary", "generate", "main")
