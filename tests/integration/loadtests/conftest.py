"""Running ``python -m loadtests`` as a user does, against a responder in the test's own event loop."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import pytest

from loadtests.client.responder import Responder, serve_responder
from loadtests.output.results import Summary

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Finished:
    code: int
    stdout: str
    stderr: str
    summary: Summary | None

    def metric(self, name: str) -> dict[str, float]:
        assert self.summary is not None, self.stderr
        return self.summary.metrics[name].values

    def count(self, name: str) -> int:
        return int(self.metric(name).get("count", 0)) if self.summary and name in self.summary.metrics else 0


async def run_cli(
    tmp_path: Path, script: str, *args: str, env: dict[str, str] | None = None, limit_s: float = 90.0
) -> Finished:
    """Write ``script`` to a file, run ``python -m loadtests run`` on it, return exit code, output and summary."""
    path = tmp_path / "script.py"
    path.write_text(textwrap.dedent(script))
    summary_path = tmp_path / "summary.json"
    summary_path.unlink(missing_ok=True)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "loadtests",
        "run",
        str(path),
        "--quiet",
        "--summary-export",
        str(summary_path),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), limit_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    summary = msgspec.json.decode(summary_path.read_bytes(), type=Summary) if summary_path.exists() else None
    return Finished(proc.returncode or 0, out.decode(), err.decode(), summary)


@pytest.fixture
async def responder() -> AsyncIterator[Responder]:
    server, _ = await serve_responder()
    try:
        yield server
    finally:
        await server.close()
