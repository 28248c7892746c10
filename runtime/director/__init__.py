"""The director bus: one server-authoritative state, single writer per field (seed 004, Q2).

- `state`      the director_state.v2 document: build, validate, read/write fields
- `ownership`  command -> field -> owner, read from director_ownership.v2
- `frames`     director_frames.v2: validate client frames, build server frames
- `consent`    the Ed25519 consent proof token
- `bus`        the pure apply logic (receive order, versions, quorum, pause gating)
- `persist`    every applied version on disk, reload on start, the 24 h rule
- `server`     Starlette/uvicorn WebSocket endpoints around the bus
- `client`     DirectorClient(role, url), reconnecting, read-only while the bus is down
- `clock`      injectable wall / monotonic time (tests drive expiry without sleeping)
- `cmdline`    `lume director` helpers: KEY=VALUE frames, bus URL from machine_config, summaries
- `oneshot`    `lume director send | watch`: one command and its reply, or follow the state
"""
from ._bus import Bus, Outcome
from ._client import CommandRefused, DirectorClient, watch
from ._clock import Clock, FakeClock, SystemClock
from ._cmdline import frame_from_args, resolve_url, summary
from ._consent import ConsentSigner, KeyFileError
from ._consent import verify as verify_token
from ._oneshot import BusUnreachable, follow, send_once
from ._ownership import Ownership, Refusal
from ._ownership import load as load_ownership
from ._persist import LoadReport, StateStore, default_state_dir
from ._server import BusServer, bind, serve

__all__ = [
    "Bus",
    "BusServer",
    "BusUnreachable",
    "Clock",
    "CommandRefused",
    "ConsentSigner",
    "DirectorClient",
    "FakeClock",
    "KeyFileError",
    "LoadReport",
    "Outcome",
    "Ownership",
    "Refusal",
    "default_state_dir",
    "StateStore",
    "SystemClock",
    "bind",
    "follow",
    "frame_from_args",
    "load_ownership",
    "resolve_url",
    "send_once",
    "serve",
    "summary",
    "verify_token",
    "watch",
]
