"""The benchmark (``python -m loadtests bench``, ``just bench``): the seed's phases, done right, and the knee.

Phases, in order: cold (the first call of each tool on a fresh stack) → warm-up (excluded) → baseline (one VU:
misses on never-seen keys, hits on warm ones) → load (each tool at ``--vus``) → cache (miss/hit pairs on the same
key) → stress (critical tools at twice the VUs) → memory (RSS/CPU from the services' /metrics, leak slope) →
capacity (open-model steps until the cached-call p99 breaks its target). Each module says why it measures as it
does: :mod:`~loadtests.bench.plans` (load models), :mod:`~loadtests.bench.keys` (hit and miss on purpose),
:mod:`~loadtests.bench.memory` (the leak slope), :mod:`~loadtests.bench.capacity` (the search).
"""

from __future__ import annotations

from loadtests.bench.cli import bench_main, write_reports
from loadtests.bench.options import BenchOptions, add_bench_arguments, options_from_args
from loadtests.bench.result import BenchResult
from loadtests.bench.runner import run_bench
from loadtests.bench.verdict import bench_verdict

__all__ = (
    "BenchOptions",
    "BenchResult",
    "add_bench_arguments",
    "bench_main",
    "bench_verdict",
    "options_from_args",
    "run_bench",
    "write_reports",
)
