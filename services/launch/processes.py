"""The launcher's children: how they start, how their exit is seen, how they stop, and the signals that stop them.

Each child runs in its own process group, so a Ctrl-C in the terminal reaches only the launcher (which then stops
the children in order) and stopping a child also stops anything it spawned. On Linux each child is also told to
receive SIGTERM if the launcher dies without cleaning up (SIGKILL, OOM): the one case ``finally`` cannot cover.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING

from services.launch.console import say
from services.launch.errors import StackError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from pathlib import Path
    from types import FrameType

__all__ = ("POLL_S", "STOP_GRACE_S", "Child", "StopSignals", "supervise")

STOP_GRACE_S = 10.0
"""How long a child gets between SIGTERM and SIGKILL."""
POLL_S = 0.1


class StopSignals:
    """SIGINT/SIGTERM/SIGHUP only set a flag: a KeyboardInterrupt raised mid-shutdown would leave children behind.

    Every wait polls ``requested``; a second signal sets ``hurry``, which cuts the SIGTERM grace period short. The
    handler prints nothing: writing to a stream the interrupted code is writing to raises ``RuntimeError``.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self) -> None:
        self.received: int | None = None
        self.hurry = False

    @property
    def requested(self) -> bool:
        return self.received is not None

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.hurry = self.received is not None
        self.received = signum

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopSignals]:
        previous = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, signal.SIG_DFL if handler is None else handler)


def _load_prctl() -> Callable[..., int] | None:
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux
        return None
    return prctl


_PRCTL = _load_prctl()
_HAVE_WAITID = hasattr(os, "waitid")
_PR_SET_PDEATHSIG = 1


def _die_with_launcher() -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to SIGTERM the child when the launcher dies; None where there is no prctl.

    It runs in the child between fork and exec, which is safe because the launcher starts no threads.
    """
    prctl, launcher = _PRCTL, os.getpid()
    if prctl is None:
        return None

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != launcher:  # the launcher died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


@dataclass
class Child:
    """One child process, the leader of its own process group.

    Its exit is observed without reaping it, so its pid (and so its process group id) cannot be reused until
    ``stop`` has signalled whatever is left in the group.
    """

    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path | None = None
    """Where its output goes when not to the terminal (``--quiet``, the embedded Redis)."""
    returncode: int | None = field(default=None, init=False)

    @classmethod
    def spawn(cls, name: str, argv: list[str], env: Mapping[str, str], log_path: Path | None = None) -> Child:
        log: IO[bytes] | None = log_path.open("ab") if log_path is not None else None
        try:
            proc = subprocess.Popen(
                argv,
                env=env,
                stdin=subprocess.DEVNULL,  # a background process group reading the terminal would be stopped
                stdout=log,
                stderr=subprocess.STDOUT if log is not None else None,
                process_group=0,
                preexec_fn=_die_with_launcher(),  # no threads here: see _die_with_launcher
            )
        finally:
            if log is not None:
                log.close()
        return cls(name, proc, log_path)

    def exit_status(self) -> int | None:
        """The exit code (negative: killed by that signal) if it has exited, else None; never reaps."""
        if self.returncode is not None:
            return self.returncode
        if not _HAVE_WAITID:  # macOS before Python 3.13: poll() reaps, the group is then signalled by a freed id
            return self.proc.poll()
        info = os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        if info is None:
            return None
        return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status

    def describe_exit(self, status: int) -> str:
        if status >= 0:
            return f"{self.name} exited with code {status}{self.tail()}"
        name = signal.Signals(-status).name if -status in signal.valid_signals() else str(-status)
        return f"{self.name} was killed by {name}{self.tail()}"

    def tail(self, lines: int = 20) -> str:
        if self.log_path is None:
            return " (its log is above)"
        try:
            text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return "; last lines of its log:\n" + "\n".join(f"  | {line}" for line in text)

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def stop(self, grace_s: float, hurry: Callable[[], bool]) -> None:
        """SIGTERM the group, wait up to ``grace_s`` (less if ``hurry()``), SIGKILL what is left, reap. Idempotent."""
        if self.returncode is not None:
            return
        if self.exit_status() is None:
            self._signal_group(signal.SIGTERM)
            deadline = time.monotonic() + grace_s
            while self.exit_status() is None and time.monotonic() < deadline and not hurry():
                time.sleep(0.05)
            if self.exit_status() is None:
                say(f"killing {self.name}" if hurry() else f"{self.name} did not stop within {grace_s:g} s: killing it")
        self._signal_group(signal.SIGKILL)  # the leader if it hung, and anything it spawned either way
        try:
            self.returncode = self.proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            say(f"{self.name} (pid {self.proc.pid}) could not be reaped after SIGKILL", warn=True)


def supervise(children: list[Child], stop: StopSignals) -> int:
    """Until a stop signal (→ 0) or a child exiting on its own (→ StackError naming it)."""
    while not stop.requested:
        for child in children:
            if (status := child.exit_status()) is not None:
                raise StackError(f"{child.describe_exit(status)}\nstopping the rest")
        time.sleep(POLL_S)
    return 0
