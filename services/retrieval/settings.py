"""Settings of the retrieval service (``PP_*`` variables; see ``docs/configuration.md``)."""

from __future__ import annotations

from pathlib import Path

import msgspec

from services.common.settings import from_env

__all__ = ("RetrievalSettings", "load_settings")


class RetrievalSettings(msgspec.Struct, kw_only=True, frozen=True):
    retrieval_host: str = "127.0.0.1"
    retrieval_port: int = 8081
    redis_url: str = "redis://127.0.0.1:6379/0"
    """L2 cache. ``none`` runs with the in-process tier only."""
    redis_timeout_s: float = 0.1
    """Per-operation Redis timeout; a slower Redis counts as a failure for the circuit breaker."""
    redis_key_prefix: str = "pp:v1:"
    corpus_dir: str | None = None
    """Corpus directory; unset → the shipped sample corpus."""
    data_dir: str = ".pp-data"
    """Where durable state (the feedback database) lives."""
    l1_max_entries: int = 10_000
    l1_max_bytes: int = 64 * 1024 * 1024
    negative_ttl_s: float = 60.0
    """How long an empty result is cached."""
    log_level: str = "INFO"

    @property
    def redis_enabled(self) -> bool:
        return self.redis_url.strip().lower() not in {"", "none", "off"}

    @property
    def corpus_path(self) -> Path | None:
        return Path(self.corpus_dir) if self.corpus_dir else None

    @property
    def feedback_db(self) -> Path:
        return Path(self.data_dir) / "feedback.sqlite3"


def load_settings() -> RetrievalSettings:
    return from_env(RetrievalSettings)
