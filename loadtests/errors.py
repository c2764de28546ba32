"""Errors the CLI reports as one line and an exit code, never as a traceback.

The codes are k6's (``errext/exitcodes``), so CI that already knows k6's exit codes reads ours the same way.
"""

from __future__ import annotations

from typing import Any

__all__ = (
    "EXIT_OK",
    "EXTERNAL_ABORT",
    "GENERIC_TIMEOUT",
    "INVALID_CONFIG",
    "SCRIPT_ABORTED",
    "SCRIPT_EXCEPTION",
    "SETUP_TIMEOUT",
    "TEARDOWN_TIMEOUT",
    "THRESHOLDS_FAILED",
    "ConfigError",
    "LoadTestError",
)

EXIT_OK = 0
THRESHOLDS_FAILED = 99
SETUP_TIMEOUT = 100
TEARDOWN_TIMEOUT = 101
GENERIC_TIMEOUT = 102
INVALID_CONFIG = 104
EXTERNAL_ABORT = 105
SCRIPT_EXCEPTION = 107
SCRIPT_ABORTED = 108


class LoadTestError(Exception):
    """A failure the user can act on: what went wrong, where (``file:line`` or an option path), and the exit code."""

    def __init__(self, message: str, *, code: int, where: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.where = where

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments defeat Exception's default pickling; workers send these to the coordinator.
        return (_restore, (type(self), self.message, self.code, self.where), self.__dict__)


class ConfigError(LoadTestError):
    """Options, flags or arguments that do not validate (k6's exit code 104)."""

    def __init__(self, message: str, *, where: str | None = None) -> None:
        super().__init__(message, code=INVALID_CONFIG, where=where)


def _restore(cls: type[LoadTestError], message: str, code: int, where: str | None) -> LoadTestError:
    error = cls.__new__(cls)
    LoadTestError.__init__(error, message, code=code, where=where)
    return error
