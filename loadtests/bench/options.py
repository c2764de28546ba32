"""What a benchmark run is asked to do: :class:`BenchOptions`, its ``--quick`` preset and its command-line flags.

The defaults make a full run of about eight minutes on a two-core machine; ``--quick`` (CI) shrinks every phase to
seconds and the capacity search to a few short steps, which shows the machinery works but measures little.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Final

import msgspec

from loadtests.durations import parse_duration
from loadtests.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = (
    "ALL_TOOLS",
    "CRITICAL_TOOLS",
    "PHASES",
    "BenchOptions",
    "add_bench_arguments",
    "options_from_args",
    "quick",
)

ALL_TOOLS: Final = (
    "search_runbooks",
    "get_decision_tree",
    "get_procedure",
    "get_escalation_path",
    "search_knowledge_base",
    "list_sources",
    "record_resolution_feedback",
)
CRITICAL_TOOLS: Final = ("search_runbooks", "get_decision_tree", "get_escalation_path")
"""What an on-call agent calls in the first minute of every incident: find the runbook, walk its decision tree, find
whom to page. An incident storm multiplies exactly these, and the escalation path must answer even then (it is also
the one critical tool the cache never serves, so it shows the compute path under pressure)."""

PHASES: Final = ("baseline", "load", "cache", "stress", "memory", "capacity")
"""The measured phases, in the order they run (warm-up always runs first, after the cold calls)."""


class BenchOptions(msgspec.Struct, frozen=True, kw_only=True):
    target: str | None = None
    """The MCP endpoint of a running stack; None starts an embedded stack for the run."""
    retrieval_url: str | None = None
    """Base URL of the retrieval service (for its /metrics) when ``target`` is given."""
    gateway_url: str | None = None
    """Base URL of the gateway (for its /metrics); default: the target's scheme, host and port."""
    token: str | None = None
    reports: str = "reports"
    bench_id: str | None = None
    workers: int | None = None
    phases: tuple[str, ...] = PHASES
    tools: tuple[str, ...] = ALL_TOOLS
    quick: bool = False
    private_redis: bool = True
    """Embedded stack: a private Redis, so no key is cached from an earlier run (cold and miss stay honest)."""
    quiet: bool = False
    html: bool = True

    warmup_s: float = 10.0
    vus: int = 16
    hit_ratio: float = 0.8
    """Load and stress: the share of calls of a cached tool that reuse a warm key."""
    baseline_iterations: int = 100
    """Per tool and cache class, one VU back to back."""
    load_s: float = 15.0
    """Per tool."""
    cache_pairs: int = 50
    cache_repeats: int = 3
    stress_s: float = 15.0
    """Per critical tool, at twice ``vus``."""
    memory_s: float = 180.0
    memory_interval_s: float = 2.0
    memory_hit_ratio: float = 1.0
    """1.0 keeps the key set bounded, so any sustained RSS growth is a leak (see ``loadtests.bench.memory``)."""
    leak_threshold_mib_per_min: float = 2.0
    leak_min_window_s: float = 120.0
    leak_settle_fraction: float = 0.2

    cached_p99_ms: float = 200.0
    capacity_start_rps: float = 25.0
    capacity_factor: float = 2.0
    capacity_max_rps: float = 20_000.0
    capacity_step_s: float = 10.0
    capacity_bisect: int = 3
    capacity_max_steps: int = 16
    capacity_min_achieved: float = 0.95
    capacity_max_errors: float = 0.02
    max_loop_lag_ms: float = 10.0

    def validate(self) -> None:
        """Raises ConfigError naming the first bad option."""
        unknown = [p for p in self.phases if p not in PHASES]
        if unknown:
            raise ConfigError(f"unknown phase(s) {', '.join(unknown)}; phases: {', '.join(PHASES)}", where="--phases")
        bad_tools = [t for t in self.tools if t not in ALL_TOOLS]
        if bad_tools or not self.tools:
            raise ConfigError(f"unknown tool(s) {', '.join(bad_tools)}; tools: {', '.join(ALL_TOOLS)}", where="--tools")
        checks = (
            (self.vus >= 1, "--vus", "must be at least 1"),
            (0.0 <= self.hit_ratio <= 1.0, "--hit-ratio", "must be between 0 and 1"),
            (0.0 <= self.memory_hit_ratio <= 1.0, "--memory-hit-ratio", "must be between 0 and 1"),
            (self.baseline_iterations >= 1, "--baseline-iterations", "must be at least 1"),
            (self.cache_pairs >= 1 and self.cache_repeats >= 1, "--cache-pairs", "pairs and repeats must be >= 1"),
            (self.capacity_start_rps >= 1.0, "--capacity-start", "must be at least 1 request/s"),
            (self.capacity_factor > 1.0, "--capacity-factor", "must be more than 1"),
            (self.capacity_max_rps >= self.capacity_start_rps, "--capacity-max", "must be at least --capacity-start"),
            (self.capacity_step_s > 0, "--capacity-step", "must be positive"),
            (self.cached_p99_ms > 0, "--cached-p99", "must be positive"),
            (self.memory_interval_s > 0, "--memory-interval", "must be positive"),
            (0.0 <= self.leak_settle_fraction < 1.0, "--leak-settle", "must be in [0, 1)"),
            (self.workers is None or self.workers >= 1, "--workers", "must be at least 1"),
        )
        for ok, flag, problem in checks:
            if not ok:
                raise ConfigError(f"{flag} {problem}", where=flag)
        if self.target is not None and not self.target.startswith("http://"):
            raise ConfigError(f"the target must be an http:// URL, got {self.target!r}", where="--target")


def quick(options: BenchOptions) -> BenchOptions:
    """Every phase in seconds, the capacity search in three short steps (and one bisection): for CI."""
    return msgspec.structs.replace(
        options,
        quick=True,
        warmup_s=1.5,
        baseline_iterations=10,
        load_s=1.0,
        cache_pairs=5,
        cache_repeats=2,
        stress_s=1.0,
        memory_s=3.0,
        memory_interval_s=0.5,
        capacity_start_rps=25.0,
        capacity_factor=4.0,
        capacity_step_s=1.5,
        capacity_bisect=1,
        capacity_max_steps=3,
    )


# --- the command line ---------------------------------------------------------------------------------------------


def _seconds(flag: str) -> Callable[[str], float]:
    def parse(value: str) -> float:
        try:
            return parse_duration(value, where=flag)
        except ConfigError as error:
            raise argparse.ArgumentTypeError(error.message) from None

    return parse


def _names(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``python -m loadtests bench``; :func:`options_from_args` reads them back."""
    d = BenchOptions()
    target = parser.add_argument_group("target")
    target.add_argument("--target", help="MCP endpoint of a running stack (default: start an embedded stack)")
    target.add_argument("--retrieval-url", help="retrieval base URL, for its /metrics (memory, cache counters)")
    target.add_argument("--gateway-url", help="gateway base URL for its /metrics (default: derived from --target)")
    target.add_argument("--token", help="bearer token for the MCP endpoint (default $PP_API_TOKEN)")
    target.add_argument(
        "--shared-redis",
        action="store_true",
        help="embedded stack: use the machine's Redis as `just serve` would (keys may be cached from earlier runs)",
    )
    run = parser.add_argument_group("run")
    run.add_argument("--quick", action="store_true", help="every phase in seconds, a short capacity search (CI)")
    run.add_argument("--phases", type=_names, help=f"comma-separated subset of {','.join(PHASES)}")
    run.add_argument("--tools", type=_names, help="comma-separated subset of the 7 tools (default: all)")
    run.add_argument("--reports", default=d.reports, help="reports/bench-<id>/ goes here (default: reports)")
    run.add_argument("--id", dest="bench_id", help="the benchmark id (default: time + random)")
    run.add_argument("--workers", type=int, help="load-generator processes (default: cores - 1, at least 1)")
    run.add_argument("--no-html", action="store_true", help="do not write bench.html")
    run.add_argument("--quiet", "-q", action="store_true", help="no progress lines on stderr")
    run.add_argument("--max-loop-lag", type=_seconds("--max-loop-lag"), help="generator loop-lag p99 limit (10ms)")
    phases = parser.add_argument_group("phases")
    phases.add_argument("--warmup", type=_seconds("--warmup"), help=f"warm-up length ({d.warmup_s:g}s)")
    phases.add_argument("--vus", type=int, help=f"load-phase concurrency per tool ({d.vus}); stress runs twice it")
    phases.add_argument("--hit-ratio", type=float, help=f"load/stress share of warm keys ({d.hit_ratio:g})")
    phases.add_argument(
        "--baseline-iterations", type=int, help=f"calls per tool and cache class ({d.baseline_iterations})"
    )
    phases.add_argument("--load-duration", type=_seconds("--load-duration"), help=f"per tool ({d.load_s:g}s)")
    phases.add_argument("--cache-pairs", type=int, help=f"new keys per cached tool ({d.cache_pairs})")
    phases.add_argument("--cache-repeats", type=int, help=f"hits after each new key ({d.cache_repeats})")
    phases.add_argument("--stress-duration", type=_seconds("--stress-duration"), help=f"per tool ({d.stress_s:g}s)")
    memory = parser.add_argument_group("memory")
    memory.add_argument(
        "--memory-duration",
        type=_seconds("--memory-duration"),
        help=f"({d.memory_s:g}s) a leak verdict needs an analysed window of at least --leak-window",
    )
    memory.add_argument("--memory-interval", type=_seconds("--memory-interval"), help="/metrics scrape interval (2s)")
    memory.add_argument("--memory-hit-ratio", type=float, help="share of warm keys (1.0: a bounded key set)")
    memory.add_argument("--leak-threshold", type=float, help=f"MiB/min ({d.leak_threshold_mib_per_min:g})")
    memory.add_argument("--leak-window", type=_seconds("--leak-window"), help="shortest window judged (2m)")
    capacity = parser.add_argument_group("capacity")
    capacity.add_argument("--cached-p99", type=float, help=f"p99 target of cached calls, ms ({d.cached_p99_ms:g})")
    capacity.add_argument("--capacity-start", type=float, help=f"first rate, req/s ({d.capacity_start_rps:g})")
    capacity.add_argument("--capacity-factor", type=float, help=f"geometric step ({d.capacity_factor:g})")
    capacity.add_argument("--capacity-max", type=float, help=f"highest rate tried ({d.capacity_max_rps:g})")
    capacity.add_argument("--capacity-step", type=_seconds("--capacity-step"), help="length of a step (10s)")
    capacity.add_argument("--capacity-bisect", type=int, help=f"bisection steps ({d.capacity_bisect})")


_FLAG_FIELDS: Final = {
    "warmup": "warmup_s",
    "vus": "vus",
    "hit_ratio": "hit_ratio",
    "baseline_iterations": "baseline_iterations",
    "load_duration": "load_s",
    "cache_pairs": "cache_pairs",
    "cache_repeats": "cache_repeats",
    "stress_duration": "stress_s",
    "memory_duration": "memory_s",
    "memory_interval": "memory_interval_s",
    "memory_hit_ratio": "memory_hit_ratio",
    "leak_threshold": "leak_threshold_mib_per_min",
    "leak_window": "leak_min_window_s",
    "cached_p99": "cached_p99_ms",
    "capacity_start": "capacity_start_rps",
    "capacity_factor": "capacity_factor",
    "capacity_max": "capacity_max_rps",
    "capacity_step": "capacity_step_s",
    "capacity_bisect": "capacity_bisect",
    "workers": "workers",
    "phases": "phases",
    "tools": "tools",
}


def options_from_args(args: argparse.Namespace) -> BenchOptions:
    """``--quick`` first, then every flag given on top of it; validated."""
    options = BenchOptions(
        target=args.target,
        retrieval_url=args.retrieval_url,
        gateway_url=args.gateway_url,
        token=args.token,
        reports=args.reports,
        bench_id=args.bench_id,
        private_redis=not args.shared_redis,
        quiet=args.quiet,
        html=not args.no_html,
    )
    if args.quick:
        options = quick(options)
    changes: dict[str, object] = {}
    for flag, field in _FLAG_FIELDS.items():
        value = getattr(args, flag, None)
        if value is not None:
            changes[field] = value
    if args.max_loop_lag is not None:
        changes["max_loop_lag_ms"] = args.max_loop_lag * 1e3
    options = msgspec.structs.replace(options, **changes)
    options.validate()
    return options
