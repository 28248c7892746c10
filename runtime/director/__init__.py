"""The director bus: one server-authoritative state, single writer per field (seed 004, Q2).

- `state`      the director_state.v2 document: build, validate, read/write fields
- `ownership`  command -> field -> owner, the consent quorum, identify and limits (director_ownership.v2)
- `frames`     director_frames.v2: validate client frames (`explain`: one readable line), build server frames
- `devices`    device keys, the enrolled-device trust list (director_devices.v1), strict Ed25519
- `consent`    the Ed25519 consent proof token
- `bus`        the pure apply logic: links and challenge-response identify, receive order,
               versions, the quorum, pause gating (`Bus`, constructible without a server with an
               injected clock and device trust)
- `persist`    every applied version on disk (group commit), reload on start, the 24 h rule
- `lock`       one server per state folder, one enrol / revoke at a time (flock; says who holds it)
- `server`     Starlette/uvicorn WebSocket endpoints around the bus, bounded per-connection queues
- `wire`       frames as bytes on the wire: a state framed once per version, written to each socket
- `client`     DirectorClient(role, key, url), reconnecting, read-only while the bus is down
- `clock`      injectable wall / monotonic time (tests drive expiry without sleeping)
- `cmdline`    `lume director` helpers: KEY=VALUE frames, bus URL, summaries, command descriptions
- `oneshot`    `lume director send | watch`: one command and its reply, or follow the state
"""
from ._bus import Bus, Link, Outcome
from ._client import CommandRefused, DirectorClient, watch
from ._clock import Clock, FakeClock, SystemClock
from ._cmdline import command_line, describe_commands, frame_from_args, resolve_url, summary
from ._consent import ConsentSigner, KeyFileError
from ._consent import verify as verify_token
from ._devices import (
    Device,
    DeviceFile,
    DeviceKey,
    DeviceListError,
    DeviceTrust,
    public_key_from_text,
)
from ._lock import DirectorBusy
from ._oneshot import BusUnreachable, WatchTimedOut, follow, send_once
from ._ownership import Ownership, Refusal
from ._ownership import load as load_ownership
from ._persist import LoadReport, StateStore, default_state_dir
from ._server import BusServer, ServerThread, bind, serve

__all__ = [
    "Bus",
    "BusServer",
    "BusUnreachable",
    "Clock",
    "CommandRefused",
    "ConsentSigner",
    "Device",
    "DeviceFile",
    "DeviceKey",
    "DeviceListError",
    "DeviceTrust",
    "DirectorBusy",
    "DirectorClient",
    "FakeClock",
    "KeyFileError",
    "Link",
    "LoadReport",
    "Outcome",
    "Ownership",
    "Refusal",
    "ServerThread",
    "StateStore",
    "SystemClock",
    "WatchTimedOut",
    "bind",
    "command_line",
    "default_state_dir",
    "describe_commands",
    "follow",
    "frame_from_args",
    "load_ownership",
    "public_key_from_text",
    "resolve_url",
    "send_once",
    "serve",
    "summary",
    "verify_token",
    "watch",
]
