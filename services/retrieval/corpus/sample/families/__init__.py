"""The alert families, one module each, in the order the generator draws from its RNG (so never reorder them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.retrieval.corpus.sample.families import (
    auth,
    backup,
    cpu,
    crashloop,
    database,
    ddos,
    disk,
    dns,
    load_balancer,
    memory,
    network,
    queue,
    replication,
    security,
    service_down,
    ssl,
)

if TYPE_CHECKING:
    from services.retrieval.corpus.sample.spec import Family

FAMILIES: tuple[Family, ...] = (
    disk.FAMILY,
    memory.FAMILY,
    cpu.FAMILY,
    database.FAMILY,
    network.FAMILY,
    ssl.FAMILY,
    security.FAMILY,
    service_down.FAMILY,
    ddos.FAMILY,
    auth.FAMILY,
    load_balancer.FAMILY,
    backup.FAMILY,
    dns.FAMILY,
    queue.FAMILY,
    crashloop.FAMILY,
    replication.FAMILY,
)

FAMILY_ALERT_TYPES: dict[str, tuple[str, ...]] = {family.key: family.alert_types for family in FAMILIES}
"""Alert types per family, primary first: what a client may send to find each family's runbooks."""
