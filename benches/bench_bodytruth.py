"""BodyTruth benchmark: fusion cost per tick, GET /body-truth latency under load, pose frames/s.

    python benches/bench_bodytruth.py [--seconds 5] [--rate 500]

Budgets (benches/README.md): fusion <= 100 us per tick; GET /body-truth p99 <= 5 ms at
500 requests/s on loopback; pose extraction >= 25 frames/s at 640x480. Every figure is printed
next to a baseline measured in the same run; nothing here asserts on time.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from pathlib import Path

import orjson

from lume.fixtures import load_scenario
from lume.runtime.bodytruth import Fusion
from lume.runtime.bodytruth._replay import merged
from lume.runtime.bodytruth._service import BodyTruthService, create_app, serving

REAL_MEDIA = Path(os.environ.get("LUME_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "real-media"


def _per_call_us(fn, n: int) -> float:
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n * 1e6


def bench_fusion() -> None:
    """Tick cost with a live three-source body (active_dancer), against serialising the frame."""
    observations, gestures = load_scenario("active_dancer")
    events = merged(observations, gestures)
    f = Fusion()
    t0 = events[0][0]
    for ts, kind, _, rec in events:  # warm state: the whole stream, ticking along
        (f._gesture if kind else f._observe)(rec)
    now = events[-1][0]
    frame = f.tick(now)
    n = 20000
    tick_us = _per_call_us(lambda: f.tick(now), n)
    json_us = _per_call_us(lambda: json.dumps(frame), n)
    orjson_us = _per_call_us(lambda: orjson.dumps(frame), n)
    obs = observations[len(observations) // 2]
    observe_us = _per_call_us(lambda: f.observe(obs), n)
    replay_start = time.perf_counter()
    from lume.runtime.bodytruth import replay

    frames = replay(observations, gestures)
    replay_us = (time.perf_counter() - replay_start) / len(frames) * 1e6
    print("fusion (active_dancer: depth + rgb + k11_pose, %d readings over %.1f s)"
          % (len(observations), (now - t0) / 1000))
    print(f"  tick                      {tick_us:8.1f} us   budget 100 us")
    print(f"  json.dumps(frame)         {json_us:8.1f} us   tick / json.dumps = {tick_us / json_us:.2f}x")
    print(f"  orjson.dumps(frame)       {orjson_us:8.1f} us   tick / orjson     = {tick_us / orjson_us:.1f}x")
    print(f"  observe (validate+store)  {observe_us:8.1f} us per observation")
    print(f"  replay incl. validation   {replay_us:8.1f} us per 33 ms tick ({len(frames)} frames)")


async def _load(url: str, rate: float, seconds: float, clients: int) -> tuple[list[float], float, int]:
    """Open-loop load at `rate` requests/s over `clients` keep-alive HTTP/1.1 connections.

    A small asyncio client (httpx's pool costs more CPU per request than the server under test,
    and both share this process). Latency runs from the request's scheduled time, so a client
    that falls behind shows up as latency instead of hiding it (no coordinated omission).
    """
    host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
    path = "/" + url.split("//", 1)[1].split("/", 1)[1]
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nOrigin: http://bench\r\n\r\n".encode()
    queue: asyncio.Queue[float | None] = asyncio.Queue()
    latencies: list[float] = []
    errors = 0

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, int(port))
        while (scheduled := await queue.get()) is not None:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:")))
            await reader.readexactly(length)
            latencies.append((time.perf_counter() - scheduled) * 1000)
            errors += not head.startswith(b"HTTP/1.1 200")
        writer.close()

    workers = [asyncio.create_task(worker()) for _ in range(clients)]
    for i in range(clients * 5):  # warm-up, not measured
        queue.put_nowait(time.perf_counter())
    while not queue.empty():
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    latencies.clear()
    start = time.perf_counter()
    total = int(rate * seconds)
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait(due)
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    return latencies, total / (time.perf_counter() - start), errors


def _asgi_us(app, path: str, n: int = 3000) -> float:
    """CPU cost of one GET through the ASGI app alone (no server, no socket)."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"bench"), (b"origin", b"http://bench")],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2)}

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        pass

    async def run(k: int) -> float:
        t = time.perf_counter()
        for _ in range(k):
            await app(dict(scope), receive, send)
        return time.perf_counter() - t

    asyncio.run(run(200))
    return asyncio.run(run(n)) / n * 1e6


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def bench_http(rate: float, seconds: float, clients: int) -> None:
    """GET /body-truth (service fed by a real-time replay) vs a constant-JSON ASGI app."""
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    observations, gestures = load_scenario("active_dancer")
    service = BodyTruthService()
    app = create_app(service, replay_events=merged(observations, gestures))
    body = orjson.dumps(service.fusion.tick(0))

    async def constant(request):  # the floor: same server, same payload size, no fusion
        return Response(body, media_type="application/json")

    baseline = Starlette(routes=[Route("/const", constant)])
    asgi = {name: _asgi_us(target, path) for name, target, path in
            (("baseline", baseline, "/const"), ("body-truth", create_app(BodyTruthService(), ticker=False), "/body-truth"))}
    print(f"ASGI app cost per GET, in process, no network: baseline {asgi['baseline']:.0f} us, "
          f"/body-truth {asgi['body-truth']:.0f} us ({asgi['body-truth'] / asgi['baseline']:.1f}x, ASGI fast path)")
    print(f"GET latency on loopback, uvicorn in a thread of this process, {rate:.0f} req/s open loop "
          f"for {seconds:.0f} s over {clients} keep-alive connections (service fed by a real-time replay)")
    results = {}
    for name, target, path in (("baseline constant JSON", baseline, "/const"), ("GET /body-truth", app, "/body-truth")):
        with serving(target) as base:
            lat, achieved, errors = asyncio.run(_load(base + path, rate, seconds, clients))
        results[name] = (_pct(lat, 50), _pct(lat, 99))
        print(f"  {name:24s} p50 {results[name][0]:6.2f} ms  p99 {results[name][1]:6.2f} ms  "
              f"({achieved:.0f} req/s offered, {len(lat)} requests, {errors} not 200)")
    (b50, b99), (p50, p99) = results["baseline constant JSON"], results["GET /body-truth"]
    print(f"  /body-truth vs baseline: p50 {p50 / b50:.2f}x  p99 {p99 / b99:.2f}x   budget p99 5 ms")


def bench_http_process(rate: float, seconds: float, clients: int) -> None:
    """The same load against `lume bodytruth serve` in its own process (no GIL shared with the client)."""
    import socket
    import subprocess
    import sys
    from importlib import resources

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    replay = Path(str(resources.files("lume.fixtures"))) / "scenarios" / "active_dancer.obs.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "lume.runtime.cli", "bodytruth", "serve", "--port", str(port),
                             "--replay", str(replay)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    print("  server process did not start; skipped")
                    return
                time.sleep(0.1)
        lat, achieved, errors = asyncio.run(_load(f"http://127.0.0.1:{port}/body-truth", rate, seconds, clients))
        print(f"  GET /body-truth (own process)  p50 {_pct(lat, 50):6.2f} ms  p99 {_pct(lat, 99):6.2f} ms  "
              f"({achieved:.0f} req/s offered, {len(lat)} requests, {errors} not 200)")
    finally:
        proc.terminate()
        proc.wait(10)


def bench_pose(passes: int) -> None:
    video = REAL_MEDIA / "video" / "jacky_dance.mp4"
    if not video.is_file():
        print(f"pose: skipped, real media not available ({video})")
        return
    try:
        from lume.runtime.pose import ObservationBuilder, PoseEstimator, load_deck_zones, open_capture
        from lume.runtime.pose._source import load_mediapipe_pose

        load_mediapipe_pose()
    except Exception as exc:  # noqa: BLE001 - any reason the extra is unusable
        print(f"pose: skipped, {exc}")
        return
    import cv2

    capture = open_capture(video, start_ms=0)
    frames = [(ts, f) for _, ts, f in capture.frames(size=(640, 480))]
    capture.close()
    t = time.perf_counter()
    for _ in range(passes):
        c = open_capture(video, start_ms=0)
        for _ in c.frames(size=(640, 480)):
            pass
        c.close()
    decode_fps = passes * len(frames) / (time.perf_counter() - t)
    builder = ObservationBuilder(load_deck_zones())
    with PoseEstimator(static=False) as est:
        est.landmarks(frames[0][1])  # graph warm-up
        detected = 0
        t = time.perf_counter()
        for p in range(passes):
            for ts, frame in frames:
                obs = builder.build(ts + p * 10_000, est.landmarks(frame))
                detected += obs["present"]
        elapsed = time.perf_counter() - t
    n = passes * len(frames)
    print(f"pose extraction at 640x480 (jacky_dance.mp4, {len(frames)} frames x {passes} passes, "
          f"MediaPipe full model, OpenCV {cv2.__version__})")
    print(f"  pose + observation        {n / elapsed:8.1f} frames/s   budget 25 frames/s   person in {detected}/{n}")
    print(f"  decode + resize only      {decode_fps:8.1f} frames/s   pose / decode = {(n / elapsed) / decode_fps:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rate", type=float, default=500.0)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--pose-passes", type=int, default=3)
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start "
          "(other work on the machine shows up in the latency tails)")
    bench_fusion()
    bench_http(args.rate, args.seconds, args.clients)
    bench_http_process(args.rate, args.seconds, args.clients)
    bench_pose(args.pose_passes)


if __name__ == "__main__":
    main()
