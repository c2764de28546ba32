"""The HTML report in a real browser: it renders, its charts are in the DOM, and no script error or blocked load.

Headless Chromium (Debian's ``chromium`` package: ``apt-get install -y chromium``) loads the page from a file with
no network. The page's first script records errors, rejected promises, Content-Security-Policy violations and
``alert`` calls as ``data-errors`` on ``<html>``; its last script sets ``data-ok`` and ``data-charts``. The dumped
DOM shows both, and Chromium's console log (``--enable-logging=stderr``) is checked as well.
Without Chromium the test skips, unless ``CI`` is set: there it fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import TYPE_CHECKING

import pytest

from loadtests.report import write_html
from tests.unit.loadtests.report.pages import Page, parse
from tests.unit.loadtests.report.sample import HOSTILE, hostile, sample_traces, sample_verdict

if TYPE_CHECKING:
    from pathlib import Path

CHARTS = 8  # latency, request rate, errors, capacity, four waterfalls
PNG = b"\x89PNG\r\n\x1a\n"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if _in_ci():
            pytest.fail("chromium is not installed; CI must install it (apt-get install -y chromium)")
        pytest.skip("chromium is not installed (apt-get install -y chromium); CI runs this test")
    return found


def _run(chromium: str, tmp_path: Path, page: Path, *mode: str) -> subprocess.CompletedProcess[str]:
    command = [
        chromium,
        "--headless",
        "--disable-gpu",
        "--no-sandbox",
        "--no-first-run",
        "--disable-extensions",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=5000",
        *mode,
        page.as_uri(),
    ]
    env = {**os.environ, "HOME": str(tmp_path)}
    result = subprocess.run(command, capture_output=True, text=True, timeout=90, env=env, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def _console(result: subprocess.CompletedProcess[str], page: Path) -> list[str]:
    """Console messages the page produced (Chromium logs them as ``CONSOLE`` lines naming their source)."""
    return [line for line in result.stderr.splitlines() if ":CONSOLE" in line and page.as_uri() in line]


def _dump(chromium: str, tmp_path: Path, page: Path) -> tuple[Page, dict[str, str | None], list[str]]:
    result = _run(chromium, tmp_path, page, "--dump-dom")
    assert result.stdout.lstrip().lower().startswith("<!doctype html>"), result.stdout[:200]
    dom = parse(result.stdout)
    return dom, dom.root(), _console(result, page)


def test_the_report_renders_with_its_charts_and_no_script_error(chromium: str, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    write_html(sample_verdict(), page, traces=sample_traces())
    dom, root, console = _dump(chromium, tmp_path, page)
    assert root.get("data-errors") is None, root.get("data-errors")
    assert console == []
    assert root.get("data-ok") == "1"
    assert root.get("data-charts") == str(CHARTS)
    charts = dom.find("svg", "chart")
    assert len(charts) == CHARTS
    assert len(dom.find("svg", "waterfall")) == 4
    assert dom.tags["path"] >= 8 and len(dom.find("rect", "bar")) == sum(map(len, sample_traces().values()))
    # The script ran: it revealed the "failed only" toggle, which is hidden for browsers without scripts.
    toggle = next(attrs for name, attrs in dom.elements if name == "label" and "toggle" in (attrs.get("class") or ""))
    assert "hidden" not in toggle


def test_hostile_strings_neither_run_nor_add_elements_in_a_browser(chromium: str, tmp_path: Path) -> None:
    page = tmp_path / "hostile.html"
    write_html(hostile(sample_verdict()), page, traces=hostile(sample_traces()), title=HOSTILE)
    dom, root, console = _dump(chromium, tmp_path, page)
    assert root.get("data-errors") is None, root.get("data-errors")
    assert console == []
    assert root.get("data-ok") == "1" and root.get("data-charts") == str(CHARTS)
    assert dom.tags["img"] == 0 and dom.tags["script"] == 2
    assert "<script>alert(1)</script>" in dom.text


def test_the_error_detector_sees_a_script_the_page_did_not_vouch_for(chromium: str, tmp_path: Path) -> None:
    """A canary: an injected script is blocked by the policy and reported, so a clean result above means something."""
    page = tmp_path / "tampered.html"
    write_html(sample_verdict(), page)
    text = page.read_text()
    page.write_text(
        text.replace("</main>", '</main><script>alert("injected")</script><img src="http://192.0.2.1/x.png">')
    )
    _, root, console = _dump(chromium, tmp_path, page)
    errors = root.get("data-errors") or ""
    assert "csp: script-src" in errors and "csp: img-src" in errors
    assert "alert: injected" not in errors  # blocked, so it never ran
    assert console


def test_the_report_paints_more_than_a_blank_page(chromium: str, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    write_html(sample_verdict(), page, traces=sample_traces())
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>")
    sizes = []
    for source in (page, blank):
        shot = tmp_path / f"{source.stem}.png"
        _run(chromium, tmp_path, source, "--hide-scrollbars", "--window-size=1280,1600", f"--screenshot={shot}")
        data = shot.read_bytes()
        assert data.startswith(PNG)
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert (width, height) == (1280, 1600)
        sizes.append(len(data))
    assert sizes[0] > 5 * sizes[1], sizes
