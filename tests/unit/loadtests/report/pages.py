"""Reading a rendered (or browser-dumped) page back: its elements, its text, and whether its tags nest."""

from __future__ import annotations

from collections import Counter
from html.parser import HTMLParser

VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"})


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: Counter[str] = Counter()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.problems: list[str] = []
        self.chunks: list[str] = []
        self._stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._record(tag, attrs)
        if tag not in VOID:
            self._stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._record(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if not self._stack or self._stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self._stack[-1:] or 'nothing'}")
            return
        self._stack.pop()

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)

    def close(self) -> None:
        super().close()
        if self._stack:
            self.problems.append(f"unclosed: {self._stack}")

    def _record(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        self.elements.append((tag, dict(attrs)))

    @property
    def text(self) -> str:
        return "".join(self.chunks)

    def find(self, tag: str, css_class: str | None = None) -> list[dict[str, str | None]]:
        return [
            attrs
            for name, attrs in self.elements
            if name == tag and (css_class is None or css_class in (attrs.get("class") or "").split())
        ]

    def root(self) -> dict[str, str | None]:
        return next(attrs for name, attrs in self.elements if name == "html")


def parse(document: str) -> Page:
    page = Page()
    page.feed(document)
    page.close()
    return page
