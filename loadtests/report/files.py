"""Atomic writes: a report is either the previous one or the new one, never half of each.

CI uploads reports and ``--baseline`` reads the last run's JSON; a reader racing a writer must not see a torn file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ("write_atomic",)


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a unique temporary file beside ``path``, flush it to disk, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        tmp.chmod(0o644)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
