"""The span and metric store: one SQLite file in WAL mode, written in batches by one thread.

Why SQLite rather than DuckDB, measured on this machine kind with 204,800 SDK-made spans in batches of 512 (the
rows built, then insert + commit only; figures noisy to ±15 %):

=============================================  ==========================  ==========================
                                               SQLite (this schema)        DuckDB 2.0 (same columns)
=============================================  ==========================  ==========================
ingest, one request per transaction            63,000 spans/s              20,000 (``unnest``; 210 with
                                               (30,000 with ``--durable``) ``executemany``, no pyarrow)
ingest, eight requests per transaction                                     32,000
one run's 25,600 spans, fetched                270 ms                      210 ms
one trace by id                                0.04 ms                     7.6 ms
spans of a 1 s window (~10,000)                110 ms                      90 ms
count per operation, whole table               290 ms (kept as a summary   10 ms
                                               table here instead: 0 ms)
size on disk                                   360 B/span                  42 B/span
another process reads while the receiver runs  yes (WAL readers)           no: the file is locked, even
                                                                           against read-only opens
=============================================  ==========================  ==========================

Ingest bounds the receiver, and the validator reads one run or one trace at a time through indexes, where the two
are close or SQLite is far ahead; DuckDB wins whole-table scans, which the validator does not need. The lock
decides it: with DuckDB the validator could not read a run while the receiver is still up.

Layout: ``spans`` and ``metric_points`` hold one row per item; ``resources`` holds each distinct resource once
(rows point at it by a content hash), ``operations`` counts spans per (service, name, kind) as they arrive, and the
view ``spans_with_resource`` joins the resource back for ad-hoc SQL. ``PRAGMA user_version`` is the schema version,
checked by readers.

Durability: ``synchronous=OFF`` by default. In WAL mode a commit then survives the receiver crashing (SQLite has
handed it to the OS), but not the machine crashing, which may also damage the file. That is the right trade for
the telemetry of a load test (a run interrupted by a machine crash is invalid anyway): fsyncs at WAL checkpoints
stall the writer, and answers wait for commits, so ``synchronous=NORMAL`` halves the store's own ingest and makes
the receiver's slower and erratic (17,500-28,000 against 27,500-32,500 spans/s end to end, alternating runs of
the bench). ``durable=True`` (``--durable``) selects NORMAL.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from otel.receiver.decode import Signal
from otel.receiver.rows import POINT_COLUMNS, RESOURCE_COLUMNS, SPAN_COLUMNS

if TYPE_CHECKING:
    import os
    from collections.abc import Sequence

    from otel.receiver.decode import Batch

__all__ = ("SCHEMA_VERSION", "SpanStore", "StoreError", "connect_readonly")

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    resource_id INTEGER PRIMARY KEY,
    service_name TEXT NOT NULL,
    service_instance_id TEXT,
    attributes TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS spans (
    trace_key INTEGER NOT NULL,
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    parent_span_id TEXT,
    name TEXT NOT NULL,
    kind INTEGER NOT NULL,
    service_name TEXT NOT NULL,
    service_instance_id TEXT,
    run_id TEXT,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    duration_ns INTEGER NOT NULL,
    status_code INTEGER NOT NULL,
    status_message TEXT NOT NULL,
    attributes TEXT NOT NULL,
    events TEXT NOT NULL,
    links TEXT NOT NULL,
    resource_id INTEGER NOT NULL,
    scope_name TEXT NOT NULL,
    scope_version TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS spans_trace ON spans (trace_key);
CREATE INDEX IF NOT EXISTS spans_run ON spans (run_id) WHERE run_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS spans_start ON spans (start_ns);
CREATE TABLE IF NOT EXISTS operations (
    service_name TEXT NOT NULL,
    name TEXT NOT NULL,
    kind INTEGER NOT NULL,
    span_count INTEGER NOT NULL,
    first_start_ns INTEGER NOT NULL,
    last_start_ns INTEGER NOT NULL,
    PRIMARY KEY (service_name, name, kind)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS metric_points (
    name TEXT NOT NULL,
    unit TEXT NOT NULL,
    type TEXT NOT NULL,
    temporality INTEGER,
    monotonic INTEGER,
    service_name TEXT NOT NULL,
    service_instance_id TEXT,
    run_id TEXT,
    scope_name TEXT NOT NULL,
    attributes TEXT NOT NULL,
    resource_id INTEGER NOT NULL,
    start_ns INTEGER,
    time_ns INTEGER NOT NULL,
    value NUMERIC,
    count INTEGER,
    sum REAL,
    min REAL,
    max REAL,
    bucket_bounds TEXT,
    bucket_counts TEXT,
    exponential TEXT,
    quantiles TEXT,
    flags INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS points_name_time ON metric_points (name, time_ns);
CREATE INDEX IF NOT EXISTS points_run ON metric_points (run_id) WHERE run_id IS NOT NULL;
CREATE VIEW IF NOT EXISTS spans_with_resource AS
    SELECT spans.*, resources.attributes AS resource FROM spans LEFT JOIN resources USING (resource_id);
"""

_INSERT_SPANS = f"INSERT INTO spans ({', '.join(SPAN_COLUMNS)}) VALUES ({', '.join('?' * len(SPAN_COLUMNS))})"
_INSERT_POINTS = (
    f"INSERT INTO metric_points ({', '.join(POINT_COLUMNS)}) VALUES ({', '.join('?' * len(POINT_COLUMNS))})"
)
_INSERT_RESOURCES = (
    f"INSERT OR IGNORE INTO resources ({', '.join(RESOURCE_COLUMNS)}) VALUES ({', '.join('?' * len(RESOURCE_COLUMNS))})"
)
_UPSERT_OPERATIONS = """
INSERT INTO operations (service_name, name, kind, span_count, first_start_ns, last_start_ns) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (service_name, name, kind) DO UPDATE SET
    span_count = span_count + excluded.span_count,
    first_start_ns = min(first_start_ns, excluded.first_start_ns),
    last_start_ns = max(last_start_ns, excluded.last_start_ns)
"""

_NAME, _KIND, _SERVICE, _START = (SPAN_COLUMNS.index(c) for c in ("name", "kind", "service_name", "start_ns"))


class StoreError(Exception):
    """The store file cannot be opened or has a schema this code does not know."""


def _check_version(conn: sqlite3.Connection, path: Path) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version not in (0, SCHEMA_VERSION):
        raise StoreError(f"{path} has store schema {version}; this receiver reads and writes {SCHEMA_VERSION}")


def connect_readonly(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """A read-only connection to a store, safe to hold while a receiver writes it (WAL readers never block)."""
    store = Path(path)
    if not store.exists():
        raise StoreError(f"no store at {store}")
    conn = sqlite3.connect(f"{store.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreError(f"{store} is not a store: {exc}") from None
    if version != SCHEMA_VERSION:
        conn.close()
        raise StoreError(f"{store} has store schema {version}; this reader knows {SCHEMA_VERSION}")
    return conn


class SpanStore:
    """The writing side: schema set-up, one transaction per group of batches, and WAL checkpoints.

    Not thread-safe by design: the writer thread is its only user after ``__init__`` (which runs on the caller's
    thread so that a bad path fails at start-up, not on the first request).
    """

    def __init__(self, path: str | Path, *, durable: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            _check_version(self._conn, self.path)
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute(f"PRAGMA synchronous = {'NORMAL' if durable else 'OFF'}")
            self._conn.execute("PRAGMA cache_size = -65536")  # 64 MiB: the trace index stays in memory longer
            self._conn.execute("PRAGMA busy_timeout = 5000")  # someone's sqlite3 shell writing: wait, do not fail
            # One transaction, so a reader never sees tables without the version or the version without tables.
            self._conn.executescript(f"BEGIN; {_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open the store {self.path}: {exc}") from None

    def write(self, batches: Sequence[Batch]) -> None:
        """Insert every row of ``batches`` in one transaction (all or nothing)."""
        spans: list[tuple[Any, ...]] = []
        points: list[tuple[Any, ...]] = []
        resources: dict[int, tuple[Any, ...]] = {}
        for batch in batches:
            if batch.signal is Signal.TRACES:
                spans.extend(batch.rows)
            elif batch.signal is Signal.METRICS:
                points.extend(batch.rows)
            for resource in batch.resources:
                resources[resource[0]] = resource
        if not spans and not points:
            return
        conn = self._conn
        conn.execute("BEGIN")
        try:
            conn.executemany(_INSERT_RESOURCES, resources.values())
            if spans:
                conn.executemany(_INSERT_SPANS, spans)
                conn.executemany(_UPSERT_OPERATIONS, _operations(spans))
            if points:
                conn.executemany(_INSERT_POINTS, points)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        """Fold the WAL back into the main file, so the store is one self-contained file at rest."""
        try:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            self._conn.close()


def _operations(spans: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    counts: Counter[tuple[str, str, int]] = Counter()
    first: dict[tuple[str, str, int], int] = {}
    last: dict[tuple[str, str, int], int] = {}
    for row in spans:
        key = (row[_SERVICE], row[_NAME], row[_KIND])
        start = row[_START]
        counts[key] += 1
        if start < first.get(key, start + 1):
            first[key] = start
        if start > last.get(key, -1):
            last[key] = start
    return [(*key, count, first[key], last[key]) for key, count in counts.items()]
