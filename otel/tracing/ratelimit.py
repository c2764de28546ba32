"""Rate-limited logging for telemetry failures.

A collector that is down fails every export, every few hundred milliseconds; logging each failure would bury the
service's own log (and cost CPU on the core telemetry is meant to spare). One line per kind of failure per interval,
with a count of what was suppressed, says the same thing.
"""

from __future__ import annotations

import logging
import threading
import time

__all__ = ("RateLimitFilter", "RateLimitedLog", "rate_limit_loggers")


class RateLimitedLog:
    """``warning(key, ...)`` logs at most once per ``interval_s`` for each ``key``."""

    def __init__(self, logger: logging.Logger, interval_s: float = 30.0) -> None:
        self._logger = logger
        self._interval_s = interval_s
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        self._lock = threading.Lock()

    def warning(self, key: str, message: str, *args: object) -> None:
        self._log(logging.WARNING, key, message, args)

    def error(self, key: str, message: str, *args: object) -> None:
        self._log(logging.ERROR, key, message, args)

    def _log(self, level: int, key: str, message: str, args: tuple[object, ...]) -> None:
        now = time.monotonic()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self._interval_s:
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                return
            self._last[key] = now
            suppressed = self._suppressed.pop(key, 0)
        if suppressed:
            message += f" ({suppressed} similar messages suppressed)"
        self._logger.log(level, message, *args)


class RateLimitFilter(logging.Filter):
    """The same limit for loggers we do not own (the SDK's OTLP exporters): one record per message per interval."""

    def __init__(self, interval_s: float = 30.0) -> None:
        super().__init__()
        self._interval_s = interval_s
        self._last: dict[tuple[str, int, str], float] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg))
        now = time.monotonic()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self._interval_s:
                return False
            self._last[key] = now
        return True


def rate_limit_loggers(*names: str) -> None:
    """Attach one ``RateLimitFilter`` to each named logger (filters do not inherit: name the emitting loggers)."""
    for name in names:
        target = logging.getLogger(name)
        if not any(isinstance(existing, RateLimitFilter) for existing in target.filters):
            target.addFilter(RateLimitFilter())
