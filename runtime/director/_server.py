"""The director bus server: Starlette + uvicorn WebSocket endpoints around the pure bus.

Endpoints (paths from director_ownership.v2 `rules`):
- `control_path` (WebSocket): `schema` on connect; the client sends `identify`, then commands;
  the server answers `ack` / `error`, and sends `state` after identify and after every change.
  One live connection per role: a newer one wins, the older gets `kicked` and is closed.
- `state_path` (WebSocket, read-only): `schema` and `state` on connect, `state` after every change.
- `schema_path` (GET): the `schema` frame.

Every frame is handled synchronously on the event loop - parse, apply, persist, queue the
replies - with no await in between, so the loop itself serialises commands in receive order.
Each connection has its own outbound queue and writer task: a slow client never stalls the bus.
"""
from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Self

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from lume.generated.constants import COMMAND_IDENTIFY

from . import _frames as frames
from . import _ownership as own
from ._bus import Bus, Outcome
from ._clock import Clock, SystemClock
from ._consent import ConsentSigner
from ._ownership import Refusal
from ._persist import LoadReport, StateStore

SERVER_SHUTDOWN = "server_shutdown"  # director_frames.v2 KickReason for a stopping server
_CLOSE = object()


class Connection:
    """One WebSocket with an outbound queue drained by its own writer task."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self.role: str | None = None
        self.superseded = False  # kicked: frames still in flight from it are ignored
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._writer = asyncio.create_task(self._drain())

    def send(self, frame: dict[str, Any] | str) -> None:
        self._queue.put_nowait(frame if isinstance(frame, str) else frames.dumps(frame))

    def close(self) -> None:
        self._queue.put_nowait(_CLOSE)

    async def _drain(self) -> None:
        try:
            while True:
                item = await self._queue.get()
                if item is _CLOSE:
                    await self.ws.close()
                    return
                await self.ws.send_text(item)
        except Exception:  # noqa: BLE001 - the peer went away; the reader side cleans up
            return

    async def finish(self, timeout: float) -> None:
        """Let queued frames go out (bounded), then stop the writer."""
        self.close()
        try:
            await asyncio.wait_for(asyncio.shield(self._writer), timeout)
        except (TimeoutError, asyncio.CancelledError):
            self._writer.cancel()


class BusServer:
    """The bus, its persistence and its connections. `app` is the ASGI application."""

    def __init__(self, state_dir: Path | None = None, *, clock: Clock | None = None,
                 rules: own.Ownership | None = None, signer: ConsentSigner | None = None,
                 sweep: bool = True) -> None:
        self.own = rules or own.load()
        self.clock = clock or SystemClock()
        self.store: StateStore | None = None
        self.load_report: LoadReport | None = None
        doc = None
        if state_dir is not None:
            self.store = StateStore(state_dir, rules=self.own, clock=self.clock)
            doc, self.load_report = self.store.load()
            signer = signer or ConsentSigner.load_or_create(Path(state_dir))
        self.bus = Bus(doc, signer=signer, clock=self.clock, rules=self.own,
                       on_commit=self.store.write if self.store else None)
        self.controls: dict[str, Connection] = {}  # role -> its one live control connection
        self.anonymous: set[Connection] = set()  # control connections before identify
        self.watchers: set[Connection] = set()  # state_path subscribers
        self.sweep = sweep
        self.loop: asyncio.AbstractEventLoop | None = None
        self.app = self._build_app()

    @property
    def public_key_text(self) -> str:
        return self.bus.signer.public_key_text

    # -- ASGI ----------------------------------------------------------------------------
    def _build_app(self) -> Starlette:
        r = self.own.rules

        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            self.loop = asyncio.get_running_loop()
            task = asyncio.create_task(self._sweep_loop()) if self.sweep else None
            try:
                self.tick()  # a loaded state may hold expired roles or an expired token
                yield
            finally:
                if task:
                    task.cancel()
                await self.close_all()

        return Starlette(routes=[
            WebSocketRoute(r.control_path, self._control),
            WebSocketRoute(r.state_path, self._state),
            Route(r.schema_path, self._schema, methods=["GET"]),
        ], lifespan=lifespan)

    async def _schema(self, request: Request) -> JSONResponse:
        return JSONResponse(frames.schema(self.own.rules.schema_version))

    async def _control(self, ws: WebSocket) -> None:
        await ws.accept()
        conn = Connection(ws)
        self.anonymous.add(conn)
        conn.send(frames.schema(self.own.rules.schema_version))
        try:
            async for text in self._texts(conn):
                self.on_control_text(conn, text)
        finally:
            self.anonymous.discard(conn)
            if conn.role is not None and self.controls.get(conn.role) is conn:
                del self.controls[conn.role]
            await conn.finish(self.own.rules.heartbeat_interval_s)

    async def _state(self, ws: WebSocket) -> None:
        await ws.accept()
        conn = Connection(ws)
        conn.send(frames.schema(self.own.rules.schema_version))
        conn.send(frames.state(self.bus.state))
        self.watchers.add(conn)  # same loop step as the snapshot: no change can slip between
        try:
            async for text in self._texts(conn):
                self.on_state_text(conn, text)
        finally:
            self.watchers.discard(conn)
            await conn.finish(self.own.rules.heartbeat_interval_s)

    async def _texts(self, conn: Connection) -> AsyncIterator[str | None]:
        """Text frames of a connection until it closes (None for a binary frame)."""
        while True:
            try:
                message = await conn.ws.receive()
            except RuntimeError:  # receive after close
                return
            if message["type"] == "websocket.disconnect":
                return
            yield message.get("text")

    # -- frames --------------------------------------------------------------------------
    @staticmethod
    def _decode(text: str | None, role: str | None) -> Any | Refusal:
        if text is None:
            return Refusal("invalid_frame", f"frames are JSON text, not binary [{frames.CONTRACT}]", role)
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            return Refusal("invalid_frame", f"not valid JSON: {exc} [{frames.CONTRACT}]", role)

    def on_control_text(self, conn: Connection, text: str | None) -> None:
        if conn.superseded:
            return
        frame = self._decode(text, conn.role)
        if isinstance(frame, Refusal):
            conn.send(frame.frame())
            return
        out = self.bus.handle(conn.role, frame)
        if out.identified:
            self._bind(conn, out.identified)
        self._deliver(conn, out)

    def on_state_text(self, conn: Connection, text: str | None) -> None:
        frame = self._decode(text, None)
        if isinstance(frame, Refusal):
            conn.send(frame.frame())
            return
        if (isinstance(frame, dict) and frame.get("type") == COMMAND_IDENTIFY
                and not frames.frame_problems(frame)):
            conn.send(frames.state(self.bus.state))  # accepted for symmetry; binds nothing here
            return
        conn.send(Refusal("invalid_frame", f"{self.own.rules.state_path} is read-only; send commands "
                          f"on {self.own.rules.control_path}").frame())

    def _bind(self, conn: Connection, role: str) -> None:
        """One live connection per role: the newest wins, the older is kicked."""
        old = self.controls.get(role)
        if old is not None and old is not conn:
            old.superseded = True
            old.send(frames.kicked(self.own.rules.superseded_kick_reason))
            old.close()
        self.anonymous.discard(conn)
        self.controls[role] = conn
        conn.role = role

    def _deliver(self, conn: Connection, out: Outcome) -> None:
        # A state reply (identify) that changed the state is carried by the broadcast itself.
        broadcast = out.changed and self.own.rules.broadcast_on_change
        if out.reply is not None and not (broadcast and out.reply["type"] == "state"):
            conn.send(out.reply)
        if broadcast:
            self.broadcast()

    def broadcast(self) -> None:
        text = frames.dumps(frames.state(self.bus.state))
        for conn in [*self.controls.values(), *self.watchers]:
            conn.send(text)

    # -- time ----------------------------------------------------------------------------
    def tick(self) -> Outcome | None:
        """Expire silent roles / an expired consent token now (the sweeper calls this too)."""
        out = self.bus.tick()
        if out is not None and out.changed and self.own.rules.broadcast_on_change:
            self.broadcast()
        return out

    async def _sweep_loop(self) -> None:
        interval = self.own.rules.heartbeat_interval_s
        while True:
            deadline = self.bus.next_deadline()
            delay = interval if deadline is None else deadline - self.clock.monotonic()
            await asyncio.sleep(min(interval, max(delay, interval / 20)))
            self.tick()

    async def close_all(self, reason: str = SERVER_SHUTDOWN) -> None:
        """Tell every connection why it is being closed, then close it."""
        conns = [*self.controls.values(), *self.anonymous, *self.watchers]
        for conn in conns:
            conn.superseded = True
            conn.send(frames.kicked(reason))
        await asyncio.gather(*(c.finish(self.own.rules.heartbeat_interval_s) for c in conns))


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
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def make_uvicorn(bus_server: BusServer, *, log_level: str = "warning") -> _Uvicorn:
    config = uvicorn.Config(bus_server.app, lifespan="on", log_level=log_level, access_log=False,
                            ws="websockets-sansio", ws_per_message_deflate=False)
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
        """Run `fn(*args)` on the server's event loop and return its result."""
        async def run() -> Any:
            return fn(*args)
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
