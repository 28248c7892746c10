"""What strict verification of a signed report costs, as ratios against a baseline measured in
the same run.

Strict (`lume.runtime.core.read_envelope` + `verify_report`): the file read within its limits,
strict JSON (orjson, then the standard parser for duplicate keys, a depth bound), the shape of
dsse_envelope.v1, every trusted signature through libsodium, the payload parsed strictly and
the predicate validated against readiness_report.v2. Baseline: what a lax verifier does (orjson
parse of the envelope and the payload, one `cryptography` Ed25519 verify over the PAE, no
predicate validation). Reports of 1 000 and 100 000 subjects (a real storage root lists every
file). Also: one AirDeck gate decision with the live clock injected vs the dry-run gate.

Run: python benches/bench_signing.py [--subjects N ...]
"""
from __future__ import annotations

import argparse
import base64
import copy
import json
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


def report(n: int, key):
    from lume.runtime.core import get, now_iso, sign_report

    p = copy.deepcopy(get("readiness_report.v2").examples[0])
    p["generated_at"] = now_iso()
    subjects = [{"name": f"_processed/session-{i // 100:04d}/file-{i:06d}.bin",
                 "digest": {"sha256": f"{i:064x}"}} for i in range(n)]
    return sign_report(p, subjects, key)


def lax(path: Path, public: bytes) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from lume.runtime.core._signing import pae

    env = orjson.loads(path.read_bytes())
    payload = base64.b64decode(env["payload"])
    Ed25519PublicKey.from_public_bytes(public).verify(base64.b64decode(env["signatures"][0]["sig"]),
                                                      pae(env["payloadType"], payload))
    orjson.loads(payload)


def strict(path: Path, trust) -> None:
    from lume.runtime.core import read_envelope, verify_report

    verify_report(read_envelope(path), trust, max_age_s=3600)


def gate_per_event(n: int) -> tuple[float, float]:
    from lume.runtime.airdeck import Authority, DispatchGate, Rules
    from lume.runtime.core import get

    rules = Rules.from_contracts()
    now = time.time()
    base = copy.deepcopy(get("body_truth.v0").examples[3])
    t0 = int(now * 1000) - 500
    events = [{"timestamp_ms": t0 + i % 30, "source_id": "k11_webcam_pose", "machine": "K11",
               "label": "left_hand_raise", "confidence": 0.9, "deck": 1, "phase": "hold"} for i in range(n)]

    def run(clock):
        gate = DispatchGate(Authority("K11", True), rules, dry_run=clock is None, clock=clock)
        frame = dict(base, timestamp=t0 - 4)
        gate.observe(frame)
        for e in events:
            gate.decide(e)

    dry = best_of(lambda: run(None)) / n
    live = best_of(lambda: run(lambda: now)) / n
    return dry, live


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subjects", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    from lume.runtime.core import SigningKey

    key = SigningKey.generate()
    trust = [key.trust_entry()]
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.subjects:
            path = Path(tmp) / f"r{n}.json"
            path.write_text(json.dumps(report(n, key)))
            size = path.stat().st_size
            base = best_of(lambda: lax(path, key.public_bytes))
            full = best_of(lambda: strict(path, trust))
            print(f"report of {n:>7} subjects ({size / 1e6:6.1f} MB): lax {base * 1000:8.1f} ms, "
                  f"strict {full * 1000:8.1f} ms ({full / base:5.1f}x the lax baseline)")
    dry, live = gate_per_event(args.events)
    print(f"gate decision: dry run {dry * 1e6:6.2f} us, live with the clock {live * 1e6:6.2f} us "
          f"({live / dry:4.2f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
