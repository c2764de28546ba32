"""W3C trace context for every generated request: a fresh ``traceparent`` per request, one ``baggage`` per VU.

Each request starts its own trace so the validator can join a client sample to the server's spans by trace id.
Ids come from ``random.getrandbits``: fast, not cryptographic (these ids need to be unique, not secret), and safe
across fork because the ``random`` module reseeds its global generator in every child.
"""

from __future__ import annotations

from random import getrandbits
from typing import Final
from urllib.parse import quote

from otel.contract import BAGGAGE_RUN_ID, BAGGAGE_SCENARIO, BAGGAGE_VU

__all__ = ("BAGGAGE", "TRACEPARENT", "baggage_header", "new_traceparent")

TRACEPARENT: Final = b"traceparent"
BAGGAGE: Final = b"baggage"

# W3C baggage-octet: printable ASCII except space, '"', ',', ';' and '\'. Also encoded: '%', because receivers
# percent-decode values, and '+', because OpenTelemetry's receivers decode with unquote_plus ('+' would become a
# space). quote() always keeps letters, digits and '_.-~'; these are the other safe ones.
_ZERO_TRACE: Final = "0" * 32
_ONE_TRACE: Final = "0" * 31 + "1"
_ZERO_SPAN: Final = "0" * 16
_ONE_SPAN: Final = "0" * 15 + "1"
_BAGGAGE_SAFE: Final = "!#$&'()*/:<=>?@[]^`{|}"


def new_traceparent() -> tuple[str, bytes]:
    """A new sampled trace: its 32-hex trace id and the ``traceparent`` header value ``00-<trace>-<span>-01``."""
    ids = getrandbits(192).to_bytes(24, "big").hex()  # one draw for both ids: twice as fast as two formats
    trace_id = ids[:32]
    span_id = ids[32:]
    if trace_id == _ZERO_TRACE:  # all-zero ids are invalid: vanishingly rare, still excluded
        trace_id = _ONE_TRACE
    if span_id == _ZERO_SPAN:
        span_id = _ONE_SPAN
    return trace_id, ("00-" + trace_id + "-" + span_id + "-01").encode()


def baggage_header(run_id: str, scenario: str, vu: int) -> bytes:
    """The ``baggage`` value naming the run, scenario and VU; build it once per VU."""
    return f"{BAGGAGE_RUN_ID}={_value(run_id)},{BAGGAGE_SCENARIO}={_value(scenario)},{BAGGAGE_VU}={int(vu)}".encode()


def _value(text: str) -> str:
    return quote(text, safe=_BAGGAGE_SAFE, encoding="utf-8")
