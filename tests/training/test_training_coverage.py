"""training.capture_coverage: the capture manifest against the 30-track, mode × emotion protocol."""
from __future__ import annotations

import json

from training_helpers import MANIFEST, check, cli, copy_training, edit_json, failures

from lume.runtime.core import get
from lume.runtime.training import coverage, load_manifest, rules_data


def cover(doc, base=MANIFEST.parent, **kw):
    return coverage(doc, file="capture_manifest.json", base=base, **kw)


def test_the_shipped_manifest_covers_the_matrix():
    result = cover(load_manifest(MANIFEST))
    assert result.ok, [e.message for e in result.evidence]
    assert len(result.cells) == 25 and not result.missing
    assert len(result.counted) == 30 and result.captured == ["v6-s01", "v6-s07", "v6-s13", "v6-s19"]


def test_the_protocol_numbers_are_the_seed_s():
    """Seed 001: 30 sessions × 15 min = 7.5 hours on 30 tracks, the two iPhones, 5 × 5 cells."""
    c = rules_data()["capture"]
    assert (c["tracks"], c["sessions"], c["session_minutes"], c["total_hours"]) == (30, 30, 15, 7.5)
    assert c["total_hours"] == c["sessions"] * c["session_minutes"] / 60
    assert c["devices"] == ["iphone_16_pro_max", "iphone_16_plus"]
    assert c["training_root"] == "/Volumes/HD1/training-phrases/v6/"


def test_a_missing_cell_is_named():
    doc = load_manifest(MANIFEST)
    doc["sessions"] = [s for s in doc["sessions"] if (s["mode"], s["emotion"]) != ("aurora_veil", "release")]
    result = cover(doc)
    assert result.missing == [("aurora_veil", "release")]
    bad = failures(result.evidence)
    assert any("aurora_veil × release" in e.message for e in bad)
    assert any(e.expected == ">= 30 sessions" for e in bad)  # and the session count falls short


def test_captured_only_counts_the_four_danced_sessions():
    result = cover(load_manifest(MANIFEST), captured_only=True)
    assert len(result.missing) == 21
    assert ("sky_garden", "still") not in result.missing


def test_protocol_fields_are_checked():
    doc = load_manifest(MANIFEST)
    doc["sessions"][1]["mode"] = "sky_gardn"
    doc["sessions"][2]["planned_minutes"] = 10
    doc["sessions"][3]["devices"] = ["iphone_16_pro_max", "pixel_9"]
    doc["sessions"][4].update(status="rejected")
    doc["tracks"] = doc["tracks"][:-1]
    text = " | ".join(e.message for e in failures(cover(doc).evidence))
    for words in ("mode `sky_gardn` is not a value of mode_8", "planned for 10 min", "pixel_9",
                  "rejected without a reason", "29 distinct tracks", "track t30 is not in the manifest"):
        assert words in text, text


def test_a_captured_file_that_changed_is_red(tmp_path):
    root = copy_training(tmp_path / "root")
    events = root / "sessions" / "v6-s13" / "track_events.jsonl"
    events.write_bytes(events.read_bytes().replace(b'"deck":1', b'"deck":2'))
    result = check(root, "training.capture_coverage", tmp_path)
    assert result.status == "fail"
    bad = failures(result.evidence)
    assert [e.message for e in bad] == ["sha256 differs from the manifest"]
    assert bad[0].field.startswith("sessions[12] v6-s13.files[1] (track_events)")


def test_the_verifier_and_the_cli(tmp_path):
    root = copy_training(tmp_path / "root")
    assert check(root, "training.capture_coverage", tmp_path).status == "pass"
    edit_json(root / "capture_manifest.json",
              lambda d: d.__setitem__("sessions", [s for s in d["sessions"] if s["session_id"] != "v6-s02"]))
    result = check(root, "training.capture_coverage", tmp_path)
    assert result.status == "fail"
    assert any("turquoise_alcove × still" in e.message for e in failures(result.evidence))
    out = cli("training", "coverage", str(root / "capture_manifest.json"), "--json")
    assert out.exit_code == 1
    report = json.loads(out.output)
    assert report["missing"] == [["turquoise_alcove", "still"]]
    assert cli("training", "coverage", str(MANIFEST)).exit_code == 0
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schema": "lume.capture_manifest.v1"}))
    refused = cli("training", "coverage", str(bad))
    assert refused.exit_code == 2 and "bad.json" in refused.output and "capture_manifest.v1" in refused.output


def test_the_contract_example_is_a_valid_manifest():
    example = get("capture_manifest.v1").examples[0]
    result = cover(example, base=None)
    assert {e.ok for e in result.evidence} >= {None}  # files cannot be checked without a folder
