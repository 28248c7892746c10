"""Director bus: commands applied per second and state broadcast latency to 3 clients.

Each figure comes with a baseline measured in the same run:
- pure bus (no disk, with disk) vs a JSON round-trip of the same state document;
- commands over WebSocket vs the same pipelined traffic against a bare echo endpoint on the
  same Starlette/uvicorn stack (transport only, no validation, apply or persistence);
- broadcast latency (command sent -> `state` received by each of 3 watchers, p50/p99) vs a
  bare fan-out endpoint that forwards a state-sized frame to the same 3 watchers.

    python benches/bench_director.py [--commands N] [--disk-commands N] [--ws-commands N] [--rounds N]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Self

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import connect

from lume.runtime import core
from lume.runtime.director import _ownership as ownership
from lume.runtime.director import _state as st
from lume.runtime.director._bus import Bus
from lume.runtime.director._clock import FakeClock
from lume.runtime.director._persist import StateStore
from lume.runtime.director._server import BusServer, ServerThread, bind

RULES = ownership.load().rules


def cue(i: int) -> dict[str, Any]:
    return {"id": f"cue-{i}", "kind": "pose_hold", "payload": {"hold_s": 4, "pose": "arms_up", "n": i}}


def mixed(i: int) -> tuple[str, dict[str, Any]]:
    """A show-like mix: mostly cues, some phase / look / performer changes."""
    k = i % 4
    if k == 0:
        return "mac", {"type": "set_session_phase", "phase": "live" if i % 8 else "setup"}
    if k == 1:
        return "ipad", {"type": "set_performer_intent", "intent": "ready" if i % 2 else "hold"}
    if k == 2:
        return "ios", {"type": "set_look_active", "id": f"look_{i % 3 + 1}"}
    return "ios", {"type": "set_cue", "cue": cue(i)}


def fill_history(bus: Bus) -> None:
    """A full cue.history, as in the middle of a show."""
    for i in range(RULES.history_keep):
        bus.handle("ios", {"type": "set_cue", "cue": cue(-i - 1)})


def full_state(n_history: int) -> dict[str, Any]:
    bus = Bus(clock=FakeClock())
    for i in range(n_history):
        bus.handle("ios", {"type": "set_cue", "cue": cue(i)})
    return bus.state


def per_second(n: int, seconds: float) -> float:
    return n / seconds if seconds else float("inf")


def bench_json_roundtrip(doc: dict[str, Any], n: int) -> float:
    t = time.perf_counter()
    for _ in range(n):
        orjson.loads(orjson.dumps(doc))
    return per_second(n, time.perf_counter() - t)


def bench_atomic_write(doc: dict[str, Any], n: int, folder: Path) -> float:
    """Baseline for the persisted figures: the bare atomic write (temp, fsync, rename) of the state."""
    data = orjson.dumps(doc, option=orjson.OPT_INDENT_2)
    t = time.perf_counter()
    for i in range(n):
        core.write_bytes(folder / f"{i:012d}.json", data)
    return per_second(n, time.perf_counter() - t)


def bench_pure_bus(n: int, folder: Path | None) -> float:
    clock = FakeClock()
    store = None
    doc = None
    if folder is not None:
        store = StateStore(folder, clock=clock)
        doc, _ = store.load()
    bus = Bus(doc, clock=clock, on_commit=store.write if store else None)
    fill_history(bus)
    frames = [mixed(i) for i in range(n)]
    t = time.perf_counter()
    for role, frame in frames:
        assert bus.handle(role, frame).changed
    return per_second(n, time.perf_counter() - t)


# -- WebSocket --------------------------------------------------------------------------
class AppThread:
    """Any ASGI app on a loopback port in a thread (for the transport baselines)."""

    def __init__(self, app: Any) -> None:
        self.sock = bind("127.0.0.1", 0)
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", ws="websockets-sansio", ws_per_message_deflate=False,
                                lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve(sockets=[self.sock])),
                                       daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def baseline_app(state_text: str) -> Starlette:
    """/echo answers each frame with a tiny ack; /fanout forwards a state-sized frame to /watch."""
    watchers: set[WebSocket] = set()

    async def echo(ws: WebSocket) -> None:
        await ws.accept()
        try:
            while True:
                text = await ws.receive_text()
                orjson.loads(text)
                await ws.send_text('{"type":"ack","version":1}')
        except WebSocketDisconnect:
            return

    async def watch(ws: WebSocket) -> None:
        await ws.accept()
        watchers.add(ws)
        try:
            while True:
                await ws.receive_text()
        except WebSocketDisconnect:
            watchers.discard(ws)

    async def fanout(ws: WebSocket) -> None:
        await ws.accept()
        try:
            while True:
                n = orjson.loads(await ws.receive_text())["n"]
                text = state_text.replace('"type":"state"', f'"type":"state","seq":{n}', 1)
                await ws.send_text('{"type":"ack","version":1}')
                for w in list(watchers):
                    await w.send_text(text)
        except WebSocketDisconnect:
            return

    return Starlette(routes=[WebSocketRoute("/echo", echo), WebSocketRoute("/watch", watch),
                             WebSocketRoute("/fanout", fanout)])


async def _open(url: str) -> Any:
    return await connect(url, proxy=None, compression=None, max_size=None, max_queue=None)


async def pipelined(url: str, frames: list[str], identify: str | None) -> float:
    """Send every frame without waiting, then wait for every ack; frames per second."""
    ws = await _open(url)
    if identify:
        await ws.send(json.dumps({"type": "identify", "role": identify}))
        while json.loads(await ws.recv())["type"] != "state":
            pass
    t = time.perf_counter()
    for text in frames:
        await ws.send(text)
    acks = 0
    while acks < len(frames):
        frame = orjson.loads(await ws.recv())
        if frame["type"] == "ack":
            acks += 1
        elif frame["type"] == "error":
            raise RuntimeError(frame)
    elapsed = time.perf_counter() - t
    await ws.close()
    return per_second(len(frames), elapsed)


async def latency(send_url: str, watch_url: str, n: int, *, bus: bool) -> list[float]:
    """Send one command at a time; time until each of 3 watchers has the resulting state."""
    watchers = [await _open(watch_url) for _ in range(3)]
    if bus:
        for w in watchers:  # schema + initial state
            await w.recv(), await w.recv()
    sender = await _open(send_url)
    if bus:
        await sender.send(json.dumps({"type": "identify", "role": "ios"}))
        while json.loads(await sender.recv())["type"] != "state":
            pass
    await asyncio.sleep(0.05)
    samples: list[float] = []
    for i in range(n):
        t = time.perf_counter()
        if bus:
            await sender.send(json.dumps({"type": "set_cue", "cue": cue(i)}))
        else:
            await sender.send(json.dumps({"n": i}))

        def ours(frame: dict[str, Any], i: int = i) -> bool:  # skips other states (an identify)
            if bus:
                return (frame["state"]["cue"]["current"] or {}).get("id") == f"cue-{i}"
            return frame.get("seq") == i

        async def arrival(w: Any, t: float = t, ours: Any = ours) -> float:
            while True:
                frame = orjson.loads(await w.recv())
                if frame["type"] == "state" and ours(frame):
                    return time.perf_counter() - t

        samples += await asyncio.gather(*(arrival(w) for w in watchers))
        while orjson.loads(await sender.recv())["type"] != "ack":
            pass
    for ws in [*watchers, sender]:
        await ws.close()
    return samples


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(x: float) -> str:
    return f"{x * 1000:.3f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--commands", type=int, default=3000, help="commands for the in-memory bus")
    ap.add_argument("--disk-commands", type=int, default=300, help="commands with every version fsync'ed")
    ap.add_argument("--ws-commands", type=int, default=600, help="commands over WebSocket (persisted)")
    ap.add_argument("--rounds", type=int, default=200, help="commands timed for broadcast latency")
    args = ap.parse_args()
    n = args.commands
    doc = full_state(RULES.history_keep)
    size = len(orjson.dumps(doc))

    print(f"state document: {size} bytes (cue.history full: {RULES.history_keep} entries)")
    rt = bench_json_roundtrip(doc, n)
    pure = bench_pure_bus(n, None)
    with tempfile.TemporaryDirectory() as tmp:
        write = bench_atomic_write(doc, args.disk_commands, Path(tmp))
    with tempfile.TemporaryDirectory() as tmp:
        disk = bench_pure_bus(args.disk_commands, Path(tmp))
    print("commands applied per second")
    print(f"  baseline  JSON round-trip of the state (orjson)          {rt:9.0f} /s")
    print(f"  pure bus  in memory                                      {pure:9.0f} /s  ({pure / rt:.2f}x)")
    print(f"  baseline  atomic write of the state (temp+fsync+rename)  {write:9.0f} /s")
    print(f"  pure bus  every version persisted before it is applied   {disk:9.0f} /s  ({disk / write:.2f}x)")

    state_text = orjson.dumps({"type": "state", "state": doc}).decode()
    cues = [json.dumps({"type": "set_cue", "cue": cue(i)}) for i in range(args.ws_commands)]
    with AppThread(baseline_app(state_text)) as base:
        url = f"ws://127.0.0.1:{base.port}"
        echo = asyncio.run(pipelined(url + "/echo", cues, None))
        base_lat = asyncio.run(latency(url + "/fanout", url + "/watch", args.rounds, bus=False))
    ws: dict[str, tuple[float, list[float]]] = {}
    for label, persisted in (("in memory", False), ("persisted", True)):
        with tempfile.TemporaryDirectory() as tmp:
            server = BusServer(Path(tmp) if persisted else None, sweep=False)
            with ServerThread(server) as thread:
                thread.call(fill_history, server.bus)
                rate = asyncio.run(pipelined(thread.url + RULES.control_path, cues, "ios"))
                lat = asyncio.run(latency(thread.url + RULES.control_path, thread.url + RULES.state_path,
                                          args.rounds, bus=True))
                assert not st.problems(thread.call(getattr, server.bus, "state"))
        ws[label] = (rate, lat)
    print("commands over WebSocket (1 client, pipelined, ack per command)")
    print(f"  baseline  echo endpoint, same Starlette/uvicorn stack    {echo:9.0f} /s")
    for label, (rate, _) in ws.items():
        print(f"  bus       {label:<46} {rate:9.0f} /s  ({rate / echo:.2f}x)")
    print(f"state broadcast latency to 3 clients ({args.rounds} commands x 3 watchers, {size}-byte state)")
    b50, b99 = pct(base_lat, 0.5), pct(base_lat, 0.99)
    print(f"  baseline  bare fan-out of a state-sized frame   p50 {ms(b50)}  p99 {ms(b99)}")
    for label, (_, lat) in ws.items():
        p50, p99 = pct(lat, 0.5), pct(lat, 0.99)
        print(f"  bus       {label:<37} p50 {ms(p50)}  p99 {ms(p99)}  ({p50 / b50:.2f}x / {p99 / b99:.2f}x)")


if __name__ == "__main__":
    main()
