"""``just bench-gateway`` runs end to end: every variant side by side on real services, a table with every row."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from contextlib import ExitStack

from tests.support.processes import ROOT


def free_port_block(size: int) -> int:
    """The first of ``size`` consecutive ports that were all free on 127.0.0.1 a moment ago."""
    for base in range(20_000, 60_000, 97):
        with ExitStack() as stack:
            try:
                for port in range(base, base + size):
                    sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
                    sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return base
    raise RuntimeError("no block of free ports")


def test_side_by_side_run_reports_every_variant_without_errors() -> None:
    args = ["--variants", "untraced,fast", "--reps", "2", "--seconds", "1", "--port", str(free_port_block(5))]
    result = subprocess.run(
        [sys.executable, "-m", "services.gateway.bench", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "window 2/2" in out
    rows = {m[1]: m for m in re.finditer(r"^  (untraced|fast) +([\d.]+) +(\d+) +([\d.]+)x .* (\d+)$", out, re.M)}
    assert set(rows) == {"untraced", "fast"}, out
    assert float(rows["untraced"][4]) == 1.0
    assert all(float(row[2]) > 0 and row[5] == "0" for row in rows.values()), "CPU measured, no errors"
    exporter = re.search(r"^  fast +\S+ +\S+ +\S+ +\S+ +([\d.]+)", out, re.M)
    assert exporter is not None and float(exporter[1]) > 0, "the fast provider's exporter process did work"
