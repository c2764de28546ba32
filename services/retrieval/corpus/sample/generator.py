"""Generating a whole corpus: the ``generate`` entry point, its summary, and the command line."""

from __future__ import annotations

import argparse
import random
from collections import Counter
from pathlib import Path

import msgspec

from services.retrieval.corpus.sample.build import build_articles, build_runbooks
from services.retrieval.corpus.sample.families import FAMILIES
from services.retrieval.corpus.sample.roster import ROSTER
from services.retrieval.corpus.sample.spec import BASE_DATE, DEFAULT_SEED
from services.retrieval.corpus.sample.write import (
    article_text,
    format_for,
    prepare,
    readme,
    runbook_text,
    to_yaml,
    write_file,
)


class GenerationSummary(msgspec.Struct, kw_only=True, frozen=True):
    """What a generation wrote; the CLI prints it as one line."""

    seed: int
    base_date: str
    runbooks: int
    runbooks_per_family: dict[str, int]
    articles: int
    articles_per_category: dict[str, int]
    formats: dict[str, int]
    teams: int

    def line(self, out_dir: Path) -> str:
        formats = ", ".join(f"{name} {count}" for name, count in sorted(self.formats.items()))
        return (
            f"wrote {self.runbooks} runbooks ({len(self.runbooks_per_family)} families; {formats}), "
            f"{self.articles} articles and {self.teams} roster teams to {out_dir} "
            f"(seed {self.seed}, base date {self.base_date})"
        )


def generate(out_dir: Path, seed: int = DEFAULT_SEED) -> GenerationSummary:
    """Write a complete corpus for ``seed`` into ``out_dir`` (replacing an earlier generation there)."""
    rng = random.Random(seed)
    built = [item for family in FAMILIES for item in build_runbooks(family, rng)]
    articles = build_articles(built, rng)
    prepare(out_dir)
    formats: Counter[str] = Counter()
    for position, item in enumerate(built):
        kind = format_for(position)
        formats[kind] += 1
        folder = out_dir / "runbooks" / item.family.key
        write_file(folder / f"{item.runbook.id}.{kind}", runbook_text(item.runbook, kind))
    for article in articles:
        write_file(out_dir / "knowledge-base" / article.category / f"{article.id}.md", article_text(article))
    write_file(out_dir / "roster.yaml", to_yaml(msgspec.to_builtins(ROSTER)))
    write_file(out_dir / "README.md", readme(seed))
    return GenerationSummary(
        seed=seed,
        base_date=BASE_DATE.isoformat(),
        runbooks=len(built),
        runbooks_per_family=dict(sorted(Counter(item.family.key for item in built).items())),
        articles=len(articles),
        articles_per_category=dict(sorted(Counter(article.category for article in articles).items())),
        formats=dict(sorted(formats.items())),
        teams=len(ROSTER.teams),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m services.retrieval.corpus.sample", description="Generate the seeded sample corpus."
    )
    parser.add_argument("--out", type=Path, required=True, help="directory to write the corpus into")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"RNG seed (default {DEFAULT_SEED})")
    args = parser.parse_args(argv)
    try:
        summary = generate(args.out, args.seed)
    except FileExistsError as exc:
        parser.error(str(exc))
    print(summary.line(args.out))
