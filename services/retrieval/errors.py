"""Errors the tool logic raises, shared by every layer so the HTTP edge can map them to one status each.

``NotFoundError`` becomes ``404 not_found`` and ``InvalidRequestError`` ``400 invalid_request``. Their messages
go to the calling agent verbatim, so each one says what to change, not only what went wrong.
"""

from __future__ import annotations

__all__ = ("InvalidRequestError", "NotFoundError")


class NotFoundError(LookupError):
    """A runbook, step or other named thing the request refers to does not exist."""


class InvalidRequestError(ValueError):
    """The request is well-formed on the wire but cannot be answered as asked."""
