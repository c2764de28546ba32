"""The OTLP file source's index of metric lines: a file that changes between two queries is read again.

A run's metric queries come one per metric, so the source remembers where a file's metric lines are and, while the
file stays as it was, reads only those. A file the collector is still writing grows between queries: what it gained
must be counted, and a file rewritten in place must not be read at stale offsets.
"""

from __future__ import annotations

import gzip
import itertools
import os
from typing import TYPE_CHECKING

from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    AGGREGATION_TEMPORALITY_CUMULATIVE,
    Gauge,
    Metric,
    NumberDataPoint,
    Sum,
)

from loadtests.validate.sources import OtlpFileSource
from otel.receiver.otlp_json import metrics_to_json, traces_to_json
from tests.unit.loadtests.validate.sources import data
from tests.unit.otel.receiver import make

if TYPE_CHECKING:
    from pathlib import Path

T0, S = data.T0, data.S
START, END = T0 + 15 * S, T0 + 100 * S
"""The window queried: ``(T0+15 s, T0+100 s]``."""


def metric_line(at_s: int, requests: int, memory: float) -> bytes:
    """One export: the cumulative ``requests`` counter (started at T0) and the ``memory`` gauge, stamped ``at_s``."""
    counter = Metric(
        name="requests",
        sum=Sum(
            data_points=[NumberDataPoint(start_time_unix_nano=T0, time_unix_nano=T0 + at_s * S, as_int=requests)],
            aggregation_temporality=AGGREGATION_TEMPORALITY_CUMULATIVE,
            is_monotonic=True,
        ),
    )
    gauge = Metric(
        name="memory", gauge=Gauge(data_points=[NumberDataPoint(time_unix_nano=T0 + at_s * S, as_double=memory)])
    )
    return metrics_to_json(make.metrics(counter, gauge, service="svc")) + b"\n"


def span_line(n: int) -> bytes:
    """A line of spans, padded with a long attribute, so metric lines sit at offsets worth getting right."""
    spans = [make.span(f"op {n}", make.trace_id(), make.span_id(), start=T0 + n * S, note="x" * 500) for _ in range(3)]
    return traces_to_json(make.traces(*spans)) + b"\n"


def answers(source: OtlpFileSource) -> tuple[float, list[float]]:
    """The counter's increase in the window and the gauge's samples in it."""
    increase = source.counter("requests", by=(), start_ns=START, end_ns=END).get((), 0.0)
    samples = source.gauge("memory", by=(), start_ns=START, end_ns=END).get((), [])
    return increase, [value for _, value in samples]


def append(file: Path, *lines: bytes) -> None:
    with file.open("ab") as out:
        out.write(b"".join(lines))


def test_an_unchanged_file_answers_the_same_every_time(tmp_path: Path) -> None:
    file = tmp_path / "otlp.jsonl"
    file.write_bytes(span_line(1) + metric_line(10, 5, 100) + span_line(2) + metric_line(20, 8, 110) + span_line(3))
    with OtlpFileSource(file) as source:
        first = answers(source)
        assert first == (3.0, [110.0])  # 8 - 5 (the 10 s point is the baseline), one sample in the window
        assert answers(source) == first
        assert answers(source) == first


def test_a_file_that_grows_between_queries_is_read_again(tmp_path: Path) -> None:
    file = tmp_path / "otlp.jsonl"
    file.write_bytes(metric_line(10, 5, 100) + span_line(1) + metric_line(20, 8, 110))
    with OtlpFileSource(file) as source:
        assert answers(source) == (3.0, [110.0])
        before = file.stat()
        append(file, span_line(2), metric_line(30, 12, 120))
        os.utime(file, ns=(before.st_atime_ns, before.st_mtime_ns))  # within one tick of a coarse clock
        assert answers(source) == (7.0, [110.0, 120.0])  # the new point is counted
        append(file, span_line(3), span_line(4))
        assert answers(source) == (7.0, [110.0, 120.0])  # spans only: nothing new, nothing lost
        append(file, metric_line(30, 12, 120), metric_line(40, 20, 130))  # a retried export, then a new one
        assert answers(source) == (15.0, [110.0, 120.0, 130.0])
        assert answers(source) == (15.0, [110.0, 120.0, 130.0])


def metric_offsets(content: bytes) -> set[int]:
    offsets: set[int] = set()
    offset = 0
    for line in content.splitlines(keepends=True):
        if b"resourceMetrics" in line:
            offsets.add(offset)
        offset += len(line)
    return offsets


def padded(size: int, line: bytes, *, first: bool) -> bytes:
    """``line`` and a line of blanks (skipped by readers), ``size`` bytes in all."""
    blanks = b" " * (size - len(line) - 1) + b"\n"
    return line + blanks if first else blanks + line


def test_a_file_rewritten_between_queries_is_not_read_at_old_offsets(tmp_path: Path) -> None:
    file = tmp_path / "otlp.jsonl"
    contents = [span_line(1) + span_line(2) + metric_line(20, 8, 110) + metric_line(30, 12, 120)]
    file.write_bytes(contents[0])
    with OtlpFileSource(file) as source:
        assert answers(source) == (4.0, [110.0, 120.0])  # no point before the window: the first one is the base
        contents.append(metric_line(10, 1, 90) + metric_line(50, 2, 95))  # shorter, the metric lines moved
        file.write_bytes(contents[-1])
        assert answers(source) == (1.0, [95.0])

        # another file of the same size and modification time (a copy that kept it), its metric line moved
        size, mtime = file.stat().st_size, file.stat().st_mtime_ns
        contents.append(padded(size, metric_line(60, 3, 9), first=False))
        replacement = tmp_path / "next.jsonl"
        replacement.write_bytes(contents[-1])
        os.utime(replacement, ns=(mtime, mtime))
        replacement.replace(file)
        assert (file.stat().st_size, file.stat().st_mtime_ns) == (size, mtime)
        assert answers(source) == (0.0, [9.0])  # no baseline: the only point is the first in the window

        # the same file rewritten to the same size, later (by a second, should the clock be coarse), moved again
        before = file.stat()
        contents.append(padded(size, metric_line(70, 4, 8), first=True))
        file.write_bytes(contents[-1])
        os.utime(file, ns=(before.st_atime_ns, before.st_mtime_ns + S))
        assert (file.stat().st_ino, file.stat().st_size) == (before.st_ino, size)
        assert answers(source) == (0.0, [8.0])
    for old, new in itertools.pairwise(contents):
        assert not metric_offsets(old) & metric_offsets(new)  # stale offsets would find no metric line


def test_files_appearing_and_growing_in_a_directory(tmp_path: Path) -> None:
    directory = tmp_path / "otlp"
    directory.mkdir()
    (directory / "a.jsonl").write_bytes(metric_line(10, 5, 100) + metric_line(20, 8, 110))
    with OtlpFileSource(directory) as source:
        assert answers(source) == (3.0, [110.0])
        with gzip.open(directory / "b.jsonl.gz", "wb") as out:
            out.write(span_line(1) + metric_line(30, 12, 120))
        assert answers(source) == (7.0, [110.0, 120.0])
        append(directory / "a.jsonl", metric_line(40, 20, 130))
        assert answers(source) == (15.0, [110.0, 120.0, 130.0])
