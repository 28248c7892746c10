"""Contract diffs and the completion gate: how long the review and the gate take.

    python benches/bench_contract_diff.py [--rounds 5]

Figures, each against a baseline measured in the same run:
- `lume contracts diff` over every contract (a temporary git repository, one commit changing a
  shared definition so every contract that uses it is compared) vs only reading and parsing
  both versions of the contracts from git (the part no diff can skip);
- pattern inclusion (greenery automata) per changed `pattern` vs compiling both with `re`;
- gate preflight against three listening loopback ports, and against three closed ones
  (the fast failure), vs a bare `socket.create_connection` to one port.
Nothing here asserts on time.
"""
from __future__ import annotations

import argparse
import re
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from lume.runtime.completion._completion_gate import Mac4Target, preflight
from lume.runtime.core import contracts_dir
from lume.runtime.tooling import _contract_diff as contract_diff
from lume.runtime.tooling._schema_compat import pattern_inclusion


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=b", "-c", "user.email=b@b", *args],
                          capture_output=True, text=True, check=True).stdout.strip()


def _median_ms(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def bench_diff(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp)
        shutil.copytree(contracts_dir(), repo / "contracts", ignore=shutil.ignore_patterns("*.py", "*.md", "__pycache__"))
        _git(repo, "init", "-q", "-b", "main")
        _git(repo, "add", "-A")
        _git(repo, "commit", "-qm", "base")
        base = _git(repo, "rev-parse", "HEAD")
        common = repo / "contracts" / "common.v1.yaml"
        common.write_text(common.read_text().replace("    maximum: 1\n", "    maximum: 2\n", 1))
        _git(repo, "commit", "-qam", "wider unit")

        def parse_only() -> None:
            contract_diff._PARSED.clear()
            contract_diff.read_snapshot(repo, base)
            contract_diff.read_snapshot(repo, "HEAD")

        def full() -> None:
            contract_diff._PARSED.clear()
            contract_diff.diff_refs(repo, base, "HEAD")

        n = len(contract_diff.read_snapshot(repo, base))
        result = contract_diff.diff_refs(repo, base, "HEAD")
        base_ms, diff_ms = _median_ms(parse_only, rounds), _median_ms(full, rounds)
        print(f"contracts diff, {n} contracts, {len({r.contract for r in result.rows})} affected, "
              f"{len(result.rows)} rows:")
        print(f"  read + parse both versions from git (baseline): {base_ms:8.1f} ms")
        print(f"  full diff (read, parse, compare, judge):        {diff_ms:8.1f} ms  "
              f"= {diff_ms / base_ms:.2f}x the baseline")


def bench_patterns(rounds: int) -> None:
    pairs = [("^[a-z0-9]+(_[a-z0-9]+)*$", "^[a-z][a-z0-9]*(_[a-z0-9]+)*$"),
             ("^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$", "^[A-Za-z0-9][A-Za-z0-9._-]{0,255}$"),
             ("^SAFE-[A-Z0-9]+(-[A-Z0-9]+)*$", "^SAFE-[A-Z]+(-[A-Z0-9]+)*$")]

    def decide() -> None:
        for a, b in pairs:
            pattern_inclusion(a, b)

    def compile_only() -> None:
        for a, b in pairs:
            re.compile(a + " ")  # a fresh string each time: bypass re's cache
            re.compile(b + " ")

    base_ms, ms = _median_ms(compile_only, rounds), _median_ms(decide, rounds)
    print(f"pattern inclusion, {len(pairs)} changed patterns:")
    print(f"  compile both with re (baseline): {base_ms:8.3f} ms")
    print(f"  decide inclusion both ways:      {ms:8.3f} ms  = {ms / max(base_ms, 1e-6):.0f}x the baseline")


def _drain(listener: socket.socket) -> None:
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        conn.close()


def bench_preflight(rounds: int) -> None:
    listeners = [socket.socket() for _ in range(3)]
    for s in listeners:
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        # accept and drop, so the backlog never fills (a full backlog looks like a timeout)
        threading.Thread(target=_drain, args=(s,), daemon=True).start()
    up = [s.getsockname()[1] for s in listeners]
    closed_socks = [socket.socket() for _ in range(3)]
    for s in closed_socks:
        s.bind(("127.0.0.1", 0))
    down = [s.getsockname()[1] for s in closed_socks]
    for s in closed_socks:
        s.close()
    names = ("ssh", "bodytruth", "output_bridge")
    live = Mac4Target("127.0.0.1", dict(zip(names, up)))
    dead = Mac4Target("127.0.0.1", dict(zip(names, down)))

    def bare() -> None:
        socket.create_connection(("127.0.0.1", up[0]), timeout=2).close()

    base_ms = _median_ms(bare, rounds * 10)
    up_ms = _median_ms(lambda: preflight(live), rounds * 10)
    down_ms = _median_ms(lambda: preflight(dead), rounds * 10)
    for s in listeners:
        s.close()
    print("gate preflight on loopback (3 ports, probed at once):")
    print(f"  one bare TCP connect (baseline): {base_ms:8.3f} ms")
    print(f"  preflight, all listening:        {up_ms:8.3f} ms  = {up_ms / base_ms:.1f}x the baseline")
    print(f"  preflight, none listening:       {down_ms:8.3f} ms  = {down_ms / base_ms:.1f}x the baseline")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    bench_diff(args.rounds)
    bench_patterns(args.rounds)
    bench_preflight(args.rounds)


if __name__ == "__main__":
    main()
