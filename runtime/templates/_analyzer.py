"""The template analyzer (seed 000, Wave 6): `build_templates(bundle_dir)`.

Reads, from a rehearsal bundle, the Mac4 Tier 0 marker labels, every K11 Pose Coach
`training.jsonl` it can see, MotionMix state, Mac5 SAM3D frames, and optional recorded
BodyTruth frames and pose observations given by the caller; validates every line against its
contract; and writes into `derived/templates/` (names from bundle_layout.v1):
`gesture_windows.jsonl` (gesture_window.v1), `gesture_templates.json` (gesture_templates.v1),
`timeline.csv`, `timeline.png` and `session_summary.md`. Everything is built and validated in
memory first and then written atomically, so bad input writes nothing; the same inputs give
the same bytes (no wall-clock time in any output). Sources are only read
(SAFE-SOURCES-IMMUTABLE).
"""
from __future__ import annotations

import hashlib
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lume.generated.constants import INPUT_HASHED_FILE
from lume.runtime.core import (
    InputError,
    LabelIndex,
    dumps,
    get,
    hash_input,
    problems,
    read_json,
    rfc3339,
    write_bytes,
    write_text,
)
from lume.runtime.storage import register_derived

from . import _bundle as layout
from . import _policy as policy
from . import _streams as streams
from . import _timeline as timeline
from ._bundle import Bundle
from ._streams import Stream
from ._windows import Labelled, mac4_windows, pose_coach_windows, stats, window_records

SCHEMA = "lume.templates.gesture_templates.v1"
TEMPLATES = "gesture_templates.v1"
WINDOW = "gesture_window.v1"
WINDOW_ID = "lume:contract:gesture_window:v1"
TEMPLATES_ID = "lume:contract:gesture_templates:v1"
FOLDER = layout.folder("derived", "templates")
WINDOWS_FILE = layout.derived_file("templates", WINDOW_ID)
TEMPLATES_FILE = layout.derived_file("templates", TEMPLATES_ID)
TIMELINE_CSV = f"{FOLDER}/timeline.csv"
TIMELINE_PNG = f"{FOLDER}/timeline.png"
SUMMARY = f"{FOLDER}/session_summary.md"


@dataclass
class TemplatesResult:
    bundle_dir: Path
    bundle_id: str
    windows: list[dict[str, Any]]
    document: dict[str, Any]
    written: dict[str, bool] = field(default_factory=dict)  # path -> changed
    notes: list[str] = field(default_factory=list)

    @property
    def templates(self) -> list[dict[str, Any]]:
        return self.document["templates"]

    def summary(self) -> dict[str, Any]:
        return {"bundle_id": self.bundle_id, "bundle_dir": str(self.bundle_dir),
                "windows": len(self.windows),
                "templates": {t["label"]: t["count"] for t in self.templates},
                "written": self.written, "notes": self.notes}


# ------------------------------------------------------------------------------ reading
@dataclass
class Evidence:
    """Everything read from a bundle: labelled windows before features, and the streams."""

    bundle: Bundle
    labelled: list[Labelled]
    streams: list[Stream]
    inputs: list[dict[str, Any]]
    notes: list[str]


def _check(doc: Any, stem: str, where: str) -> None:
    found = problems(doc, get(stem), file=where)
    if found:
        raise InputError("; ".join(str(p) for p in found[:3]))


def read_evidence(bundle_dir: Path, *, body_truth: Path | None = None,
                  pose: Path | None = None) -> Evidence:
    """Read and validate every evidence stream of the bundle (InputError on bad input)."""
    b = Bundle.open(bundle_dir)
    notes = b.notes
    labelled: list[Labelled] = []
    found: list[Stream] = []
    inputs: list[dict[str, Any]] = []

    for entry in b.sources_of("long_take_video"):
        folder = b.source_folder(entry)
        rel = entry.get("labels_path") or layout.layout_file("sources", "mac4_tier0", layout.MAC4_LABELS)
        if folder is None or not (folder / rel).is_file():
            notes.append(f"{entry['source_id']}: labels file {rel} is not in this bundle; no marker windows")
            continue
        path = folder / rel
        records, lines, digest = streams.read_records(path, "mac4_label_record.v1")
        shown = b.rel(path)
        inputs.append({"kind": "mac4_labels", "source_id": entry["source_id"], "path": shown,
                       "sha256": digest, "records": len(records)})
        labelled += mac4_windows(records, lines, source_id=entry["source_id"], path=shown,
                                 start_unix=entry.get("start_unix"),
                                 duration_s=entry.get("duration_s"), notes=notes)

    for entry in b.sources_of("guided_pose_clip"):
        session = b.pose_coach_folder(entry)
        if session is None:
            notes.append(f"{entry['source_id']}: Pose Coach session {entry.get('session_id')} is kept "
                         f"as a reference ({entry['manifest_path']}) and is not readable here")
            continue
        path = session / entry["training_jsonl_path"]
        s = streams.pose_coach(path, entry["source_id"], b.rel(path))
        found.append(s)
        inputs.append(s.input_ref())
        labelled += pose_coach_windows(s)

    for entry in b.sources_of("motionmix_state"):
        folder = b.source_folder(entry)
        rel = layout.layout_file("sources", layout.source_key("motionmix_state"), layout.MOTIONMIX)
        if folder is None or not (folder / rel).is_file():
            notes.append(f"{entry['source_id']}: {rel} is not in this bundle")
            continue
        s = streams.motionmix(folder / rel, entry["source_id"], b.rel(folder / rel))
        found.append(s)
        inputs.append(s.input_ref())

    frames = b.path / layout.derived_file("sam3d", layout.SAM3D_FRAMES)
    if frames.is_file():
        sam = _sam3d_source(b)
        if sam is None:
            notes.append(f"{b.rel(frames)}: no start time for the reconstructed source; SAM3D frames unused")
        else:
            s = streams.sam3d(frames, sam[0], b.rel(frames), sam[1])
            found.append(s)
            inputs.append(s.input_ref())

    span = session_span(b, labelled, found)
    for path, kind, read in ((body_truth, "body_truth", streams.body_truth),
                             (pose, "pose", streams.pose)):
        if path is None:
            continue
        if not Path(path).is_file():
            raise InputError(f"{path}: no such file ({kind} stream)")
        s = read(Path(path), kind, b.rel(Path(path)))
        away = outside(s, span, float(policy.analyzer()["timeline_gap_s"]))
        if away is not None:  # e.g. a file of another day: it would spread the axis over days
            notes.append(f"warning: {s.path} ({kind}) is not used: it {away}")
            continue
        found.append(s)
        inputs.append(s.input_ref())
    return Evidence(b, labelled, found, inputs, notes)


def session_span(b: Bundle, labelled: list[Labelled], found: list[Stream]) -> tuple[float, float] | None:
    """The session's time span: its sources' recorded start and duration, its labelled windows
    and the streams read from inside the bundle; None when nothing in the bundle says."""
    ends: list[float] = []
    for entry in b.doc.get("sources") or []:
        start = entry.get("start_unix")
        if isinstance(start, (int, float)):
            ends += [float(start), float(start) + float(entry.get("duration_s") or 0)]
    ends += [x for w in labelled for x in (w.start, w.end)]
    ends += [float(x) for s in found if len(s) for x in (s.t[0], s.t[-1])]
    return (min(ends), max(ends)) if ends else None


def outside(s: Stream, span: tuple[float, float] | None, slack_s: float) -> str | None:
    """Why a stream given from outside the bundle lies outside the session (its offset), or None.
    `slack_s` is the timeline gap: an input further away would be a segment of its own."""
    if span is None or not len(s):
        return None
    first, last = float(s.t[0]), float(s.t[-1])
    if last < span[0] - slack_s:
        return (f"ends {span[0] - last:.1f} s before the session starts ({rfc3339(last)} < "
                f"{rfc3339(span[0])})")
    if first > span[1] + slack_s:
        return (f"starts {first - span[1]:.1f} s after the session ends ({rfc3339(first)} > "
                f"{rfc3339(span[1])})")
    return None


def _sam3d_source(b: Bundle) -> tuple[str, float] | None:
    """(source id, start Unix seconds) of the source the SAM3D frames were sampled from."""
    source_id = None
    summary = b.path / layout.derived_file("sam3d", layout.SAM3D_SUMMARY)
    if summary.is_file():
        doc = read_json(summary)
        _check(doc, "sam3d_summary.v1", str(summary))
        source_id = doc["source_id"]
    if source_id is None:
        source_id = next((d["source_id"] for d in b.doc["derived"] if d.get("derived_type") == "sam3d"), None)
    if source_id is None:
        takes = b.sources_of("long_take_video")
        source_id = takes[0]["source_id"] if takes else None
    entry = b.source(source_id) if source_id else None
    if entry is None or entry.get("start_unix") is None:
        return None
    return source_id, float(entry["start_unix"])


# ------------------------------------------------------------------------------ templates
def templates(windows: list[dict[str, Any]], max_examples: int) -> list[dict[str, Any]]:
    by_label: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for w in windows:
        by_label[w["label"]].append(w)
    out = []
    for label in sorted(by_label):
        ws = by_label[label]
        first = ws[0]
        feats: dict[str, list[float]] = defaultdict(list)
        for w in ws:
            for name, value in w["features"].items():
                feats[name].append(value)
        out.append({
            "label": label, "category": first["category"], "lane": first["lane"],
            "promotion_status": first["promotion_status"], "command": first["command"],
            "dispatch_label": first["dispatch_label"], "count": len(ws),
            "sources": dict(sorted(Counter(w["source_id"] for w in ws).items())),
            "clip_kinds": dict(sorted(Counter(w["clip_kind"] for w in ws if w["clip_kind"]).items())),
            "duration_s": stats([w["duration_s"] for w in ws]),
            "features": {name: stats(v) for name, v in sorted(feats.items())},
            "examples": [{"window_id": w["window_id"], "start_unix": w["start_unix"],
                          "end_unix": w["end_unix"]} for w in ws[:max_examples]],
        })
    return out


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _summary(ev: Evidence, doc: dict[str, Any], windows: list[dict[str, Any]]) -> str:
    b = ev.bundle
    v, c = policy.visual(), policy.command()
    lines = [f"# Session summary: {b.bundle_id}", "",
             f"Built by `lume templates build` from `bundle.json` (sha256 `{b.sha256}`), "
             f"policy `{doc['policy']['id']}`. Times count from the session origin "
             f"{rfc3339(doc['origin_unix'])} (Unix {doc['origin_unix']}).", "",
             "![timeline: labelled windows by lane and motion energy](timeline.png)", "",
             "## Evidence read", "", "| kind | source | file | records |", "|---|---|---|---|"]
    lines += [f"| {i['kind']} | {i['source_id']} | `{i['path']}` | {i['records']} |" for i in doc["inputs"]]
    if not doc["inputs"]:
        lines.append("| - | - | nothing readable | 0 |")
    lines += ["", "## Windows per label", "",
              "| label | lane | category | status | windows | sources | mean duration (s) | mean motion energy |",
              "|---|---|---|---|---|---|---|---|"]
    for t in doc["templates"]:
        energy = t["features"].get("motion_energy")
        lines.append(f"| {t['label']} | {t['lane']} | {t['category']} | {t['promotion_status']} | "
                     f"{t['count']} | {', '.join(f'{k} ({n})' for k, n in t['sources'].items())} | "
                     f"{t['duration_s']['mean']} | {energy['mean'] if energy else '-'} |")
    if not doc["templates"]:
        lines.append("| - | - | - | - | 0 | - | - | - |")
    counts = Counter(w["label"] for w in windows)
    physical: Counter[str] = Counter(w["dispatch_label"] for w in windows
                                     if w["dispatch_label"] and w["clip_kind"] in c["example_clip_kinds"])
    lines += ["", "## First targets", ""]
    for t in v["targets"]:
        n = counts.get(t["label"], 0)
        lines.append(f"- visual `{t['label']}` -> {t['effect']}: {n} window(s) "
                     f"(visual promotion needs {v['min_examples']}; `lume promote --visual`)")
    for label in c["first_targets"]:
        lines.append(f"- AirDeck `{label}`: {physical.get(label, 0)} physical example clip(s) "
                     f"(command promotion needs {c['min_physical_examples']}, a clean proof matrix "
                     "and a green gate dry run; `lume promote --command`)")
    lines += ["", "## Outputs", ""]
    lines += [f"- `{o['path']}` sha256 `{o['sha256']}`" for o in doc["outputs"]]
    lines += [f"- `{TEMPLATES_FILE}`",
              f"- `{TIMELINE_CSV}` columns: {', '.join(doc['timeline']['columns'])}; "
              f"{doc['timeline']['rows']} rows of {doc['timeline']['bin_s']} s in "
              f"{len(doc['timeline']['segments'])} segment(s)"]
    if doc["notes"]:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in doc["notes"]]
    return "\n".join(lines) + "\n"


def build_templates(bundle_dir: Path, *, body_truth: Path | None = None,
                    pose: Path | None = None) -> TemplatesResult:
    """Analyze a bundle and write derived/templates/ (InputError on bad input, nothing written)."""
    ev = read_evidence(bundle_dir, body_truth=body_truth, pose=pose)
    b, a = ev.bundle, policy.analyzer()
    index = LabelIndex.load()
    starts = [w.start for w in ev.labelled] + [float(s.t[0]) for s in ev.streams if len(s)]
    origin = min(starts) if starts else float(b.doc["created_at_unix"])
    windows = window_records(ev.labelled, ev.streams, index, origin=origin,
                             context_s=float(a["point_marker_context_s"]),
                             energy_order=list(a["energy_sources"]))
    for n, w in enumerate(windows, start=1):
        found = problems(w, get(WINDOW), file=WINDOWS_FILE, line=n)
        if found:  # a bug of ours, never of the input
            raise RuntimeError(f"window breaks its contract: {found[0]}")

    segs = timeline.segments(windows, ev.streams, float(a["timeline_gap_s"]))
    header = timeline.columns()
    table = timeline.rows(windows, ev.streams, segs, origin=origin, bin_s=float(a["timeline_bin_s"]),
                          energy_order=list(a["energy_sources"]))
    csv_bytes = timeline.render_csv(header, table).encode()
    png, unnamed = timeline.render_png(windows, table, segs, origin=origin,
                                       title=f"{b.bundle_id}: labels and motion energy",
                                       max_segments=int(a["max_plot_segments"]), gap_s=float(a["timeline_gap_s"]))
    windows_bytes = "".join(_jsonl(w) for w in windows).encode()
    if unnamed:
        ev.notes.append(f"{TIMELINE_PNG}: {timeline.not_shown_text(unnamed)} (no room in their panel); "
                        f"{TIMELINE_CSV} has every window")
    if len(segs) > int(a["max_plot_segments"]):
        ev.notes.append(f"the plot shows the first {a['max_plot_segments']} of {len(segs)} segments; "
                        f"{TIMELINE_CSV} has them all")
    doc = {
        "schema": SCHEMA,
        "bundle": {"bundle_id": b.bundle_id, "bundle_sha256": b.sha256},
        "origin_unix": round(origin, 6),
        "policy": policy.policy_ref(),
        "inputs": ev.inputs,
        "outputs": [{"path": WINDOWS_FILE, "sha256": _sha(windows_bytes)},
                    {"path": TIMELINE_CSV, "sha256": _sha(csv_bytes)},
                    {"path": TIMELINE_PNG, "sha256": _sha(png)}],
        "timeline": {"path": TIMELINE_CSV, "columns": header, "bin_s": a["timeline_bin_s"],
                     "rows": len(table),
                     "segments": [{"start_unix": round(x, 6), "end_unix": round(y, 6)} for x, y in segs]},
        "templates": templates(windows, int(a["max_examples"])),
        "notes": list(ev.notes),
    }
    found = problems(doc, get(TEMPLATES), file=TEMPLATES_FILE)
    if found:
        raise RuntimeError(f"gesture templates break their contract: {found[0]}")
    summary = _summary(ev, doc, windows)

    root = b.path
    written = {
        WINDOWS_FILE: write_bytes(root / WINDOWS_FILE, windows_bytes),
        TIMELINE_CSV: write_bytes(root / TIMELINE_CSV, csv_bytes),
        TIMELINE_PNG: write_bytes(root / TIMELINE_PNG, png),
        SUMMARY: write_text(root / SUMMARY, summary),
        TEMPLATES_FILE: write_text(root / TEMPLATES_FILE, dumps(doc)),
    }
    # bundle.json records what was written, with checksums (bundle_layout.v1; `lume verify`)
    register_derived(root, [TEMPLATES_FILE, WINDOWS_FILE, SUMMARY, TIMELINE_CSV, TIMELINE_PNG])
    return TemplatesResult(root, b.bundle_id, windows, doc, written, list(ev.notes))


def _jsonl(record: dict[str, Any]) -> str:
    import json

    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def load_outputs(bundle_dir: Path) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, str]]:
    """(windows, templates document, {path: sha256}) written by `build_templates`, validated;
    InputError when they are missing (run `lume templates build` first) or invalid."""
    root = Path(bundle_dir)
    digests: dict[str, str] = {}
    for rel in (WINDOWS_FILE, TEMPLATES_FILE):
        if not os.path.lexists(root / rel):
            raise InputError(f"{root / rel}: missing; run `lume templates build {root}` first")
        digests[rel] = hash_input(root / rel, INPUT_HASHED_FILE)[0]
    windows, _, _ = streams.read_records(root / WINDOWS_FILE, WINDOW)
    doc = read_json(root / TEMPLATES_FILE)
    _check(doc, TEMPLATES, str(root / TEMPLATES_FILE))
    return windows, doc, digests
