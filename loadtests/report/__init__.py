"""The validator's reports: JSON, JUnit XML and one self-contained HTML page, each written atomically.

JSON is for machines and the next run's ``--baseline``, JUnit XML for CI's test list, HTML for people.
"""

from __future__ import annotations

from loadtests.report.html import render_html, write_html
from loadtests.report.json_report import encode_json, read_json, write_json
from loadtests.report.junit import render_junit, write_junit

__all__ = ("encode_json", "read_json", "render_html", "render_junit", "write_html", "write_json", "write_junit")
