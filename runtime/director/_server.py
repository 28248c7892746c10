"""The director bus server: Starlette + uvicorn WebSocket endpoints around the pure bus.

Endpoints (paths from director_ownership.v2 `rules`):
- `control_path` and `path` (the seed's `ws://HOST:9610/director`), WebSocket: `schema` and a
  `challenge` on connect; the client answers with a signed `identify` (`identified` + `state`,
  or `error` + a new challenge), then sends commands; the server answers `ack` / `error` and
  sends `state` after every change. One live connection per role: a newer identified one
  wins, the older gets `kicked` and is closed. A refused identify never touches the holder.
- `state_path` (WebSocket, read-only): `schema` and `state` on connect, `state` after every change.
- `schema_path` (GET): the frames' bundled JSON Schema, version and ownership table.
- `stats_path` (GET): versions, connections, refusals by code and kicks by reason.

Every frame is handled synchronously on the event loop - parse, apply, serialise once,
queue the broadcast - with no await in between, so the loop itself serialises commands in
receive order. Persistence is a group commit off the loop (`_GroupCommit`): the versions
applied while a batch is being written go out as the next batch, and a command's `ack`
waits until the batch holding its version is durable (other replies to that connection
queue behind it, so a client sees its replies in order). If a batch cannot be written, the
bus goes back to the last durable version, the commands after it are refused, and that
state is broadcast again. A state is serialised and framed once per version (`_wire`) and
written straight to every connection whose socket takes it; a frame that cannot go out at once
(the transport is paused, or frames wait before it) waits in the connection's bounded outbound
queue, drained in order by its own writer task: a client that does not read is kicked as a
slow consumer and cut off, never holding the bus or its memory.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import gc
import logging
import socket
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Self

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from lume.generated.constants import COMMAND_HEARTBEAT, SERVICE_DIRECTOR_BUS
from lume.runtime.core import connection_limits, get, guarded_config, rule_data

from . import _devices as dev
from . import _frames as frames
from . import _ownership as own
from ._bus import Bus, Link, Outcome
from ._clock import Clock, SystemClock
from ._consent import ConsentSigner
from ._lock import SERVE_LOCK, Lock
from ._ownership import Refusal
from ._persist import LoadReport, StateStore
from ._wire import Outgoing, RawSocket

# director_frames.v2 KickReason values decided here (the bus decides identify_refused)
SERVER_SHUTDOWN, SLOW_CONSUMER, IDENTIFY_TIMEOUT = "server_shutdown", "slow_consumer", "identify_timeout"
FRAME_TOO_LARGE = "frame_too_large"  # a rejection counted when the WebSocket layer closes with 1009
REQUEST_TIMEOUT, TOO_MANY_CONNECTIONS = "request_timeout", "too_many_connections"  # guarded_config's counts
_CLOSE = object()
log = logging.getLogger(__name__)


class Connection:
    """One WebSocket with a bounded outbound queue drained by its own writer task.

    A frame goes straight to the socket when nothing waits before it and the transport takes
    it (`RawSocket.ready`); otherwise it waits in the queue, in order, for the writer."""

    def __init__(self, server: BusServer, ws: WebSocket) -> None:
        self.server, self.ws = server, ws
        self.link: Link | None = None
        self.closing = False  # kicked or closed: frames still arriving from it are ignored
        self.waiting_for = -1  # highest version whose ack this connection still waits for
        limits = server.own.limits
        self._max_frames, self._max_bytes = limits.outbound_queue_frames, limits.outbound_queue_bytes
        self._queue: collections.deque[Any] = collections.deque()
        self._bytes = 0
        self._ready = asyncio.Event()
        self._abort: asyncio.TimerHandle | None = None
        # uvicorn's protocol object: Starlette hands the server's `receive` through unwrapped
        self._protocol = getattr(getattr(ws, "_receive", None), "__self__", None)
        self.raw = RawSocket.of(self._protocol)
        self._busy = False  # the writer holds a frame it is waiting to write
        self._writer = asyncio.create_task(self._drain())

    @property
    def role(self) -> str | None:
        return self.link.role if self.link is not None else None

    @property
    def queued(self) -> tuple[int, int]:
        """Frames and bytes waiting to be written (bounded by limits.outbound_queue_*)."""
        return len(self._queue), self._bytes

    def send(self, frame: dict[str, Any] | str | Outgoing) -> None:
        if self.closing:
            return
        out = frame if isinstance(frame, Outgoing) else Outgoing(
            frame.encode() if isinstance(frame, str) else orjson.dumps(frame))
        if self.raw is not None and not self._queue and not self._busy and self.raw.ready:
            self.raw.write(out.wire)
            return
        if len(self._queue) >= self._max_frames or self._bytes + len(out.data) > self._max_bytes:
            self.kick(SLOW_CONSUMER)
            return
        self._queue.append(out)
        self._bytes += len(out.data)
        self._ready.set()

    def kick(self, reason: str) -> None:
        """Send `kicked: reason` after what is queued (a slow consumer's queue is dropped
        instead), then close; abort the socket after limits.kick_grace_s."""
        if self.closing:
            return
        self.closing = True
        self.server.kicked[reason] += 1
        if reason == SLOW_CONSUMER:
            self._queue.clear()
            self._bytes = 0
        out = Outgoing(orjson.dumps(frames.kicked(reason)))
        self._queue.extend([out, _CLOSE])
        self._bytes += len(out.data)
        self._ready.set()
        loop = asyncio.get_running_loop()
        self._abort = loop.call_later(self.server.own.limits.kick_grace_s, self.abort)

    def abort(self) -> None:
        """Cut the connection now: the writer stops and the socket is dropped unflushed (a peer
        that does not read would otherwise keep its unsent frames and the socket alive)."""
        self._writer.cancel()
        self._queue.clear()
        self._bytes = 0
        transport = getattr(self._protocol, "transport", None)
        if transport is not None and not transport.is_closing():
            transport.abort()

    async def _drain(self) -> None:
        try:
            while True:
                while not self._queue:
                    self._ready.clear()
                    await self._ready.wait()
                item = self._queue.popleft()
                if item is _CLOSE:
                    await self.ws.close()
                    return
                self._bytes -= len(item.data)
                self._busy = True
                if self.raw is None:
                    await self.ws.send_text(item.text)
                else:
                    await self.raw.writable.wait()  # the transport is paused: the peer reads slowly
                    if not self.raw.open:
                        return
                    self.raw.write(item.wire)
                self._busy = False
        except Exception:  # noqa: BLE001 - the peer went away; the reader side cleans up
            return

    async def finish(self, timeout: float) -> None:
        """The endpoint ends: let queued frames go out (bounded), then stop the writer."""
        if not self.closing:
            self.closing = True
            self._queue.append(_CLOSE)
            self._ready.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._writer), timeout)
        except (TimeoutError, asyncio.CancelledError):
            self.abort()
        if self._abort is not None:
            self._abort.cancel()


class _GroupCommit:
    """Versions applied on the loop, written by one worker thread in batches (group commit)."""

    def __init__(self, server: BusServer, store: StateStore) -> None:
        self.server, self.store = server, store
        self.batch_max = server.own.limits.persist_batch_versions
        self.pending: list[tuple[int, bytes, dict[str, Any]]] = []
        self.busy = False
        self.idle = asyncio.Event()
        self.idle.set()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="director-commit")

    def submit(self, version: int, data: bytes, doc: dict[str, Any]) -> None:
        self.pending.append((version, data, doc))
        if not self.busy:
            self._next()

    def _next(self) -> None:
        batch, self.pending = self.pending[: self.batch_max], self.pending[self.batch_max:]
        self.busy = True
        self.idle.clear()
        fut = asyncio.get_running_loop().run_in_executor(
            self._pool, self.store.write_batch, [(v, data) for v, data, _ in batch])
        fut.add_done_callback(lambda f: self._done(batch, f))

    def _done(self, batch: list[tuple[int, bytes, dict[str, Any]]], fut: asyncio.Future[None]) -> None:
        self.busy = False
        exc = fut.exception() if not fut.cancelled() else asyncio.CancelledError()
        if exc is not None:
            self.pending.clear()
            self.server.on_persist_failed(batch[0][0], exc)
        else:
            version, _, doc = batch[-1]
            self.server.on_durable(version, doc)
        if self.pending:
            self._next()
        else:
            self.idle.set()

    def close(self) -> None:
        self._pool.shutdown(wait=True)


class BusServer:
    """The bus, its persistence and its connections. `app` is the ASGI application."""

    def __init__(self, state_dir: Path | None = None, *, clock: Clock | None = None,
                 rules: own.Ownership | None = None, signer: ConsentSigner | None = None,
                 devices: dev.Trust | None = None, devices_file: Path | None = None,
                 sweep: bool = True) -> None:
        self.own = rules or own.load()
        self.clock = clock or SystemClock()
        self.store: StateStore | None = None
        self.load_report: LoadReport | None = None
        self.lock: Lock | None = None
        doc = None
        if state_dir is not None:
            # one server per state folder, taken before anything in it is read or tidied
            self.lock = Lock(Path(state_dir) / SERVE_LOCK, "lume director serve").acquire(
                busy=f"another director bus serves {state_dir}; stop it or give another --state-dir")
            try:
                self.store = StateStore(state_dir, rules=self.own, clock=self.clock)
                doc, self.load_report = self.store.load()
                signer = signer or ConsentSigner.load_or_create(Path(state_dir))
            except BaseException:
                self.lock.release()
                raise
            if devices is None:
                devices = dev.DeviceFile(devices_file or Path(state_dir) / self.own.identify.devices_file)
        elif devices is None and devices_file is not None:
            devices = dev.DeviceFile(devices_file)
        self.bus = Bus(doc, signer=signer, clock=self.clock, rules=self.own, devices=devices)
        if self.bus.consent_reset is not None and self.store is not None and self.load_report is not None:
            # before anything is served: the forged consent never goes out, the reset is durable
            self.store.write(self.bus.state, self.bus.state_bytes)
            self.load_report.notes.append(self.bus.consent_reset)
            log.warning("%s", self.bus.consent_reset)
        self.durable, self.durable_doc = self.bus.version, self.bus.state
        self.controls: dict[str, Connection] = {}  # role -> its one live control connection
        self.anonymous: set[Connection] = set()  # control connections before identify
        self.watchers: set[Connection] = set()  # state_path subscribers
        self.rejected: collections.Counter[str] = collections.Counter()
        self.kicked: collections.Counter[str] = collections.Counter()
        # cut on the HTTP layer (core.guarded_config counts request_timeout, too_many_connections)
        self.slow_clients: collections.Counter[str] = collections.Counter()
        self._waiting: collections.deque[tuple[int, Connection, dict[str, Any], str | None]] = \
            collections.deque()
        self._commit: _GroupCommit | None = None
        self._state_of: bytes | None = None  # the state bytes _state_out frames
        self._state_out: Outgoing | None = None
        self.sweep = sweep
        self.loop: asyncio.AbstractEventLoop | None = None
        self.app = self._build_app()

    @property
    def public_key_text(self) -> str:
        return self.bus.signer.public_key_text

    def release(self) -> None:
        """Give up the state folder (the server has stopped): another server may take it."""
        if self.lock is not None:
            self.lock.release()

    # -- ASGI ----------------------------------------------------------------------------
    def _build_app(self) -> Starlette:
        r = self.own.rules

        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            self.loop = asyncio.get_running_loop()
            # What is loaded now (contracts, models, the state) lives as long as the server: keep
            # it out of the collector's full passes, which would otherwise stall a broadcast.
            gc.collect()
            gc.freeze()
            if self.store is not None:
                self._commit = _GroupCommit(self, self.store)
            task = asyncio.create_task(self._sweep_loop()) if self.sweep else None
            try:
                self.tick()  # a loaded state may hold expired roles or an expired token
                yield
            finally:
                if task:
                    task.cancel()
                await self.close_all()
                if self._commit is not None:
                    self._commit.close()
                self.release()

        return Starlette(routes=[
            WebSocketRoute(r.control_path, self._control),
            WebSocketRoute(r.path, self._control),
            WebSocketRoute(r.state_path, self._state),
            Route(r.schema_path, self._schema, methods=["GET"]),
            Route(r.stats_path, self._stats, methods=["GET"]),
        ], lifespan=lifespan)

    async def _schema(self, request: Request) -> JSONResponse:
        return JSONResponse(self.schema_response())

    def schema_response(self) -> dict[str, Any]:
        return {"version": self.own.rules.schema_version, "contract": get(frames.CONTRACT).id,
                "schema": frames.schema(), "ownership": rule_data(own.CONTRACT)}

    async def _stats(self, request: Request) -> JSONResponse:
        return JSONResponse(self.stats())

    def stats(self) -> dict[str, Any]:
        return {"version": self.bus.version, "durable_version": self.durable,
                "connections": {"identified": len(self.controls), "anonymous": len(self.anonymous),
                                "watchers": len(self.watchers)},
                "rejected": dict(self.rejected), "kicked": dict(self.kicked),
                "slow_clients": {"request_timeout": self.slow_clients[REQUEST_TIMEOUT],
                                 "too_many_connections": self.slow_clients[TOO_MANY_CONNECTIONS],
                                 "slow_consumer": self.kicked[SLOW_CONSUMER]}}

    async def _control(self, ws: WebSocket) -> None:
        await ws.accept()
        conn = Connection(self, ws)
        conn.link = self.bus.open()
        self.anonymous.add(conn)
        conn.send(frames.schema_frame(self.own.rules.schema_version))
        conn.send(self.bus.challenge_frame(conn.link))
        assert self.loop is not None
        deadline = self.loop.call_later(self.own.identify.timeout_s, self._identify_deadline, conn)
        try:
            async for text in self._texts(conn):
                self.on_control_text(conn, text)
        finally:
            deadline.cancel()
            self.anonymous.discard(conn)
            self.bus.close(conn.link)
            if conn.role is not None and self.controls.get(conn.role) is conn:
                del self.controls[conn.role]
            await conn.finish(self.own.limits.kick_grace_s)

    async def _state(self, ws: WebSocket) -> None:
        await ws.accept()
        conn = Connection(self, ws)
        conn.send(frames.schema_frame(self.own.rules.schema_version))
        conn.send(self._state_frame())
        self.watchers.add(conn)  # same loop step as the snapshot: no change can slip between
        try:
            async for text in self._texts(conn):
                self.on_state_text(conn, text)
        finally:
            self.watchers.discard(conn)
            await conn.finish(self.own.limits.kick_grace_s)

    async def _texts(self, conn: Connection) -> AsyncIterator[str | None]:
        """Text frames of a connection until it closes (None for a binary frame)."""
        while True:
            try:
                message = await conn.ws.receive()
            except RuntimeError:  # receive after close
                return
            if message["type"] == "websocket.disconnect":
                if message.get("code") == 1009:  # over limits.max_frame_bytes
                    self.rejected[FRAME_TOO_LARGE] += 1
                return
            yield message.get("text")
            # A burst of pipelined frames is read without a pause: let the writers drain between
            # two frames, or a reading client's queue could fill up within one burst.
            await asyncio.sleep(0)

    # -- frames --------------------------------------------------------------------------
    def _decode(self, text: str | None, role: str | None) -> Any | Refusal:
        if text is None:
            return Refusal("invalid_frame", f"frames are JSON text, not binary [{frames.CONTRACT}]", role)
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            return Refusal("invalid_frame", f"not valid JSON: {str(exc)[:120]} [{frames.CONTRACT}]", role)

    def on_control_text(self, conn: Connection, text: str | None) -> None:
        if conn.closing:
            return
        assert conn.link is not None
        frame = self._decode(text, conn.role)
        if isinstance(frame, Refusal):
            self.rejected[frame.code] += 1
            self._reply(conn, frame.frame())
            return
        out = self.bus.receive(conn.link, frame)
        if out.refusal is not None:
            self.rejected[out.refusal.code] += 1
        if out.identified:
            self._bind(conn)
        self._deliver(conn, out, frame.get("type") if isinstance(frame, dict) else None)
        if out.kick:
            conn.kick(out.kick)

    def on_state_text(self, conn: Connection, text: str | None) -> None:
        frame = self._decode(text, None)
        refusal = frame if isinstance(frame, Refusal) else Refusal(
            "invalid_frame", f"{self.own.rules.state_path} is read-only; connect to "
            f"{self.own.rules.control_path} to identify and send commands")
        self.rejected[refusal.code] += 1
        conn.send(refusal.frame())

    def _identify_deadline(self, conn: Connection) -> None:
        if conn.role is None and not conn.closing:
            conn.kick(IDENTIFY_TIMEOUT)

    def _bind(self, conn: Connection) -> None:
        """One live connection per role: the newest identified one wins, the older is kicked."""
        role = conn.role
        assert role is not None
        old = self.controls.get(role)
        if old is not None and old is not conn:
            old.kick(self.own.rules.superseded_kick_reason)
        self.anonymous.discard(conn)
        self.controls[role] = conn

    def _deliver(self, conn: Connection, out: Outcome, kind: str | None) -> None:
        # A state reply (identify) that changed the state is carried by the broadcast itself.
        broadcast = out.changed and self.own.rules.broadcast_on_change
        later = []
        for reply in out.replies:
            if reply["type"] == "ack":
                later.append(reply)
            elif not (broadcast and reply["type"] == "state"):
                self._reply(conn, reply)
        if out.changed:
            self._publish(broadcast)
        for reply in later:
            self._reply(conn, reply, needs=reply["version"], kind=kind)

    def _reply(self, conn: Connection, frame: dict[str, Any], *, needs: int = -1,
               kind: str | None = None) -> None:
        """Send now, or once version `needs` is durable; never ahead of this connection's
        earlier replies that wait (a client matches replies to its commands in order)."""
        needs = max(needs, conn.waiting_for)
        if needs <= self.durable:
            conn.send(frame)
            return
        conn.waiting_for = needs
        self._waiting.append((needs, conn, frame, kind))

    def _state_frame(self) -> Outgoing:
        """The current state frame, serialised and framed once per version for every reader."""
        data = self.bus.state_bytes
        if self._state_out is None or self._state_of is not data:
            self._state_of = data
            self._state_out = Outgoing(b'{"type":"state","state":' + data + b"}")
        return self._state_out

    def _publish(self, broadcast: bool) -> None:
        """A new version: broadcast it at once (serialised once) and hand it to persistence."""
        if broadcast:
            self.broadcast()
        if self._commit is not None:
            self._commit.submit(self.bus.version, self.bus.state_bytes, self.bus.state)
        elif self.store is not None:  # no running loop yet (startup tick): write in place
            self.store.write(self.bus.state, self.bus.state_bytes)
            self.on_durable(self.bus.version, self.bus.state)
        else:
            self.on_durable(self.bus.version, self.bus.state)

    def broadcast(self) -> None:
        out = self._state_frame()
        for conn in [*self.controls.values(), *self.watchers]:
            conn.send(out)

    # -- durability ----------------------------------------------------------------------
    def on_durable(self, version: int, doc: dict[str, Any]) -> None:
        self.durable, self.durable_doc = version, doc
        while self._waiting and self._waiting[0][0] <= version:
            _, conn, frame, _ = self._waiting.popleft()
            conn.send(frame)

    def on_persist_failed(self, version: int, exc: BaseException) -> None:
        """Versions from `version` on could not be written: withdraw them (refuse their
        commands), go back to the last durable state and broadcast it."""
        message = (f"could not persist version {version}: {str(exc)[:300] or type(exc).__name__}; "
                   f"nothing applied")
        self.bus.restore(self.durable_doc)
        waiting, self._waiting = self._waiting, collections.deque()
        for _, conn, frame, kind in waiting:
            conn.waiting_for = -1
            if frame["type"] != "ack":
                conn.send(frame)
            elif kind == COMMAND_HEARTBEAT:
                conn.send(frames.ack(self.durable))
            else:
                self.rejected["internal_error"] += 1
                conn.send(Refusal("internal_error", message, conn.role).frame())
        if self.own.rules.broadcast_on_change:
            self.broadcast()

    # -- time ----------------------------------------------------------------------------
    def tick(self) -> Outcome | None:
        """Expire silent roles / an expired consent token now (the sweeper calls this too)."""
        out = self.bus.tick()
        if out is not None and out.changed:
            self._publish(self.own.rules.broadcast_on_change)
        return out

    async def _sweep_loop(self) -> None:
        interval = self.own.rules.heartbeat_interval_s
        while True:
            deadline = self.bus.next_deadline()
            delay = interval if deadline is None else deadline - self.clock.monotonic()
            await asyncio.sleep(min(interval, max(delay, interval / 20)))
            self.tick()

    async def flush(self) -> None:
        """Wait until every applied version is durable (and its acks sent)."""
        if self._commit is not None:
            await self._commit.idle.wait()

    async def close_all(self, reason: str = SERVER_SHUTDOWN) -> None:
        """Finish pending writes (their acks go out), tell every connection why it is being
        closed, then close it."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.flush(), self.own.limits.kick_grace_s * 5)
        conns = [*self.controls.values(), *self.anonymous, *self.watchers]
        for conn in conns:
            conn.kick(reason)
        await asyncio.gather(*(c.finish(self.own.limits.kick_grace_s) for c in conns))


class _Uvicorn(uvicorn.Server):
    """uvicorn, but connections hear `kicked: server_shutdown` before uvicorn closes them."""

    def __init__(self, config: uvicorn.Config, bus_server: BusServer) -> None:
        super().__init__(config)
        self.bus_server = bus_server

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await self.bus_server.close_all()
        await super().shutdown(sockets)


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket (port 0 picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not 0: asyncio turns Nagle off (TCP_NODELAY) only on sockets whose
    # proto says TCP, and accepted sockets inherit it. With Nagle on, an `ack` written after
    # a `state` waited for the client's delayed ACK: 40 ms for every command sent alone.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def make_uvicorn(bus_server: BusServer, *, log_level: str = "warning") -> _Uvicorn:
    # slow handshakes and idle connections are cut on the HTTP layer (service_connections.v1)
    config = guarded_config(bus_server.app, connection_limits(SERVICE_DIRECTOR_BUS), bus_server.slow_clients,
                            lifespan="on",
                            log_level=log_level, access_log=False, ws="websockets-sansio",
                            ws_per_message_deflate=False, ws_max_size=bus_server.own.limits.max_frame_bytes)
    return _Uvicorn(config, bus_server)


def serve(bus_server: BusServer, sock: socket.socket, *, log_level: str = "warning") -> None:
    """Run the bus on an already-bound socket until SIGINT / SIGTERM."""
    make_uvicorn(bus_server, log_level=log_level).run(sockets=[sock])


class ServerThread:
    """The bus on a loopback port in a background thread (tests, benchmarks, `send` smoke)."""

    def __init__(self, bus_server: BusServer, host: str = "127.0.0.1", port: int = 0) -> None:
        self.bus_server = bus_server
        self.sock = bind(host, port)
        self.host, self.port = self.sock.getsockname()[:2]
        self._server = make_uvicorn(bus_server)
        self._thread = threading.Thread(target=self._run, name="director-bus", daemon=True)

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def _run(self) -> None:
        asyncio.run(self._server.serve(sockets=[self.sock]))

    def start(self, timeout: float = 10.0) -> ServerThread:
        self._thread.start()
        deadline = threading.Event()
        for _ in range(int(timeout / 0.01)):
            if self._server.started:
                return self
            deadline.wait(0.01)
        raise RuntimeError("director bus did not start")

    def call(self, fn: Any, *args: Any, timeout: float = 10.0) -> Any:
        """Run `fn(*args)` on the server's event loop and return its result (awaited if a coroutine)."""
        async def run() -> Any:
            result = fn(*args)
            if asyncio.iscoroutine(result):
                result = await result
            return result
        assert self.bus_server.loop is not None
        return asyncio.run_coroutine_threadsafe(run(), self.bus_server.loop).result(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)
        self.sock.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

