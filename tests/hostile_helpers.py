"""Helpers of the hostile-input tests (issue 18): hang guards, loopback ports, the real process."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time


def returns_promptly(fn, *args, seconds: float = 60.0, **kwargs):
    """Run fn(*args) in a thread and hand back its result or exception: the hang guard of a
    reader that must never block (a guard against hanging forever, not a time budget)."""
    box: dict = {}

    def run():
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            box["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"{getattr(fn, '__name__', fn)} blocked on its input"
    if "error" in box:
        raise box["error"]
    return box.get("value")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lume(*args: str, **popen) -> subprocess.Popen:
    """`lume ARGS…` as its own process (the one that must stay up), output piped."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "lume.runtime.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)


def wait_udp_bound(port: int, proc: subprocess.Popen, seconds: float = 60.0) -> None:
    """Until the process holds the UDP port (a probe bind fails), or it ended."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return
        time.sleep(0.05)


def mutated(seeds, word):
    """A hypothesis strategy: a valid datagram from `seeds` with 1-4 structured mutations: a
    byte flipped, the tail cut, bytes inserted, or a 4-byte word from `word` written in (an
    element size, a float)."""
    from hypothesis import strategies as st

    @st.composite
    def build(draw):
        data = bytearray(draw(seeds))
        for _ in range(draw(st.integers(1, 4))):
            at = draw(st.integers(0, max(0, len(data) - 1)))
            action = draw(st.sampled_from(["flip", "cut", "insert", "word"]))
            if action == "flip" and data:
                data[at] ^= draw(st.integers(1, 255))
            elif action == "cut":
                del data[at:]
            elif action == "insert":
                data[at:at] = draw(st.binary(min_size=1, max_size=8))
            elif len(data) >= at + 4:
                data[at:at + 4] = draw(word)
        return bytes(data)
    return build()


def attack_udp_process(verb: list[str], datagrams: list[bytes], *, extra: tuple[str, ...] = ()
                       ) -> tuple[int, list[dict], bytes]:
    """Start `lume VERB --address 127.0.0.1:PORT --json EXTRA…` as its own process, send it
    `datagrams` once it holds the port, and hand back (exit code, its JSON lines, its stderr)."""
    import json

    port = free_udp_port()
    proc = lume(*verb, "--address", f"127.0.0.1:{port}", "--json", *extra)
    try:
        wait_udp_bound(port, proc)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for data in datagrams:
                s.sendto(data, ("127.0.0.1", port))
        out, err = proc.communicate(timeout=120)  # a hang guard, not a time budget
    finally:
        proc.kill()
    return proc.returncode, [json.loads(line) for line in out.splitlines()], err


# ------------------------------------------------------------------------------ slow clients
GUARD = 30.0  # a hang guard on every socket, never a time budget


def connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=GUARD)
    s.settimeout(GUARD)
    return s


def read_all(s: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    out = b""
    try:
        while chunk := s.recv(65536):
            out += chunk
    except ConnectionResetError:
        pass
    return out


def drip(s: socket.socket, data: bytes, pause: float = 0.05) -> bool:
    """Send `data` a byte at a time; False once the server has closed the connection."""
    for b in data:
        try:
            s.sendall(bytes([b]))
        except (BrokenPipeError, ConnectionResetError):
            return False
        time.sleep(pause)
    return True
