"""`DirectorClient(role, key, url)`: the Python twin of the seed's Swift DirectorBusClient.

It connects to the bus's control endpoint, answers the server's challenge with an identify
signed by its device key (`DeviceKey`), keeps the last state it was sent, sends heartbeats
every `rules.heartbeat_interval_s` (each acknowledged: a silent bus is a dead one), and
reconnects with exponential backoff
(`rules.reconnect_backoff_initial_s` doubling up to `reconnect_backoff_max_s`) when the bus
goes away. While disconnected it is read-only: `state` keeps the last known document and
every command raises `BusDown`. Kicked by a newer connection of its role, it stops for good
(reconnecting would kick the newer one back); a server shutdown is just an outage. Like the Swift client it refuses locally to
send a command its role may not send (the rows of director_ownership.v2), and it stores
state documents as they come, ignoring fields it does not know (`client_unknown_fields`).
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, Self
from urllib.parse import urlsplit, urlunsplit

import orjson
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

from lume.generated.constants import (
    COMMAND_HEARTBEAT,
    COMMAND_IDENTIFY,
    COMMAND_SET_CUE,
    COMMAND_SET_LOOK_ACTIVE,
)

from . import _frames as frames
from . import _ownership as own
from ._devices import DeviceKey

log = logging.getLogger(__name__)


class BusDown(ConnectionError):
    """The bus is not reachable (or this client was kicked): the client is read-only."""


class SchemaMismatch(RuntimeError):
    """The server announced another schema version; commands wait for `acknowledge_schema()`."""


class NotOwner(PermissionError):
    """Refused locally: the contract does not let this role send this command."""

    def __init__(self, refusal: own.Refusal) -> None:
        self.refusal = refusal
        super().__init__(refusal.message)


class CommandRefused(Exception):
    """The server answered a command with an `error` frame."""

    def __init__(self, frame: dict[str, Any]) -> None:
        self.frame = frame
        self.code = frame.get("code")
        self.field = frame.get("field")
        self.owner = frame.get("owner")
        self.role = frame.get("role")
        super().__init__(f"{self.code}: {frame.get('message')}")


def default_url(rules: own.Ownership | None = None, host: str = "127.0.0.1") -> str:
    return f"ws://{host}:{(rules or own.load()).rules.port}"


def endpoint(url: str, which: str, rules: own.Ownership | None = None) -> str:
    """The URL of an endpoint (`control`, `state`, `schema`) from `ws://HOST:PORT[/director]`."""
    r = (rules or own.load()).rules
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss", "http", "https") or not parts.netloc:
        raise ValueError(f"{url!r}: expected ws://HOST:PORT")
    if parts.path.rstrip("/") not in ("", r.path):
        raise ValueError(f"{url!r}: the bus lives at {r.path}, not {parts.path}")
    scheme = parts.scheme
    if which == "schema":
        scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
    else:
        scheme = {"http": "ws", "https": "wss"}.get(scheme, scheme)
    return urlunsplit((scheme, parts.netloc, getattr(r, f"{which}_path"), "", ""))


def max_frame(rules: own.Ownership | None = None) -> int:
    """The largest frame a client accepts: a state frame of limits.max_state_bytes, plus slack."""
    return (rules or own.load()).limits.max_state_bytes + 4096


async def _open(url: str, timeout: float | None, rules: own.Ownership | None = None) -> ClientConnection:
    # Loopback / LAN peers: no proxy from the environment, no compression.
    return await ws_connect(url, proxy=None, compression=None, open_timeout=timeout,
                            max_size=max_frame(rules))


class DirectorClient:
    """A director (mac, ios or ipad) on the bus."""

    def __init__(self, role: str, key: DeviceKey | None, url: str | None = None, *, heartbeat: bool = True,
                 rules: own.Ownership | None = None, open_timeout: float = 5.0,
                 on_state: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.own = rules or own.load()
        if role not in self.own.roles:
            raise ValueError(f"unknown role {role!r}; roles are {', '.join(self.own.roles)} "
                             f"[{own.CONTRACT}]")
        self.role = role
        self.key = key  # None: the client can watch its refusals but never identify
        self.url = url or default_url(self.own)
        self.control_url = endpoint(self.url, "control", self.own)
        self.heartbeat_enabled = heartbeat
        self.open_timeout = open_timeout
        self.on_state = on_state
        self.state: dict[str, Any] | None = None
        self.connected = False
        self.kicked: str | None = None  # set once superseded by a newer connection of the role
        self.server_schema: str | None = None
        self.identity: dict[str, Any] | None = None  # the server's `identified` frame
        self.last_error: BaseException | None = None
        self.connects = 0  # successful connections so far (reconnects = connects - 1)
        self.state_version_seen: int | None = None  # set by the first state frame of a connection
        self._schema_acknowledged = False
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._pending: collections.deque[asyncio.Future[dict[str, Any]]] = collections.deque()
        self._send_lock: asyncio.Lock | None = None
        self._up: asyncio.Event | None = None
        self._changed: asyncio.Event | None = None

    # -- status --------------------------------------------------------------------------
    @property
    def schema_mismatch(self) -> bool:
        return self.server_schema is not None and self.server_schema != self.own.rules.schema_version

    @property
    def read_only(self) -> bool:
        return (not self.connected or self.kicked is not None
                or (self.schema_mismatch and not self._schema_acknowledged))

    def acknowledge_schema(self) -> None:
        """The operator accepts a server schema version other than ours."""
        self._schema_acknowledged = True

    # -- life cycle ----------------------------------------------------------------------
    async def connect(self, timeout: float | None = None) -> bool:
        """Start (once) the connect / reconnect loop; wait up to `timeout` to be connected."""
        if self._task is None:
            self._send_lock, self._up, self._changed = asyncio.Lock(), asyncio.Event(), asyncio.Event()
            self._closing = False
            self._task = asyncio.create_task(self._run(), name=f"director-client-{self.role}")
        assert self._up is not None
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._up.wait(), timeout)
        return self.connected

    async def close(self) -> None:
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def __aenter__(self) -> Self:
        await self.connect(self.open_timeout)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _run(self) -> None:
        r = self.own.rules
        delay = r.reconnect_backoff_initial_s
        while not self._closing and self.kicked is None:
            try:
                ws = await _open(self.control_url, self.open_timeout, self.own)
            except (TimeoutError, OSError, websockets.exceptions.WebSocketException) as exc:
                self.last_error = exc
            else:
                try:
                    await self._session(ws)
                    delay = r.reconnect_backoff_initial_s
                except (TimeoutError, OSError, websockets.exceptions.WebSocketException, CommandRefused) as exc:
                    self.last_error = exc
                finally:
                    self._down()
                    await ws.close()
            if self._closing or self.kicked is not None:
                return
            log.warning("director bus %s unreachable (%s); retrying in %.2fs",
                        self.control_url, self.last_error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, r.reconnect_backoff_max_s)

    async def _session(self, ws: ClientConnection) -> None:
        """Answer the challenge, then read frames until the connection ends."""
        async with asyncio.timeout(self.open_timeout):
            while self.state_version_seen is None:
                raw = await ws.recv()
                challenge = _challenge(raw)
                if challenge is None:
                    self._on_frame(raw, handshake=True)
                elif self.key is None:
                    raise CommandRefused({"type": "error", "code": "not_identified",
                                          "message": "no device key to answer the challenge with"})
                else:
                    await ws.send(frames.dumps(self.key.identify(self.role, challenge, self.own)))
        self._ws, self.connected = ws, True
        self.connects += 1
        assert self._up is not None
        self._up.set()
        beat = asyncio.create_task(self._heartbeats()) if self.heartbeat_enabled else None
        try:
            async for raw in ws:
                self._on_frame(raw)
        finally:
            if beat:
                beat.cancel()

    def _down(self) -> None:
        self._ws, self.connected, self.state_version_seen = None, False, None
        if self._up is not None:
            self._up.clear()
        while self._pending:
            fut = self._pending.popleft()
            if not fut.done():
                fut.set_exception(BusDown(f"{self.control_url}: connection lost"))

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.own.rules.heartbeat_interval_s)
            try:
                await self.heartbeat()
            except (BusDown, websockets.exceptions.WebSocketException):
                return
            except TimeoutError:  # no ack: the bus is gone though the socket is not closed yet
                log.warning("director bus %s did not acknowledge a heartbeat; reconnecting", self.control_url)
                if self._ws is not None:
                    await self._ws.close()
                return

    def _on_frame(self, raw: str | bytes, handshake: bool = False) -> None:
        try:
            frame = orjson.loads(raw)
        except orjson.JSONDecodeError:
            log.warning("director bus sent a frame that is not JSON; ignored")
            return
        kind = frame.get("type") if isinstance(frame, dict) else None
        if kind == "state":
            self.state = frame.get("state")
            self.state_version_seen = (self.state or {}).get("version", -1)
            if self._changed is not None:
                self._changed.set()
            if self.on_state is not None:
                self.on_state(self.state)
        elif kind in ("ack", "error"):
            if handshake and kind == "error":
                raise CommandRefused(frame)  # identify refused
            if self._pending:
                fut = self._pending.popleft()
                if not fut.done():
                    if kind == "ack":
                        fut.set_result(frame)
                    else:
                        fut.set_exception(CommandRefused(frame))
        elif kind == "kicked":
            reason = frame.get("reason", "unknown")
            log.warning("director bus closed this %s client: %s", self.role, reason)
            # Superseded is final (coming back would kick the newer director); a server
            # shutdown is an outage like any other: reconnect with backoff.
            if reason == self.own.rules.superseded_kick_reason:
                self.kicked = reason
        elif kind == "identified":
            self.identity = frame
        elif kind == "schema":
            self.server_schema = frame.get("version")
            if self.schema_mismatch:
                log.error("director bus speaks schema %s, this client %s: commands are refused "
                          "until the operator acknowledges", self.server_schema,
                          self.own.rules.schema_version)
        # other / unknown frame types: ignored (additive protocol changes)

    # -- commands ------------------------------------------------------------------------
    async def send(self, frame: dict[str, Any], *, check: bool = True,
                   timeout: float | None = None) -> int | None:
        """Send one command; return the new version from its `ack` (None for heartbeats)."""
        kind = frame.get("type")
        row = self.own.commands.get(kind) if isinstance(kind, str) else None
        if row is None or kind == COMMAND_IDENTIFY:
            raise ValueError(f"{kind!r} is not a command a client sends [{own.CONTRACT}]")
        if check and not self.own.may_send(kind, self.role):
            refusal = self.own.check(kind, self.role, [])
            assert refusal is not None
            raise NotOwner(refusal)
        if kind != COMMAND_HEARTBEAT and self.read_only:
            if self.connected and self.kicked is None:
                raise SchemaMismatch(f"server schema {self.server_schema} != client "
                                     f"{self.own.rules.schema_version}; call acknowledge_schema()")
            raise BusDown(f"{self.control_url}: not connected ({self.kicked or self.last_error}); read-only")
        assert self._send_lock is not None
        async with self._send_lock:
            ws = self._ws
            if ws is None:
                raise BusDown(f"{self.control_url}: not connected; read-only")
            fut: asyncio.Future[dict[str, Any]] | None = None
            if row.reply == "ack":
                fut = asyncio.get_running_loop().create_future()
                self._pending.append(fut)
            try:
                await ws.send(frames.dumps(frame))
            except websockets.exceptions.ConnectionClosed as exc:
                raise BusDown(f"{self.control_url}: connection lost") from exc
        if fut is None:
            return None
        reply = await asyncio.wait_for(fut, timeout or self.open_timeout)
        return reply["version"]

    async def set_session_phase(self, phase: str) -> int | None:
        return await self.send({"type": "set_session_phase", "phase": phase})

    async def set_session(self, **fields: Any) -> int | None:
        return await self.send({"type": "set_session", **fields})

    async def set_cue(self, cue: dict[str, Any] | None, slot: str | None = None) -> int | None:
        frame: dict[str, Any] = {"type": COMMAND_SET_CUE, "cue": cue}
        if slot is not None:
            frame["slot"] = slot
        return await self.send(frame)

    async def set_look_active(self, look_id: str | None) -> int | None:
        return await self.send({"type": COMMAND_SET_LOOK_ACTIVE, "id": look_id})

    async def set_look(self, **fields: Any) -> int | None:
        return await self.send({"type": "set_look", **fields})

    async def set_performer_intent(self, intent: str) -> int | None:
        return await self.send({"type": "set_performer_intent", "intent": intent})

    async def set_performer_voice(self, **fields: Any) -> int | None:
        return await self.send({"type": "set_performer_voice", **fields})

    async def propose_consent(self, scope: list[str]) -> int | None:
        return await self.send({"type": "propose_consent", "scope": scope})

    async def ack_consent(self) -> int | None:
        return await self.send({"type": "ack_consent"})

    async def heartbeat(self) -> int | None:
        """Send a heartbeat; returns the version the bus acknowledged it with."""
        return await self.send({"type": COMMAND_HEARTBEAT})

    async def wait_for(self, predicate: Callable[[dict[str, Any]], bool],
                       timeout: float | None = None) -> dict[str, Any]:
        """Wait until the last received state satisfies `predicate`; return it."""
        assert self._changed is not None, "connect() first"
        async with asyncio.timeout(timeout or self.open_timeout):
            while self.state is None or not predicate(self.state):
                self._changed.clear()
                await self._changed.wait()
        return self.state


async def watch(url: str | None = None, *, rules: own.Ownership | None = None,
                open_timeout: float = 5.0) -> AsyncIterator[dict[str, Any]]:
    """Every frame of the read-only state endpoint (`schema`, then `state` after each change)."""
    ws = await _open(endpoint(url or default_url(rules), "state", rules), open_timeout, rules)
    try:
        async for raw in ws:
            yield orjson.loads(raw)
    finally:
        await ws.close()



def _challenge(raw: str | bytes) -> dict[str, Any] | None:
    """The frame if it is a `challenge`, else None."""
    try:
        frame = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return frame if isinstance(frame, dict) and frame.get("type") == "challenge" else None
