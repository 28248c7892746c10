"""Benchmarks of `lume verify`, as ratios against baselines measured in the same run.

1. Bulk JSONL validation (lume.runtime.contracts.validate_file, what schema.conformance and
   `lume validate` run) on 100k body-observation lines, against parsing the same lines with
   orjson alone. Budget (benches/README.md): >= 0.8x. Also shown: the exact path alone
   (orjson + jsonschema-rs per line), which invalid files take to report every error.
2. Full verify vs quick re-verify of an unchanged root (the route-smoke fixtures plus a few
   large media files and the 100k-line JSONL in a processed bundle). Budget: quick >= 20x faster.

Run: python benches/bench_verify.py [--lines N] [--media-mib M]
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import orjson


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def observation_lines(n: int) -> bytes:
    from lume.runtime.core import get

    examples = get("body_observation.v1").examples
    out = []
    for i in range(n):
        doc = dict(examples[i % len(examples)])
        doc["timestamp_ms"] = doc["timestamp_ms"] + i * 16
        out.append(orjson.dumps(doc))
    return b"\n".join(out) + b"\n"


def bench_jsonl(work: Path, n: int) -> None:
    from lume.runtime.core import get, validate_file
    from lume.runtime.core._validate import validator

    path = work / "take.obs.jsonl"
    path.write_bytes(observation_lines(n))

    def parse_only():
        for line in path.read_bytes().splitlines():
            if line.strip():
                orjson.loads(line)

    def validate():
        r = validate_file(path)
        assert r.ok and r.documents == n, r.problems[:3]

    v = validator(get("body_observation.v1").stem)

    def exact():
        for line in path.read_bytes().splitlines():
            if line.strip():
                v.is_valid(orjson.loads(line))

    validate()  # warm caches (decoder compile, schema load)
    t_parse, t_valid, t_exact = best_of(parse_only), best_of(validate), best_of(exact)
    print(f"[jsonl] {n} body-observation lines ({path.stat().st_size / 2**20:.1f} MiB)")
    print(f"  orjson parse alone         {n / t_parse:>12,.0f} lines/s")
    print(f"  validate_file (lume)       {n / t_valid:>12,.0f} lines/s   ratio {t_parse / t_valid:.2f}x  (budget >= 0.8x)")
    print(f"  exact path (orjson + jsonschema-rs per line) {n / t_exact:,.0f} lines/s   ratio {t_parse / t_exact:.2f}x")


def bench_quick(work: Path, n: int, media_mib: int) -> None:
    from lume.verifiers._runner import default_root, run

    root = work / "root"
    shutil.copytree(default_root(), root)
    bundle = next((root / "_processed").iterdir())
    media = bundle / "derived" / "bench"
    media.mkdir(parents=True)
    chunk = os.urandom(1 << 20)
    for k in range(4):
        with open(media / f"take_{k}.mp4", "wb") as fh:
            for _ in range(media_mib // 4):
                fh.write(chunk)
    (media / "take.obs.jsonl").write_bytes(observation_lines(n))
    cache = work / "cache"
    total = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())

    def full():
        r = run(root, cache_folder=cache)
        assert r.context.cache.hashed == len(r.context.files)

    def quick():
        r = run(root, quick=True, cache_folder=cache)
        assert r.context.cache.hashed == 0

    t_full = best_of(full, 2)
    t_quick = best_of(quick, 3)
    print(f"[verify] root of {total / 2**20:.0f} MiB: route-smoke fixtures + {media_mib} MiB media + {n} JSONL lines")
    print(f"  full verify (re-hash, re-validate)  {t_full * 1000:>9.0f} ms  ({total / 2**20 / t_full:.0f} MiB/s)")
    print(f"  quick re-verify (unchanged root)    {t_quick * 1000:>9.0f} ms  speed-up {t_full / t_quick:.1f}x  (budget >= 20x)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--media-mib", type=int, default=256)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="lume-bench-verify-") as tmp:
        work = Path(tmp)
        os.environ["LUME_CACHE_DIR"] = str(work / "cache")
        bench_jsonl(work, args.lines)
        bench_quick(work, args.lines, args.media_mib)
    return 0


if __name__ == "__main__":
    sys.exit(main())
