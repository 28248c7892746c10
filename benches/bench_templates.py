"""Template analyzer and promotion throughput over a synthetic Pose Coach session.

A tmp copy of the route-smoke bundle gets a recorded Pose Coach session of N clips (left /
right hand raises, safe stops, negative sways, 10 fps, 1.2 s clips and 2 s gaps) through the
real adapter. Timed, in one run: the baseline (orjson parsing training.jsonl alone), reading
and validating the same file into a stream, `build_templates` (windows, features, timeline
CSV and PNG), and `promote --command` (BodyTruth fusion + recogniser over every frame, one
fresh AirDeck gate per window, the combined dry run, the manifest load). Ratios are against
the baseline. Run: python benches/bench_templates.py [--clips N]
"""
from __future__ import annotations

import argparse
import copy
import json
import shutil
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import orjson

from lume.runtime.core import get
from lume.runtime.storage import add_pose_coach
from lume.runtime.templates import build_templates, promote
from lume.runtime.templates._streams import pose_coach

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "fixtures/route_smoke/_processed/20260528-weighted-freestyle-01"
POSE = BUNDLE / "sources/k11_pose_coach/20260528-192500"
T0 = 1_779_996_000_000
DOWN = {"left": {"x": 0.36, "y": 0.66, "confidence": 0.9}, "right": {"x": 0.64, "y": 0.66, "confidence": 0.9}}
UP_L = {"x": 0.24, "y": 0.2, "confidence": 0.92}
UP_R = {"x": 0.76, "y": 0.2, "confidence": 0.92}
KINDS = [("d1_play_pause", "promotion_candidate", {"left": UP_L, "right": DOWN["right"]}),
         ("d2_play_pause", "promotion_candidate", {"left": DOWN["left"], "right": UP_R}),
         ("bad_false_reactive", "negative", {"left": {"x": 0.3, "y": 0.4, "confidence": 0.9},
                                             "right": {"x": 0.7, "y": 0.42, "confidence": 0.9}})]


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def session(root: Path, clips: int) -> Path:
    folder = root / "20260528-200000"
    (folder / "metadata").mkdir(parents=True)
    shutil.copytree(POSE / "video", folder / "video")
    plan = [KINDS[i % len(KINDS)] for i in range(clips - 1)]
    plan.append(("safe_stop_rehearsal", "promotion_candidate", {"left": UP_L, "right": UP_R}))
    frames, infos, n, ts = [], [], 0, T0

    def frame(hands, label, kind, clip):
        nonlocal n, ts
        frames.append({"timestamp_ms": ts, "frame_index": n, "session_id": folder.name, "clip_index": clip,
                       "label": label, "clip_kind": kind, "recording": clip is not None,
                       "hand_cursors": copy.deepcopy(hands), "body_anchor": {"x": 0.5, "y": 0.45},
                       "body_box": {"x_min": 0.3, "y_min": 0.08, "x_max": 0.7, "y_max": 0.97},
                       "deck_zone": {"left_hand": None, "right_hand": None}, "person_confidence": 0.93})
        n, ts = n + 1, ts + 100

    for _ in range(20):
        frame(DOWN, "present_still", "calibration", None)
    for ci, (label, kind, hands) in enumerate(plan):
        first, start = n, ts
        for _ in range(12):
            frame(hands, label, kind, ci)
        infos.append({"clip_index": ci, "label": label, "clip_kind": kind, "start_frame": first,
                      "end_frame": n - 1, "start_ms": start, "end_ms": ts - 100})
        for _ in range(20):
            frame(DOWN, "present_still", "calibration", None)
    (folder / "metadata/training.jsonl").write_bytes(b"".join(orjson.dumps(f) + b"\n" for f in frames))
    manifest = json.loads((POSE / "manifest.json").read_text())
    manifest.update(session_id=folder.name, created_at=iso(T0), ended_at=iso(ts), clips=infos,
                    labels=sorted({c["label"] for c in infos} | {"present_still"}),
                    clip_count=len(infos), frame_count=len(frames))
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def timed(fn, repeat: int = 1):
    best = float("inf")
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=120)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        bundle = tmp / BUNDLE.name
        shutil.copytree(BUNDLE, bundle)
        add_pose_coach(bundle, session(tmp / "pc", args.clips), copy=True)
        training = bundle / "sources/k11_pose_coach/20260528-200000/metadata/training.jsonl"
        raw = training.read_bytes()
        frames = raw.count(b"\n")
        config = copy.deepcopy(next(e for e in get("machine_config.v1").examples if e["machine"] == "K11"))
        build_templates(bundle)  # warm-up: imports (matplotlib), contract caches

        base, _ = timed(lambda: [orjson.loads(line) for line in raw.splitlines()], 5)
        read, _ = timed(lambda: pose_coach(training, "k11_pose_coach_002", "t"), 3)
        build, result = timed(lambda: build_templates(bundle), 3)
        prom, pr = timed(lambda: promote(bundle, command=True, config=config), 1)
        windows = len(result.windows)
        print(f"session: {args.clips} clips, {frames} Pose Coach frames, {windows} labelled windows")
        print(f"baseline orjson parse         {frames / base:>10.0f} frames/s")
        print(f"read + validate stream        {frames / read:>10.0f} frames/s  ({base / read:.2f}x baseline)")
        print(f"build_templates (all outputs) {build * 1000:>10.1f} ms        ({base / build:.3f}x baseline)")
        print(f"promote --command             {prom * 1000:>10.1f} ms        ({base / prom:.3f}x baseline), "
              f"{frames / prom:.0f} frames/s, {len(pr.matrix['windows']) / prom:.0f} windows/s on the gate")
        print(f"promoted: {', '.join(pr.promoted) or 'nothing'}; dry run "
              f"{pr.candidates['dry_run']['verdict'] if pr.candidates['dry_run'] else '-'}")


if __name__ == "__main__":
    main()
