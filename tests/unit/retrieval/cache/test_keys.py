from __future__ import annotations

import re
from typing import Any

import pytest

from services.retrieval.cache.keys import TTL_SECONDS, cache_key, normalise
from services.retrieval.schemas import KnowledgeBaseRequest, SearchRunbooksRequest

BASE: dict[str, Any] = {
    "alert_type": "disk_space",
    "severity": "critical",
    "affected_systems": ["web-server", "db-server"],
    "context": {"host": "web-01", "disk_percent": 97, "labels": {"team": "sre", "env": "prod"}},
}

SAME_AS_BASE: list[Any] = [
    pytest.param(
        {
            "context": {"labels": {"env": "prod", "team": "sre"}, "disk_percent": 97, "host": "web-01"},
            "affected_systems": ["web-server", "db-server"],
            "severity": "critical",
            "alert_type": "disk_space",
        },
        id="argument-order",
    ),
    pytest.param({**BASE, "alert_type": "  DISK_Space "}, id="case-and-whitespace"),
    pytest.param({**BASE, "affected_systems": ["db-server", "web-server"]}, id="set-list-order"),
    pytest.param({**BASE, "affected_systems": ["db-server", "WEB-server", "web-server"]}, id="set-list-duplicates"),
    pytest.param({**BASE, "limit": None}, id="explicit-none"),
    pytest.param({**BASE, "context": {**BASE["context"], "note": None}}, id="nested-none"),
    pytest.param({**BASE, "context": {**BASE["context"], "disk_percent": 97.0}}, id="int-valued-float"),
    pytest.param({**BASE, "context": {**BASE["context"], "labels": {"team": "SRE", "env": "prod"}}}, id="nested-case"),
]

DIFFERENT_FROM_BASE: list[Any] = [
    pytest.param({**BASE, "alert_type": "memory_leak"}, id="other-string"),
    pytest.param({**BASE, "severity": "high"}, id="other-enum"),
    pytest.param({**BASE, "affected_systems": ["web-server"]}, id="fewer-systems"),
    pytest.param({**BASE, "context": {**BASE["context"], "disk_percent": 97.5}}, id="fractional-float"),
    pytest.param({**BASE, "context": {**BASE["context"], "disk_percent": "97"}}, id="string-vs-number"),
    pytest.param({**BASE, "context": {**BASE["context"], "flag": True}}, id="extra-nested-key"),
    pytest.param({**BASE, "limit": 3}, id="extra-top-level-key"),
    pytest.param({k: v for k, v in BASE.items() if k != "context"}, id="missing-context"),
    pytest.param({**BASE, "context": {**BASE["context"], "Host": "web-01"}}, id="key-case-is-kept"),
]


@pytest.mark.parametrize("variant", SAME_AS_BASE)
def test_equivalent_spellings_share_a_key(variant: dict[str, Any]) -> None:
    assert cache_key("search_runbooks", variant) == cache_key("search_runbooks", BASE)


@pytest.mark.parametrize("variant", DIFFERENT_FROM_BASE)
def test_different_calls_get_different_keys(variant: dict[str, Any]) -> None:
    assert cache_key("search_runbooks", variant) != cache_key("search_runbooks", BASE)


def test_tool_name_is_part_of_the_key() -> None:
    args = {"query": "disk full"}
    assert cache_key("search_knowledge_base", args) != cache_key("search_runbooks", args)


def test_key_format() -> None:
    assert re.fullmatch(r"search_runbooks:[0-9a-f]{32}", cache_key("search_runbooks", BASE))


def test_struct_and_mapping_agree_once_defaults_are_filled() -> None:
    request = SearchRunbooksRequest(
        alert_type="Disk_Space", severity="critical", affected_systems=["db-server", "web-server"]
    )
    as_mapping = {"alert_type": "disk_space", "severity": "critical", "affected_systems": ["web-server", "db-server"]}
    assert cache_key("search_runbooks", request) == cache_key("search_runbooks", {**as_mapping, "limit": 3})


def test_optional_list_none_and_absent_collide() -> None:
    explicit = KnowledgeBaseRequest(query="Disk Full", categories=None)
    absent = KnowledgeBaseRequest(query="disk full")
    assert cache_key("search_knowledge_base", explicit) == cache_key("search_knowledge_base", absent)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param([True, 1, 1.0, "1"], [True, 1, "1"], id="bool-int-str-stay-distinct"),
        pytest.param([3, "b", 2.5, "A", None], [None, 2.5, 3, "a", "b"], id="mixed-types-sorted-by-type"),
        pytest.param([{"b": 1, "a": None}, ["Y", "x"]], [{"b": 1}, ["x", "y"]], id="containers-keep-order"),
        pytest.param(1e20, 10**20, id="large-integral-float"),
    ],
)
def test_normalise_edge_cases(value: Any, expected: Any) -> None:
    assert normalise(value) == expected


def test_ttls_per_content_type() -> None:
    assert dict(TTL_SECONDS) == {"runbooks": 3600, "procedures": 1800, "decision_trees": 2400, "knowledge_base": 900}
