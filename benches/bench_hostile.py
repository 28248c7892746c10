"""Memory under hostile input (issue 18): each service and reader as its own process, its peak
RSS under attack next to its peak RSS under ordinary input in the same run.

    python benches/bench_hostile.py [--body-mb 200] [--datagrams 20000]

- BodyTruth (`lume bodytruth serve`): valid POSTs vs a 200 MB body (by Content-Length and
  chunked), deep bodies, text/plain writes and clients that disconnect mid-body;
- SAN (`lume san listen`) and LUMF (`lume lumf inspect`): valid datagrams vs hostile ones (the
  -4 bundle element, deep nests, invalid UTF-8, oversized), with datagrams decoded per second;
- readers: `lume validate` of a small file vs a 3 GiB sparse JSONL, /dev/zero and a FIFO;
  `lume bodytruth replay` of a short take vs timestamps 0 and 1779639380013.
Limits come from input_limits.v1, body_truth_inputs.v0 and san_receiver.v1. Linux only (RSS
from /proc and wait4); nothing here asserts on time or memory.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LUME = [sys.executable, "-m", "lume.runtime.cli"]
T0 = 1_779_639_000_000


def _kib(field: str, pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _mb(kib: int) -> str:
    return f"{kib / 1024:7.1f} MB"


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_once(args: list[str]) -> tuple[int, int, float]:
    """(exit code, peak RSS KiB, seconds) of one short `lume` command."""
    t = time.perf_counter()
    proc = subprocess.Popen(LUME + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss, time.perf_counter() - t


class Served:
    """A long-running `lume` service process; its RSS is read while it runs."""

    def __init__(self, args: list[str], ready) -> None:
        self.proc = subprocess.Popen(LUME + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while not ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{args} did not start: {self.proc.stderr.read().decode()}")
            time.sleep(0.1)

    def rss(self) -> tuple[int, int]:
        return _kib("VmRSS", self.proc.pid), _kib("VmHWM", self.proc.pid)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> str:
        self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err.decode(errors="replace")


# ------------------------------------------------------------------------------ BodyTruth
def _post(port: int, headers: dict[str, str], body: bytes | None = None, *, chunked_mb: int = 0,
          cut: bool = False) -> int:
    """One raw HTTP/1.1 POST; the status code (0 when the server closed without one)."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        head = "POST /observations HTTP/1.1\r\nHost: bench\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        if chunked_mb:
            s.sendall((head + "Transfer-Encoding: chunked\r\n\r\n").encode())
            chunk = b" " * (1 << 20)
            try:
                for _ in range(chunked_mb):
                    s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
                s.sendall(b"0\r\n\r\n")
            except OSError:
                pass  # refused part-way: the server closed the connection
        else:
            s.sendall((head + f"Content-Length: {len(body) if not cut else len(body) * 100}\r\n\r\n").encode())
            try:
                s.sendall(body)
            except OSError:
                pass
            if cut:
                return 0
        try:
            line = s.recv(64).split(b"\r\n", 1)[0]
            return int(line.split()[1]) if line.startswith(b"HTTP/") else 0
        except (OSError, IndexError, ValueError):
            return 0


def bench_bodytruth(body_mb: int) -> None:
    port = _free_port(socket.SOCK_STREAM)

    def ready() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            return False

    svc = Served(["bodytruth", "serve", "--address", f"127.0.0.1:{port}"], ready)
    json_h = {"Content-Type": "application/json"}
    now = int(time.time() * 1000)
    valid = json.dumps([{"timestamp_ms": now, "source": "rgb", "source_id": "cam", "present": True,
                         "confidence": 0.9}] * 50).encode()
    for _ in range(300):
        _post(port, json_h, valid)
    base = svc.rss()
    print("BodyTruth service (peak RSS of `lume bodytruth serve`)")
    print(f"  after 300 valid batches of 50 observations       {_mb(base[0])}  (peak {_mb(base[1])})")
    statuses = {
        f"{body_mb} MB body by Content-Length": _post(port, json_h, b" " * (body_mb << 20)),
        f"{body_mb} MB chunked body": _post(port, json_h, chunked_mb=body_mb),
        "200 deep bodies (100k levels)": [_post(port, json_h, b"[" * 100_000 + b"]" * 100_000)
                                          for _ in range(200)][-1],
        "200 text/plain writes": [_post(port, {"Content-Type": "text/plain"}, valid) for _ in range(200)][-1],
        "200 future observations (a year ahead)": [_post(port, json_h, json.dumps(
            {"timestamp_ms": now + 365 * 86_400_000, "source": "rgb", "source_id": "cam", "present": True,
             "confidence": 0.9}).encode()) for _ in range(200)][-1],
        "200 clients gone mid-body": [_post(port, json_h, b"[" * 1000, cut=True) for _ in range(200)][-1],
    }
    hostile = svc.rss()
    for what, status in statuses.items():
        print(f"  {what:48s}  -> HTTP {status or '(closed)'}")
    print(f"  after every attack                                {_mb(hostile[0])}  (peak {_mb(hostile[1])})"
          f"   peak / baseline peak = {hostile[1] / base[1]:.2f}x")
    print(f"  still serving: {svc.alive() and ready()}")
    err = svc.stop()
    print(f"  tracebacks logged: {err.count('Traceback')}")


# ------------------------------------------------------------------------------ UDP receivers
def _bundle(*elements: bytes) -> bytes:
    return b"#bundle\x00" + bytes(7) + b"\x01" + b"".join(struct.pack(">i", len(e)) + e for e in elements)


def _udp(label: str, args: list[str], port: int, valid: bytes, hostile: list[bytes], n: int) -> None:
    def ready() -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return True
            return False

    svc = Served(args + ["--address", f"127.0.0.1:{port}", "--json", "--timeout", "600s"], ready)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)

        def send(batch: list[bytes]) -> float:
            cpu0 = _cpu(svc.proc.pid)
            for i in range(n):
                s.sendto(batch[i % len(batch)], ("127.0.0.1", port))
                if i % 200 == 199:
                    time.sleep(0.005)  # paced: measure decoding, not the kernel dropping a flood
            time.sleep(0.5)
            return (_cpu(svc.proc.pid) - cpu0) / n * 1e6 if n else 0.0

        per_valid = send([valid])
        base = svc.rss()
        per_hostile = send(hostile)
        after = svc.rss()
    print(f"{label} (peak RSS, CPU per datagram)")
    print(f"  {n} valid datagrams     {_mb(base[0])}  (peak {_mb(base[1])})  {per_valid:6.1f} us CPU each")
    print(f"  {n} hostile datagrams   {_mb(after[0])}  (peak {_mb(after[1])})  {per_hostile:6.1f} us CPU each"
          f"   peak ratio {after[1] / base[1]:.2f}x, CPU ratio {per_hostile / max(per_valid, 1e-9):.2f}x")
    print(f"  still listening: {svc.alive()}")
    err = svc.stop()
    print(f"  stderr while attacked: {len(err)} bytes")


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_san(n: int) -> None:
    from lume.runtime.san import encode

    good = encode("/san/cluster", 1)
    deep = good
    for _ in range(200):
        deep = _bundle(deep)
    hostile = [
        b"#bundle\x00" + bytes(8) + struct.pack(">i", -4) + good,  # the CPU spin of issue 18
        deep[:8000],
        b"/san/\xff\xfe\x00\x00,i\x00\x00" + bytes(4),
        b"#bundle\x00\x00\x00",
        bytes(9000),
        _bundle(*[good] * 200),
    ]
    _udp("SAN listener", ["san", "listen"], _free_port(socket.SOCK_DGRAM), good, hostile, n)


def bench_lumf(n: int) -> None:
    from lume.runtime.core import get

    golden = bytes.fromhex(get("lumf_golden.v1").table_data()["packets"][0]["hex"])
    hostile = [b"", golden[:-1], bytes(65_000), b"LUMG" + golden[4:], golden[:4] + b"\x00\x00\xc0\x7f" + golden[8:]]
    _udp("LUMF inspector", ["lumf", "inspect"], _free_port(socket.SOCK_DGRAM), golden, hostile, n)


# ------------------------------------------------------------------------------ file readers
def bench_readers() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        small = d / "small.obs.jsonl"
        small.write_text("".join(json.dumps({"timestamp_ms": T0 + 33 * i, "source": "rgb", "source_id": "cam",
                                             "present": True, "confidence": 0.9}) + "\n" for i in range(2000)))
        sparse = d / "huge.obs.jsonl"
        with sparse.open("wb") as fh:
            fh.truncate(3 << 30)
        fifo = d / "pipe.obs.jsonl"
        os.mkfifo(fifo)
        span = d / "span.obs.jsonl"
        span.write_text(json.dumps({"timestamp_ms": 0, "source": "rgb", "source_id": "cam", "present": True,
                                    "confidence": 0.9}) + "\n" + json.dumps(
            {"timestamp_ms": 1779639380013, "source": "rgb", "source_id": "cam", "present": True,
             "confidence": 0.9}) + "\n")
        rows = [
            ("validate a 2000-line JSONL (baseline)", ["validate", str(small)]),
            ("validate a 3 GiB sparse JSONL", ["validate", str(sparse)]),
            ("validate /dev/zero", ["validate", "/dev/zero"]),
            ("validate a FIFO", ["validate", str(fifo)]),
            ("airdeck rearm --lock-file /dev/zero", ["airdeck", "rearm", "--lock-file", "/dev/zero"]),
            ("bodytruth replay of 2000 readings (baseline)", ["bodytruth", "replay", "--json", str(small)]),
            ("bodytruth replay of timestamps 0 .. 1779639380013", ["bodytruth", "replay", "--json", str(span)]),
        ]
        print("file readers (one process each: exit code, peak RSS, wall time)")
        base = None
        for what, args in rows:
            code, peak, seconds = run_once(args)
            base = peak if "baseline" in what and "validate" in what else base
            ratio = f"   {peak / base:.2f}x the validate baseline" if base else ""
            print(f"  {what:50s} exit {code}  {_mb(peak)}  {seconds:6.2f} s{ratio}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--body-mb", type=int, default=200)
    ap.add_argument("--datagrams", type=int, default=20_000)
    args = ap.parse_args()
    if not Path("/proc/self/status").exists() or not hasattr(os, "wait4"):
        print("bench_hostile: needs Linux (/proc, wait4); skipped")
        return
    bench_readers()
    bench_san(args.datagrams)
    bench_lumf(args.datagrams)
    bench_bodytruth(args.body_mb)


if __name__ == "__main__":
    main()
