"""Jaeger UI's critical path on hand-built traces, and against a literal port of the recursive original."""

from __future__ import annotations

import itertools
import random
from typing import Any

from loadtests.validate.critical_path import Section, critical_path, group_by_trace, self_times
from loadtests.validate.spans import SpanKind, SpanRecord

TRACE = "0af7651916cd43dd8448eb211c80319c"


def sid(name: str) -> str:
    return name.encode().hex().rjust(16, "0")


def span(
    name: str,
    start: int,
    end: int,
    parent: str | None = None,
    *,
    kind: SpanKind = "internal",
    service: str = "svc",
    trace: str = TRACE,
    attributes: dict[str, Any] | None = None,
) -> SpanRecord:
    return SpanRecord(
        trace_id=trace,
        span_id=sid(name),
        parent_id=sid(parent) if parent is not None else None,
        name=name,
        kind=kind,
        service=service,
        start_ns=start,
        end_ns=end,
        attributes=attributes or {},
    )


def path(spans: list[SpanRecord]) -> list[tuple[str, int, int]]:
    return [(s.name, s.start_ns, s.end_ns) for s in critical_path(spans)]


def assert_tiles(sections: list[Section], start: int, end: int) -> None:
    assert sections, "no sections"
    assert sections[0].start_ns == start
    assert sections[-1].end_ns == end
    for before, after in itertools.pairwise(sections):
        assert before.end_ns == after.start_ns
        assert before.start_ns < before.end_ns


def test_single_span_is_its_own_path() -> None:
    assert path([span("root", 10, 100)]) == [("root", 10, 100)]


def test_nested_children() -> None:
    spans = [span("root", 10, 100), span("a", 20, 90, "root"), span("b", 30, 80, "a")]
    assert path(spans) == [("root", 10, 20), ("a", 20, 30), ("b", 30, 80), ("a", 80, 90), ("root", 90, 100)]


def test_input_order_does_not_matter() -> None:
    spans = [span("root", 10, 100), span("a", 20, 90, "root"), span("b", 30, 80, "a")]
    assert path(list(reversed(spans))) == path(spans)


def test_overlapping_sibling_is_ignored() -> None:
    spans = [
        span("root", 10, 100),
        span("a", 20, 60, "root"),  # overlaps b, which finishes later: never on the path
        span("b", 30, 80, "root"),
        span("c", 85, 95, "root"),
    ]
    assert path(spans) == [("root", 10, 30), ("b", 30, 80), ("root", 80, 85), ("c", 85, 95), ("root", 95, 100)]


def test_children_outliving_their_parent_are_clipped() -> None:
    spans = [
        span("root", 10, 100),
        span("a", 50, 150, "root"),  # clipped to [50, 100]
        span("x", 120, 140, "a"),  # starts after a's clipped end: dropped
        span("y", 60, 130, "a"),  # clipped to [60, 100]
    ]
    assert path(spans) == [("root", 10, 50), ("a", 50, 60), ("y", 60, 100)]


def test_children_starting_before_their_parent_are_clipped() -> None:
    spans = [
        span("root", 10, 100),
        span("a", 5, 40, "root"),  # clipped to [10, 40]
        span("early", 1, 8, "root"),  # ends before the root starts: dropped
        span("cover", 2, 200, "a"),  # covers a: clipped to a's clipped [10, 40]
    ]
    assert path(spans) == [("cover", 10, 40), ("root", 40, 100)]


def test_gaps_are_the_parents_self_time() -> None:
    spans = [span("root", 10, 100), span("a", 20, 30, "root"), span("b", 50, 60, "root")]
    assert path(spans) == [("root", 10, 20), ("a", 20, 30), ("root", 30, 50), ("b", 50, 60), ("root", 60, 100)]
    assert self_times(critical_path(spans)) == {("svc", "root"): 70, ("svc", "a"): 10, ("svc", "b"): 10}


def test_sibling_ending_exactly_at_the_next_start_is_skipped() -> None:
    spans = [span("root", 10, 100), span("a", 20, 50, "root"), span("b", 50, 90, "root")]
    # Strict rule: a ends at 50, not strictly before b's start, so the parent takes [10, 50].
    assert path(spans) == [("root", 10, 50), ("b", 50, 90), ("root", 90, 100)]


def test_ties_go_to_the_earliest_child_in_list_order() -> None:
    by_start = [span("root", 10, 100), span("b", 30, 80, "root"), span("a", 20, 80, "root")]
    assert path(by_start) == [("root", 10, 20), ("a", 20, 80), ("root", 80, 100)]
    by_id = [span("root", 10, 100), span("b", 20, 80, "root"), span("a", 20, 80, "root")]
    assert path(by_id) == [("root", 10, 20), ("a", 20, 80), ("root", 80, 100)]


def test_consumer_child_of_a_producer_does_not_block() -> None:
    spans = [
        span("root", 10, 100, kind="server"),
        span("p", 20, 30, "root", kind="producer"),
        span("c", 22, 28, "p", kind="consumer"),
        span("cc", 23, 27, "c"),
    ]
    assert path(spans) == [("root", 10, 20), ("p", 20, 30), ("root", 30, 100)]
    # The same child under a non-producer blocks.
    internal = [spans[0], span("p", 20, 30, "root"), spans[2], spans[3]]
    assert path(internal) == [
        ("root", 10, 20),
        ("p", 20, 22),
        ("c", 22, 23),
        ("cc", 23, 27),
        ("c", 27, 28),
        ("p", 28, 30),
        ("root", 30, 100),
    ]


def test_each_root_is_processed_separately() -> None:
    spans = [
        span("r2", 60, 100),
        span("r1", 10, 50),
        span("a", 20, 40, "r1"),
        span("b", 70, 80, "r2"),
    ]
    sections = critical_path(spans)
    assert [(s.name, s.start_ns, s.end_ns) for s in sections] == [
        ("r1", 10, 20),
        ("a", 20, 40),
        ("r1", 40, 50),
        ("r2", 60, 70),
        ("b", 70, 80),
        ("r2", 80, 100),
    ]
    only_r2 = critical_path(spans, root_filter=lambda root: root.name == "r2")
    assert [(s.name, s.start_ns, s.end_ns) for s in only_r2] == [("r2", 60, 70), ("b", 70, 80), ("r2", 80, 100)]


def test_orphans_are_dropped_with_their_subtree() -> None:
    spans = [
        span("root", 10, 100),
        span("a", 20, 30, "root"),
        span("orphan", 40, 99, "missing"),
        span("kid", 50, 98, "orphan"),
    ]
    assert path(spans) == [("root", 10, 20), ("a", 20, 30), ("root", 30, 100)]
    assert critical_path([span("orphan", 40, 99, "missing")]) == []


def test_self_parent_and_repeated_spans() -> None:
    spans = [span("root", 10, 100), span("a", 20, 30, "root"), span("a", 20, 30, "root"), span("loop", 40, 50, "loop")]
    assert path(spans) == [("root", 10, 20), ("a", 20, 30), ("root", 30, 100)]


def test_a_boundary_of_zero_ends_the_walk() -> None:
    # Jaeger treats boundary 0 as none and recurses forever; here it is an ordinary boundary.
    spans = [span("root", 0, 100), span("a", 0, 50, "root")]
    sections = critical_path(spans)
    assert [(s.name, s.start_ns, s.end_ns) for s in sections] == [("a", 0, 50), ("root", 50, 100)]


def test_sections_carry_span_identity() -> None:
    spans = [span("root", 10, 100, service="pp-gateway"), span("GET", 20, 30, "root", service="pp-retrieval")]
    sections = critical_path(spans)
    assert sections[1] == Section(sid("GET"), "pp-retrieval", "GET", 20, 30)
    assert sections[1].duration_ns == 10


def test_deep_chain_needs_no_recursion() -> None:
    spans = [span("s0", 1, 100_001)] + [span(f"s{i}", 1 + i, 100_001 - i, f"s{i - 1}") for i in range(1, 5000)]
    sections = critical_path(spans)
    assert len(sections) == 2 * 5000 - 1
    assert_tiles(sections, 1, 100_001)


def test_group_by_trace() -> None:
    a1, b1, a2 = span("x", 1, 2, trace="a" * 32), span("y", 1, 2, trace="b" * 32), span("z", 1, 2, trace="a" * 32)
    assert group_by_trace([a1, b1, a2]) == [[a1, a2], [b1]]


# --- against a literal port of jaeger-ui's recursive algorithm ------------------------------------------------------


CPMap = dict[str, dict[str, Any]]


def reference_map(root: SpanRecord, tree: dict[str, list[SpanRecord]]) -> CPMap:
    """jaeger-ui's ``createCPSpanMap``: the root's tree in pre-order, non-blocking children left out."""
    cp: CPMap = {}

    def traverse(node: SpanRecord) -> None:
        entry: dict[str, Any] = {"parent": node.parent_id, "start": node.start_ns, "end": node.end_ns, "kids": []}
        cp[node.span_id] = entry
        for child in tree.get(node.span_id, []):
            if not (node.kind == "producer" and child.kind == "consumer"):
                entry["kids"].append(child.span_id)
                traverse(child)

    traverse(root)
    return cp


def reference_sanitize(cp: CPMap) -> None:
    """jaeger-ui's ``sanitizeOverFlowingChildren``, branch for branch."""
    for key in list(cp):
        entry = cp[key]
        if not entry["parent"]:
            continue
        parent = cp.get(entry["parent"])
        if parent is None:
            del cp[key]
            continue
        a, b, ps, pe = entry["start"], entry["end"], parent["start"], parent["end"]
        drop = False
        if a >= ps:
            if a >= pe:
                drop = True
            elif b > pe:
                entry["end"] = pe
        elif b <= ps:
            drop = True
        elif b <= pe:
            entry["start"] = ps
        else:
            entry["start"], entry["end"] = ps, pe
        if drop:
            del cp[key]
            parent["kids"] = [k for k in parent["kids"] if k != key]


def reference_lfc(cp: CPMap, current: dict[str, Any], returning: int | None) -> str | None:
    best: str | None = None
    best_end = -1
    for kid in current["kids"]:
        child = cp.get(kid)
        if child is None:
            continue
        if returning:  # truthiness, as in JavaScript
            if child["end"] < returning and child["end"] > best_end:
                best, best_end = kid, child["end"]
        elif child["end"] > best_end:
            best, best_end = kid, child["end"]
    return best


def reference_compute(cp: CPMap, key: str, sections: list[tuple[str, int, int]], returning: int | None = None) -> None:
    """jaeger-ui's recursive ``computeCriticalPath``."""
    current = cp.get(key)
    if current is None:
        return
    best = reference_lfc(cp, current, returning)
    if best is not None:
        section = (key, cp[best]["end"], returning or current["end"])
        if section[1] != section[2]:
            sections.append(section)
        reference_compute(cp, best, sections)
    else:
        section = (key, current["start"], returning or current["end"])
        if section[1] != section[2]:
            sections.append(section)
        if current["parent"]:
            reference_compute(cp, current["parent"], sections, current["start"])


def jaeger_reference(spans: list[SpanRecord]) -> list[list[tuple[str, int, int]]]:
    """Per root, sections newest first, computed the way jaeger-ui does (maps, pre-order clip, recursion)."""
    ordered = sorted(spans, key=lambda s: (s.start_ns, s.span_id))
    first: dict[str, SpanRecord] = {}
    for s in ordered:
        first.setdefault(s.span_id, s)
    tree: dict[str, list[SpanRecord]] = {}
    for s in ordered:
        if first[s.span_id] is s and s.parent_id in first and s.parent_id != s.span_id:
            tree.setdefault(s.parent_id, []).append(s)
    out: list[list[tuple[str, int, int]]] = []
    for root in (s for s in ordered if s.parent_id is None and first[s.span_id] is s):
        cp = reference_map(root, tree)
        reference_sanitize(cp)
        sections: list[tuple[str, int, int]] = []
        reference_compute(cp, root.span_id, sections)
        if sections:
            out.append(sections)
    return out


def random_trace(rng: random.Random, *, single_root: bool = False) -> list[SpanRecord]:
    n = rng.randint(1, 25)
    kinds: list[SpanKind] = ["internal", "server", "client", "producer", "consumer"]
    spans: list[SpanRecord] = []
    for i in range(n):
        start = rng.randint(1000, 1060)
        end = start + (0 if rng.random() < 0.15 else rng.randint(1, 60))
        if i == 0 or (not single_root and rng.random() < 0.08):
            parent = None
        elif not single_root and rng.random() < 0.05:
            parent = sid("nowhere")
        else:
            parent = spans[rng.randrange(len(spans))].span_id
        repeated = not single_root and rng.random() < 0.1
        spans.append(
            SpanRecord(
                trace_id=TRACE,
                span_id=sid(f"n{i % 3}") if repeated else f"{i:08x}{rng.randrange(1 << 32):08x}",
                parent_id=parent,
                name=f"op{i}",
                kind=rng.choice(kinds),
                service="svc",
                start_ns=start,
                end_ns=end,
            )
        )
    rng.shuffle(spans)
    return spans


def test_matches_the_recursive_original_on_random_traces() -> None:
    rng = random.Random(20260827)
    for _ in range(600):
        spans = random_trace(rng)
        expected = jaeger_reference(spans)
        got = critical_path(spans)
        flat = [(s.span_id, s.start_ns, s.end_ns) for s in got]
        assert flat == [section for per_root in expected for section in reversed(per_root)]


def test_sections_tile_the_root_on_random_traces() -> None:
    rng = random.Random(7)
    checked = 0
    for _ in range(300):
        spans = random_trace(rng, single_root=True)
        root = next(s for s in spans if s.parent_id is None)
        sections = critical_path(spans)
        if root.end_ns == root.start_ns:
            assert sections == []
            continue
        assert_tiles(sections, root.start_ns, root.end_ns)
        assert sum(self_times(sections).values()) == root.duration_ns
        checked += 1
    assert checked > 200
