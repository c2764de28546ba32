"""traceparent format and uniqueness; baggage encoding checked by our server-side parser and the stock one."""

from __future__ import annotations

import re

import pytest
from opentelemetry import baggage
from opentelemetry.baggage.propagation import W3CBaggagePropagator

from loadtests.client import tracecontext
from loadtests.client.tracecontext import baggage_header, new_traceparent
from otel.contract import BAGGAGE_RUN_ID, BAGGAGE_SCENARIO, BAGGAGE_VU
from otel.propagation import extract_context

TRACEPARENT = re.compile(rb"00-([0-9a-f]{32})-([0-9a-f]{16})-01")
# W3C baggage list-member grammar without properties: token "=" *baggage-octet
BAGGAGE_MEMBER = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+=[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*")


def test_traceparent_format_and_uniqueness() -> None:
    seen: set[str] = set()
    for _ in range(2000):
        trace_id, header = new_traceparent()
        match = TRACEPARENT.fullmatch(header)
        assert match is not None, header
        assert match.group(1).decode() == trace_id
        assert trace_id != "0" * 32
        assert match.group(2) != b"0" * 16
        seen.add(trace_id)
    assert len(seen) == 2000


def test_ids_are_never_all_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tracecontext, "getrandbits", lambda bits: 0)
    trace_id, header = new_traceparent()
    assert trace_id == "0" * 31 + "1"
    assert header == b"00-" + b"0" * 31 + b"1-" + b"0" * 15 + b"1-01"


@pytest.mark.parametrize(
    ("run_id", "scenario"),
    [
        ("run-20260101T120000Z", "storm"),
        ("r 1,2;3", 'spike "big"'),
        ("100%+", "a\\b=c"),
        ("ünïcødé ☃", "mem/pressure:high"),
    ],
)
def test_baggage_encoding_round_trips(run_id: str, scenario: str) -> None:
    header = baggage_header(run_id, scenario, 17)
    text = header.decode("ascii")
    members = text.split(",")
    assert len(members) == 3
    assert all(BAGGAGE_MEMBER.fullmatch(member) for member in members), text
    assert [member.split("=", 1)[0] for member in members] == [BAGGAGE_RUN_ID, BAGGAGE_SCENARIO, BAGGAGE_VU]
    expected = {BAGGAGE_RUN_ID: run_id, BAGGAGE_SCENARIO: scenario, BAGGAGE_VU: "17"}
    assert baggage.get_all(extract_context([(b"baggage", header)])) == expected  # our services' parser
    assert baggage.get_all(W3CBaggagePropagator().extract({"baggage": text})) == expected  # the stock one
