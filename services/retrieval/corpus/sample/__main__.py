"""``python -m services.retrieval.corpus.sample --out DIR [--seed N]``: write the sample corpus into ``DIR``."""

from __future__ import annotations

from services.retrieval.corpus.sample.generator import main

if __name__ == "__main__":
    main()
