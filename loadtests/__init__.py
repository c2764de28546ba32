"""Personal Pipeline's load tester: k6's vocabulary in Python, with coordinated-omission-corrected latency.

A script imports its helpers from here::

    from loadtests import check, group, Trend

    options = {"scenarios": {"storm": {"executor": "constant-arrival-rate", "rate": 30, "duration": "5m",
                                       "preAllocatedVUs": 50}}}

    async def default(vu):
        result = await vu.mcp.call_tool("search_runbooks", {...})
        check(result, {"succeeded": lambda r: r.ok})

and runs with ``python -m loadtests run script.py`` (docs/PERFORMANCE-TESTING.md).
"""

from __future__ import annotations

from loadtests.api import Counter, Gauge, Rate, Trend, check, group

__all__ = ("Counter", "Gauge", "Rate", "Trend", "check", "group")
