"""``python -m loadtests``: ``run`` a script, ``load`` a seed scenario, ``merge`` JSON summaries.

``run`` behaves like ``k6 run``; ``load`` runs one of the seed's scenarios on the embedded stack (or ``--target``);
``merge`` combines the summaries of several machines (``--shard``) or runs.

User errors end with one line naming the problem and k6's exit code (104 bad options, 107 script errors, 99
thresholds failed, 105 interrupted) — never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import socket
import sys
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING

from loadtests.bench import add_bench_arguments, bench_main
from loadtests.durations import parse_duration
from loadtests.engine.coordinator import Coordinator, RunConfig, default_workers, new_run_id
from loadtests.engine.wire import Overrides
from loadtests.errors import EXTERNAL_ABORT, INVALID_CONFIG, SCRIPT_EXCEPTION, ConfigError, LoadTestError
from loadtests.output.progress import Progress
from loadtests.output.results import RawWriter, build_summary, merge_files, write_summary
from loadtests.output.summary import render_summary
from loadtests.segments import parse_shard
from loadtests.validate.run import ValidateOptions, validate
from loadtests.validate.terminal import render_verdict

if TYPE_CHECKING:
    from collections.abc import Sequence

    from loadtests.engine.coordinator import RunOutcome

__all__ = ("main",)

DEFAULT_TARGET = "http://127.0.0.1:8080/mcp"


def _tag(value: str) -> tuple[str, str]:
    key, sep, val = value.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"a tag is key=value, got {value!r}")
    return key, val


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--vus", "-u", type=int, help="VUs (closed executors) or the VU pool (arrival-rate ones)")
    parser.add_argument("--duration", "-d", help="test length, e.g. 30s or 5m; with scenarios: rescales the timeline")
    parser.add_argument("--iterations", "-i", type=int, help="total iterations (scripts without scenarios)")
    parser.add_argument("--rate", "-r", type=float, help="iterations/s; with scenarios: scales every arrival rate")
    parser.add_argument("--tag", action="append", type=_tag, default=[], metavar="K=V", help="a tag on every sample")
    parser.add_argument("--target", help=f"the MCP endpoint VUs call (default $PP_TARGET or {DEFAULT_TARGET})")
    parser.add_argument("--token", help="bearer token for the MCP endpoint (default $PP_API_TOKEN)")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: cores - 1, at least 1)")
    parser.add_argument("--shard", help="run shard i of n of the test (1-based, e.g. 2/3) on this machine")
    parser.add_argument("--out", action="append", default=[], metavar="json=FILE", help="raw results (NDJSON)")
    parser.add_argument("--summary-export", metavar="FILE", help="write the JSON summary (mergeable) to FILE")
    parser.add_argument("--run-id", help="the run id sent in baggage (default: time + random)")
    parser.add_argument("--no-setup", action="store_true", help="skip setup()")
    parser.add_argument("--no-teardown", action="store_true", help="skip teardown()")
    parser.add_argument("--max-loop-lag", default="10ms", help="generator loop-lag p99 above which a run is untrusted")
    parser.add_argument("--quiet", "-q", action="store_true", help="no live progress")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m loadtests", description=(__doc__ or "").split("\n\n", maxsplit=1)[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a script (like k6 run)")
    run.add_argument("script", help="a Python module with options and default(vu)")
    _add_run_options(run)
    load = commands.add_parser("load", help="run one of the seed's scenarios, on the embedded stack unless --target")
    load.add_argument("scenario", help="normal, peak, storm, stress or spike")
    load.add_argument("--reports", default="reports", help="where reports/<run-id>/ goes (default: reports)")
    load.add_argument("--no-validate", action="store_true", help="skip validating the run at the end")
    load.add_argument("--targets", help="targets file for the validation (TOML or YAML)")
    load.add_argument("--strict", action="store_true", help="validation warnings fail too")
    _add_run_options(load)
    validate = commands.add_parser("validate", help="judge a run from its spans and metrics against the targets")
    add_validate_arguments(validate)
    bench = commands.add_parser(
        "bench", help="the benchmark: cold/miss/hit baseline, load, cache, stress, memory leak slope, capacity knee"
    )
    add_bench_arguments(bench)
    merge = commands.add_parser("merge", help="merge JSON summaries (shards or runs) into one")
    merge.add_argument("summaries", nargs="+", help="JSON summaries from --summary-export")
    merge.add_argument("--output", "-o", help="write the merged JSON summary here")
    return parser


def add_validate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("report", nargs="?", help="a reports/<run-id>/ folder from `just load` (its summary and store)")
    parser.add_argument("--run-id", help="the run to judge (its baggage run id); default: the summary's")
    parser.add_argument("--summary", help="the load run's summary.json: client latency, phases, scenario targets")
    parser.add_argument(
        "--source",
        action="append",
        default=[],
        help="store:PATH (default), otlp:PATH, jaeger:URL, prometheus:URL; twice for spans + metrics",
    )
    parser.add_argument("--since", help="select by time window instead of run id (ISO 8601)")
    parser.add_argument("--until", help="end of the time window (ISO 8601; default now)")
    parser.add_argument("--targets", help="targets file (TOML or YAML) overriding the seed's defaults")
    parser.add_argument("--baseline", help="a previous run's verdict.json to compare with")
    parser.add_argument("--strict", action="store_true", help="warnings (aspirational targets, gates) fail too")
    parser.add_argument("--out", help="where verdict.json, junit.xml, report.html and traces/ go")


def _validate_options(args: argparse.Namespace) -> tuple[ValidateOptions, Path]:
    report = Path(args.report) if args.report else None
    summary = Path(args.summary) if args.summary else None
    sources = list(args.source)
    if report is not None:
        if not report.is_dir():
            raise ConfigError(f"{report} is not a report folder (reports/<run-id>/ from `just load`)")
        summary = summary or (report / "summary.json" if (report / "summary.json").exists() else None)
        if not sources and (report / "telemetry.sqlite3").exists():
            sources = [f"store:{report / 'telemetry.sqlite3'}"]
    window = None
    if args.since:
        try:
            since = dt.datetime.fromisoformat(args.since)
            until = dt.datetime.fromisoformat(args.until) if args.until else dt.datetime.now(dt.UTC)
        except ValueError as error:
            raise ConfigError(f"--since/--until take ISO 8601 times: {error}") from None
        window = (int(since.timestamp() * 1e9), int(until.timestamp() * 1e9))
    out = Path(args.out) if args.out else (report or Path("reports") / f"validate-{args.run_id or 'window'}")
    options = ValidateOptions(
        run_id=args.run_id,
        window_ns=window,
        sources=sources,
        summary=summary,
        targets=Path(args.targets) if args.targets else None,
        baseline=Path(args.baseline) if args.baseline else None,
        strict=args.strict,
        out_dir=out,
    )
    return options, out


def _judge(options: ValidateOptions, out: Path) -> int:
    validation = validate(options)
    print(render_verdict(validation.verdict), flush=True)
    print(f"validation: {out / 'report.html'} (also verdict.json, junit.xml, traces/)", file=sys.stderr)
    return validation.verdict.exit_code


def cmd_validate(args: argparse.Namespace) -> int:
    options, out = _validate_options(args)
    return _judge(options, out)


def _run_config(args: argparse.Namespace, script: str, target: str) -> RunConfig:
    duration = parse_duration(args.duration, where="--duration") if args.duration else None
    overrides = Overrides(
        vus=args.vus, duration=duration, iterations=args.iterations, rate=args.rate, tags=dict(args.tag)
    )
    shard = None
    if args.shard:
        index, count = parse_shard(args.shard)
        shard = (index, count)
    token = args.token or os.environ.get("PP_API_TOKEN")
    workers = args.workers if args.workers is not None else default_workers()
    if workers < 1:
        raise ConfigError("--workers must be at least 1")
    return RunConfig(
        script=script,
        overrides=overrides,
        workers=workers,
        shard=shard,
        mcp_url=target,
        mcp_headers=[("authorization", f"Bearer {token}")] if token else [],
        run_id=args.run_id or new_run_id(),
        no_setup=args.no_setup,
        no_teardown=args.no_teardown,
        max_loop_lag_ms=parse_duration(args.max_loop_lag, where="--max-loop-lag") * 1e3,
    )


def preflight(target: str, timeout: float = 3.0) -> None:
    """Fail at once, with one clear line, when the target cannot even be connected to."""
    url = urllib.parse.urlsplit(target)
    if url.scheme != "http" or not url.hostname:
        raise ConfigError(f"the target must be an http:// URL, got {target!r}", where="--target")
    port = url.port or 80
    try:
        with socket.create_connection((url.hostname, port), timeout=timeout):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise LoadTestError(
            f"cannot reach the target {target} ({reason}): is the stack up? `just serve` starts it, or run "
            "`just load SCENARIO` without --target to start one for the run",
            code=SCRIPT_EXCEPTION,
        ) from None


def _raw_out(outs: Sequence[str]) -> Path | None:
    path = None
    for out in outs:
        kind, sep, file = out.partition("=")
        if kind != "json" or not sep or not file:
            raise ConfigError(f"unsupported output {out!r}: use --out json=FILE")
        path = Path(file)
    return path


async def _execute(config: RunConfig, *, quiet: bool, raw: Path | None) -> RunOutcome:
    progress = Progress(live=False if quiet else None, plain_every_s=10.0)
    writer = RawWriter(raw) if raw is not None else None
    coordinator = Coordinator(config)
    if writer is not None:
        coordinator.on_report = writer.write
    print(coordinator.header(), file=sys.stderr, flush=True)
    try:
        if quiet:
            return await coordinator.run()
        with progress:
            coordinator.on_tick = progress.tick
            return await coordinator.run()
    finally:
        if writer is not None:
            writer.close()


def _finish(outcome: RunOutcome, summary_path: Path | None) -> int:
    summary = build_summary(outcome)
    print(render_summary(summary), flush=True)
    if summary_path is not None:
        write_summary(summary, summary_path)
        print(f"summary: {summary_path}", file=sys.stderr)
    return outcome.exit_code


def cmd_run(args: argparse.Namespace) -> int:
    target = args.target or os.environ.get("PP_TARGET") or DEFAULT_TARGET
    config = _run_config(args, args.script, target)
    if args.target or os.environ.get("PP_TARGET"):
        preflight(target)
    raw = _raw_out(args.out)
    outcome = asyncio.run(_execute(config, quiet=args.quiet, raw=raw))
    return _finish(outcome, Path(args.summary_export) if args.summary_export else None)


def cmd_load(args: argparse.Namespace) -> int:
    from loadtests.scenarios import path_of
    from loadtests.stack import EmbeddedStack

    script = str(path_of(args.scenario))
    run_id = args.run_id or new_run_id()
    args.run_id = run_id
    report_dir = Path(args.reports) / run_id
    report_dir.mkdir(parents=True, exist_ok=True)
    raw = _raw_out(args.out) or report_dir / "results.jsonl"
    summary_path = Path(args.summary_export) if args.summary_export else report_dir / "summary.json"
    if args.target:
        config = _run_config(args, script, args.target)
        preflight(args.target)
        outcome = asyncio.run(_execute(config, quiet=args.quiet, raw=raw))
        return _finish(outcome, summary_path)
    stack = EmbeddedStack(report_dir)
    print(f"starting the embedded stack (log: {stack.log_path}) ...", file=sys.stderr, flush=True)
    with stack:
        print(f"stack ready: MCP {stack.mcp_url}, telemetry {stack.store_path}", file=sys.stderr, flush=True)
        config = _run_config(args, script, stack.mcp_url)
        outcome = asyncio.run(_execute(config, quiet=args.quiet, raw=raw))
    code = _finish(outcome, summary_path)
    if args.no_validate:
        print(f"report: {report_dir}/", file=sys.stderr)
        return code
    judged = _judge(
        ValidateOptions(
            run_id=run_id,
            sources=[f"store:{stack.store_path}"],
            summary=build_summary(outcome),
            targets=Path(args.targets) if args.targets else None,
            strict=args.strict,
            out_dir=report_dir,
        ),
        report_dir,
    )
    print(f"report: {report_dir}/", file=sys.stderr)
    return code or judged  # the run's own code first (99: thresholds), else the verdict's (1 fail, 2 no verdict)


def cmd_merge(args: argparse.Namespace) -> int:
    summary = merge_files([Path(p) for p in args.summaries])
    print(render_summary(summary))
    if args.output:
        write_summary(summary, Path(args.output))
    return summary.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {"run": cmd_run, "load": cmd_load, "merge": cmd_merge, "validate": cmd_validate, "bench": bench_main}
    try:
        return handlers[args.command](args)
    except LoadTestError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXTERNAL_ABORT
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return INVALID_CONFIG
