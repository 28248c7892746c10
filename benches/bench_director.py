"""Director bus: broadcast latency and throughput at 3 and 30 watchers, persistence, memory.

Run as a user runs it: the bus is `lume director serve` (a separate process, its state folder
on this machine's disk, every version persisted with group commit), the clients are this
process. Each figure comes with a baseline measured in the same run:
- broadcast latency (command sent -> the new `state` received by each watcher, p50/p99) and
  throughput (pipelined commands until every watcher holds the last state and every ack came
  back) at 3 and 30 watchers, vs a bare fan-out server on the same Starlette/uvicorn stack
  (a separate process too) that forwards a frame of the same size to the same watchers and
  acks, with no validation, apply or persistence; targets (issue 19): p99 <= 3 ms at 30
  watchers, throughput >= 0.5x the bare fan-out; beside them the CPU per command of server
  and clients (both runs are CPU-bound on shared cores: the throughput it predicts) and what
  the bus adds over the bare fan-out, of which its in-memory apply;
- the pure bus in memory vs a JSON round-trip of the state document;
- persistence: group commit (what the server does) vs one atomic write + fsync per version,
  and the fsync floor of this disk (p50/p99 of one durable batch of one version, at the lone
  commands' pace), which bounds the ack latency of a lone command (printed per watcher count:
  a command's ack waits until its version is durable; its broadcast does not);
- server memory: RSS of the bus process while a watcher that never reads is sent 1,000
  large states (it is kicked as a slow consumer) vs the same load with no stuck watcher.

    python benches/bench_director.py [--rounds N] [--pace S] [--pipelined N] [--watchers 3,30]
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from lume.runtime import core
from lume.runtime.director import _ownership as ownership
from lume.runtime.director._bus import Bus
from lume.runtime.director._clock import FakeClock
from lume.runtime.director._devices import Device, DeviceFile, DeviceKey
from lume.runtime.director._persist import StateStore

OWN = ownership.load()
RULES = OWN.rules
IOS = DeviceKey.generate("bench-ios")
P99_TARGET_S = 0.003  # issue 19: broadcast p99 at 30 watchers


def cue(i: int) -> dict[str, Any]:
    return {"id": f"cue-{i}", "kind": "pose_hold", "payload": {"hold_s": 4, "pose": "arms_up", "n": i}}


def big_cue(i: int) -> dict[str, Any]:
    return {"id": f"{i:0>128}", "kind": "capture", "payload": {f"k{j}": "v" * 128 for j in range(8)}}


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(x: float) -> str:
    return f"{x * 1000:7.3f} ms"


# -- in-process figures ---------------------------------------------------------------------
def full_bus(folder: Path | None = None) -> tuple[Bus, StateStore | None]:
    clock = FakeClock()
    store = StateStore(folder, clock=clock) if folder else None
    doc = store.load()[0] if store else None
    bus = Bus(doc, clock=clock, on_commit=store.write if store else None)
    for role in OWN.roles:
        bus.admit(role, f"{role}-1")
    for i in range(RULES.history_keep):
        bus.handle("ios", {"type": "set_cue", "cue": cue(-i - 1)})
    return bus, store


def bench_in_process(n: int, disk_n: int, pace: float, lone: int) -> float:
    """Print the in-process figures; returns the pure bus's seconds per command. The fsync floor
    is `lone` writes `pace` apart, as many as the lone commands whose ack it is compared with
    (this disk has outliers of tens of ms: a p99 of fewer writes would miss them)."""
    bus, _ = full_bus()
    doc = bus.state
    t = time.perf_counter()
    for _ in range(n):
        orjson.loads(orjson.dumps(doc))
    roundtrip = n / (time.perf_counter() - t)
    t = time.perf_counter()
    for i in range(n):
        bus.handle("ios", {"type": "set_cue", "cue": cue(i)})
    pure = n / (time.perf_counter() - t)
    print(f"state document: {len(bus.state_bytes)} bytes (cue.history full: {RULES.history_keep} entries)")
    print("commands applied per second, in process")
    print(f"  baseline  JSON round-trip of the state (orjson)             {roundtrip:9.0f} /s")
    print(f"  pure bus  in memory (validate, apply, check, serialise)     {pure:9.0f} /s  ({pure / roundtrip:.2f}x)")
    with tempfile.TemporaryDirectory(dir=Path.home()) as tmp:
        data = bus.state_bytes
        t = time.perf_counter()
        for i in range(disk_n):
            core.write_bytes(Path(tmp) / f"a{i:012d}.json", data)
        each = disk_n / (time.perf_counter() - t)
        store = StateStore(Path(tmp) / "group")
        store.load()
        versions = [(i + 1, data) for i in range(disk_n)]
        single = []
        # what a lone command waits for: one batch of one, at the pace the lone commands are
        # sent (a disk idle between two writes syncs slower than one written back to back)
        for v in range(1, lone + 1):
            t = time.perf_counter()
            store.write_batch([(v, data)])
            single.append(time.perf_counter() - t)
            time.sleep(pace)
        store.load()  # start the group figure from the same folder state
        batch = 32
        t = time.perf_counter()
        for i in range(0, disk_n, batch):
            store.write_batch(versions[i:i + batch])
        group = disk_n / (time.perf_counter() - t)
    print("versions made durable per second")
    print(f"  baseline  one atomic write + fsync per version              {each:9.0f} /s")
    print(f"  bus       group commit, batches of {batch} (one fsync a batch)   {group:9.0f} /s  ({group / each:.2f}x)")
    print(f"  fsync floor of this disk: one durable batch of one version (temp file, fsync, rename, fsync "
          f"of the folder), {len(single)} writes {pace * 1000:.0f} ms apart, p50 {ms(pct(single, .5))}  p99 {ms(pct(single, .99))}")
    return 1 / pure


# -- servers in their own processes --------------------------------------------------------
def baseline_app(state_text: str) -> Any:
    """/fanout acks each frame and forwards a state-sized frame to every /watch connection."""
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    watchers: set[WebSocket] = set()
    head, tail = state_text.rsplit('"version":', 1)
    tail = tail.split(",", 1)[1]

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
                text = f'{head}"version":{n},{tail}'
                await ws.send_text('{"type":"ack","version":%d}' % n)
                for w in list(watchers):
                    await w.send_text(text)
        except WebSocketDisconnect:
            return

    return Starlette(routes=[WebSocketRoute("/watch", watch), WebSocketRoute("/fanout", fanout)])


def serve_baseline(state_file: str) -> None:
    import uvicorn

    from lume.runtime.director._server import bind

    sock = bind("127.0.0.1", 0)
    print(sock.getsockname()[1], flush=True)
    app = baseline_app(Path(state_file).read_text())
    uvicorn.Server(uvicorn.Config(app, log_level="warning", ws="websockets-sansio",
                                  ws_per_message_deflate=False, lifespan="off")).run(sockets=[sock])


def start_baseline(state_text: str, tmp: Path) -> tuple[subprocess.Popen, str]:
    state_file = tmp / "state.json"
    state_file.write_text(state_text)
    proc = subprocess.Popen([sys.executable, __file__, "--baseline-server", str(state_file)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, f"ws://127.0.0.1:{proc.stdout.readline().strip()}"


def start_bus(tmp: Path) -> tuple[subprocess.Popen, str]:
    state = tmp / "bus"
    DeviceFile(state / OWN.identify.devices_file).enroll(
        Device(IOS.device_id, "ios", IOS.public_key, core.now_iso()))
    proc = subprocess.Popen([sys.executable, "-m", "lume.runtime.cli", "director", "serve", "--port", "0",
                             "--state-dir", str(state), "--json"], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    return proc, json.loads(proc.stdout.readline())["url"]


def cpu_s(pid: int | None = None) -> float:
    """User + system CPU seconds of process `pid` (Linux /proc; NaN elsewhere), or of this one."""
    if pid is None:
        t = os.times()
        return t.user + t.system
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# -- clients -------------------------------------------------------------------------------
async def _open(url: str) -> Any:
    from websockets.asyncio.client import connect

    return await connect(url, proxy=None, compression=None, max_size=None, max_queue=None)


def _version(text: str | bytes) -> int:
    """The top-level version of a state frame (the document's last keys: version, updated_at)."""
    if isinstance(text, bytes):
        text = text.decode()
    at = text.rfind('"version":')
    return int(text[at + 10:text.index(",", at)])


class Side:
    """The bus or the baseline, seen from the clients: a sender and N watchers."""

    def __init__(self, url: str, bus: bool) -> None:
        self.url, self.bus = url, bus

    async def sender(self) -> Any:
        if not self.bus:
            return await _open(self.url + "/fanout")
        ws = await _open(self.url + RULES.control_path)
        while (frame := orjson.loads(await ws.recv()))["type"] != "challenge":
            pass
        await ws.send(orjson.dumps(IOS.identify("ios", frame)).decode())
        while orjson.loads(await ws.recv())["type"] != "identified":
            pass
        return ws

    async def watcher(self) -> Any:
        ws = await _open(self.url + (RULES.state_path if self.bus else "/watch"))
        if self.bus:
            await ws.recv(), await ws.recv()  # schema, current state
        return ws

    def command(self, i: int) -> str:
        if self.bus:
            return orjson.dumps({"type": "set_cue", "cue": cue(i)}).decode()
        return orjson.dumps({"n": i}).decode()


async def _drain_acks(ws: Any, n: int) -> int:
    """Read until `n` acks came back; the version of the last one."""
    got, version = 0, -1
    while got < n:
        raw = await ws.recv()
        if raw.startswith('{"type":"ack"'):
            got += 1
            version = orjson.loads(raw)["version"]
        elif raw.startswith('{"type":"error"'):
            raise RuntimeError(raw)
    return version


async def _until(ws: Any, version: int) -> float:
    """Read a watcher until it holds `version`; when that state arrived."""
    while True:
        raw = await ws.recv()
        if raw.startswith('{"type":"state"') and _version(raw) >= version:
            return time.perf_counter()


async def measure(side: Side, watchers: int, rounds: int, pipelined: int, pace: float = 0.0,
                  server_pid: int | None = None
                  ) -> tuple[list[float], float, float, list[float], tuple[float, float]]:
    """Broadcast latency samples (one per watcher per command), for pipelined commands the
    broadcast rate (until every watcher holds the last state) and the acknowledged rate (until
    the last ack: for the bus, until the last version is durable), the ack latency of each
    command sent alone (for the bus: until it is durable), and the CPU seconds per pipelined
    command of the server process (all its threads) and of this one (sender and watchers)."""
    sender = await side.sender()
    subs = [await side.watcher() for _ in range(watchers)]
    version = 0
    if side.bus:  # a full history, as in the middle of a show
        for i in range(RULES.history_keep):
            await sender.send(side.command(-i - 1))
        version = await _drain_acks(sender, RULES.history_keep)
        await asyncio.gather(*(_until(w, version) for w in subs))
    samples: list[float] = []
    durable: list[float] = []
    for i in range(1, rounds + 1):
        target = version + i
        t = time.perf_counter()
        await sender.send(side.command(target))
        arrived = await asyncio.gather(*(_until(w, target) for w in subs))
        samples += [a - t for a in arrived]
        await _drain_acks(sender, 1)
        durable.append(time.perf_counter() - t)
        if pace:
            await asyncio.sleep(pace)
    # throughput: pipelined commands until every watcher holds the last and every ack is back
    last = version + rounds + pipelined
    server_cpu, client_cpu = cpu_s(server_pid) if server_pid else float("nan"), cpu_s()
    t = time.perf_counter()

    async def acked() -> float:
        await _drain_acks(sender, pipelined)
        return time.perf_counter()

    readers = asyncio.gather(acked(), *(_until(w, last) for w in subs))
    for target in range(version + rounds + 1, last + 1):  # the sender reads its replies meanwhile
        await sender.send(side.command(target))
        if target % 16 == 0:  # read replies meanwhile: a director that never reads is kicked
            await asyncio.sleep(0)
    ack_at, *held = await readers
    broadcast, acks = pipelined / (max(held) - t), pipelined / (ack_at - t)
    server_cpu = (cpu_s(server_pid) - server_cpu) / pipelined if server_pid else float("nan")
    client_cpu = (cpu_s() - client_cpu) / pipelined
    for ws in [sender, *subs]:
        await ws.close()
    return samples, broadcast, acks, durable, (server_cpu, client_cpu)


async def stuck_watcher_memory(url: str, pid: int, n: int, stuck: bool) -> tuple[float, float]:
    """RSS of the bus before and after `n` large commands, with a watcher that never reads."""
    side = Side(url, True)
    sender = await side.sender()
    sock = None
    if stuck:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", int(url.rsplit(":", 1)[1])))
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall((f"GET {RULES.state_path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade"
                      f"\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    await asyncio.sleep(0.2)
    before = rss_mib(pid)
    for i in range(n):
        await sender.send(orjson.dumps({"type": "set_cue", "cue": big_cue(i)}).decode())
        if i % 50 == 49:
            await _drain_acks(sender, 50)
    await _drain_acks(sender, n % 50)
    await asyncio.sleep(0.5)
    after = rss_mib(pid)
    await sender.close()
    if sock is not None:
        sock.close()
    return before, after


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=300, help="commands timed one at a time for latency")
    ap.add_argument("--pipelined", type=int, default=600, help="commands pipelined for throughput")
    ap.add_argument("--pace", type=float, default=0.05,
                    help="seconds between two commands timed for latency (directors send at human rates; "
                         "0: back to back, each right after the previous ack)")
    ap.add_argument("--watchers", default="3,30", help="watcher counts, comma-separated")
    ap.add_argument("--commands", type=int, default=3000, help="commands for the in-process figures")
    ap.add_argument("--disk-commands", type=int, default=256, help="versions for the persistence figures")
    ap.add_argument("--memory-commands", type=int, default=1000, help="large commands for the memory figure")
    ap.add_argument("--baseline-server", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.baseline_server:
        serve_baseline(args.baseline_server)
        return
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; servers run in their own processes")
    apply_s = bench_in_process(args.commands, args.disk_commands, args.pace, args.rounds)
    bus, _ = full_bus()
    state_text = '{"type":"state","state":' + bus.state_bytes.decode() + "}"
    counts = [int(x) for x in args.watchers.split(",")]
    with tempfile.TemporaryDirectory(dir=Path.home()) as tmp:
        rows = []
        for n in counts:
            base_proc, base_url = start_baseline(state_text, Path(tmp))
            bus_proc, bus_url = start_bus(Path(tmp) / f"w{n}")
            try:
                base = asyncio.run(measure(Side(base_url, False), n, args.rounds, args.pipelined, args.pace,
                                           base_proc.pid))
                ours = asyncio.run(measure(Side(bus_url, True), n, args.rounds, args.pipelined, args.pace,
                                           bus_proc.pid))
            finally:
                for proc in (base_proc, bus_proc):
                    proc.terminate()
                    proc.wait(10)
            rows.append((n, base, ours))
        print(f"state broadcast, persisted bus vs bare fan-out ({args.rounds} commands one at a time, "
              f"{args.pace * 1000:.0f} ms apart; {args.pipelined} pipelined; {len(state_text)}-byte state)")
        for n, (b_lat, b_rate, b_ack, _, b_cpu), (o_lat, o_rate, o_ack, o_durable, o_cpu) in rows:
            b50, b99, o50, o99 = pct(b_lat, .5), pct(b_lat, .99), pct(o_lat, .5), pct(o_lat, .99)
            print(f"  {n:>2} watchers  baseline  p50 {ms(b50)}  p99 {ms(b99)}  broadcast {b_rate:6.0f}/s  "
                  f"acked {b_ack:6.0f}/s")
            print(f"              bus       p50 {ms(o50)}  p99 {ms(o99)}  broadcast {o_rate:6.0f}/s  "
                  f"acked {o_ack:6.0f}/s (durable)")
            print(f"              ratio     p99 {o99 / b99:.2f}x, broadcast throughput {o_rate / b_rate:.2f}x "
                  f"(targets: p99 <= 3 ms at 30 watchers, >= 0.5x); acked {o_ack / b_ack:.2f}x")
            print(f"              bus ack of a lone command (durable: waits for its fsync) p50 "
                  f"{ms(pct(o_durable, .5))}  p99 {ms(pct(o_durable, .99))}")
            print(f"              CPU per pipelined command, server: baseline {b_cpu[0] * 1e6:4.0f} us, bus "
                  f"{o_cpu[0] * 1e6:4.0f} us (commit thread included); clients: baseline {b_cpu[1] * 1e6:4.0f} us, "
                  f"bus {o_cpu[1] * 1e6:4.0f} us (the sender gets each state too); {os.cpu_count()} cores shared")
            # Server and clients share this machine's cores and both runs keep them busy, so the
            # throughput ratio is about the ratio of CPU per command, server and clients summed:
            # what the bus adds over the bare fan-out, split into the pure bus's in-memory apply
            # (measured above) and the rest (durable commit, acks, the sender's copy of each state).
            b_all, o_all = sum(b_cpu), sum(o_cpu)
            cores = os.cpu_count() or 1
            print(f"              CPU-bound  predicted {cores / b_all:6.0f}/s vs {cores / o_all:6.0f}/s "
                  f"({b_all / o_all:.2f}x); the bus adds {(o_all - b_all) * 1e6:4.0f} us a command: its in-memory "
                  f"apply {apply_s * 1e6:4.0f} us, the rest durable commit, acks and the sender's copy of each state")
            if n >= 30 and b99 > P99_TARGET_S:
                print(f"              NOTE: the bare fan-out's own p99 ({ms(b99)}) is over the {P99_TARGET_S * 1000:.0f} ms "
                      f"target on this machine: the bus cannot broadcast faster than its transport")
        for label, stuck in (("baseline  no stuck watcher", False), ("bus       one watcher never reads", True)):
            proc, url = start_bus(Path(tmp) / f"mem{stuck}")
            try:
                before, after = asyncio.run(stuck_watcher_memory(url, proc.pid, args.memory_commands, stuck))
            finally:
                proc.terminate()
                proc.wait(10)
            print(f"  server RSS, {args.memory_commands} large states  {label:<34} {before:6.1f} -> {after:6.1f} MiB")


if __name__ == "__main__":
    main()
