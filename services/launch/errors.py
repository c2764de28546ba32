"""How the launcher's steps end early: the stack cannot run, or the user asked it to stop."""

from __future__ import annotations

__all__ = ("StackError", "Stopped")


class StackError(Exception):
    """The stack cannot run (or stopped running); the message is for the user, ``code`` is the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class Stopped(Exception):
    """A stop signal arrived while waiting for something to become ready."""
