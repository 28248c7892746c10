"""`lume validate` and CLI start-up as a user runs them (issue 19.1 and 19.4), each figure with a
baseline measured in the same run.

1. `lume validate FILE.jsonl` as a child process, per bulk contract (BodyTruth frames, Pose Coach
   records, Mac4 labels, storage index records, body observations), against a child process
   that only parses the same lines with orjson (budget: >= 0.8x orjson). Each file is built by
   repeating the contract's own examples (--lines N, default 200k) with every pattern-checked id
   made distinct per line (as in a real stream: session ids, frame paths, digests), and again at
   4x the lines: peak RSS at 1x and 4x shows whether memory is flat (budget: within 10 %).
   The two commands run in turn (orjson, lume, orjson, …) and each figure is the best of its
   runs, so a burst of load on the shared machine hits both alike; the ratio is printed for wall
   time and for CPU time (user + system of the child and its own children: on Linux lume
   decodes a file of 8 MiB or more in two processes, so its CPU ratio is below its wall ratio).
2. Start-up: `lume --help` and `lume validate small.json` against `python -c pass` (budget
   <= 0.15 s each), best of --repeat runs.

The interpreter's bytecode is compiled first (as an installed distribution has it): with
PYTHONDONTWRITEBYTECODE set every run would compile the sources again and measure that.
Prints figures and ratios; asserts nothing about time.

Run: python benches/bench_validate_cli.py [--lines 200000] [--repeat 7]
"""
from __future__ import annotations

import argparse
import compileall
import os
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import orjson

from lume.runtime.core._fastpath import matches_all

MEASURE = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
           "done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
           "wall = time.perf_counter() - t; u = resource.getrusage(resource.RUSAGE_CHILDREN); "
           "print(wall, u.ru_maxrss, done.returncode, u.ru_utime + u.ru_stime)")
PARSE = ("import orjson, sys\n"
         "with open(sys.argv[1], 'rb') as fh:\n"
         "    for line in fh:\n"
         "        if line.strip():\n"
         "            orjson.loads(line)\n")
LUME = [sys.executable, "-m", "lume.runtime.cli"]
CONTRACTS = ("body_truth.v0", "pose_coach_training_record.v1", "mac4_label_record.v1",
             "storage_index_record.v1", "body_observation.v1")
START_BUDGET_S = 0.15


def measured(*cmd: str) -> tuple[float, float, int, float]:
    """(wall seconds, peak RSS MiB, exit code, CPU seconds) of a command run as a child process."""
    out = subprocess.run([sys.executable, "-c", MEASURE, *cmd], capture_output=True, text=True,
                         check=True).stdout.split()
    return float(out[0]), int(out[1]) / 1024, int(out[2]), float(out[3])


def best(cmd: list[str], repeat: int) -> tuple[float, float, int]:
    runs = [measured(*cmd) for _ in range(repeat)]
    return min(r[0] for r in runs), max(r[1] for r in runs), runs[-1][2]


def best_in_turn(cmds: list[list[str]], repeat: int) -> list[tuple[float, float, int, float]]:
    """(best wall, peak RSS, last exit code, best CPU) of each command, the commands run in turn."""
    runs: list[list[tuple[float, float, int, float]]] = [[] for _ in cmds]
    for _ in range(repeat):
        for cmd, out in zip(cmds, runs):
            out.append(measured(*cmd))
    return [(min(r[0] for r in out), max(r[1] for r in out), out[-1][2], min(r[3] for r in out))
            for out in runs]


def _distinct(value: str, i: int, pattern: str) -> str:
    """`value` made distinct for line `i`, shaped to still match `pattern` (hex stays hex, a
    path keeps its folder and extension); `value` itself when no shape fits."""
    head, dot, ext = value.rpartition(".") if "/" in value else (value, "", "")
    hexed = len(value) == 64 and not value.strip("0123456789abcdef")
    for candidate in ((f"{i:064x}",) if hexed else (f"{head}-{i}{dot}{ext}", f"{value}_{i}", f"{value}{i}")):
        if matches_all(pattern)([candidate]):
            return candidate
    return value


def jsonl(stem: str, path: Path, n: int) -> None:
    """`n` lines: the contract's examples in turn (all valid), the strings its patterns check
    made distinct per line where the example stays valid, written in 1 MiB batches."""
    from lume.runtime.core import get, problems
    from lume.runtime.core._fastpath import decoder

    contract, fast = get(stem), decoder(stem)
    checked = [(fast.names(steps), pattern) for steps, pattern in fast.deferred] if fast else []
    varied = []  # per example: the (path, pattern) that can vary and keep it valid
    for doc in contract.examples:
        keep = [(p, pattern) for p, pattern in checked
                if _place(doc, p) and not problems(_with_distinct(doc, [(p, pattern)], 10**9), contract)]
        varied.append(keep)
    with open(path, "wb") as fh:
        batch = []
        for i in range(n):
            k = i % len(contract.examples)
            batch.append(orjson.dumps(_with_distinct(contract.examples[k], varied[k], i)) + b"\n")
            if len(batch) == 4096:
                fh.write(b"".join(batch))
                batch.clear()
        fh.write(b"".join(batch))


def _place(doc, path: tuple[str, ...]) -> dict | None:
    """The object holding the string at `path` in `doc`, or None."""
    parent = doc
    for key in path[:-1]:
        parent = parent.get(key) if isinstance(parent, dict) else None
    return parent if isinstance(parent, dict) and isinstance(parent.get(path[-1]), str) else None


def _with_distinct(doc: dict, varied, i: int) -> dict:
    doc = orjson.loads(orjson.dumps(doc))
    for path, pattern in varied:
        parent = _place(doc, path)
        if parent is not None:
            parent[path[-1]] = _distinct(parent[path[-1]], i, pattern)
    return doc


def bench_validate(work: Path, n: int, repeat: int) -> None:
    print(f"[validate] `lume validate FILE --contract C` vs an orjson line loop, both child processes "
          f"run in turn (best of {repeat}); budget >= 0.8x orjson, RSS at 4x the lines within 10 % of 1x")
    print(f"  {'contract':32} {'lines':>8} {'MiB':>5} {'orjson s':>9} {'lume s':>7} {'ratio':>6} "
          f"{'CPU ratio':>9}  {'RSS 1x':>7} {'RSS 4x':>7} {'4x/1x':>6}")
    for stem in CONTRACTS:
        figures = []
        for scale in (1, 4):
            path = work / f"{stem}.{scale}.jsonl"
            jsonl(stem, path, n * scale)
            parse, lume = best_in_turn([[sys.executable, "-c", PARSE, str(path)],
                                        [*LUME, "validate", str(path), "--contract", stem]],
                                       repeat if scale == 1 else 1)
            assert lume[2] == 0, f"{stem}: lume validate exited {lume[2]}"
            figures.append((parse, lume, path.stat().st_size / 2**20))
            path.unlink()
        (parse, lume, mib), (_, lume4, _) = figures
        ok = "" if parse[0] / lume[0] >= 0.8 else "  (under budget)"
        print(f"  {stem:32} {n:>8} {mib:>5.0f} {parse[0]:>9.2f} {lume[0]:>7.2f} {parse[0] / lume[0]:>5.2f}x "
              f"{parse[3] / lume[3]:>8.2f}x  {lume[1]:>6.0f}M {lume4[1]:>6.0f}M {lume4[1] / lume[1]:>5.2f}x{ok}")


def bench_start(work: Path, repeat: int) -> None:
    small = work / "small.json"
    small.write_bytes(orjson.dumps(__import__("lume.runtime.core", fromlist=["get"])
                                   .get("transport_manifest.v1").examples[0]))
    base, _, _ = best([sys.executable, "-c", "pass"], repeat)
    print(f"[start-up] best of {repeat}; baseline `python -c pass` {base:.3f} s; budget <= {START_BUDGET_S} s")
    for name, cmd in (("lume --help", [*LUME, "--help"]),
                      ("lume validate small.json", [*LUME, "validate", str(small)])):
        t, rss, code = best(cmd, repeat)
        assert code == 0, f"{name} exited {code}"
        verdict = "within" if t <= START_BUDGET_S else "OVER"
        print(f"  {name:26} {t:.3f} s  {t / base:5.1f}x python -c pass  {rss:.0f} MiB  ({verdict} budget)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    import lume.fixtures
    import lume.generated
    import lume.runtime
    import lume.verifiers

    packages = (lume.runtime, lume.verifiers, lume.generated, lume.fixtures)
    for folder in {sysconfig.get_paths()["purelib"], *(p for pkg in packages for p in pkg.__path__)}:
        compileall.compile_dir(folder, quiet=2, workers=2)
    with tempfile.TemporaryDirectory(prefix="lume-bench-validate-") as tmp:
        work = Path(tmp)
        bench_start(work, args.repeat)
        bench_validate(work, args.lines, max(1, args.repeat // 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
