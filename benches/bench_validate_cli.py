"""`lume validate` and CLI start-up as a user runs them (issue 19.1 and 19.4), each figure with a
baseline measured in the same run.

1. `lume validate FILE.jsonl` as a child process, per bulk contract (BodyTruth frames, Pose Coach
   records, Mac4 labels, storage index records, body observations), against a child process
   that only parses the same lines with orjson (budget: >= 0.8x orjson). Each file is built by
   repeating the contract's own examples (--lines N, default 200k) and again at 4x the lines:
   peak RSS at 1x and 4x shows whether memory is flat (budget: within 10 %).
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

MEASURE = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
           "done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
           "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, done.returncode)")
PARSE = ("import orjson, sys\n"
         "with open(sys.argv[1], 'rb') as fh:\n"
         "    for line in fh:\n"
         "        if line.strip():\n"
         "            orjson.loads(line)\n")
LUME = [sys.executable, "-m", "lume.runtime.cli"]
CONTRACTS = ("body_truth.v0", "pose_coach_training_record.v1", "mac4_label_record.v1",
             "storage_index_record.v1", "body_observation.v1")
START_BUDGET_S = 0.15


def measured(*cmd: str) -> tuple[float, float, int]:
    """(seconds, peak RSS MiB, exit code) of a command run as a child process."""
    out = subprocess.run([sys.executable, "-c", MEASURE, *cmd], capture_output=True, text=True,
                         check=True).stdout.split()
    return float(out[0]), int(out[1]) / 1024, int(out[2])


def best(cmd: list[str], repeat: int) -> tuple[float, float, int]:
    runs = [measured(*cmd) for _ in range(repeat)]
    return min(r[0] for r in runs), max(r[1] for r in runs), runs[-1][2]


def jsonl(stem: str, path: Path, n: int) -> None:
    """`n` lines: the contract's examples in turn (all valid), written in 1 MiB batches."""
    from lume.runtime.core import get

    lines = [orjson.dumps(e) + b"\n" for e in get(stem).examples]
    with open(path, "wb") as fh:
        batch = []
        for i in range(n):
            batch.append(lines[i % len(lines)])
            if len(batch) == 4096:
                fh.write(b"".join(batch))
                batch.clear()
        fh.write(b"".join(batch))


def bench_validate(work: Path, n: int, repeat: int) -> None:
    print(f"[validate] `lume validate FILE --contract C` vs an orjson line loop, both child processes "
          f"(best of {repeat}); budget >= 0.8x orjson, RSS at 4x the lines within 10 % of 1x")
    print(f"  {'contract':32} {'lines':>8} {'MiB':>6} {'orjson s':>9} {'lume s':>8} {'ratio':>6}  "
          f"{'RSS 1x':>7} {'RSS 4x':>7} {'4x/1x':>6}")
    for stem in CONTRACTS:
        figures = []
        for scale in (1, 4):
            path = work / f"{stem}.{scale}.jsonl"
            jsonl(stem, path, n * scale)
            t_parse, _, _ = best([sys.executable, "-c", PARSE, str(path)], repeat if scale == 1 else 1)
            t_lume, rss, code = best([*LUME, "validate", str(path), "--contract", stem],
                                     repeat if scale == 1 else 1)
            assert code == 0, f"{stem}: lume validate exited {code}"
            figures.append((t_parse, t_lume, rss, path.stat().st_size / 2**20))
            path.unlink()
        (t_parse, t_lume, rss1, mib), (_, _, rss4, _) = figures
        print(f"  {stem:32} {n:>8} {mib:>6.0f} {t_parse:>9.2f} {t_lume:>8.2f} {t_parse / t_lume:>5.2f}x  "
              f"{rss1:>6.0f}M {rss4:>6.0f}M {rss4 / rss1:>5.2f}x")


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
