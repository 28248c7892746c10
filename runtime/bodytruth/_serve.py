"""The `lume bodytruth serve` use case: a service fed by recorded streams, on uvicorn."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lume.generated.constants import SERVICE_BODYTRUTH
from lume.runtime.core import connection_limits, guarded_config

from ._access import WriteAccess
from ._replay import DEFAULT_TICK_MS, merged
from ._service import BodyTruthService, create_app
from ._streams import read_streams


@dataclass
class ServicePlan:
    """The app to serve, and how many recorded records it will replay."""

    app: Any
    observations: int
    gestures: int
    access: WriteAccess


def plan_service(*, replay: list[Path] | tuple[Path, ...] = (), speed: float = 1.0,
                 record: Path | None = None, tick_ms: int = DEFAULT_TICK_MS,
                 access: WriteAccess | None = None) -> ServicePlan:
    """Read (and validate) the replay files, then build the service and its ASGI app.

    `access`: who may write (WriteAccess.configure: the machine configuration and the flags).
    Raises InputError naming the file, line, field and contract of a bad record.
    """
    observations, gestures = read_streams(list(replay))
    service = BodyTruthService(tick_ms=tick_ms, record=record)
    app = create_app(service, replay_events=merged(observations, gestures), replay_speed=speed,
                     access=access)
    return ServicePlan(app, len(observations), len(gestures), access or WriteAccess())


def run_service(app: Any, host: str, port: int) -> None:
    """Serve until Ctrl-C on a real uvicorn server."""
    import uvicorn  # noqa: PLC0415 - only the service needs a web server

    # slow or idle clients are cut on the HTTP layer (service_connections.v1)
    uvicorn.Server(guarded_config(app, connection_limits(SERVICE_BODYTRUTH), host=host, port=port,
                                  log_level="warning")).run()
