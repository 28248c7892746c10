"""AirDeck gate decision latency per event (budget, benches/README.md: p99 <= 0.2 ms).

A realistic 30 Hz stream (held left/right raises, flickers, a Mac4 detector, candidates,
presence drops) is decided event by event; each decision is timed on its own with
perf_counter_ns. Baseline, measured the same way in the same run: the cheapest possible
"gate", one dict lookup of the event's command rule and a threshold comparison. Also timed:
the decision plus its log line (to_record + JSON), and K11 pose recognition per observation.
Run: python benches/bench_airdeck.py [--events N]
"""
from __future__ import annotations

import argparse
import copy
import json
import statistics
import time

from lume.runtime.airdeck import Authority, DispatchGate, Recognizer, Rules
from lume.runtime.core import get

BUDGET_P99_MS = 0.2
T0 = 1_779_639_400_000


def stream(n: int) -> tuple[list[dict], list[dict]]:
    """n gesture events at 30 Hz with one BodyTruth frame before each."""
    base = get("body_truth.v0").examples[3]  # a gesture_confirmed frame
    lost = get("body_truth.v0").examples[2]  # tracking_lost
    patterns = [("left_hand_raise", 1, "k11_webcam_pose", "K11"),
                ("right_hand_raise", 2, "k11_webcam_pose", "K11"),
                ("right_hand_raise", 2, "mac4_mega_rgb", "Mac4"),
                ("scratch", 1, "k11_webcam_pose", "K11"),
                ("left_hand_raise", 1, "mac2_insta360_room_wide", "K11")]
    events, frames = [], []
    for i in range(n):
        ts = T0 + 33 * i
        label, deck, source, machine = patterns[(i // 45) % len(patterns)]
        phase = "start" if i % 45 == 0 else "release" if i % 45 == 44 else "hold"
        events.append({"timestamp_ms": ts, "source_id": source, "machine": machine, "label": label,
                       "confidence": 0.9, "deck": deck, "phase": phase})
        f = copy.deepcopy(lost if (i // 300) % 7 == 6 else base)
        f["timestamp"] = ts - 4
        if f["mode"] == "gesture_confirmed":
            f["gesture_intent"] = {"name": label, "confidence": 0.92, "deck": deck,
                                   "command": f"d{deck}_play_pause" if "raise" in label else None}
        frames.append(f)
    return events, frames


def percentiles(ns: list[int]) -> dict[str, float]:
    ms = sorted(x / 1e6 for x in ns)
    return {"p50": statistics.median(ms), "p99": ms[int(len(ms) * 0.99) - 1], "max": ms[-1],
            "mean": statistics.fmean(ms)}


def time_gate(events, frames, rules, *, log: bool) -> tuple[list[int], int]:
    gate = DispatchGate(Authority.simulated(rules), rules)
    out, dispatched = [], 0
    clock = time.perf_counter_ns
    for e, f in zip(events, frames):
        gate.observe(f)
        t = clock()
        d = gate.decide(e)
        if log:
            json.dumps(d.to_record(), separators=(",", ":"))
        out.append(clock() - t)
        dispatched += d.dispatched
    return out, dispatched


def time_baseline(events, rules) -> list[int]:
    commands = rules.commands
    gestures = {name: row["gesture"] or name for name, row in rules.index.rows.items()}
    out, clock = [], time.perf_counter_ns
    for e in events:
        t = clock()
        rule = commands.get(gestures.get(e["label"], ""))
        _ = rule is not None and e["confidence"] >= rule["threshold"]
        out.append(clock() - t)
    return out


def time_recognizer(n: int) -> list[int]:
    rec = Recognizer(machine="K11")
    out, clock = [], time.perf_counter_ns
    for i in range(n):
        up = (i // 30) % 2 == 0
        obs = {"timestamp_ms": T0 + 33 * i, "source": "k11_pose", "source_id": "k11_webcam_pose",
               "present": True, "confidence": 0.8,
               "hands": {"left": {"x": 0.2, "y": 0.1 if up else 0.6, "confidence": 0.9},
                         "right": {"x": 0.8, "y": 0.6, "confidence": 0.9}},
               "body_anchor": {"x": 0.5, "y": 0.33}}
        t = clock()
        rec.feed(obs)
        out.append(clock() - t)
    return out


def show(name: str, p: dict[str, float], base: dict[str, float] | None = None) -> None:
    ratio = f"  ({p['p50'] / base['p50']:.1f}x / {p['p99'] / base['p99']:.1f}x baseline p50/p99)" \
        if base else ""
    print(f"{name:<34} p50 {p['p50'] * 1000:7.2f} us  p99 {p['p99'] * 1000:7.2f} us  "
          f"max {p['max'] * 1000:8.2f} us  mean {p['mean'] * 1000:7.2f} us{ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    args = parser.parse_args()
    rules = Rules.from_contracts()
    events, frames = stream(args.events)
    time_gate(events[:2000], frames[:2000], rules, log=False)  # warm caches and the interpreter
    base = percentiles(time_baseline(events, rules))
    gate_ns, dispatched = time_gate(events, frames, rules, log=False)
    gate = percentiles(gate_ns)
    logged = percentiles(time_gate(events, frames, rules, log=True)[0])
    rec = percentiles(time_recognizer(args.events))
    print(f"AirDeck gate: {len(events)} events at 30 Hz, {dispatched} dispatched")
    show("baseline (dict lookup + compare)", base)
    show("gate.decide", gate, base)
    show("gate.decide + log line (JSON)", logged, base)
    show("recognizer.feed per observation", rec, base)
    verdict = "within" if gate["p99"] <= BUDGET_P99_MS else "OVER"
    print(f"budget: decision p99 <= {BUDGET_P99_MS} ms -> {gate['p99']:.4f} ms ({verdict} budget); "
          f"throughput ~{1000 / gate['mean']:.0f} decisions/s")


if __name__ == "__main__":
    main()
