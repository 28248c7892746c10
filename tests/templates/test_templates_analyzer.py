"""The template analyzer over the route-smoke bundles (tmp copies), its outputs and bad input."""
from __future__ import annotations

import copy
import csv
import hashlib
import io
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from templates_helpers import MAIN, PROCESSED, SECOND, copy_bundle

from lume.runtime.cli import main
from lume.runtime.core import UnknownLabel, get, problems, validate_file
from lume.runtime.core._jsonl import InputError
from lume.runtime.templates import build_templates
from lume.runtime.templates._analyzer import SUMMARY, TEMPLATES_FILE, TIMELINE_CSV, TIMELINE_PNG, WINDOWS_FILE
from lume.runtime.templates._windows import mac4_windows

OUTPUTS = (WINDOWS_FILE, TEMPLATES_FILE, TIMELINE_CSV, TIMELINE_PNG, SUMMARY)


def tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def fixtures_before() -> str:
    return tree_digest(PROCESSED)


def test_main_bundle_templates(tmp_path, fixtures_before):
    bundle = copy_bundle(tmp_path)
    result = build_templates(bundle)
    for rel in OUTPUTS:
        assert (bundle / rel).is_file(), rel
    for rel in (WINDOWS_FILE, TEMPLATES_FILE):
        checked = validate_file(bundle / rel)
        assert checked.ok and checked.contract in ("gesture_window.v1", "gesture_templates.v1"), checked.problems
    by_label = {t["label"]: t for t in result.templates}
    # the Mac4 markers and the Pose Coach clips of the fixture, each aligned into labels.v1
    assert set(by_label) == {"still_recovery_baseline", "wave_color", "burst_high_energy",
                             "weighted_slow_power_hold", "bad_false_reactive", "present_still",
                             "d1_play_pause"}
    wave = next(w for w in result.windows if w["label"] == "wave_color")
    assert (wave["start_unix"], wave["end_unix"], wave["span"]) == (1779989201.0, 1779989202.0, "window")
    assert wave["energy_source"] == "motionmix" and 0 < wave["features"]["motion_energy"] < 1
    assert wave["provenance"] == {"path": "sources/mac4_tier0/raw/labels/labels.jsonl",
                                  "first_line": 3, "last_line": 4}
    marker = next(w for w in result.windows if w["label"] == "bad_false_reactive")
    assert marker["span"] == "point" and marker["duration_s"] == 0
    assert marker["feature_span"]["end_unix"] - marker["feature_span"]["start_unix"] == pytest.approx(1.0)
    clip = next(w for w in result.windows if w["label"] == "d1_play_pause")
    assert (clip["origin"], clip["clip_kind"], clip["dispatch_label"]) == (
        "pose_coach_clip", "promotion_candidate", "left_hand_raise")
    assert clip["features"]["left_hand_deck1_fraction"] == pytest.approx(1.0)
    assert clip["energy_source"] == "pose_coach"
    assert by_label["d1_play_pause"]["clip_kinds"] == {"promotion_candidate": 1}
    # inputs and outputs are recorded with their digests
    doc = result.document
    assert {i["kind"] for i in doc["inputs"]} == {"mac4_labels", "pose_coach", "motionmix"}
    for out in doc["outputs"]:
        assert hashlib.sha256((bundle / out["path"]).read_bytes()).hexdigest() == out["sha256"]
    assert tree_digest(PROCESSED) == fixtures_before, "the committed fixtures are never modified"


def test_timeline_csv_png_and_summary(tmp_path):
    bundle = copy_bundle(tmp_path)
    result = build_templates(bundle)
    doc = result.document
    rows = list(csv.reader(io.StringIO((bundle / TIMELINE_CSV).read_text())))
    assert rows[0] == get("gesture_templates.v1").raw["properties"]["timeline"]["properties"]["columns"]["const"]
    assert len(rows) - 1 == doc["timeline"]["rows"]
    assert len(doc["timeline"]["segments"]) == 2  # the long take, and the Pose Coach session an hour later
    wave_rows = [r for r in rows[1:] if "wave_color" in r[4].split(";")]
    assert len(wave_rows) == 10 and all(r[5].split(";")[r[4].split(";").index("wave_color")] == "visual"
                                        for r in wave_rows)
    assert all(r[7] == "motionmix" and 0 <= float(r[6]) <= 1 for r in wave_rows)
    png = (bundle / TIMELINE_PNG).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    summary = (bundle / SUMMARY).read_text()
    assert "timeline.png" in summary and "`wave_color` -> color_phase_shift" in summary
    assert "AirDeck `left_hand_raise`: 1 physical example clip(s)" in summary


def test_rerun_is_byte_identical(tmp_path):
    bundle = copy_bundle(tmp_path)
    build_templates(bundle)
    first = {rel: (bundle / rel).read_bytes() for rel in OUTPUTS}
    again = build_templates(bundle)
    assert not any(again.written.values())
    assert {rel: (bundle / rel).read_bytes() for rel in OUTPUTS} == first


def test_second_bundle_zip_upload(tmp_path):
    bundle = copy_bundle(tmp_path, SECOND)
    result = build_templates(bundle)
    assert {t["label"]: t["count"] for t in result.templates} == {"keep_signature": 1,
                                                                  "torso_lean_weight_shift": 1}
    assert all(w["energy_source"] is None and w["features"] == {} for w in result.windows)


def test_optional_streams_add_features(tmp_path):
    """Recorded BodyTruth frames, pose observations and Mac5 SAM3D frames inside a window."""
    bundle = copy_bundle(tmp_path)
    t0 = 1779989201.0  # wave_color runs 1.0 .. 2.0 s into the take
    frames = []
    for i in range(6):
        f = copy.deepcopy(get("body_truth.v0").examples[0])
        f["timestamp"] = int((t0 + 0.2 * i) * 1000)
        f["stillness"] = 0.6
        frames.append(f)
    obs = []
    for i in range(6):
        o = copy.deepcopy(get("body_observation.v1").examples[1])
        o["timestamp_ms"] = int((t0 + 0.2 * i) * 1000)
        obs.append(o)
    (tmp_path / "bt.jsonl").write_text("".join(json.dumps(f) + "\n" for f in frames))
    (tmp_path / "pose.obs.jsonl").write_text("".join(json.dumps(o) + "\n" for o in obs))
    sam = bundle / "derived" / "sam3d"
    sam.mkdir(parents=True)
    summary = copy.deepcopy(get("sam3d_summary.v1").examples[0])
    assert not problems(summary, get("sam3d_summary.v1"))
    summary["source_id"] = "mac4_tier0"
    (sam / "summary.json").write_text(json.dumps(summary))
    kf = get("sam3d_frame.v1").examples[0]
    sam_frames = []
    for i, t_s in enumerate((1.0, 1.5, 2.0)):
        f = copy.deepcopy(kf)
        f.update(frame_index=30 + 15 * i, t_s=t_s, label="wave_color")
        for k in f["keypoints"]:
            k["x"] += 0.05 * i
        sam_frames.append(f)
    (sam / "sam3d_frames.jsonl").write_text("".join(json.dumps(f) + "\n" for f in sam_frames))

    result = build_templates(bundle, body_truth=tmp_path / "bt.jsonl", pose=tmp_path / "pose.obs.jsonl")
    wave = next(w for w in result.windows if w["label"] == "wave_color")
    kinds = {u["kind"] for u in wave["sources"]}
    assert kinds == {"motionmix", "body_truth", "pose", "sam3d"}
    f = wave["features"]
    assert f["body_truth_stillness_mean"] == pytest.approx(0.6)
    assert f["body_truth_energy_mean"] == pytest.approx(0.4)
    assert f["pose_energy_mean"] == pytest.approx(0.27)
    assert f["sam3d_present_fraction"] == 1.0 and f["sam3d_energy_mean"] > 0
    assert wave["energy_source"] == "body_truth" and f["motion_energy"] == pytest.approx(0.4)
    assert validate_file(bundle / WINDOWS_FILE).ok


def test_mac4_pairing():
    recs = [{"t_s": 0.5, "label": "wave_color", "event": "start", "source": "k"},
            {"t_s": 1.0, "label": "wave_color", "event": "start", "source": "k"},  # restart
            {"t_s": 2.0, "label": "wave_color", "event": "end", "source": "k"},
            {"t_s": 2.5, "label": "keep_signature", "event": "end", "source": "k"},  # end alone
            {"t_s": 3.0, "label": "burst_high_energy", "event": "start", "source": "k"}]  # open
    notes: list[str] = []
    ws = mac4_windows(recs, [1, 2, 3, 4, 5], source_id="mac4_tier0", path="l.jsonl", start_unix=100.0,
                      duration_s=10.0, notes=notes)
    got = [(w.label, w.start, w.end, w.point) for w in ws]
    assert got == [("wave_color", 100.5, 100.5, True), ("wave_color", 101.0, 102.0, False),
                   ("keep_signature", 102.5, 102.5, True), ("burst_high_energy", 103.0, 110.0, False)]
    assert mac4_windows(recs[:1], [1], source_id="m", path="l.jsonl", start_unix=None, duration_s=None,
                        notes=notes) == []
    assert "no absolute time" in notes[-1]


# ------------------------------------------------------------------------------ bad input
def _training(bundle: Path) -> Path:
    return bundle / "sources/k11_pose_coach/20260528-192500/metadata/training.jsonl"


def test_malformed_training_line_names_file_and_line(tmp_path):
    bundle = copy_bundle(tmp_path)
    lines = _training(bundle).read_text().splitlines()
    lines[3] = lines[3][:40]
    _training(bundle).write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"training\.jsonl:4: not valid JSON"):
        build_templates(bundle)
    assert not (bundle / "derived" / "templates").exists()


def test_contract_violation_names_field_and_contract(tmp_path):
    bundle = copy_bundle(tmp_path)
    lines = _training(bundle).read_text().splitlines()
    rec = json.loads(lines[6])
    rec["person_confidence"] = 1.7
    lines[6] = json.dumps(rec)
    _training(bundle).write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"training\.jsonl:7: \$\.person_confidence: .*pose_coach_training_record\.v1"):
        build_templates(bundle)
    assert not (bundle / "derived" / "templates").exists()


def test_unknown_pose_coach_label_suggests(tmp_path):
    bundle = copy_bundle(tmp_path)
    text = _training(bundle).read_text().replace('"label":"d1_play_pause"', '"label":"d1_play_paus"')
    _training(bundle).write_text(text)
    with pytest.raises(UnknownLabel) as exc:
        build_templates(bundle)
    assert "d1_play_pause" in exc.value.suggestions and "training.jsonl:6" in str(exc.value)
    assert not (bundle / "derived" / "templates").exists()


def test_bad_bundle_json_and_missing_bundle(tmp_path):
    bundle = copy_bundle(tmp_path)
    doc = json.loads((bundle / "bundle.json").read_text())
    doc["machine_roles"]["mac4"] = "dj"
    (bundle / "bundle.json").write_text(json.dumps(doc))
    with pytest.raises(InputError, match=r"bundle\.json: \$\.machine_roles\.mac4.*rehearsal_bundle\.v1"):
        build_templates(bundle)
    with pytest.raises(InputError, match="not a rehearsal bundle"):
        build_templates(tmp_path / "nowhere")


def test_earlier_outputs_survive_bad_input(tmp_path):
    bundle = copy_bundle(tmp_path)
    build_templates(bundle)
    before = {rel: (bundle / rel).read_bytes() for rel in OUTPUTS}
    _training(bundle).write_text("{not json\n")
    with pytest.raises(InputError):
        build_templates(bundle)
    assert {rel: (bundle / rel).read_bytes() for rel in OUTPUTS} == before


# ------------------------------------------------------------------------------ CLI
def test_cli_build(tmp_path):
    bundle = copy_bundle(tmp_path)
    r = CliRunner().invoke(main, ["templates", "build", str(bundle), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["bundle_id"] == MAIN and doc["windows"] == 7 and all(doc["written"].values())
    r = CliRunner().invoke(main, ["templates", "build", str(bundle)])
    assert r.exit_code == 0 and "unchanged" in r.output
    _training(bundle).write_text("{not json\n")
    r = CliRunner().invoke(main, ["templates", "build", str(bundle)])
    assert r.exit_code == 2 and "not valid JSON" in r.output


def test_referenced_pose_coach_session(tmp_path):
    """A Pose Coach session kept as a reference is read where this machine sees it, else noted."""
    from templates_helpers import session

    from lume.runtime.storage import add_pose_coach

    bundle = copy_bundle(tmp_path)
    sess = session(tmp_path / "pc", "20260528-230000", [("d2_play_pause", "evidence", "right_up")])
    add_pose_coach(bundle, sess)  # storage: reference (nothing copied)
    result = build_templates(bundle)
    clips = [w for w in result.windows if w["label"] == "d2_play_pause"]
    assert len(clips) == 1 and clips[0]["source_id"] == "k11_pose_coach_002"
    assert clips[0]["provenance"]["path"] == str((sess / "metadata" / "training.jsonl").resolve())
    assert clips[0]["features"]["right_hand_raised_fraction"] == 1.0
    shutil.rmtree(sess)
    result = build_templates(bundle)
    assert not any(w["source_id"] == "k11_pose_coach_002" for w in result.windows)
    assert any("k11_pose_coach_002" in n and "not readable here" in n for n in result.notes)
