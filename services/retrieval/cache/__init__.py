"""Two-tier cache for tool results: in-process LRU (L1) in front of Redis (L2), keyed by normalised arguments."""

from services.retrieval.cache.keys import TTL_SECONDS, ContentType, cache_key, normalise
from services.retrieval.cache.memory import MemoryCache
from services.retrieval.cache.redis import RedisCache
from services.retrieval.cache.tiered import CacheResult, Compute, Tier, TieredCache

__all__ = [
    "TTL_SECONDS",
    "CacheResult",
    "Compute",
    "ContentType",
    "MemoryCache",
    "RedisCache",
    "Tier",
    "TieredCache",
    "cache_key",
    "normalise",
]
