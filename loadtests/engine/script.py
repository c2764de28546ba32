"""Loading a user's script: a module with ``options``, ``default``/named exec functions, ``setup``, ``teardown``.

Every way a script can be wrong becomes one ``LoadTestError`` naming file and line (k6's exit code 107 for a
script that does not run, 104 for options that do not validate) — never a traceback of ours.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loadtests.api import declared_metrics
from loadtests.errors import SCRIPT_EXCEPTION, ConfigError, LoadTestError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from loadtests.metrics import MetricType
    from loadtests.options import Options

__all__ = ("Script", "load_script", "script_frame")


@dataclass
class Script:
    path: Path
    module: Any
    raw_options: Mapping[str, Any]
    metric_types: dict[str, MetricType] = field(default_factory=dict)
    """Custom metrics the script declared at import."""

    @property
    def targets(self) -> dict[str, float]:
        raw = getattr(self.module, "targets", None) or {}
        if not isinstance(raw, dict) or not all(isinstance(v, int | float) for v in raw.values()):
            raise ConfigError("`targets` must be a dict of names to numbers", where=str(self.path))
        return {str(k): float(v) for k, v in raw.items()}

    def function(self, name: str) -> Callable[..., Any] | None:
        fn = getattr(self.module, name, None)
        return fn if callable(fn) else None

    def exec_function(self, name: str, scenario: str) -> Callable[..., Any]:
        """The async function a scenario runs; a missing or synchronous one is a configuration error."""
        fn = self.function(name)
        if fn is None:
            raise ConfigError(
                f"scenario {scenario!r} runs {name!r}, which {self.path.name} does not define", where=str(self.path)
            )
        if not inspect.iscoroutinefunction(fn):
            raise ConfigError(f"{name}() must be `async def` (it awaits the VU's clients)", where=self.where(fn))
        return fn

    def check_exec_functions(self, options: Options) -> None:
        for name, scenario in options.scenarios.items():
            self.exec_function(scenario.exec, name)

    def where(self, fn: Callable[..., Any]) -> str:
        code = getattr(fn, "__code__", None)
        return f"{self.path}:{code.co_firstlineno}" if code is not None else str(self.path)


def script_frame(error: BaseException, path: Path) -> str | None:
    """``file:line`` of the deepest frame of ``error`` inside the script, for messages about it."""
    if isinstance(error, SyntaxError) and error.filename:
        return f"{error.filename}:{error.lineno}"
    resolved = str(path.resolve())
    found = None
    for frame in traceback.extract_tb(error.__traceback__):
        if str(Path(frame.filename).resolve()) == resolved:
            found = f"{path}:{frame.lineno}"
    return found


def load_script(path: str | Path) -> Script:
    """Import the script as a fresh module (its init code runs, as k6's does once per VU context)."""
    script_path = Path(path)
    if not script_path.is_file():
        raise LoadTestError(f"script not found: {script_path}", code=SCRIPT_EXCEPTION)
    if script_path.suffix != ".py":
        raise LoadTestError(f"a script is a Python module (.py): {script_path}", code=SCRIPT_EXCEPTION)
    name = f"pp_loadtest_script_{abs(hash(str(script_path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, script_path)
    if spec is None or spec.loader is None:
        raise LoadTestError(f"cannot import {script_path}", code=SCRIPT_EXCEPTION)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    declared_metrics.clear()
    try:
        spec.loader.exec_module(module)
    except SyntaxError as error:
        raise LoadTestError(
            f"syntax error: {error.msg}", code=SCRIPT_EXCEPTION, where=script_frame(error, script_path)
        ) from None
    except LoadTestError:
        raise
    except Exception as error:
        raise LoadTestError(
            f"the script failed while loading: {type(error).__name__}: {error}",
            code=SCRIPT_EXCEPTION,
            where=script_frame(error, script_path) or str(script_path),
        ) from None
    raw = getattr(module, "options", None)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError("`options` must be a dict (k6's options object)", where=str(script_path))
    return Script(script_path, module, raw, dict(declared_metrics))
