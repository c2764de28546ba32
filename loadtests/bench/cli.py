"""``python -m loadtests bench``: run the benchmark, print its summary, write ``reports/bench-<id>/``.

Files: ``bench.json`` (:class:`~loadtests.bench.result.BenchResult`, schema ``pp-bench/v1``), ``verdict.json``
(the same findings in the validator's schema) and ``bench.html`` (the report module's page); with the embedded
stack also ``stack.log`` and ``telemetry.sqlite3`` (every call's spans, by run id ``<bench id>-<phase>``).

Exit codes: 0 every target passed, 1 a target failed, 2 nothing could be judged, 105 interrupted (Ctrl-C; what was
measured is still written), 104 bad options, 107 the stack or a run failed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from loadtests.bench.options import add_bench_arguments, options_from_args
from loadtests.bench.runner import run_bench
from loadtests.bench.summary import render_summary
from loadtests.bench.verdict import bench_verdict
from loadtests.errors import EXTERNAL_ABORT, LoadTestError

if TYPE_CHECKING:
    import argparse

    from loadtests.bench.result import BenchResult
    from loadtests.validate.verdict import Verdict

__all__ = ("add_bench_arguments", "bench_main", "write_reports")


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    temporary.replace(path)


def write_reports(result: BenchResult, verdict: Verdict, *, html: bool = True) -> list[Path]:
    """``bench.json``, ``verdict.json`` and (when the report module is there) ``bench.html``; the paths written."""
    folder = Path(result.report_dir)
    written = []
    bench = folder / "bench.json"
    _write(bench, msgspec.json.format(msgspec.json.encode(result), indent=2) + b"\n")
    written.append(bench)
    verdict_path = folder / "verdict.json"
    _write(verdict_path, msgspec.json.format(msgspec.json.encode(verdict), indent=2) + b"\n")
    written.append(verdict_path)
    if html:
        try:
            from loadtests.report.html import render_html
        except ImportError:  # pragma: no cover - the report module ships with the package
            return written
        page = folder / "bench.html"
        _write(page, render_html(verdict, traces={}, title=f"Benchmark {result.bench_id}").encode())
        written.append(page)
    return written


def bench_main(args: argparse.Namespace) -> int:
    """The ``bench`` subcommand: parse, run, print, write; one line and an exit code for a user error."""
    try:
        options = options_from_args(args)
        result = run_bench(options)
    except LoadTestError as error:
        sys.stderr.write(f"error: {error}\n")
        return error.code
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return EXTERNAL_ABORT
    verdict = bench_verdict(result)
    written = write_reports(result, verdict, html=options.html)
    sys.stdout.write(render_summary(result, verdict) + "\n")
    sys.stdout.flush()
    for path in written:
        sys.stderr.write(f"{path.name}: {path}\n")
    if result.aborted == "interrupted":
        return EXTERNAL_ABORT
    if result.failure_code is not None:
        return result.failure_code
    return verdict.exit_code


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m loadtests.bench.cli``) until ``python -m loadtests bench`` is wired."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m loadtests bench", description=(__doc__ or "").split("\n\n")[0])
    add_bench_arguments(parser)
    return bench_main(parser.parse_args(argv))
