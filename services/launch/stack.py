"""``python -m services``: the whole stack on one machine — a Redis, the retrieval service, then the MCP gateway.

Why a launcher rather than three terminals: the order matters (the gateway needs retrieval, retrieval wants Redis),
a user should not have to find or start a Redis, and stopping must leave nothing behind. So ``run``

* picks a Redis and says which (``services.launch.redis``), and starts the embedded OTLP receiver
  (``python -m otel.receiver``) unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` names a collector;
* checks both ports before starting anything, so a taken port fails at once with the variable to set
  (``services.launch.ports``);
* starts retrieval, waits for its ``/ready``, then the gateway with ``PP_RETRIEVAL_URL`` pointing at it, and waits
  for the gateway's ``/ready``, every wait bounded by a deadline and abandoned as soon as a child dies
  (``services.launch.readiness``);
* on SIGINT/SIGTERM/SIGHUP stops the gateway, then retrieval, then the embedded Redis (SIGTERM, then SIGKILL after
  10 s; a second Ctrl-C skips the wait) and exits 0; if a child dies on its own, stops the rest and exits 1
  (``services.launch.processes``, which also keeps children from outliving a killed launcher).
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from services.common.settings import SettingsError, from_env
from services.launch.console import say
from services.launch.errors import StackError, Stopped
from services.launch.ports import check_port
from services.launch.processes import STOP_GRACE_S, Child, StopSignals, supervise
from services.launch.readiness import base_url, wait_ready
from services.launch.redis import choose_redis
from services.launch.settings import StackSettings

if TYPE_CHECKING:
    from services.launch.redis import RedisChoice

__all__ = ("StackError", "StackSettings", "run")


def telemetry_endpoint(settings: StackSettings) -> tuple[str, bool]:
    """Where the services export OTLP, and whether the embedded receiver must be started to take it."""
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if endpoint:
        return endpoint, False
    return base_url(settings.receiver_host, settings.receiver_port), True


def banner(settings: StackSettings, redis_choice: RedisChoice) -> str:
    gateway = base_url(settings.gateway_host, settings.gateway_port)
    retrieval = base_url(settings.retrieval_host, settings.retrieval_port)
    endpoint, embedded = telemetry_endpoint(settings)
    telemetry = f"{endpoint} (embedded receiver)" if embedded else f"{endpoint} (OTEL_EXPORTER_OTLP_ENDPOINT)"
    return "\n".join(
        (
            "",
            "Personal Pipeline is up",
            f"  MCP endpoint   {gateway}/mcp",
            f"  REST           POST {gateway}/mcp/call",
            f"  health         {gateway}/health   {retrieval}/health",
            f"  ready          {gateway}/ready    {retrieval}/ready",
            f"  retrieval      {retrieval}",
            f"  Redis          {redis_choice.description}",
            f"  telemetry      {telemetry}",
            "Ctrl-C to stop",
            "",
        )
    )


@dataclass(frozen=True)
class Options:
    workdir: Path
    quiet: bool = False
    """Children's output goes to files in ``workdir`` (shown on failure) instead of the terminal."""
    ready_timeout_s: float = 60.0


def _start_services(
    settings: StackSettings, redis_choice: RedisChoice, children: list[Child], stop: StopSignals, options: Options
) -> None:
    endpoint, embedded = telemetry_endpoint(settings)
    env = {**os.environ, "PP_REDIS_URL": redis_choice.url, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}
    retrieval_url = base_url(settings.retrieval_host, settings.retrieval_port)
    services = [
        ("retrieval", "services.retrieval", env, retrieval_url),
        (
            "gateway",
            "services.gateway",
            {**env, "PP_RETRIEVAL_URL": retrieval_url},
            base_url(settings.gateway_host, settings.gateway_port),
        ),
    ]
    if embedded:  # first, so the services' first exports land; stopped after them, so their last ones do too
        services.insert(0, ("receiver", "otel.receiver", env, endpoint))
    if os.environ.get("PP_RETRIEVAL_URL", retrieval_url) != retrieval_url:
        say(f"ignoring PP_RETRIEVAL_URL: the gateway uses the retrieval started here, {retrieval_url}", warn=True)
    for name, module, child_env, url in services:
        if stop.requested:
            raise Stopped
        log = options.workdir / f"{name}.log" if options.quiet else None
        say(f"starting {name} on {url}")
        child = Child.spawn(name, [sys.executable, "-m", module], child_env, log)
        children.append(child)
        wait_ready(child, url, children, stop, options.ready_timeout_s)


def run(*, quiet: bool = False, ready_timeout_s: float = 60.0) -> int:
    """Run the stack until a stop signal or a child's death; returns the exit status."""
    children: list[Child] = []
    stop = StopSignals()
    with stop.installed(), tempfile.TemporaryDirectory(prefix="pp-serve-", ignore_cleanup_errors=True) as tmp:
        options = Options(Path(tmp), quiet, ready_timeout_s)
        try:
            settings = from_env(StackSettings)
            check_port(settings.retrieval_host, settings.retrieval_port, "PP_RETRIEVAL_PORT")
            check_port(settings.gateway_host, settings.gateway_port, "PP_GATEWAY_PORT")
            if telemetry_endpoint(settings)[1]:
                check_port(settings.receiver_host, settings.receiver_port, "PP_RECEIVER_PORT")
            if settings.retrieval_port == settings.gateway_port:
                raise StackError("PP_RETRIEVAL_PORT and PP_GATEWAY_PORT must differ", code=2)
            redis_choice = choose_redis(settings, options.workdir, stop)
            if redis_choice.server is not None:
                children.append(redis_choice.server)
            say(f"Redis: {redis_choice.description}")
            _start_services(settings, redis_choice, children, stop, options)
            say(banner(settings, redis_choice), prefix="")
            return supervise(children, stop)
        except Stopped:
            return 0
        except SettingsError as exc:  # names the variable
            say(str(exc), warn=True)
            return 2
        except StackError as exc:
            say(str(exc), warn=True)
            return exc.code
        finally:
            if stop.requested:
                say(f"{signal.Signals(stop.received or signal.SIGTERM).name}: stopping (Ctrl-C again to kill at once)")
            for child in reversed(children):  # gateway, retrieval, then Redis
                child.stop(STOP_GRACE_S, lambda: stop.hurry)
            if children:
                say("stopped")
