"""A small in-memory BM25 index (tantivy) whose hits are document positions.

The corpus is a few hundred documents, indexed once at start-up in a single segment, so a hit's document ordinal is
the position of the document as it was added: no stored fields to fetch on the query path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import tantivy

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = ("FullTextIndex",)


class FullTextIndex:
    def __init__(self, fields: Sequence[str], docs: Sequence[Mapping[str, str]], boosts: Mapping[str, float]) -> None:
        builder = tantivy.SchemaBuilder()
        for name in fields:
            builder.add_text_field(name, stored=False, tokenizer_name="en_stem")
        self._index = tantivy.Index(builder.build())
        writer = self._index.writer(heap_size=15_000_000, num_threads=1)
        for doc in docs:
            writer.add_document(tantivy.Document(**{name: doc.get(name, "") for name in fields}))
        writer.commit()
        self._index.reload()
        self._searcher = self._index.searcher()
        if self._searcher.num_segments > 1:  # one writer thread and one commit make one segment
            raise RuntimeError("full-text index unexpectedly has several segments; document ordinals would be wrong")
        self._fields = list(fields)
        self._boosts = dict(boosts)
        self.size = len(docs)

    def search(self, words: Sequence[str], limit: int) -> list[tuple[int, float]]:
        """BM25 hits as ``(position, score)``, best first. ``words`` must be plain alphanumeric terms (OR-ed)."""
        if not words or not self.size:
            return []
        query = self._index.parse_query(" ".join(words), self._fields, field_boosts=self._boosts)
        result = self._searcher.search(query, limit, count=False)
        return [(address.doc, score) for score, address in result.hits]
